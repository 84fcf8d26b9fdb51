/* engine/normalize.c - validation and normalisation of e-mail addresses,
 * SIRET/SIREN and phone numbers (pure functions, carnet/normalize.h). The
 * duplicate detector builds on the same normal forms; names are folded in
 * engine/fold.c.
 *
 * Phones: a tested rule set of our own rather than libphonenumber (a C++
 * library with a large metadata set). Per country it knows the calling code,
 * whether national numbers carry a trunk prefix, and the range of lengths of
 * the national significant number (NSN); that is enough to recognise one
 * number in its usual written forms, which is what duplicate detection
 * needs. It does not tell an assigned number from an unassigned one. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/normalize.h"

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

typedef struct country {
  char iso[3];
  const char *cc;
  char trunk;               /* national trunk prefix digit, or 0 when none */
  uint8_t nsn_min, nsn_max; /* length of the national significant number */
} country;

/* Sorted by nothing in particular: the table is small. Lengths are those
 * of the numbering plans (ITU-T E.164 national plans), a little wide where
 * a plan has exceptions (DE, IT, LU have variable-length numbers). */
static const country countries[] = {
    {"FR", "33", '0', 9, 9},  {"BE", "32", '0', 8, 9},  {"CH", "41", '0', 9, 9},
    {"LU", "352", 0, 4, 11},  {"DE", "49", '0', 5, 13}, {"AT", "43", '0', 4, 13},
    {"ES", "34", 0, 9, 9},    {"PT", "351", 0, 9, 9},   {"IT", "39", 0, 6, 11},
    {"GB", "44", '0', 9, 10}, {"IE", "353", '0', 7, 9}, {"NL", "31", '0', 9, 9},
    {"MC", "377", 0, 8, 9},   {"US", "1", '1', 10, 10}, {"CA", "1", '1', 10, 10},
    {"RE", "262", '0', 9, 9}, {"GP", "590", '0', 9, 9}, {"GF", "594", '0', 9, 9},
    {"MQ", "596", '0', 9, 9}, {"PM", "508", '0', 6, 6}, {"YT", "262", '0', 9, 9},
    {"MF", "590", '0', 9, 9}, {"BL", "590", '0', 9, 9},
};

static const country *country_by_iso(const char *iso) {
  if (iso == NULL) iso = "FR";
  for (size_t i = 0; i < sizeof countries / sizeof countries[0]; i++)
    if (toupper((unsigned char)iso[0]) == countries[i].iso[0] &&
        toupper((unsigned char)iso[1]) == countries[i].iso[1] && iso[1] && !iso[2])
      return &countries[i];
  return NULL;
}

/* The first country whose calling code starts `d` (calling codes are a
 * prefix code, so at most one code matches; several countries may share
 * it, like US and CA, with one plan). */
static const country *country_by_cc(const char *d) {
  for (size_t i = 0; i < sizeof countries / sizeof countries[0]; i++)
    if (strncmp(d, countries[i].cc, strlen(countries[i].cc)) == 0) return &countries[i];
  return NULL;
}

const char *carnet_phone_calling_code(const char *iso) {
  const country *c = country_by_iso(iso);
  return iso && c ? c->cc : NULL;
}

/* French overseas departments and collectivities dial with a French trunk
 * prefix but have their own country codes: 0262/0692 is +262, not +33. The
 * NSN keeps the digits after the trunk zero (+262 692…), except for
 * Saint-Pierre-et-Miquelon, whose numbers are six digits after 0508. */
static const struct {
  const char nsn[4];
  const char *cc;
} overseas[] = {
    {"262", "262"}, {"263", "262"}, {"269", "262"}, {"639", "262"}, {"692", "262"},
    {"693", "262"}, {"590", "590"}, {"690", "590"}, {"691", "590"}, {"594", "594"},
    {"694", "594"}, {"596", "596"}, {"696", "596"}, {"697", "596"}, {"508", "508"},
};

static int e164(const char *cc, const char *nsn, char *out, size_t out_len) {
  size_t n = strlen(cc) + strlen(nsn);
  if (n > 15 || out_len < n + 2) return CARNET_EINVAL;
  snprintf(out, out_len, "+%s%s", cc, nsn);
  return 0;
}

static bool all_digits(const char *s) {
  for (; *s; s++)
    if (!isdigit((unsigned char)*s)) return false;
  return true;
}

