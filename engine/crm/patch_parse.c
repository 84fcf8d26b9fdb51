/* engine/crm/patch_parse.c - what a person typed for a field, as a patch
 * operation (carnet_patch_parse, carnet_patch_parse_custom).
 *
 * The command line's flags, the web console's forms and the import's
 * columns all take values typed by a person, and each used to convert
 * them on its own (cli/fields.c, web/patch.c, book/import_value.c): a
 * phone's type from its number, a discount from percent to basis points,
 * a custom field from NAME:TYPE=VALUE, a date checked. One conversion
 * here serves the three, with messages that name the field as the caller
 * calls it (`name`: "--due-date" on a command line, "due_date" in the
 * HTTP API, the default) and show the value as it was typed. What can be
 * checked without the entity (a date, a percentage, a custom field's
 * type, name and value) is checked now, so the message names the field;
 * the rest (an e-mail, a SIRET, a phone number) is checked when the patch
 * is written, by engine/crm/write.c, whose messages say "(field emails)".
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "carnet/document.h"
#include "carnet/error.h"
#include "carnet/normalize.h"
#include "engine/base/alloc.h"
#include "engine/base/text.h"
#include "engine/model/patch.h"

static int fail(carnet_patch *p, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

/* A failed carnet_patch_* call: limits are the caller's to hear of. */
static int op_done(carnet_patch *p, int rc, const char *name, const char *value) {
  if (rc == 0 || rc == CARNET_ENOMEM) return rc;
  return fail(p, rc, "invalid value '%s' for %s: %s", value ? value : "", name,
              carnet_error_message(rc));
}

/* "5.5", "5,5" or "5.5%" -> "550" (basis points); "" -> "" (clears). */
static bool discount_bp(const char *s, char out[8]) {
  unsigned whole = 0, frac = 0, nwhole = 0, nfrac = 0;
  const char *q = s;
  out[0] = '\0';
  if (*s == '\0') return true;
  for (; *q >= '0' && *q <= '9'; q++, nwhole++)
    whole = whole * 10 + (unsigned)(*q - '0');
  if (nwhole == 0 || nwhole > 3) return false;
  if (*q == '.' || *q == ',') {
    for (q++; *q >= '0' && *q <= '9'; q++, nfrac++)
      frac = frac * 10 + (unsigned)(*q - '0');
    if (nfrac == 0 || nfrac > 2) return false;
  }
  if (nfrac == 1) frac *= 10;
  if (*q == '%') q++;
  if (*q != '\0' || whole * 100 + frac > 10000) return false;
  snprintf(out, 8, "%u", whole * 100 + frac);
  return true;
}

/* The names a person types (carnet__custom_type_name describes a type in
 * a message: "date YYYY-MM-DD"). */
static const char *const custom_types[] = {NULL, "string", "number", "date", "list", "checkbox"};

static carnet_custom_type custom_type(const char *s, size_t len) {
  for (int t = CARNET_CUSTOM_STRING; t <= CARNET_CUSTOM_CHECKBOX; t++)
    if (strlen(custom_types[t]) == len && strncmp(custom_types[t], s, len) == 0)
      return (carnet_custom_type)t;
  return 0;
}

int carnet_patch_parse_custom(carnet_patch *p, const char *name, const char *type,
                              const char *value) {
  carnet_custom_type t = CARNET_CUSTOM_STRING;
  if (p == NULL) return CARNET_EMISUSE;
  p->errmsg[0] = '\0';
  if (name == NULL) return fail(p, CARNET_EINVAL, "missing custom field name");
  if (type && type[0] && (t = custom_type(type, strlen(type))) == 0)
    return fail(p, CARNET_EINVAL,
                "unknown custom field type '%s': use string, number, date, list or checkbox", type);
  if (carnet__custom_name_valid(name) != 0)
    return fail(p, CARNET_EINVAL,
                "invalid custom field name '%s': 1-64 letters, digits, '_', '-' or ' '", name);
  if (value && value[0] == '\0') value = NULL;
  if (value && carnet__custom_value_valid(t, value) != 0)
    return fail(p, CARNET_EINVAL, "invalid value '%s' for custom field '%s' (%s)", value, name,
                carnet__custom_type_name(t));
  int rc = carnet_patch_custom(p, name, t, value);
  return op_done(p, rc, name, value);
}

