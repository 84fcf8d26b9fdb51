/* tests/engine/test_merge.c - merging duplicate customers (carnet/merge.h):
 * the merged view, unmerge, the decisions on pairs, and convergence of
 * concurrent merges in opposite directions, chains, merges that meet a "not
 * the same" decision, offline edits to a merged-away customer and the
 * documents that follow it. Replicas exchange change batches in-process;
 * tests/sync/test_merge_sync.c does the same with real processes.
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
#include "support/replicas.h"

#define NREP 3

typedef rfx fx;

static int fx_setup(void **state) {
  *state = rfx_new("merge", NREP, TENV_EPOCH_MS, 300);
  return 0;
}

static int fx_teardown(void **state) {
  rfx_free(*state);
  return 0;
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

static carnet_id customer(carnet_replica *r, const char *name, const char *email,
                          const char *phone) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  assert_non_null(p);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  if (email) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_EMAILS, email));
  if (phone) ASSERT_OK(r, carnet_patch_phone(p, "mobile", phone));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

static void set1(carnet_replica *r, const carnet_id *id, carnet_field f, const char *v) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_non_null(p);
  ASSERT_OK(r, carnet_patch_set(p, f, v));
  ASSERT_OK(r, carnet_record_update_commit(r, id, p));
  carnet_patch_free(p);
}

static void sync_to(carnet_replica *from, carnet_replica *to) {
  rfx_sync(from, to, 0);
}

static void sync_all(fx *f) {
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < NREP; i++)
      for (int j = 0; j < NREP; j++)
        if (i != j) sync_to(f->r[i], f->r[j]);
}

/* Everything a person sees of a customer, as one comparable string. */
static char *view(carnet_replica *r, const carnet_id *id) {
  carnet_record *rec = NULL;
  char *out = calloc(1, 4096), hex[CARNET_ID_HEX_LEN + 1];
  assert_non_null(out);
  ASSERT_OK(r, carnet_record_get(r, id, &rec));
  carnet_id_format(carnet_record_id(rec), hex);
  size_t len = (size_t)snprintf(
      out, 4096, "id=%s ref=%s name=%s notes=%s", hex, carnet_record_str(rec, CARNET_F_REFCODE),
      carnet_record_str(rec, CARNET_F_NAME) ? carnet_record_str(rec, CARNET_F_NAME) : "-",
      carnet_record_str(rec, CARNET_F_NOTES) ? carnet_record_str(rec, CARNET_F_NOTES) : "-");
  static const carnet_field sets[] = {CARNET_F_EMAILS, CARNET_F_PHONES, CARNET_F_TAGS};
  for (size_t s = 0; s < 3; s++) {
    const char *const *el;
    size_t n = carnet_record_elems(rec, sets[s], &el);
    for (size_t i = 0; i < n; i++)
      len += (size_t)snprintf(out + len, 4096 - len, " %s", el[i]);
  }
  const carnet_id *m;
  size_t nm = carnet_record_merged(rec, &m);
  for (size_t i = 0; i < nm; i++) {
    carnet_id_format(&m[i], hex);
    len += (size_t)snprintf(out + len, 4096 - len, " merged=%s", hex);
  }
  len += (size_t)snprintf(out + len, 4096 - len, " review=%d email_consent=%d",
                          carnet_record_review(rec),
                          carnet_record_consent(rec, CARNET_CH_EMAIL, NULL));
  carnet_record_free(rec);
  return out;
}

static bool view_has(carnet_replica *r, const carnet_id *id, const char *needle) {
  char *v = view(r, id);
  bool has = strstr(v, needle) != NULL;
  free(v);
  return has;
}

static int count_cb(const carnet_record *rec, void *data) {
  (void)rec;
  (*(int *)data)++;
  return 0;
}

static int count(carnet_replica *r, carnet_kind kind, const carnet_filter *flt) {
  int n = 0;
  ASSERT_OK(r, carnet_record_list(r, kind, flt, count_cb, &n));
  return n;
}

static carnet_id survivor(carnet_replica *r, const carnet_id *id, size_t *n) {
  carnet_id s;
  ASSERT_OK(r, carnet_merge_group(r, id, &s, NULL, 0, n, NULL));
  return s;
}

#define assert_same_digest rfx_assert_same_digest

