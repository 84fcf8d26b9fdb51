/* bench/raw.c - what this machine allows, with W1's own record bytes: raw
 * LMDB inserts of the N CSV rows keyed by id (durable commits), the same
 * rows appended to a log in durable batches, libsodium
 * secretstream on row-sized messages and on 64 KiB chunks, loopback TCP
 * between two threads, fdatasync latency. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"

typedef struct rows {
  char *buf;   /* every row back to back */
  size_t *off; /* row i at buf + off[i], length off[i+1] - off[i] */
  uint8_t (*id)[16];
  uint32_t n;
} rows;

static void rows_make(rows *r, uint32_t n) {
  w_rng rng = w_stream(W_STREAM_W1);
  w_record rec;
  char row[W_ROW_MAX];
  size_t cap = (size_t)n * 280 + 4096, len = 0;
  r->buf = malloc(cap);
  r->off = malloc(((size_t)n + 1) * sizeof *r->off);
  r->id = malloc((size_t)n * 16 + 1);
  if (!r->buf || !r->off || !r->id) bench_die("out of memory");
  for (uint32_t i = 0; i < n; i++) {
    w_record_next(&rng, &rec);
    size_t k = w_record_row(&rec, row);
    if (len + k > cap) {
      cap *= 2;
      r->buf = realloc(r->buf, cap);
      if (r->buf == NULL) bench_die("out of memory");
    }
    r->off[i] = len;
    memcpy(r->buf + len, row, k);
    len += k;
    memcpy(r->id[i], rec.id, 16);
  }
  r->off[n] = len;
  r->n = n;
}

static void rows_free(rows *r) {
  free(r->buf);
  free(r->off);
  free(r->id);
}

/* --- LMDB ------------------------------------------------------------------ */

