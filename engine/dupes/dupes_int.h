/* engine/dupes/dupes_int.h - the pieces of carnet_record_lookup that a bulk
 * writer's duplicate checks (engine/dupes/bulkdup.h) share with it (not
 * API). */
#ifndef CARNET_ENGINE_DUPES_INT_H
#define CARNET_ENGINE_DUPES_INT_H

#include <stddef.h>
#include <stdint.h>

#include "carnet/dupes.h"
#include "engine/store/entity_io.h"

/* The longest normal form of a looked-up value, its NUL included. */
#define CARNET__LOOKUP_NORM_MAX 255

/* Brief: the index tag and the normal form of `value` as carnet_record_lookup
 * looks it up (a phone read in the replica's region, an e-mail's matching
 * key, a SIRET or SIREN). Errors: CARNET_EINVAL (not a valid value, or an
 * unknown kind; the detail on the handle), CARNET_ENOMEM. */
int carnet__lookup_norm(carnet_replica *r, carnet_lookup_kind kind, const char *value, uint8_t *tag,
                        char norm[CARNET__LOOKUP_NORM_MAX]);

/* Brief: the ids under blind key `key` (tag + keyed hash) in the index table
 * of `st`, in the index's order (by id): the first `max` in ids, their count
 * in *n. No catch-up: what the table holds. Errors: the store's. */
int carnet__lookup_ids(carnet__stxn *st, const uint8_t key[1 + CARNET__INDEX_HASH_LEN],
                       carnet_id *ids, size_t max, size_t *n);

#endif
