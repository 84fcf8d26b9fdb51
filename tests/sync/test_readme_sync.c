/* tests/sync/test_readme_sync.c - the README's sync section, followed
 * literally with real processes (issue 18, point 8), except for the port
 * (ephemeral: 0.0.0.0:0 instead of 0.0.0.0:7373) and the discovery's
 * interface and UDP port (127.0.0.1 and a port of this test's own, so that
 * parallel tests do not hear each other):
 *
 *   carnet serve --listen 0.0.0.0:7373 --discover   # the office PC
 *   carnet invite                                   # no --addr: its LAN address
 *   carnet join TOKEN                               # on the new laptop
 *   carnet sync office-pc.lan:7373                  # one sync, both ways
 *   carnet sync                                     # every known peer
 *   carnet serve --discover --once                  # the LAN's replicas, then exit
 *
 * Before: invite demanded --addr, `sync` with no address refused, and
 * `serve --discover --once` never synced nor exited.
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
#include <unistd.h>

#include "support/cliproc.h"

static bool has_customer(const char *dir, const char *name) {
  char *out = OK(dir, "customer", "list", "--json");
  bool yes = strstr(out, name) != NULL;
  free(out);
  return yes;
}

static void test_readme_sync(void **state) {
  (void)state;
  const char *office = path("office"), *laptop = path("laptop"), *third = path("third");
  char port[16], token[512];
  proc_result r;
  snprintf(port, sizeof port, "%u", 21000u + (unsigned)(getpid() % 20000));
  init(office), init(laptop), init(third);

  bg *s = SERVE_WITH(office, "office", "--listen", "0.0.0.0:0", "--discover", "--discover-iface",
                     "127.0.0.1", "--discover-port", port);
  assert_non_null(strstr(s->addr, "0.0.0.0:"));
  const char *served_port = strchr(s->addr, ':') + 1;

  /* invite, with no --addr, offers an address another device dials. */
  json_t *inv = OKJ(office, "invite");
  char addr[128];
  jstr(inv, "addr", addr, sizeof addr);
  assert_null(strstr(addr, "0.0.0.0"));
  assert_string_equal(strchr(addr, ':') + 1, served_port);
  jstr(inv, "token", token, sizeof token);
  json_decref(inv);
  char *plain = OK(office, "invite");
  assert_true(strncmp(plain, "carnet1:", 8) == 0);
  free(plain);

  OK1(office, "customer", "add", "--name", "Avant la jonction");
  OK1(laptop, "join", token);
  assert_true(has_customer(laptop, "Avant la jonction"));

  /* sync HOST:PORT, as the README writes it (the address the invite gave). */
  OK1(office, "customer", "add", "--name", "Par adresse");
  json_decref(sync_json(laptop, addr));
  assert_true(has_customer(laptop, "Par adresse"));

  /* sync with no address: the stored address of the office. */
  OK1(office, "customer", "add", "--name", "Sans adresse");
  OK1(laptop, "customer", "add", "--name", "Du portable");
  json_t *all = OKJ(laptop, "sync");
  assert_true(json_is_array(all));
  assert_int_equal(json_array_size(all), 1);
  json_decref(all);
  assert_true(has_customer(laptop, "Sans adresse"));
  assert_true(has_customer(office, "Du portable"));

  /* A peer trusted by hand has no address: found on the LAN instead. */
  ident o = id_of(office), t = id_of(third);
  OK1(third, "peer", "trust", o.key, "--team", o.team);
  OK1(office, "peer", "trust", t.key);
  OK1(office, "customer", "add", "--name", "Trouve sur le reseau");
  uint64_t t0 = now_ms();
  all = OKJ(third, "sync", "--discover-iface", "127.0.0.1", "--discover-port", port);
  assert_int_equal(json_array_size(all), 1);
  json_decref(all);
  printf("# sync with no address found the office on the LAN in %llu ms\n",
         (unsigned long long)(now_ms() - t0));
  assert_true(has_customer(third, "Trouve sur le reseau"));

  /* serve --discover --once: syncs with what it finds, then exits. */
  OK1(office, "customer", "add", "--name", "Une fois");
  const char *once[] = {
      F->bin,      "--dir",           laptop, "serve", "--discover", "--once", "--discover-iface",
      "127.0.0.1", "--discover-port", port,   NULL};
  bg *b = bg_spawn(once, "serve-once.log");
  int st = bg_wait(b, T(30000));
  if (st != 0) dump_log(b);
  assert_int_equal(st, 0);
  assert_true(has_customer(laptop, "Une fois"));

  /* A known peer that cannot be reached: named, exit 1, the others synced. */
  stop(s);
  assert_int_equal(RUN(third, &r, "sync", "--discover-iface", "127.0.0.1", "--discover-port", port,
                       "--timeout", "20s"),
                   1);
  assert_non_null(strstr(r.err, "not reached"));
  proc_result_free(&r);
  stop_all();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_readme_sync, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
