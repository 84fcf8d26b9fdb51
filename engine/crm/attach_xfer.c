/* engine/crm/attach_xfer.c - an attachment's content file sent and received in
 * units, for the sync session (engine/crm/attach.h: units, A4;
 * protocol/content.c drives them).
 *
 * The receiver never trusts what it writes to NAME.part: every unit is
 * opened with the content key (the secretstream state carried from the
 * previous one) and hashed before it is appended, and a NAME.part found
 * at the start of a transfer is read again from its first byte, so what a
 * cut, a crash or a damaged disk left there counts only up to its last
 * good unit. The whole file is renamed to its final name only after the
 * FINAL unit, the size and the hash (A1).
 *
 * The hash of a large file is computed on a thread of its own (one per
 * transfer, for files of HASH_THREAD_MIN bytes or more): BLAKE2b costs as
 * much as a decryption, and the session's thread, which decrypts the
 * channel and the unit, writes it and runs the sync, then does not wait
 * for it. The plaintext goes to the hasher through a ring of HASH_RING
 * chunks, in order, woken every HASH_BATCH chunks; finish() waits for the
 * ring to drain before it reads the hash. Without the thread (a small file, or no memory or thread
 * for it) the hash is computed inline, with the same result.
 */
#define _GNU_SOURCE /* sync_file_range (Linux) */
#include "engine/crm/attach.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "carnet/error.h"
#include "carnet/record.h"
#include "engine/base/alloc.h"
#include "engine/store/file.h"
#include "engine/store/replica_int.h"

#define SEALED (CARNET_ATTACH_CHUNK + CARNET__ATT_ABYTES)
#define UNIT_MAX (CARNET__ATT_HEADER_LEN + SEALED)
/* Received bytes after which their writeback is started. */
#define RX_WRITEBACK_BYTES (4u << 20)
/* Received bytes between two checks that the attachment is still live
 * (one read transaction and a row decoded each); the last unit is always
 * checked, before the rename. */
#define RX_LIVE_BYTES (1u << 20)
/* The hasher's ring, in chunks, and the smallest file that gets one. */
#define HASH_RING 16u
#define HASH_BATCH 4u /* chunks queued before the hasher is woken */
#define HASH_THREAD_MIN (1u << 20)

/* --- units ---------------------------------------------------------------- */

static uint64_t chunks_of(uint64_t size) {
  return size == 0 ? 1 : (size + CARNET_ATTACH_CHUNK - 1) / CARNET_ATTACH_CHUNK;
}

/* The unit index at `offset`, or -1 when no unit starts there. */
static int64_t unit_at(uint64_t size, uint64_t offset) {
  uint64_t n = chunks_of(size);
  if (offset == 0) return 0;
  if (offset < CARNET__ATT_HEADER_LEN + SEALED || (offset - CARNET__ATT_HEADER_LEN) % SEALED)
    return -1;
  uint64_t k = (offset - CARNET__ATT_HEADER_LEN) / SEALED;
  return k < n ? (int64_t)k : -1;
}

/* The plaintext bytes of chunk k. */
static size_t plain_len(uint64_t size, uint64_t k) {
  uint64_t n = chunks_of(size);
  return k + 1 < n ? CARNET_ATTACH_CHUNK : (size_t)(size - (n - 1) * CARNET_ATTACH_CHUNK);
}

size_t carnet__att_unit_len(uint64_t size, uint64_t offset) {
  int64_t k = unit_at(size, offset);
  if (k < 0) return 0;
  return (k == 0 ? CARNET__ATT_HEADER_LEN : 0) + plain_len(size, (uint64_t)k) + CARNET__ATT_ABYTES;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off) {
  uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = pread(fd, p, len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return CARNET_EIO;
    if (n == 0) return CARNET_ECORRUPT;
    p += n;
    off += (uint64_t)n;
    len -= (size_t)n;
  }
  return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return carnet__errno_code(errno);
    p += n;
    off += (uint64_t)n;
    len -= (size_t)n;
  }
  return 0;
}

/* --- the hasher ------------------------------------------------------------ */

typedef struct hasher {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t work; /* the hasher waits here for chunks (or stop) */
  pthread_cond_t room; /* the session's thread waits here for room (or the drain) */
  uint8_t *ring;       /* HASH_RING chunks of plaintext */
  size_t len[HASH_RING];
  unsigned head, n;         /* n: queued or being hashed */
  bool stop, idle, waiting; /* idle: the hasher waits; waiting: the session's thread does */
  crypto_generichash_state *h;
} hasher;

