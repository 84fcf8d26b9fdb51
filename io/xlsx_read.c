/* io/xlsx_read.c - the first worksheet of a workbook into a table
 * (io/xlsx.h). Each part is streamed from libzip into an expat parser in
 * 64 KiB chunks; only the shared strings, the date styles and the table are
 * kept.
 */
#include "engine/base/alloc.h"
#include "io/xlsx.h"

#include <expat.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "carnet/error.h"

typedef struct ctx ctx;

struct ctx {
  XML_Parser p;
  const char *part; /* for messages */
  int rc;
  char *why;
  size_t why_len;
  void (*start)(ctx *x, const char *name, const char **attrs);
  void (*end)(ctx *x, const char *name);
  /* workbook and its relationships */
  bool date1904, have_sheet;
  char rid[128];
  char target[512];
  /* styles */
  bool in_numfmts, in_cellxfs;
  long custom_date[256]; /* custom numFmtIds whose code is a date */
  size_t ncustom;
  bool *xf_date;
  size_t nxf, xf_cap;
  /* shared strings: offsets into one buffer */
  carnet__iobuf ss_text;
  size_t *ss_off;
  size_t nss, ss_cap;
  /* cells */
  carnet__iobuf buf; /* character data being collected */
  bool collect;      /* inside <t> (not in <rPh>) or <v> */
  int in_rph;
  bool in_si, in_cell, in_row;
  char ctype[16];
  long cstyle;
  size_t ccol, next_col;
  carnet__sheet *t;
};

static const char *local(const char *name) {
  const char *c = strrchr(name, ':');
  return c ? c + 1 : name;
}

static const char *attr(const char **attrs, const char *name) {
  for (size_t i = 0; attrs[i]; i += 2)
    if (strcmp(local(attrs[i]), name) == 0) return attrs[i + 1];
  return NULL;
}

static void fail(ctx *x, int rc, const char *what) {
  if (x->rc) return;
  x->rc = rc;
  if (x->why && x->why_len)
    snprintf(x->why, x->why_len, "%s line %lu: %s", x->part,
             (unsigned long)XML_GetCurrentLineNumber(x->p), what);
  XML_StopParser(x->p, XML_FALSE);
}

static int grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap * 2 : 256;
  while (n < need)
    n *= 2;
  void *q = carnet__realloc(*p, n * size);
  if (q == NULL) return CARNET_ENOMEM;
  *p = q;
  *cap = n;
  return 0;
}

/* --- one part through expat ----------------------------------------------- */

static void XMLCALL on_start(void *ud, const char *name, const char **attrs) {
  ctx *x = ud;
  if (x->rc == 0) x->start(x, local(name), attrs);
}

static void XMLCALL on_end(void *ud, const char *name) {
  ctx *x = ud;
  if (x->rc == 0 && x->end) x->end(x, local(name));
}

static void XMLCALL on_text(void *ud, const char *s, int len) {
  ctx *x = ud;
  if (!x->collect || x->rc) return;
  if (x->buf.len + (size_t)len > CARNET__SHEET_CELL_MAX)
    fail(x, CARNET_ELIMIT, "a cell holds more than 1 MiB of text");
  else if (carnet__iobuf_put(&x->buf, s, (size_t)len))
    fail(x, CARNET_ENOMEM, "out of memory");
}

static void XMLCALL on_doctype(void *ud, const char *name, const char *sysid, const char *pubid,
                               int has_internal) {
  (void)name, (void)sysid, (void)pubid, (void)has_internal;
  fail(ud, CARNET_EINVAL, "a DTD (refused: workbook parts have none)");
}

static void say(ctx *x, const char *fmt, const char *a, const char *b) {
  if (x->why && x->why_len) snprintf(x->why, x->why_len, fmt, a, b);
}

/* Streams part `name` of `z` through the handlers in x. An absent part is
 * CARNET_ENOTFOUND (the caller decides whether that is an error). */
