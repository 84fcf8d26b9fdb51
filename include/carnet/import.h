/* carnet/import.h - the customer book to and from spreadsheet files: import
 * customers from a CSV or Excel (.xlsx) file, export customers (or
 * contacts, documents, actions, reminders) to one. These are the calls
 * behind `carnet import` and `carnet export`, with the same checks, rejects
 * and counts.
 *
 * Import, in order:
 *
 *   read the file (or take the caller's bytes) -> decode it whole (CSV:
 *   UTF-8 or Windows-1252, separator guessed; XLSX: the first sheet)
 *   -> map the header row onto fields -> for each row: build the customer,
 *   check it like carnet_record_create would, look for the same row
 *   imported before and for a customer with the same SIRET, e-mail or
 *   phone -> create, merge or skip -> commit every `batch` rows
 *   -> rejects file -> report
 *
 * - Mapping: columns are recognised by their French or English name (Nom,
 *   Prénom, Raison sociale, Téléphone, Portable, E-mail, Courriel, CP, Code
 *   postal, Ville, SIRET, TVA...; case, accents, spaces and punctuation do
 *   not matter) and by the names an export writes; `maps` names the others.
 *   The exports of Dolibarr (third parties: "Nom du tiers", "Code client",
 *   "Client" 0-3, "Fournisseur", "Id. prof. 2 (SIRET)", "Numéro de TVA",
 *   "Note privée"...) and INFast (customers) are recognised by their
 *   columns (report.source names the application); their columns Carnet
 *   has no field for are left out on purpose (carnet_import_column.ignored).
 * - Values: a country may be its French or English name (ICU's locale
 *   data: "Allemagne", "United Kingdom") or its ISO code; a date custom
 *   field may be written day first ("15/03/2021", "15/03/2021 10:42"); a
 *   file's own customer code ("Code client", "Référence client": the field
 *   code) is kept as the custom field code_client.
 *   Fields: name, first_name, company, type, roles, emails, phones, mobile,
 *   work_phone, home_phone, siret, vat_id, street, street2, postcode, city,
 *   country, geo, tags, sales_rep, channel, discount, conflict, notes,
 *   custom:NAME[:TYPE], code (kept as custom:code_client), supplier (a
 *   yes/no column: the role supplier), client_kind (Dolibarr's 0 none, 1
 *   customer, 2 prospect, 3 both), id, and ignore. Several e-mails, phones or tags
 *   share a cell separated by '|' (or ',' ';').
 * - Rows: each value is converted as `carnet customer add` converts its
 *   flags, then the whole row is checked by the engine. A bad row is
 *   rejected (reported with its line, the column at fault and the reason)
 *   and the others go on. A row holding an e-mail or phone of a person
 *   erased at their request (carnet/erase.h) is rejected: they are not
 *   brought back by a file.
 * - Reruns: a row's id comes from the file's id column, else from its
 *   content (a keyed hash of its mapped values, keyed with the team id), so
 *   importing the same file twice adds nothing, on any replica of the team.
 * - Writes: the whole file is decoded before the first write, so a
 *   malformed file writes nothing. Rows are then written in transactions
 *   of `batch` rows, or by default of about a quarter of a second of rows
 *   (fewer, larger commits write far fewer bytes); when the call fails
 *   after a commit, the committed
 *   batches stay (report.committed counts their rows) and the same call
 *   again finishes the job (their rows are skipped). A batch at least as
 *   large as the file makes the import all or nothing.
 *
 * Export writes a header row then one row per record, in id order.
 * Customer exports have exactly the columns import reads back (id, ref,
 * type, name, company, roles, emails, phones as "mobile:+33...", tags,
 * siret, vat_id, street, postcode, city, country, geo, sales_rep, channel,
 * discount in percent, conflict, notes, then "custom:NAME:TYPE" per custom
 * field in use): export then import gives the same customers, with the
 * same ids (the reference code is given anew by the importing replica).
 * Other kinds get "id" and one column per field of their catalogue. CSV is
 * UTF-8 with a byte order mark and ';' between fields (what Excel opens on a
 * French system). JSON is not a format of this library: the records are
 * there to serialise with carnet_record_list (carnet/record.h).
 *
 * Administrator role: `carnet import` and `carnet export` refuse to run on
 * a member replica (carnet/replica.h, carnet_replica_get_role). That is the
 * command's policy, not the library's: an app that wants the same guard
 * checks the role before calling.
 *
 * Threads: a call runs on the calling thread and uses `r` throughout (a
 * carnet_replica belongs to one thread at a time). Callbacks run on that
 * thread, inside the import's write transaction: they must not use `r`.
 *
 * Structs that may grow (options, reports) start with their size: declare
 * them with their _INIT macro, which records the size your program was
 * compiled with, so that a newer library reads and writes only what your
 * program knows. Fields added later default to zero.
 */
