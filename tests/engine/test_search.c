/* tests/engine/test_search.c - the in-memory search index (carnet/search.h,
 * engine/crm/search.c) and the text a search matches (engine/crm/searchtext.c),
 * which carnet_record_list's `text` filter shares.
 *
 * - What matches: accents, case, ligatures, apostrophes, phones in many
 *   written forms, a spaced SIRET, punctuation that counts, never across two
 *   values (on carnet_record_list and on the index alike).
 * - The property: on a generated base with hard cases (accented homonyms,
 *   phones typed in many forms, merged groups, unmerges, deleted and erased
 *   customers, changes from a peer), after every few random operations the
 *   index pages (random page sizes, by cursor) through exactly the ids
 *   carnet_record_list lists, for many filters. --seed=N replays a run;
 *   --steps=N makes it longer.
 * - Currency: a transaction too large for the feed's list (overflow), and
 *   changes committed by another process (the real `carnet`, $CARNET_BIN),
 *   both seen by the next query without any call of the app.
 * - Errors: a `customer` filter (CARNET_EINVAL), misuse, the memory bound
 *   (CARNET_ELIMIT, then an answer again once it fits), and bytes per
 *   customer measured on the generated base.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/carnet.h"
#include "engine/store/replica_int.h"
#include "support/proc.h"
#include "support/replicas.h"

static uint64_t g_seed = 0x5ea4c4;
static uint64_t g_steps = 160;

/* --- helpers ----------------------------------------------------------------- */

typedef struct ids {
  carnet_id *v;
  size_t n, cap;
} ids;

static void ids_push(ids *l, const carnet_id *id) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    assert_non_null(l->v);
  }
  l->v[l->n++] = *id;
}

static int collect(const carnet_record *rec, void *data) {
  ids_push(data, carnet_record_id(rec));
  return 0;
}

/* What carnet_record_list lists for `f`. */
static ids listed(carnet_replica *r, const carnet_filter *f) {
  ids l = {0};
  ASSERT_OK(r, carnet_record_list(r, CARNET_KIND_CUSTOMER, f, collect, &l));
  return l;
}

/* What the index gives for `f`, read page by page (`page` ids a page). */
static ids searched(carnet_replica *r, carnet_search *s, const carnet_filter *f, size_t page) {
  ids l = {0};
  carnet_id *buf = calloc(page + 1, sizeof *buf), last;
  bool has_last = false;
  assert_non_null(buf);
  for (;;) {
    size_t n = 99;
    ASSERT_OK(r, carnet_search_query(s, f, has_last ? &last : NULL, buf, page + 1, &n));
    assert_true(n <= page + 1);
    for (size_t i = 0; i < n && i < page; i++)
      ids_push(&l, &buf[i]);
    if (n <= page) break;
    last = buf[page - 1];
    has_last = true;
  }
  free(buf);
  return l;
}

static void describe(const carnet_filter *f, char *out, size_t len) {
  snprintf(out, len, "text=%s tag=%s role=%s rep=%s deleted=%d", f && f->text ? f->text : "-",
           f && f->tag ? f->tag : "-", f && f->role ? f->role : "-",
           f && f->sales_rep ? f->sales_rep : "-", f ? (int)f->include_deleted : 0);
}

/* The index and the listing agree on `f`; returns how many matched. */
static size_t same(carnet_replica *r, carnet_search *s, const carnet_filter *f, size_t page,
                   uint64_t seed, int step) {
  ids a = listed(r, f), b = searched(r, s, f, page);
  char what[512];
  if (a.n != b.n || (a.n && memcmp(a.v, b.v, a.n * sizeof *a.v) != 0)) {
    describe(f, what, sizeof what);
    fail_msg("seed %" PRIu64 " step %d: %s: listed %zu, index %zu (page %zu)", seed, step, what,
             a.n, b.n, page);
  }
  size_t n = a.n;
  free(a.v);
  free(b.v);
  return n;
}

typedef struct cust {
  const char *name, *company, *city, *email, *phone, *siret, *notes, *tag, *role, *rep;
} cust;

static carnet_id add(carnet_replica *r, const cust *c) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  assert_non_null(p);
  if (c->name) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, c->name));
  if (c->company) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_COMPANY, c->company));
  if (c->city) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CITY, c->city));
  if (c->email) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_EMAILS, c->email));
  if (c->phone) ASSERT_OK(r, carnet_patch_phone(p, "mobile", c->phone));
  if (c->siret) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_SIRET, c->siret));
  if (c->notes) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NOTES, c->notes));
  if (c->tag) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_TAGS, c->tag));
  if (c->role) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_ROLES, c->role));
  if (c->rep) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_SALES_REP, c->rep));
  /* Refused for an erased customer (an erasure takes its whole group). */
  if (carnet_record_create_commit(r, p, &id) != 0) memset(&id, 0, sizeof id);
  carnet_patch_free(p);
  return id;
}