/* The hasher takes every queued chunk at once and is woken only once
 * HASH_BATCH are queued (or on a drain): a handoff per 64 KiB chunk cost a
 * wake-up, a context switch and lock contention each. */
static void *hasher_main(void *arg) {
  hasher *hs = arg;
  pthread_mutex_lock(&hs->mu);
  for (;;) {
    while (hs->n == 0 && !hs->stop) {
      hs->idle = true;
      pthread_cond_wait(&hs->work, &hs->mu);
      hs->idle = false;
    }
    if (hs->n == 0) break; /* stopped, and nothing left */
    unsigned first = hs->head, count = hs->n;
    pthread_mutex_unlock(&hs->mu);
    for (unsigned i = 0; i < count; i++) {
      unsigned slot = (first + i) % HASH_RING;
      crypto_generichash_update(hs->h, hs->ring + (size_t)slot * CARNET_ATTACH_CHUNK,
                                hs->len[slot]);
    }
    pthread_mutex_lock(&hs->mu);
    hs->head = (hs->head + count) % HASH_RING;
    hs->n -= count;
    if (hs->waiting) pthread_cond_signal(&hs->room);
  }
  pthread_mutex_unlock(&hs->mu);
  return NULL;
}

/* A hasher feeding `h`, or NULL (no memory, no thread: hash inline). */
static hasher *hasher_start(crypto_generichash_state *h) {
  hasher *hs = carnet__calloc(1, sizeof *hs);
  if (hs == NULL) return NULL;
  hs->h = h;
  if ((hs->ring = carnet__malloc((size_t)HASH_RING * CARNET_ATTACH_CHUNK)) == NULL) goto fail_ring;
  if (pthread_mutex_init(&hs->mu, NULL) != 0) goto fail_mu;
  if (pthread_cond_init(&hs->work, NULL) != 0) goto fail_work;
  if (pthread_cond_init(&hs->room, NULL) != 0) goto fail_room;
  if (pthread_create(&hs->th, NULL, hasher_main, hs) != 0) goto fail_th;
  return hs;
fail_th:
  pthread_cond_destroy(&hs->room);
fail_room:
  pthread_cond_destroy(&hs->work);
fail_work:
  pthread_mutex_destroy(&hs->mu);
fail_mu:
  carnet__free(hs->ring);
fail_ring:
  carnet__free(hs);
  return NULL;
}

/* Under the lock: wait until fewer than `max` chunks are queued, waking
 * the hasher if it sleeps on what is queued. */
static void wait_below(hasher *hs, unsigned max) {
  while (hs->n >= max) {
    if (hs->idle) pthread_cond_signal(&hs->work);
    hs->waiting = true;
    pthread_cond_wait(&hs->room, &hs->mu);
    hs->waiting = false;
  }
}

/* Wait until every queued chunk is hashed: the hash state is then the
 * caller's until the next hasher_push. */
static void hasher_drain(hasher *hs) {
  pthread_mutex_lock(&hs->mu);
  wait_below(hs, 1);
  pthread_mutex_unlock(&hs->mu);
}

/* The next free chunk (waits for room); filled, then given by hasher_push. */
static uint8_t *hasher_slot(hasher *hs) {
  pthread_mutex_lock(&hs->mu);
  wait_below(hs, HASH_RING);
  unsigned slot = (hs->head + hs->n) % HASH_RING;
  pthread_mutex_unlock(&hs->mu);
  return hs->ring + (size_t)slot * CARNET_ATTACH_CHUNK;
}

static void hasher_push(hasher *hs, size_t len) {
  pthread_mutex_lock(&hs->mu);
  hs->len[(hs->head + hs->n) % HASH_RING] = len;
  hs->n++;
  if (hs->idle && hs->n >= HASH_BATCH) pthread_cond_signal(&hs->work);
  pthread_mutex_unlock(&hs->mu);
}

