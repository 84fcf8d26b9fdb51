/* web/list.c - paging and search (see list.h).
 *
 * A page is the records after the cursor's id, in id order, that pass the
 * filter: limit + 1 are collected, so the answer knows whether a next page
 * exists without a second scan.
 */
#include "list.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

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

void web_page_answer(web_req *q, carnet_replica *r, const web_page *pg) {
  page_st s = {.pg = pg};
  if (!web_parse_limit(web_arg_get(q, "limit"), &s.limit)) {
    web_error(q, 400, CARNET_EINVAL, "limit", "invalid limit '%s': a number from 1 to 500",
              web_arg_get(q, "limit"));
    return;
  }
  if (!web_parse_cursor(web_arg_get(q, "cursor"), &s.has_after, &s.after)) {
    web_error(q, 400, CARNET_EINVAL, "cursor",
              "invalid cursor: give the 'next' of the previous page");
    return;
  }
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

/* --- Search ------------------------------------------------------------------ */

static bool ascii_plain(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80 || !(isalnum((unsigned char)*s) || *s == ' ')) return false;
  return true;
}


void web_search_init(web_search *s, const char *text) {
  memset(s, 0, sizeof *s);
  s->raw = text && text[0] ? text : NULL;
  if (s->raw == NULL) return;
  if (carnet_name_fold(text, s->folded, sizeof s->folded) != 0) s->folded[0] = '\0';
  size_t n = 0;
  for (const char *p = text; *p && n + 1 < sizeof s->digits; p++)
    if (isdigit((unsigned char)*p)) s->digits[n++] = *p;
  s->digits[n] = '\0';
  /* "06 12" finds +33612...: the national trunk 0 is not in E.164. */
  if (s->digits[0] == '0') memmove(s->digits, s->digits + 1, n);
  if (strlen(s->digits) < 3 || strspn(text, "0123456789 .+-()") != strlen(text))
    s->digits[0] = '\0';
  /* A query of plain ASCII words that folds to itself (lower case, single
   * spaces, no legal form dropped) matches a plain ASCII value exactly when
   * a case-insensitive substring does. */
  s->plain = ascii_plain(text) && strcasecmp(text, s->folded) == 0;
}

/* Case-insensitive (ASCII) substring, as the engine's filter. */
static bool contains_ci(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (; hay && *hay; hay++)
    if (strncasecmp(hay, needle, n) == 0) return true;
  return false;
}

static bool folded_has(const char *value, const web_search *s) {
  char f[CARNET_NAME_FOLD_MAX];
  if (value == NULL) return false;
  if (contains_ci(value, s->raw)) return true;
  if (s->folded[0] == '\0') return false;
  /* Folding a value made of ASCII letters, digits and spaces only changes
   * its case (and drops legal forms, which a plain query has dropped too),
   * which contains_ci has already covered: utf8proc, the costly part of a
   * search, runs only for values that need it. */
  if (s->plain && ascii_plain(value)) return false;
  if (carnet_name_fold(value, f, sizeof f) != 0) return false;
  return strstr(f, s->folded) != NULL;
}

bool web_search_match(const carnet_record *rec, void *search) {
  const web_search *s = search;
  static const carnet_field scalars[] = {CARNET_F_NAME,   CARNET_F_COMPANY,  CARNET_F_REFCODE,
                                         CARNET_F_CITY,   CARNET_F_STREET,   CARNET_F_POSTCODE,
                                         CARNET_F_NOTES,  CARNET_F_SIRET};
  static const carnet_field sets[] = {CARNET_F_EMAILS, CARNET_F_TAGS};
  if (s->raw == NULL) return true;
  for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
    if (folded_has(carnet_record_str(rec, scalars[i]), s)) return true;
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
    const char *const *v;
    size_t n = carnet_record_elems(rec, sets[i], &v);
    for (size_t k = 0; k < n; k++)
      if (folded_has(v[k], s)) return true;
  }
  const char *const *ph;
  size_t n = carnet_record_elems(rec, CARNET_F_PHONES, &ph);
  for (size_t k = 0; k < n; k++) {
    if (contains_ci(ph[k], s->raw)) return true;
    if (s->digits[0] && strstr(ph[k], s->digits)) return true;
  }
  return false;
}
