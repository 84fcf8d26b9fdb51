/* tests/engine/test_feed.c - the change feed (carnet/feed.h, engine/store/feed.c):
 * an event after every commit that changed entities, with their ids, kinds
 * and what happened to them (create, update, delete, erase, merge), in one
 * transaction or in several; nothing from an aborted or failed transaction;
 * unsubscribe, also from inside a callback; what a callback may not do; the
 * bound (CARNET_FEED_CHANGES_MAX); changes applied from a peer (a batch, an
 * erasure certificate) with the peer's id; and changes committed by another
 * process (the real `carnet` binary, $CARNET_BIN) found by
 * carnet_replica_poll and by the next local commit (F2), each delivered
 * once.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/carnet.h"
#include "engine/erase/erase.h"
#include "engine/model/cert.h"
#include "engine/store/replica_int.h"
#include "support/proc.h"
#include "support/replicas.h"

/* --- a recorder of events ---------------------------------------------------- */

#define REC_EVENTS 16

typedef struct rec_event {
  carnet_change_source source;
  uint64_t peer;
  bool overflow;
  size_t n;
  carnet_change *changes; /* copied */
  uint64_t seq;
} rec_event;

typedef struct rec {
  rec_event ev[REC_EVENTS];
  int n;
  carnet_replica *r; /* for the callbacks that try things */
  int txn_rc;        /* what carnet_txn_begin answered inside the callback */
  int poll_rc;
  bool read_ok;              /* the callback could read the changed record */
  carnet_subscription *self; /* unsubscribed from inside its first call when set */
  bool odd;                  /* a callback saw something wrong */
} rec;

/* Records; asserts nothing: a cmocka failure longjmps, which must not
 * happen inside carnet_txn_commit. `odd` is asserted after. */
static void on_change(void *data, const carnet_change_event *ev) {
  rec *rc = data;
  if (rc->n == REC_EVENTS) {
    rc->odd = true;
    return;
  }
  rec_event *e = &rc->ev[rc->n++];
  e->source = ev->source;
  e->peer = ev->peer;
  e->overflow = ev->overflow;
  e->n = ev->n;
  e->seq = ev->seq;
  e->changes = calloc(ev->n ? ev->n : 1, sizeof *e->changes);
  if (e->changes == NULL) {
    rc->odd = true;
    e->n = 0;
    return;
  }
  memcpy(e->changes, ev->changes, ev->n * sizeof *ev->changes);
  for (size_t i = 1; i < ev->n; i++) /* in id order, each id once */
    if (memcmp(ev->changes[i - 1].id.b, ev->changes[i].id.b, 16) >= 0) rc->odd = true;
}

static void rec_clear(rec *rc) {
  for (int i = 0; i < rc->n; i++)
    free(rc->ev[i].changes);
  rc->n = 0;
}

static const carnet_change *find(const rec_event *e, const carnet_id *id) {
  for (size_t i = 0; i < e->n; i++)
    if (memcmp(e->changes[i].id.b, id->b, 16) == 0) return &e->changes[i];
  return NULL;
}

static void expect_one(const rec *rc, int i, carnet_change_source src, const carnet_id *id,
                       carnet_kind kind, carnet_change_op op) {
  assert_true(i < rc->n);
  const rec_event *e = &rc->ev[i];
  assert_int_equal(e->source, src);
  assert_false(e->overflow);
  const carnet_change *c = find(e, id);
  assert_non_null(c);
  assert_int_equal(c->kind, kind);
  assert_int_equal(c->op, op);
}

/* --- fixture ------------------------------------------------------------------- */

typedef struct fx {
  rfx *f;
  rec rc;
} fx;

static int setup(void **state) {
  fx *x = calloc(1, sizeof *x);
  assert_non_null(x);
  x->f = rfx_new("feed", 2, TENV_EPOCH_MS, 900);
  *state = x;
  return 0;
}

static int teardown(void **state) {
  fx *x = *state;
  assert_false(x->rc.odd);
  rec_clear(&x->rc);
  rfx_free(x->f);
  free(x);
  return 0;
}

