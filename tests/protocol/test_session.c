/* Sync sessions between replicas in one process, over in-memory pipes:
 * the real engine and protocol code with no network (carnet/sync.h). */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "engine/crm/attach.h"
#include "engine/store/replica_int.h"
#include "engine/store/store.h"
#include "protocol/session_int.h"
#include "support/testenv.h"

typedef struct node {
  char *dir;
  tenv env;
  carnet_replica *r;
} node;

static void node_open(node *n, const char *label, uint64_t seed) {
  carnet_env e;
  char err[256];
  n->dir = tdir_new(label);
  tenv_init(&n->env, 1790000000000ull, seed);
  tenv_fill(&n->env, &e);
  char *d = tdir_join(n->dir, "r");
  int rc = carnet_replica_init(d, &e, &n->r, err, sizeof err);
  free(d);
  if (rc) fail_msg("init %s: %s", label, err);
}

static void node_close(node *n) {
  carnet_replica_close(n->r);
  tdir_remove(n->dir);
  free(n->dir);
}

static void trust_both(node *a, node *b) {
  uint8_t pa[32], pb[32];
  assert_int_equal(carnet_replica_get_identity(a->r, pa, NULL), 0);
  assert_int_equal(carnet_replica_get_identity(b->r, pb, NULL), 0);
  assert_int_equal(carnet_peer_trust(a->r, pb, NULL), 0);
  assert_int_equal(carnet_peer_trust(b->r, pa, NULL), 0);
}

/* Teams are made at init: give b the team of a, as a join would. */
static void same_team(node *a, node *b) {
  uint8_t team[16];
  assert_int_equal(carnet_replica_get_identity(a->r, NULL, team), 0);
  assert_int_equal(carnet_replica_set_team(b->r, team), 0);
}

static carnet_id add_customer(node *n, const char *name, const char *city) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  assert_int_equal(carnet_patch_set(p, CARNET_F_NAME, name), 0);
  assert_int_equal(carnet_patch_set(p, CARNET_F_CITY, city), 0);
  assert_int_equal(carnet_patch_set(p, CARNET_F_EMAILS, "x@example.org"), 0);
  int rc = carnet_record_create_commit(n->r, p, &id);
  if (rc) fail_msg("create: %s", carnet_replica_errmsg(n->r));
  carnet_patch_free(p);
  return id;
}

/* A byte-tampering hook on the pipe from s1 to s2 (NULL: none). */
typedef void (*tamper_fn)(uint8_t *buf, size_t len, uint64_t offset, void *arg);

typedef struct pipe_stats {
  uint64_t a_to_b, b_to_a;
} pipe_stats;

/* Move bytes both ways and tick, until both sessions are idle/closed/failed
 * or `rounds` pass. */
static void run(carnet_session *a, carnet_session *b, tenv *ea, tenv *eb, int rounds,
                tamper_fn tamper, void *arg, pipe_stats *ps) {
  uint64_t sent_ab = 0;
  for (int i = 0; i < rounds; i++) {
    carnet_buf o = carnet_session_output(a);
    if (o.len) {
      uint8_t *copy = malloc(o.len);
      memcpy(copy, o.base, o.len);
      if (tamper) tamper(copy, o.len, sent_ab, arg);
      size_t n = o.len;
      carnet_session_sent(a, n);
      sent_ab += n;
      if (ps) ps->a_to_b += n;
      carnet_session_input(b, copy, n, eb->now_ms);
      free(copy);
    }
    o = carnet_session_output(b);
    if (o.len) {
      uint8_t *copy = malloc(o.len);
      size_t n = o.len;
      memcpy(copy, o.base, n);
      carnet_session_sent(b, n);
      if (ps) ps->b_to_a += n;
      carnet_session_input(a, copy, n, ea->now_ms);
      free(copy);
    }
    tenv_advance_ms(ea, 50);
    tenv_advance_ms(eb, 50);
    carnet_session_tick(a, ea->now_ms);
    carnet_session_tick(b, eb->now_ms);
    carnet_session_state sa = carnet_session_get_state(a), sb = carnet_session_get_state(b);
    bool a_quiet = carnet_session_output(a).len == 0, b_quiet = carnet_session_output(b).len == 0;
    if (a_quiet && b_quiet && sa != CARNET_SESSION_HANDSHAKE && sb != CARNET_SESSION_HANDSHAKE &&
        sa != CARNET_SESSION_SYNCING && sb != CARNET_SESSION_SYNCING)
      return;
  }
}

static void assert_same_digest(node *a, node *b) {
  uint8_t da[32], db[32];
  assert_int_equal(carnet_replica_get_digest(a->r, da), 0);
  assert_int_equal(carnet_replica_get_digest(b->r, db), 0);
  assert_memory_equal(da, db, 32);
}

