/* tests/support/proc.c - fork/exec with captured output and a deadline.
 *
 * The parent polls the child's stdout, stderr (and stdin, when feeding it)
 * until both outputs close and the child is reaped, or the deadline passes;
 * then the child's process group gets SIGKILL. An exec failure is reported
 * through a close-on-exec pipe, so "could not start" is told apart from
 * "exited 127".
 */
#include "support/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct sink {
  char *buf;
  size_t len, cap;
} sink;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int sink_add(sink *s, const char *p, size_t n) {
  if (s->len + n > PROC_OUTPUT_MAX) n = PROC_OUTPUT_MAX - s->len;
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + n + 1)
      cap *= 2;
    char *b = realloc(s->buf, cap);
    if (b == NULL) return -1;
    s->buf = b;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, p, n);
  s->len += n;
  s->buf[s->len] = '\0';
  return 0;
}

/* Is `entry` ("NAME=VALUE") overridden by one of `env` ("NAME=..." or
 * "NAME")? */
static int overridden(const char *entry, const char *const *env) {
  size_t n = strcspn(entry, "=");
  for (; env && *env; env++)
    if (strncmp(*env, entry, n) == 0 && ((*env)[n] == '=' || (*env)[n] == '\0')) return 1;
  return 0;
}

/* The child's environment, built before fork (malloc is not safe after). */
static char **make_env(const char *const *env) {
  size_t n = 0, k = 0;
  for (char **e = environ; *e; e++)
    n++;
  for (const char *const *e = env; e && *e; e++)
    n++;
  char **out = calloc(n + 1, sizeof *out);
  if (out == NULL) return NULL;
  for (char **e = environ; *e; e++)
    if (!overridden(*e, env)) out[k++] = *e;
  for (const char *const *e = env; e && *e; e++)
    if (strchr(*e, '=')) out[k++] = (char *)*e;
  return out;
}

static int cloexec_pipe(int fd[2]) {
  if (pipe(fd) != 0) return -1;
  fcntl(fd[0], F_SETFD, FD_CLOEXEC);
  fcntl(fd[1], F_SETFD, FD_CLOEXEC);
  return 0;
}

/* In the child: only async-signal-safe calls from here to exec. */
static void child(const char *const *argv, char **envp, const proc_opts *o, int in, int out,
                  int err, int status_fd) {
  int e;
  setpgid(0, 0);
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) goto fail;
  if (o->cwd && chdir(o->cwd) != 0) goto fail;
  signal(SIGPIPE, SIG_DFL);
  execve(argv[0], (char *const *)argv, envp);
fail:
  e = errno;
  (void)!write(status_fd, &e, sizeof e);
  _exit(127);
}

typedef struct pipes {
  int in[2], out[2], err[2], status[2];
} pipes;

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void close_all(pipes *p) {
  int *fds = (int *)p;
  for (size_t i = 0; i < sizeof *p / sizeof(int); i++)
    close_fd(&fds[i]);
}

static int open_pipes(pipes *p, const proc_opts *o) {
  if (cloexec_pipe(p->out) || cloexec_pipe(p->err) || cloexec_pipe(p->status)) return -1;
  if (o->input) return cloexec_pipe(p->in);
  p->in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return p->in[0] < 0 ? -1 : 0;
}

/* Read what is ready on fd into s; closes fd at EOF. */
static void drain(int *fd, sink *s) {
  char buf[65536];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n > 0 && sink_add(s, buf, (size_t)n) == 0) return;
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  close_fd(fd);
}

/* Pumps stdin/stdout/stderr until both outputs are closed or the deadline.
 * Returns 0, or -1 on timeout. */
