/* tests/web/webclient.h - a small HTTP client for the web console's tests,
 * over libcurl (no HTTP parsing of our own): start `carnet web` (or
 * `carnet serve --http`), read its URL and token, and send requests with
 * or without the token, with any Host, body or content type. Header-only:
 * included by each tests/web/test_*.c (the support library stays free of
 * libcurl). Every request has a timeout.
 */
#ifndef CARNET_TESTS_WEBCLIENT_H
#define CARNET_TESTS_WEBCLIENT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "support/cliproc.h"

typedef struct web {
  bg *proc;
  char base[128]; /* "http://127.0.0.1:PORT" */
  char host[96];  /* "127.0.0.1:PORT" */
  char token[65];
} web;

typedef struct resp {
  long status;
  char *body;
  size_t len;
  char headers[8192];
  json_t *json; /* the body parsed, when it is JSON */
} resp;

static size_t wc_body(char *p, size_t sz, size_t n, void *data) {
  resp *r = data;
  size_t add = sz * n;
  char *b = realloc(r->body, r->len + add + 1);
  assert_non_null(b);
  memcpy(b + r->len, p, add);
  r->body = b;
  r->len += add;
  b[r->len] = '\0';
  return add;
}

static size_t wc_header(char *p, size_t sz, size_t n, void *data) {
  resp *r = data;
  size_t used = strlen(r->headers), add = sz * n;
  if (used + add < sizeof r->headers) {
    memcpy(r->headers + used, p, add);
    r->headers[used + add] = '\0';
  }
  return add;
}

static void resp_free(resp *r) {
  free(r->body);
  json_decref(r->json);
  memset(r, 0, sizeof *r);
}

/* A header's value in the answer ("" when absent), case-insensitive name. */
static const char *resp_header(const resp *r, const char *name, char *out, size_t len) {
  out[0] = '\0';
  for (const char *p = r->headers; p && *p;) {
    const char *eol = strstr(p, "\r\n");
    size_t n = strlen(name);
    if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
      const char *v = p + n + 1;
      while (*v == ' ')
        v++;
      size_t vl = eol ? (size_t)(eol - v) : strlen(v);
      snprintf(out, len, "%.*s", (int)vl, v);
      return out;
    }
    p = eol ? eol + 2 : NULL;
  }
  return out;
}

enum { WC_TOKEN = 1, WC_BADTOKEN = 2, WC_XTOKEN = 4 };

/* Send `method path` with `body` (NULL: none) of `type` (NULL:
 * application/json when there is a body); `host` NULL sends the right one.
 * `extra` is one more header line or NULL. */
static resp wc_send(const web *w, unsigned flags, const char *method, const char *path,
                    const char *type, const void *body, size_t len, const char *host,
                    const char *extra) {
  resp r;
  memset(&r, 0, sizeof r);
  CURL *c = curl_easy_init();
  assert_non_null(c);
  char url[1024], h1[256], h2[256], h3[256];
  struct curl_slist *hs = NULL;
  snprintf(url, sizeof url, "%s%s", w->base, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)T(30000));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wc_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, wc_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (flags & (WC_TOKEN | WC_BADTOKEN)) {
    const char *tok = flags & WC_BADTOKEN
                          ? "0000000000000000000000000000000000000000000000000000000000000000"
                          : w->token;
    if (flags & WC_XTOKEN)
      snprintf(h1, sizeof h1, "X-Carnet-Token: %s", tok);
    else
      snprintf(h1, sizeof h1, "Authorization: Bearer %s", tok);
    hs = curl_slist_append(hs, h1);
  }
  snprintf(h2, sizeof h2, "Host: %s", host ? host : w->host);
  hs = curl_slist_append(hs, h2);
  if (body) {
    snprintf(h3, sizeof h3, "Content-Type: %s", type ? type : "application/json");
    hs = curl_slist_append(hs, h3);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  hs = curl_slist_append(hs, "Expect:");
  if (extra) hs = curl_slist_append(hs, extra);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(hs);
  curl_easy_cleanup(c);
  if (r.body) r.json = json_loadb(r.body, r.len, 0, NULL);
  return r;
}

/* The usual request: token in the header, a JSON body given as text. */
static resp wc(const web *w, const char *method, const char *path, const char *json) {
  return wc_send(w, WC_TOKEN, method, path, NULL, json, json ? strlen(json) : 0, NULL, NULL);
}

/* printf-style JSON bodies. */
static resp wcf(const web *w, const char *method, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static resp wcf(const web *w, const char *method, const char *path, const char *fmt, ...) {
  char body[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  return wc(w, method, path, body);
}

/* Expect `status`; on a mismatch print the body. */
#define EXPECT(r, st)                                                                              \
  do {                                                                                             \
    if ((r).status != (st))                                                                        \
      fail_msg("expected %d, got %ld: %s", (int)(st), (r).status, (r).body ? (r).body : "");       \
  } while (0)

/* The error code of an error answer. */
static const char *err_code(const resp *r) {
  return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}
static const char *err_field(const resp *r) {
  return json_string_value(json_object_get(json_object_get(r->json, "error"), "field"));
}
static const char *jget(const resp *r, const char *key) {
  return json_string_value(json_object_get(r->json, key));
}

/* Parse "console: http://127.0.0.1:PORT/#token=HEX". */
static void wc_parse_url(web *w, const char *url) {
  const char *tok = strstr(url, "#token=");
  assert_non_null(tok);
  snprintf(w->token, sizeof w->token, "%s", tok + 7);
  assert_int_equal(strlen(w->token), 64);
  const char *hostp = url + strlen("http://");
  size_t hlen = strcspn(hostp, "/");
  snprintf(w->host, sizeof w->host, "%.*s", (int)hlen, hostp);
  snprintf(w->base, sizeof w->base, "http://%s", w->host);
}

/* Start `carnet web --http 127.0.0.1:0` (or the given argv) on `dir`. */
static void wc_start(web *w, const char *const *argv, const char *log) {
  char url[512];
  memset(w, 0, sizeof *w);
  w->proc = bg_spawn(argv, log);
  if (!bg_read_line(w->proc, "console: ", url, sizeof url, T(START_MS))) {
    dump_log(w->proc);
    fail_msg("no console URL printed");
  }
  wc_parse_url(w, url);
}

#endif
