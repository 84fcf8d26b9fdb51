/* tests/sync/test_teams.c - a team as it runs: an office hub (`carnet
 * serve`) and laptops with live sessions to it (`carnet serve --peer HUB`),
 * all real processes on 127.0.0.1 (issue 21).
 *
 * - live status: `carnet status --json` and `carnet peer list --json` show,
 *   per peer, online or not, last contact, acked and pending, true while
 *   sessions run (pending 0 within two seconds of the peer's
 *   acknowledgement), after a clean stop and after a kill -9.
 * - no echo: a hub and three laptops; what one laptop writes reaches the
 *   two others through the hub, and no cell of it comes back to the hub
 *   (the hub's session counters in its log: "0 cells in" from the two
 *   laptops that only relayed), while every laptop's status shows pending
 *   0 within two seconds of the hub applying the change.
 *
 * Every wait is bounded (T() grows under sanitizers) and waits for a
 * condition, never for time.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/carnet.h"
#include "support/cliproc.h"

static char *add_customer(const char *dir, const char *name, const char *city) {
  char *out = added_id(OK(dir, "customer", "add", "--name", name, "--city", city, "--json"));
  return out; /* the id */
}

/* The entry of `carnet status --json` (or `peer list --json`) on `dir` for
 * the peer with key `key`, copied (json_decref); fails the test if none. */
static json_t *peer_entry(const char *dir, const char *key, bool status) {
  json_t *j = status ? OKJ(dir, "status") : OKJ(dir, "peer", "list");
  json_t *arr = status ? json_object_get(j, "peers") : j, *found = NULL;
  size_t i;
  json_t *p;
  json_array_foreach(arr, i, p) {
    json_t *k = json_object_get(p, "key");
    if (json_is_string(k) && strcmp(json_string_value(k), key) == 0) found = json_deep_copy(p);
  }
  json_decref(j);
  if (!found) fail_msg("no peer %s in the status of %s", key, dir);
  return found;
}

static bool jtrue(const json_t *o, const char *key) {
  return json_is_true(json_object_get(o, key));
}

/* Poll until the peer `key` seen from `dir` is online (`online`) with
 * pending 0 (`caught_up`), at most `ms`; returns how long it took, or -1. */
static long long wait_peer(const char *dir, const char *key, bool online, bool caught_up, int ms) {
  uint64_t t0 = now_ms();
  for (;;) {
    json_t *p = peer_entry(dir, key, true);
    bool ok = jtrue(p, "online") == online && (!caught_up || jint(p, "pending") == 0);
    json_decref(p);
    if (ok) return (long long)(now_ms() - t0);
    if (now_ms() - t0 >= (uint64_t)ms) return -1;
    sleep_ms(20);
  }
}

static void test_live_status(void **state) {
  (void)state;
  const char *H = path("H"), *A = path("A");
  init(H), init(A);
  trust_pair(H, A);
  ident h = id_of(H), a = id_of(A);
  /* Never met: offline, no contact. */
  json_t *p = peer_entry(A, h.key, true);
  assert_false(jtrue(p, "online"));
  assert_true(json_is_null(json_object_get(p, "last_contact")));
  json_decref(p);

  bg *sh = SERVE(H, "H");
  bg *sa = SERVE_WITH(A, "A", "--peer", sh->addr);
  if (!wait_log(sa, T(10000), "synced", NULL)) {
    dump_log(sa);
    fail_msg("A never synced with H");
  }
  /* Both sides online, seen from other processes than the serves. */
  assert_true(wait_peer(A, h.key, true, false, T(2000)) >= 0);
  assert_true(wait_peer(H, a.key, true, false, T(2000)) >= 0);

  /* A change on A (another process): acknowledged by H, and A's status
   * says so within two seconds, while the session goes on. */
  for (int i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof name, "Live %d", i);
    free(add_customer(A, name, "Lyon"));
    p = peer_entry(A, h.key, true);
    long long pending = jint(p, "pending");
    json_decref(p);
    long long ms = wait_peer(A, h.key, true, true, T(2000));
    if (ms < 0) {
      dump_log(sa);
      dump_log(sh);
    }
    assert_true(ms >= 0);
    printf("# change %d on A: pending %lld just after, 0 on A's status %lld ms later\n", i, pending,
           ms);
  }
  /* And the hub's view of A: caught up too (its changes relayed back to A
   * are acknowledged by A). */
  assert_true(wait_peer(H, a.key, true, true, T(2000)) >= 0);
  p = peer_entry(H, a.key, false); /* peer list: the same fields */
  assert_true(jtrue(p, "online"));
  assert_true(json_is_string(json_object_get(p, "last_contact")));
  assert_true(json_is_string(json_object_get(p, "last_sync")));
  assert_true(jint(p, "acked") > 0);
  assert_int_equal(jint(p, "pending"), 0);
  json_decref(p);

  /* A clean stop of A: both sides offline at once, what was acked stays. */
  stop(sa);
  p = peer_entry(A, h.key, true);
  assert_false(jtrue(p, "online"));
  assert_int_equal(jint(p, "pending"), 0);
  json_decref(p);
  assert_true(wait_peer(H, a.key, false, true, T(2000)) >= 0);

  /* kill -9 of the hub: its record still names its process, which is
   * gone: A's own status (no process of A runs a session) says offline. */
  bg *sa2 = SERVE_WITH(A, "A2", "--peer", sh->addr);
  assert_true(wait_peer(A, h.key, true, false, T(5000)) >= 0);
  assert_true(wait_peer(H, a.key, true, false, T(2000)) >= 0);
  kill(sh->pid, SIGKILL);
  assert_int_equal(bg_wait(sh, T(10000)), 128 + SIGKILL);
  /* H's record of A names the dead serve of H: offline, read by a process
   * of its own. A's serve sees its session end and writes that at once. */
  p = peer_entry(H, a.key, true);
  assert_false(jtrue(p, "online"));
  json_decref(p);
  assert_true(wait_peer(A, h.key, false, false, T(3000)) >= 0);
  stop(sa2);
  stop_all();
}

