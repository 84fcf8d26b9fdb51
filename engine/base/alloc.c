/* engine/base/alloc.c - the library's allocator (carnet/alloc.h).
 *
 * The allocator is the library's one process-wide setting (as libuv's
 * uv_replace_allocator and SQLite's SQLITE_CONFIG_MALLOC): a block given
 * to the app is released by carnet_free(p), which has no handle to find an
 * allocator on. It is frozen by the first allocation: `used` is set before
 * any block exists, and carnet_allocator_set refuses once it is, so a block
 * is always released by the functions that made it.
 */
#include "engine/base/alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/version.h"

static carnet_allocator current = {malloc, realloc, calloc, free};
static atomic_bool used;

/* Relaxed is enough: carnet_allocator_set is documented to run before any
 * other call, on one thread; the flag only catches a late call. */
static inline void mark_used(void) {
  if (!atomic_load_explicit(&used, memory_order_relaxed))
    atomic_store_explicit(&used, true, memory_order_relaxed);
}

void *carnet__malloc(size_t n) {
  mark_used();
  return current.malloc(n);
}

void *carnet__calloc(size_t count, size_t n) {
  mark_used();
  return current.calloc(count, n);
}

void *carnet__realloc(void *p, size_t n) {
  mark_used();
  return current.realloc(p, n);
}

void carnet__free(void *p) {
  if (p) current.free(p);
}

char *carnet__strdup(const char *s) {
  return carnet__strndup(s, strlen(s));
}

char *carnet__strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *d = carnet__malloc(len + 1);
  if (d) {
    memcpy(d, s, len);
    d[len] = '\0';
  }
  return d;
}

void carnet_free(void *p) {
  carnet__free(p);
}

int carnet_allocator_set(const carnet_allocator *a) {
  if (a && (!a->malloc || !a->realloc || !a->calloc || !a->free)) return CARNET_EINVAL;
  if (atomic_load(&used)) return CARNET_EBUSY;
  if (a)
    current = *a;
  else
    current = (carnet_allocator){malloc, realloc, calloc, free};
  return 0;
}

const char *carnet_version(int *major, int *minor, int *patch) {
  if (major) *major = CARNET_VERSION_MAJOR;
  if (minor) *minor = CARNET_VERSION_MINOR;
  if (patch) *patch = CARNET_VERSION_PATCH;
  return CARNET_VERSION_STRING;
}
