/* tests/engine/test_api.c - the public API's contract: every validation
 * error it documents is produced with the documented code and a detail that
 * names the culprit; values round-trip through carnet_record_get; transactions are
 * all or nothing; listing, resolving and reference codes behave as the
 * headers say.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "engine/store/store.h"
#include "support/testenv.h"

/* --- Fixture: one fresh replica per test --------------------------------- */

/* Other replicas a test opens; the teardown closes them even when the
 * test fails half-way. */
typedef struct peer {
  char *dir;
  tenv env;
  carnet_replica *r;
} peer;

#define PEERS_MAX 4

typedef struct fx {
  char *root;
  char *dir;
  tenv env;
  carnet_env ce;
  carnet_replica *r;
  peer peers[PEERS_MAX];
  int npeers;
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->root = tdir_new("api");
  assert_non_null(f->root);
  f->dir = tdir_join(f->root, "replica");
  assert_non_null(f->dir);
  tenv_init(&f->env, TENV_EPOCH_MS, 42);
  tenv_fill(&f->env, &f->ce);
  char err[256] = "";
  int rc = carnet_replica_init(f->dir, &f->ce, &f->r, err, sizeof err);
  if (rc) fail_msg("carnet_replica_init: %s: %s", carnet_error_name(rc), err);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  if (!f) return 0;
  for (int i = 0; i < f->npeers; i++) {
    carnet_replica_close(f->peers[i].r);
    free(f->peers[i].dir);
  }
  carnet_replica_close(f->r);
  tdir_remove(f->root);
  free(f->dir);
  free(f->root);
  free(f);
  return 0;
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

/* Brief: a new replica `name` in the fixture's root, with its own clock (at
 * TENV_EPOCH_MS) and random seed; closed by the teardown. */
static peer *open_peer(fx *f, const char *name, uint64_t seed) {
  assert_true(f->npeers < PEERS_MAX);
  peer *pe = &f->peers[f->npeers++];
  pe->dir = tdir_join(f->root, name);
  assert_non_null(pe->dir);
  tenv_init(&pe->env, TENV_EPOCH_MS, seed);
  carnet_env ce;
  tenv_fill(&pe->env, &ce);
  char err[256] = "";
  int rc = carnet_replica_init(pe->dir, &ce, &pe->r, err, sizeof err);
  if (rc) fail_msg("carnet_replica_init(%s): %s: %s", pe->dir, carnet_error_name(rc), err);
  return pe;
}

/* --- Helpers ----------------------------------------------------------------- */

static bool contains_ci(const char *hay, const char *needle) {
  if (!hay || !needle) return false;
  size_t n = strlen(needle);
  for (const char *p = hay; *p; p++) {
    size_t i = 0;
    while (
        i < n && p[i] &&
        ((p[i] | 0x20) == (needle[i] | 0x20) || ((unsigned char)p[i] >= 0x80 && p[i] == needle[i])))
      i++;
    if (i == n) return true;
  }
  return n == 0;
}

#define ASSERT_RC(expr, want)                                                                      \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    if (rc_ != (want))                                                                             \
      fail_msg("%s: got %s (%d), want %s", #expr, carnet_error_name(rc_), rc_,                     \
               carnet_error_name(want));                                                           \
  } while (0)

#define ASSERT_OK(r, expr)                                                                         \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    if (rc_ != 0)                                                                                  \
      fail_msg("%s: %s (%s)", #expr, carnet_error_name(rc_), (r) ? carnet_replica_errmsg(r) : ""); \
  } while (0)

/* The detail of the last error names the field and the offending value. */
static void assert_errmsg_names(carnet_replica *r, const char *field, const char *value) {
  const char *m = carnet_replica_errmsg(r);
  assert_non_null(m);
  if (!contains_ci(m, field) || (value && !contains_ci(m, value)))
    fail_msg("errmsg \"%s\" should name the field '%s' and the value '%s'", m, field,
             value ? value : "");
}

static size_t count_live(carnet_replica *r, carnet_kind kind);

/* Create a customer with one field set; returns the rc. */
static int create_with(carnet_replica *r, carnet_field f, const char *v, carnet_id *out) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_non_null(p);
  int rc = carnet_patch_set(p, CARNET_F_NAME, "Client test");
  if (rc == 0) rc = carnet_patch_set(p, f, v);
  if (rc == 0) rc = carnet_record_create_commit(r, p, out);
  carnet_patch_free(p);
  return rc;
}

static carnet_record *get_ok(carnet_replica *r, const carnet_id *id) {
  carnet_record *rec = NULL;
  ASSERT_OK(r, carnet_record_get(r, id, &rec));
  assert_non_null(rec);
  return rec;
}

static void assert_str_field(const carnet_record *rec, carnet_field f, const char *want) {
  const char *got = carnet_record_str(rec, f);
  if (want == NULL) {
    if (got != NULL) fail_msg("field %d: got '%s', want unset", (int)f, got);
    return;
  }
  if (got == NULL || strcmp(got, want) != 0)
    fail_msg("field %d: got '%s', want '%s'", (int)f, got ? got : "(unset)", want);
}

static void assert_elems(const carnet_record *rec, carnet_field f, const char *const *want,
                         size_t nwant) {
  const char *const *els = NULL;
  size_t n = carnet_record_elems(rec, f, &els);
  char got[1024] = "";
  for (size_t i = 0; i < n; i++) {
    strncat(got, els[i], sizeof got - strlen(got) - 3);
    strncat(got, i + 1 < n ? ", " : "", sizeof got - strlen(got) - 1);
  }
  if (n != nwant) fail_msg("field %d: %zu elements [%s], want %zu", (int)f, n, got, nwant);
  for (size_t i = 0; i < n; i++)
    if (strcmp(els[i], want[i]) != 0)
      fail_msg("field %d element %zu: got '%s', want '%s' (all: [%s])", (int)f, i, els[i], want[i],
               got);
}

static int count_cb(const carnet_record *rec, void *data) {
  (void)rec;
  (*(size_t *)data)++;
  return 0;
}

static size_t count_live(carnet_replica *r, carnet_kind kind) {
  size_t n = 0;
  ASSERT_OK(r, carnet_record_list(r, kind, NULL, count_cb, &n));
  return n;
}

/* --- Error space ----------------------------------------------------------- */

