/* carnet/node.h - sync over the network: a node runs one replica's sync
 * sessions (carnet/sync.h) over TCP, driven by a libuv event loop.
 *
 * A node accepts sessions on a listening address, dials peers (once, or
 * again and again with backoff), feeds every session the bytes that arrive
 * and the clock every CARNET_NODE_TICK_MS (that is how local changes, made
 * by the app or by another process writing the same directory, reach live
 * peers within a tick), writes what the sessions have to send, and stops
 * cleanly: BYE to every authenticated peer, last bytes flushed, every
 * handle closed. It may also announce the replica on the LAN and dial the
 * trusted replicas that announce themselves (UDP multicast, signed, scoped
 * to the team). A session that fails never stops the node. Everything is
 * bounded: connections (max_conns), bytes queued per connection, the time a
 * connect, a write or the last flush of a closing connection may take.
 *
 * Admission: connections accepted from the network have a small budget of
 * their own until their handshake is done (16 at once, 4 from one address,
 * 5 s each), apart from the sessions of trusted peers (max_conns, at most 4
 * per key), so strangers holding connections open cannot lock the team
 * out: a newcomer takes the place of a connection that has sent nothing,
 * or is told the node is busy (CARNET_EBUSY) and closed. A dialled peer
 * that says it is busy is dialled again after the backoff delay, even by
 * a `once` node, until the node's timeout (its FAILED event has err
 * CARNET_EBUSY). replica/node.c has the details (invariants A1-A6).
 *
 * Three ways to run a node:
 *
 *   - on the app's own libuv loop (opts.loop set): carnet_node_start adds
 *     the node's handles to that loop and returns; the app runs the loop.
 *     The node, its replica and every callback belong to the loop's thread.
 *   - on a thread the library starts (opts.loop NULL, then
 *     carnet_node_start_thread): the node has its own loop on its own
 *     thread; the app keeps using the replica through carnet_node_exec.
 *   - blocking (opts.loop NULL, then carnet_node_run): the calling thread
 *     runs the node's own loop until the node stops (what `carnet serve`,
 *     `carnet sync` and `carnet join` do).
 *
 * Threads (thread mode): a replica handle and its transactions belong to
 * one thread at a time (carnet/replica.h). While the node runs on its own
 * thread that thread is the node's, and the app reaches the replica only
 * through carnet_node_exec(node, fn, data), which runs fn(replica, data) on
 * the node's thread, between two events of its loop, and waits for it. Why
 * this rule rather than a lock taken around each use: the node's code stays
 * single-threaded (no event callback can forget a lock), LMDB's write
 * transaction stays on one thread, no lock is held while a thread waits
 * for the network, and the change feed's callbacks (carnet/feed.h) all run
 * on one thread whether the change came from the app or from a peer. The
 * price is a hop to the node's thread per call: batch the app's writes in
 * one fn (one transaction), and keep fn short, since sessions wait for it.
 * Calls that are safe from any thread: carnet_node_exec, carnet_node_dial,
 * carnet_node_stop, carnet_node_join (not from the node's thread). The
 * others are for the thread that runs the node, or for when it is not
 * running.
 *
 * Callbacks (log, progress, peer events, stopped, and the change feed for
 * the changes the node applies) run on the node's loop thread. Inside them
 * the app may read the replica, call carnet_node_dial, carnet_node_stop and
 * carnet_node_exec (which then runs fn at once); it may not free the node
 * (except from `stopped` in loop mode) nor run the loop.
 *
 * SIGPIPE: a peer that vanishes during a write raises SIGPIPE, which kills
 * a process that does not ignore it. As with any libuv program, the app
 * ignores it (signal(SIGPIPE, SIG_IGN)); a node with opts.signals does it.
 */
#ifndef CARNET_NODE_H
#define CARNET_NODE_H

#include "carnet/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/peer.h"
#include "carnet/replica.h"
#include "carnet/sync.h"

CARNET_BEGIN_DECLS

/* libuv's loop type, declared so this header does not need <uv.h>. */
struct uv_loop_s;

typedef struct carnet_node carnet_node;

#define CARNET_NODE_CONNS_MAX 64u /* accepted sessions of trusted peers at once */
#define CARNET_NODE_PEERS_MAX 64u /* dial targets: given, dialled at runtime, discovered */
#define CARNET_NODE_TICK_MS 100u  /* sessions' timers, redials, the change feed's poll */
#define CARNET_NODE_ADDR_MAX 256u /* the longest "host:port" text, NUL included */
#define CARNET_NODE_MSG_MAX 512u  /* a one-line message, NUL included */

