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

/* The longest E.164 text, with its '+' and NUL. */
#define CARNET_PHONE_E164_MAX 17

/* Brief: normalise a phone number to E.164 ("+33612345678"), French
 * numbering by default: carnet_phone_normalize_in(s, "FR", ...).
 * Errors: as carnet_phone_normalize_in. */
CARNET_API int carnet_phone_normalize(const char *s, char *out, size_t out_len);

/* Brief: normalise a phone number to E.164 with `country` (ISO 3166
 * alpha-2, e.g. "FR", "BE", "US"; NULL means "FR") as the country of
 * national numbers.
 *
 * Accepted: digits separated by spaces, dots, dashes, slashes and
 * parentheses; an international form "+CC…" or "00CC…"; a trunk "(0)"
 * after a country code ("+33 (0)6 12 34 56 78", dropped) or at the start
 * ("(0)6 12 34 56 78", kept: a national number); a national number with
 * its trunk prefix ("06 12 34 56 78") or without it when it has exactly the
 * national length ("612345678", as spreadsheets leave it). With French
 * numbering the overseas departments get their own codes: 0262 0263 0269
 * 0639 0692 0693 -> +262, 0590 0690 0691 -> +590, 0594 0694 -> +594, 0596
 * 0696 0697 -> +596, 0508 -> +508 (six-digit numbers). An explicit country
 * code is never rewritten. Refused: letters, extensions ("poste 12", "x12",
 * "#12"), a wrong length for a known country code, and numbers of an
 * unknown country code outside 8..15 digits.
 * `out_len` must be at least CARNET_PHONE_E164_MAX.
 * Errors: CARNET_EINVAL (not a phone number, or unknown `country`). */
CARNET_API int carnet_phone_normalize_in(const char *s, const char *country, char *out,
                                         size_t out_len);

/* Brief: the country calling code ("33") of an ISO 3166 alpha-2 country
 * the normaliser knows, or NULL. */
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
