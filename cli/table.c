/* cli/table.c - human output: aligned tables and "label: value" lines.
 *
 * Widths count code points, not bytes, so "Société Générale" lines up with
 * "Dupont SARL". Values are sanitised on the way in: control characters
 * (a newline in notes) become spaces and invalid UTF-8 bytes become '?', so
 * one row is always one line.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { COL_MAX = 40 }; /* widest column, except the last one */

struct cli_table {
  size_t ncols, nrows, cap; /* rows include the header row */
  char **cells;
};

size_t cli_utf8_seq(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n;
  unsigned cp;
  if (p[0] < 0x80) return 1;
  if (p[0] >= 0xc2 && p[0] <= 0xdf)
    n = 2, cp = p[0] & 0x1f;
  else if (p[0] >= 0xe0 && p[0] <= 0xef)
    n = 3, cp = p[0] & 0x0f;
  else if (p[0] >= 0xf0 && p[0] <= 0xf4)
    n = 4, cp = p[0] & 0x07;
  else
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

size_t cli_utf8_width(const char *s) {
  size_t w = 0;
  for (; *s; w++) {
    size_t n = cli_utf8_seq(s);
    s += n ? n : 1;
  }
  return w;
}

static char *sanitize(const char *s) {
  char *out = cli_oom(strdup(s ? s : ""));
  for (char *p = out; *p;) {
    size_t n = cli_utf8_seq(p);
    if (n == 0)
      *p = '?';
    else if (n == 1 && ((unsigned char)*p < 0x20 || *p == 0x7f))
      *p = ' ';
    p += n ? n : 1;
  }
  return out;
}

cli_table *cli_table_new(size_t ncols, const char *const *headers) {
  cli_table *t = cli_oom(calloc(1, sizeof *t));
  t->ncols = ncols;
  cli_table_add(t, headers);
  return t;
}

void cli_table_add(cli_table *t, const char *const *cells) {
  if (t->nrows == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 16;
    t->cells = cli_oom(realloc(t->cells, t->cap * t->ncols * sizeof *t->cells));
  }
  for (size_t i = 0; i < t->ncols; i++)
    t->cells[t->nrows * t->ncols + i] = sanitize(cells[i]);
  t->nrows++;
}

size_t cli_table_rows(const cli_table *t) {
  return t->nrows - 1;
}

/* Prints at most `width` columns of `s`, cutting with an ellipsis; pads to
 * `width` unless `pad` is false. */
static void print_cell(FILE *f, const char *s, size_t width, bool pad) {
  size_t w = cli_utf8_width(s);
  if (w > width) {
    const char *p = s;
    for (size_t i = 0; i + 1 < width; i++)
      p += cli_utf8_seq(p);
    fprintf(f, "%.*s\xe2\x80\xa6", (int)(p - s), s);
    return;
  }
  fputs(s, f);
  if (pad)
    for (; w < width; w++)
      fputc(' ', f);
}

void cli_table_print(const cli_table *t, FILE *f, int indent) {
  size_t *width = cli_oom(calloc(t->ncols, sizeof *width));
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t i = 0; i < t->ncols; i++) {
      size_t w = cli_utf8_width(t->cells[r * t->ncols + i]);
      if (w > width[i]) width[i] = w;
    }
  for (size_t i = 0; i + 1 < t->ncols; i++)
    if (width[i] > COL_MAX) width[i] = COL_MAX;
  for (size_t r = 0; r < t->nrows; r++) {
    char **row = t->cells + r * t->ncols;
    size_t end = t->ncols - 1; /* the last non-empty cell: no trailing blanks */
    while (end > 0 && row[end][0] == '\0')
      end--;
    fprintf(f, "%*s", indent, "");
    for (size_t i = 0; i <= end; i++) {
      bool last = i + 1 == t->ncols;
      print_cell(f, row[i], last ? (size_t)-1 : width[i], i < end);
      fputs(i < end ? "  " : "\n", f);
    }
  }
  free(width);
}

void cli_table_free(cli_table *t) {
  if (t == NULL) return;
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  free(t);
}

void cli_kv(FILE *f, int width, const char *label, const char *value) {
  char *v = sanitize(value);
  int pad = width - (int)strlen(label);
  fprintf(f, "%s:%*s%s\n", label, pad < 1 ? 1 : pad, "", v);
  free(v);
}
