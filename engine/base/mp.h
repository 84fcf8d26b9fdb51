/* engine/base/mp.h - reading a msgpack stream (concatenated objects) with
 * msgpack-c, keeping the exact bytes of each object.
 *
 * Rows and batches are streams of top-level objects rather than one nested
 * array, so a value's raw bytes are known exactly (they are stored, compared
 * and forwarded as they are) and a batch can be written as it is produced.
 * Every check that rejects input records its line (STYLE 6), so a fuzz
 * report points at the check that fired.
 */
#ifndef CARNET_ENGINE_MP_H
#define CARNET_ENGINE_MP_H

#include "carnet/types.h"
#include <msgpack.h>
#include <stdbool.h>

typedef struct carnet__mp {
  const char *buf;
  size_t len, off;
  msgpack_zone zone; /* made on the first carnet__mp_next: scalars need none */
  bool zone_live;
  int bad_line; /* source line of the check that rejected the input */
} carnet__mp;

/* Walk one object's structure without allocating: 0 and its length in
 * *used when every length and element count fits in `len` bytes, else
 * CARNET_ECORRUPT. msgpack-c allocates by the announced counts, so every
 * outside byte goes through this first. */
int carnet__mp_scan(const void *buf, size_t len, size_t *used);

/* Nesting accepted in outside bytes: rows and batches need 2. */
#define CARNET__MP_DEPTH_MAX 8

int carnet__mp_init(carnet__mp *m, const void *buf, size_t len);
void carnet__mp_destroy(carnet__mp *m);

/* The next object and its raw bytes. Errors: CARNET_ECORRUPT. */
int carnet__mp_next(carnet__mp *m, msgpack_object *o, carnet_buf *raw);
/* The raw bytes of the next object, its structure checked (carnet__mp_scan)
 * but not unpacked: for values that are kept as bytes and checked by their
 * own rules (carnet__cell_check). Errors: CARNET_ECORRUPT. */
int carnet__mp_skip(carnet__mp *m, carnet_buf *raw);
int carnet__mp_uint(carnet__mp *m, uint64_t *v);
int carnet__mp_int(carnet__mp *m, int64_t *v);
int carnet__mp_bool(carnet__mp *m, bool *v);
/* A bin; nil reads as empty when nil_ok. */
int carnet__mp_bin(carnet__mp *m, carnet_buf *v, bool nil_ok);
/* The next object is nil: consumes it and returns true. */
bool carnet__mp_nil(carnet__mp *m);
bool carnet__mp_done(const carnet__mp *m);

/* Decode `len` bytes holding exactly one object into *o without msgpack-c
 * and without allocating: scalars, and arrays of at most 4 scalars (their
 * elements go to `elems`). Returns false when the bytes are anything else,
 * including malformed: the caller then asks msgpack-c, whose answer is the
 * reference. When it returns true, *o is what msgpack_unpack would give.
 * The hot paths (row and batch decoding, value checks, index keys) read
 * millions of small values: msgpack-c's zone allocation per value was a
 * visible share of their time. */
bool carnet__mp_obj1(const void *buf, size_t len, msgpack_object *o, msgpack_object elems[4]);

/* A packer writing into an sbuffer: the usual msgpack-c pair. */
void carnet__pack_bin(msgpack_packer *pk, const void *p, size_t n);
void carnet__pack_str(msgpack_packer *pk, const char *p, size_t n);

#endif
