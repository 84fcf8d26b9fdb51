/* tests/engine/test_dupes.c - blind indexes and duplicate candidates
 * (engine/index.c, engine/dupes.c, carnet/dupes.h).
 *
 * Invariant E2 for the duplicate keys: after local writes and after a
 * received batch, an index lookup finds the customer by phone, e-mail and
 * SIRET; after the value is edited away or the customer deleted, it does
 * not. No normal form appears in clear in the index table. Detection finds
 * exact and fuzzy pairs with their reasons and leaves unrelated customers
 * alone.
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
#include "engine/entity_io.h"
#include "engine/replica_int.h"
#include "engine/store.h"
#include "support/testenv.h"

typedef struct fx {
  char *root, *dir[2];
  tenv env[2];
  carnet_replica *r[2];
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->root = tdir_new("dupes");
  assert_non_null(f->root);
  for (int i = 0; i < 2; i++) {
    carnet_env ce;
    char err[256] = "";
    f->dir[i] = tdir_join(f->root, i ? "b" : "a");
    tenv_init(&f->env[i], TENV_EPOCH_MS, 42 + (uint64_t)i);
    tenv_fill(&f->env[i], &ce);
    int rc = carnet_replica_init(f->dir[i], &ce, &f->r[i], err, sizeof err);
    if (rc) fail_msg("carnet_replica_init: %s: %s", carnet_err_name(rc), err);
  }
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  for (int i = 0; i < 2; i++) {
    carnet_replica_close(f->r[i]);
    free(f->dir[i]);
  }
  tdir_remove(f->root);
  free(f->root);
  free(f);
  return 0;
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

#define OK(r, expr)                                                                                \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    if (rc_ != 0) fail_msg("%s: %s (%s)", #expr, carnet_err_name(rc_), carnet_replica_errmsg(r));  \
  } while (0)

/* A customer from field=value pairs (phones through "phone"). */
static carnet_id add(carnet_replica *r, ...) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  va_list ap;
  va_start(ap, r);
  for (const char *k; (k = va_arg(ap, const char *)) != NULL;) {
    const char *v = va_arg(ap, const char *);
    if (strcmp(k, "phone") == 0) {
      assert_int_equal(carnet_patch_phone(p, "mobile", v), 0);
    } else {
      const carnet_field_info *fi = carnet_field_by_name(CARNET_KIND_CUSTOMER, k);
      assert_non_null(fi);
      assert_int_equal(carnet_patch_set(p, fi->field, v), 0);
    }
  }
  va_end(ap);
  carnet_id id;
  OK(r, carnet_create1(r, p, &id));
  carnet_patch_free(p);
  return id;
}

/* The number of customers a lookup finds, and whether `id` is one. */
static size_t found(carnet_replica *r, carnet_lookup_kind k, const char *v, const carnet_id *id,
                    bool *has) {
  carnet_id ids[8];
  size_t n = 0;
  OK(r, carnet_lookup(r, k, v, ids, 8, &n));
  *has = false;
  for (size_t i = 0; i < n && i < 8; i++)
    if (memcmp(ids[i].b, id->b, 16) == 0) *has = true;
  return n;
}

static void expect(carnet_replica *r, carnet_lookup_kind k, const char *v, const carnet_id *id,
                   bool want) {
  bool has;
  found(r, k, v, id, &has);
  if (has != want) fail_msg("lookup %d \"%s\": found=%d, want %d", (int)k, v, has, want);
}

