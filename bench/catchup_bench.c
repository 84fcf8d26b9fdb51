/* bench/catchup_bench.c - the catch-ups of the derived tables (issue 17) in a
 * process of their own, on a copy of a kept replica (carnet-bench --keep
 * makes one), so that their private memory is theirs alone (in
 * carnet-bench's own process, W's generator holds ~50 MB at 1,000,000):
 *
 *   --reset   empty the blind index and the search signatures, both marks
 *             at 0 (as after a bulk load or a first sync), and stop;
 *   index     the catch-up of the first duplicate check: one
 *             carnet_record_lookup (engine/store/reindex.c);
 *   search    the catch-up of the first text search: one carnet_record_list
 *             with a text filter (the signatures the duplicate check left).
 *
 * Prints a JSON line then a table: wall and CPU time, disk writes (rusage),
 * this process's private memory (RssAnon) before and at its peak, sampled
 * every 5 ms (bench/procs.c, as carnet-bench's own catch-up lines). Never
 * part of `make check`.
 *
 *   build/bench/carnet-catchup-bench --dir COPY --reset
 *   build/bench/carnet-catchup-bench --dir COPY index|search
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/bench.h"
#include "carnet/carnet.h"
#include "engine/store/entity_io.h"
#include "engine/store/replica_int.h"

static void usage(FILE *to) {
  fprintf(to, "usage: carnet-catchup-bench --dir COPY --reset\n"
              "       carnet-catchup-bench --dir COPY index|search\n"
              "The catch-up of the first duplicate check (index) or of the first text\n"
              "search (search) on a copy of a replica, in this process alone; --reset\n"
              "empties the derived tables first (both marks at 0) and stops.\n");
}

static int count(const carnet_record *rec, void *data) {
  (void)rec;
  ++*(size_t *)data;
  return 0;
}

static int reset(carnet_replica *r) {
  carnet__stxn *st;
  int rc = carnet__store_begin(r->store, true, &st);
  if (rc == 0) rc = carnet__store_clear(st, CARNET__T_SEARCH);
  if (rc == 0) rc = carnet__store_clear(st, CARNET__T_INDEX);
  if (rc == 0) rc = carnet__index_mark_put(st, 0);
  if (rc == 0) rc = carnet__sig_mark_put(st, 0);
  if (rc == 0) return carnet__store_commit(st);
  carnet__store_abort(st);
  return rc;
}

int main(int argc, char **argv) {
  const char *dir = NULL, *what = NULL;
  bool do_reset = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
      dir = argv[++i];
    else if (strcmp(argv[i], "--reset") == 0)
      do_reset = true;
    else if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "index") == 0 || strcmp(argv[i], "search") == 0)
      what = argv[i];
    else {
      usage(stderr);
      return 2;
    }
  }
  if (dir == NULL || (what == NULL) == !do_reset) {
    usage(stderr);
    return 2;
  }
  char err[256] = "";
  carnet_replica *r = NULL;
  int rc = carnet_replica_open(dir, NULL, &r, err, sizeof err);
  if (rc) {
    fprintf(stderr, "carnet-catchup-bench: %s\n", err);
    return 1;
  }
  if (do_reset) {
    rc = reset(r);
    carnet_replica_close(r);
    if (rc) fprintf(stderr, "carnet-catchup-bench: reset: %s\n", carnet_error_name(rc));
    return rc != 0;
  }
  bench_mem m0;
  double anon[2];
  bench_proc_mem(getpid(), &m0);
  bench_sampler *sm = bench_sampler_start();
  bench_sampler_watch(sm, 0, getpid());
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  double t0 = bench_now_ms();
  carnet_id id;
  size_t found = 0;
  carnet_filter text = {.text = "nobody qzwx"};
  if (strcmp(what, "index") == 0)
    rc = carnet_record_lookup(r, CARNET_LOOKUP_EMAIL, "nobody@example.invalid", &id, 1, &found);
  else
    rc = carnet_record_list(r, CARNET_KIND_CUSTOMER, &text, count, &found);
  double ms = bench_now_ms() - t0;
  getrusage(RUSAGE_SELF, &r1);
  bench_sampler_stop(sm, anon, NULL);
  if (rc) {
    fprintf(stderr, "carnet-catchup-bench: %s: %s\n", what, carnet_replica_errmsg(r));
    carnet_replica_close(r);
    return 1;
  }
  double cpu = bench_cpu_ms(&r0, &r1), peak = anon[0] > m0.anon ? anon[0] : m0.anon;
  double written = (double)(r1.ru_oublock - r0.ru_oublock) * 512.0 / 1e6;
  printf("{\"measure\":\"%s_catchup\",\"ms\":%.1f,\"cpu_ms\":%.1f,\"disk_write_mb\":%.1f,"
         "\"anon_before_mb\":%.1f,\"anon_peak_mb\":%.1f}\n",
         what, ms, cpu, written, m0.anon, peak);
  printf("| catch-up | wall ms | CPU ms | written MB | private MB before / peak |\n"
         "|---|---:|---:|---:|---:|\n"
         "| %s | %.0f | %.0f | %.1f | %.1f / %.1f |\n",
         what, ms, cpu, written, m0.anon, peak);
  carnet_replica_close(r);
  return 0;
}
