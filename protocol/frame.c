/* protocol/frame.c - length-prefixed frames (see frame.h).
 *
 * Reader states, per frame:
 *
 *   HEADER (hdr_have < 4) --4th byte, 1 <= want <= max--> PAYLOAD (have < want)
 *          |                                                    |
 *          +-- want == 0 or want > max: FAILED (sticky)         +-- have == want: yield,
 *                                                                   next call starts HEADER
 *
 * Invariants: (F1) no payload byte is buffered before the length is checked;
 * (F2) the buffer never holds more than `max` bytes and grows only with bytes
 * received; (F3) the reader never consumes a byte past the frame it yields.
 */
#include "protocol/frame.h"
#include "engine/base/alloc.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carnet/error.h"
#include "engine/base/check.h"

/* The first allocation for a payload: most frames (handshake, ACK, REQ) fit,
 * and a large one grows by doubling towards its announced length. */
#define FIRST_CHUNK 4096u
/* The largest buffer kept between frames. */
#define RETAIN_MAX (64u * 1024u)

void carnet__frame_reader_init(carnet__frame_reader *r, uint32_t max) {
  CARNET_ASSERT(max >= 1 && max <= CARNET_FRAME_BYTES_MAX);
  memset(r, 0, sizeof *r);
  r->max = max;
}

void carnet__frame_reader_free(carnet__frame_reader *r) {
  if (r == NULL) return;
  if (r->buf) sodium_memzero(r->buf, r->cap);
  carnet__free(r->buf);
  r->buf = NULL;
  r->cap = r->have = 0;
}

static int grow(carnet__frame_reader *r, size_t need) {
  if (need <= r->cap) return 0;
  size_t cap = r->cap ? r->cap : FIRST_CHUNK;
  while (cap < need)
    cap *= 2;
  if (cap > r->want) cap = r->want; /* F2 */
  uint8_t *p = carnet__malloc(cap);
  if (p == NULL) return r->err = CARNET_ENOMEM;
  if (r->have) memcpy(p, r->buf, r->have);
  if (r->buf) sodium_memzero(r->buf, r->cap);
  carnet__free(r->buf);
  r->buf = p;
  r->cap = cap;
  return 0;
}

int carnet__frame_read(carnet__frame_reader *r, const uint8_t **data, size_t *len,
                       carnet_buf *frame) {
  if (r->err) return r->err;
  if (r->yielded) {
    /* A connection that received one big batch does not keep 8 MiB for
     * the rest of its life: past RETAIN_MAX the buffer goes back. */
    if (r->cap > RETAIN_MAX) carnet__frame_reader_free(r);
    r->yielded = false;
    r->hdr_have = 0;
    r->want = 0;
    r->have = 0;
  }
  while (*len > 0) {
    if (r->hdr_have < CARNET_FRAME_HEADER_BYTES) {
      r->hdr[r->hdr_have++] = **data;
      (*data)++;
      (*len)--;
      if (r->hdr_have < CARNET_FRAME_HEADER_BYTES) continue;
      r->want = (uint32_t)r->hdr[0] << 24 | (uint32_t)r->hdr[1] << 16 | (uint32_t)r->hdr[2] << 8 |
                r->hdr[3];
      if (r->want == 0 || r->want > r->max)
        return r->err = CARNET__REFUSE(&r->bad_line, CARNET_EPROTO); /* F1 */
      continue;
    }
    size_t take = r->want - r->have;
    if (take > *len) take = *len;
    int rc = grow(r, r->have + take);
    if (rc) return rc;
    memcpy(r->buf + r->have, *data, take);
    r->have += take;
    *data += take;
    *len -= take;
    if (r->have == r->want) break;
  }
  if (r->hdr_have == CARNET_FRAME_HEADER_BYTES && r->have == r->want) {
    r->yielded = true;
    frame->base = r->buf;
    frame->len = r->have;
    return 1;
  }
  return 0;
}

bool carnet__frame_reader_idle(const carnet__frame_reader *r) {
  return r->err == 0 && (r->yielded || r->hdr_have == 0);
}

void carnet__frame_header(uint8_t out[CARNET_FRAME_HEADER_BYTES], uint32_t len) {
  out[0] = (uint8_t)(len >> 24);
  out[1] = (uint8_t)(len >> 16);
  out[2] = (uint8_t)(len >> 8);
  out[3] = (uint8_t)len;
}

int carnet__frame_write(carnet__obuf *out, const void *payload, size_t len, uint32_t max) {
  uint8_t hdr[CARNET_FRAME_HEADER_BYTES];
  if (len == 0) return CARNET_EMISUSE;
  if (len > max || len > CARNET_FRAME_BYTES_MAX) return CARNET_ELIMIT;
  int rc = carnet__obuf_reserve(out, CARNET_FRAME_HEADER_BYTES + len);
  if (rc) return rc;
  carnet__frame_header(hdr, (uint32_t)len);
  memcpy(out->base + out->len, hdr, sizeof hdr);
  memcpy(out->base + out->len + sizeof hdr, payload, len);
  out->len += sizeof hdr + len;
  return 0;
}

int carnet__frame_begin(carnet__obuf *out, size_t *mark) {
  static const uint8_t zero[CARNET_FRAME_HEADER_BYTES];
  *mark = out->len;
  return carnet__obuf_append(out, zero, sizeof zero);
}

int carnet__frame_end(carnet__obuf *out, size_t mark, uint32_t max) {
  CARNET_ASSERT(mark + CARNET_FRAME_HEADER_BYTES <= out->len);
  size_t len = out->len - mark - CARNET_FRAME_HEADER_BYTES;
  int rc = 0;
  if (len == 0)
    rc = CARNET_EMISUSE;
  else if (len > max || len > CARNET_FRAME_BYTES_MAX)
    rc = CARNET_ELIMIT;
  if (rc) {
    out->len = mark;
    return rc;
  }
  carnet__frame_header(out->base + mark, (uint32_t)len);
  return 0;
}
