/* tests/engine/test_alloc.c - carnet_allocator_set and carnet_free.
 *
 * The process installs a tagging allocator before its first carnet call:
 * every block carries a header with a magic number, so a block the library
 * made with its allocator and released with the C library's free() (or a
 * block from the C library released through carnet_free) aborts the test
 * at once, under any build. A workload that touches most of the library
 * (writes, reads, documents, duplicates, merges, sync batches, erasure, a
 * second replica, verify) must end with no block alive, every block handed
 * to the caller released with carnet_free, and the allocator used for all
 * of it. The setting is frozen once the library has allocated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "support/tagalloc.h"
#include "support/testenv.h"

#define OK(r, call)                                                                                \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_) fail_msg("%s: %s: %s", #call, carnet_error_name(rc_), carnet_replica_errmsg(r));      \
  } while (0)

static carnet_id add_customer(carnet_replica *r, const char *name, const char *email,
                              const char *phone) {
  carnet_id id;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_non_null(p);
  OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  OK(r, carnet_patch_set(p, CARNET_F_EMAILS, email));
  OK(r, carnet_patch_phone(p, "mobile", phone));
  OK(r, carnet_patch_set(p, CARNET_F_CITY, "Lyon"));
  OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

static int count_cb(const carnet_record *rec, void *data) {
  (void)rec;
  (*(int *)data)++;
  return 0;
}

static void test_workload_releases_everything(void **state) {
  (void)state;
  char *root = tdir_new("alloc"), *d1 = tdir_join(root, "a"), *d2 = tdir_join(root, "b");
  tenv e1, e2;
  carnet_env c1, c2;
  carnet_replica *r1 = NULL, *r2 = NULL;
  char err[256];
  tenv_init(&e1, TENV_EPOCH_MS, 1);
  tenv_init(&e2, TENV_EPOCH_MS, 2);
  tenv_fill(&e1, &c1);
  tenv_fill(&e2, &c2);
  long before = tagalloc_calls();
  assert_int_equal(carnet_replica_init(d1, &c1, &r1, err, sizeof err), 0);
  assert_int_equal(carnet_replica_init(d2, &c2, &r2, err, sizeof err), 0);
  assert_true(tagalloc_calls() > before); /* the library does allocate through it */

  carnet_id a = add_customer(r1, "Jean Dupont", "jean@dupont.fr", "06 12 34 56 78");
  carnet_id b = add_customer(r1, "DUPONT Jean", "jean@dupont.fr", "+33 6 12 34 56 78");
  add_customer(r1, "Hélène Müller", "helene@muller.de", "07 82 35 61 55");

  carnet_record *rec = NULL;
  OK(r1, carnet_record_get(r1, &a, &rec));
  assert_string_equal(carnet_record_str(rec, CARNET_F_NAME), "Jean Dupont");
  carnet_record_free(rec);
  int n = 0;
  OK(r1, carnet_record_list(r1, CARNET_KIND_CUSTOMER, NULL, count_cb, &n));
  assert_int_equal(n, 3);

  /* Duplicates: an array for the caller, released with carnet_free. */
  carnet_dupe *d = NULL;
  size_t nd = 0;
  OK(r1, carnet_dupes_find(r1, CARNET_DUPE_SCORE_DEFAULT, &d, &nd));
  assert_true(nd >= 1);
  carnet_free(d);
  carnet_txn *t;
  OK(r1, carnet_txn_begin(r1, &t));
  OK(r1, carnet_dupes_set_aside(t, &a, &b));
  OK(r1, carnet_txn_commit(t));
  carnet_review_item *it = NULL;
  size_t ni = 0;
  OK(r1, carnet_dupes_review_list(r1, &it, &ni));
  assert_int_equal(ni, 1);
  carnet_free(it);
  OK(r1, carnet_txn_begin(r1, &t));
  OK(r1, carnet_merge_apply(t, &a, &b));
  OK(r1, carnet_txn_commit(t));

  /* A document with lines, validated. */
  char hex[CARNET_ID_HEX_LEN + 1], number[CARNET_NUMBER_MAX];
  carnet_id doc;
  carnet_id_format(&a, hex);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  OK(r1, carnet_patch_set(p, CARNET_F_DOC_TYPE, "invoice"));
  OK(r1, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
  OK(r1, carnet_txn_begin(r1, &t));
  OK(r1, carnet_record_create(t, p, NULL, &doc));
  carnet_line_input li = {.set = CARNET_LINE_LABEL | CARNET_LINE_QTY | CARNET_LINE_PRICE |
                                 CARNET_LINE_VAT,
                          .label = "Pose",
                          .qty = 2000,
                          .unit_price = 4550,
                          .vat_bp = 2000};
  OK(r1, carnet_doc_line_add(t, &doc, &li, NULL, NULL));
  OK(r1, carnet_doc_validate(t, &doc, number, sizeof number));
  OK(r1, carnet_txn_commit(t));
  carnet_patch_free(p);

  /* Sync by batches: bytes for the caller, released with carnet_free. */
  carnet_mark m = {0, 0};
  for (int guard = 0; guard < 100; guard++) {
    carnet_buf out = {0};
    carnet_batch_info info;
    OK(r1, carnet_changes_encode(r1, &m, 4096, &out, &info));
    OK(r2, carnet_changes_apply(r2, out.base, out.len, NULL, NULL));
    carnet_free((void *)out.base);
    if (!info.more) break;
    m.after = info.upto;
  }
  uint8_t h1[32], h2[32];
  OK(r1, carnet_replica_get_digest(r1, h1));
  OK(r2, carnet_replica_get_digest(r2, h2));
  assert_memory_equal(h1, h2, 32);

  /* Erasure, then a full check. */
  bool compacted = false;
  carnet_id c3 = add_customer(r2, "Paul Martin", "paul@martin.fr", "01 40 00 00 01");
  OK(r2, carnet_record_erase(r2, &c3, "asked by the person", NULL, &compacted));
  carnet_verify_report vr;
  OK(r2, carnet_replica_verify(r2, &vr));
  assert_int_equal(vr.bad_rows + vr.bad_changes + vr.missing_keys, 0);

  carnet_replica_close(r1);
  carnet_replica_close(r2);
  assert_int_equal(tagalloc_live(), 0); /* every block made is released, by the allocator */
  tdir_remove(root);
  free(d1);
  free(d2);
  free(root);
}

