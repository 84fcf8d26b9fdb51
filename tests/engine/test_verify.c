/* tests/engine/test_verify.c - checking and repairing a replica
 * (carnet/verify.h): carnet_replica_verify_progress gives the same report as
 * carnet_replica_verify, with progress calls that count the rows read
 * towards a total known from the start; carnet_replica_check finds damage
 * made to the derived tables through the store's internal API (an empty
 * index value once turned into a 4 KB blob was reported sound), both
 * ways, and carnet_replica_repair rebuilds them from the rows. */
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
#include "engine/store/entity_io.h"
#include "engine/store/group.h"
#include "engine/store/replica_int.h"
#include "engine/store/store.h"
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
  /* Entities, change-index entries, then index entries, 4,096 apart. */
  assert_int_equal(s.total, 2 * N + with.index_keys);
  assert_true(s.same_total);
  assert_true(s.increasing);
  assert_int_equal(s.calls, (2 * N + with.index_keys) / 4096);
  /* No callback: nothing called, the same report. */
  OK(r, carnet_replica_verify_progress(r, NULL, NULL, &with));
  assert_memory_equal(&plain, &with, sizeof plain);
  rfx_free(f);
}

/* --- damage and repair --------------------------------------------------------- */

static carnet_id add(carnet_replica *r, const char *name, const char *email, const char *phone) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  OK(r, carnet_patch_set(p, CARNET_F_EMAILS, email));
  if (phone) OK(r, carnet_patch_phone(p, "mobile", phone));
  OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

/* The index keys `id` derives, copied into `out` (n of them). */
static size_t keys_of(carnet_replica *r, const carnet_id *id, uint8_t out[][80], size_t *len) {
  carnet__stxn *st;
  carnet__loaded l;
  OK(r, carnet__store_begin(r->store, false, &st));
  OK(r, carnet__load(st, id, &l));
  size_t n = l.old_keys.n;
  for (size_t i = 0; i < n; i++) {
    assert_true(l.old_keys.keys[i].len <= 80);
    memcpy(out[i], l.old_keys.keys[i].base, l.old_keys.keys[i].len);
    len[i] = l.old_keys.keys[i].len;
  }
  carnet__loaded_free(&l);
  carnet__store_abort(st);
  return n;
}

static size_t find_key(uint8_t keys[][80], const size_t *len, size_t n, uint8_t tag) {
  for (size_t i = 0; i < n; i++)
    if (keys[i][0] == tag) return i;
  fail_msg("no '%c' key", tag);
  return 0;
}

static carnet_check_report check(carnet_replica *r) {
  carnet_check_report c = CARNET_CHECK_REPORT_INIT;
  OK(r, carnet_replica_check(r, NULL, NULL, &c));
  return c;
}

static void assert_sound(carnet_replica *r) {
  carnet_check_report c = check(r);
  if (c.bad_rows + c.erased_rows + c.bad_changes + c.missing_keys + c.extra_keys + c.bad_values)
    fail_msg("not sound: %s", carnet_replica_errmsg(r));
}

