/* web/list.c - paging and search (see list.h).
 *
 * A page is the records after the cursor's id, in id order, that pass the
 * filter: limit + 1 are collected, so the answer knows whether a next page
 * exists without a second scan.
 *
 * The customer list asks the search index (carnet/search.h) for the ids of
 * its page, then reads those records only; the other lists, and the
 * customer list when the index could not answer, go through
 * carnet_record_list. Both give the same page (tests/engine/test_search.c).
 */
#include "list.h"

#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "view.h"

typedef struct page_st {
  const web_page *pg;
  bool has_after;
  carnet_id after;
  size_t limit, n;
  json_t *items;
  carnet_id last;
  bool more, oom;
} page_st;

static int page_cb(const carnet_record *rec, void *data) {
  page_st *s = data;
  const carnet_id *id = carnet_record_id(rec);
  if (s->has_after && memcmp(id->b, s->after.b, 16) <= 0) return 0;
  if (s->pg->keep && !s->pg->keep(rec, s->pg->data)) return 0;
  if (s->n == s->limit) {
    s->more = true;
    return 1;
  }
  if (!web_json_push(s->items, s->pg->view(rec, s->pg->data))) {
    s->oom = true;
    return 1;
  }
  s->last = *id;
  s->n++;
  return 0;
}

/* `limit` and `cursor`, or the 400 answer. */
static bool page_args(web_req *q, size_t *limit, bool *has_after, carnet_id *after) {
  if (!web_parse_limit(web_arg_get(q, "limit"), limit)) {
    web_error(q, 400, CARNET_EINVAL, "limit", "invalid limit '%s': a number from 1 to 500",
              web_arg_get(q, "limit"));
    return false;
  }
  if (!web_parse_cursor(web_arg_get(q, "cursor"), has_after, after)) {
    web_error(q, 400, CARNET_EINVAL, "cursor",
              "invalid cursor: give the 'next' of the previous page");
    return false;
  }
  return true;
}

void web_page_answer(web_req *q, carnet_replica *r, const web_page *pg) {
  page_st s = {.pg = pg};
  if (!page_args(q, &s.limit, &s.has_after, &s.after)) return;
  if ((s.items = json_array()) == NULL) {
    web_oom(q);
    return;
  }
  int rc = carnet_record_list(r, pg->kind, &pg->filter, page_cb, &s);
  if (s.oom) {
    json_decref(s.items);
    web_oom(q);
    return;
  }
  if (rc < 0) {
    json_decref(s.items);
    web_fail(q, r, rc, NULL);
    return;
  }
  char next[40];
  if (s.more) web_format_cursor(&s.last, next);
  web_ok(q, 200, json_pack("{s:o,s:s?}", "items", s.items, "next", s.more ? next : NULL));
}

/* --- The customer list through the search index ------------------------------- */

bool web_search_answer(web_req *q, carnet_replica *r, const web_page *pg) {
  carnet_search *idx = q->st->search;
  carnet_id after, *ids = NULL;
  bool has_after = false;
  size_t limit = 0, n = 0;
  json_t *items = NULL;
  if (idx == NULL || pg->kind != CARNET_KIND_CUSTOMER || pg->keep) return false;
  if (!page_args(q, &limit, &has_after, &after)) return true;
  if ((ids = malloc((limit + 1) * sizeof *ids)) == NULL || (items = json_array()) == NULL) {
    free(ids);
    web_oom(q);
    return true;
  }
  int rc = carnet_search_query(idx, &pg->filter, has_after ? &after : NULL, ids, limit + 1, &n);
  if (rc == CARNET_ELIMIT || rc == CARNET_ENOMEM) { /* the index cannot: scan */
    free(ids);
    json_decref(items);
    return false;
  }
  if (rc) {
    free(ids);
    json_decref(items);
    web_fail(q, r, rc, NULL);
    return true;
  }
  bool more = n > limit;
  for (size_t i = 0; i < n && i < limit; i++) {
    carnet_record *rec = NULL;
    /* The index is current with the store on this thread: each id reads. */
    if ((rc = carnet_record_get(r, &ids[i], &rec))) {
      free(ids);
      json_decref(items);
      web_fail(q, r, rc, NULL);
      return true;
    }
    bool ok = web_json_push(items, pg->view(rec, pg->data));
    carnet_record_free(rec);
    if (!ok) {
      free(ids);
      json_decref(items);
      web_oom(q);
      return true;
    }
  }
  char next[40];
  if (more) web_format_cursor(&ids[limit - 1], next);
  free(ids);
  web_ok(q, 200, json_pack("{s:o,s:s?}", "items", items, "next", more ? next : NULL));
  return true;
}
