/* engine/crm/record.h - building a read view from an entity (not API). */
#ifndef CARNET_ENGINE_RECORD_H
#define CARNET_ENGINE_RECORD_H

#include "carnet/record.h"
#include "engine/model/entity.h"

/* After the call the record owns copies of everything it shows; `e` may be
 * freed. Errors: CARNET_ENOMEM, CARNET_ECORRUPT. */
int carnet__record_build(const carnet__entity *e, carnet_record **out);

/* Record the other members of a merged customer's group and whether a
 * "not the same" decision conflicts with the merge (carnet/merge.h).
 * Errors: CARNET_ENOMEM. */
int carnet__record_set_group(carnet_record *rec, const carnet_id *others, size_t n, bool review);

/* A scalar cell's value as text, as carnet_record_str shows it: a copy in
 * `a`, NULL for nil (a cleared field). Errors: CARNET_ENOMEM,
 * CARNET_ECORRUPT (a type no scalar holds). */
int carnet__render_scalar(carnet__arena *a, const msgpack_object *o, const char **out);

#endif