/* --- Out of memory at every allocation (STYLE 17) --------------------------

   Each call below runs with its Nth allocation refused, N = 0, 1, 2... until
   it succeeds (TAGALLOC_SWEEP): after each refusal no block is left alive,
   and for a write the replica's digest is what it was (nothing half
   written). The calls: open, create, update, validate, get, list, dupes,
   verify, search, a whole sync, apply one batch, a handshake, merge, erase,
   and the import of a small CSV file. A warm-up call first fills the replica's caches, so that a
   refused call is not blamed for blocks a cache keeps. */

typedef struct sweep_fx {
  carnet_replica *r, *r2;
  carnet_id a, b, doc;
  uint8_t before[32]; /* r's digest before the call */
  char hex[CARNET_ID_HEX_LEN + 1];
  const char *closed_dir; /* a replica no handle has open (w_open) */
  carnet_env closed_env;
  carnet_buf batch;        /* one batch of r's changes (w_apply) */
  const char *import_path; /* a small CSV file (w_import) */
  tenv *ea, *eb;           /* the clocks of r and r2 (w_handshake) */
} sweep_fx;

static void digest_of(carnet_replica *r, uint8_t out[32]) {
  OK(r, carnet_replica_get_digest(r, out));
}

static void same_digest(carnet_replica *r, const uint8_t want[32]) {
  uint8_t now[32];
  digest_of(r, now);
  assert_memory_equal(now, want, 32);
}

