/* bench/procs.c - clocks, child processes (the real `carnet` binary) and
 * their memory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

double bench_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double tv_ms(const struct timeval *tv) {
  return (double)tv->tv_sec * 1e3 + (double)tv->tv_usec / 1e3;
}

double bench_cpu_ms(const struct rusage *from, const struct rusage *to) {
  return tv_ms(&to->ru_utime) - tv_ms(&from->ru_utime) + tv_ms(&to->ru_stime) -
         tv_ms(&from->ru_stime);
}

double bench_self_maxrss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

static int dbl_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double bench_percentile(double *v, size_t n, double p) {
  if (n == 0) return 0;
  qsort(v, n, sizeof *v, dbl_cmp);
  size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

void bench_die(const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fprintf(stderr, "carnet-bench: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  exit(1);
}

int bench_rm_rf(const char *path) {
  struct stat sb;
  if (lstat(path, &sb) != 0) return errno == ENOENT ? 0 : -1;
  if (S_ISDIR(sb.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *de;
    if (d == NULL) return -1;
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      char sub[4096];
      snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
      bench_rm_rf(sub);
    }
    closedir(d);
    return rmdir(path);
  }
  return unlink(path);
}

/* --- memory -------------------------------------------------------------- */

bool bench_proc_mem(pid_t pid, bench_mem *out) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  memset(out, 0, sizeof *out);
  if (f == NULL) return false;
  bool any = false;
  while (fgets(line, sizeof line, f)) {
    long kb;
    if (sscanf(line, "VmHWM: %ld", &kb) == 1) out->hwm = kb / 1024.0, any = true;
    if (sscanf(line, "RssAnon: %ld", &kb) == 1) out->anon = kb / 1024.0;
    if (sscanf(line, "RssFile: %ld", &kb) == 1) out->file = kb / 1024.0;
  }
  fclose(f);
  return any;
}

/* Whether `pid` runs this program's executable: a fork of it that has not
 * exec'd yet. Told by the executable, not the name: --growth runs each N
 * in a copy of this program started as /proc/self/exe, whose name is
 * "exe", and a fork of that copy was counted with the copy's memory
 * (51-54 MB for `carnet sync` at 1M instead of 19-20 MB). */
static bool same_program(pid_t pid) {
  char path[64], mine[4096], theirs[4096];
  snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
  ssize_t a = readlink("/proc/self/exe", mine, sizeof mine - 1);
  ssize_t b = readlink(path, theirs, sizeof theirs - 1);
  if (a <= 0 || b <= 0) return false;
  return a == b && memcmp(mine, theirs, (size_t)a) == 0;
}

/* False while `pid` is still a fork of this program that has not exec'd yet:
 * its memory is ours, shared copy-on-write, and counted in its RssAnon. */
static bool proc_rss(pid_t pid, double *anon, double *rss) {
  char path[64], line[256];
  if (pid != getpid() && same_program(pid)) return false;
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return false;
  *anon = *rss = 0;
  bool execd = true;
  while (fgets(line, sizeof line, f)) {
    long kb;
    if (strncmp(line, "Name:", 5) == 0 && strstr(line, "carnet-bench") != NULL && pid != getpid())
      execd = false;
    if (sscanf(line, "VmRSS: %ld", &kb) == 1) *rss = kb / 1024.0;
    if (sscanf(line, "RssAnon: %ld", &kb) == 1) *anon = kb / 1024.0;
  }
  fclose(f);
  return execd;
}

struct bench_sampler {
  pthread_t th;
  atomic_int stop;
  atomic_int pid[2];
  double anon[2], rss[2];
};

