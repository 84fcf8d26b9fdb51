/* book/import.c - customers from a CSV or XLSX file (carnet_import_file,
 * carnet_import_buffer).
 *
 *   read the file -> decode it whole (io/csv.h, io/xlsx.h) -> map the header
 *   (book/import_map.c) -> for each row: patch (book/import_row.c)
 *   -> carnet_record_check -> opposition list -> id -> same id already
 *   there? -> same SIRET/e-mail/phone? -> create | merge | skip
 *   -> one transaction per batch of rows -> rejects file -> report
 *
 * The whole file is decoded before the first write, so a malformed file
 * (an unterminated quote, a damaged workbook) imports nothing. A bad row is
 * set aside (carnet_record_check fails without failing the transaction) and
 * goes to the rejects. A rerun imports nothing twice: a row's id is derived
 * from its content (carnet__imp_row_id), and a row whose id exists is
 * skipped.
 *
 * The replica's errmsg is cleared before each row: the engine leaves a
 * detail there for values it refuses (a rejected row, an e-mail that is
 * not one when looking up duplicates), and an error that stops the import
 * later must not be reported with a rejected row's reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "book/import_int.h"
#include "engine/base/alloc.h"
#include "engine/store/handle.h"
#include "engine/sync/bulk.h"
#include "io/csv.h"
#include "io/xlsx.h"

/* A rejected row, kept for the rejects file. */
typedef struct reject {
  size_t row;
  size_t col; /* SIZE_MAX: the row as a whole */
  char *reason;
} reject;

/* A row with an outcome, kept for the report file. */
typedef struct listed {
  size_t row;
  carnet_import_outcome what;
  carnet_id id;
  char *ref, *name, *fields, *reason; /* may be NULL */
} listed;

typedef struct job {
  carnet_replica *r;
  carnet_txn *t;
  const carnet__sheet *sh;
  carnet__imp_map map;
  carnet_import_options o;
  uint8_t key[CARNET_TEAM_BYTES];
  carnet_import_report rep;
  carnet__bulk bulk;      /* the rows' transactions: by size or time, or `batch` rows */
  carnet__bulkdup *dup;   /* the duplicate checks: they see the rows written before */
  uint64_t rows_in_batch; /* rows with an outcome since the last commit */
  const char **cells;     /* the row handed to on_row */
  reject *rejects;        /* only with a rejects file */
  size_t nrejects, rejects_cap;
  const carnet__csv_info *csv; /* a CSV file's encoding (NULL for XLSX) */
  size_t next_bad;             /* the first of csv->bad not yet reached */
  listed *list;                /* only with a report file */
  size_t nlist, list_cap;
  char region[3]; /* the replica's default phone region (--on-duplicate update compares in it) */
} job;

static char *dup_or_null(const char *s) {
  return s ? carnet__strdup(s) : NULL;
}

/* Keeps a row for the report file. Returns 0 or CARNET_ENOMEM. */
static int keep_listed(job *j, size_t row, carnet_import_outcome what, const carnet_id *id,
                       const carnet_record *rec, const char *fields, const char *reason) {
  if (j->nlist == j->list_cap) {
    size_t cap = j->list_cap ? j->list_cap * 2 : 256;
    listed *grown = carnet__realloc(j->list, cap * sizeof *grown);
    if (grown == NULL) return CARNET_ENOMEM;
    j->list = grown;
    j->list_cap = cap;
  }
  const char *name = rec ? carnet_record_str(rec, CARNET_F_NAME) : NULL;
  if (rec && name == NULL) name = carnet_record_str(rec, CARNET_F_COMPANY);
  listed *l = &j->list[j->nlist];
  memset(l, 0, sizeof *l);
  l->row = row;
  l->what = what;
  if (id) l->id = *id;
  l->ref = dup_or_null(rec ? carnet_record_str(rec, CARNET_F_REFCODE) : NULL);
  l->name = dup_or_null(name);
  l->fields = dup_or_null(fields);
  l->reason = dup_or_null(reason);
  j->nlist++;
  if ((rec && carnet_record_str(rec, CARNET_F_REFCODE) && l->ref == NULL) ||
      (name && l->name == NULL) || (fields && l->fields == NULL) || (reason && l->reason == NULL))
    return CARNET_ENOMEM;
  return 0;
}

