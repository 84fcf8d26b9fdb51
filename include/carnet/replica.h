/* carnet/replica.h - opening a replica directory, transactions, identity.
 *
 * A replica is one directory holding one LMDB environment. Several processes
 * (the CLI and a running `carnet serve`) may open the same directory at once;
 * LMDB serialises their writers. Within one process a directory must be
 * opened once only (an LMDB rule): open it once and share the handle, or open
 * different directories (tests run several replicas in one process).
 *
 * Threads: a carnet_replica and its transactions belong to one thread at a
 * time; the caller serialises access.
 */
#ifndef CARNET_REPLICA_H
#define CARNET_REPLICA_H

#include "carnet/api.h"

#include "carnet/types.h"
#include <stdbool.h>

CARNET_BEGIN_DECLS

typedef struct carnet_replica carnet_replica;
typedef struct carnet_txn carnet_txn;

/* The schema version this build writes and the newest it can read.
 * 2: encryption at rest (sealed values, the "crypt" key record). 3: blind
 * index keys hashed with SipHash (engine/store/index.c). 4: the erasure
 * certificates sealed too (engine/erase/erase.c). 5: attachments (carnet/attach.h).
 * 6: the conflicts table (carnet/conflict.h). 7: the blind index derived
 * behind a mark. 8: the search signatures (a text search reads them
 * instead of every customer). 9: the search signatures behind a mark of
 * their own (a duplicate check after a bulk load leaves them to the first
 * search).
 * carnet_replica_open upgrades a schema 2 to 8 replica in place. This build refuses schema 1
 * replicas (not encrypted): see carnet_replica_open. */
#define CARNET_SCHEMA_VERSION 9

/* Brief: create a new replica in `dir` (created if missing, must not already
 * hold a replica) with a fresh random replica id.
 * `env` may be NULL (real clock and randomness); it is copied.
 * After the call `*out` is an open replica to close with carnet_replica_close.
 * Errors: CARNET_EEXIST (a replica is already there: open it instead),
 * CARNET_EIO (cannot create or write the directory: check the path and
 * permissions), CARNET_EPERM (the key file given can be read by others),
 * CARNET_EKEY (a key file that does not hold a key), CARNET_ENOMEM. On error
 * *out is NULL and, when `errbuf` is not NULL, a one-line explanation is
 * written to it (errbuf_len bytes max).
 * Encryption at rest: the replica's data key is wrapped with the key that
 * `env` gives (carnet/types.h: a key file, a passphrase, or the key file
 * DIR/carnet.key made here when neither is given). */
CARNET_API int carnet_replica_init(const char *dir, const carnet_env *env, carnet_replica **out,
                                   char *errbuf, size_t errbuf_len);

/* Brief: open an existing replica. A replica on read-only media (or whose
 * files this user may only read) is opened read-only: every read works,
 * every write fails with CARNET_EPERM and a message saying so
 * (carnet_replica_readonly).
 * Errors: CARNET_ENOREPLICA (no replica there: run `carnet init`),
 * CARNET_EVERSION (written by a newer Carnet: upgrade), CARNET_ECORRUPT
 * (the data file is damaged or not a Carnet replica: restore a backup),
 * CARNET_EKEY (wrong or missing passphrase or key file: nothing was
 * touched), CARNET_EPERM (a key file others can read: chmod 600 it),
 * CARNET_EIO, CARNET_ENOMEM. A replica made before encryption at rest
 * (schema 1) is refused with CARNET_EVERSION and a message saying how to
 * move its data (docs/DESIGN-NOTES.md). Same out/errbuf rules as
 * carnet_replica_init. */
CARNET_API int carnet_replica_open(const char *dir, const carnet_env *env, carnet_replica **out,
                                   char *errbuf, size_t errbuf_len);

/* --- Encryption at rest ---------------------------------------------------- */

/* The key file in the replica directory used when no key is given. */
#define CARNET_KEY_FILE_NAME "carnet.key"

/* What wraps a replica's data key. Stored: never renumber. */
typedef enum carnet_key_kind {
  CARNET_KEY_PASSPHRASE = 1,  /* a passphrase, through Argon2id */
  CARNET_KEY_FILE = 2,        /* a key file kept where the user chose */
  CARNET_KEY_FILE_IN_DIR = 3, /* DIR/carnet.key: no passphrase */
} carnet_key_kind;

typedef struct carnet_key_info {
  carnet_key_kind kind;
  uint64_t opslimit; /* Argon2id passes (CARNET_KEY_PASSPHRASE only) */
  uint64_t memlimit; /* Argon2id memory in bytes (CARNET_KEY_PASSPHRASE only) */
} carnet_key_info;

/* Brief: how the replica's data key is protected. Errors: CARNET_ECORRUPT. */
CARNET_API int carnet_replica_get_key_info(carnet_replica *r, carnet_key_info *out);

