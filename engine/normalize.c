/* engine/normalize.c - validation and normalisation of e-mail addresses,
 * SIRET/SIREN and phone numbers (pure functions). The duplicate detector
 * builds on the same normal forms. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/record.h"

static bool atext(unsigned char c) {
  return isalnum(c) || strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL || c >= 0x80;
}

static bool domain_ok(const char *d, size_t n) {
  size_t labels = 0, start = 0;
  if (n == 0 || n > 253) return false;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && d[i] != '.') {
      unsigned char c = (unsigned char)d[i];
      if (!(isalnum(c) || c == '-' || c >= 0x80)) return false;
      continue;
    }
    size_t len = i - start;
    if (len == 0 || len > 63 || d[start] == '-' || d[i - 1] == '-') return false;
    labels++;
    start = i + 1;
  }
  /* The top-level domain has at least two letters and no digit. */
  const char *tld = strrchr(d, '.');
  if (labels < 2 || tld == NULL || (size_t)(d + n - tld - 1) < 2) return false;
  for (const char *p = tld + 1; p < d + n; p++)
    if (isdigit((unsigned char)*p)) return false;
  return true;
}

bool carnet_email_valid(const char *s) {
  if (s == NULL) return false;
  const char *at = strchr(s, '@');
  size_t n = strlen(s);
  if (at == NULL || strchr(at + 1, '@') != NULL || n > 254) return false;
  size_t local = (size_t)(at - s);
  if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.') return false;
  for (size_t i = 0; i < local; i++) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return false;
    } else if (!atext((unsigned char)s[i])) {
      return false;
    }
  }
  return domain_ok(at + 1, n - local - 1);
}

static bool luhn(const char *digits, size_t n) {
  int sum = 0;
  for (size_t i = 0; i < n; i++) {
    int d = digits[n - 1 - i] - '0';
    if (i % 2 == 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 == 0;
}

int carnet_siret_normalize(const char *s, char out[15]) {
  size_t n = 0;
  out[0] = '\0';
  if (s == NULL) return CARNET_EINVAL;
  for (; *s; s++) {
    if (*s == ' ' || *s == '.' || *s == '-') continue;
    if (!isdigit((unsigned char)*s) || n >= 14) return CARNET_EINVAL;
    out[n++] = *s;
  }
  out[n] = '\0';
  if (n != 9 && n != 14) return CARNET_EINVAL;
  /* La Poste: its SIREN 356000000 passes Luhn, but its establishments' SIRETs
   * do not; for them the rule is a digit sum that is a multiple of 5. */
  if (strncmp(out, "356000000", 9) == 0) {
    if (n == 9) return 0;
    int sum = 0;
    for (size_t i = 0; i < n; i++) sum += out[i] - '0';
    return sum % 5 == 0 ? 0 : CARNET_EINVAL;
  }
  return luhn(out, n) ? 0 : CARNET_EINVAL;
}

/* French overseas departments dial with a French trunk prefix but have
 * their own country codes: 0262/0692 is +262, not +33. */
static const struct {
  const char *trunk;
  const char *cc;
} overseas[] = {
    {"0262", "262"}, {"0263", "262"}, {"0269", "262"}, {"0692", "262"}, {"0693", "262"},
    {"0639", "262"}, {"0590", "590"}, {"0690", "590"}, {"0691", "590"}, {"0594", "594"},
    {"0694", "594"}, {"0596", "596"}, {"0696", "596"}, {"0697", "596"},
};

int carnet_phone_normalize(const char *s, char *out, size_t out_len) {
  char d[40];
  size_t n = 0;
  bool plus = false;
  if (s == NULL || out_len < 17) return CARNET_EINVAL;
  out[0] = '\0';
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '+' && n == 0 && !plus) {
      plus = true;
    } else if (c == '(' && p[1] == '0' && p[2] == ')' && (plus || n > 0)) {
      p += 2; /* "+33 (0)6…": the trunk zero is not dialled after a country code */
    } else if (isdigit(c)) {
      if (n >= sizeof d - 1) return CARNET_EINVAL;
      d[n++] = (char)c;
    } else if (!(c == ' ' || c == '.' || c == '-' || c == '(' || c == ')' || c == '/')) {
      return CARNET_EINVAL;
    }
  }
  d[n] = '\0';
  const char *digits = d;
  if (!plus && n > 2 && d[0] == '0' && d[1] == '0') {
    digits = d + 2; /* international prefix 00 */
    plus = true;
  }
  if (plus) {
    size_t len = strlen(digits);
    if (len < 8 || len > 15 || digits[0] == '0') return CARNET_EINVAL;
    snprintf(out, out_len, "+%s", digits);
    return 0;
  }
  /* National French number: ten digits starting with 0. */
  if (n != 10 || d[0] != '0' || d[1] == '0') return CARNET_EINVAL;
  for (size_t i = 0; i < sizeof overseas / sizeof overseas[0]; i++) {
    if (strncmp(d, overseas[i].trunk, 4) == 0) {
      snprintf(out, out_len, "+%s%s", overseas[i].cc, d + 1);
      return 0;
    }
  }
  snprintf(out, out_len, "+33%s", d + 1);
  return 0;
}