/* NAME[:TYPE]=VALUE, or NAME= to clear. */
static int custom_typed(carnet_patch *p, const char *arg, const char *name) {
  size_t nlen = strcspn(arg, ":="), tlen;
  const char *type = arg + nlen, *eq = strchr(arg, '=');
  char tname[16] = "";
  if (nlen == 0 || eq == NULL || (*type == '=' && eq[1] != '\0'))
    return fail(p, CARNET_EINVAL,
                "invalid %s '%s': write NAME:TYPE=VALUE, e.g. %s 'surface:number=120' (NAME= "
                "clears)",
                name, arg, name);
  if (*type == ':') {
    type++;
    tlen = (size_t)(eq - type);
    if (custom_type(type, tlen) == 0)
      return fail(p, CARNET_EINVAL,
                  "unknown custom field type '%.*s': use string, number, date, list or checkbox",
                  (int)tlen, type);
    memcpy(tname, type, tlen); /* a known name: short */
    tname[tlen] = '\0';
  }
  char *fname = carnet__strndup(arg, nlen);
  if (fname == NULL) return CARNET_ENOMEM;
  int rc = carnet_patch_parse_custom(p, fname, tname[0] ? tname : NULL, eq[1] ? eq + 1 : NULL);
  carnet__free(fname);
  return rc;
}

static bool date_field(carnet_field f) {
  return f == CARNET_F_DATE || f == CARNET_F_DUE_DATE || f == CARNET_F_PAID_DATE;
}

int carnet_patch_parse(carnet_patch *p, carnet_field f, const char *value, const char *name) {
  char bp[8];
  if (p == NULL) return CARNET_EMISUSE;
  p->errmsg[0] = '\0';
  const carnet_field_info *fi = carnet_field_get(f);
  if (fi == NULL || !(fi->kinds & (1u << p->kind)))
    return fail(p, CARNET_EMISUSE, "no field %d for a %s", (int)f, carnet_kind_name(p->kind));
  if (name == NULL) name = fi->name;
  bool typed = value && value[0]; /* NULL and "" clear a scalar */
  switch (f) {
  case CARNET_F_CUSTOM:
    if (!typed)
      return fail(p, CARNET_EINVAL,
                  "invalid %s '': write NAME:TYPE=VALUE, e.g. %s 'surface:number=120' (NAME= "
                  "clears)",
                  name, name);
    return custom_typed(p, value, name);
  case CARNET_F_PHONES:
    if (!typed) return fail(p, CARNET_EINVAL, "missing phone number for %s", name);
    /* Untyped: the write reads the number with the replica's default
     * region and labels it from its line type (mobile, else work). */
    return op_done(p, carnet_patch_set(p, CARNET_F_PHONES, value), name, value);
  case CARNET_F_DISCOUNT:
    if (typed && !discount_bp(value, bp))
      return fail(p, CARNET_EINVAL,
                  "invalid discount '%s': give a percentage from 0 to 100 with at most 2 "
                  "decimals, e.g. 5.5",
                  value);
    return op_done(p, carnet_patch_set(p, f, typed ? bp : NULL), name, value);
  default:
    if (date_field(f) && typed && !carnet_date_valid(value))
      return fail(p, CARNET_EINVAL, "invalid date '%s' for %s: YYYY-MM-DD, e.g. 2026-11-20", value,
                  name);
    return op_done(p, carnet_patch_set(p, f, value), name, value);
  }
}

const char *carnet_patch_errmsg(const carnet_patch *p) {
  return p ? p->errmsg : "";
}
