/* carnet/normalize.h - normal forms of e-mail addresses, SIRET/SIREN, phone
 * numbers and names (pure functions: no replica, no allocation, thread-safe).
 *
 * The write path stores phones in E.164 and SIRET as digits; e-mails and
 * names are stored as typed and only their *keys* are normalised, for
 * lookups and duplicate detection (carnet/dupes.h). Every function writes a
 * NUL-terminated string to a caller buffer and, on error, an empty string.
 */
#ifndef CARNET_NORMALIZE_H
#define CARNET_NORMALIZE_H

#include "carnet/api.h"

#include <stdbool.h>
#include <stddef.h>

CARNET_BEGIN_DECLS

/* --- E-mail addresses ----------------------------------------------------- */

/* Brief: true when `s` is a syntactically valid e-mail address (no
 * surrounding spaces). */
CARNET_API bool carnet_email_valid(const char *s);

/* Brief: the matching key of an address: surrounding white space trimmed and
 * the whole address lower-cased (ASCII). Two addresses with one key are the
 * same mailbox for duplicate detection; the stored address is never
 * rewritten. No provider-specific rule is applied.
 * Errors: CARNET_EINVAL (not a valid address once trimmed), CARNET_ELIMIT
 * (`out_len` too small; 255 bytes always suffice). */
CARNET_API int carnet_email_key(const char *s, char *out, size_t out_len);

/* Brief: the "possible duplicate" hint key: the matching key with, in the
 * local part, everything from the first '+' dropped and every '.' removed
 * ("Jean.Dupont+crm@x.fr" -> "jeandupont@x.fr"). Only a hint: for most
 * providers these are different mailboxes.
 * Errors: as carnet_email_key. */
CARNET_API int carnet_email_hint_key(const char *s, char *out, size_t out_len);

/* --- SIRET / SIREN -------------------------------------------------------- */

/* Brief: normalise a SIRET (14) or SIREN (9) to digits and check it with
 * Luhn (La Poste: SIREN 356000000, digit sum a multiple of 5). Spaces, dots
 * and dashes are ignored. Writes the digits and a NUL to out (15 bytes).
 * Errors: CARNET_EINVAL. */
CARNET_API int carnet_siret_normalize(const char *s, char out[15]);

/* --- Phone numbers -------------------------------------------------------- */

/* Phone numbers are read with libphonenumber (its metadata covers every
 * country) behind a C wrapper; nothing of C++ shows in this header. */

/* The longest E.164 text, with its '+' and NUL. */
#define CARNET_PHONE_E164_MAX 17
/* The longest extension kept (digits), with its NUL. */
#define CARNET_PHONE_EXT_MAX 11
/* The longest stored form, "+E164;ext=DIGITS", with its NUL. */
#define CARNET_PHONE_STORED_MAX (CARNET_PHONE_E164_MAX + 5 + CARNET_PHONE_EXT_MAX - 1)

/* The kind of line a number belongs to, from libphonenumber's metadata
 * (not the mobile / work / home label a user gives). Values are API: never
 * renumber. */
typedef enum carnet_phone_type {
  CARNET_PHONE_UNKNOWN = 0, /* a possible number outside the listed ranges */
  CARNET_PHONE_FIXED_LINE = 1,
  CARNET_PHONE_MOBILE = 2,
  CARNET_PHONE_FIXED_LINE_OR_MOBILE = 3, /* the plan does not tell them apart (US) */
  CARNET_PHONE_TOLL_FREE = 4,
  CARNET_PHONE_PREMIUM_RATE = 5,
  CARNET_PHONE_SHARED_COST = 6,
  CARNET_PHONE_VOIP = 7,
  CARNET_PHONE_PERSONAL_NUMBER = 8,
  CARNET_PHONE_PAGER = 9,
  CARNET_PHONE_UAN = 10,
  CARNET_PHONE_VOICEMAIL = 11,
} carnet_phone_type;

/* One number as read by carnet_phone_parse (a plain value). */
typedef struct carnet_phone {
  char e164[CARNET_PHONE_E164_MAX]; /* "+33142685300": the number, never its extension */
  char ext[CARNET_PHONE_EXT_MAX];   /* "12", or "" when none */
  char region[4];                   /* "FR", "RE"…, "001" (non-geographic), or "" */
  carnet_phone_type type;
  bool valid; /* in a range the metadata lists as assigned, not only the right length */
} carnet_phone;