/* --- outcomes --------------------------------------------------------------- */

/* Counts a row's outcome, tells on_row, and keeps a rejected row for the
 * rejects file. Returns 0, CARNET_ENOMEM, or what on_row returned. */
static int outcome(job *j, size_t row, carnet_import_outcome what, size_t col, const char *reason,
                   const carnet_id *id, const carnet_record *rec, const char *fields) {
  j->rep.rows++;
  j->rows_in_batch++;
  switch (what) {
  case CARNET_IMPORT_ROW_IMPORTED:
    j->rep.imported++;
    break;
  case CARNET_IMPORT_ROW_MERGED:
    j->rep.merged++;
    break;
  case CARNET_IMPORT_ROW_SKIPPED:
    j->rep.skipped++;
    break;
  case CARNET_IMPORT_ROW_REJECTED:
    j->rep.rejected++;
    break;
  case CARNET_IMPORT_ROW_UPDATED:
    j->rep.updated++;
    break;
  }
  if (j->o.report_path) {
    int rc = keep_listed(j, row, what, id, what == CARNET_IMPORT_ROW_IMPORTED ? NULL : rec, fields,
                         what == CARNET_IMPORT_ROW_REJECTED ? reason : NULL);
    if (rc) return rc;
  }
  if (what == CARNET_IMPORT_ROW_REJECTED && j->o.rejects_path) {
    if (j->nrejects == j->rejects_cap) {
      size_t cap = j->rejects_cap ? j->rejects_cap * 2 : 64;
      reject *grown = carnet__realloc(j->rejects, cap * sizeof *grown);
      if (grown == NULL) return CARNET_ENOMEM;
      j->rejects = grown;
      j->rejects_cap = cap;
    }
    char *copy = carnet__strdup(reason);
    if (copy == NULL) return CARNET_ENOMEM;
    j->rejects[j->nrejects++] = (reject){row, col, copy};
  }
  if (j->o.on_row == NULL) return 0;
  carnet_import_row info = {.outcome = what,
                            .line = carnet__sheet_line(j->sh, row),
                            .column = what == CARNET_IMPORT_ROW_REJECTED && col != SIZE_MAX
                                          ? carnet__sheet_get(j->sh, 0, col)
                                          : NULL,
                            .reason = what == CARNET_IMPORT_ROW_REJECTED ? reason : NULL,
                            .cells = j->cells,
                            .ncells = j->map.ncols};
  bool matched = what == CARNET_IMPORT_ROW_MERGED || what == CARNET_IMPORT_ROW_UPDATED ||
                 what == CARNET_IMPORT_ROW_SKIPPED;
  const char *ref = rec ? carnet_record_str(rec, CARNET_F_REFCODE) : NULL;
  if (matched) info.ref = ref ? ref : "";
  if (what == CARNET_IMPORT_ROW_MERGED || what == CARNET_IMPORT_ROW_UPDATED)
    info.fields = fields ? fields : "";
  if (id) info.id = *id;
  for (size_t c = 0; c < j->map.ncols; c++)
    j->cells[c] = carnet__sheet_get(j->sh, row, c);
  return j->o.on_row(j->o.ctx, &info);
}

/* --- one row -------------------------------------------------------------- */

/* Which column makes carnet_record_check fail: each mapped cell alone (with
 * a stand-in name, since a customer needs one). *found is SIZE_MAX when
 * only the row as a whole fails (no name). Errors: CARNET_ENOMEM. */
static int bad_column(job *j, size_t row, size_t *found) {
  carnet__imp_map one = j->map;
  int err = 0;
  *found = SIZE_MAX;
  if ((one.cols = carnet__calloc(j->map.ncols ? j->map.ncols : 1, sizeof *one.cols)) == NULL)
    return CARNET_ENOMEM;
  for (size_t col = 0; col < j->map.ncols && *found == SIZE_MAX && err == 0; col++) {
    if (carnet__sheet_get(j->sh, row, col)[0] == '\0') continue;
    memset(one.cols, 0, j->map.ncols * sizeof *one.cols);
    one.cols[col] = j->map.cols[col];
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    if (p == NULL) {
      err = CARNET_ENOMEM;
      break;
    }
    bool empty;
    size_t ec;
    char why[256];
    carnet__imp_target t = one.cols[col].target;
    int rc = carnet__imp_row_patch(&one, j->sh, row, NULL, p, &empty, &ec, why, sizeof why);
    if (rc == 0 && t != CARNET__IMP_NAME && t != CARNET__IMP_FIRST_NAME && t != CARNET__IMP_COMPANY)
      rc = carnet_patch_set(p, CARNET_F_NAME, "-");
    if (rc == CARNET_ENOMEM) err = rc;
    if (rc == 0 && !empty) {
      rc = carnet_record_check(j->t, p);
      if (rc == CARNET_ENOMEM)
        err = rc;
      else if (rc)
        *found = col;
    }
    carnet_patch_free(p);
  }
  carnet__free(one.cols);
  return err;
}

