/* tests/support/testenv.c - scratch directories, injected clock and random
 * source, test PRNG, --seed parsing. See testenv.h. */
#include "support/testenv.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* --- Scratch directories ------------------------------------------------ */

/* mkdir -p: make every missing component of `path`. */
static int mkdir_p(const char *path) {
  char *tmp = strdup(path);
  if (!tmp) return -1;
  size_t len = strlen(tmp);
  while (len > 1 && tmp[len - 1] == '/')
    tmp[--len] = '\0';
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
      free(tmp);
      return -1;
    }
    *p = '/';
  }
  int rc = (mkdir(tmp, 0700) != 0 && errno != EEXIST) ? -1 : 0;
  free(tmp);
  return rc;
}

static char *make_under(const char *base, const char *label) {
  size_t n = strlen(base) + strlen(label) + 16;
  char *path = malloc(n);
  if (!path) return NULL;
  snprintf(path, n, "%s/%s-XXXXXX", base, label);
  if (!mkdtemp(path)) {
    free(path);
    return NULL;
  }
  return path;
}

char *tdir_new(const char *label) {
  const char *base = getenv("CARNET_TEST_TMP");
  if (!label || !*label) label = "carnet";
  if (base && *base && mkdir_p(base) == 0) {
    char *p = make_under(base, label);
    if (p) return p;
  }
  return make_under("/tmp", label);
}

char *tdir_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

int tdir_remove(const char *path) {
  if (!path) return 0;
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 ? 0 : -1;
  int rc = 0;
  DIR *d = opendir(path);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
      char *child = tdir_join(path, de->d_name);
      if (!child) {
        rc = -1;
        continue;
      }
      if (tdir_remove(child) != 0) rc = -1;
      free(child);
    }
    closedir(d);
  } else {
    rc = -1;
  }
  if (rmdir(path) != 0) rc = -1;
  return rc;
}

/* --- Splitmix64 ------------------------------------------------------------ */

uint64_t tsplitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* --- Deterministic environment ------------------------------------------ */

static uint64_t tenv_now(void *ctx) {
  tenv *e = ctx;
  e->clock_reads++;
  return e->now_ms;
}

static void tenv_random(void *ctx, void *buf, size_t len) {
  tenv *e = ctx;
  uint8_t *p = buf;
  e->random_bytes += len;
  while (len > 0) {
    uint64_t x = tsplitmix64(&e->rand_state);
    size_t k = len < 8 ? len : 8;
    memcpy(p, &x, k);
    p += k;
    len -= k;
  }
}

static void tenv_log(void *ctx, int level, const char *line) {
  tenv *e = ctx;
  if (level >= 0 && level < 4) e->logged[level]++;
  if (level <= e->log_max)
    fprintf(stderr, "[%s L%d] %s\n", e->name ? e->name : "replica", level, line ? line : "");
}

void tenv_init(tenv *e, uint64_t start_ms, uint64_t seed) {
  memset(e, 0, sizeof *e);
  e->now_ms = start_ms;
  e->rand_state = seed;
  e->log_max = CARNET_LOG_ERROR;
  const char *lv = getenv("CARNET_TEST_LOG");
  if (lv && *lv) e->log_max = atoi(lv);
}

void tenv_fill(tenv *e, carnet_env *out) {
  memset(out, 0, sizeof *out);
  out->now_ms = tenv_now;
  out->random = tenv_random;
  out->log = tenv_log;
  out->ctx = e;
}

/* --- Test PRNG ------------------------------------------------------------- */

void trng_seed(trng *g, uint64_t seed) {
  /* Mix the seed once so that seeds 1, 2, 3 start far apart. */
  g->s = seed ^ 0x5851f42d4c957f2dull;
  (void)tsplitmix64(&g->s);
}

uint64_t trng_next(trng *g) {
  return tsplitmix64(&g->s);
}

uint32_t trng_below(trng *g, uint32_t n) {
  /* Lemire's multiply-shift; the tiny bias is irrelevant for tests. */
  return (uint32_t)(((trng_next(g) >> 32) * (uint64_t)n) >> 32);
}

int64_t trng_range(trng *g, int64_t lo, int64_t hi) {
  uint64_t span = (uint64_t)(hi - lo) + 1;
  if (span == 0) return (int64_t)trng_next(g);
  return lo + (int64_t)(trng_next(g) % span);
}

bool trng_chance(trng *g, unsigned percent) {
  return trng_below(g, 100) < percent;
}

void trng_shuffle(trng *g, void *base, size_t n, size_t size) {
  unsigned char tmp[256];
  unsigned char *b = base;
  if (n < 2 || size > sizeof tmp) return;
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = (size_t)(trng_next(g) % (i + 1));
    if (j == i) continue;
    memcpy(tmp, b + i * size, size);
    memcpy(b + i * size, b + j * size, size);
    memcpy(b + j * size, tmp, size);
  }
}

void trng_bytes(trng *g, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len > 0) {
    uint64_t x = trng_next(g);
    size_t k = len < 8 ? len : 8;
    memcpy(p, &x, k);
    p += k;
    len -= k;
  }
}

/* --- Arguments ------------------------------------------------------------- */

uint64_t targ_u64(int argc, char **argv, const char *name, uint64_t dflt) {
  size_t nl = strlen(name);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, nl) != 0 || a[2 + nl] != '=') continue;
    const char *v = a + 3 + nl;
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno == 0 && end != v && *end == '\0') return (uint64_t)x;
  }
  return dflt;
}

bool targ_seed(int argc, char **argv, uint64_t *out) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--seed=", 7) != 0) continue;
    const char *v = a + 7;
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno == 0 && end != v && *end == '\0' && *v != '-') {
      *out = (uint64_t)x;
      return true;
    }
  }
  return false;
}
