/* engine/store/peer.c - identity, trust list, revocations and invites
 * (carnet/peer.h).
 *
 * A peer record is a msgpack stream: replica_id addr added_ms last_sync_ms
 * acked. An invite record: secret(bin32) expiry_ms used(bool).
 *
 * Live status (carnet_peer_info's last_contact_ms, online, pending) is a
 * meta value `live:` + key(32) beside the peer record, not a field of it,
 * so that a build that reads the record as it was still reads it:
 * writer(8) pid(8) contact_ms(8), big-endian: the replica id that wrote it
 * (a restored replica, with a new id, ignores what the backup held), the
 * process whose session with the peer is live (0: none), the last message
 * received. Online means: a pid, a process by that pid running (this one:
 * a live session counted on this handle), and contact within
 * CARNET__PEER_LIVE_STALE_MS. A process killed outright leaves its pid,
 * which then names no process (or, rarely, a reused pid: the staleness
 * bound still ends it); a process in another pid namespace than the
 * reader is not seen (documented in docs/DESIGN-NOTES.md).
 *
 * Trusted, here, means: in the `peers` table and not revoked (R4 of
 * engine/store/revoke.h: a revocation not overridden here). Removing a peer
 * revokes its key for the whole team (a signed record, engine/store/revoke.h);
 * every change of who is trusted moves `trustseq` in the same transaction,
 * which live sessions watch to end a session with a key no longer trusted
 * (protocol/session.c S6).
 */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "carnet/error.h"
#include "carnet/peer.h"
#include "engine/base/alloc.h"
#include "engine/base/mp.h"
#include "engine/store/peer_int.h"
#include "engine/store/replica_int.h"
#include "engine/store/revoke.h"

static int meta_bytes(carnet__stxn *st, const char *key, void *out, size_t n) {
  carnet_buf v;
  int rc = carnet__store_get(st, CARNET__T_META, key, strlen(key), &v);
  if (rc == CARNET_ENOTFOUND) return CARNET_ECORRUPT;
  if (rc) return rc;
  if (v.len != n) return CARNET_ECORRUPT;
  memcpy(out, v.base, n);
  return 0;
}

int carnet_replica_get_identity(carnet_replica *r, uint8_t pk[CARNET_PK_BYTES],
                                uint8_t team[CARNET_TEAM_BYTES]) {
  carnet__stxn *st;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  if (pk) rc = meta_bytes(st, CARNET__META_SIGN_PK, pk, CARNET_PK_BYTES);
  if (rc == 0 && team) rc = meta_bytes(st, CARNET__META_TEAM, team, CARNET_TEAM_BYTES);
  carnet__read_end(r, st);
  if (rc == CARNET_ECORRUPT)
    carnet__fail(r, rc, "the replica's identity keys are missing or damaged");
  return rc;
}

int carnet__identity_secret(carnet_replica *r, uint8_t sk[64]) {
  carnet__stxn *st;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = meta_bytes(st, CARNET__META_SIGN_SK, sk, 64);
  carnet__read_end(r, st);
  return rc;
}

int carnet__sign(carnet_replica *r, const void *msg, size_t len, uint8_t sig[64]) {
  uint8_t sk[crypto_sign_SECRETKEYBYTES];
  carnet__stxn *st;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = meta_bytes(st, CARNET__META_SIGN_SK, sk, sizeof sk);
  carnet__read_end(r, st);
  if (rc == 0) crypto_sign_detached(sig, NULL, msg, len, sk);
  sodium_memzero(sk, sizeof sk);
  return rc;
}

/* Run `fn` in a write transaction of its own (or the open one). */
static int in_write(carnet_replica *r, int (*fn)(carnet_txn *t, void *arg), void *arg) {
  carnet_txn *t;
  int rc;
  if (r->txn) return fn(r->txn, arg);
  if ((rc = carnet_txn_begin(r, &t))) return rc;
  if ((rc = fn(t, arg))) {
    carnet_txn_abort(t);
    return rc;
  }
  return carnet_txn_commit(t);
}