static void test_error_names(void **state) {
  (void)state;
#define CHECK_ERR(name, value, msg)                                                                \
  assert_int_equal(CARNET_##name, value);                                                          \
  assert_string_equal(carnet_error_name(CARNET_##name), "CARNET_" #name);                          \
  assert_string_equal(carnet_error_message(CARNET_##name), msg);
  CARNET_ERRNO_MAP(CHECK_ERR)
#undef CHECK_ERR
  assert_string_equal(carnet_error_message(-9999), "unknown error");
  assert_non_null(carnet_error_name(-9999));
  assert_non_null(carnet_error_message(0));
}

/* --- Validation -------------------------------------------------------------- */

static void test_invalid_emails(void **state) {
  fx *f = *state;
  static const char *const bad[] = {"jean@", "@x.fr",      "a b@c.fr",   "x@y",
                                    "jean",  "jean@@x.fr", "jean@x..fr", ""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    if (carnet_email_valid(bad[i])) fail_msg("carnet_email_valid(\"%s\") is true", bad[i]);
    if (!*bad[i]) continue; /* "" means "clear" for carnet_patch_set */
    ASSERT_RC(create_with(f->r, CARNET_F_EMAILS, bad[i], NULL), CARNET_EINVAL);
    assert_errmsg_names(f->r, "email", bad[i]);
  }
  static const char *const good[] = {"jean@exemple.fr", "jean.dupont+crm@sub.exemple.fr", "a@b.co",
                                     "o'neil@exemple.ie"};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++)
    if (!carnet_email_valid(good[i])) fail_msg("carnet_email_valid(\"%s\") is false", good[i]);
  /* Nothing was created by the failed writes. */
  assert_int_equal(count_live(f->r, CARNET_KIND_CUSTOMER), 0);
  carnet_id id;
  ASSERT_OK(f->r, create_with(f->r, CARNET_F_EMAILS, "jean@exemple.fr", &id));
  carnet_record *rec = get_ok(f->r, &id);
  const char *const want[] = {"jean@exemple.fr"};
  assert_elems(rec, CARNET_F_EMAILS, want, 1);
  carnet_record_free(rec);
}

static void test_siret(void **state) {
  fx *f = *state;
  char out[15];
  ASSERT_RC(carnet_siret_normalize("12345678901234", out), CARNET_EINVAL);
  ASSERT_RC(carnet_siret_normalize("1234", out), CARNET_EINVAL);
  ASSERT_RC(carnet_siret_normalize("7328293200007a", out), CARNET_EINVAL);
  ASSERT_RC(carnet_siret_normalize("732829320000745", out), CARNET_EINVAL); /* 15 digits */
  ASSERT_RC(carnet_siret_normalize("", out), CARNET_EINVAL);
  ASSERT_OK(NULL, carnet_siret_normalize("73282932000074", out));
  assert_string_equal(out, "73282932000074");
  ASSERT_OK(NULL, carnet_siret_normalize("732 829 320 00074", out));
  assert_string_equal(out, "73282932000074");
  ASSERT_OK(NULL, carnet_siret_normalize("732829320", out)); /* SIREN */
  assert_string_equal(out, "732829320");
  /* La Poste: SIREN 356000000, and its SIRETs check by digit sum % 5. */
  ASSERT_OK(NULL, carnet_siret_normalize("356000000", out));
  assert_string_equal(out, "356000000");
  ASSERT_OK(NULL, carnet_siret_normalize("35600000000001", out)); /* Luhn fails, sum 15 */

  ASSERT_RC(create_with(f->r, CARNET_F_SIRET, "12345678901234", NULL), CARNET_EINVAL);
  assert_errmsg_names(f->r, "siret", "12345678901234");
  carnet_id id;
  ASSERT_OK(f->r, create_with(f->r, CARNET_F_SIRET, "732 829 320 00074", &id));
  carnet_record *rec = get_ok(f->r, &id);
  assert_str_field(rec, CARNET_F_SIRET, "73282932000074");
  carnet_record_free(rec);
  ASSERT_OK(f->r, create_with(f->r, CARNET_F_SIRET, "356000000", &id));
  rec = get_ok(f->r, &id);
  assert_str_field(rec, CARNET_F_SIRET, "356000000");
  carnet_record_free(rec);
}

static void test_phone_normalize(void **state) {
  fx *f = *state;
  static const char *const same[] = {"06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678",
                                     "06.12.34.56.78", "+33612345678"};
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
    char out[32] = "";
    int rc = carnet_phone_normalize(same[i], out, sizeof out);
    if (rc != 0 || strcmp(out, "+33612345678") != 0)
      fail_msg("carnet_phone_normalize(\"%s\") = %s \"%s\", want \"+33612345678\"", same[i],
               carnet_error_name(rc), out);
  }
  char out[32];
  ASSERT_OK(NULL, carnet_phone_normalize("01 42 68 53 00", out, sizeof out));
  assert_string_equal(out, "+33142685300");
  ASSERT_RC(carnet_phone_normalize("bonjour", out, sizeof out), CARNET_EINVAL);
  ASSERT_RC(carnet_phone_normalize("", out, sizeof out), CARNET_EINVAL);

  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_non_null(p);
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NAME, "Client"));
  ASSERT_OK(NULL, carnet_patch_phone(p, "mobile", "bonjour"));
  ASSERT_RC(carnet_record_create_commit(f->r, p, NULL), CARNET_EINVAL);
  assert_errmsg_names(f->r, "phone", "bonjour");
  carnet_patch_free(p);
}

static void test_field_catalogue(void **state) {
  (void)state;
  assert_null(carnet_field_find(CARNET_KIND_CUSTOMER, "foo"));
  assert_null(carnet_field_find(CARNET_KIND_CONTACT, "foo"));
  assert_null(carnet_field_get((carnet_field)0));
  assert_null(carnet_field_get(CARNET_F_MAX_));
  const carnet_field_info *fi = carnet_field_find(CARNET_KIND_CUSTOMER, "emails");
  assert_non_null(fi);
  assert_int_equal(fi->field, CARNET_F_EMAILS);
  for (int f = 1; f < CARNET_F_MAX_; f++) {
    fi = carnet_field_get((carnet_field)f);
    assert_non_null(fi);
    assert_int_equal((int)fi->field, f);
    assert_non_null(fi->name);
    assert_true(fi->kinds != 0);
    for (int k = CARNET_KIND_CUSTOMER; k <= CARNET_KIND_CONTACT; k++) {
      const carnet_field_info *by = carnet_field_find((carnet_kind)k, fi->name);
      if (fi->kinds & (1u << k))
        assert_ptr_equal(by, fi);
      else
        assert_true(by == NULL || (int)by->field != f);
    }
  }
  assert_string_equal(carnet_kind_name(CARNET_KIND_CUSTOMER), "customer");
  assert_string_equal(carnet_kind_name(CARNET_KIND_CONTACT), "contact");
  assert_null(carnet_kind_name((carnet_kind)99));
  for (int ch = 1; ch < CARNET_CH_MAX_; ch++) {
    const char *n = carnet_channel_name((carnet_channel)ch);
    assert_non_null(n);
    assert_int_equal(carnet_channel_parse(n), ch);
  }
  assert_string_equal(carnet_channel_name(CARNET_CH_EMAIL), "email");
  assert_null(carnet_channel_name((carnet_channel)0));
  assert_null(carnet_channel_name(CARNET_CH_MAX_));
  assert_int_equal(carnet_channel_parse("fax"), 0);
}

static void test_id_hex(void **state) {
  (void)state;
  carnet_id id, back;
  for (int i = 0; i < 16; i++)
    id.b[i] = (uint8_t)(i * 17 + 1);
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&id, hex);
  assert_int_equal(strlen(hex), 32);
  assert_string_equal(hex, "0112233445566778899aabbccddeef00");
  ASSERT_OK(NULL, carnet_id_parse(hex, &back));
  assert_memory_equal(&id, &back, 16);
  ASSERT_RC(carnet_id_parse("0112", &back), CARNET_EINVAL);
  ASSERT_RC(carnet_id_parse("zz12233445566778899aabbccddeeff0", &back), CARNET_EINVAL);
  ASSERT_RC(carnet_id_parse("0112233445566778899aabbccddeeff0ff", &back), CARNET_EINVAL);
}

/* --- Opening --------------------------------------------------------------------- */

static void test_open_missing(void **state) {
  fx *f = *state;
  char *missing = tdir_join(f->root, "nothing-here");
  carnet_replica *r = (carnet_replica *)1;
  char err[256] = "";
  ASSERT_RC(carnet_replica_open(missing, &f->ce, &r, err, sizeof err), CARNET_ENOREPLICA);
  assert_null(r);
  assert_true(strlen(err) > 0);
  /* An empty directory is not a replica either. */
  assert_int_equal(mkdir(missing, 0700), 0);
  r = (carnet_replica *)1;
  ASSERT_RC(carnet_replica_open(missing, &f->ce, &r, err, sizeof err), CARNET_ENOREPLICA);
  assert_null(r);
  free(missing);
}

static void test_init_twice(void **state) {
  fx *f = *state;
  uint64_t id = carnet_replica_id(f->r);
  carnet_id cid;
  ASSERT_OK(f->r, create_with(f->r, CARNET_F_CITY, "Lyon", &cid));
  /* One LMDB environment per directory and process: close first. */
  carnet_replica_close(f->r);
  f->r = NULL;
  carnet_replica *r = (carnet_replica *)1;
  char err[256] = "";
  ASSERT_RC(carnet_replica_init(f->dir, &f->ce, &r, err, sizeof err), CARNET_EEXIST);
  assert_null(r);
  assert_true(strlen(err) > 0);
  /* The existing replica is untouched. */
  ASSERT_OK(NULL, carnet_replica_open(f->dir, &f->ce, &f->r, err, sizeof err));
  assert_int_equal(carnet_replica_id(f->r), id);
  carnet_record *rec = get_ok(f->r, &cid);
  assert_str_field(rec, CARNET_F_CITY, "Lyon");
  carnet_record_free(rec);
}

static void test_open_newer_schema(void **state) {
  fx *f = *state;
  carnet_replica_close(f->r);
  f->r = NULL;
  carnet__store *s = NULL;
  carnet__stxn *t = NULL;
  char why[256] = "";
  ASSERT_OK(NULL, carnet__store_open(f->dir, 0, &s, why, sizeof why));
  ASSERT_OK(NULL, carnet__store_begin(s, true, &t));
  static const uint8_t be2[4] = {0, 0, 0, CARNET_SCHEMA_VERSION + 1};
  ASSERT_OK(NULL, carnet__store_put(t, CARNET__T_META, "schema", 6, be2, 4, 0));
  ASSERT_OK(NULL, carnet__store_commit(t));
  carnet__store_close(s);
  carnet_replica *r = (carnet_replica *)1;
  char err[256] = "";
  ASSERT_RC(carnet_replica_open(f->dir, &f->ce, &r, err, sizeof err), CARNET_EVERSION);
  assert_null(r);
  assert_true(strlen(err) > 0);
}

static void test_open_not_a_replica(void **state) {
  fx *f = *state;
  /* Garbage where the data file should be: ECORRUPT. */
  char *dir = tdir_join(f->root, "garbage");
  assert_int_equal(mkdir(dir, 0700), 0);
  char *data = tdir_join(dir, "data.mdb");
  int fd = open(data, O_CREAT | O_WRONLY, 0600);
  assert_true(fd >= 0);
  char junk[16384];
  trng g;
  trng_seed(&g, 3);
  trng_bytes(&g, junk, sizeof junk);
  assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
  close(fd);
  carnet_replica *r = (carnet_replica *)1;
  char err[256] = "";
  ASSERT_RC(carnet_replica_open(dir, &f->ce, &r, err, sizeof err), CARNET_ECORRUPT);
  assert_null(r);
  assert_true(strlen(err) > 0);
  free(data);
  free(dir);
  /* A valid LMDB environment without Carnet's metadata: ECORRUPT too. */
  char *empty = tdir_join(f->root, "bare-lmdb");
  assert_int_equal(mkdir(empty, 0700), 0);
  carnet__store *s = NULL;
  char why[256];
  ASSERT_OK(NULL, carnet__store_open(empty, CARNET__STORE_CREATE, &s, why, sizeof why));
  carnet__store_close(s);
  r = (carnet_replica *)1;
  ASSERT_RC(carnet_replica_open(empty, &f->ce, &r, err, sizeof err), CARNET_ECORRUPT);
  assert_null(r);
  free(empty);
}

