/* engine/model/cert.h - the erasure certificate codec (docs/FORMATS.md).
 *
 * A certificate is a msgpack stream, the same bytes on the wire (the CERT
 * message) and in the `certs` table (after a local sequence number, the
 * whole value sealed from schema 4: engine/store/store.c):
 *
 *   version=1  id(bin16)  kind=1  at(uint)  origin(uint)  reason(str)
 *   nconfirmed  (replica uint)*nconfirmed      replicas strictly ascending
 *
 *   version=2  id(bin16)  kind=1  at(uint)  origin(uint)  scope(uint)
 *   reason(str)  nconfirmed  (replica uint)*nconfirmed
 *
 * Version 1 has no scope: it is CARNET_ERASE_RECORD (what every build
 * before certificates had a scope did). The encoder writes the oldest version that holds
 * the certificate: version 1 for scope RECORD, so that a build that reads
 * only version 1 still takes them; version 2 for scope PERSON, which such a
 * build refuses (its session stops with "malformed erasure certificate":
 * it must be upgraded to honour the person's erasure).
 *
 * Invariant K1: a decoded certificate is valid: known version and kind,
 * at > 0, origin != 0, a known scope, the reason one line of UTF-8 of at
 * most CARNET_ERASE_REASON_MAX bytes, confirmations non-zero, strictly
 * ascending, at most CARNET_ERASE_CONFIRMS_MAX, and nothing after them.
 */
#ifndef CARNET_ENGINE_CERT_H
#define CARNET_ENGINE_CERT_H

#include "carnet/erase.h"
#include <msgpack.h>

#define CARNET__CERT_VERSION 2 /* the newest this build writes and reads */
/* The largest encoded certificate (fits a CERT message). */
#define CARNET__CERT_BYTES_MAX (64u + CARNET_ERASE_REASON_MAX + 9u * CARNET_ERASE_CONFIRMS_MAX)

/* Brief: append the certificate's bytes to `sb`. Errors: CARNET_ENOMEM. */
int carnet__cert_encode(const carnet_erasure *c, msgpack_sbuffer *sb);

/* Brief: decode and validate (K1) exactly `len` bytes. `bad_line` (may be
 * NULL) receives the check that refused them. Errors: CARNET_EPROTO. */
int carnet__cert_decode(const void *buf, size_t len, carnet_erasure *out, int *bad_line);

/* Brief: add `id` to the confirmations, keeping them ascending. Returns
 * true when it was not there. Errors: none (a full set stays as it is:
 * returns false). */
bool carnet__cert_confirm(carnet_erasure *c, uint64_t id);

/* Brief: merge `b` into `a`: union of the confirmations, the wider scope
 * (PERSON over RECORD: two erasures of one customer, one of them of the
 * person, erase the person), and the earlier (at, origin) decides the
 * other fields, so concurrent erasures of one customer converge. Returns
 * true when `a` changed. */
bool carnet__cert_merge(carnet_erasure *a, const carnet_erasure *b);

/* Brief: the two certificates are the same (fields and confirmations). */
bool carnet__cert_equal(const carnet_erasure *a, const carnet_erasure *b);

#endif
