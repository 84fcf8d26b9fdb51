/* tests/replica/test_node.c - the node as API (carnet/node.h), in process:
 *
 *  (a) two replicas, two nodes on one libuv loop of the test (loop mode):
 *      B dials A on 127.0.0.1, a customer made on A before the start and
 *      one made once B has synced reach B, whose change feed reports them
 *      with A's replica id; the peer events of both sides, in order;
 *  (b) the same with each node on its own thread (thread mode): the test's
 *      thread writes on A through carnet_node_exec while the nodes sync,
 *      and waits for B's feed; exec runs on the node's thread while it
 *      runs, on the caller's before and after;
 *  (c) a change committed by another process (the real `carnet` binary,
 *      $CARNET_BIN) on the directory of a running node reaches its
 *      subscriber (the tick's poll);
 *  (d) peer events of a refused, untrusted peer, and of a dial that cannot
 *      connect;
 *  (e) the edges: addresses, dial errors, stop before start, a node freed
 *      before it starts on the app's loop.
 *
 * Every wait has a deadline (a libuv timer, or a timed condition wait),
 * scaled up under sanitizers; nothing sleeps to synchronise.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "carnet/carnet.h"
#include "carnet/node.h"
#include "support/proc.h"
#include "support/replicas.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLOW 5
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOW 5
#endif
#endif
#ifndef SLOW
#define SLOW 1
#endif
#define DEADLINE_MS (15000u * SLOW)

/* --- what the callbacks saw ------------------------------------------------------ */

#define SEEN_MAX 256

typedef struct seen_change {
  carnet_id id;
  carnet_kind kind;
  carnet_change_op op;
  carnet_change_source source;
  uint64_t peer;
} seen_change;

typedef struct seen_event {
  carnet_peer_event_type type;
  int err;
  bool dialled, has_pk, has_stats;
  uint64_t replica_id;
  char message[160];
} seen_event;

/* One side of a test: its replica, node, and what its callbacks saw. The
 * mutex and condition serve thread mode (callbacks on the node's thread,
 * the test waiting on its own). */
typedef struct side {
  carnet_replica *r;
  carnet_node *node;
  uv_mutex_t mu;
  uv_cond_t cond;
  seen_change changes[SEEN_MAX];
  int nchanges;
  seen_event events[SEEN_MAX];
  int nevents;
  int stopped;
  uv_thread_t feed_thread; /* the thread the last feed callback ran on */
  bool odd;                /* a callback saw something it should not have */
  struct world *w;
} side;

typedef struct world {
  rfx *f;
  side s[3];
  uv_loop_t loop;
  uv_timer_t deadline;
  bool timed_out;
  carnet_id late; /* made on A once B has synced (test a) */
  bool late_made;
} world;

static void quiet_log(void *data, int level, const char *line) {
  (void)data;
  if (level <= CARNET_LOG_WARN && getenv("CARNET_TEST_LOG")) fprintf(stderr, "node: %s\n", line);
  (void)line;
}

static void on_change(void *data, const carnet_change_event *ev) {
  side *s = data;
  uv_mutex_lock(&s->mu);
  s->feed_thread = uv_thread_self();
  for (size_t i = 0; i < ev->n && s->nchanges < SEEN_MAX; i++)
    s->changes[s->nchanges++] = (seen_change){ev->changes[i].id, ev->changes[i].kind,
                                              ev->changes[i].op, ev->source, ev->peer};
  uv_cond_broadcast(&s->cond);
  uv_mutex_unlock(&s->mu);
}

static void on_event(void *data, const carnet_peer_event *ev) {
  side *s = data;
  uv_mutex_lock(&s->mu);
  if (s->nevents < SEEN_MAX) {
    seen_event *e = &s->events[s->nevents++];
    e->type = ev->type;
    e->err = ev->err;
    e->dialled = ev->dialled;
    e->has_pk = ev->pk != NULL;
    e->has_stats = ev->stats != NULL;
    e->replica_id = ev->replica_id;
    snprintf(e->message, sizeof e->message, "%s", ev->message);
    /* Recorded, asserted after: a cmocka failure longjmps, which must not
     * happen inside a loop, nor on a node's thread. */
    if (ev->addr == NULL || ev->message == NULL) s->odd = true;
  }
  uv_cond_broadcast(&s->cond);
  uv_mutex_unlock(&s->mu);
}

static void on_stopped(void *data) {
  side *s = data;
  uv_mutex_lock(&s->mu);
  s->stopped++;
  uv_cond_broadcast(&s->cond);
  uv_mutex_unlock(&s->mu);
}

/* The change of `id` that `s` saw from `source`, or NULL. Under s->mu. */
static const seen_change *seen(const side *s, const carnet_id *id, carnet_change_source source) {
  for (int i = 0; i < s->nchanges; i++)
    if (memcmp(s->changes[i].id.b, id->b, 16) == 0 && s->changes[i].source == source)
      return &s->changes[i];
  return NULL;
}

