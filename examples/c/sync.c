/* examples/c/sync.c - Carnet in an app, in one file.
 *
 * Two replicas of a customer book (an office PC and a sales rep's laptop)
 * in a temporary directory: each adds customers, the office lists its own,
 * then the two sync in this process, over TCP on 127.0.0.1, with two nodes
 * on one libuv loop (the office listens, the laptop dials). The laptop
 * follows its change feed: when the office's customers arrive it prints
 * them and the program ends (exit 0); with no change from the office after
 * TIMEOUT_MS it gives up (exit 1).
 *
 * Build against the installed library:
 *   cc -std=c11 sync.c $(pkg-config --cflags --libs carnet libuv) -o sync
 * or with CMake (find_package(Carnet), this directory's CMakeLists.txt).
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */

#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <carnet/carnet.h>
#include <carnet/node.h>

#define TIMEOUT_MS 20000

typedef struct app {
  uv_loop_t loop;
  uv_timer_t timeout;
  carnet_replica *office, *laptop;
  carnet_node *office_node, *laptop_node;
  bool seen; /* the laptop saw a change from the office */
} app;

/* Every call that can fail returns 0 or a CARNET_E* code; the replica says
 * what went wrong in words. */
static bool failed(int rc, carnet_replica *r, const char *what) {
  if (rc == 0) return false;
  fprintf(stderr, "%s: %s (%s)\n", what, carnet_error_name(rc), r ? carnet_replica_errmsg(r) : "");
  return true;
}

static int add_customer(carnet_replica *r, const char *name, const char *city) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (p == NULL) return CARNET_ENOMEM;
  int rc = carnet_patch_set(p, CARNET_F_NAME, name);
  if (rc == 0) rc = carnet_patch_set(p, CARNET_F_CITY, city);
  if (rc == 0) rc = carnet_record_create_commit(r, p, NULL); /* one transaction */
  carnet_patch_free(p);
  return rc;
}

static int print_customer(const carnet_record *rec, void *data) {
  const char *city = carnet_record_str(rec, CARNET_F_CITY);
  printf("  %s  %-20s %s\n", carnet_record_str(rec, CARNET_F_REFCODE),
         carnet_record_str(rec, CARNET_F_NAME), city ? city : "");
  (void)data;
  return 0; /* go on */
}

static int list_customers(carnet_replica *r, const char *who) {
  printf("%s's customers:\n", who);
  return carnet_record_list(r, CARNET_KIND_CUSTOMER, NULL, print_customer, NULL);
}

/* The two replicas trust each other's key and share the office's team id
 * (what `carnet peer trust` does on each side; `carnet invite` and `carnet
 * join` do it with a one-time token). */
static int make_team(carnet_replica *office, carnet_replica *laptop) {
  uint8_t office_pk[CARNET_PK_BYTES], laptop_pk[CARNET_PK_BYTES];
  uint8_t team[CARNET_TEAM_BYTES], laptop_team[CARNET_TEAM_BYTES];
  int rc = carnet_replica_get_identity(office, office_pk, team);
  if (rc == 0) rc = carnet_replica_get_identity(laptop, laptop_pk, laptop_team);
  if (rc == 0) rc = carnet_replica_set_team(laptop, team);
  if (rc == 0) rc = carnet_peer_trust(office, laptop_pk, NULL);
  if (rc == 0) rc = carnet_peer_trust(laptop, office_pk, NULL);
  return rc;
}

/* --- the change feed and the nodes' callbacks (all on the loop's thread) --- */

static void on_laptop_change(void *data, const carnet_change_event *ev) {
  app *a = data;
  if (ev->source != CARNET_SOURCE_PEER) return; /* the laptop's own writes */
  for (size_t i = 0; i < ev->n; i++) {
    const carnet_change *c = &ev->changes[i];
    carnet_record *rec = NULL;
    char hex[CARNET_ID_HEX_LEN + 1];
    carnet_id_format(&c->id, hex);
    /* A callback may read the replica (not write it). */
    if (c->kind == CARNET_KIND_CUSTOMER && carnet_record_get(a->laptop, &c->id, &rec) == 0)
      printf("laptop: customer %s '%s' %s by replica %016llx\n", hex,
             carnet_record_str(rec, CARNET_F_NAME),
             c->op == CARNET_CHANGE_CREATED ? "created" : "changed", (unsigned long long)ev->peer);
    carnet_record_free(rec);
  }
  if (!a->seen) {
    a->seen = true;
    carnet_node_stop(a->laptop_node); /* says BYE to the office; the office stops after */
  }
}

static void on_peer_event(void *data, const carnet_peer_event *ev) {
  const char *who = data;
  if (ev->type == CARNET_PEER_AUTHENTICATED)
    printf("%s: session with %s (replica %016llx)\n", who, ev->addr,
           (unsigned long long)ev->replica_id);
  else if (ev->type == CARNET_PEER_FAILED)
    printf("%s: peer %s failed: %s\n", who, ev->addr, ev->message);
}

