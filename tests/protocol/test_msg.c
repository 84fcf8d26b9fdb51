/* tests/protocol/test_msg.c - the session message codec (protocol/msg.h).
 *
 * Properties: every message type round-trips at its edge values, and
 * decoding then encoding gives back the exact bytes (the codec is
 * canonical); every strict prefix of a valid message, a valid message with a
 * byte after it, an unknown type, a non-canonical integer or bin, a field of
 * the wrong type or over its limit are refused with CARNET_EPROTO and a
 * recorded line; a length that lies about the bytes left is refused before
 * anything is allocated for it; the encoder refuses what the decoder would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carnet/error.h"
#include "protocol/msg.h"
#include "support/testenv.h"

static carnet_buf cbuf(const void *p, size_t n) {
  carnet_buf b = {p, n};
  return b;
}

/* Encodes `m`, decodes the bytes, checks the fields, re-encodes and checks
 * the bytes are the same; also that every strict prefix and the message
 * plus one byte are refused. */
static void round_trip(const carnet__msg *m) {
  carnet__obuf a, b;
  carnet__msg d;
  carnet__obuf_init(&a);
  carnet__obuf_init(&b);
  assert_int_equal(carnet__msg_encode(m, &a), 0);
  assert_int_equal(carnet__msg_decode(a.base, a.len, &d), 0);
  assert_int_equal(d.type, m->type);
  switch (m->type) {
  case CARNET_MSG_REQ:
    assert_true(d.since == m->since && d.after == m->after);
    break;
  case CARNET_MSG_ACK:
    assert_true(d.upto == m->upto);
    break;
  case CARNET_MSG_BATCH:
  case CARNET_MSG_CERT:
    assert_int_equal(d.bytes.len, m->bytes.len);
    assert_memory_equal(d.bytes.base, m->bytes.base, m->bytes.len);
    /* Document lifetime: the bytes point into the decoded buffer. */
    assert_true((const uint8_t *)d.bytes.base > a.base &&
                (const uint8_t *)d.bytes.base < a.base + a.len);
    break;
  case CARNET_MSG_ERROR:
    assert_int_equal(d.code, m->code);
    assert_int_equal(d.text.len, m->text.len);
    if (m->text.len) assert_memory_equal(d.text.base, m->text.base, m->text.len);
    break;
  default:
    break;
  }
  assert_int_equal(carnet__msg_encode(&d, &b), 0);
  assert_int_equal(a.len, b.len);
  assert_memory_equal(a.base, b.base, a.len);
  /* Truncated: every strict prefix. Large messages: a sample of them. */
  size_t step = a.len > 4096 ? a.len / 512 : 1;
  for (size_t n = 0; n < a.len; n += step) {
    assert_int_equal(carnet__msg_decode(a.base, n, &d), CARNET_EPROTO);
    assert_int_not_equal(d.bad_line, 0);
  }
  assert_int_equal(carnet__msg_decode(a.base, a.len - 1, &d), CARNET_EPROTO);
  /* Trailing bytes. */
  static const uint8_t extra[] = {0x00};
  assert_int_equal(carnet__obuf_append(&a, extra, 1), 0);
  assert_int_equal(carnet__msg_decode(a.base, a.len, &d), CARNET_EPROTO);
  assert_int_not_equal(d.bad_line, 0);
  carnet__obuf_free(&a);
  carnet__obuf_free(&b);
}

static const uint64_t edges[] = {0,
                                 1,
                                 127,
                                 128,
                                 255,
                                 256,
                                 65535,
                                 65536,
                                 UINT32_MAX,
                                 (uint64_t)UINT32_MAX + 1,
                                 UINT64_MAX - 1,
                                 UINT64_MAX};
#define NEDGES (sizeof edges / sizeof edges[0])

