/* cli/cmd_erase.c - the data subject's rights (carnet/erase.h):
 *
 *   carnet erase CUSTOMER --reason TEXT      Art. 17: erase, on every replica
 *   carnet erasures [--json]                 the certificates, who applied them
 *   carnet subject-export CUSTOMER [-o FILE] Art. 15 / 20: everything held on
 *                                            the person, as JSON
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/crm.h"
#include "cli/files.h"
#include "cli/subject.h"

enum { O_REASON = CLI_O_USER, O_OUTPUT, O_ONLY, O_YES, O_ARCHIVE };

/* --- erase --------------------------------------------------------------------- */

static const cli_opt erase_opts[] = {
    {"reason", 0, required_argument, O_REASON, "TEXT",
     "why (required; kept forever on every replica: no personal data)"},
    {"only-this-record", 0, no_argument, O_ONLY, NULL,
     "erase this record only, not the records merged with it (the rare case of a wrong "
     "merge: unmerging first says so better)"},
    {"yes", 'y', no_argument, O_YES, NULL,
     "do not ask to type the customer's reference on a terminal (scripts need not)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage erase_usage = {
    .args = "CUSTOMER",
    .summary = "Erase a customer on every replica (GDPR Art. 17): irreversible.",
    .opts = erase_opts,
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "Erases the person as shown: CUSTOMER and every record merged with it ('carnet\n"
            "merge'), each listed before it is erased; a record merged with one of them on\n"
            "another replica before it learnt of the erasure goes too, once the two meet.\n"
            "Deletes the customers, their contacts, consents, reminders, the actions that\n"
            "concern them, their drafts, quotes and orders. Validated invoices and credit\n"
            "notes stay, read-only, with the identity as issued. A certificate per record\n"
            "(id, time, replica, reason) travels to every replica at its next sync; each\n"
            "one applies it and confirms ('carnet erasures'). The data file is compacted so\n"
            "that no byte of the erased values stays in it; if another process (carnet\n"
            "serve) has the replica open, that process compacts it as soon as it can, and\n"
            "a compaction that fails (a full disk) is retried at every open and by carnet\n"
            "serve ('carnet status' lists the erasures still waiting).\n"
            "On a terminal the command first asks you to type the customer's reference (the\n"
            "id when it has none); anything else erases nothing. --yes skips the question.",
};

static json_t *hex64(uint64_t v) {
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return cli_json_str(buf);
}

/* On a terminal, an irreversible erasure is confirmed by typing the
 * customer's reference (the id when it has none), compared without case
 * and surrounding spaces. Returns CLI_OK to go on, or an exit code after
 * printing. */
static int confirm(cli *c, carnet_replica *r, const carnet_id *id, size_t nmembers) {
  carnet_record *view = NULL;
  char hex[CARNET_ID_HEX_LEN + 1], line[256];
  carnet_id_format(id, hex);
  (void)carnet_record_get(r, id, &view);
  const char *ref = view ? carnet_record_str(view, CARNET_F_REFCODE) : NULL;
  const char *name = view ? carnet_record_str(view, CARNET_F_NAME) : NULL;
  if (name == NULL && view) name = carnet_record_str(view, CARNET_F_COMPANY);
  const char *want = ref && ref[0] ? ref : hex;
  fprintf(stderr,
          "Erase %s%s%s%s%s on every replica? This cannot be undone.\n"
          "Type the customer's reference (%s) to erase it: ",
          want, name ? " \"" : "", name ? name : "", name ? "\"" : "",
          nmembers > 1 ? " and the records merged with it" : "", want);
  fflush(stderr);
  int rc = CLI_OK;
  if (fgets(line, sizeof line, stdin) == NULL) line[0] = '\0';
  char *s = line;
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  if (strcasecmp(s, want) != 0)
    rc = cli_fail(c, CLI_EUSER, "'%s' is not %s: nothing was erased", s, want);
  carnet_record_free(view);
  return rc;
}

static int run_erase(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_erasure *e = cli_oom(malloc(sizeof *e));
  const char *reason = NULL;
  carnet_id id, *members = NULL;
  size_t nmembers = 0;
  bool known = false, compacted = false, only = false, yes = false;
  char hex[CARNET_ID_HEX_LEN + 1], when[32];
  cli_args a;
  int rc = cli_parse(c, &erase_usage, argc, argv, &a);
  if (rc) {
    free(e);
    return rc;
  }
  for (int i = 0; i < a.nopts; i++) {
    if (a.opts[i].id == O_REASON) reason = a.opts[i].arg;
    if (a.opts[i].id == O_ONLY) only = true;
    if (a.opts[i].id == O_YES) yes = true;
  }
  if (reason == NULL) {
    rc = cli_fail(c, CLI_EUSER, "missing --reason TEXT: say why (e.g. \"request of 2026-12-01\")");
    goto done;
  }
  if ((rc = cli_open(c, &r))) goto done;
  if (carnet_id_parse(a.pos[0], &id) == 0 && carnet_record_erased(r, &id, &known) == 0 && known) {
    rc = cli_fail(c, CLI_EUSER, "%s is already erased (see 'carnet erasures')", a.pos[0]);
    goto done;
  }
  if ((rc = cli_resolve(c, r, CARNET_KIND_CUSTOMER, a.pos[0], &id))) goto done;
  carnet_id_format(&id, hex);
  /* The person as shown: every record merged with it, said before. */
  int err = 0;
  if (only) {
    nmembers = 1;
  } else if ((err = carnet_erasure_group(r, &id, &members, &nmembers)) != 0) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  const carnet_id *list = only ? &id : members;
  if (nmembers > 1 && !c->json) {
    carnet_record *view = NULL;
    const char *name = NULL, *ref = NULL;
    if (carnet_record_get(r, &id, &view) == 0) {
      name = carnet_record_str(view, CARNET_F_NAME);
      ref = carnet_record_str(view, CARNET_F_REFCODE);
    }
    printf("%s%s%s%s is %zu merged records; erasing every one of them (--only-this-record "
           "erases %s alone):\n",
           ref ? ref : hex, name ? " \"" : "", name ? name : "", name ? "\"" : "", nmembers, hex);
    for (size_t i = 0; i < nmembers; i++) {
      char mh[CARNET_ID_HEX_LEN + 1];
      carnet_id_format(&list[i], mh);
      printf("  %s%s\n", mh, memcmp(list[i].b, id.b, 16) == 0 ? " (named)" : "");
    }
    fflush(stdout);
    carnet_record_free(view);
  }
  if (!yes && isatty(STDIN_FILENO) && (rc = confirm(c, r, &id, nmembers))) goto done;
  err = only ? carnet_record_erase_one(r, &id, reason, e, &compacted)
             : carnet_record_erase(r, &id, reason, e, &compacted);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  /* Why the data file was not compacted, when it was not. */
  carnet_compaction cp;
  memset(&cp, 0, sizeof cp);
  if (!compacted) (void)carnet_replica_get_compaction(r, &cp, NULL, 0, NULL);
  bool busy = !compacted && cp.last_error == CARNET_EBUSY;
  cli_iso_time(e->at, when);
  if (c->json) {
    json_t *o = cli_oom(json_object()), *arr = cli_oom(json_array());
    for (size_t i = 0; i < nmembers; i++) {
      char mh[CARNET_ID_HEX_LEN + 1];
      carnet_id_format(&list[i], mh);
      cli_json_push(arr, cli_json_str(mh));
    }
    cli_json_put(o, "id", cli_json_str(hex));
    cli_json_put(o, "erased", arr);
    cli_json_put(o, "scope", cli_json_str(only ? "record" : "person"));
    cli_json_put(o, "erased_at", cli_json_str(when));
    cli_json_put(o, "origin", hex64(e->origin));
    cli_json_put(o, "reason", cli_json_str(e->reason));
    cli_json_put(o, "compacted", json_boolean(compacted));
    cli_json_put(o, "compaction_error",
                 !compacted && cp.last_error && !busy ? cli_json_str(cp.last_why) : json_null());
    rc = cli_json_print(c, o);
  } else {
    if (nmembers > 1)
      printf("erased %zu customers (one person) at %s; the certificates go to every replica at "
             "its next sync\n",
             nmembers, when);
    else
      printf("erased %s at %s; the certificate goes to every replica at its next sync\n", hex,
             when);
    if (busy)
      printf("note: another process has this replica open (carnet serve?): it compacts the data "
             "file as soon as it can\n");
  }
  if (!compacted && !busy && cp.last_error)
    fprintf(stderr,
            "%s: warning: the erasure is done, but the data file could not be compacted: %s; "
            "until it is, the erased values stay in its free pages (encrypted). Free some space: "
            "the compaction is tried again at every command on this replica and by carnet "
            "serve; 'carnet status' shows it pending\n",
            c->cmd, cp.last_why);
done:
  carnet_free(members);
  free(e);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- erasures ------------------------------------------------------------------ */

static const cli_usage erasures_usage = {
    .summary = "List the erasure certificates and which replicas of the team applied them.",
    .json = true,
    .more = "The team is this replica and the peers it knows by id (after a first sync).\n"
            "A replica confirms a certificate when it applies it; confirmations come back\n"
            "through sync.",
};

typedef struct team {
  uint64_t ids[CARNET_ERASE_CONFIRMS_MAX];
  size_t n;
} team;

static int team_cb(const carnet_peer_info *p, void *data) {
  team *t = data;
  if (p->replica_id && t->n < CARNET_ERASE_CONFIRMS_MAX) t->ids[t->n++] = p->replica_id;
  return 0;
}

typedef struct erasures_state {
  carnet_replica *r;
  team *team;
  json_t *arr;
  cli_table *table;
} erasures_state;

static bool confirmed_by(const carnet_erasure *e, uint64_t id) {
  for (uint32_t i = 0; i < e->nconfirmed; i++)
    if (e->confirmed[i] == id) return true;
  return false;
}

static int erasures_cb(const carnet_erasure *e, void *data) {
  erasures_state *st = data;
  char hex[CARNET_ID_HEX_LEN + 1], when[32], origin[17], counts[32], by[CLI_REPLICA_LABEL];
  json_t *yes = cli_oom(json_array()), *no = cli_oom(json_array());
  carnet_id_format(&e->id, hex);
  cli_iso_time(e->at, when);
  snprintf(origin, sizeof origin, "%016llx", (unsigned long long)e->origin);
  for (uint32_t i = 0; i < e->nconfirmed; i++)
    cli_json_push(yes, hex64(e->confirmed[i]));
  for (size_t i = 0; i < st->team->n; i++)
    if (!confirmed_by(e, st->team->ids[i])) cli_json_push(no, hex64(st->team->ids[i]));
  if (st->arr) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "id", cli_json_str(hex));
    cli_json_put(o, "erased_at", cli_json_str(when));
    cli_json_put(o, "origin", cli_json_str(origin));
    cli_json_put(o, "origin_name", cli_replica_name_json(st->r, e->origin));
    cli_json_put(o, "reason", cli_json_str(e->reason));
    cli_json_put(o, "scope", cli_json_str(e->scope == CARNET_ERASE_PERSON ? "person" : "record"));
    cli_json_put(o, "confirmed", yes);
    cli_json_put(o, "pending", no);
    cli_json_push(st->arr, o);
    return 0;
  }
  snprintf(counts, sizeof counts, "%zu/%zu", (size_t)e->nconfirmed,
           (size_t)e->nconfirmed + json_array_size(no));
  const char *row[] = {when, hex, cli_replica_label(st->r, e->origin, by), counts, e->reason};
  cli_table_add(st->table, row);
  json_decref(yes);
  json_decref(no);
  return 0;
}

