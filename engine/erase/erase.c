/* engine/erase/erase.c - erasure certificates: applying them, the filter of
 * received changes, the opposition list, listing, and compaction
 * (carnet/erase.h, engine/erase/erase.h for invariants X1-X4).
 *
 *   carnet_record_erase / a CERT from a peer
 *        |
 *        v  one write transaction (X3)
 *   certs[id] known? --yes--> union of confirmations (X4) --> done
 *        | no
 *        v
 *   opposition hashes of the customer's e-mails and phones (its blind
 *   index keys), then delete: the customer; its contacts, reminders,
 *   actions, drafts, quotes, orders (row + change-index entry + index keys;
 *   erased[x] = id); re-announce its validated invoices and credit notes
 *   (X2: fresh sequence numbers, same stamps, so a replica that deleted
 *   their draft gets them whole); certs[id] with our confirmation; meta
 *   compact_pending
 *        |
 *        v  after commit, when no other process has the directory open
 *   compaction (engine/store/store.c): no byte of the deleted rows stays in the
 *   data file.
 */
#include "engine/erase/erase.h"
#include "engine/base/alloc.h"
#include "engine/crm/conflict.h"
#include "engine/store/phone_cache.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/normalize.h"
#include "engine/base/check.h"
#include "engine/base/mp.h"
#include "engine/base/text.h"
#include "engine/crm/attach.h"
#include "engine/crm/write.h"
#include "engine/model/cert.h"
#include "engine/model/hlc.h"
#include "engine/store/changelog.h"
#include "engine/store/feed.h"
#include "engine/store/group.h"
#include "engine/store/replica_int.h"

/* --- lookups ---------------------------------------------------------------- */

/* The stored certificate of `id` and its lseq. Errors: CARNET_ENOTFOUND. */
static int cert_load(carnet__stxn *st, const carnet_id *id, carnet_erasure *out, uint64_t *lseq) {
  carnet_buf v;
  int rc = carnet__store_get(st, CARNET__T_CERTS, id->b, 16, &v);
  if (rc) return rc;
  uint64_t seq = 0;
  carnet_buf cert;
  if ((rc = carnet__cert_stored_split(v, &seq, &cert))) return rc;
  if (carnet__cert_decode(cert.base, cert.len, out, NULL)) rc = CARNET_ECORRUPT;
  if (rc == 0 && memcmp(out->id.b, id->b, 16) != 0) rc = CARNET_ECORRUPT;
  if (lseq) *lseq = seq;
  return rc;
}

static int cert_store(carnet__stxn *st, const carnet_erasure *c) {
  uint64_t seq = 0;
  int rc = carnet__meta_get_u64(st, CARNET__META_CERTSEQ, &seq);
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  seq++;
  if (msgpack_pack_uint64(&pk, seq) || (rc = carnet__cert_encode(c, &sb))) {
    rc = rc ? rc : CARNET_ENOMEM;
    goto done;
  }
  if ((rc = carnet__store_put(st, CARNET__T_CERTS, c->id.b, 16, sb.data, sb.size, 0))) goto done;
  rc = carnet__meta_put_u64(st, CARNET__META_CERTSEQ, seq);
done:
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

/* --- what belongs to an erased customer ------------------------------------- */

static bool cell_is_str(const carnet__cell *c, const char *s) {
  size_t n = strlen(s);
  return n < 32 && c->vlen == n + 1 && c->val[0] == (0xa0 | n) && memcmp(c->val + 1, s, n) == 0;
}

/* X2: a validated invoice or credit note is kept. */
static bool kept_document(const carnet__entity *e) {
  if (e->kind != CARNET_KIND_DOCUMENT || !carnet__doc_validated(e)) return false;
  const carnet__cell *t = carnet__entity_find(e, CARNET_F_DOC_TYPE, NULL, 0);
  return t && (cell_is_str(t, "invoice") || cell_is_str(t, "credit_note"));
}

/* The customer `e` belongs to or concerns that has a certificate (`*found`
 * false when none): a contact's, document's or reminder's customer, any
 * customer of an action. */
static int erased_owner(carnet__stxn *st, const carnet__entity *e, carnet_id *owner, bool *found) {
  carnet_buf v;
  *found = false;
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    const uint8_t *ref = NULL;
    if (c->field == CARNET_F_CUSTOMER && c->vlen == 18) ref = c->val + 2; /* bin8 header */
    if (c->field == CARNET_F_CUSTOMERS && c->klen == 16) ref = c->key;
    if (ref == NULL) continue;
    /* A customer with a certificate maps to itself in `erased`. Not a get
     * of its certificate: that is a sealed value, whose get would reuse
     * the buffer of the row the caller may still be reading (store.h). */
    int rc = carnet__store_get(st, CARNET__T_ERASED, ref, 16, &v);
    if (rc == CARNET_ENOTFOUND) continue;
    if (rc) return rc;
    if (v.len != 16 || memcmp(v.base, ref, 16) != 0) continue;
    memcpy(owner->b, ref, 16);
    *found = true;
    return 0;
  }
  return 0;
}

bool carnet__erase_send_whole(carnet__stxn *st, const carnet__entity *e) {
  carnet_id owner;
  bool found = false;
  if (!kept_document(e)) return false;
  return erased_owner(st, e, &owner, &found) == 0 && found;
}

/* Delete what is stored of `l` (row, change-index entry, index keys) and
 * remember it as erased by `owner`. The change feed hears of it here (F1:
 * an erased entity is never saved again). */
static int drop_attachments(carnet_txn *t, const carnet_id *of, const carnet_id *owner);

