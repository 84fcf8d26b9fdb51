/* tests/engine/test_bulkdup.c - a bulk writer's duplicate checks
 * (engine/dupes/bulkdup.h) answer what carnet_record_lookup would answer
 * after a catch-up (B1), checked against a model of which customer has
 * which phone, e-mail and SIRET, after every write: customers created,
 * given and stripped of phones and e-mails, their SIRET replaced, deleted,
 * in the writer's groups (noted) and between them by another writer (not
 * noted), with the index caught up only by the checks themselves; and the
 * opposition list read as carnet_erasure_check_value reads it (B2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "engine/dupes/bulkdup.h"
#include "support/replicas.h"

#define OK ASSERT_OK

enum { NPHONE = 6, NEMAIL = 6, NSIRET = 3, NCUST_MAX = 64 };

typedef struct cust {
  carnet_id id;
  bool phone[NPHONE], email[NEMAIL], deleted;
  int siret; /* -1: none */
} cust;

typedef struct model {
  cust c[NCUST_MAX];
  int n;
  char phone[NPHONE][24], email[NEMAIL][24], siret[NSIRET][16];
} model;

/* A SIRET: 13 digits then the Luhn digit. */
static void make_siret(int k, char out[16]) {
  snprintf(out, 16, "4%012d", 1000 + k);
  unsigned sum = 0;
  for (int i = 0; i < 13; i++) {
    unsigned d = (unsigned)(out[12 - i] - '0');
    if (i % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  out[13] = (char)('0' + (10 - sum % 10) % 10);
  out[14] = '\0';
}

static void model_init(model *m) {
  memset(m, 0, sizeof *m);
  for (int i = 0; i < NPHONE; i++) /* written another way each time it is looked up */
    snprintf(m->phone[i], sizeof m->phone[i], "06 12 34 56 %02d", 10 + i);
  for (int i = 0; i < NEMAIL; i++)
    snprintf(m->email[i], sizeof m->email[i], "e%d@exemple.fr", i);
  for (int i = 0; i < NSIRET; i++)
    make_siret(i, m->siret[i]);
}

static uint64_t rnd(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* The smallest live id that has value `v` of `kind` in the model. */
static bool model_first(const model *m, carnet_lookup_kind kind, int v, carnet_id *out) {
  bool found = false;
  for (int i = 0; i < m->n; i++) {
    const cust *c = &m->c[i];
    bool has = kind == CARNET_LOOKUP_PHONE   ? c->phone[v]
               : kind == CARNET_LOOKUP_EMAIL ? c->email[v]
                                             : c->siret == v;
    if (c->deleted || !has) continue;
    if (!found || memcmp(c->id.b, out->b, 16) < 0) *out = c->id;
    found = true;
  }
  return found;
}

/* Every value of the pools, looked up through `d` in `t`, as the model
 * says. Phones are written in the other ways people write them. */
static void check_all(carnet_replica *r, carnet__bulkdup *d, carnet_txn *t, const model *m,
                      int step) {
  static const carnet_lookup_kind kinds[] = {CARNET_LOOKUP_PHONE, CARNET_LOOKUP_EMAIL,
                                             CARNET_LOOKUP_SIRET};
  static const int counts[] = {NPHONE, NEMAIL, NSIRET};
  for (int k = 0; k < 3; k++)
    for (int v = 0; v < counts[k]; v++) {
      char value[32];
      if (kinds[k] == CARNET_LOOKUP_PHONE)
        snprintf(value, sizeof value, step % 2 ? "+336123456%02d" : "0612.34.56.%02d", 10 + v);
      else if (kinds[k] == CARNET_LOOKUP_EMAIL && step % 2)
        snprintf(value, sizeof value, "E%d@Exemple.FR", v);
      else if (kinds[k] == CARNET_LOOKUP_EMAIL)
        snprintf(value, sizeof value, "%s", m->email[v]);
      else
        snprintf(value, sizeof value, "%s", m->siret[v]);
      carnet_id want, got;
      bool found = false, want_found = model_first(m, kinds[k], v, &want);
      OK(r, carnet__bulkdup_lookup(d, t, kinds[k], value, &got, &found));
      if (found != want_found || (found && memcmp(got.b, want.b, 16) != 0))
        fail_msg("step %d: %s %s: found %d, want %d (or another id)", step,
                 k == 0   ? "phone"
                 : k == 1 ? "e-mail"
                          : "SIRET",
                 value, found, want_found);
    }
}

/* One write, chosen by `x`, in `t`, mirrored in the model; returns the
 * customer written. */
static int write_one(carnet_replica *r, carnet_txn *t, model *m, uint64_t x) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  int live[NCUST_MAX], nlive = 0, who;
  assert_non_null(p);
  for (int i = 0; i < m->n; i++)
    if (!m->c[i].deleted) live[nlive++] = i;
  if (nlive == 0 || m->n < 6 || (x % 3 == 0 && m->n < NCUST_MAX)) {
    cust *c = &m->c[m->n];
    char name[32];
    memset(c, 0, sizeof *c);
    c->siret = -1;
    snprintf(name, sizeof name, "Client %d", m->n);
    OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
    int ph = (int)((x >> 8) % NPHONE), em = (int)((x >> 16) % NEMAIL);
    if ((x >> 24) % 4) {
      OK(r, carnet_patch_phone(p, "mobile", m->phone[ph]));
      c->phone[ph] = true;
    }
    if ((x >> 26) % 4) {
      OK(r, carnet_patch_set(p, CARNET_F_EMAILS, m->email[em]));
      c->email[em] = true;
    }
    if ((x >> 28) % 3 == 0) {
      c->siret = (int)((x >> 30) % NSIRET);
      OK(r, carnet_patch_set(p, CARNET_F_SIRET, m->siret[c->siret]));
    }
    OK(r, carnet_record_create(t, p, NULL, &c->id));
    who = m->n++;
  } else {
    who = live[(x >> 8) % (uint64_t)nlive];
    cust *c = &m->c[who];
    int v = (int)((x >> 16) % NPHONE), e = (int)((x >> 16) % NEMAIL);
    switch ((x >> 24) % 6) {
    case 0:
      OK(r, carnet_patch_phone(p, "mobile", m->phone[v]));
      c->phone[v] = true;
      break;
    case 1: /* every slot of the number goes */
      OK(r, carnet_patch_remove(p, CARNET_F_PHONES, m->phone[v]));
      c->phone[v] = false;
      break;
    case 2:
      OK(r, carnet_patch_set(p, CARNET_F_EMAILS, m->email[e]));
      c->email[e] = true;
      break;
    case 3:
      OK(r, carnet_patch_remove(p, CARNET_F_EMAILS, m->email[e]));
      c->email[e] = false;
      break;
    case 4:
      c->siret = (int)((x >> 32) % (NSIRET + 1)) - 1;
      OK(r, carnet_patch_set(p, CARNET_F_SIRET, c->siret < 0 ? NULL : m->siret[c->siret]));
      break;
    default:
      OK(r, carnet_patch_delete(p));
      c->deleted = true;
      break;
    }
    int rc = carnet_record_update(t, &c->id, p);
    if (rc) fail_msg("update: %s (%s)", carnet_error_name(rc), carnet_replica_errmsg(r));
  }
  carnet_patch_free(p);
  return who;
}

/* B1: groups of writes, each noted, other writers between groups, every
 * value looked up after every write and compared with the model; then the
 * plain lookup, caught up, agrees too. */
static void run(uint64_t seed, int groups, bool others) {
  rfx *f = rfx_new("bulkdup", 1, TENV_EPOCH_MS, seed);
  carnet_replica *r = f->r[0];
  carnet__bulkdup *d = NULL;
  carnet_txn *t = NULL;
  model *m = calloc(1, sizeof *m);
  uint64_t s = seed;
  int step = 0;
  assert_non_null(m);
  model_init(m);
  for (int i = 0; i < 4; i++) { /* customers there before the writer starts */
    OK(r, carnet_txn_begin(r, &t));
    write_one(r, t, m, rnd(&s));
    OK(r, carnet_txn_commit(t));
  }
  OK(r, carnet__bulkdup_new(r, &d));
  for (int g = 0; g < groups; g++) {
    OK(r, carnet_txn_begin(r, &t));
    carnet__bulkdup_watch(d, t);
    if (g % 2) check_all(r, d, t, m, step++); /* else a write comes first */
    for (int w = 0; w < 6; w++) {
      write_one(r, t, m, rnd(&s));
      check_all(r, d, t, m, step++);
    }
    carnet__bulkdup_commit(d, t);
    OK(r, carnet_txn_commit(t));
    if (others && rnd(&s) % 3 == 0) { /* another writer, between two groups */
      OK(r, carnet_txn_begin(r, &t));
      write_one(r, t, m, rnd(&s));
      OK(r, carnet_txn_commit(t));
    }
  }
  carnet__bulkdup_free(d);
  for (int v = 0; v < NPHONE; v++) {
    carnet_id ids[1], want;
    size_t n = 0;
    bool found = model_first(m, CARNET_LOOKUP_PHONE, v, &want);
    OK(r, carnet_record_lookup(r, CARNET_LOOKUP_PHONE, m->phone[v], ids, 1, &n));
    assert_int_equal(n > 0, found);
    if (found) assert_memory_equal(ids[0].b, want.b, 16);
  }
  free(m);
  rfx_free(f);
}

static void test_lookups_see_the_writers_rows(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 4; seed++)
    run(seed, 8, false);
}

static void test_lookups_see_other_writers(void **state) {
  (void)state;
  for (uint64_t seed = 11; seed <= 14; seed++)
    run(seed, 8, true);
}

/* B2: an empty opposition list says "not opposed" to anything; once a
 * person is erased, the next group reads it and finds them, as
 * carnet_erasure_check_value does. */
static void test_opposed(void **state) {
  (void)state;
  rfx *f = rfx_new("bulkdup-oppose", 1, TENV_EPOCH_MS, 3);
  carnet_replica *r = f->r[0];
  carnet__bulkdup *d = NULL;
  carnet_txn *t = NULL;
  carnet_id id, cert;
  carnet_erasure er;
  bool opposed = true, compacted;
  OK(r, carnet__bulkdup_new(r, &d));
  OK(r, carnet_txn_begin(r, &t));
  OK(r, carnet__bulkdup_opposed(d, t, CARNET_LOOKUP_EMAIL, "zoe@gone.fr", &opposed, &cert));
  assert_false(opposed);
  carnet__bulkdup_commit(d, t);
  OK(r, carnet_txn_commit(t));
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  OK(r, carnet_patch_set(p, CARNET_F_NAME, "Zoé Gone"));
  OK(r, carnet_patch_set(p, CARNET_F_EMAILS, "zoe@gone.fr"));
  OK(r, carnet_patch_phone(p, "mobile", "0611111111"));
  OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  OK(r, carnet_record_erase(r, &id, "asked to be forgotten", &er, &compacted));
  OK(r, carnet_txn_begin(r, &t));
  OK(r, carnet__bulkdup_opposed(d, t, CARNET_LOOKUP_PHONE, "+33 6 11 11 11 11", &opposed, &cert));
  assert_true(opposed);
  assert_memory_equal(cert.b, id.b, 16);
  OK(r, carnet__bulkdup_opposed(d, t, CARNET_LOOKUP_EMAIL, "other@gone.fr", &opposed, &cert));
  assert_false(opposed);
  assert_int_equal(
      carnet__bulkdup_opposed(d, t, CARNET_LOOKUP_EMAIL, "not an e-mail", &opposed, &cert),
      CARNET_EINVAL);
  carnet_txn_abort(t);
  carnet__bulkdup_free(d);
  rfx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lookups_see_the_writers_rows),
      cmocka_unit_test(test_lookups_see_other_writers),
      cmocka_unit_test(test_opposed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
