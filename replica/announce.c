/* replica/announce.c - the LAN announcement codec (see announce.h). */
#include "replica/announce.h"

#include <sodium.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/check.h"

_Static_assert(crypto_sign_BYTES == CARNET__ANNOUNCE_SIG_BYTES,
               "an announcement carries an Ed25519 signature");
_Static_assert(crypto_sign_PUBLICKEYBYTES == CARNET_PK_BYTES, "announcements carry Ed25519 keys");

enum {
  OFF_MAGIC = 0,
  OFF_VERSION = 4,
  OFF_TEAM = 5,
  OFF_PK = OFF_TEAM + CARNET_TEAM_BYTES,
  OFF_REPLICA = OFF_PK + CARNET_PK_BYTES,
  OFF_PORT = OFF_REPLICA + 8,
  OFF_TS = OFF_PORT + 2,
  OFF_SIG = OFF_TS + 8,
};
_Static_assert(OFF_SIG == CARNET__ANNOUNCE_BODY_BYTES, "the signature follows the body");
_Static_assert(OFF_PK == CARNET__ANNOUNCE_PK_OFFSET, "the key's offset is published");

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

static void encode_body(const carnet__announce *a, uint8_t *out) {
  memcpy(out + OFF_MAGIC, CARNET__ANNOUNCE_MAGIC, 4);
  out[OFF_VERSION] = CARNET__ANNOUNCE_VERSION;
  memcpy(out + OFF_TEAM, a->team, CARNET_TEAM_BYTES);
  memcpy(out + OFF_PK, a->pk, CARNET_PK_BYTES);
  put64(out + OFF_REPLICA, a->replica_id);
  out[OFF_PORT] = (uint8_t)(a->port >> 8);
  out[OFF_PORT + 1] = (uint8_t)a->port;
  put64(out + OFF_TS, a->ts_ms);
}

void carnet__announce_encode(const carnet__announce *a, uint8_t out[CARNET__ANNOUNCE_BYTES]) {
  encode_body(a, out);
  memcpy(out + OFF_SIG, a->sig, CARNET__ANNOUNCE_SIG_BYTES);
}

int carnet__announce_sign(carnet__announce *a, carnet__announce_sign_fn sign, void *ctx) {
  uint8_t body[CARNET__ANNOUNCE_BODY_BYTES];
  if (a->port == 0) return CARNET_EINVAL;
  encode_body(a, body);
  int rc = sign(ctx, body, sizeof body, a->sig);
  if (rc) memset(a->sig, 0, sizeof a->sig);
  return rc;
}

/* Every rejection returns through here, so `*why` names the check that
 * fired (the fuzz target and the debug log both rely on it). */
static int reject(int code, const char *reason, carnet__announce *out, const char **why) {
  memset(out, 0, sizeof *out);
  if (why) *why = reason;
  return code;
}

int carnet__announce_decode(const void *buf, size_t len, const carnet__announce_check *chk,
                            carnet__announce *out, const char **why) {
  CARNET_ASSERT(chk && chk->team && chk->self_pk && chk->trusted);
  const uint8_t *p = buf;
  if (why) *why = "";

  /* Form. Magic and version come before the size so that a longer v2
   * datagram is reported as what it is. */
  if (len < OFF_VERSION + 1 || memcmp(p + OFF_MAGIC, CARNET__ANNOUNCE_MAGIC, 4) != 0)
    return reject(CARNET_EPROTO, "not a Carnet announcement (magic)", out, why);
  if (p[OFF_VERSION] != CARNET__ANNOUNCE_VERSION)
    return reject(CARNET_EPROTO, "unsupported announcement version", out, why);
  if (len != CARNET__ANNOUNCE_BYTES)
    return reject(CARNET_EPROTO, "announcement of the wrong size", out, why);
  uint16_t port = (uint16_t)((p[OFF_PORT] << 8) | p[OFF_PORT + 1]);
  if (port == 0) return reject(CARNET_EPROTO, "announcement with TCP port 0", out, why);

  /* Policy, cheapest first: a team id compare, a key compare, one read of
   * the trust list, the clock. A datagram refused here was not verified,
   * which is fine: refusing needs no proof of who sent it. */
  if (memcmp(p + OFF_TEAM, chk->team, CARNET_TEAM_BYTES) != 0)
    return reject(CARNET_EPERM, "announcement for another team", out, why);
  if (memcmp(p + OFF_PK, chk->self_pk, CARNET_PK_BYTES) == 0)
    return reject(CARNET_EPERM, "our own announcement", out, why);
  if (chk->trusted(chk->trusted_ctx, p + OFF_PK) != 0)
    return reject(CARNET_EPERM, "announcement from a key we do not trust", out, why);
  uint64_t ts = get64(p + OFF_TS);
  uint64_t skew = chk->skew_ms_max ? chk->skew_ms_max : CARNET__ANNOUNCE_SKEW_MS_MAX;
  uint64_t away = ts > chk->now_ms ? ts - chk->now_ms : chk->now_ms - ts;
  if (away > skew)
    return reject(CARNET_EPERM, "stale or future announcement (timestamp)", out, why);

  /* Proof: only now is the signature worth checking. libsodium rejects
   * small-order keys and non-canonical signatures, so one announcement has
   * one valid byte string. */
  if (crypto_sign_verify_detached(p + OFF_SIG, p, CARNET__ANNOUNCE_BODY_BYTES, p + OFF_PK) != 0)
    return reject(CARNET_EPROTO, "announcement signature does not verify", out, why);

  memcpy(out->team, p + OFF_TEAM, CARNET_TEAM_BYTES);
  memcpy(out->pk, p + OFF_PK, CARNET_PK_BYTES);
  out->replica_id = get64(p + OFF_REPLICA);
  out->port = port;
  out->ts_ms = ts;
  memcpy(out->sig, p + OFF_SIG, CARNET__ANNOUNCE_SIG_BYTES);
  return 0;
}
