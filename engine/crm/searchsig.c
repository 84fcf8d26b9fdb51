/* engine/crm/searchsig.c - search signatures (see searchsig.h). */
#include "engine/crm/searchsig.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/mp.h"
#include "engine/crm/record.h"
#include "engine/store/group.h"

/* --- Bits ------------------------------------------------------------------ */

/* The CARNET__SSIG_K positions of hash `h` among m bits: double hashing,
 * each reduced to [0, m) by a multiply (no division). */
static inline uint32_t pos(uint64_t h, uint32_t i, uint32_t m) {
  uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1u;
  return (uint32_t)(((uint64_t)(uint32_t)(h1 + i * h2) * m) >> 32);
}

static inline bool has(const uint8_t *bits, uint32_t m, uint64_t h) {
  for (uint32_t i = 0; i < CARNET__SSIG_K; i++) {
    uint32_t p = pos(h, i, m);
    if (!(bits[p >> 3] & (1u << (p & 7)))) return false;
  }
  return true;
}

static inline void set(uint8_t *bits, uint32_t m, uint64_t h) {
  for (uint32_t i = 0; i < CARNET__SSIG_K; i++) {
    uint32_t p = pos(h, i, m);
    bits[p >> 3] |= (uint8_t)(1u << (p & 7));
  }
}

/* The grams of a text: each trigram (3 bytes, none across a '\n'), as
 * its bytes with bit 24 set, and each run of five digits, as its number
 * with bit 25 set (distinct from every trigram). Digits are written with
 * ten symbols only: the trigrams of "0610000000" are three, which most
 * numbers of a book share, where its five-digit grams tell it apart. */
#define GRAM_TRI (1u << 24)
#define GRAM_DIGITS (1u << 25)

static inline bool digit(char c) {
  return c >= '0' && c <= '9';
}

/* Calls fn(ctx, gram) for every gram of s[0, n); stops at a non-zero.
 * Inline, so that a signature's set insertion is not called through a
 * pointer for each of its ~150 grams. */
static inline __attribute__((always_inline)) int each_gram(const char *s, size_t n,
                                                           int (*fn)(void *, uint32_t), void *ctx) {
  int rc = 0;
  for (size_t i = 0; rc == 0 && i + 3 <= n; i++) {
    if (s[i] == '\n' || s[i + 1] == '\n' || s[i + 2] == '\n') continue;
    rc = fn(ctx, GRAM_TRI | (uint32_t)(unsigned char)s[i] << 16 |
                     (uint32_t)(unsigned char)s[i + 1] << 8 | (uint32_t)(unsigned char)s[i + 2]);
    if (rc == 0 && i + 5 <= n && digit(s[i]) && digit(s[i + 1]) && digit(s[i + 2]) &&
        digit(s[i + 3]) && digit(s[i + 4])) {
      uint32_t d = 0;
      for (size_t k = 0; k < 5; k++)
        d = d * 10 + (uint32_t)(s[i + k] - '0');
      rc = fn(ctx, GRAM_DIGITS | d);
    }
  }
  return rc;
}

static uint64_t gram_hash(carnet__blind_secret *secret, uint32_t g) {
  return g & GRAM_DIGITS ? carnet__gram_hash(secret, 'd', g & ~GRAM_DIGITS)
                         : carnet__gram_hash(secret, 't', g & ~GRAM_TRI);
}

/* An open-addressed set of grams (0: empty slot), with its members also
 * listed in the order added (uniq), so that they are read back without
 * scanning the mostly empty slots. */
typedef struct gset {
  uint32_t *slot, *uniq;
  size_t nslot, n;
  unsigned shift; /* 32 - log2(nslot): a slot from the product's high bits */
} gset;

static inline int gset_add(void *ctx, uint32_t g) {
  gset *gs = ctx;
  size_t at = (g * 2654435761u) >> gs->shift;
  while (gs->slot[at] && gs->slot[at] != g)
    at = (at + 1) & (gs->nslot - 1);
  if (gs->slot[at] == 0) {
    gs->slot[at] = g;
    gs->uniq[gs->n++] = g;
  }
  return 0;
}

