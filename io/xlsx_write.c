/* io/xlsx_write.c - a table as a new workbook (io/xlsx.h), with
 * libxlsxwriter in constant-memory mode: rows go to a temporary file as
 * they are written, so memory does not grow with the table.
 */
#include "io/xlsx.h"

#include <stdio.h>
#include <string.h>
#include <xlsxwriter.h>

#include "carnet/error.h"

int carnet__xlsx_write(const carnet__sheet *t, const char *path, const char *sheet,
                       const char *tmpdir, char *why, size_t why_len) {
  lxw_workbook_options opts = {.constant_memory = LXW_TRUE, .tmpdir = (char *)tmpdir};
  lxw_workbook *wb = workbook_new_opt(path, &opts);
  lxw_error err = LXW_NO_ERROR;
  if (wb == NULL) {
    snprintf(why, why_len, "cannot create %s", path);
    return CARNET_EIO;
  }
  lxw_worksheet *ws = workbook_add_worksheet(wb, sheet);
  lxw_format *bold = workbook_add_format(wb);
  if (ws == NULL || bold == NULL) {
    workbook_close(wb);
    snprintf(why, why_len, "cannot create the worksheet");
    return CARNET_ENOMEM;
  }
  format_set_bold(bold);
  for (size_t r = 0; r < carnet__sheet_rows(t) && err == LXW_NO_ERROR; r++) {
    if (r >= LXW_ROW_MAX) {
      err = LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE;
      break;
    }
    for (size_t c = 0; c < carnet__sheet_width(t, r) && err == LXW_NO_ERROR; c++) {
      const char *v = carnet__sheet_get(t, r, c);
      if (v[0] == '\0') continue; /* an empty cell is no cell */
      err = worksheet_write_string(ws, (lxw_row_t)r, (lxw_col_t)c, v, r == 0 ? bold : NULL);
    }
  }
  if (err == LXW_NO_ERROR && carnet__sheet_rows(t) > 0) worksheet_freeze_panes(ws, 1, 0);
  lxw_error cerr = workbook_close(wb);
  if (err == LXW_NO_ERROR) err = cerr;
  if (err != LXW_NO_ERROR) {
    snprintf(why, why_len, "cannot write %s: %s", path, lxw_strerror(err));
    return CARNET_EIO;
  }
  return 0;
}