/* What happened to a connection with a peer. Each dial attempt and each
 * accepted connection that reported CONNECTED ends with exactly one
 * DISCONNECTED or FAILED; a dial that never connects has no CONNECTED. An
 * accepted connection reports CONNECTED with its first bytes: one that
 * never sends a byte (turned away by admission, timed out, closed by the
 * other side) has no event at all, so strangers holding idle connections
 * do not flood the app; the log sums admission's refusals up once a
 * second. */
typedef enum carnet_peer_event_type {
  CARNET_PEER_CONNECTED = 1,     /* a TCP connection is made (dialled), or an accepted
                                    one has sent its first bytes */
  CARNET_PEER_AUTHENTICATED = 2, /* the handshake is done: key and replica id known */
  CARNET_PEER_SYNCED = 3,        /* both sides caught up (again after every change while
                                    the session lives; a `once` session may end cleanly
                                    without it: see the outcome's `synced`) */
  CARNET_PEER_DISCONNECTED = 4,  /* ended without error: the session closed cleanly, or
                                    this node stopped */
  CARNET_PEER_FAILED = 5,        /* ended on an error: refused (CARNET_EPERM, an untrusted
                                    key, or a key removed or revoked while its session
                                    lived: carnet/peer.h), incompatible
                                    (CARNET_EVERSION), a protocol
                                    error (CARNET_EPROTO), a network error or timeout
                                    (CARNET_EIO), busy (CARNET_EBUSY: the peer, or this
                                    node, is at its connection limits; a dialled peer is
                                    tried again); `message` says what happened */
} carnet_peer_event_type;

/* A peer event. It and what it points to live until the callback returns. */
typedef struct carnet_peer_event {
  carnet_peer_event_type type;
  const char *addr;    /* "host:port" as dialled, or "ip:port" of an accepted peer */
  bool dialled;        /* we dialled it (else it connected to us) */
  const uint8_t *pk;   /* its public key (CARNET_PK_BYTES) once authenticated, else NULL */
  uint64_t replica_id; /* its replica id once authenticated, else 0 */
  int err;             /* FAILED: a CARNET_E* code; else 0 */
  const char *message; /* FAILED (and some DISCONNECTED): one line; else "" */
  const carnet_session_stats *stats; /* the session's counters so far; NULL before it exists */
} carnet_peer_event;

typedef void (*carnet_peer_event_cb)(void *data, const carnet_peer_event *ev);
/* One log line (no newline) at a CARNET_LOG_* level. */
typedef void (*carnet_node_log_cb)(void *data, int level, const char *line);
/* Every tick, for each authenticated session with a dialled peer: its
 * counters and how long it has run (`carnet sync` draws its progress line
 * from it). */
typedef void (*carnet_node_progress_cb)(void *data, const char *addr,
                                        const carnet_session_stats *st, uint64_t elapsed_ms);

/* Zero it, then set what is needed. Strings are copied by carnet_node_new. */
typedef struct carnet_node_opts {
  struct uv_loop_s *loop;        /* the app's loop (loop mode), or NULL: the node makes its
                                    own (carnet_node_run, carnet_node_start_thread) */
  const char *listen;            /* "host:port" to accept sessions on (port 0: any free
                                    port, see carnet_node_listen_addr), or NULL: accept none */
  const char *const *peers;      /* "host:port" of each peer to dial */
  size_t npeers;                 /* at most CARNET_NODE_PEERS_MAX */
  bool once;                     /* sessions end with BYE once both sides are caught up,
                                    and the node stops when each dialled peer has had its
                                    session (with no peer: after the first accepted one) */
  bool redial;                   /* dial a peer again, with backoff (250 ms growing to
                                    30 s), after a failure or a disconnect (not with once) */
  const char *invite_token;      /* dialled sessions join the peer's team with this token */
  uint64_t timeout_ms;           /* stop after this long (0: never) */
  unsigned max_conns;            /* sessions of trusted peers accepted at once; 0:
                                    CARNET_NODE_CONNS_MAX (also the most) */
  bool signals;                  /* for command-line programs: SIGINT and SIGTERM stop the
                                    node cleanly (a second one stops it at once), and
                                    SIGPIPE is ignored */
  bool discover;                 /* announce this replica on the LAN and dial the trusted
                                    replicas that announce themselves (needs listen); with
                                    once: those heard within 1.5 announcement intervals,
                                    then stop when their sessions are over */
  const char *discover_iface;    /* IPv4 address to announce on (NULL: the system's) */
  uint16_t discover_port;        /* UDP port (0: 7427; the whole team must agree) */
  uint32_t discover_interval_ms; /* between announcements (0: 5000) */
  carnet_node_log_cb log;        /* NULL: warnings and information to stderr */
  void *log_data;
  carnet_node_progress_cb progress; /* NULL: none */
  void *progress_data;
  carnet_peer_event_cb event; /* NULL: none */
  void *event_data;
  /* Called once, on the loop thread, when the node has stopped and closed
   * its handles (then carnet_node_free may be called; in loop mode even
   * from inside this callback). NULL: none. */
  void (*stopped)(void *data);
  void *stopped_data;
} carnet_node_opts;

