/* bench/carnet_bench.c - workload W (../shared/WORKLOAD.md) on Carnet.
 *
 *   carnet-bench [--n N] [--m M] [--workloads w1,w2,w3] [--raw] [--growth]
 *                [--growth-max N] [--batch B] [--no-inproc] [--no-tcp]
 *                [--tmp DIR] [--keep] [--carnet PATH]
 *
 * --batch B: W1 creation in transactions of B customers (default 1000, as
 * WORKLOAD.md says); 0: through a bulk writer (carnet_bulk: by size or time).
 *
 * Prints one JSON line per workload and transport (fields of WORKLOAD.md
 * section 7 plus fsync, encrypted, transport, digest), then a readable
 * table. Two transports:
 *
 *   tcp-loopback  the real thing: A is a replica written through the public
 *                 API by this process; a real `carnet serve` runs on A and a
 *                 real `carnet sync 127.0.0.1:PORT --json` runs on B (trust
 *                 set up by hand with `carnet id` and `carnet peer trust`).
 *                 Encrypted (secretstream), every received batch committed
 *                 durably. Time = wall time of the `carnet sync` process;
 *                 bytes = its bytes_in + bytes_out (handshake included).
 *   inproc        two replicas in this process, carnet_changes_encode on one
 *                 and carnet_changes_apply on the other: encode and apply
 *                 timed apart, bytes = batch bytes (no framing, no crypto).
 *                 Commits are durable too.
 *
 * Data generation, digests and state dumps are not timed. Convergence is
 * checked end to end: W's digest is recomputed from every customer read back
 * from the replica (carnet_record_list) and compared with the generator's.
 * Benchmarks never fail on time; the exit code is 1 only when a replica does
 * not hold what it should.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <lmdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

#ifndef CARNET_BENCH_CLI
#define CARNET_BENCH_CLI "carnet"
#endif

/* --- options ---------------------------------------------------------------- */

typedef struct opts {
  uint32_t n, m, batch, growth_max;
  bool w1, w2, w3, raw, growth, inproc, tcp, keep;
  bool own_ids; /* --ids carnet: W1's records get ids made by Carnet (time-ordered) */
  const char *tmp, *carnet;
} opts;

/* --- one result line ------------------------------------------------------ */

#define NA (-1.0) /* a figure that does not apply: printed as null */

typedef struct res {
  bool ran;
  const char *workload, *transport;
  uint32_t n, m;
  double create_ms, update_a_ms, update_b_ms;
  double create_commit_ms; /* W1: the part of create_ms spent committing */
  double encode_ms, encode_a_ms, encode_b_ms, apply_ms, apply_a_ms, apply_b_ms;
  double sync_ms, session_ms, reverse_ms;
  uint64_t bytes, bytes_a_to_b, bytes_b_to_a, handshake_bytes, cells_a_to_b, cells_b_to_a;
  uint64_t batches, batches_a_to_b, batches_b_to_a;
  double rss_mb, rss_create_mb, rss_serve_mb, rss_sync_mb, anon_serve_mb, anon_sync_mb;
  double anon_create_mb;
  double written_create_mb, written_b_mb; /* block writes to disk: creating A, receiving on B */
  double cpu_serve_ms, cpu_sync_ms;
  double edit_med_ms, edit_p99_ms;
  bool converged;
  char digest[17];
  bool own_ids; /* W1 with ids made by Carnet (--ids carnet) */
  uint32_t winners_a, winners_b, bad_values;
  char why[4 * W_ROW_MAX + 1024]; /* when not converged */
} res;

static void res_init(res *r, const char *workload, const char *transport, uint32_t n, uint32_t m) {
  memset(r, 0, sizeof *r);
  r->ran = true;
  r->workload = workload;
  r->transport = transport;
  r->n = n;
  r->m = m;
  double *na[] = {
      &r->create_ms,     &r->create_commit_ms, &r->update_a_ms,    &r->update_b_ms,
      &r->encode_ms,     &r->encode_a_ms,      &r->encode_b_ms,    &r->apply_ms,
      &r->apply_a_ms,    &r->apply_b_ms,       &r->sync_ms,        &r->session_ms,
      &r->reverse_ms,    &r->rss_create_mb,    &r->rss_serve_mb,   &r->rss_sync_mb,
      &r->anon_serve_mb, &r->anon_sync_mb,     &r->anon_create_mb, &r->written_create_mb,
      &r->written_b_mb,  &r->cpu_serve_ms,     &r->cpu_sync_ms,    &r->edit_med_ms,
      &r->edit_p99_ms};
  for (size_t i = 0; i < sizeof na / sizeof na[0]; i++)
    *na[i] = NA;
}

/* A JSON line, built field by field. */
typedef struct jline {
  char buf[4096];
  size_t len;
} jline;

