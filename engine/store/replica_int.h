/* engine/store/replica_int.h - the replica handle and its transaction, shared by
 * the engine's modules (not API). engine/store/handle.c implements what every
 * part does with them; engine/store/replica.c opens, closes and commits. */
#ifndef CARNET_ENGINE_REPLICA_INT_H
#define CARNET_ENGINE_REPLICA_INT_H

#include "carnet/normalize.h"
#include "carnet/replica.h"
#include "engine/base/bytes.h"
#include "engine/store/feed.h"
#include "engine/store/handle.h"
#include "engine/store/meta.h"
#include "engine/store/peer_int.h"
#include "engine/store/store.h"
#include <stdbool.h>

/* Slots of the handle's memo of phone reads (engine/store/phone_cache.c). */
#define CARNET__PHONE_MEMO_SLOTS 16
struct carnet__entity;
struct carnet__blind_secret;

struct carnet_replica {
  carnet__store *store;
  carnet_env env;
  char *dir;
  uint64_t id;
  char tag[5];
  char err[CARNET__ERRMSG_MAX];
  carnet_txn *txn; /* the open write transaction, if any */
  /* A write transaction parked between the calls of its owner (a bulk
   * group, engine/sync/bulk.h): not `txn`, so readers of the handle see the
   * last commit, and the next write in this process has it committed first
   * (carnet__txn_park). */
  carnet_txn *parked;
  void (*park_flush)(void *ctx);
  void *park_ctx;
  carnet__feed feed; /* subscriptions to the change feed (engine/store/feed.h) */
  /* The search index attached to this handle (the first one made, until
   * it is freed): carnet_record_list asks it for a customer's records
   * instead of scanning (engine/crm/search.c), at top level only (`listing`
   * counts the listings under way). */
  struct carnet_search *search;
  unsigned listing;
  /* How carnet_record_list asks the search index (engine/crm/read.c): set by
   * the index attached (engine/crm/search.c), so that reading, below the
   * search part, does not call up into it. NULL: scan. */
  int (*children)(carnet_replica *r, const carnet_id *customer, carnet_kind kind, carnet_id **ids,
                  size_t *n);
  /* The default random source draws from libsodium a pool at a time: each
   * randombytes_buf call is a getrandom system call, and a created customer
   * needs a few draws (id, stamps). Drawn bytes are wiped from the pool. */
  bool pooled_random;
  size_t rnd_used;
  uint8_t rnd_pool[512];
  /* The last compaction this handle tried (engine/erase/erase.c,
   * carnet_replica_get_compaction): 0, CARNET_EBUSY (another process had
   * the directory open) or its error with a detail; after an error, the
   * time before which an attempt that is not forced waits (a full disk is
   * not retried every second by a running node). */
  int compact_rc;
  char compact_why[256];
  uint64_t compact_retry_ms;
  unsigned compact_fails; /* failed attempts in a row (the wait doubles) */
  /* Live sessions of this handle per peer key (engine/store/peer.c,
   * carnet__peer_live_note): the peer is online through this process
   * while its count is above zero. */
  struct carnet__live_count {
    uint8_t pk[32];
    unsigned n; /* live sessions with it */
    bool dirty; /* `note` waits to be written */
    carnet__peer_live note;
    char addr[256];
  } * live;
  size_t nlive, caplive;
  uint64_t live_flushed_ms; /* the last write of the notes */
  /* Called after a commit that deleted or erased an attachment: the
   * attachments' sweep of its file, set at open and init by engine/top/open.c
   * (the store does not call up into the parts built on it). */
  void (*after_commit)(carnet_replica *r);
  /* The last phone numbers read (engine/store/phone_cache.h): wiped at
   * every commit and abort, and at close. */
  struct carnet__phone_memo {
    bool used;
    char text[96];
    char region[3];
    int rc;
    carnet_phone p;
  } phone_memo[CARNET__PHONE_MEMO_SLOTS];
  /* The search signature of an entity (engine/crm/searchsig.h: NULL for one
   * that has none), which the blind index's catch-up and its eager saves
   * write beside the blind keys, behind the same mark: set at open and
   * init by engine/top/open.c, like after_commit. NULL: none is written (and
   * a search scans: carnet__ssig_candidates). */
  int (*search_sig)(const struct carnet__entity *e, struct carnet__blind_secret *secret,
                    uint8_t **sig, size_t *len);
};

struct carnet_txn {
  carnet_replica *r;
  carnet__stxn *st;
  int sticky;     /* first error of a write in this transaction */
  carnet_hlc hlc; /* the clock, loaded at begin, saved at commit */
  uint64_t seq;   /* the last sequence number given */
  carnet_hlc hlc0;
  uint64_t seq0;
  carnet__notes notes; /* the entities changed, for the change feed */
  bool att_gone;       /* an attachment was deleted or erased: sweep its file after the
                          commit (engine/crm/attach.h A3) */
  uint64_t stale;      /* change-index entries this transaction left stale
                          (engine/store/changelog.h), counted at commit */
  /* A meta counter kept here from its first use and put at commit: the
   * customer reference code's (engine/crm/refcode.c, the only reader and
   * writer of its key), which used to be read and put for every customer
   * created (issue 17, point 5). `day`: the UTC day (ms / 86400000) its
   * key was expanded for; `ok`: key and n hold it; `dirty`: n waits to be
   * put. */
  struct carnet__txn_counter {
    char key[64];
    uint64_t n;
    uint64_t day;
    bool ok, dirty;
  } counter;
  /* Told of every customer this transaction saves, as saved (a bulk
   * writer's duplicate checks, engine/dupes/bulkdup.h); an error fails the
   * save. NULL: nobody. */
  int (*saved)(void *ctx, struct carnet_txn *t, const struct carnet__entity *e);
  void *saved_ctx;
};

