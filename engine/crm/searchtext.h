/* engine/crm/searchtext.h - what a search text matches (not API): the folding,
 * a record's searchable document, a compiled query.
 *
 * One definition serves carnet_record_list's `text` filter (engine/crm/read.c)
 * and the in-memory index (engine/crm/search.c), so the two answer the same by
 * construction: both build the same document from the same record and run
 * the same match on it.
 *
 * Folding (carnet__sfold) maps each code point on its own, so that a
 * substring of a value folds to a substring of the folded value:
 *
 *   utf8proc COMPAT | DECOMPOSE | CASEFOLD | STRIPMARK | IGNORE | LUMP:
 *   "É" -> "e", "ß" -> "ss", "ﬁ" -> "fi", "’" -> "'", "‐" -> "-";
 *   œ -> oe, æ -> ae, ø -> o, ł -> l, đ/ð -> d, þ -> th, ı -> i (as
 *   engine/base/fold.c); ` and ´ -> '; white space and control characters ->
 *   one space, none at either end. Punctuation stays: "client.3@" is not
 *   "client 30". Bytes that are not valid UTF-8 make the value fold as
 *   ASCII only (A-Z lowered, the rest kept).
 *
 * The document of a record, one allocation of text:
 *
 *   fold(name) \n fold(company) \n fold(ref) \n fold(city) \n fold(street)
 *   \n fold(postcode) \n fold(notes) \n fold(e-mail)... \n fold(tag)...
 *   \n fold(siret) <- siret_off       \n +E164... <- phones_off
 *
 * (empty values left out). '\n' never comes out of folding, so a query
 * never matches across two values.
 *
 * A query is cut into words at its (folded) spaces; it matches a
 * document when
 *   W. every word matches the document, each on its own and in any value
 *      ("martin lyon" finds Martin of Lyon, and so does "lyon martin";
 *      a single word is the whole query), a word matching when
 *      T. it is a substring of the document (of one value: '\n' is never
 *         in a word); or
 *      P. it is written like a phone number (digits and . + - ( ) /
 *         only) and its digits, less a national trunk 0 or an
 *         international 00 (none after a '+'), at least 3, are a
 *         substring of a phone's digits; or
 *      S. written so, its digits (at least 3) are a substring of the
 *         SIRET; or
 *   N. the whole query is written like a number (spaces allowed) and its
 *      digits match a phone (P) or the SIRET (S): "06 12 34 56 78",
 *      "0612345678" and "+33 6 12 34 56 78" all find +33612345678, and
 *      "123 456 789" finds 12345678900012. Such a query is one word, its
 *      spaces kept: "06 12" is a number, not the words "06" and "12".
 * At most CARNET__SQUERY_WORDS words are told apart: the last one holds
 * the rest of the text, spaces included. A query whose folding is empty
 * and that is not written like a number constrains nothing (it matches
 * every document).
 */
#ifndef CARNET_ENGINE_SEARCHTEXT_H
#define CARNET_ENGINE_SEARCHTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "carnet/record.h"

/* A growing byte buffer (carnet__realloc). */
typedef struct carnet__sbuf {
  char *p;
  size_t len, cap;
} carnet__sbuf;

void carnet__sbuf_free(carnet__sbuf *b);

/* Brief: append the folding of `s` (n bytes) to `b` (not NUL-terminated;
 * b->p[b->len] is kept a NUL when b->p is set). Errors: CARNET_ENOMEM. */
int carnet__sfold(carnet__sbuf *b, const char *s, size_t n);

/* A record's document (see above): `b` holds text_len bytes and a NUL. */
typedef struct carnet__sdoc {
  size_t siret_off;  /* where the SIRET starts (= phones_off when none) */
  size_t phones_off; /* where the phones start (= the length when none) */
} carnet__sdoc;

/* Brief: the document of `rec` in `b` (emptied first) and its offsets in
 * `d`. Errors: CARNET_ENOMEM. */
int carnet__sdoc_build(const carnet_record *rec, carnet__sbuf *b, carnet__sdoc *d);

/* Brief: append a value of a document: a '\n' (none before the first
 * value), then its folding; nothing when it folds to nothing. Errors:
 * CARNET_ENOMEM. */
int carnet__sdoc_value(carnet__sbuf *b, const char *v, size_t n);

/* The most words a query tells apart (see above). */
#define CARNET__SQUERY_WORDS 16

/* Rules P and S of a text written like a number: its digits, "" = no
 * such rule. */
typedef struct carnet__snum {
  char phone[64];
  char siret[64];
} carnet__snum;

/* One word of a query: bytes [off, off + len) of the folded text. */
typedef struct carnet__sword {
  size_t off, len;
  carnet__snum num;
} carnet__sword;

/* A compiled query. */
typedef struct carnet__squery {
  carnet__sbuf text;  /* folded; len 0 = no word */
  carnet__snum whole; /* N: the whole query as a number */
  carnet__sword words[CARNET__SQUERY_WORDS];
  size_t nwords;
  bool any; /* no rule at all: matches everything */
} carnet__squery;

/* Brief: compile `text` (NULL or "": matches everything). Free with
 * carnet__squery_free. Errors: CARNET_ENOMEM. */
int carnet__squery_init(carnet__squery *q, const char *text);
void carnet__squery_free(carnet__squery *q);

/* Brief: whether the document `doc` (len bytes, offsets `d`) matches. */
bool carnet__squery_match(const carnet__squery *q, const char *doc, size_t len, size_t siret_off,
                          size_t phones_off);

#endif
