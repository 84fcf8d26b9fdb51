/* cli/fields.c - the field flags shared by `customer add|edit` and
 * `contact add|edit`, and the one patch builder behind them.
 *
 * Each flag is a row: its option, the patch operation it stands for, the
 * field, and the kinds that take it. Parsing keeps the flags in the order
 * given, so `--email a --remove-email a` does what it says.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef enum fop {
  FOP_SET,        /* carnet_patch_set(field, value): sets a scalar, adds to a set */
  FOP_REMOVE,     /* carnet_patch_remove(field, value) */
  FOP_FIXED,      /* carnet_patch_set(field, fixed) */
  FOP_COMPANY,    /* type company, and the company name when given */
  FOP_PHONE_AUTO, /* a phone typed mobile (French 06/07) or work */
  FOP_PHONE,      /* a phone of type `fixed` */
  FOP_DISCOUNT,   /* percent -> basis points */
  FOP_CUSTOM,     /* NAME:TYPE=VALUE */
  FOP_GENERIC,    /* FIELD=VALUE by catalogue name */
  FOP_CUSTOMER,   /* a contact's customer, resolved from a reference */
} fop;

typedef struct field_flag {
  const char *name;
  int has_arg;
  const char *metavar;
  const char *help;
  fop op;
  carnet_field field;
  const char *fixed;
  unsigned kinds;
} field_flag;

#define CU (1u << CARNET_KIND_CUSTOMER)
#define CO (1u << CARNET_KIND_CONTACT)
#define REQ required_argument

static const field_flag flags[] = {
    {"customer", REQ, "REF", "the customer it belongs to (id, id prefix or reference)",
     FOP_CUSTOMER, CARNET_F_CUSTOMER, NULL, CO},
    {"name", REQ, "NAME", "name of the person, or the display name", FOP_SET, CARNET_F_NAME, NULL,
     CU | CO},
    {"company", optional_argument, "NAME", "a company (type company), with its legal name",
     FOP_COMPANY, CARNET_F_COMPANY, NULL, CU},
    {"individual", no_argument, NULL, "a private person (type individual)", FOP_FIXED,
     CARNET_F_TYPE, "individual", CU},
    {"role", REQ, "ROLE", "add a role: prospect, customer or supplier", FOP_SET, CARNET_F_ROLES,
     NULL, CU},
    {"remove-role", REQ, "ROLE", "remove a role", FOP_REMOVE, CARNET_F_ROLES, NULL, CU},
    {"role", REQ, "ROLE", "director, assistant, delivery, legal or other", FOP_SET, CARNET_F_ROLE,
     NULL, CO},
    {"email", REQ, "EMAIL", "add an e-mail address (repeatable)", FOP_SET, CARNET_F_EMAILS, NULL,
     CU | CO},
    {"remove-email", REQ, "EMAIL", "remove an e-mail address", FOP_REMOVE, CARNET_F_EMAILS, NULL,
     CU | CO},
    {"phone", REQ, "NUMBER", "add a phone: mobile if French 06/07, else work", FOP_PHONE_AUTO,
     CARNET_F_PHONES, NULL, CU | CO},
    {"mobile", REQ, "NUMBER", "add a mobile phone", FOP_PHONE, CARNET_F_PHONES, "mobile", CU | CO},
    {"work-phone", REQ, "NUMBER", "add a work phone", FOP_PHONE, CARNET_F_PHONES, "work", CU | CO},
    {"home-phone", REQ, "NUMBER", "add a home phone", FOP_PHONE, CARNET_F_PHONES, "home", CU | CO},
    {"remove-phone", REQ, "NUMBER", "remove a phone number (any format)", FOP_REMOVE,
     CARNET_F_PHONES, NULL, CU | CO},
    {"siret", REQ, "SIRET", "SIRET (14 digits) or SIREN (9 digits)", FOP_SET, CARNET_F_SIRET, NULL,
     CU},
    {"vat-id", REQ, "VAT", "intra-EU VAT number", FOP_SET, CARNET_F_VAT_ID, NULL, CU},
    {"street", REQ, "STREET", "street address", FOP_SET, CARNET_F_STREET, NULL, CU | CO},
    {"postcode", REQ, "CODE", "postcode", FOP_SET, CARNET_F_POSTCODE, NULL, CU | CO},
    {"city", REQ, "CITY", "city", FOP_SET, CARNET_F_CITY, NULL, CU | CO},
    {"country", REQ, "CC", "country, ISO 3166 code (FR, BE...)", FOP_SET, CARNET_F_COUNTRY, NULL,
     CU | CO},
    {"geo", REQ, "LAT,LON", "coordinates", FOP_SET, CARNET_F_GEO, NULL, CU},
    {"tag", REQ, "TAG", "add a tag (repeatable)", FOP_SET, CARNET_F_TAGS, NULL, CU},
    {"untag", REQ, "TAG", "remove a tag", FOP_REMOVE, CARNET_F_TAGS, NULL, CU},
    {"sales-rep", REQ, "REP", "assigned sales rep", FOP_SET, CARNET_F_SALES_REP, NULL, CU},
    {"channel", REQ, "CHANNEL", "acquisition channel", FOP_SET, CARNET_F_CHANNEL, NULL, CU},
    {"discount", REQ, "PERCENT", "discount, 0 to 100 with at most 2 decimals", FOP_DISCOUNT,
     CARNET_F_DISCOUNT, NULL, CU},
    {"conflict", no_argument, NULL, "flag a conflict with this customer", FOP_FIXED,
     CARNET_F_CONFLICT, "true", CU},
    {"no-conflict", no_argument, NULL, "clear the conflict flag", FOP_FIXED, CARNET_F_CONFLICT,
     "false", CU},
    {"notes", REQ, "TEXT", "free notes", FOP_SET, CARNET_F_NOTES, NULL, CU | CO},
    {"custom", REQ, "NAME:TYPE=VALUE",
     "custom field; TYPE string, number, date, list or checkbox; empty VALUE clears", FOP_CUSTOM,
     CARNET_F_CUSTOM, NULL, CU},
    {"set", REQ, "FIELD=VALUE", "set a field by its catalogue name (e.g. --set city=Lyon)",
     FOP_GENERIC, 0, NULL, CU | CO},
};

