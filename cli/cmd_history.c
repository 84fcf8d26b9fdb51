/* cli/cmd_history.c - `carnet history CUSTOMER` (the customer's ledger)
 * and `carnet stats --from D --to D [--won-rating N]`.
 *
 * The balance is what the customer owes: a validated invoice adds its TTC,
 * a validated credit note subtracts it, a payment (the invoice's status
 * paid, at its paid date) subtracts it (carnet_history_list, carnet/document.h).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/crm.h"

enum { O_FROM = CLI_O_USER, O_TO, O_WON };

static const cli_usage history_usage = {
    .args = "CUSTOMER",
    .summary = "The customer's history: quotes, orders, invoices, credit notes, payments and "
               "actions, in date order, with the running balance.",
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "The balance is what the customer owes: validated invoices add their total incl.\n"
            "VAT, credit notes and payments (an invoice's status paid) subtract it.",
};

static const cli_opt stats_opts[] = {
    {"from", 0, required_argument, O_FROM, "DATE",
     "first day, YYYY-MM-DD (default: the first day of the current month)"},
    {"to", 0, required_argument, O_TO, "DATE",
     "last day, YYYY-MM-DD (default: the last day of the current month)"},
    {"won-rating", 0, required_argument, O_WON, "N",
     "an action rated N or more (1-5; green = 4) counts as won (default 4)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage stats_usage = {
    .summary = "Statistics over a period (default: the current month): actions per channel and "
               "rating, share won, and per sales rep the quotes, sales and margins.",
    .opts = stats_opts,
    .json = true,
};

/* --- history ----------------------------------------------------------------- */

typedef struct hist_state {
  carnet_replica *r;
  json_t *arr;
  cli_table *table;
} hist_state;

static const char *kind_word(const carnet_history_entry *e) {
  if (e->kind == CARNET_HIST_ACTION) return "action";
  if (e->kind == CARNET_HIST_PAYMENT)
    return carnet_record_doc_type(e->rec) == CARNET_DOC_CREDIT_NOTE ? "refund" : "payment";
  const char *t = carnet_record_str(e->rec, CARNET_F_DOC_TYPE);
  return t ? t : "document";
}

static int hist_cb(const carnet_history_entry *e, void *data) {
  hist_state *st = data;
  char amount[32], balance[32], label[48], hex[CARNET_ID_HEX_LEN + 1], what[256];
  carnet_id_format(carnet_record_id(e->rec), hex);
  if (e->kind == CARNET_HIST_ACTION) {
    const char *ch = carnet_record_str(e->rec, CARNET_F_CHANNEL);
    const char *d = carnet_record_str(e->rec, CARNET_F_DETAILS);
    const char *rating = carnet_record_str(e->rec, CARNET_F_RATING);
    snprintf(what, sizeof what, "%s%s%s%s%s", ch ? ch : "", rating ? " [" : "",
             rating ? rating : "", rating ? "]" : "", d ? "" : "");
    if (d) snprintf(what + strlen(what), sizeof what - strlen(what), ": %s", d);
  } else {
    carnet_totals t;
    char ttc[32];
    bool ok = carnet_doc_totals(e->rec, &t) == 0;
    snprintf(what, sizeof what, "%s %s, TTC %s", crm_doc_label(st->r, e->rec, label),
             carnet_record_str(e->rec, CARNET_F_STATUS), ok ? crm_fmt_money(t.ttc, ttc) : "?");
  }
  if (st->arr) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "date", cli_json_str(e->date));
    cli_json_put(o, "kind", cli_json_str(kind_word(e)));
    cli_json_put(o, "id", cli_json_str(hex));
    cli_json_put(o, "number", cli_json_str(carnet_record_str(e->rec, CARNET_F_NUMBER)));
    cli_json_put(o, "status", cli_json_str(carnet_record_str(e->rec, CARNET_F_STATUS)));
    cli_json_put(o, "description", cli_json_str(what));
    cli_json_put(o, "amount", cli_json_str(crm_fmt_money(e->amount, amount)));
    cli_json_put(o, "balance", cli_json_str(crm_fmt_money(e->balance, balance)));
    cli_json_push(st->arr, o);
  } else {
    char date[32];
    snprintf(date, sizeof date, "%s", e->date);
    if (strlen(date) > 16) date[16] = '\0', date[10] = ' '; /* minutes are enough */
    const char *row[] = {date, kind_word(e), what,
                         e->amount ? crm_fmt_money(e->amount, amount) : "",
                         crm_fmt_money(e->balance, balance)};
    cli_table_add(st->table, row);
  }
  return 0;
}

