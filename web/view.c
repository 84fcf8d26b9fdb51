/* web/view.c - records as JSON (see view.h).
 *
 * Builders track allocation failures with a running `ok`: a put that fails
 * releases what it was given, the builder goes on (every later put is
 * cheap) and returns NULL at the end, so no path leaks and no caller has
 * to check every key.
 */
#include "view.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

bool web_json_put(json_t *o, const char *key, json_t *v) {
  if (o == NULL || v == NULL) {
    json_decref(v);
    return false;
  }
  return json_object_set_new(o, key, v) == 0;
}

bool web_json_push(json_t *a, json_t *v) {
  if (a == NULL || v == NULL) {
    json_decref(v);
    return false;
  }
  return json_array_append_new(a, v) == 0;
}

/* The builder's result: `o` when every step succeeded, else NULL. */
static json_t *finish(json_t *o, bool ok) {
  if (ok) return o;
  json_decref(o);
  return NULL;
}

size_t web_utf8_seq(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n;
  unsigned cp;
  if (p[0] < 0x80) return 1;
  if (p[0] >= 0xc2 && p[0] <= 0xdf)
    n = 2, cp = p[0] & 0x1f;
  else if (p[0] >= 0xe0 && p[0] <= 0xef)
    n = 3, cp = p[0] & 0x0f;
  else if (p[0] >= 0xf0 && p[0] <= 0xf4)
    n = 4, cp = p[0] & 0x07;
  else
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

json_t *web_json_str(const char *s) {
  if (s == NULL) return json_null();
  json_t *v = json_string(s);
  if (v) return v;
  char *fixed = strdup(s);
  if (fixed == NULL) return NULL;
  for (char *p = fixed; *p;) {
    size_t n = web_utf8_seq(p);
    if (n == 0) *p = '?';
    p += n ? n : 1;
  }
  v = json_string(fixed);
  free(fixed);
  return v;
}

void web_iso_time(carnet_hlc hlc, char out[32]) {
  uint64_t ms = CARNET_HLC_MS(hlc);
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  out[0] = '\0';
  if (hlc == 0 || gmtime_r(&secs, &tm) == NULL) return;
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

const char *web_phone_split(const char *elem, char *type, size_t tlen) {
  const char *colon = strchr(elem, ':');
  if (colon == NULL) {
    snprintf(type, tlen, "%s", "");
    return elem;
  }
  snprintf(type, tlen, "%.*s", (int)(colon - elem), elem);
  return colon + 1;
}

const char *web_fmt_money(int64_t cents, char *out) {
  carnet_decimal_format(cents, 2, false, out, 32);
  return out;
}

const char *web_fmt_qty(int64_t milli, char *out) {
  carnet_decimal_format(milli, 3, true, out, 32);
  return out;
}

const char *web_fmt_percent(uint32_t bp, char *out) {
  carnet_decimal_format(bp, 2, true, out, 32);
  return out;
}

const char *web_label_of(json_t *labels, const char *hex) {
  const char *s = hex && labels ? json_string_value(json_object_get(labels, hex)) : NULL;
  return s ? s : (hex ? hex : "");
}

/* --- Fields -------------------------------------------------------------- */

static json_t *str_field(const carnet_record *rec, carnet_field f) {
  return web_json_str(carnet_record_str(rec, f));
}

static json_t *set_field(const carnet_record *rec, carnet_field f) {
  const char *const *v;
  size_t n = carnet_record_elems(rec, f, &v);
  json_t *a = json_array();
  bool ok = a != NULL;
  for (size_t i = 0; i < n; i++)
    ok = web_json_push(a, web_json_str(v[i])) && ok;
  return finish(a, ok);
}

static json_t *phones(const carnet_record *rec) {
  const char *const *v;
  size_t n = carnet_record_elems(rec, CARNET_F_PHONES, &v);
  json_t *a = json_array();
  bool ok = a != NULL;
  char type[32];
  for (size_t i = 0; i < n; i++) {
    const char *number = web_phone_split(v[i], type, sizeof type);
    json_t *o = json_object();
    bool ok1 = web_json_put(o, "type", web_json_str(type));
    ok1 = web_json_put(o, "number", web_json_str(number)) && ok1;
    ok = web_json_push(a, finish(o, ok1)) && ok;
  }
  return finish(a, ok);
}

static json_t *address(const carnet_record *rec) {
  json_t *o = json_object();
  bool ok = web_json_put(o, "street", str_field(rec, CARNET_F_STREET));
  ok = web_json_put(o, "postcode", str_field(rec, CARNET_F_POSTCODE)) && ok;
  ok = web_json_put(o, "city", str_field(rec, CARNET_F_CITY)) && ok;
  ok = web_json_put(o, "country", str_field(rec, CARNET_F_COUNTRY)) && ok;
  if (carnet_record_kind(rec) == CARNET_KIND_CUSTOMER)
    ok = web_json_put(o, "geo", str_field(rec, CARNET_F_GEO)) && ok;
  return finish(o, ok);
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end;
  if (s == NULL || *s < '0' || *s > '9') return false;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end != '\0') return false;
  *out = v;
  return true;
}

/* Stored in basis points, shown in percent. */
static json_t *discount(const carnet_record *rec) {
  const char *s = carnet_record_str(rec, CARNET_F_DISCOUNT);
  uint64_t bp;
  if (s == NULL) return json_null();
  if (!parse_u64(s, &bp)) return web_json_str(s);
  return json_real((double)bp / 100.0);
}

static json_t *bool_field(const carnet_record *rec, carnet_field f) {
  const char *s = carnet_record_str(rec, f);
  if (s == NULL) return json_null();
  return json_boolean(strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

static json_t *customs(const carnet_record *rec) {
  static const char *const types[] = {"", "string", "number", "date", "list", "checkbox"};
  const carnet_custom *cf;
  size_t n = carnet_record_customs(rec, &cf);
  json_t *o = json_object();
  bool ok = o != NULL;
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_object();
    unsigned t = (unsigned)cf[i].type;
    bool ok1 = web_json_put(v, "type", web_json_str(t < 6 ? types[t] : "unknown"));
    ok1 = web_json_put(v, "value", web_json_str(cf[i].value)) && ok1;
    ok = web_json_put(o, cf[i].name, finish(v, ok1)) && ok;
  }
  return finish(o, ok);
}

static json_t *iso(carnet_hlc hlc) {
  char buf[32];
  if (hlc == 0) return json_null();
  web_iso_time(hlc, buf);
  return web_json_str(buf);
}

json_t *web_json_consents(const carnet_record *rec) {
  json_t *o = json_object();
  bool ok = o != NULL;
  for (int ch = 1; ch < CARNET_CH_MAX_; ch++) {
    carnet_hlc at = 0;
    json_t *c = json_object();
    bool ok1 = web_json_put(c, "granted",
                            json_boolean(carnet_record_consent(rec, (carnet_channel)ch, &at)));
    ok1 = web_json_put(c, "at", iso(at)) && ok1;
    ok = web_json_put(o, carnet_channel_name((carnet_channel)ch), finish(c, ok1)) && ok;
  }
  return finish(o, ok);
}

json_t *web_json_consent_log(const carnet_record *rec) {
  const carnet_consent_event *ev;
  size_t n = carnet_record_consent_log(rec, &ev);
  json_t *a = json_array();
  bool ok = a != NULL;
  char origin[17];
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_object();
    snprintf(origin, sizeof origin, "%016llx", (unsigned long long)ev[i].origin);
    bool ok1 = web_json_put(o, "channel", web_json_str(carnet_channel_name(ev[i].channel)));
    ok1 = web_json_put(o, "granted", json_boolean(ev[i].granted)) && ok1;
    ok1 = web_json_put(o, "at", iso(ev[i].at)) && ok1;
    ok1 = web_json_put(o, "origin", web_json_str(origin)) && ok1;
    ok1 = web_json_put(o, "note", web_json_str(ev[i].note && ev[i].note[0] ? ev[i].note : NULL)) &&
          ok1;
    ok = web_json_push(a, finish(o, ok1)) && ok;
  }
  return finish(a, ok);
}

static bool customer_fields(json_t *o, const carnet_record *rec) {
  bool ok = web_json_put(o, "ref", str_field(rec, CARNET_F_REFCODE));
  ok = web_json_put(o, "type", str_field(rec, CARNET_F_TYPE)) && ok;
  ok = web_json_put(o, "name", str_field(rec, CARNET_F_NAME)) && ok;
  ok = web_json_put(o, "company", str_field(rec, CARNET_F_COMPANY)) && ok;
  ok = web_json_put(o, "roles", set_field(rec, CARNET_F_ROLES)) && ok;
  ok = web_json_put(o, "emails", set_field(rec, CARNET_F_EMAILS)) && ok;
  ok = web_json_put(o, "phones", phones(rec)) && ok;
  ok = web_json_put(o, "tags", set_field(rec, CARNET_F_TAGS)) && ok;
  ok = web_json_put(o, "siret", str_field(rec, CARNET_F_SIRET)) && ok;
  ok = web_json_put(o, "vat_id", str_field(rec, CARNET_F_VAT_ID)) && ok;
  ok = web_json_put(o, "address", address(rec)) && ok;
  ok = web_json_put(o, "sales_rep", str_field(rec, CARNET_F_SALES_REP)) && ok;
  ok = web_json_put(o, "channel", str_field(rec, CARNET_F_CHANNEL)) && ok;
  ok = web_json_put(o, "discount", discount(rec)) && ok;
  ok = web_json_put(o, "conflict", bool_field(rec, CARNET_F_CONFLICT)) && ok;
  ok = web_json_put(o, "notes", str_field(rec, CARNET_F_NOTES)) && ok;
  ok = web_json_put(o, "custom", customs(rec)) && ok;
  ok = web_json_put(o, "consents", web_json_consents(rec)) && ok;
  return ok;
}

static bool contact_fields(json_t *o, const carnet_record *rec) {
  bool ok = web_json_put(o, "customer", str_field(rec, CARNET_F_CUSTOMER));
  ok = web_json_put(o, "role", str_field(rec, CARNET_F_ROLE)) && ok;
  ok = web_json_put(o, "name", str_field(rec, CARNET_F_NAME)) && ok;
  ok = web_json_put(o, "emails", set_field(rec, CARNET_F_EMAILS)) && ok;
  ok = web_json_put(o, "phones", phones(rec)) && ok;
  ok = web_json_put(o, "address", address(rec)) && ok;
  ok = web_json_put(o, "notes", str_field(rec, CARNET_F_NOTES)) && ok;
  return ok;
}

json_t *web_json_record(const carnet_record *rec) {
  char hex[CARNET_ID_HEX_LEN + 1];
  json_t *o = json_object();
  carnet_id_format(carnet_record_id(rec), hex);
  bool ok = web_json_put(o, "id", web_json_str(hex));
  ok = web_json_put(o, "kind", web_json_str(carnet_kind_name(carnet_record_kind(rec)))) && ok;
  if (carnet_record_kind(rec) == CARNET_KIND_CUSTOMER) {
    const carnet_id *m;
    size_t nm = carnet_record_merged(rec, &m);
    json_t *arr = json_array();
    bool ok1 = arr != NULL;
    ok = customer_fields(o, rec) && ok;
    for (size_t i = 0; i < nm; i++) {
      carnet_id_format(&m[i], hex);
      ok1 = web_json_push(arr, web_json_str(hex)) && ok1;
    }
    ok = web_json_put(o, "merged", finish(arr, ok1)) && ok;
    ok = web_json_put(o, "review", json_boolean(carnet_record_review(rec))) && ok;
  } else {
    ok = contact_fields(o, rec) && ok;
  }
  ok = web_json_put(o, "deleted", json_boolean(carnet_record_deleted(rec))) && ok;
  ok = web_json_put(o, "updated", iso(carnet_record_updated(rec))) && ok;
  return finish(o, ok);
}

/* --- Documents, actions, reminders --------------------------------------- */

static json_t *money(int64_t cents) {
  char buf[32];
  return web_json_str(web_fmt_money(cents, buf));
}

static json_t *iso_of(const carnet_record *rec) {
  char buf[32];
  web_iso_time(carnet_record_updated(rec), buf);
  return web_json_str(buf[0] ? buf : NULL);
}

static json_t *int_of(const carnet_record *rec, carnet_field f) {
  const char *s = carnet_record_str(rec, f);
  uint64_t v;
  if (s == NULL || !parse_u64(s, &v)) return json_null();
  return json_integer((json_int_t)v);
}

static bool common(json_t *o, const carnet_record *rec) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(carnet_record_id(rec), hex);
  bool ok = web_json_put(o, "id", web_json_str(hex));
  return web_json_put(o, "kind", web_json_str(carnet_kind_name(carnet_record_kind(rec)))) && ok;
}

