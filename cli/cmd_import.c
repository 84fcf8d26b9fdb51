/* cli/cmd_import.c - `carnet import FILE`: customers from a CSV or XLSX
 * file.
 *
 *   read the file -> decode it whole (io/csv.h, io/xlsx.h) -> map the header
 *   -> for each row: patch (cli/import_row.c) -> carnet_record_check -> id -> same
 *      id already there? -> same SIRET/e-mail/phone? -> create | merge | skip
 *   -> one transaction per batch of rows -> rejects file -> summary
 *
 * The whole file is decoded before the first write, so a malformed file
 * (an unterminated quote, a damaged workbook) imports nothing. A bad row is
 * set aside (carnet_record_check fails without failing the transaction) and goes
 * to the rejects. A rerun imports nothing twice: a row's id is derived from
 * its content (imp_row_id), and a row whose id exists is skipped.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/import.h"
#include "cli/progress.h"
#include "io/csv.h"
#include "io/xlsx.h"

enum { O_FORMAT = CLI_O_USER, O_MAP, O_DRY_RUN, O_ON_DUP, O_REJECTS, O_BATCH };

#define IMPORT_FILE_MAX (1024ul << 20)
#define IMPORT_BATCH_DEFAULT 1000
#define IMPORT_BATCH_MAX 100000

static const cli_opt opts[] = {
    {"format", 0, required_argument, O_FORMAT, "FMT",
     "csv or xlsx (default: from the file name, else from its first bytes)"},
    {"map", 0, required_argument, O_MAP, "COLUMN=FIELD",
     "read COLUMN into FIELD (repeatable; FIELD 'ignore' leaves it out)"},
    {"dry-run", 'n', no_argument, O_DRY_RUN, NULL, "check and count everything, write nothing"},
    {"on-duplicate", 0, required_argument, O_ON_DUP, "MODE",
     "a row whose customer exists: skip (default), merge (fill what it lacks) or create"},
    {"rejects", 0, required_argument, O_REJECTS, "FILE",
     "write the rejected rows to FILE (CSV: line, column, reason, the row)"},
    {"batch", 0, required_argument, O_BATCH, "N", "rows per transaction (default 1000)"},
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
        "channel, discount, conflict, notes, custom:NAME[:TYPE], id, ignore.\n"
        "Several e-mails, phones or tags go in one cell separated by '|' (or ',').\n"
        "Each row is checked like 'carnet customer add'; a bad row is rejected (counted, and\n"
        "written to --rejects FILE with its line and the reason), the others are imported.\n"
        "A customer already there (same SIRET, e-mail or phone) is skipped, merged or created\n"
        "again as --on-duplicate says. Importing the same file twice adds nothing.\n"
        "An administrator action: refused on a member replica (carnet status shows the role).\n"
        "Exit codes: 0 imported (even with rejected rows), 1 a bad file or option, 2 an\n"
        "internal error (what was committed before it stays; rerun to finish).",
};

typedef enum dup_mode { DUP_SKIP, DUP_MERGE, DUP_CREATE } dup_mode;

typedef struct reject {
  size_t row;
  size_t col; /* SIZE_MAX: the row as a whole */
  char *reason;
} reject;

typedef struct job {
  cli *c;
  carnet_replica *r;
  carnet_txn *t;
  const carnet__sheet *sh;
  imp_map map;
  dup_mode mode;
  bool dry_run;
  cli_progress progress;
  size_t batch;
  uint8_t key[CARNET_TEAM_BYTES];
  /* counts */
  size_t rows, imported, merged, skipped, rejected, in_batch;
  reject *rejects;
  size_t nrejects, rejects_cap;
} job;

static void add_reject(job *j, size_t row, size_t col, const char *reason) {
  if (j->nrejects == j->rejects_cap) {
    j->rejects_cap = j->rejects_cap ? j->rejects_cap * 2 : 64;
    j->rejects = cli_oom(realloc(j->rejects, j->rejects_cap * sizeof *j->rejects));
  }
  j->rejects[j->nrejects++] = (reject){row, col, cli_oom(strdup(reason))};
  j->rejected++;
}

