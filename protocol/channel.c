/* protocol/channel.c - secretstream over frames (see channel.h).
 *
 * One direction:
 *
 *   NEW --first seal/open: header--> STREAM --FINAL--> ENDED
 *                                       |                 |
 *   any frame that does not open,       +--> FAILED <-----+ bytes after FINAL
 *   an unknown tag                            (sticky)
 *
 * Invariants:
 * (C1) A message is handed to the caller only after secretstream has
 *      authenticated it and its position: a replayed, dropped, reordered or
 *      altered frame never yields plaintext.
 * (C2) A direction ends only with FINAL; EOF before it is a truncation
 *      error, bytes after it a protocol error.
 * (C3) Keys are wiped as soon as their stream state exists; the states are
 *      wiped at free.
 * (C4) A failure to queue output (ELIMIT, ENOMEM) changes nothing: the
 *      caller may drain and send the same message again.
 * (C5) The raw frame of a SEALED is the frame right after it, and is handed
 *      on only with it, only when its length and last 16 bytes are those
 *      the SEALED (authenticated, in its place) announced; SEALED is
 *      refused outright by a channel whose session has no SEALED.
 */
#include "protocol/channel.h"
#include "engine/base/alloc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"

/* The largest plaintext buffers kept between messages. */
#define RETAIN_MAX (64u * 1024u)

static int fail_at(carnet__channel *ch, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(carnet__channel *ch, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ch->errmsg, sizeof ch->errmsg, fmt, ap);
  va_end(ap);
  ch->err = rc;
  sodium_memzero(&ch->tx, sizeof ch->tx);
  sodium_memzero(&ch->rx, sizeof ch->rx);
  sodium_memzero(ch->tx_key, sizeof ch->tx_key);
  sodium_memzero(ch->rx_key, sizeof ch->rx_key);
  return rc;
}

void carnet__channel_init(carnet__channel *ch, const uint8_t tx_key[CARNET_HS_KEY_BYTES],
                          const uint8_t rx_key[CARNET_HS_KEY_BYTES]) {
  memset(ch, 0, sizeof *ch);
  memcpy(ch->tx_key, tx_key, sizeof ch->tx_key);
  memcpy(ch->rx_key, rx_key, sizeof ch->rx_key);
  carnet__frame_reader_init(&ch->rd, CARNET_FRAME_BYTES_MAX);
  carnet__obuf_init(&ch->scratch);
}

int carnet__channel_init_hs(carnet__channel *ch, carnet__hs *hs) {
  carnet__channel_init(ch, hs->tx_key, hs->rx_key);
  if (!carnet__hs_done(hs))
    return fail_at(ch, CARNET_EMISUSE, "channel: the handshake is not done");
  sodium_memzero(hs->tx_key, sizeof hs->tx_key);
  sodium_memzero(hs->rx_key, sizeof hs->rx_key);
  return 0;
}

void carnet__channel_free(carnet__channel *ch) {
  if (ch == NULL) return;
  sodium_memzero(&ch->tx, sizeof ch->tx);
  sodium_memzero(&ch->rx, sizeof ch->rx);
  sodium_memzero(ch->tx_key, sizeof ch->tx_key);
  sodium_memzero(ch->rx_key, sizeof ch->rx_key);
  carnet__frame_reader_free(&ch->rd);
  if (ch->plain) sodium_memzero(ch->plain, ch->plain_cap);
  carnet__free(ch->plain);
  ch->plain = NULL;
  ch->plain_cap = 0;
  carnet__obuf_free(&ch->scratch);
}

int carnet__channel_seal(carnet__channel *ch, const void *msg, size_t len, bool final,
                         carnet__obuf *out) {
  if (ch->err) return ch->err;
  if (ch->tx_final || len == 0 || len > CARNET_CHANNEL_MSG_BYTES_MAX) return CARNET_EMISUSE;
  size_t head = ch->tx_started ? 0 : CARNET_CHANNEL_HEADER_BYTES;
  size_t flen = head + len + CARNET_CHANNEL_ABYTES;
  /* C4: all the room first, then nothing can fail. */
  int rc = carnet__obuf_reserve(out, CARNET_FRAME_HEADER_BYTES + flen);
  if (rc) return rc;
  uint8_t *p = out->base + out->len;
  carnet__frame_header(p, (uint32_t)flen);
  p += CARNET_FRAME_HEADER_BYTES;
  if (!ch->tx_started) {
    crypto_secretstream_xchacha20poly1305_init_push(&ch->tx, p, ch->tx_key);
    sodium_memzero(ch->tx_key, sizeof ch->tx_key); /* C3 */
    ch->tx_started = true;
    p += CARNET_CHANNEL_HEADER_BYTES;
  }
  unsigned char tag = final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                            : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  if (crypto_secretstream_xchacha20poly1305_push(&ch->tx, p, NULL, msg, len, NULL, 0, tag) != 0)
    return fail_at(ch, CARNET_EMISUSE, "channel: cannot encrypt");
  out->len += CARNET_FRAME_HEADER_BYTES + flen;
  ch->tx_final = final;
  return 0;
}

