/* tests/protocol/test_channel.c - SEALED over the channel (protocol/channel.h
 * C5): a content unit travels as a raw frame after an encrypted SEALED.
 *
 * - a SEALED and its unit arrive whole, in place or byte by byte, and the
 *   messages around them are unaffected;
 * - a raw frame of another length, a unit that is not the one announced (a
 *   byte of it changed, another unit swapped in), or the connection closed
 *   before the unit are refused, sticky;
 * - a channel of a session without SEALED (protocol version 3) neither sends
 *   nor accepts one.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "carnet/error.h"
#include "protocol/channel.h"

typedef struct pair {
  carnet__channel a, b; /* a sends to b */
  carnet__obuf wire;
} pair;

static void pair_init(pair *p, bool sealed_ok) {
  uint8_t k1[CARNET_HS_KEY_BYTES], k2[CARNET_HS_KEY_BYTES];
  memset(k1, 0x11, sizeof k1);
  memset(k2, 0x22, sizeof k2);
  carnet__channel_init(&p->a, k1, k2);
  carnet__channel_init(&p->b, k2, k1);
  p->a.sealed_ok = p->b.sealed_ok = sealed_ok;
  carnet__obuf_init(&p->wire);
}

static void pair_free(pair *p) {
  carnet__channel_free(&p->a);
  carnet__channel_free(&p->b);
  carnet__obuf_free(&p->wire);
}

static uint8_t unit[CARNET_MSG_CHUNK_BYTES_MAX];

static carnet__msg sealed_msg(size_t len, uint64_t offset) {
  carnet__msg m = {.type = CARNET_MSG_SEALED, .offset = offset, .bytes = {unit, len}};
  memset(m.att.b, 0xab, sizeof m.att.b);
  return m;
}

/* Send PING, SEALED(len), PING. */
static void send_three(pair *p, size_t len) {
  carnet__msg ping = {.type = CARNET_MSG_PING}, s = sealed_msg(len, 24);
  for (size_t i = 0; i < sizeof unit; i++)
    unit[i] = (uint8_t)(i * 7 + 1);
  assert_int_equal(carnet__channel_send(&p->a, &ping, &p->wire), 0);
  assert_int_equal(carnet__channel_send_sealed(&p->a, &s, &p->wire), 0);
  assert_int_equal(carnet__channel_send(&p->a, &ping, &p->wire), 0);
}

/* Feed the wire in pieces of `step` bytes; expect PING, the SEALED, PING. */
static void recv_three(pair *p, size_t len, size_t step) {
  int want[] = {CARNET_MSG_PING, CARNET_MSG_SEALED, CARNET_MSG_PING}, got = 0;
  size_t at = 0;
  while (at < p->wire.len) {
    size_t n = p->wire.len - at < step ? p->wire.len - at : step;
    const uint8_t *d = p->wire.base + at;
    at += n;
    for (;;) {
      carnet__msg m;
      int rc = carnet__channel_recv(&p->b, &d, &n, &m);
      if (rc < 0) fail_msg("recv: %s", carnet__channel_errmsg(&p->b));
      if (rc == 0) break;
      assert_true(got < 3);
      assert_int_equal(m.type, want[got]);
      if (m.type == CARNET_MSG_SEALED) {
        assert_int_equal(m.offset, 24);
        assert_int_equal(m.unit_len, len);
        assert_int_equal(m.bytes.len, len);
        assert_memory_equal(m.bytes.base, unit, len);
        assert_memory_equal(m.mac, unit + len - 16, 16);
      }
      got++;
    }
  }
  assert_int_equal(got, 3);
  assert_int_equal(carnet__frame_reader_idle(&p->b.rd), true);
}