/* The index of the first event of `type` from `from` on, or -1. */
static int event_at(const side *s, int from, carnet_peer_event_type type) {
  for (int i = from; i < s->nevents; i++)
    if (s->events[i].type == type) return i;
  return -1;
}

/* Waits (thread mode) until `done(s, arg)` holds, at most DEADLINE_MS. */
static bool wait_for(side *s, bool (*done)(const side *s, const void *arg), const void *arg) {
  uint64_t end = uv_hrtime() + (uint64_t)DEADLINE_MS * 1000000u;
  bool ok;
  uv_mutex_lock(&s->mu);
  while (!(ok = done(s, arg))) {
    uint64_t now = uv_hrtime();
    if (now >= end) break;
    (void)uv_cond_timedwait(&s->cond, &s->mu, end - now);
  }
  uv_mutex_unlock(&s->mu);
  return ok;
}

/* --- fixture ------------------------------------------------------------------------ */

static int setup(void **state) {
  world *w = calloc(1, sizeof *w);
  assert_non_null(w);
  w->f = rfx_new("node", 3, TENV_EPOCH_MS, 4100);
  for (int i = 0; i < 3; i++) {
    w->s[i].r = w->f->r[i];
    w->s[i].w = w;
    assert_int_equal(uv_mutex_init(&w->s[i].mu), 0);
    assert_int_equal(uv_cond_init(&w->s[i].cond), 0);
  }
  assert_int_equal(uv_loop_init(&w->loop), 0);
  *state = w;
  return 0;
}

static int teardown(void **state) {
  world *w = *state;
  for (int i = 0; i < 3; i++) {
    assert_false(w->s[i].odd);
    carnet_node_free(w->s[i].node);
    uv_cond_destroy(&w->s[i].cond);
    uv_mutex_destroy(&w->s[i].mu);
  }
  uv_run(&w->loop, UV_RUN_DEFAULT); /* close callbacks left, if a test failed half way */
  assert_int_equal(uv_loop_close(&w->loop), 0);
  rfx_free(w->f);
  free(w);
  return 0;
}

/* a and b trust each other, in a's team (what `carnet peer add` does on
 * both sides). */
static void trust_pair(carnet_replica *a, carnet_replica *b) {
  uint8_t pka[CARNET_PK_BYTES], pkb[CARNET_PK_BYTES], team[CARNET_TEAM_BYTES],
      teamb[CARNET_TEAM_BYTES];
  ASSERT_OK(a, carnet_replica_get_identity(a, pka, team));
  ASSERT_OK(b, carnet_replica_get_identity(b, pkb, teamb));
  ASSERT_OK(b, carnet_replica_set_team(b, team));
  ASSERT_OK(a, carnet_peer_trust(a, pkb, NULL));
  ASSERT_OK(b, carnet_peer_trust(b, pka, NULL));
}

static carnet_id customer(carnet_replica *r, const char *name) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  assert_non_null(p);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

static carnet_node *node_new(side *s, const carnet_node_opts *o) {
  carnet_node *n = NULL;
  char why[256] = "";
  carnet_node_opts opts = *o;
  opts.log = quiet_log;
  opts.event = on_event;
  opts.event_data = s;
  opts.stopped = on_stopped;
  opts.stopped_data = s;
  int rc = carnet_node_new(s->r, &opts, &n, why, sizeof why);
  if (rc) fail_msg("carnet_node_new: %s: %s", carnet_error_name(rc), why);
  return n;
}

/* --- (a) two nodes on the test's loop ---------------------------------------------------- */

static void on_deadline(uv_timer_t *t) {
  world *w = t->data;
  w->timed_out = true;
  for (int i = 0; i < 3; i++)
    if (w->s[i].node) carnet_node_stop(w->s[i].node);
  uv_close((uv_handle_t *)t, NULL);
}

/* B's feed, on the loop: once it has A's late customer, B stops (it says
 * BYE; A's session closes cleanly), then A (from B's stopped callback). */
static void on_change_b(void *data, const carnet_change_event *ev) {
  side *b = data;
  on_change(data, ev);
  if (b->w->late_made && seen(b, &b->w->late, CARNET_SOURCE_PEER)) carnet_node_stop(b->node);
}

/* B synced for the first time: a change on A now must reach B live. */
static void on_event_b(void *data, const carnet_peer_event *ev) {
  side *b = data;
  world *w = b->w;
  on_event(data, ev);
  if (ev->type == CARNET_PEER_SYNCED && !w->late_made) {
    /* A's replica is this thread's too (one loop): write it here. */
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    if (p == NULL || carnet_patch_set(p, CARNET_F_NAME, "Made on A while B is connected") ||
        carnet_record_create_commit(w->s[0].r, p, &w->late))
      b->odd = true;
    carnet_patch_free(p);
    w->late_made = true;
  }
}

