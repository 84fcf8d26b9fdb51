/* tests/bench/test_workload.c - the workload W generator (bench/workload.c)
 * against the vectors of ../shared/WORKLOAD.md: the PRNG, the first record,
 * the CSV of N = 100,000 and the state digests of N = 10,000 after W1 and
 * after W2. The generator alone, no replica: well under a few seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/workload.c"

static void hex32(const uint8_t d[32], char out[65]) {
  w_hex(d, 32, out);
}

static void prng_vector(void **state) {
  (void)state;
  static const uint32_t want[5] = {2581720956u, 1925393290u, 3661312704u, 2876485805u, 750819978u};
  w_rng r = {42};
  for (int i = 0; i < 5; i++)
    assert_int_equal(w_next_u32(&r), want[i]);
  /* randint is floor(u * n / 2^32). */
  w_rng a = {42}, b = {42};
  for (int i = 0; i < 1000; i++) {
    uint32_t u = w_next_u32(&a);
    assert_int_equal(w_randint(&b, 1000), (uint32_t)(((uint64_t)u * 1000u) >> 32));
  }
  /* Streams start at BASE_SEED + k. */
  assert_int_equal(w_stream(W_STREAM_W3).s, 45);
}

static void first_record(void **state) {
  (void)state;
  w_rng r = w_stream(W_STREAM_W1);
  w_record rec;
  char row[W_ROW_MAX];
  w_record_next(&r, &rec);
  size_t n = w_record_row(&rec, row);
  assert_string_equal(
      row, "99e1ef7c72c32b8ada3b32c0ab73b0ad,company,Quentin Leroy,Fournier Group,"
           "quentin.leroy472@example.org,+33 5 74 30 19 50,+33 7 61 00 47 83,11 chemin des "
           "Lilas,Strasbourg,06178,FR,78354725303356,user01,priority;vip,asked discount email in "
           "next week trade up planned budget order prefers account.");
  assert_int_equal(n, strlen(row));
  uint8_t id[16];
  assert_true(w_hex16(rec.idhex, id));
  assert_memory_equal(id, rec.id, 16);
}

/* Row shapes over the first 10,000 records: WORKLOAD.md section 1. */
static void row_shapes(void **state) {
  (void)state;
  w_rng r = w_stream(W_STREAM_W1);
  w_record rec;
  char row[W_ROW_MAX];
  size_t lo = SIZE_MAX, hi = 0;
  for (int i = 0; i < 10000; i++) {
    w_record_next(&r, &rec);
    size_t n = w_record_row(&rec, row);
    if (n < lo) lo = n;
    if (n > hi) hi = n;
    size_t nl = strlen(rec.notes);
    assert_true(nl >= 78 && nl <= 80);
    assert_int_equal(rec.notes[nl - 1], '.');
    assert_int_equal(strlen(rec.phone), 17);
    assert_true(rec.mobile[4] == '6' || rec.mobile[4] == '7');
    assert_int_equal(strlen(rec.siret), rec.company ? 14 : 0);
    assert_true(strcmp(rec.tags[0], rec.tags[1]) < 0);
  }
  assert_true(lo >= 242 && hi <= 315);
}

static void csv_100k(void **state) {
  (void)state;
  uint8_t d[32];
  uint64_t bytes;
  char hex[65];
  assert_int_equal(w_csv_sha256(100000, d, &bytes), 0);
  hex32(d, hex);
  assert_int_equal(bytes, 27373937);
  assert_string_equal(hex, "26a2290eccb91ac6841d3e1acd7f3e814d0371b8679d42c8cf0bdc5a60c34990");
}

static void digests_10k(void **state) {
  (void)state;
  w_index ix;
  uint8_t d[32];
  char hex[65];
  const uint32_t n = 10000, m = 1000;
  assert_int_equal(w_index_build(&ix, n), 0);
  assert_int_equal(w_expected_digest(&ix, NULL, NULL, 0, d), 0);
  hex32(d, hex);
  assert_string_equal(hex, "610a3d347a5635dbb37c334dda9d13d64247e5a2be39c0294f24f9357fc27279");

  w_update *a = calloc(m, sizeof *a), *b = calloc(m, sizeof *b);
  assert_non_null(a);
  assert_non_null(b);
  assert_int_equal(w_gen_w2(n, m, a, b), 0);
  /* Disjoint records: B's never overlap A's. */
  uint8_t *seen = calloc(n, 1);
  assert_non_null(seen);
  for (uint32_t k = 0; k < m; k++) {
    assert_int_equal(seen[a[k].idx]++, 0);
    assert_int_equal(seen[b[k].idx]++, 0);
  }
  free(seen);
  assert_int_equal(w_expected_digest(&ix, a, b, m, d), 0);
  hex32(d, hex);
  assert_string_equal(hex, "ddd7be47120b403f1642e953e306f75c7923131e6de67c564594c587f7126fb2");

  /* The index finds every record by id; W3 draws two notes per record. */
  for (uint32_t i = 0; i < n; i += 97)
    assert_int_equal(w_index_find(&ix, ix.by_gen[i].id), i);
  uint8_t none[16] = {0};
  assert_int_equal(w_index_find(&ix, none), -1);
  assert_int_equal(w_gen_w3(n, m, a), 0);
  for (uint32_t k = 0; k < m; k++) {
    assert_true(a[k].idx < n);
    assert_int_equal(a[k].va[strlen(a[k].va) - 1], '.');
    assert_int_equal(a[k].vb[strlen(a[k].vb) - 1], '.');
  }
  free(a);
  free(b);
  w_index_free(&ix);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(prng_vector), cmocka_unit_test(first_record), cmocka_unit_test(row_shapes),
      cmocka_unit_test(csv_100k),    cmocka_unit_test(digests_10k),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
