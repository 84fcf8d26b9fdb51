/* engine/store/store.c - the LMDB store: the only file that includes lmdb.h.
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
 *
 * A writable map (MDB_WRITEMAP). A write transaction's dirty pages live
 * in the file's mapping (page cache), not in heap copies, so a large bulk
 * group costs no private memory. LMDB then sizes data.mdb to the whole map
 * (a sparse file of CARNET__MAP_BYTES), and a store through the mapping
 * into a hole of a full disk would kill the process (SIGBUS) instead of
 * returning an error. So every write transaction keeps *room*: the file's
 * blocks are allocated (fallocate) up to LMDB's next free page plus a
 * slack that covers one write and the commit's own pages (ROOM_SLACK),
 * before each write; a full disk fails that allocation with ENOSPC, the
 * transaction fails with CARNET_ENOSPC and nothing is lost (invariant R1:
 * no page at or past LMDB's next free page is written through the map
 * unless its block is allocated). LMDB's next free page is read from its
 * transaction (txn_next_page): a field its API does not expose, checked
 * at open against mdb_env_info; where that check fails, where fallocate is
 * not supported, or where the process's file-size limit is below the map,
 * the store opens without MDB_WRITEMAP (heap copies, as before). Room is
 * allocated with fallocate's default mode, which also extends the file:
 * every writable open cuts the file LMDB sized to the map back to its
 * pages, under the writer lock (env_open_once), so data.mdb is its pages
 * and the room, never 64 GiB of holes for a copy or a crash to leave.
 */
#define _GNU_SOURCE /* F_OFD_SETLK: open file description locks (Linux) */
#include "engine/store/store.h"
#include "engine/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/base/seal.h"

/* Virtual address space reserved for the map; the file grows only as data
 * is written. 64 GiB holds tens of millions of customers. A build for
 * valgrind (which cannot map 64 GiB) sets a smaller one:
 * cmake -DCMAKE_C_FLAGS=-DCARNET__MAP_BYTES=4294967296ull. */
#ifndef CARNET__MAP_BYTES
#define CARNET__MAP_BYTES (64ull << 30)
#endif

static const char *const table_names[CARNET__T_COUNT_] = {
    "meta",    "entities", "changes", "marks",  "index",     "peers",
    "invites", "certs",    "erased",  "oppose", "conflicts", "search"};

/* A reusable buffer for opened (decrypted) values. */
typedef struct sbuf {
  uint8_t *p;
  size_t cap;
} sbuf;

/* Writes to the index table wait in the transaction and reach LMDB in key
 * order, at commit or before the table is next read in the transaction.
 * Blind index keys are keyed hashes, random by construction: inserted as
 * they come, each one descends the B-tree from the root to a cold page;
 * sorted, consecutive keys share their path and mostly their leaf, and a
 * cursor finds the next place without a new descent. For one key only the
 * last write counts (put, or delete of a key that may be absent). */
typedef struct pend_op {
  uint64_t head; /* the first 8 key bytes, big-endian (zero-padded): most comparisons end here */
  uint32_t off;  /* key bytes in `keys` (pend_key) */
  uint32_t seq;  /* order of the writes to one key */
  uint16_t len;
  bool del;
} pend_op; /* 24 bytes: a first catch-up of 100,000 customers waits with ~650,000 */

/* The waiting writes. Kept by the store from one write transaction to the
 * next: freeing and growing them again for each transaction cost page
 * faults that were a visible share of a receiving sync. Not past
 * PEND_KEEP_MAX writes (a large catch-up's ~700,000 writes and their keys,
 * ~50 MB, stayed with the open replica). */
#define PEND_KEEP_MAX 65536u

typedef struct pendbuf {
  pend_op *ops;
  size_t nops, capops;
  uint8_t *keys;
  size_t klen, kcap;
  /* The heads of the waiting keys, as a set (open addressing, 0 = empty):
   * a read of one key prefix flushes only when a waiting key may start
   * with it (carnet__store_cursor_at), so an import that looks up each
   * row's phones before writing the row keeps its writes sorted. Built at
   * the first such read of a transaction and kept from then on: a
   * transaction that never reads a prefix (a receive) never pays for it. */
  uint64_t *heads;
  size_t capheads;
  bool heads_live;
  bool heads_new; /* `heads` was first allocated by the transaction under way */
  bool sorted;    /* ops are sorted already (carnet__store_pending_sort) */
  size_t split;   /* carnet__store_pending_split's: where the heads at or above its pivot start */
} pendbuf;

static void pend_free(pendbuf *p);

struct carnet__store {
  MDB_env *env; /* NULL only inside a failed compaction */
  char *dir;
  int lock_fd;     /* DIR/carnet.lock, held shared while env is open; -1 read-only without one */
  bool readonly;   /* opened read-only (read-only media): no write transaction */
  bool nolock;     /* read-only without LMDB's lock file (MDB_NOLOCK) */
  char ro_why[96]; /* what refused write access ("Read-only file system") */
  int env_errno;   /* the error of the last failed mdb_env_open */
  MDB_dbi dbi[CARNET__T_COUNT_];
  unsigned fail_commit_after; /* test hook */
  int fail_compact;           /* test hook: the error of the next compactions */
  char why[256];
  void (*before_write)(void *ctx); /* carnet__store_before_write */
  void *before_write_ctx;
  uint8_t *key; /* the data key (sodium_malloc: guarded, locked), NULL until set */
  carnet__nonces nonces;
  pendbuf pend;    /* the index writes of the write transaction (LMDB has one at a time) */
  uint32_t schema; /* meta "schema" as last read or committed: what is sealed (sealed_in) */
  bool absent[CARNET__T_COUNT_]; /* read-only, made before the table: read as empty */
  bool writemap;                 /* opened with MDB_WRITEMAP (see the top of this file) */
  bool no_writemap;              /* this store may not use it (a check at open failed) */
  int data_fd;                   /* data.mdb (LMDB's descriptor), with writemap */
  uint32_t psize;                /* LMDB's page size */
  uint64_t room;                 /* data.mdb's bytes from 0 known allocated (writemap) */
};

struct carnet__stxn {
  carnet__store *s;
  MDB_txn *txn;
  pendbuf *pend;       /* the store's, in a write transaction; NULL in a read one */
  sbuf get;            /* the value of the last sealed get */
  uint32_t new_schema; /* a schema written in this transaction: the store's at commit */
  int room_rc;         /* sticky: room for the map could not be made (room_ensure) */
  /* The greatest key of the tables keyed by entity id (tail_of), once read
   * in this transaction: a put above it appends. */
  struct {
    uint8_t k[16];
    bool known, have;
  } tail[2];
  /* The secret meta values, once opened in this transaction: carnet__load
   * reads index_key for every entity, and opening it each time would be
   * one more pass per row. Wiped at the end of the transaction. */
  struct {
    uint8_t v[64];
    size_t n;
    bool ok;
  } secret[2];
  /* Plain meta values every write reads (meta_memo_keys), once read in
   * this transaction; dropped by a write of their key. */
  struct {
    uint8_t v[8];
    uint8_t n;
    uint8_t state; /* MEMO_UNKNOWN, MEMO_PRESENT or MEMO_ABSENT */
  } memo[3];
};

struct carnet__scur {
  MDB_cursor *cur;
  carnet__store *s;
  carnet__table tb;
  sbuf val; /* the value at the cursor, when sealed */
};

/* --- sealed values ------------------------------------------------------- */

/* Meta values that are secrets (engine/store/replica_int.h): the blind index key
 * and the identity's secret signing key. */
static const char *const meta_secrets[] = {"index_key", "sign_sk"};

/* The index of a secret meta key in meta_secrets, or -1. */
static int meta_secret(const void *key, size_t klen) {
  for (size_t i = 0; i < sizeof meta_secrets / sizeof meta_secrets[0]; i++)
    if (klen == strlen(meta_secrets[i]) && memcmp(key, meta_secrets[i], klen) == 0) return (int)i;
  return -1;
}

/* Plain meta values read by every write: the blind index's mark by every
 * save (engine/store/entity_io.c), the search signatures' mark by every
 * save at or below it, and the phone region by every write with a phone
 * (engine/crm/write.c). Each is read from LMDB once per
 * transaction and then kept in the transaction (issue 17, point 5). A kept
 * value changes only when its key is written, as a value read from LMDB's
 * map lives until the next write. */
static const char *const meta_memo_keys[] = {"indexed_upto", "signed_upto", "region"};
enum { MEMO_UNKNOWN, MEMO_PRESENT, MEMO_ABSENT };
_Static_assert(sizeof meta_memo_keys / sizeof meta_memo_keys[0] ==
                   sizeof((carnet__stxn *)0)->memo / sizeof((carnet__stxn *)0)->memo[0],
               "a slot per kept meta key");

/* The index of a kept meta key in meta_memo_keys, or -1. */
static int meta_memo(const void *key, size_t klen) {
  for (size_t i = 0; i < sizeof meta_memo_keys / sizeof meta_memo_keys[0]; i++)
    if (klen == strlen(meta_memo_keys[i]) && memcmp(key, meta_memo_keys[i], klen) == 0)
      return (int)i;
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
  case CARNET__T_CONFLICTS: /* values lost in a merge: personal data like the rows */
    return true;
  case CARNET__T_META:
    return meta_secret(key, klen) >= 0;
  default:
    return false;
  }
}

