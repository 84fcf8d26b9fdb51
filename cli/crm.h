/* cli/crm.h - what the CRM commands (doc, action, reminder, reminders,
 * history, stats) share: opening the replica with an injectable clock,
 * amounts and dates typed by a user, customer labels, and the JSON of
 * documents, actions and reminders.
 */
#ifndef CARNET_CLI_CRM_H
#define CARNET_CLI_CRM_H

#include "cli/cli.h"

/* Brief: commit `t` when `err` is 0, else abort it; report a failure (the
 * replica's detail) and return the exit code. */
int crm_finish(cli *c, carnet_replica *r, carnet_txn *t, int err);

/* Brief: parse what a user typed, or print an error naming `flag` and
 * return false. Money: "19.99" (cents); quantity: "2.5" (thousandths);
 * percent: "20", "5.5", "5,5%" (basis points, 0..100 %); date: YYYY-MM-DD. */
bool crm_money(const cli *c, const char *flag, const char *text, int64_t *cents);
bool crm_qty(const cli *c, const char *flag, const char *text, int64_t *milli);
bool crm_percent(const cli *c, const char *flag, const char *text, uint32_t *bp);
bool crm_date(const cli *c, const char *flag, const char *text);

/* Brief: "1234.56" / "-5.00" / "2.5" / "5.5" into out (32 bytes). */
const char *crm_fmt_money(int64_t cents, char *out);
const char *crm_fmt_qty(int64_t milli, char *out);
const char *crm_fmt_percent(uint32_t bp, char *out);

/* Brief: resolve a customer reference to a live customer's hex id (33
 * bytes). Returns CLI_OK or an exit code after printing. */
int crm_customer_hex(cli *c, carnet_replica *r, const char *ref, char *hex);

/* Brief: a JSON object hex id -> "REF Name" of every customer (read before
 * a listing, whose callback must not read the replica). */
int crm_customer_labels(cli *c, carnet_replica *r, json_t **out);
const char *crm_label_of(json_t *labels, const char *hex);

/* Brief: the shortest prefix of `id` (8 hex digits or more) that names it
 * alone among the records of `kind` (what a listing shows: ids made in the
 * same minute share their first 8 digits), in `out`, returned. */
const char *crm_short_id(carnet_replica *r, carnet_kind kind, const carnet_id *id,
                         char out[CARNET_ID_HEX_LEN + 1]);

/* Brief: a document's label: its number, else "draft " + its short id
 * (crm_short_id; buf: 48 bytes). */
const char *crm_doc_label(carnet_replica *r, const carnet_record *rec, char *buf);

/* JSON of one record (labels may be NULL). */
/* Brief: the elements of a JSON array sorted with `cmp` (over json_t *),
 * in a malloc'd array (free it; the elements are borrowed); *n their count. */
json_t **crm_sorted(json_t *arr, int (*cmp)(const void *, const void *), size_t *n);
/* Brief: print sorted rows as one JSON array. */
int crm_print_json(cli *c, json_t *const *v, size_t n);

json_t *crm_json_doc(const carnet_record *rec, json_t *labels);
json_t *crm_json_action(const carnet_record *rec, json_t *labels);
json_t *crm_json_reminder(const carnet_record *rec, json_t *labels);

#endif
