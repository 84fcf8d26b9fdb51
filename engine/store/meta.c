/* engine/store/meta.c - 8-byte values of the meta table (engine/store/meta.h). */
#include "engine/store/meta.h"

#include <string.h>

#include "carnet/error.h"
#include "engine/base/bytes.h"

int carnet__meta_get_u64(carnet__stxn *st, const char *key, uint64_t *out) {
  carnet_buf v;
  int rc = carnet__store_get(st, CARNET__T_META, key, strlen(key), &v);
  if (rc) return rc;
  if (v.len != 8) return CARNET_ECORRUPT;
  *out = carnet__be64_get(v.base);
  return 0;
}

int carnet__meta_put_u64(carnet__stxn *st, const char *key, uint64_t v) {
  uint8_t b[8];
  carnet__be64_put(b, v);
  return carnet__store_put(st, CARNET__T_META, key, strlen(key), b, 8, 0);
}
