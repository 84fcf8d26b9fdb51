/* carnet/peer.h - a replica's identity, the team it trusts, and invites.
 *
 * Each replica has an Ed25519 key pair made at init. A team is the set of
 * replicas that trust each other's public keys; it has a 16-byte team id
 * (made at init, adopted from the inviter on join). Sync refuses any key not
 * in the trust list during the handshake, before any data is read.
 */
#ifndef CARNET_PEER_H
#define CARNET_PEER_H

#include "carnet/api.h"

#include "carnet/replica.h"
#include <stdbool.h>

CARNET_BEGIN_DECLS

#define CARNET_PK_BYTES 32
#define CARNET_TEAM_BYTES 16
#define CARNET_INVITE_ID_BYTES 16
#define CARNET_INVITE_SECRET_BYTES 32

/* Brief: this replica's public signing key and team id (either may be
 * NULL). Errors: CARNET_ECORRUPT (the identity keys are missing or damaged:
 * restore a backup), CARNET_EIO, CARNET_EBUSY (too many readers). */
CARNET_API int carnet_replica_get_identity(carnet_replica *r, uint8_t pk[CARNET_PK_BYTES],
                                           uint8_t team[CARNET_TEAM_BYTES]);

/* Brief: adopt a team id, in its own write transaction (or the open one).
 * Pairing by hand (`carnet peer add KEY --team TEAM`) uses it; an invite
 * does it by itself. Sessions check the team id during the handshake: a
 * replica that adopts another team stops syncing with its old one.
 * Errors: CARNET_ENOSPC, CARNET_EIO, CARNET_EBUSY. */
CARNET_API int carnet_replica_set_team(carnet_replica *r, const uint8_t team[CARNET_TEAM_BYTES]);

typedef struct carnet_peer_info {
  uint8_t pk[CARNET_PK_BYTES];
  uint64_t replica_id; /* 0 until the first handshake */
  char addr[256];      /* last known address, "" if none */
  uint64_t added_ms;
  uint64_t last_sync_ms; /* 0 if never */
  uint64_t acked;        /* our sequence number the peer has confirmed */
} carnet_peer_info;

/* Brief: trust a key (idempotent; `addr`, "host:port" where it serves, may
 * be NULL), in its own write transaction (or the open one).
 * Errors: CARNET_EINVAL (this replica's own key, or an address too long),
 * CARNET_ECORRUPT, CARNET_ENOSPC, CARNET_EIO. */
CARNET_API int carnet_peer_trust(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES],
                                 const char *addr);

/* Brief: stop trusting a key. Errors: CARNET_ENOTFOUND. */
CARNET_API int carnet_peer_remove(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES]);

/* Brief: 0 when the key is trusted.
 * Errors: CARNET_EPERM (not trusted), CARNET_ECORRUPT, CARNET_EIO. */
CARNET_API int carnet_peer_check(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES]);

/* Brief: read one peer. Errors: CARNET_ENOTFOUND. */
CARNET_API int carnet_peer_get(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES],
                               carnet_peer_info *out);

/* Brief: call cb for every trusted peer, in key order; a non-zero return
 * stops and is returned. `p` lives until cb returns.
 * Errors: CARNET_ECORRUPT (a peer record is damaged), CARNET_EIO,
 * CARNET_EBUSY, or what cb returned. */
CARNET_API int carnet_peer_list(carnet_replica *r, int (*cb)(const carnet_peer_info *p, void *data),
                                void *data);

CARNET_END_DECLS

#endif
