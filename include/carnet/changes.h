/* carnet/changes.h - the change API that sync is built on.
 *
 * A replica numbers every entity write it makes or receives with a local
 * sequence number. carnet_changes_since streams, in batches, every field that
 * changed after a given sequence number; carnet_changes_apply merges such a
 * batch into another replica in one transaction. Merging is commutative,
 * associative and idempotent: batches may arrive in any order, twice, or not
 * at all (then they are asked for again), and replicas still converge.
 *
 * A batch is self-describing msgpack bytes (see docs/FORMATS.md): the sender's
 * replica id, the range (since, upto] of the sender's sequence numbers it
 * covers, and the changed cells with their HLC stamps and origins.
 */
#ifndef CARNET_CHANGES_H
#define CARNET_CHANGES_H

#include <stdbool.h>
#include "carnet/replica.h"

/* Hard limits on a batch, enforced when encoding and when decoding. */
#define CARNET_BATCH_BYTES_MAX (4u * 1024u * 1024u)
#define CARNET_BATCH_ENTITIES_MAX 65536u

typedef struct carnet_batch_info {
  uint64_t sender;   /* replica id of the sender */
  uint64_t since;    /* the batch holds every change in (since, upto] ... */
  uint64_t upto;     /* ... of the sender's sequence numbers */
  uint32_t entities; /* entities in the batch */
  uint32_t cells;    /* cells in the batch */
  bool more;         /* the sender has changes after upto */
} carnet_batch_info;

/* Brief: encode the next batch of changes after sequence `since`, at most
 * `max_bytes` long (0 = CARNET_BATCH_BYTES_MAX; one entity larger than that
 * still goes alone).
 * After the call `*out` holds malloc'd bytes owned by the caller (free()),
 * and `info` (may be NULL) says what range they cover; when there is nothing
 * after `since`, the batch is empty with upto == since and more == false.
 * Call again with since = info.upto while info.more.
 * Errors: CARNET_ECORRUPT, CARNET_ENOMEM, CARNET_EIO. */
int carnet_changes_since(carnet_replica *r, uint64_t since, size_t max_bytes, carnet_buf *out,
                         carnet_batch_info *info);

/* Brief: decode and validate a batch without applying it. `info` may be
 * NULL. Errors: CARNET_EPROTO (malformed or out-of-limits bytes). */
int carnet_changes_inspect(const void *batch, size_t len, carnet_batch_info *info);

/* Brief: merge a batch into the replica, in one transaction that also moves
 * the watermark kept for the batch's sender (only forward, and only when the
 * batch starts at or before it, so a batch that arrives after a lost one
 * never makes the receiver skip the lost one).
 * After the call the caller still owns `batch`. `info` (may be NULL) is
 * filled. `applied` (may be NULL) receives the number of cells that changed
 * local state.
 * Errors: CARNET_EPROTO (malformed batch: nothing applied), CARNET_ENOSPC,
 * CARNET_EIO. */
int carnet_changes_apply(carnet_replica *r, const void *batch, size_t len, carnet_batch_info *info,
                         uint32_t *applied);

/* Brief: the watermark kept for `peer`: every change of that peer up to this
 * sequence number has been applied here (0 when never synced). */
int carnet_watermark(carnet_replica *r, uint64_t peer, uint64_t *out);

/* Brief: a 32-byte digest of the replica's merged state: every entity, every
 * cell with its value, HLC and origin, in a canonical order, without local
 * sequence numbers. Two replicas that have seen the same changes have the
 * same digest. */
int carnet_state_digest(carnet_replica *r, uint8_t out[32]);

#endif
