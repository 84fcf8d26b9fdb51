/* web/list.h - one page of a list (`items` and the `next` cursor) built
 * from carnet_record_list, or for the customer list from the search
 * index. */
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

/* Brief: answer the page of customers `pg` selects (its filter, with the
 * search text in filter.text) from the search index (q->st->search):
 * the ids of the page from the index, then those records only. Returns
 * false, having answered nothing, when the index cannot answer (none was
 * built, it outgrew its bound, no memory) or `pg` is not a plain customer
 * list: then answer with web_page_answer, which scans. */
bool web_search_answer(web_req *q, carnet_replica *r, const web_page *pg);

/* Brief: web_page_answer, then the customers' labels of documents,
 * actions and reminders (web/api_doc.c). */
void web_crm_page(web_req *q, carnet_replica *r, const web_page *pg);

#endif
