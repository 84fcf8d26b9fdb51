/* engine/store/keys.c - the key hierarchy of encryption at rest.
 *
 *   passphrase --Argon2id(salt, limits)--> master key --+
 *   key file (32 random bytes, hex) ---------> master key --+--> wraps the data key
 *   data key (32 random bytes) --XChaCha20-Poly1305--> every sealed value (engine/base/seal.h)
 *
 * The data key is made once, at init, and never changes: a new passphrase
 * (carnet_replica_rekey) only wraps it again, so changing it rewrites one
 * meta value and no data. The wrapped key, its salt and Argon2id limits are
 * the meta value "crypt" (in clear; docs/FORMATS.md):
 *
 *   version(1)=1 kind(1) opslimit(8 BE) memlimit(8 BE) salt(16) nonce(24)
 *   wrapped data key(32 + 16 tag)                                   = 106 bytes
 *
 * sealed with the master key and, as associated data, "carnet data key"
 * and the record's first 34 bytes, so the limits, salt and kind cannot be
 * changed without the unwrap failing. (Not the replica id: tests rewrite
 * it, and a record moved from another replica unwraps another data key,
 * which opens nothing here.)
 *
 * Invariant K1: a replica is opened only with its data key; a wrong
 * passphrase or key file fails before any transaction that writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carnet/error.h"
#include "engine/store/keys.h"
#include "engine/store/replica_int.h"

#define REC_VERSION 1
#define REC_HEAD 34 /* version kind opslimit memlimit salt */
#define REC_BYTES (REC_HEAD + 24 + 32 + 16)
#define SALT_BYTES 16
#define AD_LABEL "carnet data key"

_Static_assert(SALT_BYTES == crypto_pwhash_SALTBYTES, "salt size");
_Static_assert(REC_BYTES == CARNET__KEY_RECORD_BYTES, "record size");

/* Argon2id limits: libsodium's "interactive" level, 2 passes over 64 MiB
 * (about 0.1 s on a laptop core, more on a loaded VM). Every carnet command
 * opens the replica, so a stronger level would be paid on each one; the
 * passphrase only guards the files, never the network. Read back from the
 * record, so a later build can raise them for new passphrases. */
#define OPSLIMIT ((uint64_t)crypto_pwhash_OPSLIMIT_INTERACTIVE)
#define MEMLIMIT ((uint64_t)crypto_pwhash_MEMLIMIT_INTERACTIVE)
/* What a record may ask for (a damaged one must not make us allocate 1 TB). */
#define OPSLIMIT_MAX 64u
#define MEMLIMIT_MAX (4ull << 30)

typedef struct key_record {
  uint8_t b[REC_BYTES];
} key_record;

static void key_path(const carnet_replica *r, char *out, size_t len) {
  snprintf(out, len, "%s/%s", r->dir, CARNET_KEY_FILE_NAME);
}

/* --- key files ------------------------------------------------------------ */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Read a key file: 64 hex digits (then blanks). Refused unless only its
 * owner can read it. */
static int key_file_read(carnet_replica *r, const char *path, uint8_t key[32]) {
  char text[128];
  struct stat sb;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return carnet__fail(r, errno == ENOENT ? CARNET_EKEY : CARNET_EIO,
                        "cannot read key file %s: %s", path, strerror(errno));
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return carnet__fail(r, CARNET_EKEY, "key file %s is not a regular file", path);
  }
  if (sb.st_mode & 077) {
    close(fd);
    return carnet__fail(r, CARNET_EPERM,
                        "key file %s can be read by others (mode %04o): run 'chmod 600 %s'", path,
                        (unsigned)(sb.st_mode & 07777), path);
  }
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  int rc = n < 64 ? -1 : 0;
  for (int i = 0; rc == 0 && i < 32; i++) {
    int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      rc = -1;
    else
      key[i] = (uint8_t)(hi << 4 | lo);
  }
  for (ssize_t i = 64; rc == 0 && i < n; i++)
    if (text[i] != '\n' && text[i] != '\r' && text[i] != ' ') rc = -1;
  sodium_memzero(text, sizeof text);
  if (rc) {
    sodium_memzero(key, 32);
    return carnet__fail(r, CARNET_EKEY, "key file %s does not hold a Carnet key (64 hex digits)",
                        path);
  }
  return 0;
}

