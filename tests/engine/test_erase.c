/* tests/engine/test_erase.c - erasure in the engine (engine/erase/erase.h,
 * carnet/erase.h), two replicas in one process, synced by hand with the
 * change API and the certificate exchange a session does.
 *
 * - X1: changes of an erased customer that arrive later (an offline edit)
 *   are dropped, and never streamed;
 * - X2: an invoice that a replica validated offline before it learnt of
 *   the erasure survives, locked, and reaches the erasing replica whole;
 * - X4: confirmations come back and merge by union;
 * - compaction waits while another process holds the directory open;
 * - the errors carnet_record_erase lists;
 * - an opposition written before the index changed hash (schema 3) still
 *   matches: the opposition list keeps keyed BLAKE2b.
 */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include "carnet/carnet.h"
#include "engine/erase/erase.h"
#include "engine/model/cert.h"
#include "engine/store/entity_io.h"
#include "engine/store/replica_int.h"
#include "support/testenv.h"

#define OK(r, expr)                                                                                \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    if (rc_ != 0)                                                                                  \
      fail_msg("%s: %s (%s)", #expr, carnet_error_name(rc_), carnet_replica_errmsg(r));            \
  } while (0)

typedef struct pair {
  char *root, *dir[2];
  tenv env[2];
  carnet_replica *r[2];
} pair;

static int setup(void **state) {
  pair *p = calloc(1, sizeof *p);
  assert_non_null(p);
  p->root = tdir_new("erase");
  for (int i = 0; i < 2; i++) {
    char err[256] = "";
    carnet_env ce;
    p->dir[i] = tdir_join(p->root, i ? "office" : "laptop");
    tenv_init(&p->env[i], TENV_EPOCH_MS, 7 + (uint64_t)i);
    tenv_fill(&p->env[i], &ce);
    if (carnet_replica_init(p->dir[i], &ce, &p->r[i], err, sizeof err)) fail_msg("init: %s", err);
  }
  *state = p;
  return 0;
}

static int teardown(void **state) {
  pair *p = *state;
  for (int i = 0; i < 2; i++) {
    carnet_replica_close(p->r[i]);
    free(p->dir[i]);
  }
  tdir_remove(p->root);
  free(p->root);
  free(p);
  return 0;
}

/* Every change of `from` that `to` has not seen, as a session sends them. */
static void stream(carnet_replica *from, carnet_replica *to) {
  carnet_mark m;
  carnet_batch_info info;
  OK(to, carnet_changes_get_mark(to, carnet_replica_id(from), &m));
  do {
    carnet_buf b;
    OK(from, carnet_changes_encode(from, &m, 0, &b, &info));
    OK(to, carnet_changes_apply(to, b.base, b.len, NULL, NULL));
    carnet_free((void *)b.base);
    m.after = info.upto;
  } while (info.more);
}

typedef struct cert_ctx {
  carnet_replica *to, *from;
  int replies;
} cert_ctx;

static int deliver(const void *bytes, size_t len, void *data) {
  cert_ctx *c = data;
  msgpack_sbuffer reply;
  msgpack_sbuffer_init(&reply);
  int rc = carnet__cert_receive(c->to, carnet_replica_id(c->from), bytes, len, &reply);
  if (rc == 0 && reply.size) { /* the session answers at once */
    msgpack_sbuffer back;
    msgpack_sbuffer_init(&back);
    rc = carnet__cert_receive(c->from, carnet_replica_id(c->to), reply.data, reply.size, &back);
    c->replies++;
    msgpack_sbuffer_destroy(&back);
  }
  msgpack_sbuffer_destroy(&reply);
  return rc;
}

/* A session: certificates first, both ways, then changes, both ways. */
static void sync2(pair *p) {
  uint64_t upto;
  for (int i = 0; i < 2; i++) {
    cert_ctx c = {p->r[1 - i], p->r[i], 0};
    OK(p->r[i], carnet__certs_since(p->r[i], 0, &upto, deliver, &c));
  }
  stream(p->r[0], p->r[1]);
  stream(p->r[1], p->r[0]);
}

static carnet_id add_customer(carnet_replica *r, const char *name, const char *email) {
  carnet_patch *pa = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  assert_non_null(pa);
  OK(r, carnet_patch_set(pa, CARNET_F_NAME, name));
  OK(r, carnet_patch_set(pa, CARNET_F_EMAILS, email));
  OK(r, carnet_patch_phone(pa, "mobile", "06 11 22 33 44"));
  OK(r, carnet_record_create_commit(r, pa, &id));
  carnet_patch_free(pa);
  return id;
}

