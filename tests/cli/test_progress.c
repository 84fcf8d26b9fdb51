/* tests/cli/test_progress.c - the progress line of long commands
 * (cli/progress.h), on a pseudo-terminal standing in for stderr. The
 * module is compiled into this test: it is part of the carnet binary, not
 * of the library. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/progress.c"

typedef struct term {
  int master, saved;
} term;

/* stderr goes to a new pseudo-terminal until term_close. */
static void term_open(term *t) {
  int slave;
  assert_int_equal(openpty(&t->master, &slave, NULL, NULL, NULL), 0);
  fflush(stderr);
  t->saved = dup(STDERR_FILENO);
  assert_true(t->saved >= 0);
  assert_true(dup2(slave, STDERR_FILENO) >= 0);
  close(slave);
  fcntl(t->master, F_SETFL, O_NONBLOCK);
}

/* What was written to the terminal so far. */
static size_t term_read(term *t, char *out, size_t len) {
  size_t n = 0;
  fflush(stderr);
  for (ssize_t k; n < len - 1 && (k = read(t->master, out + n, len - 1 - n)) > 0;)
    n += (size_t)k;
  out[n] = '\0';
  return n;
}

static void term_close(term *t) {
  fflush(stderr);
  dup2(t->saved, STDERR_FILENO);
  close(t->saved);
  close(t->master);
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
    n++;
  return n;
}

static void test_drawn_after_a_second_then_erased(void **state) {
  (void)state;
  term t;
  char out[4096];
  cli c = {.cmd = "carnet check"};
  cli_progress p;
  term_open(&t);
  cli_progress_start(&p, &c);
  bool on = p.on;
  cli_progress_count(&p, "rows read", 1, 10); /* too early: nothing */
  size_t early = term_read(&t, out, sizeof out);
  sleep_ms(CLI_PROGRESS_AFTER_MS + 50);
  cli_progress_count(&p, "rows read", 5, 10);
  cli_progress_count(&p, "rows read", 6, 10); /* within 100 ms of the last: not redrawn */
  cli_progress_draw(&p, "never %d", 1);
  sleep_ms(CLI_PROGRESS_EVERY_MS + 20);
  cli_progress_count(&p, "rows read", 7, 0); /* total unknown */
  cli_progress_end(&p);
  cli_progress_end(&p); /* once erased, nothing more */
  term_read(&t, out, sizeof out);
  term_close(&t);
  assert_true(on);
  assert_int_equal(early, 0);
  /* (The seconds that follow are not checked: a loaded machine may sleep longer.) */
  assert_non_null(strstr(out, "\r\033[Kcarnet check: rows read: 5 of 10 (50 %), "));
  assert_null(strstr(out, ": 6 of 10"));
  assert_null(strstr(out, "never"));
  assert_non_null(strstr(out, "\r\033[Kcarnet check: rows read: 7, "));
  assert_int_equal(count(out, "\r\033[K"), 3); /* two lines drawn, one erasure */
  size_t n = strlen(out);
  assert_true(n >= 4 && strcmp(out + n - 4, "\r\033[K") == 0);
}

static void test_off_for_json_and_for_a_file(void **state) {
  (void)state;
  term t;
  char out[256];
  cli c = {.cmd = "carnet export", .json = true};
  cli_progress p;
  term_open(&t);
  cli_progress_start(&p, &c); /* --json: a script reads the output */
  assert_false(p.on);
  p.t0 -= 10 * CLI_PROGRESS_AFTER_MS;
  cli_progress_count(&p, "records read", 3, 0);
  cli_progress_end(&p);
  assert_int_equal(term_read(&t, out, sizeof out), 0);
  term_close(&t);

  /* stderr a file: no line either. */
  FILE *f = tmpfile();
  assert_non_null(f);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  dup2(fileno(f), STDERR_FILENO);
  c.json = false;
  cli_progress_start(&p, &c);
  bool on = p.on;
  p.t0 -= 10 * CLI_PROGRESS_AFTER_MS;
  cli_progress_count(&p, "records read", 3, 0);
  cli_progress_end(&p);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  assert_false(on);
  assert_int_equal(size, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_drawn_after_a_second_then_erased),
      cmocka_unit_test(test_off_for_json_and_for_a_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
