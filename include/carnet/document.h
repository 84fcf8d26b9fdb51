/* carnet/document.h - commercial documents (quote, order, invoice, credit
 * note), commercial actions, reminders, and the customer's history and
 * statistics.
 *
 * Documents, actions and reminders are entities like customers: their plain
 * fields are written with a patch (carnet_patch_set on the CARNET_F_* numbers
 * of carnet/types.h) and read with carnet_record_str / carnet_record_elems.
 * What a patch cannot express has a call here: document lines, validation
 * (numbering), status moves, conversions; and the computed views: lines in
 * order, totals, reminders due, history, statistics.
 *
 * How each part merges (docs/DESIGN-NOTES.md, "Documents"):
 * - lines are a map of (line id, column) -> value: two replicas adding lines
 *   offline keep both, concurrent edits of different columns of one line both
 *   survive, and the order is a fractional position (a base-62 string that
 *   sorts between its neighbours), ties broken by line id;
 * - the status is a max-register: a grow-only set of the statuses reached,
 *   read as the greatest (draft < sent < refused < accepted < ordered <
 *   invoiced < paid, cancelled above all), so concurrent moves end at the
 *   greater one and never go backwards;
 * - the number is given at validation from a series of the validating
 *   replica (its tag is in the number), so two offline replicas never give
 *   the same number; the counter moves in the validating transaction, so a
 *   series has no gap on its replica.
 *
 * Amounts are integers: money in cents, quantities in thousandths, rates and
 * discounts in basis points (2000 = 20 %). Totals are exact (see
 * carnet_doc_totals for the rounding rule).
 *
 * Threads and lifetimes: as carnet/record.h. Calls taking a carnet_txn run
 * inside it (nothing is durable before carnet_txn_commit, and a failure
 * leaves the transaction failed). Calls taking a carnet_replica open their
 * own read transaction, or read inside the open write transaction.
 */
#ifndef CARNET_DOCUMENT_H
#define CARNET_DOCUMENT_H

#include "carnet/api.h"

#include "carnet/record.h"
#include <stdbool.h>

CARNET_BEGIN_DECLS

/* --- Documents ------------------------------------------------------------ */

/* Values are stored (as their names) and shown: never renumber. */
typedef enum carnet_doc_type {
  CARNET_DOC_QUOTE = 1,
  CARNET_DOC_ORDER = 2,
  CARNET_DOC_INVOICE = 3,
  CARNET_DOC_CREDIT_NOTE = 4,
} carnet_doc_type;

/* The status order. The rank is the key byte of the status cell, so the
 * order of the values is the order of the max-register. */
typedef enum carnet_doc_status {
  CARNET_ST_DRAFT = 1, /* nothing reached yet: a new document */
  CARNET_ST_SENT = 2,  /* validated (numbered) and sent to the customer */
  CARNET_ST_REFUSED = 3,
  CARNET_ST_ACCEPTED = 4,
  CARNET_ST_ORDERED = 5,  /* a quote converted to an order */
  CARNET_ST_INVOICED = 6, /* a quote or order converted to an invoice */
  CARNET_ST_PAID = 7,     /* an invoice paid, a credit note refunded */
  CARNET_ST_CANCELLED = 8,
} carnet_doc_status;

/* Brief: names ("quote", "credit_note"; "draft", "paid") and the reverse
 * (0 when unknown). Names are static. */
CARNET_API const char *carnet_doc_type_name(carnet_doc_type t);
CARNET_API carnet_doc_type carnet_doc_type_parse(const char *name);
CARNET_API const char *carnet_doc_status_name(carnet_doc_status s);
CARNET_API carnet_doc_status carnet_doc_status_parse(const char *name);

/* A new document is written with carnet_record_create and a patch of kind
 * CARNET_KIND_DOCUMENT: CARNET_F_DOC_TYPE and CARNET_F_CUSTOMER (a customer
 * id in hex) are required; CARNET_F_DATE defaults to today (the replica's
 * clock, local time) and CARNET_F_SALES_REP to the customer's. Header fields
 * are changed with carnet_record_update while the document is a draft.
 *
 * A validated document (one with a number) is read-only: carnet_record_update and
 * the line calls fail with CARNET_EPERM ("issue a credit note"); only its
 * status moves. */

/* A line id: 8 random bytes; its text form is 16 hex characters. */
typedef struct carnet_line_id {
  uint8_t b[8];
} carnet_line_id;

