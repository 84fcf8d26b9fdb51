/* engine/erase/certs.h - the erasure certificates as the sync protocol carries
 * them: the counter, the certificates after a mark, one received
 * (engine/erase/erase.c; not API). An interface header for protocol/: public
 * headers and msgpack only. */
#ifndef CARNET_ENGINE_CERTS_H
#define CARNET_ENGINE_CERTS_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/replica.h"

/* Brief: the current `certseq` (0 when no certificate). */
int carnet__certs_seq(carnet_replica *r, uint64_t *out);

/* Brief: call `cb` with the bytes of each certificate whose lseq is after
 * `after` (the bytes live until cb returns); `*upto` receives the certseq
 * they were read at. Errors: CARNET_ECORRUPT, CARNET_EIO, or cb's. */
int carnet__certs_since(carnet_replica *r, uint64_t after, uint64_t *upto,
                        int (*cb)(const void *bytes, size_t len, void *data), void *data);

/* Brief: apply a certificate received from peer `from` (its replica id,
 * for the change feed; 0: unknown), in its own transaction (CARNET_EPROTO
 * when it does not decode or is dated more than 7 days ahead). When the merged
 * certificate differs from the received one (the peer lacks confirmations
 * we have), its bytes are appended to `reply`, for the peer. */
int carnet__cert_receive(carnet_replica *r, uint64_t from, const void *bytes, size_t len,
                         msgpack_sbuffer *reply);

#endif
