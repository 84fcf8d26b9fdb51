/* web/server.c - the HTTP side of the console: libmicrohttpd's daemon, the
 * checks every request passes (Host, token, route, method, size, type),
 * bodies read within their limits, the console's page from the embedded
 * assets, and the hop to the node's thread where handlers run.
 *
 * A request, on its connection thread (libmicrohttpd: one thread per
 * connection):
 *
 *   first call ----> Host ok? (403) -> /api/? token ok? (401) -> route? (404,
 *                    405) -> declared size within the limit? (413) -> type
 *                    ok? (415)  [an answer queued here ends the request]
 *   body chunks ---> appended up to the limit (past it: 413 at the end)
 *   last call -----> JSON parsed (400) -> carnet_node_exec(handler) on the
 *                    node's thread -> the answer, with the security headers
 *
 * An attachment's upload (WEB_R_FILE) is not held whole: its handler
 * begins the library's upload on the first call, once every check passed
 * (an answer it gives, such as 413 for a declared length past the
 * replica's limit, ends the request there); each WEB_FILE_BUF bytes of
 * the body are then written through it on the node's thread, and the last
 * call commits it (web/api_attach.c). A download of an attachment's
 * content is read the same way, a block per call, as libmicrohttpd sends.
 *
 * Invariants:
 *  W1. A connection thread never calls the public API on the replica: only
 *      handlers do, inside carnet_node_exec.
 *  W2. Nothing reaches a handler before the Host and the token are checked.
 *  W3. Every answer carries the security headers and no CORS header.
 */
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "assets.h"
#include "routes.h"
#include "state.h"
#include "view.h"

#define WEB_JSON_MAX (1u << 20)    /* a JSON body */
#define WEB_UPLOAD_MAX (50u << 20) /* an import file */
#define WEB_FILE_BUF (1u << 20)    /* an attachment's body, written by so many bytes */
#define WEB_DL_BLOCK (64u << 10)   /* an attachment's content, read by so many bytes */
#define WEB_CONNS_MAX 32u
#define WEB_IDLE_S 30u

struct web_server {
  web_state st;
  struct MHD_Daemon *d;
  int lfd;
};

/* One request's state across the access handler's calls. */
typedef struct conn {
  web_req q;
  const web_route *rt;
  char *body;
  size_t len, cap, limit;
  bool too_large;
  bool answered;   /* an answer was queued on the first call */
  char *path;      /* the URL, copied for the segments */
  char ctype[160]; /* an upload's Content-Type */
} conn;

/* --- Answers ------------------------------------------------------------- */

/* W3: every answer. The page may only load what the server gives, never
 * in a frame, and sends no Referer that could carry a URL elsewhere. */
static void security_headers(struct MHD_Response *resp, bool api) {
  MHD_add_response_header(resp, "Content-Security-Policy",
                          "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                          "form-action 'self'");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  if (api) MHD_add_response_header(resp, "Cache-Control", "no-store");
}

static enum MHD_Result send_bytes(struct MHD_Connection *c, int status, const char *type,
                                  const void *data, size_t len, bool copy, bool api,
                                  const char *allow) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      len, (void *)data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
  if (resp == NULL) return MHD_NO;
  security_headers(resp, api);
  if (type) MHD_add_response_header(resp, "Content-Type", type);
  if (allow && allow[0]) MHD_add_response_header(resp, "Allow", allow);
  enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status, json_t *j, const char *allow,
                                 const char *location) {
  char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
  static const char oom[] =
      "{\"error\":{\"code\":\"CARNET_ENOMEM\",\"message\":\"out of memory\",\"field\":null}}";
  if (text == NULL)
    return send_bytes(c, 500, "application/json; charset=utf-8", oom, sizeof oom - 1, false, true,
                      NULL);
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if (resp == NULL) {
    free(text);
    return MHD_NO;
  }
  security_headers(resp, true);
  MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
  if (allow && allow[0]) MHD_add_response_header(resp, "Allow", allow);
  if (location && location[0]) MHD_add_response_header(resp, "Location", location);
  enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return rc;
}

