/* cli/cmd_config.c - `carnet config`: this replica's settings. `region` is
 * the default phone region, a local setting (carnet_replica_set_region);
 * `name` is the replica's name, synced to the team (carnet_replica_set_name). */
#include <string.h>

#include "cli/cli.h"

static const cli_usage usage = {
    .args = "[region|name [VALUE]]",
    .summary = "Show or change this replica's settings: its default phone region and its name.",
    .json = true,
    .max_pos = 2,
    .more = "carnet config                  show every setting\n"
            "carnet config region BE        set the default phone region (ISO 3166 code)\n"
            "carnet config name \"Bureau\"    rename this replica\n"
            "The region is the country of phone numbers written without a country code\n"
            "('06 12 34 56 78'); FR unless set. It is this device's setting, not synced;\n"
            "numbers are stored in E.164 (+33...), so changing it rewrites nothing.\n"
            "The name is synced: the other replicas show it instead of the hex id (peer\n"
            "list, status, conflicts, erasures) once they have synced.",
};

static int show(cli *c, carnet_replica *r, const char *only) {
  char region[3], name[CLI_REPLICA_LABEL];
  int err = carnet_replica_get_region(r, region);
  if (err) return cli_fail_rc(c, r, err, "reading the region");
  err = carnet_replica_name_of(r, carnet_replica_id(r), name, sizeof name);
  if (err && err != CARNET_ENOTFOUND) return cli_fail_rc(c, r, err, "reading the name");
  if (c->json) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "region", cli_json_str(region));
    cli_json_put(o, "name", name[0] ? cli_json_str(name) : json_null());
    return cli_json_print(c, o);
  }
  if (only && strcmp(only, "region") == 0) {
    printf("%s\n", region);
  } else if (only) {
    if (name[0]) printf("%s\n", name);
  } else {
    cli_kv(stdout, 8, "region", region);
    cli_kv(stdout, 8, "name", name[0] ? name : "(none: the hex id is shown)");
  }
  return CLI_OK;
}

int cli_cmd_config(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  cli_args a;
  int rc = cli_parse(c, &usage, argc, argv, &a);
  if (rc) return rc;
  const char *key = a.npos > 0 ? a.pos[0] : NULL;
  if (key && strcmp(key, "region") != 0 && strcmp(key, "name") != 0) {
    rc = cli_fail(c, CLI_EUSER, "unknown setting '%s': region or name", key);
    goto done;
  }
  if ((rc = cli_open(c, &r))) goto done;
  if (a.npos == 2 && strcmp(key, "region") == 0) {
    int err = carnet_replica_set_region(r, a.pos[1]);
    if (err == CARNET_EINVAL) {
      rc = cli_fail(c, CLI_EUSER,
                    "unknown region '%s': give an ISO 3166 country code such as FR, BE, CH or RE",
                    a.pos[1]);
      goto done;
    }
    if (err) {
      rc = cli_fail_rc(c, r, err, "storing the region");
      goto done;
    }
  } else if (a.npos == 2) {
    int err = carnet_replica_set_name(r, a.pos[1]);
    if (err) {
      rc = cli_fail_rc(c, r, err, "naming the replica");
      goto done;
    }
  }
  rc = show(c, r, key);
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
