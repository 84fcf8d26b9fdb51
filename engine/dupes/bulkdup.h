/* engine/dupes/bulkdup.h - the duplicate checks of a bulk writer (an import):
 * lookups by phone, e-mail or SIRET that see the writer's own rows without
 * catching the blind index up inside its groups (not API). An interface
 * header: it includes public headers only, so book/ uses it.
 *
 * carnet_record_lookup first catches the blind index up (engine/store/
 * reindex.c, E3): inside an import's group, every lookup indexed the rows
 * written since the previous one, one by one, and each group's commit
 * rewrote the index's leaves that those random keys touched (most of an
 * import's bytes and a quarter of its time). Here the index is caught up
 * once, by the first lookup; from then on a lookup answers from
 *
 *   - the index table as the open transaction holds it: everything but the
 *     customers this writer wrote since (their saves are above the mark:
 *     they added no blind key, and deleted the old keys of the parts they
 *     changed, so the table holds a subset of each one's keys, E3), and
 *   - a table in memory of the lookup keys ('p' 'e' 's') of every customer
 *     this writer's transactions saved (carnet__bulkdup_watch: each save
 *     tells, engine/store/entity_io.c), derived from the customer as saved
 *     by the index's own function: exactly the keys a catch-up would insert
 *     for it.
 *
 * Invariant B1: the two together hold exactly the keys a catch-up would
 * give, so a lookup answers what carnet_record_lookup answers: the first
 * id (the smallest) among the customers that derive the key. It holds while
 * only this writer saves entities: between two of its groups another
 * process may write (its transactions take sequence numbers), so the
 * first lookup of a group whose transaction did not begin where the
 * writer's last commit ended (carnet__bulkdup_commit) catches the index up
 * and empties the table. The writer's own rows stay above the mark: the
 * next reader of the index catches them up, in one sorted pass.
 *
 * Invariant B2: a person erased at their request is found as
 * carnet_erasure_check_value finds them; a group whose transaction finds
 * the opposition list empty answers "not opposed" without reading it.
 *
 * The table holds keyed hashes and ids (no value in clear); it is wiped
 * and freed by carnet__bulkdup_free, with the index secret it keeps.
 */
#ifndef CARNET_ENGINE_BULKDUP_H
#define CARNET_ENGINE_BULKDUP_H

#include <stdbool.h>

#include "carnet/dupes.h"
#include "carnet/replica.h"

typedef struct carnet__bulkdup carnet__bulkdup;

/* Brief: a writer's duplicate checks on `r`, table empty, nothing caught
 * up yet. Errors: CARNET_ENOMEM. */
int carnet__bulkdup_new(carnet_replica *r, carnet__bulkdup **out);

/* Brief: wipe and free (NULL: nothing). */
void carnet__bulkdup_free(carnet__bulkdup *d);

/* Brief: whether the next lookup in `t` would catch the index up (the
 * first one, or after another writer, B1): the writer may rather commit
 * its group, call carnet__bulkdup_catchup, and go on in a new one. */
bool carnet__bulkdup_stale(const carnet__bulkdup *d, const carnet_txn *t);

/* Brief: catch the blind index up in transactions of its own, bounded and
 * committed one by one (carnet__index_ready: what they did stays done if
 * the process dies), so that no group of the writer holds a catch-up.
 * Needs no transaction open on the handle. Errors: those of a catch-up;
 * CARNET_EMISUSE (a transaction is open). */
int carnet__bulkdup_catchup(carnet__bulkdup *d);

/* Brief: the first customer (the smallest id) whose `kind` key is the one
 * of `value`, as carnet_record_lookup(r, kind, value, first, 1, ...) would
 * find it, read in the writer's open transaction `t`. *found says whether
 * there is one. Errors: CARNET_EINVAL (not a valid value: nothing to look
 * up, as carnet_record_lookup), those of a catch-up and of the store. */
int carnet__bulkdup_lookup(carnet__bulkdup *d, carnet_txn *t, carnet_lookup_kind kind,
                           const char *value, carnet_id *first, bool *found);

/* Brief: have every customer that transaction `t` saves from now on put in
 * the table (its lookup keys, derived from it as saved, replace those the
 * table had for it): call it on each transaction of the writer, before its
 * first write. The table is exact for `t` only if `t` commits: after an
 * abort, free the checks. */
void carnet__bulkdup_watch(carnet__bulkdup *d, carnet_txn *t);

/* Brief: the bytes the table holds (its share of a writer's private memory,
 * which a writer may count in its group's bound). */
size_t carnet__bulkdup_bytes(const carnet__bulkdup *d);

/* Brief: `t` is about to be committed: the next transaction is checked
 * against where this one ends (B1). */
void carnet__bulkdup_commit(carnet__bulkdup *d, carnet_txn *t);

/* Brief: carnet_erasure_check_value(r, kind, value, opposed, cert) in `t`,
 * with the shortcut of B2 (so that, the list being empty, a value that is
 * no e-mail or phone is "not opposed" rather than CARNET_EINVAL: an import
 * treats both alike). Errors: as carnet_erasure_check_value. */
int carnet__bulkdup_opposed(carnet__bulkdup *d, carnet_txn *t, carnet_lookup_kind kind,
                            const char *value, bool *opposed, carnet_id *cert);

#endif
