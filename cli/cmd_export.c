/* cli/cmd_export.c - `carnet export -o FILE`: customers (or contacts,
 * documents, actions, reminders) to CSV, XLSX or JSON.
 *
 * CSV and XLSX are the library's (carnet_export_file, carnet_export_buffer
 * for standard output): customer exports read back with `carnet import`
 * without loss. JSON stays here, built on carnet_record_list: it is the
 * shape of `list --json` (cli/json.c, cli/crm.c), written with jansson,
 * which the library does not link. Every output file is written under a
 * temporary name and renamed once complete, so a failed export leaves
 * nothing half written.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/crm.h"
#include "cli/files.h"
#include "cli/progress.h"

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

/* The records as JSON text, in a block of malloc (free it). */
static int json_text(cli *c, carnet_replica *r, const args *o, char **out, size_t *count) {
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
  if (s == NULL) cli_oom(NULL);
  size_t n = strlen(s);
  *out = cli_oom(realloc(s, n + 2));
  memcpy(*out + n, "\n", 2);
  return CLI_OK;
}

/* --- writing ---------------------------------------------------------------- */

static int write_bytes(cli *c, const char *out, const void *data, size_t len) {
  cli_tmpfile f;
  int rc;
  if (strcmp(out, "-") == 0) {
    if (fwrite(data, 1, len, stdout) != len)
      return cli_fail(c, CLI_EINTERNAL, "cannot write the output");
    return CLI_OK;
  }
  if ((rc = cli_tmp_open(c, &f, out))) return rc;
  if ((rc = cli_tmp_write(c, &f, data, len))) {
    cli_tmp_discard(&f);
    return rc;
  }
  return cli_tmp_commit(c, &f);
}

/* The library's progress, drawn as the command's line. */
static void on_progress(void *ctx, uint64_t done, uint64_t total) {
  (void)total; /* the line has always shown the records read alone */
  cli_progress_count(ctx, "records read", done, 0);
}

/* CSV or XLSX through the library; standard output through a buffer. */
static int write_sheet(cli *c, carnet_replica *r, const args *o, size_t *count) {
  carnet_export_options eo = CARNET_EXPORT_OPTIONS_INIT;
  carnet_export_report rep = CARNET_EXPORT_REPORT_INIT;
  cli_progress progress;
  void *bytes = NULL;
  size_t len = 0;
  int err, rc = CLI_OK;
  eo.format = strcmp(o->format, "xlsx") == 0 ? CARNET_SHEET_XLSX : CARNET_SHEET_CSV;
  eo.kind = o->kind;
  eo.filter = &o->filter;
  eo.on_progress = on_progress;
  eo.ctx = &progress;
  cli_progress_start(&progress, c);
  if (strcmp(o->out, "-") == 0)
    err = carnet_export_buffer(r, &eo, &bytes, &len, &rep);
  else
    err = carnet_export_file(r, o->out, &eo, &rep);
  cli_progress_end(&progress);
  if (err == CARNET_ELIMIT)
    rc = cli_fail(c, CLI_EUSER, "%s: use --format json", carnet_replica_errmsg(r));
  else if (err)
    rc = cli_fail_rc(c, r, err, NULL);
  else if (bytes)
    rc = write_bytes(c, o->out, bytes, len);
  carnet_free(bytes);
  *count = (size_t)rep.records;
  return rc;
}

int cli_cmd_export(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  char *json = NULL;
  size_t count = 0;
  args o;
  cli_args a;
  int rc = cli_parse(c, &usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = parse_args(c, &a, &o))) goto done;
  if ((rc = cli_open(c, &r)) || (rc = cli_require_admin(c, r, "export"))) goto done;
  if (strcmp(o.format, "json") == 0) {
    if ((rc = json_text(c, r, &o, &json, &count)) == CLI_OK)
      rc = write_bytes(c, o.out, json, strlen(json));
  } else {
    rc = write_sheet(c, r, &o, &count);
  }
  if (rc == CLI_OK && strcmp(o.out, "-") != 0)
    printf("exported %zu %s%s to %s (%s)\n", count, carnet_kind_name(o.kind), count == 1 ? "" : "s",
           o.out, o.format);
done:
  free(json);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
