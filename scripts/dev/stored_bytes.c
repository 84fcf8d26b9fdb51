/* scripts/dev/stored_bytes.c - a deterministic replica, to check that a
 * change to the write path leaves the stored bytes as they were.
 *
 * It makes a replica in DIR with the test environment's manual clock and
 * seeded random source (tests/support/testenv.h) and libsodium's random
 * source made deterministic, then writes: 5,000 customers of workload W
 * (W's +33 numbers, national French ones, +32, +1 and +39 ones), in
 * transactions of 250 and through a bulk writer, across a month boundary
 * (the reference code's counter changes key inside a transaction); 600
 * updates (a phone added, another replaced, the street); a create of an
 * existing id (CARNET_EEXIST, the transaction aborted); then the region
 * set to BE and customers with Belgian national numbers. Compare
 * `mdb_dump -a DIR` between two builds (and the same build twice):
 *
 *   scripts/dev/stored_bytes.sh BUILD_BEFORE BUILD_AFTER
 *
 * Not part of the build: scripts/dev/stored_bytes.sh compiles it against
 * each build's libcarnet_static.a.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "carnet/carnet.h"
#include "tests/support/testenv.h"

/* What bench/mapping.c takes from bench/carnet_bench.c (unused here). */
double bench_now_ms(void) {
  return 0;
}
void bench_die(const char *fmt, ...) {
  fprintf(stderr, "stored_bytes: %s\n", fmt);
  exit(1);
}

static uint64_t rnd_state = 0x5eed;

static uint32_t det_random(void) {
  return (uint32_t)tsplitmix64(&rnd_state);
}
static void det_buf(void *const buf, const size_t size) {
  uint8_t *b = buf;
  for (size_t i = 0; i < size; i++)
    b[i] = (uint8_t)tsplitmix64(&rnd_state);
}
static const char *det_name(void) {
  return "stored_bytes";
}
static struct randombytes_implementation det_impl = {
    .implementation_name = det_name, .random = det_random, .buf = det_buf};

static void die(carnet_replica *r, const char *what, int rc) {
  fprintf(stderr, "stored_bytes: %s: %s: %s\n", what, carnet_error_message(rc),
          r ? carnet_replica_errmsg(r) : "");
  exit(1);
}

