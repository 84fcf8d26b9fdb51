/* Fuzz target: the CSV decoder (io/csv.h), on any bytes.
 * Invariants: a decode either fails with CARNET_EINVAL or CARNET_ELIMIT and
 * a reason, or gives a sheet whose every cell is valid UTF-8 without NUL;
 * and encoding that sheet (with each separator, with and without a BOM)
 * then decoding it gives the same cells back (as UTF-8, no record marked);
 * records marked as in the file's minority encoding are rows of the sheet,
 * in ascending order, each once, and exist only when both encodings were
 * seen. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "io/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const carnet__sheet *sh, char sep, bool bom) {
  carnet__iobuf b = {0};
  carnet__sheet *again = NULL;
  carnet__csv_info info;
  char why[256];
  if (carnet__csv_encode(sh, sep, bom, &b) != 0) abort();
  if (carnet__csv_decode(b.data ? b.data : "", b.len, &again, &info, why, sizeof why) != 0) abort();
  if (!carnet__sheet_equal(sh, again)) abort();
  if (info.cp1252 || info.bom != bom || info.nbad || info.strays) abort();
  if (carnet__sheet_rows(sh) > 0 && carnet__sheet_width(sh, 0) > 1 && info.sep != sep) abort();
  carnet__csv_info_free(&info);
  carnet__sheet_free(again);
  carnet__iobuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  carnet__sheet *sh = NULL;
  carnet__csv_info info;
  char why[256];
  int rc = carnet__csv_decode(data, size, &sh, &info, why, sizeof why);
  if (rc != 0) {
    if ((rc != CARNET_EINVAL && rc != CARNET_ELIMIT) || why[0] == '\0' || sh != NULL) abort();
    if (info.bad || info.nbad) abort();
    return 0;
  }
  if (info.nbad && (info.utf8_seqs == 0 || info.strays == 0)) abort();
  if (info.cp1252 != (info.strays > info.utf8_seqs)) abort();
  for (size_t i = 0; i < info.nbad; i++)
    if (info.bad[i].row >= carnet__sheet_rows(sh) || info.bad[i].byte < 0x80 ||
        (i > 0 && info.bad[i].row <= info.bad[i - 1].row))
      abort();
  carnet__csv_info_free(&info);
  for (size_t r = 0; r < carnet__sheet_rows(sh); r++) {
    if (carnet__sheet_width(sh, r) == 0) abort();
    for (size_t c = 0; c < carnet__sheet_width(sh, r); c++) {
      const char *v = carnet__sheet_get(sh, r, c);
      if (!carnet__utf8_valid((const unsigned char *)v, strlen(v))) abort();
    }
  }
  roundtrip(sh, ';', true);
  roundtrip(sh, ',', false);
  roundtrip(sh, '\t', false);
  carnet__sheet_free(sh);
  return 0;
}
