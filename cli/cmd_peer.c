/* cli/cmd_peer.c - the team: `carnet invite` (a one-time token for a new
 * replica), `carnet peer trust|list|remove|revoked` (the trust list by
 * hand, and the keys revoked for the team: carnet/peer.h).
 *
 * Sync refuses any replica whose public key is not in the trust list, so a
 * replica joins a team either with an invite token (`carnet invite` here,
 * `carnet join TOKEN` there) or by trusting keys by hand on both sides
 * (`carnet id` shows a replica's key).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "carnet/node.h"
#include "cli/cli.h"

enum { O_TTL = CLI_O_USER, O_ADDR, O_TEAM, O_OVERRIDE };

#define INVITE_TTL_MS_DEFAULT (10u * 60u * 1000u)
#define INVITE_TTL_MS_MAX (30ull * 24u * 3600u * 1000u)
#define INVITE_TEXT_MAX 512u /* the longest token and its NUL */

/* --- invite --------------------------------------------------------------- */

static const cli_opt invite_opts[] = {
    {"ttl", 0, required_argument, O_TTL, "DURATION",
     "how long the token stays valid (default 10m; e.g. 90s, 1h, 2d)"},
    {"addr", 0, required_argument, O_ADDR, "HOST:PORT",
     "where the new replica reaches this one (default: the address of the running "
     "'carnet serve', from DIR/serve.addr; on 0.0.0.0, this device's LAN address)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage invite_usage = {
    .summary = "Make a one-time invite token for a new replica to join this team.",
    .opts = invite_opts,
    .json = true,
    .more = "Run 'carnet serve' first, then pass the token over a channel you trust; on the\n"
            "new replica: carnet join TOKEN. The token works once, before it expires.",
};

/* The address of the running `carnet serve`, from DIR/serve.addr. */
static int served_addr(cli *c, carnet_replica *r, char *out, size_t len) {
  char path[4200];
  cli_serve_addr_path(r, path, sizeof path);
  FILE *f = fopen(path, "r");
  if (f == NULL && errno == ENOENT)
    return cli_fail(c, CLI_EUSER,
                    "no address to put in the invite: start 'carnet serve' first (it writes %s), "
                    "or give --addr HOST:PORT",
                    path);
  if (f == NULL) return cli_fail(c, CLI_EINTERNAL, "cannot read %s: %s", path, strerror(errno));
  char pid_line[32] = "";
  bool ok = fgets(out, (int)len, f) != NULL;
  if (ok && fgets(pid_line, sizeof pid_line, f) == NULL) pid_line[0] = '\0';
  fclose(f);
  out[ok ? strcspn(out, "\r\n") : 0] = '\0';
  if (out[0] == '\0')
    return cli_fail(c, CLI_EUSER, "%s is empty: restart 'carnet serve', or give --addr", path);
  long pid = strtol(pid_line, NULL, 10);
  if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
    return cli_fail(c, CLI_EUSER,
                    "%s was left by a 'carnet serve' that is no longer running (pid %ld): start "
                    "'carnet serve' again, or give --addr HOST:PORT",
                    path, pid);
  return CLI_OK;
}

/* This machine's IPv4 addresses on its networks, best first: the one its
 * default route leaves from (found by connecting a UDP socket, which sends
 * nothing), then the other interfaces that are up, loopback last. */
static size_t lan_addresses(char out[][INET_ADDRSTRLEN], size_t max) {
  size_t n = 0;
  struct sockaddr_in probe = {.sin_family = AF_INET, .sin_port = htons(9)}, self;
  socklen_t slen = sizeof self;
  inet_pton(AF_INET, "192.0.2.1", &probe.sin_addr); /* TEST-NET-1: never reached */
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&probe, sizeof probe) == 0 &&
      getsockname(fd, (struct sockaddr *)&self, &slen) == 0 && self.sin_addr.s_addr != 0 &&
      ntohl(self.sin_addr.s_addr) >> 24 != 127)
    inet_ntop(AF_INET, &self.sin_addr, out[n++], INET_ADDRSTRLEN);
  if (fd >= 0) close(fd);
  struct ifaddrs *ifs = NULL;
  bool loopback = false;
  if (getifaddrs(&ifs) == 0) {
    for (struct ifaddrs *i = ifs; i && n < max; i = i->ifa_next) {
      char text[INET_ADDRSTRLEN];
      if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP))
        continue;
      if (i->ifa_flags & IFF_LOOPBACK) {
        loopback = true;
        continue;
      }
      inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, text, sizeof text);
      bool seen = false;
      for (size_t j = 0; j < n && !seen; j++)
        seen = strcmp(out[j], text) == 0;
      if (!seen) snprintf(out[n++], INET_ADDRSTRLEN, "%s", text);
    }
    freeifaddrs(ifs);
  }
  if ((loopback || n == 0) && n < max) snprintf(out[n++], INET_ADDRSTRLEN, "127.0.0.1");
  return n;
}

