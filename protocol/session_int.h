/* protocol/session_int.h - what the node (replica/) does to a session
 * besides feeding it: end it for a reason of its own. Not API. */
#ifndef CARNET_PROTOCOL_SESSION_INT_H
#define CARNET_PROTOCOL_SESSION_INT_H

#include "carnet/sync.h"

/* Brief: end the session now with `code` (a CARNET_E* code) and a one-line
 * reason, as if it had failed by itself: an authenticated peer is sent an
 * ERROR with them (so it knows why: CARNET_EBUSY means "try again later"),
 * the state becomes FAILED, and the error is sticky (S4). Nothing happens
 * to a session that has already ended. */
void carnet__session_abort(carnet_session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Brief: carnet_session_new speaking protocol `version` (0: this build's,
 * CARNET_PROTOCOL_VERSION) instead: for tests of what an older build sends
 * (a version 3 session never sends SEALED). The peer must speak the same. */
int carnet__session_new_version(carnet_replica *r, const carnet_session_opts *opts, uint64_t now_ms,
                                uint32_t version, carnet_session **out);

#endif