static int drop_entity(carnet_txn *t, carnet__loaded *l, const carnet_id *owner) {
  carnet__stxn *st = t->st;
  uint8_t seqkey[8];
  int rc;
  CARNET_ASSERT(st != NULL && owner != NULL); /* erasure runs in a write transaction */
  /* X6: its files go with it, content, key and metadata. */
  if (l->e.kind != CARNET_KIND_ATTACHMENT && (rc = drop_attachments(t, &l->e.id, owner))) return rc;
  if (l->e.kind == CARNET_KIND_ATTACHMENT) t->att_gone = true;
  if (l->existed) {
    /* L2 (engine/store/changelog.h): no stale entry outlives the row. */
    uint64_t stale;
    if ((rc = carnet__changelog_stale_count(st, &stale))) return rc;
    if ((stale || t->stale) && (rc = carnet__changelog_purge(st, NULL))) return rc;
    t->stale = 0;
    if ((rc = carnet__store_del(st, CARNET__T_ENTITIES, l->e.id.b, 16)) && rc != CARNET_ENOTFOUND)
      return rc;
    carnet__be64_put(seqkey, l->old_seq);
    if ((rc = carnet__store_del(st, CARNET__T_CHANGES, seqkey, 8)) && rc != CARNET_ENOTFOUND)
      return rc;
    /* Every key the stored row derives, indexed yet or not (E3): a key
     * not in the index is a delete of an absent key, which is nothing. */
    carnet__keyset ks;
    if ((rc = carnet__loaded_keys(l, &ks))) return rc;
    for (size_t i = 0; i < ks.n; i++) {
      rc = carnet__store_del(st, CARNET__T_INDEX, ks.keys[i].base, ks.keys[i].len);
      if (rc && rc != CARNET_ENOTFOUND) return rc;
    }
    /* G3 (engine/crm/searchsig.h): its search signature, written yet or not. */
    if ((rc = carnet__store_del(st, CARNET__T_SEARCH, l->e.id.b, 16)) && rc != CARNET_ENOTFOUND)
      return rc;
    l->existed = false;
    carnet__feed_note(t, &l->e.id, l->e.kind, CARNET_CHANGE_ERASED);
  }
  CARNET_ASSERT(!l->existed); /* F1: nothing of it is saved after this */
  /* V3 (engine/crm/conflict.h): the values it lost in merges go with it. */
  if ((rc = carnet__conflict_erase(st, &l->e.id))) return rc;
  return carnet__store_put(st, CARNET__T_ERASED, l->e.id.b, 16, owner->b, 16, 0);
}

/* X6: the attachments of `of` (a customer, contact, document or action),
 * found by the 'a' index keys, are erased by `owner`: their rows (and with
 * them the content keys) here, their files after the commit (the sweep,
 * engine/crm/attach.h A3). */
static int drop_attachments(carnet_txn *t, const carnet_id *of, const carnet_id *owner) {
  carnet_id *ids = NULL;
  size_t n = 0;
  int rc = carnet__att_ids_under(t->st, of, &ids, &n);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    carnet__loaded al;
    if ((rc = carnet__load(t->st, &ids[i], &al)) == 0 && al.existed &&
        al.e.kind == CARNET_KIND_ATTACHMENT)
      rc = drop_entity(t, &al, owner);
    carnet__loaded_free(&al); /* as erase_all: whatever the load returned */
  }
  carnet__free(ids);
  return rc;
}

/* X6: the erased customer an attachment received belongs to, through its
 * owner: an owner erased itself (`erased` maps it to its customer), or a
 * document kept by an erasure (X2) whose customer was erased. */
static int attachment_erased_owner(carnet__stxn *st, const carnet__entity *e, carnet_id *owner,
                                   bool *found) {
  const carnet__cell *o = carnet__entity_find(e, CARNET_F_OWNER, NULL, 0);
  carnet_buf v;
  *found = false;
  if (o == NULL || o->vlen != 18) return 0;
  int rc = carnet__store_get(st, CARNET__T_ERASED, o->val + 2, 16, &v);
  if (rc == 0) {
    if (v.len != 16) return CARNET_ECORRUPT;
    memcpy(owner->b, v.base, 16);
    *found = true;
    return 0;
  }
  if (rc != CARNET_ENOTFOUND) return rc;
  carnet__arena a;
  carnet__entity doc;
  carnet_id did;
  bool there = false;
  memcpy(did.b, o->val + 2, 16);
  carnet__arena_init(&a, 1024);
  carnet__entity_init(&doc, &a);
  rc = carnet__load_row(st, &did, &a, &doc, &there);
  if (rc == 0 && there && doc.kind == CARNET_KIND_DOCUMENT)
    rc = erased_owner(st, &doc, owner, found);
  carnet__entity_free(&doc);
  carnet__arena_free(&a);
  return rc;
}

/* The opposition list: the customer's blind e-mail and phone keys (tag +
 * keyed hash, engine/store/index.c) without the entity id, hashed with
 * carnet__oppose_hash (keyed BLAKE2b, frozen), not the index's hash.
 * Derived from the cells rather than taken from the index: a customer
 * deleted before being erased has no index keys, and must be opposed all
 * the same. */
#define OPPOSE_PARTS (CARNET__IDX_PART_PHONE | CARNET__IDX_PART_EMAIL)

/* Whether a blind key of OPPOSE_PARTS goes on the list: e-mails and
 * phones, not the e-mail hint keys ('h') that come with them. */
static bool opposable(const carnet_buf *k) {
  const uint8_t *b = k->base;
  return k->len == CARNET__INDEX_BLIND_KEY_LEN &&
         (b[0] == CARNET__IDX_EMAIL || b[0] == CARNET__IDX_PHONE);
}