static void on_stopped_b(void *data) {
  side *b = data;
  on_stopped(data);
  carnet_node_stop(b->w->s[0].node);
}

/* The deadline of a run of the test's loop: unreferenced, so that the
 * loop ends with the nodes; closed after. */
static void deadline_start(world *w) {
  w->deadline.data = w;
  assert_int_equal(uv_timer_init(&w->loop, &w->deadline), 0);
  assert_int_equal(uv_timer_start(&w->deadline, on_deadline, DEADLINE_MS, 0), 0);
  uv_unref((uv_handle_t *)&w->deadline);
}

static void deadline_end(world *w) {
  if (!uv_is_closing((uv_handle_t *)&w->deadline)) uv_close((uv_handle_t *)&w->deadline, NULL);
}

static void expect_session_events(const side *s, bool dialled, uint64_t peer_id) {
  int c = event_at(s, 0, CARNET_PEER_CONNECTED), a = event_at(s, 0, CARNET_PEER_AUTHENTICATED),
      y = event_at(s, 0, CARNET_PEER_SYNCED), d = event_at(s, 0, CARNET_PEER_DISCONNECTED);
  if (!(c >= 0 && c < a && a < y && y < d)) {
    for (int i = 0; i < s->nevents; i++)
      print_message("event %d: type %d err %d %s\n", i, s->events[i].type, s->events[i].err,
                    s->events[i].message);
    fail_msg("expected CONNECTED < AUTHENTICATED < SYNCED < DISCONNECTED (%d %d %d %d)", c, a, y,
             d);
  }
  assert_int_equal(event_at(s, 0, CARNET_PEER_FAILED), -1);
  assert_int_equal(s->events[c].dialled, dialled);
  assert_false(s->events[c].has_pk);
  assert_true(s->events[a].has_pk);
  assert_int_equal(s->events[a].replica_id, peer_id);
  assert_int_equal(s->events[d].err, 0);
  assert_true(s->events[d].has_stats);
  assert_int_equal(d, s->nevents - 1); /* the end is the last event */
}

static void test_loop_mode(void **state) {
  world *w = *state;
  side *a = &w->s[0], *b = &w->s[1];
  carnet_subscription *sub;
  char why[256] = "";
  trust_pair(a->r, b->r);
  carnet_id early = customer(a->r, "Made on A before the start");

  carnet_node_opts oa = {.loop = &w->loop,
                         .listen = "127.0.0.1:0",
                         .log = quiet_log,
                         .event = on_event,
                         .event_data = a,
                         .stopped = on_stopped,
                         .stopped_data = a};
  if (carnet_node_new(a->r, &oa, &a->node, why, sizeof why)) fail_msg("node A: %s", why);
  const char *addr = carnet_node_listen_addr(a->node);
  assert_true(strncmp(addr, "127.0.0.1:", 10) == 0 && strcmp(addr, "127.0.0.1:0") != 0);
  carnet_node_opts ob = {.loop = &w->loop,
                         .log = quiet_log,
                         .event = on_event_b,
                         .event_data = b,
                         .stopped = on_stopped_b,
                         .stopped_data = b};
  if (carnet_node_new(b->r, &ob, &b->node, why, sizeof why)) fail_msg("node B: %s", why);
  ASSERT_OK(b->r, carnet_node_dial(b->node, addr));
  assert_int_equal(carnet_node_dial(b->node, addr), CARNET_EEXIST);
  ASSERT_OK(b->r, carnet_replica_subscribe(b->r, on_change_b, b, &sub));

  deadline_start(w);
  ASSERT_OK(a->r, carnet_node_start(a->node));
  ASSERT_OK(b->r, carnet_node_start(b->node));
  assert_int_equal(carnet_node_start(b->node), CARNET_EMISUSE);
  assert_int_equal(carnet_node_run(b->node), CARNET_EMISUSE);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  deadline_end(w);

  assert_false(w->timed_out);
  assert_int_equal(a->stopped, 1);
  assert_int_equal(b->stopped, 1);
  assert_true(w->late_made);
  const seen_change *c1 = seen(b, &early, CARNET_SOURCE_PEER);
  const seen_change *c2 = seen(b, &w->late, CARNET_SOURCE_PEER);
  assert_non_null(c1);
  assert_non_null(c2);
  assert_int_equal(c1->kind, CARNET_KIND_CUSTOMER);
  assert_int_equal(c1->op, CARNET_CHANGE_CREATED);
  assert_int_equal(c1->peer, carnet_replica_id(a->r));
  assert_int_equal(c2->kind, CARNET_KIND_CUSTOMER);
  assert_int_equal(c2->op, CARNET_CHANGE_CREATED);
  assert_int_equal(c2->peer, carnet_replica_id(a->r));
  expect_session_events(b, true, carnet_replica_id(a->r));
  expect_session_events(a, false, carnet_replica_id(b->r));
  const carnet_node_outcome *o = carnet_node_outcome_get(b->node, 0);
  assert_non_null(o);
  assert_null(carnet_node_outcome_get(b->node, 1));
  assert_true(o->connected && o->authenticated && o->synced);
  assert_int_equal(o->peer_id, carnet_replica_id(a->r));
  assert_string_equal(o->addr, addr);
  ASSERT_OK(b->r, carnet_replica_unsubscribe(b->r, sub));
}

