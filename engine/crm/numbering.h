/* engine/crm/numbering.h - document numbers from per-replica series (not API;
 * the rules are set with carnet_replica_set_numbering, carnet/document.h).
 *
 * Invariant N1: a number is `rule` expanded with this replica's tag, the
 * period of the validating stamp and the next value of the series counter,
 * and the counter is read and written in the validating transaction. So on
 * one replica a series is 1, 2, 3... with no gap and no repeat (a
 * transaction that fails writes neither the counter nor the number), and
 * numbers follow the replica's HLC, which never goes back (chronological).
 * Two replicas never make the same number because their tags differ
 * (docs/DESIGN-NOTES.md, "Reference codes", says how likely a clash of tags
 * is and how joining checks it).
 */
#ifndef CARNET_ENGINE_NUMBERING_H
#define CARNET_ENGINE_NUMBERING_H

#include "carnet/document.h"

/* Meta keys (table CARNET__T_META). Frozen. */
#define CARNET__META_NUMRULE "numrule:" /* + type name: the rule text */
#define CARNET__META_NUMSEQ "numseq:"   /* + series: 8 bytes big-endian */

/* The next number of `type` for a validation stamped `stamp`, counted in
 * `t`. `series` receives the series (the rule expanded without {n}),
 * `number` the number; both CARNET_NUMBER_MAX bytes. */
int carnet__number_next(carnet_txn *t, carnet_doc_type type, carnet_hlc stamp,
                        char series[CARNET_NUMBER_MAX], char number[CARNET_NUMBER_MAX]);

#endif
