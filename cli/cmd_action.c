/* cli/cmd_action.c - `carnet action add|edit|delete|show|list`: commercial
 * actions (a call, a visit, an e-mail, a trade fair...) concerning one or
 * several customers. `carnet actions ...` is the same command.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/crm.h"

enum {
  O_CHANNEL = CLI_O_USER,
  O_CUSTOMER,
  O_REMOVE_CUSTOMER,
  O_AT,
  O_CAMPAIGN,
  O_SORT1,
  O_SORT2,
  O_DIRECTION,
  O_RATING,
  O_DETAILS,
  O_REP,
  O_FROM,
  O_TO,
  O_DELETED,
};

#define REQ required_argument

#define FIELD_OPTS                                                                                 \
  {                                                                                                \
      "channel", 0,         REQ,                                                                   \
      O_CHANNEL, "CHANNEL", "email, phone, mail, visit, trade_fair, sms or other"},                \
      {"customer", 0, REQ, O_CUSTOMER, "REF", "a customer concerned (repeatable)"},                \
      {"at", 0, REQ, O_AT, "WHEN", "YYYY-MM-DD or YYYY-MM-DDTHH:MM (default: now)"},               \
      {"campaign", 0, REQ, O_CAMPAIGN, "NAME", "the campaign it belongs to"},                      \
      {"sort1", 0, REQ, O_SORT1, "TEXT", "free sort field 1"},                                     \
      {"sort2", 0, REQ, O_SORT2, "TEXT", "free sort field 2"},                                     \
      {"direction", 0,     REQ,                                                                    \
       O_DIRECTION, "DIR", "inbound (they contacted us) or outbound (we contacted them)"},         \
      {"rating", 0, REQ, O_RATING, "RATING", "1 to 5, or red, orange, yellow, green"},             \
      {"details", 0, REQ, O_DETAILS, "TEXT", "what was said or done"}, {                           \
    "sales-rep", 0, REQ, O_REP, "REP", "who did it"                                                \
  }

static const cli_opt add_opts[] = {
    FIELD_OPTS,
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt edit_opts[] = {
    FIELD_OPTS,
    {"remove-customer", 0, REQ, O_REMOVE_CUSTOMER, "REF", "a customer no longer concerned"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_opt list_opts[] = {
    {"from", 0, REQ, O_FROM, "DATE", "on or after DATE"},
    {"to", 0, REQ, O_TO, "DATE", "on or before DATE"},
    {"campaign", 0, REQ, O_CAMPAIGN, "NAME", "only this campaign"},
    {"channel", 0, REQ, O_CHANNEL, "CHANNEL", "only this channel"},
    {"customer", 0, REQ, O_CUSTOMER, "REF", "only those concerning this customer"},
    {"deleted", 0, no_argument, O_DELETED, NULL, "include deleted actions"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage add_usage = {
    .summary = "Record a commercial action and print its id.",
    .opts = add_opts,
    .json = true,
    .more = "Example: carnet action add --channel visit --customer CU2611-5T31-0001 --rating 4 \\\n"
            "           --details \"showroom visit, wants a quote\"",
};
static const cli_usage edit_usage = {
    .args = "ID",
    .summary = "Change an action. ID is its id or an id prefix.",
    .opts = edit_opts,
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "An empty value clears a field: --rating ''.",
};
static const cli_usage delete_usage = {
    .args = "ID",
    .summary = "Delete an action.",
    .min_pos = 1,
    .max_pos = 1,
};
static const cli_usage show_usage = {
    .args = "ID",
    .summary = "Show an action.",
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
};
static const cli_usage list_usage = {
    .summary = "List actions, by date and time.",
    .opts = list_opts,
    .json = true,
};

static const char *opt(const cli_args *a, int id) {
  const char *v = NULL;
  for (int i = 0; i < a->nopts; i++)
    if (a->opts[i].id == id) v = a->opts[i].arg ? a->opts[i].arg : "";
  return v;
}

static int build_patch(cli *c, carnet_replica *r, const cli_args *a, carnet_patch *p, int *n) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id id;
  int rc = 0;
  *n = 0;
  for (int i = 0; i < a->nopts && rc == 0; i++) {
    const char *v = a->opts[i].arg;
    carnet_field f;
    switch (a->opts[i].id) {
    case O_CHANNEL:
      f = CARNET_F_CHANNEL;
      if (carnet_action_channel_parse(v) == 0)
        return cli_fail(c, CLI_EUSER,
                        "unknown channel '%s': email, phone, mail, visit, "
                        "trade_fair, sms or other",
                        v);
      break;
    case O_CUSTOMER:
      if ((rc = crm_customer_hex(c, r, v, hex))) return rc;
      rc = carnet_patch_set(p, CARNET_F_CUSTOMERS, hex);
      (*n)++;
      continue;
    case O_REMOVE_CUSTOMER:
      if ((rc = cli_resolve(c, r, CARNET_KIND_CUSTOMER, v, &id))) return rc;
      carnet_id_format(&id, hex);
      rc = carnet_patch_remove(p, CARNET_F_CUSTOMERS, hex);
      (*n)++;
      continue;
    case O_AT:
      f = CARNET_F_AT;
      break;
    case O_CAMPAIGN:
      f = CARNET_F_CAMPAIGN;
      break;
    case O_SORT1:
      f = CARNET_F_SORT1;
      break;
    case O_SORT2:
      f = CARNET_F_SORT2;
      break;
    case O_DIRECTION:
      f = CARNET_F_DIRECTION;
      if (strcmp(v, "in") == 0) v = "inbound";
      if (strcmp(v, "out") == 0) v = "outbound";
      break;
    case O_RATING:
      f = CARNET_F_RATING;
      break;
    case O_DETAILS:
      f = CARNET_F_DETAILS;
      break;
    case O_REP:
      f = CARNET_F_SALES_REP;
      break;
    default:
      continue;
    }
    rc = carnet_patch_set(p, f, v);
    (*n)++;
  }
  return rc ? cli_fail(c, CLI_EINTERNAL, "out of memory") : CLI_OK;
}

static int print_action(cli *c, carnet_replica *r, const carnet_id *id, const char *text) {
  carnet_record *rec = NULL;
  if (!c->json) {
    printf("%s\n", text);
    return CLI_OK;
  }
  int err = carnet_record_get(r, id, &rec);
  if (err) return cli_fail_rc(c, r, err, "reading it back");
  int rc = cli_json_print(c, crm_json_action(rec, NULL));
  carnet_record_free(rec);
  return rc;
}

static int write_action(cli *c, const cli_usage *u, bool create, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_patch *p = NULL;
  carnet_id id;
  cli_args a;
  char hex[CARNET_ID_HEX_LEN + 1], msg[64];
  int n, rc = cli_parse(c, u, argc, argv, &a);
  if (rc) return rc;
  if (create && !opt(&a, O_CHANNEL)) {
    rc = cli_fail(c, CLI_EUSER,
                  "give --channel (email, phone, mail, visit, trade_fair, sms or "
                  "other)");
    goto done;
  }
  if ((rc = cli_open(c, &r))) goto done;
  if (!create && (rc = cli_resolve(c, r, CARNET_KIND_ACTION, a.pos[0], &id))) goto done;
  p = cli_oom(carnet_patch_new(CARNET_KIND_ACTION));
  if ((rc = build_patch(c, r, &a, p, &n))) goto done;
  if (!create && n == 0) {
    rc = cli_fail(c, CLI_EUSER, "nothing to change (see '%s --help')", c->cmd);
    goto done;
  }
  int err =
      create ? carnet_record_create_commit(r, p, &id) : carnet_record_update_commit(r, &id, p);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  carnet_id_format(&id, hex);
  snprintf(msg, sizeof msg, "%s%s", create ? "" : "updated ", hex);
  rc = print_action(c, r, &id, msg);
done:
  carnet_patch_free(p);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int run_add(cli *c, int argc, char **argv) {
  return write_action(c, &add_usage, true, argc, argv);
}

static int run_edit(cli *c, int argc, char **argv) {
  return write_action(c, &edit_usage, false, argc, argv);
}

static int run_delete(cli *c, int argc, char **argv) {
  return cli_write_delete(c, &delete_usage, CARNET_KIND_ACTION, argc, argv);
}

static void show_action(FILE *f, const carnet_record *rec, json_t *labels) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(carnet_record_id(rec), hex);
  cli_kv(f, CLI_LABEL_W, "action", hex);
  if (carnet_record_deleted(rec)) cli_kv(f, CLI_LABEL_W, "deleted", "yes");
  static const struct {
    const char *label;
    carnet_field f;
  } rows[] = {
      {"at", CARNET_F_AT},
      {"channel", CARNET_F_CHANNEL},
      {"direction", CARNET_F_DIRECTION},
      {"rating", CARNET_F_RATING},
      {"campaign", CARNET_F_CAMPAIGN},
      {"sort 1", CARNET_F_SORT1},
      {"sort 2", CARNET_F_SORT2},
      {"sales rep", CARNET_F_SALES_REP},
      {"details", CARNET_F_DETAILS},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const char *v = carnet_record_str(rec, rows[i].f);
    if (v && v[0]) cli_kv(f, CLI_LABEL_W, rows[i].label, v);
  }
  const char *const *cus;
  size_t n = carnet_record_elems(rec, CARNET_F_CUSTOMERS, &cus);
  const char **names = cli_oom(calloc(n + 1, sizeof *names));
  for (size_t i = 0; i < n; i++)
    names[i] = crm_label_of(labels, cus[i]);
  char *all = cli_join(names, n, ", ", false);
  if (n) cli_kv(f, CLI_LABEL_W, "customers", all);
  free(all);
  free(names);
}

static int run_show(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *rec = NULL;
  json_t *labels = NULL;
  cli_args a;
  int rc = cli_parse(c, &show_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = crm_customer_labels(c, r, &labels)) ||
      (rc = cli_load(c, r, CARNET_KIND_ACTION, a.pos[0], &rec)))
    goto done;
  if (c->json)
    rc = cli_json_print(c, crm_json_action(rec, labels));
  else
    show_action(stdout, rec, labels);
done:
  carnet_record_free(rec);
  json_decref(labels);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- list --------------------------------------------------------------------------- */

