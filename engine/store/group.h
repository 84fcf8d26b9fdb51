/* engine/store/group.h - groups of merged customers and their survivor (not API).
 *
 * A merge is an edge, not a rewrite: `carnet merge KEEP OTHER` adds KEEP's id
 * to OTHER's SAME_AS set (an LWW-element set, so an unmerge removes it and
 * the one merge rule orders a merge and an unmerge). A group is a connected
 * component of the undirected graph of present edges between live customers
 * (rows that exist, are customers and are not erased); every replica holding
 * the same cells sees the same graph, hence the same groups.
 *
 * The survivor of a group is the member with the fewest outgoing edges to
 * other members (the one nobody merged away: KEEP of a single merge), ties
 * broken by the smallest id. It is a function of the edge set alone, so
 * replicas that merged in opposite directions (A<-B here, B<-A there) agree
 * once they have each other's cells.
 *
 * Reads resolve at read time: the view of any member is the survivor's id
 * and reference code with the cells of all members merged by the one rule
 * (sets united, scalars by latest stamp), so an offline edit to a member is
 * never lost and an unmerge gives every member its own data back.
 */
#ifndef CARNET_ENGINE_GROUP_H
#define CARNET_ENGINE_GROUP_H

#include <stdbool.h>

#include "engine/store/entity_io.h"
#include "engine/store/store.h"

/* A group larger than this is cut: the members beyond it (in search order)
 * are left out of the view. Merges are decided by people one pair at a
 * time, so a real group has a handful of members. */
#define CARNET__GROUP_MAX 64

typedef struct carnet__group {
  carnet_id ids[CARNET__GROUP_MAX]; /* sorted by id */
  size_t n;                         /* >= 1: the customer itself */
  size_t survivor;                  /* index into ids */
  bool review;                      /* two members carry a "not the same" decision */
} carnet__group;

/* Brief: the group of customer `id` (n = 1 when it is merged with nobody,
 * or is not a live customer). Errors: CARNET_ECORRUPT, CARNET_ENOMEM,
 * CARNET_EIO. */
int carnet__group_of(carnet__stxn *st, const carnet_id *id, carnet__group *g);

/* Brief: whether `id` is a member of `g`. */
bool carnet__group_has(const carnet__group *g, const carnet_id *id);

/* Brief: the merged view of a group with several members, in `out` (an
 * entity with the survivor's id whose cells live in `a`): the survivor's
 * cells, then every other member's cells merged by the one rule, except the
 * reference code, the tombstone and the merge bookkeeping sets, which stay
 * the survivor's own. Errors: CARNET_ECORRUPT, CARNET_ENOMEM, CARNET_ELIMIT. */
int carnet__group_entity(carnet__stxn *st, const carnet__group *g, carnet__arena *a,
                         carnet__entity *out);

/* Brief: decode the row of `id` into `e` (initialised by the caller with
 * arena `a`), its bytes copied into `a`: a read that needs no index keys
 * (carnet__load computes them for a write). *found is false when there is
 * no such row. Errors: CARNET_ECORRUPT, CARNET_ENOMEM, CARNET_EIO. */
int carnet__load_row(carnet__stxn *st, const carnet_id *id, carnet__arena *a, carnet__entity *e,
                     bool *found);

/* Brief: whether a row exists for `id` and is a live customer candidate for
 * a group (exists, is a customer). */
int carnet__group_member_ok(carnet__stxn *st, const carnet_id *id, bool *ok);

/* Brief: the customers with an edge into `id` (at most `max`, from the
 * index, live or not) in `out`, their number in *n. Errors: CARNET_EIO. */
int carnet__group_sources(carnet__stxn *st, const carnet_id *id, carnet_id *out, size_t max,
                          size_t *n);

/* Index keys of the merge bookkeeping of a customer (engine/store/index.c):
 *   'm' target(16) source(16)   a present SAME_AS edge source -> target
 *   'x' lo(16) hi(16) holder(16)   a present "not the same" decision
 *   'v' lo(16) hi(16) holder(16)   a pair set aside for review
 * Ids are not personal data, so these keys are in clear. */
#define CARNET__IDX_SAME_AS 'm'
#define CARNET__IDX_NOT_SAME 'x'
#define CARNET__IDX_REVIEW 'v'

int carnet__index_merge_keys(const carnet__entity *e, carnet__arena *a, carnet__keyset *out);

#endif