#define NFLAGS (sizeof flags / sizeof flags[0])

_Static_assert(CARNET_F_MAX_ <= 64, "touched fields fit in a uint64_t");

size_t cli_field_flag_count(void) {
  return NFLAGS;
}

size_t cli_field_options(carnet_kind kind, cli_opt *out) {
  size_t n = 0;
  for (size_t i = 0; i < NFLAGS; i++) {
    const field_flag *f = &flags[i];
    if (!(f->kinds & (1u << kind))) continue;
    out[n++] = (cli_opt){f->name, 0, f->has_arg, CLI_FIELD_BASE + (int)i, f->metavar, f->help};
  }
  return n;
}

/* --- Applying one flag ------------------------------------------------- */

static int apply_flag(cli *c, carnet_replica *r, carnet_kind kind, const field_flag *f,
                      const char *arg, carnet_patch *p);

static int patch_fail(const cli *c, const field_flag *f, const char *arg, int rc) {
  if (rc == CARNET_ENOMEM) return cli_fail(c, CLI_EINTERNAL, "out of memory");
  return cli_fail(c, cli_exit_code(rc), "invalid value '%s' for --%s: %s", arg ? arg : "", f->name,
                  carnet_error_message(rc));
}

/* The flag a generic `--set FIELD=VALUE` stands for, so that it converts
 * values the same way (--set discount=5.5, --set phones=0612345678). */
static const field_flag *flag_for_field(carnet_kind kind, carnet_field field) {
  for (size_t i = 0; i < NFLAGS; i++) {
    const field_flag *f = &flags[i];
    if (f->field != field || !(f->kinds & (1u << kind)) || f->has_arg != REQ) continue;
    if (f->op == FOP_SET || f->op == FOP_PHONE_AUTO || f->op == FOP_DISCOUNT ||
        f->op == FOP_CUSTOMER)
      return f;
  }
  return NULL;
}

