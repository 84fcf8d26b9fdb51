/* tests/replica/test_backoff.c - reconnect backoff (replica/backoff.h). */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include "replica/backoff.h"
#include "support/testenv.h"

/* Every delay is within [d/2, d] for d = min(250 ms * 2^n, 30 s), whatever
 * the random draw, and the bound holds after any number of failures. */
static void test_backoff_bounds(void **state) {
  (void)state;
  static const uint32_t draws[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xffffffffu};
  for (size_t k = 0; k < sizeof draws / sizeof draws[0]; k++) {
    carnet__backoff b;
    carnet__backoff_init(&b, 0, 0);
    uint64_t d = CARNET_RECONNECT_BACKOFF_MS_MIN;
    for (int n = 0; n < 200; n++) {
      uint32_t delay = carnet__backoff_next(&b, draws[k]);
      assert_true(delay >= d / 2);
      assert_true(delay <= d);
      assert_true(delay <= CARNET_RECONNECT_BACKOFF_MS_MAX);
      assert_true(delay > 0);
      d = d * 2 > CARNET_RECONNECT_BACKOFF_MS_MAX ? CARNET_RECONNECT_BACKOFF_MS_MAX : d * 2;
    }
  }
}

/* The extremes of the draw reach both ends of the range: the jitter is
 * real, and it comes only from the caller's draw (replayable). */
static void test_backoff_jitter_and_reset(void **state) {
  (void)state;
  carnet__backoff a, b;
  carnet__backoff_init(&a, 1000, 8000);
  carnet__backoff_init(&b, 1000, 8000);
  assert_int_equal(carnet__backoff_next(&a, 0), 500);
  assert_int_equal(carnet__backoff_next(&b, 0xffffffffu), 1000);
  assert_int_equal(carnet__backoff_next(&a, 0), 1000);           /* d = 2000 */
  assert_int_equal(carnet__backoff_next(&a, 0xffffffffu), 4000); /* d = 4000 */
  assert_int_equal(carnet__backoff_next(&a, 0xffffffffu), 8000); /* d = 8000: max */
  assert_int_equal(carnet__backoff_next(&a, 0xffffffffu), 8000);
  carnet__backoff_reset(&a);
  assert_int_equal(carnet__backoff_next(&a, 0xffffffffu), 1000);
  /* Same draws, same delays. */
  trng g1, g2;
  carnet__backoff x, y;
  trng_seed(&g1, 7), trng_seed(&g2, 7);
  carnet__backoff_init(&x, 0, 0), carnet__backoff_init(&y, 0, 0);
  for (int n = 0; n < 20; n++)
    assert_int_equal(carnet__backoff_next(&x, (uint32_t)trng_next(&g1)),
                     carnet__backoff_next(&y, (uint32_t)trng_next(&g2)));
  /* A max below the start is raised to it. */
  carnet__backoff_init(&x, 500, 100);
  assert_int_equal(x.max_ms, 500);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backoff_bounds),
      cmocka_unit_test(test_backoff_jitter_and_reset),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
