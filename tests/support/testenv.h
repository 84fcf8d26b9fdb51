/* tests/support/testenv.h - what every engine test needs to be deterministic
 * and to clean up after itself.
 *
 * - tdir_*: a fresh scratch directory per test (under $CARNET_TEST_TMP, else
 *   /tmp), removed recursively at the end.
 * - tenv: an injected world for one replica: a manual wall clock (settable,
 *   advanceable, may go backwards) and a splitmix64 random source, exposed to
 *   the library as a carnet_env. Nothing in it is global, so several replicas
 *   with different clocks live in one process (STYLE 16).
 * - trng: a small seeded PRNG for the test's own decisions, kept apart from
 *   the replicas' random sources so a test decision never shifts the bytes a
 *   replica draws.
 * - targ_seed: parse `--seed=N` from a test's argv to replay one run.
 */
#ifndef CARNET_TESTS_TESTENV_H
#define CARNET_TESTS_TESTENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/types.h"

/* --- Scratch directories ------------------------------------------------ */

/* Brief: make a fresh empty directory named after `label` (letters, digits,
 * '-', '_') under $CARNET_TEST_TMP (created if needed) or /tmp. Returns a
 * malloc'd absolute-or-relative path (free()), or NULL on failure. */
char *tdir_new(const char *label);

/* Brief: remove `path` and everything below it (symlinks are removed, never
 * followed). Returns 0, or -1 when something could not be removed. NULL is a
 * no-op. */
int tdir_remove(const char *path);

/* Brief: "dir/name" in a malloc'd string (free()), or NULL on ENOMEM. */
char *tdir_join(const char *dir, const char *name);

/* --- Splitmix64 ------------------------------------------------------------ */

/* One step of splitmix64: advances *state and returns the next output. */
uint64_t tsplitmix64(uint64_t *state);

/* --- Deterministic environment for a replica ------------------------------ */

typedef struct tenv {
  uint64_t now_ms;         /* what the replica's wall clock reads */
  uint64_t rand_state;     /* splitmix64 state of the replica's random source */
  int log_max;             /* lines with level <= log_max go to stderr */
  unsigned long logged[4]; /* lines received per level (ERROR..DEBUG) */
  const char *name;        /* prefix of printed log lines (may be NULL) */
  uint64_t clock_reads;
  uint64_t random_bytes;
} tenv;

/* Brief: a clock at `start_ms` and a random source seeded with `seed`.
 * Log lines are counted; only errors are printed, unless the environment
 * variable CARNET_TEST_LOG is set to a level number (0..3). */
void tenv_init(tenv *e, uint64_t start_ms, uint64_t seed);

/* Brief: fill `out` with callbacks reading `e`. The replica copies the
 * carnet_env but keeps the pointer to `e`: `e` must outlive the replica. */
void tenv_fill(tenv *e, carnet_env *out);

static inline void tenv_set_ms(tenv *e, uint64_t ms) {
  e->now_ms = ms;
}
static inline void tenv_advance_ms(tenv *e, uint64_t ms) {
  e->now_ms += ms;
}

/* A fixed, plausible "now" for tests: 2024-03-01T09:00:00Z. */
#define TENV_EPOCH_MS 1709283600000ull

/* --- Test PRNG ------------------------------------------------------------- */

typedef struct trng {
  uint64_t s;
} trng;

void trng_seed(trng *g, uint64_t seed);
uint64_t trng_next(trng *g);
/* Uniform in [0, n); n must be > 0. */
uint32_t trng_below(trng *g, uint32_t n);
/* Uniform in [lo, hi] (inclusive). */
int64_t trng_range(trng *g, int64_t lo, int64_t hi);
/* True with probability percent/100. */
bool trng_chance(trng *g, unsigned percent);
/* Fisher-Yates shuffle of n elements of `size` bytes each (size <= 256). */
void trng_shuffle(trng *g, void *base, size_t n, size_t size);
/* Fill buf with random bytes. */
void trng_bytes(trng *g, void *buf, size_t len);

/* --- Arguments ------------------------------------------------------------- */

/* Brief: look for `--seed=N` (decimal or 0x hex) in argv. Returns true and
 * stores N in *out when found and valid; false otherwise (*out untouched). */
bool targ_seed(int argc, char **argv, uint64_t *out);

/* Brief: look for `--NAME=N` and return N, or `dflt` when absent. */
uint64_t targ_u64(int argc, char **argv, const char *name, uint64_t dflt);

#endif
