/* engine/crm/record.c - the read view of an entity: the merged state of its
 * cells rendered as text, owned by one arena. */
#include "engine/crm/record.h"
#include "engine/base/alloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/document.h"
#include "carnet/error.h"
#include "carnet/merge.h"
#include "carnet/record.h"
#include "engine/crm/consent.h"
#include "engine/crm/totals.h"
#include "engine/model/schema.h"
#include "engine/store/replica_int.h"

struct carnet_record {
  carnet__arena arena;
  carnet_id id;
  carnet_kind kind;
  bool deleted;
  carnet_hlc updated;
  carnet_hlc created; /* the earliest stamp among its cells */
  const char *scalar[CARNET_F_MAX_];
  const char **elems[CARNET_F_MAX_];
  size_t nelems[CARNET_F_MAX_];
  carnet_custom *customs;
  size_t ncustoms;
  carnet_consent_event *consents;
  size_t nconsents;
  bool granted[CARNET_CH_MAX_];
  carnet_hlc decided[CARNET_CH_MAX_];
  /* Documents. */
  carnet_line *lines; /* live lines in position order */
  size_t nlines;
  carnet_doc_status status;
  /* Merged customers (carnet/merge.h): the other members of its group. */
  carnet_id *merged;
  size_t nmerged;
  bool review;
};

static char *dup_str(carnet_record *rec, const msgpack_object *o) {
  return carnet__arena_dup(&rec->arena, o->via.str.ptr, o->via.str.size);
}

int carnet__render_scalar(carnet__arena *a, const msgpack_object *o, const char **out) {
  char buf[40];
  switch (o->type) {
  case MSGPACK_OBJECT_NIL:
    *out = NULL;
    return 0;
  case MSGPACK_OBJECT_STR:
    *out = carnet__arena_dup(a, o->via.str.ptr, o->via.str.size);
    break;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    snprintf(buf, sizeof buf, "%" PRIu64, o->via.u64);
    *out = carnet__arena_dup(a, buf, strlen(buf));
    break;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    snprintf(buf, sizeof buf, "%" PRId64, o->via.i64);
    *out = carnet__arena_dup(a, buf, strlen(buf));
    break;
  case MSGPACK_OBJECT_BOOLEAN:
    *out = o->via.boolean ? "true" : "false";
    return 0;
  case MSGPACK_OBJECT_BIN: { /* ids, an attachment's hash: lowercase hex */
    static const char hexd[] = "0123456789abcdef";
    char *s;
    if (o->via.bin.size != 16 && o->via.bin.size != 32) return CARNET_ECORRUPT;
    if ((s = carnet__arena_alloc(a, 2 * o->via.bin.size + 1)) == NULL) return CARNET_ENOMEM;
    for (uint32_t i = 0; i < o->via.bin.size; i++) {
      s[2 * i] = hexd[(uint8_t)o->via.bin.ptr[i] >> 4];
      s[2 * i + 1] = hexd[(uint8_t)o->via.bin.ptr[i] & 15];
    }
    s[2 * o->via.bin.size] = '\0';
    *out = s;
    break;
  }
  default:
    return CARNET_ECORRUPT;
  }
  return *out ? 0 : CARNET_ENOMEM;
}

/* Append a string to a growable array kept in the arena. */
static int push_elem(carnet_record *rec, carnet_field f, const char *s, size_t *cap) {
  if (rec->nelems[f] == *cap) {
    size_t ncap = *cap ? *cap * 2 : 8;
    const char **a = carnet__arena_alloc(&rec->arena, ncap * sizeof *a);
    if (a == NULL) return CARNET_ENOMEM;
    if (rec->nelems[f]) memcpy(a, rec->elems[f], rec->nelems[f] * sizeof *a);
    rec->elems[f] = a;
    *cap = ncap;
  }
  rec->elems[f][rec->nelems[f]++] = s;
  return 0;
}

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int count_field(const carnet__entity *e, carnet_field f) {
  int n = 0;
  for (size_t i = 0; i < e->n; i++)
    n += e->cells[i].field == f;
  return n;
}