static int put_team(carnet_txn *t, void *arg) {
  return carnet__store_put(t->st, CARNET__T_META, CARNET__META_TEAM, strlen(CARNET__META_TEAM), arg,
                           CARNET_TEAM_BYTES, 0);
}

int carnet_replica_set_team(carnet_replica *r, const uint8_t team[CARNET_TEAM_BYTES]) {
  return in_write(r, put_team, (void *)team);
}

/* --- peers ------------------------------------------------------------------ */

static int peer_decode(const uint8_t pk[32], carnet_buf v, carnet_peer_info *p) {
  carnet__mp m;
  msgpack_object o;
  int rc = carnet__mp_init(&m, v.base, v.len);
  if (rc) return rc;
  memset(p, 0, sizeof *p);
  memcpy(p->pk, pk, 32);
  if ((rc = carnet__mp_uint(&m, &p->replica_id)) || (rc = carnet__mp_next(&m, &o, NULL))) goto done;
  if (o.type != MSGPACK_OBJECT_STR || o.via.str.size >= sizeof p->addr) {
    rc = CARNET_ECORRUPT;
    goto done;
  }
  if (o.via.str.size) memcpy(p->addr, o.via.str.ptr, o.via.str.size);
  if ((rc = carnet__mp_uint(&m, &p->added_ms)) || (rc = carnet__mp_uint(&m, &p->last_sync_ms)) ||
      (rc = carnet__mp_uint(&m, &p->acked)))
    goto done;
  if (!carnet__mp_done(&m)) rc = CARNET_ECORRUPT;
done:
  carnet__mp_destroy(&m);
  return rc;
}

static int peer_put(carnet__stxn *st, const carnet_peer_info *p) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_uint64(&pk, p->replica_id);
  carnet__pack_str(&pk, p->addr, strlen(p->addr));
  msgpack_pack_uint64(&pk, p->added_ms);
  msgpack_pack_uint64(&pk, p->last_sync_ms);
  msgpack_pack_uint64(&pk, p->acked);
  int rc = sb.data ? carnet__store_put(st, CARNET__T_PEERS, p->pk, 32, sb.data, sb.size, 0)
                   : CARNET_ENOMEM;
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

static int peer_read(carnet__stxn *st, const uint8_t pk[32], carnet_peer_info *p) {
  carnet_buf v;
  int rc = carnet__store_get(st, CARNET__T_PEERS, pk, 32, &v);
  return rc ? rc : peer_decode(pk, v, p);
}

struct peer_arg {
  carnet_peer_info info;
  bool create;
  bool override; /* trust a revoked key again (R4) */
};

