/* tests/cli/test_repair.c - `carnet check --repair` and `carnet salvage`
 * (carnet/verify.h), with the real binary.
 *
 * The damage is made through the store's internal API from this test (a
 * test hook of its own: the shipped binary has no way to write an index
 * entry): an empty index value turned into a 4 KB blob, an index key gone,
 * a key no row derives, a change entry gone. `carnet check` reports each
 * and exits 1; `carnet check --repair` rebuilds them and exits 0; `carnet
 * check` then finds the replica sound, and what the index serves works.
 *
 * Salvage: a replica with one leaf page in five of its data file
 * scrambled (check cannot get through it) is salvaged into a new replica,
 * which holds every record not on those pages, is sound, keeps the erasure
 * (the person stays erased) and the identity the team trusts, and gets
 * every lost record back from a peer at its first sync; every record not
 * copied is named with its id.
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
#include <sys/stat.h>

#include "carnet/carnet.h"
#include "engine/store/entity_io.h"
#include "engine/store/replica_int.h"
#include "engine/store/store.h"
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
      assert_int_equal(
          carnet__store_put(t->st, CARNET__T_INDEX, k->base, k->len, blob, sizeof blob, 0), 0);
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
  char *a = added_id(OK(R, "customer", "add", "--name", "Irene Index", "--email", "irene@index.fr",
                        "--phone", "06 12 12 12 12", "--json"));
  char *b = added_id(
      OK(R, "customer", "add", "--name", "Irene Index", "--email", "i.index@travail.fr", "--json"));
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

/* Scramble one leaf page of the records in `every` of the data file in
 * `dir` (their header: bounds and node offsets). A leaf of the records is
 * told by its nodes: 16-byte keys (ids) and sealed rows of a hundred bytes
 * or more; other tables' leaves stay whole, so that the test knows what
 * must come through. */
static unsigned damage_leaves(const char *dir, unsigned every) {
  char path[1200];
  snprintf(path, sizeof path, "%s/data.mdb", dir);
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  uint8_t *buf = malloc((size_t)n);
  fseek(f, 0, SEEK_SET);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  unsigned leaves = 0, hit = 0;
  for (long pg = 2; (pg + 1) * 4096 <= n; pg++) {
    const uint8_t *p = buf + pg * 4096;
    uint16_t flags, lower, off, ksize, lo;
    memcpy(&flags, p + 10, 2);
    memcpy(&lower, p + 12, 2);
    if (flags != 0x02 || lower < 16 + 2 * 4 || lower > 4096) continue;
    memcpy(&off, p + 16, 2);
    if (off + 8 > 4096) continue;
    memcpy(&lo, p + off, 2);
    memcpy(&ksize, p + off + 6, 2);
    if (ksize != 16 || lo < 100) continue; /* not a leaf of the records */
    if (leaves++ % every != every - 1) continue;
    memset(buf + pg * 4096 + 12, 0xee, 40);
    hit++;
  }
  fseek(f, 0, SEEK_SET);
  assert_int_equal(fwrite(buf, 1, (size_t)n, f), (size_t)n);
  assert_int_equal(fclose(f), 0);
  free(buf);
  return hit;
}

