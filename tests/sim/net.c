/* tests/sim/net.c - the simulated network (see sim.h).
 *
 * A connection is two sessions joined by two byte streams, like TCP: bytes
 * arrive in order, in chunks of any size, or not at all once the stream is
 * cut. A partition pauses a link (bytes wait, as TCP retransmits); a cut
 * loses what was in flight and either tells both sides at once (RST) or
 * leaves them to their timeouts. A session that ends has its last bytes
 * flushed when the link is up, then its peer sees EOF.
 *
 * A session may fail only for a reason the network gave it: an EOF we
 * delivered, or a timeout while its peer was really silent. Any other
 * failure (a refused batch, a protocol error, a timeout while bytes were
 * flowing) fails the run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

#define SIM_BATCH_BYTES 2048
#define HEAL_ROUNDS_MAX 4000

static carnet_session **side(simconn *c, int d) {
  return d ? &c->sb : &c->sa;
}

static int side_rep(const simconn *c, int d) {
  return d ? c->b : c->a;
}

static uint64_t now_of(const sim *s, int i) {
  return s->rep[i].env.now_ms;
}

bool net_link_up(const sim *s, int a, int b) {
  return s->rep[a].part == s->rep[b].part && !s->rep[a].off_until && !s->rep[b].off_until;
}

bool net_edge(const sim *s, int a, int b) {
  if (a == b) return false;
  if (a > b) {
    int t = a;
    a = b;
    b = t;
  }
  switch (s->cfg.topo) {
  case SIM_TOPO_STAR:
    return a == 0;
  case SIM_TOPO_MIXED:
    return b <= 2 || a == 0 || (b >= 3 && (b % 2) == 0 && a == b - 1);
  default:
    return true;
  }
}

int net_find(const sim *s, int a, int b) {
  for (int c = 0; c < s->nconn; c++)
    if (s->conn[c].a == a && s->conn[c].b == b) return c;
  return -1;
}

int net_dial(sim *s, int a, int b, bool once) {
  if (a == b || !s->rep[a].r || !s->rep[b].r || !net_link_up(s, a, b) || !net_edge(s, a, b) ||
      net_find(s, a, b) >= 0 || s->nconn >= SIM_MAXCONN)
    return 0;
  simconn *c = &s->conn[s->nconn];
  memset(c, 0, sizeof *c);
  c->a = a;
  c->b = b;
  c->once = once;
  /* Small batches and windows, so streams are split and acknowledgements
   * interleave with batches. */
  carnet_session_opts oa = {.initiator = true,
                            .once = once,
                            .batch_bytes = SIM_BATCH_BYTES,
                            .window = 1 + trng_below(&s->g, 4)};
  carnet_session_opts ob = {
      .initiator = false, .batch_bytes = SIM_BATCH_BYTES, .window = 1 + trng_below(&s->g, 4)};
  /* Receive groups cut by their page estimate too (a few pages: these
   * replicas are small), without a draw that would change every seed. */
  oa.rx_group_pages = 6 * ob.window;
  ob.rx_group_pages = 6 * oa.window;
  int rc = carnet_session_new(s->rep[a].r, &oa, now_of(s, a), &c->sa);
  if (rc == 0) rc = carnet_session_new(s->rep[b].r, &ob, now_of(s, b), &c->sb);
  if (rc) {
    carnet_session_free(c->sa);
    return sim_fail(s, "carnet_session_new r%d->r%d: %s", a, b, carnet_error_name(rc));
  }
  c->rx_g[0] = c->rx_g[1] = s->gtime;
  s->nconn++;
  s->st.dials++;
  return 1;
}

int net_move(sim *s, int ci, int d, size_t max) {
  simconn *c = &s->conn[ci];
  carnet_session *from = *side(c, d), *to = *side(c, !d);
  if (!from || !net_link_up(s, c->a, c->b)) return 0;
  carnet_buf o = carnet_session_output(from);
  if (c->silent) { /* written into a dead connection: lost */
    carnet_session_sent(from, o.len);
    return 0;
  }
  size_t n = max && max < o.len ? max : o.len;
  if (n == 0) return 0;
  uint8_t *copy = malloc(n);
  if (!copy) return sim_fail(s, "out of memory");
  memcpy(copy, o.base, n);
  carnet_session_sent(from, n);
  s->st.bytes += n;
  s->st.bytes_chunks++;
  if (to) { /* a dead side drops what arrives */
    int dst = side_rep(c, !d);
    if (!carnet_session_get_error(to)) c->rx_g[!d] = s->gtime;
    int rc = carnet_session_input(to, copy, n, now_of(s, dst));
    if (s->cfg.verbose > 1)
      fprintf(stderr, "  step %u r%d->r%d %zu bytes at %" PRIu64 " (%s)\n", s->step, side_rep(c, d),
              dst, n, now_of(s, dst), rc ? carnet_session_errmsg(to) : "ok");
    if (s->cfg.broken && dst == 0 && broken_after_apply(s, dst)) {
      free(copy);
      return -1;
    }
  }
  free(copy);
  return (int)n;
}

