/* engine/base/fracindex.h - fractional positions: strings that sort between
 * their neighbours, so a list item is inserted or moved by writing one
 * position, with no renumbering of the others (document lines).
 *
 * A position is 1..CARNET__POS_MAX base-62 digits "0-9A-Za-z" (in ASCII
 * order, so byte order is numeric order) read as the fraction 0.d1d2d3...,
 * never ending in '0' (so that between any two positions there is another
 * one). The midpoint is the well-known scheme of fractional indexing
 * (Evan Wallace, David Greenspan): strip the common prefix, then take the
 * middle digit, or extend by one digit when the first digits are
 * consecutive. Two replicas inserting at the same place concurrently get
 * the same position; readers break the tie by line id.
 */
#ifndef CARNET_ENGINE_FRACINDEX_H
#define CARNET_ENGINE_FRACINDEX_H

#include <stdbool.h>
#include <stddef.h>

#define CARNET__POS_MAX 128

/* True when the `len` bytes at `s` are a valid position. */
bool carnet__pos_valid(const char *s, size_t len);

/* A position strictly between `a` and `b` (both NUL-terminated): `a` NULL or
 * "" is the start, `b` NULL or "" the end; a < b. Writes it and a NUL to
 * `out` (CARNET__POS_MAX + 1 bytes). Errors: CARNET_EINVAL (a >= b or an
 * invalid position), CARNET_ELIMIT (the result would exceed
 * CARNET__POS_MAX digits). */
int carnet__pos_between(const char *a, const char *b, char out[CARNET__POS_MAX + 1]);

#endif
