/* Fuzz target: the revocation record decoder (engine/store/revoke.h), which reads
 * REVOKE messages from peers and the records a replica stores.
 *
 * Invariants checked: bytes that decode are a valid record (version 1,
 * at > 0) in its one canonical form (encode(decode(x)) == x, R1); anything
 * else is refused with CARNET_EPROTO and the line of the check that fired.
 * A record whose signature verifies for the fixed team (the corpus holds
 * one, signed with the fixed key below) verifies for no other team, and no
 * longer verifies once any byte of what it signs changes: the fuzzer cannot
 * forge a signature, so a verifying record it made up would be a bug. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carnet/error.h"
#include "engine/store/revoke.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The corpus's "signed" seed: team 0x7e * 16, signer seed 0x5a * 32. */
static const uint8_t TEAM[CARNET_TEAM_BYTES] = {0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e,
                                                0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  carnet__revocation rv, again;
  msgpack_sbuffer sb;
  int bad = 0;
  if (sodium_init() < 0) abort();
  int rc = carnet__revoke_decode(data, size, &rv, &bad);
  if (rc != 0) {
    if (rc != CARNET_EPROTO || bad == 0) abort();
    return 0;
  }
  if (rv.at_ms == 0) abort();
  msgpack_sbuffer_init(&sb);
  if (carnet__revoke_encode(&rv, &sb) != 0) abort();
  if (sb.size != size || memcmp(sb.data, data, size) != 0) abort();
  if (carnet__revoke_decode(sb.data, sb.size, &again, NULL) != 0 ||
      memcmp(&again, &rv, sizeof rv) != 0)
    abort();
  msgpack_sbuffer_destroy(&sb);
  if (carnet__revoke_verify(&rv, TEAM) == 0) {
    uint8_t other[CARNET_TEAM_BYTES];
    memcpy(other, TEAM, sizeof other);
    other[size % sizeof other] ^= 1;
    if (carnet__revoke_verify(&rv, other) == 0) abort();
    again = rv;
    again.at_ms ^= 1;
    if (again.at_ms == 0) again.at_ms = 2;
    if (carnet__revoke_verify(&again, TEAM) == 0) abort();
    again = rv;
    again.pk[size % CARNET_PK_BYTES] ^= 0x80;
    if (carnet__revoke_verify(&again, TEAM) == 0) abort();
  }
  return 0;
}
