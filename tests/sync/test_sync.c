/* tests/sync/test_sync.c - network sync between real `carnet` processes.
 *
 * Every test runs the real binary ($CARNET_BIN): `carnet serve` in the
 * background (its stdout read for "listening on 127.0.0.1:PORT", its stderr
 * kept in a file to look for log lines), and `carnet sync`, `join`, ... in
 * the foreground through tests/support/proc.h. Only 127.0.0.1 and ephemeral
 * ports. Every wait has a deadline (scaled up under sanitizers), and every
 * background process is killed (SIGKILL to its process group) and reaped in
 * the teardown, even when an assertion failed half way.
 *
 * Large replicas (20,000 and 100,000 customers) are built in this process
 * with the public API, before any `carnet` process opens the directory, and
 * closed after (one LMDB environment per directory per process).
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
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carnet/carnet.h"
#include "support/proc.h"
#include "support/testenv.h"

#include "replica/node.h" /* the admission limits */
#include "support/cliproc.h"

/* === (a) three replicas, A-B and B-C only, converge ===================== */

static char *add_customer(const char *dir, const char *name, const char *city) {
  char *out = added_id(OK(dir, "customer", "add", "--name", name, "--city", city, "--json"));
  return out; /* the id */
}

static void test_three_replicas_converge(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B"), *C = path("C");
  init(A), init(B), init(C);
  trust_pair(A, B);
  trust_pair(B, C);
  trust_pair(A, C); /* pairwise, though A and C never meet */
  char *shared = add_customer(A, "Dupont SARL", "Lyon");
  char *other = add_customer(A, "Martin", "Paris");
  char *gone = add_customer(A, "Petit", "Lille");

  /* Everyone gets A's customers: B from A, C from B. */
  bg *sa = SERVE(A, "A");
  json_t *j = sync_json(B, sa->addr);
  assert_int_equal(jint(j, "cells_applied") > 0, 1);
  json_decref(j);
  bg *sb = SERVE(B, "B");
  json_decref(sync_json(C, sb->addr));
  stop(sa);

  /* Offline edits: the same field of one customer everywhere (a conflict),
   * different fields and customers, a delete, a new customer on each. */
  OK1(A, "customer", "edit", shared, "--notes", "from A", "--tag", "a");
  OK1(B, "customer", "edit", shared, "--notes", "from B", "--email", "b@dupont.fr");
  OK1(C, "customer", "edit", shared, "--notes", "from C", "--city", "Villeurbanne");
  OK1(A, "customer", "edit", other, "--sales-rep", "alice");
  OK1(C, "customer", "edit", other, "--tag", "vip");
  OK1(B, "customer", "delete", gone);
  free(add_customer(A, "New on A", "Nice"));
  free(add_customer(B, "New on B", "Brest"));
  free(add_customer(C, "New on C", "Caen"));

  /* A<->B and C<->B, round after round, until a round moves nothing. */
  int rounds = 0;
  for (bool quiet = false; !quiet; rounds++) {
    assert_true(rounds < 6);
    quiet = true;
    const char *clients[2] = {A, C};
    for (int i = 0; i < 2; i++) {
      j = sync_json(clients[i], sb->addr);
      if (jint(j, "cells_in") || jint(j, "cells_out")) quiet = false;
      json_decref(j);
    }
  }
  printf("# converged after %d rounds (the last one quiet)\n", rounds);
  assert_true(rounds <= 4);

  char *la = OK(A, "customer", "list", "--deleted", "--json");
  char *lb = OK(B, "customer", "list", "--deleted", "--json");
  char *lc = OK(C, "customer", "list", "--deleted", "--json");
  assert_string_equal(la, lb);
  assert_string_equal(lb, lc);
  json_t *list = parse_json(la);
  assert_int_equal(json_array_size(list), 6);
  json_decref(list);
  char *da = digest(A), *db = digest(B), *dc = digest(C);
  assert_string_equal(da, db);
  assert_string_equal(db, dc);
  free(la), free(lb), free(lc), free(da), free(db), free(dc);
  free(shared), free(other), free(gone);
  stop_all();
}

/* === merges in opposite directions, then an unmerge ====================== */

static char *show_json(const char *dir, const char *ref) {
  return OK(dir, "customer", "show", ref, "--json");
}

