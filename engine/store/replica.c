/* engine/store/replica.c - the replica handle's store: init, the store part of
 * open (engine/top/open.c opens with every part), transactions and the
 * persisted clock.
 *
 * Invariant R1: the HLC and the sequence counter live in the meta table and
 * are read and written inside each write transaction, so two processes
 * writing the same directory (their writers serialised by LMDB) never hand
 * out the same stamp or sequence number.
 */
#include "engine/base/alloc.h"
#include "engine/store/changelog.h"
#include "engine/store/entity_io.h"
#include "engine/store/phone_cache.h"
#include "engine/store/replica_int.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "carnet/error.h"
#include "carnet/normalize.h"
#include "engine/base/check.h"
#include "engine/model/hlc.h"
#include "engine/store/keys.h"

/* --- init / open / close ------------------------------------------------- */

int carnet__mkdir_p(const char *dir) {
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof path) return -1;
  memcpy(path, dir, n + 1);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0700) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static void copy_why(char *errbuf, size_t errbuf_len, const char *why) {
  if (errbuf && errbuf_len) snprintf(errbuf, errbuf_len, "%s", why);
}

int carnet__replica_init_store(const char *dir, const carnet_env *env, carnet_replica **out,
                               char *errbuf, size_t errbuf_len) {
  carnet_replica *r = NULL;
  carnet__stxn *st = NULL;
  char why[512] = "";
  char path[4096], keypath[4200];
  struct stat sb;
  bool created = false, had_key_file;
  int rc;
  *out = NULL;
  if (sodium_init() < 0) return CARNET_ENOMEM;
  snprintf(keypath, sizeof keypath, "%s/%s", dir, CARNET_KEY_FILE_NAME);
  had_key_file = lstat(keypath, &sb) == 0;
  snprintf(path, sizeof path, "%s/data.mdb", dir);
  if (stat(path, &sb) == 0) {
    snprintf(why, sizeof why, "a replica already exists in %s", dir);
    rc = CARNET_EEXIST;
    goto done;
  }
  if (carnet__mkdir_p(dir) != 0) {
    snprintf(why, sizeof why, "cannot create directory %s: %s", dir, strerror(errno));
    rc = CARNET_EIO;
    goto done;
  }
  if ((r = carnet__replica_new(dir, env)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  if ((rc = carnet__store_open(dir, CARNET__STORE_CREATE, &r->store, why, sizeof why))) goto done;
  created = true;
  uint64_t id = 0;
  while (id == 0)
    carnet__random(r, &id, sizeof id);
  carnet__replica_set_id(r, id);
  if ((rc = carnet__store_begin(r->store, true, &st))) {
    snprintf(why, sizeof why, "cannot write the new replica in %s: %s", dir,
             carnet__store_why(r->store));
    goto done;
  }
  if ((rc = carnet__keys_create(r, st, env))) {
    snprintf(why, sizeof why, "%s", r->err);
    goto done;
  }
  uint8_t schema[4], seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES],
      sk[crypto_sign_SECRETKEYBYTES], team[16];
  carnet__be32_put(schema, CARNET_SCHEMA_VERSION);
  /* Keys come from the injected random source, so tests replay exactly. */
  carnet__random(r, seed, sizeof seed);
  carnet__random(r, team, sizeof team);
  crypto_sign_seed_keypair(pk, sk, seed);
  sodium_memzero(seed, sizeof seed);
  if ((rc = carnet__meta_put_u64(st, CARNET__META_REPLICA_ID, id)) ||
      (rc = carnet__store_put(st, CARNET__T_META, CARNET__META_SCHEMA, strlen(CARNET__META_SCHEMA),
                              schema, 4, 0)) ||
      (rc = carnet__meta_put_u64(st, CARNET__META_HLC, 0)) ||
      (rc = carnet__meta_put_u64(st, CARNET__META_SEQ, 0)) ||
      (rc = carnet__store_put(st, CARNET__T_META, CARNET__META_SIGN_PK,
                              strlen(CARNET__META_SIGN_PK), pk, sizeof pk, 0)) ||
      (rc = carnet__store_put(st, CARNET__T_META, CARNET__META_SIGN_SK,
                              strlen(CARNET__META_SIGN_SK), sk, sizeof sk, 0)) ||
      (rc = carnet__store_put(st, CARNET__T_META, CARNET__META_TEAM, strlen(CARNET__META_TEAM),
                              team, sizeof team, 0))) {
    sodium_memzero(sk, sizeof sk);
    snprintf(why, sizeof why, "cannot write the new replica in %s: %s", dir,
             carnet__store_why(r->store));
    goto done;
  }
  sodium_memzero(sk, sizeof sk);
  rc = carnet__store_commit(st);
  st = NULL;
  if (rc) {
    snprintf(why, sizeof why, "cannot write the new replica in %s: %s", dir,
             carnet__store_why(r->store));
    goto done;
  }
  *out = r;
  r = NULL;
done:
  carnet__store_abort(st);
  carnet__replica_free(r); /* a fresh replica: no compaction can be pending */
  if (rc && created) {
    /* Leave nothing half made behind: a retry would find "a replica". */
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    if (!had_key_file) unlink(keypath);
  }
  if (rc) copy_why(errbuf, errbuf_len, why[0] ? why : carnet_error_message(rc));
  return rc;
}

int carnet__replica_load_store(carnet_replica *r, const carnet_env *env, const uint8_t *dkey,
                               uint32_t *schema_out, char *why, size_t why_len) {
  carnet__stxn *st = NULL;
  const char *dir = r->dir;
  int rc;
  uint64_t id;
  carnet_buf v;
  if ((rc = carnet__store_open(dir, 0, &r->store, why, why_len))) goto done;
  if ((rc = carnet__store_begin(r->store, false, &st))) {
    snprintf(why, why_len, "cannot read the replica in %s: %s", dir, carnet__store_why(r->store));
    goto done;
  }
  rc = carnet__store_get(st, CARNET__T_META, CARNET__META_SCHEMA, strlen(CARNET__META_SCHEMA), &v);
  if (rc || v.len != 4) {
    snprintf(why, why_len, "%s does not hold a Carnet replica (no schema version)", dir);
    rc = CARNET_ECORRUPT;
    goto done;
  }
  uint32_t schema = carnet__be32_get(v.base);
  if (schema > CARNET_SCHEMA_VERSION) {
    snprintf(why, why_len,
             "the replica in %s was written by a newer version of Carnet (schema %u, this build "
             "reads up to %u): upgrade carnet",
             dir, schema, CARNET_SCHEMA_VERSION);
    rc = CARNET_EVERSION;
    goto done;
  }
  if ((rc = carnet__meta_get_u64(st, CARNET__META_REPLICA_ID, &id)) || id == 0) {
    snprintf(why, why_len, "%s does not hold a Carnet replica (no replica id)", dir);
    rc = CARNET_ECORRUPT;
    goto done;
  }
  if (schema < 2) {
    snprintf(why, why_len,
             "the replica in %s is not encrypted (made before encryption at rest, schema %u) and "
             "this build opens encrypted replicas only: make a new one with 'carnet init' and "
             "fill it with 'carnet join' from a peer (see docs/DESIGN-NOTES.md, encryption at "
             "rest)",
             dir, schema);
    rc = CARNET_EVERSION;
    goto done;
  }
  carnet__replica_set_id(r, id);
  /* Invariant K1 (engine/store/keys.c): the data key before anything else. */
  if (dkey) {
    rc = carnet__store_set_key(r->store, dkey);
  } else if ((rc = carnet__keys_load(r, st, env))) {
    snprintf(why, why_len, "%s", r->err);
    carnet__clear_err(r);
    goto done;
  }
  carnet__store_abort(st);
  st = NULL;
  if (rc) goto done;
  /* Read-only, nothing can be upgraded: from schema 3 (the blind index
   * hash of this build) the store reads each table as the file's schema
   * stored it; an older one must be upgraded before it can be read. */
  if (schema < 3 && carnet__store_readonly(r->store)) {
    snprintf(why, why_len,
             "the replica in %s is read-only (%s) and of an older schema (%u) that this build "
             "must upgrade before reading it: open it once on writable storage",
             dir, carnet__store_readonly_why(r->store), schema);
    rc = CARNET_EPERM;
    goto done;
  }
  *schema_out = schema;
done:
  carnet__store_abort(st);
  return rc;
}

void carnet__replica_free(carnet_replica *r) {
  if (r == NULL) return;
  carnet__park_flush(r);
  if (r->txn) carnet_txn_abort(r->txn);
  carnet__feed_close(r);
  carnet__store_close(r->store);
  carnet__free(r->dir);
  carnet__free(r->live);
  sodium_memzero(r->rnd_pool, sizeof r->rnd_pool);
  carnet__phone_memo_wipe(r);
  carnet__free(r);
}

bool carnet_replica_readonly(const carnet_replica *r) {
  return r->store && carnet__store_readonly(r->store);
}

uint64_t carnet_replica_id(const carnet_replica *r) {
  return r->id;
}

const char *carnet_replica_tag(const carnet_replica *r) {
  return r->tag;
}

const char *carnet_replica_dir(const carnet_replica *r) {
  return r->dir;
}

int carnet_replica_get_seq(carnet_replica *r, uint64_t *out) {
  carnet__stxn *st;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = r->txn ? (*out = r->txn->seq, 0) : carnet__meta_get_u64(st, CARNET__META_SEQ, out);
  carnet__read_end(r, st);
  return rc;
}

/* --- transactions --------------------------------------------------------- */

int carnet_txn_begin(carnet_replica *r, carnet_txn **out) {
  carnet_txn *t = NULL;
  int rc;
  *out = NULL;
  if (r->txn) return carnet__fail(r, CARNET_EMISUSE, "a transaction is already open");
  if (carnet__feed_busy(r))
    return carnet__fail(r, CARNET_EMISUSE,
                        "a change callback cannot write to the replica "
                        "(carnet/feed.h): write after the call that committed");
  if (carnet__store_readonly(r->store))
    return carnet__fail(r, CARNET_EPERM,
                        "the replica in %s is on read-only storage (%s): reading works, but this "
                        "writes to it; copy the directory to writable storage to change it",
                        r->dir,
                        carnet__store_readonly_why(r->store)[0]
                            ? carnet__store_readonly_why(r->store)
                            : "opened read-only");
  if ((t = carnet__calloc(1, sizeof *t)) == NULL) return CARNET_ENOMEM;
  t->r = r;
  if ((rc = carnet__store_begin(r->store, true, &t->st))) {
    rc = carnet__fail(r, rc, "cannot start a write: %s", carnet__store_why(r->store));
    goto fail;
  }
  if ((rc = carnet__meta_get_u64(t->st, CARNET__META_HLC, &t->hlc)) ||
      (rc = carnet__meta_get_u64(t->st, CARNET__META_SEQ, &t->seq))) {
    rc = carnet__fail(r, CARNET_ECORRUPT, "the replica's clock is missing or damaged");
    goto fail;
  }
  if ((rc = carnet__index_secret_ensure(t))) {
    rc = carnet__fail(r, rc, "cannot make the replica's index key: %s", carnet_error_message(rc));
    goto fail;
  }
  if ((rc = carnet__feed_begin(r, &t->notes, t->st))) {
    rc = carnet__fail(r, rc, "cannot read the replica's erasure counter");
    goto fail;
  }
  t->hlc0 = t->hlc;
  t->seq0 = t->seq;
  r->txn = t;
  *out = t;
  return 0;
fail:
  carnet__store_abort(t->st);
  carnet__free(t);
  return rc;
}

/* --- parked transactions ------------------------------------------------ */

static void park_hook(void *ctx) {
  carnet__park_flush(ctx);
}

void carnet__txn_park(carnet_txn *t, void (*flush)(void *ctx), void *ctx) {
  carnet_replica *r = t->r;
  CARNET_ASSERT(r->txn == t && r->parked == NULL && flush != NULL);
  r->txn = NULL;
  r->parked = t;
  r->park_flush = flush;
  r->park_ctx = ctx;
  carnet__store_before_write(r->store, park_hook, r);
}

void carnet__txn_resume(carnet_txn *t) {
  carnet_replica *r = t->r;
  CARNET_ASSERT(r->parked == t && r->txn == NULL);
  r->parked = NULL;
  r->park_flush = NULL;
  r->park_ctx = NULL;
  r->txn = t;
  carnet__store_before_write(r->store, NULL, NULL);
}

void carnet__park_flush(carnet_replica *r) {
  if (r->parked == NULL) return;
  void (*fn)(void *) = r->park_flush;
  void *ctx = r->park_ctx;
  carnet__txn_resume(r->parked);
  fn(ctx); /* the owner commits (or aborts) and keeps its own error */
  /* The owner must not leave it open: the caller is about to write. */
  CARNET_ASSERT(r->txn == NULL && r->parked == NULL);
}

int carnet__txn_counter_flush(carnet_txn *t) {
  if (!t->counter.dirty) return 0;
  int rc = carnet__meta_put_u64(t->st, t->counter.key, t->counter.n);
  if (rc == 0) t->counter.dirty = false;
  return rc;
}

/* The one place commits happen (engine/store/feed.h F1): the change feed is
 * raised here, once the commit is durable and the handle has no
 * transaction, so a callback may read. */
int carnet_txn_commit(carnet_txn *t) {
  carnet_replica *r = t->r;
  carnet__notes ext = {0};
  uint64_t certseq = 0;
  int rc = t->sticky;
  if (rc == 0 && t->hlc != t->hlc0) rc = carnet__meta_put_u64(t->st, CARNET__META_HLC, t->hlc);
  if (rc == 0 && t->seq != t->seq0) rc = carnet__meta_put_u64(t->st, CARNET__META_SEQ, t->seq);
  if (rc == 0 && t->stale) rc = carnet__changelog_stale(t->st, t->stale);
  if (rc == 0) rc = carnet__txn_counter_flush(t);
  if (rc == 0 && t->notes.on) carnet__feed_precommit(t, &ext, &certseq);
  if (rc) {
    carnet__store_abort(t->st);
  } else {
    rc = carnet__store_commit(t->st);
    if (rc) carnet__fail(r, rc, "commit failed: %s", carnet__store_why(r->store));
  }
  r->txn = NULL;
  carnet__phone_memo_wipe(r); /* personal data: not kept past a transaction */
  if (rc == 0 && t->notes.on) carnet__feed_commit(r, &ext, &t->notes, t->seq, certseq);
  /* A3: deleted or erased files, swept by the attachments (engine/top/open.c
   * sets the hook: the store does not call up into them). */
  if (rc == 0 && t->att_gone && r->after_commit) r->after_commit(r);
  carnet__feed_notes_free(&ext);
  carnet__feed_notes_free(&t->notes);
  carnet__free(t);
  return rc;
}

void carnet_txn_abort(carnet_txn *t) {
  if (t == NULL) return;
  carnet__store_abort(t->st);
  t->r->txn = NULL;
  carnet__phone_memo_wipe(t->r);
  carnet__feed_notes_free(&t->notes);
  carnet__free(t);
}

/* --- role ------------------------------------------------------------------ */

const char *carnet_role_name(carnet_role role) {
  switch (role) {
  case CARNET_ROLE_ADMIN:
    return "admin";
  case CARNET_ROLE_MEMBER:
    return "member";
  }
  return NULL;
}

carnet_role carnet_role_parse(const char *name) {
  if (name && strcmp(name, "admin") == 0) return CARNET_ROLE_ADMIN;
  if (name && strcmp(name, "member") == 0) return CARNET_ROLE_MEMBER;
  return 0;
}

int carnet_replica_get_role(carnet_replica *r, carnet_role *out) {
  carnet__stxn *st;
  carnet_buf v;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = carnet__store_get(st, CARNET__T_META, CARNET__META_ROLE, strlen(CARNET__META_ROLE), &v);
  if (rc == CARNET_ENOTFOUND) {
    *out = CARNET_ROLE_ADMIN;
    rc = 0;
  } else if (rc == 0) {
    const uint8_t *b = v.base;
    if (v.len != 1 || carnet_role_name((carnet_role)b[0]) == NULL)
      rc = carnet__fail(r, CARNET_ECORRUPT, "the replica's role is damaged");
    else
      *out = (carnet_role)b[0];
  }
  carnet__read_end(r, st);
  return rc;
}

int carnet__region_read(carnet__stxn *st, char out[3]) {
  carnet_buf v;
  int rc =
      carnet__store_get(st, CARNET__T_META, CARNET__META_REGION, strlen(CARNET__META_REGION), &v);
  if (rc == CARNET_ENOTFOUND) {
    memcpy(out, "FR", 3);
    return 0;
  }
  if (rc) return rc;
  /* Stored bytes are outside bytes too: a region the metadata knows. */
  if (v.len != 2) return CARNET_ECORRUPT;
  memcpy(out, v.base, 2);
  out[2] = '\0';
  if (!carnet_phone_region_valid(out)) {
    memcpy(out, "FR", 3);
    return CARNET_ECORRUPT;
  }
  return 0;
}

int carnet_replica_get_region(carnet_replica *r, char out[3]) {
  carnet__stxn *st;
  memcpy(out, "FR", 3);
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = carnet__region_read(st, out);
  carnet__read_end(r, st);
  if (rc == CARNET_ECORRUPT) return carnet__fail(r, rc, "the replica's phone region is damaged");
  return rc;
}

int carnet_replica_set_region(carnet_replica *r, const char *region) {
  carnet_txn *t = NULL;
  char up[3];
  if (!carnet_phone_region_valid(region))
    return carnet__fail(r, CARNET_EINVAL,
                        "unknown region '%s': give an ISO 3166 country code such as FR, BE, CH",
                        region ? region : "");
  up[0] = (char)toupper((unsigned char)region[0]);
  up[1] = (char)toupper((unsigned char)region[1]);
  int rc = carnet_txn_begin(r, &t);
  if (rc) return rc;
  rc = carnet__store_put(t->st, CARNET__T_META, CARNET__META_REGION, strlen(CARNET__META_REGION),
                         up, 2, 0);
  if (rc) {
    carnet__fail(r, rc, "cannot store the region: %s", carnet__store_why(r->store));
    carnet_txn_abort(t);
    return rc;
  }
  return carnet_txn_commit(t);
}

int carnet_replica_set_role(carnet_replica *r, carnet_role role) {
  carnet_txn *t = NULL;
  uint8_t b = (uint8_t)role;
  if (carnet_role_name(role) == NULL)
    return carnet__fail(r, CARNET_EINVAL, "unknown role %d (admin or member)", (int)role);
  int rc = carnet_txn_begin(r, &t);
  if (rc) return rc;
  rc = carnet__store_put(t->st, CARNET__T_META, CARNET__META_ROLE, strlen(CARNET__META_ROLE), &b, 1,
                         0);
  if (rc) {
    carnet__fail(r, rc, "cannot store the role: %s", carnet__store_why(r->store));
    carnet_txn_abort(t);
    return rc;
  }
  return carnet_txn_commit(t);
}
