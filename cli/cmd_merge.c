/* cli/cmd_merge.c - `carnet merge KEEP OTHER` and `carnet unmerge ID [FROM]`
 * (carnet/merge.h): a person's decision that two customers are one, and
 * its undoing. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const cli_usage merge_usage = {
    .args = "KEEP OTHER",
    .summary = "Merge customer OTHER into KEEP: one customer from now on, on every replica.",
    .json = true,
    .min_pos = 2,
    .max_pos = 2,
    .more = "Nothing is rewritten: OTHER is recorded as the same as KEEP. Reads show KEEP\n"
            "with the fields of both (sets united, the latest value of each field), and\n"
            "OTHER's documents, actions, reminders and contacts under KEEP. Every replica\n"
            "picks the same survivor, even when two merged the pair the other way round.\n"
            "'carnet unmerge OTHER' undoes it.",
};

static const cli_usage unmerge_usage = {
    .args = "ID [FROM]",
    .summary = "Undo a merge: ID leaves its group (or, with FROM, only the merge of ID and FROM).",
    .json = true,
    .min_pos = 1,
    .max_pos = 2,
    .more = "Each customer gets its own data back, including edits made while merged to\n"
            "the one they were made to. 'carnet dupes dismiss A B' stops the pair from being\n"
            "proposed again.",
};

/* Print the group of `id` after a change: human line or JSON object. */
static int print_group(cli *c, carnet_replica *r, const carnet_id *id, const char *verb) {
  carnet_id surv, members[64];
  size_t n = 0;
  bool review = false;
  char hex[CARNET_ID_HEX_LEN + 1], label[CARNET_ID_HEX_LEN + 1];
  carnet_record *rec = NULL;
  int err = carnet_merge_group(r, id, &surv, members, 64, &n, &review);
  if (err == 0) err = carnet_record_get(r, &surv, &rec);
  if (err) return cli_fail_rc(c, r, err, "reading the result");
  carnet_id_format(&surv, hex);
  if (c->json) {
    json_t *o = cli_oom(json_object()), *arr = cli_oom(json_array());
    cli_json_put(o, "survivor", cli_json_str(hex));
    cli_json_put(o, "refcode", cli_json_str(carnet_record_str(rec, CARNET_F_REFCODE)));
    for (size_t i = 0; i < n && i < 64; i++) {
      carnet_id_format(&members[i], label);
      cli_json_push(arr, cli_json_str(label));
    }
    cli_json_put(o, "members", arr);
    cli_json_put(o, "review", json_boolean(review));
    carnet_record_free(rec);
    return cli_json_print(c, o);
  }
  printf("%s; survivor %s (%s), %zu customer%s in its group\n", verb, cli_label(rec, label), hex, n,
         n > 1 ? "s" : "");
  carnet_record_free(rec);
  return CLI_OK;
}

/* merge (from NULL: keep/other) or unmerge, in one transaction. */
static int decide(carnet_replica *r, bool merge, const carnet_id *x, const carnet_id *y) {
  carnet_txn *t = NULL;
  int err = carnet_txn_begin(r, &t);
  if (err == 0) err = merge ? carnet_merge_apply(t, x, y) : carnet_merge_undo(t, x, y);
  if (err == 0) return carnet_txn_commit(t);
  carnet_txn_abort(t);
  return err;
}

/* merge KEEP OTHER, or unmerge ID [FROM]: resolve, decide, show the group
 * of the first customer. */
static int run(cli *c, const cli_usage *u, bool merge, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_id x, y;
  cli_args a;
  int rc = cli_parse(c, u, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = cli_resolve(c, r, CARNET_KIND_CUSTOMER, a.pos[0], &x)) ||
      (a.npos > 1 && (rc = cli_resolve(c, r, CARNET_KIND_CUSTOMER, a.pos[1], &y))))
    goto done;
  int err = decide(r, merge, &x, a.npos > 1 ? &y : NULL);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  char msg[128];
  if (merge)
    snprintf(msg, sizeof msg, "merged %s into %s", a.pos[1], a.pos[0]);
  else
    snprintf(msg, sizeof msg, "unmerged %s", a.pos[0]);
  rc = print_group(c, r, &x, msg);
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

int cli_cmd_merge(cli *c, int argc, char **argv) {
  return run(c, &merge_usage, true, argc, argv);
}

int cli_cmd_unmerge(cli *c, int argc, char **argv) {
  return run(c, &unmerge_usage, false, argc, argv);
}
