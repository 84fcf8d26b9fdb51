/* cli/main.c - the `carnet` command: global options, then one command.
 *
 *   carnet [--dir DIR] COMMAND [SUBCOMMAND] [options]
 *
 * Exit codes: 0 ok, 1 user error, 2 internal error (see cli/cli.h).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

/* LMDB keeps no page checksums: a damaged data file can make it read
 * through a wild pointer. Every write is one transaction that either
 * commits whole or not at all, so dying here loses and damages nothing;
 * what a user needs is to know what happened instead of "Segmentation
 * fault". Only async-signal-safe calls. (AddressSanitizer reports bad
 * accesses before they fault, so it still sees our own bugs.) */
static void on_fault(int sig) {
  static const char msg[] =
      "carnet: stopped by a memory fault while reading the replica: its data file may be "
      "damaged; nothing was written. Run 'carnet check', and restore data.mdb from a backup or "
      "re-create this replica and sync it from a peer. If 'carnet check' finds nothing, this is "
      "a bug: please report it.\n";
  ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)n;
  (void)sig;
  _exit(CLI_EINTERNAL);
}

static void guard_faults(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fault;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
}

static const cli_sub commands[] = {
    {"init", cli_cmd_init, "create a replica"},
    {"customer", cli_cmd_customer, "add, change, show, list and delete customers"},
    {"contact", cli_cmd_contact, "the contacts of customers"},
    {"consent", cli_cmd_consent, "consents per channel, with their dated history"},
    {"doc", cli_cmd_doc, "quotes, orders, invoices and credit notes"},
    {"action", cli_cmd_action, "commercial actions: calls, visits, e-mails, trade fairs"},
    {"actions", cli_cmd_action, NULL}, /* hidden: the same as action */
    {"reminder", cli_cmd_reminder, "call-back reminders"},
    {"reminders", cli_cmd_reminders, "the reminders due today, this week or on a date"},
    {"history", cli_cmd_history, "a customer's documents, payments and actions, with balances"},
    {"stats", cli_cmd_stats, "actions, quotes, sales and margins over a period"},
    {"dupes", cli_cmd_dupes, "customers that may be duplicates, with a score and reasons"},
    {"merge", cli_cmd_merge, "merge a duplicate customer into another (every replica agrees)"},
    {"unmerge", cli_cmd_unmerge, "undo a merge"},
    {"erase", cli_cmd_erase, "erase a customer on every replica (GDPR right to be forgotten)"},
    {"conflicts", cli_cmd_conflicts, "values lost to concurrent edits; put one back"},
    {"erasures", cli_cmd_erasures, "the erasure certificates and which replicas applied them"},
    {"attach", cli_cmd_attach, "attach a file to a customer, contact, document or action"},
    {"attachments", cli_cmd_attachments,
     "the files attached to a customer, contact, document or action"},
    {"attachment", cli_cmd_attachment, "show, get or delete an attachment; the fetch policy"},
    {"subject-export", cli_cmd_subject_export, "everything held on a customer, as JSON (GDPR)"},
    {"import", cli_cmd_import, "import customers from a CSV or Excel file"},
    {"export", cli_cmd_export, "export customers, contacts, documents or actions to a file"},
    {"changes", cli_cmd_changes, "sync two replicas through a file"},
    {"serve", cli_cmd_serve, "run as a sync node: sync with peers over the network"},
    {"web", cli_cmd_web, "serve the web console on this machine (a browser page and its HTTP API)"},
    {"sync", cli_cmd_sync, "sync once with a peer over the network"},
    {"invite", cli_cmd_invite, "make a one-time token for a new replica to join"},
    {"join", cli_cmd_join, "join a team with an invite token"},
    {"peer", cli_cmd_peer, "the replicas this one trusts"},
    {"id", cli_cmd_id, "this replica's public key, id and tag"},
    {"status", cli_cmd_status, "record counts, sequence and peers' sync state"},
    {"config", cli_cmd_config, "this replica's settings: its name, the default phone region"},
    {"check", cli_cmd_check,
     "read the whole replica and report damage; --repair rebuilds the index"},
    {"salvage", cli_cmd_salvage, "copy what can be read of a damaged replica into a new one"},
    {"passwd", cli_cmd_passwd, "change the passphrase that protects this replica's files"},
    {"backup", cli_cmd_backup, "write a backup of this replica to a file (while it is in use)"},
    {"restore", cli_cmd_restore, "make a new replica from a backup"},
    {"debug", cli_cmd_debug, NULL}, /* hidden: for tests */
    {NULL, NULL, NULL},
};

int main(int argc, char **argv) {
  cli c = {.dir = NULL, .cmd = "", .json = false};
  guard_faults();
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
