/* Fuzz target: the backup header decoder (engine/top/backup.h), which reads the
 * first bytes of any file given to `carnet restore`.
 * Invariants checked: bytes that decode satisfy B1 (magic, version 1, a
 * schema from 2, non-zero id and time, a key record of version 1 and a
 * known kind, at least two LMDB pages of data), and encoding the decoded
 * header gives back exactly the header's bytes (encode(decode(x)) == x);
 * anything else is refused with CARNET_EPROTO and the line of the check
 * that fired. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/top/backup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  carnet__backup_header h;
  uint8_t again[CARNET__BACKUP_HEADER_BYTES];
  int bad = 0;
  int rc = carnet__backup_header_decode(data, size, &h, &bad);
  if (rc != 0) {
    if (rc != CARNET_EPROTO || bad == 0) abort();
    return 0;
  }
  if (size < CARNET__BACKUP_HEADER_BYTES || h.version != CARNET__BACKUP_VERSION || h.schema < 2 ||
      h.replica_id == 0 || h.made_ms == 0 || h.key_record[0] != 1 ||
      h.key_record[1] < CARNET_KEY_PASSPHRASE || h.key_record[1] > CARNET_KEY_FILE_IN_DIR ||
      h.data_bytes < CARNET__BACKUP_DATA_MIN)
    abort();
  carnet__backup_header_encode(&h, again);
  if (memcmp(again, data, sizeof again) != 0) abort();
  return 0;
}
