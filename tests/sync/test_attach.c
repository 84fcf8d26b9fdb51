/* tests/sync/test_attach.c - attachments' content across real `carnet`
 * processes on 127.0.0.1 (issue 22, point 3; protocol/content.h).
 *
 * - transfer: a 20 MB file attached on A reaches B byte-identical; the
 *   first sync is killed with kill -9 in the middle of the transfer and the
 *   second one moves only what was missing (its own byte counter); a
 *   customer added on A while the content flows reaches B before the file
 *   is whole.
 * - fetch on open: C fetches nothing by itself (policy open); when A, which
 *   added the file, is offline, `carnet attachment get` on C fetches it
 *   from B.
 * - erasure: `carnet subject-export --archive` holds the person's files
 *   before; after `carnet erase` and a sync on three replicas (one of which
 *   had only part of a file, its transfer killed), no replica has a content
 *   file, a partial one, the metadata, or the marker written in the file.
 *
 * Every wait is bounded (T() grows under sanitizers) and waits for a
 * condition, never for time. A's send rate (carnet attachment policy
 * --send-rate) keeps the 20 MB transfer long enough to be caught in the
 * middle.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "carnet/carnet.h"
#include "support/cliproc.h"

#define BIG (20u * 1000u * 1000u)
#define UNIT (24u + 65536u + 17u) /* the largest unit of a content file on the wire */

static char *first_line(char *s) {
  s[strcspn(s, "\n")] = '\0';
  return s;
}

/* A file of `n` pseudo-random bytes (so no compression or pattern helps)
 * with `marker` written at its start, middle and end. */
static void make_file(const char *file, size_t n, const char *marker, uint32_t seed) {
  FILE *f = fopen(file, "wb");
  assert_non_null(f);
  uint8_t *buf = malloc(n);
  assert_non_null(buf);
  uint32_t x = seed | 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    buf[i] = (uint8_t)x;
  }
  size_t m = strlen(marker);
  memcpy(buf, marker, m);
  memcpy(buf + n / 2, marker, m);
  memcpy(buf + n - m, marker, m);
  assert_int_equal(fwrite(buf, 1, n, f), n);
  fclose(f);
  free(buf);
}

static bool same_file(const char *a, const char *b) {
  char *x = slurp(a), *y = slurp(b);
  struct stat sa, sb;
  bool same = x && y && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_size == sb.st_size &&
              memcmp(x, y, (size_t)sa.st_size) == 0;
  free(x);
  free(y);
  return same;
}

/* The size of the largest NAME.part under DIR/files, or -1 when there is
 * none (a transfer opens NAME.part when it asks for the file). */
