/* cli/cmd_export.c - `carnet export -o FILE`: customers (or contacts,
 * documents, actions, reminders) to CSV, XLSX or JSON.
 *
 * CSV and XLSX are the library's (carnet_export_file, carnet_export_buffer
 * for standard output): customer exports read back with `carnet import`
 * without loss. JSON stays here, built on carnet_record_list: it is the
 * shape of `list --json` (cli/json.c, cli/crm.c), written with jansson,
 * which the library does not link, one record at a time as it is read. Every output file is written
 * under a temporary name and renamed once complete, so a failed export leaves nothing half written.
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

/* The records are written as they are read, one element of the array at a
 * time, so the memory of a JSON export does not grow with the base. */
typedef struct json_state {
  cli *c;
  carnet_kind kind;
  cli_tmpfile f; /* fd -1: standard output */
  size_t n;
  int rc; /* the first failure to write */
  cli_progress progress;
  char buf[1 << 16]; /* the file's writes, a block at a time */
  size_t used;
} json_state;

static int json_flush(json_state *st) {
  int rc = CLI_OK;
  if (st->used && st->f.fd >= 0) rc = cli_tmp_write(st->c, &st->f, st->buf, st->used);
  st->used = 0;
  return rc;
}

static int json_put(json_state *st, const char *text) {
  size_t len = strlen(text);
  if (st->f.fd < 0) {
    if (fwrite(text, 1, len, stdout) != len)
      return cli_fail(st->c, CLI_EINTERNAL, "cannot write the output");
    return CLI_OK;
  }
  if (st->used + len > sizeof st->buf) {
    int rc = json_flush(st);
    if (rc) return rc;
    if (len > sizeof st->buf) return cli_tmp_write(st->c, &st->f, text, len);
  }
  memcpy(st->buf + st->used, text, len);
  st->used += len;
  return CLI_OK;
}

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
  char *text = cli_json_chunk(st->n++, o);
  st->rc = json_put(st, text);
  free(text);
  cli_progress_count(&st->progress, "records read", st->n, 0);
  return st->rc ? 1 : 0; /* stop at the first failure to write */
}

static int write_json(cli *c, carnet_replica *r, const args *o, size_t *count) {
  json_state *st = cli_oom(calloc(1, sizeof *st));
  int rc = CLI_OK;
  st->c = c;
  st->kind = o->kind;
  st->f.fd = -1;
  if (strcmp(o->out, "-") != 0 && (rc = cli_tmp_open(c, &st->f, o->out))) goto done;
  cli_progress_start(&st->progress, c);
  int err = carnet_record_list(r, o->kind, &o->filter, json_cb, st);
  cli_progress_end(&st->progress);
  if (st->rc)
    rc = st->rc;
  else if (err)
    rc = cli_fail_rc(c, r, err, "reading the records");
  else if ((rc = json_put(st, cli_json_chunk_end(st->n))) == CLI_OK)
    rc = json_flush(st);
  if (st->f.fd >= 0) {
    if (rc == CLI_OK)
      rc = cli_tmp_commit(c, &st->f);
    else
      cli_tmp_discard(&st->f);
  }
  *count = st->n;
done:
  free(st);
  return rc;
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
  size_t count = 0;
  args o;
  cli_args a;
  int rc = cli_parse(c, &usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = parse_args(c, &a, &o))) goto done;
  if ((rc = cli_open(c, &r)) || (rc = cli_require_admin(c, r, "export"))) goto done;
  if (strcmp(o.format, "json") == 0) {
    rc = write_json(c, r, &o, &count);
  } else {
    rc = write_sheet(c, r, &o, &count);
  }
  if (rc == CLI_OK && strcmp(o.out, "-") != 0)
    printf("exported %zu %s%s to %s (%s)\n", count, carnet_kind_name(o.kind), count == 1 ? "" : "s",
           o.out, o.format);
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
