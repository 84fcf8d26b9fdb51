/* engine/store/handle.c - what every part of the engine does with the replica
 * handle (engine/store/replica_int.h): make it, read its clock, randomness and
 * log, record the detail of an error, read in its transaction, and take
 * stamps and sequence numbers in its write. The bottom of the engine's
 * handle: it calls the store and nothing above it, so the parts that use
 * the handle do not depend on replica.c's open, close and commit.
 */
#include "engine/store/replica_int.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/check.h"
#include "engine/model/hlc.h"

/* --- environment -------------------------------------------------------- */

static uint64_t real_now_ms(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void real_log(void *ctx, int level, const char *line) {
  (void)ctx;
  if (level <= CARNET_LOG_WARN) fprintf(stderr, "carnet: %s\n", line);
}

uint64_t carnet__now_ms(const carnet_replica *r) {
  return r->env.now_ms(r->env.ctx);
}

void carnet__random(carnet_replica *r, void *buf, size_t n) {
  if (!r->pooled_random) {
    r->env.random(r->env.ctx, buf, n);
    return;
  }
  uint8_t *out = buf;
  while (n > 0) {
    if (r->rnd_used == sizeof r->rnd_pool) {
      randombytes_buf(r->rnd_pool, sizeof r->rnd_pool);
      r->rnd_used = 0;
    }
    size_t k = sizeof r->rnd_pool - r->rnd_used;
    if (k > n) k = n;
    memcpy(out, r->rnd_pool + r->rnd_used, k);
    sodium_memzero(r->rnd_pool + r->rnd_used, k);
    r->rnd_used += k;
    out += k;
    n -= k;
  }
}

void carnet__log(const carnet_replica *r, int level, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  r->env.log(r->env.ctx, level, line);
}

int carnet__fail(carnet_replica *r, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->err, sizeof r->err, fmt, ap);
  va_end(ap);
  return code;
}

void carnet__clear_err(carnet_replica *r) {
  r->err[0] = '\0';
}

const char *carnet_replica_errmsg(const carnet_replica *r) {
  return r ? r->err : "";
}

/* --- the handle --------------------------------------------------------- */

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

carnet_replica *carnet__replica_new(const char *dir, const carnet_env *env) {
  carnet_replica *r = carnet__calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->dir = carnet__strdup(dir);
  if (r->dir == NULL) {
    carnet__free(r);
    return NULL;
  }
  if (env) r->env = *env;
  if (r->env.now_ms == NULL) r->env.now_ms = real_now_ms;
  r->pooled_random = r->env.random == NULL;
  r->rnd_used = sizeof r->rnd_pool; /* empty: filled at the first draw */
  if (r->env.log == NULL) r->env.log = real_log;
  /* Key material is used by init/open only (carnet/types.h). */
  r->env.key_file = NULL;
  r->env.passphrase = NULL;
  return r;
}

void carnet__tag_of(uint64_t id, char tag[5]) {
  for (int i = 0; i < 4; i++)
    tag[i] = crockford[(id >> (59 - 5 * i)) & 31];
  tag[4] = '\0';
}

void carnet__replica_set_id(carnet_replica *r, uint64_t id) {
  r->id = id;
  carnet__tag_of(id, r->tag);
}

/* --- reads and the write transaction ------------------------------------ */

bool carnet__txn_open(const carnet_replica *r) {
  return r->txn != NULL;
}

int carnet__read_begin(carnet_replica *r, carnet__stxn **st) {
  if (r->txn) {
    *st = r->txn->st;
    return 0;
  }
  int rc = carnet__store_begin(r->store, false, st);
  if (rc) return carnet__fail(r, rc, "cannot read the replica: %s", carnet__store_why(r->store));
  return 0;
}

void carnet__read_end(carnet_replica *r, carnet__stxn *st) {
  if (r->txn == NULL || r->txn->st != st) carnet__store_abort(st);
}

carnet_hlc carnet__txn_tick(carnet_txn *t) {
  CARNET_ASSERT(t->r->txn == t); /* stamps are taken in the handle's open write (R1) */
  t->hlc = carnet__hlc_tick(t->hlc, carnet__now_ms(t->r));
  return t->hlc;
}

uint64_t carnet__txn_next_seq(carnet_txn *t) {
  CARNET_ASSERT(t->r->txn == t && t->seq >= t->seq0 && t->seq < UINT64_MAX);
  return ++t->seq;
}

int carnet__txn_fail(carnet_txn *t, int err) {
  if (t->sticky == 0) t->sticky = err;
  return err;
}
