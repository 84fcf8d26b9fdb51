/* tests/io/test_csv.c - the CSV decoder and encoder (io/csv.c): the
 * separators, quoting, line numbers, encodings and the errors a user sees. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <string.h>

#include "carnet/error.h"
#include "io/csv.h"

static carnet__sheet *decode_ok(const char *text, size_t len, carnet__csv_info *info) {
  carnet__sheet *sh = NULL;
  char why[256];
  int rc = carnet__csv_decode(text, len, &sh, info, why, sizeof why);
  if (rc) fail_msg("decode failed: %s", why);
  return sh;
}
#define DECODE(s, info) decode_ok((s), sizeof(s) - 1, (info))

static void test_semicolon_bom_quotes(void **state) {
  (void)state;
  carnet__csv_info info;
  carnet__sheet *sh = DECODE("\xef\xbb\xbfNom;Notes;Ville\r\n"
                             "\"Dupont; Fils\";\"dit \"\"le grand\"\"\nsur deux lignes\";Lyon\r\n"
                             "\r\n"
                             "Martin;;\r\n",
                             &info);
  assert_int_equal(info.sep, ';');
  assert_true(info.bom);
  assert_false(info.cp1252);
  assert_int_equal(carnet__sheet_rows(sh), 3);
  assert_string_equal(carnet__sheet_get(sh, 0, 0), "Nom");
  assert_string_equal(carnet__sheet_get(sh, 1, 0), "Dupont; Fils");
  assert_string_equal(carnet__sheet_get(sh, 1, 1), "dit \"le grand\"\nsur deux lignes");
  assert_int_equal(carnet__sheet_line(sh, 1), 2);
  assert_int_equal(carnet__sheet_line(sh, 2), 5); /* after a 2-line record and a blank line */
  assert_int_equal(carnet__sheet_width(sh, 2), 3);
  assert_string_equal(carnet__sheet_get(sh, 2, 2), "");
  assert_string_equal(carnet__sheet_get(sh, 2, 9), ""); /* beyond the row */
  carnet__sheet_free(sh);
}

static void test_separator_sniffing(void **state) {
  (void)state;
  carnet__csv_info info;
  carnet__sheet *sh = DECODE("a,b,\"c;d;e;f\"\n1,2,3\n", &info);
  assert_int_equal(info.sep, ',');
  assert_string_equal(carnet__sheet_get(sh, 0, 2), "c;d;e;f");
  carnet__sheet_free(sh);
  sh = DECODE("a\tb\n1\t2\n", &info);
  assert_int_equal(info.sep, '\t');
  assert_int_equal(carnet__sheet_width(sh, 1), 2);
  carnet__sheet_free(sh);
  sh = DECODE("only\none\n", &info); /* no separator at all */
  assert_int_equal(info.sep, ',');
  assert_int_equal(carnet__sheet_rows(sh), 2);
  carnet__sheet_free(sh);
}

static void test_lenient(void **state) {
  (void)state;
  carnet__sheet *sh = DECODE("a\"b,\"c\"d,e\r\rf", NULL);
  assert_string_equal(carnet__sheet_get(sh, 0, 0), "a\"b"); /* a quote inside: a character */
  assert_string_equal(carnet__sheet_get(sh, 0, 1), "cd");   /* text after the closing quote */
  assert_int_equal(carnet__sheet_rows(sh), 2);              /* \r alone ends a line */
  assert_int_equal(carnet__sheet_line(sh, 1), 3);
  carnet__sheet_free(sh);
}

static void test_windows_1252(void **state) {
  (void)state;
  carnet__csv_info info;
  carnet__sheet *sh = DECODE("Pr\xe9nom;Soci\xe9t\xe9\n\x80uro \x9c\x92;Fa\xe7"
                             "ade\n",
                             &info);
  assert_true(info.cp1252);
  assert_string_equal(carnet__sheet_get(sh, 0, 0), "Prénom");
  assert_string_equal(carnet__sheet_get(sh, 1, 0), "€uro œ’");
  assert_string_equal(carnet__sheet_get(sh, 1, 1), "Façade");
  carnet__sheet_free(sh);
  /* Valid UTF-8 stays as it is; an overlong form is not UTF-8. */
  assert_true(carnet__utf8_valid((const unsigned char *)"Zoé €", strlen("Zoé €")));
  assert_false(carnet__utf8_valid((const unsigned char *)"\xc0\xaf", 2));
  assert_false(carnet__utf8_valid((const unsigned char *)"\xed\xa0\x80", 3)); /* surrogate */
}

/* The encoding is decided by the majority, and the records in the other
 * encoding are listed (io/csv.h). */