static void jadd(jline *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jadd(jline *j, const char *fmt, ...) {
  va_list ap;
  if (j->len >= sizeof j->buf) return;
  va_start(ap, fmt);
  int n = vsnprintf(j->buf + j->len, sizeof j->buf - j->len, fmt, ap);
  va_end(ap);
  if (n > 0) j->len += (size_t)n;
}
static void jkey(jline *j, const char *k) {
  jadd(j, "%s\"%s\":", j->len > 1 ? "," : "", k);
}
static void jstr(jline *j, const char *k, const char *v) {
  jkey(j, k);
  jadd(j, "\"%s\"", v);
}
static void jnum(jline *j, const char *k, double v) {
  jkey(j, k);
  if (v < 0)
    jadd(j, "null");
  else
    jadd(j, "%.3f", v);
}
static void jint(jline *j, const char *k, uint64_t v) {
  jkey(j, k);
  jadd(j, "%llu", (unsigned long long)v);
}
static void jbool(jline *j, const char *k, bool v) {
  jkey(j, k);
  jadd(j, v ? "true" : "false");
}
static void jopen(jline *j) {
  j->len = 0;
  jadd(j, "{");
}
static void jclose(jline *j) {
  jadd(j, "}");
  printf("%s\n", j->buf);
  fflush(stdout);
}

static void res_print(const res *r) {
  jline j;
  jopen(&j);
  jstr(&j, "peer", "carnet");
  jstr(&j, "workload", r->workload);
  jstr(&j, "transport", r->transport);
  jint(&j, "n", r->n);
  if (r->m) jint(&j, "m", r->m);
  jstr(&j, "ids", r->own_ids ? "carnet" : "w");
  jnum(&j, "create_ms", r->create_ms);
  jnum(&j, "create_commit_ms", r->create_commit_ms);
  if (r->m) {
    jnum(&j, "update_a_ms", r->update_a_ms);
    jnum(&j, "update_b_ms", r->update_b_ms);
  }
  jnum(&j, "encode_ms", r->encode_ms);
  if (r->m) {
    jnum(&j, "encode_a_ms", r->encode_a_ms);
    jnum(&j, "encode_b_ms", r->encode_b_ms);
  }
  jint(&j, "bytes", r->bytes);
  jnum(&j, "apply_ms", r->apply_ms);
  if (r->m) {
    jnum(&j, "apply_b_ms", r->apply_b_ms);
    jnum(&j, "apply_a_ms", r->apply_a_ms);
  }
  jbool(&j, "converged", r->converged);
  jnum(&j, "rss_mb", r->rss_mb);
  jbool(&j, "fsync", true);
  jbool(&j, "encrypted", strcmp(r->transport, "tcp-loopback") == 0);
  jstr(&j, "digest", r->digest);
  jnum(&j, "sync_ms", r->sync_ms);
  jnum(&j, "session_ms", r->session_ms);
  if (strcmp(r->transport, "inproc") == 0)
    jint(&j, "handshake_bytes", r->handshake_bytes);
  else
    jnum(&j, "handshake_bytes", NA); /* in bytes; carnet sync does not count it apart */
  jint(&j, "bytes_a_to_b", r->bytes_a_to_b);
  jint(&j, "bytes_b_to_a", r->bytes_b_to_a);
  jint(&j, "cells_a_to_b", r->cells_a_to_b);
  jint(&j, "cells_b_to_a", r->cells_b_to_a);
  jint(&j, "batches", r->batches);
  jint(&j, "batches_a_to_b", r->batches_a_to_b);
  jint(&j, "batches_b_to_a", r->batches_b_to_a);
  if (r->m) jnum(&j, "bytes_per_field", (double)r->bytes / (2.0 * r->m));
  jnum(&j, "rss_create_mb", r->rss_create_mb);
  jnum(&j, "rss_serve_mb", r->rss_serve_mb);
  jnum(&j, "rss_sync_mb", r->rss_sync_mb);
  jnum(&j, "anon_serve_mb", r->anon_serve_mb);
  jnum(&j, "anon_sync_mb", r->anon_sync_mb);
  jnum(&j, "anon_create_mb", r->anon_create_mb);
  jnum(&j, "disk_write_create_mb", r->written_create_mb);
  jnum(&j, "disk_write_b_mb", r->written_b_mb);
  jnum(&j, "cpu_serve_ms", r->cpu_serve_ms);
  jnum(&j, "cpu_sync_ms", r->cpu_sync_ms);
  if (r->reverse_ms >= 0) jnum(&j, "reverse_ms", r->reverse_ms);
  if (r->edit_med_ms >= 0) {
    jnum(&j, "edit_median_ms", r->edit_med_ms);
    jnum(&j, "edit_p99_ms", r->edit_p99_ms);
  }
  if (strcmp(r->workload, "w3") == 0) {
    jint(&j, "winners_a", r->winners_a);
    jint(&j, "winners_b", r->winners_b);
    jint(&j, "bad_values", r->bad_values);
  }
  jclose(&j);
  if (!r->converged && r->why[0])
    fprintf(stderr, "carnet-bench: %s %s did not converge:\n%s\n", r->workload, r->transport,
            r->why);
}

/* --- context ---------------------------------------------------------------- */

typedef struct growth_res {
  uint32_t n;
  double create_ms, sync_ms, session_ms;
  double rss_create_mb, rss_serve_mb, rss_sync_mb, anon_serve_mb, anon_sync_mb, anon_create_mb;
  double written_create_mb, written_b_mb, cpu_serve_ms, cpu_sync_ms;
  uint64_t bytes;
  bool converged;
  bool ok;
} growth_res;

typedef struct ctx {
  opts o;
  char root[1024];
  char dir_a[1100], dir_b[1100], dir_a2[1100], dir_b2[1100];
  w_index ix;
  w_update *w2a, *w2b, *w3;
  uint8_t exp_w1[32], exp_w2[32];
  bool w2_done; /* the replicas hold W2's edits */
  carnet_replica *a2, *b2;
  res t1, p1, t2, p2, t3, p3;
  bench_raw raw;
  bool have_raw;
  /* The catch-ups after W1 over TCP: [after creation, after the sync]
   * [the duplicate check's, the first search's], ms (catchup_print). */
  double catchup_ms[2][2];
  bool have_catchup;
  double data_a_mb, data_b_mb; /* data.mdb's allocated bytes after creation, after the sync */
  growth_res g[8];
  size_t ng;
  bool failed;
} ctx;

static void path_join(char *out, size_t len, const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  if (a + 1 + b + 1 > len) bench_die("path too long: %s/%s", dir, name);
  memcpy(out, dir, a);
  out[a] = '/';
  memcpy(out + a + 1, name, b + 1);
}

static void hex16(const uint8_t d[32], char out[17]) {
  char full[65];
  w_hex(d, 32, full);
  memcpy(out, full, 16);
  out[16] = '\0';
}

static carnet_replica *open_dir(const char *dir, bool create) {
  carnet_replica *r;
  char why[512];
  int rc = create ? carnet_replica_init(dir, NULL, &r, why, sizeof why)
                  : carnet_replica_open(dir, NULL, &r, why, sizeof why);
  if (rc) bench_die("cannot %s the replica %s: %s", create ? "create" : "open", dir, why);
  return r;
}

/* --- the real binary --------------------------------------------------------- */

static char *cli_ok(ctx *c, const char *log, const char *const *args) {
  const char *argv[16];
  size_t k = 0;
  argv[k++] = c->o.carnet;
  for (; *args && k < 15; args++)
    argv[k++] = *args;
  argv[k] = NULL;
  char *out;
  int st = bench_run(argv, log, &out, NULL, NULL, NULL, 0);
  if (st != 0) {
    fprintf(stderr, "carnet-bench: '%s", c->o.carnet);
    for (size_t i = 1; i < k; i++)
      fprintf(stderr, " %s", argv[i]);
    bench_die("' exited %d (see %s)", st, log);
  }
  return out;
}

#define CLI(c, log, ...) cli_ok((c), (log), (const char *const[]){__VA_ARGS__, NULL})

static void json_field(const char *text, const char *key, char *out, size_t len) {
  json_error_t err;
  json_t *j = json_loads(text, 0, &err);
  json_t *v = j ? json_object_get(j, key) : NULL;
  if (!json_is_string(v)) bench_die("no '%s' in: %s", key, text);
  snprintf(out, len, "%s", json_string_value(v));
  json_decref(j);
}

/* `newcomer` trusts `member` and adopts its team; `member` trusts
 * `newcomer`: by hand, as a user would with `carnet id`. */
static void trust_pair(ctx *c, const char *member, const char *newcomer) {
  char log[4200], mkey[80], mteam[40], nkey[80];
  snprintf(log, sizeof log, "%s/cli.log", c->root);
  char *out = CLI(c, log, "--dir", member, "id", "--json");
  json_field(out, "key", mkey, sizeof mkey);
  json_field(out, "team", mteam, sizeof mteam);
  free(out);
  out = CLI(c, log, "--dir", newcomer, "id", "--json");
  json_field(out, "key", nkey, sizeof nkey);
  free(out);
  free(CLI(c, log, "--dir", newcomer, "peer", "trust", mkey, "--team", mteam));
  free(CLI(c, log, "--dir", member, "peer", "trust", nkey));
}

typedef struct tcp_out {
  double wall_ms, session_ms;
  double written_sync_mb;           /* the sync process's block writes (ru_oublock) */
  double cpu_serve_ms, cpu_sync_ms; /* user + system time of each process */
  uint64_t bytes_in, bytes_out, cells_in, cells_out, batches_in, batches_out;
  double rss_serve, rss_sync, anon_serve, anon_sync;
} tcp_out;

static double tv_ms(const struct timeval *tv) {
  return (double)tv->tv_sec * 1e3 + (double)tv->tv_usec / 1e3;
}

static uint64_t jget_u64(json_t *j, const char *k) {
  json_t *v = json_object_get(j, k);
  if (!json_is_integer(v)) bench_die("no integer '%s' in the output of carnet sync", k);
  return (uint64_t)json_integer_value(v);
}

/* `carnet serve` on A, one `carnet sync` from B; both exit before this
 * returns. */
static void tcp_sync(ctx *c, const char *dir_a, const char *dir_b, const char *tag, tcp_out *o) {
  char slog[4200], ylog[4200], addr[128];
  bench_child serve;
  memset(o, 0, sizeof *o);
  snprintf(slog, sizeof slog, "%s/serve-%s.log", c->root, tag);
  snprintf(ylog, sizeof ylog, "%s/sync-%s.log", c->root, tag);
  const char *sargv[] = {c->o.carnet, "--dir", dir_a, "serve", "--listen", "127.0.0.1:0", NULL};
  if (bench_spawn(sargv, slog, true, &serve) != 0) bench_die("cannot start carnet serve");
  if (!bench_read_line(&serve, "listening on ", addr, sizeof addr, 60000))
    bench_die("carnet serve on %s did not say where it listens (see %s)", dir_a, slog);
  bench_sampler *sm = bench_sampler_start();
  bench_sampler_watch(sm, 0, serve.pid);
  const char *yargv[] = {c->o.carnet, "--dir",     dir_b, "sync", addr,
                         "--json",    "--timeout", "60m", NULL};
  char *out;
  struct rusage ru;
  int st = bench_run(yargv, ylog, &out, &o->wall_ms, &ru, sm, 1);
  bench_mem sv;
  bench_proc_mem(serve.pid, &sv);
  kill(serve.pid, SIGTERM);
  int sst = bench_wait(&serve);
  double anon[2], rss[2];
  bench_sampler_stop(sm, anon, rss);
  if (st != 0) bench_die("carnet sync exited %d (see %s): %s", st, ylog, out);
  if (sst != 0) fprintf(stderr, "carnet-bench: carnet serve exited %d after SIGTERM\n", sst);
  json_error_t err;
  json_t *j = json_loads(out, 0, &err);
  if (j == NULL) bench_die("carnet sync --json printed no JSON: %s", out);
  o->bytes_in = jget_u64(j, "bytes_in");
  o->bytes_out = jget_u64(j, "bytes_out");
  o->cells_in = jget_u64(j, "cells_in");
  o->cells_out = jget_u64(j, "cells_out");
  o->batches_in = jget_u64(j, "batches_in");
  o->batches_out = jget_u64(j, "batches_out");
  o->session_ms = json_real_value(json_object_get(j, "seconds")) * 1000.0;
  json_decref(j);
  free(out);
  /* Peak RSS: VmHWM of serve before it stops, ru_maxrss of sync. */
  o->rss_serve = sv.hwm > rss[0] ? sv.hwm : rss[0];
  if ((double)serve.ru.ru_maxrss / 1024.0 > o->rss_serve)
    o->rss_serve = (double)serve.ru.ru_maxrss / 1024.0;
  o->rss_sync = (double)ru.ru_maxrss / 1024.0;
  o->written_sync_mb = (double)ru.ru_oublock * 512.0 / 1e6;
  o->cpu_sync_ms = tv_ms(&ru.ru_utime) + tv_ms(&ru.ru_stime);
  o->cpu_serve_ms = tv_ms(&serve.ru.ru_utime) + tv_ms(&serve.ru.ru_stime);
  o->anon_serve = anon[0];
  o->anon_sync = anon[1];
}

static void fill_tcp(res *r, const tcp_out *t) {
  r->sync_ms = t->wall_ms;
  r->session_ms = t->session_ms;
  r->bytes_a_to_b = t->bytes_in;
  r->bytes_b_to_a = t->bytes_out;
  r->bytes = t->bytes_in + t->bytes_out;
  r->cells_a_to_b = t->cells_in;
  r->cells_b_to_a = t->cells_out;
  r->batches = t->batches_in + t->batches_out;
  r->batches_a_to_b = t->batches_in;
  r->batches_b_to_a = t->batches_out;
  r->rss_serve_mb = t->rss_serve;
  r->rss_sync_mb = t->rss_sync;
  r->anon_serve_mb = t->anon_serve;
  r->anon_sync_mb = t->anon_sync;
  r->rss_mb = t->rss_serve > t->rss_sync ? t->rss_serve : t->rss_sync;
  r->written_b_mb = t->written_sync_mb;
  r->cpu_serve_ms = t->cpu_serve_ms;
  r->cpu_sync_ms = t->cpu_sync_ms;
}

/* --- convergence ----------------------------------------------------------- */

/* Both replicas against the expected state; W digest of B into r->digest. */
static void check_pair(ctx *c, res *r, carnet_replica *ra, const char *dir_a, carnet_replica *rb,
                       const char *dir_b, const bench_expect *e, const uint8_t *want) {
  bench_check ca, cb;
  uint8_t sa[32], sb[32];
  /* Ids made by Carnet are not W's: the rows cannot be matched with W's by
   * id, so A is checked against B (same state, same rows) and the count. */
  r->own_ids = c->o.own_ids;
  if (c->o.own_ids) e = NULL, want = NULL;
  if (ra) {
    if (bench_replica_check(ra, e, &ca) || carnet_replica_get_digest(ra, sa))
      bench_die("reading A");
  } else if (bench_dir_check(dir_a, e, &ca, sa)) {
    bench_die("reading %s", dir_a);
  }
  if (rb) {
    if (bench_replica_check(rb, e, &cb) || carnet_replica_get_digest(rb, sb))
      bench_die("reading B");
  } else if (bench_dir_check(dir_b, e, &cb, sb)) {
    bench_die("reading %s", dir_b);
  }
  hex16(cb.digest, r->digest);
  bool same_w = memcmp(ca.digest, cb.digest, 32) == 0;
  bool same_state = memcmp(sa, sb, 32) == 0;
  bool as_expected = want == NULL || memcmp(cb.digest, want, 32) == 0;
  r->converged = same_w && same_state && as_expected && ca.mismatch == 0 && cb.mismatch == 0;
  if (c->o.own_ids && (ca.rows != c->o.n || cb.rows != c->o.n)) {
    r->converged = false;
    snprintf(r->why, sizeof r->why, "  rows A %llu, rows B %llu, expected %u",
             (unsigned long long)ca.rows, (unsigned long long)cb.rows, c->o.n);
    c->failed = true;
    return;
  }
  if (!r->converged) {
    char da[65], db[65], dw[65] = "(any)";
    w_hex(ca.digest, 32, da);
    w_hex(cb.digest, 32, db);
    if (want) w_hex(want, 32, dw);
    snprintf(r->why, sizeof r->why,
             "  W digest A %s\n  W digest B %s\n  expected   %s\n  state digests %s\n"
             "  rows A %llu (%llu wrong), rows B %llu (%llu wrong)\n  first wrong row of A: "
             "%s\n  first wrong row of B: %s",
             da, db, dw, same_state ? "equal" : "DIFFER", (unsigned long long)ca.rows,
             (unsigned long long)ca.mismatch, (unsigned long long)cb.rows,
             (unsigned long long)cb.mismatch, ca.first_bad, cb.first_bad);
    c->failed = true;
  }
}

/* W3: the notes of each of the M records are equal on A and B and are va
 * or vb. */
static void check_w3_values(ctx *c, res *r, carnet_replica *ra, carnet_replica *rb) {
  r->winners_a = r->winners_b = r->bad_values = 0;
  for (uint32_t k = 0; k < c->o.m; k++) {
    carnet_id id;
    carnet_record *x, *y;
    memcpy(id.b, c->ix.by_gen[c->w3[k].idx].id, 16);
    if (carnet_record_get(ra, &id, &x) || carnet_record_get(rb, &id, &y))
      bench_die("W3: a record is missing");
    const char *nx = carnet_record_str(x, CARNET_F_NOTES),
               *ny = carnet_record_str(y, CARNET_F_NOTES);
    if (nx && ny && strcmp(nx, ny) == 0 && strcmp(nx, c->w3[k].va) == 0)
      r->winners_a++;
    else if (nx && ny && strcmp(nx, ny) == 0 && strcmp(nx, c->w3[k].vb) == 0)
      r->winners_b++;
    else
      r->bad_values++;
    carnet_record_free(x);
    carnet_record_free(y);
  }
  if (r->bad_values) {
    r->converged = false;
    c->failed = true;
    snprintf(r->why, sizeof r->why, "  %u of the W3 records hold neither va nor vb, or differ",
             r->bad_values);
  }
}

/* The expectation after the edits made so far (W3 records: any notes). */
static void expect_now(ctx *c, bench_expect *e, bool w3) {
  if (bench_expect_init(e, &c->ix, c->w2_done ? c->w2a : NULL, c->w2_done ? c->w2b : NULL,
                        c->o.m) != 0)
    bench_die("out of memory");
  if (w3) {
    e->w3mark = calloc(c->ix.n, 1);
    if (e->w3mark == NULL) bench_die("out of memory");
    for (uint32_t k = 0; k < c->o.m; k++)
      e->w3mark[c->w3[k].idx] = 1;
  }
}

/* --- edits (W2, W3) ----------------------------------------------------------- */

typedef enum edit_kind { E_PHONE, E_STREET, E_NOTES_A, E_NOTES_B } edit_kind;

/* M edits, one durable transaction each; total ms, latencies appended. */
static double edits(ctx *c, carnet_replica *r, const w_update *u, edit_kind kind, double *lat) {
  double total = 0;
  for (uint32_t k = 0; k < c->o.m; k++) {
    carnet_id id;
    memcpy(id.b, c->ix.by_gen[u[k].idx].id, 16);
    double t0 = bench_now_ms();
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    int rc = p ? 0 : CARNET_ENOMEM;
    if (rc == 0) {
      switch (kind) {
      case E_PHONE:
        rc = carnet_patch_phone_replace(p, "work", u[k].va);
        break;
      case E_STREET:
        rc = carnet_patch_set(p, CARNET_F_STREET, u[k].va);
        break;
      case E_NOTES_A:
        rc = carnet_patch_set(p, CARNET_F_NOTES, u[k].va);
        break;
      case E_NOTES_B:
        rc = carnet_patch_set(p, CARNET_F_NOTES, u[k].vb);
        break;
      }
    }
    if (rc == 0) rc = carnet_record_update_commit(r, &id, p);
    carnet_patch_free(p);
    double dt = bench_now_ms() - t0;
    if (rc) bench_die("edit %u: %s: %s", k, carnet_error_message(rc), carnet_replica_errmsg(r));
    lat[k] = dt;
    total += dt;
  }
  return total;
}

static void edit_stats(res *r, double *lat, size_t n) {
  r->edit_med_ms = bench_percentile(lat, n, 50);
  r->edit_p99_ms = bench_percentile(lat, n, 99);
}

/* --- in-process change streams --------------------------------------------- */

typedef struct stream {
  carnet_buf *b;
  size_t n, cap;
  uint64_t bytes, cells;
} stream;

/* Encodes every batch `from` its mark for the receiver; ms. */
static double encode_all(carnet_replica *src, carnet_replica *dst, stream *s) {
  carnet_mark from;
  memset(s, 0, sizeof *s);
  if (carnet_changes_get_mark(dst, carnet_replica_id(src), &from))
    bench_die("carnet_changes_get_mark");
  double t0 = bench_now_ms();
  for (;;) {
    carnet_buf b;
    carnet_batch_info info;
    int rc = carnet_changes_encode(src, &from, 256 * 1024, &b, &info);
    if (rc) bench_die("carnet_changes_encode: %s", carnet_error_message(rc));
    if (s->n == s->cap) {
      s->cap = s->cap ? 2 * s->cap : 64;
      s->b = realloc(s->b, s->cap * sizeof *s->b);
      if (s->b == NULL) bench_die("out of memory");
    }
    s->b[s->n++] = b;
    s->bytes += b.len;
    s->cells += info.cells;
    if (!info.more) break;
    from.after = info.upto;
  }
  return bench_now_ms() - t0;
}

static double apply_all(carnet_replica *dst, stream *s) {
  double t0 = bench_now_ms();
  for (size_t i = 0; i < s->n; i++) {
    int rc = carnet_changes_apply(dst, s->b[i].base, s->b[i].len, NULL, NULL);
    if (rc)
      bench_die("carnet_changes_apply: %s: %s", carnet_error_message(rc),
                carnet_replica_errmsg(dst));
  }
  double ms = bench_now_ms() - t0;
  for (size_t i = 0; i < s->n; i++)
    free((void *)s->b[i].base);
  free(s->b);
  memset(s, 0, sizeof *s);
  return ms;
}

/* W1 in process: encode a batch, apply it, next (memory stays bounded). */
static void stream_interleaved(carnet_replica *src, carnet_replica *dst, double *enc, double *app,
                               uint64_t *bytes, uint64_t *cells, uint64_t *batches) {
  carnet_mark from;
  if (carnet_changes_get_mark(dst, carnet_replica_id(src), &from))
    bench_die("carnet_changes_get_mark");
  *enc = *app = 0;
  *bytes = *cells = *batches = 0;
  for (;;) {
    carnet_buf b;
    carnet_batch_info info;
    double t0 = bench_now_ms();
    int rc = carnet_changes_encode(src, &from, 256 * 1024, &b, &info);
    double t1 = bench_now_ms();
    if (rc) bench_die("carnet_changes_encode: %s", carnet_error_message(rc));
    rc = carnet_changes_apply(dst, b.base, b.len, NULL, NULL);
    double t2 = bench_now_ms();
    if (rc)
      bench_die("carnet_changes_apply: %s: %s", carnet_error_message(rc),
                carnet_replica_errmsg(dst));
    *enc += t1 - t0;
    *app += t2 - t1;
    *bytes += b.len;
    *cells += info.cells;
    (*batches)++;
    carnet_free((void *)b.base);
    if (!info.more) break;
    from.after = info.upto;
  }
}

/* --- W1 ----------------------------------------------------------------------- */

/* W1's N records created in `r` by this process; peak anonymous memory of
 * this process meanwhile (sampled) in *anon. */
static double create_sampled(ctx *c, carnet_replica *r, uint32_t n, double *anon,
                             double *written_mb, double *commit_ms) {
  struct rusage r0, r1;
  bench_sampler *sm = bench_sampler_start();
  bench_sampler_watch(sm, 0, getpid());
  getrusage(RUSAGE_SELF, &r0);
  double ms = bench_create_w1(r, n, c->o.batch, c->o.own_ids, commit_ms);
  getrusage(RUSAGE_SELF, &r1);
  double a[2];
  bench_sampler_stop(sm, a, NULL);
  *anon = a[0];
  *written_mb = (double)(r1.ru_oublock - r0.ru_oublock) * 512.0 / 1e6;
  if (ms < 0) bench_die("creating W1 in %s failed", carnet_replica_dir(r));
  return ms;
}

/* The allocated bytes of a replica's data file (with a writable map, its
 * apparent size is the map's). */
static double data_file_mb(const char *dir) {
  char path[1200];
  struct stat sb;
  snprintf(path, sizeof path, "%s/data.mdb", dir);
  return stat(path, &sb) == 0 ? (double)sb.st_blocks * 512.0 / 1e6 : 0;
}

static int count_record(const carnet_record *rec, void *data) {
  (void)rec;
  ++*(size_t *)data;
  return 0;
}

/* The blind index's catch-up that the first duplicate check after a bulk
 * write runs (engine/store/index.c, E3), on its own line so that no other
 * figure hides it: one carnet_record_lookup, timed, with its CPU time and
 * disk writes, the data file's size then, and this process's private
 * memory (RssAnon) before it and at its peak (sampled every 5 ms). With
 * `search`, the first text search instead (carnet_record_list with a
 * text filter), whose catch-up writes the search signatures that the
 * duplicate check left to it (engine/crm/searchsig.h): measure
 * "search_catchup". */
static double catchup_print(carnet_replica *r, const char *after, uint32_t n, bool search) {
  struct rusage r0, r1;
  carnet_id id;
  size_t found = 0;
  bench_mem m0;
  double anon[2];
  bench_proc_mem(getpid(), &m0);
  bench_sampler *sm = bench_sampler_start();
  bench_sampler_watch(sm, 0, getpid());
  getrusage(RUSAGE_SELF, &r0);
  double t0 = bench_now_ms();
  carnet_filter text = {.text = "nobody qzwx"};
  int rc = search ? carnet_record_list(r, CARNET_KIND_CUSTOMER, &text, count_record, &found)
                  : carnet_record_lookup(r, CARNET_LOOKUP_EMAIL, "nobody@example.invalid", &id, 1,
                                         &found);
  double ms = bench_now_ms() - t0;
  getrusage(RUSAGE_SELF, &r1);
  bench_sampler_stop(sm, anon, NULL);
  if (rc) bench_die("index catch-up in %s: %s", carnet_replica_dir(r), carnet_replica_errmsg(r));
  double data_mb = data_file_mb(carnet_replica_dir(r));
  double cpu = bench_cpu_ms(&r0, &r1);
  jline j;
  jopen(&j);
  jstr(&j, "peer", "carnet");
  jstr(&j, "measure", search ? "search_catchup" : "index_catchup");
  jstr(&j, "after", after);
  jint(&j, "n", n);
  jnum(&j, "ms", ms);
  jnum(&j, "cpu_ms", cpu);
  jnum(&j, "disk_write_mb", (double)(r1.ru_oublock - r0.ru_oublock) * 512.0 / 1e6);
  jnum(&j, "data_file_mb", data_mb);
  jnum(&j, "anon_before_mb", m0.anon);
  jnum(&j, "anon_peak_mb", anon[0]);
  jclose(&j);
  return ms;
}

static void run_w1_tcp(ctx *c) {
  res *r = &c->t1;
  res_init(r, "w1", "tcp-loopback", c->o.n, 0);
  carnet_replica *a = open_dir(c->dir_a, true);
  r->create_ms =
      create_sampled(c, a, c->o.n, &r->anon_create_mb, &r->written_create_mb, &r->create_commit_ms);
  carnet_replica_close(a);
  c->data_a_mb = data_file_mb(c->dir_a);
  r->rss_create_mb = bench_self_maxrss_mb();
  carnet_replica_close(open_dir(c->dir_b, true));
  trust_pair(c, c->dir_a, c->dir_b);
  tcp_out t;
  tcp_sync(c, c->dir_a, c->dir_b, "w1", &t);
  c->data_b_mb = data_file_mb(c->dir_b);
  fill_tcp(r, &t);
  bench_expect e;
  expect_now(c, &e, false);
  check_pair(c, r, NULL, c->dir_a, NULL, c->dir_b, &e, c->exp_w1);
  bench_expect_free(&e);
  res_print(r);
  /* The catch-ups the first duplicate check on either side runs. */
  a = open_dir(c->dir_a, false);
  c->catchup_ms[0][0] = catchup_print(a, "w1_create", c->o.n, false);
  c->catchup_ms[0][1] = catchup_print(a, "w1_create", c->o.n, true);
  carnet_replica_close(a);
  carnet_replica *b = open_dir(c->dir_b, false);
  c->catchup_ms[1][0] = catchup_print(b, "w1_sync", c->o.n, false);
  c->catchup_ms[1][1] = catchup_print(b, "w1_sync", c->o.n, true);
  carnet_replica_close(b);
  c->have_catchup = true;
}

static void run_w1_inproc(ctx *c, bool keep_open) {
  res *r = &c->p1;
  res_init(r, "w1", "inproc", c->o.n, 0);
  c->a2 = open_dir(c->dir_a2, true);
  r->create_ms = create_sampled(c, c->a2, c->o.n, &r->anon_create_mb, &r->written_create_mb,
                                &r->create_commit_ms);
  r->rss_create_mb = bench_self_maxrss_mb();
  c->b2 = open_dir(c->dir_b2, true);
  uint64_t cells;
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  stream_interleaved(c->a2, c->b2, &r->encode_ms, &r->apply_ms, &r->bytes_a_to_b, &cells,
                     &r->batches);
  getrusage(RUSAGE_SELF, &r1);
  r->written_b_mb = (double)(r1.ru_oublock - r0.ru_oublock) * 512.0 / 1e6;
  r->bytes = r->bytes_a_to_b;
  r->batches_a_to_b = r->batches;
  r->cells_a_to_b = cells;
  r->handshake_bytes = 16; /* the mark B asks from: what a REQ carries */
  r->bytes += r->handshake_bytes;
  r->rss_mb = bench_self_maxrss_mb();
  bench_expect e;
  expect_now(c, &e, false);
  check_pair(c, r, c->a2, NULL, c->b2, NULL, &e, c->exp_w1);
  bench_expect_free(&e);
  if (keep_open) {
    /* B's stream back to A, so each side holds a mark for the other (a
     * session does this in the same run, skipping the cells A wrote). Not
     * part of W1; its time says what an echo of N records costs. */
    stream s;
    double enc = encode_all(c->b2, c->a2, &s);
    double app = apply_all(c->a2, &s);
    r->reverse_ms = enc + app;
  } else {
    carnet_replica_close(c->a2);
    carnet_replica_close(c->b2);
    c->a2 = c->b2 = NULL;
  }
  res_print(r);
}

/* --- W2, W3 ------------------------------------------------------------------ */

static void run_edits_tcp(ctx *c, bool w3) {
  res *r = w3 ? &c->t3 : &c->t2;
  uint32_t m = c->o.m;
  res_init(r, w3 ? "w3" : "w2", "tcp-loopback", c->o.n, m);
  double *lat = malloc(2 * (size_t)m * sizeof *lat);
  if (lat == NULL) bench_die("out of memory");
  carnet_replica *a = open_dir(c->dir_a, false), *b = open_dir(c->dir_b, false);
  r->update_a_ms = edits(c, a, w3 ? c->w3 : c->w2a, w3 ? E_NOTES_A : E_PHONE, lat);
  r->update_b_ms = edits(c, b, w3 ? c->w3 : c->w2b, w3 ? E_NOTES_B : E_STREET, lat + m);
  r->create_ms = r->update_a_ms + r->update_b_ms;
  edit_stats(r, lat, 2 * (size_t)m);
  free(lat);
  carnet_replica_close(a);
  carnet_replica_close(b);
  tcp_out t;
  tcp_sync(c, c->dir_a, c->dir_b, w3 ? "w3" : "w2", &t);
  fill_tcp(r, &t);
  bench_expect e;
  bool saved = c->w2_done;
  if (!w3) c->w2_done = true; /* the expectation includes W2 now */
  expect_now(c, &e, w3);
  a = open_dir(c->dir_a, false);
  b = open_dir(c->dir_b, false);
  check_pair(c, r, a, NULL, b, NULL, &e, w3 ? NULL : c->exp_w2);
  if (w3) check_w3_values(c, r, a, b);
  carnet_replica_close(a);
  carnet_replica_close(b);
  bench_expect_free(&e);
  c->w2_done = saved;
  res_print(r);
}

static void run_edits_inproc(ctx *c, bool w3, bool w2_applied) {
  res *r = w3 ? &c->p3 : &c->p2;
  uint32_t m = c->o.m;
  res_init(r, w3 ? "w3" : "w2", "inproc", c->o.n, m);
  double *lat = malloc(2 * (size_t)m * sizeof *lat);
  if (lat == NULL) bench_die("out of memory");
  r->update_a_ms = edits(c, c->a2, w3 ? c->w3 : c->w2a, w3 ? E_NOTES_A : E_PHONE, lat);
  r->update_b_ms = edits(c, c->b2, w3 ? c->w3 : c->w2b, w3 ? E_NOTES_B : E_STREET, lat + m);
  r->create_ms = r->update_a_ms + r->update_b_ms;
  edit_stats(r, lat, 2 * (size_t)m);
  free(lat);
  /* Both deltas are made before either is applied: concurrent edits. */
  stream ab, ba;
  r->encode_a_ms = encode_all(c->a2, c->b2, &ab);
  r->encode_b_ms = encode_all(c->b2, c->a2, &ba);
  r->encode_ms = r->encode_a_ms + r->encode_b_ms;
  r->bytes_a_to_b = ab.bytes;
  r->bytes_b_to_a = ba.bytes;
  r->cells_a_to_b = ab.cells;
  r->cells_b_to_a = ba.cells;
  r->batches = ab.n + ba.n;
  r->batches_a_to_b = ab.n;
  r->batches_b_to_a = ba.n;
  r->handshake_bytes = 32; /* each side's mark */
  r->bytes = ab.bytes + ba.bytes + r->handshake_bytes;
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  r->apply_b_ms = apply_all(c->b2, &ab);
  getrusage(RUSAGE_SELF, &r1);
  r->written_b_mb = (double)(r1.ru_oublock - r0.ru_oublock) * 512.0 / 1e6;
  r->apply_a_ms = apply_all(c->a2, &ba);
  r->apply_ms = r->apply_a_ms + r->apply_b_ms;
  /* Untimed: each side's mark past what it just received. Applying moved
   * the received entities in the receiver's change index, and the public
   * carnet_changes_encode has no "not the peer's own cells" filter (a session
   * has), so the next exchange would echo them; this round carries that
   * echo (applied: 0 cells) so the next workload starts clean. */
  stream e1, e2;
  encode_all(c->a2, c->b2, &e1);
  apply_all(c->b2, &e1);
  encode_all(c->b2, c->a2, &e2);
  apply_all(c->a2, &e2);
  r->rss_mb = bench_self_maxrss_mb();
  bench_expect e;
  bool saved = c->w2_done;
  c->w2_done = w3 ? w2_applied : true;
  expect_now(c, &e, w3);
  check_pair(c, r, c->a2, NULL, c->b2, NULL, &e, w3 ? NULL : c->exp_w2);
  if (w3) check_w3_values(c, r, c->a2, c->b2);
  bench_expect_free(&e);
  c->w2_done = saved;
  res_print(r);
}

/* --- growth ------------------------------------------------------------------- */

/* One N in a child process, so each N has its own peak RSS. */
static void growth_child(ctx *c, uint32_t n, int wfd) __attribute__((noreturn));
static void growth_child(ctx *c, uint32_t n, int wfd) {
  growth_res g = {.n = n};
  char dir[1060];
  snprintf(dir, sizeof dir, "%s/g%u", c->root, n);
  mkdir(dir, 0700);
  path_join(c->dir_a, sizeof c->dir_a, dir, "A");
  path_join(c->dir_b, sizeof c->dir_b, dir, "B");
  w_index ix;
  uint8_t want[32];
  if (w_index_build(&ix, n) != 0 || w_expected_digest(&ix, NULL, NULL, 0, want) != 0)
    bench_die("out of memory");
  carnet_replica *a = open_dir(c->dir_a, true);
  g.create_ms = create_sampled(c, a, n, &g.anon_create_mb, &g.written_create_mb, NULL);
  carnet_replica_close(a);
  g.rss_create_mb = bench_self_maxrss_mb();
  carnet_replica_close(open_dir(c->dir_b, true));
  trust_pair(c, c->dir_a, c->dir_b);
  tcp_out t;
  char tag[32];
  snprintf(tag, sizeof tag, "growth-%u", n);
  tcp_sync(c, c->dir_a, c->dir_b, tag, &t);
  g.sync_ms = t.wall_ms;
  g.session_ms = t.session_ms;
  g.rss_serve_mb = t.rss_serve;
  g.rss_sync_mb = t.rss_sync;
  g.anon_serve_mb = t.anon_serve;
  g.anon_sync_mb = t.anon_sync;
  g.bytes = t.bytes_in + t.bytes_out;
  g.written_b_mb = t.written_sync_mb;
  g.cpu_serve_ms = t.cpu_serve_ms;
  g.cpu_sync_ms = t.cpu_sync_ms;
  bench_expect e;
  bench_check ck;
  if (bench_expect_init(&e, &ix, NULL, NULL, 0) != 0) bench_die("out of memory");
  if (c->o.own_ids) { /* not W's ids: A against B, and the count */
    bench_check ca;
    uint8_t sa[32], sb[32];
    if (bench_dir_check(c->dir_a, NULL, &ca, sa) || bench_dir_check(c->dir_b, NULL, &ck, sb))
      bench_die("reading %s", dir);
    g.converged = ca.rows == n && ck.rows == n && memcmp(sa, sb, 32) == 0 &&
                  memcmp(ca.digest, ck.digest, 32) == 0;
  } else {
    if (bench_dir_check(c->dir_b, &e, &ck, NULL) != 0) bench_die("reading %s", c->dir_b);
    g.converged = ck.mismatch == 0 && memcmp(ck.digest, want, 32) == 0;
  }
  bench_expect_free(&e);
  w_index_free(&ix);
  g.ok = g.create_ms >= 0;
  if (write(wfd, &g, sizeof g) != (ssize_t)sizeof g) _exit(2);
  if (!c->o.keep) bench_rm_rf(dir);
  _exit(0);
}

static void run_growth(ctx *c) {
  static const uint32_t sizes[] = {10000, 100000, 1000000};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    uint32_t n = sizes[i];
    if (n > c->o.growth_max) break;
    int pfd[2];
    if (pipe(pfd) != 0) bench_die("pipe");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) bench_die("fork");
    if (pid == 0) {
      /* A fresh image, so the child's memory is its own, not a copy of ours. */
      char ns[16], fd[16], batch[16];
      snprintf(ns, sizeof ns, "%u", n);
      snprintf(fd, sizeof fd, "%d", pfd[1]);
      snprintf(batch, sizeof batch, "%u", c->o.batch);
      close(pfd[0]);
      const char *argv[] = {"carnet-bench",
                            "--growth-one",
                            ns,
                            "--root",
                            c->root,
                            "--result-fd",
                            fd,
                            "--batch",
                            batch,
                            "--carnet",
                            c->o.carnet,
                            "--ids",
                            c->o.own_ids ? "carnet" : "w",
                            c->o.keep ? "--keep" : NULL,
                            NULL};
      execv("/proc/self/exe", (char *const *)argv);
      _exit(127);
    }
    close(pfd[1]);
    growth_res g;
    memset(&g, 0, sizeof g);
    ssize_t got = read(pfd[0], &g, sizeof g);
    close(pfd[0]);
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    if (got != (ssize_t)sizeof g || !g.ok) bench_die("the growth run at N = %u failed", n);
    c->g[c->ng++] = g;
    if (!g.converged) c->failed = true;
    jline j;
    jopen(&j);
    jstr(&j, "peer", "carnet");
    jstr(&j, "workload", "w1-growth");
    jstr(&j, "transport", "tcp-loopback");
    jint(&j, "n", n);
    jnum(&j, "create_ms", g.create_ms);
    jnum(&j, "sync_ms", g.sync_ms);
    jnum(&j, "session_ms", g.session_ms);
    jint(&j, "bytes", g.bytes);
    jbool(&j, "converged", g.converged);
    jnum(&j, "rss_mb", g.rss_serve_mb > g.rss_sync_mb ? g.rss_serve_mb : g.rss_sync_mb);
    jnum(&j, "rss_create_mb", g.rss_create_mb);
    jnum(&j, "rss_serve_mb", g.rss_serve_mb);
    jnum(&j, "rss_sync_mb", g.rss_sync_mb);
    jnum(&j, "anon_serve_mb", g.anon_serve_mb);
    jnum(&j, "anon_sync_mb", g.anon_sync_mb);
    jnum(&j, "anon_create_mb", g.anon_create_mb);
    jnum(&j, "disk_write_create_mb", g.written_create_mb);
    jnum(&j, "disk_write_b_mb", g.written_b_mb);
    jnum(&j, "cpu_serve_ms", g.cpu_serve_ms);
    jnum(&j, "cpu_sync_ms", g.cpu_sync_ms);
    jnum(&j, "create_us_per_record", g.create_ms * 1000.0 / n);
    jnum(&j, "sync_us_per_record", g.sync_ms * 1000.0 / n);
    jbool(&j, "fsync", true);
    jbool(&j, "encrypted", true);
    jclose(&j);
  }
}

