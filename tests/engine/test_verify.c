/* tests/engine/test_verify.c - carnet_replica_verify_progress (carnet/verify.h):
 * the same report as carnet_replica_verify, and progress calls that count the rows
 * read towards a total known from the start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "carnet/verify.h"
#include "support/replicas.h"

#define OK ASSERT_OK
#define N 10000u

typedef struct seen {
  unsigned calls;
  uint64_t last, total;
  bool increasing, same_total;
} seen;

static void on_progress(void *ctx, uint64_t done, uint64_t total) {
  seen *s = ctx;
  if (s->calls == 0) s->total = total;
  s->increasing = s->increasing && done > s->last && done <= total;
  s->same_total = s->same_total && total == s->total;
  s->last = done;
  s->calls++;
}

static void test_progress_counts_towards_the_total(void **state) {
  (void)state;
  rfx *f = rfx_new("verify", 1, TENV_EPOCH_MS, 5);
  carnet_replica *r = f->r[0];
  carnet_txn *t;
  char name[64];
  OK(r, carnet_txn_begin(r, &t));
  for (unsigned i = 0; i < N; i++) {
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    snprintf(name, sizeof name, "Client %05u", i);
    OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
    OK(r, carnet_record_create(t, p, NULL, NULL));
    carnet_patch_free(p);
  }
  OK(r, carnet_txn_commit(t));

  carnet_verify_report plain, with;
  seen s = {.increasing = true, .same_total = true};
  OK(r, carnet_replica_verify(r, &plain));
  OK(r, carnet_replica_verify_progress(r, on_progress, &s, &with));
  assert_memory_equal(&plain, &with, sizeof plain);
  assert_int_equal(with.entities, N);
  assert_int_equal(with.changes, N);
  assert_int_equal(with.bad_rows + with.bad_changes + with.missing_keys, 0);
  /* Entities, then change-index entries, 4,096 rows apart. */
  assert_int_equal(s.total, 2 * N);
  assert_true(s.same_total);
  assert_true(s.increasing);
  assert_int_equal(s.calls, 2 * N / 4096);
  /* No callback: nothing called, the same report. */
  OK(r, carnet_replica_verify_progress(r, NULL, NULL, &with));
  assert_memory_equal(&plain, &with, sizeof plain);
  rfx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_progress_counts_towards_the_total),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
