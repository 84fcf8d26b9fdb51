/* engine/crm/attach_xfer.h - attachments' content as the sync session moves
 * it (engine/crm/attach_xfer.c; the units and invariants: engine/crm/attach.h).
 * An interface header for protocol/: public headers only. */
#ifndef CARNET_ENGINE_ATTACH_XFER_H
#define CARNET_ENGINE_ATTACH_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/attach.h"
#include "carnet/replica.h"

/* Brief: the length of the unit at `offset` of a content file of `size`
 * bytes of content, or 0 when `offset` starts no unit. */
size_t carnet__att_unit_len(uint64_t size, uint64_t offset);

typedef struct carnet__att_rx carnet__att_rx;

/* Brief: start or resume receiving attachment `id`: *offset receives where
 * the content file's bytes are wanted from (what NAME.part holds, checked).
 * After the call the caller owns *out (carnet__att_rx_close).
 * Errors: CARNET_ENOTFOUND (no such attachment, deleted, or here already),
 * CARNET_ELIMIT (larger than size_max), CARNET_EBUSY (another transfer has
 * NAME.part: A4), CARNET_EIO, CARNET_ENOSPC, CARNET_ENOMEM. */
int carnet__att_rx_open(carnet_replica *r, const carnet_id *id, carnet__att_rx **out,
                        uint64_t *offset);

/* Brief: the unit at `offset` arrived. It must be the one expected, open
 * with the key and be in its place (FINAL last); it is appended to
 * NAME.part. After the last one the content's size and hash are checked,
 * the file fsynced and renamed (A1), the want removed: *done is true. An
 * attachment deleted or erased since the transfer began loses NAME.part at
 * once; the units still coming are then only counted (A3).
 * Errors: CARNET_EPROTO (not the unit expected, or it fails to open, or the
 * hash differs: the peer's bytes are bad; NAME.part keeps its good
 * prefix), CARNET_EIO, CARNET_ENOSPC. The detail is on the replica. */
int carnet__att_rx_unit(carnet__att_rx *rx, uint64_t offset, const void *bytes, size_t len,
                        bool *done);

/* Brief: the attachment and the offset expected next. */
const carnet_id *carnet__att_rx_id(const carnet__att_rx *rx);
uint64_t carnet__att_rx_offset(const carnet__att_rx *rx);

/* Brief: stop receiving (NAME.part stays for the next transfer, unlocked).
 * NULL is a no-op. */
void carnet__att_rx_close(carnet__att_rx *rx);

typedef struct carnet__att_tx carnet__att_tx;

/* Brief: start sending the content file of attachment `id` from `offset`.
 * After the call the caller owns *out (carnet__att_tx_close).
 * Errors: CARNET_ENOTFOUND (no such attachment, deleted, or its file is
 * not here whole), CARNET_EINVAL (`offset` starts no unit), CARNET_EIO,
 * CARNET_ENOMEM. */
int carnet__att_tx_open(carnet_replica *r, const carnet_id *id, uint64_t offset,
                        carnet__att_tx **out);

/* Brief: read the next unit: *out points into `tx` until the next call,
 * *offset is where it starts, *last says it is the file's last. Errors:
 * CARNET_EIO (the file is unreadable or shorter than it was). */
int carnet__att_tx_next(carnet__att_tx *tx, carnet_buf *out, uint64_t *offset, bool *last);

/* Brief: NULL is a no-op. */
void carnet__att_tx_close(carnet__att_tx *tx);

/* Brief: the attachments this replica wants fetched now (policy and wants,
 * not here, not deleted, not above size_max), oldest first (ids are
 * time-ordered). The caller frees *out. Errors: CARNET_ECORRUPT,
 * CARNET_ENOMEM, CARNET_EIO. */
int carnet__att_fetch_list(carnet_replica *r, carnet_id **out, size_t *n);

#endif
