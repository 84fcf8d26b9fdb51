/* engine/base/phone.h - the C face of libphonenumber (engine/base/phone.cc, the one
 * C++ file of the library). Not API: carnet/normalize.h declares what users
 * see, and engine/base/normalize.c builds it on these calls (reading the written
 * forms, extensions, the French overseas rule). Nothing here allocates for
 * the caller or keeps state between calls. */
#ifndef CARNET_ENGINE_PHONE_H
#define CARNET_ENGINE_PHONE_H

#include <stdbool.h>
#include <stddef.h>

#include "carnet/normalize.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What libphonenumber makes of one number. */
typedef struct carnet__lpn {
  char e164[CARNET_PHONE_E164_MAX]; /* "+33612345678" */
  char region[4];                   /* "FR", "RE", "001" (non-geographic); "" if none */
  carnet_phone_type type;
  bool valid;        /* in a range the metadata lists as assigned */
  bool possible;     /* a possible length for its country (IS_POSSIBLE) */
  bool from_default; /* the country code came from `region`, not the text */
  bool trunk_start;  /* the national number starts with its country's trunk prefix */
} carnet__lpn;

/* Parse `text` (digits and separators only: the caller has checked the
 * characters and removed any extension) with `region` as the country of
 * national numbers. Returns 0, CARNET_EINVAL (libphonenumber cannot read
 * it) or CARNET_ENOMEM. */
int carnet__lpn_parse(const char *text, const char *region, carnet__lpn *out);

/* carnet__lpn_parse from libphonenumber alone, without the shortcuts (the
 * parse of "+33" and nine digits, the type tables of
 * engine/base/phone_match.h): the reference tests compare them with. */
int carnet__lpn_parse_ref(const char *text, const char *region, carnet__lpn *out);

/* The country calling code of a region libphonenumber knows ("FR" -> 33),
 * 0 for any other string. The region must be upper case. */
int carnet__lpn_country_code(const char *region);

/* The decimal text of a calling code 1..999 from a constant table, or NULL. */
const char *carnet__lpn_code_text(int code);

#ifdef __cplusplus
}
#endif

#endif
