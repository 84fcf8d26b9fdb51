/* carnet/verify.h - checking a replica's files end to end, rebuilding what
 * is derived from the rows, and rescuing what can be read of a damaged one.
 *
 * LMDB keeps no page checksums: a damaged data file is found by reading
 * it. carnet_replica_check walks the rows and the tables derived from them
 * in one read transaction, both ways: every entity row must decode and
 * pass the schema and must not be an erased entity; every entity must have
 * its change-index entry at its sequence number and every entry must point
 * at an entity with that number (invariant E1); every index key an entity
 * derives (blind keys, reference codes, merge edges and decisions) must be
 * in the index table, and every key there must be one an entity derives,
 * with an empty value (E2). It writes nothing to the store; it removes the
 * attachments' content files that no attachment owns (carnet/attach.h: a
 * crash between a file and its metadata, a deletion whose file outlived
 * it), which nobody can read. carnet_replica_repair
 * rebuilds the derived tables from the rows; carnet_replica_salvage copies
 * what still decrypts and decodes into a new replica.
 */
#ifndef CARNET_VERIFY_H
#define CARNET_VERIFY_H

#include "carnet/api.h"

#include <stdbool.h>
#include <stdint.h>

#include "carnet/replica.h"

CARNET_BEGIN_DECLS

/* What carnet_replica_check found. A struct that grows: declare it with
 * CARNET_CHECK_REPORT_INIT; the library fills only `size` bytes. */
typedef struct carnet_check_report {
  size_t size;           /* set by CARNET_CHECK_REPORT_INIT */
  uint64_t entities;     /* rows read */
  uint64_t changes;      /* change-index entries read */
  uint64_t index_keys;   /* index entries read */
  uint64_t bad_rows;     /* rows that do not decode or fail the schema: repair leaves them,
                            carnet_replica_salvage copies the others */
  uint64_t erased_rows;  /* rows of erased entities (X1): repair deletes them */
  uint64_t bad_changes;  /* change-index entries missing, ahead of their row, damaged or
                            pointing at no row (E1); an entry behind its row is stale, left
                            for a bulk purge, and not counted */
  uint64_t missing_keys; /* index keys an entity derives that the index lacks (E2) */
  uint64_t extra_keys;   /* index keys no entity derives: stale or damaged (E2) */
  uint64_t bad_values;   /* index entries whose value is not empty: damaged (E2) */
  bool repaired;         /* carnet_replica_repair: the derived tables were rebuilt */
  uint64_t orphan_files; /* attachments' content files that no attachment owns: removed */
} carnet_check_report;

#define CARNET_CHECK_REPORT_INIT CARNET__SIZED(carnet_check_report)

/* Brief: check the replica (see above) and fill `out`. Returns 0 when the
 * walk completed, whatever it found (look at the counts); the replica's
 * errmsg then names the first problem found. `fn` (may be NULL) is called
 * every few thousand entries read (rows, change entries, then index
 * entries) with their total; it runs on the calling thread.
 * Errors: CARNET_ECORRUPT (the B-tree itself is damaged: the walk could not
 * go on; carnet_replica_salvage), CARNET_EMISUSE (`r` or `out` NULL, `out`
 * without its size), CARNET_ENOMEM, CARNET_EIO. */
CARNET_API int carnet_replica_check(carnet_replica *r, carnet_progress_fn *fn, void *ctx,
                                    carnet_check_report *out);

/* Brief: carnet_replica_check, then, when a derived table is wrong (change
 * index, index table, or rows of erased entities), rebuild the change index
 * and the index table from the rows in one write transaction (`fn`, when
 * not NULL, is called as the rows are read) and delete the rows of erased
 * entities (the replica is then marked for compaction). `out` receives what
 * the check found, and `repaired` whether the rebuild ran. Rows that do not
 * decode are left as they are: carnet_replica_salvage.
 * Errors: as carnet_replica_check, and CARNET_EMISUSE (a transaction is
 * open on the handle), CARNET_ENOSPC, CARNET_EIO; nothing is changed then. */
CARNET_API int carnet_replica_repair(carnet_replica *r, carnet_progress_fn *fn, void *ctx,
                                     carnet_check_report *out);

/* --- Salvage --------------------------------------------------------------- */

/* What carnet_replica_salvage did. A struct that grows: declare it with
 * CARNET_SALVAGE_REPORT_INIT. */
