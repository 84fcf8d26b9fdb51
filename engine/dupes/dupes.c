/* engine/dupes/dupes.c - duplicate candidates from the blind indexes
 * (carnet/dupes.h).
 *
 * 1. Pairs: for each tag ('s' 'S' 'p' 'e' 'h' 'n'), a cursor walks the
 *    index keys of that tag in order; keys are tag + hash + id, so the
 *    customers sharing one value form a run, and every pair within a run
 *    (at most CARNET_DUPE_RUN_MAX entities of it) is a candidate with that
 *    reason. 'n' runs are name blocks: their pairs are only compared.
 *    Pairs go to a hash set keyed by the two ids, reasons OR'ed.
 * 2. Summaries: each customer in a pair is loaded once: folded name and
 *    company (both word orders), place (postcode or city).
 * 3. Score: each kind of evidence has a weight w, combined as
 *    1 - prod(1 - w) (independent evidence adds up, never past 1); a pair
 *    whose names differ (Jaro-Winkler below 0.95) and that shares no SIRET
 *    is damped, down to x0.6 at 0.6 and below (a family's landline, an
 *    accountant's e-mail). Evidence against (carnet/dupes.h): values both
 *    records hold and that differ. Two SIRETs of one SIREN cap the score
 *    at 0.5 (two establishments), of two SIRENs multiply it by 0.3;
 *    e-mails, mobiles, legal forms and contact persons that differ weaken
 *    the name's weight only (homonyms: same name, same place, another
 *    person). Weights tuned with bench/dupes_quality.c (docs/DESIGN-NOTES.md,
 *    "Duplicate detection").
 */
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/dupes.h"
#include "carnet/error.h"
#include "carnet/normalize.h"
#include "carnet/record.h"
#include "engine/base/alloc.h"
#include "engine/base/fold.h"
#include "engine/base/mp.h"
#include "engine/dupes/dupes_int.h"
#include "engine/store/entity_io.h"
#include "engine/store/phone_cache.h"
#include "engine/store/replica_int.h"

#define REASON_BLOCK (1u << 15) /* internal: same name block, compare names */

const char *carnet_dupes_reason_name(carnet_dupe_reason bit) {
  switch (bit) {
  case CARNET_DUPE_SIRET:
    return "same SIRET";
  case CARNET_DUPE_SIREN:
    return "same SIREN";
  case CARNET_DUPE_PHONE:
    return "same phone";
  case CARNET_DUPE_EMAIL:
    return "same email";
  case CARNET_DUPE_EMAIL_HINT:
    return "similar email (+tag or dots)";
  case CARNET_DUPE_NAME:
    return "similar name, same postcode/city";
  case CARNET_DUPE_NAME_COMPANY:
    return "the similar names are the companies'";
  case CARNET_DUPE_OTHER_ESTABLISHMENT:
    return "same company, other establishment";
  case CARNET_DUPE_DIFF_SIRET:
    return "different SIRET";
  case CARNET_DUPE_DIFF_EMAIL:
    return "different e-mails";
  case CARNET_DUPE_DIFF_MOBILE:
    return "different mobiles";
  case CARNET_DUPE_DIFF_FORM:
    return "different legal forms";
  case CARNET_DUPE_DIFF_PERSON:
    return "different contact persons";
  case CARNET_DUPE_DIFF_PHONE:
    return "different phones";
  default:
    return NULL;
  }
}

/* --- Jaro-Winkler ---------------------------------------------------------- */

/* Jaro-Winkler of s[0..n) and t[0..m). */
static double jw(const char *s, size_t n, const char *t, size_t m) {
  if (n == 0 && m == 0) return 1.0;
  if (n == 0 || m == 0) return 0.0;
  if (n > CARNET_NAME_FOLD_MAX) n = CARNET_NAME_FOLD_MAX;
  if (m > CARNET_NAME_FOLD_MAX) m = CARNET_NAME_FOLD_MAX;
  bool sm[CARNET_NAME_FOLD_MAX], tm[CARNET_NAME_FOLD_MAX];
  memset(sm, 0, n);
  memset(tm, 0, m);
  size_t win = (n > m ? n : m) / 2, matches = 0;
  win = win > 0 ? win - 1 : 0;
  for (size_t i = 0; i < n; i++) {
    size_t lo = i > win ? i - win : 0, hi = i + win + 1 < m ? i + win + 1 : m;
    for (size_t j = lo; j < hi; j++) {
      if (tm[j] || s[i] != t[j]) continue;
      sm[i] = tm[j] = true;
      matches++;
      break;
    }
  }
  if (matches == 0) return 0.0;
  size_t k = 0, half = 0;
  for (size_t i = 0; i < n; i++) {
    if (!sm[i]) continue;
    while (!tm[k])
      k++;
    if (s[i] != t[k]) half++;
    k++;
  }
  double md = (double)matches;
  double jaro = (md / (double)n + md / (double)m + (md - (double)half / 2.0) / md) / 3.0;
  size_t prefix = 0;
  while (prefix < 4 && prefix < n && prefix < m && s[prefix] == t[prefix])
    prefix++;
  return jaro + (double)prefix * 0.1 * (1.0 - jaro);
}