/* An error decided here, before any handler: the same JSON shape. */
static enum MHD_Result send_error(struct MHD_Connection *c, int status, int code, const char *allow,
                                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static enum MHD_Result send_error(struct MHD_Connection *c, int status, int code, const char *allow,
                                  const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *e = json_pack("{s:{s:s,s:s,s:n}}", "error", "code", carnet_error_name(code), "message",
                        msg, "field");
  enum MHD_Result rc = send_json(c, status, e, allow, NULL);
  json_decref(e);
  return rc;
}

/* --- Checks --------------------------------------------------------------- */

/* Host must name this listener (DNS rebinding: a page of another site
 * resolved to 127.0.0.1 sends its own name). */
static bool host_ok(const web_state *st, const char *host) {
  if (host == NULL) return false;
  for (size_t i = 0; i < st->nhosts; i++)
    if (strcasecmp(host, st->hosts[i]) == 0) return true;
  return false;
}

static bool origin_ok(const web_state *st, const char *origin) {
  if (origin == NULL) return true;
  if (strncmp(origin, "http://", 7) != 0) return false;
  return host_ok(st, origin + 7);
}

/* The token, from either header, compared in constant time. */
static bool token_ok(const web_state *st, struct MHD_Connection *c) {
  const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Carnet-Token");
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  if (t == NULL && auth && strncasecmp(auth, "Bearer ", 7) == 0) {
    t = auth + 7;
    while (*t == ' ')
      t++;
  }
  if (t == NULL || strlen(t) != 64) return false;
  return sodium_memcmp(t, st->token, 64) == 0;
}

static bool type_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static bool upload_type_ok(const char *ct) {
  return type_is(ct, "text/csv") ||
         type_is(ct, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet") ||
         type_is(ct, "application/octet-stream");
}

/* --- Query arguments -------------------------------------------------------- */

typedef struct args_ctx {
  web_req *q;
  bool bad;
} args_ctx;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
  args_ctx *a = cls;
  (void)kind;
  if (a->q->nargs == WEB_ARGS_MAX || strlen(key) > 64 || (value && strlen(value) > WEB_ARG_BYTES)) {
    a->bad = true;
    return MHD_NO;
  }
  web_arg *arg = &a->q->args[a->q->nargs];
  arg->key = strdup(key);
  arg->value = strdup(value ? value : "");
  if (arg->key == NULL || arg->value == NULL) {
    free(arg->key);
    free(arg->value);
    a->bad = true;
    return MHD_NO;
  }
  a->q->nargs++;
  return MHD_YES;
}

/* "/api/customers/abc" -> {"customers", "abc"}; false for too many
 * segments or an empty one. */
static bool split_path(conn *k, const char *url) {
  if ((k->path = strdup(url + 5)) == NULL) return false; /* after "/api/" */
  char *p = k->path;
  if (*p == '\0') return true;
  while (p) {
    char *slash = strchr(p, '/');
    if (slash) *slash = '\0';
    if (*p == '\0' || k->q.nseg == WEB_SEGS_MAX) return false;
    k->q.seg[k->q.nseg++] = p;
    p = slash ? slash + 1 : NULL;
  }
  return true;
}

/* --- Running handlers ----------------------------------------------------- */

static int run_handler(carnet_replica *r, void *data) {
  web_req *q = data;
  q->handler(r, q);
  return 0;
}

static int run_upload_write(carnet_replica *r, void *data) {
  api_attach_upload_write(r, data);
  return 0;
}

static int run_upload_commit(carnet_replica *r, void *data) {
  api_attach_upload_commit(r, data);
  return 0;
}

static int run_upload_abort(carnet_replica *r, void *data) {
  api_attach_upload_abort(r, data);
  return 0;
}

/* --- Attachments' content, streamed ------------------------------------------ */

typedef struct dl_ctx {
  web_state *st;
  carnet_download *d;
  uint64_t size, sent;
  char *buf;
  size_t max, got;
  bool bad;
} dl_ctx;

/* One block of plaintext. With the last bytes the end is read too: the
 * library reports it only once the content's hash matched, and
 * libmicrohttpd asks no more once Content-Length bytes were given, so a
 * mismatch must fail the last block rather than go unseen. */
static int dl_read(carnet_replica *r, void *data) {
  dl_ctx *x = data;
  uint8_t end[1];
  size_t n = 0;
  (void)r;
  x->got = 0;
  if (carnet_download_read(x->d, x->buf, x->max, &x->got) != 0 || x->got > x->size - x->sent) {
    x->bad = true;
    return 0;
  }
  if (x->sent + x->got == x->size && (carnet_download_read(x->d, end, sizeof end, &n) != 0 || n))
    x->bad = true;
  return 0;
}

static int dl_close(carnet_replica *r, void *data) {
  (void)r;
  carnet_download_close(data);
  return 0;
}

static ssize_t dl_reader(void *cls, uint64_t pos, char *buf, size_t max) {
  dl_ctx *x = cls;
  (void)pos;
  if (x->bad) return MHD_CONTENT_READER_END_WITH_ERROR;
  if (x->sent == x->size) return MHD_CONTENT_READER_END_OF_STREAM;
  x->buf = buf;
  x->max = max;
  carnet_node_exec(x->st->node, dl_read, x);
  /* A short or damaged file: the connection ends before Content-Length. */
  if (x->bad || x->got == 0) return MHD_CONTENT_READER_END_WITH_ERROR;
  x->sent += x->got;
  return (ssize_t)x->got;
}

static void dl_free(void *cls) {
  dl_ctx *x = cls;
  carnet_node_exec(x->st->node, dl_close, x->d);
  free(x);
}

static enum MHD_Result answer_download(struct MHD_Connection *c, web_req *q) {
  dl_ctx *x = calloc(1, sizeof *x);
  if (x == NULL) return MHD_NO;
  *x = (dl_ctx){.st = q->st, .d = q->dl, .size = q->dl_size};
  q->dl = NULL; /* dl_free closes it now */
  struct MHD_Response *resp =
      MHD_create_response_from_callback(x->size, WEB_DL_BLOCK, dl_reader, x, dl_free);
  if (resp == NULL) {
    dl_free(x);
    return MHD_NO;
  }
  security_headers(resp, true);
  MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
  MHD_add_response_header(resp, "Content-Disposition", q->disposition);
  MHD_add_response_header(resp, "Content-Security-Policy", "sandbox");
  enum MHD_Result rc = MHD_queue_response(c, (unsigned)q->status, resp);
  MHD_destroy_response(resp);
  return rc;
}

static enum MHD_Result answer(struct MHD_Connection *c, conn *k) {
  web_req *q = &k->q;
  if (q->dl) return answer_download(c, q);
  if (q->file) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(q->file_len, q->file, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) return MHD_NO;
    q->file = NULL; /* libmicrohttpd frees it now */
    security_headers(resp, true);
    MHD_add_response_header(resp, "Content-Type", q->file_type);
    char disp[256];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", q->filename);
    MHD_add_response_header(resp, "Content-Disposition", disp);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)q->status, resp);
    MHD_destroy_response(resp);
    return rc;
  }
  return send_json(c, q->status ? q->status : 500, q->reply, NULL, q->location);
}

