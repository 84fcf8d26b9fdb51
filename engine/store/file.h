/* engine/store/file.h - files Carnet writes outside the replica (not API): an
 * export, a rejects file, a backup. They hold personal data, so they are
 * private to their owner (mode 0600, whatever the umask), and they appear
 * whole or not at all: written under a temporary name beside the final
 * path, fsynced, renamed over it, and the directory fsynced.
 *
 *   carnet__tmpfile f;
 *   int err = carnet__tmpfile_open(r, &f, path);      // f.fd: 0600, O_EXCL
 *   if (err) return err;
 *   err = carnet__tmpfile_write(r, &f, buf, len);     // or write to f.fd directly
 *   if (err == 0) err = carnet__tmpfile_commit(r, &f); // fsync, rename, fsync dir
 *   else carnet__tmpfile_discard(&f);                 // close, unlink
 *
 * A file that existed at `path` is replaced by the new one (and so takes
 * mode 0600 too); nothing of it changes when the write fails. Every failure
 * leaves its detail on the replica handle (carnet_replica_errmsg).
 */
#ifndef CARNET_ENGINE_FILE_H
#define CARNET_ENGINE_FILE_H

#include <stddef.h>

#include "carnet/replica.h"

/* The mode of every file Carnet writes with personal data. */
#define CARNET__FILE_MODE 0600

/* Brief: read a whole regular file (at most `max` bytes) into a block of
 * carnet__malloc (NUL-terminated; release with carnet__free).
 * Errors (detail on `r`): CARNET_ENOTFOUND, CARNET_EPERM, CARNET_EINVAL (not
 * a regular file, a bad path), CARNET_ELIMIT (over `max`), CARNET_EIO,
 * CARNET_ENOMEM. */
int carnet__file_read(carnet_replica *r, const char *path, size_t max, char **out, size_t *len);

/* A file written under a temporary name beside its final path and renamed
 * over it once complete. */
typedef struct carnet__tmpfile {
  char final[4096];
  char tmp[4120];
  int fd;
} carnet__tmpfile;

/* Brief: create the temporary file for `path`, PATH.tmp-XXXXXXXXXXXX, with
 * O_EXCL and mode CARNET__FILE_MODE (fchmod'ed, so the umask cannot widen
 * or narrow it). After the call f->fd is open for writing.
 * Errors (detail on `r`): CARNET_EINVAL (path too long), CARNET_ENOTFOUND
 * (no such directory), CARNET_EPERM, CARNET_ENOSPC, CARNET_EIO. */
int carnet__tmpfile_open(carnet_replica *r, carnet__tmpfile *f, const char *path);
/* Brief: write all of buf. Errors: CARNET_ENOSPC, CARNET_EIO. */
int carnet__tmpfile_write(carnet_replica *r, carnet__tmpfile *f, const void *buf, size_t len);
/* Brief: fsync, close, rename over the final path and fsync its directory;
 * on error the temporary file is removed. Errors: CARNET_ENOSPC,
 * CARNET_EIO. */
int carnet__tmpfile_commit(carnet_replica *r, carnet__tmpfile *f);
/* Brief: close and remove the temporary file (after a failure). */
void carnet__tmpfile_discard(carnet__tmpfile *f);

/* Brief: the CARNET_E* code of an errno value (ENOENT: CARNET_ENOTFOUND,
 * EACCES: CARNET_EPERM...). */
int carnet__errno_code(int e);

/* The directory of `path` into `dir` ("/" for a file at the root, "." for a
 * bare name): where to fsync a rename, or to put a temporary file beside
 * it on the same file system. */
void carnet__dir_of(const char *path, char *dir, size_t len);

#endif
