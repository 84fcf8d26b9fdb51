/* engine/sync/changes.c - the change API: streaming changes since a sequence
 * number, applying a batch, watermarks, and the state digest.
 *
 *   sender                                   receiver
 *   change index (seq -> id), one entry      mark[sender] = (base, after)
 *   per entity at its greatest seq (E1)
 *        <--------- "from (base, after)" ---------
 *   batch: each entity with an entry in
 *   (after, upto], its cells > base   ------>  decode + validate all (A1)
 *   ...more batches, after = previous upto      one transaction: merge
 *   last batch: more = false                    cells (C1), save rows,
 *                                               raise clock, move the
 *                                               mark (A2): after = upto,
 *                                               and at the end of the
 *                                               stream base = after = upto
 *
 * Invariant A1: nothing of a batch is applied unless all of it decodes and
 * validates (a valid MAC proves who sent bytes, not that they are valid).
 * Invariant A2: the mark only moves forward, and only when the batch
 * continues it: a batch that overtakes a lost one must not make the
 * receiver skip the lost one. `base` moves only at the end of a stream, so
 * an entity edited while a stream is under way (its entry moves past the
 * window) still gets its older cells (carnet_mark in changes.h). Re-applying
 * a batch changes nothing.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/changes.h"
#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/check.h"
#include "engine/base/mp.h"
#include "engine/crm/conflict.h"
#include "engine/erase/erase.h"
#include "engine/model/batch.h"
#include "engine/model/hlc.h"
#include "engine/model/know.h"
#include "engine/store/entity_io.h"
#include "engine/store/meta.h"
#include "engine/store/replica_int.h"
#include "engine/sync/changes_int.h"

/* Room kept for the batch header (version, sender, base, after, upto, more). */
#define HEADER_BYTES_MAX 48

/* Whether a stored row holds a cell a stream from `base` sends (seq > base,
 * origin not skip_origin), read from the row's stamp table alone: every
 * stamp of a row is used by a cell, and when the row's sequence number is
 * past the entry's `entry` (a stale entry). False only when the header
 * reads well and says so; the full decode that follows otherwise reports damage. A
 * session's reverse stream after a bulk receive is mostly such rows (all
 * their cells come from the peer), and skipping them saves decoding them. */
static bool row_has_news(const carnet_buf *row, uint64_t entry, uint64_t base, uint64_t skip_origin,
                         const carnet__know *peer_know) {
  carnet__mp m;
  uint64_t kind, seq, ns, hlc, origin, cseq;
  bool news = true;
  carnet__mp_init(&m, row->base, row->len);
  if (carnet__mp_uint(&m, &kind) || carnet__mp_uint(&m, &seq) || carnet__mp_uint(&m, &ns) ||
      ns > CARNET__ENTITY_CELLS_MAX)
    goto done;
  /* A document may be one the law keeps (carnet__erase_kept): whether its
   * cells may be left out is for the full decode to say. */
  if (kind == CARNET_KIND_DOCUMENT) peer_know = NULL;
  /* A stale entry (engine/store/changelog.h L1): the entity goes with its
   * live one, further on. */
  if (seq <= base || seq > entry) {
    news = false;
    goto done;
  }
  if (skip_origin == 0 && peer_know == NULL) goto done;
  news = false;
  for (uint64_t i = 0; i < ns && !news; i++) {
    if (carnet__mp_uint(&m, &hlc) || carnet__mp_uint(&m, &origin) || carnet__mp_uint(&m, &cseq)) {
      news = true; /* let the full decode say what is wrong */
      break;
    }
    if (cseq > base && origin != skip_origin && !carnet__know_has(peer_know, origin, hlc))
      news = true;
  }
done:
  carnet__mp_destroy(&m);
  return news;
}

int carnet_changes_encode(carnet_replica *r, const carnet_mark *from, size_t max_bytes,
                          carnet_buf *out, carnet_batch_info *info) {
  return carnet__changes_since(r, from, max_bytes, 0, NULL, NULL, out, info);
}

