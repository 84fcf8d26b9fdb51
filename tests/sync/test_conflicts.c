/* tests/sync/test_conflicts.c - concurrent edits made visible (issue 18,
 * point 5; carnet/conflict.h), with real processes on 127.0.0.1.
 *
 * Two replicas change the same customer's city while apart, then sync:
 * both list the losing value with its replica and time (`carnet conflicts
 * --json`), `customer show` marks the field, `conflicts restore` on the
 * laptop puts it back as a new edit that reaches the office; edits made
 * one after the other (each having seen the previous) are no conflict.
 * Erasing the customer removes the kept value: not in any file, and not in
 * any table read with the replica's key.
 */
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

#include "support/cliproc.h"
#include "support/holds.h"

#define LOST_CITY "Aix-en-Provence-Conflit"
#define WON_CITY "Marseille-Bureau"

static char *ref_of(const char *dir) {
  json_t *a = OKJ(dir, "customer", "list");
  assert_int_equal(json_array_size(a), 1);
  char *ref = strdup(json_string_value(json_object_get(json_array_get(a, 0), "ref")));
  json_decref(a);
  return ref;
}

/* One sync of `dir` with the serve `s`, both ways. */
static void sync_with(const char *dir, bg *s) {
  json_decref(sync_json(dir, s->addr));
}

/* The conflicts of `dir`, as `carnet conflicts --json` prints them. */
static json_t *conflicts(const char *dir) {
  json_t *a = OKJ(dir, "conflicts");
  assert_true(json_is_array(a));
  return a;
}

static const char *js(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  if (s == NULL) fail_msg("no string '%s'", key);
  return s;
}

/* The office (A) serves; the laptop (B) syncs now and then. Both edit the
 * city offline; after a sync, both show the loser. */
static void setup_conflict(const char *A, const char *B, char **ref, char laptop_id[17]) {
  init(A), init(B);
  trust_pair(A, B);
  OK1(A, "customer", "add", "--name", "Zoe Conflit", "--city", "Lyon", "--email",
      "zoe.conflit@exemple.fr");
  bg *s = SERVE(A, "A");
  sync_with(B, s);
  stop(s);
  *ref = ref_of(A);
  json_t *idb = OKJ(B, "id");
  snprintf(laptop_id, 17, "%s", js(idb, "replica"));
  json_decref(idb);
  /* Offline: the laptop first, the office after (the later stamp wins). */
  OK1(B, "customer", "edit", *ref, "--city", LOST_CITY);
  OK1(A, "customer", "edit", *ref, "--city", WON_CITY);
  s = SERVE(A, "A2");
  sync_with(B, s);
  stop(s);
}

static void test_listed_marked_restored(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  char *ref, laptop[17], cid[32];
  setup_conflict(A, B, &ref, laptop);

  /* Both replicas recorded the one conflict, with the same id. */
  json_t *ca = conflicts(A), *cb = conflicts(B);
  assert_int_equal(json_array_size(ca), 1);
  assert_int_equal(json_array_size(cb), 1);
  const json_t *c = json_array_get(cb, 0);
  assert_string_equal(js(c, "field"), "city");
  assert_string_equal(js(c, "lost"), LOST_CITY);
  assert_string_equal(js(c, "won"), WON_CITY);
  assert_string_equal(js(c, "current"), WON_CITY);
  assert_string_equal(js(c, "lost_by"), laptop);
  assert_string_equal(js(c, "ref"), ref);
  assert_true(strlen(js(c, "lost_at")) > 0);
  assert_false(json_is_true(json_object_get(c, "restored")));
  assert_string_equal(js(json_array_get(ca, 0), "id"), js(c, "id"));
  snprintf(cid, sizeof cid, "%s", js(c, "id"));
  json_decref(ca);
  json_decref(cb);

  /* --since: a date after today lists nothing, one before lists it. */
  json_t *none = OKJ(B, "conflicts", "--since", "2999-01-01");
  assert_int_equal(json_array_size(none), 0);
  json_decref(none);
  json_t *all = OKJ(B, "conflicts", "--since", "2000-01-01");
  assert_int_equal(json_array_size(all), 1);
  json_decref(all);

  /* customer show marks the field and names the conflict. */
  char *show = OK(B, "customer", "show", ref);
  assert_non_null(strstr(show, WON_CITY "  [conflict]"));
  assert_non_null(strstr(show, LOST_CITY));
  assert_non_null(strstr(show, cid));
  free(show);

  /* Restore on the laptop: a new edit, which reaches the office. */
  OK1(B, "conflicts", "restore", cid);
  json_t *after = conflicts(B);
  assert_true(json_is_true(json_object_get(json_array_get(after, 0), "restored")));
  assert_string_equal(js(json_array_get(after, 0), "current"), LOST_CITY);
  json_decref(after);
  proc_result r;
  assert_int_equal(RUN(B, &r, "conflicts", "restore", cid), 1); /* holds it already */
  proc_result_free(&r);
  assert_int_equal(RUN(B, &r, "conflicts", "restore", "0123456789abcdef"), 1);
  assert_non_null(strstr(r.err, "no conflict"));
  proc_result_free(&r);
  assert_int_equal(RUN(B, &r, "conflicts", "restore", "nothex"), 1);
  proc_result_free(&r);
  bg *s = SERVE(A, "A3");
  sync_with(B, s);
  stop(s);
  json_t *ga = OKJ(A, "customer", "show", ref);
  assert_string_equal(js(json_object_get(ga, "address"), "city"), LOST_CITY);
  json_decref(ga);
  assert_same_digest(A, B);
  /* The restore was a new edit that the office had seen nothing against:
   * no new conflict anywhere. */
  ca = conflicts(A);
  assert_int_equal(json_array_size(ca), 1);
  json_decref(ca);

  /* One after the other, each having synced first: no conflict. */
  s = SERVE(A, "A4");
  OK1(B, "customer", "edit", ref, "--name", "Zoe Conflit-Durand");
  sync_with(B, s);
  OK1(A, "customer", "edit", ref, "--name", "Zoe Durand");
  sync_with(B, s);
  stop(s);
  ca = conflicts(A), cb = conflicts(B);
  assert_int_equal(json_array_size(ca), 1);
  assert_int_equal(json_array_size(cb), 1);
  json_decref(ca);
  json_decref(cb);
  free(ref);
}

static void test_erased_with_the_customer(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  char *ref, laptop[17];
  setup_conflict(A, B, &ref, laptop);
  /* Before: the office keeps the losing value (sealed: not in clear). */
  assert_true(replica_holds(A, LOST_CITY));
  assert_false(files_hold(A, LOST_CITY));
  OK1(A, "erase", ref, "--reason", "test");
  json_t *ca = conflicts(A);
  assert_int_equal(json_array_size(ca), 0);
  json_decref(ca);
  assert_false(files_hold(A, LOST_CITY));
  assert_false(replica_holds(A, LOST_CITY));
  /* The laptop hears of it at its next sync and drops its copy too. */
  assert_true(replica_holds(B, LOST_CITY));
  bg *s = SERVE(A, "A5");
  sync_with(B, s);
  stop(s);
  OK1(B, "status"); /* any command compacts once no other process has the directory */
  assert_false(replica_holds(B, LOST_CITY));
  assert_false(files_hold(B, LOST_CITY));
  free(ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_listed_marked_restored, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_erased_with_the_customer, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
