/* cli/export_sheet.c - records as a sheet (io/sheet.h) for `carnet export`:
 * a header row, then one row per record, in id order.
 *
 * Customers get exactly the columns `carnet import` reads back (cli/import.h):
 * id, ref, type, name, company, roles, emails, phones ("mobile:+33..."),
 * tags, siret, vat_id, street, postcode, city, country, geo, sales_rep,
 * channel, discount (percent), conflict, notes, then one column
 * "custom:NAME:TYPE" per custom field found. Several values share a cell,
 * separated by '|'. Other kinds get "id" and one column per field of their
 * catalogue (document lines and consents are in the JSON export only).
 */
#include <stdlib.h>
#include <string.h>

#include "cli/export.h"
#include "cli/progress.h"

static const char *const custom_types[] = {"", "string", "number", "date", "list", "checkbox"};

static const struct {
  const char *name;
  carnet_field field;
} customer_cols[] = {
    {"type", CARNET_F_TYPE},       {"name", CARNET_F_NAME},
    {"company", CARNET_F_COMPANY}, {"roles", CARNET_F_ROLES},
    {"emails", CARNET_F_EMAILS},   {"phones", CARNET_F_PHONES},
    {"tags", CARNET_F_TAGS},       {"siret", CARNET_F_SIRET},
    {"vat_id", CARNET_F_VAT_ID},   {"street", CARNET_F_STREET},
    {"postcode", CARNET_F_POSTCODE}, {"city", CARNET_F_CITY},
    {"country", CARNET_F_COUNTRY}, {"geo", CARNET_F_GEO},
    {"sales_rep", CARNET_F_SALES_REP}, {"channel", CARNET_F_CHANNEL},
    {"discount", CARNET_F_DISCOUNT}, {"conflict", CARNET_F_CONFLICT},
    {"notes", CARNET_F_NOTES},
};
#define NCUSTOMER (sizeof customer_cols / sizeof customer_cols[0])

typedef struct exp_state {
  carnet__sheet *sh;
  carnet_kind kind;
  char **customs; /* "NAME:TYPE", sorted, unique */
  size_t ncustoms, customs_cap;
  carnet_field fields[CARNET_F_MAX_];
  size_t nfields;
  size_t count;
  int err;
  cli_progress progress;
} exp_state;

static void put(exp_state *st, const char *v) {
  int rc = carnet__sheet_cell(st->sh, v ? v : "", v ? strlen(v) : 0);
  if (rc == CARNET_ENOMEM) cli_oom(NULL);
  if (rc && st->err == 0) st->err = rc;
}

static bool multi(carnet_field f) {
  const carnet_field_info *fi = carnet_field_get(f);
  return fi->crdt == CARNET_CRDT_SET || f == CARNET_F_PHONES;
}

/* One field of a record as text: set elements joined by '|', the discount
 * in percent ("5.5"). Returns a malloc'd string or NULL. */
static char *field_text(const carnet_record *rec, carnet_field f) {
  if (multi(f)) {
    const char *const *v;
    size_t n = carnet_record_elems(rec, f, &v);
    return n ? cli_join(v, n, "|", false) : NULL;
  }
  const char *s = carnet_record_str(rec, f);
  uint64_t bp;
  if (s && f == CARNET_F_DISCOUNT && carnet_record_kind(rec) == CARNET_KIND_CUSTOMER &&
      cli_parse_u64(s, &bp)) {
    char *out = cli_oom(malloc(32));
    if (bp % 100 == 0)
      snprintf(out, 32, "%llu", (unsigned long long)(bp / 100));
    else if (bp % 10 == 0)
      snprintf(out, 32, "%llu.%llu", (unsigned long long)(bp / 100),
               (unsigned long long)(bp % 100 / 10));
    else
      snprintf(out, 32, "%llu.%02llu", (unsigned long long)(bp / 100),
               (unsigned long long)(bp % 100));
    return out;
  }
  return s ? cli_oom(strdup(s)) : NULL;
}

/* --- pass 1: the custom fields in use ------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int collect_cb(const carnet_record *rec, void *data) {
  exp_state *st = data;
  const carnet_custom *cf;
  size_t n = carnet_record_customs(rec, &cf);
  char key[256];
  for (size_t i = 0; i < n; i++) {
    unsigned t = (unsigned)cf[i].type;
    snprintf(key, sizeof key, "%s:%s", cf[i].name, t < 6 ? custom_types[t] : "string");
    char *k = key;
    if (st->ncustoms && bsearch(&k, st->customs, st->ncustoms, sizeof *st->customs, cmp_str))
      continue;
    if (st->ncustoms == st->customs_cap) {
      st->customs_cap = st->customs_cap ? st->customs_cap * 2 : 16;
      st->customs = cli_oom(realloc(st->customs, st->customs_cap * sizeof *st->customs));
    }
    st->customs[st->ncustoms++] = cli_oom(strdup(key));
    qsort(st->customs, st->ncustoms, sizeof *st->customs, cmp_str);
  }
  return 0;
}

/* --- pass 2: the rows ------------------------------------------------------- */

