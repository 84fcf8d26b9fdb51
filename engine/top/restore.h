/* engine/top/restore.h - invariant B2 of engine/top/backup.h as a sync session
 * asks it (engine/top/backup.c; not API). An interface header for protocol/:
 * public headers only. */
#ifndef CARNET_ENGINE_RESTORE_H
#define CARNET_ENGINE_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "carnet/replica.h"

/* Brief: B2 for a session with the peer whose key is `peer_pk`. `*held`
 * receives whether this replica must still send no batch. With
 * `peer_certs_in` (the peer's REQ has arrived, so its certificates have all
 * been applied) and a peer trusted at the restore, the wait ends: the meta
 * value goes, in its own transaction, and *held is false. No transaction
 * may be open on the handle. Errors: CARNET_EIO, CARNET_ENOSPC. */
int carnet__restore_gate(carnet_replica *r, const uint8_t peer_pk[32], bool peer_certs_in,
                         bool *held);

#endif
