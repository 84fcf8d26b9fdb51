/* tests/sim/sim.h - the deterministic simulation (carnet-sim).
 *
 * One process drives N replicas (3..7, or up to 50 with --replicas) through
 * the real engine and the real
 * sync sessions (carnet/sync.h) over a simulated network, with a scheduler
 * seeded by one number: same seed, same run, same digests.
 *
 * Modules, each small:
 *   sim.c     arguments, the seed loop, failure reporting and the replay line
 *   world.c   replicas: directories, injected clocks (skew, rate, steps back),
 *             crash (handle closed mid-session) and restart from LMDB
 *   net.c     connections: two sessions joined by byte streams that can be
 *             chunked, paused by a partition, cut, or half-killed by a crash;
 *             the heal that syncs every pair to quiescence
 *   sched.c   the random phase: one event per step (local op, bytes moved,
 *             dial, cut, partition, heal, crash, restart, clock step)
 *   ops.c     the table of local operations, and those on customers
 *             (fields, sets, phones, consents, deletes)
 *   ops_doc.c merges, unmerges, dismissals, documents (ops.h: shared)
 *   model.c   what every acknowledged write must leave behind
 *   checks.c  the checks after the heal (sim.c: the bound on wasted traffic
 *             with --topology)
 *   erase.c   the erasure operation and what it must leave (checks 5)
 *   revoke.c  --revoke: a replica removes a peer (revoked for the team), and
 *             the heal overrides every revocation so the checks still hold
 *   broken.c  the deliberately broken merge (--broken) that proves the
 *             checks catch a non-commutative rule
 *
 * Nothing here is global: a run is one `sim` value, so two runs of one seed
 * can be compared in one process (--twice).
 */
#ifndef CARNET_TESTS_SIM_H
#define CARNET_TESTS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/carnet.h"
#include "carnet/merge.h"
#include "support/testenv.h"

#define SIM_MAXR 50                             /* --replicas; a seed draws 3..7 by itself */
#define SIM_MAXCONN (SIM_MAXR * (SIM_MAXR - 1)) /* one per ordered pair */

/* Who may connect to whom (--topology). ANY is the historical run: every
 * pair, and no draw of the topologies' own events, so old seeds replay. */
typedef enum sim_topo {
  SIM_TOPO_ANY = 0,
  SIM_TOPO_STAR = 1,  /* replica 0 is the office hub; every other is a laptop linked to it */
  SIM_TOPO_MESH = 2,  /* every pair, with laptops offline for long stretches and hub crashes */
  SIM_TOPO_MIXED = 3, /* replicas 0..2 an office meshed together; laptops linked to the hub
                         (0), and laptops 2k+1 and 2k+2 (k >= 1) to each other (two
                         devices of one person) */
} sim_topo;

typedef struct sim sim;

/* --- failure -------------------------------------------------------------- */

/* Record the first failure of the run (later ones are dropped) and return
 * -1, so callers write `return sim_fail(s, ...)` and propagate. */