static carnet_id add_invoice(carnet_replica *r, const carnet_id *cu) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_patch *pa = carnet_patch_new(CARNET_KIND_DOCUMENT);
  carnet_line_input in = {.set = CARNET_LINE_LABEL | CARNET_LINE_QTY | CARNET_LINE_PRICE |
                                 CARNET_LINE_VAT,
                          .label = "Widget",
                          .qty = 2000,
                          .unit_price = 5000,
                          .vat_bp = 2000};
  carnet_txn *t;
  carnet_id id;
  carnet_id_format(cu, hex);
  OK(r, carnet_patch_set(pa, CARNET_F_DOC_TYPE, "invoice"));
  OK(r, carnet_patch_set(pa, CARNET_F_CUSTOMER, hex));
  OK(r, carnet_txn_begin(r, &t));
  OK(r, carnet_record_create(t, pa, NULL, &id));
  OK(r, carnet_doc_line_add(t, &id, &in, NULL, NULL));
  OK(r, carnet_txn_commit(t));
  carnet_patch_free(pa);
  return id;
}

static bool erased(carnet_replica *r, const carnet_id *id) {
  bool e = false;
  OK(r, carnet_record_erased(r, id, &e));
  return e;
}

static void test_late_edit_dropped_and_invoice_kept(void **state) {
  pair *p = *state;
  carnet_replica *laptop = p->r[0], *office = p->r[1];
  carnet_id cu = add_customer(office, "Zoe Erasable", "zoe@exemple.fr");
  carnet_id inv = add_invoice(office, &cu);
  sync2(p);

  /* The laptop, offline: edits the customer, validates the invoice. */
  carnet_patch *pa = carnet_patch_new(CARNET_KIND_CUSTOMER);
  OK(laptop, carnet_patch_set(pa, CARNET_F_NOTES, "late edit"));
  OK(laptop, carnet_record_update_commit(laptop, &cu, pa));
  carnet_patch_free(pa);
  carnet_txn *t;
  char number[64];
  OK(laptop, carnet_txn_begin(laptop, &t));
  OK(laptop, carnet_doc_validate(t, &inv, number, sizeof number));
  OK(laptop, carnet_txn_commit(t));

  /* The office erases (its draft goes), later than the laptop's edit. */
  tenv_advance_ms(&p->env[1], 60000);
  carnet_erasure e;
  bool compacted = false;
  OK(office, carnet_record_erase(office, &cu, "request", &e, &compacted));
  assert_true(compacted);
  assert_true(erased(office, &cu) && erased(office, &inv));
  carnet_record *rec = NULL;
  assert_int_equal(carnet_record_get(office, &cu, &rec), CARNET_ENOTFOUND);
  assert_int_equal(carnet_record_get(office, &inv, &rec), CARNET_ENOTFOUND);

  sync2(p);
  /* X1: nowhere the customer, whatever the stamps; the laptop learnt. */
  for (int i = 0; i < 2; i++) {
    assert_int_equal(carnet_record_get(p->r[i], &cu, &rec), CARNET_ENOTFOUND);
    assert_true(erased(p->r[i], &cu));
  }
  /* X2: the invoice survives on both, whole, locked, identity frozen. */
  for (int i = 0; i < 2; i++) {
    carnet_totals tot;
    OK(p->r[i], carnet_record_get(p->r[i], &inv, &rec));
    assert_string_equal(carnet_record_str(rec, CARNET_F_NUMBER), number);
    assert_string_equal(carnet_record_str(rec, CARNET_F_NAME), "Zoe Erasable");
    OK(p->r[i], carnet_doc_totals(rec, &tot));
    assert_int_equal(tot.ttc, 12000);
    assert_false(tot.altered);
    carnet_record_free(rec);
    assert_false(erased(p->r[i], &inv));
    carnet_line_input in = {.set = CARNET_LINE_LABEL, .label = "more"};
    OK(p->r[i], carnet_txn_begin(p->r[i], &t));
    assert_int_equal(carnet_doc_line_add(t, &inv, &in, NULL, NULL), CARNET_EPERM);
    carnet_txn_abort(t);
  }
  /* X4: each holds both confirmations. */
  for (int i = 0; i < 2; i++) {
    OK(p->r[i], carnet_erasure_get(p->r[i], &cu, &e));
    assert_int_equal(e.nconfirmed, 2);
    assert_string_equal(e.reason, "request");
  }
  /* The same digest on both: they converged. */
  uint8_t d0[32], d1[32];
  OK(laptop, carnet_replica_get_digest(laptop, d0));
  OK(office, carnet_replica_get_digest(office, d1));
  assert_memory_equal(d0, d1, 32);
  /* The opposition list knows the e-mail and the phone. */
  carnet_id again = add_customer(laptop, "Z. E.", "ZOE@exemple.fr");
  bool opposed = false;
  carnet_id who;
  OK(laptop, carnet_erasure_check_record(laptop, &again, &opposed, &who));
  assert_true(opposed);
  assert_memory_equal(who.b, cu.b, 16);
}

/* A customer deleted, then erased, is opposed all the same: its e-mail and
 * phone come back in a later import or `customer add` with a warning. */
