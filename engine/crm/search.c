/* engine/crm/search.c - the in-memory search index (carnet/search.h).
 *
 *   carnet_search_new: subscribe, then build (one carnet_record_list scan)
 *
 *   change event (on the committing thread, inside the commit)
 *     -> customer ids noted in `pending` (overflow, or too many: `stale`)
 *
 *   carnet_search_query
 *     -> carnet_replica_poll (other processes' commits become events)
 *     -> stale? build again : pending? refresh (read the groups again)
 *     -> scan the entries after the cursor, compiled filter, copy ids
 *
 * State:
 *   ent  every listed customer (a group's survivor, or merged with nobody;
 *        deleted ones too), sorted by id: its filter fields and document
 *        (engine/crm/searchtext.h), built from the record carnet_record_get
 *        returns, which is the view carnet_record_list lists.
 *   mem  every member of a merged group but its survivor, sorted by id,
 *        with the survivor it was listed under.
 *   links (customer id, record id, kind) for every contact, document,
 *        reminder (its customer) and action (each customer it concerns),
 *        deleted ones too, sorted by customer then record: a customer's
 *        page reads its records without scanning the book
 *        (carnet__search_children, used by carnet_record_list).
 *
 * Invariants:
 *  S1. Once pending changes are applied (and the index is not stale), ent
 *      holds exactly the customers carnet_record_list(CUSTOMER, {deleted})
 *      lists, each with the document of the record it lists; mem holds the
 *      other members of their groups.
 *  S2. The subscription is made before the first scan: a commit after the
 *      scan's read transaction is an event, so nothing falls between; a
 *      commit both in the scan and in an event is read twice, harmlessly.
 *  S3. A refresh changes nothing until every record it needs is read and
 *      every allocation made: on failure the index and `pending` are as
 *      before, and the next query tries again.
 *  S4. Once `cpending` is applied (and the index is not stale), links
 *      holds exactly the (customer, record) pairs the stored records name.
 *      A caller of carnet__search_children still checks each record's
 *      customer (carnet_record_list's filter), so a pair too many costs a
 *      read, never a wrong answer; a pair missing would, hence S2 and S4.
 *
 * A refresh reads again the customers named by events, and with them
 * every customer whose group they were in or are now in: a merge or an
 * unmerge is an event for the member whose edge changed only, and an
 * erased member may split its group. So each id read brings the members
 * of its old group (mem) and of its new one (the record's merged list),
 * until no new id comes: groups are bounded (CARNET__GROUP_MAX), so is the
 * walk.
 */
#include "carnet/search.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/feed.h"
#include "carnet/merge.h"
#include "engine/base/alloc.h"
#include "engine/crm/searchtext.h"
#include "engine/store/replica_int.h"

typedef struct entry {
  carnet_id id;
  char *doc;          /* ntags + nroles uint32_t labels, then `len` bytes of text, NUL */
  uint32_t len;       /* of the text */
  uint32_t siret_off; /* engine/crm/searchtext.h */
  uint32_t phones_off;
  uint32_t rep; /* interned sales rep + 1; 0: none */
  uint16_t ntags, nroles;
  uint8_t deleted;
  uint8_t merged; /* the survivor of a group: members in mem */
} entry;

_Static_assert(sizeof(entry) <= 48, "an entry stays small: it is paid per customer");

typedef struct member {
  carnet_id id, survivor;
} member;

/* A record that belongs to (or concerns) a customer. */
typedef struct link {
  carnet_id customer, child;
  uint8_t kind;
} link;

/* Interned strings (tags, roles, sales reps): a query compares numbers. */
typedef struct dict {
  char **str;
  uint32_t n, cap;
  uint32_t *slot; /* index + 1, 0 empty; nslot a power of two */
  uint32_t nslot;
  size_t bytes;
} dict;

struct carnet_search {
  carnet_replica *r;
  carnet_subscription *sub;
  size_t max_bytes;
  entry *ent;
  size_t nent, capent;
  member *mem;
  size_t nmem;
  dict d;
  carnet_id *pending;
  size_t npending, cappending;
  link *links;
  size_t nlinks, caplinks;
  carnet_id *cpending; /* records other than customers changed since */
  size_t ncpending, capcpending;
  bool stale;  /* build again at the next query */
  int failed;  /* the last build's CARNET_ELIMIT, until a change */
  size_t docs; /* bytes of the entries' documents */
  carnet__sbuf buf;
};

static int id_cmp(const void *a, const void *b) {
  return memcmp(a, b, 16);
}

static size_t bytes_of(const carnet_search *s) {
  return sizeof *s + s->capent * sizeof(entry) + s->nmem * sizeof(member) + s->docs + s->d.bytes +
         s->cappending * sizeof(carnet_id) + s->buf.cap + s->caplinks * sizeof(link) +
         s->capcpending * sizeof(carnet_id);
}