/* Brief: read a phone number as people write it, with `region` (ISO 3166
 * alpha-2, "FR", "BE", "US"…, any case; NULL means "FR") as the country of
 * national numbers.
 *
 * Accepted: digits separated by spaces, dots, dashes, slashes and
 * parentheses; an international form "+CC…" or with the region's
 * international prefix ("00CC…" in Europe, "011…" in the NANP); a trunk
 * "(0)" after a country code ("+33 (0)6 12 34 56 78"); a national number
 * with its trunk prefix or without it (spreadsheets drop the leading zero);
 * then optionally an extension: "poste 12", "p. 12", "ext. 12", "ext 12",
 * "extension 12", "x12", "#12" or ";ext=12" (1 to 10 digits). The number
 * must have a possible length for its country (libphonenumber); it may lie
 * outside the ranges listed as assigned (`valid` is then false and `type`
 * CARNET_PHONE_UNKNOWN), as the hand-written rules accepted before.
 *
 * French overseas: with region FR, a national number that is not a valid
 * metropolitan number is tried in La Réunion, Mayotte, Guadeloupe,
 * Martinique, Guyane, Saint-Barthélemy and Saint-Martin, and takes the
 * first region where it is valid: "0692 12 34 56" is +262 692 12 34 56,
 * "0639…" +262 639… (Mayotte), "0690…" +590, "0696…" +596, "0694…" +594;
 * "05 08 41 23 45" is Saint-Pierre-et-Miquelon, +508 41 23 45. An explicit
 * country code is never rewritten ("+33 6 92…" stays +33).
 *
 * Refused: letters other than an extension's word (vanity numbers, "n/a"),
 * '+' elsewhere than first, a wrong length, an unknown country code.
 * Errors: CARNET_EINVAL (not a phone number, or unknown `region`; `*out`
 * is zeroed), CARNET_ENOMEM. */
CARNET_API int carnet_phone_parse(const char *s, const char *region, carnet_phone *out);

/* Brief: the form a customer's phone is stored in: the E.164 number, then
 * ";ext=" and the extension when there is one ("+33142685300;ext=12", the
 * RFC 3966 spelling). Duplicate detection and search use the E.164 part
 * only. Errors: CARNET_ELIMIT (`out_len` below CARNET_PHONE_STORED_MAX),
 * CARNET_EINVAL (an empty `p`). */
CARNET_API int carnet_phone_stored(const carnet_phone *p, char *out, size_t out_len);

/* Brief: "fixed_line", "mobile", "fixed_line_or_mobile", "toll_free",
 * "premium_rate", "shared_cost", "voip", "personal_number", "pager",
 * "uan", "voicemail" or "unknown" (for any other value too). */
CARNET_API const char *carnet_phone_type_name(carnet_phone_type t);

/* Brief: whether `region` is an ISO 3166 alpha-2 code (any case) that the
 * phone metadata knows, i.e. a valid replica default region. */
CARNET_API bool carnet_phone_region_valid(const char *region);

/* Brief: the E.164 number of a phone written in any form
 * (carnet_phone_parse with region "FR"), extension dropped: the key of
 * duplicate detection and search. Errors: as carnet_phone_normalize_in. */
CARNET_API int carnet_phone_normalize(const char *s, char *out, size_t out_len);

/* Brief: carnet_phone_parse(s, country, …) reduced to its E.164 number
 * ("+33612345678"; an extension is accepted and dropped). `out_len` must be
 * at least CARNET_PHONE_E164_MAX.
 * Errors: CARNET_EINVAL (not a phone number, or unknown `country`; `out`
 * is emptied), CARNET_ENOMEM. */
CARNET_API int carnet_phone_normalize_in(const char *s, const char *country, char *out,
                                         size_t out_len);

/* Brief: the country calling code ("33") of an ISO 3166 alpha-2 region
 * (any case) the metadata knows, or NULL. The string is a constant. */
CARNET_API const char *carnet_phone_calling_code(const char *country);

/* --- Names ---------------------------------------------------------------- */

/* The largest folded name kept; longer input is cut at a word boundary. */
#define CARNET_NAME_FOLD_MAX 256

/* Brief: fold a person's or company's name for matching (utf8proc): NFKD,
 * case folding, marks stripped ("É" -> "e", "ß" -> "ss", "Œ" -> "oe"),
 * apostrophes removed ("L'Atelier" -> "latelier"), any other character
 * that is not a letter or digit made a space, runs of one-letter words
 * joined ("S.A.R.L." -> "sarl"), legal forms dropped as whole words (SARL,
 * SAS, SASU, SA, EURL, SCI, SNC, EI, EIRL, GMBH, LTD, INC, …; unless
 * nothing else is left) and spaces collapsed.
 * "  SARL Boulangerie  Müller & Fils " -> "boulangerie muller fils".
 * Errors: CARNET_EINVAL (not UTF-8), CARNET_ELIMIT (`out_len` below
 * CARNET_NAME_FOLD_MAX). */
CARNET_API int carnet_name_fold(const char *s, char *out, size_t out_len);

/* Brief: carnet_name_fold with its words sorted and repeated words
 * dropped, so word order does not matter ("Dupont Jean" and "JEAN
 * DUPONT" -> "dupont jean"). Errors: as carnet_name_fold. */
CARNET_API int carnet_name_fold_sorted(const char *s, char *out, size_t out_len);

CARNET_END_DECLS

#endif