int carnet__changes_since(carnet_replica *r, const carnet_mark *from, size_t max_bytes,
                          uint64_t skip_origin, const carnet__know *peer_know,
                          carnet__know *snap_know, carnet_buf *out, carnet_batch_info *info) {
  carnet__stxn *st = NULL;
  carnet__scur *cur = NULL;
  carnet__benc *enc = carnet__malloc(sizeof *enc);
  carnet_mark m = from ? *from : (carnet_mark){0, 0};
  carnet_batch_info bi = {.sender = r->id, .base = m.base, .after = m.after, .upto = m.after};
  carnet_buf k, v;
  uint8_t key[8];
  int rc;
  out->base = NULL;
  out->len = 0;
  if (enc == NULL) return CARNET_ENOMEM;
  carnet__benc_init(enc);
  if (m.after < m.base) {
    rc = carnet__fail(r, CARNET_EMISUSE, "a change mark with after < base");
    goto done;
  }
  if (max_bytes == 0 || max_bytes > CARNET_BATCH_BYTES_MAX / 2)
    max_bytes = CARNET_BATCH_BYTES_MAX / 2;
  max_bytes = max_bytes > 2 * HEADER_BYTES_MAX ? max_bytes - HEADER_BYTES_MAX : HEADER_BYTES_MAX;
  if ((rc = carnet__read_begin(r, &st))) goto done;
  if ((rc = carnet__store_cursor(st, CARNET__T_CHANGES, &cur))) goto done;
  carnet__be64_put(key, m.after + 1);
  for (rc = carnet__store_seek(cur, key, 8, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet_id id;
    carnet_buf row;
    carnet__entity e;
    if (k.len != 8 || (v.len != 16 && v.len != CARNET__CHANGE_ENTRY_LEN)) {
      rc = carnet__fail(r, CARNET_ECORRUPT, "damaged entry in the change index");
      goto done;
    }
    memcpy(id.b, v.base, 16);
    if (skip_origin && v.len == CARNET__CHANGE_ENTRY_LEN &&
        carnet__be64_get((const uint8_t *)v.base + 16) == skip_origin &&
        carnet__be64_get((const uint8_t *)v.base + 24) <= m.base) {
      bi.upto = carnet__be64_get(k.base); /* every cell after base is the peer's own */
      continue;
    }
    if ((rc = carnet__store_get(st, CARNET__T_ENTITIES, id.b, 16, &row))) {
      if (rc == CARNET_ENOTFOUND)
        rc = carnet__fail(r, CARNET_ECORRUPT, "change index points to a missing entity");
      goto done;
    }
    if (!row_has_news(&row, carnet__be64_get(k.base), m.base, skip_origin, peer_know)) {
      bi.upto = carnet__be64_get(k.base);
      continue;
    }
    carnet__entity_init(&e, NULL);
    if ((rc = carnet__row_decode(&id, row.base, row.len, &e))) {
      carnet__fail(r, rc, "a stored record is damaged");
      goto done;
    }
    carnet__benc_pos pos = carnet__benc_tell(enc);
    /* A kept document of an erased owner goes whole (K1's exception): the
     * peer may have dropped any of its cells, its own included, when it
     * erased the document before it was validated, and it claims them
     * since; so every cell goes, even those sent before (base). */
    bool whole = (skip_origin || peer_know) && carnet__erase_send_whole(st, &e);
    rc = carnet__benc_entity(enc, &e, whole ? 0 : m.base, whole ? 0 : skip_origin,
                             whole ? NULL : peer_know);
    carnet__entity_free(&e);
    /* The entity that does not fit goes first in the next batch, unless it
     * is alone: one entity larger than the limit still travels. */
    if (rc == CARNET_ELIMIT || (rc == 0 && enc->body.size > max_bytes && pos.nents > 0)) {
      carnet__benc_rewind(enc, pos);
      bi.more = true;
      rc = 0;
      break;
    }
    if (rc) goto done;
    bi.upto = carnet__be64_get(k.base);
  }
  if (rc && rc != CARNET_ENOTFOUND) goto done;
  rc = 0;
  /* The end of the stream covers the sequence counter, not only the last
   * entry: an erasure deletes entries (engine/erase/erase.c), and a stream that
   * ended below the counter would be started again and again by a session
   * that compares the two. Nothing lies between the last entry and the
   * counter in this snapshot, so the mark may move past it. */
  if (!bi.more) {
    uint64_t seq = 0;
    if (r->txn) {
      seq = r->txn->seq;
    } else if ((rc = carnet__meta_get_u64(st, CARNET__META_SEQ, &seq)) == CARNET_ENOTFOUND) {
      seq = 0;
      rc = 0;
    }
    if (rc) goto done;
    if (seq > bi.upto) bi.upto = seq;
    /* K3: the vector of this very snapshot goes with the stream's end. */
    if (snap_know) {
      carnet_hlc clock = 0;
      if (r->txn) {
        clock = r->txn->hlc;
      } else if ((rc = carnet__meta_get_u64(st, CARNET__META_HLC, &clock)) == CARNET_ENOTFOUND) {
        clock = 0;
        rc = 0;
      }
      if (rc == 0) rc = carnet__know_load(st, r->id, clock, snap_know);
      if (rc) goto done;
    }
  }
  bi.entities = enc->nents;
  bi.cells = enc->ncells;
  rc = carnet__benc_finish(enc, &bi, out);
  if (rc == 0 && info) *info = bi;
done:
  carnet__store_cursor_close(cur);
  if (st) carnet__read_end(r, st);
  carnet__benc_destroy(enc);
  carnet__free(enc);
  return rc;
}

static size_t min_size(size_t a, size_t b) {
  return a < b ? a : b;
}

size_t carnet__txn_dirty_estimate(carnet_txn *t, uint64_t entities) {
  size_t ents = entities > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)entities;
  return min_size(carnet__store_pending(t->st), carnet__store_leaves(t->st, CARNET__T_INDEX)) +
         min_size(ents, carnet__store_leaves(t->st, CARNET__T_ENTITIES));
}

