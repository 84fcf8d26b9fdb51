/* tests/sync/test_compact.c - the compaction after an erasure on a full
 * disk, with real `carnet` processes (carnet/erase.h).
 *
 * The replica lives on a small tmpfs in a private mount namespace (as root,
 * or in a user namespace of its own). A machine that allows neither fails
 * the test, saying so: a pass that never reached a full disk would prove
 * nothing (tests/engine/test_erase.c also covers the engine's side through
 * the store's test hook). The disk is filled until the erasure itself still
 * commits but the compacted copy cannot be written:
 *
 * - `carnet erase` succeeds and says the data file could not be compacted
 *   and why (no space), not "another process has this replica open";
 * - `carnet status` (and --json) lists the erasure awaiting compaction;
 * - `carnet serve`, started while the disk is full, compacts once there is
 *   room again (without a restart);
 * - without a serve, the next command's open compacts.
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
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "support/cliproc.h"

static bool write_text(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return false;
  bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  close(fd);
  return ok;
}

/* A tmpfs of `kib` KiB at `dir` in a private mount namespace: as root, or
 * as root of a new user namespace. False when neither is allowed. */
static bool small_fs(const char *dir, unsigned kib) {
  char opts[64], map[64];
  snprintf(opts, sizeof opts, "size=%uk,mode=0700", kib);
  mkdir(dir, 0700);
  uid_t uid = getuid();
  gid_t gid = getgid();
  if (unshare(CLONE_NEWNS) != 0) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return false;
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    if (!write_text("/proc/self/setgroups", "deny") || !write_text("/proc/self/uid_map", map))
      return false;
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    if (!write_text("/proc/self/gid_map", map)) return false;
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return false;
  return mount("carnet-test", dir, "tmpfs", 0, opts) == 0;
}

static long long file_size(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

static long long free_bytes(const char *dir) {
  struct statvfs vs;
  assert_int_equal(statvfs(dir, &vs), 0);
  return (long long)vs.f_bavail * (long long)vs.f_frsize;
}

/* Fill the file system of `dir` with `filler` until `keep` bytes are free. */
static void fill(const char *dir, const char *filler, long long keep) {
  static char block[1 << 16];
  int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  while (write(fd, block, sizeof block) > 0) {
  }
  assert_int_equal(errno, ENOSPC);
  long long size = file_size(filler);
  assert_int_equal(ftruncate(fd, size > keep ? size - keep : 0), 0);
  close(fd);
  printf("# disk filled: %lld bytes free\n", free_bytes(dir));
}

static json_t *compaction_of(const char *dir) {
  json_t *st = OKJ(dir, "status");
  json_t *c = json_incref(json_object_get(st, "compaction"));
  json_decref(st);
  assert_non_null(c);
  return c;
}

static bool lists(const json_t *c, const char *id) {
  json_t *ids = json_object_get(c, "erased");
  for (size_t i = 0; i < json_array_size(ids); i++)
    if (strcmp(json_string_value(json_array_get(ids, i)), id) == 0) return true;
  return false;
}

/* `carnet erase ID`: exit 0, the compaction refused for space. */
static void erase_on_full_disk(const char *R, const char *id) {
  proc_result r;
  assert_int_equal(RUN(R, &r, "erase", id, "--reason", "request of 2026-12-04"), 0);
  printf("# erase on a full disk: %s%s", r.out, r.err);
  assert_non_null(strstr(r.err, "could not be compacted"));
  assert_non_null(strstr(r.err, "No space left on device"));
  assert_null(strstr(r.out, "another process"));
  assert_null(strstr(r.err, "another process"));
  proc_result_free(&r);
  /* status says so, and which erasure waits. */
  char *text = OK(R, "status");
  assert_non_null(strstr(text, "compaction: failed: 1 erasure awaiting it"));
  assert_non_null(strstr(text, id));
  free(text);
  json_t *c = compaction_of(R);
  assert_true(json_is_true(json_object_get(c, "pending")));
  assert_string_equal(json_string_value(json_object_get(c, "state")), "failed");
  assert_true(lists(c, id));
  assert_non_null(strstr(json_string_value(json_object_get(c, "why")), "space"));
  json_decref(c);
}

static void test_compaction_on_full_disk(void **state) {
  (void)state;
  char first[CARNET_ID_HEX_LEN + 1], filler[1100], data[1100], sid[CARNET_ID_HEX_LEN + 1];
  const char *mnt = path("small"), *R = path("small/R");
  if (!small_fs(mnt, 24 * 1024))
    fail_msg("cannot mount a small tmpfs (needs root or user namespaces): this test needs a "
             "file system it can fill");
  snprintf(filler, sizeof filler, "%s/filler", mnt);
  snprintf(data, sizeof data, "%s/data.mdb", R);
  build_replica(R, 6000, first);
  long long size = file_size(data);
  printf("# data.mdb: %lld bytes\n", size);
  assert_true(size > 3 * 1024 * 1024);

  /* 1. The CLI on a full disk: the erasure stands, the compaction is
   * refused and says why. Room enough for the erasure's commit (LMDB
   * reuses free pages first), not for a copy of the file. */
  fill(mnt, filler, size / 3);
  erase_on_full_disk(R, first);

  /* 2. carnet serve, started on the full disk, compacts once there is room
   * (its own tries wait 1 s, 2 s... after a failure). */
  bg *s = SERVE(R, "R");
  assert_int_equal(unlink(filler), 0);
  uint64_t t0 = now_ms();
  for (;;) {
    json_t *c = compaction_of(R);
    bool pending = json_is_true(json_object_get(c, "pending"));
    json_decref(c);
    if (!pending) break;
    if (now_ms() - t0 > (uint64_t)T(20000)) fail_msg("carnet serve did not compact in 20 s");
    sleep_ms(200);
  }
  printf("# carnet serve compacted %.1f s after the disk had room\n", (now_ms() - t0) / 1000.0);
  assert_true(wait_log(s, T(5000), "compacted", NULL));
  stop(s);

  /* 3. Without a serve: the next command's open compacts. */
  json_t *list = OKJ(R, "customer", "list");
  jstr(json_array_get(list, 0), "id", sid, sizeof sid);
  json_decref(list);
  fill(mnt, filler, file_size(data) / 3);
  erase_on_full_disk(R, sid);
  assert_int_equal(unlink(filler), 0);
  json_t *c = compaction_of(R); /* this status's own open compacted */
  assert_false(json_is_true(json_object_get(c, "pending")));
  assert_string_equal(json_string_value(json_object_get(c, "state")), "done");
  json_decref(c);
  OK1(R, "check");
  umount2(mnt, MNT_DETACH);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_compaction_on_full_disk, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
