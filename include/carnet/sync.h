/* carnet/sync.h - one sync session with one peer, as a state machine.
 *
 * A session knows nothing of sockets: the caller feeds it the bytes that
 * arrived from the peer (carnet_session_input), sends what it has to send
 * (carnet_session_output / carnet_session_sent), and calls carnet_session_tick
 * regularly with the time. So the same code runs over TCP (replica/), over
 * in-memory pipes in tests, and in the deterministic simulation.
 *
 * A session: handshake (authenticated key exchange, trust checked before any
 * data is read), then each side asks the other for the changes after its mark
 * (carnet_mark) and streams batches in a bounded window, each acknowledged
 * once applied; then, while it lives, it pushes new local changes (made by
 * this process or another one writing the same directory) within a tick.
 *
 * Threads: a session and its replica belong to one thread at a time.
 */
#ifndef CARNET_SYNC_H
#define CARNET_SYNC_H

#include "carnet/api.h"

#include "carnet/peer.h"
#include "carnet/replica.h"
#include <stdbool.h>

CARNET_BEGIN_DECLS

typedef struct carnet_session carnet_session;

typedef enum carnet_session_state {
  CARNET_SESSION_HANDSHAKE = 1, /* keys being exchanged */
  CARNET_SESSION_SYNCING = 2,   /* batches in flight one way or the other */
  CARNET_SESSION_IDLE = 3,      /* both sides caught up; waiting for changes */
  CARNET_SESSION_CLOSED = 4,    /* ended cleanly (BYE sent and/or received) */
  CARNET_SESSION_FAILED = 5,    /* ended on an error (carnet_session_get_error) */
} carnet_session_state;

typedef struct carnet_session_opts {
  bool initiator;           /* we dialled */
  bool once;                /* end with BYE once both sides are caught up (`carnet sync`) */
  const char *invite_token; /* initiator only: join the inviter's team with this token */
  const char *peer_addr;    /* where the peer is, recorded in the peer list; may be NULL */
  size_t batch_bytes;       /* 0 = 1 MiB */
  unsigned window;          /* batches sent before waiting for an ack; 0 = 16 */
  /* Received batches applied in one transaction (a group, committed and
   * then acknowledged) until it holds 32 MiB or `window` batches, has been
   * open ~250 ms, or has dirtied about this many pages (estimated from
   * above); 0 = 65536 (256 MiB) where the store maps its file writable
   * (dirty pages are file pages), else 10240 (40 MiB: each is a copy in
   * private memory until the commit). */
  size_t rx_group_pages;
} carnet_session_opts;

typedef struct carnet_session_stats {
  uint64_t bytes_in, bytes_out; /* on the wire, handshake included */
  uint64_t batches_in, batches_out;
  uint64_t cells_in, cells_out;     /* cells received / sent */
  uint64_t cells_applied;           /* received cells that changed local state */
  uint64_t certs_in, certs_out;     /* erasure certificates received / sent */
  uint64_t content_in, content_out; /* bytes of attachments' content files received / sent
                                       (carnet/attach.h; resumed transfers count only what
                                       moved in this session) */
  uint64_t files_in, files_out;     /* attachments' content files completed either way */
} carnet_session_stats;

#define CARNET_SESSION_IDLE_PING_MS 15000u /* a PING when nothing was sent for this long */
#define CARNET_SESSION_TIMEOUT_MS 60000u   /* the peer silent for this long: fail */

/* Brief: start a session on replica `r` at time `now_ms`. An initiator has
 * its first handshake message ready in carnet_session_output at once.
 * After the call the caller owns *out (carnet_session_free).
 * Errors: CARNET_EINVAL (a bad invite token: the replica's errmsg says why),
 * CARNET_EPERM (expired token), CARNET_ENOMEM. */
CARNET_API int carnet_session_new(carnet_replica *r, const carnet_session_opts *opts,
                                  uint64_t now_ms, carnet_session **out);
