/* book/export.c - records to a CSV or XLSX file (carnet_export_file,
 * carnet_export_buffer): a header row, then one row per record, in id
 * order, built as a table (io/sheet.h) and encoded by io/.
 *
 * Customers get exactly the columns import reads back (book/import_int.h):
 * id, ref, type, name, company, roles, emails, phones ("mobile:+33..."),
 * tags, siret, vat_id, street, postcode, city, country, geo, sales_rep,
 * channel, discount (percent), conflict, notes, then one column
 * "custom:NAME:TYPE" per custom field found. Several values share a cell,
 * separated by '|'. Other kinds get "id" and one column per field of their
 * catalogue (document lines and consents are in the CLI's JSON export
 * only).
 *
 * Customers take two passes over the records: the first collects the
 * custom fields in use (the header must name them before the first row)
 * and counts the records, which gives the progress its total.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "book/import_int.h"
#include "engine/base/alloc.h"
#include "engine/store/file.h"
#include "engine/store/handle.h"
#include "io/csv.h"
#include "io/xlsx.h"

static const char *const custom_types[] = {"", "string", "number", "date", "list", "checkbox"};

static const struct {
  const char *name;
  carnet_field field;
} customer_cols[] = {
    {"type", CARNET_F_TYPE},           {"name", CARNET_F_NAME},
    {"company", CARNET_F_COMPANY},     {"roles", CARNET_F_ROLES},
    {"emails", CARNET_F_EMAILS},       {"phones", CARNET_F_PHONES},
    {"tags", CARNET_F_TAGS},           {"siret", CARNET_F_SIRET},
    {"vat_id", CARNET_F_VAT_ID},       {"street", CARNET_F_STREET},
    {"postcode", CARNET_F_POSTCODE},   {"city", CARNET_F_CITY},
    {"country", CARNET_F_COUNTRY},     {"geo", CARNET_F_GEO},
    {"sales_rep", CARNET_F_SALES_REP}, {"channel", CARNET_F_CHANNEL},
    {"discount", CARNET_F_DISCOUNT},   {"conflict", CARNET_F_CONFLICT},
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
  uint64_t count, total;
  int err; /* the first error: it stops the listing */
  carnet_progress_fn *on_progress;
  void *ctx;
} exp_state;

static void put(exp_state *st, const char *v) {
  if (st->err) return;
  st->err = carnet__sheet_cell(st->sh, v ? v : "", v ? strlen(v) : 0);
}

static bool multi(carnet_field f) {
  const carnet_field_info *fi = carnet_field_get(f);
  return fi->crdt == CARNET_CRDT_SET || f == CARNET_F_PHONES;
}

/* Elements joined by '|', in a new block. A lone element holding ',' or
 * ';' gets a '|' after it: import splits a tags cell on '|' alone when it
 * holds one, and on ',' and ';' too otherwise (book/import_row.c), so
 * "export, été|" reads back as one tag. */
static char *join(const char *const *v, size_t n) {
  size_t len = 2;
  for (size_t i = 0; i < n; i++)
    len += strlen(v[i]) + 1;
  char *out = carnet__malloc(len), *p = out;
  if (out == NULL) return NULL;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(v[i]);
    if (i) *p++ = '|';
    memcpy(p, v[i], l);
    p += l;
  }
  if (n == 1 && strpbrk(v[0], ",;")) *p++ = '|';
  *p = '\0';
  return out;
}

static bool parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (*s == '\0') return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return true;
}

/* One field of a record as text: set elements joined by '|', the discount
 * in percent ("5.5"). Sets *text to a new block, or NULL when the field is
 * empty. Errors: CARNET_ENOMEM. */