#ifndef CARNET_IMPORT_H
#define CARNET_IMPORT_H

#include "carnet/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/record.h"
#include "carnet/replica.h"
#include "carnet/verify.h" /* carnet_progress_fn */

CARNET_BEGIN_DECLS

/* Spreadsheet file formats. */
typedef enum carnet_sheet_format {
  CARNET_SHEET_AUTO = 0, /* import: from the name (.xlsx, .xlsm / .csv, .txt, .tsv), else
                            the first bytes (a zip is a workbook); export: from the path
                            (.xlsx), else CSV */
  CARNET_SHEET_CSV = 1,
  CARNET_SHEET_XLSX = 2,
} carnet_sheet_format;

/* Limits (STYLE 11). */
#define CARNET_IMPORT_FILE_MAX (1024ull << 20) /* bytes of a file or buffer to import */
#define CARNET_IMPORT_BATCH_DEFAULT                                                                \
  1000u /* rows per transaction of the former default                                              \
           (batch 0 now groups by size or time) */
#define CARNET_IMPORT_BATCH_MAX 100000u

/* --- Import ---------------------------------------------------------------- */

/* What to do with a row whose customer is already in the book (same SIRET,
 * one of its e-mails or phones, compared in normal form). A row imported
 * before (same row id) is never created again, whatever the mode. */
typedef enum carnet_import_dup {
  CARNET_IMPORT_DUP_SKIP = 0,   /* count it skipped (the default) */
  CARNET_IMPORT_DUP_MERGE = 1,  /* fill what the customer lacks: empty fields, e-mails,
                                   phones, tags it has not; a merge that adds nothing is a
                                   skip */
  CARNET_IMPORT_DUP_CREATE = 2, /* create another customer anyway */
  CARNET_IMPORT_DUP_UPDATE = 3, /* the file's non-empty values replace the customer's: a
                                   scalar takes the cell's value, a set (e-mails, phones,
                                   tags, roles) becomes the cell's elements, a custom field
                                   its value; empty cells change nothing, and only the
                                   values that differ are written (an export edited in a
                                   spreadsheet changes what was edited); an update that
                                   changes nothing is a skip */
} carnet_import_dup;

/* What became of a row. */
typedef enum carnet_import_outcome {
  CARNET_IMPORT_ROW_IMPORTED = 1, /* a new customer */
  CARNET_IMPORT_ROW_MERGED = 2,   /* an existing customer was filled */
  CARNET_IMPORT_ROW_SKIPPED = 3,  /* already there: nothing written */
  CARNET_IMPORT_ROW_REJECTED = 4, /* a value or the row is not valid: nothing written */
  CARNET_IMPORT_ROW_UPDATED = 5,  /* an existing customer took the file's values */
} carnet_import_outcome;

/* One column of the file's header and where it goes, for on_column. New
 * fields may be appended. */
typedef struct carnet_import_column {
  size_t index;       /* 0 for the first column */
  const char *header; /* the header cell as read ("" when empty) */
  const char *field;  /* the field it is read into ("name", "emails", "custom:size:number",
                         "id"; "ref" for a reference code, which the importing replica
                         gives anew), or NULL when the column is not imported */
  bool mapped;        /* placed by a `maps` pair rather than recognised by its name */
  bool ignored;       /* field NULL on purpose: a `maps` pair COLUMN=ignore, or a column of
                         a recognised export (report.source) that has no customer field
                         (Dolibarr's "Fax"): nothing to warn about */
} carnet_import_column;

/* One row and its outcome, for on_row. The strings and cells live until
 * the callback returns. New fields may be appended. */
typedef struct carnet_import_row {
  carnet_import_outcome outcome;
  uint64_t line;            /* where the row starts in the file: CSV line, XLSX row number */
  const char *column;       /* rejected: the header of the column at fault, NULL when it is the
                               row as a whole (no name); NULL otherwise */
  const char *reason;       /* rejected: why ("invalid email 'jean@'"); NULL otherwise */
  carnet_id id;             /* imported: the new customer; merged: the customer filled;
                               updated: the customer changed; skipped: the customer it
                               matched; rejected: zeros */
  const char *const *cells; /* the row's cells as read, aligned with the header */
  size_t ncells;            /* the header's width */
  const char *ref;          /* merged, updated, skipped: the matched customer's reference
                               code ("" when it has none); NULL otherwise */
  const char *fields;       /* merged, updated: the fields written, comma-separated
                               ("city,phones"); NULL otherwise */
} carnet_import_row;

