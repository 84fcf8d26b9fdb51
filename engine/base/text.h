/* engine/base/text.h - checks of user-typed text (pure functions). */
#ifndef CARNET_ENGINE_TEXT_H
#define CARNET_ENGINE_TEXT_H

#include "carnet/normalize.h"
#include "carnet/record.h"
#include <stdbool.h>
#include <stddef.h>

/* 0 when `s` is valid UTF-8 of at most `max` bytes without control
 * characters (newlines and tabs allowed when `multiline`). */
int carnet__text_valid(const char *s, size_t max, bool multiline);
int carnet__parse_bool(const char *s, bool *out);
int carnet__geo_valid(const char *s);
int carnet__custom_name_valid(const char *s);
int carnet__custom_value_valid(carnet_custom_type type, const char *v);
const char *carnet__custom_type_name(carnet_custom_type type);
/* "mobile" for a parsed mobile number (libphonenumber's line type, as
 * carnet_phone_parse found it; +336 and +337 when the metadata does not
 * know the range), else "work". Takes the parse, not the text: a parse
 * costs tens of microseconds of regular expressions. */
const char *carnet__phone_default_type(const carnet_phone *p);

#endif