static carnet_id customer(carnet_replica *r, const char *name, const char *email) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  assert_non_null(p);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  if (email) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_EMAILS, email));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

static carnet_id contact_of(carnet_replica *r, const carnet_id *cu, const char *name) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CONTACT);
  carnet_id id;
  assert_non_null(p);
  carnet_id_format(cu, hex);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

static void set_city(carnet_replica *r, const carnet_id *id, const char *city) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_non_null(p);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CITY, city));
  ASSERT_OK(r, carnet_record_update_commit(r, id, p));
  carnet_patch_free(p);
}

/* --- local commits ------------------------------------------------------------- */

static void test_create_update_delete(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_subscription *sub;
  ASSERT_OK(r, carnet_replica_subscribe(r, on_change, &x->rc, &sub));
  carnet_id cu = customer(r, "Dupont SARL", NULL);
  assert_int_equal(x->rc.n, 1);
  expect_one(&x->rc, 0, CARNET_SOURCE_LOCAL, &cu, CARNET_KIND_CUSTOMER, CARNET_CHANGE_CREATED);
  assert_int_equal(x->rc.ev[0].n, 1);
  assert_int_equal(x->rc.ev[0].peer, 0);
  uint64_t seq;
  ASSERT_OK(r, carnet_replica_get_seq(r, &seq));
  assert_int_equal(x->rc.ev[0].seq, seq);

  set_city(r, &cu, "Lyon");
  assert_int_equal(x->rc.n, 2);
  expect_one(&x->rc, 1, CARNET_SOURCE_LOCAL, &cu, CARNET_KIND_CUSTOMER, CARNET_CHANGE_UPDATED);

  carnet_id co = contact_of(r, &cu, "Assistant");
  assert_int_equal(x->rc.n, 3);
  expect_one(&x->rc, 2, CARNET_SOURCE_LOCAL, &co, CARNET_KIND_CONTACT, CARNET_CHANGE_CREATED);

  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(r, carnet_patch_delete(p));
  ASSERT_OK(r, carnet_record_update_commit(r, &cu, p));
  carnet_patch_free(p);
  assert_int_equal(x->rc.n, 4);
  expect_one(&x->rc, 3, CARNET_SOURCE_LOCAL, &cu, CARNET_KIND_CUSTOMER, CARNET_CHANGE_DELETED);

  /* A commit that changes no entity raises nothing. */
  ASSERT_OK(r, carnet_replica_set_role(r, CARNET_ROLE_MEMBER));
  assert_int_equal(x->rc.n, 4);
  ASSERT_OK(r, carnet_replica_unsubscribe(r, sub));
}

/* Several writes in one transaction: one event, each id once, a created
 * entity updated after still reported created. */
static void test_one_transaction(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_subscription *sub;
  carnet_id old = customer(r, "Martin", NULL);
  ASSERT_OK(r, carnet_replica_subscribe(r, on_change, &x->rc, &sub));
  carnet_txn *t;
  carnet_id a, b;
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, "Petit"));
  ASSERT_OK(r, carnet_record_create(t, p, NULL, &a));
  ASSERT_OK(r, carnet_record_create(t, p, NULL, &b));
  carnet_patch_free(p);
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CITY, "Lille"));
  ASSERT_OK(r, carnet_record_update(t, &a, p));
  ASSERT_OK(r, carnet_record_update(t, &old, p));
  carnet_patch_free(p);
  assert_int_equal(x->rc.n, 0); /* nothing before the commit */
  ASSERT_OK(r, carnet_txn_commit(t));
  assert_int_equal(x->rc.n, 1);
  assert_int_equal(x->rc.ev[0].n, 3);
  expect_one(&x->rc, 0, CARNET_SOURCE_LOCAL, &a, CARNET_KIND_CUSTOMER, CARNET_CHANGE_CREATED);
  expect_one(&x->rc, 0, CARNET_SOURCE_LOCAL, &b, CARNET_KIND_CUSTOMER, CARNET_CHANGE_CREATED);
  expect_one(&x->rc, 0, CARNET_SOURCE_LOCAL, &old, CARNET_KIND_CUSTOMER, CARNET_CHANGE_UPDATED);
  ASSERT_OK(r, carnet_replica_unsubscribe(r, sub));
}

