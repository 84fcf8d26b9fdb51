/* engine/store/revoke.h - revocation records: the team's grow-only set of
 * revoked identity keys (DESIGN.md "Revocation travels", docs/FORMATS.md).
 *
 * `carnet peer remove KEY` writes a record signed by this replica's
 * identity key; sessions send every record first (before certificates and
 * batches: protocol/session.c S6), later ones on the tick, and every
 * replica that accepts a record stops trusting the key and ends its live
 * sessions with it (the sessions watch `trustseq`).
 *
 * A record (version 1) is a msgpack stream, the same bytes on the wire (a
 * REVOKE message) and in the store:
 *
 *   version=1  revoked(bin32)  at(uint: ms since the epoch, the signer's
 *   clock, > 0)  by(bin32)  sig(bin64)
 *
 *   sig = Ed25519 by `by` over "carnet-revoke" || team id(16) || the bytes
 *         of the four objects before it
 *
 * Only the canonical encoding is accepted (every object in its shortest
 * form, what msgpack-c writes), so a record has one byte form: the decoder
 * re-encodes and compares (invariant R1).
 *
 * Who may revoke, and what a replica does with a record it receives
 * (carnet__revoke_receive):
 *  R1. The bytes decode (canonical, nothing after the signature) and the
 *      signature verifies for this replica's team; else CARNET_EPROTO (the
 *      session ends: the peer sent bad bytes).
 *  R2. The signer is this replica, or a key trusted here (in the trust
 *      list and not revoked) at the moment the record arrives: any trusted
 *      member may revoke. A record signed by anyone else (an unknown key,
 *      a key removed or revoked here) is ignored: not stored, not applied,
 *      not relayed. So once a replica knows a key is revoked, records that
 *      key signs mean nothing to it, whenever they were signed; records it
 *      signed and that were accepted before stand (revoking the revoker
 *      does not bring back the keys it revoked: each is trusted again only
 *      by hand, R4).
 *  R3. The set is grow-only and keyed by the revoked key: the first record
 *      accepted for a key stays (a later one for the same key changes
 *      nothing), except after a local override (R4). Accepting a record
 *      removes the key from the trust list, in the same transaction.
 *  R4. A revoked key is never trusted again by a sync (an invite, a join,
 *      carnet_peer_trust all refuse it with CARNET_EPERM): only
 *      carnet_peer_trust_override (`carnet peer trust --override-revocation`)
 *      does, here only. The record is kept, flagged overridden (a local
 *      flag, not on the wire), and still relayed; a record for that key
 *      dated after the override (its `at` later than the override's time,
 *      which is at least the overridden record's `at`, whatever the clocks)
 *      revokes it again.
 *  R5. At most CARNET__REVOKED_MAX records: past it a received record is
 *      ignored (a local removal always writes its own).
 *
 * Store: meta key "revoked:" + revoked key(32) -> lseq(8) flags(1)
 * override_ms(8) record, all big-endian; `revseq` the greatest lseq
 * (records sent after a session's mark), `trustseq` moves whenever who is
 * trusted changes (trust, remove, override, a record accepted, an invite
 * used), in the same transaction.
 */
#ifndef CARNET_ENGINE_REVOKE_H
#define CARNET_ENGINE_REVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "carnet/peer.h"

struct carnet__stxn;

#define CARNET__REVOKE_VERSION 1
#define CARNET__REVOKE_LABEL "carnet-revoke"
/* The encoded record: 1 + 34 + 9 + 34 + 66. */
#define CARNET__REVOKE_BYTES 144u
#define CARNET__REVOKE_BYTES_MAX 160u
#define CARNET__REVOKED_MAX 1024u
#define CARNET__META_REVOKED "revoked:"
#define CARNET__META_REVSEQ "revseq"     /* 8 bytes big-endian */
#define CARNET__META_TRUSTSEQ "trustseq" /* 8 bytes big-endian */
#define CARNET__REVOKED_OVERRIDDEN 1u    /* flags: trusted again here (R4) */

