/* tests/engine/test_erase.c - erasure in the engine (engine/erase.h,
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
#include "engine/cert.h"
#include "engine/entity_io.h"
#include "engine/erase.h"
#include "engine/replica_int.h"
#include "support/testenv.h"

#define OK(r, expr)                                                                                \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    if (rc_ != 0) fail_msg("%s: %s (%s)", #expr, carnet_error_name(rc_), carnet_replica_errmsg(r));  \
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_late_edit_dropped_and_invoice_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deleted_then_erased_is_opposed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_opposition_before_schema3_still_matches, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_compaction_waits_for_other_processes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_erase_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_erase_commit_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_certificates_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
