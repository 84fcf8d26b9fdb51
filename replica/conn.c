/* replica/conn.c - one TCP connection driving one sync session.
 *
 * The session (carnet/sync.h) is a state machine over bytes; this file moves
 * its bytes over a libuv TCP handle and gives it the clock.
 *
 *            connect ok / accept
 *   CONNECTING -------------------> OPEN
 *       |                            |  \  session CLOSED or FAILED,
 *       | connect error,             |   \ or the node stops (BYE)
 *       | CONNECT_MS                 |    v
 *       |                 read EOF,  |   DRAINING --(output written)--> SHUTDOWN
 *       |                 I/O error, |    |                                |
 *       |                 write stall|    | LINGER_MS, I/O error           | peer's EOF,
 *       v                            v    v                                v LINGER_MS
 *     CLOSING <------------------------------------------------------------
 *     (uv_close; the connection is freed in the close callback)
 *
 * Invariants:
 *  1. At most one uv_write is in flight. Its bytes are a copy of the head of
 *     the session's output; carnet_session_sent(n) is called only from the
 *     write callback, with status 0, for exactly those n bytes.
 *  2. The session is fed input only in OPEN; after its end, bytes from the
 *     peer are read and dropped (so closing does not reset the connection
 *     while the peer still reads our ERROR or BYE).
 *  3. A connection's end is recorded (dial outcome, one log line) exactly
 *     once: c->ended.
 *  4. Every phase but OPEN has a deadline, and OPEN has the session's own
 *     timeouts plus the write stall limit: nothing waits on a peer forever.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/ioctl.h>
#include <sys/socket.h>

#include "carnet/error.h"
#include "carnet/replica.h"
#include "engine/base/alloc.h"
#include "protocol/handshake.h"
#include "replica/node_int.h"

static void pump(carnet__conn *c);

void carnet__conn_pump(carnet__conn *c) {
  pump(c);
}

static carnet_node_outcome *outcome(carnet__conn *c) {
  return c->dial ? &c->dial->out : NULL;
}

static uv_stream_t *stream(carnet__conn *c) {
  return (uv_stream_t *)&c->tcp;
}

/* "127.0.0.1:7001 (key ab12cd34…)", once the peer's key is known. */
static const char *label(carnet__conn *c, char *buf, size_t len) {
  const uint8_t *pk = c->s && c->authenticated ? carnet_session_peer_pk(c->s) : NULL;
  char key[16];
  if (pk)
    snprintf(buf, len, "%s (key %s)", c->addr, carnet__node_key_short(pk, key));
  else
    snprintf(buf, len, "%s", c->addr);
  return buf;
}

/* Records the end of the connection (invariant 3), for its close's peer
 * event and in the dial outcome. The caller logs the line. */
void carnet__conn_end(carnet__conn *c, int uv_err, int err, bool synced, const char *fmt, ...) {
  carnet_node_outcome *o = outcome(c);
  if (c->ended) return; /* the first end is the one that counts */
  c->ended = true;
  c->end_uv = uv_err;
  c->end_err = err;
  c->end_synced = synced;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->end_msg, sizeof c->end_msg, fmt, ap);
  va_end(ap);
  if (o == NULL) return;
  c->dial->uv_err = uv_err;
  o->err = err;
  o->synced = synced;
  memcpy(o->msg, c->end_msg, sizeof o->msg);
}

static void on_close(uv_handle_t *h) {
  carnet__conn *c = h->data;
  carnet_node *n = c->node;
  carnet_node_outcome *o = outcome(c);
  if (o && c->s) {
    carnet_session_get_stats(c->s, &o->stats);
    if (o->connected) o->elapsed_ms = uv_now(n->loop) - c->started;
  }
  if (c->prev)
    c->prev->next = c->next;
  else
    n->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  n->nconns--;
  carnet__node_conn_gone(n, c);
  carnet_session_free(c->s);
  carnet__free(c->wbuf);
  carnet__free(c->rbuf);
  carnet__free(c);
}

