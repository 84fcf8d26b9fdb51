/* protocol/handshake.h - the authenticated key exchange that opens every
 * connection between two replicas (DESIGN.md, Sync).
 *
 * A SIGMA-style handshake built from libsodium only: ephemeral X25519 keys
 * (crypto_kx) give the session keys, static Ed25519 keys (crypto_sign) sign
 * the transcript so each side knows who holds the other end, and the trust
 * list decides who may talk at all. Three plaintext frames (protocol/frame.h,
 * payload <= CARNET_HANDSHAKE_MSG_BYTES_MAX), each a msgpack stream:
 *
 *   I -> R  (1) "CNT1"  version  team_id bin16  eph_pk bin32  invite_id bin|nil
 *   R -> I  (2) version  eph_pk bin32  static_pk bin32  replica_id uint
 *               sig bin64 = Ed25519("carnet-resp" || TH)
 *   I -> R  (3) static_pk bin32  replica_id uint
 *               sig bin64 = Ed25519("carnet-init" || TH)
 *               join_mac bin32 = crypto_auth(TH, invite secret) | nil
 *
 * TH, the transcript hash, is crypto_generichash (32 bytes) of every
 * handshake byte sent and received so far, frame headers included, up to
 * (not including) the object that carries the signature or MAC. Session
 * keys: crypto_kx client (initiator) / server (responder) session keys from
 * the ephemeral pairs, then for each direction crypto_generichash keyed with
 * the kx key over the final TH (all three frames). Each direction then runs a
 * crypto_secretstream_xchacha20poly1305 (protocol/channel.h).
 *
 * Trust: each side checks the other's static key as soon as it reads it and
 * stops there when it is unknown. A joining initiator (holding an invite)
 * requires the responder's key to be the inviter's key from the invite
 * instead. A responder accepts an unknown initiator key only with a valid
 * join_mac for an outstanding invite, and then reports `joined` so that the
 * caller adds the key to its trust list and consumes the invite.
 *
 * Refusals: a responder that refuses message (1) (version, team, invite)
 * answers with a plaintext ERROR frame (protocol/msg.h encoding, frozen
 * across versions) before failing, so the other side can tell its user why;
 * an initiator that refuses the responder's key answers (2) the same way.
 * An ERROR frame is told from message (2) or (3) by its shape: it decodes as
 * an ERROR message, which neither handshake message does. A responder that
 * refuses the initiator's key in message (3) answers with an ERROR sealed as
 * the first frame of its encrypted direction (the initiator has already
 * switched to the channel), and reads nothing more from it.
 *
 * The handshake is a pure state machine: it reads bytes the caller got from
 * the connection and appends the bytes to send to a carnet__obuf the caller
 * writes out. It consumes input only up to the end of its last frame, so an
 * encrypted frame that arrives in the same read stays with the caller for
 * the channel, and is never read by a responder that refused the key. The
 * caller enforces the deadline: it calls carnet__hs_tick with its clock.
 */
#ifndef CARNET_PROTOCOL_HANDSHAKE_H
#define CARNET_PROTOCOL_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "carnet/types.h"
#include "protocol/frame.h"
#include "protocol/invite.h"
#include "protocol/msg.h"
#include "protocol/obuf.h"

/* The protocol version this build speaks. A peer must speak the same one:
 * any change to the handshake or the session messages bumps it. Version 2
 * added the REVOKE message (protocol/msg.h): a version 1 peer would fail a
 * session on it as an unknown message, so the two refuse each other in the
 * handshake instead, with a message saying which side to upgrade. Version 3
 * added the content messages FETCH, CHUNK, NOPE and IDLE (attachments'
 * files, protocol/content.c), refused by version 2 the same way. Version 4
 * added KNOW (knowledge vectors, engine/model/know.h: no echo of relayed
 * changes) and SEALED (content units past the channel's encryption,
 * protocol/channel.h), refused by version 3 the same way: a version 3 peer
 * would end the session on KNOW and never receives a SEALED, and a version
 * 4 peer that held back KNOW for it would echo every relayed change again
 * (docs/DESIGN-NOTES.md "No echo", "Sealed units past the channel"). */
#define CARNET_PROTOCOL_VERSION 4u
/* The first version whose sessions send and accept SEALED. */
#define CARNET_PROTOCOL_SEALED_MIN 4u
/* The whole handshake must finish within this time from carnet__hs_init. */
#define CARNET_HANDSHAKE_TIMEOUT_MS 10000u
/* The largest handshake frame payload. Messages (1) to (3) take under 200
 * bytes; the limit leaves room for an ERROR frame with its longest text. */
