/* cli/cmd_backup.c - `carnet backup FILE` (a consistent copy, while `carnet
 * serve` runs) and `carnet restore FILE --dir DIR` (a new replica made from
 * a backup). The rules a restored replica keeps are carnet/backup.h's.
 */
#include <getopt.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

static const cli_usage backup_usage = {
    .args = "FILE",
    .summary = "Write a backup of this replica to FILE: a consistent copy, made while other "
               "commands and 'carnet serve' keep working.",
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "The backup is encrypted as the replica is (mode 0600) and opens with the same\n"
            "passphrase or key file; a replica with no passphrase is opened by DIR/carnet.key,\n"
            "which is not in the backup: keep a copy of it apart. FILE is replaced whole, or\n"
            "not at all. Restore with 'carnet restore FILE --dir NEWDIR'.",
};

static const cli_usage restore_usage = {
    .args = "FILE",
    .summary = "Make a new replica in the directory given by --dir from backup FILE; it rejoins "
               "the team as a new member.",
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "The key that opened the backed-up replica opens the backup: CARNET_PASSPHRASE (or\n"
            "the terminal), or --key-file (for a replica with no passphrase, a copy of its\n"
            "carnet.key). The new replica has the backup's data, trust list and team, but a new\n"
            "id, tag (so new invoice numbers) and identity key: trust it on a replica of the\n"
            "team ('carnet peer trust KEY'), then sync. It sends nothing until a replica its\n"
            "team trusted has sent it the erasures made since the backup.",
};

/* "2026-12-06T21:30:00Z" of a Unix time in ms. */
static void iso_ms(uint64_t ms, char out[32]) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  out[0] = '\0';
  if (ms && gmtime_r(&secs, &tm)) strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void human_size(uint64_t n, char out[32]) {
  if (n < 10240)
    snprintf(out, 32, "%llu bytes", (unsigned long long)n);
  else if (n < 10485760)
    snprintf(out, 32, "%.1f KiB", n / 1024.0);
  else
    snprintf(out, 32, "%.1f MiB", n / 1048576.0);
}

static const char *opens_with(carnet_key_kind k) {
  switch (k) {
  case CARNET_KEY_PASSPHRASE:
    return "the replica's passphrase";
  case CARNET_KEY_FILE:
    return "the replica's key file";
  case CARNET_KEY_FILE_IN_DIR:
    return "the replica directory's carnet.key";
  }
  return "?";
}

int cli_cmd_backup(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_backup_info bi;
  cli_args a;
  char id[17], when[32], size[32];
  int rc = cli_parse(c, &backup_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r))) goto done;
  int err = carnet_replica_backup(r, a.pos[0], &bi);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  snprintf(id, sizeof id, "%016llx", (unsigned long long)bi.replica_id);
  iso_ms(bi.made_ms, when);
  if (c->json) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "file", cli_json_str(a.pos[0]));
    cli_json_put(o, "replica", cli_json_str(id));
    cli_json_put(o, "tag", cli_json_str(bi.tag));
    cli_json_put(o, "made", cli_json_str(when));
    cli_json_put(o, "bytes", json_integer((json_int_t)bi.data_bytes));
    cli_json_put(o, "key", cli_json_str(cli_key_kind_text(bi.key_kind)));
    rc = cli_json_print(c, o);
    goto done;
  }
  human_size(bi.data_bytes, size);
  printf("Backed up replica %s (tag %s) to %s: %s, %s\n", id, bi.tag, a.pos[0], size, when);
  printf("It opens with %s.\n", opens_with(bi.key_kind));
  if (bi.key_kind == CARNET_KEY_FILE_IN_DIR)
    printf("That file (%s/%s) is not in the backup: keep a copy of it apart from the backup, "
           "or set a passphrase with 'carnet passwd'.\n",
           carnet_replica_dir(r), CARNET_KEY_FILE_NAME);
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

int cli_cmd_restore(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_backup_info bi;
  carnet_restore_info ri;
  carnet_env env;
  cli_args a;
  bool test_clock;
  char dir[4096], why[512] = "", id[17], old[17], when[32], key[2 * CARNET_PK_BYTES + 1];
  uint8_t pk[CARNET_PK_BYTES];
  int rc = cli_parse(c, &restore_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_replica_dir(c, dir, sizeof dir)) || (rc = cli_test_clock(c, &env, &test_clock)))
    goto done;
  if (!test_clock) memset(&env, 0, sizeof env);
  cli_key_env(c, &env, true);
  int err = carnet_backup_inspect(a.pos[0], &bi, why, sizeof why);
  if (err == 0) err = carnet_replica_restore(a.pos[0], dir, &env, &r, why, sizeof why);
  if (err) {
    rc = cli_fail(c, cli_exit_code(err), "%s", why[0] ? why : carnet_error_message(err));
    goto done;
  }
  if ((err = carnet_replica_get_identity(r, pk, NULL)) ||
      (err = carnet_replica_get_restore(r, &ri))) {
    rc = cli_fail_rc(c, r, err, "restored, but reading it back failed");
    goto done;
  }
  cli_hex(pk, sizeof pk, key);
  snprintf(id, sizeof id, "%016llx", (unsigned long long)carnet_replica_id(r));
  snprintf(old, sizeof old, "%016llx", (unsigned long long)bi.replica_id);
  iso_ms(bi.made_ms, when);
  if (c->json) {
    json_t *o = cli_oom(json_object()), *from = cli_oom(json_object());
    cli_json_put(o, "dir", cli_json_str(carnet_replica_dir(r)));
    cli_json_put(o, "id", cli_json_str(id));
    cli_json_put(o, "tag", cli_json_str(carnet_replica_tag(r)));
    cli_json_put(o, "key", cli_json_str(key));
    cli_json_put(from, "id", cli_json_str(old));
    cli_json_put(from, "tag", cli_json_str(bi.tag));
    cli_json_put(from, "made", cli_json_str(when));
    cli_json_put(o, "from", from);
    cli_json_put(o, "waiting", json_boolean(ri.waiting));
    rc = cli_json_print(c, o);
    goto done;
  }
  printf("Restored %s (replica %s, tag %s, backed up %s) into %s as a new replica:\n", a.pos[0],
         old, bi.tag, when, carnet_replica_dir(r));
  cli_kv(stdout, 10, "  id", id);
  cli_kv(stdout, 10, "  tag", carnet_replica_tag(r));
  cli_kv(stdout, 10, "  key", key);
  printf("Its data is the backup's; what the team changed since comes back at the next sync.\n");
  printf("Next, on a replica of the team: carnet peer trust %s\n", key);
  if (ri.waiting)
    printf("Then sync here with it. This replica sends nothing until a replica its team trusted "
           "has sent it the erasures made since the backup.\n");
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
