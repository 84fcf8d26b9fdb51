/* Fuzz target: the phone reader (engine/base/normalize.c over libphonenumber,
 * engine/base/phone.cc), which reads numbers from imported files, the web
 * console and peers' cells.
 *
 * The first byte picks the default region (a few, and one unknown); the
 * rest is the text. Invariants checked: parsing never crashes; a refusal
 * is EINVAL (or ENOMEM) with the output zeroed; an accepted number is
 * E.164 ('+', 2..15 digits, no leading zero after '+'), its extension is
 * 1..10 digits or empty, its type is in range; its stored form reads back
 * to the same number and extension whatever the region; and
 * carnet_phone_normalize_in agrees with carnet_phone_parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/normalize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const regions[] = {"FR", "BE", "US", "RE", "GB", "IT", "de", "ZZ"};

static void check_accepted(const carnet_phone *p, const char *text, const char *region) {
  size_t n = strlen(p->e164);
  if (p->e164[0] != '+' || n < 3 || n > 16 || p->e164[1] == '0') abort();
  for (size_t i = 1; i < n; i++)
    if (p->e164[i] < '0' || p->e164[i] > '9') abort();
  size_t e = strlen(p->ext);
  if (e > 10) abort();
  for (size_t i = 0; i < e; i++)
    if (p->ext[i] < '0' || p->ext[i] > '9') abort();
  if ((unsigned)p->type > CARNET_PHONE_VOICEMAIL) abort();
  char stored[CARNET_PHONE_STORED_MAX], e164[CARNET_PHONE_E164_MAX];
  if (carnet_phone_stored(p, stored, sizeof stored) != 0) abort();
  carnet_phone back;
  if (carnet_phone_parse(stored, "JP", &back) != 0) abort();
  if (strcmp(back.e164, p->e164) != 0 || strcmp(back.ext, p->ext) != 0) abort();
  if (carnet_phone_normalize_in(text, region, e164, sizeof e164) != 0) abort();
  if (strcmp(e164, p->e164) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const char *region = regions[data[0] % (sizeof regions / sizeof regions[0])];
  char text[256];
  size_t n = size - 1 < sizeof text - 1 ? size - 1 : sizeof text - 1;
  memcpy(text, data + 1, n);
  text[n] = '\0';
  carnet_phone p;
  int rc = carnet_phone_parse(text, region, &p);
  if (rc == 0) {
    check_accepted(&p, text, region);
  } else {
    static const carnet_phone zero;
    if (rc != CARNET_EINVAL && rc != CARNET_ENOMEM) abort();
    if (memcmp(&p, &zero, sizeof p) != 0) abort();
  }
  return 0;
}