int carnet__channel_open(carnet__channel *ch, const uint8_t **data, size_t *len, carnet_buf *msg,
                         bool *final) {
  carnet_buf f;
  const uint8_t *c;
  size_t clen;
  unsigned long long mlen = 0;
  unsigned char tag = 0;

  if (ch->err) return ch->err;
  if (*len == 0) return 0;
  if (ch->rx_final) /* C2 */
    return fail_at(ch, CARNET_EPROTO, "the peer sent data after the end of its stream (BYE)");
  int rc = carnet__frame_read(&ch->rd, data, len, &f);
  if (rc == CARNET_EPROTO)
    return fail_at(ch, rc, "encrypted frame empty or over %u bytes", CARNET_FRAME_BYTES_MAX);
  if (rc < 0) return fail_at(ch, rc, "out of memory");
  if (rc == 0) return 0;
  c = f.base;
  clen = f.len;
  if (!ch->rx_started) {
    if (clen <= CARNET_CHANNEL_HEADER_BYTES + CARNET_CHANNEL_ABYTES)
      return fail_at(ch, CARNET_EPROTO, "the peer's first encrypted frame is too short");
    if (crypto_secretstream_xchacha20poly1305_init_pull(&ch->rx, c, ch->rx_key) != 0)
      return fail_at(ch, CARNET_EPROTO, "the peer's stream header is invalid");
    sodium_memzero(ch->rx_key, sizeof ch->rx_key); /* C3 */
    ch->rx_started = true;
    c += CARNET_CHANNEL_HEADER_BYTES;
    clen -= CARNET_CHANNEL_HEADER_BYTES;
  } else if (clen <= CARNET_CHANNEL_ABYTES) {
    return fail_at(ch, CARNET_EPROTO, "an encrypted frame is too short");
  }
  size_t need = clen - CARNET_CHANNEL_ABYTES;
  /* Grow to the message; shrink back after a big one (like the frame
   * reader), so an idle session holds little. */
  if (need > ch->plain_cap || (ch->plain_cap > RETAIN_MAX && need <= RETAIN_MAX)) {
    size_t cap = need < 4096 ? 4096 : need;
    uint8_t *p = carnet__malloc(cap);
    if (p == NULL) return fail_at(ch, CARNET_ENOMEM, "out of memory");
    if (ch->plain) sodium_memzero(ch->plain, ch->plain_cap);
    carnet__free(ch->plain);
    ch->plain = p;
    ch->plain_cap = cap;
  }
  /* C1 */
  if (crypto_secretstream_xchacha20poly1305_pull(&ch->rx, ch->plain, &mlen, &tag, c, clen, NULL,
                                                 0) != 0)
    return fail_at(ch, CARNET_EPROTO,
                   "an encrypted frame does not open: altered, replayed, reordered or from "
                   "another session");
  if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
    ch->rx_final = true;
  } else if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
    return fail_at(ch, CARNET_EPROTO, "an encrypted frame has an unexpected tag %u", tag);
  }
  msg->base = ch->plain;
  msg->len = (size_t)mlen;
  *final = ch->rx_final;
  return 1;
}

int carnet__channel_eof(carnet__channel *ch) {
  if (ch->err) return ch->err;
  if (!carnet__frame_reader_idle(&ch->rd))
    return fail_at(ch, CARNET_EPROTO, "the connection closed in the middle of a frame");
  if (!ch->rx_started)
    return fail_at(ch, CARNET_EPROTO,
                   "the peer closed the connection before its first encrypted frame (it may not "
                   "trust this replica's key: join with an invite)");
  if (ch->sealed_wait)
    return fail_at(ch, CARNET_EPROTO, "the connection closed before a sealed unit's frame");
  if (!ch->rx_final)
    return fail_at(ch, CARNET_EPROTO, "the peer's stream ended without BYE: the session was cut");
  return 0;
}

int carnet__channel_send(carnet__channel *ch, const carnet__msg *m, carnet__obuf *out) {
  if (ch->err) return ch->err;
  ch->scratch.len = 0;
  int rc = carnet__msg_encode(m, &ch->scratch);
  if (rc) return rc;
  rc = carnet__channel_seal(ch, ch->scratch.base, ch->scratch.len, m->type == CARNET_MSG_BYE, out);
  if (ch->scratch.cap > RETAIN_MAX) carnet__obuf_free(&ch->scratch);
  return rc;
}

/* The opened message `msg` decoded into `m`. */
static int decode(carnet__channel *ch, carnet_buf msg, bool final, carnet__msg *m) {
  int rc;
  rc = carnet__msg_decode(msg.base, msg.len, m);
  if (rc == CARNET_ENOMEM) return fail_at(ch, rc, "out of memory");
  if (rc)
    return fail_at(ch, CARNET_EPROTO, "the peer sent a malformed message (msg.c line %d)",
                   m->bad_line);
  if (final != (m->type == CARNET_MSG_BYE))
    return fail_at(ch, CARNET_EPROTO,
                   final ? "the peer ended its stream with a %s instead of BYE"
                         : "the peer sent %s without ending its stream",
                   carnet__msg_name(m->type));
  return 0;
}

