/* engine/crm/attach.h - attachments' content files, for the engine's own
 * modules and the sync session (not API; carnet/attach.h is).
 *
 * Content file (docs/FORMATS.md): DIR/files/NAME, where NAME is 32 hex
 * digits of BLAKE2b-128 keyed with a subkey of the replica's data key over
 * the attachment id, so that a file name says nothing and differs from one
 * replica to the next. Its bytes are the same on every replica: the
 * 24-byte secretstream header, then the content in chunks of
 * CARNET_ATTACH_CHUNK bytes (the last one shorter, or empty for an empty
 * file), each sealed with the attachment's content key, the attachment id
 * as associated data, TAG_MESSAGE for every chunk but the last (TAG_FINAL).
 * Its size follows from the content's (carnet__att_stored_size), so a
 * receiver knows where every chunk starts.
 *
 * Invariants:
 *   A1  DIR/files/NAME exists only whole and verified: every chunk opened,
 *       the last one FINAL and nothing after it, the plaintext's size and
 *       BLAKE2b-256 those of the metadata. It is written as NAME.up (an
 *       upload) or NAME.part (received from a peer), fsynced, renamed.
 *   A2  An upload renames its file before it commits the metadata, and
 *       keeps it locked (flock) until after the commit: a crash leaves a
 *       file without metadata, never metadata whose content was lost, and
 *       the sweep (carnet__att_sweep) removes only files it could lock
 *       and that no attachment read after the lock owns.
 *   A3  A file of an attachment that is deleted or erased is removed: at
 *       once on the replica that deletes or erases it, by the sweep that
 *       follows an erasure or a tombstone received, and by `carnet check`.
 */
#ifndef CARNET_ENGINE_ATTACH_H
#define CARNET_ENGINE_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#include "carnet/attach.h"
#include "engine/store/store.h"

#define CARNET__ATT_DIR "files"
#define CARNET__ATT_NAME_LEN 32 /* hex digits */
#define CARNET__ATT_KEY_LEN 32
#define CARNET__ATT_HASH_LEN 32
#define CARNET__ATT_HEADER_LEN 24 /* crypto_secretstream_xchacha20poly1305_HEADERBYTES */
#define CARNET__ATT_ABYTES 17     /* crypto_secretstream_xchacha20poly1305_ABYTES */

/* Meta keys. */
#define CARNET__META_ATT_POLICY "att_policy" /* fetch(1) fetch_max(8) size_max(8) send_rate(8) */
#define CARNET__META_ATT_WANT "att_want:"    /* + id(16) -> when asked (8, Unix ms) */

#define CARNET__ATT_WANT_KEY_LEN (sizeof CARNET__META_ATT_WANT - 1 + 16)

/* An attachment's metadata as the engine needs it (the key included). */
typedef struct carnet__att {
  carnet_id id;
  carnet_id owner;
  uint64_t size;
  uint8_t hash[CARNET__ATT_HASH_LEN];
  uint8_t key[CARNET__ATT_KEY_LEN];
  bool deleted;
} carnet__att;

/* Brief: whether `s` looks like a media type: type/subtype of letters,
 * digits and !#$&^_.+-, at most CARNET_ATTACH_MEDIA_TYPE_MAX bytes. */
bool carnet__media_type_valid(const char *s);

/* Brief: the size of the content file of `size` bytes of content. */
uint64_t carnet__att_stored_size(uint64_t size);

/* Brief: read attachment `id` in `st` into `out` (wiped by the caller).
 * Errors: CARNET_ENOTFOUND (no row, or not an attachment), CARNET_ECORRUPT
 * (a row without its required fields), CARNET_ENOMEM. */
int carnet__att_load(carnet__stxn *st, const carnet_id *id, carnet__att *out);

/* Brief: decode and check a stored attachment row (plaintext, as
 * carnet__store_get hands it out): the row decoder, then every field's
 * value and the required ones (owner, file name, size up to
 * CARNET_ATTACH_SIZE_LIMIT, hash, key). Fuzzed by tests/fuzz/fuzz_attach.c.
 * Errors: CARNET_ECORRUPT, CARNET_ENOTFOUND (another kind), CARNET_ENOMEM. */
