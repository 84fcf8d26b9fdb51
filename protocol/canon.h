/* protocol/canon.h - the shortest msgpack encoding of a value, as msgpack-c
 * writes it.
 *
 * Decoders of wire formats that are re-encoded (session messages, invite
 * tokens) accept only these sizes, so one value has one byte form and
 * decode-then-encode gives back the input exactly (the fuzz targets check
 * it).
 */
#ifndef CARNET_PROTOCOL_CANON_H
#define CARNET_PROTOCOL_CANON_H

#include <stddef.h>
#include <stdint.h>

static inline size_t carnet__canon_uint(uint64_t v) {
  return v < 128 ? 1 : v <= UINT8_MAX ? 2 : v <= UINT16_MAX ? 3 : v <= UINT32_MAX ? 5 : 9;
}

/* v < 0 */
static inline size_t carnet__canon_neg(int64_t v) {
  return v >= -32 ? 1 : v >= INT8_MIN ? 2 : v >= INT16_MIN ? 3 : v >= INT32_MIN ? 5 : 9;
}

static inline size_t carnet__canon_bin(size_t n) {
  return n + (n <= UINT8_MAX ? 2 : n <= UINT16_MAX ? 3 : 5);
}

static inline size_t carnet__canon_str(size_t n) {
  return n + (n < 32 ? 1 : n <= UINT8_MAX ? 2 : n <= UINT16_MAX ? 3 : 5);
}

#endif