/* --- A customer's document, from its cells -------------------------------------- */

/* The document of a customer is carnet__sdoc_build's, of its record
 * (engine/crm/record.c). Building the record renders every cell (consents,
 * custom fields, phones formatted with snprintf) into an arena of its own
 * for the ten values the document reads: most of a signature's time in a
 * catch-up. entity_doc reads those values from the cells, as the record
 * would render them, and gives up (returns 1) wherever the record would
 * differ from a plain reading: a value that is not a string or nil, a
 * string holding a NUL (the record's strings end there), a set value that
 * is not a bool, a phone that is not two strings, many phones. */

#define DOC_PHONES_MAX 16

/* A cell's string: 1 (and *s, *n), 0 when nil, -1 when the record would
 * read it otherwise. */
static int cell_text(const carnet__cell *c, const char **s, size_t *n) {
  msgpack_object o, elems[4];
  if (!carnet__mp_obj1(c->val, c->vlen, &o, elems)) return -1;
  if (o.type == MSGPACK_OBJECT_NIL) return 0;
  if (o.type != MSGPACK_OBJECT_STR || memchr(o.via.str.ptr, 0, o.via.str.size)) return -1;
  *s = o.via.str.ptr;
  *n = o.via.str.size;
  return 1;
}

/* A phone as the record writes it ("type:number"), in `out`: 1, 0 when
 * the slot is cleared, -1 when the record would read it otherwise. */
static int cell_phone(const carnet__cell *c, char out[64]) {
  msgpack_object o, elems[4];
  if (!carnet__mp_obj1(c->val, c->vlen, &o, elems)) return -1;
  if (o.type == MSGPACK_OBJECT_NIL) return 0;
  if (o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 2 ||
      elems[0].type != MSGPACK_OBJECT_STR || elems[1].type != MSGPACK_OBJECT_STR)
    return -1;
  size_t a = elems[0].via.str.size, b = elems[1].via.str.size;
  if (a + 1 + b >= 64 || memchr(elems[0].via.str.ptr, 0, a) || memchr(elems[1].via.str.ptr, 0, b))
    return -1;
  memcpy(out, elems[0].via.str.ptr, a);
  out[a] = ':';
  memcpy(out + a + 1, elems[1].via.str.ptr, b);
  out[a + 1 + b] = '\0';
  return 1;
}

static int phone_cmp(const void *a, const void *b) {
  return strcmp(a, b);
}

/* The scalars of a document, in its order (carnet__sdoc_build). */
static const carnet_field doc_scalars[] = {CARNET_F_NAME,  CARNET_F_COMPANY, CARNET_F_REFCODE,
                                           CARNET_F_CITY,  CARNET_F_STREET,  CARNET_F_POSTCODE,
                                           CARNET_F_NOTES, CARNET_F_SIRET};
#define DOC_SIRET 7 /* doc_scalars[DOC_SIRET] */

