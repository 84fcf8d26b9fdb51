/* tests/sync/test_restore.c - a backup restored into a team, with real
 * `carnet` processes (carnet/backup.h).
 *
 * B, the office hub, runs `carnet serve`; A, a laptop, syncs with it. B is
 * backed up while it serves, then everybody keeps working: new customers
 * on both, an invoice validated on B (its series goes on), a person X
 * erased on A. B is lost. Its backup is restored into R, a new replica:
 *
 * - R holds X again (the backup's data), and a newcomer N that trusts only
 *   R gets nothing from it (nor can R write a change file): R sends nothing
 *   before a replica its team trusted has sent it its erasures;
 * - A does not know R's new key until it is trusted by hand;
 * - once R has synced with A, X is erased on R too, and R has what B and A
 *   did after the backup; R validates an invoice: a number of its own
 *   series, never one B issued;
 * - A, R and N end with the same state: nothing lost, no invoice number
 *   twice, and X nowhere: not in any file of the three replicas (byte
 *   search for its values, and for pieces of the sealed row R had of it),
 *   not in any row once decrypted with the replica's key.
 */
#define _GNU_SOURCE /* memmem */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/store/replica_int.h"
#include "engine/store/store.h"
#include "support/cliproc.h"
#include "support/testenv.h"

#define X_NAME "Zacharie Oubliable"
#define X_EMAIL "zacharie.oubliable@exemple.fr"
#define X_PHONE "06 71 82 93 04"
#define X_E164 "+33671829304"
#define X_NOTES "prefers calls after six"
#define K_EMAIL "karine.gardee@exemple.fr"

static char *first_line(char *s) {
  s[strcspn(s, "\n")] = '\0';
  return s;
}
#define LINE(dir, ...) first_line(OK((dir), __VA_ARGS__))
/* A new customer's id (`customer add` prints its reference). */
#define ADD_ID(dir, ...) added_id(OK((dir), "customer", "add", __VA_ARGS__, "--json"))

/* `carnet --dir DIR args...`: its exit status; stderr copied to err. */
static int status_v(const char *dir, char *err, size_t len, const char *const *args) {
  proc_result r;
  int st = run_v(dir, &r, args);
  if (err) snprintf(err, len, "%s", r.err);
  proc_result_free(&r);
  return st;
}
#define STATUS(dir, err, ...)                                                                      \
  status_v((dir), (err), sizeof(err), (const char *const[]){__VA_ARGS__, NULL})

static bool shows(const char *dir, const char *ref) {
  char err[1024];
  return STATUS(dir, err, "customer", "show", ref) == 0;
}

/* The invoice numbers of a replica. */
static size_t invoice_numbers(const char *dir, char nums[][64], size_t max) {
  json_t *list = OKJ(dir, "doc", "list", "--type", "invoice");
  size_t n = 0;
  for (size_t i = 0; i < json_array_size(list) && n < max; i++) {
    const char *num = json_string_value(json_object_get(json_array_get(list, i), "number"));
    if (num) snprintf(nums[n++], 64, "%s", num);
  }
  json_decref(list);
  return n;
}

/* --- searching the files -------------------------------------------------------------- */

/* Whether a regular file of `dir` holds the bytes; its name in `where`. */
static bool dir_holds(const char *dir, const void *needle, size_t len, char *where, size_t wlen) {
  DIR *d = opendir(dir);
  struct dirent *de;
  bool found = false;
  assert_non_null(d);
  while (!found && (de = readdir(d)) != NULL) {
    char p[2048];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
    char *b = slurp(p);
    found = memmem(b, (size_t)sb.st_size, needle, len) != NULL;
    if (found && where) snprintf(where, wlen, "%s", p);
    free(b);
  }
  closedir(d);
  return found;
}

/* Three pieces of the sealed row `id` as stored in `dir` (read through a
 * read-only LMDB environment of the test's own); false when absent. */
enum { CHUNK = 24 };
static bool sealed_pieces(const char *dir, const carnet_id *id, uint8_t out[3][CHUNK]) {
  MDB_env *env = NULL;
  MDB_txn *txn = NULL;
  MDB_dbi dbi;
  MDB_val k = {16, (void *)id->b}, v;
  assert_int_equal(mdb_env_create(&env), 0);
  assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
  assert_int_equal(mdb_env_set_mapsize(env, (size_t)1 << 36), 0);
  assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600), 0);
  assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, "entities", 0, &dbi), 0);
  bool found = mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size >= 4 * CHUNK;
  for (int c = 0; found && c < 3; c++)
    memcpy(out[c], (const uint8_t *)v.mv_data + (v.mv_size - CHUNK) * (size_t)(c + 1) / 4, CHUNK);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return found;
}

/* Every sealed value of the replica in `dir`, opened with its key (the
 * key file in its directory), searched for each needle: the count of
 * values holding needles[i] goes to hits[i]. */