/* "revoked by this replica on 2025-03-01 10:00 UTC" for messages. */
static void revoked_text(carnet_txn *t, const carnet__revocation *rv, char *out, size_t len) {
  uint8_t self[CARNET_PK_BYTES];
  char when[32] = "?";
  time_t secs = (time_t)(rv->at_ms / 1000);
  struct tm tm;
  if (gmtime_r(&secs, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
  if (carnet_replica_get_identity(t->r, self, NULL) == 0 &&
      memcmp(self, rv->by, CARNET_PK_BYTES) == 0)
    snprintf(out, len, "revoked by this replica on %s", when);
  else
    snprintf(out, len, "revoked by the replica with key %02x%02x%02x%02x\xe2\x80\xa6 on %s",
             rv->by[0], rv->by[1], rv->by[2], rv->by[3], when);
}

/* R4: a revoked key is trusted again only by an explicit override. */
static int check_not_revoked(carnet_txn *t, const uint8_t pk[CARNET_PK_BYTES], bool override) {
  carnet__revocation rv;
  uint32_t flags = 0;
  char why[160];
  int rc = carnet__revoked_read(t->st, pk, &rv, &flags, NULL);
  if (rc == CARNET_ENOTFOUND) return 0;
  if (rc) return carnet__fail(t->r, rc, "a stored revocation record is damaged");
  if (flags & CARNET__REVOKED_OVERRIDDEN) return 0;
  if (override) {
    /* The override covers the record it overrides even when the signer's
     * clock is ahead of ours: only a record dated later than both revokes
     * the key again (R4). */
    uint64_t at = carnet__now_ms(t->r);
    if (rv.at_ms > at) at = rv.at_ms;
    return carnet__revoked_put(t->r, t->st, &rv, CARNET__REVOKED_OVERRIDDEN, at);
  }
  revoked_text(t, &rv, why, sizeof why);
  return carnet__fail(t->r, CARNET_EPERM,
                      "this key was %s: it is trusted again only by overriding the revocation "
                      "(carnet peer trust --override-revocation)",
                      why);
}

static int peer_upsert(carnet_txn *t, void *arg) {
  struct peer_arg *a = arg;
  carnet_peer_info cur;
  int rc = peer_read(t->st, a->info.pk, &cur);
  if (rc == CARNET_ENOTFOUND) {
    if (!a->create) return carnet__fail(t->r, rc, "this key is not trusted");
    if ((rc = check_not_revoked(t, a->info.pk, a->override))) return rc;
    if ((rc = carnet__trust_bump(t->st))) return rc;
    memset(&cur, 0, sizeof cur);
    memcpy(cur.pk, a->info.pk, 32);
    cur.added_ms = carnet__now_ms(t->r);
  } else if (rc) {
    return rc;
  } else if (a->create && (rc = check_not_revoked(t, a->info.pk, a->override))) {
    return rc;
  }
  if (a->info.replica_id) cur.replica_id = a->info.replica_id;
  if (a->info.addr[0]) snprintf(cur.addr, sizeof cur.addr, "%s", a->info.addr);
  if (a->info.last_sync_ms) cur.last_sync_ms = a->info.last_sync_ms;
  if (a->info.acked > cur.acked) cur.acked = a->info.acked;
  return peer_put(t->st, &cur);
}

static int upsert(carnet_replica *r, const uint8_t pk[32], uint64_t replica_id, const char *addr,
                  uint64_t last_sync_ms, uint64_t acked, bool create, bool override) {
  struct peer_arg a = {.create = create, .override = override};
  memcpy(a.info.pk, pk, 32);
  a.info.replica_id = replica_id;
  if (addr && strlen(addr) >= sizeof a.info.addr)
    return carnet__fail(r, CARNET_EINVAL, "address too long");
  snprintf(a.info.addr, sizeof a.info.addr, "%s", addr ? addr : "");
  a.info.last_sync_ms = last_sync_ms;
  a.info.acked = acked;
  return in_write(r, peer_upsert, &a);
}

static int trust(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES], const char *addr,
                 bool override) {
  uint8_t self[32];
  int rc = carnet_replica_get_identity(r, self, NULL);
  if (rc) return rc;
  if (memcmp(self, pk, 32) == 0)
    return carnet__fail(r, CARNET_EINVAL, "that is this replica's own key");
  return upsert(r, pk, 0, addr, 0, 0, true, override);
}

int carnet_peer_trust(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES], const char *addr) {
  return trust(r, pk, addr, false);
}

int carnet_peer_trust_override(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES],
                               const char *addr) {
  return trust(r, pk, addr, true);
}

/* --- live status ------------------------------------------------------------ */

#define LIVE_PREFIX "live:"
#define LIVE_KEY_LEN (sizeof LIVE_PREFIX - 1 + CARNET_PK_BYTES)
#define LIVE_VAL_LEN 24

typedef struct live_rec {
  uint64_t writer, pid, contact_ms;
} live_rec;

static void live_key(const uint8_t pk[CARNET_PK_BYTES], uint8_t key[LIVE_KEY_LEN]) {
  memcpy(key, LIVE_PREFIX, sizeof LIVE_PREFIX - 1);
  memcpy(key + sizeof LIVE_PREFIX - 1, pk, CARNET_PK_BYTES);
}

/* ENOTFOUND when none; a value of another length, or written by another
 * replica id (a restore), reads as none: it is a hint, never data. */
