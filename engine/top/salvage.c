/* engine/top/salvage.c - rescuing what can be read of a damaged replica into a
 * new one (carnet_replica_salvage, carnet/verify.h).
 *
 * The damaged file is never opened through LMDB, which follows whatever
 * pointer it finds: it is read page by page, every pointer checked
 * (engine/store/store_pages.h), from its last commit's trees. What those reach
 * and still authenticates (every row is sealed with the replica's data key
 * and its own id as associated data: a damaged or misplaced value does not
 * open) and decodes goes into a new replica, in this order:
 *
 *   source locked (no other process may write it meanwhile) -> meta: the
 *   key record, unwrapped with the caller's passphrase or key file -> new
 *   replica (carnet_replica_init: its own data key, id, tag, numbering
 *   series) -> the team, role, numbering rules, blind index secret and, if
 *   it opens, the identity key (the team still trusts it); the trust list,
 *   the erased ids, the opposition list, the erasure certificates (applied)
 *   -> every row, merged as if it came from a peer (stamps and origins
 *   kept; the erasure filter drops what a certificate covers), in batches
 *   -> the change index of the old file names every entity it had: each
 *   one not copied and not erased is reported lost, with its id.
 *
 * Not copied: the marks the old replica kept for its peers (they would say
 * that rows lost here had been received; without them peers send
 * everything again, which merges as a no-op), its sequence and numbering
 * counters (a new replica id gives new series), invites, and the derived
 * tables (rebuilt as the rows are saved).
 *
 * Only the live trees are read, never free pages: they hold older versions
 * of rows, and rows that an erasure deleted before its compaction.
 */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include "carnet/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "carnet/erase.h"
#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/mp.h"
#include "engine/base/seal.h"
#include "engine/erase/erase.h"
#include "engine/model/cert.h"
#include "engine/model/hlc.h"
#include "engine/model/schema.h"
#include "engine/store/entity_io.h"
#include "engine/store/keys.h"
#include "engine/store/replica_int.h"
#include "engine/store/store_pages.h"

/* Rows merged per transaction: the memory a write transaction holds stays
 * bounded whatever the size of the replica. */
#define BATCH_ROWS 1024u
/* Values a meta entry of the old replica may hold. */
#define META_VALUE_MAX 512u

typedef struct salvage {
  carnet_replica *src; /* for messages and the key (no store) */
  carnet_replica *dst;
  carnet__pages *pages;
  carnet_salvage_fn *on_loss;
  void *ctx;
  carnet_salvage_report rep;
  uint8_t dkey[32];
  uint32_t schema;
  carnet_txn *t; /* the open batch */
  unsigned in_batch;
  msgpack_sbuffer sb; /* scratch of carnet__save */
  carnet_id *got;     /* the ids copied or erased, sorted at the end */
  size_t ngot, capgot;
  const char *table; /* the table being walked, for damage reports */
  int err;           /* the first error that stops the salvage */
} salvage;

static void lost(salvage *s, const char *table, const carnet_id *id, const char *why) {
  if (s->on_loss) s->on_loss(s->ctx, table, id, why);
}

static void on_bad_page(void *ctx, uint64_t pgno, const char *what, int line) {
  salvage *s = ctx;
  char why[256];
  s->rep.damaged_pages++;
  snprintf(why, sizeof why,
           "page %llu is damaged (%s; engine/store/store_pages.c:%d): what it holds "
           "is lost",
           (unsigned long long)pgno, what, line);
  lost(s, s->table, NULL, why);
}

static int got_add(salvage *s, const carnet_id *id) {
  if (s->ngot == s->capgot) {
    size_t cap = s->capgot ? 2 * s->capgot : 1024;
    carnet_id *p = carnet__realloc(s->got, cap * sizeof *p);
    if (p == NULL) return CARNET_ENOMEM;
    s->got = p;
    s->capgot = cap;
  }
  s->got[s->ngot++] = *id;
  return 0;
}

