/* Fuzz target: the knowledge vector decoder (engine/model/know.h), which reads the
 * KNOW messages of peers (protocol/msg.h, type 13) and the vector a replica
 * stores in meta "know".
 *
 * The input is a whole session message: bytes that decode as a KNOW have
 * their vector decoded too; any other input is also read as a bare vector.
 *
 * Invariants checked: a vector that decodes is in its one canonical form
 * (encode(decode(x)) == x), its origins strictly increase and neither an
 * origin nor a stamp is 0, and a lookup gives each entry's stamp back;
 * merging it into an empty vector gives it back, and merging it again
 * changes nothing (a merge is idempotent); the message re-encodes to the
 * same bytes. Anything else is refused with CARNET_EPROTO and the line of
 * the check that fired. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/model/know.h"
#include "protocol/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static carnet__know g_k, g_m;
static uint8_t g_buf[CARNET__KNOW_BYTES_MAX];

static void check_vector(const void *bytes, size_t len) {
  int bad = 0;
  int rc = carnet__know_decode(bytes, len, &g_k, &bad);
  if (rc != 0) {
    if (rc != CARNET_EPROTO || bad == 0 || g_k.n != 0) abort();
    return;
  }
  if (carnet__know_encode(&g_k, g_buf) != len || (len && memcmp(g_buf, bytes, len) != 0)) abort();
  for (size_t i = 0; i < g_k.n; i++) {
    if (g_k.e[i].origin == 0 || g_k.e[i].hlc == 0) abort();
    if (i && g_k.e[i].origin <= g_k.e[i - 1].origin) abort();
    if (carnet__know_get(&g_k, g_k.e[i].origin) != g_k.e[i].hlc) abort();
    if (!carnet__know_has(&g_k, g_k.e[i].origin, g_k.e[i].hlc)) abort();
    if (carnet__know_has(&g_k, g_k.e[i].origin, g_k.e[i].hlc + 1) && g_k.e[i].hlc != UINT64_MAX)
      abort();
  }
  g_m.n = 0;
  if (carnet__know_merge(&g_m, &g_k, 0) != (g_k.n != 0)) abort();
  if (g_m.n != g_k.n || memcmp(g_m.e, g_k.e, g_k.n * sizeof g_k.e[0]) != 0) abort();
  if (carnet__know_merge(&g_m, &g_k, 0)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  carnet__msg m;
  int rc = carnet__msg_decode(data, size, &m);
  if (rc == 0 && m.type == CARNET_MSG_KNOW) {
    if (m.bytes.len > CARNET__KNOW_BYTES_MAX || m.bytes.len % CARNET__KNOW_ENTRY_BYTES) abort();
    check_vector(m.bytes.base, m.bytes.len);
    carnet__obuf out;
    carnet__obuf_init(&out);
    if (carnet__msg_encode(&m, &out) != 0) abort();
    if (out.len != size || memcmp(out.base, data, size) != 0) abort();
    carnet__obuf_free(&out);
  } else if (rc != 0 && rc != CARNET_EPROTO && rc != CARNET_ENOMEM) {
    abort();
  }
  check_vector(data, size);
  return 0;
}
