/* tests/sim/world.c - the replicas of a run: directories, injected clocks,
 * crashes and restarts (see sim.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/sim.h"

/* Replica directories live on tmpfs when there is one: every commit
 * fsyncs, and thousands of seeds would otherwise wait on the disk.
 * CARNET_SIM_TMP overrides. */
static char *make_root(uint64_t seed) {
  const char *base = getenv("CARNET_SIM_TMP");
  struct stat st;
  if (!base || !*base)
    base = (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
               ? "/dev/shm"
               : NULL;
  char label[48];
  snprintf(label, sizeof label, "carnet-sim-%" PRIu64, seed);
  if (!base) return tdir_new(label);
  size_t n = strlen(base) + strlen(label) + 16;
  char *p = malloc(n);
  if (!p) return NULL;
  snprintf(p, n, "%s/%s-XXXXXX", base, label);
  if (!mkdtemp(p)) {
    free(p);
    return tdir_new(label);
  }
  return p;
}

static int open_one(sim *s, int i, bool init) {
  simrep *r = &s->rep[i];
  carnet_env ce;
  char err[256] = "";
  tenv_fill(&r->env, &ce);
  int rc = init ? carnet_replica_init(r->dir, &ce, &r->r, err, sizeof err)
                : carnet_replica_open(r->dir, &ce, &r->r, err, sizeof err);
  if (rc)
    return sim_fail(s, "carnet_replica_%s(r%d): %s: %s", init ? "init" : "open", i,
                    carnet_error_name(rc), err);
  if (!init && carnet_replica_id(r->r) != r->id)
    return sim_fail(s, "r%d reopened with another replica id", i);
  r->id = carnet_replica_id(r->r);
  return 0;
}

/* Replica ids come from the seeded random source; two replicas with one tag
 * may not sync (sessions are refused), so a colliding one is made again
 * with another seed, deterministically. */
static bool tag_taken(const sim *s, int i) {
  for (int j = 0; j < i; j++)
    if ((s->rep[j].id >> 44) == (s->rep[i].id >> 44)) return true;
  return false;
}

int world_init(sim *s) {
  s->root = make_root(s->cfg.seed);
  if (!s->root) return sim_fail(s, "cannot make a scratch directory");
  s->gtime = TENV_EPOCH_MS;
  for (int i = 0; i < s->n; i++) {
    simrep *r = &s->rep[i];
    char name[16];
    snprintf(name, sizeof name, "r%d", i);
    r->dir = tdir_join(s->root, name);
    if (!r->dir) return sim_fail(s, "out of memory");
    /* Skews of up to three hours either way, clocks at 0.7x..1.5x. */
    int64_t skew = trng_range(&s->g, -3 * 3600 * 1000, 3 * 3600 * 1000);
    if (i > 0 && trng_chance(&s->g, 25)) skew = 0; /* equal stamps across origins */
    r->rate_pm = trng_range(&s->g, 700, 1500);
    for (uint64_t salt = 0;; salt++) {
      tenv_init(&r->env, (uint64_t)((int64_t)s->gtime + skew),
                s->cfg.seed * 1000003u + (uint64_t)i * 7919u + salt * 104729u + 1);
      r->env.name = r->dir;
      if (open_one(s, i, true)) return -1;
      if (!tag_taken(s, i)) break;
      carnet_replica_close(r->r);
      r->r = NULL;
      tdir_remove(r->dir);
      if (salt > 8) return sim_fail(s, "replica tags keep colliding");
    }
  }
  /* One team, everybody trusts everybody (what invite/join leaves). */
  uint8_t team[CARNET_TEAM_BYTES], pk[SIM_MAXR][CARNET_PK_BYTES];
  int rc = carnet_replica_get_identity(s->rep[0].r, pk[0], team);
  for (int i = 1; rc == 0 && i < s->n; i++) {
    rc = carnet_replica_get_identity(s->rep[i].r, pk[i], NULL);
    if (rc == 0) rc = carnet_replica_set_team(s->rep[i].r, team);
  }
  for (int i = 0; rc == 0 && i < s->n; i++)
    for (int j = 0; rc == 0 && j < s->n; j++)
      if (i != j) rc = carnet_peer_trust(s->rep[i].r, pk[j], NULL);
  for (int i = 0; i < s->n; i++)
    memcpy(s->rep[i].pk, pk[i], CARNET_PK_BYTES);
  if (rc) return sim_fail(s, "team setup: %s", carnet_error_name(rc));
  return 0;
}

void world_free(sim *s) {
  for (int i = 0; i < s->n; i++) {
    carnet_replica_close(s->rep[i].r);
    s->rep[i].r = NULL;
    free(s->rep[i].dir);
    s->rep[i].dir = NULL;
  }
  if (s->root) tdir_remove(s->root);
  free(s->root);
  s->root = NULL;
}

void world_clocks(sim *s, uint64_t dt, bool jumps) {
  s->gtime += dt;
  for (int i = 0; i < s->n; i++) {
    simrep *r = &s->rep[i];
    r->env.now_ms += (uint64_t)((int64_t)dt * r->rate_pm / 1000);
    if (!jumps || !trng_chance(&s->g, 1) || !trng_chance(&s->g, 50)) continue;
    s->st.clock_jumps++;
    uint64_t before = r->env.now_ms;
    if (trng_chance(&s->g, 70)) {
      r->env.now_ms -= (uint64_t)trng_range(&s->g, 1000, 30 * 60 * 1000); /* NTP steps back */
      r->clock_back++;
    } else {
      r->env.now_ms += (uint64_t)trng_range(&s->g, 1000, 3600 * 1000);
      r->fwd_g = s->gtime;
    }
    if (s->cfg.verbose > 1)
      fprintf(stderr, "  step %u r%d clock %+" PRId64 " ms\n", s->step, i,
              (int64_t)(r->env.now_ms - before));
  }
}

int world_crash(sim *s, int i) {
  simrep *r = &s->rep[i];
  if (!r->r) return 0;
  /* The process dies: its sessions vanish without a BYE; a peer sees a RST
   * at once or, on a dead link, nothing until its timeout. */
  net_drop_replica(s, i, trng_chance(&s->g, 50));
  carnet_replica_close(r->r);
  r->r = NULL;
  r->up_at = s->step + 5 + trng_below(&s->g, 60);
  r->crashes++;
  s->st.crashes++;
  return 0;
}

int world_restart(sim *s, int i) {
  simrep *r = &s->rep[i];
  if (r->r) return 0;
  if (open_one(s, i, false)) return -1;
  r->restarts++;
  s->st.restarts++;
  return 0;
}