static int w_create(sweep_fx *f) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (!p) return CARNET_ENOMEM;
  int rc = carnet_patch_set(p, CARNET_F_NAME, "Élodie Garçon");
  if (!rc) rc = carnet_patch_set(p, CARNET_F_EMAILS, "elodie@garcon.fr");
  if (!rc) rc = carnet_patch_phone(p, "mobile", "07 82 35 61 55");
  if (!rc) rc = carnet_patch_set(p, CARNET_F_TAGS, "salon");
  if (!rc) rc = carnet_record_create_commit(f->r, p, NULL);
  carnet_patch_free(p);
  return rc;
}

static int w_update(sweep_fx *f) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (!p) return CARNET_ENOMEM;
  int rc = carnet_patch_set(p, CARNET_F_CITY, "Aix-en-Provence");
  if (!rc) rc = carnet_patch_set(p, CARNET_F_NOTES, "rappeler en janvier");
  if (!rc) rc = carnet_record_update_commit(f->r, &f->a, p);
  carnet_patch_free(p);
  return rc;
}

static int w_get(sweep_fx *f) {
  carnet_record *rec = NULL;
  int rc = carnet_record_get(f->r, &f->a, &rec);
  carnet_record_free(rec);
  return rc;
}

static int w_list(sweep_fx *f) {
  int n = 0;
  carnet_filter flt = {.text = "dupont"};
  return carnet_record_list(f->r, CARNET_KIND_CUSTOMER, &flt, count_cb, &n);
}

static int w_dupes(sweep_fx *f) {
  carnet_dupe *d = NULL;
  size_t n = 0;
  int rc = carnet_dupes_find(f->r, CARNET_DUPE_SCORE_DEFAULT, &d, &n);
  carnet_free(d);
  return rc;
}

static int w_merge(sweep_fx *f) {
  carnet_txn *t;
  int rc = carnet_txn_begin(f->r, &t);
  if (rc) return rc;
  if ((rc = carnet_merge_apply(t, &f->a, &f->b))) {
    carnet_txn_abort(t);
    return rc;
  }
  return carnet_txn_commit(t);
}

static int w_validate(sweep_fx *f) {
  char number[CARNET_NUMBER_MAX];
  carnet_txn *t;
  int rc = carnet_txn_begin(f->r, &t);
  if (rc) return rc;
  if ((rc = carnet_doc_validate(t, &f->doc, number, sizeof number))) {
    carnet_txn_abort(t);
    return rc;
  }
  return carnet_txn_commit(t);
}

/* One whole stream from r to r2, batch by batch. */
static int w_sync(sweep_fx *f) {
  carnet_mark m = {0, 0};
  for (int guard = 0; guard < 1000; guard++) {
    carnet_buf out = {0};
    carnet_batch_info info;
    int rc = carnet_changes_encode(f->r, &m, 2048, &out, &info);
    if (rc) return rc;
    rc = carnet_changes_apply(f->r2, out.base, out.len, NULL, NULL);
    carnet_free((void *)out.base);
    if (rc) return rc;
    if (!info.more) return 0;
    m.after = info.upto;
  }
  return CARNET_ELIMIT;
}

static int w_verify(sweep_fx *f) {
  carnet_verify_report vr;
  return carnet_replica_verify(f->r, &vr);
}

static int w_search(sweep_fx *f) {
  carnet_search *s = NULL;
  int rc = carnet_search_new(f->r, 0, &s);
  if (rc) return rc;
  carnet_id ids[8];
  size_t n = 0;
  carnet_filter flt = {.text = "0782356155"};
  rc = carnet_search_query(s, &flt, NULL, ids, 8, &n);
  carnet_search_free(s);
  return rc;
}

/* Open and close a replica: every block of the handle is released. */
static int w_open(sweep_fx *f) {
  carnet_replica *r = NULL;
  char err[256];
  int rc = carnet_replica_open(f->closed_dir, &f->closed_env, &r, err, sizeof err);
  if (rc == 0) {
    uint8_t now[32];
    rc = carnet_replica_get_digest(r, now);
    if (rc == 0 && memcmp(now, f->before, 32) != 0) fail_msg("the replica opened is not the same");
    carnet_replica_close(r);
  } else if (r != NULL) {
    fail_msg("a failed open left a handle");
  }
  return rc;
}