/* --- Identity and determinism -------------------------------------------- */

static void test_identity(void **state) {
  fx *f = *state;
  assert_true(carnet_replica_id(f->r) != 0);
  const char *tag = carnet_replica_tag(f->r);
  assert_non_null(tag);
  assert_int_equal(strlen(tag), 4);
  for (const char *p = tag; *p; p++)
    assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", *p)); /* Crockford */
  assert_string_equal(carnet_replica_dir(f->r), f->dir);
  assert_string_equal(carnet_replica_errmsg(f->r), "");
  uint64_t seq = 99;
  ASSERT_OK(f->r, carnet_replica_get_seq(f->r, &seq));
  assert_int_equal(seq, 0);
  carnet_mark mark = {99, 99};
  ASSERT_OK(f->r, carnet_changes_get_mark(f->r, 12345, &mark));
  assert_int_equal(mark.base, 0);
  assert_int_equal(mark.after, 0);
}

/* Same seed and clock: same replica id, same entity ids, same state. New
 * ids start with the injected clock's milliseconds (types.h). */
static void test_deterministic_env(void **state) {
  fx *f = *state;
  carnet_replica *r[2] = {NULL, NULL};
  tenv *env[2];
  uint8_t dig[2][32];
  carnet_id ids[2][3];
  for (int k = 0; k < 2; k++) {
    peer *pe = open_peer(f, k ? "det1" : "det0", 9001);
    r[k] = pe->r;
    env[k] = &pe->env;
    for (int i = 0; i < 3; i++) {
      tenv_advance_ms(env[k], 1000);
      ASSERT_OK(r[k], create_with(r[k], CARNET_F_CITY, "Lille", &ids[k][i]));
      uint64_t ms = 0;
      for (int b = 0; b < 6; b++)
        ms = (ms << 8) | ids[k][i].b[b];
      assert_int_equal(ms, env[k]->now_ms);
      carnet_record *rec = get_ok(r[k], &ids[k][i]);
      assert_int_equal(CARNET_HLC_MS(carnet_record_updated(rec)), env[k]->now_ms);
      carnet_record_free(rec);
    }
    ASSERT_OK(r[k], carnet_replica_get_digest(r[k], dig[k]));
  }
  assert_int_equal(carnet_replica_id(r[0]), carnet_replica_id(r[1]));
  assert_memory_equal(ids[0], ids[1], sizeof ids[0]);
  assert_memory_equal(dig[0], dig[1], 32);
  assert_true(env[0]->clock_reads > 0);
  assert_true(env[0]->random_bytes > 0);
}

/* --- Writes ---------------------------------------------------------------------- */

static void test_update_missing(void **state) {
  fx *f = *state;
  carnet_id ghost;
  memset(&ghost, 0xab, sizeof ghost);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_non_null(p);
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_CITY, "Nantes"));
  ASSERT_RC(carnet_record_update_commit(f->r, &ghost, p), CARNET_ENOTFOUND);
  assert_true(strlen(carnet_replica_errmsg(f->r)) > 0);
  carnet_record *rec = (carnet_record *)1;
  ASSERT_RC(carnet_record_get(f->r, &ghost, &rec), CARNET_ENOTFOUND);

  /* Deleted: still readable, no longer updatable. */
  carnet_id id;
  ASSERT_OK(f->r, create_with(f->r, CARNET_F_CITY, "Lyon", &id));
  carnet_patch *d = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_delete(d));
  ASSERT_OK(f->r, carnet_record_update_commit(f->r, &id, d));
  carnet_patch_free(d);
  rec = get_ok(f->r, &id);
  assert_true(carnet_record_deleted(rec));
  assert_str_field(rec, CARNET_F_CITY, "Lyon");
  carnet_record_free(rec);
  ASSERT_RC(carnet_record_update_commit(f->r, &id, p), CARNET_ENOTFOUND);
  assert_int_equal(count_live(f->r, CARNET_KIND_CUSTOMER), 0);

  /* Creating with an id that exists: EEXIST. */
  carnet_txn *t = NULL;
  ASSERT_OK(f->r, carnet_txn_begin(f->r, &t));
  ASSERT_RC(carnet_record_create(t, p, &id, NULL), CARNET_EEXIST);
  carnet_txn_abort(t);

  /* A contact patch on a customer: EINVAL. */
  carnet_id live;
  ASSERT_OK(f->r, create_with(f->r, CARNET_F_CITY, "Lyon", &live));
  carnet_patch *cp = carnet_patch_new(CARNET_KIND_CONTACT);
  ASSERT_OK(NULL, carnet_patch_set(cp, CARNET_F_NAME, "Paul"));
  ASSERT_RC(carnet_record_update_commit(f->r, &live, cp), CARNET_EINVAL);
  carnet_patch_free(cp);
  carnet_patch_free(p);
}

static void test_txn_misuse(void **state) {
  fx *f = *state;
  carnet_txn *t = NULL, *t2 = (carnet_txn *)1;
  ASSERT_OK(f->r, carnet_txn_begin(f->r, &t));
  ASSERT_RC(carnet_txn_begin(f->r, &t2), CARNET_EMISUSE);
  carnet_txn_abort(t);
  carnet_txn_abort(NULL);
  /* After the abort a new transaction may start. */
  ASSERT_OK(f->r, carnet_txn_begin(f->r, &t));
  ASSERT_OK(f->r, carnet_txn_commit(t));
}

/* A transaction in which one write failed commits nothing (sticky). */
static void test_txn_sticky(void **state) {
  fx *f = *state;
  uint64_t seq0 = 0;
  ASSERT_OK(f->r, carnet_replica_get_seq(f->r, &seq0));
  uint8_t d0[32], d1[32];
  ASSERT_OK(f->r, carnet_replica_get_digest(f->r, d0));
  carnet_txn *t = NULL;
  ASSERT_OK(f->r, carnet_txn_begin(f->r, &t));
  carnet_patch *good = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_patch *bad = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_set(good, CARNET_F_NAME, "Bon client"));
  ASSERT_OK(NULL, carnet_patch_set(bad, CARNET_F_NAME, "Mauvais"));
  ASSERT_OK(NULL, carnet_patch_set(bad, CARNET_F_EMAILS, "jean@"));
  carnet_id a, b;
  ASSERT_OK(f->r, carnet_record_create(t, good, NULL, &a));
  ASSERT_RC(carnet_record_create(t, bad, NULL, NULL), CARNET_EINVAL);
  assert_errmsg_names(f->r, "email", "jean@");
  /* The transaction stays failed: later writes do not succeed... */
  assert_int_not_equal(carnet_record_create(t, good, NULL, &b), 0);
  /* ...and the commit reports the failure and writes nothing. */
  assert_int_not_equal(carnet_txn_commit(t), 0);
  carnet_patch_free(good);
  carnet_patch_free(bad);
  carnet_record *rec = (carnet_record *)1;
  ASSERT_RC(carnet_record_get(f->r, &a, &rec), CARNET_ENOTFOUND);
  assert_int_equal(count_live(f->r, CARNET_KIND_CUSTOMER), 0);
  uint64_t seq1 = 0;
  ASSERT_OK(f->r, carnet_replica_get_seq(f->r, &seq1));
  assert_int_equal(seq0, seq1);
  ASSERT_OK(f->r, carnet_replica_get_digest(f->r, d1));
  assert_memory_equal(d0, d1, 32);
  /* The handle works normally afterwards. */
  ASSERT_OK(f->r, create_with(f->r, CARNET_F_CITY, "Brest", NULL));
  assert_int_equal(count_live(f->r, CARNET_KIND_CUSTOMER), 1);
}

/* Every write in a committed transaction is there; an aborted one leaves
 * nothing. */
static void test_txn_commit_abort(void **state) {
  fx *f = *state;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NAME, "Lot"));
  carnet_txn *t = NULL;
  carnet_id ids[20];
  ASSERT_OK(f->r, carnet_txn_begin(f->r, &t));
  for (int i = 0; i < 20; i++)
    ASSERT_OK(f->r, carnet_record_create(t, p, NULL, &ids[i]));
  carnet_txn_abort(t);
  assert_int_equal(count_live(f->r, CARNET_KIND_CUSTOMER), 0);
  ASSERT_OK(f->r, carnet_txn_begin(f->r, &t));
  for (int i = 0; i < 20; i++)
    ASSERT_OK(f->r, carnet_record_create(t, p, NULL, &ids[i]));
  ASSERT_OK(f->r, carnet_txn_commit(t));
  assert_int_equal(count_live(f->r, CARNET_KIND_CUSTOMER), 20);
  for (int i = 0; i < 20; i++) {
    carnet_record *rec = get_ok(f->r, &ids[i]);
    assert_str_field(rec, CARNET_F_NAME, "Lot");
    carnet_record_free(rec);
  }
  uint64_t seq = 0;
  ASSERT_OK(f->r, carnet_replica_get_seq(f->r, &seq));
  assert_int_equal(seq, 20); /* one sequence number per entity write */
  carnet_patch_free(p);
}

