/* engine/top/backup.c - backups, restore as a new replica, and the rule that
 * holds back a restored replica's changes (carnet/backup.h, backup.h).
 *
 * Backup: into a temporary file of mode 0600 beside the name asked for
 * (engine/store/file.h), the header is written first with no length and no mac,
 * LMDB copies the environment compacted after it (carnet__store_copy: one
 * read transaction, so a consistent snapshot while `carnet serve` writes),
 * then the file is read back once to compute the keyed mac, the header is
 * written again whole, and the file is fsynced and renamed over the name
 * asked for. Reading back costs one pass over the file; it also checks
 * that what is on disk is what the mac covers.
 *
 * Restore, in this order, so that a crash at any point leaves no replica in
 * DIR (a retry starts again; leftovers of a failed run are removed first):
 *
 *   header -> key (the header's key record, unwrapped with the env's
 *   passphrase or key file) -> data copied to DIR/.restore/data.mdb while
 *   the mac is computed -> mac checked -> the copy opened there and given
 *   its new identity in one transaction -> (DIR/carnet.key for a replica
 *   without passphrase) -> DIR/.restore/data.mdb renamed to DIR/data.mdb
 *   -> opened as any replica.
 *
 * A replica with the old identity never exists in DIR: one that did could
 * be synced as the old replica, and the team's marks for it (past the
 * backup's sequence numbers) would skip its new changes for good.
 *
 * Why a new identity, and what it keeps: carnet/backup.h and
 * docs/DESIGN-NOTES.md, "Backup and restore".
 */
#include "engine/top/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/check.h"
#include "engine/store/file.h"
#include "engine/store/replica_int.h"

#define KDF_CONTEXT "CARNETBK"
#define COPY_CHUNK (1u << 20)
#define STAGING ".restore"

_Static_assert(sizeof KDF_CONTEXT - 1 == crypto_kdf_CONTEXTBYTES, "kdf context");
_Static_assert(CARNET__BACKUP_MAC_OFFSET + 32 == CARNET__BACKUP_HEADER_BYTES, "header layout");
_Static_assert(48 + CARNET__KEY_RECORD_BYTES + 8 == CARNET__BACKUP_MAC_OFFSET, "header layout");

/* --- the header ------------------------------------------------------------ */

void carnet__backup_header_encode(const carnet__backup_header *h,
                                  uint8_t out[CARNET__BACKUP_HEADER_BYTES]) {
  memcpy(out, CARNET__BACKUP_MAGIC, 8);
  carnet__be32_put(out + 8, h->version);
  carnet__be32_put(out + 12, h->schema);
  carnet__be64_put(out + 16, h->replica_id);
  carnet__be64_put(out + 24, h->made_ms);
  memcpy(out + 32, h->team, 16);
  memcpy(out + 48, h->key_record, CARNET__KEY_RECORD_BYTES);
  carnet__be64_put(out + 154, h->data_bytes);
  memcpy(out + CARNET__BACKUP_MAC_OFFSET, h->mac, 32);
}

