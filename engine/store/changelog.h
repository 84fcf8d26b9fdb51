/* engine/store/changelog.h - stale change-index entries, purged in bulk
 * (issue 17, point 6; not API).
 *
 * The change index holds one live entry per entity, at the sequence number
 * of its last change (engine/store/entity_io.h). An edit used to delete the
 * entity's previous entry at once: one more random leaf of the `changes`
 * table copied and written by every commit that edits an entity, a third
 * of the pages of W2's apply. Now an edit leaves it in place, stale, and
 * counts it (meta "stale_changes"); once the count reaches a share of the
 * table, the commit that crosses it deletes every stale entry in one pass.
 *
 * Invariant L1: an entry is live when its key is the sequence number of
 * its entity's row; every other entry of an existing row is stale, and
 * holds a smaller sequence number (the row's moves forward only). Readers
 * of the change index skip stale entries: the stream (engine/sync/changes.c)
 * and the catch-up of the blind index compare the row's sequence number,
 * `carnet check` accepts them, the change feed notes the entity of each
 * (harmless: its live entry notes it too).
 * Invariant L2: no entry outlives its row: an erasure purges the stale
 * entries before it deletes the row and its live entry.
 */
#ifndef CARNET_ENGINE_CHANGELOG_H
#define CARNET_ENGINE_CHANGELOG_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/store/store.h"

#define CARNET__META_STALE "stale_changes" /* 8 bytes big-endian: stale entries */

/* A purge runs when the stale entries reach this many, and an eighth of
 * the table. */
#define CARNET__STALE_PURGE_MIN 4096u

/* Brief: count `n` entries made stale by transaction `st` (at its commit);
 * purge them all when the count calls for it. Errors: CARNET_ENOMEM,
 * CARNET_ECORRUPT, CARNET_EIO. */
int carnet__changelog_stale(carnet__stxn *st, uint64_t n);

/* Brief: delete every stale entry now (L1: an entry whose entity has a live
 * entry at a greater sequence number) and set the count to 0; *purged (may
 * be NULL) gets how many. Errors: CARNET_ENOMEM, CARNET_ECORRUPT, CARNET_EIO. */
int carnet__changelog_purge(carnet__stxn *st, uint64_t *purged);

/* Brief: the stale entries counted (0 when none). */
int carnet__changelog_stale_count(carnet__stxn *st, uint64_t *n);

#endif
