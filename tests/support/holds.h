/* tests/support/holds.h - whether a replica holds a value anywhere, its
 * sealed values opened with its key: what erasure tests assert is gone. */
#ifndef CARNET_TESTS_HOLDS_H
#define CARNET_TESTS_HOLDS_H

#include <stdbool.h>
#include <stddef.h>

/* Every key and value of every table of the replica in `dir` (opened with
 * its key file DIR/carnet.key), decrypted through the store, searched for
 * `needle`. Fails the running test when the replica cannot be read. */
bool replica_holds(const char *dir, const char *needle);

/* Whether a regular file directly in `dir` holds the bytes of `needle`
 * (what a byte search of the disk would find: sealed values never match). */
bool files_hold(const char *dir, const char *needle);
/* The first regular file directly in `dir` holding the `len` bytes, as a
 * malloc'd path, or NULL. */
char *file_holding_bytes(const char *dir, const void *needle, size_t len);

#endif
