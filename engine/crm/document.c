/* engine/crm/document.c - commercial documents: lines, validation, status,
 * conversions (carnet/document.h).
 *
 * Every call here is one entity write through carnet__write (write.h), with
 * a callback that writes the cells a patch cannot express:
 *
 *   lines   F_LINES[line id(8) + column(1)] = value     map of LWW cells
 *   status  F_STATUS[rank(1)] = true                      grow-only set
 *   number  F_NUMBER[series] = number                     written once
 *
 * Invariants:
 *   D1. The status never goes back: status cells are only ever added (the
 *       schema refuses a false value), and the status read is the greatest
 *       rank present. So concurrent moves converge on the greater one.
 *   D2. A validated document (one with a number) is read-only: carnet__write
 *       refuses every write but the engine's own (status).
 *   D3. A validation writes the number, the counter of its series
 *       (numbering.h N1), the status sent and the frozen totals in one
 *       transaction.
 *   D5. The validation also copies the customer's identity (name, company,
 *       SIRET, street, postcode, city, country; never a phone or e-mail)
 *       onto the document: an invoice shows the identity as issued, even
 *       after the customer is erased (carnet/erase.h). Only the validation
 *       writes these fields of a document.
 *   D4. A line is never physically removed: its tombstone column keeps a
 *       concurrent edit of another column from resurrecting it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/document.h"
#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/id.h"
#include "engine/base/mp.h"
#include "engine/base/text.h"
#include "engine/crm/dates.h"
#include "engine/crm/numbering.h"
#include "engine/crm/record.h"
#include "engine/crm/totals.h"
#include "engine/crm/write.h"
#include "engine/model/schema.h"
#include "engine/store/entity_io.h"
#include "engine/store/replica_int.h"

/* --- totals ---------------------------------------------------------------- */

int carnet_doc_totals(const carnet_record *rec, carnet_totals *out) {
  memset(out, 0, sizeof *out);
  if (carnet_record_kind(rec) != CARNET_KIND_DOCUMENT) return CARNET_EINVAL;
  const carnet_line *lines;
  size_t n = carnet_record_lines(rec, &lines);
  return carnet__totals_of(lines, n, carnet_record_str(rec, CARNET_F_FROZEN_HT),
                           carnet_record_str(rec, CARNET_F_FROZEN_TTC), out);
}

/* --- line ids ---------------------------------------------------------------- */

void carnet_line_id_format(const carnet_line_id *id, char out[17]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 8; i++) {
    out[2 * i] = hex[id->b[i] >> 4];
    out[2 * i + 1] = hex[id->b[i] & 15];
  }
  out[16] = '\0';
}

int carnet_line_id_parse(const char *s, carnet_line_id *out) {
  if (s == NULL || strlen(s) != 16) return CARNET_EINVAL;
  for (int i = 0; i < 16; i++) {
    char c = s[i];
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (v < 0) return CARNET_EINVAL;
    if (i % 2 == 0)
      out->b[i / 2] = (uint8_t)(v << 4);
    else
      out->b[i / 2] |= (uint8_t)v;
  }
  return 0;
}

/* --- reading the entity being written ---------------------------------------- */

/* What the write callbacks need to know of a line. */
typedef struct lview {
  uint8_t id[8];
  char pos[CARNET__POS_MAX + 1];
  bool deleted;
} lview;

typedef struct lineset {
  lview *v;
  size_t n; /* every line, removed ones included */
} lineset;

static void lines_free(lineset *ls) {
  carnet__free(ls->v);
  ls->v = NULL;
  ls->n = 0;
}

static int lines_of(const carnet__entity *e, lineset *out) {
  out->v = NULL;
  out->n = 0;
  size_t cap = 0;
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    if (c->field != CARNET_F_LINES) continue;
    if (out->n == 0 || memcmp(out->v[out->n - 1].id, c->key, 8) != 0) {
      if (out->n == cap) {
        cap = cap ? cap * 2 : 16;
        lview *v = carnet__realloc(out->v, cap * sizeof *v);
        if (v == NULL) {
          lines_free(out);
          return CARNET_ENOMEM;
        }
        out->v = v;
      }
      lview *l = &out->v[out->n++];
      memcpy(l->id, c->key, 8);
      l->pos[0] = '\0';
      l->deleted = false;
    }
    lview *l = &out->v[out->n - 1];
    /* Values passed the schema: a position is a str (fixstr or str8 header),
     * a tombstone a bool. */
    if (c->key[8] == CARNET__LC_POS) {
      size_t hdr = c->val[0] == 0xd9 ? 2 : 1, len = c->vlen - hdr;
      if (len <= CARNET__POS_MAX) {
        memcpy(l->pos, c->val + hdr, len);
        l->pos[len] = '\0';
      }
    } else if (c->key[8] == CARNET__LC_DELETED) {
      l->deleted = c->vlen == 1 && c->val[0] == 0xc3;
    }
  }
  return 0;
}

