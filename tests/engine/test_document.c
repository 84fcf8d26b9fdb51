/* tests/engine/test_document.c - documents, actions, reminders, history and
 * statistics (carnet/document.h): exact totals against hand-computed
 * figures, the status max-register and its rules, read-only validated
 * documents, conversions, a prospect becoming a customer, line order and
 * concurrent line edits merged through change batches, reminders due,
 * the customer's ledger and the statistics. Numbering has its own file
 * (test_numbering.c).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "engine/base/fracindex.h"
#include "support/replicas.h"

/* --- Fixture: two replicas (most tests use the first) -------------------- */

typedef rfx fx;

static int fx_setup(void **state) {
  *state = rfx_new("document", 2, TENV_EPOCH_MS, 100);
  return 0;
}

static int fx_teardown(void **state) {
  rfx_free(*state);
  return 0;
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

/* --- Helpers -------------------------------------------------------------- */

static carnet_id new_customer(carnet_replica *r, const char *name, const char *rep) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  assert_non_null(p);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  if (rep) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_SALES_REP, rep));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

static carnet_id new_doc(carnet_replica *r, const char *type, const carnet_id *customer) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  carnet_id id;
  carnet_id_format(customer, hex);
  assert_non_null(p);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_DOC_TYPE, type));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

/* qty in thousandths, price in cents, rates in basis points. */
static carnet_line_id add_line(carnet_replica *r, const carnet_id *doc, const char *label,
                               int64_t qty, int64_t price, uint32_t vat, uint32_t disc) {
  carnet_line_input in = {.set = CARNET_LINE_LABEL | CARNET_LINE_QTY | CARNET_LINE_PRICE |
                                 CARNET_LINE_VAT | CARNET_LINE_DISCOUNT,
                          .label = label,
                          .qty = qty,
                          .unit_price = price,
                          .vat_bp = vat,
                          .discount_bp = disc};
  /* Set by the call; clang does not see that a failed ASSERT_OK ends the test. */
  carnet_line_id id = {0};
  ASSERT_OK(r, TX(r, carnet_doc_line_add(t, doc, &in, NULL, &id)));
  return id;
}

static carnet_record *get(carnet_replica *r, const carnet_id *id) {
  carnet_record *rec = NULL;
  ASSERT_OK(r, carnet_record_get(r, id, &rec));
  return rec;
}

static void assert_str(const carnet_record *rec, carnet_field f, const char *want) {
  const char *got = carnet_record_str(rec, f);
  if (want == NULL ? got != NULL : (got == NULL || strcmp(got, want) != 0))
    fail_msg("field %d: got '%s', want '%s'", (int)f, got ? got : "(unset)",
             want ? want : "(unset)");
}

static bool has_elem(const carnet_record *rec, carnet_field f, const char *v) {
  const char *const *els;
  size_t n = carnet_record_elems(rec, f, &els);
  for (size_t i = 0; i < n; i++)
    if (strcmp(els[i], v) == 0) return true;
  return false;
}

/* The labels of a document's lines in order, joined by '|'. */
static void labels(carnet_replica *r, const carnet_id *doc, char *out, size_t len) {
  carnet_record *rec = get(r, doc);
  const carnet_line *l;
  size_t n = carnet_record_lines(rec, &l);
  out[0] = '\0';
  for (size_t i = 0; i < n; i++)
    snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "|" : "", l[i].label);
  carnet_record_free(rec);
}

/* Everything `from` has that `to` lacks. */
static void sync_to(carnet_replica *from, carnet_replica *to) {
  rfx_sync(from, to, 0);
}

#define assert_same_digest rfx_assert_same_digest

/* --- Amounts ------------------------------------------------------------------ */

static void test_decimal(void **state) {
  (void)state;
  int64_t v;
  char buf[40];
  ASSERT_OK(NULL, carnet_decimal_parse("19.99", 2, &v));
  assert_int_equal(v, 1999);
  ASSERT_OK(NULL, carnet_decimal_parse("19,9", 2, &v));
  assert_int_equal(v, 1990);
  ASSERT_OK(NULL, carnet_decimal_parse("-2.5", 3, &v));
  assert_int_equal(v, -2500);
  ASSERT_OK(NULL, carnet_decimal_parse("7", 0, &v));
  assert_int_equal(v, 7);
  assert_int_equal(carnet_decimal_parse("1.234", 2, &v), CARNET_EINVAL); /* no silent rounding */
  assert_int_equal(carnet_decimal_parse("1.", 2, &v), CARNET_EINVAL);
  assert_int_equal(carnet_decimal_parse("", 2, &v), CARNET_EINVAL);
  assert_int_equal(carnet_decimal_parse("12a", 2, &v), CARNET_EINVAL);
  assert_int_equal(carnet_decimal_parse("1e5", 2, &v), CARNET_EINVAL);
  assert_int_equal(carnet_decimal_parse("99999999999999999999", 2, &v), CARNET_EINVAL);
  carnet_decimal_format(1999, 2, false, buf, sizeof buf);
  assert_string_equal(buf, "19.99");
  carnet_decimal_format(-5, 2, false, buf, sizeof buf);
  assert_string_equal(buf, "-0.05");
  carnet_decimal_format(2500, 3, true, buf, sizeof buf);
  assert_string_equal(buf, "2.5");
  carnet_decimal_format(3000, 3, true, buf, sizeof buf);
  assert_string_equal(buf, "3");
}

/* The acceptance figure: a multi-rate invoice with line discounts, checked
 * against figures computed by hand.
 *
 *   line                          qty   unit    disc  rate   HT (exact)   HT
 *   Classeur A4                   3     19.99   10 %  20 %   53.973       53.97
 *   Livre "Comptabilité"          2.5   12.35    0 %   5.5 % 30.875       30.88 (half up)
 *   Carnet de notes               7      3.33    5 %  10 %   22.1445      22.14
 *   Audit (forfait)               1    100.00  12.5 % 20 %   87.50        87.50
 *   Remise fidélité               1     -5.00    0 %  20 %   -5.00        -5.00
 *   Stylo                         0.333  1.05    0 %  20 %    0.34965      0.35
 *
 *   20 %  : base 53.97 + 87.50 - 5.00 + 0.35 = 136.82   VAT 27.364 -> 27.36
 *   10 %  : base 22.14                                  VAT  2.214 ->  2.21
 *   5.5 % : base 30.88                                  VAT  1.6984 -> 1.70
 *   HT 189.84   VAT 31.27   TTC 221.11
 */