static int live_read(carnet__stxn *st, uint64_t self, const uint8_t pk[CARNET_PK_BYTES],
                     live_rec *out) {
  uint8_t key[LIVE_KEY_LEN];
  carnet_buf v;
  live_key(pk, key);
  memset(out, 0, sizeof *out);
  int rc = carnet__store_get(st, CARNET__T_META, key, sizeof key, &v);
  if (rc) return rc;
  if (v.len != LIVE_VAL_LEN || carnet__be64_get(v.base) != self) return CARNET_ENOTFOUND;
  out->writer = self;
  out->pid = carnet__be64_get((const uint8_t *)v.base + 8);
  out->contact_ms = carnet__be64_get((const uint8_t *)v.base + 16);
  return 0;
}

static int live_write(carnet__stxn *st, const uint8_t pk[CARNET_PK_BYTES], const live_rec *l) {
  uint8_t key[LIVE_KEY_LEN], val[LIVE_VAL_LEN];
  live_key(pk, key);
  carnet__be64_put(val, l->writer);
  carnet__be64_put(val + 8, l->pid);
  carnet__be64_put(val + 16, l->contact_ms);
  return carnet__store_put(st, CARNET__T_META, key, sizeof key, val, sizeof val, 0);
}

static struct carnet__live_count *live_count(carnet_replica *r, const uint8_t pk[32], bool add) {
  for (size_t i = 0; i < r->nlive; i++)
    if (memcmp(r->live[i].pk, pk, 32) == 0) return &r->live[i];
  if (!add) return NULL;
  if (r->nlive == r->caplive) {
    size_t cap = r->caplive ? 2 * r->caplive : 8;
    struct carnet__live_count *a = carnet__realloc(r->live, cap * sizeof *a);
    if (a == NULL) return NULL;
    r->live = a;
    r->caplive = cap;
  }
  struct carnet__live_count *c = &r->live[r->nlive++];
  memset(c, 0, sizeof *c);
  memcpy(c->pk, pk, 32);
  return c;
}

void carnet__peer_live_drop(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES]) {
  struct carnet__live_count *c = live_count(r, pk, false);
  if (c && c->n) c->n--;
}

/* Write one peer's waiting note. */
static int live_put(carnet_txn *t, struct carnet__live_count *c) {
  const carnet__peer_live *n = &c->note;
  carnet_peer_info cur;
  live_rec l;
  int rc = peer_read(t->st, c->pk, &cur);
  if (rc) return rc; /* ENOTFOUND: no longer trusted, nothing to record */
  if (n->replica_id) cur.replica_id = n->replica_id;
  if (c->addr[0]) snprintf(cur.addr, sizeof cur.addr, "%s", c->addr);
  if (n->last_sync_ms) cur.last_sync_ms = n->last_sync_ms;
  if (n->acked > cur.acked) cur.acked = n->acked;
  if ((rc = peer_put(t->st, &cur))) return rc;
  rc = live_read(t->st, t->r->id, c->pk, &l);
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  l.writer = t->r->id;
  if (n->contact_ms) l.contact_ms = n->contact_ms;
  /* Online while a session of this process with the peer is live; the end
   * of our last one clears only what this process wrote: another process's
   * live session with the peer stands. */
  uint64_t self = (uint64_t)getpid();
  if (c->n)
    l.pid = self;
  else if (l.pid == self)
    l.pid = 0;
  return live_write(t->st, c->pk, &l);
}

static int live_put_all(carnet_txn *t, void *arg) {
  (void)arg;
  carnet_replica *r = t->r;
  for (size_t i = 0; i < r->nlive; i++) {
    if (!r->live[i].dirty) continue;
    int rc = live_put(t, &r->live[i]);
    if (rc && rc != CARNET_ENOTFOUND) return rc;
  }
  return 0;
}

int carnet__peer_live_flush(carnet_replica *r, uint64_t now_ms, bool force) {
  bool any = false;
  for (size_t i = 0; i < r->nlive && !any; i++)
    any = r->live[i].dirty;
  if (!any) return 0;
  /* A clock stepped back (now < flushed) does not hold the notes back. */
  if (!force && now_ms >= r->live_flushed_ms &&
      now_ms - r->live_flushed_ms < CARNET__PEER_LIVE_NOTE_MS)
    return 0;
  char saved[sizeof r->err];
  memcpy(saved, r->err, sizeof saved);
  int rc = in_write(r, live_put_all, NULL);
  memcpy(r->err, saved, sizeof saved); /* a note says nothing to the user */
  r->live_flushed_ms = now_ms;
  if (rc) return rc; /* still waiting: the next flush tries again */
  for (size_t i = 0; i < r->nlive; i++) {
    r->live[i].dirty = false;
    memset(&r->live[i].note, 0, sizeof r->live[i].note);
  }
  return 0;
}

