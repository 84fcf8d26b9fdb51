/* tests/sync/test_revoke.c - revocation that bites,
 * with real processes.
 *
 * Before: 25 s after A removed B's key, B still received A's new customers
 * over the session it had open, and A accepted changes from another
 * removed peer: `carnet peer remove` changed the trust list, which only
 * the next handshake read. Now (engine/store/revoke.h, protocol/session.c S7):
 * the removal writes a signed revocation record in the same transaction;
 * every session reads `trustseq` at each input and tick, so the `carnet
 * serve` running on A's directory ends its session with B within a tick
 * although another process did the removal; the record travels first on
 * every session, and every replica that trusts A refuses B from then on.
 */
#define _GNU_SOURCE /* wait4 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/cliproc.h"

static char *add_customer(const char *dir, const char *name) {
  char *out = added_id(OK(dir, "customer", "add", "--name", name, "--city", "Lyon", "--json"));
  return out;
}

static bool has_customer(const char *dir, const char *name) {
  char *out = OK(dir, "customer", "list", "--json");
  bool yes = strstr(out, name) != NULL;
  free(out);
  return yes;
}

/* Waits until `dir` holds a customer named `name`. */
static bool wait_customer(const char *dir, const char *name, int timeout_ms) {
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  for (;;) {
    if (has_customer(dir, name)) return true;
    if (now_ms() >= deadline) return false;
    sleep_ms(20);
  }
}

/* Either line in b's log within the time: one wait for both (two waits in
 * a row spent the whole first one whenever the second line came). */
static bool wait_log_either(bg *b, int timeout_ms, const char *n1, const char *n2) {
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  for (;;) {
    if (count_log(b, n1) > 0 || count_log(b, n2) > 0) return true;
    if (now_ms() >= deadline) return false;
    sleep_ms(20);
  }
}

/* A serves; B (`serve --peer A --peer C`) and C (`serve --peer A`) keep
 * live sessions, B with both. A separate `carnet peer remove` on A, while
 * A's serve runs, cuts B within a second; B gets nothing A writes after;
 * C hears of it from A and cuts B too; B is refused from then on. */
static void test_remove_cuts_live_sessions(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B"), *C = path("C");
  proc_result r;
  init(A), init(B), init(C);
  trust_pair(A, B);
  trust_pair(A, C);
  /* B and C trust each other too (C adopted A's team already). */
  ident ib = id_of(B), ic = id_of(C);
  OK1(B, "peer", "trust", ic.key);
  OK1(C, "peer", "trust", ib.key);
  free(add_customer(A, "Avant la revocation"));

  bg *sa = SERVE(A, "A");
  bg *sc = SERVE_WITH(C, "C", "--peer", sa->addr);
  bg *sb = SERVE_WITH(B, "B", "--peer", sa->addr, "--peer", sc->addr);
  assert_true(wait_customer(B, "Avant la revocation", T(20000)));
  assert_true(wait_customer(C, "Avant la revocation", T(20000)));
  /* Both of B's sessions are live: a customer of C's reaches B. */
  free(add_customer(C, "De C, en direct"));
  assert_true(wait_customer(B, "De C, en direct", T(10000)));
  assert_true(wait_log(sb, T(10000), sc->addr, "synced"));

  /* The removal, by another process than the serve. */
  char *removed = OK(A, "peer", "remove", ib.key);
  uint64_t t0 = now_ms();
  assert_non_null(strstr(removed, "Revoked for the team"));
  free(removed);
  /* B's session with A ends, B being told why. */
  assert_true(wait_log(sb, T(1000), sa->addr, "no longer trusted here"));
  uint64_t cut_ms = now_ms() - t0;
  /* C hears of it from A and ends its session with B as well. */
  assert_true(wait_log(sc, T(2000), "no longer trusted here", NULL));
  uint64_t c_ms = now_ms() - t0;
  printf("# B's session with A ended %llu ms after 'peer remove' returned; C cut B after %llu ms\n",
         (unsigned long long)cut_ms, (unsigned long long)c_ms);

  /* What A writes now reaches C, never B (B redials both, refused). */
  free(add_customer(A, "Apres la revocation"));
  assert_true(wait_customer(C, "Apres la revocation", T(10000)));
  /* C's copy must not go on to B either: give B's redials time to try. */
  assert_true(wait_log_either(sb, T(10000), "refused", "does not trust"));
  assert_false(has_customer(B, "Apres la revocation"));
  /* And what B writes is refused by both. */
  free(add_customer(B, "De B, apres"));
  assert_int_equal(RUN(B, &r, "sync", sa->addr, "--timeout", "20s"), 1);
  assert_true(strstr(r.err, "refused") || strstr(r.err, "does not trust"));
  proc_result_free(&r);
  assert_int_equal(RUN(B, &r, "sync", sc->addr, "--timeout", "20s"), 1);
  assert_true(strstr(r.err, "refused") || strstr(r.err, "does not trust"));
  proc_result_free(&r);
  assert_false(has_customer(A, "De B, apres"));
  assert_false(has_customer(C, "De B, apres"));

  /* The record is C's now: listed with A as the revoker; and trusting B
   * again on C takes an override. */
  ident ia = id_of(A);
  json_t *j = OKJ(C, "peer", "revoked");
  assert_int_equal(json_array_size(j), 1);
  char key[80], by[80];
  jstr(json_array_get(j, 0), "key", key, sizeof key);
  jstr(json_array_get(j, 0), "by", by, sizeof by);
  assert_string_equal(key, ib.key);
  assert_string_equal(by, ia.key);
  json_decref(j);
  assert_int_equal(RUN(C, &r, "peer", "trust", ib.key), 1);
  assert_non_null(strstr(r.err, "--override-revocation"));
  proc_result_free(&r);
  assert_true(bg_alive(sa) && bg_alive(sb) && bg_alive(sc));
  stop_all();
}