double carnet_name_similarity(const char *s, const char *t) {
  return jw(s, strlen(s), t, strlen(t));
}

/* The greatest Jaro-Winkler two strings of lengths n and m can reach: every
 * character of the shorter one matched, in order, with a full prefix. */
static double jw_bound(size_t n, size_t m) {
  if (n == 0 || m == 0) return n == m ? 1.0 : 0.0;
  double r = n < m ? (double)n / (double)m : (double)m / (double)n;
  double jaro = (r + 1.0 + 1.0) / 3.0;
  return jaro + 0.4 * (1.0 - jaro);
}

/* --- Pair set ------------------------------------------------------------- */

typedef struct pair {
  carnet_id a, b;
  unsigned reasons;
  bool used;
} pair;

typedef struct pairset {
  pair *v;
  size_t cap, n; /* cap is a power of two */
} pairset;

static uint64_t pair_hash(const carnet_id *a, const carnet_id *b) {
  uint64_t x, y;
  memcpy(&x, a->b + 8, 8); /* the random half of a time-ordered id */
  memcpy(&y, b->b + 8, 8);
  x ^= y * 0x9e3779b97f4a7c15ull;
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  return x ^ (x >> 29);
}

static int pairset_add(pairset *ps, const carnet_id *x, const carnet_id *y, unsigned reasons) {
  int c = memcmp(x->b, y->b, 16);
  if (c == 0) return 0;
  const carnet_id *a = c < 0 ? x : y, *b = c < 0 ? y : x;
  if ((ps->n + 1) * 2 > ps->cap) {
    size_t cap = ps->cap ? ps->cap * 2 : 1024;
    pair *v = carnet__calloc(cap, sizeof *v);
    if (v == NULL) return CARNET_ENOMEM;
    for (size_t i = 0; i < ps->cap; i++) {
      if (!ps->v[i].used) continue;
      size_t h = pair_hash(&ps->v[i].a, &ps->v[i].b) & (cap - 1);
      while (v[h].used)
        h = (h + 1) & (cap - 1);
      v[h] = ps->v[i];
    }
    carnet__free(ps->v);
    ps->v = v;
    ps->cap = cap;
  }
  size_t h = pair_hash(a, b) & (ps->cap - 1);
  while (ps->v[h].used) {
    if (memcmp(ps->v[h].a.b, a->b, 16) == 0 && memcmp(ps->v[h].b.b, b->b, 16) == 0) {
      ps->v[h].reasons |= reasons;
      return 0;
    }
    h = (h + 1) & (ps->cap - 1);
  }
  ps->v[h] = (pair){*a, *b, reasons, true};
  ps->n++;
  return 0;
}

static unsigned tag_reason(uint8_t tag) {
  switch (tag) {
  case CARNET__IDX_SIRET:
    return CARNET_DUPE_SIRET;
  case CARNET__IDX_SIREN:
    return CARNET_DUPE_SIREN;
  case CARNET__IDX_PHONE:
    return CARNET_DUPE_PHONE;
  case CARNET__IDX_EMAIL:
    return CARNET_DUPE_EMAIL;
  case CARNET__IDX_EMAIL_HINT:
    return CARNET_DUPE_EMAIL_HINT;
  case CARNET__IDX_NAME:
    return REASON_BLOCK;
  default:
    return 0;
  }
}

static const uint8_t blind_tags[] = {CARNET__IDX_SIRET, CARNET__IDX_SIREN,      CARNET__IDX_PHONE,
                                     CARNET__IDX_EMAIL, CARNET__IDX_EMAIL_HINT, CARNET__IDX_NAME};

static int run_pairs(pairset *ps, const carnet_id *run, size_t n, unsigned reason) {
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    for (size_t j = i + 1; j < n && rc == 0; j++)
      rc = pairset_add(ps, &run[i], &run[j], reason);
  return rc;
}

