/* engine/base/fold.c - folding names for matching (carnet/normalize.h).
 *
 * utf8proc does the Unicode part (NFKD, case folding, marks stripped); this
 * file decides what a "word" of a name is. Steps, in order:
 *
 *   1. utf8proc_map(COMPAT | DECOMPOSE | CASEFOLD | STRIPMARK | IGNORE):
 *      "Ｍüller" -> "muller", "ß" -> "ss", "ﬁ" -> "fi";
 *   2. letters that do not decompose but read as Latin ones: œ -> oe,
 *      æ -> ae, ø -> o, ł -> l, đ/ð -> d, þ -> th, ı -> i;
 *   3. apostrophes are removed (L'Atelier = LAtelier), anything else that is
 *      not a letter or a digit (punctuation, symbols, spaces) separates
 *      words;
 *   4. runs of one-letter words are joined, so "S.A.R.L." and "SARL" are one
 *      word (and "J. P. Dupont" reads "jp dupont" on every side);
 *   5. legal forms are dropped as whole words, unless nothing else is left;
 *      so are "ets", "cie", "co" and "et" ("Dupont et Cie" = "DUPONT & CO").
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "carnet/error.h"
#include "carnet/normalize.h"
#include "engine/base/alloc.h"
#include "engine/base/fold.h"

#define WORDS_MAX 64

/* Legal forms (France, Belgium, Switzerland, Luxembourg, Germany, UK, US,
 * Spain, Italy, Netherlands), folded. */
static const char *const legal_forms[] = {
    "sarl", "sas",  "sasu",    "sa",    "eurl", "sci",  "snc",  "ei",   "eirl", "scop",
    "sca",  "scs",  "selarl",  "selas", "sem",  "gie",  "earl", "gaec", "scea", "scm",
    "scp",  "sprl", "srl",     "sprlu", "asbl", "scrl", "gmbh", "ag",   "kg",   "ohg",
    "ug",   "ltd",  "limited", "plc",   "llp",  "inc",  "llc",  "corp", "co",   "bv",
    "nv",   "sl",   "spa",     "sapa",  "ets",  "cie",  "et",
};

#define LEGAL_FORM_MAX 7 /* "limited" */

static bool legal_form(const char *w, size_t n) {
  /* Called twice per word of every folded name: most words are longer
   * than any legal form or start with another letter. */
  if (n == 0 || n > LEGAL_FORM_MAX) return false;
  for (size_t i = 0; i < sizeof legal_forms / sizeof legal_forms[0]; i++)
    if (legal_forms[i][0] == w[0] && strlen(legal_forms[i]) == n &&
        memcmp(legal_forms[i], w, n) == 0)
      return true;
  return false;
}

/* Step 2: a Latin letter utf8proc leaves whole, as ASCII; NULL otherwise. */
const char *carnet__fold_latin(utf8proc_int32_t c) {
  switch (c) {
  case 0x0153:
    return "oe"; /* œ */
  case 0x00E6:
    return "ae"; /* æ */
  case 0x00F8:
    return "o"; /* ø */
  case 0x0142:
    return "l"; /* ł */
  case 0x0111:
    return "d"; /* đ */
  case 0x00F0:
    return "d"; /* ð */
  case 0x00FE:
    return "th"; /* þ */
  case 0x0131:
    return "i"; /* ı */
  default:
    return NULL;
  }
}

static bool apostrophe(utf8proc_int32_t c) {
  return c == '\'' || c == 0x2019 || c == 0x2018 || c == 0x02BC || c == 0x0060 || c == 0x00B4;
}

static bool word_char(utf8proc_int32_t c) {
  /* ASCII: letters and digits are the only L* and N* code points. */
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  switch (utf8proc_category(c)) {
  case UTF8PROC_CATEGORY_LU:
  case UTF8PROC_CATEGORY_LL:
  case UTF8PROC_CATEGORY_LT:
  case UTF8PROC_CATEGORY_LM:
  case UTF8PROC_CATEGORY_LO:
  case UTF8PROC_CATEGORY_ND:
  case UTF8PROC_CATEGORY_NL:
  case UTF8PROC_CATEGORY_NO:
    return true;
  default:
    return false;
  }
}