/* --- Round trip of every field kind ------------------------------------------ */

static void test_round_trip(void **state) {
  fx *f = *state;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_non_null(p);
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_TYPE, "company"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_ROLES, "customer"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_ROLES, "supplier"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NAME, "Éloïse Lefèvre"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_COMPANY, "Boulangerie Lefèvre & Fils"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_SIRET, "73282932000074"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_VAT_ID, "FR44732829320"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_STREET, "12 rue de la Paix"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_POSTCODE, "75002"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_CITY, "Paris"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_COUNTRY, "FR"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_GEO, "48.8698,2.3316"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_EMAILS, "eloise@boulangerie.fr"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_EMAILS, "compta@boulangerie.fr"));
  ASSERT_OK(NULL, carnet_patch_phone(p, "work", "01 42 68 53 00"));
  ASSERT_OK(NULL, carnet_patch_phone(p, "mobile", "06 12 34 56 78"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_TAGS, "vip"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_TAGS, "boulangerie"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_SALES_REP, "marie"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_CHANNEL, "salon"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_DISCOUNT, "550"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_CONFLICT, "true"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NOTES, "Livrer avant 7h.\nSonner deux fois ☎"));
  ASSERT_OK(NULL, carnet_patch_custom(p, "remarque", CARNET_CUSTOM_STRING, "préfère le matin"));
  ASSERT_OK(NULL, carnet_patch_custom(p, "budget", CARNET_CUSTOM_NUMBER, "1200.5"));
  ASSERT_OK(NULL, carnet_patch_custom(p, "depuis", CARNET_CUSTOM_DATE, "2024-02-29"));
  ASSERT_OK(NULL, carnet_patch_custom(p, "couleurs", CARNET_CUSTOM_LIST, "rouge|bleu"));
  ASSERT_OK(NULL, carnet_patch_custom(p, "newsletter", CARNET_CUSTOM_CHECKBOX, "true"));
  ASSERT_OK(NULL, carnet_patch_consent(p, CARNET_CH_EMAIL, true, "formulaire salon"));
  carnet_id id;
  ASSERT_OK(f->r, carnet_record_create_commit(f->r, p, &id));
  carnet_patch_free(p);

  carnet_record *rec = get_ok(f->r, &id);
  assert_int_equal(carnet_record_kind(rec), CARNET_KIND_CUSTOMER);
  assert_memory_equal(carnet_record_id(rec), &id, 16);
  assert_false(carnet_record_deleted(rec));
  assert_str_field(rec, CARNET_F_TYPE, "company");
  assert_str_field(rec, CARNET_F_NAME, "Éloïse Lefèvre");
  assert_str_field(rec, CARNET_F_COMPANY, "Boulangerie Lefèvre & Fils");
  assert_str_field(rec, CARNET_F_SIRET, "73282932000074");
  assert_str_field(rec, CARNET_F_VAT_ID, "FR44732829320");
  assert_str_field(rec, CARNET_F_STREET, "12 rue de la Paix");
  assert_str_field(rec, CARNET_F_POSTCODE, "75002");
  assert_str_field(rec, CARNET_F_CITY, "Paris");
  assert_str_field(rec, CARNET_F_COUNTRY, "FR");
  assert_str_field(rec, CARNET_F_GEO, "48.8698,2.3316");
  assert_str_field(rec, CARNET_F_SALES_REP, "marie");
  assert_str_field(rec, CARNET_F_CHANNEL, "salon");
  assert_str_field(rec, CARNET_F_DISCOUNT, "550");
  assert_str_field(rec, CARNET_F_CONFLICT, "true");
  assert_str_field(rec, CARNET_F_NOTES, "Livrer avant 7h.\nSonner deux fois ☎");
  const char *ref = carnet_record_str(rec, CARNET_F_REFCODE);
  assert_non_null(ref);
  assert_true(strlen(ref) > 0);
  const char *const roles[] = {"customer", "supplier"};
  assert_elems(rec, CARNET_F_ROLES, roles, 2);
  const char *const emails[] = {"compta@boulangerie.fr", "eloise@boulangerie.fr"};
  assert_elems(rec, CARNET_F_EMAILS, emails, 2);
  const char *const phones[] = {"mobile:+33612345678", "work:+33142685300"};
  assert_elems(rec, CARNET_F_PHONES, phones, 2);
  const char *const tags[] = {"boulangerie", "vip"};
  assert_elems(rec, CARNET_F_TAGS, tags, 2);

  const carnet_custom *cs = NULL;
  size_t nc = carnet_record_customs(rec, &cs);
  assert_int_equal(nc, 5);
  static const struct {
    const char *name;
    carnet_custom_type type;
    const char *value;
  } want[] = {{"budget", CARNET_CUSTOM_NUMBER, "1200.5"},
              {"couleurs", CARNET_CUSTOM_LIST, "rouge|bleu"},
              {"depuis", CARNET_CUSTOM_DATE, "2024-02-29"},
              {"newsletter", CARNET_CUSTOM_CHECKBOX, "true"},
              {"remarque", CARNET_CUSTOM_STRING, "préfère le matin"}};
  for (size_t i = 0; i < nc; i++) {
    assert_string_equal(cs[i].name, want[i].name);
    assert_int_equal(cs[i].type, want[i].type);
    assert_string_equal(cs[i].value, want[i].value);
  }

  /* Consent: granted on email only, every other channel OFF. */
  for (int ch = 1; ch < CARNET_CH_MAX_; ch++) {
    carnet_hlc at = 1;
    bool g = carnet_record_consent(rec, (carnet_channel)ch, &at);
    if (ch == CARNET_CH_EMAIL) {
      assert_true(g);
      assert_int_equal(at, carnet_record_updated(rec));
    } else {
      assert_false(g);
      assert_int_equal(at, 0);
    }
  }
  const carnet_consent_event *ev = NULL;
  assert_int_equal(carnet_record_consent_log(rec, &ev), 1);
  assert_int_equal(ev[0].channel, CARNET_CH_EMAIL);
  assert_true(ev[0].granted);
  assert_int_equal(ev[0].origin, carnet_replica_id(f->r));
  assert_string_equal(ev[0].note, "formulaire salon");
  carnet_hlc created = carnet_record_updated(rec);
  carnet_record_free(rec);

  /* Updates: withdraw, remove elements, replace a phone, clear fields. */
  tenv_advance_ms(&f->env, 1000);
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_consent(p, CARNET_CH_EMAIL, false, NULL));
  ASSERT_OK(NULL, carnet_patch_consent(p, CARNET_CH_SMS, true, NULL));
  ASSERT_OK(NULL, carnet_patch_remove(p, CARNET_F_TAGS, "vip"));
  ASSERT_OK(NULL, carnet_patch_remove(p, CARNET_F_EMAILS, "compta@boulangerie.fr"));
  ASSERT_OK(NULL, carnet_patch_phone_replace(p, "mobile", "+33 7 00 00 00 01"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_CITY, ""));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_GEO, NULL));
  ASSERT_OK(NULL, carnet_patch_custom(p, "budget", CARNET_CUSTOM_NUMBER, NULL));
  ASSERT_OK(f->r, carnet_record_update_commit(f->r, &id, p));
  carnet_patch_free(p);
  rec = get_ok(f->r, &id);
  assert_true(carnet_record_updated(rec) > created);
  assert_false(carnet_record_consent(rec, CARNET_CH_EMAIL, NULL));
  assert_true(carnet_record_consent(rec, CARNET_CH_SMS, NULL));
  const char *const tags2[] = {"boulangerie"};
  assert_elems(rec, CARNET_F_TAGS, tags2, 1);
  const char *const emails2[] = {"eloise@boulangerie.fr"};
  assert_elems(rec, CARNET_F_EMAILS, emails2, 1);
  const char *const phones2[] = {"mobile:+33700000001", "work:+33142685300"};
  assert_elems(rec, CARNET_F_PHONES, phones2, 2);
  assert_str_field(rec, CARNET_F_CITY, NULL);
  assert_str_field(rec, CARNET_F_GEO, NULL);
  assert_str_field(rec, CARNET_F_NAME, "Éloïse Lefèvre");
  assert_int_equal(carnet_record_customs(rec, &cs), 4);
  assert_int_equal(carnet_record_consent_log(rec, &ev), 3);
  carnet_record_free(rec);

  /* Removing a phone by number, in another format. */
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_remove(p, CARNET_F_PHONES, "01.42.68.53.00"));
  ASSERT_OK(f->r, carnet_record_update_commit(f->r, &id, p));
  carnet_patch_free(p);
  rec = get_ok(f->r, &id);
  const char *const phones3[] = {"mobile:+33700000001"};
  assert_elems(rec, CARNET_F_PHONES, phones3, 1);
  carnet_record_free(rec);
}