static int add_cell(carnet_record *rec, const carnet__cell *c, const msgpack_object *o,
                    size_t *caps, carnet__consent_ev *cev) {
  const carnet_field_info *fi = carnet_field_get((carnet_field)c->field);
  carnet_field f = fi->field;
  switch (fi->crdt) {
  case CARNET_CRDT_LWW:
    if (f == CARNET_F_DELETED) rec->deleted = o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
    if (f == CARNET_F_CONTENT_KEY) return 0; /* a secret: never shown (carnet/attach.h) */
    return carnet__render_scalar(&rec->arena, o, &rec->scalar[f]);
  case CARNET_CRDT_SET: {
    if (!o->via.boolean) return 0;
    char *s;
    if (fi->vtype == CARNET_V_ID) { /* ids (an action's customers) read as hex */
      carnet_id id;
      memcpy(id.b, c->key, 16);
      s = carnet__arena_alloc(&rec->arena, CARNET_ID_HEX_LEN + 1);
      if (s) carnet_id_format(&id, s);
    } else {
      s = carnet__arena_dup(&rec->arena, c->key, c->klen);
    }
    return s ? push_elem(rec, f, s, &caps[f]) : CARNET_ENOMEM;
  }
  case CARNET_CRDT_MAX:
    return 0; /* document status: doc_build */
  case CARNET_CRDT_MAP: {
    if (f == CARNET_F_LINES || f == CARNET_F_NUMBER) return 0; /* doc_build */
    if (o->type == MSGPACK_OBJECT_NIL) return 0;
    const msgpack_object *a = o->via.array.ptr;
    if (f == CARNET_F_PHONES) {
      size_t n = a[0].via.str.size + 1 + a[1].via.str.size;
      char *s = carnet__arena_alloc(&rec->arena, n + 1);
      if (s == NULL) return CARNET_ENOMEM;
      snprintf(s, n + 1, "%.*s:%.*s", (int)a[0].via.str.size, a[0].via.str.ptr,
               (int)a[1].via.str.size, a[1].via.str.ptr);
      return push_elem(rec, f, s, &caps[f]);
    }
    carnet_custom *cu = &rec->customs[rec->ncustoms];
    cu->name = carnet__arena_dup(&rec->arena, c->key, c->klen);
    cu->type = (carnet_custom_type)a[0].via.u64;
    cu->value = dup_str(rec, &a[1]);
    if (cu->name == NULL || cu->value == NULL) return CARNET_ENOMEM;
    rec->ncustoms++;
    return 0;
  }
  case CARNET_CRDT_LOG: {
    const msgpack_object *a = o->via.array.ptr;
    carnet_consent_event *ev = &rec->consents[rec->nconsents];
    ev->channel = (carnet_channel)c->key[0];
    ev->granted = a[0].via.boolean;
    ev->at = carnet__be64_get(c->key + 1);
    ev->origin = carnet__be64_get(c->key + 9);
    ev->note = dup_str(rec, &a[2]);
    if (ev->note == NULL) return CARNET_ENOMEM;
    cev[rec->nconsents] = (carnet__consent_ev){ev->granted, ev->at, ev->origin, a[1].via.u64};
    rec->nconsents++;
    return 0;
  }
  }
  return CARNET_ECORRUPT;
}

/* --- documents ------------------------------------------------------------ */

static int64_t obj_int(const msgpack_object *o) {
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) return (int64_t)o->via.u64;
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) return o->via.i64;
  return 0;
}

/* Order of lines: position, then line id (two replicas inserting at the same
 * place concurrently get the same position). */
static int line_cmp(const void *a, const void *b) {
  const carnet_line *x = a, *y = b;
  int c = strcmp(x->pos, y->pos);
  return c ? c : memcmp(x->id.b, y->id.b, sizeof x->id.b);
}

static int status_cmp_stamp(const carnet__cell *a, const carnet__cell *b) {
  if (a->hlc != b->hlc) return a->hlc < b->hlc ? -1 : 1;
  return a->origin < b->origin ? -1 : a->origin > b->origin;
}

/* Status (the greatest reached), number (the first given: two replicas that
 * validated one draft concurrently both gave a number; both are kept, no
 * series has a gap, and the earliest shows) and lines. */
