/* tests/packaging/test_systemd.c - the systemd unit of the office replica
 * (packaging/systemd/carnet.service) and its sysusers.d file.
 *
 * - The unit holds what the office replica needs: `carnet serve` on the
 *   network, its own user, a state directory that CARNET_DIR names, restart
 *   on failure, logs to the journal, the hardening options.
 * - `systemd-analyze verify` accepts it without a warning, alone and with
 *   the drop-in lines its comments show (in a copy naming $CARNET_BIN where
 *   the package has /usr/bin/carnet, since verify checks that the programs
 *   exist, and with MANPATH on the built pages, since it checks that its
 *   Documentation= pages exist). verify exits 0 even on an unknown key, so
 *   any output on stderr fails; a misspelt copy proves it is seen.
 * - Its ExecStartPre, run by /bin/sh as systemd would, creates the replica
 *   the first time and leaves it alone the second (`carnet init` refuses to
 *   run over a replica).
 * - systemd-sysusers accepts the user declaration (dry run in an empty
 *   root).
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
#include <unistd.h>

#include "packaging/pkgtest.h"
#include "support/proc.h"
#include "support/testenv.h"

enum { UNIT_MAX = 64 * 1024 };

static struct {
  char unit_path[PATH_MAX];
  char sysusers_path[PATH_MAX];
  char *unit; /* the unit's text */
  char analyze[PATH_MAX];
  char sysusers[PATH_MAX];
  const char *bin;
  char *tmp; /* scratch directory */
} T;

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return NULL;
  char *buf = malloc(UNIT_MAX + 1);
  size_t n = buf ? fread(buf, 1, UNIT_MAX, f) : 0;
  bool whole = buf && feof(f) && !ferror(f);
  fclose(f);
  if (!whole) {
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  return buf;
}

static bool spit(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL) return false;
  bool ok = fputs(text, f) >= 0;
  return fclose(f) == 0 && ok;
}

/* `text` with every `from` replaced by `to` (malloc'd). */
static char *replace_all(const char *text, const char *from, const char *to) {
  size_t nf = strlen(from), nt = strlen(to), count = 0;
  for (const char *p = text; (p = strstr(p, from)) != NULL; p += nf)
    count++;
  char *out = malloc(strlen(text) + count * nt + 1), *o = out;
  assert_non_null(out);
  for (const char *p = text, *q; *p; p = q + nf) {
    q = strstr(p, from);
    if (q == NULL) {
      strcpy(o, p);
      return out;
    }
    memcpy(o, p, (size_t)(q - p));
    o += q - p;
    memcpy(o, to, nt);
    o += nt;
  }
  *o = '\0';
  return out;
}

/* The values of key `key` in section `section` of the unit, one after the
 * other: *at is where to continue (NULL first). Returns a malloc'd value or
 * NULL when there is no more. Comments and blank lines are skipped; the unit
 * uses no line continuations. */
static char *unit_value(const char *section, const char *key, const char **at) {
  char want[64];
  snprintf(want, sizeof want, "[%s]", section);
  bool in = false;
  const char *line = *at ? *at : T.unit;
  if (*at) in = true;
  for (; *line;) {
    size_t len = strcspn(line, "\n");
    const char *next = line + len + (line[len] ? 1 : 0);
    if (line[0] == '[') {
      in = len == strlen(want) && strncmp(line, want, len) == 0;
    } else if (in && line[0] != '#' && line[0] != ';') {
      size_t k = strlen(key);
      if (len > k && strncmp(line, key, k) == 0 && line[k] == '=') {
        *at = next;
        return strndup(line + k + 1, len - k - 1);
      }
    }
    line = next;
  }
  *at = line;
  return NULL;
}

/* Does some `key=` of `section` equal `value` exactly? */
static bool has(const char *section, const char *key, const char *value) {
  const char *at = NULL;
  bool found = false;
  for (char *v; !found && (v = unit_value(section, key, &at)) != NULL; free(v))
    found = strcmp(v, value) == 0;
  return found;
}

/* The first `key=` of `section` (malloc'd), or NULL. */
static char *first(const char *section, const char *key) {
  const char *at = NULL;
  return unit_value(section, key, &at);
}

static int setup(void **state) {
  (void)state;
  memset(&T, 0, sizeof T);
  const char *src = pkg_env("CARNET_SOURCE_DIR");
  if (src == NULL || (T.bin = pkg_env("CARNET_BIN")) == NULL) return -1;
  snprintf(T.unit_path, sizeof T.unit_path, "%.3000s/packaging/systemd/carnet.service", src);
  snprintf(T.sysusers_path, sizeof T.sysusers_path, "%.3000s/packaging/systemd/carnet.sysusers",
           src);
  if ((T.unit = slurp(T.unit_path)) == NULL) {
    fprintf(stderr, "cannot read %s\n", T.unit_path);
    return -1;
  }
  /* Both come with the systemd package (scripts/install-deps.sh). */
  if (!pkg_which("systemd-analyze", "systemd", T.analyze, sizeof T.analyze) ||
      !pkg_which("systemd-sysusers", "systemd", T.sysusers, sizeof T.sysusers))
    return -1;
  if ((T.tmp = tdir_new("systemd")) == NULL) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  free(T.unit);
  if (T.tmp) tdir_remove(T.tmp);
  free(T.tmp);
  return 0;
}

