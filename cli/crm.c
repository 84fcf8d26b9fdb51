/* cli/crm.c - helpers of the CRM commands (see crm.h). */
#include "cli/crm.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- Opening ------------------------------------------------------------ */

int crm_finish(cli *c, carnet_replica *r, carnet_txn *t, int err) {
  if (err) {
    /* Keep the detail of the failed call: abort does not touch it. */
    int code = cli_fail_rc(c, r, err, NULL);
    carnet_txn_abort(t);
    return code;
  }
  err = carnet_txn_commit(t);
  return err ? cli_fail_rc(c, r, err, NULL) : CLI_OK;
}

/* --- What a user types -------------------------------------------------- */

bool crm_money(const cli *c, const char *flag, const char *text, int64_t *cents) {
  if (carnet_decimal_parse(text, 2, cents) == 0 && *cents >= -CARNET_PRICE_MAX &&
      *cents <= CARNET_PRICE_MAX)
    return true;
  cli_fail(c, CLI_EUSER,
           "invalid amount '%s' for --%s: a number with at most 2 decimals, e.g. "
           "19.99",
           text, flag);
  return false;
}

bool crm_qty(const cli *c, const char *flag, const char *text, int64_t *milli) {
  if (carnet_decimal_parse(text, 3, milli) == 0 && *milli >= -CARNET_QTY_MAX &&
      *milli <= CARNET_QTY_MAX)
    return true;
  cli_fail(c, CLI_EUSER,
           "invalid quantity '%s' for --%s: a number with at most 3 decimals, e.g. "
           "2.5",
           text, flag);
  return false;
}

bool crm_percent(const cli *c, const char *flag, const char *text, uint32_t *bp) {
  char buf[32];
  int64_t v;
  size_t n = strlen(text);
  while (n > 0 && (text[n - 1] == '%' || text[n - 1] == ' '))
    n--;
  if (n > 0 && n < sizeof buf) {
    memcpy(buf, text, n);
    buf[n] = '\0';
    if (carnet_decimal_parse(buf, 2, &v) == 0 && v >= 0 && v <= 10000) {
      *bp = (uint32_t)v;
      return true;
    }
  }
  cli_fail(c, CLI_EUSER,
           "invalid percentage '%s' for --%s: 0 to 100 with at most 2 decimals, "
           "e.g. 5.5",
           text, flag);
  return false;
}

bool crm_date(const cli *c, const char *flag, const char *text) {
  if (carnet_date_valid(text)) return true;
  cli_fail(c, CLI_EUSER, "invalid date '%s' for --%s: YYYY-MM-DD, e.g. 2026-11-20", text, flag);
  return false;
}

const char *crm_fmt_money(int64_t cents, char *out) {
  carnet_decimal_format(cents, 2, false, out, 32);
  return out;
}

const char *crm_fmt_qty(int64_t milli, char *out) {
  carnet_decimal_format(milli, 3, true, out, 32);
  return out;
}

const char *crm_fmt_percent(uint32_t bp, char *out) {
  carnet_decimal_format(bp, 2, true, out, 32);
  return out;
}

/* --- References ------------------------------------------------------------ */

/* --- Customers ------------------------------------------------------------ */

int crm_customer_hex(cli *c, carnet_replica *r, const char *ref, char *hex) {
  carnet_record *rec = NULL;
  int rc = cli_load(c, r, CARNET_KIND_CUSTOMER, ref, &rec);
  if (rc) return rc;
  carnet_id_format(carnet_record_id(rec), hex);
  if (carnet_record_deleted(rec)) rc = cli_fail(c, CLI_EUSER, "customer '%s' is deleted", ref);
  carnet_record_free(rec);
  return rc;
}

static int label_cb(const carnet_record *rec, void *data) {
  char hex[CARNET_ID_HEX_LEN + 1], ref[CARNET_ID_HEX_LEN + 1], label[256];
  const char *name = carnet_record_str(rec, CARNET_F_NAME);
  if (name == NULL) name = carnet_record_str(rec, CARNET_F_COMPANY);
  carnet_id_format(carnet_record_id(rec), hex);
  snprintf(label, sizeof label, "%s%s%s", cli_label(rec, ref), name ? " " : "", name ? name : "");
  cli_json_put(data, hex, cli_json_str(label));
  return 0;
}