/* The end of an attachment's body: what is buffered is written, then the
 * upload committed (or its failure answered). */
static enum MHD_Result end_file(web_state *st, struct MHD_Connection *c, conn *k) {
  web_req *q = &k->q;
  int rc = 0;
  if (q->up && k->len > 0) {
    q->upload = k->body;
    q->upload_len = k->len;
    k->len = 0;
    rc = carnet_node_exec(st->node, run_upload_write, q);
  }
  if (rc == 0 && q->up) rc = carnet_node_exec(st->node, run_upload_commit, q);
  if (rc)
    return send_error(c, 500, rc, NULL, "the request could not run: %s", carnet_error_message(rc));
  return answer(c, k);
}

static enum MHD_Result run_request(web_state *st, struct MHD_Connection *c, conn *k) {
  web_req *q = &k->q;
  if (k->rt->flags & WEB_R_FILE) return end_file(st, c, k);
  if (k->too_large)
    return send_error(c, 413, CARNET_ELIMIT, NULL, "the body is larger than %zu bytes", k->limit);
  if (k->rt->flags & WEB_R_JSON && k->len > 0) {
    json_error_t je;
    q->body = json_loadb(k->body, k->len, JSON_REJECT_DUPLICATES, &je);
    if (q->body == NULL)
      return send_error(c, 400, CARNET_EINVAL, NULL, "malformed JSON at line %d, column %d: %s",
                        je.line, je.column, je.text);
    if (!json_is_object(q->body))
      return send_error(c, 400, CARNET_EINVAL, NULL, "the body must be a JSON object");
  }
  if (k->rt->flags & WEB_R_UPLOAD) {
    q->upload = k->body ? k->body : "";
    q->upload_len = k->len;
  }
  q->handler = k->rt->handler;
  int rc = carnet_node_exec(st->node, run_handler, q);
  if (rc)
    return send_error(c, 500, rc, NULL, "the request could not run: %s", carnet_error_message(rc));
  return answer(c, k);
}

