/* engine/dupes/bulkdup.c - the duplicate checks of a bulk writer (see
 * bulkdup.h).
 *
 * The table: `ents` holds one entry per lookup key of a written customer
 * (tag + keyed hash, and which customer), chained by key from `heads`
 * (the hash is SipHash output already: its first bytes pick the chain).
 * `who` holds the written customers, each with the range of its entries
 * (a customer's entries are appended together); `slots` finds a customer
 * by id. Writing a customer again (a merge, an update) marks its old
 * entries dead and appends the new ones.
 */
#include "engine/dupes/bulkdup.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "carnet/erase.h"
#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/check.h"
#include "engine/dupes/dupes_int.h"
#include "engine/store/entity_io.h"
#include "engine/store/replica_int.h"

#define KEY_LEN (1 + CARNET__INDEX_HASH_LEN)
#define NONE UINT32_MAX

/* An entry: a key's hash, whose key it is and its tag (`who`: the customer
 * in its low 30 bits, the tag's code in its top 2; NONE: dead, its customer
 * was written again), and the next entry of its chain. 24 bytes: at
 * 100,000 imported rows the table holds ~225,000. */
typedef struct ent {
  uint8_t h[CARNET__INDEX_HASH_LEN];
  uint32_t who;
  uint32_t next;
} ent;

#define WHO_BITS 30
#define WHO_MASK ((1u << WHO_BITS) - 1)

typedef struct who {
  carnet_id id;
  uint32_t first, n; /* its live entries: ents[first .. first + n) */
} who;

/* An array grown by chunks of CHUNK elements: no copy and no twice-the-size
 * moment as it grows (the import's private memory is bounded). */
#define CHUNK_BITS 14
#define CHUNK (1u << CHUNK_BITS)

typedef struct chunks {
  void **c;
  size_t n, cap; /* chunks allocated, room in `c` */
} chunks;

struct carnet__bulkdup {
  carnet_replica *r;
  bool ready;      /* caught up once: the table and the index make B1 */
  bool check;      /* a commit ended a transaction: check the next one */
  uint64_t end;    /* the sequence number the last commit ended at */
  bool has_secret; /* the index secret, loaded by the first lookup */
  /* The secret holds a BLAKE2b state that wants 64-byte alignment, more
   * than an allocator promises: it lives in `secret_block`, aligned. */
  carnet__blind_secret *secret;
  void *secret_block;
  carnet_txn *oppose_txn; /* the transaction `oppose_empty` was read in */
  bool oppose_empty;
  chunks ents; /* ent */
  size_t nents;
  uint32_t *heads; /* chains of `ents` by key; heads_cap a power of two */
  size_t heads_cap;
  chunks who; /* who */
  size_t nwho;
  uint32_t *slots; /* index of `who` by id, open addressing; NONE: free */
  size_t slots_cap;
};

int carnet__bulkdup_new(carnet_replica *r, carnet__bulkdup **out) {
  size_t align = _Alignof(carnet__blind_secret);
  carnet__bulkdup *d = carnet__calloc(1, sizeof *d);
  if (d && (d->secret_block = carnet__calloc(1, sizeof *d->secret + align)) == NULL) {
    carnet__free(d);
    d = NULL;
  }
  *out = d;
  if (d == NULL) return CARNET_ENOMEM;
  uintptr_t at = ((uintptr_t)d->secret_block + align - 1) & ~(uintptr_t)(align - 1);
  d->secret = (carnet__blind_secret *)at;
  d->r = r;
  return 0;
}

static void *chunk_at(const chunks *k, size_t size, size_t i) {
  return (char *)k->c[i >> CHUNK_BITS] + (i & (CHUNK - 1)) * size;
}

/* Room for element `i`, the next one. */
static int chunk_room(chunks *k, size_t size, size_t i) {
  if ((i >> CHUNK_BITS) < k->n) return 0;
  if (k->n == k->cap) {
    size_t cap = k->cap ? 2 * k->cap : 16;
    void **c = carnet__realloc(k->c, cap * sizeof *c);
    if (c == NULL) return CARNET_ENOMEM;
    k->c = c;
    k->cap = cap;
  }
  if ((k->c[k->n] = carnet__malloc(CHUNK * size)) == NULL) return CARNET_ENOMEM;
  k->n++;
  return 0;
}

