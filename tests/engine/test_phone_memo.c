/* tests/engine/test_phone_memo.c - engine/store/phone_cache.c: a phone
 * number is read once per handle within a transaction, the memo keeps no
 * number past a commit or an abort, and lookups read numbers in the
 * replica's region (they read them in FR whatever the region was). */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/carnet.h"
#include "engine/store/phone_cache.h"
#include "engine/store/replica_int.h"
#include "support/testenv.h"

static bool memo_empty(const carnet_replica *r) {
  static const uint8_t zero[sizeof r->phone_memo];
  return memcmp(r->phone_memo, zero, sizeof zero) == 0;
}

static bool memo_holds(const carnet_replica *r, const char *text) {
  for (size_t i = 0; i < CARNET__PHONE_MEMO_SLOTS; i++)
    if (r->phone_memo[i].used && strcmp(r->phone_memo[i].text, text) == 0) return true;
  return false;
}

static void test_memo_and_region(void **state) {
  (void)state;
  char *root = tdir_new("pmemo"), *d = tdir_join(root, "a");
  tenv e;
  carnet_env env;
  carnet_replica *r = NULL;
  char err[256];
  tenv_init(&e, TENV_EPOCH_MS, 1);
  tenv_fill(&e, &env);
  assert_int_equal(carnet_replica_init(d, &env, &r, err, sizeof err), 0);
  assert_int_equal(carnet_replica_set_region(r, "BE"), 0);
  assert_true(memo_empty(r));

  /* A Brussels number written nationally: +32 2 123 45 67 in BE (in FR it
   * would be read as +33 2 12 34 56 7). */
  const char *brussels = "02 123 45 67";
  carnet_txn *t = NULL;
  carnet_id id, found[4];
  size_t n = 0;
  assert_int_equal(carnet_txn_begin(r, &t), 0);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_int_equal(carnet_patch_set(p, CARNET_F_COMPANY, "Friterie Tante Jeanne"), 0);
  assert_int_equal(carnet_patch_phone(p, "work", brussels), 0);
  assert_int_equal(carnet_record_check(t, p), 0);
  assert_true(memo_holds(r, brussels)); /* read once by the check... */
  assert_int_equal(carnet_record_create(t, p, NULL, &id), 0);
  /* ...and the lookup inside the transaction finds the row through the
   * same read, in the replica's region. */
  assert_int_equal(carnet_record_lookup(r, CARNET_LOOKUP_PHONE, brussels, found, 4, &n), 0);
  assert_true(memo_holds(r, brussels));
  assert_int_equal(carnet_txn_commit(t), 0);
  assert_true(memo_empty(r)); /* nothing personal kept past the commit */
  carnet_patch_free(p);

  /* After the commit, from the index, read in BE: found. */
  n = 0;
  assert_int_equal(carnet_record_lookup(r, CARNET_LOOKUP_PHONE, brussels, found, 4, &n), 0);
  assert_int_equal(n, 1);
  assert_memory_equal(&found[0], &id, sizeof id);
  char e164[CARNET_PHONE_E164_MAX];
  assert_int_equal(carnet__phone_key(r, brussels, e164, sizeof e164), 0);
  assert_string_equal(e164, "+3221234567");
  /* In FR the same text is no number at all (the lookup refused it). */
  assert_int_equal(carnet_phone_normalize_in(brussels, "FR", e164, sizeof e164), CARNET_EINVAL);

  /* An abort wipes the memo too. */
  assert_int_equal(carnet_txn_begin(r, &t), 0);
  carnet_phone ph;
  assert_int_equal(carnet__phone_parse_memo(r, "0470 12 34 56", "BE", &ph), 0);
  assert_string_equal(ph.e164, "+32470123456");
  assert_true(memo_holds(r, "0470 12 34 56"));
  carnet_txn_abort(t);
  assert_true(memo_empty(r));

  /* A refused number is memoised as refused, with the same answer. */
  assert_int_equal(carnet__phone_parse_memo(r, "12", "BE", &ph), CARNET_EINVAL);
  assert_int_equal(carnet__phone_parse_memo(r, "12", "BE", &ph), CARNET_EINVAL);

  carnet_replica_close(r);
  tdir_remove(root);
  free(d);
  free(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_memo_and_region),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
