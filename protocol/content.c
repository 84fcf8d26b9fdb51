/* protocol/content.c - attachments' content over a sync session
 * (protocol/content.h for the design and invariants C1-C3).
 *
 *   receiving:  scan (policy, wants) -> todo -> FETCH id offset --+
 *                 ^                                               |
 *                 +-- last unit (renamed, A1) / NOPE (skip) <- CHUNK...
 *   sending:    FETCH -> queue -> one file at a time, a unit per CHUNK,
 *               while output < LOW_WATER and the send rate allows
 */
#include "protocol/content.h"

#include <stdlib.h>
#include <string.h>

#include "carnet/attach.h"
#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/crm/attach_xfer.h"
#include "engine/store/handle.h"

typedef struct serve_req {
  carnet_id id;
  uint64_t offset;
} serve_req;

struct carnet__content {
  carnet__content_io io;
  /* Receiving. */
  carnet__att_rx *rx[CARNET__CONTENT_FETCH_MAX]; /* asked, not yet whole */
  unsigned nrx;
  carnet_id *todo; /* from the last scan, not yet asked */
  size_t ntodo, itodo;
  carnet_id *skip; /* the peer lacked them, or another transfer has them */
  size_t nskip, cskip;
  uint64_t skip_ms; /* when `skip` was last emptied */
  uint64_t scan_ms; /* the last scan */
  bool idle_sent;   /* our last word was IDLE */
  bool started;
  /* Sending. */
  serve_req q[CARNET__CONTENT_SERVE_MAX];
  unsigned qhead, qn;
  carnet__att_tx *tx; /* serving q[qhead] */
  bool peer_idle;
  uint64_t rate; /* bytes a second, 0: no limit */
  int64_t tokens;
  uint64_t rate_ms;
  /* Counters. */
  uint64_t bytes_in, bytes_out, files_in, files_out;
};

carnet__content *carnet__content_new(const carnet__content_io *io) {
  carnet__content *ct = carnet__calloc(1, sizeof *ct);
  if (ct == NULL) return NULL;
  ct->io = *io;
  carnet_attach_policy p;
  if (carnet_replica_get_attach_policy(io->r, &p) == 0) ct->rate = p.send_rate;
  return ct;
}

void carnet__content_free(carnet__content *ct) {
  if (ct == NULL) return;
  for (unsigned i = 0; i < ct->nrx; i++)
    carnet__att_rx_close(ct->rx[i]);
  carnet__att_tx_close(ct->tx);
  carnet__free(ct->todo);
  carnet__free(ct->skip);
  carnet__free(ct);
}

static bool id_in(const carnet_id *ids, size_t n, const carnet_id *id) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(ids[i].b, id->b, 16) == 0) return true;
  return false;
}

static bool asked(const carnet__content *ct, const carnet_id *id) {
  for (unsigned i = 0; i < ct->nrx; i++)
    if (memcmp(carnet__att_rx_id(ct->rx[i])->b, id->b, 16) == 0) return true;
  return false;
}

static int skip_add(carnet__content *ct, const carnet_id *id) {
  if (id_in(ct->skip, ct->nskip, id)) return 0;
  if (ct->nskip == ct->cskip) {
    size_t c = ct->cskip ? ct->cskip * 2 : 16;
    carnet_id *s = carnet__realloc(ct->skip, c * sizeof *s);
    if (s == NULL) return CARNET_ENOMEM;
    ct->skip = s;
    ct->cskip = c;
  }
  ct->skip[ct->nskip++] = *id;
  return 0;
}

/* --- receiving ------------------------------------------------------------ */

static int send(carnet__content *ct, const carnet__msg *m) {
  return ct->io.send(ct->io.s, m);
}

/* A new list of what to fetch. */
static int scan(carnet__content *ct, uint64_t now_ms) {
  carnet_id *ids = NULL;
  size_t n = 0;
  int rc = carnet__att_fetch_list(ct->io.r, &ids, &n);
  if (rc) return ct->io.fail(ct->io.s, rc, "cannot list the attachments to fetch");
  carnet__free(ct->todo);
  ct->todo = ids;
  ct->ntodo = n;
  ct->itodo = 0;
  ct->scan_ms = now_ms;
  return 0;
}

/* Ask for the next ones of `todo` while there is room; IDLE when nothing
 * is asked any more. */