static void test_defaults_and_contact(void **state) {
  fx *f = *state;
  carnet_id cust;
  ASSERT_OK(f->r, create_with(f->r, CARNET_F_CITY, "Lyon", &cust));
  carnet_record *rec = get_ok(f->r, &cust);
  const char *const prospect[] = {"prospect"};
  assert_elems(rec, CARNET_F_ROLES, prospect, 1); /* default role */
  for (int ch = 1; ch < CARNET_CH_MAX_; ch++) {
    carnet_hlc at = 77;
    assert_false(carnet_record_consent(rec, (carnet_channel)ch, &at));
    assert_int_equal(at, 0);
  }
  const carnet_consent_event *ev = NULL;
  assert_int_equal(carnet_record_consent_log(rec, &ev), 0);
  const carnet_custom *cs = NULL;
  assert_int_equal(carnet_record_customs(rec, &cs), 0);
  const char *const *els = NULL;
  assert_int_equal(carnet_record_elems(rec, CARNET_F_TAGS, &els), 0);
  assert_str_field(rec, CARNET_F_NOTES, NULL);
  carnet_record_free(rec);

  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&cust, hex);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CONTACT);
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NAME, "Paul Directeur"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_ROLE, "director"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_EMAILS, "paul@exemple.fr"));
  carnet_id contact;
  ASSERT_OK(f->r, carnet_record_create_commit(f->r, p, &contact));
  carnet_patch_free(p);
  rec = get_ok(f->r, &contact);
  assert_int_equal(carnet_record_kind(rec), CARNET_KIND_CONTACT);
  assert_str_field(rec, CARNET_F_CUSTOMER, hex);
  assert_str_field(rec, CARNET_F_ROLE, "director");
  assert_str_field(rec, CARNET_F_NAME, "Paul Directeur");
  carnet_record_free(rec);

  /* A field the kind does not have is refused. */
  p = carnet_patch_new(CARNET_KIND_CONTACT);
  int rc = carnet_patch_set(p, CARNET_F_SIRET, "73282932000074");
  if (rc == 0) rc = carnet_record_update_commit(f->r, &contact, p);
  ASSERT_RC(rc, CARNET_EINVAL);
  carnet_patch_free(p);

  /* Contacts are listed per customer. */
  carnet_filter flt = {.customer = &cust};
  size_t n = 0;
  ASSERT_OK(f->r, carnet_record_list(f->r, CARNET_KIND_CONTACT, &flt, count_cb, &n));
  assert_int_equal(n, 1);
  carnet_id other;
  ASSERT_OK(f->r, create_with(f->r, CARNET_F_CITY, "Metz", &other));
  flt.customer = &other;
  n = 0;
  ASSERT_OK(f->r, carnet_record_list(f->r, CARNET_KIND_CONTACT, &flt, count_cb, &n));
  assert_int_equal(n, 0);
}

static void test_custom_validation(void **state) {
  fx *f = *state;
  static const struct {
    carnet_custom_type type;
    const char *value;
  } bad[] = {{CARNET_CUSTOM_NUMBER, "douze"},
             {CARNET_CUSTOM_DATE, "2024-13-45"},
             {CARNET_CUSTOM_DATE, "hier"},
             {CARNET_CUSTOM_CHECKBOX, "peut-être"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NAME, "Client"));
    ASSERT_OK(NULL, carnet_patch_custom(p, "champ", bad[i].type, bad[i].value));
    int rc = carnet_record_create_commit(f->r, p, NULL);
    carnet_patch_free(p);
    if (rc != CARNET_EINVAL)
      fail_msg("custom type %d value '%s': got %s, want CARNET_EINVAL", (int)bad[i].type,
               bad[i].value, carnet_error_name(rc));
    assert_errmsg_names(f->r, "champ", bad[i].value);
  }
  assert_int_equal(count_live(f->r, CARNET_KIND_CUSTOMER), 0);
}

/* --- Changes: malformed batches are refused whole ------------------------- */

