/* replica/discovery.h - LAN discovery: announce this replica by UDP
 * multicast and report the trusted replicas that announce themselves.
 *
 * Every interval (5 s by default, jittered by +-25 % from the replica's
 * injected random source, so replicas started together drift apart) the
 * component sends one signed announcement (replica/announce.h) to an IPv4
 * multicast group (239.255.42.42:7427 by default, TTL 1: it never leaves the
 * local network) and listens on that group. Each announcement that is valid,
 * from our team, from a trusted key other than ours and fresh (within 60 s of
 * our clock) makes it call `on_peer` with the sender's IP (from the
 * datagram's source address) and the TCP port it announced; a key is
 * reported at most once per interval, so a caller may dial on every report.
 * What to do with a report (dial it, note the address) is the caller's
 * business: discovery itself never connects anywhere.
 *
 * The socket is bound with UV_UDP_REUSEADDR, so several replicas on one host
 * (tests, a CLI next to `carnet serve`) share the port, and multicast loop is
 * on, so they hear each other. The first announcement goes out on the first
 * turn of the loop after start.
 *
 * Threads: everything runs on `loop`'s thread, like the replica handle it
 * uses (carnet_replica_get_identity, carnet__sign, carnet_peer_check, the env's clock,
 * random source and log).
 */
#ifndef CARNET_REPLICA_DISCOVERY_H
#define CARNET_REPLICA_DISCOVERY_H

#include <stdint.h>
#include <uv.h>

#include "carnet/peer.h"
#include "carnet/replica.h"
#include "engine/store/peer_int.h"

#define CARNET_DISCOVERY_GROUP "239.255.42.42" /* organisation-local scope */
#define CARNET_DISCOVERY_UDP_PORT 7427u
#define CARNET_DISCOVERY_INTERVAL_MS 5000u
#define CARNET_DISCOVERY_INTERVAL_MS_MIN 10u
#define CARNET_DISCOVERY_INTERVAL_MS_MAX 3600000u
/* How many keys the per-key rate limit remembers; past it the key reported
 * longest ago is forgotten (and may be reported again one interval early). */
#define CARNET_DISCOVERY_KEYS_MAX 64u
/* Datagrams are read into a buffer of this size; a longer one arrives
 * truncated and is ignored. */
#define CARNET_DISCOVERY_RECV_BYTES 512u

_Static_assert(CARNET_DISCOVERY_INTERVAL_MS_MIN <= CARNET_DISCOVERY_INTERVAL_MS &&
                   CARNET_DISCOVERY_INTERVAL_MS <= CARNET_DISCOVERY_INTERVAL_MS_MAX,
               "the default interval is within its bounds");

typedef struct carnet__discovery carnet__discovery;

typedef struct carnet__discovery_opts {
  const char *group;    /* IPv4 multicast group; NULL: CARNET_DISCOVERY_GROUP */
  uint16_t udp_port;    /* 0: CARNET_DISCOVERY_UDP_PORT */
  const char *iface;    /* IPv4 address of the interface to send and join on;
                           NULL or "": INADDR_ANY (the kernel's choice) */
  uint32_t interval_ms; /* 0: CARNET_DISCOVERY_INTERVAL_MS; else within
                           CARNET_DISCOVERY_INTERVAL_MS_MIN..MAX */
  /* Where log lines go; NULL: the replica's env log. Lines have no "\n". */
  void (*log)(void *ctx, int level, const char *line);
  void *log_ctx;
} carnet__discovery_opts;

/* A trusted replica announced itself. `addr` is "ip:port" (the datagram's
 * source IP, the announced TCP port); `addr` and `pk` live until the
 * callback returns. The callback may call carnet__discovery_stop. */
typedef void (*carnet__discovery_peer_cb)(void *data, const char *addr,
                                          const uint8_t pk[CARNET_PK_BYTES], uint64_t replica_id);

typedef struct carnet__discovery_stats {
  uint64_t sent;         /* announcements handed to the kernel */
  uint64_t send_failed;  /* announcements that could not be sent */
  uint64_t received;     /* datagrams read, ours included */
  uint64_t own;          /* our own announcements, looped back */
  uint64_t ignored;      /* datagrams refused by the decoder (own excluded) */
  uint64_t rate_limited; /* valid announcements not reported (too soon) */
  uint64_t reported;     /* on_peer calls */
  uint64_t answered;     /* announcements brought forward to answer a newcomer */
} carnet__discovery_stats;

/* Brief: start announcing `r` (reachable on TCP `tcp_port`) on `loop` and
 * listening for the announcements of others. `opts` may be NULL (all
 * defaults); it is copied, strings included. `r` must outlive the component
 * (until `done` of carnet__discovery_stop).
 * After a 0 return `*out` runs until carnet__discovery_stop.
 * Errors (then `*out` is NULL, on_peer is never called, and a detail is in
 * carnet_replica_errmsg(r)):
 *   CARNET_EINVAL  tcp_port 0, a group that is not an IPv4 multicast
 *                  address, an iface that is not an IPv4 address of this
 *                  host, an interval out of bounds: fix the options;
 *   CARNET_EBUSY   the UDP port is taken by a socket without SO_REUSEADDR;
 *   CARNET_EIO     the socket could not be set up (no interface can join
 *                  the group: no network, or no multicast route), or the
 *                  replica's identity could not be read;
 *   CARNET_ENOMEM.
 * A failure after the socket was made closes it on `loop`: the loop must run
 * once more (as after any uv_close) before uv_loop_close. */
int carnet__discovery_start(uv_loop_t *loop, carnet_replica *r, uint16_t tcp_port,
                            const carnet__discovery_opts *opts, carnet__discovery_peer_cb on_peer,
                            void *data, carnet__discovery **out);

/* Brief: stop announcing and listening. on_peer is not called after this
 * returns. The handles close asynchronously; once they are closed, `done`
 * (may be NULL) is called with `data` and the component is freed. Calling
 * it twice on one component is a bug (asserted). */
void carnet__discovery_stop(carnet__discovery *d, void (*done)(void *data), void *data);

/* Brief: what the component has done so far (for tests and `--verbose`). */
void carnet__discovery_stats_get(const carnet__discovery *d, carnet__discovery_stats *out);

#endif
