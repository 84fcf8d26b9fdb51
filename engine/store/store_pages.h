/* engine/store/store_pages.h - reading an LMDB data file page by page, trusting
 * nothing (not API): what `carnet salvage` reads a damaged replica with.
 *
 * LMDB keeps no page checksums and follows the pointers it finds: a
 * damaged branch page sends it through a wild pointer, and a cursor over a
 * damaged leaf reads past its page. This reader never follows a pointer
 * without checking it: every page number must lie inside the file, every
 * page must carry its own number and the kind its parent says, every node
 * must lie inside its page, every overflow run inside the file, and a page
 * is visited once. What fails a check is a damaged page, reported with its
 * number and the check that refused it (the line, as a decoder's errors are:
 * STYLE 6), and the walk goes on with its siblings.
 *
 * The layout read is LMDB 0.9's on-disk format (data version 1, 64-bit):
 *
 *   page      pgno(8) pad(2) flags(2) lower(2) upper(2) | ptrs(2 x n) ... nodes
 *             (an overflow page: pgno(8) pad(2) flags(2) pages(4) | data)
 *   node      lo(2) hi(2) flags(2) ksize(2) key data
 *             branch: child page = lo | hi << 16 | flags << 32
 *             leaf: data size = lo | hi << 16; flags F_BIGDATA (data is the
 *             8-byte number of an overflow page), F_SUBDATA (a named
 *             table: data is its 48-byte record)
 *   meta      pages 0 and 1, after the page header: magic(4) 0xBEEFC0DE,
 *             version(4) 1, address(8), mapsize(8), 2 table records of 48
 *             bytes (free pages, main; the first one's pad is the page
 *             size), last page(8), txnid(8). The valid one with the greater
 *             txnid is the last commit.
 *   table     pad(4) flags(2) depth(2) branch(8) leaf(8) overflow(8)
 *             entries(8) root(8)
 *
 * No lmdb.h: the constants are the file format's, written here (a
 * fuzz target, tests/fuzz/fuzz_pages.c, feeds it any bytes).
 */
#ifndef CARNET_ENGINE_STORE_PAGES_H
#define CARNET_ENGINE_STORE_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct carnet__pages carnet__pages;

/* Brief: read the file at `path` (mapped read-only) or the `len` bytes at
 * `buf` (used in place, not copied: they must outlive the reader). After
 * the call *out is a reader to close with carnet__pages_close. `why`
 * receives a one-line reason on error.
 * Errors: CARNET_ENOTFOUND (no file), CARNET_ECORRUPT (no valid meta page:
 * not an LMDB file, or both meta pages damaged), CARNET_EIO, CARNET_ENOMEM. */
int carnet__pages_open(const char *path, carnet__pages **out, char *why, size_t why_len);
int carnet__pages_from_buffer(const void *buf, size_t len, carnet__pages **out, char *why,
                              size_t why_len);
void carnet__pages_close(carnet__pages *p);

/* An entry reached: its key and value (an overflow value whole). They live
 * until the reader is closed. A non-zero return stops the walk and is
 * returned by carnet__pages_walk. */
typedef int carnet__pages_entry_fn(void *ctx, const void *k, size_t klen, const void *v,
                                   size_t vlen);
/* A page that fails a check: its number, what it was expected to be, and
 * the line of the check in store_pages.c. */
typedef void carnet__pages_bad_fn(void *ctx, uint64_t pgno, const char *what, int line);

/* Brief: every entry of the named table `table` that its live B-tree
 * reaches from the last commit, in key order as far as the tree is whole.
 * A damaged page costs what is below it, reported to `bad` (may be NULL).
 * Errors: CARNET_ENOTFOUND (no such table, or the main table's page that
 * names it is damaged: `bad` said so), or what `fn` returned. */
int carnet__pages_walk(carnet__pages *p, const char *table, carnet__pages_entry_fn *fn,
                       carnet__pages_bad_fn *bad, void *ctx);

/* Brief: the number of pages the file holds, and its page size. */
uint64_t carnet__pages_count(const carnet__pages *p);
uint32_t carnet__pages_size(const carnet__pages *p);

#endif