typedef struct list_state {
  json_t *labels, *rows;
  const char *from, *to, *campaign, *channel;
} list_state;

static int list_cb(const carnet_record *rec, void *data) {
  list_state *st = data;
  const char *at = carnet_record_str(rec, CARNET_F_AT);
  const char *campaign = carnet_record_str(rec, CARNET_F_CAMPAIGN);
  const char *channel = carnet_record_str(rec, CARNET_F_CHANNEL);
  if (st->from && (at == NULL || strncmp(at, st->from, 10) < 0)) return 0;
  if (st->to && (at == NULL || strncmp(at, st->to, 10) > 0)) return 0;
  if (st->campaign && (campaign == NULL || strcmp(campaign, st->campaign) != 0)) return 0;
  if (st->channel && (channel == NULL || strcmp(channel, st->channel) != 0)) return 0;
  cli_json_push(st->rows, crm_json_action(rec, st->labels));
  return 0;
}

static int by_at(const void *x, const void *y) {
  json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
  const char *da = json_string_value(json_object_get(a, "at"));
  const char *db = json_string_value(json_object_get(b, "at"));
  int cmp = strcmp(da ? da : "", db ? db : "");
  return cmp ? cmp
             : strcmp(json_string_value(json_object_get(a, "id")),
                      json_string_value(json_object_get(b, "id")));
}