/* The schema from which the erasure certificates are sealed too: their
 * reason is typed by a person and may name one. A schema 3 file
 * holds them in clear until its upgrade reseals them (carnet__store_reseal),
 * and a schema 3 replica on read-only media is read as it is. */
#define CERTS_SEALED_SCHEMA 4u

/* sealed() for the file of store `s`. */
static bool sealed_in(const carnet__store *s, carnet__table tb, const void *key, size_t klen) {
  return sealed(tb, key, klen) || (tb == CARNET__T_CERTS && s->schema >= CERTS_SEALED_SCHEMA);
}

static void sbuf_free(sbuf *b) {
  if (b->p) {
    sodium_memzero(b->p, b->cap);
    carnet__free(b->p);
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
  uint8_t *p = carnet__malloc(cap);
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
  case EFBIG:
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

/* Whether an open failed for want of write access: read-only media
 * (EROFS), or files and directories the user may only read. */
static bool cannot_write(int e) {
  return e == EROFS || e == EACCES || e == EPERM;
}

const char *carnet__store_why(const carnet__store *s) {
  return s->why;
}

void carnet__store_fail_commit_after(carnet__store *s, unsigned n) {
  s->fail_commit_after = n;
}

void carnet__store_fail_compact(carnet__store *s, int err) {
  s->fail_compact = err;
}

/* --- room for a writable map (see the top of this file) ------------------ */

/* Slack kept allocated past LMDB's next free page, for a file whose pages
 * end at `end` bytes: 256 KiB (64 pages) holds the pages one write can
 * take (its path copied and split: 2 x depth + 2 pages, 14 for a tree of
 * depth 6) and the commit's own (main table); end / 256 holds the list of
 * free pages the commit writes (8 bytes per free page: at most end / 512).
 * An overflow value adds its length (room_ensure's `extra`). */
#define ROOM_SLACK(end) ((256ull << 10) + (end) / 256)

/* The head of LMDB's MDB_txn: the same in every release from 0.9.0 to
 * mdb.master (mdb.c: mt_parent, mt_child, mt_next_pgno). Read only when
 * mdb_version() says 0.9 and checked at open (env_open_once). */
typedef struct lmdb_txn_head {
  void *parent, *child;
  size_t next_pgno; /* pgno_t, MDB_ID: size_t */
} lmdb_txn_head;

static uint64_t txn_next_page(MDB_txn *txn) {
  lmdb_txn_head h;
  memcpy(&h, txn, sizeof h);
  return h.next_pgno;
}

/* Allocate data.mdb's blocks up to `need` bytes (and a step beyond, so
 * that a growing file calls this rarely); a full disk fails the
 * transaction with CARNET_ENOSPC and a sentence saying what to do. */
static int room_grow(carnet__stxn *t, uint64_t need) {
  carnet__store *s = t->s;
  uint64_t step = need / 8;
  if (step < (1ull << 20)) step = 1ull << 20;
  if (step > (64ull << 20)) step = 64ull << 20;
  uint64_t want[2] = {(need + step + (1ull << 20) - 1) & ~((1ull << 20) - 1), need};
  int e = 0;
  for (int i = 0; i < 2; i++) {
    uint64_t to = want[i] > (uint64_t)CARNET__MAP_BYTES ? (uint64_t)CARNET__MAP_BYTES : want[i];
    if (to <= s->room) return 0;
    do
      e = fallocate(s->data_fd, 0, (off_t)s->room, (off_t)(to - s->room)) ? errno : 0;
    while (e == EINTR);
    if (e == 0) {
      s->room = to;
      return 0;
    }
    if (e != ENOSPC && e != EDQUOT && e != EFBIG) break;
  }
  t->room_rc = from_mdb(e);
  if (t->room_rc == CARNET_ENOSPC)
    snprintf(s->why, sizeof s->why,
             "no space left for the replica in %.100s (%s; its data file needs %.2f MB): free "
             "disk space there, then retry; this write was not made, nothing committed is lost",
             s->dir, strerror(e), (double)need / 1e6);
  else
    snprintf(s->why, sizeof s->why, "cannot allocate room in %.100s/data.mdb: %s", s->dir,
             strerror(e));
  return t->room_rc;
}

/* Invariant R1 before a write of `extra` bytes of value (and at commit):
 * the blocks under LMDB's next free page and the slack are allocated. */
static int room_ensure(carnet__stxn *t, size_t extra) {
  carnet__store *s = t->s;
  if (!s->writemap) return 0;
  if (t->room_rc) return t->room_rc;
  uint64_t end = txn_next_page(t->txn) * s->psize;
  uint64_t need = end + extra + ROOM_SLACK(end);
  return need <= s->room ? 0 : room_grow(t, need);
}

/* Where data.mdb's data ends: its first hole, or its size. LMDB sizes the
 * file to the map with MDB_WRITEMAP (in this process or another), so the
 * size alone no longer shows a file cut short; its pages, all written,
 * hold no hole (the room allocated ahead reads as holes until written). */
static uint64_t data_end(int fd, uint64_t size) {
  off_t h = lseek(fd, 0, SEEK_HOLE);
  return h >= 0 && (uint64_t)h < size ? (uint64_t)h : size;
}

/* LMDB sized the file to the map (with MDB_WRITEMAP, in this process or
 * another): give it back its pages' size, in a write transaction that
 * writes nothing but holds the writer lock, so that no process writes
 * meanwhile; each one's room is checked against the file's size when its
 * next write begins (carnet__store_begin). So data.mdb is its pages and
 * the room, never 64 GiB of holes for a copy or a crash to leave. Best
 * effort: a file that keeps its size works as well. */
static void cut_to_pages(carnet__store *s) {
  MDB_txn *txn = NULL;
  MDB_envinfo info;
  struct stat fs;
  int fd = -1;
  if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0) return; /* damaged: it keeps the map's size */
  if (mdb_env_info(s->env, &info) == 0 && mdb_env_get_fd(s->env, &fd) == 0 && fstat(fd, &fs) == 0) {
    uint64_t used = ((uint64_t)info.me_last_pgno + 1) * s->psize;
    /* A file cut short keeps its data's size (the open reports it). */
    uint64_t end = data_end(fd, (uint64_t)fs.st_size);
    if (end < used) used = end;
    if ((uint64_t)fs.st_size > used && ftruncate(fd, (off_t)used) == 0) fs.st_size = (off_t)used;
    s->room = (uint64_t)fs.st_size < used ? (uint64_t)fs.st_size : used;
  }
  mdb_txn_abort(txn);
}

/* Whether this process may open the map writable: a file-size limit below
 * the map would fail LMDB's sizing of the file (SIGXFSZ, EFBIG), and the
 * head read by txn_next_page is known for LMDB 0.9 only. */
static bool writemap_allowed(void) {
  struct rlimit rl;
  int major = 0, minor = 0;
  mdb_version(&major, &minor, NULL);
  if (major != 0 || minor != 9) return false;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      rl.rlim_cur < (rlim_t)CARNET__MAP_BYTES)
    return false;
  return true;
}

/* env_open_once's answer when the map cannot be writable after all: open
 * again without MDB_WRITEMAP. */
#define ENV_NO_WRITEMAP 1

/* Open the LMDB environment of s->dir and its tables (creating the tables
 * with `create`; the erasure tables, added later, are created whenever they
 * are missing, so replicas made before them open). */