static const carnet_id *min_id(const carnet_id *a, const carnet_id *b) {
  return memcmp(a->b, b->b, 16) < 0 ? a : b;
}

/* --- one replica --------------------------------------------------------------- */

static void test_merge_view_and_unmerge(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id a = customer(r, "Jean Dupont", "jean@dupont.fr", "0612345678");
  carnet_id b = customer(r, "Jean Dupond", "jd@gmail.com", NULL);
  set1(r, &b, CARNET_F_NOTES, "met at the fair");
  set1(r, &a, CARNET_F_TAGS, "vip");
  assert_int_equal(count(r, CARNET_KIND_CUSTOMER, NULL), 2);

  ASSERT_OK(r, TX(r, carnet_merge_apply(t, &a, &b)));
  size_t n;
  carnet_id s = survivor(r, &b, &n);
  assert_int_equal(n, 2);
  assert_memory_equal(s.b, a.b, 16); /* KEEP survives */
  assert_int_equal(count(r, CARNET_KIND_CUSTOMER, NULL), 1);
  char *va = view(r, &a), *vb = view(r, &b);
  assert_string_equal(va, vb); /* any member reads as the group */
  assert_non_null(strstr(va, "jean@dupont.fr"));
  assert_non_null(strstr(va, "jd@gmail.com"));
  assert_non_null(strstr(va, "met at the fair"));
  assert_non_null(strstr(va, "vip"));
  free(va);
  free(vb);

  /* Refusals: itself, twice, a deleted customer. */
  assert_int_equal(TX(r, carnet_merge_apply(t, &a, &a)), CARNET_EINVAL);
  assert_int_equal(TX(r, carnet_merge_apply(t, &b, &a)), CARNET_EEXIST);
  carnet_id c = customer(r, "Paul Martin", NULL, NULL);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(r, carnet_patch_delete(p));
  ASSERT_OK(r, carnet_record_update_commit(r, &c, p));
  carnet_patch_free(p);
  assert_int_equal(TX(r, carnet_merge_apply(t, &a, &c)), CARNET_ENOTFOUND);

  /* An edit to the merged-away customer shows in the group. */
  set1(r, &b, CARNET_F_CITY, "Lyon");
  assert_true(view_has(r, &a, "id="));
  carnet_record *rec;
  ASSERT_OK(r, carnet_record_get(r, &a, &rec));
  assert_string_equal(carnet_record_str(rec, CARNET_F_CITY), "Lyon");
  carnet_record_free(rec);

  /* Unmerge: each gets its own data back. */
  ASSERT_OK(r, TX(r, carnet_merge_undo(t, &b, NULL)));
  assert_int_equal(count(r, CARNET_KIND_CUSTOMER, NULL), 2);
  assert_false(view_has(r, &a, "jd@gmail.com"));
  assert_true(view_has(r, &b, "jd@gmail.com"));
  assert_true(view_has(r, &b, "met at the fair"));
  assert_false(view_has(r, &b, "vip"));
  assert_int_equal(TX(r, carnet_merge_undo(t, &b, NULL)), CARNET_ENOTFOUND);
}