/* --- (b) each node on its own thread ---------------------------------------------------- */

#define WRITERS 3 /* app threads writing on A at once */
#define WRITES_EACH 10
#define THREAD_WRITES (WRITERS * WRITES_EACH)

typedef struct write_arg {
  const char *name;
  carnet_id id;
} write_arg;

static int create_on(carnet_replica *r, void *data) {
  write_arg *wa = data;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (p == NULL) return CARNET_ENOMEM;
  int rc = carnet_patch_set(p, CARNET_F_NAME, wa->name);
  if (rc == 0) rc = carnet_record_create_commit(r, p, &wa->id);
  carnet_patch_free(p);
  return rc;
}

typedef struct writer {
  carnet_node *node;
  write_arg *w; /* WRITES_EACH of them */
  int failed;
  uv_thread_t thread;
} writer;

static void write_some(void *arg) {
  writer *wr = arg;
  for (int i = 0; i < WRITES_EACH; i++)
    wr->failed += carnet_node_exec(wr->node, create_on, &wr->w[i]) != 0;
}

static int which_thread(carnet_replica *r, void *data) {
  (void)r;
  *(uv_thread_t *)data = uv_thread_self();
  return 42;
}

static int count_customers_cb(const carnet_record *rec, void *data) {
  (void)rec;
  (*(int *)data)++;
  return 0;
}

static int count_customers(carnet_replica *r, void *data) {
  *(int *)data = 0;
  return carnet_record_list(r, CARNET_KIND_CUSTOMER, NULL, count_customers_cb, data);
}

typedef struct want_ids {
  const write_arg *w;
  int n;
  uint64_t from;
} want_ids;

static bool has_all(const side *s, const void *arg) {
  const want_ids *want = arg;
  for (int i = 0; i < want->n; i++) {
    const seen_change *c = seen(s, &want->w[i].id, CARNET_SOURCE_PEER);
    if (c == NULL || c->peer != want->from) return false;
  }
  return true;
}

static bool has_synced(const side *s, const void *arg) {
  (void)arg;
  return event_at(s, 0, CARNET_PEER_SYNCED) >= 0;
}

static void test_thread_mode(void **state) {
  world *w = *state;
  side *a = &w->s[0], *b = &w->s[1];
  carnet_subscription *sub;
  write_arg writes[THREAD_WRITES];
  char names[THREAD_WRITES][32];
  uv_thread_t self = uv_thread_self(), t = self;
  trust_pair(a->r, b->r);

  carnet_node_opts oa = {.listen = "127.0.0.1:0"};
  a->node = node_new(a, &oa);
  const char *peers[] = {carnet_node_listen_addr(a->node)};
  carnet_node_opts ob = {.peers = peers, .npeers = 1, .redial = true};
  b->node = node_new(b, &ob);
  /* Before the start, exec runs here. */
  assert_int_equal(carnet_node_exec(b->node, which_thread, &t), 42);
  assert_true(uv_thread_equal(&t, &self));
  assert_int_equal(carnet_node_exec(b->node, NULL, NULL), CARNET_EMISUSE);
  ASSERT_OK(b->r, carnet_replica_subscribe(b->r, on_change, b, &sub));
  assert_int_equal(carnet_node_join(a->node), CARNET_EMISUSE); /* not started on a thread */

  ASSERT_OK(a->r, carnet_node_start_thread(a->node));
  ASSERT_OK(b->r, carnet_node_start_thread(b->node));
  assert_int_equal(carnet_node_start_thread(b->node), CARNET_EMISUSE);
  /* The app writes on A from several threads while the nodes sync: each
   * write runs on A's thread, between two events of its loop. */
  writer wr[WRITERS];
  for (int i = 0; i < THREAD_WRITES; i++) {
    snprintf(names[i], sizeof names[i], "Thread customer %d", i);
    writes[i].name = names[i];
  }
  for (int k = 0; k < WRITERS; k++) {
    wr[k] = (writer){.node = a->node, .w = &writes[k * WRITES_EACH]};
    if (k > 0) assert_int_equal(uv_thread_create(&wr[k].thread, write_some, &wr[k]), 0);
  }
  write_some(&wr[0]); /* this thread is a writer too */
  for (int k = 1; k < WRITERS; k++)
    assert_int_equal(uv_thread_join(&wr[k].thread), 0);
  for (int k = 0; k < WRITERS; k++)
    assert_int_equal(wr[k].failed, 0);
  want_ids want = {writes, THREAD_WRITES, carnet_replica_id(a->r)};
  assert_true(wait_for(b, has_all, &want));
  assert_true(wait_for(b, has_synced, NULL)); /* caught up at least once */

  /* While B runs, exec runs on B's thread: the one its feed calls back on. */
  assert_int_equal(carnet_node_exec(b->node, which_thread, &t), 42);
  assert_false(uv_thread_equal(&t, &self));
  uv_mutex_lock(&b->mu);
  assert_true(uv_thread_equal(&t, &b->feed_thread));
  uv_mutex_unlock(&b->mu);
  int n = 0;
  ASSERT_OK(b->r, carnet_node_exec(b->node, count_customers, &n));
  assert_int_equal(n, THREAD_WRITES);

  carnet_node_stop(b->node); /* and joins */
  assert_int_equal(carnet_node_join(b->node), 0);
  carnet_node_stop(a->node);
  assert_int_equal(carnet_node_join(a->node), 0);
  carnet_node_stop(a->node); /* a no-op once stopped */
  assert_int_equal(a->stopped, 1);
  assert_int_equal(b->stopped, 1);
  /* After the stop, exec runs here again, and the replica is the app's. */
  assert_int_equal(carnet_node_exec(b->node, which_thread, &t), 42);
  assert_true(uv_thread_equal(&t, &self));
  assert_int_equal(carnet_node_dial(b->node, "127.0.0.1:9"), CARNET_EMISUSE);
  ASSERT_OK(b->r, count_customers(b->r, &n));
  assert_int_equal(n, THREAD_WRITES);
  expect_session_events(b, true, carnet_replica_id(a->r));
  ASSERT_OK(b->r, carnet_replica_unsubscribe(b->r, sub));
}