/* carnet_erasure_check_value on `v`, its answer set beforehand to the
 * opposite of `want` so that the call has to write it; with `cert`, the
 * certificate the answer must name. */
static void expect_opposed(carnet_replica *r, carnet_lookup_kind kind, const char *v, bool want,
                           const carnet_id *cert) {
  bool opposed = !want;
  carnet_id who;
  OK(r, carnet_erasure_check_value(r, kind, v, &opposed, &who));
  if (opposed != want) fail_msg("opposition of \"%s\": %d, want %d", v, opposed, want);
  if (cert) assert_memory_equal(who.b, cert->b, 16);
}

static int count_cb(const carnet_record *rec, void *data) {
  (void)rec;
  ++*(size_t *)data;
  return 0;
}

/* Whether `id` has a search signature (engine/crm/searchsig.h) in `r`. */
static bool has_signature(carnet_replica *r, const carnet_id *id) {
  carnet__stxn *st;
  carnet_buf v;
  OK(r, carnet__store_begin(r->store, false, &st));
  int rc = carnet__store_get(st, CARNET__T_SEARCH, id->b, 16, &v);
  carnet__store_abort(st);
  assert_true(rc == 0 || rc == CARNET_ENOTFOUND);
  return rc == 0;
}

static size_t found(carnet_replica *r, const char *text) {
  carnet_filter f = {.text = text, .include_deleted = true};
  size_t n = 0;
  OK(r, carnet_record_list(r, CARNET_KIND_CUSTOMER, &f, count_cb, &n));
  return n;
}

/* G3: an erased customer leaves no search signature, on the erasing
 * replica and on the one the certificate reaches, whether its signature
 * was written yet (after a search caught up) or not. */
static void test_erased_leaves_no_signature(void **state) {
  pair *p = *state;
  carnet_replica *laptop = p->r[0], *office = p->r[1];
  carnet_id a = add_customer(office, "Élise Effacée", "elise@exemple.fr");
  carnet_id b = add_customer(office, "Bruno Gardé", "bruno@exemple.fr");
  sync2(p);
  assert_int_equal(found(office, "effacee"), 1); /* caught up: signatures written */
  assert_int_equal(found(laptop, "effacee"), 1);
  assert_true(has_signature(office, &a) && has_signature(laptop, &a));
  bool compacted = false;
  OK(office, carnet_record_erase(office, &a, "request", NULL, &compacted));
  assert_false(has_signature(office, &a));
  assert_true(has_signature(office, &b));
  assert_int_equal(found(office, "effacee"), 0);
  assert_int_equal(found(office, "elise@"), 0);
  sync2(p);
  assert_false(has_signature(laptop, &a));
  assert_int_equal(found(laptop, "effacee"), 0);
  assert_int_equal(found(laptop, "garde"), 1);
  /* Erased before any search: never written, and a catch-up after the
   * erasure writes none. */
  carnet_id c = add_customer(office, "Chloé Oubliée", "chloe@exemple.fr");
  assert_false(has_signature(office, &c));
  OK(office, carnet_record_erase(office, &c, "request", NULL, &compacted));
  assert_int_equal(found(office, "oubliee"), 0);
  assert_false(has_signature(office, &c));
}

static void test_deleted_then_erased_is_opposed(void **state) {
  pair *p = *state;
  carnet_replica *r = p->r[0];
  carnet_id cu = add_customer(r, "Zoe Deleted", "zoe.deleted@exemple.fr");
  carnet_patch *pa = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_txn *t;
  bool compacted = false;
  OK(r, carnet_patch_delete(pa));
  OK(r, carnet_txn_begin(r, &t));
  OK(r, carnet_record_update(t, &cu, pa));
  OK(r, carnet_txn_commit(t));
  carnet_patch_free(pa);
  OK(r, carnet_record_erase(r, &cu, "request", NULL, &compacted));
  expect_opposed(r, CARNET_LOOKUP_EMAIL, "Zoe.Deleted@exemple.fr", true, &cu);
  expect_opposed(r, CARNET_LOOKUP_PHONE, "+33 6 11 22 33 44", true, NULL);
  expect_opposed(r, CARNET_LOOKUP_PHONE, "+33 6 99 99 99 99", false, NULL);
}

/* The opposition list's key of a value, in the format frozen before
 * schema 3 (docs/FORMATS.md): tag + BLAKE2b-128 keyed with the 32-byte
 * index secret over tag || normal form. Spelt out with libsodium here, not
 * through the engine, so that a change of the engine's hash fails. */
static void legacy_key(carnet_txn *t, uint8_t tag, const char *norm, uint8_t key[17]) {
  carnet__blind_secret secret;
  crypto_generichash_state s;
  assert_int_equal(carnet__index_secret(t->st, &secret), 0);
  key[0] = tag;
  crypto_generichash_init(&s, secret.raw, sizeof secret.raw, 16);
  crypto_generichash_update(&s, &tag, 1);
  crypto_generichash_update(&s, (const unsigned char *)norm, strlen(norm));
  crypto_generichash_final(&s, key + 1, 16);
}

