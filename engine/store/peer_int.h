/* engine/store/peer_int.h - the engine's side of the trust list and invites
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

/* What a live session records of its peer as it goes (carnet_peer_info's
 * live status). Zero fields are left as they are; `acked` only grows. */
typedef struct carnet__peer_live {
  uint64_t replica_id;
  const char *addr;      /* NULL or "": unchanged */
  uint64_t contact_ms;   /* the last message received from the peer */
  uint64_t last_sync_ms; /* the last time both sides were caught up */
  uint64_t acked;        /* our sequence number the peer confirmed */
  int online;            /* +1: a session starts; -1: it ends; 0: neither */
} carnet__peer_live;

/* A live record older than this is not online, whatever its process: a
 * session hears from its peer at least every CARNET_SESSION_IDLE_PING_MS
 * and fails after CARNET_SESSION_TIMEOUT_MS of silence. */
#define CARNET__PEER_LIVE_STALE_MS 75000u

/* Progress is written at most this often (all peers of a handle in one
 * transaction); a session that starts or ends at once. */
#define CARNET__PEER_LIVE_NOTE_MS 1000u

/* Brief: note a live session's progress with the peer `pk` on the handle,
 * and write what waits when a session starts or ends (`online` != 0) or
 * when the last write is CARNET__PEER_LIVE_NOTE_MS old: the peer records
 * (address, id, last sync, acked) and the meta values `live:` + key (this
 * process's id while one of its sessions with the peer is live, the last
 * contact), in one write transaction. The handle counts its live sessions
 * per peer (`online` +1 / -1), so the process is written as gone only when
 * its last session with the peer ends, and only over a record it wrote
 * itself. Sets no error message on the handle (a session that fails
 * records its end with its own message standing). A peer no longer
 * trusted is skipped. Errors (the notes wait for the next write):
 * CARNET_ENOMEM, CARNET_ENOSPC, CARNET_EIO, CARNET_EBUSY. */
int carnet__peer_live_note(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES],
                           const carnet__peer_live *n, uint64_t now_ms);

/* Write the notes that wait, when the last write is CARNET__PEER_LIVE_NOTE_MS
 * old or `force`. Errors: as carnet__peer_live_note. */
int carnet__peer_live_flush(carnet_replica *r, uint64_t now_ms, bool force);

/* A session counted live (+1) is freed without having ended (closed by
 * force): count it gone on the handle, writing nothing. */
void carnet__peer_live_drop(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES]);

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

/* Brief: the greatest sequence number of ours that any peer has confirmed
 * (carnet_peer_info.acked), 0 with no peer: a local change after it is
 * known to no other replica (engine/crm/conflict.c). Errors: CARNET_ECORRUPT,
 * CARNET_EIO. */
struct carnet__stxn;
int carnet__peer_acked_max(struct carnet__stxn *st, uint64_t *out);

#endif