typedef struct carnet_salvage_report {
  size_t size;            /* set by CARNET_SALVAGE_REPORT_INIT */
  uint64_t rows;          /* records found in the damaged file's live trees */
  uint64_t copied;        /* records copied into the new replica */
  uint64_t lost;          /* records that could not be copied: found damaged, or known by
                             the change index only (their page was damaged) */
  uint64_t certificates;  /* erasure certificates copied */
  uint64_t damaged_pages; /* pages skipped because they fail a check, every table */
  bool identity_kept;     /* the new replica kept the old identity key, so the team still
                             trusts it; else it has a key of its own to trust */
  uint64_t replica_id;    /* the new replica's id (a new tag, new numbering series) */
} carnet_salvage_report;

#define CARNET_SALVAGE_REPORT_INIT CARNET__SIZED(carnet_salvage_report)

/* What could not be read: `table` ("entities", "certs", "meta"...), the id
 * concerned when it is known (else NULL: a damaged page), and why. */
typedef void carnet_salvage_fn(void *ctx, const char *table, const carnet_id *id, const char *why);

/* Brief: copy what can still be read of the replica in `from` (typically
 * one that carnet_replica_open or carnet_replica_check cannot get through)
 * into a new replica made in `to`. The damaged file is not opened through
 * LMDB: it is read page by page, every pointer checked, from its last
 * commit; what authenticates (every value is sealed with the data key) and
 * decodes is copied: the records (merged as from a peer: stamps and
 * origins kept), erasure certificates (applied), erased ids, opposition
 * list, trust list, team, role, numbering rules, blind index secret, and
 * the identity key when it opens. Free pages are never read (they hold
 * older versions, and rows erased before a compaction). `on_loss` (may be
 * NULL) hears of each thing that could not be copied, with the record's id
 * when it is known (the old change index names the entities whose page was
 * damaged). The new replica has a new replica id, tag and numbering series
 * and no marks: its peers send it everything again at the next sync, which
 * brings back what was lost here. `env` opens the old replica (its
 * passphrase or key file; a replica without a passphrase opens with
 * from/carnet.key) and protects the new one as carnet_replica_init does.
 * No other process may have `from` open. Nothing is written to `from`.
 * Errors: CARNET_ENOREPLICA (no data file in `from`), CARNET_EBUSY
 * (another process has `from` open: stop it), CARNET_ECORRUPT (no valid
 * meta page, or the key record is damaged: nothing can be decrypted),
 * CARNET_EVERSION (a schema this build does not read), CARNET_EKEY (wrong
 * passphrase or key file), CARNET_EPERM, CARNET_EEXIST (a replica is
 * already in `to`), CARNET_ENOSPC, CARNET_EIO, CARNET_ENOMEM,
 * CARNET_EMISUSE (a directory NULL, `report` without its size). A failure
 * after the new replica was made leaves it in `to`, incomplete: remove it
 * before trying again. `errbuf` (may be NULL) receives a one-line
 * explanation. */
CARNET_API int carnet_replica_salvage(const char *from, const char *to, const carnet_env *env,
                                      carnet_salvage_fn *on_loss, void *ctx,
                                      carnet_salvage_report *report, char *errbuf,
                                      size_t errbuf_len);

/* The report of carnet_replica_verify (the former check; the counts of
 * carnet_check_report folded into these). */
typedef struct carnet_verify_report {
  uint64_t entities;     /* rows read */
  uint64_t changes;      /* change-index entries read */
  uint64_t index_keys;   /* index keys checked */
  uint64_t bad_rows;     /* rows that do not decode or fail the schema, rows of erased
                            entities */
  uint64_t bad_changes;  /* E1 violations */
  uint64_t missing_keys; /* E2 violations: missing, extra and damaged index keys */
} carnet_verify_report;

/* Brief: carnet_replica_check into the former report (see above).
 * Errors: CARNET_ECORRUPT (the B-tree itself is damaged: the walk could not
 * go on), CARNET_ENOMEM, CARNET_EIO. */
CARNET_API int carnet_replica_verify(carnet_replica *r, carnet_verify_report *out);

/* Brief: carnet_replica_verify, calling `fn` (when not NULL) every few thousand
 * rows with the rows read so far (entities, change-index entries, then
 * index entries) and their total, for a progress line: a replica of a
 * million customers takes tens of seconds to read. `fn` runs on the
 * calling thread.
 * Errors: as carnet_replica_verify. */
CARNET_API int carnet_replica_verify_progress(carnet_replica *r, carnet_progress_fn *fn, void *ctx,
                                              carnet_verify_report *out);

CARNET_END_DECLS

#endif
