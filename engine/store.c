/* engine/store.c - the LMDB store: the only file that includes lmdb.h.
 *
 * One environment per replica directory, with named tables (store.h).
 * LMDB's own codes are translated here to CARNET_E* so that no other file
 * has to know them. MDB_NOTLS lets a read transaction live alongside the
 * write transaction of the same thread (the CLI reads while it writes).
 */
#include "engine/store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "carnet/error.h"

/* Virtual address space reserved for the map; the file grows only as data
 * is written. 64 GiB holds tens of millions of customers. A build for
 * valgrind (which cannot map 64 GiB) sets a smaller one:
 * cmake -DCMAKE_C_FLAGS=-DCARNET__MAP_BYTES=4294967296ull. */
#ifndef CARNET__MAP_BYTES
#define CARNET__MAP_BYTES (64ull << 30)
#endif

static const char *const table_names[CARNET__T_COUNT_] = {
    "meta", "entities", "changes", "marks", "index", "peers", "invites"};

struct carnet__store {
  MDB_env *env;
  MDB_dbi dbi[CARNET__T_COUNT_];
  unsigned fail_commit_after; /* test hook */
  char why[256];
};

/* Writes to the index table wait in the transaction and reach LMDB in key
 * order, at commit or before the table is next read in the transaction.
 * Blind index keys are keyed hashes, random by construction: inserted as
 * they come, each one descends the B-tree from the root to a cold page;
 * sorted, consecutive keys share their path and mostly their leaf, and a
 * cursor finds the next place without a new descent. For one key only the
 * last write counts (put, or delete of a key that may be absent). */
typedef struct pend_op {
  uint64_t head; /* the first 8 key bytes, big-endian (zero-padded): most comparisons end here */
  size_t off;    /* key bytes in `keys` */
  const uint8_t *key; /* the same, set when sorting (the buffer may move before) */
  uint32_t len;
  uint32_t seq;  /* order of the writes to one key */
  bool del;
} pend_op;

struct carnet__stxn {
  carnet__store *s;
  MDB_txn *txn;
  pend_op *ops;
  size_t nops, capops;
  uint8_t *keys;
  size_t klen, kcap;
};

struct carnet__scur {
  MDB_cursor *cur;
};

static int from_mdb(int rc) {
  switch (rc) {
  case MDB_SUCCESS:
    return 0;
  case MDB_NOTFOUND:
    return CARNET_ENOTFOUND;
  case MDB_KEYEXIST:
    return CARNET_EEXIST;
  case MDB_MAP_FULL:
  case ENOSPC:
  case EDQUOT:
    return CARNET_ENOSPC;
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
  case MDB_INVALID:
  case MDB_VERSION_MISMATCH:
    return CARNET_ECORRUPT;
  case ENOMEM:
    return CARNET_ENOMEM;
  case MDB_READERS_FULL:
  case EAGAIN:
  case EBUSY:
    return CARNET_EBUSY;
  case ENOENT:
    return CARNET_ENOREPLICA;
  default:
    return CARNET_EIO;
  }
}

static int fail(carnet__store *s, int mdb_rc, const char *what) {
  if (s) snprintf(s->why, sizeof s->why, "%s: %s", what, mdb_strerror(mdb_rc));
  return from_mdb(mdb_rc);
}

const char *carnet__store_why(const carnet__store *s) {
  return s->why;
}

void carnet__store_fail_commit_after(carnet__store *s, unsigned n) {
  s->fail_commit_after = n;
}

