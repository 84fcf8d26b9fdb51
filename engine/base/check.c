/* engine/base/check.c - failed assertions and refusal details (engine/base/check.h). */
#include "engine/base/check.h"

#include <stdio.h>
#include <stdlib.h>

void carnet__assert_fail(const char *expr, const char *file, int line, const char *func) {
  fprintf(stderr, "carnet: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
  fflush(stderr);
  abort();
}

int carnet__vwhy(char *why, size_t why_len, int code, const char *fmt, va_list ap) {
  if (why && why_len) vsnprintf(why, why_len, fmt, ap);
  return code;
}

int carnet__why(char *why, size_t why_len, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  carnet__vwhy(why, why_len, code, fmt, ap);
  va_end(ap);
  return code;
}
