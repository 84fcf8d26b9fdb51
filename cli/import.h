/* cli/import.h - what `carnet import` and `carnet export` share: the
 * column targets of a customer row, the mapping of a file's header onto
 * them, a row turned into a patch, and file helpers.
 *
 * A column maps to one target: a customer field under its catalogue name
 * ("name", "emails", "phones", "siret"...), a few import-only targets
 * ("first_name" joined before the name, "street2" appended to the street,
 * "mobile", "work_phone", "home_phone" for typed phones), a custom field
 * ("custom:NAME" or "custom:NAME:TYPE"), "id" (the entity id, as exported),
 * or nothing ("ref", which Carnet gives, and unknown columns).
 */
#ifndef CARNET_CLI_IMPORT_H
#define CARNET_CLI_IMPORT_H

#include "cli/cli.h"
#include "io/sheet.h"

typedef enum imp_target {
  IMP_NONE = 0, /* not imported */
  IMP_ID,       /* the entity id (32 hex), as `carnet export` writes it */
  IMP_REF,      /* the reference code: given by Carnet, not imported */
  IMP_NAME,
  IMP_FIRST_NAME,
  IMP_COMPANY,
  IMP_TYPE,
  IMP_ROLES,
  IMP_EMAILS,
  IMP_PHONES, /* typed "mobile:+33..." or untyped: mobile for 06/07, else work */
  IMP_MOBILE,
  IMP_WORK_PHONE,
  IMP_HOME_PHONE,
  IMP_SIRET,
  IMP_VAT_ID,
  IMP_STREET,
  IMP_STREET2,
  IMP_POSTCODE,
  IMP_CITY,
  IMP_COUNTRY,
  IMP_GEO,
  IMP_TAGS,
  IMP_SALES_REP,
  IMP_CHANNEL,
  IMP_DISCOUNT,
  IMP_CONFLICT,
  IMP_NOTES,
  IMP_CUSTOM,
  IMP_TARGET_MAX_
} imp_target;

/* One column of the file: where it goes. */
typedef struct imp_col {
  imp_target target;
  char custom[80]; /* IMP_CUSTOM: "NAME" or "NAME:TYPE" */
} imp_col;

/* The mapping of a file's columns. */
typedef struct imp_map {
  imp_col *cols; /* one per header cell */
  size_t ncols;
  bool has_id;
} imp_map;

/* Brief: the target named `name` ("emails", "custom:size:number"...), as
 * --map takes it; false when unknown. */
bool imp_target_parse(const char *name, imp_col *out);
/* Brief: the name of a target ("emails"), for messages and export headers. */
const char *imp_target_name(imp_target t);
/* Brief: the names --map takes, for --help and messages. */
const char *imp_target_list(void);

/* Brief: map the header row (row 0 of `sh`): first the --map COLUMN=FIELD
 * pairs (`maps`, `nmaps`; COLUMN compared like headers), then the
 * automatic names (French and English, case, accents, spaces and
 * punctuation ignored: "Prénom", "E-mail", "Code postal", "Raison
 * sociale"...). Prints a warning on stderr for each column left out
 * (unless `quiet`). Returns CLI_OK, or an exit code after printing (a
 * --map naming no column or no field; no column maps to a name or a
 * company). After the call the caller frees m->cols. */
int imp_map_header(cli *c, const carnet__sheet *sh, const char *const *maps, size_t nmaps,
                   bool quiet, imp_map *m);

/* A row's values by target, trimmed, with the column each came from. */
typedef struct imp_val {
  const imp_col *col;
  size_t colno;
  const char *value; /* points into the sheet, or into `scratch` */
} imp_val;

/* Brief: what a row says about a customer. Sets *err_col and `why` and
 * returns an exit code when a value cannot be turned into a patch; the
 * patch is then incomplete. `existing` NULL: the patch of a new customer;
 * otherwise only what `existing` lacks (empty scalars, set elements it
 * does not have, custom fields it has not), for --on-duplicate merge. */
int imp_row_patch(const imp_map *m, const carnet__sheet *sh, size_t row,
                  const carnet_record *existing, carnet_patch *p, bool *empty, size_t *err_col,
                  char *why, size_t why_len);

/* Brief: the row's own id: the id column when the file has one and the
 * cell holds an id, else a keyed hash (key `key`, 16+ bytes) of the row's
 * mapped values in a canonical order (target, value), so that the same
 * customer row gets the same id whatever the file, the column order or the
 * header names: this is what makes a rerun import nothing twice. */
void imp_row_id(const imp_map *m, const carnet__sheet *sh, size_t row, const uint8_t *key,
                size_t key_len, carnet_id *out);

/* Brief: look for a live customer that has the row's SIRET, one of its
 * e-mails or one of its phones (carnet_record_lookup: the blind indexes, which see
 * the open transaction). *found tells; the first match goes to *match.
 * Returns 0 or a CARNET_E* error of the replica. */
int imp_row_match(const imp_map *m, const carnet__sheet *sh, size_t row, carnet_replica *r,
                  carnet_id *match, bool *found);

/* Brief: whether an e-mail or phone of the row belongs to a person erased
 * at their request (the opposition list, carnet/erase.h): such a row is
 * not imported. `cert` receives the certificate's customer id.
 * Returns 0 or a CARNET_E* error. */
int imp_row_opposed(const imp_map *m, const carnet__sheet *sh, size_t row, carnet_replica *r,
                    carnet_id *cert, bool *opposed);

/* Brief: the trimmed cell (row, col) copied into buf (len bytes, cut at a
 * character boundary). */
const char *imp_cell(const carnet__sheet *sh, size_t row, size_t col, char *buf, size_t len);

/* --- files (cli/files.c) -------------------------------------------------- */

/* Brief: read a whole file (at most `max` bytes) into a malloc'd buffer.
 * Returns CLI_OK or an exit code after printing. */
int cli_read_file(cli *c, const char *path, size_t max, char **out, size_t *len);

/* A file written under a temporary name beside its final path and renamed
 * over it once complete, so that a failed write leaves nothing half
 * written. */
typedef struct cli_tmpfile {
  char final[4096];
  char tmp[4120];
  int fd;
} cli_tmpfile;

/* Brief: create the temporary file for `path`. Returns CLI_OK or an exit
 * code after printing. */
int cli_tmp_open(cli *c, cli_tmpfile *f, const char *path);
/* Brief: write all of buf. Returns CLI_OK or an exit code after printing. */
int cli_tmp_write(cli *c, cli_tmpfile *f, const void *buf, size_t len);
/* Brief: fsync, close and rename over the final path. Returns CLI_OK or an
 * exit code after printing (the temporary file is then removed). */
int cli_tmp_commit(cli *c, cli_tmpfile *f);
/* Brief: close and remove the temporary file (after a failure). */
void cli_tmp_discard(cli_tmpfile *f);

/* Brief: refuse an administrator action (`what`: "import", "export") on a
 * member replica. Returns CLI_OK or an exit code after printing. */
int cli_require_admin(cli *c, carnet_replica *r, const char *what);

#endif