/* Step 1 for the whole base. */
static int scan_all(carnet__stxn *st, pairset *ps) {
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  carnet_id run[CARNET_DUPE_RUN_MAX];
  int rc = carnet__store_cursor(st, CARNET__T_INDEX, &cur);
  if (rc) return rc;
  for (size_t t = 0; t < sizeof blind_tags && rc == 0; t++) {
    uint8_t tag = blind_tags[t], hash[CARNET__INDEX_HASH_LEN];
    size_t n = 0;
    unsigned reason = tag_reason(tag);
    for (rc = carnet__store_seek(cur, &tag, 1, &k, &v); rc == 0;
         rc = carnet__store_next(cur, &k, &v)) {
      const uint8_t *kb = k.base;
      if (k.len == 0 || kb[0] != tag) break;
      if (k.len != CARNET__INDEX_BLIND_KEY_LEN) continue; /* not ours: skip */
      if (n > 0 && memcmp(hash, kb + 1, sizeof hash) != 0) {
        if ((rc = run_pairs(ps, run, n, reason))) goto done;
        n = 0;
      }
      memcpy(hash, kb + 1, sizeof hash);
      if (n < CARNET_DUPE_RUN_MAX) memcpy(run[n++].b, kb + 1 + sizeof hash, 16);
    }
    if (rc != 0 && rc != CARNET_ENOTFOUND) goto done;
    rc = run_pairs(ps, run, n, reason);
  }
done:
  carnet__store_cursor_close(cur);
  return rc;
}

/* Step 1 for one customer: the runs of its own keys. */
static int scan_one(carnet__stxn *st, const carnet_id *id, pairset *ps) {
  carnet__loaded l;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  int rc = carnet__load(st, id, &l);
  if (rc || !l.existed || !l.has_secret) goto done;
  if ((rc = carnet__store_cursor(st, CARNET__T_INDEX, &cur))) goto done;
  for (size_t i = 0; i < l.old_keys.n && rc == 0; i++) {
    const uint8_t *key = l.old_keys.keys[i].base;
    unsigned reason = tag_reason(key[0]);
    if (reason == 0 || l.old_keys.keys[i].len != CARNET__INDEX_BLIND_KEY_LEN) continue;
    size_t seen = 0;
    for (rc = carnet__store_seek(cur, key, 1 + CARNET__INDEX_HASH_LEN, &k, &v);
         rc == 0 && seen < CARNET_DUPE_RUN_MAX; rc = carnet__store_next(cur, &k, &v), seen++) {
      if (k.len != CARNET__INDEX_BLIND_KEY_LEN ||
          memcmp(k.base, key, 1 + CARNET__INDEX_HASH_LEN) != 0)
        break;
      carnet_id other;
      memcpy(other.b, (const uint8_t *)k.base + 1 + CARNET__INDEX_HASH_LEN, 16);
      if ((rc = pairset_add(ps, id, &other, reason))) goto done;
    }
    if (rc == CARNET_ENOTFOUND) rc = 0;
  }
done:
  carnet__store_cursor_close(cur);
  carnet__loaded_free(&l);
  return rc;
}

/* --- Summaries ------------------------------------------------------------ */

#define PHONES_MAX 6 /* the phones of a customer compared; more are ignored */

typedef struct summary {
  carnet_id id;
  char *names[4]; /* folded name, sorted name, folded company, sorted company */
  size_t lens[4];
  char place[64];
  char siret[15];
  char form[8]; /* the company's legal form, folded ("sarl"), or "" */
  bool company; /* type company */
  bool person;  /* names[0..1] name a person (not the company again) */
  bool email;   /* holds an e-mail */
  uint8_t nphones;
  bool mobile[PHONES_MAX]; /* phones[i] is a mobile */
  char phones[PHONES_MAX][CARNET_PHONE_E164_MAX];
  bool ok;
} summary;

static int id_cmp(const void *x, const void *y) {
  return memcmp(x, y, 16);
}

static char *dup_fold(const char *s, bool sorted, size_t *len) {
  char f[CARNET_NAME_FOLD_MAX];
  *len = 0;
  if (s == NULL || *s == '\0') return NULL;
  int rc = sorted ? carnet_name_fold_sorted(s, f, sizeof f) : carnet_name_fold(s, f, sizeof f);
  if (rc != 0 || f[0] == '\0') return NULL;
  *len = strlen(f);
  return carnet__strdup(f);
}

