/* tests/engine/test_searchsig.c - the search signatures (engine/crm/searchsig.h)
 * behind carnet_record_list's text filter.
 *
 * - Exact: on hard cases (accents, case, ligatures, apostrophes, homonyms,
 *   phones and SIRETs in many written forms, long notes, deleted
 *   customers, a merged group whose words come from two members), the
 *   listing answers what the scan answers (every customer folded and
 *   matched one by one), and the signatures did narrow it (a query of
 *   three bytes or more), or said they cannot (shorter ones).
 * - G2: customers written in an open transaction, or after the mark on a
 *   handle that cannot catch up, are found all the same.
 * - Schema 7 -> 8: a replica without signatures gets every customer's at
 *   open, in one pass, and searches with them.
 * - A large catch-up (several batches, two threads) writes each customer's
 *   signature as derived from its row alone, the index the rows derive,
 *   and nothing of a person erased before or after being indexed.
 * - A large backlog read in id order writes the same index, signatures and
 *   mark as one read in the change index's order.
 * - A customer's document read from its cells is its record's, odd cells
 *   included.
 * - The fast folding (ASCII and Latin-1 letters) is utf8proc's, letter by
 *   letter.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/carnet.h"
#include "engine/base/alloc.h"
#include "engine/crm/record.h"
#include "engine/crm/searchsig.h"
#include "engine/crm/searchtext.h"
#include "engine/store/meta.h"
#include "engine/store/replica_int.h"
#include "support/testenv.h"

#define OK(r, expr)                                                                                \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    if (rc_ != 0)                                                                                  \
      fail_msg("%s: %s (%s)", #expr, carnet_error_name(rc_), carnet_replica_errmsg(r));            \
  } while (0)

typedef struct fx {
  char *root, *dir;
  tenv env;
  carnet_replica *r;
} fx;

static void open_it(fx *f, bool init) {
  char err[256] = "";
  carnet_env ce;
  tenv_fill(&f->env, &ce);
  int rc = init ? carnet_replica_init(f->dir, &ce, &f->r, err, sizeof err)
                : carnet_replica_open(f->dir, &ce, &f->r, err, sizeof err);
  if (rc) fail_msg("open: %s", err);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->root = tdir_new("searchsig");
  f->dir = tdir_join(f->root, "r");
  tenv_init(&f->env, TENV_EPOCH_MS, 11);
  open_it(f, true);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  carnet_replica_close(f->r);
  tdir_remove(f->root);
  free(f->dir);
  free(f->root);
  free(f);
  return 0;
}

/* A customer from field/value pairs ("phone" adds a mobile), NULL-ended. */
static carnet_id add_in(carnet_replica *r, carnet_txn *t, const char *first, ...) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  va_list ap;
  va_start(ap, first);
  for (const char *k = first; k; k = va_arg(ap, const char *)) {
    const char *v = va_arg(ap, const char *);
    if (strcmp(k, "phone") == 0) {
      OK(r, carnet_patch_phone(p, "mobile", v));
      continue;
    }
    const carnet_field_info *fi = carnet_field_find(CARNET_KIND_CUSTOMER, k);
    assert_non_null(fi);
    OK(r, carnet_patch_set(p, fi->field, v));
  }
  va_end(ap);
  if (t)
    OK(r, carnet_record_create(t, p, NULL, &id));
  else
    OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

#define add(r, ...) add_in(r, NULL, __VA_ARGS__)

typedef struct ids {
  carnet_id v[256];
  size_t n;
} ids;

static int collect(const carnet_record *rec, void *data) {
  ids *l = data;
  assert_true(l->n < 256);
  l->v[l->n++] = *carnet_record_id(rec);
  return 0;
}

/* The scan, written out: every customer listed, folded and matched. */
typedef struct scan_st {
  carnet__squery q;
  carnet__sbuf doc;
  bool deleted;
  ids out;
} scan_st;

static int scan_cb(const carnet_record *rec, void *data) {
  scan_st *s = data;
  carnet__sdoc d;
  if (carnet_record_deleted(rec) && !s->deleted) return 0;
  assert_int_equal(carnet__sdoc_build(rec, &s->doc, &d), 0);
  if (carnet__squery_match(&s->q, s->doc.p, s->doc.len, d.siret_off, d.phones_off))
    collect(rec, &s->out);
  return 0;
}

