/* tests/engine/test_changelog.c - stale change-index entries
 * (engine/store/changelog.h): an edit leaves the entity's previous entry in
 * place, counted; a stream sends the entity once, at its live entry (L1);
 * `carnet check` finds nothing wrong; a purge deletes exactly the stale
 * entries; an erasure leaves no entry of the erased entity (L2); the commit
 * that crosses the threshold purges them all. A replica that syncs from
 * one with stale entries gets every entity's latest state. */
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
#include "engine/store/changelog.h"
#include "engine/store/replica_int.h"
#include "engine/store/store.h"
#include "support/replicas.h"

#define OK ASSERT_OK

static carnet_id add(carnet_replica *r, const char *name, const char *email) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  OK(r, carnet_patch_set(p, CARNET_F_EMAILS, email));
  OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

static void edit(carnet_replica *r, const carnet_id *id, const char *notes) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  OK(r, carnet_patch_set(p, CARNET_F_NOTES, notes));
  OK(r, carnet_record_update_commit(r, id, p));
  carnet_patch_free(p);
}

static void assert_notes(carnet_replica *r, const carnet_id *id, const char *want) {
  carnet_record *rec;
  OK(r, carnet_record_get(r, id, &rec));
  assert_string_equal(carnet_record_str(rec, CARNET_F_NOTES), want);
  carnet_record_free(rec);
}

/* Entries of the change index, and the stale ones counted. */
static void counts(carnet_replica *r, uint64_t *entries, uint64_t *stale) {
  carnet__stxn *st;
  assert_int_equal(carnet__store_begin(r->store, false, &st), 0);
  *entries = carnet__store_entries(st, CARNET__T_CHANGES);
  assert_int_equal(carnet__changelog_stale_count(st, stale), 0);
  carnet__store_abort(st);
}

static void assert_sound(carnet_replica *r) {
  carnet_check_report rep = CARNET_CHECK_REPORT_INIT;
  OK(r, carnet_replica_check(r, NULL, NULL, &rep));
  assert_int_equal(rep.bad_changes, 0);
  assert_int_equal(rep.missing_keys + rep.extra_keys + rep.bad_rows, 0);
}

/* Entities a full stream from {0, 0} sends. */
static uint32_t streamed(carnet_replica *r) {
  carnet_mark m = {0, 0};
  uint32_t n = 0;
  for (bool more = true; more;) {
    carnet_buf b;
    carnet_batch_info info;
    OK(r, carnet_changes_encode(r, &m, 0, &b, &info));
    free((void *)b.base);
    n += info.entities;
    m.after = info.upto;
    more = info.more;
  }
  return n;
}

static void test_edits_leave_stale_entries(void **state) {
  (void)state;
  rfx *f = rfx_new("changelog", 2, TENV_EPOCH_MS, 3);
  carnet_replica *a = f->r[0], *b = f->r[1];
  carnet_id x = add(a, "Ada Martin", "ada@example.org");
  carnet_id y = add(a, "Bob Durand", "bob@example.org");
  (void)add(a, "Cid Petit", "cid@example.org");
  for (int i = 0; i < 5; i++) {
    char n[32];
    snprintf(n, sizeof n, "call %d", i);
    edit(a, &x, n);
  }
  edit(a, &y, "vip");
  uint64_t entries, stale;
  counts(a, &entries, &stale);
  assert_int_equal(stale, 6); /* 5 edits of x, 1 of y: their old entries stay */
  assert_int_equal(entries, 3 + 6);
  assert_sound(a);
  assert_int_equal(streamed(a), 3); /* each entity once, at its live entry */
  rfx_sync(a, b, 0);
  assert_notes(b, &x, "call 4");
  assert_notes(b, &y, "vip");

  /* L2: an erasure leaves no entry of the erased entity, stale or live. */
  OK(a, carnet_record_erase(a, &x, "asked", NULL, NULL));
  counts(a, &entries, &stale);
  assert_int_equal(stale, 0);
  assert_int_equal(entries, 2);
  assert_sound(a);
  assert_int_equal(streamed(a), 2);
  rfx_sync(a, b, 0);
  assert_notes(b, &y, "vip");
  rfx_free(f);
}

static void test_purge_deletes_only_stale(void **state) {
  (void)state;
  rfx *f = rfx_new("purge", 1, TENV_EPOCH_MS, 4);
  carnet_replica *r = f->r[0];
  carnet_id ids[4];
  char name[32], email[48];
  for (int i = 0; i < 4; i++) {
    snprintf(name, sizeof name, "Client %d", i);
    snprintf(email, sizeof email, "c%d@example.org", i);
    ids[i] = add(r, name, email);
  }
  for (int i = 0; i < 4; i++)
    for (int k = 0; k <= i; k++)
      edit(r, &ids[i], k % 2 ? "odd" : "even");
  uint64_t entries, stale, purged;
  counts(r, &entries, &stale);
  assert_int_equal(stale, 10);
  assert_int_equal(entries, 14);
  carnet_txn *t;
  OK(r, carnet_txn_begin(r, &t));
  assert_int_equal(carnet__changelog_purge(t->st, &purged), 0);
  OK(r, carnet_txn_commit(t));
  assert_int_equal(purged, 10);
  counts(r, &entries, &stale);
  assert_int_equal(stale, 0);
  assert_int_equal(entries, 4);
  assert_sound(r);
  assert_int_equal(streamed(r), 4);
  rfx_free(f);
}

/* The commit that brings the count to CARNET__STALE_PURGE_MIN (and an
 * eighth of the table) purges: edits in one transaction each would be
 * slow, so the count is set just below the threshold. */
static void test_threshold_purges(void **state) {
  (void)state;
  rfx *f = rfx_new("threshold", 1, TENV_EPOCH_MS, 5);
  carnet_replica *r = f->r[0];
  carnet_id x = add(r, "Ada Martin", "ada@example.org");
  edit(r, &x, "one");
  uint64_t entries, stale;
  counts(r, &entries, &stale);
  assert_int_equal(stale, 1);
  carnet_txn *t;
  OK(r, carnet_txn_begin(r, &t));
  assert_int_equal(carnet__meta_put_u64(t->st, CARNET__META_STALE, CARNET__STALE_PURGE_MIN - 1), 0);
  OK(r, carnet_txn_commit(t));
  edit(r, &x, "two"); /* the count reaches the threshold: everything stale goes */
  counts(r, &entries, &stale);
  assert_int_equal(stale, 0);
  assert_int_equal(entries, 1);
  assert_sound(r);
  rfx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_edits_leave_stale_entries),
      cmocka_unit_test(test_purge_deletes_only_stale),
      cmocka_unit_test(test_threshold_purges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