static int entity_doc(const carnet__entity *e, carnet__sbuf *b, carnet__sdoc *d) {
  const carnet__cell *last[8] = {0};
  char phones[DOC_PHONES_MAX][64];
  size_t nphones = 0;
  const char *s;
  size_t n;
  int rc = 0, t;
  b->len = 0;
  /* The values the record would keep: the last cell of each scalar, every
   * phone. */
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    for (size_t f = 0; f < sizeof doc_scalars / sizeof doc_scalars[0]; f++)
      if (c->field == doc_scalars[f]) last[f] = c;
    if (c->field == CARNET_F_PHONES) {
      if (nphones == DOC_PHONES_MAX) return 1;
      if ((t = cell_phone(c, phones[nphones])) < 0) return 1;
      nphones += (size_t)t;
    }
  }
  for (size_t f = 0; f < DOC_SIRET; f++) {
    if (last[f] == NULL) continue;
    if ((t = cell_text(last[f], &s, &n)) < 0) return 1;
    if (t && (rc = carnet__sdoc_value(b, s, n))) return rc;
  }
  /* Sets: each element present (value true), in key order. */
  static const carnet_field sets[] = {CARNET_F_EMAILS, CARNET_F_TAGS};
  for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++)
    for (size_t i = 0; i < e->n; i++) {
      const carnet__cell *c = &e->cells[i];
      if (c->field != sets[k]) continue;
      if (c->vlen != 1 || (((const uint8_t *)c->val)[0] | 1) != 0xc3 || memchr(c->key, 0, c->klen))
        return 1;
      if (((const uint8_t *)c->val)[0] == 0xc3 &&
          (rc = carnet__sdoc_value(b, (const char *)c->key, c->klen)))
        return rc;
    }
  size_t at = b->len > 0 ? b->len + 1 : 0, len0 = b->len;
  if (last[DOC_SIRET]) {
    if ((t = cell_text(last[DOC_SIRET], &s, &n)) < 0) return 1;
    if (t && (rc = carnet__sdoc_value(b, s, n))) return rc;
  }
  d->siret_off = b->len > len0 ? at : b->len;
  /* Phones: sorted, repeats dropped (as the record), the number only. */
  if (nphones > 1) qsort(phones, nphones, sizeof phones[0], phone_cmp);
  at = b->len > 0 ? b->len + 1 : 0;
  len0 = b->len;
  for (size_t k = 0; k < nphones; k++) {
    if (k > 0 && strcmp(phones[k], phones[k - 1]) == 0) continue;
    const char *num = strrchr(phones[k], ':') + 1; /* one is there */
    const char *ext = strchr(num, ';');
    if ((rc = carnet__sdoc_value(b, num, ext ? (size_t)(ext - num) : strlen(num)))) return rc;
  }
  d->phones_off = b->len > len0 ? at : b->len;
  if (d->siret_off > d->phones_off) d->siret_off = d->phones_off;
  if (b->len + 1 > b->cap) { /* the NUL after the text */
    char *p = carnet__realloc(b->p, b->len + 1);
    if (p == NULL) return CARNET_ENOMEM;
    b->p = p;
    b->cap = b->len + 1;
  }
  b->p[b->len] = '\0';
  return 0;
}

int carnet__ssig_doc(const carnet__entity *e, carnet__sbuf *b, carnet__sdoc *d) {
  carnet_record *rec = NULL;
  int rc = entity_doc(e, b, d);
  if (rc != 1) return rc;
  if ((rc = carnet__record_build(e, &rec)) == 0) rc = carnet__sdoc_build(rec, b, d);
  carnet_record_free(rec);
  return rc;
}

/* --- A customer's signature -------------------------------------------------- */

