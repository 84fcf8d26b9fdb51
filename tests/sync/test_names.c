/* tests/sync/test_names.c - names for replicas (issue 18, point 6), with
 * real processes on 127.0.0.1.
 *
 * The office (A, "Bureau Lyon") serves; the laptop (B, "Portable Alice")
 * syncs. The names travel as ordinary synced data: after one sync each
 * shows the other's name in `peer list` and `status` (--json and tables),
 * a conflict lists the losing replica by name, a rename reaches the other
 * side at the next sync, and a replica that never named itself is shown by
 * its hex id (name null in --json); `join --name` names the newcomer before
 * the join's session.
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

static void sync_with(const char *dir, bg *s) {
  json_decref(sync_json(dir, s->addr));
}

/* The "name" of the only peer of `dir`, from `peer list --json` and from
 * `status --json` (they must agree); NULL when null. */
static char *peer_name(const char *dir) {
  json_t *pl = OKJ(dir, "peer", "list"), *st = OKJ(dir, "status");
  assert_int_equal(json_array_size(pl), 1);
  const json_t *peers = json_object_get(st, "peers");
  assert_int_equal(json_array_size(peers), 1);
  const json_t *a = json_object_get(json_array_get(pl, 0), "name");
  const json_t *b = json_object_get(json_array_get(peers, 0), "name");
  char *out = NULL;
  if (json_is_string(a)) {
    assert_true(json_is_string(b));
    assert_string_equal(json_string_value(a), json_string_value(b));
    out = strdup(json_string_value(a));
  } else {
    assert_true(json_is_null(a) && json_is_null(b));
  }
  json_decref(pl);
  json_decref(st);
  return out;
}

static void assert_peer_name(const char *dir, const char *want) {
  char *got = peer_name(dir);
  if (want == NULL && got != NULL) fail_msg("%s: peer named '%s', want none", dir, got);
  if (want && (got == NULL || strcmp(got, want) != 0))
    fail_msg("%s: peer named '%s', want '%s'", dir, got ? got : "(null)", want);
  free(got);
}

static void test_names_synced_and_shown(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  OK1(A, "init", "--name", "Bureau Lyon");
  OK1(B, "init", "--name", "Portable Alice");
  json_t *own = OKJ(B, "status");
  assert_string_equal(json_string_value(json_object_get(own, "name")), "Portable Alice");
  json_decref(own);
  trust_pair(A, B);
  OK1(A, "customer", "add", "--name", "Zoe Nommee", "--city", "Lyon");
  bg *s = SERVE(A, "A");
  sync_with(B, s);
  stop(s);
  /* Each knows the other's name: JSON and the human tables. */
  assert_peer_name(B, "Bureau Lyon");
  assert_peer_name(A, "Portable Alice");
  char *out = OK(B, "peer", "list");
  assert_non_null(strstr(out, "Bureau Lyon"));
  free(out);
  out = OK(A, "status");
  assert_non_null(strstr(out, "Portable Alice"));
  assert_non_null(strstr(out, "Bureau Lyon")); /* its own name */
  free(out);
  /* Names are not customers. */
  json_t *list = OKJ(B, "customer", "list");
  assert_int_equal(json_array_size(list), 1);
  json_decref(list);

  /* A conflict names the replica whose value lost. */
  json_t *one = OKJ(A, "customer", "list");
  char ref[64];
  jstr(json_array_get(one, 0), "ref", ref, sizeof ref);
  json_decref(one);
  OK1(B, "customer", "edit", ref, "--city", "Aix-Perdue");
  OK1(A, "customer", "edit", ref, "--city", "Marseille-Gagne");
  s = SERVE(A, "A2");
  sync_with(B, s);
  stop(s);
  json_t *cf = OKJ(A, "conflicts");
  assert_int_equal(json_array_size(cf), 1);
  const json_t *c = json_array_get(cf, 0);
  assert_string_equal(json_string_value(json_object_get(c, "lost_by_name")), "Portable Alice");
  assert_string_equal(json_string_value(json_object_get(c, "won_by_name")), "Bureau Lyon");
  json_decref(cf);
  out = OK(A, "conflicts");
  assert_non_null(strstr(out, "Portable Alice"));
  free(out);
  out = OK(A, "customer", "show", ref);
  assert_non_null(strstr(out, "(replica Portable Alice,"));
  free(out);

  /* A rename reaches the office at the next sync. */
  out = OK(B, "config", "name", "Portable Alice (neuf)");
  free(out);
  s = SERVE(A, "A3");
  sync_with(B, s);
  stop(s);
  assert_peer_name(A, "Portable Alice (neuf)");
  assert_same_digest(A, B);

  /* An erasure names the replica that made it, on the other one too. */
  OK1(A, "erase", ref, "--reason", "request", "--yes");
  s = SERVE(A, "A4");
  sync_with(B, s);
  stop(s);
  json_t *er = OKJ(B, "erasures");
  assert_int_equal(json_array_size(er), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(er, 0), "origin_name")),
                      "Bureau Lyon");
  json_decref(er);
  out = OK(B, "erasures");
  assert_non_null(strstr(out, "Bureau Lyon"));
  free(out);
}

static void test_unnamed_shows_hex(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  OK1(A, "init", "--name", "Bureau");
  init(B); /* never named */
  trust_pair(A, B);
  bg *s = SERVE(A, "A");
  sync_with(B, s);
  stop(s);
  assert_peer_name(A, NULL);
  assert_peer_name(B, "Bureau");
  json_t *id = OKJ(B, "id");
  char hex[17];
  jstr(id, "replica", hex, sizeof hex);
  json_decref(id);
  char *out = OK(A, "peer", "list");
  assert_non_null(strstr(out, hex));
  free(out);
  /* Bad names are refused. */
  proc_result r;
  assert_int_not_equal(RUN(B, &r, "config", "name", ""), 0);
  proc_result_free(&r);
  char long_name[80];
  memset(long_name, 'x', 65);
  long_name[65] = '\0';
  assert_int_not_equal(RUN(B, &r, "config", "name", long_name), 0);
  proc_result_free(&r);
  assert_int_not_equal(RUN(path("C"), &r, "init", "--name", long_name), 0);
  proc_result_free(&r);
}

/* join --name: the laptop names itself before the join's session, so the
 * office knows the name as soon as the join returns. */
static void test_join_named(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  char token[512];
  OK1(A, "init", "--name", "Bureau Lyon");
  init(B);
  bg *s = SERVE(A, "A");
  json_t *inv = OKJ(A, "invite");
  jstr(inv, "token", token, sizeof token);
  json_decref(inv);
  OK1(B, "join", token, "--name", "Portable Alice");
  stop(s);
  assert_peer_name(A, "Portable Alice");
  assert_peer_name(B, "Bureau Lyon");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_names_synced_and_shown, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_unnamed_shows_hex, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_join_named, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