static void hasher_stop(hasher *hs) {
  if (hs == NULL) return;
  pthread_mutex_lock(&hs->mu);
  hs->stop = true;
  pthread_cond_signal(&hs->work);
  pthread_mutex_unlock(&hs->mu);
  pthread_join(hs->th, NULL);
  pthread_cond_destroy(&hs->room);
  pthread_cond_destroy(&hs->work);
  pthread_mutex_destroy(&hs->mu);
  sodium_memzero(hs->ring, (size_t)HASH_RING * CARNET_ATTACH_CHUNK); /* plaintext */
  carnet__free(hs->ring);
  carnet__free(hs);
}

/* --- receiving ------------------------------------------------------------- */

struct carnet__att_rx {
  carnet_replica *r;
  carnet__att a;
  int fd;           /* NAME.part, flocked (A4) */
  uint64_t off;     /* bytes of NAME.part checked: where the next unit goes */
  uint64_t k;       /* the next chunk */
  uint64_t flushed; /* bytes of NAME.part whose writeback was started */
  uint64_t checked; /* rx->off at the last still_live() */
  bool gone;        /* deleted or erased meanwhile: NAME.part removed, the rest skipped */
  crypto_secretstream_xchacha20poly1305_state ss;
  crypto_generichash_state h;
  hasher *hs; /* NULL: the hash is computed inline */
  char part[4096], final[4096];
  uint8_t plain[CARNET_ATTACH_CHUNK];
};

const carnet_id *carnet__att_rx_id(const carnet__att_rx *rx) {
  return &rx->a.id;
}

uint64_t carnet__att_rx_offset(const carnet__att_rx *rx) {
  return rx->off;
}

/* Open unit `b` (len bytes) at rx->off into rx->plain and the hash.
 * 0, or CARNET_EPROTO with the reason in *why. */
static int open_unit(carnet__att_rx *rx, const uint8_t *b, size_t len, const char **why) {
  size_t want = carnet__att_unit_len(rx->a.size, rx->off);
  uint64_t n = chunks_of(rx->a.size);
  bool last = rx->k + 1 == n;
  unsigned long long got;
  unsigned char tag;
  if (want == 0 || len != want) {
    *why = "a unit of the wrong length";
    return CARNET_EPROTO;
  }
  if (rx->k == 0) {
    if (crypto_secretstream_xchacha20poly1305_init_pull(&rx->ss, b, rx->a.key) != 0) {
      *why = "a bad stream header";
      return CARNET_EPROTO;
    }
    if (rx->hs) hasher_drain(rx->hs); /* a new start (after a bad hash): the state is ours */
    crypto_generichash_init(&rx->h, NULL, 0, CARNET__ATT_HASH_LEN);
    b += CARNET__ATT_HEADER_LEN;
    len -= CARNET__ATT_HEADER_LEN;
  }
  /* Pull on a copy: a unit that fails leaves the state as it was. */
  crypto_secretstream_xchacha20poly1305_state ss = rx->ss;
  uint8_t *plain = rx->hs ? hasher_slot(rx->hs) : rx->plain;
  if (crypto_secretstream_xchacha20poly1305_pull(&ss, plain, &got, &tag, b, len, rx->a.id.b, 16) !=
          0 ||
      got != plain_len(rx->a.size, rx->k)) {
    *why = "a chunk fails authentication";
    return CARNET_EPROTO;
  }
  if (tag != (last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                   : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)) {
    *why = "chunks out of place";
    return CARNET_EPROTO;
  }
  rx->ss = ss;
  if (rx->hs)
    hasher_push(rx->hs, (size_t)got);
  else
    crypto_generichash_update(&rx->h, plain, (size_t)got);
  return 0;
}

static int remove_want(carnet_replica *r, const carnet_id *id) {
  uint8_t key[CARNET__ATT_WANT_KEY_LEN];
  carnet_txn *t;
  carnet__att_want_key(id, key);
  int rc = carnet_txn_begin(r, &t);
  if (rc) return rc;
  rc = carnet__store_del(t->st, CARNET__T_META, key, sizeof key);
  if (rc == CARNET_ENOTFOUND) {
    carnet_txn_abort(t);
    return 0;
  }
  if (rc) {
    carnet_txn_abort(t);
    return rc;
  }
  return carnet_txn_commit(t);
}

