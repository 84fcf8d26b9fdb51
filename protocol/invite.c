/* protocol/invite.c - invite token codec (see invite.h).
 *
 * The decoder accepts only the canonical form (shortest msgpack encodings;
 * libsodium's base64 decoder already refuses non-zero padding bits), so a
 * token decodes and re-encodes to the same text.
 */
#include "protocol/invite.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/base/mp.h"
#include "protocol/canon.h"
#include "protocol/obuf.h"

/* The largest msgpack stream of a token. */
#define STREAM_MAX (2u + CARNET_INVITE_ADDRESS_MAX + 34u + 18u + 34u + 9u + 18u)
#define PREFIX_LEN (sizeof CARNET_INVITE_PREFIX - 1)
/* The longest text decode reads, whitespace around the token included. */
#define PASTE_MAX 4096u

_Static_assert(PREFIX_LEN + ((STREAM_MAX + 2) / 3) * 4 + 1 <= CARNET_INVITE_TEXT_MAX,
               "the longest token fits CARNET_INVITE_TEXT_MAX");

static int is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

static int is_hex_char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9');
}

int carnet__invite_address_valid(const char *addr) {
  size_t n = strnlen(addr, CARNET_INVITE_ADDRESS_MAX + 1);
  if (n == 0 || n > CARNET_INVITE_ADDRESS_MAX) return CARNET_EINVAL;
  const char *colon = strrchr(addr, ':');
  if (colon == NULL || colon == addr) return CARNET_EINVAL;
  /* The port: 1 to 5 digits, 1..65535, no sign and no leading zero. */
  const char *port = colon + 1;
  size_t plen = strlen(port);
  if (plen == 0 || plen > 5 || port[0] == '0') return CARNET_EINVAL;
  unsigned long v = 0;
  for (size_t i = 0; i < plen; i++) {
    if (port[i] < '0' || port[i] > '9') return CARNET_EINVAL;
    v = v * 10 + (unsigned long)(port[i] - '0');
  }
  if (v > 65535) return CARNET_EINVAL;
  size_t hlen = (size_t)(colon - addr);
  if (addr[0] == '[') {
    /* [IPv6]: hex digits, colons and dots (an embedded IPv4) inside. */
    if (hlen < 4 || addr[hlen - 1] != ']') return CARNET_EINVAL;
    for (size_t i = 1; i + 1 < hlen; i++)
      if (!is_hex_char(addr[i]) && addr[i] != ':' && addr[i] != '.') return CARNET_EINVAL;
    return 0;
  }
  /* A DNS name or IPv4 address: no colon left (an unbracketed IPv6 address
   * would be ambiguous), no empty label at either end. */
  for (size_t i = 0; i < hlen; i++)
    if (!is_host_char(addr[i])) return CARNET_EINVAL;
  if (addr[0] == '.' || addr[0] == '-' || addr[hlen - 1] == '.') return CARNET_EINVAL;
  return 0;
}

/* The checks shared by encode and decode; `why` names the field. */
static int check_fields(const carnet__invite *inv, char *why, size_t why_len) {
  if (carnet__invite_address_valid(inv->address) != 0)
    return carnet__why(
        why, why_len, CARNET_EINVAL,
        "invite: the address is not host:port (a name or address, then a port 1-65535)");
  if (!crypto_core_ed25519_is_valid_point(inv->inviter_pk))
    return carnet__why(why, why_len, CARNET_EINVAL,
                       "invite: the inviter's key is not an Ed25519 key");
  if (sodium_is_zero(inv->secret, sizeof inv->secret))
    return carnet__why(why, why_len, CARNET_EINVAL, "invite: the secret is empty (all zeros)");
  if (inv->expiry_ms == 0)
    return carnet__why(why, why_len, CARNET_EINVAL, "invite: no expiry date");
  return 0;
}

