/* tests/protocol/test_frame.c - length-prefixed frames (protocol/frame.h).
 *
 * Properties: frames written then read back in chunks of any size (one byte
 * at a time included) come out identical and in order; the reader never
 * consumes a byte past the frame it yields (F3); a zero length and a length
 * over the reader's maximum are refused as soon as the fourth header byte
 * arrives, before any payload byte is buffered (F1), and the refusal is
 * sticky; the writer refuses what the reader would refuse; the output buffer
 * has a hard limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carnet/error.h"
#include "protocol/frame.h"
#include "support/testenv.h"

static const size_t sizes[] = {1, 2, 3, 4, 5, 255, 256, 4095, 4096, 4097, 70000};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void fill(uint8_t *p, size_t n, uint64_t seed) {
  trng g;
  trng_seed(&g, seed);
  trng_bytes(&g, p, n);
}

/* Writes one frame per entry of `sizes` (payload filled from the size). */
static void write_all(carnet__obuf *out) {
  for (size_t i = 0; i < NSIZES; i++) {
    uint8_t *p = malloc(sizes[i]);
    assert_non_null(p);
    fill(p, sizes[i], sizes[i]);
    assert_int_equal(carnet__frame_write(out, p, sizes[i], CARNET_FRAME_BYTES_MAX), 0);
    free(p);
  }
}

/* Reads `in` back in chunks of `chunk` bytes (0 = random 1..300, seeded)
 * and checks every frame. */
static void read_back(const carnet__obuf *in, size_t chunk, uint64_t seed) {
  carnet__frame_reader r;
  trng g;
  size_t off = 0, got = 0;
  trng_seed(&g, seed);
  carnet__frame_reader_init(&r, CARNET_FRAME_BYTES_MAX);
  while (off < in->len) {
    size_t n = chunk ? chunk : 1 + trng_below(&g, 300);
    if (n > in->len - off) n = in->len - off;
    const uint8_t *p = in->base + off;
    size_t left = n;
    carnet_buf f;
    int rc;
    while ((rc = carnet__frame_read(&r, &p, &left, &f)) == 1) {
      assert_true(got < NSIZES);
      assert_int_equal(f.len, sizes[got]);
      uint8_t *want = malloc(f.len);
      fill(want, f.len, f.len);
      assert_memory_equal(f.base, want, f.len);
      free(want);
      got++;
      /* F3: what was not consumed is exactly what follows the frame. */
      assert_ptr_equal(p, in->base + off + (n - left));
    }
    assert_int_equal(rc, 0);
    assert_int_equal(left, 0);
    off += n;
  }
  assert_int_equal(got, NSIZES);
  assert_true(carnet__frame_reader_idle(&r));
  carnet__frame_reader_free(&r);
}

static void test_round_trip_chunks(void **state) {
  (void)state;
  carnet__obuf out;
  carnet__obuf_init(&out);
  write_all(&out);
  read_back(&out, 1, 0); /* one byte at a time */
  read_back(&out, 3, 0);
  read_back(&out, 4096, 0);
  read_back(&out, out.len, 0); /* everything at once */
  for (uint64_t seed = 1; seed <= 20; seed++)
    read_back(&out, 0, seed);
  carnet__obuf_free(&out);
}

/* F3: two frames in one buffer: the first read stops at the end of the
 * first frame and leaves the second untouched. */
static void test_stops_at_frame_end(void **state) {
  (void)state;
  carnet__obuf out;
  carnet__frame_reader r;
  carnet_buf f;
  carnet__obuf_init(&out);
  assert_int_equal(carnet__frame_write(&out, "abc", 3, 16), 0);
  assert_int_equal(carnet__frame_write(&out, "defgh", 5, 16), 0);
  carnet__frame_reader_init(&r, 16);
  const uint8_t *p = out.base;
  size_t n = out.len;
  assert_int_equal(carnet__frame_read(&r, &p, &n, &f), 1);
  assert_int_equal(f.len, 3);
  assert_memory_equal(f.base, "abc", 3);
  assert_int_equal(n, 4 + 5);
  assert_int_equal(carnet__frame_read(&r, &p, &n, &f), 1);
  assert_memory_equal(f.base, "defgh", 5);
  assert_int_equal(n, 0);
  assert_int_equal(carnet__frame_read(&r, &p, &n, &f), 0);
  assert_true(carnet__frame_reader_idle(&r));
  carnet__frame_reader_free(&r);
  carnet__obuf_free(&out);
}

/* Feeds a header announcing `len` one byte at a time to a reader of `max`:
 * the first three bytes are accepted, the fourth refused, nothing buffered. */
static void refuse_header(uint32_t max, uint32_t len) {
  carnet__frame_reader r;
  uint8_t hdr[4 + 8];
  carnet_buf f;
  carnet__frame_header(hdr, len);
  memset(hdr + 4, 0xab, 8); /* payload bytes that must never be read */
  carnet__frame_reader_init(&r, max);
  const uint8_t *p = hdr;
  for (int i = 0; i < 3; i++) {
    size_t one = 1;
    assert_int_equal(carnet__frame_read(&r, &p, &one, &f), 0);
    assert_int_equal(one, 0);
  }
  size_t rest = sizeof hdr - 3;
  assert_int_equal(carnet__frame_read(&r, &p, &rest, &f), CARNET_EPROTO);
  /* F1: refused on the header alone; the payload was neither consumed nor
   * buffered. */
  assert_int_equal(rest, 8);
  assert_null(r.buf);
  assert_int_equal(r.have, 0);
  assert_int_not_equal(r.bad_line, 0);
  /* Sticky. */
  assert_int_equal(carnet__frame_read(&r, &p, &rest, &f), CARNET_EPROTO);
  assert_false(carnet__frame_reader_idle(&r));
  carnet__frame_reader_free(&r);
}

