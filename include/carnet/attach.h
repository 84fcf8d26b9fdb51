/* carnet/attach.h - files attached to customers, contacts, documents and
 * actions: a signed quote photographed on the road, a Kbis extract, a
 * contract.
 *
 * An attachment is two things:
 *
 * - its metadata, an entity of kind CARNET_KIND_ATTACHMENT whose fields
 *   (carnet/types.h: owner, file name, media type, size, content hash, who
 *   added it and when, caption, content key) are CRDT fields like any
 *   other: they sync with every change, a delete is a tombstone, and an
 *   owner merged into another customer shows its files under the group;
 * - its content, outside LMDB, in a file under DIR/files/ encrypted with
 *   the attachment's own 32-byte key (a secretstream in chunks of
 *   CARNET_ATTACH_CHUNK bytes) and named by a keyed hash of its id, so the
 *   name says nothing. The content syncs in chunks over the sync session
 *   (carnet/node.h) as each replica's fetch policy says, and stays
 *   invisible until it is whole and verified: a file being written or
 *   received is a temporary one, renamed once its every chunk authenticated
 *   and its hash matched.
 *
 * Erasing a person (carnet/erase.h) erases the attachments of the customer,
 * its contacts, documents and actions: metadata, key and content file, on
 * every replica. `carnet check` (carnet_replica_verify) removes content
 * files that belong to no attachment (a crash between writing the file and
 * committing its metadata).
 *
 * Threads: as every call on a replica handle (docs/API.md); an upload or a
 * download holds no transaction between calls, so other calls may run
 * between two of its writes or reads on the same thread.
 */
#ifndef CARNET_ATTACH_H
#define CARNET_ATTACH_H

#include "carnet/api.h"

#include <stdbool.h>
#include <stdint.h>

#include "carnet/replica.h"

CARNET_BEGIN_DECLS

/* The content's chunk: plaintext bytes per secretstream message. Frozen
 * (docs/FORMATS.md, content file). */
#define CARNET_ATTACH_CHUNK 65536u
/* The largest file by default (carnet_attach_policy.size_max). */
#define CARNET_ATTACH_SIZE_DEFAULT (100ull * 1000 * 1000)
/* The largest size_max a replica may be set to. */
#define CARNET_ATTACH_SIZE_LIMIT (4ull * 1000 * 1000 * 1000)
/* A file name, a caption, a media type: at most so many bytes. */
#define CARNET_ATTACH_NAME_MAX 255u
#define CARNET_ATTACH_CAPTION_MAX 2000u
#define CARNET_ATTACH_MEDIA_TYPE_MAX 127u

/* One attachment as read. Strings and the struct live as the comment of
 * the call that hands it out says. */
typedef struct carnet_attachment {
  carnet_id id;
  carnet_id owner;        /* the customer, contact, document or action */
  carnet_kind owner_kind; /* its kind, 0 when it is not on this replica */
  const char *name;       /* file name */
  const char *media_type; /* "application/pdf" */
  const char *caption;    /* NULL when none */
  uint64_t size;          /* bytes */
  uint8_t hash[32];       /* BLAKE2b-256 of the content */
  uint64_t added_by;      /* replica id */
  uint64_t added_at_ms;   /* Unix ms */
  bool deleted;
  bool here;         /* the content is on this replica, whole and verified */
  uint64_t received; /* bytes of the content file received so far (when not here) */
  bool wanted;       /* asked for (carnet_attachment_want) and not here yet */
} carnet_attachment;

/* --- Adding a file ------------------------------------------------------ */

typedef struct carnet_upload carnet_upload;

typedef struct carnet_upload_opts {
  const char *name;       /* the file's name as shown (a path: its last part); required */
  const char *media_type; /* NULL: from the name's extension, else application/octet-stream */
  const char *caption;    /* NULL: none */
} carnet_upload_opts;

/* Brief: start attaching a file to `owner` (a live customer, contact,
 * document or action). The content is then given with carnet_upload_write,
 * encrypted as it comes into a temporary file under DIR/files/, and
 * carnet_upload_commit makes the attachment; carnet_upload_abort drops it.
 * No transaction is held meanwhile. After the call the caller owns *out
 * and ends it with carnet_upload_commit or carnet_upload_abort.
 * The detail of an error is carnet_replica_errmsg.
 * Errors: CARNET_ENOTFOUND (no such owner,
 * or it is deleted or erased), CARNET_EINVAL (an owner of another kind, a
 * name that is empty, not UTF-8, longer than CARNET_ATTACH_NAME_MAX or on
 * several lines, a bad media type or caption), CARNET_EPERM (a read-only
 * replica, or DIR/files cannot be written), CARNET_ENOSPC, CARNET_EIO,
 * CARNET_ENOMEM, CARNET_EMISUSE (a NULL argument, or a write transaction is
 * open on the handle). */
