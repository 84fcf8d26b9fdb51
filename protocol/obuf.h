/* protocol/obuf.h - a growable byte buffer for bytes on their way out.
 *
 * The protocol layer never touches a socket: the handshake and the channel
 * append whole frames to a carnet__obuf, and the caller (replica/ over libuv,
 * or a test over an in-memory pipe) writes them out and drops what it wrote
 * with carnet__obuf_consume. The buffer has a hard size limit, so a peer that
 * stops reading cannot make us queue without bound: past the limit an append
 * fails with CARNET_ELIMIT and the caller must stop producing until it has
 * drained the buffer.
 */
#ifndef CARNET_PROTOCOL_OBUF_H
#define CARNET_PROTOCOL_OBUF_H

#include <stddef.h>
#include <stdint.h>

/* Room for a few full frames; a sync session sends one batch at a time and
 * waits for the socket to drain, so more than this is a bug or a stalled
 * peer. */
#define CARNET_OBUF_BYTES_MAX (32u * 1024u * 1024u)

typedef struct carnet__obuf {
  uint8_t *base;
  size_t len; /* bytes held, from base */
  size_t cap; /* bytes allocated */
} carnet__obuf;

/* Brief: an empty buffer (no allocation until the first append). */
void carnet__obuf_init(carnet__obuf *b);

/* Brief: free the memory (the buffer is empty and usable again). The bytes
 * are wiped first: an output buffer may have held plaintext. NULL is a
 * no-op. */
void carnet__obuf_free(carnet__obuf *b);

/* Brief: make room for `n` more bytes. Errors: CARNET_ELIMIT (the buffer
 * would exceed CARNET_OBUF_BYTES_MAX: drain it first), CARNET_ENOMEM. */
int carnet__obuf_reserve(carnet__obuf *b, size_t n);

/* Brief: append `n` bytes (which must not point into the buffer). Errors as
 * carnet__obuf_reserve; on error nothing is appended. */
int carnet__obuf_append(carnet__obuf *b, const void *p, size_t n);

/* Brief: drop the first `n` bytes (n <= len): they were written out. */
void carnet__obuf_consume(carnet__obuf *b, size_t n);

/* Brief: a msgpack-c write callback appending to the carnet__obuf given as
 * `data`: msgpack_packer_init(&pk, obuf, carnet__obuf_mp_write). Returns 0,
 * or -1 when the append failed (msgpack-c passes it on as the packer's
 * result). */
int carnet__obuf_mp_write(void *data, const char *buf, size_t len);

#endif
