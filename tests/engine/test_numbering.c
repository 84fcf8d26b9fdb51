/* tests/engine/test_numbering.c - offline-safe document numbering
 * (engine/crm/numbering.h, carnet_doc_validate).
 *
 * The property the law asks for, checked the way it would be audited: take
 * every number of every document on every replica after a full sync; no
 * number appears twice, and in each series the counters are exactly 1..n
 * (no gap), in the order of the validations of its replica
 * (chronological). Replicas validate concurrently while offline, across a
 * month boundary, with transactions that are aborted or whose commit fails
 * (those consume no number).
 *
 * Usage: engine_test_numbering [--seed=N].
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "engine/store/replica_int.h"
#include "support/replicas.h"

#define NREP 3

typedef rfx fx;

static uint64_t g_seed = 1;

static int fx_setup(void **state) {
  /* 2026-11-30 23:00 UTC: the run crosses into December. */
  *state = rfx_new("numbering", NREP, 1796079600000ull, g_seed * 31);
  return 0;
}

static int fx_teardown(void **state) {
  rfx_free(*state);
  return 0;
}

static void sync_to(carnet_replica *from, carnet_replica *to) {
  rfx_sync(from, to, 4096);
}

static carnet_id new_draft(carnet_replica *r, const carnet_id *cu, const char *type) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  carnet_id id;
  carnet_id_format(cu, hex);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_DOC_TYPE, type));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  carnet_txn *t;
  carnet_line_input in = {.set = CARNET_LINE_LABEL | CARNET_LINE_QTY | CARNET_LINE_PRICE,
                          .label = "Prestation",
                          .qty = 1000,
                          .unit_price = 12000};
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  ASSERT_OK(r, carnet_doc_line_add(t, &id, &in, NULL, NULL));
  ASSERT_OK(r, carnet_txn_commit(t));
  return id;
}

/* --- Rules ------------------------------------------------------------------- */

static void test_rules(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  char rule[128];
  ASSERT_OK(r, carnet_replica_get_numbering(r, CARNET_DOC_INVOICE, rule, sizeof rule));
  assert_string_equal(rule, "F{yy}{mm}-{tag}-{n:4}");
  ASSERT_OK(r, carnet_replica_get_numbering(r, CARNET_DOC_CREDIT_NOTE, rule, sizeof rule));
  assert_string_equal(rule, "AV{yy}{mm}-{tag}-{n:4}");
  static const char *const bad[] = {"F{yy}-{n:4}",         /* no tag */
                                    "F-{tag}",             /* no counter */
                                    "F{week}-{tag}-{n:4}", /* unknown placeholder */
                                    "F {tag}-{n:4}",       /* a space */
                                    "F{tag}-{n:13}",       /* too wide */
                                    "F{tag-{n:4}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = carnet_replica_set_numbering(r, CARNET_DOC_INVOICE, bad[i]);
    if (rc != CARNET_EINVAL) fail_msg("rule '%s' accepted", bad[i]);
  }
  ASSERT_OK(r, carnet_replica_set_numbering(r, CARNET_DOC_INVOICE, "FA{yyyy}/{tag}/{n:6}"));
  ASSERT_OK(r, carnet_replica_get_numbering(r, CARNET_DOC_INVOICE, rule, sizeof rule));
  assert_string_equal(rule, "FA{yyyy}/{tag}/{n:6}");
  carnet_id cu;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, "Client"));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &cu));
  carnet_patch_free(p);
  carnet_id inv = new_draft(r, &cu, "invoice");
  char num[CARNET_NUMBER_MAX], want[CARNET_NUMBER_MAX];
  carnet_txn *t;
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  ASSERT_OK(r, carnet_doc_validate(t, &inv, num, sizeof num));
  ASSERT_OK(r, carnet_txn_commit(t));
  snprintf(want, sizeof want, "FA2026/%s/000001", carnet_replica_tag(r));
  assert_string_equal(num, want);
  /* Back to the default. */
  ASSERT_OK(r, carnet_replica_set_numbering(r, CARNET_DOC_INVOICE, NULL));
  ASSERT_OK(r, carnet_replica_get_numbering(r, CARNET_DOC_INVOICE, rule, sizeof rule));
  assert_string_equal(rule, "F{yy}{mm}-{tag}-{n:4}");
}

