/* engine/crm/dates.h - calendar dates as text (YYYY-MM-DD) and local date-times
 * (YYYY-MM-DDTHH:MM:SS), for documents, actions and reminders (not API;
 * the public part is in carnet/document.h).
 *
 * Dates are stored as text so that they sort as they read and mean the same
 * on every replica whatever its time zone: "the reminder is on the 12th" is
 * a calendar fact, not an instant. Day arithmetic uses the proleptic
 * Gregorian calendar (Howard Hinnant's days_from_civil), with no time zone.
 */
#ifndef CARNET_ENGINE_DATES_H
#define CARNET_ENGINE_DATES_H

#include <stdint.h>

/* Days since 1970-01-01 of a valid date; CARNET_EINVAL otherwise. */
int carnet__date_days(const char *date, int64_t *days);
/* The date of a day number (out: 11 bytes). */
void carnet__date_of_days(int64_t days, char out[11]);

/* Local date and date-time of Unix milliseconds. */
void carnet__date_of_ms(uint64_t ms, char out[11]);
void carnet__datetime_of_ms(uint64_t ms, char out[20]);

/* "YYYY-MM-DD", "YYYY-MM-DDTHH:MM", "YYYY-MM-DD HH:MM[:SS]" ->
 * "YYYY-MM-DDTHH:MM:SS" (out: 20 bytes). Errors: CARNET_EINVAL. */
int carnet__datetime_normalize(const char *s, char out[20]);

#endif
