/* cli/cmd_init.c - `carnet init`: create a replica. */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"

enum { O_NO_PASSPHRASE = CLI_O_USER, O_ROLE, O_REGION, O_NAME };

static const cli_opt init_opts[] = {
    {"no-passphrase", 0, no_argument, O_NO_PASSPHRASE, NULL,
     "do not ask for a passphrase: a key file in the replica directory opens it"},
    {"role", 0, required_argument, O_ROLE, "ROLE",
     "admin (default: may import and export the customer base) or member"},
    {"name", 0, required_argument, O_NAME, "NAME",
     "name this replica (\"Portable Alice\"): shown to the team instead of its hex id; "
     "'carnet config name' renames it"},
    {"region", 0, required_argument, O_REGION, "CODE",
     "the country of phone numbers written without a country code (default FR; "
     "'carnet config region' changes it)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage usage = {
    .summary = "Create a new, empty replica (a full copy of the customer book on this device).",
    .opts = init_opts,
    .json = true,
    .more = "The directory is --dir, else $CARNET_DIR, else ~/.local/share/carnet. The "
            "replica's files are encrypted; what opens them is --key-file PATH (or "
            "$CARNET_KEY_FILE; made, mode 0600, when missing), else $CARNET_PASSPHRASE, else a "
            "passphrase asked on the terminal; with none (--no-passphrase, an empty answer, "
            "or no terminal) a key file carnet.key in the replica directory, which protects "
            "the files only as far as that directory is protected ('carnet passwd' sets a "
            "passphrase later).",
};

int cli_cmd_init(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  cli_args a;
  char dir[4096], why[512] = "", id[17];
  carnet_role role = CARNET_ROLE_ADMIN;
  const char *region = "FR", *name = NULL;
  bool ask = true;
  int rc = cli_parse(c, &usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++) {
    if (a.opts[i].id == O_NO_PASSPHRASE) ask = false;
    if (a.opts[i].id == O_ROLE && (role = carnet_role_parse(a.opts[i].arg)) == 0) {
      rc = cli_fail(c, CLI_EUSER, "invalid --role '%s': admin or member", a.opts[i].arg);
      goto done;
    }
    if (a.opts[i].id == O_NAME) name = a.opts[i].arg;
    if (a.opts[i].id == O_REGION) {
      region = a.opts[i].arg;
      if (!carnet_phone_region_valid(region)) {
        rc = cli_fail(c, CLI_EUSER,
                      "invalid --region '%s': an ISO 3166 country code such as FR, BE or RE",
                      region);
        goto done;
      }
    }
  }
  if (name && (name[0] == '\0' || strlen(name) > CARNET_REPLICA_NAME_MAX)) {
    rc =
        cli_fail(c, CLI_EUSER, "invalid --name '%s': 1 to %d bytes", name, CARNET_REPLICA_NAME_MAX);
    goto done;
  }
  if ((rc = cli_replica_dir(c, dir, sizeof dir))) goto done;
  carnet_env env;
  memset(&env, 0, sizeof env);
  cli_key_env(c, &env, ask);
  if (!ask) env.passphrase = NULL;
  rc = carnet_replica_init(dir, &env, &r, why, sizeof why);
  if (rc == CARNET_EEXIST) {
    rc = cli_fail(c, CLI_EUSER, "a replica already exists in %s", dir);
    goto done;
  }
  if (rc) {
    rc = cli_fail(c, cli_exit_code(rc), "%s", why[0] ? why : carnet_error_message(rc));
    goto done;
  }
  if ((rc = carnet_replica_set_role(r, role))) {
    rc = cli_fail_rc(c, r, rc, "storing the role");
    goto done;
  }
  char stored_region[3];
  if ((rc = carnet_replica_set_region(r, region)) ||
      (rc = carnet_replica_get_region(r, stored_region))) {
    rc = cli_fail_rc(c, r, rc, "storing the region");
    goto done;
  }
  if (name && (rc = carnet_replica_set_name(r, name))) {
    rc = cli_fail_rc(c, r, rc, "naming the replica");
    goto done;
  }
  snprintf(id, sizeof id, "%016llx", (unsigned long long)carnet_replica_id(r));
  carnet_key_info ki;
  if ((rc = carnet_replica_get_key_info(r, &ki))) {
    rc = cli_fail_rc(c, r, rc, "reading the key record");
    goto done;
  }
  if (c->json) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "id", cli_json_str(id));
    cli_json_put(o, "tag", cli_json_str(carnet_replica_tag(r)));
    cli_json_put(o, "dir", cli_json_str(carnet_replica_dir(r)));
    cli_json_put(o, "role", cli_json_str(carnet_role_name(role)));
    cli_json_put(o, "region", cli_json_str(stored_region));
    cli_json_put(o, "name", name ? cli_json_str(name) : json_null());
    cli_json_put(o, "encryption", cli_json_str(cli_key_kind_text(ki.kind)));
    rc = cli_json_print(c, o);
  } else {
    printf("Created a replica in %s\n", carnet_replica_dir(r));
    cli_kv(stdout, 10, "  id", id);
    cli_kv(stdout, 10, "  tag", carnet_replica_tag(r));
    cli_kv(stdout, 10, "  role", carnet_role_name(role));
    cli_kv(stdout, 10, "  region", stored_region);
    if (name) cli_kv(stdout, 10, "  name", name);
    cli_kv(stdout, 10, "  key", cli_key_kind_text(ki.kind));
    if (ki.kind == CARNET_KEY_FILE_IN_DIR)
      printf("Its files are encrypted with the key in %s/%s: anyone who can read that "
             "directory can read them ('carnet passwd' sets a passphrase).\n",
             carnet_replica_dir(r), CARNET_KEY_FILE_NAME);
    printf("Next: carnet customer add --name NAME%s%s\n", c->dir ? " --dir " : "",
           c->dir ? c->dir : "");
  }
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