/* --- raw -------------------------------------------------------------------- */

static double floor_tcp_ms(const bench_raw *w, uint64_t bytes) {
  return w->lmdb_1txn_ms + (double)bytes / 1e3 / w->ss_big_mbs + (double)bytes / 1e3 / w->tcp_mbs;
}

static void run_raw(ctx *c) {
  uint64_t wire = c->t1.ran ? c->t1.bytes : 0;
  bench_raw_run(c->root, c->o.n, wire, &c->raw);
  c->have_raw = true;
  const bench_raw *w = &c->raw;
  jline j;
  jopen(&j);
  jstr(&j, "peer", "raw");
  jstr(&j, "workload", "limits");
  jint(&j, "n", w->n);
  jint(&j, "csv_bytes", w->csv_bytes);
  jnum(&j, "lmdb_insert_1txn_ms", w->lmdb_1txn_ms);
  jnum(&j, "lmdb_insert_1txn_per_s", w->n / (w->lmdb_1txn_ms / 1e3));
  jnum(&j, "lmdb_insert_batch1000_ms", w->lmdb_batch_ms);
  jnum(&j, "lmdb_insert_batch1000_per_s", w->n / (w->lmdb_batch_ms / 1e3));
  jnum(&j, "lmdb_insert_1txn_disk_write_mb", w->lmdb_1txn_written_mb);
  jnum(&j, "lmdb_insert_batch1000_disk_write_mb", w->lmdb_batch_written_mb);
  jnum(&j, "lmdb_index_append_ms", w->lmdb_index_ms);
  jnum(&j, "lmdb_index_append_disk_write_mb", w->lmdb_index_written_mb);
  jnum(&j, "log_append_batch1000_ms", w->log_batch_ms);
  jnum(&j, "log_append_batch1000_disk_write_mb", w->log_batch_written_mb);
  jnum(&j, "lmdb_commit_median_ms", w->lmdb_commit_med_ms);
  jnum(&j, "lmdb_commit_p99_ms", w->lmdb_commit_p99_ms);
  jnum(&j, "secretstream_rows_push_ms", w->ss_small_ms);
  jnum(&j, "secretstream_rows_pull_ms", w->ss_small_pull_ms);
  jnum(&j, "secretstream_rows_mb_s", w->ss_small_mbs);
  jnum(&j, "secretstream_64k_push_mb_s", w->ss_big_mbs);
  jnum(&j, "secretstream_64k_pull_mb_s", w->ss_big_pull_mbs);
  jnum(&j, "tcp_loopback_mb_s", w->tcp_mbs);
  jint(&j, "tcp_loopback_bytes", w->tcp_bytes);
  jnum(&j, "fdatasync_median_ms", w->fdatasync_med_ms);
  jnum(&j, "fdatasync_p99_ms", w->fdatasync_p99_ms);
  jbool(&j, "fsync", true);
  jclose(&j);
  if (c->t1.ran) {
    double fl = floor_tcp_ms(w, c->t1.bytes);
    jopen(&j);
    jstr(&j, "peer", "carnet");
    jstr(&j, "workload", "w1-vs-floor");
    jint(&j, "n", c->o.n);
    jnum(&j, "floor_ms", fl);
    jnum(&j, "floor_lmdb_ms", w->lmdb_1txn_ms);
    jnum(&j, "floor_crypto_ms", (double)c->t1.bytes / 1e3 / w->ss_big_mbs);
    jnum(&j, "floor_tcp_ms", (double)c->t1.bytes / 1e3 / w->tcp_mbs);
    jnum(&j, "tcp_sync_ms", c->t1.sync_ms);
    jnum(&j, "tcp_x_floor", c->t1.sync_ms / fl);
    if (c->p1.ran) {
      jnum(&j, "inproc_encode_apply_ms", c->p1.encode_ms + c->p1.apply_ms);
      jnum(&j, "inproc_x_lmdb", (c->p1.encode_ms + c->p1.apply_ms) / w->lmdb_1txn_ms);
    }
    jnum(&j, "create_x_lmdb_batch1000", c->t1.create_ms / w->lmdb_batch_ms);
    jclose(&j);
  }
}

