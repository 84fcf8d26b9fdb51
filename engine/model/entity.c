/* engine/model/entity.c - entity cells in memory and the stored row codec. */
#include "engine/model/entity.h"
#include "engine/base/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/base/mp.h"
#include "engine/model/schema.h"

void carnet__entity_init(carnet__entity *e, carnet__arena *arena) {
  memset(e, 0, sizeof *e);
  e->arena = arena;
}

void carnet__entity_free(carnet__entity *e) {
  carnet__free(e->cells);
  e->cells = NULL;
  e->n = e->cap = 0;
}

/* Binary search: index of the cell with this identity, or where it goes. */
static size_t lower_bound(const carnet__entity *e, const carnet__cell *probe, bool *found) {
  /* Cells often come in field order (a row decoded, a patch of a new
   * record): past the last one, no search. */
  if (e->n == 0 || carnet__cell_key_cmp(&e->cells[e->n - 1], probe) < 0) {
    *found = false;
    return e->n;
  }
  size_t lo = 0, hi = e->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = carnet__cell_key_cmp(&e->cells[mid], probe);
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *found = lo < e->n && carnet__cell_key_cmp(&e->cells[lo], probe) == 0;
  return lo;
}

carnet__cell *carnet__entity_find(const carnet__entity *e, uint16_t field, const void *key,
                                  size_t klen) {
  carnet__cell probe = {.field = field, .klen = (uint16_t)klen, .key = key};
  bool found;
  size_t i = lower_bound(e, &probe, &found);
  return found ? &e->cells[i] : NULL;
}

static int copy_bytes(carnet__entity *e, carnet__cell *dst, const carnet__cell *src) {
  *dst = *src;
  dst->key = src->klen ? carnet__arena_dup(e->arena, src->key, src->klen) : NULL;
  dst->val = carnet__arena_dup(e->arena, src->val, src->vlen);
  if ((src->klen && dst->key == NULL) || dst->val == NULL) return CARNET_ENOMEM;
  return 0;
}

/* Store `c` at position i (replacing when `found`), copying its bytes. */
static int store_at(carnet__entity *e, size_t i, bool found, const carnet__cell *c, uint64_t seq) {
  if (!found) {
    if (e->n >= CARNET__ENTITY_CELLS_MAX) return CARNET_ELIMIT;
    if (e->n == e->cap) {
      size_t cap = e->cap ? e->cap * 2 : 16;
      carnet__cell *cells = carnet__realloc(e->cells, cap * sizeof *cells);
      if (cells == NULL) return CARNET_ENOMEM;
      e->cells = cells;
      e->cap = cap;
    }
  }
  carnet__cell copy;
  int rc = copy_bytes(e, &copy, c);
  if (rc) return rc;
  if (!found) {
    memmove(&e->cells[i + 1], &e->cells[i], (e->n - i) * sizeof *e->cells);
    e->n++;
  }
  copy.seq = seq;
  e->cells[i] = copy;
  if (seq > e->seq) e->seq = seq;
  return 0;
}

int carnet__entity_merge(carnet__entity *e, const carnet__cell *c, uint64_t seq, bool *changed) {
  bool found;
  size_t i = lower_bound(e, c, &found);
  *changed = false;
  if (found && carnet__cell_merge(&e->cells[i], c) == &e->cells[i]) return 0;
  int rc = store_at(e, i, found, c, seq);
  if (rc == 0) *changed = true;
  return rc;
}

int carnet__entity_put(carnet__entity *e, const carnet__cell *c, uint64_t seq) {
  bool found;
  size_t i = lower_bound(e, c, &found);
  return store_at(e, i, found, c, seq);
}

/* Stamps shared by cells written together; see the row layout in entity.h. */
typedef carnet__stamp stamp;

