/* web/query.c - values from query strings and JSON bodies: booleans, page
 * sizes, list cursors, decimals. Pure functions of their input (fuzzed by
 * tests/fuzz/fuzz_web_query.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "req.h"

bool web_parse_bool(const char *s, bool dflt, bool *out) {
  if (s == NULL || *s == '\0') {
    *out = dflt;
    return true;
  }
  if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes")) {
    *out = true;
    return true;
  }
  if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no")) {
    *out = false;
    return true;
  }
  return false;
}

bool web_parse_limit(const char *s, size_t *out) {
  if (s == NULL || *s == '\0') {
    *out = 50;
    return true;
  }
  size_t v = 0, n = strspn(s, "0123456789");
  if (n == 0 || n > 3 || s[n] != '\0') return false;
  for (size_t i = 0; i < n; i++)
    v = v * 10 + (size_t)(s[i] - '0');
  if (v < 1 || v > 500) return false;
  *out = v;
  return true;
}

/* "c1" + 32 lowercase hex digits: the version lets the format change
 * without an old cursor being misread. */
bool web_parse_cursor(const char *s, bool *has, carnet_id *after) {
  *has = false;
  if (s == NULL || *s == '\0') return true;
  if (strncmp(s, "c1", 2) != 0 || strlen(s) != 2 + CARNET_ID_HEX_LEN) return false;
  if (strspn(s + 2, "0123456789abcdef") != CARNET_ID_HEX_LEN) return false;
  if (carnet_id_parse(s + 2, after) != 0) return false;
  *has = true;
  return true;
}

void web_format_cursor(const carnet_id *last, char out[40]) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(last, hex);
  snprintf(out, 40, "c1%s", hex);
}

bool web_json_decimal(const json_t *v, unsigned decimals, int64_t *out) {
  char buf[64];
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (strlen(s) >= sizeof buf) return false;
    return carnet_decimal_parse(s, decimals, out) == 0;
  }
  if (json_is_integer(v)) {
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    return carnet_decimal_parse(buf, decimals, out) == 0;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (!isfinite(d) || fabs(d) > 1e15) return false;
    /* A number typed as 19.99 arrives as the nearest double: print it with
     * the decimals allowed, then refuse one that needed more (0.001 for
     * cents). */
    snprintf(buf, sizeof buf, "%.*f", (int)decimals, d);
    double back = strtod(buf, NULL);
    if (fabs(back - d) > 1e-9 * (fabs(d) > 1 ? fabs(d) : 1)) return false;
    return carnet_decimal_parse(buf, decimals, out) == 0;
  }
  return false;
}

const char *web_json_typed(const json_t *v, char *out, size_t len) {
  if (json_is_string(v)) {
    snprintf(out, len, "%s", json_string_value(v));
  } else if (json_is_integer(v)) {
    snprintf(out, len, "%lld", (long long)json_integer_value(v));
  } else if (json_is_real(v)) {
    snprintf(out, len, "%.15g", json_real_value(v));
  } else {
    char *t = json_dumps(v, JSON_ENCODE_ANY);
    snprintf(out, len, "%s", t ? t : "?");
    free(t);
  }
  return out;
}