static void test_lookup_after_local_writes(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id a = add(r, "name", "Boulangerie Dupont", "emails", "Contact@Dupont.fr", "phone",
                    "06 12 34 56 78", "siret", "732 829 320 00074", NULL);
  carnet_id b = add(r, "name", "Garage Martin", "phone", "01 42 68 53 00", NULL);
  expect(r, CARNET_LOOKUP_PHONE, "+33 (0)6 12-34-56-78", &a, true);
  expect(r, CARNET_LOOKUP_PHONE, "0033612345678", &a, true);
  expect(r, CARNET_LOOKUP_PHONE, "0033612345678", &b, false);
  expect(r, CARNET_LOOKUP_EMAIL, "  contact@DUPONT.fr ", &a, true);
  expect(r, CARNET_LOOKUP_SIRET, "73282932000074", &a, true);
  expect(r, CARNET_LOOKUP_SIREN, "732829320", &a, true);
  expect(r, CARNET_LOOKUP_PHONE, "01.42.68.53.00", &b, true);
  bool has;
  assert_int_equal(found(r, CARNET_LOOKUP_PHONE, "07 00 00 00 00", &a, &has), 0);
  assert_int_equal(carnet_lookup(r, CARNET_LOOKUP_PHONE, "ext 12", NULL, 0, &(size_t){0}),
                   CARNET_EINVAL);

  /* A second phone slot is indexed too; editing a phone away drops it. */
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_int_equal(carnet_patch_phone(p, "work", "04 72 10 30 30"), 0);
  OK(r, carnet_update1(r, &a, p));
  carnet_patch_free(p);
  expect(r, CARNET_LOOKUP_PHONE, "04 72 10 30 30", &a, true);
  expect(r, CARNET_LOOKUP_PHONE, "06 12 34 56 78", &a, true);
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_int_equal(carnet_patch_phone_replace(p, "mobile", "06 99 99 99 99"), 0);
  assert_int_equal(carnet_patch_remove(p, CARNET_F_EMAILS, "Contact@Dupont.fr"), 0);
  assert_int_equal(carnet_patch_set(p, CARNET_F_SIRET, ""), 0);
  OK(r, carnet_update1(r, &a, p));
  carnet_patch_free(p);
  expect(r, CARNET_LOOKUP_PHONE, "06 12 34 56 78", &a, false);
  expect(r, CARNET_LOOKUP_PHONE, "06 99 99 99 99", &a, true);
  expect(r, CARNET_LOOKUP_EMAIL, "contact@dupont.fr", &a, false);
  expect(r, CARNET_LOOKUP_SIRET, "73282932000074", &a, false);
  /* A deleted customer is no duplicate of anyone. */
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_int_equal(carnet_patch_delete(p), 0);
  OK(r, carnet_update1(r, &b, p));
  carnet_patch_free(p);
  expect(r, CARNET_LOOKUP_PHONE, "01 42 68 53 00", &b, false);
}

static void test_lookup_after_received_batch(void **state) {
  fx *f = *state;
  carnet_id a = add(f->r[1], "name", "Hélène Lefèvre", "emails", "helene@exemple.fr", "phone",
                    "0692 12 34 56", NULL);
  carnet_buf b = {0};
  carnet_batch_info info;
  OK(f->r[1], carnet_changes_since(f->r[1], NULL, 0, &b, &info));
  OK(f->r[0], carnet_changes_apply(f->r[0], b.base, b.len, NULL, NULL));
  free((void *)b.base);
  expect(f->r[0], CARNET_LOOKUP_PHONE, "+262 692 12 34 56", &a, true);
  expect(f->r[0], CARNET_LOOKUP_EMAIL, "HELENE@exemple.fr", &a, true);

  /* The phone edited away on the sender: the receiver's index follows. */
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_int_equal(carnet_patch_remove(p, CARNET_F_PHONES, "0692 12 34 56"), 0);
  OK(f->r[1], carnet_update1(f->r[1], &a, p));
  carnet_patch_free(p);
  carnet_mark m;
  OK(f->r[0], carnet_watermark(f->r[0], carnet_replica_id(f->r[1]), &m));
  OK(f->r[1], carnet_changes_since(f->r[1], &m, 0, &b, &info));
  OK(f->r[0], carnet_changes_apply(f->r[0], b.base, b.len, NULL, NULL));
  free((void *)b.base);
  expect(f->r[0], CARNET_LOOKUP_PHONE, "0692 12 34 56", &a, false);
  expect(f->r[0], CARNET_LOOKUP_EMAIL, "helene@exemple.fr", &a, true);
}

static bool has_bytes(const void *hay, size_t n, const char *needle) {
  size_t m = strlen(needle);
  for (size_t i = 0; i + m <= n; i++)
    if (memcmp((const char *)hay + i, needle, m) == 0) return true;
  return false;
}