/* The names (or companies) of what `f` lists, comma separated. */
static void names_of(carnet_replica *r, carnet_search *s, const char *text, char *out, size_t len) {
  carnet_filter f = {.text = text};
  carnet_id v[64];
  size_t n = 0;
  out[0] = '\0';
  ASSERT_OK(r, carnet_search_query(s, &f, NULL, v, 64, &n));
  for (size_t i = 0; i < n; i++) {
    carnet_record *rec = NULL;
    ASSERT_OK(r, carnet_record_get(r, &v[i], &rec));
    const char *nm = carnet_record_str(rec, CARNET_F_NAME);
    if (nm == NULL) nm = carnet_record_str(rec, CARNET_F_COMPANY);
    size_t used = strlen(out);
    snprintf(out + used, len - used, "%s%s", used ? "," : "", nm ? nm : "?");
    carnet_record_free(rec);
  }
}

/* --- fixture ----------------------------------------------------------------------- */

typedef struct fx {
  rfx *f;
} fx;

static int setup(void **state) {
  fx *x = calloc(1, sizeof *x);
  assert_non_null(x);
  x->f = rfx_new("search", 2, TENV_EPOCH_MS, 4242);
  *state = x;
  return 0;
}

static int teardown(void **state) {
  fx *x = *state;
  rfx_free(x->f);
  free(x);
  return 0;
}

/* --- what matches ------------------------------------------------------------------- */

static void expect(carnet_replica *r, carnet_search *s, const char *text, const char *want) {
  char got[1024];
  names_of(r, s, text, got, sizeof got);
  if (strcmp(got, want) != 0) fail_msg("search '%s': got [%s], want [%s]", text, got, want);
  /* carnet_record_list's text filter answers the same. */
  carnet_filter f = {.text = text};
  same(r, s, &f, 3, 0, 0);
}

static void test_what_matches(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_search *s = NULL;
  add(r, &(cust){.name = "Hélène Lefèvre", .city = "Saint-Étienne", .phone = "07 82 35 61 55"});
  add(r, &(cust){.name = "HELENE MARTIN", .email = "client.3@exemple.fr"});
  add(r, &(cust){.name = "Helen Mirren", .email = "client.30@exemple.fr", .tag = "Été"});
  add(r, &(cust){.company = "Œuvres d’Art SAS",
                 .siret = "73282932000074",
                 .notes = "Rappeler le lundi\nmatin"});
  add(r, &(cust){.name = "Zoé Straße", .company = "L'Hôpital du coin", .phone = "+32 2 123 45 67"});
  ASSERT_OK(r, carnet_search_new(r, 0, &s));

  expect(r, s, "helene", "Hélène Lefèvre,HELENE MARTIN");
  expect(r, s, "HÉLÈNE", "Hélène Lefèvre,HELENE MARTIN");
  expect(r, s, "hélèn", "Hélène Lefèvre,HELENE MARTIN,Helen Mirren");
  expect(r, s, "lefevre", "Hélène Lefèvre");
  expect(r, s, "saint-etienne", "Hélène Lefèvre");
  expect(r, s, "saint etienne", "Hélène Lefèvre");   /* two words, each found */
  expect(r, s, "saint_etienne", "");                 /* punctuation counts */
  expect(r, s, "oeuvres d'art", "Œuvres d’Art SAS"); /* ligature, apostrophes */
  expect(r, s, "l’hopital", "Zoé Straße");
  expect(r, s, "strasse", "Zoé Straße");
  expect(r, s, "ete", "Helen Mirren"); /* a tag */
  expect(r, s, "client.3@", "HELENE MARTIN");
  expect(r, s, "exemple.fr", "HELENE MARTIN,Helen Mirren");
  expect(r, s, "lundi matin", "Œuvres d’Art SAS"); /* a newline is a space */
  expect(r, s, "mirren client", "Helen Mirren");   /* words in two values */
  expect(r, s, "irren client", "Helen Mirren");
  /* Phones, in the forms people type them. */
  expect(r, s, "07 82 35 61 55", "Hélène Lefèvre");
  expect(r, s, "0782356155", "Hélène Lefèvre");
  expect(r, s, "+33782356155", "Hélène Lefèvre");
  expect(r, s, "+33 7 82 35 61 55", "Hélène Lefèvre");
  expect(r, s, "0033 7 82 35 61 55", "Hélène Lefèvre");
  expect(r, s, "07.82.35", "Hélène Lefèvre");
  expect(r, s, "61 55", "Hélène Lefèvre");
  expect(r, s, "02 123 45 67", "Zoé Straße"); /* Belgium's trunk 0 too */
  expect(r, s, "+32 2 123", "Zoé Straße");
  expect(r, s, "mobile", ""); /* a phone's type is not searched */
  /* A SIRET typed with spaces. */
  expect(r, s, "732 829 320", "Œuvres d’Art SAS");
  expect(r, s, "73282932000074", "Œuvres d’Art SAS");
  /* Nothing to search for: everything. */
  expect(r, s, "   ", "Hélène Lefèvre,HELENE MARTIN,Helen Mirren,Œuvres d’Art SAS,Zoé Straße");
  expect(r, s, "zzz", "");
  expect(r, s, "h\xff", ""); /* not UTF-8: folded as bytes, on both sides */
  carnet_search_free(s);
}