static int field_text(const carnet_record *rec, carnet_field f, char **text) {
  *text = NULL;
  if (multi(f)) {
    const char *const *v;
    size_t n = carnet_record_elems(rec, f, &v);
    if (n && (*text = join(v, n)) == NULL) return CARNET_ENOMEM;
    return 0;
  }
  const char *s = carnet_record_str(rec, f);
  uint64_t bp;
  if (s == NULL) return 0;
  if (f == CARNET_F_DISCOUNT && carnet_record_kind(rec) == CARNET_KIND_CUSTOMER &&
      parse_u64(s, &bp)) {
    char out[48];
    if (bp % 100 == 0)
      snprintf(out, sizeof out, "%llu", (unsigned long long)(bp / 100));
    else if (bp % 10 == 0)
      snprintf(out, sizeof out, "%llu.%llu", (unsigned long long)(bp / 100),
               (unsigned long long)(bp % 100 / 10));
    else
      snprintf(out, sizeof out, "%llu.%02llu", (unsigned long long)(bp / 100),
               (unsigned long long)(bp % 100));
    return (*text = carnet__strdup(out)) ? 0 : CARNET_ENOMEM;
  }
  return (*text = carnet__strdup(s)) ? 0 : CARNET_ENOMEM;
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
  st->total++;
  for (size_t i = 0; i < n; i++) {
    unsigned t = (unsigned)cf[i].type;
    snprintf(key, sizeof key, "%s:%s", cf[i].name, t < 6 ? custom_types[t] : "string");
    char *k = key;
    if (st->ncustoms && bsearch(&k, st->customs, st->ncustoms, sizeof *st->customs, cmp_str))
      continue;
    if (st->ncustoms == st->customs_cap) {
      size_t cap = st->customs_cap ? st->customs_cap * 2 : 16;
      char **grown = carnet__realloc(st->customs, cap * sizeof *grown);
      if (grown == NULL) return st->err = CARNET_ENOMEM;
      st->customs = grown;
      st->customs_cap = cap;
    }
    if ((st->customs[st->ncustoms] = carnet__strdup(key)) == NULL) return st->err = CARNET_ENOMEM;
    st->ncustoms++;
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
  if ((st->err = carnet__sheet_row(st->sh, (uint32_t)(carnet__sheet_rows(st->sh) + 1))))
    return st->err;
  carnet_id_format(carnet_record_id(rec), hex);
  put(st, hex);
  if (st->kind == CARNET_KIND_CUSTOMER) put(st, carnet_record_str(rec, CARNET_F_REFCODE));
  for (size_t i = 0; i < st->nfields && st->err == 0; i++) {
    char *v = NULL;
    if ((st->err = field_text(rec, st->fields[i], &v)) == 0) put(st, v);
    carnet__free(v);
  }
  for (size_t i = 0; i < st->ncustoms; i++)
    put(st, custom_of(rec, st->customs[i]));
  st->count++;
  /* A customer added between the passes makes the count pass the total:
   * the total is then unknown rather than wrong. */
  if (st->on_progress) st->on_progress(st->ctx, st->count, st->count <= st->total ? st->total : 0);
  return st->err;
}

static int header(exp_state *st) {
  char name[300];
  if ((st->err = carnet__sheet_row(st->sh, 1))) return st->err;
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
  return st->err;
}

static void choose_fields(exp_state *st) {
  if (st->kind == CARNET_KIND_CUSTOMER) {
    for (size_t i = 0; i < NCUSTOMER; i++)
      st->fields[st->nfields++] = customer_cols[i].field;
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

/* The records as a table. After the call the caller owns *out. */
static int build_sheet(carnet_replica *r, const carnet_export_options *o, carnet__sheet **out,
                       uint64_t *count) {
  exp_state st = {.kind = o->kind, .on_progress = o->on_progress, .ctx = o->ctx};
  int err = 0;
  *out = NULL;
  if ((st.sh = carnet__sheet_new()) == NULL) return carnet__fail(r, CARNET_ENOMEM, "out of memory");
  choose_fields(&st);
  if (st.kind == CARNET_KIND_CUSTOMER &&
      (err = carnet_record_list(r, st.kind, o->filter, collect_cb, &st)))
    goto done;
  if ((err = header(&st))) goto done;
  if ((err = carnet_record_list(r, st.kind, o->filter, row_cb, &st))) goto done;
  *out = st.sh;
  *count = st.count;
  st.sh = NULL;
done:
  if (err == CARNET_ELIMIT) {
    carnet__fail(r, err,
                 "too much to export as a sheet (a cell over 1 MiB, or more than 2,000,000 rows)");
  } else if (err) {
    const char *msg = carnet_replica_errmsg(r);
    /* The listing's own detail when it left one, else what the code means:
     * copied first, since carnet__fail writes over it. */
    char detail[CARNET__ERRMSG_MAX];
    snprintf(detail, sizeof detail, "%s",
             msg[0]                   ? msg
             : err == CARNET_ECORRUPT ? "a stored record is damaged or was changed outside "
                                        "Carnet (it fails authentication): restore the replica "
                                        "from a backup or sync it again from a peer"
                                      : carnet_error_message(err));
    carnet__fail(r, err, "reading the records: %s", detail);
  }
  for (size_t i = 0; i < st.ncustoms; i++)
    carnet__free(st.customs[i]);
  carnet__free(st.customs);
  carnet__sheet_free(st.sh);
  return err;
}

/* --- writing ---------------------------------------------------------------- */

/* libxlsxwriter writes to a path: the temporary file's, renamed after. */
static int write_xlsx(carnet_replica *r, const char *path, const carnet__sheet *sh) {
  carnet__tmpfile f;
  char why[512] = "", dir[4096];
  int err = carnet__tmpfile_open(r, &f, path);
  if (err) return err;
  carnet__dir_of(path, dir, sizeof dir); /* libxlsxwriter's temporary files go beside the output */
  /* libxlsxwriter opens the path itself; the descriptor is reopened after
   * for the fsync. */
  close(f.fd);
  f.fd = -1;
  if ((err = carnet__xlsx_write(sh, f.tmp, "carnet", dir, why, sizeof why))) {
    carnet__fail(r, err, "%s", why[0] ? why : carnet_error_message(err));
    carnet__tmpfile_discard(&f);
    return err;
  }
  if ((f.fd = open(f.tmp, O_RDONLY | O_CLOEXEC)) < 0) {
    int e = errno;
    err = carnet__fail(r, CARNET_EIO, "cannot reopen %s: %s", f.tmp, strerror(e));
    carnet__tmpfile_discard(&f);
    return err;
  }
  return carnet__tmpfile_commit(r, &f);
}

static int write_csv(carnet_replica *r, const char *path, const carnet__sheet *sh) {
  carnet__iobuf b = {0};
  carnet__tmpfile f;
  /* What Excel opens on a French system: ';' and a byte order mark. */
  int err = carnet__csv_encode(sh, ';', true, &b);
  if (err) {
    carnet__iobuf_free(&b);
    return carnet__fail(r, err, "out of memory");
  }
  if ((err = carnet__tmpfile_open(r, &f, path)) == 0) {
    if ((err = carnet__tmpfile_write(r, &f, b.data, b.len)) == 0)
      err = carnet__tmpfile_commit(r, &f);
    else
      carnet__tmpfile_discard(&f);
  }
  carnet__iobuf_free(&b);
  return err;
}

/* --- the calls ---------------------------------------------------------------- */

/* The caller's options, as much of them as its size says, the rest zero:
 * a program built against an older header passes a smaller struct. */
static int load_options(carnet_replica *r, const carnet_export_options *in,
                        carnet_export_options *o) {
  memset(o, 0, sizeof *o);
  if (in) {
    if (in->size < sizeof(size_t))
      return carnet__fail(r, CARNET_EMISUSE,
                          "carnet_export_options has no size: declare it with "
                          "CARNET_EXPORT_OPTIONS_INIT");
    memcpy(o, in, in->size < sizeof *o ? in->size : sizeof *o);
  }
  o->size = sizeof *o;
  if (o->kind == 0) o->kind = CARNET_KIND_CUSTOMER;
  if (o->kind < CARNET_KIND_CUSTOMER || o->kind > CARNET_KIND_REMINDER)
    return carnet__fail(r, CARNET_EINVAL,
                        "unknown kind %d: customer, contact, document, action or reminder",
                        (int)o->kind);
  if (o->format != CARNET_SHEET_AUTO && o->format != CARNET_SHEET_CSV &&
      o->format != CARNET_SHEET_XLSX)
    return carnet__fail(r, CARNET_EINVAL, "unknown format %d: csv or xlsx", (int)o->format);
  return 0;
}

static int check_report(carnet_replica *r, carnet_export_report *rep) {
  if (rep && rep->size < sizeof(size_t))
    return carnet__fail(r, CARNET_EMISUSE,
                        "carnet_export_report has no size: declare it with "
                        "CARNET_EXPORT_REPORT_INIT");
  return 0;
}

static void fill_report(carnet_export_report *rep, carnet_sheet_format format, uint64_t n) {
  carnet_export_report full = {sizeof full, format, n};
  if (rep == NULL) return;
  size_t size = rep->size < sizeof full ? rep->size : sizeof full;
  memcpy(rep, &full, size);
  rep->size = size;
}

int carnet_export_file(carnet_replica *r, const char *path, const carnet_export_options *opts,
                       carnet_export_report *report) {
  carnet_export_options o;
  carnet__sheet *sh = NULL;
  uint64_t count = 0;
  int err;
  if (r == NULL) return CARNET_EMISUSE;
  carnet__clear_err(r);
  if (path == NULL) return carnet__fail(r, CARNET_EMISUSE, "carnet_export_file: no path");
  if ((err = load_options(r, opts, &o)) || (err = check_report(r, report))) return err;
  if (o.format == CARNET_SHEET_AUTO) {
    const char *dot = strrchr(path, '.');
    o.format = dot && strcasecmp(dot, ".xlsx") == 0 ? CARNET_SHEET_XLSX : CARNET_SHEET_CSV;
  }
  if ((err = build_sheet(r, &o, &sh, &count))) return err;
  err = o.format == CARNET_SHEET_XLSX ? write_xlsx(r, path, sh) : write_csv(r, path, sh);
  carnet__sheet_free(sh);
  if (err == 0) fill_report(report, o.format, count);
  return err;
}

/* An XLSX export in memory goes through a temporary file: libxlsxwriter
 * 1.1.4 (Debian 12) writes to a path only. */
static int xlsx_bytes(carnet_replica *r, const carnet__sheet *sh, char **out, size_t *len) {
  const char *tmp = getenv("TMPDIR");
  char path[4000];
  carnet__tmpfile f;
  snprintf(path, sizeof path, "%s/carnet-export.xlsx", tmp && tmp[0] ? tmp : "/tmp");
  int err = carnet__tmpfile_open(r, &f, path);
  if (err) return err;
  char dir[4096];
  carnet__dir_of(path, dir, sizeof dir);
  close(f.fd);
  f.fd = -1;
  char why[512] = "";
  if ((err = carnet__xlsx_write(sh, f.tmp, "carnet", dir, why, sizeof why)))
    carnet__fail(r, err, "%s", why[0] ? why : carnet_error_message(err));
  else
    err = carnet__file_read(r, f.tmp, SIZE_MAX - 1, out, len);
  carnet__tmpfile_discard(&f);
  return err;
}

int carnet_export_buffer(carnet_replica *r, const carnet_export_options *opts, void **out,
                         size_t *len, carnet_export_report *report) {
  carnet_export_options o;
  carnet__sheet *sh = NULL;
  carnet__iobuf b = {0};
  uint64_t count = 0;
  int err;
  if (out) *out = NULL;
  if (len) *len = 0;
  if (r == NULL) return CARNET_EMISUSE;
  carnet__clear_err(r);
  if (out == NULL || len == NULL)
    return carnet__fail(r, CARNET_EMISUSE, "carnet_export_buffer: no place for the bytes");
  if ((err = load_options(r, opts, &o)) || (err = check_report(r, report))) return err;
  if (o.format == CARNET_SHEET_AUTO) o.format = CARNET_SHEET_CSV;
  if ((err = build_sheet(r, &o, &sh, &count))) return err;
  if (o.format == CARNET_SHEET_XLSX) {
    char *bytes = NULL;
    if ((err = xlsx_bytes(r, sh, &bytes, len)) == 0) *out = bytes;
  } else if ((err = carnet__csv_encode(sh, ';', true, &b))) {
    carnet__fail(r, err, "out of memory");
  } else {
    /* carnet__iobuf holds its bytes NUL-terminated in a block of
     * carnet__malloc: it is handed over as it is. */
    if (b.data == NULL && (b.data = carnet__calloc(1, 1)) == NULL) {
      err = carnet__fail(r, CARNET_ENOMEM, "out of memory");
    } else {
      *out = b.data;
      *len = b.len;
      b.data = NULL;
    }
  }
  carnet__iobuf_free(&b);
  carnet__sheet_free(sh);
  if (err == 0) fill_report(report, o.format, count);
  return err;
}