/* --- one row -------------------------------------------------------------- */

/* Which column makes carnet_record_check fail: each mapped cell alone (with a
 * stand-in name, since a customer needs one). SIZE_MAX when only the row as
 * a whole fails (no name). */
static size_t bad_column(job *j, size_t row) {
  imp_map one = j->map;
  one.cols = cli_oom(calloc(j->map.ncols, sizeof *one.cols));
  size_t found = SIZE_MAX;
  for (size_t col = 0; col < j->map.ncols && found == SIZE_MAX; col++) {
    if (carnet__sheet_get(j->sh, row, col)[0] == '\0') continue;
    memset(one.cols, 0, j->map.ncols * sizeof *one.cols);
    one.cols[col] = j->map.cols[col];
    carnet_patch *p = cli_oom(carnet_patch_new(CARNET_KIND_CUSTOMER));
    bool empty;
    size_t ec;
    char why[256];
    imp_target t = one.cols[col].target;
    int rc = imp_row_patch(&one, j->sh, row, NULL, p, &empty, &ec, why, sizeof why);
    if (rc == CLI_OK && t != IMP_NAME && t != IMP_FIRST_NAME && t != IMP_COMPANY)
      rc = carnet_patch_set(p, CARNET_F_NAME, "-");
    if (rc == CLI_OK && !empty && carnet_record_check(j->t, p) != 0) found = col;
    carnet_patch_free(p);
  }
  free(one.cols);
  return found;
}

/* Fills `rec` with what the row has and it lacks. */
static int merge_into(job *j, size_t row, const carnet_id *id, bool *changed) {
  carnet_record *rec = NULL;
  carnet_patch *p = cli_oom(carnet_patch_new(CARNET_KIND_CUSTOMER));
  bool empty = true;
  size_t col;
  char why[512];
  int err = carnet_record_get(j->r, id, &rec);
  *changed = false;
  if (err == 0 && imp_row_patch(&j->map, j->sh, row, rec, p, &empty, &col, why, sizeof why) ==
                      CLI_OK &&
      !empty) {
    err = carnet_record_update(j->t, id, p);
    *changed = err == 0;
  }
  carnet_record_free(rec);
  carnet_patch_free(p);
  return err;
}

/* One data row; returns 0 or a CARNET_E* error that stops the import. */
static int import_row(job *j, size_t row) {
  carnet_patch *p = cli_oom(carnet_patch_new(CARNET_KIND_CUSTOMER));
  carnet_record *rec = NULL;
  carnet_id id, match;
  bool empty = true, found = false, changed = false;
  size_t col = 0;
  char why[512];
  int err = 0;
  int rc = imp_row_patch(&j->map, j->sh, row, NULL, p, &empty, &col, why, sizeof why);
  if (rc != CLI_OK) {
    add_reject(j, row, col, why);
    goto done;
  }
  if (empty) goto done; /* a blank row */
  if ((err = carnet_record_check(j->t, p)) != 0) {
    if (err != CARNET_EINVAL && err != CARNET_ENOTFOUND) goto done;
    snprintf(why, sizeof why, "%s", carnet_replica_errmsg(j->r));
    add_reject(j, row, bad_column(j, row), why);
    err = 0;
    goto done;
  }
  bool opposed;
  if ((err = imp_row_opposed(&j->map, j->sh, row, j->r, &match, &opposed))) goto done;
  if (opposed) {
    char hex[CARNET_ID_HEX_LEN + 1];
    carnet_id_format(&match, hex);
    snprintf(why, sizeof why,
             "an e-mail or phone of a person erased at their request (certificate %s): not "
             "imported; add them by hand with their agreement",
             hex);
    add_reject(j, row, 0, why);
    goto done;
  }
  imp_row_id(&j->map, j->sh, row, j->key, sizeof j->key, &id);
  err = carnet_record_get(j->r, &id, &rec);
  if (err == 0) { /* this very row was imported before */
    if (j->mode == DUP_MERGE && !carnet_record_deleted(rec) &&
        (err = merge_into(j, row, &id, &changed)) == 0 && changed)
      j->merged++;
    else if (err == 0)
      j->skipped++;
    goto done;
  }
  if (err != CARNET_ENOTFOUND) goto done;
  if (j->mode != DUP_CREATE && (err = imp_row_match(&j->map, j->sh, row, j->r, &match, &found)))
    goto done;
  if (found && j->mode == DUP_SKIP) {
    j->skipped++;
  } else if (found) {
    if ((err = merge_into(j, row, &match, &changed)) == 0) changed ? j->merged++ : j->skipped++;
  } else if ((err = carnet_record_create(j->t, p, &id, NULL)) == 0) {
    j->imported++;
  }
done:
  carnet_record_free(rec);
  carnet_patch_free(p);
  return err;
}

