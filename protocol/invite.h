/* protocol/invite.h - the invite token: what `carnet invite` prints and
 * `carnet join` reads.
 *
 * Text form: "carnet1:" then base64url without padding (libsodium's
 * sodium_base64_VARIANT_URLSAFE_NO_PADDING, so it survives URLs, shells and
 * e-mail) of a msgpack stream:
 *
 *   address str (host:port, <= 255 bytes)   where the inviter listens
 *   inviter_pk bin32                        the inviter's static Ed25519 key
 *   id bin16                                names the invite on the inviter
 *   secret bin32                            one-time secret: MACs the join
 *   expiry uint64                           Unix ms after which it is void
 *   team_id bin16                           the team being joined
 *
 * Whoever holds the token can join the team once before it expires: it is a
 * secret, to be passed over a channel the inviter trusts. The codec checks
 * the form of every field; the caller compares `expiry_ms` with its clock
 * (the codec has none) and the inviter consumes the invite after one join.
 */
#ifndef CARNET_PROTOCOL_INVITE_H
#define CARNET_PROTOCOL_INVITE_H

#include <stddef.h>
#include <stdint.h>

#include "carnet/peer.h" /* CARNET_PK_BYTES, CARNET_TEAM_BYTES, CARNET_INVITE_*_BYTES */

#define CARNET_INVITE_PREFIX "carnet1:"
#define CARNET_INVITE_ADDRESS_MAX 255u
/* The longest token text, NUL included: the prefix and the base64 of the
 * largest stream (2+255 + 34 + 18 + 34 + 9 + 18 = 370 bytes -> 494 chars). */
#define CARNET_INVITE_TEXT_MAX 512u

typedef struct carnet__invite {
  char address[CARNET_INVITE_ADDRESS_MAX + 1]; /* NUL-terminated */
  uint8_t inviter_pk[CARNET_PK_BYTES];
  uint8_t id[CARNET_INVITE_ID_BYTES];
  uint8_t secret[CARNET_INVITE_SECRET_BYTES];
  uint64_t expiry_ms;
  uint8_t team_id[CARNET_TEAM_BYTES];
} carnet__invite;

_Static_assert(CARNET_PK_BYTES == 32 && CARNET_TEAM_BYTES == 16 && CARNET_INVITE_ID_BYTES == 16 &&
                   CARNET_INVITE_SECRET_BYTES == 32,
               "the token's field sizes are frozen");

/* Brief: write the token text of `inv` and a NUL to `out` (out_len >=
 * CARNET_INVITE_TEXT_MAX always suffices).
 * Errors: CARNET_EINVAL (a field is not valid: the address is not host:port,
 * the key is not an Ed25519 key, the secret is all zeros, the expiry is 0;
 * `why` says which), CARNET_ELIMIT (out_len too small), CARNET_ENOMEM. `why`
 * may be NULL; otherwise it receives a one-line reason on error ("" on
 * success), why_len bytes at most. */
int carnet__invite_encode(const carnet__invite *inv, char *out, size_t out_len, char *why,
                          size_t why_len);

/* Brief: parse and validate a token. Whitespace around it (a pasted line)
 * is ignored. After the call `*out` holds the invite (which includes the
 * secret: wipe it with sodium_memzero when done); on error it is zeroed.
 * Errors: CARNET_EINVAL with a reason in `why` (not a Carnet invite, damaged
 * or truncated token, a field out of its limits), CARNET_ENOMEM. */
int carnet__invite_decode(const char *text, carnet__invite *out, char *why, size_t why_len);

/* Brief: 0 when `addr` is "host:port": a DNS name or IPv4 address, or an
 * IPv6 address in brackets, then a port 1..65535. Errors: CARNET_EINVAL. */
int carnet__invite_address_valid(const char *addr);

#endif
