/* bench/search_bench.c - the search index (carnet/search.h) in process, on
 * an existing replica (bench/web_bench.py --keep makes one of 100,000
 * customers): the build (time, bytes per customer as the index counts them,
 * and the process's anonymous resident memory before and after: the pages
 * of LMDB's map that the scan reads are file-backed, not the index's), then
 * queries timed against carnet_record_list with the same filter (the scan
 * the index replaces). Never part of `make check`: it prints figures.
 *
 *   build/bench/carnet-search-bench --dir REPLICA [--runs 5]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carnet/carnet.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static long rss_kb(void) {
  char line[256];
  long kb = -1;
  FILE *f = fopen("/proc/self/status", "r");
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "RssAnon:", 8) == 0) kb = strtol(line + 8, NULL, 10);
  if (f) fclose(f);
  return kb;
}

static int dcmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct page {
  size_t n, limit;
} page;

static int count_cb(const carnet_record *rec, void *data) {
  page *p = data;
  (void)rec;
  return ++p->n > p->limit ? 1 : 0; /* a page of `limit` and one more, as the web asks */
}

int main(int argc, char **argv) {
  const char *dir = NULL;
  int runs = 5;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
      dir = argv[++i];
    else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
      runs = atoi(argv[++i]);
  }
  if (dir == NULL || runs < 1) {
    fprintf(stderr, "usage: carnet-search-bench --dir REPLICA [--runs N]\n");
    return 2;
  }
  carnet_env env;
  carnet_replica *r = NULL;
  carnet_search *s = NULL;
  char why[512] = "";
  memset(&env, 0, sizeof env);
  int rc = carnet_replica_open(dir, &env, &r, why, sizeof why);
  if (rc) {
    fprintf(stderr, "carnet-search-bench: %s: %s\n", dir, why);
    return 1;
  }
  long rss0 = rss_kb();
  double t0 = now_ms();
  rc = carnet_search_new(r, 0, &s);
  double build = now_ms() - t0;
  long rss1 = rss_kb();
  if (rc) {
    fprintf(stderr, "carnet-search-bench: %s: %s\n", carnet_error_name(rc),
            carnet_replica_errmsg(r));
    return 1;
  }
  size_t n = 0, bytes = 0;
  carnet_search_get_stats(s, &n, &bytes);
  printf("{\"measure\": \"build\", \"customers\": %zu, \"ms\": %.1f, \"bytes\": %zu, "
         "\"bytes_per_customer\": %.1f, \"anon_kb_before\": %ld, \"anon_kb_after\": %ld, "
         "\"anon_bytes_per_customer\": %.1f}\n",
         n, build, bytes, n ? (double)bytes / (double)n : 0.0, rss0, rss1,
         n ? (double)(rss1 - rss0) * 1024.0 / (double)n : 0.0);
  struct {
    const char *label;
    carnet_filter f;
  } cases[] = {
      {"first page", {0}},
      {"text, no match", {.text = "zzzzqqq"}},
      {"text, accents", {.text = "hélène"}},
      {"text, near miss", {.text = "client fidele x"}},
      {"phone as typed", {.text = "06 12 34 56 78"}},
      {"tag nobody has", {.tag = "vip"}},
      {"role, no match", {.text = "zzzzqqq", .role = "prospect"}},
  };
  carnet_id ids[51];
  printf("\n%-18s %12s %12s %7s\n", "query (50 a page)", "index ms", "scan ms", "items");
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    double ti[64], ts[64];
    size_t got = 0;
    page p = {0};
    int k = runs > 64 ? 64 : runs;
    for (int i = 0; i < k; i++) {
      t0 = now_ms();
      if ((rc = carnet_search_query(s, &cases[c].f, NULL, ids, 51, &got))) return 1;
      ti[i] = now_ms() - t0;
      p = (page){.limit = 50};
      t0 = now_ms();
      rc = carnet_record_list(r, CARNET_KIND_CUSTOMER, &cases[c].f, count_cb, &p);
      ts[i] = now_ms() - t0;
      if (rc < 0) return 1;
    }
    qsort(ti, (size_t)k, sizeof *ti, dcmp);
    qsort(ts, (size_t)k, sizeof *ts, dcmp);
    if (p.n != got) {
      fprintf(stderr, "carnet-search-bench: %s: index %zu, scan %zu\n", cases[c].label, got, p.n);
      return 1;
    }
    printf("%-18s %12.2f %12.2f %7zu\n", cases[c].label, ti[k / 2], ts[k / 2], got > 50 ? 50 : got);
  }
  carnet_search_free(s);
  carnet_replica_close(r);
  return 0;
}
