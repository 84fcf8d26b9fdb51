/* cli/cmd_status.c - `carnet id` (who this replica is: what another replica
 * needs to trust it) and `carnet status` (what it holds and how far each
 * peer has got). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const cli_usage id_usage = {
    .summary = "Show this replica's public key, replica id and tag.",
    .json = true,
    .more = "To trust this replica by hand on another one: carnet peer trust KEY",
};

static const cli_usage status_usage = {
    .summary =
        "Show this replica: identity, record counts, change sequence, erasures awaiting "
        "compaction, and each peer: online or not, last contact, last sync and pending changes.",
    .json = true,
    .more = "An erasure is physical once the data file is compacted: until then its values stay\n"
            "(encrypted) in the file's free pages. 'compaction' says whether erasures wait for\n"
            "it, which ones, and why it has not run (another process has the replica open,\n"
            "or it failed: a full disk); every command and carnet serve try it again.",
};

/* The erasures awaiting compaction (carnet_replica_get_compaction). */
#define COMPACT_SHOWN 256

typedef struct compaction_out {
  carnet_compaction c;
  carnet_id ids[COMPACT_SHOWN];
  size_t n;
} compaction_out;

static const char *compaction_state(const carnet_compaction *c) {
  if (!c->pending) return "done";
  if (c->last_error == CARNET_EBUSY) return "waiting";
  return c->last_error ? "failed" : "pending";
}

typedef struct identity {
  char key[2 * CARNET_PK_BYTES + 1];
  char team[2 * CARNET_TEAM_BYTES + 1];
  char id[17];
} identity;

static int load_identity(cli *c, carnet_replica *r, identity *out) {
  uint8_t pk[CARNET_PK_BYTES], team[CARNET_TEAM_BYTES];
  int err = carnet_replica_get_identity(r, pk, team);
  if (err) return cli_fail_rc(c, r, err, "reading the identity");
  cli_hex(pk, sizeof pk, out->key);
  cli_hex(team, sizeof team, out->team);
  snprintf(out->id, sizeof out->id, "%016llx", (unsigned long long)carnet_replica_id(r));
  return CLI_OK;
}

static void put_identity(json_t *o, carnet_replica *r, const identity *id) {
  cli_json_put(o, "key", cli_json_str(id->key));
  cli_json_put(o, "replica", cli_json_str(id->id));
  cli_json_put(o, "name", cli_replica_name_json(r, carnet_replica_id(r)));
  cli_json_put(o, "tag", cli_json_str(carnet_replica_tag(r)));
  cli_json_put(o, "team", cli_json_str(id->team));
}

int cli_cmd_id(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  identity id;
  cli_args a;
  int rc = cli_parse(c, &id_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = load_identity(c, r, &id))) goto done;
  if (c->json) {
    json_t *o = cli_oom(json_object());
    put_identity(o, r, &id);
    rc = cli_json_print(c, o);
  } else {
    cli_kv(stdout, 9, "key", id.key);
    cli_kv(stdout, 9, "replica", id.id);
    char name[CLI_REPLICA_LABEL];
    if (carnet_replica_name_of(r, carnet_replica_id(r), name, sizeof name) == 0)
      cli_kv(stdout, 9, "name", name);
    cli_kv(stdout, 9, "tag", carnet_replica_tag(r));
    cli_kv(stdout, 9, "team", id.team);
  }
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- status --------------------------------------------------------------- */

typedef struct counts {
  uint64_t live, deleted;
} counts;

static int count_cb(const carnet_record *rec, void *data) {
  counts *n = data;
  if (carnet_record_deleted(rec))
    n->deleted++;
  else
    n->live++;
  return 0;
}

static int count_kind(cli *c, carnet_replica *r, carnet_kind kind, counts *out) {
  carnet_filter f;
  memset(&f, 0, sizeof f);
  f.include_deleted = true;
  memset(out, 0, sizeof *out);
  int err = carnet_record_list(r, kind, &f, count_cb, out);
  return err ? cli_fail_rc(c, r, err, "counting records") : CLI_OK;
}

typedef struct peers_out {
  carnet_replica *r;
  json_t *arr;
  cli_table *t;
} peers_out;