static int id_cmp(const void *a, const void *b) {
  return memcmp(a, b, 16);
}

/* --- batches of the new replica ------------------------------------------------ */

static int batch_commit(salvage *s) {
  if (s->t == NULL) return 0;
  int rc = carnet_txn_commit(s->t);
  s->t = NULL;
  s->in_batch = 0;
  return rc;
}

static int batch_begin(salvage *s) {
  return s->t ? 0 : carnet_txn_begin(s->dst, &s->t);
}

/* --- meta ------------------------------------------------------------------------ */

typedef struct meta_entry {
  char key[64];
  uint8_t v[META_VALUE_MAX];
  size_t len;
} meta_entry;

typedef struct meta_set {
  meta_entry *e;
  size_t n, cap;
} meta_set;

static int on_meta(void *ctx, const void *k, size_t klen, const void *v, size_t vlen) {
  meta_set *m = ctx;
  if (klen == 0 || klen >= sizeof m->e[0].key || vlen > META_VALUE_MAX) return 0;
  if (m->n == m->cap) {
    size_t cap = m->cap ? 2 * m->cap : 32;
    meta_entry *p = carnet__realloc(m->e, cap * sizeof *p);
    if (p == NULL) return CARNET_ENOMEM;
    m->e = p;
    m->cap = cap;
  }
  meta_entry *e = &m->e[m->n++];
  memcpy(e->key, k, klen);
  e->key[klen] = '\0';
  memcpy(e->v, v, vlen);
  e->len = vlen;
  return 0;
}

static const meta_entry *meta_find(const meta_set *m, const char *key) {
  for (size_t i = 0; i < m->n; i++)
    if (strcmp(m->e[i].key, key) == 0) return &m->e[i];
  return NULL;
}

/* A sealed value of table `table` under `key`, opened with the old data key
 * into `out` (room for vlen bytes). Returns its length, or -1 when it does
 * not open. */
static long open_sealed(const salvage *s, const char *table, const void *key, size_t klen,
                        const void *v, size_t vlen, uint8_t *out) {
  if (vlen < CARNET__SEAL_OVERHEAD) return -1;
  if (carnet__unseal(s->dkey, table, key, klen, v, vlen, out) != 0) return -1;
  return (long)(vlen - CARNET__SEAL_OVERHEAD);
}

/* The team, role, numbering rules, blind index secret and identity. */
static int copy_meta(salvage *s, const meta_set *m) {
  carnet__stxn *st = s->t->st;
  uint8_t buf[META_VALUE_MAX];
  int rc = 0;
  for (size_t i = 0; i < m->n && rc == 0; i++) {
    const meta_entry *e = &m->e[i];
    bool plain = strcmp(e->key, CARNET__META_TEAM) == 0 || strcmp(e->key, CARNET__META_ROLE) == 0 ||
                 strncmp(e->key, "numrule:", strlen("numrule:")) == 0;
    if (plain) rc = carnet__store_put(st, CARNET__T_META, e->key, strlen(e->key), e->v, e->len, 0);
  }
  /* The secrets: sealed with the old data key, sealed again with the new. */
  const meta_entry *ik = meta_find(m, CARNET__META_INDEX_KEY);
  if (rc == 0 && ik) {
    long n = open_sealed(s, "meta", ik->key, strlen(ik->key), ik->v, ik->len, buf);
    if (n == CARNET__INDEX_SECRET_LEN)
      rc = carnet__store_put(st, CARNET__T_META, ik->key, strlen(ik->key), buf, (size_t)n, 0);
    else
      lost(s, "meta", NULL,
           "the blind index secret does not open: the opposition list of erased persons "
           "cannot be read by the new replica");
  }
  const meta_entry *pk = meta_find(m, CARNET__META_SIGN_PK),
                   *sk = meta_find(m, CARNET__META_SIGN_SK);
  long n = sk ? open_sealed(s, "meta", sk->key, strlen(sk->key), sk->v, sk->len, buf) : -1;
  if (rc == 0 && pk && pk->len == 32 && n == 64 && memcmp(buf + 32, pk->v, 32) == 0) {
    /* The identity the team trusts (an Ed25519 secret key ends with its
     * public key): kept, with a new replica id. */
    rc = carnet__store_put(st, CARNET__T_META, sk->key, strlen(sk->key), buf, 64, 0);
    if (rc == 0) rc = carnet__store_put(st, CARNET__T_META, pk->key, strlen(pk->key), pk->v, 32, 0);
    s->rep.identity_kept = rc == 0;
  } else if (rc == 0) {
    /* The new replica keeps the key pair carnet_replica_init made. */
    lost(s, "meta", NULL,
         "the identity key does not open: the new replica has a key of its own, which the "
         "team must trust ('carnet id' there, 'carnet peer trust KEY' on a replica of the team)");
  }
  sodium_memzero(buf, sizeof buf);
  return rc;
}

