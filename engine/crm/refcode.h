/* engine/crm/refcode.h - reference codes from a numbering rule.
 *
 * A rule is text with placeholders: {yyyy} {yy} {mm} {tag} {n:W} (W digits,
 * zero padded). The counter is kept per replica and per expansion of the
 * rest of the rule, so it restarts each month when the rule has {mm}. The
 * replica's tag in the code keeps two replicas from handing out the same
 * code while offline (see docs/DESIGN-NOTES.md for the guarantee).
 */
#ifndef CARNET_ENGINE_REFCODE_H
#define CARNET_ENGINE_REFCODE_H

#include "carnet/replica.h"
#include <stddef.h>

#define CARNET__REFRULE_CUSTOMER "CU{yy}{mm}-{tag}-{n:4}"

/* Expand `rule` at time `ms` for replica tag `tag` and counter `n`. With
 * n == 0 the {n} placeholder expands to nothing (the counter's key). */
int carnet__refcode_format(const char *rule, uint64_t ms, const char *tag, uint64_t n, char *out,
                           size_t out_len);

/* The next customer code, counting inside the transaction. */
int carnet__refcode_next(carnet_txn *t, char *out, size_t out_len);

#endif