static const lview *line_find(const lineset *ls, const carnet_line_id *id) {
  for (size_t i = 0; i < ls->n; i++)
    if (memcmp(ls->v[i].id, id->b, 8) == 0) return &ls->v[i];
  return NULL;
}

/* The smallest live position strictly greater than `lo` ("" = none), skipping
 * line `skip` (may be NULL). */
static const char *next_pos(const lineset *ls, const char *lo, const carnet_line_id *skip) {
  const char *best = NULL;
  for (size_t i = 0; i < ls->n; i++) {
    const lview *l = &ls->v[i];
    if (l->deleted || l->pos[0] == '\0' || (skip && memcmp(l->id, skip->b, 8) == 0)) continue;
    if (strcmp(l->pos, lo) > 0 && (best == NULL || strcmp(l->pos, best) < 0)) best = l->pos;
  }
  return best;
}

/* The greatest live position ("" when none), skipping `skip`. */
static const char *last_pos(const lineset *ls, const carnet_line_id *skip) {
  const char *best = "";
  for (size_t i = 0; i < ls->n; i++) {
    const lview *l = &ls->v[i];
    if (l->deleted || (skip && memcmp(l->id, skip->b, 8) == 0)) continue;
    if (strcmp(l->pos, best) > 0) best = l->pos;
  }
  return best;
}

static carnet_doc_status status_of(const carnet__entity *e) {
  carnet_doc_status s = CARNET_ST_DRAFT;
  for (size_t i = 0; i < e->n; i++)
    if (e->cells[i].field == CARNET_F_STATUS && e->cells[i].key[0] > s)
      s = (carnet_doc_status)e->cells[i].key[0];
  return s;
}

/* A str scalar of the entity copied to out ("" when unset). */
static void str_of(const carnet__entity *e, carnet_field f, char *out, size_t len) {
  const carnet__cell *c = carnet__entity_find(e, f, NULL, 0);
  out[0] = '\0';
  if (c == NULL || c->vlen < 1) return;
  uint8_t h = c->val[0];
  size_t hdr = (h & 0xe0) == 0xa0 ? 1 : h == 0xd9 ? 2 : h == 0xda ? 3 : 0;
  if (hdr == 0) return;
  size_t n = c->vlen - hdr;
  if (n + 1 > len) n = len - 1;
  memcpy(out, c->val + hdr, n);
  out[n] = '\0';
}

static carnet_doc_type type_of(const carnet__entity *e) {
  char t[32];
  str_of(e, CARNET_F_DOC_TYPE, t, sizeof t);
  return carnet_doc_type_parse(t);
}

static carnet_replica *wr(carnet__writer *w) {
  return carnet__writer_txn(w)->r;
}

/* --- line operations ------------------------------------------------------------ */

enum { LOP_ADD, LOP_EDIT, LOP_REMOVE, LOP_MOVE };

typedef struct line_op {
  int op;
  const carnet_line_input *in;
  const carnet_line_id *line;
  const carnet_line_id *after;
  carnet_line_id id; /* the line written */
} line_op;

static int put_col(carnet__writer *w, const carnet_line_id *id, int col) {
  uint8_t key[CARNET__LINE_KEY_LEN];
  memcpy(key, id->b, 8);
  key[8] = (uint8_t)col;
  return carnet__writer_put(w, CARNET_F_LINES, key, sizeof key);
}

static int put_col_str(carnet__writer *w, const carnet_line_id *id, int col, const char *s) {
  msgpack_packer *pk = carnet__writer_packer(w);
  if (s == NULL || *s == '\0')
    msgpack_pack_nil(pk);
  else
    carnet__pack_str(pk, s, strlen(s));
  return put_col(w, id, col);
}

static int put_col_int(carnet__writer *w, const carnet_line_id *id, int col, int64_t v) {
  msgpack_pack_int64(carnet__writer_packer(w), v);
  return put_col(w, id, col);
}