static void test_merge_opposite_directions(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  init(A), init(B);
  trust_pair(A, B);
  char *x = added_id(OK(A, "customer", "add", "--name", "Sophie Martin", "--email",
                        "sophie@martin.fr", "--city", "Lyon", "--postcode", "69003", "--json"));
  char *y =
      added_id(OK(A, "customer", "add", "--name", "Sophie Martin", "--email", "s.martin@free.fr",
                  "--city", "Lyon", "--postcode", "69003", "--force", "--json"));
  bg *sa = SERVE(A, "A");
  json_decref(sync_json(B, sa->addr));

  /* Offline on both: A merges Y into X, B merges X into Y; both edit. */
  OK1(A, "merge", x, y);
  OK1(B, "merge", y, x);
  OK1(A, "customer", "edit", x, "--tag", "from-a");
  OK1(B, "customer", "edit", y, "--notes", "edited on B while merged");
  json_decref(sync_json(B, sa->addr));
  json_decref(sync_json(B, sa->addr));

  /* One survivor, the same on both, showing everything of both. */
  char *ax = show_json(A, x), *ay = show_json(A, y), *bx = show_json(B, x), *by = show_json(B, y);
  assert_string_equal(ax, ay);
  assert_string_equal(ax, bx);
  assert_string_equal(ax, by);
  json_t *j = parse_json(ax);
  char surv[40];
  jstr(j, "id", surv, sizeof surv);
  assert_string_equal(surv, strcmp(x, y) < 0 ? x : y); /* a tie: the smaller id */
  assert_int_equal(json_array_size(json_object_get(j, "merged")), 1);
  assert_int_equal(json_array_size(json_object_get(j, "emails")), 2);
  assert_non_null(strstr(ax, "from-a"));
  assert_non_null(strstr(ax, "edited on B while merged"));
  json_decref(j);
  char *la = OK(A, "customer", "list", "--json"), *lb = OK(B, "customer", "list", "--json");
  assert_string_equal(la, lb);
  j = parse_json(la);
  assert_int_equal(json_array_size(j), 1);
  json_decref(j);
  char *da = digest(A), *db = digest(B);
  assert_string_equal(da, db);
  free(ax), free(ay), free(bx), free(by), free(la), free(lb), free(da), free(db);

  /* An unmerge on B reaches A: two customers again, each with its data. */
  OK1(B, "unmerge", y);
  json_decref(sync_json(B, sa->addr));
  la = OK(A, "customer", "list", "--json");
  lb = OK(B, "customer", "list", "--json");
  assert_string_equal(la, lb);
  j = parse_json(la);
  assert_int_equal(json_array_size(j), 2);
  json_decref(j);
  ay = show_json(A, y);
  assert_non_null(strstr(ay, "s.martin@free.fr"));
  assert_null(strstr(ay, "sophie@martin.fr"));
  assert_non_null(strstr(ay, "edited on B while merged"));
  free(ay), free(la), free(lb), free(x), free(y);
  stop_all();
}

/* === (b) invite and join ================================================== */

