/* tests/io/test_xlsx.c - the XLSX reader and writer (io/xlsx_read.c,
 * xlsx_write.c): a workbook as Excel writes it (the corpus file made by
 * tests/fuzz/gen/gen_xlsx_corpus.py), a write-then-read round trip, and
 * damaged files. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "io/xlsx.h"
#include "support/testenv.h"

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void test_excel_workbook(void **state) {
  (void)state;
  char path[2048], why[256];
  size_t len;
  const char *src = getenv("CARNET_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/tests/fuzz/corpus/xlsx/shared_dates.xlsx", src ? src : ".");
  char *buf = slurp(path, &len);
  carnet__sheet *sh = NULL;
  assert_int_equal(carnet__xlsx_decode(buf, len, &sh, why, sizeof why), 0);
  assert_int_equal(carnet__sheet_rows(sh), 3);
  assert_string_equal(carnet__sheet_get(sh, 0, 1), "Prénom");
  assert_string_equal(carnet__sheet_get(sh, 1, 1), "Zoé");        /* rich text, no phonetic */
  assert_string_equal(carnet__sheet_get(sh, 1, 2), "612345678");  /* a number */
  assert_string_equal(carnet__sheet_get(sh, 1, 4), "Besançon");   /* an inline string */
  assert_string_equal(carnet__sheet_get(sh, 1, 5), "2023-03-15"); /* built-in date style 14 */
  assert_string_equal(carnet__sheet_get(sh, 1, 6), "2023-03-16"); /* custom dd/mm/yyyy */
  assert_string_equal(carnet__sheet_get(sh, 1, 7), "12.5");       /* "0.00 d" is no date */
  assert_int_equal(carnet__sheet_line(sh, 2), 4);                 /* row 3 is missing */
  assert_string_equal(carnet__sheet_get(sh, 2, 0), "");           /* A4 absent */
  assert_string_equal(carnet__sheet_get(sh, 2, 1), "Léa");        /* a formula's value */
  assert_string_equal(carnet__sheet_get(sh, 2, 7), "100");        /* 1.0E2 */
  assert_string_equal(carnet__sheet_get(sh, 2, 8), " Martin & Fils ");
  carnet__sheet_free(sh);
  /* Cut anywhere, it is refused with a reason, never half read. */
  for (size_t cut = 0; cut < len; cut += 97) {
    sh = NULL;
    why[0] = '\0';
    int rc = carnet__xlsx_decode(buf, cut, &sh, why, sizeof why);
    assert_int_equal(rc, CARNET_EINVAL);
    assert_null(sh);
    assert_true(why[0] != '\0');
  }
  free(buf);
}

static void test_write_read(void **state) {
  (void)state;
  char *dir = tdir_new("xlsx");
  char *path = tdir_join(dir, "t.xlsx"), why[256];
  carnet__sheet *sh = carnet__sheet_new(), *back = NULL;
  const char *cells[4][3] = {{"id", "phones", "notes"},
                             {"0612", "mobile:+33612345678|work:+33145678910", "a\nb & <c>"},
                             {"01000", "", "é€😀"},
                             /* A carriage return (written _x000D_), a control
                              * character, and text that looks like an escape. */
                             {"a\r\nb", "x\x01y", "_x0041_ _x005F_ _x00e9_ _x12_"}};
  for (int r = 0; r < 4; r++) {
    assert_int_equal(carnet__sheet_row(sh, (uint32_t)r + 1), 0);
    for (int c = 0; c < 3; c++)
      assert_int_equal(carnet__sheet_cell(sh, cells[r][c], strlen(cells[r][c])), 0);
  }
  assert_int_equal(carnet__xlsx_write(sh, path, "carnet", dir, why, sizeof why), 0);
  size_t len;
  char *buf = slurp(path, &len);
  assert_int_equal(carnet__xlsx_decode(buf, len, &back, why, sizeof why), 0);
  /* The empty cell is no cell: its row is one cell narrower. */
  assert_int_equal(carnet__sheet_rows(back), 4);
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 3; c++)
      assert_string_equal(carnet__sheet_get(back, r, c), cells[r][c]);
  free(buf);
  carnet__sheet_free(back);
  carnet__sheet_free(sh);
  /* Not a zip at all. */
  assert_int_equal(carnet__xlsx_decode("Nom;Ville\n", 10, &back, why, sizeof why), CARNET_EINVAL);
  assert_non_null(strstr(why, "not an Excel workbook"));
  tdir_remove(dir);
  free(path);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_excel_workbook),
      cmocka_unit_test(test_write_read),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
