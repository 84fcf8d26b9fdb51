/* book/country.c - country names to ISO 3166 alpha-2 codes, from ICU's
 * locale data rather than a list of our own: every country ICU knows (its
 * list of ISO countries), under its French and English display names and
 * its alpha-3 code, compared folded (case, accents, spaces and punctuation
 * ignored, as column headers are: "Royaume-Uni", "royaume uni", "ÉTATS-UNIS").
 *
 * The table is built once per import (a few hundred ICU look-ups) and read
 * with a binary search per cell.
 */
#include <stdlib.h>
#include <string.h>
#include <unicode/uloc.h>
#include <unicode/ustring.h>

#include "book/import_int.h"
#include "engine/base/alloc.h"

typedef struct entry {
  char name[96]; /* folded */
  char code[3];
} entry;

struct carnet__countries {
  entry *v;
  size_t n;
};

static int entry_cmp(const void *a, const void *b) {
  return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* The display name of country `code` in `lang`, folded into `out`. */
static void display(const char *code, const char *lang, char *out, size_t len) {
  char locale[8], utf8[192];
  UChar name[96];
  UErrorCode st = U_ZERO_ERROR;
  int32_t n, u8len = 0;
  out[0] = '\0';
  locale[0] = '_';
  memcpy(locale + 1, code, 3);
  n = uloc_getDisplayCountry(locale, lang, name, (int32_t)(sizeof name / sizeof name[0]), &st);
  if (U_FAILURE(st) || n <= 0) return;
  st = U_ZERO_ERROR;
  u_strToUTF8(utf8, (int32_t)sizeof utf8 - 1, &u8len, name, n, &st);
  if (U_FAILURE(st) || u8len <= 0 || u8len >= (int32_t)sizeof utf8) return;
  utf8[u8len] = '\0';
  carnet__imp_fold(utf8, out, len);
}

int carnet__countries_load(carnet__countries **out) {
  static const char *const langs[] = {"fr", "en"};
  const char *const *codes = uloc_getISOCountries();
  size_t ncodes = 0;
  *out = NULL;
  while (codes && codes[ncodes])
    ncodes++;
  carnet__countries *c = carnet__calloc(1, sizeof *c);
  if (c == NULL || (c->v = carnet__calloc(ncodes * 3 + 1, sizeof *c->v)) == NULL) {
    carnet__free(c);
    return CARNET_ENOMEM;
  }
  for (size_t i = 0; i < ncodes; i++) {
    if (strlen(codes[i]) != 2) continue;
    for (size_t l = 0; l < sizeof langs / sizeof langs[0]; l++) {
      entry *e = &c->v[c->n];
      display(codes[i], langs[l], e->name, sizeof e->name);
      if (e->name[0] == '\0') continue;
      memcpy(e->code, codes[i], 3);
      c->n++;
    }
    char tmp[4] = {'_', codes[i][0], codes[i][1], '\0'};
    const char *iso3 = uloc_getISO3Country(tmp);
    if (iso3 && strlen(iso3) == 3) {
      entry *e = &c->v[c->n++];
      carnet__imp_fold(iso3, e->name, sizeof e->name);
      memcpy(e->code, codes[i], 3);
    }
  }
  qsort(c->v, c->n, sizeof *c->v, entry_cmp);
  *out = c;
  return 0;
}

void carnet__countries_free(carnet__countries *c) {
  if (c == NULL) return;
  carnet__free(c->v);
  carnet__free(c);
}

bool carnet__country_code(const carnet__countries *c, const char *text, char out[3]) {
  size_t n = strlen(text);
  bool letters = n == 2;
  for (size_t i = 0; letters && i < n; i++)
    letters = (text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z');
  if (letters) { /* a code already, in either case */
    out[0] = (char)(text[0] & ~0x20);
    out[1] = (char)(text[1] & ~0x20);
    out[2] = '\0';
    return true;
  }
  if (c == NULL || c->n == 0) return false;
  entry key;
  carnet__imp_fold(text, key.name, sizeof key.name);
  if (key.name[0] == '\0') return false;
  const entry *e = bsearch(&key, c->v, c->n, sizeof *c->v, entry_cmp);
  if (e == NULL) return false;
  memcpy(out, e->code, 3);
  return true;
}
