/* Fuzz target: one side of the handshake fed hostile bytes.
 *
 * The first input byte picks the side and its situation:
 *   mode 0  responder that trusts A          mode 1  initiator that trusts B
 *   mode 2  responder with an open invite     mode 3  initiator joining with
 *           (trusts nobody)                           B's invite
 * and the chunk size; the rest is what the peer "sent". Identities, team,
 * invite and ephemeral keys are fixed, so a real handshake between A and B
 * (run once, below) gives reference bytes: what the side under test receives
 * and sends in an honest run.
 *
 * Invariants checked: the side fails only with CARNET_EPROTO, CARNET_EPERM,
 * CARNET_EVERSION or CARNET_EBUSY (a busy refusal: replica/node.c A4), with
 * a detail; it never consumes more than it is given;
 * and it completes only when the bytes it consumed are exactly the honest
 * peer's bytes, having sent exactly the honest bytes and derived the honest
 * keys. Forging a completion would take a signature (or an invite MAC) the
 * fuzzer does not have, so any other completion is a bug (H1, H2). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carnet/error.h"
#include "protocol/handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz_side {
  uint8_t pk[32], sk[64];
  uint64_t rid;
  const uint8_t *trusted; /* the one key it trusts, or NULL */
  uint64_t rng;           /* its "random" source, for the ephemeral key */
} fz_side;

typedef struct fz_world {
  fz_side a, b; /* A initiates, B responds */
  carnet__invite inv;
  uint8_t team[16];
} fz_world;

/* What the callbacks see: the side and its world. */
typedef struct fz_ctx {
  fz_side *side;
  const fz_world *w;
} fz_ctx;

static int fz_sign(void *ctx, const void *msg, size_t len, uint8_t sig[64]) {
  const fz_side *s = ((fz_ctx *)ctx)->side;
  crypto_sign_detached(sig, NULL, msg, len, s->sk);
  return 0;
}

static int fz_trusted(void *ctx, const uint8_t pk[32]) {
  const fz_side *s = ((fz_ctx *)ctx)->side;
  return s->trusted && memcmp(s->trusted, pk, 32) == 0 ? 0 : CARNET_EPERM;
}

static int fz_invite(void *ctx, const uint8_t *id, size_t n, uint8_t secret[32]) {
  const fz_world *w = ((fz_ctx *)ctx)->w;
  if (n != sizeof w->inv.id || memcmp(id, w->inv.id, n) != 0) return CARNET_ENOTFOUND;
  memcpy(secret, w->inv.secret, 32);
  return 0;
}

static void fz_random(void *ctx, void *buf, size_t len) {
  uint64_t *s = ctx;
  uint8_t *p = buf;
  for (size_t i = 0; i < len; i++) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    p[i] = (uint8_t)(z ^ (z >> 31));
  }
}

static void fz_world_init(fz_world *w, int mode) {
  uint8_t seed[32];
  memset(w, 0, sizeof *w);
  memset(seed, 0xa1, sizeof seed);
  crypto_sign_seed_keypair(w->a.pk, w->a.sk, seed);
  memset(seed, 0xb2, sizeof seed);
  crypto_sign_seed_keypair(w->b.pk, w->b.sk, seed);
  w->a.rid = 0x1111222233334444ull;
  w->b.rid = 0x5555666677778888ull;
  w->a.rng = 1;
  w->b.rng = 2;
  memset(w->team, 0x7e, sizeof w->team);
  memcpy(w->inv.address, "b.example:7420", sizeof "b.example:7420");
  memcpy(w->inv.inviter_pk, w->b.pk, 32);
  memset(w->inv.id, 0x11, sizeof w->inv.id);
  memset(w->inv.secret, 0x22, sizeof w->inv.secret);
  w->inv.expiry_ms = 1;
  memcpy(w->inv.team_id, w->team, sizeof w->team);
  if (mode < 2) { /* they trust each other; no invite */
    w->a.trusted = w->b.pk;
    w->b.trusted = w->a.pk;
  }
}

/* Starts side A (initiator) or B (responder) of world `w` for `mode`. */
static int fz_start(carnet__hs *hs, fz_world *w, int mode, bool initiator, fz_ctx *ctx,
                    carnet_env *env, carnet__obuf *out) {
  fz_side *s = initiator ? &w->a : &w->b;
  carnet__hs_config cfg = {0};
  ctx->side = s;
  ctx->w = w;
  env->now_ms = NULL;
  env->random = fz_random;
  env->log = NULL;
  env->ctx = &s->rng;
  cfg.sign_pk = s->pk;
  cfg.sign = fz_sign;
  cfg.replica_id = s->rid;
  memcpy(cfg.team_id, w->team, sizeof cfg.team_id);
  cfg.trusted = fz_trusted;
  cfg.invite = initiator && mode >= 2 ? &w->inv : NULL;
  /* Only the join modes have an outstanding invite: otherwise the honest
   * join bytes would also complete a mode 0 responder, a second honest
   * transcript the check below does not know. */
  cfg.invite_secret = !initiator && mode >= 2 ? fz_invite : NULL;
  cfg.ctx = ctx;
  cfg.env = env;
  return carnet__hs_init(hs, initiator ? CARNET_HS_INITIATOR : CARNET_HS_RESPONDER, &cfg, 0, out);
}

