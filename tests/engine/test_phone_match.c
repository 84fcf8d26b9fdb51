/* tests/engine/test_phone_match.c - engine/base/phone_match.cc and the
 * shortcuts of engine/base/phone.cc give what libphonenumber gives: the
 * number types, regions, possible lengths and trunk prefixes from the
 * metadata's own patterns compiled into automata, and the parse of "+33"
 * and nine digits. Every example number of the metadata (in international
 * and national form), then random and perturbed digit strings in many
 * regions, go through carnet__lpn_parse (the shortcuts) and
 * carnet__lpn_parse_ref (libphonenumber alone); any field that differs
 * fails the test.
 *
 * Usage: engine_test_phone_match [--seed=N]; the seed is printed on failure. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/phone.h"
#include "engine/base/phone_match.h"

static uint64_t g_seed = 17;
static uint64_t g_rng;

static uint32_t rnd(uint32_t n) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)((g_rng >> 11) % n);
}

static const char *type_name(carnet_phone_type t) {
  return carnet_phone_type_name(t);
}

/* Parse `text` both ways; false (after printing both) when they differ. */
static bool agree(const char *text, const char *region) {
  carnet__lpn a, b;
  int ra = carnet__lpn_parse(text, region, &a);
  int rb = carnet__lpn_parse_ref(text, region, &b);
  bool same = ra == rb;
  if (same && ra == 0)
    same = strcmp(a.e164, b.e164) == 0 && strcmp(a.region, b.region) == 0 && a.type == b.type &&
           a.valid == b.valid && a.possible == b.possible && a.from_default == b.from_default &&
           a.trunk_start == b.trunk_start;
  if (!same) {
    print_message("[seed %" PRIu64 "] '%s' in %s: fast rc %d %s %s %s valid %d possible %d "
                  "trunk %d; libphonenumber rc %d %s %s %s valid %d possible %d trunk %d\n",
                  g_seed, text, region, ra, a.e164, a.region, type_name(a.type), a.valid,
                  a.possible, a.trunk_start, rb, b.e164, b.region, type_name(b.type), b.valid,
                  b.possible, b.trunk_start);
    return false;
  }
  return true;
}

/* The tables cover nearly every calling code, and the ones the tests
 * below lean on. */
static void test_coverage(void **state) {
  (void)state;
  int covered = 0, left = 0, misordered = 0;
  carnet__phone_coverage(&covered, &left, &misordered);
  print_message("phone_match: %d calling codes covered, %d left to libphonenumber\n", covered,
                left);
  assert_true(covered >= 200);
  assert_int_equal(misordered, 0);
  assert_int_equal(carnet__lpn_country_code("FR"), 33);
  assert_int_equal(carnet__lpn_country_code("GB"), 44);
  assert_int_equal(carnet__lpn_country_code("ZZ"), 0);
  assert_int_equal(carnet__lpn_country_code("QQ"), 0);
  assert_int_equal(carnet__lpn_country_code("001"), 0);
  assert_int_equal(carnet__lpn_country_code("fr"), 0);
  static const int codes[] = {33, 262, 590, 594, 596, 508, 687, 689, 32, 41, 49,
                              44, 1,   39,  378, 34,  352, 377, 7,   61, 81};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    carnet__phone_facts f;
    assert_int_equal(carnet__phone_facts_of(codes[i], "612345678", 9, &f), 1);
  }
}

