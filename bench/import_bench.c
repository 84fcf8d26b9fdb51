/* bench/import_bench.c - `carnet-import-bench`: the time and peak memory of
 * the real `carnet import` on a generated customer file (bench/import_gen.c:
 * 100,000 rows by default, 1 % bad rows), then of a rerun (nothing to add),
 * of `carnet export` to XLSX and of importing that workbook into a fresh
 * replica. Peak RSS is the child's ru_maxrss (anonymous memory and the
 * LMDB map's resident pages together) and, apart, its peak anonymous
 * memory sampled every 5 ms. Prints one JSON line per step, then a table.
 * Never part of `make check`; the figures go in bench/RESULTS.md.
 *
 *   build/bench/carnet-import-bench [--n 100000] [--batch N] [--dir TMP] [--keep]
 *                                   [--cli PATH]
 *
 * --cli runs another `carnet` (say, a copy of an earlier build, for a
 * before/after comparison on the same generated file and machine state).
 * Without --batch, `carnet import` commits by size or time (its default).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/import_gen.h"

#ifndef CARNET_BENCH_CLI
#define CARNET_BENCH_CLI "carnet"
#endif

typedef struct step {
  const char *name;
  double wall_s, cpu_s, maxrss_mb, anon_mb, written_mb;
  int status;
  char out[256];
} step;

static void run_step(step *s, const char *name, const char *const *argv) {
  struct rusage ru;
  double wall, anon[2] = {0, 0}, rss[2] = {0, 0};
  char *out = NULL;
  bench_sampler *sm = bench_sampler_start();
  s->name = name;
  s->status = bench_run(argv, "/dev/stderr", &out, &wall, &ru, sm, 0);
  bench_sampler_stop(sm, anon, rss);
  s->wall_s = wall / 1000.0;
  s->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
             (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  s->maxrss_mb = (double)ru.ru_maxrss / 1024.0;
  s->written_mb = (double)ru.ru_oublock * 512.0 / 1e6; /* 512-byte blocks */
  s->anon_mb = anon[0];
  snprintf(s->out, sizeof s->out, "%s", out ? out : "");
  for (char *p = s->out; *p; p++)
    if (*p == '\n') *p = ' ';
  free(out);
  printf("{\"bench\":\"import\",\"step\":\"%s\",\"seconds\":%.3f,\"cpu_seconds\":%.3f,"
         "\"peak_rss_mb\":%.1f,\"peak_anon_mb\":%.1f,\"disk_write_mb\":%.1f,\"exit\":%d}\n",
         name, s->wall_s, s->cpu_s, s->maxrss_mb, s->anon_mb, s->written_mb, s->status);
  fflush(stdout);
  if (s->status != 0) bench_die("%s failed (exit %d): %s", name, s->status, s->out);
}

int main(int argc, char **argv) {
  size_t n = 100000;
  const char *batch = NULL, *base = NULL; /* NULL: the import's default (by size or time) */
  bool keep = false;
  const char *cli = CARNET_BENCH_CLI;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
      n = (size_t)atol(argv[++i]);
    else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
      batch = argv[++i];
    else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
      base = argv[++i];
    else if (strcmp(argv[i], "--keep") == 0)
      keep = true;
    else if (strcmp(argv[i], "--cli") == 0 && i + 1 < argc)
      cli = argv[++i];
    else
      bench_die("usage: %s [--n ROWS] [--batch N] [--dir TMP] [--keep] [--cli PATH]", argv[0]);
  }
  char dir[4096], csv[4200], a[4200], b[4200], xlsx[4200];
  snprintf(dir, sizeof dir, "%s/carnet-import-bench-%d", base ? base : "/tmp", (int)getpid());
  bench_rm_rf(dir);
  if (mkdir(dir, 0700) != 0) bench_die("cannot create %s", dir);
  snprintf(csv, sizeof csv, "%s/customers.csv", dir);
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(b, sizeof b, "%s/b", dir);
  snprintf(xlsx, sizeof xlsx, "%s/export.xlsx", dir);

  FILE *f = fopen(csv, "wb");
  import_gen_opts o = {.rows = n, .bad_permille = 10, .seed = 1};
  import_gen_result g;
  if (f == NULL || import_gen_csv(f, &o, &g) != 0 || fclose(f) != 0)
    bench_die("cannot write %s", csv);
  struct stat sb;
  stat(csv, &sb);

  step st[5];
  const char *init_a[] = {cli, "--dir", a, "init", NULL};
  const char *init_b[] = {cli, "--dir", b, "init", NULL};
  const char *imp[] = {cli,   "--dir", a, "import", csv, "--json", batch ? "--batch" : NULL,
                       batch, NULL};
  const char *exp[] = {cli, "--dir", a, "export", "-o", xlsx, NULL};
  const char *imp_x[] = {cli,   "--dir", b, "import", xlsx, "--json", batch ? "--batch" : NULL,
                         batch, NULL};
  step tmp;
  run_step(&tmp, "init", init_a);
  run_step(&st[0], "import_csv", imp);
  run_step(&st[1], "import_csv_again", imp);
  run_step(&st[2], "export_xlsx", exp);
  run_step(&tmp, "init", init_b);
  run_step(&st[3], "import_xlsx", imp_x);

  printf("\ncarnet import, %zu rows (%zu good, %zu bad), CSV of %.1f MB, %s%s\n", n, g.good,
         g.bad_email + g.bad_siret, (double)sb.st_size / 1e6,
         batch ? "batches of " : "transactions by size or time", batch ? batch : "");
  printf("%-18s %10s %10s %14s %14s %14s\n", "step", "seconds", "cpu s", "peak RSS MB",
         "peak anon MB", "written MB");
  for (int i = 0; i < 4; i++)
    printf("%-18s %10.2f %10.2f %14.1f %14.1f %14.1f\n", st[i].name, st[i].wall_s, st[i].cpu_s,
           st[i].maxrss_mb, st[i].anon_mb, st[i].written_mb);
  double load[3] = {0, 0, 0};
  FILE *la = fopen("/proc/loadavg", "r");
  if (la && fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
  if (la) fclose(la);
  printf("load average at the end: %.2f (%ld CPUs): a shared machine inflates wall times\n",
         load[0], sysconf(_SC_NPROCESSORS_ONLN));
  printf("\nimport_csv said: %s\n", st[0].out);
  printf("target: import of 100,000 rows under 10 s and 200 MB\n");
  if (!keep) bench_rm_rf(dir);
  return 0;
}
