/* cli/cmd_check.c - `carnet check`: read the whole replica and say whether
 * its files are sound (carnet/verify.h). */
#include "cli/cli.h"
#include "cli/progress.h"

static const cli_usage check_usage = {
    .summary = "Read every record and index of the replica and report damage.",
    .json = true,
    .more = "Nothing is written. Exit 0 when the replica is sound, 1 when something is\n"
            "damaged (restore data.mdb from a backup, or re-create this replica and sync it\n"
            "from a peer), 2 when the files cannot be read at all.",
};

static void check_progress(void *ctx, uint64_t done, uint64_t total) {
  cli_progress_count(ctx, "rows read", done, total);
}

int cli_cmd_check(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_verify_report rep;
  cli_args a;
  int rc = cli_parse(c, &check_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r))) goto done;
  cli_progress pr;
  cli_progress_start(&pr, c);
  int err = carnet_replica_verify_progress(r, check_progress, &pr, &rep);
  cli_progress_end(&pr);
  if (err) {
    rc = cli_fail_rc(c, r, err, "the data file is damaged");
    goto done;
  }
  bool bad = rep.bad_rows || rep.bad_changes || rep.missing_keys;
  if (c->json) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "ok", json_boolean(!bad));
    cli_json_put(o, "entities", json_integer((json_int_t)rep.entities));
    cli_json_put(o, "changes", json_integer((json_int_t)rep.changes));
    cli_json_put(o, "index_keys", json_integer((json_int_t)rep.index_keys));
    cli_json_put(o, "bad_rows", json_integer((json_int_t)rep.bad_rows));
    cli_json_put(o, "bad_changes", json_integer((json_int_t)rep.bad_changes));
    cli_json_put(o, "missing_keys", json_integer((json_int_t)rep.missing_keys));
    if (bad) cli_json_put(o, "first_problem", cli_json_str(carnet_replica_errmsg(r)));
    if ((rc = cli_json_print(c, o))) goto done;
  } else {
    printf("%llu records, %llu change entries, %llu index keys read\n",
           (unsigned long long)rep.entities, (unsigned long long)rep.changes,
           (unsigned long long)rep.index_keys);
  }
  if (bad)
    rc = cli_fail(c, CLI_EUSER,
                  "damaged: %llu bad records, %llu bad change entries, %llu missing index keys; "
                  "first: %s",
                  (unsigned long long)rep.bad_rows, (unsigned long long)rep.bad_changes,
                  (unsigned long long)rep.missing_keys, carnet_replica_errmsg(r));
  else if (!c->json)
    printf("ok: the replica is sound\n");
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