static int ask(carnet__content *ct) {
  int rc;
  if (ct->io.bye_sent(ct->io.s)) return 0;
  while (ct->nrx < CARNET__CONTENT_FETCH_MAX && ct->itodo < ct->ntodo) {
    const carnet_id *id = &ct->todo[ct->itodo++];
    carnet__att_rx *rx;
    uint64_t off;
    if (asked(ct, id) || id_in(ct->skip, ct->nskip, id)) continue;
    rc = carnet__att_rx_open(ct->io.r, id, &rx, &off);
    if (rc == CARNET_ENOTFOUND || rc == CARNET_ELIMIT) continue; /* here now, or gone */
    if (rc == CARNET_EBUSY) {
      if ((rc = skip_add(ct, id))) return ct->io.fail(ct->io.s, rc, "out of memory");
      continue;
    }
    if (rc) return ct->io.fail(ct->io.s, rc, "cannot receive an attachment's content");
    ct->rx[ct->nrx++] = rx;
    carnet__msg m = {.type = CARNET_MSG_FETCH, .att = *id, .offset = off};
    if ((rc = send(ct, &m))) return rc;
    ct->idle_sent = false;
  }
  if (ct->nrx == 0 && !ct->idle_sent) {
    carnet__msg m = {.type = CARNET_MSG_IDLE};
    if ((rc = send(ct, &m))) return rc;
    ct->idle_sent = true;
  }
  return 0;
}

int carnet__content_start(carnet__content *ct, uint64_t now_ms) {
  ct->started = true;
  ct->skip_ms = ct->rate_ms = now_ms;
  int rc = scan(ct, now_ms);
  return rc ? rc : ask(ct);
}

int carnet__content_applied(carnet__content *ct, uint64_t now_ms) {
  if (!ct->started) return 0;
  int rc = scan(ct, now_ms);
  return rc ? rc : ask(ct);
}

static int find_rx(const carnet__content *ct, const carnet_id *id) {
  for (unsigned i = 0; i < ct->nrx; i++)
    if (memcmp(carnet__att_rx_id(ct->rx[i])->b, id->b, 16) == 0) return (int)i;
  return -1;
}

static void drop_rx(carnet__content *ct, int i) {
  carnet__att_rx_close(ct->rx[i]);
  ct->rx[i] = ct->rx[--ct->nrx];
}

static int on_chunk(carnet__content *ct, const carnet__msg *m, uint64_t now_ms) {
  int i = find_rx(ct, &m->att);
  bool done;
  (void)now_ms;
  if (i < 0) {
    carnet__fail(ct->io.r, CARNET_EPROTO, "the peer sent content that was not asked for");
    return ct->io.fail(ct->io.s, CARNET_EPROTO, NULL);
  }
  int rc = carnet__att_rx_unit(ct->rx[i], m->offset, m->bytes.base, m->bytes.len, &done);
  if (rc) return ct->io.fail(ct->io.s, rc, NULL);
  ct->bytes_in += m->bytes.len;
  if (!done) return 0;
  ct->files_in++;
  drop_rx(ct, i);
  return ask(ct);
}

static int on_nope(carnet__content *ct, const carnet__msg *m) {
  int i = find_rx(ct, &m->att);
  if (i < 0) {
    carnet__fail(ct->io.r, CARNET_EPROTO, "the peer answered a fetch never made");
    return ct->io.fail(ct->io.s, CARNET_EPROTO, NULL);
  }
  drop_rx(ct, i);
  int rc = skip_add(ct, &m->att);
  if (rc) return ct->io.fail(ct->io.s, rc, "out of memory");
  return ask(ct);
}

/* --- sending ---------------------------------------------------------------- */

static int on_fetch(carnet__content *ct, const carnet__msg *m) {
  if (ct->io.bye_sent(ct->io.s)) return 0; /* C2 */
  if (ct->qn == CARNET__CONTENT_SERVE_MAX) {
    carnet__fail(ct->io.r, CARNET_EPROTO, "the peer asked for more than %u files at once",
                 CARNET__CONTENT_SERVE_MAX);
    return ct->io.fail(ct->io.s, CARNET_EPROTO, NULL);
  }
  ct->peer_idle = false;
  ct->q[(ct->qhead + ct->qn++) % CARNET__CONTENT_SERVE_MAX] =
      (serve_req){.id = m->att, .offset = m->offset};
  return 0;
}

static void serve_pop(carnet__content *ct) {
  carnet__att_tx_close(ct->tx);
  ct->tx = NULL;
  ct->qhead = (ct->qhead + 1) % CARNET__CONTENT_SERVE_MAX;
  ct->qn--;
}

