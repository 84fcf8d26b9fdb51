/* engine/top/verify.c - reading a replica end to end to find damage, and
 * rebuilding what is derived from the rows (carnet/verify.h).
 *
 * The rows (table `entities`) are the truth; the change index (E1) and the
 * index table (E2: blind keys, reference codes, merge edges and decisions)
 * are derived from them, and so can be checked against them both ways and
 * rebuilt from them:
 *
 *   pass 1  entities   each row decodes and passes the schema; it is not
 *                      an erased entity (X1); its change entry is at its
 *                      sequence number; every index key it derives is in
 *                      the index (each one's 64-bit keyed hash is kept)
 *   pass 2  changes    each entry points at a row with that sequence
 *                      number (an entry left behind by a later change of
 *                      the row is stale)
 *   pass 3  index      each key is one a row derives (its hash is among
 *                      those of pass 1: else a stale or damaged key) and
 *                      its value is empty (a bit flip that made an empty
 *                      value a 4 KB blob was once reported sound)
 *
 * The hashes cost 8 bytes per derived key (48 MB for a million customers
 * of six keys); they are SipHash with a key drawn for the run, so a
 * damaged key matches a derived one by chance with odds of 2^-64 per pair.
 *
 * Repair rebuilds the change index and the index table from the rows in
 * one write transaction (empty both, then write what each row derives),
 * and deletes the rows of erased entities that it finds (X1: their
 * erasure had deleted them; the replica is marked for compaction). Rows
 * that do not decode are left as they are: nothing derives from them, and
 * `carnet salvage` is the way out.
 */
#include "carnet/verify.h"

#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/mp.h"
#include "engine/crm/attach.h"
#include "engine/crm/searchsig.h"
#include "engine/erase/erase.h"
#include "engine/model/schema.h"
#include "engine/store/changelog.h"
#include "engine/store/entity_io.h"
#include "engine/store/replica_int.h"

#define PROGRESS_EVERY 4096u
/* Index writes wait in the transaction (store.h); a rebuild applies them
 * every so many, as index_all does (engine/store/index.c). */
#define REPAIR_PENDING_MAX 65536u

/* --- the hashes of the derived keys ----------------------------------------- */

typedef struct hashset {
  uint64_t *v;
  size_t n, cap;
  uint8_t key[crypto_shorthash_KEYBYTES];
} hashset;

static uint64_t key_hash(const hashset *h, const void *k, size_t n) {
  uint8_t out[crypto_shorthash_BYTES];
  uint64_t v = 0;
  crypto_shorthash(out, k, n, h->key);
  for (size_t i = 0; i < sizeof out; i++)
    v = v << 8 | out[i];
  return v;
}

static int hash_add(hashset *h, uint64_t v) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? 2 * h->cap : 4096;
    uint64_t *p = carnet__realloc(h->v, cap * sizeof *p);
    if (p == NULL) return CARNET_ENOMEM;
    h->v = p;
    h->cap = cap;
  }
  h->v[h->n++] = v;
  return 0;
}

static int u64_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* --- the check ---------------------------------------------------------------- */

typedef struct checker {
  carnet_replica *r;
  carnet__stxn *st;
  carnet_check_report *o;
  carnet_progress_fn *fn;
  void *ctx;
  uint64_t done, total;
  hashset derived;
  uint64_t mark; /* the blind index's mark (engine/store/index.c, E3) */
} checker;

static uint64_t problems(const carnet_check_report *o) {
  return o->bad_rows + o->erased_rows + o->bad_changes + o->missing_keys + o->extra_keys +
         o->bad_values;
}

