/* engine/base/normalize.c - validation and normalisation of e-mail addresses,
 * SIRET/SIREN and phone numbers (pure functions, carnet/normalize.h). The
 * duplicate detector builds on the same normal forms; names are folded in
 * engine/base/fold.c.
 *
 * Phones: libphonenumber's metadata (every country, number types) through
 * the C shim of engine/base/phone.h. It replaced a hand-written table of 23
 * countries; the E.164 it gives for what that table accepted is the same
 * (tests/engine/test_normalize.c keeps the old vectors), so stored numbers
 * and blind-index keys stay valid without a migration. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/normalize.h"
#include "engine/base/phone.h"

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
    for (size_t i = 0; i < n; i++)
      sum += out[i] - '0';
    return sum % 5 == 0 ? 0 : CARNET_EINVAL;
  }
  return luhn(out, n) ? 0 : CARNET_EINVAL;
}

/* --- E-mail keys ---------------------------------------------------------- */

static bool is_space(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

int carnet_email_key(const char *s, char *out, size_t out_len) {
  if (out_len > 0) out[0] = '\0';
  if (s == NULL) return CARNET_EINVAL;
  while (is_space((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n > 0 && is_space((unsigned char)s[n - 1]))
    n--;
  if (n > 254) return CARNET_EINVAL;
  char buf[255];
  memcpy(buf, s, n);
  buf[n] = '\0';
  if (!carnet_email_valid(buf)) return CARNET_EINVAL;
  if (out_len < n + 1) return CARNET_ELIMIT;
  for (size_t i = 0; i <= n; i++)
    out[i] = (char)tolower((unsigned char)buf[i]);
  return 0;
}

int carnet_email_hint_key(const char *s, char *out, size_t out_len) {
  char key[255];
  int rc = carnet_email_key(s, key, sizeof key);
  if (out_len > 0) out[0] = '\0';
  if (rc) return rc;
  const char *at = strrchr(key, '@');
  size_t n = 0;
  bool tag = false;
  for (const char *p = key; p < at; p++) {
    if (*p == '+') tag = true;
    if (tag || *p == '.') continue;
    key[n++] = *p; /* in place: n never passes p */
  }
  /* "+tag@x.fr" or ".@": keep the full key rather than an empty local part. */
  if (n == 0) return carnet_email_key(s, out, out_len);
  size_t dl = strlen(at);
  if (out_len < n + dl + 1) return CARNET_ELIMIT;
  memcpy(out, key, n);
  memcpy(out + n, at, dl + 1);
  return 0;
}

/* --- Phones ----------------------------------------------------------------- */

/* The reading of a phone is split in two: this file checks the characters,
 * cuts off an extension and applies the French overseas rule; libphonenumber
 * (engine/base/phone.cc, behind engine/base/phone.h) knows every country's plan. The
 * characters are checked here because libphonenumber is generous: it reads
 * letters as keypad digits ("0800-FLEURS") and skips leading junk, where a
 * customer book wants a typo refused rather than half-read. */

/* Bounds of what is read at all: longer text is not a phone number. */
#define PHONE_TEXT_MAX 96
#define PHONE_DIGITS_MAX 20

static bool upper_region(const char *region, char out[3]) {
  if (region == NULL) region = "FR";
  if (!isalpha((unsigned char)region[0]) || !isalpha((unsigned char)region[1]) || region[2])
    return false;
  out[0] = (char)toupper((unsigned char)region[0]);
  out[1] = (char)toupper((unsigned char)region[1]);
  out[2] = '\0';
  return carnet__lpn_country_code(out) > 0;
}

bool carnet_phone_region_valid(const char *region) {
  char r[3];
  return region != NULL && upper_region(region, r);
}

/* The words that introduce an extension, longest first where one is the
 * prefix of another ("extension" before "ext", "poste" before "p"). */
static const char *const ext_words[] = {";ext=", "extension", "extn", "ext", "poste",
                                        "post",  "p",         "x",    "#"};

/* Read the extension that starts at `s` into `ext`; false when `s` is not
 * an optional comma, an extension word, separators and 1..10 digits, then
 * spaces only. */
static bool read_extension(const char *s, char ext[CARNET_PHONE_EXT_MAX]) {
  size_t w = 0, n = 0;
  if (*s == ',') /* "01 42 68 53 00, poste 12" */
    for (s++; *s == ' ' || *s == '\t';)
      s++;
  for (size_t i = 0; i < sizeof ext_words / sizeof ext_words[0]; i++) {
    size_t len = strlen(ext_words[i]);
    bool same = true;
    for (size_t k = 0; same && k < len; k++)
      same = tolower((unsigned char)s[k]) == ext_words[i][k];
    if (same) {
      w = len;
      break;
    }
  }
  if (w == 0) return false;
  s += w;
  while (*s == '.' || *s == ':' || *s == '=' || *s == ' ' || *s == '\t')
    s++;
  for (; isdigit((unsigned char)*s); s++) {
    if (n + 1 >= CARNET_PHONE_EXT_MAX) return false;
    ext[n++] = *s;
  }
  ext[n] = '\0';
  while (*s == ' ' || *s == '\t')
    s++;
  return n > 0 && *s == '\0';
}

/* Copy the number part of `s` to `num` (spaces of any kind made ' '), its
 * digits to `digits`, and the extension, if any, to `ext`; false when a
 * character is neither part of a number nor an extension. */
static bool split_phone(const char *s, char num[PHONE_TEXT_MAX], char digits[PHONE_DIGITS_MAX + 1],
                        char ext[CARNET_PHONE_EXT_MAX], bool *plus) {
  size_t n = 0, nd = 0;
  *plus = false;
  ext[0] = '\0';
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (n + 1 >= PHONE_TEXT_MAX) return false;
    if (isdigit(*p)) {
      if (nd >= PHONE_DIGITS_MAX) return false;
      digits[nd++] = (char)*p;
      num[n++] = (char)*p;
    } else if (*p == '+') {
      if (nd > 0 || *plus) return false;
      *plus = true;
      num[n++] = '+';
    } else if (*p == ' ' || *p == '\t' || *p == '.' || *p == '-' || *p == '(' || *p == ')' ||
               *p == '/') {
      num[n++] = (char)*p;
    } else if (p[0] == 0xC2 && p[1] == 0xA0) {
      num[n++] = ' '; /* no-break space, as French typography spaces numbers */
      p += 1;
    } else if (p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0xAF) {
      num[n++] = ' '; /* narrow no-break space */
      p += 2;
    } else if (nd > 0 && read_extension((const char *)p, ext)) {
      break;
    } else {
      return false;
    }
  }
  num[n] = '\0';
  digits[nd] = '\0';
  return nd > 0;
}

/* French overseas departments and collectivities dial with the French
 * trunk zero but have their own country codes. The ranges below are
 * attributed by Arcep to the overseas territories; libphonenumber's FR
 * metadata (8.12) nevertheless lists 0262, 0590, 0594 and 0596 as
 * metropolitan fixed lines and knows only part of the overseas mobile
 * ranges, so the attribution is applied first, by prefix. The NSN keeps
 * the digits after the trunk zero (+262 692…). */
static const struct {
  char nsn[4];
  char cc[4];
} overseas_prefix[] = {
    {"262", "262"}, {"263", "262"}, {"269", "262"}, {"639", "262"}, {"692", "262"},
    {"693", "262"}, {"590", "590"}, {"690", "590"}, {"691", "590"}, {"594", "594"},
    {"694", "594"}, {"596", "596"}, {"696", "596"}, {"697", "596"},
};

/* The regions that share the French numbering, tried in this order when a
 * national number read in FR is neither valid in metropolitan France nor
 * in an attributed overseas range (ranges newer than the table above).
 * Réunion before Mayotte: they share +262, so either gives the same E.164. */
static const char overseas[][3] = {"RE", "YT", "GP", "MQ", "GF", "BL", "MF"};

/* Saint-Pierre-et-Miquelon dials from France as 05 08 + its six digits,
 * which libphonenumber reads as a metropolitan 05 number: "05 08 41 23 45"
 * is +508 41 23 45, as the rules before libphonenumber stored it. */
static bool pm_number(const char *nsn, char text[16]) {
  if (strlen(nsn) != 9 || strncmp(nsn, "508", 3) != 0) return false;
  snprintf(text, 16, "+508%s", nsn + 3);
  return true;
}

/* A national number read in FR (`l` holds "+33" and its NSN) that belongs
 * overseas: reparse it there. Returns 0 with `l` unchanged when it stays
 * metropolitan. */
static int french_overseas(const char *num, carnet__lpn *l) {
  const char *nsn = l->e164 + 3;
  char text[24];
  carnet__lpn o;
  int rc;
  if (pm_number(nsn, text)) {
    if ((rc = carnet__lpn_parse(text, "FR", &o)) == 0) *l = o;
    return rc == CARNET_ENOMEM ? rc : 0;
  }
  for (size_t i = 0; i < sizeof overseas_prefix / sizeof overseas_prefix[0]; i++) {
    if (strlen(nsn) != 9 || strncmp(nsn, overseas_prefix[i].nsn, 3) != 0) continue;
    snprintf(text, sizeof text, "+%s%s", overseas_prefix[i].cc, nsn);
    if ((rc = carnet__lpn_parse(text, "FR", &o)) == 0) *l = o;
    return rc == CARNET_ENOMEM ? rc : 0;
  }
  if (l->valid && l->type != CARNET_PHONE_UNKNOWN) return 0;
  for (size_t i = 0; i < sizeof overseas / sizeof overseas[0]; i++) {
    rc = carnet__lpn_parse(num, overseas[i], &o);
    if (rc == CARNET_ENOMEM) return rc;
    if (rc == 0 && o.valid) {
      *l = o;
      break;
    }
  }
  return 0;
}

int carnet_phone_parse(const char *s, const char *region, carnet_phone *out) {
  char num[PHONE_TEXT_MAX], digits[PHONE_DIGITS_MAX + 1], home[3];
  carnet__lpn l;
  bool plus;
  memset(out, 0, sizeof *out);
  if (s == NULL || !upper_region(region, home) || strlen(s) >= PHONE_TEXT_MAX ||
      !split_phone(s, num, digits, out->ext, &plus)) {
    memset(out, 0, sizeof *out);
    return CARNET_EINVAL;
  }
  int rc = carnet__lpn_parse(num, home, &l);
  if (rc == 0 && strcmp(home, "FR") == 0 && l.from_default && strncmp(l.e164, "+33", 3) == 0)
    rc = french_overseas(num, &l);
  if (rc == 0 && (!l.possible || (!l.valid && l.trunk_start))) rc = CARNET_EINVAL;
  if (rc) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  memcpy(out->e164, l.e164, sizeof out->e164);
  memcpy(out->region, l.region, sizeof out->region);
  out->type = l.type;
  out->valid = l.valid;
  return 0;
}

int carnet_phone_stored(const carnet_phone *p, char *out, size_t out_len) {
  if (out_len > 0) out[0] = '\0';
  if (out_len < CARNET_PHONE_STORED_MAX) return CARNET_ELIMIT;
  if (p == NULL || p->e164[0] != '+') return CARNET_EINVAL;
  /* What snprintf(out, out_len, "%s;ext=%s", ...) writes (or "%s" without
   * an extension), truncation included: every phone stored goes through
   * here (issue 17, point 5). */
  const char *parts[3] = {p->e164, p->ext[0] ? ";ext=" : "", p->ext};
  size_t o = 0;
  for (int i = 0; i < 3; i++)
    for (const char *c = parts[i]; *c && o + 1 < out_len; c++)
      out[o++] = *c;
  out[o] = '\0';
  return 0;
}

const char *carnet_phone_type_name(carnet_phone_type t) {
  static const char *const names[] = {
      "unknown",         "fixed_line",   "mobile",      "fixed_line_or_mobile",
      "toll_free",       "premium_rate", "shared_cost", "voip",
      "personal_number", "pager",        "uan",         "voicemail",
  };
  return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

int carnet_phone_normalize_in(const char *s, const char *region, char *out, size_t out_len) {
  carnet_phone p;
  if (out_len > 0) out[0] = '\0';
  if (out_len < CARNET_PHONE_E164_MAX) return CARNET_EINVAL;
  int rc = carnet_phone_parse(s, region, &p);
  if (rc) return rc;
  memcpy(out, p.e164, sizeof p.e164);
  return 0;
}

int carnet_phone_normalize(const char *s, char *out, size_t out_len) {
  return carnet_phone_normalize_in(s, "FR", out, out_len);
}

const char *carnet_phone_calling_code(const char *region) {
  char r[3];
  if (region == NULL || !upper_region(region, r)) return NULL;
  return carnet__lpn_code_text(carnet__lpn_country_code(r));
}