static void legacy_oppose(carnet_txn *t, uint8_t tag, const char *norm, const carnet_id *cert) {
  uint8_t key[17];
  legacy_key(t, tag, norm, key);
  assert_int_equal(carnet__store_put(t->st, CARNET__T_OPPOSE, key, sizeof key, cert->b, 16, 0), 0);
}

/* Oppositions stored before the index moved to SipHash (their persons'
 * data is gone, they cannot be computed again) still match: by value, for
 * a new customer with that e-mail or phone, and next to a new erasure. */
static void test_opposition_before_schema3_still_matches(void **state) {
  pair *p = *state;
  carnet_replica *r = p->r[0];
  carnet_id old_cert, who;
  carnet_txn *t;
  bool opposed = false, compacted = false;
  memset(old_cert.b, 0xa5, 16);
  OK(r, carnet_txn_begin(r, &t));
  legacy_oppose(t, 'e', "gone@exemple.fr", &old_cert);
  legacy_oppose(t, 'p', "+33655443322", &old_cert);
  OK(r, carnet_txn_commit(t));

  expect_opposed(r, CARNET_LOOKUP_EMAIL, " Gone@Exemple.fr", true, &old_cert);
  expect_opposed(r, CARNET_LOOKUP_PHONE, "06 55 44 33 22", true, NULL);
  expect_opposed(r, CARNET_LOOKUP_EMAIL, "other@exemple.fr", false, NULL);

  /* A customer added again with the old e-mail is opposed... */
  carnet_id back = add_customer(r, "Back Again", "GONE@exemple.fr");
  OK(r, carnet_erasure_check_record(r, &back, &opposed, &who));
  assert_true(opposed);
  assert_memory_equal(who.b, old_cert.b, 16);

  /* ...and an erasure made now writes its entries in that format too. */
  carnet_id now = add_customer(r, "Erased Now", "now@exemple.fr");
  uint8_t key[17];
  carnet_buf v;
  OK(r, carnet_record_erase(r, &now, "request", NULL, &compacted));
  OK(r, carnet_txn_begin(r, &t));
  legacy_key(t, 'e', "now@exemple.fr", key);
  OK(r, carnet__store_get(t->st, CARNET__T_OPPOSE, key, sizeof key, &v));
  assert_int_equal(v.len, 16);
  assert_memory_equal(v.base, now.b, 16);
  carnet_txn_abort(t);
}

static void test_compaction_waits_for_other_processes(void **state) {
  pair *p = *state;
  carnet_replica *r = p->r[0];
  carnet_id cu = add_customer(r, "Held Open", "held@exemple.fr");
  /* Another process has the directory open: it holds the lock shared
   * (an open file description lock, like every replica handle). */
  char *lock = tdir_join(p->dir[0], "carnet.lock");
  int fd = open(lock, O_RDWR);
  assert_true(fd >= 0);
  struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
  assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
  bool compacted = true;
  OK(r, carnet_record_erase(r, &cu, "", NULL, &compacted));
  assert_false(compacted);
  bool done = true;
  OK(r, carnet_replica_compact(r, false, &done));
  assert_false(done);
  close(fd); /* that process exits */
  OK(r, carnet_replica_compact(r, false, &done));
  assert_true(done);
  OK(r, carnet_replica_compact(r, false, &done)); /* nothing pending any more */
  assert_false(done);
  free(lock);
}

static void test_erase_errors(void **state) {
  pair *p = *state;
  carnet_replica *r = p->r[0];
  carnet_id cu = add_customer(r, "Err", "err@exemple.fr"), none;
  memset(none.b, 7, 16);
  assert_int_equal(carnet_record_erase(r, &none, "", NULL, NULL), CARNET_ENOTFOUND);
  assert_int_equal(carnet_record_erase(r, &cu, "two\nlines", NULL, NULL), CARNET_EINVAL);
  OK(r, carnet_record_erase(r, &cu, "ok", NULL, NULL));
  assert_int_equal(carnet_record_erase(r, &cu, "ok", NULL, NULL), CARNET_EEXIST);
  carnet_txn *t;
  OK(r, carnet_txn_begin(r, &t));
  assert_int_equal(carnet_record_erase(r, &cu, "", NULL, NULL), CARNET_EMISUSE);
  assert_int_equal(carnet_replica_compact(r, true, NULL), CARNET_EMISUSE);
  carnet_txn_abort(t);
  /* A contact cannot be attached to an erased customer. */
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&cu, hex);
  carnet_patch *pa = carnet_patch_new(CARNET_KIND_CONTACT);
  OK(r, carnet_patch_set(pa, CARNET_F_NAME, "x"));
  OK(r, carnet_patch_set(pa, CARNET_F_CUSTOMER, hex));
  assert_int_equal(carnet_record_create_commit(r, pa, NULL), CARNET_ENOTFOUND);
  carnet_patch_free(pa);
}

