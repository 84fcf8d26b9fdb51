/* io/sheet.h - a decoded spreadsheet: rows of UTF-8 text cells, the common
 * output of the CSV and XLSX decoders (io/csv.h, io/xlsx.h) and the common
 * input of their encoders (not API: shared by the CLI's import and export,
 * the fuzz targets and the tests).
 *
 * A table owns all its text: one growing buffer of NUL-terminated cells and
 * an index of offsets, so a 100,000-row file costs its text plus 8 bytes a
 * cell. Row 0 is whatever the file's first row is (the header, for import).
 */
#ifndef CARNET_IO_SHEET_H
#define CARNET_IO_SHEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits of a decoded table (STYLE 11). A file beyond them is refused with
 * CARNET_ELIMIT, never truncated. */
#define CARNET__SHEET_COLS_MAX 1024u          /* cells in one row */
#define CARNET__SHEET_ROWS_MAX 2000000u       /* rows in one file */
#define CARNET__SHEET_CELL_MAX (1u << 20)     /* bytes in one cell */
#define CARNET__SHEET_TEXT_MAX (1024ul << 20) /* bytes of text in all */

typedef struct carnet__sheet carnet__sheet;

/* Brief: a new empty table, or NULL (ENOMEM). Free it with
 * carnet__sheet_free (NULL is a no-op). */
carnet__sheet *carnet__sheet_new(void);
void carnet__sheet_free(carnet__sheet *t);

/* Brief: start a new row whose source line (CSV line, XLSX row number) is
 * `line`. Errors: CARNET_ENOMEM, CARNET_ELIMIT (too many rows). */
int carnet__sheet_row(carnet__sheet *t, uint32_t line);

/* Brief: append a cell of `len` bytes (copied, a NUL added) to the last
 * row; with `col` greater than the row's width, empty cells fill the gap
 * (XLSX rows skip empty cells). There must be a row.
 * Errors: CARNET_ENOMEM, CARNET_ELIMIT (cell, row or text too big),
 * CARNET_EINVAL (`col` below the row's width: cells out of order). */
int carnet__sheet_cell_at(carnet__sheet *t, size_t col, const char *text, size_t len);
int carnet__sheet_cell(carnet__sheet *t, const char *text, size_t len);

/* Brief: the number of rows, the width of row `row`, its source line, and
 * its cell `col` ("" beyond its width). Strings live with the table. */
size_t carnet__sheet_rows(const carnet__sheet *t);
size_t carnet__sheet_width(const carnet__sheet *t, size_t row);
uint32_t carnet__sheet_line(const carnet__sheet *t, size_t row);
const char *carnet__sheet_get(const carnet__sheet *t, size_t row, size_t col);

/* Brief: true when two tables hold the same cells (lines are not
 * compared; trailing empty cells count). For tests and fuzz invariants. */
bool carnet__sheet_equal(const carnet__sheet *a, const carnet__sheet *b);

/* Brief: a NUL-terminated growing byte buffer, for encoders. */
typedef struct carnet__iobuf {
  char *data;
  size_t len, cap;
} carnet__iobuf;
int carnet__iobuf_put(carnet__iobuf *b, const void *p, size_t len);
void carnet__iobuf_free(carnet__iobuf *b);

#endif
