/* tests/replica/test_discovery.c - LAN discovery: the announcement codec
 * (replica/announce.c) and the multicast component (replica/discovery.c).
 *
 * Codec tests use fixed Ed25519 keys and a fixed clock, and check every
 * refusal the header lists, plus the golden vector of the wire format
 * (tests/vectors/announce_v1.hex). The live test runs three replicas in one
 * process on one uv_loop, announcing over real IPv4 multicast on the
 * loopback interface (IP_MULTICAST_IF and IP_ADD_MEMBERSHIP on 127.0.0.1,
 * which Linux delivers even though `lo` has no MULTICAST flag), on a UDP
 * port the test probes free, every 100 ms, for at most 2 s.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <uv.h>

#include "carnet/carnet.h"
#include "replica/announce.h"
#include "replica/discovery.h"
#include "support/testenv.h"

/* --- Codec fixtures: fixed keys, fixed clock --------------------------- */

#define NOW_MS TENV_EPOCH_MS

enum { K_SELF = 0, K_PEER = 1, K_STRANGER = 2, NKEYS = 3 };

static uint8_t key_pk[NKEYS][32], key_sk[NKEYS][64];
static uint8_t team_t[16], team_o[16];

static void keys_init(void) {
  assert_true(sodium_init() >= 0);
  for (int i = 0; i < NKEYS; i++) {
    uint8_t seed[32];
    memset(seed, i + 1, sizeof seed); /* the seeds of the fuzz corpus and vector */
    crypto_sign_seed_keypair(key_pk[i], key_sk[i], seed);
  }
  memset(team_t, 'T', sizeof team_t);
  memset(team_o, 'O', sizeof team_o);
}

static int sign_with_key(void *ctx, const void *msg, size_t len, uint8_t sig[64]) {
  crypto_sign_detached(sig, NULL, msg, len, key_sk[*(const int *)ctx]);
  return 0;
}

static int failing_sign(void *ctx, const void *msg, size_t len, uint8_t sig[64]) {
  memset(sig, 0xaa, 64);
  return CARNET_EIO;
}

/* The receiver trusts K_PEER only. */
static int trust_peer(void *ctx, const uint8_t pk[32]) {
  int *calls = ctx;
  if (calls) (*calls)++;
  return memcmp(pk, key_pk[K_PEER], 32) == 0 ? 0 : CARNET_EPERM;
}

static carnet__announce_check receiver(int *trust_calls) {
  carnet__announce_check c = {.team = team_t,
                              .self_pk = key_pk[K_SELF],
                              .now_ms = NOW_MS,
                              .trusted = trust_peer,
                              .trusted_ctx = trust_calls};
  return c;
}

/* A signed datagram from key `who` of team `team`, stamped `ts`. */
static void make(int who, const uint8_t team[16], uint64_t ts, carnet__announce *a,
                 uint8_t out[CARNET__ANNOUNCE_BYTES]) {
  memset(a, 0, sizeof *a);
  memcpy(a->team, team, 16);
  memcpy(a->pk, key_pk[who], 32);
  a->replica_id = 0x0102030405060708ull;
  a->port = 7373;
  a->ts_ms = ts;
  assert_int_equal(carnet__announce_sign(a, sign_with_key, &who), 0);
  carnet__announce_encode(a, out);
}

static int decode(const uint8_t *buf, size_t len, const char **why) {
  carnet__announce_check c = receiver(NULL);
  carnet__announce out;
  return carnet__announce_decode(buf, len, &c, &out, why);
}

static void assert_refused(const uint8_t *buf, size_t len, int code, const char *reason_part) {
  carnet__announce_check c = receiver(NULL);
  carnet__announce out, zero;
  const char *why = NULL;
  memset(&out, 0x5a, sizeof out);
  memset(&zero, 0, sizeof zero);
  int rc = carnet__announce_decode(buf, len, &c, &out, &why);
  assert_int_equal(rc, code);
  assert_non_null(why);
  if (strstr(why, reason_part) == NULL)
    fail_msg("reason '%s' does not mention '%s'", why, reason_part);
  assert_memory_equal(&out, &zero, sizeof out);
}

/* --- Codec tests -------------------------------------------------------- */