#define CARNET_HANDSHAKE_MSG_BYTES_MAX 1024u
#define CARNET_HS_MAGIC "CNT1"
/* Invite ids in message (1): 1 to this many bytes. */
#define CARNET_HS_INVITE_ID_BYTES_MAX 32u
#define CARNET_HS_KEY_BYTES 32u /* a direction's session key */
/* Three frames at most (ERROR frames are not part of the transcript). */
#define CARNET_HS_TRANSCRIPT_BYTES_MAX                                                             \
  (3u * (CARNET_FRAME_HEADER_BYTES + CARNET_HANDSHAKE_MSG_BYTES_MAX))

_Static_assert(CARNET_MSG_ERROR_BYTES_MAX <= CARNET_HANDSHAKE_MSG_BYTES_MAX,
               "a handshake ERROR frame fits the handshake frame limit");
_Static_assert(CARNET_INVITE_ID_BYTES <= CARNET_HS_INVITE_ID_BYTES_MAX,
               "an invite id fits message (1)");
_Static_assert(CARNET_HS_KEY_BYTES == crypto_secretstream_xchacha20poly1305_KEYBYTES,
               "a session key is a secretstream key");

typedef enum carnet__hs_role {
  CARNET_HS_INITIATOR = 1, /* dialled out */
  CARNET_HS_RESPONDER = 2, /* accepted a connection */
} carnet__hs_role;

/* Brief: the trust callback: 0 when `pk` (a static Ed25519 key) is in the
 * trust list, CARNET_EPERM (or any positive value, or CARNET_ENOTFOUND) when
 * it is not; another negative CARNET_E* code (CARNET_EIO) fails the
 * handshake with that code. */
typedef int (*carnet__hs_trusted_cb)(void *ctx, const uint8_t pk[32]);

/* Brief: the responder's invite lookup: 0 and the invite's secret in
 * `secret` when `invite_id` names an outstanding (not used, not expired)
 * invite; CARNET_ENOTFOUND (unknown, used) or CARNET_EPERM (expired)
 * otherwise: the peer is refused with an ERROR frame; another negative code
 * fails the handshake with it. */
typedef int (*carnet__hs_invite_cb)(void *ctx, const uint8_t *invite_id, size_t n,
                                    uint8_t secret[32]);

/* Brief: sign the `len` bytes of `msg` with our identity key (the secret
 * half of sign_pk) into `sig` (crypto_sign_detached): 0, or an error that
 * fails the handshake with it. The secret key stays with the signer (the
 * engine's carnet__sign): it is never in the handshake's memory. */
typedef int (*carnet__hs_sign_cb)(void *ctx, const void *msg, size_t len, uint8_t sig[64]);

typedef struct carnet__hs_config {
  const uint8_t *sign_pk;  /* our static public key (crypto_sign): 32 bytes */
  carnet__hs_sign_cb sign; /* required: signs with its secret half */
  uint64_t replica_id;
  uint8_t team_id[CARNET_TEAM_BYTES];
  uint32_t version;                   /* 0 = CARNET_PROTOCOL_VERSION */
  carnet__hs_trusted_cb trusted;      /* required */
  const carnet__invite *invite;       /* initiator joining a team, else NULL;
                                         copied */
  carnet__hs_invite_cb invite_secret; /* responder; NULL = no invites */
  void *ctx;                          /* passed to the callbacks */
  const carnet_env *env;              /* its `random` makes the ephemeral keys
                                         (tests replay them); NULL = libsodium */
} carnet__hs_config;

/* What the handshake learnt about the peer; valid once it is done. */
typedef struct carnet__hs_peer {
  uint8_t static_pk[32];
  uint64_t replica_id;
  /* Joined with an invite. Responder: the initiator proved it holds the
   * invite's secret: add static_pk to the trust list and consume the invite
   * (invite_id). Initiator: the responder's key is the inviter's: add it to
   * the trust list once the first encrypted frame from the responder opens
   * (that frame proves the responder accepted the join). */
  bool joined;
  uint8_t invite_id[CARNET_HS_INVITE_ID_BYTES_MAX];
  size_t invite_id_len;
} carnet__hs_peer;

/* The state is a plain struct so it can live inside a connection; its
 * fields are private to handshake.c and channel.c. */
