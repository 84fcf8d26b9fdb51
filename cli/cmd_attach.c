/* cli/cmd_attach.c - files attached to customers, contacts, documents and
 * actions (carnet/attach.h):
 *
 *   carnet attach OWNER FILE [--caption TEXT] [--name NAME] [--type MEDIA]
 *   carnet attachments OWNER [--deleted] [--json]
 *   carnet attachment show|get|delete|policy ...
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/node.h"
#include "cli/cli.h"

enum {
  O_CAPTION = CLI_O_USER,
  O_NAME,
  O_TYPE,
  O_DELETED,
  O_OUT,
  O_FETCH,
  O_FETCH_MAX,
  O_MAX_SIZE,
  O_SEND_RATE,
  O_TIMEOUT,
  O_NO_FETCH
};

/* --- shared -------------------------------------------------------------------- */

/* What the user typed as an owner: a customer's reference code or id, a
 * document number, or the id (prefix) of a contact, document or action. */
static int resolve_owner(cli *c, carnet_replica *r, const char *ref, carnet_id *out) {
  static const carnet_kind kinds[] = {CARNET_KIND_CUSTOMER, CARNET_KIND_DOCUMENT,
                                      CARNET_KIND_CONTACT, CARNET_KIND_ACTION};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    int rc = carnet_record_resolve(r, kinds[i], ref, out);
    if (rc == 0) return CLI_OK;
    if (rc == CARNET_EAMBIGUOUS)
      return cli_fail(c, CLI_EUSER, "'%s' matches several records: type more characters", ref);
    if (rc != CARNET_ENOTFOUND && rc != CARNET_EINVAL) return cli_fail_rc(c, r, rc, ref);
  }
  return cli_fail(c, CLI_EUSER,
                  "no customer, contact, document or action '%s' (give a reference code, a "
                  "document number, an id or an id prefix of 6 or more characters)",
                  ref);
}

static int resolve_attachment(cli *c, carnet_replica *r, const char *ref, carnet_id *out) {
  int rc = carnet_record_resolve(r, CARNET_KIND_ATTACHMENT, ref, out);
  if (rc == CARNET_ENOTFOUND)
    return cli_fail(c, CLI_EUSER, "no attachment '%s' (see 'carnet attachments OWNER')", ref);
  if (rc == CARNET_EAMBIGUOUS)
    return cli_fail(c, CLI_EUSER, "'%s' matches several attachments: type more characters", ref);
  return rc ? cli_fail_rc(c, r, rc, ref) : CLI_OK;
}

/* "12 KB", "3.4 MB" (decimal units, as file managers show sizes). */
static void human_size(uint64_t n, char out[32]) {
  if (n < 1000)
    snprintf(out, 32, "%" PRIu64 " B", n);
  else if (n < 1000 * 1000)
    snprintf(out, 32, "%.1f KB", (double)n / 1e3);
  else if (n < 1000ull * 1000 * 1000)
    snprintf(out, 32, "%.1f MB", (double)n / 1e6);
  else
    snprintf(out, 32, "%.2f GB", (double)n / 1e9);
}

/* "5000000", "100MB", "100M", "1.5GB", "64KiB". */
static bool parse_size(const char *s, uint64_t *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0) return false;
  while (*end == ' ')
    end++;
  static const struct {
    const char *unit;
    double mul;
  } units[] = {{"", 1},         {"B", 1},           {"K", 1e3},           {"KB", 1e3},
               {"M", 1e6},      {"MB", 1e6},        {"G", 1e9},           {"GB", 1e9},
               {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcasecmp(end, units[i].unit) == 0) {
      double b = v * units[i].mul;
      if (b > 1e19) return false;
      *out = (uint64_t)(b + 0.5);
      return true;
    }
  }
  return false;
}