int crm_customer_labels(cli *c, carnet_replica *r, json_t **out) {
  carnet_filter all = {.include_deleted = true};
  *out = cli_oom(json_object());
  int err = carnet_record_list(r, CARNET_KIND_CUSTOMER, &all, label_cb, *out);
  return err ? cli_fail_rc(c, r, err, NULL) : CLI_OK;
}

const char *crm_label_of(json_t *labels, const char *hex) {
  const char *s = hex && labels ? json_string_value(json_object_get(labels, hex)) : NULL;
  return s ? s : (hex ? hex : "");
}

const char *crm_short_id(carnet_replica *r, carnet_kind kind, const carnet_id *id,
                         char out[CARNET_ID_HEX_LEN + 1]) {
  char pre[CARNET_ID_HEX_LEN + 1];
  carnet_id got;
  carnet_id_format(id, out);
  /* Ids begin with their time (carnet_id): two made in the same minute
   * share their first 8 characters, so the prefix grows until it names
   * this record alone, as 'carnet doc show PREFIX' would find it. */
  for (size_t n = 8; n < CARNET_ID_HEX_LEN; n += 2) {
    memcpy(pre, out, n);
    pre[n] = '\0';
    if (carnet_record_resolve(r, kind, pre, &got) == 0 && memcmp(got.b, id->b, 16) == 0) {
      out[n] = '\0';
      break;
    }
  }
  return out;
}

const char *crm_doc_label(carnet_replica *r, const carnet_record *rec, char *buf) {
  const char *num = carnet_record_str(rec, CARNET_F_NUMBER);
  char hex[CARNET_ID_HEX_LEN + 1];
  if (num) return num;
  snprintf(buf, 48, "draft %s", crm_short_id(r, CARNET_KIND_DOCUMENT, carnet_record_id(rec), hex));
  return buf;
}

/* --- JSON ------------------------------------------------------------------- */

static json_t *str_of(const carnet_record *rec, carnet_field f) {
  return cli_json_str(carnet_record_str(rec, f));
}

static json_t *money(int64_t cents) {
  char buf[32];
  return cli_json_str(crm_fmt_money(cents, buf));
}

static json_t *elems(const carnet_record *rec, carnet_field f) {
  const char *const *v;
  size_t n = carnet_record_elems(rec, f, &v);
  json_t *a = cli_oom(json_array());
  for (size_t i = 0; i < n; i++)
    cli_json_push(a, cli_json_str(v[i]));
  return a;
}

static json_t *iso_of(const carnet_record *rec) {
  char buf[32];
  cli_iso_time(carnet_record_updated(rec), buf);
  return cli_json_str(buf[0] ? buf : NULL);
}

static json_t *int_of(const carnet_record *rec, carnet_field f) {
  const char *s = carnet_record_str(rec, f);
  uint64_t v;
  if (s == NULL || !cli_parse_u64(s, &v)) return json_null();
  return cli_oom(json_integer((json_int_t)v));
}

static void common(json_t *o, const carnet_record *rec) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(carnet_record_id(rec), hex);
  cli_json_put(o, "id", cli_json_str(hex));
  cli_json_put(o, "kind", cli_json_str(carnet_kind_name(carnet_record_kind(rec))));
}

