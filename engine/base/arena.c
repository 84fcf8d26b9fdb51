/* engine/base/arena.c - bump allocator (see arena.h). */
#include "engine/base/arena.h"
#include "engine/base/alloc.h"

#include <stdlib.h>
#include <string.h>

struct carnet__arena_chunk {
  carnet__arena_chunk *next;
  size_t used, cap;
  /* Data follows, 8-aligned because the header is three 8-byte words. */
};

void carnet__arena_init(carnet__arena *a, size_t chunk_size) {
  a->head = NULL;
  a->chunk_size = chunk_size ? chunk_size : 4096;
}

void carnet__arena_free(carnet__arena *a) {
  carnet__arena_chunk *c = a->head;
  while (c) {
    carnet__arena_chunk *next = c->next;
    carnet__free(c);
    c = next;
  }
  a->head = NULL;
}

void *carnet__arena_alloc(carnet__arena *a, size_t n) {
  n = (n + 7u) & ~(size_t)7u;
  carnet__arena_chunk *c = a->head;
  if (c == NULL || c->cap - c->used < n) {
    size_t cap = n > a->chunk_size ? n : a->chunk_size;
    c = carnet__malloc(sizeof *c + cap);
    if (c == NULL) return NULL;
    c->used = 0;
    c->cap = cap;
    c->next = a->head;
    a->head = c;
  }
  void *p = (char *)(c + 1) + c->used;
  c->used += n;
  return p;
}

void *carnet__arena_dup(carnet__arena *a, const void *p, size_t n) {
  char *d = carnet__arena_alloc(a, n + 1);
  if (d == NULL) return NULL;
  if (n) memcpy(d, p, n);
  d[n] = '\0';
  return d;
}