static int env_open_once(carnet__store *s, bool create, char *why, size_t why_len) {
  MDB_txn *txn = NULL;
  int rc, mrc;
  char path[4200];
  struct stat pre; /* only to give a file cut short its exact size back */
  snprintf(path, sizeof path, "%s/data.mdb", s->dir);
  if (stat(path, &pre) != 0) pre.st_size = -1;
  s->writemap = !s->readonly && !s->no_writemap && writemap_allowed();
  s->room = 0;
  if ((mrc = mdb_env_create(&s->env)) || (mrc = mdb_env_set_maxdbs(s->env, CARNET__T_COUNT_)) ||
      (mrc = mdb_env_set_mapsize(s->env, (size_t)CARNET__MAP_BYTES)) ||
      (mrc = mdb_env_set_maxreaders(s->env, 126))) {
    rc = from_mdb(mrc);
    snprintf(why, why_len, "cannot set up the store: %s", mdb_strerror(mrc));
    goto done;
  }
  unsigned eflags = MDB_NOTLS | MDB_NORDAHEAD | (s->writemap ? MDB_WRITEMAP : 0);
  if (s->readonly) eflags |= MDB_RDONLY | (s->nolock ? MDB_NOLOCK : 0);
  s->env_errno = 0;
  if ((mrc = mdb_env_open(s->env, s->dir, eflags, 0600))) {
    s->env_errno = mrc;
    rc = from_mdb(mrc);
    if (mrc == MDB_INVALID || mrc == MDB_VERSION_MISMATCH || mrc == MDB_CORRUPTED)
      snprintf(why, why_len, "%s is not a valid Carnet data file (%s): restore it from a backup",
               path, mdb_strerror(mrc));
    else
      snprintf(why, why_len, "cannot open the replica in %s: %s", s->dir, mdb_strerror(mrc));
    goto done;
  }
  /* A file cut short still opens (its meta pages are whole), but reading a
   * page past its end through the map would kill the process (SIGBUS):
   * every page up to the last one committed must be in the file. */
  MDB_envinfo info;
  MDB_stat est;
  struct stat sb;
  if ((mrc = mdb_env_info(s->env, &info)) || (mrc = mdb_env_stat(s->env, &est)) ||
      stat(path, &sb) != 0) {
    rc = mrc ? from_mdb(mrc) : CARNET_EIO;
    snprintf(why, why_len, "cannot open the replica in %s: %s", s->dir,
             mrc ? mdb_strerror(mrc) : "cannot stat data.mdb");
    goto done;
  }
  s->psize = est.ms_psize;
  if (s->writemap) {
    /* fallocate must work here, or a full disk could not be told apart
     * from a hole (the two meta pages are allocated: no space is taken). */
    int e = mdb_env_get_fd(s->env, &s->data_fd) ? EBADF : 0;
    if (e == 0 && fallocate(s->data_fd, 0, 0, 2 * (off_t)est.ms_psize) != 0) e = errno;
    if (e == EOPNOTSUPP || e == ENOSYS || e == EBADF) {
      rc = ENV_NO_WRITEMAP;
      goto done;
    }
  }
  int dfd = -1;
  if (mdb_env_get_fd(s->env, &dfd) == 0) sb.st_size = (off_t)data_end(dfd, (uint64_t)sb.st_size);
  if ((uint64_t)sb.st_size < ((uint64_t)info.me_last_pgno + 1) * est.ms_psize) {
    /* LMDB sized it to the map: give it its cut size back, so that the
     * next open sees the same. */
    if (pre.st_size >= 0 && pre.st_size < sb.st_size && pre.st_size + 4096 > sb.st_size)
      sb.st_size = pre.st_size; /* the hole starts at the block after the cut */
    if (s->writemap && dfd >= 0 && ftruncate(dfd, sb.st_size) != 0) {
      /* the report below holds whatever happens */
    }
    snprintf(why, why_len,
             "%s is truncated (%lld bytes, its pages need %llu): restore it from a backup", path,
             (long long)sb.st_size,
             (unsigned long long)(((uint64_t)info.me_last_pgno + 1) * est.ms_psize));
    rc = CARNET_ECORRUPT;
    goto done;
  }
  /* Read-only, the tables are opened in a read transaction (its commit
   * keeps the handles) and none can be created. */
  if ((mrc = mdb_txn_begin(s->env, NULL, s->readonly ? MDB_RDONLY : 0, &txn))) {
    rc = from_mdb(mrc);
    snprintf(why, why_len, "cannot open the replica in %s: %s", s->dir, mdb_strerror(mrc));
    goto done;
  }
  if (s->writemap) {
    /* The check of txn_next_page: a write transaction begins at the page
     * after the last one committed. */
    if ((mrc = mdb_env_info(s->env, &info)) == 0 && txn_next_page(txn) != info.me_last_pgno + 1) {
      rc = ENV_NO_WRITEMAP;
      goto done;
    }
  }
  for (int i = 0; i < CARNET__T_COUNT_; i++) {
    unsigned tflags = !s->readonly && (create || i >= CARNET__T_CERTS) ? MDB_CREATE : 0;
    mrc = mdb_dbi_open(txn, table_names[i], tflags, &s->dbi[i]);
    /* A read-only replica made before the conflicts table lost nothing in
     * a merge that this build would have kept: it reads as empty. One made
     * before the search signatures has none: its searches scan. */
    if (mrc == MDB_NOTFOUND && s->readonly && (i == CARNET__T_CONFLICTS || i == CARNET__T_SEARCH)) {
      s->absent[i] = true;
      continue;
    }
    if (mrc) {
      rc = mrc == MDB_NOTFOUND ? CARNET_ECORRUPT : from_mdb(mrc);
      if (mrc == MDB_NOTFOUND && s->readonly && i >= CARNET__T_CERTS)
        snprintf(why, why_len,
                 "the replica in %s is read-only (%s) and was made by an older Carnet that "
                 "lacks the table '%s': open it once on writable storage",
                 s->dir, s->ro_why, table_names[i]);
      else
        snprintf(why, why_len, "%s is not a Carnet replica (table '%s': %s)", s->dir,
                 table_names[i], mdb_strerror(mrc));
      goto done;
    }
  }
  /* Which values are sealed depends on the file's schema (sealed_in). */
  MDB_val sk = {strlen("schema"), "schema"}, sv;
  s->schema = 0;
  if (mdb_get(txn, s->dbi[CARNET__T_META], &sk, &sv) == 0 && sv.mv_size == 4) {
    const uint8_t *b = sv.mv_data;
    s->schema = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
  }
  mrc = mdb_txn_commit(txn);
  txn = NULL;
  if (mrc) {
    rc = from_mdb(mrc);
    snprintf(why, why_len, "cannot open the replica in %s: %s", s->dir, mdb_strerror(mrc));
    goto done;
  }
  if (!s->readonly) cut_to_pages(s);
  rc = 0;
done:
  if (txn) mdb_txn_abort(txn);
  if (rc && s->env) {
    if (!s->readonly && s->psize) cut_to_pages(s); /* a failed open leaves the size it found */
    mdb_env_close(s->env);
    s->env = NULL;
  }
  return rc;
}

static int env_open(carnet__store *s, bool create, char *why, size_t why_len) {
  int rc = env_open_once(s, create, why, why_len);
  if (rc == ENV_NO_WRITEMAP) {
    s->no_writemap = true;
    rc = env_open_once(s, create, why, why_len);
  }
  if (rc || !s->writemap) {
    s->writemap = false;
    s->data_fd = -1;
  }
  return rc;
}

/* The directory lock is an open-file-description record lock (fcntl
 * F_OFD_*), not flock: turning a shared lock into an exclusive one is then
 * refused without losing the shared one (flock drops it first, and another
 * process could compact in that instant while this one still maps the old
 * file), and turning it back is atomic. */
static int lock_set(carnet__store *s, short type, bool wait) {
  struct flock fl;
  if (s->lock_fd < 0) return 0; /* read-only media without the file: no process writes there */
  memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET; /* l_start = l_len = 0: the whole file */
  while (fcntl(s->lock_fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) != 0)
    if (errno != EINTR) return -1;
  return 0;
}

/* Take the directory lock shared (waiting while a compaction runs). */
static int lock_shared(carnet__store *s) {
  return lock_set(s, F_RDLCK, true);
}

int carnet__store_open(const char *dir, unsigned flags, carnet__store **out, char *why,
                       size_t why_len) {
  carnet__store *s = carnet__calloc(1, sizeof *s);
  int rc;
  char path[4200];
  struct stat sb;
  *out = NULL;
  if (s == NULL) return CARNET_ENOMEM;
  s->lock_fd = -1;
  s->data_fd = -1;
  if ((s->dir = carnet__strdup(dir)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
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
  /* Every process holds the directory lock shared while its environment is
   * open; compaction (carnet__store_compact) needs it exclusive. */
  snprintf(path, sizeof path, "%s/%s", dir, CARNET__STORE_LOCK_FILE);
  s->readonly = (flags & CARNET__STORE_READONLY) && !(flags & CARNET__STORE_CREATE);
  if (!s->readonly) s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (s->lock_fd < 0 && !(flags & CARNET__STORE_CREATE) && (s->readonly || cannot_write(errno))) {
    /* Read-only media: open what is there for reading. A shared lock needs
     * only read access, so a compaction run through a writable path to the
     * same files still waits for us; with no lock file at all, nothing can
     * have written here since it was made read-only. */
    if (!s->readonly) snprintf(s->ro_why, sizeof s->ro_why, "%s", strerror(errno));
    s->readonly = true;
    s->lock_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->lock_fd < 0 && errno != ENOENT && !cannot_write(errno)) {
      rc = CARNET_EIO;
      snprintf(why, why_len, "cannot lock the replica in %s: %s", dir, strerror(errno));
      goto done;
    }
  }
  if ((s->lock_fd < 0 && !s->readonly) || lock_shared(s) != 0) {
    rc = errno == ENOENT ? CARNET_ENOREPLICA : CARNET_EIO;
    snprintf(why, why_len, "cannot lock the replica in %s: %s", dir, strerror(errno));
    goto done;
  }
  rc = env_open(s, flags & CARNET__STORE_CREATE, why, why_len);
  if (rc && !s->readonly && !(flags & CARNET__STORE_CREATE) && cannot_write(s->env_errno)) {
    /* The lock file could be written but LMDB's own files cannot. */
    snprintf(s->ro_why, sizeof s->ro_why, "%s", strerror(s->env_errno));
    s->readonly = true;
    rc = env_open(s, false, why, why_len);
  }
  if (rc && s->readonly && !s->nolock && cannot_write(s->env_errno)) {
    /* LMDB's lock file exists but cannot be written (or cannot be made):
     * read without it (MDB_NOLOCK). */
    s->nolock = true;
    rc = env_open(s, false, why, why_len);
  }
  if (rc) goto done;
  *out = s;
  s = NULL;
  rc = 0;
done:
  carnet__store_close(s);
  return rc;
}

bool carnet__store_readonly(const carnet__store *s) {
  return s->readonly;
}

bool carnet__store_writemap(const carnet__store *s) {
  return s->writemap;
}

bool carnet__store_has(const carnet__stxn *t, carnet__table tb) {
  return !t->s->absent[tb];
}

const char *carnet__store_readonly_why(const carnet__store *s) {
  return s->ro_why;
}

/* The page after the last one committed in data.mdb (`fd`), from its meta
 * pages (store_pages.h gives the layout: magic at 16, last page at 136,
 * txnid at 144 in a page of `psize`): 0 when neither is valid. */
static uint64_t file_pages(int fd, uint32_t psize) {
  uint64_t best_txn = 0, pages = 0;
  for (int i = 0; i < 2; i++) {
    uint8_t m[152];
    uint32_t magic;
    uint64_t last, txnid;
    if (pread(fd, m, sizeof m, (off_t)i * psize) != (ssize_t)sizeof m) return 0;
    memcpy(&magic, m + 16, 4);
    memcpy(&last, m + 136, 8);
    memcpy(&txnid, m + 144, 8);
    if (magic != 0xBEEFC0DEu) continue;
    if (txnid >= best_txn) {
      best_txn = txnid;
      pages = last + 1;
    }
  }
  return pages;
}

/* With a writable map, LMDB made data.mdb as large as the map (a sparse
 * file) and room_grow allocated blocks past its pages. The last process
 * to close the replica gives the file its own size back, so that at rest
 * it is what it holds (copies, `ls`, salvage): the last one is the one
 * that gets the directory lock exclusive, which every process that has
 * the environment open holds shared; the size is read from the meta pages
 * under that lock, so no commit can come in between. */
static void trim_file(carnet__store *s) {
  char path[4200];
  struct stat sb;
  if (s->psize == 0 || lock_set(s, F_WRLCK, false) != 0) return;
  snprintf(path, sizeof path, "%s/data.mdb", s->dir);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    uint64_t pages = file_pages(fd, s->psize);
    if (pages >= 2 && fstat(fd, &sb) == 0 && (uint64_t)sb.st_size > pages * s->psize &&
        ftruncate(fd, (off_t)(pages * s->psize)) != 0) {
      /* the file keeps its size: the next open works as well */
    }
    close(fd);
  }
  lock_set(s, F_RDLCK, false);
}