/* Words match on their own, in any value and any order (issue 16's
 * review, point 7); a number typed with spaces stays one number. */
static void test_words(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_search *s = NULL;
  add(r, &(cust){.name = "Jean Martin", .city = "Lyon", .email = "jm@exemple.fr"});
  add(r, &(cust){.name = "Paul Martin", .city = "Paris", .tag = "vip"});
  add(r, &(cust){.name = "Marie Durand", .city = "Lyon", .phone = "06 12 34 56 78"});
  add(r, &(cust){.name = "Luc Petit", .city = "Nice 06120", .siret = "73282932000074"});
  ASSERT_OK(r, carnet_search_new(r, 0, &s));
  expect(r, s, "martin lyon", "Jean Martin");
  expect(r, s, "lyon martin", "Jean Martin");
  expect(r, s, "  MARTIN   Lyon ", "Jean Martin");
  expect(r, s, "martin", "Jean Martin,Paul Martin");
  expect(r, s, "martin exemple.fr", "Jean Martin");
  expect(r, s, "vip martin", "Paul Martin");
  expect(r, s, "martin lille", "");
  expect(r, s, "lyon", "Jean Martin,Marie Durand");
  /* A word written like a number matches the phones by its digits. */
  expect(r, s, "lyon 0612345678", "Marie Durand");
  expect(r, s, "durand +33 6 12", "Marie Durand");
  expect(r, s, "petit 732 829", "Luc Petit"); /* "732" and "829" in the SIRET */
  /* A query written like a number is one number: "06 12" is the phone's
   * 0612..., not "06" and "12" (both in Luc Petit's "06120"). */
  expect(r, s, "06 12", "Marie Durand");
  /* Sixteen words at most: the sixteenth holds the rest of the text. */
  expect(r, s,
         "martin martin martin martin martin martin martin martin martin martin martin "
         "martin martin martin martin lyon",
         "Jean Martin");
  expect(r, s,
         "martin martin martin martin martin martin martin martin martin martin martin "
         "martin martin martin martin lyon martin",
         "");
  carnet_search_free(s);
}

/* --- a customer's records -------------------------------------------------------------- */

static int collect_ids(const carnet_record *rec, void *data) {
  ids_push(data, carnet_record_id(rec));
  return 0;
}

/* carnet_record_list(kind, {customer}) with the index attached and
 * current (it must answer: carnet__search_children returns 0) and without
 * it (the scan): the same records. */
static void same_children(carnet_replica *r, const ids *cus, int round) {
  static const carnet_kind kinds[] = {CARNET_KIND_CONTACT, CARNET_KIND_DOCUMENT, CARNET_KIND_ACTION,
                                      CARNET_KIND_REMINDER};
  for (size_t i = 0; i < cus->n; i++) {
    for (size_t k = 0; k < 4; k++) {
      for (int del = 0; del < 2; del++) {
        carnet_filter f = {.customer = &cus->v[i], .include_deleted = del};
        ids a = {0}, b = {0};
        carnet_id *v = NULL;
        size_t n = 0;
        if (carnet__search_children(r, &cus->v[i], kinds[k], &v, &n) != 0)
          fail_msg("round %d: the index does not answer for a customer's records", round);
        carnet_free(v);
        ASSERT_OK(r, carnet_record_list(r, kinds[k], &f, collect_ids, &a));
        struct carnet_search *saved = r->search;
        r->search = NULL;
        ASSERT_OK(r, carnet_record_list(r, kinds[k], &f, collect_ids, &b));
        r->search = saved;
        if (a.n != b.n || (a.n && memcmp(a.v, b.v, a.n * sizeof *a.v) != 0))
          fail_msg("round %d, customer %zu, kind %s: index %zu records, scan %zu", round, i,
                   carnet_kind_name(kinds[k]), a.n, b.n);
        free(a.v);
        free(b.v);
      }
    }
  }
}

static carnet_id child(carnet_replica *r, carnet_kind kind, const carnet_id *cu,
                       const carnet_id *cu2) {
  char hex[CARNET_ID_HEX_LEN + 1], hex2[CARNET_ID_HEX_LEN + 1];
  carnet_patch *p = carnet_patch_new(kind);
  carnet_id id;
  carnet_id_format(cu, hex);
  switch (kind) {
  case CARNET_KIND_CONTACT:
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, "Contact"));
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
    break;
  case CARNET_KIND_DOCUMENT:
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_DOC_TYPE, "quote"));
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
    break;
  case CARNET_KIND_REMINDER:
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_DATE, "2026-12-01"));
    break;
  default:
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CHANNEL, "visit"));
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMERS, hex));
    if (cu2) {
      carnet_id_format(cu2, hex2);
      ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMERS, hex2));
    }
  }
  /* Refused for an erased customer (an erasure takes its whole group). */
  if (carnet_record_create_commit(r, p, &id) != 0) memset(&id, 0, sizeof id);
  carnet_patch_free(p);
  return id;
}