static void chunks_free(chunks *k, size_t size) {
  for (size_t i = 0; i < k->n; i++) {
    sodium_memzero(k->c[i], CHUNK * size);
    carnet__free(k->c[i]);
  }
  carnet__free(k->c);
  memset(k, 0, sizeof *k);
}

static ent *ent_at(const carnet__bulkdup *d, uint32_t i) {
  return chunk_at(&d->ents, sizeof(ent), i);
}

static who *who_at(const carnet__bulkdup *d, uint32_t i) {
  return chunk_at(&d->who, sizeof(who), i);
}

static void clear(carnet__bulkdup *d) {
  chunks_free(&d->ents, sizeof(ent));
  chunks_free(&d->who, sizeof(who));
  carnet__free(d->heads), carnet__free(d->slots);
  d->heads = NULL, d->slots = NULL;
  d->nents = d->heads_cap = d->nwho = d->slots_cap = 0;
}

void carnet__bulkdup_free(carnet__bulkdup *d) {
  if (d == NULL) return;
  clear(d);
  sodium_memzero(d->secret, sizeof *d->secret);
  carnet__free(d->secret_block);
  carnet__free(d);
}

/* The tags the table holds, as 2 bits. */
static uint32_t tag_code(uint8_t tag) {
  return tag == CARNET__IDX_PHONE ? 0 : tag == CARNET__IDX_EMAIL ? 1 : 2;
}

static uint32_t key_hash(const uint8_t *h, uint32_t code) {
  uint32_t x;
  memcpy(&x, h, sizeof x); /* keyed SipHash output */
  return x ^ (code * 2654435761u);
}

static uint32_t id_hash(const carnet_id *id) {
  uint32_t h;
  memcpy(&h, id->b + 8, sizeof h); /* an id's random half */
  return h * 2654435761u;
}

/* --- the table ------------------------------------------------------------- */

/* Chains every entry again into `cap` heads. */
static int rechain(carnet__bulkdup *d, size_t cap) {
  uint32_t *heads = carnet__malloc(cap * sizeof *heads);
  if (heads == NULL) return CARNET_ENOMEM;
  memset(heads, 0xff, cap * sizeof *heads);
  for (uint32_t i = 0; i < d->nents; i++) {
    ent *e = ent_at(d, i);
    uint32_t at = key_hash(e->h, e->who >> WHO_BITS) & (uint32_t)(cap - 1);
    e->next = heads[at];
    heads[at] = i;
  }
  carnet__free(d->heads);
  d->heads = heads;
  d->heads_cap = cap;
  return 0;
}

static int reslot(carnet__bulkdup *d, size_t cap) {
  uint32_t *slots = carnet__malloc(cap * sizeof *slots);
  if (slots == NULL) return CARNET_ENOMEM;
  memset(slots, 0xff, cap * sizeof *slots);
  for (uint32_t i = 0; i < d->nwho; i++) {
    size_t at = id_hash(&who_at(d, i)->id) & (cap - 1);
    while (slots[at] != NONE)
      at = (at + 1) & (cap - 1);
    slots[at] = i;
  }
  carnet__free(d->slots);
  d->slots = slots;
  d->slots_cap = cap;
  return 0;
}

/* The customer `id` in `who`, added when absent. */
static int who_of(carnet__bulkdup *d, const carnet_id *id, uint32_t *out) {
  if (d->nwho >= WHO_MASK) return CARNET_ELIMIT;
  if (2 * (d->nwho + 1) > d->slots_cap) {
    int rc = reslot(d, d->slots_cap ? 2 * d->slots_cap : 1024);
    if (rc) return rc;
  }
  size_t at = id_hash(id) & (d->slots_cap - 1);
  for (; d->slots[at] != NONE; at = (at + 1) & (d->slots_cap - 1))
    if (memcmp(who_at(d, d->slots[at])->id.b, id->b, 16) == 0) {
      *out = d->slots[at];
      return 0;
    }
  int rc = chunk_room(&d->who, sizeof(who), d->nwho);
  if (rc) return rc;
  *who_at(d, (uint32_t)d->nwho) = (who){*id, 0, 0};
  d->slots[at] = (uint32_t)d->nwho;
  *out = (uint32_t)d->nwho++;
  return 0;
}

