/* tests/cli/test_crm.c - the CRM commands of `carnet` (doc, action,
 * reminder, reminders, history, stats), driven as a user would through
 * tests/support/proc.h, each test in a fresh directory: the command built
 * with a test clock ($CARNET_TESTCLOCK_BIN, cli/testclock.c) reading
 * $CARNET_TEST_NOW (Friday 2026-11-20, 10:00 UTC), and TZ=UTC, so that
 * "today" is known; test_shipped_clock checks that the shipped binary
 * ($CARNET_BIN) ignores that variable.
 */
#define _GNU_SOURCE /* nftw, forkpty */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/proc.h"

enum { RUN_TIMEOUT_MS = 60000 };

#define NOW "2026-11-20T10:00:00"

/* --- fixture ----------------------------------------------------------------- */

typedef struct fx {
  char root[1024];
  char replica[1100];
  char env_dir[1200], env_home[1200];
  const char *env[6];
  bool shipped; /* run $CARNET_BIN (no test clock) instead of $CARNET_TESTCLOCK_BIN */
} fx;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static int fx_setup(void **state) {
  static int counter;
  fx *f = calloc(1, sizeof *f);
  const char *base = getenv("CARNET_TEST_TMP");
  if (f == NULL) return -1;
  snprintf(f->root, sizeof f->root, "%s/crm-%d-%d", base && base[0] ? base : "/tmp", (int)getpid(),
           ++counter);
  nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  char buf[1100];
  snprintf(buf, sizeof buf, "%s", f->root);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') *p = '\0', mkdir(buf, 0700), *p = '/';
  mkdir(buf, 0700);
  snprintf(f->replica, sizeof f->replica, "%s/replica", f->root);
  snprintf(f->env_dir, sizeof f->env_dir, "CARNET_DIR=%s", f->replica);
  snprintf(f->env_home, sizeof f->env_home, "HOME=%s/home", f->root);
  f->env[0] = f->env_dir;
  f->env[1] = f->env_home;
  f->env[2] = "CARNET_TEST_NOW=" NOW;
  f->env[3] = "TZ=UTC";
  f->env[4] = NULL;
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

/* --- running the binary ------------------------------------------------------ */

static int run_args(const fx *f, proc_result *r, const char *const *args) {
  const char *argv[64];
  size_t n = 0;
  const char *bin = getenv(f->shipped ? "CARNET_BIN" : "CARNET_TESTCLOCK_BIN");
  if (bin == NULL) fail_msg("CARNET_BIN is not set: run this test through ctest");
  argv[n++] = bin;
  for (; *args && n < 63; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  proc_opts o = {.env = f->env, .cwd = f->root, .timeout_ms = RUN_TIMEOUT_MS};
  if (proc_run(argv, &o, r) != 0 || r->timed_out) fail_msg("%s", r->why);
  return r->status;
}

static char *ok_args(const fx *f, const char *const *args) {
  proc_result r;
  int st = run_args(f, &r, args);
  if (st != 0 || r.err_len != 0) {
    fprintf(stderr, "command:");
    for (const char *const *a = args; *a; a++)
      fprintf(stderr, " %s", *a);
    fprintf(stderr, "\nexited %d\nstdout: %s\nstderr: %s\n", st, r.out, r.err);
    proc_result_free(&r);
    fail_msg("command failed");
  }
  free(r.err);
  return r.out;
}

#define OK(f, ...) ok_args((f), (const char *const[]){__VA_ARGS__, NULL})

/* Exit 1, nothing on stdout, one line on stderr containing `needle`. */
static void user_error_args(const fx *f, const char *needle, const char *const *args) {
  proc_result r;
  int st = run_args(f, &r, args);
  if (st != 1 || r.out_len != 0 || proc_count_lines(r.err) != 1 ||
      strncmp(r.err, "carnet", 6) != 0 || strstr(r.err, needle) == NULL) {
    fprintf(stderr, "command:");
    for (const char *const *a = args; *a; a++)
      fprintf(stderr, " %s", *a);
    fprintf(stderr,
            "\nexpected exit 1 and one line naming '%s'\ngot exit %d\nstdout: %s\nstderr: %s",
            needle, st, r.out, r.err);
    proc_result_free(&r);
    fail_msg("wrong error");
  }
  proc_result_free(&r);
}

#define USER_ERROR(f, needle, ...)                                                                 \
  user_error_args((f), (needle), (const char *const[]){__VA_ARGS__, NULL})

static json_t *json_args(const fx *f, const char *const *args) {
  char *out = ok_args(f, args);
  json_error_t e;
  json_t *j = json_loads(out, 0, &e);
  if (j == NULL) fail_msg("not JSON (%s): %s", e.text, out);
  free(out);
  return j;
}

#define JSON(f, ...) json_args((f), (const char *const[]){__VA_ARGS__, NULL})

static const char *jstr(const json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (v == NULL) fail_msg("no key '%s'", key);
  return json_string_value(v);
}

static void assert_jstr(const json_t *o, const char *key, const char *want) {
  const char *got = jstr(o, key);
  if (want == NULL ? got != NULL : (got == NULL || strcmp(got, want) != 0))
    fail_msg("%s: got '%s', want '%s'", key, got ? got : "null", want ? want : "null");
}

static char *trim(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
    s[--n] = '\0';
  return s;
}

/* A new customer's reference code (malloc'd). */
static char *add_customer(const fx *f, const char *name, const char *rep) {
  json_t *j = rep ? JSON(f, "customer", "add", "--name", name, "--sales-rep", rep, "--json")
                  : JSON(f, "customer", "add", "--name", name, "--json");
  char *ref = strdup(jstr(j, "ref"));
  json_decref(j);
  return ref;
}

static bool has_str(const json_t *a, const char *s) {
  for (size_t i = 0; i < json_array_size(a); i++)
    if (json_string_value(json_array_get(a, i)) &&
        strcmp(json_string_value(json_array_get(a, i)), s) == 0)
      return true;
  return false;
}

/* --- tests ---------------------------------------------------------------------- */

/* The acceptance flow: a quote with three VAT rates and discounts, exact
 * totals, validated, accepted (the prospect becomes a customer), converted
 * to an invoice that is validated, read-only and paid; the history shows
 * the balance. */
static void test_quote_to_invoice(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  char *cu = add_customer(f, "Papeterie Martin", "alice");
  char *q = trim(OK(f, "doc", "add", "--type", "quote", "--customer", cu, "--validity", "30"));
  assert_int_equal(strlen(q), 32);
  free(OK(f, "doc", "line", "add", q, "--label", "Classeur A4", "--qty", "3", "--price", "19.99",
          "--discount", "10"));
  free(OK(f, "doc", "line", "add", q, "--label", "Livre", "--qty", "2.5", "--price", "12.35",
          "--vat", "5.5"));
  free(OK(f, "doc", "line", "add", q, "--label", "Carnet", "--qty", "7", "--price", "3,33", "--vat",
          "10%", "--discount", "5"));
  free(OK(f, "doc", "line", "add", q, "--label", "Audit", "--price", "100", "--discount", "12.5",
          "--cost", "40"));
  json_t *d = JSON(f, "doc", "show", q, "--json");
  assert_jstr(d, "status", "draft");
  assert_jstr(d, "date", "2026-11-20");
  assert_jstr(d, "sales_rep", "alice");
  json_t *t = json_object_get(d, "totals");
  /* Hand-computed: 53.97 (20 %) + 30.88 (5.5 %) + 22.14 (10 %) + 87.50 (20 %);
   * VAT 28.29 + 1.70 + 2.21; TTC 226.69. */
  assert_jstr(t, "ht", "194.49");
  assert_jstr(t, "vat", "32.20");
  assert_jstr(t, "ttc", "226.69");
  assert_jstr(t, "margin", "47.50");
  json_t *rates = json_object_get(t, "vat_rates");
  assert_int_equal(json_array_size(rates), 3);
  assert_jstr(json_array_get(rates, 0), "rate", "5.5");
  assert_jstr(json_array_get(rates, 0), "vat", "1.70");
  assert_jstr(json_array_get(rates, 2), "base", "141.47");
  assert_jstr(json_array_get(rates, 2), "vat", "28.29");
  json_t *lines = json_object_get(d, "lines");
  assert_jstr(json_array_get(lines, 1), "total_ht", "30.88");
  assert_jstr(json_array_get(lines, 1), "qty", "2.5");
  json_decref(d);
  /* Validate: a number of this replica's series. */
  char *num = trim(OK(f, "doc", "validate", q));
  json_t *id = JSON(f, "id", "--json");
  char want[64];
  snprintf(want, sizeof want, "DE2611-%s-0001", jstr(id, "tag"));
  assert_string_equal(num, want);
  USER_ERROR(f, "already validated", "doc", "validate", q);
  USER_ERROR(f, "validated", "doc", "line", "add", num, "--label", "en plus");
  USER_ERROR(f, "validated", "doc", "edit", num, "--notes", "trop tard");
  USER_ERROR(f, "unknown status", "doc", "status", num, "signed");
  USER_ERROR(f, "has no status 'paid'", "doc", "status", num, "paid");
  /* Accepting the quote makes the prospect a customer. */
  json_t *c0 = JSON(f, "customer", "show", cu, "--json");
  assert_true(has_str(json_object_get(c0, "roles"), "prospect"));
  json_decref(c0);
  free(OK(f, "doc", "status", num, "accepted"));
  json_t *c1 = JSON(f, "customer", "show", cu, "--json");
  assert_true(has_str(json_object_get(c1, "roles"), "customer"));
  assert_false(has_str(json_object_get(c1, "roles"), "prospect"));
  json_decref(c1);
  USER_ERROR(f, "only moves forward", "doc", "status", num, "refused");
  /* Convert and validate the invoice. */
  json_t *inv = JSON(f, "doc", "convert", num, "--to", "invoice", "--json");
  assert_jstr(inv, "type", "invoice");
  assert_jstr(inv, "status", "draft");
  assert_jstr(json_object_get(inv, "totals"), "ttc", "226.69");
  char *inv_id = strdup(jstr(inv, "id"));
  json_decref(inv);
  char *fnum = trim(OK(f, "doc", "validate", inv_id));
  assert_int_equal(fnum[0], 'F');
  json_t *qd = JSON(f, "doc", "show", num, "--json");
  assert_jstr(qd, "status", "invoiced");
  json_decref(qd);
  USER_ERROR(f, "credit note", "doc", "status", fnum, "cancelled");
  /* Paid; the history's balance goes to 0. */
  free(OK(f, "doc", "status", fnum, "paid", "--date", "2026-11-27"));
  json_t *h = JSON(f, "history", cu, "--json");
  json_t *entries = json_object_get(h, "entries");
  assert_int_equal(json_array_size(entries), 3);
  assert_jstr(json_array_get(entries, 0), "kind", "quote");
  assert_jstr(json_array_get(entries, 1), "kind", "invoice");
  assert_jstr(json_array_get(entries, 1), "balance", "226.69");
  assert_jstr(json_array_get(entries, 2), "kind", "payment");
  assert_jstr(json_array_get(entries, 2), "date", "2026-11-27");
  assert_jstr(h, "balance", "0.00");
  json_decref(h);
  /* Human output mentions what matters. */
  char *show = OK(f, "doc", "show", fnum);
  assert_non_null(strstr(show, fnum));
  assert_non_null(strstr(show, "total TTC"));
  assert_non_null(strstr(show, "226.69"));
  assert_non_null(strstr(show, "VAT 5.5 % on 30.88"));
  free(show);
  char *list = OK(f, "doc", "list");
  assert_non_null(strstr(list, num));
  assert_non_null(strstr(list, fnum));
  free(list);
  json_t *only = JSON(f, "doc", "list", "--type", "invoice", "--json");
  assert_int_equal(json_array_size(only), 1);
  json_decref(only);
  free(fnum);
  free(inv_id);
  free(num);
  free(q);
  free(cu);
  json_decref(id);
}

static void test_lines(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  char *cu = add_customer(f, "Client", NULL);
  char *d = trim(OK(f, "doc", "add", "--type", "invoice", "--customer", cu));
  char *a = trim(OK(f, "doc", "line", "add", d, "--label", "A"));
  free(OK(f, "doc", "line", "add", d, "--label", "B"));
  free(OK(f, "doc", "line", "add", d, "--label", "C", "--after", "1"));
  json_t *j = JSON(f, "doc", "show", d, "--json");
  json_t *l = json_object_get(j, "lines");
  assert_jstr(json_array_get(l, 0), "label", "A");
  assert_jstr(json_array_get(l, 1), "label", "C");
  assert_jstr(json_array_get(l, 2), "label", "B");
  assert_jstr(json_array_get(l, 0), "vat_rate", "20"); /* the CLI's default */
  json_decref(j);
  free(OK(f, "doc", "line", "move", d, "3", "--first"));
  free(OK(f, "doc", "line", "edit", d, a, "--qty", "4", "--price", "2.50"));
  char prefix[8];
  snprintf(prefix, sizeof prefix, "%.6s", a);
  free(OK(f, "doc", "line", "edit", d, prefix, "--label", "A bis"));
  free(OK(f, "doc", "line", "remove", d, "3"));
  j = JSON(f, "doc", "show", d, "--json");
  l = json_object_get(j, "lines");
  assert_int_equal(json_array_size(l), 2);
  assert_jstr(json_array_get(l, 0), "label", "B");
  assert_jstr(json_array_get(l, 1), "label", "A bis");
  assert_jstr(json_array_get(l, 1), "total_ht", "10.00");
  json_decref(j);
  USER_ERROR(f, "invalid quantity", "doc", "line", "add", d, "--label", "x", "--qty", "1.2345");
  USER_ERROR(f, "invalid percentage", "doc", "line", "add", d, "--label", "x", "--vat", "120");
  USER_ERROR(f, "invalid amount", "doc", "line", "add", d, "--label", "x", "--price", "12.345");
  USER_ERROR(f, "label or a product", "doc", "line", "add", d, "--qty", "2");
  USER_ERROR(f, "no line 9", "doc", "line", "edit", d, "9", "--qty", "1");
  USER_ERROR(f, "nothing to change", "doc", "line", "edit", d, "1");
  USER_ERROR(f, "--after LINE or --first", "doc", "line", "move", d, "1");
  USER_ERROR(f, "no document", "doc", "show", "0123456789ab");
  USER_ERROR(f, "give --type", "doc", "add", "--customer", cu);
  USER_ERROR(f, "unknown type", "doc", "add", "--type", "facture", "--customer", cu);
  USER_ERROR(f, "validate it first", "doc", "convert", d, "--to", "credit_note");
  /* A draft can be deleted; a validated document cannot. */
  char *d2 = trim(OK(f, "doc", "add", "--type", "quote", "--customer", cu));
  free(OK(f, "doc", "delete", d2));
  USER_ERROR(f, "already deleted", "doc", "delete", d2);
  free(OK(f, "doc", "validate", d));
  USER_ERROR(f, "validated", "doc", "delete", d);
  free(d2);
  free(a);
  free(d);
  free(cu);
}

/* Friday 2026-11-20: its week is Monday 16 to Sunday 22. */
static void test_reminders(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  char *cu = add_customer(f, "Client", NULL);
  char *today = trim(OK(f, "reminder", "add", "--customer", cu, "--comment", "today"));
  free(OK(f, "reminder", "add", "--customer", cu, "--date", "2026-11-16", "--week", "--comment",
          "this week"));
  free(OK(f, "reminder", "add", "--customer", cu, "--date", "2026-11-25", "--comment", "later"));
  free(
      OK(f, "reminder", "add", "--customer", cu, "--date", "2026-11-18", "--comment", "wednesday"));
  json_t *j = JSON(f, "reminders", "--json");
  assert_int_equal(json_array_size(j), 2);
  assert_jstr(json_array_get(j, 0), "comment", "this week");
  assert_jstr(json_array_get(j, 1), "comment", "today");
  assert_jstr(json_array_get(j, 1), "date", "2026-11-20");
  json_decref(j);
  j = JSON(f, "reminders", "--week", "--json");
  assert_int_equal(json_array_size(j), 3);
  json_decref(j);
  j = JSON(f, "reminders", "--date", "2026-11-25", "--json");
  assert_int_equal(json_array_size(j), 1);
  json_decref(j);
  char *out = OK(f, "reminders", "--today");
  assert_non_null(strstr(out, "today"));
  assert_non_null(strstr(out, "Client"));
  free(out);
  free(OK(f, "reminder", "done", today));
  j = JSON(f, "reminders", "--json");
  assert_int_equal(json_array_size(j), 1);
  json_decref(j);
  out = OK(f, "reminders", "--date", "2026-12-01");
  assert_non_null(strstr(out, "Nothing due on 2026-12-01"));
  free(out);
  j = JSON(f, "reminder", "list", "--json");
  assert_int_equal(json_array_size(j), 3);
  json_decref(j);
  j = JSON(f, "reminder", "list", "--all", "--json");
  assert_int_equal(json_array_size(j), 4);
  json_decref(j);
  free(OK(f, "reminder", "done", today, "--undo"));
  USER_ERROR(f, "give --customer", "reminder", "add", "--comment", "x");
  USER_ERROR(f, "invalid date", "reminder", "add", "--customer", cu, "--date", "2026-02-30");
  USER_ERROR(f, "one of --today, --week or --date", "reminders", "--today", "--week");
  free(today);
  free(cu);
}

static void test_actions_and_stats(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  char *a = add_customer(f, "Alpha", "alice");
  char *b = add_customer(f, "Beta", "bob");
  char *v = trim(OK(f, "action", "add", "--channel", "visit", "--customer", a, "--customer", b,
                    "--rating", "green", "--campaign", "salon", "--details", "stand visit"));
  free(OK(f, "action", "add", "--channel", "phone", "--customer", a, "--at", "2026-11-19 15:30",
          "--direction", "in", "--rating", "2"));
  free(OK(f, "action", "add", "--channel", "email", "--customer", b, "--at", "2026-10-02"));
  json_t *j = JSON(f, "action", "list", "--json");
  assert_int_equal(json_array_size(j), 3);
  assert_jstr(json_array_get(j, 0), "at", "2026-10-02T00:00:00");
  assert_jstr(json_array_get(j, 2), "channel", "visit");
  assert_jstr(json_array_get(j, 2), "at", NOW);
  json_decref(j);
  j = JSON(f, "actions", "list", "--customer", a, "--json");
  assert_int_equal(json_array_size(j), 2);
  json_decref(j);
  j = JSON(f, "action", "list", "--campaign", "salon", "--json");
  assert_int_equal(json_array_size(j), 1);
  json_decref(j);
  j = JSON(f, "action", "list", "--from", "2026-11-01", "--to", "2026-11-19", "--json");
  assert_int_equal(json_array_size(j), 1);
  assert_jstr(json_array_get(j, 0), "direction", "inbound");
  json_decref(j);
  /* A quote per rep, one accepted; an invoice for alice. */
  char *qa = trim(OK(f, "doc", "add", "--type", "quote", "--customer", a));
  free(OK(f, "doc", "line", "add", qa, "--label", "x", "--price", "100", "--cost", "60"));
  free(OK(f, "doc", "validate", qa));
  free(OK(f, "doc", "status", qa, "accepted"));
  char *inv = trim(OK(f, "doc", "convert", qa, "--to", "invoice"));
  free(OK(f, "doc", "validate", inv));
  char *qb = trim(OK(f, "doc", "add", "--type", "quote", "--customer", b));
  free(OK(f, "doc", "line", "add", qb, "--label", "y", "--price", "50"));
  j = JSON(f, "stats", "--from", "2026-11-01", "--to", "2026-11-30", "--json");
  assert_int_equal(json_integer_value(json_object_get(j, "actions")), 2);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "per_channel"), "visit")),
                   1);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "per_rating"), "4")), 1);
  assert_int_equal(json_integer_value(json_object_get(j, "won")), 1);
  assert_true(json_real_value(json_object_get(j, "won_share")) == 0.5);
  json_t *reps = json_object_get(j, "sales_reps");
  assert_int_equal(json_array_size(reps), 2);
  assert_jstr(json_array_get(reps, 0), "sales_rep", "alice");
  assert_int_equal(json_integer_value(json_object_get(json_array_get(reps, 0), "quotes_won")), 1);
  assert_jstr(json_array_get(reps, 0), "sales_ht", "100.00");
  assert_jstr(json_array_get(reps, 0), "margin", "40.00");
  assert_jstr(json_array_get(reps, 1), "quotes_ht", "50.00");
  json_decref(j);
  j = JSON(f, "stats", "--from", "2026-11-01", "--to", "2026-11-30", "--won-rating", "2", "--json");
  assert_int_equal(json_integer_value(json_object_get(j, "won")), 2);
  json_decref(j);
  char *out = OK(f, "stats", "--from", "2026-11-01", "--to", "2026-11-30");
  assert_non_null(strstr(out, "alice"));
  assert_non_null(strstr(out, "won (rating >= 4): 1 of 2"));
  free(out);
  /* Edit, remove a customer, delete. */
  free(OK(f, "action", "edit", v, "--remove-customer", b, "--rating", "3"));
  j = JSON(f, "action", "show", v, "--json");
  assert_int_equal(json_array_size(json_object_get(j, "customers")), 1);
  assert_jstr(j, "rating", "3");
  json_decref(j);
  free(OK(f, "action", "delete", v));
  j = JSON(f, "action", "list", "--json");
  assert_int_equal(json_array_size(j), 2);
  json_decref(j);
  USER_ERROR(f, "unknown channel", "action", "add", "--channel", "pigeon");
  USER_ERROR(f, "give --channel", "action", "add", "--customer", a);
  USER_ERROR(f, "invalid rating", "action", "add", "--channel", "sms", "--rating", "9");
  /* Without dates: the current month (2026-11 by the replica's clock). */
  j = JSON(f, "stats", "--json");
  assert_jstr(j, "from", "2026-11-01");
  assert_jstr(j, "to", "2026-11-30");
  assert_int_equal(json_integer_value(json_object_get(j, "actions")), 1);
  json_decref(j);
  j = JSON(f, "stats", "--from", "2026-10-01", "--json");
  assert_jstr(j, "to", "2026-11-30");
  assert_int_equal(json_integer_value(json_object_get(j, "actions")), 2);
  json_decref(j);
  out = OK(f, "stats");
  assert_non_null(strstr(out, "from 2026-11-01 to 2026-11-30"));
  free(out);
  USER_ERROR(f, "is after --to", "stats", "--from", "2026-12-01");
  USER_ERROR(f, "invalid --won-rating", "stats", "--from", "2026-11-01", "--to", "2026-11-30",
             "--won-rating", "7");
  /* History of Alpha: the quote, the phone call, the invoice, the visit. */
  out = OK(f, "history", a);
  assert_non_null(strstr(out, "phone"));
  assert_non_null(strstr(out, "invoice"));
  assert_non_null(strstr(out, "120.00"));
  free(out);
  free(qb);
  free(inv);
  free(qa);
  free(v);
  free(b);
  free(a);
}

