/* tests/engine/test_store_pages.c - the page reader of `carnet salvage`
 * (engine/store/store_pages.h) against LMDB itself: on a replica of a few
 * thousand customers (trees three levels deep, rows large enough for
 * overflow pages), every table walked page by page holds exactly the
 * entries LMDB's cursor gives, in the same order; a file with damaged
 * pages is walked to the end, the damage reported, the other entries
 * whole. And carnet_replica_salvage (engine/top/salvage.c) on files damaged at
 * random, in any table, meta pages included: it never crashes, and when it
 * makes a replica, that replica is sound and holds only records of the
 * original. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>
#include <sys/stat.h>

#include "carnet/carnet.h"
#include "carnet/error.h"
#include "engine/store/store_pages.h"
#include "support/replicas.h"

#define OK ASSERT_OK

static const char *const tables[] = {"meta",  "entities", "changes", "marks",  "index",
                                     "peers", "invites",  "certs",   "erased", "oppose"};

typedef struct entries {
  uint8_t **k, **v;
  size_t *kl, *vl;
  size_t n, cap;
  unsigned long bad;
} entries;

static int collect(void *ctx, const void *k, size_t klen, const void *v, size_t vlen) {
  entries *e = ctx;
  if (e->n == e->cap) {
    e->cap = e->cap ? 2 * e->cap : 256;
    e->k = realloc(e->k, e->cap * sizeof *e->k);
    e->v = realloc(e->v, e->cap * sizeof *e->v);
    e->kl = realloc(e->kl, e->cap * sizeof *e->kl);
    e->vl = realloc(e->vl, e->cap * sizeof *e->vl);
  }
  e->k[e->n] = malloc(klen + 1);
  e->v[e->n] = malloc(vlen + 1);
  memcpy(e->k[e->n], k, klen);
  memcpy(e->v[e->n], v, vlen);
  e->kl[e->n] = klen;
  e->vl[e->n] = vlen;
  e->n++;
  return 0;
}

static void bad(void *ctx, uint64_t pgno, const char *what, int line) {
  entries *e = ctx;
  (void)pgno, (void)what, (void)line;
  e->bad++;
}

static void entries_free(entries *e) {
  for (size_t i = 0; i < e->n; i++)
    free(e->k[i]), free(e->v[i]);
  free(e->k), free(e->v), free(e->kl), free(e->vl);
  memset(e, 0, sizeof *e);
}

/* The entries of table `name` as LMDB reads them. */
static void lmdb_entries(const char *dir, const char *name, entries *out) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  MDB_cursor *cur;
  MDB_val k, v;
  assert_int_equal(mdb_env_create(&env), 0);
  assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
  assert_int_equal(mdb_env_set_mapsize(env, (size_t)1 << 36), 0);
  assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600), 0);
  assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
  assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
  for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    collect(out, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  mdb_env_close(env);
}

static void build(carnet_replica *r) {
  char name[64], notes[3000];
  carnet_txn *t;
  OK(r, carnet_txn_begin(r, &t));
  for (unsigned i = 0; i < 4000; i++) {
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    snprintf(name, sizeof name, "Client %05u", i);
    OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
    snprintf(name, sizeof name, "client%u@exemple.fr", i);
    OK(r, carnet_patch_set(p, CARNET_F_EMAILS, name));
    if (i % 100 == 0) { /* a row past a page: overflow pages */
      memset(notes, 'a' + (int)(i % 26), sizeof notes - 1);
      notes[sizeof notes - 1] = '\0';
      OK(r, carnet_patch_set(p, CARNET_F_NOTES, notes));
    }
    OK(r, carnet_record_create(t, p, NULL, NULL));
    carnet_patch_free(p);
  }
  OK(r, carnet_txn_commit(t));
}

static void test_same_entries_as_lmdb(void **state) {
  (void)state;
  rfx *f = rfx_new("pages", 1, TENV_EPOCH_MS, 3);
  build(f->r[0]);
  carnet_replica_close(f->r[0]);
  f->r[0] = NULL;
  char *path = tdir_join(f->dir[0], "data.mdb"), why[256];
  carnet__pages *p = NULL;
  assert_int_equal(carnet__pages_open(path, &p, why, sizeof why), 0);
  size_t total = 0;
  for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
    entries a = {0}, b = {0};
    lmdb_entries(f->dir[0], tables[t], &a);
    int rc = carnet__pages_walk(p, tables[t], collect, bad, &b);
    assert_true(rc == 0 || (rc == CARNET_ENOTFOUND && a.n == 0));
    assert_int_equal(b.bad, 0);
    if (a.n != b.n) fail_msg("table %s: LMDB reads %zu entries, the walk %zu", tables[t], a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
      assert_int_equal(a.kl[i], b.kl[i]);
      assert_memory_equal(a.k[i], b.k[i], a.kl[i]);
      assert_int_equal(a.vl[i], b.vl[i]);
      assert_memory_equal(a.v[i], b.v[i], a.vl[i]);
    }
    total += a.n;
    entries_free(&a);
    entries_free(&b);
  }
  assert_true(total > 4000 * 3);
  assert_int_equal(carnet__pages_walk(p, "no such table", collect, bad, NULL), CARNET_ENOTFOUND);
  carnet__pages_close(p);

  /* Damaged pages: one leaf page in five scrambled (the tree above them
   * whole). The walk ends, reports them, and what it hands over is what
   * LMDB had, all of what the other leaves hold. */
  FILE *fp = fopen(path, "rb");
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)n);
  assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
  fclose(fp);
  entries good = {0};
  lmdb_entries(f->dir[0], "entities", &good);
  unsigned leaves = 0;
  for (long pg = 2; (pg + 1) * 4096 <= n; pg++) {
    uint16_t flags;
    memcpy(&flags, buf + pg * 4096 + 10, 2);
    if (flags == 0x02 && leaves++ % 5 == 0) memset(buf + pg * 4096 + 8, 0xee, 64);
  }
  assert_int_equal(carnet__pages_from_buffer(buf, (size_t)n, &p, why, sizeof why), 0);
  entries got = {0};
  int rc = carnet__pages_walk(p, "entities", collect, bad, &got);
  assert_true(rc == 0 || rc == CARNET_ENOTFOUND);
  assert_true(got.bad > 0);
  assert_true(got.n < good.n);
  assert_true(got.n > good.n / 2);
  for (size_t i = 0; i < got.n; i++) { /* each one is one LMDB had */
    bool seen = false;
    for (size_t j = 0; j < good.n && !seen; j++)
      seen = good.kl[j] == got.kl[i] && memcmp(good.k[j], got.k[i], got.kl[i]) == 0 &&
             good.vl[j] == got.vl[i] && memcmp(good.v[j], got.v[i], got.vl[i]) == 0;
    assert_true(seen);
  }
  printf("# %zu of %zu rows reached past %lu damaged pages\n", got.n, good.n, got.bad);
  carnet__pages_close(p);
  entries_free(&got);
  entries_free(&good);
  /* Not an LMDB file. */
  memset(buf, 0, (size_t)n);
  assert_int_equal(carnet__pages_from_buffer(buf, (size_t)n, &p, why, sizeof why), CARNET_ECORRUPT);
  assert_non_null(strstr(why, "no valid meta page"));
  free(buf);
  free(path);
  rfx_free(f);
}

