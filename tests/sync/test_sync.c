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

/* Sanitizer builds run several times slower: every deadline grows. */
#if defined(__SANITIZE_ADDRESS__)
#define SLOW 5
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOW 5
#endif
#endif
#ifndef SLOW
#define SLOW 1
#endif

#define T(ms) ((int)(ms)*SLOW)
enum { RUN_MS = 60000, START_MS = 10000, BG_MAX = 8 };

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* --- fixture: a scratch directory and the background processes --------- */

typedef struct bg {
  pid_t pid; /* 0: free slot */
  bool reaped;
  int status; /* exit code, or 128 + signal */
  struct rusage ru;
  int out_fd;          /* its stdout, or -1 */
  char err_path[1100]; /* its stderr */
  char addr[64];       /* serve: "127.0.0.1:PORT" */
} bg;

typedef struct fx {
  char *root;
  const char *bin;
  bg procs[BG_MAX];
  char paths[8][1100];
  int npaths;
} fx;

static fx *F; /* the running test's fixture */

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (f == NULL) return -1;
  f->bin = getenv("CARNET_BIN");
  if (f->bin == NULL) {
    fprintf(stderr, "CARNET_BIN is not set: run this test through ctest\n");
    free(f);
    return -1;
  }
  f->root = tdir_new("sync");
  if (f->root == NULL) {
    free(f);
    return -1;
  }
  for (int i = 0; i < BG_MAX; i++)
    f->procs[i].out_fd = -1;
  F = f;
  *state = f;
  return 0;
}

static void bg_reap(bg *b, bool kill_first) {
  if (b->pid <= 0 || b->reaped) return;
  if (kill_first) {
    kill(-b->pid, SIGKILL);
    kill(b->pid, SIGKILL);
  }
  int st = 0;
  while (wait4(b->pid, &st, 0, &b->ru) < 0 && errno == EINTR) {
  }
  b->reaped = true;
  b->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int fx_teardown(void **state) {
  fx *f = *state;
  for (int i = 0; i < BG_MAX; i++) {
    bg_reap(&f->procs[i], true);
    if (f->procs[i].out_fd >= 0) close(f->procs[i].out_fd);
  }
  if (getenv("CARNET_TEST_KEEP") == NULL) tdir_remove(f->root);
  free(f->root);
  free(f);
  F = NULL;
  return 0;
}

/* "root/name" (lives with the fixture). */
static const char *path(const char *name) {
  assert_true(F->npaths < 8);
  char *p = F->paths[F->npaths++];
  snprintf(p, sizeof F->paths[0], "%s/%s", F->root, name);
  return p;
}

/* --- running carnet ------------------------------------------------------ */

/* Runs `carnet --dir DIR args...` with a deadline; the caller frees *r. */
static int run_v(const char *dir, proc_result *r, const char *const *args) {
  const char *argv[40];
  size_t n = 0;
  argv[n++] = F->bin;
  argv[n++] = "--dir";
  argv[n++] = dir;
  for (; *args && n < 39; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  proc_opts o = {.cwd = F->root, .timeout_ms = T(RUN_MS)};
  if (proc_run(argv, &o, r) != 0) fail_msg("%s", r->why);
  if (r->timed_out) fail_msg("carnet %s timed out", argv[3]);
  return r->status;
}

#define RUN(dir, r, ...) run_v((dir), (r), (const char *const[]){__VA_ARGS__, NULL})

/* Runs and expects exit 0; returns stdout (free it). */
static char *ok_v(const char *dir, const char *const *args) {
  proc_result r;
  int st = run_v(dir, &r, args);
  if (st != 0) {
    fprintf(stderr, "carnet --dir %s %s ... exited %d\nstdout: %s\nstderr: %s\n", dir, args[0], st,
            r.out, r.err);
    proc_result_free(&r);
    fail_msg("command failed");
  }
  free(r.err);
  return r.out;
}

#define OK(dir, ...) ok_v((dir), (const char *const[]){__VA_ARGS__, NULL})
#define OK1(dir, ...) free(OK((dir), __VA_ARGS__))

static json_t *parse_json(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  if (j == NULL) fail_msg("not JSON (%s, line %d): %s", e.text, e.line, text);
  return j;
}

static json_t *ok_json_v(const char *dir, const char *const *args) {
  char *out = ok_v(dir, args);
  json_t *j = parse_json(out);
  free(out);
  return j;
}

#define OKJ(dir, ...) ok_json_v((dir), (const char *const[]){__VA_ARGS__, "--json", NULL})

static long long jint(const json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v)) fail_msg("no integer '%s' in the JSON", key);
  return (long long)json_integer_value(v);
}

