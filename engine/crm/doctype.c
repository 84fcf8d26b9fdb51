/* engine/crm/doctype.c - the names of document types and statuses
 * (carnet/document.h). Below both the record layer, which reads them
 * (engine/crm/record.c), and the documents, which write them
 * (engine/crm/document.c), so neither calls the other for a name. */
#include <stddef.h>
#include <string.h>

#include "carnet/document.h"

static const char *const type_names[] = {NULL, "quote", "order", "invoice", "credit_note"};
static const char *const status_names[] = {NULL,      "draft",    "sent", "refused",  "accepted",
                                           "ordered", "invoiced", "paid", "cancelled"};

const char *carnet_doc_type_name(carnet_doc_type t) {
  return t >= CARNET_DOC_QUOTE && t <= CARNET_DOC_CREDIT_NOTE ? type_names[t] : NULL;
}

carnet_doc_type carnet_doc_type_parse(const char *name) {
  for (int i = 1; name && i <= CARNET_DOC_CREDIT_NOTE; i++)
    if (strcmp(type_names[i], name) == 0) return (carnet_doc_type)i;
  return (carnet_doc_type)0;
}

const char *carnet_doc_status_name(carnet_doc_status s) {
  return s >= CARNET_ST_DRAFT && s <= CARNET_ST_CANCELLED ? status_names[s] : NULL;
}

carnet_doc_status carnet_doc_status_parse(const char *name) {
  for (int i = 1; name && i <= CARNET_ST_CANCELLED; i++)
    if (strcmp(status_names[i], name) == 0) return (carnet_doc_status)i;
  return (carnet_doc_status)0;
}
