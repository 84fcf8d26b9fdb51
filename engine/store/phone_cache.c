/* engine/store/phone_cache.c - phone numbers read once per handle (see
 * phone_cache.h). */
#include "engine/store/phone_cache.h"

#include <sodium.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/store/replica_int.h"

/* FNV-1a over the text and the region: which slot an entry takes. */
static size_t slot_of(const char *text, const char region[3]) {
  uint32_t h = 2166136261u;
  for (const char *p = text; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  for (int i = 0; i < 2 && region[i]; i++)
    h = (h ^ (uint8_t)region[i]) * 16777619u;
  return h % CARNET__PHONE_MEMO_SLOTS;
}

int carnet__phone_parse_memo(carnet_replica *r, const char *text, const char region[3],
                             carnet_phone *out) {
  if (text == NULL || strlen(text) >= sizeof r->phone_memo[0].text)
    return carnet_phone_parse(text, region, out); /* not memoised */
  struct carnet__phone_memo *m = &r->phone_memo[slot_of(text, region)];
  if (m->used && strcmp(m->text, text) == 0 && strcmp(m->region, region) == 0) {
    *out = m->p;
    return m->rc;
  }
  int rc = carnet_phone_parse(text, region, out);
  if (rc == CARNET_ENOMEM) return rc; /* not an answer about the text */
  m->used = true;
  strcpy(m->text, text);
  memcpy(m->region, region, 3);
  m->rc = rc;
  m->p = *out;
  return rc;
}

int carnet__phone_key(carnet_replica *r, const char *text, char *out, size_t out_len) {
  char region[3];
  carnet__stxn *st;
  carnet_phone p;
  if (out_len > 0) out[0] = '\0';
  if (out_len < CARNET_PHONE_E164_MAX) return CARNET_EINVAL;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = carnet__region_read(st, region);
  carnet__read_end(r, st);
  if (rc) return rc;
  if ((rc = carnet__phone_parse_memo(r, text, region, &p))) return rc;
  memcpy(out, p.e164, sizeof p.e164);
  return 0;
}

void carnet__phone_memo_wipe(carnet_replica *r) {
  sodium_memzero(r->phone_memo, sizeof r->phone_memo);
}
