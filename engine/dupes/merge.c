/* engine/dupes/merge.c - merge, unmerge, and the decisions on candidate pairs
 * (carnet/merge.h). Every decision is a cell of a customer's id set
 * (SAME_AS, NOT_SAME, REVIEW), written through carnet_record_update like any other
 * field, so it is stamped, synced and merged by the one rule. */
#include "carnet/merge.h"
#include "engine/base/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/erase/erase.h"
#include "engine/store/group.h"
#include "engine/store/replica_int.h"

static int id_cmp(const void *a, const void *b) {
  return memcmp(a, b, 16);
}

static bool same_id(const carnet_id *a, const carnet_id *b) {
  return memcmp(a->b, b->b, 16) == 0;
}

/* A live (not deleted, not erased) customer, or a clear error. */
static int live_customer(carnet_txn *t, const carnet_id *id) {
  carnet__loaded l;
  char hex[CARNET_ID_HEX_LEN + 1];
  bool erased;
  carnet_id_format(id, hex);
  int rc = carnet__erased(t->st, id, &erased);
  if (rc) return rc;
  if (erased)
    return carnet__fail(t->r, CARNET_EPERM,
                        "customer %s was erased (GDPR): it can no longer be merged or decided on",
                        hex);
  rc = carnet__load(t->st, id, &l);
  if (rc == 0 && !l.existed) rc = carnet__fail(t->r, CARNET_ENOTFOUND, "no customer %s", hex);
  if (rc == 0 && l.e.kind != CARNET_KIND_CUSTOMER)
    rc = carnet__fail(t->r, CARNET_EINVAL, "%s is a %s, not a customer", hex,
                      carnet_kind_name((carnet_kind)l.e.kind));
  if (rc == 0) {
    const carnet__cell *del = carnet__entity_find(&l.e, CARNET_F_DELETED, NULL, 0);
    if (del && del->vlen == 1 && del->val[0] == 0xc3)
      rc = carnet__fail(t->r, CARNET_ENOTFOUND, "customer %s was deleted", hex);
  }
  carnet__loaded_free(&l);
  return rc;
}

/* Write one element of one id-set field of customer `on`. */
static int put_elem(carnet_txn *t, const carnet_id *on, carnet_field f, const carnet_id *elem,
                    bool present) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (p == NULL) return carnet__txn_fail(t, CARNET_ENOMEM);
  carnet_id_format(elem, hex);
  int rc = present ? carnet_patch_set(p, f, hex) : carnet_patch_remove(p, f, hex);
  if (rc == 0) rc = carnet_record_update(t, on, p);
  carnet_patch_free(p);
  return rc;
}

/* Whether customer `on` holds `elem` present in its set `f`. */
static int has_elem(carnet_txn *t, const carnet_id *on, carnet_field f, const carnet_id *elem,
                    bool *out) {
  carnet__loaded l;
  *out = false;
  int rc = carnet__load(t->st, on, &l);
  if (rc == 0) {
    const carnet__cell *c = carnet__entity_find(&l.e, f, elem->b, 16);
    *out = c && c->vlen == 1 && c->val[0] == 0xc3;
  }
  carnet__loaded_free(&l);
  return rc;
}

/* Remove a pair decision (kept on the smaller id) when it is there. */
static int clear_pair(carnet_txn *t, carnet_field f, const carnet_id *a, const carnet_id *b) {
  const carnet_id *lo = id_cmp(a, b) < 0 ? a : b, *hi = lo == a ? b : a;
  bool has;
  int rc = has_elem(t, lo, f, hi, &has);
  if (rc == 0 && has) rc = put_elem(t, lo, f, hi, false);
  return rc;
}

int carnet_merge_apply(carnet_txn *t, const carnet_id *keep, const carnet_id *other) {
  carnet__group g;
  char a[CARNET_ID_HEX_LEN + 1], b[CARNET_ID_HEX_LEN + 1];
  int rc;
  carnet__clear_err(t->r);
  if (t->sticky) return t->sticky;
  carnet_id_format(keep, a);
  carnet_id_format(other, b);
  if (same_id(keep, other))
    return carnet__fail(t->r, CARNET_EINVAL, "cannot merge customer %s with itself", a);
  if ((rc = live_customer(t, keep)) || (rc = live_customer(t, other))) return rc;
  if ((rc = carnet__group_of(t->st, keep, &g))) return rc;
  if (carnet__group_has(&g, other))
    return carnet__fail(t->r, CARNET_EEXIST, "%s and %s are already merged", a, b);
  /* The person decided: an earlier "not the same" or "later" goes. */
  if ((rc = clear_pair(t, CARNET_F_NOT_SAME, keep, other)) ||
      (rc = clear_pair(t, CARNET_F_REVIEW, keep, other)))
    return rc;
  return put_elem(t, other, CARNET_F_SAME_AS, keep, true);
}

