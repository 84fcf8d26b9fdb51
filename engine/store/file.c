/* engine/store/file.c - reading a whole input file, and writing an output file
 * that holds personal data (engine/store/file.h): mode 0600, under a temporary
 * name then renamed, so that a failed export, rejects file or backup leaves
 * nothing half written and an older file untouched. Every failure leaves
 * its detail on the replica handle.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "engine/store/file.h"

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/store/replica_int.h"

int carnet__errno_code(int e) {
  switch (e) {
  case ENOENT:
  case ENOTDIR:
    return CARNET_ENOTFOUND;
  case EACCES:
  case EPERM:
  case EROFS:
    return CARNET_EPERM;
  case ENAMETOOLONG:
  case ELOOP:
  case EISDIR:
    return CARNET_EINVAL;
  case ENOSPC:
  case EDQUOT:
    return CARNET_ENOSPC;
  case ENOMEM:
    return CARNET_ENOMEM;
  default:
    return CARNET_EIO;
  }
}

int carnet__file_read(carnet_replica *r, const char *path, size_t max, char **out, size_t *len) {
  struct stat sb;
  char *buf = NULL;
  size_t got = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  *out = NULL;
  *len = 0;
  if (fd < 0) {
    int e = errno;
    return carnet__fail(r, carnet__errno_code(e), "cannot open %s: %s", path, strerror(e));
  }
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return carnet__fail(r, CARNET_EINVAL, "%s is not a regular file", path);
  }
  if ((uint64_t)sb.st_size > max) {
    close(fd);
    return carnet__fail(r, CARNET_ELIMIT, "%s is too big (%lld bytes; at most %zu)", path,
                        (long long)sb.st_size, max);
  }
  if ((buf = carnet__malloc((size_t)sb.st_size + 1)) == NULL) {
    close(fd);
    return carnet__fail(r, CARNET_ENOMEM, "out of memory reading %s", path);
  }
  /* A file that grows while it is read is cut at the size it had: the
   * buffer was sized from fstat. */
  while (got < (size_t)sb.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(fd);
      carnet__free(buf);
      return carnet__fail(r, CARNET_EIO, "cannot read %s: %s", path, strerror(e));
    }
    got += (size_t)n;
  }
  close(fd);
  buf[got] = '\0';
  *out = buf;
  *len = got;
  return 0;
}

/* The temporary name: PATH.tmp- and 12 random hex digits, created with
 * O_EXCL and mode 0600. The file holds personal data (exports and rejects
 * were once created 0644 beside a 0700 replica directory), so it is
 * private whatever the umask: open() can only narrow the mode, and fchmod
 * sets it exactly (a umask of 0177 or wider would otherwise leave the
 * owner unable to read back what was written). */
int carnet__tmpfile_open(carnet_replica *r, carnet__tmpfile *f, const char *path) {
  enum { TRIES = 16 };
  int e = 0;
  f->fd = -1;
  f->tmp[0] = '\0';
  if (snprintf(f->final, sizeof f->final, "%s", path) >= (int)sizeof f->final)
    return carnet__fail(r, CARNET_EINVAL, "path too long: %s", path);
  for (int i = 0; i < TRIES && f->fd < 0; i++) {
    uint8_t rnd[6];
    char hex[13];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp-%s", path, hex);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, CARNET__FILE_MODE);
    e = f->fd < 0 ? errno : 0;
    if (f->fd < 0 && e != EEXIST) break;
  }
  if (f->fd < 0) {
    int code = carnet__errno_code(e);
    carnet__fail(r, code, "cannot create %s: %s", f->tmp, strerror(e));
    f->tmp[0] = '\0'; /* nothing to remove */
    return code;
  }
  if (fchmod(f->fd, CARNET__FILE_MODE) != 0) {
    e = errno;
    carnet__tmpfile_discard(f);
    return carnet__fail(r, carnet__errno_code(e), "cannot set the mode of %s: %s", path,
                        strerror(e));
  }
  return 0;
}

void carnet__dir_of(const char *path, char *dir, size_t len) {
  snprintf(dir, len, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    dir[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    snprintf(dir, len, ".");
}

int carnet__tmpfile_write(carnet_replica *r, carnet__tmpfile *f, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(f->fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      return carnet__fail(r, e == ENOSPC || e == EDQUOT ? CARNET_ENOSPC : CARNET_EIO,
                          "cannot write %s: %s", f->tmp, strerror(e));
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int carnet__tmpfile_commit(carnet_replica *r, carnet__tmpfile *f) {
  int err = 0, e = 0;
  if (fsync(f->fd) != 0) e = errno;
  if (close(f->fd) != 0 && e == 0) e = errno;
  f->fd = -1;
  if (e)
    err = carnet__fail(r, e == ENOSPC || e == EDQUOT ? CARNET_ENOSPC : CARNET_EIO,
                       "cannot write %s: %s", f->tmp, strerror(e));
  if (err == 0 && rename(f->tmp, f->final) != 0) {
    e = errno;
    err = carnet__fail(r, CARNET_EIO, "cannot rename %s to %s: %s", f->tmp, f->final, strerror(e));
  }
  if (err) {
    unlink(f->tmp);
    return err;
  }
  /* The rename is durable once the directory is: a backup must survive a
   * crash right after the command said it was written. A directory that
   * cannot be opened for reading (rare) keeps the file, not durable yet. */
  char dir[4096];
  carnet__dir_of(f->final, dir, sizeof dir);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    if (fsync(dfd) != 0 && errno != EINVAL) e = errno;
    close(dfd);
    if (e)
      return carnet__fail(r, CARNET_EIO, "cannot sync the directory of %s: %s", f->final,
                          strerror(e));
  }
  return 0;
}

void carnet__tmpfile_discard(carnet__tmpfile *f) {
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  if (f->tmp[0]) unlink(f->tmp);
}