/* Bits of carnet_line_input.set: which columns the input gives. */
enum {
  CARNET_LINE_PRODUCT = 1u << 0,
  CARNET_LINE_LABEL = 1u << 1,
  CARNET_LINE_QTY = 1u << 2,
  CARNET_LINE_PRICE = 1u << 3,
  CARNET_LINE_COST = 1u << 4, /* cost < 0 clears the cost price */
  CARNET_LINE_VAT = 1u << 5,
  CARNET_LINE_DISCOUNT = 1u << 6,
};

/* Limits of a line's values; a document holds at most CARNET_DOC_LINES_MAX
 * lines, removed ones included. */
#define CARNET_QTY_MAX 1000000000ll    /* thousandths: a million units */
#define CARNET_PRICE_MAX 10000000000ll /* cents: a hundred million euros */
#define CARNET_DOC_LINES_MAX 400

typedef struct carnet_line_input {
  unsigned set;         /* CARNET_LINE_* bits */
  const char *product;  /* product code; NULL or "" clears */
  const char *label;    /* description */
  int64_t qty;          /* thousandths, may be negative */
  int64_t unit_price;   /* cents, excluding VAT, may be negative */
  int64_t cost;         /* cents: the cost price, for the margin */
  uint32_t vat_bp;      /* 0..10000 */
  uint32_t discount_bp; /* 0..10000 */
} carnet_line_input;

/* Brief: add a line to a draft document after line `after` (NULL: at the
 * end). A new line needs a label or a product; unset columns are 0 (the VAT
 * rate too). `out` (may be NULL) receives the new line's id.
 * Errors: CARNET_ENOTFOUND (no such document or `after` line), CARNET_EPERM
 * (validated), CARNET_EINVAL (a value out of range), CARNET_ELIMIT (too many
 * lines). */
CARNET_API int carnet_doc_line_add(carnet_txn *t, const carnet_id *doc, const carnet_line_input *in,
                                   const carnet_line_id *after, carnet_line_id *out);

/* Brief: change the columns of a line that `in->set` names; the others keep
 * their values (and a concurrent edit of them elsewhere survives).
 * Errors: as carnet_doc_line_add; CARNET_ENOTFOUND for a removed line. */
CARNET_API int carnet_doc_line_edit(carnet_txn *t, const carnet_id *doc, const carnet_line_id *line,
                                    const carnet_line_input *in);

/* Brief: remove a line (a tombstone column). Errors: as carnet_doc_line_edit. */
CARNET_API int carnet_doc_line_remove(carnet_txn *t, const carnet_id *doc,
                                      const carnet_line_id *line);

/* Brief: move a line after line `after` (NULL: first). Only its position
 * cell is rewritten. Errors: as carnet_doc_line_edit; CARNET_EINVAL when
 * `after` is the line itself. */
CARNET_API int carnet_doc_line_move(carnet_txn *t, const carnet_id *doc, const carnet_line_id *line,
                                    const carnet_line_id *after);

/* A line of the read view. */
typedef struct carnet_line {
  carnet_line_id id;
  const char *product; /* NULL when unset */
  const char *label;   /* NULL when unset */
  const char *pos;     /* fractional position ("" when unset) */
  int64_t qty, unit_price, cost;
  bool has_cost;
  uint32_t vat_bp, discount_bp;
  int64_t total_ht; /* qty x unit price x (1 - discount), rounded to the cent */
} carnet_line;

/* Brief: the live lines of a document, in position order (ties by id). The
 * array lives with the record; 0 for other kinds. */
CARNET_API size_t carnet_record_lines(const carnet_record *rec, const carnet_line **out);

/* Brief: the status of a document (CARNET_ST_DRAFT when none reached), or 0
 * for other kinds. carnet_record_str(rec, CARNET_F_STATUS) gives its name,
 * carnet_record_elems every status reached. */
CARNET_API carnet_doc_status carnet_record_status(const carnet_record *rec);

/* Brief: the document's type, or 0. */
CARNET_API carnet_doc_type carnet_record_doc_type(const carnet_record *rec);

#define CARNET_VAT_RATES_MAX 16

typedef struct carnet_vat_total {
  uint32_t rate_bp;
  int64_t base; /* sum of the lines' HT at this rate */
  int64_t vat;  /* base x rate, rounded once to the cent */
} carnet_vat_total;

typedef struct carnet_totals {
  int64_t ht, vat, ttc;
  size_t nrates; /* in increasing rate order */
  carnet_vat_total rates[CARNET_VAT_RATES_MAX];
  int64_t margin;      /* sum over lines with a cost price of HT - qty x cost */
  int64_t margin_base; /* HT of the lines with a cost price */
  bool frozen;         /* validated: the totals at validation are known */
  bool altered;        /* frozen, yet the lines now total otherwise: edited
                          concurrently with the validation on another replica */
} carnet_totals;

