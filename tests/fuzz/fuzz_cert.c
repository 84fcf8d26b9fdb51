/* Fuzz target: the erasure certificate decoder (engine/model/cert.h), which reads
 * CERT messages from peers and the `certs` table.
 * Invariants checked: bytes that decode are a valid certificate (K1:
 * confirmations non-zero and strictly ascending, reason a valid line), its
 * encoding decodes to the same certificate (encode(decode(x)) is a fixed
 * point), merging it with itself changes nothing, and confirming a replica
 * keeps the set ascending; anything else is refused with CARNET_EPROTO and
 * the line of the check that fired. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/model/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  carnet_erasure *a = malloc(sizeof *a), *b = malloc(sizeof *b);
  msgpack_sbuffer sb;
  int bad = 0;
  if (a == NULL || b == NULL) abort();
  msgpack_sbuffer_init(&sb);
  int rc = carnet__cert_decode(data, size, a, &bad);
  if (rc != 0) {
    if (rc != CARNET_EPROTO || bad == 0) abort();
    goto done;
  }
  if (a->origin == 0 || a->at == 0 || a->nconfirmed > CARNET_ERASE_CONFIRMS_MAX ||
      strlen(a->reason) > CARNET_ERASE_REASON_MAX)
    abort();
  for (uint32_t i = 0; i < a->nconfirmed; i++)
    if (a->confirmed[i] == 0 || (i && a->confirmed[i] <= a->confirmed[i - 1])) abort();
  if (carnet__cert_encode(a, &sb) != 0) abort();
  if (carnet__cert_decode(sb.data, sb.size, b, NULL) != 0 || !carnet__cert_equal(a, b)) abort();
  if (carnet__cert_merge(b, a) || !carnet__cert_equal(a, b)) abort();
  carnet__cert_confirm(b, 0x8000000000000000ull | a->at);
  for (uint32_t i = 1; i < b->nconfirmed; i++)
    if (b->confirmed[i] <= b->confirmed[i - 1]) abort();
done:
  msgpack_sbuffer_destroy(&sb);
  free(a);
  free(b);
  return 0;
}
