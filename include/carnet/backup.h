/* carnet/backup.h - backing a replica up, and restoring a backup as a new
 * replica.
 *
 * A backup is one file (docs/FORMATS.md, "Backup file"): a small header
 * (magic, version, the replica's id, the time, its team, and the key record
 * that wraps its data key) then a compacted copy of the replica's data file,
 * taken from one read transaction: a consistent snapshot while other
 * processes, `carnet serve` included, keep writing. The rows stay sealed as
 * they are in the replica, and the same passphrase or key file opens the
 * backup. A keyed hash over the header and the data (keyed by the data key)
 * refuses a backup damaged or changed since it was made.
 *
 * Restoring never brings the old replica back as it was. A backup is older
 * than the team: since it was made, the replica it came from may have
 * issued invoice numbers, and the team may have erased people. So the
 * restored replica is a new member of the team (docs/DESIGN-NOTES.md,
 * "Backup and restore"):
 *
 * - a new replica id, hence a new tag and new numbering series: a number
 *   issued by the old replica after the backup is never issued again;
 * - a new identity key: the team trusts it anew ('carnet peer trust KEY' on
 *   a replica of the team); the old key, which a lost or stolen device still
 *   holds, can be removed from the team without cutting off the restored one;
 * - the old identity's data is kept as data from a peer: its cells keep
 *   their origin and stamps, and the marks the team keeps for the old
 *   replica stay valid;
 * - it sends no change until a sync with a replica its team trusted at the
 *   restore has brought that replica's erasure certificates (which travel
 *   before anything else): an erasure made after the backup can then not be
 *   undone by the restored copy (carnet_replica_get_restore, `waiting`).
 *
 * Threads: as carnet/replica.h.
 */
#ifndef CARNET_BACKUP_H
#define CARNET_BACKUP_H

#include "carnet/api.h"

#include "carnet/peer.h"
#include "carnet/replica.h"
#include <stdbool.h>
#include <stdint.h>

CARNET_BEGIN_DECLS

/* What a backup file says of itself (its header; nothing of it is secret). */
typedef struct carnet_backup_info {
  uint64_t replica_id;             /* the replica backed up */
  char tag[5];                     /* its tag */
  uint64_t made_ms;                /* when, by the replica's clock (Unix ms) */
  uint32_t schema;                 /* the replica's schema (CARNET_SCHEMA_VERSION) */
  carnet_key_kind key_kind;        /* what opens it: the replica's passphrase or key file */
  uint8_t team[CARNET_TEAM_BYTES]; /* the team of the replica */
  uint64_t data_bytes;             /* the size of the data file's copy */
} carnet_backup_info;

/* Brief: write a backup of the replica to `file`: a consistent, compacted
 * copy while other processes keep writing. The file is written under a
 * temporary name beside `file` (mode 0600), made durable, then renamed over
 * `file`: a failure leaves no half-written backup and an older backup of
 * that name as it was. `out` (may be NULL) describes the backup made. The
 * backup opens with the passphrase or key file that opens the replica now;
 * a replica without a passphrase (CARNET_KEY_FILE_IN_DIR) is opened by the
 * file DIR/carnet.key, which is not in the backup: keep a copy of it apart.
 * Works on a read-only replica.
 * Errors: CARNET_EMISUSE (a transaction is open on the handle),
 * CARNET_ENOTFOUND (no such directory), CARNET_EPERM (no right to write
 * there), CARNET_EINVAL (a path too long), CARNET_EIO (cannot write
 * `file`), CARNET_ENOSPC (the disk is full: nothing was left behind),
 * CARNET_ECORRUPT (the replica's meta values are damaged), CARNET_ENOMEM.
 * The detail is in carnet_replica_errmsg. */
CARNET_API int carnet_replica_backup(carnet_replica *r, const char *file, carnet_backup_info *out);

/* Brief: read the header of backup `file` (no key needed; the data is not
 * checked: carnet_replica_restore does that).
 * Errors: CARNET_ENOTFOUND (no such file), CARNET_EPROTO (not a Carnet
 * backup, or its header is damaged), CARNET_EVERSION (made by a newer
 * Carnet), CARNET_EIO. On error, when `errbuf` is not NULL, a one-line
 * explanation is written to it (errbuf_len bytes max). */
CARNET_API int carnet_backup_inspect(const char *file, carnet_backup_info *out, char *errbuf,
                                     size_t errbuf_len);

/* Brief: make a new replica in `dir` from backup `file`. `dir` is created
 * when missing and must not hold a replica. `env` gives the key that opened
 * the backed-up replica (its passphrase or key file; for a replica without
 * a passphrase, a copy of its DIR/carnet.key, which is then copied into
 * `dir`) and, as for carnet_replica_open, the clock and randomness. The data
 * is checked whole (keyed hash) before anything is made. The new replica
 * keeps the data, the team, the trust list, the marks it kept for its peers
 * and the role; it gets a new replica id, tag and identity key, drops
 * outstanding invites, and waits for its team's erasures before it sends
 * anything (see the top of this file). A crash half way leaves no replica
 * in `dir` (a retry starts again). After the call `*out` is an open replica
 * to close with carnet_replica_close.
 * Errors: CARNET_EEXIST (a replica is already in `dir`), CARNET_ENOTFOUND
 * (no such file), CARNET_EPROTO (not a Carnet backup), CARNET_ECORRUPT (the
 * backup is damaged or was changed: its check fails), CARNET_EVERSION (made
 * by a newer Carnet), CARNET_EKEY (wrong or missing passphrase or key file),
 * CARNET_EPERM (a key file others can read), CARNET_EIO, CARNET_ENOSPC,
 * CARNET_ENOMEM. On error *out is NULL and `errbuf` (may be NULL) receives
 * a one-line explanation. */
CARNET_API int carnet_replica_restore(const char *file, const char *dir, const carnet_env *env,
                                      carnet_replica **out, char *errbuf, size_t errbuf_len);

/* Whether and how a replica was restored. */
typedef struct carnet_restore_info {
  bool restored;        /* made by carnet_replica_restore (else the rest is 0) */
  uint64_t from_id;     /* the replica the backup was made of */
  uint64_t backup_ms;   /* when the backup was made (Unix ms) */
  uint64_t restored_ms; /* when it was restored */
  /* It sends nothing to its peers yet: no sync with a replica its team
   * trusted at the restore has brought that replica's erasures. */
  bool waiting;
} carnet_restore_info;

/* Brief: whether this replica was restored from a backup, and whether it
 * still waits for its team's erasures before it sends anything.
 * Errors: CARNET_ECORRUPT (the record is damaged), CARNET_EIO, CARNET_EBUSY. */
CARNET_API int carnet_replica_get_restore(carnet_replica *r, carnet_restore_info *out);

CARNET_END_DECLS

#endif