/* --- table --------------------------------------------------------------------- */

static void fmt_ms(char *out, size_t len, double v) {
  if (v < 0)
    snprintf(out, len, "-");
  else if (v >= 10000)
    snprintf(out, len, "%.1f s", v / 1000);
  else if (v >= 100)
    snprintf(out, len, "%.0f", v);
  else
    snprintf(out, len, "%.2f", v);
}

static void fmt_bytes(char *out, size_t len, uint64_t v) {
  if (v >= 10000000)
    snprintf(out, len, "%.1f MB", v / 1e6);
  else if (v >= 10000)
    snprintf(out, len, "%.1f kB", v / 1e3);
  else
    snprintf(out, len, "%llu B", (unsigned long long)v);
}

static void table_row(const res *r) {
  char cr[16], en[16], ap[16], sy[16], by[16], bpf[16] = "-", rss[32];
  if (!r->ran) return;
  fmt_ms(cr, sizeof cr, r->create_ms);
  fmt_ms(en, sizeof en, r->encode_ms);
  fmt_ms(ap, sizeof ap, r->apply_ms);
  fmt_ms(sy, sizeof sy, r->sync_ms);
  fmt_bytes(by, sizeof by, r->bytes);
  if (r->m) snprintf(bpf, sizeof bpf, "%.1f", (double)r->bytes / (2.0 * r->m));
  if (r->rss_serve_mb >= 0)
    snprintf(rss, sizeof rss, "%.0f / %.0f", r->rss_serve_mb, r->rss_sync_mb);
  else
    snprintf(rss, sizeof rss, "%.0f (bench)", r->rss_mb);
  printf("| %-3s | %-12s | %9s | %9s | %9s | %9s | %10s | %7s | %-13s | %-4s |\n", r->workload,
         r->transport, cr, en, ap, sy, by, bpf, rss, r->converged ? "yes" : "NO");
}

