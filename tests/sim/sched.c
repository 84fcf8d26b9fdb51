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
 *
 * With --topology (star, mesh, mixed: a team), dials follow the topology's
 * links, a replica redials one of its links now and then as a serve with
 * --peer does, laptops go offline for long stretches (their connections
 * cut, no link until they come back), and the hub (replica 0) crashes
 * now and then. Without it, no draw of these is made: old seeds replay.
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

/* A random neighbour of `a` in the topology, or -1. */
static int random_edge(sim *s, int a) {
  int k = 0;
  for (int i = 0; i < s->n; i++)
    k += net_edge(s, a, i);
  if (!k) return -1;
  int x = (int)trng_below(&s->g, (uint32_t)k);
  for (int i = 0; i < s->n; i++)
    if (net_edge(s, a, i) && x-- == 0) return i;
  return -1;
}

/* A laptop (not the office: replica 0, and 1..2 in a mixed team) leaves for
 * a long stretch: its connections are cut, its links down until it comes
 * back. It still writes meanwhile. */
static void go_offline(sim *s) {
  int first = s->cfg.topo == SIM_TOPO_MIXED ? 3 : 1;
  if (s->n <= first) return;
  int i = first + (int)trng_below(&s->g, (uint32_t)(s->n - first));
  if (s->rep[i].off_until) return;
  for (int c = 0; c < s->nconn; c++)
    if (s->conn[c].a == i || s->conn[c].b == i) net_cut(s, c, trng_chance(&s->g, 50));
  s->rep[i].off_until = s->step + 40 + trng_below(&s->g, s->cfg.steps / 2 + 1);
  s->st.offline++;
}

/* The topologies' own events (sched.c's header). */
static int team_event(sim *s, unsigned ev) {
  if (ev < 97) {
    go_offline(s);
    return 0;
  }
  if (ev < 98 && s->rep[0].r) {
    s->st.hub_crashes++;
    return world_crash(s, 0);
  }
  return 0;
}

/* A serve with --peer redials: one random replica dials one of its links
 * when it has no session on it. */
static int team_redial(sim *s) {
  int a = random_up(s);
  int b = a < 0 ? -1 : random_edge(s, a);
  if (b < 0 || net_find(s, a, b) >= 0 || net_find(s, b, a) >= 0) return 0;
  return net_dial(s, a, b, false) < 0 ? -1 : 0;
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
  if (ev < 88 && s->cfg.topo != SIM_TOPO_ANY) {
    int a = random_up(s);
    int b = a < 0 ? -1 : random_edge(s, a);
    if (b < 0 || !s->rep[b].r) return 0;
    return net_dial(s, a, b, trng_chance(&s->g, 25)) < 0 ? -1 : 0;
  }
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
  if (ev >= 94 && s->cfg.topo != SIM_TOPO_ANY) return team_event(s, ev);
  return 0;
}

int sched_run(sim *s) {
  for (s->step = 0; s->step < s->cfg.steps; s->step++) {
    s->st.steps++;
    world_clocks(s, random_dt(s), true);
    for (int i = 0; i < s->n; i++) {
      if (!s->rep[i].r && s->step >= s->rep[i].up_at && world_restart(s, i)) return -1;
      if (s->rep[i].off_until && s->step >= s->rep[i].off_until) s->rep[i].off_until = 0;
    }
    if (s->cfg.topo != SIM_TOPO_ANY && team_redial(s)) return -1;
    if (one_event(s) || net_tick_all(s) || net_reap(s)) return -1;
    if (s->failed) return -1;
  }
  return 0;
}