static int check_input(carnet_replica *r, const carnet_line_input *in) {
  if (in == NULL) return carnet__fail(r, CARNET_EMISUSE, "no line input");
  if ((in->set & CARNET_LINE_PRODUCT) && in->product &&
      carnet__text_valid(in->product, 200, false) != 0)
    return carnet__fail(r, CARNET_EINVAL,
                        "invalid product '%s': one line of UTF-8, at most 200 "
                        "bytes",
                        in->product);
  if ((in->set & CARNET_LINE_LABEL) && in->label && carnet__text_valid(in->label, 2000, true) != 0)
    return carnet__fail(r, CARNET_EINVAL, "invalid label: UTF-8, at most 2000 bytes");
  if ((in->set & CARNET_LINE_QTY) && (in->qty < -CARNET_QTY_MAX || in->qty > CARNET_QTY_MAX))
    return carnet__fail(r, CARNET_EINVAL, "invalid quantity: at most a million units either way");
  if ((in->set & CARNET_LINE_PRICE) &&
      (in->unit_price < -CARNET_PRICE_MAX || in->unit_price > CARNET_PRICE_MAX))
    return carnet__fail(r, CARNET_EINVAL, "invalid unit price: at most 100,000,000.00 either way");
  if ((in->set & CARNET_LINE_COST) && in->cost > CARNET_PRICE_MAX)
    return carnet__fail(r, CARNET_EINVAL, "invalid cost price: at most 100,000,000.00");
  if ((in->set & CARNET_LINE_VAT) && in->vat_bp > 10000)
    return carnet__fail(r, CARNET_EINVAL, "invalid VAT rate: 0 to 100 %%");
  if ((in->set & CARNET_LINE_DISCOUNT) && in->discount_bp > 10000)
    return carnet__fail(r, CARNET_EINVAL, "invalid discount: 0 to 100 %%");
  return 0;
}

static int put_columns(carnet__writer *w, const carnet_line_id *id, const carnet_line_input *in,
                       bool add) {
  unsigned set = in->set;
  int rc = 0;
  if (rc == 0 && (set & CARNET_LINE_PRODUCT))
    rc = put_col_str(w, id, CARNET__LC_PRODUCT, in->product);
  if (rc == 0 && (set & CARNET_LINE_LABEL)) rc = put_col_str(w, id, CARNET__LC_LABEL, in->label);
  if (rc == 0 && (add || (set & CARNET_LINE_QTY)))
    rc = put_col_int(w, id, CARNET__LC_QTY, (set & CARNET_LINE_QTY) ? in->qty : 0);
  if (rc == 0 && (add || (set & CARNET_LINE_PRICE)))
    rc = put_col_int(w, id, CARNET__LC_PRICE, (set & CARNET_LINE_PRICE) ? in->unit_price : 0);
  if (rc == 0 && (set & CARNET_LINE_COST)) {
    if (in->cost < 0) {
      msgpack_pack_nil(carnet__writer_packer(w));
      rc = put_col(w, id, CARNET__LC_COST);
    } else {
      rc = put_col_int(w, id, CARNET__LC_COST, in->cost);
    }
  }
  if (rc == 0 && (add || (set & CARNET_LINE_VAT)))
    rc = put_col_int(w, id, CARNET__LC_VAT, (set & CARNET_LINE_VAT) ? in->vat_bp : 0);
  if (rc == 0 && (add || (set & CARNET_LINE_DISCOUNT)))
    rc =
        put_col_int(w, id, CARNET__LC_DISCOUNT, (set & CARNET_LINE_DISCOUNT) ? in->discount_bp : 0);
  return rc;
}

static int put_pos(carnet__writer *w, const carnet_line_id *id, const char *lo, const char *hi) {
  char pos[CARNET__POS_MAX + 1];
  int rc = carnet__pos_between(lo, hi, pos);
  if (rc == CARNET_ELIMIT)
    return carnet__fail(wr(w), rc, "too many moves at one place: the line position is full");
  if (rc) return carnet__fail(wr(w), CARNET_ECORRUPT, "damaged line positions");
  return put_col_str(w, id, CARNET__LC_POS, pos);
}

