/* web/patch.c - JSON bodies into patches (see patch.h). */
#include "patch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"

#define CU (1u << CARNET_KIND_CUSTOMER)
#define CO (1u << CARNET_KIND_CONTACT)

typedef enum how {
  H_STR,
  H_SET,
  H_PHONES,
  H_ADDRESS,
  H_DISCOUNT,
  H_BOOL,
  H_CUSTOM,
  H_CUSTOMER,
  H_COMPANY,
  H_IGNORE
} how;

static const struct key {
  const char *name;
  how how;
  carnet_field field;
  unsigned kinds;
} keys[] = {
    {"name", H_STR, CARNET_F_NAME, CU | CO},
    {"company", H_COMPANY, CARNET_F_COMPANY, CU},
    {"type", H_STR, CARNET_F_TYPE, CU},
    {"roles", H_SET, CARNET_F_ROLES, CU},
    {"role", H_STR, CARNET_F_ROLE, CO},
    {"customer", H_CUSTOMER, CARNET_F_CUSTOMER, CO},
    {"emails", H_SET, CARNET_F_EMAILS, CU | CO},
    {"phones", H_PHONES, CARNET_F_PHONES, CU | CO},
    {"tags", H_SET, CARNET_F_TAGS, CU},
    {"siret", H_STR, CARNET_F_SIRET, CU},
    {"vat_id", H_STR, CARNET_F_VAT_ID, CU},
    {"address", H_ADDRESS, 0, CU | CO},
    {"sales_rep", H_STR, CARNET_F_SALES_REP, CU},
    {"channel", H_STR, CARNET_F_CHANNEL, CU},
    {"discount", H_DISCOUNT, CARNET_F_DISCOUNT, CU},
    {"conflict", H_BOOL, CARNET_F_CONFLICT, CU},
    {"notes", H_STR, CARNET_F_NOTES, CU | CO},
    {"custom", H_CUSTOM, CARNET_F_CUSTOM, CU},
    /* The record shape's read-only keys: a client may send back what it
     * read. */
    {"id", H_IGNORE, 0, CU | CO},
    {"kind", H_IGNORE, 0, CU | CO},
    {"ref", H_IGNORE, 0, CU},
    {"consents", H_IGNORE, 0, CU},
    {"merged", H_IGNORE, 0, CU},
    {"review", H_IGNORE, 0, CU},
    {"deleted", H_IGNORE, 0, CU | CO},
    {"updated", H_IGNORE, 0, CU | CO},
    {"force", H_IGNORE, 0, CU},
};

static const struct {
  const char *name;
  carnet_field field;
} address_keys[] = {{"street", CARNET_F_STREET},
                    {"postcode", CARNET_F_POSTCODE},
                    {"city", CARNET_F_CITY},
                    {"country", CARNET_F_COUNTRY},
                    {"geo", CARNET_F_GEO}};

/* A failed patch call: only limits and memory can fail while building. */
static bool op(web_req *q, int rc, const char *key) {
  if (rc == 0) return true;
  if (rc == CARNET_ENOMEM)
    web_oom(q);
  else
    web_error(q, 400, rc, key, "invalid value for '%s': %s", key, carnet_error_message(rc));
  return false;
}

/* A failed carnet_patch_parse*: its message names the field as the API
 * does (the key) and shows the value as sent. */
static bool parsed(web_req *q, carnet_patch *p, int rc, const char *key) {
  if (rc == 0) return true;
  if (rc == CARNET_ENOMEM)
    web_oom(q);
  else
    web_error(q, 400, rc, key, "%s", carnet_patch_errmsg(p));
  return false;
}

static bool bad_shape(web_req *q, const char *key, const char *want) {
  web_error(q, 400, CARNET_EINVAL, key, "invalid value for '%s': give %s", key, want);
  return false;
}

/* A scalar: a string, or null / "" to clear. */
static bool set_str(web_req *q, carnet_patch *p, const char *key, carnet_field f, json_t *v) {
  if (!json_is_null(v) && !json_is_string(v)) return bad_shape(q, key, "a string or null");
  return parsed(q, p, carnet_patch_parse(p, f, json_string_value(v), key), key);
}

