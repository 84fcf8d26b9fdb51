/* web/patch.h - a customer's or a contact's fields, as the JSON body of
 * POST and PATCH gives them (the record shape of web/view.h), into a
 * patch: values converted as the command line's field flags convert them,
 * by the same library call (carnet_patch_parse: a phone without type is
 * mobile when French 06/07, a discount in percent, a date checked, a
 * custom field checked against its type), sets diffed against the record
 * being edited. A value refused there names the API's key; the rest is
 * checked by the engine at write time ("(field emails)"). */
#ifndef CARNET_WEB_PATCH_H
#define CARNET_WEB_PATCH_H

#include "req.h"

/* Brief: fill `p` (of `kind`: customer or contact) from `body`. `cur` is
 * the record being edited, or NULL for a new one. *touched receives the
 * number of fields written. Returns false with the answer set (400 and the
 * field) on a value of the wrong shape or an unknown key. Runs on the node
 * thread (a contact's customer is resolved through `r`, and the stored
 * phones of `cur` are compared in `r`'s default region). */
bool web_patch_build(web_req *q, carnet_replica *r, carnet_kind kind, json_t *body,
                     const carnet_record *cur, carnet_patch *p, size_t *touched);

/* Brief: the header fields of a document, or the fields of an action or a
 * reminder, from `body` into `p` (the keys of their record shapes);
 * references resolved (a live customer, a contact), dates checked with
 * the command line's messages. `cur` as web_patch_build (an action's
 * `customers` given is the new whole set). */
bool web_patch_crm(web_req *q, carnet_replica *r, carnet_kind kind, json_t *body,
                   const carnet_record *cur, carnet_patch *p, size_t *touched);
#endif
