/* tests/engine/test_know.c - knowledge vectors (engine/model/know.c, and their
 * store side in engine/sync/changes.c): the vector operations and K4's bound;
 * a relay that leaves out what the receiver holds, whoever wrote it (no
 * echo); and K3: a vector is held only once the stream it came with is
 * complete, so a cut stream moves nothing.
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
#include "engine/model/know.h"
#include "engine/sync/changes_int.h"
#include "support/replicas.h"

#define OK ASSERT_OK

enum { A, B, C, NREP };

static int setup(void **state) {
  *state = rfx_new("know", NREP, TENV_EPOCH_MS, 13);
  return 0;
}

static int teardown(void **state) {
  rfx_free(*state);
  return 0;
}

static carnet__know *know_new(void) {
  carnet__know *k = calloc(1, sizeof *k);
  assert_non_null(k);
  return k;
}

static void test_vector_ops(void **state) {
  (void)state;
  carnet__know *k = know_new(), *m = know_new();
  assert_int_equal(carnet__know_get(k, 7), 0);
  assert_false(carnet__know_has(k, 7, 1));
  assert_false(carnet__know_has(NULL, 7, 1));
  assert_true(carnet__know_raise(k, 7, 100));
  assert_false(carnet__know_raise(k, 7, 90)); /* never lowers */
  assert_true(carnet__know_raise(k, 3, 50));
  assert_false(carnet__know_raise(k, 0, 50)); /* no origin 0, no stamp 0 */
  assert_false(carnet__know_raise(k, 9, 0));
  assert_int_equal(k->n, 2);
  assert_int_equal(k->e[0].origin, 3); /* sorted */
  assert_true(carnet__know_has(k, 7, 100));
  assert_false(carnet__know_has(k, 7, 101));
  /* Merge: the greater stamp per origin, `except` left out. */
  assert_true(carnet__know_raise(m, 7, 120));
  assert_true(carnet__know_raise(m, 5, 10));
  assert_true(carnet__know_raise(m, 3, 20));
  assert_true(carnet__know_merge(k, m, 5));
  assert_false(carnet__know_merge(k, m, 5));
  assert_int_equal(carnet__know_get(k, 7), 120);
  assert_int_equal(carnet__know_get(k, 3), 50);
  assert_int_equal(carnet__know_get(k, 5), 0);
  carnet__know_drop(k, 3);
  assert_int_equal(carnet__know_get(k, 3), 0);
  assert_int_equal(k->n, 1);
  /* K4: past CARNET__KNOW_ORIGINS_MAX origins a new one is left out. */
  for (uint64_t o = 1; o <= CARNET__KNOW_ORIGINS_MAX + 10; o++)
    (void)carnet__know_raise(m, o, o);
  assert_int_equal(m->n, CARNET__KNOW_ORIGINS_MAX);
  uint8_t *buf = malloc(CARNET__KNOW_BYTES_MAX);
  assert_non_null(buf);
  size_t n = carnet__know_encode(m, buf);
  assert_int_equal(n, CARNET__KNOW_BYTES_MAX);
  assert_int_equal(carnet__know_decode(buf, n, k, NULL), 0);
  assert_int_equal(k->n, m->n);
  assert_int_equal(carnet__know_decode(buf, n - 1, k, NULL), CARNET_EPROTO);
  free(buf);
  free(k);
  free(m);
}

static carnet_id add(carnet_replica *r, const char *name) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

/* What a session does: `to` declares its vector; `from` streams from
 * `to`'s mark leaving out what the vector covers, one entity per batch
 * (`cut_after` batches at most: 0 for all), `to` applies each batch and,
 * at the stream's end, holds `from`'s vector (K3). Returns the cells sent. */
