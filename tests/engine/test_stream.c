/* tests/engine/test_stream.c - what a stream sends back to the peer whose
 * changes were just received (engine/changes.c, the change-index entry of
 * engine/entity_io.h): nothing of an entity whose cells after the mark are
 * all the peer's own, and every entity a local or third-party cell changed.
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
#include "carnet/verify.h"
#include "engine/changes_int.h"
#include "support/testenv.h"

#define OK(r, expr)                                                                                \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    if (rc_ != 0) fail_msg("%s: %s (%s)", #expr, carnet_err_name(rc_), carnet_replica_errmsg(r));  \
  } while (0)

enum { A, B, C, NREP };

typedef struct fx {
  char *root, *dir[NREP];
  tenv env[NREP];
  carnet_replica *r[NREP];
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->root = tdir_new("stream");
  for (int i = 0; i < NREP; i++) {
    char err[256] = "", name[2] = {(char)('a' + i), 0};
    carnet_env ce;
    f->dir[i] = tdir_join(f->root, name);
    tenv_init(&f->env[i], TENV_EPOCH_MS, 11 + (uint64_t)i);
    tenv_fill(&f->env[i], &ce);
    if (carnet_replica_init(f->dir[i], &ce, &f->r[i], err, sizeof err)) fail_msg("init: %s", err);
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  for (int i = 0; i < NREP; i++) {
    carnet_replica_close(f->r[i]);
    free(f->dir[i]);
  }
  tdir_remove(f->root);
  free(f->root);
  free(f);
  return 0;
}

/* Streams what `from` has for `to` from `to`'s mark, as a session does
 * (leaving out `to`'s own cells), applies it, and returns the number of
 * entities sent. */
static uint64_t stream(carnet_replica *from, carnet_replica *to) {
  carnet_mark m;
  carnet_batch_info info;
  uint64_t n = 0;
  OK(to, carnet_watermark(to, carnet_replica_id(from), &m));
  do {
    carnet_buf b;
    OK(from, carnet__changes_since(from, &m, 0, carnet_replica_id(to), &b, &info));
    OK(to, carnet_changes_apply(to, b.base, b.len, NULL, NULL));
    free((void *)b.base);
    n += info.entities;
    m.after = info.upto;
  } while (info.more);
  return n;
}

static carnet_id add(carnet_replica *r, const char *name) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  OK(r, carnet_create1(r, p, &id));
  carnet_patch_free(p);
  return id;
}

static void set_city(carnet_replica *r, const carnet_id *id, const char *city) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_txn *t;
  OK(r, carnet_patch_set(p, CARNET_F_CITY, city));
  OK(r, carnet_txn_begin(r, &t));
  OK(r, carnet_update(t, id, p));
  OK(r, carnet_txn_commit(t));
  carnet_patch_free(p);
}

static void verified(carnet_replica *r) {
  carnet_verify_report rep;
  OK(r, carnet_verify(r, &rep));
  assert_int_equal(rep.bad_changes, 0);
  assert_int_equal(rep.bad_rows, 0);
}

static void test_stream_back_skips_the_peers_own(void **state) {
  fx *f = *state;
  carnet_replica *a = f->r[A], *b = f->r[B], *c = f->r[C];
  carnet_id x = add(a, "Jean Dupont"), y = add(a, "Marie Curie");
  (void)add(a, "Paul Martin");
  assert_int_equal(stream(a, b), 3);
  /* Back to A: all three are A's own cells. */
  assert_int_equal(stream(b, a), 0);
  verified(b);
  /* A local edit on B goes back; the untouched two do not. */
  set_city(b, &x, "Lyon");
  assert_int_equal(stream(b, a), 1);
  /* A third replica's edit of y reaches B: y now holds C's cell, which A
   * has not seen, so it goes to A too (and x does not go again). C sends
   * B all three: it cannot know that B holds A's cells. */
  assert_int_equal(stream(a, c), 3);
  set_city(c, &y, "Nantes");
  assert_int_equal(stream(c, b), 3);
  assert_int_equal(stream(b, a), 1);
  /* A's own edit coming back from B is not sent back to A. */
  set_city(a, &y, "Brest");
  assert_int_equal(stream(a, b), 1);
  assert_int_equal(stream(b, a), 0);
  /* B edits x, then receives A's edit of x before streaming back: x's
   * latest change is A's, but B's older cell is still news for A. */
  set_city(b, &x, "Dijon");
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_txn *t;
  OK(a, carnet_patch_set(p, CARNET_F_NAME, "Jean Dupont-Aubert"));
  OK(a, carnet_txn_begin(a, &t));
  OK(a, carnet_update(t, &x, p));
  OK(a, carnet_txn_commit(t));
  carnet_patch_free(p);
  assert_int_equal(stream(a, b), 1);
  assert_int_equal(stream(b, a), 1);
  verified(a);
  verified(b);
  uint8_t da[32], db[32];
  OK(a, carnet_state_digest(a, da));
  OK(b, carnet_state_digest(b, db));
  assert_memory_equal(da, db, 32);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_stream_back_skips_the_peers_own, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