/* A customer's contacts, documents, actions and reminders come from the
 * index's links (carnet_record_list's customer filter: the console's
 * customer page), through creations, moves, deletions, merges, unmerges
 * and an erasure, and answer what the scan answers (issue 16's review,
 * point 5). */
static void test_children(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_search *s = NULL;
  ids cus = {0}, kids = {0};
  trng g;
  trng_seed(&g, g_seed);
  for (int i = 0; i < 12; i++) {
    char name[32];
    snprintf(name, sizeof name, "Client %d", i);
    carnet_id id = add(r, &(cust){.name = name});
    ids_push(&cus, &id);
  }
  static const carnet_kind kinds[] = {CARNET_KIND_CONTACT, CARNET_KIND_DOCUMENT, CARNET_KIND_ACTION,
                                      CARNET_KIND_REMINDER};
  for (int i = 0; i < 20; i++) { /* some before the index is built */
    carnet_id k = child(r, kinds[i % 4], &cus.v[trng_below(&g, cus.n)],
                        i % 8 == 2 ? &cus.v[trng_below(&g, cus.n)] : NULL);
    ids_push(&kids, &k);
  }
  ASSERT_OK(r, carnet_search_new(r, 0, &s));
  same_children(r, &cus, 0);
  for (int round = 1; round <= 6; round++) {
    for (int i = 0; i < 10; i++) { /* more, through the feed (never to the erased one) */
      carnet_id k = child(r, kinds[trng_below(&g, 4)], &cus.v[1 + trng_below(&g, cus.n - 1)],
                          trng_chance(&g, 30) ? &cus.v[1 + trng_below(&g, cus.n - 1)] : NULL);
      if (k.b[0] || k.b[15]) ids_push(&kids, &k);
    }
    /* A record moved to another customer, one deleted. */
    carnet_id k = kids.v[trng_below(&g, kids.n)];
    carnet_record *rec = NULL;
    if (carnet_record_get(r, &k, &rec) != 0) continue; /* erased with its customer */
    if (carnet_record_kind(rec) == CARNET_KIND_CONTACT ||
        carnet_record_kind(rec) == CARNET_KIND_REMINDER) {
      char hex[CARNET_ID_HEX_LEN + 1];
      carnet_patch *p = carnet_patch_new(carnet_record_kind(rec));
      carnet_id_format(&cus.v[1 + trng_below(&g, cus.n - 1)], hex);
      ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
      (void)carnet_record_update_commit(r, &k, p); /* refused for an erased record */
      carnet_patch_free(p);
    }
    carnet_patch *p = carnet_patch_new(carnet_record_kind(rec));
    ASSERT_OK(r, carnet_patch_delete(p));
    (void)carnet_record_update_commit(r, &kids.v[trng_below(&g, kids.n)], p);
    carnet_patch_free(p);
    carnet_record_free(rec);
    /* Groups change: the records of a merged customer are its group's. */
    carnet_txn *t = NULL;
    carnet_id a = cus.v[trng_below(&g, cus.n)], b = cus.v[trng_below(&g, cus.n)];
    ASSERT_OK(r, carnet_txn_begin(r, &t));
    if (round % 3 == 0 ? carnet_merge_undo(t, &a, NULL) : carnet_merge_apply(t, &a, &b))
      carnet_txn_abort(t);
    else
      ASSERT_OK(r, carnet_txn_commit(t));
    if (round == 5) (void)carnet_record_erase(r, &cus.v[0], "the person asked", NULL, NULL);
    same_children(r, &cus, round);
  }
  /* An open transaction's own writes: the scan answers (the index cannot
   * know them). */
  carnet_txn *t = NULL;
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id last = add(r, &(cust){.name = "Dernier client"});
  carnet_id_format(&last, hex);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CONTACT);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, "Dans la transaction"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  carnet_id fresh;
  ASSERT_OK(r, carnet_record_create(t, p, NULL, &fresh));
  ids in = {0};
  ASSERT_OK(r, carnet_record_list(r, CARNET_KIND_CONTACT, &(carnet_filter){.customer = &last},
                                  collect_ids, &in));
  bool seen = false;
  for (size_t i = 0; i < in.n; i++)
    seen |= memcmp(in.v[i].b, fresh.b, 16) == 0;
  assert_true(seen);
  carnet_txn_abort(t);
  carnet_patch_free(p);
  free(in.v);
  free(cus.v);
  free(kids.v);
  carnet_search_free(s);
}