/* --- tables copied as they are, and certificates ------------------------------------ */

typedef struct raw_copy {
  salvage *s;
  carnet__table tb;
  size_t klen, vlen; /* the only sizes the table holds (0: any) */
} raw_copy;

static int on_raw(void *ctx, const void *k, size_t klen, const void *v, size_t vlen) {
  raw_copy *c = ctx;
  salvage *s = c->s;
  if ((c->klen && klen != c->klen) || (c->vlen && vlen != c->vlen) || klen == 0 || klen > 511) {
    lost(s, c->s->table, NULL, "an entry of the wrong size (damaged)");
    return 0;
  }
  int rc = carnet__store_put(s->t->st, c->tb, k, klen, v, vlen, 0);
  if (rc == 0 && c->tb == CARNET__T_ERASED) {
    carnet_id id;
    memcpy(id.b, k, 16);
    rc = got_add(s, &id);
  }
  return rc;
}

static int on_cert(void *ctx, const void *k, size_t klen, const void *v, size_t vlen) {
  salvage *s = ctx;
  carnet_id id;
  uint8_t *plain = NULL;
  const uint8_t *row = v;
  size_t len = vlen;
  carnet_erasure *c = NULL;
  int rc = 0;
  if (klen != 16) {
    lost(s, "certs", NULL, "an entry of the wrong size (damaged)");
    return 0;
  }
  memcpy(id.b, k, 16);
  if (s->schema >= 4) { /* sealed from schema 4 (engine/store/store.c) */
    if ((plain = carnet__malloc(vlen ? vlen : 1)) == NULL) return CARNET_ENOMEM;
    long n = open_sealed(s, "certs", k, klen, v, vlen, plain);
    if (n < 0) {
      lost(s, "certs", &id, "the erasure certificate fails authentication (damaged)");
      goto done;
    }
    row = plain;
    len = (size_t)n;
  }
  /* lseq (uint) then the certificate. */
  carnet__mp m;
  uint64_t lseq;
  if (carnet__mp_init(&m, row, len) == 0) {
    bool ok = carnet__mp_uint(&m, &lseq) == 0;
    size_t off = m.off;
    carnet__mp_destroy(&m);
    if ((c = carnet__malloc(sizeof *c)) == NULL) {
      rc = CARNET_ENOMEM;
      goto done;
    }
    if (ok && carnet__cert_decode(row + off, len - off, c, NULL) == 0 &&
        memcmp(c->id.b, id.b, 16) == 0) {
      bool changed;
      if ((rc = carnet__cert_apply(s->t, c, &changed)) == 0) {
        s->rep.certificates++;
        rc = got_add(s, &id);
      }
      goto done;
    }
  }
  lost(s, "certs", &id, "the erasure certificate does not decode (damaged)");
done:
  if (plain) {
    sodium_memzero(plain, vlen);
    carnet__free(plain);
  }
  carnet__free(c);
  return rc;
}

