/* replica/backoff.h - when to dial a peer again after a failure.
 *
 * Exponential backoff with "equal jitter": the n-th consecutive failure waits
 * a delay drawn uniformly from [d/2, d], where d = min(start * 2^n, max).
 * The jitter keeps replicas that lost the same hub at the same instant from
 * all dialling it back in step. The random draw comes from the caller (the
 * replica's injected random source), so a test replays the same delays.
 *
 * Pure functions over a small value: no clock, no allocation.
 */
#ifndef CARNET_REPLICA_BACKOFF_H
#define CARNET_REPLICA_BACKOFF_H

#include <stdint.h>

#define CARNET_RECONNECT_BACKOFF_MS_MIN 250u
#define CARNET_RECONNECT_BACKOFF_MS_MAX 30000u

_Static_assert(CARNET_RECONNECT_BACKOFF_MS_MIN > 0 &&
                   CARNET_RECONNECT_BACKOFF_MS_MIN <= CARNET_RECONNECT_BACKOFF_MS_MAX,
               "backoff bounds are ordered");

typedef struct carnet__backoff {
  uint32_t start_ms; /* the first delay (before jitter) */
  uint32_t max_ms;   /* the largest delay */
  uint32_t failures; /* consecutive failures so far */
} carnet__backoff;

/* Brief: a backoff from `start_ms` up to `max_ms` (0 for either: the
 * CARNET_RECONNECT_BACKOFF_MS_* defaults; max is raised to start if lower). */
void carnet__backoff_init(carnet__backoff *b, uint32_t start_ms, uint32_t max_ms);

/* Brief: the delay before the next attempt, after one more failure. `rnd` is
 * a uniformly random 32-bit value. The result is in [d/2, d] with d as
 * above, never 0 and never more than max_ms. */
uint32_t carnet__backoff_next(carnet__backoff *b, uint32_t rnd);

/* Brief: a success (a session got through its handshake): the next failure
 * starts again from start_ms. */
void carnet__backoff_reset(carnet__backoff *b);

#endif
