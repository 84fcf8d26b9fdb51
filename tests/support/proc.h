/* tests/support/proc.h - run a program and capture what it says.
 *
 * For tests that drive the real `carnet` binary (or any other process):
 * argv and environment in, stdout, stderr and the exit status out, with a
 * bounded wait: a child that outlives its timeout is killed (its whole
 * process group) and reported as timed out. Nothing here asserts; the test
 * decides what a failure means.
 */
#ifndef CARNET_TEST_PROC_H
#define CARNET_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>

/* Hard limits: a runaway child cannot fill the test's memory or hang it. */
#define PROC_OUTPUT_MAX (64u * 1024u * 1024u) /* per stream; the rest is dropped */
#define PROC_TIMEOUT_MS_DEFAULT 20000

typedef struct proc_opts {
  /* NULL-terminated "NAME=VALUE" entries set on top of the inherited
   * environment; a bare "NAME" unsets it. NULL: inherit as is. */
  const char *const *env;
  const char *cwd;   /* working directory, NULL: inherit */
  const void *input; /* bytes written to stdin, then closed; NULL: /dev/null */
  size_t input_len;
  int timeout_ms; /* 0: PROC_TIMEOUT_MS_DEFAULT */
} proc_opts;

typedef struct proc_result {
  int status;     /* the exit code; 128 + signal when killed by one; -1 not run */
  bool timed_out; /* killed because it outlived the timeout */
  char *out;      /* stdout, NUL-terminated, malloc'd (never NULL after proc_run) */
  size_t out_len;
  char *err; /* stderr, the same */
  size_t err_len;
  char why[256]; /* when proc_run fails: what went wrong (exec error...) */
} proc_result;

/* Brief: run argv[0] (a path: no PATH search) with arguments argv[1..] until
 * it exits or the timeout passes. `opts` may be NULL.
 * Returns 0 when the program ran (whatever its exit status), -1 when it could
 * not be started or waited for (res->why says why). After the call, free the
 * result with proc_result_free whatever was returned. */
int proc_run(const char *const *argv, const proc_opts *opts, proc_result *res);

void proc_result_free(proc_result *res);

/* Brief: the number of '\n' in a string (a one-line message has exactly 1). */
size_t proc_count_lines(const char *s);

#endif