int carnet__channel_send_sealed(carnet__channel *ch, const carnet__msg *m, carnet__obuf *out) {
  if (ch->err) return ch->err;
  if (!ch->sealed_ok || m->type != CARNET_MSG_SEALED ||
      m->bytes.len < CARNET_MSG_SEALED_BYTES_MIN || m->bytes.len > CARNET_MSG_CHUNK_BYTES_MAX)
    return CARNET_EMISUSE;
  carnet__msg h = *m;
  h.unit_len = m->bytes.len;
  memcpy(h.mac, (const uint8_t *)m->bytes.base + m->bytes.len - sizeof h.mac, sizeof h.mac);
  ch->scratch.len = 0;
  int rc = carnet__msg_encode(&h, &ch->scratch);
  if (rc) return rc;
  /* C4: room for both frames first; the seal and the append then cannot
   * fail for want of it. */
  size_t head = ch->tx_started ? 0 : CARNET_CHANNEL_HEADER_BYTES;
  rc = carnet__obuf_reserve(out, 2 * CARNET_FRAME_HEADER_BYTES + head + ch->scratch.len +
                                     CARNET_CHANNEL_ABYTES + m->bytes.len);
  if (rc) return rc;
  if ((rc = carnet__channel_seal(ch, ch->scratch.base, ch->scratch.len, false, out))) return rc;
  carnet__frame_header(out->base + out->len, (uint32_t)m->bytes.len);
  memcpy(out->base + out->len + CARNET_FRAME_HEADER_BYTES, m->bytes.base, m->bytes.len);
  out->len += CARNET_FRAME_HEADER_BYTES + m->bytes.len;
  return 0;
}

/* The raw frame of the SEALED in ch->sealed (C5). In place when the whole
 * frame is in the input (the usual case: the node feeds bursts), else
 * gathered by the frame reader. Returns 1 with the unit, 0 (feed more), or
 * a sticky error. */
static int read_raw(carnet__channel *ch, const uint8_t **data, size_t *len, carnet_buf *unit) {
  uint32_t want = (uint32_t)ch->sealed.unit_len;
  carnet_buf f;
  if (carnet__frame_reader_idle(&ch->rd) && *len >= CARNET_FRAME_HEADER_BYTES) {
    const uint8_t *p = *data;
    uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (n != want)
      return fail_at(ch, CARNET_EPROTO, "a sealed unit's frame is %" PRIu32 " bytes, not %" PRIu32,
                     n, want);
    if (*len >= CARNET_FRAME_HEADER_BYTES + (size_t)want) {
      f = (carnet_buf){p + CARNET_FRAME_HEADER_BYTES, want};
      *data += CARNET_FRAME_HEADER_BYTES + (size_t)want;
      *len -= CARNET_FRAME_HEADER_BYTES + (size_t)want;
      goto got;
    }
  }
  /* F1 of frame.c against the length announced, not the frame maximum. */
  uint32_t max = ch->rd.max;
  ch->rd.max = want;
  int rc = carnet__frame_read(&ch->rd, data, len, &f);
  ch->rd.max = max;
  if (rc == CARNET_EPROTO)
    return fail_at(ch, rc, "a sealed unit's frame is not the %" PRIu32 " bytes announced", want);
  if (rc < 0) return fail_at(ch, rc, "out of memory");
  if (rc == 0) return 0;
  if (f.len != want)
    return fail_at(ch, CARNET_EPROTO,
                   "a sealed unit's frame is not the %" PRIu32 " bytes announced", want);
got:
  if (sodium_memcmp((const uint8_t *)f.base + f.len - sizeof ch->sealed.mac, ch->sealed.mac,
                    sizeof ch->sealed.mac) != 0)
    return fail_at(ch, CARNET_EPROTO, "a sealed unit is not the one its header announced");
  *unit = (carnet_buf){f.base, f.len};
  return 1;
}

int carnet__channel_recv(carnet__channel *ch, const uint8_t **data, size_t *len, carnet__msg *m) {
  carnet_buf msg;
  bool final;
  int rc;
  if (ch->err) return ch->err;
  if (!ch->sealed_wait) {
    rc = carnet__channel_open(ch, data, len, &msg, &final);
    if (rc <= 0) return rc;
    if ((rc = decode(ch, msg, final, m))) return rc;
    if (m->type != CARNET_MSG_SEALED) return 1;
    if (!ch->sealed_ok)
      return fail_at(ch, CARNET_EPROTO, "the peer sent SEALED, which its protocol version lacks");
    ch->sealed = *m;
    ch->sealed_wait = true;
  }
  carnet_buf unit;
  if (*len == 0) return 0;
  if ((rc = read_raw(ch, data, len, &unit)) <= 0) return rc;
  ch->sealed_wait = false;
  *m = ch->sealed;
  m->bytes = unit;
  return 1;
}

const char *carnet__channel_errmsg(const carnet__channel *ch) {
  return ch->errmsg;
}
