/* io/csv.c - the CSV decoder and encoder (io/csv.h). */
#include "io/csv.h"
#include "engine/base/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"

#define SNIFF_BYTES 65536

/* The length of the valid UTF-8 multi-byte sequence at s[i] (2 to 4), or 0
 * when s[i] does not start one (strict: no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t i, size_t len) {
  unsigned char c = s[i];
  size_t n;
  unsigned cp;
  if (c >= 0xc2 && c <= 0xdf)
    n = 1, cp = c & 0x1fu;
  else if (c >= 0xe0 && c <= 0xef)
    n = 2, cp = c & 0x0fu;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 3, cp = c & 0x07u;
  else
    return 0;
  if (len - i <= n) return 0;
  for (size_t k = 1; k <= n; k++) {
    if ((s[i + k] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i + k] & 0x3fu);
  }
  if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n + 1;
}

bool carnet__utf8_valid(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    size_t n = utf8_seq(s, i, len);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

/* Windows-1252 0x80..0x9f; the five holes keep their C1 code point. */
static const unsigned short cp1252_high[32] = {
    0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178};

/* Where the pieces of the minority encoding are in the converted text. */
typedef struct marks {
  size_t *at;          /* offsets in the converted text, ascending */
  unsigned char *byte; /* the first byte of each piece */
  size_t n, cap;
} marks;

static int mark_add(marks *m, size_t at, unsigned char byte) {
  if (m->n == m->cap) {
    size_t cap = m->cap ? 2 * m->cap : 64;
    size_t *a = carnet__realloc(m->at, cap * sizeof *a);
    if (a == NULL) return CARNET_ENOMEM;
    m->at = a;
    unsigned char *b = carnet__realloc(m->byte, cap);
    if (b == NULL) return CARNET_ENOMEM;
    m->byte = b;
    m->cap = cap;
  }
  m->at[m->n] = at;
  m->byte[m->n++] = byte;
  return 0;
}

static void marks_free(marks *m) {
  carnet__free(m->at);
  carnet__free(m->byte);
  memset(m, 0, sizeof *m);
}

/* Counts the valid multi-byte sequences and the stray bytes. */
static void census(const unsigned char *s, size_t len, uint64_t *seqs, uint64_t *strays) {
  *seqs = *strays = 0;
  for (size_t i = 0; i < len;) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    size_t n = utf8_seq(s, i, len);
    if (n) {
      (*seqs)++;
      i += n;
    } else {
      (*strays)++;
      i++;
    }
  }
}

/* The text as UTF-8: a valid sequence as it is, a stray byte read as
 * Windows-1252. The pieces of the minority encoding (stray bytes when
 * `utf8`, sequences otherwise) are marked at their offset in the result. */
static char *to_utf8(const unsigned char *s, size_t len, bool utf8, marks *m, size_t *out_len) {
  if (len > SIZE_MAX / 3 - 1) return NULL;
  char *out = carnet__malloc(len * 3 + 1), *p = out;
  if (out == NULL) return NULL;
  for (size_t i = 0; i < len;) {
    if (s[i] < 0x80) {
      *p++ = (char)s[i++];
      continue;
    }
    size_t n = utf8_seq(s, i, len);
    if (n) {
      if (!utf8 && mark_add(m, (size_t)(p - out), s[i])) goto nomem;
      memcpy(p, s + i, n);
      p += n;
      i += n;
      continue;
    }
    if (utf8 && mark_add(m, (size_t)(p - out), s[i])) goto nomem;
    unsigned cp = s[i] < 0xa0 ? cp1252_high[s[i] - 0x80] : s[i];
    if (cp < 0x800) {
      *p++ = (char)(0xc0 | (cp >> 6));
      *p++ = (char)(0x80 | (cp & 0x3f));
    } else {
      *p++ = (char)(0xe0 | (cp >> 12));
      *p++ = (char)(0x80 | ((cp >> 6) & 0x3f));
      *p++ = (char)(0x80 | (cp & 0x3f));
    }
    i++;
  }
  *out_len = (size_t)(p - out);
  return out;
nomem:
  carnet__free(out);
  return NULL;
}

/* The separator most often found outside quotes near the start. */
static char sniff_sep(const char *s, size_t len) {
  size_t n[3] = {0, 0, 0};
  bool quoted = false;
  if (len > SNIFF_BYTES) len = SNIFF_BYTES;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '"')
      quoted = !quoted;
    else if (!quoted)
      n[0] += s[i] == ';', n[1] += s[i] == ',', n[2] += s[i] == '\t';
  }
  if (n[0] >= n[1] && n[0] >= n[2] && n[0] > 0) return ';';
  if (n[2] > n[1]) return '\t';
  return ',';
}