static void test_damage_found_both_ways_and_repaired(void **state) {
  (void)state;
  rfx *f = rfx_new("repair", 1, TENV_EPOCH_MS, 9);
  carnet_replica *r = f->r[0];
  carnet_id a = add(r, "Anne Index", "anne@index.fr", "06 10 20 30 40");
  carnet_id b = add(r, "Anne Index", "a.index@travail.fr", NULL);
  carnet_id c = add(r, "Bruno Cle", "bruno@cle.fr", "06 50 60 70 80");
  carnet_id z = add(r, "Zoe Effacee", "zoe@effacee.fr", NULL);
  ASSERT_OK(r, TX(r, carnet_merge_apply(t, &a, &b)));
  for (unsigned i = 0; i < 50; i++) {
    char name[32], mail[64];
    snprintf(name, sizeof name, "Client %u", i);
    snprintf(mail, sizeof mail, "client%u@exemple.fr", i);
    add(r, name, mail, NULL);
  }
  /* Z's row as stored, then Z erased. */
  carnet__stxn *st;
  carnet_buf v;
  OK(r, carnet__store_begin(r->store, false, &st));
  OK(r, carnet__store_get(st, CARNET__T_ENTITIES, z.b, 16, &v));
  uint8_t *zrow = malloc(v.len);
  size_t zlen = v.len;
  memcpy(zrow, v.base, v.len);
  carnet__store_abort(st);
  OK(r, carnet_record_erase(r, &z, "request", NULL, NULL));
  assert_sound(r);

  uint8_t ka[64][80], kb[64][80], kc[64][80];
  size_t la[64], lb[64], lc[64];
  size_t na = keys_of(r, &a, ka, la), nb = keys_of(r, &b, kb, lb), nc = keys_of(r, &c, kc, lc);
  (void)na;
  size_t blob_at = find_key(kc, lc, nc, 'p'), gone_at = find_key(ka, la, na, 'e'),
         edge_at = find_key(kb, lb, nb, 'm');
  static uint8_t blob[4096];
  memset(blob, 0x5a, sizeof blob);
  uint8_t extra[33] = {'e'};
  memset(extra + 1, 0xa5, 16);
  memcpy(extra + 17, c.b, 16);
  /* The blind index caught up (E3): a missing blind key counts. */
  OK(r, carnet__index_ready(r));
  carnet_txn *t;
  OK(r, carnet_txn_begin(r, &t));
  /* An empty value turned into a 4 KB blob (C's phone key). */
  OK(r, carnet__store_put(t->st, CARNET__T_INDEX, kc[blob_at], lc[blob_at], blob, sizeof blob, 0));
  /* A key gone (A's e-mail), a group edge gone (B -> A), a key no row derives. */
  OK(r, carnet__store_del(t->st, CARNET__T_INDEX, ka[gone_at], la[gone_at]));
  OK(r, carnet__store_del(t->st, CARNET__T_INDEX, kb[edge_at], lb[edge_at]));
  OK(r, carnet__store_put(t->st, CARNET__T_INDEX, extra, sizeof extra, "", 0, 0));
  /* A change entry moved to another sequence number (stale, and missing
   * where it should be), and the erased Z's row back. */
  carnet__loaded l;
  uint8_t seqkey[8], entry[CARNET__CHANGE_ENTRY_LEN];
  OK(r, carnet__load(t->st, &c, &l));
  carnet__be64_put(seqkey, l.e.seq);
  carnet__change_entry(&l.e, entry);
  carnet__loaded_free(&l);
  OK(r, carnet__store_del(t->st, CARNET__T_CHANGES, seqkey, 8));
  carnet__be64_put(seqkey, 1u << 30);
  OK(r, carnet__store_put(t->st, CARNET__T_CHANGES, seqkey, 8, entry, sizeof entry, 0));
  OK(r, carnet__store_put(t->st, CARNET__T_ENTITIES, z.b, 16, zrow, zlen, 0));
  OK(r, carnet_txn_commit(t));
  free(zrow);

  carnet_check_report got = check(r);
  assert_int_equal(got.bad_values, 1);
  assert_int_equal(got.missing_keys, 2);
  assert_true(got.extra_keys >= 1);
  assert_int_equal(got.bad_changes, 2); /* C has no entry at its seq; one entry is stale */
  assert_int_equal(got.erased_rows, 1);
  assert_int_equal(got.bad_rows, 0);
  /* The former report folds them in. */
  carnet_verify_report old;
  OK(r, carnet_replica_verify(r, &old));
  assert_int_equal(old.missing_keys, got.missing_keys + got.extra_keys + got.bad_values);

  carnet_check_report rep = CARNET_CHECK_REPORT_INIT;
  seen s = {.increasing = true, .same_total = true};
  OK(r, carnet_replica_repair(r, on_progress, &s, &rep));
  assert_true(rep.repaired);
  assert_int_equal(rep.bad_values, 1);
  assert_true(s.calls >= 1);
  assert_sound(r);
  /* What the index serves works again: the group, and a lookup. */
  carnet_id surv;
  size_t n = 0;
  OK(r, carnet_merge_group(r, &b, &surv, NULL, 0, &n, NULL));
  assert_int_equal(n, 2);
  bool erased = false;
  carnet_record *rec = NULL;
  OK(r, carnet_record_erased(r, &z, &erased));
  assert_true(erased);
  assert_int_equal(carnet_record_get(r, &z, &rec), CARNET_ENOTFOUND);
  /* Nothing to repair: nothing written. */
  OK(r, carnet_replica_repair(r, NULL, NULL, &rep));
  assert_false(rep.repaired);
  rfx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_progress_counts_towards_the_total),
      cmocka_unit_test(test_damage_found_both_ways_and_repaired),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
