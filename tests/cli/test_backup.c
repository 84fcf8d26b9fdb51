/* tests/cli/test_backup.c - `carnet backup` and `carnet restore`, replicas
 * on read-only media, and one `carnet serve` per replica, with the real
 * binary. The team scenario of a restore is
 * tests/sync/test_restore.c; the library's side is tests/engine/test_backup.c.
 *
 * Read-only media are real: the replica directory is bind-mounted read-only
 * in a private mount namespace (root can write through any mode bits, so
 * chmod proves nothing for root). A test run as another user, which may
 * not mount, makes the files read-only with chmod instead, which is what
 * that user meets on such media; root without CAP_SYS_ADMIN skips.
 */
#define _GNU_SOURCE /* unshare */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/cliproc.h"

/* `carnet --dir DIR args...` expected to fail with exit `code` and a
 * message holding `needle`. */
static void refused_v(const char *dir, int code, const char *needle, const char *const *args) {
  proc_result r;
  int st = run_v(dir, &r, args);
  if (st != code || (needle && strstr(r.err, needle) == NULL))
    fail_msg("carnet %s: exit %d (wanted %d), stderr: %s", args[0], st, code, r.err);
  proc_result_free(&r);
}
#define REFUSED(dir, code, needle, ...)                                                            \
  refused_v((dir), (code), (needle), (const char *const[]){__VA_ARGS__, NULL})

/* BLAKE2b of every regular file of `dir` (names and bytes, in name order). */
static void hash_dir(const char *dir, uint8_t out[32]) {
  struct dirent **names = NULL;
  int n = scandir(dir, &names, NULL, alphasort);
  crypto_generichash_state g;
  assert_true(n >= 0);
  crypto_generichash_init(&g, NULL, 0, 32);
  for (int i = 0; i < n; i++) {
    char p[2048];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, names[i]->d_name);
    if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
      char *b = slurp(p);
      crypto_generichash_update(&g, (const uint8_t *)names[i]->d_name, strlen(names[i]->d_name));
      crypto_generichash_update(&g, (const uint8_t *)b, (size_t)sb.st_size);
      free(b);
    }
    free(names[i]);
  }
  free(names);
  crypto_generichash_final(&g, out, 32);
}

static void copy_file(const char *from, const char *to, mode_t mode) {
  char *b = slurp(from);
  struct stat sb;
  assert_int_equal(stat(from, &sb), 0);
  int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, b, (size_t)sb.st_size), sb.st_size);
  close(fd);
  free(b);
}

/* --- read-only media ---------------------------------------------------------- */

typedef enum { RO_MOUNT, RO_CHMOD, RO_NONE } ro_kind;

/* Makes `dir` read-only at `ro` (a new directory): a read-only bind mount
 * in a private mount namespace, else (not root) `ro` is `dir` made
 * read-only by its mode bits. */
