/* Fuzz target: the session message decoder (the plaintext of every
 * encrypted frame; a MAC proves who sent it, not that it is valid).
 * Invariants checked: a message that decodes re-encodes to exactly the same
 * bytes (the codec is canonical), its fields are within their limits, and
 * anything else is refused with CARNET_EPROTO and a recorded line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "protocol/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  carnet__msg m;
  carnet__obuf out;
  int rc = carnet__msg_decode(data, size, &m);
  if (rc != 0) {
    if (rc != CARNET_EPROTO || m.bad_line == 0) abort();
    return 0;
  }
  if (carnet__msg_name(m.type) == NULL) abort();
  if (m.type == CARNET_MSG_REQ && m.after < m.since) abort();
  if (m.type == CARNET_MSG_BATCH && (m.bytes.len == 0 || m.bytes.len > CARNET_BATCH_BYTES_MAX))
    abort();
  if (m.type == CARNET_MSG_CERT && (m.bytes.len == 0 || m.bytes.len > CARNET_MSG_CERT_BYTES_MAX))
    abort();
  if (m.type == CARNET_MSG_CHUNK && (m.bytes.len == 0 || m.bytes.len > CARNET_MSG_CHUNK_BYTES_MAX))
    abort();
  if (m.type == CARNET_MSG_SEALED && (m.unit_len < CARNET_MSG_SEALED_BYTES_MIN ||
                                      m.unit_len > CARNET_MSG_CHUNK_BYTES_MAX || m.bytes.len != 0))
    abort();
  if (m.type != CARNET_MSG_SEALED && m.unit_len != 0) abort();
  if (m.type != CARNET_MSG_CHUNK && m.type != CARNET_MSG_FETCH && m.type != CARNET_MSG_NOPE &&
      m.type != CARNET_MSG_SEALED) {
    static const carnet_id zero;
    if (memcmp(m.att.b, zero.b, sizeof zero.b) != 0 || m.offset != 0) abort();
  }
  if (m.type == CARNET_MSG_ERROR && (m.code >= 0 || m.text.len > CARNET_MSG_TEXT_BYTES_MAX))
    abort();
  /* The decoded bytes point into the input. */
  if (m.bytes.len && ((const uint8_t *)m.bytes.base < data ||
                      (const uint8_t *)m.bytes.base + m.bytes.len > data + size))
    abort();
  carnet__obuf_init(&out);
  if (carnet__msg_encode(&m, &out) != 0) abort();
  if (out.len != size || memcmp(out.base, data, size) != 0) abort();
  carnet__obuf_free(&out);
  return 0;
}