/* The targets of the present SAME_AS edges of `id`. */
static int targets_of(carnet__stxn *st, const carnet_id *id, carnet_id *out, size_t max,
                      size_t *n) {
  carnet__loaded l;
  *n = 0;
  int rc = carnet__load(st, id, &l);
  for (size_t i = 0; rc == 0 && i < l.e.n && *n < max; i++) {
    const carnet__cell *c = &l.e.cells[i];
    if (c->field == CARNET_F_SAME_AS && c->klen == 16 && c->vlen == 1 && c->val[0] == 0xc3)
      memcpy(out[(*n)++].b, c->key, 16);
  }
  carnet__loaded_free(&l);
  return rc;
}

int carnet_merge_undo(carnet_txn *t, const carnet_id *id, const carnet_id *from) {
  carnet_id tg[CARNET__GROUP_MAX], src[CARNET__GROUP_MAX];
  size_t ntg, nsrc, removed = 0;
  char hex[CARNET_ID_HEX_LEN + 1];
  int rc;
  carnet__clear_err(t->r);
  if (t->sticky) return t->sticky;
  carnet_id_format(id, hex);
  if ((rc = targets_of(t->st, id, tg, CARNET__GROUP_MAX, &ntg)) ||
      (rc = carnet__group_sources(t->st, id, src, CARNET__GROUP_MAX, &nsrc)))
    return rc;
  for (size_t i = 0; rc == 0 && i < ntg; i++) {
    if (from && !same_id(from, &tg[i])) continue;
    rc = put_elem(t, id, CARNET_F_SAME_AS, &tg[i], false);
    removed++;
  }
  for (size_t i = 0; rc == 0 && i < nsrc; i++) {
    if (from && !same_id(from, &src[i])) continue;
    rc = put_elem(t, &src[i], CARNET_F_SAME_AS, id, false);
    removed++;
  }
  if (rc) return rc;
  if (removed == 0)
    return carnet__fail(t->r, CARNET_ENOTFOUND, "customer %s is not merged%s", hex,
                        from ? " with that customer" : "");
  return 0;
}

static int pair_decision(carnet_txn *t, const carnet_id *a, const carnet_id *b, carnet_field f) {
  carnet__group g;
  char ha[CARNET_ID_HEX_LEN + 1], hb[CARNET_ID_HEX_LEN + 1];
  int rc;
  carnet__clear_err(t->r);
  if (t->sticky) return t->sticky;
  carnet_id_format(a, ha);
  carnet_id_format(b, hb);
  if (same_id(a, b)) return carnet__fail(t->r, CARNET_EINVAL, "%s twice: give two customers", ha);
  if ((rc = live_customer(t, a)) || (rc = live_customer(t, b))) return rc;
  if ((rc = carnet__group_of(t->st, a, &g))) return rc;
  if (carnet__group_has(&g, b))
    return carnet__fail(t->r, CARNET_EINVAL,
                        "%s and %s are merged: undo it first with 'carnet unmerge'", ha, hb);
  const carnet_id *lo = id_cmp(a, b) < 0 ? a : b, *hi = lo == a ? b : a;
  if (f == CARNET_F_NOT_SAME && (rc = clear_pair(t, CARNET_F_REVIEW, a, b))) return rc;
  return put_elem(t, lo, f, hi, true);
}

int carnet_dupes_dismiss(carnet_txn *t, const carnet_id *a, const carnet_id *b) {
  return pair_decision(t, a, b, CARNET_F_NOT_SAME);
}

int carnet_dupes_set_aside(carnet_txn *t, const carnet_id *a, const carnet_id *b) {
  return pair_decision(t, a, b, CARNET_F_REVIEW);
}

