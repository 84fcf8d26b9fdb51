/* replica/node.c - the running node: the loop, the listener, the peers it
 * dials, the tick, signals and a clean stop (see node.h).
 *
 * Everything happens on one libuv loop, in one thread, so the replica and
 * its sessions need no locks. One timer ticks every CARNET_NODE_TICK_MS:
 *
 *   - every connection: carnet_session_tick (pushes local changes, pings,
 *     times out a silent peer) and the connection's own deadlines;
 *   - anti-entropy: every configured peer with no connection whose backoff
 *     delay has passed is dialled. Delays grow from 250 ms to 30 s with
 *     jitter (replica/backoff.h) and are reset by a session that gets
 *     through its handshake, so a peer that comes back is resynced within
 *     30 s, and a peer that refuses us is not hammered;
 *   - the node's timeout, and the stop deadline.
 *
 * Stopping (a signal, `once` done, the timeout): the listener closes, every
 * authenticated session says BYE and flushes, the rest close at once; after
 * CARNET_NODE_STOP_MS whatever is left is closed by force. When the last
 * connection and DNS lookup are gone, the timer and signal handles close
 * and uv_run returns, so uv_loop_close finds nothing open.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/erase.h"
#include "engine/alloc.h"
#include "carnet/error.h"
#include "engine/replica_int.h" /* carnet__now_ms, carnet__random: the replica's env */
#include "replica/discovery.h"
#include "replica/node_int.h"