static int doc_build(carnet_record *rec, const carnet__entity *e, msgpack_zone *z, size_t *caps) {
  const carnet__cell *first_number = NULL;
  size_t nline_cells = 0;
  int rc;
  rec->status = CARNET_ST_DRAFT;
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    if (c->field == CARNET_F_STATUS) {
      if (c->key[0] > rec->status) rec->status = (carnet_doc_status)c->key[0];
      const char *name = carnet_doc_status_name((carnet_doc_status)c->key[0]);
      if ((rc = push_elem(rec, CARNET_F_STATUS, name, &caps[CARNET_F_STATUS]))) return rc;
    } else if (c->field == CARNET_F_NUMBER) {
      msgpack_object o;
      size_t off = 0;
      msgpack_zone_clear(z);
      if (msgpack_unpack((const char *)c->val, c->vlen, &off, z, &o) != MSGPACK_UNPACK_SUCCESS)
        return CARNET_ECORRUPT;
      char *num = dup_str(rec, &o);
      if (num == NULL) return CARNET_ENOMEM;
      if ((rc = push_elem(rec, CARNET_F_NUMBER, num, &caps[CARNET_F_NUMBER]))) return rc;
      if (first_number == NULL || status_cmp_stamp(c, first_number) < 0) {
        first_number = c;
        rec->scalar[CARNET_F_NUMBER] = num;
      }
    } else if (c->field == CARNET_F_LINES) {
      nline_cells++;
    }
  }
  rec->scalar[CARNET_F_STATUS] = carnet_doc_status_name(rec->status);
  /* Lines: the cells of one line are adjacent (key = line id + column). */
  rec->lines = carnet__arena_alloc(&rec->arena, (nline_cells + 1) * sizeof *rec->lines);
  if (rec->lines == NULL) return CARNET_ENOMEM;
  carnet_line *cur = NULL;
  bool deleted = false;
  for (size_t i = 0; i <= e->n; i++) {
    const carnet__cell *c = i < e->n ? &e->cells[i] : NULL;
    bool same = c && cur && c->field == CARNET_F_LINES && memcmp(c->key, cur->id.b, 8) == 0;
    if (cur && !same) { /* close the current line */
      if (!deleted) {
        cur->total_ht = carnet__line_ht(cur->qty, cur->unit_price, cur->discount_bp);
        rec->nlines++;
      }
      cur = NULL;
    }
    if (c == NULL || c->field != CARNET_F_LINES) continue;
    if (cur == NULL) {
      cur = &rec->lines[rec->nlines];
      memset(cur, 0, sizeof *cur);
      memcpy(cur->id.b, c->key, 8);
      cur->pos = "";
      deleted = false;
    }
    msgpack_object o;
    size_t off = 0;
    msgpack_zone_clear(z);
    if (msgpack_unpack((const char *)c->val, c->vlen, &off, z, &o) != MSGPACK_UNPACK_SUCCESS)
      return CARNET_ECORRUPT;
    bool nil = o.type == MSGPACK_OBJECT_NIL;
    char *str = NULL;
    if (o.type == MSGPACK_OBJECT_STR && (str = dup_str(rec, &o)) == NULL) return CARNET_ENOMEM;
    switch (c->key[8]) {
    case CARNET__LC_PRODUCT:
      cur->product = str;
      break;
    case CARNET__LC_LABEL:
      cur->label = str;
      break;
    case CARNET__LC_QTY:
      cur->qty = obj_int(&o);
      break;
    case CARNET__LC_PRICE:
      cur->unit_price = obj_int(&o);
      break;
    case CARNET__LC_COST:
      cur->has_cost = !nil;
      cur->cost = nil ? 0 : obj_int(&o);
      break;
    case CARNET__LC_VAT:
      cur->vat_bp = (uint32_t)obj_int(&o);
      break;
    case CARNET__LC_DISCOUNT:
      cur->discount_bp = (uint32_t)obj_int(&o);
      break;
    case CARNET__LC_POS:
      cur->pos = str ? str : "";
      break;
    case CARNET__LC_DELETED:
      deleted = o.type == MSGPACK_OBJECT_BOOLEAN && o.via.boolean;
      break;
    }
  }
  qsort(rec->lines, rec->nlines, sizeof *rec->lines, line_cmp);
  return 0;
}

static int ev_cmp(const void *a, const void *b) {
  const carnet_consent_event *x = a, *y = b;
  if (x->at != y->at) return x->at < y->at ? -1 : 1;
  return x->origin < y->origin ? -1 : x->origin > y->origin;
}

