/* cli/cmd_doc.c - `carnet doc ...`: quotes, orders, invoices and credit
 * notes: header, lines, validation (numbering), status, conversions.
 *
 *   carnet doc add --type quote --customer REF
 *   carnet doc line add DOC --label "Pose" --qty 2 --price 45 --vat 20
 *   carnet doc validate DOC              -> DE2611-5T31-0001
 *   carnet doc status DOC accepted
 *   carnet doc convert DOC --to invoice
 *
 * DOC is a document's number, id or id prefix; LINE is a line's position
 * (1, 2...) as `doc show` lists them, or its id (or an id prefix).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/crm.h"

enum {
  O_TYPE = CLI_O_USER,
  O_CUSTOMER,
  O_CONTACT,
  O_DATE,
  O_DUE,
  O_VALIDITY,
  O_TERMS,
  O_NOTES,
  O_REP,
  O_LABEL,
  O_PRODUCT,
  O_QTY,
  O_PRICE,
  O_COST,
  O_NO_COST,
  O_VAT,
  O_DISCOUNT,
  O_AFTER,
  O_FIRST,
  O_TO,
  O_STATUS,
  O_FROM,
  O_UNTIL,
  O_DEFAULT,
  O_AGAIN,
};

#define REQ required_argument

/* --- Options ------------------------------------------------------------- */

#define HEADER_OPTS                                                                                \
  {"contact", 0, REQ, O_CONTACT, "ID", "the contact it is addressed to"},                          \
      {"date", 0, REQ, O_DATE, "DATE", "document date, YYYY-MM-DD (default: today)"},              \
      {"due-date", 0, REQ, O_DUE, "DATE", "payment due date, YYYY-MM-DD"},                         \
      {"validity", 0, REQ, O_VALIDITY, "DAYS", "validity of a quote, in days"},                    \
      {"terms", 0, REQ, O_TERMS, "TEXT", "payment terms (\"30 days end of month\")"},              \
      {"notes", 0, REQ, O_NOTES, "TEXT", "free notes"}, {                                          \
    "sales-rep", 0, REQ, O_REP, "REP", "sales rep (default: the customer's)"                       \
  }

