/* tests/engine/test_backup.c - backups and restore as a new replica, in
 * one process (engine/top/backup.c, carnet/backup.h): the header codec (B1),
 * what a restored replica keeps and what it gets new, every error the
 * header lists, the session rule that holds a restored replica's changes
 * back until a peer of its team has sent its erasures (B2, session S6), and
 * a store opened read-only. The same with real processes, a team and a
 * read-only mount: tests/sync/test_restore.c and tests/cli/test_backup.c.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carnet/carnet.h"
#include "engine/store/peer_int.h"
#include "engine/store/replica_int.h"
#include "engine/store/store.h"
#include "engine/top/backup.h"
#include "support/testenv.h"

#define ASSERT_OK(r, call)                                                                         \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_) fail_msg("%s: %s (%s)", #call, carnet_error_name(rc_), carnet_replica_errmsg(r));     \
  } while (0)

typedef struct node {
  char *root; /* the test's scratch directory (shared) */
  char dir[1024];
  tenv env;
  carnet_replica *r;
} node;

static char *g_root;

static int setup(void **state) {
  (void)state;
  g_root = tdir_new("backup");
  return g_root ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  if (getenv("CARNET_TEST_KEEP") == NULL) tdir_remove(g_root);
  free(g_root);
  return 0;
}

static const char *in_root(const char *name, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s", g_root, name);
  return buf;
}

static void node_init(node *n, const char *name, uint64_t seed) {
  carnet_env e;
  char err[256];
  in_root(name, n->dir, sizeof n->dir);
  tenv_init(&n->env, TENV_EPOCH_MS, seed);
  tenv_fill(&n->env, &e);
  if (carnet_replica_init(n->dir, &e, &n->r, err, sizeof err)) fail_msg("init %s: %s", name, err);
}

/* Restore `file` into root/name with the key file `key_file`. */
static int node_restore(node *n, const char *file, const char *name, const char *key_file,
                        uint64_t seed, char *err, size_t err_len) {
  carnet_env e;
  in_root(name, n->dir, sizeof n->dir);
  tenv_init(&n->env, TENV_EPOCH_MS + 3600000, seed);
  tenv_fill(&n->env, &e);
  e.key_file = key_file;
  return carnet_replica_restore(file, n->dir, &e, &n->r, err, err_len);
}

static void node_close(node *n) {
  carnet_replica_close(n->r);
  n->r = NULL;
}

static void key_of(node *n, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s", n->dir, CARNET_KEY_FILE_NAME);
}

static void trust_both(node *a, node *b) {
  uint8_t pa[32], pb[32];
  ASSERT_OK(a->r, carnet_replica_get_identity(a->r, pa, NULL));
  ASSERT_OK(b->r, carnet_replica_get_identity(b->r, pb, NULL));
  ASSERT_OK(a->r, carnet_peer_trust(a->r, pb, NULL));
  ASSERT_OK(b->r, carnet_peer_trust(b->r, pa, NULL));
}

static void same_team(node *a, node *b) {
  uint8_t team[16];
  ASSERT_OK(a->r, carnet_replica_get_identity(a->r, NULL, team));
  ASSERT_OK(b->r, carnet_replica_set_team(b->r, team));
}

static carnet_id add_customer(node *n, const char *name, const char *email) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  assert_non_null(p);
  ASSERT_OK(n->r, carnet_patch_set(p, CARNET_F_NAME, name));
  ASSERT_OK(n->r, carnet_patch_set(p, CARNET_F_EMAILS, email));
  ASSERT_OK(n->r, carnet_record_create_commit(n->r, p, &id));
  carnet_patch_free(p);
  return id;
}

