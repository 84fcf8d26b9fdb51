/* engine/crm/dates.c - dates as text (see dates.h). */
#include "engine/crm/dates.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "carnet/document.h"
#include "carnet/error.h"
#include "engine/store/replica_int.h"

static bool digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

static int num(const char *s, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; i++)
    v = v * 10 + (s[i] - '0');
  return v;
}

static bool leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* The first 10 characters of `s` as a date; y, m, d out. */
static bool parse_date(const char *s, int *y, int *m, int *d) {
  if (strlen(s) < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
      !digits(s + 8, 2))
    return false;
  *y = num(s, 4);
  *m = num(s + 5, 2);
  *d = num(s + 8, 2);
  return *y >= 1900 && *y <= 9999 && *m >= 1 && *m <= 12 && *d >= 1 && *d <= month_days(*y, *m);
}

bool carnet_date_valid(const char *s) {
  int y, m, d;
  return s != NULL && strlen(s) == 10 && parse_date(s, &y, &m, &d);
}

/* Zero-padded decimal of `v` (0 <= v < 10^width) into p; returns p + width.
 * (snprintf would do, but the compiler cannot see the ranges and warns.) */
static char *pad(char *p, int v, int width) {
  for (int i = width - 1; i >= 0; i--, v /= 10)
    p[i] = (char)('0' + v % 10);
  return p + width;
}

static void fmt_date(char *out, int y, int m, int d) {
  char *p = pad(out, y % 10000, 4);
  *p++ = '-';
  p = pad(p, m % 100, 2);
  *p++ = '-';
  p = pad(p, d % 100, 2);
  *p = '\0';
}

static void fmt_datetime(char *out, int y, int mo, int d, int h, int mi, int s) {
  fmt_date(out, y, mo, d);
  char *p = out + 10;
  *p++ = 'T';
  p = pad(p, h % 100, 2);
  *p++ = ':';
  p = pad(p, mi % 100, 2);
  *p++ = ':';
  p = pad(p, s % 100, 2);
  *p = '\0';
}

/* Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms". */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

int carnet__date_days(const char *date, int64_t *days) {
  int y, m, d;
  if (!carnet_date_valid(date)) return CARNET_EINVAL;
  parse_date(date, &y, &m, &d);
  *days = days_from_civil(y, (unsigned)m, (unsigned)d);
  return 0;
}

void carnet__date_of_days(int64_t days, char out[11]) {
  int y, m, d;
  civil_from_days(days, &y, &m, &d);
  fmt_date(out, y, m, d);
}

int carnet_date_add(const char *date, int days, char out[11]) {
  int64_t n;
  if (carnet__date_days(date, &n) != 0) return CARNET_EINVAL;
  n += days;
  int y, m, d;
  civil_from_days(n, &y, &m, &d);
  if (y < 1900 || y > 9999) return CARNET_EINVAL;
  carnet__date_of_days(n, out);
  return 0;
}

int carnet_date_weekday(const char *date) {
  int64_t n;
  if (carnet__date_days(date, &n) != 0) return CARNET_EINVAL;
  /* 1970-01-01 was a Thursday (4). */
  int64_t wd = ((n % 7) + 7 + 3) % 7; /* 0 = Monday */
  return (int)wd + 1;
}

static void local_tm(uint64_t ms, struct tm *tm) {
  time_t secs = (time_t)(ms / 1000);
  if (localtime_r(&secs, tm) == NULL) gmtime_r(&secs, tm);
}

void carnet__date_of_ms(uint64_t ms, char out[11]) {
  struct tm tm;
  local_tm(ms, &tm);
  fmt_date(out, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

void carnet__datetime_of_ms(uint64_t ms, char out[20]) {
  struct tm tm;
  local_tm(ms, &tm);
  fmt_datetime(out, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void carnet_replica_get_today(carnet_replica *r, char out[11]) {
  carnet__date_of_ms(carnet__now_ms(r), out);
}

int carnet__datetime_normalize(const char *s, char out[20]) {
  int y, m, d, hh = 0, mi = 0, ss = 0;
  size_t n = s ? strlen(s) : 0;
  if (n < 10 || !parse_date(s, &y, &m, &d)) return CARNET_EINVAL;
  if (n > 10) {
    const char *t = s + 11;
    if ((s[10] != 'T' && s[10] != ' ') || (n != 16 && n != 19)) return CARNET_EINVAL;
    if (!digits(t, 2) || t[2] != ':' || !digits(t + 3, 2)) return CARNET_EINVAL;
    hh = num(t, 2);
    mi = num(t + 3, 2);
    if (n == 19) {
      if (t[5] != ':' || !digits(t + 6, 2)) return CARNET_EINVAL;
      ss = num(t + 6, 2);
    }
    if (hh > 23 || mi > 59 || ss > 59) return CARNET_EINVAL;
  }
  fmt_datetime(out, y, m, d, hh, mi, ss);
  return 0;
}
