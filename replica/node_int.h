/* replica/node_int.h - what node.c (the loop, listener, dials, timers) and
 * conn.c (one TCP connection driving one session) share. Not API.
 */
#ifndef CARNET_REPLICA_NODE_INT_H
#define CARNET_REPLICA_NODE_INT_H

#include <uv.h>

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
  carnet__node *node;
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
  bool ended; /* its end is logged and recorded */
  bool eof;   /* the peer closed its side */
};

struct carnet__dial {
  carnet__node *node;
  carnet__hostport hp;
  carnet__conn *conn; /* the connection in progress, or NULL */
  carnet__backoff backoff;
  uint64_t next_ms; /* uv_now of the next attempt */
  bool resolving;   /* a DNS lookup is in flight */
  uv_getaddrinfo_t gai;
  bool done; /* `once` or no redial: its session has ended */
  carnet__node_outcome out;
};

struct carnet__node {
  uv_loop_t loop;
  bool loop_open;
  carnet_replica *r;
  carnet__node_opts opts;
  char *invite_token; /* copied */
  uv_tcp_t listener;
  bool listening;
  char listen_addr[CARNET__ADDR_NUMERIC_MAX];
  uv_timer_t tick;
  uv_signal_t sigint, sigterm;
  bool handles_started;
  carnet__dial *dials; /* CARNET_NODE_PEERS_MAX slots: conns point into it */
  size_t ndials;
  struct carnet__discovery *disc; /* LAN discovery, when on */
  carnet__conn *conns; /* every connection, any phase */
  unsigned nconns;
  bool accepted_one; /* `once` with no peer: a session was accepted */
  uint64_t started;  /* uv_now at run */
  bool stopping;
  uint64_t stop_deadline;
  uint64_t compact_checked; /* uv_now of the last look for a pending compaction */
  int stop_signal;
  bool finished; /* the loop's own handles are closing */
  int uv_failed; /* a libuv call that should not fail did */
};

/* node.c */
void carnet__node_log(carnet__node *n, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A connection is gone (called from its close callback, before it is
 * freed): updates its dial target and finishes a stopping node. */
void carnet__node_conn_gone(carnet__node *n, carnet__conn *c);
/* The session of `c` got through its handshake. */
void carnet__node_conn_authenticated(carnet__node *n, carnet__conn *c);
/* The replica's clock, for the sessions. */
uint64_t carnet__node_now(const carnet__node *n);

/* conn.c */
/* Brief: a connection on n's loop, linked into n->conns. Returns NULL on
 * ENOMEM or when uv_tcp_init fails (logged). */
carnet__conn *carnet__conn_new(carnet__node *n, carnet__dial *d, const char *addr);
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
/* Brief: close the connection now, whatever its phase (idempotent). */
void carnet__conn_close(carnet__conn *c);

#endif
