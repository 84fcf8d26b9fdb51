/* book/import_value.c - a cell's value as a patch operation, converted the
 * way the flags of `carnet customer add` convert theirs: a phone's type
 * from its number, a discount from percent to basis points, a custom field
 * from NAME:TYPE=VALUE.
 *
 * cli/fields.c holds the same conversions for the command line. Both must
 * agree, or a customer typed in and the same customer imported would
 * differ; the CLI may only use the public API, so the two sets of rules
 * are kept side by side (a public "set a field from what a user typed"
 * call would let them be one), and tests/book/test_import.c checks the
 * values `customer add` gives: a discount in basis points, a phone's type
 * from its number, a custom field's type.
 * Reasons name the flag ("invalid value 'x' for --email: ...") because a
 * rejected row's reason is read by the person who typed the file, and the
 * flags are the documented names of the fields.
 */
#include <stdio.h>
#include <string.h>

#include "book/import_int.h"
#include "engine/alloc.h"

typedef enum vop {
  VOP_SET,        /* carnet_patch_set(field, value): sets a scalar, adds to a set */
  VOP_FIXED,      /* carnet_patch_set(field, fixed) */
  VOP_COMPANY,    /* type company, and the company name */
  VOP_PHONE_AUTO, /* a phone typed mobile (French 06/07) or work */
  VOP_PHONE,      /* a phone of type `fixed` */
  VOP_DISCOUNT,   /* percent -> basis points */
  VOP_CUSTOM,     /* NAME[:TYPE]=VALUE */
} vop;

static const struct {
  const char *flag;
  vop op;
  carnet_field field;
  const char *fixed;
} values[] = {
    {"name", VOP_SET, CARNET_F_NAME, NULL},
    {"company", VOP_COMPANY, CARNET_F_COMPANY, NULL},
    {"role", VOP_SET, CARNET_F_ROLES, NULL},
    {"email", VOP_SET, CARNET_F_EMAILS, NULL},
    {"phone", VOP_PHONE_AUTO, CARNET_F_PHONES, NULL},
    {"mobile", VOP_PHONE, CARNET_F_PHONES, "mobile"},
    {"work-phone", VOP_PHONE, CARNET_F_PHONES, "work"},
    {"home-phone", VOP_PHONE, CARNET_F_PHONES, "home"},
    {"siret", VOP_SET, CARNET_F_SIRET, NULL},
    {"vat-id", VOP_SET, CARNET_F_VAT_ID, NULL},
    {"street", VOP_SET, CARNET_F_STREET, NULL},
    {"postcode", VOP_SET, CARNET_F_POSTCODE, NULL},
    {"city", VOP_SET, CARNET_F_CITY, NULL},
    {"country", VOP_SET, CARNET_F_COUNTRY, NULL},
    {"geo", VOP_SET, CARNET_F_GEO, NULL},
    {"tag", VOP_SET, CARNET_F_TAGS, NULL},
    {"sales-rep", VOP_SET, CARNET_F_SALES_REP, NULL},
    {"channel", VOP_SET, CARNET_F_CHANNEL, NULL},
    {"discount", VOP_DISCOUNT, CARNET_F_DISCOUNT, NULL},
    {"conflict", VOP_FIXED, CARNET_F_CONFLICT, "true"},
    {"no-conflict", VOP_FIXED, CARNET_F_CONFLICT, "false"},
    {"notes", VOP_SET, CARNET_F_NOTES, NULL},
    {"custom", VOP_CUSTOM, CARNET_F_CUSTOM, NULL},
};

const char *carnet__imp_phone_type(const char *number) {
  char e164[CARNET_PHONE_E164_MAX];
  if (carnet_phone_normalize(number, e164, sizeof e164) != 0) return "work";
  return strncmp(e164, "+336", 4) == 0 || strncmp(e164, "+337", 4) == 0 ? "mobile" : "work";
}

const char *carnet__imp_phone_split(const char *elem, char *type, size_t tlen) {
  const char *colon = strchr(elem, ':');
  if (colon == NULL) {
    snprintf(type, tlen, "%s", "");
    return elem;
  }
  snprintf(type, tlen, "%.*s", (int)(colon - elem), elem);
  return colon + 1;
}