/* Create a key file holding `key`, mode 0600 (O_EXCL: never over
 * another file). */
static int key_file_write(carnet_replica *r, const char *path, const uint8_t key[32]) {
  char text[66];
  sodium_bin2hex(text, 65, key, 32);
  text[64] = '\n';
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    sodium_memzero(text, sizeof text);
    return carnet__fail(r, CARNET_EIO, "cannot create key file %s: %s", path, strerror(errno));
  }
  int ok = write(fd, text, 65) == 65 && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  sodium_memzero(text, sizeof text);
  if (!ok) {
    unlink(path);
    return carnet__fail(r, CARNET_EIO, "cannot write key file %s: %s", path, strerror(errno));
  }
  return 0;
}

/* Create a key file of 32 fresh random bytes, mode 0600. */
static int key_file_create(carnet_replica *r, const char *path, uint8_t key[32]) {
  randombytes_buf(key, 32);
  return key_file_write(r, path, key);
}

/* The key of `path`, made when the file does not exist yet. */
static int key_file_get_or_make(carnet_replica *r, const char *path, uint8_t key[32]) {
  struct stat sb;
  if (lstat(path, &sb) != 0 && errno == ENOENT) return key_file_create(r, path, key);
  return key_file_read(r, path, key);
}

/* Overwrite then remove the key file in the replica directory (after the
 * replica has moved to another key). Best effort: the file system may keep
 * old blocks. */
static void key_file_destroy(const char *path) {
  char zeros[65] = {0};
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    if (write(fd, zeros, sizeof zeros) == (ssize_t)sizeof zeros) (void)fsync(fd);
    close(fd);
  }
  unlink(path);
}

/* --- the record ------------------------------------------------------------ */

static void make_ad(const key_record *rec, uint8_t *ad, size_t *adlen) {
  size_t n = strlen(AD_LABEL);
  memcpy(ad, AD_LABEL, n);
  memcpy(ad + n, rec->b, REC_HEAD);
  *adlen = n + REC_HEAD;
}

static void record_wrap(const carnet_replica *r, key_record *rec, const uint8_t master[32],
                        const uint8_t dkey[32]) {
  uint8_t ad[64];
  size_t adlen;
  (void)r;
  make_ad(rec, ad, &adlen);
  randombytes_buf(rec->b + REC_HEAD, 24);
  crypto_aead_xchacha20poly1305_ietf_encrypt(rec->b + REC_HEAD + 24, NULL, dkey, 32, ad, adlen,
                                             NULL, rec->b + REC_HEAD, master);
}

static int record_unwrap(const carnet_replica *r, const key_record *rec, const uint8_t master[32],
                         uint8_t dkey[32]) {
  uint8_t ad[64];
  size_t adlen;
  (void)r;
  make_ad(rec, ad, &adlen);
  return crypto_aead_xchacha20poly1305_ietf_decrypt(dkey, NULL, NULL, rec->b + REC_HEAD + 24, 48,
                                                    ad, adlen, rec->b + REC_HEAD, master) == 0
             ? 0
             : -1;
}

static int passphrase_master(carnet_replica *r, const key_record *rec, const char *pass,
                             uint8_t master[32]) {
  uint64_t ops = carnet__be64_get(rec->b + 2), mem = carnet__be64_get(rec->b + 10);
  if (crypto_pwhash(master, 32, pass, strlen(pass), rec->b + 18, ops, (size_t)mem,
                    crypto_pwhash_ALG_ARGON2ID13) != 0)
    return carnet__fail(r, CARNET_ENOMEM,
                        "cannot derive the key from the passphrase (Argon2id "
                        "needs %llu MiB)",
                        (unsigned long long)(mem >> 20));
  return 0;
}