/* An erasure reports the customer and what went with it. */
static void test_erase(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_subscription *sub;
  carnet_id cu = customer(r, "Erased Person", "erase@exemple.fr");
  carnet_id c1 = contact_of(r, &cu, "Assistant"), c2 = contact_of(r, &cu, "Director");
  carnet_id other = customer(r, "Stays", NULL);
  ASSERT_OK(r, carnet_replica_subscribe(r, on_change, &x->rc, &sub));
  ASSERT_OK(r, carnet_record_erase(r, &cu, "asked by the person", NULL, NULL));
  assert_int_equal(x->rc.n, 1);
  assert_int_equal(x->rc.ev[0].n, 3);
  expect_one(&x->rc, 0, CARNET_SOURCE_LOCAL, &cu, CARNET_KIND_CUSTOMER, CARNET_CHANGE_ERASED);
  expect_one(&x->rc, 0, CARNET_SOURCE_LOCAL, &c1, CARNET_KIND_CONTACT, CARNET_CHANGE_ERASED);
  expect_one(&x->rc, 0, CARNET_SOURCE_LOCAL, &c2, CARNET_KIND_CONTACT, CARNET_CHANGE_ERASED);
  assert_null(find(&x->rc.ev[0], &other));
  ASSERT_OK(r, carnet_replica_unsubscribe(r, sub));
}

/* A merge writes the merged-away customer's edge: it is the one reported;
 * an unmerge too. */
static void test_merge(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_subscription *sub;
  carnet_id keep = customer(r, "Dupont SARL", "contact@dupont.fr");
  carnet_id other = customer(r, "Dupont", "jean@dupont.fr");
  ASSERT_OK(r, carnet_replica_subscribe(r, on_change, &x->rc, &sub));
  ASSERT_OK(r, TX(r, carnet_merge_apply(t, &keep, &other)));
  assert_int_equal(x->rc.n, 1);
  expect_one(&x->rc, 0, CARNET_SOURCE_LOCAL, &other, CARNET_KIND_CUSTOMER, CARNET_CHANGE_UPDATED);
  ASSERT_OK(r, TX(r, carnet_merge_undo(t, &other, NULL)));
  assert_int_equal(x->rc.n, 2);
  expect_one(&x->rc, 1, CARNET_SOURCE_LOCAL, &other, CARNET_KIND_CUSTOMER, CARNET_CHANGE_UPDATED);
  ASSERT_OK(r, carnet_replica_unsubscribe(r, sub));
}

/* Aborted, failed (sticky) and failed-at-commit transactions raise nothing;
 * the next commit raises only its own changes. */
static void test_failed_transactions(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_subscription *sub;
  carnet_txn *t;
  ASSERT_OK(r, carnet_replica_subscribe(r, on_change, &x->rc, &sub));
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, "Aborted"));
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  ASSERT_OK(r, carnet_record_create(t, p, NULL, NULL));
  carnet_txn_abort(t);
  assert_int_equal(x->rc.n, 0);

  /* A write that fails leaves the transaction failed: its commit fails. */
  carnet_patch *bad = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(r, carnet_patch_set(bad, CARNET_F_NAME, "Bad"));
  ASSERT_OK(r, carnet_patch_set(bad, CARNET_F_EMAILS, "jean@"));
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  ASSERT_OK(r, carnet_record_create(t, p, NULL, NULL));
  assert_int_equal(carnet_record_create(t, bad, NULL, NULL), CARNET_EINVAL);
  assert_int_not_equal(carnet_txn_commit(t), 0);
  assert_int_equal(x->rc.n, 0);
  carnet_patch_free(bad);

  /* The store's commit fails. */
  carnet__store_fail_commit_after(r->store, 1);
  assert_int_equal(carnet_record_create_commit(r, p, NULL), CARNET_EIO);
  carnet__store_fail_commit_after(r->store, 0);
  assert_int_equal(x->rc.n, 0);

  carnet_id ok;
  ASSERT_OK(r, carnet_record_create_commit(r, p, &ok));
  carnet_patch_free(p);
  assert_int_equal(x->rc.n, 1);
  assert_int_equal(x->rc.ev[0].n, 1);
  expect_one(&x->rc, 0, CARNET_SOURCE_LOCAL, &ok, CARNET_KIND_CUSTOMER, CARNET_CHANGE_CREATED);
  ASSERT_OK(r, carnet_replica_unsubscribe(r, sub));
}