/* --- The event stream ------------------------------------------------------ */

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  ssize_t n = web_stream_read(cls, buf, max);
  return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_free(void *cls) {
  web_stream_close(cls);
}

static int hello_seq(carnet_replica *r, void *data) {
  return carnet_replica_get_seq(r, data);
}

static enum MHD_Result open_stream(web_state *st, struct MHD_Connection *c) {
  uint64_t seq = 0;
  char hello[96];
  web_stream *s = NULL;
  int rc = carnet_node_exec(st->node, hello_seq, &seq);
  if (rc) return send_error(c, 500, rc, NULL, "cannot read the replica's sequence");
  snprintf(hello, sizeof hello, "event: hello\ndata: {\"seq\":%llu}\n\n", (unsigned long long)seq);
  rc = web_stream_open(st->feed, hello, &s);
  if (rc == CARNET_EBUSY)
    return send_error(c, 503, rc, NULL, "too many event streams open (at most %u)",
                      WEB_STREAMS_MAX);
  if (rc) return send_error(c, 500, rc, NULL, "out of memory");
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, s, stream_free);
  if (resp == NULL) {
    web_stream_close(s);
    return MHD_NO;
  }
  security_headers(resp, true);
  MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
  enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
  MHD_destroy_response(resp);
  return ok;
}

/* --- Static assets ---------------------------------------------------------- */

static enum MHD_Result serve_asset(struct MHD_Connection *c, const char *method, const char *url) {
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return send_error(c, 405, CARNET_EINVAL, "GET, HEAD", "%s is not allowed on %s", method, url);
  const web_asset *a = web_asset_find(strcmp(url, "/") == 0 ? "/index.html" : url);
  if (a == NULL) return send_error(c, 404, CARNET_ENOTFOUND, NULL, "no page at %s", url);
  const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
  bool fresh = inm && strcmp(inm, a->etag) == 0;
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      fresh ? 0 : a->len, fresh ? NULL : (void *)a->data, MHD_RESPMEM_PERSISTENT);
  if (resp == NULL) return MHD_NO;
  security_headers(resp, false);
  MHD_add_response_header(resp, "Content-Type", a->type);
  MHD_add_response_header(resp, "ETag", a->etag);
  MHD_add_response_header(resp, "Cache-Control", "no-cache");
  enum MHD_Result rc = MHD_queue_response(c, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
  MHD_destroy_response(resp);
  return rc;
}

/* --- The access handler ------------------------------------------------------ */

static void conn_free(conn *k) {
  if (k == NULL) return;
  for (size_t i = 0; i < k->q.nargs; i++) {
    free(k->q.args[i].key);
    free(k->q.args[i].value);
  }
  json_decref(k->q.body);
  json_decref(k->q.reply);
  free(k->q.file);
  free(k->body);
  free(k->path);
  free(k);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why) {
  web_state *st = cls;
  conn *k = *con_cls;
  (void)c;
  (void)why;
  /* A client gone in the middle of an upload: the temporary file goes. A
   * download opened but never answered is closed. */
  if (k && k->q.up) carnet_node_exec(st->node, run_upload_abort, &k->q);
  if (k && k->q.dl) carnet_node_exec(st->node, dl_close, k->q.dl);
  conn_free(k);
  *con_cls = NULL;
}

/* The first call of an attachment's upload, past the checks of every
 * request: its handler begins the upload (or answers: that ends it). Any
 * Content-Type is taken (the file's own); its size is the replica's
 * business, within CARNET_ATTACH_SIZE_LIMIT here. */
