/* engine/store/entity_io.c - load/save of entities (see entity_io.h). */
#include "engine/store/entity_io.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/store/feed.h"
#include "engine/store/replica_int.h"

void carnet__change_entry(const carnet__entity *e, uint8_t out[CARNET__CHANGE_ENTRY_LEN]) {
  uint64_t origin = 0, other = 0;
  bool one = true;
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    if (c->seq != e->seq) continue;
    if (origin == 0) origin = c->origin;
    if (c->origin != origin) one = false;
  }
  if (!one) origin = 0;
  for (size_t i = 0; i < e->n; i++)
    if (e->cells[i].origin != origin && e->cells[i].seq > other) other = e->cells[i].seq;
  memcpy(out, e->id.b, 16);
  carnet__be64_put(out + 16, origin);
  carnet__be64_put(out + 24, other);
}

static int load(carnet__stxn *st, const carnet_id *id, carnet__loaded *l, bool lazy) {
  carnet_buf row;
  carnet__arena_init(&l->arena, 4096);
  carnet__entity_init(&l->e, &l->arena);
  if (id) l->e.id = *id;
  l->existed = false;
  l->old_seq = 0;
  l->old_keys.n = 0;
  l->keys_pending = false;
  l->old_row = NULL;
  l->old_row_len = 0;
  l->unchecked = false;
  int rc = carnet__index_secret(st, &l->secret);
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  l->has_secret = rc == 0;
  if (id == NULL) return 0; /* carnet__load_new */
  rc = carnet__store_get(st, CARNET__T_ENTITIES, id->b, 16, &row);
  if (rc == CARNET_ENOTFOUND) return 0;
  if (rc) return rc;
  /* The row lives in the map only until the next write: decode a copy. */
  void *copy = carnet__arena_dup(&l->arena, row.base, row.len);
  if (copy == NULL) return CARNET_ENOMEM;
  if ((rc = carnet__row_decode(id, copy, row.len, &l->e))) return rc;
  l->e.arena = &l->arena;
  l->existed = true;
  l->old_seq = l->e.seq;
  if (lazy) {
    l->keys_pending = true;
    l->old_row = copy;
    l->old_row_len = row.len;
    return 0;
  }
  return carnet__index_keys(&l->e, l->has_secret ? &l->secret : NULL, &l->arena, &l->old_keys);
}

int carnet__load(carnet__stxn *st, const carnet_id *id, carnet__loaded *l) {
  return load(st, id, l, false);
}

int carnet__load_lazy(carnet__stxn *st, const carnet_id *id, carnet__loaded *l) {
  return load(st, id, l, true);
}

int carnet__load_new(carnet__stxn *st, const carnet_id *id, carnet__loaded *l) {
  int rc = load(st, NULL, l, true);
  l->e.id = *id;
  l->unchecked = rc == 0;
  return rc;
}

/* The keys of `parts` of the row as loaded (keys_pending), into *out. */
static int derive_old_keys(carnet__loaded *l, unsigned parts, carnet__keyset *out) {
  carnet__entity old;
  carnet__entity_init(&old, &l->arena);
  int rc = carnet__row_decode(&l->e.id, l->old_row, l->old_row_len, &old);
  if (rc == 0)
    rc = carnet__index_keys_parts(&old, l->has_secret ? &l->secret : NULL, &l->arena, parts, out);
  carnet__entity_free(&old);
  return rc;
}

/* The index parts the cells changed since the load (or the last save) may
 * change. Cells are never removed, only replaced, and a replaced or new
 * cell takes a sequence number above the stored one. */
static unsigned changed_parts(const carnet__loaded *l) {
  unsigned parts = 0;
  for (size_t i = 0; i < l->e.n; i++)
    if (l->e.cells[i].seq > l->old_seq) parts |= carnet__index_parts(l->e.cells[i].field);
  return parts;
}

int carnet__loaded_keys(carnet__loaded *l, carnet__keyset *out) {
  if (!l->existed) {
    out->n = 0;
    return 0;
  }
  if (!l->keys_pending) {
    *out = l->old_keys;
    return 0;
  }
  return derive_old_keys(l, CARNET__IDX_PART_ALL, out);
}

void carnet__loaded_free(carnet__loaded *l) {
  sodium_memzero(&l->secret, sizeof l->secret);
  carnet__entity_free(&l->e);
  carnet__arena_free(&l->arena);
}

static bool has_key(const carnet__keyset *ks, carnet_buf k) {
  for (size_t i = 0; i < ks->n; i++)
    if (ks->keys[i].len == k.len && memcmp(ks->keys[i].base, k.base, k.len) == 0) return true;
  return false;
}