static json_t *lines_json(const carnet_record *rec) {
  const carnet_line *l;
  size_t n = carnet_record_lines(rec, &l);
  json_t *a = cli_oom(json_array());
  char buf[32], lid[17];
  for (size_t i = 0; i < n; i++) {
    json_t *o = cli_oom(json_object());
    carnet_line_id_format(&l[i].id, lid);
    cli_json_put(o, "id", cli_json_str(lid));
    cli_json_put(o, "position", cli_oom(json_integer((json_int_t)(i + 1))));
    cli_json_put(o, "product", cli_json_str(l[i].product));
    cli_json_put(o, "label", cli_json_str(l[i].label));
    cli_json_put(o, "qty", cli_json_str(crm_fmt_qty(l[i].qty, buf)));
    cli_json_put(o, "unit_price", money(l[i].unit_price));
    cli_json_put(o, "cost", l[i].has_cost ? money(l[i].cost) : json_null());
    cli_json_put(o, "vat_rate", cli_json_str(crm_fmt_percent(l[i].vat_bp, buf)));
    cli_json_put(o, "discount", cli_json_str(crm_fmt_percent(l[i].discount_bp, buf)));
    cli_json_put(o, "total_ht", money(l[i].total_ht));
    cli_json_push(a, o);
  }
  return a;
}

static json_t *totals_json(const carnet_record *rec) {
  carnet_totals t;
  char buf[32];
  if (carnet_doc_totals(rec, &t) != 0) return json_null();
  json_t *o = cli_oom(json_object()), *rates = cli_oom(json_array());
  cli_json_put(o, "ht", money(t.ht));
  for (size_t i = 0; i < t.nrates; i++) {
    json_t *r = cli_oom(json_object());
    cli_json_put(r, "rate", cli_json_str(crm_fmt_percent(t.rates[i].rate_bp, buf)));
    cli_json_put(r, "base", money(t.rates[i].base));
    cli_json_put(r, "vat", money(t.rates[i].vat));
    cli_json_push(rates, r);
  }
  cli_json_put(o, "vat", money(t.vat));
  cli_json_put(o, "vat_rates", rates);
  cli_json_put(o, "ttc", money(t.ttc));
  cli_json_put(o, "margin", t.margin_base ? money(t.margin) : json_null());
  cli_json_put(o, "altered_since_validation", json_boolean(t.altered));
  return o;
}

/* The customer's identity as issued, frozen at validation (null before). */
static json_t *issued_json(const carnet_record *rec) {
  static const struct {
    const char *key;
    carnet_field f;
  } keys[] = {{"name", CARNET_F_NAME},         {"company", CARNET_F_COMPANY},
              {"siret", CARNET_F_SIRET},       {"street", CARNET_F_STREET},
              {"postcode", CARNET_F_POSTCODE}, {"city", CARNET_F_CITY},
              {"country", CARNET_F_COUNTRY}};
  json_t *o = NULL;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const char *v = carnet_record_str(rec, keys[i].f);
    if (v == NULL) continue;
    if (o == NULL) o = cli_oom(json_object());
    cli_json_put(o, keys[i].key, cli_json_str(v));
  }
  return o ? o : json_null();
}

json_t *crm_json_doc(const carnet_record *rec, json_t *labels) {
  json_t *o = cli_oom(json_object());
  const char *cu = carnet_record_str(rec, CARNET_F_CUSTOMER);
  common(o, rec);
  cli_json_put(o, "type", str_of(rec, CARNET_F_DOC_TYPE));
  cli_json_put(o, "number", str_of(rec, CARNET_F_NUMBER));
  cli_json_put(o, "numbers", elems(rec, CARNET_F_NUMBER));
  cli_json_put(o, "status", str_of(rec, CARNET_F_STATUS));
  cli_json_put(o, "statuses_reached", elems(rec, CARNET_F_STATUS));
  cli_json_put(o, "customer", cli_json_str(cu));
  if (labels) cli_json_put(o, "customer_label", cli_json_str(cu ? crm_label_of(labels, cu) : NULL));
  cli_json_put(o, "issued_to", issued_json(rec));
  cli_json_put(o, "contact", str_of(rec, CARNET_F_CONTACT));
  cli_json_put(o, "date", str_of(rec, CARNET_F_DATE));
  cli_json_put(o, "due_date", str_of(rec, CARNET_F_DUE_DATE));
  cli_json_put(o, "validity_days", int_of(rec, CARNET_F_VALID_DAYS));
  cli_json_put(o, "payment_terms", str_of(rec, CARNET_F_PAY_TERMS));
  cli_json_put(o, "sales_rep", str_of(rec, CARNET_F_SALES_REP));
  cli_json_put(o, "notes", str_of(rec, CARNET_F_NOTES));
  cli_json_put(o, "source", str_of(rec, CARNET_F_SOURCE));
  cli_json_put(o, "paid_date", str_of(rec, CARNET_F_PAID_DATE));
  cli_json_put(o, "lines", lines_json(rec));
  cli_json_put(o, "totals", totals_json(rec));
  cli_json_put(o, "deleted", json_boolean(carnet_record_deleted(rec)));
  cli_json_put(o, "updated", iso_of(rec));
  return o;
}