static enum MHD_Result first_file(web_state *st, struct MHD_Connection *c, conn *k,
                                  const char *cl) {
  web_req *q = &k->q;
  q->declared = UINT64_MAX;
  if (cl) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if (cl[0] < '0' || cl[0] > '9' || *end != '\0' || errno)
      return send_error(c, 400, CARNET_EINVAL, NULL, "a bad Content-Length");
    q->declared = n;
  }
  if (q->declared != UINT64_MAX && q->declared > CARNET_ATTACH_SIZE_LIMIT)
    return send_error(c, 413, CARNET_ELIMIT, NULL, "the file is larger than %llu bytes",
                      (unsigned long long)CARNET_ATTACH_SIZE_LIMIT);
  if ((k->body = malloc(WEB_FILE_BUF)) == NULL) return MHD_NO;
  k->cap = WEB_FILE_BUF;
  q->st = st;
  q->method = k->rt->method;
  q->handler = k->rt->handler;
  int rc = carnet_node_exec(st->node, run_handler, q);
  if (rc)
    return send_error(c, 500, rc, NULL, "the request could not run: %s", carnet_error_message(rc));
  if (web_failed(q)) return answer(c, k);
  k->answered = false;
  return MHD_YES;
}

/* A part of an attachment's body: buffered, written each WEB_FILE_BUF
 * bytes. After a failure (the answer is set, the upload dropped) the rest
 * is read and dropped, and the answer given at the end. */
static enum MHD_Result file_part(web_state *st, conn *k, const char *data, size_t n) {
  web_req *q = &k->q;
  while (n > 0 && q->up) {
    size_t take = n < k->cap - k->len ? n : k->cap - k->len;
    memcpy(k->body + k->len, data, take);
    k->len += take;
    data += take;
    n -= take;
    if (k->len == k->cap) {
      q->upload = k->body;
      q->upload_len = k->len;
      k->len = 0;
      if (carnet_node_exec(st->node, run_upload_write, q) != 0) return MHD_NO;
    }
  }
  return MHD_YES;
}

/* The first call of a request: every check that needs no body (W2). An
 * answer queued here ends the request. */
