/* bench/attach_bench.c - attachment sync throughput over loopback (issue
 * 22), beside the floors measured in the same run:
 *
 *   secretstream  crypto_secretstream_xchacha20poly1305 push then pull of
 *                 the same bytes in 64 KiB messages, one thread: what the
 *                 session's channel must do to every byte at the least
 *                 (encrypt on one side, decrypt on the other);
 *   loopback      TCP over 127.0.0.1, 1 MiB writes, one thread each side;
 *   attach sync   the real `carnet sync --json` on a new replica B from a
 *                 `carnet serve` A holding one SIZE-byte attachment: the
 *                 content file read, sent through the encrypted session,
 *                 every unit opened with the content key and hashed,
 *                 written to NAME.part, fsynced, renamed. Throughput = the
 *                 content bytes moved / the session's time (connect to
 *                 close, the sync's "seconds").
 *
 * The target (issue 22): attach sync >= half the slower floor. Never fails
 * on time; prints a JSON line per figure, then a table. Run by hand:
 *
 *   build/bench/carnet-attach-bench [--size MB] [--runs N]
 *
 * The machine may be shared: the table shows `uptime`'s load before and
 * after, and each figure is the median of the runs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench.h"

#ifndef CARNET_BENCH_CLI
#error "CARNET_BENCH_CLI must name the carnet binary"
#endif

#define RUNS_MAX 9

static double median(double *v, int n) {
  return bench_percentile(v, (size_t)n, 50);
}

/* --- secretstream ----------------------------------------------------------- */

static double secretstream_mbs(size_t size) {
  enum { CH = 65536 };
  uint8_t key[32], header[24];
  uint8_t *plain = malloc(CH), *cipher = malloc(CH + 17), *back = malloc(CH);
  crypto_secretstream_xchacha20poly1305_state push, pull;
  if (!plain || !cipher || !back) bench_die("out of memory");
  randombytes_buf(plain, CH);
  crypto_secretstream_xchacha20poly1305_keygen(key);
  crypto_secretstream_xchacha20poly1305_init_push(&push, header, key);
  crypto_secretstream_xchacha20poly1305_init_pull(&pull, header, key);
  double t0 = bench_now_ms();
  for (size_t done = 0; done < size; done += CH) {
    unsigned long long cl, pl;
    unsigned char tag;
    crypto_secretstream_xchacha20poly1305_push(&push, cipher, &cl, plain, CH, NULL, 0, 0);
    if (crypto_secretstream_xchacha20poly1305_pull(&pull, back, &pl, &tag, cipher, cl, NULL, 0))
      bench_die("secretstream pull failed");
  }
  double ms = bench_now_ms() - t0;
  free(plain);
  free(cipher);
  free(back);
  return (double)size / 1e6 / (ms / 1e3);
}

/* --- loopback ---------------------------------------------------------------- */

typedef struct sink {
  int fd;
  size_t got;
} sink;

static void *sink_main(void *arg) {
  sink *s = arg;
  char *buf = malloc(1 << 20);
  for (;;) {
    ssize_t n = read(s->fd, buf, 1 << 20);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s->got += (size_t)n;
  }
  free(buf);
  return NULL;
}

static double loopback_mbs(size_t size) {
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1) ||
      getsockname(ls, (struct sockaddr *)&a, &alen))
    bench_die("loopback: %s", strerror(errno));
  int cs = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(cs, (struct sockaddr *)&a, sizeof a)) bench_die("connect: %s", strerror(errno));
  sink s = {.fd = accept(ls, NULL, NULL)};
  pthread_t th;
  pthread_create(&th, NULL, sink_main, &s);
  char *buf = calloc(1, 1 << 20);
  double t0 = bench_now_ms();
  for (size_t done = 0; done < size;) {
    ssize_t n = write(cs, buf, size - done < (1u << 20) ? size - done : (1u << 20));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) bench_die("write: %s", strerror(errno));
    done += (size_t)n;
  }
  shutdown(cs, SHUT_WR);
  pthread_join(th, NULL);
  double ms = bench_now_ms() - t0;
  close(cs);
  close(s.fd);
  close(ls);
  free(buf);
  if (s.got != size) bench_die("loopback: %zu of %zu bytes", s.got, size);
  return (double)size / 1e6 / (ms / 1e3);
}

/* --- attachment sync ----------------------------------------------------------- */

static char *run_ok(const char *dir, const char *const *args) {
  const char *argv[24] = {CARNET_BENCH_CLI, "--dir", dir};
  size_t n = 3;
  char *out = NULL;
  while (*args && n < 23)
    argv[n++] = *args++;
  argv[n] = NULL;
  if (bench_run(argv, NULL, &out, NULL, NULL, NULL, 0) != 0)
    bench_die("carnet --dir %s %s failed", dir, argv[3]);
  return out;
}
#define RUN(dir, ...) run_ok((dir), (const char *const[]){__VA_ARGS__, NULL})

static void key_of(const char *dir, char key[65], char team[33]) {
  char *out = RUN(dir, "id", "--json");
  json_t *j = json_loads(out, 0, NULL);
  if (!j) bench_die("carnet id --json: %s", out);
  snprintf(key, 65, "%s", json_string_value(json_object_get(j, "key")));
  if (team) snprintf(team, 33, "%s", json_string_value(json_object_get(j, "team")));
  json_decref(j);
  free(out);
}

