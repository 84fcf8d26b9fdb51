/* cli/main.c - the `carnet` command: global options, then one command.
 *
 *   carnet [--dir DIR] COMMAND [SUBCOMMAND] [options]
 *
 * Exit codes: 0 ok, 1 user error, 2 internal error (see cli/cli.h).
 */
#include <stdlib.h>

#include "cli/cli.h"

static const cli_sub commands[] = {
    {"init", cli_cmd_init, "create a replica"},
    {"customer", cli_cmd_customer, "add, change, show, list and delete customers"},
    {"contact", cli_cmd_contact, "the contacts of customers"},
    {"consent", cli_cmd_consent, "consents per channel, with their dated history"},
    {"changes", cli_cmd_changes, "sync two replicas through a file"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv) {
  cli c = {.dir = NULL, .cmd = "", .json = false};
  cli_push(&c, "carnet");
  int rc = cli_dispatch(&c, commands,
                        "Carnet keeps your customer book on every device, works offline, and "
                        "merges changes between devices.",
                        argc, argv);
  if (rc == CLI_HELP) rc = CLI_OK;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "%s: cannot write the output\n", c.cmd);
    if (rc == CLI_OK) rc = CLI_EINTERNAL;
  }
  return rc;
}