/* --- Interned strings ------------------------------------------------------ */

static uint32_t hash(const char *p) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  return h;
}

static void dict_free(dict *d) {
  for (uint32_t i = 0; i < d->n; i++)
    carnet__free(d->str[i]);
  carnet__free(d->str);
  carnet__free(d->slot);
  memset(d, 0, sizeof *d);
}

/* The number of `v`, or UINT32_MAX when it is not interned. */
static uint32_t dict_find(const dict *d, const char *v) {
  if (d->nslot == 0) return UINT32_MAX;
  for (uint32_t i = hash(v) & (d->nslot - 1);; i = (i + 1) & (d->nslot - 1)) {
    if (d->slot[i] == 0) return UINT32_MAX;
    if (strcmp(d->str[d->slot[i] - 1], v) == 0) return d->slot[i] - 1;
  }
}

static int dict_grow(dict *d) {
  uint32_t nslot = d->nslot ? d->nslot * 2 : 64;
  uint32_t *slot = carnet__calloc(nslot, sizeof *slot);
  if (slot == NULL) return CARNET_ENOMEM;
  for (uint32_t k = 0; k < d->n; k++) {
    uint32_t i = hash(d->str[k]) & (nslot - 1);
    while (slot[i])
      i = (i + 1) & (nslot - 1);
    slot[i] = k + 1;
  }
  carnet__free(d->slot);
  d->bytes += (size_t)(nslot - d->nslot) * sizeof *slot;
  d->slot = slot;
  d->nslot = nslot;
  return 0;
}

static int dict_intern(dict *d, const char *v, uint32_t *out) {
  uint32_t k = dict_find(d, v);
  if (k != UINT32_MAX) {
    *out = k;
    return 0;
  }
  if (d->n == UINT32_MAX - 1) return CARNET_ELIMIT;
  if ((d->n + 1) * 2 > d->nslot && dict_grow(d)) return CARNET_ENOMEM;
  if (d->n == d->cap) {
    uint32_t cap = d->cap ? d->cap * 2 : 32;
    char **str = carnet__realloc(d->str, cap * sizeof *str);
    if (str == NULL) return CARNET_ENOMEM;
    d->bytes += (cap - d->cap) * sizeof *str;
    d->str = str;
    d->cap = cap;
  }
  char *copy = carnet__strdup(v);
  if (copy == NULL) return CARNET_ENOMEM;
  d->bytes += strlen(v) + 1;
  uint32_t i = hash(v) & (d->nslot - 1);
  while (d->slot[i])
    i = (i + 1) & (d->nslot - 1);
  d->str[d->n] = copy;
  d->slot[i] = d->n + 1;
  *out = d->n++;
  return 0;
}

/* --- Entries ------------------------------------------------------------------- */

static const uint32_t *labels(const entry *e) {
  return (const uint32_t *)(const void *)e->doc;
}

static const char *text(const entry *e) {
  return e->doc + ((size_t)e->ntags + e->nroles) * sizeof(uint32_t);
}

static void entry_drop(carnet_search *s, entry *e) {
  if (e->doc == NULL) return;
  s->docs -= ((size_t)e->ntags + e->nroles) * sizeof(uint32_t) + e->len + 1;
  carnet__free(e->doc);
  e->doc = NULL;
}

static int over(carnet_search *s, size_t more) {
  size_t now = bytes_of(s);
  if (now + more <= s->max_bytes) return 0;
  return carnet__fail(s->r, CARNET_ELIMIT,
                      "the search index needs more than %zu bytes (%zu customers indexed so far): "
                      "give a larger bound, or list without it",
                      s->max_bytes, s->nent);
}

