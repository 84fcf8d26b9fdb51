/* cli/json.c - records as JSON (jansson).
 *
 * One shape per kind, the same in `add --json`, `show --json` and
 * `list --json`. Unset scalars are null (never omitted), so a script can
 * rely on every key being there.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void cli_json_put(json_t *o, const char *key, json_t *v) {
  if (v == NULL || json_object_set_new(o, key, v) != 0) cli_oom(NULL);
}

void cli_json_push(json_t *a, json_t *v) {
  if (v == NULL || json_array_append_new(a, v) != 0) cli_oom(NULL);
}

#define put cli_json_put
#define push cli_json_push

/* Values come from the replica, so they should be UTF-8; if one is not, it
 * is shown with '?' for each bad byte rather than dropped. */
json_t *cli_json_str(const char *s) {
  if (s == NULL) return json_null();
  json_t *v = json_string(s);
  if (v) return v;
  char *fixed = cli_oom(strdup(s));
  for (char *p = fixed; *p;) {
    size_t n = cli_utf8_seq(p);
    if (n == 0) *p = '?';
    p += n ? n : 1;
  }
  v = cli_oom(json_string(fixed));
  free(fixed);
  return v;
}

static json_t *str_field(const carnet_record *rec, carnet_field f) {
  return cli_json_str(carnet_record_str(rec, f));
}

static json_t *set_field(const carnet_record *rec, carnet_field f) {
  const char *const *v;
  size_t n = carnet_record_elems(rec, f, &v);
  json_t *a = cli_oom(json_array());
  for (size_t i = 0; i < n; i++)
    push(a, cli_json_str(v[i]));
  return a;
}

static json_t *phones(const carnet_record *rec) {
  const char *const *v;
  size_t n = carnet_record_elems(rec, CARNET_F_PHONES, &v);
  json_t *a = cli_oom(json_array());
  char type[32];
  for (size_t i = 0; i < n; i++) {
    const char *number = cli_phone_split(v[i], type, sizeof type);
    json_t *o = cli_oom(json_object());
    carnet_phone p;
    bool ok = cli_phone_read(number, &p);
    put(o, "type", cli_json_str(type));
    /* "number" is the E.164 number alone; the extension has its own key. */
    put(o, "number", cli_json_str(ok ? p.e164 : number));
    put(o, "extension", ok && p.ext[0] ? cli_json_str(p.ext) : json_null());
    put(o, "line", ok ? cli_json_str(carnet_phone_type_name(p.type)) : json_null());
    put(o, "region", ok && p.region[0] ? cli_json_str(p.region) : json_null());
    push(a, o);
  }
  return a;
}

static json_t *address(const carnet_record *rec) {
  json_t *o = cli_oom(json_object());
  put(o, "street", str_field(rec, CARNET_F_STREET));
  put(o, "postcode", str_field(rec, CARNET_F_POSTCODE));
  put(o, "city", str_field(rec, CARNET_F_CITY));
  put(o, "country", str_field(rec, CARNET_F_COUNTRY));
  if (carnet_record_kind(rec) == CARNET_KIND_CUSTOMER) put(o, "geo", str_field(rec, CARNET_F_GEO));
  return o;
}

/* Stored in basis points, shown in percent. */
static json_t *discount(const carnet_record *rec) {
  const char *s = carnet_record_str(rec, CARNET_F_DISCOUNT);
  uint64_t bp;
  if (s == NULL) return json_null();
  if (!cli_parse_u64(s, &bp)) return cli_json_str(s);
  return cli_oom(json_real((double)bp / 100.0));
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
  json_t *o = cli_oom(json_object());
  for (size_t i = 0; i < n; i++) {
    json_t *v = cli_oom(json_object());
    unsigned t = (unsigned)cf[i].type;
    put(v, "type", cli_json_str(t < 6 ? types[t] : "unknown"));
    put(v, "value", cli_json_str(cf[i].value));
    put(o, cf[i].name, v);
  }
  return o;
}

static json_t *iso(carnet_hlc hlc) {
  char buf[32];
  if (hlc == 0) return json_null();
  cli_iso_time(hlc, buf);
  return cli_json_str(buf);
}

json_t *cli_json_consents(const carnet_record *rec) {
  json_t *o = cli_oom(json_object());
  for (int ch = 1; ch < CARNET_CH_MAX_; ch++) {
    carnet_hlc at = 0;
    json_t *c = cli_oom(json_object());
    put(c, "granted", json_boolean(carnet_record_consent(rec, (carnet_channel)ch, &at)));
    put(c, "at", iso(at));
    put(o, carnet_channel_name((carnet_channel)ch), c);
  }
  return o;
}