static void test_oversized_refused_before_payload(void **state) {
  (void)state;
  refuse_header(CARNET_FRAME_BYTES_MAX, CARNET_FRAME_BYTES_MAX + 1);
  refuse_header(CARNET_FRAME_BYTES_MAX, UINT32_MAX);
  refuse_header(512, 513);
}

static void test_zero_length_refused(void **state) {
  (void)state;
  refuse_header(CARNET_FRAME_BYTES_MAX, 0);
  refuse_header(1, 0);
}

/* The largest frame is accepted, and its buffer grows with what arrives
 * rather than with what the header announced (F2). */
static void test_max_frame_and_growth(void **state) {
  (void)state;
  carnet__frame_reader r;
  carnet_buf f;
  uint8_t hdr[4];
  uint8_t *payload = malloc(CARNET_FRAME_BYTES_MAX);
  assert_non_null(payload);
  fill(payload, CARNET_FRAME_BYTES_MAX, 9);
  carnet__frame_header(hdr, CARNET_FRAME_BYTES_MAX);
  carnet__frame_reader_init(&r, CARNET_FRAME_BYTES_MAX);
  const uint8_t *p = hdr;
  size_t n = 4;
  assert_int_equal(carnet__frame_read(&r, &p, &n, &f), 0);
  p = payload;
  n = 10;
  assert_int_equal(carnet__frame_read(&r, &p, &n, &f), 0);
  assert_true(r.cap < 65536); /* 10 bytes in: no 8 MiB allocation */
  n = CARNET_FRAME_BYTES_MAX - 10;
  assert_int_equal(carnet__frame_read(&r, &p, &n, &f), 1);
  assert_int_equal(f.len, CARNET_FRAME_BYTES_MAX);
  assert_memory_equal(f.base, payload, CARNET_FRAME_BYTES_MAX);
  assert_int_equal(r.cap, CARNET_FRAME_BYTES_MAX);
  /* The next frame starts from a small buffer again. */
  static const uint8_t small[] = {0, 0, 0, 1, 'x'};
  p = small;
  n = sizeof small;
  assert_int_equal(carnet__frame_read(&r, &p, &n, &f), 1);
  assert_true(r.cap < 65536);
  carnet__frame_reader_free(&r);
  free(payload);
}

static void test_writer_limits(void **state) {
  (void)state;
  carnet__obuf out;
  size_t mark;
  carnet__obuf_init(&out);
  assert_int_equal(carnet__frame_write(&out, "x", 0, 16), CARNET_EMISUSE);
  assert_int_equal(carnet__frame_write(&out, "0123456789abcdefg", 17, 16), CARNET_ELIMIT);
  assert_int_equal(out.len, 0);
  /* In-place frames: an empty or oversized one is removed whole. */
  assert_int_equal(carnet__frame_write(&out, "ok", 2, 16), 0);
  assert_int_equal(carnet__frame_begin(&out, &mark), 0);
  assert_int_equal(carnet__frame_end(&out, mark, 16), CARNET_EMISUSE);
  assert_int_equal(out.len, 6);
  assert_int_equal(carnet__frame_begin(&out, &mark), 0);
  assert_int_equal(carnet__obuf_append(&out, "0123456789abcdefg", 17), 0);
  assert_int_equal(carnet__frame_end(&out, mark, 16), CARNET_ELIMIT);
  assert_int_equal(out.len, 6);
  assert_int_equal(carnet__frame_begin(&out, &mark), 0);
  assert_int_equal(carnet__obuf_append(&out, "abc", 3), 0);
  assert_int_equal(carnet__frame_end(&out, mark, 16), 0);
  static const uint8_t want[] = {0, 0, 0, 2, 'o', 'k', 0, 0, 0, 3, 'a', 'b', 'c'};
  assert_int_equal(out.len, sizeof want);
  assert_memory_equal(out.base, want, sizeof want);
  /* The output buffer's hard limit. */
  assert_int_equal(carnet__obuf_reserve(&out, CARNET_OBUF_BYTES_MAX), CARNET_ELIMIT);
  assert_int_equal(out.len, sizeof want);
  carnet__obuf_consume(&out, 6);
  assert_int_equal(out.len, 7);
  assert_memory_equal(out.base, want + 6, 7);
  carnet__obuf_free(&out);
}

/* A connection cut in the middle of a frame leaves the reader not idle. */
static void test_idle(void **state) {
  (void)state;
  carnet__frame_reader r;
  carnet_buf f;
  static const uint8_t bytes[] = {0, 0, 0, 2, 'h', 'i', 0, 0};
  carnet__frame_reader_init(&r, 16);
  assert_true(carnet__frame_reader_idle(&r));
  const uint8_t *p = bytes;
  size_t n = 5;
  assert_int_equal(carnet__frame_read(&r, &p, &n, &f), 0);
  assert_false(carnet__frame_reader_idle(&r));
  n = 1;
  assert_int_equal(carnet__frame_read(&r, &p, &n, &f), 1);
  assert_true(carnet__frame_reader_idle(&r));
  n = 2;
  assert_int_equal(carnet__frame_read(&r, &p, &n, &f), 0);
  assert_false(carnet__frame_reader_idle(&r));
  carnet__frame_reader_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_chunks),
      cmocka_unit_test(test_stops_at_frame_end),
      cmocka_unit_test(test_oversized_refused_before_payload),
      cmocka_unit_test(test_zero_length_refused),
      cmocka_unit_test(test_max_frame_and_growth),
      cmocka_unit_test(test_writer_limits),
      cmocka_unit_test(test_idle),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
