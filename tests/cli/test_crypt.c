/* tests/cli/test_crypt.c - encryption at rest: a
 * replica's personal data cannot be read from its files without its key.
 *
 * One replica of 10,000 customers with distinctive names, e-mails and
 * phones (and, for 10 of them, every field, a contact, an action and a
 * reminder) is written through the API under a passphrase; then a byte
 * search of every file of the replica directory finds none of those values,
 * the real `carnet` refuses a wrong passphrase without touching the data
 * file, `carnet passwd` moves it to a new passphrase (the old one then
 * fails), and a byte flipped inside a sealed row gives a clear
 * CARNET_ECORRUPT error (in process and from the command), not a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carnet/carnet.h"
#include "engine/base/seal.h"
#include "support/proc.h"
#include "support/testenv.h"

enum { N = 10000, CHOSEN_EVERY = 1000, BATCH = 1000, RUN_TIMEOUT_MS = 120000 };

#define PASS1 "correct horse battery staple"
#define PASS2 "tr0ub4dor&3 but longer"

#define OK(r, expr)                                                                                \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    if (rc_ != 0)                                                                                  \
      fail_msg("%s: %s (%s)", #expr, carnet_error_name(rc_), carnet_replica_errmsg(r));            \
  } while (0)

/* --- the values -------------------------------------------------------------- */

static void name_of(int i, char *out, size_t len) {
  snprintf(out, len, "Ysoline Brakwater-Quenneh %05d", i);
}
static void email_of(int i, char *out, size_t len) {
  snprintf(out, len, "ysoline.brakwater%05d@cryptcheck.example", i);
}
/* Typed in national form; stored in E.164 (phone_e164_of). */
static void phone_of(int i, char *out, size_t len) {
  unsigned v = 10000000u + (unsigned)i * 7919u;
  snprintf(out, len, "06 %02u %02u %02u %02u", v / 1000000 % 100, v / 10000 % 100, v / 100 % 100,
           v % 100);
}
static void phone_e164_of(int i, char *out, size_t len) {
  unsigned v = 10000000u + (unsigned)i * 7919u;
  snprintf(out, len, "+336%08u", v % 100000000u);
}
static void phone_national_of(int i, char *out, size_t len) {
  unsigned v = 10000000u + (unsigned)i * 7919u;
  snprintf(out, len, "06%08u", v % 100000000u);
}

/* Every other value given to a chosen customer, its contact, action and
 * reminder (all at least 8 bytes: a shorter string could turn up in
 * random bytes by chance). */
#define EXTRA_COUNT 11
static void extras_of(int i, char out[EXTRA_COUNT][96]) {
  snprintf(out[0], 96, "Brakwater Freres Holding %05d", i);        /* company */
  snprintf(out[1], 96, "%d rue des Tanneurs Obscurs", 100 + i);    /* street */
  snprintf(out[2], 96, "Saint-Quenneh-sur-Brume %05d", i);         /* city */
  snprintf(out[3], 96, "dog named Roquefortissime %05d", i);       /* notes */
  snprintf(out[4], 96, "FRVAT%09d", i);                            /* VAT id */
  snprintf(out[5], 96, "vipcrypt%05d", i);                         /* tag */
  snprintf(out[6], 96, "rep.ondulia.%05d", i);                     /* sales rep */
  snprintf(out[7], 96, "Contactine Marvelloux %05d", i);           /* contact name */
  snprintf(out[8], 96, "contactine%05d@cryptcheck.example", i);    /* contact e-mail */
  snprintf(out[9], 96, "talked about the Zephyrine deal %05d", i); /* action details */
  snprintf(out[10], 96, "call back about Quillowby %05d", i);      /* reminder comment */
}

/* --- scanning files ------------------------------------------------------------ */

typedef struct needles {
  char **v;
  size_t n, cap;
  uint64_t *pre; /* sorted 8-byte prefixes */
} needles;

static void needle_add(needles *s, const char *v) {
  assert_true(strlen(v) >= 8);
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 1024;
    s->v = realloc(s->v, s->cap * sizeof *s->v);
    assert_non_null(s->v);
  }
  s->v[s->n] = strdup(v);
  assert_non_null(s->v[s->n]);
  s->n++;
}

static int u64_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void needles_ready(needles *s) {
  s->pre = malloc(s->n * sizeof *s->pre);
  assert_non_null(s->pre);
  for (size_t i = 0; i < s->n; i++)
    memcpy(&s->pre[i], s->v[i], 8);
  qsort(s->pre, s->n, sizeof *s->pre, u64_cmp);
}