static enum MHD_Result first_call(web_state *st, struct MHD_Connection *c, conn *k, const char *url,
                                  const char *method) {
  const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
  const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
  k->answered = true;
  if (!host_ok(st, host))
    return send_error(c, 403, CARNET_EPERM, NULL,
                      "the Host header '%s' does not name this server (open the URL printed at "
                      "start)",
                      host ? host : "");
  if (!origin_ok(st, origin))
    return send_error(c, 403, CARNET_EPERM, NULL, "requests from '%s' are not accepted", origin);
  if (strncmp(url, "/api/", 5) != 0 && strcmp(url, "/api") != 0) return serve_asset(c, method, url);
  if (!token_ok(st, c))
    return send_error(c, 401, CARNET_EPERM, NULL,
                      "missing or wrong access token: open the URL that 'carnet web' printed");
  if (strcmp(method, "OPTIONS") == 0)
    return send_error(c, 405, CARNET_EINVAL, NULL, "OPTIONS is not allowed (no CORS)");
  char allow[64];
  if (strcmp(url, "/api") == 0 || !split_path(k, url))
    return send_error(c, 404, CARNET_ENOTFOUND, NULL, "no API endpoint at %s", url);
  k->rt = web_route_find(method, k->q.seg, k->q.nseg, allow, sizeof allow);
  if (k->rt == NULL && allow[0])
    return send_error(c, 405, CARNET_EINVAL, allow, "%s is not allowed on %s (allowed: %s)", method,
                      url, allow);
  if (k->rt == NULL)
    return send_error(c, 404, CARNET_ENOTFOUND, NULL, "no API endpoint at %s", url);
  args_ctx a = {&k->q, false};
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
  if (a.bad)
    return send_error(c, 400, CARNET_EINVAL, NULL,
                      "too many or too long query parameters (at most %u, of %u bytes)",
                      WEB_ARGS_MAX, WEB_ARG_BYTES);
  if (k->rt->flags & WEB_R_STREAM) return open_stream(st, c);
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
  if (k->rt->flags & WEB_R_FILE) return first_file(st, c, k, cl);
  k->limit = k->rt->flags & WEB_R_UPLOAD ? WEB_UPLOAD_MAX : WEB_JSON_MAX;
  if (cl && strtoull(cl, NULL, 10) > k->limit)
    return send_error(c, 413, CARNET_ELIMIT, NULL, "the body is larger than %zu bytes", k->limit);
  const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
  bool has_body = (cl && strcmp(cl, "0") != 0) ||
                  MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
  if (has_body && (k->rt->flags & WEB_R_JSON) && !type_is(ct, "application/json"))
    return send_error(c, 415, CARNET_EINVAL, NULL, "send the body as application/json");
  if ((k->rt->flags & WEB_R_UPLOAD) && !upload_type_ok(ct))
    return send_error(c, 415, CARNET_EINVAL, NULL,
                      "send the file as text/csv, application/vnd.openxmlformats-"
                      "officedocument.spreadsheetml.sheet or application/octet-stream");
  if (has_body && !(k->rt->flags & (WEB_R_JSON | WEB_R_UPLOAD)))
    return send_error(c, 415, CARNET_EINVAL, NULL, "%s %s takes no body", method, url);
  if (k->rt->flags & WEB_R_UPLOAD) {
    snprintf(k->ctype, sizeof k->ctype, "%s", ct);
    k->q.upload_type = k->ctype;
  }
  k->q.st = st;
  k->q.method = k->rt->method;
  k->answered = false;
  return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  web_state *st = cls;
  conn *k = *con_cls;
  (void)version;
  if (k == NULL) {
    if ((k = calloc(1, sizeof *k)) == NULL) return MHD_NO;
    *con_cls = k;
    return first_call(st, c, k, url, method);
  }
  if (k->answered) {
    *upload_size = 0; /* the answer is sent; the rest of the body is dropped */
    return MHD_YES;
  }
  if (*upload_size > 0) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (k->rt->flags & WEB_R_FILE) return file_part(st, k, upload, n);
    if (k->too_large || n > k->limit - k->len) {
      k->too_large = true;
      return MHD_YES;
    }
    if (k->len + n + 1 > k->cap) {
      size_t cap = k->cap ? k->cap : 4096;
      while (cap < k->len + n + 1)
        cap *= 2;
      char *b = realloc(k->body, cap);
      if (b == NULL) return MHD_NO;
      k->body = b;
      k->cap = cap;
    }
    memcpy(k->body + k->len, upload, n);
    k->len += n;
    k->body[k->len] = '\0';
    return MHD_YES;
  }
  k->answered = true;
  return run_request(st, c, k);
}

/* --- Addresses ---------------------------------------------------------------- */

typedef struct listen_addr {
  struct sockaddr_storage sa;
  socklen_t salen;
  char host[64]; /* as given, without brackets: an IP address or localhost */
  bool v6;
  uint16_t port;
} listen_addr;

static int addr_parse(const char *text, listen_addr *out, char *why, size_t why_len) {
  memset(out, 0, sizeof *out);
  const char *colon, *host = text;
  size_t hlen;
  if (text == NULL || *text == '\0') {
    snprintf(why, why_len, "no address given: write HOST:PORT, e.g. 127.0.0.1:8080");
    return CARNET_EINVAL;
  }
  if (text[0] == '[') {
    const char *end = strchr(text, ']');
    if (end == NULL || end[1] != ':') goto bad;
    host = text + 1;
    hlen = (size_t)(end - host);
    colon = end + 1;
  } else {
    colon = strrchr(text, ':');
    if (colon == NULL) goto bad;
    hlen = (size_t)(colon - text);
  }
  if (hlen == 0 || hlen >= sizeof out->host) goto bad;
  memcpy(out->host, host, hlen);
  out->host[hlen] = '\0';
  char *end;
  errno = 0;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno || port > 65535) goto bad;
  out->port = (uint16_t)port;
  struct sockaddr_in *v4 = (struct sockaddr_in *)&out->sa;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->sa;
  const char *ip = strcasecmp(out->host, "localhost") == 0 ? "127.0.0.1" : out->host;
  if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(out->port);
    out->salen = sizeof *v4;
    if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127) goto remote;
  } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(out->port);
    out->salen = sizeof *v6;
    out->v6 = true;
    if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) goto remote;
  } else {
    snprintf(why, why_len,
             "'%s' is not an address of this machine: the console listens on a loopback address "
             "(127.0.0.1, [::1] or localhost)",
             out->host);
    return CARNET_EINVAL;
  }
  return 0;
