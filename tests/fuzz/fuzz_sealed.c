/* Fuzz target: a SEALED unit as the channel receives it (protocol/channel.h
 * C5; protocol/msg.h). The SEALED message is authenticated by the channel,
 * its unit is not: an on-path attacker writes whatever it likes where the
 * raw frame goes. So an honest sender sends PING, SEALED for a unit U, BYE,
 * and the input says what the attacker puts between the SEALED and the
 * BYE: byte 0 picks the size of the reads, bytes 1-2 U's length (17 ..
 * CARNET_MSG_CHUNK_BYTES_MAX), byte 3 how many bytes of U's frame it drops
 * from the end, the rest is XORed over what is left from its start (and
 * appended past it); U is a real secretstream message. Invariants checked: a SEALED
 * is handed on only with U's length and tag (its last 16 bytes), and then
 * opens with the content key exactly when it is U (so a body changed under
 * U's tag is refused there: protocol/content.h C3); the session ends
 * cleanly (BYE, then EOF accepted) exactly when the attacker's frame has
 * U's length and tag, else with CARNET_EPROTO (sticky); reading in pieces
 * or all at once gives the same verdict. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carnet/error.h"
#include "protocol/channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() with the line of the check that failed. */
#define CHECK(c)                                                                                   \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      fprintf(stderr, "fuzz_sealed.c:%d: %s\n", __LINE__, #c);                                     \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

/* U: a real unit, a message of a content stream (key K, header H). */
static uint8_t U[CARNET_MSG_CHUNK_BYTES_MAX], P[CARNET_MSG_CHUNK_BYTES_MAX];
static uint8_t K[crypto_secretstream_xchacha20poly1305_KEYBYTES] = {7};
static uint8_t H[crypto_secretstream_xchacha20poly1305_HEADERBYTES];

static void make_unit(size_t ulen) {
  crypto_secretstream_xchacha20poly1305_state st;
  for (size_t i = 0; i + 17 < ulen; i++)
    P[i] = (uint8_t)(i * 131 + ulen);
  crypto_secretstream_xchacha20poly1305_init_push(&st, H, K);
  crypto_secretstream_xchacha20poly1305_push(&st, U, NULL, P, ulen - 17, NULL, 0, 0);
}

/* Whether `u` opens as U's message of the stream. */
static bool opens(const void *u, size_t ulen) {
  crypto_secretstream_xchacha20poly1305_state st;
  unsigned char tag;
  crypto_secretstream_xchacha20poly1305_init_pull(&st, H, K);
  return crypto_secretstream_xchacha20poly1305_pull(&st, P, NULL, &tag, u, ulen, NULL, 0) == 0;
}