typedef struct fz_ref {
  uint8_t in[2 * 1028], out[2 * 1028]; /* what the side under test reads / sends */
  size_t in_len, out_len;
  uint8_t tx[32], rx[32];
} fz_ref;

/* The honest run for `mode`: A and B handshake; record the side under test
 * (B for even modes, A for odd ones). */
static void fz_reference(int mode, fz_ref *ref) {
  fz_world w;
  fz_ctx ca, cb;
  carnet_env ea, eb;
  carnet__hs ha, hb;
  carnet__obuf oa, ob;
  bool test_b = (mode & 1) == 0;
  memset(ref, 0, sizeof *ref);
  fz_world_init(&w, mode);
  carnet__obuf_init(&oa);
  carnet__obuf_init(&ob);
  if (fz_start(&ha, &w, mode, true, &ca, &ea, &oa) != 0) abort();
  if (fz_start(&hb, &w, mode, false, &cb, &eb, &ob) != 0) abort();
  for (int round = 0; round < 4; round++) {
    const uint8_t *p = oa.base;
    size_t n = oa.len;
    if (test_b)
      memcpy(ref->in + ref->in_len, p, n), ref->in_len += n;
    else
      memcpy(ref->out + ref->out_len, p, n), ref->out_len += n;
    if (carnet__hs_feed(&hb, &p, &n, &ob) != 0 || n != 0) abort();
    oa.len = 0;
    p = ob.base;
    n = ob.len;
    if (test_b)
      memcpy(ref->out + ref->out_len, p, n), ref->out_len += n;
    else
      memcpy(ref->in + ref->in_len, p, n), ref->in_len += n;
    if (carnet__hs_feed(&ha, &p, &n, &oa) != 0 || n != 0) abort();
    ob.len = 0;
  }
  if (!carnet__hs_done(&ha) || !carnet__hs_done(&hb)) abort();
  memcpy(ref->tx, test_b ? hb.tx_key : ha.tx_key, 32);
  memcpy(ref->rx, test_b ? hb.rx_key : ha.rx_key, 32);
  carnet__hs_free(&ha);
  carnet__hs_free(&hb);
  carnet__obuf_free(&oa);
  carnet__obuf_free(&ob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The reference runs are pure functions of the mode: computed once. */
  static fz_ref refs[4];
  static bool have_refs;
  fz_world w;
  fz_ctx ctx;
  carnet_env env;
  carnet__hs hs;
  carnet__obuf out;
  size_t off = 0;
  int rc = 0;

  if (sodium_init() < 0) abort();
  if (!have_refs) {
    for (int m = 0; m < 4; m++)
      fz_reference(m, &refs[m]);
    have_refs = true;
  }
  if (size < 1) return 0;
  int mode = data[0] & 3;
  size_t chunk = (size_t)(data[0] >> 2) + 1;
  bool initiator = mode & 1;
  const fz_ref *ref = &refs[mode];
  data++;
  size--;

  fz_world_init(&w, mode);
  carnet__obuf_init(&out);
  if (fz_start(&hs, &w, mode, initiator, &ctx, &env, &out) != 0) abort();
  while (off < size && !carnet__hs_done(&hs)) {
    size_t n = size - off < chunk ? size - off : chunk;
    const uint8_t *p = data + off;
    size_t left = n;
    rc = carnet__hs_feed(&hs, &p, &left, &out);
    if (left > n) abort();
    off += n - left;
    if (rc) break;
    if (left && !carnet__hs_done(&hs)) abort(); /* only a finished handshake leaves bytes */
  }
  if (rc && rc != CARNET_EPROTO && rc != CARNET_EPERM && rc != CARNET_EVERSION &&
      rc != CARNET_EBUSY)
    abort();
  if (rc && carnet__hs_errmsg(&hs)[0] == '\0') abort();
  if (carnet__hs_done(&hs)) {
    /* No forged completion. */
    if (off != ref->in_len || memcmp(data, ref->in, off) != 0) abort();
    if (out.len != ref->out_len || memcmp(out.base, ref->out, out.len) != 0) abort();
    if (memcmp(hs.tx_key, ref->tx, 32) != 0 || memcmp(hs.rx_key, ref->rx, 32) != 0) abort();
    const carnet__hs_peer *peer = carnet__hs_peer_info(&hs);
    if (memcmp(peer->static_pk, initiator ? w.b.pk : w.a.pk, 32) != 0) abort();
    if (peer->joined != (mode >= 2)) abort();
  }
  carnet__hs_free(&hs);
  carnet__obuf_free(&out);
  return 0;
}