json_t *crm_json_action(const carnet_record *rec, json_t *labels) {
  json_t *o = cli_oom(json_object());
  const char *rating = carnet_record_str(rec, CARNET_F_RATING);
  common(o, rec);
  cli_json_put(o, "channel", str_of(rec, CARNET_F_CHANNEL));
  cli_json_put(o, "at", str_of(rec, CARNET_F_AT));
  cli_json_put(o, "direction", str_of(rec, CARNET_F_DIRECTION));
  cli_json_put(o, "rating", cli_json_str(rating));
  cli_json_put(o, "rating_level",
               rating ? cli_oom(json_integer(carnet_rating_level(rating))) : json_null());
  cli_json_put(o, "campaign", str_of(rec, CARNET_F_CAMPAIGN));
  cli_json_put(o, "sort1", str_of(rec, CARNET_F_SORT1));
  cli_json_put(o, "sort2", str_of(rec, CARNET_F_SORT2));
  cli_json_put(o, "sales_rep", str_of(rec, CARNET_F_SALES_REP));
  cli_json_put(o, "details", str_of(rec, CARNET_F_DETAILS));
  json_t *cus = elems(rec, CARNET_F_CUSTOMERS);
  cli_json_put(o, "customers", cus);
  if (labels) {
    json_t *names = cli_oom(json_array());
    for (size_t i = 0; i < json_array_size(cus); i++)
      cli_json_push(names,
                    cli_json_str(crm_label_of(labels, json_string_value(json_array_get(cus, i)))));
    cli_json_put(o, "customer_labels", names);
  }
  cli_json_put(o, "deleted", json_boolean(carnet_record_deleted(rec)));
  cli_json_put(o, "updated", iso_of(rec));
  return o;
}

json_t *crm_json_reminder(const carnet_record *rec, json_t *labels) {
  json_t *o = cli_oom(json_object());
  const char *cu = carnet_record_str(rec, CARNET_F_CUSTOMER);
  const char *done = carnet_record_str(rec, CARNET_F_DONE);
  common(o, rec);
  cli_json_put(o, "customer", cli_json_str(cu));
  if (labels) cli_json_put(o, "customer_label", cli_json_str(cu ? crm_label_of(labels, cu) : NULL));
  cli_json_put(o, "date", str_of(rec, CARNET_F_DATE));
  cli_json_put(o, "mode", str_of(rec, CARNET_F_MODE));
  cli_json_put(o, "comment", str_of(rec, CARNET_F_COMMENT));
  cli_json_put(o, "done", json_boolean(done && strcmp(done, "true") == 0));
  cli_json_put(o, "deleted", json_boolean(carnet_record_deleted(rec)));
  cli_json_put(o, "updated", iso_of(rec));
  return o;
}

json_t **crm_sorted(json_t *arr, int (*cmp)(const void *, const void *), size_t *n) {
  *n = json_array_size(arr);
  json_t **v = cli_oom(calloc(*n + 1, sizeof *v));
  for (size_t i = 0; i < *n; i++)
    v[i] = json_array_get(arr, i);
  qsort(v, *n, sizeof *v, cmp);
  return v;
}

int crm_print_json(cli *c, json_t *const *v, size_t n) {
  json_t *out = cli_oom(json_array());
  for (size_t i = 0; i < n; i++)
    cli_json_push(out, json_incref(v[i]));
  return cli_json_print(c, out);
}