CARNET_API void carnet_session_free(carnet_session *s);

/* Brief: feed bytes received from the peer, in any chunking. Returns 0, or
 * the session's (sticky) error once it has failed. On failure the output
 * may still hold an ERROR message for the peer: send it, then close.
 * Errors: CARNET_EPROTO (bad, tampered, replayed or oversized frame: nothing
 * of it was applied), CARNET_EPERM (untrusted key, wrong team, bad invite;
 * or the peer's key was removed or revoked here while the session lived,
 * by this process or another: nothing it sent after that was applied),
 * CARNET_EBUSY (the peer is at its connection limits: try again later),
 * CARNET_EVERSION (incompatible protocol), CARNET_ENOSPC (disk or map full:
 * free space, the session restarts from the stored mark), CARNET_ENOMEM,
 * CARNET_EIO. */
CARNET_API int carnet_session_input(carnet_session *s, const void *data, size_t len,
                                    uint64_t now_ms);

/* Brief: the bytes waiting to be sent (empty when none). The buffer belongs
 * to the session and stays valid until the next call on it. */
CARNET_API carnet_buf carnet_session_output(carnet_session *s);

/* Brief: `n` bytes of the output were written to the peer. */
CARNET_API void carnet_session_sent(carnet_session *s, size_t n);

/* Brief: timers and local changes: pushes new local changes (and new
 * revocations, carnet/peer.h) to the peer, ends the session when the
 * peer's key is no longer trusted here, pings when quiet, fails on a
 * handshake or peer timeout. Call every 100 to
 * 250 ms. Errors: as carnet_session_input, plus CARNET_EPROTO for a timeout
 * (the errmsg says which step timed out). */
CARNET_API int carnet_session_tick(carnet_session *s, uint64_t now_ms);

/* Brief: the connection closed (EOF). Returns 0 when the session had closed
 * cleanly. Errors: CARNET_EPROTO ("connection closed by the peer …": the
 * session had not ended cleanly), or the session's earlier sticky error. */
CARNET_API int carnet_session_eof(carnet_session *s);

/* Brief: end the session cleanly: a BYE goes out, then CLOSED. */
CARNET_API void carnet_session_close(carnet_session *s);

/* Brief: where the session is (it changes with every call above). */
CARNET_API carnet_session_state carnet_session_get_state(const carnet_session *s);

/* Brief: the session's error (0 while it has none) and its one-line detail
 * (written for a log: says what happened and what to do).
 * Errors: none (the int is the sticky error, as carnet_session_input). */
CARNET_API int carnet_session_get_error(const carnet_session *s);
CARNET_API const char *carnet_session_errmsg(const carnet_session *s);

/* Brief: once the handshake is done: the peer's public key, its replica id,
 * and whether it joined through one of our invites (or we through its). */
CARNET_API const uint8_t *carnet_session_peer_pk(const carnet_session *s);
CARNET_API uint64_t carnet_session_peer_id(const carnet_session *s);
CARNET_API bool carnet_session_joined(const carnet_session *s);

CARNET_API void carnet_session_get_stats(const carnet_session *s, carnet_session_stats *out);

/* Brief: make an invite on `r` valid for `ttl_ms`, to be accepted by a
 * replica serving at `addr` ("host:port"); writes the token text (NUL
 * terminated) to `out`. Errors: CARNET_EINVAL (address too long),
 * CARNET_ELIMIT (out too small: 512 bytes is enough). */
CARNET_API int carnet_invite_create(carnet_replica *r, const char *addr, uint64_t ttl_ms, char *out,
                                    size_t out_len);

/* Brief: the address a token points to (to dial for `carnet join`).
 * Errors: CARNET_EINVAL (not a Carnet invite token). */
CARNET_API int carnet_invite_addr(const char *token, char *addr, size_t addr_len);

CARNET_END_DECLS

#endif
