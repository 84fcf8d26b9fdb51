/* cli/cmd_customer.c - `carnet customer add|edit|show|list|delete`. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { O_SEARCH = CLI_O_USER, O_TAG, O_ROLE, O_SALES_REP, O_DELETED };

static const cli_opt add_opts[] = {
    {"force", 0, no_argument, CLI_O_FORCE, NULL,
     "create it even when it looks like an existing customer (see 'carnet dupes')"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage add_usage = {
    .summary = "Add a customer and print its id. A likely duplicate of an existing customer "
               "(same phone, e-mail or SIRET, or a similar name in the same postcode or city) "
               "is refused with the customer it resembles, unless --force is given.",
    .opts = add_opts,
    .field_kind = CARNET_KIND_CUSTOMER,
    .json = true,
    .more = "Example: carnet customer add --name \"Dupont SARL\" --company --email "
            "contact@dupont.fr --phone \"06 12 34 56 78\"",
};

static const cli_usage edit_usage = {
    .args = "REF",
    .summary = "Change fields of a customer. REF is its reference code, id or id prefix.",
    .field_kind = CARNET_KIND_CUSTOMER,
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "--email, --phone, --tag and --role add to what is there, --remove-email,\n"
            "--remove-phone, --untag and --remove-role take away; an empty value clears a\n"
            "field: --notes ''.",
};

static const cli_usage show_usage = {
    .args = "REF",
    .summary = "Show a customer with its consents and contacts.",
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
};

static const cli_opt list_opts[] = {
    {"search", 0, required_argument, O_SEARCH, "TEXT",
     "only those whose name, company, e-mail, phone, city, reference or notes contain TEXT"},
    {"tag", 0, required_argument, O_TAG, "TAG", "only those with this tag"},
    {"role", 0, required_argument, O_ROLE, "ROLE", "only prospects, customers or suppliers"},
    {"sales-rep", 0, required_argument, O_SALES_REP, "REP", "only those of this sales rep"},
    {"deleted", 0, no_argument, O_DELETED, NULL, "include deleted customers"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage list_usage = {
    .summary = "List customers, oldest first.",
    .opts = list_opts,
    .json = true,
};

static const cli_usage delete_usage = {
    .args = "REF",
    .summary = "Delete a customer ('list --deleted' still shows it).",
    .min_pos = 1,
    .max_pos = 1,
};

static int run_add(cli *c, int argc, char **argv) {
  return cli_write_add(c, &add_usage, CARNET_KIND_CUSTOMER, argc, argv);
}

static int run_edit(cli *c, int argc, char **argv) {
  return cli_write_edit(c, &edit_usage, CARNET_KIND_CUSTOMER, argc, argv);
}

static int run_delete(cli *c, int argc, char **argv) {
  return cli_write_delete(c, &delete_usage, CARNET_KIND_CUSTOMER, argc, argv);
}

static int run_show(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *rec = NULL;
  cli_args a;
  int rc = cli_parse(c, &show_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = cli_load(c, r, CARNET_KIND_CUSTOMER, a.pos[0], &rec)))
    goto done;
  if (c->json) {
    json_t *o = cli_json_record(rec), *contacts = cli_oom(json_array());
    cli_json_put(o, "contacts", contacts);
    rc = cli_contacts_of(c, r, carnet_record_id(rec), contacts, NULL);
    if (rc == CLI_OK)
      rc = cli_json_print(c, o);
    else
      json_decref(o);
  } else {
    cli_show_fields_marked(stdout, rec, cli_conflict_fields(r, carnet_record_id(rec)));
    if ((rc = cli_show_conflicts(c, r, carnet_record_id(rec), NULL, stdout))) goto done;
    cli_show_consents(stdout, rec);
    rc = cli_contacts_of(c, r, carnet_record_id(rec), NULL, stdout);
  }
done:
  if (rec) carnet_record_free(rec);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- list ----------------------------------------------------------------- */

typedef struct list_state {
  cli_table *table; /* human output */
  json_t *arr;      /* --json */
} list_state;

