/* Fuzz target: the stored row decoder (a damaged or hostile data file).
 * Invariant checked: a row that decodes re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/entity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  carnet_id id = {{0}};
  carnet__entity e;
  carnet__entity_init(&e, NULL);
  if (carnet__row_decode(&id, data, size, &e) == 0) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (carnet__row_encode(&e, &sb) != 0) abort();
    /* Stamps are deduplicated on encode, so a row that repeats a stamp
     * re-encodes shorter; decoding that must give the same cells. */
    carnet__entity e2;
    carnet__entity_init(&e2, NULL);
    if (carnet__row_decode(&id, sb.data, sb.size, &e2) != 0 || e2.n != e.n) abort();
    for (size_t i = 0; i < e.n; i++) {
      if (carnet__cell_key_cmp(&e.cells[i], &e2.cells[i]) != 0 ||
          carnet__cell_version_cmp(&e.cells[i], &e2.cells[i]) != 0 ||
          e.cells[i].seq != e2.cells[i].seq)
        abort();
    }
    carnet__entity_free(&e2);
    msgpack_sbuffer_destroy(&sb);
    carnet__entity_free(&e);
  }
  return 0;
}
