/* cli/cmd_salvage.c - `carnet salvage --to DIR`: copy what can be read of
 * a damaged replica (the one --dir names) into a new replica in DIR, and
 * say what could not be read (carnet/verify.h, carnet_replica_salvage). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { O_TO = CLI_O_USER };

static const cli_opt salvage_opts[] = {
    {"to", 0, required_argument, O_TO, "DIR",
     "the directory of the new replica (required; it must not hold one)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage salvage_usage = {
    .summary = "Copy every record that can still be read from a damaged replica into a new "
               "replica, and say what could not be read.",
    .opts = salvage_opts,
    .json = true,
    .more = "For a replica that 'carnet check' cannot get through, or whose records do not all\n"
            "read. The damaged file is read page by page (never written), every pointer in it\n"
            "checked; what still decrypts and decodes goes into a new replica in DIR: records,\n"
            "erasure certificates, the trust list, team and identity. What cannot be read is\n"
            "listed, with the record's id when it is known. The new replica has a new id and\n"
            "numbering series; sync it with a peer of the team to get back what was lost\n"
            "there. Stop any other process using the replica (carnet serve) first. The\n"
            "passphrase or key file that opens the replica opens it here, and protects the\n"
            "new one.",
};

/* The losses: shown as they come (the first ones), all kept for --json. */
#define SHOWN_MAX 50

typedef struct losses {
  cli *c;
  json_t *arr;
  unsigned long n;
} losses;

static void on_loss(void *ctx, const char *table, const carnet_id *id, const char *why) {
  losses *l = ctx;
  char hex[CARNET_ID_HEX_LEN + 1] = "";
  if (id) carnet_id_format(id, hex);
  l->n++;
  if (l->arr) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "table", cli_json_str(table));
    cli_json_put(o, "id", id ? cli_json_str(hex) : json_null());
    cli_json_put(o, "why", cli_json_str(why));
    cli_json_push(l->arr, o);
  } else if (l->n <= SHOWN_MAX) {
    fprintf(stderr, "%s: not copied: %s%s%s: %s\n", l->c->cmd, table, id ? " " : "", hex, why);
  } else if (l->n == SHOWN_MAX + 1) {
    fprintf(stderr, "%s: ... (--json lists them all)\n", l->c->cmd);
  }
}

int cli_cmd_salvage(cli *c, int argc, char **argv) {
  carnet_salvage_report rep = CARNET_SALVAGE_REPORT_INIT;
  const char *to = NULL;
  char dir[4096], why[512] = "";
  carnet_env env;
  bool test_clock;
  losses l = {c, NULL, 0};
  cli_args a;
  int rc = cli_parse(c, &salvage_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++)
    if (a.opts[i].id == O_TO) to = a.opts[i].arg;
  if (to == NULL) {
    rc = cli_fail(c, CLI_EUSER, "missing --to DIR: the directory of the new replica");
    goto done;
  }
  if ((rc = cli_replica_dir(c, dir, sizeof dir)) || (rc = cli_test_clock(c, &env, &test_clock)))
    goto done;
  if (!test_clock) memset(&env, 0, sizeof env);
  cli_key_env(c, &env, true);
  if (c->json) l.arr = cli_oom(json_array());
  int err = carnet_replica_salvage(dir, to, &env, on_loss, &l, &rep, why, sizeof why);
  if (err) {
    rc = cli_fail(c, cli_exit_code(err), "%s", why[0] ? why : carnet_error_message(err));
    goto done;
  }
  if (c->json) {
    json_t *o = cli_oom(json_object());
    char id[17];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)rep.replica_id);
    cli_json_put(o, "from", cli_json_str(dir));
    cli_json_put(o, "to", cli_json_str(to));
    cli_json_put(o, "replica", cli_json_str(id));
    cli_json_put(o, "records", json_integer((json_int_t)rep.rows));
    cli_json_put(o, "copied", json_integer((json_int_t)rep.copied));
    cli_json_put(o, "lost", json_integer((json_int_t)rep.lost));
    cli_json_put(o, "certificates", json_integer((json_int_t)rep.certificates));
    cli_json_put(o, "damaged_pages", json_integer((json_int_t)rep.damaged_pages));
    cli_json_put(o, "identity_kept", json_boolean(rep.identity_kept));
    cli_json_put(o, "not_copied", l.arr);
    l.arr = NULL;
    rc = cli_json_print(c, o);
    goto done;
  }
  printf("salvaged %llu of %llu records and %llu erasure certificates into %s (new replica "
         "%016llx)\n",
         (unsigned long long)rep.copied, (unsigned long long)(rep.copied + rep.lost),
         (unsigned long long)rep.certificates, to, (unsigned long long)rep.replica_id);
  if (rep.lost || rep.damaged_pages)
    printf("%llu records could not be read (%llu damaged pages): sync the new replica with a "
           "peer of the team to get them back ('carnet --dir %s sync ADDRESS')\n",
           (unsigned long long)rep.lost, (unsigned long long)rep.damaged_pages, to);
  if (rep.identity_kept)
    printf("it keeps this replica's identity: the team trusts it; use it instead of this one\n");
  else
    printf("it has an identity of its own: trust it on a replica of the team ('carnet --dir %s "
           "id', then 'carnet peer trust KEY' there)\n",
           to);
done:
  json_decref(l.arr);
  cli_args_free(&a);
  return rc;
}
