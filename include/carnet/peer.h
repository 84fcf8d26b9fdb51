/* carnet/peer.h - a replica's identity, the team it trusts, revocations,
 * and invites.
 *
 * Each replica has an Ed25519 key pair made at init. A team is the set of
 * replicas that trust each other's public keys; it has a 16-byte team id
 * (made at init, adopted from the inviter on join). Sync refuses any key not
 * in the trust list during the handshake, before any data is read.
 *
 * Revocation: removing a peer (carnet_peer_remove) also revokes its key for
 * the team. The replica signs a revocation record with its identity key;
 * sessions carry records before anything else, and every replica that
 * trusts the signer stops trusting the revoked key, ends its live sessions
 * with it within a tick (whichever process of the replica learnt of it),
 * and passes the record on. Any trusted member may revoke; a record signed
 * by a key that is not trusted (or is itself revoked) where it arrives is
 * ignored there. A revoked key is never trusted again by a sync (invite,
 * join): only carnet_peer_trust_override, on each replica that wants it.
 * engine/store/revoke.h has the rules (R1-R5).
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
  uint64_t last_sync_ms; /* last time both sides were caught up; 0 if never */
  uint64_t acked;        /* our sequence number the peer has confirmed */
  /* Live status, recorded by sessions as they go (at most about once a
   * second while changes are acknowledged, every few seconds while idle,
   * and when they end) by whichever process runs them: */
  uint64_t last_contact_ms; /* the last message received from it; 0 if none recorded */
  bool online;              /* a session with it is live now, in a process that is running */
  uint64_t pending; /* our sequence numbers after `acked`: changes it has not confirmed yet */
} carnet_peer_info;

/* Brief: trust a key (idempotent; `addr`, "host:port" where it serves, may
 * be NULL), in its own write transaction (or the open one).
 * Errors: CARNET_EINVAL (this replica's own key, or an address too long),
 * CARNET_EPERM (the key is revoked: the errmsg says by whom and when; only
 * carnet_peer_trust_override trusts it again), CARNET_ECORRUPT,
 * CARNET_ENOSPC, CARNET_EIO. */
CARNET_API int carnet_peer_trust(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES],
                                 const char *addr);

/* Brief: trust a key even if it was revoked (`carnet peer trust
 * --override-revocation`): here only, in its own write transaction (or the
 * open one). The revocation stays, marked overridden, and is still passed
 * on to peers; a revocation of the key signed after this call revokes it
 * again. Otherwise as carnet_peer_trust.
 * Errors: CARNET_EINVAL, CARNET_ECORRUPT, CARNET_ENOSPC, CARNET_EIO. */
CARNET_API int carnet_peer_trust_override(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES],
                                          const char *addr);

/* Brief: stop trusting a key and revoke it for the team, in one write
 * transaction of its own (or the open one): the key leaves the trust list,
 * and a revocation record signed by this replica is stored, which every
 * session sends to its peer. A node serving this replica, in this process
 * or another, ends its live sessions with the key within a tick and
 * applies nothing the peer sends afterwards.
 * Errors: CARNET_ENOTFOUND (the key is not trusted), CARNET_ECORRUPT (the
 * identity keys are damaged), CARNET_ENOSPC, CARNET_EIO. */
CARNET_API int carnet_peer_remove(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES]);

/* Brief: 0 when the key is trusted: in the trust list and not revoked.
 * Errors: CARNET_EPERM (not trusted), CARNET_ECORRUPT, CARNET_EIO. */
CARNET_API int carnet_peer_check(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES]);

/* A revoked key, as this replica knows it. A value. */
typedef struct carnet_revocation {
  uint8_t pk[CARNET_PK_BYTES]; /* the revoked key */
  uint8_t by[CARNET_PK_BYTES]; /* the replica that revoked it (it signed the record) */
  uint64_t at_ms;              /* when, by that replica's clock (ms since the epoch) */
  bool overridden;             /* trusted again here (carnet_peer_trust_override) */
} carnet_revocation;

/* Brief: the revocation of `pk` known here.
 * Errors: CARNET_ENOTFOUND (not revoked), CARNET_ECORRUPT, CARNET_EIO. */
CARNET_API int carnet_revocation_get(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES],
                                     carnet_revocation *out);

/* Brief: call cb for every revocation known here, in key order; a
 * non-zero return stops and is returned. `rv` lives until cb returns; cb
 * may read the replica but not write it.
 * Errors: CARNET_EMISUSE (cb is NULL), CARNET_ECORRUPT (a stored record
 * is damaged), CARNET_EIO, CARNET_EBUSY, or what cb returned. */
CARNET_API int carnet_revocation_list(carnet_replica *r,
                                      int (*cb)(const carnet_revocation *rv, void *data),
                                      void *data);

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