#define LAN_ADDRS_MAX 8u

/* An address another device can dial. `carnet serve` on all interfaces
 * (0.0.0.0:PORT): this machine's LAN addresses with that port, the best in
 * `addr` and the others in `others`. */
static int dialable(cli *c, char *addr, size_t len, char others[][CARNET_NODE_ADDR_MAX],
                    size_t *nothers) {
  char host[CARNET_NODE_ADDR_MAX], why[256], ips[LAN_ADDRS_MAX][INET_ADDRSTRLEN];
  uint16_t port = 0;
  *nothers = 0;
  if (carnet_node_addr_parse(addr, host, sizeof host, &port, why, sizeof why) != 0)
    return cli_fail(c, CLI_EUSER, "%s", why);
  if (strcmp(host, "0.0.0.0") != 0 && strcmp(host, "::") != 0) return CLI_OK;
  size_t n = lan_addresses(ips, LAN_ADDRS_MAX);
  snprintf(addr, len, "%s:%u", ips[0], (unsigned)port);
  for (size_t i = 1; i < n; i++)
    snprintf(others[(*nothers)++], CARNET_NODE_ADDR_MAX, "%s:%u", ips[i], (unsigned)port);
  return CLI_OK;
}

int cli_cmd_invite(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  cli_args a;
  const char *given = NULL;
  char addr[CARNET_NODE_ADDR_MAX], token[INVITE_TEXT_MAX], expires[32];
  char others[LAN_ADDRS_MAX][CARNET_NODE_ADDR_MAX];
  size_t nothers = 0;
  uint64_t ttl = INVITE_TTL_MS_DEFAULT;
  int rc = cli_parse(c, &invite_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts && rc == CLI_OK; i++) {
    if (a.opts[i].id == O_ADDR) given = a.opts[i].arg;
    if (a.opts[i].id == O_TTL &&
        (!cli_parse_duration(a.opts[i].arg, &ttl) || ttl > INVITE_TTL_MS_MAX))
      rc = cli_fail(c, CLI_EUSER,
                    "invalid --ttl '%s': give a duration such as 10m or 1h (at "
                    "most 30d)",
                    a.opts[i].arg);
  }
  if (rc || (rc = cli_open(c, &r))) goto done;
  if (given)
    snprintf(addr, sizeof addr, "%s", given);
  else if ((rc = served_addr(c, r, addr, sizeof addr)))
    goto done;
  if ((rc = dialable(c, addr, sizeof addr, others, &nothers))) goto done;
  int err = carnet_invite_create(r, addr, ttl, token, sizeof token);
  if (err) {
    rc = cli_fail_rc(c, r, err, "making the invite");
    goto done;
  }
  /* The replica's own clock is what checks the expiry: near enough. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  cli_iso_ms((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + ttl, expires);
  if (c->json) {
    json_t *j = cli_oom(json_object());
    cli_json_put(j, "token", cli_json_str(token));
    cli_json_put(j, "addr", cli_json_str(addr));
    json_t *also = cli_oom(json_array());
    for (size_t i = 0; i < nothers; i++)
      cli_json_push(also, cli_json_str(others[i]));
    cli_json_put(j, "other_addrs", also);
    cli_json_put(j, "expires", cli_json_str(expires));
    rc = cli_json_print(c, j);
  } else {
    printf("%s\n", token);
    fflush(stdout);
    fprintf(stderr,
            "Valid once, until %s, for a replica that can reach %s.\n"
            "On the new replica: carnet join TOKEN\n",
            expires, addr);
    for (size_t i = 0; i < nothers; i++)
      fprintf(stderr, "%s %s", i ? "," : "This device is also at", others[i]);
    if (nothers)
      fprintf(stderr, ": from a network that reaches only one of those, 'carnet invite --addr "
                      "HOST:PORT' makes a token for it.\n");
  }
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

/* --- peer trust | list | remove ------------------------------------------ */

static const cli_opt trust_opts[] = {
    {"addr", 0, required_argument, O_ADDR, "HOST:PORT",
     "where that replica serves (for the record)"},
    {"team", 0, required_argument, O_TEAM, "TEAM",
     "also adopt this team id (32 hex characters, from 'carnet id' there): replicas sync "
     "only within one team"},
    {"override-revocation", 0, no_argument, O_OVERRIDE, NULL,
     "trust the key even though it was revoked (by 'carnet peer remove' here or on another "
     "replica of the team): here only; a later revocation of it revokes it again"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage trust_usage = {
    .args = "PUBKEY",
    .summary = "Trust a replica by its public key (64 hex characters, from 'carnet id' there).",
    .opts = trust_opts,
    .min_pos = 1,
    .max_pos = 1,
    .more = "Both replicas must trust each other and be in the same team before they sync:\n"
            "run 'carnet peer trust' on each side with the other's key, and on the newcomer\n"
            "add --team with the team of the other ('carnet id' shows both). Trusting a key\n"
            "twice is harmless. 'carnet invite' / 'carnet join' does all of this at once.\n"
            "A revoked key ('carnet peer revoked') is refused unless --override-revocation.",
};

static const cli_usage list_usage = {
    .summary = "List the trusted replicas: online or not, last contact, last sync, the changes "
               "each confirmed (acked) and those it has not yet (pending).",
    .json = true,
    .more = "Live sessions record their progress about once a second, whichever process runs\n"
            "them (carnet serve, carnet sync): a peer is online while a session with it is live\n"
            "in a process that is running. PENDING counts this replica's sequence numbers after\n"
            "the last one the peer acknowledged.",
};

static const cli_usage remove_usage = {
    .args = "PUBKEY",
    .summary = "Stop trusting a replica and revoke its key for the whole team.",
    .min_pos = 1,
    .max_pos = 1,
    .more = "Its live sessions end within a second (a 'carnet serve' running on this replica\n"
            "notices by itself), and nothing it sends afterwards is applied. A revocation\n"
            "signed by this replica goes to every peer before anything else; each replica\n"
            "that trusts this one refuses the key from then on and ends its own sessions\n"
            "with it. Undo on a replica only with 'carnet peer trust KEY\n"
            "--override-revocation' there.",
};

static const cli_usage revoked_usage = {
    .summary = "List the keys revoked for the team, who revoked them and when.",
    .json = true,
};

static int run_trust(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  cli_args a;
  uint8_t pk[CARNET_PK_BYTES];
  uint8_t team[CARNET_TEAM_BYTES];
  const char *addr = NULL, *team_hex = NULL;
  bool override = false;
  int rc = cli_parse(c, &trust_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++) {
    if (a.opts[i].id == O_ADDR) addr = a.opts[i].arg;
    if (a.opts[i].id == O_TEAM) team_hex = a.opts[i].arg;
    if (a.opts[i].id == O_OVERRIDE) override = true;
  }
  if ((rc = cli_parse_pk(c, a.pos[0], pk))) goto done;
  if (team_hex && (rc = cli_parse_hex(c, "team id", team_hex, team, sizeof team))) goto done;
  if (addr) {
    char why[256];
    if (carnet_node_addr_parse(addr, NULL, 0, NULL, why, sizeof why) != 0) {
      rc = cli_fail(c, CLI_EUSER, "%s", why);
      goto done;
    }
  }
  if ((rc = cli_open(c, &r))) goto done;
  carnet_revocation rv;
  bool was_revoked = carnet_revocation_get(r, pk, &rv) == 0 && !rv.overridden;
  int err = team_hex ? carnet_replica_set_team(r, team) : 0;
  if (err == 0)
    err = override ? carnet_peer_trust_override(r, pk, addr) : carnet_peer_trust(r, pk, addr);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  if (team_hex) printf("Joined the team %s\n", team_hex);
  printf("Trusted the replica with key %s%s%s\n", a.pos[0], addr ? " at " : "", addr ? addr : "");
  if (override && was_revoked)
    printf("Its revocation is overridden here only: other replicas of the team still refuse it\n");
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

typedef struct peer_rows {
  carnet_replica *r;
  cli_table *t;
  json_t *arr;
} peer_rows;

static int peer_row(const carnet_peer_info *p, void *data) {
  peer_rows *pr = data;
  char key[2 * CARNET_PK_BYTES + 1], id[CLI_REPLICA_LABEL] = "", added[32];
  cli_peer_live l;
  cli_hex(p->pk, CARNET_PK_BYTES, key);
  if (p->replica_id) snprintf(id, sizeof id, "%016llx", (unsigned long long)p->replica_id);
  cli_iso_ms(p->added_ms, added);
  cli_peer_live_text(p, &l);
  if (pr->arr) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "key", cli_json_str(key));
    cli_json_put(o, "replica", p->replica_id ? cli_json_str(id) : json_null());
    cli_json_put(o, "name", cli_replica_name_json(pr->r, p->replica_id));
    cli_json_put(o, "addr", p->addr[0] ? cli_json_str(p->addr) : json_null());
    cli_json_put(o, "added", added[0] ? cli_json_str(added) : json_null());
    cli_peer_live_json(o, p);
    cli_json_push(pr->arr, o);
  } else {
    /* The key last: it is never cut, so it can be copied from here. */
    /* The name when this replica has heard it, else the hex id. */
    if (p->replica_id) cli_replica_label(pr->r, p->replica_id, id);
    const char *cells[8] = {id[0] ? id : "-",
                            p->addr[0] ? p->addr : "-",
                            l.state,
                            l.last_contact[0] ? l.last_contact : "never",
                            l.last_sync[0] ? l.last_sync : "never",
                            l.acked,
                            l.pending,
                            key};
    cli_table_add(pr->t, cells);
  }
  return 0;
}

static int run_list(cli *c, int argc, char **argv) {
  static const char *const headers[] = {"REPLICA",   "ADDRESS", "STATE",   "LAST CONTACT",
                                        "LAST SYNC", "ACKED",   "PENDING", "KEY"};
  carnet_replica *r = NULL;
  peer_rows pr = {NULL, NULL, NULL};
  cli_args a;
  int rc = cli_parse(c, &list_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r))) goto done;
  if (c->json)
    pr.arr = cli_oom(json_array());
  else
    pr.t = cli_table_new(8, headers);
  pr.r = r;
  int err = carnet_peer_list(r, peer_row, &pr);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
  } else if (pr.arr) {
    rc = cli_json_print(c, pr.arr);
    pr.arr = NULL;
  } else if (cli_table_rows(pr.t) == 0) {
    printf("No trusted replica yet: 'carnet invite' here and 'carnet join' there, or 'carnet "
           "peer trust KEY'.\n");
  } else {
    cli_table_print(pr.t, stdout, 0);
  }
