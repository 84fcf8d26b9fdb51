/* engine/erase/erase.h - erasure inside the engine (not API; carnet/erase.h is).
 *
 * Tables: `certs` (customer id -> lseq(uint) + certificate, engine/model/cert.h),
 * `erased` (entity id -> id of the customer whose certificate erased it;
 * the customer maps to itself), `oppose` (index tag + keyed hash of an
 * e-mail or phone -> customer id). None is ever garbage-collected.
 *
 * Invariant X1: a certificate dominates every cell of the entities it
 * erased: once an entity is in `erased`, no cell of it is stored, and a
 * received cell of it is dropped (carnet__erase_filter), whatever its
 * stamp. Exception X2: a validated invoice or credit note of an erased
 * customer is kept, read-only (its validating replica may have validated
 * it offline before it learnt of the erasure; dropping it would leave a gap
 * in that replica's numbered series).
 * Invariant X3: applying a certificate is one transaction: the certificate,
 * this replica's confirmation, the deletions (rows, change-index entries,
 * index keys), the opposition hashes and the compaction flag.
 * Invariant X5: an erasure of the person (scope PERSON) reaches every
 * customer merged with it: applying the certificate erases the customer's
 * group as this replica sees it, each member with a certificate of its own
 * that repeats the erasure (same time, replica, reason, scope), and a
 * customer that arrives later with a present merge edge to such a
 * customer (a merge made on a replica that had not learnt of the erasure
 * yet) is erased the same way (carnet__erase_filter). A certificate of
 * scope RECORD erases its customer alone.
 * Invariant X4: confirmations only grow (union); the meta counter
 * `certseq` moves whenever a stored certificate changes, and the
 * certificate takes that value as its lseq, so a session sends what changed
 * since it last looked (carnet__certs_since).
 * Invariant X6: the attachments (carnet/attach.h) of an erased customer,
 * of its contacts, documents (kept invoices included: a file cannot be
 * pseudonymised) and actions are erased with them, in the same
 * transaction: their rows, and with them their content keys, are deleted
 * and mapped in `erased`; their content files (whole, partial, uploads not
 * in progress) are removed right after the commit (engine/crm/attach.h A3). An
 * attachment received later whose owner was erased, or is a kept document
 * of an erased customer, is dropped the same way.
 */
#ifndef CARNET_ENGINE_ERASE_H
#define CARNET_ENGINE_ERASE_H

#include "carnet/erase.h"
#include "engine/erase/certs.h"
#include "engine/store/entity_io.h"
#include "engine/store/erased.h"
#include "engine/store/store.h"
#include <msgpack.h>

/* Meta keys. Frozen. */
#define CARNET__META_COMPACT "compact_pending" /* present: an erasure awaits compaction */

/* Brief: apply certificate `c` in `t` (X3): on first sight erase the
 * customer and what belongs to it, then record this replica's confirmation;
 * on a known certificate merge the confirmations. `*changed` says whether
 * the stored certificate changed. Errors: CARNET_ENOSPC, CARNET_EIO,
 * CARNET_ECORRUPT. */
struct carnet_txn;
int carnet__cert_apply(struct carnet_txn *t, const carnet_erasure *c, bool *changed);

/* Brief: for carnet_changes_apply, after the received cells of an entity
 * were merged into `l`: `*drop` says to store nothing of it (X1), in which
 * case any stored version has been deleted; a kept document of X2 leaves
 * `erased`. Errors: CARNET_EIO, CARNET_ENOSPC. */
int carnet__erase_filter(struct carnet_txn *t, carnet__loaded *l, bool *drop);

/* Brief: whether a stream must send every cell of `e`, even those the
 * receiving peer wrote (protocol/session.c S3): a kept document of an
 * erased customer (X2), since the peer may have deleted its own cells of
 * it when it applied the certificate, and (engine/know.h K1) it may have
 * dropped the cells of other origins too while it claims them: the stream
 * then ignores the knowledge vector and the mark's base. Errors: none
 * (false on a read error: the entity then travels as usual). */
bool carnet__erase_send_whole(carnet__stxn *st, const carnet__entity *e);

/* Brief: mark the replica for compaction in `st`, for deletions that are
 * not an erasure's (a repair deleting the rows of erased entities:
 * engine/top/verify.c). Errors: CARNET_ENOSPC, CARNET_EIO, CARNET_ENOMEM. */
int carnet__erase_ask_compaction(carnet__stxn *st);

/* Brief: the schema 4 upgrade (engine/store/replica.c), in write transaction
 * `st`: seal every stored certificate (they were in clear, reason
 * included) and, when there were some, mark the replica for compaction so
 * that their clear copies leave the free pages. Errors: CARNET_ENOSPC,
 * CARNET_EIO, CARNET_ENOMEM, CARNET_EMISUSE (no data key). */
int carnet__erase_seal_certs(carnet__stxn *st);

#endif