static void needles_free(needles *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  free(s->pre);
}

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  assert_true(n >= 0);
  rewind(f);
  uint8_t *b = malloc((size_t)n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

/* How many needles occur in the file (each hit printed). One pass: every
 * position's 8 bytes are looked up among the needles' prefixes, and a hit
 * is compared in full. */
static size_t scan_file(const char *path, const needles *s) {
  size_t len, hits = 0;
  uint8_t *b = read_all(path, &len);
  for (size_t p = 0; p + 8 <= len; p++) {
    uint64_t k;
    memcpy(&k, b + p, 8);
    if (bsearch(&k, s->pre, s->n, sizeof k, u64_cmp) == NULL) continue;
    for (size_t i = 0; i < s->n; i++) {
      size_t n = strlen(s->v[i]);
      if (p + n <= len && memcmp(b + p, s->v[i], n) == 0) {
        print_message("found '%s' in clear in %s at %zu\n", s->v[i], path, p);
        hits++;
      }
    }
  }
  free(b);
  return hits;
}

/* Scan every file of the replica directory. */
static size_t scan_dir(const char *dir, const needles *s, int *files) {
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t hits = 0;
  char path[2048];
  assert_non_null(d);
  *files = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    hits += scan_file(path, s);
    (*files)++;
  }
  closedir(d);
  return hits;
}

/* --- the fixture ------------------------------------------------------------------ */

typedef struct fx {
  char *root, *dir;
  carnet_id ids[N];
  char refcode0[64];
} fx;

static void set(carnet_patch *p, carnet_field f, const char *v) {
  int rc = carnet_patch_set(p, f, v);
  if (rc) fail_msg("carnet_patch_set(%d, '%s'): %s", (int)f, v, carnet_error_name(rc));
}

static void open_with(const fx *f, const char *pass, carnet_replica **r) {
  carnet_env e;
  char err[512] = "";
  memset(&e, 0, sizeof e);
  e.passphrase = pass;
  int rc = carnet_replica_open(f->dir, &e, r, err, sizeof err);
  if (rc) fail_msg("open: %s: %s", carnet_error_name(rc), err);
}

static void build(fx *f) {
  carnet_replica *r = NULL;
  carnet_env e;
  char err[512] = "", buf[128], hex[CARNET_ID_HEX_LEN + 1], extra[EXTRA_COUNT][96];
  memset(&e, 0, sizeof e);
  e.passphrase = PASS1;
  int rc = carnet_replica_init(f->dir, &e, &r, err, sizeof err);
  if (rc) fail_msg("init: %s: %s", carnet_error_name(rc), err);
  for (int b = 0; b < N; b += BATCH) {
    carnet_txn *t;
    OK(r, carnet_txn_begin(r, &t));
    for (int i = b; i < b + BATCH; i++) {
      carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
      assert_non_null(p);
      name_of(i, buf, sizeof buf);
      set(p, CARNET_F_NAME, buf);
      email_of(i, buf, sizeof buf);
      set(p, CARNET_F_EMAILS, buf);
      phone_of(i, buf, sizeof buf);
      assert_int_equal(carnet_patch_phone(p, "mobile", buf), 0);
      if (i % CHOSEN_EVERY == 0) {
        extras_of(i, extra);
        set(p, CARNET_F_TYPE, "company");
        set(p, CARNET_F_COMPANY, extra[0]);
        set(p, CARNET_F_STREET, extra[1]);
        set(p, CARNET_F_CITY, extra[2]);
        set(p, CARNET_F_NOTES, extra[3]);
        set(p, CARNET_F_VAT_ID, extra[4]);
        set(p, CARNET_F_TAGS, extra[5]);
        set(p, CARNET_F_SALES_REP, extra[6]);
      }
      rc = carnet_record_create(t, p, NULL, &f->ids[i]);
      carnet_patch_free(p);
      if (rc) fail_msg("create %d: %s (%s)", i, carnet_error_name(rc), carnet_replica_errmsg(r));
    }
    OK(r, carnet_txn_commit(t));
  }
  /* The chosen ones' contact, action and reminder, then an edit of each
   * chosen customer so that freed pages held an older row too. */
  for (int i = 0; i < N; i += CHOSEN_EVERY) {
    carnet_id id;
    extras_of(i, extra);
    carnet_id_format(&f->ids[i], hex);
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CONTACT);
    set(p, CARNET_F_CUSTOMER, hex);
    set(p, CARNET_F_NAME, extra[7]);
    set(p, CARNET_F_EMAILS, extra[8]);
    OK(r, carnet_record_create_commit(r, p, &id));
    carnet_patch_free(p);
    p = carnet_patch_new(CARNET_KIND_ACTION);
    set(p, CARNET_F_CHANNEL, "phone");
    set(p, CARNET_F_DETAILS, extra[9]);
    set(p, CARNET_F_CUSTOMERS, hex);
    OK(r, carnet_record_create_commit(r, p, &id));
    carnet_patch_free(p);
    p = carnet_patch_new(CARNET_KIND_REMINDER);
    set(p, CARNET_F_CUSTOMER, hex);
    set(p, CARNET_F_DATE, "2026-12-24");
    set(p, CARNET_F_COMMENT, extra[10]);
    OK(r, carnet_record_create_commit(r, p, &id));
    carnet_patch_free(p);
    p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    set(p, CARNET_F_POSTCODE, "69003");
    OK(r, carnet_record_update_commit(r, &f->ids[i], p));
    carnet_patch_free(p);
  }
  carnet_record *rec;
  OK(r, carnet_record_get(r, &f->ids[0], &rec));
  snprintf(f->refcode0, sizeof f->refcode0, "%s", carnet_record_str(rec, CARNET_F_REFCODE));
  carnet_record_free(rec);
  carnet_replica_close(r);
}