static int status_peer(const carnet_peer_info *p, void *data) {
  peers_out *po = data;
  char key[2 * CARNET_PK_BYTES + 1], id[17], label[CLI_REPLICA_LABEL];
  cli_peer_live l;
  cli_hex(p->pk, CARNET_PK_BYTES, key);
  cli_peer_live_text(p, &l);
  snprintf(id, sizeof id, "%016llx", (unsigned long long)p->replica_id);
  if (po->arr) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "key", cli_json_str(key));
    cli_json_put(o, "replica", p->replica_id ? cli_json_str(id) : json_null());
    cli_json_put(o, "name", cli_replica_name_json(po->r, p->replica_id));
    cli_json_put(o, "addr", p->addr[0] ? cli_json_str(p->addr) : json_null());
    cli_peer_live_json(o, p);
    cli_json_push(po->arr, o);
  } else {
    const char *cells[7] = {p->replica_id ? cli_replica_label(po->r, p->replica_id, label) : "-",
                            p->addr[0] ? p->addr : "-",
                            l.state,
                            l.last_contact[0] ? l.last_contact : "never",
                            l.last_sync[0] ? l.last_sync : "never",
                            l.pending,
                            key};
    cli_table_add(po->t, cells);
  }
  return 0;
}

static json_t *json_counts(const counts *n) {
  json_t *o = cli_oom(json_object());
  cli_json_put(o, "live", json_integer((json_int_t)n->live));
  cli_json_put(o, "deleted", json_integer((json_int_t)n->deleted));
  return o;
}