/* Apply one batch to r2, in its own transaction. */
static int w_apply(sweep_fx *f) {
  return carnet_changes_apply(f->r2, f->batch.base, f->batch.len, NULL, NULL);
}

/* Import a three-row CSV file into r (book/import.c). */
static int w_import(sweep_fx *f) {
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  int rc = carnet_import_file(f->r, f->import_path, NULL, &rep);
  if (rc == 0 && rep.imported != 3)
    fail_msg("imported %llu rows of 3", (unsigned long long)rep.imported);
  return rc;
}

/* A handshake between r (dialling) and r2, in memory: 0 once both
 * sessions are past it, else the first session's error. */
static int w_handshake(sweep_fx *f) {
  carnet_session_opts oa = {.initiator = true}, ob = {.initiator = false};
  carnet_session *a = NULL, *b = NULL;
  int rc = carnet_session_new(f->r, &oa, f->ea->now_ms, &a);
  if (rc == 0) rc = carnet_session_new(f->r2, &ob, f->eb->now_ms, &b);
  for (int round = 0; rc == 0 && round < 16; round++) {
    carnet_session_state sa = carnet_session_get_state(a), sb = carnet_session_get_state(b);
    if (sa != CARNET_SESSION_HANDSHAKE && sb != CARNET_SESSION_HANDSHAKE) break;
    carnet_buf o = carnet_session_output(a);
    size_t n = o.len;
    if (n) {
      rc = carnet_session_input(b, o.base, n, f->eb->now_ms);
      carnet_session_sent(a, n);
    }
    o = carnet_session_output(b);
    n = o.len;
    if (rc == 0 && n) {
      rc = carnet_session_input(a, o.base, n, f->ea->now_ms);
      carnet_session_sent(b, n);
    }
    if (rc == 0) rc = carnet_session_get_error(a);
    if (rc == 0) rc = carnet_session_get_error(b);
  }
  if (rc == 0 && (carnet_session_get_state(a) == CARNET_SESSION_HANDSHAKE ||
                  carnet_session_get_state(b) == CARNET_SESSION_HANDSHAKE))
    fail_msg("the handshake did not finish");
  carnet_session_free(a);
  carnet_session_free(b);
  return rc;
}

static int w_erase(sweep_fx *f) {
  return carnet_record_erase(f->r, &f->b, "demande de la personne", NULL, NULL);
}

static void write_file(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  assert_int_equal(fputs(text, fp) >= 0, 1);
  assert_int_equal(fclose(fp), 0);
}

