/* cli/cmd_sync.c - sync over the network: `carnet serve` (a long-running
 * node: listens, keeps live sessions with its peers, redials them), `carnet
 * sync ADDR` (one session with one peer, then exit) and `carnet join TOKEN`
 * (the same, joining the inviter's team with an invite token).
 *
 * All three run a node (carnet/node.h) on its own loop, in this thread.
 * `serve` prints "listening on HOST:PORT" on stdout as soon as it listens
 * (scripts and tests read the real port there) and writes the same address
 * to DIR/serve.addr, for `carnet invite`; the file is removed on a clean
 * exit. Its log goes to stderr, a line per event.
 *
 * Exit codes of sync and join: 0 synced, 1 the peer could not be reached or
 * refused us (or the sync failed on its side), 2 an internal error here.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "carnet/node.h"
#include "cli/cli.h"
#include "cli/progress.h"

enum {
  O_LISTEN = CLI_O_USER,
  O_PEER,
  O_ONCE,
  O_TIMEOUT,
  O_VERBOSE,
  O_DISCOVER,
  O_DISC_IFACE,
  O_DISC_PORT,
  O_ROLE,
  O_HTTP,
  O_NAME
};

#define SYNC_TIMEOUT_MS_DEFAULT 120000u
#define DEFAULT_LISTEN "127.0.0.1:0"

/* --- logging ------------------------------------------------------------ */

typedef struct logger {
  const char *cmd; /* "carnet serve" */
  int max_level;   /* lines above it are dropped */
} logger;

static void log_line(void *ctx, int level, const char *line) {
  const logger *lg = ctx;
  char stamp[16] = "";
  time_t now = time(NULL);
  struct tm tm;
  if (level > lg->max_level) return;
  if (localtime_r(&now, &tm)) strftime(stamp, sizeof stamp, "%H:%M:%S ", &tm);
  fprintf(stderr, "%s: %s%s\n", lg->cmd, stamp, line);
}

/* --- serve ---------------------------------------------------------------- */

