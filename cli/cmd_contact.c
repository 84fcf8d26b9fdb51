/* cli/cmd_contact.c - `carnet contact add|edit|show|list|delete`: people and
 * alternate addresses attached to a customer.
 *
 * carnet_record_list must not call back into the replica from its callback (the
 * listing holds a read transaction), so customer labels for the table are
 * gathered before the contacts are listed.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { O_CUSTOMER = CLI_O_USER };

static const cli_usage add_usage = {
    .summary = "Add a contact to a customer and print its id.",
    .field_kind = CARNET_KIND_CONTACT,
    .json = true,
    .more = "Example: carnet contact add --customer C-AB12-0001 --name \"Marie Curie\" --role "
            "director --email marie@dupont.fr",
};

static const cli_usage edit_usage = {
    .args = "ID",
    .summary = "Change fields of a contact. ID is its id or an id prefix.",
    .field_kind = CARNET_KIND_CONTACT,
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
};

static const cli_usage show_usage = {
    .args = "ID",
    .summary = "Show a contact.",
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
};

static const cli_opt list_opts[] = {
    {"customer", 0, required_argument, O_CUSTOMER, "REF", "only the contacts of this customer"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage list_usage = {
    .summary = "List contacts, oldest first.",
    .opts = list_opts,
    .json = true,
};

static const cli_usage delete_usage = {
    .args = "ID",
    .summary = "Delete a contact.",
    .min_pos = 1,
    .max_pos = 1,
};

static int run_add(cli *c, int argc, char **argv) {
  return cli_write_add(c, &add_usage, CARNET_KIND_CONTACT, argc, argv);
}

static int run_edit(cli *c, int argc, char **argv) {
  return cli_write_edit(c, &edit_usage, CARNET_KIND_CONTACT, argc, argv);
}

static int run_delete(cli *c, int argc, char **argv) {
  return cli_write_delete(c, &delete_usage, CARNET_KIND_CONTACT, argc, argv);
}

/* --- Customer labels ------------------------------------------------------ */

/* hex id -> "C-AB12-0001 Dupont SARL" */
static int label_cb(const carnet_record *rec, void *data) {
  char hex[CARNET_ID_HEX_LEN + 1], ref[CARNET_ID_HEX_LEN + 1], label[256];
  const char *name = carnet_record_str(rec, CARNET_F_NAME);
  if (name == NULL) name = carnet_record_str(rec, CARNET_F_COMPANY);
  carnet_id_format(carnet_record_id(rec), hex);
  snprintf(label, sizeof label, "%s%s%s", cli_label(rec, ref), name ? " " : "", name ? name : "");
  cli_json_put(data, hex, cli_json_str(label));
  return 0;
}

static int customer_labels(cli *c, carnet_replica *r, json_t **out) {
  carnet_filter all = {.include_deleted = true};
  *out = cli_oom(json_object());
  int err = carnet_record_list(r, CARNET_KIND_CUSTOMER, &all, label_cb, *out);
  return err ? cli_fail_rc(c, r, err, NULL) : CLI_OK;
}

static const char *label_of(json_t *labels, const char *hex) {
  const char *s = hex ? json_string_value(json_object_get(labels, hex)) : NULL;
  return s ? s : (hex ? hex : "");
}

/* --- Rows --------------------------------------------------------------- */

typedef struct rows_state {
  json_t *arr;      /* --json */
  cli_table *table; /* human */
  json_t *labels;   /* customer labels, for the CUSTOMER column; NULL: no column */
} rows_state;

static void contact_row(rows_state *st, const carnet_record *rec) {
  const char *const *emails, *const *phones;
  size_t ne = carnet_record_elems(rec, CARNET_F_EMAILS, &emails);
  size_t np = carnet_record_elems(rec, CARNET_F_PHONES, &phones);
  char hex[CARNET_ID_HEX_LEN + 1];
  const char *name = carnet_record_str(rec, CARNET_F_NAME);
  const char *role = carnet_record_str(rec, CARNET_F_ROLE);
  char *e = cli_join(emails, ne, ", ", false), *p = cli_join(phones, np, ", ", true);
  carnet_id_format(carnet_record_id(rec), hex);
  if (st->labels) {
    const char *row[] = {
        hex, name, role, label_of(st->labels, carnet_record_str(rec, CARNET_F_CUSTOMER)), e, p};
    cli_table_add(st->table, row);
  } else {
    const char *row[] = {name, role, e, p, hex};
    cli_table_add(st->table, row);
  }
  free(e);
  free(p);
}

