/* tests/support/replicas.c - see replicas.h. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>

#include "support/replicas.h"

rfx *rfx_new(const char *label, int n, uint64_t start_ms, uint64_t seed) {
  rfx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_true(n > 0 && n <= RFX_MAX);
  f->root = tdir_new(label);
  assert_non_null(f->root);
  for (int i = 0; i < n; i++) {
    char name[16], err[256] = "";
    carnet_env ce;
    snprintf(name, sizeof name, "r%d", i);
    f->dir[i] = tdir_join(f->root, name);
    assert_non_null(f->dir[i]);
    tenv_init(&f->env[i], start_ms, seed + (uint64_t)i);
    tenv_fill(&f->env[i], &ce);
    int rc = carnet_replica_init(f->dir[i], &ce, &f->r[i], err, sizeof err);
    if (rc) fail_msg("carnet_replica_init: %s: %s", carnet_error_name(rc), err);
    f->n = i + 1;
  }
  return f;
}

void rfx_free(rfx *f) {
  if (f == NULL) return;
  for (int i = 0; i < f->n; i++) {
    carnet_replica_close(f->r[i]);
    free(f->dir[i]);
  }
  tdir_remove(f->root);
  free(f->root);
  free(f);
}

void rfx_sync(carnet_replica *from, carnet_replica *to, size_t max_bytes) {
  carnet_mark m;
  ASSERT_OK(to, carnet_changes_get_mark(to, carnet_replica_id(from), &m));
  for (;;) {
    carnet_buf out;
    carnet_batch_info info;
    ASSERT_OK(from, carnet_changes_encode(from, &m, max_bytes, &out, &info));
    ASSERT_OK(to, carnet_changes_apply(to, out.base, out.len, NULL, NULL));
    carnet_free((void *)out.base);
    m.after = info.upto;
    if (!info.more) break;
  }
}

void rfx_assert_same_digest(carnet_replica *a, carnet_replica *b) {
  uint8_t da[32], db[32];
  ASSERT_OK(a, carnet_replica_get_digest(a, da));
  ASSERT_OK(b, carnet_replica_get_digest(b, db));
  assert_memory_equal(da, db, 32);
}