/* The entry of `rec` in *e (its document allocated and counted). */
static int entry_make(carnet_search *s, const carnet_record *rec, entry *e) {
  const char *const *tags, *const *roles;
  const carnet_id *others;
  carnet__sdoc d;
  memset(e, 0, sizeof *e);
  int rc = carnet__sdoc_build(rec, &s->buf, &d);
  if (rc) return rc;
  size_t nt = carnet_record_elems(rec, CARNET_F_TAGS, &tags);
  size_t nr = carnet_record_elems(rec, CARNET_F_ROLES, &roles);
  if (nt > UINT16_MAX || nr > UINT16_MAX || s->buf.len > UINT32_MAX)
    return carnet__fail(s->r, CARNET_ELIMIT, "a customer too large for the search index");
  size_t size = (nt + nr) * sizeof(uint32_t) + s->buf.len + 1;
  if ((rc = over(s, size))) return rc;
  if ((e->doc = carnet__malloc(size)) == NULL) return CARNET_ENOMEM;
  uint32_t *lab = (uint32_t *)(void *)e->doc;
  for (size_t i = 0; rc == 0 && i < nt; i++)
    rc = dict_intern(&s->d, tags[i], &lab[i]);
  for (size_t i = 0; rc == 0 && i < nr; i++)
    rc = dict_intern(&s->d, roles[i], &lab[nt + i]);
  const char *rep = carnet_record_str(rec, CARNET_F_SALES_REP);
  uint32_t k = 0;
  if (rc == 0 && rep && (rc = dict_intern(&s->d, rep, &k)) == 0) e->rep = k + 1;
  if (rc) {
    carnet__free(e->doc);
    e->doc = NULL;
    return rc;
  }
  memcpy(e->doc + (nt + nr) * sizeof(uint32_t), s->buf.p, s->buf.len + 1);
  e->id = *carnet_record_id(rec);
  e->len = (uint32_t)s->buf.len;
  e->siret_off = (uint32_t)d.siret_off;
  e->phones_off = (uint32_t)d.phones_off;
  e->ntags = (uint16_t)nt;
  e->nroles = (uint16_t)nr;
  e->deleted = carnet_record_deleted(rec);
  e->merged = carnet_record_merged(rec, &others) > 0;
  s->docs += size;
  return 0;
}

static void clear(carnet_search *s) {
  for (size_t i = 0; i < s->nent; i++)
    entry_drop(s, &s->ent[i]);
  carnet__free(s->ent);
  carnet__free(s->mem);
  carnet__free(s->pending);
  carnet__free(s->links);
  carnet__free(s->cpending);
  dict_free(&s->d);
  s->ent = NULL;
  s->mem = NULL;
  s->pending = NULL;
  s->links = NULL;
  s->cpending = NULL;
  s->nent = s->capent = s->nmem = s->npending = s->cappending = 0;
  s->nlinks = s->caplinks = s->ncpending = s->capcpending = 0;
  s->docs = 0;
}

/* --- Building ------------------------------------------------------------------ */

typedef struct build_st {
  carnet_search *s;
  size_t capmem;
  int rc;
} build_st;

static int build_cb(const carnet_record *rec, void *data) {
  build_st *b = data;
  carnet_search *s = b->s;
  const carnet_id *others;
  size_t k = carnet_record_merged(rec, &others);
  int rc = 0;
  if (s->nent == s->capent) {
    size_t cap = s->capent ? s->capent * 2 : 1024;
    if ((rc = over(s, (cap - s->capent) * sizeof(entry)))) goto fail;
    entry *v = carnet__realloc(s->ent, cap * sizeof *v);
    if (v == NULL) goto oom;
    s->ent = v;
    s->capent = cap;
  }
  if (k && s->nmem + k > b->capmem) {
    size_t cap = b->capmem ? b->capmem * 2 : 64;
    while (cap < s->nmem + k)
      cap *= 2;
    member *v = carnet__realloc(s->mem, cap * sizeof *v);
    if (v == NULL) goto oom;
    s->mem = v;
    b->capmem = cap;
  }
  if ((rc = entry_make(s, rec, &s->ent[s->nent]))) goto fail;
  s->nent++;
  for (size_t i = 0; i < k; i++)
    s->mem[s->nmem++] = (member){.id = others[i], .survivor = *carnet_record_id(rec)};
  return 0;
oom:
  rc = CARNET_ENOMEM;
fail:
  b->rc = rc;
  return 1;
}

/* --- Links: whose records ----------------------------------------------------- */

static bool child_kind(carnet_kind k) {
  return k == CARNET_KIND_CONTACT || k == CARNET_KIND_DOCUMENT || k == CARNET_KIND_ACTION ||
         k == CARNET_KIND_REMINDER;
}

static int link_cmp(const void *a, const void *b) {
  const link *x = a, *y = b;
  int c = memcmp(x->customer.b, y->customer.b, 16);
  return c ? c : memcmp(x->child.b, y->child.b, 16);
}

/* A growing array of links, bounded by the index's bytes. */
typedef struct links_buf {
  carnet_search *s;
  link *v;
  size_t n, cap;
  int rc;
} links_buf;

static int links_push(links_buf *lb, const char *hex, const carnet_record *rec) {
  link l = {.child = *carnet_record_id(rec), .kind = (uint8_t)carnet_record_kind(rec)};
  if (hex == NULL || carnet_id_parse(hex, &l.customer) != 0) return 0;
  if (lb->n == lb->cap) {
    size_t cap = lb->cap ? lb->cap * 2 : 1024;
    int rc = over(lb->s, (cap - lb->cap) * sizeof(link));
    if (rc) return rc;
    link *v = carnet__realloc(lb->v, cap * sizeof *v);
    if (v == NULL) return CARNET_ENOMEM;
    lb->v = v;
    lb->cap = cap;
  }
  lb->v[lb->n++] = l;
  return 0;
}