static ids scanned(carnet_replica *r, const char *text, bool deleted) {
  scan_st s = {.deleted = deleted};
  carnet_filter all = {.include_deleted = true};
  assert_int_equal(carnet__squery_init(&s.q, text), 0);
  OK(r, carnet_record_list(r, CARNET_KIND_CUSTOMER, &all, scan_cb, &s));
  carnet__squery_free(&s.q);
  carnet__sbuf_free(&s.doc);
  return s.out;
}

static ids listed(carnet_replica *r, const char *text, bool deleted) {
  ids l = {.n = 0};
  carnet_filter f = {.text = text, .include_deleted = deleted};
  OK(r, carnet_record_list(r, CARNET_KIND_CUSTOMER, &f, collect, &l));
  return l;
}

/* What the signatures give for `text`: 1 when they cannot narrow it. */
static int candidates(carnet_replica *r, const char *text, size_t *n) {
  carnet__stxn *st;
  carnet__squery q;
  carnet_id *v = NULL;
  assert_int_equal(carnet__squery_init(&q, text), 0);
  OK(r, carnet__read_begin(r, &st));
  int rc = carnet__ssig_candidates(r, st, &q, &v, n);
  carnet__read_end(r, st);
  carnet__squery_free(&q);
  carnet__free(v);
  assert_true(rc == 0 || rc == 1);
  return rc;
}

static size_t customers(carnet_replica *r) {
  ids l = {.n = 0};
  carnet_filter all = {.include_deleted = true};
  OK(r, carnet_record_list(r, CARNET_KIND_CUSTOMER, &all, collect, &l));
  return l.n;
}

/* The listing is the scan, for `text`, deleted ones or not; returns how
 * many matched (live ones). */
static size_t same(carnet_replica *r, const char *text) {
  size_t m = 0;
  for (int del = 0; del < 2; del++) {
    ids a = listed(r, text, del), b = scanned(r, text, del);
    if (a.n != b.n || memcmp(a.v, b.v, a.n * sizeof a.v[0]) != 0)
      fail_msg("'%s' (deleted %d): the listing gives %zu, the scan %zu", text, del, a.n, b.n);
    if (!del) m = a.n;
  }
  return m;
}

static const char *const hard[] = {"Électricité Générale",
                                   "électricité",
                                   "ELECTRICITE",
                                   "electricite",
                                   "Cœur",
                                   "coeur",
                                   "COEUR",
                                   "bœuf",
                                   "boeuf",
                                   "ﬁlle",
                                   "fille",
                                   "Straße",
                                   "strasse",
                                   "l'hôte",
                                   "l’hôte",
                                   "L`HOTE",
                                   "martin",
                                   "Martin Lyon",
                                   "lyon martin",
                                   "Jean Martin",
                                   "jean-pierre",
                                   "07 82 35 61 55",
                                   "0782356155",
                                   "+33 7 82 35 61 55",
                                   "0033782356155",
                                   "782356155",
                                   "07.82.35.61.55",
                                   "35 61",
                                   "3561",
                                   "732 829 320",
                                   "73282932000074",
                                   "00074",
                                   "client.3@",
                                   "client.30",
                                   "@exemple.fr",
                                   "zzz",
                                   "xyz",
                                   "noël",
                                   "NOEL",
                                   "noel blanc",
                                   "garage blanc",
                                   "rappeler",
                                   "lundi portable",
                                   "13001",
                                   "69003",
                                   "CU",
                                   "bl",
                                   "é",
                                   "06",
                                   "a b",
                                   "  ",
                                   "fils et \"cie\"",
                                   "Müller",
                                   "muller",
                                   "mueller",
                                   "Ærø",
                                   "aero"};