static const cli_opt serve_opts[] = {
    {"listen", 'l', required_argument, O_LISTEN, "HOST:PORT",
     "accept peers on this address (default " DEFAULT_LISTEN ": this machine only, any free "
     "port); 0.0.0.0:PORT accepts from the network"},
    {"peer", 'p', required_argument, O_PEER, "HOST:PORT",
     "keep a live session with the peer serving there (repeatable); redialled when lost"},
    {"once", 0, no_argument, O_ONCE, NULL,
     "sync each --peer once, then exit (with --discover: also each replica heard on the LAN "
     "within about 8 s; with neither: after one incoming session)"},
    {"discover", 'd', no_argument, O_DISCOVER, NULL,
     "announce this replica on the LAN (UDP multicast, signed, team-scoped) and dial the "
     "trusted replicas that announce themselves"},
    {"discover-iface", 0, required_argument, O_DISC_IFACE, "IP",
     "IPv4 address of the interface to announce on (default: the system's choice)"},
    {"discover-port", 0, required_argument, O_DISC_PORT, "PORT",
     "UDP port of the announcements (default 7427; every replica of the team must agree)"},
    {"verbose", 'v', no_argument, O_VERBOSE, NULL, "log every connection, not only sessions"},
    {"http", 0, required_argument, O_HTTP, "HOST:PORT",
     "also serve the web console and its HTTP API on this loopback address (port 0: any free "
     "port); prints 'console: URL' and writes it to DIR/web.url"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage serve_usage = {
    .summary = "Run this replica as a sync node: accept trusted peers, sync with them "
               "continuously, until Ctrl-C or SIGTERM.",
    .opts = serve_opts,
    .more = "Prints 'listening on HOST:PORT' and writes it to DIR/serve.addr (for 'carnet\n"
            "invite'). Changes made here, by this or any other carnet command, reach the\n"
            "connected peers within a second. Only peers in 'carnet peer list' are accepted.",
};

/* Written to a temporary file then renamed, so `invite` never reads half an
 * address. */
static int write_addr_file(cli *c, const char *path, const char *addr) {
  char tmp[4300];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (f == NULL) return cli_fail(c, CLI_EINTERNAL, "cannot write %s: %s", tmp, strerror(errno));
  /* The pid lets `invite` tell a live serve from one that was killed. */
  int bad = fprintf(f, "%s\n%ld\n", addr, (long)getpid()) < 0;
  bad |= fclose(f) != 0;
  if (bad || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return cli_fail(c, CLI_EINTERNAL, "cannot write %s: %s", path, strerror(e));
  }
  return CLI_OK;
}

/* Removes DIR/serve.addr if it still holds our address (another serve may
 * have started on the same directory since). */
static void remove_addr_file(const char *path, const char *addr) {
  char line[300] = "";
  FILE *f = fopen(path, "r");
  if (f == NULL) return;
  bool ours = fgets(line, sizeof line, f) != NULL && strncmp(line, addr, strlen(addr)) == 0 &&
              (line[strlen(addr)] == '\n' || line[strlen(addr)] == '\0');
  fclose(f);
  if (ours) unlink(path);
}

/* One `carnet serve` per replica: DIR/serve.lock is flocked exclusive by
 * the serving process for its whole life. The kernel drops the lock with
 * the process, kill -9 included, so it never goes stale as a pid file
 * would; the pid written in the file only names the holder to a second
 * serve that is refused. The file stays (removing it would let a third
 * serve lock a new file while the first still holds the old one).
 * *fd_out is the lock (-1 when refused). */
static int serve_lock(cli *c, carnet_replica *r, int *fd_out) {
  char path[4200], pid[32] = "";
  *fd_out = -1;
  if (carnet_replica_readonly(r))
    return cli_fail(c, CLI_EUSER,
                    "the replica in %s is on read-only storage: carnet serve writes to it (it "
                    "syncs); read commands work",
                    carnet_replica_dir(r));
  snprintf(path, sizeof path, "%s/serve.lock", carnet_replica_dir(r));
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return cli_fail(c, CLI_EINTERNAL, "cannot open %s: %s", path, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    if (e == EWOULDBLOCK) {
      ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
      pid[n > 0 ? n : 0] = '\0';
      pid[strcspn(pid, "\n")] = '\0';
    }
    close(fd);
    if (e != EWOULDBLOCK)
      return cli_fail(c, CLI_EINTERNAL, "cannot lock %s: %s", path, strerror(e));
    return cli_fail(c, CLI_EUSER,
                    "another carnet serve (pid %s) is already serving the replica in %s: one "
                    "serve per replica (stop that one first)",
                    pid[0] ? pid : "unknown", carnet_replica_dir(r));
  }
  snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, strlen(pid), 0) != (ssize_t)strlen(pid)) {
    /* The lock holds all the same; only the name of the holder is lost. */
  }
  *fd_out = fd;
  return CLI_OK;
}

