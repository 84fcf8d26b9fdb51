/* tests/engine/test_alloc.c - carnet_allocator_set and carnet_free.
 *
 * The process installs a tagging allocator before its first carnet call:
 * every block carries a header with a magic number, so a block the library
 * made with its allocator and released with the C library's free() (or a
 * block from the C library released through carnet_free) aborts the test
 * at once, under any build. A workload that touches most of the library
 * (writes, reads, documents, duplicates, merges, sync batches, erasure, a
 * second replica, verify) must end with no block alive, every block handed
 * to the caller released with carnet_free, and the allocator used for all
 * of it. The setting is frozen once the library has allocated.
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

#define MAGIC 0xC0FFEE5A11CA7EDull
#define HDR 16u

typedef struct counts {
  long live;
  long calls;
} counts;

static counts g; /* test-only: the allocator has no context by design */

static void *t_malloc(size_t n) {
  unsigned char *p = malloc(n + HDR);
  if (!p) return NULL;
  uint64_t m = MAGIC;
  memcpy(p, &m, sizeof m);
  g.live++;
  g.calls++;
  return p + HDR;
}

static void t_free(void *q) {
  if (!q) return;
  unsigned char *p = (unsigned char *)q - HDR;
  uint64_t m;
  memcpy(&m, p, sizeof m);
  if (m != MAGIC) {
    fprintf(stderr, "carnet_free: a block the tagging allocator did not make\n");
    abort();
  }
  memset(p, 0, sizeof m);
  g.live--;
  free(p);
}

static void *t_calloc(size_t c, size_t n) {
  if (n && c > SIZE_MAX / n) return NULL;
  void *p = t_malloc(c * n);
  if (p) memset(p, 0, c * n);
  return p;
}

static void *t_realloc(void *q, size_t n) {
  if (!q) return t_malloc(n);
  unsigned char *p = (unsigned char *)q - HDR;
  uint64_t m;
  memcpy(&m, p, sizeof m);
  if (m != MAGIC) {
    fprintf(stderr, "realloc: a block the tagging allocator did not make\n");
    abort();
  }
  unsigned char *np = realloc(p, n + HDR);
  if (!np) return NULL;
  g.calls++;
  return np + HDR;
}

static const carnet_allocator tagging = {t_malloc, t_realloc, t_calloc, t_free};

#define OK(r, call)                                                                                \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_) fail_msg("%s: %s: %s", #call, carnet_error_name(rc_), carnet_replica_errmsg(r));      \
  } while (0)