/* A validated invoice of customer `cu`; its number in `num`. */
static void validate_invoice(node *n, const carnet_id *cu, char num[CARNET_NUMBER_MAX]) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  carnet_id id;
  carnet_txn *t;
  carnet_id_format(cu, hex);
  ASSERT_OK(n->r, carnet_patch_set(p, CARNET_F_DOC_TYPE, "invoice"));
  ASSERT_OK(n->r, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
  ASSERT_OK(n->r, carnet_record_create_commit(n->r, p, &id));
  carnet_patch_free(p);
  carnet_line_input in = {.set = CARNET_LINE_LABEL | CARNET_LINE_QTY | CARNET_LINE_PRICE,
                          .label = "Prestation",
                          .qty = 1000,
                          .unit_price = 12000};
  ASSERT_OK(n->r, carnet_txn_begin(n->r, &t));
  ASSERT_OK(n->r, carnet_doc_line_add(t, &id, &in, NULL, NULL));
  ASSERT_OK(n->r, carnet_doc_validate(t, &id, num, CARNET_NUMBER_MAX));
  ASSERT_OK(n->r, carnet_txn_commit(t));
}

static void digest_of(node *n, uint8_t d[32]) {
  ASSERT_OK(n->r, carnet_replica_get_digest(n->r, d));
}

/* --- in-memory sessions ---------------------------------------------------------- */

static carnet_session *start(node *n, bool initiator, bool once) {
  /* Window 8: the held session below needs more than one window. */
  carnet_session_opts o = {.initiator = initiator, .once = once, .batch_bytes = 4096, .window = 8};
  carnet_session *s;
  int rc = carnet_session_new(n->r, &o, n->env.now_ms, &s);
  if (rc) fail_msg("session_new: %s (%s)", carnet_error_name(rc), carnet_replica_errmsg(n->r));
  return s;
}

static void shuttle(carnet_session *from, carnet_session *to, node *dest) {
  carnet_buf o = carnet_session_output(from);
  if (o.len == 0) return;
  uint8_t *copy = malloc(o.len);
  size_t n = o.len;
  assert_non_null(copy);
  memcpy(copy, o.base, n);
  carnet_session_sent(from, n);
  carnet_session_input(to, copy, n, dest->env.now_ms);
  free(copy);
}

static bool settled(carnet_session *s) {
  carnet_session_state st = carnet_session_get_state(s);
  return carnet_session_output(s).len == 0 && st != CARNET_SESSION_HANDSHAKE &&
         st != CARNET_SESSION_SYNCING;
}

/* Moves bytes both ways and ticks for `rounds` rounds (or until both are
 * settled). */
static void run(carnet_session *a, node *na, carnet_session *b, node *nb, int rounds) {
  for (int i = 0; i < rounds; i++) {
    shuttle(a, b, nb);
    shuttle(b, a, na);
    tenv_advance_ms(&na->env, 50);
    tenv_advance_ms(&nb->env, 50);
    carnet_session_tick(a, na->env.now_ms);
    carnet_session_tick(b, nb->env.now_ms);
    if (settled(a) && settled(b)) return;
  }
}

/* One once-session between a and b to its end; returns a's error. */
static int sync_once(node *a, node *b, carnet_session_stats *a_stats,
                     carnet_session_stats *b_stats) {
  carnet_session *sa = start(a, true, true), *sb = start(b, false, true);
  run(sa, a, sb, b, 400);
  int rc = carnet_session_get_error(sa);
  if (rc == 0 && carnet_session_get_state(sa) != CARNET_SESSION_CLOSED)
    fail_msg("the session did not end: %s / %s", carnet_session_errmsg(sa),
             carnet_session_errmsg(sb));
  if (a_stats) carnet_session_get_stats(sa, a_stats);
  if (b_stats) carnet_session_get_stats(sb, b_stats);
  carnet_session_free(sa);
  carnet_session_free(sb);
  return rc;
}

/* --- the header (B1) ------------------------------------------------------------- */

static carnet__backup_header sample_header(void) {
  carnet__backup_header h;
  memset(&h, 0, sizeof h);
  h.version = 1;
  h.schema = CARNET_SCHEMA_VERSION;
  h.replica_id = 0x0123456789abcdefull;
  h.made_ms = TENV_EPOCH_MS;
  for (int i = 0; i < 16; i++)
    h.team[i] = (uint8_t)(0xa0 + i);
  h.key_record[0] = 1;
  h.key_record[1] = CARNET_KEY_FILE_IN_DIR;
  for (int i = 2; i < CARNET__KEY_RECORD_BYTES; i++)
    h.key_record[i] = (uint8_t)i;
  h.data_bytes = 40960;
  for (int i = 0; i < 32; i++)
    h.mac[i] = (uint8_t)(0x55 ^ i);
  return h;
}

