/* engine/store/group.c - groups of merged customers, their survivor and their
 * merged view (engine/store/group.h). */
#include "engine/store/group.h"
#include "engine/base/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/model/schema.h"

static bool cell_true(const carnet__cell *c) {
  return c->vlen == 1 && c->val[0] == 0xc3;
}

static int id_cmp(const void *a, const void *b) {
  return memcmp(a, b, 16);
}

/* --- index keys ------------------------------------------------------------ */

static int push_key(carnet__keyset *ks, carnet__arena *a, uint8_t tag, const uint8_t *p1,
                    const uint8_t *p2, const uint8_t *p3) {
  if (ks->n >= CARNET__INDEX_KEYS_MAX) return 0; /* bounded, like every index key */
  size_t len = 1 + 16 + 16 + (p3 ? 16 : 0);
  uint8_t *k = carnet__arena_alloc(a, len);
  if (k == NULL) return CARNET_ENOMEM;
  k[0] = tag;
  memcpy(k + 1, p1, 16);
  memcpy(k + 17, p2, 16);
  if (p3) memcpy(k + 33, p3, 16);
  ks->keys[ks->n++] = (carnet_buf){k, len};
  return 0;
}

int carnet__index_merge_keys(const carnet__entity *e, carnet__arena *a, carnet__keyset *out) {
  int rc = 0;
  for (size_t i = 0; i < e->n && rc == 0; i++) {
    const carnet__cell *c = &e->cells[i];
    if (c->klen != 16 || !cell_true(c)) continue;
    if (c->field == CARNET_F_SAME_AS) {
      rc = push_key(out, a, CARNET__IDX_SAME_AS, c->key, e->id.b, NULL);
    } else if (c->field == CARNET_F_NOT_SAME || c->field == CARNET_F_REVIEW) {
      uint8_t tag = c->field == CARNET_F_NOT_SAME ? CARNET__IDX_NOT_SAME : CARNET__IDX_REVIEW;
      bool lo = memcmp(e->id.b, c->key, 16) < 0;
      rc = push_key(out, a, tag, lo ? e->id.b : c->key, lo ? c->key : e->id.b, e->id.b);
    }
  }
  return rc;
}

/* --- loading rows ---------------------------------------------------------- */

int carnet__load_row(carnet__stxn *st, const carnet_id *id, carnet__arena *a, carnet__entity *e,
                     bool *found) {
  carnet_buf row;
  *found = false;
  int rc = carnet__store_get(st, CARNET__T_ENTITIES, id->b, 16, &row);
  if (rc == CARNET_ENOTFOUND) return 0;
  if (rc) return rc;
  void *copy = carnet__arena_dup(a, row.base, row.len);
  if (copy == NULL) return CARNET_ENOMEM;
  if ((rc = carnet__row_decode(id, copy, row.len, e))) return rc;
  e->arena = a;
  *found = true;
  return 0;
}

int carnet__group_member_ok(carnet__stxn *st, const carnet_id *id, bool *ok) {
  carnet_buf row;
  *ok = false;
  int rc = carnet__store_get(st, CARNET__T_ENTITIES, id->b, 16, &row);
  if (rc == CARNET_ENOTFOUND) return 0;
  if (rc) return rc;
  /* The kind is a row's first byte (a positive fixint). */
  *ok = row.len > 0 && ((const uint8_t *)row.base)[0] == CARNET_KIND_CUSTOMER;
  return 0;
}

/* --- the group ------------------------------------------------------------- */

bool carnet__group_has(const carnet__group *g, const carnet_id *id) {
  return bsearch(id, g->ids, g->n, sizeof g->ids[0], id_cmp) != NULL;
}

static bool has_unsorted(const carnet_id *ids, size_t n, const uint8_t *id) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(ids[i].b, id, 16) == 0) return true;
  return false;
}