int carnet__peer_live_note(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES],
                           const carnet__peer_live *n, uint64_t now_ms) {
  struct carnet__live_count *c = live_count(r, pk, true);
  if (c == NULL) return CARNET_ENOMEM;
  carnet__peer_live *w = &c->note;
  if (n->online > 0) c->n++;
  if (n->online < 0 && c->n) c->n--;
  if (n->replica_id) w->replica_id = n->replica_id;
  if (n->addr && n->addr[0] && strlen(n->addr) < sizeof c->addr)
    snprintf(c->addr, sizeof c->addr, "%s", n->addr);
  if (n->contact_ms) w->contact_ms = n->contact_ms;
  if (n->last_sync_ms) w->last_sync_ms = n->last_sync_ms;
  if (n->acked > w->acked) w->acked = n->acked;
  c->dirty = true;
  /* A session that starts or ends is shown at once; progress waits for
   * the next flush (CARNET__PEER_LIVE_NOTE_MS), one transaction for every
   * peer of the handle. */
  return carnet__peer_live_flush(r, now_ms, n->online != 0);
}

static bool live_online(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES], const live_rec *l) {
  uint64_t now = carnet__now_ms(r);
  if (l->pid == 0 || l->pid > INT32_MAX) return false;
  if (l->contact_ms + CARNET__PEER_LIVE_STALE_MS < now) return false;
  if (l->pid == (uint64_t)getpid()) {
    struct carnet__live_count *c = live_count(r, pk, false);
    return c && c->n > 0;
  }
  return kill((pid_t)l->pid, 0) == 0 || errno == EPERM;
}

/* The live fields of `p`, read in the snapshot that read the record. */
static int live_fill(carnet_replica *r, carnet__stxn *st, uint64_t seq, carnet_peer_info *p) {
  live_rec l;
  int rc = live_read(st, r->id, p->pk, &l);
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  p->last_contact_ms = l.contact_ms;
  p->online = rc == 0 && live_online(r, p->pk, &l);
  p->pending = seq > p->acked ? seq - p->acked : 0;
  return 0;
}

static int read_seq(carnet__stxn *st, uint64_t *seq) {
  int rc = carnet__meta_get_u64(st, CARNET__META_SEQ, seq);
  if (rc == CARNET_ENOTFOUND) {
    *seq = 0;
    rc = 0;
  }
  return rc;
}

/* Out of the trust list, and revoked for the team (engine/store/revoke.h): the
 * record is written in the same transaction, so no session of this or
 * another process can see the key gone without its revocation. */
static int peer_del(carnet_txn *t, void *arg) {
  uint8_t key[LIVE_KEY_LEN];
  int rc = carnet__store_del(t->st, CARNET__T_PEERS, arg, 32);
  if (rc == CARNET_ENOTFOUND) return carnet__fail(t->r, rc, "no trusted peer with that key");
  if (rc) return rc;
  live_key(arg, key);
  rc = carnet__store_del(t->st, CARNET__T_META, key, sizeof key);
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  rc = carnet__revoke_local(t->r, t->st, arg);
  if (rc && !carnet_replica_errmsg(t->r)[0])
    carnet__fail(t->r, rc, "cannot write the revocation record");
  return rc;
}

int carnet_peer_remove(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES]) {
  return in_write(r, peer_del, (void *)pk);
}

int carnet_peer_get(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES], carnet_peer_info *out) {
  carnet__stxn *st;
  uint64_t seq;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = peer_read(st, pk, out);
  if (rc == 0 && (rc = read_seq(st, &seq)) == 0) rc = live_fill(r, st, seq, out);
  carnet__read_end(r, st);
  return rc;
}