static void test_apply_malformed(void **state) {
  fx *f = *state;
  /* A real batch from another replica, to truncate. */
  carnet_replica *r2 = open_peer(f, "other", 4242)->r;
  for (int i = 0; i < 5; i++)
    ASSERT_OK(r2, create_with(r2, CARNET_F_NOTES, "une note assez longue pour le lot", NULL));
  carnet_buf b = {0};
  carnet_batch_info info;
  ASSERT_OK(r2, carnet_changes_encode(r2, NULL, 0, &b, &info));
  assert_int_equal(info.entities, 5);
  assert_int_equal(info.base, 0);
  assert_int_equal(info.after, 0);
  assert_int_equal(info.upto, 5);
  assert_false(info.more);
  assert_int_equal(info.sender, carnet_replica_id(r2));

  ASSERT_OK(f->r, create_with(f->r, CARNET_F_CITY, "Lyon", NULL));
  uint8_t d0[32], d1[32];
  uint64_t seq0, seq1;
  carnet_mark mark;
  ASSERT_OK(f->r, carnet_replica_get_digest(f->r, d0));
  ASSERT_OK(f->r, carnet_replica_get_seq(f->r, &seq0));

  uint8_t garbage[512];
  trng g;
  trng_seed(&g, 11);
  trng_bytes(&g, garbage, sizeof garbage);
  const uint8_t *bb = b.base;
  struct {
    const void *p;
    size_t len;
    const char *what;
  } cases[] = {
      {garbage, sizeof garbage, "random bytes"},
      {"\x93\x01\x02", 3, "a small msgpack array"},
      {"\xc0", 1, "msgpack nil"},
      {bb, b.len / 2, "half a batch"},
      {bb, b.len - 1, "a batch minus its last byte"},
      {bb, 1, "the first byte of a batch"},
      {garbage, 0, "an empty buffer"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    uint32_t applied = 99;
    int rc = carnet_changes_apply(f->r, cases[i].p, cases[i].len, NULL, &applied);
    if (rc != CARNET_EPROTO)
      fail_msg("apply of %s: got %s, want CARNET_EPROTO", cases[i].what, carnet_error_name(rc));
    assert_true(strlen(carnet_replica_errmsg(f->r)) > 0);
    rc = carnet_changes_inspect(cases[i].p, cases[i].len, NULL);
    if (rc != CARNET_EPROTO)
      fail_msg("inspect of %s: got %s, want CARNET_EPROTO", cases[i].what, carnet_error_name(rc));
    ASSERT_OK(f->r, carnet_replica_get_digest(f->r, d1));
    assert_memory_equal(d0, d1, 32);
  }
  /* Every single-bit flip of the header bytes either is refused or applies
   * cleanly: never a crash (the sanitizer run checks memory). */
  uint8_t *copy = malloc(b.len);
  assert_non_null(copy);
  for (size_t i = 0; i < b.len && i < 64; i++) {
    memcpy(copy, b.base, b.len);
    copy[i] ^= (uint8_t)(1u << (i % 8));
    carnet_batch_info ii;
    (void)carnet_changes_inspect(copy, b.len, &ii);
  }
  free(copy);
  ASSERT_OK(f->r, carnet_replica_get_seq(f->r, &seq1));
  assert_int_equal(seq0, seq1);
  ASSERT_OK(f->r, carnet_changes_get_mark(f->r, carnet_replica_id(r2), &mark));
  assert_int_equal(mark.base, 0);
  assert_int_equal(mark.after, 0);

  /* The intact batch applies, moves the watermark, and a second time
   * changes nothing. */
  uint32_t applied = 0;
  ASSERT_OK(f->r, carnet_changes_apply(f->r, b.base, b.len, &info, &applied));
  assert_true(applied > 0);
  ASSERT_OK(f->r, carnet_changes_get_mark(f->r, carnet_replica_id(r2), &mark));
  assert_int_equal(mark.base, 5); /* the last batch of the stream */
  assert_int_equal(mark.after, 5);
  ASSERT_OK(f->r, carnet_changes_apply(f->r, b.base, b.len, &info, &applied));
  assert_int_equal(applied, 0);
  assert_int_equal(count_live(f->r, CARNET_KIND_CUSTOMER), 6);
  carnet_free((void *)b.base);

  /* Nothing after the last change: an empty batch. */
  ASSERT_OK(r2, carnet_changes_encode(r2, &mark, 0, &b, &info));
  assert_int_equal(info.entities, 0);
  assert_false(info.more);
  carnet_free((void *)b.base);
}

/* A batch that overtakes a lost one must not move the mark over the gap,
 * and an old batch never moves it back (changes.h). */
static void test_watermark_gap(void **state) {
  fx *f = *state;
  carnet_replica *r2 = open_peer(f, "sender", 5151)->r;
  for (int i = 0; i < 40; i++)
    ASSERT_OK(r2, create_with(r2, CARNET_F_NOTES, "note de trente caractères au moins", NULL));
  carnet_buf b1 = {0}, b2 = {0};
  carnet_batch_info i1, i2;
  ASSERT_OK(r2, carnet_changes_encode(r2, NULL, 1024, &b1, &i1));
  assert_true(i1.more);
  assert_true(i1.upto > 0 && i1.upto < 40);
  carnet_mark next = {0, i1.upto};
  ASSERT_OK(r2, carnet_changes_encode(r2, &next, 1024, &b2, &i2));
  assert_int_equal(i2.base, 0);
  assert_int_equal(i2.after, i1.upto);
  assert_true(i2.more); /* 40 entities do not fit in two 1 KiB batches */
  uint64_t sid = carnet_replica_id(r2);
  carnet_mark mark;
  /* The second batch first: applied, but the mark stays at the start. */
  ASSERT_OK(f->r, carnet_changes_apply(f->r, b2.base, b2.len, NULL, NULL));
  ASSERT_OK(f->r, carnet_changes_get_mark(f->r, sid, &mark));
  assert_int_equal(mark.base, 0);
  assert_int_equal(mark.after, 0);
  ASSERT_OK(f->r, carnet_changes_apply(f->r, b1.base, b1.len, NULL, NULL));
  ASSERT_OK(f->r, carnet_changes_get_mark(f->r, sid, &mark));
  assert_int_equal(mark.base, 0);
  assert_int_equal(mark.after, i1.upto);
  /* Re-applying the second batch now moves it on. */
  uint32_t applied = 99;
  ASSERT_OK(f->r, carnet_changes_apply(f->r, b2.base, b2.len, NULL, &applied));
  assert_int_equal(applied, 0); /* its cells were merged the first time */
  ASSERT_OK(f->r, carnet_changes_get_mark(f->r, sid, &mark));
  assert_int_equal(mark.base, 0);
  assert_int_equal(mark.after, i2.upto);
  /* An old batch never moves it back. */
  ASSERT_OK(f->r, carnet_changes_apply(f->r, b1.base, b1.len, NULL, NULL));
  ASSERT_OK(f->r, carnet_changes_get_mark(f->r, sid, &mark));
  assert_int_equal(mark.base, 0);
  assert_int_equal(mark.after, i2.upto);
  carnet_free((void *)b1.base);
  carnet_free((void *)b2.base);
  /* The rest of the stream; its last batch sets the mark to (upto, upto). */
  for (int guard = 0;; guard++) {
    assert_true(guard < 100);
    carnet_buf b;
    carnet_batch_info info;
    ASSERT_OK(r2, carnet_changes_encode(r2, &mark, 1024, &b, &info));
    ASSERT_OK(f->r, carnet_changes_apply(f->r, b.base, b.len, NULL, NULL));
    carnet_free((void *)b.base);
    ASSERT_OK(f->r, carnet_changes_get_mark(f->r, sid, &mark));
    if (!info.more) {
      assert_int_equal(mark.base, info.upto);
      assert_int_equal(mark.after, info.upto);
      break;
    }
    assert_int_equal(mark.after, info.upto);
  }
  uint64_t seq = 0;
  ASSERT_OK(r2, carnet_replica_get_seq(r2, &seq));
  assert_int_equal(mark.base, seq);
  assert_int_equal(count_live(f->r, CARNET_KIND_CUSTOMER), 40);
}

/* changes.h: a batch is "at most max_bytes long (one entity larger than
 * that still goes alone)". */
static void test_changes_max_bytes(void **state) {
  fx *f = *state;
  for (int i = 0; i < 40; i++)
    ASSERT_OK(f->r, create_with(f->r, CARNET_F_NOTES, "une note pour remplir un peu le lot", NULL));
  static const size_t limits[] = {600, 1024, 2048, 4096};
  for (size_t li = 0; li < sizeof limits / sizeof *limits; li++) {
    carnet_mark from = {0, 0};
    uint64_t entities = 0;
    for (int guard = 0;; guard++) {
      assert_true(guard < 1000);
      carnet_buf b;
      carnet_batch_info info;
      ASSERT_OK(f->r, carnet_changes_encode(f->r, &from, limits[li], &b, &info));
      carnet_free((void *)b.base);
      if (b.len > limits[li] && info.entities > 1)
        fail_msg("batch (%" PRIu64 ", %" PRIu64 "] of %u entities is %zu bytes, over max_bytes "
                 "%zu",
                 info.after, info.upto, info.entities, b.len, limits[li]);
      assert_true(info.entities >= 1 || !info.more);
      entities += info.entities;
      from.after = info.upto;
      if (!info.more) break;
    }
    assert_int_equal(entities, 40);
  }
}

/* Every change of `from` that `to` lacks, batch by batch, from `to`'s mark. */
static void sync_all(carnet_replica *from, carnet_replica *to, size_t max_bytes) {
  carnet_mark m = {0, 0};
  ASSERT_OK(to, carnet_changes_get_mark(to, carnet_replica_id(from), &m));
  for (int guard = 0; guard < 10000; guard++) {
    carnet_buf b;
    carnet_batch_info info;
    ASSERT_OK(from, carnet_changes_encode(from, &m, max_bytes, &b, &info));
    int rc = carnet_changes_apply(to, b.base, b.len, NULL, NULL);
    carnet_free((void *)b.base);
    ASSERT_OK(to, rc);
    m.after = info.upto;
    if (!info.more) return;
  }
  fail_msg("sync does not end");
}

/* changes.h: the digest covers "every entity, every cell with its value,
 * HLC and origin ... without local sequence numbers": two replicas holding
 * the same cells have the same digest whatever their sequence numbers. */
static void test_digest_ignores_local_seq(void **state) {
  fx *f = *state;
  carnet_replica *r2 = open_peer(f, "peer", 99)->r;
  carnet_id id;
  ASSERT_OK(f->r, create_with(f->r, CARNET_F_CITY, "Lyon", &id));
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_CITY, "Lille"));
  ASSERT_OK(f->r, carnet_record_update_commit(f->r, &id, p)); /* seq 2 here */
  carnet_patch_free(p);
  sync_all(f->r, r2, 0); /* one entity write there: seq 1 */
  uint64_t s1, s2;
  ASSERT_OK(f->r, carnet_replica_get_seq(f->r, &s1));
  ASSERT_OK(r2, carnet_replica_get_seq(r2, &s2));
  assert_int_equal(s1, 2);
  assert_int_equal(s2, 1);
  uint8_t d1[32], dd2[32], again[32];
  ASSERT_OK(f->r, carnet_replica_get_digest(f->r, d1));
  ASSERT_OK(r2, carnet_replica_get_digest(r2, dd2));
  assert_memory_equal(d1, dd2, 32);
  /* The digest changes with the state, and only with it. */
  ASSERT_OK(f->r, carnet_replica_get_digest(f->r, again));
  assert_memory_equal(d1, again, 32);
  ASSERT_OK(f->r, create_with(f->r, CARNET_F_CITY, "Brest", NULL));
  ASSERT_OK(f->r, carnet_replica_get_digest(f->r, again));
  assert_memory_not_equal(d1, again, 32);
}

/* A chain of small batches must carry every cell, including the older
 * cells of an entity whose change-index entry moved past the batch that
 * covered their sequence number. Here customer F is written at seq 1, then
 * 30 others at seq 2..31, then F's notes at seq 32: the first batches
 * (0, u] with u < 32 do not hold F, and the one that does starts after
 * seq 1, yet the receiver must end up with F's name and city. */
static void test_changes_chain_keeps_moved_entity(void **state) {
  fx *f = *state;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NAME, "Premier client"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_CITY, "Quimper"));
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_TAGS, "fidèle"));
  carnet_id first;
  ASSERT_OK(f->r, carnet_record_create_commit(f->r, p, &first));
  carnet_patch_free(p);
  for (int i = 0; i < 30; i++)
    ASSERT_OK(f->r, create_with(f->r, CARNET_F_NOTES, "une note pour grossir les lots", NULL));
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NOTES, "rappeler lundi"));
  ASSERT_OK(f->r, carnet_record_update_commit(f->r, &first, p));
  carnet_patch_free(p);

  carnet_replica *r2 = open_peer(f, "receiver", 31337)->r;
  sync_all(f->r, r2, 1024);
  carnet_record *rec = get_ok(r2, &first);
  const char *notes = carnet_record_str(rec, CARNET_F_NOTES),
             *name = carnet_record_str(rec, CARNET_F_NAME),
             *city = carnet_record_str(rec, CARNET_F_CITY),
             *ref = carnet_record_str(rec, CARNET_F_REFCODE);
  const char *const *tags = NULL;
  size_t ntags = carnet_record_elems(rec, CARNET_F_TAGS, &tags);
  bool ok = notes && strcmp(notes, "rappeler lundi") == 0 && name &&
            strcmp(name, "Premier client") == 0 && city && strcmp(city, "Quimper") == 0 && ref &&
            ntags == 1 && strcmp(tags[0], "fidèle") == 0;
  char detail[512];
  snprintf(detail, sizeof detail,
           "after a chain of 1024-byte batches the receiver has notes=%s name=%s city=%s ref=%s "
           "tags=%zu (want rappeler lundi / Premier client / Quimper / a code / 1): the cells "
           "written at seq 1 never travelled",
           notes ? notes : "(unset)", name ? name : "(unset)", city ? city : "(unset)",
           ref ? ref : "(unset)", ntags);
  carnet_record_free(rec);
  if (!ok) fail_msg("%s", detail);
  /* The same in one big batch, for comparison: the states must agree. */
  carnet_replica *r3 = open_peer(f, "receiver-big", 4444)->r;
  sync_all(f->r, r3, 0);
  uint8_t a[32], b[32], c[32];
  ASSERT_OK(f->r, carnet_replica_get_digest(f->r, a));
  ASSERT_OK(r2, carnet_replica_get_digest(r2, b));
  ASSERT_OK(r3, carnet_replica_get_digest(r3, c));
  assert_memory_equal(a, c, 32);
  assert_memory_equal(a, b, 32);
}