/* Facts read by hand from the metadata 8.12. */
static void test_known(void **state) {
  (void)state;
  carnet__phone_facts f;
  assert_int_equal(carnet__phone_facts_of(33, "612345678", 9, &f), 1);
  assert_string_equal(f.region, "FR");
  assert_int_equal(f.type, CARNET_PHONE_MOBILE);
  assert_true(f.possible);
  assert_false(f.trunk_start);
  assert_int_equal(carnet__phone_facts_of(33, "142685300", 9, &f), 1);
  assert_int_equal(f.type, CARNET_PHONE_FIXED_LINE);
  assert_int_equal(carnet__phone_facts_of(33, "800123456", 9, &f), 1);
  assert_int_equal(f.type, CARNET_PHONE_TOLL_FREE);
  assert_int_equal(carnet__phone_facts_of(33, "061234567", 9, &f), 1);
  assert_true(f.trunk_start);
  assert_int_equal(f.type, CARNET_PHONE_UNKNOWN);
  assert_int_equal(carnet__phone_facts_of(33, "61234567", 8, &f), 1);
  assert_false(f.possible);
  /* A national number: the trunk zero goes, the region's code comes. */
  int cc = 0;
  char nsn[32];
  size_t len = 0;
  assert_int_equal(carnet__phone_national("FR", "0612345678", 10, &cc, nsn, &len), 1);
  assert_int_equal(cc, 33);
  assert_string_equal(nsn, "612345678");
  assert_int_equal(carnet__phone_national("IT", "0236618300", 10, &cc, nsn, &len), 0);
  assert_int_equal(carnet__phone_national("FR", "0012345678", 10, &cc, nsn, &len), 0);
  /* +1: the region comes from the number (area code 416 is Canada's). */
  assert_int_equal(carnet__phone_facts_of(1, "4165550123", 10, &f), 1);
  assert_string_equal(f.region, "CA");
  assert_int_equal(carnet__phone_facts_of(1, "2015550123", 10, &f), 1);
  assert_string_equal(f.region, "US");
  assert_int_equal(f.type, CARNET_PHONE_FIXED_LINE_OR_MOBILE);
  /* Italy: the leading zero is part of the national number. */
  assert_int_equal(carnet__phone_facts_of(39, "0236618300", 10, &f), 1);
  assert_string_equal(f.region, "IT");
  assert_int_equal(f.type, CARNET_PHONE_FIXED_LINE);
}

/* Every example number of the metadata, as "+<code><number>" and in the
 * national form of its region, and each with one digit changed, dropped
 * or added. */
static void test_examples(void **state) {
  (void)state;
  char text[32], region[4], v[40];
  unsigned n = 0, bad = 0;
  g_rng = g_seed * 0x9e3779b97f4a7c15u + 1;
  for (size_t i = 0; carnet__phone_example(i, text, region); i++, n++) {
    const char *home = strcmp(region, "001") == 0 ? "FR" : region;
    /* The table of region codes says what the example's code says. */
    if (strcmp(region, "001") != 0) {
      const char *cc = carnet__lpn_code_text(carnet__lpn_country_code(region));
      assert_non_null(cc);
      assert_memory_equal(text + 1, cc, strlen(cc));
    }
    bad += !agree(text, home);
    /* The national form: the digits after the calling code. */
    size_t cl = strlen(carnet__lpn_code_text(carnet__lpn_country_code(home)));
    if (strcmp(region, "001") != 0) bad += !agree(text + 1 + cl, home);
    size_t len = strlen(text), at = 2 + rnd((uint32_t)(len - 2));
    snprintf(v, sizeof v, "%s", text);
    v[at] = (char)('0' + rnd(10));
    bad += !agree(v, home);
    snprintf(v, sizeof v, "%.*s%s", (int)at, text, text + at + 1);
    bad += !agree(v, home);
    snprintf(v, sizeof v, "%.*s%c%s", (int)at, text, (char)('0' + rnd(10)), text + at);
    bad += !agree(v, home);
    if (bad > 20) break;
  }
  print_message("phone_match: %u example numbers\n", n);
  assert_true(n > 1000);
  assert_int_equal(bad, 0);
}

/* Random digits in many regions: the French ones (metropolitan, overseas),
 * its neighbours, +1 (many regions share it), Italy (leading zero), a few
 * with shared codes (+7, +44, +47, +61, +262, +590) and others. */
static void test_random(void **state) {
  (void)state;
  static const char *const regions[] = {
      "FR", "RE", "YT", "GP", "MQ", "GF", "BL", "MF", "PM", "NC", "PF", "WF", "BE", "CH", "DE",
      "GB", "JE", "GG", "IM", "US", "CA", "JM", "IT", "VA", "SM", "ES", "LU", "MC", "NL", "AT",
      "PT", "NO", "SJ", "RU", "KZ", "AU", "CX", "MA", "DZ", "TN", "SN", "CI", "JP", "BR", "IN"};
  const size_t nregions = sizeof regions / sizeof regions[0];
  char text[40];
  unsigned bad = 0, n = 0;
  g_rng = g_seed * 0x2545f4914f6cdd1du + 7;
  for (int k = 0; k < 15000 && bad <= 20; k++, n++) {
    const char *home = regions[rnd((uint32_t)nregions)];
    size_t len = 0, nd = 4 + rnd(10);
    int form = (int)rnd(4);
    if (form == 0) { /* international */
      len = (size_t)snprintf(text, sizeof text, "+%s",
                             carnet__lpn_code_text(carnet__lpn_country_code(home)));
    } else if (form == 1) { /* national, with the usual trunk zero */
      text[len++] = '0';
    }
    /* A leading digit drawn from 0-9, then digits: most land in some range,
     * many do not. */
    for (size_t i = 0; i < nd; i++) {
      text[len++] = (char)('0' + rnd(10));
      if (form == 3 && i % 2 == 1 && i + 1 < nd) text[len++] = ' ';
    }
    text[len] = '\0';
    bad += !agree(text, home);
  }
  print_message("phone_match: %u random numbers\n", n);
  assert_int_equal(bad, 0);
}

