/* io/xlsx_write.c - a table as a new workbook (io/xlsx.h), with
 * libxlsxwriter in constant-memory mode: rows go to a temporary file as
 * they are written, so memory does not grow with the table.
 */
#include "io/xlsx.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <xlsxwriter.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"

/* Whether s starts with _xHHHH_ (any case of hex digits). */
static bool xescape_at(const char *s) {
  if (s[0] != '_' || s[1] != 'x') return false;
  for (int i = 2; i < 6; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
          (s[i] >= 'A' && s[i] <= 'F')))
      return false;
  return s[6] == '_';
}

/* A cell's text as OOXML must hold it (ST_Xstring, ECMA-376 Part 1,
 * 22.9.2.19): libxlsxwriter writes control characters as _xHHHH_ but
 * leaves a literal "_xHHHH_" as it is, which a reader (ours, Excel) would
 * then decode. Its '_' is written _x005F_. Returns `v` itself when nothing
 * needs escaping, else a new block of carnet__malloc (*owned), or NULL when
 * out of memory. */
static const char *xstring_encode(const char *v, char **owned) {
  size_t n = 0, len = strlen(v);
  *owned = NULL;
  for (const char *p = v; (p = strstr(p, "_x")) != NULL; p++)
    n += xescape_at(p);
  if (n == 0) return v;
  char *out = carnet__malloc(len + n * 6 + 1), *w = out;
  if (out == NULL) return NULL;
  for (const char *p = v; *p; p++) {
    if (p[0] == '_' && xescape_at(p)) {
      memcpy(w, "_x005F", 6);
      w += 6;
    }
    *w++ = *p;
  }
  *w = '\0';
  return *owned = out;
}

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
      char *owned;
      const char *text = xstring_encode(v, &owned);
      if (text == NULL) {
        workbook_close(wb);
        snprintf(why, why_len, "out of memory");
        return CARNET_ENOMEM;
      }
      err = worksheet_write_string(ws, (lxw_row_t)r, (lxw_col_t)c, text, r == 0 ? bold : NULL);
      carnet__free(owned);
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
