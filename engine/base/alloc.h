/* engine/base/alloc.h - the allocator every part of the library allocates with
 * (carnet/alloc.h). Use these, never malloc/free directly, for any block
 * the library owns or hands out, so that carnet_free and an app's
 * allocator (carnet_allocator_set) pair up. Memory made by another library
 * (msgpack_sbuffer, libzip, expat, strdup) is released with that library's
 * own call, not with carnet__free.
 */
#ifndef CARNET_ENGINE_ALLOC_H
#define CARNET_ENGINE_ALLOC_H

#include <stddef.h>

#include "carnet/alloc.h"

void *carnet__malloc(size_t n);
void *carnet__calloc(size_t count, size_t n);
void *carnet__realloc(void *p, size_t n);
void carnet__free(void *p);
/* A copy of `s` (NUL-terminated), or NULL when out of memory. */
char *carnet__strdup(const char *s);
/* A copy of the first `n` bytes of `s` at most, NUL-terminated. */
char *carnet__strndup(const char *s, size_t n);

#endif