static void test_round_trip_integers(void **state) {
  (void)state;
  for (size_t i = 0; i < NEDGES; i++) {
    carnet__msg ack = {.type = CARNET_MSG_ACK, .upto = edges[i]};
    round_trip(&ack);
    for (size_t j = i; j < NEDGES; j++) {
      carnet__msg req = {.type = CARNET_MSG_REQ, .since = edges[i], .after = edges[j]};
      round_trip(&req);
    }
  }
  carnet__msg bye = {.type = CARNET_MSG_BYE}, ping = {.type = CARNET_MSG_PING};
  round_trip(&bye);
  round_trip(&ping);
}

static void test_round_trip_bytes(void **state) {
  (void)state;
  static const size_t lens[] = {1, 31, 32, 255, 256, 4096, 65535, 65536, CARNET_BATCH_BYTES_MAX};
  uint8_t *buf = malloc(CARNET_BATCH_BYTES_MAX);
  trng g;
  assert_non_null(buf);
  trng_seed(&g, 3);
  trng_bytes(&g, buf, CARNET_BATCH_BYTES_MAX);
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    carnet__msg batch = {.type = CARNET_MSG_BATCH, .bytes = cbuf(buf, lens[i])};
    round_trip(&batch);
    if (lens[i] <= CARNET_MSG_CERT_BYTES_MAX) {
      carnet__msg cert = {.type = CARNET_MSG_CERT, .bytes = cbuf(buf, lens[i])};
      round_trip(&cert);
    }
    if (lens[i] <= CARNET_MSG_REVOKE_BYTES_MAX) {
      carnet__msg rv = {.type = CARNET_MSG_REVOKE, .bytes = cbuf(buf, lens[i])};
      round_trip(&rv);
    }
  }
  free(buf);
}

static void test_round_trip_error(void **state) {
  (void)state;
  static const int codes[] = {-1, CARNET_EPROTO, CARNET_EVERSION, -32, -33, -128, -129, -32768};
  char text[CARNET_MSG_TEXT_BYTES_MAX];
  memset(text, 'x', sizeof text);
  static const size_t lens[] = {0, 1, 31, 32, 255, 256, CARNET_MSG_TEXT_BYTES_MAX};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
      carnet__msg e = {.type = CARNET_MSG_ERROR, .code = codes[i], .text = cbuf(text, lens[j])};
      round_trip(&e);
    }
  }
  /* UTF-8 is fine. */
  const char *utf8 = "version 2 non prise en charge : mettez à jour";
  carnet__msg e = {.type = CARNET_MSG_ERROR, .code = -10, .text = cbuf(utf8, strlen(utf8))};
  round_trip(&e);
}

/* SEALED: a header only (the unit is the raw frame after it). */
static void test_round_trip_sealed(void **state) {
  (void)state;
  static const uint64_t lens[] = {CARNET_MSG_SEALED_BYTES_MIN, 127, 128, 65553,
                                  CARNET_MSG_CHUNK_BYTES_MAX};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    for (size_t j = 0; j < NEDGES; j++) {
      carnet__msg m = {.type = CARNET_MSG_SEALED, .offset = edges[j], .unit_len = lens[i]};
      memset(m.att.b, (int)i + 1, sizeof m.att.b);
      memset(m.mac, (int)j + 3, sizeof m.mac);
      round_trip(&m);
      carnet__obuf o;
      carnet__msg d;
      carnet__obuf_init(&o);
      assert_int_equal(carnet__msg_encode(&m, &o), 0);
      assert_int_equal(carnet__msg_decode(o.base, o.len, &d), 0);
      assert_int_equal(d.offset, edges[j]);
      assert_int_equal(d.unit_len, lens[i]);
      assert_memory_equal(d.att.b, m.att.b, 16);
      assert_memory_equal(d.mac, m.mac, 16);
      assert_int_equal(d.bytes.len, 0);
      carnet__obuf_free(&o);
    }
  }
  /* Lengths out of bounds: not encoded, not decoded. */
  static const uint64_t bad[] = {0, 16, CARNET_MSG_CHUNK_BYTES_MAX + 1, UINT64_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    carnet__msg m = {.type = CARNET_MSG_SEALED, .unit_len = bad[i]};
    carnet__obuf o;
    carnet__obuf_init(&o);
    assert_int_equal(carnet__msg_encode(&m, &o), CARNET_EMISUSE);
    /* Hand-made: 0x0e, bin8 16 x 0, offset 0, len, bin8 16 x 0. */
    uint8_t b[64] = {0x0e, 0xc4, 16};
    size_t n = 3 + 16;
    b[n++] = 0x00;
    if (bad[i] <= 127) {
      b[n++] = (uint8_t)bad[i];
    } else if (bad[i] <= UINT32_MAX) {
      b[n++] = 0xce;
      for (int k = 3; k >= 0; k--)
        b[n++] = (uint8_t)(bad[i] >> (8 * k));
    } else {
      b[n++] = 0xcf;
      for (int k = 7; k >= 0; k--)
        b[n++] = (uint8_t)(bad[i] >> (8 * k));
    }
    b[n++] = 0xc4;
    b[n++] = 16;
    n += 16;
    carnet__msg d;
    assert_int_equal(carnet__msg_decode(b, n, &d), CARNET_EPROTO);
    assert_int_not_equal(d.bad_line, 0);
  }
}