static int line_fn(carnet__writer *w, void *arg) {
  line_op *op = arg;
  carnet_replica *r = wr(w);
  lineset ls;
  char hex[17];
  int rc = lines_of(carnet__writer_entity(w), &ls);
  if (rc) return rc;
  const lview *after = NULL;
  if (op->after) {
    after = line_find(&ls, op->after);
    carnet_line_id_format(op->after, hex);
    if (after == NULL || after->deleted) {
      rc = carnet__fail(r, CARNET_ENOTFOUND, "no line %s in this document", hex);
      goto done;
    }
  }
  if (op->op == LOP_ADD) {
    bool has_text = ((op->in->set & CARNET_LINE_LABEL) && op->in->label && op->in->label[0]) ||
                    ((op->in->set & CARNET_LINE_PRODUCT) && op->in->product && op->in->product[0]);
    if (!has_text) {
      rc = carnet__fail(r, CARNET_EINVAL, "a line needs a label or a product");
      goto done;
    }
    if (ls.n >= CARNET_DOC_LINES_MAX) {
      rc = carnet__fail(r, CARNET_ELIMIT,
                        "a document holds at most %d lines (removed ones "
                        "included): start another document",
                        CARNET_DOC_LINES_MAX);
      goto done;
    }
    carnet__random(r, op->id.b, sizeof op->id.b);
    const char *lo = after ? after->pos : last_pos(&ls, NULL);
    const char *hi = after ? next_pos(&ls, after->pos, NULL) : NULL;
    if ((rc = put_columns(w, &op->id, op->in, true)) == 0) rc = put_pos(w, &op->id, lo, hi);
    goto done;
  }
  op->id = *op->line;
  const lview *l = line_find(&ls, op->line);
  carnet_line_id_format(op->line, hex);
  if (l == NULL || l->deleted) {
    rc = carnet__fail(r, CARNET_ENOTFOUND, "no line %s in this document%s", hex,
                      l ? " (it was removed)" : "");
    goto done;
  }
  switch (op->op) {
  case LOP_EDIT:
    if ((op->in->set &
         (CARNET_LINE_PRODUCT | CARNET_LINE_LABEL | CARNET_LINE_QTY | CARNET_LINE_PRICE |
          CARNET_LINE_COST | CARNET_LINE_VAT | CARNET_LINE_DISCOUNT)) == 0) {
      rc = carnet__fail(r, CARNET_EINVAL, "nothing to change in line %s", hex);
      break;
    }
    rc = put_columns(w, &op->id, op->in, false);
    break;
  case LOP_REMOVE:
    msgpack_pack_true(carnet__writer_packer(w));
    rc = put_col(w, &op->id, CARNET__LC_DELETED);
    break;
  case LOP_MOVE:
    if (after == l) {
      rc = carnet__fail(r, CARNET_EINVAL, "cannot move line %s after itself", hex);
      break;
    }
    if (after) {
      rc = put_pos(w, &op->id, after->pos, next_pos(&ls, after->pos, op->line));
    } else {
      rc = put_pos(w, &op->id, "", next_pos(&ls, "", op->line));
    }
    break;
  }
done:
  lines_free(&ls);
  return rc;
}

static int line_write(carnet_txn *t, const carnet_id *doc, line_op *op) {
  if (op->in && check_input(t->r, op->in) != 0) return carnet__txn_fail(t, CARNET_EINVAL);
  return carnet__write(t, doc, CARNET_KIND_DOCUMENT, NULL, 0, line_fn, op);
}

int carnet_doc_line_add(carnet_txn *t, const carnet_id *doc, const carnet_line_input *in,
                        const carnet_line_id *after, carnet_line_id *out) {
  line_op op = {.op = LOP_ADD, .in = in, .after = after};
  if (in == NULL) return carnet__fail(t->r, CARNET_EMISUSE, "no line input");
  int rc = line_write(t, doc, &op);
  if (rc == 0 && out) *out = op.id;
  return rc;
}

int carnet_doc_line_edit(carnet_txn *t, const carnet_id *doc, const carnet_line_id *line,
                         const carnet_line_input *in) {
  if (in == NULL || line == NULL) return carnet__fail(t->r, CARNET_EMISUSE, "no line or input");
  line_op op = {.op = LOP_EDIT, .in = in, .line = line};
  return line_write(t, doc, &op);
}

int carnet_doc_line_remove(carnet_txn *t, const carnet_id *doc, const carnet_line_id *line) {
  if (line == NULL) return carnet__fail(t->r, CARNET_EMISUSE, "no line");
  line_op op = {.op = LOP_REMOVE, .line = line};
  return line_write(t, doc, &op);
}

int carnet_doc_line_move(carnet_txn *t, const carnet_id *doc, const carnet_line_id *line,
                         const carnet_line_id *after) {
  if (line == NULL) return carnet__fail(t->r, CARNET_EMISUSE, "no line");
  line_op op = {.op = LOP_MOVE, .line = line, .after = after};
  return line_write(t, doc, &op);
}

/* --- validation --------------------------------------------------------------------- */

typedef struct validate_op {
  char number[CARNET_NUMBER_MAX];
} validate_op;

static int put_int(carnet__writer *w, carnet_field f, int64_t v) {
  msgpack_pack_int64(carnet__writer_packer(w), v);
  return carnet__writer_put(w, f, NULL, 0);
}

static int put_text(carnet__writer *w, carnet_field f, const void *key, size_t klen,
                    const char *s) {
  carnet__pack_str(carnet__writer_packer(w), s, strlen(s));
  return carnet__writer_put(w, f, key, klen);
}

static int put_status(carnet__writer *w, carnet_doc_status s) {
  uint8_t key = (uint8_t)s;
  msgpack_pack_true(carnet__writer_packer(w));
  return carnet__writer_put(w, CARNET_F_STATUS, &key, 1);
}

/* The first number a document was given ("" when none). */
static void number_of(const carnet__entity *e, char out[CARNET_NUMBER_MAX]) {
  const carnet__cell *first = NULL;
  out[0] = '\0';
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    if (c->field != CARNET_F_NUMBER) continue;
    if (first == NULL || c->hlc < first->hlc || (c->hlc == first->hlc && c->origin < first->origin))
      first = c;
  }
  if (first == NULL) return;
  size_t hdr = (first->val[0] & 0xe0) == 0xa0 ? 1 : 2, n = first->vlen - hdr;
  if (n >= CARNET_NUMBER_MAX) n = CARNET_NUMBER_MAX - 1;
  memcpy(out, first->val + hdr, n);
  out[n] = '\0';
}

