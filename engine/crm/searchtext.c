/* engine/crm/searchtext.c - folding, documents and queries of a search (see
 * searchtext.h for what matches what).
 */
#include "engine/crm/searchtext.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/fold.h"

void carnet__sbuf_free(carnet__sbuf *b) {
  carnet__free(b->p);
  memset(b, 0, sizeof *b);
}

/* Room for `more` bytes and a NUL after them. */
static int reserve(carnet__sbuf *b, size_t more) {
  if (b->len + more + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + more + 1)
    cap *= 2;
  char *p = carnet__realloc(b->p, cap);
  if (p == NULL) return CARNET_ENOMEM;
  b->p = p;
  b->cap = cap;
  return 0;
}

/* The output of one folding: bytes go to `b`, white space is held back
 * until something follows it, so runs become one space and neither end
 * gets one. */
typedef struct out {
  carnet__sbuf *b;
  size_t start;
  bool space;
} out;

static int put(out *o, const char *s, size_t n) {
  int rc = reserve(o->b, n + 1);
  if (rc) return rc;
  if (o->space && o->b->len > o->start) o->b->p[o->b->len++] = ' ';
  o->space = false;
  memcpy(o->b->p + o->b->len, s, n);
  o->b->len += n;
  o->b->p[o->b->len] = '\0';
  return 0;
}

/* One ASCII byte (also the fallback for bytes that are not UTF-8). */
static int put_byte(out *o, unsigned char c) {
  if (c <= 0x20 || c == 0x7f) {
    o->space = true;
    return 0;
  }
  if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + ('a' - 'A'));
  if (c == '`') c = '\'';
  char ch = (char)c;
  return put(o, &ch, 1);
}

static bool white(utf8proc_int32_t c) {
  if (c < 0x80) return c <= 0x20 || c == 0x7f;
  if (c >= 0x80 && c < 0xa0) return true; /* C1 controls */
  utf8proc_category_t k = utf8proc_category(c);
  return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

/* The letters U+00C0..U+00FF as the utf8proc path below folds them (it
 * maps each code point on its own); NULL for x and the division sign,
 * left to utf8proc. tests/engine/test_search.c checks every entry
 * against utf8proc. */
static const char *const latin1[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c",  "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  NULL, "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c",  "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  NULL, "o", "u", "u", "u", "u", "y", "th", "y"};

/* The folding of the two bytes a b when they write a letter of latin1[],
 * or OE or oe (U+0152, U+0153); NULL otherwise. */
static const char *fast_letter(unsigned char a, unsigned char b) {
  if (a == 0xC3 && b >= 0x80 && b <= 0xBF) return latin1[b - 0x80];
  if (a == 0xC5 && (b == 0x92 || b == 0x93)) return "oe";
  return NULL;
}

/* ASCII and the letters of fast_letter, folded without utf8proc: nearly
 * every value of a French book, and a search folds every value of every
 * customer it reads. For ASCII, NFKD, case folding, marks and ignorables
 * only concern other code points, and LUMP leaves it as it is. Returns
 * false, having written nothing, when `s` holds anything else. */
static bool fold_fast(out *o, const char *s, size_t n, int *rc) {
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)s[i] < 0x80) continue;
    if (i + 1 >= n || fast_letter((unsigned char)s[i], (unsigned char)s[i + 1]) == NULL)
      return false;
    i++;
  }
  /* Each byte gives one byte at most (a run of spaces one space). */
  if ((*rc = reserve(o->b, n))) return true;
  char *p = o->b->p;
  size_t len = o->b->len;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *lat;
    char ch[2] = {0, 0};
    if (c < 0x80) {
      if (c <= 0x20 || c == 0x7f) {
        o->space = true;
        continue;
      }
      if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + ('a' - 'A'));
      if (c == '`') c = '\'';
      ch[0] = (char)c;
      lat = ch;
    } else {
      lat = fast_letter(c, (unsigned char)s[++i]);
    }
    if (o->space && len > o->start) p[len++] = ' ';
    o->space = false;
    while (*lat)
      p[len++] = *lat++;
  }
  p[len] = '\0';
  o->b->len = len;
  return true;
}

