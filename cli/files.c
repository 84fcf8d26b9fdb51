/* cli/files.c - the output file of a JSON export or a subject export,
 * written under a temporary name then renamed (a failed export leaves
 * nothing half written) with mode 0600 (it holds personal data), and the
 * administrator check of import and export (cli/files.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/files.h"

int cli_tmp_open(cli *c, cli_tmpfile *f, const char *path) {
  f->fd = -1;
  if (snprintf(f->final, sizeof f->final, "%s", path) >= (int)sizeof f->final)
    return cli_fail(c, CLI_EUSER, "path too long: %s", path);
  snprintf(f->tmp, sizeof f->tmp, "%s.tmp-XXXXXX", path);
  if ((f->fd = mkstemp(f->tmp)) < 0)
    return cli_fail(c, CLI_EUSER, "cannot create %s: %s", f->tmp, strerror(errno));
  /* mkstemp makes 0600 already; say so, whatever the C library does. The
   * library's files (CSV, XLSX, rejects) get the same mode: engine/store/file.h. */
  if (fchmod(f->fd, 0600) != 0) {
    int e = errno;
    cli_tmp_discard(f);
    return cli_fail(c, CLI_EUSER, "cannot set the mode of %s: %s", path, strerror(e));
  }
  return CLI_OK;
}

int cli_tmp_write(cli *c, cli_tmpfile *f, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(f->fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return cli_fail(c, CLI_EINTERNAL, "cannot write %s: %s", f->tmp, strerror(errno));
    p += n;
    len -= (size_t)n;
  }
  return CLI_OK;
}

int cli_tmp_commit(cli *c, cli_tmpfile *f) {
  int rc = CLI_OK;
  if (fsync(f->fd) != 0)
    rc = cli_fail(c, CLI_EINTERNAL, "cannot write %s: %s", f->tmp, strerror(errno));
  if (close(f->fd) != 0 && rc == CLI_OK)
    rc = cli_fail(c, CLI_EINTERNAL, "cannot write %s: %s", f->tmp, strerror(errno));
  f->fd = -1;
  if (rc == CLI_OK && rename(f->tmp, f->final) != 0)
    rc =
        cli_fail(c, CLI_EINTERNAL, "cannot rename %s to %s: %s", f->tmp, f->final, strerror(errno));
  if (rc) unlink(f->tmp);
  return rc;
}

void cli_tmp_discard(cli_tmpfile *f) {
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  if (f->tmp[0]) unlink(f->tmp);
}

int cli_require_admin(cli *c, carnet_replica *r, const char *what) {
  carnet_role role;
  int err = carnet_replica_get_role(r, &role);
  if (err) return cli_fail_rc(c, r, err, "reading the replica's role");
  if (role != CARNET_ROLE_ADMIN)
    return cli_fail(c, CLI_EUSER,
                    "%s is an administrator action; this replica is a %s (its role is set by "
                    "'carnet init --role' or 'carnet join --role'; see 'carnet status')",
                    what, carnet_role_name(role));
  return CLI_OK;
}