/* Hard cases: the listing is the scan, and the signatures narrowed it. */
static void test_exact_on_hard_cases(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r;
  add(r, "name", "Électricité Générale Dupont", "city", "Lyon", "phone", "07 82 35 61 55", NULL);
  add(r, "name", "Cœur de Bœuf", "city", "Saint-Étienne", "emails", "client.3@exemple.fr", NULL);
  add(r, "name", "Jean Martin", "city", "Lyon", "postcode", "69003", NULL);
  add(r, "name", "Jean Martin", "city", "Lyon", "postcode", "69003", "emails",
      "client.30@exemple.fr", "phone", "06 12 34 56 78", NULL); /* a homonym */
  add(r, "name", "Martin Jean-Pierre", "city", "Marseille", "postcode", "13001", NULL);
  add(r, "name", "La ﬁlle de l’Hôte", "street", "12 Straße", "notes",
      "rappeler le lundi\nsur le portable", NULL);
  add(r, "name", "Noël Blanc", "company", "Garage Blanc SARL", "siret", "73282932000074", NULL);
  carnet_id cecile = add(r, "name", "Cécile Blanc", "company", "Garage Blanc SA", "phone",
                         "+32 470 12 34 56", NULL);
  add(r, "name", "Müller; Fils et \"Cie\"", "city", "Ærøskøbing", NULL);
  carnet_id gone = add(r, "name", "Martin Supprimé", "city", "Lyon", NULL);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  OK(r, carnet_patch_delete(p));
  OK(r, carnet_record_update_commit(r, &gone, p));
  carnet_patch_free(p);
  /* A merged group: notes "tableau électrique" in one member, the city
   * "Vienne" in the other; the survivor is listed with both. */
  carnet_id m1 = add(r, "name", "Électricien Rousseau", "notes", "tableau électrique", NULL);
  carnet_id m2 = add(r, "name", "E. Rousseau", "city", "Vienne", NULL);
  carnet_txn *t;
  OK(r, carnet_txn_begin(r, &t));
  OK(r, carnet_merge_apply(t, &m1, &m2));
  OK(r, carnet_txn_commit(t));

  size_t total = customers(r), n = 0;
  for (size_t i = 0; i < sizeof hard / sizeof hard[0]; i++) {
    same(r, hard[i]);
    /* After the first listing the signatures are caught up: a query of
     * three bytes or more (folded) is narrowed, a shorter one scans. */
    carnet__squery q;
    assert_int_equal(carnet__squery_init(&q, hard[i]), 0);
    bool shortq = true;
    for (size_t w = 0; w < q.nwords; w++)
      if (q.words[w].len >= 3) shortq = false;
    if (q.nwords == 0 && (q.whole.phone[0] || q.whole.siret[0])) shortq = false;
    carnet__squery_free(&q);
    int rc = candidates(r, hard[i], &n);
    if (shortq) {
      assert_int_equal(rc, 1);
    } else {
      assert_int_equal(rc, 0);
      if (strcmp(hard[i], "@exemple.fr") != 0 && strcmp(hard[i], "martin") != 0 &&
          strcmp(hard[i], "CU") != 0)
        assert_true(n < total);
    }
  }
  assert_int_equal(same(r, "tableau vienne"), 1);
  assert_int_equal(same(r, "vienne électrique"), 1);
  assert_int_equal(same(r, "rousseau"), 1);
  assert_int_equal(same(r, "electricite"), 1);
  assert_int_equal(same(r, "0782356155"), 1);
  assert_int_equal(same(r, "martin"), 3);
  assert_int_equal(same(r, "jean martin"), 3);
  assert_int_equal(same(r, "732 829 320"), 1);
  assert_int_equal(same(r, "ﬁlle hôte"), 1);
  assert_int_equal(same(r, "zzz"), 0);
  /* Changes after the catch-up: an edit (the old name is gone, the new one
   * found), then a query again. */
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  OK(r, carnet_patch_set(p, CARNET_F_NAME, "Renée Dubois"));
  OK(r, carnet_record_update_commit(r, &cecile, p));
  carnet_patch_free(p);
  assert_int_equal(same(r, "cecile"), 0);
  assert_int_equal(same(r, "renee garage"), 1);
  assert_int_equal(same(r, "supprime"), 0);
  assert_int_equal(listed(r, "supprime", true).n, 1);
}