/* --- errors, bounds, memory ------------------------------------------------------------ */

static void test_errors_and_bound(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_search *s = NULL;
  carnet_id v[4], id;
  size_t n = 7, customers = 0, bytes = 0;
  for (int i = 0; i < 50; i++) {
    char name[64];
    snprintf(name, sizeof name, "Client numéro %d", i);
    add(r, &(cust){.name = name, .city = "Lyon", .tag = i % 2 ? "vip" : NULL});
  }
  assert_int_equal(carnet_search_new(r, 0, NULL), CARNET_EMISUSE);
  /* Too small a bound: refused, with a message. */
  ASSERT_RC(r, carnet_search_new(r, 2048, &s), CARNET_ELIMIT);
  assert_null(s);
  assert_non_null(strstr(carnet_replica_errmsg(r), "search index"));
  ASSERT_OK(r, carnet_search_new(r, 0, &s));
  ASSERT_OK(r, carnet_search_get_stats(s, &customers, &bytes));
  assert_int_equal(customers, 50);
  assert_true(bytes > 50 * 48);
  ASSERT_RC(r, carnet_search_query(s, &(carnet_filter){.customer = &id}, NULL, v, 4, &n),
            CARNET_EINVAL);
  assert_int_equal(n, 0);
  assert_int_equal(carnet_search_query(s, NULL, NULL, NULL, 4, &n), CARNET_EMISUSE);
  assert_int_equal(carnet_search_query(s, NULL, NULL, v, 4, NULL), CARNET_EMISUSE);
  ASSERT_OK(r, carnet_search_query(s, NULL, NULL, NULL, 0, &n));
  assert_int_equal(n, 0);
  ASSERT_OK(r, carnet_search_query(s, &(carnet_filter){.tag = "nobody"}, NULL, v, 4, &n));
  assert_int_equal(n, 0);
  ASSERT_OK(r, carnet_search_query(s, &(carnet_filter){.tag = "vip"}, NULL, v, 4, &n));
  assert_int_equal(n, 4);
  carnet_search_free(s);
  carnet_search_free(NULL);

  /* A bound that the book outgrows: the query says so, and answers again
   * once the book fits (here: the customers added are deleted). */
  ASSERT_OK(r, carnet_search_new(r, bytes + 2048, &s));
  carnet_id big[40];
  for (int i = 0; i < 40; i++)
    big[i] =
        add(r, &(cust){.name = "Un client de plus, avec un nom long, très long",
                       .notes = "Des notes, pour que le texte pèse dans l'index de recherche"});
  /* Reading the new customers again passes the bound; so does the build
   * that follows, until a change makes room. */
  ASSERT_RC(r, carnet_search_query(s, NULL, NULL, v, 4, &n), CARNET_ELIMIT);
  ASSERT_RC(r, carnet_search_query(s, NULL, NULL, v, 4, &n), CARNET_ELIMIT); /* sticky */
  for (int i = 0; i < 40; i++)
    ASSERT_OK(r, carnet_record_erase(r, &big[i], "a test of the bound", NULL, NULL));
  ASSERT_OK(r, carnet_search_query(s, NULL, NULL, v, 4, &n));
  assert_int_equal(n, 4);
  same(r, s, NULL, 7, 0, 0);
  carnet_search_free(s);
}

/* Bytes per customer on a book like a French small business's. */
static void test_memory_per_customer(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  static const char *const first[] = {"Hélène", "Jean-Pierre", "Noël", "Cécile", "Marc", "Anne"};
  static const char *const last[] = {"Martin", "Lefèvre", "Dupont", "Blanc", "Müller", "Roux"};
  static const char *const cities[] = {"Lyon", "Saint-Étienne", "Aix-en-Provence", "Paris"};
  carnet_search *s = NULL;
  size_t customers = 0, bytes = 0;
  carnet_txn *t = NULL;
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  for (int i = 0; i < 2000; i++) {
    char name[64], email[96], phone[32], street[64];
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    snprintf(name, sizeof name, "%s %s", first[i % 6], last[(i / 6) % 6]);
    snprintf(email, sizeof email, "client%d@exemple.fr", i);
    snprintf(phone, sizeof phone, "06 %02d %02d %02d %02d", i % 100, (i / 100) % 100, 12, 34);
    snprintf(street, sizeof street, "%d rue de la République", i % 200);
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_EMAILS, email));
    ASSERT_OK(r, carnet_patch_phone(p, "mobile", phone));
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_STREET, street));
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_POSTCODE, "69001"));
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CITY, cities[i % 4]));
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_TAGS, i % 3 ? "vip" : "salon"));
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_SALES_REP, i % 2 ? "marie" : "paul"));
    ASSERT_OK(r, carnet_record_create(t, p, NULL, NULL));
    carnet_patch_free(p);
  }
  ASSERT_OK(r, carnet_txn_commit(t));
  ASSERT_OK(r, carnet_search_new(r, 0, &s));
  ASSERT_OK(r, carnet_search_get_stats(s, &customers, &bytes));
  assert_int_equal(customers, 2000);
  print_message("search index: %zu customers, %zu bytes, %zu bytes per customer\n", customers,
                bytes, bytes / customers);
  assert_true(bytes / customers < 400);
  carnet_search_free(s);
}