/* W's record with its phones rewritten in one of the forms. */
static carnet_patch *patch_of(w_record *rec, unsigned i, bool belgian) {
  const char *d = rec->phone + 4; /* "D DD DD DD DD" */
  char digits[16];
  size_t n = 0;
  for (const char *p = rec->mobile + 4; *p; p++)
    if (*p != ' ') digits[n++] = *p;
  digits[n] = '\0';
  if (belgian) {
    snprintf(rec->phone, sizeof rec->phone, "0470 %.2s %.2s %.2s", digits + 2, digits + 4,
             digits + 6);
  } else {
    switch (i % 5) {
    case 0:
      snprintf(rec->phone, sizeof rec->phone, "0%s", d);
      break;
    case 1:
      snprintf(rec->mobile, sizeof rec->mobile, "+32 47%.1s %.2s %.2s %.2s", digits + 1, digits + 2,
               digits + 4, digits + 6);
      break;
    case 2:
      snprintf(rec->phone, sizeof rec->phone, "+1 415 555 %.4s", digits + 4);
      break;
    case 3:
      snprintf(rec->phone, sizeof rec->phone, "+39 06 %.4s %.4s", digits, digits + 4);
      break;
    }
  }
  return bench_patch_of(rec);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: stored_bytes DIR\n");
    return 2;
  }
  randombytes_set_implementation(&det_impl);
  if (sodium_init() < 0) return 1;
  tenv te;
  /* 2024-03-31T23:59:58.500Z: the month changes 1,500 ms in. */
  tenv_init(&te, 1711929598500ull, 42);
  carnet_env env;
  tenv_fill(&te, &env);
  carnet_replica *r = NULL;
  char why[512];
  int rc = carnet_replica_init(argv[1], &env, &r, why, sizeof why);
  if (rc) {
    fprintf(stderr, "stored_bytes: init: %s\n", why);
    return 1;
  }
  w_rng rng = w_stream(W_STREAM_W1);
  w_record *recs = calloc(5000, sizeof *recs);
  if (recs == NULL) return 1;
  for (unsigned i = 0; i < 5000; i++)
    w_record_next(&rng, &recs[i]);
  /* 4,000 in transactions of 250, 1,000 through a bulk writer. */
  for (unsigned i = 0; i < 4000; i += 250) {
    carnet_txn *t;
    if ((rc = carnet_txn_begin(r, &t))) die(r, "begin", rc);
    for (unsigned j = i; j < i + 250; j++) {
      carnet_patch *p = patch_of(&recs[j], j, false);
      carnet_id id;
      memcpy(id.b, recs[j].id, 16);
      if ((rc = carnet_record_create(t, p, &id, NULL))) die(r, "create", rc);
      carnet_patch_free(p);
      tenv_advance_ms(&te, 1);
    }
    if ((rc = carnet_txn_commit(t))) die(r, "commit", rc);
  }
  carnet_bulk *bk;
  if ((rc = carnet_bulk_new(r, &bk))) die(r, "bulk", rc);
  for (unsigned j = 4000; j < 5000; j++) {
    carnet_txn *t;
    bool committed;
    carnet_patch *p = patch_of(&recs[j], j, false);
    carnet_id id;
    memcpy(id.b, recs[j].id, 16);
    if ((rc = carnet_bulk_txn(bk, &t)) || (rc = carnet_record_create(t, p, &id, NULL)) ||
        (rc = carnet_bulk_step(bk, 0, &committed)))
      die(r, "bulk create", rc);
    carnet_patch_free(p);
    tenv_advance_ms(&te, 1);
  }
  if ((rc = carnet_bulk_end(bk))) die(r, "bulk end", rc);
  /* 600 updates in transactions of 100. */
  for (unsigned i = 0; i < 600; i += 100) {
    carnet_txn *t;
    if ((rc = carnet_txn_begin(r, &t))) die(r, "begin", rc);
    for (unsigned j = i; j < i + 100; j++) {
      const w_record *rec = &recs[(j * 7919) % 5000];
      carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
      char phone[32], street[64];
      snprintf(phone, sizeof phone, "+33 6 %02u %02u %02u %02u", j % 100, (j / 7) % 100,
               (j / 3) % 100, j % 97);
      snprintf(street, sizeof street, "%u rue du Test", j);
      rc = carnet_patch_phone(p, "home", phone);
      if (rc == 0 && j % 3 == 0) rc = carnet_patch_phone_replace(p, "work", "+33 1 23 45 67 89");
      if (rc == 0) rc = carnet_patch_set(p, CARNET_F_STREET, street);
      carnet_id id;
      memcpy(id.b, rec->id, 16);
      if (rc || (rc = carnet_record_update(t, &id, p))) die(r, "update", rc);
      carnet_patch_free(p);
      tenv_advance_ms(&te, 3);
    }
    if ((rc = carnet_txn_commit(t))) die(r, "commit", rc);
  }
  /* A create of an existing id, after one that worked in the same
   * transaction: CARNET_EEXIST, and the transaction is aborted. */
  {
    carnet_txn *t;
    w_record extra;
    w_record_next(&rng, &extra);
    if ((rc = carnet_txn_begin(r, &t))) die(r, "begin", rc);
    carnet_patch *p = patch_of(&extra, 0, false);
    carnet_id id;
    memcpy(id.b, extra.id, 16);
    if ((rc = carnet_record_create(t, p, &id, NULL))) die(r, "create", rc);
    carnet_patch_free(p);
    p = patch_of(&recs[17], 17, false);
    memcpy(id.b, recs[17].id, 16);
    rc = carnet_record_create(t, p, &id, NULL);
    carnet_patch_free(p);
    if (rc != CARNET_EEXIST) die(r, "create of an existing id", rc ? rc : CARNET_EINVAL);
    carnet_txn_abort(t);
  }
  /* Belgian national numbers once the region is BE. */
  if ((rc = carnet_replica_set_region(r, "BE"))) die(r, "region", rc);
  {
    carnet_txn *t;
    if ((rc = carnet_txn_begin(r, &t))) die(r, "begin", rc);
    for (unsigned j = 0; j < 50; j++) {
      w_record extra;
      w_record_next(&rng, &extra);
      carnet_patch *p = patch_of(&extra, j, true);
      carnet_id id;
      memcpy(id.b, extra.id, 16);
      if ((rc = carnet_record_create(t, p, &id, NULL))) die(r, "create BE", rc);
      carnet_patch_free(p);
      tenv_advance_ms(&te, 1);
    }
    if ((rc = carnet_txn_commit(t))) die(r, "commit", rc);
  }
  free(recs);
  carnet_replica_close(r);
  return 0;
}
