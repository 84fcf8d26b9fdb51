/* engine/model/entity.h - one entity in memory, and its stored row.
 *
 * An entity is a kind and a sorted array of cells (engine/model/cell.h). The row
 * stored under the entity's id is a msgpack stream (docs/FORMATS.md):
 *
 *   kind  seq  nstamps  (hlc origin seq)*  ncells  (field key value stamp)*
 *
 * where cells written together share one stamp, so a 15-field record costs
 * one stamp, not fifteen. `key` is nil when empty. `seq` is the entity's
 * entry in the change index (the greatest seq of its cells).
 */
#ifndef CARNET_ENGINE_ENTITY_H
#define CARNET_ENGINE_ENTITY_H

#include "engine/base/arena.h"
#include "engine/model/cell.h"
#include <msgpack.h>
#include <stdbool.h>

typedef struct carnet__entity {
  carnet_id id;
  uint8_t kind;
  uint64_t seq;
  carnet__cell *cells; /* sorted by carnet__cell_key_cmp; malloc'd */
  size_t n, cap;
  carnet__arena *arena; /* owns the key and value bytes */
} carnet__entity;

void carnet__entity_init(carnet__entity *e, carnet__arena *arena);
/* Frees the cell array (not the arena). */
void carnet__entity_free(carnet__entity *e);

carnet__cell *carnet__entity_find(const carnet__entity *e, uint16_t field, const void *key,
                                  size_t klen);

/* Merge one version of a cell into the entity (C1). When it wins, its bytes
 * are copied into the arena, it takes sequence `seq`, and *changed is set.
 * Errors: CARNET_ENOMEM, CARNET_ELIMIT (too many cells). */
int carnet__entity_merge(carnet__entity *e, const carnet__cell *c, uint64_t seq, bool *changed);

/* Replace (or insert) a cell unconditionally: for local writes, whose fresh
 * stamp is greater than every stamp the entity holds (the clock has seen
 * them all), and for several writes to one cell within one patch. */
int carnet__entity_put(carnet__entity *e, const carnet__cell *c, uint64_t seq);

/* Encode the row into `sb` (cleared first). Errors: CARNET_ENOMEM. */
int carnet__row_encode(const carnet__entity *e, msgpack_sbuffer *sb);

/* Decode and validate a stored row; cells point into `buf`, which must
 * outlive the entity (copy first when it comes from a transaction that
 * ends). Errors: CARNET_ECORRUPT, CARNET_ENOMEM. */
int carnet__row_decode(const carnet_id *id, const void *buf, size_t len, carnet__entity *e);

/* The stamp cells written together share, in a row or a batch (a batch
 * carries no seq: 0). */
typedef struct carnet__stamp {
  carnet_hlc hlc;
  uint64_t origin, seq;
} carnet__stamp;

struct carnet__mp;
/* Read the `nc` cells (field key value stamp) that follow the stamps
 * st[0..ns) in a row or a batch, into cells[0..nc), each stamped from
 * st; the one cell-decoding loop of the engine. Checks each cell against
 * the limits below and `kind`'s schema (carnet__cell_check), and that the
 * cells are strictly sorted (canonical). Values point into the stream's
 * bytes. Errors: CARNET_ECORRUPT (m->bad_line says which check). */
int carnet__cells_read(struct carnet__mp *m, uint8_t kind, const carnet__stamp *st, uint64_t ns,
                       uint64_t nc, carnet__cell *cells);

/* Hard limits of one entity. */
#define CARNET__ENTITY_CELLS_MAX 4096u
#define CARNET__KEY_MAX 256u
#define CARNET__VALUE_MAX 65536u

#endif
