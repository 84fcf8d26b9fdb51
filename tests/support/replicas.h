/* tests/support/replicas.h - what engine tests with several replicas share:
 * a fixture of N replicas in scratch directories, each with its own injected
 * clock and random source (tenv), the assertions that print the replica's
 * error message, one call in its own transaction, and in-process sync
 * through change batches.
 */
#ifndef CARNET_TESTS_REPLICAS_H
#define CARNET_TESTS_REPLICAS_H

#include <stddef.h>
#include <stdint.h>

#include "carnet/carnet.h"
#include "support/testenv.h"

#define RFX_MAX 4

typedef struct rfx {
  char *root;
  int n;
  char *dir[RFX_MAX];
  tenv env[RFX_MAX];
  carnet_replica *r[RFX_MAX];
} rfx;

/* Brief: n fresh replicas (at most RFX_MAX) under a scratch directory named
 * after `label`, clocks at `start_ms`, random sources seeded seed + i. Fails
 * the running test on error. Free with rfx_free (NULL is a no-op). */
rfx *rfx_new(const char *label, int n, uint64_t start_ms, uint64_t seed);
void rfx_free(rfx *f);

/* Brief: send every change `from` has that `to` has not seen (batches of at
 * most max_bytes; 0 = the default), as a sync session would. */
void rfx_sync(carnet_replica *from, carnet_replica *to, size_t max_bytes);

/* Brief: assert both replicas have the same state digest. */
void rfx_assert_same_digest(carnet_replica *a, carnet_replica *b);

#define ASSERT_OK(r, expr)                                                                         \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    if (rc_ != 0)                                                                                  \
      fail_msg("%s: %s (%s)", #expr, carnet_error_name(rc_), (r) ? carnet_replica_errmsg(r) : ""); \
  } while (0)

#define ASSERT_RC(r, expr, want)                                                                   \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    if (rc_ != (want))                                                                             \
      fail_msg("%s: got %s, want %s (%s)", #expr, carnet_error_name(rc_), carnet_error_name(want), \
               carnet_replica_errmsg(r));                                                          \
  } while (0)

/* One call in its own transaction `t`: commit, or abort and return the
 * call's code. */
#define TX(r, call)                                                                                \
  __extension__({                                                                                  \
    carnet_txn *t = NULL;                                                                          \
    int txrc_ = carnet_txn_begin((r), &t);                                                         \
    if (txrc_ == 0) {                                                                              \
      txrc_ = (call);                                                                              \
      if (txrc_)                                                                                   \
        carnet_txn_abort(t);                                                                       \
      else                                                                                         \
        txrc_ = carnet_txn_commit(t);                                                              \
    }                                                                                              \
    txrc_;                                                                                         \
  })

#endif