/* National numbers ("0", a digit 1-9, then digits with single spaces, dots
 * or hyphens) in regions whose trunk prefix is "0" (read from the metadata
 * by carnet__phone_national) and in a few others (left to libphonenumber):
 * short, long, viable with and without the zero; and the same after "+" and
 * the region's code (carnet__phone_international). */
static void test_national(void **state) {
  (void)state;
  static const char *const regions[] = {"FR", "RE", "YT", "GP", "MQ", "GF", "PM", "BE", "CH",
                                        "DE", "GB", "JE", "NL", "AT", "IE", "SE", "FI", "AX",
                                        "RU", "KZ", "AU", "NZ", "IT", "US", "ES", "LU", "MC"};
  static const char seps[] = {' ', '.', '-'};
  const size_t nregions = sizeof regions / sizeof regions[0];
  char text[64], nsn[32];
  unsigned bad = 0, quick = 0, iquick = 0;
  int cc;
  size_t len;
  g_rng = g_seed * 0x9e3779b97f4a7c15u + 99;
  for (int k = 0; k < 6000 && bad <= 20; k++) {
    const char *home = regions[rnd((uint32_t)nregions)];
    size_t o = 0, nd = 3 + rnd(16);
    char digits[24];
    digits[0] = '0';
    digits[1] = (char)('1' + rnd(9));
    for (size_t i = 2; i < nd; i++)
      digits[i] = (char)('0' + rnd(10));
    digits[nd] = '\0';
    for (size_t i = 0; i < nd; i++) {
      if (i > 0 && rnd(3) == 0) text[o++] = seps[rnd(3)];
      text[o++] = digits[i];
    }
    text[o] = '\0';
    bad += !agree(text, home);
    quick += carnet__phone_national(home, digits, nd, &cc, nsn, &len) == 1;
    /* The same digits after "+" and the region's code (without the zero,
     * mostly), separators anywhere between digits. */
    const char *code = carnet__lpn_code_text(carnet__lpn_country_code(home));
    char intl[24];
    size_t ni = (size_t)snprintf(intl, sizeof intl, "%s%s", code, digits + (rnd(4) ? 1 : 0));
    o = 0;
    text[o++] = '+';
    for (size_t i = 0; i < ni; i++) {
      if (i > 0 && rnd(3) == 0) text[o++] = seps[rnd(3)];
      text[o++] = intl[i];
    }
    text[o] = '\0';
    bad += !agree(text, home);
    iquick += carnet__phone_international(intl, ni, &cc, nsn, &len) == 1;
  }
  print_message("phone_match: %u national and %u international numbers read from the metadata\n",
                quick, iquick);
  assert_true(quick > 2500);
  assert_true(iquick > 2500);
  assert_int_equal(bad, 0);
}

/* The French written forms the CRM sees most, digit by digit: every
 * leading pair, mobile and fixed. */
static void test_french(void **state) {
  (void)state;
  char text[40];
  unsigned bad = 0;
  g_rng = g_seed * 0x9e3779b97f4a7c15u + 33;
  for (int a = 0; a < 100; a++) {
    for (int k = 0; k < 20; k++) {
      unsigned rest = rnd(10000000);
      snprintf(text, sizeof text, "+33 %d %02d %02u %02u %02u %02u", a / 10, a % 10, rest / 100000,
               rest / 1000 % 100, rest / 10 % 100, rest % 10 * 10 + rnd(10));
      bad += !agree(text, "FR");
      snprintf(text, sizeof text, "0%d%d %02u %02u %02u", a / 10, a % 10, rest / 10000,
               rest / 100 % 100, rest % 100);
      bad += !agree(text, "FR");
    }
  }
  assert_int_equal(bad, 0);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strncmp(argv[i], "--seed=", 7) == 0) g_seed = strtoull(argv[i] + 7, NULL, 10);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_coverage), cmocka_unit_test(test_known),
      cmocka_unit_test(test_examples), cmocka_unit_test(test_random),
      cmocka_unit_test(test_national), cmocka_unit_test(test_french),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