/* Consent through the public API (consent.h rule): C withdraws email
 * consent; A, having received the withdrawal, records a new grant; B, which
 * never saw the withdrawal, records a grant later still. A's grant saw
 * every withdrawal, so the channel is granted, on every replica. */
static void test_consent_informed_regrant(void **state) {
  fx *f = *state; /* f->r is A */
  peer *pb = open_peer(f, "B", 202), *pc = open_peer(f, "C", 303);
  carnet_replica *b = pb->r, *c = pc->r;
  carnet_id id;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NAME, "Client consentant"));
  ASSERT_OK(NULL, carnet_patch_consent(p, CARNET_CH_EMAIL, true, "formulaire"));
  ASSERT_OK(f->r, carnet_record_create_commit(f->r, p, &id));
  carnet_patch_free(p);
  sync_all(f->r, b, 0);
  sync_all(f->r, c, 0);

  tenv_set_ms(&pc->env, TENV_EPOCH_MS + 1000);
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_consent(p, CARNET_CH_EMAIL, false, "désinscription"));
  ASSERT_OK(c, carnet_record_update_commit(c, &id, p));
  carnet_patch_free(p);
  sync_all(c, f->r, 0);

  tenv_set_ms(&f->env, TENV_EPOCH_MS + 2000);
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_consent(p, CARNET_CH_EMAIL, true, "nouvel accord signé"));
  ASSERT_OK(f->r, carnet_record_update_commit(f->r, &id, p));
  carnet_patch_free(p);
  carnet_record *rec = get_ok(f->r, &id);
  assert_true(carnet_record_consent(rec, CARNET_CH_EMAIL, NULL));
  carnet_record_free(rec);

  tenv_set_ms(&pb->env, TENV_EPOCH_MS + 3000);
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_consent(p, CARNET_CH_EMAIL, true, "salon"));
  ASSERT_OK(b, carnet_record_update_commit(b, &id, p));
  carnet_patch_free(p);

  carnet_replica *all[3] = {f->r, b, c};
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 3; j++)
        if (i != j) sync_all(all[i], all[j], 0);
  for (int i = 0; i < 3; i++) {
    rec = get_ok(all[i], &id);
    const carnet_consent_event *ev = NULL;
    assert_int_equal(carnet_record_consent_log(rec, &ev), 4);
    if (!carnet_record_consent(rec, CARNET_CH_EMAIL, NULL))
      fail_msg("replica %c: email consent refused, but A's grant had seen the only withdrawal",
               "ABC"[i]);
    carnet_record_free(rec);
  }
}

/* --- Reference codes ---------------------------------------------------------- */

typedef struct codes {
  char **v;
  size_t n;
} codes;

static int collect_code(const carnet_record *rec, void *data) {
  codes *c = data;
  const char *ref = carnet_record_str(rec, CARNET_F_REFCODE);
  assert_non_null(ref);
  c->v[c->n++] = strdup(ref);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_refcodes_distinct(void **state) {
  fx *f = *state;
  peer *p2 = open_peer(f, "second", 777);
  carnet_replica *r2 = p2->r;
  assert_string_not_equal(carnet_replica_tag(f->r), carnet_replica_tag(r2));
  carnet_replica *rs[2] = {f->r, r2};
  tenv *envs[2] = {&f->env, &p2->env};
  for (int k = 0; k < 2; k++) {
    carnet_txn *t = NULL;
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NAME, "Client"));
    for (int i = 0; i < 200; i++) {
      tenv_advance_ms(envs[k], 1);
      if (i % 50 == 0) ASSERT_OK(rs[k], carnet_txn_begin(rs[k], &t));
      ASSERT_OK(rs[k], carnet_record_create(t, p, NULL, NULL));
      if (i % 50 == 49) ASSERT_OK(rs[k], carnet_txn_commit(t));
    }
    carnet_patch_free(p);
  }
  /* Sync r2 into r1 so one list holds all 400. */
  carnet_mark from = {0, 0};
  for (;;) {
    carnet_buf b;
    carnet_batch_info info;
    ASSERT_OK(r2, carnet_changes_encode(r2, &from, 16384, &b, &info));
    ASSERT_OK(f->r, carnet_changes_apply(f->r, b.base, b.len, NULL, NULL));
    carnet_free((void *)b.base);
    from.after = info.upto;
    if (!info.more) break;
  }
  codes c = {.v = calloc(400, sizeof(char *)), .n = 0};
  assert_non_null(c.v);
  ASSERT_OK(f->r, carnet_record_list(f->r, CARNET_KIND_CUSTOMER, NULL, collect_code, &c));
  assert_int_equal(c.n, 400);
  qsort(c.v, c.n, sizeof *c.v, cmp_str);
  for (size_t i = 0; i < c.n; i++) {
    assert_true(strlen(c.v[i]) > 0);
    if (i > 0 && strcmp(c.v[i - 1], c.v[i]) == 0) fail_msg("reference code %s given twice", c.v[i]);
  }
  /* Each replica's tag is in the codes it hands out (replica.h). */
  size_t with_tag[2] = {0, 0};
  for (size_t i = 0; i < c.n; i++) {
    with_tag[0] += strstr(c.v[i], carnet_replica_tag(f->r)) != NULL;
    with_tag[1] += strstr(c.v[i], carnet_replica_tag(r2)) != NULL;
  }
  assert_true(with_tag[0] >= 200 && with_tag[1] >= 200);
  for (size_t i = 0; i < c.n; i++)
    free(c.v[i]);
  free(c.v);
}

/* The reference code of customer `id`, into `out`. */
static void refcode_of(fx *f, const carnet_id *id, char out[64]) {
  carnet_record *rec = get_ok(f->r, id);
  snprintf(out, 64, "%s", carnet_record_str(rec, CARNET_F_REFCODE));
  carnet_record_free(rec);
}

/* The transaction keeps the reference code's counter and puts it at commit
 * (engine/crm/refcode.c): it counts on across transactions, starts again
 * when the month changes inside a transaction (both months' counters
 * stored), and an aborted transaction hands out nothing. */
static void test_refcode_counter(void **state) {
  fx *f = *state;
  char want[64], got[64];
  const char *tag = carnet_replica_tag(f->r);
  carnet_id ids[9];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NAME, "Client"));
  tenv_set_ms(&f->env, 1711929599000ull); /* 2024-03-31T23:59:59Z */
  carnet_txn *t = NULL;
  ASSERT_OK(f->r, carnet_txn_begin(f->r, &t));
  for (int i = 0; i < 5; i++) {
    if (i == 3) tenv_advance_ms(&f->env, 2000); /* April */
    ASSERT_OK(f->r, carnet_record_create(t, p, NULL, &ids[i]));
  }
  ASSERT_OK(f->r, carnet_txn_commit(t));
  ASSERT_OK(f->r, carnet_txn_begin(f->r, &t));
  ASSERT_OK(f->r, carnet_record_create(t, p, NULL, &ids[5]));
  carnet_txn_abort(t);
  ASSERT_OK(f->r, carnet_txn_begin(f->r, &t));
  ASSERT_OK(f->r, carnet_record_create(t, p, NULL, &ids[6]));
  ASSERT_OK(f->r, carnet_txn_commit(t));
  ASSERT_OK(f->r, carnet_record_create_commit(f->r, p, &ids[7]));
  tenv_set_ms(&f->env, 1711929599500ull); /* March again: its counter was stored */
  ASSERT_OK(f->r, carnet_record_create_commit(f->r, p, &ids[8]));
  carnet_patch_free(p);
  static const char *const want_of[] = {"CU2403-%s-0001", "CU2403-%s-0002", "CU2403-%s-0003",
                                        "CU2404-%s-0001", "CU2404-%s-0002", NULL,
                                        "CU2404-%s-0003", "CU2404-%s-0004", "CU2403-%s-0004"};
  for (int i = 0; i < 9; i++) {
    if (want_of[i] == NULL) continue;
    snprintf(want, sizeof want, want_of[i], tag);
    refcode_of(f, &ids[i], got);
    assert_string_equal(got, want);
  }
}

/* --- Listing ------------------------------------------------------------------- */

typedef struct names {
  char buf[512];
  carnet_id last;
  bool ordered;
  size_t n;
} names;

static int collect_name(const carnet_record *rec, void *data) {
  names *nm = data;
  if (nm->n && memcmp(&nm->last, carnet_record_id(rec), 16) >= 0) nm->ordered = false;
  nm->last = *carnet_record_id(rec);
  const char *n = carnet_record_str(rec, CARNET_F_NAME);
  if (nm->n) strncat(nm->buf, ",", sizeof nm->buf - strlen(nm->buf) - 1);
  strncat(nm->buf, n ? n : "?", sizeof nm->buf - strlen(nm->buf) - 1);
  nm->n++;
  return 0;
}

