/* tests/install/test_install.c - an app developer's first hour, on the
 * installed files only.
 *
 * `cmake --install` puts the build into a fresh prefix; then, with nothing
 * of the source or build tree on any path:
 * - the C example (examples/c/sync.c) is built through `pkg-config --cflags
 *   --libs carnet` and through `find_package(Carnet)` (examples/c/
 *   CMakeLists.txt), and run: two replicas synced in-process, the peer's
 *   change seen through the subscription;
 * - the Python example (examples/python/customers.py) drives the installed
 *   libcarnet.so.0 through cffi: adds and reads customers;
 * - the installed `carnet` runs (it finds its library by its RPATH) and
 *   `pkg-config --modversion carnet` answers the library's version;
 * - every public header compiles on its own, and a C++ program (g++, from
 *   build-essential) links against the library through the extern "C"
 *   guards.
 * Each step's command and output are printed when it fails.
 *
 * Environment (set by CMake): CARNET_BUILD_DIR, CARNET_SOURCE_DIR,
 * CARNET_TEST_TMP, CARNET_SANITIZE (1 in the ASan+UBSan build: the examples
 * are then compiled with the sanitizers too, and Python preloads their
 * runtimes, since the installed library is instrumented).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/proc.h"
#include "support/testenv.h"

typedef struct fx {
  char *root;   /* scratch, removed at the end */
  char *prefix; /* the install prefix */
  char libdir[4096];
  char pcdir[4096];
  const char *src;
  const char *build;
  bool san;
} fx;

/* Run `cmd` with /bin/sh; fail the test, printing it all, unless it exits
 * with 0. Returns its stdout (malloc'd). */
static char *sh(const char *cmd, int timeout_ms) {
  const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
  proc_opts o = {.timeout_ms = timeout_ms};
  proc_result res;
  int rc = proc_run(argv, &o, &res);
  if (rc != 0 || res.status != 0 || res.timed_out) {
    fprintf(stderr, "$ %s\n%s%s(exit %d%s%s)\n", cmd, res.out, res.err, res.status,
            res.timed_out ? ", timed out" : "", rc ? res.why : "");
    proc_result_free(&res);
    fail_msg("command failed: %s", cmd);
  }
  char *out = res.out;
  res.out = NULL;
  proc_result_free(&res);
  return out;
}

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->src = getenv("CARNET_SOURCE_DIR");
  f->build = getenv("CARNET_BUILD_DIR");
  assert_non_null(f->src);
  assert_non_null(f->build);
  const char *san = getenv("CARNET_SANITIZE");
  f->san = san && strcmp(san, "1") == 0;
  assert_non_null(f->root = tdir_new("install"));
  assert_non_null(f->prefix = tdir_join(f->root, "prefix"));
  char cmd[32768];
  snprintf(cmd, sizeof cmd, "cmake --install '%s' --prefix '%s' >/dev/null", f->build, f->prefix);
  free(sh(cmd, 120000));
  /* The library directory as installed (lib, or lib/<multiarch>). */
  snprintf(cmd, sizeof cmd, "dirname \"$(find '%s' -name 'libcarnet.so.0' | head -n 1)\"",
           f->prefix);
  char *d = sh(cmd, 10000);
  d[strcspn(d, "\n")] = '\0';
  assert_true(strlen(d) > strlen(f->prefix));
  snprintf(f->libdir, sizeof f->libdir, "%s", d);
  snprintf(f->pcdir, sizeof f->pcdir, "%s/pkgconfig", d);
  free(d);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  if (!f) return 0;
  tdir_remove(f->root);
  free(f->prefix);
  free(f->root);
  free(f);
  return 0;
}

/* Compiler and linker flags the examples need in this build. */
static const char *san_flags(const fx *f) {
  return f->san ? "-fsanitize=address,undefined -fno-omit-frame-pointer" : "";
}

/* The environment an example runs in: the installed library only. */
static void run_env(const fx *f, char *out, size_t len) {
  snprintf(out, len, "env -u CARNET_DIR LD_LIBRARY_PATH='%s' %s", f->libdir,
           f->san ? "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1" : "");
}

static void test_installed_files(void **state) {
  fx *f = *state;
  char cmd[32768];
  const char *want[] = {"include/carnet/carnet.h", "include/carnet/node.h",
                        "include/carnet/version.h", "bin/carnet"};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    snprintf(cmd, sizeof cmd, "test -f '%s/%s'", f->prefix, want[i]);
    free(sh(cmd, 10000));
  }
  snprintf(cmd, sizeof cmd,
           "test -f '%s/libcarnet.a' && test -L '%s/libcarnet.so' && test -f '%s/carnet.pc' && "
           "test -f '%s/cmake/Carnet/CarnetConfig.cmake'",
           f->libdir, f->libdir, f->pcdir, f->libdir);
  free(sh(cmd, 10000));
  /* The SONAME carries the ABI major. */
  snprintf(cmd, sizeof cmd, "objdump -p '%s/libcarnet.so.0' | awk '$1==\"SONAME\"{print $2}'",
           f->libdir);
  char *so = sh(cmd, 10000);
  assert_string_equal(so, "libcarnet.so.0\n");
  free(so);
  /* pkg-config answers the version; the installed binary runs by itself. */
  snprintf(cmd, sizeof cmd, "PKG_CONFIG_PATH='%s' pkg-config --modversion carnet", f->pcdir);
  char *v = sh(cmd, 10000);
  snprintf(cmd, sizeof cmd, "env -u LD_LIBRARY_PATH '%s/bin/carnet' --version", f->prefix);
  char *cv = sh(cmd, 10000);
  char want_cv[128];
  v[strcspn(v, "\n")] = '\0';
  snprintf(want_cv, sizeof want_cv, "carnet %s\n", v);
  assert_string_equal(cv, want_cv);
  free(v);
  free(cv);
}

