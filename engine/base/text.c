/* engine/base/text.c - checks of user-typed text. */
#include "engine/base/text.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/normalize.h"

int carnet__text_valid(const char *s, size_t max, bool multiline) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  if (n > max) return CARNET_EINVAL;
  /* Printable ASCII eight bytes at a time (most of a customer's text; every
   * field written is checked: issue 17, point 5). A word with a byte below
   * 0x20, 0x7f or above 0x7f is left to the loop below, from its start. */
  const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
  for (const unsigned char *end = p + n; end - p >= 8; p += 8) {
    uint64_t w, d;
    memcpy(&w, p, 8);
    d = w ^ (ones * 0x7f);
    if ((w & high) | ((w - ones * 0x20) & ~w & high) | ((d - ones) & ~d & high)) break;
  }
  while (*p) {
    unsigned char c = *p;
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t' || c == '\r'))) || c == 0x7f)
        return CARNET_EINVAL;
      p++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07;
    } else {
      return CARNET_EINVAL;
    }
    for (size_t i = 1; i < len; i++) {
      if ((p[i] & 0xc0) != 0x80) return CARNET_EINVAL;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      return CARNET_EINVAL;
    p += len;
  }
  return 0;
}

int carnet__parse_bool(const char *s, bool *out) {
  if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcmp(s, "yes") == 0) {
    *out = true;
  } else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcmp(s, "no") == 0) {
    *out = false;
  } else {
    return CARNET_EINVAL;
  }
  return 0;
}

static int parse_decimal(const char *s, double lo, double hi, const char **rest) {
  char *end;
  if (!(isdigit((unsigned char)*s) || *s == '-' || *s == '+')) return CARNET_EINVAL;
  double v = strtod(s, &end);
  if (end == s || v < lo || v > hi) return CARNET_EINVAL;
  *rest = end;
  return 0;
}

int carnet__geo_valid(const char *s) {
  const char *rest;
  if (parse_decimal(s, -90, 90, &rest) || *rest != ',') return CARNET_EINVAL;
  s = rest + 1;
  while (*s == ' ')
    s++;
  if (parse_decimal(s, -180, 180, &rest) || *rest != '\0') return CARNET_EINVAL;
  return 0;
}

int carnet__custom_name_valid(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > 64) return CARNET_EINVAL;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(isalnum(c) || c == '_' || c == '-' || c == ' ' || c >= 0x80)) return CARNET_EINVAL;
  }
  return carnet__text_valid(s, 64, false);
}

static int date_valid(const char *v) {
  static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (strlen(v) != 10 || v[4] != '-' || v[7] != '-') return CARNET_EINVAL;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !isdigit((unsigned char)v[i])) return CARNET_EINVAL;
  int y = atoi(v), m = atoi(v + 5), d = atoi(v + 8);
  if (m < 1 || m > 12 || d < 1 || d > days[m - 1]) return CARNET_EINVAL;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && d == 29 && !leap ? CARNET_EINVAL : 0;
}

int carnet__custom_value_valid(carnet_custom_type type, const char *v) {
  bool b;
  const char *rest;
  switch (type) {
  case CARNET_CUSTOM_STRING:
  case CARNET_CUSTOM_LIST:
    return carnet__text_valid(v, 4000, type == CARNET_CUSTOM_STRING);
  case CARNET_CUSTOM_NUMBER:
    return parse_decimal(v, -1e15, 1e15, &rest) || *rest != '\0' ? CARNET_EINVAL : 0;
  case CARNET_CUSTOM_DATE:
    return date_valid(v);
  case CARNET_CUSTOM_CHECKBOX:
    return carnet__parse_bool(v, &b);
  }
  return CARNET_EINVAL;
}

const char *carnet__custom_type_name(carnet_custom_type type) {
  switch (type) {
  case CARNET_CUSTOM_STRING:
    return "string";
  case CARNET_CUSTOM_NUMBER:
    return "number";
  case CARNET_CUSTOM_DATE:
    return "date YYYY-MM-DD";
  case CARNET_CUSTOM_LIST:
    return "list";
  case CARNET_CUSTOM_CHECKBOX:
    return "checkbox true/false";
  }
  return "unknown type";
}

const char *carnet__phone_default_type(const carnet_phone *p) {
  const char *e164 = p->e164;
  if (p->type != CARNET_PHONE_UNKNOWN) return p->type == CARNET_PHONE_MOBILE ? "mobile" : "work";
  /* Outside the metadata's ranges: the French mobile prefixes, overseas
   * ones included (Arcep's attribution), as before libphonenumber. */
  static const char *const mobile[] = {"+336",    "+337",    "+262639", "+262692", "+262693",
                                       "+590690", "+590691", "+594694", "+596696", "+596697"};
  for (size_t i = 0; i < sizeof mobile / sizeof mobile[0]; i++)
    if (strncmp(e164, mobile[i], strlen(mobile[i])) == 0) return "mobile";
  return "work";
}