int cli_cmd_status(cli *c, int argc, char **argv) {
  static const char *const headers[] = {"REPLICA",   "PEER",    "STATE", "LAST CONTACT",
                                        "LAST SYNC", "PENDING", "KEY"};
  carnet_replica *r = NULL;
  identity id;
  counts customers, contacts;
  carnet_key_info ki;
  peers_out po = {NULL, NULL, NULL};
  uint64_t seq;
  compaction_out *cp = NULL;
  json_t *o = NULL;
  cli_args a;
  char line[96];
  int rc = cli_parse(c, &status_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = load_identity(c, r, &id)) ||
      (rc = count_kind(c, r, CARNET_KIND_CUSTOMER, &customers)) ||
      (rc = count_kind(c, r, CARNET_KIND_CONTACT, &contacts)))
    goto done;
  carnet_role role;
  int err = carnet_replica_get_role(r, &role);
  if (err) {
    rc = cli_fail_rc(c, r, err, "reading the role");
    goto done;
  }
  err = carnet_replica_get_key_info(r, &ki);
  if (err) {
    rc = cli_fail_rc(c, r, err, "reading the key record");
    goto done;
  }
  err = carnet_replica_get_seq(r, &seq);
  if (err) {
    rc = cli_fail_rc(c, r, err, "reading the sequence");
    goto done;
  }
  /* This command's own open tried a pending compaction: its outcome is
   * the freshest there is. */
  cp = cli_oom(calloc(1, sizeof *cp));
  err = carnet_replica_get_compaction(r, &cp->c, cp->ids, COMPACT_SHOWN, &cp->n);
  if (err) {
    rc = cli_fail_rc(c, r, err, "reading the compaction state");
    goto done;
  }
  carnet_attach_pending ap;
  if ((err = carnet_attachment_pending(r, &ap))) {
    rc = cli_fail_rc(c, r, err, "counting the attachments");
    goto done;
  }
  if (c->json)
    po.arr = cli_oom(json_array());
  else
    po.t = cli_table_new(7, headers);
  po.r = r;
  if ((err = carnet_peer_list(r, status_peer, &po))) {
    rc = cli_fail_rc(c, r, err, "reading the peers");
    goto done;
  }
  if (c->json) {
    o = cli_oom(json_object());
    put_identity(o, r, &id);
    cli_json_put(o, "dir", cli_json_str(carnet_replica_dir(r)));
    cli_json_put(o, "role", cli_json_str(carnet_role_name(role)));
    cli_json_put(o, "customers", json_counts(&customers));
    cli_json_put(o, "contacts", json_counts(&contacts));
    cli_json_put(o, "seq", json_integer((json_int_t)seq));
    cli_json_put(o, "encryption", cli_json_str(cli_key_kind_text(ki.kind)));
    json_t *co = cli_oom(json_object()), *ids = cli_oom(json_array());
    for (size_t i = 0; i < cp->n; i++) {
      char hex[CARNET_ID_HEX_LEN + 1];
      carnet_id_format(&cp->ids[i], hex);
      cli_json_push(ids, cli_json_str(hex));
    }
    cli_json_put(co, "pending", json_boolean(cp->c.pending));
    cli_json_put(co, "state", cli_json_str(compaction_state(&cp->c)));
    cli_json_put(co, "erasures", json_integer((json_int_t)cp->c.erasures));
    cli_json_put(co, "erased", ids);
    cli_json_put(co, "why",
                 cp->c.pending && cp->c.last_why[0] ? cli_json_str(cp->c.last_why) : json_null());
    cli_json_put(o, "compaction", co);
    json_t *at = cli_oom(json_object());
    cli_json_put(at, "here", json_integer((json_int_t)ap.here));
    cli_json_put(at, "pending_files", json_integer((json_int_t)ap.files));
    cli_json_put(at, "pending_bytes", json_integer((json_int_t)ap.bytes));
    cli_json_put(at, "received_bytes", json_integer((json_int_t)ap.received));
    cli_json_put(at, "not_fetched", json_integer((json_int_t)ap.not_fetched));
    cli_json_put(o, "attachments", at);
    cli_json_put(o, "peers", po.arr);
    po.arr = NULL;
    rc = cli_json_print(c, o);
    goto done;
  }
  cli_kv(stdout, 11, "replica", id.id);
  {
    char name[CLI_REPLICA_LABEL];
    if (carnet_replica_name_of(r, carnet_replica_id(r), name, sizeof name) == 0)
      cli_kv(stdout, 11, "name", name);
  }
  cli_kv(stdout, 11, "tag", carnet_replica_tag(r));
  cli_kv(stdout, 11, "key", id.key);
  cli_kv(stdout, 11, "dir", carnet_replica_dir(r));
  cli_kv(stdout, 11, "role", carnet_role_name(role));
  snprintf(line, sizeof line, "%llu (%llu deleted)", (unsigned long long)customers.live,
           (unsigned long long)customers.deleted);
  cli_kv(stdout, 11, "customers", line);
  snprintf(line, sizeof line, "%llu (%llu deleted)", (unsigned long long)contacts.live,
           (unsigned long long)contacts.deleted);
  cli_kv(stdout, 11, "contacts", line);
  snprintf(line, sizeof line, "%llu", (unsigned long long)seq);
  cli_kv(stdout, 11, "sequence", line);
  /* Encryption at rest is always on; what guards the key is what varies. */
  if (ki.kind == CARNET_KEY_PASSPHRASE)
    snprintf(line, sizeof line, "on, passphrase (Argon2id, %llu passes, %llu MiB)",
             (unsigned long long)ki.opslimit, (unsigned long long)(ki.memlimit >> 20));
  else if (ki.kind == CARNET_KEY_FILE)
    snprintf(line, sizeof line, "on, key file outside the replica directory");
  else
    snprintf(line, sizeof line, "on, key file %s in the replica directory (no passphrase)",
             CARNET_KEY_FILE_NAME);
  cli_kv(stdout, 11, "encryption", line);
  if (!cp->c.pending) {
    cli_kv(stdout, 11, "compaction", "nothing pending");
  } else {
    if (cp->c.erasures)
      snprintf(line, sizeof line, "%s: %llu erasure%s awaiting it", compaction_state(&cp->c),
               (unsigned long long)cp->c.erasures, cp->c.erasures == 1 ? "" : "s");
    else
      snprintf(line, sizeof line, "%s: the data file awaits it", compaction_state(&cp->c));
    cli_kv(stdout, 11, "compaction", line);
    if (cp->c.last_why[0]) printf("%12s%s\n", "", cp->c.last_why);
    for (size_t i = 0; i < cp->n; i++) {
      char hex[CARNET_ID_HEX_LEN + 1];
      carnet_id_format(&cp->ids[i], hex);
      printf("%12serased %s\n", "", hex);
    }
  }
  if (ap.here || ap.files || ap.not_fetched) {
    /* Content waiting to come from the peers (carnet attachment policy). */
    snprintf(line, sizeof line, "%llu here", (unsigned long long)ap.here);
    if (ap.files)
      snprintf(line + strlen(line), sizeof line - strlen(line),
               ", %llu pending (%.1f of %.1f MB received)", (unsigned long long)ap.files,
               (double)ap.received / 1e6, (double)ap.bytes / 1e6);
    if (ap.not_fetched)
      snprintf(line + strlen(line), sizeof line - strlen(line),
               ", %llu left with the peers (policy)", (unsigned long long)ap.not_fetched);
    cli_kv(stdout, 11, "files", line);
  }
  if (cli_table_rows(po.t) == 0) {
    printf("No peers yet ('carnet invite' here, 'carnet join' there).\n");
  } else {
    printf("\n");
    cli_table_print(po.t, stdout, 0);
  }
done:
  free(cp);
  json_decref(po.arr);
  cli_table_free(po.t);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