static int parse_part(zip_t *z, const char *name, ctx *x) {
  zip_file_t *f = NULL;
  char chunk[65536];
  size_t total = 0;
  int rc = 0;
  x->part = name;
  x->rc = 0;
  if (zip_name_locate(z, name, 0) < 0) return CARNET_ENOTFOUND;
  if ((f = zip_fopen(z, name, 0)) == NULL) {
    say(x, "%s: cannot be read (%s)", name, zip_strerror(z));
    return CARNET_EINVAL;
  }
  if ((x->p = XML_ParserCreate("UTF-8")) == NULL) {
    zip_fclose(f);
    return CARNET_ENOMEM;
  }
  XML_SetUserData(x->p, x);
  XML_SetElementHandler(x->p, on_start, on_end);
  XML_SetCharacterDataHandler(x->p, on_text);
  XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
  for (;;) {
    zip_int64_t n = zip_fread(f, chunk, sizeof chunk);
    if (n < 0) {
      say(x, "%s: damaged (%s)", name, zip_file_strerror(f));
      rc = CARNET_EINVAL;
      break;
    }
    total += (size_t)n;
    if (total > CARNET__XLSX_PART_MAX) {
      say(x, "%s: more than 256 MiB once uncompressed%s", name, "");
      rc = CARNET_ELIMIT;
      break;
    }
    if (XML_Parse(x->p, chunk, (int)n, n == 0) != XML_STATUS_OK) {
      if (x->rc) {
        rc = x->rc;
      } else {
        char what[160];
        snprintf(what, sizeof what, "not well-formed XML (%s)",
                 XML_ErrorString(XML_GetErrorCode(x->p)));
        fail(x, CARNET_EINVAL, what);
        rc = CARNET_EINVAL;
      }
      break;
    }
    if (x->rc) { /* stopped by a handler */
      rc = x->rc;
      break;
    }
    if (n == 0) break;
  }
  XML_ParserFree(x->p);
  x->p = NULL;
  zip_fclose(f);
  return rc;
}

/* --- workbook, relationships, styles -------------------------------------- */

static void wb_start(ctx *x, const char *name, const char **attrs) {
  const char *v;
  if (strcmp(name, "workbookPr") == 0 && (v = attr(attrs, "date1904")))
    x->date1904 = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
  if (strcmp(name, "sheet") == 0 && !x->have_sheet && (v = attr(attrs, "id"))) {
    snprintf(x->rid, sizeof x->rid, "%s", v);
    x->have_sheet = true;
  }
}

static void rels_start(ctx *x, const char *name, const char **attrs) {
  const char *id = attr(attrs, "Id"), *target = attr(attrs, "Target");
  if (strcmp(name, "Relationship") != 0 || !id || !target || strcmp(id, x->rid) != 0) return;
  if (target[0] == '/')
    snprintf(x->target, sizeof x->target, "%s", target + 1);
  else
    snprintf(x->target, sizeof x->target, "xl/%s", target);
}

/* A number format code that shows a date: d or y outside quotes, brackets
 * and escapes ("[h]:mm" and "0.00" are not dates). */
static bool date_code(const char *code) {
  bool quoted = false;
  for (const char *p = code; *p; p++) {
    if (*p == '"') quoted = !quoted;
    if (quoted) continue;
    if (*p == '\\' && p[1]) {
      p++;
      continue;
    }
    if (*p == '[') {
      const char *e = strchr(p, ']');
      if (e == NULL) return false;
      p = e;
      continue;
    }
    if (*p == 'd' || *p == 'D' || *p == 'y' || *p == 'Y') return true;
  }
  return false;
}

static bool builtin_date(long id) {
  return (id >= 14 && id <= 17) || id == 22 || (id >= 27 && id <= 36) || (id >= 50 && id <= 58);
}

static void styles_start(ctx *x, const char *name, const char **attrs) {
  const char *id = attr(attrs, "numFmtId");
  if (strcmp(name, "numFmts") == 0) x->in_numfmts = true;
  if (strcmp(name, "cellXfs") == 0) x->in_cellxfs = true;
  if (strcmp(name, "numFmt") == 0 && x->in_numfmts && id) {
    const char *code = attr(attrs, "formatCode");
    if (code && date_code(code) && x->ncustom < sizeof x->custom_date / sizeof x->custom_date[0])
      x->custom_date[x->ncustom++] = strtol(id, NULL, 10);
  }
  if (strcmp(name, "xf") == 0 && x->in_cellxfs) {
    long n = id ? strtol(id, NULL, 10) : 0;
    bool date = builtin_date(n);
    for (size_t i = 0; i < x->ncustom && !date; i++)
      date = x->custom_date[i] == n;
    if (x->nxf >= 65536) {
      fail(x, CARNET_ELIMIT, "more than 65536 cell styles");
      return;
    }
    if (grow((void **)&x->xf_date, &x->xf_cap, x->nxf + 1, sizeof *x->xf_date)) {
      fail(x, CARNET_ENOMEM, "out of memory");
      return;
    }
    x->xf_date[x->nxf++] = date;
  }
}