static carnet_session *start(node *n, bool initiator, bool once, const char *token) {
  carnet_session_opts o = {
      .initiator = initiator, .once = once, .invite_token = token, .batch_bytes = 4096};
  carnet_session *s;
  int rc = carnet_session_new(n->r, &o, n->env.now_ms, &s);
  if (rc) fail_msg("session_new: %s (%s)", carnet_error_name(rc), carnet_replica_errmsg(n->r));
  return s;
}

static void test_sync_both_ways_then_push(void **state) {
  (void)state;
  node a, b;
  node_open(&a, "sess-a", 1);
  node_open(&b, "sess-b", 2);
  same_team(&a, &b);
  trust_both(&a, &b);
  for (int i = 0; i < 300; i++) {
    char name[32];
    snprintf(name, sizeof name, "Client A%03d", i);
    add_customer(&a, name, "Lyon");
  }
  carnet_id shared = add_customer(&b, "Client B", "Brest");
  carnet_session *sa = start(&a, true, false, NULL), *sb = start(&b, false, false, NULL);
  pipe_stats ps = {0};
  run(sa, sb, &a.env, &b.env, 2000, NULL, NULL, &ps);
  assert_int_equal(carnet_session_get_error(sa), 0);
  assert_int_equal(carnet_session_get_error(sb), 0);
  assert_int_equal(carnet_session_get_state(sa), CARNET_SESSION_IDLE);
  assert_int_equal(carnet_session_get_state(sb), CARNET_SESSION_IDLE);
  assert_same_digest(&a, &b);
  carnet_session_stats st;
  carnet_session_get_stats(sb, &st);
  assert_true(st.batches_in > 1); /* 4 KiB batches: the stream was split */
  print_message("first sync: %llu bytes A->B, %llu bytes B->A\n", (unsigned long long)ps.a_to_b,
                (unsigned long long)ps.b_to_a);

  /* A live edit on B reaches A through the running session (push on tick). */
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_int_equal(carnet_patch_set(p, CARNET_F_NOTES, "rappeler lundi"), 0);
  assert_int_equal(carnet_record_update_commit(b.r, &shared, p), 0);
  carnet_patch_free(p);
  pipe_stats ps2 = {0};
  run(sa, sb, &a.env, &b.env, 200, NULL, NULL, &ps2);
  assert_same_digest(&a, &b);
  carnet_record *rec;
  assert_int_equal(carnet_record_get(a.r, &shared, &rec), 0);
  assert_string_equal(carnet_record_str(rec, CARNET_F_NOTES), "rappeler lundi");
  carnet_record_free(rec);
  print_message("one changed field pushed: %llu bytes B->A, %llu bytes A->B\n",
                (unsigned long long)ps2.b_to_a, (unsigned long long)ps2.a_to_b);
  assert_true(ps2.b_to_a < 1024);

  carnet_session_close(sa);
  run(sa, sb, &a.env, &b.env, 50, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_state(sa), CARNET_SESSION_CLOSED);
  assert_int_equal(carnet_session_get_state(sb), CARNET_SESSION_CLOSED);
  carnet_session_free(sa);
  carnet_session_free(sb);

  /* The marks persist: a new session sends only what changed since. */
  add_customer(&a, "Client tardif", "Caen");
  sa = start(&a, true, true, NULL);
  sb = start(&b, false, false, NULL);
  pipe_stats ps3 = {0};
  run(sa, sb, &a.env, &b.env, 200, NULL, NULL, &ps3);
  assert_int_equal(carnet_session_get_state(sa), CARNET_SESSION_CLOSED);
  assert_int_equal(carnet_session_get_state(sb), CARNET_SESSION_CLOSED);
  carnet_session_get_stats(sb, &st);
  assert_int_equal(st.batches_in, 1);
  assert_same_digest(&a, &b);
  print_message("resumed one-shot sync: %llu + %llu bytes\n", (unsigned long long)ps3.a_to_b,
                (unsigned long long)ps3.b_to_a);
  carnet_session_free(sa);
  carnet_session_free(sb);
  node_close(&a);
  node_close(&b);
}

/* --- SEALED (protocol version 4) ------------------------------------------- */

/* The whole of file `path`. */
static uint8_t *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) fail_msg("cannot open %s", path);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long len = ftell(f);
  assert_true(len > 0);
  rewind(f);
  uint8_t *b = malloc((size_t)len);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return b;
}

/* Keeps every byte A sent B. */
typedef struct tap {
  uint8_t *buf;
  size_t len, cap;
} tap;

static void tap_bytes(uint8_t *buf, size_t len, uint64_t offset, void *arg) {
  tap *t = arg;
  (void)offset;
  if (t->len + len > t->cap) {
    t->cap = (t->len + len) * 2;
    t->buf = realloc(t->buf, t->cap);
    assert_non_null(t->buf);
  }
  memcpy(t->buf + t->len, buf, len);
  t->len += len;
}

/* A's 200 kB attachment reaches B in a session of protocol `version` (both
 * sides). Its content file, as stored on A, shows on the wire only when the
 * version has SEALED: a unit past the channel's encryption is the stored
 * unit; in version 3 every byte of it is encrypted again by the channel.
 * Either way B ends with the same file. */
