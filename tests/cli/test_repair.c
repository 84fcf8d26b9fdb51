/* tests/cli/test_repair.c - `carnet check --repair` (issue 19, point 7;
 * carnet/verify.h), with the real binary.
 *
 * The damage is made through the store's internal API from this test (a
 * test hook of its own: the shipped binary has no way to write an index
 * entry): an empty index value turned into a 4 KB blob, an index key gone,
 * a key no row derives, a change entry gone. `carnet check` reports each
 * and exits 1; `carnet check --repair` rebuilds them and exits 0; `carnet
 * check` then finds the replica sound, and what the index serves works.
 */
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
#include "engine/entity_io.h"
#include "engine/replica_int.h"
#include "engine/store.h"
#include "support/cliproc.h"

/* Damage `dir` where customer `hex` is concerned: its phone key's value
 * becomes a 4 KB blob, its e-mail key goes, a key no row derives appears,
 * and its change entry goes. */
static void damage(const char *dir, const char *hex) {
  carnet_replica *r = NULL;
  char err[256] = "";
  carnet_id id;
  assert_int_equal(carnet_id_parse(hex, &id), 0);
  if (carnet_replica_open(dir, NULL, &r, err, sizeof err)) fail_msg("open: %s", err);
  carnet_txn *t = NULL;
  carnet__loaded l;
  assert_int_equal(carnet_txn_begin(r, &t), 0);
  assert_int_equal(carnet__load(t->st, &id, &l), 0);
  static uint8_t blob[4096];
  memset(blob, 0x42, sizeof blob);
  bool phone = false, email = false;
  for (size_t i = 0; i < l.old_keys.n; i++) {
    const carnet_buf *k = &l.old_keys.keys[i];
    uint8_t tag = ((const uint8_t *)k->base)[0];
    if (tag == 'p' && !phone) {
      assert_int_equal(carnet__store_put(t->st, CARNET__T_INDEX, k->base, k->len, blob, sizeof blob, 0), 0);
      phone = true;
    } else if (tag == 'e' && !email) {
      assert_int_equal(carnet__store_del(t->st, CARNET__T_INDEX, k->base, k->len), 0);
      email = true;
    }
  }
  assert_true(phone && email);
  uint8_t extra[33] = {'p'}, seqkey[8];
  memset(extra + 1, 0x3c, 16);
  memcpy(extra + 17, id.b, 16);
  assert_int_equal(carnet__store_put(t->st, CARNET__T_INDEX, extra, sizeof extra, "", 0, 0), 0);
  carnet__be64_put(seqkey, l.e.seq);
  assert_int_equal(carnet__store_del(t->st, CARNET__T_CHANGES, seqkey, 8), 0);
  carnet__loaded_free(&l);
  assert_int_equal(carnet_txn_commit(t), 0);
  carnet_replica_close(r);
}

static void test_check_repair(void **state) {
  (void)state;
  const char *R = path("R");
  init(R);
  char *a = OK(R, "customer", "add", "--name", "Irene Index", "--email", "irene@index.fr", "--phone",
               "06 12 12 12 12");
  char *b = OK(R, "customer", "add", "--name", "Irene Index", "--email", "i.index@travail.fr");
  a[strcspn(a, "\n")] = '\0';
  b[strcspn(b, "\n")] = '\0';
  OK1(R, "merge", a, b);
  for (int i = 0; i < 20; i++) {
    char name[32];
    snprintf(name, sizeof name, "Client %d", i);
    OK1(R, "customer", "add", "--name", name);
  }
  OK1(R, "check");
  damage(R, a);

  proc_result r;
  assert_int_equal(RUN(R, &r, "check"), 1);
  printf("# check: %s%s", r.out, r.err);
  assert_non_null(strstr(r.out, "1 bad change entries, 1 missing index keys, 1 extra index keys, "
                                "1 damaged index values"));
  assert_non_null(strstr(r.err, "carnet check --repair"));
  proc_result_free(&r);
  json_t *j = NULL;
  assert_int_equal(RUN(R, &r, "check", "--json"), 1);
  j = parse_json(r.out);
  proc_result_free(&r);
  assert_int_equal(jint(j, "bad_values"), 1);
  assert_int_equal(jint(j, "extra_keys"), 1);
  assert_int_equal(jint(j, "missing_keys"), 1);
  assert_int_equal(jint(j, "bad_changes"), 1);
  json_decref(j);

  assert_int_equal(RUN(R, &r, "check", "--repair"), 0);
  printf("# check --repair: %s%s", r.out, r.err);
  assert_non_null(strstr(r.out, "repaired: the change index and the index were rebuilt"));
  assert_non_null(strstr(r.out, "ok: the replica is sound"));
  proc_result_free(&r);
  char *out = OK(R, "check");
  assert_non_null(strstr(out, "ok: the replica is sound"));
  free(out);
  /* What the index serves: the e-mail finds the customer, the merge holds. */
  json_t *found = OKJ(R, "customer", "list", "--search", "irene@index.fr");
  assert_int_equal(json_array_size(found), 1);
  json_decref(found);
  json_t *all = OKJ(R, "customer", "list");
  assert_int_equal(json_array_size(all), 21); /* the two merged records are one */
  json_decref(all);
  free(a);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_check_repair, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