static void test_invite_join(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B"), *C = path("C"), *D = path("D");
  proc_result r;
  init(A), init(B), init(C), init(D);

  /* No serve yet, no --addr: a clear error. */
  assert_int_equal(RUN(A, &r, "invite"), 1);
  assert_non_null(strstr(r.err, "carnet serve"));
  proc_result_free(&r);

  bg *sa = SERVE(A, "A");
  free(add_customer(A, "Dupont SARL", "Lyon"));
  char *token = OK(A, "invite");
  token[strcspn(token, "\n")] = '\0';
  assert_true(strncmp(token, "carnet1:", 8) == 0);

  ident ia = id_of(A), ib = id_of(B);
  char *out = OK(B, "join", token);
  assert_non_null(strstr(out, "joined the team of"));
  assert_non_null(strstr(out, ia.key));
  free(out);
  /* Both sides trust each other now, B is in A's team and has A's data;
   * B joined as a member (the default of join), A stays an admin. */
  assert_string_equal(id_of(B).team, ia.team);
  char role[16];
  json_t *st = OKJ(B, "status");
  jstr(st, "role", role, sizeof role);
  assert_string_equal(role, "member");
  json_decref(st);
  st = OKJ(A, "status");
  jstr(st, "role", role, sizeof role);
  assert_string_equal(role, "admin");
  json_decref(st);
  assert_int_equal(customer_count(B), 1);
  json_t *pa = OKJ(A, "peer", "list");
  assert_int_equal(json_array_size(pa), 1);
  char key[65];
  jstr(json_array_get(pa, 0), "key", key, sizeof key);
  assert_string_equal(key, ib.key);
  json_decref(pa);
  json_decref(sync_json(B, sa->addr)); /* and they sync as peers */

  /* The same token again, from another replica: refused. */
  assert_int_equal(RUN(C, &r, "join", token), 1);
  assert_int_equal(r.out_len, 0);
  assert_int_equal(proc_count_lines(r.err), 1);
  assert_non_null(strstr(r.err, "refused"));
  printf("# second join: %s", r.err);
  proc_result_free(&r);
  assert_int_equal(customer_count(C), 0);
  st = OKJ(C, "status"); /* a refused join leaves the role as it was */
  jstr(st, "role", role, sizeof role);
  assert_string_equal(role, "admin");
  json_decref(st);

  /* An expired token: refused. */
  char *old = OK(A, "invite", "--ttl", "1s");
  old[strcspn(old, "\n")] = '\0';
  sleep_ms(2000);
  assert_int_equal(RUN(D, &r, "join", old), 1);
  assert_int_equal(proc_count_lines(r.err), 1);
  assert_non_null(strstr(r.err, "expired"));
  printf("# expired token: %s", r.err);
  proc_result_free(&r);
  assert_int_equal(customer_count(D), 0);

  /* Not a token at all. */
  assert_int_equal(RUN(D, &r, "join", "hello"), 1);
  assert_non_null(strstr(r.err, "invite token"));
  proc_result_free(&r);

  assert_true(bg_alive(sa));
  free(token);
  free(old);
  stop_all();
}

/* === (c) an untrusted replica is refused ================================== */

static void test_untrusted_refused(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B"), *U = path("U");
  proc_result r;
  init(A), init(B), init(U);
  trust_pair(A, B);
  /* U trusts A and joins its team by hand, but A does not trust U. */
  ident ia = id_of(A), iu = id_of(U);
  OK1(U, "peer", "trust", ia.key, "--team", ia.team);
  free(add_customer(A, "Secret customer", "Lyon"));
  bg *sa = SERVE(A, "A");

  assert_int_equal(RUN(U, &r, "sync", sa->addr), 1);
  assert_int_equal(proc_count_lines(r.err), 1);
  /* The server's sealed ERROR reaches us: the message says why. */
  assert_non_null(strstr(r.err, "does not trust your key"));
  printf("# untrusted sync: %s", r.err);
  proc_result_free(&r);
  char kshort[9];
  snprintf(kshort, sizeof kshort, "%.8s", iu.key);
  if (!wait_log(sa, T(5000), "refused 127.0.0.1:", kshort)) {
    dump_log(sa);
    fail_msg("no 'refused' line in the server's log");
  }
  assert_int_equal(customer_count(U), 0);
  assert_true(bg_alive(sa));
  json_t *j = sync_json(B, sa->addr); /* the server keeps serving */
  assert_int_equal(jint(j, "cells_applied") > 0, 1);
  json_decref(j);

  /* Trust removed: refused again. */
  ident ib = id_of(B);
  OK1(A, "peer", "remove", ib.key);
  assert_int_equal(RUN(B, &r, "sync", sa->addr), 1);
  assert_true(strstr(r.err, "refused") || strstr(r.err, "does not trust"));
  proc_result_free(&r);

  /* Nobody serving there: unreachable, exit 1, a clear message. */
  stop(sa);
  assert_int_equal(RUN(B, &r, "sync", sa->addr), 1);
  assert_non_null(strstr(r.err, "connection refused (is 'carnet serve' running there?)"));
  printf("# unreachable: %s", r.err);
  proc_result_free(&r);
  stop_all();
}

/* === (d) garbage on the wire ============================================= */

/* Connects to addr ("127.0.0.1:PORT"), returns the socket and its local
 * port. */
static int raw_connect(const char *addr, char local[32]) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)atoi(strrchr(addr, ':') + 1));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  snprintf(local, 32, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
  return fd;
}

/* Sends bytes, optionally half-closes, then waits (bounded) for the server
 * to close the connection. Returns true when it did. */