int carnet__ssig_of(const carnet__entity *e, carnet__blind_secret *secret, uint8_t **sig,
                    size_t *len) {
  carnet__sbuf doc = {0};
  carnet__sdoc d;
  uint32_t stack[1536], *slot = stack;
  size_t nslot = 32, nuniq = 0;
  unsigned shift = 32 - 5;
  *sig = NULL;
  *len = 0;
  if (e->kind != CARNET_KIND_CUSTOMER) return 0;
  /* Room for most documents at once: grown from 64 bytes, the buffer was
   * reallocated four times a customer. */
  if ((doc.p = carnet__malloc(1024)) != NULL) doc.cap = 1024;
  int rc = carnet__ssig_doc(e, &doc, &d);
  if (rc) goto done;
  /* The distinct grams (each hashed once), in a set of twice as many
   * slots as the document has grams at most (two per byte: a trigram and
   * a run of digits), followed by their list (nslot / 2 entries). */
  while (nslot < 4 * doc.len)
    nslot *= 2, shift--;
  if (nslot + nslot / 2 > sizeof stack / sizeof stack[0] &&
      (slot = carnet__malloc((nslot + nslot / 2) * sizeof *slot)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  memset(slot, 0, nslot * sizeof *slot);
  gset gs = {slot, slot + nslot, nslot, 0, shift};
  each_gram(doc.p, doc.len, gset_add, &gs);
  nuniq = gs.n;
  size_t words = (nuniq + 3) / 4;
  if (words < CARNET__SSIG_WORDS_MIN) words = CARNET__SSIG_WORDS_MIN;
  if (words > CARNET__SSIG_WORDS_MAX) words = CARNET__SSIG_WORDS_MAX;
  size_t size = CARNET__SSIG_HEAD + 8 * words;
  uint8_t *out = carnet__calloc(1, size);
  if (out == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  out[0] = (uint8_t)(words >> 8);
  out[1] = (uint8_t)words;
  uint32_t m = (uint32_t)(64 * words);
  for (size_t i = 0; i < nuniq; i++)
    set(out + CARNET__SSIG_HEAD, m, gram_hash(secret, gs.uniq[i]));
  *sig = out;
  *len = size;
done:
  if (slot != stack) carnet__free(slot);
  carnet__sbuf_free(&doc);
  return rc;
}

/* --- Every customer -------------------------------------------------------- */

int carnet__ssig_build_all(carnet__stxn *st) {
  carnet__blind_secret secret;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  int rc = carnet__store_clear(st, CARNET__T_SEARCH);
  if (rc) return rc;
  rc = carnet__index_secret(st, &secret);
  if (rc == CARNET_ENOTFOUND) return 0; /* never written to: no customer */
  if (rc) return rc;
  if ((rc = carnet__gram_cache_start(&secret))) goto done;
  /* Rows are read in id order and their signatures appended; a sealed
   * row's buffer lives until the next move of the cursor: it is decoded
   * from a copy. */
  if ((rc = carnet__store_cursor(st, CARNET__T_ENTITIES, &cur))) goto done;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    if (k.len != 16) {
      rc = CARNET_ECORRUPT;
      break;
    }
    if (v.len == 0 || ((const uint8_t *)v.base)[0] != CARNET_KIND_CUSTOMER) continue;
    carnet__arena a;
    carnet__entity e;
    carnet_id id;
    uint8_t *sig = NULL;
    size_t len = 0;
    memcpy(id.b, k.base, 16);
    carnet__arena_init(&a, 2048);
    carnet__entity_init(&e, &a);
    void *copy = carnet__arena_dup(&a, v.base, v.len);
    rc = copy ? carnet__row_decode(&id, copy, v.len, &e) : CARNET_ENOMEM;
    if (rc == CARNET_ECORRUPT)
      rc = 0; /* the check reports it; a search reads it as the scan does */
    else if (rc == 0 && (rc = carnet__ssig_of(&e, &secret, &sig, &len)) == 0 && sig)
      rc = carnet__store_put(st, CARNET__T_SEARCH, id.b, 16, sig, len, CARNET__PUT_APPEND);
    carnet__free(sig);
    carnet__entity_free(&e);
    carnet__arena_free(&a);
    if (rc) break;
  }
  if (rc == CARNET_ENOTFOUND) rc = 0;
done:
  carnet__store_cursor_close(cur);
  carnet__gram_cache_end(&secret);
  sodium_memzero(&secret, sizeof secret);
  return rc;
}

/* --- Queries ------------------------------------------------------------------- */

/* A conjunction: trigram hashes [off, off + n) of the query's array. */
typedef struct clause {
  size_t off, n;
} clause;

/* A word of the query: it may match when one of its clauses holds, or
 * always (`any`: shorter than a trigram). */
typedef struct sword {
  clause c[3];
  size_t nc;
  bool any;
} sword;

typedef struct squery {
  uint64_t *h;
  size_t nh, caph;
  clause whole[2];
  size_t nwhole;
  sword words[CARNET__SQUERY_WORDS];
  size_t nwords;
} squery;

/* Adds a gram's hash to the clause being built. */
typedef struct adder {
  squery *sq;
  carnet__blind_secret *secret;
  clause *c;
} adder;

static int add_gram(void *ctx, uint32_t g) {
  adder *ad = ctx;
  squery *sq = ad->sq;
  if (sq->nh == sq->caph) {
    size_t cap = sq->caph ? 2 * sq->caph : 64;
    uint64_t *h = carnet__realloc(sq->h, cap * sizeof *h);
    if (h == NULL) return CARNET_ENOMEM;
    sq->h = h;
    sq->caph = cap;
  }
  sq->h[sq->nh++] = gram_hash(ad->secret, g);
  ad->c->n++;
  return 0;
}

/* The clause of the grams of `s` (n >= 3 bytes); false: out of memory. */
static bool add_clause(squery *sq, carnet__blind_secret *secret, const char *s, size_t n,
                       clause *c) {
  adder ad = {sq, secret, c};
  c->off = sq->nh;
  c->n = 0;
  return each_gram(s, n, add_gram, &ad) == 0;
}

/* Compile `q` into `sq`; *useful is false when every signature would pass. */
static int compile(squery *sq, carnet__blind_secret *secret, const carnet__squery *q,
                   bool *useful) {
  bool ok = true;
  *useful = false;
  if (q->any) return 0;
  if (q->whole.phone[0])
    ok = ok &&
         add_clause(sq, secret, q->whole.phone, strlen(q->whole.phone), &sq->whole[sq->nwhole++]);
  if (q->whole.siret[0])
    ok = ok &&
         add_clause(sq, secret, q->whole.siret, strlen(q->whole.siret), &sq->whole[sq->nwhole++]);
  bool narrow = false;
  for (size_t i = 0; ok && i < q->nwords; i++) {
    const carnet__sword *w = &q->words[i];
    sword *sw = &sq->words[sq->nwords++];
    if (w->len < 3) { /* T may hold anywhere: the word says nothing */
      sw->any = true;
      continue;
    }
    narrow = true;
    ok = add_clause(sq, secret, q->text.p + w->off, w->len, &sw->c[sw->nc++]);
    if (ok && w->num.phone[0])
      ok = add_clause(sq, secret, w->num.phone, strlen(w->num.phone), &sw->c[sw->nc++]);
    if (ok && w->num.siret[0])
      ok = add_clause(sq, secret, w->num.siret, strlen(w->num.siret), &sw->c[sw->nc++]);
  }
  if (!ok) return CARNET_ENOMEM;
  /* carnet__squery_match: N, or every word (when there is one). */
  *useful = q->nwords > 0 ? narrow : sq->nwhole > 0;
  return 0;
}

static bool clause_in(const squery *sq, const clause *c, const uint8_t *bits, uint32_t m) {
  for (size_t i = 0; i < c->n; i++)
    if (!has(bits, m, sq->h[c->off + i])) return false;
  return true;
}

/* Whether a signature may match (never false for a document that does). */
static bool may_match(const squery *sq, const uint8_t *bits, uint32_t m) {
  for (size_t i = 0; i < sq->nwhole; i++)
    if (clause_in(sq, &sq->whole[i], bits, m)) return true;
  if (sq->nwords == 0) return false;
  for (size_t i = 0; i < sq->nwords; i++) {
    const sword *w = &sq->words[i];
    bool any = w->any;
    for (size_t k = 0; !any && k < w->nc; k++)
      any = clause_in(sq, &w->c[k], bits, m);
    if (!any) return false;
  }
  return true;
}

/* A growing array of ids. */
typedef struct idvec {
  carnet_id *v;
  size_t n, cap;
} idvec;

static int push(idvec *iv, const void *id) {
  if (iv->n == iv->cap) {
    size_t cap = iv->cap ? 2 * iv->cap : 256;
    carnet_id *v = carnet__realloc(iv->v, cap * sizeof *v);
    if (v == NULL) return CARNET_ENOMEM;
    iv->v = v;
    iv->cap = cap;
  }
  memcpy(iv->v[iv->n++].b, id, 16);
  return 0;
}

static int id_cmp(const void *a, const void *b) {
  return memcmp(a, b, 16);
}

int carnet__ssig_candidates(carnet_replica *r, carnet__stxn *st, const carnet__squery *q,
                            carnet_id **ids, size_t *n) {
  carnet__blind_secret secret;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  squery sq = {0};
  idvec iv = {0};
  bool useful = false;
  uint64_t mark;
  uint8_t from[8], mtag = CARNET__IDX_SAME_AS;
  *ids = NULL;
  *n = 0;
  if (r->search_sig == NULL || !carnet__store_has(st, CARNET__T_SEARCH)) return 1;
  int rc = carnet__index_secret(st, &secret);
  if (rc == CARNET_ENOTFOUND) return 1; /* never written to */
  if (rc) return rc;
  rc = compile(&sq, &secret, q, &useful);
  sodium_memzero(&secret, sizeof secret);
  if (rc == 0 && !useful) rc = 1;
  if (rc) goto done;
  /* 1. The signatures that may match. */
  if ((rc = carnet__store_cursor(st, CARNET__T_SEARCH, &cur))) goto done;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    const uint8_t *b = v.base;
    size_t words = v.len >= CARNET__SSIG_HEAD ? (size_t)b[0] << 8 | b[1] : 0;
    if (k.len != 16 || words < 1 || words > CARNET__SSIG_WORDS_MAX ||
        v.len != CARNET__SSIG_HEAD + 8 * words) {
      rc = CARNET_ECORRUPT;
      break;
    }
    if (may_match(&sq, b + CARNET__SSIG_HEAD, (uint32_t)(64 * words)) && (rc = push(&iv, k.base)))
      break;
  }
  carnet__store_cursor_close(cur);
  cur = NULL;
  if (rc != CARNET_ENOTFOUND) goto done;
  /* 2. G2: every entity changed since the signatures' catch-up. */
  if ((rc = carnet__sig_mark(st, &mark))) goto done;
  if (mark < UINT64_MAX) {
    carnet__be64_put(from, mark + 1);
    if ((rc = carnet__store_cursor(st, CARNET__T_CHANGES, &cur))) goto done;
    for (rc = carnet__store_seek(cur, from, sizeof from, &k, &v); rc == 0;
         rc = carnet__store_next(cur, &k, &v)) {
      if (v.len < 16) {
        rc = CARNET_ECORRUPT;
        break;
      }
      if ((rc = push(&iv, v.base))) break;
    }
    carnet__store_cursor_close(cur);
    cur = NULL;
    if (rc != CARNET_ENOTFOUND) goto done;
  }
  /* 3. G2: every customer in a merge ('m' target(16) source(16)). */
  if ((rc = carnet__store_cursor_at(st, CARNET__T_INDEX, &mtag, 1, &cur))) goto done;
  for (rc = carnet__store_seek(cur, &mtag, 1, &k, NULL); rc == 0;
       rc = carnet__store_next(cur, &k, NULL)) {
    const uint8_t *kb = k.base;
    if (k.len != 33 || kb[0] != mtag) break;
    if ((rc = push(&iv, kb + 1)) || (rc = push(&iv, kb + 17))) break;
  }
  if (rc == CARNET_ENOTFOUND) rc = 0;
  if (rc) goto done;
  if (iv.n > 1) qsort(iv.v, iv.n, sizeof *iv.v, id_cmp);
  size_t u = 0;
  for (size_t i = 0; i < iv.n; i++)
    if (u == 0 || memcmp(iv.v[u - 1].b, iv.v[i].b, 16) != 0) iv.v[u++] = iv.v[i];
  *ids = iv.v;
  *n = u;
  iv.v = NULL;
done:
  carnet__store_cursor_close(cur);
  carnet__free(sq.h);
  carnet__free(iv.v);
  return rc;
}
