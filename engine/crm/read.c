/* engine/crm/read.c - reads: one entity, listing with filters, resolving what
 * a user typed (id, id prefix, reference code) to an id. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/record.h"
#include "engine/base/alloc.h"
#include "engine/crm/record.h"
#include "engine/crm/searchsig.h"
#include "engine/crm/searchtext.h"
#include "engine/store/entity_io.h"
#include "engine/store/group.h"
#include "engine/store/replica_int.h"

/* The record of a customer's merged group (engine/store/group.h), when it has
 * several members; else builds the entity's own record. */
static int build_view(carnet__stxn *st, const carnet__entity *e, const carnet__group *g,
                      carnet_record **out) {
  carnet_id others[CARNET__GROUP_MAX];
  carnet__arena a;
  carnet__entity m;
  size_t n = 0;
  if (g->n < 2) return carnet__record_build(e, out);
  carnet__arena_init(&a, 4096);
  int rc = carnet__group_entity(st, g, &a, &m);
  if (rc == 0) rc = carnet__record_build(&m, out);
  carnet__entity_free(&m);
  carnet__arena_free(&a);
  for (size_t i = 0; rc == 0 && i < g->n; i++)
    if (i != g->survivor) others[n++] = g->ids[i];
  if (rc == 0 && (rc = carnet__record_set_group(*out, others, n, g->review))) {
    carnet_record_free(*out);
    *out = NULL;
  }
  return rc;
}

static bool has_same_as(const carnet__entity *e) {
  for (size_t i = 0; i < e->n; i++)
    if (e->cells[i].field == CARNET_F_SAME_AS && e->cells[i].vlen == 1 &&
        e->cells[i].val[0] == 0xc3)
      return true;
  return false;
}

/* Whether a customer takes part in any merge: an edge of its own, or one
 * into it (the index). Most customers do not, and need no group walk. */
static int in_a_merge(carnet__stxn *st, const carnet__entity *e, bool *out) {
  carnet_id src;
  size_t n = 0;
  *out = has_same_as(e);
  if (*out) return 0;
  int rc = carnet__group_sources(st, &e->id, &src, 1, &n);
  *out = n > 0;
  return rc;
}

int carnet_record_get(carnet_replica *r, const carnet_id *id, carnet_record **out) {
  carnet__stxn *st;
  carnet__arena a;
  carnet__entity e;
  carnet__group g = {.n = 1};
  bool found;
  *out = NULL;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  carnet__arena_init(&a, 4096);
  carnet__entity_init(&e, &a);
  rc = carnet__load_row(st, id, &a, &e, &found);
  if (rc == 0 && !found) rc = CARNET_ENOTFOUND;
  bool merged = false;
  if (rc == 0 && e.kind == CARNET_KIND_CUSTOMER && (rc = in_a_merge(st, &e, &merged)) == 0 &&
      merged)
    rc = carnet__group_of(st, id, &g);
  if (rc == 0) rc = build_view(st, &e, &g, out);
  carnet__read_end(r, st);
  carnet__entity_free(&e);
  carnet__arena_free(&a);
  if (rc == CARNET_ECORRUPT) carnet__fail(r, rc, "the stored record is damaged");
  return rc;
}

static bool has_elem(const carnet_record *rec, carnet_field f, const char *v) {
  const char *const *el;
  size_t n = carnet_record_elems(rec, f, &el);
  for (size_t i = 0; i < n; i++)
    if (strcmp(el[i], v) == 0) return true;
  return false;
}

/* The customer a filter asks for, as the hex ids of its whole group. */
typedef struct group_hex {
  char hex[CARNET__GROUP_MAX][CARNET_ID_HEX_LEN + 1];
  size_t n;
} group_hex;

/* The text of a filter, compiled once for a listing (engine/crm/searchtext.h),
 * and the buffer each record's document is built in. */
typedef struct text_match {
  carnet__squery q;
  carnet__sbuf doc;
  bool on;
} text_match;