static json_t *lines_json(const carnet_record *rec) {
  const carnet_line *l;
  size_t n = carnet_record_lines(rec, &l);
  json_t *a = json_array();
  bool ok = a != NULL;
  char buf[32], lid[17];
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_object();
    carnet_line_id_format(&l[i].id, lid);
    bool ok1 = web_json_put(o, "id", web_json_str(lid));
    ok1 = web_json_put(o, "position", json_integer((json_int_t)(i + 1))) && ok1;
    ok1 = web_json_put(o, "product", web_json_str(l[i].product)) && ok1;
    ok1 = web_json_put(o, "label", web_json_str(l[i].label)) && ok1;
    ok1 = web_json_put(o, "qty", web_json_str(web_fmt_qty(l[i].qty, buf))) && ok1;
    ok1 = web_json_put(o, "unit_price", money(l[i].unit_price)) && ok1;
    ok1 = web_json_put(o, "cost", l[i].has_cost ? money(l[i].cost) : json_null()) && ok1;
    ok1 = web_json_put(o, "vat_rate", web_json_str(web_fmt_percent(l[i].vat_bp, buf))) && ok1;
    ok1 = web_json_put(o, "discount", web_json_str(web_fmt_percent(l[i].discount_bp, buf))) && ok1;
    ok1 = web_json_put(o, "total_ht", money(l[i].total_ht)) && ok1;
    ok = web_json_push(a, finish(o, ok1)) && ok;
  }
  return finish(a, ok);
}

