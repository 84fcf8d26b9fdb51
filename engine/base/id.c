/* engine/base/id.c - entity ids: creation, hex form. */
#include "engine/base/id.h"

#include <string.h>

#include "carnet/error.h"
#include "carnet/record.h"

void carnet__id_make(carnet_id *id, carnet_hlc stamp, const uint8_t rnd[8]) {
  for (int i = 7; i >= 0; i--, stamp >>= 8)
    id->b[i] = (uint8_t)stamp;
  memcpy(id->b + 8, rnd, 8);
}

void carnet_id_format(const carnet_id *id, char out[CARNET_ID_HEX_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) {
    out[2 * i] = hex[id->b[i] >> 4];
    out[2 * i + 1] = hex[id->b[i] & 15];
  }
  out[CARNET_ID_HEX_LEN] = '\0';
}

static int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int carnet_id_parse(const char *hex, carnet_id *out) {
  if (hex == NULL || strlen(hex) != CARNET_ID_HEX_LEN) return CARNET_EINVAL;
  for (int i = 0; i < 16; i++) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return CARNET_EINVAL;
    out->b[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}
