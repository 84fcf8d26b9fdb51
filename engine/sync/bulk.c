/* engine/sync/bulk.c - bulk writes grouped by size or time (engine/sync/bulk.h). */
#include "engine/sync/bulk.h"

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/check.h"
#include "engine/store/handle.h"
#include "engine/store/replica_int.h"
#include "engine/store/store.h"
#include "engine/sync/changes_int.h"

void carnet__bulk_init(carnet__bulk *b, carnet_replica *r, size_t max_bytes, uint32_t max_ms,
                       size_t max_pages, unsigned max_units) {
  *b = (carnet__bulk){
      .r = r,
      .max_bytes = max_bytes ? max_bytes : CARNET__BULK_BYTES,
      .max_ms = max_ms ? max_ms : CARNET__BULK_MS,
      .max_pages = max_pages                          ? max_pages
                   : carnet__store_writemap(r->store) ? CARNET__BULK_PAGES_MAP
                                                      : CARNET__BULK_PAGES,
      .max_units = max_units,
  };
}

static void reset(carnet__bulk *b) {
  b->t = NULL;
  b->bytes = 0;
  b->entities = 0;
  b->units = 0;
}

int carnet__bulk_txn(carnet__bulk *b, uint64_t now_ms, carnet_txn **t) {
  *t = NULL;
  if (b->t) {
    if (b->r->parked == b->t) carnet__txn_resume(b->t);
    CARNET_ASSERT(b->r->txn == b->t);
    *t = b->t;
    return 0;
  }
  int rc = carnet_txn_begin(b->r, &b->t);
  if (rc) {
    b->t = NULL;
    return rc;
  }
  b->t0_ms = now_ms;
  *t = b->t;
  return 0;
}

void carnet__bulk_add(carnet__bulk *b, size_t bytes, uint64_t entities) {
  b->bytes += bytes;
  b->entities += entities;
  b->units++;
}

bool carnet__bulk_open(const carnet__bulk *b) {
  return b->t != NULL;
}

bool carnet__bulk_due(const carnet__bulk *b, uint64_t now_ms) {
  if (b->t == NULL) return false;
  if (b->bytes >= b->max_bytes || (b->max_units && b->units >= b->max_units)) return true;
  if (now_ms < b->t0_ms || now_ms - b->t0_ms >= b->max_ms) return true;
  return carnet__txn_dirty_estimate(b->t, b->entities) >= b->max_pages;
}

int carnet__bulk_commit(carnet__bulk *b) {
  if (b->t == NULL) return 0;
  if (b->r->parked == b->t) carnet__txn_resume(b->t);
  int rc = carnet_txn_commit(b->t);
  if (rc == 0) b->commits++;
  reset(b);
  return rc;
}

void carnet__bulk_abort(carnet__bulk *b) {
  if (b->t == NULL) return;
  if (b->r->parked == b->t) carnet__txn_resume(b->t);
  carnet_txn_abort(b->t);
  reset(b);
}

void carnet__bulk_park(carnet__bulk *b, void (*flush)(void *ctx), void *ctx) {
  if (b->t == NULL || b->r->parked == b->t) return;
  carnet__txn_park(b->t, flush, ctx);
}

/* --- the API (carnet/replica.h) ------------------------------------------- */

struct carnet_bulk {
  carnet__bulk b;
};

int carnet_bulk_new(carnet_replica *r, carnet_bulk **out) {
  *out = carnet__calloc(1, sizeof **out);
  if (*out == NULL) return CARNET_ENOMEM;
  carnet__bulk_init(&(*out)->b, r, CARNET_BULK_BYTES, CARNET_BULK_MS, 0, 0);
  return 0;
}

int carnet_bulk_txn(carnet_bulk *b, carnet_txn **t) {
  return carnet__bulk_txn(&b->b, carnet__now_ms(b->b.r), t);
}

int carnet_bulk_step(carnet_bulk *b, size_t bytes, bool *committed) {
  if (committed) *committed = false;
  if (!carnet__bulk_open(&b->b))
    return carnet__fail(b->b.r, CARNET_EMISUSE, "a bulk step with no transaction: carnet_bulk_txn");
  /* A unit is taken to write about one entity (pages estimated from it). */
  carnet__bulk_add(&b->b, bytes, 1);
  if (!carnet__bulk_due(&b->b, carnet__now_ms(b->b.r))) return 0;
  int rc = carnet__bulk_commit(&b->b);
  if (rc == 0 && committed) *committed = true;
  return rc;
}

int carnet_bulk_end(carnet_bulk *b) {
  int rc = carnet__bulk_commit(&b->b);
  carnet__free(b);
  return rc;
}

void carnet_bulk_abort(carnet_bulk *b) {
  if (b == NULL) return;
  carnet__bulk_abort(&b->b);
  carnet__free(b);
}