static size_t stamp_index(stamp *st, size_t *n, const carnet__cell *c) {
  for (size_t i = *n; i-- > 0;) {
    if (st[i].hlc == c->hlc && st[i].origin == c->origin && st[i].seq == c->seq) return i;
  }
  st[*n] = (stamp){c->hlc, c->origin, c->seq};
  return (*n)++;
}

/* An unsigned integer in msgpack's smallest form, the bytes
 * msgpack_pack_uint64 writes (and msgpack_pack_uint8 / _uint16 for values of
 * their range): fixint, 0xcc, 0xcd, 0xce or 0xcf. */
static uint8_t *mp_uint(uint8_t *o, uint64_t d) {
  if (d < 0x80) {
    *o++ = (uint8_t)d;
  } else if (d < 0x100) {
    *o++ = 0xcc;
    *o++ = (uint8_t)d;
  } else if (d < 0x10000) {
    *o++ = 0xcd;
    *o++ = (uint8_t)(d >> 8);
    *o++ = (uint8_t)d;
  } else if (d < 0x100000000u) {
    *o++ = 0xce;
    for (int s = 24; s >= 0; s -= 8)
      *o++ = (uint8_t)(d >> s);
  } else {
    *o++ = 0xcf;
    for (int s = 56; s >= 0; s -= 8)
      *o++ = (uint8_t)(d >> s);
  }
  return o;
}

int carnet__row_encode(const carnet__entity *e, msgpack_sbuffer *sb) {
  /* A customer has a few dozen cells: its stamps on the stack, the heap
   * only for larger entities (two allocations per row written were a few
   * per cent of creating a customer: issue 17, point 5). */
  stamp st_small[64];
  size_t idx_small[64];
  bool small = e->n <= 64;
  stamp *st = small ? st_small : carnet__malloc(e->n * sizeof *st);
  size_t *idx = small ? idx_small : carnet__malloc(e->n * sizeof *idx);
  int rc = CARNET_ENOMEM;
  if (st == NULL || idx == NULL) goto done;
  size_t ns = 0;
  for (size_t i = 0; i < e->n; i++)
    idx[i] = stamp_index(st, &ns, &e->cells[i]);

  /* The bytes msgpack's packer wrote here before (kind, seq, the stamps,
   * then per cell: field, key or nil, the value as stored, its stamp's
   * index), written straight into the buffer sized once: the packer's
   * callback per item was most of encoding a row (issue 17, point 5). */
  size_t need = 2 + 9 + 9 + ns * 27 + 9;
  for (size_t i = 0; i < e->n; i++)
    need += 3 + 3 + (size_t)e->cells[i].klen + e->cells[i].vlen + 9;
  msgpack_sbuffer_clear(sb);
  if (sb->alloc < need) {
    /* msgpack's buffer: realloc'd as msgpack_sbuffer_write does, freed by
     * msgpack_sbuffer_destroy. */
    char *grown = realloc(sb->data, need);
    if (grown == NULL) goto done;
    sb->data = grown;
    sb->alloc = need;
  }
  uint8_t *o = (uint8_t *)sb->data;
  o = mp_uint(o, e->kind);
  o = mp_uint(o, e->seq);
  o = mp_uint(o, ns);
  for (size_t i = 0; i < ns; i++) {
    o = mp_uint(o, st[i].hlc);
    o = mp_uint(o, st[i].origin);
    o = mp_uint(o, st[i].seq);
  }
  o = mp_uint(o, e->n);
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    o = mp_uint(o, c->field);
    if (c->klen) {
      if (c->klen < 0x100) { /* msgpack_pack_bin: bin8, bin16 */
        *o++ = 0xc4;
      } else {
        *o++ = 0xc5;
        *o++ = (uint8_t)(c->klen >> 8);
      }
      *o++ = (uint8_t)c->klen;
      memcpy(o, c->key, c->klen);
      o += c->klen;
    } else {
      *o++ = 0xc0; /* nil */
    }
    if (c->vlen) memcpy(o, c->val, c->vlen);
    o += c->vlen;
    o = mp_uint(o, idx[i]);
  }
  sb->size = (size_t)(o - (uint8_t *)sb->data);
  CARNET_ASSERT(sb->size <= need);
  rc = 0;
