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
 * every 2 ms from /proc/self/status. Never part of `make check`.
 *
 *   build/bench/carnet-catchup-bench --dir COPY --reset
 *   build/bench/carnet-catchup-bench --dir COPY index|search
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "carnet/carnet.h"
#include "engine/store/entity_io.h"
#include "engine/store/replica_int.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void usage(FILE *to) {
  fprintf(to, "usage: carnet-catchup-bench --dir COPY --reset\n"
              "       carnet-catchup-bench --dir COPY index|search\n"
              "The catch-up of the first duplicate check (index) or of the first text\n"
              "search (search) on a copy of a replica, in this process alone; --reset\n"
              "empties the derived tables first (both marks at 0) and stops.\n");
}

static long anon_kb(void) {
  char line[256];
  long kb = 0, v;
  FILE *f = fopen("/proc/self/status", "r");
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "RssAnon: %ld", &v) == 1) kb = v;
  if (f) fclose(f);
  return kb;
}

typedef struct sampler {
  atomic_int stop;
  long peak_kb;
} sampler;

static void *sample(void *arg) {
  sampler *s = arg;
  while (!atomic_load(&s->stop)) {
    long k = anon_kb();
    if (k > s->peak_kb) s->peak_kb = k;
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return NULL;
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
  sampler s = {.peak_kb = anon_kb()};
  long before = s.peak_kb;
  pthread_t th;
  bool sampling = pthread_create(&th, NULL, sample, &s) == 0;
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  double t0 = now_ms();
  carnet_id id;
  size_t found = 0;
  carnet_filter text = {.text = "nobody qzwx"};
  if (strcmp(what, "index") == 0)
    rc = carnet_record_lookup(r, CARNET_LOOKUP_EMAIL, "nobody@example.invalid", &id, 1, &found);
  else
    rc = carnet_record_list(r, CARNET_KIND_CUSTOMER, &text, count, &found);
  double ms = now_ms() - t0;
  getrusage(RUSAGE_SELF, &r1);
  atomic_store(&s.stop, 1);
  if (sampling) pthread_join(th, NULL);
  if (rc) {
    fprintf(stderr, "carnet-catchup-bench: %s: %s\n", what, carnet_replica_errmsg(r));
    carnet_replica_close(r);
    return 1;
  }
  double cpu =
      (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) *
          1e3 +
      (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
               r0.ru_stime.tv_usec) /
          1e3;
  double written = (double)(r1.ru_oublock - r0.ru_oublock) * 512.0 / 1e6;
  printf("{\"measure\":\"%s_catchup\",\"ms\":%.1f,\"cpu_ms\":%.1f,\"disk_write_mb\":%.1f,"
         "\"anon_before_mb\":%.1f,\"anon_peak_mb\":%.1f}\n",
         what, ms, cpu, written, (double)before / 1024.0, (double)s.peak_kb / 1024.0);
  printf("| catch-up | wall ms | CPU ms | written MB | private MB before / peak |\n"
         "|---|---:|---:|---:|---:|\n"
         "| %s | %.0f | %.0f | %.1f | %.1f / %.1f |\n",
         what, ms, cpu, written, (double)before / 1024.0, (double)s.peak_kb / 1024.0);
  carnet_replica_close(r);
  return 0;
}
