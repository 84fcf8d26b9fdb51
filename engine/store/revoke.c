/* engine/store/revoke.c - revocation records: codec, store, and the rules a
 * received record goes through (see revoke.h, R1-R5). */
#include "engine/store/revoke.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/base/mp.h"
#include "engine/store/peer_int.h"
#include "engine/store/replica_int.h"
#include "engine/store/store.h"

/* The four objects the signature covers. */
static int pack_signed(const carnet__revocation *rv, msgpack_sbuffer *sb) {
  msgpack_packer pk;
  size_t before = sb->size;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  int rc = msgpack_pack_uint8(&pk, CARNET__REVOKE_VERSION);
  carnet__pack_bin(&pk, rv->pk, CARNET_PK_BYTES);
  rc |= msgpack_pack_uint64(&pk, rv->at_ms);
  carnet__pack_bin(&pk, rv->by, CARNET_PK_BYTES);
  return rc || sb->size == before ? CARNET_ENOMEM : 0;
}

/* The length of a uint in its shortest msgpack form. */
static size_t uint_len(uint64_t v) {
  return v < 128 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffffu ? 5 : 9;
}

int carnet__revoke_encode(const carnet__revocation *rv, msgpack_sbuffer *sb) {
  msgpack_packer pk;
  size_t before = sb->size;
  int rc = pack_signed(rv, sb);
  if (rc) return rc;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  carnet__pack_bin(&pk, rv->sig, sizeof rv->sig);
  /* The packer's only failure is memory, and carnet__pack_bin does not
   * report it: the length says whether every byte got in. */
  return sb->size - before == CARNET__REVOKE_BYTES - 9 + uint_len(rv->at_ms) ? 0 : CARNET_ENOMEM;
}

int carnet__revoke_decode(const void *buf, size_t len, carnet__revocation *out, int *bad_line) {
  carnet__mp m;
  carnet_buf b;
  uint64_t v;
  msgpack_sbuffer sb;
  int bad = 0, rc;
  memset(out, 0, sizeof *out);
  if (len == 0 || len > CARNET__REVOKE_BYTES_MAX) return CARNET__REFUSE(bad_line, CARNET_EPROTO);
  if ((rc = carnet__mp_init(&m, buf, len))) {
    return rc == CARNET_ENOMEM ? rc : CARNET__REFUSE(bad_line, CARNET_EPROTO);
  }
  if (carnet__mp_uint(&m, &v) || v != CARNET__REVOKE_VERSION) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  if (carnet__mp_bin(&m, &b, false) || b.len != CARNET_PK_BYTES) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  memcpy(out->pk, b.base, CARNET_PK_BYTES);
  if (carnet__mp_uint(&m, &out->at_ms) || out->at_ms == 0) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  if (carnet__mp_bin(&m, &b, false) || b.len != CARNET_PK_BYTES) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  memcpy(out->by, b.base, CARNET_PK_BYTES);
  if (carnet__mp_bin(&m, &b, false) || b.len != sizeof out->sig) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  memcpy(out->sig, b.base, sizeof out->sig);
  if (!carnet__mp_done(&m)) {
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
    goto done;
  }
  /* R1: one byte form. Encoding what was read must give the bytes back. */
  msgpack_sbuffer_init(&sb);
  rc = carnet__revoke_encode(out, &sb);
  if (rc == 0 && (sb.size != len || memcmp(sb.data, buf, len) != 0))
    rc = CARNET__REFUSE(&bad, CARNET_EPROTO);
  msgpack_sbuffer_destroy(&sb);
done:
  carnet__mp_destroy(&m);
  if (rc) {
    memset(out, 0, sizeof *out);
    if (bad_line) *bad_line = bad ? bad : __LINE__;
  }
  return rc;
}