static void test_numbering_rules(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  char *out = OK(f, "doc", "numbering");
  assert_non_null(strstr(out, "invoice      F{yy}{mm}-{tag}-{n:4}"));
  assert_non_null(strstr(out, "credit_note  AV{yy}{mm}-{tag}-{n:4}"));
  free(out);
  free(OK(f, "doc", "numbering", "invoice", "FA{yyyy}-{tag}-{n:5}"));
  USER_ERROR(f, "{tag} and {n:W} are required", "doc", "numbering", "invoice", "F{yy}-{n:4}");
  USER_ERROR(f, "unknown type", "doc", "numbering", "facture");
  char *cu = add_customer(f, "Client", NULL);
  char *d = trim(OK(f, "doc", "add", "--type", "invoice", "--customer", cu));
  free(OK(f, "doc", "line", "add", d, "--label", "x", "--price", "1"));
  char *num = trim(OK(f, "doc", "validate", d));
  assert_true(strncmp(num, "FA2026-", 7) == 0);
  assert_string_equal(num + strlen(num) - 6, "-00001");
  free(OK(f, "doc", "numbering", "invoice", "--default"));
  out = OK(f, "doc", "numbering", "invoice");
  assert_non_null(strstr(out, "F{yy}{mm}-{tag}-{n:4}"));
  free(out);
  free(num);
  free(d);
  free(cu);
}

