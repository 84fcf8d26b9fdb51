/* io/sheet.c - the decoded sheet: cells as offsets into one text buffer. */
#include "io/sheet.h"
#include "engine/base/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"

typedef struct row {
  size_t first; /* index of its first cell in `cells` */
  uint32_t n;
  uint32_t line;
} row;

struct carnet__sheet {
  row *rows;
  size_t nrows, rows_cap;
  size_t *cells; /* offsets into text */
  size_t ncells, cells_cap;
  char *text;
  size_t text_len, text_cap;
};

carnet__sheet *carnet__sheet_new(void) {
  carnet__sheet *t = carnet__calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  /* Offset 0 is an empty string: the cell of every gap. */
  t->text = carnet__malloc(256);
  if (t->text == NULL) {
    carnet__free(t);
    return NULL;
  }
  t->text[0] = '\0';
  t->text_len = 1;
  t->text_cap = 256;
  return t;
}

void carnet__sheet_free(carnet__sheet *t) {
  if (t == NULL) return;
  carnet__free(t->rows);
  carnet__free(t->cells);
  carnet__free(t->text);
  carnet__free(t);
}

/* Grow `*p` (elements of `size` bytes) to hold `need`. */
static int grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 64;
  while (n < need)
    n *= 2;
  void *q = carnet__realloc(*p, n * size);
  if (q == NULL) return CARNET_ENOMEM;
  *p = q;
  *cap = n;
  return 0;
}

int carnet__sheet_row(carnet__sheet *t, uint32_t line) {
  if (t->nrows >= CARNET__SHEET_ROWS_MAX) return CARNET_ELIMIT;
  if (grow((void **)&t->rows, &t->rows_cap, t->nrows + 1, sizeof *t->rows)) return CARNET_ENOMEM;
  t->rows[t->nrows++] = (row){.first = t->ncells, .n = 0, .line = line};
  return 0;
}

static int push_off(carnet__sheet *t, size_t off) {
  row *r = &t->rows[t->nrows - 1];
  if (r->n >= CARNET__SHEET_COLS_MAX) return CARNET_ELIMIT;
  if (grow((void **)&t->cells, &t->cells_cap, t->ncells + 1, sizeof *t->cells))
    return CARNET_ENOMEM;
  t->cells[t->ncells++] = off;
  r->n++;
  return 0;
}

int carnet__sheet_cell_at(carnet__sheet *t, size_t col, const char *text, size_t len) {
  if (t->nrows == 0) return CARNET_EINVAL;
  row *r = &t->rows[t->nrows - 1];
  if (col < r->n) return CARNET_EINVAL;
  if (col >= CARNET__SHEET_COLS_MAX || len > CARNET__SHEET_CELL_MAX) return CARNET_ELIMIT;
  if (t->text_len + len + 1 > CARNET__SHEET_TEXT_MAX) return CARNET_ELIMIT;
  int rc;
  while (r->n < col)
    if ((rc = push_off(t, 0))) return rc;
  if (len == 0) return push_off(t, 0);
  if (grow((void **)&t->text, &t->text_cap, t->text_len + len + 1, 1)) return CARNET_ENOMEM;
  size_t off = t->text_len;
  memcpy(t->text + off, text, len);
  t->text[off + len] = '\0';
  t->text_len += len + 1;
  return push_off(t, off);
}

int carnet__sheet_cell(carnet__sheet *t, const char *text, size_t len) {
  if (t->nrows == 0) return CARNET_EINVAL;
  return carnet__sheet_cell_at(t, t->rows[t->nrows - 1].n, text, len);
}

size_t carnet__sheet_rows(const carnet__sheet *t) {
  return t->nrows;
}

size_t carnet__sheet_width(const carnet__sheet *t, size_t r) {
  return r < t->nrows ? t->rows[r].n : 0;
}

uint32_t carnet__sheet_line(const carnet__sheet *t, size_t r) {
  return r < t->nrows ? t->rows[r].line : 0;
}

const char *carnet__sheet_get(const carnet__sheet *t, size_t r, size_t col) {
  if (r >= t->nrows || col >= t->rows[r].n) return "";
  return t->text + t->cells[t->rows[r].first + col];
}

bool carnet__sheet_equal(const carnet__sheet *a, const carnet__sheet *b) {
  if (a->nrows != b->nrows) return false;
  for (size_t r = 0; r < a->nrows; r++) {
    if (a->rows[r].n != b->rows[r].n) return false;
    for (size_t c = 0; c < a->rows[r].n; c++)
      if (strcmp(carnet__sheet_get(a, r, c), carnet__sheet_get(b, r, c)) != 0) return false;
  }
  return true;
}

int carnet__iobuf_put(carnet__iobuf *b, const void *p, size_t len) {
  if (grow((void **)&b->data, &b->cap, b->len + len + 1, 1)) return CARNET_ENOMEM;
  memcpy(b->data + b->len, p, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

void carnet__iobuf_free(carnet__iobuf *b) {
  carnet__free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