void carnet__conn_close(carnet__conn *c) {
  if (c->phase == CARNET__CONN_CLOSING) return;
  c->phase = CARNET__CONN_CLOSING;
  if (!c->ended) carnet__conn_end(c, UV_ECANCELED, 0, false, "connection closed");
  uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* Reads and drops what the peer sent that was not read yet, then closes:
 * a socket closed with unread input sends a RST, which may destroy what we
 * just wrote (our ERROR) before the peer reads it. Bounded: a peer that
 * keeps sending loses the race, which costs only it. */
static void close_now(carnet__conn *c) {
  uv_os_fd_t fd;
  if (c->phase != CARNET__CONN_CLOSING && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
    char sink[4096];
    for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++) {
    }
  }
  carnet__conn_close(c);
}

/* The plaintext ERROR frame that tells a dialling peer this node is busy
 * (protocol/handshake.h: a refusal during the handshake). Encoded once. */
static const carnet_buf *busy_frame(void) {
  static uint8_t bytes[96];
  static carnet_buf frame;
  if (frame.len == 0) {
    carnet__obuf b;
    carnet__obuf_init(&b);
    if (carnet__hs_refusal(&b, CARNET_EBUSY, CARNET_HS_BUSY_TEXT) == 0 && b.len <= sizeof bytes) {
      memcpy(bytes, b.base, b.len);
      frame = (carnet_buf){bytes, b.len};
    }
    carnet__obuf_free(&b);
  }
  return &frame;
}

void carnet__conn_turn_away(carnet__conn *c, const char *why) {
  if (c->phase == CARNET__CONN_CLOSING) return;
  /* Only while we have sent nothing of our own, or only our handshake's
   * message (2) (the dialler then reads frames: the ERROR is one); a
   * session that ended has had its say. */
  bool tell = c->phase == CARNET__CONN_OPEN && !c->writing && !c->authenticated &&
              (c->s == NULL || carnet_session_output(c->s).len == 0);
  const carnet_buf *f = busy_frame();
  if (tell && f->len) {
    uv_buf_t b = uv_buf_init((char *)f->base, (unsigned)f->len);
    (void)uv_try_write(stream(c), &b, 1); /* a fresh socket takes 50 bytes at once */
  }
  if (!c->ended) carnet__conn_end(c, 0, CARNET_EBUSY, false, "%s", why);
  close_now(c);
}

bool carnet__conn_idle(carnet__conn *c) {
  uv_os_fd_t fd;
  int avail = 0;
  if (c->rx_bytes > 0) return false;
  if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) return true;
  return ioctl(fd, FIONREAD, &avail) != 0 || avail == 0;
}

/* The connection broke (EOF, I/O error, a deadline) while the session was
 * still running: record it, log it, close. */
static void lost(carnet__conn *c, int uv_err, const char *why) {
  char w[CARNET__ADDR_MAX + 48];
  carnet_node *n = c->node;
  if (!c->ended) {
    const char *what = why                ? why
                       : uv_err == UV_EOF ? "connection closed by the peer"
                                          : uv_strerror(uv_err);
    if (c->dial) c->dial->out.peer_closed = uv_err == UV_EOF || uv_err == UV_ECONNRESET;
    if (c->phase == CARNET__CONN_CONNECTING) {
      carnet__conn_end(c, uv_err, 0, false, "%s", what);
      carnet__node_log(n, CARNET_LOG_WARN, "cannot reach %s: %s", c->addr, what);
    } else if (!c->authenticated) {
      carnet__conn_end(c, uv_err, 0, false, "%s during the handshake", what);
      carnet__node_log(n, CARNET_LOG_WARN, "connection with %s ended during the handshake: %s",
                       c->addr, what);
    } else {
      carnet__conn_end(c, uv_err, 0, false, "%s during the session", what);
      carnet__node_log(n, CARNET_LOG_WARN, "peer %s: disconnected (%s)", label(c, w, sizeof w),
                       what);
    }
  }
  carnet__conn_close(c);
}

/* --- the session's end -------------------------------------------------- */

static void start_draining(carnet__conn *c) {
  uint64_t now = uv_now(c->node->loop);
  c->phase = CARNET__CONN_DRAINING;
  c->deadline = now + CARNET_NODE_LINGER_MS;
  if (c->node->stopping && c->node->stop_deadline < c->deadline)
    c->deadline = c->node->stop_deadline;
}