/* Fills customer `id` (stored as `rec`) with what the row has and it
 * lacks; *changed tells whether anything was written, `fields` what. */
static int merge_into(job *j, size_t row, const carnet_id *id, const carnet_record *rec,
                      bool *changed, char *fields, size_t flen) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  bool empty = true;
  size_t col;
  char why[512];
  int err = p ? 0 : CARNET_ENOMEM;
  *changed = false;
  if (err == 0) {
    int rc = carnet__imp_row_patch(&j->map, j->sh, row, rec, p, &empty, &col, why, sizeof why);
    /* A value the row could not convert was already refused by the check
     * of the whole row; what converts is merged. */
    if (rc == CARNET_ENOMEM)
      err = rc;
    else if (rc == 0 && !empty) {
      carnet__imp_patch_fields(p, fields, flen);
      err = carnet_record_update(j->t, id, p);
      *changed = err == 0;
    }
  }
  carnet_patch_free(p);
  return err;
}

/* Gives customer `id` (stored as `rec`) the row's values (`full`, the row
 * as a new customer) where they differ; *changed tells whether anything
 * was written, `fields` what. */
static int update_from(job *j, const carnet_id *id, const carnet_patch *full,
                       const carnet_record *rec, bool *changed, char *fields, size_t flen) {
  carnet_patch *q = carnet_patch_new(CARNET_KIND_CUSTOMER);
  int err =
      q ? carnet__imp_update_patch(full, rec, j->region, q, fields, flen, changed) : CARNET_ENOMEM;
  if (err == 0 && *changed) err = carnet_record_update(j->t, id, q);
  carnet_patch_free(q);
  return err;
}

static int commit(job *j);

/* Before the first duplicate lookup, and after another process wrote
 * between two groups, the blind index is behind (engine/dupes/bulkdup.h):
 * the group is committed and the index caught up in transactions of its
 * own (bounded, and kept if the import dies: a rerun after a crash does
 * not catch up again what it did), then a new group begins. A dry run,
 * one transaction, lets the lookup catch up inside it. */
static int index_ready(job *j) {
  if (j->o.dry_run || !carnet__bulkdup_stale(j->dup, j->t)) return 0;
  int err = commit(j);
  if (err == 0) err = carnet__bulkdup_catchup(j->dup);
  if (err == 0 && (err = carnet__bulk_txn(&j->bulk, carnet__now_ms(j->r), &j->t)) == 0)
    carnet__bulkdup_watch(j->dup, j->t);
  return err;
}

/* One data row; returns 0 or an error (or on_row's value) that stops the
 * import. */