static void test_totals_multi_rate(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id cu = new_customer(r, "Papeterie Martin", NULL);
  carnet_id doc = new_doc(r, "invoice", &cu);
  add_line(r, &doc, "Classeur A4", 3000, 1999, 2000, 1000);
  add_line(r, &doc, "Livre \"Comptabilité\"", 2500, 1235, 550, 0);
  add_line(r, &doc, "Carnet de notes", 7000, 333, 1000, 500);
  add_line(r, &doc, "Audit (forfait)", 1000, 10000, 2000, 1250);
  add_line(r, &doc, "Remise fidélité", 1000, -500, 2000, 0);
  add_line(r, &doc, "Stylo", 333, 105, 2000, 0);
  carnet_record *rec = get(r, &doc);
  const carnet_line *l;
  assert_int_equal(carnet_record_lines(rec, &l), 6);
  static const int64_t line_ht[] = {5397, 3088, 2214, 8750, -500, 35};
  for (int i = 0; i < 6; i++)
    assert_int_equal(l[i].total_ht, line_ht[i]);
  carnet_totals t;
  ASSERT_OK(r, carnet_doc_totals(rec, &t));
  assert_int_equal(t.nrates, 3);
  assert_int_equal(t.rates[0].rate_bp, 550);
  assert_int_equal(t.rates[0].base, 3088);
  assert_int_equal(t.rates[0].vat, 170);
  assert_int_equal(t.rates[1].rate_bp, 1000);
  assert_int_equal(t.rates[1].base, 2214);
  assert_int_equal(t.rates[1].vat, 221);
  assert_int_equal(t.rates[2].rate_bp, 2000);
  assert_int_equal(t.rates[2].base, 13682);
  assert_int_equal(t.rates[2].vat, 2736);
  assert_int_equal(t.ht, 18984);
  assert_int_equal(t.vat, 3127);
  assert_int_equal(t.ttc, 22111);
  assert_false(t.frozen);
  carnet_record_free(rec);
}

/* Half away from zero on negative amounts too, and margins from cost
 * prices (lines without a cost price stay out of the margin). */
static void test_totals_rounding_and_margin(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id cu = new_customer(r, "Client marge", NULL);
  carnet_id doc = new_doc(r, "quote", &cu);
  add_line(r, &doc, "retour", -2500, 1235, 2000, 0); /* -30.875 -> -30.88 */
  carnet_line_input in = {.set = CARNET_LINE_LABEL | CARNET_LINE_QTY | CARNET_LINE_PRICE |
                                 CARNET_LINE_COST | CARNET_LINE_VAT,
                          .label = "vis",
                          .qty = 10000,
                          .unit_price = 250,
                          .cost = 120,
                          .vat_bp = 2000};
  ASSERT_OK(r, TX(r, carnet_doc_line_add(t, &doc, &in, NULL, NULL)));
  carnet_record *rec = get(r, &doc);
  carnet_totals t;
  ASSERT_OK(r, carnet_doc_totals(rec, &t));
  assert_int_equal(t.ht, -3088 + 2500);
  assert_int_equal(t.margin, 2500 - 1200);
  assert_int_equal(t.margin_base, 2500);
  assert_int_equal(t.vat, -118); /* -588 x 20 % = -117.6 -> -118 */
  carnet_record_free(rec);
}

static void test_line_values_checked(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id cu = new_customer(r, "Client", NULL);
  carnet_id doc = new_doc(r, "quote", &cu);
  carnet_line_input in = {
      .set = CARNET_LINE_LABEL | CARNET_LINE_VAT, .label = "x", .vat_bp = 10001};
  ASSERT_RC(r, TX(r, carnet_doc_line_add(t, &doc, &in, NULL, NULL)), CARNET_EINVAL);
  in = (carnet_line_input){.set = CARNET_LINE_QTY, .qty = 1000};
  ASSERT_RC(r, TX(r, carnet_doc_line_add(t, &doc, &in, NULL, NULL)), CARNET_EINVAL);
  assert_non_null(strstr(carnet_replica_errmsg(r), "label"));
  in = (carnet_line_input){
      .set = CARNET_LINE_LABEL | CARNET_LINE_QTY, .label = "x", .qty = CARNET_QTY_MAX + 1};
  ASSERT_RC(r, TX(r, carnet_doc_line_add(t, &doc, &in, NULL, NULL)), CARNET_EINVAL);
  /* Lines are not patch fields. */
  carnet_patch *p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_LINES, "x"));
  ASSERT_RC(r, carnet_record_update_commit(r, &doc, p), CARNET_EINVAL);
  carnet_patch_free(p);
  p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_STATUS, "paid"));
  ASSERT_RC(r, carnet_record_update_commit(r, &doc, p), CARNET_EINVAL);
  carnet_patch_free(p);
  /* A document needs a type and a customer. */
  p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_DOC_TYPE, "invoice"));
  ASSERT_RC(r, carnet_record_create_commit(r, p, NULL), CARNET_EINVAL);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_DOC_TYPE, "facture"));
  ASSERT_RC(r, carnet_record_create_commit(r, p, NULL), CARNET_EINVAL);
  carnet_patch_free(p);
}

/* --- Lines: order, edits, removal, moves ------------------------------------- */

