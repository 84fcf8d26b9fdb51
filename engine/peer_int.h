/* engine/peer_int.h - the engine's side of the trust list and invites
 * that only the sync protocol and LAN discovery use: signing with the
 * identity key, the invite secrets, and what a session records of a peer.
 * Not API: an app that could sign any bytes with the replica's identity key
 * could impersonate the replica to its team.
 */
#ifndef CARNET_ENGINE_PEER_INT_H
#define CARNET_ENGINE_PEER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "carnet/peer.h"

/* Brief: sign `msg` with this replica's secret key (64-byte signature). The
 * secret key never leaves the engine. */
int carnet__sign(carnet_replica *r, const void *msg, size_t len, uint8_t sig[64]);

/* Brief: record what a sync session learnt of a peer (fields 0/"" are left
 * as they are). Errors: CARNET_ENOTFOUND (not trusted). */
int carnet__peer_note(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES], uint64_t replica_id,
                      const char *addr, uint64_t last_sync_ms, uint64_t acked);

/* Brief: record an invite (one-time secret with an expiry). */
int carnet__invite_add(carnet_replica *r, const uint8_t id[CARNET_INVITE_ID_BYTES],
                       const uint8_t secret[CARNET_INVITE_SECRET_BYTES], uint64_t expiry_ms);

/* Brief: the secret of an outstanding invite.
 * Errors: CARNET_ENOTFOUND (unknown or already used), CARNET_EPERM (expired). */
int carnet__invite_secret(carnet_replica *r, const uint8_t id[CARNET_INVITE_ID_BYTES],
                          uint8_t secret[CARNET_INVITE_SECRET_BYTES]);

/* Brief: mark an invite used and trust `pk`, in one transaction, so a token
 * works once. Errors: CARNET_ENOTFOUND (unknown or already used). */
int carnet__invite_consume(carnet_replica *r, const uint8_t id[CARNET_INVITE_ID_BYTES],
                           const uint8_t pk[CARNET_PK_BYTES], const char *addr);

#endif