static bool send_and_wait_close(int fd, const void *bytes, size_t len, bool half_close,
                                int timeout_ms) {
  signal(SIGPIPE, SIG_IGN);
  ssize_t w = send(fd, bytes, len, MSG_NOSIGNAL);
  (void)w; /* the server may have closed already: that is fine */
  if (half_close) shutdown(fd, SHUT_WR);
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  char buf[4096];
  for (;;) {
    uint64_t now = now_ms();
    if (now >= deadline) return false;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, (int)(deadline - now)) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true; /* EOF or reset: closed */
  }
}

static void test_garbage_on_the_wire(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  init(A), init(B);
  trust_pair(A, B);
  free(add_customer(A, "Dupont SARL", "Lyon"));
  bg *sa = SERVE(A, "A");
  uint8_t junk[2048];
  trng g;
  trng_seed(&g, 42);
  trng_bytes(&g, junk, sizeof junk);
  static const uint8_t oversized[4] = {0xff, 0xff, 0xff, 0xff};
  /* A handshake frame announcing 64 bytes, cut after 10. */
  static const uint8_t truncated[14] = {0, 0, 0, 64, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  const struct {
    const char *what;
    const void *bytes;
    size_t len;
    bool half_close;
  } cases[] = {
      {"random bytes", junk, sizeof junk, false},
      {"oversized frame header", oversized, sizeof oversized, false},
      {"truncated handshake", truncated, sizeof truncated, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char local[32];
    int fd = raw_connect(sa->addr, local);
    bool closed = send_and_wait_close(fd, cases[i].bytes, cases[i].len, cases[i].half_close,
                                      T(CARNET_SESSION_TIMEOUT_MS / 4));
    close(fd);
    if (!closed) fail_msg("%s: the server did not close the connection", cases[i].what);
    if (!wait_log(sa, T(5000), local, NULL)) {
      dump_log(sa);
      fail_msg("%s: no log line about %s", cases[i].what, local);
    }
    assert_true(bg_alive(sa));
    printf("# %s: connection closed and logged\n", cases[i].what);
  }

  /* Admission (replica/node.c A1-A6): 64 connections that say nothing, all
   * from one address, no longer hold every slot. The node keeps at most
   * CARNET_NODE_HANDSHAKES_PER_ADDR of them (the newest: each newcomer takes
   * the place of the oldest idle one) and turns the others away, each told
   * it is busy (a plaintext ERROR frame) before the close, with a summary
   * line in the log rather than a line each; the ones kept are closed at
   * their handshake deadline. */
  enum { MAX = 64 };
  struct pollfd held[MAX];
  char local[32];
  for (int i = 0; i < MAX; i++)
    held[i] = (struct pollfd){raw_connect(sa->addr, local), POLLIN, 0};
  int closed = 0, told = 0;
  bool got[MAX] = {false};
  uint64_t deadline = now_ms() + (uint64_t)T(CARNET_NODE_HANDSHAKE_MS + 5000);
  while (closed < MAX && now_ms() < deadline) {
    if (poll(held, MAX, 100) <= 0) continue;
    for (int i = 0; i < MAX; i++) {
      if (held[i].fd < 0 || held[i].revents == 0) continue;
      char buf[512];
      ssize_t n = recv(held[i].fd, buf, sizeof buf, 0);
      if (n > 0) {
        got[i] = true;
        continue;
      }
      told += got[i];
      closed++;
      close(held[i].fd);
      held[i].fd = -1;
    }
  }
  assert_int_equal(closed, MAX);
  assert_true(told >= MAX - (int)CARNET_NODE_HANDSHAKES_PER_ADDR);
  if (!wait_log(sa, T(5000), "busy: turned away", NULL)) {
    dump_log(sa);
    fail_msg("no 'busy: turned away' line");
  }
  printf("# 64 idle connections from one address: %d told busy and closed, the rest closed at "
         "their deadline\n",
         told);

  json_t *j = sync_json(B, sa->addr); /* still serving */
  assert_int_equal(jint(j, "cells_applied") > 0, 1);
  json_decref(j);
  stop_all();
}

/* === (e) live push through two serves ===================================== */

static bool list_has(const char *dir, const char *needle) {
  char *out = OK(dir, "customer", "list", "--json");
  bool yes = strstr(out, needle) != NULL;
  free(out);
  return yes;
}

static void test_live_push(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  init(A), init(B);
  trust_pair(A, B);
  bg *sa = SERVE(A, "A");
  bg *sb = SERVE_WITH(B, "B", "--peer", sa->addr);
  if (!wait_log(sb, T(10000), "synced", NULL)) {
    dump_log(sb);
    fail_msg("B never synced with A");
  }
  uint64_t t0 = now_ms();
  free(add_customer(A, "Pushed Live", "Lyon")); /* another process writing A */
  bool seen = false;
  while (!seen && now_ms() - t0 < (uint64_t)T(3000)) {
    seen = list_has(B, "Pushed Live");
    if (!seen) sleep_ms(50);
  }
  if (!seen) {
    dump_log(sa);
    dump_log(sb);
  }
  assert_true(seen);
  printf("# a customer added on A showed on B after %llu ms\n",
         (unsigned long long)(now_ms() - t0));
  /* And the other way, through the same live session. */
  t0 = now_ms();
  free(add_customer(B, "Pushed Back", "Paris"));
  seen = false;
  while (!seen && now_ms() - t0 < (uint64_t)T(3000)) {
    seen = list_has(A, "Pushed Back");
    if (!seen) sleep_ms(50);
  }
  assert_true(seen);
  printf("# and B -> A after %llu ms\n", (unsigned long long)(now_ms() - t0));

  /* A restarts on the same port: B redials it (with backoff) and changes
   * flow again. */
  char addr[64];
  snprintf(addr, sizeof addr, "%s", sa->addr);
  int unreachable = count_log(sb, "cannot reach");
  stop(sa);
  free(add_customer(A, "While Apart", "Nice"));
  /* B fails to reach A at least once before A comes back: waited for in
   * B's log, not assumed from a sleep. */
  uint64_t t1 = now_ms();
  while (count_log(sb, "cannot reach") == unreachable && now_ms() - t1 < (uint64_t)T(10000))
    sleep_ms(20);
  if (count_log(sb, "cannot reach") == unreachable) dump_log(sb);
  assert_true(count_log(sb, "cannot reach") > unreachable);
  assert_true(bg_alive(sb));
  t0 = now_ms();
  bg *sa2 = SERVE_WITH(A, "A2", "--listen", addr);
  assert_string_equal(sa2->addr, addr);
  seen = false;
  while (!seen && now_ms() - t0 < (uint64_t)T(10000)) {
    seen = list_has(B, "While Apart");
    if (!seen) sleep_ms(50);
  }
  if (!seen) dump_log(sb);
  assert_true(seen);
  printf("# after A restarted, B redialled and synced in %llu ms\n",
         (unsigned long long)(now_ms() - t0));
  stop(sb);
  stop(sa2);
  stop_all();
}

/* === A tampered frame on a real connection ================================ */

/* A one-connection TCP proxy in a child process: forwards both ways, flips
 * one bit of the client -> server stream at byte `flip_at` (UINT64_MAX:
 * none), and holds the server -> client stream for `hold_ms` once
 * `hold_at` bytes of it went through. Bounded by alarm(). Returns the
 * child's pid; *port receives the proxy's port. */
static pid_t relay_proxy(const char *target, uint64_t flip_at, uint64_t hold_at, unsigned hold_ms,
                         unsigned *port) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(lfd >= 0);
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(lfd, 1), 0);
  assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
  *port = ntohs(sa.sin_port);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid > 0) {
    close(lfd);
    return pid;
  }
  alarm(20);
  int cfd = accept(lfd, NULL, NULL);
  char local[32];
  int sfd = raw_connect(target, local);
  uint64_t c2s = 0, s2c = 0;
  bool held = false;
  struct pollfd p[2] = {{cfd, POLLIN, 0}, {sfd, POLLIN, 0}};
  char buf[65536];
  for (;;) {
    if (poll(p, 2, 20000) <= 0) _exit(1);
    for (int i = 0; i < 2; i++) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = recv(p[i].fd, buf, sizeof buf, 0);
      if (n <= 0) _exit(0);
      if (i == 0) {
        if (flip_at >= c2s && flip_at < c2s + (uint64_t)n) buf[flip_at - c2s] ^= 0x08;
        c2s += (uint64_t)n;
      }
      if (send(p[1 - i].fd, buf, (size_t)n, MSG_NOSIGNAL) != n) _exit(0);
      if (i == 1 && (s2c += (uint64_t)n) >= hold_at && !held) {
        held = true;
        sleep_ms(hold_ms);
      }
    }
  }
}