/* --- (c) another process writes the directory of a running node ------------------------- */

static bool has_external(const side *s, const void *arg) {
  const seen_change *c = seen(s, arg, CARNET_SOURCE_EXTERNAL);
  return c && c->kind == CARNET_KIND_CUSTOMER;
}

static bool has_erased(const side *s, const void *arg) {
  for (int i = 0; i < s->nchanges; i++)
    if (memcmp(s->changes[i].id.b, ((const carnet_id *)arg)->b, 16) == 0 &&
        s->changes[i].op == CARNET_CHANGE_ERASED && s->changes[i].source == CARNET_SOURCE_EXTERNAL)
      return true;
  return false;
}

static carnet_id cli_customer_add(const char *dir, const char *name) {
  const char *bin = getenv("CARNET_BIN");
  proc_result res;
  carnet_id id;
  assert_non_null(bin);
  const char *argv[] = {bin, "--dir", dir, "customer", "add", "--name", name, "--json", NULL};
  assert_int_equal(proc_run(argv, NULL, &res), 0);
  if (res.status != 0) fail_msg("carnet customer add: exit %d: %s", res.status, res.err);
  /* --json: the record, its id first among its keys ("id": "..."). */
  const char *at = strstr(res.out, "\"id\"");
  char hex[CARNET_ID_HEX_LEN + 1] = "";
  if (at) sscanf(at, "\"id\": \"%32[0-9a-f]\"", hex);
  if (hex[0] == '\0' && at) sscanf(at, "\"id\":\"%32[0-9a-f]\"", hex);
  if (carnet_id_parse(hex, &id) != 0) fail_msg("no id in: '%s'", res.out);
  proc_result_free(&res);
  return id;
}

static void cli_erase(const char *dir, const carnet_id *id) {
  const char *bin = getenv("CARNET_BIN");
  char hex[CARNET_ID_HEX_LEN + 1];
  proc_result res;
  carnet_id_format(id, hex);
  const char *argv[] = {bin, "--dir", dir, "erase", hex, "--reason", "asked", NULL};
  assert_int_equal(proc_run(argv, NULL, &res), 0);
  if (res.status != 0) fail_msg("carnet erase: exit %d: %s", res.status, res.err);
  proc_result_free(&res);
}

static void test_other_process(void **state) {
  world *w = *state;
  side *b = &w->s[1];
  carnet_subscription *sub;
  carnet_node_opts ob = {.listen = "127.0.0.1:0"};
  b->node = node_new(b, &ob);
  ASSERT_OK(b->r, carnet_replica_subscribe(b->r, on_change, b, &sub));
  ASSERT_OK(b->r, carnet_node_start_thread(b->node));
  carnet_id id = cli_customer_add(w->f->dir[1], "Added by another process");
  assert_true(wait_for(b, has_external, &id));
  cli_erase(w->f->dir[1], &id);
  assert_true(wait_for(b, has_erased, &id));
  carnet_node_stop(b->node);
  assert_int_equal(carnet_node_join(b->node), 0);
  ASSERT_OK(b->r, carnet_replica_unsubscribe(b->r, sub));
}

/* --- (d) a refused peer, an unreachable one ------------------------------------------------ */