/* The links of one record: its customer, or an action's customers. */
static int links_of(links_buf *lb, const carnet_record *rec) {
  if (carnet_record_kind(rec) != CARNET_KIND_ACTION)
    return links_push(lb, carnet_record_str(rec, CARNET_F_CUSTOMER), rec);
  const char *const *el;
  size_t k = carnet_record_elems(rec, CARNET_F_CUSTOMERS, &el);
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < k; i++)
    rc = links_push(lb, el[i], rec);
  return rc;
}

static int links_cb(const carnet_record *rec, void *data) {
  links_buf *lb = data;
  lb->rc = links_of(lb, rec);
  return lb->rc ? 1 : 0;
}

static int build_links(carnet_search *s) {
  static const carnet_kind kinds[] = {CARNET_KIND_CONTACT, CARNET_KIND_DOCUMENT, CARNET_KIND_ACTION,
                                      CARNET_KIND_REMINDER};
  carnet_filter all = {.include_deleted = true};
  links_buf lb = {.s = s};
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < sizeof kinds / sizeof kinds[0]; i++) {
    rc = carnet_record_list(s->r, kinds[i], &all, links_cb, &lb);
    if (rc == 1) rc = lb.rc;
  }
  if (rc) {
    carnet__free(lb.v);
    return rc;
  }
  if (lb.n > 1) qsort(lb.v, lb.n, sizeof *lb.v, link_cmp);
  s->links = lb.v;
  s->nlinks = lb.n;
  s->caplinks = lb.cap;
  return 0;
}

static int build(carnet_search *s) {
  build_st b = {.s = s};
  carnet_filter all = {.include_deleted = true};
  clear(s);
  s->stale = true;
  int rc = carnet_record_list(s->r, CARNET_KIND_CUSTOMER, &all, build_cb, &b);
  if (rc == 1) rc = b.rc;
  if (rc == 0) rc = build_links(s);
  if (rc) {
    clear(s);
    return rc;
  }
  if (s->nmem > 1) qsort(s->mem, s->nmem, sizeof *s->mem, id_cmp);
  /* Rows come in id order: ent is sorted already. */
  s->stale = false;
  return 0;
}

/* --- The change feed ----------------------------------------------------------- */

static void go_stale(carnet_search *s) {
  s->stale = true;
  carnet__free(s->pending);
  s->pending = NULL;
  s->npending = s->cappending = 0;
  carnet__free(s->cpending);
  s->cpending = NULL;
  s->ncpending = s->capcpending = 0;
}

/* Notes `id` in a pending list; false when it is full or memory ran out
 * (the index then goes stale: the next query scans). */
static bool note(carnet_id **v, size_t *n, size_t *cap, size_t max, const carnet_id *id) {
  if (*n == max) return false;
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 64;
    carnet_id *nv = carnet__realloc(*v, c * sizeof *nv);
    if (nv == NULL) return false;
    *v = nv;
    *cap = c;
  }
  (*v)[(*n)++] = *id;
  return true;
}

static void on_change(void *data, const carnet_change_event *ev) {
  carnet_search *s = data;
  s->failed = 0; /* something changed: a build may fit now */
  if (s->stale) return;
  if (ev->overflow) {
    go_stale(s);
    return;
  }
  /* Past this many, one scan costs less than reading each again. */
  size_t max = 1024 + s->nent / 10;
  for (size_t i = 0; i < ev->n; i++) {
    const carnet_change *c = &ev->changes[i];
    bool ok = true;
    /* 0: erased elsewhere, of a kind no longer known. */
    if (c->kind == CARNET_KIND_CUSTOMER || c->kind == 0)
      ok = note(&s->pending, &s->npending, &s->cappending, max, &c->id);
    if (ok && (child_kind(c->kind) || c->kind == 0))
      ok = note(&s->cpending, &s->ncpending, &s->capcpending, max, &c->id);
    if (!ok) {
      go_stale(s); /* nothing is lost: the next query scans */
      return;
    }
  }
}

/* --- Refreshing ---------------------------------------------------------------- */

enum { R_GONE = 0, R_LISTED = 1, R_MEMBER = 2 };

typedef struct result {
  carnet_id id;
  int what;
  carnet_id survivor; /* R_MEMBER */
  entry e;            /* R_LISTED */
} result;

typedef struct walk {
  carnet_search *s;
  carnet_id *todo;
  size_t ntodo, captodo;
  result *res;
  size_t nres, capres;
  carnet_id *seen; /* open addressing; all-zero = empty (ids are never zero) */
  size_t nseen, capseen;
} walk;