/* --- the loop -------------------------------------------------------------- */

static void progress(job *j, size_t row) {
  size_t n = carnet__sheet_rows(j->sh) - 1;
  size_t pct = n ? (row * 100) / n : 100, bar = pct / 5;
  cli_progress_draw(&j->progress, "[%.*s%*s] %3zu%% %zu/%zu rows", (int)bar, "####################",
                    (int)(20 - bar), "", pct, row, n);
}

static int run_rows(job *j, size_t *stopped_at) {
  size_t counted;
  int err = carnet_txn_begin(j->r, &j->t);
  for (size_t row = 1; err == 0 && row < carnet__sheet_rows(j->sh); row++) {
    *stopped_at = row;
    counted = j->imported + j->merged + j->skipped + j->rejected;
    if ((err = import_row(j, row))) break;
    /* A row counts once it has an outcome; blank rows have none. */
    if (j->imported + j->merged + j->skipped + j->rejected > counted) j->rows++;
    if ((row & 255) == 0) progress(j, row);
    if (!j->dry_run && ++j->in_batch >= j->batch) {
      err = carnet_txn_commit(j->t);
      j->t = NULL;
      j->in_batch = 0;
      if (err == 0) err = carnet_txn_begin(j->r, &j->t);
    }
  }
  cli_progress_end(&j->progress);
  if (j->t && (err || j->dry_run)) {
    carnet_txn_abort(j->t);
  } else if (j->t) {
    err = carnet_txn_commit(j->t);
  }
  j->t = NULL;
  return err;
}

/* --- rejects and summary --------------------------------------------------- */

static int write_rejects(job *j, const char *path, char sep) {
  carnet__iobuf b = {0};
  cli_tmpfile f;
  const carnet__sheet *sh = j->sh;
  size_t w = carnet__sheet_width(sh, 0);
  const char **cells = cli_oom(calloc(w + 3, sizeof *cells));
  char line[24];
  int rc;
  cells[0] = "line", cells[1] = "column", cells[2] = "reason";
  for (size_t c = 0; c < w; c++) cells[3 + c] = carnet__sheet_get(sh, 0, c);
  if (carnet__csv_encode_row(&b, cells, w + 3, sep)) cli_oom(NULL);
  for (size_t i = 0; i < j->nrejects; i++) {
    const reject *rj = &j->rejects[i];
    snprintf(line, sizeof line, "%lu", (unsigned long)carnet__sheet_line(sh, rj->row));
    cells[0] = line;
    cells[1] = rj->col == SIZE_MAX ? "" : carnet__sheet_get(sh, 0, rj->col);
    cells[2] = rj->reason;
    for (size_t c = 0; c < w; c++) cells[3 + c] = carnet__sheet_get(sh, rj->row, c);
    if (carnet__csv_encode_row(&b, cells, 3 + w, sep)) cli_oom(NULL);
  }
  free(cells);
  if ((rc = cli_tmp_open(j->c, &f, path)) == CLI_OK) {
    if ((rc = cli_tmp_write(j->c, &f, b.data, b.len)) == CLI_OK)
      rc = cli_tmp_commit(j->c, &f);
    else
      cli_tmp_discard(&f);
  }
  carnet__iobuf_free(&b);
  return rc;
}

