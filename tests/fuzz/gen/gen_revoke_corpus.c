/* Writes the seed corpus of fuzz_revoke under CORPUS_DIR/revoke. Not a
 * test and built by nobody: run it by hand after a change of the record's
 * format, and commit the files it writes.
 *
 *   cc -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -I include -I . \
 *      -o /tmp/gen_revoke tests/fuzz/gen/gen_revoke_corpus.c <libcarnet.a> \
 *      -llmdb -lsodium -lmsgpackc -luv -lutf8proc -lzip -lexpat -lxlsxwriter -lm -lpthread
 *   /tmp/gen_revoke tests/fuzz/corpus
 *
 * The "signed" seed is signed with the key and for the team that
 * fuzz_revoke.c checks signatures against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "engine/store/revoke.h"

static const char *g_root;

static void put(const char *name, const void *p, size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/revoke/%s", g_root, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

static void put_rv(const char *name, const carnet__revocation *rv) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  if (carnet__revoke_encode(rv, &sb) != 0) abort();
  put(name, sb.data, sb.size);
  msgpack_sbuffer_destroy(&sb);
}

int main(int argc, char **argv) {
  uint8_t seed[32], sk[64], team[16];
  carnet__revocation rv;
  msgpack_sbuffer sb;
  if (argc != 2 || sodium_init() < 0) return 2;
  g_root = argv[1];
  memset(seed, 0x5a, sizeof seed);
  memset(team, 0x7e, sizeof team);
  memset(&rv, 0, sizeof rv);
  crypto_sign_seed_keypair(rv.by, sk, seed);
  memset(rv.pk, 0x33, sizeof rv.pk);
  rv.at_ms = 1790000000000ull;
  if (carnet__revoke_sign(&rv, team, sk) != 0) abort();
  put_rv("signed", &rv);
  carnet__revocation small = rv;
  small.at_ms = 1;
  put_rv("at_one", &small); /* a bad signature, a valid shape */
  small.at_ms = 300;
  put_rv("at_uint16", &small);
  /* Refused: trailing byte, version 2, at 0, at not in its shortest form,
   * a signature of 63 bytes, nothing. */
  msgpack_sbuffer_init(&sb);
  carnet__revoke_encode(&rv, &sb);
  msgpack_sbuffer_write(&sb, "\xc0", 1);
  put("regress_trailing", sb.data, sb.size);
  ((uint8_t *)sb.data)[0] = 2;
  put("regress_version2", sb.data, sb.size - 1);
  msgpack_sbuffer_destroy(&sb);
  small.at_ms = 0;
  put_rv("regress_at_zero", &small);
  {
    /* at = 5 as a uint64 (0xcf + 8 bytes): not canonical. */
    uint8_t b[200];
    size_t n = 0;
    b[n++] = 1;
    b[n++] = 0xc4, b[n++] = 32;
    memcpy(b + n, rv.pk, 32), n += 32;
    b[n++] = 0xcf;
    memset(b + n, 0, 7), n += 7;
    b[n++] = 5;
    b[n++] = 0xc4, b[n++] = 32;
    memcpy(b + n, rv.by, 32), n += 32;
    b[n++] = 0xc4, b[n++] = 64;
    memcpy(b + n, rv.sig, 64), n += 64;
    put("regress_noncanonical_at", b, n);
    b[n - 65] = 63; /* the signature's length byte */
    put("regress_short_sig", b, n - 1);
  }
  put("regress_empty", "", 0);
  sodium_memzero(sk, sizeof sk);
  return 0;
}
