/* replica/node.c - the running node (carnet/node.h): the loop, the
 * listener, the peers it dials, the tick, signals, a clean stop, and the
 * ways to run it (the app's loop, its own loop in the caller's thread or in
 * a thread of its own).
 *
 * Everything the node does happens on one loop, in one thread, so the
 * replica and its sessions need no locks. Other threads reach it through a
 * queue of calls (carnet_node_exec, carnet_node_dial) and a stop flag, both
 * under `mu`, and wake the loop with one uv_async handle. One timer ticks
 * every CARNET_NODE_TICK_MS:
 *
 *   - every connection: carnet_session_tick (pushes local changes, pings,
 *     times out a silent peer) and the connection's own deadlines;
 *   - anti-entropy: every dial target with no connection whose backoff
 *     delay has passed is dialled. Delays grow from 250 ms to 30 s with
 *     jitter (replica/backoff.h) and are reset by a session that gets
 *     through its handshake, so a peer that comes back is resynced within
 *     30 s, and a peer that refuses us is not hammered;
 *   - the change feed: changes committed by other processes on the
 *     directory reach the replica's subscribers (carnet_replica_poll);
 *   - the node's timeout, and the stop deadline.
 *
 * Life of a node:
 *
 *   NEW --start/run/start_thread--> RUNNING --stop--> STOPPING
 *    |   (async, timer, signals,     (accepting     (listener closed, BYE
 *    |    dials, discovery)           calls)         to every peer, flush)
 *    |                                                   | last connection and
 *    |                                                   v DNS lookup gone
 *    |                                               FINISHED: queued calls run,
 *    |                                               async, timer, signals close
 *    |                                                   | last close callback
 *    +--free (loop mode: listener closes first)--->  STOPPED: opts.stopped
 *
 * Invariants:
 *  N1. Only the loop thread touches the replica while `accepting` or
 *      `draining`, and on its own loop (run, thread) until uv_run returns
 *      (`own_running`: close callbacks, opts.stopped); otherwise calls run
 *      in the caller's thread, one at a time (`direct`, recursive: a call
 *      may call again).
 *  N2. A queued call runs exactly once: by on_async, or by the drain at
 *      FINISHED, which ends `accepting` first under `mu`, so no call is
 *      queued after the drain.
 *  N3. `async` is open exactly while `accepting` (or the drain runs):
 *      uv_async_send is only called under `mu` with `accepting` set.
 *  N4. The node is STOPPED when FINISHED and `handles_open` (listener,
 *      timers, signals, async, discovery) is 0: from then on nothing of the
 *      node is on the loop and it may be freed.
 *  N7. A `once` node stops when every dial is done; with discovery on
 *      (`serve --discover --once`, `sync` with no address), it also listens
 *      for announcements during a window of 1.5 announcement intervals,
 *      dials every trusted replica it hears in that window (whatever the
 *      ids), and stops once the window is over, every dial is done and no
 *      session or handshake is live. The window ends
 *      early when every trusted peer has synced with it in this run: the
 *      others answer a newcomer's announcement at once (discovery.c), so
 *      `sync` with no address takes a fraction of a second, not 7.5 s.
 *
 * Admission. Anyone who can reach the port can open a connection, and
 * until its handshake is done nothing says it is one of ours: a client
 * holding a few dozen idle connections used to take all 64 slots, so that
 * trusted peers were closed at once. So connections accepted
 * from the network go through two budgets, and a newcomer is accepted
 * into a slot of its own, into the slot of a handshake that is getting
 * nowhere, or told it is busy:
 *
 *           accept (A5: at most ACCEPT_BURST a turn)
 *              |
 *     slot free for its address and in all? --no--> a victim (A3)? --no--> "busy", close
 *              | yes                                     | yes: "busy" to the victim, close it
 *              v                                         v
 *     HANDSHAKE budget (A1) <----------------------------+
 *              | handshake done (a trusted key)
 *              v
 *     SESSION budget (A2) ---- per key full: its oldest session ends;
 *                              all max_conns taken: "busy" to the newcomer
 *
 * Invariants:
 *  A1. At most CARNET_NODE_HANDSHAKES_MAX accepted connections are in
 *      their handshake at once, at most CARNET_NODE_HANDSHAKES_PER_ADDR of
 *      them from one address (IPv4, or IPv6 /64); a connection stays in
 *      the budget from its accept until it is freed or authenticated, its
 *      linger included (so a client cannot pile up closing connections).
 *      Every connection at once, any phase: CARNET__NODE_CONNS_HARD.
 *  A2. Authenticated accepted sessions are counted apart, up to max_conns
 *      (at most CARNET_NODE_CONNS_MAX), and at most
 *      CARNET_NODE_SESSIONS_PER_KEY of one key: a newer one replaces that
 *      key's oldest. So a trusted peer always finds a slot however many
 *      strangers knock, as long as the team is at most max_conns /
 *      SESSIONS_PER_KEY replicas (16 by default) or its members keep
 *      one session each. Dialled connections are ours: one per dial target
 *      (CARNET_NODE_PEERS_MAX), in neither budget.
 *  A3. A newcomer at a full budget takes the slot of a handshake that is
 *      not getting anywhere, in this order: one whose session has ended
 *      (lingering), one that has sent nothing at all (no byte read and
 *      none waiting in its socket: a Carnet initiator sends message (1)
 *      right after connecting), one silent for CARNET_NODE_HS_STALL_MS;
 *      the oldest first. A handshake in progress is never evicted, so a
 *      trusted peer's connection that has sent its first bytes keeps its
 *      slot, and a client flooding idle connections only evicts its own.
 *      Every accepted handshake must be done within
 *      CARNET_NODE_HANDSHAKE_MS (the session's own limit is 10 s).
 *  A4. A connection turned away is told why when it can be: a plaintext
 *      ERROR frame (CARNET_EBUSY), which a Carnet initiator reports as
 *      "the peer is busy (too many connections)" and retries on (dial_busy,
 *      even a `once` node, until its timeout). It is closed at once after
 *      a non-blocking read of what it sent (no linger, no RST destroying
 *      the ERROR), and costs no log line of its own (A6), nor any event
 *      when it never sent a byte (an accepted connection reports CONNECTED
 *      with its first bytes).
 *      Until authenticated, a connection reads 4 KiB at a time (a
 *      handshake frame is at most 1 KiB), not 64 KiB.
 *  A5. At most CARNET_NODE_ACCEPT_BURST connections are accepted per turn
 *      of the loop (on_connection leaves the next one in the backlog, and
 *      accept_timer takes it on the next turn, after the reads): libuv
 *      accepts until the backlog is empty, and a client that reopens every
 *      connection closed keeps it full forever.
 *  A6. What admission turns away is summed up in one log line a second at
 *      most (admission_log): an attack must not fill the log.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/erase.h"
#include "carnet/error.h"
#include "carnet/feed.h"
#include "engine/base/alloc.h"
#include "engine/base/check.h"
#include "engine/store/handle.h" /* carnet__now_ms, carnet__random, carnet__log, carnet__fail */
#include "replica/discovery.h"
#include "replica/node_int.h"

