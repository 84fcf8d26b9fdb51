/* web/routes.h - the API's routes (web/routes.c) and the handlers they
 * name (web/api_*.c). docs/HTTP-API.md lists the same table for people.
 */
#ifndef CARNET_WEB_ROUTES_H
#define CARNET_WEB_ROUTES_H

#include "req.h"

enum {
  WEB_R_JSON = 1u << 0,   /* takes a JSON object body (may be empty) */
  WEB_R_UPLOAD = 1u << 1, /* takes a raw file body (import) */
  WEB_R_STREAM = 1u << 2, /* answers with an event stream (/api/events) */
  WEB_R_FILE = 1u << 3,   /* takes an attachment's content, streamed (web/api_attach.c) */
};

typedef struct web_route {
  const char *method;
  const char *pattern; /* after /api/: segments, "*" matches one */
  web_handler handler;
  unsigned flags;
} web_route;

/* Brief: the route for `method` and the segments; NULL when none. When a
 * route matches the path with other methods, *allow lists them ("GET,
 * POST") for a 405; else *allow is "". */
const web_route *web_route_find(const char *method, char *const *seg, size_t nseg, char *allow,
                                size_t allow_len);

/* Status and peers (web/api_peer.c). */
void api_status(carnet_replica *r, web_req *q);
void api_peers(carnet_replica *r, web_req *q);
void api_invite(carnet_replica *r, web_req *q);

/* Customers and contacts (web/api_customer.c). */
void api_customers_list(carnet_replica *r, web_req *q);
void api_customer_create(carnet_replica *r, web_req *q);
void api_customer_get(carnet_replica *r, web_req *q);
void api_customer_edit(carnet_replica *r, web_req *q);
void api_customer_delete(carnet_replica *r, web_req *q);
void api_customer_contacts(carnet_replica *r, web_req *q);
void api_contact_create(carnet_replica *r, web_req *q);
void api_contact_get(carnet_replica *r, web_req *q);
void api_contact_edit(carnet_replica *r, web_req *q);
void api_contact_delete(carnet_replica *r, web_req *q);
void api_consents_get(carnet_replica *r, web_req *q);
void api_consents_post(carnet_replica *r, web_req *q);

/* Documents (web/api_doc.c). */
void api_docs_list(carnet_replica *r, web_req *q);
void api_doc_create(carnet_replica *r, web_req *q);
void api_doc_get(carnet_replica *r, web_req *q);
void api_doc_edit(carnet_replica *r, web_req *q);
void api_doc_delete(carnet_replica *r, web_req *q);
void api_doc_line_add(carnet_replica *r, web_req *q);
void api_doc_line_edit(carnet_replica *r, web_req *q);
void api_doc_line_remove(carnet_replica *r, web_req *q);
void api_doc_line_move(carnet_replica *r, web_req *q);
void api_doc_validate(carnet_replica *r, web_req *q);
void api_doc_status(carnet_replica *r, web_req *q);
void api_doc_convert(carnet_replica *r, web_req *q);

/* Actions, reminders, history (web/api_crm.c). */
void api_actions_list(carnet_replica *r, web_req *q);
void api_action_create(carnet_replica *r, web_req *q);
void api_action_get(carnet_replica *r, web_req *q);
void api_action_edit(carnet_replica *r, web_req *q);
void api_action_delete(carnet_replica *r, web_req *q);
void api_reminders_due(carnet_replica *r, web_req *q);
void api_reminders_list(carnet_replica *r, web_req *q);
void api_reminder_create(carnet_replica *r, web_req *q);
void api_reminder_get(carnet_replica *r, web_req *q);
void api_reminder_edit(carnet_replica *r, web_req *q);
void api_reminder_delete(carnet_replica *r, web_req *q);
void api_history(carnet_replica *r, web_req *q);

/* Duplicates and merges (web/api_dupes.c). */

/* Brief: a likely duplicate as the API shows it: `self` NULL gives a pair
 * of the list, {"a": summary, "b": summary, "score", "reasons",
 * "name_similarity", "same_place"}; `self` one side of the pair (a
 * customer being created) gives the other one, {"customer": summary,
 * ...}. A summary is what a person needs to decide (docs/HTTP-API.md,
 * "Duplicates and merges"). NULL when memory ran out. */
json_t *web_dupe_json(carnet_replica *r, const carnet_dupe *d, const carnet_id *self);

/* Brief: a customer's summary (see web_dupe_json); NULL when memory ran
 * out. */
json_t *web_customer_summary(carnet_replica *r, const carnet_id *id);
void api_dupes_list(carnet_replica *r, web_req *q);
void api_dupes_review(carnet_replica *r, web_req *q);
void api_merge(carnet_replica *r, web_req *q);
void api_unmerge(carnet_replica *r, web_req *q);
void api_dupes_dismiss(carnet_replica *r, web_req *q);
void api_dupes_set_aside(carnet_replica *r, web_req *q);

/* Erasure (web/api_erase.c). */
void api_erase(carnet_replica *r, web_req *q);
void api_erase_preview(carnet_replica *r, web_req *q);
void api_erasures(carnet_replica *r, web_req *q);
void api_subject_export(carnet_replica *r, web_req *q);

/* Attachments (web/api_attach.c). An upload (WEB_R_FILE) runs in three
 * steps, each on the node's thread: the route's handler begins it once the
 * request passed the server's checks (q->up set, or the answer given);
 * api_attach_upload_write takes q->upload, q->upload_len (a failure sets
 * the answer and drops the upload); api_attach_upload_commit ends it with
 * the answer. api_attach_upload_abort drops an upload left open (the
 * client went away). A download sets q->dl, read by api_attach_read. */
void api_attachments_list(carnet_replica *r, web_req *q);
void api_attachment_upload(carnet_replica *r, web_req *q);
void api_attach_upload_write(carnet_replica *r, web_req *q);
void api_attach_upload_commit(carnet_replica *r, web_req *q);
void api_attach_upload_abort(carnet_replica *r, web_req *q);
void api_attachment_get(carnet_replica *r, web_req *q);
void api_attachment_delete(carnet_replica *r, web_req *q);
void api_attachment_content(carnet_replica *r, web_req *q);

/* Import and export (web/api_book.c). */
void api_import(carnet_replica *r, web_req *q);
void api_export(carnet_replica *r, web_req *q);

#endif
