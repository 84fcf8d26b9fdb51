/* protocol/session.c - one sync session with one peer (carnet/sync.h).
 *
 *   HANDSHAKE --(keys agreed, peer trusted)--> SYNCING <--> IDLE
 *       |                                        |            |
 *       +------------- error --------------> FAILED <---------+
 *                                                |
 *                              BYE sent and received: CLOSED
 *
 * Once the handshake is done, each side sends REQ with the mark it keeps
 * for the other (carnet_mark). Each side then streams its changes from the
 * mark the peer asked for: at most `window` batches unacknowledged, the
 * last batch of a stream with more == false (even when empty: it completes
 * the peer's mark). A received batch is applied in one transaction with the
 * peer's mark, then acknowledged. New local changes (local sequence number
 * past what was streamed) start a new stream from where the last ended.
 *
 * Invariant S1: nothing is read from an untrusted peer past the handshake
 * (protocol/handshake.c stops at the key).
 * Invariant S2: a batch is applied only if it claims to come from the peer
 * the handshake authenticated (engine/sync/changes_int.h), so a peer cannot move
 * the mark we keep for another replica.
 * Invariant S3: cells the peer wrote itself are not sent back to it.
 * Invariant S4: the session's error is sticky: once failed, no more input is
 * read and no more batch applied.
 * Invariant S5: erasure certificates travel first: each side sends all of
 * its certificates before its REQ, so the peer applies them before any
 * batch of ours; certificates that change later (new ones, new
 * confirmations) are sent on the tick, and a received certificate that
 * lacks confirmations we hold is answered at once with ours.
 * Invariant S8 (no echo; engine/model/know.h K1-K4): after its certificates and
 * before its REQ, each side sends KNOW, the vector of what it holds of
 * each origin, and again before the last batch of each stream (read in that
 * batch's snapshot). A side leaves out of its stream every cell the peer's
 * vectors cover, whoever wrote it (a vector is true whenever it is read,
 * and only grows), and holds the peer's vector as its own only in the
 * transaction where its mark for the peer reaches the vector's `upto`
 * (the last batch of a stream, or at once if the mark is already there):
 * a cut stream moves nothing, so a resumed one skips nothing the receiver
 * lacks. Certificates still go first (S5): KNOW says nothing about them.
 * Invariant S7 (engine/store/revoke.h): revocations travel first, before the
 * certificates, and a session ends as soon as the peer's key is no longer
 * trusted here (removed by this process or another, or revoked by a record
 * from any peer): `trustseq` is read at every input call, every tick, and
 * inside the transaction of every received batch, so after the removal
 * commits nothing more the peer sends is applied and nothing more is sent
 * to it but the ERROR that says why.
 * Invariant S6 (engine/top/backup.h B2): a restored replica sends no batch
 * until the REQ of a peer its team trusted at the restore has come, since
 * that peer's certificates come before it: held, a session ends with an
 * error once it has received the peer's stream (a one-shot peer would
 * otherwise wait for ours until its timeout; a node redials later).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/changes.h"
#include "carnet/error.h"
#include "carnet/sync.h"
#include "engine/base/alloc.h"
#include "engine/base/check.h"
#include "engine/erase/certs.h"
#include "engine/model/cert.h"
#include "engine/model/know.h"
#include "engine/store/handle.h"
#include "engine/store/peer_int.h"
#include "engine/store/revoke.h"
#include "engine/sync/changes_int.h"
#include "engine/top/restore.h"
#include "protocol/channel.h"
#include "protocol/content.h"
#include "protocol/handshake.h"
#include "protocol/invite.h"
#include "protocol/msg.h"
#include "protocol/session_int.h"

/* Received batches are grouped by the engine's bulk writer. */
#include "engine/sync/bulk.h"

_Static_assert(CARNET__CERT_BYTES_MAX <= CARNET_MSG_CERT_BYTES_MAX,
               "a certificate fits a CERT message");

#define DEFAULT_BATCH_BYTES (1024u * 1024u)
/* 16 batches of 1 MiB in flight: the receiver groups what the window holds
 * (see on_batch), so the window bounds a group's size. */
#define DEFAULT_WINDOW 16u
/* Received batches share a transaction (a bulk group, engine/sync/bulk.h)
 * up to this many bytes or batches, or CARNET__BULK_MS (see on_batch). */
#define RX_GROUP_BYTES CARNET__BULK_BYTES
#define RX_GROUP_BATCHES 256u
/* ... and up to about this many dirty pages (carnet_session_opts
 * rx_group_pages; 0 leaves it to the bulk writer: 40 MiB when each is a
 * heap copy until the commit, i.e. the receiver's private memory, W1 at
 * 100,000: ~54 MB; 256 MiB with a writable map, where they are file
 * pages: engine/sync/bulk.h). */

struct carnet_session {
  carnet_replica *r;
  carnet_session_opts o;
  char *peer_addr;
  carnet_session_state state;
  int err;
  char errmsg[512];

  carnet__hs hs;
  bool hs_live; /* hs initialised: free it */
  carnet__channel ch;
  bool ch_live; /* handshake done, channel up */
  bool joining; /* initiator with an invite */
  carnet__invite invite;
  bool trusted_inviter; /* joining: the inviter's key is now trusted */
  carnet__obuf out;

  uint8_t peer_pk[32];
  uint64_t peer_id;
  bool joined;

