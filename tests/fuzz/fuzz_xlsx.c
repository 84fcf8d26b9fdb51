/* Fuzz target: the XLSX reader (io/xlsx.h).
 * An input starting with "PK" is decoded as a workbook as it is. Any other
 * input is split on lines "----" into the worksheet XML, the shared
 * strings, the styles and the workbook part, which are stored (not
 * compressed) in a zip built here: mutations then reach the XML handlers
 * instead of dying on a zip checksum.
 * Invariants: a decode either fails with CARNET_EINVAL or CARNET_ELIMIT and
 * a reason, or gives a sheet whose every cell is valid UTF-8, whose rows
 * are within the limits, and which the CSV encoder and decoder carry
 * unchanged (what `carnet import` rejects files are made of). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "carnet/error.h"
#include "io/csv.h"
#include "io/xlsx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const parts[] = {"xl/worksheets/sheet1.xml", "xl/sharedStrings.xml",
                                    "xl/styles.xml", "xl/workbook.xml"};

/* A stored zip of the pieces of `data`; NULL when libzip fails. */
static uint8_t *build_zip(const uint8_t *data, size_t size, size_t *out_len) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
  uint8_t *out = NULL;
  if (src == NULL) return NULL;
  zip_source_keep(src);
  zip_t *z = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
  if (z == NULL) goto done;
  const uint8_t *p = data, *end = data + size;
  for (size_t i = 0; i < 4 && p <= end; i++) {
    const uint8_t *sep = NULL;
    for (const uint8_t *q = p; q + 6 <= end && sep == NULL; q++)
      if (memcmp(q, "\n----\n", 6) == 0) sep = q;
    size_t n = (size_t)((sep ? sep : end) - p);
    if (n == 0) { /* an empty piece: no such part */
      if (sep == NULL) break;
      p = sep + 6;
      continue;
    }
    zip_source_t *s = zip_source_buffer(z, p, n, 0);
    zip_int64_t idx = s ? zip_file_add(z, parts[i], s, ZIP_FL_OVERWRITE) : -1;
    if (idx < 0) {
      zip_source_free(s);
      break;
    }
    zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    if (sep == NULL) break;
    p = sep + 6;
  }
  if (zip_close(z) != 0) {
    zip_discard(z);
    goto done;
  }
  zip_stat_t st;
  if (zip_source_stat(src, &st) != 0 || zip_source_open(src) != 0) goto done;
  out = malloc(st.size ? st.size : 1);
  if (out && zip_source_read(src, out, st.size) != (zip_int64_t)st.size) {
    free(out);
    out = NULL;
  }
  *out_len = st.size;
  zip_source_close(src);
done:
  zip_source_free(src);
  zip_error_fini(&ze);
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  carnet__sheet *sh = NULL, *again = NULL;
  carnet__iobuf b = {0};
  uint8_t *zipped = NULL;
  char why[256];
  if (size < 2 || data[0] != 'P' || data[1] != 'K') {
    size_t len = 0;
    if ((zipped = build_zip(data, size, &len)) == NULL) return 0;
    data = zipped;
    size = len;
  }
  int rc = carnet__xlsx_decode(data, size, &sh, why, sizeof why);
  if (rc != 0) {
    if ((rc != CARNET_EINVAL && rc != CARNET_ELIMIT) || why[0] == '\0' || sh != NULL) abort();
    free(zipped);
    return 0;
  }
  bool rows_ok = true;
  for (size_t r = 0; r < carnet__sheet_rows(sh); r++) {
    if (carnet__sheet_width(sh, r) > CARNET__SHEET_COLS_MAX) abort();
    for (size_t c = 0; c < carnet__sheet_width(sh, r); c++) {
      const char *v = carnet__sheet_get(sh, r, c);
      if (!carnet__utf8_valid((const unsigned char *)v, strlen(v))) abort();
    }
    rows_ok &= carnet__sheet_width(sh, r) > 0;
  }
  /* A row without cells is a blank line in CSV, which decoding skips. */
  if (rows_ok) {
    if (carnet__csv_encode(sh, ';', false, &b) != 0) abort();
    if (carnet__csv_decode(b.data ? b.data : "", b.len, &again, NULL, why, sizeof why) != 0)
      abort();
    if (!carnet__sheet_equal(sh, again)) abort();
  }
  carnet__sheet_free(again);
  carnet__iobuf_free(&b);
  carnet__sheet_free(sh);
  free(zipped);
  return 0;
}
