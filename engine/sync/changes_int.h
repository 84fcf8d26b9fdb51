/* engine/sync/changes_int.h - the change API's internal variants used by sync
 * sessions (not API). */
#ifndef CARNET_ENGINE_CHANGES_INT_H
#define CARNET_ENGINE_CHANGES_INT_H

#include "carnet/changes.h"

/* carnet_changes_encode, leaving out cells whose origin is `skip_origin`
 * (0: none): a peer already holds what it wrote, so a session does not echo
 * its own changes back to it. */
int carnet__changes_since(carnet_replica *r, const carnet_mark *from, size_t max_bytes,
                          uint64_t skip_origin, carnet_buf *out, carnet_batch_info *info);

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
int carnet__changes_apply_in(carnet_txn *t, const void *batch, size_t len,
                             uint64_t expect_sender, carnet_batch_info *info, uint32_t *applied);

/* The pages an open write transaction that applied `entities` received
 * entities has dirtied, estimated from above: each entity and each waiting
 * index write dirties at most one leaf, and a table cannot have more
 * dirty leaves than it has leaves. Without MDB_WRITEMAP each is a heap
 * copy until the commit, so a receiver bounds its memory with this. */
size_t carnet__txn_dirty_estimate(carnet_txn *t, uint64_t entities);

#endif