int carnet__invite_encode(const carnet__invite *inv, char *out, size_t out_len, char *why,
                          size_t why_len) {
  carnet__obuf b;
  msgpack_packer pk;
  int rc;

  if (why && why_len) why[0] = '\0';
  carnet__obuf_init(&b);
  rc = check_fields(inv, why, why_len);
  if (rc) goto done;
  rc = carnet__obuf_reserve(&b, STREAM_MAX);
  if (rc) goto done;
  msgpack_packer_init(&pk, &b, carnet__obuf_mp_write);
  size_t alen = strlen(inv->address);
  int prc = 0;
  prc |= msgpack_pack_str(&pk, alen);
  prc |= msgpack_pack_str_body(&pk, inv->address, alen);
  prc |= msgpack_pack_bin(&pk, sizeof inv->inviter_pk);
  prc |= msgpack_pack_bin_body(&pk, inv->inviter_pk, sizeof inv->inviter_pk);
  prc |= msgpack_pack_bin(&pk, sizeof inv->id);
  prc |= msgpack_pack_bin_body(&pk, inv->id, sizeof inv->id);
  prc |= msgpack_pack_bin(&pk, sizeof inv->secret);
  prc |= msgpack_pack_bin_body(&pk, inv->secret, sizeof inv->secret);
  prc |= msgpack_pack_uint64(&pk, inv->expiry_ms);
  prc |= msgpack_pack_bin(&pk, sizeof inv->team_id);
  prc |= msgpack_pack_bin_body(&pk, inv->team_id, sizeof inv->team_id);
  if (prc) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  size_t need =
      PREFIX_LEN + sodium_base64_ENCODED_LEN(b.len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  if (out_len < need) {
    rc = carnet__why(why, why_len, CARNET_ELIMIT, "invite: output buffer too small");
    goto done;
  }
  memcpy(out, CARNET_INVITE_PREFIX, PREFIX_LEN);
  sodium_bin2base64(out + PREFIX_LEN, out_len - PREFIX_LEN, b.base, b.len,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  rc = 0;

done:
  carnet__obuf_free(&b); /* wiped: it held the secret */
  if (rc && out && out_len) out[0] = '\0';
  return rc;
}

/* Reads a bin of exactly `n` bytes (n < 256, so canonically a bin8) into
 * `dst`. */
static int read_bin(carnet__mp *m, void *dst, size_t n) {
  msgpack_object o;
  carnet_buf raw;
  if (carnet__canon_next(m, &o, &raw) != 0 || o.type != MSGPACK_OBJECT_BIN || o.via.bin.size != n ||
      raw.len != carnet__canon_bin(n))
    return CARNET_EINVAL;
  memcpy(dst, o.via.bin.ptr, n);
  return 0;
}

int carnet__invite_decode(const char *text, carnet__invite *out, char *why, size_t why_len) {
  uint8_t bin[STREAM_MAX + 1];
  size_t bin_len = 0;
  const char *end = NULL;
  carnet__mp m;
  bool mp_open = false;
  msgpack_object o;
  carnet_buf raw;
  int rc;

  memset(out, 0, sizeof *out);
  if (why && why_len) why[0] = '\0';

  /* A pasted token often brings a newline or spaces along; within reason:
   * the text is read up to a bound, and refused when it goes past it. */
  size_t n = strnlen(text, PASTE_MAX);
  if (n == PASTE_MAX) {
    rc = carnet__why(why, why_len, CARNET_EINVAL, "invite too long: it is damaged");
    goto done;
  }
  while (n && (text[0] == ' ' || text[0] == '\t' || text[0] == '\n' || text[0] == '\r'))
    text++, n--;
  while (n &&
         (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\n' || text[n - 1] == '\r'))
    n--;
  if (n < PREFIX_LEN || memcmp(text, CARNET_INVITE_PREFIX, PREFIX_LEN) != 0) {
    rc = carnet__why(why, why_len, CARNET_EINVAL,
                     "not a Carnet invite (it should start with \"" CARNET_INVITE_PREFIX "\")");
    goto done;
  }
  if (n >= CARNET_INVITE_TEXT_MAX) {
    rc = carnet__why(why, why_len, CARNET_EINVAL, "invite too long: it is damaged");
    goto done;
  }
  const char *b64 = text + PREFIX_LEN;
  size_t b64_len = n - PREFIX_LEN;
  /* The alphabet is checked here rather than left to libsodium: its 1.0.18
   * decoder reads every byte above 0x7f as '_' (found by fuzz_invite), and a
   * token must have one text form. */
  for (size_t i = 0; i < b64_len; i++) {
    char c = b64[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      rc = carnet__why(why, why_len, CARNET_EINVAL,
                       "invite damaged: not base64url (was it cut or changed when copied?)");
      goto done;
    }
  }
  if (sodium_base642bin(bin, sizeof bin, b64, b64_len, NULL, &bin_len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != b64 + b64_len) {
    rc = carnet__why(why, why_len, CARNET_EINVAL,
                     "invite damaged: not base64url (was it cut or changed when copied?)");
    goto done;
  }
  /* From here on a failure means the base64 decoded but its content is not
   * an invite: most likely a truncated copy. */
  rc = carnet__mp_init(&m, bin, bin_len);
  if (rc) goto done;
  mp_open = true;
  rc = carnet__canon_next(&m, &o, &raw);
  if (rc || o.type != MSGPACK_OBJECT_STR || o.via.str.size == 0 ||
      o.via.str.size > CARNET_INVITE_ADDRESS_MAX || raw.len != carnet__canon_str(o.via.str.size) ||
      memchr(o.via.str.ptr, 0, o.via.str.size) != NULL) {
    rc = carnet__why(why, why_len, CARNET_EINVAL, "invite damaged or truncated: bad address field");
    goto done;
  }
  memcpy(out->address, o.via.str.ptr, o.via.str.size);
  out->address[o.via.str.size] = '\0';
  if (read_bin(&m, out->inviter_pk, sizeof out->inviter_pk) != 0 ||
      read_bin(&m, out->id, sizeof out->id) != 0 ||
      read_bin(&m, out->secret, sizeof out->secret) != 0) {
    rc = carnet__why(why, why_len, CARNET_EINVAL,
                     "invite damaged or truncated: bad key, id or secret");
    goto done;
  }
  rc = carnet__canon_next(&m, &o, &raw);
  if (rc || o.type != MSGPACK_OBJECT_POSITIVE_INTEGER || !carnet__canon_is_uint(raw, o.via.u64)) {
    rc = carnet__why(why, why_len, CARNET_EINVAL, "invite damaged or truncated: bad expiry");
    goto done;
  }
  out->expiry_ms = o.via.u64;
  if (read_bin(&m, out->team_id, sizeof out->team_id) != 0) {
    rc = carnet__why(why, why_len, CARNET_EINVAL, "invite damaged or truncated: bad team id");
    goto done;
  }
  if (!carnet__mp_done(&m)) {
    rc = carnet__why(why, why_len, CARNET_EINVAL, "invite damaged: unexpected bytes at the end");
    goto done;
  }
  rc = check_fields(out, why, why_len);

done:
  if (mp_open) carnet__mp_destroy(&m);
  sodium_memzero(bin, sizeof bin);
  if (rc) {
    if (rc != CARNET_EINVAL && rc != CARNET_ENOMEM) rc = CARNET_EINVAL;
    sodium_memzero(out, sizeof *out);
  }
  return rc;
}
