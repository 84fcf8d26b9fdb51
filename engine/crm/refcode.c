/* engine/crm/refcode.c - reference codes (see refcode.h). */
#include "engine/crm/refcode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carnet/error.h"
#include "engine/store/replica_int.h"

int carnet__refcode_format(const char *rule, uint64_t ms, const char *tag, uint64_t n, char *out,
                           size_t out_len) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  size_t o = 0;
  gmtime_r(&secs, &tm);
  for (const char *p = rule; *p;) {
    char piece[32];
    const char *close = *p == '{' ? strchr(p, '}') : NULL;
    if (close == NULL) {
      piece[0] = *p++;
      piece[1] = '\0';
    } else {
      size_t len = (size_t)(close - p - 1);
      const char *name = p + 1;
      if (len == 4 && strncmp(name, "yyyy", 4) == 0) {
        snprintf(piece, sizeof piece, "%04d", tm.tm_year + 1900);
      } else if (len == 2 && strncmp(name, "yy", 2) == 0) {
        snprintf(piece, sizeof piece, "%02d", tm.tm_year % 100);
      } else if (len == 2 && strncmp(name, "mm", 2) == 0) {
        snprintf(piece, sizeof piece, "%02d", tm.tm_mon + 1);
      } else if (len == 3 && strncmp(name, "tag", 3) == 0) {
        snprintf(piece, sizeof piece, "%s", tag);
      } else if (len >= 3 && strncmp(name, "n:", 2) == 0) {
        int width = atoi(name + 2);
        if (width < 1 || width > 12) return CARNET_EINVAL;
        if (n == 0) {
          piece[0] = '\0';
        } else {
          snprintf(piece, sizeof piece, "%0*llu", width, (unsigned long long)n);
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
  uint64_t ms = carnet__now_ms(r), n = 0;
  char key[96] = CARNET__META_REFSEQ;
  size_t pre = strlen(key);
  int rc =
      carnet__refcode_format(CARNET__REFRULE_CUSTOMER, ms, r->tag, 0, key + pre, sizeof key - pre);
  if (rc) return rc;
  rc = carnet__meta_get_u64(t->st, key, &n);
  if (rc && rc != CARNET_ENOTFOUND) return rc;
  n++;
  if ((rc = carnet__meta_put_u64(t->st, key, n))) return rc;
  return carnet__refcode_format(CARNET__REFRULE_CUSTOMER, ms, r->tag, n, out, out_len);
}