/* The customer's identity as issued: copied onto the document in the
 * validating transaction (D5), so an invoice keeps it once the customer is
 * erased (carnet/erase.h). No phone, no e-mail. */
static const carnet_field identity_fields[] = {CARNET_F_NAME,   CARNET_F_COMPANY,  CARNET_F_SIRET,
                                               CARNET_F_STREET, CARNET_F_POSTCODE, CARNET_F_CITY,
                                               CARNET_F_COUNTRY};

static int freeze_identity(carnet__writer *w) {
  const carnet__cell *cu =
      carnet__entity_find(carnet__writer_entity(w), CARNET_F_CUSTOMER, NULL, 0);
  carnet__loaded l;
  carnet_id cid;
  if (cu == NULL || cu->vlen != 18) return 0; /* bin8 header + 16 bytes */
  memcpy(cid.b, cu->val + 2, 16);
  int rc = carnet__load(carnet__writer_txn(w)->st, &cid, &l);
  for (size_t i = 0; rc == 0 && l.existed && i < sizeof identity_fields / sizeof identity_fields[0];
       i++) {
    const carnet__cell *c = carnet__entity_find(&l.e, identity_fields[i], NULL, 0);
    if (c == NULL || c->vlen < 2) continue; /* unset or nil */
    msgpack_packer *pk = carnet__writer_packer(w);
    pk->callback(pk->data, (const char *)c->val, c->vlen); /* the value bytes as they are */
    rc = carnet__writer_put(w, identity_fields[i], NULL, 0);
  }
  carnet__loaded_free(&l);
  return rc;
}

static int validate_fn(carnet__writer *w, void *arg) {
  validate_op *op = arg;
  carnet_replica *r = wr(w);
  const carnet__entity *e = carnet__writer_entity(w);
  carnet_record *rec = NULL;
  carnet_totals tot;
  char series[CARNET_NUMBER_MAX], today[11];
  if (carnet__doc_validated(e)) {
    number_of(e, op->number);
    return carnet__fail(r, CARNET_EEXIST, "the document is already validated as %s", op->number);
  }
  if (status_of(e) == CARNET_ST_CANCELLED)
    return carnet__fail(r, CARNET_EINVAL, "a cancelled document cannot be validated");
  carnet_doc_type type = type_of(e);
  int rc = carnet__record_build(e, &rec);
  if (rc) return rc;
  const carnet_line *lines;
  size_t n = carnet_record_lines(rec, &lines);
  rc = carnet_doc_totals(rec, &tot);
  carnet_record_free(rec);
  if (rc) return carnet__fail(r, rc, "the document's totals are out of range");
  if (n == 0)
    return carnet__fail(r, CARNET_EINVAL,
                        "a document needs at least one line to be "
                        "validated");
  if ((rc = carnet__number_next(carnet__writer_txn(w), type, carnet__writer_stamp(w), series,
                                op->number)))
    return rc;
  carnet__date_of_ms(carnet__now_ms(r), today);
  if ((rc = put_text(w, CARNET_F_NUMBER, series, strlen(series), op->number)) ||
      (rc = put_status(w, CARNET_ST_SENT)) || (rc = put_text(w, CARNET_F_DATE, NULL, 0, today)) ||
      (rc = put_int(w, CARNET_F_FROZEN_HT, tot.ht)) ||
      (rc = put_int(w, CARNET_F_FROZEN_TTC, tot.ttc)) || (rc = freeze_identity(w)))
    return rc;
  return 0;
}

int carnet_doc_validate(carnet_txn *t, const carnet_id *doc, char *number, size_t number_len) {
  validate_op op = {{0}};
  int rc = carnet__write(t, doc, CARNET_KIND_DOCUMENT, NULL, CARNET__W_SYSTEM, validate_fn, &op);
  if (rc) return rc;
  if (number) {
    if (strlen(op.number) + 1 > number_len)
      return carnet__txn_fail(t, carnet__fail(t->r, CARNET_ELIMIT, "number buffer too small"));
    memcpy(number, op.number, strlen(op.number) + 1);
  }
  return 0;
}

/* --- status --------------------------------------------------------------------------- */

/* Which statuses each type goes through (besides cancelled). */
static bool status_allowed(carnet_doc_type type, carnet_doc_status s) {
  if (s == CARNET_ST_CANCELLED || s == CARNET_ST_SENT) return true;
  switch (type) {
  case CARNET_DOC_QUOTE:
    return s == CARNET_ST_REFUSED || s == CARNET_ST_ACCEPTED || s == CARNET_ST_ORDERED ||
           s == CARNET_ST_INVOICED;
  case CARNET_DOC_ORDER:
    return s == CARNET_ST_ACCEPTED || s == CARNET_ST_INVOICED;
  case CARNET_DOC_INVOICE:
  case CARNET_DOC_CREDIT_NOTE:
    return s == CARNET_ST_PAID;
  }
  return false;
}

