/* engine/sync/bulk.h - bulk writes grouped into transactions by size or time
 * (issue 17, point 1; not API). An interface header: it includes public
 * headers only, so protocol/ (a sync session's receiver) and book/ (an
 * import) use it.
 *
 * Every commit rewrites each B-tree page the transaction touched, and a bulk
 * load of random keys touches a large share of the tree at every commit: the
 * fewer the commits, the fewer the bytes written. A bulk writer (the
 * receiver of a first sync, an import, `carnet changes apply`) puts its units
 * of work (received batches, rows) into one open transaction, a group, and
 * commits it when it is due:
 *
 *   - its units reached `bytes` (tens of MiB), `units`, or about `pages`
 *     dirty pages (estimated from above: without MDB_WRITEMAP each is a heap
 *     copy until the commit, so this bounds the writer's private memory;
 *     with it, they are pages of the file's mapping);
 *   - or it has been open `ms` (about a quarter of a second), so that an
 *     acknowledgement waits that long at most and a crash loses at most that
 *     much work;
 *   - or the writer says so (end of its input, a stream's last batch).
 *
 * Invariant G1: what a group holds is acknowledged (or counted as done) only
 * after its commit: a crash loses the group in progress and nothing else.
 * Invariant G2: between the calls of its owner a group is parked
 * (engine/store/replica_int.h, carnet__txn_park): the handle shows no open
 * transaction, its readers see the last commit (a sync stream never sends
 * what is not durable here), and the next write begun in this process
 * commits the group first through the owner's `flush` callback. A group stays
 * parked for at most `ms` plus the owner's next call (a session's tick).
 */
#ifndef CARNET_ENGINE_BULK_H
#define CARNET_ENGINE_BULK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/replica.h"

/* Defaults of a group's bounds (0 in carnet__bulk_init). The dirty pages:
 * 40 MiB when each is a heap copy (private memory); with a writable map
 * (MDB_WRITEMAP, engine/store/store.c) they are file pages, and the bound
 * only keeps the room a group allocates ahead and a crash's loss bounded:
 * 256 MiB. */
#define CARNET__BULK_BYTES (32u * 1024u * 1024u)
#define CARNET__BULK_MS 250u
#define CARNET__BULK_PAGES 10240u
#define CARNET__BULK_PAGES_MAP 65536u

typedef struct carnet__bulk {
  carnet_replica *r;
  carnet_txn *t; /* the open group, or NULL */
  size_t max_bytes;
  uint32_t max_ms;
  size_t max_pages;
  unsigned max_units; /* 0: no bound */
  uint64_t t0_ms;     /* when the group began */
  size_t bytes;
  uint64_t entities;
  unsigned units;
  uint64_t commits; /* groups committed (statistics) */
} carnet__bulk;

/* Brief: a writer with no group open on `r`; 0 takes the default of a bound
 * (max_units 0: none). */
void carnet__bulk_init(carnet__bulk *b, carnet_replica *r, size_t max_bytes, uint32_t max_ms,
                       size_t max_pages, unsigned max_units);

/* Brief: the group's transaction in *t: the open one (resumed if parked) or a
 * new one begun at `now_ms`. Errors: those of carnet_txn_begin. */
int carnet__bulk_txn(carnet__bulk *b, uint64_t now_ms, carnet_txn **t);

/* Brief: count a unit of work put in the group: its bytes and the entities
 * it wrote. */
void carnet__bulk_add(carnet__bulk *b, size_t bytes, uint64_t entities);

/* Brief: whether a group is open (parked or not). */
bool carnet__bulk_open(const carnet__bulk *b);

/* Brief: whether the open group reached one of its bounds at `now_ms` (a
 * clock that stepped back makes it due too). */
bool carnet__bulk_due(const carnet__bulk *b, uint64_t now_ms);

/* Brief: commit the open group (0 when none is open); it is closed whatever
 * the result. Errors: those of carnet_txn_commit. */
int carnet__bulk_commit(carnet__bulk *b);

/* Brief: abort the open group, if any. */
void carnet__bulk_abort(carnet__bulk *b);

/* Brief: park the open group between two calls of its owner (G2); the next
 * write begun in the process calls `flush(ctx)`, which must commit or abort
 * it with carnet__bulk_commit / carnet__bulk_abort. No-op when none is open
 * or it is parked already. */
void carnet__bulk_park(carnet__bulk *b, void (*flush)(void *ctx), void *ctx);

#endif