static int group_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->root = tdir_new("crypt");
  assert_non_null(f->root);
  f->dir = tdir_join(f->root, "replica");
  assert_non_null(f->dir);
  build(f);
  *state = f;
  return 0;
}

static int group_teardown(void **state) {
  fx *f = *state;
  tdir_remove(f->root);
  free(f->root);
  free(f->dir);
  free(f);
  return 0;
}

/* --- the real binary ------------------------------------------------------------ */

static int run(const fx *f, const char *pass, const char *new_pass, proc_result *res,
               const char *const *args) {
  const char *argv[32];
  char e_dir[2048], e_pass[256], e_new[256], e_home[2048];
  const char *env[8];
  size_t n = 0, k = 0;
  const char *bin = getenv("CARNET_BIN");
  if (bin == NULL) fail_msg("CARNET_BIN is not set: run this test through ctest");
  argv[n++] = bin;
  for (; *args && n < 31; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  snprintf(e_dir, sizeof e_dir, "CARNET_DIR=%s", f->dir);
  snprintf(e_home, sizeof e_home, "HOME=%s", f->root);
  env[k++] = e_dir;
  env[k++] = e_home;
  env[k++] = "CARNET_KEY_FILE"; /* unset: whatever the caller's shell holds */
  if (pass) {
    snprintf(e_pass, sizeof e_pass, "CARNET_PASSPHRASE=%s", pass);
    env[k++] = e_pass;
  } else {
    env[k++] = "CARNET_PASSPHRASE";
  }
  if (new_pass) {
    snprintf(e_new, sizeof e_new, "CARNET_NEW_PASSPHRASE=%s", new_pass);
    env[k++] = e_new;
  }
  env[k] = NULL;
  proc_opts o = {.env = env, .cwd = f->root, .timeout_ms = RUN_TIMEOUT_MS};
  if (proc_run(argv, &o, res) != 0 || res->timed_out) fail_msg("%s", res->why);
  return res->status;
}

#define RUN(f, pass, newp, res, ...)                                                               \
  run((f), (pass), (newp), (res), (const char *const[]){__VA_ARGS__, NULL})

static void hash_file(const char *path, uint8_t out[32]) {
  size_t len;
  uint8_t *b = read_all(path, &len);
  crypto_generichash(out, 32, b, len, NULL, 0);
  free(b);
}

/* --- tests ----------------------------------------------------------------------- */

static void test_no_plaintext_in_files(void **state) {
  fx *f = *state;
  needles s = {0};
  char buf[128], extra[EXTRA_COUNT][96];
  /* Every customer's name, e-mail and phone (stored and typed forms):
   * 40,000 values, far more than the 200 asked. */
  for (int i = 0; i < N; i++) {
    name_of(i, buf, sizeof buf);
    needle_add(&s, buf);
    email_of(i, buf, sizeof buf);
    needle_add(&s, buf);
    phone_e164_of(i, buf, sizeof buf);
    needle_add(&s, buf);
    phone_national_of(i, buf, sizeof buf);
    needle_add(&s, buf);
  }
  /* Every value of the 10 chosen customers. */
  for (int i = 0; i < N; i += CHOSEN_EVERY) {
    extras_of(i, extra);
    for (int k = 0; k < EXTRA_COUNT; k++)
      needle_add(&s, extra[k]);
  }
  assert_true(s.n >= 200 + 10 * EXTRA_COUNT);
  needles_ready(&s);
  int files = 0;
  size_t hits = scan_dir(f->dir, &s, &files);
  print_message("%zu values searched in %d files: %zu found\n", s.n, files, hits);
  assert_true(files >= 2); /* data.mdb and lock.mdb (no key file: a passphrase) */
  assert_int_equal(hits, 0);
  needles_free(&s);

  /* The search does see what is in clear: reference codes are (the index
   * resolves them; docs/DESIGN-NOTES.md). */
  needles ref = {0};
  needle_add(&ref, f->refcode0);
  needles_ready(&ref);
  hits = scan_dir(f->dir, &ref, &files);
  assert_true(hits >= 1);
  needles_free(&ref);
}

static void test_wrong_passphrase(void **state) {
  fx *f = *state;
  proc_result r;
  uint8_t before[32], after[32];
  char data[2048];
  snprintf(data, sizeof data, "%s/data.mdb", f->dir);
  hash_file(data, before);
  int st = RUN(f, "not the passphrase", NULL, &r, "customer", "add", "--name", "Intruder Zed");
  assert_int_equal(st, 1);
  assert_non_null(strstr(r.err, "wrong passphrase for replica"));
  assert_int_equal(proc_count_lines(r.err), 1);
  proc_result_free(&r);
  st = RUN(f, NULL, NULL, &r, "customer", "list");
  assert_int_equal(st, 1);
  assert_non_null(strstr(r.err, "protected by a passphrase"));
  proc_result_free(&r);
  hash_file(data, after);
  assert_memory_equal(before, after, 32);
  /* The library says the same, in process. */
  carnet_replica *rp = (carnet_replica *)1;
  carnet_env e;
  char err[512] = "";
  memset(&e, 0, sizeof e);
  e.passphrase = "not the passphrase";
  assert_int_equal(carnet_replica_open(f->dir, &e, &rp, err, sizeof err), CARNET_EKEY);
  assert_null(rp);
  assert_non_null(strstr(err, "wrong passphrase for replica"));
  hash_file(data, after);
  assert_memory_equal(before, after, 32);
}

static void test_passwd(void **state) {
  fx *f = *state;
  proc_result r;
  int st = RUN(f, PASS1, PASS2, &r, "passwd");
  if (st != 0) fail_msg("passwd exited %d: %s", st, r.err);
  proc_result_free(&r);
  st = RUN(f, PASS1, NULL, &r, "status");
  assert_int_equal(st, 1);
  assert_non_null(strstr(r.err, "wrong passphrase for replica"));
  proc_result_free(&r);
  st = RUN(f, PASS2, NULL, &r, "status");
  if (st != 0) fail_msg("status exited %d: %s", st, r.err);
  assert_non_null(strstr(r.out, "10000 (0 deleted)"));
  assert_non_null(strstr(r.out, "passphrase (Argon2id"));
  proc_result_free(&r);
  /* Back to the first, in process. */
  carnet_replica *rp;
  open_with(f, PASS2, &rp);
  OK(rp, carnet_replica_rekey(rp, PASS1, NULL));
  carnet_record *rec;
  OK(rp, carnet_record_get(rp, &f->ids[42], &rec));
  carnet_record_free(rec);
  carnet_replica_close(rp);
  open_with(f, PASS1, &rp);
  carnet_replica_close(rp);
}

/* Flip one byte inside the sealed row of customer 7 (every stored copy of
 * it: LMDB may keep an older one in a free page). A leaf node is
 * size(4) flags(2) key size(2) key value; the row's key is its 16-byte id
 * and a sealed value starts with its version byte, 1. */
static void test_tampered_row(void **state) {
  fx *f = *state;
  char data[2048];
  size_t len, flipped = 0;
  snprintf(data, sizeof data, "%s/data.mdb", f->dir);
  uint8_t *b = read_all(data, &len);
  for (size_t p = 8; p + 16 + 64 <= len; p++) {
    if (memcmp(b + p, f->ids[7].b, 16) != 0) continue;
    uint32_t dsize = (uint32_t)b[p - 8] | (uint32_t)b[p - 7] << 8 | (uint32_t)b[p - 6] << 16 |
                     (uint32_t)b[p - 5] << 24;
    unsigned ksize = b[p - 2] | b[p - 1] << 8;
    if (ksize != 16 || dsize < 64 || b[p + 16] != 1) continue;
    b[p + 16 + 40] ^= 0x20; /* inside the ciphertext, past the nonce */
    flipped++;
  }
  assert_true(flipped >= 1);
  FILE *out = fopen(data, "r+b");
  assert_non_null(out);
  assert_int_equal(fwrite(b, 1, len, out), len);
  fclose(out);
  free(b);
  /* In process: CARNET_ECORRUPT from the read, the others still read. */
  carnet_replica *rp;
  carnet_record *rec = NULL;
  open_with(f, PASS1, &rp);
  assert_int_equal(carnet_record_get(rp, &f->ids[7], &rec), CARNET_ECORRUPT);
  assert_null(rec);
  OK(rp, carnet_record_get(rp, &f->ids[8], &rec));
  carnet_record_free(rec);
  carnet_replica_close(rp);
  /* The command: exit 2 (damaged data), one clear line, no crash. */
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&f->ids[7], hex);
  proc_result r;
  int st = RUN(f, PASS1, NULL, &r, "customer", "show", hex);
  print_message("customer show of the damaged row: exit %d: %s", st, r.err);
  assert_int_equal(st, 2);
  assert_int_equal(proc_count_lines(r.err), 1);
  assert_true(strstr(r.err, "damaged") != NULL || strstr(r.err, "authentication") != NULL);
  proc_result_free(&r);
  st = RUN(f, PASS1, NULL, &r, "customer", "list");
  assert_int_equal(st, 2);
  assert_int_equal(proc_count_lines(r.err), 1);
  proc_result_free(&r);
}

