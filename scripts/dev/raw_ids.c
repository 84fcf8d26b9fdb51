/* scripts/dev/raw_ids.c - the raw-LMDB floor of issue 17's growth target
 * for W1-shaped rows: N rows of 415 bytes under 16-byte keys, random (W's
 * ids) or ascending (Carnet's, appended), MDB_WRITEMAP, a durable commit
 * per group of about PAGES dirty pages (default 65,536 = 256 MiB, Carnet's
 * bulk group); prints wall time and bytes written (rusage) per row. Not
 * built by CMake:
 *
 *   cc -O2 -o /tmp/raw_ids scripts/dev/raw_ids.c -llmdb -lsodium
 *   /tmp/raw_ids DIR N random|ascending [PAGES]     (DIR: a new directory)
 */
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define CK(x)                                                                                      \
  do {                                                                                             \
    int rc_ = (x);                                                                                 \
    if (rc_) {                                                                                     \
      fprintf(stderr, "%s: %s\n", #x, mdb_strerror(rc_));                                          \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)
static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
int main(int argc, char **argv) {
  const char *dir = argv[1];
  long n = atol(argv[2]);
  int random_ids = strcmp(argv[3], "random") == 0;
  long dirty_pages = argc > 4 ? atol(argv[4]) : 65536;
  if (sodium_init() < 0) return 1;
  mkdir(dir, 0700);
  MDB_env *env;
  MDB_txn *t;
  MDB_dbi dbi;
  CK(mdb_env_create(&env));
  CK(mdb_env_set_mapsize(env, 64ull << 30));
  CK(mdb_env_open(env, dir, MDB_WRITEMAP | MDB_NOTLS, 0600));
  uint8_t val[415];
  randombytes_buf(val, sizeof val);
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  double t0 = now_ms();
  long i = 0;
  int groups = 0;
  while (i < n) {
    CK(mdb_txn_begin(env, NULL, 0, &t));
    CK(mdb_dbi_open(t, NULL, 0, &dbi));
    MDB_stat st0;
    CK(mdb_stat(t, dbi, &st0));
    long start = i;
    for (; i < n; i++) {
      uint8_t key[16];
      if (random_ids)
        randombytes_buf(key, 16);
      else {
        memset(key, 0, 16);
        for (int b = 0; b < 8; b++)
          key[b] = (uint8_t)((unsigned long)i >> (56 - 8 * b));
      }
      MDB_val k = {16, key}, v = {sizeof val, val};
      CK(mdb_put(t, dbi, &k, &v, random_ids ? 0 : MDB_APPEND));
      /* The group's bound, estimated: past the first groups, a random key
       * dirties a leaf of its own; ascending keys fill ~9 rows a page. */
      if (random_ids ? (i - start + 1) >= dirty_pages
                     : (i - start + 1) * 440 >= dirty_pages * 4096L) {
        i++;
        break;
      }
    }
    CK(mdb_txn_commit(t));
    groups++;
  }
  double ms = now_ms() - t0;
  getrusage(RUSAGE_SELF, &r1);
  double mb = (r1.ru_oublock - r0.ru_oublock) * 512.0 / 1e6;
  struct stat sb;
  char p[512];
  snprintf(p, sizeof p, "%s/data.mdb", dir);
  stat(p, &sb);
  printf("{\"n\":%ld,\"ids\":\"%s\",\"groups\":%d,\"ms\":%.0f,\"written_mb\":%.1f,\"kb_per_row\":%."
         "2f,\"us_per_row\":%.2f,\"data_mb\":%.1f}\n",
         n, random_ids ? "random" : "ascending", groups, ms, mb, mb * 1e3 / n, ms * 1e3 / n,
         sb.st_blocks * 512.0 / 1e6);
  mdb_env_close(env);
  return 0;
}