static int import_row(job *j, size_t row) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_record *rec = NULL;
  carnet_id id, match;
  bool empty = true, found = false, changed = false, opposed = false;
  size_t col = 0;
  char why[512];
  int err = 0;
  if (p == NULL) return CARNET_ENOMEM;
  carnet__clear_err(j->r);
  /* A row in the other encoding than the file's (io/csv.h) is not imported
   * garbled: rejected, with its line, for the user to fix. */
  while (j->csv && j->next_bad < j->csv->nbad && j->csv->bad[j->next_bad].row < row)
    j->next_bad++;
  if (j->csv && j->next_bad < j->csv->nbad && j->csv->bad[j->next_bad].row == row) {
    unsigned byte = j->csv->bad[j->next_bad].byte;
    if (j->csv->cp1252)
      snprintf(why, sizeof why,
               "UTF-8 text (byte 0x%02X) in a file read as Windows-1252: this row was saved in "
               "another encoding; not imported (fix it, or save the whole file as UTF-8, and "
               "import it again)",
               byte);
    else
      snprintf(why, sizeof why,
               "a byte that is not UTF-8 (0x%02X) in a UTF-8 file: this row was saved in another "
               "encoding (Windows-1252?); not imported (fix it and import it again)",
               byte);
    j->rep.bad_encoding++;
    err = outcome(j, row, CARNET_IMPORT_ROW_REJECTED, SIZE_MAX, why, NULL, NULL, NULL);
    goto done;
  }
  int rc = carnet__imp_row_patch(&j->map, j->sh, row, NULL, p, &empty, &col, why, sizeof why);
  if (rc == CARNET_EINVAL) {
    err = outcome(j, row, CARNET_IMPORT_ROW_REJECTED, col, why, NULL, NULL, NULL);
    goto done;
  }
  if (rc) {
    err = rc;
    goto done;
  }
  if (empty) goto done; /* a blank row: no outcome */
  if ((err = carnet_record_check(j->t, p)) != 0) {
    if (err != CARNET_EINVAL && err != CARNET_ENOTFOUND) goto done;
    snprintf(why, sizeof why, "%s", carnet_replica_errmsg(j->r));
    if ((err = bad_column(j, row, &col)) == 0)
      err = outcome(j, row, CARNET_IMPORT_ROW_REJECTED, col, why, NULL, NULL, NULL);
    carnet__clear_err(j->r);
    goto done;
  }
  if ((err = carnet__imp_row_opposed(&j->map, j->sh, row, j->dup, j->t, &match, &opposed)))
    goto done;
  if (opposed) {
    char hex[CARNET_ID_HEX_LEN + 1];
    carnet_id_format(&match, hex);
    snprintf(why, sizeof why,
             "an e-mail or phone of a person erased at their request (certificate %s): not "
             "imported; add them by hand with their agreement",
             hex);
    err = outcome(j, row, CARNET_IMPORT_ROW_REJECTED, 0, why, NULL, NULL, NULL);
    goto done;
  }
  if ((err = carnet__imp_row_id(&j->map, j->sh, row, j->key, sizeof j->key, &id))) goto done;
  carnet_import_dup mode = j->o.on_duplicate;
  err = carnet_record_get(j->r, &id, &rec);
  if (err == 0) { /* this very row was imported before (or an export's id) */
    match = id;
    found = true;
    if (carnet_record_deleted(rec) || mode == CARNET_IMPORT_DUP_CREATE)
      mode = CARNET_IMPORT_DUP_SKIP;
  } else if (err == CARNET_ENOTFOUND) {
    err = 0;
    if (mode != CARNET_IMPORT_DUP_CREATE &&
        ((err = index_ready(j)) ||
         (err = carnet__imp_row_match(&j->map, j->sh, row, j->dup, j->t, &match, &found))))
      goto done;
    if (found && (err = carnet_record_get(j->r, &match, &rec))) goto done;
  } else {
    goto done;
  }
  char fields[256] = "";
  if (!found) {
    if ((err = carnet_record_create(j->t, p, &id, NULL)) == 0)
      err = outcome(j, row, CARNET_IMPORT_ROW_IMPORTED, SIZE_MAX, NULL, &id, NULL, NULL);
  } else if (mode == CARNET_IMPORT_DUP_MERGE) {
    if ((err = merge_into(j, row, &match, rec, &changed, fields, sizeof fields)) == 0)
      err = outcome(j, row, changed ? CARNET_IMPORT_ROW_MERGED : CARNET_IMPORT_ROW_SKIPPED,
                    SIZE_MAX, NULL, &match, rec, changed ? fields : NULL);
  } else if (mode == CARNET_IMPORT_DUP_UPDATE) {
    if ((err = update_from(j, &match, p, rec, &changed, fields, sizeof fields)) == 0)
      err = outcome(j, row, changed ? CARNET_IMPORT_ROW_UPDATED : CARNET_IMPORT_ROW_SKIPPED,
                    SIZE_MAX, NULL, &match, rec, changed ? fields : NULL);
  } else {
    err = outcome(j, row, CARNET_IMPORT_ROW_SKIPPED, SIZE_MAX, NULL, &match, rec, NULL);
  }
done:
  carnet_record_free(rec);
  carnet_patch_free(p);
  return err;
}

