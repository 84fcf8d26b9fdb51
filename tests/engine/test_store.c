/* tests/engine/test_store.c - the store's waiting index writes
 * (engine/store/store.c, pend_flush): a transaction with more writes than
 * the radix sort's threshold (a catch-up's) leaves the index table with
 * exactly the keys a sequential model of its puts and deletes says, in
 * LMDB's order, into an empty table (appended) and into a full one. The
 * keys include long runs sharing their first 8 bytes, keys of every
 * length from 12 to 20 bytes, and keys whose first 8 bytes are zero (whose
 * head the store maps to 1, like a key starting 00..01). A large batch
 * into a table holding fewer keys writes it again, appended: the same
 * keys, an entry's value kept, full leaves. Writes sorted ahead
 * (carnet__store_pending_sort), then written to again, all land, and so
 * do writes split in two halves sorted apart (the catch-up's). The
 * meta values a transaction keeps once read follow its writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "engine/store/meta.h"
#include "engine/store/store.h"
#include "support/testenv.h"

#define NKEYS 6000

typedef struct key {
  uint8_t b[20];
  size_t len;
} key;

typedef struct fx {
  char *root;
  carnet__store *s;
  key keys[NKEYS];
  bool live[NKEYS];
  trng g;
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->root = tdir_new("store");
  assert_non_null(f->root);
  char why[256] = "";
  int rc = carnet__store_open(f->root, CARNET__STORE_CREATE, &f->s, why, sizeof why);
  if (rc) fail_msg("carnet__store_open: %s: %s", carnet_error_name(rc), why);
  trng_seed(&f->g, 17);
  for (uint32_t i = 0; i < NKEYS; i++) {
    key *k = &f->keys[i];
    k->len = 12 + trng_below(&f->g, 9);
    trng_bytes(&f->g, k->b, sizeof k->b);
    if (i % 4 == 0) memcpy(k->b, "sharedpf", 8);
    if (i % 4 == 1) memset(k->b, 0, 8);
    if (i % 8 == 3) memcpy(k->b, "\0\0\0\0\0\0\0\1", 8);
    k->b[8] = (uint8_t)(i >> 24), k->b[9] = (uint8_t)(i >> 16);
    k->b[10] = (uint8_t)(i >> 8), k->b[11] = (uint8_t)i;
  }
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  if (!f) return 0;
  carnet__store_close(f->s);
  tdir_remove(f->root);
  free(f->root);
  free(f);
  return 0;
}

static int key_cmp(const void *a, const void *b) {
  const key *x = *(const key *const *)a, *y = *(const key *const *)b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->b, y->b, n);
  if (c) return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

/* How a round's waiting writes are sorted before its commit. */
typedef enum ahead { AHEAD_NONE, AHEAD_SORT, AHEAD_HALVES } ahead;

/* One write transaction of `nops` random puts and deletes (`del_pct` of
 * them deletes), the model updated in the same order; with AHEAD_SORT,
 * the waiting writes are sorted ahead (carnet__store_pending_sort) halfway
 * and before the commit: a write after a sort is not lost; with
 * AHEAD_HALVES, split in two halves sorted apart before the commit, as the
 * index catch-up sorts them on two threads. */
static void round_sorted(fx *f, size_t nops, unsigned del_pct, ahead how) {
  bool sort_ahead = how == AHEAD_SORT;
  carnet__stxn *t = NULL;
  assert_int_equal(carnet__store_begin(f->s, true, &t), 0);
  for (size_t i = 0; i < nops; i++) {
    uint32_t k = trng_below(&f->g, NKEYS);
    if (sort_ahead && i == nops / 2) carnet__store_pending_sort(t);
    if (trng_chance(&f->g, del_pct)) {
      assert_int_equal(carnet__store_del(t, CARNET__T_INDEX, f->keys[k].b, f->keys[k].len), 0);
      f->live[k] = false;
    } else {
      assert_int_equal(
          carnet__store_put(t, CARNET__T_INDEX, f->keys[k].b, f->keys[k].len, "", 0, 0), 0);
      f->live[k] = true;
    }
  }
  assert_true(carnet__store_pending(t) >= nops);
  if (sort_ahead) carnet__store_pending_sort(t);
  if (how == AHEAD_HALVES) {
    carnet__store_pending_split(t);
    carnet__store_pending_sort_half(t, 1);
    carnet__store_pending_sort_half(t, 0);
    carnet__store_pending_sorted(t);
  }
  assert_int_equal(carnet__store_commit(t), 0);
}

