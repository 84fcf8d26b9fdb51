/* tests/cli/test_phone.c - phone numbers through the real `carnet` (issue
 * 18, point 3): numbers written in many forms and countries, extensions,
 * the French overseas departments, the replica's default region (init
 * --region, carnet config region), the line type in customer show and
 * --json, and search in any written form. A few commands per test: cheap.
 */
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

#include "support/cliproc.h"

/* The phone of `phones` (a --json array) whose number is `e164`, or NULL. */
static const json_t *phone_of(const json_t *phones, const char *e164, const char *ext) {
  for (size_t i = 0; i < json_array_size(phones); i++) {
    const json_t *p = json_array_get(phones, i);
    const json_t *x = json_object_get(p, "extension");
    if (strcmp(json_string_value(json_object_get(p, "number")), e164) == 0 &&
        (ext ? json_is_string(x) && strcmp(json_string_value(x), ext) == 0 : json_is_null(x)))
      return p;
  }
  return NULL;
}

static void expect_phone(const json_t *phones, const char *e164, const char *ext, const char *line,
                         const char *region) {
  const json_t *p = phone_of(phones, e164, ext);
  if (p == NULL) {
    char *dump = json_dumps(phones, 0);
    fail_msg("no phone %s ext %s in %s", e164, ext ? ext : "-", dump);
  }
  assert_string_equal(json_string_value(json_object_get(p, "line")), line);
  assert_string_equal(json_string_value(json_object_get(p, "region")), region);
}

static long long hits(const char *dir, const char *query) {
  json_t *a = OKJ(dir, "customer", "list", "--search", query);
  long long n = (long long)json_array_size(a);
  json_decref(a);
  return n;
}

static void test_forms_countries_overseas(void **state) {
  (void)state;
  const char *A = path("A");
  init(A);
  char *id = added_id(OK(A, "customer", "add", "--json", "--name", "Standard Dupont", "--phone",
                         "01 42 68 53 00 poste 12", "--phone", "+33 (0)1 42 68 53 00, ext. 305",
                         "--phone", "0033 6 12 34 56 78", "--phone", "0692 12 34 56", "--phone",
                         "0639 12 34 56", "--phone", "0690 12 34 56", "--phone", "0696 12 34 56",
                         "--phone", "0694 20 12 34", "--phone", "+32 470 12 34 56", "--phone",
                         "+1 (415) 555-2671 x20", "--phone", "+81 3-1234-5678", "--phone",
                         "+41 44 668 18 00"));
  json_t *c = OKJ(A, "customer", "show", id);
  const json_t *phones = json_object_get(c, "phones");
  assert_int_equal(json_array_size(phones), 12);
  expect_phone(phones, "+33142685300", "12", "fixed_line", "FR");
  expect_phone(phones, "+33142685300", "305", "fixed_line", "FR");
  expect_phone(phones, "+33612345678", NULL, "mobile", "FR");
  expect_phone(phones, "+262692123456", NULL, "mobile", "RE");  /* Réunion, not +33 692 */
  expect_phone(phones, "+262639123456", NULL, "unknown", "YT"); /* Mayotte */
  expect_phone(phones, "+590690123456", NULL, "mobile", "GP");
  expect_phone(phones, "+596696123456", NULL, "mobile", "MQ");
  expect_phone(phones, "+594694201234", NULL, "mobile", "GF");
  expect_phone(phones, "+32470123456", NULL, "mobile", "BE");
  expect_phone(phones, "+14155552671", "20", "fixed_line_or_mobile", "US");
  expect_phone(phones, "+81312345678", NULL, "fixed_line", "JP");
  expect_phone(phones, "+41446681800", NULL, "fixed_line", "CH");
  /* The label the user would get: mobile for mobile lines (Mayotte's 0639
   * too, from the French attribution), work otherwise. */
  assert_string_equal(
      json_string_value(json_object_get(phone_of(phones, "+262639123456", NULL), "type")),
      "mobile");
  assert_string_equal(
      json_string_value(json_object_get(phone_of(phones, "+33142685300", "12"), "type")), "work");
  json_decref(c);
  char *show = OK(A, "customer", "show", id);
  assert_non_null(strstr(show, "+33142685300 ext. 12 (work, fixed line)"));
  assert_non_null(strstr(show, "+262692123456 (mobile)"));
  free(show);

  /* Search in any written form finds it; the extension is not searched. */
  static const char *const forms[] = {"01 42 68 53 00", "0142685300",    "+33 1 42 68 53 00",
                                      "0692 12 34 56",  "+262692123456", "06.12.34.56.78",
                                      "415-555-2671",   "470 12 34 56"};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
    if (hits(A, forms[i]) != 1) fail_msg("search \"%s\": not found", forms[i]);
  assert_int_equal(hits(A, "305"), 0);

  /* Removing the number without its extension removes both extensions. */
  OK1(A, "customer", "edit", id, "--remove-phone", "01 42 68 53 00");
  c = OKJ(A, "customer", "show", id);
  assert_int_equal(json_array_size(json_object_get(c, "phones")), 10);
  json_decref(c);

  /* Refused, with the reason: letters, a wrong length, an unknown code. */
  static const char *const bad[] = {"0800-FLEURS", "06 12 34 56 7", "+999 1234 5678",
                                    "01 42 68 53 00 poste"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    proc_result r;
    assert_int_not_equal(RUN(A, &r, "customer", "add", "--name", "X", "--phone", bad[i]), 0);
    assert_non_null(strstr(r.err, "invalid phone number"));
    proc_result_free(&r);
  }
  free(id);
}

static void test_region(void **state) {
  (void)state;
  const char *A = path("A");
  OK1(A, "init", "--region", "be");
  json_t *cfg = OKJ(A, "config");
  assert_string_equal(json_string_value(json_object_get(cfg, "region")), "BE");
  json_decref(cfg);
  char *id = added_id(OK(A, "customer", "add", "--json", "--name", "Brasserie", "--phone",
                         "02 555 12 34", "--phone", "0470 12 34 56 poste 4"));
  /* Switzerland from now on; what is stored does not change. */
  char *out = OK(A, "config", "region", "CH");
  assert_string_equal(out, "CH\n");
  free(out);
  OK1(A, "customer", "edit", id, "--phone", "044 668 18 00");
  json_t *c = OKJ(A, "customer", "show", id);
  const json_t *phones = json_object_get(c, "phones");
  assert_int_equal(json_array_size(phones), 3);
  expect_phone(phones, "+3225551234", NULL, "fixed_line", "BE");
  expect_phone(phones, "+32470123456", "4", "mobile", "BE");
  /* Labelled from the number read in the replica's region. */
  assert_string_equal(
      json_string_value(json_object_get(phone_of(phones, "+32470123456", "4"), "type")), "mobile");
  expect_phone(phones, "+41446681800", NULL, "fixed_line", "CH");
  json_decref(c);
  /* Unknown regions are refused, at init and later. */
  proc_result r;
  assert_int_not_equal(RUN(A, &r, "config", "region", "ZZ"), 0);
  assert_non_null(strstr(r.err, "unknown region"));
  proc_result_free(&r);
  assert_int_not_equal(RUN(path("B"), &r, "init", "--region", "XX"), 0);
  assert_non_null(strstr(r.err, "--region"));
  proc_result_free(&r);
  out = OK(A, "config", "region");
  assert_string_equal(out, "CH\n");
  free(out);
  free(id);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_forms_countries_overseas, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_region, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
