/* cli/cmd_import.c - `carnet import FILE`: customers from a CSV or XLSX
 * file, through carnet_import_file (carnet/import.h), which holds the
 * checks, the mapping, the duplicates, the batches and the rejects file.
 * The command parses its options, refuses a member replica (a policy of
 * the command, not of the library), prints what the library reports (the
 * columns left out, the rejected rows, the summary or --json) and draws
 * the progress line.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/files.h"
#include "cli/progress.h"

enum { O_FORMAT = CLI_O_USER, O_MAP, O_DRY_RUN, O_ON_DUP, O_REJECTS, O_BATCH, O_REPORT };

static const cli_opt opts[] = {
    {"format", 0, required_argument, O_FORMAT, "FMT",
     "csv or xlsx (default: from the file name, else from its first bytes)"},
    {"map", 0, required_argument, O_MAP, "COLUMN=FIELD",
     "read COLUMN into FIELD (repeatable; FIELD 'ignore' leaves it out)"},
    {"dry-run", 'n', no_argument, O_DRY_RUN, NULL, "check and count everything, write nothing"},
    {"on-duplicate", 0, required_argument, O_ON_DUP, "MODE",
     "a row whose customer exists: skip (default), merge (fill what it lacks), update (take "
     "the file's non-empty values) or create"},
    {"rejects", 0, required_argument, O_REJECTS, "FILE",
     "write the rejected rows to FILE (CSV: line, column, reason, the row)"},
    {"report", 0, required_argument, O_REPORT, "FILE",
     "write every row's outcome to FILE (CSV: line, outcome, the customer it went to or "
     "matched, the fields written)"},
    {"batch", 0, required_argument, O_BATCH, "N",
     "rows per transaction (default: ~250 ms of rows a transaction)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage usage = {
    .args = "FILE",
    .summary = "Import customers from a CSV or Excel (.xlsx) file: one customer per row, the "
               "first row naming the columns.",
    .opts = opts,
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more =
        "Columns are recognised by their French or English name (Nom, Prénom, Raison sociale,\n"
        "Société, Téléphone, Tél, Portable, Mobile, E-mail, Courriel, Adresse, CP, Code postal,\n"
        "Ville, Pays, SIRET, TVA, Notes, Tags, Catégorie...; case and accents do not matter)\n"
        "and by the names 'carnet export' writes; --map names the others. Fields: name,\n"
        "first_name, company, type, roles, emails, phones, mobile, work_phone, home_phone,\n"
        "siret, vat_id, street, street2, postcode, city, country, geo, tags, sales_rep,\n"
        "channel, discount, conflict, notes, custom:NAME[:TYPE], code, supplier,\n"
        "client_kind, id, ignore ('COLUMN=ignore' leaves a column out without a word).\n"
        "Dolibarr's third-party export and INFast's customer export are recognised by their\n"
        "columns. A country may be named in French or English (Allemagne, Germany: DE);\n"
        "dates may be written day first (15/03/2021); a file's own customer code (Code\n"
        "client) is kept as the custom field code_client.\n"
        "Several e-mails, phones or tags go in one cell separated by '|' (or ',').\n"
        "Each row is checked like 'carnet customer add'; a bad row is rejected (counted, and\n"
        "written to --rejects FILE with its line and the reason), the others are imported.\n"
        "A customer already there (its id, as an export writes it; same SIRET, e-mail or\n"
        "phone) is skipped, merged, updated or created again as --on-duplicate says; each\n"
        "such row is listed with the customer it matched (--json, --report FILE). An export\n"
        "edited in a spreadsheet and imported with --on-duplicate update changes exactly\n"
        "what was edited. Importing the same file twice adds nothing.\n"
        "An administrator action: refused on a member replica (carnet status shows the role).\n"
        "Exit codes: 0 imported (even with rejected rows), 1 a bad file or option, 2 an\n"
        "internal error (what was committed before it stays; rerun to finish).",
};

/* A rejected row as the command prints it: the first 100 are kept (the
 * --json summary lists 100, the terminal 10; --rejects FILE has them all). */
#define SHOWN_MAX 100

typedef struct shown {
  uint64_t line;
  char *column; /* NULL: the row as a whole */
  char *reason;
} shown;

/* A row that went to an existing customer (merged, updated, skipped). */
typedef struct matched {
  uint64_t line;
  carnet_import_outcome what;
  char id[CARNET_ID_HEX_LEN + 1];
  char *ref, *fields;
} matched;

