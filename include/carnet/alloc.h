/* carnet/alloc.h - memory the library hands out, and the allocator it uses.
 *
 * Every block the library returns for the caller to release (a batch from
 * carnet_changes_encode, the pairs of carnet_dupes_find, ...) is released
 * with carnet_free, never with the C library's free(): an app that replaces
 * the allocator, or links a different C runtime, still pairs each block
 * with the allocator that made it. Handles (replicas, records, patches,
 * nodes) have their own close/free call.
 */
#ifndef CARNET_ALLOC_H
#define CARNET_ALLOC_H

#include <stddef.h>

#include "carnet/api.h"

CARNET_BEGIN_DECLS

/* Brief: release a block the library returned. NULL is a no-op. Thread-safe
 * (as the allocator is). */
CARNET_API void carnet_free(void *p);

/* The four functions the library allocates with. Each behaves as its C
 * library namesake (malloc(0) may return NULL or a unique pointer;
 * realloc(NULL, n) allocates; free(NULL) does nothing), and all four must be
 * safe to call from any thread. */
typedef struct carnet_allocator {
  void *(*malloc)(size_t size);
  void *(*realloc)(void *p, size_t size);
  void *(*calloc)(size_t count, size_t size);
  void (*free)(void *p);
} carnet_allocator;

/* Brief: make the library allocate with `a` (copied) instead of the C
 * library's malloc family; NULL puts the C library's back. Like libuv's
 * uv_replace_allocator and SQLite's SQLITE_CONFIG_MALLOC, this is the one
 * process-wide setting of the library: call it before any other carnet_*
 * call, from one thread; once the library has allocated anything it is
 * frozen, so no block is ever released by an allocator that did not make it.
 * Memory that the libraries Carnet uses allocate for themselves (LMDB,
 * libuv, libsodium, msgpack-c) is not affected.
 * Errors: CARNET_EINVAL (a function of `a` is NULL: nothing changed),
 * CARNET_EBUSY (the library has already allocated with the current
 * allocator: nothing changed; call this first). */
CARNET_API int carnet_allocator_set(const carnet_allocator *a);

CARNET_END_DECLS

#endif
