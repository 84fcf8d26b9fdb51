/* carnet/dupes.h - finding customers that may be one and the same.
 *
 * Two sources of candidates, both read from the replica's blind indexes
 * (keyed hashes of normal forms, carnet/normalize.h), so nothing scans the
 * whole base pair by pair:
 *
 *   - exact: the same phone (E.164), e-mail (trimmed, lower-cased), SIRET,
 *     SIREN, or e-mail "hint" (local part without +tag and dots);
 *   - fuzzy: customers in one name block (same postcode, or city when there
 *     is no postcode, and the same first three letters of the folded name
 *     or of its word-sorted form) are compared by Jaro-Winkler similarity
 *     of their folded names.
 *
 * Each candidate pair carries a score in [0, 1] and its reasons. Nothing
 * is ever merged here: a person decides.
 */
#ifndef CARNET_DUPES_H
#define CARNET_DUPES_H

#include "carnet/api.h"

#include "carnet/replica.h"
#include <stdbool.h>
#include <stddef.h>

CARNET_BEGIN_DECLS

/* Why two customers are candidates (bits), and what counts against it.
 *
 * Bits 0-5 are evidence for. CARNET_DUPE_NAME_COMPANY qualifies
 * CARNET_DUPE_NAME: the names that matched are the companies' (trade
 * names), not the persons'. Bits from CARNET_DUPE_OTHER_ESTABLISHMENT on
 * are evidence against, present in both records and different; each
 * lowers the score:
 *
 *   - two valid SIRETs of one SIREN: one company, two establishments, never
 *     a likely duplicate (score at most 0.5);
 *   - two valid SIRETs (or SIRENs) of different SIRENs: two companies
 *     (score x0.3);
 *   - e-mails, none in common (not even but for +tag and dots); mobiles,
 *     none in common (else, more weakly, phones of any type, none in
 *     common); for companies, the legal forms ("SARL" and "SA"), and the
 *     contact persons (the customers' names, when they name a person apart
 *     from the company): each weakens the similar name only, not a shared
 *     phone or e-mail, so a same name in the same place with any of them
 *     is no longer a likely duplicate on its own. */
typedef enum carnet_dupe_reason {
  CARNET_DUPE_SIRET = 1u << 0,               /* same SIRET (or same SIREN, both without SIRET) */
  CARNET_DUPE_SIREN = 1u << 1,               /* same SIREN, different establishments */
  CARNET_DUPE_PHONE = 1u << 2,               /* a phone in common */
  CARNET_DUPE_EMAIL = 1u << 3,               /* an e-mail in common */
  CARNET_DUPE_EMAIL_HINT = 1u << 4,          /* e-mails equal but for +tag and dots */
  CARNET_DUPE_NAME = 1u << 5,                /* similar names in the same postcode / city */
  CARNET_DUPE_NAME_COMPANY = 1u << 6,        /* the similar names are the companies' */
  CARNET_DUPE_OTHER_ESTABLISHMENT = 1u << 7, /* against: same SIREN, other SIRET */
  CARNET_DUPE_DIFF_SIRET = 1u << 8,          /* against: SIRETs of two SIRENs */
  CARNET_DUPE_DIFF_EMAIL = 1u << 9,          /* against: no e-mail in common */
  CARNET_DUPE_DIFF_MOBILE = 1u << 10,        /* against: no mobile in common */
  CARNET_DUPE_DIFF_FORM = 1u << 11,          /* against: other legal forms */
  CARNET_DUPE_DIFF_PERSON = 1u << 12,        /* against: other contact persons */
  CARNET_DUPE_DIFF_PHONE = 1u << 13,         /* against: no phone in common */
} carnet_dupe_reason;

/* The evidence for (bits 0-5) and against (bits 7-13) in `reasons`. */
#define CARNET_DUPE_FOR_MASK 0x3fu
#define CARNET_DUPE_AGAINST_MASK 0x3f80u

/* Brief: the name of a reason bit ("same phone", "similar company name",
 * "same company, other establishment", "different e-mails"), or NULL. */
CARNET_API const char *carnet_dupes_reason_name(carnet_dupe_reason bit);

/* One candidate pair. */
typedef struct carnet_dupe {
  carnet_id a, b;         /* a < b (byte order) */
  double score;           /* 0..1: how likely the pair is one customer */
  unsigned reasons;       /* carnet_dupe_reason bits */
  double name_similarity; /* Jaro-Winkler of the folded names, 0..1 (the best
                             over name and company, either word order) */
  bool same_place;        /* same postcode, or same city without postcodes */
} carnet_dupe;

/* The score from which a pair is a likely duplicate: the default of
 * `carnet dupes` and of the check before `carnet customer add`. */
#define CARNET_DUPE_SCORE_DEFAULT 0.8

/* Limits: an index value shared by more customers than this (a switchboard
 * number on 500 records, a name block of a big town) gives no pairs beyond
 * the first CARNET_DUPE_RUN_MAX entities of the run; this is what keeps
 * detection well below quadratic in the worst case. */
#define CARNET_DUPE_RUN_MAX 64

/* Brief: every candidate pair of live customers with score >= min_score,
 * best first (then by ids). After the call *out is an array of *n
 * pairs owned by the caller (carnet_free it; NULL when none).
 * Errors: CARNET_ENOMEM, CARNET_ECORRUPT, CARNET_EIO. */
CARNET_API int carnet_dupes_find(carnet_replica *r, double min_score, carnet_dupe **out, size_t *n);

/* Brief: the candidate pairs of one customer `id` with score >= min_score
 * (pair.a or pair.b is `id`), best first; sees the open transaction's
 * writes, so a caller can create, check, and commit or abort.
 * Ownership as carnet_dupes_find. Errors: as carnet_dupes_find. */
CARNET_API int carnet_dupes_of(carnet_replica *r, const carnet_id *id, double min_score,
                               carnet_dupe **out, size_t *n);

/* What carnet_record_lookup looks for. */
typedef enum carnet_lookup_kind {
  CARNET_LOOKUP_PHONE = 1, /* a phone in any written form (French numbering) */
  CARNET_LOOKUP_EMAIL = 2, /* an address, any case, spaces around */
  CARNET_LOOKUP_SIRET = 3, /* a SIRET or SIREN, as carnet_siret_normalize takes */
  CARNET_LOOKUP_SIREN = 4, /* every customer of a SIREN (9 digits or a SIRET) */
} carnet_lookup_kind;

/* Brief: the live customers with this phone, e-mail or SIRET, from the
 * index (no scan). Writes up to `max` ids to `ids` in id order and the
 * number found to *n (which may exceed max).
 * Errors: CARNET_EINVAL (the value does not normalise, or unknown kind),
 * CARNET_ECORRUPT, CARNET_EIO. */
CARNET_API int carnet_record_lookup(carnet_replica *r, carnet_lookup_kind kind, const char *value,
                                    carnet_id *ids, size_t max, size_t *n);

/* Brief: Jaro-Winkler similarity of two byte strings (0..1; prefix scale
 * 0.1, at most 4 characters of prefix). Exposed for tests and tools. */
CARNET_API double carnet_name_similarity(const char *s, const char *t);

CARNET_END_DECLS

#endif