/* 1 when `rec` passes, 0 when not, CARNET_ENOMEM. */
static int matches(const carnet_record *rec, const carnet_filter *f, const group_hex *gh,
                   text_match *tm) {
  if (f == NULL) return !carnet_record_deleted(rec);
  if (carnet_record_deleted(rec) && !f->include_deleted) return 0;
  if (f->tag && !has_elem(rec, CARNET_F_TAGS, f->tag)) return 0;
  if (f->role && !has_elem(rec, CARNET_F_ROLES, f->role)) return 0;
  if (f->sales_rep) {
    const char *rep = carnet_record_str(rec, CARNET_F_SALES_REP);
    if (rep == NULL || strcmp(rep, f->sales_rep) != 0) return 0;
  }
  if (f->customer) {
    bool any = false;
    for (size_t i = 0; i < gh->n && !any; i++) {
      if (carnet_record_kind(rec) == CARNET_KIND_ACTION) { /* the customers it concerns */
        any = has_elem(rec, CARNET_F_CUSTOMERS, gh->hex[i]);
      } else {
        const char *cu = carnet_record_str(rec, CARNET_F_CUSTOMER);
        any = cu != NULL && strcmp(cu, gh->hex[i]) == 0;
      }
    }
    if (!any) return 0;
  }
  if (tm->on) {
    carnet__sdoc d;
    int rc = carnet__sdoc_build(rec, &tm->doc, &d);
    if (rc) return rc;
    return carnet__squery_match(&tm->q, tm->doc.p, tm->doc.len, d.siret_off, d.phones_off);
  }
  return 1;
}

/* The targets of every merge edge (index 'm'), sorted and unique: with the
 * entity's own SAME_AS cells, they say which customers need their group
 * resolved. */
static int merge_targets(carnet__stxn *st, carnet_id **out, size_t *n) {
  carnet__scur *cur = NULL;
  carnet_buf k;
  uint8_t tag = CARNET__IDX_SAME_AS;
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  int rc = carnet__store_cursor(st, CARNET__T_INDEX, &cur);
  if (rc) return rc;
  for (rc = carnet__store_seek(cur, &tag, 1, &k, NULL); rc == 0;
       rc = carnet__store_next(cur, &k, NULL)) {
    const uint8_t *kb = k.base;
    if (k.len != 33 || kb[0] != tag) break;
    if (*n && memcmp((*out)[*n - 1].b, kb + 1, 16) == 0) continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      carnet_id *nn = carnet__realloc(*out, cap * sizeof *nn);
      if (nn == NULL) {
        rc = CARNET_ENOMEM;
        break;
      }
      *out = nn;
    }
    memcpy((*out)[(*n)++].b, kb + 1, 16);
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

static int id_cmp(const void *a, const void *b) {
  return memcmp(a, b, 16);
}

/* The records `ids` (sorted) of `kind` that pass the filter, read one by
 * one: a customer's records as the search index names them. */
static int list_ids(carnet_replica *r, carnet__stxn *st, carnet_kind kind, const carnet_id *ids,
                    size_t n, const carnet_filter *filter, const group_hex *gh, text_match *tm,
                    carnet_record_cb cb, void *data) {
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    carnet__arena a;
    carnet__entity e;
    carnet_record *rec = NULL;
    bool found = false;
    carnet__arena_init(&a, 4096);
    carnet__entity_init(&e, &a);
    rc = carnet__load_row(st, &ids[i], &a, &e, &found);
    if (rc == 0 && found && e.kind == kind) rc = carnet__record_build(&e, &rec);
    carnet__entity_free(&e);
    carnet__arena_free(&a);
    if (rc) {
      if (rc == CARNET_ECORRUPT) carnet__fail(r, rc, "a stored record is damaged");
      break;
    }
    if (rec == NULL) continue; /* gone, or another kind: the index named too many */
    int keep = matches(rec, filter, gh, tm);
    rc = keep < 0 ? keep : keep ? cb(rec, data) : 0;
    carnet_record_free(rec);
  }
  return rc;
}

static int list(carnet_replica *r, carnet_kind kind, const carnet_filter *filter,
                carnet_record_cb cb, void *data);

/* One row of a listing, decoded in `e`: a merged customer is listed once,
 * as its group's survivor (`targets`: merge_targets); passes the filter
 * to `cb`. Returns 0 to go on, or what stops the listing. */
static int visit(carnet_replica *r, carnet__stxn *st, carnet__entity *e, carnet_kind kind,
                 const carnet_id *targets, size_t ntargets, const carnet_filter *filter,
                 const group_hex *gh, text_match *tm, carnet_record_cb cb, void *data) {
  carnet__group g = {.n = 1};
  carnet_record *rec = NULL;
  int rc = 0;
  if (kind == CARNET_KIND_CUSTOMER &&
      (has_same_as(e) || (ntargets && bsearch(&e->id, targets, ntargets, sizeof *targets, id_cmp))))
    rc = carnet__group_of(st, &e->id, &g);
  if (rc == 0 && g.n > 1 && memcmp(g.ids[g.survivor].b, e->id.b, 16) != 0) return 0;
  if (rc == 0) rc = build_view(st, e, &g, &rec);
  if (rc) {
    if (rc == CARNET_ECORRUPT) carnet__fail(r, rc, "a stored record is damaged");
    return rc;
  }
  int keep = matches(rec, filter, gh, tm);
  int stop = keep < 0 ? keep : keep ? cb(rec, data) : 0;
  carnet_record_free(rec);
  return stop;
}

