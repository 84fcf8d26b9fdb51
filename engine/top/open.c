/* engine/top/open.c - a replica opened and closed with every part of the
 * engine: the top of the engine's dependency order.
 *
 * engine/store/replica.c opens the store (schema, id, data key) and frees the
 * handle; the parts above it (the index, erasure) have work to do at open
 * (upgrading an older schema, a compaction an erasure left pending) and at
 * close (that compaction). Doing it here, above them all, keeps the store
 * from calling up into the parts that are built on it.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "carnet/erase.h"
#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/crm/attach.h"
#include "engine/crm/searchsig.h"
#include "engine/erase/erase.h"
#include "engine/store/entity_io.h"
#include "engine/store/replica_int.h"

/* Bring a replica of an older schema (>= 2) to CARNET_SCHEMA_VERSION, in
 * one write transaction: a crash leaves it as it was, and the next open
 * upgrades it again. The schema is read again inside the transaction, as
 * another process may have upgraded it since the read of the caller.
 * 2 -> 3: the blind index keys are hashed again (carnet__index_rehash).
 * A build older than this one refuses the upgraded replica ("written by a
 * newer version"); one that has it open already keeps writing the old
 * hash until it closes it: docs/DESIGN-NOTES.md, blind indexes. */
static int schema_upgrade(carnet_replica *r, char *why, size_t why_len) {
  carnet__stxn *st = NULL;
  carnet_buf v;
  uint8_t b[4];
  int rc = carnet__store_begin(r->store, true, &st);
  if (rc) goto done;
  rc = carnet__store_get(st, CARNET__T_META, CARNET__META_SCHEMA, strlen(CARNET__META_SCHEMA), &v);
  if (rc || v.len != 4) {
    rc = rc ? rc : CARNET_ECORRUPT;
    goto done;
  }
  uint32_t schema = carnet__be32_get(v.base);
  if (schema >= CARNET_SCHEMA_VERSION) goto done; /* upgraded meanwhile: nothing to commit */
  if (schema < 3 && (rc = carnet__index_rehash(st))) goto done;
  /* 4: the erasure certificates sealed (their reason may name a person);
   * their clear copies in free pages go with the compaction it asks for. */
  if (schema < 4 && (rc = carnet__erase_seal_certs(st))) goto done;
  /* 5: attachments (rows of kind 6, index keys 'a', DIR/files): nothing
   * to rewrite; the number keeps a build without them from reading their
   * rows as damage. */
  /* 6: the conflicts table (engine/crm/conflict.h), created at open: nothing
   * to rewrite; the number keeps an older build, which would erase a
   * customer and leave the values it lost in merges, from writing. */
  /* 7: the blind index is derived behind a mark (engine/store/index.c, E3); an
   * older replica's index is whole, so the mark starts at its sequence
   * number. An older build would neither catch up before reading nor
   * know the mark: the number keeps it out. */
  uint64_t seq;
  if (schema < 7 && ((rc = carnet__meta_get_u64(st, CARNET__META_SEQ, &seq)) ||
                     (rc = carnet__index_mark_put(st, seq))))
    goto done;
  /* 8: the search signatures (engine/crm/searchsig.h), derived behind the
   * same mark: every customer's, in one pass in id order (appended). An
   * older build would write customers without them: the number keeps it
   * out. */
  if (schema < 8 && (rc = carnet__ssig_build_all(st))) goto done;
  /* 9: the search signatures behind a mark of their own ("signed_upto",
   * engine/crm/searchsig.h G1), which the first text search brings up to
   * date when a duplicate check left a large backlog's signatures to it.
   * Up to now they were derived behind the index's mark: it starts there.
   * An older build would read the index's mark for both and miss the
   * customers whose signature is still to come: the number keeps it out. */
  uint64_t im;
  if (schema < 9 && ((rc = carnet__index_mark(st, &im)) || (rc = carnet__sig_mark_put(st, im))))
    goto done;
  carnet__be32_put(b, CARNET_SCHEMA_VERSION);
  if ((rc = carnet__store_put(st, CARNET__T_META, CARNET__META_SCHEMA, strlen(CARNET__META_SCHEMA),
                              b, 4, 0)))
    goto done;
  rc = carnet__store_commit(st);
  st = NULL;
  if (rc == 0)
    carnet__log(r, CARNET_LOG_INFO, "upgraded the replica from schema %u to %u", schema,
                CARNET_SCHEMA_VERSION);
done:
  carnet__store_abort(st);
  if (rc)
    snprintf(why, why_len, "cannot upgrade the replica in %s to schema %u (%s): %s", r->dir,
             CARNET_SCHEMA_VERSION, carnet_error_message(rc), carnet__store_why(r->store));
  return rc;
}

/* What the parts above the store hook onto the handle. */
static void install_hooks(carnet_replica *r) {
  r->after_commit = carnet__att_sweep_quiet;
  r->search_sig = carnet__ssig_of;
}

int carnet_replica_init(const char *dir, const carnet_env *env, carnet_replica **out, char *errbuf,
                        size_t errbuf_len) {
  int rc = carnet__replica_init_store(dir, env, out, errbuf, errbuf_len);
  if (rc == 0) install_hooks(*out);
  return rc;
}

int carnet__replica_load(carnet_replica *r, const carnet_env *env, const uint8_t *dkey, char *why,
                         size_t why_len) {
  uint32_t schema = 0;
  int rc = carnet__replica_load_store(r, env, dkey, &schema, why, why_len);
  if (rc) return rc;
  install_hooks(r);
  CARNET_ASSERT(schema >= 2 && schema <= CARNET_SCHEMA_VERSION);
  if (schema < CARNET_SCHEMA_VERSION && !carnet__store_readonly(r->store) &&
      (rc = schema_upgrade(r, why, why_len)))
    return rc;
  /* An erasure applied while another process had the directory open left
   * its compaction to the next process that can do it (carnet/erase.h).
   * Read-only, it waits for a process that can write. */
  (void)carnet_replica_compact(r, false, NULL);
  carnet__clear_err(r);
  return 0;
}

int carnet_replica_open(const char *dir, const carnet_env *env, carnet_replica **out, char *errbuf,
                        size_t errbuf_len) {
  carnet_replica *r = NULL;
  char why[512] = "";
  int rc;
  *out = NULL;
  if (sodium_init() < 0) return CARNET_ENOMEM;
  if ((r = carnet__replica_new(dir, env)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  if ((rc = carnet__replica_load(r, env, NULL, why, sizeof why))) goto done;
  *out = r;
  r = NULL;
done:
  carnet_replica_close(r);
  if (rc) carnet__why(errbuf, errbuf_len, rc, "%s", why[0] ? why : carnet_error_message(rc));
  return rc;
}

void carnet_replica_close(carnet_replica *r) {
  if (r == NULL) return;
  carnet__park_flush(r);
  if (r->txn) carnet_txn_abort(r->txn);
  carnet__feed_close(r);
  /* A compaction left to the next process that can run it (carnet/erase.h). */
  if (r->id) (void)carnet_replica_compact(r, false, NULL);
  carnet__replica_free(r);
}