static void test_lines_order_and_moves(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  char got[256];
  carnet_id cu = new_customer(r, "Client", NULL);
  carnet_id doc = new_doc(r, "quote", &cu);
  carnet_line_id a = add_line(r, &doc, "A", 1000, 100, 2000, 0);
  carnet_line_id b = add_line(r, &doc, "B", 1000, 100, 2000, 0);
  carnet_line_id c = add_line(r, &doc, "C", 1000, 100, 2000, 0);
  labels(r, &doc, got, sizeof got);
  assert_string_equal(got, "A|B|C");
  /* Insert after A. */
  carnet_line_input in = {.set = CARNET_LINE_LABEL, .label = "A2"};
  carnet_line_id a2;
  ASSERT_OK(r, TX(r, carnet_doc_line_add(t, &doc, &in, &a, &a2)));
  labels(r, &doc, got, sizeof got);
  assert_string_equal(got, "A|A2|B|C");
  ASSERT_OK(r, TX(r, carnet_doc_line_move(t, &doc, &c, NULL)));
  labels(r, &doc, got, sizeof got);
  assert_string_equal(got, "C|A|A2|B");
  ASSERT_OK(r, TX(r, carnet_doc_line_move(t, &doc, &c, &b)));
  labels(r, &doc, got, sizeof got);
  assert_string_equal(got, "A|A2|B|C");
  ASSERT_OK(r, TX(r, carnet_doc_line_move(t, &doc, &a, &a2)));
  labels(r, &doc, got, sizeof got);
  assert_string_equal(got, "A2|A|B|C");
  ASSERT_RC(r, TX(r, carnet_doc_line_move(t, &doc, &a, &a)), CARNET_EINVAL);
  /* Edit one column: the others keep their values. */
  in = (carnet_line_input){.set = CARNET_LINE_QTY, .qty = 4000};
  ASSERT_OK(r, TX(r, carnet_doc_line_edit(t, &doc, &b, &in)));
  carnet_record *rec = get(r, &doc);
  const carnet_line *l;
  assert_int_equal(carnet_record_lines(rec, &l), 4);
  assert_string_equal(l[2].label, "B");
  assert_int_equal(l[2].qty, 4000);
  assert_int_equal(l[2].unit_price, 100);
  assert_int_equal(l[2].vat_bp, 2000);
  assert_int_equal(l[2].total_ht, 400);
  carnet_record_free(rec);
  /* Remove: gone from the view; editing it is refused. */
  ASSERT_OK(r, TX(r, carnet_doc_line_remove(t, &doc, &a2)));
  labels(r, &doc, got, sizeof got);
  assert_string_equal(got, "A|B|C");
  ASSERT_RC(r, TX(r, carnet_doc_line_edit(t, &doc, &a2, &in)), CARNET_ENOTFOUND);
  ASSERT_RC(r, TX(r, carnet_doc_line_add(t, &doc, &in, &a2, NULL)), CARNET_ENOTFOUND);
  /* Many inserts at one place keep a valid order. */
  carnet_line_id prev = a;
  for (int i = 0; i < 60; i++) {
    char label[16];
    snprintf(label, sizeof label, "x%02d", i);
    in = (carnet_line_input){.set = CARNET_LINE_LABEL, .label = label};
    ASSERT_OK(r, TX(r, carnet_doc_line_add(t, &doc, &in, &a, &prev)));
  }
  rec = get(r, &doc);
  assert_int_equal(carnet_record_lines(rec, &l), 63);
  assert_string_equal(l[0].label, "A");
  assert_string_equal(l[1].label, "x59");
  assert_string_equal(l[60].label, "x00");
  assert_string_equal(l[61].label, "B");
  for (size_t i = 1; i < 63; i++)
    assert_true(strcmp(l[i - 1].pos, l[i].pos) < 0);
  carnet_record_free(rec);
}

static void test_fracindex(void **state) {
  (void)state;
  char out[CARNET__POS_MAX + 1], lo[CARNET__POS_MAX + 1] = "", hi[CARNET__POS_MAX + 1];
  ASSERT_OK(NULL, carnet__pos_between(NULL, NULL, out));
  assert_true(carnet__pos_valid(out, strlen(out)));
  ASSERT_OK(NULL, carnet__pos_between("", "1", out));
  assert_true(strcmp(out, "1") < 0 && carnet__pos_valid(out, strlen(out)));
  ASSERT_OK(NULL, carnet__pos_between("V", "W", out));
  assert_true(strcmp(out, "V") > 0 && strcmp(out, "W") < 0);
  ASSERT_OK(NULL, carnet__pos_between("az", "b", out));
  assert_true(strcmp(out, "az") > 0 && strcmp(out, "b") < 0);
  ASSERT_OK(NULL, carnet__pos_between("z", NULL, out));
  assert_true(strcmp(out, "z") > 0);
  /* `a` shorter than the common prefix: it reads as padded with zeros (a
   * regression: the padding once read past the end of `a`). */
  char a_buf[8] = {'h', '\0', 'X', 'X', 'X', 'X', 'X', 'X'};
  ASSERT_OK(NULL, carnet__pos_between(a_buf, "h00V", out));
  assert_true(carnet__pos_valid(out, strlen(out)));
  assert_true(strcmp(out, "h") > 0 && strcmp(out, "h00V") < 0);
  ASSERT_OK(NULL, carnet__pos_between("h", "h01", out));
  assert_true(strcmp(out, "h") > 0 && strcmp(out, "h01") < 0 &&
              carnet__pos_valid(out, strlen(out)));
  assert_int_equal(carnet__pos_between("b", "a", out), CARNET_EINVAL);
  assert_int_equal(carnet__pos_between("a", "a", out), CARNET_EINVAL);
  assert_int_equal(carnet__pos_between("a0", NULL, out), CARNET_EINVAL);
  assert_false(carnet__pos_valid("a-b", 3));
  /* Random bisection: always strictly between, always valid, and the
   * limit is reported rather than overrun. */
  trng g;
  trng_seed(&g, 7);
  snprintf(hi, sizeof hi, "%s", "z");
  for (int i = 0; i < 2000; i++) {
    int rc = carnet__pos_between(lo, hi, out);
    if (rc == CARNET_ELIMIT) break;
    ASSERT_OK(NULL, rc);
    assert_true(carnet__pos_valid(out, strlen(out)));
    assert_true(strcmp(out, lo) > 0 && strcmp(out, hi) < 0);
    if (trng_chance(&g, 50))
      snprintf(lo, sizeof lo, "%s", out);
    else
      snprintf(hi, sizeof hi, "%s", out);
  }
}

/* Two replicas edit one draft offline: each adds a line at the end, edits a
 * different column of one shared line, one removes a line the other edits,
 * one moves a line. After syncing both ways they read the same. */