static ro_kind make_readonly(const char *dir, const char *ro) {
  mkdir(ro, 0700);
  if (getenv("CARNET_TEST_NO_MOUNT") == NULL && unshare(CLONE_NEWNS) == 0 &&
      mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
      mount(dir, ro, NULL, MS_BIND, NULL) == 0) {
    if (mount(NULL, ro, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0) return RO_NONE;
    return RO_MOUNT;
  }
  if (geteuid() == 0) return RO_NONE;
  /* Not root: the mode bits bind. */
  rmdir(ro);
  assert_int_equal(rename(dir, ro), 0);
  DIR *d = opendir(ro);
  struct dirent *de;
  assert_non_null(d);
  while ((de = readdir(d)) != NULL) {
    char p[2048];
    if (de->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", ro, de->d_name);
    chmod(p, 0400);
  }
  closedir(d);
  chmod(ro, 0500);
  return RO_CHMOD;
}

static void undo_readonly(ro_kind k, const char *ro) {
  if (k == RO_MOUNT) umount2(ro, MNT_DETACH);
  if (k == RO_CHMOD) chmod(ro, 0700); /* the teardown removes it */
}

/* Reads work, writes say why they cannot, nothing changes; `tag` names
 * the case in the output. */
static void exercise_readonly(const char *ro, const char *ref, const char *inv) {
  uint8_t before[32], after[32];
  char out[1100], bak[1100], back[1100];
  hash_dir(ro, before);
  /* The proof that the media is read-only, not that carnet thinks so. */
  char probe[1100];
  snprintf(probe, sizeof probe, "%s/probe", ro);
  int fd = open(probe, O_WRONLY | O_CREAT, 0600);
  if (fd >= 0) {
    close(fd);
    fail_msg("%s can be written: the test is not on read-only media", ro);
  }
  assert_true(errno == EROFS || errno == EACCES);
  printf("# %s: %s\n", ro, strerror(errno));

  /* Read commands. */
  json_t *list = OKJ(ro, "customer", "list");
  assert_int_equal(json_array_size(list), 3);
  json_decref(list);
  OK1(ro, "customer", "show", ref);
  OK1(ro, "doc", "show", inv);
  OK1(ro, "doc", "list");
  OK1(ro, "history", ref);
  json_t *st = OKJ(ro, "status");
  assert_int_equal(jint(json_object_get(st, "customers"), "live"), 3);
  json_decref(st);
  OK1(ro, "check");
  OK1(ro, "id");
  OK1(ro, "peer", "list");
  OK1(ro, "erasures");
  OK1(ro, "dupes");
  snprintf(out, sizeof out, "%s/ro-export.csv", F->root);
  OK1(ro, "export", "-o", out);
  assert_true(file_exists(out));
  snprintf(bak, sizeof bak, "%s/ro.bak", F->root);
  OK1(ro, "backup", bak);

  /* Write commands say why they cannot. */
  REFUSED(ro, 1, "read-only", "customer", "add", "--name", "Nouveau Client");
  REFUSED(ro, 1, "read-only", "customer", "edit", ref, "--city", "Brest");
  REFUSED(ro, 1, "read-only", "erase", ref, "--reason", "test");
  REFUSED(ro, 1, "read-only", "peer", "trust",
          "0000000000000000000000000000000000000000000000000000000000000001");
  REFUSED(ro, 1, "read-only", "serve", "--listen", "127.0.0.1:0");
  hash_dir(ro, after);
  assert_memory_equal(before, after, 32);

  /* The backup made from the read-only media restores. */
  snprintf(back, sizeof back, "%s/from-ro", F->root);
  char key[1100];
  snprintf(key, sizeof key, "%s/carnet.key", ro);
  OK1(back, "restore", bak, "--key-file", key);
  list = OKJ(back, "customer", "list");
  assert_int_equal(json_array_size(list), 3);
  json_decref(list);
}

static void build_small(const char *dir, char **ref, char **inv) {
  init(dir);
  *ref = OK(dir, "customer", "add", "--name", "Karine Gardee", "--email", "karine@example.org");
  (*ref)[strcspn(*ref, "\n")] = '\0';
  OK1(dir, "customer", "add", "--name", "Jean Dupont", "--city", "Lyon");
  OK1(dir, "customer", "add", "--name", "Lea Martin", "--phone", "06 11 22 33 44");
  *inv = OK(dir, "doc", "add", "--type", "invoice", "--customer", *ref);
  (*inv)[strcspn(*inv, "\n")] = '\0';
  OK1(dir, "doc", "line", "add", *inv, "--label", "Pose", "--qty", "1", "--price", "100", "--vat",
      "20");
  char *num = OK(dir, "doc", "validate", *inv);
  free(num);
}

static void test_readonly_media(void **state) {
  (void)state;
  char *ref, *inv;
  const char *A = path("A"), *ro = path("ro");
  build_small(A, &ref, &inv);
  ro_kind k = make_readonly(A, ro);
  if (k == RO_NONE) {
    printf("# root without the right to mount: cannot make read-only media here\n");
    skip();
  }
  printf("# read-only through %s\n", k == RO_MOUNT ? "a read-only bind mount" : "mode bits");
  exercise_readonly(ro, ref, inv);
  undo_readonly(k, ro);
  free(ref);
  free(inv);
}

/* A replica copied to read-only media without its lock files (data.mdb and
 * carnet.key only): neither LMDB's lock.mdb nor carnet.lock can be made. */
static void test_readonly_without_lock_files(void **state) {
  (void)state;
  char *ref, *inv, from[1100], to[1100];
  const char *A = path("A"), *C = path("copy"), *ro = path("ro");
  build_small(A, &ref, &inv);
  mkdir(C, 0700);
  snprintf(from, sizeof from, "%s/data.mdb", A);
  snprintf(to, sizeof to, "%s/data.mdb", C);
  copy_file(from, to, 0600);
  snprintf(from, sizeof from, "%s/carnet.key", A);
  snprintf(to, sizeof to, "%s/carnet.key", C);
  copy_file(from, to, 0600);
  ro_kind k = make_readonly(C, ro);
  if (k == RO_NONE) skip();
  exercise_readonly(ro, ref, inv);
  undo_readonly(k, ro);
  free(ref);
  free(inv);
}

/* --- one serve per replica ------------------------------------------------------ */

static void test_one_serve_per_replica(void **state) {
  (void)state;
  const char *A = path("A");
  char pid[32];
  init(A);
  bg *first = SERVE(A, "first");
  snprintf(pid, sizeof pid, "pid %d", (int)first->pid);
  /* A second one is refused at once, naming the first. */
  const char *argv[] = {F->bin, "--dir", A, "serve", "--listen", "127.0.0.1:0", NULL};
  proc_opts o = {.cwd = F->root, .timeout_ms = T(10000)};
  proc_result r;
  assert_int_equal(proc_run(argv, &o, &r), 0);
  if (r.timed_out || r.status != 1 || strstr(r.err, pid) == NULL)
    fail_msg("second serve: exit %d%s, stdout '%s', stderr '%s'", r.status,
             r.timed_out ? " (still running)" : "", r.out, r.err);
  assert_null(strstr(r.out, "listening on"));
  proc_result_free(&r);
  /* The first one killed hard leaves nothing that blocks the next. */
  kill(first->pid, SIGKILL);
  assert_int_equal(bg_wait(first, T(10000)), 128 + SIGKILL);
  bg *next = SERVE(A, "next");
  snprintf(pid, sizeof pid, "pid %d", (int)next->pid);
  assert_int_equal(run_v(A, &r, (const char *const[]){"serve", "--once", NULL}), 1);
  assert_non_null(strstr(r.err, pid));
  proc_result_free(&r);
  /* Other commands are not kept out. */
  OK1(A, "customer", "add", "--name", "Pendant le service");
  stop(next);
}

/* --- backups while serving, and the command line ---------------------------------- */

static long long live_customers(const char *dir) {
  return customer_count(dir);
}

static void test_backup_while_writing(void **state) {
  (void)state;
  const char *A = path("A"), *csv = path("many.csv"), *bak1 = path("one.bak"),
             *bak2 = path("two.bak"), *R1 = path("R1"), *R2 = path("R2"), *key = path("a.key");
  char from[1100];
  init(A);
  snprintf(from, sizeof from, "%s/carnet.key", A);
  copy_file(from, key, 0600);
  FILE *f = fopen(csv, "w");
  assert_non_null(f);
  fprintf(f, "Nom,E-mail,Ville\n");
  for (int i = 0; i < 3000; i++)
    fprintf(f, "Client %04d,client%04d@example.org,Lyon\n", i, i);
  fclose(f);
  bg *sa = SERVE(A, "A");
  /* An import commits 50 rows at a time while the backup is made. */
  const char *imp[] = {F->bin, "--dir", A, "import", csv, "--batch", "50", NULL};
  bg *writer = bg_spawn(imp, "import.log");
  umask(022);
  /* Mid-import, if the machine lets it get that far (a bounded wait). */
  uint64_t deadline = now_ms() + (uint64_t)T(RUN_MS);
  while (bg_alive(writer) && live_customers(A) < 1000 && now_ms() < deadline) {
  }
  OK1(A, "backup", bak1);
  assert_int_equal(bg_wait(writer, T(RUN_MS)), 0);
  OK1(A, "backup", bak2);
  struct stat sb;
  assert_int_equal(stat(bak1, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  stop(sa);
  /* Each backup is one consistent moment: whole transactions only. */
  OK1(R1, "restore", bak1, "--key-file", key);
  OK1(R2, "restore", bak2, "--key-file", key);
  long long n1 = live_customers(R1), n2 = live_customers(R2);
  printf("# first backup: %lld of 3000 customers\n", n1);
  assert_int_equal(n1 % 50, 0);
  assert_int_equal(n2, 3000);
  OK1(R1, "check");
  OK1(R2, "check");
  /* The restored replica's key is new; its data is the backup's. */
  ident a = id_of(A), r = id_of(R2);
  assert_string_not_equal(a.key, r.key);
  assert_string_equal(a.team, r.team);
}

static void test_restore_command(void **state) {
  (void)state;
  const char *A = path("A"), *bak = path("a.bak"), *R = path("R"), *key = path("a.key");
  char from[1100];
  init(A);
  OK1(A, "customer", "add", "--name", "Karine Gardee");
  OK1(A, "backup", bak);
  snprintf(from, sizeof from, "%s/carnet.key", A);
  copy_file(from, key, 0600);
  /* No key: the message says which one. */
  REFUSED(R, 1, "carnet.key", "restore", bak);
  REFUSED(R, 1, "not a Carnet backup", "restore", key, "--key-file", key);
  REFUSED(A, 1, "already exists", "restore", bak, "--key-file", key);
  json_t *j = OKJ(R, "restore", bak, "--key-file", key);
  ident a = id_of(A), r = id_of(R);
  char rid[80], from_id[32];
  jstr(j, "key", rid, sizeof rid);
  assert_string_equal(rid, r.key);
  jstr(json_object_get(j, "from"), "id", from_id, sizeof from_id);
  json_t *aj = OKJ(A, "id");
  char aid[32];
  jstr(aj, "replica", aid, sizeof aid);
  assert_string_equal(from_id, aid);
  assert_false(json_is_true(json_object_get(j, "waiting"))); /* A had no peer */
  json_decref(aj);
  json_decref(j);
  assert_string_not_equal(a.key, r.key);
  /* The key file was copied: the new replica opens without --key-file. */
  assert_int_equal(customer_count(R), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_one_serve_per_replica, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_backup_while_writing, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_restore_command, fx_setup, fx_teardown),
      /* Last: they leave this process in a private mount namespace. */
      cmocka_unit_test_setup_teardown(test_readonly_media, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_readonly_without_lock_files, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
