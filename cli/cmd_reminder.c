/* cli/cmd_reminder.c - `carnet reminder add|done|delete|list` and
 * `carnet reminders [--today|--week|--date D]`: call-back reminders and
 * what is due.
 *
 * A reminder in mode "day" is due on its date; in mode "week", on every day
 * of the ISO week (Monday to Sunday) of its date; until it is done. "Today"
 * is the replica's clock (cli_open; the test binary sets it, cli/testclock.c).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/crm.h"

enum { O_CUSTOMER = CLI_O_USER, O_DATE, O_WEEK, O_DAY, O_COMMENT, O_UNDO, O_ALL, O_TODAY };

#define REQ required_argument

static const cli_opt add_opts[] = {
    {"customer", 0, REQ, O_CUSTOMER, "REF", "the customer to call back (required)"},
    {"date", 0, REQ, O_DATE, "DATE", "YYYY-MM-DD (default: today)"},
    {"week", 0, no_argument, O_WEEK, NULL, "due every day of that date's week (Monday-Sunday)"},
    {"comment", 0, REQ, O_COMMENT, "TEXT", "what it is about"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt edit_opts[] = {
    {"date", 0, REQ, O_DATE, "DATE", "YYYY-MM-DD"},
    {"week", 0, no_argument, O_WEEK, NULL, "due every day of that date's week"},
    {"day", 0, no_argument, O_DAY, NULL, "due on that date only"},
    {"comment", 0, REQ, O_COMMENT, "TEXT", "what it is about"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt done_opts[] = {
    {"undo", 0, no_argument, O_UNDO, NULL, "not done after all"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt list_opts[] = {
    {"customer", 0, REQ, O_CUSTOMER, "REF", "only this customer's"},
    {"all", 0, no_argument, O_ALL, NULL, "include those done"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt due_opts[] = {
    {"today", 0, no_argument, O_TODAY, NULL, "due today (the default)"},
    {"week", 0, no_argument, O_WEEK, NULL, "due on some day of this week (Monday-Sunday)"},
    {"date", 0, REQ, O_DATE, "DATE", "due on DATE"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage add_usage = {
    .summary = "Add a reminder and print its id.",
    .opts = add_opts,
    .json = true,
    .more = "Example: carnet reminder add --customer CU2611-5T31-0001 --date 2026-11-23 --week \\\n"
            "           --comment \"call back about the quote\"",
};
static const cli_usage edit_usage = {
    .args = "ID",
    .summary = "Change a reminder.",
    .opts = edit_opts,
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
};
static const cli_usage done_usage = {
    .args = "ID",
    .summary = "Mark a reminder done (--undo: not done).",
    .opts = done_opts,
    .min_pos = 1,
    .max_pos = 1,
};
static const cli_usage delete_usage = {
    .args = "ID",
    .summary = "Delete a reminder.",
    .min_pos = 1,
    .max_pos = 1,
};
static const cli_usage list_usage = {
    .summary = "List reminders not done yet, by date.",
    .opts = list_opts,
    .json = true,
};
static const cli_usage due_usage = {
    .summary = "List the reminders due today, this week, or on a date.",
    .opts = due_opts,
    .json = true,
    .more = "A reminder of mode week is due every day of its week, until it is done.",
};

static const char *opt(const cli_args *a, int id) {
  const char *v = NULL;
  for (int i = 0; i < a->nopts; i++)
    if (a->opts[i].id == id) v = a->opts[i].arg ? a->opts[i].arg : "";
  return v;
}

static int print_reminder(cli *c, carnet_replica *r, const carnet_id *id, const char *text) {
  carnet_record *rec = NULL;
  if (!c->json) {
    printf("%s\n", text);
    return CLI_OK;
  }
  int err = carnet_record_get(r, id, &rec);
  if (err) return cli_fail_rc(c, r, err, "reading it back");
  int rc = cli_json_print(c, crm_json_reminder(rec, NULL));
  carnet_record_free(rec);
  return rc;
}

static int write_reminder(cli *c, const cli_usage *u, int mode, int argc, char **argv) {
  enum { ADD, EDIT, DONE };
  carnet_replica *r = NULL;
  carnet_patch *p = NULL;
  carnet_id id;
  cli_args a;
  char hex[CARNET_ID_HEX_LEN + 1], msg[80];
  int rc = cli_parse(c, u, argc, argv, &a), n = 0, err = 0;
  if (rc) return rc;
  const char *date = opt(&a, O_DATE);
  if (date && !crm_date(c, "date", date)) {
    rc = CLI_EUSER;
    goto done;
  }
  if (mode == ADD && !opt(&a, O_CUSTOMER)) {
    rc = cli_fail(c, CLI_EUSER, "give --customer REF");
    goto done;
  }
  if ((rc = cli_open(c, &r))) goto done;
  if (mode != ADD && (rc = cli_resolve(c, r, CARNET_KIND_REMINDER, a.pos[0], &id))) goto done;
  p = cli_oom(carnet_patch_new(CARNET_KIND_REMINDER));
  for (int i = 0; i < a.nopts && err == 0; i++, n++) {
    const char *v = a.opts[i].arg;
    switch (a.opts[i].id) {
    case O_CUSTOMER:
      if ((rc = crm_customer_hex(c, r, v, hex))) goto done;
      err = carnet_patch_set(p, CARNET_F_CUSTOMER, hex);
      break;
    case O_DATE:
      err = carnet_patch_set(p, CARNET_F_DATE, v);
      break;
    case O_WEEK:
    case O_DAY:
      err = carnet_patch_set(p, CARNET_F_MODE, a.opts[i].id == O_WEEK ? "week" : "day");
      break;
    case O_COMMENT:
      err = carnet_patch_set(p, CARNET_F_COMMENT, v);
      break;
    default:
      n--;
    }
  }
  if (mode == DONE)
    err = err ? err : carnet_patch_set(p, CARNET_F_DONE, opt(&a, O_UNDO) ? "false" : "true");
  if (err) {
    rc = cli_fail(c, CLI_EINTERNAL, "out of memory");
    goto done;
  }
  if (mode == EDIT && n == 0) {
    rc = cli_fail(c, CLI_EUSER, "nothing to change (see '%s --help')", c->cmd);
    goto done;
  }
  err =
      mode == ADD ? carnet_record_create_commit(r, p, &id) : carnet_record_update_commit(r, &id, p);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  carnet_id_format(&id, hex);
  snprintf(msg, sizeof msg, "%s%s", mode == ADD ? "" : mode == EDIT ? "updated " : "done: ", hex);
  if (mode == DONE && opt(&a, O_UNDO)) snprintf(msg, sizeof msg, "not done: %s", hex);
  rc = print_reminder(c, r, &id, msg);
done:
  carnet_patch_free(p);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int run_add(cli *c, int argc, char **argv) {
  return write_reminder(c, &add_usage, 0, argc, argv);
}
static int run_edit(cli *c, int argc, char **argv) {
  return write_reminder(c, &edit_usage, 1, argc, argv);
}
static int run_done(cli *c, int argc, char **argv) {
  return write_reminder(c, &done_usage, 2, argc, argv);
}
static int run_delete(cli *c, int argc, char **argv) {
  return cli_write_delete(c, &delete_usage, CARNET_KIND_REMINDER, argc, argv);
}

/* --- Listing -------------------------------------------------------------------- */

