/* tests/engine/test_replica_name.c - engine/crm/replica_name.c and the replica's
 * phone region (engine/store/replica.c), in process: every error the headers
 * list for carnet_replica_set_name, carnet_replica_name_of and
 * carnet_replica_set_region, the kind refused to the record API, and a
 * phone written with the region in force.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "support/testenv.h"

static void test_names_and_region(void **state) {
  (void)state;
  char *root = tdir_new("rname"), *d = tdir_join(root, "a");
  tenv e;
  carnet_env env;
  carnet_replica *r = NULL;
  char err[256], name[CARNET_REPLICA_NAME_MAX + 1], small[8], region[3];
  tenv_init(&e, TENV_EPOCH_MS, 1);
  tenv_fill(&e, &env);
  assert_int_equal(carnet_replica_init(d, &env, &r, err, sizeof err), 0);
  uint64_t me = carnet_replica_id(r);

  /* Unnamed: ENOTFOUND, empty output; then named, renamed. */
  assert_int_equal(carnet_replica_name_of(r, me, name, sizeof name), CARNET_ENOTFOUND);
  assert_string_equal(name, "");
  assert_int_equal(carnet_replica_set_name(r, "Portable Alice"), 0);
  assert_int_equal(carnet_replica_name_of(r, me, name, sizeof name), 0);
  assert_string_equal(name, "Portable Alice");
  assert_int_equal(carnet_replica_set_name(r, "Bureau Lyon \xc3\xa9t\xc3\xa9"), 0);
  assert_int_equal(carnet_replica_name_of(r, me, name, sizeof name), 0);
  assert_string_equal(name, "Bureau Lyon \xc3\xa9t\xc3\xa9");
  assert_int_equal(carnet_replica_name_of(r, me, small, sizeof small), CARNET_ELIMIT);
  assert_int_equal(carnet_replica_name_of(r, me ^ 1, name, sizeof name), CARNET_ENOTFOUND);

  /* Refused names leave the stored one. */
  char longer[CARNET_REPLICA_NAME_MAX + 2];
  memset(longer, 'x', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  assert_int_equal(carnet_replica_set_name(r, ""), CARNET_EINVAL);
  assert_int_equal(carnet_replica_set_name(r, NULL), CARNET_EINVAL);
  assert_int_equal(carnet_replica_set_name(r, longer), CARNET_EINVAL);
  assert_int_equal(carnet_replica_set_name(r, "tab\there"), CARNET_EINVAL);
  assert_int_equal(carnet_replica_name_of(r, me, name, sizeof name), 0);
  assert_string_equal(name, "Bureau Lyon \xc3\xa9t\xc3\xa9");

  /* Only carnet_replica_set_name writes the kind. */
  carnet_patch *p = carnet_patch_new(CARNET_KIND_REPLICA);
  assert_non_null(p);
  assert_int_equal(carnet_patch_set(p, CARNET_F_NAME, "Usurper"), 0);
  carnet_id id;
  assert_int_equal(carnet_record_create_commit(r, p, &id), CARNET_EINVAL);
  carnet_patch_free(p);

  /* A transaction open on the handle: EMISUSE. */
  carnet_txn *t = NULL;
  assert_int_equal(carnet_txn_begin(r, &t), 0);
  assert_int_equal(carnet_replica_set_name(r, "Later"), CARNET_EMISUSE);
  assert_int_equal(carnet_replica_set_region(r, "BE"), CARNET_EMISUSE);
  carnet_txn_abort(t);

  /* The region: FR by default, set in any case, refused when unknown; a
   * national number is read in it. */
  assert_int_equal(carnet_replica_get_region(r, region), 0);
  assert_string_equal(region, "FR");
  assert_int_equal(carnet_replica_set_region(r, "ZZ"), CARNET_EINVAL);
  assert_int_equal(carnet_replica_set_region(r, NULL), CARNET_EINVAL);
  assert_int_equal(carnet_replica_set_region(r, "be"), 0);
  assert_int_equal(carnet_replica_get_region(r, region), 0);
  assert_string_equal(region, "BE");
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_int_equal(carnet_patch_set(p, CARNET_F_NAME, "Brasserie"), 0);
  assert_int_equal(carnet_patch_phone(p, "work", "02 555 12 34 poste 7"), 0);
  assert_int_equal(carnet_record_create_commit(r, p, &id), 0);
  carnet_patch_free(p);
  carnet_record *rec = NULL;
  assert_int_equal(carnet_record_get(r, &id, &rec), 0);
  const char *const *v;
  assert_int_equal(carnet_record_elems(rec, CARNET_F_PHONES, &v), 1);
  assert_string_equal(v[0], "work:+3225551234;ext=7");
  carnet_record_free(rec);

  carnet_replica_close(r);
  tdir_remove(root);
  free(d);
  free(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_names_and_region)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