/* G2: what the mark has not reached is a candidate whatever its signature. */
static void test_behind_the_mark(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r;
  add(r, "name", "Premier Client", NULL);
  assert_int_equal(same(r, "premier"), 1); /* caught up */
  carnet_txn *t;
  OK(r, carnet_txn_begin(r, &t));
  add_in(r, t, "name", "Deuxième Client", "phone", "06 98 76 54 32", NULL);
  /* Inside the transaction: no catch-up, its own write found. */
  assert_int_equal(listed(r, "deuxieme", false).n, 1);
  assert_int_equal(listed(r, "06 98 76 54 32", false).n, 1);
  OK(r, carnet_txn_commit(t));
  /* Committed, not caught up: above the mark, without a signature, the
   * customer is a candidate of any query. */
  add(r, "name", "Troisième Client", NULL);
  size_t n = 0;
  assert_int_equal(candidates(r, "zzzz", &n), 0);
  assert_int_equal(n, 2);                    /* and the one of the transaction */
  assert_int_equal(same(r, "troisieme"), 1); /* caught up */
  assert_int_equal(candidates(r, "zzzz", &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(candidates(r, "troisieme", &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(same(r, "deuxieme client"), 1);
  assert_int_equal(same(r, "client"), 3);
}

static size_t sig_rows(carnet_replica *r) {
  carnet__stxn *st;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  size_t n = 0;
  OK(r, carnet__store_begin(r->store, false, &st));
  OK(r, carnet__store_cursor(st, CARNET__T_SEARCH, &cur));
  for (int rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v))
    n++;
  carnet__store_cursor_close(cur);
  carnet__store_abort(st);
  return n;
}

/* A schema 7 replica (no signature) gets them all at open. */
static void test_schema7_upgraded(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r;
  for (int i = 0; i < 40; i++) {
    char name[64];
    snprintf(name, sizeof name, "Client Numéro %d", 1000 + i);
    add(r, "name", name, "city", i % 2 ? "Orléans" : "Nîmes", NULL);
  }
  assert_int_equal(same(r, "orleans"), 20);
  assert_int_equal(sig_rows(r), 40);
  /* Back to schema 7, as a build before the signatures left it. */
  carnet__stxn *st;
  uint8_t b[4] = {0, 0, 0, 7};
  OK(r, carnet__store_begin(r->store, true, &st));
  OK(r, carnet__store_clear(st, CARNET__T_SEARCH));
  OK(r, carnet__store_put(st, CARNET__T_META, "schema", 6, b, 4, 0));
  OK(r, carnet__store_commit(st));
  assert_int_equal(sig_rows(r), 0);
  carnet_replica_close(r);
  open_it(f, false);
  r = f->r;
  carnet_buf v;
  OK(r, carnet__store_begin(r->store, false, &st));
  OK(r, carnet__store_get(st, CARNET__T_META, "schema", 6, &v));
  assert_int_equal(((const uint8_t *)v.base)[3], CARNET_SCHEMA_VERSION);
  carnet__store_abort(st);
  assert_int_equal(CARNET_SCHEMA_VERSION, 9);
  assert_int_equal(sig_rows(r), 40);
  /* 9: the signatures' mark starts at the index's. */
  uint64_t im = 0, sm = 1;
  OK(r, carnet__store_begin(r->store, false, &st));
  OK(r, carnet__index_mark(st, &im));
  OK(r, carnet__meta_get_u64(st, CARNET__META_SIGNED, &sm));
  carnet__store_abort(st);
  assert_true(im > 0);
  assert_int_equal(sm, im);
  size_t n = 0;
  assert_int_equal(candidates(r, "numero 1017", &n), 0);
  assert_true(n >= 1 && n < 40);
  assert_int_equal(same(r, "numero 1017"), 1);
  assert_int_equal(same(r, "nimes"), 20);
}

/* A cell of a hand-made entity: field, key (klen bytes), value (msgpack). */
static carnet__cell cell(uint16_t field, const char *key, size_t klen, const char *val,
                         size_t vlen) {
  return (carnet__cell){.field = field,
                        .klen = (uint16_t)klen,
                        .vlen = (uint32_t)vlen,
                        .key = (const uint8_t *)key,
                        .val = (const uint8_t *)val,
                        .hlc = 1};
}

/* The document read from the cells is the record's, including where the
 * cells are odd (the reading gives up and builds the record): a name
 * holding a NUL, a value that is not a string, a cleared phone slot, one
 * number in two slots, many phones, a set element removed. */
static void test_doc_from_cells_is_the_records(void **state) {
  (void)state;
  static const char name[] = "\xb3"
                             "Zoë Lefèvre-Noël",
                    nul[] = "\xa5"
                            "ab\0cd",
                    num[] = "\x2a", nil[] = "\xc0", yes[] = "\xc3", no[] = "\xc2",
                    city[] = "\xa4"
                             "Caen",
                    siret[] = "\xae"
                              "73282932000074",
                    ph1[] = "\x92\xa6mobile\xac+33612345678",
                    ph2[] = "\x92\xa4work\xac+33612345678",
                    ph3[] = "\x92\xa4home\xb3+33198765432;ext=12";
  carnet__cell base[] = {
      cell(CARNET_F_NAME, "", 0, name, sizeof name - 1),
      cell(CARNET_F_CITY, "", 0, city, sizeof city - 1),
      cell(CARNET_F_SIRET, "", 0, siret, sizeof siret - 1),
      cell(CARNET_F_EMAILS, "a@b.fr", 6, yes, 1),
      cell(CARNET_F_EMAILS, "gone@b.fr", 9, no, 1),
      cell(CARNET_F_PHONES, "1", 1, ph1, sizeof ph1 - 1),
      cell(CARNET_F_PHONES, "2", 1, ph2, sizeof ph2 - 1),
      cell(CARNET_F_PHONES, "3", 1, nil, 1),
      cell(CARNET_F_PHONES, "4", 1, ph3, sizeof ph3 - 1),
      cell(CARNET_F_TAGS, "VIP", 3, yes, 1),
  };
  carnet__cell many[40];
  for (size_t i = 0; i < 40; i++) {
    static char keys[40][4];
    snprintf(keys[i], sizeof keys[i], "%02zu", i);
    many[i] = cell(CARNET_F_PHONES, keys[i], 2, i % 2 ? ph1 : ph3,
                   i % 2 ? sizeof ph1 - 1 : sizeof ph3 - 1);
  }
  struct {
    carnet__cell *cells;
    size_t n;
    int odd; /* which base cell (the name) to replace: 0 none */
  } cases[] = {{base, 10, 0}, {base, 10, 1}, {base, 10, 2}, {base, 10, 3}, {many, 40, 0}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    carnet__cell cells[40];
    memcpy(cells, cases[k].cells, cases[k].n * sizeof cells[0]);
    if (cases[k].odd == 1) cells[0] = cell(CARNET_F_NAME, "", 0, nul, sizeof nul - 1);
    if (cases[k].odd == 2) cells[0] = cell(CARNET_F_NAME, "", 0, num, 1);
    if (cases[k].odd == 3) cells[0] = cell(CARNET_F_NAME, "", 0, nil, 1);
    carnet__entity e = {.kind = CARNET_KIND_CUSTOMER, .cells = cells, .n = cases[k].n};
    carnet_record *rec = NULL;
    carnet__sbuf want = {0}, got = {0};
    carnet__sdoc dw, dg;
    if (carnet__record_build(&e, &rec)) fail_msg("case %zu", k);
    assert_int_equal(carnet__sdoc_build(rec, &want, &dw), 0);
    assert_int_equal(carnet__ssig_doc(&e, &got, &dg), 0);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.p, want.p, want.len);
    assert_int_equal(dg.siret_off, dw.siret_off);
    assert_int_equal(dg.phones_off, dw.phones_off);
    if (k == 0) assert_non_null(strstr(want.p, "zoe lefevre-noel\ncaen\na@b.fr\nvip\n7328"));
    carnet_record_free(rec);
    carnet__sbuf_free(&want);
    carnet__sbuf_free(&got);
  }
}

/* Whether the index table holds a key of entity `id` (its last 16 bytes). */
static bool has_key_of(carnet_replica *r, const carnet_id *id) {
  carnet__stxn *st;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  bool found = false;
  OK(r, carnet__store_begin(r->store, false, &st));
  OK(r, carnet__store_cursor(st, CARNET__T_INDEX, &cur));
  for (int rc = carnet__store_seek(cur, NULL, 0, &k, NULL); rc == 0 && !found;
       rc = carnet__store_next(cur, &k, NULL))
    found = k.len > 16 && memcmp((const uint8_t *)k.base + k.len - 16, id->b, 16) == 0;
  carnet__store_cursor_close(cur);
  OK(r, carnet__store_cursor(st, CARNET__T_SEARCH, &cur));
  if (carnet__store_seek(cur, id->b, 16, &k, &v) == 0 && k.len == 16 &&
      memcmp(k.base, id->b, 16) == 0)
    found = true;
  carnet__store_cursor_close(cur);
  carnet__store_abort(st);
  return found;
}

/* The two marks: the blind index's and the signatures'. */
static void marks(carnet_replica *r, uint64_t *im, uint64_t *sm) {
  carnet__stxn *st;
  OK(r, carnet__store_begin(r->store, false, &st));
  OK(r, carnet__index_mark(st, im));
  OK(r, carnet__sig_mark(st, sm));
  carnet__store_abort(st);
}

/* A reader of the blind index derives the signatures of a small backlog
 * with its keys (an interactive write's: the next search has nothing to
 * catch up), inside a transaction too; the writes after it are above both
 * marks: candidates of every query (G2) until the next catch-up, which
 * signs them as they are then. */
static void test_small_backlog_signed_with_keys(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r;
  for (int i = 0; i < 30; i++) {
    char name[64];
    snprintf(name, sizeof name, "Société Lyonnaise %d", i);
    add(r, "name", name, NULL);
  }
  uint64_t im, sm;
  assert_int_equal(sig_rows(r), 0);
  OK(r, carnet__index_ready(r));
  marks(r, &im, &sm);
  assert_true(im > 0);
  assert_int_equal(sm, im);
  assert_int_equal(sig_rows(r), 30);
  carnet_txn *t;
  OK(r, carnet_txn_begin(r, &t));
  carnet_id first = add_in(r, t, "name", "Premier Ajout", NULL);
  OK(r, carnet__index_ready(r)); /* in the transaction: its own entry too */
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  OK(r, carnet_patch_set(p, CARNET_F_CITY, "Valence"));
  OK(r, carnet_record_update(t, &first, p));
  carnet_patch_free(p);
  add_in(r, t, "name", "Second Ajout", NULL);
  OK(r, carnet_txn_commit(t));
  assert_int_equal(sig_rows(r), 31); /* the first one's, as created */
  uint64_t im2, sm2;
  marks(r, &im2, &sm2);
  assert_int_equal(im2, im + 1);
  assert_int_equal(sm2, im2);
  size_t cand = 0;
  assert_int_equal(candidates(r, "qzwxqzwx", &cand), 0);
  assert_int_equal(cand, 2); /* the update and the second one: above the marks */
  OK(r, carnet__index_ready(r));
  assert_int_equal(sig_rows(r), 32);
  marks(r, &im2, &sm2);
  assert_true(im2 > im + 1);
  assert_int_equal(sm2, im2);
  assert_int_equal(candidates(r, "qzwxqzwx", &cand), 0);
  assert_int_equal(cand, 0);
  assert_int_equal(candidates(r, "valence", &cand), 0);
  assert_int_equal(cand, 1); /* by its signature, as updated */
  assert_int_equal(same(r, "ajout"), 2);
  assert_int_equal(same(r, "valence"), 1);
}

/* A catch-up of several batches, worked on two threads
 * (engine/store/reindex.c): the index holds exactly the keys the rows
 * derive (carnet_replica_check), every customer's signature is the one
 * derived from its row alone, and an erased person has nothing left
 * whether it was erased before or after being indexed. A reader of the
 * blind index (carnet__index_ready) leaves the signatures of a backlog
 * this large to the first text search: until then none is written, and
 * every customer is a candidate of a query (G2); the search's catch-up
 * (carnet__search_ready) writes them all. */
static void test_large_catchup_as_one_by_one(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r;
  static const char *const first[] = {"Anne", "Bérénice", "Chloé", "Δήμητρα", "Øystein", "Zoë"};
  static const char *const cities[] = {"Orléans", "Nîmes", "Saint-Étienne", "L'Haÿ-les-Roses"};
  carnet_id early, late;
  size_t total = 0;
  for (int round = 0; round < 2; round++) {
    carnet_txn *t;
    OK(r, carnet_txn_begin(r, &t));
    for (int i = 0; i < 2300; i++, total++) {
      char name[96], mail[96], phone[32], notes[128];
      snprintf(name, sizeof name, "%s Dupont-%d SARL", first[i % 6], i % 1700);
      snprintf(mail, sizeof mail, "client.%d@exemple%d.fr", i, round);
      snprintf(phone, sizeof phone, "06 %02d %02d %02d %02d", round, i / 1000, i / 100 % 10,
               i % 100);
      snprintf(notes, sizeof notes, "Rappel n°%d : œuvre, 12345 67890, %s", i, first[i % 6]);
      carnet_id id =
          add_in(r, t, "name", name, "city", cities[i % 4], "notes", notes,
                 i % 3 ? "emails" : "street", i % 3 ? mail : "1 rue de la Paix", "phone", phone,
                 i % 5 ? "postcode" : "company", i % 5 ? "45000" : "Boulangerie Ève", NULL);
      if (round == 0 && i == 17) early = id;
      if (round == 1 && i == 1234) late = id;
    }
    OK(r, carnet_txn_commit(t));
    if (round == 0) {
      OK(r, carnet__index_ready(r)); /* 2,300 rows: two batches, two threads */
      assert_true(has_key_of(r, &early));
    }
  }
  uint64_t im, sm;
  marks(r, &im, &sm);
  assert_int_equal(sm, 0);
  assert_true(im > 0);
  assert_int_equal(sig_rows(r), 0);
  OK(r, carnet_record_erase(r, &early, "request", NULL, NULL)); /* indexed */
  OK(r, carnet_record_erase(r, &late, "request", NULL, NULL));  /* perhaps not yet */
  OK(r, carnet__index_ready(r));
  assert_false(has_key_of(r, &early));
  assert_false(has_key_of(r, &late));
  carnet_check_report c = CARNET_CHECK_REPORT_INIT;
  OK(r, carnet_replica_check(r, NULL, NULL, &c));
  assert_int_equal(c.missing_keys + c.extra_keys + c.bad_values + c.bad_rows + c.erased_rows, 0);
  marks(r, &im, &sm);
  assert_int_equal(sm, 0);
  assert_int_equal(sig_rows(r), 0);
  size_t cand = 0;
  assert_int_equal(candidates(r, "qzwxqzwx", &cand), 0);
  assert_int_equal(cand, total - 2); /* G2: none has a signature yet */
  OK(r, carnet__search_ready(r));
  marks(r, &im, &sm);
  assert_int_equal(sm, im);
  assert_int_equal(candidates(r, "qzwxqzwx", &cand), 0);
  assert_int_equal(cand, 0);
  /* Each signature as derived from its row alone, with no gram cache. */
  carnet__stxn *st;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  carnet__blind_secret secret;
  size_t rows = 0;
  OK(r, carnet__store_begin(r->store, false, &st));
  OK(r, carnet__index_secret(st, &secret));
  OK(r, carnet__store_cursor(st, CARNET__T_SEARCH, &cur));
  for (int rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v), rows++) {
    carnet_id id;
    carnet__loaded l;
    uint8_t *sig = NULL;
    size_t len = 0;
    uint8_t *got = malloc(v.len);
    size_t got_len = v.len;
    memcpy(got, v.base, v.len);
    memcpy(id.b, k.base, 16);
    OK(r, carnet__load(st, &id, &l));
    assert_true(l.existed);
    OK(r, carnet__ssig_of(&l.e, &secret, &sig, &len));
    assert_int_equal(len, got_len);
    assert_memory_equal(sig, got, len);
    carnet__free(sig);
    free(got);
    carnet__loaded_free(&l);
  }
  carnet__store_cursor_close(cur);
  carnet__store_abort(st);
  assert_int_equal(rows, total - 2);
}

/* The blind index, the signatures and the mark after a catch-up of the
 * open state of `r` walking `walk`, as bytes (each entry: key length, key,
 * value length, value); with `from_scratch`, the index and signatures
 * deleted and the mark set to 0 first. The transaction is aborted: every
 * call starts from the same state. */
typedef struct bytes {
  uint8_t *base;
  size_t len, cap;
} bytes;

static void put_bytes(bytes *out, const void *p, size_t n) {
  uint32_t len = (uint32_t)n;
  if (out->cap - out->len < n + sizeof len) {
    out->cap = 2 * (out->cap + n + sizeof len);
    out->base = realloc(out->base, out->cap);
    assert_non_null(out->base);
  }
  memcpy(out->base + out->len, &len, sizeof len);
  memcpy(out->base + out->len + sizeof len, p, n);
  out->len += n + sizeof len;
}

static void caught_up(carnet_replica *r, carnet__walk walk, bool from_scratch, bytes *out) {
  static const carnet__table tables[] = {CARNET__T_INDEX, CARNET__T_SEARCH};
  carnet__stxn *st;
  bool more = true;
  uint64_t n = 0, mark = 0;
  OK(r, carnet__store_begin(r->store, true, &st));
  if (from_scratch) {
    OK(r, carnet__store_clear(st, CARNET__T_INDEX));
    OK(r, carnet__store_clear(st, CARNET__T_SEARCH));
    OK(r, carnet__index_mark_put(st, 0));
  }
  OK(r, carnet__index_catchup_walk(r, st, 0, &more, &n, walk, CARNET__DERIVE_ALL));
  assert_false(more);
  assert_true(n > 0);
  OK(r, carnet__index_mark(st, &mark));
  put_bytes(out, &mark, sizeof mark);
  for (size_t i = 0; i < 2; i++) {
    carnet__scur *cur = NULL;
    carnet_buf k, v;
    OK(r, carnet__store_cursor(st, tables[i], &cur));
    for (int rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
         rc = carnet__store_next(cur, &k, &v)) {
      put_bytes(out, k.base, k.len);
      put_bytes(out, v.base, v.len);
    }
    carnet__store_cursor_close(cur);
  }
  carnet__store_abort(st);
}

/* A catch-up that reads its backlog in id order (a large one: cursor over
 * the entities, signatures written as they come) writes the same index,
 * signatures and mark as one in the change index's order, whether the
 * index is empty or holds entities indexed before some were edited,
 * deleted, erased or added (engine/store/reindex.c). */
static void test_catchup_by_id_as_by_entry(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r;
  carnet_id who[900];
  carnet_txn *t;
  OK(r, carnet_txn_begin(r, &t));
  for (int i = 0; i < 600; i++) {
    char name[64], mail[64], phone[32];
    snprintf(name, sizeof name, "Émile Martin-%d", i % 450);
    snprintf(mail, sizeof mail, "e.martin%d@exemple.fr", i);
    snprintf(phone, sizeof phone, "06 11 %02d %02d %02d", i / 10000, i / 100 % 100, i % 100);
    who[i] = add_in(r, t, "name", name, "emails", mail, "phone", phone, "city", "Nîmes", NULL);
  }
  OK(r, carnet_txn_commit(t));
  OK(r, carnet__index_ready(r));     /* the mark past these */
  for (int i = 0; i < 600; i += 7) { /* indexed, then edited */
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    char phone[32];
    snprintf(phone, sizeof phone, "07 22 %02d %02d %02d", i / 10000, i / 100 % 100, i % 100);
    OK(r, carnet_patch_phone(p, "mobile", phone));
    if (i % 3 == 0) OK(r, carnet_patch_delete(p));
    OK(r, carnet_record_update_commit(r, &who[i], p));
    carnet_patch_free(p);
  }
  OK(r, carnet_txn_begin(r, &t));
  for (int i = 600; i < 900; i++) {
    char name[64], mail[64];
    snprintf(name, sizeof name, "Zoé Lefèvre SARL %d", i);
    snprintf(mail, sizeof mail, "zoe%d@exemple.fr", i % 250);
    who[i] = add_in(r, t, "name", name, "emails", mail, "postcode", "30000", NULL);
  }
  OK(r, carnet_txn_commit(t));
  OK(r, carnet_record_erase(r, &who[3], "request", NULL, NULL));   /* indexed */
  OK(r, carnet_record_erase(r, &who[700], "request", NULL, NULL)); /* not yet */
  bytes a = {0}, b = {0};
  for (int scratch = 0; scratch < 2; scratch++) {
    a.len = b.len = 0;
    caught_up(r, CARNET__WALK_ENTRIES, scratch, &a);
    caught_up(r, CARNET__WALK_IDS, scratch, &b);
    assert_true(a.len > 900 * 16);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.base, b.base, a.len);
  }
  free(a.base);
  free(b.base);
  /* As the large one picks (id order: 900 above a mark of 0). */
  OK(r, carnet__index_ready(r));
  assert_false(has_key_of(r, &who[3]));
  assert_false(has_key_of(r, &who[700]));
  assert_true(has_key_of(r, &who[701]));
  carnet_check_report c = CARNET_CHECK_REPORT_INIT;
  OK(r, carnet_replica_check(r, NULL, NULL, &c));
  assert_int_equal(c.missing_keys + c.extra_keys + c.bad_values + c.bad_rows + c.erased_rows, 0);
}