int carnet_peer_check(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES]) {
  carnet__stxn *st;
  carnet_peer_info p;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = peer_read(st, pk, &p);
  if (rc == 0) {
    rc = carnet__revoked_in(st, pk);
    if (rc == 1) rc = CARNET_EPERM;
  }
  carnet__read_end(r, st);
  return rc == CARNET_ENOTFOUND ? CARNET_EPERM : rc;
}

/* --- revocations ------------------------------------------------------------ */

static void revocation_info(const carnet__revocation *rv, uint32_t flags, carnet_revocation *out) {
  memset(out, 0, sizeof *out);
  memcpy(out->pk, rv->pk, CARNET_PK_BYTES);
  memcpy(out->by, rv->by, CARNET_PK_BYTES);
  out->at_ms = rv->at_ms;
  out->overridden = (flags & CARNET__REVOKED_OVERRIDDEN) != 0;
}

int carnet_revocation_get(carnet_replica *r, const uint8_t pk[CARNET_PK_BYTES],
                          carnet_revocation *out) {
  carnet__stxn *st;
  carnet__revocation rv;
  uint32_t flags = 0;
  memset(out, 0, sizeof *out);
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = carnet__revoked_read(st, pk, &rv, &flags, NULL);
  carnet__read_end(r, st);
  if (rc == CARNET_ECORRUPT) return carnet__fail(r, rc, "a stored revocation record is damaged");
  if (rc == 0) revocation_info(&rv, flags, out);
  return rc;
}

typedef struct list_arg {
  carnet_replica *r;
  int (*cb)(const carnet_revocation *rv, void *data);
  void *data;
} list_arg;

static int list_one(const void *bytes, size_t len, uint32_t flags, void *data) {
  list_arg *a = data;
  carnet__revocation rv;
  carnet_revocation out;
  if (carnet__revoke_decode(bytes, len, &rv, NULL) != 0)
    return carnet__fail(a->r, CARNET_ECORRUPT, "a stored revocation record is damaged");
  revocation_info(&rv, flags, &out);
  return a->cb(&out, a->data);
}

int carnet_revocation_list(carnet_replica *r, int (*cb)(const carnet_revocation *rv, void *data),
                           void *data) {
  list_arg a = {r, cb, data};
  uint64_t upto;
  if (cb == NULL) return CARNET_EMISUSE;
  return carnet__revoke_since(r, 0, &upto, list_one, &a);
}

int carnet_peer_list(carnet_replica *r, int (*cb)(const carnet_peer_info *p, void *data),
                     void *data) {
  carnet__stxn *st;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  uint64_t seq;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  if ((rc = read_seq(st, &seq)) || (rc = carnet__store_cursor(st, CARNET__T_PEERS, &cur)))
    goto done;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet_peer_info p;
    if (k.len != 32 || peer_decode(k.base, v, &p) != 0) {
      rc = carnet__fail(r, CARNET_ECORRUPT, "a peer record is damaged");
      goto done;
    }
    if ((rc = live_fill(r, st, seq, &p)) || (rc = cb(&p, data))) goto done;
  }
  if (rc == CARNET_ENOTFOUND) rc = 0;
done:
  carnet__store_cursor_close(cur);
  carnet__read_end(r, st);
  return rc;
}

/* --- invites -------------------------------------------------------------------- */

typedef struct invite {
  uint8_t secret[32];
  uint64_t expiry_ms;
  bool used;
} invite;

static int invite_read(carnet__stxn *st, const uint8_t id[16], invite *inv) {
  carnet_buf v, s;
  carnet__mp m;
  int rc = carnet__store_get(st, CARNET__T_INVITES, id, 16, &v);
  if (rc) return rc;
  if ((rc = carnet__mp_init(&m, v.base, v.len))) return rc;
  if ((rc = carnet__mp_bin(&m, &s, false)) || (rc = carnet__mp_uint(&m, &inv->expiry_ms)) ||
      (rc = carnet__mp_bool(&m, &inv->used)))
    goto done;
  if (s.len != 32 || !carnet__mp_done(&m)) {
    rc = CARNET_ECORRUPT;
    goto done;
  }
  memcpy(inv->secret, s.base, 32);
done:
  carnet__mp_destroy(&m);
  return rc;
}