  /* What we stream to the peer. */
  bool stream_on;      /* the peer asked (REQ) */
  carnet_mark from;    /* where the next batch starts */
  bool final_sent;     /* the current stream's last batch is out */
  bool held;           /* S6: a restored replica waiting for its team's erasures */
  unsigned inflight;   /* batches not yet acknowledged */
  uint64_t acked;      /* our sequence number the peer confirmed */
  uint64_t certs_sent; /* our certseq when we last sent certificates */
  uint64_t revs_sent;  /* our revseq when we last sent revocations (S7) */
  uint64_t trust_seen; /* the trustseq at which the peer was last found trusted (S7) */
  /* S8: knowledge vectors (engine/model/know.h), allocated with the channel. */
  carnet__know *peer_know; /* what the peer holds: left out of our stream */
  carnet__know *tx_know;   /* ours, read with the last batch of a stream */
  carnet__know *sent_know; /* every entry we sent (the peer holds or will hold them) */
  carnet__know *rx_know;   /* the peer's KNOWs, merged, not yet held as ours */
  uint64_t rx_know_upto;   /* ... the greatest `upto` of them */
  bool know_sent_once;
  carnet__know *scratch; /* a KNOW's entries, decoded or to send */
  bool rx_know_set;
  /* What we receive. */
  carnet__bulk rx;                    /* batches applied, not yet committed (a group) */
  uint64_t rx_acks[RX_GROUP_BATCHES]; /* their `upto`, acknowledged after the commit */
  unsigned rx_n;
  bool rx_done;   /* one of them ended the peer's stream */
  bool peer_done; /* the peer's stream reached its end at least once */
  bool bye_sent, bye_recv;
  /* Live status (carnet_peer_info): what was last noted of the peer. */
  bool live_on;             /* counted live on the handle (noted +1, not yet -1) */
  bool caught_up;           /* both sides caught up at the last check_done */
  bool sync_noted;          /* ... and that was noted */
  bool synced_once;         /* the session's first catching up was written */
  uint64_t live_acked;      /* acked when last noted */
  uint64_t live_contact_ms; /* last_rx_ms when last noted */

  uint64_t last_rx_ms, last_tx_ms;
  carnet_session_stats st;
  carnet__content *ct; /* attachments' content (protocol/content.c); NULL before the channel */
};

/* --- live status ----------------------------------------------------------- */

/* What the peer list shows of the peer (carnet_peer_info: online, last
 * contact, last sync, acked), noted on the handle as the session goes and
 * written by engine/store/peer.c at most once a second for every session of the
 * handle together, at once when the session starts, first catches up, or
 * ends. Progress (an
 * acknowledgement that moved, catching up) is noted when it happens; mere
 * contact (the peer's pings while idle) every LIVE_CONTACT_MS at most. */
#define LIVE_CONTACT_MS 10000u

static void live_note(carnet_session *s, uint64_t now_ms, int online) {
  carnet__peer_live n = {.replica_id = s->peer_id,
                         .addr = s->peer_addr,
                         .contact_ms = s->last_rx_ms,
                         .acked = s->acked,
                         .online = online};
  if (s->caught_up) n.last_sync_ms = now_ms;
  s->live_acked = s->acked;
  s->live_contact_ms = s->last_rx_ms;
  s->sync_noted = s->caught_up;
  (void)carnet__peer_live_note(s->r, s->peer_pk, &n, now_ms);
}

/* The peer is trusted and the channel up: a live session starts. */
static void live_start(carnet_session *s, uint64_t now_ms) {
  if (s->live_on) return;
  s->live_on = true;
  live_note(s, now_ms, +1);
}

/* Note what moved; the engine writes it when its second is up. */
static void live_progress(carnet_session *s, uint64_t now_ms) {
  if (!s->live_on) return;
  if (s->caught_up && !s->synced_once) {
    /* The session's first catching up is shown at once, as its start is
     * (a page that refreshes on the node's SYNCED event reads it). */
    s->synced_once = true;
    live_note(s, now_ms, 0);
    (void)carnet__peer_live_flush(s->r, now_ms, true);
  } else if (s->acked != s->live_acked || (s->caught_up && !s->sync_noted) ||
             s->last_rx_ms >= s->live_contact_ms + LIVE_CONTACT_MS ||
             s->last_rx_ms < s->live_contact_ms)
    live_note(s, now_ms, 0);
  else
    (void)carnet__peer_live_flush(s->r, now_ms, false);
}

/* The session ended (BYE both ways, or failed): written at once. */
static void live_end(carnet_session *s) {
  if (!s->live_on) return;
  s->live_on = false;
  s->caught_up = false;
  live_note(s, s->last_rx_ms > s->last_tx_ms ? s->last_rx_ms : s->last_tx_ms, -1);
}

/* --- errors --------------------------------------------------------------- */