remote:
  snprintf(why, why_len,
           "refusing to serve the console on %s: it listens on this machine only (127.0.0.1, [::1] "
           "or localhost), since this version offers no TLS; put a reverse proxy with TLS in front "
           "of a loopback address to reach it from elsewhere",
           text);
  return CARNET_EINVAL;
bad:
  snprintf(why, why_len, "invalid address '%s': write HOST:PORT, e.g. 127.0.0.1:8080", text);
  return CARNET_EINVAL;
}

int web_addr_check(const char *listen, char *why, size_t why_len) {
  listen_addr a;
  return addr_parse(listen, &a, why, why_len);
}

/* Listen ourselves (so the real port of port 0 is known, and "in use" is a
 * clear message), then hand the socket to libmicrohttpd. */
static int listen_on(const listen_addr *a, int *fd, uint16_t *port, char *why, size_t why_len) {
  int s = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  if (s < 0) goto fail;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (a->v6) setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(s, (const struct sockaddr *)&a->sa, a->salen) != 0 || listen(s, 64) != 0) goto fail;
  struct sockaddr_storage got;
  socklen_t len = sizeof got;
  if (getsockname(s, (struct sockaddr *)&got, &len) != 0) goto fail;
  *port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                          : ((struct sockaddr_in *)&got)->sin_port);
  *fd = s;
  return 0;
fail:
  snprintf(why, why_len, "cannot listen on %s:%u: %s", a->host, (unsigned)a->port, strerror(errno));
  if (s >= 0) close(s);
  return CARNET_EIO;
}

/* --- Life ----------------------------------------------------------------------- */

static int subscribe(carnet_replica *r, void *data) {
  web_state *st = data;
  return carnet_replica_subscribe(r, web_feed_on_change, st, &st->sub);
}

static int unsubscribe(carnet_replica *r, void *data) {
  web_state *st = data;
  int rc = carnet_replica_unsubscribe(r, st->sub);
  st->sub = NULL;
  return rc;
}

/* The customer list's index: one scan now, so that no search pays for it.
 * A book too large for its bound (or no memory) is served without it. */
static int search_new(carnet_replica *r, void *data) {
  web_state *st = data;
  int rc = carnet_search_new(r, 0, &st->search);
  /* Said even when quiet: every search is then a scan of the book. */
  if (rc)
    fprintf(stderr, "carnet web: no search index (%s: %s): searches scan the book\n",
            carnet_error_name(rc), carnet_replica_errmsg(r));
  return 0;
}

static int search_free(carnet_replica *r, void *data) {
  web_state *st = data;
  (void)r;
  carnet_search_free(st->search);
  st->search = NULL;
  return 0;
}

static void quiet_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  (void)fmt;
  (void)ap;
}

int web_server_start(const web_opts *o, web_server **out, char *why, size_t why_len) {
  listen_addr a;
  uint16_t port = 0;
  web_server *s = NULL;
  int rc;
  *out = NULL;
  if ((rc = addr_parse(o->listen, &a, why, why_len))) return rc;
  if (sodium_init() < 0) {
    snprintf(why, why_len, "libsodium could not start");
    return CARNET_EIO;
  }
  if ((s = calloc(1, sizeof *s)) == NULL) goto oom;
  s->lfd = -1;
  web_state *st = &s->st;
  st->node = o->node;
  st->sync = o->sync;
  st->quiet = o->quiet;
  snprintf(st->sync_listen, sizeof st->sync_listen, "%s", o->sync_listen ? o->sync_listen : "");
  if ((st->feed = web_feed_new()) == NULL) goto oom;
  uint8_t raw[32];
  randombytes_buf(raw, sizeof raw);
  sodium_bin2hex(st->token, sizeof st->token, raw, sizeof raw);
  sodium_memzero(raw, sizeof raw);
  if ((rc = listen_on(&a, &s->lfd, &port, why, why_len))) goto fail;
  /* The names a browser may send in Host for this listener. */
  const char *shown =
      a.v6 ? "[::1]" : (strcasecmp(a.host, "localhost") == 0 ? "127.0.0.1" : a.host);
  snprintf(st->hosts[st->nhosts++], sizeof st->hosts[0], "%s:%u", shown, (unsigned)port);
  snprintf(st->hosts[st->nhosts++], sizeof st->hosts[0], "localhost:%u", (unsigned)port);
  snprintf(st->url, sizeof st->url, "http://%s:%u/#token=%s", shown, (unsigned)port, st->token);
  if ((rc = carnet_node_exec(o->node, subscribe, st))) {
    snprintf(why, why_len, "cannot follow the replica's changes: %s", carnet_error_message(rc));
    goto fail;
  }
  carnet_node_exec(o->node, search_new, st);
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
  if (!o->quiet) flags |= MHD_USE_ERROR_LOG;
  s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, st, MHD_OPTION_LISTEN_SOCKET, s->lfd,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_CONNS_MAX,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_IDLE_S,
                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, st, MHD_OPTION_EXTERNAL_LOGGER,
                          o->quiet ? quiet_log : NULL, NULL, MHD_OPTION_END);
  if (s->d == NULL) {
    snprintf(why, why_len, "the HTTP server could not start");
    rc = CARNET_EIO;
    carnet_node_exec(o->node, search_free, st);
    carnet_node_exec(o->node, unsubscribe, st);
    goto fail;
  }
  s->lfd = -1; /* libmicrohttpd closes it */
  *out = s;
  return 0;
