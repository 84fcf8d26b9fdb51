/* web/api_doc.c - documents: `carnet doc` over HTTP (add, edit, lines,
 * validate, status, convert). Each write is one transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm.h"
#include "list.h"
#include "routes.h"
#include "view.h"

typedef struct doc_filter {
  carnet_doc_type type;
  carnet_doc_status status;
  const char *from, *to;
} doc_filter;

static bool doc_keep(const carnet_record *rec, void *data) {
  const doc_filter *f = data;
  const char *date = carnet_record_str(rec, CARNET_F_DATE);
  if (f->type && carnet_record_doc_type(rec) != f->type) return false;
  if (f->status && carnet_record_status(rec) != f->status) return false;
  if (f->from && (date == NULL || strcmp(date, f->from) < 0)) return false;
  if (f->to && (date == NULL || strcmp(date, f->to) > 0)) return false;
  return true;
}

static json_t *doc_view(const carnet_record *rec, void *data) {
  (void)data;
  return web_json_doc(rec, NULL);
}

/* Runs a listing, then labels the page's customers (the listing's callback
 * may not read the replica). */
static void page_labelled(web_req *q, carnet_replica *r, const web_page *pg) {
  web_page_answer(q, r, pg);
  if (q->status == 200 && !web_crm_label_items(r, json_object_get(q->reply, "items"))) web_oom(q);
}

void web_crm_page(web_req *q, carnet_replica *r, const web_page *pg) {
  page_labelled(q, r, pg);
}

static bool date_arg(web_req *q, const char *key, const char **out) {
  *out = web_arg_get(q, key);
  if (*out && (*out)[0] == '\0') *out = NULL;
  return web_date_ok(q, key, *out);
}

void api_docs_list(carnet_replica *r, web_req *q) {
  doc_filter f = {0};
  carnet_id cu;
  const char *type = web_arg_get(q, "type"), *status = web_arg_get(q, "status"),
             *customer = web_arg_get(q, "customer");
  if (type && type[0] && (f.type = carnet_doc_type_parse(type)) == 0) {
    web_error(q, 400, CARNET_EINVAL, "type",
              "unknown type '%s': quote, order, invoice or credit_note", type);
    return;
  }
  if (status && status[0] && (f.status = carnet_doc_status_parse(status)) == 0) {
    web_error(q, 400, CARNET_EINVAL, "status", "unknown status '%s'", status);
    return;
  }
  if (!date_arg(q, "from", &f.from) || !date_arg(q, "to", &f.to)) return;
  if (customer && customer[0] &&
      !web_resolve(q, r, CARNET_KIND_CUSTOMER, customer, "customer", &cu))
    return;
  web_page pg = {.kind = CARNET_KIND_DOCUMENT,
                 .filter = {.customer = customer && customer[0] ? &cu : NULL},
                 .view = doc_view,
                 .keep = doc_keep,
                 .data = &f};
  page_labelled(q, r, &pg);
}

void api_doc_create(carnet_replica *r, web_req *q) {
  static const char *const required[] = {"type", "customer", NULL};
  web_crm_create(r, q, CARNET_KIND_DOCUMENT, required);
}

void api_doc_get(carnet_replica *r, web_req *q) {
  web_crm_get(r, q, CARNET_KIND_DOCUMENT);
}

void api_doc_edit(carnet_replica *r, web_req *q) {
  web_crm_edit(r, q, CARNET_KIND_DOCUMENT);
}

static json_t *doc_plain(const carnet_record *rec, json_t *labels) {
  return web_json_doc(rec, labels);
}

void api_doc_delete(carnet_replica *r, web_req *q) {
  web_delete_entity(r, q, CARNET_KIND_DOCUMENT, doc_plain);
}

/* --- Lines ---------------------------------------------------------------------- */

/* A line's columns from the body, as `carnet doc line add|edit` reads its
 * flags: a new line is qty 1, VAT 20 %, unless given. */