/* Merge bookkeeping is written by carnet merge/unmerge/dupes only. */
static bool merge_field(carnet_field f) {
  return f == CARNET_F_SAME_AS || f == CARNET_F_NOT_SAME || f == CARNET_F_REVIEW;
}

static void field_names(carnet_kind kind, char *out, size_t len) {
  out[0] = '\0';
  for (int f = 1; f < CARNET_F_MAX_; f++) {
    const carnet_field_info *fi = carnet_field_get((carnet_field)f);
    if (fi == NULL || !(fi->kinds & (1u << kind))) continue;
    if (fi->vtype == CARNET_V_CONSENT || fi->field == CARNET_F_DELETED || merge_field(fi->field))
      continue;
    size_t used = strlen(out);
    snprintf(out + used, len - used, "%s%s", used ? ", " : "", fi->name);
  }
}

static int set_known(cli *c, carnet_replica *r, carnet_kind kind, const carnet_field_info *fi,
                     const char *name, const char *value, carnet_patch *p) {
  const char *kname = carnet_kind_name(kind);
  if (fi->vtype == CARNET_V_CUSTOM)
    return cli_fail(c, CLI_EUSER, "use --custom NAME:TYPE=VALUE to set custom fields");
  if (fi->vtype == CARNET_V_CONSENT)
    return cli_fail(c, CLI_EUSER, "use 'carnet consent grant|withdraw' to record consents");
  if (fi->field == CARNET_F_DELETED)
    return cli_fail(c, CLI_EUSER, "use 'carnet %s delete' to delete a %s", kname, kname);
  if (merge_field(fi->field))
    return cli_fail(c, CLI_EUSER, "use 'carnet merge', 'carnet unmerge' or 'carnet dupes' for %s",
                    fi->name);
  const field_flag *f = flag_for_field(kind, fi->field);
  field_flag raw = {"set", REQ, NULL, NULL, FOP_SET, fi->field, NULL, 1u << kind};
  if (f == NULL) {
    raw.name = name; /* errors name the field as the user wrote it */
    f = &raw;
  }
  return apply_flag(c, r, kind, f, value, p);
}

/* --set FIELD=VALUE */
static int apply_generic(cli *c, carnet_replica *r, carnet_kind kind, const char *arg,
                         carnet_patch *p) {
  const char *eq = strchr(arg, '=');
  char known[512];
  if (eq == NULL || eq == arg)
    return cli_fail(c, CLI_EUSER, "invalid --set '%s': write FIELD=VALUE, e.g. --set city=Lyon",
                    arg);
  char *name = cli_oom(strndup(arg, (size_t)(eq - arg)));
  const carnet_field_info *fi = carnet_field_find(kind, name);
  int rc;
  if (fi == NULL) {
    field_names(kind, known, sizeof known);
    rc = cli_fail(c, CLI_EUSER, "unknown field '%s' for %s (fields: %s)", name,
                  carnet_kind_name(kind), known);
  } else {
    rc = set_known(c, r, kind, fi, name, eq + 1, p);
  }
  free(name);
  return rc;
}

/* A contact belongs to a customer that exists and is not deleted. */
static int live_customer(cli *c, carnet_replica *r, const char *ref, carnet_id *id) {
  carnet_record *rec = NULL;
  int rc = cli_load(c, r, CARNET_KIND_CUSTOMER, ref, &rec);
  if (rc) return rc;
  *id = *carnet_record_id(rec);
  if (carnet_record_deleted(rec)) rc = cli_fail(c, CLI_EUSER, "customer '%s' is deleted", ref);
  carnet_record_free(rec);
  return rc;
}

/* The operation of a flag that needs no replica (all but --customer and
 * --set), the same for `customer add` and `carnet import`: what the user
 * typed goes through carnet_patch_parse, whose messages name the flag. */
