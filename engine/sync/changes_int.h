/* engine/sync/changes_int.h - the change API's internal variants used by sync
 * sessions (not API). */
#ifndef CARNET_ENGINE_CHANGES_INT_H
#define CARNET_ENGINE_CHANGES_INT_H

#include <stdbool.h>

#include "carnet/changes.h"

struct carnet__know;
struct carnet__stxn;

/* carnet_changes_encode, leaving out the cells the peer already holds: those
 * whose origin is `skip_origin` (0: none; a peer holds what it wrote) and
 * those the peer's knowledge vector `peer_know` covers (NULL: none;
 * engine/model/know.h), whoever wrote them, so a session never echoes a change
 * back to a peer that has it. The cells of a document kept for an erased
 * owner all travel (engine/erase/erase.h). When the batch ends the stream
 * (info->more false) and `snap_know` is not NULL, it receives this
 * replica's knowledge vector read in the same snapshot as the batch (K3:
 * what the peer may claim once it holds the stream up to info->upto). */
int carnet__changes_since(carnet_replica *r, const carnet_mark *from, size_t max_bytes,
                          uint64_t skip_origin, const struct carnet__know *peer_know,
                          struct carnet__know *snap_know, carnet_buf *out, carnet_batch_info *info);

/* The mark kept for `peer` in `st` ({0, 0} when none). Errors: CARNET_ECORRUPT
 * and those of the store. */
int carnet__mark_read(struct carnet__stxn *st, uint64_t peer, carnet_mark *out);

/* carnet_changes_apply, refusing (CARNET_EPROTO, nothing applied) a batch
 * whose sender is not `expect_sender` (0: any): an authenticated peer must
 * not move the mark this replica keeps for another replica. */
int carnet__changes_apply(carnet_replica *r, const void *batch, size_t len, uint64_t expect_sender,
                          carnet_batch_info *info, uint32_t *applied);

/* The body of carnet__changes_apply inside the caller's open write
 * transaction `t`: decode and validate the whole batch (A1), merge it and
 * move the mark (A2), without committing. Several batches may share one
 * transaction (a sync session applies what one read brought in one commit);
 * the caller acknowledges them only after the commit, and aborts the whole
 * transaction when any of them fails. */
int carnet__changes_apply_in(carnet_txn *t, const void *batch, size_t len, uint64_t expect_sender,
                             carnet_batch_info *info, uint32_t *applied);

/* The pages an open write transaction that applied `entities` received
 * entities has dirtied, estimated from above: each entity and each waiting
 * index write dirties at most one leaf, and a table cannot have more
 * dirty leaves than it has leaves. Without MDB_WRITEMAP each is a heap
 * copy until the commit, so a receiver bounds its memory with this. */
size_t carnet__txn_dirty_estimate(carnet_txn *t, uint64_t entities);

/* Knowledge vectors in the store (engine/model/know.h, invariants K1-K4). */
/* Brief: the vector this replica holds, as of the snapshot `st`: the stored
 * one with the own entry `self` set to `self_hlc` (K2). A stored
 * vector that does not decode claims nothing. Errors: those of the store. */
int carnet__know_load(struct carnet__stxn *st, uint64_t self, uint64_t self_hlc,
                      struct carnet__know *out);

/* Brief: whether no stamp of `k` is more than 7 days ahead of this
 * replica's clock (a peer's vector is refused otherwise, as a batch is). */
bool carnet__know_plausible(carnet_replica *r, const struct carnet__know *k);

/* Brief: this replica's vector and its sequence number, read in one
 * snapshot (what a session tells its peer at its start). */
int carnet__know_read(carnet_replica *r, uint64_t *seq, struct carnet__know *out);

/* Brief: in the write transaction `t`, merge `vec`, read by peer `peer`
 * when its sequence number was `upto`, into the stored vector if this
 * replica's mark for the peer has base >= upto (K3); `*absorbed` says
 * whether it did (may be NULL). The own entry is not stored (K2 gives
 * it). Errors: those of the store; the transaction is then failed. */
int carnet__know_absorb_in(struct carnet_txn *t, uint64_t peer, uint64_t upto,
                           const struct carnet__know *vec, bool *absorbed);

#endif