static bool line_input(web_req *q, carnet_line_input *in, bool add) {
  static const struct {
    const char *key;
    unsigned bit;
    unsigned decimals; /* 0: text */
  } cols[] = {{"product", CARNET_LINE_PRODUCT, 0},  {"label", CARNET_LINE_LABEL, 0},
              {"qty", CARNET_LINE_QTY, 3},          {"unit_price", CARNET_LINE_PRICE, 2},
              {"cost", CARNET_LINE_COST, 2},        {"vat_rate", CARNET_LINE_VAT, 2},
              {"discount", CARNET_LINE_DISCOUNT, 2}};
  memset(in, 0, sizeof *in);
  if (add) {
    in->set = CARNET_LINE_QTY | CARNET_LINE_PRICE | CARNET_LINE_VAT | CARNET_LINE_DISCOUNT;
    in->qty = 1000;
    in->vat_bp = 2000;
  }
  const char *k;
  json_t *v;
  json_object_foreach(q->body, k, v) {
    size_t i = 0, n = sizeof cols / sizeof cols[0];
    if (strcmp(k, "after") == 0) continue;
    while (i < n && strcmp(cols[i].key, k) != 0)
      i++;
    if (i == n) {
      web_error(q, 400, CARNET_EINVAL, k, "unknown field '%s' for a line", k);
      return false;
    }
    int64_t x = 0;
    if (cols[i].decimals == 0) {
      if (!json_is_string(v) && !json_is_null(v)) {
        web_error(q, 400, CARNET_EINVAL, k, "invalid value for '%s': give a string", k);
        return false;
      }
      if (cols[i].bit == CARNET_LINE_PRODUCT)
        in->product = json_string_value(v);
      else
        in->label = json_string_value(v);
    } else if (cols[i].bit == CARNET_LINE_COST && json_is_null(v)) {
      in->cost = -1; /* clears the cost price */
    } else if (!web_json_decimal(v, cols[i].decimals, &x)) {
      /* The key as the API names it, the value as it was sent. */
      char typed[64];
      web_json_typed(v, typed, sizeof typed);
      if (cols[i].bit == CARNET_LINE_QTY)
        web_error(q, 400, CARNET_EINVAL, k,
                  "invalid quantity '%s' for %s: a number with at most 3 decimals, e.g. 2.5", typed,
                  k);
      else if (cols[i].bit == CARNET_LINE_VAT || cols[i].bit == CARNET_LINE_DISCOUNT)
        web_error(q, 400, CARNET_EINVAL, k,
                  "invalid percentage '%s' for %s: 0 to 100 with at most 2 decimals, e.g. 5.5",
                  typed, k);
      else
        web_error(q, 400, CARNET_EINVAL, k,
                  "invalid amount '%s' for %s: a number with at most 2 decimals, e.g. 19.99", typed,
                  k);
      return false;
    } else {
      switch (cols[i].bit) {
      case CARNET_LINE_QTY:
        in->qty = x;
        break;
      case CARNET_LINE_PRICE:
        in->unit_price = x;
        break;
      case CARNET_LINE_COST:
        if (x < 0) {
          web_error(q, 400, CARNET_EINVAL, k, "a cost price is not negative");
          return false;
        }
        in->cost = x;
        break;
      default:
        if (x < 0 || x > 10000) {
          char typed[64];
          web_error(q, 400, CARNET_EINVAL, k,
                    "invalid percentage '%s' for %s: 0 to 100 with at most 2 decimals, e.g. 5.5",
                    web_json_typed(v, typed, sizeof typed), k);
          return false;
        }
        if (cols[i].bit == CARNET_LINE_VAT)
          in->vat_bp = (uint32_t)x;
        else
          in->discount_bp = (uint32_t)x;
      }
    }
    in->set |= cols[i].bit;
  }
  return true;
}

/* The line named by a path segment or the body's "after". */
static bool line_ref(web_req *q, const char *text, const char *field, carnet_line_id *out) {
  if (text && carnet_line_id_parse(text, out) == 0) return true;
  web_error(q, field ? 400 : 404, field ? CARNET_EINVAL : CARNET_ENOTFOUND, field,
            "no line '%s': give a line id (16 hex characters, see the document's lines)",
            text ? text : "");
  return false;
}

static bool after_of(web_req *q, carnet_line_id *after, bool *has) {
  json_t *v = q->body ? json_object_get(q->body, "after") : NULL;
  *has = false;
  if (v == NULL || json_is_null(v)) return true;
  if (!json_is_string(v)) return line_ref(q, NULL, "after", after);
  *has = true;
  return line_ref(q, json_string_value(v), "after", after);
}

typedef enum line_op { L_ADD, L_EDIT, L_REMOVE, L_MOVE } line_op;

