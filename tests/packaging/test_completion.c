/* tests/packaging/test_completion.c - the bash completion
 * (packaging/bash-completion/carnet) completes commands, subcommands and
 * options of the carnet under test.
 *
 * Each case runs `bash --norc --noprofile` with bash-completion's functions
 * loaded (as an interactive shell has them), sources the script, fills
 * COMP_WORDS / COMP_CWORD / COMP_LINE / COMP_POINT as readline would for
 * the command line before <TAB>, calls the completion function, and prints
 * COMPREPLY. The build's bin directory comes first in PATH, so `carnet` is
 * $CARNET_BIN. A fake carnet whose --help lists a command that does not
 * exist shows that the words come from the binary's --help, not from a list
 * in the script.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "packaging/pkgtest.h"
#include "support/proc.h"
#include "support/testenv.h"

#define BASH_COMPLETION "/usr/share/bash-completion/bash_completion"

/* c WORD...: complete the last word of `WORD...` and print
 * "WORD...|COMPREPLY" on one line. */
static const char HELPERS[] =
    "c() {\n"
    "  COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1))\n"
    "  COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()\n"
    "  _carnet carnet \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD - 1]}\"\n"
    "  printf '%s|%s\\n' \"$*\" \"${COMPREPLY[*]}\"\n"
    "}\n";

typedef struct tcase {
  const char *words; /* arguments of c, shell-quoted */
  const char *line;  /* what c prints */
} tcase;

static char bash_path[PATH_MAX];

/* Runs the cases in one bash, with `bin_dir` first in PATH, bash-completion
 * loaded or not; asserts each printed line. */
static void run_cases(const char *bin_dir, bool with_bash_completion, const tcase *cases,
                      size_t n) {
  const char *src = pkg_env("CARNET_SOURCE_DIR");
  assert_non_null(src);
  char script[8192], path_env[8192], completion[PATH_MAX];
  int w = snprintf(completion, sizeof completion, "%s/packaging/bash-completion/carnet", src);
  assert_true(w > 0 && (size_t)w < sizeof completion);
  const char *path = getenv("PATH");
  w = snprintf(path_env, sizeof path_env, "PATH=%s:%s", bin_dir, path ? path : "/usr/bin:/bin");
  assert_true(w > 0 && (size_t)w < sizeof path_env);

  /* Loading either file must work, and register the function for carnet. */
  size_t len = (size_t)snprintf(
      script, sizeof script,
      "%s"
      "source '%s' || { echo 'cannot source the completion'; exit 91; }\n"
      "[[ $(complete -p carnet) == *'-F _carnet'* ]] || { echo 'not registered'; exit 92; }\n"
      "%s",
      with_bash_completion ? "source " BASH_COMPLETION " || exit 90\n" : "", completion, HELPERS);
  for (size_t i = 0; i < n && len < sizeof script; i++)
    len += (size_t)snprintf(script + len, sizeof script - len, "c %s\n", cases[i].words);
  assert_true(len < sizeof script);

  const char *argv[] = {bash_path, "--norc", "--noprofile", "-c", script, NULL};
  /* Nothing from the user's own completion file. */
  const char *const env[] = {path_env, "BASH_COMPLETION_USER_FILE=/dev/null", "LC_ALL=C.UTF-8",
                             NULL};
  proc_opts o = {.env = env, .timeout_ms = PKG_RUN_MS};
  proc_result res;
  assert_int_equal(proc_run(argv, &o, &res), 0);
  if (res.status != 0) fail_msg("bash exited %d:\n%s\n%s", res.status, res.out, res.err);

  const char *line = res.out;
  for (size_t i = 0; i < n; i++) {
    size_t l = strcspn(line, "\n");
    if (strlen(cases[i].line) != l || strncmp(line, cases[i].line, l) != 0)
      fail_msg("completing `%s`: expected \"%s\", got \"%.*s\" (stderr: %s)", cases[i].words,
               cases[i].line, (int)l, line, res.err);
    line += l;
    if (*line) line++;
  }
  assert_string_equal(line, "");
  proc_result_free(&res);
}

