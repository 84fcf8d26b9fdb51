/* engine/store/erased.h - what the store holds of erasures, for the parts below
 * the erasure itself (engine/store/erased.c; not API). */
#ifndef CARNET_ENGINE_ERASED_H
#define CARNET_ENGINE_ERASED_H

#include <stdbool.h>
#include <stdint.h>

#include "carnet/types.h"
#include "engine/store/store.h"

/* The meta key of the certificates' sequence counter (lseq). */
#define CARNET__META_CERTSEQ "certseq" /* 8 bytes big-endian */

/* Brief: whether entity `id` was erased (X1). For the duplicate merge: a
 * customer that is erased must not be merged into. Errors: CARNET_EIO. */
int carnet__erased(carnet__stxn *st, const carnet_id *id, bool *out);

/* A stored certificate: lseq (uint) then the certificate's bytes; `cert`
 * points into `v`. Errors: CARNET_ECORRUPT. engine/store/erased.c. */
int carnet__cert_stored_split(carnet_buf v, uint64_t *lseq, carnet_buf *cert);

/* Brief: for the change feed (engine/store/feed.c, engine/store/erased.c): each customer whose
 * certificate was stored with an lseq in (after, upto] (new, or changed by
 * a confirmation: X4), cb(data, id, true), then each other entity erased by
 * one of them, cb(data, id, false). A non-zero return of `cb` stops and is
 * returned. Errors: CARNET_ECORRUPT, CARNET_EIO, CARNET_ENOMEM. */
int carnet__erasures_between(carnet__stxn *st, uint64_t after, uint64_t upto,
                             int (*cb)(void *data, const carnet_id *id, bool customer), void *data);

#endif
