/* tests/sync/test_faults.c - real `carnet` processes under faults:
 *
 * - a data file cut short or damaged before a command starts: a clear error
 *   and an exit code, never a signal, and the file left as it was;
 * - two processes writing one replica at once (plus a `carnet serve` on
 *   it): nothing lost, reference codes unique, the replica sound;
 * - kill -9 of `carnet serve` at seeded random moments of a heavy sync, on
 *   the receiving and on the sending side: every restart resumes and the
 *   replicas end identical and sound;
 * - the disk filling up during a sync (a 1 MiB tmpfs when the test may
 *   mount one, else a 1 MiB file-size limit: both make the writes of the
 *   receiving process fail): a clear error, a sound replica holding whole
 *   batches only, and a complete sync once there is room.
 *
 * `--seed=N` replays the kill moments.
 */
#define _GNU_SOURCE /* unshare */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/cliproc.h"
#include "support/testenv.h"

static uint64_t g_seed = 1;

/* --- files ------------------------------------------------------------------ */

static unsigned char *read_file(const char *p, size_t *len) {
  FILE *f = fopen(p, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void write_file(const char *p, const unsigned char *b, size_t len) {
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, len, f), len);
  fclose(f);
}

static void copy_dir(const char *from, const char *to) {
  char a[1200], b[1200];
  mkdir(to, 0700);
  for (int i = 0; i < 2; i++) {
    const char *name = i ? "lock.mdb" : "data.mdb";
    size_t n;
    snprintf(a, sizeof a, "%s/%s", from, name);
    snprintf(b, sizeof b, "%s/%s", to, name);
    unsigned char *buf = read_file(a, &n);
    write_file(b, buf, n);
    free(buf);
  }
}

/* Runs a command that must fail cleanly: exit 1 or 2 (not a signal), one
 * line on stderr naming the problem. */
static void must_fail_cleanly(const char *dir, const char *const *args, const char *why) {
  proc_result r;
  int st = run_v(dir, &r, args);
  if (st != 1 && st != 2)
    fail_msg("%s on a %s replica: exit %d (want 1 or 2)\nstderr: %s", args[0], why, st, r.err);
  assert_true(r.err_len > 0);
  proc_result_free(&r);
}

static void test_damaged_file_at_start(void **state) {
  (void)state;
  char first[CARNET_ID_HEX_LEN + 1], data[1200];
  const char *good = path("good"), *bad = path("bad");
  build_replica(good, 3000, first);
  snprintf(data, sizeof data, "%s/data.mdb", bad);
  size_t n;
  char gpath[1200];
  snprintf(gpath, sizeof gpath, "%s/data.mdb", good);
  unsigned char *orig = read_file(gpath, &n);
  trng g;
  trng_seed(&g, g_seed);
  /* Cut at 0, inside the meta pages, just after them, and in the middle;
   * garbage meta pages; bytes flipped all over the tree. */
  for (int c = 0; c < 6; c++) {
    size_t len = n;
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    memcpy(buf, orig, n);
    const char *what = "damaged";
    if (c == 0) len = 0, what = "empty";
    if (c == 1) len = 4096, what = "truncated";
    if (c == 2) len = 8192, what = "truncated";
    if (c == 3) len = n / 2, what = "truncated";
    if (c == 4) trng_bytes(&g, buf, 8192);
    if (c == 5)
      for (int i = 0; i < 400; i++)
        buf[8192 + trng_below(&g, (uint32_t)(n - 8192))] ^= 0x5a;
    copy_dir(good, bad);
    write_file(data, buf, len);
    if (c < 5) {
      must_fail_cleanly(bad, (const char *const[]){"status", NULL}, what);
      must_fail_cleanly(bad, (const char *const[]){"customer", "list", NULL}, what);
    } else {
      /* Damage inside the tree: commands that read it fail cleanly (exit
       * code, not a signal) or succeed; `check` finds it. */
      const char *const cmds[][4] = {{"customer", "list", NULL}, {"dupes", NULL}, {"status", NULL}};
      for (size_t k = 0; k < 3; k++) {
        proc_result r;
        int st = run_v(bad, &r, cmds[k]);
        if (st >= 128) fail_msg("%s killed by signal %d: %s", cmds[k][0], st - 128, r.err);
        proc_result_free(&r);
      }
    }
    must_fail_cleanly(bad, (const char *const[]){"check", NULL}, what);
    /* Nothing written by any of them. */
    size_t after_len;
    unsigned char *after = read_file(data, &after_len);
    assert_int_equal(after_len, len);
    assert_memory_equal(after, buf, len);
    free(after);
    free(buf);
  }
  OK1(good, "check");
  free(orig);
}

/* --- two writers ----------------------------------------------------------- */

static void test_two_writers(void **state) {
  (void)state;
  const char *d = path("d");
  char script[2048];
  init(d);
  bg *srv = SERVE(d, "d");
  bg *w[2];
  for (int i = 0; i < 2; i++) {
    snprintf(script, sizeof script,
             "for n in $(seq 40); do '%s' --dir '%s' customer add --name \"Writer %d n$n\" "
             "--email w%d.$n@example.org --force >/dev/null || exit 1; done",
             F->bin, d, i, i);
    char name[32];
    snprintf(name, sizeof name, "writer%d.log", i);
    w[i] = bg_spawn((const char *const[]){"/bin/sh", "-c", script, NULL}, name);
  }
  for (int i = 0; i < 2; i++) {
    int st = bg_wait(w[i], T(120000));
    if (st != 0) {
      dump_log(w[i]);
      fail_msg("writer %d exited %d", i, st);
    }
  }
  stop(srv);
  assert_int_equal(customer_count(d), 80);
  json_t *list = OKJ(d, "customer", "list");
  for (size_t i = 0; i < json_array_size(list); i++)
    for (size_t j = i + 1; j < json_array_size(list); j++) {
      char ri[40], rj[40];
      jstr(json_array_get(list, i), "ref", ri, sizeof ri);
      jstr(json_array_get(list, j), "ref", rj, sizeof rj);
      assert_string_not_equal(ri, rj);
    }
  json_decref(list);
  OK1(d, "check");
}