/* Brief: protect the replica's data key with a new key: `passphrase` when
 * not NULL or empty, else the key file `key_file` (created when missing),
 * else the key file in the replica directory. Rewrites one meta value, not
 * the data (the data key stays); a key file left in the replica directory
 * by the old protection is overwritten and removed. Anyone who held the
 * old passphrase and a copy of the files made before still reads those
 * copies: see docs/DESIGN-NOTES.md.
 * Errors: CARNET_EMISUSE (a transaction is open on this handle), CARNET_EIO,
 * CARNET_EPERM, CARNET_EKEY (a key file that does not hold a key),
 * CARNET_ENOSPC, CARNET_ENOMEM; on error nothing changed. */
CARNET_API int carnet_replica_rekey(carnet_replica *r, const char *passphrase,
                                    const char *key_file);

/* Brief: close the replica. Any transaction still open is aborted. NULL is a
 * no-op. */
CARNET_API void carnet_replica_close(carnet_replica *r);

/* Brief: the detail of the last error on this handle ("" if none). The
 * string lives until the next call on the handle. */
CARNET_API const char *carnet_replica_errmsg(const carnet_replica *r);

/* Brief: whether the handle was opened read-only, because the replica's
 * files cannot be written (read-only media, or files this user may only
 * read: carnet_replica_open). Fixed for the handle's life. */
CARNET_API bool carnet_replica_readonly(const carnet_replica *r);

/* Brief: this replica's 64-bit id (random, fixed at init; a restored
 * replica has a new one: carnet/backup.h). */
CARNET_API uint64_t carnet_replica_id(const carnet_replica *r);

/* Brief: this replica's short tag (4 characters of Crockford base32 of the
 * replica id) used in reference codes so two replicas never hand out the same
 * code. The string lives as long as the handle. */
CARNET_API const char *carnet_replica_tag(const carnet_replica *r);

/* Brief: the directory the replica was opened from (lives with the handle). */
CARNET_API const char *carnet_replica_dir(const carnet_replica *r);

/* Brief: the replica's current local change sequence (the highest sequence
 * number it has given to a change, local or received), inside the open
 * write transaction when there is one.
 * Errors: CARNET_ECORRUPT, CARNET_EIO, CARNET_EBUSY (too many readers). */
CARNET_API int carnet_replica_get_seq(carnet_replica *r, uint64_t *out);

/* The role of a replica in its team. Administrator actions (import and
 * export of the customer base) are refused on a member replica by the CLI.
 * The role is a local setting kept in the replica's meta table: it guards
 * against mistakes on a salesperson's laptop, it is not a security boundary
 * (whoever holds the directory holds the data). Values are stored: never
 * renumber. */
typedef enum carnet_role {
  CARNET_ROLE_ADMIN = 1,
  CARNET_ROLE_MEMBER = 2,
} carnet_role;

/* Brief: "admin" or "member" (NULL for another value); and back (0 when
 * `name` is neither). */
CARNET_API const char *carnet_role_name(carnet_role role);
CARNET_API carnet_role carnet_role_parse(const char *name);

/* Brief: this replica's role. A replica made before roles existed has none
 * stored and reads as admin (it was made by `carnet init`, whose default is
 * admin). Errors: CARNET_ECORRUPT (a stored role that is neither), CARNET_EIO. */
CARNET_API int carnet_replica_get_role(carnet_replica *r, carnet_role *out);

/* Brief: store this replica's role, in its own write transaction.
 * Errors: CARNET_EINVAL (not a role), CARNET_EMISUSE (a transaction is
 * open on this handle), CARNET_EIO, CARNET_ENOSPC. */
CARNET_API int carnet_replica_set_role(carnet_replica *r, carnet_role role);

/* Brief: this replica's default phone region, the country of phone
 * numbers written without a country code ("06 12 34 56 78"), as ISO 3166
 * alpha-2 upper case in `out`. A local setting kept in the meta table, not
 * synced: a laptop in Brussels and the office in Lyon may differ; numbers
 * are stored in E.164 either way. "FR" when never set.
 * Errors: CARNET_ECORRUPT (a stored region that is not one), CARNET_EIO. */
CARNET_API int carnet_replica_get_region(carnet_replica *r, char out[3]);

/* Brief: store this replica's default phone region (any case; one that
 * carnet_phone_region_valid accepts), in its own write transaction. Numbers
 * already stored do not change. Errors: CARNET_EINVAL (not a region the
 * phone metadata knows), CARNET_EMISUSE (a transaction is open on this
 * handle), CARNET_EIO, CARNET_ENOSPC. */
CARNET_API int carnet_replica_set_region(carnet_replica *r, const char *region);

/* The longest replica name, in bytes, without its NUL. */
#define CARNET_REPLICA_NAME_MAX 64

