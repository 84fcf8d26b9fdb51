/* engine/crm/write.h - the one entity write path, for the engine's own modules
 * (documents, numbering) that write cells a patch cannot express (not API).
 *
 * carnet__write loads the entity, takes one stamp and one sequence number,
 * applies the patch's operations (if any), then calls `fn` (if any), which
 * writes cells through carnet__writer_put, then completes a new entity
 * (defaults, required fields) and saves it: one entity write, all or nothing
 * (invariants W1, W2 of write.c).
 */
#ifndef CARNET_ENGINE_WRITE_H
#define CARNET_ENGINE_WRITE_H

#include "carnet/record.h"
#include "engine/model/entity.h"
#include <msgpack.h>

typedef struct carnet__writer carnet__writer;
typedef int (*carnet__write_fn)(carnet__writer *w, void *arg);

enum {
  CARNET__W_CREATE = 1u << 0, /* the entity must not exist */
  CARNET__W_SYSTEM = 1u << 1, /* an engine write (status, numbering): allowed on a
                                 validated document */
};

int carnet__write(carnet_txn *t, const carnet_id *id, carnet_kind kind, const carnet_patch *p,
                  unsigned flags, carnet__write_fn fn, void *arg);

/* The entity as it is being written (the patch's cells included). */
const carnet__entity *carnet__writer_entity(const carnet__writer *w);
carnet_txn *carnet__writer_txn(carnet__writer *w);
carnet_hlc carnet__writer_stamp(const carnet__writer *w);

/* Pack exactly one msgpack object with this packer, then put it as the
 * value of cell (field, key). The value is checked like any other
 * (engine/model/schema.c). */
msgpack_packer *carnet__writer_packer(carnet__writer *w);
int carnet__writer_put(carnet__writer *w, carnet_field f, const void *key, size_t klen);

/* True when the entity has a number (a validated document). */
bool carnet__doc_validated(const carnet__entity *e);

#endif
