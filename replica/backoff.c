/* replica/backoff.c - exponential backoff with jitter (see backoff.h). */
#include "replica/backoff.h"

void carnet__backoff_init(carnet__backoff *b, uint32_t start_ms, uint32_t max_ms) {
  b->start_ms = start_ms ? start_ms : CARNET_RECONNECT_BACKOFF_MS_MIN;
  b->max_ms = max_ms ? max_ms : CARNET_RECONNECT_BACKOFF_MS_MAX;
  if (b->max_ms < b->start_ms) b->max_ms = b->start_ms;
  b->failures = 0;
}

uint32_t carnet__backoff_next(carnet__backoff *b, uint32_t rnd) {
  uint64_t d = b->start_ms;
  /* Doubling stops at max: no shift can overflow, whatever the count. */
  for (uint32_t i = 0; i < b->failures && d < b->max_ms; i++)
    d *= 2;
  if (d > b->max_ms) d = b->max_ms;
  if (b->failures < UINT32_MAX) b->failures++;
  uint64_t half = d / 2;
  /* Uniform in [half, d]: rnd scaled to the span + 1 values. */
  uint64_t delay = half + (((uint64_t)rnd * (d - half + 1)) >> 32);
  return delay ? (uint32_t)delay : 1u;
}

void carnet__backoff_reset(carnet__backoff *b) {
  b->failures = 0;
}