static void on_laptop_stopped(void *data) {
  app *a = data;
  carnet_node_stop(a->office_node);
}

static void on_office_stopped(void *data) {
  app *a = data;
  /* Both nodes are done: once the timer is closed, nothing keeps the loop. */
  uv_close((uv_handle_t *)&a->timeout, NULL);
}

static void on_timeout(uv_timer_t *t) {
  app *a = t->data;
  fprintf(stderr, "no change from the office after %d ms: giving up\n", TIMEOUT_MS);
  carnet_node_stop(a->laptop_node);
}

static void quiet(void *data, int level, const char *line) {
  if (level <= CARNET_LOG_WARN) fprintf(stderr, "%s: %s\n", (const char *)data, line);
}

/* --- the program ------------------------------------------------------------ */

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static int sync_in_process(app *a) {
  char why[256] = "";
  carnet_subscription *sub = NULL;
  int rc;
  if (uv_loop_init(&a->loop) != 0) return CARNET_EIO;
  carnet_node_opts office = {.loop = &a->loop,
                             .listen = "127.0.0.1:0", /* any free port */
                             .log = quiet,
                             .log_data = "office",
                             .event = on_peer_event,
                             .event_data = "office",
                             .stopped = on_office_stopped,
                             .stopped_data = a};
  if ((rc = carnet_node_new(a->office, &office, &a->office_node, why, sizeof why))) {
    fprintf(stderr, "office node: %s\n", why);
    goto done;
  }
  const char *peers[] = {carnet_node_listen_addr(a->office_node)};
  carnet_node_opts laptop = {.loop = &a->loop,
                             .peers = peers,
                             .npeers = 1,
                             .redial = true,
                             .log = quiet,
                             .log_data = "laptop",
                             .event = on_peer_event,
                             .event_data = "laptop",
                             .stopped = on_laptop_stopped,
                             .stopped_data = a};
  if ((rc = carnet_node_new(a->laptop, &laptop, &a->laptop_node, why, sizeof why))) {
    fprintf(stderr, "laptop node: %s\n", why);
    goto done;
  }
  if (failed(rc = carnet_replica_subscribe(a->laptop, on_laptop_change, a, &sub), a->laptop,
             "subscribe"))
    goto done;
  a->timeout.data = a;
  uv_timer_init(&a->loop, &a->timeout);
  uv_timer_start(&a->timeout, on_timeout, TIMEOUT_MS, 0);
  printf("office listens on %s\n", peers[0]);
  if (failed(rc = carnet_node_start(a->office_node), a->office, "start the office node") ||
      failed(rc = carnet_node_start(a->laptop_node), a->laptop, "start the laptop node")) {
    carnet_node_stop(a->laptop_node); /* the rest stops in turn */
  }
  uv_run(&a->loop, UV_RUN_DEFAULT); /* until both nodes have stopped */
done:
  carnet_replica_unsubscribe(a->laptop, sub);
  carnet_node_free(a->laptop_node);
  carnet_node_free(a->office_node);
  uv_run(&a->loop, UV_RUN_DEFAULT); /* what the frees closed */
  uv_loop_close(&a->loop);
  return rc;
}

int main(void) {
  app a = {0};
  char root[] = "/tmp/carnet-example-XXXXXX", office_dir[64], laptop_dir[64], why[512];
  bool ok = false;
  /* A peer that vanishes mid-write raises SIGPIPE: ignore it, as any
   * program that writes to sockets does. */
  signal(SIGPIPE, SIG_IGN);
  printf("libcarnet %s\n", carnet_version(NULL, NULL, NULL));
  if (mkdtemp(root) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(office_dir, sizeof office_dir, "%s/office", root);
  snprintf(laptop_dir, sizeof laptop_dir, "%s/laptop", root);
  /* NULL env: the real clock, and a key file made in each directory. */
  if (carnet_replica_init(office_dir, NULL, &a.office, why, sizeof why) ||
      carnet_replica_init(laptop_dir, NULL, &a.laptop, why, sizeof why)) {
    fprintf(stderr, "init: %s\n", why);
    goto done;
  }
  if (failed(make_team(a.office, a.laptop), a.laptop, "team") ||
      failed(add_customer(a.office, "Boulangerie Dupont", "Lyon"), a.office, "add") ||
      failed(add_customer(a.office, "Hélène Müller", "Saint-Étienne"), a.office, "add") ||
      failed(add_customer(a.laptop, "Jean Martin", "Villeurbanne"), a.laptop, "add") ||
      failed(list_customers(a.office, "office"), a.office, "list"))
    goto done;
  if (sync_in_process(&a) == 0 && a.seen) ok = list_customers(a.laptop, "laptop") == 0;
done:
  carnet_replica_close(a.office);
  carnet_replica_close(a.laptop);
  nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
  printf("%s\n", ok ? "ok" : "failed");
  return ok ? 0 : 1;
}