static uint64_t id_hash(const carnet_id *id) {
  uint64_t h;
  memcpy(&h, id->b + 8, 8); /* the random half of an id */
  return h * 0x9E3779B97F4A7C15ull;
}

static bool zero_id(const carnet_id *id) {
  static const carnet_id z;
  return memcmp(id->b, z.b, 16) == 0;
}

static bool seen_has(const walk *w, const carnet_id *id) {
  if (w->capseen == 0) return false;
  for (size_t i = id_hash(id) & (w->capseen - 1);; i = (i + 1) & (w->capseen - 1)) {
    if (zero_id(&w->seen[i])) return false;
    if (memcmp(w->seen[i].b, id->b, 16) == 0) return true;
  }
}

static int seen_add(walk *w, const carnet_id *id) {
  if ((w->nseen + 1) * 2 > w->capseen) {
    size_t cap = w->capseen ? w->capseen * 2 : 64;
    carnet_id *v = carnet__calloc(cap, sizeof *v);
    if (v == NULL) return CARNET_ENOMEM;
    for (size_t k = 0; k < w->capseen; k++) {
      if (zero_id(&w->seen[k])) continue;
      size_t i = id_hash(&w->seen[k]) & (cap - 1);
      while (!zero_id(&v[i]))
        i = (i + 1) & (cap - 1);
      v[i] = w->seen[k];
    }
    carnet__free(w->seen);
    w->seen = v;
    w->capseen = cap;
  }
  size_t i = id_hash(id) & (w->capseen - 1);
  while (!zero_id(&w->seen[i]))
    i = (i + 1) & (w->capseen - 1);
  w->seen[i] = *id;
  w->nseen++;
  return 0;
}

static int todo_push(walk *w, const carnet_id *id) {
  if (seen_has(w, id)) return 0;
  if (w->ntodo == w->captodo) {
    size_t cap = w->captodo ? w->captodo * 2 : 64;
    carnet_id *v = carnet__realloc(w->todo, cap * sizeof *v);
    if (v == NULL) return CARNET_ENOMEM;
    w->todo = v;
    w->captodo = cap;
  }
  w->todo[w->ntodo++] = *id;
  return 0;
}

static entry *ent_find(const carnet_search *s, const carnet_id *id) {
  return s->nent ? bsearch(id, s->ent, s->nent, sizeof *s->ent, id_cmp) : NULL;
}

static member *mem_find(const carnet_search *s, const carnet_id *id) {
  return s->nmem ? bsearch(id, s->mem, s->nmem, sizeof *s->mem, id_cmp) : NULL;
}

/* The ids `id` was grouped with before: its survivor, or its members. */
static int push_old_group(walk *w, const carnet_id *id) {
  const carnet_search *s = w->s;
  const member *m = mem_find(s, id);
  int rc = 0;
  if (m) rc = todo_push(w, &m->survivor);
  const entry *e = ent_find(s, id);
  if (rc == 0 && e && e->merged)
    for (size_t i = 0; rc == 0 && i < s->nmem; i++)
      if (memcmp(s->mem[i].survivor.b, id->b, 16) == 0) rc = todo_push(w, &s->mem[i].id);
  return rc;
}

/* A result for `id`, which is then seen (its old group to be walked). */
static int result_add(walk *w, const carnet_id *id, int what, const carnet_id *survivor,
                      result **out) {
  int rc;
  if (w->nres == w->capres) {
    size_t cap = w->capres ? w->capres * 2 : 32;
    result *v = carnet__realloc(w->res, cap * sizeof *v);
    if (v == NULL) return CARNET_ENOMEM;
    w->res = v;
    w->capres = cap;
  }
  if ((rc = seen_add(w, id))) return rc;
  result *x = &w->res[w->nres++];
  memset(x, 0, sizeof *x);
  x->id = *id;
  x->what = what;
  if (survivor) x->survivor = *survivor;
  if (out) *out = x;
  return push_old_group(w, id);
}

/* Reads `y` (and so its whole group) again. */
static int visit(walk *w, const carnet_id *y) {
  carnet_search *s = w->s;
  carnet_record *rec = NULL;
  const carnet_id *others;
  result *x = NULL;
  int rc = carnet_record_get(s->r, y, &rec);
  if (rc == CARNET_ENOTFOUND || (rc == 0 && carnet_record_kind(rec) != CARNET_KIND_CUSTOMER)) {
    carnet_record_free(rec);
    return result_add(w, y, R_GONE, NULL, NULL);
  }
  if (rc) return rc;
  const carnet_id *sv = carnet_record_id(rec);
  size_t k = carnet_record_merged(rec, &others);
  if (!seen_has(w, sv) && (rc = result_add(w, sv, R_LISTED, NULL, &x)) == 0)
    rc = entry_make(s, rec, &x->e);
  for (size_t i = 0; rc == 0 && i < k; i++)
    if (!seen_has(w, &others[i])) rc = result_add(w, &others[i], R_MEMBER, sv, NULL);
  /* A member beyond a group's bound is read as the group it starts. */
  if (rc == 0 && !seen_has(w, y)) rc = result_add(w, y, R_MEMBER, sv, NULL);
  carnet_record_free(rec);
  return rc;
}