typedef struct rows {
  json_t *labels, *arr;
  bool all;
} rows;

static int row_cb(const carnet_record *rec, void *data) {
  rows *st = data;
  const char *done = carnet_record_str(rec, CARNET_F_DONE);
  if (!st->all && done && strcmp(done, "true") == 0) return 0;
  cli_json_push(st->arr, crm_json_reminder(rec, st->labels));
  return 0;
}

static int by_date(const void *x, const void *y) {
  json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
  const char *da = json_string_value(json_object_get(a, "date"));
  const char *db = json_string_value(json_object_get(b, "date"));
  int cmp = strcmp(da ? da : "", db ? db : "");
  return cmp ? cmp
             : strcmp(json_string_value(json_object_get(a, "id")),
                      json_string_value(json_object_get(b, "id")));
}

/* Print st->arr sorted by date, as JSON or a table. */
static int print_rows(cli *c, carnet_replica *r, rows *st, const char *none) {
  size_t n;
  json_t **v = crm_sorted(st->arr, by_date, &n);
  int rc = CLI_OK;
  if (c->json) {
    rc = crm_print_json(c, v, n);
  } else if (n == 0) {
    printf("%s\n", none);
  } else {
    static const char *const headers[] = {"DATE", "MODE", "CUSTOMER", "COMMENT", "ID"};
    cli_table *t = cli_table_new(5, headers);
    for (size_t i = 0; i < n; i++) {
      json_t *o = v[i];
      bool done = json_is_true(json_object_get(o, "done"));
      char id[CARNET_ID_HEX_LEN + 1] = "";
      carnet_id rid;
      if (carnet_id_parse(json_string_value(json_object_get(o, "id")), &rid) == 0)
        crm_short_id(r, CARNET_KIND_REMINDER, &rid, id);
      const char *mode = json_string_value(json_object_get(o, "mode"));
      const char *row[] = {json_string_value(json_object_get(o, "date")),
                           done ? "done" : (mode ? mode : ""),
                           json_string_value(json_object_get(o, "customer_label")),
                           json_string_value(json_object_get(o, "comment")), id};
      cli_table_add(t, row);
    }
    cli_table_print(t, stdout, 0);
    cli_table_free(t);
  }
  free(v);
  return rc;
}

