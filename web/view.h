/* web/view.h - records as JSON: the one shape per kind that the HTTP API
 * answers with and that the command line's --json prints (cli/json.c and
 * cli/crm.c call these), so a script and the console read the same keys.
 *
 * Unset scalars are null (never omitted). Every builder returns a new
 * reference, or NULL when memory ran out (nothing is leaked then): the
 * command line treats that as fatal, the server answers 500.
 */
#ifndef CARNET_WEB_VIEW_H
#define CARNET_WEB_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <carnet/carnet.h>

/* Brief: a JSON string of `s` (NULL -> null); bytes that are not UTF-8
 * are shown as '?' rather than dropped (values come from the replica and
 * should be UTF-8). */
json_t *web_json_str(const char *s);

/* Brief: object[key] = v, taking v; false (and v released) when either is
 * NULL or memory ran out. */
bool web_json_put(json_t *o, const char *key, json_t *v);
/* Brief: append v to array a, taking v; false as web_json_put. */
bool web_json_push(json_t *a, json_t *v);

/* Brief: an attachment as the API and `carnet attachments --json` show it
 * (web/api_attach.c); NULL when memory ran out. */
json_t *web_json_attachment(const carnet_attachment *a);

/* Brief: ISO-8601 UTC of an HLC ("2025-03-01T09:30:00.123Z"); "" for 0. */
void web_iso_time(carnet_hlc hlc, char out[32]);

/* Brief: split a phone element "mobile:+336..." into its type (written to
 * `type`, at most tlen-1 bytes; "" when none) and the number returned. */
const char *web_phone_split(const char *elem, char *type, size_t tlen);

/* Brief: the length of the valid UTF-8 sequence at `s` (1-4), 0 when
 * invalid. */
size_t web_utf8_seq(const char *s);

/* A customer or a contact (`carnet customer show --json`). */
json_t *web_json_record(const carnet_record *rec);
/* A customer's consents per channel, and their dated log. */
json_t *web_json_consents(const carnet_record *rec);
json_t *web_json_consent_log(const carnet_record *rec);

/* Documents, actions and reminders (`carnet doc show --json`...). `labels`
 * (may be NULL) maps a customer's hex id to "REF Name"; with it the
 * objects carry customer_label(s). */
json_t *web_json_doc(const carnet_record *rec, json_t *labels);
json_t *web_json_action(const carnet_record *rec, json_t *labels);
json_t *web_json_reminder(const carnet_record *rec, json_t *labels);

/* Brief: "1234.56" (cents), "2.5" (thousandths), "5.5" (basis points)
 * into out (32 bytes). */
const char *web_fmt_money(int64_t cents, char *out);
const char *web_fmt_qty(int64_t milli, char *out);
const char *web_fmt_percent(uint32_t bp, char *out);

/* Brief: the label of a customer in labels, else the hex itself. */
const char *web_label_of(json_t *labels, const char *hex);

#endif