static void copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  assert_non_null(a);
  assert_non_null(b);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, a)) > 0)
    assert_int_equal(fwrite(buf, 1, n, b), n);
  fclose(a);
  assert_int_equal(fclose(b), 0);
}

static int count_cb(const carnet_record *rec, void *data) {
  (void)rec;
  (*(size_t *)data)++;
  return 0;
}

static void test_salvage_any_damage(void **state) {
  (void)state;
  rfx *f = rfx_new("salvage", 1, TENV_EPOCH_MS, 4);
  build(f->r[0]);
  carnet_replica_close(f->r[0]);
  f->r[0] = NULL;
  char *data = tdir_join(f->dir[0], "data.mdb"), *key = tdir_join(f->dir[0], "carnet.key");
  carnet_env ce;
  tenv_fill(&f->env[0], &ce);
  uint64_t rng = 12345;
  unsigned made = 0;
  for (int round = 0; round < 12; round++) {
    char name[32];
    snprintf(name, sizeof name, "damaged%d", round);
    char *src = tdir_join(f->root, name);
    snprintf(name, sizeof name, "rescued%d", round);
    char *dst = tdir_join(f->root, name);
    assert_int_equal(mkdir(src, 0700), 0);
    char *sdata = tdir_join(src, "data.mdb"), *skey = tdir_join(src, "carnet.key");
    copy_file(data, sdata);
    copy_file(key, skey);
    assert_int_equal(chmod(skey, 0600), 0);
    FILE *fp = fopen(sdata, "r+b");
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    /* Random bytes over random pages: from 1 to 40 of them, the meta pages
     * too from round 8 on. */
    unsigned pages = 1 + (unsigned)(tsplitmix64(&rng) % 40);
    for (unsigned i = 0; i < pages; i++) {
      long first = round >= 8 ? 0 : 2;
      long pg = first + (long)(tsplitmix64(&rng) % (uint64_t)(n / 4096 - first));
      long at = pg * 4096 + (long)(tsplitmix64(&rng) % 4000);
      uint8_t junk[64];
      for (size_t j = 0; j < sizeof junk; j++)
        junk[j] = (uint8_t)tsplitmix64(&rng);
      fseek(fp, at, SEEK_SET);
      fwrite(junk, 1, sizeof junk, fp);
    }
    fclose(fp);
    carnet_salvage_report rep = CARNET_SALVAGE_REPORT_INIT;
    char err[512] = "";
    int rc = carnet_replica_salvage(src, dst, &ce, NULL, NULL, &rep, err, sizeof err);
    if (rc) {
      if (rc != CARNET_ECORRUPT && rc != CARNET_EKEY)
        fail_msg("round %d: %s: %s", round, carnet_error_name(rc), err);
      assert_true(err[0] != '\0');
    } else {
      carnet_replica *r = NULL;
      made++;
      if (carnet_replica_open(dst, &ce, &r, err, sizeof err)) fail_msg("open: %s", err);
      carnet_check_report c = CARNET_CHECK_REPORT_INIT;
      ASSERT_OK(r, carnet_replica_check(r, NULL, NULL, &c));
      assert_int_equal(c.bad_rows + c.erased_rows + c.bad_changes + c.missing_keys + c.extra_keys +
                           c.bad_values,
                       0);
      size_t live = 0;
      ASSERT_OK(r, carnet_record_list(r, CARNET_KIND_CUSTOMER, NULL, count_cb, &live));
      assert_int_equal(live, rep.copied);
      assert_true(rep.copied <= 4000);
      carnet_replica_close(r);
    }
    free(sdata), free(skey), free(src), free(dst);
  }
  printf("# %u of 12 damaged files salvaged into a sound replica\n", made);
  assert_true(made >= 6);
  free(data);
  free(key);
  rfx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_entries_as_lmdb),
      cmocka_unit_test(test_salvage_any_damage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