/* No normal form in clear in the index: blind keys only. */
static void test_index_is_blind(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  add(r, "name", "Jean Dupont", "emails", "jean@dupont.fr", "phone", "06 12 34 56 78", "siret",
      "73282932000074", "postcode", "69003", NULL);
  carnet_txn *t;
  OK(r, carnet_txn_begin(r, &t));
  carnet__scur *cur;
  carnet_buf k, v;
  assert_int_equal(carnet__store_cursor(t->st, CARNET__T_INDEX, &cur), 0);
  size_t blind = 0;
  static const char *const clear[] = {"jean",        "dupont",    "+33612345678",
                                      "33612345678", "732829320", "69003"};
  for (int rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    const uint8_t *kb = k.base;
    if (kb[0] == 'r') continue;
    assert_int_equal(k.len, CARNET__INDEX_BLIND_KEY_LEN);
    blind++;
    for (size_t i = 0; i < sizeof clear / sizeof *clear; i++)
      assert_false(has_bytes(k.base, k.len, clear[i]));
  }
  carnet__store_cursor_close(cur);
  carnet_txn_abort(t);
  /* s, S, p, e, n (folded and sorted forms of "jean dupont" differ). */
  assert_int_equal(blind, 6);
}

static const carnet_dupe *pair_of(const carnet_dupe *d, size_t n, const carnet_id *x,
                                  const carnet_id *y) {
  for (size_t i = 0; i < n; i++)
    if ((!memcmp(d[i].a.b, x->b, 16) && !memcmp(d[i].b.b, y->b, 16)) ||
        (!memcmp(d[i].a.b, y->b, 16) && !memcmp(d[i].b.b, x->b, 16)))
      return &d[i];
  return NULL;
}

static void test_detection(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id a1 = add(r, "name", "Boulangerie Dupont SARL", "postcode", "69003", "phone",
                     "04 72 10 30 30", NULL);
  carnet_id a2 =
      add(r, "name", "boulangerie dupont", "postcode", "69003", "phone", "+33 4 72 10 30 30", NULL);
  carnet_id b1 = add(r, "name", "Jean Dupont", "postcode", "75011", NULL);
  carnet_id b2 = add(r, "name", "DUPONT Jean", "postcode", "75011", NULL); /* word order */
  carnet_id c1 = add(r, "name", "Hélène Lefèvre", "city", "Lyon", NULL);
  carnet_id c2 = add(r, "name", "Helene Lefevre", "city", "LYON", NULL); /* accents, no postcode */
  carnet_id d1 = add(r, "name", "Martin Conseil", "emails", "Contact@Martin.fr", NULL);
  carnet_id d2 = add(r, "name", "Martin Conseil SAS", "emails", "CONTACT@martin.fr", NULL);
  carnet_id e1 = add(r, "name", "Garage Durand", "siret", "73282932000074", NULL);
  carnet_id e2 = add(r, "name", "Durand Automobiles", "siret", "732 829 320 00074", NULL);
  /* Unrelated: same postcode, different name; same name, other town. */
  carnet_id u1 = add(r, "name", "Pharmacie Centrale", "postcode", "69003", NULL);
  carnet_id u2 = add(r, "name", "Jean Dupont", "postcode", "13001", NULL);
  /* Same phone, unrelated names (a shared landline): below the default. */
  carnet_id s1 = add(r, "name", "Paul Bernard", "phone", "05 56 12 34 56", NULL);
  carnet_id s2 = add(r, "name", "Zoé Garnier", "phone", "05 56 12 34 56", NULL);

  carnet_dupe *d = NULL;
  size_t n = 0;
  OK(r, carnet_dupes_find(r, CARNET_DUPE_SCORE_DEFAULT, &d, &n));
  const carnet_dupe *p;
  assert_non_null(p = pair_of(d, n, &a1, &a2));
  assert_true(p->reasons & CARNET_DUPE_PHONE);
  assert_true(p->reasons & CARNET_DUPE_NAME);
  assert_non_null(p = pair_of(d, n, &b1, &b2));
  assert_int_equal(p->reasons, CARNET_DUPE_NAME);
  assert_non_null(p = pair_of(d, n, &c1, &c2));
  assert_true(p->same_place);
  assert_non_null(p = pair_of(d, n, &d1, &d2));
  assert_true(p->reasons & CARNET_DUPE_EMAIL);
  assert_non_null(p = pair_of(d, n, &e1, &e2));
  assert_true(p->reasons & CARNET_DUPE_SIRET);
  assert_null(pair_of(d, n, &a1, &u1));
  assert_null(pair_of(d, n, &b1, &u2));
  assert_null(pair_of(d, n, &s1, &s2));
  assert_int_equal(n, 5);
  for (size_t i = 1; i < n; i++)
    assert_true(d[i - 1].score >= d[i].score);
  for (size_t i = 0; i < n; i++)
    assert_true(d[i].score >= 0.8 && d[i].score <= 1.0);
  free(d);

  /* A lower threshold shows the shared landline, with its reason. */
  OK(r, carnet_dupes_find(r, 0.5, &d, &n));
  assert_non_null(p = pair_of(d, n, &s1, &s2));
  assert_int_equal(p->reasons, CARNET_DUPE_PHONE);
  free(d);

  /* One customer's pairs. */
  OK(r, carnet_dupes_of(r, &b2, CARNET_DUPE_SCORE_DEFAULT, &d, &n));
  assert_int_equal(n, 1);
  assert_non_null(pair_of(d, n, &b1, &b2));
  free(d);
}