void carnet__store_close(carnet__store *s) {
  if (s == NULL) return;
  if (s->key) sodium_free(s->key); /* zeroes it */
  sodium_memzero(&s->nonces, sizeof s->nonces);
  pend_free(&s->pend);
  if (s->env) {
    mdb_env_close(s->env);
    if (!s->readonly) trim_file(s);
  }
  if (s->lock_fd >= 0) close(s->lock_fd); /* releases the lock */
  carnet__free(s->dir);
  carnet__free(s);
}

/* Copy the environment, compacted, to data.mdb.tmp and make it durable. */
static int copy_compact(carnet__store *s, const char *tmp) {
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(s->why, sizeof s->why, "compaction: cannot create %.180s: %s", tmp, strerror(errno));
    return errno == ENOSPC ? CARNET_ENOSPC : CARNET_EIO;
  }
  int mrc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
  if (mrc == 0 && fsync(fd) != 0) mrc = errno;
  if (close(fd) != 0 && mrc == 0) mrc = errno;
  if (mrc) {
    unlink(tmp);
    return fail(s, mrc, "compaction: copy");
  }
  return 0;
}

int carnet__store_copy(carnet__store *s, int fd) {
  if (s->env == NULL) return CARNET_EIO;
  int mrc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
  return mrc ? fail(s, mrc, "copy") : 0;
}

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

int carnet__store_compact(carnet__store *s, bool *done) {
  char data[4200], tmp[4200], why[256];
  int rc;
  *done = false;
  if (s->readonly) return 0; /* nothing can be written here: the flag stays for later */
  /* Exclusive, without waiting: refused while another process holds it
   * shared (ours stays shared then). */
  if (lock_set(s, F_WRLCK, false) != 0) {
    if (errno == EAGAIN || errno == EACCES) return 0;
    snprintf(s->why, sizeof s->why, "compaction: lock: %s", strerror(errno));
    return CARNET_EIO;
  }
  /* No other process has the environment open: no reader keeps an old page
   * or the old file mapped, so after the rename nothing reads it. */
  snprintf(data, sizeof data, "%s/data.mdb", s->dir);
  snprintf(tmp, sizeof tmp, "%s/data.mdb.tmp", s->dir);
  if (s->fail_compact) { /* test hook: the copy fails, as on a full disk */
    rc = s->fail_compact;
    snprintf(s->why, sizeof s->why, "compaction: copy: %s (injected)",
             rc == CARNET_ENOSPC ? "No space left on device" : "Input/output error");
    goto relock;
  }
  if ((rc = copy_compact(s, tmp))) goto relock;
  mdb_env_close(s->env);
  s->env = NULL;
  if (rename(tmp, data) != 0 || fsync_dir(s->dir) != 0) {
    snprintf(s->why, sizeof s->why, "compaction: cannot rename %.180s: %s", tmp, strerror(errno));
    unlink(tmp);
    rc = CARNET_EIO;
  }
  /* Reopen whatever happened: the old file if the rename failed. */
  int orc = env_open(s, false, why, sizeof why);
  if (orc) {
    snprintf(s->why, sizeof s->why, "compaction: %.200s", why);
    if (rc == 0) rc = orc;
  }
  if (rc == 0) *done = true;
relock:
  if (lock_shared(s) != 0 && rc == 0) rc = CARNET_EIO;
  return rc;
}

static const uint8_t *pend_key(const pendbuf *p, const pend_op *o) {
  return p->keys + o->off;
}

/* Whether sorted write i is to the same key as the next (the next counts):
 * keys whose heads differ differ. */
static bool pend_same_next(const pendbuf *p, size_t i) {
  const pend_op *o = &p->ops[i], *n = o + 1;
  return i + 1 < p->nops && n->head == o->head && n->len == o->len &&
         memcmp(pend_key(p, n), pend_key(p, o), o->len) == 0;
}

/* qsort_r's comparison; `keys` is the pendbuf's key bytes. */
static int pend_cmp(const void *a, const void *b, void *keys) {
  const pend_op *x = a, *y = b;
  if (x->head != y->head) return x->head < y->head ? -1 : 1;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp((const uint8_t *)keys + x->off, (const uint8_t *)keys + y->off, n);
  if (c) return c;
  if (x->len != y->len) return x->len < y->len ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static uint64_t key_head(const void *key, size_t klen) {
  uint64_t head = 0;
  for (size_t i = 0; i < 8; i++)
    head = (head << 8) | (i < klen ? ((const uint8_t *)key)[i] : 0);
  return head ? head : 1; /* 0 marks an empty slot of the set; a stray match costs a flush */
}

static size_t head_slot(uint64_t h, size_t cap) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return (size_t)h & (cap - 1);
}

static void heads_put(uint64_t *set, size_t cap, uint64_t h) {
  for (size_t i = head_slot(h, cap);; i = (i + 1) & (cap - 1)) {
    if (set[i] == h) return;
    if (set[i] == 0) {
      set[i] = h;
      return;
    }
  }
}

static bool heads_has(const pendbuf *p, uint64_t h) {
  if (p->nops == 0 || !p->heads_live) return false;
  for (size_t i = head_slot(h, p->capheads);; i = (i + 1) & (p->capheads - 1)) {
    if (p->heads[i] == h) return true;
    if (p->heads[i] == 0) return false;
  }
}

/* Keeps the set at most half full (nops counts every op, an upper bound). */
static int heads_add(pendbuf *p, uint64_t h) {
  if (2 * (p->nops + 1) > p->capheads) {
    size_t cap = p->capheads ? 2 * p->capheads : 2048;
    uint64_t *set = carnet__calloc(cap, sizeof *set);
    if (set == NULL) return CARNET_ENOMEM;
    if (p->capheads == 0) p->heads_new = true;
    for (size_t i = 0; i < p->capheads; i++)
      if (p->heads[i]) heads_put(set, cap, p->heads[i]);
    carnet__free(p->heads);
    p->heads = set;
    p->capheads = cap;
  }
  heads_put(p->heads, p->capheads, h);
  return 0;
}

/* The set of the keys waiting so far, from then on kept with each write. */
static int heads_build(pendbuf *p) {
  size_t n = p->nops;
  p->heads_live = true;
  p->nops = 0; /* heads_add sizes the set by the keys already in it */
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++, p->nops++)
    rc = heads_add(p, p->ops[i].head);
  p->nops = n;
  if (rc) p->heads_live = false; /* a half-built set must not answer */
  return rc;
}

/* Empty for the next transaction, keeping the memory unless it grew past
 * what a large transaction needs. The set is emptied run by run: every
 * entry belongs to a waiting key, so zeroing from each key's home slot to
 * the next empty slot clears them all, in time of the number of keys. */
static void pend_reset(pendbuf *p) {
  p->sorted = false;
  if (p->capops > PEND_KEEP_MAX) {
    pend_free(p);
    return;
  }
  if (!p->heads_live) {
    /* never built in this transaction: nothing in it */
  } else if (p->nops * 8 >= p->capheads) {
    if (p->heads) memset(p->heads, 0, p->capheads * sizeof *p->heads);
  } else {
    for (size_t i = 0; i < p->nops; i++)
      for (size_t j = head_slot(p->ops[i].head, p->capheads); p->heads[j];
           j = (j + 1) & (p->capheads - 1))
        p->heads[j] = 0;
  }
  p->heads_live = false;
  p->nops = p->klen = 0;
}

static void pend_free(pendbuf *p) {
  carnet__free(p->ops);
  carnet__free(p->keys);
  carnet__free(p->heads);
  memset(p, 0, sizeof *p);
}