/* A sealed value opens only under its key, table and value key. */
static void test_seal_binding(void **state) {
  (void)state;
  uint8_t k1[32], k2[32], ct[64 + CARNET__SEAL_OVERHEAD], pt[64];
  carnet__nonces nonces;
  carnet__nonces_init(&nonces);
  randombytes_buf(k1, sizeof k1);
  randombytes_buf(k2, sizeof k2);
  const char *row = "a row of sixty-four bytes, more or less, that holds a name......";
  carnet__seal(k1, &nonces, "entities", "0123456789abcdef", 16, row, 64, ct);
  assert_int_equal(carnet__unseal(k1, "entities", "0123456789abcdef", 16, ct, sizeof ct, pt), 0);
  assert_memory_equal(pt, row, 64);
  assert_int_equal(carnet__unseal(k2, "entities", "0123456789abcdef", 16, ct, sizeof ct, pt),
                   CARNET_ECORRUPT);
  assert_int_equal(carnet__unseal(k1, "invites", "0123456789abcdef", 16, ct, sizeof ct, pt),
                   CARNET_ECORRUPT);
  assert_int_equal(carnet__unseal(k1, "entities", "0123456789abcdeF", 16, ct, sizeof ct, pt),
                   CARNET_ECORRUPT);
  assert_int_equal(carnet__unseal(k1, "entities", "0123456789abcdef", 16, ct, 40, pt),
                   CARNET_ECORRUPT);
  ct[0] = 2; /* an unknown version */
  assert_int_equal(carnet__unseal(k1, "entities", "0123456789abcdef", 16, ct, sizeof ct, pt),
                   CARNET_ECORRUPT);
  /* Two seals of one value differ (random nonces). */
  uint8_t ct2[64 + CARNET__SEAL_OVERHEAD];
  carnet__seal(k1, &nonces, "entities", "0123456789abcdef", 16, row, 64, ct);
  carnet__seal(k1, &nonces, "entities", "0123456789abcdef", 16, row, 64, ct2);
  assert_memory_not_equal(ct, ct2, sizeof ct);
}