/* The cells the hub's log says it received from the peer whose key starts
 * with `key8` (8 hex digits): the sum of its "synced, N cells in" lines, and
 * of the "session closed: N cells in (M new)" lines in `*closed_in` and
 * `*closed_new`. */
static long long hub_cells_from(bg *hub, const char *key8, long long *closed_in,
                                long long *closed_new) {
  char *log = slurp(hub->err_path), needle[32];
  long long synced = 0;
  snprintf(needle, sizeof needle, "(key %.8s", key8);
  *closed_in = *closed_new = 0;
  for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
    if (!strstr(line, needle)) continue;
    const char *at;
    long long n = 0, m = 0;
    if ((at = strstr(line, "synced, ")) && sscanf(at, "synced, %lld cells in", &n) == 1)
      synced += n;
    if ((at = strstr(line, "session closed: ")) &&
        sscanf(at, "session closed: %lld cells in (%lld new)", &n, &m) == 2) {
      *closed_in += n;
      *closed_new += m;
    }
  }
  free(log);
  return synced;
}

/* Poll until `dir` holds `n` customers, at most `ms`; how long, or -1. */
static long long wait_customers(const char *dir, long long n, int ms) {
  uint64_t t0 = now_ms();
  for (;;) {
    if (customer_count(dir) >= n) return (long long)(now_ms() - t0);
    if (now_ms() - t0 >= (uint64_t)ms) return -1;
    sleep_ms(20);
  }
}

static void test_no_echo(void **state) {
  (void)state;
  const char *H = path("H"), *L[3] = {path("L0"), path("L1"), path("L2")};
  ident h, l[3];
  init(H);
  for (int i = 0; i < 3; i++) {
    init(L[i]);
    trust_pair(H, L[i]);
    l[i] = id_of(L[i]);
  }
  h = id_of(H);
  bg *sh = SERVE(H, "H"), *sl[3];
  for (int i = 0; i < 3; i++) {
    char name[8];
    snprintf(name, sizeof name, "L%d", i);
    sl[i] = SERVE_WITH(L[i], name, "--peer", sh->addr);
  }
  for (int i = 0; i < 3; i++)
    if (!wait_log(sl[i], T(10000), "synced", NULL)) {
      dump_log(sl[i]);
      fail_msg("laptop %d never synced with the hub", i);
    }

  /* Five customers on laptop 0 (another process than its serve). */
  for (int i = 0; i < 5; i++) {
    char name[32];
    snprintf(name, sizeof name, "Relayed %d", i);
    free(add_customer(L[0], name, "Brest"));
  }
  long long at_hub = wait_customers(H, 5, T(5000));
  if (at_hub < 0) dump_log(sh);
  assert_true(at_hub >= 0);
  /* The hub applied them: every laptop's status is caught up with the hub
   * within two seconds (laptop 0's changes acknowledged, the others'
   * relayed copies applied and their empty streams acknowledged). */
  for (int i = 0; i < 3; i++) {
    long long ms = wait_peer(L[i], h.key, true, true, T(2000));
    if (ms < 0) {
      dump_log(sl[i]);
      dump_log(sh);
    }
    assert_true(ms >= 0);
    printf("# laptop %d: pending 0 on its status %lld ms after the hub applied\n", i, ms);
  }
  for (int i = 1; i < 3; i++)
    assert_true(wait_customers(L[i], 5, T(5000)) >= 0);
  assert_true(wait_peer(H, l[1].key, true, true, T(2000)) >= 0);
  assert_true(wait_peer(H, l[2].key, true, true, T(2000)) >= 0);

  /* Clean stops, so each session logs its counters, then the hub's. */
  for (int i = 0; i < 3; i++)
    stop(sl[i]);
  for (int i = 0; i < 3; i++) {
    char needle[32];
    snprintf(needle, sizeof needle, "(key %.8s", l[i].key);
    assert_true(wait_log(sh, T(5000), "session closed", needle));
  }
  stop(sh);
  long long in[3], closed_in[3], closed_new[3];
  for (int i = 0; i < 3; i++) {
    char key8[9];
    snprintf(key8, sizeof key8, "%.8s", l[i].key);
    in[i] = hub_cells_from(sh, key8, &closed_in[i], &closed_new[i]);
    printf("# hub's session with laptop %d: %lld cells in while live, %lld in (%lld new) at "
           "its close\n",
           i, in[i], closed_in[i], closed_new[i]);
  }
  /* Laptop 0 sent its changes once, every cell new to the hub. */
  assert_true(closed_in[0] > 0);
  assert_int_equal(closed_in[0], closed_new[0]);
  /* The two others relayed nothing back: no cell came in from them. */
  for (int i = 1; i < 3; i++) {
    if (closed_in[i] != 0 || in[i] != 0) dump_log(sh);
    assert_int_equal(closed_in[i], 0);
    assert_int_equal(in[i], 0);
  }
  for (int i = 1; i < 3; i++)
    assert_same_digest(H, L[i]);
  stop_all();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_live_status, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_no_echo, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