/* --- rows --------------------------------------------------------------------------- */

/* Merge a row of the old replica as a peer's change would be (engine/sync/changes.c
 * apply_entity): its stamps and origins kept, new sequence numbers here. */
static int merge_row(salvage *s, const carnet__entity *e) {
  carnet_txn *t = s->t;
  carnet__loaded l;
  bool drop = false;
  int rc = carnet__load_lazy(t->st, &e->id, &l);
  if (rc == 0 && l.existed && l.e.kind != e->kind) rc = CARNET_EPROTO;
  if (rc == 0) {
    uint64_t seq = t->seq + 1;
    uint32_t won = 0;
    l.e.kind = e->kind;
    for (size_t i = 0; rc == 0 && i < e->n; i++) {
      bool changed;
      rc = carnet__entity_merge(&l.e, &e->cells[i], seq, &changed);
      won += changed;
      t->hlc = carnet__hlc_recv(t->hlc, e->cells[i].hlc);
    }
    if (rc == 0 && won) rc = carnet__erase_filter(t, &l, &drop);
    if (rc == 0 && won && !drop) {
      t->seq = seq;
      rc = carnet__save(t, &l, &s->sb);
    }
  }
  carnet__loaded_free(&l);
  return rc;
}

static int on_row(void *ctx, const void *k, size_t klen, const void *v, size_t vlen) {
  salvage *s = ctx;
  carnet_id id;
  carnet__entity e;
  char why[128];
  int rc = 0;
  s->rep.rows++;
  if (klen != 16) {
    lost(s, "entities", NULL, "a record with a damaged id");
    s->rep.lost++;
    return 0;
  }
  memcpy(id.b, k, 16);
  uint8_t *plain = carnet__malloc(vlen ? vlen : 1);
  if (plain == NULL) return CARNET_ENOMEM;
  long n = open_sealed(s, "entities", k, klen, v, vlen, plain);
  carnet__entity_init(&e, NULL);
  if (n < 0) {
    lost(s, "entities", &id, "the record fails authentication (damaged)");
    s->rep.lost++;
    goto done;
  }
  if (carnet__row_decode(&id, plain, (size_t)n, &e) != 0) {
    lost(s, "entities", &id, "the record does not decode (damaged)");
    s->rep.lost++;
    goto done;
  }
  for (size_t i = 0; i < e.n; i++)
    if (carnet__cell_check(e.kind, &e.cells[i]) != 0) {
      snprintf(why, sizeof why, "a value of the record fails the schema (field %u)",
               (unsigned)e.cells[i].field);
      lost(s, "entities", &id, why);
      s->rep.lost++;
      goto done;
    }
  if ((rc = batch_begin(s)) || (rc = merge_row(s, &e))) {
    if (rc == CARNET_EPROTO) { /* an id of another kind here already: cannot be */
      lost(s, "entities", &id, "the record changes the kind of an entity (damaged)");
      s->rep.lost++;
      rc = 0;
    }
    goto done;
  }
  s->rep.copied++;
  if ((rc = got_add(s, &id)) == 0 && ++s->in_batch >= BATCH_ROWS) rc = batch_commit(s);
done:
  carnet__entity_free(&e);
  sodium_memzero(plain, vlen);
  carnet__free(plain);
  return rc;
}

/* Entities the old change index names that were not copied (nor erased). */
static int on_change(void *ctx, const void *k, size_t klen, const void *v, size_t vlen) {
  salvage *s = ctx;
  carnet_id id;
  (void)k;
  if (klen != 8 || vlen < 16) return 0;
  memcpy(id.b, v, 16);
  if (s->ngot && bsearch(&id, s->got, s->ngot, sizeof id, id_cmp)) return 0;
  lost(s, "entities", &id, "its record was on a damaged page (the change index names it)");
  s->rep.lost++;
  return 0; /* the change index names each entity once */
}