static void refill(carnet__content *ct, uint64_t now_ms) {
  if (ct->rate == 0 || now_ms == 0) return;
  if (now_ms > ct->rate_ms) {
    uint64_t add = ct->rate * (now_ms - ct->rate_ms) / 1000;
    int64_t cap =
        (int64_t)(ct->rate > CARNET_MSG_CHUNK_BYTES_MAX ? ct->rate : CARNET_MSG_CHUNK_BYTES_MAX);
    ct->tokens = ct->tokens + (int64_t)add > cap ? cap : ct->tokens + (int64_t)add;
  }
  ct->rate_ms = now_ms;
}

int carnet__content_pump(carnet__content *ct, uint64_t now_ms) {
  int rc;
  refill(ct, now_ms);
  while (ct->qn > 0 && !ct->io.bye_sent(ct->io.s) &&
         ct->io.queued(ct->io.s) < CARNET__CONTENT_LOW_WATER &&
         (ct->rate == 0 || ct->tokens >= 0)) {
    serve_req *q = &ct->q[ct->qhead];
    if (ct->tx == NULL) {
      rc = carnet__att_tx_open(ct->io.r, &q->id, q->offset, &ct->tx);
      if (rc == CARNET_EINVAL) {
        carnet__fail(ct->io.r, CARNET_EPROTO, "the peer asked for content at a bad offset");
        return ct->io.fail(ct->io.s, CARNET_EPROTO, NULL);
      }
      if (rc == CARNET_ENOTFOUND || rc == CARNET_ECORRUPT) {
        carnet__msg m = {.type = CARNET_MSG_NOPE, .att = q->id};
        serve_pop(ct);
        if ((rc = send(ct, &m))) return rc;
        continue;
      }
      if (rc) return ct->io.fail(ct->io.s, rc, "cannot read an attachment's content");
    }
    carnet_buf b;
    uint64_t off;
    bool last;
    if ((rc = carnet__att_tx_next(ct->tx, &b, &off, &last)))
      return ct->io.fail(ct->io.s, rc, "cannot read an attachment's content");
    /* Version 4: the unit is sealed with the content key already; the
     * channel does not encrypt it again (protocol/channel.h). */
    carnet__msg m = {.type = ct->io.send_sealed ? CARNET_MSG_SEALED : CARNET_MSG_CHUNK,
                     .att = q->id,
                     .offset = off,
                     .bytes = b};
    rc = ct->io.send_sealed ? ct->io.send_sealed(ct->io.s, &m) : send(ct, &m);
    if (rc) return rc;
    ct->bytes_out += b.len;
    if (ct->rate) ct->tokens -= (int64_t)b.len;
    if (last) {
      ct->files_out++;
      serve_pop(ct);
    }
  }
  return 0;
}

/* --- the rest ----------------------------------------------------------------- */

int carnet__content_on_msg(carnet__content *ct, const carnet__msg *m, uint64_t now_ms) {
  switch (m->type) {
  case CARNET_MSG_FETCH: {
    int rc = on_fetch(ct, m);
    return rc ? rc : carnet__content_pump(ct, now_ms);
  }
  case CARNET_MSG_CHUNK:
  case CARNET_MSG_SEALED:
    return on_chunk(ct, m, now_ms);
  case CARNET_MSG_NOPE:
    return on_nope(ct, m);
  case CARNET_MSG_IDLE:
    ct->peer_idle = true;
    return 0;
  default:
    return 0;
  }
}

int carnet__content_tick(carnet__content *ct, uint64_t now_ms) {
  int rc;
  if (!ct->started) return 0;
  if (now_ms < ct->scan_ms) ct->scan_ms = now_ms; /* the clock stepped back */
  if (now_ms < ct->skip_ms) ct->skip_ms = now_ms;
  if (now_ms - ct->skip_ms >= CARNET__CONTENT_RETRY_MS) {
    ct->nskip = 0; /* a peer that lacked a file may have it now */
    ct->skip_ms = now_ms;
  }
  if (ct->nrx == 0 && now_ms - ct->scan_ms >= CARNET__CONTENT_RESCAN_MS) {
    if ((rc = scan(ct, now_ms)) || (rc = ask(ct))) return rc;
  }
  return carnet__content_pump(ct, now_ms);
}

bool carnet__content_done(const carnet__content *ct) {
  return ct->started && ct->nrx == 0 && ct->qn == 0 && ct->peer_idle && ct->idle_sent;
}

void carnet__content_stats(const carnet__content *ct, carnet_session_stats *st) {
  st->content_in = ct->bytes_in;
  st->content_out = ct->bytes_out;
  st->files_in = ct->files_in;
  st->files_out = ct->files_out;
}