/* --- currency -------------------------------------------------------------------------- */

/* A transaction that changes more entities than an event lists. */
static void test_overflow(void **state) {
  fx *x = *state;
  carnet_replica *a = x->f->r[0], *b = x->f->r[1];
  carnet_search *s = NULL;
  add(a, &(cust){.name = "Avant"});
  ASSERT_OK(a, carnet_search_new(a, 0, &s));
  carnet_txn *t = NULL;
  ASSERT_OK(b, carnet_txn_begin(b, &t));
  for (unsigned i = 0; i < CARNET_FEED_CHANGES_MAX + 10; i++) {
    char name[48];
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    snprintf(name, sizeof name, "Importé %u", i);
    ASSERT_OK(b, carnet_patch_set(p, CARNET_F_NAME, name));
    ASSERT_OK(b, carnet_record_create(t, p, NULL, NULL));
    carnet_patch_free(p);
  }
  ASSERT_OK(b, carnet_txn_commit(t));
  rfx_sync(b, a, 0); /* a peer's changes, in batches: some overflow */
  assert_int_equal(same(a, s, NULL, 500, 0, 0), CARNET_FEED_CHANGES_MAX + 11);
  /* Two words: "Importé", and 409 anywhere (a name, a reference code). */
  assert_true(same(a, s, &(carnet_filter){.text = "IMPORTE 409"}, 50, 0, 0) >= 11);
  carnet_search_free(s);
}

/* `carnet --dir DIR ARGS...`, which must succeed; returns its first line. */
static char *carnet_cli(const char *dir, const char *const *args) {
  const char *bin = getenv("CARNET_BIN");
  const char *argv[24];
  int n = 0;
  proc_result res;
  assert_non_null(bin);
  argv[n++] = bin;
  argv[n++] = "--dir";
  argv[n++] = dir;
  for (int i = 0; args[i]; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  assert_int_equal(proc_run(argv, NULL, &res), 0);
  if (res.status != 0) fail_msg("carnet %s: exit %d: %s", args[0], res.status, res.err);
  char *line = strdup(res.out);
  assert_non_null(line);
  line[strcspn(line, "\n")] = '\0';
  proc_result_free(&res);
  return line;
}

#define CLI(dir, ...) carnet_cli((dir), (const char *const[]){__VA_ARGS__, NULL})

/* Another process writes the directory: the next query sees it. */
static void test_other_process(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_search *s = NULL;
  char got[256];
  carnet_id id = add(r, &(cust){.name = "Cécile Blanc"});
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&id, hex);
  ASSERT_OK(r, carnet_search_new(r, 0, &s));
  free(CLI(x->f->dir[0], "customer", "add", "--name", "Noël Blanc", "--phone", "06 12 34 56 78"));
  names_of(r, s, "noel", got, sizeof got);
  assert_string_equal(got, "Noël Blanc");
  names_of(r, s, "0612345678", got, sizeof got);
  assert_string_equal(got, "Noël Blanc");
  free(CLI(x->f->dir[0], "customer", "edit", hex, "--name", "Cécile Rouge"));
  names_of(r, s, "blanc", got, sizeof got);
  assert_string_equal(got, "Noël Blanc");
  names_of(r, s, "cecile", got, sizeof got);
  assert_string_equal(got, "Cécile Rouge");
  same(r, s, NULL, 1, 0, 0);
  carnet_search_free(s);
}

/* --- the property ----------------------------------------------------------------------- */

static const char *const P_FIRST[] = {"Hélène",   "Helene",    "HÉLÈNE",      "Zoé",   "Zoe",
                                      "Noël",     "Cécile",    "Jean-Pierre", "Œdipe", "Loïc",
                                      "François", "Françoise", "Anne",        "Ærin"};
static const char *const P_LAST[] = {"Martin",    "Dupont",    "Blanc",  "Lefèvre", "Lefevre",
                                     "L'Hôpital", "L’Hôpital", "Müller", "Straße",  "Ñúñez"};
static const char *const P_COMPANY[] = {"Garage Blanc SARL",
                                        "Électricité Générale",
                                        "ELECTRICITE GENERALE",
                                        "Boulangerie Dupont & Fils",
                                        "Œuvres d'Art SAS",
                                        NULL,
                                        NULL,
                                        NULL};
static const char *const P_CITY[] = {
    "Lyon", "Paris", "Saint-Étienne", "SAINT ETIENNE", "Aix-en-Provence", "Orléans", NULL};
