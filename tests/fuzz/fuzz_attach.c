/* Fuzz target: an attachment's stored metadata (engine/crm/attach.h
 * carnet__att_decode_row: the row decoder, then the attachment's fields),
 * which a damaged data file or a peer's batch (the same cells) feeds.
 * Invariants checked: a row that decodes as an attachment has a size
 * within CARNET_ATTACH_SIZE_LIMIT and decodes the same way twice; its
 * content file size grows with its size; anything else is refused with
 * CARNET_ECORRUPT or CARNET_ENOTFOUND (another kind), never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/crm/attach.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  carnet_id id = {{0}};
  carnet__att a, b;
  int rc = carnet__att_decode_row(&id, data, size, &a);
  if (rc != 0) {
    if (rc != CARNET_ECORRUPT && rc != CARNET_ENOTFOUND && rc != CARNET_ENOMEM) abort();
    return 0;
  }
  if (a.size > CARNET_ATTACH_SIZE_LIMIT) abort();
  if (carnet__att_stored_size(a.size) <= a.size) abort();
  if (carnet__att_decode_row(&id, data, size, &b) != 0 || a.size != b.size ||
      a.deleted != b.deleted || memcmp(a.hash, b.hash, sizeof a.hash) != 0 ||
      memcmp(a.key, b.key, sizeof a.key) != 0 || memcmp(a.owner.b, b.owner.b, 16) != 0)
    abort();
  return 0;
}
