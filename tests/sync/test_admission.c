/* tests/sync/test_admission.c - admission control of `carnet serve`
 * (replica/node.c, invariants A1-A6), with real processes.
 *
 * A client holding 80 idle connections, reopening each
 * one the server closed, made 8 of 8 syncs of a trusted peer fail ("the
 * peer closed the connection during the handshake (is it a Carnet
 * replica?)"): the node admitted 64 connections in all, authenticated or
 * not, kept an idle one 10 s, and had no limit per address. Here a client
 * (a child process of the test) holds 200 idle connections from the same
 * address as the trusted peer and reopens every one that closes, as fast
 * as it can, while the trusted peer syncs 20 times: all 20 must succeed,
 * and serve's memory (VmRSS, VmHWM from /proc) must stay bounded.
 *
 * With the admission code reverted (replica/node.c and conn.c as they were
 * before admission control) the first sync fails: the attacker's connections hold every
 * slot, and each new one, the trusted peer's included, is closed at once.
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
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/cliproc.h"

enum { IDLE_CONNS = 200, SYNCS = 20 };

/* What the attacking child reports, in memory shared with the test. */
typedef struct attack_stats {
  volatile long opened;      /* connect() calls */
  volatile long established; /* connections that completed */
  volatile long closed;      /* closed by the server (EOF, reset, or its busy frame) */
  volatile long busy_frames; /* of those, how many sent bytes first (the busy ERROR) */
} attack_stats;

static int open_one(const struct sockaddr_in *sa) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

static void on_term(int sig) {
  (void)sig;
  _exit(0);
}

/* The child: IDLE_CONNS connections that never send a byte; each one the
 * server closes is opened again at once. Ends with SIGKILL from the test
 * (or its own alarm, so it can never outlive a crashed test). */
static void attack(const struct sockaddr_in *sa, attack_stats *st, unsigned life_s) {
  struct pollfd p[IDLE_CONNS];
  signal(SIGTERM, on_term); /* stop_all: a clean exit */
  alarm(life_s);
  for (int i = 0; i < IDLE_CONNS; i++) {
    p[i].fd = open_one(sa);
    p[i].events = POLLIN | POLLOUT;
    st->opened++;
  }
  for (;;) {
    int n = poll(p, IDLE_CONNS, 1000);
    if (n < 0 && errno != EINTR) _exit(3);
    for (int i = 0; i < IDLE_CONNS && n > 0; i++) {
      if (p[i].revents == 0) continue;
      bool reopen = p[i].fd < 0 || (p[i].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
      if (!reopen && (p[i].revents & POLLIN)) {
        char buf[512];
        ssize_t got = recv(p[i].fd, buf, sizeof buf, 0);
        if (got > 0) st->busy_frames++;
        reopen = true; /* bytes from the server only ever precede its close */
      }
      if (!reopen && (p[i].revents & POLLOUT)) {
        st->established++;
        p[i].events = POLLIN; /* connected: now idle, forever */
        continue;
      }
      if (p[i].fd >= 0) close(p[i].fd);
      st->closed++;
      p[i].fd = open_one(sa);
      p[i].events = POLLIN | POLLOUT;
      st->opened++;
    }
  }
}

static pid_t start_attack(const char *addr, attack_stats *st) {
  struct sockaddr_in sa = {.sin_family = AF_INET};
  const char *colon = strrchr(addr, ':');
  assert_non_null(colon);
  sa.sin_port = htons((uint16_t)atoi(colon + 1));
  assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr), 1);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    attack(&sa, st, (unsigned)(T(120000) / 1000));
    _exit(0);
  }
  setpgid(pid, pid);
  /* The fixture's teardown kills and reaps it even if an assertion fails. */
  bg *b = NULL;
  for (int i = 0; i < BG_MAX && !b; i++)
    if (F->procs[i].pid == 0 || F->procs[i].reaped) b = &F->procs[i];
  assert_non_null(b);
  b->pid = pid;
  b->reaped = false;
  snprintf(b->err_path, sizeof b->err_path, "%s/attack.log", F->root);
  return pid;
}

/* VmRSS and VmHWM of a process, in KiB. */
static void mem_of(pid_t pid, long *rss, long *hwm) {
  char p[64], line[256];
  snprintf(p, sizeof p, "/proc/%ld/status", (long)pid);
  FILE *f = fopen(p, "r");
  assert_non_null(f);
  *rss = *hwm = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) *rss = atol(line + 6);
    if (strncmp(line, "VmHWM:", 6) == 0) *hwm = atol(line + 6);
  }
  fclose(f);
  assert_true(*rss > 0 && *hwm > 0);
}