typedef struct job {
  cli *c;
  cli_progress progress;
  shown rejects[SHOWN_MAX];
  size_t nshown;
  matched *matches; /* all of them: --json lists every one */
  size_t nmatches, cap;
  const char *report; /* --report FILE, or NULL */
  bool update;        /* --on-duplicate update */
} job;

static void on_column(void *ctx, const carnet_import_column *col) {
  job *j = ctx;
  if (col->field == NULL && !col->ignored && col->header[0] && !j->c->json)
    fprintf(stderr, "%s: column '%s' is not imported (map it with --map '%s=FIELD')\n", j->c->cmd,
            col->header, col->header);
}

static const char *outcome_word(carnet_import_outcome what) {
  switch (what) {
  case CARNET_IMPORT_ROW_IMPORTED:
    return "imported";
  case CARNET_IMPORT_ROW_MERGED:
    return "merged";
  case CARNET_IMPORT_ROW_UPDATED:
    return "updated";
  case CARNET_IMPORT_ROW_SKIPPED:
    return "skipped";
  case CARNET_IMPORT_ROW_REJECTED:
    return "rejected";
  }
  return "?";
}

static int on_row(void *ctx, const carnet_import_row *row) {
  job *j = ctx;
  if (row->outcome == CARNET_IMPORT_ROW_MERGED || row->outcome == CARNET_IMPORT_ROW_UPDATED ||
      row->outcome == CARNET_IMPORT_ROW_SKIPPED) {
    if (j->nmatches == j->cap) {
      j->cap = j->cap ? j->cap * 2 : 64;
      j->matches = cli_oom(realloc(j->matches, j->cap * sizeof *j->matches));
    }
    matched *m = &j->matches[j->nmatches++];
    m->line = row->line;
    m->what = row->outcome;
    carnet_id_format(&row->id, m->id);
    m->ref = cli_oom(strdup(row->ref ? row->ref : ""));
    m->fields = row->fields ? cli_oom(strdup(row->fields)) : NULL;
    return 0;
  }
  if (row->outcome != CARNET_IMPORT_ROW_REJECTED || j->nshown == SHOWN_MAX) return 0;
  shown *s = &j->rejects[j->nshown++];
  s->line = row->line;
  s->column = row->column ? cli_oom(strdup(row->column)) : NULL;
  s->reason = cli_oom(strdup(row->reason));
  return 0;
}

static void on_progress(void *ctx, uint64_t row, uint64_t n) {
  job *j = ctx;
  uint64_t pct = n ? (row * 100) / n : 100, bar = pct / 5;
  cli_progress_draw(&j->progress, "[%.*s%*s] %3llu%% %llu/%llu rows", (int)bar,
                    "####################", (int)(20 - bar), "", (unsigned long long)pct,
                    (unsigned long long)row, (unsigned long long)n);
}

static void print_rejects(const job *j, const carnet_import_report *rep) {
  size_t n = j->nshown < 10 ? j->nshown : 10;
  for (size_t i = 0; i < n; i++) {
    const shown *rj = &j->rejects[i];
    fprintf(stderr, "%s: line %llu%s%s%s: %s\n", j->c->cmd, (unsigned long long)rj->line,
            rj->column ? " (" : "", rj->column ? rj->column : "", rj->column ? ")" : "",
            rj->reason);
  }
  if (rep->rejected > n)
    fprintf(stderr, "%s: ... and %llu more rejected rows (--rejects FILE writes them all)\n",
            j->c->cmd, (unsigned long long)(rep->rejected - n));
}

/* The first rows that went to existing customers (--report FILE has them all). */
static void print_matches(const job *j, const char *report) {
  size_t n = j->nmatches < 10 ? j->nmatches : 10;
  for (size_t i = 0; i < n; i++) {
    const matched *m = &j->matches[i];
    printf("line %llu: %s %s%s%s%s\n", (unsigned long long)m->line, outcome_word(m->what),
           m->ref[0] ? m->ref : m->id, m->fields ? " (" : "", m->fields ? m->fields : "",
           m->fields ? ")" : "");
  }
  if (j->nmatches > n)
    printf("... and %zu more rows matched existing customers (%s)\n", j->nmatches - n,
           report ? "all are in the report file" : "--report FILE lists them all");
}

/* The --json summary `o`, then "matches": every row that matched a
 * customer, each written as it is made (cli_json_chunk_at): a second
 * import of 100,000 rows (every one a match) built them all as one tree
 * first, 99 MB of private memory for 16 MB of text. The text is the
 * tree's ("matches" the last key). */