static int add_ent(carnet__bulkdup *d, uint32_t w, const uint8_t *key) {
  if (d->nents >= UINT32_MAX - 1) return CARNET_ELIMIT;
  int rc = chunk_room(&d->ents, sizeof(ent), d->nents);
  if (rc) return rc;
  if (d->nents + 1 > d->heads_cap && (rc = rechain(d, d->heads_cap ? 2 * d->heads_cap : 8192)))
    return rc;
  uint32_t code = tag_code(key[0]);
  ent *e = ent_at(d, (uint32_t)d->nents);
  uint32_t at = key_hash(key + 1, code) & (uint32_t)(d->heads_cap - 1);
  memcpy(e->h, key + 1, sizeof e->h);
  e->who = w | code << WHO_BITS;
  e->next = d->heads[at];
  d->heads[at] = (uint32_t)d->nents++;
  return 0;
}

/* The smallest id among the live entries of `key`. */
static bool table_first(const carnet__bulkdup *d, const uint8_t *key, carnet_id *out) {
  bool found = false;
  uint32_t code = tag_code(key[0]);
  if (d->heads_cap == 0) return false;
  for (uint32_t i = d->heads[key_hash(key + 1, code) & (uint32_t)(d->heads_cap - 1)]; i != NONE;
       i = ent_at(d, i)->next) {
    const ent *e = ent_at(d, i);
    if (e->who == NONE || e->who >> WHO_BITS != code || memcmp(e->h, key + 1, sizeof e->h) != 0)
      continue;
    const carnet_id *id = &who_at(d, e->who & WHO_MASK)->id;
    if (!found || memcmp(id->b, out->b, 16) < 0) *out = *id;
    found = true;
  }
  return found;
}

/* --- the transaction --------------------------------------------------------- */

/* B1: catches up (the first time, or after another writer) and empties the
 * table, or finds the open transaction where the last commit left it. */
static int ready(carnet__bulkdup *d, carnet_txn *t) {
  if (d->ready && d->check && t->seq0 != d->end) d->ready = false;
  d->check = false;
  if (!d->has_secret) {
    int rc = carnet__index_secret(t->st, d->secret);
    if (rc) return rc; /* a write transaction ensured it (carnet_txn_begin) */
    d->has_secret = true;
  }
  if (d->ready) return 0;
  int rc = carnet__index_ready(d->r); /* in `t`, the handle's transaction */
  if (rc) return rc;
  clear(d);
  d->ready = true;
  return 0;
}

bool carnet__bulkdup_stale(const carnet__bulkdup *d, const carnet_txn *t) {
  return !d->ready || (d->check && t->seq0 != d->end);
}

int carnet__bulkdup_catchup(carnet__bulkdup *d) {
  if (d->r->txn)
    return carnet__fail(d->r, CARNET_EMISUSE, "carnet__bulkdup_catchup: a transaction is open");
  /* The next lookup still checks its transaction (another writer may come
   * in between) and empties the table: everything is in the index. */
  d->ready = false;
  return carnet__index_ready(d->r);
}

int carnet__bulkdup_lookup(carnet__bulkdup *d, carnet_txn *t, carnet_lookup_kind kind,
                           const char *value, carnet_id *first, bool *found) {
  char norm[CARNET__LOOKUP_NORM_MAX];
  uint8_t key[KEY_LEN];
  carnet_id ids[1], mine;
  size_t n = 0;
  *found = false;
  CARNET_ASSERT(d->r->txn == t);
  int rc = carnet__lookup_norm(d->r, kind, value, &key[0], norm);
  if (rc || (rc = ready(d, t))) return rc;
  if ((rc = carnet__index_hash(d->secret, key[0], norm, strlen(norm), key + 1)) ||
      (rc = carnet__lookup_ids(t->st, key, ids, 1, &n)))
    return rc;
  bool in_table = table_first(d, key, &mine);
  if (n && in_table && memcmp(mine.b, ids[0].b, 16) < 0) n = 0;
  if (n) {
    *first = ids[0];
  } else if (in_table) {
    *first = mine;
  }
  *found = n || in_table;
  return 0;
}