/* Two replicas validate invoices offline, then sync through change files:
 * every number is distinct and each replica's series runs 1, 2, 3. */
static void test_two_replicas_numbers(void **state) {
  fx *f = *state;
  char a[1200], b[1200], ab[1200], ba[1200];
  snprintf(a, sizeof a, "%s/A", f->root);
  snprintf(b, sizeof b, "%s/B", f->root);
  snprintf(ab, sizeof ab, "%s/a-to-b", f->root);
  snprintf(ba, sizeof ba, "%s/b-to-a", f->root);
  free(OK(f, "init", "--dir", a));
  free(OK(f, "init", "--dir", b));
  json_t *cj = JSON(f, "--dir", a, "customer", "add", "--name", "Commun", "--json");
  char *cu = strdup(jstr(cj, "id"));
  json_decref(cj);
  free(OK(f, "--dir", a, "changes", "export", "-o", ab));
  free(OK(f, "--dir", b, "changes", "apply", ab));
  for (int round = 0; round < 3; round++) {
    const char *dirs[2] = {a, b};
    for (int k = 0; k < 2; k++) {
      char *d = trim(OK(f, "--dir", dirs[k], "doc", "add", "--type", "invoice", "--customer", cu));
      free(OK(f, "--dir", dirs[k], "doc", "line", "add", d, "--label", "x", "--price", "10"));
      free(OK(f, "--dir", dirs[k], "doc", "validate", d));
      free(d);
    }
  }
  free(OK(f, "--dir", a, "changes", "export", "-o", ab));
  free(OK(f, "--dir", b, "changes", "export", "-o", ba));
  free(OK(f, "--dir", b, "changes", "apply", ab));
  free(OK(f, "--dir", a, "changes", "apply", ba));
  for (int k = 0; k < 2; k++) {
    json_t *l = JSON(f, "--dir", k ? b : a, "doc", "list", "--type", "invoice", "--json");
    assert_int_equal(json_array_size(l), 6);
    int per[2][4] = {{0}};
    char tags[2][8] = {"", ""};
    for (size_t i = 0; i < 6; i++) {
      const char *num = jstr(json_array_get(l, i), "number");
      for (size_t k2 = 0; k2 < i; k2++)
        assert_string_not_equal(num, jstr(json_array_get(l, k2), "number"));
      char tag[8];
      int n;
      assert_int_equal(sscanf(num, "F2611-%4[0-9A-Z]-%d", tag, &n), 2);
      int slot = tags[0][0] == '\0' || strcmp(tags[0], tag) == 0 ? 0 : 1;
      snprintf(tags[slot], sizeof tags[slot], "%s", tag);
      assert_true(n >= 1 && n <= 3);
      per[slot][n]++;
    }
    for (int s = 0; s < 2; s++)
      for (int n = 1; n <= 3; n++)
        assert_int_equal(per[s][n], 1);
    json_decref(l);
  }
  free(cu);
}

