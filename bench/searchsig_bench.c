/* bench/searchsig_bench.c - the search signatures (engine/crm/searchsig.h) of an
 * existing replica (carnet-import-bench --keep makes one of 100,000
 * customers), on a copy the caller gives:
 *
 *   1. build: the replica is set back to schema 7 with no signature, and
 *      opened: the upgrade writes every customer's (wall and CPU time);
 *   2. size: rows, bytes of values, leaf and overflow pages of the table;
 *   3. catch-up: the mark set back to 0, carnet__index_ready derives the
 *      blind keys of every entity again, with the signatures (the table
 *      emptied first, as after a bulk load) and without (the hook unset):
 *      what the signatures add to the bulk catch-up that W1 creation, an
 *      import or a first sync is followed by;
 *   4. queries: carnet_record_list with a text filter, in process, each
 *      --runs times (median), and the number of matches.
 *
 * Never part of `make check`: it prints figures (bench/RESULTS.md).
 *
 *   build/bench/carnet-searchsig-bench --dir COPY_OF_REPLICA [--runs 5] [QUERY...]
 */
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

static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void die(const char *what, int rc) {
  fprintf(stderr, "carnet-searchsig-bench: %s: %s\n", what, carnet_error_name(rc));
  exit(1);
}

static int dcmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int count_cb(const carnet_record *rec, void *data) {
  (void)rec;
  ++*(size_t *)data;
  return 0;
}

/* Schema 7 and an empty "search" table, as a replica before this change. */
static void downgrade(carnet_replica *r) {
  carnet__stxn *st;
  uint8_t b[4] = {0, 0, 0, 7};
  int rc = carnet__store_begin(r->store, true, &st);
  if (rc == 0) rc = carnet__store_clear(st, CARNET__T_SEARCH);
  if (rc == 0) rc = carnet__store_put(st, CARNET__T_META, "schema", 6, b, 4, 0);
  if (rc == 0) rc = carnet__store_commit(st);
  if (rc) die("downgrade", rc);
}

/* The mark at 0 and, with signatures, none written yet: as after a bulk
 * load (the catch-up appends into an empty table). */
static void mark_zero(carnet_replica *r, bool clear) {
  carnet__stxn *st;
  int rc = carnet__store_begin(r->store, true, &st);
  if (rc == 0 && clear) rc = carnet__store_clear(st, CARNET__T_SEARCH);
  if (rc == 0) rc = carnet__index_mark_put(st, 0);
  if (rc == 0) rc = carnet__sig_mark_put(st, 0);
  if (rc == 0) rc = carnet__store_commit(st);
  if (rc) die("mark", rc);
}

static void table_size(carnet_replica *r) {
  carnet__stxn *st;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  uint64_t rows = 0, bytes = 0;
  int rc = carnet__store_begin(r->store, false, &st);
  if (rc == 0) rc = carnet__store_cursor(st, CARNET__T_SEARCH, &cur);
  for (rc = rc ? rc : carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    rows++;
    bytes += k.len + v.len;
  }
  carnet__store_cursor_close(cur);
  size_t leaves = carnet__store_leaves(st, CARNET__T_SEARCH);
  size_t ents = carnet__store_leaves(st, CARNET__T_ENTITIES);
  carnet__store_abort(st);
  printf("{\"measure\":\"size\",\"rows\":%llu,\"key_value_mb\":%.2f,\"leaf_pages\":%zu,"
         "\"leaf_mb\":%.2f,\"bytes_per_customer\":%.0f,\"entities_leaf_mb\":%.2f}\n",
         (unsigned long long)rows, (double)bytes / 1e6, leaves, (double)leaves * 4096 / 1e6,
         rows ? (double)bytes / (double)rows : 0.0, (double)ents * 4096 / 1e6);
}

static void catchup(carnet_replica *r, bool sigs) {
  int (*hook)(const struct carnet__entity *, struct carnet__blind_secret *, uint8_t **, size_t *) =
      r->search_sig;
  if (!sigs) r->search_sig = NULL;
  mark_zero(r, sigs);
  double w = now_ms(), c = cpu_ms();
  int rc = sigs ? carnet__search_ready(r) : carnet__index_ready(r);
  if (rc) die("catch-up", rc);
  printf("{\"measure\":\"catchup\",\"signatures\":%s,\"ms\":%.1f,\"cpu_ms\":%.1f}\n",
         sigs ? "true" : "false", now_ms() - w, cpu_ms() - c);
  r->search_sig = hook;
}

int main(int argc, char **argv) {
  const char *dir = NULL;
  int runs = 5;
  const char *queries[64];
  size_t nq = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
      dir = argv[++i];
    else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (nq < 64)
      queries[nq++] = argv[i];
  }
  if (dir == NULL || runs < 1) {
    fprintf(stderr, "usage: carnet-searchsig-bench --dir COPY_OF_REPLICA [--runs N] [QUERY...]\n");
    return 2;
  }
  char err[512];
  carnet_replica *r = NULL;
  int rc = carnet_replica_open(dir, NULL, &r, err, sizeof err);
  if (rc) die(err, rc);
  downgrade(r);
  carnet_replica_close(r);
  double w = now_ms(), c = cpu_ms();
  if ((rc = carnet_replica_open(dir, NULL, &r, err, sizeof err))) die(err, rc);
  printf("{\"measure\":\"build\",\"what\":\"open with the upgrade to schema 8\",\"ms\":%.1f,"
         "\"cpu_ms\":%.1f}\n",
         now_ms() - w, cpu_ms() - c);
  table_size(r);
  catchup(r, false);
  catchup(r, true);
  catchup(r, false);
  catchup(r, true);
  for (size_t q = 0; q < nq; q++) {
    double t[64];
    size_t n = 0;
    carnet_filter f = {.text = queries[q]};
    for (int i = 0; i < runs && i < 64; i++) {
      n = 0;
      double t0 = now_ms();
      if ((rc = carnet_record_list(r, CARNET_KIND_CUSTOMER, &f, count_cb, &n))) die("list", rc);
      t[i] = now_ms() - t0;
    }
    qsort(t, (size_t)(runs < 64 ? runs : 64), sizeof t[0], dcmp);
    printf("{\"measure\":\"query\",\"text\":\"%s\",\"matches\":%zu,\"median_ms\":%.2f,"
           "\"min_ms\":%.2f}\n",
           queries[q], n, t[runs / 2], t[0]);
  }
  carnet_replica_close(r);
  return 0;
}