static int print_json(const job *j, json_t *o) {
  char *head = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
  json_decref(o);
  size_t len = head ? strlen(head) : 0;
  bool ok = len >= 2 && strcmp(head + len - 2, "\n}") == 0;
  if (ok) ok = printf("%.*s,\n  \"matches\": ", (int)(len - 2), head) >= 0;
  free(head);
  for (size_t i = 0; ok && i < j->nmatches; i++) {
    const matched *m = &j->matches[i];
    json_t *e = cli_oom(json_object());
    cli_json_put(e, "line", json_integer((json_int_t)m->line));
    cli_json_put(e, "outcome", cli_json_str(outcome_word(m->what)));
    cli_json_put(e, "id", cli_json_str(m->id));
    cli_json_put(e, "ref", cli_json_str(m->ref[0] ? m->ref : NULL));
    cli_json_put(e, "fields", cli_json_str(m->fields));
    char *text = cli_json_chunk_at(i, e, 1);
    ok = fputs(text, stdout) >= 0;
    free(text);
  }
  if (ok) ok = fputs(j->nmatches ? "\n  ]\n}\n" : "[]\n}\n", stdout) >= 0;
  return ok ? CLI_OK : cli_fail(j->c, CLI_EINTERNAL, "cannot write the output");
}

static int summary(const job *j, const carnet_import_report *rep, const char *file, bool dry_run,
                   const char *rejects, double seconds) {
  const char *format = rep->format == CARNET_SHEET_XLSX ? "xlsx" : "csv";
  if (j->c->json) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "file", cli_json_str(file));
    cli_json_put(o, "format", cli_json_str(format));
    cli_json_put(o, "encoding",
                 rep->format == CARNET_SHEET_XLSX
                     ? json_null()
                     : cli_json_str(rep->cp1252 ? "windows-1252" : "utf-8"));
    cli_json_put(o, "bad_encoding", json_integer((json_int_t)rep->bad_encoding));
    cli_json_put(o, "rows", json_integer((json_int_t)rep->rows));
    cli_json_put(o, "imported", json_integer((json_int_t)rep->imported));
    cli_json_put(o, "merged", json_integer((json_int_t)rep->merged));
    cli_json_put(o, "updated", json_integer((json_int_t)rep->updated));
    cli_json_put(o, "source", cli_json_str(rep->source));
    cli_json_put(o, "skipped", json_integer((json_int_t)rep->skipped));
    cli_json_put(o, "rejected", json_integer((json_int_t)rep->rejected));
    cli_json_put(o, "dry_run", json_boolean(dry_run));
    cli_json_put(o, "rejects_file", rejects && rep->rejected ? cli_json_str(rejects) : json_null());
    cli_json_put(o, "seconds", json_real(seconds));
    json_t *arr = cli_oom(json_array()); /* the first 100; --rejects keeps them all */
    for (size_t i = 0; i < j->nshown; i++) {
      const shown *rj = &j->rejects[i];
      json_t *e = cli_oom(json_object());
      cli_json_put(e, "line", json_integer((json_int_t)rj->line));
      cli_json_put(e, "column", rj->column ? cli_json_str(rj->column) : json_null());
      cli_json_put(e, "reason", cli_json_str(rj->reason));
      cli_json_push(arr, e);
    }
    cli_json_put(o, "rejects", arr);
    return print_json(j, o);
  }
  /* The encoding is never guessed silently (io/csv.h). */
  if (rep->format == CARNET_SHEET_CSV && rep->cp1252)
    printf("read as Windows-1252: %s is not UTF-8; check accented letters (or save it as UTF-8 "
           "and import it again)\n",
           file);
  if (rep->bad_encoding)
    printf("%llu row%s in another encoding than the rest of the file %s rejected (their lines "
           "are %s)\n",
           (unsigned long long)rep->bad_encoding, rep->bad_encoding == 1 ? "" : "s",
           rep->bad_encoding == 1 ? "was" : "were",
           rejects ? "in the rejects file" : "listed above");
  if (rep->source) printf("recognised a %s export by its columns\n", rep->source);
  print_matches(j, j->report);
  char updated[40] = ""; /* in update mode (or when it updated) */
  if (j->update || rep->updated)
    snprintf(updated, sizeof updated, "%llu updated, ", (unsigned long long)rep->updated);
  printf("%s%llu imported, %s%llu merged, %llu skipped, %llu rejected (%llu rows in %.1f s)%s\n",
         dry_run ? "dry run: " : "", (unsigned long long)rep->imported, updated,
         (unsigned long long)rep->merged, (unsigned long long)rep->skipped,
         (unsigned long long)rep->rejected, (unsigned long long)rep->rows, seconds,
         dry_run ? "; nothing was written" : "");
  return CLI_OK;
}