static void test_header_codec(void **state) {
  (void)state;
  uint8_t b[CARNET__BACKUP_HEADER_BYTES], again[CARNET__BACKUP_HEADER_BYTES];
  carnet__backup_header h = sample_header(), d;
  int bad = -1;
  carnet__backup_header_encode(&h, b);
  assert_memory_equal(b, CARNET__BACKUP_MAGIC, 8);
  assert_int_equal(carnet__backup_header_decode(b, sizeof b, &d, &bad), 0);
  assert_int_equal(bad, 0);
  assert_memory_equal(&d, &h, sizeof h);
  carnet__backup_header_encode(&d, again);
  assert_memory_equal(again, b, sizeof b);
  /* Each check of B1 refuses, with its own line. */
  struct {
    size_t off;
    uint8_t val;
  } breaks[] = {
      {0, 'X'}, /* magic */
      {11, 2},  /* version 2 */
      {15, 1},  /* schema 1 */
      {48, 2},  /* key record version */
      {49, 4},  /* key record kind */
  };
  int lines[8] = {0};
  for (size_t i = 0; i < sizeof breaks / sizeof breaks[0]; i++) {
    uint8_t c[sizeof b];
    memcpy(c, b, sizeof b);
    c[breaks[i].off] = breaks[i].val;
    assert_int_equal(carnet__backup_header_decode(c, sizeof c, &d, &lines[i]), CARNET_EPROTO);
    assert_true(lines[i] > 0);
  }
  carnet__backup_header z = h;
  z.replica_id = 0;
  carnet__backup_header_encode(&z, b);
  assert_int_equal(carnet__backup_header_decode(b, sizeof b, &d, &bad), CARNET_EPROTO);
  z = h;
  z.made_ms = 0;
  carnet__backup_header_encode(&z, b);
  assert_int_equal(carnet__backup_header_decode(b, sizeof b, &d, &bad), CARNET_EPROTO);
  z = h;
  z.data_bytes = CARNET__BACKUP_DATA_MIN - 1;
  carnet__backup_header_encode(&z, b);
  assert_int_equal(carnet__backup_header_decode(b, sizeof b, &d, &bad), CARNET_EPROTO);
  carnet__backup_header_encode(&h, b);
  assert_int_equal(carnet__backup_header_decode(b, sizeof b - 1, &d, &bad), CARNET_EPROTO);
  assert_int_equal(carnet__backup_header_decode(b, 0, &d, NULL), CARNET_EPROTO);
}

/* --- what a restored replica keeps and gets new ----------------------------------- */