void carnet__node_log(carnet_node *n, int level, const char *fmt, ...) {
  char line[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  for (char *p = line; *p; p++) /* one line, whatever a peer put in a message */
    if (*p == '\n' || *p == '\r') *p = ' ';
  if (n->opts.log)
    n->opts.log(n->opts.log_data, level, line);
  else if (level <= CARNET_LOG_INFO)
    fprintf(stderr, "carnet: %s\n", line);
}

const char *carnet__node_key_short(const uint8_t pk[CARNET_PK_BYTES], char out[16]) {
  snprintf(out, 16, "%02x%02x%02x%02x\xe2\x80\xa6", pk[0], pk[1], pk[2], pk[3]);
  return out;
}

uint64_t carnet__node_now(const carnet_node *n) {
  return carnet__now_ms(n->r);
}

const char *carnet_node_listen_addr(const carnet_node *n) {
  return n->listen_addr;
}

int carnet_node_signal(const carnet_node *n) {
  return n->stop_signal;
}

const carnet_node_outcome *carnet_node_outcome_get(const carnet_node *n, size_t i) {
  return i < n->ndials ? &n->dials[i].out : NULL;
}

/* --- peer events -------------------------------------------------------------- */

/* The error a connection's end reports: the session's, else a network
 * error (ours closing it is none). */
static int end_err(const carnet__conn *c) {
  if (c->end_err) return c->end_err;
  if (c->end_synced || c->end_uv == 0 || c->end_uv == UV_ECANCELED) return 0;
  return CARNET_EIO;
}

void carnet__node_conn_event(carnet_node *n, carnet__conn *c, carnet_peer_event_type type) {
  carnet_session_stats st;
  if (n->opts.event == NULL) return;
  const uint8_t *pk = c->s && c->authenticated ? carnet_session_peer_pk(c->s) : NULL;
  if (c->s) carnet_session_get_stats(c->s, &st);
  carnet_peer_event ev = {.type = type,
                          .addr = c->addr,
                          .dialled = c->dial != NULL,
                          .pk = pk,
                          .replica_id = pk ? carnet_session_peer_id(c->s) : 0,
                          .message = "",
                          .stats = c->s ? &st : NULL};
  if (type == CARNET_PEER_DISCONNECTED || type == CARNET_PEER_FAILED) {
    ev.err = end_err(c);
    ev.message = c->end_msg;
  }
  n->opts.event(n->opts.event_data, &ev);
}

/* The end of a dial attempt that made no connection (the host could not be
 * looked up, the node stopped first, no memory): its message is in the
 * outcome. */
static void dial_event(carnet__dial *d, int err) {
  carnet_node *n = d->node;
  if (n->opts.event == NULL) return;
  carnet_peer_event ev = {.type = err ? CARNET_PEER_FAILED : CARNET_PEER_DISCONNECTED,
                          .addr = d->out.addr,
                          .dialled = true,
                          .err = err,
                          .message = d->out.msg};
  n->opts.event(n->opts.event_data, &ev);
}

/* --- handles and the end of the node ----------------------------------------- */

static void node_release(carnet_node *n);
static void admission_log(carnet_node *n, uint64_t now, bool flush);

/* N4. Nothing may touch `n` after opts.stopped returns (loop mode may free
 * it there). */
static void check_stopped(carnet_node *n) {
  if (!n->finished || n->handles_open > 0 || n->stopped_done || n->freeing) return;
  n->stopped_done = true;
  if (n->free_when_closed) {
    node_release(n);
    return;
  }
  if (n->opts.stopped) n->opts.stopped(n->opts.stopped_data);
}

static void on_handle_closed(uv_handle_t *h) {
  carnet_node *n = h->data;
  n->handles_open--;
  check_stopped(n);
}

static void close_handle(carnet_node *n, uv_handle_t *h) {
  (void)n;
  if (!uv_is_closing(h)) uv_close(h, on_handle_closed);
}

static void on_discovery_done(void *data) {
  carnet_node *n = data;
  n->handles_open--;
  check_stopped(n);
}

/* Runs queued calls (N2) and wakes their callers. A call's record lives on
 * its caller's stack: it is not touched once `done` is set. */
static void run_calls(carnet_node *n, carnet__call *c) {
  while (c) {
    carnet__call *next = c->next;
    int rc = c->fn(n, c->arg);
    uv_mutex_lock(&n->mu);
    c->rc = rc;
    c->done = true;
    uv_cond_broadcast(&n->cond);
    uv_mutex_unlock(&n->mu);
    c = next;
  }
}

/* FINISHED: no more calls are queued; those waiting run now, on the loop
 * thread, then the async handle closes (N2, N3). */
static void end_calls(carnet_node *n) {
  uv_mutex_lock(&n->mu);
  bool had = n->accepting;
  carnet__call *q = n->calls;
  n->accepting = false;
  n->draining = had;
  n->calls = n->calls_tail = NULL;
  uv_mutex_unlock(&n->mu);
  if (!had) return;
  run_calls(n, q);
  uv_mutex_lock(&n->mu);
  n->draining = false;
  uv_cond_broadcast(&n->cond);
  uv_mutex_unlock(&n->mu);
  close_handle(n, (uv_handle_t *)&n->async);
}

static void maybe_finish(carnet_node *n) {
  if (!n->stopping || n->finished || n->nconns > 0) return;
  for (size_t i = 0; i < n->ndials; i++)
    if (n->dials[i].resolving) return;
  n->finished = true;
  if (n->handles_started) {
    close_handle(n, (uv_handle_t *)&n->tick);
    close_handle(n, (uv_handle_t *)&n->accept_timer);
    if (n->opts.signals) {
      close_handle(n, (uv_handle_t *)&n->sigint);
      close_handle(n, (uv_handle_t *)&n->sigterm);
    }
  }
  end_calls(n);
  check_stopped(n);
}

void carnet__node_stop(carnet_node *n) {
  if (n->stopping) return;
  n->stopping = true;
  n->stop_deadline = uv_now(n->loop) + CARNET_NODE_STOP_MS;
  if (n->listening) {
    close_handle(n, (uv_handle_t *)&n->listener);
    n->listening = false;
  }
  for (size_t i = 0; i < n->ndials; i++)
    if (n->dials[i].resolving) uv_cancel((uv_req_t *)&n->dials[i].gai);
  if (n->disc) {
    carnet__discovery_stop(n->disc, on_discovery_done, n); /* its handles close on their own */
    n->disc = NULL;
  }
  for (carnet__conn *c = n->conns, *next; c; c = next) {
    next = c->next; /* closing frees nothing before its callback, but be safe */
    carnet__conn_stop(c);
  }
  maybe_finish(n);
}

static bool all_dials_done(const carnet_node *n) {
  for (size_t i = 0; i < n->ndials; i++)
    if (!n->dials[i].done) return false;
  return true;
}

/* How long a `once` node with discovery listens for announcements: one
 * and a half intervals, so that every replica of the team announcing on
 * the LAN is heard at least once (an interval is jittered by 25 %). */
static uint64_t discover_window_ms(const carnet_node *n) {
  uint32_t iv =
      n->opts.discover_interval_ms ? n->opts.discover_interval_ms : CARNET_DISCOVERY_INTERVAL_MS;
  return (uint64_t)iv * 3u / 2u;
}

/* N7: a `once` node is done when every dial is. With discovery, not
 * before the window is over and no session is live (a peer that heard us
 * may be syncing with us). */
static bool once_done(carnet_node *n) {
  if (!n->opts.once || !all_dials_done(n)) return false;
  if (!n->opts.discover || n->disc == NULL) return true;
  bool window_over =
      uv_now(n->loop) - n->t0 >= discover_window_ms(n) || (n->nwant > 0 && n->nwant_left == 0);
  return window_over && n->nsessions == 0 && n->nhandshakes == 0;
}

static int want_add(const carnet_peer_info *p, void *data) {
  carnet_node *n = data;
  memcpy(n->want[n->nwant].pk, p->pk, CARNET_PK_BYTES);
  n->want[n->nwant].synced = false;
  n->nwant++;
  return n->nwant == CARNET_NODE_PEERS_MAX ? 1 : 0; /* more: the window decides */
}

/* N7: the trusted peers a `once` node with discovery waits for. Any
 * failure leaves nwant 0, and the window runs its course. */
static void want_read(carnet_node *n) {
  n->want = carnet__calloc(CARNET_NODE_PEERS_MAX, sizeof *n->want);
  if (n->want == NULL) return;
  if (carnet_peer_list(n->r, want_add, n) != 0) n->nwant = 0; /* 1: too many to wait for */
  n->nwant_left = n->nwant;
}

/* A session with `pk` ended synced. */
static void want_synced(carnet_node *n, const uint8_t pk[CARNET_PK_BYTES]) {
  for (size_t i = 0; i < n->nwant; i++)
    if (!n->want[i].synced && memcmp(n->want[i].pk, pk, CARNET_PK_BYTES) == 0) {
      n->want[i].synced = true;
      n->nwant_left--;
    }
}

/* N7: on a `once` node with discovery, a peer that heard us may dial us
 * before we dial it; its session is then the sync with it, and the caller
 * reads it as an outcome like a dial's (a slot that is done at once, so it
 * is never dialled). No slot left: the peer is still synced, the outcome
 * list just does not say so. */
static void inbound_outcome(carnet_node *n, carnet__conn *c) {
  if (n->ndials >= CARNET_NODE_PEERS_MAX) return;
  carnet__dial *d = &n->dials[n->ndials++];
  memset(d, 0, sizeof *d);
  d->node = n;
  d->done = true;
  carnet_node_outcome *o = &d->out;
  snprintf(o->addr, sizeof o->addr, "%s", c->addr);
  o->connected = o->authenticated = o->synced = true;
  memcpy(o->peer_pk, carnet_session_peer_pk(c->s), CARNET_PK_BYTES);
  o->peer_id = carnet_session_peer_id(c->s);
  carnet_session_get_stats(c->s, &o->stats);
  o->elapsed_ms = uv_now(n->loop) - c->started;
}

/* --- dialling ----------------------------------------------------------- */

static bool redialling(const carnet_node *n) {
  return n->opts.redial && !n->opts.once;
}

/* The dial's session is over (or never started): schedule the next one,
 * or, without redial, mark it done; a `once` node stops when every dial
 * is. */
static void dial_over(carnet__dial *d, bool success) {
  carnet_node *n = d->node;
  if (!redialling(n)) {
    d->done = true;
    if (once_done(n)) carnet__node_stop(n);
    return;
  }
  if (n->stopping) return;
  if (success) carnet__backoff_reset(&d->backoff);
  uint32_t rnd = 0;
  carnet__random(n->r, &rnd, sizeof rnd);
  uint32_t delay = carnet__backoff_next(&d->backoff, rnd);
  d->next_ms = uv_now(n->loop) + delay;
  if (!success)
    carnet__node_log(n, CARNET_LOG_INFO, "next attempt to reach %s in %.1f s", d->out.addr,
                     delay / 1000.0);
}

/* A dialled peer said it is busy (A1: it turned us away at its admission
 * limits): try again after the backoff delay, even with `once`, until the
 * node's timeout. */
static void dial_busy(carnet__dial *d) {
  carnet_node *n = d->node;
  if (n->stopping) return;
  uint32_t rnd = 0;
  carnet__random(n->r, &rnd, sizeof rnd);
  uint32_t delay = carnet__backoff_next(&d->backoff, rnd);
  d->next_ms = uv_now(n->loop) + delay;
  carnet__node_log(n, CARNET_LOG_WARN,
                   "%s: the peer is busy (too many connections): retrying in %.1f s", d->out.addr,
                   delay / 1000.0);
}

void carnet__node_conn_gone(carnet_node *n, carnet__conn *c) {
  if (c->end_synced && c->authenticated && c->s) {
    want_synced(n, carnet_session_peer_pk(c->s));
    if (c->dial == NULL && n->opts.once && n->disc) inbound_outcome(n, c);
  }
  if (c->in_handshakes) n->nhandshakes--;
  if (c->in_sessions) n->nsessions--;
  c->in_handshakes = c->in_sessions = false;
  if (!c->quiet)
    carnet__node_conn_event(n, c, end_err(c) ? CARNET_PEER_FAILED : CARNET_PEER_DISCONNECTED);
  if (c->dial) {
    c->dial->conn = NULL;
    if (c->end_err == CARNET_EBUSY && !c->dial->out.timed_out)
      dial_busy(c->dial);
    else
      dial_over(c->dial, c->authenticated);
  } else if (n->opts.once && n->disc) {
    if (once_done(n)) carnet__node_stop(n); /* `--discover --once`: N7 */
  } else if (n->opts.once && n->ndials == 0 && c->authenticated) {
    carnet__node_stop(n); /* `serve --once` with no peer: one session served */
  }
  maybe_finish(n);
}

/* A2: an accepted connection that got through its handshake leaves the
 * handshake budget for the sessions': at most CARNET_NODE_SESSIONS_PER_KEY
 * of one key (a newer one replaces the oldest: a peer that restarted does
 * not wait for its stale session to time out), at most max_conns in all.
 * Returns false when the session was refused. */
static bool admit_session(carnet_node *n, carnet__conn *c, const uint8_t *pk) {
  carnet__conn *oldest = NULL;
  unsigned same = 0;
  if (c->dial) return true;
  if (c->in_handshakes) {
    c->in_handshakes = false;
    n->nhandshakes--;
  }
  for (carnet__conn *o = n->conns; o; o = o->next) {
    if (!o->in_sessions || o->phase != CARNET__CONN_OPEN) continue;
    if (memcmp(carnet_session_peer_pk(o->s), pk, CARNET_PK_BYTES) != 0) continue;
    same++;
    if (oldest == NULL || o->started < oldest->started) oldest = o;
  }
  if (same >= CARNET_NODE_SESSIONS_PER_KEY && oldest) {
    carnet__session_abort(oldest->s, CARNET_ELIMIT,
                          "replaced by a newer session of the same replica (at most %u at once)",
                          CARNET_NODE_SESSIONS_PER_KEY);
    carnet__conn_pump(oldest);
  } else if (n->nsessions >= n->opts.max_conns) {
    carnet__session_abort(c->s, CARNET_EBUSY, "busy: %u sessions already, try again in a moment",
                          n->nsessions);
    return false;
  }
  c->in_sessions = true;
  n->nsessions++;
  return true;
}

void carnet__node_conn_authenticated(carnet_node *n, carnet__conn *c) {
  char key[16];
  const uint8_t *pk = carnet_session_peer_pk(c->s);
  if (pk == NULL) return;
  if (!admit_session(n, c, pk)) return;
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
    d->uv_err = UV_ENOMEM;
    snprintf(d->out.msg, sizeof d->out.msg, "out of memory");
    dial_event(d, CARNET_ENOMEM);
    dial_over(d, false);
    return;
  }
  d->conn = c;
  carnet__conn_connect(c, sa);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  carnet__dial *d = req->data;
  carnet_node *n = d->node;
  d->resolving = false;
  if (n->stopping || status == UV_ECANCELED) {
    if (status == UV_ECANCELED && !d->out.msg[0]) {
      d->uv_err = UV_ECANCELED;
      snprintf(d->out.msg, sizeof d->out.msg, "stopped while looking the host up");
    }
    uv_freeaddrinfo(res);
    if (!redialling(n)) d->done = true;
    dial_event(d, 0);
    maybe_finish(n);
    return;
  }
  if (status < 0 || res == NULL) {
    d->uv_err = status < 0 ? status : UV_EAI_NONAME;
    d->out.unresolved = true;
    snprintf(d->out.msg, sizeof d->out.msg, "cannot find host '%s': %s", d->hp.host,
             uv_strerror(d->uv_err));
    carnet__node_log(n, CARNET_LOG_WARN, "cannot reach %s: %s", d->out.addr, d->out.msg);
    uv_freeaddrinfo(res);
    dial_event(d, CARNET_EIO);
    dial_over(d, false);
    return;
  }
  dial_connect(d, res->ai_addr);
  uv_freeaddrinfo(res);
}

