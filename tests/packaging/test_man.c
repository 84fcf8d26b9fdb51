/* tests/packaging/test_man.c - the man pages match the CLI.
 *
 * The pages are written in scdoc (packaging/man/NAME.scd) and rendered by
 * the build into CARNET_MAN_DIR/man1 (packaging/CMakeLists.txt), with a link
 * carnet-COMMAND.1 to the page of each command's group. This test:
 *
 * - renders every page with man(1) as a user would (80 columns) and fails on
 *   any warning or error groff or man prints, or an empty page;
 * - reads `carnet --help`, then `carnet COMMAND --help` for every command it
 *   lists, and so on down (`carnet doc line add --help`), and asserts that
 *   every command and subcommand is named ("carnet doc line add") in the
 *   page of its group, that every top-level command is in carnet(1), and
 *   that every option the help prints ("--reason", "-o") is in the page of
 *   its group: an option added to the CLI without its documentation fails
 *   here. Pages are searched as man renders them (one line per paragraph,
 *   no hyphenation), so markup never hides a word;
 * - proves the option check bites: the same check on a page with one option
 *   taken out must report it.
 *
 * The --help format parsed (cli/opts.c):
 *
 *   usage: carnet dupes [review | dismiss A B | set-aside A B] [options]
 *   commands:
 *     add         add a customer        <- a subcommand, until a blank line
 *   options:
 *     -o, --output FILE   write...      <- options: the column before the
 *                                          first two spaces, "-" first
 *
 * Subcommands are the "commands:" lines and the lowercase first words of a
 * usage line's "[a | b ARG | c]" (dupes review, dismiss, set-aside).
 */
#define _GNU_SOURCE /* realpath */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "packaging/pkgtest.h"
#include "support/proc.h"

/* Limits on what the walk accepts: a --help that lists more is a bug here
 * or there, not something to follow forever. */
enum { DEPTH_MAX = 4, CMDS_MAX = 256, PAGES_MAX = 64, WORD_MAX = 48 };

/* The width of the rendering that is searched: wider than any paragraph,
 * so that no line break falls inside "--remove-email". */
#define WIDE "MANWIDTH=10000"

/* --- Lists of strings ------------------------------------------------------ */

typedef struct strlist {
  char **v;
  size_t n, cap;
} strlist;

static void sl_add(strlist *l, const char *s, size_t len) {
  for (size_t i = 0; i < l->n; i++)
    if (strlen(l->v[i]) == len && strncmp(l->v[i], s, len) == 0) return;
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 16;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    assert_non_null(l->v);
  }
  l->v[l->n] = strndup(s, len);
  assert_non_null(l->v[l->n]);
  l->n++;
}