json_t *cli_json_consent_log(const carnet_record *rec) {
  const carnet_consent_event *ev;
  size_t n = carnet_record_consent_log(rec, &ev);
  json_t *a = cli_oom(json_array());
  char origin[17];
  for (size_t i = 0; i < n; i++) {
    json_t *o = cli_oom(json_object());
    snprintf(origin, sizeof origin, "%016llx", (unsigned long long)ev[i].origin);
    put(o, "channel", cli_json_str(carnet_channel_name(ev[i].channel)));
    put(o, "granted", json_boolean(ev[i].granted));
    put(o, "at", iso(ev[i].at));
    put(o, "origin", cli_json_str(origin));
    put(o, "note", cli_json_str(ev[i].note && ev[i].note[0] ? ev[i].note : NULL));
    push(a, o);
  }
  return a;
}

static void customer_fields(json_t *o, const carnet_record *rec) {
  put(o, "ref", str_field(rec, CARNET_F_REFCODE));
  put(o, "type", str_field(rec, CARNET_F_TYPE));
  put(o, "name", str_field(rec, CARNET_F_NAME));
  put(o, "company", str_field(rec, CARNET_F_COMPANY));
  put(o, "roles", set_field(rec, CARNET_F_ROLES));
  put(o, "emails", set_field(rec, CARNET_F_EMAILS));
  put(o, "phones", phones(rec));
  put(o, "tags", set_field(rec, CARNET_F_TAGS));
  put(o, "siret", str_field(rec, CARNET_F_SIRET));
  put(o, "vat_id", str_field(rec, CARNET_F_VAT_ID));
  put(o, "address", address(rec));
  put(o, "sales_rep", str_field(rec, CARNET_F_SALES_REP));
  put(o, "channel", str_field(rec, CARNET_F_CHANNEL));
  put(o, "discount", discount(rec));
  put(o, "conflict", bool_field(rec, CARNET_F_CONFLICT));
  put(o, "notes", str_field(rec, CARNET_F_NOTES));
  put(o, "custom", customs(rec));
  put(o, "consents", cli_json_consents(rec));
}

static void contact_fields(json_t *o, const carnet_record *rec) {
  put(o, "customer", str_field(rec, CARNET_F_CUSTOMER));
  put(o, "role", str_field(rec, CARNET_F_ROLE));
  put(o, "name", str_field(rec, CARNET_F_NAME));
  put(o, "emails", set_field(rec, CARNET_F_EMAILS));
  put(o, "phones", phones(rec));
  put(o, "address", address(rec));
  put(o, "notes", str_field(rec, CARNET_F_NOTES));
}

json_t *cli_json_record(const carnet_record *rec) {
  char hex[CARNET_ID_HEX_LEN + 1];
  json_t *o = cli_oom(json_object());
  carnet_id_format(carnet_record_id(rec), hex);
  put(o, "id", cli_json_str(hex));
  put(o, "kind", cli_json_str(carnet_kind_name(carnet_record_kind(rec))));
  if (carnet_record_kind(rec) == CARNET_KIND_CUSTOMER) {
    const carnet_id *m;
    size_t nm = carnet_record_merged(rec, &m);
    json_t *arr = cli_oom(json_array());
    customer_fields(o, rec);
    for (size_t i = 0; i < nm; i++) {
      carnet_id_format(&m[i], hex);
      push(arr, cli_json_str(hex));
    }
    put(o, "merged", arr);
    put(o, "review", json_boolean(carnet_record_review(rec)));
    carnet_id_format(carnet_record_id(rec), hex);
  } else
    contact_fields(o, rec);
  put(o, "deleted", json_boolean(carnet_record_deleted(rec)));
  put(o, "updated", iso(carnet_record_updated(rec)));
  return o;
}

int cli_json_print(const cli *c, json_t *j) {
  int rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
  json_decref(j);
  if (rc != 0 || fputc('\n', stdout) == EOF)
    return cli_fail(c, CLI_EINTERNAL, "cannot write the output");
  return CLI_OK;
}

/* jansson's JSON_INDENT(2) of an array `depth` levels deep indents its
 * elements by 2 (depth + 1) spaces: each line of the element's own text
 * gets them. */
char *cli_json_chunk_at(size_t n, json_t *j, unsigned depth) {
  char *s = cli_oom(json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10)));
  json_decref(j);
  size_t lines = 1, len = strlen(s), ind = 2 * ((size_t)depth + 1);
  for (const char *p = s; *p; p++)
    lines += *p == '\n';
  char *out = cli_oom(malloc(len + ind * lines + 3)), *o = out;
  *o++ = n == 0 ? '[' : ',';
  *o++ = '\n';
  memset(o, ' ', ind);
  o += ind;
  for (const char *p = s; *p; p++) {
    *o++ = *p;
    if (*p == '\n') {
      memset(o, ' ', ind);
      o += ind;
    }
  }
  *o = '\0';
  free(s);
  return out;
}

char *cli_json_chunk(size_t n, json_t *j) {
  return cli_json_chunk_at(n, j, 0);
}

const char *cli_json_chunk_end(size_t n) {
  return n == 0 ? "[]\n" : "\n]\n";
}
