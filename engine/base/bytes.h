/* engine/base/bytes.h - big-endian integers in byte strings (not API): keys of
 * the store and fields of the formats are big-endian, so that byte order
 * is number order. */
#ifndef CARNET_ENGINE_BYTES_H
#define CARNET_ENGINE_BYTES_H

#include <stdint.h>

static inline void carnet__be64_put(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
}

static inline uint64_t carnet__be64_get(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

static inline void carnet__be32_put(uint8_t *p, uint32_t v) {
  for (int i = 3; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
}

static inline uint32_t carnet__be32_get(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++)
    v = (v << 8) | p[i];
  return v;
}

#endif