/* The last unit is in: size and hash, fsync, rename (A1), the want goes. */
static int finish(carnet__att_rx *rx) {
  uint8_t h[CARNET__ATT_HASH_LEN];
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&rx->a.id, hex);
  if (rx->hs) hasher_drain(rx->hs);
  crypto_generichash_final(&rx->h, h, sizeof h);
  if (sodium_memcmp(h, rx->a.hash, sizeof h) != 0) {
    /* Every chunk opened with the key, yet the content is not the one the
     * metadata describe: the whole file is wrong, not its end. */
    if (ftruncate(rx->fd, 0) == 0) rx->off = rx->k = rx->flushed = 0;
    return carnet__fail(rx->r, CARNET_EPROTO,
                        "the content received for attachment %s does not match its hash", hex);
  }
  if (ftruncate(rx->fd, (off_t)rx->off) != 0 || fsync(rx->fd) != 0) {
    int e = errno;
    return carnet__fail(rx->r, carnet__errno_code(e), "cannot write %s: %s", rx->part, strerror(e));
  }
  if (rename(rx->part, rx->final) != 0) {
    int e = errno;
    return carnet__fail(rx->r, carnet__errno_code(e), "cannot rename %s: %s", rx->part,
                        strerror(e));
  }
  carnet__att_fsync_dir(rx->r);
  int rc = remove_want(rx->r, &rx->a.id);
  if (rc) carnet__fail(rx->r, rc, "cannot record that attachment %s arrived", hex);
  return rc;
}

/* Whether the attachment is still live here: an erasure or a deletion
 * applied during the transfer (a certificate in this very session, or
 * another process) ends it, and its partial file goes (A3). */
static bool still_live(carnet__att_rx *rx) {
  carnet__stxn *st;
  carnet__att a;
  if (carnet__read_begin(rx->r, &st) != 0) return true; /* decided at the next unit */
  int rc = carnet__att_load(st, &rx->a.id, &a);
  carnet__read_end(rx->r, st);
  bool live = rc == 0 ? !a.deleted : rc != CARNET_ENOTFOUND;
  sodium_memzero(&a, sizeof a);
  return live;
}

void carnet__att_rx_close(carnet__att_rx *rx) {
  if (rx == NULL) return;
  /* A3: a file erased or deleted while we held its lock (the sweep that
   * followed skipped it) goes now, before the lock is let go. */
  if (rx->fd >= 0 && !rx->gone && !still_live(rx)) unlink(rx->part);
  if (rx->fd >= 0) close(rx->fd);
  hasher_stop(rx->hs);
  sodium_memzero(rx, sizeof *rx);
  carnet__free(rx);
}

int carnet__att_rx_unit(carnet__att_rx *rx, uint64_t offset, const void *bytes, size_t len,
                        bool *done) {
  const char *why = NULL;
  char hex[CARNET_ID_HEX_LEN + 1];
  *done = false;
  carnet_id_format(&rx->a.id, hex);
  if (offset != rx->off)
    return carnet__fail(rx->r, CARNET_EPROTO,
                        "content of attachment %s at byte %" PRIu64 " where %" PRIu64 " was asked",
                        hex, offset, rx->off);
  /* A3: checked every RX_LIVE_BYTES, at the first unit and at the last
   * (nothing erased meanwhile is ever renamed into place). */
  bool last = rx->k + 1 >= chunks_of(rx->a.size);
  if (!rx->gone && (last || rx->off == 0 || rx->off - rx->checked >= RX_LIVE_BYTES)) {
    rx->checked = rx->off;
    if (!still_live(rx)) {
      rx->gone = true;
      unlink(rx->part); /* still locked: nobody else writes it */
      sodium_memzero(rx->a.key, sizeof rx->a.key);
    }
  }
  if (rx->gone) {
    /* The peer sends the rest of what was asked: counted, not kept. */
    size_t want = carnet__att_unit_len(rx->a.size, rx->off);
    if (want == 0 || len != want)
      return carnet__fail(rx->r, CARNET_EPROTO,
                          "content of attachment %s: a unit of the wrong "
                          "length",
                          hex);
    rx->off += len;
    *done = ++rx->k == chunks_of(rx->a.size);
    return 0;
  }
  int rc = open_unit(rx, bytes, len, &why);
  if (rc) return carnet__fail(rx->r, rc, "content of attachment %s refused: %s", hex, why);
  if ((rc = pwrite_full(rx->fd, bytes, len, rx->off)))
    return carnet__fail(rx->r, rc, "cannot write %s: %s", rx->part, strerror(errno));
  rx->off += len;
  rx->k++;
  /* Start the disk writes of what came so far while the rest arrives, so
   * that the fsync of finish() has only the tail left to wait for. Only a
   * hint: a failure is seen by that fsync. */
  if (rx->off - rx->flushed >= RX_WRITEBACK_BYTES) {
    (void)sync_file_range(rx->fd, (off_t)rx->flushed, (off_t)(rx->off - rx->flushed),
                          SYNC_FILE_RANGE_WRITE);
    rx->flushed = rx->off;
  }
  if (rx->k < chunks_of(rx->a.size)) return 0;
  if ((rc = finish(rx))) return rc;
  *done = true;
  return 0;
}