/* --- the loop -------------------------------------------------------------- */

/* Every 256 rows: often enough for a progress bar, rarely enough to cost
 * nothing. */
#define PROGRESS_EVERY 256u

/* An import holds the whole decoded file in memory besides its group's
 * dirty pages and the duplicate checks' table (~9 MB at 100,000 rows,
 * counted in the bound as pages): a smaller page bound than other bulk
 * writers keeps it under 64 MB of private memory at 100,000 rows. */
#define IMPORT_GROUP_PAGES 8192u
#define IMPORT_GROUP_PAGES_MIN 2048u

/* The page bound of the next group: IMPORT_GROUP_PAGES less the table's. */
static size_t group_pages(const job *j) {
  size_t table = carnet__bulkdup_bytes(j->dup) / 4096;
  return table + IMPORT_GROUP_PAGES_MIN < IMPORT_GROUP_PAGES ? IMPORT_GROUP_PAGES - table
                                                             : IMPORT_GROUP_PAGES_MIN;
}

static int commit(job *j) {
  if (j->t) carnet__bulkdup_commit(j->dup, j->t);
  int err = carnet__bulk_commit(&j->bulk);
  j->t = NULL;
  if (err == 0) {
    j->rep.committed += j->rows_in_batch;
    j->rows_in_batch = 0;
  }
  return err;
}

static int run_rows(job *j) {
  size_t n = carnet__sheet_rows(j->sh), stopped = n > 1 ? 1 : 0;
  /* A dry run is one transaction; `batch` rows per transaction when set;
   * else by size or time (engine/sync/bulk.h): each commit of rows with
   * random ids rewrites a large share of the tree's pages. */
  if (j->o.dry_run || j->o.batch)
    carnet__bulk_init(&j->bulk, j->r, SIZE_MAX, UINT32_MAX, SIZE_MAX,
                      j->o.dry_run ? 0 : (unsigned)j->o.batch);
  else
    carnet__bulk_init(&j->bulk, j->r, 0, 0, IMPORT_GROUP_PAGES, 0);
  int err = carnet__bulk_txn(&j->bulk, carnet__now_ms(j->r), &j->t);
  /* The rows' customers are seen by the duplicate checks of the rows after
   * them (engine/dupes/bulkdup.h). */
  if (err == 0) carnet__bulkdup_watch(j->dup, j->t);
  for (size_t row = 1; err == 0 && row < n; row++) {
    stopped = row;
    if ((err = import_row(j, row))) break;
    if (j->o.on_progress && row % PROGRESS_EVERY == 0) j->o.on_progress(j->o.ctx, row, n - 1);
    if (j->o.dry_run) continue;
    carnet__bulk_add(&j->bulk, 0, 1);
    if (!j->o.batch) j->bulk.max_pages = group_pages(j);
    uint64_t now = carnet__now_ms(j->r);
    if (carnet__bulk_due(&j->bulk, now) && (err = commit(j)) == 0 &&
        (err = carnet__bulk_txn(&j->bulk, now, &j->t)) == 0)
      carnet__bulkdup_watch(j->dup, j->t);
  }
  if (j->t && (err || j->o.dry_run)) {
    carnet__bulk_abort(&j->bulk);
    j->t = NULL;
  } else if (j->t) {
    err = commit(j);
  }
  if (err == 0 && j->o.on_progress) j->o.on_progress(j->o.ctx, n ? n - 1 : 0, n ? n - 1 : 0);
  if (err) {
    j->rep.stopped_line = carnet__sheet_line(j->sh, stopped);
    if (carnet_replica_errmsg(j->r)[0] == '\0')
      carnet__fail(j->r, err, "%s",
                   err < 0 ? carnet_error_message(err) : "stopped by the caller (on_row)");
  }
  return err;
}

/* --- rejects --------------------------------------------------------------- */

/* Writes the CSV bytes in `b` (released) to a private file at `path`
 * (`err`: an error making them, reported instead). */
static int write_file(job *j, const char *path, carnet__iobuf *b, int err) {
  carnet__tmpfile f;
  if (err) err = carnet__fail(j->r, err, "out of memory");
  if (err == 0 && (err = carnet__tmpfile_open(j->r, &f, path)) == 0) {
    if ((err = carnet__tmpfile_write(j->r, &f, b->data, b->len)) == 0)
      err = carnet__tmpfile_commit(j->r, &f);
    else
      carnet__tmpfile_discard(&f);
  }
  carnet__iobuf_free(b);
  return err;
}

