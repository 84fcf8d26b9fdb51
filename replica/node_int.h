/* replica/node_int.h - what node.c (the loop, listener, dials, timers,
 * threads) and conn.c (one TCP connection driving one session) share. Not
 * API.
 */
#ifndef CARNET_REPLICA_NODE_INT_H
#define CARNET_REPLICA_NODE_INT_H

#include <uv.h>

#include "protocol/session_int.h"
#include "replica/backoff.h"
#include "replica/node.h"

typedef struct carnet__conn carnet__conn;
typedef struct carnet__dial carnet__dial;

/* A connection's life (conn.c has the diagram). */
typedef enum carnet__conn_phase {
  CARNET__CONN_CONNECTING = 1, /* uv_tcp_connect in flight */
  CARNET__CONN_OPEN = 2,       /* bytes flow both ways through the session */
  CARNET__CONN_DRAINING = 3,   /* the session ended: its last bytes go out */
  CARNET__CONN_SHUTDOWN = 4,   /* FIN sent: waiting for the peer's, bounded */
  CARNET__CONN_CLOSING = 5,    /* uv_close called: freed in its callback */
} carnet__conn_phase;

struct carnet__conn {
  uv_tcp_t tcp; /* tcp.data = this */
  carnet_node *node;
  carnet__dial *dial; /* the dial target that made it; NULL when accepted */
  carnet__conn *prev, *next;
  carnet_session *s;
  char addr[CARNET__ADDR_MAX]; /* the peer: as dialled, or ip:port accepted */
  carnet__conn_phase phase;
  uv_connect_t connect_req;
  uv_write_t write_req;
  uv_shutdown_t shutdown_req;
  /* One write in flight: a copy of the head of the session's output, which
   * carnet_session_sent drops once written. The copy lets the session be fed
   * input and ticks while the write is in flight (its own buffer may move
   * when it grows). */
  uint8_t *wbuf;
  size_t wcap, wlen;
  bool writing;
  uint64_t write_since;        /* uv_now when the write in flight started */
  uint8_t *rbuf;               /* input not yet fed to the session, then a free read */
  size_t rlen, rcap;           /* bytes held, room (rlen + CARNET_NODE_READ_BYTES at least) */
  uint64_t started;            /* uv_now at connect / accept */
  uint64_t deadline;           /* uv_now: end of CONNECTING, or of the last flush */
  carnet_session_state seen;   /* the state at the last pump */
  carnet_session_stats logged; /* stats at the last "synced" line */
  bool authenticated;
  /* Admission (node.c, A1-A6): accepted connections only. */
  uint8_t src[16];    /* the peer's address: IPv4 (4 bytes) or IPv6 /64 (8) */
  uint8_t srclen;     /* 0: unknown */
  bool in_handshakes; /* counted in n->nhandshakes until it is freed */
  bool in_sessions;   /* counted in n->nsessions until it is freed */
  bool quiet;         /* accepted, no CONNECTED event yet (no byte received): its end
                         has no event either */
  uint64_t rx_bytes;  /* bytes received */
  uint64_t last_rx;   /* uv_now of the last bytes received, or of the accept */
  bool ended;         /* its end is logged and recorded (invariant 3 of conn.c) */
  bool eof;           /* the peer closed its side */
  /* How it ended, for the peer event of its close. */
  int end_uv;  /* the libuv error that ended it, or 0 */
  int end_err; /* the session's error, or 0 */
  bool end_synced;
  char end_msg[CARNET_NODE_MSG_MAX];
};

typedef struct carnet__want {
  uint8_t pk[CARNET_PK_BYTES];
  bool synced;
} carnet__want;

struct carnet__dial {
  carnet_node *node;
  carnet__hostport hp;
  carnet__conn *conn; /* the connection in progress, or NULL */
  carnet__backoff backoff;
  uint64_t next_ms; /* uv_now of the next attempt */
  bool resolving;   /* a DNS lookup is in flight */
  uv_getaddrinfo_t gai;
  bool done;  /* `once` or no redial: its session has ended */
  int uv_err; /* the libuv error that ended the last attempt (connect, I/O), or 0 */
  carnet_node_outcome out;
};

/* A call to run on the node's loop thread (carnet_node_exec, dial): queued
 * by another thread, which waits for `done`. Lives on the caller's stack. */
typedef struct carnet__call {
  int (*fn)(carnet_node *n, void *arg);
  void *arg;
  int rc;
  bool done;
  struct carnet__call *next;
} carnet__call;

typedef enum carnet__node_mode {
  CARNET__MODE_LOOP = 1, /* on the app's loop */
  CARNET__MODE_OWN = 2,  /* its own loop: carnet_node_run or a thread */
} carnet__node_mode;

