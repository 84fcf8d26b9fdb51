/* engine/base/seal.c - sealed values (see seal.h). */
#include "engine/base/seal.h"

#include <sodium.h>
#include <string.h>

#include "carnet/error.h"

_Static_assert(CARNET__SEAL_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "nonce size");
_Static_assert(CARNET__SEAL_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(CARNET__SEAL_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");

/* Associated data: version, table name, 0, key. LMDB keys are at most 511
 * bytes; a longer key (a bug) is cut, which only weakens the binding. */
#define AD_MAX (1 + 32 + 1 + 511)

static size_t make_ad(uint8_t ad[AD_MAX], const char *table, const void *k, size_t klen) {
  size_t tn = strlen(table);
  if (tn > 32) tn = 32;
  if (klen > 511) klen = 511;
  ad[0] = CARNET__SEAL_VERSION;
  memcpy(ad + 1, table, tn);
  ad[1 + tn] = 0;
  if (klen) memcpy(ad + 2 + tn, k, klen);
  return 2 + tn + klen;
}

void carnet__nonces_init(carnet__nonces *n) {
  randombytes_buf(n->base, sizeof n->base);
  n->count = 0;
}

static void next_nonce(carnet__nonces *n, uint8_t out[CARNET__SEAL_NONCE_BYTES]) {
  memcpy(out, n->base, CARNET__SEAL_NONCE_BYTES);
  uint64_t c = n->count++;
  for (int i = 0; i < 8; i++, c >>= 8)
    out[CARNET__SEAL_NONCE_BYTES - 1 - i] ^= (uint8_t)c;
}

void carnet__seal(const uint8_t key[CARNET__SEAL_KEY_BYTES], carnet__nonces *nonces,
                  const char *table, const void *k, size_t klen, const void *pt, size_t n,
                  uint8_t *out) {
  uint8_t ad[AD_MAX];
  size_t adlen = make_ad(ad, table, k, klen);
  out[0] = CARNET__SEAL_VERSION;
  next_nonce(nonces, out + 1);
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + 1 + CARNET__SEAL_NONCE_BYTES, NULL, pt, n, ad,
                                             adlen, NULL, out + 1, key);
}

int carnet__unseal(const uint8_t key[CARNET__SEAL_KEY_BYTES], const char *table, const void *k,
                   size_t klen, const void *ct, size_t n, uint8_t *out) {
  const uint8_t *c = ct;
  uint8_t ad[AD_MAX];
  if (n < CARNET__SEAL_OVERHEAD || c[0] != CARNET__SEAL_VERSION) return CARNET_ECORRUPT;
  size_t adlen = make_ad(ad, table, k, klen);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, c + 1 + CARNET__SEAL_NONCE_BYTES,
                                                 n - 1 - CARNET__SEAL_NONCE_BYTES, ad, adlen, c + 1,
                                                 key) != 0)
    return CARNET_ECORRUPT;
  return 0;
}
