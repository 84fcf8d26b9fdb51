/* engine/store/store.h - the narrow storage interface of the engine.
 *
 * Only engine/store*.c includes lmdb.h: everything else sees named tables of
 * byte keys and byte values, transactions and cursors, and CARNET_E* codes.
 * A simulated store could stand in for this one in tests.
 */
#ifndef CARNET_ENGINE_STORE_H
#define CARNET_ENGINE_STORE_H

#include "carnet/types.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The named tables of a replica. Names are stored in the file: frozen. */
typedef enum carnet__table {
  CARNET__T_META = 0,     /* "meta": replica id, schema, clock, counters */
  CARNET__T_ENTITIES = 1, /* "entities": id(16) -> row (engine/row.c) */
  CARNET__T_CHANGES = 2,  /* "changes": seq(8, big-endian) -> id(16) */
  CARNET__T_MARKS = 3,    /* "marks": peer(8, big-endian) -> watermark */
  CARNET__T_INDEX = 4,    /* "index": tag byte + key -> id(16) */
  CARNET__T_PEERS = 5,    /* "peers": public key(32) -> peer record */
  CARNET__T_INVITES = 6,  /* "invites": invite id(16) -> secret, expiry, used */
  CARNET__T_CERTS = 7,    /* "certs": erased customer id(16) -> lseq + certificate
                             (engine/model/cert.h);    sealed from schema 4 */
  CARNET__T_ERASED = 8,   /* "erased": entity id(16) -> id(16) of the certificate that erased it */
  CARNET__T_OPPOSE = 9,   /* "oppose": tag + keyed hash(16) -> certificate id(16) */
  CARNET__T_CONFLICTS =
      10, /* "conflicts": entity id(16) -> values it lost (engine/crm/conflict.h) */
  /* "search": customer id(16) -> search signature (engine/crm/searchsig.h), from schema 8 */
  CARNET__T_SEARCH = 11,
  CARNET__T_COUNT_ = 12
} carnet__table;

typedef struct carnet__store carnet__store;
typedef struct carnet__stxn carnet__stxn;
typedef struct carnet__scur carnet__scur;

/* The directory lock (carnet__store_compact). */
#define CARNET__STORE_LOCK_FILE "carnet.lock"

enum {
  CARNET__STORE_CREATE = 1u << 0,   /* create the directory and tables */
  CARNET__STORE_READONLY = 1u << 1, /* open read-only even where it could write */
};

/* Brief: open (or with CARNET__STORE_CREATE, create) the environment in
 * `dir`. A replica that cannot be written (read-only media: the lock files
 * cannot be created or opened for writing, EROFS or EACCES) is opened
 * read-only instead (carnet__store_readonly): reads work, every write
 * transaction is refused with CARNET_EPERM. Read-only, LMDB runs with
 * MDB_RDONLY, and with MDB_NOLOCK when its lock file cannot be used: no
 * reader slot is taken, so a writer elsewhere (the same files mounted
 * writable) could reuse pages under a long read; docs/DESIGN-NOTES.md,
 * read-only replicas. Errors: CARNET_ENOREPLICA (no data file and no
 * CREATE), CARNET_ECORRUPT (not an LMDB file, or damaged), CARNET_EIO,
 * CARNET_ENOMEM. `why` receives a one-line detail. */
int carnet__store_open(const char *dir, unsigned flags, carnet__store **out, char *why,
                       size_t why_len);
void carnet__store_close(carnet__store *s);

/* Brief: whether the store was opened read-only, and why (strerror of
 * what refused the write access, "" when it was asked for). */
bool carnet__store_readonly(const carnet__store *s);
const char *carnet__store_readonly_why(const carnet__store *s);

/* Brief: whether the map is writable (MDB_WRITEMAP, store.c): a write
 * transaction's dirty pages are then file pages, not heap copies, so they
 * do not count as the process's private memory. */