static void transfer_at_version(uint32_t version, bool sealed) {
  node a, b;
  enum { SIZE = 200000 };
  node_open(&a, "seal-a", 31);
  node_open(&b, "seal-b", 32);
  same_team(&a, &b);
  trust_both(&a, &b);
  carnet_id cu = add_customer(&a, "Client Pièce", "Rouen"), att;
  uint8_t *plain = malloc(SIZE);
  assert_non_null(plain);
  for (size_t i = 0; i < SIZE; i++)
    plain[i] = (uint8_t)(i * 31 + (i >> 9));
  carnet_upload *up;
  carnet_upload_opts uo = {.name = "devis.pdf"};
  assert_int_equal(carnet_upload_begin(a.r, &cu, &uo, &up), 0);
  assert_int_equal(carnet_upload_write(up, plain, SIZE), 0);
  assert_int_equal(carnet_upload_commit(up, &att), 0);
  char pa[4096], pb[4096];
  size_t na = 0, nb = 0;
  assert_int_equal(carnet__att_path(a.r, &att, "", pa, sizeof pa), 0);
  assert_int_equal(carnet__att_path(b.r, &att, "", pb, sizeof pb), 0);
  uint8_t *fa = read_all(pa, &na);

  carnet_session_opts oa = {.initiator = true, .batch_bytes = 4096}, ob = {.batch_bytes = 4096};
  carnet_session *sa, *sb;
  assert_int_equal(carnet__session_new_version(a.r, &oa, a.env.now_ms, version, &sa), 0);
  assert_int_equal(carnet__session_new_version(b.r, &ob, b.env.now_ms, version, &sb), 0);
  tap t = {0};
  run(sa, sb, &a.env, &b.env, 2000, tap_bytes, &t, NULL);
  assert_int_equal(carnet_session_get_error(sa), 0);
  assert_int_equal(carnet_session_get_error(sb), 0);
  carnet_session_stats st;
  carnet_session_get_stats(sb, &st);
  assert_int_equal(st.files_in, 1);
  assert_int_equal(st.content_in, na);
  uint8_t *fb = read_all(pb, &nb);
  assert_int_equal(na, nb);
  assert_memory_equal(fa, fb, na);
  /* Each unit of the stored file (its second half: past the unit's
   * header), on the wire as stored or nowhere. */
  for (size_t k = 0, off = 0; off < na; k++, off = 24 + k * (65536 + 17)) {
    size_t len = carnet__att_unit_len(SIZE, off), half = len / 2;
    assert_true(len > 64);
    bool seen = memmem(t.buf, t.len, fa + off + half, len - half) != NULL;
    assert_int_equal(seen, sealed);
  }
  print_message("version %u: %zu bytes A->B for a %zu-byte content file\n", (unsigned)version,
                t.len, na);
  free(t.buf);
  free(fa);
  free(fb);
  free(plain);
  carnet_session_free(sa);
  carnet_session_free(sb);
  node_close(&a);
  node_close(&b);
}

static void test_sealed_units_in_version4(void **state) {
  (void)state;
  transfer_at_version(0, true);
}

/* Two builds that speak version 3 (as before SEALED) still move files,
 * every unit inside the channel: a version 3 peer never gets a SEALED. */
static void test_version3_sessions_send_chunks(void **state) {
  (void)state;
  transfer_at_version(3, false);
}

static void test_untrusted_refused(void **state) {
  (void)state;
  node a, b;
  node_open(&a, "untr-a", 3);
  node_open(&b, "untr-b", 4);
  same_team(&a, &b);
  uint8_t pb[32];
  assert_int_equal(carnet_replica_get_identity(b.r, pb, NULL), 0);
  assert_int_equal(carnet_peer_trust(a.r, pb, NULL), 0); /* a trusts b, b does not trust a */
  add_customer(&a, "Secret", "Paris");
  uint8_t before[32], after[32];
  assert_int_equal(carnet_replica_get_digest(b.r, before), 0);
  carnet_session *sa = start(&a, true, true, NULL), *sb = start(&b, false, false, NULL);
  run(sa, sb, &a.env, &b.env, 100, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_state(sb), CARNET_SESSION_FAILED);
  assert_int_equal(carnet_session_get_error(sb), CARNET_EPERM);
  print_message("responder: %s\n", carnet_session_errmsg(sb));
  assert_int_equal(carnet_replica_get_digest(b.r, after), 0);
  assert_memory_equal(before, after, 32);
  carnet_session_free(sa);
  carnet_session_free(sb);
  node_close(&a);
  node_close(&b);
}

static void flip_after_handshake(uint8_t *buf, size_t len, uint64_t offset, void *arg) {
  uint64_t *at = arg;
  if (*at >= offset && *at < offset + len) buf[*at - offset] ^= 0x40;
}