static void expect_refused(const void *p, size_t n) {
  carnet__msg d;
  assert_int_equal(carnet__msg_decode(p, n, &d), CARNET_EPROTO);
  assert_int_not_equal(d.bad_line, 0);
}
#define REFUSED(...)                                                                               \
  do {                                                                                             \
    static const uint8_t bytes_[] = {__VA_ARGS__};                                                 \
    expect_refused(bytes_, sizeof bytes_);                                                         \
  } while (0)

static void test_unknown_type(void **state) {
  (void)state;
  REFUSED(0x00);
  REFUSED(0x0d); /* 8 is REVOKE (protocol version 2), 9-12 content (3), 14 SEALED (4) */
  REFUSED(0x0f);
  REFUSED(0x7f);
  REFUSED(0xcc, 0x07); /* PING, but its type not as a fixint */
  REFUSED(0xff);       /* negative */
  REFUSED(0xa4, 'P', 'I', 'N', 'G');
  REFUSED(0xc0);           /* nil */
  REFUSED(0x91, 0x07);     /* [PING]: a stream, not an array */
  expect_refused(NULL, 0); /* nothing at all */
}

static void test_wrong_fields(void **state) {
  (void)state;
  REFUSED(0x03, 0xff);       /* ACK with a negative upto */
  REFUSED(0x03, 0xa1, '1');  /* ACK with a str */
  REFUSED(0x03, 0xcc, 0x05); /* ACK 5 not in its shortest form */
  REFUSED(0x03, 0xcf, 0, 0, 0, 0, 0, 0, 0, 5);
  /* The shortest length but a signed tag (found by fuzz_msg). */
  REFUSED(0x03, 0xd1, 0x2f, 0xfe);
  REFUSED(0x03, 0xd3, 0, 0, 0, 1, 0, 0, 0, 0);
  REFUSED(0x01, 0x05, 0x04);                         /* REQ with after < since */
  REFUSED(0x01, 0x05);                               /* REQ without after */
  REFUSED(0x02, 0xc4, 0x00);                         /* empty BATCH */
  REFUSED(0x02, 0xa1, 'x');                          /* BATCH as a str */
  REFUSED(0x02, 0xc5, 0x00, 0x01, 'x');              /* bin16 for one byte */
  REFUSED(0x08, 0xc4, 0x00);                         /* empty REVOKE */
  REFUSED(0x08, 0xa1, 'x');                          /* REVOKE as a str */
  REFUSED(0x08);                                     /* REVOKE without its record */
  REFUSED(0x05, 0x07, 0xa0);                         /* ERROR with a positive code */
  REFUSED(0x05, 0x00, 0xa0);                         /* ERROR with code 0 */
  REFUSED(0x05, 0xd2, 0xff, 0xff, 0x7f, 0xff, 0xa0); /* ERROR code -32769: garbage */
  REFUSED(0x05, 0xd0, 0xf9, 0xa0);                   /* code -7 as int8: not the shortest */
}