static json_t *totals_json(const carnet_record *rec) {
  carnet_totals t;
  char buf[32];
  if (carnet_doc_totals(rec, &t) != 0) return json_null();
  json_t *o = json_object(), *rates = json_array();
  bool ok = web_json_put(o, "ht", money(t.ht)), okr = rates != NULL;
  for (size_t i = 0; i < t.nrates; i++) {
    json_t *r = json_object();
    bool ok1 = web_json_put(r, "rate", web_json_str(web_fmt_percent(t.rates[i].rate_bp, buf)));
    ok1 = web_json_put(r, "base", money(t.rates[i].base)) && ok1;
    ok1 = web_json_put(r, "vat", money(t.rates[i].vat)) && ok1;
    okr = web_json_push(rates, finish(r, ok1)) && okr;
  }
  ok = web_json_put(o, "vat", money(t.vat)) && ok;
  ok = web_json_put(o, "vat_rates", finish(rates, okr)) && ok;
  ok = web_json_put(o, "ttc", money(t.ttc)) && ok;
  ok = web_json_put(o, "margin", t.margin_base ? money(t.margin) : json_null()) && ok;
  ok = web_json_put(o, "altered_since_validation", json_boolean(t.altered)) && ok;
  return finish(o, ok);
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
  bool ok = true;
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const char *v = carnet_record_str(rec, keys[i].f);
    if (v == NULL) continue;
    if (o == NULL && (o = json_object()) == NULL) return NULL;
    ok = web_json_put(o, keys[i].key, web_json_str(v)) && ok;
  }
  return o ? finish(o, ok) : json_null();
}