/* Note the first problem in the replica's errmsg; `count` has just grown. */
static void first(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void first(checker *c, const char *fmt, ...) {
  char msg[CARNET__ERRMSG_MAX];
  va_list ap;
  if (problems(c->o) != 1) return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  carnet__fail(c->r, CARNET_ECORRUPT, "%s", msg);
}

static void tick(checker *c) {
  c->done++;
  if (c->fn && c->done % PROGRESS_EVERY == 0) c->fn(c->ctx, c->done, c->total);
}

/* A short description of an index key for a message. */
static void describe_key(const void *k, size_t n, char *out, size_t len) {
  const uint8_t *b = k;
  char hex[CARNET_ID_HEX_LEN + 1] = "";
  if (n >= 17) {
    carnet_id id;
    memcpy(id.b, b + n - 16, 16);
    carnet_id_format(&id, hex);
  }
  snprintf(out, len, "'%c' key of %s (%zu bytes)", n && b[0] >= 0x20 && b[0] < 0x7f ? b[0] : '?',
           hex[0] ? hex : "no entity", n);
}

/* Pass 1: one entity. */
static int check_entity(checker *c, const carnet_id *id) {
  carnet_check_report *o = c->o;
  carnet__loaded l;
  uint8_t seqkey[8];
  carnet_buf v;
  char hex[CARNET_ID_HEX_LEN + 1];
  bool erased = false;
  carnet_id_format(id, hex);
  int rc = carnet__load(c->st, id, &l);
  if (rc == CARNET_ECORRUPT) {
    o->bad_rows++;
    first(c, "a row does not decode (entity %s): carnet salvage copies what can be read", hex);
    rc = 0;
    goto done;
  }
  if (rc) goto done;
  for (size_t i = 0; i < l.e.n; i++)
    if (carnet__cell_check(l.e.kind, &l.e.cells[i]) != 0) {
      o->bad_rows++;
      first(c, "a stored value fails the schema (entity %s)", hex);
      goto done; /* what it derives means nothing */
    }
  if ((rc = carnet__erased(c->st, id, &erased))) goto done;
  if (erased) {
    o->erased_rows++;
    first(c, "a row of an erased entity is back (entity %s): repair deletes it", hex);
    goto done; /* nothing of it is derived: its keys would count as extra */
  }
  carnet__be64_put(seqkey, l.e.seq);
  rc = carnet__store_get(c->st, CARNET__T_CHANGES, seqkey, 8, &v);
  if (rc == CARNET_ENOTFOUND || (rc == 0 && ((v.len != 16 && v.len != CARNET__CHANGE_ENTRY_LEN) ||
                                             memcmp(v.base, id->b, 16) != 0))) {
    o->bad_changes++;
    first(c, "an entity has no change-index entry at its sequence number (entity %s)", hex);
    rc = 0;
  } else if (rc == 0 && v.len == CARNET__CHANGE_ENTRY_LEN) {
    /* A wrong summary would keep a change from a peer: check it too. */
    uint8_t want[CARNET__CHANGE_ENTRY_LEN];
    carnet__change_entry(&l.e, want);
    if (memcmp(v.base, want, sizeof want) != 0) {
      o->bad_changes++;
      first(c, "a change-index entry does not match its entity (entity %s)", hex);
    }
  }
  if (rc) goto done;
  for (size_t i = 0; i < l.old_keys.n; i++) {
    const carnet_buf *k = &l.old_keys.keys[i];
    if ((rc = hash_add(&c->derived, key_hash(&c->derived, k->base, k->len)))) goto done;
    rc = carnet__store_get(c->st, CARNET__T_INDEX, k->base, k->len, &v);
    /* E3: above the mark, a blind key may still wait for the catch-up;
     * none may be there that the row does not derive (step 3). */
    if (rc == CARNET_ENOTFOUND && l.e.seq > c->mark &&
        (carnet__index_tag_part(((const uint8_t *)k->base)[0]) & CARNET__IDX_PART_BLIND)) {
      rc = 0;
    } else if (rc == CARNET_ENOTFOUND) {
      o->missing_keys++;
      first(c, "an index key is missing (entity %s)", hex);
      rc = 0;
    } else if (rc) {
      goto done;
    }
  }
done:
  carnet__loaded_free(&l);
  return rc;
}

/* The sequence number of a stored row (its second object). */
static bool row_seq(carnet_buf row, uint64_t *seq) {
  carnet__mp m;
  uint64_t kind;
  if (carnet__mp_init(&m, row.base, row.len)) return false;
  bool ok = carnet__mp_uint(&m, &kind) == 0 && carnet__mp_uint(&m, seq) == 0;
  carnet__mp_destroy(&m);
  return ok;
}

static int check_all(checker *c) {
  carnet_check_report *o = c->o;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  char desc[96];
  int rc;
  if ((rc = carnet__index_mark(c->st, &c->mark))) return rc;
  c->total = carnet__store_entries(c->st, CARNET__T_ENTITIES) +
             carnet__store_entries(c->st, CARNET__T_CHANGES) +
             carnet__store_entries(c->st, CARNET__T_INDEX);
  /* 1. Entities. */
  if ((rc = carnet__store_cursor(c->st, CARNET__T_ENTITIES, &cur))) return rc;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, NULL); rc == 0;
       rc = carnet__store_next(cur, &k, NULL)) {
    carnet_id id;
    o->entities++;
    tick(c);
    if (k.len != 16) {
      rc = carnet__fail(c->r, CARNET_ECORRUPT, "a damaged entity key");
      goto done;
    }
    memcpy(id.b, k.base, 16);
    if ((rc = check_entity(c, &id))) goto done;
  }
  if (rc != CARNET_ENOTFOUND) goto done;
  carnet__store_cursor_close(cur);
  cur = NULL;
  if (c->derived.n) qsort(c->derived.v, c->derived.n, sizeof *c->derived.v, u64_cmp);

  /* 2. The change index. */
  if ((rc = carnet__store_cursor(c->st, CARNET__T_CHANGES, &cur))) goto done;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet_buf row;
    carnet_id id;
    uint64_t seq = 0;
    o->changes++;
    tick(c);
    if (k.len != 8 || (v.len != 16 && v.len != CARNET__CHANGE_ENTRY_LEN)) {
      o->bad_changes++;
      first(c, "a damaged change-index entry (%zu-byte key, %zu-byte value)", k.len, v.len);
      continue;
    }
    memcpy(id.b, v.base, 16);
    char hex[CARNET_ID_HEX_LEN + 1];
    carnet_id_format(&id, hex);
    int grc = carnet__store_get(c->st, CARNET__T_ENTITIES, id.b, 16, &row);
    if (grc == CARNET_ENOTFOUND) {
      o->bad_changes++;
      first(c, "a change-index entry points at no entity (entity %s)", hex);
    } else if (grc == 0 && row_seq(row, &seq) && seq < carnet__be64_get(k.base)) {
      /* Below the row's: stale, waiting for a bulk purge (engine/store/changelog.h
       * L1). Above it: the row went back, or the entry is damaged. */
      o->bad_changes++;
      first(c,
            "a change-index entry ahead of its row (entity %s, sequence %llu, the row's is %llu)",
            hex, (unsigned long long)carnet__be64_get(k.base), (unsigned long long)seq);
    } else if (grc && grc != CARNET_ECORRUPT) {
      rc = grc;
      goto done;
    }
  }
  if (rc != CARNET_ENOTFOUND) goto done;
  carnet__store_cursor_close(cur);
  cur = NULL;

  /* 3. The index, both ways: every key one a row derives, every value empty. */
  if ((rc = carnet__store_cursor(c->st, CARNET__T_INDEX, &cur))) goto done;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    o->index_keys++;
    tick(c);
    uint64_t h = key_hash(&c->derived, k.base, k.len);
    if (c->derived.n == 0 || bsearch(&h, c->derived.v, c->derived.n, sizeof h, u64_cmp) == NULL) {
      o->extra_keys++;
      describe_key(k.base, k.len, desc, sizeof desc);
      first(c, "an index key that no row derives: %s (stale or damaged)", desc);
    }
    if (v.len != 0) {
      o->bad_values++;
      describe_key(k.base, k.len, desc, sizeof desc);
      first(c, "an index entry holds a %zu-byte value where it holds none: %s (damaged)", v.len,
            desc);
    }
  }
  if (rc == CARNET_ENOTFOUND) rc = 0;