static int oppose_keys(carnet__stxn *st, carnet__loaded *l) {
  carnet__blind_secret secret;
  carnet__keyset ks;
  if (!l->existed) return 0;
  int rc = carnet__index_secret(st, &secret);
  if (rc == CARNET_ENOTFOUND) return 0; /* never written to: nothing to oppose */
  if (rc == 0)
    rc = carnet__index_blind_keys(&l->e, &secret, carnet__oppose_hash, OPPOSE_PARTS, true,
                                  &l->arena, &ks);
  sodium_memzero(&secret, sizeof secret);
  for (size_t i = 0; rc == 0 && i < ks.n; i++)
    if (opposable(&ks.keys[i]))
      rc = carnet__store_put(st, CARNET__T_OPPOSE, ks.keys[i].base, 1 + CARNET__INDEX_HASH_LEN,
                             l->e.id.b, 16, 0);
  return rc;
}

/* --- sets of customers -------------------------------------------------------- */

static int id_cmp(const void *a, const void *b) {
  return memcmp(a, b, 16);
}

/* A small growing set of ids (the customers of one erasure). */
typedef struct idset {
  carnet_id *ids;
  size_t n, cap;
} idset;

static bool idset_has(const idset *s, const carnet_id *id) {
  for (size_t i = 0; i < s->n; i++)
    if (memcmp(s->ids[i].b, id->b, 16) == 0) return true;
  return false;
}

static int idset_add(idset *s, const carnet_id *id) {
  if (idset_has(s, id)) return 0;
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 8;
    carnet_id *ids = carnet__realloc(s->ids, cap * sizeof *ids);
    if (ids == NULL) return CARNET_ENOMEM;
    s->ids = ids;
    s->cap = cap;
  }
  s->ids[s->n++] = *id;
  return 0;
}

static void idset_free(idset *s) {
  carnet__free(s->ids);
  memset(s, 0, sizeof *s);
}

static bool cell_true(const carnet__cell *c) {
  return c->vlen == 1 && c->val[0] == 0xc3;
}

/* Add to `out` the customers joined to `id` by a present merge edge, as
 * the group walk (engine/store/group.c) sees them: out-edges from its row's
 * SAME_AS cells, in-edges from the index ('m' id source), each a live
 * customer row that is not erased. `id` itself may have no row (a
 * certificate can arrive before the customer). */
static int add_neighbours(carnet__stxn *st, const carnet_id *id, idset *out) {
  carnet__arena a;
  carnet__entity e;
  carnet__scur *cur = NULL;
  carnet_buf k;
  uint8_t prefix[17];
  bool found;
  idset cand = {0};
  carnet__arena_init(&a, 1024);
  carnet__entity_init(&e, &a);
  int rc = carnet__load_row(st, id, &a, &e, &found);
  for (size_t i = 0; rc == 0 && found && i < e.n; i++) {
    const carnet__cell *c = &e.cells[i];
    if (c->field != CARNET_F_SAME_AS || c->klen != 16 || !cell_true(c)) continue;
    carnet_id t;
    memcpy(t.b, c->key, 16);
    rc = idset_add(&cand, &t);
  }
  carnet__entity_free(&e);
  carnet__arena_free(&a);
  prefix[0] = CARNET__IDX_SAME_AS;
  memcpy(prefix + 1, id->b, 16);
  if (rc == 0) rc = carnet__store_cursor_at(st, CARNET__T_INDEX, prefix, sizeof prefix, &cur);
  if (rc == 0) {
    for (rc = carnet__store_seek(cur, prefix, sizeof prefix, &k, NULL); rc == 0;
         rc = carnet__store_next(cur, &k, NULL)) {
      if (k.len != 33 || memcmp(k.base, prefix, sizeof prefix) != 0) break;
      carnet_id src;
      memcpy(src.b, (const uint8_t *)k.base + 17, 16);
      if ((rc = idset_add(&cand, &src))) break;
    }
    if (rc == CARNET_ENOTFOUND) rc = 0;
  }
  carnet__store_cursor_close(cur);
  for (size_t i = 0; rc == 0 && i < cand.n; i++) {
    bool live = false, erased = false;
    if (idset_has(out, &cand.ids[i]) || memcmp(cand.ids[i].b, id->b, 16) == 0) continue;
    if ((rc = carnet__group_member_ok(st, &cand.ids[i], &live)) || !live) continue;
    if ((rc = carnet__erased(st, &cand.ids[i], &erased)) || erased) continue;
    rc = idset_add(out, &cand.ids[i]);
  }
  idset_free(&cand);
  return rc;
}

/* The person of customer `id`: `id` and every live customer connected to
 * it by present merge edges (its group, without the view's cap: an
 * erasure must reach them all), `id` first. */
static int person_of(carnet__stxn *st, const carnet_id *id, idset *out) {
  int rc = idset_add(out, id);
  for (size_t i = 0; rc == 0 && i < out->n; i++) {
    carnet_id m = out->ids[i]; /* out->ids may move as it grows */
    rc = add_neighbours(st, &m, out);
  }
  return rc;
}

/* --- what belongs to erased customers ----------------------------------------- */

typedef struct related {
  carnet_id *ids;
  carnet_id *owner; /* the erased customer it belongs to */
  bool *keep;
  size_t n, cap;
} related;

static int related_add(related *rl, const carnet_id *id, const carnet_id *owner, bool keep) {
  if (rl->n == rl->cap) {
    size_t cap = rl->cap ? rl->cap * 2 : 16;
    carnet_id *ids = carnet__realloc(rl->ids, cap * sizeof *ids);
    if (ids == NULL) return CARNET_ENOMEM;
    rl->ids = ids;
    carnet_id *owner2 = carnet__realloc(rl->owner, cap * sizeof *owner2);
    if (owner2 == NULL) return CARNET_ENOMEM;
    rl->owner = owner2;
    bool *keep2 = carnet__realloc(rl->keep, cap * sizeof *keep2);
    if (keep2 == NULL) return CARNET_ENOMEM;
    rl->keep = keep2;
    rl->cap = cap;
  }
  rl->ids[rl->n] = *id;
  rl->owner[rl->n] = *owner;
  rl->keep[rl->n++] = keep;
  return 0;
}

