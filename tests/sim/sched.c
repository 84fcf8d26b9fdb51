/* tests/sim/sched.c - the random phase of a run: one event per step, drawn
 * from the run's seeded generator (see sim.h).
 *
 * Every step moves the global time (mostly milliseconds, sometimes tens of
 * seconds so that pings and timeouts fire) and every replica's clock at its
 * own rate, with rare steps back or forward; restarts replicas whose crash
 * is over; then one event: a local operation, bytes moved on a connection
 * (in chunks of any size), a flush of every connection, a dial, a cut, a
 * partition or its heal, a crash. Every session is ticked each step, and
 * sessions that ended are reaped.
 */
#include <stdio.h>

#include "sim/sim.h"

static int up_count(const sim *s) {
  int k = 0;
  for (int i = 0; i < s->n; i++)
    k += s->rep[i].r != NULL;
  return k;
}

static int random_up(sim *s) {
  int k = up_count(s);
  if (!k) return -1;
  int x = (int)trng_below(&s->g, (uint32_t)k);
  for (int i = 0; i < s->n; i++)
    if (s->rep[i].r && x-- == 0) return i;
  return -1;
}

static uint64_t random_dt(sim *s) {
  unsigned x = trng_below(&s->g, 100);
  if (x < 60) return trng_below(&s->g, 50);
  if (x < 92) return 50 + trng_below(&s->g, 450);
  return 1000 + trng_below(&s->g, 25000);
}

static int flush_all(sim *s) {
  for (int pass = 0; pass < 3; pass++)
    for (int c = 0; c < s->nconn; c++)
      if (net_move(s, c, 0, 0) < 0 || net_move(s, c, 1, 0) < 0) return -1;
  return 0;
}

static void partition(sim *s) {
  bool split = false;
  for (int i = 0; i < s->n; i++)
    split |= s->rep[i].part != 0;
  if (split) { /* heal */
    for (int i = 0; i < s->n; i++)
      s->rep[i].part = 0;
    s->st.heals++;
    return;
  }
  unsigned k = 2 + trng_below(&s->g, 2);
  for (int i = 0; i < s->n; i++)
    s->rep[i].part = (int)trng_below(&s->g, k);
  s->st.partitions++;
}

static int one_event(sim *s) {
  unsigned ev = trng_below(&s->g, 100);
  if (ev < 45) {
    int ri = random_up(s);
    return ri < 0 ? 0 : ops_run_one(s, ri);
  }
  if (ev < 75) {
    if (!s->nconn) return 0;
    int c = (int)trng_below(&s->g, (uint32_t)s->nconn), d = (int)trng_below(&s->g, 2);
    size_t max = trng_chance(&s->g, 50) ? 0 : 1 + trng_below(&s->g, 4096);
    return net_move(s, c, d, max) < 0 ? -1 : 0;
  }
  if (ev < 80) return flush_all(s);
  if (ev < 88) {
    int a = random_up(s), b = random_up(s);
    if (a < 0 || a == b) return 0;
    return net_dial(s, a, b, trng_chance(&s->g, 25)) < 0 ? -1 : 0;
  }
  if (ev < 91) {
    if (s->nconn) net_cut(s, (int)trng_below(&s->g, (uint32_t)s->nconn), trng_chance(&s->g, 50));
    return 0;
  }
  if (ev < 93) {
    partition(s);
    return 0;
  }
  if (ev < 94 && up_count(s) > 2) return world_crash(s, random_up(s));
  return 0;
}

int sched_run(sim *s) {
  for (s->step = 0; s->step < s->cfg.steps; s->step++) {
    s->st.steps++;
    world_clocks(s, random_dt(s), true);
    for (int i = 0; i < s->n; i++)
      if (!s->rep[i].r && s->step >= s->rep[i].up_at && world_restart(s, i)) return -1;
    if (one_event(s) || net_tick_all(s) || net_reap(s)) return -1;
    if (s->failed) return -1;
  }
  return 0;
}
