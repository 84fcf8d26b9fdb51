/* cli/write.c - add, edit and delete: one code path for customers and
 * contacts, so both kinds behave (and fail) the same way.
 */
#include "cli/crm.h"

/* After a write: `add` prints the new record's reference alone (what a
 * person reads and types: CU2611-5T31-0001; the id when it has none, as a
 * contact), `edit` a confirmation; --json prints the record as it now is,
 * its id included (for scripts). */
static int print_written(cli *c, carnet_replica *r, const carnet_id *id, bool created) {
  carnet_record *rec = NULL;
  char hex[CARNET_ID_HEX_LEN + 1];
  int rc;
  if ((rc = carnet_record_get(r, id, &rec))) return cli_fail_rc(c, r, rc, "reading it back");
  if (c->json)
    rc = cli_json_print(c, cli_json_record(rec));
  else if (created)
    printf("%s\n", cli_label(rec, hex));
  else
    printf("updated %s\n", cli_label(rec, hex));
  carnet_record_free(rec);
  return rc;
}

/* A person who was erased (carnet/erase.h) is not re-imported by mistake:
 * a warning when an e-mail or phone of the new customer is on the
 * opposition list. The customer is created all the same. */
static int opposed_warn(cli *c, carnet_replica *r, const carnet_id *id) {
  carnet_erasure e;
  carnet_id cert;
  bool opposed = false;
  char when[32] = "?", hex[CARNET_ID_HEX_LEN + 1];
  int err = carnet_erasure_check_record(r, id, &opposed, &cert);
  if (err) return cli_fail_rc(c, r, err, "checking the opposition list");
  if (!opposed) return CLI_OK;
  if (carnet_erasure_get(r, &cert, &e) == 0) cli_iso_time(e.at, when);
  carnet_id_format(&cert, hex);
  fprintf(stderr,
          "%s: warning: an e-mail or phone of this customer belongs to a person erased at their "
          "request on %s (certificate %s): check that they agree before keeping them\n",
          c->cmd, when, hex);
  return CLI_OK;
}

static int check_fields(cli *c, carnet_kind kind, bool create, uint64_t touched) {
  uint64_t customer = 1ull << CARNET_F_CUSTOMER;
  if (create && kind == CARNET_KIND_CONTACT && !(touched & customer))
    return cli_fail(c, CLI_EUSER, "missing --customer REF: the customer this contact belongs to");
  if (create && (touched & ~customer) == 0)
    return cli_fail(c, CLI_EUSER, "nothing to add: give at least --name (see '%s --help')", c->cmd);
  if (!create && touched == 0)
    return cli_fail(c, CLI_EUSER, "nothing to change: give the fields to change (see '%s --help')",
                    c->cmd);
  return CLI_OK;
}

static int write_entity(cli *c, const cli_usage *u, carnet_kind kind, int argc, char **argv,
                        bool create) {
  carnet_replica *r = NULL;
  carnet_patch *p = NULL;
  carnet_id id;
  uint64_t touched = 0;
  cli_args a;
  int rc = cli_parse(c, u, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r))) goto done;
  if (!create && (rc = cli_resolve(c, r, kind, a.pos[0], &id))) goto done;
  p = cli_oom(carnet_patch_new(kind));
  if ((rc = cli_patch_build(c, r, kind, &a, p, &touched))) goto done;
  if ((rc = check_fields(c, kind, create, touched))) goto done;
  int err;
  if (create && kind == CARNET_KIND_CUSTOMER) {
    /* Create, look for likely duplicates in the same transaction (the new
     * customer's own index keys find them), then commit or abort. */
    bool force = false;
    size_t dupes = 0;
    for (int i = 0; i < a.nopts; i++)
      force |= a.opts[i].id == CLI_O_FORCE;
    carnet_txn *t = NULL;
    if ((err = carnet_txn_begin(r, &t)) == 0 &&
        (err = carnet_record_create(t, p, NULL, &id)) == 0 &&
        (rc = opposed_warn(c, r, &id)) == CLI_OK &&
        (rc = cli_dupes_warn(c, r, &id, force, &dupes)) == CLI_OK && (dupes == 0 || force)) {
      err = carnet_txn_commit(t);
      t = NULL;
    }
    if (t) carnet_txn_abort(t);
    if (rc) goto done;
    if (err == 0 && dupes > 0 && !force) {
      rc = CLI_EUSER;
      goto done;
    }
  } else {
    err = create ? carnet_record_create_commit(r, p, &id) : carnet_record_update_commit(r, &id, p);
  }
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  rc = print_written(c, r, &id, create);
done:
  if (p) carnet_patch_free(p);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

int cli_write_add(cli *c, const cli_usage *u, carnet_kind kind, int argc, char **argv) {
  return write_entity(c, u, kind, argc, argv, true);
}

int cli_write_edit(cli *c, const cli_usage *u, carnet_kind kind, int argc, char **argv) {
  return write_entity(c, u, kind, argc, argv, false);
}

int cli_write_delete(cli *c, const cli_usage *u, carnet_kind kind, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_record *rec = NULL;
  carnet_patch *p = NULL;
  char label[CARNET_ID_HEX_LEN + 1];
  cli_args a;
  int rc = cli_parse(c, u, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r))) goto done;
  if ((rc = cli_load(c, r, kind, a.pos[0], &rec))) goto done;
  if (carnet_record_deleted(rec)) {
    rc = cli_fail(c, CLI_EUSER, "%s %s is already deleted", carnet_kind_name(kind),
                  cli_label(rec, label));
    goto done;
  }
  p = cli_oom(carnet_patch_new(kind));
  int err = carnet_patch_delete(p);
  if (err == 0) err = carnet_record_update_commit(r, carnet_record_id(rec), p);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  printf("deleted %s\n", cli_label(rec, label));
done:
  if (p) carnet_patch_free(p);
  if (rec) carnet_record_free(rec);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
