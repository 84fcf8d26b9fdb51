/* io/csv.h - CSV files as written by spreadsheets and CRMs, into a table
 * (io/sheet.h) and back.
 *
 * Decoding, in order: a UTF-8 byte order mark is skipped; the encoding is
 * decided (below); the separator (',' ';' or tab) is the one found
 * most often outside quotes in the first 64 KiB; fields follow RFC 4180
 * (double quotes around a field that holds separators, quotes or line
 * breaks, "" for a quote inside one), with line ends \n, \r\n or \r. Lenient
 * where spreadsheets are sloppy: a quote inside an unquoted field is kept
 * as a character, and text after a closing quote is appended to the field.
 * Strict where guessing would import garbage: a quote still open at the end
 * of the file, or a NUL byte, refuses the whole file.
 *
 * The encoding is never guessed silently (one stray byte once made a
 * whole UTF-8 file read as Windows-1252, "Hélène" becoming "HÃ©lÃ¨ne" in
 * every row). The decoder counts the valid UTF-8 multi-byte sequences and
 * the bytes that are not part of one:
 *
 *   no stray byte                      -> UTF-8
 *   no multi-byte sequence, stray bytes -> Windows-1252 (what Excel writes
 *                                          on a French Windows): info.cp1252
 *   both: more sequences than strays    -> UTF-8; the records holding a
 *                                          stray byte are listed in info.bad
 *   both: more strays than sequences    -> Windows-1252; the records holding
 *                                          a UTF-8 sequence are listed
 *
 * Each piece is converted as what it most likely is (a valid sequence as
 * UTF-8, a stray byte as Windows-1252), so a listed record reads as its
 * author meant it; the caller must not take it as it stands (the import
 * rejects it, with its line, so that nothing is imported garbled).
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
#include <stdint.h>

#include "io/sheet.h"

/* A record in the file's minority encoding (see the top). */
typedef struct carnet__csv_bad {
  size_t row;         /* its row in the sheet */
  unsigned char byte; /* the first byte of the piece: a stray byte, or a sequence's lead */
} carnet__csv_bad;

/* What the decoder found out about the file. */
typedef struct carnet__csv_info {
  char sep;             /* ',' ';' or '\t' */
  bool bom;             /* a UTF-8 byte order mark was skipped */
  bool cp1252;          /* not UTF-8: read as Windows-1252 and converted */
  uint64_t utf8_seqs;   /* valid UTF-8 multi-byte sequences seen */
  uint64_t strays;      /* bytes that are not part of one */
  carnet__csv_bad *bad; /* records in the other encoding, in row order (carnet__malloc'd) */
  size_t nbad;
} carnet__csv_info;

/* Brief: release info->bad (and zero it). NULL is a no-op. */
void carnet__csv_info_free(carnet__csv_info *info);

/* Brief: decode `len` bytes of CSV. Blank lines are skipped; each record
 * remembers the line it starts on. After the call the caller owns *out
 * (carnet__sheet_free) and, when `info` is not NULL, info->bad
 * (carnet__csv_info_free, also after an error); on error *out is NULL and `why` (may be NULL) says
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