int carnet__record_build(const carnet__entity *e, carnet_record **out) {
  carnet_record *rec = carnet__calloc(1, sizeof *rec);
  carnet__consent_ev *cev = NULL;
  size_t caps[CARNET_F_MAX_] = {0};
  msgpack_zone z;
  int rc = CARNET_ENOMEM;
  *out = NULL;
  if (rec == NULL) return CARNET_ENOMEM;
  if (!msgpack_zone_init(&z, 512)) {
    carnet__free(rec);
    return CARNET_ENOMEM;
  }
  carnet__arena_init(&rec->arena, 2048);
  rec->id = e->id;
  rec->kind = (carnet_kind)e->kind;
  int ncustom = count_field(e, CARNET_F_CUSTOM), ncons = count_field(e, CARNET_F_CONSENT);
  rec->customs = carnet__arena_alloc(&rec->arena, (size_t)(ncustom + 1) * sizeof *rec->customs);
  rec->consents = carnet__arena_alloc(&rec->arena, (size_t)(ncons + 1) * sizeof *rec->consents);
  cev = carnet__malloc((size_t)(ncons + 1) * sizeof *cev);
  if (rec->customs == NULL || rec->consents == NULL || cev == NULL) goto done;
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    msgpack_object o;
    size_t off = 0;
    msgpack_zone_clear(&z);
    if (msgpack_unpack((const char *)c->val, c->vlen, &off, &z, &o) != MSGPACK_UNPACK_SUCCESS) {
      rc = CARNET_ECORRUPT;
      goto done;
    }
    if (c->hlc > rec->updated) rec->updated = c->hlc;
    if (rec->created == 0 || c->hlc < rec->created) rec->created = c->hlc;
    if ((rc = add_cell(rec, c, &o, caps, cev))) goto done;
  }
  if (rec->kind == CARNET_KIND_DOCUMENT && (rc = doc_build(rec, e, &z, caps))) goto done;
  /* Two replicas may both have added the same number in different slots. */
  size_t np = rec->nelems[CARNET_F_PHONES];
  if (np > 1) {
    const char **ph = rec->elems[CARNET_F_PHONES];
    qsort(ph, np, sizeof *ph, str_cmp);
    size_t k = 1;
    for (size_t i = 1; i < np; i++)
      if (strcmp(ph[i], ph[k - 1]) != 0) ph[k++] = ph[i];
    rec->nelems[CARNET_F_PHONES] = k;
  }
  for (int ch = 1; ch < CARNET_CH_MAX_; ch++) {
    size_t n = 0;
    carnet__consent_ev *sel = carnet__malloc((rec->nconsents + 1) * sizeof *sel);
    if (sel == NULL) {
      rc = CARNET_ENOMEM; /* rc is 0 here: the record would be "built" as NULL */
      goto done;
    }
    for (size_t i = 0; i < rec->nconsents; i++)
      if (rec->consents[i].channel == (carnet_channel)ch) sel[n++] = cev[i];
    rec->granted[ch] = carnet__consent_decide(sel, n, &rec->decided[ch]);
    carnet__free(sel);
  }
  qsort(rec->consents, rec->nconsents, sizeof *rec->consents, ev_cmp);
  *out = rec;
  rec = NULL;
  rc = 0;
done:
  carnet__free(cev);
  msgpack_zone_destroy(&z);
  if (rec) carnet_record_free(rec);
  return rc;
}

void carnet_record_free(carnet_record *rec) {
  if (rec == NULL) return;
  carnet__arena_free(&rec->arena);
  carnet__free(rec);
}

carnet_kind carnet_record_kind(const carnet_record *rec) {
  return rec->kind;
}

const carnet_id *carnet_record_id(const carnet_record *rec) {
  return &rec->id;
}

bool carnet_record_deleted(const carnet_record *rec) {
  return rec->deleted;
}

const char *carnet_record_str(const carnet_record *rec, carnet_field f) {
  return f >= 1 && f < CARNET_F_MAX_ ? rec->scalar[f] : NULL;
}

size_t carnet_record_elems(const carnet_record *rec, carnet_field f, const char *const **out) {
  if (f < 1 || f >= CARNET_F_MAX_) {
    *out = NULL;
    return 0;
  }
  *out = rec->elems[f];
  return rec->nelems[f];
}

size_t carnet_record_customs(const carnet_record *rec, const carnet_custom **out) {
  *out = rec->customs;
  return rec->ncustoms;
}

bool carnet_record_consent(const carnet_record *rec, carnet_channel ch, carnet_hlc *decided_at) {
  if (ch < 1 || ch >= CARNET_CH_MAX_) {
    if (decided_at) *decided_at = 0;
    return false;
  }
  if (decided_at) *decided_at = rec->decided[ch];
  return rec->granted[ch];
}

size_t carnet_record_consent_log(const carnet_record *rec, const carnet_consent_event **out) {
  *out = rec->consents;
  return rec->nconsents;
}

carnet_hlc carnet_record_updated(const carnet_record *rec) {
  return rec->updated;
}

carnet_hlc carnet_record_created(const carnet_record *rec) {
  return rec->created;
}

size_t carnet_record_lines(const carnet_record *rec, const carnet_line **out) {
  *out = rec->lines;
  return rec->nlines;
}

carnet_doc_status carnet_record_status(const carnet_record *rec) {
  return rec->kind == CARNET_KIND_DOCUMENT ? rec->status : (carnet_doc_status)0;
}

carnet_doc_type carnet_record_doc_type(const carnet_record *rec) {
  if (rec->kind != CARNET_KIND_DOCUMENT) return (carnet_doc_type)0;
  return carnet_doc_type_parse(rec->scalar[CARNET_F_DOC_TYPE]);
}

int carnet__record_set_group(carnet_record *rec, const carnet_id *others, size_t n, bool review) {
  rec->merged = n ? carnet__arena_alloc(&rec->arena, n * sizeof *others) : NULL;
  if (n && rec->merged == NULL) return CARNET_ENOMEM;
  if (n) memcpy(rec->merged, others, n * sizeof *others);
  rec->nmerged = n;
  rec->review = review;
  return 0;
}

size_t carnet_record_merged(const carnet_record *rec, const carnet_id **out) {
  *out = rec->merged;
  return rec->nmerged;
}

bool carnet_record_review(const carnet_record *rec) {
  return rec->review;
}