static void dial_start(carnet__dial *d, uint64_t now) {
  carnet_node *n = d->node;
  struct sockaddr_storage ss;
  if (n->nconns >= CARNET__NODE_CONNS_HARD) {
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
  d->uv_err = 0;
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
  int rc = uv_getaddrinfo(n->loop, &d->gai, on_resolved, d->hp.host, port, &hints);
  if (rc < 0) {
    d->uv_err = rc;
    d->out.unresolved = true;
    snprintf(d->out.msg, sizeof d->out.msg, "cannot look '%s' up: %s", d->hp.host, uv_strerror(rc));
    carnet__node_log(n, CARNET_LOG_WARN, "cannot reach %s: %s", d->out.addr, d->out.msg);
    dial_event(d, CARNET_EIO);
    dial_over(d, false);
    return;
  }
  d->resolving = true;
}

/* Every dial target with no connection whose delay has passed. */
static void anti_entropy(carnet_node *n, uint64_t now) {
  for (size_t i = 0; i < n->ndials && !n->stopping; i++) {
    carnet__dial *d = &n->dials[i];
    if (!d->done && d->conn == NULL && !d->resolving && now >= d->next_ms) dial_start(d, now);
  }
}

/* A new dial target in the next free slot (the array never moves:
 * connections point into it). */
static int dial_add(carnet_node *n, const char *addr, carnet__dial **out, char *why,
                    size_t why_len) {
  if (n->ndials >= CARNET_NODE_PEERS_MAX) {
    if (why && why_len) snprintf(why, why_len, "too many peers: at most %u", CARNET_NODE_PEERS_MAX);
    return CARNET_ELIMIT;
  }
  carnet__dial *d = &n->dials[n->ndials];
  memset(d, 0, sizeof *d);
  d->node = n;
  if (carnet__addr_parse(addr, false, &d->hp, why, why_len) < 0) return CARNET_EINVAL;
  snprintf(d->out.addr, sizeof d->out.addr, "%s", addr);
  carnet__backoff_init(&d->backoff, CARNET_RECONNECT_BACKOFF_MS_MIN,
                       CARNET_RECONNECT_BACKOFF_MS_MAX);
  n->ndials++;
  *out = d;
  return 0;
}

/* --- LAN discovery ---------------------------------------------------------- */

/* A trusted replica announced itself: dial it, unless a session with it
 * exists or it is already a dial target. Of two replicas that hear each
 * other, the one with the smaller id dials, so a pair keeps one connection. */
static void on_discovered(void *data, const char *addr, const uint8_t pk[CARNET_PK_BYTES],
                          uint64_t replica_id) {
  carnet_node *n = data;
  carnet__dial *d;
  char key[16], why[160];
  if (n->stopping) return;
  /* A `once` node dials whatever it finds (the other side may not be
   * discovering), within its window only (N7). */
  if (n->opts.once ? uv_now(n->loop) - n->t0 >= discover_window_ms(n)
                   : carnet_replica_id(n->r) > replica_id)
    return;
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
  if (dial_add(n, addr, &d, why, sizeof why) < 0) return;
  carnet__node_log(n, CARNET_LOG_INFO, "discovered %s (key %s) on the LAN: dialling", addr, key);
  dial_start(d, uv_now(n->loop));
}

/* Errors: CARNET_EINVAL (no listening address to announce), or those of
 * carnet__discovery_start (the replica's errmsg says why). Logged. */
static int start_discovery(carnet_node *n) {
  carnet__hostport hp;
  char why[160];
  carnet__discovery_opts o = {.iface = n->opts.discover_iface,
                              .udp_port = n->opts.discover_port,
                              .interval_ms = n->opts.discover_interval_ms};
  if (!n->listening || carnet__addr_parse(n->listen_addr, false, &hp, why, sizeof why) < 0) {
    carnet__node_log(n, CARNET_LOG_WARN, "LAN discovery needs a listening address: off");
    return CARNET_EINVAL;
  }
  int rc = carnet__discovery_start(n->loop, n->r, hp.port, &o, on_discovered, n, &n->disc);
  if (rc) {
    carnet__node_log(n, CARNET_LOG_WARN,
                     "LAN discovery off: %s (peers given with --peer are "
                     "still dialled)",
                     carnet_replica_errmsg(n->r));
    return rc;
  }
  n->handles_open++; /* until on_discovery_done */
  if (n->opts.once) want_read(n);
  carnet__node_log(n, CARNET_LOG_INFO, "LAN discovery on (UDP %u)",
                   n->opts.discover_port ? n->opts.discover_port : CARNET_DISCOVERY_UDP_PORT);
  return 0;
}

/* --- the tick ----------------------------------------------------------- */

/* An erasure applied here or by another process asks for a compaction
 * (carnet/erase.h). Between two callbacks no transaction is open and no
 * session holds a pointer into the map, so the node can close and reopen
 * its environment at any tick; it runs once no other process has the
 * directory open. Looked at once a second. */
static void compact_if_asked(carnet_node *n, uint64_t now) {
  bool done = false;
  if (now - n->compact_checked < 1000) return;
  n->compact_checked = now;
  if (carnet_replica_compact(n->r, false, &done) != 0)
    carnet__node_log(n, CARNET_LOG_WARN, "%s", carnet_replica_errmsg(n->r));
  else if (done)
    carnet__node_log(n, CARNET_LOG_INFO, "replica compacted after an erasure");
}

/* Changes that other processes committed reach the replica's subscribers
 * (carnet/feed.h); a failure is logged once until it changes, and the
 * changes stay to be found at a later tick. */
static void poll_feed(carnet_node *n) {
  int rc = carnet_replica_poll(n->r);
  if (rc && rc != n->poll_err)
    carnet__node_log(n, CARNET_LOG_WARN, "change feed: %s", carnet_replica_errmsg(n->r));
  n->poll_err = rc;
}

static void report_progress(carnet_node *n, uint64_t now) {
  if (n->opts.progress == NULL || n->stopping) return;
  for (carnet__conn *c = n->conns; c; c = c->next) {
    if (c->dial == NULL || c->s == NULL || !c->authenticated || c->phase != CARNET__CONN_OPEN)
      continue;
    carnet_session_stats st;
    carnet_session_get_stats(c->s, &st);
    n->opts.progress(n->opts.progress_data, c->addr, &st, now - c->started);
  }
}

static void on_tick(uv_timer_t *t) {
  carnet_node *n = t->data;
  uint64_t now = uv_now(n->loop);
  if (!n->stopping && n->opts.timeout_ms && now - n->t0 >= n->opts.timeout_ms) {
    for (size_t i = 0; i < n->ndials; i++) {
      carnet__dial *d = &n->dials[i];
      if (d->done) continue;
      d->out.timed_out = true;
      if (d->conn && !d->conn->ended)
        carnet__conn_end(d->conn, UV_ETIMEDOUT, 0, false, "no result after %.0f s",
                         n->opts.timeout_ms / 1000.0);
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
  if (!n->accept_deferred) n->accept_burst = 0;
  admission_log(n, now, false);
  if (!n->stopping && n->disc && once_done(n)) carnet__node_stop(n); /* N7 */
  if (n->stopping) {
    maybe_finish(n);
  } else {
    anti_entropy(n, now);
    compact_if_asked(n, now);
    poll_feed(n);
  }
}

/* --- accepting: admission (A1-A6) ------------------------------------------ */

static void on_refused_close(uv_handle_t *h) {
  carnet__free(h);
}

/* The address a budget counts by: IPv4 (an IPv4-mapped IPv6 address is
 * one), or the /64 of an IPv6 address (one host usually holds a whole
 * /64). */
static void source_key(const struct sockaddr_storage *ss, carnet__conn *c) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  c->srclen = 0;
  if (ss->ss_family == AF_INET) {
    memcpy(c->src, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    c->srclen = 4;
  } else if (ss->ss_family == AF_INET6) {
    const uint8_t *a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
    if (memcmp(a, mapped, sizeof mapped) == 0) {
      memcpy(c->src, a + 12, 4);
      c->srclen = 4;
    } else {
      memcpy(c->src, a, 8);
      c->srclen = 8;
    }
  }
}

static bool same_source(const carnet__conn *a, const carnet__conn *b) {
  return a->srclen == b->srclen && memcmp(a->src, b->src, a->srclen) == 0;
}

/* How readily an accepted handshake gives its slot to a newcomer (A3):
 * 0 its session has ended (it only lingers), 1 it has sent nothing at all
 * (no byte read, none waiting in its socket), 2 it has been silent for
 * CARNET_NODE_HS_STALL_MS; -1 it is making progress and keeps its slot. */
static int victim_rank(carnet__conn *c, uint64_t now) {
  if (c->phase == CARNET__CONN_DRAINING || c->phase == CARNET__CONN_SHUTDOWN) return 0;
  if (c->phase != CARNET__CONN_OPEN) return -1;
  if (carnet__conn_idle(c)) return 1;
  if (now - c->last_rx >= CARNET_NODE_HS_STALL_MS) return 2;
  return -1;
}

/* The handshake a newcomer from `like`'s address (NULL: any address) may
 * take the place of: the lowest rank, then the oldest. NULL: none. */
static carnet__conn *admission_victim(carnet_node *n, const carnet__conn *like, uint64_t now) {
  carnet__conn *best = NULL;
  int best_rank = 3;
  for (carnet__conn *c = n->conns; c; c = c->next) {
    if (!c->in_handshakes || c->authenticated || c == like || c->phase == CARNET__CONN_CLOSING)
      continue;
    if (like && !same_source(c, like)) continue;
    int rank = victim_rank(c, now);
    if (rank < 0) continue;
    if (rank < best_rank || (rank == best_rank && c->started < best->started)) {
      best = c;
      best_rank = rank;
    }
  }
  return best;
}

static unsigned handshakes_from(const carnet_node *n, const carnet__conn *like) {
  unsigned k = 0;
  for (const carnet__conn *c = n->conns; c; c = c->next)
    if (c->in_handshakes && c != like && c->phase != CARNET__CONN_CLOSING && same_source(c, like))
      k++;
  return k;
}

/* One line a second at most for what admission turned away (A6): an
 * attack must not fill the log, nor the disk it is on. */
static void admission_log(carnet_node *n, uint64_t now, bool flush) {
  if (n->refused == 0 && n->evicted == 0) return;
  if (!flush && now - n->admission_logged < CARNET_NODE_ADMISSION_LOG_MS) return;
  carnet__node_log(n, CARNET_LOG_WARN,
                   "busy: turned away %u new and %u waiting connection%s in %.1f s (at most %u "
                   "handshakes at once, %u from one address)",
                   n->refused, n->evicted, n->evicted == 1 ? "" : "s",
                   (now - n->admission_logged) / 1000.0, CARNET_NODE_HANDSHAKES_MAX,
                   CARNET_NODE_HANDSHAKES_PER_ADDR);
  n->refused = n->evicted = 0;
  n->admission_logged = now;
}

static void on_accept_timer(uv_timer_t *t);

/* Accepts the next connection of the backlog and closes it at once. With
 * no memory even for that, it stays in the backlog; libuv watches the
 * listener again only after a uv_accept, so the timer tries again. */
static void refuse_now(carnet_node *n) {
  uv_tcp_t *t = carnet__malloc(sizeof *t);
  if (t == NULL || uv_tcp_init(n->loop, t) < 0) {
    carnet__free(t);
    if (n->handles_started && !n->finished &&
        uv_timer_start(&n->accept_timer, on_accept_timer, 100, 0) == 0)
      n->accept_deferred = true;
    return;
  }
  (void)uv_accept((uv_stream_t *)&n->listener, (uv_stream_t *)t);
  if (!n->stopping) n->refused++;
  uv_close((uv_handle_t *)t, on_refused_close);
}

/* Takes one connection from the backlog and decides (A1-A3): a slot of
 * its own, the slot of a handshake that is not getting anywhere, or a
 * "busy" answer and a close. */
static void admit(carnet_node *n) {
  uv_stream_t *server = (uv_stream_t *)&n->listener;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uint64_t now = uv_now(n->loop);
  if (n->stopping || n->nconns >= CARNET__NODE_CONNS_HARD) {
    refuse_now(n);
    return;
  }
  carnet__conn *c = carnet__conn_new(n, NULL, "?");
  if (c == NULL) {
    refuse_now(n);
    return;
  }
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
    c->quiet = true;
    carnet__conn_close(c);
    return;
  }
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    carnet__addr_format((struct sockaddr *)&ss, c->addr, sizeof c->addr);
    source_key(&ss, c);
  }
  carnet__conn *victim = NULL;
  bool full = false;
  if (handshakes_from(n, c) >= CARNET_NODE_HANDSHAKES_PER_ADDR) {
    full = true;
    victim = admission_victim(n, c, now);
  } else if (n->nhandshakes >= CARNET_NODE_HANDSHAKES_MAX) {
    full = true;
    victim = admission_victim(n, NULL, now);
  }
  if (full && victim == NULL) {
    n->refused++;
    carnet__conn_turn_away(c, "refused: too many handshakes at once");
    admission_log(n, now, false);
    return;
  }
  if (victim) {
    n->evicted++;
    carnet__conn_turn_away(victim, "turned away: it sent nothing while others waited");
    admission_log(n, now, false);
  }
  c->in_handshakes = true;
  n->nhandshakes++;
  carnet__conn_accepted(c);
}

/* A5: at most CARNET_NODE_ACCEPT_BURST connections per turn of the loop.
 * libuv accepts until the backlog is empty; a client that reopens every
 * connection we close keeps it full, so the loop would never get to the
 * reads of the connections it holds (a trusted peer's included). Leaving
 * one in the backlog stops libuv watching the listener until uv_accept,
 * which the zero timer calls at the next turn, after the reads. */
static void on_accept_timer(uv_timer_t *t) {
  carnet_node *n = t->data;
  n->accept_burst = 0;
  if (!n->accept_deferred) return;
  n->accept_deferred = false;
  if (!n->listening) return;
  n->accept_burst++;
  admit(n);
}

static void on_connection(uv_stream_t *server, int status) {
  carnet_node *n = server->data;
  if (status < 0) {
    carnet__node_log(n, CARNET_LOG_WARN, "cannot accept a connection: %s", uv_strerror(status));
    return;
  }
  if (n->handles_started && !n->finished && n->accept_burst >= CARNET_NODE_ACCEPT_BURST) {
    if (uv_timer_start(&n->accept_timer, on_accept_timer, 0, 0) == 0) {
      n->accept_deferred = true;
      return;
    }
  }
  n->accept_burst++;
  admit(n);
}

/* --- signals ------------------------------------------------------------ */

static void on_signal(uv_signal_t *h, int signum) {
  carnet_node *n = h->data;
  if (n->stopping) {
    /* A second signal: do not wait for peers any longer. */
    n->stop_deadline = uv_now(n->loop);
    return;
  }
  n->stop_signal = signum;
  carnet__node_log(n, CARNET_LOG_INFO, "stopping (%s)", signum == SIGINT ? "SIGINT" : "SIGTERM");
  carnet__node_stop(n);
}

/* --- calls from other threads --------------------------------------------------- */

static void on_async(uv_async_t *h) {
  carnet_node *n = h->data;
  uv_mutex_lock(&n->mu);
  carnet__call *q = n->calls;
  bool stop = n->stop_requested;
  n->calls = n->calls_tail = NULL;
  uv_mutex_unlock(&n->mu);
  run_calls(n, q);
  if (stop) carnet__node_stop(n);
}

static bool on_loop_thread(carnet_node *n) {
  uv_thread_t self = uv_thread_self();
  return n->loop_thread_set && uv_thread_equal(&self, &n->loop_thread);
}

/* Runs fn(n, arg) where the replica may be used (N1) and returns its
 * result. */
static int node_call(carnet_node *n, int (*fn)(carnet_node *n, void *arg), void *arg) {
  for (;;) {
    uv_mutex_lock(&n->mu);
    if (on_loop_thread(n)) {
      uv_mutex_unlock(&n->mu);
      return fn(n, arg); /* a callback of the node: between two events already */
    }
    /* N1: a loop thread that is not done yet (beginning, draining,
     * closing) is waited for; one that accepts calls gets this one. */
    while (!n->accepting && (n->draining || n->own_running))
      uv_cond_wait(&n->cond, &n->mu);
    if (n->accepting) {
      carnet__call c = {.fn = fn, .arg = arg};
      if (n->calls_tail)
        n->calls_tail->next = &c;
      else
        n->calls = &c;
      n->calls_tail = &c;
      uv_async_send(&n->async); /* N3 */
      while (!c.done)
        uv_cond_wait(&n->cond, &n->mu);
      uv_mutex_unlock(&n->mu);
      return c.rc;
    }
    uv_mutex_unlock(&n->mu);
    /* Not running: run it here, one caller at a time. The node cannot
     * start meanwhile (starting takes `direct`), but it may have started
     * before we got it: then go round again. */
    uv_mutex_lock(&n->direct);
    uv_mutex_lock(&n->mu);
    bool busy = n->accepting || n->draining || n->own_running;
    uv_mutex_unlock(&n->mu);
    if (!busy) {
      int rc = fn(n, arg);
      uv_mutex_unlock(&n->direct);
      return rc;
    }
    uv_mutex_unlock(&n->direct);
  }
}

typedef struct exec_arg {
  int (*fn)(carnet_replica *r, void *data);
  void *data;
} exec_arg;

static int exec_here(carnet_node *n, void *arg) {
  exec_arg *a = arg;
  return a->fn(n->r, a->data);
}

int carnet_node_exec(carnet_node *n, int (*fn)(carnet_replica *r, void *data), void *data) {
  exec_arg a = {fn, data};
  if (fn == NULL) return CARNET_EMISUSE;
  return node_call(n, exec_here, &a);
}

static int dial_here(carnet_node *n, void *arg) {
  const char *addr = arg;
  carnet__dial *d;
  if (n->stopping || n->finished) return CARNET_EMISUSE;
  for (size_t i = 0; i < n->ndials; i++)
    if (strcmp(n->dials[i].out.addr, addr) == 0) return CARNET_EEXIST;
  int rc = dial_add(n, addr, &d, NULL, 0);
  if (rc == 0) d->next_ms = 0; /* the next tick dials it, or the start */
  return rc;
}

static int discover_here(carnet_node *n, void *arg) {
  (void)arg;
  if (n->opts.once || n->stopping || n->finished) return CARNET_EMISUSE;
  if (!n->listening) return CARNET_EINVAL;
  if (n->disc) return 0;
  if (!n->started) { /* at the start, as opts.discover asks */
    n->opts.discover = true;
    return 0;
  }
  return start_discovery(n);
}

int carnet_node_discover(carnet_node *n) {
  return node_call(n, discover_here, NULL);
}

int carnet_node_dial(carnet_node *n, const char *hostport) {
  int rc = carnet_node_addr_parse(hostport, NULL, 0, NULL, NULL, 0);
  if (rc) return rc;
  return node_call(n, dial_here, (void *)hostport);
}

/* --- life --------------------------------------------------------------- */

/* Binds and listens on opts.listen; fills n->listen_addr. */
static int start_listening(carnet_node *n, char *why, size_t why_len) {
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
    rc = uv_getaddrinfo(n->loop, &req, NULL, hp.host, port, &hints);
    if (rc < 0 || req.addrinfo == NULL)
      return carnet__why(why, why_len, CARNET_EINVAL, "cannot listen on %s: unknown host '%s'",
                         n->opts.listen, hp.host);
    res = req.addrinfo;
    sa = res->ai_addr;
  }
  rc = uv_tcp_init(n->loop, &n->listener);
  if (rc < 0) {
    uv_freeaddrinfo(res);
    return carnet__why(why, why_len, CARNET_EIO, "cannot listen: %s", uv_strerror(rc));
  }
  n->listener.data = n;
  n->listening = true;
  n->handles_open++;
  rc = uv_tcp_bind(&n->listener, sa, 0);
  uv_freeaddrinfo(res);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&n->listener, 128, on_connection);
  if (rc < 0)
    return carnet__why(why, why_len, CARNET_EIO, "cannot listen on %s: %s", n->opts.listen,
                       uv_strerror(rc));
  rc = uv_tcp_getsockname(&n->listener, (struct sockaddr *)&ss, &len);
  if (rc < 0)
    return carnet__why(why, why_len, CARNET_EIO, "cannot listen on %s: %s", n->opts.listen,
                       uv_strerror(rc));
  carnet__addr_format((struct sockaddr *)&ss, n->listen_addr, sizeof n->listen_addr);
  return 0;
}