/* Slips (issue 18, point 7): a document is not converted twice by mistake
 * (the command names the first conversion; --again makes another), and
 * the drafts made within the same minute show as different ids in `doc
 * list`, each naming its draft for `doc show`. */
static void test_convert_twice(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  char *cu = add_customer(f, "Menuiserie Roux", NULL);
  char *q = trim(OK(f, "doc", "add", "--type", "quote", "--customer", cu));
  free(OK(f, "doc", "line", "add", q, "--label", "Escalier", "--price", "1200"));
  char *num = trim(OK(f, "doc", "validate", q));
  json_t *first = JSON(f, "doc", "convert", num, "--to", "invoice", "--json");
  char *inv = strdup(jstr(first, "id"));
  json_decref(first);
  /* Again: refused, naming the draft made the first time. */
  char want[64];
  snprintf(want, sizeof want, "already converted to invoice draft (%s)", inv);
  USER_ERROR(f, want, "doc", "convert", num, "--to", "invoice");
  USER_ERROR(f, "--again", "doc", "convert", num, "--to", "invoice");
  json_t *l = JSON(f, "doc", "list", "--type", "invoice", "--json");
  assert_int_equal(json_array_size(l), 1);
  json_decref(l);
  /* Once validated, the message gives its number. */
  char *fnum = trim(OK(f, "doc", "validate", inv));
  snprintf(want, sizeof want, "already converted to invoice %s", fnum);
  USER_ERROR(f, want, "doc", "convert", num, "--to", "invoice");
  /* --again makes a second draft; an order is another conversion. */
  char *second = trim(OK(f, "doc", "convert", num, "--to", "invoice", "--again"));
  assert_int_equal(strlen(second), 32);
  assert_string_not_equal(second, inv);
  char *third = trim(OK(f, "doc", "convert", num, "--to", "invoice", "--again"));
  free(OK(f, "doc", "convert", num, "--to", "order"));
  USER_ERROR(f, "already converted to order", "doc", "convert", num, "--to", "order");
  l = JSON(f, "doc", "list", "--type", "invoice", "--json");
  assert_int_equal(json_array_size(l), 3);
  json_decref(l);
  /* The two drafts were made within a second: their ids share the first
   * 8 digits, which the list used to show for both. */
  assert_memory_equal(second, third, 8);
  char *list = OK(f, "doc", "list", "--type", "invoice", "--status", "draft");
  char sa[40] = "", sb[40] = "";
  for (const char *p = list; (p = strstr(p, "draft ")) != NULL; p += 6) {
    char one[40];
    if (sscanf(p + 6, "%39[0-9a-f]", one) != 1) continue; /* the STATUS column */
    snprintf(sa[0] ? sb : sa, sizeof sa, "%s", one);
  }
  assert_true(strlen(sa) >= 8 && strlen(sb) >= 8);
  assert_string_not_equal(sa, sb);
  free(list);
  const char *shorts[2] = {sa, sb};
  bool seen[2] = {false, false};
  for (int k = 0; k < 2; k++) {
    json_t *d = JSON(f, "doc", "show", shorts[k], "--json");
    const char *id = jstr(d, "id");
    assert_int_equal(strncmp(id, shorts[k], strlen(shorts[k])), 0);
    seen[0] |= strcmp(id, second) == 0;
    seen[1] |= strcmp(id, third) == 0;
    json_decref(d);
  }
  assert_true(seen[0] && seen[1]);
  free(third);
  free(second);
  free(fnum);
  free(inv);
  free(num);
  free(q);
  free(cu);
}