/* --- the call ------------------------------------------------------------------------- */

/* A walk's context: the entries go to fn(ctx), the damage to the salvage. */
typedef struct walk_ctx {
  salvage *s;
  carnet__pages_entry_fn *fn;
  void *ctx;
} walk_ctx;

static int walk_entry(void *ctx, const void *k, size_t klen, const void *v, size_t vlen) {
  walk_ctx *w = ctx;
  return w->fn(w->ctx, k, klen, v, vlen);
}

static void walk_bad(void *ctx, uint64_t pgno, const char *what, int line) {
  walk_ctx *w = ctx;
  on_bad_page(w->s, pgno, what, line);
}

/* Walk `table` of the old file; a table the damage hid is reported. */
static int walk(salvage *s, const char *table, carnet__pages_entry_fn *fn, void *ctx) {
  walk_ctx w = {s, fn, ctx};
  s->table = table;
  int rc = carnet__pages_walk(s->pages, table, walk_entry, walk_bad, &w);
  if (rc == CARNET_ENOTFOUND) {
    char why[160];
    snprintf(why, sizeof why, "the table '%s' cannot be found (the page naming it is damaged)",
             table);
    lost(s, table, NULL, why);
    rc = 0;
  }
  return rc;
}

/* Take the old replica's directory lock exclusive, without waiting: no
 * other process writes it while it is read (pages it frees could be
 * reused under the walk). -1 on failure (errno), else the descriptor or
 * -2 when there is no lock file (read-only media: nothing writes there). */
static int lock_source(const char *dir) {
  char path[4200];
  snprintf(path, sizeof path, "%s/carnet.lock", dir);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? -2 : -1;
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
    fl.l_type = F_RDLCK; /* a read-only descriptor: a shared lock still keeps compaction out */
    if (errno != EBADF || fcntl(fd, F_OFD_SETLK, &fl) != 0) {
      int e = errno == EBADF ? EAGAIN : errno;
      close(fd);
      errno = e;
      return -1;
    }
  }
  return fd;
}

