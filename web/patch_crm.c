/* web/patch_crm.c - documents' headers, actions and reminders from JSON
 * bodies (see patch.h), converted and checked as `carnet doc add`,
 * `carnet action add` and `carnet reminder add` convert and check their
 * flags. */
#include <stdio.h>
#include <string.h>

#include "patch.h"

#define DOC (1u << CARNET_KIND_DOCUMENT)
#define ACT (1u << CARNET_KIND_ACTION)
#define REM (1u << CARNET_KIND_REMINDER)

typedef enum how {
  C_STR,
  C_DOCTYPE,
  C_CUSTOMER,
  C_CONTACT,
  C_DATE,
  C_UINT,
  C_CUSTOMERS,
  C_BOOL,
  C_IGNORE
} how;

static const struct ckey {
  const char *name;
  how how;
  carnet_field field;
  unsigned kinds;
} ckeys[] = {
    {"type", C_DOCTYPE, CARNET_F_DOC_TYPE, DOC},
    {"customer", C_CUSTOMER, CARNET_F_CUSTOMER, DOC | REM},
    {"contact", C_CONTACT, CARNET_F_CONTACT, DOC},
    {"date", C_DATE, CARNET_F_DATE, DOC | REM},
    {"due_date", C_DATE, CARNET_F_DUE_DATE, DOC},
    {"validity_days", C_UINT, CARNET_F_VALID_DAYS, DOC},
    {"payment_terms", C_STR, CARNET_F_PAY_TERMS, DOC},
    {"notes", C_STR, CARNET_F_NOTES, DOC},
    {"sales_rep", C_STR, CARNET_F_SALES_REP, DOC | ACT},
    {"channel", C_STR, CARNET_F_CHANNEL, ACT},
    {"customers", C_CUSTOMERS, CARNET_F_CUSTOMERS, ACT},
    {"at", C_STR, CARNET_F_AT, ACT},
    {"campaign", C_STR, CARNET_F_CAMPAIGN, ACT},
    {"sort1", C_STR, CARNET_F_SORT1, ACT},
    {"sort2", C_STR, CARNET_F_SORT2, ACT},
    {"direction", C_STR, CARNET_F_DIRECTION, ACT},
    {"rating", C_STR, CARNET_F_RATING, ACT},
    {"details", C_STR, CARNET_F_DETAILS, ACT},
    {"mode", C_STR, CARNET_F_MODE, REM},
    {"comment", C_STR, CARNET_F_COMMENT, REM},
    {"done", C_BOOL, CARNET_F_DONE, REM},
    /* Read-only keys of the record shapes. */
    {"id", C_IGNORE, 0, DOC | ACT | REM},
    {"kind", C_IGNORE, 0, DOC | ACT | REM},
    {"customer_label", C_IGNORE, 0, DOC | REM},
    {"customer_labels", C_IGNORE, 0, ACT},
    {"rating_level", C_IGNORE, 0, ACT},
    {"deleted", C_IGNORE, 0, DOC | ACT | REM},
    {"updated", C_IGNORE, 0, DOC | ACT | REM},
    {"number", C_IGNORE, 0, DOC},
    {"numbers", C_IGNORE, 0, DOC},
    {"status", C_IGNORE, 0, DOC},
    {"statuses_reached", C_IGNORE, 0, DOC},
    {"issued_to", C_IGNORE, 0, DOC},
    {"source", C_IGNORE, 0, DOC},
    {"paid_date", C_IGNORE, 0, DOC},
    {"lines", C_IGNORE, 0, DOC},
    {"totals", C_IGNORE, 0, DOC},
};

/* A failed patch call: carnet_patch_parse's message (naming the key, the
 * value as sent) when it has one. */
static bool op(web_req *q, carnet_patch *p, int rc, const char *key) {
  const char *why = carnet_patch_errmsg(p);
  if (rc == 0) return true;
  if (rc == CARNET_ENOMEM)
    web_oom(q);
  else if (why[0])
    web_error(q, 400, rc, key, "%s", why);
  else
    web_error(q, 400, rc, key, "invalid value for '%s': %s", key, carnet_error_message(rc));
  return false;
}

/* A live customer's hex id (33 bytes), as crm_customer_hex. */
static bool live_customer(web_req *q, carnet_replica *r, const char *key, const char *ref,
                          char *hex) {
  carnet_id id;
  carnet_record *rec = NULL;
  if (!web_resolve(q, r, CARNET_KIND_CUSTOMER, ref, key, &id)) return false;
  int rc = carnet_record_get(r, &id, &rec);
  if (rc) {
    web_fail(q, r, rc, ref);
    return false;
  }
  carnet_id_format(carnet_record_id(rec), hex);
  bool deleted = carnet_record_deleted(rec);
  carnet_record_free(rec);
  if (deleted) web_error(q, 400, CARNET_EINVAL, key, "customer '%s' is deleted", ref);
  return !deleted;
}