int cli_cmd_serve(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_node *node = NULL;
  cli_args a;
  const char **peers = NULL;
  size_t npeers = 0;
  char why[512], path[4200];
  bool once = false, addr_written = false;
  int lock_fd = -1;
  const char *http = NULL;
  struct web_server *web = NULL;
  logger lg = {.cmd = c->cmd, .max_level = CARNET_LOG_INFO};
  carnet_node_opts o = {.listen = DEFAULT_LISTEN, .redial = true, .signals = true};
  int rc = cli_parse(c, &serve_usage, argc, argv, &a);
  if (rc) return rc;
  peers = cli_oom(calloc((size_t)a.nopts + 1, sizeof *peers));
  for (int i = 0; i < a.nopts; i++) {
    if (a.opts[i].id == O_LISTEN) o.listen = a.opts[i].arg;
    if (a.opts[i].id == O_PEER) peers[npeers++] = a.opts[i].arg;
    if (a.opts[i].id == O_ONCE) once = true;
    if (a.opts[i].id == O_VERBOSE) lg.max_level = CARNET_LOG_DEBUG;
    if (a.opts[i].id == O_DISCOVER) o.discover = true;
    if (a.opts[i].id == O_HTTP) http = a.opts[i].arg;
    if (a.opts[i].id == O_DISC_IFACE) o.discover_iface = a.opts[i].arg;
    if (a.opts[i].id == O_DISC_PORT) {
      uint64_t port;
      if (!cli_parse_u64(a.opts[i].arg, &port) || port == 0 || port > 65535) {
        rc = cli_fail(c, CLI_EUSER, "invalid --discover-port '%s': give a UDP port (1-65535)",
                      a.opts[i].arg);
        goto done;
      }
      o.discover_port = (uint16_t)port;
    }
  }
  o.peers = peers;
  o.npeers = npeers;
  o.once = once;
  o.log = log_line;
  o.log_data = &lg;
  if (http) {
    /* The console's page shows peers coming and going: it hears the
     * node's peer events (the server registers itself once started). */
    o.event = cli_web_peer_event;
    o.event_data = &web;
  }
  if (http && (rc = cli_web_check(c, http))) goto done;
  if ((rc = cli_open(c, &r)) || (rc = serve_lock(c, r, &lock_fd))) goto done;
  int err = carnet_node_new(r, &o, &node, why, sizeof why);
  if (err) {
    /* A bad address or one that is taken is the user's to fix. */
    rc = cli_fail(c, err == CARNET_ENOMEM ? CLI_EINTERNAL : CLI_EUSER, "%s",
                  why[0] ? why : carnet_error_message(err));
    goto done;
  }
  /* The file first: whoever read the line can run `carnet invite` at once. */
  const char *addr = carnet_node_listen_addr(node);
  cli_serve_addr_path(r, path, sizeof path);
  if ((rc = write_addr_file(c, path, addr))) goto done;
  addr_written = true;
  printf("listening on %s\n", addr);
  fflush(stdout);
  if (http && (rc = cli_web_start(c, r, node, http, true, &web))) goto done;
  log_line(&lg, CARNET_LOG_INFO, npeers ? "serving; dialling the peers given" : "serving");
  err = carnet_node_run(node);
  rc = err ? CLI_EINTERNAL : CLI_OK;
  if (rc == CLI_OK && once) {
    for (size_t i = 0; i < npeers; i++)
      if (!carnet_node_outcome_get(node, i)->synced) rc = CLI_EUSER;
  }
  log_line(&lg, CARNET_LOG_INFO, "stopped");
done:
  cli_web_stop(r, web); /* after the node: its handlers run on the node's thread */
  if (addr_written) remove_addr_file(path, carnet_node_listen_addr(node));
  carnet_node_free(node);
  carnet_replica_close(r);
  if (lock_fd >= 0) close(lock_fd); /* releases the lock, after everything else */
  free(peers);
  cli_args_free(&a);
  return rc;
}

/* --- one session: sync and join ----------------------------------------- */