int net_tick_all(sim *s) {
  for (int ci = 0; ci < s->nconn; ci++)
    for (int d = 0; d < 2; d++) {
      carnet_session *x = *side(&s->conn[ci], d);
      if (!x || carnet_session_get_error(x)) continue;
      int rc = carnet_session_tick(x, now_of(s, side_rep(&s->conn[ci], d)));
      if (rc && s->cfg.verbose > 1)
        fprintf(stderr, "  step %u r%d's session with r%d at %" PRIu64 ": %s\n", s->step,
                side_rep(&s->conn[ci], d), side_rep(&s->conn[ci], !d),
                now_of(s, side_rep(&s->conn[ci], d)), carnet_session_errmsg(x));
    }
  return 0;
}

/* Why did this session fail? Only the network's doing is allowed. */
static int judge(sim *s, simconn *c, int d) {
  carnet_session *x = *side(c, d);
  int err = carnet_session_get_error(x);
  int me = side_rep(c, d), peer = side_rep(c, !d);
  if (carnet_session_get_state(x) != CARNET_SESSION_FAILED) return 0;
  s->st.session_fail++;
  if (c->eof[d]) return 0;
  if (err == CARNET_ELIMIT) {
    /* A timeout must mean silence: the peer's bytes stopped reaching us for
     * the timeout at the slowest clock (0.7x), unless our clock jumped
     * forward since. A message relayed from the peer ("the peer ended the
     * session") is judged on the peer's side. */
    const char *m = carnet_session_errmsg(x);
    bool relayed = strncmp(m, "the peer ended", 14) == 0;
    /* The handshake's deadline runs from its start, whatever arrives. */
    bool handshake = strncmp(m, "handshake failed", 16) == 0;
    uint64_t quiet = s->gtime - c->rx_g[d];
    if (relayed || handshake || c->silent || quiet >= 40000 || s->rep[me].fwd_g >= c->rx_g[d])
      return 0;
    return sim_fail(s,
                    "session r%d<->r%d (r%d's side) timed out though bytes arrived %" PRIu64
                    " ms ago (global time); its clock stepped back %u time(s): %s",
                    c->a, c->b, me, quiet, s->rep[me].clock_back, m);
  }
  /* --revoke: a revoked replica is refused, before or during a session. */
  if (err == CARNET_EPERM && revoke_may_refuse(s, me, peer)) return 0;
  return sim_fail(s, "session r%d<->r%d (r%d's side, peer r%d) failed: %s: %s", c->a, c->b, me,
                  peer, carnet_error_name(err), carnet_session_errmsg(x));
}

static void end_side(sim *s, simconn *c, int d) {
  carnet_session *x = *side(c, d);
  carnet_session_stats st;
  carnet_session_get_stats(x, &st);
  s->st.cells_applied += st.cells_applied;
  s->st.cells_in += st.cells_in;
  if (carnet_session_get_state(x) == CARNET_SESSION_CLOSED) s->st.session_closed++;
  carnet_session_free(x);
  *side(c, d) = NULL;
}

static void remove_conn(sim *s, int ci) {
  s->conn[ci] = s->conn[s->nconn - 1];
  s->nconn--;
}

int net_reap(sim *s) {
  for (int ci = 0; ci < s->nconn;) {
    simconn *c = &s->conn[ci];
    bool up = net_link_up(s, c->a, c->b);
    for (int d = 0; d < 2; d++)
      if (*side(c, d) && judge(s, c, d)) return -1;
    for (int d = 0; d < 2; d++) {
      carnet_session *x = *side(c, d);
      if (!x) continue;
      carnet_session_state st = carnet_session_get_state(x);
      if (st != CARNET_SESSION_FAILED && st != CARNET_SESSION_CLOSED) continue;
      /* Its last bytes (an ERROR, a BYE) go out, then the connection closes. */
      if (up && *side(c, !d) && net_move(s, ci, d, 0) < 0) return -1;
      end_side(s, c, d);
      c = &s->conn[ci];
    }
    for (int d = 0; d < 2; d++) {
      carnet_session *x = *side(c, d);
      if (!x || *side(c, !d) || !up || c->silent) continue;
      c->eof[d] = true;
      (void)carnet_session_eof(x);
      if (judge(s, c, d)) return -1;
      end_side(s, c, d);
    }
    if (!c->sa && !c->sb)
      remove_conn(s, ci);
    else
      ci++;
  }
  return 0;
}

