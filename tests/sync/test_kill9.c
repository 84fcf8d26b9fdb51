/* tests/sync/test_kill9.c - kill -9 of the bulk writers (issue 17):
 *
 * - `carnet import` of a CSV file, killed at 20 seeded random moments (8
 *   under AddressSanitizer) and run again each time: after every kill
 *   `carnet check` finds the replica sound (rows, change index and index
 *   consistent), the customers already there are still there (a
 *   committed batch is never lost) and none is there twice; a last run
 *   completes the file, each row imported once;
 * - the receiving `carnet sync` of a first sync, killed at 20 (8) seeded random
 *   moments while it runs and started again each time against the same
 *   `carnet serve`: after every kill the receiver is sound and keeps what
 *   it had (what it acknowledged was committed before), and a last sync
 *   leaves both replicas identical.
 *
 * The kill moments adapt to the machine's speed (kill_rounds).
 *
 * The blind index is derived behind a mark (engine/store/index.c, E3): `carnet
 * dupes` after every kill checks that the catch-up of a replica killed
 * mid-write finds every customer, once. Sizes keep the test to seconds;
 * scripts/kill9-bulk.sh runs the same at 100,000. `--seed=N` replays.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/cliproc.h"
#include "support/testenv.h"

static uint64_t g_seed = 1;

/* Kills per writer. Under AddressSanitizer every run is several times
 * slower and the point of that build is memory errors, not more kill
 * moments: fewer rounds keep `make check` within its budget. */
#if defined(__SANITIZE_ADDRESS__)
enum { KILLS = 8 };
#else
enum { KILLS = 20 };
#endif

/* A CSV of `n` customers, each with its own e-mail and phone. */
static void write_csv(const char *file, unsigned n) {
  static const char *const cities[] = {"Lyon", "Paris", "Nantes", "Lille", "Brest"};
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fprintf(f, "Nom,Courriel,Téléphone,Ville,Code postal\n");
  for (unsigned i = 0; i < n; i++)
    fprintf(f, "Client %05u,client%05u@exemple.fr,01 4%u %02u %02u %02u,%s,%05u\n", i, i,
            i / 1000000, i / 10000 % 100, i / 100 % 100, i % 100, cities[i % 5], 10000 + i % 80000);
  fclose(f);
}

/* The number of distinct customers `carnet dupes` pairs by e-mail: none
 * (each has its own), but the command reads the whole blind index after
 * catching up, so a damaged index or a lost mark shows here. */
static void dupes_none(const char *dir) {
  json_t *d = OKJ(dir, "dupes");
  assert_true(json_is_array(d) || json_is_object(d));
  size_t n = json_is_array(d) ? json_array_size(d) : json_array_size(json_object_get(d, "pairs"));
  if (n != 0) fail_msg("carnet dupes found %zu pairs among distinct customers", n);
  json_decref(d);
}

/* One writer killed again and again. Each round starts `args` in `dir`,
 * kills it after a seeded random delay, then checks the replica: sound
 * (`carnet check`), no customer lost of those seen before the kill, never
 * more than `n`. The delays adapt to the machine (a loaded one runs the
 * writer slower): a round that saw no progress makes the next wait longer;
 * a writer that finished before its kill makes them shorter, and `reset`
 * starts the replica over, so that KILLS kills land while it writes. */
typedef struct killer {
  const char *what, *dir;
  const char *const *args;
  long long n;
  void (*reset)(const char *dir);
  bool need_partial; /* go on until a kill lands between two commits */
} killer;