static void related_free(related *rl) {
  carnet__free(rl->ids);
  carnet__free(rl->owner);
  carnet__free(rl->keep);
}

/* Every stored entity that belongs to one of the customers in `cust` (one
 * pass over the rows: there is no reverse index of owners). */
static int related_find(carnet__stxn *st, const idset *cust, related *rl) {
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  int rc = carnet__store_cursor(st, CARNET__T_ENTITIES, &cur);
  if (rc) return rc;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet_id id;
    carnet__entity e;
    if (k.len != 16) {
      rc = CARNET_ECORRUPT;
      break;
    }
    memcpy(id.b, k.base, 16);
    if (idset_has(cust, &id)) continue;
    carnet__entity_init(&e, NULL);
    if ((rc = carnet__row_decode(&id, v.base, v.len, &e))) break;
    const carnet_id *owner = NULL;
    for (size_t i = 0; i < e.n && owner == NULL; i++) {
      const carnet__cell *c = &e.cells[i];
      carnet_id ref;
      if (c->field == CARNET_F_CUSTOMER && c->vlen == 18)
        memcpy(ref.b, c->val + 2, 16);
      else if (c->field == CARNET_F_CUSTOMERS && c->klen == 16)
        memcpy(ref.b, c->key, 16);
      else
        continue;
      for (size_t j = 0; j < cust->n && owner == NULL; j++)
        if (memcmp(cust->ids[j].b, ref.b, 16) == 0) owner = &cust->ids[j];
    }
    if (owner) rc = related_add(rl, &id, owner, kept_document(&e));
    carnet__entity_free(&e);
    if (rc) break;
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

/* X2: a kept document gets a fresh sequence number on every cell (stamps
 * unchanged), so the next stream sends it whole to every peer. */
static int reannounce(carnet_txn *t, carnet__loaded *l, msgpack_sbuffer *sb) {
  uint64_t seq = carnet__txn_next_seq(t);
  for (size_t i = 0; i < l->e.n; i++)
    l->e.cells[i].seq = seq;
  l->e.seq = seq;
  return carnet__save(t, l, sb);
}

/* Erase the customers of `cust` and what belongs to them. */
static int erase_all(carnet_txn *t, const idset *cust) {
  related rl = {0};
  carnet__loaded l;
  msgpack_sbuffer sb;
  int rc = 0;
  msgpack_sbuffer_init(&sb);
  for (size_t i = 0; rc == 0 && i < cust->n; i++) {
    rc = carnet__load(t->st, &cust->ids[i], &l);
    if (rc == 0 && l.existed && l.e.kind != CARNET_KIND_CUSTOMER) rc = CARNET_EPROTO;
    if (rc == 0) rc = oppose_keys(t->st, &l);
    if (rc == 0) rc = drop_entity(t, &l, &cust->ids[i]);
    carnet__loaded_free(&l);
  }
  if (rc == 0) rc = related_find(t->st, cust, &rl);
  for (size_t i = 0; i < rl.n && rc == 0; i++) {
    if ((rc = carnet__load(t->st, &rl.ids[i], &l)) == 0)
      rc = rl.keep[i] ? reannounce(t, &l, &sb) : drop_entity(t, &l, &rl.owner[i]);
    /* X6: a kept invoice stays, its files go (a file cannot be
     * pseudonymised). */
    if (rc == 0 && rl.keep[i]) rc = drop_attachments(t, &rl.ids[i], &rl.owner[i]);
    carnet__loaded_free(&l);
  }
  related_free(&rl);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

static int ask_compaction(carnet__stxn *st, const carnet_id *ids, size_t n);

/* The certificate of member `id` of an erased person: the same erasure
 * (time, replica, reason, scope) as `of`, so that every replica that
 * derives it derives the same one, confirmed by this replica. */
static void member_cert(const carnet_erasure *of, const carnet_id *id, uint64_t me,
                        carnet_erasure *out) {
  memcpy(out, of, offsetof(carnet_erasure, nconfirmed));
  out->id = *id;
  out->nconfirmed = 0;
  carnet__cert_confirm(out, me);
}

/* Erase person `c` (scope PERSON) on this replica: its customer and every
 * live customer merged with it, each with its certificate. `stored` says
 * c's own certificate is stored already (a certificate widened from RECORD
 * to PERSON): then only the members still live are erased. */
static int erase_person(carnet_txn *t, const carnet_erasure *c, bool stored) {
  idset who = {0};
  CARNET_ASSERT(c->scope == CARNET_ERASE_PERSON);
  carnet_erasure *m = carnet__malloc(sizeof *m);
  int rc = m ? person_of(t->st, &c->id, &who) : CARNET_ENOMEM;
  if (rc == 0 && stored) { /* c's customer is gone already */
    who.ids[0] = who.ids[--who.n];
    if (who.n == 0) goto done;
  }
  if (rc == 0) rc = erase_all(t, &who);
  for (size_t i = 0; rc == 0 && i < who.n; i++) {
    if (memcmp(who.ids[i].b, c->id.b, 16) == 0) {
      rc = cert_store(t->st, c);
      continue;
    }
    member_cert(c, &who.ids[i], t->r->id, m);
    rc = cert_store(t->st, m);
  }
  if (rc == 0) rc = ask_compaction(t->st, who.ids, who.n);
done:
  idset_free(&who);
  carnet__free(m);
  return rc;
}

int carnet__cert_apply(carnet_txn *t, const carnet_erasure *c, bool *changed) {
  carnet_erasure cur;
  int rc = cert_load(t->st, &c->id, &cur, NULL);
  *changed = false;
  if (rc == 0) {
    /* Two erasures of one customer, one of the person: the person goes. */
    bool widened = cur.scope != CARNET_ERASE_PERSON && c->scope == CARNET_ERASE_PERSON;
    bool ch = carnet__cert_merge(&cur, c);
    ch |= carnet__cert_confirm(&cur, t->r->id);
    if (!ch) return 0;
    *changed = true;
    if ((rc = cert_store(t->st, &cur))) return rc;
    return widened ? erase_person(t, &cur, true) : 0;
  }
  if (rc != CARNET_ENOTFOUND) return rc;
  cur = *c;
  if (cur.scope != CARNET_ERASE_PERSON) cur.scope = CARNET_ERASE_RECORD;
  carnet__cert_confirm(&cur, t->r->id);
  CARNET_ASSERT(cur.nconfirmed > 0); /* this replica confirms what it applies */
  t->hlc = carnet__hlc_recv(t->hlc, c->at);
  *changed = true;
  if (cur.scope == CARNET_ERASE_PERSON) return erase_person(t, &cur, false);
  idset one = {&cur.id, 1, 1};
  if ((rc = erase_all(t, &one)) || (rc = cert_store(t->st, &cur))) return rc;
  return ask_compaction(t->st, &cur.id, 1);
}

/* A customer received with a present merge edge to a customer erased as a
 * person (scope PERSON) is part of that person: the merge was made on a
 * replica that had not learnt of the erasure yet. It is erased with a
 * certificate of its own, derived from that one (member_cert), which
 * erases its own group in turn. `*erased` says it was. The received
 * version is saved first, so that what goes to the opposition list and
 * the edges the walk follows are the merged ones. */
static int erase_if_merged_with_person(carnet_txn *t, carnet__loaded *l, bool *erased) {
  carnet_erasure *pc = NULL;
  int rc = 0;
  *erased = false;
  if (l->e.kind != CARNET_KIND_CUSTOMER) return 0;
  for (size_t i = 0; i < l->e.n && rc == 0 && !*erased; i++) {
    const carnet__cell *c = &l->e.cells[i];
    if (c->field != CARNET_F_SAME_AS || c->klen != 16 || !cell_true(c)) continue;
    carnet_id target;
    memcpy(target.b, c->key, 16);
    if (pc == NULL && (pc = carnet__malloc(sizeof *pc)) == NULL) return CARNET_ENOMEM;
    rc = cert_load(t->st, &target, pc, NULL);
    if (rc == CARNET_ENOTFOUND) {
      rc = 0;
      continue;
    }
    if (rc || pc->scope != CARNET_ERASE_PERSON) continue;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    rc = carnet__save(t, l, &sb);
    msgpack_sbuffer_destroy(&sb);
    carnet_erasure *mine = rc ? NULL : carnet__malloc(sizeof *mine);
    if (rc == 0 && mine == NULL) rc = CARNET_ENOMEM;
    if (rc == 0) {
      bool changed;
      member_cert(pc, &l->e.id, t->r->id, mine);
      rc = carnet__cert_apply(t, mine, &changed);
      *erased = rc == 0;
    }
    carnet__free(mine);
  }
  carnet__free(pc);
  return rc;
}

int carnet__erase_filter(carnet_txn *t, carnet__loaded *l, bool *drop) {
  carnet_buf v;
  carnet_id owner;
  bool found;
  *drop = false;
  int rc = carnet__store_get(t->st, CARNET__T_ERASED, l->e.id.b, 16, &v);
  if (rc == 0) {
    if (v.len != 16) return CARNET_ECORRUPT;
    memcpy(owner.b, v.base, 16);
    if (memcmp(owner.b, l->e.id.b, 16) != 0 && kept_document(&l->e))
      return carnet__store_del(t->st, CARNET__T_ERASED, l->e.id.b, 16); /* X2 */
    *drop = true;
    return l->existed ? drop_entity(t, l, &owner) : 0;
  }
  if (rc != CARNET_ENOTFOUND) return rc;
  if (l->e.kind == CARNET_KIND_ATTACHMENT) {
    if ((rc = attachment_erased_owner(t->st, &l->e, &owner, &found)) || !found) return rc;
    *drop = true;
    return drop_entity(t, l, &owner);
  }
  if ((rc = erased_owner(t->st, &l->e, &owner, &found))) return rc;
  if (found && !kept_document(&l->e)) {
    *drop = true;
    return drop_entity(t, l, &owner);
  }
  /* X5: a merge with an erased person, made before its replica knew. */
  return found ? 0 : erase_if_merged_with_person(t, l, drop);
}

/* --- the API ------------------------------------------------------------------ */

int carnet_record_erased(carnet_replica *r, const carnet_id *id, bool *out) {
  carnet__stxn *st;
  *out = false;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = carnet__erased(st, id, out);
  carnet__read_end(r, st);
  return rc;
}

int carnet_erasure_get(carnet_replica *r, const carnet_id *id, carnet_erasure *out) {
  carnet__stxn *st;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = cert_load(st, id, out, NULL);
  carnet__read_end(r, st);
  if (rc == CARNET_ECORRUPT) carnet__fail(r, rc, "a stored erasure certificate is damaged");
  return rc;
}

static int erase_customer(carnet_replica *r, const carnet_id *id, const char *reason,
                          carnet_erase_scope scope, carnet_erasure *out, bool *compacted) {
  carnet_txn *t = NULL;
  carnet__loaded l;
  carnet_erasure c;
  bool changed, known = false;
  char hex[CARNET_ID_HEX_LEN + 1];
  int rc;
  if (compacted) *compacted = false;
  if (reason == NULL) reason = "";
  if (carnet__text_valid(reason, CARNET_ERASE_REASON_MAX, false) != 0)
    return carnet__fail(r, CARNET_EINVAL, "invalid reason: one line of UTF-8, at most %u bytes",
                        CARNET_ERASE_REASON_MAX);
  carnet_id_format(id, hex);
  if ((rc = carnet_txn_begin(r, &t))) return rc;
  if ((rc = carnet__erased(t->st, id, &known))) goto done;
  if (known) {
    rc = carnet__fail(r, CARNET_EEXIST, "%s is already erased ('carnet erasures' lists it)", hex);
    goto done;
  }
  rc = carnet__load(t->st, id, &l);
  bool ok = rc == 0 && l.existed && l.e.kind == CARNET_KIND_CUSTOMER;
  carnet__loaded_free(&l);
  if (rc) goto done;
  if (!ok) {
    rc = carnet__fail(r, CARNET_ENOTFOUND, "no customer %s", hex);
    goto done;
  }
  memset(&c, 0, sizeof c);
  c.id = *id;
  c.at = carnet__txn_tick(t);
  c.origin = r->id;
  c.scope = (uint8_t)scope;
  memcpy(c.reason, reason, strlen(reason));
  if ((rc = carnet__cert_apply(t, &c, &changed))) {
    carnet__fail(r, rc, "cannot erase %s: %s", hex, carnet__store_why(r->store));
    goto done;
  }
  rc = carnet_txn_commit(t);
  t = NULL;
  if (rc) goto done;
  if (out && (rc = carnet_erasure_get(r, id, out))) goto done;
  /* The erasure is durable; a compaction that cannot run now runs later
   * (carnet_replica_get_compaction says why it did not). */
  bool ran = false;
  (void)carnet_replica_compact(r, false, &ran);
  carnet__clear_err(r);
  if (compacted) *compacted = ran;
done:
  if (t) carnet_txn_abort(t);
  return rc;
}

int carnet_record_erase(carnet_replica *r, const carnet_id *id, const char *reason,
                        carnet_erasure *out, bool *compacted) {
  return erase_customer(r, id, reason, CARNET_ERASE_PERSON, out, compacted);
}

int carnet_record_erase_one(carnet_replica *r, const carnet_id *id, const char *reason,
                            carnet_erasure *out, bool *compacted) {
  return erase_customer(r, id, reason, CARNET_ERASE_RECORD, out, compacted);
}

int carnet_erasure_group(carnet_replica *r, const carnet_id *id, carnet_id **out, size_t *n) {
  carnet__stxn *st;
  idset who = {0};
  bool erased = false, live = false;
  char hex[CARNET_ID_HEX_LEN + 1];
  *out = NULL;
  *n = 0;
  carnet_id_format(id, hex);
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  if ((rc = carnet__erased(st, id, &erased)) == 0 && erased)
    rc = carnet__fail(r, CARNET_EEXIST, "%s is already erased ('carnet erasures' lists it)", hex);
  if (rc == 0 && (rc = carnet__group_member_ok(st, id, &live)) == 0 && !live)
    rc = carnet__fail(r, CARNET_ENOTFOUND, "no customer %s", hex);
  if (rc == 0) rc = person_of(st, id, &who);
  carnet__read_end(r, st);
  if (rc) {
    idset_free(&who);
    return rc;
  }
  qsort(who.ids, who.n, sizeof who.ids[0], id_cmp);
  *out = who.ids;
  *n = who.n;
  return 0;
}

int carnet_erasure_list(carnet_replica *r, int (*cb)(const carnet_erasure *e, void *data),
                        void *data) {
  carnet__stxn *st;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  carnet_erasure *e = carnet__malloc(sizeof *e);
  if (e == NULL) return CARNET_ENOMEM;
  int rc = carnet__read_begin(r, &st);
  if (rc) {
    carnet__free(e);
    return rc;
  }
  if ((rc = carnet__store_cursor(st, CARNET__T_CERTS, &cur))) goto done;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet_id id;
    if (k.len != 16) {
      rc = CARNET_ECORRUPT;
      break;
    }
    memcpy(id.b, k.base, 16);
    if ((rc = cert_load(st, &id, e, NULL)) || (rc = cb(e, data))) break;
  }
  if (rc == CARNET_ENOTFOUND) rc = 0;
done:
  carnet__store_cursor_close(cur);
  carnet__read_end(r, st);
  carnet__free(e);
  if (rc == CARNET_ECORRUPT) carnet__fail(r, rc, "a stored erasure certificate is damaged");
  return rc;
}

int carnet_erasure_check_record(carnet_replica *r, const carnet_id *id, bool *out,
                                carnet_id *cert) {
  carnet__stxn *st;
  carnet__loaded l;
  carnet_buf v;
  *out = false;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  carnet__keyset ks;
  ks.n = 0;
  if ((rc = carnet__load_lazy(st, id, &l)) == 0 && !l.existed) rc = CARNET_ENOTFOUND;
  /* The e-mail and phone keys of a live customer, as the opposition list
   * hashes them (not the index's keys: another hash). */
  if (rc == 0 && l.has_secret)
    rc = carnet__index_blind_keys(&l.e, &l.secret, carnet__oppose_hash, OPPOSE_PARTS, false,
                                  &l.arena, &ks);
  for (size_t i = 0; rc == 0 && !*out && i < ks.n; i++) {
    if (!opposable(&ks.keys[i])) continue;
    rc = carnet__store_get(st, CARNET__T_OPPOSE, ks.keys[i].base, 1 + CARNET__INDEX_HASH_LEN, &v);
    if (rc == CARNET_ENOTFOUND) {
      rc = 0;
    } else if (rc == 0 && v.len == 16) {
      *out = true;
      if (cert) memcpy(cert->b, v.base, 16);
    }
  }
  carnet__loaded_free(&l);
  carnet__read_end(r, st);
  return rc;
}

int carnet_erasure_check_value(carnet_replica *r, carnet_lookup_kind kind, const char *value,
                               bool *out, carnet_id *cert) {
  char norm[255];
  uint8_t key[1 + CARNET__INDEX_HASH_LEN];
  carnet__blind_secret secret;
  carnet__stxn *st;
  carnet_buf v;
  int rc;
  *out = false;
  if (kind == CARNET_LOOKUP_EMAIL) {
    key[0] = CARNET__IDX_EMAIL;
    rc = carnet_email_key(value, norm, sizeof norm);
  } else if (kind == CARNET_LOOKUP_PHONE) {
    key[0] = CARNET__IDX_PHONE;
    rc = carnet__phone_key(r, value, norm, sizeof norm);
  } else {
    return carnet__fail(r, CARNET_EINVAL, "the opposition list holds e-mails and phones only");
  }
  if (rc) return carnet__fail(r, CARNET_EINVAL, "'%s' is not a valid e-mail or phone", value);
  if ((rc = carnet__read_begin(r, &st))) return rc;
  rc = carnet__index_secret(st, &secret);
  if (rc == CARNET_ENOTFOUND) { /* never written to: nobody was erased here */
    rc = 0;
    goto done;
  }
  if (rc) goto done;
  rc = carnet__oppose_hash(&secret, key[0], norm, strlen(norm), key + 1);
  sodium_memzero(&secret, sizeof secret);
  if (rc == 0) rc = carnet__store_get(st, CARNET__T_OPPOSE, key, sizeof key, &v);
  if (rc == CARNET_ENOTFOUND) {
    rc = 0;
  } else if (rc == 0 && v.len == 16) {
    *out = true;
    if (cert) memcpy(cert->b, v.base, 16);
  }
done:
  carnet__read_end(r, st);
  return rc;
}

/* --- sessions ------------------------------------------------------------------ */

int carnet__certs_seq(carnet_replica *r, uint64_t *out) {
  carnet__stxn *st;
  *out = 0;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = carnet__meta_get_u64(st, CARNET__META_CERTSEQ, out);
  carnet__read_end(r, st);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

int carnet__certs_since(carnet_replica *r, uint64_t after, uint64_t *upto,
                        int (*cb)(const void *bytes, size_t len, void *data), void *data) {
  carnet__stxn *st;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  *upto = after;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = carnet__meta_get_u64(st, CARNET__META_CERTSEQ, upto);
  if (rc == CARNET_ENOTFOUND) {
    *upto = 0;
    rc = 0;
    goto done;
  }
  if (rc || *upto <= after || (rc = carnet__store_cursor(st, CARNET__T_CERTS, &cur))) goto done;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    uint64_t lseq = 0;
    carnet_buf cert;
    if ((rc = carnet__cert_stored_split(v, &lseq, &cert))) break;
    if (lseq > after && (rc = cb(cert.base, cert.len, data))) break;
  }
  if (rc == CARNET_ENOTFOUND) rc = 0;
done:
  carnet__store_cursor_close(cur);
  carnet__read_end(r, st);
  return rc;
}

int carnet__cert_receive(carnet_replica *r, uint64_t from, const void *bytes, size_t len,
                         msgpack_sbuffer *reply) {
  carnet_erasure *in = carnet__malloc(sizeof *in), *merged = carnet__malloc(sizeof *merged);
  carnet_txn *t = NULL;
  bool changed;
  int bad = 0, rc;
  if (in == NULL || merged == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  if ((rc = carnet__cert_decode(bytes, len, in, &bad))) {
    rc = carnet__fail(r, CARNET_EPROTO,
                      "malformed erasure certificate (check at engine/model/cert.c:%d)", bad);
    goto done;
  }
  if (!carnet__hlc_plausible(in->at, carnet__now_ms(r))) {
    rc = carnet__fail(r, CARNET_EPROTO,
                      "an erasure certificate is dated more than 7 days ahead "
                      "of this machine's clock; check the clocks");
    goto done;
  }
  if ((rc = carnet_txn_begin(r, &t))) goto done;
  if (from) carnet__feed_from_peer(t, from);
  if ((rc = carnet__cert_apply(t, in, &changed)) == CARNET_EPROTO) {
    carnet__fail(r, rc, "an erasure certificate names an entity that is not a customer");
    goto done;
  }
  if (rc) goto done;
  if ((rc = cert_load(t->st, &in->id, merged, NULL))) goto done;
  rc = carnet_txn_commit(t);
  t = NULL;
  if (rc == 0 && !carnet__cert_equal(merged, in)) rc = carnet__cert_encode(merged, reply);
done:
  if (rc && rc != CARNET_EPROTO && t)
    carnet__fail(r, rc, "cannot apply an erasure certificate: %s", carnet__store_why(r->store));
  else if (rc && rc != CARNET_EPROTO)
    carnet__fail(r, rc, "cannot apply an erasure certificate: %s", carnet_replica_errmsg(r));
  if (t) carnet_txn_abort(t);
  carnet__free(in);
  carnet__free(merged);
  return rc;
}

/* --- compaction ------------------------------------------------------------- */

/* The meta value compact_pending: how many erasures await compaction
 * (8 bytes, big-endian) then the customer ids of the first
 * COMPACT_IDS_MAX of them. A value of one byte was written by builds of
 * schema 3 and before (a flag: an unknown number of erasures). */
#define COMPACT_IDS_MAX 256u

static int ask_compaction(carnet__stxn *st, const carnet_id *ids, size_t n) {
  carnet_buf v;
  uint8_t *val = NULL;
  size_t len = 8;
  uint64_t count = 0;
  int rc =
      carnet__store_get(st, CARNET__T_META, CARNET__META_COMPACT, strlen(CARNET__META_COMPACT), &v);
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  size_t had = rc == 0 && v.len >= 8 && (v.len - 8) % 16 == 0 ? (v.len - 8) / 16 : 0;
  if (rc == 0 && v.len >= 8) count = carnet__be64_get(v.base);
  size_t add = n;
  if (had + add > COMPACT_IDS_MAX) add = had < COMPACT_IDS_MAX ? COMPACT_IDS_MAX - had : 0;
  if ((val = carnet__malloc(8 + 16 * (had + add))) == NULL) return CARNET_ENOMEM;
  carnet__be64_put(val, count + n);
  if (had) memcpy(val + 8, (const uint8_t *)v.base + 8, 16 * had);
  for (size_t i = 0; i < add; i++)
    memcpy(val + 8 + 16 * (had + i), ids[i].b, 16);
  len = 8 + 16 * (had + add);
  rc = carnet__store_put(st, CARNET__T_META, CARNET__META_COMPACT, strlen(CARNET__META_COMPACT),
                         val, len, 0);
  carnet__free(val);
  return rc;
}

int carnet__erase_ask_compaction(carnet__stxn *st) {
  return ask_compaction(st, NULL, 0);
}

int carnet__erase_seal_certs(carnet__stxn *st) {
  uint64_t n = 0;
  int rc = carnet__store_reseal(st, CARNET__T_CERTS, &n);
  /* The clear copies stay in free pages until a compaction. */
  return rc == 0 && n ? ask_compaction(st, NULL, 0) : rc;
}

/* After failed compactions, an attempt that is not forced waits 1 s, then
 * 2, 4... up to 64 s (a running node looks every second: a full disk is
 * not copied to every second, and space freed is used soon). */
#define COMPACT_RETRY_MS 1000u
#define COMPACT_RETRY_MAX_SHIFT 6

static void compact_note(carnet_replica *r, int rc, const char *why) {
  r->compact_rc = rc;
  snprintf(r->compact_why, sizeof r->compact_why, "%.255s", why);
  if (rc == 0 || rc == CARNET_EBUSY) {
    r->compact_fails = 0;
    r->compact_retry_ms = 0;
    return;
  }
  unsigned shift =
      r->compact_fails < COMPACT_RETRY_MAX_SHIFT ? r->compact_fails : COMPACT_RETRY_MAX_SHIFT;
  r->compact_fails++;
  r->compact_retry_ms = carnet__now_ms(r) + ((uint64_t)COMPACT_RETRY_MS << shift);
}

int carnet_replica_compact(carnet_replica *r, bool force, bool *done) {
  carnet__stxn *st = NULL;
  carnet_buf v;
  bool ran = false;
  int rc;
  if (done) *done = false;
  if (r->txn) return carnet__fail(r, CARNET_EMISUSE, "compaction with a transaction open");
  carnet__park_flush(r); /* a bulk group between its owner's calls is committed first */
  if ((rc = carnet__store_begin(r->store, false, &st))) return rc;
  rc =
      carnet__store_get(st, CARNET__T_META, CARNET__META_COMPACT, strlen(CARNET__META_COMPACT), &v);
  carnet__store_abort(st);
  st = NULL;
  if (rc == CARNET_ENOTFOUND && !force) {
    compact_note(r, 0, "");
    return 0;
  }
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  /* A failure (a full disk) is tried again later, not at every tick. */
  if (!force && r->compact_retry_ms && carnet__now_ms(r) < r->compact_retry_ms) return 0;
  if ((rc = carnet__store_compact(r->store, &ran))) {
    carnet__fail(r, rc, "cannot compact the replica (%s): %s",
                 rc == CARNET_ENOSPC ? "no space left for the compacted copy"
                                     : carnet_error_name(rc),
                 carnet__store_why(r->store));
    compact_note(r, rc, r->err);
    return rc;
  }
  if (!ran) {
    compact_note(r, CARNET_EBUSY,
                 "another process has the replica open (carnet serve?): it compacts the data "
                 "file as soon as it can");
    return 0;
  }
  /* The flag goes only now: a crash before this line compacts again. */
  if ((rc = carnet__store_begin(r->store, true, &st)) == 0) {
    rc = carnet__store_del(st, CARNET__T_META, CARNET__META_COMPACT, strlen(CARNET__META_COMPACT));
    if (rc == 0 || rc == CARNET_ENOTFOUND) {
      rc = carnet__store_commit(st);
    } else {
      carnet__store_abort(st);
    }
  }
  if (rc) {
    carnet__fail(r, rc, "cannot record the compaction: %s", carnet__store_why(r->store));
    compact_note(r, rc, r->err);
    return rc;
  }
  compact_note(r, 0, "");
  if (done) *done = true;
  return 0;
}

int carnet_replica_get_compaction(carnet_replica *r, carnet_compaction *out, carnet_id *ids,
                                  size_t max, size_t *n) {
  carnet__stxn *st;
  carnet_buf v;
  memset(out, 0, sizeof *out);
  if (n) *n = 0;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc =
      carnet__store_get(st, CARNET__T_META, CARNET__META_COMPACT, strlen(CARNET__META_COMPACT), &v);
  if (rc == 0) {
    out->pending = true;
    if (v.len >= 8 && (v.len - 8) % 16 == 0) {
      out->erasures = carnet__be64_get(v.base);
      size_t have = (v.len - 8) / 16;
      for (size_t i = 0; i < have && i < max && ids; i++)
        memcpy(ids[i].b, (const uint8_t *)v.base + 8 + 16 * i, 16);
      if (n) *n = have < max ? have : max;
    } else if (v.len != 1) {
      rc = carnet__fail(r, CARNET_ECORRUPT, "the compaction mark is damaged");
    }
  } else if (rc == CARNET_ENOTFOUND) {
    rc = 0;
  }
  carnet__read_end(r, st);
  if (rc) {
    memset(out, 0, sizeof *out);
    if (n) *n = 0;
    return rc;
  }
  out->last_error = out->pending ? r->compact_rc : 0;
  snprintf(out->last_why, sizeof out->last_why, "%s", out->pending ? r->compact_why : "");
  return 0;
}