/* 0 clean (BYE and EOF), else the error. */
static int receive(const uint8_t *wire, size_t n, size_t piece, size_t ulen) {
  static const uint8_t krx[CARNET_HS_KEY_BYTES] = {1}, ktx[CARNET_HS_KEY_BYTES] = {2};
  carnet__channel ch;
  int rc = 0, seen = 0;
  bool bye = false;
  carnet__channel_init(&ch, ktx, krx);
  ch.sealed_ok = true;
  for (size_t at = 0; at < n && rc == 0;) {
    size_t k = n - at < piece ? n - at : piece;
    const uint8_t *p = wire + at;
    at += k;
    while (k > 0 || rc == 1) {
      carnet__msg m;
      rc = carnet__channel_recv(&ch, &p, &k, &m);
      if (rc <= 0) break;
      CHECK(!bye); /* nothing opens after the FINAL */
      if (m.type == CARNET_MSG_SEALED) {
        /* The channel vouches for the length and the tag; the content
         * key for the rest: a unit that differs from U does not open. */
        CHECK(m.bytes.len == ulen && m.unit_len == ulen);
        CHECK(memcmp((const uint8_t *)m.bytes.base + ulen - 16, U + ulen - 16, 16) == 0);
        CHECK(opens(m.bytes.base, ulen) == (memcmp(m.bytes.base, U, ulen) == 0));
        seen++;
      } else if (m.type == CARNET_MSG_BYE) {
        bye = true;
      } else {
        CHECK(m.type == CARNET_MSG_PING);
      }
    }
    if (rc < 0) break;
  }
  if (rc == 0) rc = carnet__channel_eof(&ch);
  CHECK(rc != 0 || (bye && seen == 1));
  CHECK(rc == 0 || rc == CARNET_EPROTO);
  if (rc) { /* sticky */
    const uint8_t *p = wire;
    size_t k = n;
    carnet__msg m;
    CHECK(carnet__channel_recv(&ch, &p, &k, &m) == rc);
  }
  carnet__channel_free(&ch);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t pieces[4] = {1, 7, 4096, SIZE_MAX};
  static const uint8_t krx[CARNET_HS_KEY_BYTES] = {1}, ktx[CARNET_HS_KEY_BYTES] = {2};
  if (size < 4) return 0;
  size_t piece = pieces[data[0] & 3];
  size_t ulen = CARNET_MSG_SEALED_BYTES_MIN +
                ((size_t)data[1] << 8 | data[2]) % (CARNET_MSG_CHUNK_BYTES_MAX - 16);
  if (piece == 1 && ulen > 4096) piece = 7; /* byte by byte: small units only */
  make_unit(ulen);

  /* The honest sender's frames: PING, SEALED, BYE. */
  carnet__channel tx;
  carnet__obuf out, wire;
  carnet__channel_init(&tx, krx, ktx);
  tx.sealed_ok = true;
  carnet__obuf_init(&out);
  carnet__obuf_init(&wire);
  carnet__msg ping = {.type = CARNET_MSG_PING}, bye = {.type = CARNET_MSG_BYE};
  carnet__msg s = {.type = CARNET_MSG_SEALED, .offset = 24, .bytes = {U, ulen}};
  CHECK(carnet__channel_send(&tx, &ping, &out) == 0);
  CHECK(carnet__channel_send_sealed(&tx, &s, &out) == 0);
  size_t honest = CARNET_FRAME_HEADER_BYTES + ulen, cut = out.len - honest;
  /* What the attacker puts in place of the raw frame: the honest one less
   * its last data[3] bytes, XORed with the rest of the input from its
   * first byte; input beyond it is appended. */
  size_t keep = honest - (data[3] < honest ? data[3] : honest), n = size - 4;
  size_t rawlen = keep > n ? keep : n;
  uint8_t *raw = calloc(1, rawlen ? rawlen : 1);
  CHECK(raw != NULL);
  memcpy(raw, out.base + cut, keep);
  for (size_t i = 0; i < n; i++)
    raw[i] ^= data[4 + i];
  CHECK(carnet__obuf_append(&wire, out.base, cut) == 0);
  CHECK(rawlen == 0 || carnet__obuf_append(&wire, raw, rawlen) == 0);
  /* Clean when the frame has the length and the tag announced (a body
   * changed under the right tag ends at the content key, not here). */
  bool same = rawlen == honest && memcmp(raw, out.base + cut, CARNET_FRAME_HEADER_BYTES) == 0 &&
              memcmp(raw + honest - 16, out.base + cut + honest - 16, 16) == 0;
  out.len = 0;
  CHECK(carnet__channel_send(&tx, &bye, &out) == 0);
  CHECK(carnet__obuf_append(&wire, out.base, out.len) == 0);

  int a = receive(wire.base, wire.len, piece, ulen);
  int b = receive(wire.base, wire.len, SIZE_MAX, ulen);
  CHECK(a == b && (a == 0) == same);
  free(raw);
  carnet__channel_free(&tx);
  carnet__obuf_free(&out);
  carnet__obuf_free(&wire);
  return 0;
}