int carnet_changes_inspect(const void *batch, size_t len, carnet_batch_info *info) {
  carnet__batch b;
  int rc = carnet__batch_decode(batch, len, &b);
  if (rc == 0 && info) *info = b.info;
  carnet__batch_free(&b);
  return rc;
}

/* Marks are stored as base(8) after(8), big-endian, under the peer's id. */
int carnet__mark_read(carnet__stxn *st, uint64_t peer, carnet_mark *out) {
  uint8_t key[8];
  carnet_buf v;
  carnet__be64_put(key, peer);
  int rc = carnet__store_get(st, CARNET__T_MARKS, key, 8, &v);
  *out = (carnet_mark){0, 0};
  if (rc == CARNET_ENOTFOUND) return 0;
  if (rc) return rc;
  if (v.len != 16) return CARNET_ECORRUPT;
  out->base = carnet__be64_get(v.base);
  out->after = carnet__be64_get((const uint8_t *)v.base + 8);
  return out->after >= out->base ? 0 : CARNET_ECORRUPT;
}

static int write_mark(carnet__stxn *st, uint64_t peer, carnet_mark m) {
  uint8_t key[8], val[16];
  carnet__be64_put(key, peer);
  carnet__be64_put(val, m.base);
  carnet__be64_put(val + 8, m.after);
  return carnet__store_put(st, CARNET__T_MARKS, key, 8, val, 16, 0);
}

int carnet_changes_get_mark(carnet_replica *r, uint64_t peer, carnet_mark *out) {
  carnet__stxn *st;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = carnet__mark_read(st, peer, out);
  carnet__read_end(r, st);
  return rc;
}

/* A2: the mark after a batch, or the same mark when the batch does not
 * continue it (it starts past what we hold: an earlier batch was lost). */
static carnet_mark next_mark(carnet_mark m, const carnet_batch_info *b) {
  if (b->base > m.base || b->after > m.after || b->upto < m.after) return m;
  /* The end of the stream as of the sender's read: every entity edited
   * since an earlier batch had its entry moved into this one's range, so
   * every change up to upto is now here. A stale end (upto < after) says
   * less than we know, and is ignored above. */
  if (!b->more) return (carnet_mark){b->upto, b->upto};
  m.after = b->upto;
  return m;
}

/* Merge one entity of a batch; `*applied` counts the cells that won. */
static int apply_entity(carnet_txn *t, const carnet__bentity *be, msgpack_sbuffer *sb,
                        carnet__conflicts *cf, uint32_t *applied) {
  carnet__loaded l;
  int rc = carnet__load_lazy(t->st, &be->id, &l);
  if (rc) goto done;
  if (l.existed && l.e.kind != be->kind) {
    rc = CARNET_EPROTO; /* ids are unique: a kind that changes is forged */
    goto done;
  }
  l.e.kind = be->kind;
  uint64_t seq = t->seq + 1;
  uint32_t won = 0;
  bool drop;
  for (size_t i = 0; i < be->n; i++) {
    bool changed;
    /* V1 (engine/crm/conflict.h): a value lost to a concurrent edit is kept. */
    if ((rc = carnet__conflict_check(t, &l.e, &be->cells[i], cf))) goto done;
    if ((rc = carnet__entity_merge(&l.e, &be->cells[i], seq, &changed))) goto done;
    won += changed;
  }
  /* X1 (engine/erase/erase.h): nothing of an erased entity is stored. */
  if (won && ((rc = carnet__erase_filter(t, &l, &drop)) || drop)) goto done;
  *applied += won;
  if (won) {
    t->seq = seq;
    rc = carnet__save(t, &l, sb);
  }
  if (rc == 0) rc = carnet__conflict_save(t, &be->id, cf);
done:
  carnet__conflicts_reset(cf);
  carnet__loaded_free(&l);
  return rc;
}