/* Ask the environment for a passphrase when none was given. "" = none. */
static int get_passphrase(carnet_replica *r, const carnet_env *env, bool is_new, char *buf,
                          size_t len, const char **out) {
  *out = NULL;
  if (env && env->passphrase && env->passphrase[0]) {
    *out = env->passphrase;
    return 0;
  }
  if (env && env->ask_passphrase) {
    buf[0] = '\0';
    int rc = env->ask_passphrase(env->ctx, r->dir, is_new, buf, len);
    if (rc == CARNET_EINVAL) return carnet__fail(r, rc, "the two passphrases typed differ");
    if (rc) return carnet__fail(r, rc, "no passphrase was given for the replica in %s", r->dir);
    if (buf[0]) *out = buf;
  }
  return 0;
}

/* Build a record for the key given (passphrase, key file, or with neither
 * the key file in the replica directory) and its master key. */
static int record_new(carnet_replica *r, const char *pass, const char *key_file, key_record *rec,
                      uint8_t master[32], bool *made_dir_key) {
  char path[4200];
  int rc;
  memset(rec, 0, sizeof *rec);
  rec->b[0] = REC_VERSION;
  *made_dir_key = false;
  if (pass && pass[0]) {
    rec->b[1] = CARNET_KEY_PASSPHRASE;
    carnet__be64_put(rec->b + 2, OPSLIMIT);
    carnet__be64_put(rec->b + 10, MEMLIMIT);
    randombytes_buf(rec->b + 18, SALT_BYTES);
    return passphrase_master(r, rec, pass, master);
  }
  if (key_file && key_file[0]) {
    rec->b[1] = CARNET_KEY_FILE;
    return key_file_get_or_make(r, key_file, master);
  }
  rec->b[1] = CARNET_KEY_FILE_IN_DIR;
  key_path(r, path, sizeof path);
  struct stat sb;
  *made_dir_key = lstat(path, &sb) != 0;
  rc = key_file_get_or_make(r, path, master);
  if (rc) *made_dir_key = false;
  return rc;
}

/* The record's version, kind and limits are ones this build knows. */
static int record_check(carnet_replica *r, const key_record *rec) {
  uint8_t kind = rec->b[1];
  uint64_t ops = carnet__be64_get(rec->b + 2), mem = carnet__be64_get(rec->b + 10);
  if (rec->b[0] != REC_VERSION || kind < CARNET_KEY_PASSPHRASE || kind > CARNET_KEY_FILE_IN_DIR ||
      (kind == CARNET_KEY_PASSPHRASE && (ops < crypto_pwhash_OPSLIMIT_MIN || ops > OPSLIMIT_MAX ||
                                         mem < crypto_pwhash_MEMLIMIT_MIN || mem > MEMLIMIT_MAX)))
    return carnet__fail(r, CARNET_ECORRUPT,
                        "the key record of the replica in %s is damaged or of a newer Carnet",
                        r->dir);
  return 0;
}

static int record_read(carnet_replica *r, carnet__stxn *st, key_record *rec) {
  carnet_buf v;
  int rc =
      carnet__store_get(st, CARNET__T_META, CARNET__META_CRYPT, strlen(CARNET__META_CRYPT), &v);
  if (rc == CARNET_ENOTFOUND || (rc == 0 && v.len != REC_BYTES))
    return carnet__fail(r, CARNET_ECORRUPT,
                        "the replica in %s has no valid key record: restore it from a backup",
                        r->dir);
  if (rc) return carnet__fail(r, rc, "cannot read the key record: %s", carnet__store_why(r->store));
  memcpy(rec->b, v.base, REC_BYTES);
  return record_check(r, rec);
}

/* --- init, open, rekey ------------------------------------------------------- */

