/* tests/protocol/test_handshake.c - the handshake (protocol/handshake.h) and
 * the encrypted channel (protocol/channel.h), driven over in-memory pipes.
 *
 * Two sides, A (initiator) and B (responder), each with a seeded identity
 * and random source, so every run is the same. A side's `out` buffer is the
 * pipe towards the other: what it sent and the other has not read yet.
 *
 * Properties:
 * - two trusted sides agree, learn each other's key and replica id, and
 *   exchange messages both ways, whatever the chunking (one byte at a time);
 * - trust is checked as soon as a key is seen: an untrusted initiator is
 *   refused by the responder before any encrypted frame is read (the bytes
 *   stay unread in the pipe), an untrusted responder by the initiator, which
 *   tells it why;
 * - join: a valid invite lets an unknown key in and reports `joined` on both
 *   sides; a wrong secret, an unknown invite, a responder that is not the
 *   inviter are refused;
 * - a team or version mismatch is refused, the version one with
 *   CARNET_EVERSION and the text that says what to upgrade;
 * - changing any one byte of the handshake in transit never yields two
 *   sides that can talk;
 * - the channel refuses an altered, replayed, reordered, truncated frame,
 *   data after FINAL, FINAL on anything but BYE and BYE without FINAL;
 * - every handshake frame has a size limit and the handshake a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "carnet/error.h"
#include "protocol/channel.h"
#include "protocol/handshake.h"
#include "support/testenv.h"

/* --- Harness ---------------------------------------------------------------- */

typedef struct invite_slot {
  uint8_t id[CARNET_INVITE_ID_BYTES];
  uint8_t secret[32];
} invite_slot;

typedef struct side {
  const char *name;
  uint8_t pk[32], sk[64];
  uint64_t rid;
  uint8_t team[CARNET_TEAM_BYTES];
  const uint8_t *trust[4]; /* keys this side trusts */
  int ntrust;
  invite_slot invites[2]; /* responder: outstanding invites */
  int ninvites;
  tenv env;
  carnet_env ce;
  carnet__hs hs;
  bool hs_live;
  int hs_rc;
  carnet__channel ch;
  bool ch_live;
  carnet__obuf out;
} side;

typedef struct fx {
  side a, b;
} fx;

/* The signer: the side's key stays in the side, as the engine's does. */
static int sign_cb(void *ctx, const void *msg, size_t len, uint8_t sig[64]) {
  const side *s = ctx;
  crypto_sign_detached(sig, NULL, msg, len, s->sk);
  return 0;
}

static int trusted_cb(void *ctx, const uint8_t pk[32]) {
  side *s = ctx;
  for (int i = 0; i < s->ntrust; i++)
    if (memcmp(s->trust[i], pk, 32) == 0) return 0;
  return CARNET_EPERM;
}

static int invite_cb(void *ctx, const uint8_t *id, size_t n, uint8_t secret[32]) {
  side *s = ctx;
  for (int i = 0; i < s->ninvites; i++) {
    if (n == sizeof s->invites[i].id && memcmp(s->invites[i].id, id, n) == 0) {
      memcpy(secret, s->invites[i].secret, 32);
      return 0;
    }
  }
  return CARNET_ENOTFOUND;
}

static void side_init(side *s, const char *name, uint64_t seed) {
  uint8_t kseed[32];
  trng g;
  memset(s, 0, sizeof *s);
  s->name = name;
  trng_seed(&g, seed);
  trng_bytes(&g, kseed, sizeof kseed);
  crypto_sign_seed_keypair(s->pk, s->sk, kseed);
  s->rid = trng_next(&g);
  memset(s->team, 0x7e, sizeof s->team); /* the same team by default */
  tenv_init(&s->env, TENV_EPOCH_MS, seed * 1000 + 1);
  tenv_fill(&s->env, &s->ce);
  carnet__obuf_init(&s->out);
}

static void side_free(side *s) {
  if (s->hs_live) carnet__hs_free(&s->hs);
  if (s->ch_live) carnet__channel_free(&s->ch);
  carnet__obuf_free(&s->out);
}

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  side_init(&f->a, "A", 1);
  side_init(&f->b, "B", 2);
  /* They trust each other by default. */
  f->a.trust[f->a.ntrust++] = f->b.pk;
  f->b.trust[f->b.ntrust++] = f->a.pk;
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  side_free(&f->a);
  side_free(&f->b);
  free(f);
  return 0;
}

/* Starts a side's handshake; `inv` (initiator) joins with an invite;
 * `version` 0 = ours. */
static void start(side *s, carnet__hs_role role, const carnet__invite *inv, uint32_t version) {
  carnet__hs_config cfg = {0};
  cfg.sign_pk = s->pk;
  cfg.sign = sign_cb;
  cfg.replica_id = s->rid;
  memcpy(cfg.team_id, s->team, sizeof cfg.team_id);
  cfg.version = version;
  cfg.trusted = trusted_cb;
  cfg.invite = inv;
  cfg.invite_secret = role == CARNET_HS_RESPONDER ? invite_cb : NULL;
  cfg.ctx = s;
  cfg.env = &s->ce;
  s->hs_live = true;
  s->hs_rc = carnet__hs_init(&s->hs, role, &cfg, s->env.now_ms, &s->out);
  assert_int_equal(s->hs_rc, 0);
}

/* Feeds `dst` at most `chunk` bytes of what `src` sent (0 = all). Returns
 * the bytes consumed. */
