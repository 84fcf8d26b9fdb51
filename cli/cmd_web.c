/* cli/cmd_web.c - `carnet web`: the console and its HTTP API on this
 * machine, without peers; and the start and stop of the console that
 * `carnet serve --http` shares (docs/HTTP-API.md).
 *
 * The replica belongs to a node's thread (carnet/node.h) in both: here a
 * node with no listener and no peer runs in the main thread, so the
 * server's connection threads have a thread to run their work on
 * (carnet_node_exec), and its tick brings the changes other `carnet`
 * processes make to the page (the change feed's poll).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "web/web.h"

enum { O_HTTP = CLI_O_USER };

#define WEB_DEFAULT "127.0.0.1:0"

static const cli_opt web_opts_table[] = {
    {"http", 0, required_argument, O_HTTP, "ADDR",
     "serve the console on ADDR (default 127.0.0.1:0: any free port; loopback only)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage web_usage = {
    .summary = "Serve the web console and its HTTP API on this machine, until Ctrl-C.",
    .opts = web_opts_table,
    .more = "Prints 'console: URL' and writes the URL to DIR/web.url: open it in a browser. The\n"
            "URL carries an access token made at each start, required by every API call.\n"
            "Only a loopback address is accepted (no TLS in this version). The page shows\n"
            "changes made by other carnet commands on this replica as they happen. To sync\n"
            "with peers as well, run 'carnet serve --http ADDR' instead. See\n"
            "docs/HTTP-API.md for the API.",
};

/* DIR/web.url, written whole (a temporary file renamed) and readable by
 * its owner only: it holds the token. */
static int write_url_file(cli *c, const char *path, const char *url) {
  char tmp[4300];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  unlink(tmp);
  FILE *f = fopen(tmp, "wx");
  if (f == NULL) return cli_fail(c, CLI_EINTERNAL, "cannot write %s: %s", tmp, strerror(errno));
  int bad = fchmod(fileno(f), 0600) != 0;
  bad |= fprintf(f, "%s\n", url) < 0;
  bad |= fclose(f) != 0;
  if (bad || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return cli_fail(c, CLI_EINTERNAL, "cannot write %s: %s", path, strerror(e));
  }
  return CLI_OK;
}

static void url_path(carnet_replica *r, char *out, size_t len) {
  snprintf(out, len, "%s/web.url", carnet_replica_dir(r));
}

int cli_web_check(cli *c, const char *listen) {
  char why[512];
  if (web_addr_check(listen, why, sizeof why) != 0) return cli_fail(c, CLI_EUSER, "%s", why);
  return CLI_OK;
}

int cli_web_start(cli *c, carnet_replica *r, carnet_node *node, const char *listen, bool sync,
                  web_server **out) {
  char why[512], path[4200];
  web_opts o = {.listen = listen, .node = node, .sync = sync, .quiet = true};
  if (sync) o.sync_listen = carnet_node_listen_addr(node);
  *out = NULL;
  int err = web_server_start(&o, out, why, sizeof why);
  if (err)
    return cli_fail(c, err == CARNET_ENOMEM || err == CARNET_EIO ? cli_exit_code(err) : CLI_EUSER,
                    "%s", why[0] ? why : carnet_error_message(err));
  url_path(r, path, sizeof path);
  int rc = write_url_file(c, path, web_server_url(*out));
  if (rc) {
    web_server_stop(*out);
    *out = NULL;
    return rc;
  }
  printf("console: %s\n", web_server_url(*out));
  fflush(stdout);
  return CLI_OK;
}

void cli_web_stop(carnet_replica *r, web_server *s) {
  char path[4200], line[WEB_URL_MAX + 2] = "";
  if (s == NULL) return;
  /* Removed only if it is still ours (another start may have replaced it). */
  url_path(r, path, sizeof path);
  FILE *f = fopen(path, "r");
  if (f) {
    bool ours = fgets(line, sizeof line, f) &&
                strncmp(line, web_server_url(s), strlen(web_server_url(s))) == 0;
    fclose(f);
    if (ours) unlink(path);
  }
  web_server_stop(s);
}

void cli_web_peer_event(void *data, const carnet_peer_event *ev) {
  web_server **s = data;
  if (*s) web_server_peer_event(*s, ev);
}

/* The node of `carnet web` syncs nothing: only its warnings are worth a
 * line. */
static void web_log(void *data, int level, const char *line) {
  const cli *c = data;
  if (level <= CARNET_LOG_WARN) fprintf(stderr, "%s: %s\n", c->cmd, line);
}

int cli_cmd_web(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_node *node = NULL;
  web_server *srv = NULL;
  const char *listen = WEB_DEFAULT;
  char why[512];
  cli_args a;
  int rc = cli_parse(c, &web_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++)
    if (a.opts[i].id == O_HTTP) listen = a.opts[i].arg;
  if ((rc = cli_web_check(c, listen)) || (rc = cli_open(c, &r))) goto done;
  carnet_node_opts o = {.signals = true, .log = web_log, .log_data = c};
  int err = carnet_node_new(r, &o, &node, why, sizeof why);
  if (err) {
    rc = cli_fail(c, cli_exit_code(err), "%s", why[0] ? why : carnet_error_message(err));
    goto done;
  }
  if ((rc = cli_web_start(c, r, node, listen, false, &srv))) goto done;
  err = carnet_node_run(node);
  rc = err ? CLI_EINTERNAL : CLI_OK;
done:
  cli_web_stop(r, srv);
  carnet_node_free(node);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}