static void say(char *why, size_t why_len, const char *fmt, unsigned long line) {
  if (why && why_len) snprintf(why, why_len, fmt, line);
}

typedef struct parser {
  const char *s;
  size_t len, i;
  unsigned long line;
  char sep;
  carnet__sheet *t;
  carnet__iobuf field;  /* a quoted field, unescaped */
  const marks *m;       /* pieces in the minority encoding */
  size_t next_mark;     /* the first mark not yet passed */
  carnet__csv_bad *bad; /* the records holding one */
  size_t nbad, capbad;
} parser;

/* After a record that spans [start, p->i): note it when a mark falls in it. */
static int note_bad(parser *p, size_t start) {
  const marks *m = p->m;
  bool hit = false;
  unsigned char byte = 0;
  while (p->next_mark < m->n && m->at[p->next_mark] < p->i) {
    if (!hit && m->at[p->next_mark] >= start) {
      hit = true;
      byte = m->byte[p->next_mark];
    }
    p->next_mark++;
  }
  if (!hit) return 0;
  if (p->nbad == p->capbad) {
    size_t cap = p->capbad ? 2 * p->capbad : 16;
    carnet__csv_bad *b = carnet__realloc(p->bad, cap * sizeof *b);
    if (b == NULL) return CARNET_ENOMEM;
    p->bad = b;
    p->capbad = cap;
  }
  p->bad[p->nbad++] = (carnet__csv_bad){carnet__sheet_rows(p->t) - 1, byte};
  return 0;
}

/* One field starting at p->i; stops on the separator or line end (not
 * consumed). */
static int parse_field(parser *p, char *why, size_t why_len) {
  const char *s = p->s;
  size_t start = p->i;
  if (p->i < p->len && s[p->i] == '"') {
    unsigned long qline = p->line;
    p->field.len = 0;
    p->i++;
    for (;;) {
      size_t run = p->i;
      while (p->i < p->len && s[p->i] != '"')
        p->line += s[p->i++] == '\n';
      if (carnet__iobuf_put(&p->field, s + run, p->i - run)) return CARNET_ENOMEM;
      if (p->i >= p->len) {
        say(why, why_len, "line %lu: a quoted field is never closed (a missing '\"')", qline);
        return CARNET_EINVAL;
      }
      p->i++; /* the quote */
      if (p->i < p->len && s[p->i] == '"') {
        if (carnet__iobuf_put(&p->field, "\"", 1)) return CARNET_ENOMEM;
        p->i++;
        continue;
      }
      break;
    }
    /* Text between the closing quote and the separator is kept. */
    size_t tail = p->i;
    while (p->i < p->len && s[p->i] != p->sep && s[p->i] != '\n' && s[p->i] != '\r')
      p->i++;
    if (carnet__iobuf_put(&p->field, s + tail, p->i - tail)) return CARNET_ENOMEM;
    return carnet__sheet_cell(p->t, p->field.data ? p->field.data : "", p->field.len);
  }
  while (p->i < p->len && s[p->i] != p->sep && s[p->i] != '\n' && s[p->i] != '\r')
    p->i++;
  return carnet__sheet_cell(p->t, s + start, p->i - start);
}

static int parse(parser *p, char *why, size_t why_len) {
  int rc;
  while (p->i < p->len) {
    char c = p->s[p->i];
    if (c == '\n' || c == '\r') { /* a blank line */
      p->i += c == '\r' && p->i + 1 < p->len && p->s[p->i + 1] == '\n' ? 2 : 1;
      p->line++;
      continue;
    }
    if ((rc = carnet__sheet_row(p->t, p->line > UINT32_MAX ? UINT32_MAX : (uint32_t)p->line)))
      goto limit;
    size_t start = p->i;
    for (;;) {
      if ((rc = parse_field(p, why, why_len))) goto limit;
      if (p->i < p->len && p->s[p->i] == p->sep) {
        p->i++;
        continue;
      }
      break;
    }
    if (p->m->n && (rc = note_bad(p, start))) return rc;
    if (p->i < p->len) { /* a line end */
      p->i += p->s[p->i] == '\r' && p->i + 1 < p->len && p->s[p->i + 1] == '\n' ? 2 : 1;
      p->line++;
    }
  }
  return 0;
limit:
  if (rc == CARNET_ELIMIT)
    say(why, why_len,
        "line %lu: too big (more than 2,000,000 rows, 1024 columns or 1 MiB in a "
        "cell)",
        p->line);
  return rc;
}