done:
  if (!small) {
    carnet__free(st);
    carnet__free(idx);
  }
  return rc;
}

int carnet__cells_read(carnet__mp *m, uint8_t kind, const carnet__stamp *st, uint64_t ns,
                       uint64_t nc, carnet__cell *cells) {
  int rc;
  for (uint64_t i = 0; i < nc; i++) {
    uint64_t field, si;
    carnet_buf key, val;
    if ((rc = carnet__mp_uint(m, &field)) || (rc = carnet__mp_bin(m, &key, true)) ||
        (rc = carnet__mp_skip(m, &val)) || (rc = carnet__mp_uint(m, &si)))
      return rc;
    if (field > UINT16_MAX || key.len > CARNET__KEY_MAX || si >= ns)
      return CARNET__REFUSE(&m->bad_line, CARNET_ECORRUPT);
    carnet__cell *c = &cells[i];
    *c = (carnet__cell){.field = (uint16_t)field,
                        .klen = (uint16_t)key.len,
                        .vlen = (uint32_t)val.len,
                        .key = key.base,
                        .val = val.base,
                        .hlc = st[si].hlc,
                        .origin = st[si].origin,
                        .seq = st[si].seq};
    /* Canonical: cells strictly sorted, each valid for its field. */
    if ((i > 0 && carnet__cell_key_cmp(&cells[i - 1], c) >= 0) || carnet__cell_check(kind, c) != 0)
      return CARNET__REFUSE(&m->bad_line, CARNET_ECORRUPT);
  }
  return 0;
}

int carnet__row_decode(const carnet_id *id, const void *buf, size_t len, carnet__entity *e) {
  carnet__mp m;
  stamp *st = NULL;
  uint64_t kind, seq, ns, nc;
  int rc = carnet__mp_init(&m, buf, len);
  if (rc) return rc;
  e->id = *id;
  if ((rc = carnet__mp_uint(&m, &kind)) || (rc = carnet__mp_uint(&m, &seq)) ||
      (rc = carnet__mp_uint(&m, &ns)))
    goto done;
  if (!carnet__kind_valid((unsigned)kind) || kind > 255 || ns > CARNET__ENTITY_CELLS_MAX) {
    rc = CARNET__REFUSE(&m.bad_line, CARNET_ECORRUPT);
    goto done;
  }
  e->kind = (uint8_t)kind;
  e->seq = seq;
  st = carnet__malloc((ns ? ns : 1) * sizeof *st);
  if (st == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  for (uint64_t i = 0; i < ns; i++) {
    if ((rc = carnet__mp_uint(&m, &st[i].hlc)) || (rc = carnet__mp_uint(&m, &st[i].origin)) ||
        (rc = carnet__mp_uint(&m, &st[i].seq)))
      goto done;
    if (st[i].seq > seq) {
      rc = CARNET__REFUSE(&m.bad_line, CARNET_ECORRUPT);
      goto done;
    }
  }
  if ((rc = carnet__mp_uint(&m, &nc))) goto done;
  if (nc > CARNET__ENTITY_CELLS_MAX) {
    rc = CARNET__REFUSE(&m.bad_line, CARNET_ECORRUPT);
    goto done;
  }
  e->cells = carnet__malloc((nc ? nc : 1) * sizeof *e->cells);
  if (e->cells == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  e->cap = nc ? nc : 1;
  if ((rc = carnet__cells_read(&m, e->kind, st, ns, nc, e->cells))) goto done;
  e->n = nc;
  if (!carnet__mp_done(&m)) rc = CARNET__REFUSE(&m.bad_line, CARNET_ECORRUPT);
done:
  if (rc) carnet__entity_free(e);
  carnet__free(st);
  carnet__mp_destroy(&m);
  return rc;
}
