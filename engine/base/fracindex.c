/* engine/base/fracindex.c - fractional positions (see fracindex.h). */
#include "engine/base/fracindex.h"

#include <string.h>

#include "carnet/error.h"

static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
#define BASE 62

static int digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  if (c >= 'a' && c <= 'z') return c - 'a' + 36;
  return -1;
}

bool carnet__pos_valid(const char *s, size_t len) {
  if (len == 0 || len > CARNET__POS_MAX || s[len - 1] == '0') return false;
  for (size_t i = 0; i < len; i++)
    if (digit(s[i]) < 0) return false;
  return true;
}

/* Appends to out[*n]; false when it would pass the limit. */
static bool emit(char *out, size_t *n, char c) {
  if (*n >= CARNET__POS_MAX) return false;
  out[(*n)++] = c;
  return true;
}

/* The midpoint of a and b (b NULL: 1), appended at out[*n]. Iterative form of
 * the recursive definition: each step consumes a common digit or ends. */
static int midpoint(const char *a, const char *b, char *out, size_t *n) {
  for (;;) {
    if (b) {
      /* The common prefix, `a` padded with zeros. */
      size_t k = 0, la = strlen(a);
      while (b[k] && (k < la ? a[k] : '0') == b[k]) {
        if (!emit(out, n, b[k])) return CARNET_ELIMIT;
        k++;
      }
      a += la < k ? la : k;
      b += k;
      if (*b == '\0') return CARNET_EINVAL; /* a >= b */
    }
    int da = *a ? digit(*a) : 0;
    int db = b ? digit(*b) : BASE;
    if (db - da > 1) return emit(out, n, digits[(da + db + 1) / 2]) ? 0 : CARNET_ELIMIT;
    if (b && b[1]) return emit(out, n, b[0]) ? 0 : CARNET_ELIMIT;
    /* Consecutive first digits: keep a's and find a midpoint after it. */
    if (!emit(out, n, digits[da])) return CARNET_ELIMIT;
    if (*a) a++;
    b = NULL;
  }
}

int carnet__pos_between(const char *a, const char *b, char out[CARNET__POS_MAX + 1]) {
  size_t n = 0;
  if (a == NULL) a = "";
  if (b && *b == '\0') b = NULL;
  if ((*a && !carnet__pos_valid(a, strlen(a))) || (b && !carnet__pos_valid(b, strlen(b))))
    return CARNET_EINVAL;
  if (b && strcmp(a, b) >= 0) return CARNET_EINVAL;
  int rc = midpoint(a, b, out, &n);
  out[n] = '\0';
  if (rc) out[0] = '\0';
  return rc;
}
