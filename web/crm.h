/* web/crm.h - what the document, action and reminder endpoints share:
 * customers' labels ("REF Name") put beside their ids, and the answer of
 * one record of these kinds. */
#ifndef CARNET_WEB_CRM_H
#define CARNET_WEB_CRM_H

#include "req.h"

/* Brief: the JSON of a document, action or reminder, with its customers'
 * labels (read through `r`: not from inside a listing's callback). */
json_t *web_crm_view(carnet_replica *r, const carnet_record *rec);

/* Brief: put customer_label / customer_labels into each item of a page
 * (after the listing, so the replica may be read). False on ENOMEM. */
bool web_crm_label_items(carnet_replica *r, json_t *items);

/* Brief: answer `status` with entity `id` read back (web_crm_view); 201
 * also sets Location. */
void web_crm_answer(web_req *q, carnet_replica *r, const carnet_id *id, int status);

/* Brief: create an entity of `kind` from the body (web_patch_crm), answer
 * 201; `required` lists body keys that must be there (NULL-terminated). */
void web_crm_create(carnet_replica *r, web_req *q, carnet_kind kind, const char *const *required);
/* Brief: PATCH of an entity of `kind` (400 when nothing to change). */
void web_crm_edit(carnet_replica *r, web_req *q, carnet_kind kind);
/* Brief: GET of an entity of `kind`. */
void web_crm_get(carnet_replica *r, web_req *q, carnet_kind kind);

#endif
