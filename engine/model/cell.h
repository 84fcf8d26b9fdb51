/* engine/model/cell.h - the unit of replication: one field (or one element of a
 * set/map field) of one entity, with the stamp that orders its writes.
 *
 * Invariant C1: every CRDT in Carnet merges two versions of a cell by taking
 * the greater under one total order: (hlc, origin, value bytes). A max under
 * a total order is commutative, associative and idempotent, so replicas
 * converge whatever the order or duplication of deltas.
 * Invariant C2: in a set field the value is msgpack true (0xc3) for present
 * and false (0xc2) for removed, so on an exact stamp tie "add wins".
 */
#ifndef CARNET_ENGINE_CELL_H
#define CARNET_ENGINE_CELL_H

#include "carnet/types.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct carnet__cell {
  uint16_t field;
  uint16_t klen;
  uint32_t vlen;
  const uint8_t *key; /* sub-key: set element, map key, consent event; may be empty */
  const uint8_t *val; /* exactly one msgpack object */
  carnet_hlc hlc;
  uint64_t origin; /* replica id that wrote this version */
  uint64_t seq;    /* local change sequence (not replicated) */
} carnet__cell;

/* Order of the cell's identity: field, then key bytes (shorter first on a
 * common prefix). */
int carnet__cell_key_cmp(const carnet__cell *a, const carnet__cell *b);

/* The version order of invariant C1: <0, 0, >0. */
int carnet__cell_version_cmp(const carnet__cell *a, const carnet__cell *b);

/* Pure merge of two versions of the same cell: returns the winner (a or b).
 * Equal versions return a. */
const carnet__cell *carnet__cell_merge(const carnet__cell *a, const carnet__cell *b);

#endif
