/* cli/cmd_debug.c - `carnet debug ...`: commands for tests and for
 * investigating a replica, not shown in `carnet --help`. */
#include "cli/cli.h"

static const cli_usage digest_usage = {
    .summary = "Print the digest of the replica's merged state (64 hex characters): two "
               "replicas that have seen the same changes print the same digest.",
};

static int run_digest(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  uint8_t d[32];
  char hex[65];
  cli_args a;
  int rc = cli_parse(c, &digest_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r))) goto done;
  int err = carnet_replica_get_digest(r, d);
  if (err)
    rc = cli_fail_rc(c, r, err, NULL);
  else
    printf("%s\n", cli_hex(d, sizeof d, hex));
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static const cli_sub subs[] = {
    {"digest", run_digest, "print the digest of the merged state"},
    {NULL, NULL, NULL},
};

int cli_cmd_debug(cli *c, int argc, char **argv) {
  return cli_dispatch(c, subs, "Commands for tests and investigation.", argc, argv);
}
