/* tests/support/tagalloc.h - a tagging allocator for carnet_allocator_set,
 * with a fault switch.
 *
 * Every block carries a header with a magic number: a block the library
 * made and released with the C library's free(), or a block of another
 * library (libzip, expat, utf8proc, msgpack) released through
 * carnet_free, aborts the test at once, in any build. It counts the blocks
 * alive, and can refuse the Nth allocation from a point on, for the sweeps
 * of STYLE 17 (TAGALLOC_SWEEP).
 *
 * An allocator has no context by design (carnet/alloc.h: it is the
 * library's one process-wide setting), so neither has this one: its state
 * is the test process's. Install it in main() before any other carnet call.
 */
#ifndef CARNET_TESTS_TAGALLOC_H
#define CARNET_TESTS_TAGALLOC_H

#include <stdbool.h>

/* Brief: make the library allocate through the tagging allocator; false
 * (with a line on stderr) when the library refuses (it has allocated
 * already: call this first). */
bool tagalloc_install(void);

/* Blocks alive, allocations made (realloc included), allocations refused. */
long tagalloc_live(void);
long tagalloc_calls(void);
long tagalloc_failures(void);

/* Brief: print (stderr) the serial number of every live block made by
 * allocation number `serial` or later (allocations count from 0 at the
 * start of the process, refused ones not counted); returns how many. To see
 * where a leaked block was made: break in the allocator on that serial. */
long tagalloc_report_since(long serial);

/* Brief: refuse the `n`-th allocation from now (0: the next one); -1
 * refuses none. Counting restarts at each call. */
void tagalloc_fail_at(long n);

/* Runs `call` (an int expression, 0 on success) with the Nth allocation
 * refused, N = 0, 1, 2... until it succeeds; after each failure no block is
 * left alive and the statement `check` runs. (The call that succeeds may
 * hand a block out, or fill a cache of the replica: a warm-up call before
 * the sweep fills the caches, so that a failing call is not blamed for
 * them.) Prints how many allocations the call needed. */
#define TAGALLOC_SWEEP(call, check)                                                                \
  do {                                                                                             \
    for (long n_ = 0;; n_++) {                                                                     \
      long live_ = tagalloc_live(), serial_ = tagalloc_calls();                                    \
      tagalloc_fail_at(n_);                                                                        \
      int sweep_rc_ = (call);                                                                      \
      tagalloc_fail_at(-1);                                                                        \
      if (sweep_rc_ == 0) {                                                                        \
        printf("%s: succeeded once %ld allocations were refused in turn\n", #call, n_);            \
        break;                                                                                     \
      }                                                                                            \
      if (tagalloc_live() != live_) {                                                              \
        tagalloc_report_since(serial_);                                                            \
        fail_msg("%s, allocation %ld refused: %ld blocks leaked", #call, n_,                       \
                 tagalloc_live() - live_);                                                         \
      }                                                                                            \
      if (n_ > 100000) fail_msg("%s never succeeds", #call);                                       \
      check;                                                                                       \
    }                                                                                              \
  } while (0)

#endif