static int res_cmp(const void *a, const void *b) {
  return memcmp(((const result *)a)->id.b, ((const result *)b)->id.b, 16);
}

/* S3: the new arrays are made whole before anything old is released. */
static int apply(carnet_search *s, walk *w) {
  size_t listed = 0, members = 0, old_ent = 0, old_mem = 0;
  if (w->nres > 1) qsort(w->res, w->nres, sizeof *w->res, res_cmp);
  for (size_t j = 0; j < w->nres; j++) {
    listed += w->res[j].what == R_LISTED;
    members += w->res[j].what == R_MEMBER;
    old_ent += ent_find(s, &w->res[j].id) != NULL;
    old_mem += mem_find(s, &w->res[j].id) != NULL;
  }
  size_t nent = s->nent - old_ent + listed, nmem = s->nmem - old_mem + members;
  size_t capent = nent > s->capent ? nent + nent / 8 : s->capent;
  int rc = over(s, (capent - s->capent) * sizeof(entry) +
                       (members > old_mem ? members - old_mem : 0) * sizeof(member));
  if (rc) return rc;
  entry *ent = carnet__malloc((capent ? capent : 1) * sizeof *ent);
  member *mem = carnet__malloc((nmem ? nmem : 1) * sizeof *mem);
  if (ent == NULL || mem == NULL) {
    carnet__free(ent);
    carnet__free(mem);
    return CARNET_ENOMEM;
  }
  size_t i = 0, j = 0, k = 0;
  while (i < s->nent || j < w->nres) {
    int c = i == s->nent ? 1 : j == w->nres ? -1 : memcmp(s->ent[i].id.b, w->res[j].id.b, 16);
    if (c < 0) {
      ent[k++] = s->ent[i++];
      continue;
    }
    if (c == 0) entry_drop(s, &s->ent[i++]);
    if (w->res[j].what == R_LISTED) {
      ent[k++] = w->res[j].e;
      w->res[j].e.doc = NULL; /* moved */
    }
    j++;
  }
  if (k != nent) abort(); /* the counts above are the merge's */
  for (i = j = k = 0; i < s->nmem || j < w->nres;) {
    int c = i == s->nmem ? 1 : j == w->nres ? -1 : memcmp(s->mem[i].id.b, w->res[j].id.b, 16);
    if (c < 0) {
      mem[k++] = s->mem[i++];
      continue;
    }
    if (c == 0) i++;
    if (w->res[j].what == R_MEMBER)
      mem[k++] = (member){.id = w->res[j].id, .survivor = w->res[j].survivor};
    j++;
  }
  carnet__free(s->ent);
  carnet__free(s->mem);
  s->ent = ent;
  s->nent = nent;
  s->capent = capent;
  s->mem = mem;
  s->nmem = nmem;
  return 0;
}

static void walk_free(carnet_search *s, walk *w) {
  for (size_t j = 0; j < w->nres; j++)
    entry_drop(s, &w->res[j].e);
  carnet__free(w->res);
  carnet__free(w->todo);
  carnet__free(w->seen);
}

static int refresh(carnet_search *s) {
  walk w = {.s = s};
  int rc = 0;
  if (s->npending > 1) qsort(s->pending, s->npending, sizeof *s->pending, id_cmp);
  for (size_t i = 0; rc == 0 && i < s->npending; i++)
    if (i == 0 || memcmp(s->pending[i - 1].b, s->pending[i].b, 16) != 0)
      rc = todo_push(&w, &s->pending[i]);
  while (rc == 0 && w.ntodo > 0) {
    carnet_id y = w.todo[--w.ntodo];
    if (!seen_has(&w, &y)) rc = visit(&w, &y);
  }
  if (rc == 0) rc = apply(s, &w);
  walk_free(s, &w);
  if (rc == 0) s->npending = 0;
  return rc;
}

/* S3 and S4 for links: the records named by events read again, their old
 * links dropped and their new ones merged in, in a new array. */