static void test_mixed_encodings(void **state) {
  (void)state;
  carnet__csv_info info;
  /* UTF-8 with one stray byte (line 3) and a multi-line record holding one
   * (starting line 4): UTF-8 stays UTF-8. */
  carnet__sheet *sh = DECODE("Prénom;Nom\nHélène;Müller\nZo\xe9;Noël\n\"Ana\n\xefs\";Dupré\n"
                             "Jérôme;Garçon\n",
                             &info);
  assert_false(info.cp1252);
  assert_int_equal(info.strays, 2);
  assert_int_equal(info.utf8_seqs, 9);
  assert_string_equal(carnet__sheet_get(sh, 1, 0), "Hélène");
  assert_string_equal(carnet__sheet_get(sh, 4, 1), "Garçon");
  assert_int_equal(info.nbad, 2);
  assert_int_equal(info.bad[0].row, 2);
  assert_int_equal(info.bad[0].byte, 0xe9);
  assert_int_equal(info.bad[1].row, 3);
  assert_int_equal(carnet__sheet_line(sh, 3), 4);
  /* A listed record reads as its author meant it. */
  assert_string_equal(carnet__sheet_get(sh, 2, 0), "Zoé");
  assert_string_equal(carnet__sheet_get(sh, 3, 0), "Ana\nïs");
  carnet__csv_info_free(&info);
  assert_null(info.bad);
  carnet__sheet_free(sh);

  /* Windows-1252 with one UTF-8 row: read as Windows-1252, the row listed. */
  sh = DECODE("Pr\xe9nom;Ville\nRen\xe9"
              "e;Besan\xe7on\nHélène;Orléans\nFran\xe7oise;N\xeemes\n",
              &info);
  assert_true(info.cp1252);
  assert_int_equal(info.nbad, 1);
  assert_int_equal(info.bad[0].row, 2);
  assert_int_equal(info.bad[0].byte, 0xc3);
  assert_string_equal(carnet__sheet_get(sh, 1, 1), "Besançon");
  assert_string_equal(carnet__sheet_get(sh, 2, 0), "Hélène");
  carnet__csv_info_free(&info);
  carnet__sheet_free(sh);

  /* Pure encodings list nothing. */
  sh = DECODE("Nom\nZo\xe9\n", &info);
  assert_true(info.cp1252);
  assert_int_equal(info.nbad, 0);
  carnet__csv_info_free(&info);
  carnet__sheet_free(sh);
  sh = DECODE("Nom\nZoé\n", &info);
  assert_false(info.cp1252);
  assert_int_equal(info.nbad, 0);
  assert_int_equal(info.strays, 0);
  carnet__csv_info_free(&info);
  carnet__sheet_free(sh);
}

static void test_errors(void **state) {
  (void)state;
  carnet__sheet *sh = (carnet__sheet *)1;
  char why[256];
  const char unterminated[] = "a;b\n1;2\n3;\"open\nstill\n";
  assert_int_equal(
      carnet__csv_decode(unterminated, sizeof unterminated - 1, &sh, NULL, why, sizeof why),
      CARNET_EINVAL);
  assert_null(sh);
  assert_string_equal(why, "line 3: a quoted field is never closed (a missing '\"')");
  const char nul[] = "a;b\nx\0y;z\n";
  assert_int_equal(carnet__csv_decode(nul, sizeof nul - 1, &sh, NULL, why, sizeof why),
                   CARNET_EINVAL);
  assert_non_null(strstr(why, "line 2: a NUL byte"));
  /* Empty input: an empty sheet. */
  assert_int_equal(carnet__csv_decode("", 0, &sh, NULL, why, sizeof why), 0);
  assert_int_equal(carnet__sheet_rows(sh), 0);
  carnet__sheet_free(sh);
}

static void test_encode_roundtrip(void **state) {
  (void)state;
  carnet__sheet *sh = DECODE("x;\"a,b\";\"q\"\"\";\"l\nl\"\n\"\"\n;\n", NULL);
  carnet__iobuf b = {0};
  assert_int_equal(carnet__csv_encode(sh, ';', true, &b), 0);
  assert_string_equal(b.data, "\xef\xbb\xbfx;\"a,b\";\"q\"\"\";\"l\nl\"\r\n\"\"\r\n;\r\n");
  carnet__sheet *again = decode_ok(b.data, b.len, NULL);
  assert_true(carnet__sheet_equal(sh, again));
  carnet__sheet_free(again);
  carnet__sheet_free(sh);
  carnet__iobuf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_semicolon_bom_quotes),
      cmocka_unit_test(test_separator_sniffing),
      cmocka_unit_test(test_lenient),
      cmocka_unit_test(test_windows_1252),
      cmocka_unit_test(test_mixed_encodings),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_encode_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
