/* protocol/obuf.c - growable output buffer (see obuf.h). */
#include "protocol/obuf.h"
#include "engine/base/alloc.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carnet/error.h"

void carnet__obuf_init(carnet__obuf *b) {
  b->base = NULL;
  b->len = 0;
  b->cap = 0;
}

void carnet__obuf_free(carnet__obuf *b) {
  if (b == NULL) return;
  if (b->base) sodium_memzero(b->base, b->cap);
  carnet__free(b->base);
  carnet__obuf_init(b);
}

int carnet__obuf_reserve(carnet__obuf *b, size_t n) {
  if (n > CARNET_OBUF_BYTES_MAX - b->len) return CARNET_ELIMIT;
  size_t need = b->len + n;
  if (need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  if (cap > CARNET_OBUF_BYTES_MAX) cap = CARNET_OBUF_BYTES_MAX;
  /* Not realloc: the old block may hold plaintext, which is wiped before it
   * goes back to the allocator. */
  uint8_t *p = carnet__malloc(cap);
  if (p == NULL) return CARNET_ENOMEM;
  if (b->len) memcpy(p, b->base, b->len);
  if (b->base) sodium_memzero(b->base, b->cap);
  carnet__free(b->base);
  b->base = p;
  b->cap = cap;
  return 0;
}

int carnet__obuf_append(carnet__obuf *b, const void *p, size_t n) {
  int rc = carnet__obuf_reserve(b, n);
  if (rc) return rc;
  if (n) memcpy(b->base + b->len, p, n);
  b->len += n;
  return 0;
}

void carnet__obuf_consume(carnet__obuf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->base, b->base + n, b->len - n);
  b->len -= n;
}

int carnet__obuf_mp_write(void *data, const char *buf, size_t len) {
  return carnet__obuf_append(data, buf, len) == 0 ? 0 : -1;
}
