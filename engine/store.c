/* engine/store.c - the LMDB store: the only file that includes lmdb.h.
 *
 * One environment per replica directory, with named tables (store.h).
 * LMDB's own codes are translated here to CARNET_E* so that no other file
 * has to know them. MDB_NOTLS lets a read transaction live alongside the
 * write transaction of the same thread (the CLI reads while it writes).
 *
 * Encryption at rest: the values that hold personal data or secrets (see
 * sealed() below) are sealed with the replica's data key on put (written
 * straight into the page LMDB reserves) and opened on get and on cursor
 * reads, so no caller sees ciphertext. An opened value lives in a buffer of
 * the transaction (gets) or of the cursor (cursor reads), reused by the
 * next read of the same kind: memory stays bounded during a scan of any
 * size. Debug builds take a fresh buffer for every read and free the old
 * one, so that AddressSanitizer catches a caller that keeps a value longer
 * than store.h says it lives.
 */
#include "engine/store.h"

#include <errno.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "carnet/error.h"
#include "engine/seal.h"

/* Virtual address space reserved for the map; the file grows only as data
 * is written. 64 GiB holds tens of millions of customers. */
#define CARNET__MAP_BYTES (64ull << 30)

static const char *const table_names[CARNET__T_COUNT_] = {
    "meta", "entities", "changes", "marks", "index", "peers", "invites"};

/* A reusable buffer for opened (decrypted) values. */
typedef struct sbuf {
  uint8_t *p;
  size_t cap;
} sbuf;

struct carnet__store {
  MDB_env *env;
  MDB_dbi dbi[CARNET__T_COUNT_];
  unsigned fail_commit_after; /* test hook */
  char why[256];
  uint8_t *key; /* the data key (sodium_malloc: guarded, locked), NULL until set */
  carnet__nonces nonces;
};

struct carnet__stxn {
  carnet__store *s;
  MDB_txn *txn;
  sbuf get; /* the value of the last sealed get */
  /* The secret meta values, once opened in this transaction: carnet__load
   * reads index_key for every entity, and opening it each time would be
   * one more pass per row. Wiped at the end of the transaction. */
  struct {
    uint8_t v[64];
    size_t n;
    bool ok;
  } secret[2];
};

struct carnet__scur {
  MDB_cursor *cur;
  carnet__store *s;
  carnet__table tb;
  sbuf val; /* the value at the cursor, when sealed */
};

/* --- sealed values ------------------------------------------------------- */

/* Meta values that are secrets (engine/replica_int.h): the blind index key
 * and the identity's secret signing key. */
static const char *const meta_secrets[] = {"index_key", "sign_sk"};

/* The index of a secret meta key in meta_secrets, or -1. */
static int meta_secret(const void *key, size_t klen) {
  for (size_t i = 0; i < sizeof meta_secrets / sizeof meta_secrets[0]; i++)
    if (klen == strlen(meta_secrets[i]) && memcmp(key, meta_secrets[i], klen) == 0) return (int)i;
  return -1;
}

/* Which values are sealed: every entity row (all the personal data),
 * invites (one-time join secrets) and the secret meta values. The other
 * tables hold ids, sequence numbers, watermarks, public keys and addresses,
 * and blind (keyed-hash) index keys: docs/DESIGN-NOTES.md says why. */
static bool sealed(carnet__table tb, const void *key, size_t klen) {
  switch (tb) {
  case CARNET__T_ENTITIES:
  case CARNET__T_INVITES:
    return true;
  case CARNET__T_META:
    return meta_secret(key, klen) >= 0;
  default:
    return false;
  }
}

static void sbuf_free(sbuf *b) {
  if (b->p) {
    sodium_memzero(b->p, b->cap);
    free(b->p);
  }
  b->p = NULL;
  b->cap = 0;
}

/* Room for n bytes (never NULL on success, even for n = 0). */
static int sbuf_fit(sbuf *b, size_t n) {
#ifdef NDEBUG
  if (b->p && n <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 512;
  while (cap < n)
    cap *= 2;
#else
  size_t cap = n ? n : 1; /* a fresh block per read: see the top comment */
#endif
  uint8_t *p = malloc(cap);
  if (p == NULL) return CARNET_ENOMEM;
  sbuf_free(b);
  b->p = p;
  b->cap = cap;
  return 0;
}

/* Open the sealed value `v` stored under `k` in `tb` into `b`. */
static int open_value(carnet__store *s, carnet__table tb, const MDB_val *k, const MDB_val *v,
                      sbuf *b, carnet_buf *out) {
  int rc;
  if (s->key == NULL) {
    snprintf(s->why, sizeof s->why, "read of a sealed value before the data key is loaded");
    return CARNET_EMISUSE;
  }
  if (v->mv_size < CARNET__SEAL_OVERHEAD) goto corrupt;
  if ((rc = sbuf_fit(b, v->mv_size - CARNET__SEAL_OVERHEAD))) return rc;
  if (carnet__unseal(s->key, table_names[tb], k->mv_data, k->mv_size, v->mv_data, v->mv_size,
                     b->p) != 0)
    goto corrupt;
  out->base = b->p;
  out->len = v->mv_size - CARNET__SEAL_OVERHEAD;
  return 0;
corrupt:
  snprintf(s->why, sizeof s->why,
           "a stored value (table %s) fails authentication: the data file is damaged or was "
           "changed outside Carnet (restore it from a backup or sync from a peer)",
           table_names[tb]);
  return CARNET_ECORRUPT;
}

int carnet__store_key(const carnet__store *s, uint8_t out[32]) {
  if (s->key == NULL) return CARNET_EMISUSE;
  memcpy(out, s->key, CARNET__SEAL_KEY_BYTES);
  return 0;
}

int carnet__store_set_key(carnet__store *s, const uint8_t key[32]) {
  if (s->key == NULL && (s->key = sodium_malloc(CARNET__SEAL_KEY_BYTES)) == NULL)
    return CARNET_ENOMEM;
  memcpy(s->key, key, CARNET__SEAL_KEY_BYTES);
  carnet__nonces_init(&s->nonces);
  return 0;
}

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
  if (s->key) sodium_free(s->key); /* zeroes it */
  sodium_memzero(&s->nonces, sizeof s->nonces);
  mdb_env_close(s->env);
  free(s);
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
  sbuf_free(&t->get);
  sodium_memzero(t->secret, sizeof t->secret);
  free(t);
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
  mdb_txn_abort(t->txn);
  sbuf_free(&t->get);
  sodium_memzero(t->secret, sizeof t->secret);
  free(t);
}

