/* book/import_int.h - what the customer book's import and export share
 * (not API; carnet/import.h is): the column targets of a customer row, the
 * mapping of a file's header onto them, a row turned into a patch, value
 * conversions, and file helpers.
 *
 * A column maps to one target: a customer field under its catalogue name
 * ("name", "emails", "phones", "siret"...), a few import-only targets
 * ("first_name" joined before the name, "street2" appended to the street,
 * "mobile", "work_phone", "home_phone" for typed phones), a custom field
 * ("custom:NAME" or "custom:NAME:TYPE"), "id" (the entity id, as exported),
 * or nothing ("ref", which Carnet gives, and unknown columns).
 *
 * Errors follow the library's rule: 0 or a CARNET_E* code, the detail on
 * the replica (carnet__fail) for what stops a whole call; a row's own
 * problem is a reason written to `why` with CARNET_EINVAL, which sets the
 * row aside and lets the import go on.
 */
#ifndef CARNET_BOOK_IMPORT_INT_H
#define CARNET_BOOK_IMPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/carnet.h"
#include "carnet/import.h"
#include "engine/dupes/bulkdup.h"
#include "engine/store/file.h"
#include "io/sheet.h"

typedef enum carnet__imp_target {
  CARNET__IMP_NONE = 0, /* not imported */
  CARNET__IMP_ID,       /* the entity id (32 hex), as an export writes it */
  CARNET__IMP_REF,      /* the reference code: given by Carnet, not imported */
  CARNET__IMP_NAME,
  CARNET__IMP_FIRST_NAME,
  CARNET__IMP_COMPANY,
  CARNET__IMP_TYPE,
  CARNET__IMP_ROLES,
  CARNET__IMP_EMAILS,
  CARNET__IMP_PHONES, /* typed "mobile:+33..." or untyped: mobile for 06/07, else work */
  CARNET__IMP_MOBILE,
  CARNET__IMP_WORK_PHONE,
  CARNET__IMP_HOME_PHONE,
  CARNET__IMP_SIRET,
  CARNET__IMP_VAT_ID,
  CARNET__IMP_STREET,
  CARNET__IMP_STREET2,
  CARNET__IMP_POSTCODE,
  CARNET__IMP_CITY,
  CARNET__IMP_COUNTRY,
  CARNET__IMP_GEO,
  CARNET__IMP_TAGS,
  CARNET__IMP_SALES_REP,
  CARNET__IMP_CHANNEL,
  CARNET__IMP_DISCOUNT,
  CARNET__IMP_CONFLICT,
  CARNET__IMP_NOTES,
  CARNET__IMP_CUSTOM,
  CARNET__IMP_CODE,        /* the file's own customer code: kept as the custom field
                              CARNET__IMP_CODE_FIELD (Carnet gives its own reference) */
  CARNET__IMP_CLIENT_KIND, /* Dolibarr's "Client": 0 none, 1 customer, 2 prospect, 3 both */
  CARNET__IMP_SUPPLIER,    /* a yes/no (1/0, oui/non) column: the role supplier */
  CARNET__IMP_TARGET_MAX_
} carnet__imp_target;

/* The custom field that keeps a file's own customer code. */
#define CARNET__IMP_CODE_FIELD "code_client"

/* One column of the file: where it goes. */
typedef struct carnet__imp_col {
  carnet__imp_target target;
  bool mapped;     /* by a --map pair (carnet_import_options.maps) */
  bool ignored;    /* CARNET__IMP_NONE on purpose: COLUMN=ignore, or a known column of a
                      recognised export that has no field */
  char custom[80]; /* CARNET__IMP_CUSTOM: "NAME" or "NAME:TYPE" */
} carnet__imp_col;

/* Country names (French and English, folded) to ISO 3166 alpha-2 codes,
 * from ICU's locale data (book/country.c). */
typedef struct carnet__countries carnet__countries;

/* The mapping of a file's columns. */
typedef struct carnet__imp_map {
  carnet__imp_col *cols; /* one per header cell */
  size_t ncols;
  bool has_id;
  const char *source;           /* a recognised export ("Dolibarr"), or NULL */
  carnet__countries *countries; /* built when a country column is mapped; may be NULL */
} carnet__imp_map;

/* --- countries (book/country.c) ---------------------------------------------- */

/* Brief: the table of country names of every ISO 3166 country ICU knows,
 * in French and English, folded (case, accents, spaces and punctuation
 * ignored), plus the alpha-3 codes. After the call the caller releases *out
 * with carnet__countries_free. Errors: CARNET_ENOMEM. */
int carnet__countries_load(carnet__countries **out);
void carnet__countries_free(carnet__countries *c);

/* Brief: the ISO 3166 alpha-2 code of `text` ("France", "allemagne",
 * "United Kingdom", "fr", "FRA") into `out`; false when it names no
 * country. `c` may be NULL: then only codes are understood. */
bool carnet__country_code(const carnet__countries *c, const char *text, char out[3]);

/* Brief: a date as a person or a French program writes it, "15/03/2021",
 * "15/03/2021 10:42", "15.03.2021", "15-03-2021" (day first) or
 * "2021-03-15" (ISO), as YYYY-MM-DD in `out`; false when it is none. */
bool carnet__imp_date(const char *text, char out[11]);

/* --- the header (book/import_map.c) ----------------------------------------- */

/* Brief: `s` folded for comparison: case folded, marks stripped, only
 * letters and digits kept ("Téléphone portable" -> "telephoneportable"),
 * into `out` (`len` bytes). */
void carnet__imp_fold(const char *s, char *out, size_t len);

/* Brief: the target named `name` ("emails", "custom:size:number"...), as a
 * map pair takes it; false when unknown. */