static void session_failed(carnet__conn *c) {
  carnet_node *n = c->node;
  int err = carnet_session_get_error(c->s);
  const char *msg = carnet_session_errmsg(c->s);
  char w[CARNET__ADDR_MAX + 48];
  if (msg == NULL || msg[0] == '\0') msg = carnet_error_message(err);
  carnet__conn_end(c, 0, err, false, "%s", msg);
  if (!c->authenticated && (err == CARNET_EPERM || err == CARNET_EVERSION))
    carnet__node_log(n, CARNET_LOG_WARN, "refused %s: %s", c->addr, msg);
  else
    carnet__node_log(n, CARNET_LOG_WARN, "session with %s failed: %s", label(c, w, sizeof w), msg);
  start_draining(c);
}

static void session_closed(carnet__conn *c) {
  carnet_session_stats st;
  char w[CARNET__ADDR_MAX + 48];
  carnet_session_get_stats(c->s, &st);
  carnet__conn_end(c, 0, 0, true, "%s", "");
  carnet__node_log(c->node, CARNET_LOG_INFO,
                   "peer %s: session closed: %llu cells in (%llu new), %llu out, %llu bytes in, "
                   "%llu out",
                   label(c, w, sizeof w), (unsigned long long)st.cells_in,
                   (unsigned long long)st.cells_applied, (unsigned long long)st.cells_out,
                   (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out);
  start_draining(c);
}

/* --- watching the session's state ---------------------------------------- */

static void on_authenticated(carnet__conn *c) {
  carnet_node_outcome *o = outcome(c);
  const uint8_t *pk = carnet_session_peer_pk(c->s);
  c->authenticated = true;
  if (o) {
    o->authenticated = true;
    if (pk) memcpy(o->peer_pk, pk, CARNET_PK_BYTES);
    o->peer_id = carnet_session_peer_id(c->s);
    o->joined = carnet_session_joined(c->s);
  }
  carnet__node_conn_authenticated(c->node, c);
  carnet__node_conn_event(c->node, c, CARNET_PEER_AUTHENTICATED);
}

/* Logs "synced" each time the session catches up, with what moved since the
 * last such line. */
static void log_synced(carnet__conn *c) {
  carnet_session_stats st;
  char w[CARNET__ADDR_MAX + 48];
  carnet_session_get_stats(c->s, &st);
  uint64_t in = st.cells_in - c->logged.cells_in, out = st.cells_out - c->logged.cells_out;
  bool first = c->logged.bytes_in == 0 && c->logged.bytes_out == 0;
  if (first || in || out)
    carnet__node_log(c->node, CARNET_LOG_INFO, "peer %s: synced, %llu cells in, %llu out",
                     label(c, w, sizeof w), (unsigned long long)in, (unsigned long long)out);
  c->logged = st;
}

static void observe(carnet__conn *c) {
  carnet_session_state st = carnet_session_get_state(c->s);
  if (!c->authenticated && (st == CARNET_SESSION_SYNCING || st == CARNET_SESSION_IDLE ||
                            (st == CARNET_SESSION_CLOSED && carnet_session_peer_pk(c->s)))) {
    on_authenticated(c);
    st = carnet_session_get_state(c->s); /* admission may have ended it (node.c A2) */
  }
  if (st == CARNET_SESSION_IDLE && c->seen != CARNET_SESSION_IDLE) {
    log_synced(c);
    carnet__node_conn_event(c->node, c, CARNET_PEER_SYNCED);
  }
  c->seen = st;
  if (st == CARNET_SESSION_FAILED)
    session_failed(c);
  else if (st == CARNET_SESSION_CLOSED)
    session_closed(c);
}

/* --- writing ------------------------------------------------------------ */

static void on_shutdown(uv_shutdown_t *req, int status) {
  carnet__conn *c = req->data;
  if (c->phase == CARNET__CONN_CLOSING) return;
  if (status < 0 || c->eof) carnet__conn_close(c);
  /* else: wait (bounded by the deadline) for the peer's EOF. */
}

static void on_write(uv_write_t *req, int status) {
  carnet__conn *c = req->data;
  c->writing = false;
  if (c->phase == CARNET__CONN_CLOSING) return;
  if (status < 0) {
    lost(c, status, NULL);
    return;
  }
  carnet_session_sent(c->s, c->wlen);
  c->wlen = 0;
  pump(c);
}

static int flush(carnet__conn *c) {
  carnet_buf out = carnet_session_output(c->s);
  if (c->writing || out.len == 0) return 0;
  size_t len = out.len < CARNET_NODE_WRITE_BYTES ? out.len : CARNET_NODE_WRITE_BYTES;
  if (len > c->wcap) {
    size_t cap = c->wcap ? c->wcap : 4096;
    while (cap < len)
      cap *= 2;
    uint8_t *b = carnet__realloc(c->wbuf, cap);
    if (b == NULL) return UV_ENOMEM;
    c->wbuf = b;
    c->wcap = cap;
  }
  memcpy(c->wbuf, out.base, len);
  uv_buf_t buf = uv_buf_init((char *)c->wbuf, (unsigned)len);
  int rc = uv_write(&c->write_req, stream(c), &buf, 1, on_write);
  if (rc < 0) return rc;
  c->wlen = len;
  c->writing = true;
  c->write_since = uv_now(c->node->loop);
  return 0;
}

/* After every event: note the session's state, send what it has to send,
 * and once it has ended and its last bytes are out, send our FIN. */
static void pump(carnet__conn *c) {
  if (c->phase == CARNET__CONN_OPEN) observe(c);
  if (c->phase != CARNET__CONN_OPEN && c->phase != CARNET__CONN_DRAINING) return;
  int rc = flush(c);
  if (rc < 0) {
    lost(c, rc, NULL);
    return;
  }
  if (c->phase == CARNET__CONN_DRAINING && !c->writing) {
    c->phase = CARNET__CONN_SHUTDOWN;
    if (uv_shutdown(&c->shutdown_req, stream(c), on_shutdown) < 0) carnet__conn_close(c);
  }
}

/* --- reading ------------------------------------------------------------ */

/* Reads are gathered while the socket has more to give (a read that fills
 * its buffer), up to CARNET_NODE_INPUT_BYTES, and fed to the session in one
 * call: the session applies the batches of one call in one transaction
 * (protocol/session.c), so a bulk stream costs one commit per burst, not
 * one per batch. A read that comes back short means the socket is drained
 * for now: the input is fed at once, so a peer waiting for our ACKs is
 * never kept waiting. Input held when libuv stops reading in the middle of a
 * burst is fed on the next read or tick. */
/* The size of one read: small while an accepted connection is in its
 * handshake (anyone may open one: A4 of node.c), a burst's chunk after. */
static size_t read_chunk(const carnet__conn *c) {
  return c->dial || c->authenticated ? CARNET_NODE_READ_BYTES : CARNET_NODE_HS_READ_BYTES;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  carnet__conn *c = h->data;
  size_t chunk = read_chunk(c);
  (void)suggested;
  if (c->rcap - c->rlen < chunk) {
    size_t cap = c->rlen + chunk;
    uint8_t *b = carnet__realloc(c->rbuf, cap);
    if (b == NULL) {
      *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
      return;
    }
    c->rbuf = b;
    c->rcap = cap;
  }
  *buf = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)chunk);
}

