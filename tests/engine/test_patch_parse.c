/* tests/engine/test_patch_parse.c - carnet_patch_parse and
 * carnet_patch_parse_custom (engine/crm/patch_parse.c): what a person typed
 * for a field, converted as the command line converts its flags, and the
 * message of a refusal naming the field as the caller calls it. Every
 * error the header lists is produced here.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/carnet.h"
#include "support/replicas.h"

/* An allocator that fails on demand, set before the library's first
 * allocation (carnet/alloc.h). */
static bool g_fail;
static void *t_malloc(size_t n) {
  return g_fail ? NULL : malloc(n);
}
static void *t_realloc(void *p, size_t n) {
  return g_fail ? NULL : realloc(p, n);
}
static void *t_calloc(size_t c, size_t n) {
  return g_fail ? NULL : calloc(c, n);
}
static const carnet_allocator failing = {t_malloc, t_realloc, t_calloc, free};

/* The message of a refusal, which must contain `want`. */
static void refused(carnet_patch *p, int rc, int code, const char *want) {
  if (rc != code)
    fail_msg("rc %d (%s), want %d (want message \"%s\")", rc, carnet_patch_errmsg(p), code, want);
  if (strstr(carnet_patch_errmsg(p), want) == NULL)
    fail_msg("message \"%s\", want \"%s\" in it", carnet_patch_errmsg(p), want);
}

static void test_messages_name_the_field(void **state) {
  (void)state;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  assert_non_null(p);
  /* The catalogue's name by default, the value as typed. */
  refused(p, carnet_patch_parse(p, CARNET_F_DUE_DATE, "32/01/2026", NULL), CARNET_EINVAL,
          "invalid date '32/01/2026' for due_date: YYYY-MM-DD, e.g. 2026-11-20");
  refused(p, carnet_patch_parse(p, CARNET_F_DUE_DATE, "2026-02-30", NULL), CARNET_EINVAL,
          "invalid date '2026-02-30' for due_date");
  /* The caller's name: a command line's flag. */
  refused(p, carnet_patch_parse(p, CARNET_F_DATE, "demain", "--date"), CARNET_EINVAL,
          "invalid date 'demain' for --date:");
  assert_int_equal(carnet_patch_parse(p, CARNET_F_DUE_DATE, "2026-12-31", NULL), 0);
  assert_string_equal(carnet_patch_errmsg(p), ""); /* the last call succeeded */
  assert_int_equal(carnet_patch_parse(p, CARNET_F_DUE_DATE, "", NULL), 0); /* clears */
  carnet_patch_free(p);

  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  refused(p, carnet_patch_parse(p, CARNET_F_DISCOUNT, "150", NULL), CARNET_EINVAL,
          "invalid discount '150': give a percentage from 0 to 100 with at most 2 decimals");
  refused(p, carnet_patch_parse(p, CARNET_F_DISCOUNT, "5.555", "--discount"), CARNET_EINVAL,
          "invalid discount '5.555'");
  refused(p, carnet_patch_parse(p, CARNET_F_CUSTOM, "surface=120", "--custom"), CARNET_EINVAL,
          "invalid --custom 'surface=120': write NAME:TYPE=VALUE, e.g. --custom "
          "'surface:number=120' (NAME= clears)");
  refused(p, carnet_patch_parse(p, CARNET_F_CUSTOM, "surface:taille=3", NULL), CARNET_EINVAL,
          "unknown custom field type 'taille': use string, number, date, list or checkbox");
  refused(p, carnet_patch_parse(p, CARNET_F_CUSTOM, "surface:number=cent", NULL), CARNET_EINVAL,
          "invalid value 'cent' for custom field 'surface' (number)");
  refused(p, carnet_patch_parse_custom(p, "surface", "number", "cent"), CARNET_EINVAL,
          "invalid value 'cent' for custom field 'surface' (number)");
  refused(p, carnet_patch_parse_custom(p, "depuis", "date", "15/03/2023"), CARNET_EINVAL,
          "invalid value '15/03/2023' for custom field 'depuis' (date YYYY-MM-DD)");
  refused(p, carnet_patch_parse_custom(p, "x", "bool", "1"), CARNET_EINVAL,
          "unknown custom field type 'bool'");
  refused(p, carnet_patch_parse_custom(p, "a/b", NULL, "1"), CARNET_EINVAL,
          "invalid custom field name 'a/b'");
  refused(p, carnet_patch_parse_custom(p, NULL, NULL, "1"), CARNET_EINVAL,
          "missing custom field name");
  refused(p, carnet_patch_parse(p, CARNET_F_PHONES, "", "phones"), CARNET_EINVAL,
          "missing phone number for phones");
  /* A field of another kind is the caller's bug. */
  refused(p, carnet_patch_parse(p, CARNET_F_DUE_DATE, "2026-01-01", NULL), CARNET_EMISUSE,
          "no field");
  assert_int_equal(carnet_patch_parse(NULL, CARNET_F_NAME, "x", NULL), CARNET_EMISUSE);
  assert_int_equal(carnet_patch_parse_custom(NULL, "x", NULL, "x"), CARNET_EMISUSE);
  assert_string_equal(carnet_patch_errmsg(NULL), "");
  carnet_patch_free(p);
}