/* Brief: the totals of a document, exact in cents. Rounding rule: each
 * line's HT = qty x unit price x (1 - discount) is rounded once, half away
 * from zero, to the cent; per VAT rate, the rounded HTs are summed and the
 * VAT of the sum is rounded once, half away from zero; VAT = the sum of the
 * rates' VAT; TTC = HT + VAT.
 * Errors: CARNET_EINVAL (not a document), CARNET_ELIMIT (more than
 * CARNET_VAT_RATES_MAX rates, or totals beyond 64 bits). */
CARNET_API int carnet_doc_totals(const carnet_record *rec, carnet_totals *out);

/* Brief: validate a draft: give it the next number of this replica's series
 * for its type, set its date to today and its status to sent, and freeze
 * its totals, in one write; the series counter moves in the same
 * transaction (a failed transaction consumes no number). `number` (may be
 * NULL) receives the number (64 bytes is enough).
 * Errors: CARNET_ENOTFOUND, CARNET_EEXIST (already validated: the errmsg
 * gives its number), CARNET_EINVAL (no line, or cancelled), CARNET_ELIMIT
 * (number_len too small). */
CARNET_API int carnet_doc_validate(carnet_txn *t, const carnet_id *doc, char *number,
                                   size_t number_len);

/* Brief: move a document's status forward. Moving to the status it has, or
 * one below it, changes nothing and returns CARNET_EEXIST. `date` (may be
 * NULL: today) is the payment date of CARNET_ST_PAID. A quote reaching
 * accepted (or ordered, invoiced) makes its customer a customer: the role
 * "customer" is added and "prospect" removed, in the same transaction.
 * Rules: a draft can only be cancelled (validate it first); a validated
 * invoice or credit note cannot be cancelled (issue a credit note); each type
 * has its statuses (quote: sent, refused, accepted, ordered, invoiced; order:
 * sent, accepted, invoiced; invoice and credit note: sent, paid; all:
 * cancelled). Errors: CARNET_ENOTFOUND, CARNET_EINVAL (a status the type
 * does not have, a bad date), CARNET_EPERM (the rules above), CARNET_EEXIST. */
CARNET_API int carnet_doc_status_set(carnet_txn *t, const carnet_id *doc, carnet_doc_status status,
                                     const char *date);

/* Brief: make a new draft document of type `to` from a validated one: quote
 * -> order or invoice, order -> invoice, invoice -> credit note. The header
 * (customer, contact, sales rep, payment terms, notes) and the lines are
 * copied (new line ids), CARNET_F_SOURCE links the source, and the source's
 * status moves (quote -> ordered or invoiced, order -> invoiced; an invoice
 * keeps its status) in the same transaction. `out` receives the new id.
 * A source converted before to the same type (a live document of type `to`
 * whose CARNET_F_SOURCE is `src`, not cancelled) is not converted twice:
 * the call fails with CARNET_EEXIST, the errmsg names that document (its
 * number, or "draft" and its id) and `out` receives its id;
 * carnet_doc_convert_again makes another one all the same.
 * Errors: CARNET_ENOTFOUND, CARNET_EINVAL (a conversion that does not exist,
 * a refused or cancelled source), CARNET_EPERM (the source is a draft:
 * validate it first), CARNET_EEXIST (converted before: show the user the
 * document `out` names, or call carnet_doc_convert_again when a second one
 * is wanted), CARNET_ENOMEM. */
CARNET_API int carnet_doc_convert(carnet_txn *t, const carnet_id *src, carnet_doc_type to,
                                  carnet_id *out);

/* Brief: carnet_doc_convert without the check of an earlier conversion: a
 * second invoice from the same quote, a second (partial) credit note.
 * Errors: as carnet_doc_convert, without CARNET_EEXIST. */
CARNET_API int carnet_doc_convert_again(carnet_txn *t, const carnet_id *src, carnet_doc_type to,
                                        carnet_id *out);

/* --- Numbering ------------------------------------------------------------ */

/* A numbering rule is text with placeholders {yyyy} {yy} {mm} {tag} {n:W}
 * (W = 1..12 digits). {tag} (the replica's tag) and {n:W} are required: the
 * tag keeps two replicas apart. A series is the rule expanded without {n};
 * its counter lives in this replica's metadata, so a series restarts each
 * month when the rule has {mm}. Defaults: quote "DE{yy}{mm}-{tag}-{n:4}",
 * order "CO...", invoice "F...", credit note "AV...". */
