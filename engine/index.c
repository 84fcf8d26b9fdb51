/* engine/index.c - which index keys an entity has (invariant E2).
 *
 * A key is tag byte + value + entity id, with an empty value: several
 * entities may share a value (two customers with one phone), and a lookup is
 * a cursor seek on tag + value. Today: reference codes. The duplicate
 * detector adds normalised phones, e-mails and SIRET here.
 */
#include <ctype.h>
#include <msgpack.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/entity_io.h"

static int add_key(carnet__keyset *ks, carnet__arena *a, uint8_t tag, const void *v, size_t n,
                   const carnet_id *id) {
  if (ks->n >= CARNET__INDEX_KEYS_MAX) return 0; /* bounded; extra values go unindexed */
  uint8_t *k = carnet__arena_alloc(a, 1 + n + 16);
  if (k == NULL) return CARNET_ENOMEM;
  k[0] = tag;
  memcpy(k + 1, v, n);
  memcpy(k + 1 + n, id->b, 16);
  ks->keys[ks->n++] = (carnet_buf){k, 1 + n + 16};
  return 0;
}

/* A cell's value as a string, when it is one. */
static bool cell_str(const carnet__cell *c, const char **s, size_t *n) {
  msgpack_zone z;
  msgpack_object o;
  size_t off = 0;
  bool ok = false;
  if (!msgpack_zone_init(&z, 64)) return false;
  if (msgpack_unpack((const char *)c->val, c->vlen, &off, &z, &o) == MSGPACK_UNPACK_SUCCESS &&
      o.type == MSGPACK_OBJECT_STR) {
    /* str bodies point into c->val, which outlives the zone. */
    *s = o.via.str.ptr;
    *n = o.via.str.size;
    ok = true;
  }
  msgpack_zone_destroy(&z);
  return ok;
}

int carnet__index_keys(const carnet__entity *e, carnet__arena *a, carnet__keyset *out) {
  out->n = 0;
  const carnet__cell *c = carnet__entity_find(e, CARNET_F_REFCODE, NULL, 0);
  const char *s;
  size_t n;
  if (c && cell_str(c, &s, &n) && n > 0) return add_key(out, a, CARNET__IDX_REFCODE, s, n, &e->id);
  /* Document numbers resolve like reference codes ("F2611-5T31-0042"), in
   * upper case since carnet_resolve looks up what was typed in upper case. */
  for (size_t i = 0; i < e->n; i++) {
    c = &e->cells[i];
    if (c->field != CARNET_F_NUMBER || !cell_str(c, &s, &n) || n == 0 || n > 64) continue;
    char up[64];
    for (size_t k = 0; k < n; k++)
      up[k] = (char)toupper((unsigned char)s[k]);
    int rc = add_key(out, a, CARNET__IDX_REFCODE, up, n, &e->id);
    if (rc) return rc;
  }
  return 0;
}