static void test_unsubscribe(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_subscription *s1, *s2;
  rec r2 = {0};
  ASSERT_OK(r, carnet_replica_subscribe(r, on_change, &x->rc, &s1));
  ASSERT_OK(r, carnet_replica_subscribe(r, on_change, &r2, &s2));
  customer(r, "Both see it", NULL);
  assert_int_equal(x->rc.n, 1);
  assert_int_equal(r2.n, 1);
  ASSERT_OK(r, carnet_replica_unsubscribe(r, s1));
  customer(r, "Only the second", NULL);
  assert_int_equal(x->rc.n, 1);
  assert_int_equal(r2.n, 2);
  assert_int_equal(carnet_replica_unsubscribe(r, s1), CARNET_ENOTFOUND);
  ASSERT_OK(r, carnet_replica_unsubscribe(r, s2));
  ASSERT_OK(r, carnet_replica_unsubscribe(r, NULL));
  customer(r, "Nobody", NULL);
  assert_int_equal(r2.n, 2);
  rec_clear(&r2);

  /* Misuse. */
  assert_int_equal(carnet_replica_subscribe(r, NULL, NULL, &s1), CARNET_EMISUSE);
  assert_null(s1);
  carnet_txn *t;
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  assert_int_equal(carnet_replica_subscribe(r, on_change, &x->rc, &s1), CARNET_EMISUSE);
  assert_int_equal(carnet_replica_poll(r), CARNET_EMISUSE);
  carnet_txn_abort(t);
}

/* What a callback may do: read; unsubscribe itself (not called again) and
 * others; not write, nor poll. */
static void on_change_tries(void *data, const carnet_change_event *ev) {
  rec *rc = data;
  carnet_txn *t = NULL;
  carnet_record *record = NULL;
  rc->txn_rc = carnet_txn_begin(rc->r, &t);
  if (t) carnet_txn_abort(t);
  rc->poll_rc = carnet_replica_poll(rc->r);
  rc->read_ok = ev->n == 1 && carnet_record_get(rc->r, &ev->changes[0].id, &record) == 0;
  carnet_record_free(record);
  if (rc->self) {
    if (carnet_replica_unsubscribe(rc->r, rc->self) != 0) rc->odd = true;
    rc->self = NULL;
  }
  on_change(data, ev);
}

static void test_inside_callback(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_subscription *s1, *s2;
  rec r2 = {0};
  x->rc.r = r;
  ASSERT_OK(r, carnet_replica_subscribe(r, on_change_tries, &x->rc, &s1));
  ASSERT_OK(r, carnet_replica_subscribe(r, on_change, &r2, &s2));
  x->rc.self = s1;
  customer(r, "Read from the callback", NULL);
  assert_int_equal(x->rc.txn_rc, CARNET_EMISUSE);
  assert_int_equal(x->rc.poll_rc, CARNET_EMISUSE);
  assert_true(x->rc.read_ok);
  assert_int_equal(x->rc.n, 1);
  assert_int_equal(r2.n, 1); /* the other subscription is still called */
  customer(r, "After the unsubscription", NULL);
  assert_int_equal(x->rc.n, 1);
  assert_int_equal(r2.n, 2);
  /* Writing works again once the call that committed has returned. */
  ASSERT_OK(r, carnet_replica_unsubscribe(r, s2));
  rec_clear(&r2);
}