/* A scalar string cell of `e`, NUL-terminated into `out` ("" when unset,
 * cleared or too long). */
static void cell_text(const carnet__entity *e, carnet_field f, char *out, size_t len) {
  const carnet__cell *c = carnet__entity_find(e, f, NULL, 0);
  out[0] = '\0';
  if (c == NULL || c->vlen == 0) return;
  const uint8_t *v = c->val;
  size_t n, hdr;
  if ((v[0] & 0xe0) == 0xa0) { /* fixstr */
    n = v[0] & 0x1f;
    hdr = 1;
  } else if (v[0] == 0xd9 && c->vlen >= 2) {
    n = v[1];
    hdr = 2;
  } else if (v[0] == 0xda && c->vlen >= 3) {
    n = (size_t)v[1] << 8 | v[2];
    hdr = 3;
  } else {
    return; /* nil (cleared), or not a string */
  }
  if (hdr + n > c->vlen || n >= len) return;
  memcpy(out, v + hdr, n);
  out[n] = '\0';
}

/* Keeps the customer's PHONES_MAX smallest phones (by number, then a
 * mobile before a line): cells come in slot order, and slot ids are random,
 * so "the first six" would differ between two replicas of one customer
 * and two runs could score the same pair differently. */
static void keep_phone(summary *s, const char *text, bool mobile) {
  size_t at = s->nphones;
  if (at == PHONES_MAX) {
    /* Full: the new phone replaces the greatest one if it is smaller. */
    at = 0;
    for (size_t i = 1; i < PHONES_MAX; i++) {
      int c = strcmp(s->phones[i], s->phones[at]);
      if (c > 0 || (c == 0 && !s->mobile[i] && s->mobile[at])) at = i;
    }
    int c = strcmp(text, s->phones[at]);
    if (c > 0 || (c == 0 && (!mobile || s->mobile[at]))) return;
  } else {
    s->nphones++;
  }
  s->mobile[at] = mobile;
  memcpy(s->phones[at], text, strlen(text) + 1);
}

/* Whether the customer holds an e-mail, and its phones (E.164), from its
 * element cells: a phone is [type, number], nil once removed; an e-mail's
 * value is true while it is held. */
static void contacts(const carnet__entity *e, summary *s) {
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    if (c->field == CARNET_F_EMAILS && c->vlen == 1 && c->val[0] == 0xc3) s->email = true;
    if (c->field != CARNET_F_PHONES) continue;
    /* A phone is a two-element array of short strings: read in place
     * (carnet__mp_obj1); anything else is no phone to compare. */
    msgpack_object o, el[4];
    if (!carnet__mp_obj1(c->val, c->vlen, &o, el) || o.type != MSGPACK_OBJECT_ARRAY ||
        o.via.array.size != 2)
      continue;
    const msgpack_object *t = &el[0], *num = &el[1];
    if (t->type == MSGPACK_OBJECT_STR && num->type == MSGPACK_OBJECT_STR &&
        num->via.str.size < CARNET_PHONE_E164_MAX) {
      bool mobile = t->via.str.size == 6 && memcmp(t->via.str.ptr, "mobile", 6) == 0;
      char text[CARNET_PHONE_E164_MAX];
      memcpy(text, num->via.str.ptr, num->via.str.size);
      text[num->via.str.size] = '\0';
      keep_phone(s, text, mobile);
    }
  }
}

/* Read the customer's own row (not its merged group: pairs are scored
 * between the records as they are), inside the scan's read transaction. */