typedef struct status_op {
  carnet_doc_status status;
  const char *date;
  bool quiet; /* a conversion: a status already passed is fine */
  bool wrote;
  carnet_doc_type type; /* out */
  carnet_id customer;   /* out */
  bool has_customer;
} status_op;

static int status_fn(carnet__writer *w, void *arg) {
  status_op *op = arg;
  carnet_replica *r = wr(w);
  const carnet__entity *e = carnet__writer_entity(w);
  carnet_doc_status cur = status_of(e);
  char today[11];
  op->type = type_of(e);
  const carnet__cell *cu = carnet__entity_find(e, CARNET_F_CUSTOMER, NULL, 0);
  if (cu && cu->vlen == 18) {
    memcpy(op->customer.b, cu->val + 2, 16);
    op->has_customer = true;
  }
  if (!status_allowed(op->type, op->status) || op->status == CARNET_ST_DRAFT)
    return carnet__fail(r, CARNET_EINVAL, "a%s %s has no status '%s'",
                        op->type == CARNET_DOC_ORDER || op->type == CARNET_DOC_INVOICE ? "n" : "",
                        carnet_doc_type_name(op->type) ? carnet_doc_type_name(op->type)
                                                       : "document",
                        carnet_doc_status_name(op->status));
  if (op->status <= cur) {
    if (op->quiet) return 0;
    return carnet__fail(r, CARNET_EEXIST,
                        "the document is already %s: a status only moves forward (draft, sent, "
                        "refused, accepted, ordered, invoiced, paid; cancelled ends it)",
                        carnet_doc_status_name(cur));
  }
  bool validated = carnet__doc_validated(e);
  if (!validated && op->status != CARNET_ST_CANCELLED)
    return carnet__fail(r, CARNET_EPERM,
                        "the document is a draft: validate it first (it then gets "
                        "its number and the status sent)");
  if (validated && op->status == CARNET_ST_CANCELLED &&
      (op->type == CARNET_DOC_INVOICE || op->type == CARNET_DOC_CREDIT_NOTE))
    return carnet__fail(r, CARNET_EPERM, "a validated %s cannot be cancelled: issue a credit note",
                        carnet_doc_type_name(op->type));
  int rc = put_status(w, op->status);
  if (rc == 0 && op->status == CARNET_ST_PAID) {
    const char *d = op->date;
    if (d == NULL || *d == '\0') {
      carnet__date_of_ms(carnet__now_ms(r), today);
      d = today;
    }
    if (!carnet_date_valid(d))
      return carnet__fail(r, CARNET_EINVAL, "invalid payment date '%s' (YYYY-MM-DD)", d);
    rc = put_text(w, CARNET_F_PAID_DATE, NULL, 0, d);
  }
  op->wrote = rc == 0;
  return rc;
}

/* A quote accepted makes its customer a customer (no longer a prospect), in
 * the caller's transaction. A deleted customer stays as it is. */
static int promote_customer(carnet_txn *t, const carnet_id *customer) {
  carnet_record *rec = NULL;
  int rc = carnet_record_get(t->r, customer, &rec);
  if (rc == CARNET_ENOTFOUND) return 0;
  if (rc) return carnet__txn_fail(t, rc);
  bool prospect = false, client = false;
  const char *const *roles;
  size_t n = carnet_record_elems(rec, CARNET_F_ROLES, &roles);
  for (size_t i = 0; i < n; i++) {
    prospect |= strcmp(roles[i], "prospect") == 0;
    client |= strcmp(roles[i], "customer") == 0;
  }
  bool skip = carnet_record_deleted(rec) || carnet_record_kind(rec) != CARNET_KIND_CUSTOMER ||
              (client && !prospect);
  carnet_record_free(rec);
  if (skip) return 0;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (p == NULL) return carnet__txn_fail(t, CARNET_ENOMEM);
  rc = carnet_patch_set(p, CARNET_F_ROLES, "customer");
  if (rc == 0 && prospect) rc = carnet_patch_remove(p, CARNET_F_ROLES, "prospect");
  if (rc == 0) {
    rc = carnet_record_update(t, customer, p);
  } else {
    carnet__txn_fail(t, rc);
  }
  carnet_patch_free(p);
  return rc;
}

static bool implies_accepted(carnet_doc_status s) {
  return s == CARNET_ST_ACCEPTED || s == CARNET_ST_ORDERED || s == CARNET_ST_INVOICED ||
         s == CARNET_ST_PAID;
}