done:
  carnet__store_cursor_close(cur);
  return rc;
}

int carnet_replica_check(carnet_replica *r, carnet_progress_fn *fn, void *ctx,
                         carnet_check_report *out) {
  checker c = {.r = r, .fn = fn, .ctx = ctx};
  carnet_check_report o;
  int rc;
  if (r == NULL || out == NULL) return CARNET_EMISUSE;
  if (out->size < sizeof(size_t))
    return carnet__fail(r, CARNET_EMISUSE,
                        "carnet_check_report has no size: declare it with "
                        "CARNET_CHECK_REPORT_INIT");
  memset(&o, 0, sizeof o);
  c.o = &o;
  carnet__clear_err(r);
  randombytes_buf(c.derived.key, sizeof c.derived.key);
  if ((rc = carnet__read_begin(r, &c.st))) goto out;
  rc = check_all(&c);
  carnet__read_end(r, c.st);
  /* Content files of no attachment (engine/crm/attach.h A2, A3): only when
   * every row was read, since the sweep keeps the files of the rows it
   * reads. */
  if (rc == 0 && o.bad_rows == 0 && !carnet__store_readonly(r->store)) {
    char keep[CARNET__ERRMSG_MAX];
    memcpy(keep, r->err, sizeof keep);
    if ((rc = carnet__att_sweep(r, &o.orphan_files)) == 0) memcpy(r->err, keep, sizeof keep);
  }
out:
  carnet__free(c.derived.v);
  o.size = out->size < sizeof o ? out->size : sizeof o;
  memcpy(out, &o, o.size);
  if (rc && carnet_replica_errmsg(r)[0] == '\0')
    carnet__fail(r, rc, "the replica cannot be read through: %s", carnet__store_why(r->store));
  return rc;
}

