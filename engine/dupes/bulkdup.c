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

typedef struct ent {
  uint8_t key[KEY_LEN];
  uint32_t who; /* NONE: dead (its customer was written again) */
  uint32_t next;
} ent;

typedef struct who {
  carnet_id id;
  uint32_t first, n; /* its live entries: ents[first .. first + n) */
} who;

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
  ent *ents;
  size_t nents, ents_cap;
  uint32_t *heads; /* chains of `ents` by key; heads_cap a power of two */
  size_t heads_cap;
  who *who;
  size_t nwho, who_cap;
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

static void clear(carnet__bulkdup *d) {
  if (d->ents) sodium_memzero(d->ents, d->ents_cap * sizeof *d->ents);
  if (d->who) sodium_memzero(d->who, d->who_cap * sizeof *d->who);
  carnet__free(d->ents), carnet__free(d->heads), carnet__free(d->who), carnet__free(d->slots);
  d->ents = NULL, d->heads = NULL, d->who = NULL, d->slots = NULL;
  d->nents = d->ents_cap = d->heads_cap = d->nwho = d->who_cap = d->slots_cap = 0;
}

void carnet__bulkdup_free(carnet__bulkdup *d) {
  if (d == NULL) return;
  clear(d);
  sodium_memzero(d->secret, sizeof *d->secret);
  carnet__free(d->secret_block);
  carnet__free(d);
}

static uint32_t key_hash(const uint8_t *key) {
  uint32_t h;
  memcpy(&h, key + 1, sizeof h); /* keyed SipHash output */
  return h ^ key[0];
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
  for (size_t i = 0; i < d->nents; i++) {
    uint32_t at = key_hash(d->ents[i].key) & (uint32_t)(cap - 1);
    d->ents[i].next = heads[at];
    heads[at] = (uint32_t)i;
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
  for (size_t i = 0; i < d->nwho; i++) {
    size_t at = id_hash(&d->who[i].id) & (cap - 1);
    while (slots[at] != NONE)
      at = (at + 1) & (cap - 1);
    slots[at] = (uint32_t)i;
  }
  carnet__free(d->slots);
  d->slots = slots;
  d->slots_cap = cap;
  return 0;
}

/* The customer `id` in `who`, added when absent. */
static int who_of(carnet__bulkdup *d, const carnet_id *id, uint32_t *out) {
  if (d->nwho >= UINT32_MAX - 1) return CARNET_ELIMIT;
  if (2 * (d->nwho + 1) > d->slots_cap) {
    int rc = reslot(d, d->slots_cap ? 2 * d->slots_cap : 1024);
    if (rc) return rc;
  }
  size_t at = id_hash(id) & (d->slots_cap - 1);
  for (; d->slots[at] != NONE; at = (at + 1) & (d->slots_cap - 1))
    if (memcmp(d->who[d->slots[at]].id.b, id->b, 16) == 0) {
      *out = d->slots[at];
      return 0;
    }
  if (d->nwho == d->who_cap) {
    size_t cap = d->who_cap ? 2 * d->who_cap : 1024;
    who *w = carnet__realloc(d->who, cap * sizeof *w);
    if (w == NULL) return CARNET_ENOMEM;
    d->who = w;
    d->who_cap = cap;
  }
  d->who[d->nwho] = (who){*id, 0, 0};
  d->slots[at] = (uint32_t)d->nwho;
  *out = (uint32_t)d->nwho++;
  return 0;
}

static int add_ent(carnet__bulkdup *d, uint32_t w, const uint8_t *key) {
  if (d->nents >= UINT32_MAX - 1) return CARNET_ELIMIT;
  if (d->nents == d->ents_cap) {
    size_t cap = d->ents_cap ? 2 * d->ents_cap : 4096;
    ent *e = carnet__realloc(d->ents, cap * sizeof *e);
    if (e == NULL) return CARNET_ENOMEM;
    d->ents = e;
    d->ents_cap = cap;
  }
  if (2 * (d->nents + 1) > d->heads_cap) {
    int rc = rechain(d, d->heads_cap ? 2 * d->heads_cap : 8192);
    if (rc) return rc;
  }
  ent *e = &d->ents[d->nents];
  uint32_t at = key_hash(key) & (uint32_t)(d->heads_cap - 1);
  memcpy(e->key, key, KEY_LEN);
  e->who = w;
  e->next = d->heads[at];
  d->heads[at] = (uint32_t)d->nents++;
  return 0;
}

/* The smallest id among the live entries of `key`. */
static bool table_first(const carnet__bulkdup *d, const uint8_t *key, carnet_id *out) {
  bool found = false;
  if (d->heads_cap == 0) return false;
  for (uint32_t i = d->heads[key_hash(key) & (uint32_t)(d->heads_cap - 1)]; i != NONE;
       i = d->ents[i].next) {
    const ent *e = &d->ents[i];
    if (e->who == NONE || memcmp(e->key, key, KEY_LEN) != 0) continue;
    const carnet_id *id = &d->who[e->who].id;
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
    who *x = &d->who[w];
    for (uint32_t i = x->first; i < x->first + x->n; i++)
      d->ents[i].who = NONE;
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
    if ((rc = add_ent(d, w, k)) == 0) d->who[w].n++;
  }
  carnet__arena_free(&a);
  return rc;
}

void carnet__bulkdup_watch(carnet__bulkdup *d, carnet_txn *t) {
  CARNET_ASSERT(t->saved == NULL || t->saved_ctx == d);
  t->saved = on_saved;
  t->saved_ctx = d;
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