static void on_stopped_c(void *data) {
  side *c = data;
  on_stopped(data);
  carnet_node_stop(c->w->s[0].node);
}

/* A port on which nothing listens: bound, then closed. */
static unsigned closed_port(void) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  close(fd);
  return ntohs(sa.sin_port);
}

static void test_refused_peer(void **state) {
  world *w = *state;
  side *a = &w->s[0], *c = &w->s[2];
  char nowhere[64];
  trust_pair(a->r, w->s[1].r); /* A trusts B, not C */
  snprintf(nowhere, sizeof nowhere, "127.0.0.1:%u", closed_port());

  carnet_node_opts oa = {.loop = &w->loop, .listen = "127.0.0.1:0"};
  a->node = node_new(a, &oa);
  const char *peers[] = {carnet_node_listen_addr(a->node), nowhere};
  carnet_node_opts oc = {.loop = &w->loop,
                         .peers = peers,
                         .npeers = 2,
                         .once = true,
                         .log = quiet_log,
                         .event = on_event,
                         .event_data = c,
                         .stopped = on_stopped_c,
                         .stopped_data = c};
  ASSERT_OK(c->r, carnet_node_new(c->r, &oc, &c->node, NULL, 0));
  deadline_start(w);
  ASSERT_OK(a->r, carnet_node_start(a->node));
  ASSERT_OK(c->r, carnet_node_start(c->node));
  uv_run(&w->loop, UV_RUN_DEFAULT);
  deadline_end(w);
  assert_false(w->timed_out);
  assert_int_equal(a->stopped, 1);
  assert_int_equal(c->stopped, 1);

  /* A: the connection, then the refusal of an untrusted key. */
  int k = event_at(a, 0, CARNET_PEER_CONNECTED), f = event_at(a, 0, CARNET_PEER_FAILED);
  assert_true(k >= 0 && f > k);
  assert_int_equal(event_at(a, 0, CARNET_PEER_AUTHENTICATED), -1);
  assert_int_equal(a->events[f].err, CARNET_EPERM);
  assert_true(a->events[f].message[0] != '\0');
  assert_false(a->events[f].dialled);
  /* C: a failure for each peer; no connection to the closed port. */
  int nfail = 0, nconn = 0;
  for (int i = 0; i < c->nevents; i++) {
    if (c->events[i].type == CARNET_PEER_FAILED) {
      nfail++;
      assert_int_not_equal(c->events[i].err, 0);
      assert_true(c->events[i].message[0] != '\0');
    }
    nconn += c->events[i].type == CARNET_PEER_CONNECTED;
  }
  assert_int_equal(nfail, 2);
  assert_int_equal(nconn, 1);
  const carnet_node_outcome *o = carnet_node_outcome_get(c->node, 1);
  assert_false(o->connected);
  assert_false(o->synced);
  assert_true(o->msg[0] != '\0');
  assert_false(carnet_node_outcome_get(c->node, 0)->synced);
}

/* --- LAN discovery ---------------------------------------------------------------- */

/* A UDP port nobody on this host uses right now (two runs of the suite at
 * once must not hear each other): probed by binding without SO_REUSEADDR,
 * from a point that depends on the pid (as tests/replica/test_discovery.c). */