int carnet__sfold(carnet__sbuf *b, const char *s, size_t n) {
  out o = {.b = b, .start = b->len};
  int rc = reserve(b, 0); /* b->p exists and ends in a NUL */
  if (rc) return rc;
  b->p[b->len] = '\0';
  if (fold_fast(&o, s, n, &rc)) return rc;
  utf8proc_uint8_t *mapped = NULL;
  utf8proc_ssize_t m =
      utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &mapped,
                   UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD |
                       UTF8PROC_STRIPMARK | UTF8PROC_IGNORE | UTF8PROC_LUMP);
  if (m == UTF8PROC_ERROR_NOMEM) return CARNET_ENOMEM;
  if (m < 0) {
    /* Not UTF-8 (a stored value is checked on write, a query is not):
     * ASCII letters are lowered, other bytes kept, on every side alike. */
    for (size_t i = 0; i < n && rc == 0; i++)
      rc = put_byte(&o, (unsigned char)s[i]);
    return rc;
  }
  for (utf8proc_ssize_t j = 0; j < m && rc == 0;) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(mapped + j, m - j, &c);
    if (k <= 0) break; /* cannot happen: utf8proc_map wrote it */
    j += k;
    if (c < 0x80) {
      rc = put_byte(&o, (unsigned char)c);
      continue;
    }
    if (white(c)) {
      o.space = true;
      continue;
    }
    if (c == 0x00B4) { /* ´ typed as an apostrophe */
      rc = put(&o, "'", 1);
      continue;
    }
    const char *lat = carnet__fold_latin(c);
    if (lat) {
      rc = put(&o, lat, strlen(lat));
      continue;
    }
    char tmp[4];
    rc = put(&o, tmp, (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)tmp));
  }
  free(mapped); /* utf8proc allocates with the C library */
  return rc;
}

/* --- Documents ------------------------------------------------------------- */

int carnet__sdoc_value(carnet__sbuf *b, const char *v, size_t n) {
  size_t len0 = b->len;
  int rc;
  if (n == 0) return 0;
  if (len0 > 0) {
    if ((rc = reserve(b, 1))) return rc;
    b->p[b->len++] = '\n';
  }
  if ((rc = carnet__sfold(b, v, n))) return rc;
  if (b->len == len0 + (len0 > 0)) b->len = len0; /* folded to nothing */
  if (b->p) b->p[b->len] = '\0';
  return 0;
}

static size_t next_off(const carnet__sbuf *b) {
  return b->len > 0 ? b->len + 1 : 0;
}

int carnet__sdoc_build(const carnet_record *rec, carnet__sbuf *b, carnet__sdoc *d) {
  static const carnet_field scalars[] = {CARNET_F_NAME, CARNET_F_COMPANY, CARNET_F_REFCODE,
                                         CARNET_F_CITY, CARNET_F_STREET,  CARNET_F_POSTCODE,
                                         CARNET_F_NOTES};
  static const carnet_field sets[] = {CARNET_F_EMAILS, CARNET_F_TAGS};
  const char *const *el;
  int rc = 0;
  b->len = 0;
  for (size_t i = 0; rc == 0 && i < sizeof scalars / sizeof scalars[0]; i++) {
    const char *v = carnet_record_str(rec, scalars[i]);
    if (v) rc = carnet__sdoc_value(b, v, strlen(v));
  }
  for (size_t i = 0; rc == 0 && i < sizeof sets / sizeof sets[0]; i++) {
    size_t n = carnet_record_elems(rec, sets[i], &el);
    for (size_t k = 0; rc == 0 && k < n; k++)
      rc = carnet__sdoc_value(b, el[k], strlen(el[k]));
  }
  if (rc) return rc;
  const char *siret = carnet_record_str(rec, CARNET_F_SIRET);
  size_t at = next_off(b), len0 = b->len;
  if (siret && (rc = carnet__sdoc_value(b, siret, strlen(siret)))) return rc;
  d->siret_off = b->len > len0 ? at : b->len;
  /* Phones read "type:+E164" or "type:+E164;ext=N": only the number is
   * searched. */
  size_t n = carnet_record_elems(rec, CARNET_F_PHONES, &el);
  at = next_off(b);
  len0 = b->len;
  for (size_t k = 0; rc == 0 && k < n; k++) {
    const char *num = strrchr(el[k], ':');
    num = num ? num + 1 : el[k];
    const char *ext = strchr(num, ';');
    rc = carnet__sdoc_value(b, num, ext ? (size_t)(ext - num) : strlen(num));
  }
  if (rc) return rc;
  d->phones_off = b->len > len0 ? at : b->len;
  if (d->siret_off > d->phones_off) d->siret_off = d->phones_off;
  if ((rc = reserve(b, 0))) return rc;
  b->p[b->len] = '\0';
  return 0;
}

