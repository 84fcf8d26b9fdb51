/* engine/verify.c - a full read of a replica's tables (carnet/verify.h). */
#include "carnet/verify.h"

#include <string.h>

#include "carnet/error.h"
#include "engine/entity_io.h"
#include "engine/replica_int.h"
#include "engine/schema.h"

/* Note the first problem in the replica's errmsg. */
static void first(carnet_replica *r, carnet_verify_report *o, const char *what,
                  const carnet_id *id) {
  char hex[CARNET_ID_HEX_LEN + 1];
  if (o->bad_rows + o->bad_changes + o->missing_keys != 1) return;
  carnet_id_format(id, hex);
  carnet__fail(r, CARNET_ECORRUPT, "%s (entity %s)", what, hex);
}

/* One entity: its row, its change entry, its index keys. */
static int check_entity(carnet_replica *r, carnet__stxn *st, const carnet_id *id,
                        carnet_verify_report *o) {
  carnet__loaded l;
  uint8_t seqkey[8];
  carnet_buf v;
  int rc = carnet__load(st, id, &l);
  if (rc == CARNET_ECORRUPT) {
    o->bad_rows++;
    first(r, o, "a row does not decode", id);
    rc = 0;
    goto done;
  }
  if (rc) goto done;
  for (size_t i = 0; i < l.e.n; i++)
    if (carnet__cell_check(l.e.kind, &l.e.cells[i]) != 0) {
      o->bad_rows++;
      first(r, o, "a stored value fails the schema", id);
      break;
    }
  carnet__be64_put(seqkey, l.e.seq);
  rc = carnet__store_get(st, CARNET__T_CHANGES, seqkey, 8, &v);
  if (rc == CARNET_ENOTFOUND || (rc == 0 && ((v.len != 16 && v.len != CARNET__CHANGE_ENTRY_LEN) ||
                                              memcmp(v.base, id->b, 16) != 0))) {
    o->bad_changes++;
    first(r, o, "an entity has no change-index entry at its sequence number", id);
    rc = 0;
  } else if (rc == 0 && v.len == CARNET__CHANGE_ENTRY_LEN) {
    /* A wrong summary would keep a change from a peer: check it too. */
    uint8_t want[CARNET__CHANGE_ENTRY_LEN];
    carnet__change_entry(&l.e, want);
    if (memcmp(v.base, want, sizeof want) != 0) {
      o->bad_changes++;
      first(r, o, "a change-index entry does not match its entity", id);
    }
  }
  if (rc) goto done;
  for (size_t i = 0; i < l.old_keys.n; i++) {
    o->index_keys++;
    rc = carnet__store_get(st, CARNET__T_INDEX, l.old_keys.keys[i].base, l.old_keys.keys[i].len,
                           &v);
    if (rc == CARNET_ENOTFOUND) {
      o->missing_keys++;
      first(r, o, "an index key is missing", id);
      rc = 0;
    } else if (rc) {
      goto done;
    }
  }
done:
  carnet__loaded_free(&l);
  return rc;
}

int carnet_replica_verify(carnet_replica *r, carnet_verify_report *out) {
  return carnet_replica_verify_progress(r, NULL, NULL, out);
}

#define PROGRESS_EVERY 4096u

int carnet_replica_verify_progress(carnet_replica *r, carnet_progress_fn *fn, void *ctx,
                           carnet_verify_report *out) {
  carnet__stxn *st;
  carnet__scur *cur = NULL;
  carnet_buf k, v;
  memset(out, 0, sizeof *out);
  carnet__clear_err(r);
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  uint64_t total =
      carnet__store_entries(st, CARNET__T_ENTITIES) + carnet__store_entries(st, CARNET__T_CHANGES);
  if ((rc = carnet__store_cursor(st, CARNET__T_ENTITIES, &cur))) goto done;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet_id id;
    out->entities++;
    if (fn && out->entities % PROGRESS_EVERY == 0) fn(ctx, out->entities, total);
    if (k.len != 16) {
      rc = carnet__fail(r, CARNET_ECORRUPT, "a damaged entity key");
      goto done;
    }
    memcpy(id.b, k.base, 16);
    if ((rc = check_entity(r, st, &id, out))) goto done;
  }
  if (rc != CARNET_ENOTFOUND) goto done;
  carnet__store_cursor_close(cur);
  cur = NULL;
  if ((rc = carnet__store_cursor(st, CARNET__T_CHANGES, &cur))) goto done;
  for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0;
       rc = carnet__store_next(cur, &k, &v)) {
    carnet_buf row;
    carnet_id id;
    out->changes++;
    if (fn && out->changes % PROGRESS_EVERY == 0) fn(ctx, out->entities + out->changes, total);
    if (k.len != 8 || (v.len != 16 && v.len != CARNET__CHANGE_ENTRY_LEN)) {
      rc = carnet__fail(r, CARNET_ECORRUPT, "a damaged change-index entry");
      goto done;
    }
    memcpy(id.b, v.base, 16);
    int grc = carnet__store_get(st, CARNET__T_ENTITIES, id.b, 16, &row);
    if (grc == CARNET_ENOTFOUND) {
      out->bad_changes++;
      first(r, out, "a change-index entry points at no entity", &id);
    } else if (grc) {
      rc = grc;
      goto done;
    }
  }
  if (rc == CARNET_ENOTFOUND) rc = 0;
  /* One entry per entity: any other count means stale entries. */
  if (rc == 0 && out->changes != out->entities && out->bad_changes == 0) {
    out->bad_changes = out->changes > out->entities ? out->changes - out->entities
                                                    : out->entities - out->changes;
    carnet__fail(r, CARNET_ECORRUPT, "%llu change-index entries for %llu entities",
                 (unsigned long long)out->changes, (unsigned long long)out->entities);
  }
done:
  carnet__store_cursor_close(cur);
  carnet__read_end(r, st);
  return rc;
}