static uint64_t stream(carnet_replica *from, carnet_replica *to, int cut_after) {
  carnet__know *theirs = know_new(), *snap = know_new();
  carnet_mark m;
  carnet_batch_info info;
  uint64_t seq, cells = 0;
  int batches = 0;
  OK(to, carnet__know_read(to, &seq, theirs));
  OK(to, carnet_changes_get_mark(to, carnet_replica_id(from), &m));
  do {
    carnet_buf b;
    OK(from, carnet__changes_since(from, &m, 64, carnet_replica_id(to), theirs, snap, &b, &info));
    carnet_txn *t;
    OK(to, carnet_txn_begin(to, &t));
    carnet_batch_info got;
    uint32_t applied;
    OK(to, carnet__changes_apply_in(t, b.base, b.len, carnet_replica_id(from), &got, &applied));
    bool absorbed = false;
    if (!info.more)
      OK(to, carnet__know_absorb_in(t, carnet_replica_id(from), info.upto, snap, &absorbed));
    OK(to, carnet_txn_commit(t));
    assert_true(info.more || absorbed);
    carnet_free((void *)b.base);
    cells += info.cells;
    m.after = info.upto;
    if (!info.more) m.base = info.upto;
  } while (info.more && ++batches != cut_after);
  free(theirs);
  free(snap);
  return cells;
}

static uint64_t stamp_of(carnet_replica *r, uint64_t origin) {
  carnet__know *k = know_new();
  uint64_t seq;
  OK(r, carnet__know_read(r, &seq, k));
  uint64_t h = carnet__know_get(k, origin);
  free(k);
  return h;
}

/* A -> B -> C, then C streams back to B and B to A: nothing comes back,
 * though B and C hold cells A wrote (the old filter left out only the
 * peer's own cells: C would have sent A's cells back to B). */
static void test_relay_no_echo(void **state) {
  rfx *f = *state;
  carnet_replica *a = f->r[A], *b = f->r[B], *c = f->r[C];
  for (int i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof name, "Relayed %d", i);
    add(a, name);
  }
  assert_true(stream(a, b, 0) > 0);
  assert_true(stamp_of(b, carnet_replica_id(a)) > 0); /* B holds A's stream */
  assert_true(stream(b, c, 0) > 0);
  assert_int_equal(stamp_of(c, carnet_replica_id(a)), stamp_of(b, carnet_replica_id(a)));
  assert_int_equal(stream(c, b, 0), 0); /* no echo */
  assert_int_equal(stream(b, a, 0), 0);
  /* A new change on C goes to B once, and from B to A (a third origin). */
  add(c, "From C");
  uint64_t n = stream(c, b, 0);
  assert_true(n > 0);
  assert_int_equal(stream(b, a, 0), n);
  assert_int_equal(stream(a, b, 0), 0);
}

/* K3: a stream cut before its end moves nothing, so the resumed stream
 * still sends what the receiver lacks. */
static void test_cut_stream_claims_nothing(void **state) {
  rfx *f = *state;
  carnet_replica *a = f->r[A], *b = f->r[B], *c = f->r[C];
  for (int i = 0; i < 4; i++) {
    char name[32];
    snprintf(name, sizeof name, "Cut %d", i);
    add(a, name);
  }
  assert_true(stream(a, b, 0) > 0);
  uint64_t all = stream(b, c, 0);
  (void)all;
  for (int i = 0; i < 4; i++) {
    char name[32];
    snprintf(name, sizeof name, "Later %d", i);
    add(a, name);
  }
  assert_true(stream(a, b, 0) > 0);
  uint64_t before = stamp_of(c, carnet_replica_id(a));
  uint64_t part = stream(b, c, 1); /* one batch, then the cut */
  assert_true(part > 0);
  assert_int_equal(stamp_of(c, carnet_replica_id(a)), before); /* nothing claimed */
  uint64_t rest = stream(b, c, 0);
  assert_true(rest > 0); /* the resumed stream still sends the rest */
  assert_true(stamp_of(c, carnet_replica_id(a)) > before);
  assert_int_equal(stream(c, b, 0), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vector_ops),
      cmocka_unit_test_setup_teardown(test_relay_no_echo, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cut_stream_claims_nothing, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