/* F3: past CARNET_FEED_CHANGES_MAX entities one event says overflow; the
 * next commit is reported normally. */
static void test_overflow(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  carnet_subscription *sub;
  carnet_txn *t;
  ASSERT_OK(r, carnet_replica_subscribe(r, on_change, &x->rc, &sub));
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, "Bulk"));
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  for (unsigned i = 0; i < CARNET_FEED_CHANGES_MAX + 10; i++)
    ASSERT_OK(r, carnet_record_create(t, p, NULL, NULL));
  ASSERT_OK(r, carnet_txn_commit(t));
  assert_int_equal(x->rc.n, 1);
  assert_true(x->rc.ev[0].overflow);
  assert_true(x->rc.ev[0].n <= CARNET_FEED_CHANGES_MAX);
  carnet_id one;
  ASSERT_OK(r, carnet_record_create_commit(r, p, &one));
  carnet_patch_free(p);
  assert_int_equal(x->rc.n, 2);
  assert_false(x->rc.ev[1].overflow);
  expect_one(&x->rc, 1, CARNET_SOURCE_LOCAL, &one, CARNET_KIND_CUSTOMER, CARNET_CHANGE_CREATED);
  ASSERT_OK(r, carnet_replica_unsubscribe(r, sub));
}

/* --- from a peer ------------------------------------------------------------------ */

typedef struct cert_ctx {
  carnet_replica *to;
  uint64_t from;
} cert_ctx;

static int give_cert(const void *bytes, size_t len, void *data) {
  cert_ctx *c = data;
  msgpack_sbuffer reply;
  msgpack_sbuffer_init(&reply);
  int rc = carnet__cert_receive(c->to, c->from, bytes, len, &reply);
  msgpack_sbuffer_destroy(&reply);
  return rc;
}

static void test_from_peer(void **state) {
  fx *x = *state;
  carnet_replica *a = x->f->r[0], *b = x->f->r[1];
  carnet_subscription *sub;
  carnet_id cu = customer(a, "From A", "from@a.fr");
  carnet_id co = contact_of(a, &cu, "Assistant");
  ASSERT_OK(b, carnet_replica_subscribe(b, on_change, &x->rc, &sub));
  rfx_sync(a, b, 0);
  assert_int_equal(x->rc.n, 1);
  assert_int_equal(x->rc.ev[0].peer, carnet_replica_id(a));
  expect_one(&x->rc, 0, CARNET_SOURCE_PEER, &cu, CARNET_KIND_CUSTOMER, CARNET_CHANGE_CREATED);
  expect_one(&x->rc, 0, CARNET_SOURCE_PEER, &co, CARNET_KIND_CONTACT, CARNET_CHANGE_CREATED);

  /* The erasure reaches B as a certificate. */
  ASSERT_OK(a, carnet_record_erase(a, &cu, "asked", NULL, NULL));
  uint64_t upto;
  cert_ctx cc = {b, carnet_replica_id(a)};
  ASSERT_OK(a, carnet__certs_since(a, 0, &upto, give_cert, &cc));
  assert_int_equal(x->rc.n, 2);
  assert_int_equal(x->rc.ev[1].peer, carnet_replica_id(a));
  expect_one(&x->rc, 1, CARNET_SOURCE_PEER, &cu, CARNET_KIND_CUSTOMER, CARNET_CHANGE_ERASED);
  expect_one(&x->rc, 1, CARNET_SOURCE_PEER, &co, CARNET_KIND_CONTACT, CARNET_CHANGE_ERASED);
  /* The same certificate again changes nothing here: no event. */
  ASSERT_OK(a, carnet__certs_since(a, 0, &upto, give_cert, &cc));
  assert_int_equal(x->rc.n, 2);
  ASSERT_OK(b, carnet_replica_unsubscribe(b, sub));
}

/* --- another process ------------------------------------------------------------- */