int carnet__backup_header_decode(const void *buf, size_t len, carnet__backup_header *out,
                                 int *bad_line) {
  const uint8_t *b = buf;
  memset(out, 0, sizeof *out);
  if (bad_line) *bad_line = 0;
  if (len < CARNET__BACKUP_HEADER_BYTES) return CARNET__REFUSE(bad_line, CARNET_EPROTO);
  if (memcmp(b, CARNET__BACKUP_MAGIC, 8) != 0) return CARNET__REFUSE(bad_line, CARNET_EPROTO);
  out->version = carnet__be32_get(b + 8);
  out->schema = carnet__be32_get(b + 12);
  out->replica_id = carnet__be64_get(b + 16);
  out->made_ms = carnet__be64_get(b + 24);
  memcpy(out->team, b + 32, 16);
  memcpy(out->key_record, b + 48, CARNET__KEY_RECORD_BYTES);
  out->data_bytes = carnet__be64_get(b + 154);
  memcpy(out->mac, b + CARNET__BACKUP_MAC_OFFSET, 32);
  if (out->version != CARNET__BACKUP_VERSION) return CARNET__REFUSE(bad_line, CARNET_EPROTO);
  /* No backup was ever made of an unencrypted replica (schema 1). */
  if (out->schema < 2) return CARNET__REFUSE(bad_line, CARNET_EPROTO);
  if (out->replica_id == 0 || out->made_ms == 0) return CARNET__REFUSE(bad_line, CARNET_EPROTO);
  /* The key record: version 1, kind passphrase, key file or key file in
   * the directory (engine/store/keys.c checks the rest when it unwraps it). */
  if (out->key_record[0] != 1 || out->key_record[1] < CARNET_KEY_PASSPHRASE ||
      out->key_record[1] > CARNET_KEY_FILE_IN_DIR)
    return CARNET__REFUSE(bad_line, CARNET_EPROTO);
  if (out->data_bytes < CARNET__BACKUP_DATA_MIN || out->data_bytes > (UINT64_MAX >> 2))
    return CARNET__REFUSE(bad_line, CARNET_EPROTO);
  return 0;
}

static void info_of(const carnet__backup_header *h, carnet_backup_info *out) {
  if (out == NULL) return;
  memset(out, 0, sizeof *out);
  out->replica_id = h->replica_id;
  carnet__tag_of(h->replica_id, out->tag);
  out->made_ms = h->made_ms;
  out->schema = h->schema;
  out->key_kind = (carnet_key_kind)h->key_record[1];
  memcpy(out->team, h->team, sizeof out->team);
  out->data_bytes = h->data_bytes;
}

/* The mac's key, derived from the data key. */
static void mac_init(crypto_generichash_state *g, const uint8_t dkey[32], const uint8_t *header) {
  uint8_t sub[32];
  crypto_kdf_derive_from_key(sub, sizeof sub, 1, KDF_CONTEXT, dkey);
  crypto_generichash_init(g, sub, sizeof sub, 32);
  sodium_memzero(sub, sizeof sub);
  crypto_generichash_update(g, header, CARNET__BACKUP_MAC_OFFSET);
}

static int write_all(int fd, const void *buf, size_t len, off_t at) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
    at += n;
  }
  return 0;
}