static void test_decisions_filter_dupes(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id a = customer(r, "Marie Curie", "marie@curie.fr", "0611223344");
  carnet_id b = customer(r, "Marie Curie", "marie@curie.fr", "0611223344");
  carnet_id c = customer(r, "Pierre Curie", NULL, "0611223344");
  carnet_dupe *d = NULL;
  size_t n = 0;
  ASSERT_OK(r, carnet_dupes_find(r, 0.8, &d, &n));
  ASSERT_OK(r, carnet_dupes_filter(r, d, &n));
  assert_true(n >= 1);
  carnet_free(d);

  /* Set aside: off the list, on the review list. */
  ASSERT_OK(r, TX(r, carnet_dupes_set_aside(t, &a, &b)));
  ASSERT_OK(r, carnet_dupes_find(r, 0.8, &d, &n));
  ASSERT_OK(r, carnet_dupes_filter(r, d, &n));
  for (size_t i = 0; i < n; i++)
    assert_false((!memcmp(d[i].a.b, a.b, 16) || !memcmp(d[i].b.b, a.b, 16)) &&
                 (!memcmp(d[i].a.b, b.b, 16) || !memcmp(d[i].b.b, b.b, 16)));
  carnet_free(d);
  carnet_review_item *it;
  size_t ni;
  ASSERT_OK(r, carnet_dupes_review_list(r, &it, &ni));
  assert_int_equal(ni, 1);
  assert_int_equal(it[0].why, CARNET_REVIEW_SET_ASIDE);
  carnet_free(it);

  /* Merged: the pair is gone from the review list and from the candidates. */
  ASSERT_OK(r, TX(r, carnet_merge_apply(t, &a, &b)));
  ASSERT_OK(r, carnet_dupes_review_list(r, &it, &ni));
  assert_int_equal(ni, 0);
  carnet_free(it);
  /* A pair with a merged-away customer is shown with its survivor. */
  ASSERT_OK(r, carnet_dupes_find(r, 0.0, &d, &n));
  ASSERT_OK(r, carnet_dupes_filter(r, d, &n));
  for (size_t i = 0; i < n; i++) {
    assert_memory_not_equal(d[i].a.b, b.b, 16);
    assert_memory_not_equal(d[i].b.b, b.b, 16);
  }
  carnet_free(d);

  /* Not the same: never proposed again; refused on a merged pair. */
  ASSERT_OK(r, TX(r, carnet_dupes_dismiss(t, &a, &c)));
  ASSERT_OK(r, carnet_dupes_find(r, 0.0, &d, &n));
  ASSERT_OK(r, carnet_dupes_filter(r, d, &n));
  assert_int_equal(n, 0);
  carnet_free(d);
  assert_int_equal(TX(r, carnet_dupes_dismiss(t, &a, &b)), CARNET_EINVAL);
}

/* --- across replicas ------------------------------------------------------ */

static void test_opposite_directions_converge(void **state) {
  fx *f = *state;
  carnet_id a = customer(f->r[0], "Sophie Martin", "sophie@martin.fr", NULL);
  carnet_id b = customer(f->r[0], "Sophie Martin", "s.martin@free.fr", "0698765432");
  sync_all(f);
  /* Offline: r0 merges A<-B, r1 merges B<-A, and both edit. */
  ASSERT_OK(f->r[0], TX(f->r[0], carnet_merge_apply(t, &a, &b)));
  ASSERT_OK(f->r[1], TX(f->r[1], carnet_merge_apply(t, &b, &a)));
  tenv_advance_ms(&f->env[1], 1000);
  set1(f->r[1], &b, CARNET_F_NOTES, "edited offline on r1");
  set1(f->r[0], &a, CARNET_F_TAGS, "from-r0");
  sync_all(f);
  size_t n0, n1;
  carnet_id s0 = survivor(f->r[0], &a, &n0), s1 = survivor(f->r[1], &b, &n1);
  assert_int_equal(n0, 2);
  assert_int_equal(n1, 2);
  assert_memory_equal(s0.b, s1.b, 16);
  assert_memory_equal(s0.b, min_id(&a, &b)->b, 16); /* a tie: the smaller id */
  for (int i = 0; i < NREP; i++) {
    char *v0 = view(f->r[0], &a), *vi = view(f->r[i], &b);
    assert_string_equal(v0, vi);
    assert_non_null(strstr(vi, "edited offline on r1"));
    assert_non_null(strstr(vi, "from-r0"));
    assert_non_null(strstr(vi, "s.martin@free.fr"));
    free(v0);
    free(vi);
    assert_int_equal(count(f->r[i], CARNET_KIND_CUSTOMER, NULL), 1);
  }
  assert_same_digest(f->r[0], f->r[1]);
  assert_same_digest(f->r[0], f->r[2]);

  /* An unmerge on r2 reaches everyone. */
  ASSERT_OK(f->r[2], TX(f->r[2], carnet_merge_undo(t, &b, NULL)));
  sync_all(f);
  for (int i = 0; i < NREP; i++) {
    assert_int_equal(count(f->r[i], CARNET_KIND_CUSTOMER, NULL), 2);
    assert_false(view_has(f->r[i], &a, "s.martin@free.fr"));
    assert_true(view_has(f->r[i], &b, "edited offline on r1"));
  }
}

