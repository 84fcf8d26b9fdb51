/* cli/cmd_passwd.c - `carnet passwd`: protect the replica's files with a
 * new passphrase or key file. Only the wrapping of the data key changes
 * (carnet_replica_rekey): no data is rewritten, a running `carnet serve`
 * keeps working. The current key opens the replica as for any command
 * ($CARNET_PASSPHRASE, --key-file, or a prompt).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"

enum { O_NEW_KEY_FILE = CLI_O_USER, O_NO_PASSPHRASE };

static const cli_opt passwd_opts[] = {
    {"new-key-file", 0, required_argument, O_NEW_KEY_FILE, "PATH",
     "protect it with this key file instead (made, mode 0600, when missing)"},
    {"no-passphrase", 0, no_argument, O_NO_PASSPHRASE, NULL,
     "protect it with a key file in the replica directory (no secret to type)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage passwd_usage = {
    .summary = "Change the passphrase (or key file) that protects this replica's files.",
    .opts = passwd_opts,
    .json = true,
    .more = "The new passphrase is $CARNET_NEW_PASSPHRASE, else asked twice on the terminal. "
            "The current one opens the replica as for any command: $CARNET_PASSPHRASE, "
            "--key-file PATH or $CARNET_KEY_FILE, else a prompt. Only the wrapping of the "
            "replica's data key changes: no data is rewritten. A copy of the files taken "
            "before still opens with the old passphrase.",
};

static const char *kind_text(carnet_key_kind k) {
  switch (k) {
  case CARNET_KEY_PASSPHRASE:
    return "passphrase";
  case CARNET_KEY_FILE:
    return "key file";
  case CARNET_KEY_FILE_IN_DIR:
    return "key file in the replica directory";
  }
  return "?";
}

int cli_cmd_passwd(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  cli_args a;
  const char *new_key_file = NULL, *pass = NULL;
  bool none = false;
  char buf[1024] = "";
  int rc = cli_parse(c, &passwd_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++) {
    if (a.opts[i].id == O_NEW_KEY_FILE) new_key_file = a.opts[i].arg;
    if (a.opts[i].id == O_NO_PASSPHRASE) none = true;
  }
  if (new_key_file && none) {
    rc = cli_fail(c, CLI_EUSER, "give --new-key-file or --no-passphrase, not both");
    goto done;
  }
  if ((rc = cli_open(c, &r))) goto done;
  if (!new_key_file && !none) {
    const char *env = getenv("CARNET_NEW_PASSPHRASE");
    if (env && env[0]) {
      pass = env;
    } else {
      if ((rc = cli_read_passphrase(c, "New passphrase: ", true, buf, sizeof buf))) goto done;
      if (buf[0] == '\0') {
        rc = cli_fail(c, CLI_EUSER,
                      "empty passphrase: nothing was changed (--no-passphrase keeps a key file "
                      "in the replica directory instead)");
        goto done;
      }
      pass = buf;
    }
  }
  int err = carnet_replica_rekey(r, pass, new_key_file);
  if (err) {
    rc = cli_fail_rc(c, r, err, "changing the key");
    goto done;
  }
  carnet_key_info ki;
  if ((err = carnet_replica_get_key_info(r, &ki))) {
    rc = cli_fail_rc(c, r, err, "reading the key record");
    goto done;
  }
  if (c->json) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "dir", cli_json_str(carnet_replica_dir(r)));
    cli_json_put(o, "protection", cli_json_str(kind_text(ki.kind)));
    rc = cli_json_print(c, o);
  } else {
    printf("The replica in %s is now protected by %s%s%s%s.\n", carnet_replica_dir(r), "a ",
           kind_text(ki.kind), new_key_file ? " " : "", new_key_file ? new_key_file : "");
  }
done:
  sodium_memzero(buf, sizeof buf);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

const char *cli_key_kind_text(carnet_key_kind k) {
  return kind_text(k);
}
