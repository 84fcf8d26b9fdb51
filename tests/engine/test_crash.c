/* tests/engine/test_crash.c - a crash at any instant loses nothing that was
 * acknowledged and never leaves half a transaction (DESIGN, Storage).
 *
 * A child process opens a replica and writes customers in a loop: mostly
 * one carnet_record_create_commit each, sometimes a carnet_txn of BATCH creates with ids
 * chosen in advance. After each commit returns it writes the acknowledged
 * ids to a pipe. The parent reads acknowledgements for a while, kills the
 * child with SIGKILL in the middle of its writing, reaps it, and only then
 * opens the replica (one LMDB environment per directory and process). It
 * checks that:
 *   - every acknowledged id is there, with every field intact;
 *   - the transaction in flight at the kill is all there or not at all,
 *     and at most one unacknowledged transaction committed;
 *   - carnet_changes_encode from the start streams every entity, and a fresh replica
 *     fed with that stream holds the same state;
 *   - the reopened replica accepts new writes.
 * Three rounds, killed at different points.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "support/testenv.h"

#define BATCH 50
#define UNITS_MAX 100000
#define ACK_ERROR UINT32_MAX

/* One acknowledgement: the write number n and the id it got. 20 bytes, so
 * a write(2) of it to a pipe is atomic. */
typedef struct ack {
  uint32_t n;
  uint8_t id[16];
} ack;

/* The schedule both processes know: unit u is a transaction of BATCH
 * creates when u % 7 == 3, else one carnet_record_create_commit. */
static bool unit_is_batch(uint32_t u) {
  return u % 7 == 3;
}
static uint32_t unit_size(uint32_t u) {
  return unit_is_batch(u) ? BATCH : 1;
}

/* The unit that write number n belongs to, and the first n of a unit. */
static uint32_t unit_first_n(uint32_t u) {
  uint32_t n = 0;
  for (uint32_t k = 0; k < u; k++)
    n += unit_size(k);
  return n;
}

static uint32_t unit_of(uint32_t n) {
  uint32_t u = 0, first = 0;
  while (first + unit_size(u) <= n)
    first += unit_size(u++);
  return u;
}

/* Fields of write number n. */
static const char *const CITIES[] = {"Paris", "Lyon", "Marseille", "Toulouse", "Nantes"};

static void fields_of(uint32_t n, char *name, char *email, char *notes, const char **city,
                      char *tag) {
  snprintf(name, 64, "Client %u", n);
  snprintf(email, 64, "client%u@crash.example", n);
  snprintf(notes, 512,
           "Client %u: notes assez longues pour remplir des pages de la base, afin que le "
           "processus soit tué au milieu d'écritures qui touchent plusieurs pages. %u %u %u",
           n, n * 7, n * 13, n * 31);
  *city = CITIES[n % 5];
  snprintf(tag, 16, "t%u", n % 4);
}

/* Ids of batch writes, fixed in advance so the parent can look for the
 * in-flight transaction: "c0ffee" + round + n. */
static carnet_id batch_id(int round, uint32_t n) {
  carnet_id id;
  memset(&id, 0, sizeof id);
  id.b[0] = 0xc0;
  id.b[1] = 0xff;
  id.b[2] = 0xee;
  id.b[3] = (uint8_t)round;
  id.b[12] = (uint8_t)(n >> 24);
  id.b[13] = (uint8_t)(n >> 16);
  id.b[14] = (uint8_t)(n >> 8);
  id.b[15] = (uint8_t)n;
  return id;
}

static carnet_patch *patch_of(uint32_t n) {
  char name[64], email[64], notes[512], tag[16];
  const char *city;
  fields_of(n, name, email, notes, &city, tag);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (!p) return NULL;
  if (carnet_patch_set(p, CARNET_F_NAME, name) || carnet_patch_set(p, CARNET_F_EMAILS, email) ||
      carnet_patch_set(p, CARNET_F_NOTES, notes) || carnet_patch_set(p, CARNET_F_CITY, city) ||
      carnet_patch_set(p, CARNET_F_TAGS, tag)) {
    carnet_patch_free(p);
    return NULL;
  }
  return p;
}

