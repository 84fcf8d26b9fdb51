/* engine/model/cert.c - the erasure certificate codec (see cert.h). */
#include "engine/model/cert.h"

#include <stddef.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/types.h"
#include "engine/base/check.h"
#include "engine/base/mp.h"
#include "engine/base/text.h"

/* The scope sits in what was the struct's padding (carnet/erase.h): the
 * public layout must not move. */
_Static_assert(offsetof(carnet_erasure, scope) ==
                   offsetof(carnet_erasure, reason) + CARNET_ERASE_REASON_MAX + 1,
               "scope follows the reason");
_Static_assert(offsetof(carnet_erasure, nconfirmed) ==
                   (offsetof(carnet_erasure, reason) + CARNET_ERASE_REASON_MAX + 1 + 3) / 4 * 4,
               "nconfirmed where it was before the scope was added");

int carnet__cert_encode(const carnet_erasure *c, msgpack_sbuffer *sb) {
  msgpack_packer pk;
  size_t before = sb->size;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  size_t rlen = strnlen(c->reason, CARNET_ERASE_REASON_MAX);
  /* The oldest version that holds it (cert.h): RECORD stays version 1. */
  bool v2 = c->scope == CARNET_ERASE_PERSON;
  int rc = msgpack_pack_uint8(&pk, v2 ? 2 : 1);
  carnet__pack_bin(&pk, c->id.b, 16);
  rc |= msgpack_pack_uint8(&pk, CARNET_KIND_CUSTOMER);
  rc |= msgpack_pack_uint64(&pk, c->at);
  rc |= msgpack_pack_uint64(&pk, c->origin);
  if (v2) rc |= msgpack_pack_uint8(&pk, CARNET_ERASE_PERSON);
  carnet__pack_str(&pk, c->reason, rlen);
  rc |= msgpack_pack_uint32(&pk, c->nconfirmed);
  for (uint32_t i = 0; i < c->nconfirmed && i < CARNET_ERASE_CONFIRMS_MAX; i++)
    rc |= msgpack_pack_uint64(&pk, c->confirmed[i]);
  /* The sbuffer's only failure is memory. */
  return rc || sb->size == before ? CARNET_ENOMEM : 0;
}

int carnet__cert_decode(const void *buf, size_t len, carnet_erasure *out, int *bad_line) {
  carnet__mp m;
  msgpack_object o;
  carnet_buf b;
  uint64_t v, n;
  int bad = 0, rc;
  memset(out, 0, sizeof *out);
  if (len == 0 || len > CARNET__CERT_BYTES_MAX) return CARNET__REFUSE(bad_line, CARNET_EPROTO);
  if ((rc = carnet__mp_init(&m, buf, len))) return rc;
  uint64_t version;
  if (carnet__mp_uint(&m, &version) || version < 1 || version > CARNET__CERT_VERSION) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  if (carnet__mp_bin(&m, &b, false) || b.len != 16) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  memcpy(out->id.b, b.base, 16);
  if (carnet__mp_uint(&m, &v) || v != CARNET_KIND_CUSTOMER) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  if (carnet__mp_uint(&m, &out->at) || out->at == 0) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  if (carnet__mp_uint(&m, &out->origin) || out->origin == 0) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  out->scope = CARNET_ERASE_RECORD; /* version 1 */
  /* Version 2 writes PERSON only (the encoder's rule): anything else there
   * would encode back to other bytes. */
  if (version == 2 && (carnet__mp_uint(&m, &v) || v != CARNET_ERASE_PERSON)) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  if (version == 2) out->scope = CARNET_ERASE_PERSON;
  if (carnet__mp_next(&m, &o, NULL) || o.type != MSGPACK_OBJECT_STR ||
      o.via.str.size > CARNET_ERASE_REASON_MAX) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  if (o.via.str.size) memcpy(out->reason, o.via.str.ptr, o.via.str.size);
  out->reason[o.via.str.size] = '\0';
  if (strlen(out->reason) != o.via.str.size ||
      carnet__text_valid(out->reason, CARNET_ERASE_REASON_MAX, false)) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  if (carnet__mp_uint(&m, &n) || n > CARNET_ERASE_CONFIRMS_MAX) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  for (uint64_t i = 0; i < n; i++) {
    if (carnet__mp_uint(&m, &v) || v == 0 || (i > 0 && v <= out->confirmed[i - 1])) {
      rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
      goto done;
    }
    out->confirmed[i] = v;
  }
  out->nconfirmed = (uint32_t)n;
  rc = carnet__mp_done(&m) ? 0 : CARNET__REFUSE(&bad, CARNET_EPROTO);
done:
  carnet__mp_destroy(&m);
  if (rc) {
    memset(out, 0, sizeof *out);
    if (bad_line) *bad_line = bad;
  }
  return rc;
}

bool carnet__cert_confirm(carnet_erasure *c, uint64_t id) {
  uint32_t i = 0;
  while (i < c->nconfirmed && c->confirmed[i] < id)
    i++;
  if ((i < c->nconfirmed && c->confirmed[i] == id) || c->nconfirmed >= CARNET_ERASE_CONFIRMS_MAX)
    return false;
  memmove(&c->confirmed[i + 1], &c->confirmed[i], (c->nconfirmed - i) * sizeof c->confirmed[0]);
  c->confirmed[i] = id;
  c->nconfirmed++;
  return true;
}

bool carnet__cert_merge(carnet_erasure *a, const carnet_erasure *b) {
  bool changed = false;
  if (b->scope == CARNET_ERASE_PERSON && a->scope != CARNET_ERASE_PERSON) {
    a->scope = CARNET_ERASE_PERSON;
    changed = true;
  }
  if (b->at < a->at || (b->at == a->at && b->origin < a->origin)) {
    a->at = b->at;
    a->origin = b->origin;
    memcpy(a->reason, b->reason, sizeof a->reason);
    changed = true;
  }
  for (uint32_t i = 0; i < b->nconfirmed; i++)
    changed |= carnet__cert_confirm(a, b->confirmed[i]);
  return changed;
}

bool carnet__cert_equal(const carnet_erasure *a, const carnet_erasure *b) {
  return memcmp(a->id.b, b->id.b, 16) == 0 && a->at == b->at && a->origin == b->origin &&
         a->scope == b->scope && strcmp(a->reason, b->reason) == 0 &&
         a->nconfirmed == b->nconfirmed &&
         memcmp(a->confirmed, b->confirmed, a->nconfirmed * sizeof a->confirmed[0]) == 0;
}