/* --- a peer that stays connected ------------------------------------------------ */

typedef struct peer_conn {
  int fd;
  carnet_session *s;
  bool eof;
} peer_conn;

/* Writes what the session has to send, reads what came (within `ms`), feeds
 * it. Never closes, never says BYE. */
static void peer_step(peer_conn *p, int ms) {
  carnet_buf o = carnet_session_output(p->s);
  if (o.len) {
    ssize_t w = send(p->fd, o.base, o.len, MSG_NOSIGNAL);
    if (w > 0) carnet_session_sent(p->s, (size_t)w);
  }
  struct pollfd pf = {p->fd, POLLIN, 0};
  if (!p->eof && poll(&pf, 1, ms) > 0) {
    uint8_t buf[65536];
    ssize_t n = recv(p->fd, buf, sizeof buf, 0);
    if (n > 0)
      carnet_session_input(p->s, buf, (size_t)n, now_ms());
    else
      p->eof = true;
  }
  carnet_session_tick(p->s, now_ms());
}

/* D is this test process: it syncs with A's serve through the library over
 * a plain socket, then only reads; it never closes its end and never sends
 * BYE. Removing D on A ends the session anyway: within a second D has read
 * A's ERROR and A's end of the connection (FIN). */
static void test_peer_that_stays_connected_is_cut(void **state) {
  (void)state;
  const char *A = path("A"), *D = path("D");
  init(A), init(D);
  trust_pair(A, D);
  free(add_customer(A, "Pour D"));
  bg *sa = SERVE(A, "A");

  carnet_replica *rd = NULL;
  char why[256];
  assert_int_equal(carnet_replica_open(D, NULL, &rd, why, sizeof why), 0);
  struct sockaddr_in sin = {.sin_family = AF_INET};
  sin.sin_port = htons((uint16_t)atoi(strrchr(sa->addr, ':') + 1));
  assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr), 1);
  peer_conn p = {.fd = socket(AF_INET, SOCK_STREAM, 0)};
  assert_true(p.fd >= 0);
  assert_int_equal(connect(p.fd, (struct sockaddr *)&sin, sizeof sin), 0);
  carnet_session_opts so = {.initiator = true};
  assert_int_equal(carnet_session_new(rd, &so, now_ms(), &p.s), 0);
  uint64_t deadline = now_ms() + (uint64_t)T(10000);
  while (carnet_session_get_state(p.s) != CARNET_SESSION_IDLE && now_ms() < deadline)
    peer_step(&p, 20);
  assert_int_equal(carnet_session_get_state(p.s), CARNET_SESSION_IDLE);

  ident id = id_of(D);
  OK1(A, "peer", "remove", id.key);
  uint64_t t0 = now_ms();
  free(add_customer(A, "Apres, pas pour D"));
  deadline = t0 + (uint64_t)T(1000);
  while (!p.eof && now_ms() < deadline)
    peer_step(&p, 20);
  uint64_t cut_ms = now_ms() - t0;
  assert_true(p.eof); /* A closed its side, though D never did */
  assert_int_equal(carnet_session_get_state(p.s), CARNET_SESSION_FAILED);
  assert_int_equal(carnet_session_get_error(p.s), CARNET_EPERM);
  assert_non_null(strstr(carnet_session_errmsg(p.s), "no longer trusted here"));
  printf("# the peer that never disconnects was cut %llu ms after 'peer remove' returned: %s\n",
         (unsigned long long)cut_ms, carnet_session_errmsg(p.s));
  carnet_session_free(p.s);
  close(p.fd);
  carnet_replica_close(rd);
  assert_false(has_customer(D, "Apres, pas pour D"));
  assert_true(has_customer(D, "Pour D"));
  assert_true(wait_log(sa, T(2000), "no longer trusted here", NULL));
  assert_true(bg_alive(sa));
  stop_all();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_remove_cuts_live_sessions, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_peer_that_stays_connected_is_cut, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
