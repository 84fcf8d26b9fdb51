/* engine/replica.c - the replica handle: init/open/close, the environment
 * (clock, randomness, log), transactions and the persisted clock.
 *
 * Invariant R1: the HLC and the sequence counter live in the meta table and
 * are read and written inside each write transaction, so two processes
 * writing the same directory (their writers serialised by LMDB) never hand
 * out the same stamp or sequence number.
 */
#include "engine/entity_io.h"
#include "engine/erase.h"
#include "engine/alloc.h"
#include "engine/replica_int.h"
#include "engine/attach.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "carnet/erase.h"
#include "carnet/error.h"
#include "engine/check.h"
#include "engine/hlc.h"
#include "engine/keys.h"

/* --- byte order --------------------------------------------------------- */

void carnet__be64_put(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

uint64_t carnet__be64_get(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

void carnet__be32_put(uint8_t *p, uint32_t v) {
  for (int i = 3; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

uint32_t carnet__be32_get(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v = (v << 8) | p[i];
  return v;
}

int carnet__meta_get_u64(carnet__stxn *st, const char *key, uint64_t *out) {
  carnet_buf v;
  int rc = carnet__store_get(st, CARNET__T_META, key, strlen(key), &v);
  if (rc) return rc;
  if (v.len != 8) return CARNET_ECORRUPT;
  *out = carnet__be64_get(v.base);
  return 0;
}

int carnet__meta_put_u64(carnet__stxn *st, const char *key, uint64_t v) {
  uint8_t b[8];
  carnet__be64_put(b, v);
  return carnet__store_put(st, CARNET__T_META, key, strlen(key), b, 8, 0);
}

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

/* --- init / open / close ------------------------------------------------- */

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
  for (int i = 0; i < 4; i++) tag[i] = crockford[(id >> (59 - 5 * i)) & 31];
  tag[4] = '\0';
}

void carnet__replica_set_id(carnet_replica *r, uint64_t id) {
  r->id = id;
  carnet__tag_of(id, r->tag);
}

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

int carnet_replica_init(const char *dir, const carnet_env *env, carnet_replica **out,
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
  while (id == 0) carnet__random(r, &id, sizeof id);
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
      (rc = carnet__store_put(st, CARNET__T_META, CARNET__META_SCHEMA,
                              strlen(CARNET__META_SCHEMA), schema, 4, 0)) ||
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
  if (r) carnet_replica_close(r);
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
  /* 6: the conflicts table (engine/conflict.h), created at open: nothing
   * to rewrite; the number keeps an older build, which would erase a
   * customer and leave the values it lost in merges, from writing. */
  /* 7: the blind index is derived behind a mark (engine/index.c, E3); an
   * older replica's index is whole, so the mark starts at its sequence
   * number. An older build would neither catch up before reading nor
   * know the mark: the number keeps it out. */
  uint64_t seq;
  if (schema < 7 && ((rc = carnet__meta_get_u64(st, CARNET__META_SEQ, &seq)) ||
                     (rc = carnet__index_mark_put(st, seq))))
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

int carnet__replica_load(carnet_replica *r, const carnet_env *env, const uint8_t *dkey,
                         char *why, size_t why_len) {
  carnet__stxn *st = NULL;
  const char *dir = r->dir;
  int rc;
  uint64_t id;
  carnet_buf v;
  if ((rc = carnet__store_open(dir, 0, &r->store, why, why_len))) goto done;
  if ((rc = carnet__store_begin(r->store, false, &st))) {
    snprintf(why, why_len, "cannot read the replica in %s: %s", dir,
             carnet__store_why(r->store));
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
  /* Invariant K1 (engine/keys.c): the data key before anything else. */
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
  if (schema < CARNET_SCHEMA_VERSION && !carnet__store_readonly(r->store) &&
      (rc = schema_upgrade(r, why, why_len)))
    goto done;
  /* An erasure applied while another process had the directory open left
   * its compaction to the next process that can do it (carnet/erase.h).
   * Read-only, it waits for a process that can write. */
  (void)carnet_replica_compact(r, false, NULL);
  carnet__clear_err(r);
done:
  carnet__store_abort(st);
  return rc;
}

int carnet_replica_open(const char *dir, const carnet_env *env, carnet_replica **out,
                        char *errbuf, size_t errbuf_len) {
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
  if (r) carnet_replica_close(r);
  if (rc) copy_why(errbuf, errbuf_len, why[0] ? why : carnet_error_message(rc));
  return rc;
}

void carnet_replica_close(carnet_replica *r) {
  if (r == NULL) return;
  if (r->txn) carnet_txn_abort(r->txn);
  carnet__feed_close(r);
  if (r->id) (void)carnet_replica_compact(r, false, NULL);
  carnet__store_close(r->store);
  carnet__free(r->dir);
  carnet__free(r->live);
  sodium_memzero(r->rnd_pool, sizeof r->rnd_pool);
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
    return carnet__fail(r, CARNET_EMISUSE, "a change callback cannot write to the replica "
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

/* The one place commits happen (engine/feed.h F1): the change feed is
 * raised here, once the commit is durable and the handle has no
 * transaction, so a callback may read. */
int carnet_txn_commit(carnet_txn *t) {
  carnet_replica *r = t->r;
  carnet__notes ext = {0};
  uint64_t certseq = 0;
  int rc = t->sticky;
  if (rc == 0 && t->hlc != t->hlc0) rc = carnet__meta_put_u64(t->st, CARNET__META_HLC, t->hlc);
  if (rc == 0 && t->seq != t->seq0) rc = carnet__meta_put_u64(t->st, CARNET__META_SEQ, t->seq);
  if (rc == 0 && t->notes.on) carnet__feed_precommit(t, &ext, &certseq);
  if (rc) {
    carnet__store_abort(t->st);
  } else {
    rc = carnet__store_commit(t->st);
    if (rc) carnet__fail(r, rc, "commit failed: %s", carnet__store_why(r->store));
  }
  r->txn = NULL;
  if (rc == 0 && t->notes.on) carnet__feed_commit(r, &ext, &t->notes, t->seq, certseq);
  if (rc == 0 && t->att_gone) carnet__att_sweep_quiet(r); /* A3: deleted or erased files */
  carnet__feed_notes_free(&ext);
  carnet__feed_notes_free(&t->notes);
  carnet__free(t);
  return rc;
}

void carnet_txn_abort(carnet_txn *t) {
  if (t == NULL) return;
  carnet__store_abort(t->st);
  t->r->txn = NULL;
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

int carnet_replica_set_role(carnet_replica *r, carnet_role role) {
  carnet_txn *t = NULL;
  uint8_t b = (uint8_t)role;
  if (carnet_role_name(role) == NULL)
    return carnet__fail(r, CARNET_EINVAL, "unknown role %d (admin or member)", (int)role);
  int rc = carnet_txn_begin(r, &t);
  if (rc) return rc;
  rc = carnet__store_put(t->st, CARNET__T_META, CARNET__META_ROLE, strlen(CARNET__META_ROLE), &b,
                         1, 0);
  if (rc) {
    carnet__fail(r, rc, "cannot store the role: %s", carnet__store_why(r->store));
    carnet_txn_abort(t);
    return rc;
  }
  return carnet_txn_commit(t);
}
