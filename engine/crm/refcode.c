/* engine/crm/refcode.c - reference codes (see refcode.h). */
#include "engine/crm/refcode.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carnet/error.h"
#include "engine/store/replica_int.h"

/* `v` in decimal, zero-padded to `width` digits, into `out` (room for 21
 * bytes); what snprintf's "%0*llu" writes, without its cost (a code is made
 * for every customer created: issue 17, point 5). */
static void put_uint(char *out, uint64_t v, int width) {
  char d[20];
  int n = 0;
  do {
    d[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  int o = 0;
  for (; width > n && o < 20 - n; width--)
    out[o++] = '0';
  while (n > 0)
    out[o++] = d[--n];
  out[o] = '\0';
}

/* The UTC year and month of `secs` since 1970 (Hinnant's civil_from_days,
 * proleptic Gregorian, as gmtime_r counts). */
static void year_month(uint64_t secs, int *year, int *month) {
  uint64_t z = secs / 86400 + 719468;
  uint64_t era = z / 146097, doe = z - era * 146097;
  uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  *month = (int)(mp < 10 ? mp + 3 : mp - 9);
  *year = (int)(yoe + era * 400) + (*month <= 2);
}

int carnet__refcode_format(const char *rule, uint64_t ms, const char *tag, uint64_t n, char *out,
                           size_t out_len) {
  /* Years of four digits (up to 9999) from arithmetic; beyond, gmtime_r. */
  int year, month;
  if (ms / 1000 < UINT64_C(253402300800)) {
    year_month(ms / 1000, &year, &month);
  } else {
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    year = tm.tm_year + 1900;
    month = tm.tm_mon + 1;
  }
  size_t o = 0;
  for (const char *p = rule; *p;) {
    char piece[32];
    const char *close = *p == '{' ? strchr(p, '}') : NULL;
    if (close == NULL) { /* a character of its own */
      if (o + 2 > out_len) return CARNET_ELIMIT;
      out[o++] = *p++;
      continue;
    } else {
      size_t len = (size_t)(close - p - 1);
      const char *name = p + 1;
      if (len == 4 && strncmp(name, "yyyy", 4) == 0) {
        if (year >= 0 && year <= 9999) {
          put_uint(piece, (uint64_t)year, 4);
        } else {
          snprintf(piece, sizeof piece, "%04d", year);
        }
      } else if (len == 2 && strncmp(name, "yy", 2) == 0) {
        put_uint(piece, (uint64_t)((year - 1900) % 100), 2); /* years from 1970 */
      } else if (len == 2 && strncmp(name, "mm", 2) == 0) {
        put_uint(piece, (uint64_t)month, 2);
      } else if (len == 3 && strncmp(name, "tag", 3) == 0) {
        size_t tl = strnlen(tag, sizeof piece - 1);
        memcpy(piece, tag, tl);
        piece[tl] = '\0';
      } else if (len >= 3 && strncmp(name, "n:", 2) == 0) {
        int width = atoi(name + 2);
        if (width < 1 || width > 12) return CARNET_EINVAL;
        if (n == 0) {
          piece[0] = '\0';
        } else {
          put_uint(piece, n, width);
        }
      } else {
        return CARNET_EINVAL;
      }
      p = close + 1;
    }
    size_t len = strlen(piece);
    if (o + len + 1 > out_len) return CARNET_ELIMIT;
    memcpy(out + o, piece, len);
    o += len;
  }
  out[o] = '\0';
  return 0;
}

int carnet__refcode_next(carnet_txn *t, char *out, size_t out_len) {
  carnet_replica *r = t->r;
  struct carnet__txn_counter *c = &t->counter;
  uint64_t ms = carnet__now_ms(r), day = ms / 86400000;
  const size_t pre = strlen(CARNET__META_REFSEQ);
  int rc;
  /* The counter's key is the rule's expansion without the counter: the
   * same all day (the rule's finest unit is the month). The transaction
   * keeps the counter (replica_int.h) and puts it at commit. */
  if (!c->ok || c->day != day) {
    char key[sizeof c->key] = CARNET__META_REFSEQ;
    uint64_t n = 0;
    rc = carnet__refcode_format(CARNET__REFRULE_CUSTOMER, ms, r->tag, 0, key + pre,
                                sizeof key - pre);
    if (rc) return rc;
    if (!c->ok || strcmp(key, c->key) != 0) {
      if ((rc = carnet__txn_counter_flush(t))) return rc;
      c->ok = false;
      rc = carnet__meta_get_u64(t->st, key, &n);
      if (rc && rc != CARNET_ENOTFOUND) return rc;
      memcpy(c->key, key, sizeof key);
      c->n = n;
      c->ok = true;
    }
    c->day = day;
  }
  /* The customer rule ends with its only counter, {n:4}: the code is the
   * key's expansion, then the counter (what expanding the rule again with
   * `n` writes; debug builds check it). */
  char num[24];
  put_uint(num, c->n + 1, 4);
  size_t kl = strlen(c->key + pre), nl = strlen(num);
  if (kl + nl + 1 > out_len) return CARNET_ELIMIT;
  c->n++;
  c->dirty = true;
  memcpy(out, c->key + pre, kl);
  memcpy(out + kl, num, nl + 1);
#ifndef NDEBUG
  char check[96];
  assert(carnet__refcode_format(CARNET__REFRULE_CUSTOMER, ms, r->tag, c->n, check, sizeof check) ==
             0 &&
         strcmp(check, out) == 0);
#endif
  return 0;
}