#define MDB_CHECK(x)                                                                               \
  do {                                                                                             \
    int mrc_ = (x);                                                                                \
    if (mrc_) bench_die("lmdb: %s: %s", #x, mdb_strerror(mrc_));                                   \
  } while (0)

/* Disk writes of this process since `r0` (ru_oublock), in MB. */
static double written_since(const struct rusage *r0) {
  struct rusage r1;
  getrusage(RUSAGE_SELF, &r1);
  return (double)(r1.ru_oublock - r0->ru_oublock) * 512.0 / 1e6;
}

static MDB_env *lmdb_fresh(const char *dir, MDB_dbi *dbi) {
  MDB_env *env;
  MDB_txn *t;
  bench_rm_rf(dir);
  if (mkdir(dir, 0700) != 0) bench_die("cannot create %s", dir);
  MDB_CHECK(mdb_env_create(&env));
  MDB_CHECK(mdb_env_set_mapsize(env, (size_t)16 << 30));
  MDB_CHECK(mdb_env_open(env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0600));
  MDB_CHECK(mdb_txn_begin(env, NULL, 0, &t));
  MDB_CHECK(mdb_dbi_open(t, NULL, 0, dbi));
  MDB_CHECK(mdb_txn_commit(t));
  return env;
}

/* Durable (default flags: a commit fsyncs) inserts of the rows, `batch` per
 * transaction; ms. */
static double lmdb_insert(const char *dir, const rows *r, uint32_t batch, double *written_mb) {
  MDB_dbi dbi;
  MDB_env *env = lmdb_fresh(dir, &dbi);
  struct rusage r0;
  getrusage(RUSAGE_SELF, &r0);
  double t0 = bench_now_ms();
  for (uint32_t done = 0; done < r->n;) {
    MDB_txn *t;
    uint32_t k = r->n - done < batch ? r->n - done : batch;
    MDB_CHECK(mdb_txn_begin(env, NULL, 0, &t));
    for (uint32_t i = done; i < done + k; i++) {
      MDB_val key = {16, r->id[i]};
      MDB_val val = {r->off[i + 1] - r->off[i], r->buf + r->off[i]};
      MDB_CHECK(mdb_put(t, dbi, &key, &val, 0));
    }
    MDB_CHECK(mdb_txn_commit(t));
    done += k;
  }
  double ms = bench_now_ms() - t0;
  *written_mb = written_since(&r0);
  mdb_env_close(env);
  bench_rm_rf(dir);
  return ms;
}

static int key33_cmp(const void *a, const void *b) {
  return memcmp(a, b, 33);
}

/* The floor of the blind index's catch-up (engine/store/index.c): `per` random
 * 33-byte keys per row (tag + 16-byte hash + 16-byte id), made, sorted and
 * appended (MDB_APPEND) into an empty table in one durable transaction;
 * ms, with the sort. */
static double lmdb_index_append(const char *dir, const rows *r, uint32_t per, double *written_mb) {
  MDB_dbi dbi;
  MDB_env *env = lmdb_fresh(dir, &dbi);
  size_t nk = (size_t)r->n * per;
  uint8_t *keys = malloc(nk * 33);
  if (keys == NULL) bench_die("out of memory");
  struct rusage r0;
  getrusage(RUSAGE_SELF, &r0);
  double t0 = bench_now_ms();
  for (size_t i = 0; i < nk; i++) {
    uint8_t *k = keys + i * 33;
    k[0] = (uint8_t) "SehnpsS"[i % per % 7];
    randombytes_buf(k + 1, 16);
    memcpy(k + 17, r->id[i / per], 16);
  }
  qsort(keys, nk, 33, key33_cmp);
  MDB_txn *t;
  MDB_CHECK(mdb_txn_begin(env, NULL, 0, &t));
  for (size_t i = 0; i < nk; i++) {
    MDB_val key = {33, keys + i * 33}, val = {0, ""};
    MDB_CHECK(mdb_put(t, dbi, &key, &val, MDB_APPEND));
  }
  MDB_CHECK(mdb_txn_commit(t));
  double ms = bench_now_ms() - t0;
  *written_mb = written_since(&r0);
  free(keys);
  mdb_env_close(env);
  bench_rm_rf(dir);
  return ms;
}

/* One row put and a durable commit, `iters` times: the floor of one edit. */
static void lmdb_commit_latency(const char *dir, const rows *r, int iters, double *med,
                                double *p99) {
  MDB_dbi dbi;
  MDB_env *env = lmdb_fresh(dir, &dbi);
  double *lat = malloc((size_t)iters * sizeof *lat);
  if (lat == NULL) bench_die("out of memory");
  for (int i = 0; i < iters; i++) {
    uint32_t j = (uint32_t)i % r->n;
    MDB_txn *t;
    double t0 = bench_now_ms();
    MDB_CHECK(mdb_txn_begin(env, NULL, 0, &t));
    MDB_val key = {16, r->id[j]};
    MDB_val val = {r->off[j + 1] - r->off[j], r->buf + r->off[j]};
    MDB_CHECK(mdb_put(t, dbi, &key, &val, 0));
    MDB_CHECK(mdb_txn_commit(t));
    lat[i] = bench_now_ms() - t0;
  }
  *med = bench_percentile(lat, (size_t)iters, 50);
  *p99 = bench_percentile(lat, (size_t)iters, 99);
  free(lat);
  mdb_env_close(env);
  bench_rm_rf(dir);
}

/* --- append-only log --------------------------------------------------------- */

/* The rows (id, length, bytes) appended to one file `batch` at a time, each
 * batch one write and one fdatasync: the durable commit path of a store
 * whose writes are appends, against LMDB's B-tree page copies; ms. */
static double log_append(const char *path, const rows *r, uint32_t batch, double *written_mb) {
  size_t cap = 1 << 20, len = 0;
  uint8_t *buf = malloc(cap);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  if (fd < 0 || buf == NULL) bench_die("cannot create %s", path);
  struct rusage r0;
  getrusage(RUSAGE_SELF, &r0);
  double t0 = bench_now_ms();
  for (uint32_t done = 0; done < r->n;) {
    uint32_t k = r->n - done < batch ? r->n - done : batch;
    len = 0;
    for (uint32_t i = done; i < done + k; i++) {
      uint32_t n = (uint32_t)(r->off[i + 1] - r->off[i]);
      while (len + 20 + n > cap) {
        cap *= 2;
        if ((buf = realloc(buf, cap)) == NULL) bench_die("out of memory");
      }
      memcpy(buf + len, r->id[i], 16);
      memcpy(buf + len + 16, &n, 4);
      memcpy(buf + len + 20, r->buf + r->off[i], n);
      len += 20 + n;
    }
    if (write(fd, buf, len) != (ssize_t)len || fdatasync(fd) != 0)
      bench_die("append test failed on %s", path);
    done += k;
  }
  double ms = bench_now_ms() - t0;
  *written_mb = written_since(&r0);
  close(fd);
  unlink(path);
  free(buf);
  return ms;
}

/* --- secretstream ------------------------------------------------------------ */

#define SS_A crypto_secretstream_xchacha20poly1305_ABYTES

/* Push every row as one message, then pull them all; ms each. */
static void ss_rows(const rows *r, double *push_ms, double *pull_ms) {
  unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
  unsigned char hdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  crypto_secretstream_xchacha20poly1305_state st;
  size_t total = r->off[r->n];
  unsigned char *ct = malloc(total + (size_t)r->n * SS_A + 1);
  unsigned char *pt = malloc(W_ROW_MAX + SS_A);
  if (ct == NULL || pt == NULL) bench_die("out of memory");
  crypto_secretstream_xchacha20poly1305_keygen(key);
  double t0 = bench_now_ms();
  crypto_secretstream_xchacha20poly1305_init_push(&st, hdr, key);
  size_t o = 0;
  for (uint32_t i = 0; i < r->n; i++) {
    unsigned long long cl;
    size_t ml = r->off[i + 1] - r->off[i];
    crypto_secretstream_xchacha20poly1305_push(
        &st, ct + o, &cl, (const unsigned char *)r->buf + r->off[i], ml, NULL, 0, 0);
    o += (size_t)cl;
  }
  *push_ms = bench_now_ms() - t0;
  t0 = bench_now_ms();
  crypto_secretstream_xchacha20poly1305_init_pull(&st, hdr, key);
  o = 0;
  for (uint32_t i = 0; i < r->n; i++) {
    unsigned long long ml;
    unsigned char tag;
    size_t cl = r->off[i + 1] - r->off[i] + SS_A;
    if (crypto_secretstream_xchacha20poly1305_pull(&st, pt, &ml, &tag, ct + o, cl, NULL, 0) != 0)
      bench_die("secretstream: a message failed to open");
    o += cl;
  }
  *pull_ms = bench_now_ms() - t0;
  free(ct);
  free(pt);
}

/* 64 KiB chunks over the rows' bytes, repeated to at least 256 MiB; MB/s. */
static void ss_chunks(const rows *r, double *push_mbs, double *pull_mbs) {
  enum { CH = 64 * 1024 };
  unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
  unsigned char hdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  crypto_secretstream_xchacha20poly1305_state st, st2;
  unsigned char *ct = malloc(CH + SS_A), *pt = malloc(CH + SS_A);
  size_t total = r->off[r->n];
  if (ct == NULL || pt == NULL || total < CH) bench_die("secretstream: too few bytes");
  size_t chunks = total / CH, rounds = (256u << 20) / total + 1;
  crypto_secretstream_xchacha20poly1305_keygen(key);
  crypto_secretstream_xchacha20poly1305_init_push(&st, hdr, key);
  crypto_secretstream_xchacha20poly1305_init_pull(&st2, hdr, key);
  double push = 0, pull = 0;
  uint64_t bytes = 0;
  for (size_t k = 0; k < rounds; k++) {
    for (size_t i = 0; i < chunks; i++) {
      unsigned long long cl, ml;
      unsigned char tag;
      double t0 = bench_now_ms();
      crypto_secretstream_xchacha20poly1305_push(
          &st, ct, &cl, (const unsigned char *)r->buf + i * CH, CH, NULL, 0, 0);
      double t1 = bench_now_ms();
      if (crypto_secretstream_xchacha20poly1305_pull(&st2, pt, &ml, &tag, ct, cl, NULL, 0) != 0)
        bench_die("secretstream: a chunk failed to open");
      double t2 = bench_now_ms();
      push += t1 - t0;
      pull += t2 - t1;
      bytes += CH;
    }
  }
  *push_mbs = (double)bytes / 1e6 / (push / 1e3);
  *pull_mbs = (double)bytes / 1e6 / (pull / 1e3);
  free(ct);
  free(pt);
}

/* --- loopback TCP ----------------------------------------------------------- */

typedef struct tcp_rx {
  int lfd;
  uint64_t got;
} tcp_rx;

static void *tcp_receiver(void *arg) {
  tcp_rx *rx = arg;
  int fd = accept(rx->lfd, NULL, NULL);
  if (fd < 0) return NULL;
  char *buf = malloc(256 * 1024);
  for (;;) {
    ssize_t n = read(fd, buf, 256 * 1024);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    rx->got += (uint64_t)n;
  }
  free(buf);
  close(fd);
  return NULL;
}

/* Sends the rows' bytes (repeated to `want` bytes) over a real 127.0.0.1
 * connection to a receiver thread; MB/s from connect to the receiver's EOF. */
static double tcp_loopback(const rows *r, uint64_t want, uint64_t *sent_out) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  socklen_t sl = sizeof sa;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  tcp_rx rx = {.lfd = socket(AF_INET, SOCK_STREAM, 0)};
  if (rx.lfd < 0 || bind(rx.lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      listen(rx.lfd, 1) != 0 || getsockname(rx.lfd, (struct sockaddr *)&sa, &sl) != 0)
    bench_die("tcp: cannot listen on 127.0.0.1");
  pthread_t th;
  if (pthread_create(&th, NULL, tcp_receiver, &rx) != 0) bench_die("cannot start a thread");
  size_t total = r->off[r->n];
  double t0 = bench_now_ms();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) bench_die("tcp: connect");
  uint64_t sent = 0;
  while (sent < want) {
    size_t off = (size_t)(sent % total), len = total - off;
    if (len > 1 << 20) len = 1 << 20;
    ssize_t n = write(fd, r->buf + off, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) bench_die("tcp: write failed");
    sent += (uint64_t)n;
  }
  close(fd);
  pthread_join(th, NULL);
  double ms = bench_now_ms() - t0;
  close(rx.lfd);
  if (rx.got != sent)
    bench_die("tcp: sent %llu, received %llu", (unsigned long long)sent,
              (unsigned long long)rx.got);
  *sent_out = sent;
  return (double)sent / 1e6 / (ms / 1e3);
}

