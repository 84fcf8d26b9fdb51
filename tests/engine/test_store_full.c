/* tests/engine/test_store_full.c - a full disk under a writable map
 * (engine/store/store.c, room_ensure): the store writes through the file's
 * mapping (MDB_WRITEMAP), where a store into a page with no block behind it
 * on a full disk would kill the process (SIGBUS). Filling a small tmpfs with
 * transactions of sealed rows, small and large (overflow pages), must end
 * in CARNET_ENOSPC with a sentence that says what to do, the failed
 * transaction sticky, every committed transaction whole after a reopen and
 * nothing of the failed one; with room again, writes work.
 *
 * The tmpfs is mounted in a child process in a mount namespace of its own
 * (root, or a user namespace, is needed: where neither works the test is
 * skipped), so a SIGBUS would show as the child killed by a signal. */
#define _GNU_SOURCE /* unshare */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "carnet/carnet.h"
#include "engine/store/store.h"
#include "support/testenv.h"

#define SKIP_STATUS 77
#define PER_TXN 16
#define TXN_MAX 100000 /* a bound: the tmpfs fills long before */

/* The value of row `i`: every third one longer than a page (LMDB puts it
 * in overflow pages, room_ensure's `extra`). */
static size_t value_of(uint32_t i, uint8_t *v) {
  size_t n = i % 3 == 0 ? 5000 + i % 700 : 300 + i % 200;
  for (size_t k = 0; k < n; k++)
    v[k] = (uint8_t)(i * 31u + k * 7u);
  return n;
}

static void key_of(uint32_t i, uint8_t k[16]) {
  /* Scattered keys: each transaction touches leaves all over the table. */
  uint64_t h = (uint64_t)i * 0x9E3779B97F4A7C15ull;
  for (int b = 0; b < 8; b++) {
    k[b] = (uint8_t)(h >> (56 - 8 * b));
    k[8 + b] = (uint8_t)(i >> (8 * (b % 4)));
  }
}

static const uint8_t data_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

/* In the child: 1 when a check fails (printed), 0 when all hold. */
#define CHECK(c)                                                                                   \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      fprintf(stderr, "test_store_full.c:%d: %s\n", __LINE__, #c);                                 \
      return 1;                                                                                    \
    }                                                                                              \
  } while (0)

static int open_store(const char *dir, bool create, carnet__store **s) {
  char why[512] = "";
  int rc = carnet__store_open(dir, create ? CARNET__STORE_CREATE : 0, s, why, sizeof why);
  if (rc) {
    fprintf(stderr, "open %s: %s: %s\n", dir, carnet_error_name(rc), why);
    return rc;
  }
  return carnet__store_set_key(*s, data_key);
}

/* Put the rows of transaction number `tx` in `t`: the first error. */
static int put_rows(carnet__stxn *t, uint32_t tx) {
  static uint8_t v[8192];
  uint8_t k[16];
  int rc = 0;
  for (uint32_t j = 0; j < PER_TXN && rc == 0; j++) {
    uint32_t i = tx * PER_TXN + j;
    key_of(i, k);
    rc = carnet__store_put(t, CARNET__T_ENTITIES, k, sizeof k, v, value_of(i, v), 0);
  }
  return rc;
}

/* Fill `dir` until the disk is full; *done = transactions committed. */
static int fill(const char *dir, uint32_t *done) {
  uint8_t k[16];
  carnet__store *s = NULL;
  int rc = 0;
  *done = 0;
  CHECK(open_store(dir, true, &s) == 0);
  CHECK(carnet__store_writemap(s)); /* what this test is about */
  for (uint32_t tx = 0; tx < TXN_MAX; tx++) {
    carnet__stxn *t = NULL;
    if ((rc = carnet__store_begin(s, true, &t)) != 0) break;
    if ((rc = put_rows(t, tx)) != 0) {
      /* Sticky: the transaction stays failed (STYLE 9). */
      key_of(TXN_MAX * PER_TXN, k);
      CHECK(carnet__store_put(t, CARNET__T_ENTITIES, k, sizeof k, k, sizeof k, 0) == rc);
      carnet__store_abort(t);
      break;
    }
    if ((rc = carnet__store_commit(t)) != 0) break;
    *done = tx + 1;
  }
  printf("# %u transactions committed, then %s: %s\n", *done, carnet_error_name(rc),
         carnet__store_why(s));
  CHECK(rc == CARNET_ENOSPC);
  CHECK(strstr(carnet__store_why(s), "no space left") != NULL);
  CHECK(strstr(carnet__store_why(s), "free disk space") != NULL);
  CHECK(*done > 10); /* the disk held a good deal before it was full */
  carnet__store_close(s);
  return 0;
}

/* Every row of the `done` transactions is there and whole; none of the next. */
static int verify(const char *dir, uint32_t done) {
  static uint8_t v[8192];
  uint8_t k[16];
  carnet__store *s = NULL;
  carnet__stxn *t = NULL;
  CHECK(open_store(dir, false, &s) == 0);
  CHECK(carnet__store_begin(s, false, &t) == 0);
  for (uint32_t i = 0; i < (done + 1) * PER_TXN; i++) {
    carnet_buf got;
    key_of(i, k);
    size_t n = value_of(i, v);
    int rc = carnet__store_get(t, CARNET__T_ENTITIES, k, sizeof k, &got);
    if (i < done * PER_TXN) {
      CHECK(rc == 0);
      CHECK(got.len == n && memcmp(got.base, v, n) == 0);
    } else {
      CHECK(rc == CARNET_ENOTFOUND);
    }
  }
  carnet__store_abort(t);
  carnet__store_close(s);
  return 0;
}

/* With room again (a larger tmpfs), the same replica takes writes. */
static int write_again(const char *dir, uint32_t done) {
  carnet__store *s = NULL;
  carnet__stxn *t = NULL;
  CHECK(open_store(dir, false, &s) == 0);
  CHECK(carnet__store_begin(s, true, &t) == 0);
  CHECK(put_rows(t, done) == 0);
  CHECK(carnet__store_commit(t) == 0);
  carnet__store_close(s);
  return verify(dir, done + 1);
}

static int child(const char *root) {
  char *mnt = tdir_join(root, "small");
  char *dir = tdir_join(mnt, "r");
  uint32_t done = 0;
  if (mnt == NULL || dir == NULL) return 1;
  if (unshare(CLONE_NEWNS) != 0 && (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)) return SKIP_STATUS;
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return SKIP_STATUS;
  if (mkdir(mnt, 0700) != 0) return 1;
  if (mount("carnet-test", mnt, "tmpfs", 0, "size=2048k,mode=0700") != 0) return SKIP_STATUS;
  if (mkdir(dir, 0700) != 0) return 1;
  int rc = fill(dir, &done);
  if (rc == 0) rc = verify(dir, done);
  if (rc == 0 && mount(NULL, mnt, NULL, MS_REMOUNT, "size=8192k,mode=0700") != 0) rc = 1;
  if (rc == 0) rc = write_again(dir, done);
  umount2(mnt, MNT_DETACH);
  free(dir);
  free(mnt);
  return rc;
}

static void test_disk_full_is_an_error(void **state) {
  (void)state;
  char *root = tdir_new("store-full");
  assert_non_null(root);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    signal(SIGBUS, SIG_DFL); /* cmocka's handler would turn it into a failed test */
    int rc = child(root);
    fflush(NULL);
    _exit(rc);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  tdir_remove(root);
  free(root);
  if (WIFSIGNALED(status)) fail_msg("the writer was killed by signal %d", WTERMSIG(status));
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) == SKIP_STATUS) skip();
  assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_disk_full_is_an_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