bool carnet__imp_target_parse(const char *name, carnet__imp_col *out);
/* Brief: the name of a target ("emails"), for messages and export headers. */
const char *carnet__imp_target_name(carnet__imp_target t);
/* Brief: the names a map pair takes, for messages. */
const char *carnet__imp_target_list(void);

/* Brief: map the header row (row 0 of `sh`): first the COLUMN=FIELD pairs
 * (`maps`, `nmaps`; COLUMN compared like headers), then the automatic names
 * (French and English, case, accents, spaces and punctuation ignored:
 * "Prénom", "E-mail", "Code postal", "Raison sociale"...), then calls
 * `on_column` (may be NULL) for each column. After the call the caller
 * releases m with carnet__imp_map_free (also after an error).
 * Errors (detail on `r`): CARNET_EINVAL (the file is empty; a map pair
 * malformed, naming no field or no column; no column maps to a name or a
 * company), CARNET_ENOMEM. */
int carnet__imp_map_header(carnet_replica *r, const carnet__sheet *sh, const char *const *maps,
                           size_t nmaps, carnet_import_column_fn *on_column, void *ctx,
                           carnet__imp_map *m);
void carnet__imp_map_free(carnet__imp_map *m);

/* --- a row (book/import_row.c) ---------------------------------------------- */

/* Brief: what a row says about a customer, into `p`. `existing` NULL: the
 * patch of a new customer; otherwise only what `existing` lacks (empty
 * scalars, set elements it does not have, custom fields it has not), for
 * CARNET_IMPORT_DUP_MERGE. *empty tells whether the row gave anything.
 * Errors: CARNET_EINVAL (a value cannot be turned into a patch: `why` says
 * why and *err_col names the column; the patch is then incomplete),
 * CARNET_ENOMEM. */
int carnet__imp_row_patch(const carnet__imp_map *m, const carnet__sheet *sh, size_t row,
                          const carnet_record *existing, carnet_patch *p, bool *empty,
                          size_t *err_col, char *why, size_t why_len);

/* Brief: what the row's values (`full`, the patch of the row as a new
 * customer) change in `existing`, for CARNET_IMPORT_DUP_UPDATE, into `out`:
 * a scalar that differs, the elements of a set the file names and the
 * customer lacks (added) or has and the file does not name (removed), a
 * phone missing or of another type, a custom field of another value. The
 * names of the fields written go to `fields` ("city,phones"). *changed
 * tells whether anything differs. The file's phones are read in `region`
 * (the replica's default region, as the write reads them). Errors:
 * CARNET_ENOMEM. */
int carnet__imp_update_patch(const carnet_patch *full, const carnet_record *existing,
                             const char *region, carnet_patch *out, char *fields, size_t fields_len,
                             bool *changed);

/* Brief: the names of the fields `p` writes, comma-separated, in `fields`. */
void carnet__imp_patch_fields(const carnet_patch *p, char *fields, size_t fields_len);

/* Brief: the row's own id: the id column when the file has one and the
 * cell holds an id, else a keyed hash (key `key`, 16+ bytes) of the row's
 * mapped values in a canonical order (target, value), so that the same
 * customer row gets the same id whatever the file, the column order or the
 * header names: this is what makes a rerun import nothing twice.
 * Errors: CARNET_ENOMEM. */
int carnet__imp_row_id(const carnet__imp_map *m, const carnet__sheet *sh, size_t row,
                       const uint8_t *key, size_t key_len, carnet_id *out);

/* Brief: look for a live customer that has the row's SIRET, one of its
 * e-mails or one of its phones, as carnet_record_lookup finds it, through
 * the import's duplicate checks `d` in its open transaction `t`
 * (engine/dupes/bulkdup.h: they see the rows written before this one).
 * *found tells; the first match goes to *match. Errors: CARNET_ENOMEM, or
 * a CARNET_E* error of the replica. */
int carnet__imp_row_match(const carnet__imp_map *m, const carnet__sheet *sh, size_t row,
                          carnet__bulkdup *d, carnet_txn *t, carnet_id *match, bool *found);

/* Brief: whether an e-mail or phone of the row belongs to a person erased
 * at their request (the opposition list, carnet/erase.h): such a row is
 * not imported. `cert` receives the certificate's customer id.
 * Errors: CARNET_ENOMEM, or a CARNET_E* error of the replica. */
int carnet__imp_row_opposed(const carnet__imp_map *m, const carnet__sheet *sh, size_t row,
                            carnet__bulkdup *d, carnet_txn *t, carnet_id *cert, bool *opposed);

/* Brief: the trimmed cell (row, col) copied into buf (len bytes, cut at a
 * character boundary). */
const char *carnet__imp_cell(const carnet__sheet *sh, size_t row, size_t col, char *buf,
                             size_t len);

/* --- values (book/import_value.c) ------------------------------------------- */

/* Brief: apply the value of a `carnet customer add` flag ("email",
 * "mobile", "phone", "discount", "company", "custom", "conflict"...) to
 * `p`, converting it exactly as that flag does (both through
 * carnet_patch_parse: phone type from the number, percent to basis
 * points, NAME:TYPE=VALUE custom fields). Errors: CARNET_EINVAL (`why` says why, naming the flag as
 * the user would type it), CARNET_ENOMEM. */
int carnet__imp_value(carnet_patch *p, const char *flag, const char *value, char *why,
                      size_t why_len);

/* Brief: the number of a stored phone element "mobile:+336...", its type
 * copied to `type` (at most tlen - 1 bytes). */
const char *carnet__imp_phone_split(const char *elem, char *type, size_t tlen);

/* --- files ------------------------------------------------------------------ */

/* Whole-file reads and private output files (export, rejects): engine/store/file.h. */
#endif