int carnet__store_open(const char *dir, unsigned flags, carnet__store **out, char *why,
                       size_t why_len) {
  carnet__store *s = calloc(1, sizeof *s);
  MDB_txn *txn = NULL;
  int rc, mrc;
  char path[4096];
  struct stat sb;
  *out = NULL;
  if (s == NULL) return CARNET_ENOMEM;

  snprintf(path, sizeof path, "%s/data.mdb", dir);
  if (!(flags & CARNET__STORE_CREATE) && stat(path, &sb) != 0) {
    snprintf(why, why_len, "no replica in %s (run 'carnet init' first)", dir);
    rc = CARNET_ENOREPLICA;
    goto done;
  }
  if (!(flags & CARNET__STORE_CREATE) && sb.st_size < 8192) {
    /* LMDB writes two meta pages at creation: anything shorter is truncated. */
    snprintf(why, why_len, "%s is truncated (%lld bytes): restore it from a backup", path,
             (long long)sb.st_size);
    rc = CARNET_ECORRUPT;
    goto done;
  }
  if ((mrc = mdb_env_create(&s->env)) || (mrc = mdb_env_set_maxdbs(s->env, CARNET__T_COUNT_)) ||
      (mrc = mdb_env_set_mapsize(s->env, (size_t)CARNET__MAP_BYTES)) ||
      (mrc = mdb_env_set_maxreaders(s->env, 126))) {
    rc = from_mdb(mrc);
    snprintf(why, why_len, "cannot set up the store: %s", mdb_strerror(mrc));
    goto done;
  }
  if ((mrc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0600))) {
    rc = from_mdb(mrc);
    if (mrc == MDB_INVALID || mrc == MDB_VERSION_MISMATCH || mrc == MDB_CORRUPTED)
      snprintf(why, why_len, "%s is not a valid Carnet data file (%s): restore it from a backup",
               path, mdb_strerror(mrc));
    else
      snprintf(why, why_len, "cannot open the replica in %s: %s", dir, mdb_strerror(mrc));
    goto done;
  }
  unsigned tflags = (flags & CARNET__STORE_CREATE) ? MDB_CREATE : 0;
  if ((mrc = mdb_txn_begin(s->env, NULL, 0, &txn))) {
    rc = from_mdb(mrc);
    snprintf(why, why_len, "cannot open the replica in %s: %s", dir, mdb_strerror(mrc));
    goto done;
  }
  for (int i = 0; i < CARNET__T_COUNT_; i++) {
    if ((mrc = mdb_dbi_open(txn, table_names[i], tflags, &s->dbi[i]))) {
      rc = mrc == MDB_NOTFOUND ? CARNET_ECORRUPT : from_mdb(mrc);
      snprintf(why, why_len, "%s is not a Carnet replica (table '%s': %s)", dir, table_names[i],
               mdb_strerror(mrc));
      goto done;
    }
  }
  mrc = mdb_txn_commit(txn);
  txn = NULL;
  if (mrc) {
    rc = from_mdb(mrc);
    snprintf(why, why_len, "cannot open the replica in %s: %s", dir, mdb_strerror(mrc));
    goto done;
  }
  *out = s;
  s = NULL;
  rc = 0;
done:
  if (txn) mdb_txn_abort(txn);
  if (s) {
    if (s->env) mdb_env_close(s->env);
    free(s);
  }
  return rc;
}

void carnet__store_close(carnet__store *s) {
  if (s == NULL) return;
  mdb_env_close(s->env);
  free(s);
}

static const uint8_t *pend_key(const carnet__stxn *t, const pend_op *o) {
  return t->keys + o->off;
}

static int pend_cmp(const void *a, const void *b) {
  const pend_op *x = a, *y = b;
  if (x->head != y->head) return x->head < y->head ? -1 : 1;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->key, y->key, n);
  if (c) return c;
  if (x->len != y->len) return x->len < y->len ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void pend_clear(carnet__stxn *t) {
  free(t->ops);
  free(t->keys);
  t->ops = NULL;
  t->keys = NULL;
  t->nops = t->capops = t->klen = t->kcap = 0;
}

static int pend_add(carnet__stxn *t, const void *key, size_t klen, bool del) {
  if (klen == 0 || klen > 511) return CARNET_EINVAL; /* LMDB's own key limit */
  if (t->nops == t->capops) {
    size_t cap = t->capops ? 2 * t->capops : 1024;
    pend_op *ops = realloc(t->ops, cap * sizeof *ops);
    if (ops == NULL) return CARNET_ENOMEM;
    t->ops = ops;
    t->capops = cap;
  }
  if (t->kcap - t->klen < klen) {
    size_t cap = t->kcap ? 2 * t->kcap : 32768;
    while (cap - t->klen < klen) cap *= 2;
    uint8_t *keys = realloc(t->keys, cap);
    if (keys == NULL) return CARNET_ENOMEM;
    t->keys = keys;
    t->kcap = cap;
  }
  memcpy(t->keys + t->klen, key, klen);
  uint64_t head = 0;
  for (size_t i = 0; i < 8; i++) head = (head << 8) | (i < klen ? ((const uint8_t *)key)[i] : 0);
  t->ops[t->nops] = (pend_op){head, t->klen, NULL, (uint32_t)klen, (uint32_t)t->nops, del};
  t->nops++;
  t->klen += klen;
  return 0;
}

/* Apply the waiting index writes, in key order. */
static int pend_flush(carnet__stxn *t) {
  MDB_cursor *cur = NULL;
  int mrc = 0;
  if (t->nops == 0) return 0;
  for (size_t i = 0; i < t->nops; i++) t->ops[i].key = pend_key(t, &t->ops[i]);
  qsort(t->ops, t->nops, sizeof *t->ops, pend_cmp);
  if ((mrc = mdb_cursor_open(t->txn, t->s->dbi[CARNET__T_INDEX], &cur))) goto done;
  for (size_t i = 0; i < t->nops; i++) {
    const pend_op *o = &t->ops[i];
    /* Only the last write to a key counts. */
    if (i + 1 < t->nops && t->ops[i + 1].len == o->len &&
        memcmp(t->ops[i + 1].key, o->key, o->len) == 0)
      continue;
    MDB_val k = {o->len, (void *)o->key}, v = {0, ""};
    if (o->del) {
      mrc = mdb_cursor_get(cur, &k, &v, MDB_SET);
      if (mrc == MDB_NOTFOUND) {
        mrc = 0;
        continue;
      }
      if (mrc == 0) mrc = mdb_cursor_del(cur, 0);
    } else {
      mrc = mdb_cursor_put(cur, &k, &v, 0);
    }
    if (mrc) break;
  }
done:
  if (cur) mdb_cursor_close(cur);
  pend_clear(t);
  return mrc ? fail(t->s, mrc, "write") : 0;
}