/* --- kill -9 during a heavy sync ------------------------------------------ */

static void test_kill9_serve_during_sync(void **state) {
  (void)state;
  char first[CARNET_ID_HEX_LEN + 1];
  const char *A = path("A"), *B = path("B");
  trng g;
  trng_seed(&g, g_seed);
  build_replica(A, 20000, first);
  init(B);
  trust_pair(A, B);
  int kills = 0;
  for (int round = 0; round < 6; round++) {
    /* Even rounds: B serves and A pushes to it; odd: A serves, B pulls. */
    const char *srv_dir = round % 2 ? A : B, *cli_dir = round % 2 ? B : A;
    char name[16];
    snprintf(name, sizeof name, "r%d", round);
    bg *srv = SERVE(srv_dir, name);
    char log[32];
    snprintf(log, sizeof log, "sync%d.log", round);
    bg *c = bg_spawn((const char *const[]){F->bin, "--dir", cli_dir, "sync", srv->addr, NULL}, log);
    unsigned wait = 30 + trng_below(&g, 500);
    sleep_ms(wait);
    bool killed = bg_alive(srv);
    kill(srv->pid, SIGKILL);
    bg_wait(srv, T(10000));
    int st = bg_wait(c, T(60000));
    assert_true(st >= 0); /* it ends: a refused or cut session, or done */
    kills += killed;
    printf("# round %d: serve on %s killed after %u ms (%s); sync exited %d\n", round,
           round % 2 ? "A" : "B", wait, killed ? "mid-run" : "already idle", st);
    OK1(srv_dir, "check");
    OK1(cli_dir, "check");
  }
  assert_true(kills > 0);
  /* Then a clean sync brings B level with A. */
  bg *sa = SERVE(A, "final");
  json_decref(sync_json(B, sa->addr));
  stop(sa);
  assert_int_equal(customer_count(B), 20000);
  assert_same_digest(A, B);
  OK1(B, "check");
}

/* --- disk full ------------------------------------------------------------- */

/* A private mount namespace with a tmpfs of `kib` KiB at `dir`; false when
 * this process may not mount (no CAP_SYS_ADMIN). */
static bool small_tmpfs(const char *dir, unsigned kib) {
  char opts[64];
  snprintf(opts, sizeof opts, "size=%uk,mode=0700", kib);
  if (getenv("CARNET_TEST_NO_MOUNT")) return false; /* to run the other way here */
  if (unshare(CLONE_NEWNS) != 0) return false;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return false;
  mkdir(dir, 0700);
  return mount("carnet-test", dir, "tmpfs", 0, opts) == 0;
}

static void test_disk_full_during_sync(void **state) {
  (void)state;
  char first[CARNET_ID_HEX_LEN + 1], limit[64];
  const char *A = path("A"), *mnt = path("small"), *B = path("small/B");
  build_replica(A, 6000, first);
  bool tmpfs = small_tmpfs(mnt, 1024);
  if (!tmpfs) mkdir(mnt, 0700);
  printf("# disk full through %s\n", tmpfs ? "a 1 MiB tmpfs" : "a 1 MiB file-size limit");
  init(B);
  trust_pair(A, B);
  bg *sa = SERVE(A, "A");
  /* The full disk: B's sync cannot write past 1 MiB. */
  proc_result r;
  char cmd[2048];
  snprintf(limit, sizeof limit, "%s", tmpfs ? "" : "/usr/bin/prlimit --fsize=1048576 ");
  snprintf(cmd, sizeof cmd, "trap '' XFSZ; exec %s'%s' --dir '%s' sync %s", limit, F->bin, B,
           sa->addr);
  proc_opts o = {.cwd = F->root, .timeout_ms = T(RUN_MS)};
  assert_int_equal(proc_run((const char *const[]){"/bin/sh", "-c", cmd, NULL}, &o, &r), 0);
  printf("# full: exit %d: %s", r.status, r.err);
  assert_true(r.status == 1 || r.status == 2);
  assert_non_null(strstr(r.err, tmpfs ? "space" : "large"));
  proc_result_free(&r);
  /* Sound, with whole batches only (every customer it has is whole). */
  OK1(B, "check");
  long long got = customer_count(B);
  assert_true(got < 6000);
  printf("# %lld customers applied before the disk was full\n", got);
  /* Room again: the sync completes. */
  if (tmpfs) assert_int_equal(mount(NULL, mnt, NULL, MS_REMOUNT, "size=65536k,mode=0700"), 0);
  json_decref(sync_json(B, sa->addr));
  stop(sa);
  assert_int_equal(customer_count(B), 6000);
  assert_same_digest(A, B);
  OK1(B, "check");
  if (tmpfs) umount2(mnt, MNT_DETACH);
}

int main(int argc, char **argv) {
  targ_seed(argc, argv, &g_seed);
  printf("# seed %llu (replay with --seed=%llu)\n", (unsigned long long)g_seed,
         (unsigned long long)g_seed);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_damaged_file_at_start, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_two_writers, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_kill9_serve_during_sync, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_disk_full_during_sync, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
