/* replica/discovery.c - LAN discovery over UDP multicast (see discovery.h).
 *
 * One UDP socket does both jobs: it is bound to INADDR_ANY:udp_port with
 * SO_REUSEADDR, joins the group on the chosen interface, and sends the
 * announcements to group:udp_port from that interface (TTL 1, loop on). One
 * timer paces the announcements. Life of a component:
 *
 *   start ──> RUNNING ──stop──> CLOSING ──(both handles closed)──> done(), freed
 *                │  timer: refresh identity, sign, try_send, re-arm jittered
 *                │  recv:  decode+verify -> rate limit per key -> on_peer
 *
 * Invariants:
 *   1. on_peer is only called for an announcement that verified, from a
 *      trusted key of our team other than ours, within the skew window
 *      (announce.c checks it; the rate limit only ever removes calls).
 *   2. A key is reported at most once per interval_ms of the loop's
 *      monotonic clock (uv_now), whatever the replicas' wall clocks do.
 *   3. After stop, no callback of the caller's runs but `done`, once.
 *
 * Sends use uv_udp_try_send: an announcement is small, sent rarely and worth
 * nothing once late, so when the kernel cannot take it at once it is dropped
 * (the next one follows within an interval), and there is no send request
 * whose lifetime would have to be tracked through stop.
 *
 * The identity (key, team) is read again before each announcement, so a
 * replica that joins a team while running announces, and listens, for the
 * new team from its next tick on.
 */
#include "replica/discovery.h"
#include "engine/base/alloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/store/handle.h" /* carnet__now_ms, carnet__random, carnet__log, carnet__fail */
#include "engine/store/peer_int.h"
#include "replica/addr.h"
#include "replica/announce.h"

typedef struct seen_key {
  uint8_t pk[CARNET_PK_BYTES];
  uint64_t reported; /* uv_now of the last on_peer call for this key */
  uint64_t heard;    /* uv_now of the last verified announcement from it */
} seen_key;

struct carnet__discovery {
  uv_loop_t *loop;
  carnet_replica *r;
  uint16_t tcp_port;
  uint32_t interval_ms;
  struct sockaddr_in group; /* group address and UDP port: where we send */
  char group_text[INET_ADDRSTRLEN];
  char iface_text[INET_ADDRSTRLEN]; /* "" for INADDR_ANY */
  void (*log)(void *ctx, int level, const char *line);
  void *log_ctx;
  carnet__discovery_peer_cb on_peer;
  void *data;

  uv_udp_t udp;
  uv_timer_t timer;
  int open_handles; /* handles initialised and not yet closed */
  bool stopping;
  void (*done)(void *data);
  void *done_data;

  uint8_t pk[CARNET_PK_BYTES]; /* our identity, refreshed every tick */
  uint8_t team[CARNET_TEAM_BYTES];
  int last_send_err; /* the last send's outcome, so a failure is logged once */

  seen_key seen[CARNET_DISCOVERY_KEYS_MAX];
  unsigned nseen;
  carnet__discovery_stats stats;
  uint8_t rbuf[CARNET_DISCOVERY_RECV_BYTES];
};