static int setup_dials(carnet_node *n, const char *const *peers, size_t npeers, char *why,
                       size_t why_len) {
  carnet__dial *d;
  if (npeers > CARNET_NODE_PEERS_MAX)
    return carnet__why(why, why_len, CARNET_EINVAL, "too many peers (%zu): at most %u", npeers,
                       CARNET_NODE_PEERS_MAX);
  /* Every slot at once: peers dialled at runtime or found on the LAN are
   * added while connections point at their dial target. */
  n->dials = carnet__calloc(CARNET_NODE_PEERS_MAX, sizeof *n->dials);
  if (n->dials == NULL) return carnet__why(why, why_len, CARNET_ENOMEM, "out of memory");
  for (size_t i = 0; i < npeers; i++)
    if (dial_add(n, peers[i], &d, why, why_len) < 0) return CARNET_EINVAL;
  return 0;
}

int carnet_node_new(carnet_replica *r, const carnet_node_opts *opts, carnet_node **out, char *why,
                    size_t why_len) {
  carnet_node *n = NULL;
  int rc;
  if (out) *out = NULL;
  if (why && why_len) why[0] = '\0';
  if (r == NULL || opts == NULL || out == NULL)
    return carnet__why(why, why_len, CARNET_EMISUSE,
                       "a node needs a replica, options and a handle");
  if ((n = carnet__calloc(1, sizeof *n)) == NULL)
    return carnet__why(why, why_len, CARNET_ENOMEM, "out of memory");
  if (uv_mutex_init(&n->mu) < 0) {
    carnet__free(n);
    return carnet__why(why, why_len, CARNET_EIO, "cannot make a mutex");
  }
  if (uv_cond_init(&n->cond) < 0) {
    uv_mutex_destroy(&n->mu);
    carnet__free(n);
    return carnet__why(why, why_len, CARNET_EIO, "cannot make a condition variable");
  }
  if (uv_mutex_init_recursive(&n->direct) < 0) {
    uv_cond_destroy(&n->cond);
    uv_mutex_destroy(&n->mu);
    carnet__free(n);
    return carnet__why(why, why_len, CARNET_EIO, "cannot make a mutex");
  }
  n->r = r;
  n->opts = *opts;
  n->opts.peers = NULL;  /* not kept: the dials hold what they need */
  n->opts.listen = NULL; /* n->listen_addr says where it listens */
  n->opts.discover_iface = NULL;
  n->opts.invite_token = NULL; /* n->invite_token is the copy */
  if (n->opts.max_conns == 0 || n->opts.max_conns > CARNET_NODE_CONNS_MAX)
    n->opts.max_conns = CARNET_NODE_CONNS_MAX;
  n->mode = opts->loop ? CARNET__MODE_LOOP : CARNET__MODE_OWN;
  if ((opts->invite_token && (n->invite_token = carnet__strdup(opts->invite_token)) == NULL) ||
      (opts->discover_iface &&
       (n->discover_iface = carnet__strdup(opts->discover_iface)) == NULL)) {
    rc = carnet__why(why, why_len, CARNET_ENOMEM, "out of memory");
    goto fail;
  }
  n->opts.discover_iface = n->discover_iface;
  if ((rc = setup_dials(n, opts->peers, opts->npeers, why, why_len)) < 0) goto fail;
  if (opts->loop) {
    n->loop = opts->loop;
  } else {
    rc = uv_loop_init(&n->own_loop);
    if (rc < 0) {
      rc =
          carnet__why(why, why_len, CARNET_EIO, "cannot start the event loop: %s", uv_strerror(rc));
      goto fail;
    }
    n->own_loop_open = true;
    n->loop = &n->own_loop;
    n->own_loop.data = n;
  }
  if (opts->listen) {
    n->opts.listen = opts->listen; /* read by start_listening only */
    rc = start_listening(n, why, why_len);
    n->opts.listen = NULL;
    if (rc < 0) goto fail;
  }
  *out = n;
  return 0;
fail:
  carnet_node_free(n);
  return rc;
}

