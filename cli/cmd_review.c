/* cli/cmd_review.c - the decisions on candidate duplicates: `carnet dupes
 * review` (the list of pairs set aside and of merges that conflict with a
 * "not the same" decision), `carnet dupes dismiss A B` and `carnet dupes
 * set-aside A B` (carnet/merge.h). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const cli_usage review_usage = {
    .summary = "List the review list: pairs set aside, and merges that met a \"not the same\".",
    .json = true,
    .more = "Decide a pair with 'carnet merge KEEP OTHER' or 'carnet dupes dismiss A B'; a\n"
            "conflict with 'carnet unmerge' (they are not the same) or 'carnet dupes\n"
            "dismiss' again after unmerging.",
};

static const cli_usage dismiss_usage = {
    .args = "A B",
    .summary = "Record that customers A and B are not the same (no longer proposed).",
    .min_pos = 2,
    .max_pos = 2,
};

static const cli_usage aside_usage = {
    .args = "A B",
    .summary = "Set the pair A B aside on the review list, to decide later.",
    .min_pos = 2,
    .max_pos = 2,
};

static json_t *side(carnet_replica *r, const carnet_id *id, char *label) {
  carnet_record *rec = NULL;
  char hex[CARNET_ID_HEX_LEN + 1];
  json_t *o = cli_oom(json_object());
  carnet_id_format(id, hex);
  strcpy(label, hex);
  cli_json_put(o, "id", cli_json_str(hex));
  if (carnet_record_get(r, id, &rec) == 0) {
    const char *name = carnet_record_str(rec, CARNET_F_NAME);
    cli_json_put(o, "name", cli_json_str(name ? name : carnet_record_str(rec, CARNET_F_COMPANY)));
    carnet_record_free(rec);
  }
  return o;
}

static int run_review(cli *c, int argc, char **argv) {
  static const char *const headers[] = {"WHY", "A", "B", "SURVIVOR"};
  carnet_replica *r = NULL;
  carnet_review_item *it = NULL;
  size_t n = 0;
  cli_args a;
  int rc = cli_parse(c, &review_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r))) goto done;
  int err = carnet_dupes_review_list(r, &it, &n);
  if (err) {
    rc = cli_fail_rc(c, r, err, "reading the review list");
    goto done;
  }
  json_t *arr = c->json ? cli_oom(json_array()) : NULL;
  cli_table *t = c->json ? NULL : cli_oom(cli_table_new(4, headers));
  for (size_t i = 0; i < n; i++) {
    char la[CARNET_ID_HEX_LEN + 1], lb[CARNET_ID_HEX_LEN + 1], ls[CARNET_ID_HEX_LEN + 1] = "";
    const char *why = it[i].why == CARNET_REVIEW_CONFLICT ? "merged+not-same" : "set aside";
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "why",
                 cli_json_str(it[i].why == CARNET_REVIEW_CONFLICT ? "conflict" : "set_aside"));
    cli_json_put(o, "a", side(r, &it[i].a, la));
    cli_json_put(o, "b", side(r, &it[i].b, lb));
    if (it[i].why == CARNET_REVIEW_CONFLICT) {
      carnet_id_format(&it[i].survivor, ls);
      cli_json_put(o, "survivor", cli_json_str(ls));
    }
    if (arr) {
      cli_json_push(arr, o);
    } else {
      const char *row[] = {why, la, lb, ls};
      cli_table_add(t, row);
      json_decref(o);
    }
  }
  if (arr) {
    rc = cli_json_print(c, arr);
  } else {
    if (n == 0)
      printf("the review list is empty\n");
    else
      cli_table_print(t, stdout, 0);
    cli_table_free(t);
  }
done:
  carnet_free(it);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int run_pair(cli *c, const cli_usage *u, int argc, char **argv, bool dismiss) {
  carnet_replica *r = NULL;
  carnet_txn *t = NULL;
  carnet_id x, y;
  cli_args a;
  int rc = cli_parse(c, u, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = cli_resolve(c, r, CARNET_KIND_CUSTOMER, a.pos[0], &x)) ||
      (rc = cli_resolve(c, r, CARNET_KIND_CUSTOMER, a.pos[1], &y)))
    goto done;
  int err = carnet_txn_begin(r, &t);
  if (err == 0) err = dismiss ? carnet_dupes_dismiss(t, &x, &y) : carnet_dupes_set_aside(t, &x, &y);
  if (err == 0) {
    err = carnet_txn_commit(t);
  } else {
    carnet_txn_abort(t);
  }
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  printf("%s %s and %s\n", dismiss ? "not the same:" : "set aside:", a.pos[0], a.pos[1]);
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int run_dismiss(cli *c, int argc, char **argv) {
  return run_pair(c, &dismiss_usage, argc, argv, true);
}

static int run_aside(cli *c, int argc, char **argv) {
  return run_pair(c, &aside_usage, argc, argv, false);
}

int cli_dupes_sub(cli *c, int argc, char **argv, bool *handled) {
  static const cli_sub subs[] = {
      {"review", run_review, "the pairs set aside, and merges that met a \"not the same\""},
      {"dismiss", run_dismiss, "record that two customers are not the same"},
      {"set-aside", run_aside, "put a pair on the review list"},
      {NULL, NULL, NULL},
  };
  *handled = false;
  if (argc < 2) return CLI_OK;
  for (size_t i = 0; subs[i].name; i++)
    if (strcmp(argv[1], subs[i].name) == 0) {
      *handled = true;
      return cli_dispatch(c, subs, "Decisions on candidate duplicates.", argc, argv);
    }
  return CLI_OK;
}
