/* engine/crm/conflict.h - the values that lost a merge, kept for people to see
 * (carnet/conflict.h; not API).
 *
 * A replica records a conflict when it merges a received version of a
 * field of a customer or contact with the version it holds, the two differ
 * in value and come from different replicas, and one of them is this
 * replica's own edit that no peer had confirmed (its sequence number is
 * after every peer's `acked`). Such an edit was known to no other replica,
 * so the other version was written without seeing it: the two are
 * concurrent, and whichever lost is kept with its stamp and replica, and
 * the winner's (invariant V1). The record is local: it does not sync, and
 * the merge itself is untouched (C1 of engine/model/cell.h), so convergence does
 * not depend on it.
 *
 * Stored in table `conflicts`, sealed like the rows: key = entity id(16),
 * value = msgpack stream `1 n (field lost_value won_value lost_hlc
 * lost_origin won_hlc won_origin noted_ms) x n`, oldest first (docs/FORMATS.md).
 * V2: at most CARNET__CONFLICTS_PER_ENTITY per entity (the oldest go), none
 * older than CARNET_CONFLICT_KEEP_MS after it was noted (dropped when the
 * entity's conflicts are next written, never shown after).
 * V3: erasing an entity deletes its conflicts in the same transaction
 * (engine/erase/erase.c drop_entity).
 */
#ifndef CARNET_ENGINE_CONFLICT_H
#define CARNET_ENGINE_CONFLICT_H

#include <stdbool.h>
#include <stdint.h>

#include "carnet/conflict.h"
#include "engine/model/cell.h"
#include "engine/model/entity.h"
#include "engine/store/store.h"

#define CARNET__CONFLICTS_PER_ENTITY 16u

/* One losing version; the value points into bytes the caller keeps alive. */
typedef struct carnet__conflict_rec {
  uint16_t field;
  uint32_t vlen, won_vlen;
  const uint8_t *val;     /* the losing value: one msgpack object */
  const uint8_t *won_val; /* the winning value */
  carnet_hlc lost_hlc, won_hlc;
  uint64_t lost_origin, won_origin;
  uint64_t noted_ms;
} carnet__conflict_rec;

/* The conflicts found while one entity of a batch is merged. */
typedef struct carnet__conflicts {
  carnet__conflict_rec *v;
  size_t n, cap;
  bool acked_known; /* acked_max read in this transaction */
  uint64_t acked_max;
} carnet__conflicts;

struct carnet_txn;

/* Before `in` is merged into `e`: note the losing version when the pair is
 * a conflict (above). Errors: CARNET_ENOMEM, CARNET_ECORRUPT, CARNET_EIO. */
int carnet__conflict_check(struct carnet_txn *t, const carnet__entity *e, const carnet__cell *in,
                           carnet__conflicts *cf);

/* After the entity is saved: add the noted conflicts to its record (V2).
 * Errors: CARNET_ENOMEM, CARNET_ECORRUPT, CARNET_EIO, CARNET_ENOSPC. */
int carnet__conflict_save(struct carnet_txn *t, const carnet_id *id, carnet__conflicts *cf);

/* Forget what was noted (the entity was dropped), keeping acked_max. */
void carnet__conflicts_reset(carnet__conflicts *cf);
void carnet__conflicts_free(carnet__conflicts *cf);

/* The stored record (decrypted), docs/FORMATS.md: after the call *out
 * is an array of *n entries (carnet__free) whose values point into `v`.
 * Errors: CARNET_ECORRUPT (bad bytes: fuzz_conflict), CARNET_ENOMEM. */
int carnet__conflict_decode(carnet_buf v, carnet__conflict_rec **out, size_t *n);
/* Append the record of `n` entries to `sb`. */
void carnet__conflict_encode(const carnet__conflict_rec *cs, size_t n, msgpack_sbuffer *sb);

/* V3: delete the conflicts of entity `id`. Errors: CARNET_EIO. */
int carnet__conflict_erase(carnet__stxn *st, const carnet_id *id);

#endif