/* What every way of running does first, on the loop thread: the handles,
 * the dials, discovery. Returns 0, or CARNET_EIO with the node stopping. */
static int node_begin(carnet_node *n) {
  int rc;
  n->started = true;
  /* A peer that vanishes mid-write must not kill a command-line process;
   * an app decides for itself (carnet/node.h). */
  if (n->opts.signals) signal(SIGPIPE, SIG_IGN);
  if ((rc = uv_async_init(n->loop, &n->async, on_async)) < 0) goto uv_fail;
  n->async.data = n;
  n->handles_open++;
  /* The loop's life is the timer's and the connections': a woken loop
   * that has nothing else to do may end. */
  uv_unref((uv_handle_t *)&n->async);
  uv_mutex_lock(&n->mu);
  n->accepting = true;
  uv_cond_broadcast(&n->cond); /* callers waiting for the loop thread queue now */
  uv_mutex_unlock(&n->mu);
  if ((rc = uv_timer_init(n->loop, &n->tick)) < 0) goto uv_fail;
  n->tick.data = n;
  n->handles_open++;
  if ((rc = uv_timer_init(n->loop, &n->accept_timer)) < 0) goto uv_fail_tick;
  n->accept_timer.data = n;
  n->handles_open++;
  if (n->opts.signals) {
    if ((rc = uv_signal_init(n->loop, &n->sigint)) < 0) goto uv_fail_timers;
    n->handles_open++;
    if ((rc = uv_signal_init(n->loop, &n->sigterm)) < 0) {
      close_handle(n, (uv_handle_t *)&n->sigint);
      goto uv_fail_timers;
    }
    n->handles_open++;
    n->sigint.data = n->sigterm.data = n;
  }
  n->handles_started = true;
  if ((rc = uv_timer_start(&n->tick, on_tick, CARNET_NODE_TICK_MS, CARNET_NODE_TICK_MS)) < 0)
    goto uv_fail;
  if (n->opts.signals && ((rc = uv_signal_start(&n->sigint, on_signal, SIGINT)) < 0 ||
                          (rc = uv_signal_start(&n->sigterm, on_signal, SIGTERM)) < 0))
    goto uv_fail;
  uv_update_time(n->loop);
  n->t0 = uv_now(n->loop);
  uv_mutex_lock(&n->mu);
  bool asked = n->stop_requested; /* carnet_node_stop before the start */
  uv_mutex_unlock(&n->mu);
  if (!asked && n->opts.discover) (void)start_discovery(n); /* logged */
  if (asked || (n->opts.once && n->ndials == 0 && !n->listening && n->disc == NULL))
    carnet__node_stop(n);
  anti_entropy(n, n->t0); /* every peer is dialled at once */
  return 0;
uv_fail_timers:
  close_handle(n, (uv_handle_t *)&n->accept_timer);
uv_fail_tick:
  close_handle(n, (uv_handle_t *)&n->tick);
uv_fail:
  carnet__node_log(n, CARNET_LOG_ERROR, "event loop: %s", uv_strerror(rc));
  n->uv_failed = rc;
  carnet__node_stop(n);
  return CARNET_EIO;
}