int carnet_changes_apply(carnet_replica *r, const void *batch, size_t len, carnet_batch_info *info,
                         uint32_t *applied) {
  return carnet__changes_apply(r, batch, len, 0, info, applied);
}

int carnet__changes_apply(carnet_replica *r, const void *batch, size_t len, uint64_t expect_sender,
                          carnet_batch_info *info, uint32_t *applied) {
  carnet_txn *t = NULL;
  carnet_batch_info bi;
  uint32_t n = 0;
  int rc;
  carnet__clear_err(r);
  if (applied) *applied = 0;
  if ((rc = carnet_txn_begin(r, &t))) return rc;
  if ((rc = carnet__changes_apply_in(t, batch, len, expect_sender, &bi, &n))) {
    carnet_txn_abort(t);
    return rc;
  }
  rc = carnet_txn_commit(t);
  if (rc == 0) {
    if (info) *info = bi;
    if (applied) *applied = n;
  }
  return rc;
}

int carnet_changes_apply_txn(carnet_txn *t, const void *batch, size_t len, carnet_batch_info *info,
                             uint32_t *applied) {
  carnet_batch_info bi;
  uint32_t n = 0;
  if (applied) *applied = 0;
  if (t->sticky) return t->sticky;
  carnet__clear_err(t->r);
  int rc = carnet__changes_apply_in(t, batch, len, 0, &bi, &n);
  if (rc) return carnet__txn_fail(t, rc);
  if (info) *info = bi;
  if (applied) *applied = n;
  return 0;
}

int carnet__changes_apply_in(carnet_txn *t, const void *batch, size_t len, uint64_t expect_sender,
                             carnet_batch_info *info, uint32_t *applied) {
  carnet_replica *r = t->r;
  carnet__batch b;
  msgpack_sbuffer sb;
  uint32_t n = 0;
  carnet_mark mark;
  carnet__conflicts cf = {0};
  int rc;
  msgpack_sbuffer_init(&sb);
  if ((rc = carnet__batch_decode(batch, len, &b))) {
    carnet__fail(r, rc,
                 "malformed change batch (check at engine/model/batch.c:%d); nothing applied",
                 b.bad_line);
    goto done;
  }
  if (expect_sender && b.info.sender != expect_sender) {
    rc = carnet__fail(r, CARNET_EPROTO,
                      "change batch claims sender %016llx but comes from %016llx; nothing applied",
                      (unsigned long long)b.info.sender, (unsigned long long)expect_sender);
    goto done;
  }
  if (!carnet__hlc_plausible(b.max_hlc, carnet__now_ms(r))) {
    rc = carnet__fail(r, CARNET_EPROTO,
                      "change batch from %016llx carries a timestamp more than 7 days ahead of "
                      "this machine's clock; check the clocks; nothing applied",
                      (unsigned long long)b.info.sender);
    goto done;
  }
  carnet__feed_from_peer(t, b.info.sender);
  for (uint32_t i = 0; i < b.info.entities && rc == 0; i++)
    rc = apply_entity(t, &b.ents[i], &sb, &cf, &n);
  if (rc) {
    carnet__fail(r, rc,
                 rc == CARNET_EPROTO ? "change batch changes the kind of an entity; "
                                       "nothing applied"
                                     : "cannot apply the change batch: %s",
                 carnet__store_why(r->store));
    goto done;
  }
  t->hlc = carnet__hlc_recv(t->hlc, b.max_hlc);
  if (b.info.sender != r->id) {
    if ((rc = carnet__mark_read(t->st, b.info.sender, &mark))) goto done;
    carnet_mark nm = next_mark(mark, &b.info);
    if ((nm.base != mark.base || nm.after != mark.after) &&
        (rc = write_mark(t->st, b.info.sender, nm)))
      goto done;
  }
  *info = b.info;
  *applied = n;
done:
  carnet__conflicts_free(&cf);
  msgpack_sbuffer_destroy(&sb);
  carnet__batch_free(&b);
  return rc;
}