bool carnet__store_writemap(const carnet__store *s);
/* False for a table that a read-only file made before it lacks (only
 * CARNET__T_CONFLICTS and CARNET__T_SEARCH may be missing): its reader
 * treats it as empty (the search signatures: as not built, so searches
 * scan). */
bool carnet__store_has(const carnet__stxn *t, carnet__table tb);

/* Brief: begin a transaction (write or read-only). A write transaction on
 * a read-only store fails with CARNET_EPERM (carnet__store_why says why). */
int carnet__store_begin(carnet__store *s, bool write, carnet__stxn **out);

/* Brief: call `fn(ctx)` once, at the next carnet__store_begin of a write
 * transaction, before LMDB's writer lock is taken (NULL: no call). A write
 * transaction parked between the calls of its owner (engine/store/replica.c,
 * carnet__txn_park) holds that lock: whoever begins the next write in this
 * process has it committed first, instead of waiting on a lock its own
 * thread holds. */
void carnet__store_before_write(carnet__store *s, void (*fn)(void *ctx), void *ctx);

/* Brief: commit; the transaction is freed whatever the result. */
int carnet__store_commit(carnet__stxn *t);

/* Brief: abort and free; NULL is a no-op. */
void carnet__store_abort(carnet__stxn *t);

/* Brief: give the store the replica's 32-byte data key (copied); from then
 * on sealed values (entity rows, invites, the secret meta values: store.c
 * sealed()) are sealed on put and opened on reads. Before it, reading or
 * writing a sealed value fails with CARNET_EMISUSE. Errors: CARNET_ENOMEM. */
int carnet__store_set_key(carnet__store *s, const uint8_t key[32]);

/* Brief: a copy of the data key (for wrapping it again: engine/store/keys.c).
 * Errors: CARNET_EMISUSE when none is set. */
int carnet__store_key(const carnet__store *s, uint8_t out[32]);

/* Brief: read a value. A value that is not sealed points into the map and
 * stays valid until the transaction ends or the next write in it. A sealed
 * value is opened into a buffer of the transaction and stays valid only
 * until the next carnet__store_get of a sealed value in the same
 * transaction, the next write, or the end of the transaction: copy it (or
 * finish with it) before the next get. (The secret meta values are kept
 * opened for the rest of the transaction; the rule above still holds.) Errors: CARNET_ENOTFOUND,
 * CARNET_ECORRUPT (a sealed value fails authentication: damaged or
 * tampered with), CARNET_ENOMEM. */
int carnet__store_get(carnet__stxn *t, carnet__table tb, const void *key, size_t klen,
                      carnet_buf *val);

/* Brief: read a value as it is stored, to be opened elsewhere (another
 * thread: carnet__store_open_raw). *raw points into the map and stays valid
 * until the next write in the transaction or its end: copy it first.
 * *is_sealed says whether it must be opened. Not for the meta table (its
 * secret values are kept opened by carnet__store_get). Errors:
 * CARNET_ENOTFOUND, CARNET_EIO. */
int carnet__store_get_raw(carnet__stxn *t, carnet__table tb, const void *key, size_t klen,
                          carnet_buf *raw, bool *is_sealed);

/* Brief: open into `out` (raw.len - CARNET__SEAL_OVERHEAD bytes) a sealed
 * value read by carnet__store_get_raw from table `tb` under `key`, with the
 * data key `dkey` (carnet__store_key). It touches no store or transaction:
 * safe on any thread. Errors: CARNET_ECORRUPT (too short or fails
 * authentication; no detail is recorded: carnet__store_get of the same
 * value records it). */
int carnet__store_open_raw(const uint8_t dkey[32], carnet__table tb, const void *key, size_t klen,
                           carnet_buf raw, uint8_t *out);

enum {
  CARNET__PUT_APPEND = 1u << 0, /* key is greater than every key */
  CARNET__PUT_NEW = 1u << 1     /* only where the key is absent: CARNET_EEXIST otherwise */
};

