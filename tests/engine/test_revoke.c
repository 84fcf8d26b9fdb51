/* tests/engine/test_revoke.c - revocation records (engine/store/revoke.c) and
 * what they do to the trust list (engine/store/peer.c): the codec, the
 * signature, and the rules R1-R5 of engine/store/revoke.h, with real replicas in
 * one process and no network (tests/protocol/test_session.c carries the
 * records over sessions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "carnet/carnet.h"
#include "engine/store/peer_int.h"
#include "engine/store/replica_int.h"
#include "engine/store/revoke.h"
#include "support/testenv.h"

typedef struct rep {
  char *dir;
  tenv env;
  carnet_replica *r;
  uint8_t pk[CARNET_PK_BYTES];
} rep;

static void rep_open(rep *n, const char *label, uint64_t seed) {
  carnet_env e;
  char err[256];
  n->dir = tdir_new(label);
  tenv_init(&n->env, 1790000000000ull, seed);
  tenv_fill(&n->env, &e);
  char *d = tdir_join(n->dir, "r");
  int rc = carnet_replica_init(d, &e, &n->r, err, sizeof err);
  free(d);
  if (rc) fail_msg("init %s: %s", label, err);
  assert_int_equal(carnet_replica_get_identity(n->r, n->pk, NULL), 0);
}

static void rep_close(rep *n) {
  carnet_replica_close(n->r);
  tdir_remove(n->dir);
  free(n->dir);
}

/* b joins a's team (as a join would). */
static void same_team(rep *a, rep *b) {
  uint8_t team[CARNET_TEAM_BYTES];
  assert_int_equal(carnet_replica_get_identity(a->r, NULL, team), 0);
  assert_int_equal(carnet_replica_set_team(b->r, team), 0);
}

typedef struct rec_list {
  uint8_t bytes[8][CARNET__REVOKE_BYTES_MAX];
  size_t len[8];
  int n;
} rec_list;

static int collect(const void *bytes, size_t len, uint32_t flags, void *data) {
  rec_list *l = data;
  (void)flags;
  assert_true(l->n < 8 && len <= CARNET__REVOKE_BYTES_MAX);
  memcpy(l->bytes[l->n], bytes, len);
  l->len[l->n++] = len;
  return 0;
}

/* Every record r holds, as sent on the wire. */
static rec_list records_of(carnet_replica *r) {
  rec_list l;
  uint64_t upto;
  memset(&l, 0, sizeof l);
  assert_int_equal(carnet__revoke_since(r, 0, &upto, collect, &l), 0);
  return l;
}

static uint64_t trustseq(carnet_replica *r) {
  uint64_t s = 0;
  assert_int_equal(carnet__trust_seq(r, &s), 0);
  return s;
}

static bool receive(carnet_replica *r, const void *bytes, size_t len) {
  bool applied = true;
  int rc = carnet__revoke_receive(r, bytes, len, &applied);
  if (rc) fail_msg("receive: %s (%s)", carnet_error_name(rc), carnet_replica_errmsg(r));
  return applied;
}

/* --- codec -------------------------------------------------------------------- */