static void test_jaro_winkler(void **state) {
  (void)state;
  assert_true(carnet_jaro_winkler("martha", "marhta") > 0.96 &&
              carnet_jaro_winkler("martha", "marhta") < 0.962);
  assert_true(carnet_jaro_winkler("dixon", "dicksonx") > 0.81 &&
              carnet_jaro_winkler("dixon", "dicksonx") < 0.82);
  assert_true(carnet_jaro_winkler("abc", "abc") == 1.0);
  assert_true(carnet_jaro_winkler("abc", "xyz") == 0.0);
  assert_true(carnet_jaro_winkler("", "") == 1.0);
  assert_true(carnet_jaro_winkler("a", "") == 0.0);
}

/* Lookups inside a write transaction see its own index writes, which wait
 * in the transaction (engine/store.c) until a read of their prefix: a
 * phone added, then replaced, among many other waiting keys. */
static void test_lookup_inside_transaction(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_txn *t;
  carnet_id first, other, x;
  OK(r, carnet_txn_begin(r, &t));
  for (int i = 0; i < 300; i++) {
    char name[32], phone[32];
    snprintf(name, sizeof name, "Client %d", i);
    snprintf(phone, sizeof phone, "01 40 00 %02d %02d", i / 100, i % 100);
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    assert_int_equal(carnet_patch_set(p, CARNET_F_NAME, name), 0);
    assert_int_equal(carnet_patch_phone(p, "work", phone), 0);
    OK(r, carnet_create(t, p, NULL, &x));
    carnet_patch_free(p);
    if (i == 0) first = x;
    if (i == 150) {
      expect(r, CARNET_LOOKUP_PHONE, "01 40 00 01 50", &x, true);
      expect(r, CARNET_LOOKUP_PHONE, "01 40 00 00 00", &first, true);
      other = x;
    }
  }
  expect(r, CARNET_LOOKUP_PHONE, "01 40 00 02 99", &x, true);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_int_equal(carnet_patch_phone_replace(p, "work", "01 49 99 99 99"), 0);
  OK(r, carnet_update(t, &other, p));
  carnet_patch_free(p);
  expect(r, CARNET_LOOKUP_PHONE, "01 40 00 01 50", &other, false);
  expect(r, CARNET_LOOKUP_PHONE, "01 49 99 99 99", &other, true);
  OK(r, carnet_txn_commit(t));
  expect(r, CARNET_LOOKUP_PHONE, "01 40 00 01 50", &other, false);
  expect(r, CARNET_LOOKUP_PHONE, "01 49 99 99 99", &other, true);
  expect(r, CARNET_LOOKUP_PHONE, "01 40 00 02 99", &x, true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      FX_TEST(test_lookup_after_local_writes),
      FX_TEST(test_lookup_inside_transaction),
      FX_TEST(test_lookup_after_received_batch),
      FX_TEST(test_index_is_blind),
      FX_TEST(test_detection),
      cmocka_unit_test(test_jaro_winkler),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