int carnet__keys_create(carnet_replica *r, carnet__stxn *st, const carnet_env *env) {
  uint8_t master[32], dkey[32];
  char buf[1024];
  const char *pass = NULL;
  key_record rec;
  bool made;
  int rc = 0;
  if (!(env && env->key_file && env->key_file[0]) &&
      (rc = get_passphrase(r, env, true, buf, sizeof buf, &pass)))
    goto done;
  if ((rc = record_new(r, pass, env ? env->key_file : NULL, &rec, master, &made))) goto done;
  randombytes_buf(dkey, sizeof dkey);
  record_wrap(r, &rec, master, dkey);
  if ((rc = carnet__store_set_key(r->store, dkey)) ||
      (rc = carnet__store_put(st, CARNET__T_META, CARNET__META_CRYPT, strlen(CARNET__META_CRYPT),
                              rec.b, REC_BYTES, 0)))
    carnet__fail(r, rc, "cannot write the key record: %s", carnet__store_why(r->store));
done:
  sodium_memzero(buf, sizeof buf);
  sodium_memzero(master, sizeof master);
  sodium_memzero(dkey, sizeof dkey);
  return rc;
}

/* Unwrap the data key of `rec` with what `env` gives into `dkey`; `master`
 * receives the master key (a key file's 32 bytes). `restoring`: r->dir is
 * the directory a backup is restored into, which has no key file yet. */
static int record_open(carnet_replica *r, const key_record *rec, const carnet_env *env,
                       bool restoring, uint8_t master[32], uint8_t dkey[32]) {
  char buf[1024], path[4200];
  const char *pass = NULL, *kf = env ? env->key_file : NULL;
  int rc = 0;
  switch (rec->b[1]) {
  case CARNET_KEY_PASSPHRASE:
    if ((rc = get_passphrase(r, env, false, buf, sizeof buf, &pass))) goto done;
    if (pass == NULL) {
      rc =
          carnet__fail(r, CARNET_EKEY,
                       "the replica in %s is protected by a passphrase: give it (CARNET_PASSPHRASE "
                       "for the carnet command, or run it on a terminal)",
                       r->dir);
      goto done;
    }
    if ((rc = passphrase_master(r, rec, pass, master))) goto done;
    if (record_unwrap(r, rec, master, dkey) != 0) {
      rc = carnet__fail(r, CARNET_EKEY, "wrong passphrase for replica %s", r->dir);
      goto done;
    }
    break;
  default:
    /* A key file: the one given, else the one in the directory; for a
     * replica made with the directory's own, that one first (a
     * CARNET_KEY_FILE meant for another replica must not get in the way). */
    key_path(r, path, sizeof path);
    if (rec->b[1] == CARNET_KEY_FILE_IN_DIR && access(path, F_OK) == 0) kf = path;
    if (restoring && rec->b[1] == CARNET_KEY_FILE_IN_DIR && (kf == NULL || kf[0] == '\0')) {
      rc = carnet__fail(r, CARNET_EKEY,
                        "this backup opens with the key file carnet.key of the replica directory "
                        "it was made from (that replica had no passphrase): give a copy of it "
                        "(--key-file PATH or CARNET_KEY_FILE for the carnet command)");
      goto done;
    }
    if (kf == NULL || kf[0] == '\0') {
      kf = path;
      if (rec->b[1] == CARNET_KEY_FILE && access(path, F_OK) != 0) {
        rc = carnet__fail(r, CARNET_EKEY,
                          "the replica in %s is locked with a key file kept outside it: give it "
                          "(--key-file PATH or CARNET_KEY_FILE for the carnet command)",
                          r->dir);
        goto done;
      }
    }
    if ((rc = key_file_read(r, kf, master))) {
      if (rc == CARNET_EKEY && kf == path && !restoring)
        carnet__fail(r, rc,
                     "the key file of the replica in %s is missing or damaged (%s): give "
                     "it with --key-file or CARNET_KEY_FILE, or restore it from a backup",
                     r->dir, path);
      goto done;
    }
    if (record_unwrap(r, rec, master, dkey) != 0) {
      rc = restoring ? carnet__fail(r, CARNET_EKEY, "wrong key file %s for this backup", kf)
                     : carnet__fail(r, CARNET_EKEY, "wrong key file %s for replica %s", kf, r->dir);
      goto done;
    }
  }
done:
  sodium_memzero(buf, sizeof buf);
  if (rc) {
    sodium_memzero(master, 32);
    sodium_memzero(dkey, 32);
  }
  return rc;
}