static void test_lines_concurrent(void **state) {
  fx *f = *state;
  carnet_replica *a = f->r[0], *b = f->r[1];
  char la[256], lb[256];
  carnet_id cu = new_customer(a, "Client partagé", NULL);
  carnet_id doc = new_doc(a, "quote", &cu);
  carnet_line_id l1 = add_line(a, &doc, "L1", 1000, 1000, 2000, 0);
  carnet_line_id l2 = add_line(a, &doc, "L2", 1000, 1000, 2000, 0);
  carnet_line_id l3 = add_line(a, &doc, "L3", 1000, 1000, 2000, 0);
  sync_to(a, b);
  tenv_advance_ms(&f->env[0], 1000);
  tenv_advance_ms(&f->env[1], 1000);
  add_line(a, &doc, "from A", 1000, 1, 2000, 0);
  add_line(b, &doc, "from B", 1000, 2, 2000, 0);
  carnet_line_input q = {.set = CARNET_LINE_QTY, .qty = 5000};
  carnet_line_input pr = {.set = CARNET_LINE_PRICE, .unit_price = 777};
  ASSERT_OK(a, TX(a, carnet_doc_line_edit(t, &doc, &l1, &q)));
  ASSERT_OK(b, TX(b, carnet_doc_line_edit(t, &doc, &l1, &pr)));
  ASSERT_OK(a, TX(a, carnet_doc_line_remove(t, &doc, &l2)));
  ASSERT_OK(b, TX(b, carnet_doc_line_edit(t, &doc, &l2, &q)));
  ASSERT_OK(b, TX(b, carnet_doc_line_move(t, &doc, &l3, NULL)));
  sync_to(a, b);
  sync_to(b, a);
  assert_same_digest(a, b);
  labels(a, &doc, la, sizeof la);
  labels(b, &doc, lb, sizeof lb);
  assert_string_equal(la, lb);
  /* Both appended lines survive; the removed line stays removed; the moved
   * line is first; both column edits of L1 survive. */
  assert_true(strstr(la, "from A") && strstr(la, "from B"));
  assert_null(strstr(la, "L2"));
  assert_true(strncmp(la, "L3|L1|", 6) == 0);
  carnet_record *rec = get(a, &doc);
  const carnet_line *l;
  carnet_record_lines(rec, &l);
  assert_int_equal(l[1].qty, 5000);
  assert_int_equal(l[1].unit_price, 777);
  carnet_record_free(rec);
}

/* --- Status, validation, conversions ---------------------------------------------- */

/* Regression (carnet-sim, first runs): a status move, a validation or a
 * conversion of a document this replica does not hold (not received yet)
 * dereferenced the NULL patch of the engine's own writes while building
 * its "not found" message. */
static void test_missing_document_not_found(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id cu = new_customer(f->r[1], "Client Absent", NULL), out;
  carnet_id ghost = new_doc(f->r[1], "invoice", &cu); /* made elsewhere, never synced */
  ASSERT_RC(r, TX(r, carnet_doc_status_set(t, &ghost, CARNET_ST_PAID, NULL)), CARNET_ENOTFOUND);
  ASSERT_RC(r, TX(r, carnet_doc_status_set(t, &ghost, CARNET_ST_CANCELLED, NULL)),
            CARNET_ENOTFOUND);
  ASSERT_RC(r, TX(r, carnet_doc_validate(t, &ghost, NULL, 0)), CARNET_ENOTFOUND);
  ASSERT_RC(r, TX(r, carnet_doc_convert(t, &ghost, CARNET_DOC_CREDIT_NOTE, &out)),
            CARNET_ENOTFOUND);
  carnet_line_input in = {.set = CARNET_LINE_LABEL, .label = "x"};
  ASSERT_RC(r, TX(r, carnet_doc_line_add(t, &ghost, &in, NULL, NULL)), CARNET_ENOTFOUND);
}

static void test_status_rules(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id cu = new_customer(r, "Prospect Roux", NULL);
  carnet_id q = new_doc(r, "quote", &cu);
  carnet_record *rec = get(r, &q);
  assert_int_equal(carnet_record_status(rec), CARNET_ST_DRAFT);
  assert_str(rec, CARNET_F_STATUS, "draft");
  assert_str(rec, CARNET_F_NUMBER, NULL);
  assert_str(rec, CARNET_F_DATE, "2024-03-01");
  carnet_record_free(rec);
  /* A draft only moves to cancelled; an empty one cannot be validated. */
  ASSERT_RC(r, TX(r, carnet_doc_status_set(t, &q, CARNET_ST_ACCEPTED, NULL)), CARNET_EPERM);
  ASSERT_RC(r, TX(r, carnet_doc_validate(t, &q, NULL, 0)), CARNET_EINVAL);
  add_line(r, &q, "Étagère", 2000, 15000, 2000, 0);
  char num[CARNET_NUMBER_MAX];
  ASSERT_OK(r, TX(r, carnet_doc_validate(t, &q, num, sizeof num)));
  assert_true(strncmp(num, "DE2403-", 7) == 0);
  assert_true(strstr(num, carnet_replica_tag(r)) != NULL);
  assert_true(strcmp(num + strlen(num) - 5, "-0001") == 0);
  ASSERT_RC(r, TX(r, carnet_doc_validate(t, &q, NULL, 0)), CARNET_EEXIST);
  assert_non_null(strstr(carnet_replica_errmsg(r), num));
  /* Resolved by its number, in any case. */
  carnet_id found;
  char lower[CARNET_NUMBER_MAX];
  for (size_t i = 0; i <= strlen(num); i++)
    lower[i] = (char)((num[i] >= 'A' && num[i] <= 'Z') ? num[i] + 32 : num[i]);
  ASSERT_OK(r, carnet_record_resolve(r, CARNET_KIND_DOCUMENT, lower, &found));
  assert_memory_equal(found.b, q.b, 16);
  rec = get(r, &q);
  assert_int_equal(carnet_record_status(rec), CARNET_ST_SENT);
  assert_str(rec, CARNET_F_NUMBER, num);
  carnet_totals tot;
  ASSERT_OK(r, carnet_doc_totals(rec, &tot));
  assert_true(tot.frozen && !tot.altered);
  assert_int_equal(tot.ttc, 36000);
  carnet_record_free(rec);
  /* Validated: read-only. */
  carnet_patch *p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NOTES, "changement"));
  ASSERT_RC(r, carnet_record_update_commit(r, &q, p), CARNET_EPERM);
  assert_non_null(strstr(carnet_replica_errmsg(r), "validated"));
  carnet_patch_free(p);
  p = carnet_patch_new(CARNET_KIND_DOCUMENT);
  ASSERT_OK(r, carnet_patch_delete(p));
  ASSERT_RC(r, carnet_record_update_commit(r, &q, p), CARNET_EPERM);
  carnet_patch_free(p);
  carnet_line_input in = {.set = CARNET_LINE_LABEL, .label = "en plus"};
  ASSERT_RC(r, TX(r, carnet_doc_line_add(t, &q, &in, NULL, NULL)), CARNET_EPERM);
  /* Statuses of other types are refused; refused then accepted is allowed
   * (accepted is above), backwards is not. */
  ASSERT_RC(r, TX(r, carnet_doc_status_set(t, &q, CARNET_ST_PAID, NULL)), CARNET_EINVAL);
  ASSERT_OK(r, TX(r, carnet_doc_status_set(t, &q, CARNET_ST_REFUSED, NULL)));
  rec = get(r, &cu);
  assert_true(has_elem(rec, CARNET_F_ROLES, "prospect"));
  carnet_record_free(rec);
  ASSERT_OK(r, TX(r, carnet_doc_status_set(t, &q, CARNET_ST_ACCEPTED, NULL)));
  ASSERT_RC(r, TX(r, carnet_doc_status_set(t, &q, CARNET_ST_REFUSED, NULL)), CARNET_EEXIST);
  ASSERT_RC(r, TX(r, carnet_doc_status_set(t, &q, CARNET_ST_ACCEPTED, NULL)), CARNET_EEXIST);
  /* Accepting made the prospect a customer, in the same transaction. */
  rec = get(r, &cu);
  assert_true(has_elem(rec, CARNET_F_ROLES, "customer"));
  assert_false(has_elem(rec, CARNET_F_ROLES, "prospect"));
  carnet_record_free(rec);
  rec = get(r, &q);
  assert_str(rec, CARNET_F_STATUS, "accepted");
  const char *const *reached;
  assert_int_equal(carnet_record_elems(rec, CARNET_F_STATUS, &reached), 3);
  assert_string_equal(reached[0], "sent");
  assert_string_equal(reached[2], "accepted");
  carnet_record_free(rec);
  /* Cancelled dominates. */
  ASSERT_OK(r, TX(r, carnet_doc_status_set(t, &q, CARNET_ST_CANCELLED, NULL)));
  ASSERT_RC(r, TX(r, carnet_doc_status_set(t, &q, CARNET_ST_ORDERED, NULL)), CARNET_EEXIST);
  carnet_id o;
  ASSERT_RC(r, TX(r, carnet_doc_convert(t, &q, CARNET_DOC_ORDER, &o)), CARNET_EINVAL);
}