static int status_move(carnet_txn *t, const carnet_id *doc, status_op *op) {
  int rc = carnet__write(t, doc, CARNET_KIND_DOCUMENT, NULL, CARNET__W_SYSTEM, status_fn, op);
  if (rc) return rc;
  if (op->wrote && op->type == CARNET_DOC_QUOTE && implies_accepted(op->status) && op->has_customer)
    rc = promote_customer(t, &op->customer);
  return rc;
}

int carnet_doc_status_set(carnet_txn *t, const carnet_id *doc, carnet_doc_status status,
                          const char *date) {
  status_op op = {.status = status, .date = date};
  if (carnet_doc_status_name(status) == NULL)
    return carnet__txn_fail(t, carnet__fail(t->r, CARNET_EINVAL, "unknown status"));
  return status_move(t, doc, &op);
}

/* --- conversions ---------------------------------------------------------------------- */

typedef struct convert_op {
  const carnet_record *src;
} convert_op;

static int convert_fn(carnet__writer *w, void *arg) {
  convert_op *op = arg;
  carnet_replica *r = wr(w);
  const carnet_line *lines;
  size_t n = carnet_record_lines(op->src, &lines);
  int rc;
  carnet__pack_bin(carnet__writer_packer(w), carnet_record_id(op->src)->b, 16);
  if ((rc = carnet__writer_put(w, CARNET_F_SOURCE, NULL, 0))) return rc;
  for (size_t i = 0; i < n && rc == 0; i++) {
    const carnet_line *l = &lines[i];
    carnet_line_id id;
    carnet__random(r, id.b, sizeof id.b);
    carnet_line_input in = {
        .set = CARNET_LINE_PRODUCT | CARNET_LINE_LABEL | CARNET_LINE_QTY | CARNET_LINE_PRICE |
               CARNET_LINE_VAT | CARNET_LINE_DISCOUNT | (l->has_cost ? CARNET_LINE_COST : 0),
        .product = l->product,
        .label = l->label,
        .qty = l->qty,
        .unit_price = l->unit_price,
        .cost = l->cost,
        .vat_bp = l->vat_bp,
        .discount_bp = l->discount_bp,
    };
    /* Only set columns are written: a copy has the same cells, new ids. */
    if (l->product == NULL) in.set &= ~(unsigned)CARNET_LINE_PRODUCT;
    if (l->label == NULL) in.set &= ~(unsigned)CARNET_LINE_LABEL;
    rc = put_columns(w, &id, &in, true);
    if (rc == 0 && l->pos[0]) rc = put_col_str(w, &id, CARNET__LC_POS, l->pos);
  }
  return rc;
}

static bool conversion_ok(carnet_doc_type from, carnet_doc_type to) {
  return (from == CARNET_DOC_QUOTE && (to == CARNET_DOC_ORDER || to == CARNET_DOC_INVOICE)) ||
         (from == CARNET_DOC_ORDER && to == CARNET_DOC_INVOICE) ||
         (from == CARNET_DOC_INVOICE && to == CARNET_DOC_CREDIT_NOTE);
}

/* An earlier conversion of a source: a live document of the target type
 * whose source is it (the source's customer's documents: the search index
 * when it can answer, else the scan). A cancelled one does not count. */
typedef struct prior_conv {
  char src_hex[CARNET_ID_HEX_LEN + 1];
  carnet_doc_type to;
  bool found;
  carnet_id id;
  char label[CARNET_NUMBER_MAX];
} prior_conv;

static int prior_cb(const carnet_record *rec, void *data) {
  prior_conv *pc = data;
  const char *source = carnet_record_str(rec, CARNET_F_SOURCE);
  if (source == NULL || strcmp(source, pc->src_hex) != 0 || carnet_record_doc_type(rec) != pc->to ||
      carnet_record_status(rec) == CARNET_ST_CANCELLED)
    return 0;
  const char *num = carnet_record_str(rec, CARNET_F_NUMBER);
  pc->found = true;
  pc->id = *carnet_record_id(rec);
  snprintf(pc->label, sizeof pc->label, "%s", num ? num : "");
  return 1;
}

static int prior_conversion(carnet_replica *r, const carnet_record *src, carnet_doc_type to,
                            prior_conv *pc) {
  carnet_id customer;
  const char *cust = carnet_record_str(src, CARNET_F_CUSTOMER);
  memset(pc, 0, sizeof *pc);
  carnet_id_format(carnet_record_id(src), pc->src_hex);
  pc->to = to;
  carnet_filter f = {.customer = NULL};
  if (cust && carnet_id_parse(cust, &customer) == 0) f.customer = &customer;
  int rc = carnet_record_list(r, CARNET_KIND_DOCUMENT, &f, prior_cb, pc);
  return rc == 1 ? 0 : rc;
}

