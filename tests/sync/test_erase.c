/* tests/sync/test_erase.c - GDPR erasure across real `carnet` processes
 * (carnet/erase.h).
 *
 * Three replicas A, B, C on 127.0.0.1: B runs `carnet serve` (the hub), A
 * and C run `carnet sync` against it. C goes offline, edits the customer
 * that A then erases, and validates an invoice for a second customer that
 * A erases too; C comes back through B only. Afterwards no replica shows
 * the customers, C's edits are gone, every file of the three directories
 * is searched byte by byte for their e-mails, phones and names, and the
 * invoices stay, read-only, with the identity as issued. Every wait is
 * bounded; every background process is killed in the teardown.
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
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carnet/carnet.h"
#include "engine/store/replica_int.h"
#include "engine/store/store.h"
#include "support/holds.h"
#include "support/proc.h"
#include "support/testenv.h"

#if defined(__SANITIZE_ADDRESS__)
#define SCALE 5
#else
#define SCALE 1
#endif

typedef struct world {
  char *root;
  const char *bin;
  char dirs[3][1024]; /* A, B, C */
  pid_t serve;        /* B's `carnet serve`, 0 when none */
  char addr[64];
} world;

static world *W;

static int setup(void **state) {
  world *w = calloc(1, sizeof *w);
  if (w == NULL || (w->bin = getenv("CARNET_BIN")) == NULL ||
      (w->root = tdir_new("erase")) == NULL) {
    fprintf(stderr, "CARNET_BIN is not set (run through ctest) or no scratch directory\n");
    free(w);
    return -1;
  }
  for (int i = 0; i < 3; i++)
    snprintf(w->dirs[i], sizeof w->dirs[i], "%s/%c", w->root, 'A' + i);
  W = *state = w;
  return 0;
}

static int teardown(void **state) {
  world *w = *state;
  if (w->serve > 0) {
    kill(-w->serve, SIGKILL);
    waitpid(w->serve, NULL, 0);
  }
  if (getenv("CARNET_TEST_KEEP") == NULL) tdir_remove(w->root);
  free(w->root);
  free(w);
  W = NULL;
  return 0;
}

/* `carnet --dir DIR args...`: its exit status; *out gets stdout (free it)
 * when out is not NULL. */
static char g_err[4096]; /* stderr of the last carnet run */

static int carnet(int who, char **out, const char *const *args) {
  const char *argv[32] = {W->bin, "--dir", W->dirs[who]};
  size_t n = 3;
  while (*args && n < 31)
    argv[n++] = *args++;
  argv[n] = NULL;
  proc_opts o = {.cwd = W->root, .timeout_ms = 60000 * SCALE};
  proc_result r;
  if (proc_run(argv, &o, &r) != 0) fail_msg("cannot run carnet: %s", r.why);
  if (r.timed_out) fail_msg("carnet %s timed out", argv[3]);
  if (r.status != 0)
    fprintf(stderr, "[%c] carnet %s: exit %d: %s", 'A' + who, argv[3], r.status, r.err);
  snprintf(g_err, sizeof g_err, "%s", r.err);
  if (out) {
    *out = r.out;
    r.out = NULL;
  }
  int st = r.status;
  proc_result_free(&r);
  return st;
}

#define CARNET(who, out, ...) carnet((who), (out), (const char *const[]){__VA_ARGS__, NULL})
/* Must succeed; returns stdout's first line (free it). */
static char *must(int who, const char *const *args) {
  char *out = NULL;
  if (carnet(who, &out, args) != 0) fail_msg("carnet %s failed on %c", args[0], 'A' + who);
  out[strcspn(out, "\n")] = '\0';
  return out;
}
#define MUST(who, ...) must((who), (const char *const[]){__VA_ARGS__, NULL})
#define DO(who, ...) free(MUST(who, __VA_ARGS__))