static uint16_t free_udp_port(void) {
  uv_loop_t loop;
  uint16_t found = 0;
  assert_int_equal(uv_loop_init(&loop), 0);
  for (unsigned i = 0; i < 200 && !found; i++) {
    uint16_t port = (uint16_t)(20000 + ((unsigned)getpid() * 11u + i * 131u) % 30000u);
    uv_udp_t u;
    struct sockaddr_in sa;
    uv_udp_init(&loop, &u);
    uv_ip4_addr("0.0.0.0", port, &sa);
    if (uv_udp_bind(&u, (const struct sockaddr *)&sa, 0) == 0) found = port;
    uv_close((uv_handle_t *)&u, NULL);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  assert_true(found != 0);
  return found;
}

/* B's feed: A's customer came through a session that LAN discovery made. */
static void on_change_found(void *data, const carnet_change_event *ev) {
  side *b = data;
  world *w = b->w;
  on_change(data, ev);
  if (seen(b, &w->late, CARNET_SOURCE_PEER)) {
    carnet_node_stop(w->s[0].node);
    carnet_node_stop(b->node);
  }
}

/* Two nodes on the test's loop, each told nothing of the other: they find
 * each other by multicast on the loopback interface, and sync. */
static void test_discover(void **state) {
  world *w = *state;
  side *a = &w->s[0], *b = &w->s[1];
  carnet_subscription *sub;
  trust_pair(a->r, b->r);
  w->late = customer(a->r, "Found on the LAN");
  uint16_t port = free_udp_port();
  carnet_node_opts o = {.loop = &w->loop,
                        .listen = "127.0.0.1:0",
                        .discover_iface = "127.0.0.1",
                        .discover_port = port,
                        .discover_interval_ms = 50};
  a->node = node_new(a, &o);
  b->node = node_new(b, &o);
  ASSERT_OK(b->r, carnet_replica_subscribe(b->r, on_change_found, b, &sub));
  ASSERT_OK(a->r, carnet_node_discover(a->node)); /* before the start: at the start */
  deadline_start(w);
  ASSERT_OK(a->r, carnet_node_start(a->node));
  ASSERT_OK(b->r, carnet_node_start(b->node));
  ASSERT_OK(b->r, carnet_node_discover(b->node)); /* running: at once */
  ASSERT_OK(b->r, carnet_node_discover(b->node)); /* idempotent */
  uv_run(&w->loop, UV_RUN_DEFAULT);
  deadline_end(w);
  assert_false(w->timed_out);
  const seen_change *c = seen(b, &w->late, CARNET_SOURCE_PEER);
  assert_non_null(c);
  assert_int_equal(c->peer, carnet_replica_id(a->r));
  /* The one that dialled has the other as a dial target. */
  const carnet_node_outcome *oa = carnet_node_outcome_get(a->node, 0);
  const carnet_node_outcome *ob = carnet_node_outcome_get(b->node, 0);
  assert_true((oa != NULL) != (ob != NULL));
  assert_int_equal(carnet_node_discover(a->node), CARNET_EMISUSE); /* stopped */
  ASSERT_OK(b->r, carnet_replica_unsubscribe(b->r, sub));

  /* Nothing to announce without a listener; no discovery for a once node. */
  carnet_node *n = NULL;
  carnet_node_opts none = {0};
  ASSERT_OK(a->r, carnet_node_new(a->r, &none, &n, NULL, 0));
  assert_int_equal(carnet_node_discover(n), CARNET_EINVAL);
  carnet_node_free(n);
  carnet_node_opts once = {.listen = "127.0.0.1:0", .once = true};
  ASSERT_OK(a->r, carnet_node_new(a->r, &once, &n, NULL, 0));
  assert_int_equal(carnet_node_discover(n), CARNET_EMISUSE);
  carnet_node_free(n);
}

/* --- (f) admission: idle connections ----------------------------------------------------- */

/* 40 connections that never send a byte, all from the trusted peer's
 * address, reach A before B dials it (replica/node.c A1-A6): A keeps 4 of
 * them at most, turns the others away with a busy frame, and B's session
 * goes through. None of the idle ones shows in A's events (an accepted
 * connection reports CONNECTED with its first bytes): A's events are B's
 * session's, and nothing else. */
static void test_idle_connections(void **state) {
  world *w = *state;
  side *a = &w->s[0], *b = &w->s[1];
  enum { IDLE = 40 };
  int fds[IDLE];
  char why[256] = "";
  trust_pair(a->r, b->r);
  (void)customer(a->r, "Made on A");
  carnet_node_opts oa = {.loop = &w->loop,
                         .listen = "127.0.0.1:0",
                         .log = quiet_log,
                         .event = on_event,
                         .event_data = a,
                         .stopped = on_stopped,
                         .stopped_data = a};
  if (carnet_node_new(a->r, &oa, &a->node, why, sizeof why)) fail_msg("node A: %s", why);
  const char *addr = carnet_node_listen_addr(a->node);
  struct sockaddr_in sin = {.sin_family = AF_INET};
  sin.sin_port = htons((uint16_t)atoi(strrchr(addr, ':') + 1));
  assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr), 1);
  for (int i = 0; i < IDLE; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fds[i] >= 0);
    assert_int_equal(connect(fds[i], (struct sockaddr *)&sin, sizeof sin), 0);
  }
  const char *peers[] = {addr};
  carnet_node_opts ob = {.loop = &w->loop,
                         .peers = peers,
                         .npeers = 1,
                         .once = true,
                         .log = quiet_log,
                         .event = on_event,
                         .event_data = b,
                         .stopped = on_stopped_b,
                         .stopped_data = b};
  if (carnet_node_new(b->r, &ob, &b->node, why, sizeof why)) fail_msg("node B: %s", why);
  deadline_start(w);
  ASSERT_OK(a->r, carnet_node_start(a->node));
  ASSERT_OK(b->r, carnet_node_start(b->node));
  uv_run(&w->loop, UV_RUN_DEFAULT);
  deadline_end(w);
  assert_false(w->timed_out);
  assert_true(carnet_node_outcome_get(b->node, 0)->synced);
  expect_session_events(a, false, carnet_replica_id(b->r));
  /* The idle ones: all closed, most of them told first that A is busy. */
  int told = 0;
  for (int i = 0; i < IDLE; i++) {
    uint8_t buf[256];
    ssize_t n = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT);
    told += n > 4 && buf[0] == 0 && buf[1] == 0; /* a frame: 4-byte length, then the ERROR */
    close(fds[i]);
  }
  assert_true(told >= IDLE - 4);
}