/* The next capacity of a buffer of `size`-byte elements: doubled while
 * under 8 MB, then by half, so that a large catch-up's waiting writes
 * hold less unused room. */
static size_t pend_grow(size_t cap, size_t first, size_t size) {
  if (cap == 0) return first;
  return cap * size < ((size_t)8 << 20) ? 2 * cap : cap + cap / 2;
}

static int pend_flush(carnet__stxn *t);

static int pend_add(carnet__stxn *t, const void *key, size_t klen, bool del) {
  pendbuf *p = t->pend;
  if (klen == 0 || klen > 511) return CARNET_EINVAL; /* LMDB's own key limit */
  if (p == NULL) return CARNET_EMISUSE;              /* a write in a read transaction */
  p->sorted = false;
  /* Offsets and the order of writes are 32 bits: past them, what waits
   * goes to LMDB first (as before a read of the table). */
  if (p->nops == UINT32_MAX || p->klen + klen > UINT32_MAX) {
    int rc = pend_flush(t);
    if (rc) return rc;
  }
  if (p->nops == p->capops) {
    size_t cap = pend_grow(p->capops, 1024, sizeof *p->ops);
    pend_op *ops = carnet__realloc(p->ops, cap * sizeof *ops);
    if (ops == NULL) return CARNET_ENOMEM;
    p->ops = ops;
    p->capops = cap;
  }
  if (p->kcap - p->klen < klen) {
    size_t cap = pend_grow(p->kcap, 32768, 1);
    while (cap - p->klen < klen)
      cap = pend_grow(cap, 32768, 1);
    uint8_t *keys = carnet__realloc(p->keys, cap);
    if (keys == NULL) return CARNET_ENOMEM;
    p->keys = keys;
    p->kcap = cap;
  }
  uint64_t head = key_head(key, klen);
  if (p->heads_live && heads_add(p, head)) return CARNET_ENOMEM;
  memcpy(p->keys + p->klen, key, klen);
  p->ops[p->nops] = (pend_op){head, (uint32_t)p->klen, (uint32_t)p->nops, (uint16_t)klen, del};
  p->nops++;
  p->klen += klen;
  return 0;
}

/* Below this many writes, qsort; above, a radix sort of the heads. */
#define PEND_RADIX_MIN 4096

/* A bucket of at most this many writes is sorted by insertion. */
#define PEND_INSERTION_MAX 32

/* Places ops[0, n) in place in the buckets of their heads' digit
 * (head >> shift) & mask, in the digits' order: one counting pass, then
 * each entry moved once to its bucket (an American flag sort, no copy of
 * the entries). start[d] .. start[d + 1] is then bucket d (start has
 * mask + 2 entries, next mask + 1). */
static void pend_flag_pass(pend_op *ops, size_t n, unsigned shift, size_t mask, size_t *start,
                           size_t *next) {
  memset(start, 0, (mask + 2) * sizeof *start);
  for (size_t i = 0; i < n; i++)
    start[((ops[i].head >> shift) & mask) + 1]++;
  for (size_t d = 0; d <= mask; d++)
    start[d + 1] += start[d];
  memcpy(next, start, (mask + 1) * sizeof *next);
  for (size_t d = 0; d <= mask; d++) {
    /* Fill bucket d: each entry found there that belongs elsewhere is
     * swapped into its own bucket's next free place until one of d's
     * comes back. */
    while (next[d] < start[d + 1]) {
      pend_op o = ops[next[d]];
      size_t od = (size_t)((o.head >> shift) & mask);
      while (od != d) {
        pend_op t = ops[next[od]];
        ops[next[od]++] = o;
        o = t;
        od = (size_t)((o.head >> shift) & mask);
      }
      ops[next[d]++] = o;
    }
  }
}

static void pend_insertion(pendbuf *p, pend_op *b, size_t m) {
  for (size_t i = 1; i < m; i++) {
    pend_op o = b[i];
    size_t j = i;
    for (; j > 0 && pend_cmp(&b[j - 1], &o, p->keys) > 0; j--)
      b[j] = b[j - 1];
    b[j] = o;
  }
}

/* Sorts the waiting writes in pend_cmp's order (a total order: `seq`
 * tells every two writes apart, so any correct sort gives the same
 * result). A large catch-up waits with ~650,000 blind keys: a tag byte
 * (a handful of values) then a hash. They are placed in the buckets of
 * their first byte, then each large bucket in those of the next two bytes
 * (American flag sorts), and only the last buckets (~2 entries each for
 * random keys) go through pend_cmp. Bucketed by the top 16 bits of the
 * head at once, the tag left ~1,500 buckets of ~450 keys each to qsort: a
 * tenth of the catch-up. Falls back to qsort when it cannot allocate the
 * counts. */
static void pend_sort_range(pendbuf *p, size_t lo, size_t hi) {
  pend_op *ops = p->ops + lo;
  size_t n = hi - lo;
  size_t start1[257], next1[256];
  size_t *start = carnet__malloc((65536 + 1) * sizeof *start);
  size_t *next = carnet__malloc(65536 * sizeof *next);
  if (start == NULL || next == NULL) {
    qsort_r(ops, n, sizeof *ops, pend_cmp, p->keys);
    goto done;
  }
  pend_flag_pass(ops, n, 56, 0xff, start1, next1);
  for (size_t d1 = 0; d1 < 256; d1++) {
    pend_op *b1 = ops + start1[d1];
    size_t m1 = start1[d1 + 1] - start1[d1];
    if (m1 <= PEND_INSERTION_MAX) {
      pend_insertion(p, b1, m1);
      continue;
    }
    if (m1 < PEND_RADIX_MIN) { /* 65,536 counts would cost more than the sort */
      qsort_r(b1, m1, sizeof *b1, pend_cmp, p->keys);
      continue;
    }
    pend_flag_pass(b1, m1, 40, 0xffff, start, next);
    for (size_t d = 0; d < 65536; d++) {
      pend_op *b = b1 + start[d];
      size_t m = start[d + 1] - start[d];
      if (m > PEND_INSERTION_MAX)
        qsort_r(b, m, sizeof *b, pend_cmp, p->keys);
      else
        pend_insertion(p, b, m);
    }
  }
done:
  carnet__free(next);
  carnet__free(start);
}

static void pend_sort(pendbuf *p) {
  if (p->nops < PEND_RADIX_MIN)
    qsort_r(p->ops, p->nops, sizeof *p->ops, pend_cmp, p->keys);
  else
    pend_sort_range(p, 0, p->nops);
}

static int u64_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* The waiting writes split in place into those whose head is below a
 * pivot, then the others: two ranges that sort apart (pend_sort_range),
 * of about the same size. The pivot is the median head of a sample (the
 * heads' first byte is a tag of a few values: a split by a bit of the
 * head left every key on one side). Returns where the second starts. */
static size_t pend_split(pendbuf *p) {
  enum { SAMPLE = 1023 };
  uint64_t sample[SAMPLE];
  size_t ns = p->nops < SAMPLE ? p->nops : SAMPLE;
  if (ns == 0) return 0;
  for (size_t k = 0; k < ns; k++)
    sample[k] = p->ops[k * (p->nops / ns)].head;
  qsort(sample, ns, sizeof sample[0], u64_cmp);
  uint64_t pivot = sample[ns / 2];
  size_t i = 0, j = p->nops;
  for (;;) {
    while (i < j && p->ops[i].head < pivot)
      i++;
    while (i < j && p->ops[j - 1].head >= pivot)
      j--;
    if (i >= j) return i;
    pend_op t = p->ops[i];
    p->ops[i++] = p->ops[--j];
    p->ops[j] = t;
  }
}

static MDB_stat table_stat(carnet__stxn *t, carnet__table tb);

/* Apply the waiting index writes, in key order. */
/* Writes at least this many, into a table holding no more keys than
 * them: the table is written again (pend_rewrite). */
#define PEND_REWRITE_MIN 4096

/* The index table written again, whole: its entries and the waiting writes
 * (sorted, p->ops) merged in key order and appended into the emptied
 * table. Sorted keys inserted between the keys of a table split each leaf
 * they fill in half (LMDB splits a leaf in the middle unless it appends):
 * the first catch-up after a bulk load (~6 blind keys a customer, among
 * one reference code each) left its leaves half full, and wrote twice
 * their bytes. Appended, every leaf is full. The table's content is the
 * same as the writes made one by one: an entry already there keeps its
 * value (as MDB_NOOVERWRITE), a delete removes it, the last write to a
 * key counts. Returns 1, having changed nothing, when the writes are not
 * in LMDB's key order (then they go in one by one). */
/* LMDB's order of two keys of the index table (its default comparison:
 * bytes, then the shorter first), through their heads (key_head) when they
 * tell: two keys whose heads differ differ in their first 8 bytes, which
 * the zero padding orders as LMDB does, unless one head stood for zero. */
static int index_key_cmp(uint64_t ha, const void *a, size_t al, uint64_t hb, const void *b,
                         size_t bl) {
  if (ha != hb && ha != 1 && hb != 1) return ha < hb ? -1 : 1;
  int c = memcmp(a, b, al < bl ? al : bl);
  if (c) return c;
  return al < bl ? -1 : al > bl;
}