int cli_cmd_history(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *cu = NULL;
  hist_state st = {0};
  cli_args a;
  char ref[CARNET_ID_HEX_LEN + 1];
  int rc = cli_parse(c, &history_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = cli_load(c, r, CARNET_KIND_CUSTOMER, a.pos[0], &cu)))
    goto done;
  static const char *const headers[] = {"DATE", "WHAT", "DETAILS", "AMOUNT", "BALANCE"};
  if (c->json)
    st.arr = cli_oom(json_array());
  else
    st.table = cli_table_new(5, headers);
  st.r = r;
  int err = carnet_history_list(r, carnet_record_id(cu), hist_cb, &st);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  const char *name = carnet_record_str(cu, CARNET_F_NAME);
  if (name == NULL) name = carnet_record_str(cu, CARNET_F_COMPANY);
  if (c->json) {
    json_t *o = cli_oom(json_object());
    char hex[CARNET_ID_HEX_LEN + 1], bal[32];
    size_t n = json_array_size(st.arr);
    const char *last =
        n ? json_string_value(json_object_get(json_array_get(st.arr, n - 1), "balance"))
          : crm_fmt_money(0, bal);
    carnet_id_format(carnet_record_id(cu), hex);
    cli_json_put(o, "customer", cli_json_str(hex));
    cli_json_put(o, "ref", cli_json_str(carnet_record_str(cu, CARNET_F_REFCODE)));
    cli_json_put(o, "name", cli_json_str(name));
    cli_json_put(o, "balance", cli_json_str(last));
    cli_json_put(o, "entries", st.arr);
    st.arr = NULL;
    rc = cli_json_print(c, o);
  } else {
    printf("%s %s\n", cli_label(cu, ref), name ? name : "");
    if (cli_table_rows(st.table) == 0)
      printf("Nothing yet: no document or action for this customer.\n");
    else
      cli_table_print(st.table, stdout, 0);
  }
done:
  json_decref(st.arr);
  cli_table_free(st.table);
  carnet_record_free(cu);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- stats ------------------------------------------------------------------------ */

static json_t *share(uint32_t part, uint32_t whole) {
  return whole ? cli_oom(json_real((double)part / (double)whole)) : json_null();
}

/* The first and last days of today's month (the replica's clock, local
 * time), YYYY-MM-DD. */
static void month_of_today(carnet_replica *r, char first[11], char last[11]) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  char today[11];
  carnet_replica_get_today(r, today);
  int y = atoi(today), m = atoi(today + 5);
  int d = m >= 1 && m <= 12 ? days[m - 1] : 31;
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) d = 29;
  snprintf(first, 11, "%.7s-01", today);
  char buf[24];
  snprintf(buf, sizeof buf, "%.7s-%02d", today, d);
  memcpy(last, buf, 10);
  last[10] = '\0';
}