static int convert(carnet_txn *t, const carnet_id *src, carnet_doc_type to, bool again,
                   carnet_id *out);

int carnet_doc_convert(carnet_txn *t, const carnet_id *src, carnet_doc_type to, carnet_id *out) {
  return convert(t, src, to, false, out);
}

int carnet_doc_convert_again(carnet_txn *t, const carnet_id *src, carnet_doc_type to,
                             carnet_id *out) {
  return convert(t, src, to, true, out);
}

static int convert(carnet_txn *t, const carnet_id *src, carnet_doc_type to, bool again,
                   carnet_id *out) {
  carnet_replica *r = t->r;
  carnet_record *rec = NULL;
  carnet_patch *p = NULL;
  carnet_id nid;
  int rc = carnet_record_get(r, src, &rec);
  if (rc) {
    if (rc == CARNET_ENOTFOUND) carnet__fail(r, rc, "no such document");
    return carnet__txn_fail(t, rc);
  }
  carnet_doc_type from = carnet_record_doc_type(rec);
  carnet_doc_status st = carnet_record_status(rec);
  const char *why = NULL;
  int code = CARNET_EINVAL;
  if (carnet_record_kind(rec) != CARNET_KIND_DOCUMENT || carnet_record_deleted(rec)) {
    why = "not a document (or deleted)";
    code = CARNET_ENOTFOUND;
  } else if (!conversion_ok(from, to)) {
    why = "only quote -> order or invoice, order -> invoice and invoice -> credit_note exist";
  } else if (carnet_record_str(rec, CARNET_F_NUMBER) == NULL) {
    why = "the source is a draft: validate it first";
    code = CARNET_EPERM;
  } else if (st == CARNET_ST_CANCELLED || st == CARNET_ST_REFUSED) {
    why = st == CARNET_ST_CANCELLED ? "the source is cancelled" : "the quote was refused";
  }
  if (why) {
    rc = carnet__txn_fail(
        t, carnet__fail(r, code, "cannot convert %s %s to %s: %s",
                        carnet_doc_type_name(from) ? carnet_doc_type_name(from) : "entity",
                        carnet_record_str(rec, CARNET_F_NUMBER)
                            ? carnet_record_str(rec, CARNET_F_NUMBER)
                            : "",
                        carnet_doc_type_name(to) ? carnet_doc_type_name(to) : "?", why));
    goto done;
  }
  if (!again) {
    prior_conv pc;
    if ((rc = prior_conversion(r, rec, to, &pc))) {
      rc = carnet__txn_fail(t, rc);
      goto done;
    }
    if (pc.found) {
      char hex[CARNET_ID_HEX_LEN + 1];
      carnet_id_format(&pc.id, hex);
      rc = carnet__txn_fail(
          t, carnet__fail(r, CARNET_EEXIST,
                          "%s %s was already converted to %s %s (%s): convert it again only "
                          "to make a second %s",
                          carnet_doc_type_name(from), carnet_record_str(rec, CARNET_F_NUMBER),
                          carnet_doc_type_name(to), pc.label[0] ? pc.label : "draft", hex,
                          carnet_doc_type_name(to)));
      if (out) *out = pc.id;
      goto done;
    }
  }
  p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  if (p == NULL) {
    rc = carnet__txn_fail(t, CARNET_ENOMEM);
    goto done;
  }
  static const carnet_field copied[] = {CARNET_F_CUSTOMER, CARNET_F_CONTACT, CARNET_F_SALES_REP,
                                        CARNET_F_PAY_TERMS, CARNET_F_NOTES};
  rc = carnet_patch_set(p, CARNET_F_DOC_TYPE, carnet_doc_type_name(to));
  for (size_t i = 0; rc == 0 && i < sizeof copied / sizeof copied[0]; i++) {
    const char *v = carnet_record_str(rec, copied[i]);
    if (v) rc = carnet_patch_set(p, copied[i], v);
  }
  if (rc) {
    rc = carnet__txn_fail(t, rc);
    goto done;
  }
  uint8_t rnd[8];
  carnet__random(r, rnd, sizeof rnd);
  carnet__id_make(&nid, carnet__txn_tick(t), rnd);
  convert_op op = {rec};
  if ((rc = carnet__write(t, &nid, CARNET_KIND_DOCUMENT, p, CARNET__W_CREATE, convert_fn, &op)))
    goto done;
  carnet_doc_status next = to == CARNET_DOC_ORDER     ? CARNET_ST_ORDERED
                           : to == CARNET_DOC_INVOICE ? CARNET_ST_INVOICED
                                                      : (carnet_doc_status)0;
  if (next) {
    status_op sop = {.status = next, .quiet = true};
    if ((rc = status_move(t, src, &sop))) goto done;
  }
  if (out) *out = nid;
done:
  carnet_patch_free(p);
  carnet_record_free(rec);
  return rc;
}