static bool exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* Key files: made 0600, refused when others can read them, a wrong one
 * refused; a failed init leaves nothing behind; rekey between key files
 * and passphrases. */
static void test_key_files(void **state) {
  (void)state;
  char *root = tdir_new("cryptkf");
  char *dir = tdir_join(root, "r"), *kf = tdir_join(root, "office.key"),
       *kf2 = tdir_join(root, "other.key"), *inkf = tdir_join(dir, CARNET_KEY_FILE_NAME),
       *data = tdir_join(dir, "data.mdb");
  carnet_replica *r = NULL;
  carnet_env e;
  char err[512] = "";
  struct stat sb;
  memset(&e, 0, sizeof e);
  /* A key file others can read: refused, and no replica is left. */
  FILE *f = fopen(kf, "w");
  assert_non_null(f);
  fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
  fclose(f);
  assert_int_equal(chmod(kf, 0644), 0);
  e.key_file = kf;
  assert_int_equal(carnet_replica_init(dir, &e, &r, err, sizeof err), CARNET_EPERM);
  assert_non_null(strstr(err, "chmod 600"));
  assert_false(exists(data));
  assert_int_equal(unlink(kf), 0);
  /* Made when missing, mode 0600. */
  OK(r, carnet_replica_init(dir, &e, &r, err, sizeof err));
  assert_int_equal(stat(kf, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  assert_false(exists(inkf));
  carnet_key_info ki;
  OK(r, carnet_replica_get_key_info(r, &ki));
  assert_int_equal(ki.kind, CARNET_KEY_FILE);
  carnet_id id;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_int_equal(carnet_patch_set(p, CARNET_F_NAME, "Keyfile Customer"), 0);
  OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  carnet_replica_close(r);
  r = NULL;
  /* Without it: refused, saying where to give it. */
  e.key_file = NULL;
  assert_int_equal(carnet_replica_open(dir, &e, &r, err, sizeof err), CARNET_EKEY);
  assert_non_null(strstr(err, "key file"));
  /* Another key: wrong key file. */
  e.key_file = kf2;
  f = fopen(kf2, "w");
  assert_non_null(f);
  fputs("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100", f);
  fclose(f);
  assert_int_equal(chmod(kf2, 0600), 0);
  assert_int_equal(carnet_replica_open(dir, &e, &r, err, sizeof err), CARNET_EKEY);
  assert_non_null(strstr(err, "wrong key file"));
  /* Others can read it now: refused before any use. */
  e.key_file = kf;
  assert_int_equal(chmod(kf, 0640), 0);
  assert_int_equal(carnet_replica_open(dir, &e, &r, err, sizeof err), CARNET_EPERM);
  assert_int_equal(chmod(kf, 0400), 0); /* read-only for its owner: fine */
  OK(r, carnet_replica_open(dir, &e, &r, err, sizeof err));
  /* To the key file in the directory, then to a passphrase: the directory
   * key file goes. */
  OK(r, carnet_replica_rekey(r, NULL, NULL));
  assert_true(exists(inkf));
  OK(r, carnet_replica_get_key_info(r, &ki));
  assert_int_equal(ki.kind, CARNET_KEY_FILE_IN_DIR);
  carnet_replica_close(r);
  r = NULL;
  memset(&e, 0, sizeof e);
  OK(r, carnet_replica_open(dir, &e, &r, err, sizeof err));
  OK(r, carnet_replica_rekey(r, "a passphrase", NULL));
  assert_false(exists(inkf));
  carnet_replica_close(r);
  r = NULL;
  assert_int_equal(carnet_replica_open(dir, &e, &r, err, sizeof err), CARNET_EKEY);
  e.passphrase = "a passphrase";
  OK(r, carnet_replica_open(dir, &e, &r, err, sizeof err));
  carnet_record *rec;
  OK(r, carnet_record_get(r, &id, &rec));
  assert_string_equal(carnet_record_str(rec, CARNET_F_NAME), "Keyfile Customer");
  carnet_record_free(rec);
  carnet_replica_close(r);
  tdir_remove(root);
  free(root);
  free(dir);
  free(kf);
  free(kf2);
  free(inkf);
  free(data);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_plaintext_in_files), cmocka_unit_test(test_wrong_passphrase),
      cmocka_unit_test(test_passwd),
      cmocka_unit_test(test_tampered_row), /* last: it damages the replica */
  };
  const struct CMUnitTest small[] = {
      cmocka_unit_test(test_seal_binding),
      cmocka_unit_test(test_key_files),
  };
  int failed = cmocka_run_group_tests_name("small", small, NULL, NULL);
  return failed + cmocka_run_group_tests_name("10k", tests, group_setup, group_teardown);
}