#define CARNET_NUMBER_MAX 64

/* Brief: this replica's rule for a type (the default when never set),
 * NUL-terminated in `out` (`len` bytes; 128 is enough).
 * Errors: CARNET_EINVAL (unknown type), CARNET_ELIMIT (`out` too small),
 * CARNET_ECORRUPT (the stored rule is damaged), CARNET_EIO. */
CARNET_API int carnet_replica_get_numbering(carnet_replica *r, carnet_doc_type type, char *out,
                                            size_t len);

/* Brief: set this replica's rule for a type (NULL: back to the default), in
 * its own transaction. Errors: CARNET_EINVAL (unknown placeholder, no {tag}
 * or {n:W}, a number that could exceed CARNET_NUMBER_MAX). */
CARNET_API int carnet_replica_set_numbering(carnet_replica *r, carnet_doc_type type,
                                            const char *rule);

/* --- Line ids and amounts (pure) ------------------------------------------ */

/* Brief: 16 lowercase hex characters and a NUL; and the reverse.
 * Errors: CARNET_EINVAL (parse: not 16 hex characters). */
CARNET_API void carnet_line_id_format(const carnet_line_id *id, char out[17]);
CARNET_API int carnet_line_id_parse(const char *hex, carnet_line_id *out);

/* Brief: parse a decimal ("12", "-3.5", "19,99") exactly into an integer
 * with `decimals` decimals (2: cents, 3: thousandths): "19.99" -> 1999.
 * Errors: CARNET_EINVAL (not a decimal, more decimals than `decimals`, or
 * beyond +/- 10^15). */
CARNET_API int carnet_decimal_parse(const char *s, unsigned decimals, int64_t *out);

/* Brief: the reverse: 1999 with 2 decimals -> "19.99"; trailing zero
 * decimals are dropped when `trim` ("2.5" rather than "2.500"). */
CARNET_API void carnet_decimal_format(int64_t v, unsigned decimals, bool trim, char *out,
                                      size_t len);

/* Brief: true when `s` is a valid calendar date YYYY-MM-DD. */
CARNET_API bool carnet_date_valid(const char *s);

/* Brief: today's date (YYYY-MM-DD, local time) by the replica's clock
 * (carnet_env.now_ms), so tests can inject it. */
CARNET_API void carnet_replica_get_today(carnet_replica *r, char out[11]);

/* Brief: the date `days` days after `date` (may be negative), and the ISO
 * weekday of a date (1 = Monday .. 7 = Sunday). Errors: CARNET_EINVAL. */
CARNET_API int carnet_date_add(const char *date, int days, char out[11]);
CARNET_API int carnet_date_weekday(const char *date);

/* --- Commercial actions ----------------------------------------------------- */

/* An action is written with a patch of kind CARNET_KIND_ACTION: CARNET_F_CHANNEL
 * (required: one of the names below), CARNET_F_CAMPAIGN, CARNET_F_SORT1/2,
 * CARNET_F_AT (YYYY-MM-DD[THH:MM[:SS]], default now; stored
 * YYYY-MM-DDTHH:MM:SS), CARNET_F_DIRECTION ("inbound": they contacted us,
 * "outbound": we contacted them), CARNET_F_RATING ("1".."5" or red, orange,
 * yellow, green: levels 1..4), CARNET_F_DETAILS, CARNET_F_SALES_REP, and
 * CARNET_F_CUSTOMERS (carnet_patch_set adds a customer id in hex,
 * carnet_patch_remove removes one). Edit with carnet_record_update, delete with
 * carnet_patch_delete. */
typedef enum carnet_action_channel {
  CARNET_ACH_EMAIL = 1,
  CARNET_ACH_PHONE = 2,
  CARNET_ACH_MAIL = 3,
  CARNET_ACH_VISIT = 4,
  CARNET_ACH_TRADE_FAIR = 5,
  CARNET_ACH_SMS = 6,
  CARNET_ACH_OTHER = 7,
  CARNET_ACH_MAX_ = 8
} carnet_action_channel;

CARNET_API const char *carnet_action_channel_name(carnet_action_channel ch);
CARNET_API carnet_action_channel carnet_action_channel_parse(const char *name);

/* Brief: the level 1..5 of a rating text ("4", "green"), 0 when unrated or
 * unknown. Errors: none (the int is the level). */
