/* protocol/content.h - attachments' content over a sync session (the
 * messages FETCH, CHUNK, NOPE and IDLE of protocol/msg.h, protocol
 * version 3, and SEALED, version 4: a unit past the channel's encryption). Not API:
 * protocol/session.c drives it, engine/crm/attach.h (units, A4) reads and writes the files.
 *
 * Each side fetches what its policy wants (carnet__att_fetch_list) from
 * the other: at most CARNET__CONTENT_FETCH_MAX transfers asked at once, one
 * FETCH each, answered by the whole file from the offset asked (CHUNKs) or
 * a NOPE. Once it has nothing more to ask it says IDLE. The sender queues
 * what it is asked (at most CARNET__CONTENT_SERVE_MAX) and sends one file
 * at a time, a unit at a time, only while the session's output holds less
 * than CARNET__CONTENT_LOW_WATER bytes and the replica's send rate allows:
 * change batches are queued whenever their window allows, so a batch waits
 * behind at most that many content bytes, never behind a whole file.
 *
 * Invariants:
 *   C1  A side is done with content (carnet__content_done) when it asks for
 *       nothing, has nothing outstanding, has nothing queued to send, and
 *       the peer's last word was IDLE. A `once` session ends (BYE) only
 *       when done: the peer's FETCHes for what a batch brought arrive
 *       before its ACK of that batch (rx_commit asks first), so an ACK
 *       that completes our stream finds them queued.
 *   C2  A CHUNK, SEALED or NOPE answers a FETCH of ours; anything else is
 *       a protocol error. A FETCH after our BYE is ignored.
 *   C3  Received bytes are authenticated before they are written
 *       (engine/crm/attach_xfer.c); a transfer cut anywhere resumes at the end
 *       of the last good unit, in this process or the next.
 */
#ifndef CARNET_PROTOCOL_CONTENT_H
#define CARNET_PROTOCOL_CONTENT_H

#include <stdbool.h>
#include <stdint.h>

#include "carnet/sync.h"
#include "protocol/msg.h"

#define CARNET__CONTENT_FETCH_MAX 4u             /* transfers we ask for at once */
#define CARNET__CONTENT_SERVE_MAX 16u            /* FETCHes a peer may have queued here */
#define CARNET__CONTENT_LOW_WATER (256u * 1024u) /* output bytes before a unit waits */
#define CARNET__CONTENT_RESCAN_MS 2000u          /* idle: look for new wants this often */
#define CARNET__CONTENT_RETRY_MS 30000u          /* ask again what a peer lacked */

typedef struct carnet__content carnet__content;

/* What the content part needs of its session (protocol/session.c). */
typedef struct carnet__content_io {
  carnet_session *s;
  carnet_replica *r;
  /* Send `m`; returns the session's error. */
  int (*send)(carnet_session *s, const carnet__msg *m);
  /* Send a unit as SEALED (protocol/channel.h), or NULL: the session's
   * version lacks it, units go as CHUNK. */
  int (*send_sealed)(carnet_session *s, const carnet__msg *m);
  /* Fail the session with `code` and the replica's errmsg after `what`. */
  int (*fail)(carnet_session *s, int code, const char *what);
  /* Bytes waiting in the session's output. */
  size_t (*queued)(carnet_session *s);
  /* Whether our BYE is out (nothing more may be sent). */
  bool (*bye_sent)(carnet_session *s);
} carnet__content_io;

/* Brief: the content part of a session; NULL when out of memory. */
carnet__content *carnet__content_new(const carnet__content_io *io);
void carnet__content_free(carnet__content *ct);

/* Brief: the session is up: ask for what we want (FETCH), or say IDLE.
 * Errors: the session's. */
int carnet__content_start(carnet__content *ct, uint64_t now_ms);

/* Brief: a FETCH, CHUNK, NOPE or IDLE from the peer. Errors: the
 * session's (CARNET_EPROTO for C2 and bad bytes). */
int carnet__content_on_msg(carnet__content *ct, const carnet__msg *m, uint64_t now_ms);

/* Brief: change batches were applied: they may have brought metadata of
 * attachments we want; ask for them now (C1: before their ACK). */
int carnet__content_applied(carnet__content *ct, uint64_t now_ms);

/* Brief: send what the output's room and the rate allow; on the tick, also
 * look again for wants (another process may have asked for a file).
 * `now_ms` 0: no clock (the send rate does not refill). */
int carnet__content_pump(carnet__content *ct, uint64_t now_ms);
int carnet__content_tick(carnet__content *ct, uint64_t now_ms);

/* Brief: C1. */
bool carnet__content_done(const carnet__content *ct);

/* Brief: add the content counters to `st`. */
void carnet__content_stats(const carnet__content *ct, carnet_session_stats *st);

#endif