static void test_tampered_frame_tcp(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  init(A), init(B);
  trust_pair(A, B);
  free(add_customer(A, "Client Intact", "Lyon"));
  free(add_customer(B, "Client Du Portable", "Brest"));
  char *before = digest(A);
  bg *sa = SERVE(A, "A");
  /* The client's handshake is two frames of 63 and 162 bytes (233 with
   * headers): byte 260 is inside its first encrypted frame. */
  unsigned port;
  pid_t proxy = relay_proxy(sa->addr, 260, UINT64_MAX, 0, &port);
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
  proc_result r;
  const char *const args[] = {"sync", addr, "--timeout", "20s", NULL};
  int code = run_v(B, &r, args);
  printf("# carnet sync through the tampering proxy: exit %d: %s", code, r.err);
  assert_int_equal(code, 1);
  if (!wait_log(sa, T(5000), "bad frame", NULL)) {
    dump_log(sa);
    fail_msg("the server did not log the tampered frame");
  }
  int status;
  waitpid(proxy, &status, 0);
  /* The server applied nothing of the tampered session (B's customer is
   * not on A), and it still serves: a clean sync then carries it. */
  char *after = digest(A);
  assert_string_equal(before, after);
  assert_false(list_has(A, "Client Du Portable"));
  json_t *j = sync_json(B, sa->addr);
  json_decref(j);
  assert_true(list_has(A, "Client Du Portable"));
  assert_true(list_has(B, "Client Intact"));
  assert_true(bg_alive(sa));
  proc_result_free(&r);
  free(before);
  free(after);
  stop(sa);
  stop_all();
}