json_t *web_json_doc(const carnet_record *rec, json_t *labels) {
  json_t *o = json_object();
  const char *cu = carnet_record_str(rec, CARNET_F_CUSTOMER);
  bool ok = o != NULL && common(o, rec);
  ok = web_json_put(o, "type", str_field(rec, CARNET_F_DOC_TYPE)) && ok;
  ok = web_json_put(o, "number", str_field(rec, CARNET_F_NUMBER)) && ok;
  ok = web_json_put(o, "numbers", set_field(rec, CARNET_F_NUMBER)) && ok;
  ok = web_json_put(o, "status", str_field(rec, CARNET_F_STATUS)) && ok;
  ok = web_json_put(o, "statuses_reached", set_field(rec, CARNET_F_STATUS)) && ok;
  ok = web_json_put(o, "customer", web_json_str(cu)) && ok;
  if (labels)
    ok =
        web_json_put(o, "customer_label", web_json_str(cu ? web_label_of(labels, cu) : NULL)) && ok;
  ok = web_json_put(o, "issued_to", issued_json(rec)) && ok;
  ok = web_json_put(o, "contact", str_field(rec, CARNET_F_CONTACT)) && ok;
  ok = web_json_put(o, "date", str_field(rec, CARNET_F_DATE)) && ok;
  ok = web_json_put(o, "due_date", str_field(rec, CARNET_F_DUE_DATE)) && ok;
  ok = web_json_put(o, "validity_days", int_of(rec, CARNET_F_VALID_DAYS)) && ok;
  ok = web_json_put(o, "payment_terms", str_field(rec, CARNET_F_PAY_TERMS)) && ok;
  ok = web_json_put(o, "sales_rep", str_field(rec, CARNET_F_SALES_REP)) && ok;
  ok = web_json_put(o, "notes", str_field(rec, CARNET_F_NOTES)) && ok;
  ok = web_json_put(o, "source", str_field(rec, CARNET_F_SOURCE)) && ok;
  ok = web_json_put(o, "paid_date", str_field(rec, CARNET_F_PAID_DATE)) && ok;
  ok = web_json_put(o, "lines", lines_json(rec)) && ok;
  ok = web_json_put(o, "totals", totals_json(rec)) && ok;
  ok = web_json_put(o, "deleted", json_boolean(carnet_record_deleted(rec))) && ok;
  ok = web_json_put(o, "updated", iso_of(rec)) && ok;
  return finish(o, ok);
}

