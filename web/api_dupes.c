/* web/api_dupes.c - duplicate candidates, the review list, merge, unmerge
 * and the decisions on a pair: `carnet dupes`, `merge`, `unmerge` over
 * HTTP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"
#include "view.h"

/* One side of a pair: the record in full (merge and unmerge answer so). */
static json_t *side(carnet_replica *r, const carnet_id *id) {
  carnet_record *rec = NULL;
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(id, hex);
  if (carnet_record_get(r, id, &rec) != 0) return json_pack("{s:s}", "id", hex);
  json_t *o = web_json_record(rec);
  carnet_record_free(rec);
  return o;
}

/* The keys of a record's shape that a person needs to tell two customers
 * apart, and the address's city and postcode lifted to the top. */
json_t *web_customer_summary(carnet_replica *r, const carnet_id *id) {
  static const char *const keys[] = {"id",     "ref",    "name", "company", "type",
                                     "emails", "phones", "tags", "siret",   "deleted"};
  carnet_record *rec = NULL;
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(id, hex);
  json_t *full = carnet_record_get(r, id, &rec) == 0 ? web_json_record(rec) : NULL;
  carnet_record_free(rec);
  json_t *o = json_object();
  bool ok = o != NULL;
  for (size_t i = 0; ok && i < sizeof keys / sizeof keys[0]; i++) {
    json_t *v = full ? json_object_get(full, keys[i]) : NULL;
    ok = web_json_put(o, keys[i], v ? json_incref(v) : json_null());
  }
  json_t *addr = full ? json_object_get(full, "address") : NULL;
  ok = ok && web_json_put(o, "id", json_string(hex));
  for (size_t i = 0; ok && i < 2; i++) {
    const char *k = i ? "postcode" : "city";
    json_t *v = json_is_object(addr) ? json_object_get(addr, k) : NULL;
    ok = web_json_put(o, k, v ? json_incref(v) : json_null());
  }
  json_decref(full);
  if (!ok) json_decref(o);
  return ok ? o : NULL;
}

static json_t *reasons(unsigned bits) {
  json_t *a = json_array();
  bool ok = a != NULL;
  for (unsigned bit = 1; bit <= CARNET_DUPE_NAME; bit <<= 1)
    if (bits & bit)
      ok = web_json_push(a, web_json_str(carnet_dupes_reason_name((carnet_dupe_reason)bit))) && ok;
  if (!ok) json_decref(a);
  return ok ? a : NULL;
}

json_t *web_dupe_json(carnet_replica *r, const carnet_dupe *d, const carnet_id *self) {
  json_t *o = json_pack("{s:f,s:o,s:f,s:b}", "score", d->score, "reasons", reasons(d->reasons),
                        "name_similarity", d->name_similarity, "same_place", d->same_place);
  if (o == NULL) return NULL;
  bool ok;
  if (self) {
    const carnet_id *other = memcmp(d->a.b, self->b, 16) == 0 ? &d->b : &d->a;
    ok = web_json_put(o, "customer", web_customer_summary(r, other));
  } else {
    ok = web_json_put(o, "a", web_customer_summary(r, &d->a)) &&
         web_json_put(o, "b", web_customer_summary(r, &d->b));
  }
  if (!ok) json_decref(o);
  return ok ? o : NULL;
}

void api_dupes_list(carnet_replica *r, web_req *q) {
  const char *ms = web_arg_get(q, "min_score");
  double min = CARNET_DUPE_SCORE_DEFAULT;
  carnet_dupe *d = NULL;
  size_t n = 0;
  if (ms && ms[0]) {
    char *end;
    min = strtod(ms, &end);
    if (*end != '\0' || !(min >= 0 && min <= 1)) {
      web_error(q, 400, CARNET_EINVAL, "min_score",
                "invalid min_score '%s': a number between 0 and 1", ms);
      return;
    }
  }
  int rc = carnet_dupes_find(r, min, &d, &n);
  if (rc == 0) rc = carnet_dupes_filter(r, d, &n);
  if (rc) {
    carnet_free(d);
    web_fail(q, r, rc, NULL);
    return;
  }
  json_t *items = json_array();
  bool ok = items != NULL;
  for (size_t i = 0; i < n && ok; i++)
    ok = web_json_push(items, web_dupe_json(r, &d[i], NULL));
  carnet_free(d);
  if (!ok) {
    json_decref(items);
    web_oom(q);
    return;
  }
  web_ok(q, 200, json_pack("{s:o}", "items", items));
}

