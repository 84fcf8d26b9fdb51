/* web/req.h - one API request as its handler sees it, and the helpers that
 * write its answer. Handlers run on the node's thread (the replica's), with
 * everything they need copied out of libmicrohttpd beforehand: they never
 * call libmicrohttpd.
 */
#ifndef CARNET_WEB_REQ_H
#define CARNET_WEB_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <carnet/carnet.h>
#include <carnet/node.h>

#define WEB_SEGS_MAX 6u     /* path segments after /api */
#define WEB_ARGS_MAX 16u    /* query parameters */
#define WEB_ARG_BYTES 1024u /* the longest query value */

typedef struct web_arg {
  char *key, *value;
} web_arg;

typedef struct web_state web_state; /* the server's shared state (web/server.c) */

typedef struct web_req web_req;
typedef void (*web_handler)(carnet_replica *r, web_req *q);

typedef struct web_req {
  web_state *st;
  const char *method;
  char *seg[WEB_SEGS_MAX]; /* path segments; seg[0] is the first after /api/ */
  size_t nseg;
  web_arg args[WEB_ARGS_MAX];
  size_t nargs;
  json_t *body;       /* the parsed JSON body, or NULL */
  const char *upload; /* a raw upload (import), or NULL */
  size_t upload_len;
  const char *upload_type; /* its Content-Type */
  web_handler handler;
  /* An attachment's upload (WEB_R_FILE, web/api_attach.c): the library's
   * upload, begun once the request passed every check, given the body a
   * buffer at a time (upload, upload_len), committed at its end. */
  carnet_upload *up;
  uint64_t declared; /* the Content-Length, or UINT64_MAX when none was given */
  /* The answer. */
  int status;
  json_t *reply; /* JSON body, or NULL */
  char *file;    /* a download (malloc'd), or NULL */
  size_t file_len;
  const char *file_type;
  char filename[160];
  char location[96];
  /* A streamed download (an attachment's content), or NULL: read on the
   * node's thread a block at a time, closed when the answer ends. */
  carnet_download *dl;
  uint64_t dl_size;
  char disposition[CARNET_ATTACH_NAME_MAX * 4 + 128]; /* its Content-Disposition */
} web_req;

/* Brief: the value of query parameter `key`, or NULL. */
const char *web_arg_get(const web_req *q, const char *key);

/* Answers. Each takes `v` (a new reference, may be NULL: then 500). */
void web_ok(web_req *q, int status, json_t *v);

/* Brief: an error answer with a CARNET_E* code, the HTTP status for it,
 * the message (printf) and the field at fault (may be NULL). */
void web_error(web_req *q, int status, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Brief: an error answer for a library failure `rc` on replica `r`: its
 * status from the code (docs/HTTP-API.md, "Errors"), the replica's detail
 * when set (else the code's message), prefixed by `what` when not NULL, and
 * the field named by a "(field X)" in the detail. */
void web_fail(web_req *q, carnet_replica *r, int rc, const char *what);

/* Brief: the HTTP status for a library error code. */
int web_status_of(int rc);

/* Brief: answer 500 out of memory. */
void web_oom(web_req *q);

/* Brief: the answer is already set (an error was given). */
bool web_failed(const web_req *q);

/* --- Query and body values (web/query.c) ------------------------------------ */

/* Brief: parse a query boolean ("1", "true", "yes", "0", "false", "no"; an
 * empty or absent value is `dflt`). Returns false when it is none of them. */
bool web_parse_bool(const char *s, bool dflt, bool *out);

/* Brief: the page size from `limit` (absent: 50; 1..500). */
bool web_parse_limit(const char *s, size_t *out);

/* Brief: a list cursor: the hex id of the last item of the previous page,
 * prefixed "c1" (the format is opaque to clients). "" or NULL: the start.
 * Returns false for anything else. */
bool web_parse_cursor(const char *s, bool *has, carnet_id *after);
void web_format_cursor(const carnet_id *last, char out[40]);

/* Brief: a decimal given as a JSON string or number ("19.99", 19.99, 2)
 * into an integer with `decimals` decimals; false when neither or not a
 * decimal. */
bool web_json_decimal(const json_t *v, unsigned decimals, int64_t *out);

/* Brief: a JSON value as the person typed it, for messages: a string as
 * it is, a number in its shortest decimal form (2.5, not 2.5000000001),
 * anything else as JSON. Returns `out` (len bytes, truncated). */
const char *web_json_typed(const json_t *v, char *out, size_t len);

/* Brief: whether `value` (NULL: absent) is a date YYYY-MM-DD; if not the
 * answer is set (400, field `key`, the value as typed). */
bool web_date_ok(web_req *q, const char *key, const char *value);

/* Brief: resolve a path or body reference to an entity of `kind` (as the
 * command line does); on failure the answer is set (404 or 400) and false
 * returned. `field` names the body key, or NULL for a path segment. */
bool web_resolve(web_req *q, carnet_replica *r, carnet_kind kind, const char *ref,
                 const char *field, carnet_id *out);

/* Brief: resolve then read an entity of `kind`; on failure the answer is
 * set and false returned. The caller frees *out. */
bool web_load(web_req *q, carnet_replica *r, carnet_kind kind, const char *ref,
              carnet_record **out);

/* Brief: a string member of the body (NULL when absent or null); on a
 * member of another type the answer is set (400) and *bad is set. */
const char *web_body_str(web_req *q, const char *key, bool *bad);

/* Brief: refuse (403) unless this replica is an administrator; `what` is
 * the action's name for the message ("import"). */
bool web_require_admin(web_req *q, carnet_replica *r, const char *what);

/* Brief: DELETE of an entity with a tombstone (409 when already deleted),
 * answered with `view` of the record after (NULL: web_json_record). */
void web_delete_entity(carnet_replica *r, web_req *q, carnet_kind kind,
                       json_t *(*view)(const carnet_record *, json_t *));

#endif