static int fail(carnet_session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(carnet_session *s, int code, const char *fmt, ...) {
  if (s->err) return s->err; /* S4: the first error stands */
  CARNET_ASSERT(code < 0);   /* a failure is an error code, or S4 would not hold */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
  va_end(ap);
  s->err = code;
  s->state = CARNET_SESSION_FAILED;
  /* Batches applied but not committed are dropped unacknowledged: the
   * peer sends them again from the mark (which did not move either). */
  carnet__bulk_abort(&s->rx);
  s->rx_n = 0;
  live_end(s);
  /* Tell the peer why, when the channel still carries messages and the
   * error is not the peer's bytes failing to open. */
  if (s->ch_live && !s->ch.err && !s->ch.tx_final && code != CARNET_ENOMEM) {
    carnet__msg m = {.type = CARNET_MSG_ERROR, .code = code};
    size_t n = strlen(s->errmsg);
    if (n > CARNET_MSG_TEXT_BYTES_MAX) n = CARNET_MSG_TEXT_BYTES_MAX;
    m.text = (carnet_buf){s->errmsg, n};
    (void)carnet__channel_send(&s->ch, &m, &s->out);
  }
  return code;
}

/* --- sending -------------------------------------------------------------- */

static int send_msg(carnet_session *s, const carnet__msg *m, uint64_t now_ms) {
  int rc = carnet__channel_send(&s->ch, m, &s->out);
  if (rc)
    return fail(s, rc, "cannot send %s: %s", carnet__msg_name(m->type),
                carnet__channel_errmsg(&s->ch)[0] ? carnet__channel_errmsg(&s->ch)
                                                  : carnet_error_message(rc));
  s->last_tx_ms = now_ms;
  return 0;
}

static int send_bye(carnet_session *s, uint64_t now_ms) {
  if (s->bye_sent) return 0;
  carnet__msg m = {.type = CARNET_MSG_BYE};
  int rc = send_msg(s, &m, now_ms);
  if (rc == 0) s->bye_sent = true;
  return rc;
}

static uint64_t local_seq(carnet_session *s) {
  uint64_t seq = 0;
  return carnet_replica_get_seq(s->r, &seq) == 0 ? seq : 0;
}

/* S8: tell the peer what we hold (`k`, read when our sequence number was
 * `upto`). */
static int send_know(carnet_session *s, uint64_t upto, const carnet__know *k, uint64_t now_ms) {
  /* Only the entries that tell the peer something: above what it said it
   * holds, and above what we told it already (it merges every KNOW of the
   * session and holds them as its own at the stream's end, so leaving an
   * entry out claims less, never more). When nothing is left, nothing is
   * sent: a relayed change then costs the laptop no KNOW back, and a
   * one-field sync none at the end of its stream. The first KNOW of a
   * session always goes (REQ follows it, and the peer filters by it). */
  carnet__know *d = s->scratch;
  d->n = 0;
  for (size_t i = 0; i < k->n; i++) {
    uint64_t o = k->e[i].origin;
    carnet_hlc told = carnet__know_get(s->peer_know, o), sent = carnet__know_get(s->sent_know, o);
    if (k->e[i].hlc > (told > sent ? told : sent)) d->e[d->n++] = k->e[i];
  }
  if (d->n == 0 && s->know_sent_once) return 0;
  uint8_t *buf = carnet__malloc(CARNET__KNOW_BYTES_MAX);
  if (buf == NULL) return fail(s, CARNET_ENOMEM, "out of memory");
  size_t n = carnet__know_encode(d, buf);
  carnet__msg m = {.type = CARNET_MSG_KNOW, .upto = upto, .bytes = {n ? buf : NULL, n}};
  int rc = send_msg(s, &m, now_ms);
  carnet__free(buf);
  if (rc == 0) {
    (void)carnet__know_merge(s->sent_know, d, 0);
    s->know_sent_once = true;
  }
  return rc;
}

/* Stream batches while the window allows and there is something to send. */
static int pump(carnet_session *s, uint64_t now_ms) {
  /* S6: another session (or process) may have ended the wait meanwhile. */
  int grc = s->held ? carnet__restore_gate(s->r, s->peer_pk, false, &s->held) : 0;
  if (grc) return fail(s, grc, "%s", carnet_replica_errmsg(s->r));
  while (s->stream_on && !s->held && !s->bye_sent && s->inflight < s->o.window) {
    if (s->final_sent && local_seq(s) <= s->from.after) return 0;
    carnet_buf b = {0};
    carnet_batch_info info;
    int rc = carnet__changes_since(s->r, &s->from, s->o.batch_bytes, s->peer_id, s->peer_know,
                                   s->tx_know, &b, &info);
    if (rc) return fail(s, rc, "cannot read local changes: %s", carnet_replica_errmsg(s->r));
    /* S8: the stream's end carries what we held in its snapshot. */
    if (!info.more) rc = send_know(s, info.upto, s->tx_know, now_ms);
    carnet__msg m = {.type = CARNET_MSG_BATCH, .bytes = b};
    if (rc == 0) rc = send_msg(s, &m, now_ms);
    carnet__free((void *)b.base);
    if (rc) return rc;
    s->inflight++;
    s->st.batches_out++;
    s->st.cells_out += info.cells;
    s->from.after = info.upto;
    if (!info.more) {
      s->from.base = info.upto;
      s->final_sent = true;
    } else {
      s->final_sent = false;
    }
  }
  return 0;
}

/* Erasure certificates (engine/erase/erase.h) go before any batch: every one at
 * the start of a session, then those that changed (new ones, new
 * confirmations) on the tick. S5: a certificate is applied before any
 * later batch is, since messages are handled in order. */
typedef struct cert_send {
  carnet_session *s;
  uint64_t now_ms;
} cert_send;

static int send_cert(const void *bytes, size_t len, void *data) {
  cert_send *cs = data;
  carnet__msg m = {.type = CARNET_MSG_CERT, .bytes = {bytes, len}};
  int rc = send_msg(cs->s, &m, cs->now_ms);
  if (rc == 0) cs->s->st.certs_out++;
  return rc;
}

static int push_certs(carnet_session *s, uint64_t now_ms) {
  uint64_t seq;
  cert_send cs = {s, now_ms};
  if (s->bye_sent) return 0;
  int rc = carnet__certs_seq(s->r, &seq);
  if (rc == 0 && seq <= s->certs_sent) return 0;
  if (rc == 0) rc = carnet__certs_since(s->r, s->certs_sent, &seq, send_cert, &cs);
  if (s->err) return s->err;
  if (rc) return fail(s, rc, "cannot read erasure certificates: %s", carnet_replica_errmsg(s->r));
  s->certs_sent = seq;
  return 0;
}

static int on_cert(carnet_session *s, const carnet__msg *m, uint64_t now_ms) {
  msgpack_sbuffer reply;
  msgpack_sbuffer_init(&reply);
  int rc = carnet__cert_receive(s->r, s->peer_id, m->bytes.base, m->bytes.len, &reply);
  if (rc == 0) {
    s->st.certs_in++;
    /* The peer lacks confirmations we hold: tell it now, before BYE. After
     * our BYE nothing more can be sent: the next session carries them. */
    if (reply.size && !s->bye_sent) rc = send_cert(reply.data, reply.size, &(cert_send){s, now_ms});
  } else {
    rc = fail(s, rc, "cannot apply an erasure certificate from the peer: %s",
              carnet_replica_errmsg(s->r));
  }
  msgpack_sbuffer_destroy(&reply);
  return rc;
}

/* S7: revocation records (engine/store/revoke.h) go before certificates and
 * batches: every one at the start of a session, later ones on the tick. */
static int send_revoke(const void *bytes, size_t len, uint32_t flags, void *data) {
  cert_send *cs = data;
  (void)flags; /* an override here is ours alone: the record is passed on */
  carnet__msg m = {.type = CARNET_MSG_REVOKE, .bytes = {bytes, len}};
  return send_msg(cs->s, &m, cs->now_ms);
}

static int push_revocations(carnet_session *s, uint64_t now_ms) {
  uint64_t seq;
  cert_send cs = {s, now_ms};
  if (s->bye_sent) return 0;
  int rc = carnet__revoke_seq(s->r, &seq);
  if (rc == 0 && seq <= s->revs_sent) return 0;
  if (rc == 0) rc = carnet__revoke_since(s->r, s->revs_sent, &seq, send_revoke, &cs);
  if (s->err) return s->err;
  if (rc) return fail(s, rc, "cannot read revocations: %s", carnet_replica_errmsg(s->r));
  s->revs_sent = seq;
  return 0;
}

/* S7: the peer's key is still trusted here. One meta read when nothing
 * changed; in a write transaction (on_batch) the read is the transaction's,
 * so no removal can commit between the check and the batch's commit. */
static int check_trust(carnet_session *s) {
  uint64_t seq;
  if (!s->ch_live || (s->joining && !s->trusted_inviter)) return 0;
  int rc = carnet__trust_seq(s->r, &seq);
  if (rc) return fail(s, rc, "cannot read the trust list: %s", carnet_replica_errmsg(s->r));
  if (seq == s->trust_seen) return 0;
  rc = carnet_peer_check(s->r, s->peer_pk);
  if (rc == CARNET_EPERM)
    return fail(s, CARNET_EPERM,
                "the key %02x%02x%02x%02x\xe2\x80\xa6 is no longer trusted here (removed or "
                "revoked): session ended",
                s->peer_pk[0], s->peer_pk[1], s->peer_pk[2], s->peer_pk[3]);
  if (rc) return fail(s, rc, "cannot read the trust list: %s", carnet_replica_errmsg(s->r));
  s->trust_seen = seq;
  return 0;
}

static int on_revoke(carnet_session *s, const carnet__msg *m) {
  bool applied = false;
  int rc = carnet__revoke_receive(s->r, m->bytes.base, m->bytes.len, &applied);
  if (rc)
    return fail(s, rc, "cannot apply a revocation record from the peer: %s",
                carnet_replica_errmsg(s->r));
  /* It may have revoked the peer itself. */
  return applied ? check_trust(s) : 0;
}

/* Both sides caught up: record it, and end a one-shot session. */
static int check_done(carnet_session *s, uint64_t now_ms) {
  if (s->held && s->peer_done)
    return fail(s, CARNET_EPERM,
                "this replica was restored from a backup and sends nothing until it has synced "
                "with a replica its team trusted before (which brings the erasures made since "
                "the backup): sync with one of them first");
  bool caught_up = s->peer_done && s->final_sent && s->inflight == 0 &&
                   local_seq(s) <= s->from.after && s->ct && carnet__content_done(s->ct);
  if (s->state == CARNET_SESSION_SYNCING || s->state == CARNET_SESSION_IDLE)
    s->state = caught_up ? CARNET_SESSION_IDLE : CARNET_SESSION_SYNCING;
  s->caught_up = caught_up;
  if (!caught_up) return 0;
  return s->o.once ? send_bye(s, now_ms) : 0;
}

/* --- attachments' content (protocol/content.c) ----------------------------------- */

static int content_send(carnet_session *s, const carnet__msg *m) {
  return send_msg(s, m, s->last_tx_ms > s->last_rx_ms ? s->last_tx_ms : s->last_rx_ms);
}

static int content_fail(carnet_session *s, int code, const char *what) {
  const char *why = carnet_replica_errmsg(s->r);
  if (!why[0]) why = carnet_error_message(code);
  if (what) return fail(s, code, "%s: %s", what, why);
  return fail(s, code, "%s", why);
}

static int content_send_sealed(carnet_session *s, const carnet__msg *m) {
  int rc = carnet__channel_send_sealed(&s->ch, m, &s->out);
  if (rc)
    return fail(s, rc, "cannot send SEALED: %s",
                carnet__channel_errmsg(&s->ch)[0] ? carnet__channel_errmsg(&s->ch)
                                                  : carnet_error_message(rc));
  s->last_tx_ms = s->last_tx_ms > s->last_rx_ms ? s->last_tx_ms : s->last_rx_ms;
  return 0;
}

static size_t content_queued(carnet_session *s) {
  return s->out.len;
}

static bool content_bye_sent(carnet_session *s) {
  return s->bye_sent;
}

static int content_start(carnet_session *s, uint64_t now_ms) {
  carnet__content_io io = {.s = s,
                           .r = s->r,
                           .send = content_send,
                           .send_sealed = s->ch.sealed_ok ? content_send_sealed : NULL,
                           .fail = content_fail,
                           .queued = content_queued,
                           .bye_sent = content_bye_sent};
  if (s->ct == NULL && (s->ct = carnet__content_new(&io)) == NULL)
    return fail(s, CARNET_ENOMEM, "out of memory");
  return carnet__content_start(s->ct, now_ms);
}

/* --- the handshake --------------------------------------------------------------- */

static int hs_trusted(void *ctx, const uint8_t pk[32]) {
  carnet_session *s = ctx;
  int rc = carnet_peer_check(s->r, pk);
  return rc == 0 ? 0 : rc == CARNET_EPERM ? CARNET_EPERM : rc;
}

static int hs_invite(void *ctx, const uint8_t *id, size_t n, uint8_t secret[32]) {
  carnet_session *s = ctx;
  if (n != CARNET_INVITE_ID_BYTES) return CARNET_ENOTFOUND;
  int rc = carnet__invite_secret(s->r, id, secret);
  return rc == CARNET_EPERM ? CARNET_ENOTFOUND : rc;
}

/* The handshake signs through the engine: the identity key stays there. */
static int hs_sign(void *ctx, const void *msg, size_t len, uint8_t sig[64]) {
  carnet_session *s = ctx;
  return carnet__sign(s->r, msg, len, sig);
}

static int handshake_done(carnet_session *s, uint64_t now_ms) {
  const carnet__hs_peer *p = carnet__hs_peer_info(&s->hs);
  int rc;
  CARNET_ASSERT(s->state == CARNET_SESSION_HANDSHAKE && !s->ch_live); /* once, from HANDSHAKE */
  memcpy(s->peer_pk, p->static_pk, 32);
  s->peer_id = p->replica_id;
  s->joined = p->joined;
  rc = carnet__channel_init_hs(&s->ch, &s->hs);
  s->ch_live = true;
  if (rc) return fail(s, rc, "cannot start the encrypted channel");
  s->peer_know = carnet__malloc(sizeof *s->peer_know);
  s->tx_know = carnet__malloc(sizeof *s->tx_know);
  s->rx_know = carnet__malloc(sizeof *s->rx_know);
  s->sent_know = carnet__malloc(sizeof *s->sent_know);
  s->scratch = carnet__malloc(sizeof *s->scratch);
  if (s->peer_know == NULL || s->tx_know == NULL || s->rx_know == NULL || s->sent_know == NULL ||
      s->scratch == NULL)
    return fail(s, CARNET_ENOMEM, "out of memory");
  s->peer_know->n = s->tx_know->n = s->rx_know->n = s->sent_know->n = s->scratch->n = 0;
  /* Both sides speak the same version (the handshake refuses any other). */
  s->ch.sealed_ok = s->hs.version >= CARNET_PROTOCOL_SEALED_MIN;
  if (s->joined && !s->joining) {
    /* The initiator proved it holds our invite's secret: trust it, once. */
    if ((rc = carnet__invite_consume(s->r, p->invite_id, s->peer_pk, s->peer_addr)))
      return fail(s, CARNET_EPERM, "invite refused: %s", carnet_replica_errmsg(s->r));
  }
  if (s->peer_id == carnet_replica_id(s->r))
    return fail(s, CARNET_EPROTO,
                "the peer has this replica's own id (a copied replica "
                "directory?): sync refused");
  /* Reference codes and document numbers carry the replica's tag (the top
   * 20 bits of its id): two replicas with one tag could hand out the same
   * code, so they must not join one team. */
  if ((s->peer_id >> 44) == (carnet_replica_id(s->r) >> 44))
    return fail(s, CARNET_EPERM,
                "the peer's replica tag is %s too: reference codes could collide; create one "
                "of the two replicas again ('carnet init' in a new directory) before syncing",
                carnet_replica_tag(s->r));
  if ((rc = carnet__trust_seq(s->r, &s->trust_seen)))
    return fail(s, rc, "cannot read the trust list: %s", carnet_replica_errmsg(s->r));
  /* S7: the handshake checked the key before trustseq was read; a removal
   * committed in between (by another process) is caught here, one after
   * is by the next check_trust. */
  if (!s->joining && (rc = carnet_peer_check(s->r, s->peer_pk)) != 0)
    return fail(s, rc,
                rc == CARNET_EPERM ? "the peer's key was removed or revoked here during "
                                     "the handshake: session ended"
                                   : "cannot read the trust list");
  s->state = CARNET_SESSION_SYNCING;
  s->last_rx_ms = now_ms;
  /* Joining: the inviter is trusted (and noted) at its first message. */
  if (!s->joining) live_start(s, now_ms);
  carnet_mark mark;
  if ((rc = carnet_changes_get_mark(s->r, s->peer_id, &mark)))
    return fail(s, rc, "cannot read the mark kept for the peer");
  if ((rc = push_revocations(s, now_ms)) || (rc = push_certs(s, now_ms))) return rc;
  if ((rc = content_start(s, now_ms))) return rc;
  /* S8: what we hold, before REQ: the peer's stream leaves it out. */
  uint64_t seq;
  if ((rc = carnet__know_read(s->r, &seq, s->tx_know)))
    return fail(s, rc, "cannot read what this replica holds: %s", carnet_replica_errmsg(s->r));
  if ((rc = send_know(s, seq, s->tx_know, now_ms))) return rc;
  carnet__msg m = {.type = CARNET_MSG_REQ, .since = mark.base, .after = mark.after};
  return send_msg(s, &m, now_ms);
}

/* --- receiving ------------------------------------------------------------------- */

/* Receiving is grouped (engine/sync/bulk.h): received batches are applied
 * in one write transaction, a group, committed when it is due (RX_GROUP_BYTES,
 * the window's batches, CARNET__BULK_MS open, ~rx_group_pages dirty pages, the
 * stream's last batch), before any other message, or when another write in
 * the process needs the writer; only then are they acknowledged, in order.
 * So an ACK still means "durable here", a crash loses only unacknowledged
 * batches, never half of one, and a bulk stream costs one commit per group
 * rather than one per batch or per read of the socket: each commit of random
 * keys rewrites a large share of the B-tree pages. Between calls the group
 * is parked (G2): nothing else in the process (a stream to this or another
 * peer, a reader) sees it, and the tick commits it once due. */
static int rx_commit(carnet_session *s, uint64_t now_ms) {
  if (!carnet__bulk_open(&s->rx)) return 0;
  int rc = carnet__bulk_commit(&s->rx);
  if (rc) {
    s->rx_n = 0;
    return fail(s, rc, "cannot apply a batch from the peer: %s", carnet_replica_errmsg(s->r));
  }
  unsigned n = s->rx_n;
  s->rx_n = 0;
  if (s->rx_done) s->peer_done = true;
  s->rx_done = false;
  /* C1 (protocol/content.h): what these batches brought is asked for
   * before they are acknowledged. */
  if (n && s->ct && (rc = carnet__content_applied(s->ct, now_ms))) return rc;
  for (unsigned i = 0; i < n && !s->bye_sent; i++) {
    /* After our BYE our direction is over: nothing to acknowledge with. */
    carnet__msg ack = {.type = CARNET_MSG_ACK, .upto = s->rx_acks[i]};
    if ((rc = send_msg(s, &ack, now_ms))) return rc;
  }
  return 0;
}

static int on_batch(carnet_session *s, const carnet__msg *m, uint64_t now_ms) {
  carnet_batch_info info;
  uint32_t applied = 0;
  int rc;
  /* S1 and S4: batches only after the handshake, never after a failure;
   * a group is committed before it fills its acknowledgements. */
  CARNET_ASSERT(s->ch_live && s->err == 0 && s->rx_n < RX_GROUP_BATCHES);
  carnet_txn *t;
  if ((rc = carnet__bulk_txn(&s->rx, now_ms, &t)))
    return fail(s, rc, "cannot apply a batch from the peer: %s", carnet_replica_errmsg(s->r));
  /* S7, read in the batch's own transaction. */
  if ((rc = check_trust(s))) return rc;
  rc = carnet__changes_apply_in(t, m->bytes.base, m->bytes.len, s->peer_id, &info, &applied);
  /* S8: the stream's end: what the peer held in its snapshot is ours now. */
  if (rc == 0 && !info.more && s->rx_know_set) {
    bool absorbed = false;
    rc = carnet__know_absorb_in(t, s->peer_id, s->rx_know_upto, s->rx_know, &absorbed);
    if (rc == 0 && absorbed) s->rx_know_set = false;
  }
  if (rc) return fail(s, rc, "cannot apply a batch from the peer: %s", carnet_replica_errmsg(s->r));
  s->st.batches_in++;
  s->st.cells_in += info.cells;
  s->st.cells_applied += applied;
  if (!info.more) s->rx_done = true;
  s->rx_acks[s->rx_n++] = info.upto;
  carnet__bulk_add(&s->rx, m->bytes.len, info.entities);
  /* The stream's end, or a full window (the peer sends nothing more until
   * acknowledged; its window is taken to be ours), need not wait. */
  if (s->rx_done || s->rx_n >= s->o.window || carnet__bulk_due(&s->rx, now_ms))
    return rx_commit(s, now_ms);
  return 0;
}

/* S8: the peer's KNOW. Its vector is left out of our stream at once; it
 * becomes ours when our mark for the peer reaches `upto`: in the open
 * group of received batches (a KNOW does not end the group: the stream's
 * last batch follows it), else now if the mark is already there, else in
 * the transaction of the batch that gets it there (on_batch). */
static int on_know(carnet_session *s, const carnet__msg *m) {
  int bad = 0, rc = 0;
  bool absorbed = false;
  carnet__know *k = s->scratch;
  if (carnet__know_decode(m->bytes.base, m->bytes.len, k, &bad))
    return fail(s, CARNET_EPROTO,
                "the peer sent a malformed knowledge vector (check at engine/model/know.c:%d)",
                bad);
  if (!carnet__know_plausible(s->r, k))
    return fail(s, CARNET_EPROTO,
                "the peer's knowledge vector carries a timestamp more than "
                "7 days ahead of this machine's clock; check the clocks");
  /* Each KNOW of a session says what the peer held when its sequence
   * number was its `upto`, and the peer only gains: the merge of all of
   * them is true at the greatest `upto` (the peer sends only the entries
   * that are news, send_know). */
  (void)carnet__know_merge(s->peer_know, k, 0);
  if (!s->rx_know_set) s->rx_know->n = 0;
  (void)carnet__know_merge(s->rx_know, k, 0);
  if (!s->rx_know_set || m->upto > s->rx_know_upto) s->rx_know_upto = m->upto;
  s->rx_know_set = true;
  carnet_txn *g = NULL;
  if (carnet__bulk_open(&s->rx) && (rc = carnet__bulk_txn(&s->rx, s->last_rx_ms, &g)) == 0) {
    rc = carnet__know_absorb_in(g, s->peer_id, s->rx_know_upto, s->rx_know, &absorbed);
  } else if (rc == 0) {
    carnet_mark mark;
    carnet_txn *t = NULL;
    if ((rc = carnet_changes_get_mark(s->r, s->peer_id, &mark)) == 0 &&
        mark.base >= s->rx_know_upto && (rc = carnet_txn_begin(s->r, &t)) == 0 &&
        (rc = carnet__know_absorb_in(t, s->peer_id, s->rx_know_upto, s->rx_know, &absorbed)) == 0) {
      rc = carnet_txn_commit(t);
      t = NULL;
    }
    if (t) carnet_txn_abort(t);
  }
  if (rc) return fail(s, rc, "cannot record what the peer holds: %s", carnet_replica_errmsg(s->r));
  if (absorbed) s->rx_know_set = false;
  return 0;
}

/* Another write of the process needs the writer while the group is parked
 * (G2): commit it now and acknowledge it (errors are the session's). */
static void rx_flush(void *ctx) {
  carnet_session *s = ctx;
  (void)rx_commit(s, s->last_rx_ms);
}

static int on_message(carnet_session *s, const carnet__msg *m, uint64_t now_ms) {
  /* Anything but another batch (or the KNOW before a stream's last batch)
   * sees the received ones committed first. */
  if (m->type != CARNET_MSG_BATCH && m->type != CARNET_MSG_KNOW && rx_commit(s, now_ms))
    return s->err;
  if (s->joining && !s->trusted_inviter && m->type != CARNET_MSG_ERROR) {
    /* The responder's first encrypted message proves it accepted our join. */
    int rc = carnet_peer_trust(s->r, s->peer_pk, s->peer_addr);
    if (rc == 0) rc = carnet_replica_set_team(s->r, s->invite.team_id);
    if (rc) return fail(s, rc, "cannot record the team joined: %s", carnet_replica_errmsg(s->r));
    s->trusted_inviter = true;
    live_start(s, now_ms);
  }
  switch (m->type) {
  case CARNET_MSG_REQ:
    if (m->after < m->since) return fail(s, CARNET_EPROTO, "the peer sent a malformed request");
    s->stream_on = true;
    s->from = (carnet_mark){m->since, m->after};
    s->final_sent = false;
    /* S6: the peer's certificates, all sent before this REQ, are applied. */
    int grc = carnet__restore_gate(s->r, s->peer_pk, true, &s->held);
    if (grc) return fail(s, grc, "%s", carnet_replica_errmsg(s->r));
    return pump(s, now_ms);
  case CARNET_MSG_BATCH:
    return on_batch(s, m, now_ms);
  case CARNET_MSG_ACK:
    if (s->inflight == 0) return fail(s, CARNET_EPROTO, "the peer acknowledged a batch never sent");
    CARNET_ASSERT(s->inflight <= s->o.window);
    s->inflight--;
    if (m->upto > s->acked) s->acked = m->upto;
    return pump(s, now_ms);
  case CARNET_MSG_CERT:
    if (check_trust(s)) return s->err; /* S7 */
    return on_cert(s, m, now_ms);
  case CARNET_MSG_REVOKE:
    if (check_trust(s)) return s->err; /* S7 */
    return on_revoke(s, m);
  case CARNET_MSG_ERROR: {
    int n = (int)(m->text.len < 400 ? m->text.len : 400);
    return fail(s, m->code < 0 && m->code >= CARNET_EPERM ? m->code : CARNET_EPROTO,
                "the peer ended the session: %.*s", n, (const char *)m->text.base);
  }
  case CARNET_MSG_BYE:
    s->bye_recv = true;
    if (send_bye(s, now_ms)) return s->err;
    s->state = CARNET_SESSION_CLOSED;
    live_end(s);
    return 0;
  case CARNET_MSG_PING:
    return 0;
  case CARNET_MSG_KNOW:
    return on_know(s, m);
  case CARNET_MSG_FETCH:
  case CARNET_MSG_CHUNK:
  case CARNET_MSG_NOPE:
  case CARNET_MSG_IDLE:
  case CARNET_MSG_SEALED: /* the channel took it only if the version has it */
    if (s->ct == NULL) return fail(s, CARNET_EPROTO, "unexpected message from the peer");
    return carnet__content_on_msg(s->ct, m, now_ms);
  }
  return fail(s, CARNET_EPROTO, "unexpected message from the peer");
}

/* --- the API ------------------------------------------------------------------- */

int carnet_session_new(carnet_replica *r, const carnet_session_opts *opts, uint64_t now_ms,
                       carnet_session **out) {
  return carnet__session_new_version(r, opts, now_ms, 0, out);
}

int carnet__session_new_version(carnet_replica *r, const carnet_session_opts *opts, uint64_t now_ms,
                                uint32_t version, carnet_session **out) {
  carnet_session *s = carnet__calloc(1, sizeof *s);
  uint8_t pk[32];
  carnet__hs_config cfg = {0};
  char why[160];
  int rc;
  *out = NULL;
  if (s == NULL) return CARNET_ENOMEM;
  s->r = r;
  s->o = *opts;
  s->o.invite_token = NULL;
  s->o.peer_addr = NULL;
  if (s->o.batch_bytes == 0) s->o.batch_bytes = DEFAULT_BATCH_BYTES;
  if (s->o.window == 0) s->o.window = DEFAULT_WINDOW;
  carnet__bulk_init(&s->rx, r, RX_GROUP_BYTES, 0, s->o.rx_group_pages,
                    s->o.window < RX_GROUP_BATCHES ? s->o.window : RX_GROUP_BATCHES);
  s->state = CARNET_SESSION_HANDSHAKE;
  s->last_rx_ms = s->last_tx_ms = now_ms;
  carnet__obuf_init(&s->out);
  s->peer_addr = carnet__strdup(opts->peer_addr ? opts->peer_addr : "");
  if (s->peer_addr == NULL) {
    rc = CARNET_ENOMEM;
    goto fail;
  }
  if ((rc = carnet_replica_get_identity(r, pk, cfg.team_id))) goto fail;
  if (opts->invite_token) {
    if (!opts->initiator) {
      rc = carnet__fail(r, CARNET_EMISUSE, "only the dialling side joins with an invite");
      goto fail;
    }
    if ((rc = carnet__invite_decode(opts->invite_token, &s->invite, why, sizeof why))) {
      rc = carnet__fail(r, CARNET_EINVAL, "not a valid invite token: %s", why);
      goto fail;
    }
    if (carnet__now_ms(r) > s->invite.expiry_ms) {
      rc = carnet__fail(r, CARNET_EPERM, "the invite has expired: ask for a new one");
      goto fail;
    }
    s->joining = true;
    memcpy(cfg.team_id, s->invite.team_id, sizeof cfg.team_id);
    cfg.invite = &s->invite;
  }
  cfg.sign_pk = pk;
  cfg.sign = hs_sign;
  cfg.replica_id = carnet_replica_id(r);
  cfg.trusted = hs_trusted;
  cfg.invite_secret = hs_invite;
  cfg.ctx = s;
  cfg.env = NULL;
  cfg.version = version;
  rc = carnet__hs_init(&s->hs, opts->initiator ? CARNET_HS_INITIATOR : CARNET_HS_RESPONDER, &cfg,
                       now_ms, &s->out);
  s->hs_live = true;
  if (rc) goto fail;
  s->st.bytes_out = 0;
  *out = s;
  return 0;
fail:
  carnet_session_free(s);
  return rc;
}

void carnet_session_free(carnet_session *s) {
  if (s == NULL) return;
  /* What was applied without error is kept (the mark moved with it), if
   * unacknowledged; after an error the group was aborted already. */
  if (carnet__bulk_open(&s->rx) && carnet__bulk_commit(&s->rx))
    carnet__log(s->r, 1, "a received group could not be committed at the session's end");
  /* Freed while live (closed by force): this process no longer counts it;
   * its pid going away, or the staleness bound, ends the stored record. */
  if (s->live_on) carnet__peer_live_drop(s->r, s->peer_pk);
  if (s->hs_live) carnet__hs_free(&s->hs);
  if (s->ch_live) carnet__channel_free(&s->ch);
  carnet__content_free(s->ct);
  carnet__free(s->peer_know);
  carnet__free(s->tx_know);
  carnet__free(s->rx_know);
  carnet__free(s->sent_know);
  carnet__free(s->scratch);
  sodium_memzero(&s->invite, sizeof s->invite);
  carnet__obuf_free(&s->out);
  carnet__free(s->peer_addr);
  carnet__free(s);
}

int carnet_session_input(carnet_session *s, const void *data, size_t len, uint64_t now_ms) {
  const uint8_t *p = data;
  bool checked = false;
  if (s->err) return s->err;
  s->st.bytes_in += len;
  s->last_rx_ms = now_ms;
  while (len > 0 && !s->err && s->state != CARNET_SESSION_CLOSED) {
    if (!s->ch_live) {
      int rc = carnet__hs_feed(&s->hs, &p, &len, &s->out);
      if (rc) {
        const char *why = carnet__hs_errmsg(&s->hs);
        return fail(s, rc, "handshake failed: %s", why[0] ? why : carnet_error_message(rc));
      }
      if (!carnet__hs_done(&s->hs)) return 0;
      if ((rc = handshake_done(s, now_ms))) return rc;
      continue;
    }
    /* S7: nothing more from a key removed meanwhile (once per call: each
     * batch checks again in its own transaction). */
    if (!checked && (checked = true) && check_trust(s)) return s->err;
    carnet__msg m;
    int got = carnet__channel_recv(&s->ch, &p, &len, &m);
    if (got < 0)
      return fail(s, got, "bad frame from the peer (%s): session ended, nothing of it applied",
                  carnet__channel_errmsg(&s->ch));
    if (got == 0) break;
    int rc = on_message(s, &m, now_ms);
    if (rc) return rc;
  }
  if (s->err) return s->err;
  /* Due or not, the group is out of sight before anything else reads. */
  if ((s->state == CARNET_SESSION_CLOSED || carnet__bulk_due(&s->rx, now_ms)) &&
      rx_commit(s, now_ms))
    return s->err;
  carnet__bulk_park(&s->rx, rx_flush, s);
  if (s->ct && s->state != CARNET_SESSION_CLOSED && carnet__content_pump(s->ct, now_ms))
    return s->err;
  int rc = s->ch_live && s->state != CARNET_SESSION_CLOSED ? check_done(s, now_ms) : 0;
  if (rc == 0) live_progress(s, now_ms);
  return rc;
}

carnet_buf carnet_session_output(carnet_session *s) {
  return (carnet_buf){s->out.base, s->out.len};
}

void carnet_session_sent(carnet_session *s, size_t n) {
  if (n > s->out.len) n = s->out.len;
  carnet__obuf_consume(&s->out, n);
  s->st.bytes_out += n;
  /* Room in the output: the next units of a file being sent (their rate
   * refills on the tick). */
  if (s->ct && !s->err && s->state != CARNET_SESSION_CLOSED) (void)carnet__content_pump(s->ct, 0);
}

int carnet_session_tick(carnet_session *s, uint64_t now_ms) {
  int rc;
  if (s->err) return s->err;
  if (s->state == CARNET_SESSION_CLOSED) return 0;
  if (!s->ch_live) {
    if ((rc = carnet__hs_tick(&s->hs, now_ms)))
      return fail(s, rc, "handshake failed: %s", carnet__hs_errmsg(&s->hs));
    return 0;
  }
  /* The clock is the replica's wall clock, which may step back (NTP): that
   * is no silence of 2^64 ms. Re-anchor, as the handshake's deadline does
   * (found by the deterministic simulation, tests/sim/). */
  if (now_ms < s->last_rx_ms) s->last_rx_ms = now_ms;
  if (now_ms < s->last_tx_ms) s->last_tx_ms = now_ms;
  if (now_ms - s->last_rx_ms >= CARNET_SESSION_TIMEOUT_MS)
    return fail(s, CARNET_ELIMIT, "the peer sent nothing for %u s: session ended",
                CARNET_SESSION_TIMEOUT_MS / 1000);
  if (carnet__bulk_due(&s->rx, now_ms) && rx_commit(s, now_ms)) return s->err;
  if (!s->bye_sent && now_ms - s->last_tx_ms >= CARNET_SESSION_IDLE_PING_MS) {
    carnet__msg m = {.type = CARNET_MSG_PING};
    if ((rc = send_msg(s, &m, now_ms))) return rc;
  }
  if ((rc = check_trust(s)) || (rc = push_revocations(s, now_ms)) || (rc = push_certs(s, now_ms)) ||
      (rc = pump(s, now_ms)) || (s->ct && (rc = carnet__content_tick(s->ct, now_ms))) ||
      (rc = check_done(s, now_ms)))
    return rc;
  live_progress(s, now_ms);
  return 0;
}

int carnet_session_eof(carnet_session *s) {
  /* What was applied is kept: its mark moved with it. */
  if (!s->err && rx_commit(s, s->last_rx_ms)) return s->err;
  if (s->err || s->state == CARNET_SESSION_CLOSED) return s->err;
  if (!s->ch_live) {
    /* The handshake's own detail says it (and why, when it knows). */
    carnet__hs_eof(&s->hs);
    const char *why = carnet__hs_errmsg(&s->hs);
    return fail(s, CARNET_EPROTO, "%s", why[0] ? why : "connection closed during the handshake");
  }
  return fail(s, CARNET_EPROTO,
              "connection closed by the peer before the session ended "
              "(what was applied stays; the next sync resumes)");
}

void carnet_session_close(carnet_session *s) {
  if (!s->err) (void)rx_commit(s, s->last_tx_ms);
  if (s->err || !s->ch_live || s->state == CARNET_SESSION_CLOSED) return;
  send_bye(s, s->last_tx_ms);
  /* A clean stop records how far the peer got, even if its BYE never
   * comes back. */
  if (s->live_on) live_note(s, s->last_tx_ms, 0);
  (void)carnet__peer_live_flush(s->r, s->last_tx_ms, true);
}

carnet_session_state carnet_session_get_state(const carnet_session *s) {
  return s->state;
}

int carnet_session_get_error(const carnet_session *s) {
  return s->err;
}

const char *carnet_session_errmsg(const carnet_session *s) {
  return s->errmsg;
}

const uint8_t *carnet_session_peer_pk(const carnet_session *s) {
  return s->peer_pk;
}

uint64_t carnet_session_peer_id(const carnet_session *s) {
  return s->peer_id;
}

bool carnet_session_joined(const carnet_session *s) {
  return s->joined || s->trusted_inviter;
}

void carnet_session_get_stats(const carnet_session *s, carnet_session_stats *out) {
  *out = s->st;
  if (s->ct) carnet__content_stats(s->ct, out);
}

void carnet__session_abort(carnet_session *s, int code, const char *fmt, ...) {
  char why[400];
  va_list ap;
  if (s->err || s->state == CARNET_SESSION_CLOSED) return;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  (void)fail(s, code, "%s", why);
}

/* --- invites --------------------------------------------------------------------- */

int carnet_invite_create(carnet_replica *r, const char *addr, uint64_t ttl_ms, char *out,
                         size_t out_len) {
  carnet__invite inv = {0};
  char why[160];
  int rc;
  if (addr == NULL || strlen(addr) > CARNET_INVITE_ADDRESS_MAX ||
      carnet__invite_address_valid(addr))
    return carnet__fail(r, CARNET_EINVAL, "invalid address '%s': give HOST:PORT", addr ? addr : "");
  memcpy(inv.address, addr, strlen(addr) + 1);
  if ((rc = carnet_replica_get_identity(r, inv.inviter_pk, inv.team_id))) return rc;
  carnet__random(r, inv.id, sizeof inv.id);
  carnet__random(r, inv.secret, sizeof inv.secret);
  inv.expiry_ms = carnet__now_ms(r) + ttl_ms;
  rc = carnet__invite_encode(&inv, out, out_len, why, sizeof why);
  if (rc == 0)
    rc = carnet__invite_add(r, inv.id, inv.secret, inv.expiry_ms);
  else
    carnet__fail(r, rc, "cannot make the invite: %s", why);
  sodium_memzero(&inv, sizeof inv);
  return rc;
}

int carnet_invite_addr(const char *token, char *addr, size_t addr_len) {
  carnet__invite inv;
  char why[160];
  int rc = carnet__invite_decode(token, &inv, why, sizeof why);
  if (rc == 0) snprintf(addr, addr_len, "%s", inv.address);
  sodium_memzero(&inv, sizeof inv);
  return rc ? CARNET_EINVAL : 0;
}