/* The shipped binary has no test hook: $CARNET_TEST_NOW does not move its
 * clock, so an invoice is dated today (issue 18: it dated a validated
 * invoice in the past). */
static void test_shipped_clock(void **state) {
  fx *f = *state;
  f->env[2] = "CARNET_TEST_NOW=2020-01-15";
  f->shipped = true;
  free(OK(f, "init"));
  char *cu = add_customer(f, "Horloge Honnete", NULL);
  char *inv = trim(OK(f, "doc", "add", "--type", "invoice", "--customer", cu));
  free(OK(f, "doc", "line", "add", inv, "--label", "x", "--price", "10"));
  free(OK(f, "doc", "validate", inv));
  json_t *d = JSON(f, "doc", "show", inv, "--json");
  char today[16];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(today, sizeof today, "%Y-%m-%d", &tm);
  const char *date = jstr(d, "date");
  /* Around midnight the day may turn between the command and this line. */
  if (strcmp(date, today) != 0) {
    now -= 60;
    gmtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
  }
  assert_string_equal(date, today);
  assert_string_not_equal(date, "2020-01-15");
  assert_int_equal(strncmp(jstr(d, "number"), "F2001", 5) == 0, 0);
  json_decref(d);
  /* The test binary does read it (what the other tests rely on). */
  f->shipped = false;
  json_t *s = JSON(f, "stats", "--json");
  assert_jstr(s, "from", "2020-01-01");
  assert_jstr(s, "to", "2020-01-31");
  json_decref(s);
  free(inv);
  free(cu);
}