int cli_cmd_stats(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_stats s;
  bool have = false;
  cli_args a;
  const char *from = NULL, *to = NULL, *won = "4";
  char buf[32], b2[32], b3[32];
  int rc = cli_parse(c, &stats_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++) {
    if (a.opts[i].id == O_FROM) from = a.opts[i].arg;
    if (a.opts[i].id == O_TO) to = a.opts[i].arg;
    if (a.opts[i].id == O_WON) won = a.opts[i].arg;
  }
  uint64_t n;
  if ((from && !crm_date(c, "from", from)) || (to && !crm_date(c, "to", to))) {
    rc = CLI_EUSER;
    goto done;
  }
  if (!cli_parse_u64(won, &n) || n < 1 || n > 5) {
    rc = cli_fail(c, CLI_EUSER, "invalid --won-rating '%s': a level from 1 to 5", won);
    goto done;
  }
  if ((rc = cli_open(c, &r))) goto done;
  /* The current month by the replica's clock, for what is not given. */
  char first[11], last[11];
  month_of_today(r, first, last);
  if (from == NULL) from = first;
  if (to == NULL) to = last;
  if (strcmp(from, to) > 0) {
    rc = cli_fail(c, CLI_EUSER, "--from %s is after --to %s", from, to);
    goto done;
  }
  int err = carnet_stats_compute(r, from, to, (int)n, &s);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  have = true;
  if (c->json) {
    json_t *o = cli_oom(json_object()), *ch = cli_oom(json_object()), *rt = cli_oom(json_object());
    json_t *reps = cli_oom(json_array());
    cli_json_put(o, "from", cli_json_str(from));
    cli_json_put(o, "to", cli_json_str(to));
    cli_json_put(o, "actions", cli_oom(json_integer(s.actions)));
    for (int k = 1; k < CARNET_ACH_MAX_; k++)
      cli_json_put(ch, carnet_action_channel_name((carnet_action_channel)k),
                   cli_oom(json_integer(s.per_channel[k])));
    cli_json_put(o, "per_channel", ch);
    cli_json_put(rt, "unrated", cli_oom(json_integer(s.per_rating[0])));
    for (int k = 1; k <= 5; k++) {
      char key[4];
      snprintf(key, sizeof key, "%d", k);
      cli_json_put(rt, key, cli_oom(json_integer(s.per_rating[k])));
    }
    cli_json_put(o, "per_rating", rt);
    cli_json_put(o, "won_rating", cli_oom(json_integer((json_int_t)n)));
    cli_json_put(o, "won", cli_oom(json_integer(s.won)));
    cli_json_put(o, "rated", cli_oom(json_integer(s.rated)));
    cli_json_put(o, "won_share", share(s.won, s.rated));
    for (size_t k = 0; k < s.nreps; k++) {
      const carnet_rep_stats *rs = &s.reps[k];
      json_t *ro = cli_oom(json_object());
      cli_json_put(ro, "sales_rep", cli_json_str(rs->rep[0] ? rs->rep : NULL));
      cli_json_put(ro, "quotes", cli_oom(json_integer(rs->quotes)));
      cli_json_put(ro, "quotes_won", cli_oom(json_integer(rs->quotes_won)));
      cli_json_put(ro, "quotes_ht", cli_json_str(crm_fmt_money(rs->quotes_ht, buf)));
      cli_json_put(ro, "invoices", cli_oom(json_integer(rs->invoices)));
      cli_json_put(ro, "sales_ht", cli_json_str(crm_fmt_money(rs->sales_ht, buf)));
      cli_json_put(ro, "margin", cli_json_str(crm_fmt_money(rs->margin, buf)));
      cli_json_push(reps, ro);
    }
    cli_json_put(o, "sales_reps", reps);
    rc = cli_json_print(c, o);
  } else {
    printf("from %s to %s\n\nactions: %u\n", from, to, s.actions);
    for (int k = 1; k < CARNET_ACH_MAX_; k++)
      if (s.per_channel[k])
        printf("  %-12s %u\n", carnet_action_channel_name((carnet_action_channel)k),
               s.per_channel[k]);
    printf("ratings:\n");
    for (int k = 1; k <= 5; k++)
      if (s.per_rating[k]) printf("  %-12d %u\n", k, s.per_rating[k]);
    if (s.per_rating[0]) printf("  %-12s %u\n", "unrated", s.per_rating[0]);
    if (s.rated)
      printf("won (rating >= %llu): %u of %u rated actions (%.1f %%)\n", (unsigned long long)n,
             s.won, s.rated, 100.0 * s.won / s.rated);
    else
      printf("won (rating >= %llu): no rated action\n", (unsigned long long)n);
    if (s.nreps) {
      static const char *const headers[] = {"SALES REP", "QUOTES",   "WON",   "QUOTED HT",
                                            "INVOICES",  "SALES HT", "MARGIN"};
      cli_table *t = cli_table_new(7, headers);
      for (size_t k = 0; k < s.nreps; k++) {
        const carnet_rep_stats *rs = &s.reps[k];
        char q[16], w[16], inv[16];
        snprintf(q, sizeof q, "%u", rs->quotes);
        snprintf(w, sizeof w, "%u", rs->quotes_won);
        snprintf(inv, sizeof inv, "%u", rs->invoices);
        const char *row[] = {
            rs->rep[0] ? rs->rep : "(none)",   q,   w,
            crm_fmt_money(rs->quotes_ht, buf), inv, crm_fmt_money(rs->sales_ht, b2),
            crm_fmt_money(rs->margin, b3)};
        cli_table_add(t, row);
      }
      printf("\n");
      cli_table_print(t, stdout, 0);
      cli_table_free(t);
    } else {
      printf("\nNo quote or invoice in this period.\n");
    }
  }
done:
  if (have) carnet_stats_free(&s);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
