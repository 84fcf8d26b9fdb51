/* tests/engine/test_conflict.c - engine/crm/conflict.c: which merges keep a
 * losing value (V1), the retention (V2: 16 per record, 90 days), erasure
 * (V3), and the API's errors (carnet/conflict.h). In process, with
 * injected clocks; no peer is recorded, so every own edit counts as
 * unconfirmed (the multi-process test covers confirmed ones:
 * tests/sync/test_conflicts.c).
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <string.h>

#include "carnet/carnet.h"
#include "support/replicas.h"

#define DAY_MS (24ull * 3600u * 1000u)

static int count_cb(const carnet_conflict *c, void *data) {
  (void)c;
  (*(int *)data)++;
  return 0;
}

static int count(carnet_replica *r, const carnet_id *id, uint64_t since) {
  int n = 0;
  ASSERT_OK(r, carnet_conflict_list(r, id, since, count_cb, &n));
  return n;
}

static int last_cb(const carnet_conflict *c, void *data) {
  carnet_conflict *out = data;
  *out = *c;
  out->lost = out->won = out->current = NULL; /* they die with the callback */
  return 0;
}

/* The conflict whose id is data's cid, copied over it. */
static int find_cb(const carnet_conflict *c, void *data) {
  carnet_conflict *out = data;
  if (strcmp(c->cid, out->cid) == 0) last_cb(c, out);
  return 0;
}

static void set_city(rfx *f, int i, const carnet_id *id, const char *city) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_int_equal(carnet_patch_set(p, CARNET_F_CITY, city), 0);
  ASSERT_OK(f->r[i], carnet_record_update_commit(f->r[i], id, p));
  carnet_patch_free(p);
}

static void both_ways(rfx *f) {
  rfx_sync(f->r[0], f->r[1], 0);
  rfx_sync(f->r[1], f->r[0], 0);
}

static carnet_id new_customer(rfx *f) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  assert_int_equal(carnet_patch_set(p, CARNET_F_NAME, "Zoe Retention"), 0);
  ASSERT_OK(f->r[0], carnet_record_create_commit(f->r[0], p, &id));
  carnet_patch_free(p);
  both_ways(f);
  return id;
}

/* Concurrent edits on both sides: one conflict on each, the same; a tick
 * of the clocks between each so that the later edit wins. */
static void test_recorded_both_sides(void **state) {
  (void)state;
  rfx *f = rfx_new("conflict_both", 2, 1800000000000ull, 7);
  carnet_id id = new_customer(f);
  set_city(f, 0, &id, "Lost-City");
  f->env[1].now_ms += 1000;
  set_city(f, 1, &id, "Kept-City");
  both_ways(f);
  rfx_assert_same_digest(f->r[0], f->r[1]);
  carnet_conflict c0, c1;
  assert_int_equal(count(f->r[0], &id, 0), 1);
  assert_int_equal(count(f->r[1], NULL, 0), 1);
  ASSERT_OK(f->r[0], carnet_conflict_list(f->r[0], &id, 0, last_cb, &c0));
  ASSERT_OK(f->r[1], carnet_conflict_list(f->r[1], &id, 0, last_cb, &c1));
  assert_string_equal(c0.cid, c1.cid);
  assert_int_equal(c0.lost_by, carnet_replica_id(f->r[0]));
  assert_int_equal(c0.won_by, carnet_replica_id(f->r[1]));
  assert_int_equal(c0.field, CARNET_F_CITY);
  assert_false(c0.restored);
  /* The same batch again adds nothing. */
  both_ways(f);
  assert_int_equal(count(f->r[0], NULL, 0), 1);

  /* Restore on replica 0: a new edit that wins everywhere. */
  carnet_conflict got;
  ASSERT_OK(f->r[0], carnet_conflict_restore(f->r[0], c0.cid, &got));
  assert_int_equal(got.field, CARNET_F_CITY);
  ASSERT_RC(f->r[0], carnet_conflict_restore(f->r[0], c0.cid, NULL), CARNET_EEXIST);
  ASSERT_RC(f->r[0], carnet_conflict_restore(f->r[0], "xyz", NULL), CARNET_EINVAL);
  ASSERT_RC(f->r[0], carnet_conflict_restore(f->r[0], "0000000000000000", NULL), CARNET_ENOTFOUND);
  both_ways(f);
  carnet_record *rec = NULL;
  ASSERT_OK(f->r[1], carnet_record_get(f->r[1], &id, &rec));
  assert_string_equal(carnet_record_str(rec, CARNET_F_CITY), "Lost-City");
  carnet_record_free(rec);
  /* No peer confirms anything here, so replica 1's own edit, replaced by
   * the restore, is a conflict too: find the first one by its id. */
  ASSERT_OK(f->r[1], carnet_conflict_list(f->r[1], &id, 0, find_cb, &c1));
  assert_true(c1.restored);
  rfx_free(f);
}

/* V2: at most 16 per record, the oldest go; none after 90 days. */
static void test_retention(void **state) {
  (void)state;
  rfx *f = rfx_new("conflict_keep", 2, 1800000000000ull, 11);
  carnet_id id = new_customer(f);
  char city[32];
  for (int i = 0; i < 20; i++) {
    snprintf(city, sizeof city, "A-%d", i);
    set_city(f, 0, &id, city);
    f->env[1].now_ms += 10;
    snprintf(city, sizeof city, "B-%d", i);
    set_city(f, 1, &id, city);
    f->env[0].now_ms += 10;
    both_ways(f);
  }
  assert_int_equal(count(f->r[0], &id, 0), 16);
  /* --since: the clock of the last ones. */
  assert_int_equal(count(f->r[0], &id, f->env[0].now_ms + 1), 0);
  f->env[0].now_ms += CARNET_CONFLICT_KEEP_MS - 1000;
  assert_int_equal(count(f->r[0], &id, 0), 16);
  f->env[0].now_ms += 2000 + 200;
  assert_int_equal(count(f->r[0], &id, 0), 0);
  rfx_free(f);
}

/* V3: erasing the customer deletes what it lost, at once. */
static void test_erased(void **state) {
  (void)state;
  rfx *f = rfx_new("conflict_erase", 2, 1800000000000ull, 13);
  carnet_id id = new_customer(f);
  set_city(f, 0, &id, "Ville-Perdue-Effacee");
  f->env[1].now_ms += 1000;
  set_city(f, 1, &id, "Ville-Gagnante");
  both_ways(f);
  assert_int_equal(count(f->r[0], NULL, 0), 1);
  ASSERT_OK(f->r[0], carnet_record_erase(f->r[0], &id, "test", NULL, NULL));
  assert_int_equal(count(f->r[0], NULL, 0), 0);
  rfx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_recorded_both_sides),
      cmocka_unit_test(test_retention),
      cmocka_unit_test(test_erased),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