static void send_ack(int fd, uint32_t n, const carnet_id *id) {
  ack a;
  a.n = n;
  memcpy(a.id, id->b, 16);
  ssize_t k;
  do
    k = write(fd, &a, sizeof a);
  while (k < 0 && errno == EINTR);
  if (k != (ssize_t)sizeof a) _exit(5);
}

/* The child: never returns. No cmocka calls here. */
static void child_main(const char *dir, int fd, int round) {
  tenv e;
  tenv_init(&e, TENV_EPOCH_MS, 1000 + (uint64_t)round);
  carnet_env ce;
  tenv_fill(&e, &ce);
  carnet_replica *r = NULL;
  char err[256];
  carnet_id none = {{0}};
  if (carnet_replica_init(dir, &ce, &r, err, sizeof err) != 0) {
    fprintf(stderr, "crash child: init: %s\n", err);
    send_ack(fd, ACK_ERROR, &none);
    _exit(3);
  }
  uint32_t n = 0;
  for (uint32_t u = 0; u < UNITS_MAX; u++) {
    tenv_advance_ms(&e, 1);
    if (!unit_is_batch(u)) {
      carnet_patch *p = patch_of(n);
      carnet_id id;
      int rc = p ? carnet_record_create_commit(r, p, &id) : CARNET_ENOMEM;
      carnet_patch_free(p);
      if (rc) {
        fprintf(stderr, "crash child: create1 %u: %s\n", n, carnet_replica_errmsg(r));
        send_ack(fd, ACK_ERROR, &none);
        _exit(4);
      }
      send_ack(fd, n, &id);
      n++;
      continue;
    }
    carnet_txn *t = NULL;
    int rc = carnet_txn_begin(r, &t);
    for (uint32_t k = 0; k < BATCH && rc == 0; k++) {
      carnet_patch *p = patch_of(n + k);
      carnet_id id = batch_id(round, n + k);
      rc = p ? carnet_record_create(t, p, &id, NULL) : CARNET_ENOMEM;
      carnet_patch_free(p);
    }
    if (rc == 0)
      rc = carnet_txn_commit(t);
    else
      carnet_txn_abort(t);
    if (rc) {
      fprintf(stderr, "crash child: batch at %u: %s\n", n, carnet_replica_errmsg(r));
      send_ack(fd, ACK_ERROR, &none);
      _exit(4);
    }
    for (uint32_t k = 0; k < BATCH; k++) {
      carnet_id id = batch_id(round, n + k);
      send_ack(fd, n + k, &id);
    }
    n += BATCH;
  }
  carnet_replica_close(r);
  _exit(0);
}

/* --- Parent ----------------------------------------------------------------- */

typedef struct acks {
  ack *v;
  size_t n, cap;
  size_t partial; /* bytes of an incomplete record at the end */
  uint8_t buf[sizeof(ack)];
} acks;

static bool read_acks(int fd, acks *a, int timeout_ms) {
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  int pr = poll(&pfd, 1, timeout_ms);
  if (pr <= 0) return false;
  uint8_t chunk[4096];
  ssize_t k = read(fd, chunk, sizeof chunk);
  if (k <= 0) return false;
  for (ssize_t i = 0; i < k; i++) {
    a->buf[a->partial++] = chunk[i];
    if (a->partial == sizeof(ack)) {
      if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 1024;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
        assert_non_null(a->v);
      }
      memcpy(&a->v[a->n++], a->buf, sizeof(ack));
      a->partial = 0;
    }
  }
  return true;
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void check_fields(carnet_replica *r, const carnet_id *id, uint32_t n) {
  char name[64], email[64], notes[512], tag[16];
  const char *city;
  fields_of(n, name, email, notes, &city, tag);
  carnet_record *rec = NULL;
  int rc = carnet_record_get(r, id, &rec);
  if (rc != 0) {
    char hex[CARNET_ID_HEX_LEN + 1];
    carnet_id_format(id, hex);
    fail_msg("acknowledged write %u (id %s) is missing after the crash: %s", n, hex,
             carnet_error_name(rc));
  }
  assert_int_equal(carnet_record_kind(rec), CARNET_KIND_CUSTOMER);
  assert_false(carnet_record_deleted(rec));
  const char *s = carnet_record_str(rec, CARNET_F_NAME);
  if (!s || strcmp(s, name) != 0)
    fail_msg("write %u: name '%s', want '%s'", n, s ? s : "(unset)", name);
  s = carnet_record_str(rec, CARNET_F_NOTES);
  if (!s || strcmp(s, notes) != 0) fail_msg("write %u: notes damaged", n);
  s = carnet_record_str(rec, CARNET_F_CITY);
  if (!s || strcmp(s, city) != 0)
    fail_msg("write %u: city '%s', want '%s'", n, s ? s : "(unset)", city);
  assert_non_null(carnet_record_str(rec, CARNET_F_REFCODE));
  const char *const *els = NULL;
  if (carnet_record_elems(rec, CARNET_F_EMAILS, &els) != 1 || strcmp(els[0], email) != 0)
    fail_msg("write %u: emails damaged", n);
  if (carnet_record_elems(rec, CARNET_F_TAGS, &els) != 1 || strcmp(els[0], tag) != 0)
    fail_msg("write %u: tags damaged", n);
  carnet_record_free(rec);
}

