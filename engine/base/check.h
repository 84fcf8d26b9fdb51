/* engine/base/check.h - the two halves of STYLE 6 (not API): programmer errors
 * crash, operating errors return with a detail.
 *
 * CARNET_ASSERT(expr) checks a precondition, postcondition or invariant of
 * the library's own code, whatever NDEBUG says: RelWithDebInfo defines
 * NDEBUG, and the binaries users run are the ones whose invariants matter
 * (Redis keeps serverAssert in production, TigerBeetle asserts in every
 * function). A failed assertion prints the expression and where it is, and
 * aborts: the process is in a state the code does not know, and carrying
 * on could write that state to the store or send it to a peer. An
 * assertion is cheap (a comparison, a bound) and has no side effect; the
 * benchmarks run with them (bench/RESULTS.md).
 *
 * Bytes from outside (a peer, a file, the store read back) are never
 * asserted on. A decoder refuses them with CARNET__REFUSE, which records
 * the source line of the check that fired (SQLite's SQLITE_CORRUPT_BKPT),
 * so that a fuzz report or a peer's error points at it; carnet__why writes
 * the sentence that tells a person what was wrong. These two are the one
 * way the library records why it refused something.
 */
#ifndef CARNET_ENGINE_CHECK_H
#define CARNET_ENGINE_CHECK_H

#include <stdarg.h>
#include <stddef.h>

/* Print "carnet: assertion failed: EXPR (FILE:LINE, FUNC)" on stderr and
 * abort(). Never returns. */
_Noreturn void carnet__assert_fail(const char *expr, const char *file, int line, const char *func);

#define CARNET_ASSERT(expr)                                                                        \
  ((void)(__builtin_expect(!!(expr), 1)                                                            \
              ? 0                                                                                  \
              : (carnet__assert_fail(#expr, __FILE__, __LINE__, __func__), 0)))

/* Store `line` in *where (when `where` is not NULL) and return `code`. */
static inline int carnet__refuse_at(int *where, int line, int code) {
  if (where) *where = line;
  return code;
}

/* Refuse outside bytes: record this source line in the int `*where` (may
 * be NULL) and evaluate to `code` (CARNET_EPROTO for a peer's bytes,
 * CARNET_ECORRUPT for stored ones). */
#define CARNET__REFUSE(where, code) carnet__refuse_at((where), __LINE__, (code))

/* Write the detail `fmt` into why[why_len] (nothing when `why` is NULL or
 * `why_len` is 0) and return `code`. */
int carnet__why(char *why, size_t why_len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int carnet__vwhy(char *why, size_t why_len, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
