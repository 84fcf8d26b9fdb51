/* tests/protocol/test_invite.c - the invite token codec (protocol/invite.h).
 *
 * Properties: a token round-trips (every field, the longest address
 * included) and re-encodes to the same text; whitespace around a pasted
 * token is ignored; garbage, a wrong prefix, a truncated or padded token, a
 * non-canonical or out-of-limits field are refused with CARNET_EINVAL and a
 * reason; the encoder refuses invalid fields the same way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>
#include <sodium.h>

#include "carnet/error.h"
#include "protocol/invite.h"
#include "support/testenv.h"

static void make_invite(carnet__invite *inv, uint64_t seed) {
  uint8_t sk[64], s[32];
  trng g;
  trng_seed(&g, seed);
  memset(inv, 0, sizeof *inv);
  strcpy(inv->address, "office.example.com:7420");
  trng_bytes(&g, s, sizeof s);
  crypto_sign_seed_keypair(inv->inviter_pk, sk, s);
  trng_bytes(&g, inv->id, sizeof inv->id);
  trng_bytes(&g, inv->secret, sizeof inv->secret);
  inv->expiry_ms = TENV_EPOCH_MS + 86400000;
  trng_bytes(&g, inv->team_id, sizeof inv->team_id);
}

static void assert_same(const carnet__invite *a, const carnet__invite *b) {
  assert_string_equal(a->address, b->address);
  assert_memory_equal(a->inviter_pk, b->inviter_pk, sizeof a->inviter_pk);
  assert_memory_equal(a->id, b->id, sizeof a->id);
  assert_memory_equal(a->secret, b->secret, sizeof a->secret);
  assert_true(a->expiry_ms == b->expiry_ms);
  assert_memory_equal(a->team_id, b->team_id, sizeof a->team_id);
}

static void round_trip(const carnet__invite *inv) {
  char text[CARNET_INVITE_TEXT_MAX], again[CARNET_INVITE_TEXT_MAX], why[200];
  carnet__invite back;
  assert_int_equal(carnet__invite_encode(inv, text, sizeof text, why, sizeof why), 0);
  assert_string_equal(why, "");
  assert_memory_equal(text, CARNET_INVITE_PREFIX, strlen(CARNET_INVITE_PREFIX));
  /* Only URL-safe characters. */
  for (const char *p = text + strlen(CARNET_INVITE_PREFIX); *p; p++)
    assert_true((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '-' || *p == '_');
  assert_int_equal(carnet__invite_decode(text, &back, why, sizeof why), 0);
  assert_same(inv, &back);
  assert_int_equal(carnet__invite_encode(&back, again, sizeof again, NULL, 0), 0);
  assert_string_equal(text, again);
}

static void test_round_trip(void **state) {
  (void)state;
  carnet__invite inv;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    make_invite(&inv, seed);
    round_trip(&inv);
  }
  static const char *addrs[] = {"a:1", "192.168.1.20:7420", "[::1]:65535", "[fe80::1]:7420",
                                "host_name.local:80"};
  for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
    strcpy(inv.address, addrs[i]);
    round_trip(&inv);
  }
  /* The longest address still fits CARNET_INVITE_TEXT_MAX. */
  memset(inv.address, 'h', CARNET_INVITE_ADDRESS_MAX - 6);
  strcpy(inv.address + CARNET_INVITE_ADDRESS_MAX - 6, ":65535");
  assert_int_equal(strlen(inv.address), CARNET_INVITE_ADDRESS_MAX);
  inv.expiry_ms = UINT64_MAX;
  round_trip(&inv);
  char text[CARNET_INVITE_TEXT_MAX];
  assert_int_equal(carnet__invite_encode(&inv, text, sizeof text, NULL, 0), 0);
  assert_true(strlen(text) < CARNET_INVITE_TEXT_MAX);
  /* One byte short of the room it needs. */
  char small[CARNET_INVITE_TEXT_MAX];
  assert_int_equal(carnet__invite_encode(&inv, small, strlen(text), NULL, 0), CARNET_ELIMIT);
}

static void test_whitespace_ignored(void **state) {
  (void)state;
  carnet__invite inv, back;
  char text[CARNET_INVITE_TEXT_MAX], pasted[CARNET_INVITE_TEXT_MAX + 8];
  make_invite(&inv, 5);
  assert_int_equal(carnet__invite_encode(&inv, text, sizeof text, NULL, 0), 0);
  snprintf(pasted, sizeof pasted, "  %s\r\n", text);
  assert_int_equal(carnet__invite_decode(pasted, &back, NULL, 0), 0);
  assert_same(&inv, &back);
}

/* Refused with CARNET_EINVAL, a reason containing `want`, and a zeroed
 * output. */
static void refused(const char *text, const char *want) {
  carnet__invite out;
  char why[200] = "unset";
  memset(&out, 0x5a, sizeof out);
  assert_int_equal(carnet__invite_decode(text, &out, why, sizeof why), CARNET_EINVAL);
  if (strstr(why, want) == NULL) fail_msg("reason \"%s\" does not say \"%s\"", why, want);
  assert_true(sodium_is_zero((const unsigned char *)&out, sizeof out));
}