static void jstr(const json_t *o, const char *key, char *out, size_t len) {
  json_t *v = json_object_get(o, key);
  if (!json_is_string(v)) fail_msg("no string '%s' in the JSON", key);
  snprintf(out, len, "%s", json_string_value(v));
}

typedef struct ident {
  char key[65], team[33];
} ident;

static ident id_of(const char *dir) {
  ident id;
  json_t *j = OKJ(dir, "id");
  jstr(j, "key", id.key, sizeof id.key);
  jstr(j, "team", id.team, sizeof id.team);
  json_decref(j);
  return id;
}

/* Makes `newcomer` trust `member` (and adopt its team) and `member` trust
 * `newcomer`, by hand, the way a user would with `carnet id`. */
static void trust_pair(const char *member, const char *newcomer) {
  ident m = id_of(member), n = id_of(newcomer);
  OK1(newcomer, "peer", "trust", m.key, "--team", m.team);
  OK1(member, "peer", "trust", n.key);
}

static void init(const char *dir) {
  OK1(dir, "init");
}

static char *digest(const char *dir) {
  char *out = OK(dir, "debug", "digest");
  out[strcspn(out, "\n")] = '\0';
  assert_int_equal(strlen(out), 64);
  return out;
}

/* --- background processes ------------------------------------------------- */