int carnet__keys_load(carnet_replica *r, carnet__stxn *st, const carnet_env *env) {
  uint8_t master[32], dkey[32];
  key_record rec;
  int rc;
  if ((rc = record_read(r, st, &rec))) return rc;
  if ((rc = record_open(r, &rec, env, false, master, dkey)) == 0)
    rc = carnet__store_set_key(r->store, dkey);
  sodium_memzero(master, sizeof master);
  sodium_memzero(dkey, sizeof dkey);
  return rc;
}

int carnet__keys_unwrap(carnet_replica *r, const uint8_t *record, size_t len, const carnet_env *env,
                        uint8_t dkey[32], uint8_t dir_key[32], bool *need_dir_key) {
  key_record rec;
  char path[4200];
  int rc;
  *need_dir_key = false;
  if (len != REC_BYTES)
    return carnet__fail(r, CARNET_ECORRUPT, "the key record is %zu bytes, not %d", len, REC_BYTES);
  memcpy(rec.b, record, REC_BYTES);
  if ((rc = record_check(r, &rec))) return rc;
  if ((rc = record_open(r, &rec, env, true, dir_key, dkey))) return rc;
  key_path(r, path, sizeof path);
  *need_dir_key = rec.b[1] == CARNET_KEY_FILE_IN_DIR && access(path, F_OK) != 0;
  if (!*need_dir_key) sodium_memzero(dir_key, 32);
  return 0;
}

int carnet__keys_write_dir_key(carnet_replica *r, const uint8_t key[32]) {
  char path[4200];
  key_path(r, path, sizeof path);
  return key_file_write(r, path, key);
}

int carnet_replica_rekey(carnet_replica *r, const char *passphrase, const char *key_file) {
  uint8_t master[32], dkey[32];
  char path[4200];
  key_record old, rec;
  carnet__stxn *st = NULL;
  bool made = false;
  int rc;
  carnet__clear_err(r);
  if (r->txn) return carnet__fail(r, CARNET_EMISUSE, "a transaction is open");
  if ((rc = carnet__store_begin(r->store, true, &st)))
    return carnet__fail(r, rc, "cannot start a write: %s", carnet__store_why(r->store));
  if ((rc = record_read(r, st, &old))) goto done;
  if ((rc = carnet__store_key(r->store, dkey))) goto done;
  if ((rc = record_new(r, passphrase, key_file, &rec, master, &made))) goto done;
  record_wrap(r, &rec, master, dkey);
  if ((rc = carnet__store_put(st, CARNET__T_META, CARNET__META_CRYPT, strlen(CARNET__META_CRYPT),
                              rec.b, REC_BYTES, 0))) {
    carnet__fail(r, rc, "cannot write the key record: %s", carnet__store_why(r->store));
    goto done;
  }
  rc = carnet__store_commit(st);
  st = NULL;
  if (rc) {
    carnet__fail(r, rc, "cannot write the key record: %s", carnet__store_why(r->store));
    goto done;
  }
  made = false; /* committed: the new key file stays */
  /* The key file in the directory no longer opens anything current. */
  if (old.b[1] == CARNET_KEY_FILE_IN_DIR && rec.b[1] != CARNET_KEY_FILE_IN_DIR) {
    key_path(r, path, sizeof path);
    key_file_destroy(path);
  }
done:
  carnet__store_abort(st);
  if (made) { /* the directory key file made for a record that was not written */
    key_path(r, path, sizeof path);
    unlink(path);
  }
  sodium_memzero(master, sizeof master);
  sodium_memzero(dkey, sizeof dkey);
  return rc;
}

int carnet_replica_get_key_info(carnet_replica *r, carnet_key_info *out) {
  carnet__stxn *st;
  key_record rec;
  memset(out, 0, sizeof *out);
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  rc = record_read(r, st, &rec);
  carnet__read_end(r, st);
  if (rc) return rc;
  out->kind = (carnet_key_kind)rec.b[1];
  if (out->kind == CARNET_KEY_PASSPHRASE) {
    out->opslimit = carnet__be64_get(rec.b + 2);
    out->memlimit = carnet__be64_get(rec.b + 10);
  }
  return 0;
}
