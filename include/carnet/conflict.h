/* carnet/conflict.h - concurrent edits made visible.
 *
 * Every field merges last-writer-wins (docs/DESIGN-NOTES.md, "One merge
 * rule"): when two replicas change the same field of a customer or a
 * contact while apart, one value wins everywhere and the other is gone
 * from the record. A replica keeps, for people to see, the value that lost
 * such a merge, with its stamp and replica and the winner's: a *conflict*.
 *
 * Which merges are conflicts: a replica records one when it merges a
 * received version of a scalar field (name, city, e-mail address fields,
 * notes...; not the elements of sets, phones or custom fields) with the
 * version it holds, the values differ, they come from different replicas,
 * and one of them is this replica's own edit that no peer had confirmed
 * yet (so the other replica wrote its version without seeing it). Each
 * replica records what it merges itself; conflicts do not sync. In two
 * replicas that edit one field while offline and then sync, both record
 * the conflict; a replica that only relays both versions (a hub between
 * two laptops) records none, and neither may a laptop whose edit reached
 * the hub before losing there (docs/DESIGN-NOTES.md, "Visible conflicts").
 *
 * Retention: a conflict is kept CARNET_CONFLICT_KEEP_MS (90 days) after it
 * was recorded, at most 16 per record (the oldest go first). Conflicts are
 * personal data: stored sealed like the records, and erasing a customer
 * (carnet/erase.h) deletes its own and its contacts' in the same
 * transaction.
 *
 * Merge rules and convergence do not depend on them: they are a view.
 * Threads: as carnet/replica.h.
 */
#ifndef CARNET_CONFLICT_H
#define CARNET_CONFLICT_H

#include "carnet/api.h"

#include <stdbool.h>
#include <stdint.h>

#include "carnet/record.h"
#include "carnet/replica.h"
#include "carnet/types.h"

CARNET_BEGIN_DECLS

/* How long a conflict stays visible after it was recorded: 90 days. */
#define CARNET_CONFLICT_KEEP_MS (90ull * 24u * 3600u * 1000u)

/* A conflict's id: 16 lowercase hex characters, stable on a replica (a
 * hash of the record, the field and the losing version's stamp). */
#define CARNET_CONFLICT_ID_LEN 16u

/* A conflict as read. Strings live until the callback returns. */
typedef struct carnet_conflict {
  char cid[CARNET_CONFLICT_ID_LEN + 1];
  carnet_id id; /* the customer or contact */
  carnet_kind kind;
  carnet_field field;
  const char *lost;   /* the losing value as carnet_record_str shows it; NULL: it cleared */
  carnet_hlc lost_at; /* its stamp */
  uint64_t lost_by;   /* the replica that wrote it */
  const char *won;    /* the value that won, as lost */
  carnet_hlc won_at;
  uint64_t won_by;
  uint64_t noted_ms;   /* when this replica merged them (its clock, ms since the epoch) */
  const char *current; /* the field's value now, as lost */
  bool restored;       /* the field holds the losing value again */
} carnet_conflict;

typedef int (*carnet_conflict_cb)(const carnet_conflict *c, void *data);

/* Brief: call `cb` for each conflict kept on this replica, of record `id`
 * (NULL: of every record), recorded at or after `since_ms` (ms since the
 * epoch; 0: all), record by record in id order and oldest first within a
 * record. A non-zero return of `cb` stops the walk and is returned.
 * Conflicts past their retention are not shown.
 * Errors: CARNET_ECORRUPT (a damaged record), CARNET_EIO, CARNET_ENOMEM. */
CARNET_API int carnet_conflict_list(carnet_replica *r, const carnet_id *id, uint64_t since_ms,
                                    carnet_conflict_cb cb, void *data);

/* Brief: put the losing value of conflict `cid` back into its field, as a
 * new local edit (a fresh stamp: it wins over both versions and syncs like
 * any edit; the field's other edits are not touched). The conflict stays
 * listed, marked restored. `out` (may be NULL) receives the conflict as it
 * was before the call, its strings NULL.
 * Errors: CARNET_EINVAL (`cid` is not 16 hex characters), CARNET_ENOTFOUND
 * (no such conflict kept here, or its record is gone), CARNET_EEXIST (the
 * field holds that value already), CARNET_EPERM (a validated document, or a
 * role that may not write), CARNET_EMISUSE (a transaction is open on the
 * handle), CARNET_ECORRUPT, CARNET_ENOSPC, CARNET_EIO, CARNET_ENOMEM. */
CARNET_API int carnet_conflict_restore(carnet_replica *r, const char *cid, carnet_conflict *out);

CARNET_END_DECLS

#endif