/* --- the former report ---------------------------------------------------------- */

int carnet_replica_verify(carnet_replica *r, carnet_verify_report *out) {
  return carnet_replica_verify_progress(r, NULL, NULL, out);
}

int carnet_replica_verify_progress(carnet_replica *r, carnet_progress_fn *fn, void *ctx,
                                   carnet_verify_report *out) {
  carnet_check_report c = CARNET_CHECK_REPORT_INIT;
  memset(out, 0, sizeof *out);
  int rc = carnet_replica_check(r, fn, ctx, &c);
  out->entities = c.entities;
  out->changes = c.changes;
  out->index_keys = c.index_keys;
  out->bad_rows = c.bad_rows + c.erased_rows;
  out->bad_changes = c.bad_changes;
  out->missing_keys = c.missing_keys + c.extra_keys + c.bad_values;
  return rc;
}

/* --- repair ------------------------------------------------------------------------ */

/* Rebuild the change index and the index table from the rows, in `t`. */
static int rebuild(carnet_txn *t, carnet_progress_fn *fn, void *ctx) {
  carnet__stxn *st = t->st;
  carnet__scur *cur = NULL;
  carnet_buf k;
  carnet_id *gone = NULL;
  size_t ngone = 0, capgone = 0;
  uint64_t done = 0, total = carnet__store_entries(st, CARNET__T_ENTITIES), max_seq = 0;
  int rc;
  if ((rc = carnet__store_clear(st, CARNET__T_CHANGES)) ||
      (rc = carnet__store_clear(st, CARNET__T_INDEX)) ||
      (rc = carnet__meta_put_u64(st, CARNET__META_STALE, 0)))
    return rc;
  t->stale = 0; /* one entry per row from here */
  if ((rc = carnet__store_cursor(st, CARNET__T_ENTITIES, &cur))) return rc;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, NULL); rc == 0;
       rc = carnet__store_next(cur, &k, NULL)) {
    carnet__loaded l;
    carnet_id id;
    bool erased = false, bad = false;
    if (fn && ++done % PROGRESS_EVERY == 0) fn(ctx, done, total);
    if (k.len != 16) {
      rc = CARNET_ECORRUPT;
      break;
    }
    memcpy(id.b, k.base, 16);
    rc = carnet__load(st, &id, &l);
    if (rc == CARNET_ECORRUPT) { /* left as it is: nothing derives from it */
      carnet__loaded_free(&l);
      rc = 0;
      continue;
    }
    for (size_t i = 0; rc == 0 && i < l.e.n && !bad; i++)
      bad = carnet__cell_check(l.e.kind, &l.e.cells[i]) != 0;
    if (rc == 0 && !bad) rc = carnet__erased(st, &id, &erased);
    if (rc == 0 && !bad && erased) {
      if (ngone == capgone) {
        size_t cap = capgone ? 2 * capgone : 16;
        carnet_id *p = carnet__realloc(gone, cap * sizeof *p);
        if (p == NULL)
          rc = CARNET_ENOMEM;
        else
          gone = p, capgone = cap;
      }
      if (rc == 0) gone[ngone++] = id;
    } else if (rc == 0 && !bad) {
      uint8_t entry[CARNET__CHANGE_ENTRY_LEN], seqkey[8];
      carnet__change_entry(&l.e, entry);
      carnet__be64_put(seqkey, l.e.seq);
      if (l.e.seq > max_seq) max_seq = l.e.seq;
      rc = carnet__store_put(st, CARNET__T_CHANGES, seqkey, 8, entry, sizeof entry, 0);
      for (size_t i = 0; rc == 0 && i < l.old_keys.n; i++)
        rc = carnet__store_put(st, CARNET__T_INDEX, l.old_keys.keys[i].base, l.old_keys.keys[i].len,
                               "", 0, 0);
      if (rc == 0 && carnet__store_pending(st) >= REPAIR_PENDING_MAX) rc = carnet__store_flush(st);
    }
    carnet__loaded_free(&l);
    if (rc) break;
  }
  carnet__store_cursor_close(cur);
  if (rc == CARNET_ENOTFOUND) rc = 0;
  /* X1: an erased entity keeps no row; the bytes go with a compaction. */
  for (size_t i = 0; rc == 0 && i < ngone; i++) {
    rc = carnet__store_del(st, CARNET__T_ENTITIES, gone[i].b, 16);
    if (rc == CARNET_ENOTFOUND) rc = 0;
  }
  if (rc == 0 && ngone) rc = carnet__erase_ask_compaction(st);
  carnet__free(gone);
  /* The counter never goes below a sequence number in use. */
  if (rc == 0 && max_seq > t->seq) t->seq = max_seq;
  /* Every key is derived: the blind index is whole (E3), and so are the
   * search signatures once written again (engine/crm/searchsig.h G1). */
  if (rc == 0) rc = carnet__ssig_build_all(st);
  if (rc == 0) rc = carnet__index_mark_put(st, t->seq);
  if (rc == 0) rc = carnet__sig_mark_put(st, t->seq);
  if (rc == 0 && fn) fn(ctx, total, total);
  return rc;
}