/* What became of a dialled peer's last attempt; on a `once` node with
 * discovery, also of each session a peer opened and ended synced (addr is
 * then where it came from, attempts 0). A value. */
typedef struct carnet_node_outcome {
  char addr[CARNET_NODE_ADDR_MAX]; /* as given */
  unsigned attempts;               /* connections tried */
  bool connected;                  /* a TCP connection was made */
  bool authenticated;              /* the handshake completed */
  bool synced;                     /* the session ended cleanly (BYE both ways) */
  bool timed_out;                  /* the node's timeout ended it */
  bool peer_closed;                /* it ended with the peer closing the connection */
  bool unresolved;                 /* the host name could not be looked up */
  bool joined;                     /* we joined the peer's team through the invite */
  int err;                         /* the session's error (CARNET_E*), or 0 */
  uint8_t peer_pk[CARNET_PK_BYTES];
  uint64_t peer_id;
  carnet_session_stats stats;
  uint64_t elapsed_ms;           /* from connect to close */
  char msg[CARNET_NODE_MSG_MAX]; /* one line: what happened ("" when synced) */
} carnet_node_outcome;

/* Brief: a node on replica `r`, listening already when opts->listen is set
 * (so the real port is known before it runs: carnet_node_listen_addr). In
 * loop mode the listener is a handle on opts->loop from now on.
 * `r` must outlive the node; in thread mode, from carnet_node_start_thread
 * to the end of the thread, it is the node's (see Threads above).
 * After the call the caller owns *out (carnet_node_free).
 * Errors: CARNET_EINVAL (a bad address or option: `why` says which; fix the
 * configuration), CARNET_EMISUSE (r, opts or out is NULL), CARNET_EIO
 * (cannot listen: the address is in use or not an address of this host;
 * or the event loop cannot start), CARNET_ENOMEM. On error *out is NULL
 * and `why` (may be NULL; why_len bytes) receives a one-line reason; in
 * loop mode a listener already opened closes, and the node's memory goes,
 * when the app's loop runs next. */
CARNET_API int carnet_node_new(carnet_replica *r, const carnet_node_opts *opts, carnet_node **out,
                               char *why, size_t why_len);

/* Brief: the address the node listens on, with the real port
 * ("127.0.0.1:41234"; "" when not listening). The string lives with the
 * node. */
CARNET_API const char *carnet_node_listen_addr(const carnet_node *n);

/* Brief: loop mode: start the node on the app's loop (its timer, dials,
 * LAN discovery) and return at once; the app runs the loop. Call it on the
 * loop's thread, once. The node stops by itself (once, timeout) or with
 * carnet_node_stop; opts.stopped then says when its handles are closed.
 * Errors: CARNET_EMISUSE (not in loop mode, or already started),
 * CARNET_EIO (a libuv call failed: the log says which; the node is
 * stopping: wait for `stopped`, then free it). */
CARNET_API int carnet_node_start(carnet_node *n);

/* Brief: run the node on its own loop in the calling thread until it stops
 * (carnet_node_stop from another thread or a callback, a signal with
 * opts.signals, once done, the timeout), then close every connection and
 * handle. Call once.
 * Errors: CARNET_EMISUSE (loop mode, or already run or started),
 * CARNET_EIO (libuv failed: the log says how; the node was stopped and
 * closed all the same). */
CARNET_API int carnet_node_run(carnet_node *n);

/* Brief: run the node on its own loop in a thread the library starts, and
 * return at once. From now on the replica is the node's: use it through
 * carnet_node_exec. carnet_node_stop ends the thread and joins it;
 * carnet_node_join waits for a node that stops by itself.
 * Errors: CARNET_EMISUSE (loop mode, or already run or started),
 * CARNET_EIO (the thread could not be created: nothing started). */
CARNET_API int carnet_node_start_thread(carnet_node *n);

/* Brief: ask the node to stop cleanly; returns at once, except in thread
 * mode from another thread, where it also waits for the node's thread to
 * end (carnet_node_join). Safe from any thread, from the node's callbacks,
 * before the node starts (it then stops as soon as it does) and after it
 * stopped (a no-op). In loop mode the node's handles close while the app's
 * loop runs: wait for opts.stopped (or uv_run to return) before
 * carnet_node_free. */