/* A concurrent accept and refuse end accepted on both replicas, whatever the
 * stamps say; a concurrent paid and sent end paid. */
static void test_status_concurrent(void **state) {
  fx *f = *state;
  carnet_replica *a = f->r[0], *b = f->r[1];
  carnet_id cu = new_customer(a, "Client", NULL);
  carnet_id q = new_doc(a, "quote", &cu);
  add_line(a, &q, "x", 1000, 100, 2000, 0);
  ASSERT_OK(a, TX(a, carnet_doc_validate(t, &q, NULL, 0)));
  sync_to(a, b);
  /* b's refusal is stamped later than a's acceptance. */
  ASSERT_OK(a, TX(a, carnet_doc_status_set(t, &q, CARNET_ST_ACCEPTED, NULL)));
  tenv_advance_ms(&f->env[1], 3600 * 1000);
  ASSERT_OK(b, TX(b, carnet_doc_status_set(t, &q, CARNET_ST_REFUSED, NULL)));
  sync_to(b, a);
  sync_to(a, b);
  assert_same_digest(a, b);
  for (int i = 0; i < 2; i++) {
    carnet_record *rec = get(f->r[i], &q);
    assert_int_equal(carnet_record_status(rec), CARNET_ST_ACCEPTED);
    carnet_record_free(rec);
  }
}

static void test_convert_chain(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id cu = new_customer(r, "Menuiserie Roux", "inès");
  carnet_id q = new_doc(r, "quote", &cu);
  carnet_record *rec = get(r, &q);
  assert_str(rec, CARNET_F_SALES_REP, "inès"); /* inherited from the customer */
  carnet_record_free(rec);
  add_line(r, &q, "Porte", 2000, 45000, 2000, 500);
  add_line(r, &q, "Pose", 1000, 30000, 1000, 0);
  carnet_id o;
  ASSERT_RC(r, TX(r, carnet_doc_convert(t, &q, CARNET_DOC_ORDER, &o)), CARNET_EPERM);
  ASSERT_OK(r, TX(r, carnet_doc_validate(t, &q, NULL, 0)));
  ASSERT_RC(r, TX(r, carnet_doc_convert(t, &q, CARNET_DOC_CREDIT_NOTE, &o)), CARNET_EINVAL);
  ASSERT_OK(r, TX(r, carnet_doc_convert(t, &q, CARNET_DOC_ORDER, &o)));
  rec = get(r, &q);
  assert_int_equal(carnet_record_status(rec), CARNET_ST_ORDERED);
  carnet_totals tq;
  ASSERT_OK(r, carnet_doc_totals(rec, &tq));
  const carnet_line *ql;
  carnet_record_lines(rec, &ql);
  carnet_line_id first_quote_line = ql[0].id;
  carnet_record_free(rec);
  /* Converting an accepted-or-beyond quote made the prospect a customer. */
  rec = get(r, &cu);
  assert_true(has_elem(rec, CARNET_F_ROLES, "customer"));
  carnet_record_free(rec);
  rec = get(r, &o);
  char qhex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&q, qhex);
  assert_str(rec, CARNET_F_DOC_TYPE, "order");
  assert_str(rec, CARNET_F_SOURCE, qhex);
  assert_str(rec, CARNET_F_SALES_REP, "inès");
  assert_str(rec, CARNET_F_NUMBER, NULL);
  const carnet_line *ol;
  assert_int_equal(carnet_record_lines(rec, &ol), 2);
  assert_string_equal(ol[0].label, "Porte");
  assert_int_equal(ol[0].discount_bp, 500);
  assert_memory_not_equal(ol[0].id.b, first_quote_line.b, 8); /* new line ids */
  carnet_totals to;
  ASSERT_OK(r, carnet_doc_totals(rec, &to));
  assert_int_equal(to.ttc, tq.ttc);
  carnet_record_free(rec);
  /* Order -> invoice -> credit note. */
  carnet_id inv, av;
  ASSERT_OK(r, TX(r, carnet_doc_validate(t, &o, NULL, 0)));
  ASSERT_OK(r, TX(r, carnet_doc_convert(t, &o, CARNET_DOC_INVOICE, &inv)));
  rec = get(r, &o);
  assert_int_equal(carnet_record_status(rec), CARNET_ST_INVOICED);
  carnet_record_free(rec);
  char num[CARNET_NUMBER_MAX];
  ASSERT_OK(r, TX(r, carnet_doc_validate(t, &inv, num, sizeof num)));
  assert_true(num[0] == 'F');
  ASSERT_RC(r, TX(r, carnet_doc_status_set(t, &inv, CARNET_ST_CANCELLED, NULL)), CARNET_EPERM);
  assert_non_null(strstr(carnet_replica_errmsg(r), "credit note"));
  ASSERT_OK(r, TX(r, carnet_doc_convert(t, &inv, CARNET_DOC_CREDIT_NOTE, &av)));
  ASSERT_OK(r, TX(r, carnet_doc_validate(t, &av, num, sizeof num)));
  assert_true(strncmp(num, "AV", 2) == 0);
  rec = get(r, &av);
  carnet_totals ta;
  ASSERT_OK(r, carnet_doc_totals(rec, &ta));
  assert_int_equal(ta.ttc, tq.ttc); /* a credit note's amounts are positive; its type subtracts */
  carnet_record_free(rec);
}