json_t *web_json_action(const carnet_record *rec, json_t *labels) {
  json_t *o = json_object();
  const char *rating = carnet_record_str(rec, CARNET_F_RATING);
  bool ok = o != NULL && common(o, rec);
  ok = web_json_put(o, "channel", str_field(rec, CARNET_F_CHANNEL)) && ok;
  ok = web_json_put(o, "at", str_field(rec, CARNET_F_AT)) && ok;
  ok = web_json_put(o, "direction", str_field(rec, CARNET_F_DIRECTION)) && ok;
  ok = web_json_put(o, "rating", web_json_str(rating)) && ok;
  ok = web_json_put(o, "rating_level",
                    rating ? json_integer(carnet_rating_level(rating)) : json_null()) &&
       ok;
  ok = web_json_put(o, "campaign", str_field(rec, CARNET_F_CAMPAIGN)) && ok;
  ok = web_json_put(o, "sort1", str_field(rec, CARNET_F_SORT1)) && ok;
  ok = web_json_put(o, "sort2", str_field(rec, CARNET_F_SORT2)) && ok;
  ok = web_json_put(o, "sales_rep", str_field(rec, CARNET_F_SALES_REP)) && ok;
  ok = web_json_put(o, "details", str_field(rec, CARNET_F_DETAILS)) && ok;
  json_t *cus = set_field(rec, CARNET_F_CUSTOMERS);
  if (labels && cus) {
    json_t *names = json_array();
    bool ok1 = names != NULL;
    for (size_t i = 0; i < json_array_size(cus); i++)
      ok1 = web_json_push(names, web_json_str(web_label_of(
                                     labels, json_string_value(json_array_get(cus, i))))) &&
            ok1;
    ok = web_json_put(o, "customers", cus) && ok;
    ok = web_json_put(o, "customer_labels", finish(names, ok1)) && ok;
  } else {
    ok = web_json_put(o, "customers", cus) && ok;
  }
  ok = web_json_put(o, "deleted", json_boolean(carnet_record_deleted(rec))) && ok;
  ok = web_json_put(o, "updated", iso_of(rec)) && ok;
  return finish(o, ok);
}

json_t *web_json_reminder(const carnet_record *rec, json_t *labels) {
  json_t *o = json_object();
  const char *cu = carnet_record_str(rec, CARNET_F_CUSTOMER);
  const char *done = carnet_record_str(rec, CARNET_F_DONE);
  bool ok = o != NULL && common(o, rec);
  ok = web_json_put(o, "customer", web_json_str(cu)) && ok;
  if (labels)
    ok =
        web_json_put(o, "customer_label", web_json_str(cu ? web_label_of(labels, cu) : NULL)) && ok;
  ok = web_json_put(o, "date", str_field(rec, CARNET_F_DATE)) && ok;
  ok = web_json_put(o, "mode", str_field(rec, CARNET_F_MODE)) && ok;
  ok = web_json_put(o, "comment", str_field(rec, CARNET_F_COMMENT)) && ok;
  ok = web_json_put(o, "done", json_boolean(done && strcmp(done, "true") == 0)) && ok;
  ok = web_json_put(o, "deleted", json_boolean(carnet_record_deleted(rec))) && ok;
  ok = web_json_put(o, "updated", iso_of(rec)) && ok;
  return finish(o, ok);
}