/* Index table (CARNET__T_INDEX) writes of an empty value, and its deletes,
 * wait in the transaction and reach LMDB sorted by key at commit, or before
 * the next get or cursor on that table in the transaction (store.c): a
 * reader in the transaction sees them all. So an index write reports only
 * CARNET_ENOMEM / CARNET_EINVAL at once, and its other errors at commit; an
 * index delete of an absent key is not reported. */
int carnet__store_put(carnet__stxn *t, carnet__table tb, const void *key, size_t klen,
                      const void *val, size_t vlen, unsigned flags);

/* Brief: rewrite every value of table `tb`, stored in clear, sealed: the
 * schema upgrade that starts sealing a table (the erasure certificates, at
 * schema 4: store.c sealed_in). `*n` receives how many were rewritten. In
 * a write transaction only. Errors: CARNET_EMISUSE (a read transaction, or
 * no data key), CARNET_ENOMEM, CARNET_ENOSPC, CARNET_EIO. */
int carnet__store_reseal(carnet__stxn *t, carnet__table tb, uint64_t *n);

/* Brief: apply the index writes waiting in the transaction now, as a read
 * of the index table would: a loop writing a whole table's worth of keys
 * bounds its memory so. Errors: those of a commit's writes. */
int carnet__store_flush(carnet__stxn *t);

/* Brief: sort the index writes waiting in write transaction `t` now (the
 * next flush then writes them without sorting): the catch-up has another
 * thread do it while it writes the search signatures. It touches nothing
 * but the waiting writes and calls no LMDB function: until it returns,
 * the caller writes, reads and flushes no index key in `t` (other tables
 * may be used meanwhile). */
void carnet__store_pending_sort(carnet__stxn *t);
/* Brief: the same on two threads: _split on the calling thread (it parts
 * the writes in place at a sampled median head), then _half(t, 0) and
 * _half(t, 1), on any two threads at once (each sorts its part), then
 * _sorted once both have returned. The same rules as above meanwhile. */
void carnet__store_pending_split(carnet__stxn *t);
void carnet__store_pending_sort_half(carnet__stxn *t, int half);
void carnet__store_pending_sorted(carnet__stxn *t);

/* Errors: CARNET_ENOTFOUND when the key is absent (not for the index table,
 * above). */
int carnet__store_del(carnet__stxn *t, carnet__table tb, const void *key, size_t klen);

/* Brief: delete every entry of table `tb` (and, for the index table, the
 * writes waiting for it) in write transaction `t`: the first step of a
 * rebuild of a derived table (engine/top/verify.c). Errors: CARNET_EMISUSE (a
 * read transaction), CARNET_EIO. */
int carnet__store_clear(carnet__stxn *t, carnet__table tb);

/* Cursors walk a table in key order. A value read through a cursor stays
 * valid until the cursor's next move or its close (and, when not sealed,
 * no longer than a value of carnet__store_get); pass v = NULL when only the
 * key is needed, which skips opening a sealed value. Cursor reads fail like
 * carnet__store_get (CARNET_ECORRUPT for a value that fails authentication). */
int carnet__store_cursor(carnet__stxn *t, carnet__table tb, carnet__scur **out);
/* Brief: the same, for a caller that reads only keys starting with
 * `prefix` (plen bytes): the index writes waiting in the transaction are
 * applied first only when one of them may start with it. Reading a key
 * outside the prefix through this cursor may miss a waiting write. */
int carnet__store_cursor_at(carnet__stxn *t, carnet__table tb, const void *prefix, size_t plen,
                            carnet__scur **out);
void carnet__store_cursor_close(carnet__scur *c);

/* Brief: the number of index writes waiting in the transaction, and the
 * number of leaf pages of table `tb` as the transaction sees it (0 on an
 * error): what an estimate of the pages a transaction dirties needs. */
