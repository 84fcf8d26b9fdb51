/* web/web.h - the web console's server: a JSON HTTP API over the public C
 * API and the console's page, for `carnet web` and `carnet serve --http`
 * (docs/HTTP-API.md is the contract; this is what the command line calls).
 *
 * Threads: the server's connection threads never touch the replica; they
 * run each request's work with carnet_node_exec on the node's thread,
 * which owns the replica (docs/HTTP-API.md, "Threading model").
 */
#ifndef CARNET_WEB_WEB_H
#define CARNET_WEB_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include <carnet/carnet.h>
#include <carnet/node.h>

typedef struct web_server web_server;

#define WEB_URL_MAX 256u

typedef struct web_opts {
  const char *listen;      /* "127.0.0.1:PORT" (port 0: any free one); loopback only */
  carnet_node *node;       /* runs the replica work (carnet_node_exec); started or not */
  bool sync;               /* the node syncs with peers (`carnet serve`): /api/status says so */
  const char *sync_listen; /* the node's sync address, or NULL (invites default to it) */
  bool quiet;              /* no log lines on stderr */
} web_opts;

/* Brief: check `listen` ("host:port", loopback only), make the access
 * token, subscribe to the change feed (through carnet_node_exec: call it
 * before the node runs, or from any thread while it runs) and start
 * serving on libmicrohttpd's threads.
 * Errors: CARNET_EINVAL (a bad or non-loopback address: `why` says so),
 * CARNET_EIO (cannot listen: in use), CARNET_ENOMEM, or what subscribing
 * returned. On error *out is NULL. */
int web_server_start(const web_opts *o, web_server **out, char *why, size_t why_len);

/* Brief: "http://127.0.0.1:PORT/#token=..." (lives with the server). */
const char *web_server_url(const web_server *s);

/* Brief: forward a node's peer event to the event streams and the peers'
 * online state. Called on the node's thread (its event callback). */
void web_server_peer_event(web_server *s, const carnet_peer_event *ev);

/* Brief: stop serving: event streams end, connection threads are joined,
 * and the feed subscription is removed (through carnet_node_exec: call it
 * once the node has stopped, or from another thread than the node's).
 * NULL is a no-op. */
void web_server_stop(web_server *s);

/* Brief: add a subject export to the zip archive `za` (libzip's zip_t):
 * subject.json (`json_text`, copied) and, for each element of `atts` (the
 * export's "attachments", a jansson array) that has a "file", the content
 * of that attachment under that path, stored, decrypted and checked when
 * libzip reads it (zip_close: a damaged file fails it). Shared by `carnet
 * subject-export --archive` and the console (web/subject.c). Errors:
 * CARNET_ENOMEM (or a bad element). */
struct zip;
struct json_t;

/* Brief: "files/ID/NAME", an attachment's path in a subject export's
 * archive (NAME is one path part already: the library keeps the last part
 * of a path; "." and ".." become "file"). */
void web_subject_archive_path(const carnet_attachment *a, char *out, size_t len);
int web_subject_zip_add(carnet_replica *r, struct zip *za, const char *json_text,
                        const struct json_t *atts);

/* Brief: check a console address as web_server_start would (loopback
 * only), without listening; `why` receives the reason on error.
 * Errors: CARNET_EINVAL. */
int web_addr_check(const char *listen, char *why, size_t why_len);

#endif