static int refresh_links(carnet_search *s) {
  links_buf lb = {.s = s};
  int rc = 0;
  if (s->ncpending > 1) qsort(s->cpending, s->ncpending, sizeof *s->cpending, id_cmp);
  for (size_t i = 0; rc == 0 && i < s->ncpending; i++) {
    if (i > 0 && memcmp(s->cpending[i - 1].b, s->cpending[i].b, 16) == 0) continue;
    carnet_record *rec = NULL;
    rc = carnet_record_get(s->r, &s->cpending[i], &rec);
    if (rc == CARNET_ENOTFOUND) {
      rc = 0; /* gone (erased): its old links go */
    } else if (rc == 0 && child_kind(carnet_record_kind(rec))) {
      rc = links_of(&lb, rec);
    }
    carnet_record_free(rec);
  }
  size_t cap = s->nlinks + lb.n;
  link *v = NULL;
  if (rc == 0 && (rc = over(s, cap * sizeof(link))) == 0 &&
      (v = carnet__malloc((cap ? cap : 1) * sizeof *v)) == NULL)
    rc = CARNET_ENOMEM;
  if (rc) {
    carnet__free(lb.v);
    return rc;
  }
  if (lb.n > 1) qsort(lb.v, lb.n, sizeof *lb.v, link_cmp);
  size_t i = 0, j = 0, k = 0;
  while (i < s->nlinks || j < lb.n) {
    if (i < s->nlinks &&
        bsearch(&s->links[i].child, s->cpending, s->ncpending, sizeof *s->cpending, id_cmp)) {
      i++; /* a link of a record read again: its new ones are in lb */
      continue;
    }
    if (j == lb.n || (i < s->nlinks && link_cmp(&s->links[i], &lb.v[j]) < 0))
      v[k++] = s->links[i++];
    else
      v[k++] = lb.v[j++];
  }
  carnet__free(lb.v);
  carnet__free(s->links);
  s->links = v;
  s->nlinks = k;
  s->caplinks = cap;
  s->ncpending = 0;
  return 0;
}

/* --- The API ------------------------------------------------------------------------ */

int carnet_search_new(carnet_replica *r, size_t max_bytes, carnet_search **out) {
  if (out) *out = NULL;
  if (r == NULL || out == NULL) return CARNET_EMISUSE;
  if (r->txn) return carnet__fail(r, CARNET_EMISUSE, "build the search index between transactions");
  carnet_search *s = carnet__calloc(1, sizeof *s);
  if (s == NULL) return CARNET_ENOMEM;
  s->r = r;
  s->max_bytes = max_bytes ? max_bytes : CARNET_SEARCH_BYTES_DEFAULT;
  int rc = carnet_replica_subscribe(r, on_change, s, &s->sub); /* S2: first */
  if (rc == 0) rc = build(s);
  if (rc) {
    carnet_search_free(s);
    return rc;
  }
  if (r->search == NULL) { /* carnet_record_list asks it */
    r->search = s;
    r->children = carnet__search_children;
  }
  *out = s;
  return 0;
}

void carnet_search_free(carnet_search *s) {
  if (s == NULL) return;
  if (s->r->search == s) {
    s->r->search = NULL;
    s->r->children = NULL;
  }
  if (s->sub) carnet_replica_unsubscribe(s->r, s->sub);
  clear(s);
  carnet__sbuf_free(&s->buf);
  carnet__free(s);
}

int carnet_search_get_stats(const carnet_search *s, size_t *customers, size_t *bytes) {
  if (customers) *customers = s->nent;
  if (bytes) *bytes = bytes_of(s);
  return 0;
}

/* Whether `want` (an interned number) is among n labels. */
static bool has_label(const uint32_t *lab, size_t n, uint32_t want) {
  for (size_t i = 0; i < n; i++)
    if (lab[i] == want) return true;
  return false;
}

/* The index as of now: other processes' commits delivered, changes read. */
static int bring_up_to_date(carnet_search *s) {
  int rc = carnet_replica_poll(s->r);
  /* Inside a transaction or a change callback the feed cannot be read:
   * the index answers for what it has been told. */
  if (rc && rc != CARNET_EMISUSE) return rc;
  if (s->failed) return s->failed;
  if (!s->stale && s->npending) {
    rc = refresh(s);
    if (rc == CARNET_ELIMIT) go_stale(s);
    if (rc) return rc;
  }
  if (!s->stale && s->ncpending) {
    rc = refresh_links(s);
    if (rc == CARNET_ELIMIT) go_stale(s);
    if (rc) return rc;
  }
  if (s->stale) {
    rc = build(s);
    if (rc == CARNET_ELIMIT) s->failed = rc; /* until a change: the same scan would fail */
  }
  return rc;
}