static void test_tampered_frame(void **state) {
  (void)state;
  node a, b;
  node_open(&a, "tamp-a", 5);
  node_open(&b, "tamp-b", 6);
  same_team(&a, &b);
  trust_both(&a, &b);
  for (int i = 0; i < 50; i++)
    add_customer(&a, "Client", "Nantes");
  uint8_t before[32], after[32];
  assert_int_equal(carnet_replica_get_digest(b.r, before), 0);
  /* Byte 400 of A's output is inside the first encrypted batch. */
  uint64_t at = 400;
  carnet_session *sa = start(&a, true, true, NULL), *sb = start(&b, false, false, NULL);
  run(sa, sb, &a.env, &b.env, 100, flip_after_handshake, &at, NULL);
  assert_int_equal(carnet_session_get_state(sb), CARNET_SESSION_FAILED);
  assert_int_equal(carnet_session_get_error(sb), CARNET_EPROTO);
  print_message("tampered: %s\n", carnet_session_errmsg(sb));
  assert_int_equal(carnet_replica_get_digest(b.r, after), 0);
  assert_memory_equal(before, after, 32);
  carnet_session_free(sa);
  carnet_session_free(sb);
  node_close(&a);
  node_close(&b);
}

static void test_join_with_invite(void **state) {
  (void)state;
  node a, b;
  node_open(&a, "join-a", 7);
  node_open(&b, "join-b", 8);
  add_customer(&a, "Client du bureau", "Lille");
  char token[512];
  assert_int_equal(carnet_invite_create(a.r, "127.0.0.1:7000", 600000, token, sizeof token), 0);
  char addr[300];
  assert_int_equal(carnet_invite_addr(token, addr, sizeof addr), 0);
  assert_string_equal(addr, "127.0.0.1:7000");
  carnet_session *sb = start(&b, true, true, token), *sa = start(&a, false, false, NULL);
  run(sb, sa, &b.env, &a.env, 200, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_error(sb), 0);
  assert_int_equal(carnet_session_get_state(sb), CARNET_SESSION_CLOSED);
  assert_true(carnet_session_joined(sb));
  assert_true(carnet_session_joined(sa));
  assert_same_digest(&a, &b);
  uint8_t pa[32], pb[32], ta[16], tb[16];
  assert_int_equal(carnet_replica_get_identity(a.r, pa, ta), 0);
  assert_int_equal(carnet_replica_get_identity(b.r, pb, tb), 0);
  assert_memory_equal(ta, tb, 16);
  assert_int_equal(carnet_peer_check(a.r, pb), 0);
  assert_int_equal(carnet_peer_check(b.r, pa), 0);
  carnet_session_free(sa);
  carnet_session_free(sb);

  /* The token works once. */
  node c;
  node_open(&c, "join-c", 9);
  carnet_session *sc = start(&c, true, true, token);
  sa = start(&a, false, false, NULL);
  run(sc, sa, &c.env, &a.env, 100, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_state(sa), CARNET_SESSION_FAILED);
  assert_int_equal(carnet_session_get_error(sa), CARNET_EPERM);
  assert_int_equal(carnet_session_get_state(sc), CARNET_SESSION_FAILED);
  print_message("second use of the token: %s\n", carnet_session_errmsg(sc));
  carnet_session_free(sa);
  carnet_session_free(sc);
  node_close(&c);
  node_close(&a);
  node_close(&b);
}

/* Give b's replica an id with the same tag (top 20 bits) as a's, through
 * the store (the id is fixed at init), and reopen it. */
static void copy_tag(node *a, node *b) {
  uint64_t ida = carnet_replica_id(a->r), idb = carnet_replica_id(b->r);
  uint64_t forged = (ida & ~((1ull << 44) - 1)) | (idb & ((1ull << 44) - 1));
  char *d = strdup(carnet_replica_dir(b->r)), why[256];
  carnet_replica_close(b->r);
  carnet__store *st;
  carnet__stxn *t;
  uint8_t v[8];
  for (int i = 0; i < 8; i++)
    v[i] = (uint8_t)(forged >> (56 - 8 * i));
  assert_int_equal(carnet__store_open(d, 0, &st, why, sizeof why), 0);
  assert_int_equal(carnet__store_begin(st, true, &t), 0);
  assert_int_equal(carnet__store_put(t, CARNET__T_META, "replica_id", 10, v, 8, 0), 0);
  assert_int_equal(carnet__store_commit(t), 0);
  carnet__store_close(st);
  carnet_env e;
  tenv_fill(&b->env, &e);
  assert_int_equal(carnet_replica_open(d, &e, &b->r, why, sizeof why), 0);
  free(d);
  assert_string_equal(carnet_replica_tag(a->r), carnet_replica_tag(b->r));
  assert_true(carnet_replica_id(a->r) != carnet_replica_id(b->r));
}

