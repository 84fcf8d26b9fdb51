/* tests/sim/ops_doc.c - the operations on merges and documents (the
 * table is in ops.c, which says how an operation behaves). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/ops.h"
#include "sim/sim.h"

/* --- merges ------------------------------------------------------------------------ */

int op_merge(sim *s, int ri) {
  long a = ops_pick_ent(s, ri, SIM_CUSTOMER), b = ops_pick_ent(s, ri, SIM_CUSTOMER);
  if (a < 0 || b < 0 || a == b) return 0;
  carnet_txn *t;
  int rc = carnet_txn_begin(s->rep[ri].r, &t);
  if (rc) return ops_api_fail(s, ri, "txn_begin", rc);
  rc = ops_finish(s, ri, t, carnet_merge_apply(t, &s->ents[a].id, &s->ents[b].id),
                  "carnet_merge_apply");
  if (rc == 1) {
    s->st.merges++;
    model_merged(s, (uint32_t)a, (uint32_t)b);
  }
  return rc;
}

/* Undo a merge made earlier somewhere (the pairs merged are remembered):
 * the whole member out of its group, or only the edges of that pair. */
int op_unmerge(sim *s, int ri) {
  if (!s->nmerged) return 0;
  const uint32_t *pair = s->merged[trng_below(&s->g, (uint32_t)s->nmerged)];
  bool whole = trng_chance(&s->g, 50);
  carnet_txn *t;
  int rc = carnet_txn_begin(s->rep[ri].r, &t);
  if (rc) return ops_api_fail(s, ri, "txn_begin", rc);
  rc = ops_finish(s, ri, t,
                  carnet_merge_undo(t, &s->ents[pair[1]].id, whole ? NULL : &s->ents[pair[0]].id),
                  "carnet_merge_undo");
  if (rc == 1) s->st.unmerges++;
  return rc;
}

int op_dismiss(sim *s, int ri) {
  long a = ops_pick_ent(s, ri, SIM_CUSTOMER), b = ops_pick_ent(s, ri, SIM_CUSTOMER);
  if (a < 0 || b < 0 || a == b) return 0;
  carnet_txn *t;
  int rc = carnet_txn_begin(s->rep[ri].r, &t);
  if (rc) return ops_api_fail(s, ri, "txn_begin", rc);
  bool aside = trng_chance(&s->g, 30);
  rc = aside ? carnet_dupes_set_aside(t, &s->ents[a].id, &s->ents[b].id)
             : carnet_dupes_dismiss(t, &s->ents[a].id, &s->ents[b].id);
  rc = ops_finish(s, ri, t, rc, aside ? "carnet_dupes_set_aside" : "carnet_dupes_dismiss");
  if (rc == 1) s->st.dismisses++;
  return rc;
}

/* --- documents ---------------------------------------------------------------------- */

static int line_add(sim *s, carnet_txn *t, const carnet_id *doc) {
  char label[32];
  snprintf(label, sizeof label, "ligne %u", ++s->counter);
  carnet_line_input in = {.set = CARNET_LINE_LABEL | CARNET_LINE_QTY | CARNET_LINE_PRICE |
                                 CARNET_LINE_VAT,
                          .label = label,
                          .qty = 1000 * (1 + trng_below(&s->g, 5)),
                          .unit_price = 100 * (1 + trng_below(&s->g, 500)),
                          .vat_bp = trng_chance(&s->g, 70) ? 2000 : 550};
  return carnet_doc_line_add(t, doc, &in, NULL, NULL);
}

int op_doc_create(sim *s, int ri) {
  long c = ops_pick_ent(s, ri, SIM_CUSTOMER);
  if (c < 0) return 0;
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&s->ents[c].id, hex);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  if (!p || carnet_patch_set(p, CARNET_F_DOC_TYPE, "invoice") ||
      carnet_patch_set(p, CARNET_F_CUSTOMER, hex))
    return sim_fail(s, "patch document");
  carnet_txn *t;
  carnet_id id;
  int rc = carnet_txn_begin(s->rep[ri].r, &t);
  if (rc) {
    carnet_patch_free(p);
    return ops_api_fail(s, ri, "txn_begin", rc);
  }
  rc = carnet_record_create(t, p, NULL, &id);
  carnet_patch_free(p);
  for (unsigned k = 1 + trng_below(&s->g, 3); rc == 0 && k > 0; k--)
    rc = line_add(s, t, &id);
  rc = ops_finish(s, ri, t, rc, "create document");
  if (rc == 1) {
    /* The index first: model_ent_add may move s->ents (realloc), and
     * `s->ents[model_ent_add(...)]` may read the old pointer before the
     * call (the order is unspecified): a write into freed memory. */
    uint32_t e = model_ent_add(s, &id, SIM_DOCUMENT, ri);
    s->ents[e].owner = (uint32_t)c;
  }
  return rc;
}