static json_t *json_of(int who, const char *const *args) {
  char *out = NULL;
  json_error_t e;
  if (carnet(who, &out, args) != 0) fail_msg("carnet %s failed on %c", args[0], 'A' + who);
  json_t *j = json_loads(out, 0, &e);
  if (j == NULL) fail_msg("not JSON: %s", out);
  free(out);
  return j;
}
#define JSON(who, ...) json_of((who), (const char *const[]){__VA_ARGS__, "--json", NULL})

static const char *jget(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  if (s == NULL) fail_msg("no string '%s'", key);
  return s;
}

/* `customer add ... --json`: the new customer's id (free it). */
static char *id_of(json_t *j) {
  char *id = strdup(jget(j, "id"));
  json_decref(j);
  return id;
}
#define ADD(who, ...) id_of(JSON((who), "customer", "add", __VA_ARGS__))

/* --- B's `carnet serve` ------------------------------------------------------ */

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Starts `carnet serve` on B and reads its address from B/serve.addr. */
static void serve_b(void) {
  char log[1200], addrfile[1100];
  snprintf(log, sizeof log, "%s/serve-B.log", W->root);
  snprintf(addrfile, sizeof addrfile, "%s/serve.addr", W->dirs[1]);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
    execl(W->bin, W->bin, "--dir", W->dirs[1], "serve", "--listen", "127.0.0.1:0", "--verbose",
          (char *)NULL);
    _exit(127);
  }
  setpgid(pid, pid);
  W->serve = pid;
  for (int waited = 0; waited < 20000 * SCALE; waited += 20) {
    FILE *f = fopen(addrfile, "r");
    if (f) {
      bool got = fgets(W->addr, sizeof W->addr, f) != NULL;
      fclose(f);
      W->addr[strcspn(W->addr, "\n")] = '\0';
      if (got && W->addr[0]) return;
    }
    sleep_ms(20);
  }
  fail_msg("carnet serve on B did not write its address");
}

/* SIGTERM and a clean exit (the serve compacts on its way out). */
static void stop_b(void) {
  int st = 0;
  kill(W->serve, SIGTERM);
  for (int waited = 0; waitpid(W->serve, &st, WNOHANG) == 0; waited += 20) {
    if (waited > 15000 * SCALE) fail_msg("carnet serve did not stop");
    sleep_ms(20);
  }
  W->serve = 0;
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void sync_with_b(int who) {
  DO(who, "sync", W->addr);
}

static void trust(int member, int newcomer) {
  json_t *m = JSON(member, "id"), *n = JSON(newcomer, "id");
  DO(newcomer, "peer", "trust", jget(m, "key"), "--team", jget(m, "team"));
  DO(member, "peer", "trust", jget(n, "key"));
  json_decref(m);
  json_decref(n);
}

/* --- the byte search ------------------------------------------------------------ */

static char *file_holding(const char *dir, const char *needle) {
  return file_holding_bytes(dir, needle, strlen(needle));
}

static void assert_nowhere(const char *needle) {
  for (int i = 0; i < 3; i++) {
    char *where = file_holding(W->dirs[i], needle);
    if (where) fail_msg("'%s' is still in %s", needle, where);
  }
}

/* --- sealed rows ------------------------------------------------------------------ */

/* Rows are sealed on disk (encryption at rest), so a plaintext search finds
 * nothing even before an erasure. What must go is then the sealed bytes of
 * the erased rows: the test reads each replica's entity rows as stored (a
 * read-only LMDB environment of its own, closed before any compaction) and
 * searches for pieces of their ciphertext. */
enum { ROWS_MAX = 256, CHUNK = 24 };
typedef struct rowset {
  size_t n;
  uint8_t id[ROWS_MAX][16];
  uint8_t chunk[ROWS_MAX][3][CHUNK]; /* three pieces of each sealed row */
} rowset;

static void read_rows(const char *dir, rowset *out) {
  MDB_env *env = NULL;
  MDB_txn *txn = NULL;
  MDB_dbi dbi;
  MDB_cursor *cur = NULL;
  MDB_val k, v;
  out->n = 0;
  assert_int_equal(mdb_env_create(&env), 0);
  assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
  assert_int_equal(mdb_env_set_mapsize(env, (size_t)1 << 36), 0);
  assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600), 0);
  assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, "entities", 0, &dbi), 0);
  assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    assert_true(out->n < ROWS_MAX);
    if (k.mv_size != 16 || v.mv_size < 4 * CHUNK) continue;
    memcpy(out->id[out->n], k.mv_data, 16);
    for (int c = 0; c < 3; c++)
      memcpy(out->chunk[out->n][c],
             (const uint8_t *)v.mv_data + (v.mv_size - CHUNK) * (size_t)(c + 1) / 4, CHUNK);
    out->n++;
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  mdb_env_close(env);
}