/* === LAN discovery: no address given, the replicas find each other ======= */

static void test_discovery(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B"), *S = path("S");
  init(A), init(B), init(S);
  trust_pair(A, B);
  /* S trusts A and has its team, but nobody trusts S. */
  ident a = id_of(A);
  OK1(S, "peer", "trust", a.key, "--team", a.team);
  char port[16];
  snprintf(port, sizeof port, "%u", 20000u + (unsigned)(getpid() % 20000));
  free(add_customer(A, "Found On The LAN", "Rennes"));
  bg *sa =
      SERVE_WITH(A, "A", "--discover", "--discover-iface", "127.0.0.1", "--discover-port", port);
  bg *ss =
      SERVE_WITH(S, "S", "--discover", "--discover-iface", "127.0.0.1", "--discover-port", port);
  bg *sb =
      SERVE_WITH(B, "B", "--discover", "--discover-iface", "127.0.0.1", "--discover-port", port);
  uint64_t t0 = now_ms();
  bool seen = false;
  while (!seen && now_ms() - t0 < (uint64_t)T(15000)) {
    seen = list_has(B, "Found On The LAN");
    if (!seen) sleep_ms(100);
  }
  if (!seen) {
    dump_log(sa);
    dump_log(sb);
  }
  assert_true(seen);
  printf("# B found A on the LAN and synced in %llu ms, with no address configured\n",
         (unsigned long long)(now_ms() - t0));
  /* The stranger learnt nothing: A never dialled it nor accepted it. */
  assert_false(list_has(S, "Found On The LAN"));
  stop(sb);
  stop(ss);
  stop(sa);
  stop_all();
}

/* === A sync's progress on a terminal ===================================== */

/* `carnet sync` with a terminal for its output, through a proxy that holds
 * the server's stream for 1.5 s part-way: the sync runs past a second, so
 * its progress line is drawn, and it is erased before the summary. */
