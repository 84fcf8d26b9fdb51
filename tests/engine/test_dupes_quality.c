/* tests/engine/test_dupes_quality.c - precision and recall of duplicate
 * detection on a small generated base (bench/dupes_gen.h), as a regression
 * guard: the figures of record come from bench/dupes_quality.c on 100,000
 * customers; here 2,000 customers and modest floors catch a scoring or
 * indexing change that breaks detection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/dupes_gen.h"
#include "carnet/carnet.h"
#include "support/testenv.h"

typedef struct idrec {
  carnet_id id;
  size_t idx;
} idrec;

static int idrec_cmp(const void *x, const void *y) {
  return memcmp(((const idrec *)x)->id.b, ((const idrec *)y)->id.b, 16);
}

static void patch_rec(carnet_patch *p, const dg_rec *d) {
  assert_int_equal(carnet_patch_set(p, CARNET_F_TYPE, d->company_kind ? "company" : "individual"),
                   0);
  if (d->name[0]) assert_int_equal(carnet_patch_set(p, CARNET_F_NAME, d->name), 0);
  if (d->company[0]) assert_int_equal(carnet_patch_set(p, CARNET_F_COMPANY, d->company), 0);
  assert_int_equal(carnet_patch_set(p, CARNET_F_POSTCODE, d->postcode), 0);
  assert_int_equal(carnet_patch_set(p, CARNET_F_CITY, d->city), 0);
  if (d->siret[0]) assert_int_equal(carnet_patch_set(p, CARNET_F_SIRET, d->siret), 0);
  for (int i = 0; i < d->nemail; i++)
    assert_int_equal(carnet_patch_set(p, CARNET_F_EMAILS, d->email[i]), 0);
  for (int i = 0; i < d->nphone; i++)
    assert_int_equal(carnet_patch_phone(p, d->phone_type[i], d->phone[i]), 0);
}

static void test_generator_is_sound(void **state) {
  (void)state;
  dg_base a, b;
  assert_int_equal(dg_generate(3000, 7, &a), 0);
  assert_int_equal(dg_generate(3000, 7, &b), 0);
  assert_int_equal(a.n, 3000);
  assert_true(a.true_pairs > 150 && a.true_pairs < 600);     /* ~10 % duplicated */
  assert_memory_equal(a.recs, b.recs, a.n * sizeof *a.recs); /* seeded */
  size_t kinds[DG_KINDS] = {0};
  for (size_t i = 0; i < a.n; i++) {
    kinds[a.recs[i].kind]++;
    if (a.recs[i].siret[0]) {
      char digits[15];
      size_t k = 0;
      for (const char *p = a.recs[i].siret; *p && k < 14; p++)
        if (*p != ' ') digits[k++] = *p;
      digits[k] = '\0';
      assert_int_equal(k, 14);
      assert_true(dg_luhn_ok(digits));
      assert_true(dg_luhn_ok((char[10]){digits[0], digits[1], digits[2], digits[3], digits[4],
                                        digits[5], digits[6], digits[7], digits[8], 0}));
    }
  }
  for (int k = 0; k < DG_KINDS; k++)
    if (kinds[k] == 0) fail_msg("no record of kind %d", k); /* hard negatives too */
  dg_free(&a);
  dg_free(&b);
}

static void test_precision_recall_small_base(void **state) {
  (void)state;
  dg_base base;
  assert_int_equal(dg_generate(2000, 11, &base), 0);
  char *dir = tdir_new("dupes-quality");
  assert_non_null(dir);
  char *rdir = tdir_join(dir, "r");
  tenv env;
  carnet_env ce;
  char err[256] = "";
  carnet_replica *r = NULL;
  tenv_init(&env, TENV_EPOCH_MS, 5);
  tenv_fill(&env, &ce);
  int rc = carnet_replica_init(rdir, &ce, &r, err, sizeof err);
  if (rc) fail_msg("carnet_replica_init: %s", err);

  idrec *ids = calloc(base.n, sizeof *ids);
  assert_non_null(ids);
  for (size_t i = 0; i < base.n;) {
    carnet_txn *t;
    assert_int_equal(carnet_txn_begin(r, &t), 0);
    for (size_t k = 0; k < 1000 && i < base.n; k++, i++) {
      carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
      patch_rec(p, &base.recs[i]);
      rc = carnet_record_create(t, p, NULL, &ids[i].id);
      if (rc) fail_msg("carnet_record_create #%zu: %s", i, carnet_replica_errmsg(r));
      carnet_patch_free(p);
      ids[i].idx = i;
    }
    assert_int_equal(carnet_txn_commit(t), 0);
  }
  qsort(ids, base.n, sizeof *ids, idrec_cmp);

  carnet_dupe *d = NULL;
  size_t nd = 0, tp = 0;
  assert_int_equal(carnet_dupes_find(r, CARNET_DUPE_SCORE_DEFAULT, &d, &nd), 0);
  for (size_t i = 0; i < nd; i++) {
    idrec ka = {.id = d[i].a}, kb = {.id = d[i].b};
    const idrec *x = bsearch(&ka, ids, base.n, sizeof *ids, idrec_cmp);
    const idrec *y = bsearch(&kb, ids, base.n, sizeof *ids, idrec_cmp);
    assert_non_null(x);
    assert_non_null(y);
    if (base.recs[x->idx].group == base.recs[y->idx].group) tp++;
  }
  double precision = nd ? (double)tp / (double)nd : 1.0;
  double recall = (double)tp / (double)base.true_pairs;
  printf("dupes quality n=%zu: precision %.3f recall %.3f (%zu reported, %zu true pairs)\n", base.n,
         precision, recall, nd, base.true_pairs);
  /* The targets of issue 18 (at 100,000 with homonyms: 0.98 and 0.95,
   * bench/RESULTS.md), here on the small base. */
  assert_true(precision >= 0.98);
  assert_true(recall >= 0.95);

  carnet_free(d);
  free(ids);
  carnet_replica_close(r);
  tdir_remove(dir);
  free(rdir);
  free(dir);
  dg_free(&base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generator_is_sound),
      cmocka_unit_test(test_precision_recall_small_base),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