static void print_rejects(const job *j) {
  size_t shown = j->nrejects < 10 ? j->nrejects : 10;
  for (size_t i = 0; i < shown; i++) {
    const reject *rj = &j->rejects[i];
    fprintf(stderr, "%s: line %lu%s%s%s: %s\n", j->c->cmd,
            (unsigned long)carnet__sheet_line(j->sh, rj->row), rj->col == SIZE_MAX ? "" : " (",
            rj->col == SIZE_MAX ? "" : carnet__sheet_get(j->sh, 0, rj->col),
            rj->col == SIZE_MAX ? "" : ")", rj->reason);
  }
  if (j->nrejects > shown)
    fprintf(stderr, "%s: ... and %zu more rejected rows (--rejects FILE writes them all)\n",
            j->c->cmd, j->nrejects - shown);
}

static int summary(job *j, const char *file, const char *format, const char *rejects,
                   double seconds) {
  if (j->c->json) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "file", cli_json_str(file));
    cli_json_put(o, "format", cli_json_str(format));
    cli_json_put(o, "rows", json_integer((json_int_t)j->rows));
    cli_json_put(o, "imported", json_integer((json_int_t)j->imported));
    cli_json_put(o, "merged", json_integer((json_int_t)j->merged));
    cli_json_put(o, "skipped", json_integer((json_int_t)j->skipped));
    cli_json_put(o, "rejected", json_integer((json_int_t)j->rejected));
    cli_json_put(o, "dry_run", json_boolean(j->dry_run));
    cli_json_put(o, "rejects_file", rejects && j->nrejects ? cli_json_str(rejects) : json_null());
    cli_json_put(o, "seconds", json_real(seconds));
    json_t *arr = cli_oom(json_array()); /* the first 100; --rejects keeps them all */
    for (size_t i = 0; i < j->nrejects && i < 100; i++) {
      const reject *rj = &j->rejects[i];
      json_t *e = cli_oom(json_object());
      cli_json_put(e, "line", json_integer((json_int_t)carnet__sheet_line(j->sh, rj->row)));
      cli_json_put(e, "column", rj->col == SIZE_MAX
                                    ? json_null()
                                    : cli_json_str(carnet__sheet_get(j->sh, 0, rj->col)));
      cli_json_put(e, "reason", cli_json_str(rj->reason));
      cli_json_push(arr, e);
    }
    cli_json_put(o, "rejects", arr);
    return cli_json_print(j->c, o);
  }
  printf("%s%zu imported, %zu merged, %zu skipped, %zu rejected (%zu rows in %.1f s)%s\n",
         j->dry_run ? "dry run: " : "", j->imported, j->merged, j->skipped, j->rejected, j->rows,
         seconds, j->dry_run ? "; nothing was written" : "");
  return CLI_OK;
}

/* --- the command ------------------------------------------------------------ */

typedef struct args {
  const char *format, *rejects;
  const char **maps;
  size_t nmaps;
  dup_mode mode;
  bool dry_run;
  size_t batch;
} args;

static int parse_args(cli *c, const cli_args *a, args *o) {
  memset(o, 0, sizeof *o);
  o->batch = IMPORT_BATCH_DEFAULT;
  o->maps = cli_oom(calloc((size_t)a->nopts + 1, sizeof *o->maps));
  for (int i = 0; i < a->nopts; i++) {
    const char *v = a->opts[i].arg;
    uint64_t n;
    switch (a->opts[i].id) {
    case O_FORMAT:
      if (strcmp(v, "csv") != 0 && strcmp(v, "xlsx") != 0)
        return cli_fail(c, CLI_EUSER, "invalid --format '%s': csv or xlsx", v);
      o->format = v;
      break;
    case O_MAP:
      o->maps[o->nmaps++] = v;
      break;
    case O_DRY_RUN:
      o->dry_run = true;
      break;
    case O_ON_DUP:
      if (strcmp(v, "skip") == 0)
        o->mode = DUP_SKIP;
      else if (strcmp(v, "merge") == 0)
        o->mode = DUP_MERGE;
      else if (strcmp(v, "create") == 0)
        o->mode = DUP_CREATE;
      else
        return cli_fail(c, CLI_EUSER, "invalid --on-duplicate '%s': skip, merge or create", v);
      break;
    case O_REJECTS:
      o->rejects = v;
      break;
    case O_BATCH:
      if (!cli_parse_u64(v, &n) || n == 0 || n > IMPORT_BATCH_MAX)
        return cli_fail(c, CLI_EUSER, "invalid --batch '%s': 1 to %d rows", v, IMPORT_BATCH_MAX);
      o->batch = (size_t)n;
      break;
    }
  }
  return CLI_OK;
}

