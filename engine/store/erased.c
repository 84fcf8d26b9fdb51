/* engine/store/erased.c - what the store holds of erasures, read without the
 * erasure part (engine/erase/erase.c): whether an entity is erased, the stored
 * form of a certificate, and the erasures between two marks for the change
 * feed. The feed is part of the store (every commit raises it), so what it
 * reads of erasures lives below it, here, not in erase.c, which is built
 * on the store.
 */
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/mp.h"
#include "engine/store/erased.h"
#include "engine/store/replica_int.h"

int carnet__erased(carnet__stxn *st, const carnet_id *id, bool *out) {
  carnet_buf v;
  int rc = carnet__store_get(st, CARNET__T_ERASED, id->b, 16, &v);
  *out = rc == 0;
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

int carnet__cert_stored_split(carnet_buf v, uint64_t *lseq, carnet_buf *cert) {
  carnet__mp m;
  int rc = carnet__mp_init(&m, v.base, v.len);
  if (rc) return rc;
  rc = carnet__mp_uint(&m, lseq) ? CARNET_ECORRUPT : 0;
  *cert = (carnet_buf){(const uint8_t *)v.base + m.off, v.len - m.off};
  carnet__mp_destroy(&m);
  return rc;
}

static int id_cmp(const void *a, const void *b) {
  return memcmp(a, b, 16);
}

int carnet__erasures_between(carnet__stxn *st, uint64_t after, uint64_t upto,
                             int (*cb)(void *data, const carnet_id *id, bool customer),
                             void *data) {
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  carnet_id *ids = NULL;
  size_t n = 0, cap = 0;
  int rc = carnet__store_cursor(st, CARNET__T_CERTS, &cur);
  if (rc) return rc;
  /* Certificates have no index by lseq: one pass over them (there are few:
   * one per erased person). */
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    uint64_t lseq = 0;
    carnet_buf cert;
    if (k.len != 16 || (rc = carnet__cert_stored_split(v, &lseq, &cert))) {
      rc = rc ? rc : CARNET_ECORRUPT;
      break;
    }
    if (lseq <= after || lseq > upto) continue;
    if (n == cap) {
      size_t c2 = cap ? cap * 2 : 16;
      carnet_id *p = carnet__realloc(ids, c2 * sizeof *p);
      if (p == NULL) {
        rc = CARNET_ENOMEM;
        break;
      }
      ids = p;
      cap = c2;
    }
    memcpy(ids[n].b, k.base, 16);
    if ((rc = cb(data, &ids[n], true))) break;
    n++;
  }
  carnet__store_cursor_close(cur);
  cur = NULL;
  if (rc != CARNET_ENOTFOUND || n == 0) goto done;
  /* What went with them: `erased` maps each entity to its customer. */
  qsort(ids, n, sizeof *ids, id_cmp);
  if ((rc = carnet__store_cursor(st, CARNET__T_ERASED, &cur))) goto done;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet_id id;
    if (k.len != 16 || v.len != 16) {
      rc = CARNET_ECORRUPT;
      break;
    }
    if (memcmp(k.base, v.base, 16) == 0 || bsearch(v.base, ids, n, sizeof *ids, id_cmp) == NULL)
      continue; /* the customer itself (reported above), or another erasure */
    memcpy(id.b, k.base, 16);
    if ((rc = cb(data, &id, false))) break;
  }
done:
  carnet__store_cursor_close(cur);
  carnet__free(ids);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}