static void trust(const char *a, const char *b) {
  char ka[65], kb[65], team[33];
  key_of(a, ka, team);
  key_of(b, kb, NULL);
  free(RUN(b, "peer", "trust", ka, "--team", team));
  free(RUN(a, "peer", "trust", kb));
}

/* One run: a new B syncs with A; the content's MB/s and the session's s. */
static double sync_once(const char *root, const char *addr, const char *a, int run, size_t size,
                        double *secs) {
  char b[1100];
  snprintf(b, sizeof b, "%s/b%d", root, run);
  free(RUN(b, "init"));
  trust(a, b);
  char *out = RUN(b, "sync", addr, "--json");
  json_t *j = json_loads(out, 0, NULL);
  if (!j) bench_die("sync --json: %s", out);
  double s = json_real_value(json_object_get(j, "seconds"));
  json_int_t moved = json_integer_value(json_object_get(j, "content_in"));
  json_decref(j);
  free(out);
  if ((size_t)moved < size)
    bench_die("run %d moved %lld bytes of %zu", run, (long long)moved, size);
  *secs = s;
  bench_rm_rf(b);
  return (double)moved / 1e6 / s;
}

static void load(char out[128]) {
  char *o = NULL;
  const char *argv[] = {"/usr/bin/uptime", NULL};
  out[0] = '\0';
  if (bench_run(argv, NULL, &o, NULL, NULL, NULL, 0) == 0 && o) {
    char *l = strstr(o, "load average:");
    snprintf(out, 128, "%s", l ? l + 14 : o);
    out[strcspn(out, "\n")] = '\0';
  }
  free(o);
}

int main(int argc, char **argv) {
  size_t mb = 100;
  int runs = 3;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
      mb = (size_t)atoi(argv[++i]);
    else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
      runs = atoi(argv[++i]);
    else
      bench_die("usage: carnet-attach-bench [--size MB (1..100)] [--runs N (1..9)]");
  }
  if (mb < 1 || mb > 100 || runs < 1 || runs > RUNS_MAX) bench_die("--size 1..100, --runs 1..9");
  if (sodium_init() < 0) bench_die("sodium_init");
  size_t size = mb * 1000 * 1000;
  char load0[128], load1[128];
  load(load0);

  double ss[RUNS_MAX], lo[RUNS_MAX], sy[RUNS_MAX], secs[RUNS_MAX];
  for (int i = 0; i < runs; i++) {
    ss[i] = secretstream_mbs(size);
    lo[i] = loopback_mbs(size);
  }

  char root[] = "/tmp/carnet-attach-bench-XXXXXX", a[1100], file[1100], addr[128];
  if (!mkdtemp(root)) bench_die("mkdtemp: %s", strerror(errno));
  snprintf(a, sizeof a, "%s/a", root);
  snprintf(file, sizeof file, "%s/file.bin", root);
  free(RUN(a, "init"));
  char *cu = RUN(a, "customer", "add", "--name", "Bench Fichier");
  cu[strcspn(cu, "\n")] = '\0';
  FILE *f = fopen(file, "wb");
  uint8_t *buf = malloc(1 << 20);
  for (size_t done = 0; done < size; done += 1 << 20) {
    size_t n = size - done < (1u << 20) ? size - done : (1u << 20);
    randombytes_buf(buf, n);
    fwrite(buf, 1, n, f);
  }
  fclose(f);
  free(buf);
  free(RUN(a, "attach", cu, file));
  free(cu);
  const char *sargv[] = {CARNET_BENCH_CLI, "--dir", a, "serve", "--listen", "127.0.0.1:0", NULL};
  bench_child serve;
  if (bench_spawn(sargv, "/dev/null", true, &serve) != 0) bench_die("cannot start carnet serve");
  if (!bench_read_line(&serve, "listening on ", addr, sizeof addr, 10000))
    bench_die("carnet serve did not say where it listens");
  for (int i = 0; i < runs; i++)
    sy[i] = sync_once(root, addr, a, i, size, &secs[i]);
  kill(serve.pid, SIGTERM);
  bench_wait(&serve);
  bench_rm_rf(root);
  load(load1);

  double mss = median(ss, runs), mlo = median(lo, runs), msy = median(sy, runs),
         msec = median(secs, runs);
  double floor = mss < mlo ? mss : mlo;
  printf("{\"bench\":\"attach\",\"what\":\"secretstream\",\"mb_s\":%.0f,\"size_mb\":%zu}\n", mss,
         mb);
  printf("{\"bench\":\"attach\",\"what\":\"loopback\",\"mb_s\":%.0f,\"size_mb\":%zu}\n", mlo, mb);
  printf("{\"bench\":\"attach\",\"what\":\"attach_sync\",\"mb_s\":%.0f,\"seconds\":%.3f,"
         "\"size_mb\":%zu,\"ratio_to_floor\":%.2f}\n",
         msy, msec, mb, msy / floor);
  printf("\n%-40s %10s\n", "attachment sync, median of runs", "MB/s");
  printf("%-40s %10.0f\n", "floor: secretstream push+pull, 64 KiB", mss);
  printf("%-40s %10.0f\n", "floor: TCP loopback, 1 MiB writes", mlo);
  printf("%-40s %10.0f  (%.2f s for %zu MB)\n", "carnet sync, one attachment", msy, msec, mb);
  printf("%-40s %10.2f  (target >= 0.50)\n", "ratio to the slower floor", msy / floor);
  printf("load average before: %s; after: %s; runs: %d\n", load0, load1, runs);
  return 0;
}