/* Check what NAME.part holds, unit by unit from its start, and keep only
 * the good prefix: rx->off, rx->k, the stream and the hash are then those
 * after it. A whole file found there (a crash before the rename) is
 * finished at once: *done. */
static int resume(carnet__att_rx *rx, bool *done) {
  struct stat sb;
  uint8_t *buf = carnet__malloc(UNIT_MAX);
  int rc = 0;
  *done = false;
  if (buf == NULL) return CARNET_ENOMEM;
  if (fstat(rx->fd, &sb) != 0) {
    rc = CARNET_EIO;
    goto done;
  }
  uint64_t have = (uint64_t)sb.st_size, n = chunks_of(rx->a.size);
  while (rx->k < n) {
    size_t len = carnet__att_unit_len(rx->a.size, rx->off);
    const char *why;
    if (rx->off + len > have) break;
    if ((rc = pread_full(rx->fd, buf, len, rx->off))) break;
    if (open_unit(rx, buf, len, &why)) break;
    rx->off += len;
    rx->k++;
  }
  if (rc == CARNET_ECORRUPT) rc = 0; /* shorter than it said: keep what was read */
  if (rc) goto done;
  if (rx->k == n) {
    rc = finish(rx);
    *done = rc == 0;
    goto done;
  }
  if (have != rx->off && ftruncate(rx->fd, (off_t)rx->off) != 0) rc = carnet__errno_code(errno);
done:
  sodium_memzero(buf, UNIT_MAX);
  carnet__free(buf);
  return rc;
}

int carnet__att_rx_open(carnet_replica *r, const carnet_id *id, carnet__att_rx **out,
                        uint64_t *offset) {
  carnet__stxn *st = NULL;
  carnet_attach_policy p;
  char hex[CARNET_ID_HEX_LEN + 1];
  bool done = false;
  int rc;
  *out = NULL;
  *offset = 0;
  carnet_id_format(id, hex);
  carnet__att_rx *rx = carnet__calloc(1, sizeof *rx);
  if (rx == NULL) return CARNET_ENOMEM;
  rx->r = r;
  rx->fd = -1;
  if ((rc = carnet__read_begin(r, &st))) goto fail;
  rc = carnet__att_load(st, id, &rx->a);
  if (rc == 0) rc = carnet__att_policy(st, &p);
  carnet__read_end(r, st);
  if (rc == CARNET_ENOTFOUND || (rc == 0 && rx->a.deleted)) {
    rc = carnet__fail(r, CARNET_ENOTFOUND, "no attachment %s", hex);
    goto fail;
  }
  if (rc) goto fail;
  if (rx->a.size > p.size_max) {
    rc = carnet__fail(r, CARNET_ELIMIT,
                      "attachment %s is %" PRIu64 " bytes, larger than the %" PRIu64
                      " bytes this replica takes",
                      hex, rx->a.size, p.size_max);
    goto fail;
  }
  if ((rc = carnet__att_path(r, id, ".part", rx->part, sizeof rx->part)) ||
      (rc = carnet__att_path(r, id, "", rx->final, sizeof rx->final)))
    goto fail;
  if (access(rx->final, F_OK) == 0) {
    rc = carnet__fail(r, CARNET_ENOTFOUND, "attachment %s is here already", hex);
    goto fail;
  }
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/%s", r->dir, CARNET__ATT_DIR);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    int e = errno;
    rc = carnet__fail(r, carnet__errno_code(e), "cannot create %s: %s", dir, strerror(e));
    goto fail;
  }
  rx->fd = open(rx->part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, CARNET__FILE_MODE);
  if (rx->fd < 0) {
    int e = errno;
    rc = carnet__fail(r, carnet__errno_code(e), "cannot open %s: %s", rx->part, strerror(e));
    goto fail;
  }
  if (flock(rx->fd, LOCK_EX | LOCK_NB) != 0) { /* A4 */
    rc = carnet__fail(r, CARNET_EBUSY, "attachment %s is being received by another session", hex);
    goto fail;
  }
  /* Locked: the file may have been finished (and renamed) by the session
   * that held it before us. */
  if (access(rx->final, F_OK) == 0) {
    rc = carnet__fail(r, CARNET_ENOTFOUND, "attachment %s is here already", hex);
    goto fail;
  }
  if (rx->a.size >= HASH_THREAD_MIN) rx->hs = hasher_start(&rx->h);
  if ((rc = resume(rx, &done))) goto fail;
  if (done) {
    rc = carnet__fail(r, CARNET_ENOTFOUND, "attachment %s is here already", hex);
    goto fail;
  }
  *offset = rx->off;
  *out = rx;
  return 0;