static void decrypted_hits(const char *dir, const char *const *needles, size_t n, size_t *hits) {
  static const carnet__table tables[] = {CARNET__T_ENTITIES, CARNET__T_CERTS, CARNET__T_INVITES};
  carnet_replica *r = NULL;
  char err[512];
  memset(hits, 0, n * sizeof *hits);
  if (carnet_replica_open(dir, NULL, &r, err, sizeof err)) fail_msg("open %s: %s", dir, err);
  carnet__stxn *st = NULL;
  assert_int_equal(carnet__store_begin(r->store, false, &st), 0);
  for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
    carnet__scur *c = NULL;
    carnet_buf k, v;
    assert_int_equal(carnet__store_cursor(st, tables[t], &c), 0);
    for (int rc = carnet__store_seek(c, NULL, 0, &k, &v); rc == 0;
         rc = carnet__store_next(c, &k, &v)) {
      for (size_t i = 0; i < n; i++)
        if (memmem(v.base, v.len, needles[i], strlen(needles[i]))) hits[i]++;
    }
    carnet__store_cursor_close(c);
  }
  carnet__store_abort(st);
  carnet_replica_close(r);
}

/* --- the scenario ------------------------------------------------------------------------ */

static void test_restore_into_team(void **state) {
  (void)state;
  const char *A = path("A"), *B = path("B"), *R = path("R"), *N = path("N"),
             *bak = path("office.bak"), *bkey = path("office.key");
  char err[2048];
  init(A);
  init(B);
  trust_pair(B, A);
  bg *sb = SERVE(B, "B");

  /* Before the backup: K, X, Y on A, an invoice on each side. */
  char *k = ADD_ID(A, "--name", "Karine Gardee", "--email", K_EMAIL);
  char *x = ADD_ID(A, "--name", X_NAME, "--email", X_EMAIL, "--phone", X_PHONE, "--notes", X_NOTES,
                   "--city", "Rennes");
  char *y = ADD_ID(A, "--name", "Yves Garde", "--city", "Nantes");
  char *inv = LINE(A, "doc", "add", "--type", "invoice", "--customer", k);
  OK1(A, "doc", "line", "add", inv, "--label", "Pose", "--qty", "1", "--price", "100", "--vat",
      "20");
  char *num_a1 = LINE(A, "doc", "validate", inv);
  json_decref(sync_json(A, sb->addr));
  char *c1 = ADD_ID(B, "--name", "Client Bureau Un");
  char *inv_b = LINE(B, "doc", "add", "--type", "invoice", "--customer", y);
  OK1(B, "doc", "line", "add", inv_b, "--label", "Audit", "--qty", "1", "--price", "250", "--vat",
      "20");
  char *num_b1 = LINE(B, "doc", "validate", inv_b);

  /* The backup, while B serves; its key file kept apart. */
  OK1(B, "backup", bak);
  char from[1100];
  snprintf(from, sizeof from, "%s/carnet.key", B);
  char *kb = slurp(from);
  FILE *kf = fopen(bkey, "w");
  assert_non_null(kf);
  fputs(kb, kf);
  fclose(kf);
  chmod(bkey, 0600);
  free(kb);

  /* Everybody keeps working: B validates another invoice (its series
   * goes on), both add customers, A erases X; then they sync. */
  char *c2 = ADD_ID(B, "--name", "Client Bureau Deux");
  char *inv_b2 = LINE(B, "doc", "add", "--type", "invoice", "--customer", k);
  OK1(B, "doc", "line", "add", inv_b2, "--label", "Suivi", "--qty", "2", "--price", "80", "--vat",
      "20");
  char *num_b2 = LINE(B, "doc", "validate", inv_b2);
  char *c3 = ADD_ID(A, "--name", "Client Portable Trois");
  OK1(A, "erase", x, "--reason", "request of 2026-12-06");
  json_decref(sync_json(A, sb->addr));
  stop(sb);
  ident b_id = id_of(B);
  json_t *bj = OKJ(B, "id");
  char b_tag[8];
  jstr(bj, "tag", b_tag, sizeof b_tag);
  json_decref(bj);
  /* B is lost. */
  assert_int_equal(tdir_remove(B), 0);

  /* The restore: a new replica, which holds X again. */
  json_t *rj = OKJ(R, "restore", bak, "--key-file", bkey);
  char r_key[80], r_tag[8];
  jstr(rj, "key", r_key, sizeof r_key);
  jstr(rj, "tag", r_tag, sizeof r_tag);
  assert_true(json_is_true(json_object_get(rj, "waiting")));
  json_decref(rj);
  assert_string_not_equal(r_key, b_id.key);
  assert_string_not_equal(r_tag, b_tag);
  assert_true(shows(R, x));
  uint8_t x_sealed[3][CHUNK];
  carnet_id xid;
  assert_int_equal(carnet_id_parse(x, &xid), 0);
  assert_true(sealed_pieces(R, &xid, x_sealed));

  /* A newcomer that trusts only R gets nothing from it yet. */
  init(N);
  trust_pair(R, N);
  bg *sn = SERVE(N, "N");
  assert_int_equal(STATUS(R, err, "sync", sn->addr), 1);
  assert_non_null(strstr(err, "restored from a backup"));
  assert_int_equal(customer_count(N), 0);
  assert_false(shows(N, x));
  /* Nor through a change file. */
  char cf[1100];
  snprintf(cf, sizeof cf, "%s/r.changes", F->root);
  assert_int_equal(STATUS(R, err, "changes", "export", "-o", cf), 1);
  assert_non_null(strstr(err, "restored from a backup"));
  assert_false(file_exists(cf));

  /* A does not know R's new key... */
  bg *sa = SERVE(A, "A");
  assert_int_equal(STATUS(R, err, "sync", sa->addr), 1);
  /* ...until it trusts it; then R gets A's erasures first, and the rest. */
  OK1(A, "peer", "trust", r_key);
  json_decref(sync_json(R, sa->addr));
  assert_false(shows(R, x));
  OK1(R, "changes", "export", "-o", cf);
  const char *kept[] = {k, y, c1, c2, c3};
  for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
    assert_true(shows(R, kept[i]));

  /* R works: a customer, and an invoice of its own series. */
  char *c4 = ADD_ID(R, "--name", "Client Restaure Quatre");
  char *inv_r = LINE(R, "doc", "add", "--type", "invoice", "--customer", y);
  OK1(R, "doc", "line", "add", inv_r, "--label", "Reprise", "--qty", "1", "--price", "60", "--vat",
      "20");
  char *num_r = LINE(R, "doc", "validate", inv_r);
  assert_non_null(strstr(num_r, r_tag));
  assert_string_not_equal(num_r, num_b2);
  printf("# invoices: A %s, B %s and %s (after the backup), R %s\n", num_a1, num_b1, num_b2, num_r);
  json_decref(sync_json(R, sa->addr));
  json_decref(sync_json(R, sn->addr));
  stop(sn);
  stop(sa);

  /* Nothing lost, no number twice, the same state everywhere. */
  const char *dirs[] = {A, R, N};
  const char *all[] = {k, y, c1, c2, c3, c4};
  for (size_t d = 0; d < 3; d++) {
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
      if (!shows(dirs[d], all[i])) fail_msg("%s lacks customer %s", dirs[d], all[i]);
    assert_false(shows(dirs[d], x));
    char nums[8][64];
    size_t nn = invoice_numbers(dirs[d], nums, 8);
    assert_int_equal(nn, 4);
    for (size_t i = 0; i < nn; i++)
      for (size_t j = i + 1; j < nn; j++)
        assert_string_not_equal(nums[i], nums[j]);
    const char *want[] = {num_a1, num_b1, num_b2, num_r};
    for (size_t w = 0; w < 4; w++) {
      bool seen = false;
      for (size_t i = 0; i < nn; i++)
        seen |= strcmp(nums[i], want[w]) == 0;
      if (!seen) fail_msg("%s lacks invoice %s", dirs[d], want[w]);
    }
  }
  assert_same_digest(A, R);
  assert_same_digest(R, N);

  /* X nowhere: no byte of its values in any file, no piece of the sealed
   * row R had of it, and no row holding them once decrypted. */
  const char *gone[] = {X_NAME, X_EMAIL, X_PHONE, X_E164, X_NOTES};
  const char *needles[] = {X_NAME, X_EMAIL, X_E164, X_NOTES, K_EMAIL};
  size_t hits[5];
  char where[2048];
  for (size_t d = 0; d < 3; d++) {
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
      if (dir_holds(dirs[d], gone[i], strlen(gone[i]), where, sizeof where))
        fail_msg("'%s' is in %s", gone[i], where);
    for (int c = 0; c < 3; c++)
      if (dir_holds(dirs[d], x_sealed[c], CHUNK, where, sizeof where))
        fail_msg("a piece of X's sealed row is in %s", where);
    decrypted_hits(dirs[d], needles, 5, hits);
    for (size_t i = 0; i < 4; i++)
      if (hits[i]) fail_msg("'%s' is in %zu decrypted rows of %s", needles[i], hits[i], dirs[d]);
    assert_true(hits[4] > 0); /* the search sees what stays */
  }
  free(k), free(x), free(y), free(inv), free(num_a1), free(c1), free(inv_b), free(num_b1);
  free(c2), free(inv_b2), free(num_b2), free(c3), free(c4), free(inv_r), free(num_r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_restore_into_team, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
