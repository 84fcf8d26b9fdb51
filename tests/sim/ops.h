/* tests/sim/ops.h - what the files of the operation table share (see
 * ops.c): helpers, and the operations defined outside ops.c. */
#ifndef CARNET_TESTS_SIM_OPS_H
#define CARNET_TESTS_SIM_OPS_H

#include "sim/sim.h"

/* An entity of `kind` from the model, preferably one replica `ri` holds;
 * -1 when there is none. */
long ops_pick_ent(sim *s, int ri, sim_ent_kind kind);
/* Fail the run on an unexpected API error; returns -1. */
int ops_api_fail(sim *s, int ri, const char *what, int rc);
/* Commit or abort `t` after a call returned `rc`: 1 done, 0 refused as
 * documented, -1 failure. */
int ops_finish(sim *s, int ri, carnet_txn *t, int rc, const char *what);
/* The current view of entity `e` on `ri` (NULL: not there). */
carnet_record *ops_view(sim *s, int ri, uint32_t e);

/* ops_doc.c: merges and documents. */
int op_merge(sim *s, int ri);
int op_unmerge(sim *s, int ri);
int op_dismiss(sim *s, int ri);
int op_doc_create(sim *s, int ri);
int op_doc_line(sim *s, int ri);
int op_doc_validate(sim *s, int ri);
int op_doc_paid(sim *s, int ri);
int op_doc_line_change(sim *s, int ri);
int op_doc_convert(sim *s, int ri);
/* erase.c */
int op_erase(sim *s, int ri);

#endif
