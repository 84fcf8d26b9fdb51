/* engine/store/phone_cache.h - phone numbers read once per handle.
 *
 * A libphonenumber parse costs tens of microseconds of regular
 * expressions, and an imported row's phone used to be read four times
 * (the row's check, its write, the duplicate lookup, the opposition list).
 * The handle keeps the last few reads, by text and region, so that the
 * same number is read once. The memo holds personal data: it is wiped at
 * every commit and abort (so an erasure, which commits, leaves nothing in
 * it) and at close.
 *
 * Invariant: an entry's result is exactly what carnet_phone_parse(text,
 * region) returned for it; a hit copies it.
 */
#ifndef CARNET_ENGINE_STORE_PHONE_CACHE_H
#define CARNET_ENGINE_STORE_PHONE_CACHE_H

#include "carnet/normalize.h"
#include "carnet/replica.h"

/* carnet_phone_parse(text, region, out), through the handle's memo. */
int carnet__phone_parse_memo(carnet_replica *r, const char *text, const char region[3],
                             carnet_phone *out);

/* The E.164 form of `text` read in the replica's default region (read in
 * its own read transaction, or the open one), as index keys hold it.
 * Errors: those of carnet_phone_parse, or of reading the region. */
int carnet__phone_key(carnet_replica *r, const char *text, char *out, size_t out_len);

/* Forgets every entry (wiped, not only marked). */
void carnet__phone_memo_wipe(carnet_replica *r);

#endif