static void test_chain_converges(void **state) {
  fx *f = *state;
  carnet_id a = customer(f->r[0], "Luc Bernard", NULL, "0601010101");
  carnet_id b = customer(f->r[0], "Luc Bernard", NULL, "0601010101");
  carnet_id c = customer(f->r[0], "Luc Bernard", NULL, "0601010101");
  sync_all(f);
  ASSERT_OK(f->r[0], TX(f->r[0], carnet_merge_apply(t, &a, &b))); /* A<-B */
  ASSERT_OK(f->r[1], TX(f->r[1], carnet_merge_apply(t, &b, &c))); /* B<-C */
  ASSERT_OK(f->r[2], TX(f->r[2], carnet_merge_apply(t, &c, &a))); /* C<-A: a cycle */
  sync_all(f);
  carnet_id s[NREP];
  for (int i = 0; i < NREP; i++) {
    size_t n;
    s[i] = survivor(f->r[i], &c, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(s[i].b, s[0].b, 16);
    assert_int_equal(count(f->r[i], CARNET_KIND_CUSTOMER, NULL), 1);
  }
  /* One edge each: the smallest id survives. */
  assert_memory_equal(s[0].b, min_id(min_id(&a, &b), &c)->b, 16);
  assert_same_digest(f->r[0], f->r[1]);
}

static void test_not_same_meets_merge(void **state) {
  fx *f = *state;
  carnet_id a = customer(f->r[0], "Anne Roux", "anne@roux.fr", NULL);
  carnet_id b = customer(f->r[0], "Anne Roux", "anne.roux@orange.fr", NULL);
  sync_all(f);
  ASSERT_OK(f->r[0], TX(f->r[0], carnet_dupes_dismiss(t, &a, &b)));
  ASSERT_OK(f->r[1], TX(f->r[1], carnet_merge_apply(t, &a, &b)));
  sync_all(f);
  for (int i = 0; i < NREP; i++) {
    size_t n;
    survivor(f->r[i], &a, &n);
    assert_int_equal(n, 2); /* the merge stands */
    assert_true(view_has(f->r[i], &b, "review=1"));
    carnet_review_item *it;
    size_t ni;
    ASSERT_OK(f->r[i], carnet_dupes_review_list(f->r[i], &it, &ni));
    assert_int_equal(ni, 1);
    assert_int_equal(it[0].why, CARNET_REVIEW_CONFLICT);
    carnet_free(it);
  }
}

static int doc_of(carnet_replica *r, const carnet_id *cu, carnet_id *out) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  carnet_id_format(cu, hex);
  int rc = carnet_patch_set(p, CARNET_F_DOC_TYPE, "quote");
  if (rc == 0) rc = carnet_patch_set(p, CARNET_F_CUSTOMER, hex);
  if (rc == 0) rc = carnet_record_create_commit(r, p, out);
  carnet_patch_free(p);
  return rc;
}

static void test_documents_follow_and_consent(void **state) {
  fx *f = *state;
  carnet_id a = customer(f->r[0], "Hugo Petit", "hugo@petit.fr", NULL);
  carnet_id b = customer(f->r[0], "Hugo Petit", "hugo.petit@sfr.fr", NULL);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(f->r[0], carnet_patch_consent(p, CARNET_CH_EMAIL, true, "form"));
  ASSERT_OK(f->r[0], carnet_record_update_commit(f->r[0], &a, p));
  carnet_patch_free(p);
  sync_all(f);
  /* Offline: r1 writes a quote for B and B withdraws consent; r0 merges. */
  carnet_id doc;
  ASSERT_OK(f->r[1], doc_of(f->r[1], &b, &doc));
  tenv_advance_ms(&f->env[1], 5000);
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  ASSERT_OK(f->r[1], carnet_patch_consent(p, CARNET_CH_EMAIL, false, "phone call"));
  ASSERT_OK(f->r[1], carnet_record_update_commit(f->r[1], &b, p));
  carnet_patch_free(p);
  ASSERT_OK(f->r[0], TX(f->r[0], carnet_merge_apply(t, &a, &b)));
  sync_all(f);
  for (int i = 0; i < NREP; i++) {
    carnet_filter flt = {.customer = &a};
    assert_int_equal(count(f->r[i], CARNET_KIND_DOCUMENT, &flt), 1); /* listed under A */
    carnet_record *rec;
    ASSERT_OK(f->r[i], carnet_record_get(f->r[i], &doc, &rec));
    char hex[CARNET_ID_HEX_LEN + 1];
    carnet_id_format(&b, hex);
    assert_string_equal(carnet_record_str(rec, CARNET_F_CUSTOMER), hex); /* kept as written */
    carnet_record_free(rec);
    assert_true(view_has(f->r[i], &a, "email_consent=0")); /* the withdrawal is kept */
  }
}

