/* Fuzz target: the frame reader (every byte a peer sends goes through it
 * first). The first input byte picks the reader's maximum and the chunk
 * size; the rest is the byte stream.
 * Invariants checked: the frames yielded, written back with the frame
 * writer, are exactly the bytes consumed up to the last of them; reading in
 * chunks and reading everything at once give the same frames and the same
 * verdict; a frame is 1..max bytes; a refusal is CARNET_EPROTO and sticky;
 * the reader never consumes more than it was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "protocol/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads `data` in chunks of `chunk` bytes; appends every frame re-encoded
 * to `re`. Returns the final verdict (0 or an error) and the bytes consumed
 * up to the end of the last frame in *last_end. */
static int read_all(const uint8_t *data, size_t size, uint32_t max, size_t chunk, carnet__obuf *re,
                    size_t *last_end) {
  carnet__frame_reader r;
  size_t off = 0;
  int rc = 0;
  *last_end = 0;
  carnet__frame_reader_init(&r, max);
  while (off < size) {
    size_t n = size - off < chunk ? size - off : chunk;
    const uint8_t *p = data + off;
    size_t left = n;
    carnet_buf f;
    while ((rc = carnet__frame_read(&r, &p, &left, &f)) == 1) {
      if (f.len == 0 || f.len > max) abort();
      if (carnet__frame_write(re, f.base, f.len, max) != 0) abort();
      *last_end = off + (n - left);
    }
    if (left > n) abort();
    if (rc < 0) {
      if (rc != CARNET_EPROTO) abort();
      /* Sticky: a refused stream stays refused. */
      carnet_buf f2;
      const uint8_t *q = data;
      size_t k = size;
      if (carnet__frame_read(&r, &q, &k, &f2) != rc || carnet__frame_reader_idle(&r)) abort();
      break;
    }
    if (left != 0) abort(); /* 0 means every byte was taken */
    off += n;
  }
  carnet__frame_reader_free(&r);
  return rc < 0 ? rc : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint32_t maxes[4] = {CARNET_FRAME_BYTES_MAX, 1024, 16, 1};
  carnet__obuf a, b;
  size_t end_a, end_b;
  if (size < 1) return 0;
  uint32_t max = maxes[data[0] & 3];
  size_t chunk = (size_t)(data[0] >> 2) + 1;
  data++;
  size--;
  carnet__obuf_init(&a);
  carnet__obuf_init(&b);
  int rc_a = read_all(data, size, max, chunk, &a, &end_a);
  int rc_b = read_all(data, size, max, size ? size : 1, &b, &end_b);
  if (rc_a != rc_b || end_a != end_b || a.len != b.len) abort();
  if (a.len && memcmp(a.base, b.base, a.len) != 0) abort();
  /* encode(decode(x)) == x, for the part of x that decoded. */
  if (a.len != end_a || (a.len && memcmp(a.base, data, a.len) != 0)) abort();
  carnet__obuf_free(&a);
  carnet__obuf_free(&b);
  return 0;
}