/* A draft validated concurrently on two replicas gets two numbers; both are
 * kept (no series gets a gap), the first one shows. */
static void test_validate_twice_concurrently(void **state) {
  fx *f = *state;
  carnet_replica *a = f->r[0], *b = f->r[1];
  carnet_id cu = new_customer(a, "Client", NULL);
  carnet_id inv = new_doc(a, "invoice", &cu);
  add_line(a, &inv, "x", 1000, 100, 2000, 0);
  sync_to(a, b);
  char na[CARNET_NUMBER_MAX], nb[CARNET_NUMBER_MAX];
  ASSERT_OK(a, TX(a, carnet_doc_validate(t, &inv, na, sizeof na)));
  tenv_advance_ms(&f->env[1], 5000);
  ASSERT_OK(b, TX(b, carnet_doc_validate(t, &inv, nb, sizeof nb)));
  assert_string_not_equal(na, nb);
  sync_to(a, b);
  sync_to(b, a);
  assert_same_digest(a, b);
  carnet_record *rec = get(b, &inv);
  assert_str(rec, CARNET_F_NUMBER, na); /* a's stamp is the earlier one */
  assert_true(has_elem(rec, CARNET_F_NUMBER, na) && has_elem(rec, CARNET_F_NUMBER, nb));
  carnet_record_free(rec);
}

/* A line edited offline while another replica validates: after the merge
 * the validated totals no longer match and the totals say so. */
static void test_validated_then_altered(void **state) {
  fx *f = *state;
  carnet_replica *a = f->r[0], *b = f->r[1];
  carnet_id cu = new_customer(a, "Client", NULL);
  carnet_id inv = new_doc(a, "invoice", &cu);
  carnet_line_id l = add_line(a, &inv, "x", 1000, 100, 2000, 0);
  sync_to(a, b);
  ASSERT_OK(a, TX(a, carnet_doc_validate(t, &inv, NULL, 0)));
  carnet_line_input in = {.set = CARNET_LINE_QTY, .qty = 2000};
  ASSERT_OK(b, TX(b, carnet_doc_line_edit(t, &inv, &l, &in)));
  sync_to(b, a);
  carnet_record *rec = get(a, &inv);
  carnet_totals tot;
  ASSERT_OK(a, carnet_doc_totals(rec, &tot));
  assert_true(tot.frozen && tot.altered);
  carnet_record_free(rec);
}

/* --- Actions ---------------------------------------------------------------------- */

static carnet_id new_action(carnet_replica *r, const char *channel, const char *at,
                            const char *rating, const carnet_id *c1, const carnet_id *c2) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_ACTION);
  carnet_id id;
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CHANNEL, channel));
  if (at) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_AT, at));
  if (rating) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_RATING, rating));
  if (c1) {
    carnet_id_format(c1, hex);
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMERS, hex));
  }
  if (c2) {
    carnet_id_format(c2, hex);
    ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMERS, hex));
  }
  ASSERT_OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

static int count_cb(const carnet_record *rec, void *data) {
  (void)rec;
  (*(int *)data)++;
  return 0;
}