static int write_rejects(job *j, const char *path, char sep) {
  carnet__iobuf b = {0};
  const carnet__sheet *sh = j->sh;
  size_t w = carnet__sheet_width(sh, 0);
  const char **cells = carnet__calloc(w + 3, sizeof *cells);
  char line[24];
  int err = 0;
  if (cells == NULL) return carnet__fail(j->r, CARNET_ENOMEM, "out of memory");
  cells[0] = "line", cells[1] = "column", cells[2] = "reason";
  for (size_t c = 0; c < w; c++)
    cells[3 + c] = carnet__sheet_get(sh, 0, c);
  err = carnet__csv_encode_row(&b, cells, w + 3, sep);
  for (size_t i = 0; i < j->nrejects && err == 0; i++) {
    const reject *rj = &j->rejects[i];
    snprintf(line, sizeof line, "%lu", (unsigned long)carnet__sheet_line(sh, rj->row));
    cells[0] = line;
    cells[1] = rj->col == SIZE_MAX ? "" : carnet__sheet_get(sh, 0, rj->col);
    cells[2] = rj->reason;
    for (size_t c = 0; c < w; c++)
      cells[3 + c] = carnet__sheet_get(sh, rj->row, c);
    err = carnet__csv_encode_row(&b, cells, 3 + w, sep);
  }
  carnet__free(cells);
  return write_file(j, path, &b, err);
}

static const char *outcome_name(carnet_import_outcome what) {
  switch (what) {
  case CARNET_IMPORT_ROW_IMPORTED:
    return "imported";
  case CARNET_IMPORT_ROW_MERGED:
    return "merged";
  case CARNET_IMPORT_ROW_SKIPPED:
    return "skipped";
  case CARNET_IMPORT_ROW_REJECTED:
    return "rejected";
  case CARNET_IMPORT_ROW_UPDATED:
    return "updated";
  }
  return "?";
}

/* Every row with an outcome and the customer it went to or matched. */
static int write_report(job *j, const char *path, char sep) {
  carnet__iobuf b = {0};
  static const char *const head[] = {"line", "outcome", "reference", "id",
                                     "name", "fields",  "reason"};
  int err = carnet__csv_encode_row(&b, head, 7, sep);
  for (size_t i = 0; i < j->nlist && err == 0; i++) {
    const listed *l = &j->list[i];
    char line[24], hex[CARNET_ID_HEX_LEN + 1] = "";
    snprintf(line, sizeof line, "%lu", (unsigned long)carnet__sheet_line(j->sh, l->row));
    if (l->what != CARNET_IMPORT_ROW_REJECTED) carnet_id_format(&l->id, hex);
    const char *cells[] = {line,
                           outcome_name(l->what),
                           l->ref ? l->ref : "",
                           hex,
                           l->name ? l->name : "",
                           l->fields ? l->fields : "",
                           l->reason ? l->reason : ""};
    err = carnet__csv_encode_row(&b, cells, 7, sep);
  }
  return write_file(j, path, &b, err);
}

/* --- the calls ---------------------------------------------------------------- */

/* The caller's options, as much of them as its size says, the rest zero
 * (a program built against an older header passes a smaller struct), then
 * checked and given their defaults. */