CARNET_API int carnet_rating_level(const char *rating);

/* --- Reminders ------------------------------------------------------------------ */

/* A reminder is written with a patch of kind CARNET_KIND_REMINDER:
 * CARNET_F_CUSTOMER (required), CARNET_F_DATE (default today), CARNET_F_MODE
 * ("day", the default, or "week"), CARNET_F_COMMENT, CARNET_F_DONE
 * ("true"/"false"). */

/* Brief: is the reminder due on `date`? Not done, not deleted, and: mode day
 * -> its date is `date`; mode week -> `date` is in the ISO week (Monday to
 * Sunday) of its date. */
CARNET_API bool carnet_reminder_due_on(const carnet_record *rec, const char *date);

/* Brief: call `cb` for each reminder due on some day of [from, to] (dates,
 * inclusive), in date order. The record is freed after `cb` returns; a
 * non-zero return stops and is returned. Errors: CARNET_EINVAL (bad dates),
 * CARNET_ECORRUPT, CARNET_ENOMEM. */
CARNET_API int carnet_reminder_list_due(carnet_replica *r, const char *from, const char *to,
                                        carnet_record_cb cb, void *data);

/* --- History and statistics ----------------------------------------------------- */

typedef enum carnet_history_kind {
  CARNET_HIST_DOCUMENT = 1, /* a quote, order, invoice or credit note */
  CARNET_HIST_PAYMENT = 2,  /* an invoice paid (or a credit note refunded) */
  CARNET_HIST_ACTION = 3,
} carnet_history_kind;

typedef struct carnet_history_entry {
  carnet_history_kind kind;
  const char *date;         /* YYYY-MM-DD, or the action's YYYY-MM-DDTHH:MM:SS */
  const carnet_record *rec; /* the document or the action */
  int64_t amount;           /* effect on the balance, cents (0: none) */
  int64_t balance;          /* the customer's balance after this entry */
} carnet_history_entry;

/* Brief: the customer's history in date order (ties: documents, then
 * payments, then actions; then by id): every live document addressed to
 * the customer and every live action concerning it, with a running
 * balance of what the customer owes: a validated invoice adds its TTC, a
 * validated credit note subtracts it; a payment is an invoice's status paid
 * (at its paid date, for its whole TTC: partial payments are not modelled)
 * and subtracts it; a refunded credit note adds it back. Drafts, quotes,
 * orders and cancelled documents do not move the balance. The entry passed
 * to `cb` lives until `cb` returns.
 * Errors: CARNET_ENOTFOUND (no such customer), CARNET_ECORRUPT,
 * CARNET_ENOMEM. */
typedef int (*carnet_history_cb)(const carnet_history_entry *e, void *data);
CARNET_API int carnet_history_list(carnet_replica *r, const carnet_id *customer,
                                   carnet_history_cb cb, void *data);

typedef struct carnet_rep_stats {
  char *rep;           /* "" for documents without a sales rep */
  uint32_t quotes;     /* quotes dated in the range, cancelled ones excluded */
  uint32_t quotes_won; /* ... that reached accepted (or beyond) */
  int64_t quotes_ht;
  uint32_t invoices; /* validated invoices and credit notes */
  int64_t sales_ht;  /* invoices minus credit notes, HT */
  int64_t margin;    /* on the lines with a cost price */
} carnet_rep_stats;

typedef struct carnet_stats {
  uint32_t actions;                      /* live actions dated in the range */
  uint32_t per_channel[CARNET_ACH_MAX_]; /* [0]: unknown channel */
  uint32_t per_rating[6];                /* [0]: unrated; [1..5]: levels */
  uint32_t won;                          /* rating level >= won_rating */
  uint32_t rated;                        /* actions with a rating */
  size_t nreps;
  carnet_rep_stats *reps; /* by rep name */
} carnet_stats;

/* Brief: statistics over [from, to] (dates, inclusive): actions counted per
 * channel and per rating level, the actions considered won (level >=
 * `won_rating`), and per sales rep the quotes, sales and margins of the
 * documents dated in the range. After the call free `out` with
 * carnet_stats_free. Errors: CARNET_EINVAL (bad dates, won_rating outside
 * 1..5), CARNET_ECORRUPT, CARNET_ENOMEM. */
CARNET_API int carnet_stats_compute(carnet_replica *r, const char *from, const char *to,
                                    int won_rating, carnet_stats *out);
CARNET_API void carnet_stats_free(carnet_stats *s);

CARNET_END_DECLS

#endif