/* The ERROR code range ends at -32768 (int16, its shortest form). */
static void test_error_code_edges(void **state) {
  (void)state;
  static const uint8_t ok[] = {0x05, 0xd1, 0x80, 0x00, 0xa0};
  carnet__msg d;
  assert_int_equal(carnet__msg_decode(ok, sizeof ok, &d), 0);
  assert_int_equal(d.code, -32768);
}

static void test_error_text_checked(void **state) {
  (void)state;
  REFUSED(0x05, 0xf9, 0xa2, 'a', '\n');  /* control character */
  REFUSED(0x05, 0xf9, 0xa2, 'a', 0x1b);  /* ESC: no terminal games */
  REFUSED(0x05, 0xf9, 0xa2, 'a', 0x00);  /* NUL */
  REFUSED(0x05, 0xf9, 0xa2, 0xc3, 0x28); /* invalid UTF-8 */
  REFUSED(0x05, 0xf9, 0xa2, 0xc0, 0xaf); /* overlong */
  REFUSED(0x05, 0xf9, 0xc4, 0x01, 'a');  /* bin, not str */
  REFUSED(0x05, 0xf9, 0xd9, 0x01, 'a');  /* str8 for one byte */
  /* Over the limit. */
  uint8_t big[1 + 1 + 3 + CARNET_MSG_TEXT_BYTES_MAX + 1];
  big[0] = 0x05;
  big[1] = 0xf9;
  big[2] = 0xda;
  big[3] = (uint8_t)((CARNET_MSG_TEXT_BYTES_MAX + 1) >> 8);
  big[4] = (uint8_t)(CARNET_MSG_TEXT_BYTES_MAX + 1);
  memset(big + 5, 'x', CARNET_MSG_TEXT_BYTES_MAX + 1);
  expect_refused(big, sizeof big);
}

/* A bin header announcing far more than is there: refused by the stream
 * scan before msgpack-c allocates for it (ASan would report a 4 GiB
 * allocation otherwise). */
static void test_lying_lengths(void **state) {
  (void)state;
  REFUSED(0x02, 0xc6, 0xff, 0xff, 0xff, 0xff, 'x');
  REFUSED(0x02, 0xc6, 0x00, 0x00, 0x00, 0x02, 'x');
  REFUSED(0x05, 0xf9, 0xdb, 0xff, 0xff, 0xff, 0xff);
  REFUSED(0x07, 0xdd, 0xff, 0xff, 0xff, 0xff); /* PING then an array header */
}

/* Nesting deeper than msgpack-c's stack is garbage, not a lack of memory
 * (found by fuzz_msg); no message has an array or a map anywhere. */
static void test_containers_refused(void **state) {
  (void)state;
  uint8_t deep[200];
  memset(deep, 0x91, sizeof deep);
  deep[sizeof deep - 1] = 0x07;
  expect_refused(deep, sizeof deep);
  deep[0] = 0x03; /* ACK, then nested arrays */
  expect_refused(deep, sizeof deep);
  deep[0] = 0x05; /* ERROR, then nested arrays */
  expect_refused(deep, sizeof deep);
  REFUSED(0x01, 0x90, 0x90);
  REFUSED(0x02, 0x80);
  REFUSED(0x03, 0xdc, 0x00, 0x00);
}

