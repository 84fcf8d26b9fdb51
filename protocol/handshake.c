/* protocol/handshake.c - the SIGMA-style handshake (see handshake.h for the
 * wire format).
 *
 *   initiator                                 responder
 *   ---------                                 ---------
 *   init: send (1) ------------------------>  WAIT1: check magic, version,
 *   WAIT2                                     team, invite; kx keys;
 *                                             send (2) (sig "carnet-resp")
 *   WAIT2: ERROR frame? fail.   <-----------  WAIT3
 *   check version, trust (or invite key),
 *   verify sig; kx keys;
 *   send (3) (sig "carnet-init", join_mac)
 *   DONE: channel may send at once  ------->  WAIT3: ERROR frame? fail.
 *                                             check trust (or invite),
 *                                             verify sig, join_mac
 *                                             DONE
 *
 * Invariants:
 * (H1) A side checks the peer's static key against trust the moment it has
 *      parsed the message that carries it, before verifying anything else
 *      and before reading one more byte: an unknown key costs us one parse.
 * (H2) Every signature and MAC covers the transcript hash of every byte
 *      before it, frame headers included, under a role label: a message
 *      cannot be replayed into another session (the peer's ephemeral key
 *      differs) nor reflected to its sender (the labels differ).
 * (H3) The handshake consumes input only up to the end of its last frame;
 *      bytes after it belong to the channel.
 * (H4) Failure is sticky and wipes every secret the handshake holds.
 * (H5) Nothing from the peer is trusted for its size: each frame is at most
 *      CARNET_HANDSHAKE_MSG_BYTES_MAX bytes, checked from its header.
 */
#include "protocol/handshake.h"
#include "protocol/channel.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/base/mp.h"
#include "protocol/canon.h"

enum { HS_WAIT1 = 1, HS_WAIT2, HS_WAIT3, HS_DONE, HS_FAILED };

#define LABEL_RESP "carnet-resp"
#define LABEL_INIT "carnet-init"
#define TH_BYTES crypto_generichash_BYTES
/* A bin64 signature object: 0xc4 0x40 then 64 bytes. */
#define SIG_OBJ_BYTES (2u + crypto_sign_BYTES)
#define MAC_OBJ_BYTES (2u + crypto_auth_BYTES)

_Static_assert(TH_BYTES == 32, "the transcript hash is 32 bytes");
_Static_assert(crypto_auth_KEYBYTES == CARNET_INVITE_SECRET_BYTES, "an invite secret is a MAC key");

static void wipe_secrets(carnet__hs *hs) {
  sodium_memzero(hs->eph_sk, sizeof hs->eph_sk);
  sodium_memzero(hs->kx_rx, sizeof hs->kx_rx);
  sodium_memzero(hs->kx_tx, sizeof hs->kx_tx);
  sodium_memzero(hs->tx_key, sizeof hs->tx_key);
  sodium_memzero(hs->rx_key, sizeof hs->rx_key);
  sodium_memzero(hs->secret, sizeof hs->secret);
  sodium_memzero(&hs->invite, sizeof hs->invite);
}

