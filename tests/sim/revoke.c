/* tests/sim/revoke.c - revocations in the simulation (--revoke): a replica
 * removes a peer now and then (carnet_peer_remove: its key is revoked for
 * the team, the record travels on every session, and every replica that
 * hears of it ends its sessions with that key: engine/store/revoke.h,
 * protocol/session.c S7). Under partitions, crashes and clocks an hour
 * apart, nothing may crash or fail but the refusals a revocation asks for.
 * The heal then overrides every revocation on every replica (`peer trust
 * --override-revocation`) until none bites, so that the checks hold as for
 * any run; the overrides must stick although every session sends every
 * record again. */
#include <stdio.h>
#include <string.h>

#include "sim/ops.h"
#include "sim/sim.h"

int op_revoke(sim *s, int ri) {
  int rj = (int)trng_below(&s->g, (uint32_t)(s->n - 1));
  if (rj >= ri) rj++;
  int rc = carnet_peer_remove(s->rep[ri].r, s->rep[rj].pk);
  if (rc == CARNET_ENOTFOUND) return 0; /* not trusted here already */
  if (rc) return ops_api_fail(s, ri, "peer remove", rc);
  s->revoked_mask |= 1ull << rj;
  s->st.revocations++;
  /* It bites: ri's live sessions with rj end at their next tick. */
  for (int ci = 0; ci < s->nconn; ci++) {
    simconn *c = &s->conn[ci];
    carnet_session *x = c->a == ri && c->b == rj ? c->sa : c->b == ri && c->a == rj ? c->sb : NULL;
    if (x == NULL) continue;
    carnet_session_state st = carnet_session_get_state(x);
    if (st != CARNET_SESSION_SYNCING && st != CARNET_SESSION_IDLE) continue;
    (void)carnet_session_tick(x, s->rep[ri].env.now_ms);
    if (carnet_session_get_error(x) != CARNET_EPERM)
      return sim_fail(s, "r%d revoked r%d, and its session with it lived on (%s: %s)", ri, rj,
                      carnet_error_name(carnet_session_get_error(x)), carnet_session_errmsg(x));
  }
  if (s->cfg.verbose > 1) fprintf(stderr, "  step %u r%d revokes r%d\n", s->step, ri, rj);
  return 1;
}

bool revoke_may_refuse(const sim *s, int a, int b) {
  return s->cfg.revoke && (s->revoked_mask & (1ull << a | 1ull << b)) != 0;
}

typedef struct override_arg {
  sim *s;
  int ri;
  int n; /* overridden in this pass */
  uint8_t pks[SIM_MAXR][CARNET_PK_BYTES];
} override_arg;

static int collect(const carnet_revocation *rv, void *data) {
  override_arg *a = data;
  if (rv->overridden || memcmp(rv->pk, a->s->rep[a->ri].pk, CARNET_PK_BYTES) == 0) return 0;
  if (a->n < SIM_MAXR) memcpy(a->pks[a->n++], rv->pk, CARNET_PK_BYTES);
  return 0;
}

int revoke_heal(sim *s) {
  for (int round = 0; round < 20; round++) {
    int total = 0;
    for (int i = 0; i < s->n; i++)
      if (world_restart(s, i)) return -1;
    for (int i = 0; i < s->n; i++) {
      override_arg a = {.s = s, .ri = i};
      int rc = carnet_revocation_list(s->rep[i].r, collect, &a);
      if (rc) return ops_api_fail(s, i, "revocation list", rc);
      for (int k = 0; k < a.n; k++)
        if ((rc = carnet_peer_trust_override(s->rep[i].r, a.pks[k], NULL)))
          return ops_api_fail(s, i, "peer trust override", rc);
      total += a.n;
    }
    s->st.overrides += (unsigned)total;
    int q = net_heal_rounds(s, 60);
    if (q < 0) return -1;
    if (q == 1 && total == 0) {
      /* Quiet, nothing was left to override: everybody trusts everybody. */
      for (int i = 0; i < s->n; i++)
        for (int j = 0; j < s->n; j++)
          if (i != j && carnet_peer_check(s->rep[i].r, s->rep[j].pk) != 0)
            return sim_fail(s, "after the overrides r%d still refuses r%d", i, j);
      return 0;
    }
  }
  return sim_fail(s, "revocations still bite after 20 rounds of overrides and heals");
}