static int run_erasures(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  team *t = cli_oom(calloc(1, sizeof *t));
  erasures_state st = {NULL, t, NULL, NULL};
  static const char *const headers[] = {"ERASED AT", "CUSTOMER", "BY", "CONFIRMED", "REASON"};
  cli_args a;
  int rc = cli_parse(c, &erasures_usage, argc, argv, &a);
  if (rc) {
    free(t);
    return rc;
  }
  if ((rc = cli_open(c, &r))) goto done;
  t->ids[t->n++] = carnet_replica_id(r);
  int err = carnet_peer_list(r, team_cb, t);
  if (c->json)
    st.arr = cli_oom(json_array());
  else
    st.table = cli_oom(cli_table_new(5, headers));
  st.r = r;
  if (err == 0) err = carnet_erasure_list(r, erasures_cb, &st);
  if (err) {
    rc = cli_fail_rc(c, r, err, "listing erasures");
  } else if (c->json) {
    rc = cli_json_print(c, st.arr);
    st.arr = NULL;
  } else if (cli_table_rows(st.table) == 0) {
    printf("no erasure\n");
  } else {
    cli_table_print(st.table, stdout, 0);
  }
done:
  json_decref(st.arr);
  cli_table_free(st.table);
  free(t);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- subject-export ---------------------------------------------------------------- */

static const cli_opt export_opts[] = {
    {"output", 'o', required_argument, O_OUTPUT, "FILE", "write to FILE instead of stdout"},
    {"archive", 0, no_argument, O_ARCHIVE, NULL,
     "write a zip archive to FILE (-o, required): subject.json and the person's files"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage export_usage = {
    .args = "CUSTOMER",
    .summary = "Everything held on a customer, as JSON (GDPR Art. 15 access, Art. 20 "
               "portability).",
    .opts = export_opts,
    .min_pos = 1,
    .max_pos = 1,
    .more = "The customer with its consents and their dated log, its contacts, documents\n"
            "(with lines and totals), the commercial actions that concern it and its\n"
            "reminders, deleted ones included, and the files attached to any of them\n"
            "(their details; with --archive, their content too, in a zip archive beside\n"
            "subject.json). Nothing of other customers: an action that concerns several\n"
            "customers lists their ids only.",
};

typedef struct export_state {
  json_t *arr;
  json_t *(*fn)(const carnet_record *rec, json_t *labels);
  carnet_id **owners; /* every record exported: its files are the person's */
  size_t *nowners;
} export_state;

static int export_cb(const carnet_record *rec, void *data) {
  export_state *st = data;
  cli_json_push(st->arr, st->fn ? st->fn(rec, NULL) : cli_json_record(rec));
  *st->owners = cli_oom(realloc(*st->owners, (*st->nowners + 1) * sizeof **st->owners));
  (*st->owners)[(*st->nowners)++] = *carnet_record_id(rec);
  return 0;
}

static int run_export(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *cu = NULL;
  json_t *o = NULL, *atts = NULL;
  const char *out = NULL;
  bool archive = false;
  carnet_id *owners = NULL;
  size_t nowners = 0;
  cli_args a;
  int rc = cli_parse(c, &export_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++) {
    if (a.opts[i].id == O_OUTPUT) out = a.opts[i].arg;
    if (a.opts[i].id == O_ARCHIVE) archive = true;
  }
  if (archive && out == NULL) {
    rc = cli_fail(c, CLI_EUSER, "--archive writes a zip file: say where with -o FILE");
    goto done;
  }
  if ((rc = cli_open(c, &r)) || (rc = cli_load(c, r, CARNET_KIND_CUSTOMER, a.pos[0], &cu)))
    goto done;
  static const struct {
    const char *key;
    carnet_kind kind;
    json_t *(*fn)(const carnet_record *rec, json_t *labels);
  } parts[] = {{"contacts", CARNET_KIND_CONTACT, NULL},
               {"documents", CARNET_KIND_DOCUMENT, crm_json_doc},
               {"actions", CARNET_KIND_ACTION, crm_json_action},
               {"reminders", CARNET_KIND_REMINDER, crm_json_reminder}};
  carnet_filter filter = {.customer = carnet_record_id(cu), .include_deleted = true};
  o = cli_oom(json_object());
  cli_json_put(o, "format", cli_json_str("carnet-subject-export-1"));
  cli_json_put(o, "customer", cli_json_record(cu));
  cli_json_put(o, "consents", cli_json_consents(cu));
  cli_json_put(o, "consent_log", cli_json_consent_log(cu));
  owners = cli_oom(malloc(sizeof *owners));
  owners[nowners++] = *carnet_record_id(cu);
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    export_state st = {cli_oom(json_array()), parts[i].fn, &owners, &nowners};
    cli_json_put(o, parts[i].key, st.arr);
    int err = carnet_record_list(r, parts[i].kind, &filter, export_cb, &st);
    if (err) {
      rc = cli_fail_rc(c, r, err, parts[i].key);
      goto done;
    }
  }
  if ((rc = cli_subject_attachments(c, r, owners, nowners, archive, &atts))) goto done;
  cli_json_put(o, "attachments", json_incref(atts));
  if (archive) {
    char *text = cli_oom(json_dumps(o, JSON_INDENT(2)));
    rc = cli_subject_archive(c, r, out, text, atts);
    free(text);
    goto done;
  }
  if (out) {
    /* Personal data: a private file (0600), whole or not at all. */
    char *text = cli_oom(json_dumps(o, JSON_INDENT(2)));
    cli_tmpfile f;
    if ((rc = cli_tmp_open(c, &f, out)) == CLI_OK) {
      if ((rc = cli_tmp_write(c, &f, text, strlen(text))) == CLI_OK &&
          (rc = cli_tmp_write(c, &f, "\n", 1)) == CLI_OK)
        rc = cli_tmp_commit(c, &f);
      else
        cli_tmp_discard(&f);
    }
    free(text);
    goto done;
  }
  if (json_dumpf(o, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF) {
    rc = cli_fail(c, CLI_EINTERNAL, "cannot write the export");
    goto done;
  }
done:
  json_decref(o);
  json_decref(atts);
  free(owners);
  carnet_record_free(cu);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- dispatch ------------------------------------------------------------------------ */

int cli_cmd_erase(cli *c, int argc, char **argv) {
  return run_erase(c, argc, argv);
}

int cli_cmd_erasures(cli *c, int argc, char **argv) {
  return run_erasures(c, argc, argv);
}

int cli_cmd_subject_export(cli *c, int argc, char **argv) {
  return run_export(c, argc, argv);
}