/* An aborted transaction and a failed commit consume no number. */
static void test_failed_transactions_consume_nothing(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id cu;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, "Client"));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &cu));
  carnet_patch_free(p);
  carnet_id a = new_draft(r, &cu, "invoice"), b = new_draft(r, &cu, "invoice");
  char num[CARNET_NUMBER_MAX], n1[CARNET_NUMBER_MAX];
  carnet_txn *t;
  /* Aborted. */
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  ASSERT_OK(r, carnet_doc_validate(t, &a, num, sizeof num));
  carnet_txn_abort(t);
  /* A later write of the same transaction fails: the whole of it fails. */
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  ASSERT_OK(r, carnet_doc_validate(t, &a, num, sizeof num));
  carnet_line_input bad = {.set = CARNET_LINE_VAT, .vat_bp = 99999};
  assert_int_equal(carnet_doc_line_add(t, &b, &bad, NULL, NULL), CARNET_EINVAL);
  assert_int_not_equal(carnet_txn_commit(t), 0);
  /* The commit itself fails. */
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  ASSERT_OK(r, carnet_doc_validate(t, &a, num, sizeof num));
  carnet__store_fail_commit_after(r->store, 1);
  assert_int_equal(carnet_txn_commit(t), CARNET_EIO);
  /* Now for real: still number 1, then 2. */
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  ASSERT_OK(r, carnet_doc_validate(t, &a, n1, sizeof n1));
  ASSERT_OK(r, carnet_txn_commit(t));
  assert_string_equal(n1 + strlen(n1) - 5, "-0001");
  assert_string_equal(n1, num);
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  ASSERT_OK(r, carnet_doc_validate(t, &b, num, sizeof num));
  ASSERT_OK(r, carnet_txn_commit(t));
  assert_string_equal(num + strlen(num) - 5, "-0002");
}

/* --- The property ------------------------------------------------------------------ */

typedef struct issued {
  char number[CARNET_NUMBER_MAX];
  int replica;
  int order; /* validation order on its replica */
} issued;

typedef struct collect {
  issued *v;
  size_t n, cap;
} collect;

static int collect_cb(const carnet_record *rec, void *data) {
  collect *c = data;
  const char *const *nums;
  size_t n = carnet_record_elems(rec, CARNET_F_NUMBER, &nums);
  for (size_t i = 0; i < n; i++) {
    if (c->n == c->cap) {
      c->cap = c->cap ? c->cap * 2 : 64;
      c->v = realloc(c->v, c->cap * sizeof *c->v);
      assert_non_null(c->v);
    }
    memset(&c->v[c->n], 0, sizeof c->v[0]);
    snprintf(c->v[c->n].number, CARNET_NUMBER_MAX, "%s", nums[i]);
    c->n++;
  }
  return 0;
}

static int num_cmp(const void *a, const void *b) {
  return strcmp(((const issued *)a)->number, ((const issued *)b)->number);
}

/* "F2612-ABCD-0042" -> series "F2612-ABCD-", counter 42. */
static void split(const char *num, char *series, unsigned long *n) {
  const char *dash = strrchr(num, '-');
  assert_non_null(dash);
  snprintf(series, CARNET_NUMBER_MAX, "%.*s", (int)(dash - num + 1), num);
  *n = strtoul(dash + 1, NULL, 10);
}

