/* engine/model/batch.h - the change batch codec (the bytes carnet_changes_encode
 * produces and carnet_changes_apply consumes; docs/FORMATS.md).
 *
 * A batch is a msgpack stream:
 *
 *   version=1  sender  base  after  upto  more
 *   then, until the end:  id(bin16) kind nstamps (oref hdelta)* ncells
 *                         (field key|nil value stamp)*
 *
 * `oref` indexes the batch's origin table; oref == table size declares a new
 * origin, whose id follows. `hdelta` is the stamp's HLC minus the previous
 * stamp's in the batch (signed). So a changed field costs its value plus a
 * few bytes, and a record written in one go shares one stamp.
 */
#ifndef CARNET_ENGINE_BATCH_H
#define CARNET_ENGINE_BATCH_H

#include "carnet/changes.h"
#include "engine/base/arena.h"
#include "engine/model/entity.h"
#include <msgpack.h>

#define CARNET__BATCH_VERSION 1
#define CARNET__BATCH_ORIGINS_MAX 4096u

typedef struct carnet__bentity {
  carnet_id id;
  uint8_t kind;
  carnet__cell *cells; /* point into the batch bytes */
  size_t n;
} carnet__bentity;

typedef struct carnet__batch {
  carnet_batch_info info;
  carnet__bentity *ents;
  carnet_hlc max_hlc;
  carnet__arena arena;
  int bad_line; /* the check that rejected the bytes */
} carnet__batch;

/* Decode and validate fully. Errors: CARNET_EPROTO, CARNET_ENOMEM. The
 * batch must be freed with carnet__batch_free whatever the result. */
int carnet__batch_decode(const void *buf, size_t len, carnet__batch *b);
void carnet__batch_free(carnet__batch *b);

typedef struct carnet__benc {
  msgpack_sbuffer body;
  msgpack_packer pk;
  uint64_t origins[CARNET__BATCH_ORIGINS_MAX];
  size_t norigins;
  carnet_hlc prev;
  uint32_t nents, ncells;
} carnet__benc;

void carnet__benc_init(carnet__benc *enc);
void carnet__benc_destroy(carnet__benc *enc);
struct carnet__know;

/* Append the cells of `e` whose seq > base, whose origin is not
 * `skip_origin` (0: none) and that `peer_know` does not cover (NULL: none;
 * engine/model/know.h); nothing when none. Errors: CARNET_ENOMEM, CARNET_ELIMIT
 * (origin table full: end the batch here). */
int carnet__benc_entity(carnet__benc *enc, const carnet__entity *e, uint64_t base,
                        uint64_t skip_origin, const struct carnet__know *peer_know);

/* Where the encoder is, to take back the last entity when it overflows. */
typedef struct carnet__benc_pos {
  size_t size, norigins;
  carnet_hlc prev;
  uint32_t nents, ncells;
} carnet__benc_pos;
carnet__benc_pos carnet__benc_tell(const carnet__benc *enc);
void carnet__benc_rewind(carnet__benc *enc, carnet__benc_pos pos);
/* The final bytes (malloc'd, owned by the caller). */
int carnet__benc_finish(carnet__benc *enc, const carnet_batch_info *info, carnet_buf *out);

#endif