typedef struct words {
  char buf[CARNET_NAME_FOLD_MAX];
  size_t len;
  size_t start[WORDS_MAX], n[WORDS_MAX];
  size_t count;
} words;

/* Steps 1-4 into `w`. A name longer than the buffer is cut at a word. */
static int split(const char *s, words *w) {
  utf8proc_uint8_t *mapped = NULL, stack[256];
  w->len = w->count = 0;
  if (s == NULL) return CARNET_EINVAL;
  utf8proc_ssize_t m = 0;
  while (s[m] && (unsigned char)s[m] < 0x80)
    m++;
  if (s[m] == '\0') {
    /* Pure ASCII (most names): step 1 is lower-casing A-Z; NFKD, the other
     * case foldings, marks and ignorables concern only non-ASCII code
     * points. Same result as utf8proc_map, without its allocation. */
    /* On the stack when it fits (nearly every name), else freed with
     * utf8proc_map's buffers: C library. */
    mapped = (size_t)m < sizeof stack ? stack : malloc((size_t)m + 1);
    if (mapped == NULL) return CARNET_ENOMEM;
    for (utf8proc_ssize_t i = 0; i < m; i++) {
      unsigned char c = (unsigned char)s[i];
      mapped[i] = (utf8proc_uint8_t)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    mapped[m] = 0;
  } else {
    m = utf8proc_map((const utf8proc_uint8_t *)s, 0, &mapped,
                     UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE |
                         UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
    if (m < 0) return m == UTF8PROC_ERROR_NOMEM ? CARNET_ENOMEM : CARNET_EINVAL;
  }
  bool in_word = false, full = false, joined = false;
  for (utf8proc_ssize_t i = 0; i < m && !full;) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(mapped + i, m - i, &c);
    if (k <= 0) break; /* cannot happen: utf8proc_map produced it */
    i += k;
    if (apostrophe(c)) continue;
    const char *lat = carnet__fold_latin(c);
    char tmp[4];
    size_t tn = 0;
    if (lat) {
      tn = strlen(lat);
      memcpy(tmp, lat, tn);
    } else if (word_char(c)) {
      tn = (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)tmp);
    }
    if (tn == 0) {
      in_word = false;
      continue;
    }
    if (!in_word) {
      if (w->count == WORDS_MAX || w->len + 1 + tn >= sizeof w->buf) {
        full = true;
        break;
      }
      if (w->count > 0) w->len++; /* room for the space emit() writes */
      w->start[w->count] = w->len;
      w->n[w->count++] = 0;
      in_word = true;
    } else if (w->len + tn >= sizeof w->buf) {
      w->count--; /* cut at a word boundary: drop the partial word */
      full = true;
      break;
    }
    memcpy(w->buf + w->len, tmp, tn);
    w->len += tn;
    w->n[w->count - 1] += tn;
  }
  if (mapped != stack) free(mapped); /* utf8proc allocates with the C library */
  /* Step 4: join runs of one-letter words (one byte: ASCII after folding).
   * Words only move towards the start of the buffer, so none is overwritten
   * before it is read. */
  size_t out = 0;
  for (size_t i = 0; i < w->count; i++) {
    if (out > 0 && w->n[i] == 1 && joined) {
      w->buf[w->start[out - 1] + w->n[out - 1]] = w->buf[w->start[i]];
      w->n[out - 1] += 1;
      continue;
    }
    joined = w->n[i] == 1;
    w->start[out] = w->start[i];
    w->n[out++] = w->n[i];
  }
  w->count = out;
  return 0;
}

/* Whether each word is a legal form (step 5), read once per word. */
static void legal_words(const words *w, bool *legal) {
  for (size_t i = 0; i < w->count; i++)
    legal[i] = legal_form(w->buf + w->start[i], w->n[i]);
}

/* Step 5 and output: the `n` words listed in `order` joined by one space,
 * legal forms dropped unless that would leave nothing. */