static void test_same_tag_refused(void **state) {
  (void)state;
  node a, b;
  node_open(&a, "tag-a", 10);
  node_open(&b, "tag-b", 11);
  copy_tag(&a, &b);
  same_team(&a, &b);
  trust_both(&a, &b);
  carnet_session *sa = start(&a, true, true, NULL), *sb = start(&b, false, false, NULL);
  run(sa, sb, &a.env, &b.env, 100, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_state(sa), CARNET_SESSION_FAILED);
  assert_int_equal(carnet_session_get_error(sa), CARNET_EPERM);
  print_message("same tag: %s\n", carnet_session_errmsg(sa));
  assert_non_null(strstr(carnet_session_errmsg(sa), "tag"));
  carnet_session_free(sa);
  carnet_session_free(sb);
  node_close(&a);
  node_close(&b);
}

/* S5: a certificate made while a session is idle is pushed on the tick,
 * applied by the peer, and the peer's confirmation comes back. */
static void test_certificate_pushed_live(void **state) {
  (void)state;
  node a, b;
  node_open(&a, "sess-cert-a", 11);
  node_open(&b, "sess-cert-b", 12);
  same_team(&a, &b);
  trust_both(&a, &b);
  carnet_id gone = add_customer(&a, "Client Efface", "Lyon");
  carnet_session *sa = start(&a, true, false, NULL), *sb = start(&b, false, false, NULL);
  run(sa, sb, &a.env, &b.env, 200, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_state(sb), CARNET_SESSION_IDLE);
  carnet_record *rec = NULL;
  assert_int_equal(carnet_record_get(b.r, &gone, &rec), 0);
  carnet_record_free(rec);

  assert_int_equal(carnet_record_erase(a.r, &gone, "request", NULL, NULL), 0);
  run(sa, sb, &a.env, &b.env, 200, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_error(sa), 0);
  assert_int_equal(carnet_session_get_error(sb), 0);
  assert_int_equal(carnet_record_get(b.r, &gone, &rec), CARNET_ENOTFOUND);
  carnet_erasure e;
  assert_int_equal(carnet_erasure_get(a.r, &gone, &e), 0);
  assert_int_equal(e.nconfirmed, 2); /* A's, and B's that came back */
  carnet_session_stats st;
  carnet_session_get_stats(sb, &st);
  assert_true(st.certs_in >= 1 && st.certs_out >= 1);
  assert_same_digest(&a, &b);
  carnet_session_close(sa);
  run(sa, sb, &a.env, &b.env, 50, NULL, NULL, NULL);
  carnet_session_free(sa);
  carnet_session_free(sb);
  node_close(&a);
  node_close(&b);
}

/* The batches of one input call are applied in one transaction and
 * acknowledged only after its commit (protocol/session.c): when that commit
 * fails, nothing of the group stays, no batch is acknowledged, the mark does
 * not move, and the next session sends it all again. */
static void test_failed_group_commit_applies_nothing(void **state) {
  (void)state;
  node a, b;
  node_open(&a, "grp-a", 20);
  node_open(&b, "grp-b", 21);
  same_team(&a, &b);
  trust_both(&a, &b);
  for (int i = 0; i < 60; i++) {
    char name[32];
    snprintf(name, sizeof name, "Client G%03d", i);
    add_customer(&a, name, "Nantes");
  }
  carnet_session *sa = start(&a, true, false, NULL), *sb = start(&b, false, false, NULL);
  /* Up to the end of the handshake: B's next commit is the first group. */
  bool armed = false;
  for (int i = 0; i < 50 && !armed; i++) {
    run(sa, sb, &a.env, &b.env, 1, NULL, NULL, NULL);
    if (carnet_session_get_state(sb) == CARNET_SESSION_SYNCING ||
        carnet_session_get_state(sb) == CARNET_SESSION_IDLE) {
      carnet__store_fail_commit_after(b.r->store, 1);
      armed = true;
    }
  }
  assert_true(armed);
  run(sa, sb, &a.env, &b.env, 50, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_state(sb), CARNET_SESSION_FAILED);
  assert_int_equal(carnet_session_get_error(sb), CARNET_EIO);
  carnet_session_stats st;
  carnet_session_get_stats(sb, &st);
  assert_true(st.batches_in > 1); /* several batches in the failed group */
  carnet_mark m;
  assert_int_equal(carnet_changes_get_mark(b.r, carnet_replica_id(a.r), &m), 0);
  assert_int_equal(m.base, 0);
  assert_int_equal(m.after, 0);
  uint64_t seq;
  assert_int_equal(carnet_replica_get_seq(b.r, &seq), 0);
  assert_int_equal(seq, 0); /* nothing of the group was stored */
  assert_int_equal(carnet_session_get_state(sa), CARNET_SESSION_FAILED);
  carnet_session_free(sa);
  carnet_session_free(sb);
  /* The next session brings everything. */
  sa = start(&a, true, false, NULL);
  sb = start(&b, false, false, NULL);
  run(sa, sb, &a.env, &b.env, 2000, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_error(sa), 0);
  assert_int_equal(carnet_session_get_error(sb), 0);
  assert_same_digest(&a, &b);
  carnet_session_free(sa);
  carnet_session_free(sb);
  node_close(&a);
  node_close(&b);
}