/* The customers `ids` (sorted: carnet__ssig_candidates) listed as the
 * scan lists them, each read by its id. */
static int list_candidates(carnet_replica *r, carnet__stxn *st, const carnet_id *ids, size_t n,
                           const carnet_id *targets, size_t ntargets, const carnet_filter *filter,
                           const group_hex *gh, text_match *tm, carnet_record_cb cb, void *data) {
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    carnet__arena a;
    carnet__entity e;
    bool found = false;
    carnet__arena_init(&a, 4096);
    carnet__entity_init(&e, &a);
    rc = carnet__load_row(st, &ids[i], &a, &e, &found);
    if (rc == CARNET_ECORRUPT) carnet__fail(r, rc, "a stored record is damaged");
    if (rc == 0 && found && e.kind == CARNET_KIND_CUSTOMER)
      rc = visit(r, st, &e, CARNET_KIND_CUSTOMER, targets, ntargets, filter, gh, tm, cb, data);
    carnet__entity_free(&e);
    carnet__arena_free(&a);
  }
  return rc;
}

int carnet_record_list(carnet_replica *r, carnet_kind kind, const carnet_filter *filter,
                       carnet_record_cb cb, void *data) {
  /* A listing's callback that lists again is answered by the scan. */
  r->listing++;
  int rc = list(r, kind, filter, cb, data);
  r->listing--;
  return rc;
}

static int list(carnet_replica *r, carnet_kind kind, const carnet_filter *filter,
                carnet_record_cb cb, void *data) {
  carnet__stxn *st;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  carnet_id *targets = NULL;
  size_t ntargets = 0;
  group_hex *gh = NULL;
  text_match tm = {.on = false};
  carnet_id *ids = NULL;
  size_t nids = 0;
  /* A customer's records: from the search index when one is attached and
   * current (engine/crm/search.c), else by the scan below. */
  int from_index = 1;
  if (filter && filter->customer && r->listing == 1) {
    r->listing--; /* the top-level listing itself may ask */
    from_index = r->children ? r->children(r, filter->customer, kind, &ids, &nids) : 1;
    r->listing++;
    if (from_index < 0) return from_index;
  }
  /* A text search of customers: from the search signatures
   * (engine/crm/searchsig.h) brought up to date first, at top level and
   * outside a transaction (a catch-up that fails leaves them behind, which
   * G2 allows for: the listing goes on). */
  bool text = kind == CARNET_KIND_CUSTOMER && filter && filter->text && filter->text[0];
  if (text && r->listing == 1 && r->txn == NULL && carnet__search_ready(r) != 0)
    carnet__clear_err(r);
  int rc = carnet__read_begin(r, &st);
  if (rc) {
    carnet__free(ids);
    return rc;
  }
  if (filter && filter->text && filter->text[0]) {
    if ((rc = carnet__squery_init(&tm.q, filter->text))) goto done;
    tm.on = !tm.q.any;
  }
  if (kind == CARNET_KIND_CUSTOMER && (rc = merge_targets(st, &targets, &ntargets))) goto done;
  if (text && tm.on) {
    rc = carnet__ssig_candidates(r, st, &tm.q, &ids, &nids);
    if (rc == 0) {
      rc = list_candidates(r, st, ids, nids, targets, ntargets, filter, gh, &tm, cb, data);
      goto done;
    }
    if (rc != 1) goto done;
    rc = 0; /* the signatures cannot narrow it: scan */
  }
  if (filter && filter->customer) {
    carnet__group g;
    if ((gh = carnet__calloc(1, sizeof *gh)) == NULL) {
      rc = CARNET_ENOMEM;
      goto done;
    }
    if ((rc = carnet__group_of(st, filter->customer, &g))) goto done;
    for (size_t i = 0; i < g.n; i++)
      carnet_id_format(&g.ids[i], gh->hex[i]);
    gh->n = g.n;
  }
  if (from_index == 0) {
    rc = list_ids(r, st, kind, ids, nids, filter, gh, &tm, cb, data);
    goto done;
  }
  if ((rc = carnet__store_cursor(st, CARNET__T_ENTITIES, &cur))) goto done;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet__entity e;
    carnet_id id;
    if (k.len != 16) {
      rc = carnet__fail(r, CARNET_ECORRUPT, "damaged entity key in the store");
      goto done;
    }
    memcpy(id.b, k.base, 16);
    /* Only the kind is needed to skip other kinds: it is the row's first byte. */
    if (v.len == 0 || ((const uint8_t *)v.base)[0] != (uint8_t)kind) continue;
    carnet__entity_init(&e, NULL);
    rc = carnet__row_decode(&id, v.base, v.len, &e);
    if (rc == CARNET_ECORRUPT) carnet__fail(r, rc, "a stored record is damaged");
    if (rc == 0) rc = visit(r, st, &e, kind, targets, ntargets, filter, gh, &tm, cb, data);
    carnet__entity_free(&e);
    if (rc) goto done;
  }
  if (rc == CARNET_ENOTFOUND) rc = 0;
