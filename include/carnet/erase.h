/* carnet/erase.h - GDPR erasure (Art. 17) and the subject's rights.
 *
 * carnet_record_erase writes an erasure certificate for a customer: the customer's
 * id, when, which replica, and a reason (no personal data). Applying a
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

/* An erasure certificate. A value: it owns nothing. */
typedef struct carnet_erasure {
  carnet_id id;    /* the erased customer */
  carnet_hlc at;   /* when it was erased (HLC of the erasing replica) */
  uint64_t origin; /* the replica that erased it */
  char reason[CARNET_ERASE_REASON_MAX + 1];
  uint32_t nconfirmed;
  uint64_t confirmed[CARNET_ERASE_CONFIRMS_MAX]; /* replica ids, ascending */
} carnet_erasure;

/* Brief: erase customer `id` with `reason` (UTF-8, one line, no personal
 * data; may be ""), in one transaction, then try to compact the replica
 * (see carnet_replica_compact). `out` (may be NULL) receives the
 * certificate; `compacted` (may be NULL) whether compaction ran now (false:
 * another process has the directory open; it runs later by itself).
 * Errors: CARNET_ENOTFOUND (no such customer), CARNET_EEXIST (already
 * erased), CARNET_EINVAL (bad reason), CARNET_EMISUSE (a transaction is
 * open on the handle), CARNET_ENOSPC, CARNET_EIO. */
CARNET_API int carnet_record_erase(carnet_replica *r, const carnet_id *id, const char *reason,
                                   carnet_erasure *out, bool *compacted);

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
 * (may be NULL) says whether it ran. The replica stays marked until it has.
 * Errors: CARNET_EMISUSE (a transaction is open), CARNET_ENOSPC, CARNET_EIO. */
CARNET_API int carnet_replica_compact(carnet_replica *r, bool force, bool *done);

CARNET_END_DECLS

#endif