static void test_codec_round_trip(void **state) {
  carnet__announce a, b;
  uint8_t dg[CARNET__ANNOUNCE_BYTES], again[CARNET__ANNOUNCE_BYTES];
  int trust_calls = 0;
  make(K_PEER, team_t, NOW_MS, &a, dg);
  assert_memory_equal(dg, "CNA1\x01", 5);
  carnet__announce_check c = receiver(&trust_calls);
  const char *why = NULL;
  assert_int_equal(carnet__announce_decode(dg, sizeof dg, &c, &b, &why), 0);
  assert_string_equal(why, "");
  assert_int_equal(trust_calls, 1);
  assert_memory_equal(b.team, team_t, 16);
  assert_memory_equal(b.pk, key_pk[K_PEER], 32);
  assert_true(b.replica_id == 0x0102030405060708ull);
  assert_int_equal(b.port, 7373);
  assert_true(b.ts_ms == NOW_MS);
  assert_memory_equal(b.sig, a.sig, 64);
  carnet__announce_encode(&b, again);
  assert_memory_equal(again, dg, sizeof dg);
  /* NULL `why` is allowed. */
  assert_int_equal(carnet__announce_decode(dg, sizeof dg, &c, &b, NULL), 0);
}

/* The frozen wire format: Ed25519 is deterministic, so the bytes of a
 * fixed announcement never change. */
static void test_codec_golden_vector(void **state) {
  const char *src = getenv("CARNET_SOURCE_DIR");
  char path[4096];
  if (src && *src) {
    snprintf(path, sizeof path, "%s/tests/vectors/announce_v1.hex", src);
  } else { /* run by hand: find it from this file's path */
    snprintf(path, sizeof path, "%s", __FILE__);
    char *cut = strstr(path, "tests/replica/");
    assert_non_null(cut);
    snprintf(cut, sizeof path - (size_t)(cut - path), "tests/vectors/announce_v1.hex");
  }
  FILE *f = fopen(path, "r");
  if (f == NULL) fail_msg("cannot open %s: %s", path, strerror(errno));
  uint8_t want[CARNET__ANNOUNCE_BYTES];
  size_t n = 0;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    for (char *p = line; p[0] && p[1] && p[0] != '\n'; p += 2) {
      unsigned v;
      assert_int_equal(sscanf(p, "%2x", &v), 1);
      assert_true(n < sizeof want);
      want[n++] = (uint8_t)v;
    }
  }
  fclose(f);
  assert_int_equal(n, sizeof want);
  carnet__announce a;
  uint8_t dg[CARNET__ANNOUNCE_BYTES];
  make(K_PEER, team_t, NOW_MS, &a, dg);
  assert_memory_equal(dg, want, sizeof want);
  const char *why;
  assert_int_equal(decode(want, sizeof want, &why), 0);
}

static void test_reject_stranger(void **state) {
  carnet__announce a;
  uint8_t dg[CARNET__ANNOUNCE_BYTES];
  make(K_STRANGER, team_t, NOW_MS, &a, dg);
  assert_refused(dg, sizeof dg, CARNET_EPERM, "do not trust");
}

static void test_reject_other_team(void **state) {
  carnet__announce a;
  uint8_t dg[CARNET__ANNOUNCE_BYTES];
  int trust_calls = 0;
  make(K_PEER, team_o, NOW_MS, &a, dg);
  assert_refused(dg, sizeof dg, CARNET_EPERM, "another team");
  /* Refused before the trust list is read. */
  carnet__announce_check c = receiver(&trust_calls);
  carnet__announce out;
  assert_int_equal(carnet__announce_decode(dg, sizeof dg, &c, &out, NULL), CARNET_EPERM);
  assert_int_equal(trust_calls, 0);
}

static void test_reject_own_key(void **state) {
  carnet__announce a;
  uint8_t dg[CARNET__ANNOUNCE_BYTES];
  make(K_SELF, team_t, NOW_MS, &a, dg);
  assert_refused(dg, sizeof dg, CARNET_EPERM, "own");
}