static void test_out_of_memory_everywhere(void **state) {
  (void)state;
  char *root = tdir_new("alloc-oom"), *d1 = tdir_join(root, "a"), *d2 = tdir_join(root, "b");
  char *d3 = tdir_join(root, "c"), *csv1 = tdir_join(root, "warm.csv");
  char *csv2 = tdir_join(root, "clients.csv");
  tenv e1, e2, e3;
  carnet_env c1, c2;
  char err[256];
  sweep_fx f = {0};
  tenv_init(&e1, TENV_EPOCH_MS, 11);
  tenv_init(&e2, TENV_EPOCH_MS, 12);
  tenv_init(&e3, TENV_EPOCH_MS, 13);
  tenv_fill(&e1, &c1);
  tenv_fill(&e2, &c2);
  tenv_fill(&e3, &f.closed_env);
  f.ea = &e1;
  f.eb = &e2;
  assert_int_equal(carnet_replica_init(d1, &c1, &f.r, err, sizeof err), 0);
  assert_int_equal(carnet_replica_init(d2, &c2, &f.r2, err, sizeof err), 0);
  f.a = add_customer(f.r, "Jean Dupont", "jean@dupont.fr", "06 12 34 56 78");
  f.b = add_customer(f.r, "DUPONT Jean", "j.dupont@dupont.fr", "+33 6 12 34 56 78");
  add_customer(f.r, "Hélène Müller", "helene@muller.de", "07 82 35 61 55");
  carnet_id_format(&f.a, f.hex);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  OK(f.r, carnet_patch_set(p, CARNET_F_DOC_TYPE, "invoice"));
  OK(f.r, carnet_patch_set(p, CARNET_F_CUSTOMER, f.hex));
  carnet_txn *t;
  OK(f.r, carnet_txn_begin(f.r, &t));
  OK(f.r, carnet_record_create(t, p, NULL, &f.doc));
  carnet_line_input li = {.set = CARNET_LINE_LABEL | CARNET_LINE_QTY | CARNET_LINE_PRICE,
                          .label = "Pose",
                          .qty = 1000,
                          .unit_price = 9900};
  OK(f.r, carnet_doc_line_add(t, &f.doc, &li, NULL, NULL));
  OK(f.r, carnet_txn_commit(t));
  carnet_patch_free(p);
  assert_int_equal(w_get(&f), 0); /* warm-up: fills what a replica caches */
  long refused = tagalloc_failures();

  /* Writes: a refusal leaves the replica as it was. */
  digest_of(f.r, f.before);
  TAGALLOC_SWEEP(w_create(&f), same_digest(f.r, f.before));
  digest_of(f.r, f.before);
  TAGALLOC_SWEEP(w_update(&f), same_digest(f.r, f.before));
  digest_of(f.r, f.before);
  TAGALLOC_SWEEP(w_validate(&f), same_digest(f.r, f.before));
  /* Reads. */
  TAGALLOC_SWEEP(w_get(&f), (void)0);
  TAGALLOC_SWEEP(w_list(&f), (void)0);
  TAGALLOC_SWEEP(w_dupes(&f), (void)0);
  TAGALLOC_SWEEP(w_verify(&f), (void)0);
  TAGALLOC_SWEEP(w_search(&f), (void)0);
  /* Sync. A warm-up stream first (the receiver's store keeps a buffer for
   * its index writes between transactions), then one more customer, and
   * the whole stream again under the sweep: what a refused batch leaves is
   * the receiver as it was after the last whole batch. */
  assert_int_equal(w_sync(&f), 0);
  add_customer(f.r, "Zoé Nouvelle", "zoe@nouvelle.fr", "02 40 00 00 02");
  TAGALLOC_SWEEP(w_sync(&f), (void)0);
  uint8_t h1[32], h2[32];
  digest_of(f.r, h1);
  digest_of(f.r2, h2);
  assert_memory_equal(h1, h2, 32);
  /* Merge, then the erasure of the merged person. */
  digest_of(f.r, f.before);
  TAGALLOC_SWEEP(w_merge(&f), same_digest(f.r, f.before));
  digest_of(f.r, f.before);
  TAGALLOC_SWEEP(w_erase(&f), same_digest(f.r, f.before));
  bool erased = false;
  OK(f.r, carnet_record_erased(f.r, &f.a, &erased));
  assert_true(erased); /* the whole person went, once it could */

  /* Open: a third replica with a record, closed; every refused open
   * releases what it made, and the replica opened at last is the same. */
  carnet_replica *r3 = NULL;
  assert_int_equal(carnet_replica_init(d3, &f.closed_env, &r3, err, sizeof err), 0);
  add_customer(r3, "Inès Ouvert", "ines@ouvert.fr", "05 56 00 00 03");
  digest_of(r3, f.before);
  carnet_replica_close(r3);
  f.closed_dir = d3;
  TAGALLOC_SWEEP(w_open(&f), (void)0);

  /* Apply one batch: a refused one leaves the receiver as it was. */
  add_customer(f.r, "Batch Unique", "batch@unique.fr", "03 20 00 00 04");
  carnet_mark m = {0, 0};
  carnet_batch_info bi;
  OK(f.r2, carnet_changes_get_mark(f.r2, carnet_replica_id(f.r), &m));
  OK(f.r, carnet_changes_encode(f.r, &m, 1u << 20, &f.batch, &bi));
  assert_false(bi.more);
  digest_of(f.r2, f.before);
  TAGALLOC_SWEEP(w_apply(&f), same_digest(f.r2, f.before));
  carnet_free((void *)f.batch.base);
  OK(f.r2, carnet_changes_get_mark(f.r2, carnet_replica_id(f.r), &m));
  assert_true(m.after == bi.upto); /* applied once, at last */

  /* A handshake, once both replicas trust each other in one team. */
  uint8_t pk1[32], pk2[32], team[16];
  OK(f.r, carnet_replica_get_identity(f.r, pk1, team));
  OK(f.r2, carnet_replica_get_identity(f.r2, pk2, NULL));
  OK(f.r2, carnet_replica_set_team(f.r2, team));
  OK(f.r, carnet_peer_trust(f.r, pk2, NULL));
  OK(f.r2, carnet_peer_trust(f.r2, pk1, NULL));
  assert_int_equal(w_handshake(&f), 0); /* warm-up: the peers' live notes */
  digest_of(f.r, f.before);
  TAGALLOC_SWEEP(w_handshake(&f), same_digest(f.r, f.before));

  /* Import a small file: a refused import writes nothing. */
  /* The warm-up has the same shape: the store keeps the set of its
   * waiting index keys between transactions, made at the first lookup. */
  write_file(csv1, "Nom,Email,Ville\nChaud Avant,chaud@avant.fr,Nice\n"
                   "Tiède Avant,tiede@avant.fr,Pau\nFroid Avant,froid@avant.fr,Metz\n");
  write_file(csv2, "Nom,Email,Ville\nAnne Import,anne@import.fr,Nantes\n"
                   "Bruno Import,bruno@import.fr,Brest\nClara Import,clara@import.fr,Caen\n");
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  OK(f.r, carnet_import_file(f.r, csv1, NULL, &rep)); /* warm-up */
  f.import_path = csv2;
  digest_of(f.r, f.before);
  TAGALLOC_SWEEP(w_import(&f), same_digest(f.r, f.before));
  printf("# %ld allocations refused in all\n", tagalloc_failures() - refused);
  /* The sweeps reached deep (399 when a patch's texts came to share one
   * allocation). */
  assert_true(tagalloc_failures() - refused > 350);

  carnet_replica_close(f.r);
  carnet_replica_close(f.r2);
  assert_int_equal(tagalloc_live(), 0);
  tdir_remove(root);
  free(d1);
  free(d2);
  free(d3);
  free(csv1);
  free(csv2);
  free(root);
}

