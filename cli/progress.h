/* cli/progress.h - the progress line of a long command.
 *
 * One line on stderr, only when stderr is a terminal and the output is not
 * --json: drawn once the work has run for a second (a quick command prints
 * just its result), redrawn at most ten times a second, and erased before
 * the command prints its summary.
 */
#ifndef CARNET_CLI_PROGRESS_H
#define CARNET_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"

#define CLI_PROGRESS_AFTER_MS 1000u /* nothing is drawn before */
#define CLI_PROGRESS_EVERY_MS 100u  /* between two redraws */

typedef struct cli_progress {
  const char *cmd;   /* the prefix of the line ("carnet check") */
  bool on;           /* stderr is a terminal and the output is for a person */
  bool drawn;        /* a line is on the screen */
  uint64_t t0, last; /* monotonic ms: the start, the last redraw */
} cli_progress;

/* Brief: start timing the work of command `c`. */
void cli_progress_start(cli_progress *p, const cli *c);

/* Brief: whether a redraw is due now (cheap: a clock read). */
bool cli_progress_due(cli_progress *p);

/* Brief: draw `fmt` after the command's name, when due. */
void cli_progress_draw(cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Brief: "WHAT: DONE of TOTAL (PCT %), N s" (TOTAL 0: unknown, not shown),
 * when due. */
void cli_progress_count(cli_progress *p, const char *what, uint64_t done, uint64_t total);

/* Brief: erase the line, if one was drawn. */
void cli_progress_end(cli_progress *p);

#endif