static void test_actions(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id c1 = new_customer(r, "Un", NULL), c2 = new_customer(r, "Deux", NULL);
  carnet_id act = new_action(r, "trade_fair", "2024-03-05 14:30", "green", &c1, &c2);
  carnet_record *rec = get(r, &act);
  assert_str(rec, CARNET_F_AT, "2024-03-05T14:30:00");
  assert_str(rec, CARNET_F_CHANNEL, "trade_fair");
  const char *const *els;
  assert_int_equal(carnet_record_elems(rec, CARNET_F_CUSTOMERS, &els), 2);
  carnet_record_free(rec);
  carnet_id plain = new_action(r, "phone", NULL, NULL, &c1, NULL);
  rec = get(r, &plain);
  assert_str(rec, CARNET_F_AT, "2024-03-01T09:00:00"); /* now, by the replica's clock */
  carnet_record_free(rec);
  /* Bad values are refused. */
  carnet_patch *p = carnet_patch_new(CARNET_KIND_ACTION);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CHANNEL, "pigeon"));
  ASSERT_RC(r, carnet_record_create_commit(r, p, NULL), CARNET_EINVAL);
  carnet_patch_free(p);
  p = carnet_patch_new(CARNET_KIND_ACTION);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_RATING, "6"));
  ASSERT_RC(r, carnet_record_update_commit(r, &act, p), CARNET_EINVAL);
  carnet_patch_free(p);
  p = carnet_patch_new(CARNET_KIND_ACTION);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_AT, "2024-02-30"));
  ASSERT_RC(r, carnet_record_update_commit(r, &act, p), CARNET_EINVAL);
  carnet_patch_free(p);
  p = carnet_patch_new(CARNET_KIND_ACTION);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMERS, "00112233445566778899aabbccddeeff"));
  ASSERT_RC(r, carnet_record_update_commit(r, &act, p), CARNET_ENOTFOUND);
  carnet_patch_free(p);
  /* Listing by customer: c2 is concerned by one action, c1 by two. */
  carnet_filter fl = {.customer = &c2};
  int n = 0;
  ASSERT_OK(r, carnet_record_list(r, CARNET_KIND_ACTION, &fl, count_cb, &n));
  assert_int_equal(n, 1);
  fl.customer = &c1;
  n = 0;
  ASSERT_OK(r, carnet_record_list(r, CARNET_KIND_ACTION, &fl, count_cb, &n));
  assert_int_equal(n, 2);
  /* Remove a customer from the action, then delete it. */
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&c2, hex);
  p = carnet_patch_new(CARNET_KIND_ACTION);
  ASSERT_OK(r, carnet_patch_remove(p, CARNET_F_CUSTOMERS, hex));
  ASSERT_OK(r, carnet_record_update_commit(r, &act, p));
  carnet_patch_free(p);
  fl.customer = &c2;
  n = 0;
  ASSERT_OK(r, carnet_record_list(r, CARNET_KIND_ACTION, &fl, count_cb, &n));
  assert_int_equal(n, 0);
  p = carnet_patch_new(CARNET_KIND_ACTION);
  ASSERT_OK(r, carnet_patch_delete(p));
  ASSERT_OK(r, carnet_record_update_commit(r, &act, p));
  carnet_patch_free(p);
  n = 0;
  ASSERT_OK(r, carnet_record_list(r, CARNET_KIND_ACTION, NULL, count_cb, &n));
  assert_int_equal(n, 1);
  assert_int_equal(carnet_rating_level("green"), 4);
  assert_int_equal(carnet_rating_level("5"), 5);
  assert_int_equal(carnet_rating_level("purple"), 0);
}

/* --- Reminders -------------------------------------------------------------------- */

static carnet_id new_reminder(carnet_replica *r, const carnet_id *cu, const char *date,
                              const char *mode, const char *comment) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_REMINDER);
  carnet_id id;
  carnet_id_format(cu, hex);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CUSTOMER, hex));
  if (date) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_DATE, date));
  if (mode) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_MODE, mode));
  if (comment) ASSERT_OK(r, carnet_patch_set(p, CARNET_F_COMMENT, comment));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

typedef struct due_list {
  char comments[512];
} due_list;

static int due_cb(const carnet_record *rec, void *data) {
  due_list *d = data;
  const char *c = carnet_record_str(rec, CARNET_F_COMMENT);
  snprintf(d->comments + strlen(d->comments), sizeof d->comments - strlen(d->comments), "%s%s",
           d->comments[0] ? "," : "", c ? c : "?");
  return 0;
}

static const char *due(carnet_replica *r, const char *from, const char *to, due_list *d) {
  d->comments[0] = '\0';
  ASSERT_OK(r, carnet_reminder_list_due(r, from, to, due_cb, d));
  return d->comments;
}

static void test_reminders_due(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  due_list d;
  carnet_id cu = new_customer(r, "Client", NULL);
  /* 2024-03-13 is a Wednesday: its week is Monday 11 to Sunday 17. */
  assert_int_equal(carnet_date_weekday("2024-03-13"), 3);
  assert_int_equal(carnet_date_weekday("2024-03-17"), 7);
  carnet_id day = new_reminder(r, &cu, "2024-03-13", NULL, "day");
  new_reminder(r, &cu, "2024-03-13", "week", "week");
  carnet_id today = new_reminder(r, &cu, NULL, NULL, "today");
  carnet_record *rec = get(r, &today);
  assert_str(rec, CARNET_F_DATE, "2024-03-01");
  assert_str(rec, CARNET_F_MODE, "day");
  assert_true(carnet_reminder_due_on(rec, "2024-03-01"));
  assert_false(carnet_reminder_due_on(rec, "2024-03-02"));
  carnet_record_free(rec);
  assert_string_equal(due(r, "2024-03-10", "2024-03-10", &d), "");
  assert_string_equal(due(r, "2024-03-11", "2024-03-11", &d), "week");
  assert_string_equal(due(r, "2024-03-13", "2024-03-13", &d), "day,week");
  assert_string_equal(due(r, "2024-03-17", "2024-03-17", &d), "week");
  assert_string_equal(due(r, "2024-03-18", "2024-03-18", &d), "");
  assert_string_equal(due(r, "2024-03-01", "2024-03-31", &d), "today,day,week");
  /* Done: no longer due. */
  carnet_patch *p = carnet_patch_new(CARNET_KIND_REMINDER);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_DONE, "true"));
  ASSERT_OK(r, carnet_record_update_commit(r, &day, p));
  carnet_patch_free(p);
  assert_string_equal(due(r, "2024-03-13", "2024-03-13", &d), "week");
  assert_int_equal(carnet_reminder_list_due(r, "2024-03-13", "2024-03-12", due_cb, &d),
                   CARNET_EINVAL);
  char out[11];
  ASSERT_OK(r, carnet_date_add("2024-02-28", 2, out));
  assert_string_equal(out, "2024-03-01");
  ASSERT_OK(r, carnet_date_add("2024-01-01", -1, out));
  assert_string_equal(out, "2023-12-31");
  assert_false(carnet_date_valid("2023-02-29"));
  assert_true(carnet_date_valid("2024-02-29"));
}

/* --- History and statistics ----------------------------------------------------------- */

typedef struct hist {
  char text[2048];
  int64_t last_balance;
  int n;
} hist;

static int hist_cb(const carnet_history_entry *e, void *data) {
  hist *h = data;
  const char *what = e->kind == CARNET_HIST_ACTION ? "action"
                     : e->kind == CARNET_HIST_PAYMENT
                         ? "payment"
                         : carnet_record_str(e->rec, CARNET_F_DOC_TYPE);
  snprintf(h->text + strlen(h->text), sizeof h->text - strlen(h->text),
           "%s%.10s %s %" PRId64 " %" PRId64, h->n ? "; " : "", e->date, what, e->amount,
           e->balance);
  h->last_balance = e->balance;
  h->n++;
  return 0;
}

