/* tests/engine/test_assert.c - engine/base/check.h: assertions that stay in
 * release builds, and the one way refusals are recorded.
 *
 * The normal suite builds with NDEBUG (RelWithDebInfo): a failed
 * CARNET_ASSERT must abort there too, after printing the expression and
 * where it is. Checked in a child process, so the test survives it. A
 * library invariant is checked the same way: the HLC's refusal to step
 * backwards from the largest stamp.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/model/hlc.h"

/* Run `fn` in a child with stderr captured into buf; the child's status. */
static int run_child(void (*fn)(void), char *buf, size_t len) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 2);
    fn();
    _exit(0);
  }
  close(fds[1]);
  size_t got = 0;
  ssize_t n;
  while (got + 1 < len && (n = read(fds[0], buf + got, len - 1 - got)) > 0)
    got += (size_t)n;
  buf[got] = '\0';
  close(fds[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return status;
}

static volatile int g_zero = 0;

static void failing_assert(void) {
  CARNET_ASSERT(g_zero == 1);
}

static void holding_assert(void) {
  CARNET_ASSERT(g_zero == 0);
}

static void hlc_overflow(void) {
  carnet__hlc_tick(UINT64_MAX, 0); /* the counter would wrap: a programmer error */
}

static void test_failed_assert_aborts_in_every_build(void **state) {
  (void)state;
  char err[512];
  int status = run_child(failing_assert, err, sizeof err);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGABRT);
  assert_non_null(strstr(err, "carnet: assertion failed: g_zero == 1"));
  assert_non_null(strstr(err, "test_assert.c:"));
  assert_non_null(strstr(err, "failing_assert"));
#ifdef NDEBUG
  print_message("# NDEBUG is defined in this build, and the assertion fired\n");
#endif
}

static void test_holding_assert_is_silent(void **state) {
  (void)state;
  char err[512];
  int status = run_child(holding_assert, err, sizeof err);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_string_equal(err, "");
}

static void test_library_invariant_fires(void **state) {
  (void)state;
  char err[512];
  int status = run_child(hlc_overflow, err, sizeof err);
  assert_true(WIFSIGNALED(status));
  assert_non_null(strstr(err, "hlc.c:"));
}

static void test_refuse_records_the_line(void **state) {
  (void)state;
  int line = 0;
  int want = __LINE__ + 1;
  int rc = CARNET__REFUSE(&line, CARNET_EPROTO);
  assert_int_equal(rc, CARNET_EPROTO);
  assert_int_equal(line, want);
  assert_int_equal(CARNET__REFUSE(NULL, CARNET_ECORRUPT), CARNET_ECORRUPT); /* NULL: no line */
  char why[16];
  assert_int_equal(carnet__why(why, sizeof why, CARNET_EINVAL, "field %s is bad", "email"),
                   CARNET_EINVAL);
  assert_string_equal(why, "field email is "); /* truncated to the buffer */
  assert_int_equal(carnet__why(NULL, 0, CARNET_ELIMIT, "x"), CARNET_ELIMIT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_failed_assert_aborts_in_every_build),
      cmocka_unit_test(test_holding_assert_is_silent),
      cmocka_unit_test(test_library_invariant_fires),
      cmocka_unit_test(test_refuse_records_the_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
