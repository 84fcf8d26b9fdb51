/* engine/crm/replica_name.c - names for replicas (carnet_replica_set_name).
 *
 * A name is ordinary synced data rather than a message of the protocol: each
 * replica writes one record of kind CARNET_KIND_REPLICA whose id is derived
 * from its replica id, with the LWW `name` field. It travels, relays and
 * converges like any other record, and a peer that has never heard of it
 * falls back on the short hex id. Ids of real entities start with an HLC
 * stamp, which is never this small, so the derived ids cannot collide with
 * them: seven zero bytes, a 0x01 marker, then the replica id big-endian. */
#include <stdio.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/record.h"
#include "carnet/replica.h"
#include "engine/base/text.h"
#include "engine/crm/write.h"
#include "engine/store/replica_int.h"

static void name_id(uint64_t replica_id, carnet_id *out) {
  memset(out, 0, sizeof *out);
  out->b[7] = 0x01;
  for (int i = 0; i < 8; i++)
    out->b[8 + i] = (uint8_t)(replica_id >> (56 - 8 * i));
}

int carnet_replica_set_name(carnet_replica *r, const char *name) {
  carnet_id id;
  carnet_record *rec = NULL;
  carnet_txn *t = NULL;
  if (name == NULL || name[0] == '\0' || strlen(name) > CARNET_REPLICA_NAME_MAX ||
      carnet__text_valid(name, CARNET_REPLICA_NAME_MAX, false) != 0)
    return carnet__fail(r, CARNET_EINVAL,
                        "invalid replica name '%s': 1 to %d bytes of text, no control characters",
                        name ? name : "", CARNET_REPLICA_NAME_MAX);
  name_id(carnet_replica_id(r), &id);
  int rc = carnet_record_get(r, &id, &rec);
  bool exists = rc == 0;
  carnet_record_free(rec);
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_REPLICA);
  if (p == NULL) return carnet__fail(r, CARNET_ENOMEM, "out of memory");
  if ((rc = carnet_patch_set(p, CARNET_F_NAME, name))) {
    carnet__fail(r, rc, "%s", carnet_patch_errmsg(p));
    carnet_patch_free(p);
    return rc;
  }
  if ((rc = carnet_txn_begin(r, &t)) == 0) {
    rc = carnet__write(t, &id, CARNET_KIND_REPLICA, p,
                       CARNET__W_SYSTEM | (exists ? 0 : CARNET__W_CREATE), NULL, NULL);
    if (rc == 0)
      rc = carnet_txn_commit(t);
    else
      carnet_txn_abort(t);
  }
  carnet_patch_free(p);
  return rc;
}

int carnet_replica_name_of(carnet_replica *r, uint64_t replica_id, char *out, size_t len) {
  carnet_id id;
  carnet_record *rec = NULL;
  if (len > 0) out[0] = '\0';
  if (len < CARNET_REPLICA_NAME_MAX + 1)
    return carnet__fail(r, CARNET_ELIMIT, "a replica name needs %d bytes",
                        CARNET_REPLICA_NAME_MAX + 1);
  name_id(replica_id, &id);
  int rc = carnet_record_get(r, &id, &rec);
  if (rc) return rc;
  const char *name =
      carnet_record_kind(rec) == CARNET_KIND_REPLICA ? carnet_record_str(rec, CARNET_F_NAME) : NULL;
  /* Stored bytes are outside bytes: a name that no longer passes the
   * rules of carnet_replica_set_name is not shown. */
  if (name == NULL || strlen(name) > CARNET_REPLICA_NAME_MAX) {
    rc = name ? CARNET_ECORRUPT : CARNET_ENOTFOUND;
  } else {
    memcpy(out, name, strlen(name) + 1);
  }
  carnet_record_free(rec);
  return rc;
}
