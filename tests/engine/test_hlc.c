/* tests/engine/test_hlc.c - the hybrid logical clock (engine/model/hlc.h).
 *
 * Properties: a local tick is strictly greater than the last stamp and never
 * behind the wall clock, even when the wall clock jumps back; receiving a
 * stamp never moves the clock backwards and a tick after a receive is
 * greater than what was received (causality); a stamp too far ahead of our
 * wall clock is refused.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "engine/model/hlc.h"
#include "support/testenv.h"

static uint64_t g_seed = 7;

/* On failure: the seed, the condition, the line and a formatted detail. */
static void check_failed(int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void check_failed(int line, const char *cond, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  print_message("[seed %" PRIu64 "] line %d: check failed: %s (replay with --seed=%" PRIu64 ")\n",
                g_seed, line, cond, g_seed);
  fail_msg("%s", msg);
}

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) check_failed(__LINE__, #cond, __VA_ARGS__);                                       \
  } while (0)

#define MS(x) ((carnet_hlc)(x) << 16)

static void test_tick_follows_wall_clock(void **state) {
  (void)state;
  uint64_t now = TENV_EPOCH_MS;
  carnet_hlc h = carnet__hlc_tick(0, now);
  assert_int_equal(CARNET_HLC_MS(h), now);
  /* Same millisecond: the counter moves. */
  carnet_hlc h2 = carnet__hlc_tick(h, now);
  assert_true(h2 > h);
  assert_int_equal(CARNET_HLC_MS(h2), now);
  /* Wall clock moves on: the stamp follows it. */
  carnet_hlc h3 = carnet__hlc_tick(h2, now + 5);
  assert_int_equal(CARNET_HLC_MS(h3), now + 5);
  assert_true(h3 > h2);
}

static void test_tick_wall_clock_backwards(void **state) {
  (void)state;
  uint64_t now = TENV_EPOCH_MS;
  carnet_hlc last = carnet__hlc_tick(0, now);
  /* An NTP step back of an hour: stamps keep growing, and stay on the last
   * physical time rather than following the clock back. */
  for (int i = 0; i < 1000; i++) {
    carnet_hlc h = carnet__hlc_tick(last, now - 3600 * 1000);
    assert_true(h > last);
    assert_true(CARNET_HLC_MS(h) >= CARNET_HLC_MS(last));
    last = h;
  }
  assert_int_equal(CARNET_HLC_MS(last), now);
  /* Back to a clock ahead of the stamp: the stamp jumps to it. */
  carnet_hlc h = carnet__hlc_tick(last, now + 1);
  assert_true(h > last);
  assert_int_equal(CARNET_HLC_MS(h), now + 1);
}

static void test_tick_counter_overflow(void **state) {
  (void)state;
  /* 65536 events in one millisecond: the stamp still grows strictly. */
  uint64_t now = TENV_EPOCH_MS;
  carnet_hlc last = MS(now) | 0xfffe;
  carnet_hlc a = carnet__hlc_tick(last, now);
  assert_true(a > last);
  carnet_hlc b = carnet__hlc_tick(a, now);
  assert_true(b > a);
  carnet_hlc c = carnet__hlc_tick(b, now);
  assert_true(c > b);
}

static void test_tick_random_walk(void **state) {
  (void)state;
  trng g;
  trng_seed(&g, g_seed);
  uint64_t wall = TENV_EPOCH_MS;
  carnet_hlc last = 0;
  for (int i = 0; i < 200000; i++) {
    /* Mostly forward, sometimes a jump back of up to 10 minutes. */
    if (trng_chance(&g, 5))
      wall -= trng_below(&g, 600000);
    else
      wall += trng_below(&g, 3);
    carnet_hlc h = carnet__hlc_tick(last, wall);
    CHECK(h > last, "tick went backwards at step %d (last %" PRIx64 " -> %" PRIx64 ")", i, last, h);
    CHECK(CARNET_HLC_MS(h) >= wall, "tick behind the wall clock at step %d", i);
    /* The greater of the wall clock and last + 1, as hlc.h says. */
    carnet_hlc want = MS(wall) > last + 1 ? MS(wall) : last + 1;
    CHECK(h == want, "tick %" PRIx64 " != max(wall, last + 1) %" PRIx64 " at step %d", h, want, i);
    last = h;
  }
}

static void test_recv_never_backwards(void **state) {
  (void)state;
  trng g;
  trng_seed(&g, g_seed + 1);
  carnet_hlc last = carnet__hlc_tick(0, TENV_EPOCH_MS);
  for (int i = 0; i < 200000; i++) {
    int64_t d = trng_range(&g, -7200000, 7200000); /* peers skewed by up to 2 h */
    carnet_hlc remote = MS((uint64_t)((int64_t)CARNET_HLC_MS(last) + d)) | trng_below(&g, 4);
    carnet_hlc r = carnet__hlc_recv(last, remote);
    CHECK(r >= last, "recv moved the clock backwards at step %d", i);
    CHECK(r >= remote, "recv did not raise the clock to the remote stamp at step %d", i);
    /* Causality: the next local event is after what was received. */
    uint64_t wall = TENV_EPOCH_MS + (uint64_t)i;
    carnet_hlc t = carnet__hlc_tick(r, wall);
    CHECK(t > remote && t > last, "tick after recv not after the received stamp (step %d)", i);
    last = trng_chance(&g, 50) ? r : t;
  }
  /* Receiving an old stamp changes nothing. */
  carnet_hlc now = MS(TENV_EPOCH_MS) | 5;
  assert_int_equal(carnet__hlc_recv(now, MS(1000)), now);
  assert_int_equal(carnet__hlc_recv(now, now), now);
  assert_int_equal(carnet__hlc_recv(0, now), now);
}

static void test_plausible(void **state) {
  (void)state;
  uint64_t now = TENV_EPOCH_MS;
  /* The past, now, and a peer a few hours ahead are all fine. */
  assert_true(carnet__hlc_plausible(MS(1), now));
  assert_true(carnet__hlc_plausible(MS(now - 86400000ull * 365), now));
  assert_true(carnet__hlc_plausible(MS(now), now));
  assert_true(carnet__hlc_plausible(MS(now) | 0xffff, now));
  assert_true(carnet__hlc_plausible(MS(now + 3 * 3600 * 1000), now));
  assert_true(carnet__hlc_plausible(MS(now + CARNET__HLC_MAX_AHEAD_MS - 1000), now));
  /* Further ahead than the limit is refused. */
  assert_false(carnet__hlc_plausible(MS(now + CARNET__HLC_MAX_AHEAD_MS + 1000), now));
  assert_false(carnet__hlc_plausible(MS(now + 365ull * 86400000), now));
  assert_false(carnet__hlc_plausible(UINT64_MAX, now));
  assert_false(carnet__hlc_plausible(MS(0xffffffffffffull), now));
  /* A wall clock near the end of the range must not overflow into
   * accepting everything or refusing the present. */
  uint64_t late = 0xffffffffffffull - 10;
  assert_true(carnet__hlc_plausible(MS(late), late));
}

int main(int argc, char **argv) {
  if (targ_seed(argc, argv, &g_seed))
    print_message("test_hlc: replaying seed %" PRIu64 "\n", g_seed);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tick_follows_wall_clock),
      cmocka_unit_test(test_tick_wall_clock_backwards),
      cmocka_unit_test(test_tick_counter_overflow),
      cmocka_unit_test(test_tick_random_walk),
      cmocka_unit_test(test_recv_never_backwards),
      cmocka_unit_test(test_plausible),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
