/* engine/changes.c - the change API: streaming changes since a sequence
 * number, applying a batch, watermarks, and the state digest.
 *
 *   sender                                   receiver
 *   changes index (seq -> id), one entry     watermark[sender] = w
 *   per entity at its greatest seq (E1)
 *        <------------- "since w" -------------
 *   batch (w, upto]: each entity with an
 *   entry in the range, its cells > w  ------>  decode + validate all (A1)
 *                                               one transaction: merge
 *                                               cells (C1), save rows,
 *                                               raise clock, and move
 *                                               watermark to upto (A2)
 *
 * Invariant A1: nothing of a batch is applied unless all of it decodes and
 * validates (a valid MAC proves who sent bytes, not that they are valid).
 * Invariant A2: the watermark only moves forward, and only when the batch
 * starts at or before it: a batch that overtakes a lost one must not make
 * the receiver skip the lost one. Re-applying a batch changes nothing.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/changes.h"
#include "carnet/error.h"
#include "engine/batch.h"
#include "engine/entity_io.h"
#include "engine/hlc.h"
#include "engine/replica_int.h"

int carnet_changes_since(carnet_replica *r, uint64_t since, size_t max_bytes, carnet_buf *out,
                         carnet_batch_info *info) {
  carnet__stxn *st = NULL;
  carnet__scur *cur = NULL;
  carnet__benc *enc = malloc(sizeof *enc);
  carnet_batch_info bi = {.sender = r->id, .since = since, .upto = since};
  carnet_buf k, v;
  uint8_t from[8];
  int rc;
  out->base = NULL;
  out->len = 0;
  if (enc == NULL) return CARNET_ENOMEM;
  carnet__benc_init(enc);
  if (max_bytes == 0 || max_bytes > CARNET_BATCH_BYTES_MAX / 2) max_bytes = CARNET_BATCH_BYTES_MAX / 2;
  if ((rc = carnet__read_begin(r, &st))) goto done;
  if ((rc = carnet__store_cursor(st, CARNET__T_CHANGES, &cur))) goto done;
  carnet__be64_put(from, since + 1);
  for (rc = carnet__store_seek(cur, from, 8, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    if (k.len != 8 || v.len != 16) {
      rc = carnet__fail(r, CARNET_ECORRUPT, "damaged entry in the change index");
      goto done;
    }
    if (enc->body.size >= max_bytes) {
      bi.more = true;
      break;
    }
    carnet_id id;
    carnet_buf row;
    carnet__entity e;
    memcpy(id.b, v.base, 16);
    if ((rc = carnet__store_get(st, CARNET__T_ENTITIES, id.b, 16, &row))) {
      if (rc == CARNET_ENOTFOUND) rc = carnet__fail(r, CARNET_ECORRUPT, "change index points to "
                                                                        "a missing entity");
      goto done;
    }
    carnet__entity_init(&e, NULL);
    if ((rc = carnet__row_decode(&id, row.base, row.len, &e))) {
      carnet__fail(r, rc, "a stored record is damaged");
      goto done;
    }
    rc = carnet__benc_entity(enc, &e, since);
    carnet__entity_free(&e);
    if (rc == CARNET_ELIMIT) {
      bi.more = true;
      break;
    }
    if (rc) goto done;
    bi.upto = carnet__be64_get(k.base);
  }
  if (rc && rc != CARNET_ENOTFOUND) goto done;
  bi.entities = enc->nents;
  bi.cells = enc->ncells;
  rc = carnet__benc_finish(enc, &bi, out);
  if (rc == 0 && info) *info = bi;
done:
  carnet__store_cursor_close(cur);
  if (st) carnet__read_end(r, st);
  carnet__benc_destroy(enc);
  free(enc);
  return rc;
}

int carnet_changes_inspect(const void *batch, size_t len, carnet_batch_info *info) {
  carnet__batch b;
  int rc = carnet__batch_decode(batch, len, &b);
  if (rc == 0 && info) *info = b.info;
  carnet__batch_free(&b);
  return rc;
}

static int mark_key(uint8_t key[8], uint64_t peer) {
  carnet__be64_put(key, peer);
  return 0;
}

static int read_mark(carnet__stxn *st, uint64_t peer, uint64_t *out) {
  uint8_t key[8];
  carnet_buf v;
  mark_key(key, peer);
  int rc = carnet__store_get(st, CARNET__T_MARKS, key, 8, &v);
  *out = 0;
  if (rc == CARNET_ENOTFOUND) return 0;
  if (rc) return rc;
  if (v.len != 8) return CARNET_ECORRUPT;
  *out = carnet__be64_get(v.base);
  return 0;
}

int carnet_watermark(carnet_replica *r, uint64_t peer, uint64_t *out) {
  carnet__stxn *st;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = read_mark(st, peer, out);
  carnet__read_end(r, st);
  return rc;
}

/* Merge one entity of a batch; `*applied` counts the cells that won. */
static int apply_entity(carnet_txn *t, const carnet__bentity *be, msgpack_sbuffer *sb,
                        uint32_t *applied) {
  carnet__loaded l;
  int rc = carnet__load(t->st, &be->id, &l);
  if (rc) goto done;
  if (l.existed && l.e.kind != be->kind) {
    rc = CARNET_EPROTO; /* ids are unique: a kind that changes is forged */
    goto done;
  }
  l.e.kind = be->kind;
  uint64_t seq = t->seq + 1;
  bool any = false;
  for (size_t i = 0; i < be->n; i++) {
    bool changed;
    if ((rc = carnet__entity_merge(&l.e, &be->cells[i], seq, &changed))) goto done;
    if (changed) {
      any = true;
      (*applied)++;
    }
  }
  if (any) {
    t->seq = seq;
    rc = carnet__save(t->st, &l, sb);
  }
done:
  carnet__loaded_free(&l);
  return rc;
}