void carnet__csv_info_free(carnet__csv_info *info) {
  if (info == NULL) return;
  carnet__free(info->bad);
  info->bad = NULL;
  info->nbad = 0;
}

int carnet__csv_decode(const void *buf, size_t len, carnet__sheet **out, carnet__csv_info *info,
                       char *why, size_t why_len) {
  const unsigned char *s = buf;
  char *converted = NULL;
  parser p = {0};
  marks m = {0};
  carnet__csv_info inf = {',', false, false, 0, 0, NULL, 0};
  int rc = 0;
  *out = NULL;
  if (info) *info = inf;
  if (why && why_len) why[0] = '\0';
  if (len >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) {
    s += 3, len -= 3;
    inf.bom = true;
  }
  const unsigned char *nul = memchr(s, 0, len);
  if (nul) {
    unsigned long line = 1;
    for (const unsigned char *q = s; q < nul; q++)
      line += *q == '\n';
    say(why, why_len, "line %lu: a NUL byte: this is not a text (CSV) file", line);
    return CARNET_EINVAL;
  }
  p.s = (const char *)s;
  p.len = len;
  p.m = &m;
  census(s, len, &inf.utf8_seqs, &inf.strays);
  if (inf.strays) {
    /* The majority decides (see csv.h); the minority's records are marked. */
    bool utf8 = inf.utf8_seqs >= inf.strays;
    if ((converted = to_utf8(s, len, utf8, &m, &p.len)) == NULL) {
      rc = CARNET_ENOMEM;
      goto done;
    }
    p.s = converted;
    inf.cp1252 = !utf8;
  }
  inf.sep = p.sep = sniff_sep(p.s, p.len);
  p.line = 1;
  if ((p.t = carnet__sheet_new()) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  if ((rc = parse(&p, why, why_len))) goto done;
  *out = p.t;
  p.t = NULL;
  if (info) {
    inf.bad = p.bad;
    inf.nbad = p.nbad;
    p.bad = NULL;
    *info = inf;
  }
done:
  carnet__sheet_free(p.t);
  carnet__iobuf_free(&p.field);
  carnet__free(p.bad);
  marks_free(&m);
  carnet__free(converted);
  return rc;
}

static bool needs_quotes(const char *c) {
  if ((unsigned char)c[0] == 0xef && (unsigned char)c[1] == 0xbb && (unsigned char)c[2] == 0xbf)
    return true;
  return c[strcspn(c, ",;\t\"\r\n")] != '\0';
}

int carnet__csv_encode_row(carnet__iobuf *out, const char *const *cells, size_t n, char sep) {
  for (size_t i = 0; i < n; i++) {
    const char *c = cells[i] ? cells[i] : "";
    if (i > 0 && carnet__iobuf_put(out, &sep, 1)) return CARNET_ENOMEM;
    if (!needs_quotes(c) && !(n == 1 && c[0] == '\0')) {
      if (carnet__iobuf_put(out, c, strlen(c))) return CARNET_ENOMEM;
      continue;
    }
    /* A lone empty cell is written "" so that the line is not blank. */
    if (carnet__iobuf_put(out, "\"", 1)) return CARNET_ENOMEM;
    for (const char *q; (q = strchr(c, '"')) != NULL; c = q + 1)
      if (carnet__iobuf_put(out, c, (size_t)(q - c) + 1) || carnet__iobuf_put(out, "\"", 1))
        return CARNET_ENOMEM;
    if (carnet__iobuf_put(out, c, strlen(c)) || carnet__iobuf_put(out, "\"", 1))
      return CARNET_ENOMEM;
  }
  return carnet__iobuf_put(out, "\r\n", 2);
}

int carnet__csv_encode(const carnet__sheet *t, char sep, bool bom, carnet__iobuf *out) {
  const char *cells[CARNET__SHEET_COLS_MAX];
  if (bom && carnet__iobuf_put(out, "\xef\xbb\xbf", 3)) return CARNET_ENOMEM;
  for (size_t r = 0; r < carnet__sheet_rows(t); r++) {
    size_t n = carnet__sheet_width(t, r);
    for (size_t c = 0; c < n; c++)
      cells[c] = carnet__sheet_get(t, r, c);
    int rc = carnet__csv_encode_row(out, cells, n, sep);
    if (rc) return rc;
  }
  return 0;
}