static void line_write(carnet_replica *r, web_req *q, line_op what) {
  carnet_record *doc = NULL;
  carnet_txn *t = NULL;
  carnet_line_input in;
  carnet_line_id line, after;
  bool has_after = false;
  int rc = 0;
  if (!web_load(q, r, CARNET_KIND_DOCUMENT, q->seg[1], &doc)) return;
  if (what != L_ADD && !line_ref(q, q->seg[3], NULL, &line)) goto done;
  if ((what == L_ADD || what == L_MOVE) && !after_of(q, &after, &has_after)) goto done;
  if ((what == L_ADD || what == L_EDIT) && !line_input(q, &in, what == L_ADD)) goto done;
  const carnet_id *id = carnet_record_id(doc);
  if ((rc = carnet_txn_begin(r, &t)) == 0) {
    switch (what) {
    case L_ADD:
      rc = carnet_doc_line_add(t, id, &in, has_after ? &after : NULL, NULL);
      break;
    case L_EDIT:
      rc = carnet_doc_line_edit(t, id, &line, &in);
      break;
    case L_REMOVE:
      rc = carnet_doc_line_remove(t, id, &line);
      break;
    case L_MOVE:
      rc = carnet_doc_line_move(t, id, &line, has_after ? &after : NULL);
      break;
    }
  }
  if (rc == 0) {
    rc = carnet_txn_commit(t);
    t = NULL;
  }
  if (rc) {
    web_fail(q, r, rc, NULL);
    goto done;
  }
  web_crm_answer(q, r, id, what == L_ADD ? 201 : 200);
done:
  carnet_txn_abort(t);
  carnet_record_free(doc);
}

void api_doc_line_add(carnet_replica *r, web_req *q) {
  line_write(r, q, L_ADD);
}
void api_doc_line_edit(carnet_replica *r, web_req *q) {
  line_write(r, q, L_EDIT);
}
void api_doc_line_remove(carnet_replica *r, web_req *q) {
  line_write(r, q, L_REMOVE);
}
void api_doc_line_move(carnet_replica *r, web_req *q) {
  line_write(r, q, L_MOVE);
}

/* --- Validate, status, convert ------------------------------------------------------ */

void api_doc_validate(carnet_replica *r, web_req *q) {
  carnet_record *doc = NULL;
  carnet_txn *t = NULL;
  char number[CARNET_NUMBER_MAX];
  if (!web_load(q, r, CARNET_KIND_DOCUMENT, q->seg[1], &doc)) return;
  int rc = carnet_txn_begin(r, &t);
  if (rc == 0) rc = carnet_doc_validate(t, carnet_record_id(doc), number, sizeof number);
  if (rc == 0) {
    rc = carnet_txn_commit(t);
    t = NULL;
  }
  if (rc)
    web_fail(q, r, rc, NULL);
  else
    web_crm_answer(q, r, carnet_record_id(doc), 200);
  carnet_txn_abort(t);
  carnet_record_free(doc);
}

void api_doc_status(carnet_replica *r, web_req *q) {
  carnet_record *doc = NULL;
  carnet_txn *t = NULL;
  bool bad = false;
  const char *status = web_body_str(q, "status", &bad);
  const char *date = bad ? NULL : web_body_str(q, "date", &bad);
  if (bad) return;
  carnet_doc_status st = status ? carnet_doc_status_parse(status) : 0;
  if (st == 0 || st == CARNET_ST_DRAFT) {
    web_error(q, 400, CARNET_EINVAL, "status",
              "unknown status '%s': sent, refused, accepted, ordered, invoiced, paid or cancelled",
              status ? status : "");
    return;
  }
  if (!web_date_ok(q, "date", date)) return;
  if (!web_load(q, r, CARNET_KIND_DOCUMENT, q->seg[1], &doc)) return;
  int rc = carnet_txn_begin(r, &t);
  if (rc == 0) rc = carnet_doc_status_set(t, carnet_record_id(doc), st, date);
  if (rc == 0) {
    rc = carnet_txn_commit(t);
    t = NULL;
  }
  if (rc)
    web_fail(q, r, rc, NULL);
  else
    web_crm_answer(q, r, carnet_record_id(doc), 200);
  carnet_txn_abort(t);
  carnet_record_free(doc);
}

void api_doc_convert(carnet_replica *r, web_req *q) {
  carnet_record *doc = NULL;
  carnet_txn *t = NULL;
  carnet_id nid;
  bool bad = false;
  const char *to = web_body_str(q, "to", &bad);
  if (bad) return;
  carnet_doc_type type = to ? carnet_doc_type_parse(to) : 0;
  if (type == 0 || type == CARNET_DOC_QUOTE) {
    web_error(q, 400, CARNET_EINVAL, "to", "give \"to\": order, invoice or credit_note");
    return;
  }
  if (!web_load(q, r, CARNET_KIND_DOCUMENT, q->seg[1], &doc)) return;
  int rc = carnet_txn_begin(r, &t);
  if (rc == 0) rc = carnet_doc_convert(t, carnet_record_id(doc), type, &nid);
  if (rc == 0) {
    rc = carnet_txn_commit(t);
    t = NULL;
  }
  if (rc)
    web_fail(q, r, rc, NULL);
  else
    web_crm_answer(q, r, &nid, 201);
  carnet_txn_abort(t);
  carnet_record_free(doc);
}