static void test_progress_on_a_terminal(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  char first[CARNET_ID_HEX_LEN + 1], addr[32], out[65536];
  build_replica(A, 3000, first);
  init(B);
  trust_pair(A, B);
  bg *sa = SERVE(A, "A");
  unsigned port;
  pid_t proxy = relay_proxy(sa->addr, UINT64_MAX, 200000, 1500, &port);
  snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
  int term;
  pid_t pid = forkpty(&term, NULL, NULL, NULL);
  assert_true(pid >= 0);
  if (pid == 0) {
    execl(F->bin, F->bin, "--dir", B, "sync", addr, "--timeout", "60s", (char *)NULL);
    _exit(127);
  }
  size_t len = 0;
  uint64_t t0 = now_ms();
  while (len < sizeof out - 1 && now_ms() - t0 < (uint64_t)T(30000)) {
    struct pollfd p = {term, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    ssize_t n = read(term, out + len, sizeof out - 1 - len);
    if (n <= 0) break; /* EIO: the child closed the terminal */
    len += (size_t)n;
  }
  out[len] = '\0';
  close(term);
  int st = -1;
  while (waitpid(pid, &st, WNOHANG) == 0 && now_ms() - t0 < (uint64_t)T(35000))
    sleep_ms(20);
  if (!WIFEXITED(st)) kill(pid, SIGKILL), waitpid(pid, &st, 0);
  kill(proxy, SIGKILL);
  waitpid(proxy, NULL, 0);
  const char *line = strstr(out, "carnet sync: 127.0.0.1:"), *sum = strstr(out, "Synced with");
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !line || !sum) fail_msg("carnet sync: %s", out);
  printf("# sync on a terminal: %zu bytes of output, the progress line first drawn %zu bytes in\n",
         len, (size_t)(line - out));
  assert_non_null(strstr(line, "changed fields ("));
  assert_true(line < sum);
  assert_true(sum - out >= 4 && memcmp(sum - 4, "\r\033[K", 4) == 0);
  assert_same_digest(A, B);
  stop_all();
}

/* === (f) SIGKILL of the receiver during a large first sync ============== */

static void test_kill_during_first_sync(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  char first[CARNET_ID_HEX_LEN + 1];
  enum { N = 20000 };
  build_replica(A, N, first);
  init(B);
  trust_pair(A, B);
  bg *sa = SERVE(A, "A");

  /* The sync goes through a proxy that stops forwarding A's stream after
   * 2 MB (of about 8): B has then applied and committed some batches, and
   * waits for the rest. Killed there, deterministically, whatever the
   * machine's speed. */
  unsigned port;
  pid_t proxy = relay_proxy(sa->addr, UINT64_MAX, 2u << 20, 30000, &port);
  char via[64];
  snprintf(via, sizeof via, "127.0.0.1:%u", port);
  const char *argv[] = {F->bin, "--dir", B, "sync", via, NULL};
  uint64_t t0 = now_ms();
  bg *sb = bg_spawn(argv, "sync-B.log");
  long long held = 0;
  while ((held = customer_count(B)) == 0 && bg_alive(sb) && now_ms() - t0 < (uint64_t)T(20000))
    sleep_ms(20);
  assert_true(bg_alive(sb)); /* still waiting for the rest of the stream */
  kill(sb->pid, SIGKILL);
  int st = bg_wait(sb, T(10000));
  kill(proxy, SIGKILL);
  waitpid(proxy, NULL, 0);
  printf("# first sync killed after %llu ms with %lld customers applied (status %d)\n",
         (unsigned long long)(now_ms() - t0), held, st);
  assert_int_equal(st, 128 + SIGKILL);

  long long before = customer_count(B);
  assert_true(before > 0 && before < N);
  t0 = now_ms();
  json_t *j = sync_json(B, sa->addr);
  printf("# B held %lld customers after the kill; the second sync took %llu ms, %lld cells in, "
         "%lld applied\n",
         before, (unsigned long long)(now_ms() - t0), jint(j, "cells_in"),
         jint(j, "cells_applied"));
  /* Batches applied before the kill are not sent again: the second sync
   * resumes from the mark stored with the last of them. What it receives
   * beyond what it applies (cells B already had) is well under what B
   * held before it (every customer has the same number of cells). */
  long long in = jint(j, "cells_in"), applied = jint(j, "cells_applied");
  long long per_customer = applied / (N - before), resent = in - applied;
  printf("# %lld cells per customer; %lld cells received again\n", per_customer, resent);
  assert_true(per_customer > 0);
  assert_true(resent * 2 < per_customer * before);
  json_decref(j);
  assert_int_equal(customer_count(B), N);
  assert_same_digest(A, B);
  assert_true(bg_alive(sa));
  stop_all();
}

/* === (g) SIGTERM stops serve cleanly ====================================== */