size_t carnet__store_pending(const carnet__stxn *t);
size_t carnet__store_leaves(carnet__stxn *t, carnet__table tb);
/* Brief: room for `nops` waiting index writes of `nbytes` key bytes in all,
 * taken at once: a caller that knows its writes (an index catch-up) gets
 * one block of each, where growing by half copied up to the whole buffer
 * and held both for a moment (a 100k catch-up peaked 15 MB higher when the
 * C library served the growth from its heap). Only pages written count as
 * memory. Errors: CARNET_ENOMEM (nothing changed), CARNET_EMISUSE (a read
 * transaction). */
int carnet__store_pending_reserve(carnet__stxn *t, size_t nops, size_t nbytes);
/* Brief: the number of entries of table `tb` as the transaction sees it
 * (0 on an error; for the index, without the writes still waiting). */
uint64_t carnet__store_entries(carnet__stxn *t, carnet__table tb);

/* Brief: position at the first key >= `key` (klen 0: the first key) and read
 * it. Errors: CARNET_ENOTFOUND when there is none. */
int carnet__store_seek(carnet__scur *c, const void *key, size_t klen, carnet_buf *k, carnet_buf *v);

/* Brief: the next entry. Errors: CARNET_ENOTFOUND at the end. */
int carnet__store_next(carnet__scur *c, carnet_buf *k, carnet_buf *v);

/* Brief: carnet__store_seek and carnet__store_next reading the value as it
 * is stored (carnet__store_get_raw): *raw stays valid until the cursor's
 * next move or a write in the transaction; *is_sealed says whether it must
 * be opened (carnet__store_open_raw). Not for the meta table. */
int carnet__store_seek_raw(carnet__scur *c, const void *key, size_t klen, carnet_buf *k,
                           carnet_buf *raw, bool *is_sealed);
int carnet__store_next_raw(carnet__scur *c, carnet_buf *k, carnet_buf *raw, bool *is_sealed);

/* Brief: the last entry of the table. Errors: CARNET_ENOTFOUND if empty. */
int carnet__store_last(carnet__scur *c, carnet_buf *k, carnet_buf *v);

/* Brief: compact the environment when no other process has it open: copy
 * it with MDB_CP_COMPACT to DIR/data.mdb.tmp, fsync, rename it over
 * data.mdb, and reopen. Every process holds DIR/carnet.lock shared (an
 * fcntl open file description lock) while its environment is open;
 * compaction takes it exclusive without waiting, then shared again.
 * `*done` says whether it ran (false: another process has the directory
 * open; try again later). No transaction may be open on the store.
 * Errors: CARNET_EIO, CARNET_ENOSPC (the copy did not fit: the old file
 * stays), CARNET_ECORRUPT (the reopened file fails: restore a backup). */
int carnet__store_compact(carnet__store *s, bool *done);

/* Brief: write a compacted copy of the environment, as one read
 * transaction sees it (a consistent snapshot while other processes write),
 * to `fd` from its current offset (LMDB's mdb_env_copyfd2 with
 * MDB_CP_COMPACT: live pages only, so no freed page's old bytes). Works on
 * a read-only store; other processes may write meanwhile. Errors:
 * CARNET_ENOSPC, CARNET_EIO, CARNET_ENOMEM. */
int carnet__store_copy(carnet__store *s, int fd);

/* Brief: a one-line explanation of the last failure of this store. */
const char *carnet__store_why(const carnet__store *s);

/* Test hook: make the Nth next commit fail with CARNET_EIO (0 = off). */
void carnet__store_fail_commit_after(carnet__store *s, unsigned n);

/* Test hook: make every compaction that gets the directory to itself fail
 * with `err` (CARNET_ENOSPC: as on a full disk) before it copies anything;
 * 0 = off. Internal, like the one above: libcarnet.so does not export it,
 * so the shipped `carnet` cannot reach it. */
void carnet__store_fail_compact(carnet__store *s, int err);

#endif
