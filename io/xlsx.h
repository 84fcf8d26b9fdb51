/* io/xlsx.h - Excel workbooks (.xlsx): the first worksheet into a table
 * (io/sheet.h), and a table into a new workbook.
 *
 * Reading (libzip + expat, io/xlsx_read.c): the first sheet of
 * xl/workbook.xml, found through xl/_rels/workbook.xml.rels; shared strings
 * (rich text runs joined, phonetic runs left out), inline strings, formula
 * results as cached, booleans as "true"/"false", numbers as Excel shows them
 * in General format (integers without ".0" or an exponent, so a phone
 * typed as a number reads "612345678" and the phone normaliser takes it
 * back), and numbers whose cell style is a date format as YYYY-MM-DD (the
 * 1900 and 1904 date systems). Cells keep their column from their "A1"
 * reference, so empty cells stay empty. Rows remember their row number.
 *
 * Hostile files are refused, never followed: at most 256 MiB uncompressed
 * per part (zip bombs), no DTD (entity expansion), the table limits of
 * io/sheet.h.
 */
#ifndef CARNET_IO_XLSX_H
#define CARNET_IO_XLSX_H

#include <stddef.h>

#include "io/sheet.h"

#define CARNET__XLSX_PART_MAX (256ul << 20)

/* Brief: decode a workbook held in memory. After the call the caller owns
 * *out; on error *out is NULL and `why` (may be NULL) says what is wrong
 * ("not an Excel workbook (.xlsx): ...", "xl/worksheets/sheet1.xml line 3:
 * ...").
 * Errors: CARNET_EINVAL (not a workbook, damaged), CARNET_ELIMIT,
 * CARNET_ENOMEM. */
int carnet__xlsx_decode(const void *buf, size_t len, carnet__sheet **out, char *why,
                        size_t why_len);

/* Brief: write `t` as the only sheet (named `sheet`) of a new workbook at
 * `path`, every cell as text (so "0612345678" and "01000" keep their
 * zeros), row 0 in bold. Uses libxlsxwriter in constant-memory mode with
 * its temporary files in `tmpdir` (NULL: the system's).
 * Errors: CARNET_EIO (`why` says why), CARNET_ENOMEM. */
int carnet__xlsx_write(const carnet__sheet *t, const char *path, const char *sheet,
                       const char *tmpdir, char *why, size_t why_len);

#endif
