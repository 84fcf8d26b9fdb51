/* tests/engine/test_check.c - carnet_record_check (validate a patch without
 * failing the transaction, carnet/record.h) and the replica's role
 * (carnet_replica_get_role/set, carnet/replica.h): every error they list. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdlib.h>
#include <string.h>

#include "carnet/carnet.h"
#include "support/testenv.h"

typedef struct fx {
  char *root, *dir;
  tenv env;
  carnet_env ce;
  carnet_replica *r;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  char err[256];
  f->root = tdir_new("check");
  f->dir = tdir_join(f->root, "replica");
  tenv_init(&f->env, TENV_EPOCH_MS, 7);
  tenv_fill(&f->env, &f->ce);
  if (carnet_replica_init(f->dir, &f->ce, &f->r, err, sizeof err) != 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  carnet_replica_close(f->r);
  tdir_remove(f->root);
  free(f->dir);
  free(f->root);
  free(f);
  return 0;
}

static carnet_patch *customer(const char *name, const char *email) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_non_null(p);
  if (name) assert_int_equal(carnet_patch_set(p, CARNET_F_NAME, name), 0);
  if (email) assert_int_equal(carnet_patch_set(p, CARNET_F_EMAILS, email), 0);
  return p;
}

/* A bad patch fails the check with the create's message, and the
 * transaction goes on: the good ones after it commit. */
static void test_check_keeps_the_transaction(void **state) {
  fx *f = *state;
  carnet_txn *t;
  carnet_id id;
  uint64_t seq0, seq1;
  assert_int_equal(carnet_replica_get_seq(f->r, &seq0), 0);
  assert_int_equal(carnet_txn_begin(f->r, &t), 0);
  carnet_patch *bad = customer("Jean", "jean@"), *noname = customer(NULL, "a@b.fr"),
               *good = customer("Paul", "paul@x.fr");
  assert_int_equal(carnet_record_check(t, bad), CARNET_EINVAL);
  assert_non_null(strstr(carnet_replica_errmsg(f->r), "invalid email 'jean@'"));
  assert_int_equal(carnet_record_check(t, noname), CARNET_EINVAL);
  assert_non_null(strstr(carnet_replica_errmsg(f->r), "needs a name or a company"));
  assert_int_equal(carnet_record_check(t, good), 0);
  assert_int_equal(carnet_record_create(t, good, NULL, &id), 0);
  assert_int_equal(carnet_txn_commit(t), 0);
  assert_int_equal(carnet_replica_get_seq(f->r, &seq1), 0);
  assert_int_equal(seq1, seq0 + 1); /* a check takes no sequence number */
  carnet_record *rec;
  assert_int_equal(carnet_record_get(f->r, &id, &rec), 0);
  assert_string_equal(carnet_record_str(rec, CARNET_F_NAME), "Paul");
  carnet_record_free(rec);
  /* Same patch, same verdict, as a create: which fails its transaction. */
  assert_int_equal(carnet_txn_begin(f->r, &t), 0);
  assert_int_equal(carnet_record_create(t, bad, NULL, NULL), CARNET_EINVAL);
  assert_int_equal(carnet_record_check(t, good), CARNET_EINVAL); /* the sticky error */
  carnet_txn_abort(t);
  carnet_patch_free(bad);
  carnet_patch_free(noname);
  carnet_patch_free(good);
}

/* A contact's customer must exist: CARNET_ENOTFOUND. */
static void test_check_reference(void **state) {
  fx *f = *state;
  carnet_txn *t;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CONTACT);
  assert_int_equal(carnet_patch_set(p, CARNET_F_NAME, "Léa"), 0);
  assert_int_equal(carnet_patch_set(p, CARNET_F_CUSTOMER, "0123456789abcdef0123456789abcdef"), 0);
  assert_int_equal(carnet_txn_begin(f->r, &t), 0);
  assert_int_equal(carnet_record_check(t, p), CARNET_ENOTFOUND);
  assert_int_equal(carnet_record_check(t, NULL), CARNET_EMISUSE);
  carnet_txn_abort(t);
  carnet_patch_free(p);
}

static void test_role(void **state) {
  fx *f = *state;
  carnet_role role = 0;
  assert_int_equal(carnet_replica_get_role(f->r, &role), 0);
  assert_int_equal(role, CARNET_ROLE_ADMIN); /* none stored: admin */
  assert_int_equal(carnet_replica_set_role(f->r, CARNET_ROLE_MEMBER), 0);
  assert_int_equal(carnet_replica_get_role(f->r, &role), 0);
  assert_int_equal(role, CARNET_ROLE_MEMBER);
  assert_int_equal(carnet_replica_set_role(f->r, (carnet_role)9), CARNET_EINVAL);
  carnet_txn *t;
  assert_int_equal(carnet_txn_begin(f->r, &t), 0);
  assert_int_equal(carnet_replica_set_role(f->r, CARNET_ROLE_ADMIN), CARNET_EMISUSE);
  carnet_txn_abort(t);
  assert_string_equal(carnet_role_name(CARNET_ROLE_ADMIN), "admin");
  assert_int_equal(carnet_role_parse("member"), CARNET_ROLE_MEMBER);
  assert_int_equal(carnet_role_parse("root"), 0);
  assert_null(carnet_role_name((carnet_role)0));
  /* It survives a reopen. */
  char err[256];
  carnet_replica_close(f->r);
  assert_int_equal(carnet_replica_open(f->dir, &f->ce, &f->r, err, sizeof err), 0);
  assert_int_equal(carnet_replica_get_role(f->r, &role), 0);
  assert_int_equal(role, CARNET_ROLE_MEMBER);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_check_keeps_the_transaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_check_reference, setup, teardown),
      cmocka_unit_test_setup_teardown(test_role, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