static int invite_write(carnet__stxn *st, const uint8_t id[16], const invite *inv) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  carnet__pack_bin(&pk, inv->secret, 32);
  msgpack_pack_uint64(&pk, inv->expiry_ms);
  if (inv->used) {
    msgpack_pack_true(&pk);
  } else {
    msgpack_pack_false(&pk);
  }
  int rc = sb.data ? carnet__store_put(st, CARNET__T_INVITES, id, 16, sb.data, sb.size, 0)
                   : CARNET_ENOMEM;
  sodium_memzero(sb.data, sb.size);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

struct invite_arg {
  const uint8_t *id, *pk;
  const char *addr;
  invite inv;
};

static int invite_add(carnet_txn *t, void *arg) {
  struct invite_arg *a = arg;
  return invite_write(t->st, a->id, &a->inv);
}

int carnet__invite_add(carnet_replica *r, const uint8_t id[CARNET_INVITE_ID_BYTES],
                       const uint8_t secret[CARNET_INVITE_SECRET_BYTES], uint64_t expiry_ms) {
  struct invite_arg a = {.id = id, .inv = {.expiry_ms = expiry_ms}};
  memcpy(a.inv.secret, secret, 32);
  int rc = in_write(r, invite_add, &a);
  sodium_memzero(&a.inv, sizeof a.inv);
  return rc;
}

static int invite_check(carnet_replica *r, const invite *inv, int rc) {
  if (rc == CARNET_ENOTFOUND || (rc == 0 && inv->used))
    return carnet__fail(r, CARNET_ENOTFOUND, "unknown or already used invite");
  if (rc) return rc;
  if (carnet__now_ms(r) > inv->expiry_ms)
    return carnet__fail(r, CARNET_EPERM,
                        "the invite has expired: make a new one with 'carnet "
                        "invite'");
  return 0;
}

int carnet__invite_secret(carnet_replica *r, const uint8_t id[CARNET_INVITE_ID_BYTES],
                          uint8_t secret[CARNET_INVITE_SECRET_BYTES]) {
  carnet__stxn *st;
  invite inv;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = invite_check(r, &inv, invite_read(st, id, &inv));
  carnet__read_end(r, st);
  if (rc == 0) memcpy(secret, inv.secret, 32);
  sodium_memzero(&inv, sizeof inv);
  return rc;
}

static int invite_use(carnet_txn *t, void *arg) {
  struct invite_arg *a = arg;
  int rc = invite_check(t->r, &a->inv, invite_read(t->st, a->id, &a->inv));
  if (rc) return rc;
  /* R4: an invite never brings a revoked key back (peer_upsert refuses it
   * too; say it before the invite is spent). */
  if ((rc = check_not_revoked(t, a->pk, false))) return rc;
  a->inv.used = true;
  if ((rc = invite_write(t->st, a->id, &a->inv))) return rc;
  struct peer_arg p = {.create = true};
  memcpy(p.info.pk, a->pk, 32);
  snprintf(p.info.addr, sizeof p.info.addr, "%s", a->addr ? a->addr : "");
  return peer_upsert(t, &p);
}

int carnet__invite_consume(carnet_replica *r, const uint8_t id[CARNET_INVITE_ID_BYTES],
                           const uint8_t pk[CARNET_PK_BYTES], const char *addr) {
  struct invite_arg a = {.id = id, .pk = pk, .addr = addr};
  int rc = in_write(r, invite_use, &a);
  sodium_memzero(&a.inv, sizeof a.inv);
  return rc;
}

/* --- what the team holds of ours (engine/crm/conflict.c) ------------------------ */

int carnet__peer_acked_max(carnet__stxn *st, uint64_t *out) {
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  *out = 0;
  int rc = carnet__store_cursor(st, CARNET__T_PEERS, &cur);
  if (rc) return rc;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet_peer_info p;
    if (k.len != 32) continue;
    if ((rc = peer_decode(k.base, v, &p))) break;
    if (p.acked > *out) *out = p.acked;
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}