CARNET_API int carnet_upload_begin(carnet_replica *r, const carnet_id *owner,
                                   const carnet_upload_opts *opts, carnet_upload **out);

/* Brief: append `len` bytes of content. Errors: CARNET_ELIMIT (the file
 * grew past the replica's largest size, carnet_attach_policy.size_max: the
 * message gives both sizes; the upload is failed), CARNET_ENOSPC,
 * CARNET_EIO, CARNET_EMISUSE (NULL); after an error the upload stays failed
 * and carnet_upload_commit returns that error. */
CARNET_API int carnet_upload_write(carnet_upload *up, const void *buf, size_t len);

/* Brief: finish the content (fsync, rename to its final name), then write
 * the metadata in a transaction of its own; the attachment exists once
 * this returns 0, and `out_id` (may be NULL) receives its id. The upload is
 * freed whatever the result. Errors: the upload's sticky error, or those
 * of carnet_upload_begin and CARNET_ENOSPC, CARNET_EIO for the commit.
 * Nothing is left behind on an error. */
CARNET_API int carnet_upload_commit(carnet_upload *up, carnet_id *out_id);

/* Brief: drop the upload and its temporary file; NULL is a no-op. */
CARNET_API void carnet_upload_abort(carnet_upload *up);

/* Brief: attach the file at `path`: carnet_upload_begin, its content
 * written, carnet_upload_commit. `opts` may be NULL (the name is the
 * path's last part); `opts->name` NULL takes the same.
 * Errors: those of the three calls, and CARNET_ENOTFOUND, CARNET_EPERM,
 * CARNET_EINVAL (not a regular file) for `path`. */
CARNET_API int carnet_attachment_create_file(carnet_replica *r, const carnet_id *owner,
                                             const char *path, const carnet_upload_opts *opts,
                                             carnet_id *out_id);

/* --- Reading ------------------------------------------------------------ */

/* Brief: read attachment `id`. After the call the caller owns *out, one
 * block with its strings, released with carnet_free. Deleted attachments
 * are returned too (`deleted`). Errors: CARNET_ENOTFOUND (no such
 * attachment: never on this replica, or erased), CARNET_ECORRUPT. */
CARNET_API int carnet_attachment_get(carnet_replica *r, const carnet_id *id,
                                     carnet_attachment **out);

/* Brief: call `cb` for every attachment of `owner`, oldest first; a
 * customer merged with others (carnet/merge.h) has the attachments of its
 * whole group; `owner` NULL lists every attachment of the replica. Deleted
 * ones only with `include_deleted`. The struct passed to `cb` lives until
 * it returns; `cb` returns 0 to go on, else the listing stops and returns
 * that value. `cb` may not call the library. Errors: CARNET_ECORRUPT,
 * CARNET_ENOMEM, CARNET_EIO. */
typedef int (*carnet_attachment_cb)(const carnet_attachment *a, void *data);
CARNET_API int carnet_attachment_list(carnet_replica *r, const carnet_id *owner,
                                      bool include_deleted, carnet_attachment_cb cb, void *data);

/* Brief: mark attachment `id` deleted (a tombstone that syncs) and remove
 * its content file from this replica (peers remove theirs when the
 * tombstone reaches them). Errors: CARNET_ENOTFOUND (no such attachment, or
 * already deleted), CARNET_EPERM (read-only), CARNET_ENOSPC, CARNET_EIO,
 * CARNET_EMISUSE (a transaction is open on the handle). */
CARNET_API int carnet_attachment_delete_commit(carnet_replica *r, const carnet_id *id);

typedef struct carnet_download carnet_download;

/* Brief: open the content of attachment `id` for reading. After the call
 * the caller owns *out and closes it with carnet_download_close.
 * Errors: CARNET_ENOTFOUND (no such attachment, deleted, or its content is
 * not on this replica yet: the message says how much of it was received;
 * carnet_attachment_want asks peers for it), CARNET_ECORRUPT, CARNET_EIO,
 * CARNET_ENOMEM. */
