/* Fuzz target: the invite token decoder (text a user pastes).
 * Invariants checked: a token that decodes re-encodes to the same text
 * (whitespace around it aside), with every field valid; anything else is
 * refused with CARNET_EINVAL and a reason. The input is used as text up to
 * its first NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carnet/error.h"
#include "protocol/invite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  char again[CARNET_INVITE_TEXT_MAX], why[256];
  carnet__invite inv;
  if (text == NULL) return 0;
  if (sodium_init() < 0) abort();
  memcpy(text, data, size);
  text[size] = '\0';
  int rc = carnet__invite_decode(text, &inv, why, sizeof why);
  if (rc != 0) {
    if (rc != CARNET_EINVAL || why[0] == '\0') abort();
    free(text);
    return 0;
  }
  if (carnet__invite_address_valid(inv.address) != 0 || inv.expiry_ms == 0) abort();
  if (carnet__invite_encode(&inv, again, sizeof again, why, sizeof why) != 0) abort();
  /* The same text, once trimmed. */
  const char *s = text;
  size_t n = strlen(s);
  while (n && is_space(*s))
    s++, n--;
  while (n && is_space(s[n - 1]))
    n--;
  if (strlen(again) != n || memcmp(again, s, n) != 0) abort();
  free(text);
  return 0;
}