static size_t feed_hs(side *dst, side *src, size_t chunk) {
  if (dst->hs_rc) return 0;
  size_t n = src->out.len;
  if (chunk && n > chunk) n = chunk;
  const uint8_t *p = src->out.base;
  size_t left = n;
  dst->hs_rc = carnet__hs_feed(&dst->hs, &p, &left, &dst->out);
  assert_true(left <= n);
  carnet__obuf_consume(&src->out, n - left);
  return n - left;
}

/* Runs both handshakes until neither makes progress. */
static void pump(fx *f, size_t chunk) {
  for (int rounds = 0; rounds < 100000; rounds++) {
    size_t moved = feed_hs(&f->b, &f->a, chunk) + feed_hs(&f->a, &f->b, chunk);
    if (moved == 0) return;
  }
  fail_msg("handshake pump does not settle");
}

static void open_channel(side *s) {
  assert_true(carnet__hs_done(&s->hs));
  s->ch_live = true;
  assert_int_equal(carnet__channel_init_hs(&s->ch, &s->hs), 0);
}

static void send_msg(side *s, const carnet__msg *m) {
  assert_int_equal(carnet__channel_send(&s->ch, m, &s->out), 0);
}

/* Reads one message `dst` gets from `src`'s pipe (all of it fed at once). */
static int recv_msg(side *dst, side *src, carnet__msg *m) {
  const uint8_t *p = src->out.base;
  size_t n = src->out.len;
  int rc = carnet__channel_recv(&dst->ch, &p, &n, m);
  carnet__obuf_consume(&src->out, src->out.len - n);
  return rc;
}

static void expect_msg(side *dst, side *src, const carnet__msg *want) {
  carnet__msg m;
  int rc = recv_msg(dst, src, &m);
  if (rc != 1) fail_msg("%s: recv %d: %s", dst->name, rc, carnet__channel_errmsg(&dst->ch));
  assert_int_equal(m.type, want->type);
  assert_true(m.since == want->since && m.after == want->after && m.upto == want->upto);
  assert_int_equal(m.bytes.len, want->bytes.len);
  if (want->bytes.len) assert_memory_equal(m.bytes.base, want->bytes.base, want->bytes.len);
}

static void errmsg_has(const char *errmsg, const char *want) {
  if (strstr(errmsg, want) == NULL) fail_msg("error \"%s\" does not say \"%s\"", errmsg, want);
}

/* Both sides done, both channels open, one message each way. */
static void check_talk(fx *f) {
  open_channel(&f->a);
  open_channel(&f->b);
  carnet__msg ping = {.type = CARNET_MSG_PING};
  carnet__msg ack = {.type = CARNET_MSG_ACK, .upto = 42};
  send_msg(&f->a, &ping);
  send_msg(&f->b, &ack);
  expect_msg(&f->b, &f->a, &ping);
  expect_msg(&f->a, &f->b, &ack);
}

/* --- Trusted sides -------------------------------------------------------- */

static void full_session(fx *f, size_t chunk) {
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, chunk);
  assert_int_equal(f->a.hs_rc, 0);
  assert_int_equal(f->b.hs_rc, 0);
  assert_true(carnet__hs_done(&f->a.hs) && carnet__hs_done(&f->b.hs));
  const carnet__hs_peer *pa = carnet__hs_peer_info(&f->a.hs), *pb = carnet__hs_peer_info(&f->b.hs);
  assert_memory_equal(pa->static_pk, f->b.pk, 32);
  assert_memory_equal(pb->static_pk, f->a.pk, 32);
  assert_true(pa->replica_id == f->b.rid && pb->replica_id == f->a.rid);
  assert_false(pa->joined || pb->joined);
  /* The keys agree, crosswise. */
  assert_memory_equal(f->a.hs.tx_key, f->b.hs.rx_key, CARNET_HS_KEY_BYTES);
  assert_memory_equal(f->a.hs.rx_key, f->b.hs.tx_key, CARNET_HS_KEY_BYTES);
  assert_memory_not_equal(f->a.hs.tx_key, f->a.hs.rx_key, CARNET_HS_KEY_BYTES);
  open_channel(&f->a);
  open_channel(&f->b);
  /* Channel init took the keys out of the handshakes. */
  assert_true(sodium_is_zero(f->a.hs.tx_key, CARNET_HS_KEY_BYTES));

  uint8_t *big = malloc(CARNET_BATCH_BYTES_MAX);
  assert_non_null(big);
  trng g;
  trng_seed(&g, 5);
  trng_bytes(&g, big, CARNET_BATCH_BYTES_MAX);
  carnet__msg a_msgs[] = {
      {.type = CARNET_MSG_REQ, .since = 3, .after = 5},
      {.type = CARNET_MSG_BATCH, .bytes = {big, 1000}},
      {.type = CARNET_MSG_PING},
      {.type = CARNET_MSG_BATCH, .bytes = {big, CARNET_BATCH_BYTES_MAX}},
      {.type = CARNET_MSG_BYE},
  };
  carnet__msg b_msgs[] = {
      {.type = CARNET_MSG_REQ, .since = 0, .after = 0},
      {.type = CARNET_MSG_ACK, .upto = 7},
      {.type = CARNET_MSG_CERT, .bytes = {big + 9, 4096}},
      {.type = CARNET_MSG_BYE},
  };
  for (size_t i = 0; i < sizeof a_msgs / sizeof a_msgs[0]; i++)
    send_msg(&f->a, &a_msgs[i]);
  for (size_t i = 0; i < sizeof b_msgs / sizeof b_msgs[0]; i++)
    send_msg(&f->b, &b_msgs[i]);
  /* Nothing goes after BYE. */
  assert_int_equal(carnet__channel_send(&f->a.ch, &a_msgs[2], &f->a.out), CARNET_EMISUSE);
  /* Received in chunks of `chunk` bytes (up to the first few kilobytes, then
   * the rest at once so the 4 MiB batch does not take forever). */
  size_t got = 0;
  while (got < sizeof a_msgs / sizeof a_msgs[0]) {
    size_t n = f->a.out.len;
    if (chunk && n > chunk && f->a.out.len > CARNET_BATCH_BYTES_MAX / 2 - 1 && got < 3) n = chunk;
    const uint8_t *p = f->a.out.base;
    size_t left = n;
    carnet__msg m;
    int rc;
    while ((rc = carnet__channel_recv(&f->b.ch, &p, &left, &m)) == 1) {
      assert_int_equal(m.type, a_msgs[got].type);
      assert_int_equal(m.bytes.len, a_msgs[got].bytes.len);
      if (m.bytes.len) assert_memory_equal(m.bytes.base, a_msgs[got].bytes.base, m.bytes.len);
      assert_true(m.since == a_msgs[got].since && m.after == a_msgs[got].after);
      got++;
    }
    assert_int_equal(rc, 0);
    carnet__obuf_consume(&f->a.out, n - left);
  }
  for (size_t i = 0; i < sizeof b_msgs / sizeof b_msgs[0]; i++)
    expect_msg(&f->a, &f->b, &b_msgs[i]);
  /* Both streams ended with FINAL: a clean end. */
  assert_int_equal(carnet__channel_eof(&f->a.ch), 0);
  assert_int_equal(carnet__channel_eof(&f->b.ch), 0);
  free(big);
}