static void test_oversized_bin_refused(void **state) {
  (void)state;
  size_t n = CARNET_BATCH_BYTES_MAX + 1;
  uint8_t *buf = calloc(1, n + 6);
  assert_non_null(buf);
  buf[0] = CARNET_MSG_BATCH;
  buf[1] = 0xc6;
  buf[2] = (uint8_t)(n >> 24);
  buf[3] = (uint8_t)(n >> 16);
  buf[4] = (uint8_t)(n >> 8);
  buf[5] = (uint8_t)n;
  expect_refused(buf, n + 6);
  /* A CERT over 4096 bytes. */
  n = CARNET_MSG_CERT_BYTES_MAX + 1;
  buf[0] = CARNET_MSG_CERT;
  buf[1] = 0xc5;
  buf[2] = (uint8_t)(n >> 8);
  buf[3] = (uint8_t)n;
  expect_refused(buf, n + 4);
  /* A REVOKE over 256 bytes. */
  n = CARNET_MSG_REVOKE_BYTES_MAX + 1;
  buf[0] = CARNET_MSG_REVOKE;
  buf[1] = 0xc5;
  buf[2] = (uint8_t)(n >> 8);
  buf[3] = (uint8_t)n;
  expect_refused(buf, n + 4);
  free(buf);
}

static void test_encoder_refuses(void **state) {
  (void)state;
  carnet__obuf out;
  static uint8_t one[1];
  carnet__obuf_init(&out);
  carnet__msg bad[] = {
      {.type = 0},
      {.type = 8},
      {.type = CARNET_MSG_REQ, .since = 2, .after = 1},
      {.type = CARNET_MSG_BATCH, .bytes = {one, 0}},
      {.type = CARNET_MSG_BATCH, .bytes = {one, CARNET_BATCH_BYTES_MAX + 1}},
      {.type = CARNET_MSG_CERT, .bytes = {one, CARNET_MSG_CERT_BYTES_MAX + 1}},
      {.type = CARNET_MSG_ERROR, .code = 0},
      {.type = CARNET_MSG_ERROR, .code = 1},
      {.type = CARNET_MSG_ERROR, .code = -1, .text = {"a\nb", 3}},
      {.type = CARNET_MSG_ERROR, .code = -1, .text = {one, CARNET_MSG_TEXT_BYTES_MAX + 1}},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(carnet__msg_encode(&bad[i], &out), CARNET_EMISUSE);
    assert_int_equal(out.len, 0);
  }
  carnet__obuf_free(&out);
}

/* Random bytes: refused, or (rarely) a valid message that re-encodes to the
 * same bytes. Never a crash, never another code. */
static void test_garbage(void **state) {
  (void)state;
  trng g;
  uint8_t buf[64];
  carnet__msg d;
  carnet__obuf out;
  carnet__obuf_init(&out);
  trng_seed(&g, 11);
  for (int i = 0; i < 20000; i++) {
    size_t n = trng_below(&g, sizeof buf + 1);
    trng_bytes(&g, buf, n);
    if (n && trng_chance(&g, 50)) buf[0] = (uint8_t)(1 + trng_below(&g, 7)); /* a known type */
    int rc = carnet__msg_decode(buf, n, &d);
    assert_true(rc == 0 || rc == CARNET_EPROTO);
    if (rc == 0) {
      out.len = 0;
      assert_int_equal(carnet__msg_encode(&d, &out), 0);
      assert_int_equal(out.len, n);
      assert_memory_equal(out.base, buf, n);
    }
  }
  carnet__obuf_free(&out);
  assert_string_equal(carnet__msg_name(CARNET_MSG_BATCH), "BATCH");
  assert_null(carnet__msg_name(0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_integers),
      cmocka_unit_test(test_round_trip_bytes),
      cmocka_unit_test(test_round_trip_error),
      cmocka_unit_test(test_round_trip_sealed),
      cmocka_unit_test(test_unknown_type),
      cmocka_unit_test(test_wrong_fields),
      cmocka_unit_test(test_error_code_edges),
      cmocka_unit_test(test_error_text_checked),
      cmocka_unit_test(test_lying_lengths),
      cmocka_unit_test(test_containers_refused),
      cmocka_unit_test(test_oversized_bin_refused),
      cmocka_unit_test(test_encoder_refuses),
      cmocka_unit_test(test_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