int carnet_replica_repair(carnet_replica *r, carnet_progress_fn *fn, void *ctx,
                          carnet_check_report *out) {
  carnet_check_report o = CARNET_CHECK_REPORT_INIT;
  carnet_txn *t = NULL;
  if (r == NULL || out == NULL) return CARNET_EMISUSE;
  if (out->size < sizeof(size_t))
    return carnet__fail(r, CARNET_EMISUSE,
                        "carnet_check_report has no size: declare it with "
                        "CARNET_CHECK_REPORT_INIT");
  int rc = carnet_replica_check(r, NULL, NULL, &o);
  if (rc == 0 && o.erased_rows + o.bad_changes + o.missing_keys + o.extra_keys + o.bad_values) {
    if ((rc = carnet_txn_begin(r, &t)) == 0 && (rc = rebuild(t, fn, ctx)) != 0) {
      carnet_txn_abort(t);
      carnet__fail(r, rc, "cannot rebuild the index: %s",
                   rc == CARNET_ECORRUPT ? "the rows cannot be read through (carnet salvage)"
                                         : carnet__store_why(r->store));
    } else if (rc == 0 && (rc = carnet_txn_commit(t)) != 0) {
      carnet__fail(r, rc, "cannot rebuild the index: %s", carnet__store_why(r->store));
    }
    o.repaired = rc == 0;
  }
  size_t size = out->size < sizeof o ? out->size : sizeof o;
  memcpy(out, &o, size);
  out->size = size;
  return rc;
}