done:
  json_decref(pr.arr);
  cli_table_free(pr.t);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static int run_remove(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  cli_args a;
  uint8_t pk[CARNET_PK_BYTES];
  int rc = cli_parse(c, &remove_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_parse_pk(c, a.pos[0], pk)) || (rc = cli_open(c, &r))) goto done;
  int err = carnet_peer_remove(r, pk);
  carnet_revocation rv;
  if (err == CARNET_ENOTFOUND && carnet_revocation_get(r, pk, &rv) == 0 && !rv.overridden)
    rc = cli_fail(c, CLI_EUSER, "the key %s is revoked already (see 'carnet peer revoked')",
                  a.pos[0]);
  else if (err == CARNET_ENOTFOUND)
    rc =
        cli_fail(c, CLI_EUSER, "no trusted replica with key %s (see 'carnet peer list')", a.pos[0]);
  else if (err)
    rc = cli_fail_rc(c, r, err, NULL);
  else
    printf("No longer trusting the replica with key %s\n"
           "Revoked for the team: its live sessions end now, and every replica that hears of it "
           "refuses it too\n",
           a.pos[0]);
done:
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

typedef struct revoked_rows {
  cli_table *t;
  json_t *arr;
  const uint8_t *self;
} revoked_rows;

static int revoked_row(const carnet_revocation *rv, void *data) {
  revoked_rows *rr = data;
  char key[2 * CARNET_PK_BYTES + 1], by[2 * CARNET_PK_BYTES + 1], at[32];
  cli_hex(rv->pk, CARNET_PK_BYTES, key);
  cli_hex(rv->by, CARNET_PK_BYTES, by);
  cli_iso_ms(rv->at_ms, at);
  bool mine = memcmp(rv->by, rr->self, CARNET_PK_BYTES) == 0;
  if (rr->arr) {
    json_t *o = cli_oom(json_object());
    cli_json_put(o, "key", cli_json_str(key));
    cli_json_put(o, "by", cli_json_str(by));
    cli_json_put(o, "by_this_replica", json_boolean(mine));
    cli_json_put(o, "at", at[0] ? cli_json_str(at) : json_null());
    cli_json_put(o, "overridden", json_boolean(rv->overridden));
    cli_json_push(rr->arr, o);
  } else {
    char by_short[24];
    snprintf(by_short, sizeof by_short, "%.8s\xe2\x80\xa6", by);
    const char *cells[4] = {at[0] ? at : "-", mine ? "this replica" : by_short,
                            rv->overridden ? "overridden here" : "refused", key};
    cli_table_add(rr->t, cells);
  }
  return 0;
}

