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

#include <stdbool.h>
#include "carnet/types.h"

typedef struct carnet_replica carnet_replica;
typedef struct carnet_txn carnet_txn;

/* The schema version this build writes and the newest it can read. */
#define CARNET_SCHEMA_VERSION 1

/* Brief: create a new replica in `dir` (created if missing, must not already
 * hold a replica) with a fresh random replica id.
 * `env` may be NULL (real clock and randomness); it is copied.
 * After the call `*out` is an open replica to close with carnet_replica_close.
 * Errors: CARNET_EEXIST (a replica is already there: open it instead),
 * CARNET_EIO (cannot create or write the directory: check the path and
 * permissions), CARNET_ENOMEM. On error *out is NULL and, when `errbuf` is not
 * NULL, a one-line explanation is written to it (errbuf_len bytes max). */
int carnet_replica_init(const char *dir, const carnet_env *env, carnet_replica **out,
                        char *errbuf, size_t errbuf_len);

/* Brief: open an existing replica.
 * Errors: CARNET_ENOREPLICA (no replica there: run `carnet init`),
 * CARNET_EVERSION (written by a newer Carnet: upgrade), CARNET_ECORRUPT
 * (the data file is damaged or not a Carnet replica: restore a backup),
 * CARNET_EIO, CARNET_ENOMEM. Same out/errbuf rules as carnet_replica_init. */
int carnet_replica_open(const char *dir, const carnet_env *env, carnet_replica **out,
                        char *errbuf, size_t errbuf_len);

/* Brief: close the replica. Any transaction still open is aborted. NULL is a
 * no-op. */
void carnet_replica_close(carnet_replica *r);

/* Brief: the detail of the last error on this handle ("" if none). The
 * string lives until the next call on the handle. */
const char *carnet_replica_errmsg(const carnet_replica *r);

/* Brief: this replica's 64-bit id (random, fixed at init). */
uint64_t carnet_replica_id(const carnet_replica *r);

/* Brief: this replica's short tag (4 characters of Crockford base32 of the
 * replica id) used in reference codes so two replicas never hand out the same
 * code. The string lives as long as the handle. */
const char *carnet_replica_tag(const carnet_replica *r);

/* Brief: the directory the replica was opened from (lives with the handle). */
const char *carnet_replica_dir(const carnet_replica *r);

/* Brief: the replica's current local change sequence (the highest sequence
 * number it has given to a change, local or received). */
int carnet_replica_seq(carnet_replica *r, uint64_t *out);

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
const char *carnet_role_name(carnet_role role);
carnet_role carnet_role_by_name(const char *name);

/* Brief: this replica's role. A replica made before roles existed has none
 * stored and reads as admin (it was made by `carnet init`, whose default is
 * admin). Errors: CARNET_ECORRUPT (a stored role that is neither), CARNET_EIO. */
int carnet_role_get(carnet_replica *r, carnet_role *out);

/* Brief: store this replica's role, in its own write transaction.
 * Errors: CARNET_EINVAL (not a role), CARNET_EMISUSE (a transaction is
 * open on this handle), CARNET_EIO, CARNET_ENOSPC. */
int carnet_role_set(carnet_replica *r, carnet_role role);

/* Brief: start a write transaction. Every write made through it becomes
 * durable at carnet_txn_commit, all or nothing. Only one write transaction
 * exists at a time per directory (across processes): others wait.
 * Errors: CARNET_EMISUSE (a transaction is already open on this handle),
 * CARNET_EIO, CARNET_ENOSPC. */
int carnet_txn_begin(carnet_replica *r, carnet_txn **out);

/* Brief: make the transaction's writes durable (fsync). After the call the
 * transaction is gone, whether it succeeded or not.
 * Errors: CARNET_ENOSPC (disk or map full: nothing was written), CARNET_EIO,
 * or the sticky error of a write that failed inside the transaction (a failed
 * transaction stays failed and commits nothing). */
int carnet_txn_commit(carnet_txn *t);

/* Brief: drop the transaction's writes. NULL is a no-op. */
void carnet_txn_abort(carnet_txn *t);

#endif