static bg *bg_spawn(const char *const *args, const char *err_name) {
  bg *b = NULL;
  int pfd[2];
  for (int i = 0; i < BG_MAX && !b; i++)
    if (F->procs[i].pid == 0) b = &F->procs[i];
  assert_non_null(b);
  snprintf(b->err_path, sizeof b->err_path, "%s/%s", F->root, err_name);
  assert_int_equal(pipe(pfd), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    int in = open("/dev/null", O_RDONLY);
    int err = open(b->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || err < 0 || dup2(in, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(err, 2) < 0) _exit(127);
    close(pfd[0]);
    execv(args[0], (char *const *)args);
    _exit(127);
  }
  setpgid(pid, pid);
  close(pfd[1]);
  b->pid = pid;
  b->reaped = false;
  b->out_fd = pfd[0];
  return b;
}

/* Reads b's stdout until a whole line starting with `prefix` arrives;
 * copies the rest of that line to out. */
static bool bg_read_line(bg *b, const char *prefix, char *out, size_t len, int timeout_ms) {
  char buf[4096];
  size_t have = 0;
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  for (;;) {
    char *nl;
    buf[have] = '\0';
    while ((nl = strchr(buf, '\n')) != NULL) {
      *nl = '\0';
      if (strncmp(buf, prefix, strlen(prefix)) == 0) {
        size_t m = strlen(buf + strlen(prefix));
        if (m >= len) m = len - 1;
        memcpy(out, buf + strlen(prefix), m);
        out[m] = '\0';
        return true;
      }
      memmove(buf, nl + 1, have - (size_t)(nl + 1 - buf) + 1);
      have = strlen(buf);
    }
    uint64_t now = now_ms();
    if (now >= deadline || have + 1 >= sizeof buf) return false;
    struct pollfd p = {b->out_fd, POLLIN, 0};
    int n = poll(&p, 1, (int)(deadline - now));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    ssize_t got = read(b->out_fd, buf + have, sizeof buf - 1 - have);
    if (got <= 0) return false;
    have += (size_t)got;
  }
}

/* `carnet --dir DIR serve --listen 127.0.0.1:0 [extra...]`, waiting for
 * its address. */
static bg *serve_v(const char *dir, const char *name, const char *const *extra) {
  const char *argv[32] = {F->bin, "--dir", dir, "serve", "--listen", "127.0.0.1:0", "--verbose"};
  size_t n = 7;
  char err_name[64];
  for (; extra && *extra && n < 31; extra++)
    argv[n++] = *extra;
  argv[n] = NULL;
  snprintf(err_name, sizeof err_name, "serve-%s.log", name);
  bg *b = bg_spawn(argv, err_name);
  if (!bg_read_line(b, "listening on ", b->addr, sizeof b->addr, T(START_MS)))
    fail_msg("carnet serve on %s did not say where it listens", dir);
  return b;
}

#define SERVE(dir, name) serve_v((dir), (name), NULL)
#define SERVE_WITH(dir, name, ...) serve_v((dir), (name), (const char *const[]){__VA_ARGS__, NULL})

static bool bg_alive(bg *b) {
  if (b->reaped) return false;
  int st;
  pid_t got = wait4(b->pid, &st, WNOHANG, &b->ru);
  if (got == 0) return true;
  if (got == b->pid) {
    b->reaped = true;
    b->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  return false;
}

/* Waits for b to exit; returns its status, or -1 at the deadline. */
static int bg_wait(bg *b, int timeout_ms) {
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  while (bg_alive(b)) {
    if (now_ms() >= deadline) return -1;
    sleep_ms(10);
  }
  return b->status;
}

/* SIGTERM, then a clean exit (0) within the deadline: under sanitizers this
 * also checks that the process leaked nothing. */
static void stop(bg *b) {
  assert_true(bg_alive(b));
  kill(b->pid, SIGTERM);
  int st = bg_wait(b, T(10000));
  if (st != 0) fail_msg("process %d (%s) exited %d after SIGTERM", (int)b->pid, b->err_path, st);
}

/* Stops every background process still running, as above. */
static void stop_all(void) {
  for (int i = 0; i < BG_MAX; i++)
    if (F->procs[i].pid > 0 && bg_alive(&F->procs[i])) stop(&F->procs[i]);
}

static char *slurp(const char *file) {
  FILE *f = fopen(file, "rb");
  if (f == NULL) return strdup("");
  char *buf = NULL;
  size_t len = 0, cap = 0, n;
  char chunk[4096];
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
    memcpy(buf + len, chunk, n);
    len += n;
  }
  fclose(f);
  if (buf == NULL) return strdup("");
  buf[len] = '\0';
  return buf;
}

/* Waits until b's log holds a line containing every needle. */
static bool wait_log(bg *b, int timeout_ms, const char *n1, const char *n2) {
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  for (;;) {
    char *log = slurp(b->err_path);
    bool found = false;
    for (char *line = strtok(log, "\n"); line && !found; line = strtok(NULL, "\n"))
      found = strstr(line, n1) && (n2 == NULL || strstr(line, n2));
    free(log);
    if (found) return true;
    if (now_ms() >= deadline) return false;
    sleep_ms(20);
  }
}

/* Lines of b's log that contain `needle`. */
static int count_log(bg *b, const char *needle) {
  char *log = slurp(b->err_path);
  int n = 0;
  for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
    n += strstr(line, needle) != NULL;
  free(log);
  return n;
}

static void dump_log(bg *b) {
  char *log = slurp(b->err_path);
  fprintf(stderr, "--- %s ---\n%s---\n", b->err_path, log);
  free(log);
}

/* Runs `carnet sync ADDR --json` and returns the parsed summary. */
static json_t *sync_json(const char *dir, const char *addr) {
  return OKJ(dir, "sync", addr);
}

static bool file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* --- building large replicas in process --------------------------------- */

/* Makes `n` customers in a new replica at `dir`, in transactions of 2,000,
 * and closes it. Writes the id of customer 0 (hex) to first_id. Prints the
 * time taken. */
static void build_replica(const char *dir, unsigned n, char first_id[CARNET_ID_HEX_LEN + 1]) {
  static const char *const cities[] = {"Lyon", "Paris", "Marseille", "Lille", "Nantes", "Brest"};
  carnet_replica *r = NULL;
  char why[256] = "", buf[128];
  uint64_t t0 = now_ms();
  assert_int_equal(carnet_replica_init(dir, NULL, &r, why, sizeof why), 0);
  for (unsigned i = 0; i < n;) {
    carnet_txn *t = NULL;
    assert_int_equal(carnet_txn_begin(r, &t), 0);
    for (unsigned k = 0; k < 2000 && i < n; k++, i++) {
      carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
      carnet_id id;
      assert_non_null(p);
      snprintf(buf, sizeof buf, "Client %06u", i);
      assert_int_equal(carnet_patch_set(p, CARNET_F_NAME, buf), 0);
      snprintf(buf, sizeof buf, "client%06u@example.org", i);
      assert_int_equal(carnet_patch_set(p, CARNET_F_EMAILS, buf), 0);
      assert_int_equal(carnet_patch_set(p, CARNET_F_CITY, cities[i % 6]), 0);
      snprintf(buf, sizeof buf, "%05u", 10000 + i % 80000);
      assert_int_equal(carnet_patch_set(p, CARNET_F_POSTCODE, buf), 0);
      snprintf(buf, sizeof buf, "First met at the fair, row %u: wants a quote before June.", i);
      assert_int_equal(carnet_patch_set(p, CARNET_F_NOTES, buf), 0);
      int rc = carnet_create(t, p, NULL, &id);
      if (rc) fail_msg("carnet_create: %s", carnet_replica_errmsg(r));
      if (i == 0) carnet_id_hex(&id, first_id);
      carnet_patch_free(p);
    }
    assert_int_equal(carnet_txn_commit(t), 0);
  }
  carnet_replica_close(r);
  printf("# built %u customers in %s in %.2f s\n", n, dir, (now_ms() - t0) / 1000.0);
}

static long long customer_count(const char *dir) {
  json_t *j = OKJ(dir, "status");
  long long n = jint(json_object_get(j, "customers"), "live");
  json_decref(j);
  return n;
}

/* === (a) three replicas, A-B and B-C only, converge ===================== */

static char *add_customer(const char *dir, const char *name, const char *city) {
  char *out = OK(dir, "customer", "add", "--name", name, "--city", city);
  out[strcspn(out, "\n")] = '\0';
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

  /* The connection limit: 64 connections that say nothing hold every slot;
   * the next one is closed at once, with a log line. */
  enum { MAX = 64 };
  int held[MAX], ended = count_log(sa, "during the handshake");
  char local[32];
  for (int i = 0; i < MAX; i++)
    held[i] = raw_connect(sa->addr, local);
  int extra = raw_connect(sa->addr, local);
  assert_true(send_and_wait_close(extra, "", 0, false, T(5000)));
  close(extra);
  if (!wait_log(sa, T(5000), "too many connections (64)", local)) {
    dump_log(sa);
    fail_msg("no 'too many connections' line");
  }
  for (int i = 0; i < MAX; i++)
    close(held[i]);
  uint64_t deadline = now_ms() + (uint64_t)T(10000);
  while (count_log(sa, "during the handshake") < ended + MAX && now_ms() < deadline)
    sleep_ms(20);
  assert_int_equal(count_log(sa, "during the handshake"), ended + MAX);
  printf("# connection 65 refused, the 64 others closed and logged\n");

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
  stop(sa);
  free(add_customer(A, "While Apart", "Nice"));
  sleep_ms(500); /* B fails to reach A at least once */
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

/* A one-connection TCP proxy in a child process: forwards both ways and
 * flips one bit of the client -> server stream at byte `flip_at`. Bounded by
 * alarm(). Returns the child's pid; *port receives the proxy's port. */
static pid_t tamper_proxy(const char *target, uint64_t flip_at, unsigned *port) {
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
  uint64_t c2s = 0;
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
  pid_t proxy = tamper_proxy(sa->addr, 260, &port);
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
  bg *sa = SERVE_WITH(A, "A", "--discover", "--discover-iface", "127.0.0.1", "--discover-port",
                      port);
  bg *ss = SERVE_WITH(S, "S", "--discover", "--discover-iface", "127.0.0.1", "--discover-port",
                      port);
  bg *sb = SERVE_WITH(B, "B", "--discover", "--discover-iface", "127.0.0.1", "--discover-port",
                      port);
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

  const char *argv[] = {F->bin, "--dir", B, "sync", sa->addr, NULL};
  uint64_t t0 = now_ms();
  bg *sb = bg_spawn(argv, "sync-B.log");
  /* The whole sync takes about 0.35 s in a normal build: kill well before
   * its end (later under sanitizers, where everything is slower). */
  sleep_ms(T(150));
  bool finished = !bg_alive(sb);
  kill(sb->pid, SIGKILL);
  int st = bg_wait(sb, T(10000));
  printf("# first sync %s after %llu ms (status %d)\n",
         finished ? "had already finished" : "killed", (unsigned long long)(now_ms() - t0), st);
  if (!finished) assert_int_equal(st, 128 + SIGKILL);

  long long before = customer_count(B);
  t0 = now_ms();
  json_t *j = sync_json(B, sa->addr);
  printf("# B held %lld customers after the kill; the second sync took %llu ms, %lld cells in, "
         "%lld applied\n",
         before, (unsigned long long)(now_ms() - t0), jint(j, "cells_in"),
         jint(j, "cells_applied"));
  /* Batches applied before the kill are not sent again: the second sync
   * resumes from the mark stored with the last of them. */
  if (before > 0) assert_true(jint(j, "cells_in") < 8 * (long long)N);
  json_decref(j);
  assert_int_equal(customer_count(B), N);
  char *da = digest(A), *db = digest(B);
  assert_string_equal(da, db);
  free(da), free(db);
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
  enum { N = 100000 };
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
  char *da = digest(A), *db = digest(B);
  assert_string_equal(da, db);
  free(da), free(db);
  stop_all();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_three_replicas_converge, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_invite_join, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_untrusted_refused, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_garbage_on_the_wire, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_tampered_frame_tcp, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_live_push, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_discovery, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_kill_during_first_sync, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_sigterm_clean_exit, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_one_field_cost, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