static int fail_at(carnet__hs *hs, int line, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(carnet__hs *hs, int line, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  hs->err = carnet__refuse_at(&hs->bad_line, line, rc);
  carnet__vwhy(hs->errmsg, sizeof hs->errmsg, rc, fmt, ap);
  va_end(ap);
  hs->state = HS_FAILED;
  wipe_secrets(hs); /* H4 */
  return rc;
}
#define FAIL(hs, rc, ...) fail_at((hs), __LINE__, (rc), __VA_ARGS__)

static void hex32(const uint8_t pk[32], char out[65]) {
  sodium_bin2hex(out, 65, pk, 32);
}

/* --- Transcript ------------------------------------------------------------ */

static int tr_add(carnet__hs *hs, const void *p, size_t n) {
  /* Cannot overflow: at most three frames, each within the frame limit. */
  if (n > sizeof hs->transcript - hs->transcript_len)
    return FAIL(hs, CARNET_EPROTO, "handshake transcript too long");
  memcpy(hs->transcript + hs->transcript_len, p, n);
  hs->transcript_len += n;
  return 0;
}

static int tr_add_header(carnet__hs *hs, size_t payload_len) {
  uint8_t hdr[CARNET_FRAME_HEADER_BYTES];
  carnet__frame_header(hdr, (uint32_t)payload_len);
  return tr_add(hs, hdr, sizeof hdr);
}

static void tr_hash(const carnet__hs *hs, uint8_t th[TH_BYTES]) {
  crypto_generichash(th, TH_BYTES, hs->transcript, hs->transcript_len, NULL, 0);
}

/* label || TH, the message a signature covers. */
static void signed_msg(const char *label, const uint8_t th[TH_BYTES], uint8_t *out, size_t *n) {
  size_t l = strlen(label);
  memcpy(out, label, l);
  memcpy(out + l, th, TH_BYTES);
  *n = l + TH_BYTES;
}

/* Sign label || TH through the signer (the key is not ours to hold). */
static int sign_th(carnet__hs *hs, const char *label, uint8_t sig[crypto_sign_BYTES]) {
  uint8_t th[TH_BYTES], m[32 + TH_BYTES];
  size_t n;
  tr_hash(hs, th);
  signed_msg(label, th, m, &n);
  return hs->sign(hs->ctx, m, n, sig);
}

static bool verify_th(const carnet__hs *hs, const char *label, const uint8_t *sig,
                      const uint8_t pk[32]) {
  uint8_t th[TH_BYTES], m[32 + TH_BYTES];
  size_t n;
  tr_hash(hs, th);
  signed_msg(label, th, m, &n);
  return crypto_sign_verify_detached(sig, m, n, pk) == 0;
}

/* The session keys: each direction's kx key, as a BLAKE2b key, over the hash
 * of the whole transcript. */
static void derive_keys(carnet__hs *hs) {
  uint8_t th[TH_BYTES];
  tr_hash(hs, th);
  crypto_generichash(hs->tx_key, sizeof hs->tx_key, th, sizeof th, hs->kx_tx, sizeof hs->kx_tx);
  crypto_generichash(hs->rx_key, sizeof hs->rx_key, th, sizeof th, hs->kx_rx, sizeof hs->kx_rx);
  sodium_memzero(hs->kx_tx, sizeof hs->kx_tx);
  sodium_memzero(hs->kx_rx, sizeof hs->kx_rx);
  sodium_memzero(hs->eph_sk, sizeof hs->eph_sk);
  sodium_memzero(hs->secret, sizeof hs->secret);
  sodium_memzero(hs->invite.secret, sizeof hs->invite.secret);
}

/* --- Output ----------------------------------------------------------------- */

static void pack_bin(msgpack_packer *pk, int *prc, const void *p, size_t n) {
  *prc |= msgpack_pack_bin(pk, n);
  *prc |= msgpack_pack_bin_body(pk, p, n);
}

/* A plaintext ERROR frame telling the peer why we stop. Best effort: the
 * handshake fails with its own code whether or not this fits. */
static void send_error(carnet__obuf *out, int code, const char *text) {
  carnet__msg m = {.type = CARNET_MSG_ERROR, .code = code};
  size_t mark;
  m.text.base = text;
  m.text.len = strlen(text);
  if (carnet__frame_begin(out, &mark) != 0) return;
  if (carnet__msg_encode(&m, out) != 0) {
    out->len = mark;
    return;
  }
  (void)carnet__frame_end(out, mark, CARNET_HANDSHAKE_MSG_BYTES_MAX);
}

int carnet__hs_refusal(carnet__obuf *out, int code, const char *text) {
  size_t before = out->len;
  send_error(out, code, text);
  return out->len > before ? 0 : CARNET_ENOMEM;
}

/* The header a frame under construction will have once `tail` more bytes
 * are appended: signatures cover the header, written before them. */
static int frame_fix_header(carnet__hs *hs, carnet__obuf *out, size_t mark, size_t tail) {
  size_t len = out->len - mark - CARNET_FRAME_HEADER_BYTES + tail;
  if (len > CARNET_HANDSHAKE_MSG_BYTES_MAX)
    return FAIL(hs, CARNET_EMISUSE, "handshake message too long"); /* cannot happen */
  carnet__frame_header(out->base + mark, (uint32_t)len);
  return 0;
}

static int pack_failed(carnet__hs *hs, carnet__obuf *out, size_t mark, int rc) {
  out->len = mark;
  return FAIL(hs, rc, "cannot queue a handshake message: %s", carnet_error_message(rc));
}

/* Message (1). */
static int send_msg1(carnet__hs *hs, carnet__obuf *out) {
  msgpack_packer pk;
  size_t mark;
  int prc = 0, rc;
  const uint8_t *team = hs->have_invite ? hs->invite.team_id : hs->team_id;

  rc = carnet__obuf_reserve(out, CARNET_FRAME_HEADER_BYTES + CARNET_HANDSHAKE_MSG_BYTES_MAX);
  if (rc) return FAIL(hs, rc, "cannot queue the handshake: %s", carnet_error_message(rc));
  (void)carnet__frame_begin(out, &mark); /* reserved above */
  msgpack_packer_init(&pk, out, carnet__obuf_mp_write);
  prc |= msgpack_pack_str(&pk, 4);
  prc |= msgpack_pack_str_body(&pk, CARNET_HS_MAGIC, 4);
  prc |= msgpack_pack_uint32(&pk, hs->version);
  pack_bin(&pk, &prc, team, CARNET_TEAM_BYTES);
  pack_bin(&pk, &prc, hs->eph_pk, sizeof hs->eph_pk);
  if (hs->have_invite)
    pack_bin(&pk, &prc, hs->invite.id, sizeof hs->invite.id);
  else
    prc |= msgpack_pack_nil(&pk);
  if (prc) return pack_failed(hs, out, mark, CARNET_ENOMEM);
  rc = carnet__frame_end(out, mark, CARNET_HANDSHAKE_MSG_BYTES_MAX);
  if (rc) return pack_failed(hs, out, mark, rc);
  return tr_add(hs, out->base + mark, out->len - mark);
}

/* Message (2). */
static int send_msg2(carnet__hs *hs, carnet__obuf *out) {
  msgpack_packer pk;
  uint8_t sig[crypto_sign_BYTES];
  size_t mark, prefix;
  int prc = 0, rc;

  rc = carnet__obuf_reserve(out, CARNET_FRAME_HEADER_BYTES + CARNET_HANDSHAKE_MSG_BYTES_MAX);
  if (rc) return FAIL(hs, rc, "cannot queue the handshake: %s", carnet_error_message(rc));
  (void)carnet__frame_begin(out, &mark);
  msgpack_packer_init(&pk, out, carnet__obuf_mp_write);
  prc |= msgpack_pack_uint32(&pk, hs->version);
  pack_bin(&pk, &prc, hs->eph_pk, sizeof hs->eph_pk);
  pack_bin(&pk, &prc, hs->sign_pk, sizeof hs->sign_pk);
  prc |= msgpack_pack_uint64(&pk, hs->replica_id);
  if (prc) return pack_failed(hs, out, mark, CARNET_ENOMEM);
  if ((rc = frame_fix_header(hs, out, mark, SIG_OBJ_BYTES)) != 0) return rc;
  prefix = out->len;
  if ((rc = tr_add(hs, out->base + mark, prefix - mark)) != 0) return rc;
  if ((rc = sign_th(hs, LABEL_RESP, sig)) != 0) {
    out->len = mark;
    return FAIL(hs, rc, "cannot sign the handshake: %s", carnet_error_message(rc));
  }
  pack_bin(&pk, &prc, sig, sizeof sig);
  if (prc) return pack_failed(hs, out, mark, CARNET_ENOMEM);
  rc = carnet__frame_end(out, mark, CARNET_HANDSHAKE_MSG_BYTES_MAX);
  if (rc) return pack_failed(hs, out, mark, rc);
  return tr_add(hs, out->base + prefix, out->len - prefix);
}

/* Message (3). */
static int send_msg3(carnet__hs *hs, carnet__obuf *out) {
  msgpack_packer pk;
  uint8_t sig[crypto_sign_BYTES], th[TH_BYTES], mac[crypto_auth_BYTES];
  size_t mark, prefix, after_sig;
  int prc = 0, rc;

  rc = carnet__obuf_reserve(out, CARNET_FRAME_HEADER_BYTES + CARNET_HANDSHAKE_MSG_BYTES_MAX);
  if (rc) return FAIL(hs, rc, "cannot queue the handshake: %s", carnet_error_message(rc));
  (void)carnet__frame_begin(out, &mark);
  msgpack_packer_init(&pk, out, carnet__obuf_mp_write);
  pack_bin(&pk, &prc, hs->sign_pk, sizeof hs->sign_pk);
  prc |= msgpack_pack_uint64(&pk, hs->replica_id);
  if (prc) return pack_failed(hs, out, mark, CARNET_ENOMEM);
  rc = frame_fix_header(hs, out, mark, SIG_OBJ_BYTES + (hs->have_invite ? MAC_OBJ_BYTES : 1));
  if (rc) return rc;
  prefix = out->len;
  if ((rc = tr_add(hs, out->base + mark, prefix - mark)) != 0) return rc;
  if ((rc = sign_th(hs, LABEL_INIT, sig)) != 0) {
    out->len = mark;
    return FAIL(hs, rc, "cannot sign the handshake: %s", carnet_error_message(rc));
  }
  pack_bin(&pk, &prc, sig, sizeof sig);
  if (prc) return pack_failed(hs, out, mark, CARNET_ENOMEM);
  after_sig = out->len;
  if ((rc = tr_add(hs, out->base + prefix, after_sig - prefix)) != 0) return rc;
  if (hs->have_invite) {
    tr_hash(hs, th);
    crypto_auth(mac, th, sizeof th, hs->invite.secret);
    pack_bin(&pk, &prc, mac, sizeof mac);
  } else {
    prc |= msgpack_pack_nil(&pk);
  }
  if (prc) return pack_failed(hs, out, mark, CARNET_ENOMEM);
  rc = carnet__frame_end(out, mark, CARNET_HANDSHAKE_MSG_BYTES_MAX);
  if (rc) return pack_failed(hs, out, mark, rc);
  return tr_add(hs, out->base + after_sig, out->len - after_sig);
}

/* --- Input ------------------------------------------------------------------ */

/* 0 trusted, 1 not trusted, < 0 the callback's own failure. */
static int check_trust(carnet__hs *hs, const uint8_t pk[32]) {
  if (hs->trusted == NULL) return 1;
  int rc = hs->trusted(hs->ctx, pk);
  if (rc == 0) return 0;
  if (rc > 0 || rc == CARNET_EPERM || rc == CARNET_ENOTFOUND) return 1;
  return rc;
}

/* An ERROR frame from the peer ends the handshake with its reason. Returns
 * 1 when `f` is not an ERROR frame (then it must be the next message). */
static int peer_error(carnet__hs *hs, carnet_buf f) {
  carnet__msg m;
  int rc = carnet__msg_decode(f.base, f.len, &m);
  if (rc == CARNET_ENOMEM) return FAIL(hs, rc, "out of memory");
  if (rc != 0 || m.type != CARNET_MSG_ERROR) return 1;
  /* A node at its admission limits (replica/node.c) says it is busy: the
   * caller retries; the peer's text is not needed to say so. */
  if (m.code == CARNET_EBUSY)
    return FAIL(hs, CARNET_EBUSY, "the peer is busy (too many connections)");
  /* Only the codes a refusal can carry keep their meaning; anything else
   * from the peer is just a protocol failure to us. */
  int code = (m.code == CARNET_EVERSION || m.code == CARNET_EPERM) ? m.code : CARNET_EPROTO;
  return FAIL(hs, code, "the peer refused the connection: %.*s", (int)m.text.len,
              (const char *)m.text.base);
}

/* Reads a uint. Containers never reach msgpack-c (canon.h). */
static bool get_uint(carnet__mp *m, uint64_t *v) {
  return !carnet__canon_container(m) && carnet__mp_uint(m, v) == 0;
}

/* Reads a bin of 1 .. `max` bytes. */
static bool get_bin_upto(carnet__mp *m, size_t max, carnet_buf *v) {
  return !carnet__canon_container(m) && carnet__mp_bin(m, v, false) == 0 && v->len >= 1 &&
         v->len <= max;
}

/* Reads a bin of exactly `n` bytes. */
static bool get_bin(carnet__mp *m, size_t n, const uint8_t **out) {
  carnet_buf v;
  if (!get_bin_upto(m, n, &v) || v.len != n) return false;
  *out = v.base;
  return true;
}

/* The next object is a bin of exactly `n` bytes: its position in the frame
 * and its bytes. */
static bool get_bin_at(carnet__mp *m, size_t n, size_t *at, const uint8_t **out) {
  msgpack_object o;
  carnet_buf raw;
  if (carnet__canon_next(m, &o, &raw) != 0 || o.type != MSGPACK_OBJECT_BIN || o.via.bin.size != n)
    return false;
  *at = (size_t)((const char *)raw.base - m->buf);
  *out = (const uint8_t *)o.via.bin.ptr;
  return true;
}

#define MP_BAD(hs, what) FAIL((hs), CARNET_EPROTO, "malformed handshake message: %s", (what))

static int on_msg1(carnet__hs *hs, carnet_buf f, carnet__obuf *out) {
  static const uint8_t magic[5] = {0xa4, 'C', 'N', 'T', '1'};
  carnet__mp m;
  uint64_t version;
  const uint8_t *team, *eph;
  carnet_buf invite_id = {0};
  char text[CARNET_MSG_TEXT_BYTES_MAX];
  int rc;

  /* The magic and the version come first and are read before anything
   * else: the rest of the message may differ in another version, and the
   * answer to a version mismatch must not depend on it. */
  if (f.len < sizeof magic || memcmp(f.base, magic, sizeof magic) != 0)
    return FAIL(hs, CARNET_EPROTO, "the peer is not a Carnet replica (bad handshake magic)");
  rc = carnet__mp_init(&m, f.base, f.len);
  if (rc) return FAIL(hs, rc, "out of memory");
  m.off = sizeof magic;
  if (!get_uint(&m, &version)) {
    rc = MP_BAD(hs, "version");
    goto done;
  }
  if (version != hs->version) {
    snprintf(text, sizeof text,
             "protocol version %" PRIu64 " not supported, this replica speaks %u: upgrade", version,
             (unsigned)hs->version);
    send_error(out, CARNET_EVERSION, text);
    rc = FAIL(hs, CARNET_EVERSION,
              "the peer speaks protocol version %" PRIu64 ", this replica speaks %u: upgrade %s",
              version, (unsigned)hs->version, version > hs->version ? "this replica" : "the peer");
    goto done;
  }
  if (!get_bin(&m, CARNET_TEAM_BYTES, &team) || !get_bin(&m, crypto_kx_PUBLICKEYBYTES, &eph)) {
    rc = MP_BAD(hs, "team id or ephemeral key");
    goto done;
  }
  if (!carnet__mp_nil(&m) && !get_bin_upto(&m, CARNET_HS_INVITE_ID_BYTES_MAX, &invite_id)) {
    rc = MP_BAD(hs, "invite id");
    goto done;
  }
  if (!carnet__mp_done(&m)) {
    rc = MP_BAD(hs, "trailing bytes");
    goto done;
  }
  if (sodium_memcmp(team, hs->team_id, CARNET_TEAM_BYTES) != 0) {
    send_error(out, CARNET_EPERM, "this replica belongs to another team");
    rc = FAIL(hs, CARNET_EPERM, "the peer belongs to another team");
    goto done;
  }
  if (invite_id.len) {
    rc = hs->invite_secret ? hs->invite_secret(hs->ctx, invite_id.base, invite_id.len, hs->secret)
                           : CARNET_ENOTFOUND;
    if (rc == CARNET_ENOTFOUND || rc == CARNET_EPERM || rc > 0) {
      send_error(out, CARNET_EPERM, "unknown, used or expired invite: ask for a new invite");
      rc = FAIL(hs, CARNET_EPERM, "the peer presented an unknown, used or expired invite");
      goto done;
    }
    if (rc) {
      rc = FAIL(hs, rc, "cannot look the invite up: %s", carnet_error_message(rc));
      goto done;
    }
    hs->have_secret = true;
    memcpy(hs->peer.invite_id, invite_id.base, invite_id.len);
    hs->peer.invite_id_len = invite_id.len;
  }
  if (crypto_kx_server_session_keys(hs->kx_rx, hs->kx_tx, hs->eph_pk, hs->eph_sk, eph) != 0) {
    rc = FAIL(hs, CARNET_EPROTO, "the peer's ephemeral key is invalid");
    goto done;
  }
  if ((rc = tr_add_header(hs, f.len)) != 0 || (rc = tr_add(hs, f.base, f.len)) != 0) goto done;
  if ((rc = send_msg2(hs, out)) != 0) goto done;
  hs->state = HS_WAIT3;

done:
  carnet__mp_destroy(&m);
  return rc;
}

static int on_msg2(carnet__hs *hs, carnet_buf f, carnet__obuf *out) {
  carnet__mp m;
  uint64_t version, rid;
  const uint8_t *eph, *pk, *sig;
  size_t sig_at;
  char hex[65];
  int rc = peer_error(hs, f);

  if (rc != 1) return rc;
  rc = carnet__mp_init(&m, f.base, f.len);
  if (rc) return FAIL(hs, rc, "out of memory");
  if (!get_uint(&m, &version)) {
    rc = MP_BAD(hs, "version");
    goto done;
  }
  if (version != hs->version) {
    rc = FAIL(hs, CARNET_EVERSION,
              "the peer answered with protocol version %" PRIu64 ", this replica speaks %u",
              version, (unsigned)hs->version);
    goto done;
  }
  if (!get_bin(&m, crypto_kx_PUBLICKEYBYTES, &eph) ||
      !get_bin(&m, crypto_sign_PUBLICKEYBYTES, &pk) || !get_uint(&m, &rid) ||
      !get_bin_at(&m, crypto_sign_BYTES, &sig_at, &sig) || !carnet__mp_done(&m)) {
    rc = MP_BAD(hs, "message 2");
    goto done;
  }
  /* H1: the key first. */
  hex32(pk, hex);
  if (hs->have_invite) {
    if (sodium_memcmp(pk, hs->invite.inviter_pk, 32) != 0) {
      send_error(out, CARNET_EPERM, "this is not the replica that made the invite");
      rc = FAIL(hs, CARNET_EPERM,
                "the peer's key %s is not the inviter's key from the invite: check the address",
                hex);
      goto done;
    }
  } else {
    rc = check_trust(hs, pk);
    if (rc == 1) {
      send_error(out, CARNET_EPERM, "your key is not trusted by this replica");
      rc = FAIL(hs, CARNET_EPERM, "the peer's key %s is not in this replica's trust list", hex);
      goto done;
    }
    if (rc) {
      rc = FAIL(hs, rc, "cannot check the peer's key: %s", carnet_error_message(rc));
      goto done;
    }
  }
  if ((rc = tr_add_header(hs, f.len)) != 0 || (rc = tr_add(hs, f.base, sig_at)) != 0) goto done;
  if (!verify_th(hs, LABEL_RESP, sig, pk)) {
    rc = FAIL(hs, CARNET_EPROTO, "the peer's handshake signature is invalid");
    goto done;
  }
  if ((rc = tr_add(hs, (const uint8_t *)f.base + sig_at, f.len - sig_at)) != 0) goto done;
  if (crypto_kx_client_session_keys(hs->kx_rx, hs->kx_tx, hs->eph_pk, hs->eph_sk, eph) != 0) {
    rc = FAIL(hs, CARNET_EPROTO, "the peer's ephemeral key is invalid");
    goto done;
  }
  memcpy(hs->peer.static_pk, pk, 32);
  hs->peer.replica_id = rid;
  if (hs->have_invite) {
    hs->peer.joined = true;
    memcpy(hs->peer.invite_id, hs->invite.id, sizeof hs->invite.id);
    hs->peer.invite_id_len = sizeof hs->invite.id;
  }
  if ((rc = send_msg3(hs, out)) != 0) goto done;
  derive_keys(hs);
  hs->state = HS_DONE;

done:
  carnet__mp_destroy(&m);
  return rc;
}

/* Tell a refused initiator why, as the first frame of our encrypted
 * direction, then wipe the keys. Best effort: a full buffer just drops it. */
static void seal_refusal(carnet__hs *hs, carnet__obuf *out) {
  static const char text[] = "this replica does not trust your key: ask its owner for an invite "
                             "('carnet invite', then 'carnet join TOKEN' here) or to trust it "
                             "with 'carnet peer trust'";
  carnet__channel ch;
  carnet__channel_init(&ch, hs->tx_key, hs->rx_key);
  carnet__msg m = {.type = CARNET_MSG_ERROR, .code = CARNET_EPERM, .text = {text, sizeof text - 1}};
  (void)carnet__channel_send(&ch, &m, out);
  carnet__channel_free(&ch);
  sodium_memzero(hs->tx_key, sizeof hs->tx_key);
  sodium_memzero(hs->rx_key, sizeof hs->rx_key);
}

static int on_msg3(carnet__hs *hs, carnet_buf f, carnet__obuf *out) {
  carnet__mp m;
  uint64_t rid;
  const uint8_t *pk, *sig, *mac = NULL;
  size_t sig_at, mac_at = 0;
  uint8_t th[TH_BYTES];
  char hex[65];
  bool trusted;
  int rc = peer_error(hs, f);

  if (rc != 1) return rc;
  rc = carnet__mp_init(&m, f.base, f.len);
  if (rc) return FAIL(hs, rc, "out of memory");
  if (!get_bin(&m, crypto_sign_PUBLICKEYBYTES, &pk) || !get_uint(&m, &rid) ||
      !get_bin_at(&m, crypto_sign_BYTES, &sig_at, &sig)) {
    rc = MP_BAD(hs, "message 3");
    goto done;
  }
  mac_at = m.off;
  if (!carnet__mp_nil(&m) && !get_bin_at(&m, crypto_auth_BYTES, &mac_at, &mac)) {
    rc = MP_BAD(hs, "join MAC");
    goto done;
  }
  if (!carnet__mp_done(&m)) {
    rc = MP_BAD(hs, "trailing bytes");
    goto done;
  }
  /* H1: the key first. An unknown key goes on only towards a join. */
  hex32(pk, hex);
  rc = check_trust(hs, pk);
  if (rc < 0) {
    rc = FAIL(hs, rc, "cannot check the peer's key: %s", carnet_error_message(rc));
    goto done;
  }
  trusted = rc == 0;
  if (!trusted && !(hs->have_secret && mac)) {
    /* The initiator has already switched to the encrypted channel: it can
     * only be told why in an encrypted frame, so the keys are derived over
     * the whole transcript (nothing of the initiator is read past this
     * message either way, H1). */
    if (tr_add_header(hs, f.len) == 0 && tr_add(hs, f.base, f.len) == 0) {
      derive_keys(hs);
      seal_refusal(hs, out);
    }
    rc = FAIL(hs, CARNET_EPERM,
              "the peer's key %s is not in this replica's trust list (invite it first)", hex);
    goto done;
  }
  if (mac && !hs->have_secret) {
    rc = FAIL(hs, CARNET_EPROTO, "the peer sent a join MAC without an invite");
    goto done;
  }
  if ((rc = tr_add_header(hs, f.len)) != 0 || (rc = tr_add(hs, f.base, sig_at)) != 0) goto done;
  if (!verify_th(hs, LABEL_INIT, sig, pk)) {
    rc = FAIL(hs, CARNET_EPROTO, "the peer's handshake signature is invalid");
    goto done;
  }
  if ((rc = tr_add(hs, (const uint8_t *)f.base + sig_at, mac_at - sig_at)) != 0) goto done;
  if (mac) {
    tr_hash(hs, th);
    if (crypto_auth_verify(mac, th, sizeof th, hs->secret) != 0) {
      rc = FAIL(hs, CARNET_EPERM,
                "the peer's invite secret is wrong (key %s): it must ask for a new invite", hex);
      goto done;
    }
    hs->peer.joined = true;
  }
  if ((rc = tr_add(hs, (const uint8_t *)f.base + mac_at, f.len - mac_at)) != 0) goto done;
  memcpy(hs->peer.static_pk, pk, 32);
  hs->peer.replica_id = rid;
  if (!hs->peer.joined) hs->peer.invite_id_len = 0;
  derive_keys(hs);
  hs->state = HS_DONE;
  rc = 0;

done:
  carnet__mp_destroy(&m);
  return rc;
}

/* --- API -------------------------------------------------------------------- */

int carnet__hs_init(carnet__hs *hs, carnet__hs_role role, const carnet__hs_config *cfg,
                    uint64_t now_ms, carnet__obuf *out) {
  uint8_t seed[crypto_kx_SEEDBYTES];

  memset(hs, 0, sizeof *hs);
  hs->role = role;
  hs->started_ms = now_ms;
  carnet__frame_reader_init(&hs->rd, CARNET_HANDSHAKE_MSG_BYTES_MAX);
  if (sodium_init() < 0) return FAIL(hs, CARNET_ENOMEM, "libsodium cannot start");
  if ((role != CARNET_HS_INITIATOR && role != CARNET_HS_RESPONDER) || cfg->sign_pk == NULL ||
      cfg->sign == NULL || (role == CARNET_HS_RESPONDER && cfg->invite != NULL))
    return FAIL(hs, CARNET_EMISUSE, "handshake: bad configuration");
  hs->version = cfg->version ? cfg->version : CARNET_PROTOCOL_VERSION;
  hs->replica_id = cfg->replica_id;
  memcpy(hs->team_id, cfg->team_id, sizeof hs->team_id);
  memcpy(hs->sign_pk, cfg->sign_pk, sizeof hs->sign_pk);
  hs->sign = cfg->sign;
  hs->trusted = cfg->trusted;
  hs->invite_secret = cfg->invite_secret;
  hs->ctx = cfg->ctx;
  if (cfg->invite) {
    hs->have_invite = true;
    hs->invite = *cfg->invite;
  }
  if (cfg->env && cfg->env->random)
    cfg->env->random(cfg->env->ctx, seed, sizeof seed);
  else
    randombytes_buf(seed, sizeof seed);
  crypto_kx_seed_keypair(hs->eph_pk, hs->eph_sk, seed);
  sodium_memzero(seed, sizeof seed);
  if (role == CARNET_HS_RESPONDER) {
    hs->state = HS_WAIT1;
    return 0;
  }
  hs->state = HS_WAIT2;
  return send_msg1(hs, out);
}

int carnet__hs_feed(carnet__hs *hs, const uint8_t **data, size_t *len, carnet__obuf *out) {
  carnet_buf f;
  int rc;

  if (hs->state == HS_FAILED) return hs->err;
  /* H3: stop at the end of the last handshake frame. */
  while (hs->state != HS_DONE && *len > 0) {
    rc = carnet__frame_read(&hs->rd, data, len, &f);
    if (rc < 0) {
      if (rc == CARNET_EPROTO)
        return FAIL(hs, rc, "handshake frame empty or over %u bytes (H5)",
                    CARNET_HANDSHAKE_MSG_BYTES_MAX);
      return FAIL(hs, rc, "out of memory");
    }
    if (rc == 0) break;
    switch (hs->state) {
    case HS_WAIT1:
      rc = on_msg1(hs, f, out);
      break;
    case HS_WAIT2:
      rc = on_msg2(hs, f, out);
      break;
    default:
      rc = on_msg3(hs, f, out);
      break;
    }
    if (rc) return rc;
  }
  if (hs->state == HS_DONE) carnet__frame_reader_free(&hs->rd);
  return 0;
}

int carnet__hs_eof(carnet__hs *hs) {
  if (hs->state == HS_DONE || hs->state == HS_FAILED) return hs->err;
  if (hs->role == CARNET_HS_INITIATOR)
    return FAIL(hs, CARNET_EPROTO,
                "the peer closed the connection during the handshake (is it a Carnet replica?)");
  return FAIL(hs, CARNET_EPROTO, "the peer closed the connection during the handshake");
}

int carnet__hs_tick(carnet__hs *hs, uint64_t now_ms) {
  if (hs->state == HS_DONE || hs->state == HS_FAILED) return hs->err;
  /* A clock that went back never expires the handshake early. */
  if (now_ms >= hs->started_ms && now_ms - hs->started_ms >= CARNET_HANDSHAKE_TIMEOUT_MS)
    return FAIL(hs, CARNET_ELIMIT, "the handshake did not finish within %u ms",
                CARNET_HANDSHAKE_TIMEOUT_MS);
  return 0;
}

uint64_t carnet__hs_deadline_ms(const carnet__hs *hs) {
  return hs->started_ms + CARNET_HANDSHAKE_TIMEOUT_MS;
}

bool carnet__hs_done(const carnet__hs *hs) {
  return hs->state == HS_DONE;
}

const carnet__hs_peer *carnet__hs_peer_info(const carnet__hs *hs) {
  return hs->state == HS_DONE ? &hs->peer : NULL;
}

const char *carnet__hs_errmsg(const carnet__hs *hs) {
  return hs->errmsg;
}

void carnet__hs_free(carnet__hs *hs) {
  if (hs == NULL) return;
  wipe_secrets(hs);
  carnet__frame_reader_free(&hs->rd);
  sodium_memzero(hs->transcript, sizeof hs->transcript);
}