struct carnet_node {
  uv_loop_t *loop; /* &own_loop, or the app's */
  uv_loop_t own_loop;
  bool own_loop_open;
  carnet__node_mode mode;
  carnet_replica *r;
  carnet_node_opts opts; /* strings below are the node's copies */
  char *invite_token, *discover_iface;
  uv_tcp_t listener;
  bool listening;
  char listen_addr[CARNET__ADDR_NUMERIC_MAX];
  uv_timer_t tick;
  uv_signal_t sigint, sigterm;
  bool handles_started;
  bool started;        /* run, start or start_thread was called */
  carnet__dial *dials; /* CARNET_NODE_PEERS_MAX slots: conns point into it */
  size_t ndials;
  struct carnet__discovery *disc; /* LAN discovery, when on */
  carnet__conn *conns;            /* every connection, any phase */
  unsigned nconns;
  /* Admission (A1-A6). */
  unsigned nhandshakes; /* accepted, not authenticated, not freed */
  unsigned nsessions;   /* accepted, authenticated, not freed */
  /* N7: the trusted peers a `once` node with discovery has not synced with
   * yet (read at start); when every one has, it stops before its window is
   * over. nwant 0: unknown, the window runs its course. */
  struct carnet__want *want;
  size_t nwant, nwant_left;
  uv_timer_t accept_timer;   /* takes a connection left in the backlog (A5) */
  unsigned accept_burst;     /* connections accepted since the backlog was last left */
  bool accept_deferred;      /* one waits in the backlog for accept_timer */
  unsigned refused, evicted; /* since the last summary line */
  uint64_t admission_logged; /* uv_now of that line */
  bool accepted_one;         /* `once` with no peer: a session was accepted */
  uint64_t t0;               /* uv_now at start */
  bool stopping;
  uint64_t stop_deadline;
  uint64_t compact_checked; /* uv_now of the last look for a pending compaction */
  int stop_signal;
  bool finished; /* the loop's own handles are closing */
  int uv_failed; /* a libuv call that should not fail did */
  int poll_err;  /* the change feed's last poll failed so (logged once) */
  /* Handles of the node on the loop not closed yet (listener, timer,
   * signals, async, discovery): at 0 after `finished` the node has
   * stopped. */
  unsigned handles_open;
  bool stopped_done;     /* opts.stopped was called */
  bool free_when_closed; /* loop mode: freed by the last close callback */
  bool freeing;

  /* Between threads, under `mu`: the queue of calls, the stop request and
   * the thread's state. `async` wakes the loop thread; it is open while
   * `accepting`. */
  uv_mutex_t mu;
  uv_cond_t cond;    /* a call is done, draining ended, the thread ended */
  uv_mutex_t direct; /* serialises calls run on the caller's thread (recursive) */
  uv_async_t async;
  bool accepting; /* calls are queued for the loop thread */
  bool draining;  /* the loop thread runs the last queued calls */
  bool stop_requested;
  carnet__call *calls, *calls_tail;
  uv_thread_t loop_thread; /* the thread running the loop, once known */
  bool loop_thread_set;
  bool own_running;   /* the node's own loop runs (run, thread) until uv_run returns */
  uv_thread_t thread; /* thread mode */
  bool threaded, thread_running, joined;
  bool begun; /* the thread has run node_begin */
  int run_rc;
};

/* node.c */
void carnet__node_log(carnet_node *n, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A connection is gone (called from its close callback, before it is
 * freed): reports its end, updates its dial target and finishes a stopping
 * node. */
void carnet__node_conn_gone(carnet_node *n, carnet__conn *c);
/* The session of `c` got through its handshake. */
void carnet__node_conn_authenticated(carnet_node *n, carnet__conn *c);
/* A peer event about connection `c` (opts.event). */
void carnet__node_conn_event(carnet_node *n, carnet__conn *c, carnet_peer_event_type type);
/* The replica's clock, for the sessions. */
uint64_t carnet__node_now(const carnet_node *n);
/* Ask the node to stop, on its loop thread. */
void carnet__node_stop(carnet_node *n);

/* conn.c */
/* Brief: a connection on n's loop, linked into n->conns. Returns NULL on
 * ENOMEM or when uv_tcp_init fails (logged). */
carnet__conn *carnet__conn_new(carnet_node *n, carnet__dial *d, const char *addr);
/* Brief: start connecting to `sa` (the session is made first). On failure
 * the connection is ended and closing. */
void carnet__conn_connect(carnet__conn *c, const struct sockaddr *sa);
/* Brief: a connection just accepted on the listener: make its session and
 * start reading. */
void carnet__conn_accepted(carnet__conn *c);
/* Brief: the periodic tick: the session's timers, then deadlines. */
void carnet__conn_tick(carnet__conn *c, uint64_t now);
/* Brief: the node is stopping: BYE when the session is authenticated, else
 * close at once. */
void carnet__conn_stop(carnet__conn *c);
/* Brief: note the session's state, write what it has to send; after a
 * change made to the session from outside its events (node.c ending it). */
void carnet__conn_pump(carnet__conn *c);
/* Brief: close the connection now, whatever its phase (idempotent). */
void carnet__conn_close(carnet__conn *c);
/* Brief: turn away an accepted connection still in its handshake: tell it
 * the node is busy (a plaintext ERROR frame, CARNET_EBUSY) unless its
 * session has ended already, drop what it sent, and close it now (no
 * linger: A4). `why` is its end's message. */
void carnet__conn_turn_away(carnet__conn *c, const char *why);
/* Brief: the connection has received nothing, and nothing waits in its
 * socket either. */
bool carnet__conn_idle(carnet__conn *c);
/* Brief: record how the connection ended (the first end counts: invariant
 * 3 of conn.c), in it and in its dial target's outcome. The caller logs. */
void carnet__conn_end(carnet__conn *c, int uv_err, int err, bool synced, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
