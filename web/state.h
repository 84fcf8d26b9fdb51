/* web/state.h - what the server's parts share: the server's state (made by
 * web/server.c), the live event feed (web/events.c), and the peers seen
 * online (for /api/peers).
 */
#ifndef CARNET_WEB_STATE_H
#define CARNET_WEB_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include <carnet/carnet.h>
#include <carnet/node.h>

#define WEB_STREAMS_MAX 8u      /* event streams at once (then 503) */
#define WEB_FEED_RING 256u      /* events kept for the streams (then a reset) */
#define WEB_KEEPALIVE_MS 15000u /* a comment line when nothing happened */
#define WEB_ONLINE_MAX CARNET_NODE_CONNS_MAX
#define WEB_STATE_URL_MAX 256u

typedef struct web_feed web_feed;
typedef struct web_stream web_stream;
typedef struct web_state web_state;

/* Brief: a feed with no event; NULL on ENOMEM. */
web_feed *web_feed_new(void);
void web_feed_free(web_feed *f);

/* Brief: queue "event: NAME\ndata: JSON\n\n" for every stream (takes
 * `data`; dropped when memory runs out: the streams then miss it, as a
 * slow one would, and get a reset). Any thread. */
void web_feed_publish(web_feed *f, const char *name, json_t *data);

/* Brief: wake every stream and make them end. */
void web_feed_stop(web_feed *f);

/* Brief: open a stream that starts with `hello` (an event text, copied)
 * and then follows the feed. Errors: CARNET_EBUSY (WEB_STREAMS_MAX open),
 * CARNET_ENOMEM. */
int web_stream_open(web_feed *f, const char *hello, web_stream **out);

/* Brief: write up to `max` bytes of the stream into `buf`, waiting (at most
 * WEB_KEEPALIVE_MS, then a keepalive comment) when there is nothing new;
 * 0 is never returned: -1 means the feed stopped. For libmicrohttpd's
 * content reader, on the stream's connection thread. */
ssize_t web_stream_read(web_stream *s, char *buf, size_t max);
void web_stream_close(web_stream *s);

/* Brief: the change feed's callback (carnet/feed.h): publishes a
 * `change` event. Runs on the node's thread. */
void web_feed_on_change(void *data, const carnet_change_event *ev);

struct web_state {
  carnet_node *node;
  bool sync;
  char sync_listen[CARNET_NODE_ADDR_MAX];
  char token[65];
  char hosts[3][80]; /* accepted Host values */
  size_t nhosts;
  char url[WEB_STATE_URL_MAX];
  bool quiet;
  web_feed *feed;
  carnet_subscription *sub;
  /* The customer list's index (carnet/search.h), built at start and kept
   * current by the change feed; used on the node thread only, as the
   * replica. NULL when it could not be built: the list then scans. */
  carnet_search *search;
  /* Replica ids of the peers with a live authenticated session, kept from
   * the node's peer events (node thread) and read by /api/peers (node
   * thread too: both run there, so no lock). */
  uint64_t online[WEB_ONLINE_MAX];
  unsigned online_n[WEB_ONLINE_MAX]; /* sessions per id */
  size_t nonline;
};

/* Brief: whether a session with replica `id` is live (node thread). */
bool web_peer_online(const web_state *st, uint64_t id);

#endif
