/* cli/cmd_conflicts.c - concurrent edits made visible (carnet/conflict.h):
 *
 *   carnet conflicts [--since DATE] [--json]   the values that lost a merge here
 *   carnet conflicts restore ID                put one back, as a new edit
 *
 * and the section `carnet customer show` prints (cli_show_conflicts).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

enum { O_SINCE = CLI_O_USER };

static const cli_opt list_opts[] = {
    {"since", 0, required_argument, O_SINCE, "DATE",
     "only the conflicts merged on or after DATE (YYYY-MM-DD, local time)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage list_usage = {
    .args = "[restore ID]",
    .summary = "List the values that lost to a concurrent edit, with the replica and time of "
               "each version.",
    .opts = list_opts,
    .json = true,
    .more = "commands:\n"
            "  restore ID  put the losing value of conflict ID back, as a new edit\n"
            "\n"
            "When two replicas change the same field of a customer or contact while apart,\n"
            "the later edit wins everywhere; each replica that merges its own unsynced edit\n"
            "with the other one keeps the losing value here for 90 days (16 per record at\n"
            "most). 'carnet conflicts restore ID' puts it back. Erasing a customer removes\n"
            "its conflicts.",
};

static const cli_usage restore_usage = {
    .args = "ID",
    .summary = "Put the losing value of a conflict back into its field, as a new edit that "
               "syncs like any other.",
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "ID is the conflict's id from 'carnet conflicts'. The conflict stays listed,\n"
            "marked restored.",
};

/* YYYY-MM-DD at 00:00 local time, in ms since the epoch. */
static bool parse_since(const char *s, uint64_t *ms) {
  struct tm tm;
  if (!carnet_date_valid(s)) return false;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = atoi(s) - 1900;
  tm.tm_mon = atoi(s + 5) - 1;
  tm.tm_mday = atoi(s + 8);
  tm.tm_isdst = -1;
  time_t t = mktime(&tm);
  if (t < 0) return false;
  *ms = (uint64_t)t * 1000u;
  return true;
}

static void hex64(uint64_t v, char out[17]) {
  snprintf(out, 17, "%016llx", (unsigned long long)v);
}

static const char *shown(const char *v) {
  return v ? v : "(cleared)";
}

json_t *cli_json_conflict(carnet_replica *r, const carnet_conflict *cf, const char *record) {
  char lost_at[32], won_at[32], noted[32], by[17], wby[17], hex[CARNET_ID_HEX_LEN + 1];
  json_t *o = cli_oom(json_object());
  carnet_id_format(&cf->id, hex);
  cli_iso_time(cf->lost_at, lost_at);
  cli_iso_time(cf->won_at, won_at);
  cli_iso_time((carnet_hlc)cf->noted_ms << 16, noted);
  hex64(cf->lost_by, by);
  hex64(cf->won_by, wby);
  cli_json_put(o, "id", cli_json_str(cf->cid));
  cli_json_put(o, "record", cli_json_str(hex));
  if (record) cli_json_put(o, "ref", cli_json_str(record));
  cli_json_put(o, "kind", cli_json_str(carnet_kind_name(cf->kind)));
  cli_json_put(o, "field", cli_json_str(carnet_field_get(cf->field)->name));
  cli_json_put(o, "lost", cli_json_str(cf->lost));
  cli_json_put(o, "lost_by", cli_json_str(by));
  cli_json_put(o, "lost_by_name", cli_replica_name_json(r, cf->lost_by));
  cli_json_put(o, "lost_at", cli_json_str(lost_at));
  cli_json_put(o, "won", cli_json_str(cf->won));
  cli_json_put(o, "won_by", cli_json_str(wby));
  cli_json_put(o, "won_by_name", cli_replica_name_json(r, cf->won_by));
  cli_json_put(o, "won_at", cli_json_str(won_at));
  cli_json_put(o, "merged_at", cli_json_str(noted));
  cli_json_put(o, "current", cli_json_str(cf->current));
  cli_json_put(o, "restored", json_boolean(cf->restored));
  return o;
}

typedef struct list_state {
  carnet_replica *r;
  cli_table *table;
  json_t *arr;
} list_state;

static int list_cb(const carnet_conflict *cf, void *data) {
  list_state *st = data;
  char label_buf[CARNET_ID_HEX_LEN + 1], lost_at[32], by[CLI_REPLICA_LABEL];
  const char *label = NULL;
  carnet_record *rec = NULL;
  if (carnet_record_get(st->r, &cf->id, &rec) == 0) label = cli_label(rec, label_buf);
  if (label == NULL) {
    carnet_id_format(&cf->id, label_buf);
    label = label_buf;
  }
  if (st->arr) {
    cli_json_push(st->arr, cli_json_conflict(st->r, cf, label));
  } else {
    cli_iso_time(cf->lost_at, lost_at);
    cli_replica_label(st->r, cf->lost_by, by);
    const char *row[] = {
        cf->cid, label,          carnet_field_get(cf->field)->name, shown(cf->lost), by,
        lost_at, shown(cf->won), cf->restored ? "restored" : "lost"};
    cli_table_add(st->table, row);
  }
  if (rec) carnet_record_free(rec);
  return 0;
}

