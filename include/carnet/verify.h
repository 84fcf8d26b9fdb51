/* carnet/verify.h - checking a replica's files end to end.
 *
 * LMDB keeps no page checksums: a damaged data file is found by reading
 * it. carnet_replica_verify walks every table in one read transaction: every
 * entity row must decode and pass the schema, every entity must have its
 * change-index entry at its sequence number and every entry must point at
 * an entity with that number (invariant E1), and every index key an entity
 * derives must be present (E2). It writes nothing.
 */
#ifndef CARNET_VERIFY_H
#define CARNET_VERIFY_H

#include "carnet/api.h"

#include <stdint.h>

#include "carnet/replica.h"

CARNET_BEGIN_DECLS

typedef struct carnet_verify_report {
  uint64_t entities;     /* rows read */
  uint64_t changes;      /* change-index entries read */
  uint64_t index_keys;   /* index keys checked */
  uint64_t bad_rows;     /* rows that do not decode or fail the schema */
  uint64_t bad_changes;  /* E1 violations */
  uint64_t missing_keys; /* E2 violations */
} carnet_verify_report;

/* Brief: check the replica (see above) and fill `out`. Returns 0 when the
 * walk completed, whatever it found (look at the bad_* counts), and the
 * replica's errmsg names the first problem found.
 * Errors: CARNET_ECORRUPT (the B-tree itself is damaged: the walk could not
 * go on), CARNET_ENOMEM, CARNET_EIO. */
CARNET_API int carnet_replica_verify(carnet_replica *r, carnet_verify_report *out);

/* Brief: carnet_replica_verify, calling `fn` (when not NULL) every few thousand
 * rows with the rows read so far (entities, then change-index entries) and
 * their total, for a progress line: a replica of a million customers takes
 * tens of seconds to read. `fn` runs on the calling thread.
 * Errors: as carnet_replica_verify. */
CARNET_API int carnet_replica_verify_progress(carnet_replica *r, carnet_progress_fn *fn, void *ctx,
                                              carnet_verify_report *out);

CARNET_END_DECLS

#endif
