/* Fuzz target: the XLSX reader (io/xlsx.h), on any bytes (zip archives
 * whose parts are mutated included).
 * Invariants: a decode either fails with CARNET_EINVAL or CARNET_ELIMIT and
 * a reason, or gives a sheet whose every cell is valid UTF-8, whose rows
 * are within the limits, and which the CSV encoder and decoder carry
 * unchanged (what `carnet import` rejects files are made of). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "io/csv.h"
#include "io/xlsx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  carnet__sheet *sh = NULL, *again = NULL;
  carnet__iobuf b = {0};
  char why[256];
  int rc = carnet__xlsx_decode(data, size, &sh, why, sizeof why);
  if (rc != 0) {
    if ((rc != CARNET_EINVAL && rc != CARNET_ELIMIT) || why[0] == '\0' || sh != NULL) abort();
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
    if (carnet__csv_decode(b.data, b.len, &again, NULL, why, sizeof why) != 0) abort();
    if (!carnet__sheet_equal(sh, again)) abort();
  }
  carnet__sheet_free(again);
  carnet__iobuf_free(&b);
  carnet__sheet_free(sh);
  return 0;
}