static void styles_end(ctx *x, const char *name) {
  if (strcmp(name, "numFmts") == 0) x->in_numfmts = false;
  if (strcmp(name, "cellXfs") == 0) x->in_cellxfs = false;
}

/* --- escaped characters ---------------------------------------------------- */

static int hexval(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

/* Whether s[0..len) starts with _xHHHH_; its code point to *cp. */
static bool xescape_at(const char *s, size_t len, unsigned *cp) {
  unsigned v = 0;
  if (len < 7 || s[0] != '_' || s[1] != 'x' || s[6] != '_') return false;
  for (int i = 2; i < 6; i++) {
    int h = hexval(s[i]);
    if (h < 0) return false;
    v = v * 16 + (unsigned)h;
  }
  *cp = v;
  return true;
}

/* Text as OOXML stores it (ST_Xstring, ECMA-376 Part 1, 22.9.2.19): a
 * character XML cannot hold (a carriage return, a control character) is
 * written _xHHHH_, and a literal "_xHHHH_" has its '_' written _x005F_.
 * Excel and libxlsxwriter write both, so "a\r\nb" arrives "a_x000D_\nb".
 * Decoded in place (never longer: 7 bytes become at most 3). NUL and
 * surrogates, which no cell can hold, stay as written. Returns the new
 * length. */
static size_t xstring_decode(char *s, size_t len) {
  size_t r = 0, w = 0;
  unsigned cp;
  while (r < len) {
    if (xescape_at(s + r, len - r, &cp) && cp != 0 && (cp < 0xd800 || cp > 0xdfff)) {
      if (cp < 0x80) {
        s[w++] = (char)cp;
      } else if (cp < 0x800) {
        s[w++] = (char)(0xc0 | (cp >> 6));
        s[w++] = (char)(0x80 | (cp & 0x3f));
      } else {
        s[w++] = (char)(0xe0 | (cp >> 12));
        s[w++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        s[w++] = (char)(0x80 | (cp & 0x3f));
      }
      r += 7;
    } else {
      s[w++] = s[r++];
    }
  }
  if (w < len) s[w] = '\0';
  return w;
}

/* --- shared strings ------------------------------------------------------ */

/* <t> collects unless inside a phonetic run <rPh>. */
static void text_start(ctx *x, const char *name) {
  if (strcmp(name, "rPh") == 0) x->in_rph++;
  if (strcmp(name, "t") == 0 && x->in_rph == 0) x->collect = true;
}

static void text_end(ctx *x, const char *name) {
  if (strcmp(name, "rPh") == 0 && x->in_rph > 0) x->in_rph--;
  if (strcmp(name, "t") == 0) x->collect = false;
}

static void ss_start(ctx *x, const char *name, const char **attrs) {
  (void)attrs;
  if (strcmp(name, "si") == 0) {
    x->in_si = true;
    x->buf.len = 0;
  }
  if (x->in_si) text_start(x, name);
}

static void ss_end(ctx *x, const char *name) {
  text_end(x, name);
  if (strcmp(name, "si") != 0 || !x->in_si) return;
  x->in_si = false;
  if (x->buf.data) x->buf.len = xstring_decode(x->buf.data, x->buf.len);
  if (x->nss >= CARNET__SHEET_ROWS_MAX * 8) {
    fail(x, CARNET_ELIMIT, "too many shared strings");
    return;
  }
  if (grow((void **)&x->ss_off, &x->ss_cap, x->nss + 1, sizeof *x->ss_off) ||
      carnet__iobuf_put(&x->ss_text, x->buf.data ? x->buf.data : "", x->buf.len) ||
      carnet__iobuf_put(&x->ss_text, "", 1)) {
    fail(x, CARNET_ENOMEM, "out of memory");
    return;
  }
  /* obuf_put of "" with length 1 appends the NUL: each string ends with one. */
  x->ss_off[x->nss++] = x->ss_text.len - x->buf.len - 1;
}

/* --- the worksheet ------------------------------------------------------- */

/* "BC12" -> column 54 (0-based); false when not a cell reference. */
static bool col_of(const char *ref, size_t *col) {
  size_t c = 0, n = 0;
  for (; *ref >= 'A' && *ref <= 'Z'; ref++, n++)
    c = c * 26 + (size_t)(*ref - 'A' + 1);
  if (n == 0 || n > 3 || *ref < '1' || *ref > '9') return false;
  *col = c - 1;
  return true;
}

static void civil(long days, int *y, unsigned *m, unsigned *d) {
  /* Howard Hinnant's civil_from_days: days since 1970-01-01. */
  days += 719468;
  long era = (days >= 0 ? days : days - 146096) / 146097;
  unsigned doe = (unsigned)(days - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long yy = (long)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int)(yy + (*m <= 2));
}

/* An Excel serial date as YYYY-MM-DD; false when out of 1900..9999. */
static bool serial_date(double v, bool date1904, char out[16]) {
  if (!(v >= 1 && v < 2958466)) return false;
  long s = (long)floor(v), days;
  if (date1904)
    days = s - 24107; /* 1904-01-01 is day -24107 from 1970 */
  else if (s < 61)
    days = s - 25568; /* before Excel's fictitious 1900-02-29 */
  else
    days = s - 25569; /* 1899-12-30 + s */
  int y;
  unsigned m, d;
  civil(days, &y, &m, &d);
  if (y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31) return false;
  snprintf(out, 16, "%04d-%02u-%02u", y % 10000, m % 13, d % 32);
  return true;
}

/* A number as Excel's General format would show it, but exact. */
static void number_text(const char *v, char *out, size_t len) {
  char *end;
  double d = strtod(v, &end);
  if (end == v || *end != '\0' || !isfinite(d)) {
    snprintf(out, len, "%s", v);
  } else if (d == floor(d) && fabs(d) < 1e15) {
    snprintf(out, len, "%.0f", d);
  } else {
    snprintf(out, len, "%.15g", d);
    if (strtod(out, NULL) != d) snprintf(out, len, "%.17g", d);
  }
}

static void cell_done(ctx *x) {
  const char *v = x->buf.data ? x->buf.data : "";
  size_t len = x->buf.len;
  char num[64];
  const char *t = x->ctype;
  if (strcmp(t, "s") == 0) {
    char *end;
    unsigned long i = strtoul(v, &end, 10);
    if (end == v || *end != '\0' || i >= x->nss) {
      fail(x, CARNET_EINVAL, "a cell refers to a shared string that does not exist");
      return;
    }
    v = x->ss_text.data + x->ss_off[i];
    len = strlen(v);
  } else if (strcmp(t, "b") == 0) {
    v = strcmp(v, "1") == 0 ? "true" : "false";
    len = strlen(v);
  } else if (strcmp(t, "d") == 0) {
    len = len > 10 ? 10 : len; /* ISO 8601: keep the date */
  } else if (strcmp(t, "n") == 0 || t[0] == '\0') {
    if (len == 0) {
      /* an empty number cell */
    } else if (x->cstyle >= 0 && (size_t)x->cstyle < x->nxf && x->xf_date[x->cstyle] &&
               serial_date(strtod(v, NULL), x->date1904, num)) {
      v = num;
      len = strlen(num);
    } else {
      number_text(v, num, sizeof num);
      v = num;
      len = strlen(num);
    }
  } else if ((strcmp(t, "str") == 0 || strcmp(t, "inlineStr") == 0) && x->buf.data) {
    len = xstring_decode(x->buf.data, len);
  } /* e: the text as is */
  int rc = carnet__sheet_cell_at(x->t, x->ccol, v, len);
  if (rc == CARNET_EINVAL) {
    fail(x, rc, "cells out of order in a row");
    return;
  }
  if (rc == CARNET_ELIMIT) {
    fail(x, rc, "a row or cell is too big");
    return;
  }
  if (rc) {
    fail(x, rc, "out of memory");
    return;
  }
  x->next_col = x->ccol + 1;
}

static void sheet_start(ctx *x, const char *name, const char **attrs) {
  const char *v;
  if (strcmp(name, "row") == 0) {
    unsigned long line = (v = attr(attrs, "r")) ? strtoul(v, NULL, 10) : 0;
    if (line == 0 || line > CARNET__SHEET_ROWS_MAX)
      line =
          carnet__sheet_rows(x->t) ? carnet__sheet_line(x->t, carnet__sheet_rows(x->t) - 1) + 1 : 1;
    int rc = carnet__sheet_row(x->t, (uint32_t)line);
    if (rc) {
      fail(x, rc, rc == CARNET_ELIMIT ? "too many rows" : "out of memory");
      return;
    }
    x->in_row = true;
    x->next_col = 0;
  } else if (strcmp(name, "c") == 0 && x->in_row) {
    x->in_cell = true;
    x->buf.len = 0;
    x->ccol = x->next_col;
    if ((v = attr(attrs, "r")) && !col_of(v, &x->ccol)) {
      fail(x, CARNET_EINVAL, "a cell reference is not like A1");
      return;
    }
    v = attr(attrs, "t");
    snprintf(x->ctype, sizeof x->ctype, "%s", v ? v : "");
    v = attr(attrs, "s");
    x->cstyle = v ? strtol(v, NULL, 10) : -1;
  } else if (x->in_cell && strcmp(name, "v") == 0) {
    x->buf.len = 0;
    x->collect = true;
  } else if (x->in_cell && strcmp(name, "is") == 0) {
    x->buf.len = 0;
  } else if (x->in_cell) {
    text_start(x, name);
  }
}

static void sheet_end(ctx *x, const char *name) {
  if (strcmp(name, "v") == 0) x->collect = false;
  text_end(x, name);
  if (strcmp(name, "c") == 0 && x->in_cell) {
    x->in_cell = false;
    if (x->buf.data) x->buf.data[x->buf.len] = '\0';
    cell_done(x);
  }
  if (strcmp(name, "row") == 0) x->in_row = false;
}

/* --- the whole workbook ---------------------------------------------------- */

int carnet__xlsx_decode(const void *buf, size_t len, carnet__sheet **out, char *why,
                        size_t why_len) {
  ctx x = {.why = why, .why_len = why_len, .cstyle = -1};
  zip_error_t ze;
  zip_source_t *src = NULL;
  zip_t *z = NULL;
  int rc;
  *out = NULL;
  if (why && why_len) why[0] = '\0';
  zip_error_init(&ze);
  if ((src = zip_source_buffer_create(buf, len, 0, &ze)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  if ((z = zip_open_from_source(src, ZIP_RDONLY, &ze)) == NULL) {
    say(&x, "not an Excel workbook (.xlsx): %s%s", zip_error_strerror(&ze), "");
    zip_source_free(src);
    rc = CARNET_EINVAL;
    goto done;
  }
  x.start = wb_start;
  x.end = NULL;
  if ((rc = parse_part(z, "xl/workbook.xml", &x)) == CARNET_ENOTFOUND) {
    say(&x, "not an Excel workbook (.xlsx): no %s%s", "xl/workbook.xml", "");
    rc = CARNET_EINVAL;
  }
  if (rc) goto done;
  x.start = rels_start;
  if (x.have_sheet && (rc = parse_part(z, "xl/_rels/workbook.xml.rels", &x)) &&
      rc != CARNET_ENOTFOUND)
    goto done;
  if (x.target[0] == '\0') snprintf(x.target, sizeof x.target, "xl/worksheets/sheet1.xml");
  x.start = styles_start;
  x.end = styles_end;
  if ((rc = parse_part(z, "xl/styles.xml", &x)) && rc != CARNET_ENOTFOUND) goto done;
  x.start = ss_start;
  x.end = ss_end;
  if ((rc = parse_part(z, "xl/sharedStrings.xml", &x)) && rc != CARNET_ENOTFOUND) goto done;
  x.in_rph = 0;
  x.collect = false;
  if ((x.t = carnet__sheet_new()) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  x.start = sheet_start;
  x.end = sheet_end;
  if ((rc = parse_part(z, x.target, &x)) == CARNET_ENOTFOUND) {
    say(&x, "not an Excel workbook (.xlsx): no worksheet %s%s", x.target, "");
    rc = CARNET_EINVAL;
  }
  if (rc) goto done;
  *out = x.t;
  x.t = NULL;
done:
  if (z) zip_discard(z);
  zip_error_fini(&ze);
  carnet__sheet_free(x.t);
  carnet__free(x.xf_date);
  carnet__free(x.ss_off);
  carnet__iobuf_free(&x.ss_text);
  carnet__iobuf_free(&x.buf);
  return rc;
}
