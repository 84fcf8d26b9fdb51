/* engine/store/reindex.c - the index written from the stored entities, in
 * bulk: again from every entity at the first write of a replica made
 * before blind indexes (a new index secret) and at the upgrade to schema 3
 * (a new hash); and the blind keys derived behind a mark (E3), caught up
 * before they are read.
 *
 * Above the rows (engine/store/entity_io.c), which it loads, and the key
 * derivation (engine/store/index.c), which the rows use: index.c itself loads
 * nothing, so the two do not call each other.
 */
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/mp.h"
#include "engine/base/seal.h"
#include "engine/store/entity_io.h"
#include "engine/store/replica_int.h"

/* The tags of the blind keys (hashed), which carnet__index_rehash derives
 * again; 'r' 'm' 'x' 'v' are in clear and stay. */
static const uint8_t blind_tags[] = {CARNET__IDX_PHONE, CARNET__IDX_EMAIL, CARNET__IDX_EMAIL_HINT,
                                     CARNET__IDX_SIRET, CARNET__IDX_SIREN, CARNET__IDX_NAME};

/* Index writes wait in the transaction (store.h) until the table is read:
 * a loop over every entity applies them every so many writes, so that the
 * waiting writes of a replica of any size stay bounded (~5 MB). */
#define INDEX_PENDING_MAX 65536u

/* Write the index keys of every stored entity (only the blind ones with
 * `blind_only`) in write transaction `st`, and with `r` its search
 * signature (engine/crm/searchsig.h: behind the same mark). */
