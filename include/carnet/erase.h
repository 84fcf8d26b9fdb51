/* carnet/erase.h - GDPR erasure (Art. 17) and the subject's rights.
 *
 * carnet_record_erase erases a person: the customer named and every customer
 * merged with it (carnet/merge.h), each with an erasure certificate: the
 * customer's id, when, which replica, the scope, and a reason (meant to
 * hold no personal data; stored sealed all the same). Applying a
 * certificate, on the replica that writes it and on every replica it
 * reaches through sync, deletes in one transaction the customer's row, its
 * contacts, reminders, the commercial actions that concern it, its drafts,
 * quotes and orders, and their index keys and change-index entries; the
 * validated invoices and credit notes stay, read-only, with the identity
 * frozen on them at validation. What is left of the customer is the
 * certificate itself (the "stub"): carnet_record_get says CARNET_ENOTFOUND and
 * carnet_record_erased says true. A keyed hash of each of its e-mails and phones
 * goes to an opposition list (carnet_erasure_check_record) so that the person is
 * not re-imported by mistake.
 *
 * A certificate dominates every cell of the erased entities: a replica
 * drops every change of them that arrives later, whatever its timestamp,
 * and never sends one. One exception: a validated invoice or credit note
 * for the customer (validated offline, before its replica learnt of the
 * erasure) is kept, as issued. Certificates are never removed; each holds
 * the grow-only set of the replicas that applied it (merged by union, sent
 * back through sync), so the office can show that every device complied.
 *
 * Physical erasure: deleted rows leave their bytes in LMDB's free pages, so
 * applying a certificate also marks the replica for compaction; the
 * replica is copied compacted and the copy renamed over the data file as
 * soon as no other process has the directory open (carnet_replica_compact,
 * run by carnet_record_erase, at open and close, and by a running node).
 *
 * Threads: as carnet/replica.h.
 */
#ifndef CARNET_ERASE_H
#define CARNET_ERASE_H

#include "carnet/api.h"

#include "carnet/dupes.h"
#include "carnet/replica.h"
#include <stdbool.h>

CARNET_BEGIN_DECLS

#define CARNET_ERASE_REASON_MAX 500u   /* bytes of UTF-8, one line */
#define CARNET_ERASE_CONFIRMS_MAX 256u /* replicas recorded as having applied it */

/* What an erasure reaches. Values are stored: never renumber. */
typedef enum carnet_erase_scope {
  /* The record named and nothing else: the customers merged with it stay
   * (carnet_record_erase_one; every certificate of version 1). */
  CARNET_ERASE_RECORD = 1,
  /* The person as shown: every customer merged with it (its group, see
   * carnet/merge.h), and any customer found merged with one of them later,
   * when a merge made elsewhere before that replica learnt of the erasure
   * arrives (carnet_record_erase). */
  CARNET_ERASE_PERSON = 2,
} carnet_erase_scope;

/* An erasure certificate. A value: it owns nothing. */
typedef struct carnet_erasure {
  carnet_id id;    /* the erased customer */
  carnet_hlc at;   /* when it was erased (HLC of the erasing replica) */
  uint64_t origin; /* the replica that erased it */
  char reason[CARNET_ERASE_REASON_MAX + 1];
  uint8_t scope; /* carnet_erase_scope (in what was padding: the layout is unchanged) */
  uint32_t nconfirmed;
  uint64_t confirmed[CARNET_ERASE_CONFIRMS_MAX]; /* replica ids, ascending */
} carnet_erasure;

/* Brief: erase the person customer `id` is part of: `id` and every
 * customer merged with it (carnet_erasure_group lists them; a customer
 * merged with none is erased alone), with `reason` (UTF-8, one line, no
 * personal data; may be ""), in one transaction, then try to compact the
 * replica (see carnet_replica_compact). Each customer gets its certificate
 * (same time, replica and reason, scope CARNET_ERASE_PERSON). Concurrency:
 * a merge with one of them made on another replica before it learnt of the
 * erasure is erased too, on every replica, once the merge and the
 * certificate have met (the replica that sees both makes the new member's
 * certificate, which travels like any other); an unmerge made concurrently
 * does not save a member the erasing replica saw. `out` (may be NULL)
 * receives the certificate of `id`; `compacted` (may be NULL) whether
 * compaction ran now (false: another process has the directory open, or
 * it failed: carnet_replica_get_compaction says which; it is retried by
 * every later open and close and by a running node).
 * Errors: CARNET_ENOTFOUND (no such customer), CARNET_EEXIST (already
 * erased), CARNET_EINVAL (bad reason), CARNET_EMISUSE (a transaction is
 * open on the handle), CARNET_ENOSPC, CARNET_EIO. */
CARNET_API int carnet_record_erase(carnet_replica *r, const carnet_id *id, const char *reason,
                                   carnet_erasure *out, bool *compacted);