int carnet_replica_salvage(const char *from, const char *to, const carnet_env *env,
                           carnet_salvage_fn *on_loss, void *ctx, carnet_salvage_report *report,
                           char *errbuf, size_t errbuf_len) {
  salvage s = {.on_loss = on_loss, .ctx = ctx};
  meta_set meta = {0};
  char why[512] = "", path[4200];
  uint8_t dir_key[32];
  bool need_dir_key = false;
  int lock_fd = -2, rc;
  if (errbuf && errbuf_len) errbuf[0] = '\0';
  if (from == NULL || to == NULL || (report && report->size < sizeof(size_t))) {
    snprintf(why, sizeof why,
             "carnet_replica_salvage: no directory, or a report without its "
             "size (CARNET_SALVAGE_REPORT_INIT)");
    rc = CARNET_EMISUSE;
    goto done;
  }
  if (sodium_init() < 0) return CARNET_ENOMEM;
  msgpack_sbuffer_init(&s.sb);
  s.rep.size = sizeof s.rep;
  if ((lock_fd = lock_source(from)) == -1) {
    snprintf(why, sizeof why,
             "another process has the replica in %s open (carnet serve?): stop it, then salvage "
             "(%s)",
             from, strerror(errno));
    rc = CARNET_EBUSY;
    goto done;
  }
  snprintf(path, sizeof path, "%s/data.mdb", from);
  if ((rc = carnet__pages_open(path, &s.pages, why, sizeof why))) {
    if (rc == CARNET_ENOTFOUND) {
      snprintf(why, sizeof why, "no replica in %s (no data.mdb)", from);
      rc = CARNET_ENOREPLICA;
    }
    goto done;
  }
  /* The old replica's meta values, and its data key. */
  if ((rc = carnet__pages_walk(s.pages, "meta", on_meta, NULL, &meta)) && rc != CARNET_ENOTFOUND)
    goto done;
  const meta_entry *crypt = meta_find(&meta, CARNET__META_CRYPT),
                   *schema = meta_find(&meta, CARNET__META_SCHEMA);
  if (crypt == NULL || schema == NULL || schema->len != 4) {
    snprintf(why, sizeof why,
             "the replica's key record or schema in %s is on a damaged page: nothing of it can "
             "be decrypted (restore a backup, or sync a new replica from a peer)",
             from);
    rc = CARNET_ECORRUPT;
    goto done;
  }
  s.schema = carnet__be32_get(schema->v);
  if (s.schema > CARNET_SCHEMA_VERSION || s.schema < 2) {
    snprintf(why, sizeof why, "the replica in %s has schema %u: this build salvages 2 to %u", from,
             s.schema, CARNET_SCHEMA_VERSION);
    rc = CARNET_EVERSION;
    goto done;
  }
  if ((s.src = carnet__replica_new(from, env)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  if ((rc =
           carnet__keys_unwrap(s.src, crypt->v, crypt->len, env, s.dkey, dir_key, &need_dir_key))) {
    snprintf(why, sizeof why, "%s", carnet_replica_errmsg(s.src));
    goto done;
  }
  sodium_memzero(dir_key, sizeof dir_key);
  /* The new replica: its own data key, id, tag and series. */
  if ((rc = carnet_replica_init(to, env, &s.dst, why, sizeof why))) goto done;
  s.rep.replica_id = carnet_replica_id(s.dst);
  if ((rc = batch_begin(&s)) || (rc = copy_meta(&s, &meta))) goto fail;
  raw_copy peers = {&s, CARNET__T_PEERS, 32, 0}, erased = {&s, CARNET__T_ERASED, 16, 16},
           oppose = {&s, CARNET__T_OPPOSE, 17, 16};
  if ((rc = walk(&s, "peers", on_raw, &peers)) || (rc = walk(&s, "erased", on_raw, &erased)) ||
      (rc = walk(&s, "oppose", on_raw, &oppose)) || (rc = walk(&s, "certs", on_cert, &s)) ||
      (rc = batch_commit(&s)))
    goto fail;
  /* The rows, then who is missing. */
  if ((rc = walk(&s, "entities", on_row, &s)) || (rc = batch_commit(&s))) goto fail;
  if (s.ngot) qsort(s.got, s.ngot, sizeof *s.got, id_cmp);
  s.table = "changes";
  rc = carnet__pages_walk(s.pages, "changes", on_change, on_bad_page, &s);
  if (rc == CARNET_ENOTFOUND) rc = 0;
  if (rc) goto fail;
  goto done;
fail:
  if (why[0] == '\0')
    snprintf(why, sizeof why, "cannot write the new replica in %s: %s", to,
             s.dst && carnet_replica_errmsg(s.dst)[0] ? carnet_replica_errmsg(s.dst)
                                                      : carnet_error_message(rc));
done:
  if (s.t) carnet_txn_abort(s.t);
  carnet_replica_close(s.dst);
  if (s.src) carnet_replica_close(s.src);
  carnet__pages_close(s.pages);
  if (lock_fd >= 0) close(lock_fd);
  sodium_memzero(s.dkey, sizeof s.dkey);
  if (meta.e) {
    sodium_memzero(meta.e, meta.cap * sizeof *meta.e);
    carnet__free(meta.e);
  }
  carnet__free(s.got);
  msgpack_sbuffer_destroy(&s.sb);
  if (report && report->size >= sizeof(size_t)) {
    size_t size = report->size < sizeof s.rep ? report->size : sizeof s.rep;
    memcpy(report, &s.rep, size);
    report->size = size;
  }
  if (rc && errbuf && errbuf_len)
    snprintf(errbuf, errbuf_len, "%s", why[0] ? why : carnet_error_message(rc));
  return rc;
}