/* The calling thread runs the node's loop from now on (`on`), or no longer
 * (its uv_run returned: N1). */
static void set_loop_thread(carnet_node *n, bool on) {
  uv_mutex_lock(&n->mu);
  n->loop_thread = uv_thread_self();
  n->loop_thread_set = on;
  n->own_running = on && n->mode == CARNET__MODE_OWN;
  uv_cond_broadcast(&n->cond);
  uv_mutex_unlock(&n->mu);
}

int carnet_node_start(carnet_node *n) {
  if (n->mode != CARNET__MODE_LOOP || n->started) return CARNET_EMISUSE;
  uv_mutex_lock(&n->direct); /* N1: no call runs in another thread from now on */
  set_loop_thread(n, true);
  int rc = node_begin(n);
  uv_mutex_unlock(&n->direct);
  return rc;
}

int carnet_node_run(carnet_node *n) {
  if (n->mode != CARNET__MODE_OWN || n->started) return CARNET_EMISUSE;
  uv_mutex_lock(&n->direct);
  set_loop_thread(n, true);
  int rc = node_begin(n);
  uv_mutex_unlock(&n->direct);
  uv_run(n->loop, UV_RUN_DEFAULT);
  set_loop_thread(n, false);
  return rc || n->uv_failed ? CARNET_EIO : 0;
}