int carnet_search_query(carnet_search *s, const carnet_filter *filter, const carnet_id *after,
                        carnet_id *ids, size_t max, size_t *n) {
  carnet__squery q;
  if (n == NULL) return CARNET_EMISUSE;
  *n = 0;
  if (s == NULL || (ids == NULL && max > 0)) return CARNET_EMISUSE;
  if (filter && filter->customer)
    return carnet__fail(s->r, CARNET_EINVAL, "customers belong to no customer: no such filter");
  int rc = bring_up_to_date(s);
  if (rc) return rc;
  bool deleted = filter && filter->include_deleted;
  uint32_t tag = UINT32_MAX, role = UINT32_MAX, rep = UINT32_MAX;
  if (filter && filter->tag && (tag = dict_find(&s->d, filter->tag)) == UINT32_MAX) return 0;
  if (filter && filter->role && (role = dict_find(&s->d, filter->role)) == UINT32_MAX) return 0;
  if (filter && filter->sales_rep && (rep = dict_find(&s->d, filter->sales_rep)) == UINT32_MAX)
    return 0;
  if ((rc = carnet__squery_init(&q, filter ? filter->text : NULL))) return rc;
  size_t i = 0;
  if (after) { /* the first entry after the cursor */
    size_t lo = 0, hi = s->nent;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (memcmp(s->ent[mid].id.b, after->b, 16) <= 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    i = lo;
  }
  for (; i < s->nent && *n < max; i++) {
    const entry *e = &s->ent[i];
    if (e->deleted && !deleted) continue;
    if (tag != UINT32_MAX && !has_label(labels(e), e->ntags, tag)) continue;
    if (role != UINT32_MAX && !has_label(labels(e) + e->ntags, e->nroles, role)) continue;
    if (rep != UINT32_MAX && e->rep != rep + 1) continue;
    if (!carnet__squery_match(&q, text(e), e->len, e->siret_off, e->phones_off)) continue;
    ids[(*n)++] = e->id;
  }
  carnet__squery_free(&q);
  return 0;
}

/* --- A customer's records (carnet_record_list's customer filter) ---------------------- */

/* Appends the records of `kind` linked to `customer`. */
static int children_of(const carnet_search *s, const carnet_id *customer, carnet_kind kind,
                       carnet_id **v, size_t *n, size_t *cap) {
  size_t lo = 0, hi = s->nlinks;
  while (lo < hi) { /* the first link of `customer` */
    size_t mid = lo + (hi - lo) / 2;
    if (memcmp(s->links[mid].customer.b, customer->b, 16) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (size_t i = lo; i < s->nlinks && memcmp(s->links[i].customer.b, customer->b, 16) == 0; i++) {
    if (s->links[i].kind != (uint8_t)kind) continue;
    if (*n == *cap) {
      size_t c = *cap ? *cap * 2 : 32;
      carnet_id *nv = carnet__realloc(*v, c * sizeof *nv);
      if (nv == NULL) return CARNET_ENOMEM;
      *v = nv;
      *cap = c;
    }
    (*v)[(*n)++] = s->links[i].child;
  }
  return 0;
}

int carnet__search_children(carnet_replica *r, const carnet_id *customer, carnet_kind kind,
                            carnet_id **ids, size_t *n) {
  carnet_search *s = r->search;
  bool behind = true;
  *ids = NULL;
  *n = 0;
  /* Only where the index can know everything the scan would read: no
   * write of an open transaction, no commit of another process it has not
   * been told of (no poll here: a listing calls no app callback), no
   * change being delivered, no listing under way. */
  if (s == NULL || !child_kind(kind) || r->txn || r->listing || r->feed.delivering || s->stale ||
      s->failed || carnet__feed_behind(r, &behind) != 0 || behind)
    return 1;
  if (s->npending && refresh(s) != 0) return 1;
  if (s->ncpending && refresh_links(s) != 0) return 1;
  /* The customer's whole group, as carnet__group_of gives it (S1). */
  const member *m = mem_find(s, customer);
  const carnet_id *survivor = m ? &m->survivor : customer;
  size_t cap = 0;
  int rc = children_of(s, survivor, kind, ids, n, &cap);
  const entry *e = ent_find(s, survivor);
  for (size_t i = 0; rc == 0 && e && e->merged && i < s->nmem; i++)
    if (memcmp(s->mem[i].survivor.b, survivor->b, 16) == 0)
      rc = children_of(s, &s->mem[i].id, kind, ids, n, &cap);
  if (rc) {
    carnet__free(*ids);
    *ids = NULL;
    *n = 0;
    return rc;
  }
  if (*n > 1) qsort(*ids, *n, sizeof **ids, id_cmp); /* an action may concern two members */
  size_t k = 0;
  for (size_t i = 0; i < *n; i++)
    if (k == 0 || memcmp((*ids)[k - 1].b, (*ids)[i].b, 16) != 0) (*ids)[k++] = (*ids)[i];
  *n = k;
  return 0;
}