/* `carnet erase` on a terminal: the command asks for the customer's
 * reference; a wrong answer erases nothing, the right one erases; --yes
 * does not ask. */
static int erase_on_terminal(const fx *f, const char *answer, const char *ref, char *out,
                             size_t len, bool yes) {
  const char *bin = getenv("CARNET_BIN");
  int term;
  pid_t pid = forkpty(&term, NULL, NULL, NULL);
  assert_true(pid >= 0);
  if (pid == 0) {
    char **envp = (char **)f->env;
    for (char **e = envp; *e; e++)
      putenv(*e);
    if (yes)
      execl(bin, bin, "erase", ref, "--reason", "demande du 2026-11-20", "--yes", (char *)NULL);
    else
      execl(bin, bin, "erase", ref, "--reason", "demande du 2026-11-20", (char *)NULL);
    _exit(127);
  }
  size_t n = 0;
  bool answered = yes;
  time_t t0 = time(NULL);
  while (n < len - 1 && time(NULL) - t0 < 60) {
    struct pollfd p = {term, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    ssize_t k = read(term, out + n, len - 1 - n);
    if (k <= 0) break; /* EIO: the child closed the terminal */
    n += (size_t)k;
    out[n] = '\0';
    if (!answered && strstr(out, "to erase it: ")) {
      char line[128];
      snprintf(line, sizeof line, "%s\n", answer);
      assert_true(write(term, line, strlen(line)) == (ssize_t)strlen(line));
      answered = true;
    }
  }
  out[n] = '\0';
  close(term);
  int st = -1;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  return WEXITSTATUS(st);
}

static void test_erase_asks(void **state) {
  fx *f = *state;
  char out[4096];
  free(OK(f, "init"));
  char *ref = trim(OK(f, "customer", "add", "--name", "Paul Oubli", "--email", "paul@oubli.fr"));
  assert_int_equal(strncmp(ref, "CU", 2), 0); /* `customer add` prints the reference */
  assert_int_equal(erase_on_terminal(f, "CU0000-XXXX-0000", ref, out, sizeof out, false), 1);
  assert_non_null(strstr(out, "Type the customer's reference"));
  assert_non_null(strstr(out, ref));
  assert_non_null(strstr(out, "nothing was erased"));
  json_t *c = JSON(f, "customer", "show", ref, "--json");
  assert_jstr(c, "name", "Paul Oubli");
  json_decref(c);
  assert_int_equal(erase_on_terminal(f, ref, ref, out, sizeof out, false), 0);
  assert_non_null(strstr(out, "erased "));
  USER_ERROR(f, "no customer", "customer", "show", ref);
  char *other = trim(OK(f, "customer", "add", "--name", "Lea Presse"));
  assert_int_equal(erase_on_terminal(f, "", other, out, sizeof out, true), 0);
  assert_null(strstr(out, "Type the customer's reference"));
  assert_non_null(strstr(out, "erased "));
  free(other);
  free(ref);
}

static void test_help(void **state) {
  fx *f = *state;
  static const char *const cmds[][5] = {
      {"doc", "--help"},
      {"doc", "add", "--help"},
      {"doc", "edit", "--help"},
      {"doc", "line", "--help"},
      {"doc", "line", "add", "--help"},
      {"doc", "line", "edit", "--help"},
      {"doc", "line", "remove", "--help"},
      {"doc", "line", "move", "--help"},
      {"doc", "validate", "--help"},
      {"doc", "convert", "--help"},
      {"doc", "show", "--help"},
      {"doc", "list", "--help"},
      {"doc", "delete", "--help"},
      {"doc", "status", "--help"},
      {"doc", "numbering", "--help"},
      {"action", "--help"},
      {"action", "add", "--help"},
      {"action", "edit", "--help"},
      {"action", "delete", "--help"},
      {"action", "list", "--help"},
      {"action", "show", "--help"},
      {"reminder", "--help"},
      {"reminder", "add", "--help"},
      {"reminder", "done", "--help"},
      {"reminder", "list", "--help"},
      {"reminders", "--help"},
      {"history", "--help"},
      {"stats", "--help"},
  };
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    proc_result r;
    int st = run_args(f, &r, cmds[i]);
    if (st != 0 || strncmp(r.out, "usage: carnet ", 14) != 0 || r.err_len != 0)
      fail_msg("%s %s --help: exit %d, stdout '%.60s', stderr '%s'", cmds[i][0], cmds[i][1], st,
               r.out, r.err);
    proc_result_free(&r);
  }
  USER_ERROR(f, "no replica", "reminders");
  USER_ERROR(f, "unknown command", "doc", "frobnicate");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_quote_to_invoice, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_lines, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_reminders, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_actions_and_stats, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_numbering_rules, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_two_replicas_numbers, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_convert_twice, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_shipped_clock, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_erase_asks, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_help, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests_name("crm", tests, NULL, NULL);
}