static int pend_rewrite(carnet__stxn *t, pendbuf *p) {
  MDB_txn *txn = t->txn;
  MDB_dbi dbi = t->s->dbi[CARNET__T_INDEX];
  MDB_cursor *cur = NULL;
  MDB_val k, v;
  typedef struct ent {
    uint64_t head;
    size_t off;
    uint32_t klen, vlen;
  } ent;
  ent *ex = NULL;
  uint8_t *bytes = NULL;
  size_t nex = 0, capex = 0, nbytes = 0, capbytes = 0, u = 0;
  int mrc = 0;
  /* 1. The last write to each key, in LMDB's order (or not here). */
  const pend_op *prev = NULL;
  for (size_t i = 0; i < p->nops; i++) {
    const pend_op *o = &p->ops[i];
    if (pend_same_next(p, i)) continue;
    if (prev && index_key_cmp(prev->head, pend_key(p, prev), prev->len, o->head, pend_key(p, o),
                              o->len) >= 0)
      return 1;
    prev = o;
  }
  for (size_t i = 0; i < p->nops; i++)
    if (!pend_same_next(p, i)) p->ops[u++] = p->ops[i];
  p->nops = u;
  /* 2. The table's entries, copied: emptying it frees their pages. */
  if ((mrc = mdb_cursor_open(txn, dbi, &cur))) goto done;
  for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
       mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (nex == capex) {
      size_t cap = capex ? 2 * capex : 1024;
      ent *e = carnet__realloc(ex, cap * sizeof *e);
      if (e == NULL) goto nomem;
      ex = e;
      capex = cap;
    }
    if (nbytes + k.mv_size + v.mv_size > capbytes) {
      size_t cap = capbytes ? 2 * capbytes : 65536;
      while (cap < nbytes + k.mv_size + v.mv_size)
        cap *= 2;
      uint8_t *b = carnet__realloc(bytes, cap);
      if (b == NULL) goto nomem;
      bytes = b;
      capbytes = cap;
    }
    ex[nex++] =
        (ent){key_head(k.mv_data, k.mv_size), nbytes, (uint32_t)k.mv_size, (uint32_t)v.mv_size};
    memcpy(bytes + nbytes, k.mv_data, k.mv_size);
    memcpy(bytes + nbytes + k.mv_size, v.mv_data, v.mv_size);
    nbytes += k.mv_size + v.mv_size;
  }
  if (mrc != MDB_NOTFOUND) goto done;
  mdb_cursor_close(cur);
  cur = NULL;
  /* 3. Emptied, then both merged in order and appended. Room before each
   * write (R1): a failure is the transaction's (t->room_rc). */
  if (room_ensure(t, 0)) {
    mrc = EIO;
    goto done;
  }
  if ((mrc = mdb_drop(txn, dbi, 0)) || (mrc = mdb_cursor_open(txn, dbi, &cur))) goto done;
  for (size_t i = 0, j = 0; mrc == 0 && (i < nex || j < p->nops);) {
    if (room_ensure(t, 0)) {
      mrc = EIO;
      break;
    }
    MDB_val ek = {0, NULL}, ok = {0, NULL}, e0 = {0, ""};
    if (i < nex) ek = (MDB_val){ex[i].klen, bytes + ex[i].off};
    if (j < p->nops) ok = (MDB_val){p->ops[j].len, (void *)pend_key(p, &p->ops[j])};
    int c = i == nex       ? 1
            : j == p->nops ? -1
                           : index_key_cmp(ex[i].head, ek.mv_data, ek.mv_size, p->ops[j].head,
                                           ok.mv_data, ok.mv_size);
    if (c < 0 || (c == 0 && !p->ops[j].del)) { /* an entry kept as it is */
      MDB_val ev = {ex[i].vlen, bytes + ex[i].off + ex[i].klen};
      mrc = mdb_cursor_put(cur, &ek, &ev, MDB_APPEND);
    } else if (c > 0 && !p->ops[j].del) { /* a new key */
      mrc = mdb_cursor_put(cur, &ok, &e0, MDB_APPEND);
    }
    i += c <= 0;
    j += c >= 0;
  }
  goto done;
nomem:
  mrc = ENOMEM;
done:
  if (cur) mdb_cursor_close(cur);
  carnet__free(ex);
  if (bytes) sodium_memzero(bytes, capbytes); /* blind keys: hashes, but keep them off the heap */
  carnet__free(bytes);
  return mrc;
}

/* How far ahead pend_flush fetches a key's bytes. */
#define PEND_PREFETCH 8

static int pend_flush(carnet__stxn *t) {
  pendbuf *p = t->pend;
  MDB_cursor *cur = NULL;
  int mrc = 0, rrc = 0;
  if (p == NULL || p->nops == 0) return 0;
  if (!p->sorted) pend_sort(p);
  /* Into an empty table, sorted keys append: LMDB fills each leaf and
   * starts the next instead of splitting them in half (the index catch-up
   * of a first sync or a bulk load, engine/store/index.c). Into a table
   * holding fewer keys than the writes, the table is written again. */
  size_t entries = table_stat(t, CARNET__T_INDEX).ms_entries;
  bool empty = entries == 0;
  if (!empty && p->nops >= PEND_REWRITE_MIN && entries <= p->nops &&
      (mrc = pend_rewrite(t, p)) != 1)
    goto done;
  mrc = 0;
  if ((mrc = mdb_cursor_open(t->txn, t->s->dbi[CARNET__T_INDEX], &cur))) goto done;
  for (size_t i = 0; i < p->nops; i++) {
    const pend_op *o = &p->ops[i];
    /* The sorted writes' key bytes lie in the order they were written:
     * each is a cache miss (random keys), ~7 % of a 100k catch-up before
     * they were fetched ahead. */
    if (i + PEND_PREFETCH < p->nops) __builtin_prefetch(pend_key(p, &p->ops[i + PEND_PREFETCH]));
    if (pend_same_next(p, i)) continue; /* only the last write to a key counts */
    MDB_val k = {o->len, (void *)pend_key(p, o)}, v = {0, ""};
    if ((rrc = room_ensure(t, 0))) break;
    if (o->del) {
      mrc = mdb_cursor_get(cur, &k, &v, MDB_SET);
      if (mrc == MDB_NOTFOUND) {
        mrc = 0;
        continue;
      }
      if (mrc == 0) mrc = mdb_cursor_del(cur, 0);
    } else if (empty) {
      mrc = mdb_cursor_put(cur, &k, &v, MDB_APPEND);
    } else {
      /* A key already there (the value is always empty) is left alone, so
       * its leaf is not copied: a catch-up puts again keys that a
       * partly indexed entity still has. */
      mrc = mdb_cursor_put(cur, &k, &v, MDB_NOOVERWRITE);
      if (mrc == MDB_KEYEXIST) mrc = 0;
    }
    if (mrc) break;
  }
done:
  if (cur) mdb_cursor_close(cur);
  pend_reset(p);
  if (rrc) return rrc;
  if (t->room_rc) return t->room_rc;
  return mrc ? fail(t->s, mrc, "write") : 0;
}

void carnet__store_pending_sort(carnet__stxn *t) {
  pendbuf *p = t->pend;
  if (p == NULL || p->nops == 0 || p->sorted) return;
  pend_sort(p);
  p->sorted = true;
}

void carnet__store_pending_split(carnet__stxn *t) {
  pendbuf *p = t->pend;
  if (p == NULL || p->sorted) return;
  p->split = pend_split(p);
}

void carnet__store_pending_sort_half(carnet__stxn *t, int half) {
  pendbuf *p = t->pend;
  if (p == NULL || p->sorted) return;
  pend_sort_range(p, half ? p->split : 0, half ? p->nops : p->split);
}

void carnet__store_pending_sorted(carnet__stxn *t) {
  if (t->pend) t->pend->sorted = true;
}

void carnet__store_before_write(carnet__store *s, void (*fn)(void *ctx), void *ctx) {
  s->before_write = fn;
  s->before_write_ctx = ctx;
}

int carnet__store_begin(carnet__store *s, bool write, carnet__stxn **out) {
  *out = NULL;
  if (write && s->before_write) {
    void (*fn)(void *) = s->before_write;
    s->before_write = NULL;
    fn(s->before_write_ctx);
  }
  carnet__stxn *t = carnet__calloc(1, sizeof *t);
  if (t == NULL) return CARNET_ENOMEM;
  if (s->env == NULL) { /* a compaction could not reopen the file (s->why says why) */
    carnet__free(t);
    return CARNET_EIO;
  }
  if (write && s->readonly) {
    carnet__free(t);
    snprintf(s->why, sizeof s->why,
             "the replica in %.100s is read-only (%.80s): reading works, writing cannot", s->dir,
             s->ro_why[0] ? s->ro_why : "opened read-only");
    return CARNET_EPERM;
  }
  int mrc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
  if (mrc) {
    carnet__free(t);
    return fail(s, mrc, "begin transaction");
  }
  t->s = s;
  t->pend = write ? &s->pend : NULL;
  /* Another process may have cut the file back to its pages (env_open_once)
   * since this one allocated room: what lies past the end is not room. */
  struct stat fs;
  if (write && s->writemap && fstat(s->data_fd, &fs) == 0 && (uint64_t)fs.st_size < s->room)
    s->room = (uint64_t)fs.st_size;
  if (write && (mrc = room_ensure(t, 0))) {
    mdb_txn_abort(t->txn);
    carnet__free(t);
    return mrc;
  }
  /* One write transaction at a time per store: the pending index writes
   * of the last one were flushed or dropped at its end. */
  CARNET_ASSERT(!write || s->pend.nops == 0);
  *out = t;
  return 0;
}