void api_dupes_review(carnet_replica *r, web_req *q) {
  carnet_review_item *it = NULL;
  size_t n = 0;
  char hex[CARNET_ID_HEX_LEN + 1];
  int rc = carnet_dupes_review_list(r, &it, &n);
  if (rc) {
    web_fail(q, r, rc, NULL);
    return;
  }
  json_t *items = json_array();
  bool ok = items != NULL;
  for (size_t i = 0; i < n && ok; i++) {
    carnet_id_format(&it[i].survivor, hex);
    bool conflict = it[i].why == CARNET_REVIEW_CONFLICT;
    ok = web_json_push(
        items, json_pack("{s:s,s:o,s:o,s:s?}", "why", conflict ? "conflict" : "set_aside", "a",
                         web_customer_summary(r, &it[i].a), "b", web_customer_summary(r, &it[i].b),
                         "survivor", conflict ? hex : NULL));
  }
  carnet_free(it);
  if (!ok) {
    json_decref(items);
    web_oom(q);
    return;
  }
  web_ok(q, 200, json_pack("{s:o}", "items", items));
}

/* Two customer references of the body. */
static bool pair(web_req *q, carnet_replica *r, const char *ka, const char *kb, carnet_id *a,
                 carnet_id *b, bool b_optional, bool *has_b) {
  bool bad = false;
  const char *ra = web_body_str(q, ka, &bad), *rb = bad ? NULL : web_body_str(q, kb, &bad);
  if (bad) return false;
  if (ra == NULL) {
    web_error(q, 400, CARNET_EINVAL, ka, "missing %s: a customer reference", ka);
    return false;
  }
  if (!web_resolve(q, r, CARNET_KIND_CUSTOMER, ra, ka, a)) return false;
  if (has_b) *has_b = rb != NULL;
  if (rb == NULL && b_optional) return true;
  if (rb == NULL) {
    web_error(q, 400, CARNET_EINVAL, kb, "missing %s: a customer reference", kb);
    return false;
  }
  return web_resolve(q, r, CARNET_KIND_CUSTOMER, rb, kb, b);
}

/* Run one write in its own transaction; the answer is set on failure. */
static bool in_txn(web_req *q, carnet_replica *r,
                   int (*fn)(carnet_txn *t, const carnet_id *a, const carnet_id *b),
                   const carnet_id *a, const carnet_id *b) {
  carnet_txn *t = NULL;
  int rc = carnet_txn_begin(r, &t);
  if (rc == 0) rc = fn(t, a, b);
  if (rc == 0) {
    rc = carnet_txn_commit(t);
    t = NULL;
  }
  carnet_txn_abort(t);
  if (rc) web_fail(q, r, rc, NULL);
  return rc == 0;
}

void api_merge(carnet_replica *r, web_req *q) {
  carnet_id keep, other;
  if (!pair(q, r, "keep", "other", &keep, &other, false, NULL)) return;
  if (!in_txn(q, r, carnet_merge_apply, &keep, &other)) return;
  web_ok(q, 200, side(r, &keep));
}

void api_unmerge(carnet_replica *r, web_req *q) {
  carnet_id id, from;
  bool has_from = false;
  carnet_id members[64];
  size_t n = 0;
  carnet_id survivor;
  if (!pair(q, r, "id", "from", &id, &from, true, &has_from)) return;
  /* The members before, so each can be shown after as it now reads. */
  int rc = carnet_merge_group(r, &id, &survivor, members, 64, &n, NULL);
  if (rc) {
    web_fail(q, r, rc, NULL);
    return;
  }
  if (!in_txn(q, r, carnet_merge_undo, &id, has_from ? &from : NULL)) return;
  json_t *arr = json_array();
  bool ok = arr != NULL;
  for (size_t i = 0; i < n && i < 64 && ok; i++)
    ok = web_json_push(arr, side(r, &members[i]));
  if (!ok) {
    json_decref(arr);
    web_oom(q);
    return;
  }
  web_ok(q, 200, json_pack("{s:o}", "customers", arr));
}

void api_dupes_dismiss(carnet_replica *r, web_req *q) {
  carnet_id a, b;
  if (!pair(q, r, "a", "b", &a, &b, false, NULL)) return;
  if (in_txn(q, r, carnet_dupes_dismiss, &a, &b)) web_ok(q, 200, json_pack("{s:b}", "ok", 1));
}

void api_dupes_set_aside(carnet_replica *r, web_req *q) {
  carnet_id a, b;
  if (!pair(q, r, "a", "b", &a, &b, false, NULL)) return;
  if (in_txn(q, r, carnet_dupes_set_aside, &a, &b)) web_ok(q, 200, json_pack("{s:b}", "ok", 1));
}
