/* carnet/changes.h - the change API that sync is built on.
 *
 * A replica numbers every entity write it makes or receives with a local
 * sequence number. carnet_changes_encode streams, in batches, every field that
 * changed after a given sequence number; carnet_changes_apply merges such a
 * batch into another replica in one transaction. Merging is commutative,
 * associative and idempotent: batches may arrive in any order, twice, or not
 * at all (then they are asked for again), and replicas still converge.
 *
 * A batch is self-describing msgpack bytes (see docs/FORMATS.md): the sender's
 * replica id, the part of the sender's change stream it covers (a
 * carnet_mark and upto), and the changed cells with their HLC stamps and
 * origins.
 */
#ifndef CARNET_CHANGES_H
#define CARNET_CHANGES_H

#include "carnet/api.h"

#include "carnet/replica.h"
#include <stdbool.h>

CARNET_BEGIN_DECLS

/* Hard limits on a batch, enforced when encoding and when decoding. */
#define CARNET_BATCH_BYTES_MAX (4u * 1024u * 1024u)
#define CARNET_BATCH_ENTITIES_MAX 65536u

/* How far a receiver has got in a sender's change stream.
 *
 * Every cell carries the sender-local sequence number of its last change, and
 * every entity has one entry in the sender's change index, at the greatest
 * sequence number of its cells. A stream sends, in entry order, every entity
 * whose entry is after `after`, with its cells changed after `base`. A mark
 * (base, after) means: the receiver holds every change of the sender up to
 * `base`, and, for the entities whose entry is up to `after`, every change
 * after `base` too. Only when a stream reaches the end does `base` move up;
 * until then an entity edited during the stream (its entry moves past the
 * window) still gets its older cells, and an interrupted stream resumes at
 * `after` without losing them. */
typedef struct carnet_mark {
  uint64_t base;
  uint64_t after; /* >= base */
} carnet_mark;

typedef struct carnet_batch_info {
  uint64_t sender; /* replica id of the sender */
  uint64_t base;   /* cells changed after base ... */
  uint64_t after;  /* ... of the entities with an entry in (after, upto] */
  uint64_t upto;
  uint32_t entities; /* entities in the batch */
  uint32_t cells;    /* cells in the batch */
  bool more;         /* the sender has entries after upto */
} carnet_batch_info;

/* Brief: encode the next batch of the change stream from `from` (NULL: from
 * the start), at most `max_bytes` long (0 = CARNET_BATCH_BYTES_MAX / 2; one
 * entity larger than that still goes alone).
 * After the call `*out` holds bytes owned by the caller (carnet_free),
 * and `info` (may be NULL) says what they cover; when there is nothing more,
 * the batch is empty with more == false. Call again with
 * {from->base, info.upto} while info.more.
 * Errors: CARNET_ECORRUPT, CARNET_ENOMEM, CARNET_EIO. */
CARNET_API int carnet_changes_encode(carnet_replica *r, const carnet_mark *from, size_t max_bytes,
                                     carnet_buf *out, carnet_batch_info *info);

/* Brief: decode and validate a batch without applying it. `info` may be
 * NULL. Errors: CARNET_EPROTO (malformed or out-of-limits bytes). */
CARNET_API int carnet_changes_inspect(const void *batch, size_t len, carnet_batch_info *info);

/* Brief: merge a batch into the replica, in one transaction that also moves
 * the mark kept for the batch's sender: only forward, and only when the
 * batch continues it (batch base <= mark base and batch after <= mark after),
 * so a batch that overtakes a lost one never makes the receiver skip the
 * lost one. The last batch of a stream (more == false) sets the mark to
 * (upto, upto). Re-applying a batch changes nothing.
 * After the call the caller still owns `batch`. `info` (may be NULL) is
 * filled. `applied` (may be NULL) receives the number of cells that changed
 * local state.
 * Errors: CARNET_EPROTO (malformed batch: nothing applied), CARNET_EMISUSE (a
 * transaction is open on the handle), CARNET_ENOSPC, CARNET_EIO. */
CARNET_API int carnet_changes_apply(carnet_replica *r, const void *batch, size_t len,
                                    carnet_batch_info *info, uint32_t *applied);

/* Brief: carnet_changes_apply inside the caller's write transaction `t`
 * (carnet_txn_begin, or a bulk writer's carnet_bulk_txn), so that many
 * batches share one commit. Durable at that commit; when this call fails,
 * the transaction is failed (sticky) and commits nothing: abort it.
 * Errors: CARNET_EPROTO (malformed batch), CARNET_ENOSPC, CARNET_EIO, or
 * the transaction's sticky error. */
CARNET_API int carnet_changes_apply_txn(carnet_txn *t, const void *batch, size_t len,
                                        carnet_batch_info *info, uint32_t *applied);

/* Brief: the mark kept for `peer` ({0, 0} when never synced): what to ask
 * that peer for next. Errors: CARNET_ECORRUPT (the stored mark is damaged:
 * run `carnet check`), CARNET_EIO, CARNET_EBUSY (too many readers). */
CARNET_API int carnet_changes_get_mark(carnet_replica *r, uint64_t peer, carnet_mark *out);

/* Brief: a 32-byte digest of the replica's merged state: every entity, every
 * cell with its value, HLC and origin, in a canonical order, without local
 * sequence numbers. Two replicas that have seen the same changes have the
 * same digest. It reads every row: seconds on a large replica.
 * Errors: CARNET_ECORRUPT (a row does not decode), CARNET_ENOMEM, CARNET_EIO,
 * CARNET_EBUSY. */
CARNET_API int carnet_replica_get_digest(carnet_replica *r, uint8_t out[32]);

CARNET_END_DECLS

#endif