/* LMDB reports a short write as EIO. When the disk holding the replica is
 * (nearly) full, or the data file reached the process's file-size limit,
 * that is what happened, and the user must be told so: the errno to report
 * instead, or EIO. */
static int short_write_cause(carnet__store *s) {
  const char *dir = NULL;
  char path[4096];
  struct statvfs vs;
  struct stat sb;
  struct rlimit rl;
  if (mdb_env_get_path(s->env, &dir) != 0 || dir == NULL) return EIO;
  if (statvfs(dir, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize < 1024u * 1024u) return ENOSPC;
  snprintf(path, sizeof path, "%s/data.mdb", dir);
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && stat(path, &sb) == 0 &&
      (uint64_t)sb.st_size + 1024u * 1024u > (uint64_t)rl.rlim_cur)
    return EFBIG;
  return EIO;
}

int carnet__store_commit(carnet__stxn *t) {
  carnet__store *s = t->s;
  MDB_txn *txn = t->txn;
  uint32_t new_schema = t->new_schema;
  if (t->pend) t->pend->heads_new = false; /* committed or not, it is the store's now */
  int rc = pend_flush(t);
  if (rc == 0) rc = room_ensure(t, 0); /* the commit's own pages (R1) */
  sbuf_free(&t->get);
  sodium_memzero(t->secret, sizeof t->secret);
  carnet__free(t);
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
  if (mrc == EIO) mrc = short_write_cause(s);
  if (mrc == 0 && new_schema) s->schema = new_schema;
  return mrc ? fail(s, mrc, "commit") : 0;
}

void carnet__store_abort(carnet__stxn *t) {
  if (t == NULL) return;
  if (t->pend) {
    pend_reset(t->pend);
    /* The set of waiting keys' heads is built only when a prefix cursor
     * meets waiting writes (rare): an aborted transaction that made it
     * gives it back, so a failed operation leaves no block it made behind
     * (STYLE 17); one kept from an earlier transaction stays. */
    if (t->pend->heads_new) {
      carnet__free(t->pend->heads);
      t->pend->heads = NULL;
      t->pend->capheads = 0;
      t->pend->heads_new = false;
    }
  }
  mdb_txn_abort(t->txn);
  sbuf_free(&t->get);
  sodium_memzero(t->secret, sizeof t->secret);
  carnet__free(t);
}

int carnet__store_get(carnet__stxn *t, carnet__table tb, const void *key, size_t klen,
                      carnet_buf *val) {
  MDB_val k = {klen, (void *)key}, v;
  CARNET_ASSERT((unsigned)tb < CARNET__T_COUNT_ && (key != NULL || klen == 0));
  int ms = tb == CARNET__T_META ? meta_secret(key, klen) : -1;
  if (ms >= 0 && t->secret[ms].ok) {
    *val = (carnet_buf){t->secret[ms].v, t->secret[ms].n};
    return 0;
  }
  int mm = tb == CARNET__T_META && ms < 0 ? meta_memo(key, klen) : -1;
  if (mm >= 0 && t->memo[mm].state != MEMO_UNKNOWN) {
    if (t->memo[mm].state == MEMO_ABSENT) return CARNET_ENOTFOUND;
    *val = (carnet_buf){t->memo[mm].v, t->memo[mm].n};
    return 0;
  }
  int mrc;
  if (tb == CARNET__T_INDEX && (mrc = pend_flush(t))) return mrc;
  mrc = mdb_get(t->txn, t->s->dbi[tb], &k, &v);
  if (mrc == MDB_NOTFOUND && mm >= 0) t->memo[mm].state = MEMO_ABSENT;
  if (mrc == MDB_NOTFOUND) return CARNET_ENOTFOUND;
  if (mrc) return fail(t->s, mrc, "read");
  if (mm >= 0 && v.mv_size <= sizeof t->memo[mm].v) {
    memcpy(t->memo[mm].v, v.mv_data, v.mv_size);
    t->memo[mm].n = (uint8_t)v.mv_size;
    t->memo[mm].state = MEMO_PRESENT;
  }
  if (sealed_in(t->s, tb, key, klen)) {
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

int carnet__store_get_raw(carnet__stxn *t, carnet__table tb, const void *key, size_t klen,
                          carnet_buf *raw, bool *is_sealed) {
  MDB_val k = {klen, (void *)key}, v;
  CARNET_ASSERT((unsigned)tb < CARNET__T_COUNT_ && tb != CARNET__T_META &&
                (key != NULL || klen == 0));
  int mrc;
  if (tb == CARNET__T_INDEX && (mrc = pend_flush(t))) return mrc;
  mrc = mdb_get(t->txn, t->s->dbi[tb], &k, &v);
  if (mrc == MDB_NOTFOUND) return CARNET_ENOTFOUND;
  if (mrc) return fail(t->s, mrc, "read");
  *is_sealed = sealed_in(t->s, tb, key, klen);
  raw->base = v.mv_data;
  raw->len = v.mv_size;
  return 0;
}

int carnet__store_open_raw(const uint8_t dkey[32], carnet__table tb, const void *key, size_t klen,
                           carnet_buf raw, uint8_t *out) {
  CARNET_ASSERT((unsigned)tb < CARNET__T_COUNT_);
  if (raw.len < CARNET__SEAL_OVERHEAD) return CARNET_ECORRUPT;
  return carnet__unseal(dkey, table_names[tb], key, klen, raw.base, raw.len, out) ? CARNET_ECORRUPT
                                                                                  : 0;
}

/* Seal `val` into table `tb` under `key`. */
static int put_sealed(carnet__stxn *t, carnet__table tb, const void *key, size_t klen,
                      const void *val, size_t vlen, unsigned mflags) {
  carnet__store *s = t->s;
  MDB_val k = {klen, (void *)key};
  if (s->key == NULL) {
    snprintf(s->why, sizeof s->why, "write of a sealed value before the data key is loaded");
    return CARNET_EMISUSE;
  }
  /* Seal straight into the space LMDB reserves in the page: one pass, no
   * copy. `val` never points into the map here (it is a caller's row). */
  MDB_val v = {vlen + CARNET__SEAL_OVERHEAD, NULL};
  int ms = tb == CARNET__T_META ? meta_secret(key, klen) : -1;
  if (ms >= 0) t->secret[ms].ok = false;
  int rc = room_ensure(t, v.mv_size);
  if (rc) return rc;
  int mrc = mdb_put(t->txn, s->dbi[tb], &k, &v, mflags | MDB_RESERVE);
  if (mrc) return fail(s, mrc, "write");
  CARNET_ASSERT(v.mv_size == vlen + CARNET__SEAL_OVERHEAD); /* LMDB reserved what was asked */
  carnet__seal(s->key, &s->nonces, table_names[tb], key, klen, val, vlen, v.mv_data);
  return 0;
}

/* Keys that append. The rows and the search signatures are keyed by entity
 * id, and Carnet's ids are time-ordered: a new entity's key is most often
 * above every key of its table. A put there with MDB_APPEND fills the last
 * leaf and starts a new one, where a plain put splits the leaf in half
 * (leaves stay half full: twice the pages, twice the bytes written). The
 * greatest key is read once per transaction and followed; a key above it
 * appends. (Foreign ids, such as an import's or workload W's, land anywhere
 * in the table: those take the plain put.) */
static int tail_slot(carnet__table tb) {
  return tb == CARNET__T_ENTITIES ? 0 : tb == CARNET__T_SEARCH ? 1 : -1;
}

static unsigned append_flag(carnet__stxn *t, carnet__table tb, const void *key, size_t klen) {
  int i = tail_slot(tb);
  if (i < 0 || klen != 16) return 0;
  if (!t->tail[i].known) {
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(t->txn, t->s->dbi[tb], &cur)) return 0;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    t->tail[i].have = mrc == 0 && k.mv_size == 16;
    if (t->tail[i].have) memcpy(t->tail[i].k, k.mv_data, 16);
    mdb_cursor_close(cur);
    if (mrc != 0 && mrc != MDB_NOTFOUND) return 0;
    t->tail[i].known = true;
  }
  return !t->tail[i].have || memcmp(key, t->tail[i].k, 16) > 0 ? MDB_APPEND : 0;
}

/* After a put of `key` into `tb`: the tail follows it. */
static void tail_put(carnet__stxn *t, carnet__table tb, const void *key, size_t klen) {
  int i = tail_slot(tb);
  if (i < 0 || klen != 16 || !t->tail[i].known) return;
  if (!t->tail[i].have || memcmp(key, t->tail[i].k, 16) > 0) {
    memcpy(t->tail[i].k, key, 16);
    t->tail[i].have = true;
  }
}

int carnet__store_put(carnet__stxn *t, carnet__table tb, const void *key, size_t klen,
                      const void *val, size_t vlen, unsigned flags) {
  MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
  CARNET_ASSERT((unsigned)tb < CARNET__T_COUNT_ && key != NULL && (val != NULL || vlen == 0));
  if (tb == CARNET__T_INDEX && vlen == 0 && !(flags & CARNET__PUT_APPEND))
    return pend_add(t, key, klen, false);
  unsigned mflags = ((flags & CARNET__PUT_APPEND) ? MDB_APPEND : append_flag(t, tb, key, klen)) |
                    ((flags & CARNET__PUT_NEW) ? MDB_NOOVERWRITE : 0);
  int mm = tb == CARNET__T_META ? meta_memo(key, klen) : -1;
  if (mm >= 0) t->memo[mm].state = MEMO_UNKNOWN;
  if (tb == CARNET__T_META && klen == strlen("schema") && memcmp(key, "schema", klen) == 0 &&
      vlen == 4) {
    const uint8_t *b = val;
    t->new_schema = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
  }
  int mrc;
  if (sealed_in(t->s, tb, key, klen)) {
    mrc = put_sealed(t, tb, key, klen, val, vlen, mflags);
  } else if ((mrc = room_ensure(t, vlen)) == 0) {
    mrc = mdb_put(t->txn, t->s->dbi[tb], &k, &v, mflags);
    mrc = mrc ? fail(t->s, mrc, "write") : 0;
  }
  if (mrc == 0) tail_put(t, tb, key, klen);
  return mrc;
}

int carnet__store_reseal(carnet__stxn *t, carnet__table tb, uint64_t *n) {
  MDB_cursor *cur = NULL;
  MDB_val k, v;
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0, count = 0;
  int mrc, rc = 0;
  *n = 0;
  if (t->pend == NULL) return CARNET_EMISUSE;
  if (tb == CARNET__T_META) memset(t->memo, 0, sizeof t->memo);
  /* Every value as stored first (the puts below would move the cursor's
   * pages): [klen(4) vlen(4) key value]... */
  if ((mrc = mdb_cursor_open(t->txn, t->s->dbi[tb], &cur))) return fail(t->s, mrc, "cursor");
  for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
       mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    size_t need = 8 + k.mv_size + v.mv_size;
    if (cap - len < need) {
      size_t c2 = cap ? 2 * cap : 4096;
      while (c2 - len < need)
        c2 *= 2;
      uint8_t *b2 = carnet__realloc(buf, c2);
      if (b2 == NULL) {
        rc = CARNET_ENOMEM;
        goto done;
      }
      buf = b2;
      cap = c2;
    }
    uint32_t kl = (uint32_t)k.mv_size, vl = (uint32_t)v.mv_size;
    memcpy(buf + len, &kl, 4);
    memcpy(buf + len + 4, &vl, 4);
    memcpy(buf + len + 8, k.mv_data, k.mv_size);
    memcpy(buf + len + 8 + k.mv_size, v.mv_data, v.mv_size);
    len += need;
    count++;
  }
  if (mrc != MDB_NOTFOUND) {
    rc = fail(t->s, mrc, "read");
    goto done;
  }
  mdb_cursor_close(cur);
  cur = NULL;
  for (size_t off = 0; off < len && rc == 0;) {
    uint32_t kl, vl;
    memcpy(&kl, buf + off, 4);
    memcpy(&vl, buf + off + 4, 4);
    rc = put_sealed(t, tb, buf + off + 8, kl, buf + off + 8 + kl, vl, 0);
    off += 8 + (size_t)kl + vl;
  }
  if (rc == 0) *n = count;
done:
  if (cur) mdb_cursor_close(cur);
  if (buf) {
    sodium_memzero(buf, cap);
    carnet__free(buf);
  }
  return rc;
}