static bool has_id(const rowset *rs, const uint8_t id[16]) {
  for (size_t i = 0; i < rs->n; i++)
    if (memcmp(rs->id[i], id, 16) == 0) return true;
  return false;
}

/* Whether any regular file of `dir` holds `len` bytes `b`. */
static bool dir_holds(const char *dir, const void *b, size_t len) {
  char *where = file_holding_bytes(dir, b, len);
  free(where);
  return where != NULL;
}

/* --- the scenario ---------------------------------------------------------------- */

#define X_NAME "Zacharie Oubliable"
#define X_EMAIL "zacharie.oubliable@exemple.fr"
#define X_PHONE "06 71 82 93 04"
#define X_E164 "+33671829304"
#define X_EDIT_EMAIL "zach.horsligne@exemple.fr"
#define X_EDIT_NOTE "edited on C while offline"
#define Y_NAME "Yolande Effacee"
#define Y_EMAIL "yolande.effacee@exemple.fr"
#define Y_PHONE "07 12 34 98 76"
#define Y_E164 "+33712349876"
#define K_NAME "Karine Gardee"
#define K_EMAIL "karine.gardee@exemple.fr"

static size_t count_invoices_of(int who, const char *customer, const char *number,
                                bool *issued_ok) {
  json_t *list = JSON(who, "doc", "list", "--type", "invoice");
  size_t n = 0;
  *issued_ok = true;
  for (size_t i = 0; i < json_array_size(list); i++) {
    json_t *d = json_array_get(list, i);
    if (strcmp(jget(d, "customer"), customer) != 0) continue;
    n++;
    json_t *issued = json_object_get(d, "issued_to");
    const char *name = json_string_value(json_object_get(issued, "name"));
    *issued_ok &= name && strcmp(name, Y_NAME) == 0 && json_is_string(json_object_get(d, "number"));
    if (number && strcmp(jget(d, "number"), number) == 0)
      *issued_ok &= strcmp(jget(json_object_get(d, "totals"), "ttc"), "120.00") == 0;
  }
  json_decref(list);
  return n;
}

