/* engine/store/feed.c - the change feed (carnet/feed.h; invariants F1-F3 in
 * engine/store/feed.h).
 *
 *   carnet__save / erasure drop          carnet_txn_commit
 *   -> carnet__feed_note(t, id, kind, op)   precommit: gap of F2 -> ext
 *      (notes in the transaction, F3)        store commit (durable)
 *                                            marks move; deliver ext, notes
 *
 *   carnet_replica_poll (a node's tick): read transaction, gap of F2 -> ext,
 *   marks move, deliver ext.
 *
 * The gap is read from the store: the change index from the feed's `seq`
 * (E1: one entry per entity, at its latest change, so every entity changed
 * since is there once), and the erasure certificates stored since its
 * `certseq` with the entities they erased. The kind of an entity changed
 * elsewhere is read from its row, which is why a gap costs a row read per
 * entity and stops at CARNET_FEED_CHANGES_MAX (F3).
 */
#include "engine/store/feed.h"

#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/model/entity.h"
#include "engine/store/erased.h"
#include "engine/store/replica_int.h"

/* --- notes ------------------------------------------------------------------- */

static int note_cmp(const void *a, const void *b) {
  const carnet__note *x = a, *y = b;
  int c = memcmp(x->c.id.b, y->c.id.b, 16);
  if (c) return c;
  return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* `later` folded into `earlier`, the two notes of one entity: the state at
 * the end is the later one's, except that an entity created in the
 * transaction and updated after is still new to the subscriber. */
static void fold(carnet__note *earlier, const carnet__note *later) {
  carnet_change_op op = later->c.op;
  if (op == CARNET_CHANGE_UPDATED && earlier->c.op == CARNET_CHANGE_CREATED)
    op = CARNET_CHANGE_CREATED;
  if (later->c.kind) earlier->c.kind = later->c.kind;
  earlier->c.op = op;
  earlier->ord = later->ord;
}

/* Sort by id and fold the notes of each id into one. */
static void compact(carnet__notes *nt) {
  size_t w = 0;
  if (nt->n < 2) return;
  qsort(nt->v, nt->n, sizeof *nt->v, note_cmp);
  for (size_t i = 0; i < nt->n; i++) {
    if (w > 0 && memcmp(nt->v[w - 1].c.id.b, nt->v[i].c.id.b, 16) == 0)
      fold(&nt->v[w - 1], &nt->v[i]);
    else
      nt->v[w++] = nt->v[i];
  }
  nt->n = w;
}

static void note_add(carnet__notes *nt, const carnet_id *id, uint8_t kind, carnet_change_op op) {
  carnet__note x = {.c = {.id = *id, .kind = (carnet_kind)kind, .op = op}, .ord = nt->ord++};
  if (nt->overflow) return;
  /* The common repeat: one entity saved twice in a row (a create then a
   * reference code, a batch then its erasure filter). */
  if (nt->n > 0 && memcmp(nt->v[nt->n - 1].c.id.b, id->b, 16) == 0) {
    fold(&nt->v[nt->n - 1], &x);
    return;
  }
  if (nt->n == nt->cap) {
    if (nt->cap < CARNET_FEED_CHANGES_MAX) {
      size_t cap = nt->cap ? nt->cap * 2 : 16;
      if (cap > CARNET_FEED_CHANGES_MAX) cap = CARNET_FEED_CHANGES_MAX;
      carnet__note *v = carnet__realloc(nt->v, cap * sizeof *v);
      if (v == NULL) {
        nt->overflow = true; /* the subscriber reloads: nothing is lost */
        return;
      }
      nt->v = v;
      nt->cap = cap;
    } else {
      compact(nt);
      if (nt->n == nt->cap) {
        nt->overflow = true; /* F3 */
        return;
      }
    }
  }
  nt->v[nt->n++] = x;
}

void carnet__feed_notes_free(carnet__notes *nt) {
  carnet__free(nt->v);
  memset(nt, 0, sizeof *nt);
}

void carnet__feed_note(carnet_txn *t, const carnet_id *id, uint8_t kind, carnet_change_op op) {
  if (t->notes.on) note_add(&t->notes, id, kind, op);
}

void carnet__feed_from_peer(carnet_txn *t, uint64_t peer) {
  t->notes.source = CARNET_SOURCE_PEER;
  t->notes.peer = peer;
}

/* --- reading a gap (F2) -------------------------------------------------------- */

static int meta_u64_or_0(carnet__stxn *st, const char *key, uint64_t *out) {
  int rc = carnet__meta_get_u64(st, key, out);
  if (rc == CARNET_ENOTFOUND) {
    *out = 0;
    rc = 0;
  }
  return rc;
}

/* The kind of a stored entity and whether it is deleted. */
static int row_summary(carnet__stxn *st, const carnet_id *id, uint8_t *kind, bool *deleted) {
  carnet_buf v;
  carnet__entity e;
  int rc = carnet__store_get(st, CARNET__T_ENTITIES, id->b, 16, &v);
  if (rc) return rc;
  carnet__entity_init(&e, NULL);
  if ((rc = carnet__row_decode(id, v.base, v.len, &e)) == 0) {
    const carnet__cell *d = carnet__entity_find(&e, CARNET_F_DELETED, NULL, 0);
    *kind = e.kind;
    *deleted = d && d->vlen == 1 && d->val[0] == 0xc3; /* msgpack true */
  }
  carnet__entity_free(&e);
  return rc;
}

/* Every entity whose change-index entry is in (after, upto]. */
static int gap_entities(carnet__stxn *st, uint64_t after, uint64_t upto, carnet__notes *nt) {
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  uint8_t from[8];
  int rc = carnet__store_cursor(st, CARNET__T_CHANGES, &cur);
  if (rc) return rc;
  carnet__be64_put(from, after + 1);
  for (rc = carnet__store_seek(cur, from, sizeof from, &k, &v); rc == 0 && !nt->overflow;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet_id id;
    uint8_t kind = 0;
    bool deleted = false;
    if (k.len != 8 || v.len < 16) {
      rc = CARNET_ECORRUPT;
      break;
    }
    if (carnet__be64_get(k.base) > upto) break;
    memcpy(id.b, v.base, 16);
    rc = row_summary(st, &id, &kind, &deleted);
    if (rc == CARNET_ENOTFOUND) continue; /* E1 says it is there; nothing to report if not */
    if (rc) break;
    note_add(nt, &id, kind, deleted ? CARNET_CHANGE_DELETED : CARNET_CHANGE_UPDATED);
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

static int gap_erased(void *data, const carnet_id *id, bool customer) {
  carnet__notes *nt = data;
  note_add(nt, id, customer ? CARNET_KIND_CUSTOMER : 0, CARNET_CHANGE_ERASED);
  return nt->overflow ? 1 : 0;
}

/* Entities of the gap, then erasures of the gap. */
static int gap_read(carnet__stxn *st, uint64_t seq_after, uint64_t seq_upto, uint64_t cert_after,
                    uint64_t cert_upto, carnet__notes *nt) {
  int rc = 0;
  if (seq_upto > seq_after) rc = gap_entities(st, seq_after, seq_upto, nt);
  if (rc == 0 && cert_upto > cert_after && !nt->overflow) {
    rc = carnet__erasures_between(st, cert_after, cert_upto, gap_erased, nt);
    if (rc == 1) rc = 0; /* stopped at the bound */
  }
  return rc;
}

/* --- delivering ----------------------------------------------------------------- */

static void purge_dead(carnet__feed *f) {
  struct carnet_subscription **p = &f->subs;
  while (*p) {
    struct carnet_subscription *s = *p;
    if (s->dead) {
      *p = s->next;
      carnet__free(s);
    } else {
      p = &s->next;
    }
  }
  f->has_dead = false;
}

/* Calls the subscriptions that exist now (one made by a callback waits for
 * the next event; one removed by a callback is skipped). */
static void deliver(carnet_replica *r, carnet__notes *nt, uint64_t seq) {
  carnet__feed *f = &r->feed;
  carnet_change *list = NULL;
  size_t k = 0;
  if (f->live == 0 || (nt->n == 0 && !nt->overflow)) return;
  compact(nt);
  if (nt->n && (list = carnet__malloc(nt->n * sizeof *list)) == NULL) {
    nt->n = 0; /* an empty list that says "reload" is still true */
    nt->overflow = true;
  }
  for (size_t i = 0; i < nt->n; i++)
    list[i] = nt->v[i].c;
  carnet_change_event ev = {.source = nt->source,
                            .peer = nt->source == CARNET_SOURCE_PEER ? nt->peer : 0,
                            .changes = list,
                            .n = nt->n,
                            .overflow = nt->overflow,
                            .seq = seq};
  for (struct carnet_subscription *s = f->subs; s; s = s->next)
    k++;
  f->delivering++;
  struct carnet_subscription *s = f->subs;
  for (size_t i = 0; i < k && s; i++, s = s->next)
    if (!s->dead) s->cb(s->data, &ev);
  f->delivering--;
  if (f->delivering == 0 && f->has_dead) purge_dead(f);
  carnet__free(list);
}

/* --- the commit's hooks ------------------------------------------------------ */

int carnet__feed_begin(carnet_replica *r, carnet__notes *nt, carnet__stxn *st) {
  memset(nt, 0, sizeof *nt);
  if (r->feed.live == 0) return 0;
  nt->on = true;
  nt->source = CARNET_SOURCE_LOCAL;
  return meta_u64_or_0(st, CARNET__META_CERTSEQ, &nt->certseq0);
}

void carnet__feed_precommit(carnet_txn *t, carnet__notes *ext, uint64_t *certseq) {
  carnet_replica *r = t->r;
  memset(ext, 0, sizeof *ext);
  ext->on = true;
  ext->source = CARNET_SOURCE_EXTERNAL;
  *certseq = r->feed.certseq;
  if (meta_u64_or_0(t->st, CARNET__META_CERTSEQ, certseq)) {
    *certseq = r->feed.certseq; /* read again by the next commit or poll */
    ext->overflow = true;
    return;
  }
  /* What other processes committed between the feed's marks and this
   * transaction's start; the transaction's own part is in its notes. */
  if (gap_read(t->st, r->feed.seq, t->seq0, r->feed.certseq, t->notes.certseq0, ext))
    ext->overflow = true;
}

void carnet__feed_commit(carnet_replica *r, carnet__notes *ext, carnet__notes *own, uint64_t seq,
                         uint64_t certseq) {
  /* The marks move first: a callback that subscribes again (after the
   * last subscription went) reads them from the store anyway. */
  if (seq > r->feed.seq) r->feed.seq = seq;
  if (certseq > r->feed.certseq) r->feed.certseq = certseq;
  deliver(r, ext, seq);
  deliver(r, own, seq);
}

bool carnet__feed_busy(const carnet_replica *r) {
  return r->feed.delivering > 0;
}

void carnet__feed_close(carnet_replica *r) {
  struct carnet_subscription *s = r->feed.subs;
  while (s) {
    struct carnet_subscription *next = s->next;
    carnet__free(s);
    s = next;
  }
  memset(&r->feed, 0, sizeof r->feed);
}

/* --- the API ---------------------------------------------------------------------- */

/* The feed starts from what is committed now (F2). */
static int feed_reset(carnet_replica *r) {
  carnet__stxn *st;
  uint64_t seq = 0, cs = 0;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  if ((rc = meta_u64_or_0(st, CARNET__META_SEQ, &seq)) == 0)
    rc = meta_u64_or_0(st, CARNET__META_CERTSEQ, &cs);
  carnet__read_end(r, st);
  if (rc)
    return carnet__fail(r, rc == CARNET_ECORRUPT ? rc : CARNET_EIO,
                        "cannot read the replica's sequence number: %s", carnet_error_message(rc));
  r->feed.seq = seq;
  r->feed.certseq = cs;
  return 0;
}

int carnet_replica_subscribe(carnet_replica *r, carnet_change_cb cb, void *data,
                             carnet_subscription **out) {
  if (out) *out = NULL;
  if (cb == NULL || out == NULL)
    return carnet__fail(r, CARNET_EMISUSE, "subscribe needs a callback and a place for the handle");
  if (r->txn)
    return carnet__fail(r, CARNET_EMISUSE, "subscribe between transactions, not inside one");
  struct carnet_subscription *s = carnet__calloc(1, sizeof *s);
  if (s == NULL) return CARNET_ENOMEM;
  if (r->feed.live == 0) {
    int rc = feed_reset(r);
    if (rc) {
      carnet__free(s);
      return rc;
    }
  }
  s->cb = cb;
  s->data = data;
  struct carnet_subscription **p = &r->feed.subs;
  while (*p)
    p = &(*p)->next;
  *p = s;
  r->feed.live++;
  *out = s;
  return 0;
}

int carnet_replica_unsubscribe(carnet_replica *r, carnet_subscription *sub) {
  if (sub == NULL) return 0;
  struct carnet_subscription **p = &r->feed.subs;
  while (*p && *p != sub)
    p = &(*p)->next;
  if (*p == NULL || sub->dead)
    return carnet__fail(r, CARNET_ENOTFOUND, "not a subscription of this replica");
  r->feed.live--;
  if (r->feed.delivering) {
    /* The delivery loop holds a pointer to it: freed when it ends. */
    sub->dead = true;
    r->feed.has_dead = true;
    return 0;
  }
  *p = sub->next;
  carnet__free(sub);
  return 0;
}

int carnet__feed_behind(carnet_replica *r, bool *behind) {
  carnet__feed *f = &r->feed;
  carnet__stxn *st = NULL;
  uint64_t seq = 0, cs = 0;
  *behind = false;
  if (f->live == 0) return 0;
  int rc = carnet__store_begin(r->store, false, &st);
  if (rc) return rc;
  if ((rc = meta_u64_or_0(st, CARNET__META_SEQ, &seq)) == 0)
    rc = meta_u64_or_0(st, CARNET__META_CERTSEQ, &cs);
  carnet__store_abort(st);
  *behind = rc == 0 && (seq > f->seq || cs > f->certseq);
  return rc;
}

int carnet_replica_poll(carnet_replica *r) {
  carnet__feed *f = &r->feed;
  carnet__stxn *st = NULL;
  carnet__notes ext;
  uint64_t seq = 0, cs = 0;
  if (r->txn || f->delivering)
    return carnet__fail(r, CARNET_EMISUSE, "poll between transactions, not in a change callback");
  if (f->live == 0) return 0;
  int rc = carnet__store_begin(r->store, false, &st);
  if (rc) return carnet__fail(r, rc, "cannot read the replica: %s", carnet__store_why(r->store));
  if ((rc = meta_u64_or_0(st, CARNET__META_SEQ, &seq)) ||
      (rc = meta_u64_or_0(st, CARNET__META_CERTSEQ, &cs))) {
    carnet__store_abort(st);
    return carnet__fail(r, rc, "cannot read the replica's sequence number");
  }
  if (seq <= f->seq && cs <= f->certseq) {
    carnet__store_abort(st);
    return 0;
  }
  memset(&ext, 0, sizeof ext);
  ext.on = true;
  ext.source = CARNET_SOURCE_EXTERNAL;
  rc = gap_read(st, f->seq, seq, f->certseq, cs, &ext);
  /* The read transaction ends before the callbacks, which may read. */
  carnet__store_abort(st);
  if (rc) {
    carnet__feed_notes_free(&ext);
    return carnet__fail(r, rc, "cannot read the changes of other processes: %s",
                        carnet_error_message(rc));
  }
  if (seq > f->seq) f->seq = seq;
  if (cs > f->certseq) f->certseq = cs;
  deliver(r, &ext, seq);
  carnet__feed_notes_free(&ext);
  return 0;
}
