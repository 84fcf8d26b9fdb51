/* engine/crm/searchsig.h - search signatures: the persisted index behind the
 * text filter of carnet_record_list (not API).
 *
 * A customer's signature is a Bloom filter of the keyed hashes of the
 * grams of its search document (engine/crm/searchtext.h): its trigrams (3
 * consecutive bytes of one value) and its runs of five digits (digits
 * have ten symbols: the trigrams of "0610000000" are three that most
 * numbers of a book share; its five-digit grams tell it apart). One row
 * per customer in table "search":
 *
 *   key   customer id (16 bytes)
 *   value w (2 bytes, big-endian, 1..CARNET__SSIG_WORDS_MAX), then w
 *         64-bit words of bits (m = 64 w bits), 8 w bytes
 *
 * Each distinct gram g of the document sets CARNET__SSIG_K bits, taken
 * from h = carnet__gram_hash(secret, tag, g) (SipHash-2-4 keyed with a
 * subkey of the replica's index secret: without the secret, a signature
 * is bits that say nothing). w is a quarter of the number of distinct
 * grams, so about 16 bits per gram: a gram the document lacks tests
 * positive with probability ~0.5 %.
 *
 * A query (carnet__ssig_candidates) cannot be wrong in the other
 * direction: a word that occurs in a document (rule T), or whose digits
 * occur in a phone or the SIRET (rules P, S, N: they are parts of the
 * document too), has all its grams in it. So the customers whose
 * signature holds the query's trigrams, arranged as the rules arrange
 * them, are a superset of those that match; carnet_record_list reads each
 * of them and runs the match itself, so its answer is the scan's.
 *
 * Why one row per customer, not posting lists (trigram -> ids): a write of
 * a customer rewrites one row on one leaf where it would touch ~100
 * posting lists; erasure deletes one row; the table is ~200 bytes a
 * customer (~25 MB at 100,000) where ~100 postings of 16-byte ids would be
 * ~10x that. A query reads the whole table in key order (100,000 rows:
 * a few ms) and tests a few bits in each, then verifies the candidates.
 *
 * Freshness (invariant E3 of the blind index, engine/store/reindex.c): the
 * signatures are derived behind a mark of their own, "signed_upto"
 * (carnet__sig_mark), never above the blind index's "indexed_upto", by the
 * index's catch-up (collected, sorted, appended when they can be) and by
 * the eager saves at or below it (engine/store/entity_io.c). A reader of
 * the blind index (a duplicate check, a lookup: carnet__index_ready)
 * derives them with the keys when at most SIGS_WITH_KEYS_MAX entries can lag
 * (an interactive write's); a larger backlog (a bulk load, a first sync)
 * keeps only its keys and leaves its signatures to the first text search
 * (carnet__search_ready), so that neither reader pays for the other's
 * table (issue 17: the first duplicate check after a first sync of
 * 100,000 customers spent half its time on signatures).
 *  G1. A customer whose change-index entry is at or below the signatures'
 *      mark has the signature of its current cells (none when it has no
 *      index secret, which then no customer has either).
 *  G2. A query takes every entity above the signatures' mark as a
 *      candidate, and every customer in a merged group (its listed view
 *      holds the members' values: engine/crm/read.c build_view), so a
 *      stale or missing signature costs a read, never a wrong answer.
 *  G3. Erasure deletes an erased customer's signature (engine/erase/erase.c):
 *      nothing of it stays in the table.
 */
#ifndef CARNET_ENGINE_SEARCHSIG_H
#define CARNET_ENGINE_SEARCHSIG_H

#include <stddef.h>
#include <stdint.h>

#include "engine/crm/searchtext.h"
#include "engine/model/entity.h"
#include "engine/store/entity_io.h"
#include "engine/store/replica_int.h"

#define CARNET__SSIG_K 3            /* bits per trigram */
#define CARNET__SSIG_WORDS_MIN 2    /* 128 bits */
#define CARNET__SSIG_WORDS_MAX 8192 /* 64 KiB: a document of ~30,000 trigrams */
#define CARNET__SSIG_HEAD 2

/* Brief: the signature of `e` into *sig (carnet__malloc'd, *len bytes),
 * or *sig NULL when `e` is not a customer. r->search_sig. Errors:
 * CARNET_ENOMEM, CARNET_ECORRUPT. */
int carnet__ssig_of(const carnet__entity *e, carnet__blind_secret *secret, uint8_t **sig,
                    size_t *len);

/* Brief: the search document of customer `e` (engine/crm/searchtext.h)
 * into `b` (emptied first), the same as carnet__sdoc_build's of its
 * record, read from the cells without building the record where it can.
 * Errors: CARNET_ENOMEM, CARNET_ECORRUPT. */
int carnet__ssig_doc(const carnet__entity *e, carnet__sbuf *b, carnet__sdoc *d);

/* Brief: write the signature of every stored customer in write
 * transaction `st`, the table emptied first (rows come in id order: they
 * are appended). The schema 8 upgrade (engine/top/open.c) and the repair
 * (engine/top/verify.c). Nothing without an index secret. Errors:
 * CARNET_ENOMEM, CARNET_ECORRUPT, CARNET_EIO, CARNET_ENOSPC. */
int carnet__ssig_build_all(carnet__stxn *st);

/* Brief: the customers that may match `q`, in *ids (sorted, unique,
 * carnet__free), read in `st`: see G2 above. Returns 1 when the
 * signatures cannot narrow the search (no table, no secret, no hook, or a
 * query whose every word is shorter than a trigram): scan instead.
 * Errors: CARNET_ENOMEM, CARNET_ECORRUPT, CARNET_EIO. */
int carnet__ssig_candidates(carnet_replica *r, carnet__stxn *st, const carnet__squery *q,
                            carnet_id **ids, size_t *n);

#endif