typedef struct carnet__hs {
  int role, state;
  int err;             /* sticky */
  int bad_line;        /* the check that refused the peer's bytes */
  uint64_t started_ms; /* carnet__hs_init's now_ms: the deadline counts from it */
  uint32_t version;
  uint64_t replica_id;
  uint8_t team_id[CARNET_TEAM_BYTES];
  uint8_t sign_pk[crypto_sign_PUBLICKEYBYTES];
  carnet__hs_sign_cb sign;
  uint8_t eph_pk[crypto_kx_PUBLICKEYBYTES], eph_sk[crypto_kx_SECRETKEYBYTES];
  uint8_t kx_rx[crypto_kx_SESSIONKEYBYTES], kx_tx[crypto_kx_SESSIONKEYBYTES];
  uint8_t tx_key[CARNET_HS_KEY_BYTES], rx_key[CARNET_HS_KEY_BYTES];
  bool have_invite; /* initiator: joining with cfg.invite */
  carnet__invite invite;
  bool have_secret; /* responder: message (1) named an outstanding invite */
  uint8_t secret[32];
  carnet__hs_trusted_cb trusted;
  carnet__hs_invite_cb invite_secret;
  void *ctx;
  /* The transcript itself rather than a running hash state: it is a few
   * hundred bytes, and libsodium's hash state is 64-byte aligned, which a
   * struct the caller may malloc cannot promise. */
  uint8_t transcript[CARNET_HS_TRANSCRIPT_BYTES_MAX];
  size_t transcript_len;
  carnet__frame_reader rd;
  carnet__hs_peer peer;
  char errmsg[768];
} carnet__hs;

/* The text of the refusal a node at its admission limits sends (CARNET_EBUSY). */
#define CARNET_HS_BUSY_TEXT "busy: too many connections, try again in a moment"

/* Brief: append a plaintext ERROR frame (code, text: one line, at most
 * CARNET_MSG_TEXT_BYTES_MAX bytes) to `out`: what a responder sends before
 * or instead of message (2) to refuse a connection. A dialling handshake
 * that reads it fails with the code when it is CARNET_EVERSION, CARNET_EPERM
 * or CARNET_EBUSY ("the peer is busy": try again later), else CARNET_EPROTO.
 * Errors: CARNET_ENOMEM (nothing appended). */
int carnet__hs_refusal(carnet__obuf *out, int code, const char *text);

/* Brief: start a handshake in `role` at time `now_ms` (the caller's clock,
 * any origin). An initiator appends message (1) to `out` at once.
 * Whatever the result, free `hs` with carnet__hs_free.
 * Errors: CARNET_EMISUSE (no trust callback or no keys), CARNET_ENOMEM,
 * CARNET_ELIMIT (`out` full). */
int carnet__hs_init(carnet__hs *hs, carnet__hs_role role, const carnet__hs_config *cfg,
                    uint64_t now_ms, carnet__obuf *out);

/* Brief: feed bytes received from the peer: consumes from `*data` (`*len`
 * bytes), advancing both, and appends what to answer to `out`. Stops
 * consuming when the handshake is done: the bytes left belong to the channel
 * (carnet__channel_init_hs). Returns 0 (check carnet__hs_done; when not done,
 * every byte was consumed: feed more later).
 * Errors, sticky, with a detail in carnet__hs_errmsg (send what `out` holds,
 * then close the connection):
 *   CARNET_EPERM    the peer's key is not trusted (or not the inviter's), the
 *                   team differs, the invite is unknown or its MAC is wrong,
 *                   or the peer refused us for one of these reasons;
 *   CARNET_EVERSION the peer speaks another protocol version (one side must
 *                   upgrade; the detail says which);
 *   CARNET_EBUSY    the peer refused us for now: it is at its connection
 *                   limits (try again later);
 *   CARNET_EPROTO   malformed or oversized handshake bytes, a bad signature,
 *                   an invalid ephemeral key, or an ERROR frame from the peer
 *                   with another code;
 *   CARNET_ENOMEM, CARNET_ELIMIT (`out` full), or a code returned by a
 *   callback. */
int carnet__hs_feed(carnet__hs *hs, const uint8_t **data, size_t *len, carnet__obuf *out);

/* Brief: the connection closed (EOF) before the handshake finished: the
 * handshake fails with CARNET_EPROTO and a detail ("closed during the
 * handshake"). Returns the handshake's error (0 when it was already done). */
int carnet__hs_eof(carnet__hs *hs);

/* Brief: enforce the deadline: when `now_ms` is CARNET_HANDSHAKE_TIMEOUT_MS
 * or more after started_ms and the handshake is not done, it fails with
 * CARNET_ELIMIT. Returns the handshake's error, or 0. */
int carnet__hs_tick(carnet__hs *hs, uint64_t now_ms);

/* Brief: the time by which the handshake must be done (started_ms +
 * CARNET_HANDSHAKE_TIMEOUT_MS), for the caller's timer. */
uint64_t carnet__hs_deadline_ms(const carnet__hs *hs);

bool carnet__hs_done(const carnet__hs *hs);

/* Brief: the peer, once done (NULL before). Lives with `hs`. */
const carnet__hs_peer *carnet__hs_peer_info(const carnet__hs *hs);

/* Brief: the detail of the handshake's error ("" if none), lives with `hs`. */
const char *carnet__hs_errmsg(const carnet__hs *hs);

/* Brief: wipe every secret and free the memory. NULL is a no-op; safe on a
 * handshake whose init failed. */
void carnet__hs_free(carnet__hs *hs);

#endif