static void test_limit_and_memory(void **state) {
  (void)state;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  int rc = 0;
  for (int i = 0; rc == 0 && i < 5000; i++)
    rc = carnet_patch_parse(p, CARNET_F_TAGS, "vip", "--tag");
  refused(p, rc, CARNET_ELIMIT, "invalid value 'vip' for --tag:");
  carnet_patch_free(p);

  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  g_fail = true;
  rc = carnet_patch_parse(p, CARNET_F_NAME, "Jean", NULL);
  int rc2 = carnet_patch_parse_custom(p, "surface", "number", "12");
  g_fail = false;
  assert_int_equal(rc, CARNET_ENOMEM);
  assert_int_equal(rc2, CARNET_ENOMEM);
  carnet_patch_free(p);
}

/* What is stored is what `carnet customer add` stores for the same flags. */
static void test_values_stored(void **state) {
  (void)state;
  rfx *f = rfx_new("parse", 1, 1767225600000ull, 7);
  carnet_replica *r = f->r[0];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_record *rec = NULL;
  carnet_id id;
  const char *const *el;
  const carnet_custom *cu;
  ASSERT_OK(r, carnet_patch_parse(p, CARNET_F_NAME, "Hélène Martin", NULL));
  ASSERT_OK(r, carnet_patch_parse(p, CARNET_F_PHONES, "06 12 34 56 78", NULL));
  ASSERT_OK(r, carnet_patch_parse(p, CARNET_F_PHONES, "01 45 67 89 10", NULL));
  ASSERT_OK(r, carnet_patch_parse(p, CARNET_F_DISCOUNT, "5,5%", NULL));
  ASSERT_OK(r, carnet_patch_parse(p, CARNET_F_CUSTOM, "surface:number=120", NULL));
  ASSERT_OK(r, carnet_patch_parse_custom(p, "depuis", "date", "2023-03-15"));
  ASSERT_OK(r, carnet_patch_parse_custom(p, "note", NULL, "libre"));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &id));
  ASSERT_OK(r, carnet_record_get(r, &id, &rec));
  assert_int_equal(carnet_record_elems(rec, CARNET_F_PHONES, &el), 2);
  assert_true(
      (strcmp(el[0], "mobile:+33612345678") == 0 && strcmp(el[1], "work:+33145678910") == 0) ||
      (strcmp(el[1], "mobile:+33612345678") == 0 && strcmp(el[0], "work:+33145678910") == 0));
  assert_string_equal(carnet_record_str(rec, CARNET_F_DISCOUNT), "550");
  size_t n = carnet_record_customs(rec, &cu);
  assert_int_equal(n, 3);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(cu[i].name, "surface") == 0) {
      assert_int_equal(cu[i].type, CARNET_CUSTOM_NUMBER);
      assert_string_equal(cu[i].value, "120");
    } else if (strcmp(cu[i].name, "depuis") == 0) {
      assert_int_equal(cu[i].type, CARNET_CUSTOM_DATE);
    } else {
      assert_string_equal(cu[i].name, "note");
      assert_int_equal(cu[i].type, CARNET_CUSTOM_STRING);
    }
  }
  carnet_record_free(rec);
  carnet_patch_free(p);
  /* Clearing: "" for a scalar and for a custom field. */
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(r, carnet_patch_parse(p, CARNET_F_DISCOUNT, "", NULL));
  ASSERT_OK(r, carnet_patch_parse(p, CARNET_F_CUSTOM, "surface=", NULL));
  ASSERT_OK(r, carnet_record_update_commit(r, &id, p));
  ASSERT_OK(r, carnet_record_get(r, &id, &rec));
  assert_null(carnet_record_str(rec, CARNET_F_DISCOUNT));
  assert_int_equal(carnet_record_customs(rec, &cu), 2);
  carnet_record_free(rec);
  carnet_patch_free(p);
  rfx_free(f);
}

int main(void) {
  if (carnet_allocator_set(&failing) != 0) {
    fprintf(stderr, "carnet_allocator_set refused before first use\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_messages_name_the_field),
      cmocka_unit_test(test_limit_and_memory),
      cmocka_unit_test(test_values_stored),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