static int index_all(carnet_replica *r, carnet__stxn *st, bool blind_only) {
  carnet__scur *cur = NULL;
  carnet_buf k;
  int rc = carnet__store_cursor(st, CARNET__T_ENTITIES, &cur);
  if (rc) return rc;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, NULL); rc == 0;
       rc = carnet__store_next(cur, &k, NULL)) {
    carnet_id id;
    carnet__loaded l;
    if (k.len != 16) {
      rc = CARNET_ECORRUPT;
      break;
    }
    memcpy(id.b, k.base, 16);
    rc = carnet__load(st, &id, &l);
    for (size_t i = 0; rc == 0 && i < l.old_keys.n; i++) {
      const uint8_t *key = l.old_keys.keys[i].base;
      if (blind_only && memchr(blind_tags, key[0], sizeof blind_tags) == NULL) continue;
      rc = carnet__store_put(st, CARNET__T_INDEX, key, l.old_keys.keys[i].len, "", 0, 0);
    }
    if (rc == 0 && r && r->search_sig && l.existed && l.has_secret) {
      uint8_t *sig = NULL;
      size_t len = 0;
      rc = r->search_sig(&l.e, &l.secret, &sig, &len);
      if (rc == 0 && sig) rc = carnet__store_put(st, CARNET__T_SEARCH, id.b, 16, sig, len, 0);
      carnet__free(sig);
    }
    carnet__loaded_free(&l);
    if (rc == 0 && carnet__store_pending(st) >= INDEX_PENDING_MAX) rc = carnet__store_flush(st);
    if (rc) break;
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

int carnet__index_secret_ensure(carnet_txn *t) {
  carnet__blind_secret secret;
  int rc = carnet__index_secret(t->st, &secret);
  if (rc != CARNET_ENOTFOUND) return rc;
  carnet__random(t->r, secret.raw, sizeof secret.raw);
  rc = carnet__store_put(t->st, CARNET__T_META, CARNET__META_INDEX_KEY,
                         strlen(CARNET__META_INDEX_KEY), secret.raw, sizeof secret.raw, 0);
  sodium_memzero(&secret, sizeof secret);
  if (rc) return rc;
  /* Index every stored entity with the new secret (see the top comment):
   * the blind index is then whole up to the transaction's start. */
  if ((rc = index_all(t->r, t->st, false)) || t->seq == 0) return rc;
  if ((rc = carnet__index_mark_put(t->st, t->seq))) return rc;
  return carnet__sig_mark_put(t->st, t->seq); /* index_all wrote every signature */
}

int carnet__index_rehash(carnet__stxn *st) {
  carnet__blind_secret secret;
  carnet__scur *cur = NULL;
  carnet_buf k;
  int rc = carnet__index_secret(st, &secret);
  sodium_memzero(&secret, sizeof secret);
  if (rc == CARNET_ENOTFOUND) return 0; /* never written to: no blind key */
  if (rc) return rc;
  /* 1. Delete every blind key, a tag at a time. A batch of deletes reaches
   * the table when the next cursor opens, so each batch starts over at the
   * tag's first remaining key. */
  for (size_t t = 0; t < sizeof blind_tags; t++) {
    size_t n;
    do {
      n = 0;
      if ((rc = carnet__store_cursor(st, CARNET__T_INDEX, &cur))) return rc;
      for (rc = carnet__store_seek(cur, &blind_tags[t], 1, &k, NULL);
           rc == 0 && n < INDEX_PENDING_MAX; rc = carnet__store_next(cur, &k, NULL), n++) {
        if (k.len == 0 || ((const uint8_t *)k.base)[0] != blind_tags[t]) break;
        if ((rc = carnet__store_del(st, CARNET__T_INDEX, k.base, k.len))) break;
      }
      carnet__store_cursor_close(cur);
      cur = NULL;
      if (rc && rc != CARNET_ENOTFOUND) return rc;
    } while (n == INDEX_PENDING_MAX);
  }
  /* 2. Derive them again from every stored entity, with the current hash
   * (carnet__load derives all of an entity's keys; the ones in clear are
   * in the table already). */
  return index_all(NULL, st, true);
}

/* --- The blind index, derived in bulk (invariant E3) ----------------------
 *
 * Writes (carnet__save) do not insert blind keys: a customer's keys are
 * keyed hashes, random by construction, and inserting ~7 of them per
 * customer in every commit copied a leaf per key (most of the disk writes
 * of a bulk load or a first sync). A save only deletes, eagerly, the old
 * keys of the blind parts it changes, so the index never holds a key its
 * entity no longer derives. The mark "indexed_upto" says up to which
 * change-index entry the keys are all there; a reader of the blind keys
 * first catches up (carnet__index_ready): the keys of every entity above
 * the mark, collected, sorted by the store and inserted in one pass
 * (appended when the table is empty), then the mark moves.
 *
 * E3: an entity whose entry is <= the mark has in the index exactly the
 * blind keys its current cells derive; one above it has a subset of them.
 * A save at or below the mark (the same transaction, after a catch-up)
 * writes its keys eagerly, as before. Erasure deletes every key the
 * current cells derive, so an erased person's keys are gone whether
 * indexed yet or not. */

int carnet__index_mark(carnet__stxn *st, uint64_t *mark) {
  int rc = carnet__meta_get_u64(st, CARNET__META_INDEXED, mark);
  if (rc == CARNET_ENOTFOUND) *mark = 0, rc = 0;
  return rc;
}

int carnet__index_mark_put(carnet__stxn *st, uint64_t mark) {
  return carnet__meta_put_u64(st, CARNET__META_INDEXED, mark);
}

int carnet__sig_mark(carnet__stxn *st, uint64_t *mark) {
  uint64_t im;
  int rc = carnet__meta_get_u64(st, CARNET__META_SIGNED, mark);
  if (rc == CARNET_ENOTFOUND) *mark = 0, rc = 0;
  if (rc == 0) rc = carnet__index_mark(st, &im);
  if (rc == 0 && *mark > im) *mark = im; /* never ahead of the keys (E3) */
  return rc;
}

int carnet__sig_mark_put(carnet__stxn *st, uint64_t mark) {
  return carnet__meta_put_u64(st, CARNET__META_SIGNED, mark);
}

/* Search signatures waiting in a catch-up (engine/crm/searchsig.h): written
 * sorted by id, so that consecutive ones share their path and leaf (ids
 * of a bulk load are random), appended when all come after the table's
 * last key. Bounded in bytes. A large backlog is read in id order and its
 * signatures written as they come (sigs_direct): only a backlog read
 * entry by entry waits here, a small one or one past the 262,144 entities
 * of a transaction (1,000,000 customers: 64 MB waited, most of the
 * catch-up's 81 MB of private memory). Past the first flush, signatures
 * of random ids go in between those written before and split their leaves
 * in half; with the writable map those dirty pages are the file's, not
 * private memory. */
#define SIGS_PENDING_MAX (16u << 20)

typedef struct sig_ent {
  carnet_id id;
  uint8_t *sig;
  size_t len;
} sig_ent;

typedef struct sigs {
  sig_ent *v;
  size_t n, cap, bytes;
  /* Rows read in id order: each signature written as it comes (sig_put),
   * appended once past the table's last key (`last`, while `has_last`). */
  bool direct, has_last;
  uint8_t last[16];
} sigs;

/* Ids in byte order, as two big-endian words (a call to memcmp per
 * comparison was most of sorting 100,000 of them). */
static int sig_cmp(const void *a, const void *b) {
  const uint8_t *x = ((const sig_ent *)a)->id.b, *y = ((const sig_ent *)b)->id.b;
  uint64_t u = carnet__be64_get(x), v = carnet__be64_get(y);
  if (u == v) u = carnet__be64_get(x + 8), v = carnet__be64_get(y + 8);
  return (u > v) - (u < v);
}

static void sigs_free(sigs *s) {
  for (size_t i = 0; i < s->n; i++)
    carnet__free(s->v[i].sig);
  carnet__free(s->v);
  memset(s, 0, sizeof *s);
}

static int sigs_push(sigs *s, const carnet_id *id, uint8_t *sig, size_t len) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 1024;
    sig_ent *v = carnet__realloc(s->v, cap * sizeof *v);
    if (v == NULL) {
      carnet__free(sig);
      return CARNET_ENOMEM;
    }
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = (sig_ent){*id, sig, len};
  s->bytes += len + sizeof(sig_ent);
  return 0;
}