/* "Jean Dupont (Dupont SARL)", or whichever of the two is set. */
static char *display_name(const carnet_record *rec) {
  const char *name = carnet_record_str(rec, CARNET_F_NAME);
  const char *company = carnet_record_str(rec, CARNET_F_COMPANY);
  const char *mark = carnet_record_deleted(rec) ? " [deleted]" : "";
  size_t len = (name ? strlen(name) : 0) + (company ? strlen(company) : 0) + 32;
  char *out = cli_oom(malloc(len));
  if (name && name[0] && company && company[0] && strcmp(name, company) != 0)
    snprintf(out, len, "%s (%s)%s", name, company, mark);
  else
    snprintf(out, len, "%s%s", name && name[0] ? name : (company ? company : ""), mark);
  return out;
}

static void customer_row(cli_table *t, const carnet_record *rec) {
  const char *const *emails, *const *phones, *const *tags;
  size_t ne = carnet_record_elems(rec, CARNET_F_EMAILS, &emails);
  size_t np = carnet_record_elems(rec, CARNET_F_PHONES, &phones);
  size_t nt = carnet_record_elems(rec, CARNET_F_TAGS, &tags);
  char hex[CARNET_ID_HEX_LEN + 1];
  char *cells[6] = {
      (char *)cli_label(rec, hex),
      display_name(rec),
      (char *)carnet_record_str(rec, CARNET_F_CITY),
      cli_join(emails, ne, ", ", false),
      cli_join(phones, np, ", ", true),
      cli_join(tags, nt, ", ", false),
  };
  cli_table_add(t, (const char *const *)cells);
  for (int i = 1; i < 6; i++)
    if (i != 2) free(cells[i]);
}

static int list_cb(const carnet_record *rec, void *data) {
  list_state *st = data;
  if (st->arr)
    cli_json_push(st->arr, cli_json_record(rec));
  else
    customer_row(st->table, rec);
  return 0;
}

static bool filter_from(const cli_args *a, carnet_filter *f) {
  memset(f, 0, sizeof *f);
  for (int i = 0; i < a->nopts; i++) {
    const char *v = a->opts[i].arg;
    switch (a->opts[i].id) {
    case O_SEARCH:
      f->text = v;
      break;
    case O_TAG:
      f->tag = v;
      break;
    case O_ROLE:
      f->role = v;
      break;
    case O_SALES_REP:
      f->sales_rep = v;
      break;
    case O_DELETED:
      f->include_deleted = true;
      break;
    }
  }
  return f->text || f->tag || f->role || f->sales_rep;
}

static void print_table(const cli_table *t, bool filtered) {
  if (cli_table_rows(t) > 0)
    cli_table_print(t, stdout, 0);
  else if (filtered)
    printf("No customer matches.\n");
  else
    printf("No customers yet: add one with 'carnet customer add --name NAME'.\n");
}

static int run_list(cli *c, int argc, char **argv) {
  static const char *const headers[] = {"REF", "NAME", "CITY", "EMAILS", "PHONES", "TAGS"};
  carnet_replica *r = NULL;
  carnet_filter filter;
  list_state st = {NULL, NULL};
  cli_args a;
  int rc = cli_parse(c, &list_usage, argc, argv, &a);
  if (rc) return rc;
  bool filtered = filter_from(&a, &filter);
  if ((rc = cli_open(c, &r))) goto done;
  if (c->json)
    st.arr = cli_oom(json_array());
  else
    st.table = cli_table_new(6, headers);
  int err = carnet_record_list(r, CARNET_KIND_CUSTOMER, &filter, list_cb, &st);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
  } else if (st.arr) {
    rc = cli_json_print(c, st.arr);
    st.arr = NULL;
  } else {
    print_table(st.table, filtered);
  }
done:
  json_decref(st.arr);
  cli_table_free(st.table);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static const cli_sub subs[] = {
    {"add", run_add, "add a customer"},
    {"edit", run_edit, "change fields of a customer"},
    {"show", run_show, "show a customer, its consents and contacts"},
    {"list", run_list, "list and search customers"},
    {"delete", run_delete, "delete a customer"},
    {NULL, NULL, NULL},
};

int cli_cmd_customer(cli *c, int argc, char **argv) {
  return cli_dispatch(c, subs, "Add, change, show, list and delete customers.", argc, argv);
}