static int run_revoked(cli *c, int argc, char **argv) {
  static const char *const headers[] = {"REVOKED AT", "BY", "HERE", "KEY"};
  carnet_replica *r = NULL;
  uint8_t self[CARNET_PK_BYTES];
  revoked_rows rr = {NULL, NULL, self};
  cli_args a;
  int rc = cli_parse(c, &revoked_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = cli_open(c, &r))) goto done;
  int err = carnet_replica_get_identity(r, self, NULL);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
    goto done;
  }
  if (c->json)
    rr.arr = cli_oom(json_array());
  else
    rr.t = cli_table_new(4, headers);
  err = carnet_revocation_list(r, revoked_row, &rr);
  if (err) {
    rc = cli_fail_rc(c, r, err, NULL);
  } else if (rr.arr) {
    rc = cli_json_print(c, rr.arr);
    rr.arr = NULL;
  } else if (cli_table_rows(rr.t) == 0) {
    printf("No revoked key.\n");
  } else {
    cli_table_print(rr.t, stdout, 0);
  }
done:
  json_decref(rr.arr);
  cli_table_free(rr.t);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

static const cli_sub subs[] = {
    {"trust", run_trust, "trust a replica by its public key"},
    {"list", run_list, "list the trusted replicas"},
    {"remove", run_remove, "stop trusting a replica and revoke its key for the team"},
    {"revoked", run_revoked, "list the keys revoked for the team"},
    {NULL, NULL, NULL},
};

int cli_cmd_peer(cli *c, int argc, char **argv) {
  return cli_dispatch(c, subs, "The replicas this one trusts and syncs with.", argc, argv);
}