static int run_list(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  rows st = {0};
  carnet_filter filter = {0};
  carnet_id cid;
  cli_args a;
  int rc = cli_parse(c, &list_usage, argc, argv, &a);
  if (rc) return rc;
  st.all = opt(&a, O_ALL) != NULL;
  if ((rc = cli_open(c, &r))) goto done;
  if (opt(&a, O_CUSTOMER)) {
    if ((rc = cli_resolve(c, r, CARNET_KIND_CUSTOMER, opt(&a, O_CUSTOMER), &cid))) goto done;
    filter.customer = &cid;
  }
  if ((rc = crm_customer_labels(c, r, &st.labels))) goto done;
  st.arr = cli_oom(json_array());
  int err = carnet_record_list(r, CARNET_KIND_REMINDER, &filter, row_cb, &st);
  rc = err ? cli_fail_rc(c, r, err, NULL) : print_rows(c, r, &st, "No reminders.");
done:
  json_decref(st.arr);
  json_decref(st.labels);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static const cli_sub subs[] = {
    {"add", run_add, "add a reminder"},
    {"edit", run_edit, "change a reminder"},
    {"done", run_done, "mark a reminder done"},
    {"delete", run_delete, "delete a reminder"},
    {"list", run_list, "list reminders not done"},
    {NULL, NULL, NULL},
};

int cli_cmd_reminder(cli *c, int argc, char **argv) {
  return cli_dispatch(c, subs, "Call-back reminders.", argc, argv);
}

/* --- carnet reminders ------------------------------------------------------------------ */

static int due_cb(const carnet_record *rec, void *data) {
  rows *st = data;
  cli_json_push(st->arr, crm_json_reminder(rec, st->labels));
  return 0;
}

int cli_cmd_reminders(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  rows st = {0};
  cli_args a;
  char from[11], to[11], none[96];
  int rc = cli_parse(c, &due_usage, argc, argv, &a);
  if (rc) return rc;
  const char *date = opt(&a, O_DATE);
  bool week = opt(&a, O_WEEK) != NULL, today = opt(&a, O_TODAY) != NULL;
  if ((date != NULL) + week + today > 1) {
    rc = cli_fail(c, CLI_EUSER, "give one of --today, --week or --date DATE");
    goto done;
  }
  if (date && !crm_date(c, "date", date)) {
    rc = CLI_EUSER;
    goto done;
  }
  if ((rc = cli_open(c, &r))) goto done;
  if (date) {
    snprintf(from, sizeof from, "%s", date);
  } else {
    carnet_replica_get_today(r, from);
  }
  snprintf(to, sizeof to, "%s", from);
  if (week) { /* Monday to Sunday of this week */
    int wd = carnet_date_weekday(from);
    carnet_date_add(from, 1 - wd, from);
    carnet_date_add(from, 6, to);
    snprintf(none, sizeof none, "Nothing due this week (%s to %s).", from, to);
  } else {
    snprintf(none, sizeof none, "Nothing due on %s.", from);
  }
  if ((rc = crm_customer_labels(c, r, &st.labels))) goto done;
  st.arr = cli_oom(json_array());
  int err = carnet_reminder_list_due(r, from, to, due_cb, &st);
  rc = err ? cli_fail_rc(c, r, err, NULL) : print_rows(c, r, &st, none);
done:
  json_decref(st.arr);
  json_decref(st.labels);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