/* A failed commit (fail the Nth for N = 1, 2, ...) leaves nothing: the
 * customer is there, not erased, no certificate; then it goes through. */
static void test_erase_commit_failures(void **state) {
  pair *p = *state;
  carnet_replica *r = p->r[0];
  carnet_id cu = add_customer(r, "Fault Sweep", "fault@exemple.fr");
  carnet_erasure e;
  carnet_record *rec = NULL;
  int rc = CARNET_EIO;
  for (unsigned n = 1; rc != 0 && n < 8; n++) {
    carnet__store_fail_commit_after(r->store, n);
    rc = carnet_record_erase(r, &cu, "sweep", NULL, NULL);
    carnet__store_fail_commit_after(r->store, 0);
    if (rc == 0) break;
    assert_int_equal(rc, CARNET_EIO);
    assert_false(erased(r, &cu));
    assert_int_equal(carnet_erasure_get(r, &cu, &e), CARNET_ENOTFOUND);
    OK(r, carnet_record_get(r, &cu, &rec));
    carnet_record_free(rec);
  }
  assert_int_equal(rc, 0);
  assert_true(erased(r, &cu));
}

/* A peer's certificate that names a contact, or bytes that do not decode,
 * are refused and change nothing. */
static void test_bad_certificates_refused(void **state) {
  pair *p = *state;
  carnet_replica *r = p->r[0];
  carnet_id cu = add_customer(r, "Owner", "owner@exemple.fr"), contact;
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&cu, hex);
  carnet_patch *pa = carnet_patch_new(CARNET_KIND_CONTACT);
  OK(r, carnet_patch_set(pa, CARNET_F_NAME, "Assistant"));
  OK(r, carnet_patch_set(pa, CARNET_F_CUSTOMER, hex));
  OK(r, carnet_record_create_commit(r, pa, &contact));
  carnet_patch_free(pa);
  carnet_erasure c = {.id = contact, .at = 1u << 20, .origin = 42};
  msgpack_sbuffer sb, reply;
  msgpack_sbuffer_init(&sb);
  msgpack_sbuffer_init(&reply);
  OK(r, carnet__cert_encode(&c, &sb));
  assert_int_equal(carnet__cert_receive(r, 0, sb.data, sb.size, &reply), CARNET_EPROTO);
  assert_false(erased(r, &contact));
  assert_int_equal(carnet__cert_receive(r, 0, sb.data, sb.size - 1, &reply), CARNET_EPROTO);
  assert_int_equal(reply.size, 0);
  msgpack_sbuffer_destroy(&sb);
  msgpack_sbuffer_destroy(&reply);
}

/* --- the person as shown -------------------------------------------------------- */

static void merge(carnet_replica *r, const carnet_id *keep, const carnet_id *other) {
  carnet_txn *t;
  OK(r, carnet_txn_begin(r, &t));
  OK(r, carnet_merge_apply(t, keep, other));
  OK(r, carnet_txn_commit(t));
}

static void assert_erased_everywhere(pair *p, const carnet_id *id, uint64_t origin, carnet_hlc at) {
  for (int i = 0; i < 2; i++) {
    carnet_record *rec = NULL;
    carnet_erasure e;
    assert_true(erased(p->r[i], id));
    assert_int_equal(carnet_record_get(p->r[i], id, &rec), CARNET_ENOTFOUND);
    OK(p->r[i], carnet_erasure_get(p->r[i], id, &e));
    assert_int_equal(e.scope, CARNET_ERASE_PERSON);
    assert_int_equal(e.origin, origin); /* the same erasure, wherever it was derived */
    assert_int_equal(e.at, at);
    assert_string_equal(e.reason, "request");
  }
}

/* A merge made on the laptop before it learnt of the office's erasure:
 * Y -> X (an in-edge of X, a cell of Y). The laptop applies the
 * certificate while it holds the edge, and erases Y too; its certificate
 * of Y reaches the office at the next exchange. */
static void test_concurrent_merge_in_edge(void **state) {
  pair *p = *state;
  carnet_replica *laptop = p->r[0], *office = p->r[1];
  carnet_id x = add_customer(office, "Xavier Un", "x@exemple.fr");
  carnet_id y = add_customer(office, "Xavier Un", "x.un@exemple.fr");
  carnet_id k = add_customer(office, "Karine Garde", "k@exemple.fr");
  sync2(p);
  merge(laptop, &x, &y); /* offline */
  carnet_erasure e;
  OK(office, carnet_record_erase(office, &x, "request", &e, NULL));
  assert_false(erased(office, &y)); /* the office never saw the merge */
  sync2(p);
  sync2(p);
  assert_erased_everywhere(p, &x, carnet_replica_id(office), e.at);
  assert_erased_everywhere(p, &y, carnet_replica_id(office), e.at);
  assert_false(erased(office, &k));
  uint8_t d0[32], d1[32];
  OK(laptop, carnet_replica_get_digest(laptop, d0));
  OK(office, carnet_replica_get_digest(office, d1));
  assert_memory_equal(d0, d1, 32);
}