/* A signature of a catch-up in id order: the ids come in the table's key
 * order, so each is written at once, appended from the first id past the
 * table's last key on (every one when the table is empty). The same
 * entries as sigs_flush's; no signature waits in memory. */
static int sig_put(carnet__stxn *st, sigs *s, const carnet_id *id, const uint8_t *sig, size_t len) {
  if (s->has_last && memcmp(id->b, s->last, 16) > 0) s->has_last = false;
  return carnet__store_put(st, CARNET__T_SEARCH, id->b, 16, sig, len,
                           s->has_last ? 0 : CARNET__PUT_APPEND);
}

/* Start writing signatures as they come (sig_put). */
static int sigs_direct(carnet__stxn *st, sigs *s) {
  carnet__scur *cur = NULL;
  carnet_buf k;
  int rc = carnet__store_cursor(st, CARNET__T_SEARCH, &cur);
  if (rc) return rc;
  s->direct = true;
  rc = carnet__store_last(cur, &k, NULL);
  if (rc == 0) {
    /* Keys are ids; one of another length (none is) would order against
     * an id as its first 16 bytes, zero-padded, with equal ones not past. */
    memset(s->last, 0, sizeof s->last);
    memcpy(s->last, k.base, k.len < 16 ? k.len : 16);
    s->has_last = true;
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

static int sigs_flush(carnet__stxn *st, sigs *s) {
  carnet__scur *cur = NULL;
  carnet_buf k;
  unsigned flags = 0;
  int rc = 0;
  if (s->n == 0) return 0;
  qsort(s->v, s->n, sizeof *s->v, sig_cmp);
  if ((rc = carnet__store_cursor(st, CARNET__T_SEARCH, &cur)) == 0) {
    rc = carnet__store_last(cur, &k, NULL);
    if (rc == CARNET_ENOTFOUND || (rc == 0 && k.len == 16 && memcmp(k.base, s->v[0].id.b, 16) < 0))
      flags = CARNET__PUT_APPEND;
    rc = rc == CARNET_ENOTFOUND ? 0 : rc;
    carnet__store_cursor_close(cur);
  }
  /* Each freed once written: its page holds it now (the peak is one copy). */
  for (size_t i = 0; rc == 0 && i < s->n; i++) {
    rc = carnet__store_put(st, CARNET__T_SEARCH, s->v[i].id.b, 16, s->v[i].sig, s->v[i].len, flags);
    carnet__free(s->v[i].sig);
    s->v[i].sig = NULL;
  }
  sigs_free(s);
  return rc;
}

/* Index writes waiting before they are applied (one sorted pass each, 57
 * bytes a write with its key). A backlog read in id order (at most the
 * 262,144 entities of a transaction) waits for up to CATCHUP_PENDING_MAX:
 * W1's 100,000 customers (~700,000 keys, ~40 MB) go in one pass, appended
 * into the empty table. A larger backlog, read entry by entry over
 * several transactions, is written into a table already holding keys
 * anyway (in place), in passes of CATCHUP_PENDING_STEP (~7.5 MB): with
 * one bound of 1,048,576 writes, 1,000,000 customers' catch-up peaked at
 * 115 MB of private memory (the writes, and the table read back into
 * memory to be written again: pend_rewrite, which copies at most as many
 * entries as the writes); 56 MB with passes of 262,144, 24 MB with these. */
#define CATCHUP_PENDING_MAX 786432u
#define CATCHUP_PENDING_STEP 131072u
/* The room taken at once for them (carnet__store_pending_reserve): W1's
 * customers derive 7 blind keys each, of 33 bytes. */
#define CATCHUP_KEYS_A_ROW 8u
#define CATCHUP_KEY_BYTES 33u

/* --- The catch-up's work, on two threads ----------------------------------
 *
 * What a catch-up spends is CPU per customer: opening its sealed row,
 * decoding it, deriving its blind keys (names folded, values hashed) and
 * its search signature. None of it touches LMDB, so it runs on two threads.
 * Rows go in batches through two buffers:
 *
 *   calling thread:  read 0 | work 0 | merge 0, read 2, work 1 | merge 1 ...
 *   worker:                 | work 0 | work 1                  | work 2 ...
 *
 * The calling thread reads a batch of rows in the transaction (copied out
 * of the map: index writes in the transaction may move pages), and while a
 * worker thread works on that batch it hands the previous batch's keys and
 * signatures to the store, in the rows' order as the one-thread loop did,
 * reads the next batch, then takes its share of the batch being worked on
 * (a slice of rows at a time, so that a thread slowed down by the machine
 * does less). So the tables written are the same bytes, and LMDB is only
 * ever called from the calling thread. A worker is started and joined for
 * each batch: no thread outlives the call, and the threads share nothing
 * but the batch and its slice counter. A small batch (an import's lookups
 * after each row) is worked on the calling thread alone. Each thread has
 * its own copy of the index secret, whose derived keys and gram cache it
 * fills. The allocator is called from both threads (carnet/alloc.h: it
 * must be thread-safe). */

#define BATCH_ROWS 2048u  /* rows read per batch */
#define SLICE_ROWS 32u    /* rows a thread takes at a time */
#define PARALLEL_MIN 256u /* fewer rows in a batch: one thread */

typedef struct crow {
  carnet_id id;
  uint64_t seq;       /* its change entry */
  const uint8_t *raw; /* the stored value, copied (sealed or not) */
  size_t rawlen;
  bool sealed;
  /* Results. */
  int rc;
  bool skip; /* no keys, no signature */
  carnet_buf *keys;
  size_t nkeys;
  uint8_t *sig;
  size_t siglen;
} crow;

/* A batch: its rows, their stored values (raws) and what each thread
 * derived from them (a[thread]). */
typedef struct cbuf {
  crow *rows;
  size_t n, cap; /* rows grow to BATCH_ROWS: a small catch-up allocates little */
  carnet__arena raws, a[2];
  atomic_size_t next; /* the next slice's first row */
} cbuf;

/* One thread's state: its secret and how many signatures it made (its gram
 * cache starts at the 64th). */
typedef struct cwork {
  carnet__blind_secret secret;
  size_t nsig;
} cwork;

typedef struct cctx {
  carnet_replica *r;
  const uint8_t *dkey;
  bool by_id; /* rows read in id order (a large backlog): crow.seq is the mark */
  /* The blind index's mark: a row whose live entry is at or below it has
   * its keys (the walk starts at the signatures' mark when `sigs`). */
  uint64_t imark;
  bool sigs; /* derive the search signatures too */
} cctx;

/* A stored row's sequence number (its second object): false when it
 * cannot tell. */
static bool row_seq(const void *row, size_t len, uint64_t *rs) {
  carnet__mp m;
  uint64_t kind;
  if (carnet__mp_init(&m, row, len)) return false;
  bool ok = carnet__mp_uint(&m, &kind) == 0 && carnet__mp_uint(&m, rs) == 0;
  carnet__mp_destroy(&m);
  return ok;
}

/* The keys and signature of one row, allocated in `a`. */
static int row_work(const cctx *c, cwork *w, carnet__arena *a, crow *row) {
  const uint8_t *pt = row->raw;
  size_t len = row->rawlen;
  carnet__entity e;
  carnet__keyset ks;
  int rc = 0;
  row->skip = true;
  if (row->sealed) {
    uint8_t *open;
    if (row->rawlen < CARNET__SEAL_OVERHEAD) return CARNET_ECORRUPT;
    len = row->rawlen - CARNET__SEAL_OVERHEAD;
    if ((open = carnet__arena_alloc(a, len + 1)) == NULL) return CARNET_ENOMEM;
    if ((rc = carnet__store_open_raw(c->dkey, CARNET__T_ENTITIES, row->id.b, 16,
                                     (carnet_buf){(void *)row->raw, row->rawlen}, open)))
      return rc;
    pt = open;
  }
  /* Only customers have blind keys; the kind is a row's first byte. A
   * stale entry's row is indexed at its live entry (changelog.h L1); read
   * in id order, a row is indexed when its live entry is past the mark.
   * A row whose entry cannot be read goes on (its decoding says why). */
  uint64_t rs;
  if (len == 0 || pt[0] != CARNET_KIND_CUSTOMER) return 0;
  bool known = row_seq(pt, len, &rs);
  if (known && (c->by_id ? rs <= row->seq : rs > row->seq)) return 0;
  /* Its live entry: above the index's mark, its blind keys are derived;
   * at or below it (the walk started lower, at the signatures' mark),
   * only its signature. */
  uint64_t live = c->by_id ? (known ? rs : UINT64_MAX) : row->seq;
  bool keys = live > c->imark;
  if (!keys && !c->sigs) return 0;
  row->skip = false;
  carnet__entity_init(&e, a);
  ks.n = 0;
  rc = carnet__row_decode(&row->id, pt, len, &e);
  if (rc == 0 && keys)
    rc = carnet__index_keys_parts(&e, &w->secret, a, CARNET__IDX_PART_BLIND, &ks);
  if (rc == 0 && ks.n) {
    if ((row->keys = carnet__arena_alloc(a, ks.n * sizeof *row->keys)) == NULL)
      rc = CARNET_ENOMEM;
    else
      memcpy(row->keys, ks.keys, ks.n * sizeof *row->keys), row->nkeys = ks.n;
  }
  if (rc == 0 && c->sigs && c->r && c->r->search_sig) {
    /* A large catch-up hashes the same grams over and over: cached from
     * the 64th customer on (a small one, as an import's lookups run after
     * each row, would pay more for the cache than it saves). */
    if (w->nsig == 64 && w->secret.grams == NULL) rc = carnet__gram_cache_start(&w->secret);
    if (rc == 0) rc = c->r->search_sig(&e, &w->secret, &row->sig, &row->siglen);
    w->nsig++;
  }
  carnet__entity_free(&e);
  return rc;
}

/* Take slices of batch `b` as thread `t` until none is left. */
static void batch_run(const cctx *c, cwork *w, cbuf *b, int t) {
  for (;;) {
    size_t at = atomic_fetch_add_explicit(&b->next, SLICE_ROWS, memory_order_relaxed);
    if (at >= b->n) return;
    size_t end = at + SLICE_ROWS < b->n ? at + SLICE_ROWS : b->n;
    for (size_t i = at; i < end; i++)
      b->rows[i].rc = row_work(c, w, &b->a[t], &b->rows[i]);
  }
}

typedef struct cthread {
  const cctx *c;
  cwork *w;
  cbuf *b;
} cthread;

static void *batch_thread(void *arg) {
  cthread *t = arg;
  batch_run(t->c, t->w, t->b, 1);
  return NULL;
}

/* Frees what batch `b` holds (signatures not handed over, opened rows,
 * keys) and empties it. */
static void cbuf_reset(cbuf *b) {
  for (size_t i = 0; i < b->n; i++)
    carnet__free(b->rows[i].sig);
  b->n = 0;
  carnet__arena_free(&b->raws);
  carnet__arena_free(&b->a[0]);
  carnet__arena_free(&b->a[1]);
}

/* The catch-up's position in the change index (or, read in id order, in
 * the entities). */
typedef struct cpos {
  uint64_t last, count;
  size_t max;
  bool has_secret, has_dkey;
  bool end; /* nothing left to read (or `max` reached) */
  /* Read in id order: the mark, and the last id read (`after`, once `any`). */
  uint64_t mark;
  carnet_id after;
  bool any;
} cpos;

/* Add to `b` the row `id` of the entry `seq`, read as stored (`raw`). */
static int row_add(carnet__stxn *st, const cpos *p, cbuf *b, const uint8_t *id, uint64_t seq,
                   carnet_buf raw, bool sealed) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 32;
    crow *rows = carnet__realloc(b->rows, cap * sizeof *rows);
    if (rows == NULL) return CARNET_ENOMEM;
    b->rows = rows;
    b->cap = cap;
  }
  crow *row = &b->rows[b->n];
  memset(row, 0, sizeof *row);
  memcpy(row->id.b, id, 16);
  row->seq = seq;
  row->sealed = sealed;
  if (sealed && !p->has_dkey) { /* carnet__store_get says why */
    int rc = carnet__store_get(st, CARNET__T_ENTITIES, row->id.b, 16, &raw);
    return rc ? rc : CARNET_EMISUSE;
  }
  if ((row->raw = carnet__arena_dup(&b->raws, raw.base, raw.len)) == NULL) return CARNET_ENOMEM;
  row->rawlen = raw.len;
  b->n++;
  return 0;
}