static void test_erase_everywhere(void **state) {
  (void)state;
  enum { A, B, C };
  for (int i = 0; i < 3; i++)
    DO(i, "init");
  trust(A, B);
  trust(B, C);
  trust(A, C);

  /* A holds X (every kind of personal data), Y (with invoices) and K. */
  char *k = ADD(A, "--name", K_NAME, "--email", K_EMAIL, "--city", "Brest");
  char *x =
      ADD(A, "--name", X_NAME, "--email", X_EMAIL, "--phone", X_PHONE, "--notes",
          "prefers calls after six", "--city", "Rennes", "--custom", "birthday:date=1980-04-02");
  char *y = ADD(A, "--name", Y_NAME, "--email", Y_EMAIL, "--phone", Y_PHONE, "--street",
                "3 place du Marche", "--city", "Nantes", "--postcode", "44000", "--notes",
                "allergique aux chats");
  DO(A, "contact", "add", "--customer", x, "--name", "Assistant Oubliable", "--email",
     "assistant.oubliable@exemple.fr");
  DO(A, "consent", "grant", x, "email", "--note", "salon 2026");
  DO(A, "reminder", "add", "--customer", x, "--comment", "rappeler Zacharie");
  DO(A, "action", "add", "--channel", "visit", "--customer", x, "--customer", k, "--details",
     "visite commune Zacharie");
  DO(A, "reminder", "add", "--customer", y, "--comment", "relancer Yolande");
  DO(A, "consent", "grant", y, "sms", "--note", "formulaire Yolande");
  DO(A, "action", "add", "--channel", "phone", "--customer", y, "--details", "appel Yolande");
  char *quote = MUST(A, "doc", "add", "--type", "quote", "--customer", x);
  DO(A, "doc", "line", "add", quote, "--label", "Pose", "--qty", "1", "--price", "10", "--vat",
     "20");
  char *inv_a = MUST(A, "doc", "add", "--type", "invoice", "--customer", y);
  DO(A, "doc", "line", "add", inv_a, "--label", "Widget", "--qty", "2", "--price", "50", "--vat",
     "20");
  char *num_a = MUST(A, "doc", "validate", inv_a);
  char *draft = MUST(A, "doc", "add", "--type", "invoice", "--customer", y);
  DO(A, "doc", "line", "add", draft, "--label", "Gadget", "--qty", "1", "--price", "30", "--vat",
     "20");

  /* Art. 15/20: the export holds X's data and nothing of K but its id. */
  char exp[1200];
  snprintf(exp, sizeof exp, "%s/export-x.json", W->root);
  DO(A, "subject-export", x, "-o", exp);
  json_error_t je;
  json_t *e = json_load_file(exp, 0, &je);
  assert_non_null(e);
  char *text = json_dumps(e, JSON_COMPACT);
  assert_non_null(strstr(text, X_EMAIL));
  assert_non_null(strstr(text, X_E164));
  assert_non_null(strstr(text, "assistant.oubliable@exemple.fr"));
  assert_non_null(strstr(text, "salon 2026"));
  assert_non_null(strstr(text, "rappeler Zacharie"));
  assert_non_null(strstr(text, "visite commune Zacharie"));
  assert_non_null(strstr(text, "birthday"));
  assert_non_null(strstr(text, k)); /* the shared action names K by id only */
  assert_null(strstr(text, K_NAME));
  assert_null(strstr(text, K_EMAIL));
  assert_null(strstr(text, Y_NAME));
  assert_int_equal(json_array_size(json_object_get(e, "documents")), 1);
  assert_int_equal(json_array_size(json_object_get(e, "contacts")), 1);
  assert_int_equal(json_array_size(json_object_get(e, "actions")), 1);
  assert_int_equal(json_array_size(json_object_get(e, "reminders")), 1);
  assert_true(json_array_size(json_object_get(e, "consent_log")) >= 1);
  free(text);
  json_decref(e);
  remove(exp);

  /* Everyone gets everything; then C goes offline. */
  serve_b();
  sync_with_b(A);
  sync_with_b(C);

  /* C, offline: edits X and validates Y's draft invoice (its own series). */
  DO(C, "customer", "edit", x, "--notes", X_EDIT_NOTE, "--email", X_EDIT_EMAIL);
  char *num_c = MUST(C, "doc", "validate", draft);

  /* The sealed rows as they are before the erasure, on every replica. */
  static rowset before[3], after[3];
  for (int i = 0; i < 3; i++)
    read_rows(W->dirs[i], &before[i]);

  /* A erases X and Y, then syncs with B. */
  DO(A, "erase", x, "--reason", "request of 2026-12-01");
  DO(A, "erase", y, "--reason", "request of 2026-12-02");
  assert_int_not_equal(CARNET(A, NULL, "erase", x, "--reason", "again"), 0);
  sync_with_b(A);

  /* C comes back, through B only; then A hears B again (confirmations). */
  sync_with_b(C);
  sync_with_b(A);
  stop_b();

  /* No replica shows X or Y; C's edits went with them. */
  for (int i = 0; i < 3; i++) {
    json_t *list = JSON(i, "customer", "list", "--deleted");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(jget(json_array_get(list, 0), "id"), k);
    json_decref(list);
    assert_int_equal(CARNET(i, NULL, "customer", "show", x), 1);
    assert_int_equal(CARNET(i, NULL, "customer", "show", y), 1);
    json_t *acts = JSON(i, "action", "list");
    assert_int_equal(json_array_size(acts), 0);
    json_decref(acts);
    json_t *rem = JSON(i, "reminders");
    assert_int_equal(json_array_size(rem), 0);
    json_decref(rem);
    /* Y's two invoices (A's, and the one C validated offline) stay, with
     * the identity as issued; the quote and X's documents are gone. */
    bool issued_ok;
    assert_int_equal(count_invoices_of(i, y, num_a, &issued_ok), 2);
    assert_true(issued_ok);
    json_t *all = JSON(i, "doc", "list");
    assert_int_equal(json_array_size(all), 2);
    json_decref(all);
    /* Read-only. */
    assert_int_equal(CARNET(i, NULL, "doc", "line", "add", num_a, "--label", "x", "--qty", "1",
                            "--price", "1", "--vat", "20"),
                     1);
  }
  free(MUST(B, "doc", "show", num_c));

  /* Every replica confirmed both certificates, and A knows it. */
  json_t *ids[3];
  for (int i = 0; i < 3; i++)
    ids[i] = JSON(i, "id");
  json_t *certs = JSON(A, "erasures");
  assert_int_equal(json_array_size(certs), 2);
  for (size_t c = 0; c < 2; c++) {
    json_t *cert = json_array_get(certs, c);
    json_t *conf = json_object_get(cert, "confirmed");
    assert_int_equal(json_array_size(conf), 3);
    for (int i = 0; i < 3; i++) {
      bool seen = false;
      for (size_t j = 0; j < 3; j++)
        seen |= strcmp(json_string_value(json_array_get(conf, j)), jget(ids[i], "replica")) == 0;
      assert_true(seen);
    }
    assert_int_equal(json_array_size(json_object_get(cert, "pending")), 0);
    assert_string_equal(jget(cert, "origin"), jget(ids[A], "replica"));
  }
  json_decref(certs);
  for (int i = 0; i < 3; i++)
    json_decref(ids[i]);

  /* Not one byte of them is left in any file of any replica (the phone as
   * stored and as typed). The frozen identity on Y's invoices holds Y's
   * name, by law: only Y's e-mail and phone are searched. */
  const char *gone[] = {X_NAME,
                        X_EMAIL,
                        X_PHONE,
                        X_E164,
                        X_EDIT_EMAIL,
                        X_EDIT_NOTE,
                        "assistant.oubliable",
                        "rappeler Zacharie",
                        "visite commune",
                        "prefers calls after six",
                        "salon 2026",
                        Y_EMAIL,
                        Y_PHONE,
                        Y_E164,
                        "relancer Yolande",
                        "allergique aux chats",
                        "formulaire Yolande",
                        "appel Yolande"};
  for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
    assert_nowhere(gone[i]);
  /* Nor a piece of the sealed rows of what was erased; the pieces of the
   * rows that stay are found (the search is not blind). */
  size_t gone_rows = 0;
  for (int i = 0; i < 3; i++) {
    read_rows(W->dirs[i], &after[i]);
    assert_true(after[i].n > 0);
    for (size_t r = 0; r < after[i].n; r++)
      assert_true(dir_holds(W->dirs[i], after[i].chunk[r][1], CHUNK));
  }
  for (int i = 0; i < 3; i++)
    for (size_t r = 0; r < before[i].n; r++) {
      bool stays = false;
      for (int j = 0; j < 3; j++)
        stays |= has_id(&after[j], before[i].id[r]);
      if (stays) continue;
      gone_rows++;
      for (int j = 0; j < 3; j++)
        for (int c = 0; c < 3; c++)
          if (dir_holds(W->dirs[j], before[i].chunk[r][c], CHUNK))
            fail_msg("a piece of an erased row of replica %c is still in replica %c", 'A' + i,
                     'A' + j);
    }
  assert_true(gone_rows >= 3 * 6); /* X, its contact, action, reminders, Y's quote... */
  printf("# %zu sealed rows erased, no piece of them left\n", gone_rows);

  /* The opposition list: adding the person again warns, by e-mail. */
  char *again = NULL;
  assert_int_equal(CARNET(B, &again, "customer", "add", "--name", "Z. O.", "--email", X_EMAIL), 0);
  assert_non_null(strstr(g_err, "warning: an e-mail or phone of this customer belongs to a person "
                                "erased"));
  free(again);
  free(k), free(x), free(y), free(quote), free(inv_a), free(num_a), free(draft), free(num_c);
}