static void test_trusted_sides_complete(void **state) {
  full_session(*state, 0);
}

static void test_trusted_sides_one_byte_at_a_time(void **state) {
  full_session(*state, 1);
}

/* The initiator may send its first encrypted frame right behind message (3):
 * the responder's handshake stops at the end of (3) and leaves it. */
static void test_pipelined_first_frame(void **state) {
  fx *f = *state;
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  feed_hs(&f->b, &f->a, 0); /* (1) */
  feed_hs(&f->a, &f->b, 0); /* (2) -> A done, (3) queued */
  assert_true(carnet__hs_done(&f->a.hs));
  open_channel(&f->a);
  carnet__msg req = {.type = CARNET_MSG_REQ, .since = 1, .after = 2};
  size_t before = f->a.out.len;
  send_msg(&f->a, &req);
  size_t frame = f->a.out.len - before;
  feed_hs(&f->b, &f->a, 0); /* (3) and the REQ, in one read */
  assert_int_equal(f->b.hs_rc, 0);
  assert_true(carnet__hs_done(&f->b.hs));
  assert_int_equal(f->a.out.len, frame); /* H3 */
  open_channel(&f->b);
  expect_msg(&f->b, &f->a, &req);
}

/* --- Trust -------------------------------------------------------------------- */

static void test_untrusted_initiator_refused(void **state) {
  fx *f = *state;
  char hex[65];
  f->b.ntrust = 0; /* B does not know A */
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  feed_hs(&f->b, &f->a, 0);
  feed_hs(&f->a, &f->b, 0);
  assert_true(carnet__hs_done(&f->a.hs)); /* A cannot know yet */
  open_channel(&f->a);
  carnet__msg req = {.type = CARNET_MSG_REQ};
  size_t before = f->a.out.len;
  send_msg(&f->a, &req);
  size_t frame = f->a.out.len - before;
  feed_hs(&f->b, &f->a, 0);
  assert_int_equal(f->b.hs_rc, CARNET_EPERM);
  sodium_bin2hex(hex, sizeof hex, f->a.pk, 32);
  errmsg_has(carnet__hs_errmsg(&f->b.hs), "not in this replica's trust list");
  errmsg_has(carnet__hs_errmsg(&f->b.hs), hex);
  /* Not one byte of the encrypted frame was read; B answers with one sealed
   * ERROR saying why. */
  assert_int_equal(f->a.out.len, frame);
  assert_true(f->b.out.len > 0);
  /* Sticky. */
  const uint8_t *p = f->a.out.base;
  size_t n = f->a.out.len;
  assert_int_equal(carnet__hs_feed(&f->b.hs, &p, &n, &f->b.out), CARNET_EPERM);
  assert_int_equal(n, frame);
  assert_null(carnet__hs_peer_info(&f->b.hs));
  /* A opens B's first encrypted frame: the refusal, with the reason. */
  const uint8_t *q = f->b.out.base;
  size_t qn = f->b.out.len;
  carnet__msg m;
  assert_int_equal(carnet__channel_recv(&f->a.ch, &q, &qn, &m), 1);
  assert_int_equal(m.type, CARNET_MSG_ERROR);
  assert_int_equal(m.code, CARNET_EPERM);
  char text[600];
  snprintf(text, sizeof text, "%.*s", (int)m.text.len, (const char *)m.text.base);
  errmsg_has(text, "does not trust your key");
  assert_int_equal(qn, 0);
}

static void test_untrusted_responder_refused(void **state) {
  fx *f = *state;
  f->a.ntrust = 0; /* A does not know B */
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  assert_int_equal(f->a.hs_rc, CARNET_EPERM);
  errmsg_has(carnet__hs_errmsg(&f->a.hs), "not in this replica's trust list");
  /* A told B why instead of sending (3). */
  assert_int_equal(f->b.hs_rc, CARNET_EPERM);
  errmsg_has(carnet__hs_errmsg(&f->b.hs),
             "the peer refused the connection: your key is not trusted");
  assert_false(carnet__hs_done(&f->b.hs));
}