static int rows_cb(const carnet_record *rec, void *data) {
  rows_state *st = data;
  if (st->arr)
    cli_json_push(st->arr, cli_json_record(rec));
  else
    contact_row(st, rec);
  return 0;
}

int cli_contacts_of(cli *c, carnet_replica *r, const carnet_id *customer, json_t *arr,
                    FILE *human) {
  static const char *const headers[] = {"NAME", "ROLE", "EMAILS", "PHONES", "ID"};
  carnet_filter f = {.customer = customer};
  rows_state st = {arr, arr ? NULL : cli_table_new(5, headers), NULL};
  int err = carnet_record_list(r, CARNET_KIND_CONTACT, &f, rows_cb, &st), rc = CLI_OK;
  if (err) {
    rc = cli_fail_rc(c, r, err, "listing contacts");
  } else if (human && cli_table_rows(st.table) == 0) {
    fprintf(human, "contacts:   none\n");
  } else if (human) {
    fprintf(human, "contacts:\n");
    cli_table_print(st.table, human, 2);
  }
  cli_table_free(st.table);
  return rc;
}

/* --- show, list ------------------------------------------------------------ */

static void show_human(cli *c, carnet_replica *r, const carnet_record *rec) {
  const char *hex = carnet_record_str(rec, CARNET_F_CUSTOMER);
  carnet_record *cust = NULL;
  carnet_id id;
  char ref[CARNET_ID_HEX_LEN + 1], line[256];
  if (hex && carnet_id_parse(hex, &id) == 0 && carnet_record_get(r, &id, &cust) == 0) {
    const char *name = carnet_record_str(cust, CARNET_F_NAME);
    snprintf(line, sizeof line, "%s%s%s", cli_label(cust, ref), name ? " " : "", name ? name : "");
    hex = line;
    carnet_record_free(cust);
  }
  if (hex) cli_kv(stdout, CLI_LABEL_W, "customer", hex);
  cli_show_fields(stdout, rec);
}

static int run_show(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *rec = NULL;
  cli_args a;
  int rc = cli_parse(c, &show_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = cli_load(c, r, CARNET_KIND_CONTACT, a.pos[0], &rec)))
    goto done;
  if (c->json)
    rc = cli_json_print(c, cli_json_record(rec));
  else
    show_human(c, r, rec);
done:
  if (rec) carnet_record_free(rec);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int list_rows(cli *c, carnet_replica *r, const char *customer_ref, rows_state *st) {
  carnet_id id;
  carnet_filter f = {.customer = customer_ref ? &id : NULL};
  int rc;
  if (customer_ref && (rc = cli_resolve(c, r, CARNET_KIND_CUSTOMER, customer_ref, &id))) return rc;
  int err = carnet_record_list(r, CARNET_KIND_CONTACT, &f, rows_cb, st);
  return err ? cli_fail_rc(c, r, err, NULL) : CLI_OK;
}

static int run_list(cli *c, int argc, char **argv) {
  static const char *const headers[] = {"ID", "NAME", "ROLE", "CUSTOMER", "EMAILS", "PHONES"};
  carnet_replica *r = NULL;
  rows_state st = {NULL, NULL, NULL};
  const char *customer = NULL;
  cli_args a;
  int rc = cli_parse(c, &list_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++)
    if (a.opts[i].id == O_CUSTOMER) customer = a.opts[i].arg;
  if ((rc = cli_open(c, &r))) goto done;
  if (c->json) {
    st.arr = cli_oom(json_array());
  } else {
    st.table = cli_table_new(6, headers);
    if ((rc = customer_labels(c, r, &st.labels))) goto done;
  }
  if ((rc = list_rows(c, r, customer, &st))) goto done;
  if (st.arr) {
    rc = cli_json_print(c, st.arr);
    st.arr = NULL;
  } else if (cli_table_rows(st.table) == 0) {
    printf("No contacts%s.\n", customer ? " for this customer" : " yet");
  } else {
    cli_table_print(st.table, stdout, 0);
  }
done:
  json_decref(st.arr);
  json_decref(st.labels);
  cli_table_free(st.table);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static const cli_sub subs[] = {
    {"add", run_add, "add a contact to a customer"},
    {"edit", run_edit, "change fields of a contact"},
    {"show", run_show, "show a contact"},
    {"list", run_list, "list contacts, of one customer or all"},
    {"delete", run_delete, "delete a contact"},
    {NULL, NULL, NULL},
};

int cli_cmd_contact(cli *c, int argc, char **argv) {
  return cli_dispatch(c, subs,
                      "Add, change, show, list and delete the contacts of customers (director, "
                      "assistant, delivery address...).",
                      argc, argv);
}
