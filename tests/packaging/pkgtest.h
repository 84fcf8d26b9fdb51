/* tests/packaging/pkgtest.h - what the packaging tests share: the
 * environment the suite gives them, and programs found on PATH. Functions
 * are static inline: each test is one translation unit.
 */
#ifndef CARNET_TESTS_PKGTEST_H
#define CARNET_TESTS_PKGTEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sanitizer builds run the carnet binary several times slower. */
#if defined(__SANITIZE_ADDRESS__)
#define PKG_SLOW 5
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PKG_SLOW 5
#endif
#endif
#ifndef PKG_SLOW
#define PKG_SLOW 1
#endif
enum { PKG_RUN_MS = 20000 * PKG_SLOW };

/* Brief: the value of an environment variable the suite sets (CARNET_BIN,
 * CARNET_SOURCE_DIR...), or NULL after printing what is missing. */
static inline const char *pkg_env(const char *name) {
  const char *v = getenv(name);
  if (v == NULL || v[0] == '\0') {
    fprintf(stderr, "%s is not set: run the test through ctest (make check)\n", name);
    return NULL;
  }
  return v;
}

/* Brief: the full path of program `name` on PATH into out[len]. Returns
 * false, after printing which Debian package provides it, when it is not
 * there: the packaging tests need it (scripts/install-deps.sh installs it),
 * and a test that cannot run its check fails rather than passes. */
static inline bool pkg_which(const char *name, const char *package, char *out, size_t len) {
  const char *path = getenv("PATH");
  if (path == NULL) path = "/usr/bin:/bin";
  while (*path) {
    size_t n = strcspn(path, ":");
    int w = snprintf(out, len, "%.*s/%s", (int)n, path, name);
    if (n > 0 && w > 0 && (size_t)w < len && access(out, X_OK) == 0) return true;
    path += n;
    if (*path == ':') path++;
  }
  fprintf(stderr, "%s not found on PATH: install the Debian package %s (scripts/install-deps.sh)\n",
          name, package);
  return false;
}

/* Brief: is `tok` in `text` as a whole token, i.e. neither preceded nor
 * followed by a letter, digit, '-' or '_'? ("--re" is not in "--reason",
 * "-o" is not in "--output".) */
static inline bool pkg_has_token(const char *text, const char *tok) {
  size_t n = strlen(tok);
  for (const char *p = text; (p = strstr(p, tok)) != NULL; p++) {
    char before = p == text ? ' ' : p[-1];
    char after = p[n];
    bool word_before = before == '-' || before == '_' || (before >= 'a' && before <= 'z') ||
                       (before >= 'A' && before <= 'Z') || (before >= '0' && before <= '9');
    bool word_after = after == '-' || after == '_' || (after >= 'a' && after <= 'z') ||
                      (after >= 'A' && after <= 'Z') || (after >= '0' && after <= '9');
    if (!word_before && !word_after) return true;
  }
  return false;
}

#endif