void carnet__node_log(carnet__node *n, int level, const char *fmt, ...) {
  char line[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  for (char *p = line; *p; p++) /* one line, whatever a peer put in a message */
    if (*p == '\n' || *p == '\r') *p = ' ';
  if (n->opts.log)
    n->opts.log(n->opts.log_ctx, level, line);
  else if (level <= CARNET_LOG_INFO)
    fprintf(stderr, "carnet: %s\n", line);
}

const char *carnet__node_key_short(const uint8_t pk[CARNET_PK_BYTES], char out[16]) {
  snprintf(out, 16, "%02x%02x%02x%02x\xe2\x80\xa6", pk[0], pk[1], pk[2], pk[3]);
  return out;
}

uint64_t carnet__node_now(const carnet__node *n) {
  return carnet__now_ms(n->r);
}

const char *carnet__node_listen_addr(const carnet__node *n) {
  return n->listen_addr;
}

int carnet__node_signal(const carnet__node *n) {
  return n->stop_signal;
}

const carnet__node_outcome *carnet__node_outcome_get(const carnet__node *n, size_t i) {
  return i < n->ndials ? &n->dials[i].out : NULL;
}

/* --- stopping ----------------------------------------------------------- */

static void maybe_finish(carnet__node *n) {
  if (!n->stopping || n->finished || n->nconns > 0) return;
  for (size_t i = 0; i < n->ndials; i++)
    if (n->dials[i].resolving) return;
  n->finished = true;
  if (n->handles_started) {
    uv_close((uv_handle_t *)&n->tick, NULL);
    if (n->opts.signals) {
      uv_close((uv_handle_t *)&n->sigint, NULL);
      uv_close((uv_handle_t *)&n->sigterm, NULL);
    }
  }
}

void carnet__node_stop(carnet__node *n) {
  if (n->stopping) return;
  n->stopping = true;
  n->stop_deadline = uv_now(&n->loop) + CARNET_NODE_STOP_MS;
  if (n->listening) {
    uv_close((uv_handle_t *)&n->listener, NULL);
    n->listening = false;
  }
  for (size_t i = 0; i < n->ndials; i++)
    if (n->dials[i].resolving) uv_cancel((uv_req_t *)&n->dials[i].gai);
  if (n->disc) {
    carnet__discovery_stop(n->disc, NULL, NULL); /* its handles close on their own */
    n->disc = NULL;
  }
  for (carnet__conn *c = n->conns, *next; c; c = next) {
    next = c->next; /* closing frees nothing before its callback, but be safe */
    carnet__conn_stop(c);
  }
  maybe_finish(n);
}

static bool all_dials_done(const carnet__node *n) {
  for (size_t i = 0; i < n->ndials; i++)
    if (!n->dials[i].done) return false;
  return true;
}

/* --- dialling ----------------------------------------------------------- */

static bool redialling(const carnet__node *n) {
  return n->opts.redial && !n->opts.once;
}

/* The dial's session is over (or never started): schedule the next one,
 * or, without redial, mark it done and stop when every dial is. */
static void dial_over(carnet__dial *d, bool success) {
  carnet__node *n = d->node;
  if (!redialling(n)) {
    d->done = true;
    if (all_dials_done(n)) carnet__node_stop(n);
    return;
  }
  if (n->stopping) return;
  if (success) carnet__backoff_reset(&d->backoff);
  uint32_t rnd = 0;
  carnet__random(n->r, &rnd, sizeof rnd);
  uint32_t delay = carnet__backoff_next(&d->backoff, rnd);
  d->next_ms = uv_now(&n->loop) + delay;
  if (!success)
    carnet__node_log(n, CARNET_LOG_INFO, "next attempt to reach %s in %.1f s", d->out.addr,
                     delay / 1000.0);
}

void carnet__node_conn_gone(carnet__node *n, carnet__conn *c) {
  if (c->dial) {
    c->dial->conn = NULL;
    dial_over(c->dial, c->authenticated);
  } else if (n->opts.once && n->ndials == 0 && c->authenticated) {
    carnet__node_stop(n); /* `serve --once` with no peer: one session served */
  }
  maybe_finish(n);
}

void carnet__node_conn_authenticated(carnet__node *n, carnet__conn *c) {
  char key[16];
  const uint8_t *pk = carnet_session_peer_pk(c->s);
  if (pk == NULL) return;
  carnet__node_key_short(pk, key);
  if (carnet_session_joined(c->s) && c->dial)
    carnet__node_log(n, CARNET_LOG_INFO, "joined the team of %s at %s", key, c->addr);
  else if (carnet_session_joined(c->s))
    carnet__node_log(n, CARNET_LOG_INFO, "peer %s (key %s): joined the team with an invite",
                     c->addr, key);
  else
    carnet__node_log(n, CARNET_LOG_INFO, "peer %s (key %s): connected", c->addr, key);
}

static void dial_connect(carnet__dial *d, const struct sockaddr *sa) {
  carnet__conn *c = carnet__conn_new(d->node, d, d->out.addr);
  if (c == NULL) {
    d->out.uv_err = UV_ENOMEM;
    snprintf(d->out.msg, sizeof d->out.msg, "out of memory");
    dial_over(d, false);
    return;
  }
  d->conn = c;
  carnet__conn_connect(c, sa);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  carnet__dial *d = req->data;
  carnet__node *n = d->node;
  d->resolving = false;
  if (n->stopping || status == UV_ECANCELED) {
    if (status == UV_ECANCELED && !d->out.msg[0]) {
      d->out.uv_err = UV_ECANCELED;
      snprintf(d->out.msg, sizeof d->out.msg, "stopped while looking the host up");
    }
    uv_freeaddrinfo(res);
    if (!redialling(n)) d->done = true;
    maybe_finish(n);
    return;
  }
  if (status < 0 || res == NULL) {
    d->out.uv_err = status < 0 ? status : UV_EAI_NONAME;
    d->out.unresolved = true;
    snprintf(d->out.msg, sizeof d->out.msg, "cannot find host '%s': %s", d->hp.host,
             uv_strerror(d->out.uv_err));
    carnet__node_log(n, CARNET_LOG_WARN, "cannot reach %s: %s", d->out.addr, d->out.msg);
    uv_freeaddrinfo(res);
    dial_over(d, false);
    return;
  }
  dial_connect(d, res->ai_addr);
  uv_freeaddrinfo(res);
}

static void dial_start(carnet__dial *d, uint64_t now) {
  carnet__node *n = d->node;
  struct sockaddr_storage ss;
  if (n->nconns >= n->opts.max_conns) {
    d->next_ms = now + 1000; /* a slot frees up when a connection ends */
    return;
  }
  /* A fresh outcome for this attempt; the address and count carry on. */
  unsigned attempts = d->out.attempts + 1;
  char addr[CARNET__ADDR_MAX];
  memcpy(addr, d->out.addr, sizeof addr);
  memset(&d->out, 0, sizeof d->out);
  memcpy(d->out.addr, addr, sizeof addr);
  d->out.attempts = attempts;
  if (carnet__addr_numeric(&d->hp, &ss)) {
    dial_connect(d, (const struct sockaddr *)&ss);
    return;
  }
  char port[8];
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  snprintf(port, sizeof port, "%u", (unsigned)d->hp.port);
  d->gai.data = d;
  int rc = uv_getaddrinfo(&n->loop, &d->gai, on_resolved, d->hp.host, port, &hints);
  if (rc < 0) {
    d->out.uv_err = rc;
    d->out.unresolved = true;
    snprintf(d->out.msg, sizeof d->out.msg, "cannot look '%s' up: %s", d->hp.host, uv_strerror(rc));
    carnet__node_log(n, CARNET_LOG_WARN, "cannot reach %s: %s", d->out.addr, d->out.msg);
    dial_over(d, false);
    return;
  }
  d->resolving = true;
}

/* Every configured peer with no connection whose delay has passed. */
static void anti_entropy(carnet__node *n, uint64_t now) {
  for (size_t i = 0; i < n->ndials && !n->stopping; i++) {
    carnet__dial *d = &n->dials[i];
    if (!d->done && d->conn == NULL && !d->resolving && now >= d->next_ms) dial_start(d, now);
  }
}

/* --- LAN discovery ---------------------------------------------------------- */

/* A trusted replica announced itself: dial it, unless a session with it
 * exists or it is already a dial target. Of two replicas that hear each
 * other, the one with the smaller id dials, so a pair keeps one connection. */
static void on_discovered(void *data, const char *addr, const uint8_t pk[CARNET_PK_BYTES],
                          uint64_t replica_id) {
  carnet__node *n = data;
  char key[16], why[160];
  if (n->stopping || carnet_replica_id(n->r) > replica_id) return;
  for (carnet__conn *c = n->conns; c; c = c->next) {
    const uint8_t *ppk = c->s && c->authenticated ? carnet_session_peer_pk(c->s) : NULL;
    if (ppk && memcmp(ppk, pk, CARNET_PK_BYTES) == 0) return;
  }
  for (size_t i = 0; i < n->ndials; i++)
    if (strcmp(n->dials[i].out.addr, addr) == 0) return;
  carnet__node_key_short(pk, key);
  if (n->ndials >= CARNET_NODE_PEERS_MAX) {
    carnet__node_log(n, CARNET_LOG_WARN, "discovered %s (key %s) but already %u peers: ignored",
                     addr, key, CARNET_NODE_PEERS_MAX);
    return;
  }
  carnet__dial *d = &n->dials[n->ndials];
  memset(d, 0, sizeof *d);
  d->node = n;
  if (carnet__addr_parse(addr, false, &d->hp, why, sizeof why) < 0) return;
  snprintf(d->out.addr, sizeof d->out.addr, "%s", addr);
  carnet__backoff_init(&d->backoff, CARNET_RECONNECT_BACKOFF_MS_MIN,
                       CARNET_RECONNECT_BACKOFF_MS_MAX);
  n->ndials++;
  carnet__node_log(n, CARNET_LOG_INFO, "discovered %s (key %s) on the LAN: dialling", addr, key);
  dial_start(d, uv_now(&n->loop));
}

static void start_discovery(carnet__node *n) {
  carnet__hostport hp;
  char why[160];
  carnet__discovery_opts o = {.iface = n->opts.discover_iface,
                              .udp_port = n->opts.discover_port,
                              .interval_ms = n->opts.discover_interval_ms};
  if (!n->listening || carnet__addr_parse(n->listen_addr, false, &hp, why, sizeof why) < 0) {
    carnet__node_log(n, CARNET_LOG_WARN, "LAN discovery needs a listening address: off");
    return;
  }
  int rc = carnet__discovery_start(&n->loop, n->r, hp.port, &o, on_discovered, n, &n->disc);
  if (rc)
    carnet__node_log(n, CARNET_LOG_WARN, "LAN discovery off: %s (peers given with --peer are "
                                         "still dialled)", carnet_replica_errmsg(n->r));
  else
    carnet__node_log(n, CARNET_LOG_INFO, "LAN discovery on (UDP %u)",
                     n->opts.discover_port ? n->opts.discover_port : CARNET_DISCOVERY_UDP_PORT);
}

/* --- the tick ----------------------------------------------------------- */

/* An erasure applied here or by another process asks for a compaction
 * (carnet/erase.h). Between two callbacks no transaction is open and no
 * session holds a pointer into the map, so the node can close and reopen
 * its environment at any tick; it runs once no other process has the
 * directory open. Looked at once a second. */
static void compact_if_asked(carnet__node *n, uint64_t now) {
  bool done = false;
  if (now - n->compact_checked < 1000) return;
  n->compact_checked = now;
  if (carnet_replica_compact(n->r, false, &done) != 0)
    carnet__node_log(n, CARNET_LOG_WARN, "%s", carnet_replica_errmsg(n->r));
  else if (done)
    carnet__node_log(n, CARNET_LOG_INFO, "replica compacted after an erasure");
}

static void report_progress(carnet__node *n, uint64_t now) {
  if (n->opts.progress == NULL || n->stopping) return;
  for (carnet__conn *c = n->conns; c; c = c->next) {
    if (c->dial == NULL || c->s == NULL || !c->authenticated || c->phase != CARNET__CONN_OPEN)
      continue;
    carnet_session_stats st;
    carnet_session_get_stats(c->s, &st);
    n->opts.progress(n->opts.progress_ctx, c->addr, &st, now - c->started);
  }
}

static void on_tick(uv_timer_t *t) {
  carnet__node *n = t->data;
  uint64_t now = uv_now(&n->loop);
  if (!n->stopping && n->opts.timeout_ms && now - n->started >= n->opts.timeout_ms) {
    for (size_t i = 0; i < n->ndials; i++) {
      carnet__dial *d = &n->dials[i];
      if (d->done) continue;
      d->out.timed_out = true;
      if (d->conn && !d->conn->ended) {
        d->conn->ended = true;
        d->out.uv_err = UV_ETIMEDOUT;
        snprintf(d->out.msg, sizeof d->out.msg, "no result after %.0f s",
                 n->opts.timeout_ms / 1000.0);
      }
    }
    carnet__node_log(n, CARNET_LOG_WARN, "stopping: timed out after %.0f s",
                     n->opts.timeout_ms / 1000.0);
    carnet__node_stop(n);
  }
  for (carnet__conn *c = n->conns, *next; c; c = next) {
    next = c->next;
    if (n->stopping && now >= n->stop_deadline)
      carnet__conn_close(c);
    else
      carnet__conn_tick(c, now);
  }
  report_progress(n, now);
  if (n->stopping) {
    maybe_finish(n);
  } else {
    anti_entropy(n, now);
    compact_if_asked(n, now);
  }
}

/* --- accepting ---------------------------------------------------------- */

static void on_refused_close(uv_handle_t *h) {
  carnet__free(h);
}

static void on_connection(uv_stream_t *server, int status) {
  carnet__node *n = server->data;
  char addr[CARNET__ADDR_NUMERIC_MAX];
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (status < 0) {
    carnet__node_log(n, CARNET_LOG_WARN, "cannot accept a connection: %s", uv_strerror(status));
    return;
  }
  if (n->stopping || n->nconns >= n->opts.max_conns) {
    /* Accept to take it off the backlog, then close it at once. */
    uv_tcp_t *t = carnet__malloc(sizeof *t);
    if (t == NULL || uv_tcp_init(&n->loop, t) < 0) {
      carnet__free(t);
      return;
    }
    if (uv_accept(server, (uv_stream_t *)t) == 0 &&
        uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len) == 0) {
      carnet__addr_format((struct sockaddr *)&ss, addr, sizeof addr);
      carnet__node_log(n, CARNET_LOG_WARN, "refused %s: too many connections (%u)", addr,
                       n->opts.max_conns);
    }
    uv_close((uv_handle_t *)t, on_refused_close);
    return;
  }
  carnet__conn *c = carnet__conn_new(n, NULL, "?");
  if (c == NULL) return;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
    carnet__conn_close(c);
    return;
  }
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
    carnet__addr_format((struct sockaddr *)&ss, c->addr, sizeof c->addr);
  carnet__conn_accepted(c);
}