/* The save hook (struct carnet_txn's `saved`): customer `e` as just saved
 * in `t`. Its lookup keys replace those the table had for it. */
static int on_saved(void *ctx, carnet_txn *t, const carnet__entity *e) {
  carnet__bulkdup *d = ctx;
  carnet__arena a;
  carnet__keyset ks;
  uint32_t w;
  /* Before the first catch-up, or when the next lookup is to catch up
   * (another writer came between two groups), that catch-up indexes this
   * customer: the table would be emptied. */
  if (carnet__bulkdup_stale(d, t)) return 0;
  carnet__arena_init(&a, 1024);
  int rc = carnet__index_blind_keys(
      e, d->secret, carnet__index_hash,
      CARNET__IDX_PART_PHONE | CARNET__IDX_PART_EMAIL | CARNET__IDX_PART_SIRET, false, &a, &ks);
  if (rc == 0) rc = who_of(d, &e->id, &w);
  if (rc == 0) {
    who *x = who_at(d, w);
    for (uint32_t i = x->first; i < x->first + x->n; i++)
      ent_at(d, i)->who = NONE;
    x->first = (uint32_t)d->nents;
    x->n = 0;
  }
  for (size_t i = 0; rc == 0 && i < ks.n; i++) {
    const uint8_t *k = ks.keys[i].base;
    /* What carnet_record_lookup asks for: phones, e-mails' matching keys,
     * SIRETs (not the hint keys nor SIRENs). */
    if (ks.keys[i].len != CARNET__INDEX_BLIND_KEY_LEN ||
        (k[0] != CARNET__IDX_PHONE && k[0] != CARNET__IDX_EMAIL && k[0] != CARNET__IDX_SIRET))
      continue;
    if ((rc = add_ent(d, w, k)) == 0) who_at(d, w)->n++;
  }
  carnet__arena_free(&a);
  return rc;
}

void carnet__bulkdup_watch(carnet__bulkdup *d, carnet_txn *t) {
  CARNET_ASSERT(t->saved == NULL || t->saved_ctx == d);
  t->saved = on_saved;
  t->saved_ctx = d;
}

size_t carnet__bulkdup_bytes(const carnet__bulkdup *d) {
  return (d->ents.n * sizeof(ent) + d->who.n * sizeof(who)) * CHUNK +
         (d->heads_cap + d->slots_cap) * sizeof(uint32_t);
}

void carnet__bulkdup_commit(carnet__bulkdup *d, carnet_txn *t) {
  d->end = t->seq;
  d->check = true;
  d->oppose_txn = NULL;
}

int carnet__bulkdup_opposed(carnet__bulkdup *d, carnet_txn *t, carnet_lookup_kind kind,
                            const char *value, bool *opposed, carnet_id *cert) {
  *opposed = false;
  if (d->oppose_txn != t) { /* B2: read once per transaction */
    carnet__scur *cur = NULL;
    carnet_buf k, v;
    int rc = carnet__store_cursor(t->st, CARNET__T_OPPOSE, &cur);
    /* Keys begin with a tag letter: all come after "\0". */
    if (rc == 0) rc = carnet__store_seek(cur, "\0", 1, &k, &v);
    carnet__store_cursor_close(cur);
    if (rc && rc != CARNET_ENOTFOUND) return rc;
    d->oppose_empty = rc == CARNET_ENOTFOUND;
    d->oppose_txn = t;
  }
  if (d->oppose_empty) return 0;
  return carnet_erasure_check_value(d->r, kind, value, opposed, cert);
}