static const char *custom_of(const carnet_record *rec, const char *spec) {
  const carnet_custom *cf;
  size_t n = carnet_record_customs(rec, &cf), len = strcspn(spec, ":");
  const char *type = spec + len + 1;
  for (size_t i = 0; i < n; i++) {
    unsigned t = (unsigned)cf[i].type;
    if (strlen(cf[i].name) == len && strncmp(cf[i].name, spec, len) == 0 && t < 6 &&
        strcmp(custom_types[t], type) == 0)
      return cf[i].value;
  }
  return NULL;
}

static int row_cb(const carnet_record *rec, void *data) {
  exp_state *st = data;
  char hex[CARNET_ID_HEX_LEN + 1];
  int rc = carnet__sheet_row(st->sh, (uint32_t)(carnet__sheet_rows(st->sh) + 1));
  if (rc == CARNET_ENOMEM) cli_oom(NULL);
  if (rc) return st->err = rc;
  carnet_id_format(carnet_record_id(rec), hex);
  put(st, hex);
  if (st->kind == CARNET_KIND_CUSTOMER) put(st, carnet_record_str(rec, CARNET_F_REFCODE));
  for (size_t i = 0; i < st->nfields; i++) {
    char *v = field_text(rec, st->fields[i]);
    put(st, v);
    free(v);
  }
  for (size_t i = 0; i < st->ncustoms; i++) put(st, custom_of(rec, st->customs[i]));
  st->count++;
  cli_progress_count(&st->progress, "records read", st->count, 0);
  return st->err;
}

static void header(exp_state *st) {
  char name[300];
  if (carnet__sheet_row(st->sh, 1)) cli_oom(NULL);
  put(st, "id");
  if (st->kind == CARNET_KIND_CUSTOMER) put(st, "ref");
  for (size_t i = 0; i < st->nfields; i++) {
    const carnet_field_info *fi = carnet_field_get(st->fields[i]);
    put(st, st->kind == CARNET_KIND_CUSTOMER ? customer_cols[i].name : fi->name);
  }
  for (size_t i = 0; i < st->ncustoms; i++) {
    snprintf(name, sizeof name, "custom:%s", st->customs[i]);
    put(st, name);
  }
}

static void choose_fields(exp_state *st) {
  if (st->kind == CARNET_KIND_CUSTOMER) {
    for (size_t i = 0; i < NCUSTOMER; i++) st->fields[st->nfields++] = customer_cols[i].field;
    return;
  }
  for (int f = 1; f < CARNET_F_MAX_; f++) {
    const carnet_field_info *fi = carnet_field_get((carnet_field)f);
    if (!(fi->kinds & (1u << st->kind))) continue;
    if (f == CARNET_F_CONSENT || f == CARNET_F_DELETED || f == CARNET_F_LINES ||
        f == CARNET_F_CUSTOM)
      continue;
    st->fields[st->nfields++] = (carnet_field)f;
  }
}

int exp_sheet(cli *c, carnet_replica *r, carnet_kind kind, const carnet_filter *filter,
              carnet__sheet **out, size_t *count) {
  exp_state st = {.kind = kind};
  int err = 0, rc = CLI_OK;
  *out = NULL;
  st.sh = cli_oom(carnet__sheet_new());
  cli_progress_start(&st.progress, c);
  choose_fields(&st);
  if (kind == CARNET_KIND_CUSTOMER && (err = carnet_record_list(r, kind, filter, collect_cb, &st)))
    goto done;
  header(&st);
  if ((err = carnet_record_list(r, kind, filter, row_cb, &st))) goto done;
  *out = st.sh;
  *count = st.count;
  st.sh = NULL;
done:
  cli_progress_end(&st.progress);
  if (err == CARNET_ELIMIT)
    rc = cli_fail(c, CLI_EUSER, "too much to export as a sheet (a cell over 1 MiB, or more than "
                                "2,000,000 rows): use --format json");
  else if (err)
    rc = cli_fail_rc(c, r, err, "reading the records");
  for (size_t i = 0; i < st.ncustoms; i++) free(st.customs[i]);
  free(st.customs);
  carnet__sheet_free(st.sh);
  return rc;
}