static void sl_free(strlist *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* --- Parsing --help --------------------------------------------------------- */

static bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* The lowercase first word of each alternative of a "[a | b ARG | c]" in
 * the usage line `line` (len bytes). */
static void parse_alternatives(const char *line, size_t len, strlist *out) {
  for (size_t i = 0; i < len; i++) {
    if (line[i] != '[') continue;
    size_t j = i + 1;
    while (j < len && line[j] != ']' && line[j] != '[')
      j++;
    if (j >= len || line[j] != ']' || memchr(line + i, '|', j - i) == NULL) continue;
    for (size_t k = i + 1; k < j;) {
      while (k < j && line[k] == ' ')
        k++;
      size_t w = k;
      while (w < j && is_word_char(line[w]))
        w++;
      if (w > k && line[k] >= 'a' && line[k] <= 'z' && (w == j || line[w] == ' ' || line[w] == '|'))
        sl_add(out, line + k, w - k);
      while (k < j && line[k] != '|')
        k++;
      if (k < j) k++;
    }
    i = j;
  }
}

/* The subcommands a --help text lists. */
static void parse_subcommands(const char *help, strlist *out) {
  bool in_cmds = false;
  for (const char *line = help; *line;) {
    size_t len = strcspn(line, "\n");
    if (len >= 6 && strncmp(line, "usage:", 6) == 0) {
      parse_alternatives(line, len, out);
    } else if (len == 0) {
      in_cmds = false;
    } else if (len >= 9 && strncmp(line, "commands:", 9) == 0) {
      in_cmds = true;
    } else if (in_cmds && len > 2 && line[0] == ' ' && line[1] == ' ' && line[2] >= 'a' &&
               line[2] <= 'z') {
      size_t w = 2;
      while (w < len && is_word_char(line[w]))
        w++;
      sl_add(out, line + 2, w - 2);
    }
    line += len;
    if (*line) line++;
  }
}

/* The options named in `s` (n bytes): "--name" and "-x" tokens that start
 * a word. */
static void scan_options(const char *s, size_t n, strlist *out) {
  for (size_t i = 0; i + 1 < n; i++) {
    if (s[i] != '-' || (i > 0 && s[i - 1] != ' ' && s[i - 1] != ',' && s[i - 1] != '[')) continue;
    if (s[i + 1] == '-' && i + 2 < n && s[i + 2] >= 'a' && s[i + 2] <= 'z') {
      size_t w = i + 2;
      while (w < n && is_word_char(s[w]))
        w++;
      sl_add(out, s + i, w - i);
      i = w;
    } else if (isalpha((unsigned char)s[i + 1]) &&
               (i + 2 >= n || !(isalnum((unsigned char)s[i + 2]) || s[i + 2] == '-'))) {
      sl_add(out, s + i, 2);
      i += 1;
    }
  }
}

/* The options a --help text lists: in the option column of each option line
 * (the text after it may name other commands' options: "see 'carnet passwd
 * --help'"), and in the usage line ("[--dir DIR]"). */
static void parse_options(const char *help, strlist *out) {
  for (const char *line = help; *line;) {
    size_t len = strcspn(line, "\n");
    size_t ind = strspn(line, " ");
    if (len >= 6 && strncmp(line, "usage:", 6) == 0) {
      scan_options(line, len, out);
    } else if (ind > 0 && ind < len && line[ind] == '-') {
      const char *col = line + ind;
      const char *gap = strstr(col, "  ");
      size_t n = gap && gap < line + len ? (size_t)(gap - col) : len - ind;
      scan_options(col, n, out);
    }
    line += len;
    if (*line) line++;
  }
}

/* --- The CLI, walked through --help ----------------------------------------- */

typedef struct cmd {
  char path[DEPTH_MAX * WORD_MAX]; /* "doc line add"; "" for carnet itself */
  char top[WORD_MAX];              /* "doc"; "" for carnet itself */
  strlist options;
} cmd;

typedef struct page {
  char path[PATH_MAX]; /* real path of the rendered page */
  char *wide;          /* its text as man renders it, one line per paragraph */
} page;

static struct {
  const char *bin;
  char man[PATH_MAX];
  char dir[PATH_MAX]; /* CARNET_MAN_DIR/man1 */
  cmd cmds[CMDS_MAX];
  size_t ncmds;
  page pages[PAGES_MAX];
  size_t npages;
} T;

/* Runs `carnet WORDS... --help` for the path "w1 w2 ..." into *res; 0 when
 * it printed its help and exited 0. */
static int run_help(const char *path, proc_result *res) {
  char words[DEPTH_MAX * WORD_MAX];
  const char *argv[DEPTH_MAX + 3];
  int argc = 0;
  snprintf(words, sizeof words, "%s", path);
  argv[argc++] = T.bin;
  for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
    if (argc > DEPTH_MAX) return -1;
    argv[argc++] = w;
  }
  argv[argc++] = "--help";
  argv[argc] = NULL;
  proc_opts o = {.timeout_ms = PKG_RUN_MS};
  if (proc_run(argv, &o, res) != 0) {
    fprintf(stderr, "carnet %s --help: %s\n", path, res->why);
    return -1;
  }
  if (res->status != 0 || res->out_len == 0 || strncmp(res->out, "usage:", 6) != 0) {
    fprintf(stderr, "carnet %s --help: exit %d, stdout:\n%s\nstderr:\n%s\n", path, res->status,
            res->out, res->err);
    return -1;
  }
  return 0;
}