/* `carnet erase` while `carnet serve` has the directory open: the CLI
 * cannot compact (the serve maps the file), says so, and the serve does it
 * within its next ticks; then the bytes are gone while it still runs. */
static void test_serve_compacts_after_cli_erase(void **state) {
  (void)state;
  enum { B = 1 };
  static rowset before;
  DO(B, "init");
  char *x = ADD(B, "--name", X_NAME, "--email", X_EMAIL, "--phone", X_PHONE);
  read_rows(W->dirs[B], &before);
  assert_int_equal(before.n, 1);
  assert_true(dir_holds(W->dirs[B], before.chunk[0][1], CHUNK));
  serve_b();
  char *out = MUST(B, "erase", x, "--reason", "request");
  free(out);
  char *note = NULL;
  assert_int_equal(CARNET(B, &note, "erasures"), 0);
  free(note);
  /* The sealed row goes from the files while the serve still runs. */
  for (int waited = 0; dir_holds(W->dirs[B], before.chunk[0][1], CHUNK); waited += 50) {
    if (waited > 10000 * SCALE)
      fail_msg("the erased row is still in %s after 10 s of serve", W->dirs[B]);
    sleep_ms(50);
  }
  for (int c = 0; c < 3; c++)
    assert_false(dir_holds(W->dirs[B], before.chunk[0][c], CHUNK));
  char *where = file_holding(W->dirs[B], X_EMAIL);
  if (where) fail_msg("'%s' is in %s", X_EMAIL, where);
  stop_b();
  free(x);
}