/* A national significant number of country `c`. */
static int national(const country *c, const char *nsn, char *out, size_t out_len) {
  size_t n = strlen(nsn);
  if (n < c->nsn_min || n > c->nsn_max) return CARNET_EINVAL;
  /* A trunk prefix is never the first digit of an NSN (0 for FR: "00…" is
   * the international prefix; 1 for the NANP: area codes start 2-9). */
  if (c->trunk && nsn[0] == c->trunk) return CARNET_EINVAL;
  if (c->trunk == '0' && nsn[0] == '0') return CARNET_EINVAL;
  if (strcmp(c->cc, "1") == 0 && (nsn[0] < '2' || nsn[3] < '2')) return CARNET_EINVAL;
  if (strcmp(c->iso, "FR") == 0) {
    for (size_t i = 0; i < sizeof overseas / sizeof overseas[0]; i++) {
      if (strncmp(nsn, overseas[i].nsn, 3) != 0) continue;
      if (strcmp(overseas[i].cc, "508") == 0) return e164("508", nsn + 3, out, out_len);
      return e164(overseas[i].cc, nsn, out, out_len);
    }
  }
  return e164(c->cc, nsn, out, out_len);
}

int carnet_phone_normalize_in(const char *s, const char *iso, char *out, size_t out_len) {
  char d[40];
  size_t n = 0;
  bool plus = false;
  if (out_len > 0) out[0] = '\0';
  const country *home = country_by_iso(iso);
  if (s == NULL || home == NULL || out_len < CARNET_PHONE_E164_MAX) return CARNET_EINVAL;
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '+' && n == 0 && !plus) {
      plus = true;
    } else if (c == '(' && p[1] == '0' && p[2] == ')' && (plus || n > 0)) {
      p += 2; /* "+33 (0)6…": the trunk zero is not dialled after a country code */
    } else if (isdigit(c)) {
      if (n >= sizeof d - 1) return CARNET_EINVAL;
      d[n++] = (char)c;
    } else if (!(c == ' ' || c == '.' || c == '-' || c == '(' || c == ')' || c == '/' ||
                 c == '\t')) {
      /* Letters (vanity numbers, "poste", "ext", "x"), '#', '*', ',': an
       * extension or not a number; refused rather than half-read. */
      return CARNET_EINVAL;
    }
  }
  d[n] = '\0';
  if (n == 0) return CARNET_EINVAL;
  const char *digits = d;
  if (!plus && n > 2 && d[0] == '0' && d[1] == '0') {
    digits = d + 2; /* international prefix 00 */
    plus = true;
  } else if (!plus && n > 3 && strcmp(home->cc, "1") == 0 && strncmp(d, "011", 3) == 0) {
    digits = d + 3; /* the NANP's international prefix */
    plus = true;
  }
  if (plus) {
    const country *c = country_by_cc(digits);
    if (c == NULL) {
      /* A country we have no plan for: E.164's own bounds only. */
      size_t len = strlen(digits);
      if (len < 8 || len > 15 || digits[0] == '0') return CARNET_EINVAL;
      return e164("", digits, out, out_len);
    }
    const char *nsn = digits + strlen(c->cc);
    /* "+33 0612345678": a trunk zero written after the code, dropped when
     * what is left has the national length. */
    if (c->trunk == '0' && nsn[0] == '0' && strlen(nsn + 1) >= c->nsn_min &&
        strlen(nsn + 1) <= c->nsn_max)
      nsn++;
    if (strcmp(c->iso, "FR") != 0) return national(c, nsn, out, out_len);
    /* An explicit +33 is kept as written, overseas prefixes included. */
    size_t len = strlen(nsn);
    if (len != 9 || nsn[0] == '0') return CARNET_EINVAL;
    return e164("33", nsn, out, out_len);
  }
  /* A national number: with its trunk prefix, or without it when it has
   * exactly the national length (spreadsheets drop the leading zero). */
  if (!all_digits(d)) return CARNET_EINVAL;
  if (home->trunk && d[0] == home->trunk && n - 1 >= home->nsn_min && n - 1 <= home->nsn_max)
    return national(home, d + 1, out, out_len);
  if (home->trunk == 0 || (n == home->nsn_max && n == home->nsn_min))
    return national(home, d, out, out_len);
  return CARNET_EINVAL;
}

int carnet_phone_normalize(const char *s, char *out, size_t out_len) {
  return carnet_phone_normalize_in(s, "FR", out, out_len);
}