static bool has_str(json_t *arr, const char *s) {
  size_t i;
  json_t *v;
  json_array_foreach(arr, i,
                     v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
  return false;
}

/* A set given whole: on a new record every element is added; on an edit,
 * what the record has and the body lacks is removed, the rest added. */
static bool set_set(web_req *q, carnet_patch *p, const char *key, carnet_field f, json_t *v,
                    const carnet_record *cur) {
  size_t i;
  json_t *e;
  if (json_is_null(v))
    v = NULL;
  else if (!json_is_array(v))
    return bad_shape(q, key, "an array of strings");
  json_array_foreach(v, i, e) if (!json_is_string(e)) return bad_shape(q, key,
                                                                       "an array of strings");
  const char *const *have = NULL;
  size_t n = cur ? carnet_record_elems(cur, f, &have) : 0;
  for (size_t k = 0; k < n; k++)
    if (!v || !has_str(v, have[k])) {
      if (!op(q, carnet_patch_remove(p, f, have[k]), key)) return false;
    }
  json_array_foreach(v, i, e) {
    const char *s = json_string_value(e);
    bool had = false;
    for (size_t k = 0; k < n && !had; k++)
      had = strcmp(have[k], s) == 0;
    if (!had && !parsed(q, p, carnet_patch_parse(p, f, s, key), key)) return false;
  }
  return true;
}

/* One phone of the body: "06 12..." (*type NULL: the type the number
 * gets, carnet_patch_parse's) or {"type": "mobile", "number": "..."}. */
static bool phone_of(web_req *q, json_t *e, const char **type, const char **number) {
  if (json_is_string(e)) {
    *number = json_string_value(e);
    *type = NULL;
    return true;
  }
  json_t *t = json_object_get(e, "type"), *n = json_object_get(e, "number");
  if (!json_is_object(e) || !json_is_string(n) || (t && !json_is_null(t) && !json_is_string(t)))
    return bad_shape(q, "phones", "an array of {\"type\", \"number\"} or of numbers");
  *number = json_string_value(n);
  *type = json_is_string(t) && json_string_value(t)[0] ? json_string_value(t) : NULL;
  return true;
}

/* Whether the stored element `have` ("type:+E164[;ext=N]") is the body's
 * phone, read in `region` (the replica's, as the write reads it): the
 * same number and extension, and the same type when the body gives one. */
static bool same_phone(const char *have, const char *region, const char *type, const char *number) {
  char e164[CARNET_PHONE_STORED_MAX], t[32];
  carnet_phone ph;
  const char *num = web_phone_split(have, t, sizeof t);
  if (carnet_phone_parse(number, region, &ph) != 0 || carnet_phone_stored(&ph, e164, sizeof e164))
    return false;
  return strcmp(num, e164) == 0 && (type == NULL || strcmp(t, type) == 0);
}

static int add_phone(carnet_patch *p, const char *type, const char *number) {
  return type ? carnet_patch_phone(p, type, number)
              : carnet_patch_parse(p, CARNET_F_PHONES, number, "phones");
}

static bool set_phones(web_req *q, carnet_replica *r, carnet_patch *p, json_t *v,
                       const carnet_record *cur) {
  size_t i;
  json_t *e;
  const char *type, *number;
  char region[3] = "FR";
  if (json_is_null(v))
    v = NULL;
  else if (!json_is_array(v))
    return bad_shape(q, "phones", "an array of {\"type\", \"number\"} or of numbers");
  json_array_foreach(v, i, e) if (!phone_of(q, e, &type, &number)) return false;
  const char *const *have = NULL;
  size_t n = cur ? carnet_record_elems(cur, CARNET_F_PHONES, &have) : 0;
  /* Stored phones are compared in the replica's region (a new record has
   * none: no replica needed, as web_patch_build says). */
  int rc = n ? carnet_replica_get_region(r, region) : 0;
  if (rc) {
    web_fail(q, r, rc, "phones");
    return false;
  }
  for (size_t k = 0; k < n; k++) {
    bool keep = false;
    json_array_foreach(v, i, e) {
      phone_of(q, e, &type, &number);
      keep |= same_phone(have[k], region, type, number);
    }
    char t[32];
    const char *num = web_phone_split(have[k], t, sizeof t);
    if (!keep && !op(q, carnet_patch_remove(p, CARNET_F_PHONES, num), "phones")) return false;
  }
  json_array_foreach(v, i, e) {
    phone_of(q, e, &type, &number);
    bool had = false;
    for (size_t k = 0; k < n && !had; k++)
      had = same_phone(have[k], region, type, number);
    if (!had && !parsed(q, p, add_phone(p, type, number), "phones")) return false;
  }
  return true;
}

static bool set_address(web_req *q, carnet_patch *p, carnet_kind kind, json_t *v) {
  const char *k;
  json_t *e;
  if (!json_is_object(v)) return bad_shape(q, "address", "an object");
  json_object_foreach(v, k, e) {
    size_t i = 0, n = sizeof address_keys / sizeof address_keys[0];
    while (i < n && strcmp(address_keys[i].name, k) != 0)
      i++;
    if (i == n || (address_keys[i].field == CARNET_F_GEO && kind != CARNET_KIND_CUSTOMER)) {
      web_error(q, 400, CARNET_EINVAL, "address", "unknown field 'address.%s'", k);
      return false;
    }
    if (!set_str(q, p, address_keys[i].name, address_keys[i].field, e)) return false;
  }
  return true;
}

/* Percent (a number or a string, 0..100, two decimals at most), as
 * `--discount` takes it: a number is read as its decimal text. */
static bool set_discount(web_req *q, carnet_patch *p, json_t *v) {
  char typed[64];
  int64_t bp;
  if (json_is_null(v))
    return parsed(q, p, carnet_patch_parse(p, CARNET_F_DISCOUNT, NULL, NULL), "discount");
  if (json_is_number(v) && web_json_decimal(v, 2, &bp) && bp >= 0 && bp <= 10000)
    web_fmt_percent((uint32_t)bp, typed);
  else if (json_is_number(v) || json_is_string(v))
    web_json_typed(v, typed, sizeof typed);
  else
    return bad_shape(q, "discount", "a percentage, as a number or a string");
  return parsed(q, p, carnet_patch_parse(p, CARNET_F_DISCOUNT, typed, NULL), "discount");
}

static bool set_bool(web_req *q, carnet_patch *p, const char *key, carnet_field f, json_t *v) {
  if (json_is_null(v)) return op(q, carnet_patch_set(p, f, NULL), key);
  if (!json_is_boolean(v)) return bad_shape(q, key, "true, false or null");
  return op(q, carnet_patch_set(p, f, json_is_true(v) ? "true" : "false"), key);
}

/* {"surface": {"type": "number", "value": "120"}}, {"x": "text"} (a
 * string), {"x": null} (cleared). */
static bool set_custom(web_req *q, carnet_patch *p, json_t *v) {
  const char *name;
  json_t *e;
  char key[96];
  if (!json_is_object(v)) return bad_shape(q, "custom", "an object of custom fields");
  json_object_foreach(v, name, e) {
    const char *type = NULL, *value = NULL;
    /* The field at fault is the custom field itself: "custom.surface". */
    snprintf(key, sizeof key, "custom.%s", name);
    if (json_is_string(e)) {
      value = json_string_value(e);
    } else if (json_is_object(e)) {
      json_t *jt = json_object_get(e, "type"), *jv = json_object_get(e, "value");
      if ((jt && !json_is_null(jt) && !json_is_string(jt)) ||
          (jv && !json_is_null(jv) && !json_is_string(jv)))
        return bad_shape(q, key, "{\"type\", \"value\"} with string values");
      type = json_string_value(jt);
      value = json_string_value(jv);
    } else if (!json_is_null(e)) {
      return bad_shape(q, key, "{\"type\", \"value\"}, a string or null for each field");
    }
    if (!parsed(q, p, carnet_patch_parse_custom(p, name, type, value), key)) return false;
  }
  return true;
}

/* A contact belongs to a customer that exists and is not deleted. */
static bool set_customer(web_req *q, carnet_replica *r, carnet_patch *p, json_t *v) {
  carnet_id id;
  carnet_record *rec = NULL;
  char hex[CARNET_ID_HEX_LEN + 1];
  if (!json_is_string(v)) return bad_shape(q, "customer", "the customer's reference");
  const char *ref = json_string_value(v);
  if (!web_resolve(q, r, CARNET_KIND_CUSTOMER, ref, "customer", &id)) return false;
  int rc = carnet_record_get(r, &id, &rec);
  if (rc) {
    web_fail(q, r, rc, ref);
    return false;
  }
  bool deleted = carnet_record_deleted(rec);
  carnet_id_format(carnet_record_id(rec), hex);
  carnet_record_free(rec);
  if (deleted) {
    web_error(q, 400, CARNET_EINVAL, "customer", "customer '%s' is deleted", ref);
    return false;
  }
  return op(q, carnet_patch_set(p, CARNET_F_CUSTOMER, hex), "customer");
}

bool web_patch_build(web_req *q, carnet_replica *r, carnet_kind kind, json_t *body,
                     const carnet_record *cur, carnet_patch *p, size_t *touched) {
  const char *k;
  json_t *v;
  *touched = 0;
  if (body == NULL) return true;
  json_object_foreach(body, k, v) {
    size_t i = 0, n = sizeof keys / sizeof keys[0];
    while (i < n && !(strcmp(keys[i].name, k) == 0 && (keys[i].kinds & (1u << kind))))
      i++;
    if (i == n) {
      web_error(q, 400, CARNET_EINVAL, k, "unknown field '%s' for %s", k, carnet_kind_name(kind));
      return false;
    }
    const struct key *key = &keys[i];
    bool ok = true;
    switch (key->how) {
    case H_IGNORE:
      continue;
    case H_STR:
      ok = set_str(q, p, k, key->field, v);
      break;
    case H_COMPANY:
      /* As --company: a company name makes the type company, unless the
       * body says the type itself. */
      ok = set_str(q, p, k, key->field, v);
      if (ok && json_is_string(v) && json_string_value(v)[0] && !json_object_get(body, "type"))
        ok = op(q, carnet_patch_set(p, CARNET_F_TYPE, "company"), "type");
      break;
    case H_SET:
      ok = set_set(q, p, k, key->field, v, cur);
      break;
    case H_PHONES:
      ok = set_phones(q, r, p, v, cur);
      break;
    case H_ADDRESS:
      ok = set_address(q, p, kind, v);
      break;
    case H_DISCOUNT:
      ok = set_discount(q, p, v);
      break;
    case H_BOOL:
      ok = set_bool(q, p, k, key->field, v);
      break;
    case H_CUSTOM:
      ok = set_custom(q, p, v);
      break;
    case H_CUSTOMER:
      ok = set_customer(q, r, p, v);
      break;
    }
    if (!ok) return false;
    (*touched)++;
  }
  return true;
}
