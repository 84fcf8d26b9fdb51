/* book/import_value.c - a cell's value as a patch operation, converted the
 * way the flags of `carnet customer add` convert theirs: through
 * carnet_patch_parse, the one conversion of what a person typed (a
 * phone's type from its number, a discount from percent to basis points,
 * a custom field from NAME:TYPE=VALUE), which the command line and the
 * web console use too, so a customer typed in and the same customer
 * imported cannot differ; tests/book/test_import.c checks the values
 * `customer add` gives.
 * Reasons name the flag ("invalid value 'x' for --email: ...") because a
 * rejected row's reason is read by the person who typed the file, and the
 * flags are the documented names of the fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "book/import_int.h"
#include "engine/base/alloc.h"

typedef enum vop {
  VOP_PARSE,   /* carnet_patch_parse(field, value) */
  VOP_FIXED,   /* carnet_patch_set(field, fixed) */
  VOP_COMPANY, /* type company, and the company name */
  VOP_PHONE,   /* a phone of type `fixed` */
} vop;

static const struct {
  const char *flag;
  vop op;
  carnet_field field;
  const char *fixed;
} values[] = {
    {"name", VOP_PARSE, CARNET_F_NAME, NULL},
    {"company", VOP_COMPANY, CARNET_F_COMPANY, NULL},
    {"role", VOP_PARSE, CARNET_F_ROLES, NULL},
    {"email", VOP_PARSE, CARNET_F_EMAILS, NULL},
    {"phone", VOP_PARSE, CARNET_F_PHONES, NULL},
    {"mobile", VOP_PHONE, CARNET_F_PHONES, "mobile"},
    {"work-phone", VOP_PHONE, CARNET_F_PHONES, "work"},
    {"home-phone", VOP_PHONE, CARNET_F_PHONES, "home"},
    {"siret", VOP_PARSE, CARNET_F_SIRET, NULL},
    {"vat-id", VOP_PARSE, CARNET_F_VAT_ID, NULL},
    {"street", VOP_PARSE, CARNET_F_STREET, NULL},
    {"postcode", VOP_PARSE, CARNET_F_POSTCODE, NULL},
    {"city", VOP_PARSE, CARNET_F_CITY, NULL},
    {"country", VOP_PARSE, CARNET_F_COUNTRY, NULL},
    {"geo", VOP_PARSE, CARNET_F_GEO, NULL},
    {"tag", VOP_PARSE, CARNET_F_TAGS, NULL},
    {"sales-rep", VOP_PARSE, CARNET_F_SALES_REP, NULL},
    {"channel", VOP_PARSE, CARNET_F_CHANNEL, NULL},
    {"discount", VOP_PARSE, CARNET_F_DISCOUNT, NULL},
    {"conflict", VOP_FIXED, CARNET_F_CONFLICT, "true"},
    {"no-conflict", VOP_FIXED, CARNET_F_CONFLICT, "false"},
    {"notes", VOP_PARSE, CARNET_F_NOTES, NULL},
    {"custom", VOP_PARSE, CARNET_F_CUSTOM, NULL},
};

const char *carnet__imp_phone_split(const char *elem, char *type, size_t tlen) {
  const char *colon = strchr(elem, ':');
  if (colon == NULL) {
    snprintf(type, tlen, "%s", "");
    return elem;
  }
  snprintf(type, tlen, "%.*s", (int)(colon - elem), elem);
  return colon + 1;
}

int carnet__imp_value(carnet_patch *p, const char *flag, const char *value, char *why,
                      size_t why_len) {
  int rc = 0;
  size_t i = 0, n = sizeof values / sizeof values[0];
  while (i < n && strcmp(values[i].flag, flag) != 0)
    i++;
  if (i == n) {
    /* A caller's bug in this folder, not a row's problem. */
    snprintf(why, why_len, "no flag --%s for a customer", flag);
    return CARNET_EMISUSE;
  }
  char name[32];
  snprintf(name, sizeof name, "--%s", flag);
  switch (values[i].op) {
  case VOP_PARSE:
    rc = carnet_patch_parse(p, values[i].field, value, name);
    if (rc && rc != CARNET_ENOMEM) {
      snprintf(why, why_len, "%s", carnet_patch_errmsg(p));
      return CARNET_EINVAL;
    }
    return rc;
  case VOP_FIXED:
    rc = carnet_patch_set(p, values[i].field, values[i].fixed);
    break;
  case VOP_COMPANY:
    rc = carnet_patch_set(p, CARNET_F_TYPE, "company");
    if (rc == 0 && value) rc = carnet_patch_set(p, CARNET_F_COMPANY, value);
    break;
  case VOP_PHONE:
    rc = carnet_patch_phone(p, values[i].fixed, value);
    break;
  }
  if (rc == CARNET_ENOMEM) return rc;
  if (rc) {
    snprintf(why, why_len, "invalid value '%s' for %s: %s", value ? value : "", name,
             carnet_error_message(rc));
    return CARNET_EINVAL;
  }
  return 0;
}

/* Digits at s[0..n), as a number; -1 when not all digits. */
static int digits(const char *s, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

bool carnet__imp_date(const char *text, char out[11]) {
  int d, m, y;
  size_t n = strlen(text);
  if (n >= 10 && text[4] == '-' && text[7] == '-') { /* ISO, maybe with a time */
    y = digits(text, 4), m = digits(text + 5, 2), d = digits(text + 8, 2);
  } else if (n >= 10 && (text[2] == '/' || text[2] == '.' || text[2] == '-') &&
             text[5] == text[2]) { /* day first: 15/03/2021, maybe with a time */
    d = digits(text, 2), m = digits(text + 3, 2), y = digits(text + 6, 4);
  } else {
    return false;
  }
  /* What may follow: nothing, or a time after a space or a 'T'. */
  if (n > 10 && text[10] != ' ' && text[10] != 'T') return false;
  if (y < 1 || m < 1 || d < 1) return false;
  char buf[16];
  snprintf(buf, sizeof buf, "%04d-%02d-%02d", y % 10000, m % 100, d % 100);
  if (!carnet_date_valid(buf)) return false;
  memcpy(out, buf, 11);
  return true;
}