/* Brief: carnet_record_erase of record `id` alone (scope
 * CARNET_ERASE_RECORD): the customers merged with it stay, and keep their
 * own data (the merged view loses this record's). For the rare case where
 * a merged record is not the same person after all; unmerging first says
 * so better. Errors: as carnet_record_erase. */
CARNET_API int carnet_record_erase_one(carnet_replica *r, const carnet_id *id, const char *reason,
                                       carnet_erasure *out, bool *compacted);

/* Brief: the customers carnet_record_erase(r, id, ...) would erase now:
 * `id` and every live customer connected to it by merges, in id order (the
 * group, without carnet_merge_group's cap of 64). After the call *out is
 * an array of *n ids owned by the caller (carnet_free).
 * Errors: CARNET_ENOTFOUND (no such customer), CARNET_EEXIST (already
 * erased), CARNET_ECORRUPT, CARNET_EIO, CARNET_ENOMEM. */
CARNET_API int carnet_erasure_group(carnet_replica *r, const carnet_id *id, carnet_id **out,
                                    size_t *n);

/* Brief: whether entity `id` was erased (the customer of a certificate, or
 * one of its contacts, reminders, actions or documents deleted with it).
 * Errors: CARNET_EIO. */
CARNET_API int carnet_record_erased(carnet_replica *r, const carnet_id *id, bool *out);

/* Brief: the certificate of customer `id`. Errors: CARNET_ENOTFOUND. */
CARNET_API int carnet_erasure_get(carnet_replica *r, const carnet_id *id, carnet_erasure *out);

/* Brief: call `cb` for each certificate, in customer id order; a non-zero
 * return of `cb` stops and is returned. `e` lives until `cb` returns.
 * Errors: CARNET_ECORRUPT, CARNET_EIO. */
CARNET_API int carnet_erasure_list(carnet_replica *r,
                                   int (*cb)(const carnet_erasure *e, void *data), void *data);

/* Brief: whether an e-mail or phone of customer `id` (typically just
 * created, in the open transaction) is on the opposition list of an
 * erased person; `cert` (may be NULL) receives that certificate's customer
 * id. Errors: CARNET_ENOTFOUND (no such customer). */
CARNET_API int carnet_erasure_check_record(carnet_replica *r, const carnet_id *id, bool *out,
                                           carnet_id *cert);

/* Brief: whether an e-mail (kind CARNET_LOOKUP_EMAIL) or phone
 * (CARNET_LOOKUP_PHONE), in any written form, is on the opposition list;
 * for a check before writing (an import). `cert` as above.
 * Errors: CARNET_EINVAL (not a valid e-mail or phone, or another kind). */
CARNET_API int carnet_erasure_check_value(carnet_replica *r, carnet_lookup_kind kind,
                                          const char *value, bool *out, carnet_id *cert);

/* Brief: compact the replica when an erasure asked for it (`force`: in any
 * case): copy it with LMDB's compacting copy, fsync, rename the copy over
 * the data file and reopen, so no byte of erased values stays in free
 * pages. Runs only when no other process has the directory open; `done`
 * (may be NULL) says whether it ran. The replica stays marked until it has:
 * carnet_replica_open and _close try again, and so does a running node
 * (carnet/node.h) every second; after failures on a handle (a full disk)
 * it waits 1 s, then 2, 4... up to about a minute. The copy needs about as much free space as the
 * data file holds live.
 * Errors: CARNET_EMISUSE (a transaction is open), CARNET_ENOSPC (no room for
 * the copy: the old file stays, with the erased bytes in its free pages;
 * free some space), CARNET_EIO. */
CARNET_API int carnet_replica_compact(carnet_replica *r, bool force, bool *done);

/* Whether the data file awaits a compaction, and why it has not run. */
typedef struct carnet_compaction {
  bool pending;       /* an erasure (or an upgrade) asked for it and it has not run yet */
  uint64_t erasures;  /* customers erased since the last compaction (0: not known, a mark
                         written by an older version) */
  int last_error;     /* this handle's last attempt while pending: 0 (none yet),
                         CARNET_EBUSY (another process has the directory open: it
                         compacts when it can), or its error (CARNET_ENOSPC...) */
  char last_why[256]; /* that attempt's detail, for a person ("" when none) */
} carnet_compaction;

/* Brief: the replica's compaction state (see carnet_compaction); the ids
 * of the customers whose erasure awaits it go to `ids` (up to `max`; NULL
 * with max 0 for none), their number to `*n` (may be NULL). The first 256
 * erasures since the last compaction are remembered by id.
 * Errors: CARNET_ECORRUPT (a damaged mark), CARNET_EIO. */
CARNET_API int carnet_replica_get_compaction(carnet_replica *r, carnet_compaction *out,
                                             carnet_id *ids, size_t max, size_t *n);

CARNET_END_DECLS

#endif
