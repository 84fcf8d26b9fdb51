/* bench/bench.h - shared pieces of carnet-bench: clocks, child processes
 * and their memory, workload W as Carnet customers, raw machine limits. */
#ifndef CARNET_BENCH_H
#define CARNET_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "bench/workload.h"
#include "carnet/carnet.h"

/* --- clocks and small helpers (procs.c) ---------------------------------- */

double bench_now_ms(void); /* CLOCK_MONOTONIC, in ms */
/* User + system time between two getrusage readings, in ms. */
double bench_cpu_ms(const struct rusage *from, const struct rusage *to);
double bench_self_maxrss_mb(void);
double bench_percentile(double *v, size_t n, double p); /* sorts v */
void bench_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
int bench_rm_rf(const char *path);

/* --- child processes (procs.c) ------------------------------------------- */

/* Memory of a process read from /proc/PID/status, in MB. */
typedef struct bench_mem {
  double hwm;  /* VmHWM: peak resident (anonymous + file-backed mapped pages) */
  double anon; /* RssAnon */
  double file; /* RssFile */
} bench_mem;
bool bench_proc_mem(pid_t pid, bench_mem *out);

/* Samples the memory of up to two processes every 5 ms in a thread; keeps
 * the peaks of RssAnon and VmRSS per slot. */
typedef struct bench_sampler bench_sampler;
bench_sampler *bench_sampler_start(void);
void bench_sampler_watch(bench_sampler *s, int slot, pid_t pid);
/* Stops the thread; peak anonymous and peak total RSS per slot (MB). */
void bench_sampler_stop(bench_sampler *s, double anon[2], double rss[2]);

typedef struct bench_child {
  pid_t pid;
  int out_fd; /* its stdout when piped, else -1 */
  int status; /* exit code, 128 + signal */
  struct rusage ru;
  bool reaped;
} bench_child;

/* Starts argv[0] with stdout piped (pipe_out) or sent to stderr_path too. */
int bench_spawn(const char *const *argv, const char *stderr_path, bool pipe_out, bench_child *c);
/* Waits (blocking) and fills status and rusage. */
int bench_wait(bench_child *c);
/* Runs a command to its end; *out gets its stdout (malloc'd, NUL-terminated),
 * *wall_ms its wall time from fork to reaping. Returns its exit status. */
int bench_run(const char *const *argv, const char *stderr_path, char **out, double *wall_ms,
              struct rusage *ru, bench_sampler *sampler, int slot);
/* Reads the child's stdout until a line starting with `prefix`; copies the
 * rest of the line to out. */
bool bench_read_line(bench_child *c, const char *prefix, char *out, size_t len, int timeout_ms);

/* --- workload W as Carnet customers (mapping.c) ---------------------------- */

/* The custom field holding W's siret: W's 14 random digits fail the Luhn
 * check CARNET_F_SIRET enforces (9 in 10 of them), so they are kept as a
 * string custom field, verbatim. */
#define BENCH_SIRET_FIELD "siret_raw"

/* A patch creating the customer of `rec` (NULL on ENOMEM). */
carnet_patch *bench_patch_of(const w_record *rec);

/* W's CSV row rebuilt from a stored customer (phones back from E.164 to
 * "+33 D DD DD DD DD"). Returns the length. */
size_t bench_row_of(const carnet_record *rec, char out[W_ROW_MAX]);

/* What a replica should hold. ov: record index -> update (A: k, B: m + k). */
typedef struct bench_expect {
  const w_index *ix;
  const w_update *w2a, *w2b; /* W2 applied when not NULL */
  uint32_t m;
  int32_t *ov;
  uint8_t *w3mark; /* W3: records (index) whose notes are checked apart */
} bench_expect;
int bench_expect_init(bench_expect *e, const w_index *ix, const w_update *w2a, const w_update *w2b,
                      uint32_t m);
void bench_expect_free(bench_expect *e);

/* W's digest recomputed from every customer of the replica (carnet_record_list),
 * and the rows compared with the expected ones: *mismatch counts rows that
 * differ, first_bad gets the first (stored vs expected). */
typedef struct bench_check {
  uint8_t digest[32];
  uint64_t rows;
  uint64_t mismatch;
  char first_bad[2 * W_ROW_MAX + 64];
} bench_check;
int bench_replica_check(carnet_replica *r, const bench_expect *e, bench_check *out);
int bench_dir_check(const char *dir, const bench_expect *e, bench_check *out,
                    uint8_t state_digest[32]);

/* Creates the N records of W1 in `r`, in transactions of `batch`; returns
 * the time spent in the API (generation excluded), in ms, or < 0; the part
 * of it spent in carnet_txn_commit in *commit_ms (NULL: not wanted).
 * `own_ids`: each record gets an id made by Carnet (time-ordered, so rows
 * append) instead of W's (random): the rows then no longer match W's by
 * id, only A against B can be checked. */
double bench_create_w1(carnet_replica *r, uint32_t n, uint32_t batch, bool own_ids,
                       double *commit_ms);

/* --- raw limits (raw.c) ----------------------------------------------------- */

typedef struct bench_raw {
  uint32_t n;
  uint64_t csv_bytes;
  double lmdb_1txn_ms, lmdb_batch_ms;                 /* N rows keyed by id */
  double lmdb_1txn_written_mb, lmdb_batch_written_mb; /* their block writes (ru_oublock) */
  double lmdb_index_ms, lmdb_index_written_mb;        /* 7 random keys a row, sorted, appended */
  double lmdb_commit_med_ms, lmdb_commit_p99_ms;      /* one 300-byte put + durable commit */
  double log_batch_ms, log_batch_written_mb; /* the rows appended to a file, fdatasync per 1,000 */
  double ss_small_ms, ss_small_mbs;          /* secretstream push, one message per row */
  double ss_small_pull_ms;
  double ss_big_mbs, ss_big_pull_mbs; /* 64 KiB chunks */
  double tcp_mbs;                     /* 127.0.0.1, sender + receiver thread */
  uint64_t tcp_bytes;
  double fdatasync_med_ms, fdatasync_p99_ms;
} bench_raw;
int bench_raw_run(const char *tmpdir, uint32_t n, uint64_t wire_bytes, bench_raw *out);

#endif
