/* engine/crm/totals.h - exact money arithmetic of document lines (not API; the
 * rule is documented at carnet_doc_totals, carnet/document.h).
 *
 * Products are computed in 128-bit integers (a GCC/Clang extension every
 * supported 64-bit target has), so qty x price x (10000 - discount) never
 * overflows within the limits schema.c enforces on every stored value. */
#ifndef CARNET_ENGINE_TOTALS_H
#define CARNET_ENGINE_TOTALS_H

#include <stddef.h>
#include <stdint.h>

#include "carnet/document.h"

/* A line's HT in cents: qty (thousandths) x price (cents) x (1 - discount
 * (basis points)), rounded once, half away from zero. */
int64_t carnet__line_ht(int64_t qty, int64_t price, uint32_t discount_bp);

/* qty (thousandths) x cost (cents), rounded half away from zero. */
int64_t carnet__line_cost(int64_t qty, int64_t cost);

/* The totals of a document's `n` lines (carnet_doc_totals), and whether
 * they still match the frozen ones (`frozen_ht` and `frozen_ttc`, decimal
 * text; NULL when the document is not validated). Reads no record: the
 * record layer builds on this file, not the other way round.
 * Errors: CARNET_ELIMIT (more VAT rates than CARNET_VAT_RATES_MAX, or a
 * total that does not fit). */
int carnet__totals_of(const carnet_line *lines, size_t n, const char *frozen_ht,
                      const char *frozen_ttc, carnet_totals *out);

#endif