static void test_reject_stale_or_future(void **state) {
  carnet__announce a;
  uint8_t dg[CARNET__ANNOUNCE_BYTES];
  const uint64_t skew = CARNET__ANNOUNCE_SKEW_MS_MAX;
  const char *why;
  /* The window's edges are in, one millisecond past them is out. */
  make(K_PEER, team_t, NOW_MS - skew, &a, dg);
  assert_int_equal(decode(dg, sizeof dg, &why), 0);
  make(K_PEER, team_t, NOW_MS + skew, &a, dg);
  assert_int_equal(decode(dg, sizeof dg, &why), 0);
  make(K_PEER, team_t, NOW_MS - skew - 1, &a, dg);
  assert_refused(dg, sizeof dg, CARNET_EPERM, "timestamp");
  make(K_PEER, team_t, NOW_MS + skew + 1, &a, dg);
  assert_refused(dg, sizeof dg, CARNET_EPERM, "timestamp");
  /* A replay an hour later, and absurd stamps that must not wrap. */
  make(K_PEER, team_t, NOW_MS - 3600000, &a, dg);
  assert_refused(dg, sizeof dg, CARNET_EPERM, "timestamp");
  make(K_PEER, team_t, 0, &a, dg);
  assert_refused(dg, sizeof dg, CARNET_EPERM, "timestamp");
  make(K_PEER, team_t, UINT64_MAX, &a, dg);
  assert_refused(dg, sizeof dg, CARNET_EPERM, "timestamp");
  /* The receiver's own bound, when it gives one. */
  make(K_PEER, team_t, NOW_MS - 5000, &a, dg);
  carnet__announce_check c = receiver(NULL);
  c.skew_ms_max = 1000;
  carnet__announce out;
  assert_int_equal(carnet__announce_decode(dg, sizeof dg, &c, &out, NULL), CARNET_EPERM);
}

/* Any one byte changed is refused; in the signed fields the receiver would
 * otherwise believe (replica id, port, timestamp) and in the signature
 * itself, by the signature check. */
static void test_reject_tampered(void **state) {
  carnet__announce a;
  uint8_t dg[CARNET__ANNOUNCE_BYTES], bad[CARNET__ANNOUNCE_BYTES];
  make(K_PEER, team_t, NOW_MS, &a, dg);
  for (size_t i = 0; i < sizeof dg; i++) {
    for (int bit = 0; bit < 8; bit += 7) {
      memcpy(bad, dg, sizeof bad);
      bad[i] ^= (uint8_t)(1u << bit);
      const char *why = NULL;
      int rc = decode(bad, sizeof bad, &why);
      if (rc == 0) fail_msg("byte %zu bit %d flipped: accepted", i, bit);
      bool signed_field = i >= CARNET__ANNOUNCE_PK_OFFSET + 32;
      if (signed_field && (i < 63 || i >= 63 + 6) &&
          (rc != CARNET_EPROTO || !strstr(why, "signature")))
        fail_msg("byte %zu bit %d flipped: %d '%s', want a signature failure", i, bit, rc, why);
    }
  }
  /* The low bytes of the timestamp stay in the window: the signature
   * catches them. */
  memcpy(bad, dg, sizeof bad);
  bad[70] ^= 1;
  assert_refused(bad, sizeof bad, CARNET_EPROTO, "signature");
  /* Another key's signature on our peer's body. */
  carnet__announce s;
  uint8_t other[CARNET__ANNOUNCE_BYTES];
  make(K_STRANGER, team_t, NOW_MS, &s, other);
  memcpy(bad, dg, sizeof bad);
  memcpy(bad + CARNET__ANNOUNCE_BODY_BYTES, other + CARNET__ANNOUNCE_BODY_BYTES, 64);
  assert_refused(bad, sizeof bad, CARNET_EPROTO, "signature");
}

