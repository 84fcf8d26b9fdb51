/* cli/export.h - records as a sheet, for `carnet export` (cli/cmd_export.c
 * writes it as CSV or XLSX). */
#ifndef CARNET_CLI_EXPORT_H
#define CARNET_CLI_EXPORT_H

#include "cli/cli.h"
#include "io/sheet.h"

/* Brief: the records of `kind` passing `filter`, as a header row then one
 * row per record (cli/export_sheet.c says which columns). After the call
 * the caller owns *out; *count receives the number of records. Returns
 * CLI_OK or an exit code after printing. */
int exp_sheet(cli *c, carnet_replica *r, carnet_kind kind, const carnet_filter *filter,
              carnet__sheet **out, size_t *count);

#endif