static void test_codec_and_signature(void **state) {
  (void)state;
  uint8_t seed[32], sk[64], team[16], other[16];
  carnet__revocation rv, back;
  msgpack_sbuffer sb;
  memset(seed, 7, sizeof seed);
  memset(team, 1, sizeof team);
  memset(other, 2, sizeof other);
  memset(&rv, 0, sizeof rv);
  crypto_sign_seed_keypair(rv.by, sk, seed);
  memset(rv.pk, 9, sizeof rv.pk);
  const uint64_t ats[] = {
      1, 127, 128, 255, 256, 65535, 65536, 0xffffffffull, 1790000000000ull, UINT64_MAX};
  for (size_t i = 0; i < sizeof ats / sizeof ats[0]; i++) {
    rv.at_ms = ats[i];
    assert_int_equal(carnet__revoke_sign(&rv, team, sk), 0);
    msgpack_sbuffer_init(&sb);
    assert_int_equal(carnet__revoke_encode(&rv, &sb), 0);
    assert_true(sb.size <= CARNET__REVOKE_BYTES && sb.size <= CARNET__REVOKE_BYTES_MAX);
    assert_int_equal(carnet__revoke_decode(sb.data, sb.size, &back, NULL), 0);
    assert_memory_equal(&back, &rv, sizeof rv);
    assert_int_equal(carnet__revoke_verify(&back, team), 0);
    /* Another team, another key, a changed date: no. */
    assert_int_equal(carnet__revoke_verify(&back, other), CARNET_EPROTO);
    back.at_ms ^= 2;
    assert_int_equal(carnet__revoke_verify(&back, team), CARNET_EPROTO);
    back.at_ms ^= 2;
    back.pk[5] ^= 1;
    assert_int_equal(carnet__revoke_verify(&back, team), CARNET_EPROTO);
    /* Every cut and a trailing byte are refused, with the check's line. */
    for (size_t n = 0; n < sb.size; n++) {
      int bad = 0;
      assert_int_equal(carnet__revoke_decode(sb.data, n, &back, &bad), CARNET_EPROTO);
      assert_int_not_equal(bad, 0);
    }
    msgpack_sbuffer_write(&sb, "\x00", 1);
    assert_int_equal(carnet__revoke_decode(sb.data, sb.size, &back, NULL), CARNET_EPROTO);
    msgpack_sbuffer_destroy(&sb);
  }
  /* at = 0 cannot be encoded into a valid record. */
  rv.at_ms = 0;
  msgpack_sbuffer_init(&sb);
  assert_int_equal(carnet__revoke_encode(&rv, &sb), 0);
  assert_int_equal(carnet__revoke_decode(sb.data, sb.size, &back, NULL), CARNET_EPROTO);
  msgpack_sbuffer_destroy(&sb);
  sodium_memzero(sk, sizeof sk);
}

/* --- a local removal ------------------------------------------------------------ */

static void test_remove_revokes_and_refuses_trust(void **state) {
  (void)state;
  rep a, b;
  carnet_revocation info;
  rep_open(&a, "rv-a", 1);
  rep_open(&b, "rv-b", 2);
  uint64_t s0 = trustseq(a.r);
  assert_int_equal(carnet_peer_trust(a.r, b.pk, "127.0.0.1:7001"), 0);
  uint64_t s1 = trustseq(a.r);
  assert_true(s1 > s0);
  assert_int_equal(carnet_revocation_get(a.r, b.pk, &info), CARNET_ENOTFOUND);

  tenv_advance_ms(&a.env, 1000);
  assert_int_equal(carnet_peer_remove(a.r, b.pk), 0);
  assert_true(trustseq(a.r) > s1);
  assert_int_equal(carnet_peer_check(a.r, b.pk), CARNET_EPERM);
  assert_int_equal(carnet_revocation_get(a.r, b.pk, &info), 0);
  assert_memory_equal(info.pk, b.pk, CARNET_PK_BYTES);
  assert_memory_equal(info.by, a.pk, CARNET_PK_BYTES);
  assert_int_equal(info.at_ms, a.env.now_ms);
  assert_false(info.overridden);
  rec_list l = records_of(a.r);
  assert_int_equal(l.n, 1);

  /* R4: trusting it again takes an explicit override. */
  assert_int_equal(carnet_peer_trust(a.r, b.pk, NULL), CARNET_EPERM);
  assert_non_null(strstr(carnet_replica_errmsg(a.r), "revoked by this replica"));
  assert_non_null(strstr(carnet_replica_errmsg(a.r), "--override-revocation"));
  assert_int_equal(carnet_peer_remove(a.r, b.pk), CARNET_ENOTFOUND);
  assert_int_equal(carnet_peer_trust_override(a.r, b.pk, NULL), 0);
  assert_int_equal(carnet_peer_check(a.r, b.pk), 0);
  assert_int_equal(carnet_revocation_get(a.r, b.pk, &info), 0);
  assert_true(info.overridden);
  assert_int_equal(carnet_peer_trust(a.r, b.pk, NULL), 0); /* idempotent now */
  /* Removed again: a new record, not overridden. */
  tenv_advance_ms(&a.env, 1000);
  assert_int_equal(carnet_peer_remove(a.r, b.pk), 0);
  assert_int_equal(carnet_revocation_get(a.r, b.pk, &info), 0);
  assert_false(info.overridden);
  assert_int_equal(info.at_ms, a.env.now_ms);
  assert_int_equal(carnet_peer_check(a.r, b.pk), CARNET_EPERM);
  rep_close(&a);
  rep_close(&b);
}