static void test_erase_in_a_group(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id a = customer(r, "Eva Blanc", "eva@blanc.fr", NULL);
  carnet_id b = customer(r, "Eva Blanc", "eva.blanc@free.fr", "0699887766");
  ASSERT_OK(r, TX(r, carnet_merge_apply(t, &a, &b)));
  assert_true(view_has(r, &a, "eva.blanc@free.fr"));
  /* Erasing only this record (carnet_record_erase_one) erases that
   * record's data, not the other's. */
  ASSERT_OK(r, carnet_record_erase_one(r, &b, "asked to be forgotten", NULL, NULL));
  size_t n;
  survivor(r, &a, &n);
  assert_int_equal(n, 1);
  assert_true(view_has(r, &a, "eva@blanc.fr"));
  assert_false(view_has(r, &a, "eva.blanc@free.fr"));
  assert_false(view_has(r, &a, "+33699887766"));
  assert_int_equal(count(r, CARNET_KIND_CUSTOMER, NULL), 1);
  /* Merging with an erased customer is refused. */
  assert_int_equal(TX(r, carnet_merge_apply(t, &a, &b)), CARNET_EPERM);
  assert_int_equal(TX(r, carnet_merge_apply(t, &b, &a)), CARNET_EPERM);
}

/* Erasing any member erases the person as shown: every member of the
 * group, each with its certificate. */
static void test_erase_person_of_a_group(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id a = customer(r, "Eva Blanc", "eva@blanc.fr", NULL);
  carnet_id b = customer(r, "Eva Blanc", "eva.blanc@free.fr", "0699887766");
  carnet_id c = customer(r, "E. Blanc", "e.blanc@orange.fr", NULL);
  carnet_id other = customer(r, "Paul Noir", "paul@noir.fr", NULL);
  ASSERT_OK(r, TX(r, carnet_merge_apply(t, &a, &b)));
  ASSERT_OK(r, TX(r, carnet_merge_apply(t, &b, &c))); /* a chain: c -> b -> a */
  carnet_id *ids = NULL;
  size_t n = 0;
  ASSERT_OK(r, carnet_erasure_group(r, &c, &ids, &n));
  assert_int_equal(n, 3);
  for (size_t i = 0; i < n; i++)
    assert_true(memcmp(ids[i].b, a.b, 16) == 0 || memcmp(ids[i].b, b.b, 16) == 0 ||
                memcmp(ids[i].b, c.b, 16) == 0);
  carnet_free(ids);
  ASSERT_OK(r, carnet_record_erase(r, &c, "asked to be forgotten", NULL, NULL));
  const carnet_id *all[] = {&a, &b, &c};
  carnet_erasure e0;
  ASSERT_OK(r, carnet_erasure_get(r, &c, &e0));
  assert_int_equal(e0.scope, CARNET_ERASE_PERSON);
  for (size_t i = 0; i < 3; i++) {
    bool er = false;
    carnet_record *rec = NULL;
    ASSERT_OK(r, carnet_record_erased(r, all[i], &er));
    assert_true(er);
    assert_int_equal(carnet_record_get(r, all[i], &rec), CARNET_ENOTFOUND);
    carnet_erasure e;
    ASSERT_OK(r, carnet_erasure_get(r, all[i], &e));
    assert_int_equal(e.scope, CARNET_ERASE_PERSON);
    assert_int_equal(e.at, e0.at);
    assert_string_equal(e.reason, "asked to be forgotten");
  }
  assert_int_equal(count(r, CARNET_KIND_CUSTOMER, NULL), 1);
  assert_true(view_has(r, &other, "paul@noir.fr"));
  assert_int_equal(carnet_erasure_group(r, &a, &ids, &n), CARNET_EEXIST);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      FX_TEST(test_merge_view_and_unmerge),
      FX_TEST(test_decisions_filter_dupes),
      FX_TEST(test_opposite_directions_converge),
      FX_TEST(test_chain_converges),
      FX_TEST(test_not_same_meets_merge),
      FX_TEST(test_documents_follow_and_consent),
      FX_TEST(test_erase_in_a_group),
      FX_TEST(test_erase_person_of_a_group),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