static int summarize(carnet__stxn *st, summary *s) {
  carnet_buf row;
  carnet__entity e;
  char name[CARNET_NAME_FOLD_MAX], company[CARNET_NAME_FOLD_MAX], pc[32], city[128], siret[64];
  int rc = carnet__store_get(st, CARNET__T_ENTITIES, s->id.b, 16, &row);
  if (rc == CARNET_ENOTFOUND) return 0;
  if (rc) return rc;
  carnet__entity_init(&e, NULL);
  /* Cells point into the map, valid until the transaction ends. */
  if ((rc = carnet__row_decode(&s->id, row.base, row.len, &e))) return rc;
  const carnet__cell *del = carnet__entity_find(&e, CARNET_F_DELETED, NULL, 0);
  if (e.kind == CARNET_KIND_CUSTOMER && !(del && del->vlen == 1 && del->val[0] == 0xc3)) {
    cell_text(&e, CARNET_F_NAME, name, sizeof name);
    cell_text(&e, CARNET_F_COMPANY, company, sizeof company);
    cell_text(&e, CARNET_F_POSTCODE, pc, sizeof pc);
    cell_text(&e, CARNET_F_CITY, city, sizeof city);
    cell_text(&e, CARNET_F_SIRET, siret, sizeof siret);
    s->names[0] = dup_fold(name, false, &s->lens[0]);
    s->names[1] = dup_fold(name, true, &s->lens[1]);
    s->names[2] = dup_fold(company, false, &s->lens[2]);
    s->names[3] = dup_fold(company, true, &s->lens[3]);
    carnet__index_place(pc, city, s->place, sizeof s->place);
    if (siret[0] == '\0' || carnet_siret_normalize(siret, s->siret) != 0) s->siret[0] = '\0';
    char type[16];
    cell_text(&e, CARNET_F_TYPE, type, sizeof type);
    s->company = strcmp(type, "company") == 0;
    if (company[0] && carnet__name_legal_form(company, s->form, sizeof s->form) != 0)
      s->form[0] = '\0';
    /* A company's name is its contact person's unless it reads as the
     * company again ("Garage Blanc" / "Garage Blanc SARL"). */
    s->person = s->names[1] != NULL;
    if (s->person && s->company && s->names[3] &&
        jw(s->names[1], s->lens[1], s->names[3], s->lens[3]) >= 0.9)
      s->person = false;
    contacts(&e, s);
    s->ok = true;
  }
  carnet__entity_free(&e);
  return 0;
}

/* Ids to their index in an array: an open-addressing table. */
typedef struct sumtab {
  uint32_t *slot;       /* index + 1; 0 = empty */
  const carnet_id *ids; /* the array indexed (set by build) */
  size_t cap;           /* a power of two, at least twice the room of the array */
} sumtab;

static uint64_t id_hash(const carnet_id *id) {
  uint64_t x;
  memcpy(&x, id->b + 8, 8); /* the random half of a time-ordered id */
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  return x ^ (x >> 29);
}

static void sumtab_put(sumtab *t, const carnet_id *ids, size_t i) {
  t->ids = ids;
  size_t h = id_hash(&ids[i]) & (t->cap - 1);
  while (t->slot[h])
    h = (h + 1) & (t->cap - 1);
  t->slot[h] = (uint32_t)i + 1;
}

/* (Re)build for the first n ids of an array with room for `room`. */
static int sumtab_build(sumtab *t, const carnet_id *ids, size_t n, size_t room) {
  size_t cap = 16;
  while (cap < 2 * room)
    cap *= 2;
  carnet__free(t->slot);
  if ((t->slot = carnet__calloc(cap, sizeof *t->slot)) == NULL) return CARNET_ENOMEM;
  t->cap = cap;
  for (size_t i = 0; i < n; i++)
    sumtab_put(t, ids, i);
  t->ids = ids;
  return 0;
}

/* The index of `id`, or SIZE_MAX. `ids` NULL: the array last built on. */
static size_t sumtab_find(const sumtab *t, const carnet_id *ids, const carnet_id *id) {
  if (ids == NULL) ids = t->ids;
  for (size_t h = id_hash(id) & (t->cap - 1); t->slot[h]; h = (h + 1) & (t->cap - 1)) {
    size_t i = t->slot[h] - 1;
    if (memcmp(ids[i].b, id->b, 16) == 0) return i;
  }
  return SIZE_MAX;
}

/* --- Scoring -------------------------------------------------------------- */

/* Three decimals, for stable output (x in [0, 1]; no libm). */
static double round3(double x) {
  return (double)(long)(x * 1000.0 + 0.5) / 1000.0;
}