/* --- Queries --------------------------------------------------------------- */

void carnet__squery_free(carnet__squery *q) {
  carnet__sbuf_free(&q->text);
}

/* Rules P and S of `s` (n bytes) when it is written like a number:
 * digits, spaces (when `spaces`) and . + - ( ) / only; returns whether it
 * is. */
static bool number_rules(const char *s, size_t n, bool spaces, carnet__snum *num) {
  char digits[sizeof num->phone];
  size_t nd = 0;
  bool number = true;
  memset(num, 0, sizeof *num);
  for (size_t i = 0; number && i < n; i++) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      if (nd + 1 < sizeof digits)
        digits[nd++] = c;
      else
        number = false;
    } else if (strchr(".+-()/", c) == NULL && !(spaces && c == ' ')) {
      number = false;
    }
  }
  if (!number) return false;
  digits[nd] = '\0';
  if (nd >= 3) memcpy(num->siret, digits, nd + 1);
  const char *p = digits;
  size_t lead = 0;
  while (lead < n && s[lead] == ' ')
    lead++;
  if (lead == n || s[lead] != '+') {
    if (p[0] == '0' && p[1] == '0')
      p += 2; /* 0033...: the international prefix */
    else if (p[0] == '0')
      p += 1; /* 06...: the national trunk prefix, not in E.164 */
  }
  if (strlen(p) >= 3) memcpy(num->phone, p, strlen(p) + 1);
  return true;
}

int carnet__squery_init(carnet__squery *q, const char *text) {
  memset(q, 0, sizeof *q);
  q->any = true;
  if (text == NULL || text[0] == '\0') return 0;
  size_t n = strlen(text);
  int rc = carnet__sfold(&q->text, text, n);
  if (rc) {
    carnet__squery_free(q);
    return rc;
  }
  /* N: the whole query, as typed, written like a number: one number,
   * whose spaces are part of it ("06 12" is not "06" and "12"). */
  bool number = number_rules(text, n, true, &q->whole);
  /* W: the words of the folding (single spaces, none at either end). */
  for (size_t at = 0; at < q->text.len;) {
    carnet__sword *w = &q->words[q->nwords++];
    const char *sp = !number && q->nwords < CARNET__SQUERY_WORDS
                         ? memchr(q->text.p + at, ' ', q->text.len - at)
                         : NULL;
    w->off = at;
    w->len = sp ? (size_t)(sp - (q->text.p + at)) : q->text.len - at;
    number_rules(q->text.p + w->off, w->len, false, &w->num);
    at += w->len + 1;
  }
  q->any = q->nwords == 0 && q->whole.phone[0] == '\0' && q->whole.siret[0] == '\0';
  return 0;
}

/* Whether `nd` (nn bytes, nn > 0) occurs in `h` (hn bytes). */
static bool find(const char *h, size_t hn, const char *nd, size_t nn) {
  if (hn < nn) return false;
  const char *p = h, *last = h + (hn - nn);
  while (p <= last) {
    p = memchr(p, nd[0], (size_t)(last - p) + 1);
    if (p == NULL) return false;
    if (memcmp(p + 1, nd + 1, nn - 1) == 0) return true;
    p++;
  }
  return false;
}

/* Rules P and S against the phones and the SIRET of a document. */
static bool number_match(const carnet__snum *num, const char *doc, size_t len, size_t siret_off,
                         size_t phones_off) {
  if (num->phone[0] && phones_off < len &&
      find(doc + phones_off, len - phones_off, num->phone, strlen(num->phone)))
    return true;
  if (num->siret[0] && siret_off < phones_off &&
      find(doc + siret_off, phones_off - siret_off, num->siret, strlen(num->siret)))
    return true;
  return false;
}

bool carnet__squery_match(const carnet__squery *q, const char *doc, size_t len, size_t siret_off,
                          size_t phones_off) {
  if (q->any) return true;
  if (number_match(&q->whole, doc, len, siret_off, phones_off)) return true;
  if (q->nwords == 0) return false;
  for (size_t i = 0; i < q->nwords; i++) {
    const carnet__sword *w = &q->words[i];
    if (!find(doc, len, q->text.p + w->off, w->len) &&
        !number_match(&w->num, doc, len, siret_off, phones_off))
      return false;
  }
  return true;
}
