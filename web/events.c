/* web/events.c - the live feed behind GET /api/events (Server-Sent Events).
 *
 * The change feed's callback runs on the node's thread; event streams are
 * written by their connection threads. Between them, a ring of the last
 * WEB_FEED_RING event texts under one mutex, numbered by a counter that
 * only grows: a stream keeps the number of the next event it will send,
 * and waits on a condition variable when it has sent everything. The node
 * thread formats each event once and never waits for a browser; a stream
 * that falls more than a ring behind gets a `reset` event (the page
 * reloads) and goes on from the newest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state.h"
#include "view.h"

struct web_feed {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *ring[WEB_FEED_RING];
  uint64_t next; /* the number the next event gets; event n is ring[n % RING] */
  unsigned nstreams;
  bool stopping;
};

struct web_stream {
  web_feed *f;
  uint64_t next; /* the next event to send */
  char *pending; /* what is being written, and how far */
  size_t off;
};

web_feed *web_feed_new(void) {
  web_feed *f = calloc(1, sizeof *f);
  if (f == NULL) return NULL;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if (pthread_mutex_init(&f->mu, NULL) != 0) {
    free(f);
    return NULL;
  }
  if (pthread_cond_init(&f->cv, &ca) != 0) {
    pthread_mutex_destroy(&f->mu);
    free(f);
    return NULL;
  }
  pthread_condattr_destroy(&ca);
  return f;
}

void web_feed_free(web_feed *f) {
  if (f == NULL) return;
  for (size_t i = 0; i < WEB_FEED_RING; i++)
    free(f->ring[i]);
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

void web_feed_publish(web_feed *f, const char *name, json_t *data) {
  char *json = json_dumps(data, JSON_COMPACT); /* compact: no newline inside */
  json_decref(data);
  if (json == NULL) return;
  size_t len = strlen(name) + strlen(json) + 32;
  char *text = malloc(len);
  if (text) snprintf(text, len, "event: %s\ndata: %s\n\n", name, json);
  free(json);
  if (text == NULL) return;
  pthread_mutex_lock(&f->mu);
  size_t slot = (size_t)(f->next % WEB_FEED_RING);
  free(f->ring[slot]);
  f->ring[slot] = text;
  f->next++;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

void web_feed_stop(web_feed *f) {
  pthread_mutex_lock(&f->mu);
  f->stopping = true;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

int web_stream_open(web_feed *f, const char *hello, web_stream **out) {
  *out = NULL;
  web_stream *s = calloc(1, sizeof *s);
  if (s == NULL || (s->pending = strdup(hello)) == NULL) {
    free(s);
    return CARNET_ENOMEM;
  }
  pthread_mutex_lock(&f->mu);
  if (f->nstreams == WEB_STREAMS_MAX) {
    pthread_mutex_unlock(&f->mu);
    free(s->pending);
    free(s);
    return CARNET_EBUSY;
  }
  f->nstreams++;
  s->f = f;
  s->next = f->next;
  pthread_mutex_unlock(&f->mu);
  *out = s;
  return 0;
}

void web_stream_close(web_stream *s) {
  if (s == NULL) return;
  pthread_mutex_lock(&s->f->mu);
  s->f->nstreams--;
  pthread_mutex_unlock(&s->f->mu);
  free(s->pending);
  free(s);
}

static const char keepalive[] = ": keepalive\n\n";
static const char reset[] = "event: reset\ndata: {}\n\n";

/* Take the next text to send, under the lock; NULL when there is none. */
static char *take(web_stream *s) {
  web_feed *f = s->f;
  if (f->next - s->next > WEB_FEED_RING) {
    s->next = f->next;
    return strdup(reset);
  }
  if (s->next == f->next) return NULL;
  const char *t = f->ring[s->next % WEB_FEED_RING];
  s->next++;
  return strdup(t);
}

ssize_t web_stream_read(web_stream *s, char *buf, size_t max) {
  web_feed *f = s->f;
  if (s->pending == NULL) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += WEB_KEEPALIVE_MS / 1000;
    pthread_mutex_lock(&f->mu);
    for (;;) {
      if (f->stopping) {
        pthread_mutex_unlock(&f->mu);
        return -1;
      }
      if ((s->pending = take(s)) != NULL) break;
      if (pthread_cond_timedwait(&f->cv, &f->mu, &until) == ETIMEDOUT) {
        s->pending = strdup(keepalive);
        break;
      }
    }
    pthread_mutex_unlock(&f->mu);
    if (s->pending == NULL) return -1; /* out of memory: end the stream, the page reconnects */
    s->off = 0;
  }
  size_t left = strlen(s->pending + s->off), n = left < max ? left : max;
  memcpy(buf, s->pending + s->off, n);
  s->off += n;
  if (s->off == strlen(s->pending)) {
    free(s->pending);
    s->pending = NULL;
  }
  return (ssize_t)n;
}

/* --- The change feed ------------------------------------------------------------ */

static const char *op_name(carnet_change_op op) {
  switch (op) {
  case CARNET_CHANGE_CREATED:
    return "created";
  case CARNET_CHANGE_UPDATED:
    return "updated";
  case CARNET_CHANGE_DELETED:
    return "deleted";
  case CARNET_CHANGE_ERASED:
    return "erased";
  }
  return "updated";
}

static const char *source_name(carnet_change_source s) {
  return s == CARNET_SOURCE_PEER ? "peer" : s == CARNET_SOURCE_EXTERNAL ? "external" : "local";
}

void web_feed_on_change(void *data, const carnet_change_event *ev) {
  web_state *st = data;
  char hex[CARNET_ID_HEX_LEN + 1], peer[17];
  json_t *o = json_object(), *changes = json_array();
  bool ok = changes != NULL;
  for (size_t i = 0; i < ev->n; i++) {
    json_t *c = json_object();
    carnet_id_format(&ev->changes[i].id, hex);
    bool ok1 = web_json_put(c, "id", web_json_str(hex));
    const char *kind = carnet_kind_name(ev->changes[i].kind);
    ok1 = web_json_put(c, "kind", web_json_str(kind)) && ok1;
    ok1 = web_json_put(c, "op", web_json_str(op_name(ev->changes[i].op))) && ok1;
    if (!ok1) {
      json_decref(c);
      c = NULL;
    }
    ok = web_json_push(changes, c) && ok;
  }
  snprintf(peer, sizeof peer, "%016llx", (unsigned long long)ev->peer);
  ok = web_json_put(o, "source", web_json_str(source_name(ev->source))) && ok;
  ok = web_json_put(o, "peer", ev->peer ? web_json_str(peer) : json_null()) && ok;
  ok = web_json_put(o, "seq", json_integer((json_int_t)ev->seq)) && ok;
  ok = web_json_put(o, "overflow", json_boolean(ev->overflow)) && ok;
  ok = web_json_put(o, "changes", ok ? changes : (json_decref(changes), NULL)) && ok;
  if (!ok) {
    /* Out of memory: the streams learn that they missed something. */
    json_decref(o);
    o = json_pack("{s:s,s:b,s:[]}", "source", source_name(ev->source), "overflow", 1, "changes");
    if (o == NULL) return;
  }
  web_feed_publish(st->feed, "change", o);
}