/* Regression (carnet-sim --seed 1): a replica's wall clock stepping back
 * (NTP) made `now - last_rx` wrap, and a live session failed at its next
 * tick with "the peer sent nothing for 60 s". */
static void test_clock_step_back_keeps_session(void **state) {
  (void)state;
  node a, b;
  node_open(&a, "back-a", 11);
  node_open(&b, "back-b", 12);
  same_team(&a, &b);
  trust_both(&a, &b);
  add_customer(&a, "Client", "Rennes");
  carnet_session *sa = start(&a, true, false, NULL), *sb = start(&b, false, false, NULL);
  run(sa, sb, &a.env, &b.env, 200, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_state(sa), CARNET_SESSION_IDLE);
  a.env.now_ms -= 20 * 60 * 1000; /* twenty minutes back */
  assert_int_equal(carnet_session_tick(sa, a.env.now_ms), 0);
  assert_int_equal(carnet_session_get_state(sa), CARNET_SESSION_IDLE);
  /* ...and a real silence is still noticed, counted from the step. */
  assert_int_equal(carnet_session_tick(sa, a.env.now_ms + CARNET_SESSION_TIMEOUT_MS - 1), 0);
  assert_int_equal(carnet_session_tick(sa, a.env.now_ms + CARNET_SESSION_TIMEOUT_MS),
                   CARNET_ELIMIT);
  carnet_session_free(sa);
  carnet_session_free(sb);
  node_close(&a);
  node_close(&b);
}

/* Move the bytes of `from` (if `deliver`) to `to`, then tick both. */
static void step_one(carnet_session *from, carnet_session *to, tenv *ef, tenv *et, bool deliver) {
  carnet_buf o = carnet_session_output(from);
  if (deliver && o.len) {
    size_t n = o.len;
    uint8_t *copy = malloc(n);
    memcpy(copy, o.base, n);
    carnet_session_sent(from, n);
    carnet_session_input(to, copy, n, et->now_ms);
    free(copy);
  }
  tenv_advance_ms(ef, 50);
  carnet_session_tick(from, ef->now_ms);
}

/* A one-shot session that has sent its BYE and then receives a certificate
 * lacking its confirmation must not fail trying to answer it (found by
 * carnet-sim, seed 109): the confirmation goes back in a later session. */
static void test_certificate_after_bye(void **state) {
  (void)state;
  node a, b;
  node_open(&a, "bye-cert-a", 21);
  node_open(&b, "bye-cert-b", 22);
  same_team(&a, &b);
  trust_both(&a, &b);
  carnet_id gone = add_customer(&b, "Client Efface", "Nantes");
  carnet_session *sa = start(&a, true, true, NULL), *sb = start(&b, false, false, NULL);
  /* Until the one-shot side is caught up: it has queued its BYE, not sent. */
  for (int i = 0; i < 400 && carnet_session_get_state(sa) != CARNET_SESSION_IDLE; i++) {
    step_one(sa, sb, &a.env, &b.env, true);
    step_one(sb, sa, &b.env, &a.env, true);
  }
  assert_int_equal(carnet_session_get_state(sa), CARNET_SESSION_IDLE);
  assert_true(carnet_session_output(sa).len > 0); /* the BYE */
  assert_int_equal(carnet_record_erase(b.r, &gone, "request", NULL, NULL), 0);
  for (int i = 0; i < 10; i++)
    step_one(sb, sa, &b.env, &a.env, true); /* the CERT reaches A after its BYE */
  assert_int_equal(carnet_session_get_error(sa), 0);
  bool erased = false;
  assert_int_equal(carnet_record_erased(a.r, &gone, &erased), 0);
  assert_true(erased);
  run(sa, sb, &a.env, &b.env, 100, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_error(sa), 0);
  assert_int_equal(carnet_session_get_error(sb), 0);
  carnet_session_free(sa);
  carnet_session_free(sb);
  node_close(&a);
  node_close(&b);
}

/* Moves what `from` has to send into `to`, once. */
static void move_once(carnet_session *from, carnet_session *to, tenv *eto) {
  carnet_buf o = carnet_session_output(from);
  if (o.len == 0) return;
  uint8_t *copy = malloc(o.len);
  size_t n = o.len;
  memcpy(copy, o.base, n);
  carnet_session_sent(from, n);
  carnet_session_input(to, copy, n, eto->now_ms);
  free(copy);
}

static int count_one(const carnet_record *rec, void *data) {
  (void)rec;
  (*(long long *)data)++;
  return 0;
}

static long long count_customers(node *n) {
  long long k = 0;
  assert_int_equal(carnet_record_list(n->r, CARNET_KIND_CUSTOMER, NULL, count_one, &k), 0);
  return k;
}