static const char *verdict(bool ok) {
  return ok ? "yes" : "NO";
}

static void print_table(ctx *c) {
  printf("\n## Carnet on workload W: N = %u, M = %u (times in ms unless marked)\n\n", c->o.n,
         c->o.m);
  printf(
      "| W   | transport    |    create |    encode |     apply | sync wall |      bytes | B/field "
      "| RSS MB serve/sync | conv |\n");
  printf(
      "|-----|--------------|-----------|-----------|-----------|-----------|------------|---------"
      "|---------------|------|\n");
  const res *rs[] = {&c->t1, &c->p1, &c->t2, &c->p2, &c->t3, &c->p3};
  for (size_t i = 0; i < 6; i++)
    table_row(rs[i]);
  if (c->o.batch)
    printf("\ncreate: W1 = N customers in transactions of %u; W2/W3 = 2M edits, one durable "
           "transaction each.\n",
           c->o.batch);
  else
    printf("\ncreate: W1 = N customers through a bulk writer (transactions by size or time); "
           "W2/W3 = 2M edits, one durable transaction each.\n");
  printf("tcp-loopback: real `carnet serve` + `carnet sync`, encrypted; sync wall = the `carnet "
         "sync` process from exec to exit.\n");
  printf("inproc: carnet_changes_encode / carnet_changes_apply in one process, not encrypted.\n");
  printf("Every commit is durable (fsync) on both transports.\n");
  if (c->t1.ran)
    printf("W1 over TCP: CPU time serve %.0f ms, sync %.0f ms (wall %.0f ms); disk writes: %.0f MB "
           "creating A, %.0f MB receiving on B, for %.1f MB on the wire.\n",
           c->t1.cpu_serve_ms, c->t1.cpu_sync_ms, c->t1.sync_ms, c->t1.written_create_mb,
           c->t1.written_b_mb, c->t1.bytes / 1e6);
  if (c->p3.ran || c->t3.ran) {
    const res *w3 = c->t3.ran ? &c->t3 : &c->p3;
    printf("W3 winners (%s): A %u, B %u, neither %u.\n", w3->transport, w3->winners_a,
           w3->winners_b, w3->bad_values);
  }
  if (c->ng) {
    printf("\n## Growth (W1 over TCP; each N in its own process)\n\n");
    printf("|        N | create ms | us/rec | sync ms | us/rec |    bytes | disk MB create / B "
           "| RSS MB create (anon) | RSS MB serve (anon) | RSS MB sync (anon) | conv |\n");
    printf("|----------|-----------|--------|---------|--------|----------|--------------------"
           "|----------------------|---------------------|--------------------|------|\n");
    for (size_t i = 0; i < c->ng; i++) {
      const growth_res *g = &c->g[i];
      char by[16];
      fmt_bytes(by, sizeof by, g->bytes);
      printf("| %8u | %9.0f | %6.1f | %7.0f | %6.1f | %8s | %8.0f / %7.0f | %12.0f (%5.1f) | "
             "%11.0f (%5.1f) | %10.0f (%5.1f) | %-4s |\n",
             g->n, g->create_ms, g->create_ms * 1e3 / g->n, g->sync_ms, g->sync_ms * 1e3 / g->n, by,
             g->written_create_mb, g->written_b_mb, g->rss_create_mb, g->anon_create_mb,
             g->rss_serve_mb, g->anon_serve_mb, g->rss_sync_mb, g->anon_sync_mb,
             g->converged ? "yes" : "NO");
    }
    if (c->ng >= 2) {
      const growth_res *lo = &c->g[0], *hi = &c->g[c->ng - 1];
      double k = (double)hi->n / lo->n;
      printf("\nFrom N = %u to %u (x%.0f): create x%.1f, sync x%.1f, RSS serve x%.1f (anon x%.1f), "
             "RSS sync x%.1f (anon x%.1f).\n",
             lo->n, hi->n, k, hi->create_ms / lo->create_ms, hi->sync_ms / lo->sync_ms,
             hi->rss_serve_mb / lo->rss_serve_mb, hi->anon_serve_mb / lo->anon_serve_mb,
             hi->rss_sync_mb / lo->rss_sync_mb, hi->anon_sync_mb / lo->anon_sync_mb);
      printf("Time at most linear (x%.0f, 25%% slack): %s. Anonymous memory flat (under 2x): "
             "%s.\n",
             k,
             verdict(hi->create_ms / lo->create_ms <= 1.25 * k &&
                     hi->sync_ms / lo->sync_ms <= 1.25 * k),
             verdict(hi->anon_serve_mb <= 2 * lo->anon_serve_mb &&
                     hi->anon_sync_mb <= 2 * lo->anon_sync_mb));
    }
  }
  if (c->have_raw) {
    const bench_raw *w = &c->raw;
    printf("\n## This machine's limits (same run, same record bytes: %u W1 CSV rows, %.1f MB)\n\n",
           w->n, w->csv_bytes / 1e6);
    printf("- raw LMDB insert keyed by id, one transaction: %.0f ms (%.0f k records/s); batches of "
           "1,000: %.0f ms (%.0f k records/s)\n",
           w->lmdb_1txn_ms, w->n / w->lmdb_1txn_ms, w->lmdb_batch_ms, w->n / w->lmdb_batch_ms);
    printf("- disk writes of those inserts (ru_oublock): one transaction %.0f MB, batches of 1,000 "
           "%.0f MB\n",
           w->lmdb_1txn_written_mb, w->lmdb_batch_written_mb);
    printf("- the index catch-up's floor: 7 random 33-byte keys a row, sorted, appended "
           "(MDB_APPEND) into an empty table, one durable transaction: %.0f ms, %.0f MB written\n",
           w->lmdb_index_ms, w->lmdb_index_written_mb);
    printf("- the same rows appended to a log file, batches of 1,000, one write + fdatasync each: "
           "%.0f ms, %.0f MB written (what a store whose commits are appends would pay)\n",
           w->log_batch_ms, w->log_batch_written_mb);
    printf("- raw LMDB one put + durable commit: median %.3f ms, p99 %.3f ms\n",
           w->lmdb_commit_med_ms, w->lmdb_commit_p99_ms);
    printf("- secretstream, one message per row: push %.0f ms (%.0f MB/s), pull %.0f ms; 64 KiB "
           "chunks: push %.0f MB/s, pull %.0f MB/s\n",
           w->ss_small_ms, w->ss_small_mbs, w->ss_small_pull_ms, w->ss_big_mbs, w->ss_big_pull_mbs);
    printf("- loopback TCP (127.0.0.1, sender + receiver thread): %.0f MB/s over %.0f MB\n",
           w->tcp_mbs, w->tcp_bytes / 1e6);
    printf("- fdatasync (4 KiB page rewritten): median %.3f ms, p99 %.3f ms\n", w->fdatasync_med_ms,
           w->fdatasync_p99_ms);
    if (c->t1.ran) {
      double fl = floor_tcp_ms(w, c->t1.bytes);
      printf("- W1 raw floor = LMDB insert of N (%.0f) + secretstream of the %.1f MB on the wire "
             "(%.0f) + TCP of them (%.0f) = %.0f ms; Carnet's W1 sync: %.0f ms = %.1fx the floor\n",
             w->lmdb_1txn_ms, c->t1.bytes / 1e6, c->t1.bytes / 1e3 / w->ss_big_mbs,
             c->t1.bytes / 1e3 / w->tcp_mbs, fl, c->t1.sync_ms, c->t1.sync_ms / fl);
      printf("- W1 creation through the API: %.0f ms = %.1fx raw LMDB batches of 1,000 "
             "(calls %.0f ms, commits %.0f ms)\n",
             c->t1.create_ms, c->t1.create_ms / w->lmdb_batch_ms,
             c->t1.create_ms - c->t1.create_commit_ms, c->t1.create_commit_ms);
    }
    if (c->have_catchup) {
      double(*m)[2] = c->catchup_ms;
      printf("- the index catch-up of the first duplicate check, after W1 creation / after the "
             "sync: %.0f / %.0f ms = %.1f / %.1fx its floor above\n",
             m[0][0], m[1][0], m[0][0] / w->lmdb_index_ms, m[1][0] / w->lmdb_index_ms);
      printf("- the first text search's catch-up (the search signatures, one row of ~400 bytes a "
             "customer), after creation / after the sync: %.0f / %.0f ms = %.1f / %.1fx raw LMDB "
             "insert keyed by id in one transaction\n",
             m[0][1], m[1][1], m[0][1] / w->lmdb_1txn_ms, m[1][1] / w->lmdb_1txn_ms);
    }
    if (c->p1.ran)
      printf("- W1 in process, encode + apply: %.0f ms = %.1fx raw LMDB insert in one "
             "transaction\n",
             c->p1.encode_ms + c->p1.apply_ms,
             (c->p1.encode_ms + c->p1.apply_ms) / w->lmdb_1txn_ms);
  }
  /* The targets, N = 100,000. */
  printf("\n## Targets of issue 8 (N = 100,000; figures of this run at N = %u)\n\n", c->o.n);
  if (c->t1.ran) {
    printf("- W1 encrypted sync over loopback, persisted, < 750 ms wall: %.0f ms -> %s\n",
           c->t1.sync_ms, verdict(c->t1.sync_ms < 750));
    printf(
        "- W1 peak RSS per process < 100 MB: serve %.0f MB (anon %.1f), sync %.0f MB (anon "
        "%.1f), creating process %.0f MB (anon %.1f) -> %s\n",
        c->t1.rss_serve_mb, c->t1.anon_serve_mb, c->t1.rss_sync_mb, c->t1.anon_sync_mb,
        c->t1.rss_create_mb, c->t1.anon_create_mb,
        verdict(c->t1.rss_serve_mb < 100 && c->t1.rss_sync_mb < 100 && c->t1.rss_create_mb < 100));
    printf("- W1 < 45 MB on the wire: %.1f MB -> %s\n", c->t1.bytes / 1e6,
           verdict(c->t1.bytes < 45000000));
    printf("- W1 local creation < 500 ms: %.0f ms -> %s\n", c->t1.create_ms,
           verdict(c->t1.create_ms < 500));
  }
  if (c->t2.ran)
    printf("- W2 <= 64 bytes on the wire per changed field: %.1f B -> %s\n",
           (double)c->t2.bytes / (2.0 * c->o.m), verdict(c->t2.bytes <= 64u * 2u * c->o.m));
  if (c->p2.ran)
    printf("- W2 applying %u changed fields < 20 ms: B applies A's in %.1f ms, A applies B's in "
           "%.1f ms -> %s\n",
           c->o.m, c->p2.apply_b_ms, c->p2.apply_a_ms,
           verdict(c->p2.apply_b_ms < 20 && c->p2.apply_a_ms < 20));
  const res *ed = c->t2.ran ? &c->t2 : c->p2.ran ? &c->p2 : NULL;
  if (ed)
    printf("- a single durable customer edit, median < 1 ms: median %.3f ms, p99 %.3f ms -> %s\n",
           ed->edit_med_ms, ed->edit_p99_ms, verdict(ed->edit_med_ms < 1));
  /* Issue 17's (bench/RESULTS.md says at which N each is read). */
  printf("\n## Targets of issue 17 (N = 100,000; figures of this run at N = %u)\n\n", c->o.n);
  if (c->t1.ran) {
    printf("- W1 creation through the API <= 0.75 s, disk writes <= 3x the data file: %.0f ms, "
           "%.0f MB written for %.0f MB -> %s\n",
           c->t1.create_ms, c->t1.written_create_mb, c->data_a_mb,
           verdict(c->t1.create_ms <= 750 && c->t1.written_create_mb <= 3 * c->data_a_mb));
    printf("- W1 first sync <= 1.0 s wall, receiver writes <= 3x its data file: %.0f ms, %.0f MB "
           "written for %.0f MB -> %s\n",
           c->t1.sync_ms, c->t1.written_b_mb, c->data_b_mb,
           verdict(c->t1.sync_ms <= 1000 && c->t1.written_b_mb <= 3 * c->data_b_mb));
  }
  if (c->have_catchup)
    printf("- the index catch-up of the first duplicate check after either <= 0.5 s: %.0f / %.0f "
           "ms -> %s\n",
           c->catchup_ms[0][0], c->catchup_ms[1][0],
           verdict(c->catchup_ms[0][0] <= 500 && c->catchup_ms[1][0] <= 500));
  if (c->p2.ran)
    printf("- W2 applying %u changed fields <= 30 ms: %.1f / %.1f ms -> %s\n", c->o.m,
           c->p2.apply_b_ms, c->p2.apply_a_ms,
           verdict(c->p2.apply_b_ms <= 30 && c->p2.apply_a_ms <= 30));
  if (ed)
    printf("- one durable edit, median <= 1 ms: %.3f ms -> %s\n", ed->edit_med_ms,
           verdict(ed->edit_med_ms <= 1));
  printf("- private memory per process <= 64 MB: the `anon` figures above (RssAnon, sampled); "
         "`carnet import`: carnet-import-bench; a catch-up alone: carnet-catchup-bench\n");
  printf("\nTargets are read off the figures; the benchmark never fails on time.\n");
}