static void thread_main(void *arg) {
  carnet_node *n = arg;
  set_loop_thread(n, true);
  int rc = node_begin(n);
  uv_mutex_lock(&n->mu);
  n->begun = true;
  uv_cond_broadcast(&n->cond);
  uv_mutex_unlock(&n->mu);
  uv_run(n->loop, UV_RUN_DEFAULT);
  uv_mutex_lock(&n->mu);
  n->run_rc = rc || n->uv_failed ? CARNET_EIO : 0;
  n->loop_thread_set = false;
  n->own_running = false;
  n->thread_running = false;
  uv_cond_broadcast(&n->cond);
  uv_mutex_unlock(&n->mu);
}

int carnet_node_start_thread(carnet_node *n) {
  if (n->mode != CARNET__MODE_OWN || n->started) return CARNET_EMISUSE;
  /* N1: no call runs in the app's threads while the node's thread begins;
   * calls made meanwhile wait for it, then queue. */
  uv_mutex_lock(&n->direct);
  uv_mutex_lock(&n->mu);
  n->threaded = true;
  n->thread_running = true;
  uv_mutex_unlock(&n->mu);
  n->started = true;
  int rc = uv_thread_create(&n->thread, thread_main, n);
  uv_mutex_lock(&n->mu);
  if (rc < 0) {
    n->threaded = false;
    n->thread_running = false;
  } else {
    while (!n->begun)
      uv_cond_wait(&n->cond, &n->mu);
  }
  uv_mutex_unlock(&n->mu);
  uv_mutex_unlock(&n->direct);
  if (rc < 0) {
    n->started = false;
    carnet__node_log(n, CARNET_LOG_ERROR, "cannot start the node's thread: %s", uv_strerror(rc));
    return CARNET_EIO;
  }
  return 0;
}

