/* replica/announce.h - the LAN announcement datagram: who we are, which team,
 * where to dial us, when, signed. Pure code: no socket, no loop, no replica
 * handle (the trust list is reached through a callback), so the fuzz target
 * and the unit tests drive it with fixed keys and a fixed clock.
 *
 * Wire format, frozen (a change bumps the version; a new size comes with a
 * new version, so a v1 reader reports "unsupported version", not "size"):
 *
 *   offset size  field
 *        0    4  magic "CNA1"
 *        4    1  version (1)
 *        5   16  team id
 *       21   32  static Ed25519 public key of the sender
 *       53    8  replica id, big-endian
 *       61    2  TCP port the sender listens on, big-endian (never 0)
 *       63    8  timestamp, Unix ms of the sender's clock, big-endian
 *       71   64  Ed25519 signature of bytes 0..70 by that key
 *      135       (end: a datagram is exactly this long)
 *
 * The sender's IP address is not in the datagram: the receiver takes it from
 * the datagram's source address, so a replica behind NAT or with several
 * addresses is dialled where its packets come from.
 *
 * What a valid announcement proves: the holder of the key said "team T, I
 * listen on port P" at about time ts. It does not prove that the source
 * address is the holder's (anyone on the LAN may replay a fresh datagram
 * from elsewhere within the freshness window), which is harmless: the TCP
 * handshake authenticates the static key before any data moves, so a dial to
 * a replayer fails there.
 */
#ifndef CARNET_REPLICA_ANNOUNCE_H
#define CARNET_REPLICA_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "carnet/peer.h" /* CARNET_PK_BYTES, CARNET_TEAM_BYTES */
#include "engine/store/peer_int.h"

#define CARNET__ANNOUNCE_MAGIC "CNA1"
#define CARNET__ANNOUNCE_VERSION 1u
#define CARNET__ANNOUNCE_SIG_BYTES 64u
/* The signed part: everything before the signature. */
#define CARNET__ANNOUNCE_BODY_BYTES (4u + 1u + CARNET_TEAM_BYTES + CARNET_PK_BYTES + 8u + 2u + 8u)
#define CARNET__ANNOUNCE_BYTES (CARNET__ANNOUNCE_BODY_BYTES + CARNET__ANNOUNCE_SIG_BYTES)
/* Where the sender's key sits, for a receiver that spots its own
 * announcements looped back before decoding them. */
#define CARNET__ANNOUNCE_PK_OFFSET 21u
/* An announcement whose timestamp is further than this from the receiver's
 * clock, either way, is ignored: an old one replayed, or a clock so wrong
 * that the HLC would be dragged by it anyway. */
#define CARNET__ANNOUNCE_SKEW_MS_MAX 60000u

_Static_assert(CARNET_PK_BYTES == 32 && CARNET_TEAM_BYTES == 16, "announcement fields are frozen");
_Static_assert(CARNET__ANNOUNCE_BODY_BYTES == 71 && CARNET__ANNOUNCE_BYTES == 135,
               "the announcement layout is frozen (see the table above)");

typedef struct carnet__announce {
  uint8_t team[CARNET_TEAM_BYTES];
  uint8_t pk[CARNET_PK_BYTES];
  uint64_t replica_id;
  uint16_t port; /* TCP, 1..65535 */
  uint64_t ts_ms;
  uint8_t sig[CARNET__ANNOUNCE_SIG_BYTES];
} carnet__announce;

/* Signs `len` bytes of `msg` with the sender's secret key; 0 or a CARNET_E*
 * code. carnet__sign has this shape once its replica is passed as `ctx`. */
typedef int (*carnet__announce_sign_fn)(void *ctx, const void *msg, size_t len,
                                        uint8_t sig[CARNET__ANNOUNCE_SIG_BYTES]);

/* Is `pk` trusted? 0 when it is, CARNET_EPERM when not (any other code is
 * taken as "not trusted" too: an unreadable trust list dials no one). */
typedef int (*carnet__announce_trust_fn)(void *ctx, const uint8_t pk[CARNET_PK_BYTES]);

/* Brief: write the datagram of `a`, signature included, to `out`. The
 * signature is `a->sig` as it is (see carnet__announce_sign). Cannot fail. */
void carnet__announce_encode(const carnet__announce *a, uint8_t out[CARNET__ANNOUNCE_BYTES]);

/* Brief: fill `a->sig` by signing the encoded body of `a` with `sign`.
 * Errors: CARNET_EINVAL (port 0: nobody could dial it), or what `sign`
 * returns (a->sig is then zeroed). */
int carnet__announce_sign(carnet__announce *a, carnet__announce_sign_fn sign, void *ctx);

/* What the receiver checks an announcement against. */
typedef struct carnet__announce_check {
  const uint8_t *team;    /* our team id (CARNET_TEAM_BYTES) */
  const uint8_t *self_pk; /* our key (CARNET_PK_BYTES): our own announcements loop back */
  uint64_t now_ms;        /* our wall clock, Unix ms */
  uint64_t skew_ms_max;   /* 0: CARNET__ANNOUNCE_SKEW_MS_MAX */
  carnet__announce_trust_fn trusted;
  void *trusted_ctx;
} carnet__announce_check;

/* Brief: decode `len` bytes of a datagram and decide whether to believe it.
 * Checks run cheapest first, so a stranger's datagram costs no signature
 * verification: form (size, magic, version, port), team, own key, trust,
 * freshness, then the signature. After a 0 return `*out` holds the
 * announcement; on error it is zeroed and `*why` (when `why` is not NULL)
 * points to a static one-line reason for a debug log ("" on success).
 * Errors:
 *   CARNET_EPROTO  not a valid announcement: wrong size, magic or version,
 *                  port 0, or a signature that does not verify;
 *   CARNET_EPERM   valid but not for us: another team, our own key, a key
 *                  not trusted, or a timestamp more than skew_ms_max away
 *                  from now_ms.
 * Either way the caller ignores the datagram: none of these is an error of
 * the receiver. */
int carnet__announce_decode(const void *buf, size_t len, const carnet__announce_check *chk,
                            carnet__announce *out, const char **why);

#endif
