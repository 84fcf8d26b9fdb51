/* engine/model/know.c - knowledge vectors (engine/model/know.h: invariants K1-K4).
 *
 * Why a stamp per origin is enough although a stream is ordered by the
 * sender's sequence numbers, not by stamps: the vector is never advanced by
 * a batch, only by the end of a stream (K3), when the receiver holds every
 * cell the sender held in one snapshot. Cells of one origin may arrive in
 * any order inside a stream (a relay got them along different paths), but
 * once the stream is complete the receiver holds the sender's whole state,
 * so whatever prefix of an origin's stamps the sender held, the receiver
 * now holds too. The prefix itself is sound because an origin stamps its
 * writes with a clock that only grows across transactions (K2): "every
 * write of O stamped <= h" is a prefix of O's history, true first at O
 * (its clock) and carried, unchanged, from holder to holder.
 */
#include "engine/model/know.h"

#include <string.h>

#include "carnet/error.h"
#include "engine/base/bytes.h"
#include "engine/base/check.h"

/* The index of the first entry whose origin is >= `origin`. */
static size_t lower(const carnet__know *k, uint64_t origin) {
  size_t lo = 0, hi = k->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (k->e[mid].origin < origin)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

carnet_hlc carnet__know_get(const carnet__know *k, uint64_t origin) {
  if (k == NULL) return 0;
  size_t i = lower(k, origin);
  return i < k->n && k->e[i].origin == origin ? k->e[i].hlc : 0;
}

bool carnet__know_raise(carnet__know *k, uint64_t origin, carnet_hlc hlc) {
  if (origin == 0 || hlc == 0) return false;
  size_t i = lower(k, origin);
  if (i < k->n && k->e[i].origin == origin) {
    if (k->e[i].hlc >= hlc) return false;
    k->e[i].hlc = hlc;
    return true;
  }
  if (k->n == CARNET__KNOW_ORIGINS_MAX) return false; /* K4: claim less */
  memmove(&k->e[i + 1], &k->e[i], (k->n - i) * sizeof k->e[0]);
  k->e[i] = (carnet__know_entry){origin, hlc};
  k->n++;
  return true;
}

void carnet__know_drop(carnet__know *k, uint64_t origin) {
  size_t i = lower(k, origin);
  if (i == k->n || k->e[i].origin != origin) return;
  memmove(&k->e[i], &k->e[i + 1], (k->n - i - 1) * sizeof k->e[0]);
  k->n--;
}

bool carnet__know_merge(carnet__know *into, const carnet__know *from, uint64_t except) {
  bool changed = false;
  for (size_t i = 0; i < from->n; i++)
    if (from->e[i].origin != except)
      changed |= carnet__know_raise(into, from->e[i].origin, from->e[i].hlc);
  return changed;
}

size_t carnet__know_encode(const carnet__know *k, uint8_t *out) {
  CARNET_ASSERT(k->n <= CARNET__KNOW_ORIGINS_MAX);
  for (size_t i = 0; i < k->n; i++) {
    carnet__be64_put(out + i * CARNET__KNOW_ENTRY_BYTES, k->e[i].origin);
    carnet__be64_put(out + i * CARNET__KNOW_ENTRY_BYTES + 8, k->e[i].hlc);
  }
  return k->n * CARNET__KNOW_ENTRY_BYTES;
}

int carnet__know_decode(const void *bytes, size_t len, carnet__know *out, int *bad_line) {
  const uint8_t *p = bytes;
  int line = 0;
  out->n = 0;
  if (len % CARNET__KNOW_ENTRY_BYTES != 0 || len > CARNET__KNOW_BYTES_MAX) {
    (void)CARNET__REFUSE(&line, CARNET_EPROTO);
    goto bad;
  }
  for (size_t i = 0; i < len / CARNET__KNOW_ENTRY_BYTES; i++) {
    uint64_t origin = carnet__be64_get(p + i * CARNET__KNOW_ENTRY_BYTES);
    uint64_t hlc = carnet__be64_get(p + i * CARNET__KNOW_ENTRY_BYTES + 8);
    if (origin == 0 || hlc == 0 || (i > 0 && origin <= out->e[i - 1].origin)) {
      (void)CARNET__REFUSE(&line, CARNET_EPROTO);
      goto bad;
    }
    out->e[i] = (carnet__know_entry){origin, hlc};
    out->n = i + 1;
  }
  if (bad_line) *bad_line = 0;
  return 0;
bad:
  out->n = 0;
  if (bad_line) *bad_line = line;
  return CARNET_EPROTO;
}