static void test_garbage_and_prefix(void **state) {
  (void)state;
  refused("", "not a Carnet invite");
  refused("hello", "not a Carnet invite");
  refused("carnet2:AAAA", "not a Carnet invite");
  refused("Carnet1:AAAA", "not a Carnet invite");
  refused("https://example.com/carnet1:AAAA", "not a Carnet invite");
  refused("carnet1:", "damaged");
  refused("carnet1:!!!!", "damaged");
  refused("carnet1:AAAA AAAA", "damaged");
  refused("carnet1:AAAA", "damaged");
  char long_text[CARNET_INVITE_TEXT_MAX + 10];
  memset(long_text, 'A', sizeof long_text - 1);
  memcpy(long_text, CARNET_INVITE_PREFIX, strlen(CARNET_INVITE_PREFIX));
  long_text[sizeof long_text - 1] = '\0';
  refused(long_text, "too long");
  /* A valid token followed by a lot of whitespace and then junk: the junk
   * is not out of sight (found by fuzz_invite). */
  carnet__invite inv;
  char tok[CARNET_INVITE_TEXT_MAX];
  make_invite(&inv, 4);
  assert_int_equal(carnet__invite_encode(&inv, tok, sizeof tok, NULL, 0), 0);
  for (size_t pad = 0; pad < 5000; pad += 97) {
    char *t = malloc(strlen(tok) + pad + 2);
    assert_non_null(t);
    strcpy(t, tok);
    memset(t + strlen(tok), '\r', pad);
    strcpy(t + strlen(tok) + pad, "c");
    refused(t, pad + strlen(tok) + 1 >= 4096 ? "too long" : "damaged");
    free(t);
  }
  /* Random printable junk after the prefix. */
  trng g;
  trng_seed(&g, 77);
  for (int i = 0; i < 2000; i++) {
    char t[CARNET_INVITE_TEXT_MAX];
    size_t n = strlen(CARNET_INVITE_PREFIX) + trng_below(&g, 200);
    memcpy(t, CARNET_INVITE_PREFIX, strlen(CARNET_INVITE_PREFIX));
    for (size_t k = strlen(CARNET_INVITE_PREFIX); k < n; k++)
      t[k] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[trng_below(&g, 64)];
    t[n] = '\0';
    refused(t, "invite");
  }
}

static void test_truncated_and_padded(void **state) {
  (void)state;
  carnet__invite inv;
  char text[CARNET_INVITE_TEXT_MAX], cut[CARNET_INVITE_TEXT_MAX + 4];
  make_invite(&inv, 9);
  assert_int_equal(carnet__invite_encode(&inv, text, sizeof text, NULL, 0), 0);
  size_t n = strlen(text);
  for (size_t k = 0; k < n; k++) {
    memcpy(cut, text, k);
    cut[k] = '\0';
    refused(cut, k < strlen(CARNET_INVITE_PREFIX) ? "not a Carnet invite" : "invite");
  }
  /* Padding is not part of the URL-safe, no-padding form. */
  snprintf(cut, sizeof cut, "%s=", text);
  refused(cut, "damaged");
  /* A byte outside the alphabet, even one libsodium 1.0.18 would read as
   * '_' (any byte above 0x7f). */
  strcpy(cut, text);
  cut[n - 3] = (char)0xff;
  refused(cut, "damaged");
  cut[n - 3] = '=';
  refused(cut, "damaged");
  /* One more character: either not base64 any more or a trailing byte. */
  snprintf(cut, sizeof cut, "%sAA", text);
  refused(cut, "damaged");
}

/* Base64 of a hand-made msgpack stream, so fields the encoder would refuse
 * can reach the decoder. */
typedef struct raw {
  const char *addr;
  size_t pk_len, id_len, secret_len, team_len;
  bool zero_secret, bad_pk, long_expiry, signed_expiry, skip_team, extra;
  uint64_t expiry;
} raw;