static void test_concurrent_validation(void **state) {
  fx *f = *state;
  trng g;
  trng_seed(&g, g_seed);
  carnet_id cu;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(f->r[0], carnet_patch_set(p, CARNET_F_NAME, "Client commun"));
  ASSERT_OK(f->r[0], carnet_record_create_commit(f->r[0], p, &cu));
  carnet_patch_free(p);
  for (int i = 1; i < NREP; i++)
    sync_to(f->r[0], f->r[i]);
  /* What each replica validated, in order. */
  issued log[600];
  int nlog = 0, order[NREP] = {0}, aborted = 0;
  carnet_id drafts[NREP][200];
  int ndrafts[NREP] = {0};
  static const char *const types[] = {"invoice", "invoice", "invoice", "credit_note", "quote"};
  for (int step = 0; step < 400; step++) {
    int ri = (int)trng_below(&g, NREP);
    carnet_replica *r = f->r[ri];
    for (int i = 0; i < NREP; i++)
      tenv_advance_ms(&f->env[i], trng_below(&g, 30000)); /* about 2 h in all */
    unsigned dice = trng_below(&g, 100);
    if (dice < 45 && ndrafts[ri] < 200) {
      drafts[ri][ndrafts[ri]++] = new_draft(r, &cu, types[trng_below(&g, 5)]);
    } else if (dice < 90 && ndrafts[ri] > 0) {
      /* Validate one of this replica's drafts (some of them synced from
       * elsewhere, so two replicas may validate the same draft). */
      int k = (int)trng_below(&g, (uint32_t)ndrafts[ri]);
      carnet_id d = drafts[ri][k];
      drafts[ri][k] = drafts[ri][--ndrafts[ri]];
      carnet_txn *t;
      char num[CARNET_NUMBER_MAX];
      ASSERT_OK(r, carnet_txn_begin(r, &t));
      int rc = carnet_doc_validate(t, &d, num, sizeof num);
      if (rc == CARNET_EEXIST) { /* validated elsewhere and synced here */
        carnet_txn_abort(t);
        continue;
      }
      ASSERT_OK(r, rc);
      if (trng_chance(&g, 10)) {
        carnet_txn_abort(t);
        aborted++;
        drafts[ri][ndrafts[ri]++] = d;
        continue;
      }
      ASSERT_OK(r, carnet_txn_commit(t));
      assert_true(nlog < 600);
      snprintf(log[nlog].number, CARNET_NUMBER_MAX, "%s", num);
      log[nlog].replica = ri;
      log[nlog].order = order[ri]++;
      nlog++;
    } else {
      int to = (int)trng_below(&g, NREP);
      if (to != ri) {
        sync_to(r, f->r[to]);
        /* The receiver can validate the drafts it got too. */
        if (trng_chance(&g, 30) && ndrafts[ri] > 0 && ndrafts[to] < 200)
          drafts[to][ndrafts[to]++] = drafts[ri][trng_below(&g, (uint32_t)ndrafts[ri])];
      }
    }
  }
  for (int round = 0; round < 2; round++)
    for (int a = 0; a < NREP; a++)
      for (int b = 0; b < NREP; b++)
        if (a != b) sync_to(f->r[a], f->r[b]);
  /* Every replica holds every number, each exactly once. */
  for (int i = 0; i < NREP; i++) {
    collect c = {0};
    ASSERT_OK(f->r[i], carnet_record_list(f->r[i], CARNET_KIND_DOCUMENT, NULL, collect_cb, &c));
    assert_int_equal(c.n, nlog);
    if (c.n > 1) qsort(c.v, c.n, sizeof *c.v, num_cmp);
    for (size_t k = 1; k < c.n; k++)
      if (strcmp(c.v[k - 1].number, c.v[k].number) == 0)
        fail_msg("[seed %" PRIu64 "] number %s given twice", g_seed, c.v[k].number);
    free(c.v);
  }
  /* Per series: 1..n without gaps, in the order its replica validated. */
  int series_seen = 0;
  for (int k = 0; k < nlog; k++) {
    char series[CARNET_NUMBER_MAX];
    unsigned long n;
    split(log[k].number, series, &n);
    unsigned long expect = 1;
    int first = -1;
    for (int j = 0; j < nlog; j++) {
      char sj[CARNET_NUMBER_MAX];
      unsigned long nj;
      split(log[j].number, sj, &nj);
      if (strcmp(sj, series) != 0) continue;
      if (first < 0) first = j;
      assert_int_equal(log[j].replica, log[k].replica); /* a series belongs to one replica */
      if (nj != expect)
        fail_msg("[seed %" PRIu64 "] series %s: number %lu where %lu was due (gap or disorder)",
                 g_seed, series, nj, expect);
      expect++;
    }
    if (first == k) series_seen++;
  }
  /* Two months, three types, three replicas: several series at least. */
  assert_true(series_seen >= 6);
  assert_true(nlog > 50);
  print_message("numbering: seed %" PRIu64 ": %d numbers in %d series, %d validations aborted\n",
                g_seed, nlog, series_seen, aborted);
}

int main(int argc, char **argv) {
  setenv("TZ", "UTC", 1);
  tzset();
  targ_seed(argc, argv, &g_seed);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rules, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_failed_transactions_consume_nothing, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_validation, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
