/* protocol/channel.h - the encrypted session after the handshake.
 *
 * Each direction is one crypto_secretstream_xchacha20poly1305 stream keyed
 * by the handshake. Every message is one frame (protocol/frame.h); the first
 * frame a side sends carries its stream header before its first ciphertext:
 *
 *   first frame:  header (24 B) || ciphertext (message + 17 B)
 *   later frames: ciphertext (message + 17 B)
 *
 * secretstream authenticates each message and its position in the stream,
 * so a changed byte, a replayed, dropped or reordered frame fails to open.
 * Only two tags are used: MESSAGE for every message and FINAL for the last
 * one (BYE). A FINAL followed by more bytes, any other tag, or a connection
 * that ends without a FINAL (a truncated stream) is an error: a peer cannot
 * cut a session short and have it look complete.
 *
 * A SEALED message (protocol/msg.h, protocol version 4) is followed by one
 * raw frame: its payload, a unit of a content file already sealed with the
 * content key, is neither encrypted nor authenticated by the channel. The
 * channel binds it to the (authenticated) SEALED before it, and to nothing
 * else: the raw frame must come right after it, be exactly `len` bytes long
 * and end with `mac`. The unit's own secretstream (content key, chained
 * state) then authenticates its bytes and its place (protocol/content.h C3).
 * A channel accepts SEALED only once told the session's version allows it
 * (`sealed_ok`); a raw frame is never taken for a message, nor the reverse.
 *
 * Like the handshake, a channel is a pure state machine: bytes in, bytes
 * appended to a carnet__obuf out, no I/O.
 */
#ifndef CARNET_PROTOCOL_CHANNEL_H
#define CARNET_PROTOCOL_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "carnet/types.h"
#include "protocol/frame.h"
#include "protocol/handshake.h"
#include "protocol/msg.h"
#include "protocol/obuf.h"

#define CARNET_CHANNEL_HEADER_BYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define CARNET_CHANNEL_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
/* The largest plaintext of one frame (the first frame also holds the
 * stream header). */
#define CARNET_CHANNEL_MSG_BYTES_MAX                                                               \
  (CARNET_FRAME_BYTES_MAX - CARNET_CHANNEL_HEADER_BYTES - CARNET_CHANNEL_ABYTES)

_Static_assert(CARNET_MSG_BYTES_MAX <= CARNET_CHANNEL_MSG_BYTES_MAX,
               "the largest session message fits one encrypted frame");

typedef struct carnet__channel {
  crypto_secretstream_xchacha20poly1305_state tx, rx;
  uint8_t tx_key[CARNET_HS_KEY_BYTES], rx_key[CARNET_HS_KEY_BYTES]; /* wiped once used */
  bool tx_started, rx_started; /* the stream header was sent / received */
  bool tx_final, rx_final;     /* FINAL sent / received: that direction is over */
  bool sealed_ok;              /* the session's version has SEALED (both ways) */
  bool sealed_wait;            /* a SEALED was opened: its raw frame is next */
  carnet__msg sealed;          /* that SEALED (no pointers into buffers) */
  int err;                     /* sticky */
  carnet__frame_reader rd;
  uint8_t *plain; /* the last opened message */
  size_t plain_cap;
  carnet__obuf scratch; /* encoded message before sealing */
  char errmsg[160];
} carnet__channel;

/* Brief: a channel with the given direction keys (tx: what we send). The
 * keys are copied. No allocation. After the call free it with
 * carnet__channel_free. */
void carnet__channel_init(carnet__channel *ch, const uint8_t tx_key[CARNET_HS_KEY_BYTES],
                          const uint8_t rx_key[CARNET_HS_KEY_BYTES]);

/* Brief: a channel with the keys of a finished handshake; the handshake's
 * copies of the keys are wiped. Errors: CARNET_EMISUSE (the handshake is
 * not done); on error the channel is still initialised (and failed), and
 * must be freed. */
int carnet__channel_init_hs(carnet__channel *ch, carnet__hs *hs);

/* Brief: wipe the keys and states, free the memory. NULL is a no-op. */
void carnet__channel_free(carnet__channel *ch);

/* Brief: encrypt `len` bytes (1 .. CARNET_CHANNEL_MSG_BYTES_MAX) as one
 * frame appended to `out`; `final` ends our direction (TAG_FINAL).
 * Errors: CARNET_EMISUSE (empty or oversized message, or our direction
 * already ended), CARNET_ELIMIT (`out` full: drain it and send again; the
 * channel is unchanged), CARNET_ENOMEM; other errors are sticky. */
int carnet__channel_seal(carnet__channel *ch, const void *msg, size_t len, bool final,
                         carnet__obuf *out);

/* Brief: consume received bytes from `*data` (`*len`), advancing both,
 * until one message is opened. Returns 1 with `*msg` (valid until the next
 * call on the channel) and `*final` (it was the peer's last message), or 0
 * when every byte was consumed without completing a frame.
 * Errors, sticky (close the connection): CARNET_EPROTO (a frame that does
 * not open: tampered, replayed, reordered, from another session; an unknown
 * tag; bytes after the peer's FINAL; an empty or oversized frame),
 * CARNET_ENOMEM. */
int carnet__channel_open(carnet__channel *ch, const uint8_t **data, size_t *len, carnet_buf *msg,
                         bool *final);

/* Brief: the connection closed (EOF). Returns 0 when the peer's stream
 * ended cleanly (its FINAL was received and no partial frame is pending),
 * else CARNET_EPROTO (truncated: the session did not end, whatever was
 * received may be incomplete), sticky. */
int carnet__channel_eof(carnet__channel *ch);

/* Brief: encode `m` and seal it; a BYE is sealed FINAL, any other message
 * not. Errors: as carnet__msg_encode and carnet__channel_seal. */
int carnet__channel_send(carnet__channel *ch, const carnet__msg *m, carnet__obuf *out);

/* Brief: send a SEALED: `m` has the attachment, the offset and the unit
 * in `bytes` (CARNET_MSG_SEALED_BYTES_MIN .. CARNET_MSG_CHUNK_BYTES_MAX);
 * the message (len and mac filled here) is sealed as one frame and the
 * unit appended as the raw frame after it. Errors: CARNET_EMISUSE (not a
 * SEALED, a unit out of its bounds, or `sealed_ok` false), and as
 * carnet__channel_seal; on error nothing is appended. */
int carnet__channel_send_sealed(carnet__channel *ch, const carnet__msg *m, carnet__obuf *out);

/* Brief: open the next message and decode it. Returns 1 with `*m` (its
 * bytes live until the next call on the channel), or 0 (feed more).
 * A SEALED is returned once its raw frame is in, with `m->bytes` the unit
 * (pointing into `*data` or into the channel, until the next call).
 * Errors, sticky: those of carnet__channel_open, and CARNET_EPROTO when the
 * message does not decode, or when FINAL does not come with BYE (a BYE
 * without FINAL or a FINAL on another message), or for a SEALED when
 * `sealed_ok` is false or its raw frame's length or last 16 bytes differ
 * from what it said. */
int carnet__channel_recv(carnet__channel *ch, const uint8_t **data, size_t *len, carnet__msg *m);

/* Brief: the detail of the channel's error ("" if none). */
const char *carnet__channel_errmsg(const carnet__channel *ch);

#endif