/* Walks the command tree breadth first from carnet itself. */
static int walk_cli(void) {
  T.ncmds = 1; /* T.cmds[0]: carnet itself, path "" */
  for (size_t i = 0; i < T.ncmds; i++) {
    cmd *c = &T.cmds[i];
    proc_result res;
    int rc = run_help(c->path, &res);
    if (rc == 0) {
      strlist subs = {0};
      parse_options(res.out, &c->options);
      parse_subcommands(res.out, &subs);
      size_t depth = c->path[0] ? 1 : 0;
      for (const char *p = c->path; *p; p++)
        depth += *p == ' ';
      for (size_t k = 0; k < subs.n && rc == 0; k++) {
        if (T.ncmds == CMDS_MAX || depth + 1 > DEPTH_MAX || strlen(subs.v[k]) >= WORD_MAX) {
          fprintf(stderr, "carnet %s: too many or too deep subcommands (%s)\n", c->path, subs.v[k]);
          rc = -1;
          break;
        }
        /* Through locals: the parent and the child are both in T.cmds. */
        char path[sizeof c->path], top[sizeof c->top];
        snprintf(path, sizeof path, "%s%s%s", c->path, c->path[0] ? " " : "", subs.v[k]);
        snprintf(top, sizeof top, "%s", c->top[0] ? c->top : subs.v[k]);
        cmd *s = &T.cmds[T.ncmds++];
        memset(s, 0, sizeof *s);
        memcpy(s->path, path, sizeof path);
        memcpy(s->top, top, sizeof top);
      }
      sl_free(&subs);
    }
    proc_result_free(&res);
    if (rc) return rc;
  }
  return 0;
}

/* Renders `file` with man(1) at `width` ("MANWIDTH=80"); `flat` turns
 * hyphenation and justification off, so that words stay whole. */
static int render(const char *file, const char *width, bool flat, proc_result *res) {
  const char *plain[] = {T.man, "--warnings=w", "-l", file, NULL};
  const char *whole[] = {T.man, "--warnings=w", "--nh", "--nj", "-l", file, NULL};
  /* Nothing from the user's man configuration, a UTF-8 locale. */
  const char *const env[] = {
      width,      "LC_ALL=C.UTF-8", "MANOPT", "MANROFFOPT", "MAN_KEEP_FORMATTING",
      "MANPAGER", "PAGER",          NULL};
  proc_opts o = {.env = env, .timeout_ms = 20000};
  if (proc_run(flat ? whole : plain, &o, res) != 0) {
    fprintf(stderr, "man -l %s: %s\n", file, res->why);
    return -1;
  }
  return 0;
}

/* "dir/name" into out[len]; false when it does not fit. */
static bool join(char *out, size_t len, const char *dir, const char *name) {
  int n = snprintf(out, len, "%s/%s", dir, name);
  return n > 0 && (size_t)n < len;
}

/* The page documenting top-level command `top` (carnet-TOP.1, a page or a
 * link to its group's page), or carnet(1) itself for "": NULL when there is
 * none. Rendered once. */
static const page *page_of(const char *top) {
  char name[WORD_MAX + 16], file[PATH_MAX], real[PATH_MAX];
  snprintf(name, sizeof name, "carnet%s%.*s.1", top[0] ? "-" : "", WORD_MAX, top);
  if (!join(file, sizeof file, T.dir, name) || realpath(file, real) == NULL) return NULL;
  for (size_t i = 0; i < T.npages; i++)
    if (strcmp(T.pages[i].path, real) == 0) return &T.pages[i];
  if (T.npages == PAGES_MAX) return NULL;
  proc_result res;
  page *p = NULL;
  if (render(real, WIDE, true, &res) == 0 && res.status == 0 && res.out_len > 0) {
    p = &T.pages[T.npages++];
    snprintf(p->path, sizeof p->path, "%s", real);
    p->wide = res.out;
    res.out = NULL;
  } else {
    fprintf(stderr, "man -l %s: exit %d: %s\n", real, res.status, res.err ? res.err : "");
  }
  proc_result_free(&res);
  return p;
}