/* Brief: put the counter kept in `t` (t->counter) if it waits to be, as
 * carnet_txn_commit does; a caller about to use another key first. */
int carnet__txn_counter_flush(carnet_txn *t);

/* Brief: park `t`, the handle's open write transaction, between calls of
 * its owner: the handle has no open transaction while it is parked (reads
 * see the last commit: a parked transaction is nobody's to read), and the
 * next write transaction begun in this process, through this handle or
 * not, first calls `flush(ctx)`, which must resume and then commit or abort
 * it. LMDB's writer lock stays held: other processes' writes wait for the
 * owner's commit, so an owner parks only for a bounded time. */
void carnet__txn_park(carnet_txn *t, void (*flush)(void *ctx), void *ctx);

/* Brief: make the parked `t` the handle's open transaction again. */
void carnet__txn_resume(carnet_txn *t);

/* Brief: have the parked transaction, if any, committed (or aborted) by its
 * owner now (before compaction, close, or anything that needs the writer). */
void carnet__park_flush(carnet_replica *r);

/* Brief: the ids of the records of `kind` (contact, document, action,
 * reminder) that may belong to `customer` or a member of its merged
 * group, from the handle's search index (r->children once one is
 * attached), sorted; a superset of the true
 * ones is allowed (the caller filters each record), never a subset.
 * Returns 0 (*ids is then the caller's: carnet__free), 1 when the index
 * cannot answer (none attached, not current, a transaction open, a
 * listing or a change callback under way: scan instead), or an error.
 * engine/crm/search.c. */
int carnet__search_children(carnet_replica *r, const carnet_id *customer, carnet_kind kind,
                            carnet_id **ids, size_t *n);

/* For init, open and restore (engine/top/backup.c): a handle with no store
 * yet (NULL: out of memory); the id and tag; `mkdir -p` with mode 0700. */
carnet_replica *carnet__replica_new(const char *dir, const carnet_env *env);
void carnet__replica_set_id(carnet_replica *r, uint64_t id);
/* The tag of replica id `id` (4 characters of Crockford base32, the top 20
 * bits: carnet_replica_tag). */
void carnet__tag_of(uint64_t id, char tag[5]);
int carnet__mkdir_p(const char *dir);

/* Open the store of r->dir into `r` (made by carnet__replica_new), check
 * its schema and id, load the data key (unwrapped with `env`, or `dkey`
 * when the caller has it already: a restore), upgrade the schema and try
 * a pending compaction: carnet_replica_open without the handle's
 * allocation. On error `why` says why; the caller closes `r`.
 * engine/top/open.c. */
int carnet__replica_load(carnet_replica *r, const carnet_env *env, const uint8_t *dkey, char *why,
                         size_t why_len);

/* The store's part of carnet__replica_load (engine/store/replica.c): open the
 * store, check the schema (`*schema` is the file's) and id, load the data
 * key. Upgrading and compacting are the caller's. */
int carnet__replica_load_store(carnet_replica *r, const carnet_env *env, const uint8_t *dkey,
                               uint32_t *schema, char *why, size_t why_len);

/* carnet_replica_init without the parts' hooks (engine/store/replica.c): make
 * the directory, the store, the keys and the identity. */
int carnet__replica_init_store(const char *dir, const carnet_env *env, carnet_replica **out,
                               char *errbuf, size_t errbuf_len);

/* Free the handle: abort its transaction, close its feed and store
 * (engine/store/replica.c). carnet_replica_close compacts first. */
void carnet__replica_free(carnet_replica *r);

/* A transaction to read in: the open write transaction when there is one
 * (so a caller sees its own writes), else a fresh read-only one, which
 * carnet__read_end aborts. */
int carnet__read_begin(carnet_replica *r, carnet__stxn **st);

/* The replica's default phone region (carnet_replica_get_region) read in
 * `st`: "FR" when none is stored. Errors: CARNET_ECORRUPT, CARNET_EIO. */
int carnet__region_read(carnet__stxn *st, char out[3]);
void carnet__read_end(carnet_replica *r, carnet__stxn *st);

/* Take the next local stamp and sequence number inside `t`. */
carnet_hlc carnet__txn_tick(carnet_txn *t);
uint64_t carnet__txn_next_seq(carnet_txn *t);

/* Mark the transaction failed (sticky) and return err. */
int carnet__txn_fail(carnet_txn *t, int err);

/* Brief: bring the blind index up to date before reading it (engine/store/index.c,
 * E3): inside the handle's open write transaction if there is one (its own
 * writes included), else in write transactions of its own, committed;
 * nothing on a read-only replica or inside a change callback (readers see
 * what is indexed). Errors: CARNET_ENOMEM, CARNET_ECORRUPT, CARNET_EIO,
 * CARNET_ENOSPC (last error set). */
int carnet__index_ready(carnet_replica *r);

/* Brief: the same, with the search signatures (CARNET__DERIVE_ALL), before a
 * text search reads them: the signatures of a large backlog (a bulk load,
 * a first sync) are derived here rather than by the first duplicate
 * check. Errors: those of carnet__index_ready. */
int carnet__search_ready(carnet_replica *r);

/* The replica's secret signing key (64 bytes), for the engine's own
 * signatures (carnet__sign, revocations); the caller wipes it. Nothing
 * outside the engine gets it: the handshake signs through carnet__sign. */
int carnet__identity_secret(carnet_replica *r, uint8_t sk[64]);

#endif