/* `carnet --dir DIR ARGS...`, which must succeed; returns its first line. */
static char *carnet_cli(const char *dir, const char *const *args) {
  const char *bin = getenv("CARNET_BIN");
  const char *argv[16];
  int n = 0;
  proc_result res;
  assert_non_null(bin);
  argv[n++] = bin;
  argv[n++] = "--dir";
  argv[n++] = dir;
  for (int i = 0; args[i]; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  assert_int_equal(proc_run(argv, NULL, &res), 0);
  if (res.status != 0) fail_msg("carnet %s: exit %d: %s", args[0], res.status, res.err);
  char *line = strdup(res.out);
  assert_non_null(line);
  line[strcspn(line, "\n")] = '\0';
  proc_result_free(&res);
  return line;
}

#define CLI(dir, ...) carnet_cli((dir), (const char *const[]){__VA_ARGS__, NULL})

/* F2: what another process commits is delivered once, as external, by a
 * poll or by the next local commit (first, before the commit's own). */
static void test_other_process(void **state) {
  fx *x = *state;
  carnet_replica *r = x->f->r[0];
  const char *dir = x->f->dir[0];
  carnet_subscription *sub;
  carnet_id mine = customer(r, "Mine", NULL);
  ASSERT_OK(r, carnet_replica_subscribe(r, on_change, &x->rc, &sub));
  ASSERT_OK(r, carnet_replica_poll(r));
  assert_int_equal(x->rc.n, 0); /* what was there before the subscription is not news */

  /* `customer add` prints the new customer's reference. */
  char *ref = CLI(dir, "customer", "add", "--name", "Added by the CLI");
  carnet_id ext;
  ASSERT_OK(r, carnet_record_resolve(r, CARNET_KIND_CUSTOMER, ref, &ext));
  free(ref);
  ASSERT_OK(r, carnet_replica_poll(r));
  assert_int_equal(x->rc.n, 1);
  assert_int_equal(x->rc.ev[0].n, 1);
  expect_one(&x->rc, 0, CARNET_SOURCE_EXTERNAL, &ext, CARNET_KIND_CUSTOMER, CARNET_CHANGE_UPDATED);
  ASSERT_OK(r, carnet_replica_poll(r));
  assert_int_equal(x->rc.n, 1); /* once */

  /* The next local commit first delivers what the CLI did meanwhile. */
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&mine, hex);
  free(CLI(dir, "customer", "edit", hex, "--city", "Nantes"));
  carnet_id local = customer(r, "Local", NULL);
  assert_int_equal(x->rc.n, 3);
  assert_int_equal(x->rc.ev[1].n, 1);
  expect_one(&x->rc, 1, CARNET_SOURCE_EXTERNAL, &mine, CARNET_KIND_CUSTOMER, CARNET_CHANGE_UPDATED);
  assert_int_equal(x->rc.ev[2].n, 1);
  expect_one(&x->rc, 2, CARNET_SOURCE_LOCAL, &local, CARNET_KIND_CUSTOMER, CARNET_CHANGE_CREATED);
  ASSERT_OK(r, carnet_replica_poll(r));
  assert_int_equal(x->rc.n, 3);

  /* An erasure by the CLI: the customer, and its contact (whose kind is
   * gone with its row). */
  carnet_id co = contact_of(r, &ext, "Assistant");
  assert_int_equal(x->rc.n, 4);
  carnet_id_format(&ext, hex);
  free(CLI(dir, "erase", hex, "--reason", "asked by the person"));
  ASSERT_OK(r, carnet_replica_poll(r));
  assert_int_equal(x->rc.n, 5);
  expect_one(&x->rc, 4, CARNET_SOURCE_EXTERNAL, &ext, CARNET_KIND_CUSTOMER, CARNET_CHANGE_ERASED);
  expect_one(&x->rc, 4, CARNET_SOURCE_EXTERNAL, &co, 0, CARNET_CHANGE_ERASED);
  ASSERT_OK(r, carnet_replica_unsubscribe(r, sub));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_update_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_one_transaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_erase, setup, teardown),
      cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_transactions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unsubscribe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_inside_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_from_peer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_process, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
