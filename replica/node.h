/* replica/node.h - the node's internal limits (carnet/node.h is the API).
 *
 * Not API: the sizes of reads, writes and waits of one connection
 * (replica/conn.c), and the helpers the node's files share.
 */
#ifndef CARNET_REPLICA_NODE_H
#define CARNET_REPLICA_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/node.h"
#include "carnet/sync.h"
#include "replica/addr.h"

#define CARNET_NODE_READ_BYTES 65536u      /* one read */
#define CARNET_NODE_INPUT_BYTES (8u << 20) /* input held before the session is fed */
#define CARNET_NODE_WRITE_BYTES (1u << 20) /* the largest single write */
#define CARNET_NODE_CONNECT_MS 10000u      /* a TCP connect may take this long */
#define CARNET_NODE_WRITE_STALL_MS 60000u  /* a write may wait this long for the peer */
#define CARNET_NODE_LINGER_MS 2000u        /* a closing connection's last flush */
#define CARNET_NODE_STOP_MS 5000u          /* a clean stop, before handles are forced shut */

/* Admission (node.c, invariants A1-A6). Connections accepted from the
 * network are in one of two budgets: handshakes (not authenticated yet:
 * anyone can open one) and sessions (a trusted key proved itself). */
#define CARNET_NODE_HANDSHAKES_MAX 16u     /* accepted handshakes at once, in all */
#define CARNET_NODE_HANDSHAKES_PER_ADDR 4u /* ... from one address (IPv4, or IPv6 /64) */
#define CARNET_NODE_HANDSHAKE_MS 5000u     /* an accepted handshake must be done by then */
#define CARNET_NODE_HS_STALL_MS 1000u      /* a handshake silent this long may be evicted */
#define CARNET_NODE_SESSIONS_PER_KEY 4u    /* accepted sessions of one trusted key */
#define CARNET_NODE_ACCEPT_BURST 16u       /* accepts per loop turn, then reads go first */
#define CARNET_NODE_HS_READ_BYTES 4096u    /* one read during a handshake */
#define CARNET_NODE_ADMISSION_LOG_MS                                                               \
  1000u /* refusals are summed up in one line at most this often */
/* Every connection at once, whatever its phase (A1): dialled, accepted
 * handshakes, accepted sessions, and those closing in this turn. */
#define CARNET__NODE_CONNS_HARD                                                                    \
  (CARNET_NODE_PEERS_MAX + CARNET_NODE_HANDSHAKES_MAX + CARNET_NODE_CONNS_MAX +                    \
   2u * CARNET_NODE_ACCEPT_BURST)

_Static_assert(CARNET_NODE_PEERS_MAX <= CARNET_NODE_CONNS_MAX,
               "every configured peer can be connected at once");
_Static_assert(CARNET_NODE_TICK_MS >= 100u && CARNET_NODE_TICK_MS <= 250u,
               "sync.h asks for a tick every 100 to 250 ms");
_Static_assert(CARNET__ADDR_MAX == CARNET_NODE_ADDR_MAX, "one longest address, inside and out");
_Static_assert(CARNET_NODE_HANDSHAKES_PER_ADDR < CARNET_NODE_HANDSHAKES_MAX,
               "one address cannot take every handshake slot");
_Static_assert(CARNET_NODE_HS_READ_BYTES >= 4u + 1024u,
               "a handshake frame (protocol/handshake.h) fits one read");
_Static_assert(CARNET_NODE_HS_STALL_MS < CARNET_NODE_HANDSHAKE_MS,
               "a stalled handshake is evicted before its deadline");

/* Brief: the first 8 hex characters of a key and an ellipsis, for logs
 * ("ab12cd34…"); `out` has room for 16 bytes. */
const char *carnet__node_key_short(const uint8_t pk[CARNET_PK_BYTES], char out[16]);

#endif