json_t *cli_json_attachment(const carnet_attachment *a) {
  char hex[CARNET_ID_HEX_LEN + 1], hash[65], when[32];
  json_t *o = cli_oom(json_object());
  carnet_id_format(&a->id, hex);
  cli_json_put(o, "id", cli_json_str(hex));
  carnet_id_format(&a->owner, hex);
  cli_json_put(o, "owner", cli_json_str(hex));
  cli_json_put(o, "owner_kind",
               a->owner_kind ? cli_json_str(carnet_kind_name(a->owner_kind)) : json_null());
  cli_json_put(o, "name", cli_json_str(a->name));
  cli_json_put(o, "media_type", cli_json_str(a->media_type));
  cli_json_put(o, "size", json_integer((json_int_t)a->size));
  for (int i = 0; i < 32; i++)
    snprintf(hash + 2 * i, 3, "%02x", a->hash[i]);
  cli_json_put(o, "hash", cli_json_str(hash));
  cli_json_put(o, "caption", cli_json_str(a->caption));
  snprintf(hex, sizeof hex, "%016" PRIx64, a->added_by);
  cli_json_put(o, "added_by", cli_json_str(hex));
  cli_iso_time((carnet_hlc)a->added_at_ms << 16, when);
  cli_json_put(o, "added_at", cli_json_str(when));
  cli_json_put(o, "deleted", json_boolean(a->deleted));
  cli_json_put(o, "here", json_boolean(a->here));
  cli_json_put(o, "received", json_integer((json_int_t)(a->here ? a->size : a->received)));
  cli_json_put(o, "wanted", json_boolean(a->wanted));
  return o;
}

static const char *state_text(const carnet_attachment *a) {
  if (a->deleted) return "deleted";
  if (a->here) return "here";
  if (a->wanted) return "asked for";
  return a->received ? "receiving" : "not here";
}

/* --- attach -------------------------------------------------------------------- */

