/* engine/store/changelog.c - stale change-index entries, purged in bulk
 * (engine/store/changelog.h). */
#include "engine/store/changelog.h"

#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/bytes.h"
#include "engine/store/meta.h"

int carnet__changelog_stale_count(carnet__stxn *st, uint64_t *n) {
  int rc = carnet__meta_get_u64(st, CARNET__META_STALE, n);
  if (rc == CARNET_ENOTFOUND) {
    *n = 0;
    rc = 0;
  }
  return rc;
}

int carnet__changelog_stale(carnet__stxn *st, uint64_t n) {
  uint64_t count;
  int rc = carnet__changelog_stale_count(st, &count);
  if (rc) return rc;
  count += n;
  uint64_t entries = carnet__store_entries(st, CARNET__T_CHANGES);
  if (count >= CARNET__STALE_PURGE_MIN && count >= entries / 8)
    return carnet__changelog_purge(st, NULL);
  return carnet__meta_put_u64(st, CARNET__META_STALE, count);
}

typedef struct entry {
  uint64_t seq;
  uint8_t id[16];
} entry;

/* Open addressing over the ids seen, sized for the table. */
typedef struct idset {
  uint8_t (*slot)[16];
  bool *used;
  size_t mask;
} idset;

static uint64_t id_hash(const uint8_t id[16]) {
  uint64_t a, b;
  memcpy(&a, id, 8);
  memcpy(&b, id + 8, 8);
  uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 31);
}

/* Adds `id`; false when it was there already. */
static bool idset_add(idset *s, const uint8_t id[16]) {
  for (size_t i = id_hash(id) & s->mask;; i = (i + 1) & s->mask) {
    if (!s->used[i]) {
      s->used[i] = true;
      memcpy(s->slot[i], id, 16);
      return true;
    }
    if (memcmp(s->slot[i], id, 16) == 0) return false;
  }
}

int carnet__changelog_purge(carnet__stxn *st, uint64_t *purged) {
  carnet__scur *cur = NULL;
  entry *v = NULL;
  idset set = {0};
  size_t n = 0, cap = 0;
  uint64_t gone = 0;
  carnet_buf k, val;
  int rc;
  if (purged) *purged = 0;
  /* Every entry, in sequence order (40 bytes a row in memory). */
  if ((rc = carnet__store_cursor(st, CARNET__T_CHANGES, &cur))) return rc;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &val); rc == 0;
       rc = carnet__store_next(cur, &k, &val)) {
    if (k.len != 8 || val.len < 16) {
      rc = CARNET_ECORRUPT;
      break;
    }
    if (n == cap) {
      size_t nc = cap ? 2 * cap : 4096;
      entry *nv = carnet__realloc(v, nc * sizeof *nv);
      if (nv == NULL) {
        rc = CARNET_ENOMEM;
        break;
      }
      v = nv;
      cap = nc;
    }
    v[n].seq = carnet__be64_get(k.base);
    memcpy(v[n].id, val.base, 16);
    n++;
  }
  carnet__store_cursor_close(cur);
  if (rc != CARNET_ENOTFOUND) goto done;
  rc = 0;
  /* L1: from the greatest sequence number down, the first entry of an id
   * is its live one (a row's sequence number only grows) and the others
   * are stale: marked with the top bit (sequence numbers stay far below
   * it), then deleted in sequence order, leaf after leaf. */
  size_t slots = 64;
  while (slots < 2 * n)
    slots *= 2;
  set.slot = carnet__malloc(slots * sizeof *set.slot);
  set.used = carnet__calloc(slots, sizeof *set.used);
  set.mask = slots - 1;
  if (set.slot == NULL || set.used == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  for (size_t i = n; i-- > 0;)
    if (!idset_add(&set, v[i].id)) v[i].seq |= UINT64_C(1) << 63; /* stale */
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (!(v[i].seq >> 63)) continue;
    uint8_t key[8];
    carnet__be64_put(key, v[i].seq & ~(UINT64_C(1) << 63));
    rc = carnet__store_del(st, CARNET__T_CHANGES, key, sizeof key);
    gone++;
  }
  if (rc == 0) rc = carnet__meta_put_u64(st, CARNET__META_STALE, 0);
  if (rc == 0 && purged) *purged = gone;
done:
  carnet__free(v);
  carnet__free(set.slot);
  carnet__free(set.used);
  return rc;
}