/* Brief: called once per header column, before the first row. */
typedef void carnet_import_column_fn(void *ctx, const carnet_import_column *col);
/* Brief: called once per row with an outcome (blank rows have none), in
 * file order, as each row is decided. Return 0 to go on; a non-zero value
 * stops the import like an error (the open batch is not written) and is
 * returned by the import call. */
typedef int carnet_import_row_fn(void *ctx, const carnet_import_row *row);

typedef struct carnet_import_options {
  size_t size;                /* set by CARNET_IMPORT_OPTIONS_INIT */
  carnet_sheet_format format; /* CARNET_SHEET_AUTO: see there */
  const char *const *maps;    /* "COLUMN=FIELD" pairs (FIELD "ignore" leaves the column
                                 out), applied before the automatic names; COLUMN is
                                 compared like header names */
  size_t nmaps;
  carnet_import_dup on_duplicate;
  bool dry_run;                       /* check and count everything, write nothing: every row
                                         in one transaction, aborted at the end */
  size_t batch;                       /* rows per transaction; 0: by size or time (a
                                         transaction of ~250 ms of rows, or ~32 MiB of
                                         pages written, whichever first) */
  const char *rejects_path;           /* when not NULL and rows are rejected: write them to this
                                         CSV file (line, column, reason, then the row's cells;
                                         the input's separator), mode 0600, under a temporary
                                         name renamed once complete */
  carnet_import_column_fn *on_column; /* may be NULL */
  carnet_import_row_fn *on_row;       /* may be NULL */
  carnet_progress_fn *on_progress;    /* may be NULL: (data rows done, data rows in the file),
                                         every few hundred rows and once at the end; `done`
                                         never decreases */
  void *ctx;                          /* passed to the callbacks */
  const char *report_path;            /* when not NULL: write every row with an outcome to this CSV
                                         file (line, outcome, customer reference, customer id, fields
                                         written, reason; the input's separator), mode 0600, under a
                                         temporary name renamed once complete; after a dry run too */
} carnet_import_options;

#define CARNET_IMPORT_OPTIONS_INIT CARNET__SIZED(carnet_import_options)

typedef struct carnet_import_report {
  size_t size;                /* set by CARNET_IMPORT_REPORT_INIT */
  carnet_sheet_format format; /* the format read */
  bool cp1252;                /* a CSV file read as Windows-1252 (it is not UTF-8): say so
                                 to the user, accented letters are a guess */
  uint64_t rows;              /* data rows with an outcome (blank rows have none) */
  uint64_t imported, merged, skipped, rejected; /* their outcomes (and `updated` below) */
  uint64_t committed;    /* rows whose outcome is durable: all of them after a
                            successful run (none in a dry run) */
  uint64_t stopped_line; /* when the call failed during the rows: the line of the row
                            it stopped at; 0 otherwise */
  uint64_t bad_encoding; /* rejected rows (counted in `rejected`) whose bytes are in another
                            encoding than the rest of the CSV file: the stray bytes of a
                            UTF-8 file, or UTF-8 text in a file read as Windows-1252 (a
                            file is never re-read whole for a few bytes) */
  uint64_t updated;      /* rows whose customer took the file's values (DUP_UPDATE) */
  const char *source;    /* the application whose export was recognised by its columns
                            ("Dolibarr", "INFast"; static), or NULL */
} carnet_import_report;

#define CARNET_IMPORT_REPORT_INIT CARNET__SIZED(carnet_import_report)

/* Brief: import the customers of the CSV or XLSX file at `path` into `r`
 * (see the top of this header). `opts` NULL: the defaults. `report` (may
 * be NULL) is filled whether the call succeeds or fails: on failure it
 * counts the rows decided before it stopped. Rows rejected are not an
 * error: the call returns 0 and report->rejected counts them.
 * After the call nothing of `opts` is kept. On error the replica's errmsg
 * says what and where ("clients.csv: line 3: a quoted field is never
 * closed (a missing '"'); nothing was imported").
 * Errors:
 * - nothing was written (fix the file or the options and call again):
 *   CARNET_ENOTFOUND (no such file), CARNET_EPERM (the file cannot be read:
 *   check its permissions), CARNET_EINVAL (not a regular file; a malformed
 *   or empty file; no column holds a name or a company; a `maps` pair that
 *   is malformed, names an unknown field or a column the file lacks; an
 *   option out of range), CARNET_ELIMIT (over CARNET_IMPORT_FILE_MAX bytes,
 *   or a table limit: 1024 columns, 2,000,000 rows, 1 MiB a cell),
 *   CARNET_EMISUSE (`r` or `path` NULL, `opts` or `report` without its
 *   size, a transaction open on `r`: a bug in the caller);
 * - during the rows (report->stopped_line says where; the committed
 *   batches stay, report->committed counts their rows; call again to
 *   finish, the rows already imported are skipped): CARNET_EIO,
 *   CARNET_ENOSPC (free space first), CARNET_ENOMEM, CARNET_ECORRUPT (a
 *   stored customer fails validation: run `carnet check`), or the non-zero
 *   value on_row returned;
 * - after the rows, every row imported: CARNET_ENOTFOUND, CARNET_EPERM,
 *   CARNET_ENOSPC or CARNET_EIO when the rejects file or the report file
 *   cannot be written. */
