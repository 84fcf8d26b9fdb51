/* engine/model/know.h - knowledge vectors: what a replica holds of each origin's
 * changes (not API; docs/DESIGN-NOTES.md "No echo", docs/FORMATS.md).
 *
 * A knowledge vector maps an origin replica id to an HLC stamp h, and
 * claims: "every cell that origin wrote with a stamp <= h is held here, or
 * a cell that dominates it" (K1 below). A sync session sends its peer the
 * vector of what this replica holds (a KNOW message, protocol/msg.h), and
 * the peer's stream leaves out every cell the vector covers, whoever wrote
 * it: relay through a hub then costs each change once per hop.
 *
 * Invariants (engine/model/know.c):
 *  K1. A stored or sent vector is true: it only ever claims what the
 *      replica holds, in the snapshot it was read from and forever after
 *      (cells are never lost, only dominated; an erased entity's cells are
 *      dropped on purpose and never wanted again).
 *  K2. The replica's own entry is its clock (meta "hlc") in the snapshot:
 *      every local write is stamped above the clock of the transaction
 *      that makes it, and the clock is loaded and saved inside the write
 *      transaction, so a write committed after the snapshot is stamped
 *      above it, one committed before is at or below it.
 *  K3. The stored vector only grows, and only by the vector a peer read in
 *      the snapshot its stream reached (its mark `upto`), merged in the
 *      transaction where this replica's mark for that peer has `base >=
 *      upto`: then every cell the peer held in that snapshot is held here
 *      (the mark says so, engine/sync/changes.c A2), hence every cell the
 *      peer's vector covered. A cut stream leaves the vector where it was.
 *  K4. At most CARNET__KNOW_ORIGINS_MAX origins: an entry that does not
 *      fit is left out, which claims less (K1 still holds).
 *
 * Encoding (the same bytes in a KNOW message and in meta "know"): n
 * entries of 16 bytes, origin(8) then stamp(8), big-endian, origins
 * strictly increasing and non-zero, stamps non-zero; 0 <= n <=
 * CARNET__KNOW_ORIGINS_MAX. One vector has one byte form.
 */
#ifndef CARNET_ENGINE_KNOW_H
#define CARNET_ENGINE_KNOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/types.h"

#define CARNET__KNOW_ORIGINS_MAX 1024u
#define CARNET__KNOW_ENTRY_BYTES 16u
#define CARNET__KNOW_BYTES_MAX (CARNET__KNOW_ORIGINS_MAX * CARNET__KNOW_ENTRY_BYTES)

typedef struct carnet__know_entry {
  uint64_t origin;
  carnet_hlc hlc;
} carnet__know_entry;

typedef struct carnet__know {
  size_t n; /* entries, sorted by origin */
  carnet__know_entry e[CARNET__KNOW_ORIGINS_MAX];
} carnet__know;

/* Brief: the stamp up to which `k` holds `origin`'s cells (0: nothing
 * claimed). `k` may be NULL (nothing known). */
carnet_hlc carnet__know_get(const carnet__know *k, uint64_t origin);

/* Brief: whether `k` (may be NULL) holds the cell `origin` stamped `hlc`. */
static inline bool carnet__know_has(const carnet__know *k, uint64_t origin, carnet_hlc hlc) {
  return k != NULL && k->n != 0 && hlc <= carnet__know_get(k, origin);
}

/* Brief: raise `origin`'s entry of `k` to `hlc` (never lowers it). Returns
 * true when `k` changed; an origin that does not fit is left out (K4). */
bool carnet__know_raise(carnet__know *k, uint64_t origin, carnet_hlc hlc);

/* Brief: remove `origin`'s entry of `k`, if any. */
void carnet__know_drop(carnet__know *k, uint64_t origin);

/* Brief: raise every entry of `into` to `from`'s, leaving out `except` (0:
 * none). Returns true when `into` changed. */
bool carnet__know_merge(carnet__know *into, const carnet__know *from, uint64_t except);

/* Brief: the encoding of `k` into `out` (CARNET__KNOW_BYTES_MAX bytes
 * suffice); returns its length. */
size_t carnet__know_encode(const carnet__know *k, uint8_t *out);

/* Brief: decode and validate `len` bytes of a vector (the header's
 * encoding). Errors: CARNET_EPROTO (a length that is not a whole number of
 * entries or too long, an origin 0 or out of order, a stamp 0: `*bad_line`,
 * when not NULL, names the check). On error `*out` is empty. */
int carnet__know_decode(const void *bytes, size_t len, carnet__know *out, int *bad_line);

#endif
