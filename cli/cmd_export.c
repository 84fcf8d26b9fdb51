/* cli/cmd_export.c - `carnet export -o FILE`: customers (or contacts,
 * documents, actions, reminders) to CSV, XLSX or JSON. The file is written
 * under a temporary name and renamed once complete, so a failed export
 * leaves nothing half written; CSV and XLSX exports of customers read back
 * with `carnet import` without loss (see cli/export_sheet.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/crm.h"
#include "cli/export.h"
#include "cli/import.h"
#include "cli/progress.h"
#include "io/csv.h"
#include "io/xlsx.h"

enum { O_FORMAT = CLI_O_USER, O_KIND, O_TAG, O_ROLE, O_TEXT, O_SALES_REP, O_OUT };

static const cli_opt opts[] = {
    {"output", 'o', required_argument, O_OUT, "FILE", "write to FILE ('-': standard output)"},
    {"format", 0, required_argument, O_FORMAT, "FMT",
     "csv, xlsx or json (default: from FILE's name, else csv)"},
    {"kind", 0, required_argument, O_KIND, "KIND",
     "customer (default), contact, document, action or reminder"},
    {"tag", 0, required_argument, O_TAG, "TAG", "only customers with this tag"},
    {"role", 0, required_argument, O_ROLE, "ROLE", "only prospects, customers or suppliers"},
    {"text", 0, required_argument, O_TEXT, "TEXT",
     "only those whose name, company, e-mail, phone, city, reference or notes contain TEXT"},
    {"sales-rep", 0, required_argument, O_SALES_REP, "REP", "only those of this sales rep"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage usage = {
    .summary = "Export customers (or contacts, documents, actions, reminders) to a CSV, Excel "
               "(.xlsx) or JSON file.",
    .opts = opts,
    .more = "CSV is UTF-8 with a byte order mark and ';' between fields (what Excel opens on a\n"
            "French system); several values share a cell, separated by '|'. Customer exports\n"
            "read back with 'carnet import' without loss (the id column keeps each customer's\n"
            "identity; the reference code is given anew by the importing replica).\n"
            "An administrator action: refused on a member replica (carnet status shows the "
            "role).",
};

typedef struct args {
  const char *out, *format;
  carnet_kind kind;
  carnet_filter filter;
} args;

static int parse_args(cli *c, const cli_args *a, args *o) {
  memset(o, 0, sizeof *o);
  o->kind = CARNET_KIND_CUSTOMER;
  for (int i = 0; i < a->nopts; i++) {
    const char *v = a->opts[i].arg;
    switch (a->opts[i].id) {
    case O_OUT:
      o->out = v;
      break;
    case O_FORMAT:
      if (strcmp(v, "csv") && strcmp(v, "xlsx") && strcmp(v, "json"))
        return cli_fail(c, CLI_EUSER, "invalid --format '%s': csv, xlsx or json", v);
      o->format = v;
      break;
    case O_KIND: {
      carnet_kind k = 0;
      for (int n = CARNET_KIND_CUSTOMER; n <= CARNET_KIND_REMINDER; n++)
        if (strcmp(v, carnet_kind_name((carnet_kind)n)) == 0) k = (carnet_kind)n;
      if (k == 0)
        return cli_fail(c, CLI_EUSER,
                        "invalid --kind '%s': customer, contact, document, action or reminder", v);
      o->kind = k;
      break;
    }
    case O_TAG:
      o->filter.tag = v;
      break;
    case O_ROLE:
      o->filter.role = v;
      break;
    case O_TEXT:
      o->filter.text = v;
      break;
    case O_SALES_REP:
      o->filter.sales_rep = v;
      break;
    }
  }
  if (o->out == NULL) return cli_fail(c, CLI_EUSER, "missing -o FILE (see '%s --help')", c->cmd);
  if (o->format == NULL) {
    const char *dot = strrchr(o->out, '.');
    o->format = dot && strcasecmp(dot, ".xlsx") == 0   ? "xlsx"
                : dot && strcasecmp(dot, ".json") == 0 ? "json"
                                                       : "csv";
  }
  if (strcmp(o->out, "-") == 0 && strcmp(o->format, "xlsx") == 0)
    return cli_fail(c, CLI_EUSER, "an xlsx export needs a file: -o FILE.xlsx");
  return CLI_OK;
}

/* --- JSON ------------------------------------------------------------------ */

typedef struct json_state {
  json_t *arr;
  carnet_kind kind;
  cli_progress progress;
} json_state;