/* --- received records: R1-R4 ------------------------------------------------------ */

static void test_receive_rules(void **state) {
  (void)state;
  rep a, b, c, d, x;
  rep_open(&a, "rv-a", 1);
  rep_open(&b, "rv-b", 2);
  rep_open(&c, "rv-c", 3);
  rep_open(&d, "rv-d", 4);
  rep_open(&x, "rv-x", 5); /* another team */
  same_team(&a, &b), same_team(&a, &c), same_team(&a, &d);
  /* C trusts A and B (not D); A trusts B; D trusts B; X trusts B. */
  assert_int_equal(carnet_peer_trust(c.r, a.pk, NULL), 0);
  assert_int_equal(carnet_peer_trust(c.r, b.pk, NULL), 0);
  assert_int_equal(carnet_peer_trust(a.r, b.pk, NULL), 0);
  assert_int_equal(carnet_peer_trust(d.r, b.pk, NULL), 0);
  assert_int_equal(carnet_peer_trust(x.r, b.pk, NULL), 0);

  /* R2: a record signed by a key C does not trust is ignored there. */
  assert_int_equal(carnet_peer_remove(d.r, b.pk), 0);
  rec_list ld = records_of(d.r);
  uint64_t s = trustseq(c.r);
  assert_false(receive(c.r, ld.bytes[0], ld.len[0]));
  assert_int_equal(carnet_peer_check(c.r, b.pk), 0);
  assert_int_equal(trustseq(c.r), s);
  assert_int_equal(records_of(c.r).n, 0);

  /* R1: a record of another team does not verify. */
  assert_int_equal(carnet_peer_remove(x.r, b.pk), 0);
  rec_list lx = records_of(x.r);
  assert_int_equal(carnet__revoke_receive(c.r, lx.bytes[0], lx.len[0], NULL), CARNET_EPROTO);
  assert_non_null(strstr(carnet_replica_errmsg(c.r), "signature"));
  /* Nor does a changed byte; and garbage is refused with its check. */
  rec_list la0;
  assert_int_equal(carnet_peer_remove(a.r, b.pk), 0);
  la0 = records_of(a.r);
  uint8_t bad[CARNET__REVOKE_BYTES_MAX];
  memcpy(bad, la0.bytes[0], la0.len[0]);
  bad[10] ^= 1;
  assert_int_equal(carnet__revoke_receive(c.r, bad, la0.len[0], NULL), CARNET_EPROTO);
  assert_int_equal(carnet__revoke_receive(c.r, "\x01\x02", 2, NULL), CARNET_EPROTO);
  assert_non_null(strstr(carnet_replica_errmsg(c.r), "malformed"));

  /* A trusted signer: applied; the key leaves C's trust list. */
  s = trustseq(c.r);
  assert_true(receive(c.r, la0.bytes[0], la0.len[0]));
  assert_true(trustseq(c.r) > s);
  assert_int_equal(carnet_peer_check(c.r, b.pk), CARNET_EPERM);
  carnet_peer_info pi;
  assert_int_equal(carnet_peer_get(c.r, b.pk, &pi), CARNET_ENOTFOUND);
  carnet_revocation info;
  assert_int_equal(carnet_revocation_get(c.r, b.pk, &info), 0);
  assert_memory_equal(info.by, a.pk, CARNET_PK_BYTES);
  /* R3: the same record again, or the echo of C's copy to A, changes
   * nothing (a session sends every record: this is what ends the echo). */
  s = trustseq(c.r);
  assert_false(receive(c.r, la0.bytes[0], la0.len[0]));
  assert_int_equal(trustseq(c.r), s);
  rec_list lc = records_of(c.r);
  assert_int_equal(lc.n, 1);
  assert_int_equal(lc.len[0], la0.len[0]);
  assert_memory_equal(lc.bytes[0], la0.bytes[0], la0.len[0]); /* relayed as signed */
  assert_false(receive(a.r, lc.bytes[0], lc.len[0]));

  /* R2: the revoked key's own records mean nothing to C any more. */
  assert_int_equal(carnet_peer_trust(b.r, a.pk, NULL), 0);
  same_team(&a, &b);
  assert_int_equal(carnet_peer_remove(b.r, a.pk), 0);
  rec_list lb = records_of(b.r);
  assert_false(receive(c.r, lb.bytes[0], lb.len[0]));
  assert_int_equal(carnet_peer_check(c.r, a.pk), 0);

  /* R4: no sync brings it back: trust and an invite refuse it. */
  assert_int_equal(carnet_peer_trust(c.r, b.pk, NULL), CARNET_EPERM);
  assert_non_null(strstr(carnet_replica_errmsg(c.r), "revoked by the replica with key"));
  uint8_t id[16], secret[32];
  memset(id, 0x44, sizeof id);
  memset(secret, 0x55, sizeof secret);
  assert_int_equal(carnet__invite_add(c.r, id, secret, c.env.now_ms + 60000), 0);
  assert_int_equal(carnet__invite_consume(c.r, id, b.pk, NULL), CARNET_EPERM);
  assert_int_equal(carnet__invite_secret(c.r, id, secret), 0); /* not spent */
  /* Only an override, here; the old record arriving again changes nothing
   * then, a newer one revokes it again. */
  tenv_advance_ms(&c.env, 5000);
  assert_int_equal(carnet_peer_trust_override(c.r, b.pk, NULL), 0);
  assert_int_equal(carnet_peer_check(c.r, b.pk), 0);
  assert_false(receive(c.r, la0.bytes[0], la0.len[0]));
  assert_int_equal(carnet_peer_check(c.r, b.pk), 0);
  assert_int_equal(records_of(c.r).n, 1); /* still relayed */
  tenv_advance_ms(&a.env, 10000);
  assert_int_equal(carnet_peer_trust_override(a.r, b.pk, NULL), 0);
  assert_int_equal(carnet_peer_remove(a.r, b.pk), 0);
  rec_list la1 = records_of(a.r);
  assert_int_equal(la1.n, 1);
  assert_true(receive(c.r, la1.bytes[0], la1.len[0]));
  assert_int_equal(carnet_peer_check(c.r, b.pk), CARNET_EPERM);
  assert_int_equal(carnet_revocation_get(c.r, b.pk, &info), 0);
  assert_false(info.overridden);

  rep_close(&a), rep_close(&b), rep_close(&c), rep_close(&d), rep_close(&x);
}