/* Read into `b` the next batch of rows in id order: the entities after
 * p->after, each to be indexed when its live entry is past the mark. */
static int batch_read_ids(carnet__stxn *st, cpos *p, cbuf *b) {
  carnet__scur *cur = NULL;
  carnet_buf k, raw;
  bool sealed;
  int rc;
  if ((rc = carnet__store_cursor(st, CARNET__T_ENTITIES, &cur))) return rc;
  p->end = true;
  rc = carnet__store_seek_raw(cur, p->after.b, p->any ? 16 : 0, &k, &raw, &sealed);
  if (rc == 0 && p->any && k.len == 16 && memcmp(k.base, p->after.b, 16) == 0)
    rc = carnet__store_next_raw(cur, &k, &raw, &sealed);
  for (; rc == 0; rc = carnet__store_next_raw(cur, &k, &raw, &sealed)) {
    if (b->n == BATCH_ROWS) {
      p->end = false;
      break;
    }
    if (k.len != 16) {
      rc = CARNET_ECORRUPT;
      break;
    }
    memcpy(p->after.b, k.base, 16);
    p->any = true;
    if ((rc = row_add(st, p, b, k.base, p->mark, raw, sealed))) break;
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

/* Read into `b` the next batch of rows: the entries after p->last. */
static int batch_read(carnet__stxn *st, cpos *p, cbuf *b, bool *more) {
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  uint8_t from[8];
  int rc;
  carnet__be64_put(from, p->last + 1);
  if ((rc = carnet__store_cursor(st, CARNET__T_CHANGES, &cur))) return rc;
  p->end = true;
  for (rc = carnet__store_seek(cur, from, sizeof from, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    if (p->max && p->count == p->max) {
      *more = true;
      break;
    }
    if (p->has_secret && b->n == BATCH_ROWS) {
      p->end = false;
      break;
    }
    if (k.len != 8 || v.len < 16) {
      rc = CARNET_ECORRUPT;
      break;
    }
    p->last = carnet__be64_get(k.base);
    p->count++;
    if (!p->has_secret) continue; /* no blind key without a secret */
    carnet_buf raw;
    bool sealed;
    rc = carnet__store_get_raw(st, CARNET__T_ENTITIES, v.base, 16, &raw, &sealed);
    if (rc == CARNET_ENOTFOUND) { /* the check reports it; nothing derives from it */
      rc = 0;
      continue;
    }
    if (rc || (rc = row_add(st, p, b, v.base, p->last, raw, sealed))) break;
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

/* Hand the keys and signatures of batch `b` to the store, in the rows'
 * order, then empty it. */
static int batch_merge(carnet__stxn *st, cbuf *b, sigs *sg, size_t pending_max) {
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < b->n; i++) {
    crow *row = &b->rows[i];
    if (row->rc == CARNET_ECORRUPT && row->sealed) {
      carnet_buf val; /* records why (or, had it changed, reads it as it is) */
      rc = carnet__store_get(st, CARNET__T_ENTITIES, row->id.b, 16, &val);
      if (rc == 0) rc = CARNET_ECORRUPT;
    }
    if (rc == 0) rc = row->rc;
    for (size_t j = 0; rc == 0 && !row->skip && j < row->nkeys; j++)
      rc = carnet__store_put(st, CARNET__T_INDEX, row->keys[j].base, row->keys[j].len, "", 0, 0);
    if (rc == 0 && row->sig && sg->direct) {
      rc = sig_put(st, sg, &row->id, row->sig, row->siglen); /* freed with the batch */
    } else if (rc == 0 && row->sig) {
      rc = sigs_push(sg, &row->id, row->sig, row->siglen); /* takes it, even on failure */
      row->sig = NULL;
    }
    if (rc == 0 && carnet__store_pending(st) >= pending_max) rc = carnet__store_flush(st);
    if (rc == 0 && sg->bytes >= SIGS_PENDING_MAX) rc = sigs_flush(st, sg);
  }
  cbuf_reset(b);
  return rc;
}

/* Start a worker thread with every signal blocked, so that a signal meant
 * for the application (SIGINT, a libuv handler's) is never delivered to
 * it; false when it could not start (the caller works alone). */
static bool worker_start(pthread_t *th, void *(*fn)(void *), void *arg) {
  sigset_t all, old;
  sigfillset(&all);
  if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0) return false;
  bool ok = pthread_create(th, NULL, fn, arg) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return ok;
}

/* Waiting index writes from which their sort has a thread of its own. */
#define PENDING_SORT_APART 8192u

static void *pending_sort_thread(void *st) {
  carnet__store_pending_sort_half(st, 0);
  return NULL;
}

/* A large backlog (a first catch-up after a bulk load or a first sync, or
 * an index far behind) is read in id order instead of the change index's:
 * a cursor's walk over the entities instead of a read by id per entry, and
 * the signatures come in their table's key order, each written (appended
 * into an empty table) as it comes instead of waiting, sorted, in memory
 * (~41 MB for 100,000 customers). The entities whose live entry is at or
 * below the mark are skipped (their keys are there), so it needs the whole
 * backlog in the one call: at least BY_ID_MIN entries, within `max`, and
 * at least half as many as the entities (else most would be skipped). The
 * tables written are the same (tests/engine/test_searchsig.c). */
#define BY_ID_MIN BATCH_ROWS

/* The entries above `mark`: how many (*count, counting stops past `limit`
 * when it is not 0) and the last (*last). */
static int backlog(carnet__stxn *st, uint64_t mark, uint64_t limit, uint64_t *count,
                   uint64_t *last) {
  carnet__scur *cur = NULL;
  carnet_buf k;
  uint8_t from[8];
  *count = 0;
  carnet__be64_put(from, mark + 1);
  int rc = carnet__store_cursor(st, CARNET__T_CHANGES, &cur);
  if (rc) return rc;
  for (rc = carnet__store_seek(cur, from, sizeof from, &k, NULL); rc == 0;
       rc = carnet__store_next(cur, &k, NULL)) {
    if (k.len != 8) {
      rc = CARNET_ECORRUPT;
      break;
    }
    *last = carnet__be64_get(k.base);
    if (++*count > limit && limit) break;
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

static int catchup_walk(carnet__stxn *st, cpos *p, carnet__walk walk, uint64_t mark, bool *by_id) {
  uint64_t count = 0, last = mark;
  *by_id = false;
  if (!p->has_secret || walk == CARNET__WALK_ENTRIES) return 0;
  int rc = backlog(st, mark, p->max, &count, &last);
  if (rc || count == 0 || (p->max && count > p->max)) return rc;
  if (walk == CARNET__WALK_AUTO &&
      (count < BY_ID_MIN || 2 * count < carnet__store_entries(st, CARNET__T_ENTITIES)))
    return 0;
  *by_id = true;
  p->mark = mark;
  p->count = count;
  p->last = last;
  p->end = false;
  return 0;
}

int carnet__index_catchup(carnet_replica *r, carnet__stxn *st, size_t max, bool *more, uint64_t *n,
                          carnet__derive derive) {
  return carnet__index_catchup_walk(r, st, max, more, n, CARNET__WALK_AUTO, derive);
}

/* A reader of the blind index (CARNET__DERIVE_AUTO) derives the signatures
 * lagging behind their mark too when at most this many entries can lag:
 * an interactive write's own (the transaction that checked for duplicates
 * then saves writes them eagerly, as before), not a bulk load's. The first
 * duplicate check after a first sync of 100,000 customers derived their
 * signatures too: half of its ~0.45 s (issue 17). */
#define SIGS_WITH_KEYS_MAX BATCH_ROWS

/* The last entry of the change index (0 when it is empty). */
static int last_entry(carnet__stxn *st, uint64_t *last) {
  carnet__scur *cur = NULL;
  carnet_buf k;
  *last = 0;
  int rc = carnet__store_cursor(st, CARNET__T_CHANGES, &cur);
  if (rc) return rc;
  rc = carnet__store_last(cur, &k, NULL);
  if (rc == 0 && k.len != 8) rc = CARNET_ECORRUPT;
  if (rc == 0) *last = carnet__be64_get(k.base);
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

/* Whether this catch-up derives the signatures (*with_sigs) and the mark
 * it starts from (*from): the signatures' mark then, the index's
 * otherwise. Entries have distinct sequence numbers, so at most last -
 * smark of them lag: read at the last key, where counting them walked up
 * to 2,049 entries in every transaction's catch-up while a large backlog's
 * signatures waited for a search. */
static int catchup_what(carnet__stxn *st, carnet__derive derive, uint64_t mark, uint64_t *from,
                        bool *with_sigs) {
  uint64_t smark, last = 0;
  int rc = carnet__sig_mark(st, &smark);
  if (rc == 0 && derive == CARNET__DERIVE_AUTO) rc = last_entry(st, &last);
  if (rc) return rc;
  *with_sigs = derive == CARNET__DERIVE_ALL || last <= smark || last - smark <= SIGS_WITH_KEYS_MAX;
  *from = *with_sigs ? smark : mark;
  return 0;
}

int carnet__index_catchup_walk(carnet_replica *r, carnet__stxn *st, size_t max, bool *more,
                               uint64_t *n, carnet__walk walk, carnet__derive derive) {
  carnet__blind_secret secret;
  uint8_t dkey[32];
  cwork w[2];
  int nw = 0;
  cbuf bufs[2];
  sigs sg = {0};
  uint64_t mark, from;
  cpos p = {.max = max};
  cctx c = {r, dkey, false, 0, false};
  *more = false;
  if (n) *n = 0;
  memset(bufs, 0, sizeof bufs);
  for (int i = 0; i < 2; i++) { /* chunks below malloc's threshold for mmap */
    carnet__arena_init(&bufs[i].raws, 32 * 1024);
    carnet__arena_init(&bufs[i].a[0], 32 * 1024);
    carnet__arena_init(&bufs[i].a[1], 32 * 1024);
  }
  int rc = carnet__index_mark(st, &mark);
  if (rc) return rc;
  rc = carnet__index_secret(st, &secret);
  p.has_secret = rc == 0;
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  rc = 0;
  if (mark == UINT64_MAX) goto done;
  if ((rc = catchup_what(st, derive, mark, &from, &c.sigs))) goto done;
  c.imark = mark;
  p.last = from;
  if (p.has_secret) {
    p.has_dkey = carnet__store_key(r->store, dkey) == 0;
    for (; nw < 2; nw++) {
      w[nw].secret = secret;
      w[nw].secret.grams = NULL;
      w[nw].nsig = 0;
    }
  }
  if ((rc = catchup_walk(st, &p, walk, from, &c.by_id)) ||
      (c.by_id && c.sigs && (rc = sigs_direct(st, &sg))))
    goto done;
  /* `work`: the batch being worked on; `merge`: the one worked on before,
   * whose results go to the store meanwhile (the diagram above). */
  if (c.by_id) { /* a known backlog: its waiting writes' room at once */
    uint64_t want = p.count * CATCHUP_KEYS_A_ROW;
    size_t nops =
        carnet__store_pending(st) + (want < CATCHUP_PENDING_MAX ? want : CATCHUP_PENDING_MAX);
    if ((rc = carnet__store_pending_reserve(st, nops, nops * CATCHUP_KEY_BYTES))) goto done;
  }
  cbuf *work = &bufs[0], *merged = NULL;
  rc = c.by_id ? batch_read_ids(st, &p, work) : batch_read(st, &p, work, more);
  while (rc == 0 && (work || merged)) {
    pthread_t th;
    cthread t = {&c, &w[1], work};
    bool started = false;
    if (work) {
      atomic_init(&work->next, 0);
      started = work->n >= PARALLEL_MIN && worker_start(&th, batch_thread, &t);
    }
    if (merged)
      rc = batch_merge(st, merged, &sg, c.by_id ? CATCHUP_PENDING_MAX : CATCHUP_PENDING_STEP);
    cbuf *next = NULL;
    if (rc == 0 && work && !p.end) {
      next = work == &bufs[0] ? &bufs[1] : &bufs[0];
      rc = c.by_id ? batch_read_ids(st, &p, next) : batch_read(st, &p, next, more);
    }
    if (work) {
      if (rc) atomic_store(&work->next, work->n); /* failed: no more work */
      batch_run(&c, &w[0], work,
                0); /* without a worker (a small batch, or none could start): alone */
      if (started) pthread_join(th, NULL);
    }
    merged = work;
    work = next;
  }
  if (rc == 0) {
    /* The waiting index writes sorted, half by a worker while the
     * signatures waiting (if any) are sorted and written, then half by the
     * calling thread (no index key meanwhile: store.h): the commit then
     * only writes them. */
    pthread_t th;
    bool apart = carnet__store_pending(st) >= PENDING_SORT_APART, started = false;
    if (apart) {
      carnet__store_pending_split(st); /* two halves, one on each thread */
      started = worker_start(&th, pending_sort_thread, st);
    }
    rc = sigs_flush(st, &sg);
    if (apart) {
      carnet__store_pending_sort_half(st, 1);
      if (started)
        pthread_join(th, NULL);
      else
        carnet__store_pending_sort_half(st, 0);
      carnet__store_pending_sorted(st);
    }
  }
  /* Each mark at the last entry read (the walk from the signatures' mark
   * may end at or below the index's). */
  if (rc == 0 && p.count && p.last > mark) rc = carnet__index_mark_put(st, p.last);
  if (rc == 0 && p.count && c.sigs) rc = carnet__sig_mark_put(st, p.last);
done:
  sigs_free(&sg);
  for (int i = 0; i < 2; i++) {
    cbuf_reset(&bufs[i]);
    carnet__free(bufs[i].rows);
  }
  for (int i = 0; i < nw; i++) {
    carnet__gram_cache_end(&w[i].secret);
    sodium_memzero(&w[i].secret, sizeof w[i].secret);
  }
  if (p.has_secret) carnet__gram_cache_end(&secret);
  sodium_memzero(&secret, sizeof secret);
  sodium_memzero(dkey, sizeof dkey);
  if (rc == 0 && n) *n = p.count;
  return rc;
}

/* Entities per catch-up transaction of carnet__index_ready: its dirty
 * pages and waiting keys stay bounded on a replica of any size. */
#define READY_ENTITIES_MAX 262144u

/* Whether the change index holds an entry above the mark (the signatures'
 * mark with CARNET__DERIVE_ALL). */
static int lagging(carnet__stxn *st, carnet__derive derive, bool *lag) {
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  uint64_t mark;
  uint8_t from[8];
  *lag = false;
  int rc = carnet__index_mark(st, &mark);
  if (rc || mark == UINT64_MAX) return rc;
  if (derive == CARNET__DERIVE_ALL && (rc = carnet__sig_mark(st, &mark))) return rc;
  carnet__be64_put(from, mark + 1);
  if ((rc = carnet__store_cursor(st, CARNET__T_CHANGES, &cur))) return rc;
  rc = carnet__store_seek(cur, from, sizeof from, &k, &v);
  carnet__store_cursor_close(cur);
  if (rc == 0) *lag = true;
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

static int ready(carnet_replica *r, carnet__derive derive) {
  carnet__stxn *st = NULL;
  bool lag = false, more = true;
  int rc;
  if (r->txn) { /* the caller's transaction: its own writes count too */
    rc = carnet__index_catchup(r, r->txn->st, 0, &more, NULL, derive);
    return rc ? carnet__txn_fail(r->txn, rc) : 0;
  }
  /* A read-only replica cannot catch up: readers see what is indexed. A
   * change callback may not write (carnet/feed.h). */
  if (carnet__store_readonly(r->store) || carnet__feed_busy(r)) return 0;
  if ((rc = carnet__store_begin(r->store, false, &st))) goto fail;
  rc = lagging(st, derive, &lag);
  carnet__store_abort(st);
  st = NULL;
  if (rc) goto fail;
  while (lag && more) {
    if ((rc = carnet__store_begin(r->store, true, &st)) ||
        (rc = carnet__index_catchup(r, st, READY_ENTITIES_MAX, &more, NULL, derive)))
      goto fail;
    rc = carnet__store_commit(st);
    st = NULL;
    if (rc) goto fail;
  }
  return 0;
fail:
  carnet__store_abort(st);
  return carnet__fail(r, rc, "cannot bring the %s up to date: %s",
                      derive == CARNET__DERIVE_ALL ? "search index" : "duplicate index",
                      carnet__store_why(r->store));
}

int carnet__index_ready(carnet_replica *r) {
  return ready(r, CARNET__DERIVE_AUTO);
}

int carnet__search_ready(carnet_replica *r) {
  return ready(r, CARNET__DERIVE_ALL);
}