static void test_idle_connections_do_not_lock_out(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B");
  init(A), init(B);
  trust_pair(A, B);
  for (int i = 0; i < 5; i++) {
    char name[32];
    snprintf(name, sizeof name, "Avant %d", i);
    OK1(A, "customer", "add", "--name", name, "--city", "Lyon");
  }
  /* Under ASan, freed blocks wait in a quarantine (256 MB by default)
   * before they are reused: a small one, so that what is measured is the
   * node's memory rather than the sanitizer's. */
  if (SLOW > 1) {
    const char *prev = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=8", prev ? prev : "",
             prev && *prev ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
  }
  /* Not --verbose: a debug line per connection would be thousands. */
  const char *argv[] = {F->bin, "--dir", A, "serve", "--listen", "127.0.0.1:0", NULL};
  bg *sa = bg_spawn(argv, "serve-A.log");
  assert_true(bg_read_line(sa, "listening on ", sa->addr, sizeof sa->addr, T(START_MS)));
  json_decref(sync_json(B, sa->addr)); /* warm: the replica's pages are in */
  long rss0, hwm0;
  mem_of(sa->pid, &rss0, &hwm0);

  attack_stats *st =
      mmap(NULL, sizeof *st, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(st != MAP_FAILED);
  memset(st, 0, sizeof *st);
  start_attack(sa->addr, st);
  /* The attack is on: the server has had to turn connections away (it
   * holds far fewer than 200), and the client keeps reopening them. */
  uint64_t t0 = now_ms();
  while (st->closed < 2 * IDLE_CONNS && now_ms() - t0 < (uint64_t)T(20000))
    sleep_ms(20);
  assert_true(st->closed >= 2 * IDLE_CONNS);

  int busy_retries = 0;
  uint64_t slowest = 0, t_syncs = now_ms();
  long rss_mid = 0, hwm_mid = 0;
  for (int i = 0; i < SYNCS; i++) {
    char name[32];
    snprintf(name, sizeof name, "Pendant %d", i);
    OK1(A, "customer", "add", "--name", name, "--city", "Nantes");
    proc_result r;
    uint64_t t = now_ms();
    int rc = RUN(B, &r, "sync", sa->addr, "--timeout", "60s", "--json");
    uint64_t took = now_ms() - t;
    if (took > slowest) slowest = took;
    if (rc != 0) {
      dump_log(sa);
      fail_msg("sync %d of %d failed under the attack (exit %d): %s", i + 1, SYNCS, rc, r.err);
    }
    if (strstr(r.err, "the peer is busy (too many connections): retrying")) busy_retries++;
    json_t *j = parse_json(r.out);
    assert_true(jint(j, "cells_in") > 0); /* the customer added just before */
    json_decref(j);
    proc_result_free(&r);
    if (i == SYNCS / 2) mem_of(sa->pid, &rss_mid, &hwm_mid);
  }
  uint64_t t_total = now_ms() - t_syncs;
  long rss1, hwm1;
  mem_of(sa->pid, &rss1, &hwm1);
  long closed = st->closed, busy = st->busy_frames, est = st->established;
  printf("# %d syncs under attack in %.1f s (slowest %.2f s), %d said busy first; the client "
         "reopened %ld connections (%ld established, %ld got the busy frame)\n",
         SYNCS, t_total / 1000.0, slowest / 1000.0, busy_retries, closed, est, busy);
  printf("# serve memory: before %ld KiB (peak %ld), after %d syncs %ld KiB, at the end %ld KiB "
         "(peak %ld)\n",
         rss0, hwm0, SYNCS / 2, rss_mid, rss1, hwm1);
  assert_true(customer_count(B) == 5 + SYNCS);
  /* Bounded: a handshake slot costs ~12 KiB, and there are 16. The margin
   * is the allocator's (and, under ASan, its quarantine and shadow). */
  long margin_kib = SLOW > 1 ? 96 * 1024 : 24 * 1024;
  assert_true(hwm1 - rss0 < margin_kib);
  /* And it does not creep: the second half of the attack adds little. */
  assert_true(rss1 - rss_mid < margin_kib / 2);
  assert_true(wait_log(sa, T(5000), "busy: turned away", NULL));
  assert_true(bg_alive(sa));
  stop_all();
  munmap(st, sizeof *st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_idle_connections_do_not_lock_out, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
