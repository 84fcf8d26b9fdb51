/* Fuzz target: the page reader of `carnet salvage` (engine/store/store_pages.h),
 * which reads a damaged LMDB data file trusting nothing.
 * Invariants: any bytes either are refused as a file (no valid meta page)
 * or walk to the end without reading outside them (ASan would say so):
 * every entry handed over lies inside the buffer, each table's walk
 * terminates, and every damaged page reported is a page of the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/store/store_pages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct span {
  const uint8_t *lo, *hi;
  uint64_t npages;
  unsigned long entries;
} span;

static int on_entry(void *ctx, const void *k, size_t klen, const void *v, size_t vlen) {
  span *s = ctx;
  const uint8_t *kb = k, *vb = v;
  if (kb < s->lo || kb + klen > s->hi || vb < s->lo || vb + vlen > s->hi) abort();
  s->entries++;
  return 0;
}

static void on_bad(void *ctx, uint64_t pgno, const char *what, int line) {
  span *s = ctx;
  (void)pgno;
  if (what == NULL || what[0] == '\0' || line <= 0) abort();
  (void)s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const tables[] = {"meta",  "entities", "changes", "marks",  "index",
                                       "peers", "invites",  "certs",   "erased", "oppose"};
  carnet__pages *p = NULL;
  char why[256] = "";
  /* A private copy: the reader must not need more than it is given. */
  uint8_t *copy = malloc(size ? size : 1);
  if (copy == NULL) abort();
  memcpy(copy, data, size);
  int rc = carnet__pages_from_buffer(copy, size, &p, why, sizeof why);
  if (rc) {
    if (rc != CARNET_ECORRUPT || why[0] == '\0' || p != NULL) abort();
    free(copy);
    return 0;
  }
  span s = {copy, copy + size, carnet__pages_count(p), 0};
  if ((uint64_t)carnet__pages_size(p) * carnet__pages_count(p) > size) abort();
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    rc = carnet__pages_walk(p, tables[i], on_entry, on_bad, &s);
    if (rc != 0 && rc != CARNET_ENOTFOUND) abort();
  }
  carnet__pages_close(p);
  free(copy);
  return 0;
}
