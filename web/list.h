/* web/list.h - one page of a list (`items` and the `next` cursor) built
 * from carnet_record_list, and the folded text search of the customer
 * list. */
#ifndef CARNET_WEB_LIST_H
#define CARNET_WEB_LIST_H

#include "req.h"

/* Brief: the JSON of one record of a page; NULL on ENOMEM. */
typedef json_t *(*web_view_fn)(const carnet_record *rec, void *data);
/* Brief: whether a record belongs in the page beyond the engine's filter. */
typedef bool (*web_keep_fn)(const carnet_record *rec, void *data);

typedef struct web_page {
  carnet_kind kind;
  carnet_filter filter;
  web_view_fn view;
  web_keep_fn keep; /* may be NULL */
  void *data;
} web_page;

/* Brief: answer 200 with the page of `pg` that `limit` and `cursor` (query
 * parameters) select, or the error (400 bad limit or cursor, the library's
 * error). */
void web_page_answer(web_req *q, carnet_replica *r, const web_page *pg);

/* A search text folded once, matched against records. */
typedef struct web_search {
  char folded[CARNET_NAME_FOLD_MAX];
  char digits[32]; /* the text's digits, without a leading 0: for phones */
  const char *raw;
  bool plain; /* the query folds to itself (see web/list.c) */
} web_search;

/* Brief: prepare `text` (NULL or "": matches everything). */
void web_search_init(web_search *s, const char *text);
/* Brief: case- and accent-insensitive substring of a customer's or
 * contact's name, company, reference, address, notes, SIRET, e-mails,
 * tags; phones by their digits. A web_keep_fn. */
bool web_search_match(const carnet_record *rec, void *search);

/* Brief: web_page_answer, then the customers' labels of documents,
 * actions and reminders (web/api_doc.c). */
void web_crm_page(web_req *q, carnet_replica *r, const web_page *pg);

#endif
