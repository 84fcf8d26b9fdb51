/* engine/base/arena.h - a bump allocator: one per batch or per decoded record,
 * freed all at once (STYLE 8). */
#ifndef CARNET_ENGINE_ARENA_H
#define CARNET_ENGINE_ARENA_H

#include <stddef.h>

typedef struct carnet__arena_chunk carnet__arena_chunk;

typedef struct carnet__arena {
  carnet__arena_chunk *head;
  size_t chunk_size;
} carnet__arena;

void carnet__arena_init(carnet__arena *a, size_t chunk_size);
/* Frees every chunk; the arena can be used again. */
void carnet__arena_free(carnet__arena *a);
/* NULL on ENOMEM. Aligned to 8. */
void *carnet__arena_alloc(carnet__arena *a, size_t n);
/* Copies n bytes (and adds a NUL after them). NULL on ENOMEM. */
void *carnet__arena_dup(carnet__arena *a, const void *p, size_t n);

#endif
