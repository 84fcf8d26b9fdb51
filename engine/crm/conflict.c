/* engine/crm/conflict.c - the values that lost a merge (carnet/conflict.h,
 * engine/crm/conflict.h: invariants V1-V3, the stored record).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/arena.h"
#include "engine/base/mp.h"
#include "engine/crm/conflict.h"
#include "engine/crm/record.h"
#include "engine/crm/write.h"
#include "engine/model/schema.h"
#include "engine/store/entity_io.h"
#include "engine/store/peer_int.h"
#include "engine/store/replica_int.h"

#define REC_VERSION 1u

void carnet__conflicts_reset(carnet__conflicts *cf) {
  cf->n = 0;
}

void carnet__conflicts_free(carnet__conflicts *cf) {
  carnet__free(cf->v);
  cf->v = NULL;
  cf->n = cf->cap = 0;
}

static int push(carnet__conflicts *cf, const carnet__conflict_rec *c) {
  if (cf->n == cf->cap) {
    size_t cap = cf->cap ? cf->cap * 2 : 4;
    carnet__conflict_rec *v = carnet__realloc(cf->v, cap * sizeof *v);
    if (v == NULL) return CARNET_ENOMEM;
    cf->v = v;
    cf->cap = cap;
  }
  cf->v[cf->n++] = *c;
  return 0;
}

/* The fields whose lost values people are shown: the scalars of customers
 * and contacts, not the tombstone. */
static bool watched(uint8_t kind, const carnet__cell *c) {
  if (kind != CARNET_KIND_CUSTOMER && kind != CARNET_KIND_CONTACT) return false;
  if (c->klen != 0 || c->field == CARNET_F_DELETED) return false;
  const carnet_field_info *fi = carnet_field_get((carnet_field)c->field);
  return fi && fi->crdt == CARNET_CRDT_LWW;
}

/* An own edit that no peer has confirmed: known to no other replica. */
static int unconfirmed_own(carnet_txn *t, const carnet__cell *c, carnet__conflicts *cf, bool *out) {
  *out = false;
  if (c->origin != t->r->id) return 0;
  if (!cf->acked_known) {
    int rc = carnet__peer_acked_max(t->st, &cf->acked_max);
    if (rc) return rc;
    cf->acked_known = true;
  }
  *out = c->seq > cf->acked_max;
  return 0;
}

int carnet__conflict_check(carnet_txn *t, const carnet__entity *e, const carnet__cell *in,
                           carnet__conflicts *cf) {
  if (!watched(e->kind, in)) return 0;
  const carnet__cell *held = carnet__entity_find(e, in->field, NULL, 0);
  if (held == NULL || held->origin == in->origin) return 0;
  if (held->vlen == in->vlen && memcmp(held->val, in->val, in->vlen) == 0) return 0;
  bool own;
  int rc = unconfirmed_own(t, held, cf, &own);
  if (rc || !own) return rc; /* an incoming cell is never ours: S3 of protocol/session.c */
  /* V1: `held` was known to no other replica, so `in` was written without
   * seeing it. The merge (C1) decides which one is lost. */
  const carnet__cell *won = carnet__cell_merge(held, in), *lost = won == held ? in : held;
  carnet__conflict_rec c = {.field = in->field,
                            .vlen = lost->vlen,
                            .val = lost->val,
                            .won_vlen = won->vlen,
                            .won_val = won->val,
                            .lost_hlc = lost->hlc,
                            .lost_origin = lost->origin,
                            .won_hlc = won->hlc,
                            .won_origin = won->origin,
                            .noted_ms = carnet__now_ms(t->r)};
  return push(cf, &c);
}

/* --- the stored record ------------------------------------------------------ */

/* A scalar field's value: one msgpack nil, bool, integer, str or bin. */
static bool scalar(carnet_buf b) {
  msgpack_object o, elems[4];
  if (!carnet__mp_obj1(b.base, b.len, &o, elems)) return false;
  return o.type == MSGPACK_OBJECT_NIL || o.type == MSGPACK_OBJECT_BOOLEAN ||
         o.type == MSGPACK_OBJECT_POSITIVE_INTEGER || o.type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
         o.type == MSGPACK_OBJECT_STR || o.type == MSGPACK_OBJECT_BIN;
}