static void test_sealed_whole_and_in_pieces(void **state) {
  (void)state;
  static const size_t lens[] = {CARNET_MSG_SEALED_BYTES_MIN, 41, 65553, CARNET_MSG_CHUNK_BYTES_MAX};
  static const size_t steps[] = {1, 3, 4096, 70000, 1u << 20};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    for (size_t j = 0; j < sizeof steps / sizeof steps[0]; j++) {
      if (steps[j] == 1 && lens[i] > 70000) continue; /* byte by byte: the small ones */
      pair p;
      pair_init(&p, true);
      send_three(&p, lens[i]);
      /* The unit is on the wire as it was given: not encrypted again. */
      assert_non_null(memmem(p.wire.base, p.wire.len, unit, lens[i]));
      recv_three(&p, lens[i], steps[j]);
      pair_free(&p);
    }
  }
}

/* Bytes of the raw frame (index from its start, the length included). */
static size_t raw_at(pair *p, size_t len) {
  const uint8_t *u = memmem(p->wire.base, p->wire.len, unit, len);
  assert_non_null(u);
  return (size_t)(u - p->wire.base) - CARNET_FRAME_HEADER_BYTES;
}

static void expect_refused(pair *p, const char *why) {
  const uint8_t *d = p->wire.base;
  size_t n = p->wire.len;
  int rc;
  carnet__msg m;
  while ((rc = carnet__channel_recv(&p->b, &d, &n, &m)) == 1)
    assert_int_not_equal(m.type, CARNET_MSG_SEALED);
  if (rc == 0) rc = carnet__channel_eof(&p->b);
  assert_int_equal(rc, CARNET_EPROTO);
  if (strstr(carnet__channel_errmsg(&p->b), why) == NULL)
    fail_msg("'%s' lacks '%s'", carnet__channel_errmsg(&p->b), why);
  /* Sticky. */
  d = p->wire.base;
  n = p->wire.len;
  assert_int_equal(carnet__channel_recv(&p->b, &d, &n, &m), CARNET_EPROTO);
}

static void test_sealed_refusals(void **state) {
  (void)state;
  const size_t len = 1000;
  pair p;
  /* A byte of the unit changed: not the unit announced (its tag moved, or
   * its body: then the content key refuses it, protocol/content.h C3;
   * here its last byte, part of the tag). */
  pair_init(&p, true);
  send_three(&p, len);
  p.wire.base[raw_at(&p, len) + CARNET_FRAME_HEADER_BYTES + len - 1] ^= 1;
  expect_refused(&p, "not the one its header announced");
  pair_free(&p);
  /* A raw frame longer or shorter than announced. */
  for (int d = -1; d <= 1; d += 2) {
    pair_init(&p, true);
    send_three(&p, len);
    size_t at = raw_at(&p, len);
    carnet__frame_header(p.wire.base + at, (uint32_t)(len + d));
    expect_refused(&p, "bytes");
    pair_free(&p);
  }
  /* The connection closes before the unit (after its header). */
  pair_init(&p, true);
  send_three(&p, len);
  p.wire.len = raw_at(&p, len);
  expect_refused(&p, "before a sealed unit");
  pair_free(&p);
  /* ... or in the middle of it. */
  pair_init(&p, true);
  send_three(&p, len);
  p.wire.len = raw_at(&p, len) + 100;
  expect_refused(&p, "in the middle of a frame");
  pair_free(&p);
}

/* Version 3 (sealed_ok false): SEALED neither sent nor taken. */
static void test_sealed_refused_without_version(void **state) {
  (void)state;
  pair p;
  pair_init(&p, false);
  carnet__msg s = sealed_msg(100, 0);
  assert_int_equal(carnet__channel_send_sealed(&p.a, &s, &p.wire), CARNET_EMISUSE);
  assert_int_equal(p.wire.len, 0);
  /* A peer that sends it anyway. */
  p.a.sealed_ok = true;
  assert_int_equal(carnet__channel_send_sealed(&p.a, &s, &p.wire), 0);
  expect_refused(&p, "which its protocol version lacks");
  pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sealed_whole_and_in_pieces),
      cmocka_unit_test(test_sealed_refusals),
      cmocka_unit_test(test_sealed_refused_without_version),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