/* --- signals ------------------------------------------------------------ */

static void on_signal(uv_signal_t *h, int signum) {
  carnet__node *n = h->data;
  if (n->stopping) {
    /* A second signal: do not wait for peers any longer. */
    n->stop_deadline = uv_now(&n->loop);
    return;
  }
  n->stop_signal = signum;
  carnet__node_log(n, CARNET_LOG_INFO, "stopping (%s)", signum == SIGINT ? "SIGINT" : "SIGTERM");
  carnet__node_stop(n);
}

/* --- life --------------------------------------------------------------- */

static int set_why(char *why, size_t why_len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int set_why(char *why, size_t why_len, int rc, const char *fmt, ...) {
  if (why && why_len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* Binds and listens on opts.listen; fills n->listen_addr. */
static int start_listening(carnet__node *n, char *why, size_t why_len) {
  carnet__hostport hp;
  struct sockaddr_storage ss;
  struct addrinfo *res = NULL;
  int len = sizeof ss, rc;
  const struct sockaddr *sa = (const struct sockaddr *)&ss;
  if (carnet__addr_parse(n->opts.listen, true, &hp, why, why_len) < 0) return CARNET_EINVAL;
  if (!carnet__addr_numeric(&hp, &ss)) {
    /* A name ("localhost"): looked up once, synchronously, at start. */
    uv_getaddrinfo_t req;
    struct addrinfo hints;
    char port[8];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    snprintf(port, sizeof port, "%u", (unsigned)hp.port);
    rc = uv_getaddrinfo(&n->loop, &req, NULL, hp.host, port, &hints);
    if (rc < 0 || req.addrinfo == NULL)
      return set_why(why, why_len, CARNET_EINVAL, "cannot listen on %s: unknown host '%s'",
                     n->opts.listen, hp.host);
    res = req.addrinfo;
    sa = res->ai_addr;
  }
  rc = uv_tcp_init(&n->loop, &n->listener);
  if (rc < 0) {
    uv_freeaddrinfo(res);
    return set_why(why, why_len, CARNET_EIO, "cannot listen: %s", uv_strerror(rc));
  }
  n->listener.data = n;
  n->listening = true;
  rc = uv_tcp_bind(&n->listener, sa, 0);
  uv_freeaddrinfo(res);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&n->listener, 128, on_connection);
  if (rc < 0)
    return set_why(why, why_len, CARNET_EIO, "cannot listen on %s: %s", n->opts.listen,
                   uv_strerror(rc));
  rc = uv_tcp_getsockname(&n->listener, (struct sockaddr *)&ss, &len);
  if (rc < 0)
    return set_why(why, why_len, CARNET_EIO, "cannot listen on %s: %s", n->opts.listen,
                   uv_strerror(rc));
  carnet__addr_format((struct sockaddr *)&ss, n->listen_addr, sizeof n->listen_addr);
  return 0;
}

static int setup_dials(carnet__node *n, const char *const *peers, size_t npeers, char *why,
                       size_t why_len) {
  if (npeers > CARNET_NODE_PEERS_MAX)
    return set_why(why, why_len, CARNET_EINVAL, "too many peers (%zu): at most %u", npeers,
                   CARNET_NODE_PEERS_MAX);
  /* Every slot at once: peers found on the LAN are added while connections
   * point at their dial target, so the array never moves. */
  n->dials = carnet__calloc(CARNET_NODE_PEERS_MAX, sizeof *n->dials);
  if (n->dials == NULL) return set_why(why, why_len, CARNET_ENOMEM, "out of memory");
  n->ndials = npeers;
  for (size_t i = 0; i < n->ndials; i++) {
    carnet__dial *d = &n->dials[i];
    d->node = n;
    if (carnet__addr_parse(peers[i], false, &d->hp, why, why_len) < 0) return CARNET_EINVAL;
    snprintf(d->out.addr, sizeof d->out.addr, "%s", peers[i]);
    carnet__backoff_init(&d->backoff, CARNET_RECONNECT_BACKOFF_MS_MIN,
                         CARNET_RECONNECT_BACKOFF_MS_MAX);
  }
  return 0;
}

int carnet__node_new(carnet_replica *r, const carnet__node_opts *opts, carnet__node **out,
                     char *why, size_t why_len) {
  carnet__node *n = carnet__calloc(1, sizeof *n);
  int rc;
  *out = NULL;
  if (why && why_len) why[0] = '\0';
  if (n == NULL) return set_why(why, why_len, CARNET_ENOMEM, "out of memory");
  n->r = r;
  n->opts = *opts;
  n->opts.peers = NULL; /* not kept: the dials hold what they need */
  if (n->opts.max_conns == 0 || n->opts.max_conns > CARNET_NODE_CONNS_MAX)
    n->opts.max_conns = CARNET_NODE_CONNS_MAX;
  if (opts->invite_token && (n->invite_token = carnet__strdup(opts->invite_token)) == NULL) {
    rc = set_why(why, why_len, CARNET_ENOMEM, "out of memory");
    goto fail;
  }
  n->opts.invite_token = NULL; /* n->invite_token is the copy */
  if ((rc = setup_dials(n, opts->peers, opts->npeers, why, why_len)) < 0) goto fail;
  rc = uv_loop_init(&n->loop);
  if (rc < 0) {
    rc = set_why(why, why_len, CARNET_EIO, "cannot start the event loop: %s", uv_strerror(rc));
    goto fail;
  }
  n->loop_open = true;
  n->loop.data = n;
  if (opts->listen && (rc = start_listening(n, why, why_len)) < 0) goto fail;
  *out = n;
  return 0;
fail:
  carnet__node_free(n);
  return rc;
}

int carnet__node_run(carnet__node *n) {
  int rc;
  /* A peer that vanishes mid-write must not kill the process. */
  signal(SIGPIPE, SIG_IGN);
  if ((rc = uv_timer_init(&n->loop, &n->tick)) < 0) goto uv_fail;
  n->tick.data = n;
  if (n->opts.signals) {
    if ((rc = uv_signal_init(&n->loop, &n->sigint)) < 0) goto uv_fail;
    if ((rc = uv_signal_init(&n->loop, &n->sigterm)) < 0) goto uv_fail;
    n->sigint.data = n->sigterm.data = n;
  }
  n->handles_started = true;
  if ((rc = uv_timer_start(&n->tick, on_tick, CARNET_NODE_TICK_MS, CARNET_NODE_TICK_MS)) < 0)
    goto uv_fail;
  if (n->opts.signals && ((rc = uv_signal_start(&n->sigint, on_signal, SIGINT)) < 0 ||
                          (rc = uv_signal_start(&n->sigterm, on_signal, SIGTERM)) < 0))
    goto uv_fail;
  uv_update_time(&n->loop);
  n->started = uv_now(&n->loop);
  if (n->opts.once && n->ndials == 0 && !n->listening) carnet__node_stop(n);
  if (n->opts.discover && !n->opts.once) start_discovery(n);
  anti_entropy(n, n->started); /* every peer is dialled at once */
  uv_run(&n->loop, UV_RUN_DEFAULT);
  return n->uv_failed ? CARNET_EIO : 0;
uv_fail:
  carnet__node_log(n, CARNET_LOG_ERROR, "event loop: %s", uv_strerror(rc));
  n->uv_failed = rc;
  carnet__node_stop(n);
  uv_run(&n->loop, UV_RUN_DEFAULT);
  return CARNET_EIO;
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

void carnet__node_free(carnet__node *n) {
  if (n == NULL) return;
  if (n->loop_open) {
    /* A node that never ran (or failed in setup) still has its listener. */
    uv_walk(&n->loop, close_any, NULL);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&n->loop);
    if (rc != 0)
      carnet__node_log(n, CARNET_LOG_ERROR, "event loop still busy at close: %s", uv_strerror(rc));
  }
  carnet__free(n->dials);
  carnet__free(n->invite_token);
  carnet__free(n);
}
