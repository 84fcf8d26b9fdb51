/* cli/testclock.c - the clock of the `carnet` command (cli_test_clock).
 *
 * The shipped binary has no test hook: nothing in the environment changes
 * its clock (an invoice is numbered and dated in order, by the machine's
 * clock). This file is compiled twice: into `carnet`, where the replica
 * always runs on the system clock, and, with CARNET_CLI_TEST_CLOCK, into
 * the test-only binary `carnet-testclock` (built in the test tree, never
 * installed), which reads $CARNET_TEST_NOW so that the CLI tests can say
 * which day it is (tests/cli/test_crm.c). tests/cli/test_crm.c checks
 * that the shipped binary ignores the variable.
 */
#include "cli/cli.h"

#include <string.h>

#ifdef CARNET_CLI_TEST_CLOCK

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The process's one test instant (the test binary only). */
static uint64_t g_test_now;

static uint64_t test_now(void *ctx) {
  (void)ctx;
  return g_test_now;
}

/* $CARNET_TEST_NOW: Unix ms, or a UTC date or date-time. */
static bool parse_test_now(const char *s, uint64_t *ms) {
  uint64_t v;
  if (cli_parse_u64(s, &v)) {
    *ms = v;
    return true;
  }
  char date[11];
  int hh = 0, mi = 0, ss = 0, used = 0;
  size_t n = strlen(s);
  if (n < 10) return false;
  memcpy(date, s, 10);
  date[10] = '\0';
  if (!carnet_date_valid(date)) return false;
  if (n > 10 &&
      !((s[10] == 'T' || s[10] == ' ') && (sscanf(s + 11, "%2d:%2d%n", &hh, &mi, &used) == 2) &&
        (s[11 + used] == '\0' || (sscanf(s + 11 + used, ":%2d%n", &ss, &used) == 1 && n == 19))))
    return false;
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = atoi(date) - 1900;
  tm.tm_mon = atoi(date + 5) - 1;
  tm.tm_mday = atoi(date + 8);
  tm.tm_hour = hh;
  tm.tm_min = mi;
  tm.tm_sec = ss;
  time_t t = timegm(&tm);
  if (t < 0) return false;
  *ms = (uint64_t)t * 1000u;
  return true;
}

int cli_test_clock(cli *c, carnet_env *env, bool *set) {
  const char *now = getenv("CARNET_TEST_NOW");
  *set = false;
  if (now == NULL || now[0] == '\0') return CLI_OK;
  if (!parse_test_now(now, &g_test_now))
    return cli_fail(c, CLI_EUSER, "invalid CARNET_TEST_NOW '%s' (Unix ms or YYYY-MM-DDTHH:MM:SS)",
                    now);
  memset(env, 0, sizeof *env);
  env->now_ms = test_now;
  *set = true;
  return CLI_OK;
}

#else

int cli_test_clock(cli *c, carnet_env *env, bool *set) {
  (void)c;
  memset(env, 0, sizeof *env);
  *set = false;
  return CLI_OK;
}

#endif