static int fsync_dir_of(const char *path) {
  char dir[4400];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    dir[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

static int errno_code(int e) {
  return e == ENOSPC || e == EDQUOT || e == EFBIG ? CARNET_ENOSPC : CARNET_EIO;
}

/* --- backup ------------------------------------------------------------------ */

/* The header's fields read from the replica's meta table. */
static int header_from_meta(carnet_replica *r, carnet__backup_header *h) {
  carnet__stxn *st = NULL;
  carnet_buf v;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  memset(h, 0, sizeof *h);
  h->version = CARNET__BACKUP_VERSION;
  h->replica_id = r->id;
  h->made_ms = carnet__now_ms(r);
  if (h->made_ms == 0) h->made_ms = 1;
  rc = carnet__store_get(st, CARNET__T_META, CARNET__META_SCHEMA, strlen(CARNET__META_SCHEMA), &v);
  if (rc == 0 && v.len != 4) rc = CARNET_ECORRUPT;
  if (rc == 0) h->schema = carnet__be32_get(v.base);
  if (rc == 0)
    rc = carnet__store_get(st, CARNET__T_META, CARNET__META_TEAM, strlen(CARNET__META_TEAM), &v);
  if (rc == 0 && v.len != 16) rc = CARNET_ECORRUPT;
  if (rc == 0) memcpy(h->team, v.base, 16);
  if (rc == 0)
    rc = carnet__store_get(st, CARNET__T_META, CARNET__META_CRYPT, strlen(CARNET__META_CRYPT), &v);
  if (rc == 0 && v.len != CARNET__KEY_RECORD_BYTES) rc = CARNET_ECORRUPT;
  if (rc == 0) memcpy(h->key_record, v.base, CARNET__KEY_RECORD_BYTES);
  carnet__read_end(r, st);
  if (rc == CARNET_ENOTFOUND) rc = CARNET_ECORRUPT;
  if (rc)
    carnet__fail(r, rc, "cannot read the replica's schema, team and key record: %s",
                 rc == CARNET_ECORRUPT ? "missing or damaged" : carnet__store_why(r->store));
  return rc;
}

int carnet_replica_backup(carnet_replica *r, const char *file, carnet_backup_info *out) {
  carnet__backup_header h;
  carnet__tmpfile f = {.fd = -1};
  uint8_t head[CARNET__BACKUP_HEADER_BYTES], dkey[32];
  uint8_t *buf = NULL;
  int rc, rfd = -1;
  crypto_generichash_state g;
  struct stat sb;
  if (out) memset(out, 0, sizeof *out);
  carnet__clear_err(r);
  if (r->txn) return carnet__fail(r, CARNET_EMISUSE, "a backup with a transaction open");
  if ((rc = header_from_meta(r, &h))) return rc;
  if ((rc = carnet__store_key(r->store, dkey))) return carnet__fail(r, rc, "no data key loaded");
  if ((buf = carnet__malloc(COPY_CHUNK)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  /* Mode 0600 whatever the umask, written whole or not at all
   * (engine/store/file.h: personal data). */
  if ((rc = carnet__tmpfile_open(r, &f, file))) goto done;
  carnet__backup_header_encode(&h, head);
  if (write_all(f.fd, head, sizeof head, 0) != 0 || lseek(f.fd, sizeof head, SEEK_SET) < 0) {
    rc = carnet__fail(r, errno_code(errno), "cannot write the backup %s: %s", f.tmp,
                      strerror(errno));
    goto done;
  }
  if ((rc = carnet__store_copy(r->store, f.fd))) {
    carnet__fail(r, rc, "cannot write the backup %s: %s", f.tmp, carnet__store_why(r->store));
    goto done;
  }
  if (fstat(f.fd, &sb) != 0 || (uint64_t)sb.st_size < sizeof head + CARNET__BACKUP_DATA_MIN) {
    rc = carnet__fail(r, CARNET_EIO, "the copy of the replica in %s came out short", f.tmp);
    goto done;
  }
  h.data_bytes = (uint64_t)sb.st_size - sizeof head;
  carnet__backup_header_encode(&h, head);
  mac_init(&g, dkey, head);
  /* The temporary file is open for writing only: read it back through a
   * descriptor of its own. */
  if ((rfd = open(f.tmp, O_RDONLY | O_CLOEXEC)) < 0) {
    rc = carnet__fail(r, CARNET_EIO, "cannot read back the backup %s: %s", f.tmp, strerror(errno));
    goto done;
  }
  for (uint64_t at = 0; at < h.data_bytes;) {
    size_t want = h.data_bytes - at < COPY_CHUNK ? (size_t)(h.data_bytes - at) : COPY_CHUNK;
    ssize_t n = pread(rfd, buf, want, (off_t)(sizeof head + at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      rc = carnet__fail(r, CARNET_EIO, "cannot read back the backup %s: %s", f.tmp,
                        n < 0 ? strerror(errno) : "end of file");
      goto done;
    }
    crypto_generichash_update(&g, buf, (size_t)n);
    at += (uint64_t)n;
  }
  crypto_generichash_final(&g, h.mac, sizeof h.mac);
  carnet__backup_header_encode(&h, head);
  if (write_all(f.fd, head, sizeof head, 0) != 0) {
    rc = carnet__fail(r, errno_code(errno), "cannot write the backup %s: %s", f.tmp,
                      strerror(errno));
    goto done;
  }
  if ((rc = carnet__tmpfile_commit(r, &f))) goto done; /* fsync, rename, fsync the directory */
  info_of(&h, out);
done:
  if (rfd >= 0) close(rfd);
  if (rc) carnet__tmpfile_discard(&f);
  if (buf) {
    sodium_memzero(buf, COPY_CHUNK);
    carnet__free(buf);
  }
  sodium_memzero(dkey, sizeof dkey);
  return rc;
}

/* --- reading a backup's header -------------------------------------------------- */

static void say(char *errbuf, size_t errbuf_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *errbuf, size_t errbuf_len, const char *fmt, ...) {
  va_list ap;
  if (errbuf == NULL || errbuf_len == 0) return;
  va_start(ap, fmt);
  vsnprintf(errbuf, errbuf_len, fmt, ap);
  va_end(ap);
}

/* Open `file` and decode its header; *fd is left open on success. */
static int open_backup(const char *file, int *fd, carnet__backup_header *h, uint64_t *size,
                       char *errbuf, size_t errbuf_len) {
  uint8_t head[CARNET__BACKUP_HEADER_BYTES];
  struct stat sb;
  int bad = 0;
  *fd = open(file, O_RDONLY | O_CLOEXEC);
  if (*fd < 0) {
    int e = errno;
    say(errbuf, errbuf_len, "cannot open the backup %s: %s", file, strerror(e));
    return e == ENOENT ? CARNET_ENOTFOUND : CARNET_EIO;
  }
  ssize_t n = 0;
  if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    say(errbuf, errbuf_len, "%s is not a regular file", file);
    goto fail;
  }
  do
    n = pread(*fd, head, sizeof head, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    say(errbuf, errbuf_len, "cannot read the backup %s: %s", file, strerror(errno));
    close(*fd);
    *fd = -1;
    return CARNET_EIO;
  }
  if (carnet__backup_header_decode(head, (size_t)n, h, &bad) != 0) {
    /* A newer format is not damage: say so. */
    if ((size_t)n >= 12 && memcmp(head, CARNET__BACKUP_MAGIC, 8) == 0 &&
        carnet__be32_get(head + 8) > CARNET__BACKUP_VERSION) {
      say(errbuf, errbuf_len,
          "the backup %s was made by a newer version of Carnet (backup format %u): upgrade "
          "carnet",
          file, carnet__be32_get(head + 8));
      close(*fd);
      *fd = -1;
      return CARNET_EVERSION;
    }
    if ((size_t)n < 8 || memcmp(head, CARNET__BACKUP_MAGIC, 8) != 0)
      say(errbuf, errbuf_len, "%s is not a Carnet backup (made by 'carnet backup')", file);
    else
      say(errbuf, errbuf_len,
          "the header of the backup %s is damaged (check at "
          "engine/top/backup.c:%d)",
          file, bad);
    goto fail;
  }
  *size = (uint64_t)sb.st_size;
  return 0;
fail:
  close(*fd);
  *fd = -1;
  return CARNET_EPROTO;
}

int carnet_backup_inspect(const char *file, carnet_backup_info *out, char *errbuf,
                          size_t errbuf_len) {
  carnet__backup_header h;
  uint64_t size;
  int fd, rc;
  memset(out, 0, sizeof *out);
  if ((rc = open_backup(file, &fd, &h, &size, errbuf, errbuf_len))) return rc;
  close(fd);
  info_of(&h, out);
  if (h.schema > CARNET_SCHEMA_VERSION) {
    say(errbuf, errbuf_len,
        "the backup %s holds a replica of a newer Carnet (schema %u, this build reads up to "
        "%u): upgrade carnet",
        file, h.schema, CARNET_SCHEMA_VERSION);
    return CARNET_EVERSION;
  }
  return 0;
}

/* --- restore ------------------------------------------------------------------- */

typedef struct peers_seen {
  uint8_t (*pk)[32];
  uint64_t *ids;
  size_t n, cap;
  int rc;
} peers_seen;

static int peer_seen(const carnet_peer_info *p, void *data) {
  peers_seen *ps = data;
  if (ps->n == ps->cap) {
    size_t cap = ps->cap ? 2 * ps->cap : 16;
    void *pk = carnet__realloc(ps->pk, cap * 32), *ids;
    if (pk == NULL) return CARNET_ENOMEM;
    ps->pk = pk;
    if ((ids = carnet__realloc(ps->ids, cap * sizeof *ps->ids)) == NULL) return CARNET_ENOMEM;
    ps->ids = ids;
    ps->cap = cap;
  }
  memcpy(ps->pk[ps->n], p->pk, 32);
  ps->ids[ps->n++] = p->replica_id;
  return 0;
}

/* A new replica id: non-zero, and with a tag that neither the old replica
 * nor a known peer has (a tag names a numbering series). */
static uint64_t new_id(carnet_replica *r, uint64_t old, const peers_seen *ps) {
  for (;;) {
    uint64_t id = 0;
    carnet__random(r, &id, sizeof id);
    bool clash = id == 0 || (id >> 44) == (old >> 44);
    for (size_t i = 0; i < ps->n && !clash; i++)
      clash = ps->ids[i] && (id >> 44) == (ps->ids[i] >> 44);
    if (!clash) return id;
  }
}

/* Delete every row of table `tb` (a few invites: keys collected first). */
static int table_clear(carnet__stxn *st, carnet__table tb) {
  for (;;) {
    carnet__scur *c = NULL;
    carnet_buf k;
    uint8_t key[512];
    size_t klen;
    int rc = carnet__store_cursor(st, tb, &c);
    if (rc) return rc;
    rc = carnet__store_seek(c, NULL, 0, &k, NULL);
    if (rc == 0 && k.len > sizeof key) rc = CARNET_ECORRUPT;
    if (rc == 0) memcpy(key, k.base, klen = k.len);
    carnet__store_cursor_close(c);
    if (rc == CARNET_ENOTFOUND) return 0;
    if (rc || (rc = carnet__store_del(st, tb, key, klen))) return rc;
  }
}

/* Give the copy in the staging store its new identity, in one
 * transaction (`r` is the restoring handle, its store the staging one). */
static int rebirth(carnet_replica *r, const carnet__backup_header *h, char *why, size_t why_len) {
  carnet__stxn *st = NULL;
  peers_seen ps = {0};
  uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES],
      sk[crypto_sign_SECRETKEYBYTES], rec[24];
  uint64_t old = 0;
  int rc;
  if ((rc = carnet_peer_list(r, peer_seen, &ps))) {
    snprintf(why, why_len, "cannot read the backup's trust list: %s", carnet_error_message(rc));
    goto done;
  }
  if ((rc = carnet__store_begin(r->store, true, &st))) goto store_fail;
  if ((rc = carnet__meta_get_u64(st, CARNET__META_REPLICA_ID, &old)) || old != h->replica_id) {
    snprintf(why, why_len, "the backup's data is not of the replica its header names");
    rc = CARNET_ECORRUPT;
    goto done;
  }
  uint64_t id = new_id(r, old, &ps);
  carnet__random(r, seed, sizeof seed);
  crypto_sign_seed_keypair(pk, sk, seed);
  sodium_memzero(seed, sizeof seed);
  carnet__be64_put(rec, old);
  carnet__be64_put(rec + 8, h->made_ms);
  carnet__be64_put(rec + 16, carnet__now_ms(r));
  size_t nwait = ps.n < CARNET__RESTORE_PEERS_MAX ? ps.n : CARNET__RESTORE_PEERS_MAX;
  if ((rc = carnet__meta_put_u64(st, CARNET__META_REPLICA_ID, id)) ||
      (rc = carnet__store_put(st, CARNET__T_META, CARNET__META_SIGN_PK,
                              strlen(CARNET__META_SIGN_PK), pk, sizeof pk, 0)) ||
      (rc = carnet__store_put(st, CARNET__T_META, CARNET__META_SIGN_SK,
                              strlen(CARNET__META_SIGN_SK), sk, sizeof sk, 0)) ||
      (rc = carnet__store_put(st, CARNET__T_META, CARNET__META_CRYPT, strlen(CARNET__META_CRYPT),
                              h->key_record, CARNET__KEY_RECORD_BYTES, 0)) ||
      (rc = carnet__store_put(st, CARNET__T_META, CARNET__META_RESTORED,
                              strlen(CARNET__META_RESTORED), rec, sizeof rec, 0)) ||
      (rc = table_clear(st, CARNET__T_INVITES)))
    goto store_fail;
  /* With no peer, no erasure can have been made elsewhere: nothing to wait for. */
  rc = nwait ? carnet__store_put(st, CARNET__T_META, CARNET__META_RESTORE_WAIT,
                                 strlen(CARNET__META_RESTORE_WAIT), ps.pk, nwait * 32, 0)
             : carnet__store_del(st, CARNET__T_META, CARNET__META_RESTORE_WAIT,
                                 strlen(CARNET__META_RESTORE_WAIT));
  if (rc && rc != CARNET_ENOTFOUND) goto store_fail;
  rc = carnet__store_commit(st);
  st = NULL;
  if (rc) goto store_fail;
  goto done;
store_fail:
  snprintf(why, why_len, "cannot give the restored replica its new identity: %s",
           carnet__store_why(r->store));
done:
  sodium_memzero(sk, sizeof sk);
  carnet__store_abort(st);
  carnet__free(ps.pk);
  carnet__free(ps.ids);
  return rc;
}

/* Remove what a restore leaves in DIR/.restore (a failed or crashed run). */
static void staging_clear(const char *staging) {
  static const char *const names[] = {"data.mdb", "lock.mdb", CARNET__STORE_LOCK_FILE};
  char p[4300];
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    snprintf(p, sizeof p, "%s/%s", staging, names[i]);
    unlink(p);
  }
  rmdir(staging);
}

/* Copy the backup's data (after its header) to `path`, computing the mac. */
static int copy_data(int in, const char *path, const carnet__backup_header *h,
                     const uint8_t dkey[32], uint8_t mac[32], char *why, size_t why_len) {
  uint8_t head[CARNET__BACKUP_HEADER_BYTES];
  uint8_t *buf = carnet__malloc(COPY_CHUNK);
  crypto_generichash_state g;
  int rc = 0, out = -1;
  if (buf == NULL) return CARNET_ENOMEM;
  if ((out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
    rc = errno_code(errno);
    snprintf(why, why_len, "cannot create %.300s: %s", path, strerror(errno));
    goto done;
  }
  carnet__backup_header_encode(h, head);
  mac_init(&g, dkey, head);
  for (uint64_t at = 0; at < h->data_bytes;) {
    size_t want = h->data_bytes - at < COPY_CHUNK ? (size_t)(h->data_bytes - at) : COPY_CHUNK;
    ssize_t n = pread(in, buf, want, (off_t)(CARNET__BACKUP_HEADER_BYTES + at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      rc = n < 0 ? CARNET_EIO : CARNET_ECORRUPT;
      snprintf(why, why_len, "cannot read the backup: %s", n < 0 ? strerror(errno) : "cut short");
      goto done;
    }
    crypto_generichash_update(&g, buf, (size_t)n);
    if (write_all(out, buf, (size_t)n, (off_t)at) != 0) {
      rc = errno_code(errno);
      snprintf(why, why_len, "cannot write %.300s: %s", path, strerror(errno));
      goto done;
    }
    at += (uint64_t)n;
  }
  crypto_generichash_final(&g, mac, 32);
  if (fsync(out) != 0) {
    rc = errno_code(errno);
    snprintf(why, why_len, "cannot write %.300s: %s", path, strerror(errno));
  }
done:
  if (out >= 0 && close(out) != 0 && rc == 0) {
    rc = CARNET_EIO;
    snprintf(why, why_len, "cannot write %.300s: %s", path, strerror(errno));
  }
  sodium_memzero(buf, COPY_CHUNK);
  carnet__free(buf);
  return rc;
}

int carnet_replica_restore(const char *file, const char *dir, const carnet_env *env,
                           carnet_replica **out, char *errbuf, size_t errbuf_len) {
  carnet__backup_header h;
  carnet_replica *r = NULL;
  char why[512] = "", staging[4200], path[4300], data[4300];
  uint8_t dkey[32], dir_key[32], mac[32];
  bool need_dir_key = false, wrote_key = false, staged = false;
  uint64_t size = 0;
  int fd = -1, rc;
  struct stat sb;
  *out = NULL;
  if (sodium_init() < 0) return CARNET_ENOMEM;
  if ((rc = open_backup(file, &fd, &h, &size, why, sizeof why))) goto done;
  if (h.schema > CARNET_SCHEMA_VERSION) {
    snprintf(why, sizeof why,
             "the backup %s holds a replica of a newer Carnet (schema %u, this build reads up "
             "to %u): upgrade carnet",
             file, h.schema, CARNET_SCHEMA_VERSION);
    rc = CARNET_EVERSION;
    goto done;
  }
  if (size != CARNET__BACKUP_HEADER_BYTES + h.data_bytes) {
    snprintf(why, sizeof why,
             "the backup %s is %s (%llu bytes, its header says %llu): nothing was restored", file,
             size < CARNET__BACKUP_HEADER_BYTES + h.data_bytes ? "cut short" : "too long",
             (unsigned long long)size,
             (unsigned long long)(CARNET__BACKUP_HEADER_BYTES + h.data_bytes));
    rc = CARNET_ECORRUPT;
    goto done;
  }
  snprintf(data, sizeof data, "%s/data.mdb", dir);
  if (stat(data, &sb) == 0) {
    snprintf(why, sizeof why, "a replica already exists in %s: restore into a new directory", dir);
    rc = CARNET_EEXIST;
    goto done;
  }
  if (carnet__mkdir_p(dir) != 0) {
    snprintf(why, sizeof why, "cannot create directory %s: %s", dir, strerror(errno));
    rc = CARNET_EIO;
    goto done;
  }
  if ((r = carnet__replica_new(dir, env)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  /* The key first: a wrong passphrase must not cost a copy of the data. */
  if ((rc = carnet__keys_unwrap(r, h.key_record, sizeof h.key_record, env, dkey, dir_key,
                                &need_dir_key))) {
    snprintf(why, sizeof why, "%s", r->err);
    goto done;
  }
  snprintf(staging, sizeof staging, "%s/%s", dir, STAGING);
  staging_clear(staging);
  if (mkdir(staging, 0700) != 0) {
    rc = CARNET_EIO;
    snprintf(why, sizeof why, "cannot create %.300s: %s", staging, strerror(errno));
    goto done;
  }
  staged = true;
  snprintf(path, sizeof path, "%s/data.mdb", staging);
  if ((rc = copy_data(fd, path, &h, dkey, mac, why, sizeof why))) goto done;
  if (sodium_memcmp(mac, h.mac, sizeof mac) != 0) {
    snprintf(why, sizeof why,
             "the backup %s is damaged or was changed since it was made (its check fails): "
             "nothing was restored",
             file);
    rc = CARNET_ECORRUPT;
    goto done;
  }
  /* The new identity, while the copy is not yet a replica in DIR. */
  if ((rc = carnet__store_open(staging, 0, &r->store, why, sizeof why))) goto done;
  if ((rc = carnet__store_set_key(r->store, dkey)) || (rc = rebirth(r, &h, why, sizeof why)))
    goto done;
  carnet__store_close(r->store);
  r->store = NULL;
  if (need_dir_key) {
    if ((rc = carnet__keys_write_dir_key(r, dir_key))) {
      snprintf(why, sizeof why, "%s", r->err);
      goto done;
    }
    wrote_key = true;
  }
  if (rename(path, data) != 0 || fsync_dir_of(data) != 0) {
    rc = errno_code(errno);
    snprintf(why, sizeof why, "cannot move the restored data to %.300s: %s", data, strerror(errno));
    goto done;
  }
  wrote_key = false; /* it belongs to the replica now */
  staging_clear(staging);
  staged = false;
  carnet__clear_err(r);
  if ((rc = carnet__replica_load(r, env, dkey, why, sizeof why))) goto done;
  carnet__log(r, CARNET_LOG_INFO, "restored %s (replica %016llx) into %s as replica %016llx", file,
              (unsigned long long)h.replica_id, dir, (unsigned long long)r->id);
  *out = r;
  r = NULL;
done:
  if (fd >= 0) close(fd);
  if (r && r->store && staged) {
    carnet__store_close(r->store);
    r->store = NULL;
  }
  if (staged) staging_clear(staging);
  if (wrote_key) {
    snprintf(path, sizeof path, "%s/%s", dir, CARNET_KEY_FILE_NAME);
    unlink(path);
  }
  if (r) carnet_replica_close(r);
  sodium_memzero(dkey, sizeof dkey);
  sodium_memzero(dir_key, sizeof dir_key);
  if (rc) say(errbuf, errbuf_len, "%s", why[0] ? why : carnet_error_message(rc));
  return rc;
}

/* --- a restored replica ----------------------------------------------------------- */

int carnet_replica_get_restore(carnet_replica *r, carnet_restore_info *out) {
  carnet__stxn *st;
  carnet_buf v;
  memset(out, 0, sizeof *out);
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = carnet__store_get(st, CARNET__T_META, CARNET__META_RESTORED, strlen(CARNET__META_RESTORED),
                         &v);
  if (rc == 0 && v.len != 24) rc = CARNET_ECORRUPT;
  if (rc == 0) {
    out->restored = true;
    out->from_id = carnet__be64_get(v.base);
    out->backup_ms = carnet__be64_get((const uint8_t *)v.base + 8);
    out->restored_ms = carnet__be64_get((const uint8_t *)v.base + 16);
    rc = carnet__store_get(st, CARNET__T_META, CARNET__META_RESTORE_WAIT,
                           strlen(CARNET__META_RESTORE_WAIT), &v);
    out->waiting = rc == 0;
  }
  if (rc == CARNET_ENOTFOUND) rc = 0;
  carnet__read_end(r, st);
  if (rc == CARNET_ECORRUPT) carnet__fail(r, rc, "the replica's restore record is damaged");
  return rc;
}

int carnet__restore_gate(carnet_replica *r, const uint8_t peer_pk[32], bool peer_certs_in,
                         bool *held) {
  carnet__stxn *st = NULL;
  carnet_buf v;
  bool known = false;
  *held = false;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = carnet__store_get(st, CARNET__T_META, CARNET__META_RESTORE_WAIT,
                         strlen(CARNET__META_RESTORE_WAIT), &v);
  if (rc == 0)
    for (size_t i = 0; i + 32 <= v.len && !known; i += 32)
      known = memcmp((const uint8_t *)v.base + i, peer_pk, 32) == 0;
  carnet__read_end(r, st);
  if (rc == CARNET_ENOTFOUND) return 0; /* not restored, or the wait is over */
  if (rc) return rc;
  if (!peer_certs_in || !known) {
    *held = true;
    return 0;
  }
  /* B2 met: this peer's certificates are applied (they came before its
   * REQ, and each was committed as it came). */
  if ((rc = carnet__store_begin(r->store, true, &st))) goto fail;
  rc = carnet__store_del(st, CARNET__T_META, CARNET__META_RESTORE_WAIT,
                         strlen(CARNET__META_RESTORE_WAIT));
  if (rc && rc != CARNET_ENOTFOUND) {
    carnet__store_abort(st);
    goto fail;
  }
  if ((rc = carnet__store_commit(st))) goto fail;
  carnet__log(r, CARNET_LOG_INFO,
              "restored replica: a peer of the team has sent its erasures; sending changes "
              "from now on");
  return 0;
fail:
  return carnet__fail(r, rc, "cannot record the end of the restore's wait: %s",
                      carnet__store_why(r->store));
}
