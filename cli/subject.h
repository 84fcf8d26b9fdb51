/* cli/subject.h - a person's files in a subject export (cli/subject.c). */
#ifndef CARNET_CLI_SUBJECT_H
#define CARNET_CLI_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"

/* Brief: *out receives a JSON array of the attachments of `owners` (a
 * customer first: its merge group's; then its contacts, documents and
 * actions), deleted ones included, each once; with `archive`, each with
 * "file" (its path in the archive, or null). Returns CLI_OK or an exit
 * code after printing. */
int cli_subject_attachments(cli *c, carnet_replica *r, const carnet_id *owners, size_t n,
                            bool archive, json_t **out);

/* Brief: write the zip archive `out`: subject.json (`json_text`) and the
 * content of every attachment of `atts` that has a "file". Returns CLI_OK
 * or an exit code after printing; nothing is left at `out` on failure. */
int cli_subject_archive(cli *c, carnet_replica *r, const char *out, const char *json_text,
                        const json_t *atts);

#endif
