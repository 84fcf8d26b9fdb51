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

#endif