static void test_salvage(void **state) {
  (void)state;
  const char *A = path("A"), *P = path("P"), *S = path("S");
  char csv[1100];
  snprintf(csv, sizeof csv, "%s/in.csv", F->root);
  FILE *f = fopen(csv, "w");
  fprintf(f, "Nom;E-mail;Ville;Notes\n");
  for (int i = 0; i < 1500; i++)
    fprintf(f, "Client %04d;client%04d@exemple.fr;Lyon;rendez-vous %d, a rappeler en juin\n", i, i,
            i);
  fclose(f);
  init(A);
  init(P);
  trust_pair(A, P);
  OK1(A, "import", csv);
  json_t *list = OKJ(A, "customer", "list");
  char gone[CARNET_ID_HEX_LEN + 1], k1[CARNET_ID_HEX_LEN + 1], k2[CARNET_ID_HEX_LEN + 1];
  jstr(json_array_get(list, 3), "id", gone, sizeof gone);
  jstr(json_array_get(list, 10), "id", k1, sizeof k1);
  jstr(json_array_get(list, 11), "id", k2, sizeof k2);
  json_decref(list);
  OK1(A, "merge", k1, k2);
  OK1(A, "erase", gone, "--reason", "request");
  /* P, a peer of the team, has everything. */
  bg *sa = SERVE(A, "A");
  json_decref(sync_json(P, sa->addr));
  stop(sa);
  ident ia = id_of(A);

  unsigned hit = damage_leaves(A, 4);
  printf("# %u leaf pages scrambled\n", hit);
  assert_true(hit > 10);
  proc_result r;
  assert_int_not_equal(RUN(A, &r, "check"), 0);
  proc_result_free(&r);
  char data[1200];
  snprintf(data, sizeof data, "%s/data.mdb", A);
  char *before = slurp(data);
  struct stat sb0;
  assert_int_equal(stat(data, &sb0), 0);

  if (RUN(A, &r, "salvage", "--to", S, "--json") != 0)
    fail_msg("salvage: exit %d: %s", r.status, r.err);
  json_t *rep = parse_json(r.out);
  proc_result_free(&r);
  long long copied = jint(rep, "copied"), lost = jint(rep, "lost");
  printf("# salvaged %lld, lost %lld, %lld damaged pages\n", copied, lost,
         jint(rep, "damaged_pages"));
  assert_true(copied > 900 && copied < 1499);
  assert_int_equal(copied + lost, 1499); /* every record copied or named */
  assert_true(lost > 0);
  assert_int_equal(jint(rep, "certificates"), 1);
  assert_true(json_is_true(json_object_get(rep, "identity_kept")));
  /* Every record not copied is named, with its id. */
  json_t *nc = json_object_get(rep, "not_copied");
  long long named = 0;
  bool pair_whole = true; /* both merged records copied: they show as one customer */
  for (size_t i = 0; i < json_array_size(nc); i++) {
    json_t *id = json_object_get(json_array_get(nc, i), "id");
    named += json_is_string(id);
    if (json_is_string(id) &&
        (strcmp(json_string_value(id), k1) == 0 || strcmp(json_string_value(id), k2) == 0))
      pair_whole = false;
  }
  assert_int_equal(named, lost);
  json_decref(rep);
  /* The old data file was not written. */
  struct stat sb1;
  assert_int_equal(stat(data, &sb1), 0);
  assert_int_equal(sb0.st_size, sb1.st_size);
  char *after = slurp(data);
  assert_memory_equal(before, after, (size_t)sb0.st_size);
  free(before);
  free(after);
  /* The new replica: sound, what was copied, the erasure, the identity. */
  char *out = OK(S, "check");
  assert_non_null(strstr(out, "ok: the replica is sound"));
  free(out);
  json_t *st = OKJ(S, "status");
  /* The damage falls on random leaves: when it took one of the merged pair, the
     other stands alone. */
  assert_int_equal(jint(json_object_get(st, "customers"), "live"), copied - (pair_whole ? 1 : 0));
  json_decref(st);
  assert_int_equal(RUN(S, &r, "customer", "show", gone), 1);
  proc_result_free(&r);
  json_t *er = OKJ(S, "erasures");
  assert_int_equal(json_array_size(er), 1);
  json_decref(er);
  ident is = id_of(S);
  assert_string_equal(is.key, ia.key);
  assert_string_equal(is.team, ia.team);
  /* A sync with the peer brings back what was lost, and not the erased. */
  bg *sp = SERVE(P, "P");
  json_decref(sync_json(S, sp->addr));
  stop(sp);
  st = OKJ(S, "status");
  assert_int_equal(jint(json_object_get(st, "customers"), "live"), 1498);
  json_decref(st);
  assert_int_equal(RUN(S, &r, "customer", "show", gone), 1);
  proc_result_free(&r);
  OK1(S, "check");
  /* Salvaging into a replica: refused. */
  assert_int_equal(RUN(A, &r, "salvage", "--to", S), 1);
  assert_non_null(strstr(r.err, "already"));
  proc_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_check_repair, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_salvage, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