/* "5.5", "5,5" or "5.5%" -> "550" (basis points); "" -> "" (clears). */
static bool discount_bp(const char *s, char out[8]) {
  unsigned whole = 0, frac = 0, nwhole = 0, nfrac = 0;
  const char *p = s;
  out[0] = '\0';
  if (*s == '\0') return true;
  for (; *p >= '0' && *p <= '9'; p++, nwhole++)
    whole = whole * 10 + (unsigned)(*p - '0');
  if (nwhole == 0 || nwhole > 3) return false;
  if (*p == '.' || *p == ',') {
    for (p++; *p >= '0' && *p <= '9'; p++, nfrac++)
      frac = frac * 10 + (unsigned)(*p - '0');
    if (nfrac == 0 || nfrac > 2) return false;
  }
  if (nfrac == 1) frac *= 10;
  if (*p == '%') p++;
  if (*p != '\0' || whole * 100 + frac > 10000) return false;
  snprintf(out, 8, "%u", whole * 100 + frac);
  return true;
}

static const char *const custom_types[] = {NULL, "string", "number", "date", "list", "checkbox"};

static carnet_custom_type custom_type(const char *s, size_t len) {
  for (int t = CARNET_CUSTOM_STRING; t <= CARNET_CUSTOM_CHECKBOX; t++)
    if (strlen(custom_types[t]) == len && strncmp(custom_types[t], s, len) == 0)
      return (carnet_custom_type)t;
  return 0;
}

/* NAME:TYPE=VALUE, or NAME= to clear. */
static int custom_op(const char *arg, carnet_patch *p, char *why, size_t why_len) {
  size_t nlen = strcspn(arg, ":="), tlen = 0;
  const char *type = arg + nlen, *eq = strchr(arg, '=');
  carnet_custom_type t = CARNET_CUSTOM_STRING;
  if (nlen == 0 || eq == NULL || (*type == '=' && eq[1] != '\0')) {
    snprintf(why, why_len,
             "invalid --custom '%s': write NAME:TYPE=VALUE, e.g. --custom 'surface:number=120' "
             "(NAME= clears)",
             arg);
    return CARNET_EINVAL;
  }
  if (*type == ':') {
    type++;
    tlen = (size_t)(eq - type);
    if ((t = custom_type(type, tlen)) == 0) {
      snprintf(why, why_len,
               "unknown custom field type '%.*s': use string, number, date, list or checkbox",
               (int)tlen, type);
      return CARNET_EINVAL;
    }
  }
  char *name = carnet__strndup(arg, nlen);
  if (name == NULL) return CARNET_ENOMEM;
  int rc = carnet_patch_custom(p, name, t, eq[1] ? eq + 1 : NULL);
  carnet__free(name);
  if (rc == CARNET_ENOMEM) return rc;
  if (rc) {
    snprintf(why, why_len, "invalid --custom '%s': %s", arg, carnet_error_message(rc));
    return CARNET_EINVAL;
  }
  return 0;
}

int carnet__imp_value(carnet_patch *p, const char *flag, const char *value, char *why,
                      size_t why_len) {
  char buf[8];
  int rc = 0;
  size_t i = 0, n = sizeof values / sizeof values[0];
  while (i < n && strcmp(values[i].flag, flag) != 0)
    i++;
  if (i == n) {
    /* A caller's bug in this folder, not a row's problem. */
    snprintf(why, why_len, "no flag --%s for a customer", flag);
    return CARNET_EMISUSE;
  }
  switch (values[i].op) {
  case VOP_SET:
    rc = carnet_patch_set(p, values[i].field, value);
    break;
  case VOP_FIXED:
    rc = carnet_patch_set(p, values[i].field, values[i].fixed);
    break;
  case VOP_COMPANY:
    rc = carnet_patch_set(p, CARNET_F_TYPE, "company");
    if (rc == 0 && value) rc = carnet_patch_set(p, CARNET_F_COMPANY, value);
    break;
  case VOP_PHONE_AUTO:
    rc = carnet_patch_phone(p, carnet__imp_phone_type(value), value);
    break;
  case VOP_PHONE:
    rc = carnet_patch_phone(p, values[i].fixed, value);
    break;
  case VOP_DISCOUNT:
    if (!discount_bp(value, buf)) {
      snprintf(why, why_len,
               "invalid discount '%s': give a percentage from 0 to 100 with at most 2 decimals, "
               "e.g. 5.5",
               value);
      return CARNET_EINVAL;
    }
    rc = carnet_patch_set(p, values[i].field, buf);
    break;
  case VOP_CUSTOM:
    return custom_op(value, p, why, why_len);
  }
  if (rc == CARNET_ENOMEM) return rc;
  if (rc) {
    snprintf(why, why_len, "invalid value '%s' for --%s: %s", value ? value : "", flag,
             carnet_error_message(rc));
    return CARNET_EINVAL;
  }
  return 0;
}