static double clamp01(double x) {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* The best similarity of the names of x and y; `need`: a similarity below
 * it is as good as 0 to the caller, so pairs of names whose lengths alone
 * keep them below it are not compared. */
static double name_sim(const summary *x, const summary *y, double need, bool *any_name,
                       bool *of_persons) {
  double sim = 0;
  *any_name = false;
  *of_persons = false;
  for (int i = 0; i < 4 && sim < 1.0; i++)
    for (int j = i & 1; j < 4 && sim < 1.0; j += 2) {
      /* Same word order against same word order: folded with folded,
       * sorted with sorted; name and company in any combination. */
      if (x->names[i] == NULL || y->names[j] == NULL) continue;
      *any_name = true;
      if (jw_bound(x->lens[i], y->lens[j]) < need) continue;
      double s = jw(x->names[i], x->lens[i], y->names[j], y->lens[j]);
      if (s > sim) {
        sim = s;
        *of_persons = i < 2 && j < 2 && x->person && y->person;
      }
    }
  return sim;
}

/* Are the two records' phones (mobiles only: `mobiles`) all different,
 * both holding one? */
static bool phones_differ(const summary *x, const summary *y, bool mobiles) {
  size_t nx = 0, ny = 0;
  for (size_t i = 0; i < x->nphones; i++)
    nx += !mobiles || x->mobile[i];
  for (size_t j = 0; j < y->nphones; j++)
    ny += !mobiles || y->mobile[j];
  if (nx == 0 || ny == 0) return false;
  for (size_t i = 0; i < x->nphones; i++)
    for (size_t j = 0; j < y->nphones; j++)
      if ((!mobiles || (x->mobile[i] && y->mobile[j])) && strcmp(x->phones[i], y->phones[j]) == 0)
        return false;
  return true;
}

/* The evidence against a pair (carnet/dupes.h), and the factor it puts on
 * the name's weight. */
static unsigned against(const summary *x, const summary *y, unsigned reasons, double *name_factor) {
  unsigned bits = 0;
  double f = 1.0;
  size_t lx = strlen(x->siret), ly = strlen(y->siret);
  if (lx && ly && !(reasons & CARNET_DUPE_SIRET)) {
    if (memcmp(x->siret, y->siret, 9) != 0)
      bits |= CARNET_DUPE_DIFF_SIRET;
    else if (lx == 14 && ly == 14)
      bits |= CARNET_DUPE_OTHER_ESTABLISHMENT;
  }
  if (x->email && y->email && !(reasons & (CARNET_DUPE_EMAIL | CARNET_DUPE_EMAIL_HINT))) {
    bits |= CARNET_DUPE_DIFF_EMAIL;
    f *= 0.7;
  }
  if (phones_differ(x, y, true)) {
    bits |= CARNET_DUPE_DIFF_MOBILE;
    f *= 0.7;
  } else if (phones_differ(x, y, false)) {
    bits |= CARNET_DUPE_DIFF_PHONE; /* a landline and a mobile, say: weaker */
    f *= 0.9;
  }
  if (x->company && y->company) {
    if (x->form[0] && y->form[0] && strcmp(x->form, y->form) != 0) {
      bits |= CARNET_DUPE_DIFF_FORM;
      f *= 0.85;
    }
    if (x->person && y->person && jw(x->names[1], x->lens[1], y->names[1], y->lens[1]) < 0.9) {
      bits |= CARNET_DUPE_DIFF_PERSON;
      f *= 0.6;
    }
  }
  *name_factor = f;
  return bits;
}

/* A pair with only a name block in common scores 0.85 * (sim - 0.92) /
 * 0.08 at most (same place, undamped): the similarity it needs to reach
 * min_score. */
static double block_need(double min_score) {
  return min_score <= 0 ? 0 : 0.92 + 0.08 * min_score / 0.85;
}

static void score(const summary *x, const summary *y, unsigned reasons, double min_score,
                  carnet_dupe *d) {
  bool any_name, of_persons;
  bool block_only = !(reasons & ~(unsigned)REASON_BLOCK);
  double sim = name_sim(x, y, block_only ? block_need(min_score) : 0, &any_name, &of_persons);
  bool same_place = x->place[0] && strcmp(x->place, y->place) == 0;
  /* SIRET and SIREN: 's' keys of two SIRENs also match; a SIREN match of two
   * full SIRETs that differ is two establishments. */
  if (reasons & CARNET_DUPE_SIRET) reasons &= ~(unsigned)CARNET_DUPE_SIREN;
  double w[6];
  size_t nw = 0;
  if (reasons & CARNET_DUPE_SIRET) w[nw++] = 0.99;
  if (reasons & CARNET_DUPE_SIREN) w[nw++] = 0.6;
  if (reasons & CARNET_DUPE_EMAIL) w[nw++] = 0.9;
  if (reasons & CARNET_DUPE_PHONE) w[nw++] = 0.8;
  if ((reasons & CARNET_DUPE_EMAIL_HINT) && !(reasons & CARNET_DUPE_EMAIL)) w[nw++] = 0.5;
  /* A name alone is a likely duplicate (>= 0.8) only when it is the same
   * folded name in the same place (similarity >= 0.995); a near name only
   * adds to another evidence. Elsewhere it never reaches the default. */
  double wn = same_place ? 0.85 * clamp01((sim - 0.92) / 0.08) : 0.6 * clamp01((sim - 0.88) / 0.12);
  double name_factor;
  unsigned neg = against(x, y, reasons, &name_factor);
  if (wn > 0) {
    w[nw++] = wn * name_factor;
    if (same_place) reasons |= CARNET_DUPE_NAME | (of_persons ? 0 : CARNET_DUPE_NAME_COMPANY);
  }
  double keep = 1.0;
  for (size_t i = 0; i < nw; i++)
    keep *= 1.0 - w[i];
  double sc = 1.0 - keep;
  /* Names that differ weaken every exact evidence but a SIRET: a family's
   * landline (same surname, another first name: 0.85..0.92 by Jaro-Winkler
   * of the word-sorted names), an accountant's address. Down to x0.6 at
   * 0.6 and below; names of 0.95 and more are not damped. */
  if (any_name && !(reasons & CARNET_DUPE_SIRET)) sc *= 0.6 + 0.4 * clamp01((sim - 0.6) / 0.35);
  if (neg & CARNET_DUPE_DIFF_SIRET) sc *= 0.3;
  if ((neg & CARNET_DUPE_OTHER_ESTABLISHMENT) && sc > 0.5) sc = 0.5;
  d->score = round3(sc); /* three decimals: stable output */
  d->reasons = (reasons & ~(unsigned)REASON_BLOCK) | neg;
  d->name_similarity = round3(sim);
  d->same_place = same_place;
}

static int dupe_cmp(const void *x, const void *y) {
  const carnet_dupe *a = x, *b = y;
  if (a->score != b->score) return a->score > b->score ? -1 : 1;
  int c = memcmp(a->a.b, b->a.b, 16);
  return c ? c : memcmp(a->b.b, b->b.b, 16);
}

static int finish(carnet__stxn *st, pairset *ps, double min_score, carnet_dupe **out, size_t *n) {
  summary *sv = NULL;
  carnet_dupe *dv = NULL;
  carnet_id *ids = NULL;
  sumtab tab = {0};
  size_t ns = 0, nd = 0;
  int rc = 0;
  if (ps->n == 0) return 0;
  /* The distinct customers of the pairs, through a growing hash set (a
   * sort of every pair's ids costs more than the set). */
  size_t cap = 0;
  if ((dv = carnet__calloc(ps->n, sizeof *dv)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < ps->cap && rc == 0; i++) {
    if (!ps->v[i].used) continue;
    for (int side = 0; side < 2 && rc == 0; side++) {
      const carnet_id *id = side ? &ps->v[i].b : &ps->v[i].a;
      if (tab.cap && sumtab_find(&tab, ids, id) != SIZE_MAX) continue;
      if (ns == cap) {
        cap = cap ? 2 * cap : 4096;
        carnet_id *ni = carnet__realloc(ids, cap * sizeof *ids);
        if (ni == NULL) {
          rc = CARNET_ENOMEM;
          break;
        }
        ids = ni;
        if ((rc = sumtab_build(&tab, ids, ns, cap))) break;
      }
      ids[ns] = *id;
      sumtab_put(&tab, ids, ns++);
    }
  }
  if (rc) goto done;
  /* Sorted: rows are read in key order, which the B-tree likes. */
  qsort(ids, ns, sizeof *ids, id_cmp);
  if ((sv = carnet__calloc(ns, sizeof *sv)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  if ((rc = sumtab_build(&tab, ids, ns, ns))) goto done;
  for (size_t i = 0; i < ns; i++)
    sv[i].id = ids[i];
  for (size_t i = 0; i < ns && rc == 0; i++)
    rc = summarize(st, &sv[i]);
  if (rc) goto done;
  for (size_t i = 0; i < ps->cap; i++) {
    if (!ps->v[i].used) continue;
    size_t ix = sumtab_find(&tab, NULL, &ps->v[i].a), iy = sumtab_find(&tab, NULL, &ps->v[i].b);
    const summary *x = &sv[ix], *y = &sv[iy];
    if (!x->ok || !y->ok) continue;
    carnet_dupe d = {.a = ps->v[i].a, .b = ps->v[i].b};
    score(x, y, ps->v[i].reasons, min_score, &d);
    if ((d.reasons & CARNET_DUPE_FOR_MASK) != 0 && d.score >= min_score) dv[nd++] = d;
  }
  qsort(dv, nd, sizeof *dv, dupe_cmp);
  if (nd > 0) {
    *out = dv;
    *n = nd;
    dv = NULL;
  }
done:
  for (size_t i = 0; sv && i < ns; i++)
    for (int k = 0; k < 4; k++)
      carnet__free(sv[i].names[k]);
  carnet__free(tab.slot);
  carnet__free(ids);
  carnet__free(sv);
  carnet__free(dv);
  return rc;
}

static int dupes(carnet_replica *r, const carnet_id *id, double min_score, carnet_dupe **out,
                 size_t *n) {
  carnet__stxn *st;
  pairset ps = {0};
  *out = NULL;
  *n = 0;
  int rc = carnet__index_ready(r);
  if (rc || (rc = carnet__read_begin(r, &st))) return rc;
  rc = id ? scan_one(st, id, &ps) : scan_all(st, &ps);
  if (rc == 0) rc = finish(st, &ps, min_score, out, n);
  carnet__read_end(r, st);
  carnet__free(ps.v);
  if (rc == CARNET_ECORRUPT) carnet__fail(r, rc, "the duplicate index is damaged");
  return rc;
}

int carnet_dupes_find(carnet_replica *r, double min_score, carnet_dupe **out, size_t *n) {
  return dupes(r, NULL, min_score, out, n);
}

int carnet_dupes_of(carnet_replica *r, const carnet_id *id, double min_score, carnet_dupe **out,
                    size_t *n) {
  return dupes(r, id, min_score, out, n);
}

/* --- Lookup --------------------------------------------------------------- */

int carnet__lookup_norm(carnet_replica *r, carnet_lookup_kind kind, const char *value, uint8_t *tag,
                        char norm[CARNET__LOOKUP_NORM_MAX]) {
  int rc;
  switch (kind) {
  case CARNET_LOOKUP_PHONE:
    *tag = CARNET__IDX_PHONE;
    rc = carnet__phone_key(r, value, norm, CARNET__LOOKUP_NORM_MAX);
    break;
  case CARNET_LOOKUP_EMAIL:
    *tag = CARNET__IDX_EMAIL;
    rc = carnet_email_key(value, norm, CARNET__LOOKUP_NORM_MAX);
    break;
  case CARNET_LOOKUP_SIRET:
  case CARNET_LOOKUP_SIREN:
    *tag = kind == CARNET_LOOKUP_SIRET ? CARNET__IDX_SIRET : CARNET__IDX_SIREN;
    rc = carnet_siret_normalize(value, norm);
    if (kind == CARNET_LOOKUP_SIREN) norm[9] = '\0';
    break;
  default:
    return carnet__fail(r, CARNET_EINVAL, "unknown lookup kind %d", (int)kind);
  }
  if (rc) return carnet__fail(r, CARNET_EINVAL, "'%s' cannot be looked up: not valid", value);
  return 0;
}

int carnet__lookup_ids(carnet__stxn *st, const uint8_t key[1 + CARNET__INDEX_HASH_LEN],
                       carnet_id *ids, size_t max, size_t *n) {
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  size_t klen = 1 + CARNET__INDEX_HASH_LEN;
  int rc = carnet__store_cursor_at(st, CARNET__T_INDEX, key, klen, &cur);
  *n = 0;
  if (rc) return rc;
  for (rc = carnet__store_seek(cur, key, klen, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    if (k.len != CARNET__INDEX_BLIND_KEY_LEN || memcmp(k.base, key, klen) != 0) break;
    if (*n < max) memcpy(ids[*n].b, (const uint8_t *)k.base + klen, 16);
    (*n)++;
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

int carnet_record_lookup(carnet_replica *r, carnet_lookup_kind kind, const char *value,
                         carnet_id *ids, size_t max, size_t *n) {
  char norm[CARNET__LOOKUP_NORM_MAX];
  uint8_t key[1 + CARNET__INDEX_HASH_LEN];
  carnet__blind_secret secret;
  carnet__stxn *st;
  *n = 0;
  int rc = carnet__lookup_norm(r, kind, value, &key[0], norm);
  if (rc) return rc;
  if ((rc = carnet__index_ready(r)) || (rc = carnet__read_begin(r, &st))) return rc;
  rc = carnet__index_secret(st, &secret);
  if (rc == CARNET_ENOTFOUND) { /* never written to: nothing indexed */
    rc = 0;
    goto done;
  }
  if (rc) goto done;
  rc = carnet__index_hash(&secret, key[0], norm, strlen(norm), key + 1);
  sodium_memzero(&secret, sizeof secret);
  if (rc == 0) rc = carnet__lookup_ids(st, key, ids, max, n);
done:
  carnet__read_end(r, st);
  return rc;
}