done:
  carnet__free(ids);
  carnet__squery_free(&tm.q);
  carnet__sbuf_free(&tm.doc);
  carnet__free(targets);
  carnet__free(gh);
  carnet__store_cursor_close(cur);
  carnet__read_end(r, st);
  return rc;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = (char)tolower((unsigned char)c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Entities whose id starts with the hex prefix `ref`. */
static int by_prefix(carnet__stxn *st, carnet_kind kind, const char *ref, carnet_id *out,
                     int *found) {
  size_t n = strlen(ref);
  uint8_t lo[16] = {0};
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  for (size_t i = 0; i < n; i++)
    lo[i / 2] |= (uint8_t)(hexval(ref[i]) << (i % 2 ? 0 : 4));
  int rc = carnet__store_cursor(st, CARNET__T_ENTITIES, &cur);
  if (rc) return rc;
  for (rc = carnet__store_seek(cur, lo, 16, &k, &v); rc == 0 && *found < 2;
       rc = carnet__store_next(cur, &k, &v)) {
    const uint8_t *kb = k.base;
    bool match = k.len == 16;
    for (size_t i = 0; match && i < n; i++)
      match = ((i % 2 ? kb[i / 2] & 15 : kb[i / 2] >> 4) == hexval(ref[i]));
    if (!match) break;
    if (v.len && ((const uint8_t *)v.base)[0] == (uint8_t)kind) {
      memcpy(out->b, kb, 16);
      (*found)++;
    }
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

static int by_refcode(carnet__stxn *st, const char *ref, carnet_id *out, int *found) {
  uint8_t key[1 + 64];
  size_t n = strlen(ref);
  carnet__scur *cur = NULL;
  carnet_buf k;
  if (n > 64) return 0;
  key[0] = CARNET__IDX_REFCODE;
  for (size_t i = 0; i < n; i++)
    key[1 + i] = (uint8_t)toupper((unsigned char)ref[i]);
  int rc = carnet__store_cursor(st, CARNET__T_INDEX, &cur);
  if (rc) return rc;
  rc = carnet__store_seek(cur, key, 1 + n, &k, NULL);
  for (; rc == 0 && *found < 2; rc = carnet__store_next(cur, &k, NULL)) {
    if (k.len != 1 + n + 16 || memcmp(k.base, key, 1 + n) != 0) break;
    memcpy(out->b, (const uint8_t *)k.base + 1 + n, 16);
    (*found)++;
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

int carnet_record_resolve(carnet_replica *r, carnet_kind kind, const char *ref, carnet_id *out) {
  carnet__stxn *st;
  int found = 0, rc;
  size_t n = ref ? strlen(ref) : 0;
  bool hex = n >= 6 && n <= CARNET_ID_HEX_LEN;
  for (size_t i = 0; hex && i < n; i++)
    hex = hexval(ref[i]) >= 0;
  if (n == 0) return carnet__fail(r, CARNET_EINVAL, "empty reference");
  if ((rc = carnet__read_begin(r, &st))) return rc;
  rc = by_refcode(st, ref, out, &found);
  if (rc == 0 && found == 0 && hex) rc = by_prefix(st, kind, ref, out, &found);
  carnet__read_end(r, st);
  if (rc) return rc;
  if (found == 0)
    return carnet__fail(r, CARNET_ENOTFOUND,
                        "no %s '%s' (give an id, an id prefix of 6 or more "
                        "characters, or a reference code)",
                        carnet_kind_name(kind) ? carnet_kind_name(kind) : "entity", ref);
  if (found > 1)
    return carnet__fail(r, CARNET_EAMBIGUOUS, "'%s' matches several %ss: type more characters", ref,
                        carnet_kind_name(kind) ? carnet_kind_name(kind) : "entitie");
  return 0;
}
