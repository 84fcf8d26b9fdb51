/* tests/abi/test_symbols.c - libcarnet.so exports exactly the symbols of
 * abi/libcarnet.symbols.
 *
 * The exports are read with `nm -D --defined-only` from the built library
 * ($CARNET_LIB) and compared with the list kept in the tree: a symbol
 * exported but not listed (an internal carnet__ function marked CARNET_API,
 * a lost -fvisibility=hidden) or listed but not exported (a removed or
 * renamed call) fails. The same check run on libcarnet_leak_probe.so
 * ($CARNET_LEAK_PROBE_LIB: libcarnet's objects plus one carnet__ function
 * marked visible, tests/abi/leak_probe.c) must fail and name it, which shows
 * the check would catch such a leak in the real library.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NAMES_MAX 1024
#define NAME_LEN 128

typedef struct names {
  char v[NAMES_MAX][NAME_LEN];
  size_t n;
} names;

static int cmp_name(const void *a, const void *b) {
  return strcmp(a, b);
}

static void names_add(names *s, const char *name) {
  assert_true(s->n < NAMES_MAX);
  assert_true(strlen(name) < NAME_LEN);
  strcpy(s->v[s->n++], name);
}

static void names_sort(names *s) {
  qsort(s->v, s->n, NAME_LEN, cmp_name);
}

static bool names_has(const names *s, const char *name) {
  return bsearch(name, s->v, s->n, NAME_LEN, cmp_name) != NULL;
}

/* The defined dynamic symbols of `lib`, version suffixes dropped. */
static void exported(const char *lib, names *out) {
  char cmd[4096], line[512];
  FILE *p;
  out->n = 0;
  snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s'", lib);
  assert_non_null(p = popen(cmd, "r"));
  while (fgets(line, sizeof line, p)) {
    char addr[64], type[8], name[NAME_LEN + 32];
    if (sscanf(line, "%63s %7s %159s", addr, type, name) != 3) continue;
    if (strcmp(type, "A") == 0) continue; /* the version node itself */
    name[strcspn(name, "@")] = '\0';
    names_add(out, name);
  }
  assert_int_equal(pclose(p), 0);
  names_sort(out);
}

/* The list kept in the tree: one name per line, '#' comments. */
static void listed(names *out) {
  const char *src = getenv("CARNET_SOURCE_DIR");
  char path[4096], line[512];
  FILE *f;
  assert_non_null(src);
  snprintf(path, sizeof path, "%s/abi/libcarnet.symbols", src);
  assert_non_null(f = fopen(path, "r"));
  out->n = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0' || line[0] == '#') continue;
    names_add(out, line);
  }
  fclose(f);
  names_sort(out);
}

/* Compare; print each difference; return the number of differences and
 * copy the first unexpected export to `first_extra`. */
static size_t compare(const names *got, const names *want, char first_extra[NAME_LEN]) {
  size_t bad = 0;
  first_extra[0] = '\0';
  for (size_t i = 0; i < got->n; i++)
    if (!names_has(want, got->v[i])) {
      fprintf(stderr, "exported but not in abi/libcarnet.symbols: %s%s\n", got->v[i],
              strncmp(got->v[i], "carnet__", 8) == 0 ? " (an internal function)" : "");
      if (!first_extra[0]) strcpy(first_extra, got->v[i]);
      bad++;
    }
  for (size_t i = 0; i < want->n; i++)
    if (!names_has(got, want->v[i])) {
      fprintf(stderr, "in abi/libcarnet.symbols but not exported: %s\n", want->v[i]);
      bad++;
    }
  return bad;
}

static void test_exports_match_the_list(void **state) {
  (void)state;
  static names got, want;
  char extra[NAME_LEN];
  const char *lib = getenv("CARNET_LIB");
  assert_non_null(lib);
  exported(lib, &got);
  listed(&want);
  assert_true(want.n > 100); /* the list was read */
  assert_int_equal(compare(&got, &want, extra), 0);
  for (size_t i = 0; i < got.n; i++) /* the rule the list itself keeps */
    assert_true(strncmp(got.v[i], "carnet_", 7) == 0 && strncmp(got.v[i], "carnet__", 8) != 0);
}

static void test_an_exported_internal_is_caught(void **state) {
  (void)state;
  static names got, want;
  char extra[NAME_LEN];
  const char *lib = getenv("CARNET_LEAK_PROBE_LIB");
  assert_non_null(lib);
  exported(lib, &got);
  listed(&want);
  fprintf(stderr, "(the next line is expected: the probe library leaks on purpose)\n");
  assert_int_equal(compare(&got, &want, extra), 1);
  assert_string_equal(extra, "carnet__leak_probe");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exports_match_the_list),
      cmocka_unit_test(test_an_exported_internal_is_caught),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