static void raw_token(const raw *r, char *out, size_t out_len) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  carnet__invite inv;
  uint8_t zero[64] = {0}, src[64] = {0};
  make_invite(&inv, 1);
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_str(&pk, strlen(r->addr));
  msgpack_pack_str_body(&pk, r->addr, strlen(r->addr));
  /* Fields longer than the real ones are padded with zeros from `src`. */
  memcpy(src, inv.inviter_pk, sizeof inv.inviter_pk);
  msgpack_pack_bin(&pk, r->pk_len);
  msgpack_pack_bin_body(&pk, r->bad_pk ? zero : src, r->pk_len);
  memset(src, 0, sizeof src);
  memcpy(src, inv.id, sizeof inv.id);
  msgpack_pack_bin(&pk, r->id_len);
  msgpack_pack_bin_body(&pk, src, r->id_len);
  memset(src, 0, sizeof src);
  memcpy(src, inv.secret, sizeof inv.secret);
  msgpack_pack_bin(&pk, r->secret_len);
  msgpack_pack_bin_body(&pk, r->zero_secret ? zero : src, r->secret_len);
  if (r->long_expiry) {
    /* 5 as a uint64: valid msgpack, not the shortest form. */
    static const char u64[] = {(char)0xcf, 0, 0, 0, 0, 0, 0, 0, 5};
    msgpack_sbuffer_write(&sb, u64, sizeof u64);
  } else if (r->signed_expiry) {
    /* 2^32 as an int64: the shortest length, but a signed tag. */
    static const char i64[] = {(char)0xd3, 0, 0, 0, 1, 0, 0, 0, 0};
    msgpack_sbuffer_write(&sb, i64, sizeof i64);
  } else {
    msgpack_pack_uint64(&pk, r->expiry);
  }
  if (!r->skip_team) {
    memset(src, 0, sizeof src);
    memcpy(src, inv.team_id, sizeof inv.team_id);
    msgpack_pack_bin(&pk, r->team_len);
    msgpack_pack_bin_body(&pk, src, r->team_len);
  }
  if (r->extra) msgpack_pack_nil(&pk);
  memcpy(out, CARNET_INVITE_PREFIX, strlen(CARNET_INVITE_PREFIX));
  sodium_bin2base64(out + strlen(CARNET_INVITE_PREFIX), out_len - strlen(CARNET_INVITE_PREFIX),
                    (const unsigned char *)sb.data, sb.size,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  msgpack_sbuffer_destroy(&sb);
}

static void test_fields_checked(void **state) {
  (void)state;
  char t[CARNET_INVITE_TEXT_MAX * 2];
  carnet__invite inv;
  const raw good = {"h.example:7420", 32, 16, 32, 16, false, false, false, false, false, false, 1};
  raw r = good;
  raw_token(&r, t, sizeof t);
  assert_int_equal(carnet__invite_decode(t, &inv, NULL, 0), 0);
#define BAD_FIELD(field, value, want)                                                              \
  do {                                                                                             \
    r = good;                                                                                      \
    r.field = value;                                                                               \
    raw_token(&r, t, sizeof t);                                                                    \
    refused(t, want);                                                                              \
  } while (0)
  BAD_FIELD(addr, "", "address");
  BAD_FIELD(addr, "nohost", "address");
  BAD_FIELD(addr, "host:", "address");
  BAD_FIELD(addr, ":7420", "address");
  BAD_FIELD(addr, "host:0", "address");
  BAD_FIELD(addr, "host:65536", "address");
  BAD_FIELD(addr, "host:07420", "address");
  BAD_FIELD(addr, "a b:7420", "address");
  BAD_FIELD(addr, "::1:7420", "address");
  BAD_FIELD(addr, "[::1:7420", "address");
  BAD_FIELD(addr, "host:74x0", "address");
  BAD_FIELD(addr, "-host:7420", "address");
  BAD_FIELD(pk_len, 31, "key");
  BAD_FIELD(bad_pk, true, "not an Ed25519 key");
  BAD_FIELD(id_len, 15, "id");
  BAD_FIELD(secret_len, 33, "secret");
  BAD_FIELD(zero_secret, true, "secret is empty");
  BAD_FIELD(expiry, 0, "expiry");
  BAD_FIELD(long_expiry, true, "expiry");
  BAD_FIELD(signed_expiry, true, "expiry");
  BAD_FIELD(team_len, 17, "team");
  BAD_FIELD(skip_team, true, "team");
  BAD_FIELD(extra, true, "unexpected bytes");
  char addr[CARNET_INVITE_ADDRESS_MAX + 2];
  memset(addr, 'h', sizeof addr - 1);
  memcpy(addr + sizeof addr - 6, ":7420", 6);
  BAD_FIELD(addr, addr, "address");
}

static void test_encoder_refuses(void **state) {
  (void)state;
  carnet__invite inv;
  char text[CARNET_INVITE_TEXT_MAX], why[200];
  make_invite(&inv, 2);
  strcpy(inv.address, "no-port");
  assert_int_equal(carnet__invite_encode(&inv, text, sizeof text, why, sizeof why), CARNET_EINVAL);
  assert_non_null(strstr(why, "address"));
  assert_string_equal(text, "");
  make_invite(&inv, 2);
  memset(inv.secret, 0, sizeof inv.secret);
  assert_int_equal(carnet__invite_encode(&inv, text, sizeof text, why, sizeof why), CARNET_EINVAL);
  assert_non_null(strstr(why, "secret"));
  make_invite(&inv, 2);
  inv.expiry_ms = 0;
  assert_int_equal(carnet__invite_encode(&inv, text, sizeof text, why, sizeof why), CARNET_EINVAL);
  make_invite(&inv, 2);
  memset(inv.inviter_pk, 0, sizeof inv.inviter_pk);
  assert_int_equal(carnet__invite_encode(&inv, text, sizeof text, why, sizeof why), CARNET_EINVAL);
  assert_non_null(strstr(why, "key"));
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),         cmocka_unit_test(test_whitespace_ignored),
      cmocka_unit_test(test_garbage_and_prefix), cmocka_unit_test(test_truncated_and_padded),
      cmocka_unit_test(test_fields_checked),     cmocka_unit_test(test_encoder_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