/* --- knowledge vectors (engine/model/know.h) ------------------------------------ */

int carnet__know_load(carnet__stxn *st, uint64_t self, uint64_t self_hlc, carnet__know *out) {
  carnet_buf v;
  out->n = 0;
  int rc =
      carnet__store_get(st, CARNET__T_META, CARNET__META_KNOW, sizeof CARNET__META_KNOW - 1, &v);
  /* A stored vector that does not decode claims nothing (K1 holds for the
   * empty one), and the next absorb writes a good one over it: sync must
   * not stop on it. */
  if (rc == 0 && carnet__know_decode(v.base, v.len, out, NULL) != 0) out->n = 0;
  if (rc == CARNET_ENOTFOUND) rc = 0;
  if (rc) {
    out->n = 0;
    return rc;
  }
  /* K2: the own entry is the clock (none is stored: absorb leaves it out). */
  carnet__know_drop(out, self);
  /* K4: the own entry, the one every peer needs, always has room: the
   * last other one goes (claiming less is always true). */
  if (self_hlc && out->n == CARNET__KNOW_ORIGINS_MAX) out->n--;
  (void)carnet__know_raise(out, self, self_hlc);
  return 0;
}

int carnet__know_absorb_in(carnet_txn *t, uint64_t peer, uint64_t upto, const carnet__know *vec,
                           bool *absorbed) {
  carnet_mark mark;
  carnet__know *cur = NULL;
  uint8_t *buf = NULL;
  carnet_buf v;
  int rc;
  if (absorbed) *absorbed = false;
  if ((rc = carnet__mark_read(t->st, peer, &mark))) goto done;
  if (mark.base < upto || vec->n == 0) goto done; /* K3 */
  cur = carnet__malloc(sizeof *cur);
  buf = carnet__malloc(CARNET__KNOW_BYTES_MAX + 1);
  if (cur == NULL || buf == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  cur->n = 0;
  rc =
      carnet__store_get(t->st, CARNET__T_META, CARNET__META_KNOW, sizeof CARNET__META_KNOW - 1, &v);
  if (rc == CARNET_ENOTFOUND)
    rc = 0;
  else if (rc == 0 && carnet__know_decode(v.base, v.len, cur, NULL) != 0)
    cur->n = 0; /* K1 */
  if (rc) goto done;
  if (!carnet__know_merge(cur, vec, t->r->id)) {
    if (absorbed) *absorbed = true;
    goto done;
  }
  size_t n = carnet__know_encode(cur, buf);
  CARNET_ASSERT(n > 0); /* the merge added an entry */
  rc = carnet__store_put(t->st, CARNET__T_META, CARNET__META_KNOW, sizeof CARNET__META_KNOW - 1,
                         buf, n, 0);
  if (rc == 0 && absorbed) *absorbed = true;
done:
  carnet__free(cur);
  carnet__free(buf);
  return rc;
}

bool carnet__know_plausible(carnet_replica *r, const carnet__know *k) {
  for (size_t i = 0; i < k->n; i++)
    if (!carnet__hlc_plausible(k->e[i].hlc, carnet__now_ms(r))) return false;
  return true;
}

int carnet__know_read(carnet_replica *r, uint64_t *seq, carnet__know *out) {
  carnet__stxn *st;
  uint64_t clock = 0;
  int rc = carnet__read_begin(r, &st);
  *seq = 0;
  out->n = 0;
  if (rc) return rc;
  if (r->txn) {
    *seq = r->txn->seq;
    clock = r->txn->hlc;
  } else {
    if ((rc = carnet__meta_get_u64(st, CARNET__META_SEQ, seq)) == CARNET_ENOTFOUND) rc = 0;
    if (rc == 0 && (rc = carnet__meta_get_u64(st, CARNET__META_HLC, &clock)) == CARNET_ENOTFOUND)
      rc = 0;
  }
  if (rc == 0) rc = carnet__know_load(st, r->id, clock, out);
  carnet__read_end(r, st);
  return rc;
}

static void hash_u64(crypto_generichash_state *h, uint64_t v) {
  uint8_t b[8];
  carnet__be64_put(b, v);
  crypto_generichash_update(h, b, 8);
}

int carnet_replica_get_digest(carnet_replica *r, uint8_t out[32]) {
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