static void test_reject_form(void **state) {
  carnet__announce a;
  uint8_t dg[CARNET__ANNOUNCE_BYTES + 1], bad[CARNET__ANNOUNCE_BYTES + 1];
  make(K_PEER, team_t, NOW_MS, &a, dg);
  dg[CARNET__ANNOUNCE_BYTES] = 0;
  /* Truncated at every length, and one byte too long. */
  for (size_t len = 0; len < CARNET__ANNOUNCE_BYTES; len++) {
    const char *why = NULL;
    assert_int_equal(decode(dg, len, &why), CARNET_EPROTO);
    assert_true(why && why[0]);
  }
  assert_refused(dg, 3, CARNET_EPROTO, "magic");
  assert_refused(dg, 100, CARNET_EPROTO, "size");
  assert_refused(dg, CARNET__ANNOUNCE_BYTES + 1, CARNET_EPROTO, "size");
  assert_refused(NULL, 0, CARNET_EPROTO, "magic");
  memcpy(bad, dg, sizeof bad);
  bad[0] = 'X';
  assert_refused(bad, CARNET__ANNOUNCE_BYTES, CARNET_EPROTO, "magic");
  memcpy(bad, dg, sizeof bad);
  bad[4] = 2; /* a future version, even at the right size */
  assert_refused(bad, CARNET__ANNOUNCE_BYTES, CARNET_EPROTO, "version");
  assert_refused(bad, 200, CARNET_EPROTO, "version");
  /* Port 0, even correctly signed. */
  carnet__announce z;
  uint8_t zdg[CARNET__ANNOUNCE_BYTES];
  make(K_PEER, team_t, NOW_MS, &z, zdg);
  zdg[61] = zdg[62] = 0;
  uint8_t sig[64];
  int who = K_PEER;
  sign_with_key(&who, zdg, CARNET__ANNOUNCE_BODY_BYTES, sig);
  memcpy(zdg + CARNET__ANNOUNCE_BODY_BYTES, sig, 64);
  assert_refused(zdg, sizeof zdg, CARNET_EPROTO, "port 0");
}

static void test_sign_errors(void **state) {
  carnet__announce a;
  uint8_t dg[CARNET__ANNOUNCE_BYTES];
  int who = K_PEER;
  make(K_PEER, team_t, NOW_MS, &a, dg);
  a.port = 0;
  assert_int_equal(carnet__announce_sign(&a, sign_with_key, &who), CARNET_EINVAL);
  a.port = 1;
  static const uint8_t zero[64];
  assert_int_equal(carnet__announce_sign(&a, failing_sign, NULL), CARNET_EIO);
  assert_memory_equal(a.sig, zero, 64);
}

/* --- Live fixtures: replicas on one loop -------------------------------- */

#define LIVE_INTERVAL_MS 100u
#define LIVE_MIN_MS 600u  /* run at least this long: the stranger had its chances */
#define LIVE_MAX_MS 2000u /* and never longer */
#define REPORTS_MAX 256

typedef struct report {
  char addr[64];
  uint8_t pk[32];
  uint64_t replica_id;
  uint64_t at; /* uv_now */
} report;

typedef struct node {
  const char *name;
  char *dir;
  tenv env;
  carnet_env ce;
  carnet_replica *r;
  uint8_t pk[32], team[16];
  uint16_t tcp_port;
  carnet__discovery *d;
  uv_loop_t *loop;
  report reports[REPORTS_MAX];
  unsigned nreports;
  bool done;
  bool odd;                      /* a callback came when it should not have */
  carnet__discovery_stats stats; /* read at stop */
} node;

typedef struct live {
  char *root;
  uv_loop_t loop;
  bool loop_open;
  node n[3];
} live;

static void node_open(live *l, node *n, const char *name, uint64_t seed, uint16_t tcp_port) {
  n->name = name;
  n->dir = tdir_join(l->root, name);
  assert_non_null(n->dir);
  tenv_init(&n->env, TENV_EPOCH_MS, seed);
  n->env.name = name;
  tenv_fill(&n->env, &n->ce);
  char err[256] = "";
  int rc = carnet_replica_init(n->dir, &n->ce, &n->r, err, sizeof err);
  if (rc) fail_msg("carnet_replica_init %s: %s: %s", name, carnet_error_name(rc), err);
  assert_int_equal(carnet_replica_get_identity(n->r, n->pk, n->team), 0);
  n->tcp_port = tcp_port;
  n->loop = &l->loop;
}

static int live_setup(void **state) {
  live *l = calloc(1, sizeof *l);
  assert_non_null(l);
  l->root = tdir_new("discovery");
  assert_non_null(l->root);
  assert_int_equal(uv_loop_init(&l->loop), 0);
  l->loop_open = true;
  *state = l;
  return 0;
}