static void feed(carnet__conn *c) {
  size_t n = c->rlen;
  if (n == 0 || c->phase != CARNET__CONN_OPEN) return;
  c->rlen = 0;
  carnet_session_input(c->s, c->rbuf, n, carnet__node_now(c->node));
  if (c->rcap > 2 * CARNET_NODE_READ_BYTES && n <= CARNET_NODE_READ_BYTES) {
    /* Give back a burst's room once the bursts are over (a feed of one
     * read or less): while they go on (a bulk sync, a file's content) the
     * room is kept, rather than faulted in again for every burst. */
    uint8_t *b = carnet__realloc(c->rbuf, CARNET_NODE_READ_BYTES);
    if (b) {
      c->rbuf = b;
      c->rcap = CARNET_NODE_READ_BYTES;
    }
  }
  pump(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  carnet__conn *c = s->data;
  (void)buf;
  if (c->phase == CARNET__CONN_CLOSING) return;
  if (nread > 0) {
    if (c->rx_bytes == 0 && c->quiet && c->phase == CARNET__CONN_OPEN) {
      c->quiet = false;
      carnet__node_conn_event(c->node, c, CARNET_PEER_CONNECTED);
    }
    c->rx_bytes += (uint64_t)nread;
    c->last_rx = uv_now(c->node->loop);
    if (c->phase != CARNET__CONN_OPEN) return; /* invariant 2 */
    c->rlen += (size_t)nread;
    if ((size_t)nread == CARNET_NODE_READ_BYTES && c->rlen < CARNET_NODE_INPUT_BYTES) return;
    feed(c);
    return;
  }
  if (nread == 0) { /* EAGAIN */
    feed(c);
    return;
  }
  feed(c); /* what came before the end */
  if (c->phase == CARNET__CONN_CLOSING) return;
  if (c->phase == CARNET__CONN_OPEN && (nread == UV_EOF || nread == UV_ECONNRESET)) {
    /* The peer is gone: the session decides whether that was a clean end
     * (it had closed) or a failure, and says which in its errmsg. */
    uv_read_stop(s);
    c->eof = true;
    if (c->dial) c->dial->out.peer_closed = true;
    carnet_session_eof(c->s);
    pump(c); /* FAILED: logged, then closed, since nothing more can come */
    if (c->phase == CARNET__CONN_OPEN) lost(c, (int)nread, NULL);
    return;
  }
  if (c->phase == CARNET__CONN_OPEN) {
    lost(c, (int)nread, NULL);
    return;
  }
  /* DRAINING or SHUTDOWN: the peer is done with us. */
  uv_read_stop(s);
  c->eof = true;
  if (nread != UV_EOF || c->phase == CARNET__CONN_SHUTDOWN) carnet__conn_close(c);
}

/* --- starting ----------------------------------------------------------- */

carnet__conn *carnet__conn_new(carnet_node *n, carnet__dial *d, const char *addr) {
  carnet__conn *c = carnet__calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->dial = d;
  c->rcap = read_chunk(c);
  c->rbuf = carnet__malloc(c->rcap);
  int rc = c->rbuf ? uv_tcp_init(n->loop, &c->tcp) : UV_ENOMEM;
  if (rc < 0) {
    carnet__node_log(n, CARNET_LOG_ERROR, "cannot make a connection to %s: %s", addr,
                     uv_strerror(rc));
    carnet__free(c->rbuf);
    carnet__free(c);
    return NULL;
  }
  c->tcp.data = c;
  c->connect_req.data = c;
  c->write_req.data = c;
  c->shutdown_req.data = c;
  c->node = n;
  c->dial = d;
  c->seen = CARNET_SESSION_HANDSHAKE;
  c->started = c->last_rx = uv_now(n->loop);
  snprintf(c->addr, sizeof c->addr, "%s", addr);
  c->next = n->conns;
  if (n->conns) n->conns->prev = c;
  n->conns = c;
  n->nconns++;
  return c;
}

/* Reads, low latency (small messages go at once) and dead peers noticed by
 * the kernel too. */
static void start_open(carnet__conn *c) {
  c->phase = CARNET__CONN_OPEN;
  c->started = c->last_rx = uv_now(c->node->loop);
  uv_tcp_nodelay(&c->tcp, 1);
  uv_tcp_keepalive(&c->tcp, 1, 30);
  int rc = uv_read_start(stream(c), on_alloc, on_read);
  if (rc < 0) {
    lost(c, rc, NULL);
    return;
  }
  pump(c);
}

static int make_session(carnet__conn *c, bool initiator) {
  carnet_node *n = c->node;
  carnet_session_opts so = {
      .initiator = initiator,
      .once = n->opts.once,
      .invite_token = initiator ? n->invite_token : NULL,
      .peer_addr = initiator ? c->addr : NULL,
  };
  int rc = carnet_session_new(n->r, &so, carnet__node_now(n), &c->s);
  if (rc == 0) return 0;
  const char *msg = carnet_replica_errmsg(n->r);
  if (msg == NULL || msg[0] == '\0') msg = carnet_error_message(rc);
  carnet__conn_end(c, 0, rc, false, "%s", msg);
  carnet__node_log(n, CARNET_LOG_WARN, "cannot start a session with %s: %s", c->addr, msg);
  c->s = NULL;
  return rc;
}

static void on_connect(uv_connect_t *req, int status) {
  carnet__conn *c = req->data;
  if (c->phase == CARNET__CONN_CLOSING) return;
  if (status < 0) {
    lost(c, status, NULL);
    return;
  }
  if (c->dial) c->dial->out.connected = true;
  carnet__node_log(c->node, CARNET_LOG_DEBUG, "connected to %s", c->addr);
  carnet__node_conn_event(c->node, c, CARNET_PEER_CONNECTED);
  start_open(c);
}

void carnet__conn_connect(carnet__conn *c, const struct sockaddr *sa) {
  c->phase = CARNET__CONN_CONNECTING;
  c->deadline = uv_now(c->node->loop) + CARNET_NODE_CONNECT_MS;
  /* The session first: a bad or expired invite token fails here, before
   * the peer sees a connection. */
  if (make_session(c, true) < 0) {
    carnet__conn_close(c);
    return;
  }
  int rc = uv_tcp_connect(&c->connect_req, &c->tcp, sa, on_connect);
  if (rc < 0) lost(c, rc, NULL);
}

void carnet__conn_accepted(carnet__conn *c) {
  c->phase = CARNET__CONN_OPEN;
  carnet__node_log(c->node, CARNET_LOG_DEBUG, "accepted a connection from %s", c->addr);
  /* CONNECTED when its first bytes arrive (on_read): a connection that
   * never sends one has no event at all, so a client holding idle
   * connections cannot flood the app's events (node.c A6). */
  c->quiet = true;
  if (make_session(c, false) < 0) {
    carnet__conn_close(c);
    return;
  }
  start_open(c);
}

/* --- time --------------------------------------------------------------- */

void carnet__conn_tick(carnet__conn *c, uint64_t now) {
  switch (c->phase) {
  case CARNET__CONN_OPEN:
    if (c->writing && now - c->write_since >= CARNET_NODE_WRITE_STALL_MS) {
      lost(c, UV_ETIMEDOUT, "the peer has not read anything for 60 s");
      return;
    }
    if (c->in_handshakes && !c->authenticated && now - c->started >= CARNET_NODE_HANDSHAKE_MS) {
      /* A3: an accepted handshake has a deadline of its own, shorter than
       * the session's: its slot is for someone who answers. */
      if (!c->ended)
        carnet__conn_end(c, UV_ETIMEDOUT, 0, false, "no handshake within %u s",
                         CARNET_NODE_HANDSHAKE_MS / 1000);
      carnet__node_log(c->node, CARNET_LOG_DEBUG, "closing %s: no handshake within %u s", c->addr,
                       CARNET_NODE_HANDSHAKE_MS / 1000);
      close_now(c);
      return;
    }
    feed(c);
    if (c->phase != CARNET__CONN_OPEN) return;
    carnet_session_tick(c->s, carnet__node_now(c->node));
    pump(c);
    return;
  case CARNET__CONN_CONNECTING:
    if (now >= c->deadline) lost(c, UV_ETIMEDOUT, "no answer in 10 s");
    return;
  case CARNET__CONN_DRAINING:
  case CARNET__CONN_SHUTDOWN:
    if (now >= c->deadline) carnet__conn_close(c);
    return;
  case CARNET__CONN_CLOSING:
    return;
  }
}

void carnet__conn_stop(carnet__conn *c) {
  switch (c->phase) {
  case CARNET__CONN_OPEN:
    if (c->authenticated) {
      carnet_session_close(c->s); /* BYE, then CLOSED */
      pump(c);
      /* A session that did not move to CLOSED or FAILED is closed by
       * force at the stop deadline. */
    } else {
      if (!c->ended) {
        carnet__conn_end(c, UV_ECANCELED, 0, false, "stopped during the handshake");
        carnet__node_log(c->node, CARNET_LOG_INFO, "closing %s: stopping during the handshake",
                         c->addr);
      }
      carnet__conn_close(c);
    }
    return;
  case CARNET__CONN_CONNECTING:
    if (!c->ended) carnet__conn_end(c, UV_ECANCELED, 0, false, "stopped while connecting");
    carnet__conn_close(c);
    return;
  case CARNET__CONN_DRAINING:
  case CARNET__CONN_SHUTDOWN:
    if (c->node->stop_deadline < c->deadline) c->deadline = c->node->stop_deadline;
    return;
  case CARNET__CONN_CLOSING:
    return;
  }
}