static void round_of(fx *f, size_t nops, unsigned del_pct) {
  round_sorted(f, nops, del_pct, AHEAD_NONE);
}

/* The index table holds exactly the live keys, in order. */
static void check_table(fx *f) {
  static const key *want[NKEYS];
  size_t n = 0;
  for (size_t i = 0; i < NKEYS; i++)
    if (f->live[i]) want[n++] = &f->keys[i];
  qsort(want, n, sizeof want[0], key_cmp);
  carnet__stxn *t = NULL;
  carnet__scur *c = NULL;
  carnet_buf k;
  assert_int_equal(carnet__store_begin(f->s, false, &t), 0);
  assert_int_equal(carnet__store_cursor(t, CARNET__T_INDEX, &c), 0);
  size_t got = 0;
  int rc;
  for (rc = carnet__store_seek(c, NULL, 0, &k, NULL); rc == 0;
       rc = carnet__store_next(c, &k, NULL)) {
    assert_true(got < n);
    assert_int_equal(k.len, want[got]->len);
    assert_memory_equal(k.base, want[got]->b, k.len);
    got++;
  }
  assert_int_equal(rc, CARNET_ENOTFOUND);
  assert_int_equal(got, n);
  carnet__store_cursor_close(c);
  carnet__store_abort(t);
}

static void test_pending_large_batches(void **state) {
  fx *f = *state;
  round_of(f, 3 * NKEYS, 25); /* into the empty table: appended */
  check_table(f);
  round_of(f, 2 * NKEYS, 50); /* into a full one */
  check_table(f);
  round_of(f, 500, 50); /* below the threshold: qsort */
  check_table(f);
  round_sorted(f, 2 * NKEYS, 30, AHEAD_SORT); /* sorted by the caller first */
  check_table(f);
  round_sorted(f, 3 * NKEYS, 30, AHEAD_HALVES); /* in two halves */
  check_table(f);
}

/* A large batch of writes into a table holding fewer keys (a first
 * catch-up among the reference codes) writes the table again, appended:
 * the same keys as one by one, an entry already there keeps its value,
 * and every leaf is full (inserted between existing keys, sorted keys
 * left each leaf they filled half empty). */
static void test_rewrite_appends(void **state) {
  fx *f = *state;
  for (uint32_t i = 0; i < NKEYS; i++) { /* distinct heads: LMDB's order is the sort's */
    key *k = &f->keys[i];
    k->len = 20;
    trng_bytes(&f->g, k->b, sizeof k->b);
    k->b[0] = 'k';
    k->b[8] = (uint8_t)(i >> 24), k->b[9] = (uint8_t)(i >> 16);
    k->b[10] = (uint8_t)(i >> 8), k->b[11] = (uint8_t)i;
  }
  round_of(f, 1000, 0); /* ~920 keys spread over the key space */
  static const uint8_t special[21] = "k-with-a-value.......";
  carnet__stxn *t = NULL;
  carnet_buf v;
  assert_int_equal(carnet__store_begin(f->s, true, &t), 0);
  assert_int_equal(carnet__store_put(t, CARNET__T_INDEX, special, sizeof special, "val", 3, 0), 0);
  assert_int_equal(carnet__store_commit(t), 0);
  round_of(f, 3 * NKEYS, 10); /* 18,000 writes into ~920 keys: written again */
  assert_int_equal(carnet__store_begin(f->s, false, &t), 0);
  assert_int_equal(carnet__store_get(t, CARNET__T_INDEX, special, sizeof special, &v), 0);
  assert_int_equal(v.len, 3);
  assert_memory_equal(v.base, "val", 3);
  size_t leaves = carnet__store_leaves(t, CARNET__T_INDEX), n = 1;
  carnet__store_abort(t);
  for (size_t i = 0; i < NKEYS; i++)
    n += f->live[i];
  /* A node: 8 bytes of header, the key, a 2-byte pointer; 4,080 bytes a leaf. */
  size_t full = (n * (8 + 20 + 2) + 4079) / 4080;
  if (leaves > full + full / 4 + 1)
    fail_msg("%zu leaves for %zu keys (%zu when full)", leaves, n, full);
  assert_int_equal(carnet__store_begin(f->s, true, &t), 0);
  assert_int_equal(carnet__store_del(t, CARNET__T_INDEX, special, sizeof special), 0);
  assert_int_equal(carnet__store_commit(t), 0);
  check_table(f);
}