static void close_leftover(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static int live_teardown(void **state) {
  live *l = *state;
  /* After a failed test: stop what still runs, then close any other handle
   * the test left open, so the loop closes cleanly. */
  for (int i = 0; i < 3; i++) {
    node *n = &l->n[i];
    if (n->d && !n->done) carnet__discovery_stop(n->d, NULL, NULL);
  }
  if (l->loop_open) {
    uv_walk(&l->loop, close_leftover, NULL);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&l->loop), 0);
  }
  for (int i = 0; i < 3; i++) {
    carnet_replica_close(l->n[i].r);
    free(l->n[i].dir);
  }
  tdir_remove(l->root);
  free(l->root);
  free(l);
  return 0;
}

/* A UDP port nobody on this host uses right now, so that two runs of the
 * suite at once (a sanitizer build next to a plain one) do not hear each
 * other: probed by binding without SO_REUSEADDR, starting from a point that
 * depends on the pid. */
static uint16_t free_udp_port(void) {
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  uint16_t found = 0;
  for (unsigned i = 0; i < 200 && !found; i++) {
    uint16_t port = (uint16_t)(20000 + ((unsigned)getpid() * 7u + i * 131u) % 30000u);
    uv_udp_t u;
    struct sockaddr_in sa;
    uv_udp_init(&loop, &u);
    uv_ip4_addr("0.0.0.0", port, &sa);
    if (uv_udp_bind(&u, (const struct sockaddr *)&sa, 0) == 0) found = port;
    uv_close((uv_handle_t *)&u, NULL);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  assert_true(found != 0);
  return found;
}

/* Callbacks record, the test asserts after uv_run: a cmocka failure
 * longjmps, which must not happen from inside the loop. */
static void on_peer(void *data, const char *addr, const uint8_t pk[32], uint64_t replica_id) {
  node *n = data;
  if (n->done || n->nreports == REPORTS_MAX || strlen(addr) >= sizeof n->reports[0].addr) {
    n->odd = true;
    return;
  }
  report *rp = &n->reports[n->nreports++];
  strcpy(rp->addr, addr);
  memcpy(rp->pk, pk, 32);
  rp->replica_id = replica_id;
  rp->at = uv_now(n->loop);
}

static void on_stopped(void *data) {
  node *n = data;
  if (n->done) n->odd = true;
  n->done = true;
}

/* How many times `n` reported the key of `of`, and was the last report
 * right (address, replica id)? */
static unsigned reports_of(const node *n, const node *of, bool *right) {
  unsigned count = 0;
  char want[64];
  snprintf(want, sizeof want, "127.0.0.1:%u", (unsigned)of->tcp_port);
  *right = true;
  for (unsigned i = 0; i < n->nreports; i++) {
    if (memcmp(n->reports[i].pk, of->pk, 32) != 0) continue;
    count++;
    if (strcmp(n->reports[i].addr, want) != 0 ||
        n->reports[i].replica_id != carnet_replica_id(of->r))
      *right = false;
  }
  return count;
}

typedef struct run {
  live *l;
  uv_timer_t timer;
  uint64_t started;
  bool stopping;
} run;

static void stop_all(run *ru) {
  ru->stopping = true;
  uv_close((uv_handle_t *)&ru->timer, NULL);
  for (int i = 0; i < 3; i++) {
    node *n = &ru->l->n[i];
    carnet__discovery_stats_get(n->d, &n->stats);
    carnet__discovery_stop(n->d, on_stopped, n);
  }
}

static void on_check(uv_timer_t *t) {
  run *ru = t->data;
  live *l = ru->l;
  uint64_t elapsed = uv_now(&l->loop) - ru->started;
  bool right;
  bool learnt =
      reports_of(&l->n[0], &l->n[1], &right) > 0 && reports_of(&l->n[1], &l->n[0], &right) > 0;
  if ((learnt && elapsed >= LIVE_MIN_MS) || elapsed >= LIVE_MAX_MS) stop_all(ru);
}

/* Two trusted replicas of team T (A, B) and a stranger S: S adopted T's
 * team id and trusts A and B, but neither trusts S. Expect: A and B learn
 * each other's TCP address and key; neither ever reports S (whose
 * announcements reach them and are refused); S, which trusts them, reports
 * both (trust is one-sided: their handshakes would refuse S); and no key is
 * reported more often than once per interval. */
static void test_live_three_replicas(void **state) {
  live *l = *state;
  node *a = &l->n[0], *b = &l->n[1], *s = &l->n[2];
  node_open(l, a, "A", 1, 17001);
  node_open(l, b, "B", 2, 17002);
  node_open(l, s, "S", 3, 17003);
  assert_int_equal(carnet_replica_set_team(b->r, a->team), 0);
  assert_int_equal(carnet_replica_set_team(s->r, a->team), 0);
  /* With an address: a peer trusted with addr NULL trips UBSan in
   * engine/store/peer.c's peer_decode (memcpy from a NULL empty string), which is
   * the engine's to fix. */
  assert_int_equal(carnet_peer_trust(a->r, b->pk, "127.0.0.1:17002"), 0);
  assert_int_equal(carnet_peer_trust(b->r, a->pk, "127.0.0.1:17001"), 0);
  assert_int_equal(carnet_peer_trust(s->r, a->pk, "127.0.0.1:17001"), 0);
  assert_int_equal(carnet_peer_trust(s->r, b->pk, "127.0.0.1:17002"), 0);

  carnet__discovery_opts o = {.group = "239.255.42.99",
                              .udp_port = free_udp_port(),
                              .iface = "127.0.0.1",
                              .interval_ms = LIVE_INTERVAL_MS};
  for (int i = 0; i < 3; i++) {
    node *n = &l->n[i];
    int rc = carnet__discovery_start(&l->loop, n->r, n->tcp_port, &o, on_peer, n, &n->d);
    if (rc)
      fail_msg("start %s: %s: %s", n->name, carnet_error_name(rc), carnet_replica_errmsg(n->r));
  }
  run ru = {.l = l};
  uv_update_time(&l->loop);
  ru.started = uv_now(&l->loop);
  uv_timer_init(&l->loop, &ru.timer);
  ru.timer.data = &ru;
  uv_timer_start(&ru.timer, on_check, 50, 50);
  uv_run(&l->loop, UV_RUN_DEFAULT); /* returns once everything is closed */
  uint64_t elapsed = uv_now(&l->loop) - ru.started;
  for (int i = 0; i < 3; i++) {
    const node *n = &l->n[i];
    print_message("%s: sent %" PRIu64 ", received %" PRIu64 ", own %" PRIu64 ", ignored %" PRIu64
                  ", rate limited %" PRIu64 ", reported %" PRIu64 " (%" PRIu64 " ms)\n",
                  n->name, n->stats.sent, n->stats.received, n->stats.own, n->stats.ignored,
                  n->stats.rate_limited, n->stats.reported, elapsed);
    assert_true(n->done);
    assert_false(n->odd);
    assert_true(n->stats.sent >= 2);
    assert_int_equal(n->stats.send_failed, 0);
    assert_true(n->stats.own >= 1); /* multicast loop is on */
    assert_int_equal(n->stats.reported, n->nreports);
  }
  assert_true(elapsed < LIVE_MAX_MS + 500);

  bool right;
  assert_true(reports_of(a, b, &right) >= 1);
  assert_true(right);
  assert_true(reports_of(b, a, &right) >= 1);
  assert_true(right);
  assert_int_equal(reports_of(a, s, &right), 0);
  assert_int_equal(reports_of(b, s, &right), 0);
  assert_true(a->stats.ignored >= 1); /* S's announcements did reach A and B */
  assert_true(b->stats.ignored >= 1);
  assert_true(reports_of(s, a, &right) >= 1);
  assert_true(right);
  assert_true(reports_of(s, b, &right) >= 1);
  assert_true(right);

  /* Rate limit: reports of one key are at least an interval apart. */
  for (int i = 0; i < 3; i++) {
    const node *n = &l->n[i];
    for (unsigned x = 0; x < n->nreports; x++)
      for (unsigned y = x + 1; y < n->nreports; y++)
        if (memcmp(n->reports[x].pk, n->reports[y].pk, 32) == 0)
          assert_true(n->reports[y].at - n->reports[x].at >= LIVE_INTERVAL_MS);
  }
}

/* A newcomer is answered at once. Both replicas announce only once an hour
 * (the longest interval), so the only way B can hear of A, which started
 * earlier and already announced to nobody, is A answering B's first
 * announcement; B answers A's answer once, and A does not answer that
 * (B is no newcomer any more), so the exchange stops there. */
typedef struct answer_run {
  live *l;
  uv_timer_t timer;
  uint64_t started;
  int phase; /* 0: A alone, waiting for its first announcement; 1: both */
  carnet__discovery_opts o;
  bool start_failed;
} answer_run;

static void answer_stop(answer_run *ar) {
  uv_close((uv_handle_t *)&ar->timer, NULL);
  for (int i = 0; i < 2; i++) {
    node *n = &ar->l->n[i];
    if (!n->d) continue;
    carnet__discovery_stats_get(n->d, &n->stats);
    carnet__discovery_stop(n->d, on_stopped, n);
  }
}

static void answer_check(uv_timer_t *t) {
  answer_run *ar = t->data;
  live *l = ar->l;
  node *a = &l->n[0], *b = &l->n[1];
  uint64_t elapsed = uv_now(&l->loop) - ar->started;
  if (ar->phase == 0) {
    carnet__discovery_stats st;
    carnet__discovery_stats_get(a->d, &st);
    if (st.sent == 1) {
      ar->phase = 1;
      if (carnet__discovery_start(&l->loop, b->r, b->tcp_port, &ar->o, on_peer, b, &b->d) != 0) {
        ar->start_failed = true;
        answer_stop(ar);
      }
    } else if (elapsed >= LIVE_MAX_MS) {
      answer_stop(ar);
    }
    return;
  }
  bool right;
  if ((reports_of(b, a, &right) > 0 && reports_of(a, b, &right) > 0) || elapsed >= LIVE_MAX_MS)
    answer_stop(ar);
}

static void test_newcomer_answered(void **state) {
  live *l = *state;
  node *a = &l->n[0], *b = &l->n[1];
  node_open(l, a, "A", 1, 17011);
  node_open(l, b, "B", 2, 17012);
  assert_int_equal(carnet_replica_set_team(b->r, a->team), 0);
  assert_int_equal(carnet_peer_trust(a->r, b->pk, "127.0.0.1:17012"), 0);
  assert_int_equal(carnet_peer_trust(b->r, a->pk, "127.0.0.1:17011"), 0);

  answer_run ar = {.l = l};
  ar.o = (carnet__discovery_opts){.group = "239.255.42.99",
                                  .udp_port = free_udp_port(),
                                  .iface = "127.0.0.1",
                                  .interval_ms = CARNET_DISCOVERY_INTERVAL_MS_MAX};
  int rc = carnet__discovery_start(&l->loop, a->r, a->tcp_port, &ar.o, on_peer, a, &a->d);
  if (rc) fail_msg("start A: %s: %s", carnet_error_name(rc), carnet_replica_errmsg(a->r));
  uv_update_time(&l->loop);
  ar.started = uv_now(&l->loop);
  uv_timer_init(&l->loop, &ar.timer);
  ar.timer.data = &ar;
  uv_timer_start(&ar.timer, answer_check, 10, 10);
  uv_run(&l->loop, UV_RUN_DEFAULT);
  uint64_t elapsed = uv_now(&l->loop) - ar.started;
  print_message("A: sent %" PRIu64 ", answered %" PRIu64 "; B: sent %" PRIu64 ", answered %" PRIu64
                " (%" PRIu64 " ms)\n",
                a->stats.sent, a->stats.answered, b->stats.sent, b->stats.answered, elapsed);
  assert_false(ar.start_failed);
  assert_int_equal(ar.phase, 1);
  assert_true(a->done && b->done);
  assert_false(a->odd || b->odd);
  bool right;
  assert_int_equal(reports_of(b, a, &right), 1);
  assert_true(right);
  assert_int_equal(reports_of(a, b, &right), 1);
  assert_true(right);
  assert_int_equal(a->stats.answered, 1);
  assert_int_equal(a->stats.sent, 2); /* the first, to nobody, and the answer */
  assert_true(b->stats.answered <= 1);
  assert_true(elapsed < LIVE_MAX_MS);
}

/* --- Start errors --------------------------------------------------------- */

static void test_start_errors(void **state) {
  live *l = *state;
  node *a = &l->n[0];
  node_open(l, a, "A", 1, 17001);
  carnet__discovery *d = (carnet__discovery *)(uintptr_t)1;
  carnet__discovery_opts o = {.iface = "127.0.0.1", .udp_port = free_udp_port()};

  assert_int_equal(carnet__discovery_start(&l->loop, a->r, 0, &o, on_peer, a, &d), CARNET_EINVAL);
  assert_null(d);
  assert_non_null(strstr(carnet_replica_errmsg(a->r), "TCP port"));
  o.group = "10.1.2.3";
  assert_int_equal(carnet__discovery_start(&l->loop, a->r, 1, &o, on_peer, a, &d), CARNET_EINVAL);
  assert_non_null(strstr(carnet_replica_errmsg(a->r), "10.1.2.3"));
  o.group = "not-an-address";
  assert_int_equal(carnet__discovery_start(&l->loop, a->r, 1, &o, on_peer, a, &d), CARNET_EINVAL);
  o.group = NULL;
  o.iface = "lo";
  assert_int_equal(carnet__discovery_start(&l->loop, a->r, 1, &o, on_peer, a, &d), CARNET_EINVAL);
  assert_non_null(strstr(carnet_replica_errmsg(a->r), "interface"));
  o.iface = "192.0.2.254"; /* TEST-NET-1: an address, but none of this host's */
  assert_int_equal(carnet__discovery_start(&l->loop, a->r, 1, &o, on_peer, a, &d), CARNET_EINVAL);
  assert_null(d);
  uv_run(&l->loop, UV_RUN_DEFAULT); /* the socket it made closes */
  o.iface = "127.0.0.1";
  o.interval_ms = CARNET_DISCOVERY_INTERVAL_MS_MIN - 1;
  assert_int_equal(carnet__discovery_start(&l->loop, a->r, 1, &o, on_peer, a, &d), CARNET_EINVAL);
  o.interval_ms = CARNET_DISCOVERY_INTERVAL_MS_MAX + 1;
  assert_int_equal(carnet__discovery_start(&l->loop, a->r, 1, &o, on_peer, a, &d), CARNET_EINVAL);
  o.interval_ms = 0;
  /* None of these left anything on the loop. */
  assert_int_equal(uv_loop_alive(&l->loop), 0);

  /* The port held by a socket without SO_REUSEADDR: EBUSY, and what was
   * opened closes on the next turn of the loop. */
  uv_udp_t hog;
  struct sockaddr_in sa;
  uv_udp_init(&l->loop, &hog);
  uv_ip4_addr("0.0.0.0", o.udp_port, &sa);
  assert_int_equal(uv_udp_bind(&hog, (const struct sockaddr *)&sa, 0), 0);
  assert_int_equal(carnet__discovery_start(&l->loop, a->r, 1, &o, on_peer, a, &d), CARNET_EBUSY);
  assert_null(d);
  assert_non_null(strstr(carnet_replica_errmsg(a->r), "bind"));
  uv_close((uv_handle_t *)&hog, NULL);
  uv_run(&l->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_alive(&l->loop), 0);
  assert_int_equal(a->nreports, 0);

  /* Started then stopped at once: `done` runs once, nothing is left. */
  assert_int_equal(carnet__discovery_start(&l->loop, a->r, 1, &o, on_peer, a, &d), 0);
  assert_non_null(d);
  carnet__discovery_stop(d, on_stopped, a);
  assert_false(a->done);
  uv_run(&l->loop, UV_RUN_DEFAULT);
  assert_true(a->done);
  assert_false(a->odd);
}

int main(void) {
  keys_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codec_round_trip),
      cmocka_unit_test(test_codec_golden_vector),
      cmocka_unit_test(test_reject_stranger),
      cmocka_unit_test(test_reject_other_team),
      cmocka_unit_test(test_reject_own_key),
      cmocka_unit_test(test_reject_stale_or_future),
      cmocka_unit_test(test_reject_tampered),
      cmocka_unit_test(test_reject_form),
      cmocka_unit_test(test_sign_errors),
      cmocka_unit_test_setup_teardown(test_start_errors, live_setup, live_teardown),
      cmocka_unit_test_setup_teardown(test_live_three_replicas, live_setup, live_teardown),
      cmocka_unit_test_setup_teardown(test_newcomer_answered, live_setup, live_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