int carnet_merge_group(carnet_replica *r, const carnet_id *id, carnet_id *survivor,
                       carnet_id *members, size_t max, size_t *n, bool *review) {
  carnet__stxn *st;
  carnet__group g;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = carnet__group_of(st, id, &g);
  carnet__read_end(r, st);
  if (rc) return rc;
  if (survivor) *survivor = g.ids[g.survivor];
  for (size_t i = 0; members && i < g.n && i < max; i++)
    members[i] = g.ids[i];
  *n = g.n;
  if (review) *review = g.review;
  return 0;
}

/* --- decisions on candidate pairs ------------------------------------------ */

typedef struct pairset {
  uint8_t (*p)[32]; /* lo(16) hi(16), sorted */
  size_t n, cap;
} pairset;

static int pair_cmp(const void *a, const void *b) {
  return memcmp(a, b, 32);
}

/* Every pair under an index tag ('x' or 'v': tag lo hi holder). */
static int load_pairs(carnet__stxn *st, uint8_t tag, pairset *ps) {
  carnet__scur *cur = NULL;
  carnet_buf k;
  int rc = carnet__store_cursor(st, CARNET__T_INDEX, &cur);
  if (rc) return rc;
  for (rc = carnet__store_seek(cur, &tag, 1, &k, NULL); rc == 0;
       rc = carnet__store_next(cur, &k, NULL)) {
    const uint8_t *kb = k.base;
    if (k.len != 49 || kb[0] != tag) break;
    if (ps->n == ps->cap) {
      size_t nc = ps->cap ? 2 * ps->cap : 64;
      void *np = carnet__realloc(ps->p, nc * 32);
      if (np == NULL) {
        rc = CARNET_ENOMEM;
        break;
      }
      ps->p = np;
      ps->cap = nc;
    }
    memcpy(ps->p[ps->n++], kb + 1, 32);
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

static bool pair_in(const pairset *ps, const carnet_id *a, const carnet_id *b) {
  uint8_t k[32];
  const carnet_id *lo = id_cmp(a, b) < 0 ? a : b, *hi = lo == a ? b : a;
  memcpy(k, lo->b, 16);
  memcpy(k + 16, hi->b, 16);
  return ps->n && bsearch(k, ps->p, ps->n, 32, pair_cmp) != NULL;
}

/* Survivors of the customers that take part in a merge, looked up once. */
typedef struct survmap {
  carnet_id *ids; /* sorted: every id that is a source or target of an edge */
  carnet_id *surv;
  bool *done;
  size_t n;
} survmap;

static int survmap_load(carnet__stxn *st, survmap *sm) {
  carnet__scur *cur = NULL;
  carnet_buf k;
  size_t cap = 0;
  uint8_t tag = CARNET__IDX_SAME_AS;
  int rc = carnet__store_cursor(st, CARNET__T_INDEX, &cur);
  if (rc) return rc;
  for (rc = carnet__store_seek(cur, &tag, 1, &k, NULL); rc == 0;
       rc = carnet__store_next(cur, &k, NULL)) {
    const uint8_t *kb = k.base;
    if (k.len != 33 || kb[0] != tag) break;
    if (sm->n + 2 > cap) {
      cap = cap ? 2 * cap : 64;
      carnet_id *ni = carnet__realloc(sm->ids, cap * sizeof *ni);
      if (ni == NULL) {
        rc = CARNET_ENOMEM;
        break;
      }
      sm->ids = ni;
    }
    memcpy(sm->ids[sm->n++].b, kb + 1, 16);
    memcpy(sm->ids[sm->n++].b, kb + 17, 16);
  }
  carnet__store_cursor_close(cur);
  if (rc != CARNET_ENOTFOUND && rc != 0) return rc;
  if (sm->n) qsort(sm->ids, sm->n, sizeof *sm->ids, id_cmp);
  size_t u = 0;
  for (size_t i = 0; i < sm->n; i++)
    if (u == 0 || !same_id(&sm->ids[u - 1], &sm->ids[i])) sm->ids[u++] = sm->ids[i];
  sm->n = u;
  sm->surv = carnet__calloc(u + 1, sizeof *sm->surv);
  sm->done = carnet__calloc(u + 1, sizeof *sm->done);
  return sm->surv && sm->done ? 0 : CARNET_ENOMEM;
}

static int survivor_of(carnet__stxn *st, survmap *sm, const carnet_id *id, carnet_id *out) {
  carnet_id *at = sm->n ? bsearch(id, sm->ids, sm->n, sizeof *sm->ids, id_cmp) : NULL;
  if (at == NULL) {
    *out = *id;
    return 0;
  }
  size_t i = (size_t)(at - sm->ids);
  if (!sm->done[i]) {
    carnet__group g;
    int rc = carnet__group_of(st, id, &g);
    if (rc) return rc;
    sm->surv[i] = g.ids[g.survivor];
    sm->done[i] = true;
  }
  *out = sm->surv[i];
  return 0;
}

int carnet_dupes_filter(carnet_replica *r, carnet_dupe *pairs, size_t *n) {
  carnet__stxn *st;
  pairset not_same = {0}, aside = {0};
  survmap sm = {0};
  size_t k = 0;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  if ((rc = load_pairs(st, CARNET__IDX_NOT_SAME, &not_same)) ||
      (rc = load_pairs(st, CARNET__IDX_REVIEW, &aside)) || (rc = survmap_load(st, &sm)))
    goto done;
  for (size_t i = 0; i < *n; i++) {
    carnet_dupe d = pairs[i];
    carnet_id sa, sb;
    if (pair_in(&not_same, &d.a, &d.b) || pair_in(&aside, &d.a, &d.b)) continue;
    if ((rc = survivor_of(st, &sm, &d.a, &sa)) || (rc = survivor_of(st, &sm, &d.b, &sb))) goto done;
    if (same_id(&sa, &sb)) continue;
    if (pair_in(&not_same, &sa, &sb) || pair_in(&aside, &sa, &sb)) continue;
    d.a = id_cmp(&sa, &sb) < 0 ? sa : sb;
    d.b = id_cmp(&sa, &sb) < 0 ? sb : sa;
    /* Pairs come best first: a later copy of a pair has a lower score. */
    bool seen = false;
    if (!same_id(&d.a, &pairs[i].a) || !same_id(&d.b, &pairs[i].b))
      for (size_t j = 0; j < k && !seen; j++)
        seen = same_id(&pairs[j].a, &d.a) && same_id(&pairs[j].b, &d.b);
    if (!seen) pairs[k++] = d;
  }
  *n = k;
done:
  carnet__free(not_same.p);
  carnet__free(aside.p);
  carnet__free(sm.ids);
  carnet__free(sm.surv);
  carnet__free(sm.done);
  carnet__read_end(r, st);
  return rc;
}

int carnet_dupes_review_list(carnet_replica *r, carnet_review_item **out, size_t *n) {
  carnet__stxn *st;
  pairset not_same = {0}, aside = {0};
  carnet_review_item *items = NULL;
  size_t cnt = 0;
  *out = NULL;
  *n = 0;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  if ((rc = load_pairs(st, CARNET__IDX_NOT_SAME, &not_same)) ||
      (rc = load_pairs(st, CARNET__IDX_REVIEW, &aside)))
    goto done;
  if (aside.n) qsort(aside.p, aside.n, 32, pair_cmp);
  items = carnet__calloc(not_same.n + aside.n + 1, sizeof *items);
  if (items == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  for (int pass = 0; pass < 2; pass++) {
    const pairset *ps = pass ? &not_same : &aside;
    for (size_t i = 0; i < ps->n; i++) {
      carnet_review_item it = {.why = pass ? CARNET_REVIEW_CONFLICT : CARNET_REVIEW_SET_ASIDE};
      carnet__group g;
      bool ok_a, ok_b;
      memcpy(it.a.b, ps->p[i], 16);
      memcpy(it.b.b, ps->p[i] + 16, 16);
      if (i && memcmp(ps->p[i], ps->p[i - 1], 32) == 0) continue; /* held by both */
      if ((rc = carnet__group_member_ok(st, &it.a, &ok_a)) ||
          (rc = carnet__group_member_ok(st, &it.b, &ok_b)))
        goto done;
      if (!ok_a || !ok_b) continue;
      if ((rc = carnet__group_of(st, &it.a, &g))) goto done;
      bool merged = carnet__group_has(&g, &it.b);
      it.survivor = g.ids[g.survivor];
      /* Set aside and since merged: decided. Not the same and merged: a
       * conflict to look at. */
      if (merged == (pass == 1)) items[cnt++] = it;
    }
  }
  *out = items;
  *n = cnt;
  items = NULL;
done:
  carnet__free(items);
  carnet__free(not_same.p);
  carnet__free(aside.p);
  carnet__read_end(r, st);
  return rc;
}