/* --- the command ------------------------------------------------------------ */

static int parse_args(cli *c, const cli_args *a, carnet_import_options *o, const char ***maps) {
  o->batch = 0; /* by size or time */
  *maps = cli_oom(calloc((size_t)a->nopts + 1, sizeof **maps));
  o->maps = *maps;
  for (int i = 0; i < a->nopts; i++) {
    const char *v = a->opts[i].arg;
    uint64_t n;
    switch (a->opts[i].id) {
    case O_FORMAT:
      if (strcmp(v, "csv") != 0 && strcmp(v, "xlsx") != 0)
        return cli_fail(c, CLI_EUSER, "invalid --format '%s': csv or xlsx", v);
      o->format = strcmp(v, "csv") == 0 ? CARNET_SHEET_CSV : CARNET_SHEET_XLSX;
      break;
    case O_MAP:
      (*maps)[o->nmaps++] = v;
      break;
    case O_DRY_RUN:
      o->dry_run = true;
      break;
    case O_ON_DUP:
      if (strcmp(v, "skip") == 0)
        o->on_duplicate = CARNET_IMPORT_DUP_SKIP;
      else if (strcmp(v, "merge") == 0)
        o->on_duplicate = CARNET_IMPORT_DUP_MERGE;
      else if (strcmp(v, "create") == 0)
        o->on_duplicate = CARNET_IMPORT_DUP_CREATE;
      else if (strcmp(v, "update") == 0)
        o->on_duplicate = CARNET_IMPORT_DUP_UPDATE;
      else
        return cli_fail(c, CLI_EUSER, "invalid --on-duplicate '%s': skip, merge, update or create",
                        v);
      break;
    case O_REJECTS:
      o->rejects_path = v;
      break;
    case O_REPORT:
      o->report_path = v;
      break;
    case O_BATCH:
      if (!cli_parse_u64(v, &n) || n == 0 || n > CARNET_IMPORT_BATCH_MAX)
        return cli_fail(c, CLI_EUSER, "invalid --batch '%s': 1 to %u rows", v,
                        CARNET_IMPORT_BATCH_MAX);
      o->batch = (size_t)n;
      break;
    }
  }
  return CLI_OK;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cli_cmd_import(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_import_options o = CARNET_IMPORT_OPTIONS_INIT;
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  const char **maps = NULL;
  job j = {.c = c};
  cli_args a;
  double t0 = now_s();
  int rc = cli_parse(c, &usage, argc, argv, &a);
  if (rc) return rc;
  const char *path = a.pos[0];
  if ((rc = parse_args(c, &a, &o, &maps))) goto done;
  j.report = o.report_path;
  j.update = o.on_duplicate == CARNET_IMPORT_DUP_UPDATE;
  if ((rc = cli_open(c, &r)) || (rc = cli_require_admin(c, r, "import"))) goto done;
  o.on_column = on_column;
  o.on_row = on_row;
  o.on_progress = on_progress;
  o.ctx = &j;
  cli_progress_start(&j.progress, c);
  int err = carnet_import_file(r, path, &o, &rep);
  cli_progress_end(&j.progress);
  if (err && rep.stopped_line) {
    const char *msg = carnet_replica_errmsg(r);
    rc = cli_fail(c, cli_exit_code(err),
                  "stopped at line %llu: %s; %llu rows before it were imported: "
                  "run the same command again to finish (imported rows are skipped)",
                  (unsigned long long)rep.stopped_line, msg[0] ? msg : carnet_error_message(err),
                  (unsigned long long)rep.committed);
    goto done;
  }
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  if (!o.rejects_path && !c->json) print_rejects(&j, &rep);
  rc = summary(&j, &rep, path, o.dry_run, o.rejects_path, now_s() - t0);
done:
  for (size_t i = 0; i < j.nshown; i++)
    free(j.rejects[i].column), free(j.rejects[i].reason);
  for (size_t i = 0; i < j.nmatches; i++)
    free(j.matches[i].ref), free(j.matches[i].fields);
  free(j.matches);
  free(maps);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