static int run_list(cli *c, int argc, char **argv) {
  static const char *const headers[] = {"ID", "RECORD",     "FIELD",      "LOST VALUE",
                                        "BY", "WRITTEN AT", "KEPT VALUE", "STATE"};
  carnet_replica *r = NULL;
  list_state st = {0};
  uint64_t since = 0;
  cli_args a;
  int rc = cli_parse(c, &list_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++)
    if (a.opts[i].id == O_SINCE && !parse_since(a.opts[i].arg, &since)) {
      rc = cli_fail(c, CLI_EUSER, "invalid --since '%s': give a date YYYY-MM-DD", a.opts[i].arg);
      goto done;
    }
  if ((rc = cli_open(c, &r))) goto done;
  st.r = r;
  if (c->json)
    st.arr = cli_oom(json_array());
  else
    st.table = cli_oom(cli_table_new(8, headers));
  int err = carnet_conflict_list(r, NULL, since, list_cb, &st);
  if (err) {
    rc = cli_fail_rc(c, r, err, "listing conflicts");
  } else if (c->json) {
    rc = cli_json_print(c, st.arr);
    st.arr = NULL;
  } else if (cli_table_rows(st.table) == 0) {
    printf("no conflict\n");
  } else {
    cli_table_print(st.table, stdout, 0);
  }
done:
  json_decref(st.arr);
  cli_table_free(st.table);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int run_restore(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_conflict cf;
  cli_args a;
  int rc = cli_parse(c, &restore_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r))) goto done;
  int err = carnet_conflict_restore(r, a.pos[0], &cf);
  if (err) {
    rc = cli_fail_rc(c, r, err, "restoring the conflict");
    goto done;
  }
  if (c->json) {
    rc = cli_json_print(c, cli_json_conflict(r, &cf, NULL));
  } else {
    char hex[CARNET_ID_HEX_LEN + 1];
    carnet_id_format(&cf.id, hex);
    printf("restored %s of %s %s\n", carnet_field_get(cf.field)->name, carnet_kind_name(cf.kind),
           hex);
  }
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

int cli_cmd_conflicts(cli *c, int argc, char **argv) {
  static const cli_sub subs[] = {
      {"restore", run_restore, "put the losing value of a conflict back, as a new edit"},
      {NULL, NULL, NULL},
  };
  if (argc >= 2 && strcmp(argv[1], "restore") == 0)
    return cli_dispatch(c, subs, "Concurrent edits.", argc, argv);
  return run_list(c, argc, argv);
}

/* --- in `customer show` ------------------------------------------------------- */

typedef struct show_state {
  carnet_replica *r;
  FILE *f;
  json_t *arr;
  int n;
} show_state;

static int show_cb(const carnet_conflict *cf, void *data) {
  show_state *st = data;
  char lost_at[32], by[CLI_REPLICA_LABEL];
  if (st->arr) {
    cli_json_push(st->arr, cli_json_conflict(st->r, cf, NULL));
    return 0;
  }
  if (st->n++ == 0) fprintf(st->f, "conflicts:\n");
  cli_iso_time(cf->lost_at, lost_at);
  cli_replica_label(st->r, cf->lost_by, by);
  fprintf(st->f, "  %-10s '%s' (replica %s, %s) lost to '%s'", carnet_field_get(cf->field)->name,
          shown(cf->lost), by, lost_at, shown(cf->won));
  if (cf->restored)
    fprintf(st->f, "; restored");
  else
    fprintf(st->f, ": carnet conflicts restore %s", cf->cid);
  fputc('\n', st->f);
  return 0;
}

int cli_show_conflicts(cli *c, carnet_replica *r, const carnet_id *id, json_t *arr, FILE *f) {
  show_state st = {.r = r, .f = f, .arr = arr};
  int err = carnet_conflict_list(r, id, 0, show_cb, &st);
  return err ? cli_fail_rc(c, r, err, "reading the conflicts") : CLI_OK;
}

/* The fields of `id` that hold a value other than the one they kept after
 * a conflict (not restored), as a bit set by field number. */
static int mark_cb(const carnet_conflict *cf, void *data) {
  uint64_t *bits = data;
  if (!cf->restored && cf->field < 64) *bits |= 1ull << cf->field;
  return 0;
}

uint64_t cli_conflict_fields(carnet_replica *r, const carnet_id *id) {
  uint64_t bits = 0;
  if (carnet_conflict_list(r, id, 0, mark_cb, &bits) != 0) return 0;
  return bits;
}