int op_doc_line(sim *s, int ri) {
  long d = ops_pick_ent(s, ri, SIM_DOCUMENT);
  if (d < 0) return 0;
  carnet_txn *t;
  int rc = carnet_txn_begin(s->rep[ri].r, &t);
  if (rc) return ops_api_fail(s, ri, "txn_begin", rc);
  return ops_finish(s, ri, t, line_add(s, t, &s->ents[d].id), "carnet_doc_line_add");
}

int op_doc_validate(sim *s, int ri) {
  long d = ops_pick_ent(s, ri, SIM_DOCUMENT);
  if (d < 0) return 0;
  carnet_txn *t;
  char num[CARNET_NUMBER_MAX];
  int rc = carnet_txn_begin(s->rep[ri].r, &t);
  if (rc) return ops_api_fail(s, ri, "txn_begin", rc);
  rc = ops_finish(s, ri, t, carnet_doc_validate(t, &s->ents[d].id, num, sizeof num),
                  "carnet_doc_validate");
  if (rc == 1) {
    model_number(s, ri, (uint32_t)d, num);
    s->st.validations++;
  }
  return rc;
}

int op_doc_paid(sim *s, int ri) {
  long d = ops_pick_ent(s, ri, SIM_DOCUMENT);
  if (d < 0) return 0;
  carnet_txn *t;
  int rc = carnet_txn_begin(s->rep[ri].r, &t);
  if (rc) return ops_api_fail(s, ri, "txn_begin", rc);
  return ops_finish(s, ri, t, carnet_doc_status_set(t, &s->ents[d].id, CARNET_ST_PAID, NULL),
                    "carnet_doc_status_set");
}

/* A line of a draft edited, removed or moved first (concurrent edits of
 * different columns both survive; the views must agree on the rest). */
int op_doc_line_change(sim *s, int ri) {
  long d = ops_pick_ent(s, ri, SIM_DOCUMENT);
  if (d < 0) return 0;
  carnet_record *rec = ops_view(s, ri, (uint32_t)d);
  if (!rec) return 0;
  const carnet_line *ln;
  size_t n = carnet_record_lines(rec, &ln);
  if (!n) {
    carnet_record_free(rec);
    return 0;
  }
  carnet_line_id line = ln[trng_below(&s->g, (uint32_t)n)].id;
  carnet_record_free(rec);
  carnet_txn *t;
  int rc = carnet_txn_begin(s->rep[ri].r, &t);
  if (rc) return ops_api_fail(s, ri, "txn_begin", rc);
  unsigned how = trng_below(&s->g, 3);
  carnet_line_input in = {.set = CARNET_LINE_QTY | CARNET_LINE_DISCOUNT,
                          .qty = 500 * (1 + trng_below(&s->g, 9)),
                          .discount_bp = 100 * trng_below(&s->g, 20)};
  if (how == 0)
    rc = carnet_doc_line_edit(t, &s->ents[d].id, &line, &in);
  else if (how == 1)
    rc = carnet_doc_line_remove(t, &s->ents[d].id, &line);
  else
    rc = carnet_doc_line_move(t, &s->ents[d].id, &line, NULL);
  return ops_finish(s, ri, t, rc, "carnet_doc_line_edit/remove/move");
}

/* A validated invoice corrected by a credit note (a new draft, validated
 * later into its own series). */
int op_doc_convert(sim *s, int ri) {
  long d = ops_pick_ent(s, ri, SIM_DOCUMENT);
  if (d < 0) return 0;
  carnet_txn *t;
  carnet_id out;
  int rc = carnet_txn_begin(s->rep[ri].r, &t);
  if (rc) return ops_api_fail(s, ri, "txn_begin", rc);
  /* Again: several credit notes may correct one invoice (a partial one). */
  rc = ops_finish(s, ri, t,
                  carnet_doc_convert_again(t, &s->ents[d].id, CARNET_DOC_CREDIT_NOTE, &out),
                  "carnet_doc_convert_again");
  if (rc == 1) {
    uint32_t e = model_ent_add(s, &out, SIM_DOCUMENT, ri); /* may move s->ents: see above */
    s->ents[e].owner = s->ents[d].owner;
  }
  return rc;
}