static void *sampler_main(void *arg) {
  bench_sampler *s = arg;
  while (!atomic_load(&s->stop)) {
    for (int i = 0; i < 2; i++) {
      pid_t pid = atomic_load(&s->pid[i]);
      double a, r;
      if (pid > 0 && proc_rss(pid, &a, &r)) {
        if (a > s->anon[i]) s->anon[i] = a;
        if (r > s->rss[i]) s->rss[i] = r;
      }
    }
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

bench_sampler *bench_sampler_start(void) {
  bench_sampler *s = calloc(1, sizeof *s);
  if (s == NULL) bench_die("out of memory");
  if (pthread_create(&s->th, NULL, sampler_main, s) != 0) bench_die("cannot start a thread");
  return s;
}

void bench_sampler_watch(bench_sampler *s, int slot, pid_t pid) {
  atomic_store(&s->pid[slot], (int)pid);
}

void bench_sampler_stop(bench_sampler *s, double anon[2], double rss[2]) {
  atomic_store(&s->stop, 1);
  pthread_join(s->th, NULL);
  for (int i = 0; i < 2; i++) {
    if (anon) anon[i] = s->anon[i];
    if (rss) rss[i] = s->rss[i];
  }
  free(s);
}

/* --- children ------------------------------------------------------------ */

int bench_spawn(const char *const *argv, const char *stderr_path, bool pipe_out, bench_child *c) {
  int pfd[2] = {-1, -1};
  memset(c, 0, sizeof *c);
  c->out_fd = -1;
  if (pipe_out && pipe(pfd) != 0) return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int in = open("/dev/null", O_RDONLY);
    int err = open(stderr_path ? stderr_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (in < 0 || err < 0 || dup2(in, 0) < 0 || dup2(err, 2) < 0) _exit(127);
    if (pipe_out) {
      if (dup2(pfd[1], 1) < 0) _exit(127);
      close(pfd[0]);
      close(pfd[1]);
    } else if (dup2(err, 1) < 0) {
      _exit(127);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  if (pipe_out) {
    close(pfd[1]);
    c->out_fd = pfd[0];
  }
  c->pid = pid;
  return 0;
}

int bench_wait(bench_child *c) {
  int st;
  if (c->reaped) return c->status;
  while (wait4(c->pid, &st, 0, &c->ru) < 0) {
    if (errno != EINTR) return -1;
  }
  c->reaped = true;
  c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (c->out_fd >= 0) close(c->out_fd);
  c->out_fd = -1;
  return c->status;
}

int bench_run(const char *const *argv, const char *stderr_path, char **out, double *wall_ms,
              struct rusage *ru, bench_sampler *sampler, int slot) {
  bench_child c;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (buf == NULL) bench_die("out of memory");
  double t0 = bench_now_ms();
  if (bench_spawn(argv, stderr_path, true, &c) != 0) bench_die("cannot start %s", argv[0]);
  if (sampler) bench_sampler_watch(sampler, slot, c.pid);
  for (;;) {
    if (len + 1 >= cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (buf == NULL) bench_die("out of memory");
    }
    ssize_t got = read(c.out_fd, buf + len, cap - len - 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    len += (size_t)got;
  }
  buf[len] = '\0';
  int st = bench_wait(&c);
  double t1 = bench_now_ms();
  if (sampler) bench_sampler_watch(sampler, slot, 0);
  if (wall_ms) *wall_ms = t1 - t0;
  if (ru) *ru = c.ru;
  if (out)
    *out = buf;
  else
    free(buf);
  return st;
}

bool bench_read_line(bench_child *c, const char *prefix, char *out, size_t len, int timeout_ms) {
  char buf[4096];
  size_t have = 0;
  double deadline = bench_now_ms() + timeout_ms;
  for (;;) {
    char *nl;
    buf[have] = '\0';
    while ((nl = strchr(buf, '\n')) != NULL) {
      *nl = '\0';
      if (strncmp(buf, prefix, strlen(prefix)) == 0) {
        snprintf(out, len, "%s", buf + strlen(prefix));
        return true;
      }
      memmove(buf, nl + 1, have - (size_t)(nl + 1 - buf) + 1);
      have = strlen(buf);
    }
    double now = bench_now_ms();
    if (now >= deadline || have + 1 >= sizeof buf) return false;
    struct pollfd p = {c->out_fd, POLLIN, 0};
    int n = poll(&p, 1, (int)(deadline - now) + 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    ssize_t got = read(c->out_fd, buf + have, sizeof buf - 1 - have);
    if (got <= 0) return false;
    have += (size_t)got;
  }
}