/* csv or xlsx: --format, else the file name, else the first bytes (a zip). */
static const char *format_of(const char *given, const char *path, const char *buf, size_t len) {
  const char *dot = strrchr(path, '.');
  if (given) return given;
  if (dot && (strcasecmp(dot, ".xlsx") == 0 || strcasecmp(dot, ".xlsm") == 0)) return "xlsx";
  if (dot && (strcasecmp(dot, ".csv") == 0 || strcasecmp(dot, ".txt") == 0 ||
              strcasecmp(dot, ".tsv") == 0))
    return "csv";
  return len >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0 ? "xlsx" : "csv";
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cli_cmd_import(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet__sheet *sh = NULL;
  char *buf = NULL, why[512] = "";
  size_t len = 0, stopped = 0;
  carnet__csv_info info = {',', false, false};
  uint8_t pk[CARNET_PK_BYTES];
  job j = {.c = c};
  args o = {0};
  cli_args a;
  double t0 = now_s();
  int rc = cli_parse(c, &usage, argc, argv, &a);
  if (rc) return rc;
  const char *path = a.pos[0];
  if ((rc = parse_args(c, &a, &o))) goto done;
  if ((rc = cli_open(c, &r)) || (rc = cli_require_admin(c, r, "import"))) goto done;
  if ((rc = cli_read_file(c, path, IMPORT_FILE_MAX, &buf, &len))) goto done;
  const char *format = format_of(o.format, path, buf, len);
  int err = strcmp(format, "xlsx") == 0 ? carnet__xlsx_decode(buf, len, &sh, why, sizeof why)
                                        : carnet__csv_decode(buf, len, &sh, &info, why, sizeof why);
  if (err == CARNET_ENOMEM) cli_oom(NULL);
  if (err) {
    rc = cli_fail(c, CLI_EUSER, "%s: %s; nothing was imported", path,
                  why[0] ? why : carnet_error_message(err));
    goto done;
  }
  free(buf), buf = NULL; /* the sheet holds its own copy */
  if ((rc = imp_map_header(c, sh, o.maps, o.nmaps, c->json, &j.map))) goto done;
  if ((err = carnet_replica_get_identity(r, pk, j.key))) {
    rc = cli_fail_rc(c, r, err, "reading the replica's identity");
    goto done;
  }
  j.r = r, j.sh = sh, j.mode = o.mode, j.dry_run = o.dry_run, j.batch = o.batch;
  cli_progress_start(&j.progress, c);
  if ((err = run_rows(&j, &stopped))) {
    rc = cli_fail(c, cli_exit_code(err),
                  "stopped at line %lu: %s; the rows before it were imported in batches of %zu: "
                  "run the same command again to finish (imported rows are skipped)",
                  (unsigned long)carnet__sheet_line(sh, stopped),
                  carnet_replica_errmsg(r)[0] ? carnet_replica_errmsg(r) : carnet_error_message(err),
                  j.batch);
    goto done;
  }
  if (o.rejects && j.nrejects && (rc = write_rejects(&j, o.rejects, info.sep))) goto done;
  if (!o.rejects && !c->json) print_rejects(&j);
  rc = summary(&j, path, format, o.rejects, now_s() - t0);
done:
  for (size_t i = 0; i < j.nrejects; i++) free(j.rejects[i].reason);
  free(j.rejects);
  free(j.map.cols);
  free(o.maps);
  free(buf);
  carnet__sheet_free(sh);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