static int flag_op(const field_flag *f, const char *arg, carnet_patch *p, char *why,
                   size_t why_len) {
  char name[32];
  int rc = 0;
  snprintf(name, sizeof name, "--%s", f->name);
  switch (f->op) {
  case FOP_SET:
  case FOP_PHONE_AUTO:
  case FOP_DISCOUNT:
  case FOP_CUSTOM:
    rc = carnet_patch_parse(p, f->field, arg, name);
    if (rc == CARNET_ENOMEM) cli_oom(NULL);
    if (rc) snprintf(why, why_len, "%s", carnet_patch_errmsg(p));
    return rc ? cli_exit_code(rc) : CLI_OK;
  case FOP_REMOVE:
    rc = carnet_patch_remove(p, f->field, arg);
    break;
  case FOP_FIXED:
    rc = carnet_patch_set(p, f->field, f->fixed);
    break;
  case FOP_COMPANY:
    rc = carnet_patch_set(p, CARNET_F_TYPE, "company");
    if (rc == 0 && arg) rc = carnet_patch_set(p, CARNET_F_COMPANY, arg);
    break;
  case FOP_PHONE:
    rc = carnet_patch_phone(p, f->fixed, arg);
    break;
  case FOP_GENERIC:
  case FOP_CUSTOMER:
    snprintf(why, why_len, "--%s needs the replica", f->name);
    return CLI_EINTERNAL;
  }
  if (rc == CARNET_ENOMEM) cli_oom(NULL);
  if (rc) {
    snprintf(why, why_len, "invalid value '%s' for %s: %s", arg ? arg : "", name,
             carnet_error_message(rc));
    return cli_exit_code(rc);
  }
  return CLI_OK;
}

static int apply_flag(cli *c, carnet_replica *r, carnet_kind kind, const field_flag *f,
                      const char *arg, carnet_patch *p) {
  char buf[CARNET_ID_HEX_LEN + 1], why[512];
  carnet_id id;
  int rc;
  switch (f->op) {
  case FOP_GENERIC:
    return apply_generic(c, r, kind, arg, p);
  case FOP_CUSTOMER:
    if ((rc = live_customer(c, r, arg, &id))) return rc;
    carnet_id_format(&id, buf);
    rc = carnet_patch_set(p, f->field, buf);
    return rc ? patch_fail(c, f, arg, rc) : CLI_OK;
  default:
    rc = flag_op(f, arg, p, why, sizeof why);
    return rc ? cli_fail(c, rc, "%s", why) : CLI_OK;
  }
}

/* The fields a flag writes, for the "nothing to add" and "missing
 * --customer" checks. */
static uint64_t touches(carnet_kind kind, const field_flag *f, const char *arg) {
  if (f->op == FOP_COMPANY) return 1ull << CARNET_F_TYPE | (arg ? 1ull << CARNET_F_COMPANY : 0);
  if (f->op != FOP_GENERIC) return 1ull << f->field;
  size_t len = strcspn(arg, "=");
  for (int i = 1; i < CARNET_F_MAX_; i++) {
    const carnet_field_info *fi = carnet_field_get((carnet_field)i);
    if (fi && (fi->kinds & (1u << kind)) && strlen(fi->name) == len &&
        strncmp(fi->name, arg, len) == 0)
      return 1ull << i;
  }
  return 0;
}

int cli_patch_build(cli *c, carnet_replica *r, carnet_kind kind, const cli_args *a, carnet_patch *p,
                    uint64_t *touched) {
  *touched = 0;
  for (int i = 0; i < a->nopts; i++) {
    int id = a->opts[i].id;
    if (id < CLI_FIELD_BASE || id >= CLI_FIELD_BASE + (int)NFLAGS) continue;
    const field_flag *f = &flags[id - CLI_FIELD_BASE];
    int rc = apply_flag(c, r, kind, f, a->opts[i].arg, p);
    if (rc) return rc;
    *touched |= touches(kind, f, a->opts[i].arg);
  }
  return CLI_OK;
}
