/* protocol/frame.h - length-prefixed frames, the unit of everything on the
 * wire.
 *
 * A frame is a 4-byte big-endian payload length, then the payload:
 *
 *   +----------------+----------------------+
 *   | length (u32 BE)| payload (length B)   |   1 <= length <= max
 *   +----------------+----------------------+
 *
 * The handshake reads with max = CARNET_HANDSHAKE_MSG_BYTES_MAX, the
 * encrypted channel with CARNET_FRAME_BYTES_MAX. A zero length is an error
 * (no message is empty, and refusing it leaves no way to keep a connection
 * busy for free). The reader refuses an oversized length as soon as the four
 * header bytes are in, before it buffers any of the payload, and it grows its
 * buffer with the bytes that actually arrive, so a lying header costs the
 * peer as much memory as it costs us.
 *
 * The reader is a pure state machine over bytes: feed it chunks of any size
 * (one byte at a time works) and it yields whole frames. It consumes input
 * only up to the end of the frame it returns, so the bytes after a frame stay
 * with the caller; the handshake relies on this to hand the first encrypted
 * frame, which may arrive in the same read, to the channel untouched.
 */
#ifndef CARNET_PROTOCOL_FRAME_H
#define CARNET_PROTOCOL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/types.h"
#include "protocol/obuf.h"

#define CARNET_FRAME_HEADER_BYTES 4u
/* The largest payload of any frame. An encrypted frame carries at most one
 * message, and the largest message is a BATCH (CARNET_BATCH_BYTES_MAX). */
#define CARNET_FRAME_BYTES_MAX (8u * 1024u * 1024u)

_Static_assert(CARNET_FRAME_BYTES_MAX < CARNET_OBUF_BYTES_MAX / 2,
               "the output buffer holds at least two full frames");

typedef struct carnet__frame_reader {
  uint8_t hdr[CARNET_FRAME_HEADER_BYTES];
  uint32_t hdr_have; /* header bytes seen of the frame in progress */
  uint32_t want;     /* its payload length, once the header is complete */
  uint32_t max;      /* the largest payload accepted */
  uint8_t *buf;      /* payload bytes received (grows as they arrive) */
  size_t have, cap;
  bool yielded; /* the last call returned a frame: start a new one */
  int err;      /* sticky: a reader that failed stays failed */
  int bad_line; /* the check that refused the bytes (STYLE 6) */
} carnet__frame_reader;

/* Brief: a reader for payloads of at most `max` bytes (1 ..
 * CARNET_FRAME_BYTES_MAX). No allocation until bytes arrive. */
void carnet__frame_reader_init(carnet__frame_reader *r, uint32_t max);

/* Brief: free the reader's memory (wiped: it may hold plaintext). NULL is a
 * no-op. */
void carnet__frame_reader_free(carnet__frame_reader *r);

/* Brief: consume bytes from `*data` (`*len` of them), advancing both, until
 * a frame is complete or the input runs out.
 * Returns 1 with `*frame` set to the payload when a frame is complete; the
 * payload lives in the reader until the next call. Returns 0 when every
 * input byte was consumed and no frame is complete yet (feed more).
 * Errors (sticky: every later call returns the same): CARNET_EPROTO (a zero
 * or oversized length: close the connection), CARNET_ENOMEM. */
int carnet__frame_read(carnet__frame_reader *r, const uint8_t **data, size_t *len,
                       carnet_buf *frame);

/* Brief: true when no partial frame is pending: the peer may close the
 * connection here without cutting a frame in two. */
bool carnet__frame_reader_idle(const carnet__frame_reader *r);

/* Brief: write the 4-byte header of a `len`-byte payload. */
void carnet__frame_header(uint8_t out[CARNET_FRAME_HEADER_BYTES], uint32_t len);

/* Brief: append a frame holding `len` bytes of `payload` to `out`.
 * Errors: CARNET_EMISUSE (len is 0), CARNET_ELIMIT (len exceeds `max`, or
 * the output buffer is full), CARNET_ENOMEM. On error `out` is unchanged. */
int carnet__frame_write(carnet__obuf *out, const void *payload, size_t len, uint32_t max);

/* Brief: frames built in place: begin appends a 4-byte placeholder header
 * and remembers where it is; the caller appends the payload to `out`; end
 * writes the header. Begin's errors: as carnet__obuf_reserve. End's errors:
 * CARNET_EMISUSE (empty payload), CARNET_ELIMIT (payload over `max`); on
 * error end removes the whole frame from `out`. */
int carnet__frame_begin(carnet__obuf *out, size_t *mark);
int carnet__frame_end(carnet__obuf *out, size_t mark, uint32_t max);

#endif
