/* engine/model/cell.c - the one merge rule of every field CRDT (see cell.h, C1). */
#include "engine/model/cell.h"

#include <string.h>

#include "engine/base/check.h"

static int bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  size_t n = alen < blen ? alen : blen;
  int c = n ? memcmp(a, b, n) : 0;
  if (c != 0) return c < 0 ? -1 : 1;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int carnet__cell_key_cmp(const carnet__cell *a, const carnet__cell *b) {
  CARNET_ASSERT(a->key != NULL || a->klen == 0);
  CARNET_ASSERT(b->key != NULL || b->klen == 0);
  if (a->field != b->field) return a->field < b->field ? -1 : 1;
  return bytes_cmp(a->key, a->klen, b->key, b->klen);
}

int carnet__cell_version_cmp(const carnet__cell *a, const carnet__cell *b) {
  if (a->hlc != b->hlc) return a->hlc < b->hlc ? -1 : 1;
  if (a->origin != b->origin) return a->origin < b->origin ? -1 : 1;
  /* Only a buggy or hostile peer sends two values under one stamp; ordering
   * them by bytes still makes every replica pick the same one. */
  return bytes_cmp(a->val, a->vlen, b->val, b->vlen);
}

const carnet__cell *carnet__cell_merge(const carnet__cell *a, const carnet__cell *b) {
  /* C1 merges two versions of one cell, never two cells. */
  CARNET_ASSERT(carnet__cell_key_cmp(a, b) == 0);
  CARNET_ASSERT(a->val != NULL || a->vlen == 0);
  CARNET_ASSERT(b->val != NULL || b->vlen == 0);
  return carnet__cell_version_cmp(a, b) >= 0 ? a : b;
}