fail:
  carnet__att_rx_close(rx);
  return rc;
}

/* --- sending ----------------------------------------------------------------- */

struct carnet__att_tx {
  int fd;
  uint64_t size; /* of the content */
  uint64_t off;  /* the next unit */
  uint8_t buf[UNIT_MAX];
};

int carnet__att_tx_open(carnet_replica *r, const carnet_id *id, uint64_t offset,
                        carnet__att_tx **out) {
  carnet__stxn *st;
  carnet__att a;
  char path[4096];
  struct stat sb;
  *out = NULL;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = carnet__att_load(st, id, &a);
  carnet__read_end(r, st);
  if (rc) return rc; /* `a` is not filled: an attachment erased meanwhile is not found */
  uint64_t size = a.size;
  bool deleted = a.deleted;
  sodium_memzero(&a, sizeof a);
  if (deleted) return CARNET_ENOTFOUND;
  if (offset > 0 && unit_at(size, offset) < 0) return CARNET_EINVAL;
  if ((rc = carnet__att_path(r, id, "", path, sizeof path))) return rc;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno == ENOENT ? CARNET_ENOTFOUND : CARNET_EIO;
  if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != carnet__att_stored_size(size)) {
    close(fd);
    return CARNET_ENOTFOUND;
  }
  carnet__att_tx *tx = carnet__malloc(sizeof *tx);
  if (tx == NULL) {
    close(fd);
    return CARNET_ENOMEM;
  }
  tx->fd = fd;
  tx->size = size;
  tx->off = offset;
  *out = tx;
  return 0;
}

int carnet__att_tx_next(carnet__att_tx *tx, carnet_buf *out, uint64_t *offset, bool *last) {
  size_t len = carnet__att_unit_len(tx->size, tx->off);
  if (len == 0) return CARNET_EIO;
  int rc = pread_full(tx->fd, tx->buf, len, tx->off);
  if (rc) return CARNET_EIO;
  *out = (carnet_buf){tx->buf, len};
  *offset = tx->off;
  tx->off += len;
  *last = tx->off == carnet__att_stored_size(tx->size);
  return 0;
}

void carnet__att_tx_close(carnet__att_tx *tx) {
  if (tx == NULL) return;
  close(tx->fd);
  carnet__free(tx);
}

/* --- what to fetch ------------------------------------------------------------ */

int carnet__att_fetch_list(carnet_replica *r, carnet_id **out, size_t *nout) {
  carnet__stxn *st;
  carnet_id *ids = NULL;
  size_t n = 0, k = 0;
  carnet_attach_policy p;
  *out = NULL;
  *nout = 0;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  if ((rc = carnet__att_policy(st, &p)) || (rc = carnet__att_ids(st, &ids, &n))) goto done;
  for (size_t i = 0; i < n && rc == 0; i++) {
    carnet__att a;
    bool want = false;
    rc = carnet__att_load(st, &ids[i], &a);
    if (rc == CARNET_ENOTFOUND) {
      rc = 0;
      continue;
    }
    if (rc == 0) rc = carnet__att_fetch_wanted(r, st, &a, &p, &want);
    if (rc == 0 && want) ids[k++] = ids[i];
    sodium_memzero(&a, sizeof a);
  }
done:
  carnet__read_end(r, st);
  if (rc) {
    carnet__free(ids);
    return rc;
  }
  *out = ids;
  *nout = k;
  return 0;
}