CARNET_API int carnet_import_file(carnet_replica *r, const char *path,
                                  const carnet_import_options *opts, carnet_import_report *report);

/* Brief: carnet_import_file on `len` bytes the caller holds (an upload, a
 * mail attachment). `name` (may be NULL) is the file's name: it chooses the
 * format when opts->format is CARNET_SHEET_AUTO and names the data in
 * messages. The bytes are only read, during the call.
 * Errors: as carnet_import_file, without the file's own (CARNET_ENOTFOUND,
 * CARNET_EPERM, not a regular file); `data` NULL with `len` > 0 is
 * CARNET_EMISUSE. */
CARNET_API int carnet_import_buffer(carnet_replica *r, const void *data, size_t len,
                                    const char *name, const carnet_import_options *opts,
                                    carnet_import_report *report);

/* --- Export ---------------------------------------------------------------- */

typedef struct carnet_export_options {
  size_t size;                     /* set by CARNET_EXPORT_OPTIONS_INIT */
  carnet_sheet_format format;      /* CARNET_SHEET_AUTO: see there (a buffer: CSV) */
  carnet_kind kind;                /* 0: customers */
  const carnet_filter *filter;     /* NULL: every live record of the kind */
  carnet_progress_fn *on_progress; /* may be NULL: (records written, their total when known
                                      ahead, else 0), as the rows are made */
  void *ctx;                       /* passed to on_progress */
} carnet_export_options;

#define CARNET_EXPORT_OPTIONS_INIT CARNET__SIZED(carnet_export_options)

typedef struct carnet_export_report {
  size_t size;                /* set by CARNET_EXPORT_REPORT_INIT */
  carnet_sheet_format format; /* the format written */
  uint64_t records;           /* rows written after the header */
} carnet_export_report;

#define CARNET_EXPORT_REPORT_INIT CARNET__SIZED(carnet_export_report)

/* Brief: export the records of opts->kind that pass opts->filter to a new
 * file at `path` (see the top of this header). The file holds personal
 * data: it is made mode 0600 (only its owner reads it, whatever the
 * umask), written under a temporary name beside `path`, fsynced and
 * renamed over it, so a failed export leaves nothing half written (and an
 * existing file untouched; a successful one replaces it, mode included).
 * `opts` NULL: every live customer, the format from the path. `report` (may
 * be NULL) is filled on success. Nothing is written to the replica. On
 * error the replica's errmsg says what ("cannot create
 * /mnt/x/clients.csv.tmp-3f2a9c01b7de: Permission denied").
 * Errors: CARNET_EINVAL (an unknown kind or format; a path too long),
 * CARNET_ELIMIT (too much for a sheet: a cell over 1 MiB or more than
 * 2,000,000 rows; export fewer records), CARNET_ENOTFOUND (the directory of
 * `path` does not exist), CARNET_EPERM (it cannot be written), CARNET_ENOSPC
 * (the disk is full), CARNET_EIO (the file could not be written or
 * renamed), CARNET_EMISUSE (`r` or `path` NULL, `opts` or `report` without
 * its size), CARNET_ECORRUPT (a stored record fails validation: run `carnet
 * check`), CARNET_ENOMEM. */
CARNET_API int carnet_export_file(carnet_replica *r, const char *path,
                                  const carnet_export_options *opts, carnet_export_report *report);

/* Brief: carnet_export_file into memory: CSV, or XLSX when opts->format
 * says so (written through a temporary file in $TMPDIR, else /tmp, removed
 * before the call returns). After the call the caller owns *out (`*len`
 * bytes, then a NUL not counted) and releases it with carnet_free; on error
 * *out is NULL and *len 0.
 * Errors: as carnet_export_file (CARNET_ENOTFOUND, CARNET_EPERM and
 * CARNET_EIO about the temporary file of an XLSX export), and
 * CARNET_EMISUSE when `out` or `len` is NULL. */
CARNET_API int carnet_export_buffer(carnet_replica *r, const carnet_export_options *opts,
                                    void **out, size_t *len, carnet_export_report *report);

CARNET_END_DECLS

#endif