int carnet__store_begin(carnet__store *s, bool write, carnet__stxn **out) {
  carnet__stxn *t = calloc(1, sizeof *t);
  *out = NULL;
  if (t == NULL) return CARNET_ENOMEM;
  int mrc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
  if (mrc) {
    free(t);
    return fail(s, mrc, "begin transaction");
  }
  t->s = s;
  *out = t;
  return 0;
}

int carnet__store_commit(carnet__stxn *t) {
  carnet__store *s = t->s;
  MDB_txn *txn = t->txn;
  int rc = pend_flush(t);
  free(t);
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  if (s->fail_commit_after && --s->fail_commit_after == 0) {
    mdb_txn_abort(txn);
    snprintf(s->why, sizeof s->why, "commit: injected failure");
    return CARNET_EIO;
  }
  /* A failed mdb_txn_commit has already freed the transaction (STYLE 7). */
  int mrc = mdb_txn_commit(txn);
  return mrc ? fail(s, mrc, "commit") : 0;
}

void carnet__store_abort(carnet__stxn *t) {
  if (t == NULL) return;
  pend_clear(t);
  mdb_txn_abort(t->txn);
  free(t);
}

int carnet__store_get(carnet__stxn *t, carnet__table tb, const void *key, size_t klen,
                      carnet_buf *val) {
  MDB_val k = {klen, (void *)key}, v;
  int mrc;
  if (tb == CARNET__T_INDEX && (mrc = pend_flush(t))) return mrc;
  mrc = mdb_get(t->txn, t->s->dbi[tb], &k, &v);
  if (mrc == MDB_NOTFOUND) return CARNET_ENOTFOUND;
  if (mrc) return fail(t->s, mrc, "read");
  val->base = v.mv_data;
  val->len = v.mv_size;
  return 0;
}

int carnet__store_put(carnet__stxn *t, carnet__table tb, const void *key, size_t klen,
                      const void *val, size_t vlen, unsigned flags) {
  MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
  if (tb == CARNET__T_INDEX && vlen == 0 && !(flags & CARNET__PUT_APPEND))
    return pend_add(t, key, klen, false);
  int mrc = mdb_put(t->txn, t->s->dbi[tb], &k, &v, (flags & CARNET__PUT_APPEND) ? MDB_APPEND : 0);
  return mrc ? fail(t->s, mrc, "write") : 0;
}

int carnet__store_del(carnet__stxn *t, carnet__table tb, const void *key, size_t klen) {
  MDB_val k = {klen, (void *)key};
  if (tb == CARNET__T_INDEX) return pend_add(t, key, klen, true);
  int mrc = mdb_del(t->txn, t->s->dbi[tb], &k, NULL);
  if (mrc == MDB_NOTFOUND) return CARNET_ENOTFOUND;
  return mrc ? fail(t->s, mrc, "delete") : 0;
}

int carnet__store_cursor(carnet__stxn *t, carnet__table tb, carnet__scur **out) {
  carnet__scur *c;
  int rc;
  *out = NULL;
  if (tb == CARNET__T_INDEX && (rc = pend_flush(t))) return rc;
  c = malloc(sizeof *c);
  if (c == NULL) return CARNET_ENOMEM;
  int mrc = mdb_cursor_open(t->txn, t->s->dbi[tb], &c->cur);
  if (mrc) {
    free(c);
    return fail(t->s, mrc, "cursor");
  }
  *out = c;
  return 0;
}

void carnet__store_cursor_close(carnet__scur *c) {
  if (c == NULL) return;
  mdb_cursor_close(c->cur);
  free(c);
}

static int cursor_get(carnet__scur *c, MDB_val *k, MDB_cursor_op op, carnet_buf *ko,
                      carnet_buf *vo) {
  MDB_val v;
  int mrc = mdb_cursor_get(c->cur, k, &v, op);
  if (mrc == MDB_NOTFOUND) return CARNET_ENOTFOUND;
  if (mrc) return from_mdb(mrc);
  if (ko) *ko = (carnet_buf){k->mv_data, k->mv_size};
  if (vo) *vo = (carnet_buf){v.mv_data, v.mv_size};
  return 0;
}

int carnet__store_seek(carnet__scur *c, const void *key, size_t klen, carnet_buf *k,
                       carnet_buf *v) {
  MDB_val mk = {klen, (void *)key};
  return cursor_get(c, &mk, klen ? MDB_SET_RANGE : MDB_FIRST, k, v);
}

int carnet__store_next(carnet__scur *c, carnet_buf *k, carnet_buf *v) {
  MDB_val mk;
  return cursor_get(c, &mk, MDB_NEXT, k, v);
}

int carnet__store_last(carnet__scur *c, carnet_buf *k, carnet_buf *v) {
  MDB_val mk;
  return cursor_get(c, &mk, MDB_LAST, k, v);
}
