/* cli/cmd_customer.c - `carnet customer add|edit|show|list|delete`. */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum {
  O_SEARCH = CLI_O_USER,
  O_TAG,
  O_ROLE,
  O_SALES_REP,
  O_DELETED,
  O_SORT,
  O_REVERSE,
  O_LIMIT,
  O_OFFSET
};

static const cli_opt add_opts[] = {
    {"force", 0, no_argument, CLI_O_FORCE, NULL,
     "create it even when it looks like an existing customer (see 'carnet dupes')"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage add_usage = {
    .summary = "Add a customer and print its reference (--json: the record, id included). A likely "
               "duplicate of an existing customer "
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
    {"sort", 0, required_argument, O_SORT, "KEY",
     "created (default: oldest first), updated (least recently changed first) or name "
     "(alphabetical, accents and case ignored, numbers by value)"},
    {"reverse", 0, no_argument, O_REVERSE, NULL, "the other way round (newest or Z first)"},
    {"limit", 0, required_argument, O_LIMIT, "N", "show at most N customers"},
    {"offset", 0, required_argument, O_OFFSET, "N", "skip the first N customers of the order"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage list_usage = {
    .summary = "List customers, oldest first (or in the order of --sort).",
    .opts = list_opts,
    .json = true,
    .more = "The order is total: created is the time a customer was added here or on another\n"
            "replica (an import adds them in the file's order), updated the time of its last\n"
            "change, name its name (else its company) with case, accents and legal forms\n"
            "ignored; customers equal on the key come in id order. --offset and --limit take\n"
            "a page of that order: --sort name --offset 50 --limit 50 is the second page of\n"
            "fifty.",
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

/* A table holds its rows before it prints them (its columns fit the widest
 * cell), so the human listing keeps each customer's cells, as shown, with
 * its sort key, in one pass through carnet_record_list. --json reads the
 * customers twice: once keeping of each only its id and sort key (tens of
 * bytes), then, in the sorted order, one carnet_record_get per customer
 * shown, each printed and freed at once: the memory of a JSON listing is
 * flat in the records' size, and --limit reads only the page. */

typedef enum list_sort { SORT_CREATED, SORT_UPDATED, SORT_NAME } list_sort;

typedef struct list_item {
  carnet_id id;
  carnet_hlc stamp; /* created or updated */
  char *name;       /* --sort name: the folded name */
  char **cells;     /* the table's row (NULL with --json) */
} list_item;

typedef struct list_state {
  list_sort sort;
  bool rows; /* keep the table's rows */
  list_item *v;
  size_t n, cap;
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

/* The six cells of a customer's row, malloc'd (free with free_row). */
static char **customer_row(const carnet_record *rec) {
  const char *const *emails, *const *phones, *const *tags;
  size_t ne = carnet_record_elems(rec, CARNET_F_EMAILS, &emails);
  size_t np = carnet_record_elems(rec, CARNET_F_PHONES, &phones);
  size_t nt = carnet_record_elems(rec, CARNET_F_TAGS, &tags);
  char hex[CARNET_ID_HEX_LEN + 1];
  const char *city = carnet_record_str(rec, CARNET_F_CITY);
  char **cells = cli_oom(malloc(6 * sizeof *cells));
  cells[0] = cli_oom(strdup(cli_label(rec, hex)));
  cells[1] = display_name(rec);
  cells[2] = cli_oom(strdup(city ? city : ""));
  cells[3] = cli_join(emails, ne, ", ", false);
  cells[4] = cli_join(phones, np, ", ", true);
  cells[5] = cli_join(tags, nt, ", ", false);
  return cells;
}

static void free_row(char **cells) {
  for (int i = 0; cells && i < 6; i++)
    free(cells[i]);
  free(cells);
}

static int collect_cb(const carnet_record *rec, void *data) {
  list_state *st = data;
  if (st->n == st->cap) {
    st->cap = st->cap ? 2 * st->cap : 1024;
    st->v = cli_oom(realloc(st->v, st->cap * sizeof *st->v));
  }
  list_item *it = &st->v[st->n++];
  it->id = *carnet_record_id(rec);
  it->stamp = st->sort == SORT_UPDATED ? carnet_record_updated(rec) : carnet_record_created(rec);
  it->name = NULL;
  it->cells = st->rows ? customer_row(rec) : NULL;
  if (st->sort == SORT_NAME) {
    const char *name = carnet_record_str(rec, CARNET_F_NAME);
    if (name == NULL || name[0] == '\0') name = carnet_record_str(rec, CARNET_F_COMPANY);
    char folded[CARNET_NAME_FOLD_MAX];
    if (name == NULL || carnet_name_fold(name, folded, sizeof folded) != 0) folded[0] = '\0';
    it->name = cli_oom(strdup(folded));
  }
  return 0;
}

/* Folded names in byte order, but a run of digits by its value: "client 2"
 * before "client 10". */
static int name_cmp(const char *a, const char *b) {
  while (*a && *b) {
    if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
      while (*a == '0')
        a++;
      while (*b == '0')
        b++;
      size_t na = 0, nb = 0;
      while (isdigit((unsigned char)a[na]))
        na++;
      while (isdigit((unsigned char)b[nb]))
        nb++;
      if (na != nb) return na < nb ? -1 : 1;
      int c = memcmp(a, b, na);
      if (c) return c;
      a += na;
      b += nb;
      continue;
    }
    if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
    a++;
    b++;
  }
  return *a ? 1 : *b ? -1 : 0;
}

static int item_cmp(const void *x, const void *y) {
  const list_item *a = x, *b = y;
  if (a->name && b->name) {
    int c = name_cmp(a->name, b->name);
    if (c) return c;
  } else if (a->stamp != b->stamp) {
    return a->stamp < b->stamp ? -1 : 1;
  }
  return memcmp(a->id.b, b->id.b, sizeof a->id.b);
}

static bool filter_from(cli *c, const cli_args *a, carnet_filter *f, list_sort *sort, bool *reverse,
                        uint64_t *limit, uint64_t *offset, int *rc) {
  memset(f, 0, sizeof *f);
  *sort = SORT_CREATED;
  *reverse = false;
  *limit = UINT64_MAX;
  *offset = 0;
  *rc = CLI_OK;
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
    case O_SORT:
      if (strcmp(v, "created") == 0)
        *sort = SORT_CREATED;
      else if (strcmp(v, "updated") == 0)
        *sort = SORT_UPDATED;
      else if (strcmp(v, "name") == 0)
        *sort = SORT_NAME;
      else
        *rc = cli_fail(c, CLI_EUSER, "invalid --sort '%s': name, created or updated", v);
      break;
    case O_REVERSE:
      *reverse = true;
      break;
    case O_LIMIT:
    case O_OFFSET:
      if (!cli_parse_u64(v, a->opts[i].id == O_LIMIT ? limit : offset))
        *rc = cli_fail(c, CLI_EUSER, "invalid --%s '%s': a whole number",
                       a->opts[i].id == O_LIMIT ? "limit" : "offset", v);
      break;
    }
  }
  return f->text || f->tag || f->role || f->sales_rep;
}

static void print_table(const cli_table *t, bool filtered, bool paged) {
  if (cli_table_rows(t) > 0)
    cli_table_print(t, stdout, 0);
  else if (filtered || paged)
    printf("No customer matches.\n");
  else
    printf("No customers yet: add one with 'carnet customer add --name NAME'.\n");
}

/* The page [offset, offset + limit) of the sorted items, read and shown
 * one by one. */
static int show_page(cli *c, carnet_replica *r, const list_state *st, bool reverse, uint64_t limit,
                     uint64_t offset, cli_table *table) {
  size_t shown = 0;
  for (uint64_t k = offset; k < st->n && shown < limit; k++) {
    const list_item *it = &st->v[reverse ? st->n - 1 - k : k];
    if (table) {
      cli_table_add(table, (const char *const *)it->cells);
      shown++;
      continue;
    }
    carnet_record *rec = NULL;
    int err = carnet_record_get(r, &it->id, &rec);
    if (err == CARNET_ENOTFOUND) continue; /* erased or merged away since the first pass */
    if (err) return cli_fail_rc(c, r, err, NULL);
    char *text = cli_json_chunk(shown, cli_json_record(rec));
    if (fputs(text, stdout) < 0) err = -1;
    free(text);
    carnet_record_free(rec);
    if (err) return cli_fail(c, CLI_EINTERNAL, "cannot write the output");
    shown++;
  }
  if (table == NULL && fputs(cli_json_chunk_end(shown), stdout) < 0)
    return cli_fail(c, CLI_EINTERNAL, "cannot write the output");
  return CLI_OK;
}

static int run_list(cli *c, int argc, char **argv) {
  static const char *const headers[] = {"REF", "NAME", "CITY", "EMAILS", "PHONES", "TAGS"};
  carnet_replica *r = NULL;
  carnet_filter filter;
  list_state st = {SORT_CREATED, !c->json, NULL, 0, 0};
  cli_table *table = NULL;
  bool reverse;
  uint64_t limit, offset;
  cli_args a;
  int rc = cli_parse(c, &list_usage, argc, argv, &a);
  if (rc) return rc;
  bool filtered = filter_from(c, &a, &filter, &st.sort, &reverse, &limit, &offset, &rc);
  if (rc || (rc = cli_open(c, &r))) goto done;
  int err = carnet_record_list(r, CARNET_KIND_CUSTOMER, &filter, collect_cb, &st);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  if (st.n > 1) qsort(st.v, st.n, sizeof *st.v, item_cmp);
  if (!c->json) table = cli_table_new(6, headers);
  rc = show_page(c, r, &st, reverse, limit, offset, table);
  if (rc == CLI_OK && table) print_table(table, filtered, offset > 0 || limit < st.n);
done:
  for (size_t i = 0; i < st.n; i++) {
    free(st.v[i].name);
    free_row(st.v[i].cells);
  }
  free(st.v);
  cli_table_free(table);
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