/* R4 with clocks apart: the revoker's clock an hour ahead of C's. C's
 * override must still cover that record when it comes again (every
 * session sends it), though C overrides "before" the record was made by
 * C's clock (found while adding revocations to the simulation, whose
 * clocks jump an hour). */
static void test_override_with_clock_ahead(void **state) {
  (void)state;
  rep a, b, c;
  rep_open(&a, "rv-a", 1);
  rep_open(&b, "rv-b", 2);
  rep_open(&c, "rv-c", 3);
  same_team(&a, &b), same_team(&a, &c);
  assert_int_equal(carnet_peer_trust(a.r, b.pk, NULL), 0);
  assert_int_equal(carnet_peer_trust(c.r, a.pk, NULL), 0);
  assert_int_equal(carnet_peer_trust(c.r, b.pk, NULL), 0);
  tenv_advance_ms(&a.env, 3600u * 1000u);
  assert_int_equal(carnet_peer_remove(a.r, b.pk), 0);
  rec_list la = records_of(a.r);
  assert_true(receive(c.r, la.bytes[0], la.len[0]));
  assert_int_equal(carnet_peer_trust_override(c.r, b.pk, NULL), 0);
  assert_false(receive(c.r, la.bytes[0], la.len[0]));
  assert_int_equal(carnet_peer_check(c.r, b.pk), 0);
  rep_close(&a), rep_close(&b), rep_close(&c);
}

/* R5: at most CARNET__REVOKED_MAX records; past it, a received record is
 * ignored, and a local removal still writes its own. */
