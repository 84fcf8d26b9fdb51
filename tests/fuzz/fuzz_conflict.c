/* Fuzz target: the stored conflicts record decoder (engine/crm/conflict.h; a
 * damaged data file). Invariant checked: a record that decodes re-encodes
 * to one that decodes to the same entries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/alloc.h"
#include "engine/crm/conflict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const carnet__conflict_rec *a, const carnet__conflict_rec *b) {
  return a->field == b->field && a->vlen == b->vlen && a->won_vlen == b->won_vlen &&
         memcmp(a->val, b->val, a->vlen) == 0 && memcmp(a->won_val, b->won_val, a->won_vlen) == 0 &&
         a->lost_hlc == b->lost_hlc && a->lost_origin == b->lost_origin &&
         a->won_hlc == b->won_hlc && a->won_origin == b->won_origin && a->noted_ms == b->noted_ms;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  carnet__conflict_rec *cs = NULL, *cs2 = NULL;
  size_t n = 0, n2 = 0;
  if (carnet__conflict_decode((carnet_buf){(void *)data, size}, &cs, &n) != 0) return 0;
  if (n == 0 || n > CARNET__CONFLICTS_PER_ENTITY) abort();
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  carnet__conflict_encode(cs, n, &sb);
  if (carnet__conflict_decode((carnet_buf){sb.data, sb.size}, &cs2, &n2) != 0 || n2 != n) abort();
  for (size_t i = 0; i < n; i++)
    if (!same(&cs[i], &cs2[i])) abort();
  carnet__free(cs2);
  carnet__free(cs);
  msgpack_sbuffer_destroy(&sb);
  return 0;
}