static void list_expect(carnet_replica *r, const carnet_filter *flt, const char *want) {
  names nm = {.ordered = true};
  ASSERT_OK(r, carnet_record_list(r, CARNET_KIND_CUSTOMER, flt, collect_name, &nm));
  if (strcmp(nm.buf, want) != 0)
    fail_msg("list filter (text=%s tag=%s role=%s rep=%s deleted=%d): got [%s], want [%s]",
             flt && flt->text ? flt->text : "-", flt && flt->tag ? flt->tag : "-",
             flt && flt->role ? flt->role : "-", flt && flt->sales_rep ? flt->sales_rep : "-",
             flt ? (int)flt->include_deleted : 0, nm.buf, want);
  assert_true(nm.ordered);
}

static int stop_at_two(const carnet_record *rec, void *data) {
  (void)rec;
  return ++*(int *)data == 2 ? 7 : 0;
}

static carnet_id make(fx *f, const char *name, const char *city, const char *tag, const char *role,
                      const char *rep, const char *email, const char *phone) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NAME, name));
  if (city) ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_CITY, city));
  if (tag) ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_TAGS, tag));
  if (role) ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_ROLES, role));
  if (rep) ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_SALES_REP, rep));
  if (email) ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_EMAILS, email));
  if (phone) ASSERT_OK(NULL, carnet_patch_phone(p, "mobile", phone));
  carnet_id id;
  tenv_advance_ms(&f->env, 10); /* ids sort by creation */
  ASSERT_OK(f->r, carnet_record_create_commit(f->r, p, &id));
  carnet_patch_free(p);
  return id;
}

static void test_list_filters(void **state) {
  fx *f = *state;
  make(f, "Alice Martin", "Lyon", "vip", "customer", "marie", NULL, NULL);
  make(f, "Bob Durand", "Paris", "b2b", NULL, "paul", NULL, "06 11 22 33 44");
  make(f, "Chloé Petit", "Lille", NULL, "supplier", NULL, "chloe@exemple.fr", NULL);
  carnet_id d = make(f, "Alice Supprimée", "Lyon", "vip", "customer", "marie", NULL, NULL);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_delete(p));
  ASSERT_OK(f->r, carnet_record_update_commit(f->r, &d, p));
  carnet_patch_free(p);

  list_expect(f->r, NULL, "Alice Martin,Bob Durand,Chloé Petit");
  list_expect(f->r, &(carnet_filter){.include_deleted = true},
              "Alice Martin,Bob Durand,Chloé Petit,Alice Supprimée");
  list_expect(f->r, &(carnet_filter){.text = "alice"}, "Alice Martin");
  list_expect(f->r, &(carnet_filter){.text = "ALICE", .include_deleted = true},
              "Alice Martin,Alice Supprimée");
  list_expect(f->r, &(carnet_filter){.text = "lyon"}, "Alice Martin");
  list_expect(f->r, &(carnet_filter){.text = "EXEMPLE.fr"}, "Chloé Petit");
  list_expect(f->r, &(carnet_filter){.text = "611223344"}, "Bob Durand");
  list_expect(f->r, &(carnet_filter){.text = "personne"}, "");
  list_expect(f->r, &(carnet_filter){.tag = "vip"}, "Alice Martin");
  list_expect(f->r, &(carnet_filter){.tag = "b2b"}, "Bob Durand");
  list_expect(f->r, &(carnet_filter){.role = "prospect"}, "Bob Durand");
  list_expect(f->r, &(carnet_filter){.role = "customer"}, "Alice Martin");
  list_expect(f->r, &(carnet_filter){.role = "supplier"}, "Chloé Petit");
  list_expect(f->r, &(carnet_filter){.sales_rep = "marie"}, "Alice Martin");
  list_expect(f->r, &(carnet_filter){.sales_rep = "mar"}, ""); /* exact */
  list_expect(f->r, &(carnet_filter){.text = "a", .tag = "vip", .sales_rep = "marie"},
              "Alice Martin");
  list_expect(f->r, &(carnet_filter){.tag = "vip", .role = "supplier"}, "");
  /* The callback's non-zero return stops the walk and is returned. */
  int calls = 0;
  ASSERT_RC(carnet_record_list(f->r, CARNET_KIND_CUSTOMER, NULL, stop_at_two, &calls), 7);
  assert_int_equal(calls, 2);
  size_t n = 0;
  ASSERT_OK(f->r, carnet_record_list(f->r, CARNET_KIND_CONTACT, NULL, count_cb, &n));
  assert_int_equal(n, 0);
}

/* --- Resolving references --------------------------------------------------- */

static void test_resolve(void **state) {
  fx *f = *state;
  carnet_id a = make(f, "Alice", NULL, NULL, NULL, NULL, NULL, NULL);
  carnet_id b = make(f, "Bob", NULL, NULL, NULL, NULL, NULL, NULL);
  carnet_record *rec = get_ok(f->r, &a);
  char *ref = strdup(carnet_record_str(rec, CARNET_F_REFCODE));
  carnet_record_free(rec);
  carnet_id out;
  ASSERT_OK(f->r, carnet_record_resolve(f->r, CARNET_KIND_CUSTOMER, ref, &out));
  assert_memory_equal(&out, &a, 16);
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&b, hex);
  ASSERT_OK(f->r, carnet_record_resolve(f->r, CARNET_KIND_CUSTOMER, hex, &out));
  assert_memory_equal(&out, &b, 16);
  /* A unique prefix: the whole id minus its last characters is unique. */
  char prefix[CARNET_ID_HEX_LEN + 1];
  snprintf(prefix, sizeof prefix, "%.28s", hex);
  ASSERT_OK(f->r, carnet_record_resolve(f->r, CARNET_KIND_CUSTOMER, prefix, &out));
  assert_memory_equal(&out, &b, 16);
  ASSERT_RC(carnet_record_resolve(f->r, CARNET_KIND_CUSTOMER, "inconnu-0000", &out),
            CARNET_ENOTFOUND);
  assert_true(strlen(carnet_replica_errmsg(f->r)) > 0);
  ASSERT_RC(carnet_record_resolve(f->r, CARNET_KIND_CUSTOMER, "ffffffffffff", &out),
            CARNET_ENOTFOUND);
  /* Another kind does not resolve. */
  ASSERT_RC(carnet_record_resolve(f->r, CARNET_KIND_CONTACT, hex, &out), CARNET_ENOTFOUND);

  /* Two ids with a long common prefix: that prefix is ambiguous, one more
   * character is not. */
  carnet_id x, y;
  ASSERT_OK(NULL, carnet_id_parse("abcdef0123450000000000000000000a", &x));
  ASSERT_OK(NULL, carnet_id_parse("abcdef0123451111111111111111111b", &y));
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(NULL, carnet_patch_set(p, CARNET_F_NAME, "X"));
  carnet_txn *t = NULL;
  ASSERT_OK(f->r, carnet_txn_begin(f->r, &t));
  ASSERT_OK(f->r, carnet_record_create(t, p, &x, NULL));
  ASSERT_OK(f->r, carnet_record_create(t, p, &y, NULL));
  ASSERT_OK(f->r, carnet_txn_commit(t));
  carnet_patch_free(p);
  ASSERT_RC(carnet_record_resolve(f->r, CARNET_KIND_CUSTOMER, "abcdef012345", &out),
            CARNET_EAMBIGUOUS);
  ASSERT_OK(f->r, carnet_record_resolve(f->r, CARNET_KIND_CUSTOMER, "abcdef0123451", &out));
  assert_memory_equal(&out, &y, 16);
  ASSERT_OK(f->r, carnet_record_resolve(f->r, CARNET_KIND_CUSTOMER, "abcdef0123450", &out));
  assert_memory_equal(&out, &x, 16);
  free(ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_names),
      FX_TEST(test_invalid_emails),
      FX_TEST(test_siret),
      FX_TEST(test_phone_normalize),
      cmocka_unit_test(test_field_catalogue),
      cmocka_unit_test(test_id_hex),
      FX_TEST(test_open_missing),
      FX_TEST(test_init_twice),
      FX_TEST(test_open_newer_schema),
      FX_TEST(test_open_not_a_replica),
      FX_TEST(test_identity),
      FX_TEST(test_deterministic_env),
      FX_TEST(test_update_missing),
      FX_TEST(test_txn_misuse),
      FX_TEST(test_txn_sticky),
      FX_TEST(test_txn_commit_abort),
      FX_TEST(test_round_trip),
      FX_TEST(test_defaults_and_contact),
      FX_TEST(test_custom_validation),
      FX_TEST(test_apply_malformed),
      FX_TEST(test_watermark_gap),
      FX_TEST(test_changes_max_bytes),
      FX_TEST(test_digest_ignores_local_seq),
      FX_TEST(test_changes_chain_keeps_moved_entity),
      FX_TEST(test_consent_informed_regrant),
      FX_TEST(test_refcodes_distinct),
      FX_TEST(test_refcode_counter),
      FX_TEST(test_list_filters),
      FX_TEST(test_resolve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