static void dlog(carnet__discovery *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void dlog(carnet__discovery *d, int level, const char *fmt, ...) {
  char line[512];
  int n = snprintf(line, sizeof line, "discovery: ");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  if (d->log)
    d->log(d->log_ctx, level, line);
  else
    carnet__log(d->r, level, "%s", line);
}

/* libuv codes, translated at the boundary (STYLE 5). */
static int from_uv(int uv_err) {
  switch (uv_err) {
  case UV_ENOMEM:
  case UV_ENOBUFS:
    return CARNET_ENOMEM;
  case UV_EADDRINUSE:
    return CARNET_EBUSY;
  case UV_EINVAL:
  case UV_EADDRNOTAVAIL: /* the interface address is not one of this host's */
    return CARNET_EINVAL;
  default:
    return CARNET_EIO;
  }
}

/* --- closing ---------------------------------------------------------------- */

static void on_closed(uv_handle_t *h) {
  carnet__discovery *d = h->data;
  CARNET_ASSERT(d->open_handles > 0);
  if (--d->open_handles > 0) return;
  void (*done)(void *) = d->done;
  void *done_data = d->done_data;
  carnet__free(d);
  if (done) done(done_data);
}

static void close_all(carnet__discovery *d) {
  d->stopping = true;
  int n = d->open_handles; /* on_closed decrements: close what was opened */
  if (n >= 1) uv_close((uv_handle_t *)&d->udp, on_closed);
  if (n >= 2) uv_close((uv_handle_t *)&d->timer, on_closed);
}

void carnet__discovery_stop(carnet__discovery *d, void (*done)(void *data), void *data) {
  CARNET_ASSERT(d && !d->stopping && "carnet__discovery_stop called twice");
  d->done = done;
  d->done_data = data;
  close_all(d);
}

void carnet__discovery_stats_get(const carnet__discovery *d, carnet__discovery_stats *out) {
  *out = d->stats;
}

/* --- announcing ------------------------------------------------------------- */

static int sign_with_replica(void *ctx, const void *msg, size_t len, uint8_t sig[64]) {
  return carnet__sign(ctx, msg, len, sig);
}

/* The delay to the next announcement: uniform in interval +- 25 %. */
static uint64_t next_delay(carnet__discovery *d) {
  uint32_t rnd = 0;
  carnet__random(d->r, &rnd, sizeof rnd);
  uint64_t lo = d->interval_ms - d->interval_ms / 4, hi = d->interval_ms + d->interval_ms / 4;
  return lo + (((uint64_t)rnd * (hi - lo + 1)) >> 32);
}

static void announce(carnet__discovery *d) {
  carnet__announce a;
  uint8_t dgram[CARNET__ANNOUNCE_BYTES];
  memset(&a, 0, sizeof a);
  int rc = carnet_replica_get_identity(d->r, d->pk, d->team);
  if (rc == 0) {
    memcpy(a.team, d->team, sizeof a.team);
    memcpy(a.pk, d->pk, sizeof a.pk);
    a.replica_id = carnet_replica_id(d->r);
    a.port = d->tcp_port;
    a.ts_ms = carnet__now_ms(d->r);
    rc = carnet__announce_sign(&a, sign_with_replica, d->r);
  }
  if (rc) {
    d->stats.send_failed++;
    if (rc != d->last_send_err)
      dlog(d, CARNET_LOG_WARN, "cannot sign an announcement: %s", carnet_error_message(rc));
    d->last_send_err = rc;
    return;
  }
  carnet__announce_encode(&a, dgram);
  uv_buf_t buf = uv_buf_init((char *)dgram, sizeof dgram);
  int n = uv_udp_try_send(&d->udp, &buf, 1, (const struct sockaddr *)&d->group);
  if (n < 0) {
    d->stats.send_failed++;
    /* Once per kind of failure: a laptop off the network would otherwise log
     * a line every interval. */
    if (n != d->last_send_err)
      dlog(d, CARNET_LOG_WARN, "cannot send to %s:%u: %s (retrying every %.1f s)", d->group_text,
           (unsigned)ntohs(d->group.sin_port), uv_strerror(n), d->interval_ms / 1000.0);
    d->last_send_err = n;
    return;
  }
  if (d->last_send_err) dlog(d, CARNET_LOG_INFO, "announcing again");
  d->last_send_err = 0;
  d->stats.sent++;
}

static void on_tick(uv_timer_t *t) {
  carnet__discovery *d = t->data;
  if (d->stopping) return;
  announce(d);
  uv_timer_start(&d->timer, on_tick, next_delay(d), 0);
}

/* --- listening -------------------------------------------------------------- */

static int trusted_in_replica(void *ctx, const uint8_t pk[CARNET_PK_BYTES]) {
  return carnet_peer_check(ctx, pk);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  carnet__discovery *d = h->data;
  /* One datagram at a time (no UV_UDP_RECVMMSG): the buffer is free again
   * by the time libuv asks for the next one. */
  *buf = uv_buf_init((char *)d->rbuf, sizeof d->rbuf);
}

/* True when `pk` may be reported now (invariant 2); records the report.
 * *newcomer is set when the key was not heard for more than two intervals
 * (a replica that just started, or came back): its announcement is then
 * answered at once (answer_soon) instead of at our next tick. Periodic
 * announcements are at most 1.25 interval apart, so they never count as
 * newcomers and the answers cannot echo back and forth. */
static bool rate_ok(carnet__discovery *d, const uint8_t pk[CARNET_PK_BYTES], bool *newcomer) {
  uint64_t now = uv_now(d->loop);
  seen_key *slot = NULL;
  *newcomer = false;
  for (unsigned i = 0; i < d->nseen; i++) {
    if (memcmp(d->seen[i].pk, pk, CARNET_PK_BYTES) == 0) {
      *newcomer = now - d->seen[i].heard > 2 * (uint64_t)d->interval_ms;
      d->seen[i].heard = now;
      if (now - d->seen[i].reported < d->interval_ms) return false;
      d->seen[i].reported = now;
      return true;
    }
  }
  *newcomer = true;
  if (d->nseen < CARNET_DISCOVERY_KEYS_MAX) {
    slot = &d->seen[d->nseen++];
  } else {
    slot = &d->seen[0]; /* full: forget the key reported longest ago */
    for (unsigned i = 1; i < d->nseen; i++)
      if (d->seen[i].reported < slot->reported) slot = &d->seen[i];
  }
  memcpy(slot->pk, pk, CARNET_PK_BYTES);
  slot->reported = now;
  slot->heard = now;
  return true;
}

/* A newcomer announced itself: announce ourselves within a short random
 * delay (several replicas of a team answer one newcomer, the jitter spreads
 * them), unless our next tick is due sooner anyway. Without it a replica
 * that starts `carnet sync` waited for the others' next tick, up to 1.25
 * interval (6 s by default), before it could dial anyone. */
static void answer_soon(carnet__discovery *d) {
  uint32_t rnd = 0;
  carnet__random(d->r, &rnd, sizeof rnd);
  uint64_t span = d->interval_ms / 4 < 200 ? d->interval_ms / 4 : 200;
  uint64_t delay = ((uint64_t)rnd * (span + 1)) >> 32;
  if (uv_timer_get_due_in(&d->timer) <= delay) return;
  uv_timer_start(&d->timer, on_tick, delay, 0);
  d->stats.answered++;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags) {
  carnet__discovery *d = h->data;
  if (d->stopping) return;
  if (nread == 0 && from == NULL) return; /* nothing more to read for now */
  if (nread < 0) {
    dlog(d, CARNET_LOG_DEBUG, "receive failed: %s", uv_strerror((int)nread));
    return;
  }
  d->stats.received++;
  if (from == NULL || from->sa_family != AF_INET) { /* we bound an IPv4 socket: cannot happen */
    d->stats.ignored++;
    return;
  }
  char src[CARNET__ADDR_NUMERIC_MAX];
  carnet__addr_format(from, src, sizeof src);
  if (flags & UV_UDP_PARTIAL) {
    d->stats.ignored++;
    dlog(d, CARNET_LOG_DEBUG, "ignored a datagram from %s: too long", src);
    return;
  }
  const uint8_t *p = (const uint8_t *)buf->base;
  size_t len = (size_t)nread;
  /* Our own announcements come back (multicast loop): skip them without a
   * log line, they arrive every interval. */
  if (len == CARNET__ANNOUNCE_BYTES &&
      memcmp(p + CARNET__ANNOUNCE_PK_OFFSET, d->pk, CARNET_PK_BYTES) == 0) {
    d->stats.own++;
    return;
  }
  carnet__announce a;
  const char *why = "";
  carnet__announce_check chk = {
      .team = d->team,
      .self_pk = d->pk,
      .now_ms = carnet__now_ms(d->r),
      .trusted = trusted_in_replica,
      .trusted_ctx = d->r,
  };
  if (carnet__announce_decode(p, len, &chk, &a, &why) != 0) {
    d->stats.ignored++;
    dlog(d, CARNET_LOG_DEBUG, "ignored a datagram from %s: %s", src, why);
    return;
  }
  bool newcomer;
  bool report = rate_ok(d, a.pk, &newcomer);
  if (newcomer) answer_soon(d);
  if (!report) {
    d->stats.rate_limited++;
    return;
  }
  /* Dial the address the datagram came from, on the port it announced. */
  struct sockaddr_in peer;
  memcpy(&peer, from, sizeof peer);
  peer.sin_port = htons(a.port);
  char addr[CARNET__ADDR_NUMERIC_MAX];
  carnet__addr_format((const struct sockaddr *)&peer, addr, sizeof addr);
  d->stats.reported++;
  dlog(d, CARNET_LOG_DEBUG, "peer %02x%02x%02x%02x at %s", a.pk[0], a.pk[1], a.pk[2], a.pk[3],
       addr);
  d->on_peer(d->data, addr, a.pk, a.replica_id);
}

/* --- starting --------------------------------------------------------------- */

static int parse_opts(carnet__discovery *d, const carnet__discovery_opts *o) {
  carnet_replica *r = d->r;
  const char *group = o && o->group ? o->group : CARNET_DISCOVERY_GROUP;
  uint16_t port = o && o->udp_port ? o->udp_port : CARNET_DISCOVERY_UDP_PORT;
  const char *iface = o && o->iface && o->iface[0] ? o->iface : NULL;
  uint32_t interval = o && o->interval_ms ? o->interval_ms : CARNET_DISCOVERY_INTERVAL_MS;

  if (d->tcp_port == 0) return carnet__fail(r, CARNET_EINVAL, "discovery: no TCP port to announce");
  if (uv_ip4_addr(group, port, &d->group) != 0 || !IN_MULTICAST(ntohl(d->group.sin_addr.s_addr)))
    return carnet__fail(r, CARNET_EINVAL,
                        "discovery: '%s' is not an IPv4 multicast group (224.0.0.0/4)", group);
  snprintf(d->group_text, sizeof d->group_text, "%s", group);
  if (iface) {
    struct sockaddr_in ia;
    if (uv_ip4_addr(iface, 0, &ia) != 0)
      return carnet__fail(r, CARNET_EINVAL,
                          "discovery: interface '%s' is not an IPv4 address (e.g. 192.168.1.10)",
                          iface);
    snprintf(d->iface_text, sizeof d->iface_text, "%s", iface);
  }
  if (interval < CARNET_DISCOVERY_INTERVAL_MS_MIN || interval > CARNET_DISCOVERY_INTERVAL_MS_MAX)
    return carnet__fail(r, CARNET_EINVAL, "discovery: interval %u ms is outside %u..%u ms",
                        interval, CARNET_DISCOVERY_INTERVAL_MS_MIN,
                        CARNET_DISCOVERY_INTERVAL_MS_MAX);
  d->interval_ms = interval;
  if (o) {
    d->log = o->log;
    d->log_ctx = o->log_ctx;
  }
  return 0;
}

/* Set up the socket: bind, multicast options, join, receive. */
static int open_socket(carnet__discovery *d) {
  const char *iface = d->iface_text[0] ? d->iface_text : NULL;
  struct sockaddr_in any;
  int rc;
  const char *what;
  uv_ip4_addr("0.0.0.0", ntohs(d->group.sin_port), &any);
  if ((rc = uv_udp_bind(&d->udp, (const struct sockaddr *)&any, UV_UDP_REUSEADDR))) {
    what = "bind the UDP port";
    goto fail;
  }
  if ((rc = uv_udp_set_multicast_loop(&d->udp, 1))) {
    what = "turn multicast loop on";
    goto fail;
  }
  if ((rc = uv_udp_set_multicast_ttl(&d->udp, 1))) {
    what = "set the multicast TTL";
    goto fail;
  }
  if (iface && (rc = uv_udp_set_multicast_interface(&d->udp, iface))) {
    what = "send multicast on the interface";
    goto fail;
  }
  if ((rc = uv_udp_set_membership(&d->udp, d->group_text, iface, UV_JOIN_GROUP))) {
    what = "join the multicast group";
    goto fail;
  }
  if ((rc = uv_udp_recv_start(&d->udp, on_alloc, on_recv))) {
    what = "start receiving";
    goto fail;
  }
  return 0;
fail:
  return carnet__fail(
      d->r, from_uv(rc), "discovery: cannot %s (group %s, UDP port %u, interface %s): %s", what,
      d->group_text, (unsigned)ntohs(d->group.sin_port), iface ? iface : "any", uv_strerror(rc));
}

int carnet__discovery_start(uv_loop_t *loop, carnet_replica *r, uint16_t tcp_port,
                            const carnet__discovery_opts *opts, carnet__discovery_peer_cb on_peer,
                            void *data, carnet__discovery **out) {
  CARNET_ASSERT(loop && r && on_peer && out);
  *out = NULL;
  carnet__discovery *d = carnet__calloc(1, sizeof *d);
  if (d == NULL) return carnet__fail(r, CARNET_ENOMEM, "discovery: out of memory");
  d->loop = loop;
  d->r = r;
  d->tcp_port = tcp_port;
  d->on_peer = on_peer;
  d->data = data;
  int rc = parse_opts(d, opts);
  if (rc == 0 && (rc = carnet_replica_get_identity(r, d->pk, d->team)) != 0)
    rc = carnet__fail(r, CARNET_EIO, "discovery: cannot read the replica's identity: %s",
                      carnet_error_message(rc));
  if (rc) { /* nothing is on the loop yet */
    carnet__free(d);
    return rc;
  }

  /* From here on a failure closes what is on the loop: the memory goes in
   * on_closed, and no callback of the caller runs (done is NULL). */
  int uv_rc = uv_udp_init(loop, &d->udp);
  if (uv_rc) {
    carnet__free(d);
    return carnet__fail(r, from_uv(uv_rc), "discovery: cannot make a UDP socket: %s",
                        uv_strerror(uv_rc));
  }
  d->udp.data = d;
  d->open_handles = 1;
  uv_timer_init(loop, &d->timer); /* cannot fail */
  d->timer.data = d;
  d->open_handles = 2;
  if ((rc = open_socket(d)) != 0) {
    close_all(d);
    return rc;
  }
  uv_timer_start(&d->timer, on_tick, 0, 0); /* first announcement: next turn of the loop */
  dlog(d, CARNET_LOG_DEBUG, "announcing TCP port %u on %s:%u every %u ms (interface %s)",
       (unsigned)tcp_port, d->group_text, (unsigned)ntohs(d->group.sin_port), d->interval_ms,
       d->iface_text[0] ? d->iface_text : "any");
  *out = d;
  return 0;
}