/* Revocation that bites (issue 19, point 2; protocol/session.c S7,
 * engine/store/revoke.h): A, B and C all trust each other, with live sessions
 * A-B, A-C and C-B. A removes B: A's session with B ends at its next tick
 * (or its next input, whichever comes first), B is told why, nothing B
 * sends afterwards is applied and nothing A writes afterwards reaches B;
 * the record reaches C through the live A-C session, and C ends its own
 * session with B. */
static void test_revocation_ends_sessions(void **state) {
  (void)state;
  node a, b, c;
  uint8_t pb[32];
  node_open(&a, "sess-rv-a", 21);
  node_open(&b, "sess-rv-b", 22);
  node_open(&c, "sess-rv-c", 23);
  same_team(&a, &b), same_team(&a, &c);
  trust_both(&a, &b), trust_both(&a, &c), trust_both(&c, &b);
  add_customer(&a, "Avant", "Lyon");
  carnet_session *ab = start(&a, true, false, NULL), *ba = start(&b, false, false, NULL);
  carnet_session *ac = start(&a, true, false, NULL), *ca = start(&c, false, false, NULL);
  carnet_session *cb = start(&c, true, false, NULL), *bc = start(&b, false, false, NULL);
  run(ab, ba, &a.env, &b.env, 200, NULL, NULL, NULL);
  run(ac, ca, &a.env, &c.env, 200, NULL, NULL, NULL);
  run(cb, bc, &c.env, &b.env, 200, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_state(ab), CARNET_SESSION_IDLE);
  assert_int_equal(carnet_session_get_state(cb), CARNET_SESSION_IDLE);
  assert_int_equal(count_customers(&b), 1);

  /* B writes; then A removes B before the batch arrives: the batch is
   * refused at A's first input (S7), not applied. */
  add_customer(&b, "Pendant, de B", "Brest");
  tenv_advance_ms(&b.env, 100);
  carnet_session_tick(ba, b.env.now_ms);
  assert_true(carnet_session_output(ba).len > 0);
  assert_int_equal(carnet_replica_get_identity(b.r, pb, NULL), 0);
  assert_int_equal(carnet_peer_remove(a.r, pb), 0);
  add_customer(&a, "Apres, de A", "Lyon");
  move_once(ba, ab, &a.env);
  assert_int_equal(carnet_session_get_state(ab), CARNET_SESSION_FAILED);
  assert_int_equal(carnet_session_get_error(ab), CARNET_EPERM);
  assert_non_null(strstr(carnet_session_errmsg(ab), "no longer trusted here"));
  assert_int_equal(count_customers(&a), 1 + 1); /* "Avant" and A's own, not B's */
  /* B is told why, and gets nothing of what A wrote after. */
  run(ab, ba, &a.env, &b.env, 50, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_state(ba), CARNET_SESSION_FAILED);
  assert_int_equal(carnet_session_get_error(ba), CARNET_EPERM);
  assert_non_null(strstr(carnet_session_errmsg(ba), "the peer ended the session"));
  assert_int_equal(count_customers(&b), 1 + 1); /* "Avant" and its own */

  /* C hears of it through the live A-C session, and cuts B. */
  run(ac, ca, &a.env, &c.env, 50, NULL, NULL, NULL);
  assert_int_equal(carnet_peer_check(c.r, pb), CARNET_EPERM);
  carnet_revocation info;
  assert_int_equal(carnet_revocation_get(c.r, pb, &info), 0);
  uint8_t pa[32];
  assert_int_equal(carnet_replica_get_identity(a.r, pa, NULL), 0);
  assert_memory_equal(info.by, pa, 32);
  assert_int_equal(carnet_session_get_error(ac), 0); /* A-C lives on */
  assert_int_equal(carnet_session_get_error(ca), 0);
  tenv_advance_ms(&c.env, 100);
  carnet_session_tick(cb, c.env.now_ms);
  assert_int_equal(carnet_session_get_error(cb), CARNET_EPERM);
  run(cb, bc, &c.env, &b.env, 50, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_error(bc), CARNET_EPERM);
  /* A new session of B with C is refused at the handshake. */
  carnet_session *cb2 = start(&c, true, false, NULL), *bc2 = start(&b, false, false, NULL);
  run(cb2, bc2, &c.env, &b.env, 50, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_error(cb2), CARNET_EPERM);
  carnet_session *s[] = {ab, ba, ac, ca, cb, bc, cb2, bc2};
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
    carnet_session_free(s[i]);
  node_close(&a), node_close(&b), node_close(&c);
}

/* Live status (carnet_peer_info): a live session records acknowledged
 * progress as it goes, at most about once a second, and its end at once;
 * the peer is online while a session with it is live. */