void net_cut(sim *s, int ci, bool rst) {
  simconn *c = &s->conn[ci];
  s->st.cuts++;
  if (rst) s->st.rst_cuts++;
  for (int d = 0; d < 2; d++) {
    carnet_session *x = *side(c, d);
    if (!x) continue;
    /* What was written and not yet delivered is lost. */
    carnet_buf o = carnet_session_output(x);
    carnet_session_sent(x, o.len);
    if (rst) {
      c->eof[d] = true;
      (void)carnet_session_eof(x);
    }
  }
  if (!rst) {
    /* Nothing arrives any more, and neither side is told: each times out.
     * Modelled as both sides gone silent: the connection stays until both
     * sessions fail by their own timers. */
    c->silent = true;
  }
}

void net_drop_replica(sim *s, int i, bool rst) {
  for (int ci = 0; ci < s->nconn; ci++) {
    simconn *c = &s->conn[ci];
    for (int d = 0; d < 2; d++) {
      if (side_rep(c, d) != i || !*side(c, d)) continue;
      end_side(s, c, d);
      if (!rst) c->silent = true;
    }
  }
}

void net_traffic(const sim *s, unsigned long long *in, unsigned long long *applied) {
  *in = s->st.cells_in;
  *applied = s->st.cells_applied;
  for (int ci = 0; ci < s->nconn; ci++)
    for (int d = 0; d < 2; d++) {
      carnet_session *x = d ? s->conn[ci].sb : s->conn[ci].sa;
      if (!x) continue;
      carnet_session_stats st;
      carnet_session_get_stats(x, &st);
      *in += st.cells_in;
      *applied += st.cells_applied;
    }
}

void net_free(sim *s) {
  for (int ci = 0; ci < s->nconn; ci++) {
    carnet_session_free(s->conn[ci].sa);
    carnet_session_free(s->conn[ci].sb);
  }
  s->nconn = 0;
}

/* Nothing moves: every pair has a live session on both sides, idle, with
 * nothing to send. */
static bool quiet(sim *s) {
  for (int ci = 0; ci < s->nconn; ci++) {
    simconn *c = &s->conn[ci];
    for (int d = 0; d < 2; d++) {
      carnet_session *x = *side(c, d);
      if (!x || carnet_session_get_state(x) != CARNET_SESSION_IDLE || carnet_session_output(x).len)
        return false;
    }
  }
  for (int a = 0; a < s->n; a++)
    for (int b = a + 1; b < s->n; b++)
      if (net_edge(s, a, b) && net_find(s, a, b) < 0 && net_find(s, b, a) < 0) return false;
  return true;
}

int net_heal_quiesce(sim *s) {
  int rc = net_heal_rounds(s, HEAL_ROUNDS_MAX);
  if (rc <= 0)
    return rc < 0 ? -1
                  : sim_fail(s, "no quiescence after %d heal rounds (%d connections)",
                             HEAL_ROUNDS_MAX, s->nconn);
  return 0;
}

int net_heal_rounds(sim *s, unsigned max) {
  for (int i = 0; i < s->n; i++) {
    if (world_restart(s, i)) return -1;
    s->rep[i].part = 0;
    s->rep[i].off_until = 0;
  }
  /* Half-dead connections learn it now (the restarted peer answers a RST). */
  for (int ci = 0; ci < s->nconn; ci++) {
    simconn *c = &s->conn[ci];
    if (!c->sa || !c->sb || c->silent) {
      for (int d = 0; d < 2; d++) {
        carnet_session *x = *side(c, d);
        if (!x) continue;
        c->eof[d] = true;
        (void)carnet_session_eof(x);
      }
      c->silent = false;
    }
  }
  if (net_reap(s)) return -1;
  int calm = 0;
  for (unsigned round = 0; round < max; round++) {
    s->st.heal_rounds++;
    for (int a = 0; a < s->n; a++)
      for (int b = a + 1; b < s->n; b++)
        if (net_edge(s, a, b) && net_find(s, a, b) < 0 && net_find(s, b, a) < 0 &&
            net_dial(s, a, b, false) < 0)
          return -1;
    for (int ci = 0; ci < s->nconn; ci++)
      for (int k = 0; k < 8; k++) {
        int m0 = net_move(s, ci, 0, 0), m1 = net_move(s, ci, 1, 0);
        if (m0 < 0 || m1 < 0) return -1;
        if (m0 == 0 && m1 == 0) break;
      }
    world_clocks(s, 100, false);
    if (net_tick_all(s) || net_reap(s)) return -1;
    calm = quiet(s) ? calm + 1 : 0;
    if (calm >= 3) return 1;
  }
  return 0;
}
