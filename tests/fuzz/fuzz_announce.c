/* Fuzz target: the LAN announcement decoder (replica/announce.c), which reads
 * datagrams from anyone on the local network.
 *
 * The receiver's world is fixed: its own key is made from seed 0x01, it
 * trusts the key made from seed 0x02 (the corpus's "valid" sender) and no
 * other, its team is 16 x 'T' and its clock reads 2024-03-01T09:00:00Z
 * (the corpus is signed for exactly this; see tests/vectors/announce_v1.hex).
 * Invariants checked: decode never crashes; a refusal zeroes the output and
 * gives a reason; an accepted datagram re-encodes to the same bytes and
 * satisfies every condition the decoder promises. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "replica/announce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1709283600000ull

static uint8_t self_pk[32], peer_pk[32], team[16];

static int trust_peer_only(void *ctx, const uint8_t pk[32]) {
  (void)ctx;
  return memcmp(pk, peer_pk, 32) == 0 ? 0 : CARNET_EPERM;
}

static void setup(void) {
  static int ready;
  if (ready) return;
  uint8_t seed[32], sk[64];
  if (sodium_init() < 0) abort();
  memset(seed, 0x01, sizeof seed);
  crypto_sign_seed_keypair(self_pk, sk, seed);
  memset(seed, 0x02, sizeof seed);
  crypto_sign_seed_keypair(peer_pk, sk, seed);
  memset(team, 'T', sizeof team);
  ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  carnet__announce_check chk = {
      .team = team, .self_pk = self_pk, .now_ms = NOW_MS, .trusted = trust_peer_only};
  carnet__announce a;
  const char *why = NULL;
  int rc = carnet__announce_decode(data, size, &chk, &a, &why);
  if (why == NULL) abort();
  if (rc != 0) {
    static const carnet__announce zero;
    if ((rc != CARNET_EPROTO && rc != CARNET_EPERM) || why[0] == '\0' ||
        memcmp(&a, &zero, sizeof a) != 0)
      abort();
    return 0;
  }
  uint8_t again[CARNET__ANNOUNCE_BYTES];
  carnet__announce_encode(&a, again);
  if (size != sizeof again || memcmp(again, data, size) != 0) abort();
  if (why[0] != '\0' || a.port == 0 || memcmp(a.team, team, 16) != 0 ||
      memcmp(a.pk, peer_pk, 32) != 0)
    abort();
  uint64_t away = a.ts_ms > NOW_MS ? a.ts_ms - NOW_MS : NOW_MS - a.ts_ms;
  if (away > CARNET__ANNOUNCE_SKEW_MS_MAX) abort();
  return 0;
}