typedef struct carnet__revocation {
  uint8_t pk[CARNET_PK_BYTES]; /* revoked */
  uint64_t at_ms;
  uint8_t by[CARNET_PK_BYTES]; /* the signer */
  uint8_t sig[64];
} carnet__revocation;

/* Brief: append the record's bytes (signature included) to `sb`.
 * Errors: CARNET_ENOMEM. */
int carnet__revoke_encode(const carnet__revocation *rv, msgpack_sbuffer *sb);

/* Brief: decode exactly `len` bytes (R1: canonical, nothing after). The
 * signature is not checked here (carnet__revoke_verify). `bad_line` (may be
 * NULL) receives the check that refused them. Errors: CARNET_EPROTO,
 * CARNET_ENOMEM. */
int carnet__revoke_decode(const void *buf, size_t len, carnet__revocation *out, int *bad_line);

/* Brief: sign `rv` (pk, at_ms and by set; `sk` is by's 64-byte secret key)
 * for `team`. Errors: CARNET_ENOMEM. */
int carnet__revoke_sign(carnet__revocation *rv, const uint8_t team[CARNET_TEAM_BYTES],
                        const uint8_t sk[64]);

/* Brief: 0 when the signature is by's over the record for `team`.
 * Errors: CARNET_EPROTO (bad signature), CARNET_ENOMEM. */
int carnet__revoke_verify(const carnet__revocation *rv, const uint8_t team[CARNET_TEAM_BYTES]);

/* Brief: the current `trustseq` (0 when trust never changed). Errors:
 * those of a read (CARNET_EIO, CARNET_ECORRUPT). */
int carnet__trust_seq(carnet_replica *r, uint64_t *out);

/* Brief: move `trustseq` (in the open write transaction `st`). */
int carnet__trust_bump(struct carnet__stxn *st);

/* Brief: the stored record of `pk` in `st`, with its local flags and
 * override time. Errors: CARNET_ENOTFOUND, CARNET_ECORRUPT. */
int carnet__revoked_read(struct carnet__stxn *st, const uint8_t pk[CARNET_PK_BYTES],
                         carnet__revocation *rv, uint32_t *flags, uint64_t *override_ms);

/* Brief: 1 when `pk` is revoked here and not overridden, 0 when not.
 * Errors: CARNET_ECORRUPT. */
int carnet__revoked_in(struct carnet__stxn *st, const uint8_t pk[CARNET_PK_BYTES]);

/* Brief: store a record in the open write transaction `st` (replacing the
 * key's record, if any) with a new lseq, and move `revseq` and `trustseq`.
 * Errors: store errors. */
int carnet__revoked_put(carnet_replica *r, struct carnet__stxn *st, const carnet__revocation *rv,
                        uint32_t flags, uint64_t override_ms);

/* Brief: the revocation a local removal writes: signed by this replica,
 * dated now, stored (R3: it replaces any record of the key), in the open
 * write transaction `st`. Errors: store errors, CARNET_ECORRUPT (identity
 * keys missing). */
int carnet__revoke_local(carnet_replica *r, struct carnet__stxn *st,
                         const uint8_t pk[CARNET_PK_BYTES]);

/* Brief: a record received from a peer: decode, verify, apply R2-R5 in a
 * write transaction of its own. `*applied` (may be NULL) says whether it
 * was stored. Errors: CARNET_EPROTO (R1; the replica's errmsg says why),
 * store errors. */
int carnet__revoke_receive(carnet_replica *r, const void *bytes, size_t len, bool *applied);

/* Brief: the current `revseq` (0 when no record). */
int carnet__revoke_seq(carnet_replica *r, uint64_t *out);

/* Brief: call cb with the bytes of every record stored after lseq `after`
 * (the bytes live until cb returns) and its local flags, in a read
 * transaction cb must not begin another one in; `*upto` receives the
 * revseq read in the same transaction. A non-zero return of cb stops and
 * is returned. Errors: CARNET_ECORRUPT, read errors, what cb returned. */
int carnet__revoke_since(carnet_replica *r, uint64_t after, uint64_t *upto,
                         int (*cb)(const void *bytes, size_t len, uint32_t flags, void *data),
                         void *data);

#endif