static int load_options(carnet_replica *r, const carnet_import_options *in,
                        carnet_import_options *o) {
  memset(o, 0, sizeof *o);
  if (in) {
    if (in->size < sizeof(size_t))
      return carnet__fail(r, CARNET_EMISUSE,
                          "carnet_import_options has no size: declare it with "
                          "CARNET_IMPORT_OPTIONS_INIT");
    memcpy(o, in, in->size < sizeof *o ? in->size : sizeof *o);
  }
  o->size = sizeof *o;
  if (o->format != CARNET_SHEET_AUTO && o->format != CARNET_SHEET_CSV &&
      o->format != CARNET_SHEET_XLSX)
    return carnet__fail(r, CARNET_EINVAL, "unknown format %d: csv or xlsx", (int)o->format);
  if (o->on_duplicate != CARNET_IMPORT_DUP_SKIP && o->on_duplicate != CARNET_IMPORT_DUP_MERGE &&
      o->on_duplicate != CARNET_IMPORT_DUP_CREATE && o->on_duplicate != CARNET_IMPORT_DUP_UPDATE)
    return carnet__fail(r, CARNET_EINVAL,
                        "unknown duplicate mode %d: skip, merge, update or create",
                        (int)o->on_duplicate);
  if (o->batch > CARNET_IMPORT_BATCH_MAX)
    return carnet__fail(r, CARNET_EINVAL, "invalid batch %zu: 1 to %u rows", o->batch,
                        CARNET_IMPORT_BATCH_MAX);
  if (o->nmaps && o->maps == NULL)
    return carnet__fail(r, CARNET_EMISUSE, "carnet_import_options: nmaps without maps");
  for (size_t i = 0; i < o->nmaps; i++)
    if (o->maps[i] == NULL)
      return carnet__fail(r, CARNET_EMISUSE, "carnet_import_options: maps[%zu] is NULL", i);
  return 0;
}

static void fill_report(carnet_import_report *rep, const carnet_import_report *full) {
  if (rep == NULL) return;
  size_t size = rep->size < sizeof *full ? rep->size : sizeof *full;
  memcpy(rep, full, size);
  rep->size = size;
}

/* Checks what must hold before anything is read, and zeroes the report so
 * that it says "nothing done" whatever fails next. */
static int check_start(carnet_replica *r, carnet_import_report *rep) {
  carnet_import_report zero = {.size = sizeof zero};
  if (rep && rep->size < sizeof(size_t))
    return carnet__fail(r, CARNET_EMISUSE,
                        "carnet_import_report has no size: declare it with "
                        "CARNET_IMPORT_REPORT_INIT");
  fill_report(rep, &zero);
  /* The import begins and commits transactions of its own. */
  if (carnet__txn_open(r))
    return carnet__fail(r, CARNET_EMISUSE,
                        "a transaction is open on this handle: commit or "
                        "abort it before importing");
  return 0;
}

/* csv or xlsx: the option, else the file name, else the first bytes (a
 * zip). */
static carnet_sheet_format format_of(carnet_sheet_format given, const char *name, const char *buf,
                                     size_t len) {
  const char *dot = name ? strrchr(name, '.') : NULL;
  if (given != CARNET_SHEET_AUTO) return given;
  if (dot && (strcasecmp(dot, ".xlsx") == 0 || strcasecmp(dot, ".xlsm") == 0))
    return CARNET_SHEET_XLSX;
  if (dot && (strcasecmp(dot, ".csv") == 0 || strcasecmp(dot, ".txt") == 0 ||
              strcasecmp(dot, ".tsv") == 0))
    return CARNET_SHEET_CSV;
  return len >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0 ? CARNET_SHEET_XLSX : CARNET_SHEET_CSV;
}

/* Decodes `len` bytes then imports them. `owned` (may be NULL) is the
 * block holding them, released as soon as they are decoded: the table
 * holds its own copy, and a large file need not be held twice while its
 * rows are written. */
