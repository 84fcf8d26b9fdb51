/* tests/engine/test_stream.c - what a stream sends back to the peer whose
 * changes were just received (engine/sync/changes.c, the change-index entry of
 * engine/store/entity_io.h): nothing of an entity whose cells after the mark are
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
#include "engine/sync/changes_int.h"
#include "support/replicas.h"

#define OK ASSERT_OK

enum { A, B, C, NREP };

static int setup(void **state) {
  *state = rfx_new("stream", NREP, TENV_EPOCH_MS, 11);
  return 0;
}

static int teardown(void **state) {
  rfx_free(*state);
  return 0;
}

/* Streams what `from` has for `to` from `to`'s mark, as a session does
 * (leaving out `to`'s own cells), applies it, and returns the number of
 * entities sent. */
static uint64_t stream(carnet_replica *from, carnet_replica *to) {
  carnet_mark m;
  carnet_batch_info info;
  uint64_t n = 0;
  OK(to, carnet_changes_get_mark(to, carnet_replica_id(from), &m));
  do {
    carnet_buf b;
    OK(from, carnet__changes_since(from, &m, 0, carnet_replica_id(to), NULL, NULL, &b, &info));
    OK(to, carnet_changes_apply(to, b.base, b.len, NULL, NULL));
    carnet_free((void *)b.base);
    n += info.entities;
    m.after = info.upto;
  } while (info.more);
  return n;
}

static carnet_id add(carnet_replica *r, const char *name) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

static void set_field(carnet_replica *r, const carnet_id *id, carnet_field f, const char *v) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  OK(r, carnet_patch_set(p, f, v));
  OK(r, TX(r, carnet_record_update(t, id, p)));
  carnet_patch_free(p);
}

static void set_city(carnet_replica *r, const carnet_id *id, const char *city) {
  set_field(r, id, CARNET_F_CITY, city);
}

static void verified(carnet_replica *r) {
  carnet_verify_report rep;
  OK(r, carnet_replica_verify(r, &rep));
  assert_int_equal(rep.bad_changes, 0);
  assert_int_equal(rep.bad_rows, 0);
}

static void test_stream_back_skips_the_peers_own(void **state) {
  rfx *f = *state;
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
  set_field(a, &x, CARNET_F_NAME, "Jean Dupont-Aubert");
  assert_int_equal(stream(a, b), 1);
  assert_int_equal(stream(b, a), 1);
  verified(a);
  verified(b);
  rfx_assert_same_digest(a, b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_stream_back_skips_the_peers_own, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