static void set_clock_day(fx *f, int i, int day) {
  /* 2024-03-01 09:00 UTC + days */
  tenv_set_ms(&f->env[i], TENV_EPOCH_MS + (uint64_t)day * 86400000ull);
}

static void test_history_and_stats(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_id cu = new_customer(r, "Boulangerie Lefèvre", "marie");
  carnet_id other = new_customer(r, "Autre", "paul");
  /* Day 0: a quote, accepted; day 2: the invoice (100.00 + 20 %). */
  carnet_id q = new_doc(r, "quote", &cu);
  add_line(r, &q, "Four", 1000, 10000, 2000, 0);
  carnet_line_input in = {.set = CARNET_LINE_LABEL | CARNET_LINE_QTY | CARNET_LINE_PRICE |
                                 CARNET_LINE_COST | CARNET_LINE_VAT,
                          .label = "Pièces",
                          .qty = 1000,
                          .unit_price = 5000,
                          .cost = 3000,
                          .vat_bp = 2000};
  ASSERT_OK(r, TX(r, carnet_doc_line_add(t, &q, &in, NULL, NULL)));
  ASSERT_OK(r, TX(r, carnet_doc_validate(t, &q, NULL, 0)));
  ASSERT_OK(r, TX(r, carnet_doc_status_set(t, &q, CARNET_ST_ACCEPTED, NULL)));
  set_clock_day(f, 0, 2);
  carnet_id inv;
  ASSERT_OK(r, TX(r, carnet_doc_convert(t, &q, CARNET_DOC_INVOICE, &inv)));
  ASSERT_OK(r, TX(r, carnet_doc_validate(t, &inv, NULL, 0)));
  /* Day 3: a phone call; day 5: partial credit note of the parts (60.00);
   * day 9: the invoice paid. */
  set_clock_day(f, 0, 3);
  new_action(r, "phone", NULL, "4", &cu, NULL);
  new_action(r, "visit", NULL, "2", &cu, &other);
  new_action(r, "email", NULL, NULL, &other, NULL);
  set_clock_day(f, 0, 5);
  carnet_id av;
  ASSERT_OK(r, TX(r, carnet_doc_convert(t, &inv, CARNET_DOC_CREDIT_NOTE, &av)));
  carnet_record *rec = get(r, &av);
  const carnet_line *l;
  carnet_record_lines(rec, &l);
  carnet_line_id four = l[0].id;
  carnet_record_free(rec);
  ASSERT_OK(r, TX(r, carnet_doc_line_remove(t, &av, &four)));
  ASSERT_OK(r, TX(r, carnet_doc_validate(t, &av, NULL, 0)));
  set_clock_day(f, 0, 9);
  ASSERT_OK(r, TX(r, carnet_doc_status_set(t, &inv, CARNET_ST_PAID, "2024-03-10")));
  /* A draft invoice does not count. */
  carnet_id draft = new_doc(r, "invoice", &cu);
  add_line(r, &draft, "brouillon", 1000, 99900, 2000, 0);
  hist h = {.n = 0};
  h.text[0] = '\0';
  ASSERT_OK(r, carnet_history_list(r, &cu, hist_cb, &h));
  assert_string_equal(h.text, "2024-03-01 quote 0 0; "
                              "2024-03-03 invoice 18000 18000; "
                              "2024-03-04 action 0 18000; "
                              "2024-03-04 action 0 18000; "
                              "2024-03-06 credit_note -6000 12000; "
                              "2024-03-10 invoice 0 12000; "
                              "2024-03-10 payment -18000 -6000");
  assert_int_equal(h.last_balance, -6000); /* the customer is owed the credit note */
  carnet_id nobody;
  memset(&nobody, 0x42, sizeof nobody);
  assert_int_equal(carnet_history_list(r, &nobody, hist_cb, &h), CARNET_ENOTFOUND);
  /* Statistics over the first week. */
  carnet_stats s;
  ASSERT_OK(r, carnet_stats_compute(r, "2024-03-01", "2024-03-07", 4, &s));
  assert_int_equal(s.actions, 3);
  assert_int_equal(s.per_channel[CARNET_ACH_PHONE], 1);
  assert_int_equal(s.per_channel[CARNET_ACH_VISIT], 1);
  assert_int_equal(s.per_channel[CARNET_ACH_EMAIL], 1);
  assert_int_equal(s.per_rating[0], 1);
  assert_int_equal(s.per_rating[4], 1);
  assert_int_equal(s.per_rating[2], 1);
  assert_int_equal(s.rated, 2);
  assert_int_equal(s.won, 1);
  assert_int_equal(s.nreps, 1);
  assert_string_equal(s.reps[0].rep, "marie");
  assert_int_equal(s.reps[0].quotes, 1);
  assert_int_equal(s.reps[0].quotes_won, 1);
  assert_int_equal(s.reps[0].quotes_ht, 15000);
  assert_int_equal(s.reps[0].invoices, 2);
  assert_int_equal(s.reps[0].sales_ht, 15000 - 5000);
  assert_int_equal(s.reps[0].margin, 2000 - 2000); /* the parts' margin, then credited */
  carnet_stats_free(&s);
  ASSERT_OK(r, carnet_stats_compute(r, "2024-03-04", "2024-03-04", 2, &s));
  assert_int_equal(s.won, 2);
  assert_int_equal(s.nreps, 0);
  carnet_stats_free(&s);
  assert_int_equal(carnet_stats_compute(r, "2024-03-04", "2024-03-04", 0, &s), CARNET_EINVAL);
}

int main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  /* "Today" is a local date: pin the zone so the figures are the same
   * everywhere. */
  setenv("TZ", "UTC", 1);
  tzset();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decimal),
      cmocka_unit_test(test_fracindex),
      FX_TEST(test_totals_multi_rate),
      FX_TEST(test_totals_rounding_and_margin),
      FX_TEST(test_line_values_checked),
      FX_TEST(test_lines_order_and_moves),
      FX_TEST(test_lines_concurrent),
      FX_TEST(test_status_rules),
      FX_TEST(test_missing_document_not_found),
      FX_TEST(test_status_concurrent),
      FX_TEST(test_convert_chain),
      FX_TEST(test_validate_twice_concurrently),
      FX_TEST(test_validated_then_altered),
      FX_TEST(test_actions),
      FX_TEST(test_reminders_due),
      FX_TEST(test_history_and_stats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