static int import_bytes(carnet_replica *r, const char *data, size_t len, char *owned,
                        const char *name, const carnet_import_options *o,
                        carnet_import_report *report) {
  carnet__sheet *sh = NULL;
  carnet__csv_info info = {',', false, false, 0, 0, NULL, 0};
  uint8_t pk[CARNET_PK_BYTES];
  char why[512] = "";
  job j = {.r = r, .o = *o};
  int err;
  j.rep.size = sizeof j.rep;
  j.rep.format = format_of(o->format, name, data, len);
  err = j.rep.format == CARNET_SHEET_XLSX
            ? carnet__xlsx_decode(data, len, &sh, why, sizeof why)
            : carnet__csv_decode(data, len, &sh, &info, why, sizeof why);
  carnet__free(owned);
  j.rep.cp1252 = info.cp1252;
  if (err) {
    const char *detail = why[0] ? why : carnet_error_message(err);
    if (name)
      carnet__fail(r, err, "%s: %s; nothing was imported", name, detail);
    else
      carnet__fail(r, err, "%s; nothing was imported", detail);
    goto done;
  }
  j.sh = sh;
  if ((err = carnet_replica_get_region(r, j.region))) goto done;
  if (j.rep.format == CARNET_SHEET_CSV) j.csv = &info;
  if (info.nbad && info.bad[0].row == 0) {
    /* A header in another encoding would map its columns wrong, silently. */
    err = carnet__fail(r, CARNET_EINVAL,
                       "%s%sline %u (the header): %s (byte 0x%02X); save the file as UTF-8; "
                       "nothing was imported",
                       name ? name : "", name ? ": " : "", (unsigned)carnet__sheet_line(sh, 0),
                       info.cp1252 ? "UTF-8 text in a file read as Windows-1252"
                                   : "a byte that is not UTF-8 in a UTF-8 file",
                       info.bad[0].byte);
    goto done;
  }
  if ((err = carnet__imp_map_header(r, sh, o->maps, o->nmaps, o->on_column, o->ctx, &j.map)))
    goto done;
  j.rep.source = j.map.source;
  if ((err = carnet_replica_get_identity(r, pk, j.key))) {
    char detail[CARNET__ERRMSG_MAX];
    snprintf(detail, sizeof detail, "%s",
             carnet_replica_errmsg(r)[0] ? carnet_replica_errmsg(r) : carnet_error_message(err));
    carnet__fail(r, err, "reading the replica's identity: %s", detail);
    goto done;
  }
  if ((j.cells = carnet__calloc(j.map.ncols ? j.map.ncols : 1, sizeof *j.cells)) == NULL ||
      carnet__bulkdup_new(r, &j.dup) != 0) {
    err = carnet__fail(r, CARNET_ENOMEM, "out of memory");
    goto done;
  }
  if ((err = run_rows(&j))) goto done;
  if (o->rejects_path && j.nrejects) err = write_rejects(&j, o->rejects_path, info.sep);
  /* A workbook's report: ';', what a spreadsheet opens on a French system. */
  if (err == 0 && o->report_path)
    err = write_report(&j, o->report_path, j.rep.format == CARNET_SHEET_XLSX ? ';' : info.sep);
  if (err == 0) carnet__clear_err(r);
done:
  fill_report(report, &j.rep);
  for (size_t i = 0; i < j.nrejects; i++)
    carnet__free(j.rejects[i].reason);
  for (size_t i = 0; i < j.nlist; i++) {
    listed *l = &j.list[i];
    carnet__free(l->ref), carnet__free(l->name), carnet__free(l->fields), carnet__free(l->reason);
  }
  carnet__free(j.list);
  carnet__free(j.rejects);
  carnet__free(j.cells);
  carnet__bulkdup_free(j.dup);
  carnet__imp_map_free(&j.map);
  carnet__sheet_free(sh);
  carnet__csv_info_free(&info);
  return err;
}

int carnet_import_file(carnet_replica *r, const char *path, const carnet_import_options *opts,
                       carnet_import_report *report) {
  carnet_import_options o;
  char *buf = NULL;
  size_t len = 0;
  int err;
  if (r == NULL) return CARNET_EMISUSE;
  carnet__clear_err(r);
  if (path == NULL) return carnet__fail(r, CARNET_EMISUSE, "carnet_import_file: no path");
  if ((err = check_start(r, report)) || (err = load_options(r, opts, &o))) return err;
  if ((err = carnet__file_read(r, path, CARNET_IMPORT_FILE_MAX, &buf, &len))) return err;
  return import_bytes(r, buf, len, buf, path, &o, report);
}

int carnet_import_buffer(carnet_replica *r, const void *data, size_t len, const char *name,
                         const carnet_import_options *opts, carnet_import_report *report) {
  carnet_import_options o;
  int err;
  if (r == NULL) return CARNET_EMISUSE;
  carnet__clear_err(r);
  if (data == NULL && len > 0)
    return carnet__fail(r, CARNET_EMISUSE, "carnet_import_buffer: no data");
  if ((err = check_start(r, report)) || (err = load_options(r, opts, &o))) return err;
  if (len > CARNET_IMPORT_FILE_MAX)
    return carnet__fail(r, CARNET_ELIMIT, "%s is too big (%zu bytes; at most %llu)",
                        name ? name : "the data", len, CARNET_IMPORT_FILE_MAX);
  return import_bytes(r, data ? data : "", len, NULL, name, &o, report);
}