static const cli_opt attach_opts[] = {
    {"caption", 0, required_argument, O_CAPTION, "TEXT", "a caption shown with the file"},
    {"name", 0, required_argument, O_NAME, "NAME", "the file name shown (default: FILE's)"},
    {"type", 0, required_argument, O_TYPE, "MEDIA",
     "the media type (default: from the extension, e.g. application/pdf)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage attach_usage = {
    .args = "OWNER FILE",
    .summary = "Attach a file to a customer, contact, document or action and print its id.",
    .opts = attach_opts,
    .json = true,
    .min_pos = 2,
    .max_pos = 2,
    .more = "OWNER is a customer's reference code or id, a document number, or the id of a "
            "contact, document or action. The file is kept encrypted in the replica directory, "
            "syncs to the peers, and is erased with the person. Files larger than the replica's "
            "largest size (100 MB unless 'carnet attachment policy --max-size' says otherwise) "
            "are refused.\nExample: carnet attach CU2611-5T31-0001 devis-signe.jpg --caption "
            "\"signed quote\"",
};

int cli_cmd_attach(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_upload_opts o = {0};
  carnet_id owner, id;
  cli_args a;
  int rc = cli_parse(c, &attach_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++) {
    if (a.opts[i].id == O_CAPTION) o.caption = a.opts[i].arg;
    if (a.opts[i].id == O_NAME) o.name = a.opts[i].arg;
    if (a.opts[i].id == O_TYPE) o.media_type = a.opts[i].arg;
  }
  if ((rc = cli_open(c, &r)) || (rc = resolve_owner(c, r, a.pos[0], &owner))) goto done;
  int err = carnet_attachment_create_file(r, &owner, a.pos[1], &o, &id);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&id, hex);
  if (c->json) {
    carnet_attachment *att;
    if ((err = carnet_attachment_get(r, &id, &att))) {
      rc = cli_fail_rc(c, r, err, NULL);
      goto done;
    }
    rc = cli_json_print(c, cli_json_attachment(att));
    carnet_free(att);
  } else {
    printf("%s\n", hex);
  }
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- attachments --------------------------------------------------------------- */

static const cli_opt list_opts[] = {
    {"deleted", 0, no_argument, O_DELETED, NULL, "deleted attachments too"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage list_usage = {
    .args = "OWNER",
    .summary = "List the files attached to a customer, contact, document or action, oldest "
               "first.",
    .opts = list_opts,
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "A customer merged with others lists the files of the whole group. STATE says "
            "whether the content is on this replica (here), is being received, was asked for, or "
            "is not here (the fetch policy left it with the peers: 'carnet attachment get' "
            "fetches it).",
};

typedef struct list_state {
  json_t *arr;
  cli_table *t;
} list_state;

static int list_cb(const carnet_attachment *att, void *data) {
  list_state *st = data;
  if (st->arr) {
    cli_json_push(st->arr, cli_json_attachment(att));
    return 0;
  }
  char hex[CARNET_ID_HEX_LEN + 1], size[32], when[32];
  carnet_id_format(&att->id, hex);
  human_size(att->size, size);
  cli_iso_time((carnet_hlc)att->added_at_ms << 16, when);
  when[10] = '\0';
  const char *row[] = {hex,  att->name,       size,
                       when, state_text(att), att->caption ? att->caption : ""};
  cli_table_add(st->t, row);
  return 0;
}

int cli_cmd_attachments(cli *c, int argc, char **argv) {
  static const char *const headers[] = {"ID", "NAME", "SIZE", "ADDED", "STATE", "CAPTION"};
  carnet_replica *r = NULL;
  list_state st = {NULL, NULL};
  bool deleted = false;
  carnet_id owner;
  cli_args a;
  int rc = cli_parse(c, &list_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++)
    if (a.opts[i].id == O_DELETED) deleted = true;
  if ((rc = cli_open(c, &r)) || (rc = resolve_owner(c, r, a.pos[0], &owner))) goto done;
  if (c->json)
    st.arr = cli_oom(json_array());
  else
    st.t = cli_table_new(6, headers);
  int err = carnet_attachment_list(r, &owner, deleted, list_cb, &st);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
  } else if (st.arr) {
    rc = cli_json_print(c, st.arr);
    st.arr = NULL;
  } else if (cli_table_rows(st.t) == 0) {
    printf("No attachments.\n");
  } else {
    cli_table_print(st.t, stdout, 0);
  }
done:
  json_decref(st.arr);
  cli_table_free(st.t);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- attachment show, get, delete, policy ------------------------------------------ */

static const cli_usage show_usage = {
    .args = "ID",
    .summary = "Show an attachment's details.",
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
};

static int run_show(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_attachment *att = NULL;
  carnet_id id;
  cli_args a;
  int rc = cli_parse(c, &show_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = resolve_attachment(c, r, a.pos[0], &id))) goto done;
  int err = carnet_attachment_get(r, &id, &att);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  if (c->json) {
    rc = cli_json_print(c, cli_json_attachment(att));
  } else {
    json_t *o = cli_json_attachment(att);
    const char *key;
    json_t *v;
    char size[32];
    human_size(att->size, size);
    json_object_foreach(o, key, v) {
      char buf[64];
      const char *s = json_string_value(v);
      if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = buf;
      } else if (json_is_boolean(v)) {
        s = json_is_true(v) ? "yes" : "no";
      }
      if (strcmp(key, "size") == 0) {
        snprintf(buf, sizeof buf, "%" PRIu64 " bytes (%s)", att->size, size);
        s = buf;
      }
      if (s) cli_kv(stdout, CLI_LABEL_W, key, s);
    }
    json_decref(o);
  }
done:
  carnet_free(att);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static const cli_opt get_opts[] = {
    {"output", 'o', required_argument, O_OUT, "FILE", "write the file there (required)"},
    {"timeout", 't', required_argument, O_TIMEOUT, "DURATION",
     "when the content is not here: give up fetching it after this long (default 120s)"},
    {"no-fetch", 0, no_argument, O_NO_FETCH, NULL,
     "do not sync with the peers: only ask for the content (the next sync brings it)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage get_usage = {
    .args = "ID",
    .summary = "Write an attachment's file to FILE, whole and verified.",
    .opts = get_opts,
    .min_pos = 1,
    .max_pos = 1,
    .more = "The file is written only once its content has been checked (every chunk and the "
            "hash), with mode 0600. Content that is not on this replica yet is asked for, and "
            "fetched at once from whichever known peer is reachable and has it (one sync with "
            "every peer of 'carnet peer list' that has an address, at the same time); with "
            "--no-fetch, or when none has it, the next sync brings it.",
};

/* Addresses of the known peers, for a fetch. */
typedef struct peer_addrs {
  char **addr;
  size_t n;
} peer_addrs;

static int add_peer_addr(const carnet_peer_info *p, void *data) {
  peer_addrs *pa = data;
  if (p->addr[0] == '\0' || pa->n == CARNET_NODE_PEERS_MAX) return 0;
  pa->addr[pa->n++] = cli_oom(strdup(p->addr));
  return 0;
}

static void quiet_log(void *data, int level, const char *line) {
  (void)data;
  if (level <= CARNET_LOG_WARN) fprintf(stderr, "carnet attachment get: %s\n", line);
}

/* Sync once with every known peer at the same time: the sessions fetch
 * what this replica wants (the content just asked for among it). Returns
 * how many peers were synced with. */
static int fetch_from_peers(cli *c, carnet_replica *r, uint64_t timeout_ms, size_t *synced) {
  peer_addrs pa = {cli_oom(calloc(CARNET_NODE_PEERS_MAX, sizeof(char *))), 0};
  carnet_node *node = NULL;
  char why[CARNET_NODE_MSG_MAX];
  int rc = CLI_OK;
  *synced = 0;
  int err = carnet_peer_list(r, add_peer_addr, &pa);
  if (err) {
    rc = cli_fail_rc(c, r, err, "reading the peers");
    goto done;
  }
  if (pa.n == 0) goto done;
  carnet_node_opts o = {.peers = (const char *const *)pa.addr,
                        .npeers = pa.n,
                        .once = true,
                        .timeout_ms = timeout_ms,
                        .signals = true,
                        .log = quiet_log};
  if ((err = carnet_node_new(r, &o, &node, why, sizeof why)) != 0) {
    rc = cli_fail(c, CLI_EUSER, "cannot fetch from the peers: %s", why);
    goto done;
  }
  (void)carnet_node_run(node);
  for (size_t i = 0; i < pa.n; i++) {
    const carnet_node_outcome *out = carnet_node_outcome_get(node, i);
    if (out && out->synced) (*synced)++;
  }
done:
  carnet_node_free(node);
  for (size_t i = 0; i < pa.n; i++)
    free(pa.addr[i]);
  free(pa.addr);
  return rc;
}

static int run_get(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  const char *out = NULL;
  uint64_t timeout_ms = 120000;
  bool fetch = true;
  carnet_id id;
  cli_args a;
  int rc = cli_parse(c, &get_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++) {
    if (a.opts[i].id == O_OUT) out = a.opts[i].arg;
    if (a.opts[i].id == O_NO_FETCH) fetch = false;
    if (a.opts[i].id == O_TIMEOUT && !cli_parse_duration(a.opts[i].arg, &timeout_ms)) {
      rc = cli_fail(c, CLI_EUSER, "invalid --timeout '%s' (e.g. 30s, 5m)", a.opts[i].arg);
      goto done;
    }
  }
  if (out == NULL) {
    rc = cli_fail(c, CLI_EUSER, "say where to write the file with -o FILE");
    goto done;
  }
  if ((rc = cli_open(c, &r)) || (rc = resolve_attachment(c, r, a.pos[0], &id))) goto done;
  int err = carnet_attachment_save(r, &id, out);
  if (err == CARNET_ENOTFOUND) {
    carnet_attachment *att = NULL;
    bool absent = carnet_attachment_get(r, &id, &att) == 0 && !att->deleted && !att->here;
    carnet_free(att);
    if (absent) {
      size_t synced = 0;
      if ((err = carnet_attachment_want(r, &id)) != 0) {
        rc = cli_fail_rc(c, r, err, NULL);
        goto done;
      }
      if (fetch && (rc = fetch_from_peers(c, r, timeout_ms, &synced))) goto done;
      err = carnet_attachment_save(r, &id, out);
      if (err == CARNET_ENOTFOUND) {
        rc = cli_fail(c, CLI_EUSER,
                      "the content is not on this replica yet%s: it was asked for, and comes "
                      "with the next sync ('carnet sync PEER', or a running 'carnet serve')",
                      !fetch   ? ""
                      : synced ? " (no peer reached had it whole)"
                               : " (no known peer could be reached)");
        goto done;
      }
    }
  }
  if (err) rc = cli_fail_rc(c, r, err, NULL);
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static const cli_usage delete_usage = {
    .args = "ID",
    .summary = "Delete an attachment: its file goes from this replica now, from the peers when "
               "they sync.",
    .min_pos = 1,
    .max_pos = 1,
};

static int run_delete(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_id id;
  cli_args a;
  int rc = cli_parse(c, &delete_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r)) || (rc = resolve_attachment(c, r, a.pos[0], &id))) goto done;
  int err = carnet_attachment_delete_commit(r, &id);
  if (err) rc = cli_fail_rc(c, r, err, NULL);
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static const cli_opt policy_opts[] = {
    {"fetch", 0, required_argument, O_FETCH, "MODE",
     "what to fetch from peers: all, open (only when asked) or up-to (with --fetch-max)"},
    {"fetch-max", 0, required_argument, O_FETCH_MAX, "SIZE",
     "with --fetch up-to: fetch files up to SIZE (e.g. 5MB); larger ones when asked"},
    {"max-size", 0, required_argument, O_MAX_SIZE, "SIZE",
     "the largest file attached or received here (default 100MB)"},
    {"send-rate", 0, required_argument, O_SEND_RATE, "SIZE",
     "send attachments' content to a peer at most SIZE a second (0: no limit)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage policy_usage = {
    .summary = "Show or change which attachments' content this replica fetches from its peers, "
               "and the largest file it takes.",
    .opts = policy_opts,
    .json = true,
    .more = "The policy is this device's own (it does not sync): a laptop on the road may fetch "
            "files only when they are opened, the office PC everything. Sizes take B, KB, MB, "
            "GB (powers of 1000) or KiB, MiB, GiB.",
};

static int run_policy(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_attach_policy p;
  bool change = false;
  cli_args a;
  int rc = cli_parse(c, &policy_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r))) goto done;
  int err = carnet_replica_get_attach_policy(r, &p);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  for (int i = 0; i < a.nopts; i++) {
    const char *v = a.opts[i].arg;
    if (a.opts[i].id == O_FETCH) {
      if ((p.fetch = carnet_fetch_parse(v)) == 0) {
        rc = cli_fail(c, CLI_EUSER, "unknown fetch mode '%s' (all, open or up-to)", v);
        goto done;
      }
      change = true;
    } else if (a.opts[i].id == O_FETCH_MAX || a.opts[i].id == O_MAX_SIZE ||
               a.opts[i].id == O_SEND_RATE) {
      uint64_t n;
      if (!parse_size(v, &n)) {
        rc = cli_fail(c, CLI_EUSER, "invalid size '%s' (e.g. 5000000, 5MB, 100MiB)", v);
        goto done;
      }
      *(a.opts[i].id == O_FETCH_MAX  ? &p.fetch_max
        : a.opts[i].id == O_MAX_SIZE ? &p.size_max
                                     : &p.send_rate) = n;
      change = true;
    }
  }
  if (change && (err = carnet_replica_set_attach_policy(r, &p))) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  if (c->json) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "fetch", cli_json_str(carnet_fetch_name(p.fetch)));
    cli_json_put(o, "fetch_max", json_integer((json_int_t)p.fetch_max));
    cli_json_put(o, "max_size", json_integer((json_int_t)p.size_max));
    cli_json_put(o, "send_rate", json_integer((json_int_t)p.send_rate));
    rc = cli_json_print(c, o);
  } else {
    char a1[32], a2[32];
    human_size(p.fetch_max, a1);
    human_size(p.size_max, a2);
    printf("fetch:      %s", carnet_fetch_name(p.fetch));
    if (p.fetch == CARNET_FETCH_UP_TO) printf(" (files up to %s; larger ones when opened)", a1);
    if (p.fetch == CARNET_FETCH_OPEN) printf(" (a file's content when it is opened)");
    printf("\nmax size:   %s\n", a2);
    if (p.send_rate) {
      human_size(p.send_rate, a1);
      printf("send rate:  %s a second\n", a1);
    }
  }
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static const cli_sub subs[] = {
    {"show", run_show, "show an attachment's details"},
    {"get", run_get, "write an attachment's file to FILE (fetched from a peer if needed)"},
    {"delete", run_delete, "delete an attachment, on every replica"},
    {"policy", run_policy, "which files this replica fetches, and the largest it takes"},
    {NULL, NULL, NULL},
};

int cli_cmd_attachment(cli *c, int argc, char **argv) {
  return cli_dispatch(c, subs,
                      "One attachment: show it, write its file, delete it; and this replica's "
                      "attachment policy.",
                      argc, argv);
}
