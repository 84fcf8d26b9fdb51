/* replica/node.h - the running node: one replica, its sync sessions over
 * TCP, driven by a libuv event loop.
 *
 * A node owns a libuv loop and drives carnet_session state machines
 * (carnet/sync.h) over TCP connections: it accepts sessions on a listening
 * address, dials a list of peers (again and again, with backoff, when asked
 * to), feeds every session the bytes that arrive and the clock every
 * CARNET_NODE_TICK_MS (that is how local changes, made by this process or by
 * another one writing the same directory, reach live peers within a second),
 * writes what the sessions have to send, and ends cleanly on SIGINT/SIGTERM:
 * BYE to every authenticated peer, last bytes flushed, every handle closed.
 *
 * It is the engine of `carnet serve` (listen, keep sessions alive, redial),
 * and of `carnet sync` and `carnet join` (one dial, one session, stop).
 *
 * A session that fails never stops the node: its connection is closed (after
 * the session's ERROR message is sent) and, when the peer was dialled with
 * redial on, dialled again later. Everything is bounded: connections
 * (max_conns), bytes queued for writing per connection (one session output,
 * itself bounded by the protocol, written in chunks of CARNET_NODE_WRITE_BYTES
 * with one write in flight), the time a connect, a write, or the last flush
 * of a closing connection may take.
 *
 * Not API (the cli is its only caller). Threads: a node, its replica and its
 * sessions belong to the thread that runs it.
 */
#ifndef CARNET_REPLICA_NODE_H
#define CARNET_REPLICA_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/sync.h"
#include "replica/addr.h"

#define CARNET_NODE_CONNS_MAX 64u          /* connections at once, both ways */
#define CARNET_NODE_TICK_MS 100u           /* carnet_session_tick period */
#define CARNET_NODE_READ_BYTES 65536u      /* one read */
#define CARNET_NODE_INPUT_BYTES (8u << 20) /* input held before the session is fed */
#define CARNET_NODE_WRITE_BYTES (1u << 20) /* the largest single write */
#define CARNET_NODE_CONNECT_MS 10000u      /* a TCP connect may take this long */
#define CARNET_NODE_WRITE_STALL_MS 60000u  /* a write may wait this long for the peer */
#define CARNET_NODE_LINGER_MS 2000u        /* a closing connection's last flush */
#define CARNET_NODE_STOP_MS 5000u          /* a clean stop, before handles are forced shut */
#define CARNET_NODE_PEERS_MAX 64u          /* dial targets */

_Static_assert(CARNET_NODE_PEERS_MAX <= CARNET_NODE_CONNS_MAX,
               "every configured peer can be connected at once");
_Static_assert(CARNET_NODE_TICK_MS >= 100u && CARNET_NODE_TICK_MS <= 250u,
               "sync.h asks for a tick every 100 to 250 ms");

typedef struct carnet__node carnet__node;

/* One log line (no newline), at a CARNET_LOG_* level. */
typedef void (*carnet__node_log_fn)(void *ctx, int level, const char *line);

typedef struct carnet__node_opts {
  const char *listen;       /* "host:port" to accept sessions on (port 0: any
                               free port), or NULL: accept none */
  const char *const *peers; /* "host:port" of each peer to dial */
  size_t npeers;            /* at most CARNET_NODE_PEERS_MAX */
  bool once;                /* sessions end with BYE once both sides are caught
                               up, and the node stops when each dialled peer has
                               had its session (with no peer: after the first
                               accepted session) */
  bool redial;              /* dial a peer again, with backoff, after a failure
                               or a disconnect (ignored with `once`) */
  const char *invite_token; /* dialled sessions join with this token */
  uint64_t timeout_ms;      /* stop after this long (0: never) */
  unsigned max_conns;       /* 0: CARNET_NODE_CONNS_MAX (also the most) */
  bool signals;             /* SIGINT / SIGTERM stop the node cleanly */
  bool discover;            /* announce ourselves on the LAN and dial the trusted
                               replicas that announce themselves (needs listen) */
  const char *discover_iface; /* IPv4 address to announce on (NULL: any) */
  uint16_t discover_port;   /* UDP port (0: CARNET_DISCOVERY_UDP_PORT) */
  uint32_t discover_interval_ms; /* 0: CARNET_DISCOVERY_INTERVAL_MS */
  carnet__node_log_fn log;  /* NULL: lines go to stderr */
  void *log_ctx;
  /* Called at every tick with the counters of each authenticated session
   * with a dialled peer, and how long it has run (`carnet sync` draws its
   * progress line from it). NULL: not called. */
  void (*progress)(void *ctx, const char *addr, const carnet_session_stats *st,
                   uint64_t elapsed_ms);
  void *progress_ctx;
} carnet__node_opts;

/* What became of a dialled peer's last session. */
typedef struct carnet__node_outcome {
  char addr[CARNET__ADDR_MAX]; /* as configured */
  unsigned attempts;           /* connections tried */
  bool connected;              /* a TCP connection was made */
  bool authenticated;          /* the handshake completed */
  bool synced;                 /* the session ended cleanly (CLOSED) */
  bool timed_out;              /* the node's timeout ended it */
  int uv_err;                  /* the libuv error that ended it (connect, I/O), or 0 */
  bool peer_closed;            /* it ended with the peer closing the connection */
  bool unresolved;             /* the host name could not be looked up */
  int err;                     /* the session's error (CARNET_E*), or 0 */
  bool joined;                 /* we joined the peer's team through the invite */
  uint8_t peer_pk[CARNET_PK_BYTES];
  uint64_t peer_id;
  carnet_session_stats stats;
  uint64_t elapsed_ms; /* from connect to close */
  char msg[512];       /* one line: what happened (empty when synced) */
} carnet__node_outcome;

/* Brief: a node on replica `r` (which must outlive it), listening already
 * when opts->listen is set (so the real port is known before run).
 * After the call the caller owns *out (carnet__node_free).
 * Errors: CARNET_EINVAL (a bad address or option; `why` says which),
 * CARNET_EIO (cannot listen: address in use, not an address of this host),
 * CARNET_ENOMEM. `why` (may be NULL) receives a one-line reason. */
int carnet__node_new(carnet_replica *r, const carnet__node_opts *opts, carnet__node **out,
                     char *why, size_t why_len);

/* Brief: the address the node listens on, with the real port ("" when not
 * listening). Lives with the node. */
const char *carnet__node_listen_addr(const carnet__node *n);

/* Brief: run until the node stops (a signal, carnet__node_stop, `once`
 * done, timeout), then close every connection and handle. Returns 0, or
 * CARNET_EIO when libuv failed (the log says how). Call once. */
int carnet__node_run(carnet__node *n);

/* Brief: ask a running node to stop cleanly (from a callback of its loop). */
void carnet__node_stop(carnet__node *n);

/* Brief: the signal that stopped the node (SIGINT, SIGTERM), or 0. */
int carnet__node_signal(const carnet__node *n);

/* Brief: the outcome of the i-th configured peer (NULL past the end).
 * Lives with the node. */
const carnet__node_outcome *carnet__node_outcome_get(const carnet__node *n, size_t i);

/* Brief: free a node that is not running (closes its loop). NULL is a
 * no-op. */
void carnet__node_free(carnet__node *n);

/* Brief: the first 8 hex characters of a key and an ellipsis, for logs
 * ("ab12cd34…"); `out` has room for 16 bytes. */
const char *carnet__node_key_short(const uint8_t pk[CARNET_PK_BYTES], char out[16]);

#endif