static void test_sigterm_clean_exit(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  char addr_file[1200];
  init(A), init(B);
  trust_pair(A, B);
  bg *sa = SERVE(A, "A");
  snprintf(addr_file, sizeof addr_file, "%s/serve.addr", A);
  assert_true(file_exists(addr_file));
  char *content = slurp(addr_file);
  content[strcspn(content, "\n")] = '\0';
  assert_string_equal(content, sa->addr);
  free(content);
  /* With a live session in progress: B serves and keeps a session to A. */
  bg *sb = SERVE_WITH(B, "B", "--peer", sa->addr);
  if (!wait_log(sa, T(10000), "synced", NULL)) {
    dump_log(sa);
    fail_msg("no session between A and B");
  }
  stop(sa);
  assert_false(file_exists(addr_file));
  assert_true(wait_log(sa, 0, "stopped", NULL));
  /* B noticed, keeps running and retries. */
  if (!wait_log(sb, T(5000), "next attempt", NULL)) dump_log(sb);
  assert_true(bg_alive(sb));
  kill(sb->pid, SIGINT);
  assert_int_equal(bg_wait(sb, T(10000)), 0);

  /* A serve killed with SIGKILL leaves serve.addr behind: `invite` sees
   * that no serve runs and says so, rather than inviting to a dead port. */
  bg *again = SERVE(A, "A-again");
  kill(again->pid, SIGKILL);
  assert_int_equal(bg_wait(again, T(10000)), 128 + SIGKILL);
  assert_true(file_exists(addr_file));
  proc_result r;
  assert_int_equal(RUN(A, &r, "invite"), 1);
  assert_non_null(strstr(r.err, "no longer running"));
  proc_result_free(&r);
  stop_all();
}

/* === (h) the bytes of one changed field ================================== */

static void test_one_field_cost(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  char first[CARNET_ID_HEX_LEN + 1];
  /* 100,000 customers in the normal build (the first sync's figure is
   * printed); a fifth under AddressSanitizer, where the point is memory
   * errors and the one field's cost does not depend on the size. */
#if defined(__SANITIZE_ADDRESS__)
  enum { N = 20000 };
#else
  enum { N = 100000 };
#endif
  build_replica(A, N, first);
  init(B);
  trust_pair(A, B);
  bg *sa = SERVE(A, "A");

  /* The first sync, in a process of our own to read its peak RSS. */
  const char *argv[] = {F->bin, "--dir", B, "sync", sa->addr, "--json", NULL};
  uint64_t t0 = now_ms();
  bg *sb = bg_spawn(argv, "sync-B.log");
  int st = bg_wait(sb, T(RUN_MS));
  uint64_t ms = now_ms() - t0;
  if (st != 0) dump_log(sb);
  assert_int_equal(st, 0);
  char out[8192] = "";
  ssize_t n = read(sb->out_fd, out, sizeof out - 1);
  assert_true(n > 0);
  out[n] = '\0';
  json_t *j = parse_json(out);
  printf("# first sync of %u customers: %.2f s, %lld bytes in, %lld out, %lld cells; peak RSS of "
         "the receiving process %ld KiB\n",
         N, ms / 1000.0, jint(j, "bytes_in"), jint(j, "bytes_out"), jint(j, "cells_in"),
         sb->ru.ru_maxrss);
  json_decref(j);
  assert_int_equal(customer_count(B), N);

  OK1(A, "customer", "edit", first, "--notes", "Called back: quote sent.");
  j = sync_json(B, sa->addr);
  long long bytes = jint(j, "bytes_in") + jint(j, "bytes_out");
  printf("# one changed field: %lld bytes on the wire (%lld in, %lld out), handshake included; "
         "%lld cells in\n",
         bytes, jint(j, "bytes_in"), jint(j, "bytes_out"), jint(j, "cells_in"));
  assert_int_equal(jint(j, "cells_in"), 1);
  assert_int_equal(jint(j, "cells_applied"), 1);
  assert_true(bytes < 1024);
  json_decref(j);
  assert_same_digest(A, B);
  stop_all();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_three_replicas_converge, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_merge_opposite_directions, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_invite_join, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_untrusted_refused, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_garbage_on_the_wire, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_tampered_frame_tcp, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_live_push, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_discovery, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_progress_on_a_terminal, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_kill_during_first_sync, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_sigterm_clean_exit, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_one_field_cost, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