static void test_backup_then_restore(void **state) {
  (void)state;
  node a = {0}, r = {0};
  char file[1100], key[1100], err[512] = "", num_a[CARNET_NUMBER_MAX], num_a2[CARNET_NUMBER_MAX],
                              num_r[CARNET_NUMBER_MAX], tok[512];
  uint8_t pk_a[32], pk_r[32], team_a[16], team_r[16], da[32], dr[32];
  node_init(&a, "a", 1);
  carnet_id k = add_customer(&a, "Karine Gardee", "karine@example.org");
  validate_invoice(&a, &k, num_a);
  ASSERT_OK(a.r, carnet_invite_create(a.r, "127.0.0.1:7428", 3600000, tok, sizeof tok));
  in_root("a.bak", file, sizeof file);
  carnet_backup_info bi;
  ASSERT_OK(a.r, carnet_replica_backup(a.r, file, &bi));
  struct stat sb;
  assert_int_equal(stat(file, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  assert_int_equal((uint64_t)sb.st_size, CARNET__BACKUP_HEADER_BYTES + bi.data_bytes);
  assert_true(bi.replica_id == carnet_replica_id(a.r));
  assert_string_equal(bi.tag, carnet_replica_tag(a.r));
  assert_int_equal(bi.key_kind, CARNET_KEY_FILE_IN_DIR);
  assert_int_equal(bi.schema, CARNET_SCHEMA_VERSION);
  assert_true(bi.made_ms == a.env.now_ms);
  ASSERT_OK(a.r, carnet_replica_get_identity(a.r, pk_a, team_a));
  assert_memory_equal(bi.team, team_a, 16);
  carnet_backup_info bi2;
  assert_int_equal(carnet_backup_inspect(file, &bi2, err, sizeof err), 0);
  assert_memory_equal(&bi2, &bi, sizeof bi);
  /* A keeps working after the backup: its next invoice number. */
  validate_invoice(&a, &k, num_a2);
  digest_of(&a, da);

  key_of(&a, key, sizeof key);
  if (node_restore(&r, file, "r", key, 2, err, sizeof err)) fail_msg("restore: %s", err);
  /* A new identity: id, tag, key. The team and the data stay. */
  assert_true(carnet_replica_id(r.r) != carnet_replica_id(a.r));
  assert_string_not_equal(carnet_replica_tag(r.r), carnet_replica_tag(a.r));
  ASSERT_OK(r.r, carnet_replica_get_identity(r.r, pk_r, team_r));
  assert_memory_not_equal(pk_r, pk_a, 32);
  assert_memory_equal(team_r, team_a, 16);
  carnet_record *rec = NULL;
  ASSERT_OK(r.r, carnet_record_get(r.r, &k, &rec));
  carnet_record_free(rec);
  carnet_restore_info ri;
  ASSERT_OK(r.r, carnet_replica_get_restore(r.r, &ri));
  assert_true(ri.restored);
  assert_true(ri.from_id == carnet_replica_id(a.r));
  assert_true(ri.backup_ms == bi.made_ms);
  assert_true(ri.restored_ms == r.env.now_ms);
  assert_false(ri.waiting); /* A had no peer: nobody can have erased anything meanwhile */
  ASSERT_OK(a.r, carnet_replica_get_restore(a.r, &ri));
  assert_false(ri.restored);
  /* A went on after the backup; the restored replica did not see it. */
  digest_of(&r, dr);
  assert_memory_not_equal(dr, da, 32);
  /* The invite A had made does not survive (its secret was A's). */
  carnet__stxn *st;
  ASSERT_OK(r.r, carnet__store_begin(r.r->store, false, &st));
  assert_int_equal(carnet__store_entries(st, CARNET__T_INVITES), 0);
  carnet__store_abort(st);
  /* A new numbering series: the restored replica never issues A's numbers. */
  validate_invoice(&r, &k, num_r);
  assert_string_not_equal(num_r, num_a2);
  assert_non_null(strstr(num_r, carnet_replica_tag(r.r)));
  assert_null(strstr(num_r, carnet_replica_tag(a.r)));
  /* It opens again on its own (the key file was copied), read-write. */
  node_close(&r);
  carnet_env e;
  tenv_fill(&r.env, &e);
  assert_int_equal(carnet_replica_open(r.dir, &e, &r.r, err, sizeof err), 0);
  assert_false(carnet_replica_readonly(r.r));
  node_close(&r);
  node_close(&a);
}

/* The restored copy holds the backup's rows exactly: right after the
 * restore, its digest is A's at the backup. */
static void test_restore_keeps_cells(void **state) {
  (void)state;
  node a = {0}, r = {0};
  char file[1100], key[1100], err[512];
  uint8_t da[32], dr[32];
  node_init(&a, "keep-a", 11);
  carnet_id k = add_customer(&a, "Karine", "k@example.org");
  char num[CARNET_NUMBER_MAX];
  validate_invoice(&a, &k, num);
  digest_of(&a, da);
  in_root("keep.bak", file, sizeof file);
  ASSERT_OK(a.r, carnet_replica_backup(a.r, file, NULL));
  key_of(&a, key, sizeof key);
  if (node_restore(&r, file, "keep-r", key, 12, err, sizeof err)) fail_msg("restore: %s", err);
  digest_of(&r, dr);
  assert_memory_equal(da, dr, 32);
  node_close(&r);
  node_close(&a);
}

/* --- every error of the header ----------------------------------------------------- */

static void write_file(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static uint8_t *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*n);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

static bool exists(const char *dir, const char *name) {
  char p[1200];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return lstat(p, &sb) == 0;
}

static void expect_refused(const char *file, const char *name, const char *key, int want,
                           const char *needle) {
  node r = {0};
  char err[512] = "";
  int rc = node_restore(&r, file, name, key, 99, err, sizeof err);
  if (rc != want)
    fail_msg("restore %s: %s (%s), wanted %s", file, carnet_error_name(rc), err,
             carnet_error_name(want));
  assert_null(r.r);
  if (needle && strstr(err, needle) == NULL) fail_msg("'%s' not in '%s'", needle, err);
  /* Nothing was made: no replica, no half-made copy, no key file. */
  assert_false(exists(r.dir, "data.mdb"));
  assert_false(exists(r.dir, ".restore"));
  assert_false(exists(r.dir, CARNET_KEY_FILE_NAME));
}

static void test_restore_refusals(void **state) {
  (void)state;
  node a = {0};
  char file[1100], key[1100], bad[1100], other[1100], err[512];
  node_init(&a, "ref-a", 21);
  add_customer(&a, "Karine", "k@example.org");
  in_root("ref.bak", file, sizeof file);
  ASSERT_OK(a.r, carnet_replica_backup(a.r, file, NULL));
  key_of(&a, key, sizeof key);
  size_t n;
  uint8_t *b = read_file(file, &n);

  /* CARNET_EEXIST: a replica is there. */
  node r = {0};
  assert_int_equal(node_restore(&r, file, "ref-a", key, 1, err, sizeof err), CARNET_EEXIST);
  /* CARNET_ENOTFOUND: no such file. */
  expect_refused(in_root("nothing.bak", bad, sizeof bad), "ref-r1", key, CARNET_ENOTFOUND, NULL);
  carnet_backup_info bi;
  assert_int_equal(carnet_backup_inspect(bad, &bi, err, sizeof err), CARNET_ENOTFOUND);
  /* CARNET_EPROTO: not a backup. */
  in_root("notabackup.bak", bad, sizeof bad);
  write_file(bad, "customers.csv\nname,email\n", 25);
  expect_refused(bad, "ref-r2", key, CARNET_EPROTO, "not a Carnet backup");
  assert_int_equal(carnet_backup_inspect(bad, &bi, err, sizeof err), CARNET_EPROTO);
  /* CARNET_ECORRUPT: one bit of the data changed (the keyed check), the
   * file cut short, or a byte appended. */
  uint8_t *c = malloc(n + 1);
  assert_non_null(c);
  memcpy(c, b, n);
  c[CARNET__BACKUP_HEADER_BYTES + n / 2 - CARNET__BACKUP_HEADER_BYTES / 2] ^= 0x04;
  in_root("flipped.bak", bad, sizeof bad);
  write_file(bad, c, n);
  expect_refused(bad, "ref-r3", key, CARNET_ECORRUPT, "damaged or was changed");
  memcpy(c, b, n);
  c[30] ^= 1; /* the time in the header: covered by the check too */
  write_file(bad, c, n);
  expect_refused(bad, "ref-r3b", key, CARNET_ECORRUPT, "damaged or was changed");
  write_file(bad, b, n - 4096);
  expect_refused(bad, "ref-r4", key, CARNET_ECORRUPT, "cut short");
  memcpy(c, b, n);
  c[n] = 0;
  write_file(bad, c, n + 1);
  expect_refused(bad, "ref-r4b", key, CARNET_ECORRUPT, "too long");
  /* CARNET_EVERSION: a newer format, or a newer schema. */
  memcpy(c, b, n);
  c[11] = 2;
  write_file(bad, c, n);
  expect_refused(bad, "ref-r5", key, CARNET_EVERSION, "newer version");
  assert_int_equal(carnet_backup_inspect(bad, &bi, err, sizeof err), CARNET_EVERSION);
  memcpy(c, b, n);
  c[15] = CARNET_SCHEMA_VERSION + 1;
  write_file(bad, c, n);
  expect_refused(bad, "ref-r6", key, CARNET_EVERSION, "newer Carnet");
  assert_int_equal(carnet_backup_inspect(bad, &bi, err, sizeof err), CARNET_EVERSION);
  /* CARNET_EKEY: no key file for a replica that had none but its
   * directory's; another replica's key file. */
  expect_refused(file, "ref-r7", NULL, CARNET_EKEY, "carnet.key");
  node o = {0};
  node_init(&o, "ref-other", 22);
  key_of(&o, other, sizeof other);
  expect_refused(file, "ref-r8", other, CARNET_EKEY, "wrong key file");
  /* CARNET_EPERM: a key file others can read. */
  in_root("loose.key", bad, sizeof bad);
  size_t kn;
  uint8_t *kb = read_file(key, &kn);
  write_file(bad, kb, kn);
  chmod(bad, 0644);
  expect_refused(file, "ref-r9", bad, CARNET_EPERM, "chmod 600");
  free(kb);
  /* After all that, the backup restores. */
  if (node_restore(&r, file, "ref-ok", key, 2, err, sizeof err)) fail_msg("restore: %s", err);
  node_close(&r);
  node_close(&o);
  free(c);
  free(b);
  node_close(&a);
}

/* A replica protected by a passphrase: its backup opens with it only. */
static void test_restore_passphrase(void **state) {
  (void)state;
  node a = {0}, r = {0};
  carnet_env e;
  char file[1100], err[512];
  in_root("pass-a", a.dir, sizeof a.dir);
  tenv_init(&a.env, TENV_EPOCH_MS, 31);
  tenv_fill(&a.env, &e);
  e.passphrase = "correct horse battery staple";
  if (carnet_replica_init(a.dir, &e, &a.r, err, sizeof err)) fail_msg("init: %s", err);
  carnet_id k = add_customer(&a, "Karine", "k@example.org");
  in_root("pass.bak", file, sizeof file);
  carnet_backup_info bi;
  ASSERT_OK(a.r, carnet_replica_backup(a.r, file, &bi));
  assert_int_equal(bi.key_kind, CARNET_KEY_PASSPHRASE);
  in_root("pass-r", r.dir, sizeof r.dir);
  tenv_init(&r.env, TENV_EPOCH_MS, 32);
  tenv_fill(&r.env, &e);
  e.passphrase = "wrong";
  assert_int_equal(carnet_replica_restore(file, r.dir, &e, &r.r, err, sizeof err), CARNET_EKEY);
  assert_false(exists(r.dir, "data.mdb"));
  e.passphrase = NULL;
  assert_int_equal(carnet_replica_restore(file, r.dir, &e, &r.r, err, sizeof err), CARNET_EKEY);
  e.passphrase = "correct horse battery staple";
  if (carnet_replica_restore(file, r.dir, &e, &r.r, err, sizeof err)) fail_msg("%s", err);
  carnet_record *rec = NULL;
  ASSERT_OK(r.r, carnet_record_get(r.r, &k, &rec));
  carnet_record_free(rec);
  assert_false(exists(r.dir, CARNET_KEY_FILE_NAME));
  node_close(&r);
  node_close(&a);
}

/* CARNET_EMISUSE, and CARNET_EIO for a file that cannot be made; a backup
 * of the same name is replaced whole. */
static void test_backup_errors(void **state) {
  (void)state;
  node a = {0};
  char file[1100];
  carnet_txn *t;
  node_init(&a, "err-a", 41);
  ASSERT_OK(a.r, carnet_txn_begin(a.r, &t));
  in_root("err.bak", file, sizeof file);
  assert_int_equal(carnet_replica_backup(a.r, file, NULL), CARNET_EMISUSE);
  carnet_txn_abort(t);
  assert_int_equal(carnet_replica_backup(a.r, "/nonexistent-dir/x.bak", NULL), CARNET_ENOTFOUND);
  assert_non_null(strstr(carnet_replica_errmsg(a.r), "/nonexistent-dir/x.bak"));
  char dir[1100], inside[1200];
  in_root("err-ro-dir", dir, sizeof dir);
  assert_int_equal(mkdir(dir, 0500), 0);
  snprintf(inside, sizeof inside, "%s/x.bak", dir);
  if (geteuid() != 0) /* root writes through mode bits */
    assert_int_equal(carnet_replica_backup(a.r, inside, NULL), CARNET_EPERM);
  char *longp = malloc(5000);
  assert_non_null(longp);
  memset(longp, 'x', 4999);
  longp[4999] = '\0';
  assert_int_equal(carnet_replica_backup(a.r, longp, NULL), CARNET_EINVAL);
  free(longp);
  write_file(file, "old", 3);
  chmod(file, 0644);
  ASSERT_OK(a.r, carnet_replica_backup(a.r, file, NULL));
  struct stat sb;
  assert_int_equal(stat(file, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  assert_true(sb.st_size > 8192);
  node_close(&a);
}

/* --- B2: a restored replica sends nothing before its team's erasures ---------------- */

static void test_restored_waits_for_erasures(void **state) {
  (void)state;
  node a = {0}, p = {0}, r = {0}, n = {0};
  char file[1100], key[1100], err[512];
  carnet_session_stats rs, ns;
  /* A and P, one team; A holds K and X, P has them too. */
  node_init(&a, "b2-a", 51);
  node_init(&p, "b2-p", 52);
  same_team(&a, &p);
  trust_both(&a, &p);
  carnet_id k = add_customer(&a, "Karine Gardee", "karine@example.org");
  carnet_id x = add_customer(&a, "Zacharie Oubliable", "zacharie@example.org");
  assert_int_equal(sync_once(&a, &p, NULL, NULL), 0);
  /* A is backed up; then P erases X (A hears of it or not: A is lost). */
  in_root("b2.bak", file, sizeof file);
  ASSERT_OK(a.r, carnet_replica_backup(a.r, file, NULL));
  ASSERT_OK(p.r, carnet_record_erase(p.r, &x, "request", NULL, NULL));
  key_of(&a, key, sizeof key);
  node_close(&a);
  if (node_restore(&r, file, "b2-r", key, 53, err, sizeof err)) fail_msg("restore: %s", err);
  carnet_restore_info ri;
  ASSERT_OK(r.r, carnet_replica_get_restore(r.r, &ri));
  assert_true(ri.waiting);
  carnet_record *rec = NULL;
  ASSERT_OK(r.r, carnet_record_get(r.r, &x, &rec)); /* X is back, here */
  carnet_record_free(rec);

  /* N joins the team through R only: R sends it nothing, and a one-shot
   * session says why. */
  node_init(&n, "b2-n", 54);
  same_team(&r, &n);
  trust_both(&r, &n);
  int rc = sync_once(&r, &n, &rs, &ns);
  assert_int_equal(rc, CARNET_EPERM);
  assert_int_equal(rs.batches_out, 0);
  assert_int_equal(ns.batches_in, 0);
  assert_int_equal(carnet_record_get(n.r, &x, &rec), CARNET_ENOTFOUND);
  assert_int_equal(carnet_record_get(n.r, &k, &rec), CARNET_ENOTFOUND);
  /* A live session too: it receives, sends nothing, and ends saying why
   * (the node redials it later). */
  carnet_session *s_rn = start(&r, true, false), *s_nr = start(&n, false, false);
  run(s_rn, &r, s_nr, &n, 100);
  carnet_session_get_stats(s_nr, &ns);
  assert_int_equal(ns.batches_in, 0);
  assert_int_equal(carnet_session_get_error(s_rn), CARNET_EPERM);
  assert_non_null(strstr(carnet_session_errmsg(s_nr), "restored from a backup"));
  carnet_session_free(s_rn);
  carnet_session_free(s_nr);
  /* Held while the peer's stream comes in: a live session whose wait ends
   * meanwhile (in another session) streams on its tick. N has 600 new
   * customers: more than one window of 4 KiB batches. */
  for (int i = 0; i < 600; i++) {
    char name[64], email[64];
    snprintf(name, sizeof name, "Nouveau %03d", i);
    snprintf(email, sizeof email, "nouveau%03d@example.org", i);
    add_customer(&n, name, email);
  }
  s_rn = start(&r, true, false);
  s_nr = start(&n, false, false);
  for (int i = 0; i < 2; i++) { /* the handshake, both REQs, N's first window */
    shuttle(s_rn, s_nr, &n);
    shuttle(s_nr, s_rn, &r);
  }
  carnet_session_get_stats(s_rn, &rs);
  assert_true(rs.batches_in > 0);
  assert_int_equal(rs.batches_out, 0);
  assert_int_equal(carnet_session_get_error(s_rn), 0);

  /* P, trusted by the team before the restore, trusts R's new key: its
   * certificates reach R first, then R sends. */
  trust_both(&p, &r);
  assert_int_equal(sync_once(&r, &p, NULL, NULL), 0);
  ASSERT_OK(r.r, carnet_replica_get_restore(r.r, &ri));
  assert_false(ri.waiting);
  bool erased = false;
  ASSERT_OK(r.r, carnet_record_erased(r.r, &x, &erased));
  assert_true(erased);
  /* The held live session with N now streams (on its tick). */
  assert_int_equal(carnet_session_get_error(s_rn), 0);
  run(s_rn, &r, s_nr, &n, 200);
  carnet_session_get_stats(s_nr, &ns);
  assert_true(ns.batches_in > 0);
  carnet_session_free(s_rn);
  carnet_session_free(s_nr);
  ASSERT_OK(n.r, carnet_record_get(n.r, &k, &rec));
  carnet_record_free(rec);
  assert_int_equal(carnet_record_get(n.r, &x, &rec), CARNET_ENOTFOUND);
  ASSERT_OK(n.r, carnet_record_erased(n.r, &x, &erased));
  assert_true(erased); /* the certificate came with the rest */
  uint8_t dn[32], dr[32], dp[32];
  digest_of(&n, dn);
  digest_of(&r, dr);
  assert_memory_equal(dn, dr, 32);
  assert_int_equal(sync_once(&r, &p, NULL, NULL), 0);
  digest_of(&p, dp);
  digest_of(&r, dr);
  assert_memory_equal(dp, dr, 32);
  node_close(&n);
  node_close(&r);
  node_close(&p);
}

/* --- a store opened read-only --------------------------------------------------------- */

static void test_store_readonly(void **state) {
  (void)state;
  node a = {0};
  char why[256];
  node_init(&a, "ro-a", 61);
  carnet_id k = add_customer(&a, "Karine", "k@example.org");
  node_close(&a);
  carnet__store *s = NULL;
  carnet__stxn *t = NULL;
  assert_int_equal(carnet__store_open(a.dir, CARNET__STORE_READONLY, &s, why, sizeof why), 0);
  assert_true(carnet__store_readonly(s));
  assert_int_equal(carnet__store_begin(s, true, &t), CARNET_EPERM);
  assert_null(t);
  assert_non_null(strstr(carnet__store_why(s), "read-only"));
  assert_int_equal(carnet__store_begin(s, false, &t), 0);
  assert_true(carnet__store_entries(t, CARNET__T_ENTITIES) == 1);
  carnet_buf v;
  assert_int_equal(carnet__store_get(t, CARNET__T_ENTITIES, k.b, 16, &v), CARNET_EMISUSE);
  carnet__store_abort(t);
  bool done = true;
  assert_int_equal(carnet__store_compact(s, &done), 0);
  assert_false(done);
  char file[1100];
  int fd = open(in_root("ro.copy", file, sizeof file), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(carnet__store_copy(s, fd), 0);
  close(fd);
  carnet__store_close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header_codec),
      cmocka_unit_test(test_backup_then_restore),
      cmocka_unit_test(test_restore_keeps_cells),
      cmocka_unit_test(test_restore_refusals),
      cmocka_unit_test(test_restore_passphrase),
      cmocka_unit_test(test_backup_errors),
      cmocka_unit_test(test_restored_waits_for_erasures),
      cmocka_unit_test(test_store_readonly),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