/* Room reserved ahead for the waiting writes (an index catch-up's): the
 * writes past it, and the others, all land; a read transaction has none. */
static void test_pending_reserve(void **state) {
  fx *f = *state;
  carnet__stxn *t = NULL;
  assert_int_equal(carnet__store_begin(f->s, false, &t), 0);
  assert_int_equal(carnet__store_pending_reserve(t, 1000, 33000), CARNET_EMISUSE);
  carnet__store_abort(t);
  assert_int_equal(carnet__store_begin(f->s, true, &t), 0);
  assert_int_equal(carnet__store_pending_reserve(t, 2000, 2000 * 20), 0);
  for (uint32_t i = 0; i < NKEYS; i++) { /* three times the room */
    assert_int_equal(carnet__store_put(t, CARNET__T_INDEX, f->keys[i].b, f->keys[i].len, "", 0, 0),
                     0);
    f->live[i] = true;
    if (i == 2500) assert_int_equal(carnet__store_pending_reserve(t, 9000, 9000 * 20), 0);
  }
  assert_int_equal(carnet__store_pending(t), NKEYS);
  assert_int_equal(carnet__store_commit(t), 0);
  check_table(f);
}

/* The meta values a transaction keeps once read (the index mark, the
 * region): a write, a delete or a clear of the table in the same
 * transaction is seen by the next read, and so is a commit by the next
 * transaction. */
static void test_meta_kept(void **state) {
  fx *f = *state;
  carnet__stxn *t = NULL;
  carnet_buf v;
  uint64_t mark = 0;
  assert_int_equal(carnet__store_begin(f->s, true, &t), 0);
  assert_int_equal(carnet__store_get(t, CARNET__T_META, "region", 6, &v), CARNET_ENOTFOUND);
  assert_int_equal(carnet__meta_get_u64(t, CARNET__META_INDEXED, &mark), CARNET_ENOTFOUND);
  assert_int_equal(carnet__store_put(t, CARNET__T_META, "region", 6, "BE", 2, 0), 0);
  assert_int_equal(carnet__meta_put_u64(t, CARNET__META_INDEXED, 7), 0);
  assert_int_equal(carnet__store_get(t, CARNET__T_META, "region", 6, &v), 0);
  assert_int_equal(v.len, 2);
  assert_memory_equal(v.base, "BE", 2);
  assert_int_equal(carnet__meta_get_u64(t, CARNET__META_INDEXED, &mark), 0);
  assert_int_equal(mark, 7);
  assert_int_equal(carnet__store_put(t, CARNET__T_META, "region", 6, "CH", 2, 0), 0);
  assert_int_equal(carnet__meta_put_u64(t, CARNET__META_INDEXED, 9), 0);
  assert_int_equal(carnet__store_get(t, CARNET__T_META, "region", 6, &v), 0);
  assert_memory_equal(v.base, "CH", 2);
  assert_int_equal(carnet__meta_get_u64(t, CARNET__META_INDEXED, &mark), 0);
  assert_int_equal(mark, 9);
  assert_int_equal(carnet__store_del(t, CARNET__T_META, "region", 6), 0);
  assert_int_equal(carnet__store_get(t, CARNET__T_META, "region", 6, &v), CARNET_ENOTFOUND);
  assert_int_equal(carnet__store_put(t, CARNET__T_META, "region", 6, "DE", 2, 0), 0);
  assert_int_equal(carnet__store_commit(t), 0);
  assert_int_equal(carnet__store_begin(f->s, true, &t), 0);
  assert_int_equal(carnet__store_get(t, CARNET__T_META, "region", 6, &v), 0);
  assert_memory_equal(v.base, "DE", 2);
  assert_int_equal(carnet__meta_get_u64(t, CARNET__META_INDEXED, &mark), 0);
  assert_int_equal(mark, 9);
  assert_int_equal(carnet__store_clear(t, CARNET__T_META), 0);
  assert_int_equal(carnet__store_get(t, CARNET__T_META, "region", 6, &v), CARNET_ENOTFOUND);
  assert_int_equal(carnet__meta_get_u64(t, CARNET__META_INDEXED, &mark), CARNET_ENOTFOUND);
  carnet__store_abort(t);
  assert_int_equal(carnet__store_begin(f->s, false, &t), 0);
  assert_int_equal(carnet__store_get(t, CARNET__T_META, "region", 6, &v), 0);
  assert_memory_equal(v.base, "DE", 2);
  carnet__store_abort(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pending_large_batches, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_rewrite_appends, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_pending_reserve, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_meta_kept, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