int sim_fail(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- replicas (world.c) ---------------------------------------------------- */

typedef struct simrep {
  char *dir;
  tenv env;
  carnet_replica *r; /* NULL while crashed */
  uint64_t id;
  int64_t rate_pm;             /* clock speed, per mille of the global time */
  int part;                    /* partition component; links join equal ones */
  uint64_t up_at;              /* crashed: step at which it restarts */
  uint64_t fwd_g;              /* global time of its clock's last step forward */
  uint8_t pk[CARNET_PK_BYTES]; /* its identity key (--revoke) */
  uint64_t off_until;          /* a laptop offline (no link) until this step; 0: online */
  unsigned crashes, restarts, clock_back;
} simrep;

int world_init(sim *s);
void world_free(sim *s);
/* Advance global time by `dt` ms and every replica's clock by its rate;
 * sometimes a clock steps back (minutes) or forward (an hour). */
void world_clocks(sim *s, uint64_t dt, bool jumps);
int world_crash(sim *s, int i);
int world_restart(sim *s, int i);

/* --- network (net.c) ------------------------------------------------------- */

typedef struct simconn {
  int a, b;                /* a dialled b */
  carnet_session *sa, *sb; /* NULL: that side is gone (crash) */
  bool once;
  bool silent;      /* a side died without a RST: the other times out */
  bool eof[2];      /* EOF given to side a / b */
  uint64_t rx_g[2]; /* global time of the last bytes side a / b received */
} simconn;

int net_dial(sim *s, int a, int b, bool once);
/* Move up to `max` bytes (0: all) one way on connection `c`; a paused link
 * (partition) moves nothing. */
int net_move(sim *s, int c, int dir, size_t max);
int net_tick_all(sim *s);
/* Cut connection `c`: `rst` tells both sides at once (EOF), else the bytes
 * in flight are lost and the sessions time out. */
void net_cut(sim *s, int c, bool rst);
/* The replica crashed: its side of each connection is gone. */
void net_drop_replica(sim *s, int i, bool rst);
/* End connections whose sessions have ended; returns 0 or a failure. */
int net_reap(sim *s);
bool net_link_up(const sim *s, int a, int b);
/* Whether the topology has a link between `a` and `b` (either way). */
bool net_edge(const sim *s, int a, int b);
int net_find(const sim *s, int a, int b);
/* Cells received so far by every session, ended or live, and those of them
 * that changed the receiver's state. */
void net_traffic(const sim *s, unsigned long long *in, unsigned long long *applied);
/* Every replica up, every link up, every pair connected, bytes moved and
 * sessions ticked until nothing moves. */
int net_heal_quiesce(sim *s);
/* The same, at most `max` rounds: 1 quiet, 0 not yet, -1 a failure. */
int net_heal_rounds(sim *s, unsigned max);
void net_free(sim *s);

/* --- the model (model.c) --------------------------------------------------- */

typedef enum sim_ent_kind { SIM_CUSTOMER = 1, SIM_DOCUMENT = 2 } sim_ent_kind;

typedef struct sim_ent {
  carnet_id id;
  sim_ent_kind kind;
  int creator;
  bool erased;    /* an erasure of it was acknowledged (SIM_L_ERASE) */
  uint32_t owner; /* a document: its customer */
} sim_ent;

/* An acknowledged write of a tracked value. */
typedef enum sim_lkind {
  SIM_L_NOTES = 1, /* scalar: the value of the greatest stamp wins */
  SIM_L_TAG = 2,   /* set element add (present) or remove */
  SIM_L_EMAIL = 3,
  SIM_L_PHONE = 4,   /* a unique number added (present) or taken away */
  SIM_L_CONSENT = 5, /* a consent event that must be in the log */
  SIM_L_DELETE = 6,
  SIM_L_ERASE = 7, /* the customer erased (carnet_record_erase): stamp of its certificate */
} sim_lkind;

typedef struct sim_ledger {
  uint32_t ent;
  uint8_t kind; /* sim_lkind */
  bool present;
  uint8_t channel; /* consent */
  char val[48];
  carnet_hlc hlc;
  uint64_t origin;
} sim_ledger;

typedef struct sim_number {
  int replica;
  uint32_t ent;
  char num[CARNET_NUMBER_MAX];
} sim_number;

uint32_t model_ent_add(sim *s, const carnet_id *id, sim_ent_kind kind, int creator);
/* Whether entity `e` is an erased customer or a document of one. */
bool model_erased(const sim *s, uint32_t e);
void model_log(sim *s, const sim_ledger *l);
void model_number(sim *s, int replica, uint32_t ent, const char *num);
/* A merge acknowledged (for unmerges to undo later). */
void model_merged(sim *s, uint32_t keep, uint32_t other);
void model_free(sim *s);

/* --- operations (ops.c) ---------------------------------------------------- */

/* A local operation on up replica `ri`. Returns 1 when done, 0 when it did
 * not apply (nothing suitable, or an expected refusal such as an entity
 * not received yet), -1 on a failure (sim_fail called). */
typedef int (*sim_op_fn)(sim *s, int ri);

typedef struct sim_op {
  const char *name;
  unsigned weight;
  sim_op_fn fn;
} sim_op;

extern const sim_op SIM_OPS[];
extern const size_t SIM_NOPS;
int ops_run_one(sim *s, int ri);

/* --- broken merge (broken.c) ----------------------------------------------- */

/* In --broken mode, after replica 0 received cells: re-write its own last
 * value of a field a peer overwrote (a "local wins" merge). */
int broken_after_apply(sim *s, int ri);
void broken_note_local(sim *s, uint32_t ent, const char *val);
void broken_free(sim *s);

/* --- the random phase (sched.c) ------------------------------------------- */

int sched_run(sim *s);

/* --- revocations (revoke.c, --revoke only) ---------------------------------- */

/* Replica `ri` removes a random peer: revoked for the team. */
int op_revoke(sim *s, int ri);
/* Whether a session between `a` and `b` may fail with CARNET_EPERM: one of
 * them was revoked by some replica during the run. */
bool revoke_may_refuse(const sim *s, int a, int b);
/* The heal of a --revoke run: every replica overrides every revocation it
 * holds, heal rounds spread the records still on their way (which revoke
 * again where they arrive), and again, until the network is quiet with no
 * revocation biting (the checks then hold as for any run: everybody trusts
 * everybody again). */
int revoke_heal(sim *s);

/* --- checks (checks.c) ----------------------------------------------------- */

int checks_run(sim *s);
/* erase.c: the erasure checks, given every replica's view (checks.c). */
int checks_erasure(sim *s, char *const *views);

/* --- the run ---------------------------------------------------------------- */

typedef struct sim_stats {
  unsigned steps, ops_done, ops_skipped, dials, cuts, rst_cuts, partitions, heals, crashes,
      restarts, clock_jumps, session_fail, session_closed, bytes_chunks, heal_rounds, validations,
      merges, unmerges, dismisses, erases, broken_rewrites, revocations, overrides;
  unsigned long long bytes, cells_applied;
  unsigned long long cells_in; /* cells received by sessions (applied or not) */
  unsigned offline, hub_crashes;
} sim_stats;

typedef struct sim_cfg {
  uint64_t seed;
  int replicas; /* 0: from the seed, 3..7 */
  unsigned steps;
  bool broken;
  bool revoke; /* a revocation now and then (op_revoke) */
  sim_topo topo;
  int verbose;
} sim_cfg;

struct sim {
  sim_cfg cfg;
  trng g; /* the scheduler's decisions */
  uint64_t gtime;
  unsigned step;
  int n;
  char *root;
  simrep rep[SIM_MAXR];
  simconn conn[SIM_MAXCONN];
  int nconn;
  /* model */
  sim_ent *ents;
  size_t nents, capents;
  sim_ledger *led;
  size_t nled, capled;
  sim_number *nums;
  size_t nnums, capnums;
  uint32_t (*merged)[2]; /* pairs merged: keep, other */
  size_t nmerged, capmerged;
  unsigned counter; /* unique values */
  /* broken mode: the last notes replica 0 wrote, per entity */
  char **broken_own;
  uint8_t *broken_count; /* rewrites per entity */
  size_t nbroken_own;
  unsigned long long cells_seen[SIM_MAXR];
  uint64_t revoked_mask; /* replicas revoked by some op_revoke */
  /* outcome */
  bool failed;
  char why[2048];
  uint8_t digest[32];
  sim_stats st;
};

int sim_run(const sim_cfg *cfg, sim *out);
/* The bound on wasted traffic (sim.c), after the heal. */
int check_waste(sim *s);
void sim_free(sim *s);

#define SIM_PICK(s, arr) (arr[trng_below(&(s)->g, (uint32_t)(sizeof(arr) / sizeof(arr[0])))])

#endif