/* --- the person as shown ------------------------------------------------------------- */

#define P1_NAME "Ophelie Fusionnee"
#define P1_EMAIL "ophelie.fusion@exemple.fr"
#define P1_NOTE "allergique aux noisettes"
#define P2_NAME "O. Fusionnee"
#define P2_EMAIL "o.fusionnee@travail.fr"
#define P2_PHONE "06 44 55 66 77"
#define P2_E164 "+33644556677"
#define P2_CONTACT "assistante.fusion@exemple.fr"
#define P3_NAME "Ophelie F. Concurrente"
#define P3_EMAIL "ophelie.concurrente@exemple.fr"
#define P3_NOTE "fusionnee sur C hors ligne"

/* Two records merged on A and shown as one person; C, offline, merges a
 * third record into that person while A erases it through the reference
 * code it shows. After syncs through B: no replica has any of the three,
 * in any file (bytes) or any table (decrypted with its key); each record
 * has its certificate, of the person; K, never merged, stays. */
static void test_erase_person_everywhere(void **state) {
  (void)state;
  enum { A, B, C };
  for (int i = 0; i < 3; i++)
    DO(i, "init");
  trust(A, B);
  trust(B, C);
  trust(A, C);
  char *k = ADD(A, "--name", K_NAME, "--email", K_EMAIL);
  char *p1 =
      ADD(A, "--name", P1_NAME, "--email", P1_EMAIL, "--notes", P1_NOTE, "--city", "Quimper");
  char *p2 =
      ADD(A, "--name", P2_NAME, "--email", P2_EMAIL, "--phone", P2_PHONE, "--city", "Quimper");
  DO(A, "contact", "add", "--customer", p2, "--name", "Assistante", "--email", P2_CONTACT);
  DO(A, "reminder", "add", "--customer", p2, "--comment", "rappeler Ophelie");
  DO(A, "merge", p1, p2);
  serve_b();
  sync_with_b(A);
  sync_with_b(C);
  /* C, offline: a third record, merged into the person as C shows it. */
  char *p3 = ADD(C, "--name", P3_NAME, "--email", P3_EMAIL, "--notes", P3_NOTE);
  DO(C, "merge", p1, p3);
  /* A erases the person as shown: through its reference code. */
  json_t *shown = JSON(A, "customer", "show", p2);
  char ref[64];
  snprintf(ref, sizeof ref, "%s", jget(shown, "ref"));
  json_decref(shown);
  char *out = NULL;
  assert_int_equal(CARNET(A, &out, "erase", ref, "--reason", "request of 2026-12-03"), 0);
  /* It said which records it would erase before doing it. */
  assert_non_null(strstr(out, "is 2 merged records"));
  assert_non_null(strstr(out, p1));
  assert_non_null(strstr(out, p2));
  assert_non_null(strstr(out, "erased 2 customers"));
  free(out);
  static rowset before[3];
  for (int i = 0; i < 3; i++)
    read_rows(W->dirs[i], &before[i]);
  /* C learns of the erasure and erases its third record with it (a
   * certificate it derives while applying A's, which leaves at C's next
   * session); A and B learn of that one; confirmations come back. */
  sync_with_b(A);
  sync_with_b(C);
  sync_with_b(C);
  sync_with_b(A);
  sync_with_b(C);
  stop_b();

  const char *ids[] = {p1, p2, p3};
  json_t *certs = JSON(A, "erasures");
  assert_int_equal(json_array_size(certs), 3);
  json_decref(certs);
  for (int i = 0; i < 3; i++) {
    json_t *list = JSON(i, "customer", "list", "--deleted");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(jget(json_array_get(list, 0), "id"), k);
    json_decref(list);
    for (int j = 0; j < 3; j++)
      assert_int_equal(CARNET(i, NULL, "customer", "show", ids[j]), 1);
    json_t *c = JSON(i, "erasures");
    assert_int_equal(json_array_size(c), 3);
    for (size_t j = 0; j < 3; j++) {
      json_t *e = json_array_get(c, j);
      assert_string_equal(jget(e, "reason"), "request of 2026-12-03");
      assert_string_equal(jget(e, "scope"), "person");
      assert_int_equal(json_array_size(json_object_get(e, "confirmed")), 3);
    }
    json_decref(c);
  }
  const char *gone[] = {
      P1_NAME,    P1_EMAIL,           P1_NOTE, P2_NAME,  P2_EMAIL, P2_PHONE, P2_E164,
      P2_CONTACT, "rappeler Ophelie", P3_NAME, P3_EMAIL, P3_NOTE};
  for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
    assert_nowhere(gone[i]);
    for (int d = 0; d < 3; d++)
      if (replica_holds(W->dirs[d], gone[i]))
        fail_msg("'%s' is still in replica %c, decrypted with its key", gone[i], 'A' + d);
  }
  /* Not blind: K is found both ways. */
  assert_true(replica_holds(W->dirs[C], K_EMAIL));
  /* No piece of the sealed rows of the erased records either. */
  static rowset after[3];
  for (int i = 0; i < 3; i++)
    read_rows(W->dirs[i], &after[i]);
  size_t gone_rows = 0;
  for (int i = 0; i < 3; i++)
    for (size_t r = 0; r < before[i].n; r++) {
      bool stays = false;
      for (int j = 0; j < 3; j++)
        stays |= has_id(&after[j], before[i].id[r]);
      if (stays) continue;
      gone_rows++;
      for (int j = 0; j < 3; j++)
        for (int c = 0; c < 3; c++)
          if (dir_holds(W->dirs[j], before[i].chunk[r][c], CHUNK))
            fail_msg("a piece of an erased row of replica %c is still in replica %c", 'A' + i,
                     'A' + j);
    }
  assert_true(gone_rows >= 3 * 2);
  free(k), free(p1), free(p2), free(p3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_erase_everywhere, setup, teardown),
      cmocka_unit_test_setup_teardown(test_serve_compacts_after_cli_erase, setup, teardown),
      cmocka_unit_test_setup_teardown(test_erase_person_everywhere, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