static void test_c_example_with_pkg_config(void **state) {
  fx *f = *state;
  char cmd[32768], env[8192];
  run_env(f, env, sizeof env);
  snprintf(cmd, sizeof cmd,
           "cd '%s' && PKG_CONFIG_PATH='%s' cc -std=c11 -Wall -Wextra -Werror %s "
           "'%s/examples/c/sync.c' -o sync-pc $(PKG_CONFIG_PATH='%s' pkg-config --cflags --libs "
           "carnet libuv) && %s ./sync-pc",
           f->root, f->pcdir, san_flags(f), f->src, f->pcdir, env);
  char *out = sh(cmd, 60000);
  printf("%s", out);
  free(out);
}

static void test_c_example_with_find_package(void **state) {
  fx *f = *state;
  char cmd[32768], env[8192];
  run_env(f, env, sizeof env);
  snprintf(cmd, sizeof cmd,
           "cmake -S '%s/examples/c' -B '%s/ex-cmake' -DCMAKE_PREFIX_PATH='%s' "
           "-DCMAKE_C_FLAGS='%s' -DCMAKE_EXE_LINKER_FLAGS='%s' >/dev/null && "
           "cmake --build '%s/ex-cmake' >/dev/null && cd '%s/ex-cmake' && %s ./sync",
           f->src, f->root, f->prefix, san_flags(f), san_flags(f), f->root, f->root, env);
  char *out = sh(cmd, 120000);
  printf("%s", out);
  free(out);
}

static void test_python_example(void **state) {
  fx *f = *state;
  char cmd[32768], env[8192], pre[4096] = "";
  run_env(f, env, sizeof env);
  if (f->san) /* an instrumented library in an uninstrumented python */
    snprintf(pre, sizeof pre,
             "LD_PRELOAD=\"$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)\" "
             "ASAN_OPTIONS=detect_leaks=0");
  snprintf(cmd, sizeof cmd, "%s %s /usr/bin/python3 '%s/examples/python/customers.py' '%s/py'", env,
           pre, f->src, f->root);
  char *out = sh(cmd, 60000);
  printf("%s", out);
  assert_non_null(strstr(out, "3 customers:"));
  assert_non_null(strstr(out, "search 'lyon': Hélène Müller, Jean Martin"));
  assert_non_null(strstr(out, "\nok\n"));
  free(out);
}

/* Each public header compiles on its own, from the installed include dir,
 * with nothing else included first, and declares nothing without the
 * carnet prefix. */
static void test_headers_are_self_contained(void **state) {
  fx *f = *state;
  char cmd[16384];
  snprintf(cmd, sizeof cmd,
           "cd '%s/include' && for h in carnet/*.h; do printf '#include <%%s>\\ntypedef int "
           "tu_not_empty;\\n' \"$h\" | "
           "cc -std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I. -x c - || exit 1; done",
           f->prefix);
  free(sh(cmd, 60000));
}

/* A C++ app: the extern "C" guards give the calls C linkage. */
static void test_cxx_app(void **state) {
  fx *f = *state;
  char cmd[32768], env[8192];
  run_env(f, env, sizeof env);
  snprintf(cmd, sizeof cmd,
           "cd '%s' && printf '%%s\\n' '#include <carnet/carnet.h>' '#include <carnet/node.h>' "
           "'#include <cstdio>' 'int main() { int ma = -1; const char *v = carnet_version(&ma, "
           "nullptr, nullptr); std::printf(\"%%s %%d %%s\\n\", v, ma, "
           "carnet_error_name(CARNET_ENOTFOUND)); return ma == CARNET_VERSION_MAJOR ? 0 : 1; }' "
           "> app.cc && g++ -std=c++17 -Wall -Wextra -Werror %s app.cc -o app-cxx "
           "$(PKG_CONFIG_PATH='%s' pkg-config --cflags --libs carnet) && %s ./app-cxx",
           f->root, san_flags(f), f->pcdir, env);
  char *out = sh(cmd, 60000);
  assert_non_null(strstr(out, "CARNET_ENOTFOUND"));
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_installed_files),
      cmocka_unit_test(test_headers_are_self_contained),
      cmocka_unit_test(test_c_example_with_pkg_config),
      cmocka_unit_test(test_c_example_with_find_package),
      cmocka_unit_test(test_python_example),
      cmocka_unit_test(test_cxx_app),
  };
  return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
