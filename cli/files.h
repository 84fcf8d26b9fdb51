/* cli/files.h - what `carnet import` and `carnet export` keep in the
 * command: the administrator check (a policy of the command, not of the
 * library), and the output file of a JSON export written under a temporary
 * name then renamed (CSV and XLSX exports are written by the library,
 * carnet/import.h).
 */
#ifndef CARNET_CLI_FILES_H
#define CARNET_CLI_FILES_H

#include "cli/cli.h"

/* A file written under a temporary name beside its final path and renamed
 * over it once complete, so that a failed write leaves nothing half
 * written; mode 0600, since what Carnet writes to a file is personal data
 * (a JSON export, a subject export). */
typedef struct cli_tmpfile {
  char final[4096];
  char tmp[4120];
  int fd;
} cli_tmpfile;

/* Brief: create the temporary file for `path`. Returns CLI_OK or an exit
 * code after printing. */
int cli_tmp_open(cli *c, cli_tmpfile *f, const char *path);
/* Brief: write all of buf. Returns CLI_OK or an exit code after printing. */
int cli_tmp_write(cli *c, cli_tmpfile *f, const void *buf, size_t len);
/* Brief: fsync, close and rename over the final path. Returns CLI_OK or an
 * exit code after printing (the temporary file is then removed). */
int cli_tmp_commit(cli *c, cli_tmpfile *f);
/* Brief: close and remove the temporary file (after a failure). */
void cli_tmp_discard(cli_tmpfile *f);

/* Brief: refuse an administrator action (`what`: "import", "export") on a
 * member replica. Returns CLI_OK or an exit code after printing. */
int cli_require_admin(cli *c, carnet_replica *r, const char *what);

#endif
