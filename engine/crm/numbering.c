/* engine/crm/numbering.c - numbering rules and series counters (see
 * numbering.h). */
#include "engine/crm/numbering.h"

#include <stdio.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/crm/refcode.h"
#include "engine/store/replica_int.h"

static const char *const default_rules[] = {
    NULL,
    "DE{yy}{mm}-{tag}-{n:4}", /* devis */
    "CO{yy}{mm}-{tag}-{n:4}", /* commande */
    "F{yy}{mm}-{tag}-{n:4}",  /* facture */
    "AV{yy}{mm}-{tag}-{n:4}", /* avoir */
};

static bool type_ok(carnet_doc_type type) {
  return type >= CARNET_DOC_QUOTE && type <= CARNET_DOC_CREDIT_NOTE;
}

static void rule_key(carnet_doc_type type, char *key, size_t len) {
  snprintf(key, len, "%s%s", CARNET__META_NUMRULE, carnet_doc_type_name(type));
}

/* The rule of `type` read in `st` into out. */
static int rule_get(carnet__stxn *st, carnet_doc_type type, char *out, size_t len) {
  char key[64];
  carnet_buf v;
  rule_key(type, key, sizeof key);
  int rc = carnet__store_get(st, CARNET__T_META, key, strlen(key), &v);
  if (rc == CARNET_ENOTFOUND) {
    if (strlen(default_rules[type]) + 1 > len) return CARNET_ELIMIT;
    snprintf(out, len, "%s", default_rules[type]);
    return 0;
  }
  if (rc) return rc;
  if (v.len == 0 || v.len + 1 > len) return CARNET_ECORRUPT;
  memcpy(out, v.base, v.len);
  out[v.len] = '\0';
  return 0;
}

int carnet_replica_get_numbering(carnet_replica *r, carnet_doc_type type, char *out, size_t len) {
  carnet__stxn *st;
  if (!type_ok(type)) return carnet__fail(r, CARNET_EINVAL, "unknown document type");
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = rule_get(st, type, out, len);
  carnet__read_end(r, st);
  if (rc == CARNET_ECORRUPT) carnet__fail(r, rc, "the stored numbering rule is damaged");
  return rc;
}

/* A rule is valid when it expands, has {tag} and {n:W}, its literal text is
 * letters, digits and - _ / . only, and its longest number fits. */
static int rule_check(carnet_replica *r, const char *rule) {
  char out[256];
  const char *why = NULL;
  if (strlen(rule) > 128) why = "too long";
  for (const char *p = rule; why == NULL && *p; p++) {
    if (*p == '{') {
      const char *close = strchr(p, '}');
      if (close == NULL) {
        why = "a '{' without its '}'";
        break;
      }
      p = close;
      continue;
    }
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
          strchr("-_/.", *p)))
      why = "only letters, digits, - _ / . and placeholders";
  }
  if (why == NULL && (strstr(rule, "{tag}") == NULL || strstr(rule, "{n:") == NULL))
    why = "{tag} and {n:W} are required (the tag keeps replicas from giving the same number)";
  if (why == NULL && carnet__refcode_format(rule, 0, "XXXX", 999999999999ull, out, sizeof out) != 0)
    why = "unknown placeholder (use {yyyy} {yy} {mm} {tag} {n:W} with W from 1 to 12)";
  if (why == NULL && strlen(out) + 1 > CARNET_NUMBER_MAX) why = "numbers would be too long";
  if (why) return carnet__fail(r, CARNET_EINVAL, "invalid numbering rule '%s': %s", rule, why);
  return 0;
}

int carnet_replica_set_numbering(carnet_replica *r, carnet_doc_type type, const char *rule) {
  char key[64];
  carnet_txn *t;
  carnet__clear_err(r);
  if (!type_ok(type)) return carnet__fail(r, CARNET_EINVAL, "unknown document type");
  if (rule && *rule == '\0') rule = NULL;
  if (rule && rule_check(r, rule) != 0) return CARNET_EINVAL;
  int rc = carnet_txn_begin(r, &t);
  if (rc) return rc;
  rule_key(type, key, sizeof key);
  if (rule) {
    rc = carnet__store_put(t->st, CARNET__T_META, key, strlen(key), rule, strlen(rule), 0);
  } else {
    rc = carnet__store_del(t->st, CARNET__T_META, key, strlen(key));
    if (rc == CARNET_ENOTFOUND) rc = 0;
  }
  if (rc) {
    carnet_txn_abort(t);
    return carnet__fail(r, rc, "cannot write the rule: %s", carnet__store_why(r->store));
  }
  return carnet_txn_commit(t);
}

int carnet__number_next(carnet_txn *t, carnet_doc_type type, carnet_hlc stamp,
                        char series[CARNET_NUMBER_MAX], char number[CARNET_NUMBER_MAX]) {
  carnet_replica *r = t->r;
  char rule[160], key[16 + CARNET_NUMBER_MAX];
  uint64_t ms = CARNET_HLC_MS(stamp), n = 0;
  CARNET_ASSERT(stamp != 0); /* the writer took its stamp: the number takes its month */
  if (!type_ok(type)) return carnet__fail(r, CARNET_EINVAL, "unknown document type");
  int rc = rule_get(t->st, type, rule, sizeof rule);
  if (rc == 0) rc = carnet__refcode_format(rule, ms, r->tag, 0, series, CARNET_NUMBER_MAX);
  if (rc)
    return carnet__fail(r, rc == CARNET_ELIMIT ? rc : CARNET_ECORRUPT,
                        "the numbering rule of %ss is damaged", carnet_doc_type_name(type));
  snprintf(key, sizeof key, "%s%s", CARNET__META_NUMSEQ, series);
  rc = carnet__meta_get_u64(t->st, key, &n);
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  if (n == UINT64_MAX) return carnet__fail(r, CARNET_ELIMIT, "series %s is full", series);
  n++;
  rc = carnet__refcode_format(rule, ms, r->tag, n, number, CARNET_NUMBER_MAX);
  if (rc) return carnet__fail(r, CARNET_ELIMIT, "series %s is full", series);
  /* A number is its series with the counter in it: no two alike (the tag
   * keeps replicas apart, the counter only grows). */
  CARNET_ASSERT(strlen(number) < CARNET_NUMBER_MAX && n > 0);
  return carnet__meta_put_u64(t->st, key, n);
}