static int run_list(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  list_state st = {0};
  carnet_filter filter = {0};
  carnet_id cid;
  cli_args a;
  int rc = cli_parse(c, &list_usage, argc, argv, &a);
  if (rc) return rc;
  const char *cust = opt(&a, O_CUSTOMER);
  st.from = opt(&a, O_FROM);
  st.to = opt(&a, O_TO);
  st.campaign = opt(&a, O_CAMPAIGN);
  st.channel = opt(&a, O_CHANNEL);
  filter.include_deleted = opt(&a, O_DELETED) != NULL;
  if ((st.from && !crm_date(c, "from", st.from)) || (st.to && !crm_date(c, "to", st.to))) {
    rc = CLI_EUSER;
    goto done;
  }
  if (st.channel && carnet_action_channel_parse(st.channel) == 0) {
    rc = cli_fail(c, CLI_EUSER,
                  "unknown channel '%s': email, phone, mail, visit, trade_fair, sms "
                  "or other",
                  st.channel);
    goto done;
  }
  if ((rc = cli_open(c, &r))) goto done;
  if (cust) {
    if ((rc = cli_resolve(c, r, CARNET_KIND_CUSTOMER, cust, &cid))) goto done;
    filter.customer = &cid;
  }
  if ((rc = crm_customer_labels(c, r, &st.labels))) goto done;
  st.rows = cli_oom(json_array());
  int err = carnet_record_list(r, CARNET_KIND_ACTION, &filter, list_cb, &st);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  size_t n;
  json_t **v = crm_sorted(st.rows, by_at, &n);
  if (c->json) {
    rc = crm_print_json(c, v, n);
  } else if (n == 0) {
    printf("No actions%s.\n", cust || st.from || st.to || st.campaign || st.channel
                                  ? " match"
                                  : " yet: record one with 'carnet action add --channel ...'");
  } else {
    static const char *const headers[] = {"AT",       "CHANNEL",   "DIR",    "RATING",
                                          "CAMPAIGN", "CUSTOMERS", "DETAILS"};
    cli_table *t = cli_table_new(7, headers);
    for (size_t i = 0; i < n; i++) {
      json_t *o = v[i], *names = json_object_get(o, "customer_labels");
      const char **nv = cli_oom(calloc(json_array_size(names) + 1, sizeof *nv));
      for (size_t k = 0; k < json_array_size(names); k++)
        nv[k] = json_string_value(json_array_get(names, k));
      char *cus = cli_join(nv, json_array_size(names), ", ", false);
      const char *dir = json_string_value(json_object_get(o, "direction"));
      const char *row[] = {json_string_value(json_object_get(o, "at")),
                           json_string_value(json_object_get(o, "channel")),
                           dir ? (strcmp(dir, "inbound") == 0 ? "in" : "out") : "",
                           json_string_value(json_object_get(o, "rating")),
                           json_string_value(json_object_get(o, "campaign")),
                           cus,
                           json_string_value(json_object_get(o, "details"))};
      cli_table_add(t, row);
      free(cus);
      free(nv);
    }
    cli_table_print(t, stdout, 0);
    cli_table_free(t);
  }
  free(v);
done:
  json_decref(st.rows);
  json_decref(st.labels);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static const cli_sub subs[] = {
    {"add", run_add, "record an action"},
    {"edit", run_edit, "change an action"},
    {"delete", run_delete, "delete an action"},
    {"show", run_show, "show an action"},
    {"list", run_list, "list actions (by date, campaign, channel, customer)"},
    {NULL, NULL, NULL},
};

int cli_cmd_action(cli *c, int argc, char **argv) {
  return cli_dispatch(c, subs, "Commercial actions: calls, visits, e-mails, trade fairs...", argc,
                      argv);
}
