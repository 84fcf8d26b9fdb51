/* engine/base/seal.h - sealed values: encryption at rest of one stored value.
 *
 * A sealed value is
 *
 *   version(1) = 1 | nonce(24) | ciphertext(n) | tag(16)
 *
 * XChaCha20-Poly1305 (IETF) under the replica's 32-byte data key, with a
 * random nonce per value and, as associated data, the version byte, the
 * table's name, a zero byte and the value's key: a value copied under
 * another key or into another table fails to open. docs/FORMATS.md has the
 * layout; docs/DESIGN-NOTES.md "Encryption at rest" the key hierarchy.
 *
 * No lmdb.h here: engine/store/store.c calls these at the table boundary.
 */
#ifndef CARNET_ENGINE_SEAL_H
#define CARNET_ENGINE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define CARNET__SEAL_VERSION 1
#define CARNET__SEAL_KEY_BYTES 32
#define CARNET__SEAL_NONCE_BYTES 24
#define CARNET__SEAL_TAG_BYTES 16
#define CARNET__SEAL_OVERHEAD (1 + CARNET__SEAL_NONCE_BYTES + CARNET__SEAL_TAG_BYTES)

/* Nonces: a random 192-bit base drawn from libsodium's generator when the
 * store opens (never the injected carnet_env source: a seeded test source
 * would repeat them), its last 64 bits xored with a counter. Within one
 * open store the counter makes them distinct; across opens (processes,
 * replicas) the 128 random bits the counter leaves alone do, with the odds
 * of two equal 128-bit draws. A store is never used on both sides of a
 * fork (LMDB forbids it), so no two processes share a counter. A random
 * nonce per value cost a getrandom system call every 10 values (libsodium
 * draws 256 bytes per call). */
typedef struct carnet__nonces {
  uint8_t base[CARNET__SEAL_NONCE_BYTES];
  uint64_t count;
} carnet__nonces;

void carnet__nonces_init(carnet__nonces *n);

/* Brief: seal `n` bytes of `pt` into `out` (n + CARNET__SEAL_OVERHEAD
 * bytes). `pt` and `out` must not overlap. */
void carnet__seal(const uint8_t key[CARNET__SEAL_KEY_BYTES], carnet__nonces *nonces,
                  const char *table, const void *k, size_t klen, const void *pt, size_t n,
                  uint8_t *out);

/* Brief: open a sealed value of `n` bytes into `out` (n -
 * CARNET__SEAL_OVERHEAD bytes). Errors: CARNET_ECORRUPT when it is too
 * short, of an unknown version, or fails authentication (damaged, tampered
 * with, moved to another key, or sealed under another data key). */
int carnet__unseal(const uint8_t key[CARNET__SEAL_KEY_BYTES], const char *table, const void *k,
                   size_t klen, const void *ct, size_t n, uint8_t *out);

#endif