static int json_cb(const carnet_record *rec, void *data) {
  json_state *st = data;
  json_t *o;
  switch (st->kind) {
  case CARNET_KIND_DOCUMENT:
    o = crm_json_doc(rec, NULL);
    break;
  case CARNET_KIND_ACTION:
    o = crm_json_action(rec, NULL);
    break;
  case CARNET_KIND_REMINDER:
    o = crm_json_reminder(rec, NULL);
    break;
  default:
    o = cli_json_record(rec);
    break;
  }
  cli_json_push(st->arr, o);
  cli_progress_count(&st->progress, "records read", json_array_size(st->arr), 0);
  return 0;
}

static int json_bytes(cli *c, carnet_replica *r, const args *o, carnet__iobuf *b, size_t *count) {
  json_state st = {cli_oom(json_array()), o->kind, {0}};
  cli_progress_start(&st.progress, c);
  int err = carnet_record_list(r, o->kind, &o->filter, json_cb, &st);
  cli_progress_end(&st.progress);
  if (err) {
    json_decref(st.arr);
    return cli_fail_rc(c, r, err, "reading the records");
  }
  *count = json_array_size(st.arr);
  char *s = json_dumps(st.arr, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
  json_decref(st.arr);
  if (s == NULL || carnet__iobuf_put(b, s, strlen(s)) || carnet__iobuf_put(b, "\n", 1))
    cli_oom(NULL);
  free(s);
  return CLI_OK;
}

/* --- writing ---------------------------------------------------------------- */

static int write_bytes(cli *c, const char *out, const carnet__iobuf *b) {
  cli_tmpfile f;
  int rc;
  if (strcmp(out, "-") == 0) {
    if (fwrite(b->data, 1, b->len, stdout) != b->len)
      return cli_fail(c, CLI_EINTERNAL, "cannot write the output");
    return CLI_OK;
  }
  if ((rc = cli_tmp_open(c, &f, out))) return rc;
  if ((rc = cli_tmp_write(c, &f, b->data, b->len))) {
    cli_tmp_discard(&f);
    return rc;
  }
  return cli_tmp_commit(c, &f);
}

/* libxlsxwriter writes to a path: the temporary file's, renamed after. */
static int write_xlsx(cli *c, const char *out, const carnet__sheet *sh) {
  cli_tmpfile f;
  char why[512], dir[4096];
  int rc = cli_tmp_open(c, &f, out);
  if (rc) return rc;
  snprintf(dir, sizeof dir, "%s", out);
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  close(f.fd);
  int err = carnet__xlsx_write(sh, f.tmp, "carnet", dir, why, sizeof why);
  if (err == CARNET_ENOMEM) cli_oom(NULL);
  if (err) {
    f.fd = -1;
    cli_tmp_discard(&f);
    return cli_fail(c, CLI_EINTERNAL, "%s", why);
  }
  if ((f.fd = open(f.tmp, O_RDONLY | O_CLOEXEC)) < 0) {
    rc = cli_fail(c, CLI_EINTERNAL, "cannot reopen %s: %s", f.tmp, strerror(errno));
    cli_tmp_discard(&f);
    return rc;
  }
  return cli_tmp_commit(c, &f);
}

int cli_cmd_export(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet__sheet *sh = NULL;
  carnet__iobuf b = {0};
  size_t count = 0;
  args o;
  cli_args a;
  int rc = cli_parse(c, &usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = parse_args(c, &a, &o))) goto done;
  if ((rc = cli_open(c, &r)) || (rc = cli_require_admin(c, r, "export"))) goto done;
  if (strcmp(o.format, "json") == 0) {
    if ((rc = json_bytes(c, r, &o, &b, &count)) == CLI_OK) rc = write_bytes(c, o.out, &b);
  } else {
    if ((rc = exp_sheet(c, r, o.kind, &o.filter, &sh, &count))) goto done;
    if (strcmp(o.format, "xlsx") == 0) {
      rc = write_xlsx(c, o.out, sh);
    } else {
      if (carnet__csv_encode(sh, ';', true, &b)) cli_oom(NULL);
      rc = write_bytes(c, o.out, &b);
    }
  }
  if (rc == CLI_OK && strcmp(o.out, "-") != 0)
    printf("exported %zu %s%s to %s (%s)\n", count, carnet_kind_name(o.kind),
           count == 1 ? "" : "s", o.out, o.format);
done:
  carnet__iobuf_free(&b);
  carnet__sheet_free(sh);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
