/* cli/cmd_check.c - `carnet check [--repair]`: read the whole replica and
 * say whether its files are sound; with --repair, rebuild what is derived
 * from the rows (carnet/verify.h). */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/progress.h"

enum { O_REPAIR = CLI_O_USER };

static const cli_opt check_opts[] = {
    {"repair", 0, no_argument, O_REPAIR, NULL,
     "rebuild the index and the change index from the rows (one transaction) when they are "
     "damaged, and delete rows of erased entities"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage check_usage = {
    .summary = "Read every record and index of the replica and report damage; --repair rebuilds "
               "what is derived from the records.",
    .opts = check_opts,
    .json = true,
    .more = "Checks the records, the change index and the index (blind keys, reference codes,\n"
            "merge edges) against the records, both ways. Without --repair nothing is written.\n"
            "Exit 0 when the replica is sound (after --repair: once repaired), 1 when something\n"
            "is damaged (--repair mends what is derived; records that cannot be read need\n"
            "'carnet salvage --to DIR', or this replica re-created and synced from a peer), 2\n"
            "when the files cannot be read at all.",
};

static void check_progress(void *ctx, uint64_t done, uint64_t total) {
  cli_progress_count(ctx, "rows read", done, total);
}

static void repair_progress(void *ctx, uint64_t done, uint64_t total) {
  cli_progress_count(ctx, "rows indexed again", done, total);
}

static uint64_t derived_damage(const carnet_check_report *r) {
  return r->erased_rows + r->bad_changes + r->missing_keys + r->extra_keys + r->bad_values;
}

static json_t *report_json(const carnet_check_report *r) {
  json_t *o = cli_oom(json_object());
  cli_json_put(o, "ok", json_boolean(r->bad_rows + derived_damage(r) == 0));
  cli_json_put(o, "entities", json_integer((json_int_t)r->entities));
  cli_json_put(o, "changes", json_integer((json_int_t)r->changes));
  cli_json_put(o, "index_keys", json_integer((json_int_t)r->index_keys));
  cli_json_put(o, "bad_rows", json_integer((json_int_t)r->bad_rows));
  cli_json_put(o, "erased_rows", json_integer((json_int_t)r->erased_rows));
  cli_json_put(o, "bad_changes", json_integer((json_int_t)r->bad_changes));
  /* "missing_keys" counted every index problem before extra keys were told
   * apart: kept for scripts, with the parts beside it. */
  cli_json_put(o, "missing_keys", json_integer((json_int_t)r->missing_keys));
  cli_json_put(o, "extra_keys", json_integer((json_int_t)r->extra_keys));
  cli_json_put(o, "bad_values", json_integer((json_int_t)r->bad_values));
  cli_json_put(o, "orphan_files", json_integer((json_int_t)r->orphan_files));
  return o;
}

static void say_damage(const carnet_check_report *r, const char *first) {
  printf("damaged: %llu bad records, %llu rows of erased entities, %llu bad change entries, "
         "%llu missing index keys, %llu extra index keys, %llu damaged index values\n",
         (unsigned long long)r->bad_rows, (unsigned long long)r->erased_rows,
         (unsigned long long)r->bad_changes, (unsigned long long)r->missing_keys,
         (unsigned long long)r->extra_keys, (unsigned long long)r->bad_values);
  if (first[0]) printf("first: %s\n", first);
}

int cli_cmd_check(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_check_report rep = CARNET_CHECK_REPORT_INIT, after = CARNET_CHECK_REPORT_INIT;
  char first[512] = "";
  bool repair = false;
  json_t *o = NULL;
  cli_args a;
  int rc = cli_parse(c, &check_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++)
    if (a.opts[i].id == O_REPAIR) repair = true;
  if ((rc = cli_open(c, &r))) goto done;
  cli_progress pr;
  cli_progress_start(&pr, c);
  int err = carnet_replica_check(r, check_progress, &pr, &rep);
  cli_progress_end(&pr);
  if (err) {
    rc = cli_fail_rc(c, r, err,
                     "the data file is damaged (carnet salvage --to DIR copies what "
                     "can be read into a new replica)");
    goto done;
  }
  snprintf(first, sizeof first, "%s", carnet_replica_errmsg(r));
  bool bad = rep.bad_rows + derived_damage(&rep) > 0;
  if (c->json) {
    o = report_json(&rep);
    if (bad) cli_json_put(o, "first_problem", cli_json_str(first));
  } else {
    printf("%llu records, %llu change entries, %llu index keys read\n",
           (unsigned long long)rep.entities, (unsigned long long)rep.changes,
           (unsigned long long)rep.index_keys);
    if (rep.orphan_files)
      printf("removed %llu attachment content files that no attachment owns (left by an "
             "interrupted attach or delete)\n",
             (unsigned long long)rep.orphan_files);
    if (bad) say_damage(&rep, first);
  }
  if (repair && derived_damage(&rep)) {
    carnet_check_report done_rep = CARNET_CHECK_REPORT_INIT;
    cli_progress_start(&pr, c);
    err = carnet_replica_repair(r, repair_progress, &pr, &done_rep);
    cli_progress_end(&pr);
    if (err) {
      rc = cli_fail_rc(c, r, err, "repairing");
      goto done;
    }
    /* What it is now. */
    cli_progress_start(&pr, c);
    err = carnet_replica_check(r, check_progress, &pr, &after);
    cli_progress_end(&pr);
    if (err) {
      rc = cli_fail_rc(c, r, err, "checking after the repair");
      goto done;
    }
    bad = after.bad_rows + derived_damage(&after) > 0;
    if (c->json) {
      cli_json_put(o, "repaired", json_true());
      cli_json_put(o, "after", report_json(&after));
    } else {
      printf("repaired: the change index and the index were rebuilt from %llu records "
             "(%llu change entries, %llu index keys)%s\n",
             (unsigned long long)after.entities, (unsigned long long)after.changes,
             (unsigned long long)after.index_keys,
             rep.erased_rows ? "; rows of erased entities deleted" : "");
    }
    snprintf(first, sizeof first, "%s", bad ? carnet_replica_errmsg(r) : "");
  } else if (c->json && repair) {
    cli_json_put(o, "repaired", json_false());
  }
  if (c->json && (rc = cli_json_print(c, o)) != CLI_OK) {
    o = NULL;
    goto done;
  }
  o = NULL;
  const carnet_check_report *now = repair && derived_damage(&rep) ? &after : &rep;
  if (bad) {
    if (now->bad_rows)
      rc = cli_fail(c, CLI_EUSER,
                    "damaged: %llu records cannot be read (first: %s); 'carnet salvage --to DIR' "
                    "copies every record that can into a new replica, or re-create this replica "
                    "and sync it from a peer",
                    (unsigned long long)now->bad_rows, first);
    else
      rc = cli_fail(c, CLI_EUSER,
                    "damaged (first: %s); 'carnet check --repair' rebuilds what is derived from "
                    "the records",
                    first);
  } else if (!c->json) {
    printf("ok: the replica is sound\n");
  }
done:
  json_decref(o);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
