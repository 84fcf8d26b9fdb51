/* engine/entity_io.h - loading an entity from the store and saving it back
 * with its change-index entry and its index keys, in one transaction.
 *
 * Invariant E1: every entity has exactly one entry in the change index, at
 * its greatest cell sequence number; so "every entity with an entry in
 * (since, upto]" covers every cell changed in that range.
 * Invariant E2: the index table holds exactly the keys derived from each
 * entity's current cells (engine/index.c), updated in the same transaction.
 */
#ifndef CARNET_ENGINE_ENTITY_IO_H
#define CARNET_ENGINE_ENTITY_IO_H

#include <msgpack.h>
#include "engine/entity.h"
#include "engine/store.h"

#define CARNET__INDEX_KEYS_MAX 64

typedef struct carnet__keyset {
  carnet_buf keys[CARNET__INDEX_KEYS_MAX];
  size_t n;
} carnet__keyset;

/* An entity as loaded, remembering what saving must undo. */
typedef struct carnet__loaded {
  carnet__arena arena;
  carnet__entity e;
  bool existed;
  uint64_t old_seq;
  carnet__keyset old_keys;
} carnet__loaded;

/* Load `id` (absent: an empty entity of `kind` with existed=false; kind 0
 * takes the stored kind). Cells are copied out of the map so the entity
 * survives writes in the same transaction.
 * Errors: CARNET_ECORRUPT (stored row fails validation), CARNET_ENOMEM. */
int carnet__load(carnet__stxn *st, const carnet_id *id, carnet__loaded *l);
void carnet__loaded_free(carnet__loaded *l);

/* Write the entity's row, move its change-index entry to e.seq and update
 * its index keys. `sb` is scratch space. */
int carnet__save(carnet__stxn *st, carnet__loaded *l, msgpack_sbuffer *sb);

/* The index keys of an entity (engine/index.c), allocated in `a`. */
int carnet__index_keys(const carnet__entity *e, carnet__arena *a, carnet__keyset *out);

/* Index key tags. */
#define CARNET__IDX_REFCODE 'r'

#endif