static const cli_opt session_opts[] = {
    {"timeout", 't', required_argument, O_TIMEOUT, "DURATION",
     "give up after this long (default 120s; e.g. 30s, 5m)"},
    {"verbose", 'v', no_argument, O_VERBOSE, NULL, "log the session's events on stderr"},
    {"discover-iface", 0, required_argument, O_DISC_IFACE, "IP",
     "with no HOST:PORT: IPv4 address of the interface to look for peers on (default: the "
     "system's choice)"},
    {"discover-port", 0, required_argument, O_DISC_PORT, "PORT",
     "with no HOST:PORT: UDP port of the announcements (default 7427)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage sync_usage = {
    .args = "[HOST:PORT]",
    .summary = "Sync once with the peer serving at HOST:PORT ('carnet serve' there), or with "
               "every known peer, both ways, then exit.",
    .opts = session_opts,
    .json = true,
    .min_pos = 0,
    .max_pos = 1,
    .more = "The peer must trust this replica and be trusted by it ('carnet peer trust', or\n"
            "'carnet invite' there and 'carnet join' here). With no HOST:PORT: every peer of\n"
            "'carnet peer list' at its last known address, then the peers not reached that\n"
            "announce themselves on the LAN ('carnet serve --discover' there) within about\n"
            "8 s. Exit code 1 when a peer cannot be reached or refuses (the others are\n"
            "synced all the same).",
};

static const cli_opt join_opts[] = {
    {"timeout", 't', required_argument, O_TIMEOUT, "DURATION",
     "give up after this long (default 120s; e.g. 30s, 5m)"},
    {"verbose", 'v', no_argument, O_VERBOSE, NULL, "log the session's events on stderr"},
    {"role", 0, required_argument, O_ROLE, "ROLE",
     "this replica's role once joined: member (default) or admin"},
    {"name", 0, required_argument, O_NAME, "NAME",
     "name this replica (\"Portable Alice\"): the team sees it instead of its hex id"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage join_usage = {
    .args = "TOKEN",
    .summary = "Join a team with an invite token made by 'carnet invite' on a replica of it, "
               "and sync with that replica.",
    .opts = join_opts,
    .json = true,
    .min_pos = 1,
    .max_pos = 1,
    .more = "A token works once, before it expires. Afterwards the two replicas trust each\n"
            "other: sync with 'carnet sync HOST:PORT'.",
};

typedef struct session_args {
  uint64_t timeout_ms;
  bool verbose;
  carnet_role role;           /* join: set once joined */
  const char *name;           /* join: this replica's name, written before the session */
  const char *discover_iface; /* sync with no address */
  uint16_t discover_port;
} session_args;

static int parse_session_args(cli *c, const cli_args *a, session_args *sa) {
  sa->timeout_ms = SYNC_TIMEOUT_MS_DEFAULT;
  sa->verbose = false;
  sa->role = CARNET_ROLE_MEMBER;
  sa->name = NULL;
  sa->discover_iface = NULL;
  sa->discover_port = 0;
  for (int i = 0; i < a->nopts; i++) {
    if (a->opts[i].id == O_VERBOSE) sa->verbose = true;
    if (a->opts[i].id == O_NAME) sa->name = a->opts[i].arg;
    if (a->opts[i].id == O_DISC_IFACE) sa->discover_iface = a->opts[i].arg;
    if (a->opts[i].id == O_DISC_PORT) {
      uint64_t port;
      if (!cli_parse_u64(a->opts[i].arg, &port) || port == 0 || port > 65535)
        return cli_fail(c, CLI_EUSER, "invalid --discover-port '%s': give a UDP port (1-65535)",
                        a->opts[i].arg);
      sa->discover_port = (uint16_t)port;
    }
    if (a->opts[i].id == O_ROLE && (sa->role = carnet_role_parse(a->opts[i].arg)) == 0)
      return cli_fail(c, CLI_EUSER, "invalid --role '%s': member or admin", a->opts[i].arg);
    if (a->opts[i].id == O_TIMEOUT && !cli_parse_duration(a->opts[i].arg, &sa->timeout_ms))
      return cli_fail(c, CLI_EUSER, "invalid --timeout '%s': give a duration such as 30s or 5m",
                      a->opts[i].arg);
  }
  return CLI_OK;
}

/* The first 8 hex characters of a key and an ellipsis, as the node's log
 * lines show it ("ab12cd34…"). */
static const char *key_short(const uint8_t pk[CARNET_PK_BYTES], char out[16]) {
  snprintf(out, 16, "%02x%02x%02x%02x\xe2\x80\xa6", pk[0], pk[1], pk[2], pk[3]);
  return out;
}

static void human_bytes(uint64_t n, char out[32]) {
  if (n < 10000)
    snprintf(out, 32, "%llu B", (unsigned long long)n);
  else if (n < 10000000)
    snprintf(out, 32, "%.1f KiB", n / 1024.0);
  else
    snprintf(out, 32, "%.1f MiB", n / 1048576.0);
}

static json_t *summary_json(const carnet_node_outcome *o) {
  const carnet_session_stats *st = &o->stats;
  char key[2 * CARNET_PK_BYTES + 1], id[17];
  cli_hex(o->peer_pk, CARNET_PK_BYTES, key);
  snprintf(id, sizeof id, "%016llx", (unsigned long long)o->peer_id);
  {
    json_t *j = cli_oom(json_object());
    cli_json_put(j, "peer", cli_json_str(o->addr));
    cli_json_put(j, "key", cli_json_str(key));
    cli_json_put(j, "replica", cli_json_str(id));
    cli_json_put(j, "joined", json_boolean(o->joined));
    cli_json_put(j, "bytes_in", json_integer((json_int_t)st->bytes_in));
    cli_json_put(j, "bytes_out", json_integer((json_int_t)st->bytes_out));
    cli_json_put(j, "batches_in", json_integer((json_int_t)st->batches_in));
    cli_json_put(j, "batches_out", json_integer((json_int_t)st->batches_out));
    cli_json_put(j, "cells_in", json_integer((json_int_t)st->cells_in));
    cli_json_put(j, "cells_out", json_integer((json_int_t)st->cells_out));
    cli_json_put(j, "cells_applied", json_integer((json_int_t)st->cells_applied));
    cli_json_put(j, "content_in", json_integer((json_int_t)st->content_in));
    cli_json_put(j, "content_out", json_integer((json_int_t)st->content_out));
    cli_json_put(j, "files_in", json_integer((json_int_t)st->files_in));
    cli_json_put(j, "files_out", json_integer((json_int_t)st->files_out));
    cli_json_put(j, "seconds", json_real((double)o->elapsed_ms / 1000.0));
    return j;
  }
}

static int print_summary(cli *c, const carnet_node_outcome *o, bool join) {
  const carnet_session_stats *st = &o->stats;
  char key[2 * CARNET_PK_BYTES + 1], bin[32], bout[32], kshort[16];
  cli_hex(o->peer_pk, CARNET_PK_BYTES, key);
  if (c->json) return cli_json_print(c, summary_json(o));
  human_bytes(st->bytes_in, bin);
  human_bytes(st->bytes_out, bout);
  if (join) printf("joined the team of %s\n", key);
  if (o->elapsed_ms < 1000)
    printf("Synced with %s (key %s) in %llu ms\n", o->addr, key_short(o->peer_pk, kshort),
           (unsigned long long)o->elapsed_ms);
  else
    printf("Synced with %s (key %s) in %.1f s\n", o->addr, key_short(o->peer_pk, kshort),
           (double)o->elapsed_ms / 1000.0);
  printf("  received  %llu changed field%s (%llu new here) in %llu batch%s, %s\n",
         (unsigned long long)st->cells_in, st->cells_in == 1 ? "" : "s",
         (unsigned long long)st->cells_applied, (unsigned long long)st->batches_in,
         st->batches_in == 1 ? "" : "es", bin);
  printf("  sent      %llu changed field%s in %llu batch%s, %s\n",
         (unsigned long long)st->cells_out, st->cells_out == 1 ? "" : "s",
         (unsigned long long)st->batches_out, st->batches_out == 1 ? "" : "es", bout);
  if (st->content_in || st->content_out) {
    /* Attachments' content (resumed transfers: only what moved now). */
    human_bytes(st->content_in, bin);
    human_bytes(st->content_out, bout);
    printf("  files     %llu received (%s of content), %llu sent (%s)\n",
           (unsigned long long)st->files_in, bin, (unsigned long long)st->files_out, bout);
  }
  return CLI_OK;
}

/* One line saying why the session did not end in a sync, and the exit
 * code that goes with it. */
static int report_failure(cli *c, const carnet_node_outcome *o, int signal_no, uint64_t timeout) {
  if (signal_no)
    return cli_fail(c, CLI_EUSER, "interrupted (%s) before the sync with %s finished",
                    signal_no == SIGINT ? "SIGINT" : "SIGTERM", o->addr);
  if (o->timed_out && o->err == CARNET_EBUSY)
    return cli_fail(c, CLI_EUSER,
                    "%s stayed busy (too many connections) for %.0f s: try again later, or "
                    "raise --timeout",
                    o->addr, timeout / 1000.0);
  if (o->timed_out)
    return cli_fail(c, CLI_EUSER, "no result from %s after %.0f s (raise --timeout?)", o->addr,
                    timeout / 1000.0);
  if (o->err && !o->connected) /* the session could not even start: a bad token */
    return cli_fail(c, cli_exit_code(o->err), "%s", o->msg);
  if (o->unresolved) return cli_fail(c, CLI_EUSER, "cannot reach %s: %s", o->addr, o->msg);
  if (!o->connected)
    return cli_fail(c, CLI_EUSER, "cannot reach %s: %s (is 'carnet serve' running there?)", o->addr,
                    o->msg[0] ? o->msg : "no connection");
  if (o->err == CARNET_EPERM || o->err == CARNET_EVERSION)
    return cli_fail(c, CLI_EUSER, "refused by %s: %s", o->addr, o->msg);
  if (o->peer_closed && o->authenticated && o->stats.batches_in == 0)
    /* The peer checks our key last, once it has our whole handshake, and
     * may close without a word: a close before any data is most likely
     * that refusal. */
    return cli_fail(c, CLI_EUSER,
                    "%s closed the connection right after the handshake: it probably does not "
                    "trust this replica (there: carnet peer trust KEY, with KEY from 'carnet id' "
                    "here)",
                    o->addr);
  if (o->peer_closed)
    return cli_fail(c, CLI_EUSER, "sync with %s failed: %s", o->addr,
                    o->msg[0] ? o->msg : "connection closed by the peer");
  if (o->err) return cli_fail(c, cli_exit_code(o->err), "sync with %s failed: %s", o->addr, o->msg);
  return cli_fail(c, CLI_EUSER, "sync with %s failed: %s", o->addr,
                  o->msg[0] ? o->msg : "connection lost");
}

static void quiet_log(void *ctx, int level, const char *line) {
  (void)ctx, (void)level, (void)line;
}

typedef struct busy_note {
  cli *c;
  cli_progress *pl;
  bool verbose; /* the log says it already, at each attempt */
  unsigned times;
} busy_note;

/* A peer at its connection limits answers "busy" (carnet/node.h), and the
 * node tries again after a delay until --timeout: say so once, rather than
 * waiting silently or failing with what looks like a broken peer. */
static void on_peer_event(void *data, const carnet_peer_event *ev) {
  busy_note *b = data;
  if (ev->type != CARNET_PEER_FAILED || ev->err != CARNET_EBUSY || !ev->dialled) return;
  if (b->times++ > 0 || b->verbose) return;
  cli_progress_end(b->pl);
  fprintf(stderr, "%s: %s: the peer is busy (too many connections): retrying\n", b->c->cmd,
          ev->addr);
}

/* The progress line of a sync (cli/progress.h): a first sync of a large
 * book takes seconds to minutes. */
static void draw_progress(void *ctx, const char *addr, const carnet_session_stats *st,
                          uint64_t elapsed_ms) {
  char bin[32], bout[32];
  human_bytes(st->bytes_in, bin);
  human_bytes(st->bytes_out, bout);
  cli_progress_draw(ctx, "%s: received %llu changed fields (%s), sent %llu (%s), %.1f s", addr,
                    (unsigned long long)st->cells_in, bin, (unsigned long long)st->cells_out, bout,
                    (double)elapsed_ms / 1000.0);
}

/* Runs one session with `addr` (joining with `token` when not NULL). */
static int one_session(cli *c, const char *addr, const char *token, const session_args *sa,
                       bool join) {
  carnet_replica *r = NULL;
  carnet_node *node = NULL;
  char why[512];
  logger lg = {.cmd = c->cmd, .max_level = CARNET_LOG_DEBUG};
  cli_progress pl;
  cli_progress_start(&pl, c);
  pl.on = pl.on && !sa->verbose; /* log lines would cut through it */
  const char *peers[1] = {addr};
  busy_note busy = {.c = c, .pl = &pl, .verbose = sa->verbose};
  carnet_node_opts o = {
      .peers = peers,
      .npeers = 1,
      .once = true,
      .invite_token = token,
      .timeout_ms = sa->timeout_ms,
      .signals = true,
      .log = sa->verbose ? log_line : quiet_log,
      .log_data = &lg,
      .progress = pl.on ? draw_progress : NULL,
      .progress_data = &pl,
      .event = on_peer_event,
      .event_data = &busy,
  };
  int rc = cli_open(c, &r);
  if (rc) return rc;
  int err;
  /* Named before the session, so that the inviter learns the name in it. */
  if (join && sa->name && (err = carnet_replica_set_name(r, sa->name)) != 0) {
    rc = cli_fail_rc(c, r, err, "naming the replica");
    goto done;
  }
  err = carnet_node_new(r, &o, &node, why, sizeof why);
  if (err) {
    rc = cli_fail(c, cli_exit_code(err), "%s", why[0] ? why : carnet_error_message(err));
    goto done;
  }
  if (carnet_node_run(node) != 0) {
    cli_progress_end(&pl);
    rc = cli_fail(c, CLI_EINTERNAL, "the event loop failed (run with --verbose for details)");
    goto done;
  }
  cli_progress_end(&pl);
  const carnet_node_outcome *out = carnet_node_outcome_get(node, 0);
  if (out->synced && join && (err = carnet_replica_set_role(r, sa->role)) != 0)
    rc = cli_fail_rc(c, r, err, "joined, but storing the role failed");
  else if (out->synced)
    rc = print_summary(c, out, join);
  else
    rc = report_failure(c, out, carnet_node_signal(node), sa->timeout_ms);
done:
  carnet_node_free(node);
  carnet_replica_close(r);
  return rc;
}

/* --- sync with every known peer -------------------------------------------- */

typedef struct known {
  carnet_peer_info *v;
  size_t n, cap;
} known;

static int known_cb(const carnet_peer_info *p, void *data) {
  known *k = data;
  if (k->n == k->cap) {
    k->cap = k->cap ? 2 * k->cap : 8;
    k->v = cli_oom(realloc(k->v, k->cap * sizeof *k->v));
  }
  k->v[k->n++] = *p;
  return 0;
}

/* One node run of `sync` with no address: the peers at `addrs`, or (none)
 * discovery. Marks the known peers synced by their key; adds each synced
 * outcome's summary to `arr` or prints it. Returns CLI_OK or an exit code. */
static int sync_round(cli *c, carnet_replica *r, const char **addrs, size_t naddrs,
                      const session_args *sa, const known *k, bool *synced, json_t *arr) {
  carnet_node *node = NULL;
  char why[512], listen[80];
  logger lg = {.cmd = c->cmd, .max_level = CARNET_LOG_DEBUG};
  carnet_node_opts o = {.peers = addrs,
                        .npeers = naddrs,
                        .once = true,
                        .timeout_ms = sa->timeout_ms,
                        .signals = true,
                        .log = sa->verbose ? log_line : quiet_log,
                        .log_data = &lg};
  if (naddrs == 0) {
    /* Discovery announces where we listen; the peers we hear are dialled. */
    snprintf(listen, sizeof listen, "%s:0", sa->discover_iface ? sa->discover_iface : "0.0.0.0");
    o.listen = listen;
    o.discover = true;
    o.discover_iface = sa->discover_iface;
    o.discover_port = sa->discover_port;
  }
  int err = carnet_node_new(r, &o, &node, why, sizeof why);
  if (err) return cli_fail(c, cli_exit_code(err), "%s", why[0] ? why : carnet_error_message(err));
  int rc = CLI_OK;
  if (carnet_node_run(node) != 0) {
    rc = cli_fail(c, CLI_EINTERNAL, "the event loop failed (run with --verbose for details)");
    goto done;
  }
  const carnet_node_outcome *out;
  for (size_t i = 0; (out = carnet_node_outcome_get(node, i)) != NULL; i++) {
    bool ours = false;
    for (size_t j = 0; j < k->n; j++)
      if (out->synced && memcmp(out->peer_pk, k->v[j].pk, CARNET_PK_BYTES) == 0) {
        ours = !synced[j];
        synced[j] = true;
      }
    if (!ours) continue;
    if (arr)
      cli_json_push(arr, summary_json(out));
    else
      print_summary(c, out, false);
  }
  if (carnet_node_signal(node))
    rc = cli_fail(c, CLI_EUSER, "interrupted before the sync with every peer finished");
done:
  carnet_node_free(node);
  return rc;
}

/* `carnet sync` with no address: every known peer at its stored address,
 * then discovery for those not reached. */
static int sync_all(cli *c, const session_args *sa) {
  carnet_replica *r = NULL;
  known k = {0};
  bool *synced = NULL;
  const char **addrs = NULL;
  size_t naddrs = 0, missing = 0;
  json_t *arr = c->json ? cli_oom(json_array()) : NULL;
  int rc = cli_open(c, &r);
  if (rc) goto done;
  int err = carnet_peer_list(r, known_cb, &k);
  if (err) {
    rc = cli_fail_rc(c, r, err, "reading the peers");
    goto done;
  }
  if (k.n == 0) {
    rc = cli_fail(c, CLI_EUSER,
                  "no known peer to sync with: join a team first ('carnet join TOKEN'), or give "
                  "HOST:PORT");
    goto done;
  }
  synced = cli_oom(calloc(k.n, sizeof *synced));
  addrs = cli_oom(calloc(k.n, sizeof *addrs));
  for (size_t i = 0; i < k.n; i++)
    if (k.v[i].addr[0]) addrs[naddrs++] = k.v[i].addr;
  if (naddrs && (rc = sync_round(c, r, addrs, naddrs, sa, &k, synced, arr))) goto done;
  for (size_t i = 0; i < k.n; i++)
    missing += !synced[i];
  if (missing && (rc = sync_round(c, r, NULL, 0, sa, &k, synced, arr))) goto done;
  missing = 0;
  for (size_t i = 0; i < k.n; i++) {
    if (synced[i]) continue;
    char key[16];
    missing++;
    fprintf(stderr, "%s: not reached: the replica with key %s (%s)\n", c->cmd,
            key_short(k.v[i].pk, key),
            k.v[i].addr[0] ? k.v[i].addr : "no known address, not heard on the LAN");
  }
  if (arr) {
    rc = cli_json_print(c, arr);
    arr = NULL;
  }
  if (rc == CLI_OK && missing)
    rc = cli_fail(c, CLI_EUSER, "synced with %zu of %zu known peers", k.n - missing, k.n);
done:
  json_decref(arr);
  free(addrs);
  free(synced);
  free(k.v);
  carnet_replica_close(r);
  return rc;
}

int cli_cmd_sync(cli *c, int argc, char **argv) {
  cli_args a;
  session_args sa;
  int rc = cli_parse(c, &sync_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = parse_session_args(c, &a, &sa)) == CLI_OK)
    rc = a.npos ? one_session(c, a.pos[0], NULL, &sa, false) : sync_all(c, &sa);
  cli_args_free(&a);
  return rc;
}

int cli_cmd_join(cli *c, int argc, char **argv) {
  cli_args a;
  session_args sa;
  char addr[CARNET_NODE_ADDR_MAX];
  int rc = cli_parse(c, &join_usage, argc, argv, &a);
  if (rc) return rc;
  if ((rc = parse_session_args(c, &a, &sa))) goto done;
  if (carnet_invite_addr(a.pos[0], addr, sizeof addr) != 0) {
    rc = cli_fail(c, CLI_EUSER,
                  "not a Carnet invite token (it starts with 'carnet1:'; copy the whole line "
                  "printed by 'carnet invite')");
    goto done;
  }
  rc = one_session(c, addr, a.pos[0], &sa, true);
done:
  cli_args_free(&a);
  return rc;
}