static carnet_id add_customer(carnet_replica *r, const char *name, const char *email,
                              const char *phone) {
  carnet_id id;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_non_null(p);
  OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  OK(r, carnet_patch_set(p, CARNET_F_EMAILS, email));
  OK(r, carnet_patch_phone(p, "mobile", phone));
  OK(r, carnet_patch_set(p, CARNET_F_CITY, "Lyon"));
  OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

static int count_cb(const carnet_record *rec, void *data) {
  (void)rec;
  (*(int *)data)++;
  return 0;
}

static void test_workload_releases_everything(void **state) {
  (void)state;
  char *root = tdir_new("alloc"), *d1 = tdir_join(root, "a"), *d2 = tdir_join(root, "b");
  tenv e1, e2;
  carnet_env c1, c2;
  carnet_replica *r1 = NULL, *r2 = NULL;
  char err[256];
  tenv_init(&e1, TENV_EPOCH_MS, 1);
  tenv_init(&e2, TENV_EPOCH_MS, 2);
  tenv_fill(&e1, &c1);
  tenv_fill(&e2, &c2);
  long before = g.calls;
  assert_int_equal(carnet_replica_init(d1, &c1, &r1, err, sizeof err), 0);
  assert_int_equal(carnet_replica_init(d2, &c2, &r2, err, sizeof err), 0);
  assert_true(g.calls > before); /* the library does allocate through it */

  carnet_id a = add_customer(r1, "Jean Dupont", "jean@dupont.fr", "06 12 34 56 78");
  carnet_id b = add_customer(r1, "DUPONT Jean", "jean@dupont.fr", "+33 6 12 34 56 78");
  add_customer(r1, "Hélène Müller", "helene@muller.de", "07 82 35 61 55");

  carnet_record *rec = NULL;
  OK(r1, carnet_record_get(r1, &a, &rec));
  assert_string_equal(carnet_record_str(rec, CARNET_F_NAME), "Jean Dupont");
  carnet_record_free(rec);
  int n = 0;
  OK(r1, carnet_record_list(r1, CARNET_KIND_CUSTOMER, NULL, count_cb, &n));
  assert_int_equal(n, 3);

  /* Duplicates: an array for the caller, released with carnet_free. */
  carnet_dupe *d = NULL;
  size_t nd = 0;
  OK(r1, carnet_dupes_find(r1, CARNET_DUPE_SCORE_DEFAULT, &d, &nd));
  assert_true(nd >= 1);
  carnet_free(d);
  carnet_txn *t;
  OK(r1, carnet_txn_begin(r1, &t));
  OK(r1, carnet_dupes_set_aside(t, &a, &b));
  OK(r1, carnet_txn_commit(t));
  carnet_review_item *it = NULL;
  size_t ni = 0;
  OK(r1, carnet_dupes_review_list(r1, &it, &ni));
  assert_int_equal(ni, 1);
  carnet_free(it);
  OK(r1, carnet_txn_begin(r1, &t));
  OK(r1, carnet_merge_apply(t, &a, &b));
  OK(r1, carnet_txn_commit(t));

  /* A document with lines, validated. */
  char hex[CARNET_ID_HEX_LEN + 1], number[CARNET_NUMBER_MAX];
  carnet_id doc;
  carnet_id_format(&a, hex);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  OK(r1, carnet_patch_set(p, CARNET_F_DOC_TYPE, "invoice"));
  OK(r1, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
  OK(r1, carnet_txn_begin(r1, &t));
  OK(r1, carnet_record_create(t, p, NULL, &doc));
  carnet_line_input li = {.set = CARNET_LINE_LABEL | CARNET_LINE_QTY | CARNET_LINE_PRICE |
                                 CARNET_LINE_VAT,
                          .label = "Pose",
                          .qty = 2000,
                          .unit_price = 4550,
                          .vat_bp = 2000};
  OK(r1, carnet_doc_line_add(t, &doc, &li, NULL, NULL));
  OK(r1, carnet_doc_validate(t, &doc, number, sizeof number));
  OK(r1, carnet_txn_commit(t));
  carnet_patch_free(p);

  /* Sync by batches: bytes for the caller, released with carnet_free. */
  carnet_mark m = {0, 0};
  for (int guard = 0; guard < 100; guard++) {
    carnet_buf out = {0};
    carnet_batch_info info;
    OK(r1, carnet_changes_encode(r1, &m, 4096, &out, &info));
    OK(r2, carnet_changes_apply(r2, out.base, out.len, NULL, NULL));
    carnet_free((void *)out.base);
    if (!info.more) break;
    m.after = info.upto;
  }
  uint8_t h1[32], h2[32];
  OK(r1, carnet_replica_get_digest(r1, h1));
  OK(r2, carnet_replica_get_digest(r2, h2));
  assert_memory_equal(h1, h2, 32);

  /* Erasure, then a full check. */
  bool compacted = false;
  carnet_id c3 = add_customer(r2, "Paul Martin", "paul@martin.fr", "01 40 00 00 01");
  OK(r2, carnet_record_erase(r2, &c3, "asked by the person", NULL, &compacted));
  carnet_verify_report vr;
  OK(r2, carnet_replica_verify(r2, &vr));
  assert_int_equal(vr.bad_rows + vr.bad_changes + vr.missing_keys, 0);

  carnet_replica_close(r1);
  carnet_replica_close(r2);
  assert_int_equal(g.live, 0); /* every block made is released, by the allocator */
  tdir_remove(root);
  free(d1);
  free(d2);
  free(root);
}

static void test_setting_is_frozen_once_used(void **state) {
  (void)state;
  carnet_allocator bad = tagging;
  bad.free = NULL;
  assert_int_equal(carnet_allocator_set(&bad), CARNET_EINVAL);
  /* The workload has allocated: the allocator may no longer change. */
  assert_int_equal(carnet_allocator_set(NULL), CARNET_EBUSY);
  assert_int_equal(carnet_allocator_set(&tagging), CARNET_EBUSY);
}

static void test_version(void **state) {
  (void)state;
  int ma = -1, mi = -1, pa = -1;
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", CARNET_VERSION_MAJOR, CARNET_VERSION_MINOR,
           CARNET_VERSION_PATCH);
  assert_string_equal(carnet_version(&ma, &mi, &pa), want);
  assert_string_equal(CARNET_VERSION_STRING, want);
  assert_int_equal(ma, CARNET_VERSION_MAJOR);
  assert_int_equal(mi, CARNET_VERSION_MINOR);
  assert_int_equal(pa, CARNET_VERSION_PATCH);
  assert_int_equal(CARNET_VERSION_NUMBER, (ma << 16) | (mi << 8) | pa);
}

int main(void) {
  /* Before any other carnet call, as carnet/alloc.h asks. */
  if (carnet_allocator_set(&tagging) != 0) {
    fprintf(stderr, "carnet_allocator_set refused before first use\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_workload_releases_everything),
      cmocka_unit_test(test_setting_is_frozen_once_used),
      cmocka_unit_test(test_version),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