static void test_live_status(void **state) {
  (void)state;
  node a, b;
  uint8_t pb[32];
  carnet_peer_info p;
  uint64_t seq;
  node_open(&a, "live-a", 21);
  node_open(&b, "live-b", 22);
  same_team(&a, &b);
  trust_both(&a, &b);
  assert_int_equal(carnet_replica_get_identity(b.r, pb, NULL), 0);
  assert_int_equal(carnet_peer_get(a.r, pb, &p), 0);
  assert_false(p.online);
  assert_int_equal(p.last_contact_ms, 0);
  add_customer(&a, "Client", "Rennes");
  carnet_session *sa = start(&a, true, false, NULL), *sb = start(&b, false, false, NULL);
  run(sa, sb, &a.env, &b.env, 200, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_state(sa), CARNET_SESSION_IDLE);
  /* A second later the tick has written what the first sync did. */
  tenv_advance_ms(&a.env, 1000);
  assert_int_equal(carnet_session_tick(sa, a.env.now_ms), 0);
  assert_int_equal(carnet_replica_get_seq(a.r, &seq), 0);
  assert_int_equal(carnet_peer_get(a.r, pb, &p), 0);
  assert_true(p.online);
  assert_true(p.last_contact_ms > 0 && p.last_sync_ms > 0);
  assert_int_equal(p.acked, seq);
  assert_int_equal(p.pending, 0);
  /* A new change: pending at once (the same snapshot as the sequence),
   * and acknowledged (the last write is over a second old: written at
   * once)... */
  add_customer(&a, "Client 2", "Brest");
  assert_int_equal(carnet_peer_get(a.r, pb, &p), 0);
  assert_int_equal(p.pending, 1);
  uint64_t t0 = a.env.now_ms;
  run(sa, sb, &a.env, &b.env, 200, NULL, NULL, NULL);
  assert_true(a.env.now_ms - t0 < 1000);
  assert_int_equal(carnet_peer_get(a.r, pb, &p), 0);
  assert_int_equal(p.pending, 0);
  /* ... but the next one, acknowledged within that second, is written
   * when the second is up, not sooner. */
  uint64_t t1 = a.env.now_ms; /* at or after that write */
  add_customer(&a, "Client 3", "Quimper");
  run(sa, sb, &a.env, &b.env, 200, NULL, NULL, NULL);
  assert_true(a.env.now_ms - t0 < 1000);
  assert_int_equal(carnet_peer_get(a.r, pb, &p), 0);
  assert_int_equal(p.pending, 1); /* the last write is less than a second old */
  while (a.env.now_ms - t1 < 1000) {
    tenv_advance_ms(&a.env, 100);
    assert_int_equal(carnet_session_tick(sa, a.env.now_ms), 0);
  }
  assert_int_equal(carnet_peer_get(a.r, pb, &p), 0);
  assert_int_equal(p.pending, 0);
  assert_true(p.online);
  /* B sees A online too; a clean end is written at once, both sides. */
  assert_int_equal(carnet_replica_get_identity(a.r, pb, NULL), 0);
  assert_int_equal(carnet_peer_get(b.r, pb, &p), 0);
  assert_true(p.online);
  carnet_session_close(sa);
  run(sa, sb, &a.env, &b.env, 50, NULL, NULL, NULL);
  assert_int_equal(carnet_session_get_state(sb), CARNET_SESSION_CLOSED);
  assert_int_equal(carnet_peer_get(b.r, pb, &p), 0);
  assert_false(p.online);
  assert_int_equal(carnet_replica_get_identity(b.r, pb, NULL), 0);
  assert_int_equal(carnet_peer_get(a.r, pb, &p), 0);
  assert_false(p.online);
  assert_int_equal(p.pending, 0);
  carnet_session_free(sa);
  carnet_session_free(sb);
  /* A session freed while live (closed by force) is not online either. */
  sa = start(&a, true, false, NULL), sb = start(&b, false, false, NULL);
  run(sa, sb, &a.env, &b.env, 200, NULL, NULL, NULL);
  assert_int_equal(carnet_peer_get(a.r, pb, &p), 0);
  assert_true(p.online);
  carnet_session_free(sa);
  assert_int_equal(carnet_peer_get(a.r, pb, &p), 0);
  assert_false(p.online);
  carnet_session_free(sb);
  node_close(&a);
  node_close(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_revocation_ends_sessions),
      cmocka_unit_test(test_failed_group_commit_applies_nothing),
      cmocka_unit_test(test_sync_both_ways_then_push),
      cmocka_unit_test(test_untrusted_refused),
      cmocka_unit_test(test_tampered_frame),
      cmocka_unit_test(test_sealed_units_in_version4),
      cmocka_unit_test(test_version3_sessions_send_chunks),
      cmocka_unit_test(test_join_with_invite),
      cmocka_unit_test(test_same_tag_refused),
      cmocka_unit_test(test_certificate_pushed_live),
      cmocka_unit_test(test_clock_step_back_keeps_session),
      cmocka_unit_test(test_certificate_after_bye),
      cmocka_unit_test(test_live_status),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