int carnet_changes_apply(carnet_replica *r, const void *batch, size_t len, carnet_batch_info *info,
                         uint32_t *applied) {
  carnet__batch b;
  carnet_txn *t = NULL;
  msgpack_sbuffer sb;
  uint32_t n = 0;
  uint64_t mark;
  int rc;
  msgpack_sbuffer_init(&sb);
  carnet__clear_err(r);
  if (applied) *applied = 0;
  if ((rc = carnet__batch_decode(batch, len, &b))) {
    carnet__fail(r, rc, "malformed change batch (check at engine/batch.c:%d); nothing applied",
                 b.bad_line);
    goto done;
  }
  if (!carnet__hlc_plausible(b.max_hlc, carnet__now_ms(r))) {
    rc = carnet__fail(r, CARNET_EPROTO,
                      "change batch from %016llx carries a timestamp more than 7 days ahead of "
                      "this machine's clock; check the clocks; nothing applied",
                      (unsigned long long)b.info.sender);
    goto done;
  }
  if ((rc = carnet_txn_begin(r, &t))) goto done;
  for (uint32_t i = 0; i < b.info.entities && rc == 0; i++)
    rc = apply_entity(t, &b.ents[i], &sb, &n);
  if (rc) {
    carnet__fail(r, rc, rc == CARNET_EPROTO ? "change batch changes the kind of an entity; "
                                              "nothing applied"
                                            : "cannot apply the change batch: %s",
                 carnet__store_why(r->store));
    goto done;
  }
  t->hlc = carnet__hlc_recv(t->hlc, b.max_hlc);
  if (b.info.sender != r->id) {
    if ((rc = read_mark(t->st, b.info.sender, &mark))) goto done;
    if (b.info.since <= mark && b.info.upto > mark) {
      uint8_t key[8], val[8];
      mark_key(key, b.info.sender);
      carnet__be64_put(val, b.info.upto);
      if ((rc = carnet__store_put(t->st, CARNET__T_MARKS, key, 8, val, 8, 0))) goto done;
    }
  }
  rc = carnet_txn_commit(t);
  t = NULL;
  if (rc == 0) {
    if (info) *info = b.info;
    if (applied) *applied = n;
  }
done:
  if (t) carnet_txn_abort(t);
  msgpack_sbuffer_destroy(&sb);
  carnet__batch_free(&b);
  return rc;
}

static void hash_u64(crypto_generichash_state *h, uint64_t v) {
  uint8_t b[8];
  carnet__be64_put(b, v);
  crypto_generichash_update(h, b, 8);
}

int carnet_state_digest(carnet_replica *r, uint8_t out[32]) {
  carnet__stxn *st;
  carnet__scur *cur = NULL;
  crypto_generichash_state h;
  carnet_buf k, v;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  crypto_generichash_init(&h, NULL, 0, 32);
  if ((rc = carnet__store_cursor(st, CARNET__T_ENTITIES, &cur))) goto done;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet__entity e;
    carnet_id id;
    if (k.len != 16) {
      rc = CARNET_ECORRUPT;
      goto done;
    }
    memcpy(id.b, k.base, 16);
    carnet__entity_init(&e, NULL);
    if ((rc = carnet__row_decode(&id, v.base, v.len, &e))) goto done;
    crypto_generichash_update(&h, id.b, 16);
    hash_u64(&h, e.kind);
    hash_u64(&h, e.n);
    for (size_t i = 0; i < e.n; i++) {
      const carnet__cell *c = &e.cells[i];
      hash_u64(&h, c->field);
      hash_u64(&h, c->klen);
      if (c->klen) crypto_generichash_update(&h, c->key, c->klen);
      hash_u64(&h, c->vlen);
      crypto_generichash_update(&h, c->val, c->vlen);
      hash_u64(&h, c->hlc);
      hash_u64(&h, c->origin);
    }
    carnet__entity_free(&e);
  }
  if (rc == CARNET_ENOTFOUND) rc = 0;
done:
  if (rc == 0) crypto_generichash_final(&h, out, 32);
  carnet__store_cursor_close(cur);
  carnet__read_end(r, st);
  if (rc == CARNET_ECORRUPT) carnet__fail(r, rc, "a stored record is damaged");
  return rc;
}