static int pump(pipes *p, const proc_opts *o, sink *out, sink *err, uint64_t deadline) {
  size_t fed = 0;
  if (o->input == NULL || o->input_len == 0) close_fd(&p->in[1]);
  if (p->in[1] >= 0) fcntl(p->in[1], F_SETFL, O_NONBLOCK);
  while (p->out[0] >= 0 || p->err[0] >= 0) {
    struct pollfd fds[3] = {{p->out[0], POLLIN, 0}, {p->err[0], POLLIN, 0}, {p->in[1], POLLOUT, 0}};
    uint64_t now = now_ms();
    if (now >= deadline) return -1;
    int n = poll(fds, 3, (int)(deadline - now));
    if (n < 0 && errno != EINTR) return -1;
    if (n <= 0) continue;
    if (fds[0].revents) drain(&p->out[0], out);
    if (fds[1].revents) drain(&p->err[0], err);
    if (fds[2].revents & (POLLERR | POLLHUP))
      close_fd(&p->in[1]);
    else if (fds[2].revents & POLLOUT) {
      ssize_t w = write(p->in[1], (const char *)o->input + fed, o->input_len - fed);
      if (w > 0) fed += (size_t)w;
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || fed == o->input_len) close_fd(&p->in[1]);
    }
  }
  return 0;
}

/* Reaps the child before the deadline, or kills its group and reaps it. */
static void reap(pid_t pid, uint64_t deadline, proc_result *res, bool timed_out) {
  int st = 0;
  pid_t got = 0;
  while (!timed_out && (got = waitpid(pid, &st, WNOHANG)) == 0) {
    if (now_ms() >= deadline) {
      timed_out = true;
      break;
    }
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (timed_out) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while ((got = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
    }
    res->timed_out = true;
  }
  if (got == pid && WIFEXITED(st))
    res->status = WEXITSTATUS(st);
  else if (got == pid && WIFSIGNALED(st))
    res->status = 128 + WTERMSIG(st);
}

static int exec_error(int fd, proc_result *res, const char *path) {
  int e = 0;
  ssize_t n;
  while ((n = read(fd, &e, sizeof e)) < 0 && errno == EINTR) {
  }
  if (n != (ssize_t)sizeof e) return 0;
  snprintf(res->why, sizeof res->why, "cannot run %s: %s", path, strerror(e));
  return -1;
}

int proc_run(const char *const *argv, const proc_opts *opts, proc_result *res) {
  proc_opts none = {0};
  const proc_opts *o = opts ? opts : &none;
  sink out = {0}, err = {0};
  pipes p;
  int rc = -1;
  char **envp = make_env(o->env);
  uint64_t deadline =
      now_ms() + (uint64_t)(o->timeout_ms > 0 ? o->timeout_ms : PROC_TIMEOUT_MS_DEFAULT);
  memset(res, 0, sizeof *res);
  memset(&p, -1, sizeof p); /* every fd -1: nothing to close yet */
  res->status = -1;
  if (envp == NULL || open_pipes(&p, o) != 0) {
    snprintf(res->why, sizeof res->why, "cannot set up: %s", strerror(errno));
    goto done;
  }
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(res->why, sizeof res->why, "fork: %s", strerror(errno));
    goto done;
  }
  if (pid == 0) child(argv, envp, o, p.in[0], p.out[1], p.err[1], p.status[1]);
  close_fd(&p.in[0]);
  close_fd(&p.out[1]);
  close_fd(&p.err[1]);
  close_fd(&p.status[1]);
  if (exec_error(p.status[0], res, argv[0]) == 0) rc = 0;
  bool late = pump(&p, o, &out, &err, deadline) != 0;
  reap(pid, deadline, res, late);
  if (rc == 0 && res->timed_out)
    snprintf(res->why, sizeof res->why, "%s timed out after %d ms", argv[0],
             o->timeout_ms > 0 ? o->timeout_ms : PROC_TIMEOUT_MS_DEFAULT);
done:
  close_all(&p);
  free(envp);
  res->out = out.buf ? out.buf : calloc(1, 1);
  res->out_len = out.len;
  res->err = err.buf ? err.buf : calloc(1, 1);
  res->err_len = err.len;
  return rc;
}

void proc_result_free(proc_result *res) {
  free(res->out);
  free(res->err);
  res->out = res->err = NULL;
  res->out_len = res->err_len = 0;
}

size_t proc_count_lines(const char *s) {
  size_t n = 0;
  for (; s && *s; s++)
    n += *s == '\n';
  return n;
}