/* A trust callback that fails (a store error) fails the handshake with its
 * code, and is not mistaken for "untrusted". */
static int broken_trust(void *ctx, const uint8_t pk[32]) {
  (void)ctx;
  (void)pk;
  return CARNET_EIO;
}

static void test_trust_callback_error(void **state) {
  fx *f = *state;
  carnet__hs_config cfg = {
      .sign_pk = f->a.pk, .sign = sign_cb, .trusted = broken_trust, .ctx = &f->a};
  memcpy(cfg.team_id, f->a.team, sizeof cfg.team_id);
  f->a.hs_live = true;
  assert_int_equal(carnet__hs_init(&f->a.hs, CARNET_HS_INITIATOR, &cfg, 0, &f->a.out), 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  assert_int_equal(f->a.hs_rc, CARNET_EIO);
}

/* --- Join ----------------------------------------------------------------------- */

/* B invites; A, which knows nobody and has no team yet, joins. */
static void make_join(fx *f, carnet__invite *inv) {
  memset(inv, 0, sizeof *inv);
  strcpy(inv->address, "b.example:7420");
  memcpy(inv->inviter_pk, f->b.pk, 32);
  memset(inv->id, 0x11, sizeof inv->id);
  memset(inv->secret, 0x22, sizeof inv->secret);
  inv->expiry_ms = TENV_EPOCH_MS + 3600000;
  memcpy(inv->team_id, f->b.team, sizeof inv->team_id);
  memcpy(f->b.invites[0].id, inv->id, sizeof inv->id);
  memcpy(f->b.invites[0].secret, inv->secret, 32);
  f->b.ninvites = 1;
  f->a.ntrust = 0;
  f->b.ntrust = 0;
  memset(f->a.team, 0, sizeof f->a.team);
}

static void test_join_valid_invite(void **state) {
  fx *f = *state;
  carnet__invite inv;
  make_join(f, &inv);
  start(&f->a, CARNET_HS_INITIATOR, &inv, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  assert_int_equal(f->a.hs_rc, 0);
  assert_int_equal(f->b.hs_rc, 0);
  const carnet__hs_peer *pa = carnet__hs_peer_info(&f->a.hs), *pb = carnet__hs_peer_info(&f->b.hs);
  assert_true(pb->joined);
  assert_memory_equal(pb->static_pk, f->a.pk, 32);
  assert_int_equal(pb->invite_id_len, sizeof inv.id);
  assert_memory_equal(pb->invite_id, inv.id, sizeof inv.id);
  assert_true(pa->joined);
  assert_memory_equal(pa->static_pk, f->b.pk, 32);
  check_talk(f);
}

/* A trusted initiator that also presents a valid invite consumes it. */
static void test_join_when_already_trusted(void **state) {
  fx *f = *state;
  carnet__invite inv;
  make_join(f, &inv);
  f->b.trust[f->b.ntrust++] = f->a.pk;
  start(&f->a, CARNET_HS_INITIATOR, &inv, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  assert_int_equal(f->b.hs_rc, 0);
  assert_true(carnet__hs_peer_info(&f->b.hs)->joined);
  check_talk(f);
}

static void test_join_wrong_secret(void **state) {
  fx *f = *state;
  carnet__invite inv;
  make_join(f, &inv);
  inv.secret[31] ^= 1;
  start(&f->a, CARNET_HS_INITIATOR, &inv, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  assert_int_equal(f->b.hs_rc, CARNET_EPERM);
  errmsg_has(carnet__hs_errmsg(&f->b.hs), "invite secret is wrong");
  assert_int_equal(f->b.out.len, 0);
  /* A learns it from the closed connection. */
  open_channel(&f->a);
  assert_int_equal(carnet__channel_eof(&f->a.ch), CARNET_EPROTO);
}

static void test_join_unknown_invite(void **state) {
  fx *f = *state;
  carnet__invite inv;
  make_join(f, &inv);
  f->b.ninvites = 0; /* used, expired or never made */
  start(&f->a, CARNET_HS_INITIATOR, &inv, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  assert_int_equal(f->b.hs_rc, CARNET_EPERM);
  assert_int_equal(f->a.hs_rc, CARNET_EPERM);
  errmsg_has(carnet__hs_errmsg(&f->a.hs), "unknown, used or expired invite");
}

static void test_join_wrong_inviter(void **state) {
  fx *f = *state;
  carnet__invite inv;
  make_join(f, &inv);
  inv.inviter_pk[0] ^= 1; /* someone else answers at that address */
  start(&f->a, CARNET_HS_INITIATOR, &inv, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  assert_int_equal(f->a.hs_rc, CARNET_EPERM);
  errmsg_has(carnet__hs_errmsg(&f->a.hs), "not the inviter's key");
  assert_int_equal(f->b.hs_rc, CARNET_EPERM);
}

/* An unknown key without a join MAC is refused even when B has outstanding
 * invites. */
static void test_unknown_key_without_join(void **state) {
  fx *f = *state;
  carnet__invite inv;
  make_join(f, &inv);
  memcpy(f->a.team, f->b.team, sizeof f->a.team);
  f->a.trust[f->a.ntrust++] = f->b.pk;
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  assert_int_equal(f->b.hs_rc, CARNET_EPERM);
  errmsg_has(carnet__hs_errmsg(&f->b.hs), "trust list");
}

/* --- Team and version ---------------------------------------------------------- */

static void test_team_mismatch(void **state) {
  fx *f = *state;
  f->b.team[0] ^= 1;
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  assert_int_equal(f->b.hs_rc, CARNET_EPERM);
  errmsg_has(carnet__hs_errmsg(&f->b.hs), "another team");
  assert_int_equal(f->a.hs_rc, CARNET_EPERM);
  errmsg_has(carnet__hs_errmsg(&f->a.hs), "this replica belongs to another team");
}

static void test_version_mismatch(void **state) {
  fx *f = *state;
  char want[128];
  start(&f->a, CARNET_HS_INITIATOR, NULL, CARNET_PROTOCOL_VERSION + 1); /* a newer initiator */
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  assert_int_equal(f->b.hs_rc, CARNET_EVERSION);
  errmsg_has(carnet__hs_errmsg(&f->b.hs), "upgrade this replica");
  assert_int_equal(f->a.hs_rc, CARNET_EVERSION);
  snprintf(want, sizeof want, "protocol version %u not supported, this replica speaks %u: upgrade",
           CARNET_PROTOCOL_VERSION + 1, CARNET_PROTOCOL_VERSION);
  errmsg_has(carnet__hs_errmsg(&f->a.hs), want);
}

static void test_version_mismatch_older_initiator(void **state) {
  fx *f = *state;
  char want[128];
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, CARNET_PROTOCOL_VERSION + 1); /* a newer responder */
  pump(f, 0);
  assert_int_equal(f->b.hs_rc, CARNET_EVERSION);
  errmsg_has(carnet__hs_errmsg(&f->b.hs), "upgrade the peer");
  assert_int_equal(f->a.hs_rc, CARNET_EVERSION);
  snprintf(want, sizeof want, "protocol version %u not supported, this replica speaks %u: upgrade",
           CARNET_PROTOCOL_VERSION, CARNET_PROTOCOL_VERSION + 1);
  errmsg_has(carnet__hs_errmsg(&f->a.hs), want);
}

/* A build of protocol version 1 (no REVOKE message), 2 (no content
 * messages) or 3 (no KNOW: it would echo every relayed change,
 * docs/DESIGN-NOTES.md "No echo") and this one refuse each other in the
 * handshake, with which side to upgrade, rather than failing later on a
 * message one of them does not know. `va` and `vb` are the initiator's and
 * the responder's versions (0: ours); `b_says` and `a_says` what each
 * side's error must say. */
static void version_refused(fx *f, uint32_t va, uint32_t vb, const char *b_says,
                            const char *a_says) {
  start(&f->a, CARNET_HS_INITIATOR, NULL, va);
  start(&f->b, CARNET_HS_RESPONDER, NULL, vb);
  pump(f, 0);
  assert_int_equal(f->b.hs_rc, CARNET_EVERSION);
  errmsg_has(carnet__hs_errmsg(&f->b.hs), b_says);
  assert_int_equal(f->a.hs_rc, CARNET_EVERSION);
  errmsg_has(carnet__hs_errmsg(&f->a.hs), a_says);
}

static void test_version1_peer_refused(void **state) {
  assert_int_equal(CARNET_PROTOCOL_VERSION, 4);
  version_refused(*state, 1, 0, "upgrade the peer",
                  "protocol version 1 not supported, this replica speaks 4");
}

static void test_version2_peer_refused(void **state) {
  version_refused(*state, 0, 2, "upgrade this replica",
                  "protocol version 4 not supported, this replica speaks 2");
}

static void test_version3_peer_refused(void **state) {
  version_refused(*state, 3, 0, "upgrade the peer",
                  "protocol version 3 not supported, this replica speaks 4");
  assert_int_equal(CARNET_PROTOCOL_SEALED_MIN, 4); /* never a SEALED to a version 3 peer */
}

static void test_version3_responder_refused(void **state) {
  version_refused(*state, 0, 3, "upgrade this replica",
                  "protocol version 4 not supported, this replica speaks 3");
}

/* A node at its admission limits (replica/node.c A4) answers message (1)
 * with a busy refusal instead of message (2): the initiator fails with
 * CARNET_EBUSY and says so, rather than "closed during the handshake". */
static void test_busy_refusal(void **state) {
  fx *f = *state;
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  assert_int_equal(carnet__hs_refusal(&f->b.out, CARNET_EBUSY, CARNET_HS_BUSY_TEXT), 0);
  feed_hs(&f->a, &f->b, 0);
  assert_int_equal(f->a.hs_rc, CARNET_EBUSY);
  errmsg_has(carnet__hs_errmsg(&f->a.hs), "the peer is busy (too many connections)");
  assert_false(carnet__hs_done(&f->a.hs));
}

/* --- An active attacker on the handshake -------------------------------------- */

/* Flips byte `k` of handshake message `which` (1..3) in transit; returns
 * false when k is past the message. */
static bool run_tampered(int which, size_t k, uint8_t mask) {
  fx *f;
  bool in_range = true;
  fx_setup((void **)&f);
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  for (int step = 1; step <= 3; step++) {
    side *src = step == 2 ? &f->b : &f->a, *dst = step == 2 ? &f->a : &f->b;
    if (step == which) {
      if (k >= src->out.len)
        in_range = false;
      else
        src->out.base[k] ^= mask;
    }
    feed_hs(dst, src, 0);
    if (dst->hs_rc) break;
  }
  if (in_range && carnet__hs_done(&f->a.hs) && carnet__hs_done(&f->b.hs)) {
    /* Both think they are done: then they must not be able to talk. */
    open_channel(&f->a);
    open_channel(&f->b);
    carnet__msg ping = {.type = CARNET_MSG_PING}, m;
    send_msg(&f->a, &ping);
    assert_int_equal(recv_msg(&f->b, &f->a, &m), CARNET_EPROTO);
  }
  fx_teardown((void **)&f);
  return in_range;
}

static void test_tampered_handshake_never_agrees(void **state) {
  (void)state;
  for (int which = 1; which <= 3; which++) {
    size_t k = 0;
    while (run_tampered(which, k, 0x01)) {
      run_tampered(which, k, 0x80);
      k++;
    }
    assert_true(k > 60); /* every byte of a real message was tried */
  }
}

/* --- Limits, deadline, misuse -------------------------------------------------- */

static void test_handshake_message_over_limit(void **state) {
  fx *f = *state;
  uint8_t hdr[4];
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  carnet__frame_header(hdr, CARNET_HANDSHAKE_MSG_BYTES_MAX + 1);
  const uint8_t *p = hdr;
  size_t n = 4;
  assert_int_equal(carnet__hs_feed(&f->b.hs, &p, &n, &f->b.out), CARNET_EPROTO);
  errmsg_has(carnet__hs_errmsg(&f->b.hs), "over 1024 bytes");
  /* The initiator too, on the answer. */
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  p = hdr;
  n = 4;
  assert_int_equal(carnet__hs_feed(&f->a.hs, &p, &n, &f->a.out), CARNET_EPROTO);
  /* A frame within the limit that is not a handshake message. */
  side_free(&f->b);
  side_init(&f->b, "B", 2);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  uint8_t junk[4 + CARNET_HANDSHAKE_MSG_BYTES_MAX];
  carnet__frame_header(junk, CARNET_HANDSHAKE_MSG_BYTES_MAX);
  memset(junk + 4, 0xa4, CARNET_HANDSHAKE_MSG_BYTES_MAX);
  p = junk;
  n = sizeof junk;
  assert_int_equal(carnet__hs_feed(&f->b.hs, &p, &n, &f->b.out), CARNET_EPROTO);
  errmsg_has(carnet__hs_errmsg(&f->b.hs), "not a Carnet replica");
}

static void test_handshake_deadline(void **state) {
  fx *f = *state;
  f->a.env.now_ms = 5000;
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  assert_true(f->a.hs.started_ms == 5000);
  assert_true(carnet__hs_deadline_ms(&f->a.hs) == 5000 + CARNET_HANDSHAKE_TIMEOUT_MS);
  assert_int_equal(carnet__hs_tick(&f->a.hs, 4000), 0); /* clock went back */
  assert_int_equal(carnet__hs_tick(&f->a.hs, 5000 + CARNET_HANDSHAKE_TIMEOUT_MS - 1), 0);
  assert_int_equal(carnet__hs_tick(&f->a.hs, 5000 + CARNET_HANDSHAKE_TIMEOUT_MS), CARNET_ELIMIT);
  errmsg_has(carnet__hs_errmsg(&f->a.hs), "did not finish within 10000 ms");
  /* Sticky: input is not read any more. */
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  assert_int_equal(f->a.hs_rc, CARNET_ELIMIT);
  /* A finished handshake does not expire. */
  side_free(&f->a);
  side_free(&f->b);
  side_init(&f->a, "A", 1);
  side_init(&f->b, "B", 2);
  f->a.trust[f->a.ntrust++] = f->b.pk;
  f->b.trust[f->b.ntrust++] = f->a.pk;
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  assert_int_equal(carnet__hs_tick(&f->a.hs, UINT64_MAX), 0);
}

static void test_handshake_eof(void **state) {
  fx *f = *state;
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  feed_hs(&f->b, &f->a, 10); /* part of (1), then the connection drops */
  assert_int_equal(carnet__hs_eof(&f->b.hs), CARNET_EPROTO);
  errmsg_has(carnet__hs_errmsg(&f->b.hs), "closed the connection during the handshake");
  assert_int_equal(carnet__hs_eof(&f->a.hs), CARNET_EPROTO);
}

static void test_misuse(void **state) {
  fx *f = *state;
  carnet__hs_config cfg = {0};
  f->a.hs_live = true;
  assert_int_equal(carnet__hs_init(&f->a.hs, CARNET_HS_INITIATOR, &cfg, 0, &f->a.out),
                   CARNET_EMISUSE);
  carnet__hs_free(&f->a.hs);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  f->b.ch_live = true;
  assert_int_equal(carnet__channel_init_hs(&f->b.ch, &f->b.hs), CARNET_EMISUSE);
}

/* --- The channel ---------------------------------------------------------------- */

/* Fresh channel pairs with fixed keys, for byte-level attacks. */
static const uint8_t key_ab[32] = {1, 2, 3}, key_ba[32] = {4, 5, 6};

static void seal_all(carnet__obuf *out, size_t *ends, const char *const *texts, size_t n) {
  carnet__channel tx;
  carnet__channel_init(&tx, key_ab, key_ba);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(carnet__channel_seal(&tx, texts[i], strlen(texts[i]), false, out), 0);
    ends[i] = out->len;
  }
  carnet__channel_free(&tx);
}

/* Feeds `len` bytes to a fresh receiving channel; returns the number of
 * messages opened; *rc is the last result (then eof's when all were read). */
static size_t open_all(const uint8_t *p, size_t len, const char *const *texts, int *rc) {
  carnet__channel rx;
  carnet_buf m;
  bool final;
  size_t opened = 0;
  carnet__channel_init(&rx, key_ba, key_ab);
  while ((*rc = carnet__channel_open(&rx, &p, &len, &m, &final)) == 1) {
    /* C1: whatever opens is exactly what was sealed, in order. */
    assert_int_equal(m.len, strlen(texts[opened]));
    assert_memory_equal(m.base, texts[opened], m.len);
    opened++;
  }
  if (*rc == 0) *rc = carnet__channel_eof(&rx);
  carnet__channel_free(&rx);
  return opened;
}

static const char *const texts[] = {"first message", "second", "third and last"};

static void test_channel_tampered_byte(void **state) {
  (void)state;
  carnet__obuf out;
  size_t ends[3];
  int rc;
  carnet__obuf_init(&out);
  seal_all(&out, ends, texts, 3);
  /* Untouched: all three open; no FINAL, so the end is a truncation. */
  assert_int_equal(open_all(out.base, out.len, texts, &rc), 3);
  assert_int_equal(rc, CARNET_EPROTO);
  for (size_t k = 0; k < ends[1]; k++) {
    for (int bit = 0; bit < 8; bit++) {
      out.base[k] ^= (uint8_t)(1u << bit);
      size_t opened = open_all(out.base, ends[1], texts, &rc);
      out.base[k] ^= (uint8_t)(1u << bit);
      /* The frame holding byte k never opens, nor anything after it. */
      assert_int_equal(opened, k < ends[0] ? 0 : 1);
      assert_int_equal(rc, CARNET_EPROTO);
    }
  }
  carnet__obuf_free(&out);
}

static void test_channel_replayed_frame(void **state) {
  (void)state;
  carnet__obuf out, evil;
  size_t ends[3];
  int rc;
  carnet__obuf_init(&out);
  carnet__obuf_init(&evil);
  seal_all(&out, ends, texts, 3);
  /* 1 2 2 */
  carnet__obuf_append(&evil, out.base, ends[1]);
  carnet__obuf_append(&evil, out.base + ends[0], ends[1] - ends[0]);
  assert_int_equal(open_all(evil.base, evil.len, texts, &rc), 2);
  assert_int_equal(rc, CARNET_EPROTO);
  /* 1 1 */
  evil.len = 0;
  carnet__obuf_append(&evil, out.base, ends[0]);
  carnet__obuf_append(&evil, out.base, ends[0]);
  assert_int_equal(open_all(evil.base, evil.len, texts, &rc), 1);
  assert_int_equal(rc, CARNET_EPROTO);
  carnet__obuf_free(&out);
  carnet__obuf_free(&evil);
}

static void test_channel_swapped_frames(void **state) {
  (void)state;
  carnet__obuf out, evil;
  size_t ends[3];
  int rc;
  carnet__obuf_init(&out);
  carnet__obuf_init(&evil);
  seal_all(&out, ends, texts, 3);
  /* 1 3 2 */
  carnet__obuf_append(&evil, out.base, ends[0]);
  carnet__obuf_append(&evil, out.base + ends[1], ends[2] - ends[1]);
  carnet__obuf_append(&evil, out.base + ends[0], ends[1] - ends[0]);
  assert_int_equal(open_all(evil.base, evil.len, texts, &rc), 1);
  assert_int_equal(rc, CARNET_EPROTO);
  /* 1 3: a dropped frame is the same failure. */
  evil.len = ends[0] + (ends[2] - ends[1]);
  assert_int_equal(open_all(evil.base, evil.len, texts, &rc), 1);
  assert_int_equal(rc, CARNET_EPROTO);
  carnet__obuf_free(&out);
  carnet__obuf_free(&evil);
}

static void test_channel_truncated(void **state) {
  fx *f = *state;
  start(&f->a, CARNET_HS_INITIATOR, NULL, 0);
  start(&f->b, CARNET_HS_RESPONDER, NULL, 0);
  pump(f, 0);
  open_channel(&f->a);
  open_channel(&f->b);
  carnet__msg ping = {.type = CARNET_MSG_PING}, bye = {.type = CARNET_MSG_BYE}, m;
  send_msg(&f->a, &ping);
  send_msg(&f->a, &ping);
  send_msg(&f->a, &bye);
  /* Everything but the BYE arrives, then the connection closes. */
  size_t bye_len = 4 + 1 + CARNET_CHANNEL_ABYTES;
  const uint8_t *p = f->a.out.base;
  size_t n = f->a.out.len - bye_len;
  assert_int_equal(carnet__channel_recv(&f->b.ch, &p, &n, &m), 1);
  assert_int_equal(carnet__channel_recv(&f->b.ch, &p, &n, &m), 1);
  assert_int_equal(carnet__channel_recv(&f->b.ch, &p, &n, &m), 0);
  assert_int_equal(carnet__channel_eof(&f->b.ch), CARNET_EPROTO);
  errmsg_has(carnet__channel_errmsg(&f->b.ch), "ended without BYE");
  /* Cut in the middle of a frame. */
  carnet__channel rx;
  carnet__channel_init(&rx, key_ba, key_ab);
  carnet__obuf out;
  size_t ends[3];
  carnet__obuf_init(&out);
  seal_all(&out, ends, texts, 3);
  carnet_buf mb;
  bool final;
  p = out.base;
  n = ends[0] + 5;
  assert_int_equal(carnet__channel_open(&rx, &p, &n, &mb, &final), 1);
  assert_int_equal(carnet__channel_open(&rx, &p, &n, &mb, &final), 0);
  assert_int_equal(carnet__channel_eof(&rx), CARNET_EPROTO);
  errmsg_has(carnet__channel_errmsg(&rx), "middle of a frame");
  carnet__channel_free(&rx);
  carnet__obuf_free(&out);
}

static void test_channel_final_rules(void **state) {
  (void)state;
  carnet__channel tx, rx;
  carnet__obuf out, enc;
  carnet__msg m;
  const uint8_t *p;
  size_t n;
  carnet__obuf_init(&out);
  carnet__obuf_init(&enc);

  /* Data after FINAL. */
  carnet__channel_init(&tx, key_ab, key_ba);
  carnet__channel_init(&rx, key_ba, key_ab);
  carnet__msg bye = {.type = CARNET_MSG_BYE}, ping = {.type = CARNET_MSG_PING};
  assert_int_equal(carnet__channel_send(&tx, &bye, &out), 0);
  assert_int_equal(carnet__channel_seal(&tx, "x", 1, false, &out), CARNET_EMISUSE);
  assert_int_equal(carnet__obuf_append(&out, "\0\0\0\1x", 5), 0);
  p = out.base;
  n = out.len;
  assert_int_equal(carnet__channel_recv(&rx, &p, &n, &m), 1);
  assert_int_equal(m.type, CARNET_MSG_BYE);
  assert_int_equal(carnet__channel_recv(&rx, &p, &n, &m), CARNET_EPROTO);
  errmsg_has(carnet__channel_errmsg(&rx), "after the end of its stream");
  carnet__channel_free(&tx);
  carnet__channel_free(&rx);

  /* FINAL on a PING. */
  out.len = 0;
  carnet__channel_init(&tx, key_ab, key_ba);
  carnet__channel_init(&rx, key_ba, key_ab);
  assert_int_equal(carnet__msg_encode(&ping, &enc), 0);
  assert_int_equal(carnet__channel_seal(&tx, enc.base, enc.len, true, &out), 0);
  p = out.base;
  n = out.len;
  assert_int_equal(carnet__channel_recv(&rx, &p, &n, &m), CARNET_EPROTO);
  errmsg_has(carnet__channel_errmsg(&rx), "instead of BYE");
  carnet__channel_free(&tx);
  carnet__channel_free(&rx);

  /* BYE without FINAL. */
  out.len = 0;
  enc.len = 0;
  carnet__channel_init(&tx, key_ab, key_ba);
  carnet__channel_init(&rx, key_ba, key_ab);
  assert_int_equal(carnet__msg_encode(&bye, &enc), 0);
  assert_int_equal(carnet__channel_seal(&tx, enc.base, enc.len, false, &out), 0);
  p = out.base;
  n = out.len;
  assert_int_equal(carnet__channel_recv(&rx, &p, &n, &m), CARNET_EPROTO);
  errmsg_has(carnet__channel_errmsg(&rx), "without ending its stream");
  carnet__channel_free(&tx);
  carnet__channel_free(&rx);

  /* A frame sealed with the other direction's key (a reflected frame). */
  out.len = 0;
  carnet__channel_init(&tx, key_ab, key_ba);
  carnet__channel_init(&rx, key_ab, key_ba); /* rx reads with key_ba: not tx's key_ab */
  assert_int_equal(carnet__channel_seal(&tx, "x", 1, false, &out), 0);
  carnet_buf mb;
  bool final;
  p = out.base;
  n = out.len;
  assert_int_equal(carnet__channel_open(&rx, &p, &n, &mb, &final), CARNET_EPROTO);
  carnet__channel_free(&tx);
  carnet__channel_free(&rx);

  /* Oversized and empty seals are misuse; a full output buffer changes
   * nothing (C4). */
  carnet__channel_init(&tx, key_ab, key_ba);
  assert_int_equal(carnet__channel_seal(&tx, "x", 0, false, &out), CARNET_EMISUSE);
  assert_int_equal(carnet__channel_seal(&tx, "x", CARNET_CHANNEL_MSG_BYTES_MAX + 1, false, &out),
                   CARNET_EMISUSE);
  carnet__obuf full = {.base = NULL, .len = CARNET_OBUF_BYTES_MAX, .cap = 0};
  assert_int_equal(carnet__channel_seal(&tx, "x", 1, false, &full), CARNET_ELIMIT);
  assert_false(tx.tx_started);
  carnet__channel_free(&tx);

  carnet__obuf_free(&out);
  carnet__obuf_free(&enc);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
      T(test_trusted_sides_complete),
      T(test_trusted_sides_one_byte_at_a_time),
      T(test_pipelined_first_frame),
      T(test_untrusted_initiator_refused),
      T(test_untrusted_responder_refused),
      T(test_trust_callback_error),
      T(test_join_valid_invite),
      T(test_join_when_already_trusted),
      T(test_join_wrong_secret),
      T(test_join_unknown_invite),
      T(test_join_wrong_inviter),
      T(test_unknown_key_without_join),
      T(test_team_mismatch),
      T(test_version_mismatch),
      T(test_busy_refusal),
      T(test_version1_peer_refused),
      T(test_version2_peer_refused),
      T(test_version3_peer_refused),
      T(test_version3_responder_refused),
      T(test_version_mismatch_older_initiator),
      T(test_tampered_handshake_never_agrees),
      T(test_handshake_message_over_limit),
      T(test_handshake_deadline),
      T(test_handshake_eof),
      T(test_misuse),
      T(test_channel_tampered_byte),
      T(test_channel_replayed_frame),
      T(test_channel_swapped_frames),
      T(test_channel_truncated),
      T(test_channel_final_rules),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