/* --- (e) edges ------------------------------------------------------------------------------ */

static void test_addresses(void **state) {
  (void)state;
  char host[CARNET_NODE_ADDR_MAX], why[160];
  uint16_t port = 0;
  ASSERT_OK(NULL, carnet_node_addr_parse("office-pc.lan:7373", host, sizeof host, &port, why,
                                         sizeof why));
  assert_string_equal(host, "office-pc.lan");
  assert_int_equal(port, 7373);
  ASSERT_OK(NULL, carnet_node_addr_parse("[::1]:80", host, sizeof host, &port, NULL, 0));
  assert_string_equal(host, "::1");
  ASSERT_OK(NULL, carnet_node_addr_parse("127.0.0.1:1", NULL, 0, NULL, NULL, 0));
  assert_int_equal(carnet_node_addr_parse("127.0.0.1:0", host, sizeof host, &port, why, sizeof why),
                   CARNET_EINVAL);
  assert_true(why[0] != '\0');
  assert_int_equal(carnet_node_addr_parse("nohost", NULL, 0, NULL, why, sizeof why), CARNET_EINVAL);
  assert_int_equal(carnet_node_addr_parse("host:99999", NULL, 0, NULL, why, sizeof why),
                   CARNET_EINVAL);
  assert_int_equal(carnet_node_addr_parse("office-pc.lan:7373", host, 4, &port, why, sizeof why),
                   CARNET_ELIMIT);
}

static void test_edges(void **state) {
  world *w = *state;
  side *a = &w->s[0];
  char why[256];
  carnet_node *n = NULL;

  /* Bad options. */
  const char *bad[] = {"not an address"};
  carnet_node_opts o = {.peers = bad, .npeers = 1};
  assert_int_equal(carnet_node_new(a->r, &o, &n, why, sizeof why), CARNET_EINVAL);
  assert_null(n);
  assert_true(why[0] != '\0');
  carnet_node_opts ol = {.listen = "127.0.0.1:99999"};
  assert_int_equal(carnet_node_new(a->r, &ol, &n, why, sizeof why), CARNET_EINVAL);

  /* Dial errors. */
  carnet_node_opts od = {.once = true};
  a->node = node_new(a, &od);
  assert_int_equal(carnet_node_dial(a->node, "nohost"), CARNET_EINVAL);
  char addr[32];
  for (unsigned i = 0; i < CARNET_NODE_PEERS_MAX; i++) {
    snprintf(addr, sizeof addr, "127.0.0.1:%u", 1000 + i);
    ASSERT_OK(a->r, carnet_node_dial(a->node, addr));
  }
  assert_int_equal(carnet_node_dial(a->node, "127.0.0.1:999"), CARNET_ELIMIT);
  carnet_node_free(a->node);
  a->node = NULL;

  /* A stop before the start: the run ends at once. */
  carnet_node_opts os = {.listen = "127.0.0.1:0"};
  a->node = node_new(a, &os);
  carnet_node_stop(a->node);
  assert_int_equal(carnet_node_run(a->node), 0);
  assert_int_equal(a->stopped, 1);
  assert_int_equal(carnet_node_run(a->node), CARNET_EMISUSE);
  carnet_node_free(a->node);
  a->node = NULL;

  /* On the app's loop, an address in use: the failed node's listener
   * closes, and its memory goes, with the loop's next run. */
  carnet_node_opts ou = {.loop = &w->loop, .listen = "127.0.0.1:0"};
  n = node_new(a, &ou);
  carnet_node *n2 = NULL;
  carnet_node_opts ou2 = {.loop = &w->loop, .listen = carnet_node_listen_addr(n)};
  assert_int_equal(carnet_node_new(a->r, &ou2, &n2, why, sizeof why), CARNET_EIO);
  assert_null(n2);
  assert_non_null(strstr(why, "cannot listen"));
  carnet_node_free(n);
  uv_run(&w->loop, UV_RUN_DEFAULT);

  /* On the app's loop, freed before it starts: the listener closes with
   * the loop's next run, and the memory with it (the loop closes clean:
   * teardown). */
  carnet_node_opts of = {.loop = &w->loop, .listen = "127.0.0.1:0"};
  n = node_new(a, &of);
  assert_int_equal(carnet_node_run(n), CARNET_EMISUSE);
  assert_int_equal(carnet_node_start_thread(n), CARNET_EMISUSE);
  carnet_node_free(n);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  carnet_node_free(NULL);
}

int main(void) {
  /* A peer that vanishes mid-write must not kill the test (carnet/node.h). */
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_loop_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_thread_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_process, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_peer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idle_connections, setup, teardown),
      cmocka_unit_test_setup_teardown(test_discover, setup, teardown),
      cmocka_unit_test(test_addresses),
      cmocka_unit_test_setup_teardown(test_edges, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