static const cli_opt add_opts[] = {
    {"type", 0, REQ, O_TYPE, "TYPE", "quote, order, invoice or credit_note (required)"},
    {"customer", 0, REQ, O_CUSTOMER, "REF", "the customer (required)"},
    HEADER_OPTS,
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt edit_opts[] = {
    {"type", 0, REQ, O_TYPE, "TYPE", "quote, order, invoice or credit_note"},
    {"customer", 0, REQ, O_CUSTOMER, "REF", "the customer"},
    HEADER_OPTS,
    {NULL, 0, 0, 0, NULL, NULL},
};

#define LINE_OPTS                                                                                  \
  {"label", 0, REQ, O_LABEL, "TEXT", "description"},                                               \
      {"product", 0, REQ, O_PRODUCT, "CODE", "product code"},                                      \
      {"qty", 0, REQ, O_QTY, "QTY", "quantity, up to 3 decimals"},                                 \
      {"price", 0, REQ, O_PRICE, "AMOUNT", "unit price excluding VAT, e.g. 19.99"},                \
      {"cost", 0, REQ, O_COST, "AMOUNT", "unit cost price, for the margin"},                       \
      {"no-cost", 0, no_argument, O_NO_COST, NULL, "clear the cost price"},                        \
      {"vat", 0, REQ, O_VAT, "PERCENT", "VAT rate: 20, 10, 5.5, 2.1 or 0"}, {                      \
    "discount", 0, REQ, O_DISCOUNT, "PERCENT", "line discount, e.g. 10"                            \
  }

static const cli_opt line_add_opts[] = {
    LINE_OPTS,
    {"after", 0, REQ, O_AFTER, "LINE", "insert after this line (default: at the end)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt line_edit_opts[] = {
    LINE_OPTS,
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt line_move_opts[] = {
    {"after", 0, REQ, O_AFTER, "LINE", "put the line after this one"},
    {"first", 0, no_argument, O_FIRST, NULL, "put the line first"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt convert_opts[] = {
    {"to", 0, REQ, O_TO, "TYPE", "order, invoice or credit_note (required)"},
    {"again", 0, no_argument, O_AGAIN, NULL,
     "convert even though the document was converted to TYPE before"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt status_opts[] = {
    {"date", 0, REQ, O_DATE, "DATE", "payment date of 'paid' (default: today)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt list_opts[] = {
    {"type", 0, REQ, O_TYPE, "TYPE", "only this type"},
    {"status", 0, REQ, O_STATUS, "STATUS", "only this status"},
    {"customer", 0, REQ, O_CUSTOMER, "REF", "only this customer's"},
    {"from", 0, REQ, O_FROM, "DATE", "dated on or after DATE"},
    {"to", 0, REQ, O_UNTIL, "DATE", "dated on or before DATE"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt numbering_opts[] = {
    {"default", 0, no_argument, O_DEFAULT, NULL, "go back to the default rule"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage add_usage = {
    .summary = "Add a draft document and print its id.",
    .opts = add_opts,
    .json = true,
    .more = "Example: carnet doc add --type quote --customer CU2611-5T31-0001 --validity 30",
};
static const cli_usage edit_usage = {
    .args = "DOC",
    .summary = "Change the header of a draft (a validated document is read-only).",
    .opts = edit_opts,
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "An empty value clears a field: --notes ''.",
};
static const cli_usage line_add_usage = {
    .args = "DOC",
    .summary = "Add a line to a draft and print the line's id.",
    .opts = line_add_opts,
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "Defaults: --qty 1, --price 0, --vat 20, --discount 0. Example:\n"
            "  carnet doc line add DOC --label \"Pose\" --qty 2.5 --price 45 --vat 10",
};
static const cli_usage line_edit_usage = {
    .args = "DOC LINE",
    .summary = "Change columns of a line; the others keep their values.",
    .opts = line_edit_opts,
    .json = true,
    .min_pos = 2,
    .max_pos = 2,
    .more = "LINE is the line's position (1, 2...) as 'carnet doc show' lists them, or its id.",
};
static const cli_usage line_remove_usage = {
    .args = "DOC LINE",
    .summary = "Remove a line from a draft.",
    .min_pos = 2,
    .max_pos = 2,
};
static const cli_usage line_move_usage = {
    .args = "DOC LINE",
    .summary = "Move a line (--after LINE or --first).",
    .opts = line_move_opts,
    .min_pos = 2,
    .max_pos = 2,
};
static const cli_usage validate_usage = {
    .args = "DOC",
    .summary = "Validate a draft: give it its number (printed), today's date and the status sent; "
               "it is read-only from then on.",
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "Numbers come from this replica's own series (its tag is in the number), so two\n"
            "devices validating offline never give the same number; see 'carnet doc numbering'.",
};
static const cli_usage convert_usage = {
    .args = "DOC",
    .summary = "Make a new draft from a validated document (quote -> order or invoice, order -> "
               "invoice, invoice -> credit_note) and print its id.",
    .opts = convert_opts,
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "A document converted to TYPE before (and not cancelled) is not converted twice: the\n"
            "command names the document made then; --again makes another one (a second\n"
            "invoice, a partial credit note).",
};
static const cli_usage show_usage = {
    .args = "DOC",
    .summary = "Show a document: header, lines and totals.",
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
};
static const cli_usage list_usage = {
    .summary = "List documents, by date.",
    .opts = list_opts,
    .json = true,
};
static const cli_usage status_usage = {
    .args = "DOC STATUS",
    .summary = "Move a document's status forward: sent, refused, accepted, ordered, invoiced, "
               "paid, cancelled.",
    .opts = status_opts,
    .json = true,
    .min_pos = 2,
    .max_pos = 2,
    .more = "A status never goes back (draft < sent < refused < accepted < ordered < invoiced <\n"
            "paid; cancelled ends it). Accepting a quote makes a prospect a customer. A\n"
            "validated invoice cannot be cancelled: issue a credit note ('doc convert --to\n"
            "credit_note').",
};
static const cli_usage delete_usage = {
    .args = "DOC",
    .summary = "Delete a draft (a validated document is kept: cancel a quote or order, credit an "
               "invoice).",
    .min_pos = 1,
    .max_pos = 1,
};
static const cli_usage numbering_usage = {
    .args = "[TYPE [RULE]]",
    .summary = "Show or set this replica's numbering rules.",
    .opts = numbering_opts,
    .max_pos = 2,
    .more = "A rule has {yyyy} {yy} {mm} {tag} {n:W}; {tag} (this replica's) and {n:W} are\n"
            "required. Example: carnet doc numbering invoice 'FA{yyyy}-{tag}-{n:5}'",
};

/* --- Helpers --------------------------------------------------------------- */

static int load_doc(cli *c, carnet_replica *r, const char *ref, carnet_record **out) {
  int rc = cli_load(c, r, CARNET_KIND_DOCUMENT, ref, out);
  if (rc == CLI_OK && carnet_record_deleted(*out)) {
    carnet_record_free(*out);
    *out = NULL;
    return cli_fail(c, CLI_EUSER, "document '%s' is deleted", ref);
  }
  return rc;
}

/* LINE: a position (1..n) or a line id / id prefix (4+ hex digits). */
static int find_line(cli *c, const carnet_record *doc, const char *ref, carnet_line_id *out) {
  const carnet_line *l;
  size_t n = carnet_record_lines(doc, &l), len = strlen(ref), found = 0;
  uint64_t pos;
  if (len <= 3 && cli_parse_u64(ref, &pos)) {
    if (pos >= 1 && pos <= n) {
      *out = l[pos - 1].id;
      return CLI_OK;
    }
    return cli_fail(c, CLI_EUSER, "no line %s: the document has %zu line%s", ref, n,
                    n == 1 ? "" : "s");
  }
  for (size_t i = 0; i < n; i++) {
    char hex[17];
    carnet_line_id_format(&l[i].id, hex);
    if (len >= 4 && len <= 16 && strncasecmp(hex, ref, len) == 0) {
      *out = l[i].id;
      found++;
    }
  }
  if (found == 1) return CLI_OK;
  if (found > 1) return cli_fail(c, CLI_EUSER, "'%s' matches several lines: type more", ref);
  return cli_fail(c, CLI_EUSER, "no line '%s' (give its position, 1 to %zu, or its id)", ref, n);
}

static const char *opt(const cli_args *a, int id) {
  const char *v = NULL;
  for (int i = 0; i < a->nopts; i++)
    if (a->opts[i].id == id) v = a->opts[i].arg ? a->opts[i].arg : "";
  return v;
}

/* Print the document (--json) or a line of text. */
static int print_doc(cli *c, carnet_replica *r, const carnet_id *id, const char *text) {
  carnet_record *rec = NULL;
  if (!c->json) {
    if (text) printf("%s\n", text);
    return CLI_OK;
  }
  int err = carnet_record_get(r, id, &rec);
  if (err) return cli_fail_rc(c, r, err, "reading it back");
  int rc = cli_json_print(c, crm_json_doc(rec, NULL));
  carnet_record_free(rec);
  return rc;
}

/* --- add / edit -------------------------------------------------------------- */

static int header_patch(cli *c, carnet_replica *r, const cli_args *a, carnet_patch *p, int *n) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id id;
  int rc = 0;
  *n = 0;
  for (int i = 0; i < a->nopts && rc == 0; i++) {
    const char *v = a->opts[i].arg;
    carnet_field f = 0;
    switch (a->opts[i].id) {
    case O_TYPE:
      if (carnet_doc_type_parse(v) == 0)
        return cli_fail(c, CLI_EUSER, "unknown type '%s': quote, order, invoice or credit_note", v);
      f = CARNET_F_DOC_TYPE;
      break;
    case O_CUSTOMER:
      if ((rc = crm_customer_hex(c, r, v, hex))) return rc;
      v = hex;
      f = CARNET_F_CUSTOMER;
      break;
    case O_CONTACT:
      if (v[0]) {
        if ((rc = cli_resolve(c, r, CARNET_KIND_CONTACT, v, &id))) return rc;
        carnet_id_format(&id, hex);
        v = hex;
      }
      f = CARNET_F_CONTACT;
      break;
    case O_DATE:
    case O_DUE:
      if (v[0] && !crm_date(c, a->opts[i].id == O_DATE ? "date" : "due-date", v)) return CLI_EUSER;
      f = a->opts[i].id == O_DATE ? CARNET_F_DATE : CARNET_F_DUE_DATE;
      break;
    case O_VALIDITY:
      f = CARNET_F_VALID_DAYS;
      break;
    case O_TERMS:
      f = CARNET_F_PAY_TERMS;
      break;
    case O_NOTES:
      f = CARNET_F_NOTES;
      break;
    case O_REP:
      f = CARNET_F_SALES_REP;
      break;
    default:
      continue;
    }
    rc = carnet_patch_set(p, f, v);
    (*n)++;
  }
  return rc ? cli_fail(c, CLI_EINTERNAL, "out of memory") : CLI_OK;
}

static int run_add(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_patch *p = NULL;
  carnet_id id;
  cli_args a;
  int n, rc = cli_parse(c, &add_usage, argc, argv, &a);
  if (rc) return rc;
  if (!opt(&a, O_TYPE) || !opt(&a, O_CUSTOMER)) {
    rc = cli_fail(c, CLI_EUSER,
                  "give --type (quote, order, invoice or credit_note) and --customer "
                  "REF");
    goto done;
  }
  if ((rc = cli_open(c, &r))) goto done;
  p = cli_oom(carnet_patch_new(CARNET_KIND_DOCUMENT));
  if ((rc = header_patch(c, r, &a, p, &n))) goto done;
  int err = carnet_record_create_commit(r, p, &id);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&id, hex);
  rc = print_doc(c, r, &id, hex);
done:
  carnet_patch_free(p);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int run_edit(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *rec = NULL;
  carnet_patch *p = NULL;
  cli_args a;
  char label[48], msg[96];
  int n, rc = cli_parse(c, &edit_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = load_doc(c, r, a.pos[0], &rec))) goto done;
  p = cli_oom(carnet_patch_new(CARNET_KIND_DOCUMENT));
  if ((rc = header_patch(c, r, &a, p, &n))) goto done;
  if (n == 0) {
    rc = cli_fail(c, CLI_EUSER, "nothing to change (see '%s --help')", c->cmd);
    goto done;
  }
  int err = carnet_record_update_commit(r, carnet_record_id(rec), p);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  snprintf(msg, sizeof msg, "updated %s", crm_doc_label(r, rec, label));
  rc = print_doc(c, r, carnet_record_id(rec), msg);
done:
  carnet_patch_free(p);
  carnet_record_free(rec);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- lines ------------------------------------------------------------------------- */

/* The line columns given on the command line. */
static int line_input(cli *c, const cli_args *a, carnet_line_input *in, bool add) {
  memset(in, 0, sizeof *in);
  if (add) {
    in->set = CARNET_LINE_QTY | CARNET_LINE_PRICE | CARNET_LINE_VAT | CARNET_LINE_DISCOUNT;
    in->qty = 1000;
    in->vat_bp = 2000;
  }
  for (int i = 0; i < a->nopts; i++) {
    const char *v = a->opts[i].arg;
    switch (a->opts[i].id) {
    case O_LABEL:
      in->label = v;
      in->set |= CARNET_LINE_LABEL;
      break;
    case O_PRODUCT:
      in->product = v;
      in->set |= CARNET_LINE_PRODUCT;
      break;
    case O_QTY:
      if (!crm_qty(c, "qty", v, &in->qty)) return CLI_EUSER;
      in->set |= CARNET_LINE_QTY;
      break;
    case O_PRICE:
      if (!crm_money(c, "price", v, &in->unit_price)) return CLI_EUSER;
      in->set |= CARNET_LINE_PRICE;
      break;
    case O_COST:
      if (!crm_money(c, "cost", v, &in->cost)) return CLI_EUSER;
      if (in->cost < 0) return cli_fail(c, CLI_EUSER, "a cost price is not negative");
      in->set |= CARNET_LINE_COST;
      break;
    case O_NO_COST:
      in->cost = -1;
      in->set |= CARNET_LINE_COST;
      break;
    case O_VAT:
      if (!crm_percent(c, "vat", v, &in->vat_bp)) return CLI_EUSER;
      in->set |= CARNET_LINE_VAT;
      break;
    case O_DISCOUNT:
      if (!crm_percent(c, "discount", v, &in->discount_bp)) return CLI_EUSER;
      in->set |= CARNET_LINE_DISCOUNT;
      break;
    }
  }
  return CLI_OK;
}

typedef enum line_cmd { LC_ADD, LC_EDIT, LC_REMOVE, LC_MOVE } line_cmd;

static int run_line(cli *c, const cli_usage *u, line_cmd cmd, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *rec = NULL;
  carnet_txn *t = NULL;
  carnet_line_input in;
  carnet_line_id line, after, out;
  bool has_after = false;
  cli_args a;
  int rc = cli_parse(c, u, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = load_doc(c, r, a.pos[0], &rec))) goto done;
  if (cmd != LC_ADD && (rc = find_line(c, rec, a.pos[1], &line))) goto done;
  const char *after_ref = opt(&a, O_AFTER);
  if (after_ref) {
    if ((rc = find_line(c, rec, after_ref, &after))) goto done;
    has_after = true;
  }
  if (cmd == LC_MOVE && !has_after && !opt(&a, O_FIRST)) {
    rc = cli_fail(c, CLI_EUSER, "say where: --after LINE or --first");
    goto done;
  }
  if ((cmd == LC_ADD || cmd == LC_EDIT) && (rc = line_input(c, &a, &in, cmd == LC_ADD))) goto done;
  if (cmd == LC_EDIT && in.set == 0) {
    rc = cli_fail(c, CLI_EUSER, "nothing to change (see '%s --help')", c->cmd);
    goto done;
  }
  int err = carnet_txn_begin(r, &t);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  const carnet_id *id = carnet_record_id(rec);
  switch (cmd) {
  case LC_ADD:
    err = carnet_doc_line_add(t, id, &in, has_after ? &after : NULL, &out);
    break;
  case LC_EDIT:
    err = carnet_doc_line_edit(t, id, &line, &in);
    break;
  case LC_REMOVE:
    err = carnet_doc_line_remove(t, id, &line);
    break;
  case LC_MOVE:
    err = carnet_doc_line_move(t, id, &line, has_after ? &after : NULL);
    break;
  }
  if ((rc = crm_finish(c, r, t, err))) goto done;
  char hex[17], msg[64];
  carnet_line_id_format(cmd == LC_ADD ? &out : &line, hex);
  if (cmd == LC_ADD)
    snprintf(msg, sizeof msg, "%s", hex);
  else
    snprintf(msg, sizeof msg, "%s line %s",
             cmd == LC_EDIT     ? "updated"
             : cmd == LC_REMOVE ? "removed"
                                : "moved",
             hex);
  rc = print_doc(c, r, id, msg);
done:
  carnet_record_free(rec);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int run_line_add(cli *c, int argc, char **argv) {
  return run_line(c, &line_add_usage, LC_ADD, argc, argv);
}
static int run_line_edit(cli *c, int argc, char **argv) {
  return run_line(c, &line_edit_usage, LC_EDIT, argc, argv);
}
static int run_line_remove(cli *c, int argc, char **argv) {
  return run_line(c, &line_remove_usage, LC_REMOVE, argc, argv);
}
static int run_line_move(cli *c, int argc, char **argv) {
  return run_line(c, &line_move_usage, LC_MOVE, argc, argv);
}

static const cli_sub line_subs[] = {
    {"add", run_line_add, "add a line"},
    {"edit", run_line_edit, "change columns of a line"},
    {"remove", run_line_remove, "remove a line"},
    {"move", run_line_move, "move a line"},
    {NULL, NULL, NULL},
};

static int run_lines(cli *c, int argc, char **argv) {
  return cli_dispatch(c, line_subs, "The lines of a draft document.", argc, argv);
}

/* --- validate / status / convert ----------------------------------------------------- */

static int run_validate(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *rec = NULL;
  carnet_txn *t = NULL;
  char number[CARNET_NUMBER_MAX];
  cli_args a;
  int rc = cli_parse(c, &validate_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = load_doc(c, r, a.pos[0], &rec))) goto done;
  int err = carnet_txn_begin(r, &t);
  if (err == 0) err = carnet_doc_validate(t, carnet_record_id(rec), number, sizeof number);
  if ((rc = t ? crm_finish(c, r, t, err) : cli_fail_rc(c, r, err, NULL))) goto done;
  rc = print_doc(c, r, carnet_record_id(rec), number);
done:
  carnet_record_free(rec);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int run_status(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *rec = NULL;
  carnet_txn *t = NULL;
  cli_args a;
  char label[48], msg[128];
  int rc = cli_parse(c, &status_usage, argc, argv, &a);
  if (rc) return rc;
  carnet_doc_status st = carnet_doc_status_parse(a.pos[1]);
  const char *date = opt(&a, O_DATE);
  if (st == 0 || st == CARNET_ST_DRAFT) {
    rc = cli_fail(c, CLI_EUSER,
                  "unknown status '%s': sent, refused, accepted, ordered, invoiced, "
                  "paid or cancelled",
                  a.pos[1]);
    goto done;
  }
  if (date && !crm_date(c, "date", date)) {
    rc = CLI_EUSER;
    goto done;
  }
  if ((rc = cli_open(c, &r)) || (rc = load_doc(c, r, a.pos[0], &rec))) goto done;
  int err = carnet_txn_begin(r, &t);
  if (err == 0) err = carnet_doc_status_set(t, carnet_record_id(rec), st, date);
  if ((rc = t ? crm_finish(c, r, t, err) : cli_fail_rc(c, r, err, NULL))) goto done;
  snprintf(msg, sizeof msg, "%s: %s", crm_doc_label(r, rec, label), carnet_doc_status_name(st));
  rc = print_doc(c, r, carnet_record_id(rec), msg);
done:
  carnet_record_free(rec);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int run_convert(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *rec = NULL;
  carnet_txn *t = NULL;
  carnet_id nid;
  cli_args a;
  int rc = cli_parse(c, &convert_usage, argc, argv, &a);
  if (rc) return rc;
  const char *to = opt(&a, O_TO);
  carnet_doc_type type = carnet_doc_type_parse(to);
  if (type == 0) {
    rc = cli_fail(c, CLI_EUSER, "give --to order, invoice or credit_note");
    goto done;
  }
  if ((rc = cli_open(c, &r)) || (rc = load_doc(c, r, a.pos[0], &rec))) goto done;
  int err = carnet_txn_begin(r, &t);
  if (err == 0)
    err = opt(&a, O_AGAIN) ? carnet_doc_convert_again(t, carnet_record_id(rec), type, &nid)
                           : carnet_doc_convert(t, carnet_record_id(rec), type, &nid);
  if (err == CARNET_EEXIST) {
    rc = cli_fail(c, CLI_EUSER, "%s (add --again)", carnet_replica_errmsg(r));
    carnet_txn_abort(t);
    goto done;
  }
  if ((rc = t ? crm_finish(c, r, t, err) : cli_fail_rc(c, r, err, NULL))) goto done;
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&nid, hex);
  rc = print_doc(c, r, &nid, hex);
done:
  carnet_record_free(rec);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- show ----------------------------------------------------------------------------- */

static void show_doc(FILE *f, carnet_replica *r, const carnet_record *rec,
                     const char *customer_label) {
  char buf[32], b2[32], b3[32], label[48], hex[CARNET_ID_HEX_LEN + 1];
  const char *type = carnet_record_str(rec, CARNET_F_DOC_TYPE);
  carnet_id_format(carnet_record_id(rec), hex);
  cli_kv(f, CLI_LABEL_W, type ? type : "document", crm_doc_label(r, rec, label));
  cli_kv(f, CLI_LABEL_W, "id", hex);
  cli_kv(f, CLI_LABEL_W, "status", carnet_record_str(rec, CARNET_F_STATUS));
  cli_kv(f, CLI_LABEL_W, "customer", customer_label);
  static const struct {
    const char *label;
    carnet_field f;
  } rows[] = {
      {"contact", CARNET_F_CONTACT},   {"date", CARNET_F_DATE},
      {"due date", CARNET_F_DUE_DATE}, {"validity", CARNET_F_VALID_DAYS},
      {"terms", CARNET_F_PAY_TERMS},   {"sales rep", CARNET_F_SALES_REP},
      {"paid on", CARNET_F_PAID_DATE}, {"source", CARNET_F_SOURCE},
      {"notes", CARNET_F_NOTES},       {"issued to", CARNET_F_NAME},
      {"company", CARNET_F_COMPANY},   {"SIRET", CARNET_F_SIRET},
      {"street", CARNET_F_STREET},     {"postcode", CARNET_F_POSTCODE},
      {"city", CARNET_F_CITY},         {"country", CARNET_F_COUNTRY},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const char *v = carnet_record_str(rec, rows[i].f);
    if (v == NULL || v[0] == '\0') continue;
    if (rows[i].f == CARNET_F_VALID_DAYS) {
      snprintf(b3, sizeof b3, "%s days", v);
      v = b3;
    }
    cli_kv(f, CLI_LABEL_W, rows[i].label, v);
  }
  const char *const *nums;
  if (carnet_record_elems(rec, CARNET_F_NUMBER, &nums) > 1) {
    char *all = cli_join(nums, carnet_record_elems(rec, CARNET_F_NUMBER, &nums), ", ", false);
    cli_kv(f, CLI_LABEL_W, "numbers", all); /* validated on two replicas at once */
    free(all);
  }
  const carnet_line *l;
  size_t n = carnet_record_lines(rec, &l);
  static const char *const headers[] = {"#",    "PRODUCT", "LABEL",  "QTY",
                                        "UNIT", "VAT %",   "DISC %", "TOTAL HT"};
  if (n == 0) {
    fprintf(f, "lines:     none yet (carnet doc line add %s --label ...)\n", hex);
  } else {
    cli_table *t = cli_table_new(8, headers);
    for (size_t i = 0; i < n; i++) {
      char pos[24], q[32], up[32], vat[32], disc[32], tot[32];
      snprintf(pos, sizeof pos, "%zu", i + 1);
      const char *row[] = {pos,
                           l[i].product ? l[i].product : "",
                           l[i].label ? l[i].label : "",
                           crm_fmt_qty(l[i].qty, q),
                           crm_fmt_money(l[i].unit_price, up),
                           crm_fmt_percent(l[i].vat_bp, vat),
                           l[i].discount_bp ? crm_fmt_percent(l[i].discount_bp, disc) : "",
                           crm_fmt_money(l[i].total_ht, tot)};
      cli_table_add(t, row);
    }
    fprintf(f, "lines:\n");
    cli_table_print(t, f, 2);
    cli_table_free(t);
  }
  carnet_totals tot;
  if (carnet_doc_totals(rec, &tot) != 0) {
    fprintf(f, "totals:    out of range\n");
    return;
  }
  fprintf(f, "totals:\n");
  fprintf(f, "  %-24s %12s\n", "total HT", crm_fmt_money(tot.ht, buf));
  for (size_t i = 0; i < tot.nrates; i++) {
    char what[64];
    snprintf(what, sizeof what, "VAT %s %% on %s", crm_fmt_percent(tot.rates[i].rate_bp, b2),
             crm_fmt_money(tot.rates[i].base, b3));
    fprintf(f, "  %-24s %12s\n", what, crm_fmt_money(tot.rates[i].vat, buf));
  }
  fprintf(f, "  %-24s %12s\n", "total TTC", crm_fmt_money(tot.ttc, buf));
  if (tot.margin_base) fprintf(f, "  %-24s %12s\n", "margin", crm_fmt_money(tot.margin, buf));
  if (tot.altered)
    fprintf(f, "warning: the lines were changed on another device while this document was being "
               "validated; its totals differ from the validated ones\n");
}

static int run_show(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *rec = NULL, *cu = NULL;
  cli_args a;
  int rc = cli_parse(c, &show_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = cli_load(c, r, CARNET_KIND_DOCUMENT, a.pos[0], &rec)))
    goto done;
  const char *cuhex = carnet_record_str(rec, CARNET_F_CUSTOMER);
  char label[300] = "";
  carnet_id cid;
  if (cuhex && carnet_id_parse(cuhex, &cid) == 0 && carnet_record_get(r, &cid, &cu) == 0) {
    char ref[CARNET_ID_HEX_LEN + 1];
    const char *name = carnet_record_str(cu, CARNET_F_NAME);
    if (name == NULL) name = carnet_record_str(cu, CARNET_F_COMPANY);
    snprintf(label, sizeof label, "%s%s%s", cli_label(cu, ref), name ? " " : "", name ? name : "");
  }
  if (c->json) {
    json_t *o = crm_json_doc(rec, NULL);
    cli_json_put(o, "customer_label", cli_json_str(label[0] ? label : NULL));
    rc = cli_json_print(c, o);
  } else {
    show_doc(stdout, r, rec, label[0] ? label : (cuhex ? cuhex : ""));
  }
done:
  carnet_record_free(cu);
  carnet_record_free(rec);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- list --------------------------------------------------------------------------------- */

typedef struct list_state {
  json_t *labels;
  json_t *rows; /* [{date, id, json}] gathered, then sorted by date */
  carnet_doc_type type;
  carnet_doc_status status;
  const char *from, *to;
} list_state;

static int list_cb(const carnet_record *rec, void *data) {
  list_state *st = data;
  const char *date = carnet_record_str(rec, CARNET_F_DATE);
  if (st->type && carnet_record_doc_type(rec) != st->type) return 0;
  if (st->status && carnet_record_status(rec) != st->status) return 0;
  if (st->from && (date == NULL || strcmp(date, st->from) < 0)) return 0;
  if (st->to && (date == NULL || strcmp(date, st->to) > 0)) return 0;
  cli_json_push(st->rows, crm_json_doc(rec, st->labels));
  return 0;
}

static int by_date(const void *x, const void *y) {
  json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
  const char *da = json_string_value(json_object_get(a, "date"));
  const char *db = json_string_value(json_object_get(b, "date"));
  int cmp = strcmp(da ? da : "", db ? db : "");
  if (cmp) return cmp;
  return strcmp(json_string_value(json_object_get(a, "id")),
                json_string_value(json_object_get(b, "id")));
}

static int run_list(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  list_state st = {0};
  carnet_filter filter = {0};
  carnet_id cid;
  cli_args a;
  int rc = cli_parse(c, &list_usage, argc, argv, &a);
  if (rc) return rc;
  const char *type = opt(&a, O_TYPE), *status = opt(&a, O_STATUS), *cust = opt(&a, O_CUSTOMER);
  st.from = opt(&a, O_FROM);
  st.to = opt(&a, O_UNTIL);
  if (type && (st.type = carnet_doc_type_parse(type)) == 0) {
    rc = cli_fail(c, CLI_EUSER, "unknown type '%s': quote, order, invoice or credit_note", type);
    goto done;
  }
  if (status && (st.status = carnet_doc_status_parse(status)) == 0) {
    rc = cli_fail(c, CLI_EUSER, "unknown status '%s'", status);
    goto done;
  }
  if ((st.from && !crm_date(c, "from", st.from)) || (st.to && !crm_date(c, "to", st.to))) {
    rc = CLI_EUSER;
    goto done;
  }
  if ((rc = cli_open(c, &r))) goto done;
  if (cust) {
    if ((rc = cli_resolve(c, r, CARNET_KIND_CUSTOMER, cust, &cid))) goto done;
    filter.customer = &cid;
  }
  if ((rc = crm_customer_labels(c, r, &st.labels))) goto done;
  st.rows = cli_oom(json_array());
  int err = carnet_record_list(r, CARNET_KIND_DOCUMENT, &filter, list_cb, &st);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  size_t n;
  json_t **v = crm_sorted(st.rows, by_date, &n);
  if (c->json) {
    rc = crm_print_json(c, v, n);
  } else if (n == 0) {
    printf("No documents%s.\n", type || status || cust || st.from || st.to ? " match"
                                                                           : " yet: "
                                                                             "add one "
                                                                             "with 'carnet "
                                                                             "doc add'");
  } else {
    static const char *const headers[] = {"DATE", "TYPE", "NUMBER", "STATUS", "CUSTOMER", "TTC"};
    cli_table *t = cli_table_new(6, headers);
    for (size_t i = 0; i < n; i++) {
      json_t *o = v[i], *tot = json_object_get(o, "totals");
      const char *num = json_string_value(json_object_get(o, "number"));
      char draft[48];
      char hex[CARNET_ID_HEX_LEN + 1];
      carnet_id did;
      if (carnet_id_parse(json_string_value(json_object_get(o, "id")), &did) == 0)
        snprintf(draft, sizeof draft, "draft %s", crm_short_id(r, CARNET_KIND_DOCUMENT, &did, hex));
      else
        snprintf(draft, sizeof draft, "draft");
      const char *row[] = {json_string_value(json_object_get(o, "date")),
                           json_string_value(json_object_get(o, "type")),
                           num ? num : draft,
                           json_string_value(json_object_get(o, "status")),
                           json_string_value(json_object_get(o, "customer_label")),
                           tot ? json_string_value(json_object_get(tot, "ttc")) : ""};
      cli_table_add(t, row);
    }
    cli_table_print(t, stdout, 0);
    cli_table_free(t);
  }
  free(v);
done:
  json_decref(st.rows);
  json_decref(st.labels);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- numbering ------------------------------------------------------------------------------ */

static int run_numbering(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  cli_args a;
  char rule[160];
  int rc = cli_parse(c, &numbering_usage, argc, argv, &a);
  if (rc) return rc;
  carnet_doc_type type = a.npos ? carnet_doc_type_parse(a.pos[0]) : (carnet_doc_type)0;
  bool reset = opt(&a, O_DEFAULT) != NULL;
  if (a.npos && type == 0) {
    rc =
        cli_fail(c, CLI_EUSER, "unknown type '%s': quote, order, invoice or credit_note", a.pos[0]);
    goto done;
  }
  if ((a.npos == 2 || reset) && (a.npos == 0 || (a.npos == 2 && reset))) {
    rc = cli_fail(c, CLI_EUSER, "give TYPE RULE, or TYPE --default");
    goto done;
  }
  if ((rc = cli_open(c, &r))) goto done;
  if (a.npos == 2 || reset) {
    int err = carnet_replica_set_numbering(r, type, reset ? NULL : a.pos[1]);
    if (err) {
      rc = cli_fail_rc(c, r, err, NULL);
      goto done;
    }
  }
  for (int t = CARNET_DOC_QUOTE; t <= CARNET_DOC_CREDIT_NOTE; t++) {
    if (type && t != (int)type) continue;
    int err = carnet_replica_get_numbering(r, (carnet_doc_type)t, rule, sizeof rule);
    if (err) {
      rc = cli_fail_rc(c, r, err, NULL);
      goto done;
    }
    printf("%-12s %s\n", carnet_doc_type_name((carnet_doc_type)t), rule);
  }
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int run_delete(cli *c, int argc, char **argv) {
  return cli_write_delete(c, &delete_usage, CARNET_KIND_DOCUMENT, argc, argv);
}

static const cli_sub subs[] = {
    {"add", run_add, "add a draft document"},
    {"edit", run_edit, "change the header of a draft"},
    {"line", run_lines, "add, edit, remove and move lines"},
    {"validate", run_validate, "give a draft its number; it is read-only afterwards"},
    {"status", run_status, "move a document's status forward"},
    {"convert", run_convert, "quote -> order -> invoice -> credit note"},
    {"show", run_show, "show a document with its lines and totals"},
    {"list", run_list, "list documents"},
    {"delete", run_delete, "delete a draft"},
    {"numbering", run_numbering, "show or set this replica's numbering rules"},
    {NULL, NULL, NULL},
};

int cli_cmd_doc(cli *c, int argc, char **argv) {
  return cli_dispatch(c, subs, "Quotes, orders, invoices and credit notes.", argc, argv);
}