static void kill_rounds(const killer *k, trng *g) {
  long long have = customer_count(k->dir);
  /* The kill moment is drawn in [lo, hi]: lo a moment seen with nothing
   * written yet, hi one at which the writer had finished. */
  unsigned lo = 10, hi = 800;
  int kills = 0, partial = 0;
  for (int round = 0; kills < KILLS || (k->need_partial && partial == 0); round++) {
    if (round >= 10 * KILLS)
      fail_msg("%s: %d kills mid-write in %d rounds, %d after some progress", k->what, kills, round,
               partial);
    char log[48];
    snprintf(log, sizeof log, "%s%d.log", k->what, round);
    bg *p = bg_spawn(k->args, log);
    unsigned wait = lo + trng_below(g, hi - lo + 1);
    sleep_ms(wait);
    bool alive = bg_alive(p);
    kill(p->pid, SIGKILL);
    int st = bg_wait(p, T(10000));
    OK1(k->dir, "check");
    long long now = customer_count(k->dir);
    printf("# %s round %d: killed after %u ms (%s, exit %d): %lld customers\n", k->what, round,
           wait, alive ? "mid-run" : "done already", st, now);
    if (now < have)
      fail_msg("%s round %d: %lld customers after the kill, %lld before", k->what, round, now,
               have);
    if (now > k->n) fail_msg("%s round %d: %lld customers of %lld", k->what, round, now, k->n);
    if (round % 5 == 4) dupes_none(k->dir);
    kills += alive;
    partial += alive && now > have && now < k->n;
    if (!alive || now == k->n) { /* finished: start over, killed sooner */
      hi = wait > lo + 20 ? wait : lo + 20;
      if (hi - lo <= 20) lo /= 2;
      k->reset(k->dir);
      now = 0;
    } else if (now == have) { /* nothing written yet: kill later */
      lo = wait;
      if (hi < lo + 20) hi = 2 * lo + 20;
    }
    have = now;
  }
  printf("# %s: %d kills mid-run, %d of them after some progress\n", k->what, kills, partial);
}

static const char *g_csv;

static void reset_import(const char *dir) {
  assert_int_equal(tdir_remove(dir), 0);
  init(dir);
}

static void test_kill9_during_import(void **state) {
  (void)state;
  const char *R = path("R"), *csv = path("clients.csv");
  const unsigned n = 4000;
  trng g;
  trng_seed(&g, g_seed);
  write_csv(csv, n);
  g_csv = csv;
  init(R);
  /* Transactions of 500 rows: by default an import commits every ~250 ms,
   * which at this size leaves few moments between two commits for a kill
   * to land in (scripts/kill9-bulk.sh kills the default at 100,000). */
  const char *const args[] = {F->bin, "--dir", R, "import", csv, "--batch", "500", NULL};
  killer k = {"import", R, args, n, reset_import, true};
  kill_rounds(&k, &g);
  long long have = customer_count(R);
  json_t *s = OKJ(R, "import", csv);
  printf("# last run: imported %lld, skipped %lld\n", jint(s, "imported"), jint(s, "skipped"));
  assert_int_equal(jint(s, "imported") + have, n);
  json_decref(s);
  assert_int_equal(customer_count(R), n);
  OK1(R, "check");
  dupes_none(R);
}

static const char *g_sender;

static void reset_receiver(const char *dir) {
  assert_int_equal(tdir_remove(dir), 0);
  init(dir);
  trust_pair(g_sender, dir);
}

static void test_kill9_during_first_sync(void **state) {
  (void)state;
  char first[CARNET_ID_HEX_LEN + 1];
  const char *A = path("A"), *B = path("B");
  const unsigned n = 5000;
  trng g;
  trng_seed(&g, g_seed + 1);
  build_replica(A, n, first);
  g_sender = A;
  init(B);
  trust_pair(A, B);
  bg *sa = SERVE(A, "A");
  /* A first sync of this size commits in one receive group (a window of
   * 16 batches, or ~250 ms): kills land before or after it;
   * scripts/kill9-bulk.sh kills between groups at 100,000. */
  killer k = {
      "sync",         B,    (const char *const[]){F->bin, "--dir", B, "sync", sa->addr, NULL}, n,
      reset_receiver, false};
  kill_rounds(&k, &g);
  json_decref(sync_json(B, sa->addr));
  stop(sa);
  assert_int_equal(customer_count(B), n);
  assert_same_digest(A, B);
  OK1(B, "check");
  dupes_none(B);
}

int main(int argc, char **argv) {
  targ_seed(argc, argv, &g_seed);
  printf("# seed %llu (replay with --seed=%llu)\n", (unsigned long long)g_seed,
         (unsigned long long)g_seed);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_kill9_during_import, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_kill9_during_first_sync, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