static const char *const P_TAG[] = {"vip", "b2b", "Été", "salon", NULL};
static const char *const P_ROLE[] = {"prospect", "customer", "supplier", NULL};
static const char *const P_REP[] = {"marie", "paul", "Hélène", NULL};
/* One number, several ways of writing it, and others. */
static const char *const P_PHONE[] = {"07 82 35 61 55",
                                      "0782356155",
                                      "+33782356155",
                                      "+33 7 82 35 61 55",
                                      "06 12 34 56 78",
                                      "01.45.67.89.10",
                                      "+32 2 123 45 67",
                                      NULL,
                                      NULL};
static const char *const P_SIRET[] = {"73282932000074", "55203253400646", NULL, NULL, NULL};
static const char *const P_TEXT[] = {"helene",
                                     "HÉLÈNE",
                                     "hele",
                                     "lefevre",
                                     "l'hopital",
                                     "l’hôpital",
                                     "oe",
                                     "oedipe",
                                     "strasse",
                                     "nunez",
                                     "aerin",
                                     "06 12",
                                     "0612345678",
                                     "+33 6 12 34 56 78",
                                     "0033612345678",
                                     "782 356",
                                     "07 82 35 61 55",
                                     "+33782356155",
                                     "0782356155",
                                     "123 456",
                                     "732 829 320",
                                     "garage blanc",
                                     "sarl",
                                     "électricité",
                                     "ELECTRICITE",
                                     "saint-etienne",
                                     "saint etienne",
                                     "zz",
                                     "@",
                                     "exemple.fr",
                                     "a",
                                     "-",
                                     "   ",
                                     "client.1",
                                     "francois",
                                     "01 45",
                                     "vip",
                                     "ete",
                                     "martin lyon",
                                     "lyon martin",
                                     "helene paris",
                                     "garage sarl",
                                     "vip ete",
                                     "dupont fils b2b",
                                     "helene 0782356155",
                                     "martin 06 12",
                                     "oe l'"};

#define PICK(g, arr) (arr)[trng_below((g), sizeof(arr) / sizeof(arr)[0])]

typedef struct world {
  ids all;                                          /* every customer created (some gone since) */
  unsigned merged, unmerged, erased, deleted, peer; /* operations that took */
  size_t matched;                                   /* ids compared, all checks */
} world;

static carnet_id p_create(carnet_replica *r, trng *g, world *w) {
  char name[128], email[64];
  snprintf(name, sizeof name, "%s %s", PICK(g, P_FIRST), PICK(g, P_LAST));
  snprintf(email, sizeof email, "client.%u@exemple.fr", trng_below(g, 40));
  cust c = {.name = trng_chance(g, 90) ? name : NULL,
            .company = PICK(g, P_COMPANY),
            .city = PICK(g, P_CITY),
            .email = trng_chance(g, 50) ? email : NULL,
            .phone = PICK(g, P_PHONE),
            .siret = PICK(g, P_SIRET),
            .notes = trng_chance(g, 20) ? "Rappeler le lundi, 07 82 35 61 55" : NULL,
            .tag = PICK(g, P_TAG),
            .role = PICK(g, P_ROLE),
            .rep = PICK(g, P_REP)};
  if (c.name == NULL && c.company == NULL) c.company = "Sans Nom SA";
  carnet_id id = add(r, &c);
  ids_push(&w->all, &id);
  return id;
}

static bool pick_any(trng *g, world *w, carnet_id *out) {
  if (w->all.n == 0) return false;
  *out = w->all.v[trng_below(g, (uint32_t)w->all.n)];
  return true;
}

/* One random operation on `a` (or on the peer `b`, then synced). Failures
 * the engine answers for a state (already merged, erased, deleted...) are
 * part of the game: the index must agree whatever happened. */
