/* carnet/merge.h - merging duplicate customers, undoing a merge, and the
 * decisions a person takes on candidate pairs (carnet/dupes.h).
 *
 * A merge never rewrites data. `carnet_merge_apply(KEEP, OTHER)` records an edge
 * "OTHER is the same as KEEP" (a cell of OTHER's SAME_AS set). The merged
 * customers form a group (the connected members, whatever the directions),
 * and every replica picks the same survivor from the edges alone: the member
 * with the fewest outgoing edges, then the smallest id. So the KEEP of a
 * merge survives, and two replicas that merge A<-B and B<-A concurrently
 * agree on one of them once they sync.
 *
 * Reads resolve a group at read time: carnet_record_get of any member returns the
 * survivor's id and reference code with the fields of every member merged
 * by their CRDT rules (sets united, scalars by latest change, consent logs
 * united, so a withdrawal is kept); carnet_record_list shows the survivor only;
 * documents, actions, reminders and contacts keep the customer id they were
 * written with and are listed under the survivor (a filter on a customer
 * matches every member of its group). An offline edit to a member is thus
 * never lost, and an unmerge gives each member its own data back.
 *
 * Decisions on a pair: "not the same" (dismiss: the pair is not proposed
 * again, on any replica) and "set aside" (the review list). A "not the same"
 * decision that meets a concurrent merge of the pair does not undo it: the
 * merge stands and the group is flagged for review (carnet_record_review).
 */
#ifndef CARNET_MERGE_H
#define CARNET_MERGE_H

#include "carnet/api.h"

#include <stdbool.h>
#include <stddef.h>

#include "carnet/dupes.h"
#include "carnet/record.h"

CARNET_BEGIN_DECLS

/* Brief: merge customer `other` into `keep`, in `t`.
 * Errors: CARNET_EINVAL (the same customer twice, or not customers),
 * CARNET_ENOTFOUND (no such customer, or deleted), CARNET_EEXIST (already
 * merged: in one group), CARNET_EPERM (one of them was erased),
 * CARNET_ENOSPC, CARNET_EIO. The replica's errmsg says which. */
CARNET_API int carnet_merge_apply(carnet_txn *t, const carnet_id *keep, const carnet_id *other);

/* Brief: undo merges, in `t`. With `from` NULL, `id` leaves its group: every
 * edge from or to `id` is removed (the others stay merged with each other
 * where edges join them). With `from`, only the edges between `id` and
 * `from` are removed. Errors: CARNET_ENOTFOUND (nothing to undo: not
 * merged), CARNET_ENOSPC, CARNET_EIO. */
CARNET_API int carnet_merge_undo(carnet_txn *t, const carnet_id *id, const carnet_id *from);

/* Brief: record that customers `a` and `b` are not the same (the pair is no
 * longer a candidate), and take it off the review list, in `t`.
 * Errors: CARNET_EINVAL (the same id twice; or the two are merged: unmerge
 * first), CARNET_ENOTFOUND, CARNET_ENOSPC, CARNET_EIO. */
CARNET_API int carnet_dupes_dismiss(carnet_txn *t, const carnet_id *a, const carnet_id *b);

/* Brief: put the pair on the review list (decide later), in `t`.
 * Errors: as carnet_dupes_dismiss. */
CARNET_API int carnet_dupes_set_aside(carnet_txn *t, const carnet_id *a, const carnet_id *b);

/* Brief: the group of customer `id`: its survivor, and up to `max` member
 * ids (survivor included, in id order) in `members` (may be NULL with max
 * 0); *n receives the number of members (1 when not merged). `review` (may
 * be NULL) tells whether a "not the same" decision conflicts with the group.
 * Errors: CARNET_ECORRUPT, CARNET_EIO, CARNET_ENOMEM. */
CARNET_API int carnet_merge_group(carnet_replica *r, const carnet_id *id, carnet_id *survivor,
                                  carnet_id *members, size_t max, size_t *n, bool *review);

/* Brief: apply the decisions to candidate pairs from carnet_dupes_find (or
 * carnet_dupes_of): each side is replaced by the survivor of its group;
 * pairs inside one group, pairs decided "not the same" and pairs set aside
 * are dropped, and a pair seen twice keeps its best score. The array is
 * rewritten in place (best first) and *n shrinks. Errors: CARNET_ECORRUPT,
 * CARNET_EIO, CARNET_ENOMEM. */
CARNET_API int carnet_dupes_filter(carnet_replica *r, carnet_dupe *pairs, size_t *n);

/* What is on the review list. */
typedef enum carnet_review_why {
  CARNET_REVIEW_SET_ASIDE = 1, /* a candidate pair a person set aside */
  CARNET_REVIEW_CONFLICT = 2,  /* merged, but also decided "not the same" */
} carnet_review_why;

typedef struct carnet_review_item {
  carnet_id a, b;     /* a < b; for a conflict, the two members so decided */
  carnet_id survivor; /* conflict: the survivor of their group */
  carnet_review_why why;
} carnet_review_item;

/* Brief: the review list, in (a, b) order. After the call *out is an
 * array of *n items owned by the caller (carnet_free). Errors: as carnet_merge_group. */
CARNET_API int carnet_dupes_review_list(carnet_replica *r, carnet_review_item **out, size_t *n);

/* Brief: the other members of a merged customer's group as read (ids;
 * empty when not merged), and whether the group is flagged for review. The
 * array lives with the record. */
CARNET_API size_t carnet_record_merged(const carnet_record *rec, const carnet_id **out);
CARNET_API bool carnet_record_review(const carnet_record *rec);

CARNET_END_DECLS

#endif