int carnet__group_sources(carnet__stxn *st, const carnet_id *id, carnet_id *out, size_t max,
                          size_t *n) {
  uint8_t key[17];
  carnet__scur *cur = NULL;
  carnet_buf k;
  *n = 0;
  key[0] = CARNET__IDX_SAME_AS;
  memcpy(key + 1, id->b, 16);
  int rc = carnet__store_cursor(st, CARNET__T_INDEX, &cur);
  if (rc) return rc;
  for (rc = carnet__store_seek(cur, key, sizeof key, &k, NULL); rc == 0 && *n < max;
       rc = carnet__store_next(cur, &k, NULL)) {
    if (k.len != 33 || memcmp(k.base, key, sizeof key) != 0) break;
    memcpy(out[(*n)++].b, (const uint8_t *)k.base + 17, 16);
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

/* Queue the live sources of the edges into `id`. */
static int in_edges(carnet__stxn *st, const carnet_id *id, carnet_id *queue, size_t *n) {
  carnet_id src[CARNET__GROUP_MAX];
  size_t ns;
  int rc = carnet__group_sources(st, id, src, CARNET__GROUP_MAX, &ns);
  for (size_t i = 0; rc == 0 && i < ns && *n < CARNET__GROUP_MAX; i++) {
    bool ok;
    if (has_unsorted(queue, *n, src[i].b)) continue;
    if ((rc = carnet__group_member_ok(st, &src[i], &ok)) == 0 && ok) queue[(*n)++] = src[i];
  }
  return rc;
}

int carnet__group_of(carnet__stxn *st, const carnet_id *id, carnet__group *g) {
  carnet_id q[CARNET__GROUP_MAX];
  /* Per member (in queue order): its out-edges as indexes into q, and its
   * "not the same" partners, for the survivor and review rules below. */
  struct {
    uint8_t out[CARNET__GROUP_MAX];
    size_t nout;
  } *edges = NULL;
  carnet_id *ns = NULL; /* not-same pairs: (member index, partner id) */
  size_t *ns_of = NULL, nns = 0, cap_ns = 0;
  size_t n = 1;
  int rc = 0;
  q[0] = *id;
  g->n = 1;
  g->ids[0] = *id;
  g->survivor = 0;
  g->review = false;
  bool ok;
  if ((rc = carnet__group_member_ok(st, id, &ok)) || !ok) return rc;
  edges = carnet__calloc(CARNET__GROUP_MAX, sizeof *edges);
  if (edges == NULL) return CARNET_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    carnet__arena a;
    carnet__entity e;
    bool found;
    carnet__arena_init(&a, 1024);
    carnet__entity_init(&e, &a);
    rc = carnet__load_row(st, &q[i], &a, &e, &found);
    for (size_t j = 0; rc == 0 && found && j < e.n; j++) {
      const carnet__cell *c = &e.cells[j];
      if (c->klen != 16 || !cell_true(c)) continue;
      if (c->field == CARNET_F_NOT_SAME) {
        if (nns == cap_ns) {
          size_t nc = cap_ns ? 2 * cap_ns : 8;
          carnet_id *nn = carnet__realloc(ns, nc * sizeof *nn);
          size_t *no = nn ? carnet__realloc(ns_of, nc * sizeof *no) : NULL;
          if (nn) ns = nn;
          if (no == NULL) {
            rc = CARNET_ENOMEM;
            break;
          }
          ns_of = no;
          cap_ns = nc;
        }
        memcpy(ns[nns].b, c->key, 16);
        ns_of[nns++] = i;
        continue;
      }
      if (c->field != CARNET_F_SAME_AS) continue;
      carnet_id t;
      memcpy(t.b, c->key, 16);
      size_t at = 0;
      while (at < n && memcmp(q[at].b, t.b, 16) != 0)
        at++;
      if (at == n) { /* a new member, if it is a live customer */
        bool live;
        if ((rc = carnet__group_member_ok(st, &t, &live))) break;
        if (!live || n == CARNET__GROUP_MAX) continue;
        q[n++] = t;
      }
      if (at != i) edges[i].out[edges[i].nout++] = (uint8_t)at;
    }
    carnet__entity_free(&e);
    carnet__arena_free(&a);
    if (rc == 0) rc = in_edges(st, &q[i], q, &n);
    if (rc) goto done;
  }
  /* Survivor: fewest distinct out-edges, then the smallest id. */
  size_t best = 0, best_out = SIZE_MAX;
  for (size_t i = 0; i < n; i++) {
    size_t d = 0;
    for (size_t j = 0; j < edges[i].nout; j++) {
      bool dup = false;
      for (size_t k = 0; k < j && !dup; k++)
        dup = edges[i].out[k] == edges[i].out[j];
      d += !dup;
    }
    if (d < best_out || (d == best_out && memcmp(q[i].b, q[best].b, 16) < 0)) {
      best = i;
      best_out = d;
    }
  }
  carnet_id surv = q[best];
  memcpy(g->ids, q, n * sizeof q[0]);
  g->n = n;
  qsort(g->ids, n, sizeof g->ids[0], id_cmp);
  for (size_t i = 0; i < n; i++)
    if (memcmp(g->ids[i].b, surv.b, 16) == 0) g->survivor = i;
  for (size_t i = 0; i < nns && !g->review; i++)
    g->review = n > 1 && carnet__group_has(g, &ns[i]);
done:
  carnet__free(edges);
  carnet__free(ns);
  carnet__free(ns_of);
  return rc;
}

/* --- the merged view ------------------------------------------------------- */

static bool own_field(uint16_t f) {
  return f == CARNET_F_REFCODE || f == CARNET_F_DELETED || f == CARNET_F_SAME_AS ||
         f == CARNET_F_NOT_SAME || f == CARNET_F_REVIEW;
}

int carnet__group_entity(carnet__stxn *st, const carnet__group *g, carnet__arena *a,
                         carnet__entity *out) {
  const carnet_id *surv = &g->ids[g->survivor];
  bool found;
  int rc;
  carnet__entity_init(out, a);
  if ((rc = carnet__load_row(st, surv, a, out, &found))) return rc;
  if (!found) return CARNET_ENOTFOUND;
  for (size_t m = 0; m < g->n; m++) {
    if (m == g->survivor) continue;
    carnet__entity e;
    carnet__entity_init(&e, a);
    rc = carnet__load_row(st, &g->ids[m], a, &e, &found);
    for (size_t j = 0; rc == 0 && found && j < e.n; j++) {
      bool changed;
      if (own_field(e.cells[j].field)) continue;
      rc = carnet__entity_merge(out, &e.cells[j], out->seq, &changed);
    }
    carnet__entity_free(&e);
    if (rc) return rc;
  }
  return 0;
}