/* The fast folding of ASCII and Latin-1 letters is utf8proc's. A value
 * with an emoji is folded by utf8proc whole, and folds each code point on
 * its own: its folding starts with that of the letter alone. */
static void test_fast_fold_is_utf8proc(void **state) {
  (void)state;
  carnet__sbuf fast = {0}, slow = {0};
  for (unsigned cp = 0x20; cp <= 0x17f; cp++) {
    char in[16];
    int n = 0;
    if (cp < 0x80) {
      in[n++] = (char)cp;
    } else {
      in[n++] = (char)(0xC0 | (cp >> 6));
      in[n++] = (char)(0x80 | (cp & 0x3f));
    }
    in[n++] = 'x';
    fast.len = slow.len = 0;
    assert_int_equal(carnet__sfold(&fast, in, (size_t)n), 0);
    memcpy(in + n, "\xF0\x9F\x98\x80", 4); /* U+1F600 */
    assert_int_equal(carnet__sfold(&slow, in, (size_t)n + 4), 0);
    if (slow.len < 4 || fast.len != slow.len - 4 || memcmp(fast.p, slow.p, fast.len) != 0)
      fail_msg("U+%04X folds to '%.*s' fast, '%.*s' by utf8proc", cp, (int)fast.len, fast.p,
               (int)slow.len, slow.p);
  }
  carnet__sbuf_free(&fast);
  carnet__sbuf_free(&slow);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_exact_on_hard_cases, setup, teardown),
      cmocka_unit_test_setup_teardown(test_behind_the_mark, setup, teardown),
      cmocka_unit_test_setup_teardown(test_schema7_upgraded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_small_backlog_signed_with_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_catchup_as_one_by_one, setup, teardown),
      cmocka_unit_test_setup_teardown(test_catchup_by_id_as_by_entry, setup, teardown),
      cmocka_unit_test(test_doc_from_cells_is_the_records),
      cmocka_unit_test(test_fast_fold_is_utf8proc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