oom:
  snprintf(why, why_len, "out of memory");
  rc = CARNET_ENOMEM;
fail:
  if (s) {
    if (s->lfd >= 0) close(s->lfd);
    web_feed_free(s->st.feed);
    free(s);
  }
  return rc;
}

const char *web_server_url(const web_server *s) {
  return s->st.url;
}

void web_server_stop(web_server *s) {
  if (s == NULL) return;
  web_feed_stop(s->st.feed);
  MHD_stop_daemon(s->d);
  if (s->st.search) carnet_node_exec(s->st.node, search_free, &s->st);
  if (s->st.sub) carnet_node_exec(s->st.node, unsubscribe, &s->st);
  web_feed_free(s->st.feed);
  sodium_memzero(s->st.token, sizeof s->st.token);
  free(s);
}

/* --- Peers --------------------------------------------------------------------- */

bool web_peer_online(const web_state *st, uint64_t id) {
  for (size_t i = 0; i < st->nonline; i++)
    if (st->online[i] == id) return true;
  return false;
}

static void online_set(web_state *st, uint64_t id, bool up) {
  size_t i = 0;
  while (i < st->nonline && st->online[i] != id)
    i++;
  if (up) {
    if (i == st->nonline) {
      if (st->nonline == WEB_ONLINE_MAX) return;
      st->online[i] = id;
      st->online_n[i] = 0;
      st->nonline++;
    }
    st->online_n[i]++;
  } else if (i < st->nonline && --st->online_n[i] == 0) {
    st->online[i] = st->online[st->nonline - 1];
    st->online_n[i] = st->online_n[st->nonline - 1];
    st->nonline--;
  }
}

void web_server_peer_event(web_server *s, const carnet_peer_event *ev) {
  static const char *const names[] = {"",       "connected",    "authenticated",
                                      "synced", "disconnected", "failed"};
  if (s == NULL || ev == NULL || ev->type < 1 || ev->type > 5) return;
  web_state *st = &s->st;
  if (ev->type == CARNET_PEER_AUTHENTICATED) online_set(st, ev->replica_id, true);
  if ((ev->type == CARNET_PEER_DISCONNECTED || ev->type == CARNET_PEER_FAILED) && ev->replica_id)
    online_set(st, ev->replica_id, false);
  char rid[17];
  snprintf(rid, sizeof rid, "%016llx", (unsigned long long)ev->replica_id);
  json_t *o = json_object();
  bool ok = web_json_put(o, "event", web_json_str(names[ev->type]));
  ok = web_json_put(o, "addr", web_json_str(ev->addr)) && ok;
  ok = web_json_put(o, "replica", ev->replica_id ? web_json_str(rid) : json_null()) && ok;
  ok = web_json_put(o, "message",
                    web_json_str(ev->message && ev->message[0] ? ev->message : NULL)) &&
       ok;
  if (!ok) {
    json_decref(o);
    return;
  }
  web_feed_publish(st->feed, "peer", o);
}