static void test_setting_is_frozen_once_used(void **state) {
  (void)state;
  carnet_allocator libc = {malloc, realloc, calloc, free}, bad = libc;
  bad.free = NULL;
  assert_int_equal(carnet_allocator_set(&bad), CARNET_EINVAL);
  /* The workload has allocated: the allocator may no longer change. */
  assert_int_equal(carnet_allocator_set(NULL), CARNET_EBUSY);
  assert_int_equal(carnet_allocator_set(&libc), CARNET_EBUSY);
}

static void test_version(void **state) {
  (void)state;
  int ma = -1, mi = -1, pa = -1;
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", CARNET_VERSION_MAJOR, CARNET_VERSION_MINOR,
           CARNET_VERSION_PATCH);
  assert_string_equal(carnet_version(&ma, &mi, &pa), want);
  assert_string_equal(CARNET_VERSION_STRING, want);
  assert_int_equal(ma, CARNET_VERSION_MAJOR);
  assert_int_equal(mi, CARNET_VERSION_MINOR);
  assert_int_equal(pa, CARNET_VERSION_PATCH);
  assert_int_equal(CARNET_VERSION_NUMBER, (ma << 16) | (mi << 8) | pa);
}

int main(void) {
  /* Before any other carnet call, as carnet/alloc.h asks. */
  if (!tagalloc_install()) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_workload_releases_everything),
      cmocka_unit_test(test_out_of_memory_everywhere),
      cmocka_unit_test(test_setting_is_frozen_once_used),
      cmocka_unit_test(test_version),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