static bool set_customers(web_req *q, carnet_replica *r, carnet_patch *p, json_t *v,
                          const carnet_record *cur) {
  size_t i;
  json_t *e;
  char hex[CARNET_ID_HEX_LEN + 1];
  if (!json_is_array(v)) {
    web_error(q, 400, CARNET_EINVAL, "customers",
              "invalid value for 'customers': give an array of customer references");
    return false;
  }
  /* Resolve every reference first: the set compares ids. */
  json_t *ids = json_array();
  if (ids == NULL) {
    web_oom(q);
    return false;
  }
  json_array_foreach(v, i, e) {
    if (!json_is_string(e)) {
      json_decref(ids);
      web_error(q, 400, CARNET_EINVAL, "customers",
                "invalid value for 'customers': give an array of customer references");
      return false;
    }
    if (!live_customer(q, r, "customers", json_string_value(e), hex) ||
        json_array_append_new(ids, json_string(hex)) != 0) {
      if (!web_failed(q)) web_oom(q);
      json_decref(ids);
      return false;
    }
  }
  const char *const *have = NULL;
  size_t n = cur ? carnet_record_elems(cur, CARNET_F_CUSTOMERS, &have) : 0;
  bool ok = true;
  for (size_t k = 0; k < n && ok; k++) {
    bool keep = false;
    json_array_foreach(ids, i, e) keep |= strcmp(json_string_value(e), have[k]) == 0;
    if (!keep) ok = op(q, p, carnet_patch_remove(p, CARNET_F_CUSTOMERS, have[k]), "customers");
  }
  json_array_foreach(ids, i, e) {
    bool had = false;
    for (size_t k = 0; k < n && !had; k++)
      had = strcmp(have[k], json_string_value(e)) == 0;
    if (ok && !had)
      ok = op(q, p, carnet_patch_set(p, CARNET_F_CUSTOMERS, json_string_value(e)), "customers");
  }
  json_decref(ids);
  return ok;
}

static bool one(web_req *q, carnet_replica *r, const struct ckey *k, json_t *v, carnet_patch *p,
                const carnet_record *cur) {
  char hex[CARNET_ID_HEX_LEN + 1], num[24];
  carnet_id id;
  const char *s = json_is_string(v) ? json_string_value(v) : NULL;
  if (k->how == C_CUSTOMERS) return set_customers(q, r, p, v, cur);
  if (k->how == C_BOOL) {
    if (!json_is_boolean(v)) {
      web_error(q, 400, CARNET_EINVAL, k->name, "invalid value for '%s': true or false", k->name);
      return false;
    }
    return op(q, p, carnet_patch_set(p, k->field, json_is_true(v) ? "true" : "false"), k->name);
  }
  if (k->how == C_UINT && json_is_integer(v) && json_integer_value(v) >= 0) {
    snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
    s = num;
  }
  if (!json_is_null(v) && s == NULL) {
    web_error(q, 400, CARNET_EINVAL, k->name, "invalid value for '%s': give a string or null",
              k->name);
    return false;
  }
  if (s && s[0] == '\0') s = NULL;
  switch (k->how) {
  case C_DOCTYPE:
    if (s == NULL || carnet_doc_type_parse(s) == 0) {
      web_error(q, 400, CARNET_EINVAL, k->name,
                "unknown type '%s': quote, order, invoice or credit_note", s ? s : "");
      return false;
    }
    break;
  case C_CUSTOMER:
    if (s == NULL) {
      web_error(q, 400, CARNET_EINVAL, k->name, "missing customer: the customer it is for");
      return false;
    }
    if (!live_customer(q, r, k->name, s, hex)) return false;
    s = hex;
    break;
  case C_CONTACT:
    if (s) {
      if (!web_resolve(q, r, CARNET_KIND_CONTACT, s, k->name, &id)) return false;
      carnet_id_format(&id, hex);
      s = hex;
    }
    break;
  default: /* a date is checked there, and named by its key */
    return op(q, p, carnet_patch_parse(p, k->field, s, k->name), k->name);
  }
  return op(q, p, carnet_patch_set(p, k->field, s), k->name);
}

bool web_patch_crm(web_req *q, carnet_replica *r, carnet_kind kind, json_t *body,
                   const carnet_record *cur, carnet_patch *p, size_t *touched) {
  const char *name;
  json_t *v;
  *touched = 0;
  if (body == NULL) return true;
  json_object_foreach(body, name, v) {
    size_t i = 0, n = sizeof ckeys / sizeof ckeys[0];
    while (i < n && !(strcmp(ckeys[i].name, name) == 0 && (ckeys[i].kinds & (1u << kind))))
      i++;
    if (i == n) {
      web_error(q, 400, CARNET_EINVAL, name, "unknown field '%s' for %s", name,
                carnet_kind_name(kind));
      return false;
    }
    if (ckeys[i].how == C_IGNORE) continue;
    if (!one(q, r, &ckeys[i], v, p, cur)) return false;
    (*touched)++;
  }
  return true;
}