static int setup(void **state) {
  (void)state;
  struct stat st;
  if (!pkg_which("bash", "bash", bash_path, sizeof bash_path)) return -1;
  if (stat(BASH_COMPLETION, &st) != 0) {
    fprintf(stderr,
            "%s missing: install the Debian package bash-completion "
            "(scripts/install-deps.sh)\n",
            BASH_COMPLETION);
    return -1;
  }
  return 0;
}

/* The build's bin directory (CARNET_BIN is BIN_DIR/carnet). */
static void bin_dir_of(char *out, size_t len) {
  const char *bin = pkg_env("CARNET_BIN");
  assert_non_null(bin);
  const char *slash = strrchr(bin, '/');
  assert_non_null(slash);
  assert_string_equal(slash + 1, "carnet"); /* what `carnet` on PATH must find */
  assert_true((size_t)(slash - bin) < len);
  snprintf(out, len, "%.*s", (int)(slash - bin), bin);
}

static void test_commands_subcommands_options(void **state) {
  (void)state;
  char dir[PATH_MAX];
  bin_dir_of(dir, sizeof dir);
  static const tcase cases[] = {
      {"carnet cust", "carnet cust|customer"},
      {"carnet customer li", "carnet customer li|list"},
      {"carnet erase --re", "carnet erase --re|--reason"},
      {"carnet doc line ''", "carnet doc line |add edit remove move"},
      {"carnet dupes ''", "carnet dupes |review dismiss set-aside"},
      {"carnet --dir /tmp/x cu", "carnet --dir /tmp/x cu|customer"},
      {"carnet import --fo", "carnet import --fo|--format"},
      {"carnet customer add --name x --work", "carnet customer add --name x --work|--work-phone"},
      {"carnet ser", "carnet ser|serve"},
  };
  run_cases(dir, true, cases, sizeof cases / sizeof cases[0]);
}

/* Without bash-completion loaded, the script falls back on COMP_WORDS. */
static void test_plain_bash(void **state) {
  (void)state;
  char dir[PATH_MAX];
  bin_dir_of(dir, sizeof dir);
  static const tcase cases[] = {
      {"carnet cust", "carnet cust|customer"},
      {"carnet erase --re", "carnet erase --re|--reason"},
  };
  run_cases(dir, false, cases, sizeof cases / sizeof cases[0]);
}

/* The words come from the --help of the carnet on PATH: a fake one with a
 * command "zebra" completes "zebra", which no real carnet has. */
static void test_words_come_from_help(void **state) {
  (void)state;
  char *dir = tdir_new("completion");
  assert_non_null(dir);
  char *fake = tdir_join(dir, "carnet");
  assert_non_null(fake);
  FILE *f = fopen(fake, "w");
  assert_non_null(f);
  fputs("#!/bin/sh\n"
        "case \"$*\" in\n"
        "'--help') printf 'usage: carnet COMMAND [options]\\n\\ncommands:\\n"
        "  zebra   a command only this fake has\\n' ;;\n"
        "'zebra --help') printf 'usage: carnet zebra [options]\\n\\noptions:\\n"
        "  --stripes N   how many\\n' ;;\n"
        "*) exit 1 ;;\n"
        "esac\n",
        f);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(fake, 0755), 0);
  static const tcase cases[] = {
      {"carnet z", "carnet z|zebra"},
      {"carnet zebra --st", "carnet zebra --st|--stripes"},
      {"carnet cust", "carnet cust|"},
  };
  run_cases(dir, true, cases, sizeof cases / sizeof cases[0]);
  free(fake);
  assert_int_equal(tdir_remove(dir), 0);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_commands_subcommands_options),
      cmocka_unit_test(test_plain_bash),
      cmocka_unit_test(test_words_come_from_help),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