static int count_cb(const carnet_record *rec, void *data) {
  (void)rec;
  (*(size_t *)data)++;
  return 0;
}

static void crash_round(int round, size_t kill_after, unsigned extra_us) {
  char *root = tdir_new("crash");
  assert_non_null(root);
  char *dir = tdir_join(root, "replica");
  char *copy = tdir_join(root, "copy");
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    child_main(dir, fds[1], round);
  }
  close(fds[1]);

  /* Read acknowledgements until the kill point, or 5 s at most. */
  acks a = {0};
  uint64_t deadline = mono_ms() + 5000;
  while (a.n < kill_after && mono_ms() < deadline) {
    if (!read_acks(fds[0], &a, 100) && waitpid(pid, NULL, WNOHANG) == pid)
      fail_msg("round %d: the writer died before being killed (%zu acks)", round, a.n);
  }
  if (extra_us) usleep(extra_us);
  assert_int_equal(kill(pid, SIGKILL), 0);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  /* Acks already in the pipe were acknowledged too. */
  while (read_acks(fds[0], &a, 0))
    ;
  close(fds[0]);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  for (size_t i = 0; i < a.n; i++)
    if (a.v[i].n == ACK_ERROR)
      fail_msg("round %d: the writer reported an error (see its stderr)", round);
  assert_true(a.n >= 1);
  for (size_t i = 0; i < a.n; i++)
    assert_int_equal(a.v[i].n, (uint32_t)i); /* in order, none missing */

  /* The child is dead: now the directory may be opened here. */
  tenv e;
  tenv_init(&e, TENV_EPOCH_MS + 3600 * 1000, 77);
  carnet_env ce;
  tenv_fill(&e, &ce);
  carnet_replica *r = NULL;
  char err[256] = "";
  int rc = carnet_replica_open(dir, &ce, &r, err, sizeof err);
  if (rc)
    fail_msg("round %d: reopening after the crash: %s: %s", round, carnet_error_name(rc), err);

  for (size_t i = 0; i < a.n; i++) {
    carnet_id id;
    memcpy(id.b, a.v[i].id, 16);
    check_fields(r, &id, a.v[i].n);
  }

  /* Units: the last acknowledged one (maybe partly acknowledged if the
   * kill came while acks were being written) and possibly the next one. */
  uint32_t last_unit = unit_of((uint32_t)a.n - 1);
  uint32_t next_unit = last_unit + 1;
  uint32_t done_n = unit_first_n(next_unit);       /* writes of units <= last_unit */
  uint32_t more_n = done_n + unit_size(next_unit); /* if next_unit committed too */
  if (unit_is_batch(last_unit)) {
    uint32_t f0 = unit_first_n(last_unit);
    for (uint32_t k = 0; k < BATCH; k++) {
      carnet_id id = batch_id(round, f0 + k);
      check_fields(r, &id, f0 + k); /* committed since part of it was acknowledged */
    }
  }
  size_t present = 0;
  rc = carnet_record_list(r, CARNET_KIND_CUSTOMER, NULL, count_cb, &present);
  assert_int_equal(rc, 0);
  if (present != done_n && present != more_n)
    fail_msg("round %d: %zu customers after the crash; want %u (acknowledged units) or %u (plus "
             "the one in flight)",
             round, present, done_n, more_n);
  if (unit_is_batch(next_unit)) {
    uint32_t f0 = unit_first_n(next_unit), found = 0;
    for (uint32_t k = 0; k < BATCH; k++) {
      carnet_id id = batch_id(round, f0 + k);
      carnet_record *rec = NULL;
      if (carnet_record_get(r, &id, &rec) == 0) {
        found++;
        carnet_record_free(rec);
        check_fields(r, &id, f0 + k);
      }
    }
    if (found != 0 && found != BATCH)
      fail_msg("round %d: half a transaction survived the crash: %u of %u writes", round, found,
               BATCH);
    assert_int_equal(found == BATCH, present == more_n);
  }

  /* The change stream from 0 holds every entity; replayed into a fresh
   * replica it gives the same state. */
  tenv e2;
  tenv_init(&e2, TENV_EPOCH_MS + 3600 * 1000, 78);
  carnet_env ce2;
  tenv_fill(&e2, &ce2);
  carnet_replica *r2 = NULL;
  rc = carnet_replica_init(copy, &ce2, &r2, err, sizeof err);
  if (rc) fail_msg("init copy: %s", err);
  carnet_mark from = {0, 0};
  uint64_t entities = 0, last_upto = 0;
  for (int guard = 0;; guard++) {
    assert_true(guard < 100000);
    carnet_buf b;
    carnet_batch_info info;
    rc = carnet_changes_encode(r, &from, 64 * 1024, &b, &info);
    if (rc)
      fail_msg("changes_since(%" PRIu64 ") after the crash: %s (%s)", from.after,
               carnet_error_name(rc), carnet_replica_errmsg(r));
    entities += info.entities;
    rc = carnet_changes_apply(r2, b.base, b.len, NULL, NULL);
    carnet_free((void *)b.base);
    if (rc)
      fail_msg("applying the stream: %s (%s)", carnet_error_name(rc), carnet_replica_errmsg(r2));
    from.after = info.upto;
    if (info.entities) last_upto = info.upto;
    if (!info.more) break;
  }
  if (entities != present)
    fail_msg("round %d: the change stream from 0 holds %" PRIu64 " entities, the replica %zu",
             round, entities, present);
  uint64_t seq = 0;
  assert_int_equal(carnet_replica_get_seq(r, &seq), 0);
  assert_int_equal(last_upto, seq); /* the newest entry is the newest change */
  for (size_t i = 0; i < a.n; i++) {
    carnet_id id;
    memcpy(id.b, a.v[i].id, 16);
    check_fields(r2, &id, a.v[i].n);
  }
  uint8_t d1[32], d2[32];
  assert_int_equal(carnet_replica_get_digest(r, d1), 0);
  assert_int_equal(carnet_replica_get_digest(r2, d2), 0);
  assert_memory_equal(d1, d2, 32);

  /* Life goes on: the reopened replica takes new writes. */
  carnet_patch *p = patch_of(999999);
  assert_non_null(p);
  carnet_id nid;
  rc = carnet_record_create_commit(r, p, &nid);
  carnet_patch_free(p);
  if (rc)
    fail_msg("write after the crash: %s (%s)", carnet_error_name(rc), carnet_replica_errmsg(r));
  check_fields(r, &nid, 999999);

  print_message("crash round %d: killed after %zu acks (%zu read in all); %zu customers on disk, "
                "%u acknowledged units\n",
                round, kill_after, a.n, present, last_unit + 1);
  carnet_replica_close(r2);
  carnet_replica_close(r);
  free(a.v);
  tdir_remove(root);
  free(copy);
  free(dir);
  free(root);
}

static void test_crash_early(void **state) {
  (void)state;
  crash_round(1, 7, 0);
}

static void test_crash_middle(void **state) {
  (void)state;
  crash_round(2, 120, 700);
}

static void test_crash_late(void **state) {
  (void)state;
  crash_round(3, 300, 1500);
}

/* More kill points, chosen by a fixed seed: each round is cheap. */
static void test_crash_sweep(void **state) {
  (void)state;
  trng g;
  trng_seed(&g, 2024);
  for (int round = 4; round < 10; round++)
    crash_round(round, 1 + trng_below(&g, 400), trng_below(&g, 3000));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crash_early),
      cmocka_unit_test(test_crash_middle),
      cmocka_unit_test(test_crash_late),
      cmocka_unit_test(test_crash_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
