/* protocol/canon.h - the canonical msgpack of the wire formats: scalar
 * objects only, each in the shortest encoding msgpack-c writes.
 *
 * Decoders of wire formats that are re-encoded (session messages, invite
 * tokens) accept only these sizes, so one value has one byte form and
 * decode-then-encode gives back the input exactly (the fuzz targets check
 * it).
 */
#ifndef CARNET_PROTOCOL_CANON_H
#define CARNET_PROTOCOL_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/base/mp.h"

static inline size_t carnet__canon_uint(uint64_t v) {
  return v < 128 ? 1 : v <= UINT8_MAX ? 2 : v <= UINT16_MAX ? 3 : v <= UINT32_MAX ? 5 : 9;
}

/* True when `raw` is the canonical encoding of the unsigned `v`: the
 * shortest length, and an unsigned tag (msgpack-c also reads a positive
 * value in a signed form of the same length, found by fuzz_msg). */
static inline bool carnet__canon_is_uint(carnet_buf raw, uint64_t v) {
  const uint8_t *p = raw.base;
  return raw.len == carnet__canon_uint(v) && (raw.len == 1 || (p[0] >= 0xcc && p[0] <= 0xcf));
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

/* True when the next object of `m` is an array or a map. No wire format of
 * the protocol has one, and they must not reach msgpack-c: it reports a
 * nesting deeper than its stack as out of memory, which would turn a
 * peer's garbage into CARNET_ENOMEM (found by fuzz_msg). */
static inline bool carnet__canon_container(const carnet__mp *m) {
  if (m->off >= m->len) return false;
  uint8_t c = (uint8_t)m->buf[m->off];
  return (c >= 0x80 && c <= 0x9f) || (c >= 0xdc && c <= 0xdf);
}

/* The next object, refused (CARNET_ECORRUPT, like carnet__mp_next) when it
 * is a container. */
static inline int carnet__canon_next(carnet__mp *m, msgpack_object *o, carnet_buf *raw) {
  if (carnet__canon_container(m)) return CARNET__REFUSE(&m->bad_line, CARNET_ECORRUPT);
  return carnet__mp_next(m, o, raw);
}

#endif