CARNET_API void carnet_node_stop(carnet_node *n);

/* Brief: thread mode: wait until the node's thread ends (after a stop, or
 * by itself: once, timeout) and return what carnet_node_run would have.
 * Safe from any thread but the node's; may be called again (it returns the
 * same result).
 * Errors: CARNET_EMISUSE (not started with carnet_node_start_thread, or
 * called from the node's thread), CARNET_EIO (as carnet_node_run). */
CARNET_API int carnet_node_join(carnet_node *n);

/* Brief: run fn(replica, data) where the replica may be used, wait for it,
 * and return what fn returned: on the node's thread, between two events,
 * while the node runs on a thread (thread mode, or carnet_node_run called
 * in another thread, or loop mode called from another thread than the
 * loop's); at once in the calling thread otherwise (from the node's own
 * callbacks, before the node starts, after it stopped; serialised with
 * other such calls). fn may write (one transaction per call is the usual
 * shape) and call carnet_node_exec again; it must not wait for another
 * thread that calls carnet_node_exec.
 * Errors: CARNET_EMISUSE (fn is NULL), or what fn returns. */
CARNET_API int carnet_node_exec(carnet_node *n, int (*fn)(carnet_replica *r, void *data),
                                void *data);

/* Brief: dial the peer at `hostport` ("host:port"), as a peer given in
 * opts.peers: once, or again after a failure when opts.redial is set. It
 * is dialled within a tick (or when the node starts). Its outcome is the
 * next index of carnet_node_outcome_get (indices are given in the order
 * dial targets are added: opts.peers, then carnet_node_dial and LAN
 * discovery as they come). Safe from any thread.
 * Errors: CARNET_EINVAL (not a "host:port" with a port from 1 to 65535),
 * CARNET_EEXIST (already a dial target), CARNET_ELIMIT (already
 * CARNET_NODE_PEERS_MAX targets), CARNET_EMISUSE (the node is stopping or
 * stopped). */
CARNET_API int carnet_node_dial(carnet_node *n, const char *hostport);

/* Brief: announce this replica on the LAN and dial the trusted replicas
 * of its team that announce themselves, as opts.discover does at the start
 * (with opts.discover_iface, _port and _interval_ms), from now on (or from
 * the start, when the node has not started). Of two replicas that hear
 * each other, the one with the smaller replica id dials. Idempotent. Safe
 * from any thread.
 * Errors: CARNET_EINVAL (the node does not listen: there is nothing to
 * announce; or a discovery option is out of range), CARNET_EMISUSE (a
 * `once` node, or the node is stopping or stopped), CARNET_EBUSY (the UDP
 * port is taken by a program that does not share it), CARNET_EIO (no
 * interface can join the multicast group: no network, or no multicast
 * route), CARNET_ENOMEM. The log and the replica's errmsg say why. */
CARNET_API int carnet_node_discover(carnet_node *n);

/* Brief: the outcome of the i-th dial target (NULL past the end). It lives
 * with the node and changes while the node runs: read it from the node's
 * thread (a callback, carnet_node_exec) or once the node has stopped. */
CARNET_API const carnet_node_outcome *carnet_node_outcome_get(const carnet_node *n, size_t i);

/* Brief: the signal that stopped the node (SIGINT, SIGTERM; opts.signals
 * only), or 0. Errors: none (a signal number, not an error code). */
CARNET_API int carnet_node_signal(const carnet_node *n);

/* Brief: free a node. In thread mode a running node is stopped and joined
 * first. In loop mode the node must not be running: before carnet_node_start
 * its listener is closed (the memory goes when the app's loop has run the
 * close callback), after a stop it must have stopped (opts.stopped has been
 * called, or uv_run returned); freeing a node still running on the app's
 * loop is a programming error and aborts. NULL is a no-op. */
CARNET_API void carnet_node_free(carnet_node *n);

/* Brief: check a "host:port" address as the node accepts it for a peer
 * ("127.0.0.1:7373", "[::1]:7373", "office-pc.lan:7373"; port 1 to 65535)
 * and split it: `host` (may be NULL; host_len bytes, CARNET_NODE_ADDR_MAX
 * is enough) receives the host without IPv6 brackets, `port` (may be NULL)
 * the port. No name is looked up.
 * Errors: CARNET_EINVAL (`why`, may be NULL, receives a one-line reason),
 * CARNET_ELIMIT (host_len too small). */
CARNET_API int carnet_node_addr_parse(const char *hostport, char *host, size_t host_len,
                                      uint16_t *port, char *why, size_t why_len);

CARNET_END_DECLS

#endif