int carnet__save(carnet_txn *t, carnet__loaded *l, msgpack_sbuffer *sb) {
  carnet__stxn *st = t->st;
  carnet__entity *e = &l->e;
  bool created = !l->existed;
  carnet__blind_secret *secret = l->has_secret ? &l->secret : NULL;
  carnet__keyset now, old, *oldk = &l->old_keys;
  uint8_t seqkey[8];
  int rc;
  /* Eager loads (and new entities) hold every old key: diff them all. A
   * lazy load derives, from the row as loaded, only the parts whose fields
   * changed; keys of the other parts are the same before and after. */
  unsigned parts = CARNET__IDX_PART_ALL, changed = changed_parts(l);
  if (changed && !carnet__index_parts_exact(e)) changed = CARNET__IDX_PART_ALL;
  if (l->keys_pending) {
    parts = changed;
    if (parts && (rc = derive_old_keys(l, parts, &old))) return rc;
    oldk = &old;
    if (parts == 0) old.n = 0;
  }
  /* E3 (engine/store/index.c): above the blind index's mark, a save writes no
   * blind key and deletes those of the parts it changes; at or below it
   * (after a catch-up in this transaction) it keeps them whole. */
  uint64_t mark;
  if ((rc = carnet__index_mark(st, &mark))) return rc;
  bool deferred = e->seq > mark;
  unsigned del_blind = deferred ? changed & CARNET__IDX_PART_BLIND : CARNET__IDX_PART_BLIND;
  if ((rc = carnet__index_keys_parts(e, secret, &l->arena,
                                     deferred ? parts & ~CARNET__IDX_PART_BLIND : parts, &now)))
    return rc;
#ifndef NDEBUG
  if (l->keys_pending) {
    /* Debug builds (the sanitizer suite) check the shortcut: every key
     * outside the parts recomputed is the same before and after. */
    carnet__keyset fo, fn;
    if ((rc = derive_old_keys(l, CARNET__IDX_PART_ALL, &fo)) ||
        (rc = carnet__index_keys(e, secret, &l->arena, &fn)))
      return rc;
    for (size_t i = 0; i < fo.n; i++)
      if (!(carnet__index_tag_part(((const uint8_t *)fo.keys[i].base)[0]) & parts))
        assert(has_key(&fn, fo.keys[i]));
    for (size_t i = 0; i < fn.n; i++)
      if (!(carnet__index_tag_part(((const uint8_t *)fn.keys[i].base)[0]) & parts))
        assert(has_key(&fo, fn.keys[i]));
  }
#endif
  if ((rc = carnet__row_encode(e, sb))) return rc;
  if ((rc = carnet__store_put(st, CARNET__T_ENTITIES, e->id.b, 16, sb->data, sb->size,
                              l->unchecked ? CARNET__PUT_NEW : 0)))
    return rc;
  l->unchecked = false;
  /* G1 (engine/crm/searchsig.h): at or below the signatures' mark (never
   * above the index's), the search signature is written with the row, as
   * the blind keys are; above it, a catch-up writes it. */
  bool signs = !deferred && secret && t->r->search_sig && e->kind == CARNET_KIND_CUSTOMER;
  uint64_t smark = 0;
  if (signs && (rc = carnet__sig_mark(st, &smark))) return rc;
  if (signs && e->seq <= smark) {
    uint8_t *sig = NULL;
    size_t len = 0;
    rc = t->r->search_sig(e, secret, &sig, &len);
    if (rc == 0 && sig) rc = carnet__store_put(st, CARNET__T_SEARCH, e->id.b, 16, sig, len, 0);
    carnet__free(sig);
    if (rc) return rc;
  }
  /* The old entry stays, stale (engine/store/changelog.h L1): deleting it
   * would copy one more random leaf per edited entity; it is purged in
   * bulk, counted at the commit. */
  if (l->existed && l->old_seq != e->seq) t->stale++;
  uint8_t entry[CARNET__CHANGE_ENTRY_LEN];
  carnet__change_entry(e, entry);
  carnet__be64_put(seqkey, e->seq);
  if (!l->existed || l->old_seq != e->seq) {
    if ((rc = carnet__store_put(st, CARNET__T_CHANGES, seqkey, 8, entry, sizeof entry,
                                CARNET__PUT_APPEND)))
      return rc;
  } else {
    /* A second save at the same sequence number (one transaction) may
     * change the summary: rewrite the entry only then. */
    carnet_buf v;
    rc = carnet__store_get(st, CARNET__T_CHANGES, seqkey, 8, &v);
    if (rc && rc != CARNET_ENOTFOUND) return rc;
    if ((rc == CARNET_ENOTFOUND || v.len != sizeof entry || memcmp(v.base, entry, sizeof entry)) &&
        (rc = carnet__store_put(st, CARNET__T_CHANGES, seqkey, 8, entry, sizeof entry, 0)))
      return rc;
  }
  for (size_t i = 0; i < oldk->n; i++) {
    if (has_key(&now, oldk->keys[i])) continue;
    unsigned part = carnet__index_tag_part(((const uint8_t *)oldk->keys[i].base)[0]);
    if ((part & CARNET__IDX_PART_BLIND) && !(part & del_blind)) continue; /* still derived */
    rc = carnet__store_del(st, CARNET__T_INDEX, oldk->keys[i].base, oldk->keys[i].len);
    if (rc && rc != CARNET_ENOTFOUND) return rc;
  }
  for (size_t i = 0; i < now.n; i++) {
    if (has_key(oldk, now.keys[i])) continue;
    if ((rc = carnet__store_put(st, CARNET__T_INDEX, now.keys[i].base, now.keys[i].len, "", 0, 0)))
      return rc;
  }
  /* What is stored is now the baseline for a further save (deferred, the
   * row: the keys in the index are not all of its keys). */
  if (l->keys_pending || deferred) {
    l->keys_pending = true;
    void *row = carnet__arena_dup(&l->arena, sb->data, sb->size);
    if (row == NULL) return CARNET_ENOMEM;
    l->old_row = row;
    l->old_row_len = sb->size;
  } else {
    l->old_keys = now;
  }
  l->existed = true;
  l->old_seq = e->seq;
  const carnet__cell *del = carnet__entity_find(e, CARNET_F_DELETED, NULL, 0);
  bool deleted = del && del->vlen == 1 && del->val[0] == 0xc3;          /* msgpack true */
  if (deleted && e->kind == CARNET_KIND_ATTACHMENT) t->att_gone = true; /* A3 */
  if (t->saved && e->kind == CARNET_KIND_CUSTOMER && (rc = t->saved(t->saved_ctx, t, e))) return rc;
  carnet__feed_note(t, &e->id, e->kind,
                    deleted   ? CARNET_CHANGE_DELETED
                    : created ? CARNET_CHANGE_CREATED
                              : CARNET_CHANGE_UPDATED);
  return 0;
}