static int emit(const words *w, const size_t *order, size_t n, const bool *legal, char *out) {
  size_t keep = 0, len = 0;
  for (size_t j = 0; j < n; j++)
    if (!legal[order[j]]) keep++;
  for (size_t j = 0; j < n; j++) {
    size_t i = order[j];
    if (keep > 0 && legal[i]) continue;
    if (len > 0) out[len++] = ' ';
    memcpy(out + len, w->buf + w->start[i], w->n[i]);
    len += w->n[i];
  }
  out[len] = '\0';
  return 0;
}

/* Steps 1-4 of `s` into `w`, and which words are legal forms, for an
 * output of out_len bytes (emptied first). */
static int prepare(const char *s, char *out, size_t out_len, words *w, bool *legal) {
  if (out_len > 0) out[0] = '\0';
  if (out_len < CARNET_NAME_FOLD_MAX) return CARNET_ELIMIT;
  int rc = split(s, w);
  if (rc == 0) legal_words(w, legal);
  return rc;
}

int carnet_name_fold(const char *s, char *out, size_t out_len) {
  words w;
  size_t order[WORDS_MAX];
  bool legal[WORDS_MAX];
  int rc = prepare(s, out, out_len, &w, legal);
  if (rc) return rc;
  for (size_t i = 0; i < w.count; i++)
    order[i] = i;
  return emit(&w, order, w.count, legal, out);
}

static int word_cmp(const words *w, size_t i, size_t j) {
  size_t n = w->n[i] < w->n[j] ? w->n[i] : w->n[j];
  int c = memcmp(w->buf + w->start[i], w->buf + w->start[j], n);
  if (c) return c;
  return (w->n[i] > w->n[j]) - (w->n[i] < w->n[j]);
}

/* The words in sorted order, repeated ones dropped, into `order`; returns
 * how many. Insertion sort (at most WORDS_MAX words). */
static size_t sort_words(const words *w, size_t *order) {
  size_t k = 0;
  for (size_t i = 0; i < w->count; i++) {
    size_t j = k;
    bool dup = false;
    for (size_t t = 0; t < k && !dup; t++)
      dup = word_cmp(w, order[t], i) == 0;
    if (dup) continue;
    while (j > 0 && word_cmp(w, order[j - 1], i) > 0) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
    k++;
  }
  return k;
}

int carnet_name_fold_sorted(const char *s, char *out, size_t out_len) {
  words w;
  size_t order[WORDS_MAX];
  bool legal[WORDS_MAX];
  int rc = prepare(s, out, out_len, &w, legal);
  return rc ? rc : emit(&w, order, sort_words(&w, order), legal, out);
}

int carnet__name_fold_both(const char *s, char *out, char *sorted, size_t out_len) {
  words w;
  size_t order[WORDS_MAX];
  bool legal[WORDS_MAX];
  if (out_len > 0) sorted[0] = '\0';
  int rc = prepare(s, out, out_len, &w, legal);
  if (rc) return rc;
  for (size_t i = 0; i < w.count; i++)
    order[i] = i;
  emit(&w, order, w.count, legal, out);
  return emit(&w, order, sort_words(&w, order), legal, sorted);
}

int carnet__name_legal_form(const char *s, char *out, size_t out_len) {
  words w;
  if (out_len > 0) out[0] = '\0';
  if (out_len <= LEGAL_FORM_MAX) return CARNET_ELIMIT;
  int rc = split(s, &w);
  if (rc) return rc;
  for (size_t i = 0; i < w.count; i++) {
    const char *p = w.buf + w.start[i];
    size_t n = w.n[i];
    /* Words dropped with the forms that are no form of their own. */
    if (!legal_form(p, n) || (n == 2 && (memcmp(p, "et", 2) == 0 || memcmp(p, "co", 2) == 0)) ||
        (n == 3 && (memcmp(p, "ets", 3) == 0 || memcmp(p, "cie", 3) == 0)))
      continue;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
  }
  return 0;
}