int carnet__conflict_decode(carnet_buf v, carnet__conflict_rec **out, size_t *n) {
  carnet__mp m;
  uint64_t ver, cnt;
  carnet__conflict_rec *es = NULL;
  *out = NULL;
  *n = 0;
  int rc = carnet__mp_init(&m, v.base, v.len);
  if (rc) return rc;
  if ((rc = carnet__mp_uint(&m, &ver)) || (rc = carnet__mp_uint(&m, &cnt))) goto done;
  if (ver != REC_VERSION || cnt == 0 || cnt > CARNET__CONFLICTS_PER_ENTITY) {
    rc = CARNET_ECORRUPT;
    goto done;
  }
  if ((es = carnet__calloc(cnt, sizeof *es)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  for (uint64_t i = 0; i < cnt; i++) {
    carnet__conflict_rec *e = &es[i];
    uint64_t field;
    carnet_buf lost, won;
    if ((rc = carnet__mp_uint(&m, &field)) || (rc = carnet__mp_skip(&m, &lost)) ||
        (rc = carnet__mp_skip(&m, &won)) || (rc = carnet__mp_uint(&m, &e->lost_hlc)) ||
        (rc = carnet__mp_uint(&m, &e->lost_origin)) || (rc = carnet__mp_uint(&m, &e->won_hlc)) ||
        (rc = carnet__mp_uint(&m, &e->won_origin)) || (rc = carnet__mp_uint(&m, &e->noted_ms)))
      goto done;
    if (field == 0 || field >= CARNET_F_MAX_ || lost.len > CARNET__VALUE_MAX ||
        won.len > CARNET__VALUE_MAX || e->noted_ms == 0 || !scalar(lost) || !scalar(won)) {
      rc = CARNET_ECORRUPT;
      goto done;
    }
    e->field = (uint16_t)field;
    e->val = lost.base;
    e->vlen = (uint32_t)lost.len;
    e->won_val = won.base;
    e->won_vlen = (uint32_t)won.len;
  }
  if (!carnet__mp_done(&m)) rc = CARNET_ECORRUPT;
done:
  carnet__mp_destroy(&m);
  if (rc) {
    carnet__free(es);
    es = NULL;
    cnt = 0;
  }
  *out = es;
  *n = rc ? 0 : (size_t)cnt;
  return rc;
}

static bool expired(const carnet__conflict_rec *c, uint64_t now) {
  return now > c->noted_ms && now - c->noted_ms > CARNET_CONFLICT_KEEP_MS;
}

static bool same(const carnet__conflict_rec *a, const carnet__conflict_rec *b) {
  return a->field == b->field && a->lost_hlc == b->lost_hlc && a->lost_origin == b->lost_origin;
}

void carnet__conflict_encode(const carnet__conflict_rec *cs, size_t n, msgpack_sbuffer *sb) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  msgpack_pack_uint8(&pk, REC_VERSION);
  msgpack_pack_uint64(&pk, n);
  for (size_t i = 0; i < n; i++) {
    const carnet__conflict_rec *c = &cs[i];
    msgpack_pack_uint16(&pk, c->field);
    msgpack_sbuffer_write(sb, (const char *)c->val, c->vlen);
    msgpack_sbuffer_write(sb, (const char *)c->won_val, c->won_vlen);
    msgpack_pack_uint64(&pk, c->lost_hlc);
    msgpack_pack_uint64(&pk, c->lost_origin);
    msgpack_pack_uint64(&pk, c->won_hlc);
    msgpack_pack_uint64(&pk, c->won_origin);
    msgpack_pack_uint64(&pk, c->noted_ms);
  }
}

int carnet__conflict_save(carnet_txn *t, const carnet_id *id, carnet__conflicts *cf) {
  carnet_buf v;
  carnet__conflict_rec *old = NULL, *all = NULL;
  size_t nold = 0, n = 0;
  msgpack_sbuffer sb;
  uint8_t *copy = NULL;
  uint64_t now = carnet__now_ms(t->r);
  int rc;
  if (cf->n == 0) return 0;
  msgpack_sbuffer_init(&sb);
  rc = carnet__store_get(t->st, CARNET__T_CONFLICTS, id->b, 16, &v);
  if (rc == 0) {
    /* The opened value lives until the next sealed get: keep a copy. */
    if ((copy = carnet__malloc(v.len ? v.len : 1)) == NULL) {
      rc = CARNET_ENOMEM;
      goto done;
    }
    memcpy(copy, v.base, v.len);
    if ((rc = carnet__conflict_decode((carnet_buf){copy, v.len}, &old, &nold))) goto done;
  } else if (rc != CARNET_ENOTFOUND) {
    goto done;
  }
  if ((all = carnet__calloc(nold + cf->n, sizeof *all)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < nold; i++)
    if (!expired(&old[i], now)) all[n++] = old[i];
  for (size_t i = 0; i < cf->n; i++) {
    size_t j = 0;
    while (j < n && !same(&all[j], &cf->v[i]))
      j++;
    if (j == n) all[n++] = cf->v[i]; /* else the same loss met again (a batch sent twice) */
  }
  size_t first = n > CARNET__CONFLICTS_PER_ENTITY ? n - CARNET__CONFLICTS_PER_ENTITY : 0; /* V2 */
  carnet__conflict_encode(all + first, n - first, &sb);
  rc = sb.data ? carnet__store_put(t->st, CARNET__T_CONFLICTS, id->b, 16, sb.data, sb.size, 0)
               : CARNET_ENOMEM;
done:
  msgpack_sbuffer_destroy(&sb);
  carnet__free(all);
  carnet__free(old);
  if (copy) {
    sodium_memzero(copy, v.len);
    carnet__free(copy);
  }
  carnet__conflicts_reset(cf);
  return rc;
}

int carnet__conflict_erase(carnet__stxn *st, const carnet_id *id) {
  int rc = carnet__store_del(st, CARNET__T_CONFLICTS, id->b, 16);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

/* --- reading and restoring (carnet/conflict.h) ------------------------------ */

static void conflict_id(const carnet_id *id, const carnet__conflict_rec *c,
                        char out[CARNET_CONFLICT_ID_LEN + 1]) {
  uint8_t in[34], h[CARNET_CONFLICT_ID_LEN / 2];
  memcpy(in, id->b, 16);
  in[16] = (uint8_t)(c->field >> 8);
  in[17] = (uint8_t)c->field;
  carnet__be64_put(in + 18, c->lost_hlc);
  carnet__be64_put(in + 26, c->lost_origin);
  crypto_generichash(h, sizeof h, in, sizeof in, NULL, 0);
  sodium_bin2hex(out, CARNET_CONFLICT_ID_LEN + 1, h, sizeof h);
}

static int render(carnet__arena *a, const uint8_t *val, size_t len, const char **out) {
  msgpack_object o, elems[4];
  *out = NULL;
  if (val == NULL) return 0;
  if (!carnet__mp_obj1(val, len, &o, elems)) return CARNET_ECORRUPT;
  return carnet__render_scalar(a, &o, out);
}

typedef struct walk {
  const char *cid; /* restore: the one wanted */
  uint64_t since_ms, now;
  carnet_conflict_cb cb;
  void *data;
  /* restore: what was found (copies) */
  bool found;
  carnet_conflict hit;
  uint8_t *val;
  size_t vlen;
} walk;

/* Every live conflict of one record: `v` is a copy the caller owns. */
static int each_of(carnet__stxn *st, const carnet_id *id, carnet_buf v, walk *w) {
  carnet__conflict_rec *cs = NULL;
  size_t n = 0;
  carnet__loaded l;
  carnet__arena a;
  bool loaded = false;
  int rc = carnet__conflict_decode(v, &cs, &n);
  carnet__arena_init(&a, 1024);
  if (rc) goto done;
  if ((rc = carnet__load(st, id, &l))) goto done;
  loaded = true;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const carnet__conflict_rec *c = &cs[i];
    if (expired(c, w->now) || c->noted_ms < w->since_ms) continue;
    carnet_conflict out = {.id = *id,
                           .kind = (carnet_kind)l.e.kind,
                           .field = (carnet_field)c->field,
                           .lost_at = c->lost_hlc,
                           .lost_by = c->lost_origin,
                           .won_at = c->won_hlc,
                           .won_by = c->won_origin,
                           .noted_ms = c->noted_ms};
    conflict_id(id, c, out.cid);
    if (w->cid && strcmp(w->cid, out.cid) != 0) continue;
    const carnet__cell *cur = carnet__entity_find(&l.e, c->field, NULL, 0);
    out.restored = cur && cur->vlen == c->vlen && memcmp(cur->val, c->val, c->vlen) == 0;
    if ((rc = render(&a, c->val, c->vlen, &out.lost)) ||
        (rc = render(&a, c->won_val, c->won_vlen, &out.won)) ||
        (rc = render(&a, cur ? cur->val : NULL, cur ? cur->vlen : 0, &out.current)))
      break;
    if (w->cid) { /* restore: keep a copy of the value, and stop */
      if ((w->val = carnet__malloc(c->vlen)) == NULL) {
        rc = CARNET_ENOMEM;
        break;
      }
      memcpy(w->val, c->val, c->vlen);
      w->vlen = c->vlen;
      w->hit = out;
      w->hit.lost = w->hit.won = w->hit.current = NULL;
      w->found = true;
      rc = 1; /* stop */
      break;
    }
    rc = w->cb(&out, w->data);
  }
done:
  if (loaded) carnet__loaded_free(&l);
  carnet__arena_free(&a);
  carnet__free(cs);
  return rc;
}

/* Walk the records' conflicts (of `id`, or all). Returns what each_of
 * returns to stop, or 0. */
static int walk_all(carnet_replica *r, const carnet_id *id, walk *w) {
  carnet__stxn *st;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  uint8_t *copy = NULL;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  w->now = carnet__now_ms(r);
  if (!carnet__store_has(st, CARNET__T_CONFLICTS)) goto done;
  if ((rc = carnet__store_cursor(st, CARNET__T_CONFLICTS, &cur))) goto done;
  for (rc = carnet__store_seek(cur, id ? id->b : NULL, id ? 16 : 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet_id eid;
    if (k.len != 16) {
      rc = CARNET_ECORRUPT;
      break;
    }
    memcpy(eid.b, k.base, 16);
    if (id && memcmp(eid.b, id->b, 16) != 0) break;
    /* The cursor's value lives until it moves; loading the record reads
     * with a get of its own, but a copy keeps this independent of that. */
    if ((copy = carnet__malloc(v.len ? v.len : 1)) == NULL) {
      rc = CARNET_ENOMEM;
      break;
    }
    memcpy(copy, v.base, v.len);
    rc = each_of(st, &eid, (carnet_buf){copy, v.len}, w);
    sodium_memzero(copy, v.len);
    carnet__free(copy);
    copy = NULL;
    if (rc) break;
  }
  if (rc == CARNET_ENOTFOUND) rc = 0;
done:
  carnet__store_cursor_close(cur);
  carnet__read_end(r, st);
  return rc;
}

int carnet_conflict_list(carnet_replica *r, const carnet_id *id, uint64_t since_ms,
                         carnet_conflict_cb cb, void *data) {
  walk w = {.since_ms = since_ms, .cb = cb, .data = data};
  carnet__clear_err(r);
  if (cb == NULL) return carnet__fail(r, CARNET_EMISUSE, "no callback");
  return walk_all(r, id, &w);
}

/* carnet__write's callback: the losing value, as it was, in its field. */
static int put_lost(carnet__writer *wr, void *arg) {
  walk *w = arg;
  msgpack_packer *pk = carnet__writer_packer(wr);
  if (pk->callback(pk->data, (const char *)w->val, w->vlen) != 0) return CARNET_ENOMEM;
  return carnet__writer_put(wr, w->hit.field, NULL, 0);
}

int carnet_conflict_restore(carnet_replica *r, const char *cid, carnet_conflict *out) {
  walk w = {.cid = cid};
  carnet_txn *t = NULL;
  int rc;
  carnet__clear_err(r);
  if (out) memset(out, 0, sizeof *out);
  if (cid == NULL || strlen(cid) != CARNET_CONFLICT_ID_LEN ||
      strspn(cid, "0123456789abcdef") != CARNET_CONFLICT_ID_LEN)
    return carnet__fail(r, CARNET_EINVAL,
                        "'%s' is not a conflict id (16 hex characters, from 'carnet conflicts')",
                        cid ? cid : "(null)");
  rc = walk_all(r, NULL, &w);
  if (rc < 0) goto done;
  if (!w.found) {
    rc = carnet__fail(r, CARNET_ENOTFOUND, "no conflict %s on this replica (past its %u days?)",
                      cid, (unsigned)(CARNET_CONFLICT_KEEP_MS / (24u * 3600u * 1000u)));
    goto done;
  }
  if (w.hit.restored) {
    rc = carnet__fail(r, CARNET_EEXIST, "the field %s holds that value already",
                      carnet_field_get(w.hit.field)->name);
    goto done;
  }
  if ((rc = carnet_txn_begin(r, &t))) goto done;
  if ((rc = carnet__write(t, &w.hit.id, w.hit.kind, NULL, 0, put_lost, &w))) goto done;
  rc = carnet_txn_commit(t);
  t = NULL;
  if (rc == 0 && out) *out = w.hit;
done:
  if (t) carnet_txn_abort(t);
  if (w.val) sodium_memzero(w.val, w.vlen);
  carnet__free(w.val);
  return rc;
}