/* The merge edge reaches a replica that has the certificate already (the
 * office), before the merging replica hears of the erasure: the office
 * erases Y as it receives it (carnet__erase_filter), and its e-mail goes
 * to the opposition list. */
static void test_concurrent_merge_arrives_after(void **state) {
  pair *p = *state;
  carnet_replica *laptop = p->r[0], *office = p->r[1];
  carnet_id x = add_customer(office, "Xavier Deux", "x2@exemple.fr");
  carnet_id y = add_customer(office, "Xavier Deux", "x2.bis@exemple.fr");
  sync2(p);
  merge(laptop, &x, &y);
  carnet_patch *pa = carnet_patch_new(CARNET_KIND_CUSTOMER); /* an edit after the merge */
  OK(laptop, carnet_patch_set(pa, CARNET_F_EMAILS, "x2.late@exemple.fr"));
  OK(laptop, carnet_record_update_commit(laptop, &y, pa));
  carnet_patch_free(pa);
  carnet_erasure e;
  OK(office, carnet_record_erase(office, &x, "request", &e, NULL));
  stream(laptop, office); /* the edge, without the certificate going back */
  assert_true(erased(office, &y));
  expect_opposed(office, CARNET_LOOKUP_EMAIL, "x2.late@exemple.fr", true, &y);
  sync2(p);
  assert_erased_everywhere(p, &x, carnet_replica_id(office), e.at);
  assert_erased_everywhere(p, &y, carnet_replica_id(office), e.at);
}

/* X -> Y made on the laptop (an out-edge of X, a cell of X that the office
 * drops): the laptop holds it when the certificate arrives, and erases Y. */
static void test_concurrent_merge_out_edge(void **state) {
  pair *p = *state;
  carnet_replica *laptop = p->r[0], *office = p->r[1];
  carnet_id x = add_customer(office, "Xavier Trois", "x3@exemple.fr");
  carnet_id y = add_customer(office, "Xavier Trois", "x3.bis@exemple.fr");
  sync2(p);
  merge(laptop, &y, &x);
  carnet_erasure e;
  OK(office, carnet_record_erase(office, &x, "request", &e, NULL));
  sync2(p);
  sync2(p);
  assert_erased_everywhere(p, &x, carnet_replica_id(office), e.at);
  assert_erased_everywhere(p, &y, carnet_replica_id(office), e.at);
}

/* Scope RECORD (carnet_record_erase_one, and every certificate of
 * version 1): a merged member stays, then and later. Two
 * erasures of one customer, one of them of the person: the person goes. */
static void test_record_scope_and_widening(void **state) {
  pair *p = *state;
  carnet_replica *laptop = p->r[0], *office = p->r[1];
  carnet_id x = add_customer(office, "Xavier Quatre", "x4@exemple.fr");
  carnet_id y = add_customer(office, "Xavier Quatre", "x4.bis@exemple.fr");
  merge(office, &x, &y);
  sync2(p);
  carnet_erasure e;
  OK(office, carnet_record_erase_one(office, &x, "request", &e, NULL));
  assert_int_equal(e.scope, CARNET_ERASE_RECORD);
  /* Encoded as version 1: what an older build reads. */
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  OK(office, carnet__cert_encode(&e, &sb));
  assert_int_equal(((const uint8_t *)sb.data)[0], 1);
  msgpack_sbuffer_destroy(&sb);
  sync2(p);
  for (int i = 0; i < 2; i++) {
    assert_true(erased(p->r[i], &x));
    assert_false(erased(p->r[i], &y));
  }
  /* A concurrent erasure of X as a person (made on the laptop) widens X's
   * certificate everywhere, and Y, merged with X, goes. */
  carnet_erasure wide = e;
  wide.scope = CARNET_ERASE_PERSON;
  wide.at = e.at + 1; /* later: the office's time, replica and reason stay */
  wide.origin = carnet_replica_id(laptop);
  wide.nconfirmed = 0;
  msgpack_sbuffer_init(&sb);
  msgpack_sbuffer reply;
  msgpack_sbuffer_init(&reply);
  OK(laptop, carnet__cert_encode(&wide, &sb));
  assert_int_equal(((const uint8_t *)sb.data)[0], 2);
  OK(laptop, carnet__cert_receive(laptop, 0, sb.data, sb.size, &reply));
  msgpack_sbuffer_destroy(&sb);
  msgpack_sbuffer_destroy(&reply);
  assert_true(erased(laptop, &y)); /* Y's edge to X is in the laptop's index */
  sync2(p);
  sync2(p);
  for (int i = 0; i < 2; i++) {
    carnet_erasure got;
    assert_true(erased(p->r[i], &y));
    OK(p->r[i], carnet_erasure_get(p->r[i], &x, &got));
    assert_int_equal(got.scope, CARNET_ERASE_PERSON);
    assert_int_equal(got.origin, carnet_replica_id(office)); /* the earlier (at, origin) */
  }
}

