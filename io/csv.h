/* io/csv.h - CSV files as written by spreadsheets and CRMs, into a table
 * (io/sheet.h) and back.
 *
 * Decoding, in order: a UTF-8 byte order mark is skipped; bytes that are
 * not valid UTF-8 are read as Windows-1252 (what Excel writes on a French
 * Windows) and converted; the separator (',' ';' or tab) is the one found
 * most often outside quotes in the first 64 KiB; fields follow RFC 4180
 * (double quotes around a field that holds separators, quotes or line
 * breaks, "" for a quote inside one), with line ends \n, \r\n or \r. Lenient
 * where spreadsheets are sloppy: a quote inside an unquoted field is kept
 * as a character, and text after a closing quote is appended to the field.
 * Strict where guessing would import garbage: a quote still open at the end
 * of the file, or a NUL byte, refuses the whole file.
 *
 * Why not libcsv: it reports neither the line a record starts on nor where
 * an unterminated quote opened, both of which the rejects file and the
 * error messages need; the state machine is ~100 lines and fuzzed
 * (tests/fuzz/fuzz_csv.c).
 */
#ifndef CARNET_IO_CSV_H
#define CARNET_IO_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "io/sheet.h"

/* What the decoder found out about the file. */
typedef struct carnet__csv_info {
  char sep;    /* ',' ';' or '\t' */
  bool bom;    /* a UTF-8 byte order mark was skipped */
  bool cp1252; /* not UTF-8: read as Windows-1252 and converted */
} carnet__csv_info;

/* Brief: decode `len` bytes of CSV. Blank lines are skipped; each record
 * remembers the line it starts on. After the call the caller owns *out
 * (carnet__sheet_free); on error *out is NULL and `why` (may be NULL) says
 * what and where ("line 12: a quoted field is never closed").
 * Errors: CARNET_EINVAL (unterminated quote, NUL byte), CARNET_ELIMIT (a
 * table limit), CARNET_ENOMEM. */
int carnet__csv_decode(const void *buf, size_t len, carnet__sheet **out, carnet__csv_info *info,
                       char *why, size_t why_len);

/* Brief: append one record to `out`: cells joined by `sep`, quoted when
 * they hold a separator of any kind, a quote, a line break, or start with
 * a byte order mark (so that decoding gives the same cells back), ended by
 * "\r\n". Errors: CARNET_ENOMEM. */
int carnet__csv_encode_row(carnet__iobuf *out, const char *const *cells, size_t n, char sep);

/* Brief: encode a whole table (optionally after a UTF-8 BOM, which Excel
 * needs to read UTF-8). carnet__csv_decode of the result gives an equal
 * table. Errors: CARNET_ENOMEM. */
int carnet__csv_encode(const carnet__sheet *t, char sep, bool bom, carnet__iobuf *out);

/* Brief: true when `s[0..len)` is valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
bool carnet__utf8_valid(const unsigned char *s, size_t len);

#endif