static const char *base(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* The options of `c` missing from `text`, appended to report[len] as
 * "carnet PATH: --opt not in PAGE" lines. Returns their number. */
static size_t missing_options(const cmd *c, const char *text, const char *page_name, char *report,
                              size_t len) {
  size_t missing = 0;
  for (size_t i = 0; i < c->options.n; i++) {
    if (pkg_has_token(text, c->options.v[i])) continue;
    missing++;
    size_t used = strlen(report);
    snprintf(report + used, len - used, "  carnet%s%s: %s is not in %s\n", c->path[0] ? " " : "",
             c->path, c->options.v[i], page_name);
  }
  return missing;
}

/* --- Fixture ------------------------------------------------------------------ */

static int setup(void **state) {
  (void)state;
  memset(&T, 0, sizeof T);
#ifndef CARNET_MAN_DIR
  fprintf(stderr, "CARNET_MAN_DIR is not defined: packaging/CMakeLists.txt sets it on the "
                  "target packaging_test_man\n");
  return -1;
#else
  snprintf(T.dir, sizeof T.dir, "%s/man1", CARNET_MAN_DIR);
  if ((T.bin = pkg_env("CARNET_BIN")) == NULL) return -1;
  if (!pkg_which("man", "man-db", T.man, sizeof T.man)) return -1;
  return walk_cli();
#endif
}

static int teardown(void **state) {
  (void)state;
  for (size_t i = 0; i < T.ncmds; i++)
    sl_free(&T.cmds[i].options);
  for (size_t i = 0; i < T.npages; i++)
    free(T.pages[i].wide);
  memset(&T, 0, sizeof T);
  return 0;
}

/* --- Tests -------------------------------------------------------------------- */

/* The walk found what --help shows today: guards against a parser that
 * silently finds nothing (and so checks nothing). */
static void test_help_walked(void **state) {
  (void)state;
  size_t top = 0, sub = 0, opts = 0;
  bool reason = false, line_add = false, review = false;
  for (size_t i = 1; i < T.ncmds; i++) {
    if (strchr(T.cmds[i].path, ' '))
      sub++;
    else
      top++;
    opts += T.cmds[i].options.n;
    line_add |= strcmp(T.cmds[i].path, "doc line add") == 0;
    review |= strcmp(T.cmds[i].path, "dupes review") == 0;
    if (strcmp(T.cmds[i].path, "erase") == 0)
      for (size_t k = 0; k < T.cmds[i].options.n; k++)
        reason |= strcmp(T.cmds[i].options.v[k], "--reason") == 0;
  }
  printf("carnet --help: %zu commands, %zu subcommands, %zu options\n", top, sub, opts);
  assert_true(top >= 25);
  assert_true(sub >= 40);
  assert_true(reason);
  assert_true(line_add);
  assert_true(review);
}

/* (a) Every page renders at 80 columns with no warning and is not empty. */
static void test_pages_render(void **state) {
  (void)state;
  DIR *d = opendir(T.dir);
  if (d == NULL) fail_msg("%s: no rendered pages (is the build done?)", T.dir);
  size_t pages = 0;
  char bad[8192] = "";
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    size_t n = strlen(e->d_name);
    char file[PATH_MAX];
    struct stat st;
    if (n < 3 || strcmp(e->d_name + n - 2, ".1") != 0) continue;
    assert_true(join(file, sizeof file, T.dir, e->d_name));
    if (lstat(file, &st) != 0 || !S_ISREG(st.st_mode)) continue; /* links: test_links */
    proc_result res;
    assert_int_equal(render(file, "MANWIDTH=80", false, &res), 0);
    if (res.status != 0 || res.err_len != 0 || res.out_len < 200 || !strstr(res.out, "\nNAME\n")) {
      size_t used = strlen(bad);
      snprintf(bad + used, sizeof bad - used, "  %s: exit %d, %zu bytes, stderr: %s\n", e->d_name,
               res.status, res.out_len, res.err);
    }
    proc_result_free(&res);
    pages++;
  }
  closedir(d);
  printf("%zu pages rendered\n", pages);
  if (bad[0]) fail_msg("pages that man does not render cleanly:\n%s", bad);
  assert_true(pages >= 2);
}