/* A version 1 certificate (an older peer) decodes as scope RECORD, and a
 * version 2 certificate with another scope than PERSON is refused. */
static void test_certificate_versions(void **state) {
  (void)state;
  static const uint8_t v1[] = {0x01, 0xc4, 0x10, 1,    2,    3,   4,   5,    6,   7,
                               8,    9,    10,   11,   12,   13,  14,  15,   16,  0x01,
                               0xcd, 0x10, 0x00, 0x2a, 0xa2, 'o', 'k', 0x01, 0x2a};
  carnet_erasure e;
  int bad = 0;
  assert_int_equal(carnet__cert_decode(v1, sizeof v1, &e, &bad), 0);
  assert_int_equal(e.scope, CARNET_ERASE_RECORD);
  assert_string_equal(e.reason, "ok");
  uint8_t v2[sizeof v1 + 1];
  memcpy(v2, v1, 24); /* the scope goes after the origin */
  v2[0] = 0x02;
  v2[24] = CARNET_ERASE_PERSON;
  memcpy(v2 + 25, v1 + 24, sizeof v1 - 24);
  assert_int_equal(carnet__cert_decode(v2, sizeof v2, &e, &bad), 0);
  assert_int_equal(e.scope, CARNET_ERASE_PERSON);
  v2[24] = CARNET_ERASE_RECORD;
  assert_int_equal(carnet__cert_decode(v2, sizeof v2, &e, &bad), CARNET_EPROTO);
  v2[0] = 0x03;
  v2[24] = CARNET_ERASE_PERSON;
  assert_int_equal(carnet__cert_decode(v2, sizeof v2, &e, &bad), CARNET_EPROTO);
}

/* --- the reason at rest ------------------------------------------------------------ */

/* Whether the file holds `needle`, read where it has data: while a replica
 * is open with a writable map its data file is as large as the map, a
 * sparse file (engine/store/store.c), whose holes read as zeros. */
static bool file_holds(const char *dir, const char *name, const char *needle) {
  char *path = tdir_join(dir, name);
  int fd = open(path, O_RDONLY);
  free(path);
  assert_true(fd >= 0);
  bool found = false;
  off_t off = 0, data, hole;
  while (!found && (data = lseek(fd, off, SEEK_DATA)) >= 0) {
    assert_true((hole = lseek(fd, data, SEEK_HOLE)) > data);
    size_t n = (size_t)(hole - data);
    char *buf = malloc(n);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, n, data), (ssize_t)n);
    found = memmem(buf, n, needle, strlen(needle)) != NULL;
    free(buf);
    off = hole;
  }
  close(fd);
  return found;
}

#define REASON "demande de Madame Hortense Quidam-Rareté"

/* The reason is sealed like every personal value: not in the data file,
 * even before the compaction (the certificate was never written in clear);
 * read back, it is whole. */
static void test_reason_sealed(void **state) {
  pair *p = *state;
  carnet_replica *r = p->r[0];
  carnet_id cu = add_customer(r, "Sealed Reason", "sealed@exemple.fr");
  char *lock = tdir_join(p->dir[0], "carnet.lock");
  int fd = open(lock, O_RDWR); /* another process: no compaction now */
  struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
  assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
  bool compacted = true;
  OK(r, carnet_record_erase(r, &cu, REASON, NULL, &compacted));
  assert_false(compacted);
  assert_false(file_holds(p->dir[0], "data.mdb", REASON));
  assert_false(file_holds(p->dir[0], "data.mdb", "Quidam"));
  carnet_erasure e;
  OK(r, carnet_erasure_get(r, &cu, &e));
  assert_string_equal(e.reason, REASON);
  close(fd);
  free(lock);
}

/* A replica of schema 3 holds its certificates in clear: opening it seals
 * them (schema 4) and compacts, so the reason is nowhere in the file. */