static long long part_size(const char *dir) {
  char files[1200], p[1500];
  snprintf(files, sizeof files, "%s/files", dir);
  DIR *d = opendir(files);
  long long size = -1;
  struct dirent *de;
  if (d == NULL) return -1;
  while ((de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    struct stat st;
    if (n < 5 || strcmp(de->d_name + n - 5, ".part") != 0) continue;
    snprintf(p, sizeof p, "%s/%s", files, de->d_name);
    if (stat(p, &st) == 0 && (long long)st.st_size > size) size = (long long)st.st_size;
  }
  closedir(d);
  return size;
}

static bool has_customer(const char *dir, const char *name) {
  char *out = OK(dir, "customer", "list", "--search", name);
  bool found = strstr(out, name) != NULL;
  free(out);
  return found;
}

static char *attach(const char *dir, const char *owner, const char *file) {
  return first_line(OK(dir, "attach", owner, file));
}

/* A's content goes out at 4 MB/s: about 5 s for the 20 MB. */
static void test_transfer_resume_and_priority(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B"), *src = path("big.bin"), *got = path("got.bin");
  init(A), init(B);
  trust_pair(A, B);
  char *cust = first_line(OK(A, "customer", "add", "--name", "Dupont Transfert"));
  make_file(src, BIG, "ATTACH-MARKER-7f3c", 7);
  char *att = attach(A, cust, src);
  OK1(A, "attachment", "policy", "--send-rate", "4MB");
  bg *sa = SERVE(A, "A");

  /* B's first sync, killed once a fifth of the content is in NAME.part. */
  const char *argv[] = {F->bin, "--dir", B, "sync", sa->addr, NULL};
  bg *sb = bg_spawn(argv, "sync-B-1.log");
  uint64_t t0 = now_ms();
  long long part;
  while ((part = part_size(B)) < (long long)BIG / 5) {
    if (!bg_alive(sb) || now_ms() - t0 > (uint64_t)T(20000)) {
      dump_log(sb);
      fail_msg("B's transfer never reached 4 MB (NAME.part: %lld bytes)", part);
    }
    sleep_ms(20);
  }
  /* A customer added on A now reaches B while the file is still coming. */
  free(first_line(OK(A, "customer", "add", "--name", "Martin Pendant")));
  t0 = now_ms();
  while (!has_customer(B, "Martin Pendant")) {
    if (now_ms() - t0 > (uint64_t)T(5000)) {
      dump_log(sb);
      fail_msg("the customer added during the transfer did not reach B");
    }
    sleep_ms(20);
  }
  long long part_then = part_size(B);
  printf("# customer on B %llu ms after it was added on A, with %lld of %u bytes received\n",
         (unsigned long long)(now_ms() - t0), part_then, BIG);
  assert_true(part_then > 0 && part_then < (long long)BIG); /* still in the middle */

  kill(sb->pid, SIGKILL);
  assert_int_equal(bg_wait(sb, T(10000)), 128 + SIGKILL);
  part = part_size(B);
  assert_true(part > 0);
  json_t *att_b = OKJ(B, "attachment", "show", att);
  assert_false(json_is_true(json_object_get(att_b, "here"))); /* invisible until whole */
  json_decref(att_b);

  /* The second sync moves what was missing, not the whole file again. */
  json_t *j = sync_json(B, sa->addr);
  long long stored = (long long)BIG + 24 + 17 * ((BIG + 65535) / 65536);
  long long moved = jint(j, "content_in");
  printf("# resumed: %lld bytes of NAME.part kept, %lld moved the second time (file %lld)\n", part,
         moved, stored);
  assert_int_equal(jint(j, "files_in"), 1);
  assert_true(moved <= stored - part + UNIT);
  assert_true(moved >= stored - part);
  json_decref(j);
  assert_int_equal(part_size(B), -1);
  OK1(B, "attachment", "get", att, "-o", got, "--no-fetch");
  assert_true(same_file(src, got));
  stop(sa);
  free(att);
  free(cust);
}

/* C fetches only what is opened; A, which added the file, is offline. */
static void test_fetch_on_open_from_third(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B"), *C = path("C"), *src = path("small.bin"),
             *got = path("got.bin");
  init(A), init(B), init(C);
  trust_pair(A, B);
  trust_pair(A, C);
  trust_pair(B, C);
  char *cust = first_line(OK(A, "customer", "add", "--name", "Durand Ouvert"));
  make_file(src, 300000, "OPEN-MARKER-91ab", 11);
  char *att = attach(A, cust, src);
  OK1(C, "attachment", "policy", "--fetch", "open");
  bg *sa = SERVE(A, "A"), *sb = SERVE(B, "B");
  json_t *j = sync_json(B, sa->addr); /* B: policy all, takes the content */
  assert_int_equal(jint(j, "files_in"), 1);
  json_decref(j);
  j = sync_json(C, sa->addr); /* C: the metadata only */
  assert_int_equal(jint(j, "files_in"), 0);
  json_decref(j);
  j = sync_json(C, sb->addr); /* and knows B's address */
  assert_int_equal(jint(j, "files_in"), 0);
  json_decref(j);
  json_t *st = OKJ(C, "status");
  assert_int_equal(jint(json_object_get(st, "attachments"), "not_fetched"), 1);
  json_decref(st);

  stop(sa); /* A offline: only B has the file */
  proc_result r;
  if (RUN(C, &r, "attachment", "get", att, "-o", got, "--timeout", "30s") != 0)
    fail_msg("attachment get on C: %s", r.err);
  proc_result_free(&r);
  assert_true(same_file(src, got));
  j = OKJ(C, "attachment", "show", att);
  assert_true(json_is_true(json_object_get(j, "here")));
  json_decref(j);
  stop(sb);
  free(att);
  free(cust);
}

/* Whether `needle` occurs in any file under `dir` (recursively). */
static bool tree_has(const char *dir, const char *needle) {
  DIR *d = opendir(dir);
  struct dirent *de;
  bool found = false;
  if (d == NULL) return false;
  while (!found && (de = readdir(d)) != NULL) {
    char p[2048];
    struct stat st;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    if (lstat(p, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      found = tree_has(p, needle);
    } else if (S_ISREG(st.st_mode) && st.st_size > 0) {
      char *b = slurp(p);
      size_t n = strlen(needle);
      for (off_t i = 0; b && !found && i + (off_t)n <= st.st_size; i++)
        found = memcmp(b + i, needle, n) == 0;
      free(b);
    }
  }
  closedir(d);
  return found;
}

/* How many entries DIR/files holds (content files, partial ones, uploads). */
static int files_count(const char *dir) {
  char files[1200];
  snprintf(files, sizeof files, "%s/files", dir);
  DIR *d = opendir(files);
  struct dirent *de;
  int n = 0;
  if (d == NULL) return 0;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* The bytes of `name` in the zip archive `zipfile` (free them), or NULL. */
static char *zip_entry(const char *zipfile, const char *name, size_t *len) {
  int err = 0;
  zip_t *za = zip_open(zipfile, ZIP_RDONLY, &err);
  zip_stat_t st;
  char *buf = NULL;
  if (za == NULL) return NULL;
  if (zip_stat(za, name, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE)) {
    zip_file_t *f = zip_fopen(za, name, 0);
    buf = calloc(1, st.size + 1);
    if (f && buf && zip_fread(f, buf, st.size) == (zip_int64_t)st.size) {
      *len = st.size;
    } else {
      free(buf);
      buf = NULL;
    }
    if (f) zip_fclose(f);
  }
  zip_close(za);
  return buf;
}

#define ERASE_MARKER "ERASE-MARKER-c0ffee"

static void test_erase_three_replicas(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B"), *C = path("C"), *src = path("quote.bin"),
             *small = path("id.bin"), *zipf = path("export.zip");
  init(A), init(B), init(C);
  trust_pair(A, B);
  trust_pair(A, C);
  trust_pair(B, C);
  char *cust = first_line(
      OK(A, "customer", "add", "--name", "Zoe Effacement", "--email", "zoe@example.org"));
  char *contact = first_line(OK(A, "contact", "add", "--customer", cust, "--name", "Assistant"));
  make_file(src, 2000000, ERASE_MARKER, 21);
  make_file(small, 5000, ERASE_MARKER, 22);
  char *att = first_line(OK(A, "attach", cust, src, "--caption", "signed " ERASE_MARKER));
  char *att2 = attach(A, contact, small);

  /* Access first: the archive has the JSON and both files, byte for byte. */
  OK1(A, "subject-export", cust, "--archive", "-o", zipf);
  size_t n = 0;
  char *js = zip_entry(zipf, "subject.json", &n);
  assert_non_null(js);
  json_t *j = parse_json(js);
  json_t *atts = json_object_get(j, "attachments");
  assert_int_equal(json_array_size(atts), 2);
  for (size_t i = 0; i < 2; i++) {
    const char *file = json_string_value(json_object_get(json_array_get(atts, i), "file"));
    const char *id = json_string_value(json_object_get(json_array_get(atts, i), "id"));
    assert_non_null(file);
    char *content = zip_entry(zipf, file, &n);
    char *want = slurp(strcmp(id, att) == 0 ? src : small);
    assert_non_null(content);
    assert_int_equal(n, strcmp(id, att) == 0 ? 2000000 : 5000);
    assert_memory_equal(content, want, n);
    free(content);
    free(want);
  }
  json_decref(j);
  free(js);

  /* B takes everything from A; C gets part of the big file from B (sent
   * slowly) and its sync is killed: a partial file stays on C. */
  OK1(B, "attachment", "policy", "--send-rate", "500KB");
  bg *sb = SERVE(B, "B");
  /* B fetches during A's sync, which ends only once B has asked for
   * everything it wanted and got it (protocol/content.h C1). */
  json_t *s = sync_json(A, sb->addr);
  assert_int_equal(jint(s, "files_out"), 2);
  json_decref(s);
  assert_int_equal(files_count(B), 2);
  const char *argv[] = {F->bin, "--dir", C, "sync", sb->addr, NULL};
  bg *sc = bg_spawn(argv, "sync-C.log");
  uint64_t t0 = now_ms();
  while (part_size(C) < 200000) {
    if (!bg_alive(sc) || now_ms() - t0 > (uint64_t)T(20000)) {
      dump_log(sc);
      fail_msg("C's transfer never started");
    }
    sleep_ms(20);
  }
  kill(sc->pid, SIGKILL);
  assert_int_equal(bg_wait(sc, T(10000)), 128 + SIGKILL);
  assert_true(part_size(C) > 0);
  printf("# C had %lld bytes of the file when its sync was killed (%llu ms)\n", part_size(C),
         (unsigned long long)(now_ms() - t0));

  /* The erasure, then everyone syncs through B. */
  OK1(A, "erase", cust, "--reason", "request of the person");
  OK1(A, "sync", sb->addr);
  OK1(C, "sync", sb->addr);
  stop(sb);
  const char *dirs[] = {A, B, C};
  for (int i = 0; i < 3; i++) {
    proc_result r;
    assert_int_not_equal(RUN(dirs[i], &r, "attachment", "show", att), 0);
    proc_result_free(&r);
    assert_int_not_equal(RUN(dirs[i], &r, "attachment", "show", att2), 0);
    proc_result_free(&r);
    if (files_count(dirs[i]) != 0)
      fail_msg("%d files left in %s/files", files_count(dirs[i]), dirs[i]);
    json_t *st = OKJ(dirs[i], "status");
    json_t *at = json_object_get(st, "attachments");
    assert_int_equal(jint(at, "here") + jint(at, "pending_files") + jint(at, "not_fetched"), 0);
    json_decref(st);
    if (tree_has(dirs[i], ERASE_MARKER)) fail_msg("the marker is still in %s", dirs[i]);
  }
  free(att);
  free(att2);
  free(contact);
  free(cust);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_transfer_resume_and_priority, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_fetch_on_open_from_third, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_erase_three_replicas, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