int carnet__store_del(carnet__stxn *t, carnet__table tb, const void *key, size_t klen) {
  MDB_val k = {klen, (void *)key};
  if (tb == CARNET__T_INDEX) return pend_add(t, key, klen, true);
  int ms = tb == CARNET__T_META ? meta_secret(key, klen) : -1;
  if (ms >= 0) t->secret[ms].ok = false;
  int mm = tb == CARNET__T_META ? meta_memo(key, klen) : -1;
  if (mm >= 0) t->memo[mm].state = MEMO_UNKNOWN;
  int mrc = room_ensure(t, 0);
  if (mrc) return mrc;
  mrc = mdb_del(t->txn, t->s->dbi[tb], &k, NULL);
  if (mrc == MDB_NOTFOUND) return CARNET_ENOTFOUND;
  return mrc ? fail(t->s, mrc, "delete") : 0;
}

int carnet__store_flush(carnet__stxn *t) {
  return pend_flush(t);
}

int carnet__store_clear(carnet__stxn *t, carnet__table tb) {
  if (t->pend == NULL) return CARNET_EMISUSE;     /* a read transaction */
  if (tb == CARNET__T_INDEX) pend_reset(t->pend); /* what waits would land after */
  if (tb == CARNET__T_META) memset(t->memo, 0, sizeof t->memo);
  int mrc = room_ensure(t, 0);
  if (mrc) return mrc;
  mrc = mdb_drop(t->txn, t->s->dbi[tb], 0);
  return mrc ? fail(t->s, mrc, "clear") : 0;
}

int carnet__store_cursor(carnet__stxn *t, carnet__table tb, carnet__scur **out) {
  return carnet__store_cursor_at(t, tb, NULL, 0, out);
}

size_t carnet__store_pending(const carnet__stxn *t) {
  return t->pend ? t->pend->nops : 0;
}

int carnet__store_pending_reserve(carnet__stxn *t, size_t nops, size_t nbytes) {
  pendbuf *p = t->pend;
  if (p == NULL) return CARNET_EMISUSE;
  if (nops > UINT32_MAX || nbytes > UINT32_MAX) return CARNET_EINVAL;
  if (nops > p->capops) {
    pend_op *ops = carnet__realloc(p->ops, nops * sizeof *ops);
    if (ops == NULL) return CARNET_ENOMEM;
    p->ops = ops;
    p->capops = nops;
  }
  if (nbytes > p->kcap) {
    uint8_t *keys = carnet__realloc(p->keys, nbytes);
    if (keys == NULL) return CARNET_ENOMEM;
    p->keys = keys;
    p->kcap = nbytes;
  }
  return 0;
}

/* The table's statistics as the transaction sees it; zeroes on an error. */
static MDB_stat table_stat(carnet__stxn *t, carnet__table tb) {
  MDB_stat ms;
  if (mdb_stat(t->txn, t->s->dbi[tb], &ms) != 0) memset(&ms, 0, sizeof ms);
  return ms;
}

size_t carnet__store_leaves(carnet__stxn *t, carnet__table tb) {
  return table_stat(t, tb).ms_leaf_pages;
}

uint64_t carnet__store_entries(carnet__stxn *t, carnet__table tb) {
  return table_stat(t, tb).ms_entries;
}

int carnet__store_cursor_at(carnet__stxn *t, carnet__table tb, const void *prefix, size_t plen,
                            carnet__scur **out) {
  carnet__scur *c;
  int rc;
  *out = NULL;
  if (tb == CARNET__T_INDEX && t->pend && t->pend->nops) {
    /* A waiting key starts with `prefix` only if its first 8 bytes do. */
    bool flush = plen < 8;
    if (!flush) {
      if (!t->pend->heads_live && (rc = heads_build(t->pend))) return rc;
      flush = heads_has(t->pend, key_head(prefix, plen));
    }
    if (flush && (rc = pend_flush(t))) return rc;
  }
  c = carnet__calloc(1, sizeof *c);
  if (c == NULL) return CARNET_ENOMEM;
  int mrc = mdb_cursor_open(t->txn, t->s->dbi[tb], &c->cur);
  if (mrc) {
    carnet__free(c);
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
  carnet__free(c);
}

static int cursor_get(carnet__scur *c, MDB_val *k, MDB_cursor_op op, carnet_buf *ko,
                      carnet_buf *vo) {
  MDB_val v;
  int mrc = mdb_cursor_get(c->cur, k, &v, op);
  if (mrc == MDB_NOTFOUND) return CARNET_ENOTFOUND;
  if (mrc) return from_mdb(mrc);
  if (ko) *ko = (carnet_buf){k->mv_data, k->mv_size};
  /* Only a caller that reads the value pays for opening it. */
  if (vo && sealed_in(c->s, c->tb, k->mv_data, k->mv_size))
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

static int cursor_raw(carnet__scur *c, MDB_val *k, MDB_cursor_op op, carnet_buf *ko,
                      carnet_buf *raw, bool *is_sealed) {
  MDB_val v;
  CARNET_ASSERT(c->tb != CARNET__T_META);
  int mrc = mdb_cursor_get(c->cur, k, &v, op);
  if (mrc == MDB_NOTFOUND) return CARNET_ENOTFOUND;
  if (mrc) return from_mdb(mrc);
  *ko = (carnet_buf){k->mv_data, k->mv_size};
  *raw = (carnet_buf){v.mv_data, v.mv_size};
  *is_sealed = sealed_in(c->s, c->tb, k->mv_data, k->mv_size);
  return 0;
}

int carnet__store_seek_raw(carnet__scur *c, const void *key, size_t klen, carnet_buf *k,
                           carnet_buf *raw, bool *is_sealed) {
  MDB_val mk = {klen, (void *)key};
  return cursor_raw(c, &mk, klen ? MDB_SET_RANGE : MDB_FIRST, k, raw, is_sealed);
}

int carnet__store_next_raw(carnet__scur *c, carnet_buf *k, carnet_buf *raw, bool *is_sealed) {
  MDB_val mk;
  return cursor_raw(c, &mk, MDB_NEXT, k, raw, is_sealed);
}

int carnet__store_last(carnet__scur *c, carnet_buf *k, carnet_buf *v) {
  MDB_val mk;
  return cursor_get(c, &mk, MDB_LAST, k, v);
}
