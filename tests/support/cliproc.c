/* tests/support/cliproc.c - see cliproc.h. */
#define _GNU_SOURCE /* wait4 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/cliproc.h"
#include "support/testenv.h"

uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* --- fixture: a scratch directory and the background processes --------- */

fx *F; /* the running test's fixture */

int fx_setup(void **state) {
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

void bg_reap(bg *b, bool kill_first) {
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

int fx_teardown(void **state) {
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
const char *path(const char *name) {
  assert_true(F->npaths < 8);
  char *p = F->paths[F->npaths++];
  snprintf(p, sizeof F->paths[0], "%s/%s", F->root, name);
  return p;
}

/* --- running carnet ------------------------------------------------------ */

/* Runs `carnet --dir DIR args...` with a deadline; the caller frees *r. */
int run_v(const char *dir, proc_result *r, const char *const *args) {
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

/* Runs and expects exit 0; returns stdout (free it). */
char *ok_v(const char *dir, const char *const *args) {
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

json_t *parse_json(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  if (j == NULL) fail_msg("not JSON (%s, line %d): %s", e.text, e.line, text);
  return j;
}

char *added_id(char *out) {
  json_t *j = parse_json(out);
  const char *id = json_string_value(json_object_get(j, "id"));
  if (id == NULL) fail_msg("no \"id\" in: %s", out);
  char *copy = strdup(id);
  if (copy == NULL) fail_msg("out of memory");
  json_decref(j);
  free(out);
  return copy;
}

json_t *ok_json_v(const char *dir, const char *const *args) {
  char *out = ok_v(dir, args);
  json_t *j = parse_json(out);
  free(out);
  return j;
}

long long jint(const json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v)) fail_msg("no integer '%s' in the JSON", key);
  return (long long)json_integer_value(v);
}

void jstr(const json_t *o, const char *key, char *out, size_t len) {
  json_t *v = json_object_get(o, key);
  if (!json_is_string(v)) fail_msg("no string '%s' in the JSON", key);
  snprintf(out, len, "%s", json_string_value(v));
}

ident id_of(const char *dir) {
  ident id;
  json_t *j = OKJ(dir, "id");
  jstr(j, "key", id.key, sizeof id.key);
  jstr(j, "team", id.team, sizeof id.team);
  json_decref(j);
  return id;
}

/* Makes `newcomer` trust `member` (and adopt its team) and `member` trust
 * `newcomer`, by hand, the way a user would with `carnet id`. */
void trust_pair(const char *member, const char *newcomer) {
  ident m = id_of(member), n = id_of(newcomer);
  OK1(newcomer, "peer", "trust", m.key, "--team", m.team);
  OK1(member, "peer", "trust", n.key);
}

void init(const char *dir) {
  OK1(dir, "init");
}

char *digest(const char *dir) {
  char *out = OK(dir, "debug", "digest");
  out[strcspn(out, "\n")] = '\0';
  assert_int_equal(strlen(out), 64);
  return out;
}

void assert_same_digest(const char *a, const char *b) {
  char *da = digest(a), *db = digest(b);
  assert_string_equal(da, db);
  free(da);
  free(db);
}

/* --- background processes ------------------------------------------------- */

bg *bg_spawn(const char *const *args, const char *err_name) {
  bg *b = NULL;
  int pfd[2];
  for (int i = 0; i < BG_MAX && !b; i++)
    if (F->procs[i].pid == 0 || F->procs[i].reaped) b = &F->procs[i];
  assert_non_null(b);
  if (b->out_fd >= 0) close(b->out_fd);
  b->out_fd = -1;
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
bool bg_read_line(bg *b, const char *prefix, char *out, size_t len, int timeout_ms) {
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
bg *serve_v(const char *dir, const char *name, const char *const *extra) {
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

bool bg_alive(bg *b) {
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
int bg_wait(bg *b, int timeout_ms) {
  uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
  while (bg_alive(b)) {
    if (now_ms() >= deadline) return -1;
    sleep_ms(10);
  }
  return b->status;
}

/* SIGTERM, then a clean exit (0) within the deadline: under sanitizers this
 * also checks that the process leaked nothing. */
void stop(bg *b) {
  assert_true(bg_alive(b));
  kill(b->pid, SIGTERM);
  int st = bg_wait(b, T(10000));
  if (st != 0) fail_msg("process %d (%s) exited %d after SIGTERM", (int)b->pid, b->err_path, st);
}

/* Stops every background process still running, as above. */
void stop_all(void) {
  for (int i = 0; i < BG_MAX; i++)
    if (F->procs[i].pid > 0 && bg_alive(&F->procs[i])) stop(&F->procs[i]);
}

char *slurp(const char *file) {
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
bool wait_log(bg *b, int timeout_ms, const char *n1, const char *n2) {
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
int count_log(bg *b, const char *needle) {
  char *log = slurp(b->err_path);
  int n = 0;
  for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
    n += strstr(line, needle) != NULL;
  free(log);
  return n;
}

void dump_log(bg *b) {
  char *log = slurp(b->err_path);
  fprintf(stderr, "--- %s ---\n%s---\n", b->err_path, log);
  free(log);
}

/* Runs `carnet sync ADDR --json` and returns the parsed summary. */
json_t *sync_json(const char *dir, const char *addr) {
  return OKJ(dir, "sync", addr);
}

bool file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* --- building large replicas in process --------------------------------- */

/* Makes `n` customers in a new replica at `dir`, in transactions of 2,000,
 * and closes it. Writes the id of customer 0 (hex) to first_id. Prints the
 * time taken. */
void build_replica(const char *dir, unsigned n, char first_id[CARNET_ID_HEX_LEN + 1]) {
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
      int rc = carnet_record_create(t, p, NULL, &id);
      if (rc) fail_msg("carnet_record_create: %s", carnet_replica_errmsg(r));
      if (i == 0) carnet_id_format(&id, first_id);
      carnet_patch_free(p);
    }
    assert_int_equal(carnet_txn_commit(t), 0);
  }
  /* A lookup brings the blind index up to date (engine/store/index.c, E3): the
   * replica holds what a used one does. */
  carnet_id found;
  size_t nfound = 0;
  assert_int_equal(
      carnet_record_lookup(r, CARNET_LOOKUP_EMAIL, "client000000@example.org", &found, 1, &nfound),
      0);
  assert_true(n == 0 || nfound == 1);
  carnet_replica_close(r);
  printf("# built %u customers in %s in %.2f s\n", n, dir, (now_ms() - t0) / 1000.0);
}

long long customer_count(const char *dir) {
  json_t *j = OKJ(dir, "status");
  long long n = jint(json_object_get(j, "customers"), "live");
  json_decref(j);
  return n;
}