/* Every link carnet-COMMAND.1 leads to a rendered page in the same place. */
static void test_links(void **state) {
  (void)state;
  DIR *d = opendir(T.dir);
  assert_non_null(d);
  size_t links = 0;
  char real_dir[PATH_MAX];
  assert_non_null(realpath(T.dir, real_dir));
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    size_t n = strlen(e->d_name);
    char file[PATH_MAX], real[PATH_MAX];
    struct stat st;
    if (n < 3 || strcmp(e->d_name + n - 2, ".1") != 0) continue;
    assert_true(join(file, sizeof file, T.dir, e->d_name));
    if (lstat(file, &st) != 0 || !S_ISLNK(st.st_mode)) continue;
    if (stat(file, &st) != 0 || !S_ISREG(st.st_mode) || realpath(file, real) == NULL)
      fail_msg("%s leads nowhere", e->d_name);
    *strrchr(real, '/') = '\0';
    assert_string_equal(real, real_dir);
    links++;
  }
  closedir(d);
  printf("%zu links\n", links);
}

/* (b) Every command and subcommand is named in the page of its group, and
 * every top-level command in carnet(1); every page is some command's. */
static void test_commands_documented(void **state) {
  (void)state;
  const page *overview = page_of("");
  if (overview == NULL) fail_msg("no carnet.1 in %s", T.dir);
  char report[16384] = "";
  bool used[PAGES_MAX] = {false};
  for (size_t i = 1; i < T.ncmds; i++) {
    const cmd *c = &T.cmds[i];
    char name[DEPTH_MAX * WORD_MAX + 8];
    size_t r = strlen(report);
    const page *p = page_of(c->top);
    if (p == NULL) {
      snprintf(report + r, sizeof report - r,
               "  carnet %s: no man page carnet-%s(1) (write packaging/man/carnet-%s.scd, or add "
               "%s:GROUP to CARNET_MAN_LINKS in packaging/CMakeLists.txt)\n",
               c->path, c->top, c->top, c->top);
      continue;
    }
    used[p - T.pages] = true;
    snprintf(name, sizeof name, "carnet %s", c->path);
    if (!pkg_has_token(p->wide, name))
      snprintf(report + r, sizeof report - r, "  %s is not in %s\n", name, base(p->path));
    r = strlen(report);
    if (strchr(c->path, ' ') == NULL && !pkg_has_token(overview->wide, name))
      snprintf(report + r, sizeof report - r, "  %s is not in carnet.1\n", name);
  }
  used[overview - T.pages] = true;
  for (size_t i = 0; i < T.npages; i++)
    if (!used[i]) {
      size_t r = strlen(report);
      snprintf(report + r, sizeof report - r, "  %s is the page of no command\n",
               base(T.pages[i].path));
    }
  if (report[0]) fail_msg("commands not documented:\n%s", report);
}

/* (b) Every option each --help prints is in the page of its group. */
static void test_options_documented(void **state) {
  (void)state;
  char report[16384] = "";
  size_t checked = 0;
  for (size_t i = 0; i < T.ncmds; i++) {
    const cmd *c = &T.cmds[i];
    const page *p = page_of(c->top);
    if (p == NULL) fail_msg("carnet %s: no man page (see test_commands_documented)", c->path);
    missing_options(c, p->wide, base(p->path), report, sizeof report);
    checked += c->options.n;
  }
  printf("%zu options checked\n", checked);
  if (report[0]) fail_msg("options not documented:\n%s", report);
  assert_true(checked > 100);
}

/* The option check bites: carnet-erase(1) without "--reason" fails it. */
static void test_missing_option_caught(void **state) {
  (void)state;
  const cmd *erase = NULL;
  for (size_t i = 0; i < T.ncmds; i++)
    if (strcmp(T.cmds[i].path, "erase") == 0) erase = &T.cmds[i];
  assert_non_null(erase);
  const page *p = page_of("erase");
  assert_non_null(p);
  char report[4096] = "";
  assert_int_equal(missing_options(erase, p->wide, "carnet-erase.1", report, sizeof report), 0);

  char *cut = strdup(p->wide);
  assert_non_null(cut);
  for (char *s = cut; (s = strstr(s, "--reason")) != NULL; s++)
    memcpy(s, "--XXXXXX", 8);
  assert_int_equal(missing_options(erase, cut, "carnet-erase.1", report, sizeof report), 1);
  assert_non_null(strstr(report, "carnet erase: --reason is not in carnet-erase.1"));
  free(cut);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_help_walked),
      cmocka_unit_test(test_pages_render),
      cmocka_unit_test(test_links),
      cmocka_unit_test(test_commands_documented),
      cmocka_unit_test(test_options_documented),
      cmocka_unit_test(test_missing_option_caught),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