/* Brief: name this replica ("Portable Alice"): 1 to CARNET_REPLICA_NAME_MAX
 * bytes of UTF-8 text, no control characters. The name is ordinary synced
 * data: a record of kind CARNET_KIND_REPLICA whose id is derived from the
 * replica id, with an LWW name field, written by this replica only (other
 * replicas learn it at their next sync; no message of its own). Renaming
 * writes the field again. Runs in its own write transaction.
 * Errors: CARNET_EINVAL (empty, too long, control characters), CARNET_EMISUSE
 * (a transaction is open on this handle), CARNET_EIO, CARNET_ENOSPC. */
CARNET_API int carnet_replica_set_name(carnet_replica *r, const char *name);

/* Brief: the name of the replica `replica_id` (this one or a peer) as this
 * replica knows it, copied to `out` (`len` >= CARNET_REPLICA_NAME_MAX + 1).
 * Errors: CARNET_ENOTFOUND (never named, or not heard of yet: show the
 * short hex id instead; `out` is ""), CARNET_ELIMIT (`len` too small),
 * CARNET_ECORRUPT, CARNET_EIO. */
CARNET_API int carnet_replica_name_of(carnet_replica *r, uint64_t replica_id, char *out,
                                      size_t len);

/* Brief: start a write transaction. Every write made through it becomes
 * durable at carnet_txn_commit, all or nothing. Only one write transaction
 * exists at a time per directory (across processes): others wait.
 * Errors: CARNET_EMISUSE (a transaction is already open on this handle),
 * CARNET_EPERM (the replica is read-only: carnet_replica_readonly; every
 * call that writes returns it), CARNET_EIO, CARNET_ENOSPC. */
CARNET_API int carnet_txn_begin(carnet_replica *r, carnet_txn **out);

/* Brief: make the transaction's writes durable (fsync). After the call the
 * transaction is gone, whether it succeeded or not.
 * Errors: CARNET_ENOSPC (disk or map full: nothing was written), CARNET_EIO,
 * or the sticky error of a write that failed inside the transaction (a failed
 * transaction stays failed and commits nothing). */
CARNET_API int carnet_txn_commit(carnet_txn *t);

/* Brief: drop the transaction's writes. NULL is a no-op. */
CARNET_API void carnet_txn_abort(carnet_txn *t);

/* --- Bulk writes ------------------------------------------------------------ */

/* A bulk writer groups many units of work (records created, change batches
 * applied, rows) into write transactions by size or time rather than one
 * transaction per unit or per fixed count: its transaction is committed
 * once its units reach CARNET_BULK_BYTES, or it has been open
 * CARNET_BULK_MS, or it has dirtied about 256 MiB of pages (40 MiB where
 * the store cannot map its file writable: there each dirty page is a copy
 * in private memory), whichever comes first. Each commit rewrites every
 * page it touched, so a bulk load of random keys in fewer, larger commits
 * writes far fewer bytes. A crash loses at most the transaction in
 * progress: what carnet_bulk_step reported committed is durable. Threads:
 * as the replica. */
typedef struct carnet_bulk carnet_bulk;

#define CARNET_BULK_BYTES (32u * 1024u * 1024u)
#define CARNET_BULK_MS 250u

/* Brief: a bulk writer on `r`, with no transaction open yet. After the call
 * the caller owns *out (carnet_bulk_end or carnet_bulk_abort).
 * Errors: CARNET_ENOMEM. */
CARNET_API int carnet_bulk_new(carnet_replica *r, carnet_bulk **out);

/* Brief: the writer's open transaction in *t, begun if none is open: write
 * one unit of work through it, then call carnet_bulk_step. Do not commit or
 * abort it yourself. Errors: as carnet_txn_begin (CARNET_EMISUSE, CARNET_EPERM,
 * CARNET_EIO, CARNET_ENOSPC). */
CARNET_API int carnet_bulk_txn(carnet_bulk *b, carnet_txn **t);

/* Brief: one unit of work of `bytes` (0 when unknown) was written in the
 * writer's transaction; the transaction is committed if it is due.
 * *committed (may be NULL) is true when every unit so far is durable.
 * Errors: CARNET_EMISUSE (no transaction: call carnet_bulk_txn first), or as
 * carnet_txn_commit (CARNET_ENOSPC, CARNET_EIO, the transaction's sticky
 * error: the transaction and its units are then gone; the writer may start
 * another). */
CARNET_API int carnet_bulk_step(carnet_bulk *b, size_t bytes, bool *committed);

/* Brief: commit what the writer holds and free it, whatever the result.
 * Errors: as carnet_txn_commit (CARNET_ENOSPC, CARNET_EIO, the transaction's
 * sticky error). */
CARNET_API int carnet_bulk_end(carnet_bulk *b);

/* Brief: drop what the writer holds uncommitted and free it. NULL is a
 * no-op. */
CARNET_API void carnet_bulk_abort(carnet_bulk *b);

CARNET_END_DECLS

#endif
