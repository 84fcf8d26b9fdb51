/* cli/cmd_consent.c - `carnet consent grant|withdraw|show`: per customer and
 * per channel, every channel OFF until granted; each grant and withdrawal is
 * dated and kept.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { O_NOTE = CLI_O_USER };

static const cli_opt note_opts[] = {
    {"note", 0, required_argument, O_NOTE, "TEXT", "how or where it was given (kept in the log)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

#define CHANNELS "email, sms, whatsapp, viber, phone or post"

static const cli_usage grant_usage = {
    .args = "CUSTOMER CHANNEL",
    .summary = "Record that a customer agreed to be contacted on a channel.",
    .opts = note_opts,
    .min_pos = 2,
    .max_pos = 2,
    .more = "CHANNEL is " CHANNELS ".",
};

static const cli_usage withdraw_usage = {
    .args = "CUSTOMER CHANNEL",
    .summary = "Record that a customer withdrew consent for a channel.",
    .opts = note_opts,
    .min_pos = 2,
    .max_pos = 2,
    .more = "CHANNEL is " CHANNELS ". A withdrawal made at the same time as a grant on\n"
            "another device wins.",
};

static const cli_usage show_usage = {
    .args = "CUSTOMER",
    .summary = "Show a customer's consent on every channel, and the dated log.",
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
};

static int record_consent(cli *c, const cli_usage *u, bool granted, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *rec = NULL;
  carnet_patch *p = NULL;
  const char *note = NULL;
  char label[CARNET_ID_HEX_LEN + 1];
  cli_args a;
  int rc = cli_parse(c, u, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++)
    if (a.opts[i].id == O_NOTE) note = a.opts[i].arg;
  carnet_channel ch = carnet_channel_parse(a.pos[1]);
  if (ch == 0) {
    rc = cli_fail(c, CLI_EUSER, "unknown channel '%s': use " CHANNELS, a.pos[1]);
    goto done;
  }
  if ((rc = cli_open(c, &r)) || (rc = cli_load(c, r, CARNET_KIND_CUSTOMER, a.pos[0], &rec)))
    goto done;
  p = cli_oom(carnet_patch_new(CARNET_KIND_CUSTOMER));
  int err = carnet_patch_consent(p, ch, granted, note);
  if (err == 0) err = carnet_record_update_commit(r, carnet_record_id(rec), p);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  printf("%s: %s consent %s\n", cli_label(rec, label), carnet_channel_name(ch),
         granted ? "granted" : "withdrawn");
done:
  if (p) carnet_patch_free(p);
  if (rec) carnet_record_free(rec);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int run_grant(cli *c, int argc, char **argv) {
  return record_consent(c, &grant_usage, true, argc, argv);
}

static int run_withdraw(cli *c, int argc, char **argv) {
  return record_consent(c, &withdraw_usage, false, argc, argv);
}

static void show_log(const carnet_record *rec) {
  static const char *const headers[] = {"WHEN", "CHANNEL", "EVENT", "BY REPLICA", "NOTE"};
  const carnet_consent_event *ev;
  size_t n = carnet_record_consent_log(rec, &ev);
  char when[32], origin[17];
  if (n == 0) {
    printf("history:    none (every channel is off until granted)\n");
    return;
  }
  cli_table *t = cli_table_new(5, headers);
  for (size_t i = 0; i < n; i++) {
    cli_iso_time(ev[i].at, when);
    snprintf(origin, sizeof origin, "%016llx", (unsigned long long)ev[i].origin);
    const char *row[] = {when, carnet_channel_name(ev[i].channel),
                         ev[i].granted ? "granted" : "withdrawn", origin, ev[i].note};
    cli_table_add(t, row);
  }
  printf("history:\n");
  cli_table_print(t, stdout, 2);
  cli_table_free(t);
}

static int run_show(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *rec = NULL;
  char label[CARNET_ID_HEX_LEN + 1], hex[CARNET_ID_HEX_LEN + 1];
  cli_args a;
  int rc = cli_parse(c, &show_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = cli_load(c, r, CARNET_KIND_CUSTOMER, a.pos[0], &rec)))
    goto done;
  if (c->json) {
    json_t *o = cli_oom(json_object());
    carnet_id_format(carnet_record_id(rec), hex);
    cli_json_put(o, "customer", cli_json_str(hex));
    cli_json_put(o, "ref", cli_json_str(carnet_record_str(rec, CARNET_F_REFCODE)));
    cli_json_put(o, "consents", cli_json_consents(rec));
    cli_json_put(o, "history", cli_json_consent_log(rec));
    rc = cli_json_print(c, o);
  } else {
    cli_kv(stdout, CLI_LABEL_W, "customer", cli_label(rec, label));
    cli_show_consents(stdout, rec);
    show_log(rec);
  }
done:
  if (rec) carnet_record_free(rec);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static const cli_sub subs[] = {
    {"grant", run_grant, "record a consent on a channel"},
    {"withdraw", run_withdraw, "record a withdrawal on a channel"},
    {"show", run_show, "show consents and their history"},
    {NULL, NULL, NULL},
};

int cli_cmd_consent(cli *c, int argc, char **argv) {
  return cli_dispatch(c, subs,
                      "Consent per customer and channel (" CHANNELS
                      "): off until granted, every change dated and kept.",
                      argc, argv);
}