void carnet_node_stop(carnet_node *n) {
  uv_mutex_lock(&n->mu);
  n->stop_requested = true;
  if (n->accepting) uv_async_send(&n->async); /* N3 */
  bool join = n->threaded && !on_loop_thread(n);
  uv_mutex_unlock(&n->mu);
  if (join) (void)carnet_node_join(n);
}

int carnet_node_join(carnet_node *n) {
  uv_mutex_lock(&n->mu);
  if (!n->threaded || on_loop_thread(n)) {
    uv_mutex_unlock(&n->mu);
    return CARNET_EMISUSE;
  }
  bool mine = !n->joined; /* one caller joins; others wait for the end */
  n->joined = true;
  if (!mine)
    while (n->thread_running)
      uv_cond_wait(&n->cond, &n->mu);
  uv_mutex_unlock(&n->mu);
  if (mine) uv_thread_join(&n->thread);
  return n->run_rc;
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void node_release(carnet_node *n) {
  uv_mutex_destroy(&n->direct);
  uv_cond_destroy(&n->cond);
  uv_mutex_destroy(&n->mu);
  carnet__free(n->dials);
  carnet__free(n->want);
  carnet__free(n->invite_token);
  carnet__free(n->discover_iface);
  carnet__free(n);
}

void carnet_node_free(carnet_node *n) {
  if (n == NULL) return;
  if (n->threaded) carnet_node_stop(n); /* and joins */
  if (n->mode == CARNET__MODE_LOOP) {
    if (n->started && !n->finished) {
      /* Its sessions still use the replica and its handles the loop: the
       * app must stop it and let the loop close them (carnet/node.h). */
      fprintf(stderr, "carnet_node_free: the node still runs on the app's loop: call "
                      "carnet_node_stop and wait for its stopped callback\n");
      abort();
    }
    if (!n->started) {
      n->finished = true;
      if (n->listening) {
        close_handle(n, (uv_handle_t *)&n->listener);
        n->listening = false;
      }
    }
    if (n->handles_open > 0) {
      n->free_when_closed = true; /* by the last close callback, on the app's loop */
      return;
    }
    node_release(n);
    return;
  }
  n->freeing = true;
  if (n->own_loop_open) {
    /* A node that never ran (or failed in setup) still has its listener. */
    uv_walk(n->loop, close_any, NULL);
    uv_run(n->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(n->loop);
    if (rc != 0)
      carnet__node_log(n, CARNET_LOG_ERROR, "event loop still busy at close: %s", uv_strerror(rc));
  }
  node_release(n);
}