static void test_unit_content(void **state) {
  (void)state;
  assert_true(has("Unit", "Documentation", "man:carnet-sync(1) man:carnet(1)"));
  assert_true(has("Unit", "After", "network-online.target"));
  char *start = first("Service", "ExecStart");
  assert_non_null(start);
  assert_string_equal(start, "/usr/bin/carnet serve --listen ${CARNET_LISTEN} $CARNET_SERVE_ARGS");
  free(start);
  assert_true(has("Service", "Environment", "CARNET_LISTEN=0.0.0.0:7428"));
  assert_true(has("Service", "Environment", "CARNET_DIR=/var/lib/carnet"));
  assert_true(has("Service", "StateDirectory", "carnet"));
  assert_true(has("Service", "User", "carnet"));
  assert_true(has("Service", "Restart", "on-failure"));
  /* The journal: systemd's default, so neither output is sent elsewhere. */
  char *out = first("Service", "StandardOutput"), *err = first("Service", "StandardError");
  assert_null(out);
  assert_null(err);
  static const char *const hardening[][2] = {
      {"NoNewPrivileges", "yes"},
      {"ProtectSystem", "strict"},
      {"ProtectHome", "yes"},
      {"PrivateTmp", "yes"},
      {"PrivateDevices", "yes"},
      {"CapabilityBoundingSet", ""},
      {"UMask", "0077"},
      {"RestrictSUIDSGID", "yes"},
      {"MemoryDenyWriteExecute", "yes"},
      {"StateDirectoryMode", "0700"},
  };
  for (size_t i = 0; i < sizeof hardening / sizeof hardening[0]; i++)
    if (!has("Service", hardening[i][0], hardening[i][1]))
      fail_msg("%s=%s missing from [Service]", hardening[i][0], hardening[i][1]);
  assert_true(has("Install", "WantedBy", "multi-user.target"));
}

/* Runs systemd-analyze verify on `text` written to a file named
 * carnet.service (verify reads the unit's name from the file name). */
static void verify(const char *text, proc_result *res) {
  char dir[PATH_MAX], file[PATH_MAX], manpath[PATH_MAX + 16] = "";
  snprintf(dir, sizeof dir, "%.3000s/verify", T.tmp);
  mkdir(dir, 0700);
  snprintf(file, sizeof file, "%.3000s/carnet.service", dir);
  assert_true(spit(file, text));
#ifdef CARNET_MAN_DIR
  snprintf(manpath, sizeof manpath, "MANPATH=%s", CARNET_MAN_DIR);
#else
  fail_msg("CARNET_MAN_DIR is not defined: packaging/CMakeLists.txt sets it");
#endif
  const char *argv[] = {T.analyze, "verify", file, NULL};
  const char *const env[] = {manpath, "LC_ALL=C.UTF-8", "SYSTEMD_LOG_COLOR=0", NULL};
  proc_opts o = {.env = env, .cwd = dir, .timeout_ms = 30000};
  assert_int_equal(proc_run(argv, &o, res), 0);
}

static void test_systemd_analyze_verify(void **state) {
  (void)state;
  char *unit = replace_all(T.unit, "/usr/bin/carnet", T.bin);
  proc_result res;
  verify(unit, &res);
  if (res.status != 0 || res.err_len != 0 || res.out_len != 0)
    fail_msg("systemd-analyze verify: exit %d\n%s%s", res.status, res.out, res.err);
  proc_result_free(&res);

  /* A unit with a bad value and a misspelt key: verify must say so. */
  char *bad1 = replace_all(unit, "Restart=on-failure", "Restart=sometimes");
  char *bad2 = replace_all(bad1, "ProtectHome=yes", "ProtectHom=yes");
  verify(bad2, &res);
  assert_non_null(strstr(res.err, "sometimes"));
  assert_non_null(strstr(res.err, "ProtectHom"));
  proc_result_free(&res);
  free(bad2);
  free(bad1);
  free(unit);
}

/* The drop-in lines the unit's comments show ("#   Environment=...",
 * "#   LoadCredential=..."), applied: verify must accept them too (an
 * unquoted Environment= value with a space is a warning). */