static void p_step(carnet_replica *a, carnet_replica *b, trng *g, world *w) {
  carnet_id x, y;
  unsigned op = trng_below(g, 100);
  if (op < 30 || w->all.n < 4) {
    p_create(a, g, w);
  } else if (op < 45) { /* edit */
    if (!pick_any(g, w, &x)) return;
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    unsigned what = trng_below(g, 5);
    if (what == 0) carnet_patch_set(p, CARNET_F_NAME, PICK(g, P_FIRST));
    if (what == 1) carnet_patch_set(p, CARNET_F_CITY, PICK(g, P_CITY));
    if (what == 2) carnet_patch_set(p, CARNET_F_TAGS, PICK(g, P_TAG));
    if (what == 3) carnet_patch_remove(p, CARNET_F_TAGS, PICK(g, P_TAG));
    if (what == 4) carnet_patch_phone(p, "mobile", "06 12 34 56 78");
    (void)carnet_record_update_commit(a, &x, p);
    carnet_patch_free(p);
  } else if (op < 52) { /* delete */
    if (!pick_any(g, w, &x)) return;
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    carnet_patch_delete(p);
    w->deleted += carnet_record_update_commit(a, &x, p) == 0;
    carnet_patch_free(p);
  } else if (op < 67) { /* merge */
    if (!pick_any(g, w, &x) || !pick_any(g, w, &y)) return;
    w->merged += TX(a, carnet_merge_apply(t, &x, &y)) == 0;
  } else if (op < 74) { /* unmerge */
    if (!pick_any(g, w, &x)) return;
    w->unmerged += TX(a, carnet_merge_undo(t, &x, NULL)) == 0;
  } else if (op < 78) { /* erase */
    if (!pick_any(g, w, &x)) return;
    w->erased += carnet_record_erase(a, &x, "the person asked", NULL, NULL) == 0;
  } else {
    w->peer++; /* on the peer, then a sync: the index hears it as a peer's */
    rfx_sync(a, b, 0);
    unsigned k = 1 + trng_below(g, 3);
    for (unsigned i = 0; i < k; i++) {
      if (trng_chance(g, 60) || !pick_any(g, w, &x)) {
        p_create(b, g, w);
      } else if (trng_chance(g, 50)) {
        carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
        carnet_patch_set(p, CARNET_F_COMPANY, PICK(g, P_COMPANY));
        (void)carnet_record_update_commit(b, &x, p);
        carnet_patch_free(p);
      } else if (pick_any(g, w, &y)) {
        (void)TX(b, carnet_merge_apply(t, &x, &y));
      }
    }
    rfx_sync(b, a, 0);
  }
}

static void p_check(carnet_replica *r, carnet_search *s, trng *g, world *w, uint64_t seed,
                    int step) {
  size_t page = 1 + trng_below(g, 7);
  w->matched += same(r, s, NULL, page, seed, step);
  w->matched += same(r, s, &(carnet_filter){.include_deleted = true}, page, seed, step);
  for (int i = 0; i < 4; i++) {
    carnet_filter f = {.text = PICK(g, P_TEXT)};
    if (trng_chance(g, 25)) f.tag = PICK(g, P_TAG);
    if (trng_chance(g, 25)) f.role = PICK(g, P_ROLE);
    if (trng_chance(g, 25)) f.sales_rep = PICK(g, P_REP);
    f.include_deleted = trng_chance(g, 30);
    w->matched += same(r, s, &f, 1 + trng_below(g, 7), seed, step);
  }
  carnet_filter f = {.tag = PICK(g, P_TAG), .role = PICK(g, P_ROLE), .sales_rep = PICK(g, P_REP)};
  w->matched += same(r, s, &f, page, seed, step);
}

static void test_property(void **state) {
  fx *x = *state;
  carnet_replica *a = x->f->r[0], *b = x->f->r[1];
  trng g;
  world w = {0};
  carnet_search *s = NULL;
  trng_seed(&g, g_seed);
  print_message("seed %" PRIu64 " (--seed=%" PRIu64 " replays it), %" PRIu64 " steps\n", g_seed,
                g_seed, g_steps);
  for (int i = 0; i < 12; i++)
    p_create(a, &g, &w);
  ASSERT_OK(a, carnet_search_new(a, 0, &s));
  for (int step = 0; step < (int)g_steps; step++) {
    p_step(a, b, &g, &w);
    if (step % 3 == 2) p_check(a, s, &g, &w, g_seed, step);
  }
  p_check(a, s, &g, &w, g_seed, (int)g_steps);
  print_message("%zu customers made, %u merges, %u unmerges, %u deletions, %u erasures, %u rounds "
                "on the peer; %zu ids compared\n",
                w.all.n, w.merged, w.unmerged, w.deleted, w.erased, w.peer, w.matched);
  /* The run exercised what it claims to. */
  assert_true(w.merged > 3 && w.unmerged > 0 && w.erased > 0 && w.deleted > 0 && w.peer > 3);
  /* The index built anew from the same store agrees with the one kept. */
  carnet_search *fresh = NULL;
  ASSERT_OK(a, carnet_search_new(a, 0, &fresh));
  carnet_filter all = {.include_deleted = true};
  ids k = searched(a, s, &all, 1000), f2 = searched(a, fresh, &all, 1000);
  assert_int_equal(k.n, f2.n);
  assert_memory_equal(k.v, f2.v, k.n * sizeof *k.v);
  free(k.v);
  free(f2.v);
  carnet_search_free(fresh);
  carnet_search_free(s);
  free(w.all.v);
}

int main(int argc, char **argv) {
  targ_seed(argc, argv, &g_seed);
  g_steps = targ_u64(argc, argv, "steps", g_steps);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_what_matches, setup, teardown),
      cmocka_unit_test_setup_teardown(test_words, setup, teardown),
      cmocka_unit_test_setup_teardown(test_children, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors_and_bound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_memory_per_customer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_process, setup, teardown),
      cmocka_unit_test_setup_teardown(test_property, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
