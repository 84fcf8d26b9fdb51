/* tests/engine/test_bulk.c - bulk writers (engine/sync/bulk.h, carnet_bulk in
 * carnet/replica.h): a group commits when it is due (here: its time), not at
 * every unit; a parked group is invisible to readers and is committed by the
 * next writer of the process before that writer begins (G2); the errors the
 * headers list (a step with no transaction, a malformed batch applied in a
 * caller's transaction, which then commits nothing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "engine/sync/bulk.h"
#include "support/replicas.h"

#define OK ASSERT_OK

static carnet_patch *customer(int i) {
  char name[32];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  snprintf(name, sizeof name, "Client %04d", i);
  assert_int_equal(carnet_patch_set(p, CARNET_F_NAME, name), 0);
  return p;
}

static uint64_t seq_of(carnet_replica *r) {
  uint64_t seq;
  OK(r, carnet_replica_get_seq(r, &seq));
  return seq;
}

static void test_bulk_commits_when_due(void **state) {
  (void)state;
  rfx *f = rfx_new("bulk", 1, TENV_EPOCH_MS, 7);
  carnet_replica *r = f->r[0];
  carnet_bulk *b;
  carnet_txn *t;
  bool committed = true;
  OK(r, carnet_bulk_new(r, &b));
  ASSERT_RC(r, carnet_bulk_step(b, 0, &committed), CARNET_EMISUSE);
  assert_false(committed);
  uint64_t seq0 = seq_of(r);
  for (int i = 0; i < 20; i++) { /* the clock stands still: one open group */
    carnet_patch *p = customer(i);
    OK(r, carnet_bulk_txn(b, &t));
    OK(r, carnet_record_create(t, p, NULL, NULL));
    OK(r, carnet_bulk_step(b, 100, &committed));
    assert_false(committed);
    carnet_patch_free(p);
  }
  carnet_patch *p = customer(20);
  OK(r, carnet_bulk_txn(b, &t));
  OK(r, carnet_record_create(t, p, NULL, NULL));
  carnet_patch_free(p);
  tenv_advance_ms(&f->env[0], CARNET_BULK_MS); /* now it is due */
  OK(r, carnet_bulk_step(b, 100, &committed));
  assert_true(committed);
  assert_true(seq_of(r) > seq0); /* durable, and read outside any transaction */
  uint64_t seq1 = seq_of(r);
  p = customer(21);
  OK(r, carnet_bulk_txn(b, &t));
  OK(r, carnet_record_create(t, p, NULL, NULL));
  carnet_patch_free(p);
  OK(r, carnet_bulk_step(b, 100, &committed));
  assert_false(committed);
  OK(r, carnet_bulk_end(b)); /* what is left is committed */
  assert_true(seq_of(r) > seq1);
  carnet_bulk_abort(NULL);
  rfx_free(f);
}

typedef struct owner {
  carnet__bulk b;
  int flushed;
} owner;

static void flush(void *ctx) {
  owner *o = ctx;
  o->flushed++;
  assert_int_equal(carnet__bulk_commit(&o->b), 0);
}

static void test_parked_group(void **state) {
  (void)state;
  rfx *f = rfx_new("parked", 1, TENV_EPOCH_MS, 8);
  carnet_replica *r = f->r[0];
  owner o = {0};
  carnet_txn *t;
  carnet_id id;
  carnet_record *rec;
  carnet__bulk_init(&o.b, r, 0, 0, 0, 0);
  OK(r, carnet__bulk_txn(&o.b, TENV_EPOCH_MS, &t));
  carnet_patch *p = customer(1);
  OK(r, carnet_record_create(t, p, NULL, &id));
  carnet_patch_free(p);
  carnet__bulk_park(&o.b, flush, &o);
  /* G2: readers see the last commit, not the parked group. */
  ASSERT_RC(r, carnet_record_get(r, &id, &rec), CARNET_ENOTFOUND);
  assert_int_equal(o.flushed, 0);
  /* The owner resumes it and adds to it. */
  OK(r, carnet__bulk_txn(&o.b, TENV_EPOCH_MS, &t));
  p = customer(2);
  OK(r, carnet_record_create(t, p, NULL, NULL));
  carnet_patch_free(p);
  carnet__bulk_park(&o.b, flush, &o);
  /* Another write of the process commits the group first. */
  carnet_id other;
  p = customer(3);
  OK(r, carnet_record_create_commit(r, p, &other));
  carnet_patch_free(p);
  assert_int_equal(o.flushed, 1);
  assert_false(carnet__bulk_open(&o.b));
  OK(r, carnet_record_get(r, &id, &rec));
  carnet_record_free(rec);
  OK(r, carnet_record_get(r, &other, &rec));
  carnet_record_free(rec);
  /* A parked group is committed by its owner when the handle closes. */
  OK(r, carnet__bulk_txn(&o.b, TENV_EPOCH_MS, &t));
  p = customer(4);
  OK(r, carnet_record_create(t, p, NULL, NULL));
  carnet_patch_free(p);
  carnet__bulk_park(&o.b, flush, &o);
  rfx_free(f);
  assert_int_equal(o.flushed, 2);
}

static void test_apply_txn_refuses_bad_batch(void **state) {
  (void)state;
  rfx *f = rfx_new("applytxn", 2, TENV_EPOCH_MS, 9);
  carnet_replica *a = f->r[0], *b = f->r[1];
  carnet_patch *p = customer(1);
  OK(a, carnet_record_create_commit(a, p, NULL));
  carnet_patch_free(p);
  carnet_mark m = {0, 0};
  carnet_buf batch;
  carnet_batch_info info;
  uint32_t applied = 0;
  OK(a, carnet_changes_encode(a, &m, 0, &batch, &info));
  carnet_txn *t;
  /* A good batch in the caller's transaction, durable at its commit. */
  OK(b, carnet_txn_begin(b, &t));
  OK(b, carnet_changes_apply_txn(t, batch.base, batch.len, &info, &applied));
  assert_int_equal(applied, info.cells);
  OK(b, carnet_txn_commit(t));
  /* A damaged one: refused, and the transaction commits nothing. */
  uint8_t *bad = malloc(batch.len);
  memcpy(bad, batch.base, batch.len);
  bad[batch.len / 2] ^= 0xff;
  bad[0] ^= 0xff;
  OK(b, carnet_txn_begin(b, &t));
  ASSERT_RC(b, carnet_changes_apply_txn(t, bad, batch.len, NULL, &applied), CARNET_EPROTO);
  assert_int_equal(applied, 0);
  ASSERT_RC(b, carnet_changes_apply_txn(t, batch.base, batch.len, NULL, NULL), CARNET_EPROTO);
  assert_int_equal(carnet_txn_commit(t), CARNET_EPROTO);
  free(bad);
  carnet_free((void *)batch.base);
  rfx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bulk_commits_when_due),
      cmocka_unit_test(test_parked_group),
      cmocka_unit_test(test_apply_txn_refuses_bad_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