/* --- fdatasync --------------------------------------------------------------- */

static void fdatasync_latency(const char *path, int iters, double *med, double *p99) {
  char block[4096];
  double *lat = malloc((size_t)iters * sizeof *lat);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || lat == NULL) bench_die("cannot create %s", path);
  memset(block, 'x', sizeof block);
  for (int i = 0; i < iters; i++) {
    block[0] = (char)i;
    double t0 = bench_now_ms();
    /* A page rewritten in place, the way an LMDB meta page is. */
    if (pwrite(fd, block, sizeof block, (off_t)(i % 2) * 4096) != (ssize_t)sizeof block ||
        fdatasync(fd) != 0)
      bench_die("fdatasync test failed on %s", path);
    lat[i] = bench_now_ms() - t0;
  }
  close(fd);
  unlink(path);
  *med = bench_percentile(lat, (size_t)iters, 50);
  *p99 = bench_percentile(lat, (size_t)iters, 99);
  free(lat);
}

int bench_raw_run(const char *tmpdir, uint32_t n, uint64_t wire_bytes, bench_raw *o) {
  rows r;
  char path[4096];
  memset(o, 0, sizeof *o);
  rows_make(&r, n);
  o->n = n;
  o->csv_bytes = r.off[n];
  snprintf(path, sizeof path, "%s/raw-lmdb", tmpdir);
  o->lmdb_1txn_ms = lmdb_insert(path, &r, n, &o->lmdb_1txn_written_mb);
  o->lmdb_batch_ms = lmdb_insert(path, &r, 1000, &o->lmdb_batch_written_mb);
  o->lmdb_index_ms = lmdb_index_append(path, &r, 7, &o->lmdb_index_written_mb);
  lmdb_commit_latency(path, &r, 500, &o->lmdb_commit_med_ms, &o->lmdb_commit_p99_ms);
  snprintf(path, sizeof path, "%s/raw-log", tmpdir);
  o->log_batch_ms = log_append(path, &r, 1000, &o->log_batch_written_mb);
  ss_rows(&r, &o->ss_small_ms, &o->ss_small_pull_ms);
  o->ss_small_mbs = (double)o->csv_bytes / 1e6 / (o->ss_small_ms / 1e3);
  ss_chunks(&r, &o->ss_big_mbs, &o->ss_big_pull_mbs);
  uint64_t want = wire_bytes > ((uint64_t)256 << 20) ? wire_bytes : ((uint64_t)256 << 20);
  o->tcp_mbs = tcp_loopback(&r, want, &o->tcp_bytes);
  snprintf(path, sizeof path, "%s/raw-fsync", tmpdir);
  fdatasync_latency(path, 500, &o->fdatasync_med_ms, &o->fdatasync_p99_ms);
  rows_free(&r);
  return 0;
}
