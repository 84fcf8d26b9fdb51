/* cli/progress.c - the progress line of a long command (cli/progress.h). */
#include "cli/progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void cli_progress_start(cli_progress *p, const cli *c) {
  p->cmd = c->cmd;
  p->on = !c->json && isatty(STDERR_FILENO);
  p->drawn = false;
  p->t0 = p->last = mono_ms();
}

bool cli_progress_due(cli_progress *p) {
  if (!p->on) return false;
  uint64_t now = mono_ms();
  if (now - p->t0 < CLI_PROGRESS_AFTER_MS || (p->drawn && now - p->last < CLI_PROGRESS_EVERY_MS))
    return false;
  p->last = now;
  return true;
}

void cli_progress_draw(cli_progress *p, const char *fmt, ...) {
  if (!cli_progress_due(p)) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "\r\033[K%s: ", p->cmd);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  p->drawn = true;
}

void cli_progress_count(cli_progress *p, const char *what, uint64_t done, uint64_t total) {
  if (!cli_progress_due(p)) return;
  double s = (double)(p->last - p->t0) / 1000.0;
  if (total)
    fprintf(stderr, "\r\033[K%s: %s: %llu of %llu (%llu %%), %.0f s", p->cmd, what,
            (unsigned long long)done, (unsigned long long)total,
            (unsigned long long)(done >= total ? 100 : done * 100 / total), s);
  else
    fprintf(stderr, "\r\033[K%s: %s: %llu, %.0f s", p->cmd, what, (unsigned long long)done, s);
  p->drawn = true;
}

void cli_progress_end(cli_progress *p) {
  if (p->drawn) fprintf(stderr, "\r\033[K");
  p->drawn = false;
}
