/* engine/base/phone_match.h - what libphonenumber's GetNumberType,
 * GetRegionCodeForNumber, IsPossibleNumberWithReason and GetNddPrefixForRegion
 * say of a number, computed from libphonenumber's own metadata without its
 * regular expressions (engine/base/phone_match.cc). Not API: engine/base/phone.cc
 * uses it, and tests compare it with libphonenumber. */
#ifndef CARNET_ENGINE_PHONE_MATCH_H
#define CARNET_ENGINE_PHONE_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "carnet/normalize.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the metadata says of a national significant number of a country. */
typedef struct carnet__phone_facts {
  char region[4];         /* "FR", "001" (non-geographic), "" if none matches */
  carnet_phone_type type; /* GetNumberType */
  bool possible;          /* IsPossibleNumberWithReason() == IS_POSSIBLE */
  bool trunk_start;       /* the number starts with its country's trunk prefix */
} carnet__phone_facts;

/* The facts of the national significant number `nsn` (`len` ASCII digits,
 * leading zeros included) under the calling code `cc`. Returns 1 with `out`
 * filled, 0 when the tables do not cover that calling code (one of its
 * regions uses a pattern outside the subset the matcher compiles: ask
 * libphonenumber), or CARNET_ENOMEM (building the tables, on first use). */
int carnet__phone_facts_of(int cc, const char *nsn, size_t len, carnet__phone_facts *out);

/* ParseAndKeepRawInput of a national number, digits `d` (`len` of them,
 * separators already removed) in `region` (two capital letters), for the
 * regions whose trunk prefix is "0" and international prefix "00" (France
 * and 78 others): a number "0" then a digit 1-9. Returns 1 with the calling
 * code in `cc` and the national number as libphonenumber keeps it (trunk
 * zero stripped or kept, Italian-style leading zeros included) in `nsn`,
 * 0 when it does not apply (ask libphonenumber), or CARNET_ENOMEM. */
int carnet__phone_national(const char *region, const char *d, size_t len, int *cc, char nsn[32],
                           size_t *nsn_len);

/* ParseAndKeepRawInput of "+" then the digits `d` (`len` of them,
 * separators removed), when libphonenumber keeps the national number whole
 * (it does not start with 0, and the code's main region parses no national
 * prefix or only "0"). Returns 1 with `cc` and `nsn` filled, 0 when it does
 * not apply (ask libphonenumber), or CARNET_ENOMEM. */
int carnet__phone_international(const char *d, size_t len, int *cc, char nsn[32], size_t *nsn_len);

/* GetCountryCodeForRegion for two capital letters ("FR" -> 33, 0 for a
 * pair the metadata does not know) from a table; -1 for any other string
 * (ask libphonenumber) or when the table cannot be built. */
int carnet__phone_region_code(const char *region);

/* The i-th example number of libphonenumber's metadata (every region, every
 * number type that has one), written "+<code><national number>", and its
 * region in `region`. Returns false when i is past the last one. For tests. */
bool carnet__phone_example(size_t i, char text[32], char region[4]);

/* How many calling codes the tables cover, how many they leave to
 * libphonenumber, and for how many the tables' list of regions differs
 * from libphonenumber's (0: for tests). */
void carnet__phone_coverage(int *covered, int *left, int *misordered);

#ifdef __cplusplus
}
#endif

#endif