static void test_schema3_certificates_sealed_on_open(void **state) {
  pair *p = *state;
  carnet_replica *r = p->r[0];
  carnet_id cu = add_customer(r, "Old Cert", "old.cert@exemple.fr");
  carnet_erasure e;
  OK(r, carnet_record_erase(r, &cu, REASON, &e, NULL));
  /* Make it what a schema 3 build wrote: schema 3, the row in clear. */
  carnet_txn *t;
  uint8_t b4[4] = {0, 0, 0, 3};
  OK(r, carnet_txn_begin(r, &t));
  OK(r, carnet__store_put(t->st, CARNET__T_META, "schema", 6, b4, 4, 0));
  OK(r, carnet_txn_commit(t));
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_uint64(&pk, 1);
  OK(r, carnet__cert_encode(&e, &sb));
  OK(r, carnet_txn_begin(r, &t));
  OK(r, carnet__store_put(t->st, CARNET__T_CERTS, cu.b, 16, sb.data, sb.size, 0));
  OK(r, carnet_txn_commit(t));
  msgpack_sbuffer_destroy(&sb);
  carnet_replica_close(r);
  p->r[0] = NULL;
  assert_true(file_holds(p->dir[0], "data.mdb", REASON)); /* as a schema 3 build left it */
  char err[256] = "";
  carnet_env ce;
  tenv_fill(&p->env[0], &ce);
  if (carnet_replica_open(p->dir[0], &ce, &p->r[0], err, sizeof err)) fail_msg("open: %s", err);
  r = p->r[0];
  assert_false(file_holds(p->dir[0], "data.mdb", REASON));
  carnet_erasure again;
  OK(r, carnet_erasure_get(r, &cu, &again));
  assert_true(carnet__cert_equal(&e, &again));
  OK(r, carnet_txn_begin(r, &t));
  carnet_buf v;
  OK(r, carnet__store_get(t->st, CARNET__T_META, "schema", 6, &v));
  assert_int_equal(((const uint8_t *)v.base)[3], CARNET_SCHEMA_VERSION);
  carnet_txn_abort(t);
}

/* --- a compaction that fails ------------------------------------------------------ */

/* The copy fails for space (the store's test hook, as on a full disk):
 * the erasure stands, the replica says why it is not compacted (not that
 * another process has it open), lists the erasure as awaiting compaction,
 * and a later attempt compacts once there is room: the next open, or the
 * handle's own retry after its wait. */
static void test_compaction_fails_for_space(void **state) {
  pair *p = *state;
  carnet_replica *r = p->r[0];
  carnet_id cu = add_customer(r, "Full Disk", "full.disk@exemple.fr");
  carnet__store_fail_compact(r->store, CARNET_ENOSPC);
  bool compacted = true;
  OK(r, carnet_record_erase(r, &cu, "request", NULL, &compacted));
  assert_false(compacted);
  assert_true(erased(r, &cu));
  carnet_compaction c;
  carnet_id ids[4];
  size_t n = 0;
  OK(r, carnet_replica_get_compaction(r, &c, ids, 4, &n));
  assert_true(c.pending);
  assert_int_equal(c.erasures, 1);
  assert_int_equal(n, 1);
  assert_memory_equal(ids[0].b, cu.b, 16);
  assert_int_equal(c.last_error, CARNET_ENOSPC);
  assert_non_null(strstr(c.last_why, "No space left on device"));
  assert_null(strstr(c.last_why, "another process"));
  bool done = true;
  /* Within its wait, the handle does not copy again (a node looks every
   * second); forced, it does, and fails the same way. */
  OK(r, carnet_replica_compact(r, false, &done));
  assert_false(done);
  assert_int_equal(carnet_replica_compact(r, true, &done), CARNET_ENOSPC);
  assert_non_null(strstr(carnet_replica_errmsg(r), "no space left"));
  /* Room again: after its wait, the next attempt compacts. */
  carnet__store_fail_compact(r->store, 0);
  tenv_advance_ms(&p->env[0], 10000);
  OK(r, carnet_replica_compact(r, false, &done));
  assert_true(done);
  OK(r, carnet_replica_get_compaction(r, &c, ids, 4, &n));
  assert_false(c.pending);
  assert_int_equal(n, 0);

  /* Retried by the next open: a close without room leaves it pending. */
  carnet_id cu2 = add_customer(r, "Full Again", "full.again@exemple.fr");
  carnet__store_fail_compact(r->store, CARNET_ENOSPC);
  OK(r, carnet_record_erase(r, &cu2, "request", NULL, &compacted));
  assert_false(compacted);
  carnet_replica_close(r); /* its own try at close fails too */
  p->r[0] = NULL;
  char err[256] = "";
  carnet_env ce;
  tenv_fill(&p->env[0], &ce);
  if (carnet_replica_open(p->dir[0], &ce, &p->r[0], err, sizeof err)) fail_msg("open: %s", err);
  OK(p->r[0], carnet_replica_get_compaction(p->r[0], &c, NULL, 0, NULL));
  assert_false(c.pending);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_late_edit_dropped_and_invoice_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deleted_then_erased_is_opposed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_erased_leaves_no_signature, setup, teardown),
      cmocka_unit_test_setup_teardown(test_opposition_before_schema3_still_matches, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_compaction_waits_for_other_processes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_erase_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_erase_commit_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_certificates_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_merge_in_edge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_merge_arrives_after, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_merge_out_edge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_record_scope_and_widening, setup, teardown),
      cmocka_unit_test_setup_teardown(test_certificate_versions, NULL, NULL),
      cmocka_unit_test_setup_teardown(test_reason_sealed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_schema3_certificates_sealed_on_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compaction_fails_for_space, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