static void test_documented_dropins(void **state) {
  (void)state;
  char *unit = replace_all(T.unit, "/usr/bin/carnet", T.bin);
  size_t cap = strlen(unit) + 4096, len = strlen(unit), lines = 0;
  char *with = malloc(cap);
  assert_non_null(with);
  memcpy(with, unit, len);
  len += (size_t)snprintf(with + len, cap - len, "\n[Service]\n");
  for (const char *line = T.unit; *line;) {
    size_t n = strcspn(line, "\n");
    static const char *const keys[] = {"#   Environment=", "#   LoadCredential="};
    for (size_t k = 0; k < 2; k++)
      if (n > strlen(keys[k]) && strncmp(line, keys[k], strlen(keys[k])) == 0 && len + n < cap) {
        len += (size_t)snprintf(with + len, cap - len, "%.*s\n", (int)(n - 4), line + 4);
        lines++;
      }
    line += n + (line[n] ? 1 : 0);
  }
  assert_true(len < cap);
  assert_true(lines >= 4); /* port, serve options, credential, key file */
  proc_result res;
  verify(with, &res);
  if (res.status != 0 || res.err_len != 0 || res.out_len != 0)
    fail_msg("systemd-analyze verify with the documented drop-in: exit %d\n%s%s\n%s", res.status,
             res.out, res.err, with);
  proc_result_free(&res);
  free(with);
  free(unit);
}

/* ExecStartPre, run the way systemd runs it ($$ is one $ to the shell). */
static void run_pre(const char *script, const char *replica, proc_result *res) {
  char dir_env[PATH_MAX + 16];
  snprintf(dir_env, sizeof dir_env, "CARNET_DIR=%s", replica);
  const char *argv[] = {"/bin/sh", "-c", script, NULL};
  const char *const env[] = {dir_env, "CARNET_KEY_FILE", "CARNET_PASSPHRASE", NULL};
  proc_opts o = {.env = env, .timeout_ms = PKG_RUN_MS};
  assert_int_equal(proc_run(argv, &o, res), 0);
}

static void test_exec_start_pre_inits_once(void **state) {
  (void)state;
  char *pre = first("Service", "ExecStartPre");
  assert_non_null(pre);
  static const char head[] = "/bin/sh -c '";
  size_t n = strlen(pre);
  assert_true(n > sizeof head && strncmp(pre, head, sizeof head - 1) == 0 && pre[n - 1] == '\'');
  pre[n - 1] = '\0';
  char *dollars = replace_all(pre + sizeof head - 1, "$$", "$");
  char *script = replace_all(dollars, "/usr/bin/carnet", T.bin);

  char replica[PATH_MAX], data[PATH_MAX + 16], key[PATH_MAX + 16];
  snprintf(replica, sizeof replica, "%.3000s/var-lib-carnet", T.tmp);
  snprintf(data, sizeof data, "%s/data.mdb", replica);
  snprintf(key, sizeof key, "%s/carnet.key", replica);
  struct stat st;
  proc_result res;
  run_pre(script, replica, &res);
  if (res.status != 0) fail_msg("first start: exit %d\n%s%s", res.status, res.out, res.err);
  assert_non_null(strstr(res.out, "Created a replica"));
  assert_int_equal(stat(data, &st), 0);
  assert_int_equal(stat(key, &st), 0); /* --no-passphrase: the key in the directory */
  proc_result_free(&res);

  run_pre(script, replica, &res); /* the second start leaves it alone */
  if (res.status != 0) fail_msg("second start: exit %d\n%s%s", res.status, res.out, res.err);
  assert_string_equal(res.out, "");
  proc_result_free(&res);
  free(script);
  free(dollars);
  free(pre);
}

static void test_sysusers(void **state) {
  (void)state;
  char root[PATH_MAX], etc[PATH_MAX + 8];
  snprintf(root, sizeof root, "%.3000s/sysroot", T.tmp);
  snprintf(etc, sizeof etc, "%s/etc", root);
  assert_int_equal(mkdir(root, 0700), 0);
  assert_int_equal(mkdir(etc, 0700), 0);
  char root_opt[PATH_MAX + 16];
  snprintf(root_opt, sizeof root_opt, "--root=%s", root);
  const char *argv[] = {T.sysusers, root_opt, "--dry-run", T.sysusers_path, NULL};
  proc_opts o = {.timeout_ms = 30000};
  proc_result res;
  assert_int_equal(proc_run(argv, &o, &res), 0);
  if (res.status != 0 || strstr(res.err, "Creating user 'carnet'") == NULL)
    fail_msg("systemd-sysusers: exit %d\n%s%s", res.status, res.out, res.err);
  proc_result_free(&res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unit_content),       cmocka_unit_test(test_systemd_analyze_verify),
      cmocka_unit_test(test_documented_dropins), cmocka_unit_test(test_exec_start_pre_inits_once),
      cmocka_unit_test(test_sysusers),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