/* --- main ----------------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f,
          "usage: carnet-bench [--n N] [--m M] [--workloads w1,w2,w3] [--raw] [--growth]\n"
          "                    [--growth-max N] [--batch B] [--no-inproc] [--no-tcp]\n"
          "                    [--ids carnet] [--tmp DIR] [--keep] [--carnet PATH]\n"
          "Workload W (shared/WORKLOAD.md) on Carnet; JSON lines then a table on stdout.\n"
          "  --n N            records (default 100000)\n"
          "  --m M            W2/W3 updates per side (default 1000; W2 needs N > 2M)\n"
          "  --workloads L    any of w1,w2,w3 (default all; w2/w3 run w1 first)\n"
          "  --raw            also measure the machine's limits (LMDB, secretstream, TCP, fsync)\n"
          "  --growth         W1 over TCP at N = 10k, 100k, 1M (each in its own process)\n"
          "  --growth-max N   largest N of --growth (default 1000000)\n"
          "  --batch B        W1 records per transaction (default 1000; 0: a bulk writer, by size "
          "or time)\n"
          "  --ids carnet     W1's records get ids made by Carnet (time-ordered) instead of W's\n"
          "                   (random); only W1, checked A against B\n"
          "  --no-inproc      skip the in-process variant; --no-tcp skips the TCP one\n"
          "  --tmp DIR        where replicas go (default $TMPDIR or /tmp); --keep keeps them\n"
          "  --carnet PATH    the carnet binary (default: the one built with this bench)\n");
}

static uint32_t parse_u32(const char *s, const char *what) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v == 0 || v > 100000000ull) bench_die("invalid %s '%s'", what, s);
  return (uint32_t)v;
}

static void machine_line(void) {
  char model[256] = "?", line[512];
  FILE *f = fopen("/proc/cpuinfo", "r");
  while (f && fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) == 0 && colon) {
      snprintf(model, sizeof model, "%s", colon + 2);
      model[strcspn(model, "\n")] = '\0';
      break;
    }
  }
  if (f) fclose(f);
  double load[3] = {0, 0, 0};
  f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    fclose(f);
  }
  struct utsname u;
  uname(&u);
  jline j;
  jopen(&j);
  jstr(&j, "peer", "machine");
  jstr(&j, "cpu", model);
  jint(&j, "nproc", (uint64_t)sysconf(_SC_NPROCESSORS_ONLN));
  jstr(&j, "kernel", u.release);
  jnum(&j, "load1", load[0]);
  jnum(&j, "load5", load[1]);
  jnum(&j, "load15", load[2]);
  jstr(&j, "lmdb", MDB_VERSION_STRING);
  jstr(&j, "libsodium", sodium_version_string());
  jclose(&j);
}

int main(int argc, char **argv) {
  enum {
    O_N = 256,
    O_M,
    O_WL,
    O_RAW,
    O_GROWTH,
    O_GMAX,
    O_BATCH,
    O_NOIN,
    O_NOTCP,
    O_TMP,
    O_KEEP,
    O_CARNET,
    O_HELP,
    O_GONE,
    O_ROOT,
    O_RFD,
    O_IDS
  };
  static const struct option lo[] = {{"n", required_argument, 0, O_N},
                                     {"m", required_argument, 0, O_M},
                                     {"workloads", required_argument, 0, O_WL},
                                     {"raw", no_argument, 0, O_RAW},
                                     {"growth", no_argument, 0, O_GROWTH},
                                     {"growth-max", required_argument, 0, O_GMAX},
                                     {"batch", required_argument, 0, O_BATCH},
                                     {"ids", required_argument, 0, O_IDS},
                                     {"no-inproc", no_argument, 0, O_NOIN},
                                     {"no-tcp", no_argument, 0, O_NOTCP},
                                     {"tmp", required_argument, 0, O_TMP},
                                     {"keep", no_argument, 0, O_KEEP},
                                     {"carnet", required_argument, 0, O_CARNET},
                                     {"help", no_argument, 0, O_HELP},
                                     {"growth-one", required_argument, 0, O_GONE},
                                     {"root", required_argument, 0, O_ROOT},
                                     {"result-fd", required_argument, 0, O_RFD},
                                     {0, 0, 0, 0}};
  /* --growth-one N --root DIR --result-fd FD: internal, one N of --growth. */
  uint32_t growth_one = 0;
  const char *growth_root = NULL;
  int result_fd = -1;
  static ctx C;
  ctx *c = &C;
  opts *o = &c->o;
  *o = (opts){.n = 100000,
              .m = 1000,
              .batch = 1000,
              .growth_max = 1000000,
              .w1 = true,
              .w2 = true,
              .w3 = true,
              .inproc = true,
              .tcp = true,
              .carnet = CARNET_BENCH_CLI};
  o->tmp = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
  int opt;
  while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (opt) {
    case O_N:
      o->n = parse_u32(optarg, "--n");
      break;
    case O_M:
      o->m = parse_u32(optarg, "--m");
      break;
    case O_WL: {
      o->w1 = strstr(optarg, "w1") != NULL;
      o->w2 = strstr(optarg, "w2") != NULL;
      o->w3 = strstr(optarg, "w3") != NULL;
      if (!o->w1 && !o->w2 && !o->w3) bench_die("--workloads takes w1, w2, w3 separated by commas");
      break;
    }
    case O_RAW:
      o->raw = true;
      break;
    case O_GROWTH:
      o->growth = true;
      break;
    case O_GMAX:
      o->growth_max = parse_u32(optarg, "--growth-max");
      break;
    case O_BATCH:
      o->batch = strcmp(optarg, "0") == 0 ? 0 : parse_u32(optarg, "--batch");
      break;
    case O_NOIN:
      o->inproc = false;
      break;
    case O_NOTCP:
      o->tcp = false;
      break;
    case O_TMP:
      o->tmp = optarg;
      break;
    case O_KEEP:
      o->keep = true;
      break;
    case O_CARNET:
      o->carnet = optarg;
      break;
    case O_HELP:
      usage(stdout);
      return 0;
    case O_GONE:
      growth_one = parse_u32(optarg, "--growth-one");
      break;
    case O_ROOT:
      growth_root = optarg;
      break;
    case O_IDS:
      if (strcmp(optarg, "carnet") != 0 && strcmp(optarg, "w") != 0)
        bench_die("--ids takes carnet or w");
      o->own_ids = strcmp(optarg, "carnet") == 0;
      break;
    case O_RFD:
      result_fd = (int)parse_u32(optarg, "--result-fd");
      break;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return 2;
  }
  if (growth_one) {
    if (growth_root == NULL || result_fd < 0 || strlen(growth_root) >= sizeof c->root)
      bench_die("--growth-one needs --root and --result-fd");
    if (sodium_init() < 0) bench_die("libsodium failed to initialise");
    signal(SIGPIPE, SIG_IGN);
    snprintf(c->root, sizeof c->root, "%s", growth_root);
    growth_child(c, growth_one, result_fd);
  }
  if (o->own_ids && (o->w2 || o->w3)) bench_die("--ids carnet runs W1 only (--workloads w1)");
  if (o->w2 || o->w3) o->w1 = true;
  if (o->w2 && o->n <= 2 * o->m) bench_die("W2 needs N > 2M (N = %u, M = %u)", o->n, o->m);
  if (o->w3 && o->m > o->n) bench_die("W3 needs M <= N");
  if (!o->tcp && !o->inproc) bench_die("--no-tcp and --no-inproc leave nothing to run");
  if (access(o->carnet, X_OK) != 0 && (o->tcp || o->growth))
    bench_die("no carnet binary at %s (give --carnet PATH)", o->carnet);
  if (sodium_init() < 0) bench_die("libsodium failed to initialise");
  signal(SIGPIPE, SIG_IGN);

  if (strlen(o->tmp) > 900) bench_die("--tmp: path too long");
  snprintf(c->root, sizeof c->root, "%s/carnet-bench.XXXXXX", o->tmp);
  if (mkdtemp(c->root) == NULL) bench_die("cannot create a directory in %s", o->tmp);
  path_join(c->dir_a, sizeof c->dir_a, c->root, "A");
  path_join(c->dir_b, sizeof c->dir_b, c->root, "B");
  path_join(c->dir_a2, sizeof c->dir_a2, c->root, "A2");
  path_join(c->dir_b2, sizeof c->dir_b2, c->root, "B2");
  machine_line();

  /* The generator: untimed. */
  if (w_index_build(&c->ix, o->n) != 0) bench_die("out of memory");
  c->w2a = calloc(o->m, sizeof *c->w2a);
  c->w2b = calloc(o->m, sizeof *c->w2b);
  c->w3 = calloc(o->m, sizeof *c->w3);
  if (!c->w2a || !c->w2b || !c->w3) bench_die("out of memory");
  if (w_expected_digest(&c->ix, NULL, NULL, 0, c->exp_w1) != 0) bench_die("out of memory");
  if (o->w2) {
    if (w_gen_w2(o->n, o->m, c->w2a, c->w2b) != 0) bench_die("W2 generation failed");
    if (w_expected_digest(&c->ix, c->w2a, c->w2b, o->m, c->exp_w2) != 0) bench_die("out of memory");
  }
  if (o->w3 && w_gen_w3(o->n, o->m, c->w3) != 0) bench_die("W3 generation failed");

  if (o->w1 && o->tcp) {
    run_w1_tcp(c);
    if (o->w2) run_edits_tcp(c, false);
    if (o->w3) {
      c->w2_done = o->w2;
      run_edits_tcp(c, true);
      c->w2_done = false;
    }
  }
  if (o->w1 && o->inproc) {
    run_w1_inproc(c, o->w2 || o->w3);
    if (o->w2) run_edits_inproc(c, false, false);
    if (o->w3) run_edits_inproc(c, true, o->w2);
    carnet_replica_close(c->a2);
    carnet_replica_close(c->b2);
    c->a2 = c->b2 = NULL;
  }
  if (!o->keep) {
    bench_rm_rf(c->dir_a);
    bench_rm_rf(c->dir_b);
    bench_rm_rf(c->dir_a2);
    bench_rm_rf(c->dir_b2);
  }
  if (o->raw) run_raw(c);
  if (o->growth) run_growth(c);
  print_table(c);
  if (!o->keep)
    bench_rm_rf(c->root);
  else
    fprintf(stderr, "carnet-bench: replicas and logs kept in %s\n", c->root);
  w_index_free(&c->ix);
  free(c->w2a);
  free(c->w2b);
  free(c->w3);
  return c->failed ? 1 : 0;
}