int carnet__store_get(carnet__stxn *t, carnet__table tb, const void *key, size_t klen,
                      carnet_buf *val) {
  MDB_val k = {klen, (void *)key}, v;
  int ms = tb == CARNET__T_META ? meta_secret(key, klen) : -1;
  if (ms >= 0 && t->secret[ms].ok) {
    *val = (carnet_buf){t->secret[ms].v, t->secret[ms].n};
    return 0;
  }
  int mrc = mdb_get(t->txn, t->s->dbi[tb], &k, &v);
  if (mrc == MDB_NOTFOUND) return CARNET_ENOTFOUND;
  if (mrc) return fail(t->s, mrc, "read");
  if (sealed(tb, key, klen)) {
    int rc = open_value(t->s, tb, &k, &v, &t->get, val);
    if (rc == 0 && ms >= 0 && val->len <= sizeof t->secret[ms].v) {
      memcpy(t->secret[ms].v, val->base, val->len);
      t->secret[ms].n = val->len;
      t->secret[ms].ok = true;
      val->base = t->secret[ms].v;
    }
    return rc;
  }
  val->base = v.mv_data;
  val->len = v.mv_size;
  return 0;
}

int carnet__store_put(carnet__stxn *t, carnet__table tb, const void *key, size_t klen,
                      const void *val, size_t vlen, unsigned flags) {
  MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
  unsigned mflags = (flags & CARNET__PUT_APPEND) ? MDB_APPEND : 0;
  if (sealed(tb, key, klen)) {
    carnet__store *s = t->s;
    if (s->key == NULL) {
      snprintf(s->why, sizeof s->why, "write of a sealed value before the data key is loaded");
      return CARNET_EMISUSE;
    }
    /* Seal straight into the space LMDB reserves in the page: one pass, no
     * copy. `val` never points into the map here (it is a caller's row). */
    v = (MDB_val){vlen + CARNET__SEAL_OVERHEAD, NULL};
    int ms = tb == CARNET__T_META ? meta_secret(key, klen) : -1;
    if (ms >= 0) t->secret[ms].ok = false;
    int mrc = mdb_put(t->txn, s->dbi[tb], &k, &v, mflags | MDB_RESERVE);
    if (mrc) return fail(s, mrc, "write");
    carnet__seal(s->key, &s->nonces, table_names[tb], key, klen, val, vlen, v.mv_data);
    return 0;
  }
  int mrc = mdb_put(t->txn, t->s->dbi[tb], &k, &v, mflags);
  return mrc ? fail(t->s, mrc, "write") : 0;
}

int carnet__store_del(carnet__stxn *t, carnet__table tb, const void *key, size_t klen) {
  MDB_val k = {klen, (void *)key};
  int ms = tb == CARNET__T_META ? meta_secret(key, klen) : -1;
  if (ms >= 0) t->secret[ms].ok = false;
  int mrc = mdb_del(t->txn, t->s->dbi[tb], &k, NULL);
  if (mrc == MDB_NOTFOUND) return CARNET_ENOTFOUND;
  return mrc ? fail(t->s, mrc, "delete") : 0;
}

int carnet__store_cursor(carnet__stxn *t, carnet__table tb, carnet__scur **out) {
  carnet__scur *c = calloc(1, sizeof *c);
  *out = NULL;
  if (c == NULL) return CARNET_ENOMEM;
  int mrc = mdb_cursor_open(t->txn, t->s->dbi[tb], &c->cur);
  if (mrc) {
    free(c);
    return fail(t->s, mrc, "cursor");
  }
  c->s = t->s;
  c->tb = tb;
  *out = c;
  return 0;
}

void carnet__store_cursor_close(carnet__scur *c) {
  if (c == NULL) return;
  mdb_cursor_close(c->cur);
  sbuf_free(&c->val);
  free(c);
}

static int cursor_get(carnet__scur *c, MDB_val *k, MDB_cursor_op op, carnet_buf *ko,
                      carnet_buf *vo) {
  MDB_val v;
  int mrc = mdb_cursor_get(c->cur, k, &v, op);
  if (mrc == MDB_NOTFOUND) return CARNET_ENOTFOUND;
  if (mrc) return from_mdb(mrc);
  if (ko) *ko = (carnet_buf){k->mv_data, k->mv_size};
  /* Only a caller that reads the value pays for opening it. */
  if (vo && sealed(c->tb, k->mv_data, k->mv_size))
    return open_value(c->s, c->tb, k, &v, &c->val, vo);
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