/* "carnet-revoke" || team || the signed objects. */
static int signed_message(const carnet__revocation *rv, const uint8_t team[CARNET_TEAM_BYTES],
                          msgpack_sbuffer *sb) {
  msgpack_sbuffer_init(sb);
  if (msgpack_sbuffer_write(sb, CARNET__REVOKE_LABEL, strlen(CARNET__REVOKE_LABEL)) ||
      msgpack_sbuffer_write(sb, (const char *)team, CARNET_TEAM_BYTES))
    return CARNET_ENOMEM;
  return pack_signed(rv, sb);
}

int carnet__revoke_sign(carnet__revocation *rv, const uint8_t team[CARNET_TEAM_BYTES],
                        const uint8_t sk[64]) {
  msgpack_sbuffer sb;
  int rc = signed_message(rv, team, &sb);
  if (rc == 0) crypto_sign_detached(rv->sig, NULL, (const uint8_t *)sb.data, sb.size, sk);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

int carnet__revoke_verify(const carnet__revocation *rv, const uint8_t team[CARNET_TEAM_BYTES]) {
  msgpack_sbuffer sb;
  int rc = signed_message(rv, team, &sb);
  if (rc == 0 &&
      crypto_sign_verify_detached(rv->sig, (const uint8_t *)sb.data, sb.size, rv->by) != 0)
    rc = CARNET_EPROTO;
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

/* --- store ------------------------------------------------------------------ */

static void revoked_key(const uint8_t pk[CARNET_PK_BYTES], uint8_t key[8 + CARNET_PK_BYTES]) {
  memcpy(key, CARNET__META_REVOKED, 8);
  memcpy(key + 8, pk, CARNET_PK_BYTES);
}

_Static_assert(sizeof CARNET__META_REVOKED - 1 == 8, "the prefix is 8 bytes");

/* A stored value: lseq(8) flags(1) override_ms(8) record. */
#define VAL_HEAD 17u

static int u64_or_0(carnet__stxn *st, const char *key, uint64_t *out) {
  int rc = carnet__meta_get_u64(st, key, out);
  if (rc == CARNET_ENOTFOUND) {
    *out = 0;
    return 0;
  }
  return rc;
}

int carnet__trust_seq(carnet_replica *r, uint64_t *out) {
  carnet__stxn *st;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = u64_or_0(st, CARNET__META_TRUSTSEQ, out);
  carnet__read_end(r, st);
  return rc;
}

int carnet__trust_bump(carnet__stxn *st) {
  uint64_t seq;
  int rc = u64_or_0(st, CARNET__META_TRUSTSEQ, &seq);
  return rc ? rc : carnet__meta_put_u64(st, CARNET__META_TRUSTSEQ, seq + 1);
}

static int value_decode(carnet_buf v, carnet__revocation *rv, uint64_t *lseq, uint32_t *flags,
                        uint64_t *override_ms) {
  if (v.len <= VAL_HEAD) return CARNET_ECORRUPT;
  const uint8_t *p = v.base;
  if (lseq) *lseq = carnet__be64_get(p);
  if (flags) *flags = p[8];
  if (override_ms) *override_ms = carnet__be64_get(p + 9);
  carnet__revocation tmp;
  if (carnet__revoke_decode(p + VAL_HEAD, v.len - VAL_HEAD, rv ? rv : &tmp, NULL) != 0)
    return CARNET_ECORRUPT;
  return 0;
}

int carnet__revoked_read(carnet__stxn *st, const uint8_t pk[CARNET_PK_BYTES],
                         carnet__revocation *rv, uint32_t *flags, uint64_t *override_ms) {
  uint8_t key[8 + CARNET_PK_BYTES];
  carnet_buf v;
  revoked_key(pk, key);
  int rc = carnet__store_get(st, CARNET__T_META, key, sizeof key, &v);
  if (rc) return rc;
  return value_decode(v, rv, NULL, flags, override_ms);
}

int carnet__revoked_in(carnet__stxn *st, const uint8_t pk[CARNET_PK_BYTES]) {
  uint32_t flags = 0;
  int rc = carnet__revoked_read(st, pk, NULL, &flags, NULL);
  if (rc == CARNET_ENOTFOUND) return 0;
  if (rc) return rc;
  return (flags & CARNET__REVOKED_OVERRIDDEN) ? 0 : 1;
}

int carnet__revoked_put(carnet_replica *r, carnet__stxn *st, const carnet__revocation *rv,
                        uint32_t flags, uint64_t override_ms) {
  uint8_t key[8 + CARNET_PK_BYTES];
  uint64_t seq;
  msgpack_sbuffer sb;
  (void)r;
  int rc = u64_or_0(st, CARNET__META_REVSEQ, &seq);
  if (rc) return rc;
  seq++;
  msgpack_sbuffer_init(&sb);
  uint8_t head[VAL_HEAD];
  carnet__be64_put(head, seq);
  head[8] = (uint8_t)flags;
  carnet__be64_put(head + 9, override_ms);
  if (msgpack_sbuffer_write(&sb, (const char *)head, sizeof head) ||
      carnet__revoke_encode(rv, &sb)) {
    msgpack_sbuffer_destroy(&sb);
    return CARNET_ENOMEM;
  }
  revoked_key(rv->pk, key);
  rc = carnet__store_put(st, CARNET__T_META, key, sizeof key, sb.data, sb.size, 0);
  msgpack_sbuffer_destroy(&sb);
  if (rc == 0) rc = carnet__meta_put_u64(st, CARNET__META_REVSEQ, seq);
  if (rc == 0) rc = carnet__trust_bump(st);
  return rc;
}

int carnet__revoke_local(carnet_replica *r, carnet__stxn *st, const uint8_t pk[CARNET_PK_BYTES]) {
  carnet__revocation rv;
  uint8_t team[CARNET_TEAM_BYTES], sk[64];
  memset(&rv, 0, sizeof rv);
  memcpy(rv.pk, pk, CARNET_PK_BYTES);
  rv.at_ms = carnet__now_ms(r);
  if (rv.at_ms == 0) rv.at_ms = 1;
  int rc = carnet_replica_get_identity(r, rv.by, team);
  if (rc == 0) rc = carnet__identity_secret(r, sk);
  if (rc == 0) rc = carnet__revoke_sign(&rv, team, sk);
  sodium_memzero(sk, sizeof sk);
  if (rc == 0) rc = carnet__revoked_put(r, st, &rv, 0, 0);
  return rc;
}

/* The number of records stored, up to CARNET__REVOKED_MAX + 1. */
static int count_records(carnet__stxn *st, uint64_t *n) {
  carnet__scur *cur = NULL;
  carnet_buf k;
  *n = 0;
  int rc = carnet__store_cursor(st, CARNET__T_META, &cur);
  if (rc) return rc;
  for (rc = carnet__store_seek(cur, CARNET__META_REVOKED, 8, &k, NULL);
       rc == 0 && k.len == 8 + CARNET_PK_BYTES && memcmp(k.base, CARNET__META_REVOKED, 8) == 0 &&
       *n <= CARNET__REVOKED_MAX;
       rc = carnet__store_next(cur, &k, NULL))
    (*n)++;
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

typedef struct receive_arg {
  carnet__revocation rv;
  bool applied;
} receive_arg;

/* R2-R5, in the write transaction. */
static int receive_in(carnet_txn *t, receive_arg *a) {
  carnet__stxn *st = t->st;
  uint8_t self[CARNET_PK_BYTES];
  carnet__revocation cur;
  uint32_t flags = 0;
  uint64_t override_ms = 0, n;
  int rc = carnet_replica_get_identity(t->r, self, NULL);
  if (rc) return rc;
  /* R3: the first record of a key stays, unless overridden here and this
   * one is newer than the override. */
  rc = carnet__revoked_read(st, a->rv.pk, &cur, &flags, &override_ms);
  if (rc == 0 && (!(flags & CARNET__REVOKED_OVERRIDDEN) || a->rv.at_ms <= override_ms)) return 0;
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  bool fresh = rc == CARNET_ENOTFOUND;
  /* R2: signed by this replica, or by a key trusted here now. */
  if (memcmp(a->rv.by, self, CARNET_PK_BYTES) != 0) {
    carnet_buf v;
    rc = carnet__store_get(st, CARNET__T_PEERS, a->rv.by, CARNET_PK_BYTES, &v);
    if (rc == CARNET_ENOTFOUND) return 0;
    if (rc) return rc;
    if ((rc = carnet__revoked_in(st, a->rv.by)) != 0) return rc < 0 ? rc : 0;
  }
  /* R5 */
  if (fresh) {
    if ((rc = count_records(st, &n))) return rc;
    if (n >= CARNET__REVOKED_MAX) return 0;
  }
  if ((rc = carnet__revoked_put(t->r, st, &a->rv, 0, 0))) return rc;
  /* R3: the key leaves the trust list with it. */
  rc = carnet__store_del(st, CARNET__T_PEERS, a->rv.pk, CARNET_PK_BYTES);
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  a->applied = true;
  return 0;
}

int carnet__revoke_receive(carnet_replica *r, const void *bytes, size_t len, bool *applied) {
  receive_arg a = {0};
  uint8_t team[CARNET_TEAM_BYTES];
  int bad = 0;
  carnet_txn *t = NULL;
  if (applied) *applied = false;
  int rc = carnet__revoke_decode(bytes, len, &a.rv, &bad);
  if (rc == CARNET_EPROTO)
    return carnet__fail(r, rc, "a malformed revocation record (check at revoke.c:%d)", bad);
  if (rc) return rc;
  if ((rc = carnet_replica_get_identity(r, NULL, team))) return rc;
  rc = carnet__revoke_verify(&a.rv, team);
  if (rc == CARNET_EPROTO)
    return carnet__fail(r, rc, "a revocation record whose signature does not verify");
  if (rc) return rc;
  if (r->txn) {
    rc = receive_in(r->txn, &a);
  } else {
    if ((rc = carnet_txn_begin(r, &t))) return rc;
    rc = receive_in(t, &a);
    if (rc == 0 && a.applied) {
      rc = carnet_txn_commit(t);
    } else {
      carnet_txn_abort(t);
    }
  }
  if (rc == 0 && applied) *applied = a.applied;
  return rc;
}

int carnet__revoke_seq(carnet_replica *r, uint64_t *out) {
  carnet__stxn *st;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = u64_or_0(st, CARNET__META_REVSEQ, out);
  carnet__read_end(r, st);
  return rc;
}

int carnet__revoke_since(carnet_replica *r, uint64_t after, uint64_t *upto,
                         int (*cb)(const void *bytes, size_t len, uint32_t flags, void *data),
                         void *data) {
  carnet__stxn *st;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  if ((rc = u64_or_0(st, CARNET__META_REVSEQ, upto))) goto done;
  if (*upto <= after) goto done;
  if ((rc = carnet__store_cursor(st, CARNET__T_META, &cur))) goto done;
  for (rc = carnet__store_seek(cur, CARNET__META_REVOKED, 8, &k, &v);
       rc == 0 && k.len == 8 + CARNET_PK_BYTES && memcmp(k.base, CARNET__META_REVOKED, 8) == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    uint64_t lseq;
    uint32_t flags;
    if (value_decode(v, NULL, &lseq, &flags, NULL) != 0) {
      rc = carnet__fail(r, CARNET_ECORRUPT, "a stored revocation record is damaged");
      goto done;
    }
    if (lseq <= after) continue;
    if ((rc = cb((const uint8_t *)v.base + VAL_HEAD, v.len - VAL_HEAD, flags, data))) goto done;
  }
  if (rc == CARNET_ENOTFOUND) rc = 0;
done:
  carnet__store_cursor_close(cur);
  carnet__read_end(r, st);
  return rc;
}