static void test_bound(void **state) {
  (void)state;
  rep a, c;
  uint8_t sk[64], team[16];
  rep_open(&a, "rv-a", 1);
  rep_open(&c, "rv-c", 3);
  same_team(&a, &c);
  assert_int_equal(carnet_peer_trust(c.r, a.pk, NULL), 0);
  assert_int_equal(carnet_replica_get_identity(a.r, NULL, team), 0);
  assert_int_equal(carnet__identity_secret(a.r, sk), 0);
  carnet_txn *t;
  assert_int_equal(carnet_txn_begin(c.r, &t), 0);
  for (uint32_t i = 0; i < CARNET__REVOKED_MAX; i++) {
    carnet__revocation rv;
    memset(&rv, 0, sizeof rv);
    memcpy(rv.by, a.pk, sizeof rv.by);
    memcpy(rv.pk, &i, sizeof i);
    rv.pk[31] = 0xee;
    rv.at_ms = 1000 + i;
    assert_int_equal(carnet__revoke_sign(&rv, team, sk), 0);
    assert_int_equal(carnet__revoked_put(c.r, t->st, &rv, 0, 0), 0);
  }
  assert_int_equal(carnet_txn_commit(t), 0);
  carnet__revocation one;
  msgpack_sbuffer sb;
  memset(&one, 0, sizeof one);
  memcpy(one.by, a.pk, sizeof one.by);
  memset(one.pk, 0xab, sizeof one.pk);
  one.at_ms = 5;
  assert_int_equal(carnet__revoke_sign(&one, team, sk), 0);
  msgpack_sbuffer_init(&sb);
  assert_int_equal(carnet__revoke_encode(&one, &sb), 0);
  assert_false(receive(c.r, sb.data, sb.size));
  msgpack_sbuffer_destroy(&sb);
  rep b;
  rep_open(&b, "rv-b", 2);
  assert_int_equal(carnet_peer_trust(c.r, b.pk, NULL), 0);
  assert_int_equal(carnet_peer_remove(c.r, b.pk), 0);
  carnet_revocation info;
  assert_int_equal(carnet_revocation_get(c.r, b.pk, &info), 0);
  sodium_memzero(sk, sizeof sk);
  rep_close(&a), rep_close(&b), rep_close(&c);
}

typedef struct counted {
  int n, overridden;
} counted;

static int count_cb(const carnet_revocation *rv, void *data) {
  counted *c = data;
  c->n++;
  c->overridden += rv->overridden;
  return 0;
}

static int stop_cb(const carnet_revocation *rv, void *data) {
  (void)rv, (void)data;
  return 42;
}

static void test_list(void **state) {
  (void)state;
  rep a, b, c;
  counted k = {0, 0};
  rep_open(&a, "rv-a", 1);
  rep_open(&b, "rv-b", 2);
  rep_open(&c, "rv-c", 3);
  assert_int_equal(carnet_revocation_list(a.r, count_cb, &k), 0);
  assert_int_equal(k.n, 0);
  assert_int_equal(carnet_peer_trust(a.r, b.pk, NULL), 0);
  assert_int_equal(carnet_peer_trust(a.r, c.pk, NULL), 0);
  assert_int_equal(carnet_peer_remove(a.r, b.pk), 0);
  assert_int_equal(carnet_peer_remove(a.r, c.pk), 0);
  assert_int_equal(carnet_peer_trust_override(a.r, c.pk, NULL), 0);
  assert_int_equal(carnet_revocation_list(a.r, count_cb, &k), 0);
  assert_int_equal(k.n, 2);
  assert_int_equal(k.overridden, 1);
  assert_int_equal(carnet_revocation_list(a.r, stop_cb, NULL), 42);
  assert_int_equal(carnet_revocation_list(a.r, NULL, NULL), CARNET_EMISUSE);
  rep_close(&a), rep_close(&b), rep_close(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codec_and_signature),
      cmocka_unit_test(test_remove_revokes_and_refuses_trust),
      cmocka_unit_test(test_receive_rules),
      cmocka_unit_test(test_override_with_clock_ahead),
      cmocka_unit_test(test_bound),
      cmocka_unit_test(test_list),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