int carnet__att_decode_row(const carnet_id *id, const void *row, size_t len, carnet__att *out);

/* Brief: DIR/files/NAME + `suffix` ("", ".part", ".up") of attachment `id`
 * in `out`. Errors: CARNET_EINVAL (too long), CARNET_EMISUSE (no data key). */
int carnet__att_path(carnet_replica *r, const carnet_id *id, const char *suffix, char *out,
                     size_t len);

/* Brief: check the content file open on `fd` (from offset 0) against `a`
 * (A1). Errors: CARNET_ECORRUPT (detail on `r`), CARNET_EIO, CARNET_ENOMEM. */
int carnet__att_verify_fd(carnet_replica *r, int fd, const carnet__att *a);

/* Brief: remove the content files (whole, partial, uploads) of no live
 * attachment (A2, A3); *removed (may be NULL) receives how many.
 * Errors: CARNET_EIO, CARNET_ENOMEM, CARNET_ECORRUPT. */
int carnet__att_sweep(carnet_replica *r, uint64_t *removed);

/* Brief: carnet__att_sweep after a commit that deleted or erased
 * attachments, leaving the replica's last error as it was (the commit
 * succeeded; a file left behind goes at the next sweep or `carnet check`). */
void carnet__att_sweep_quiet(carnet_replica *r);

/* Brief: remove the content files of attachment `id` (A3). */
void carnet__att_unlink(carnet_replica *r, const carnet_id *id);

/* Brief: the replica's policy, read in `st` (defaults when unset).
 * Errors: CARNET_ECORRUPT. */
int carnet__att_policy(carnet__stxn *st, carnet_attach_policy *out);

/* Brief: whether attachment `a` is to be fetched on this replica: not
 * deleted, not here, and the policy or a want asks for it. */
int carnet__att_fetch_wanted(carnet_replica *r, carnet__stxn *st, const carnet__att *a,
                             const carnet_attach_policy *p, bool *out);

/* Brief: every attachment id of the replica, sorted (the caller frees
 * *out). Errors: CARNET_ENOMEM, CARNET_ECORRUPT. */
int carnet__att_ids(carnet__stxn *st, carnet_id **out, size_t *n);

/* Brief: append to *ids (an array of *n, grown with carnet__realloc) the
 * attachments whose owner is `owner` itself (no merge group), from the
 * 'a' index keys. Errors: CARNET_ENOMEM. */
int carnet__att_ids_under(carnet__stxn *st, const carnet_id *owner, carnet_id **ids, size_t *n);

/* Brief: the meta key of a want (CARNET__META_ATT_WANT + id). Returns 0. */
int carnet__att_want_key(const carnet_id *id, uint8_t key[CARNET__ATT_WANT_KEY_LEN]);

/* Brief: fsync DIR/files (after a rename into it). */
void carnet__att_fsync_dir(carnet_replica *r);

/* --- content transfers (engine/crm/attach_xfer.c, for protocol/content.c) ----
 *
 * A content file goes over the wire as stored, in units: unit 0 is the
 * header and the first sealed chunk, unit k > 0 the k-th sealed chunk; a
 * unit starts at 0 or at 24 + k * (CARNET_ATTACH_CHUNK + 17). The receiver
 * authenticates each unit as it comes (the stream state, the hash so far)
 * and appends it to NAME.part, so a transfer cut anywhere resumes at the
 * end of the last whole unit: NAME.part is checked again when the next
 * transfer opens it, and only its good prefix counts.
 *
 * Invariant A4: one receiver at a time per attachment, across processes:
 * NAME.part is flocked while a transfer writes it (another session, here
 * or in another process, gets CARNET_EBUSY and leaves it to that one); the
 * sweep skips it too (A2).
 */

#include "engine/crm/attach_xfer.h"

#endif