CARNET_API int carnet_download_open(carnet_replica *r, const carnet_id *id, carnet_download **out);

/* Brief: read up to `cap` bytes of plaintext into `buf`; *n = 0 at the end.
 * Every chunk is authenticated as it is read, and the end is reported only
 * after the content's hash matched the metadata. Errors: CARNET_ECORRUPT
 * (the file fails authentication or its hash: it was damaged or changed
 * outside Carnet), CARNET_EIO, CARNET_EMISUSE. */
CARNET_API int carnet_download_read(carnet_download *d, void *buf, size_t cap, size_t *n);

/* Brief: close a download; NULL is a no-op. */
CARNET_API void carnet_download_close(carnet_download *d);

/* Brief: write the content of attachment `id` to `path`, whole or not at
 * all (a temporary file, mode 0600, renamed once the content verified).
 * Errors: those of carnet_download_open and _read, and CARNET_ENOTFOUND,
 * CARNET_EPERM, CARNET_EINVAL, CARNET_ENOSPC for `path`. */
CARNET_API int carnet_attachment_save(carnet_replica *r, const carnet_id *id, const char *path);

/* --- Fetching content from peers ---------------------------------------- */

/* What a replica fetches from its peers by itself. */
typedef enum carnet_fetch {
  CARNET_FETCH_ALL = 1,   /* every attachment's content (the default) */
  CARNET_FETCH_OPEN = 2,  /* none until asked (carnet_attachment_want, `carnet attachment get`) */
  CARNET_FETCH_UP_TO = 3, /* files up to fetch_max bytes; larger ones when asked */
} carnet_fetch;

typedef struct carnet_attach_policy {
  carnet_fetch fetch;
  uint64_t fetch_max; /* CARNET_FETCH_UP_TO: the largest file fetched by itself */
  uint64_t size_max;  /* the largest file attached here or received: 1..CARNET_ATTACH_SIZE_LIMIT */
  uint64_t send_rate; /* content bytes a second this replica sends a peer (0: no limit; a hub
                         on a slow uplink keeps room for the rest) */
} carnet_attach_policy;

/* Brief: the name of a fetch mode ("all", "open", "up-to") or NULL, and
 * the reverse (0 when unknown). */
CARNET_API const char *carnet_fetch_name(carnet_fetch f);
CARNET_API carnet_fetch carnet_fetch_parse(const char *name);

/* Brief: read this replica's policy (defaults: CARNET_FETCH_ALL,
 * CARNET_ATTACH_SIZE_DEFAULT, no send rate limit). Errors: CARNET_ECORRUPT, CARNET_EIO. */
CARNET_API int carnet_replica_get_attach_policy(carnet_replica *r, carnet_attach_policy *out);

/* Brief: store this replica's policy (it is not synced: each device
 * decides). Errors: CARNET_EINVAL (an unknown mode, size_max 0 or above
 * CARNET_ATTACH_SIZE_LIMIT), CARNET_EPERM (read-only), CARNET_ENOSPC,
 * CARNET_EIO, CARNET_EMISUSE (a transaction is open on the handle). */
CARNET_API int carnet_replica_set_attach_policy(carnet_replica *r, const carnet_attach_policy *p);

/* Brief: ask for the content of attachment `id` whatever the policy: the
 * next sync sessions fetch it from any peer that has it (a `once` node
 * stays until it came, or no peer had it). Errors: CARNET_ENOTFOUND (no
 * such attachment, or deleted), CARNET_ELIMIT (larger than size_max),
 * CARNET_EPERM, CARNET_ENOSPC, CARNET_EIO, CARNET_EMISUSE. */
CARNET_API int carnet_attachment_want(carnet_replica *r, const carnet_id *id);

/* What is waiting for content on this replica (`carnet status`). */
typedef struct carnet_attach_pending {
  uint64_t files;       /* attachments whose content this replica will fetch */
  uint64_t bytes;       /* their sizes added up */
  uint64_t received;    /* bytes of them received so far */
  uint64_t not_fetched; /* attachments left without content by the policy */
  uint64_t here;        /* attachments whose content is here */
} carnet_attach_pending;

/* Brief: count what is pending. Errors: CARNET_ECORRUPT, CARNET_ENOMEM,
 * CARNET_EIO. */
CARNET_API int carnet_attachment_pending(carnet_replica *r, carnet_attach_pending *out);

CARNET_END_DECLS

#endif
