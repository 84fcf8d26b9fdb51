/* engine/crm/attach.c - attachments: metadata as entities, content as
 * encrypted files under DIR/files (carnet/attach.h, engine/crm/attach.h A1-A3).
 *
 * Why a key per attachment, kept in its metadata: the content file's bytes
 * are the same on every replica, so a peer sends them as they are stored
 * (no decrypting and encrypting again on either side) and the receiver
 * checks them with the key it got with the metadata. The key is sealed in
 * the attachment's row like every personal value, so erasing the
 * attachment deletes the key with the row (and the compaction that follows
 * an erasure takes it out of LMDB's free pages): whatever a filesystem
 * keeps of a deleted content file is ciphertext under a key that exists
 * nowhere.
 */
#include "engine/crm/attach.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>
#include <sodium.h>

#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/base/id.h"
#include "engine/base/mp.h"
#include "engine/base/text.h"
#include "engine/crm/write.h"
#include "engine/store/entity_io.h"
#include "engine/store/file.h"
#include "engine/store/group.h"
#include "engine/store/replica_int.h"

_Static_assert(CARNET__ATT_HEADER_LEN == crypto_secretstream_xchacha20poly1305_HEADERBYTES,
               "content header");
_Static_assert(CARNET__ATT_ABYTES == crypto_secretstream_xchacha20poly1305_ABYTES,
               "chunk overhead");
_Static_assert(CARNET__ATT_KEY_LEN == crypto_secretstream_xchacha20poly1305_KEYBYTES,
               "content key");

#define SS_TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define SS_TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL

/* --- small helpers ----------------------------------------------------------- */

uint64_t carnet__att_stored_size(uint64_t size) {
  uint64_t chunks = size == 0 ? 1 : (size + CARNET_ATTACH_CHUNK - 1) / CARNET_ATTACH_CHUNK;
  return CARNET__ATT_HEADER_LEN + size + chunks * CARNET__ATT_ABYTES;
}

bool carnet__media_type_valid(const char *s) {
  size_t n = strlen(s), slash = 0, nslash = 0;
  if (n < 3 || n > CARNET_ATTACH_MEDIA_TYPE_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '/') {
      nslash++;
      slash = i;
    } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 strchr("!#$&^_.+-", c))) {
      return false;
    }
  }
  return nslash == 1 && slash > 0 && slash < n - 1;
}

/* The media type of a file name's extension (a short table: what a rep
 * attaches from a phone or an office PC), else application/octet-stream. */
static const char *media_type_of(const char *name) {
  static const struct {
    const char *ext, *type;
  } map[] = {{"pdf", "application/pdf"},
             {"jpg", "image/jpeg"},
             {"jpeg", "image/jpeg"},
             {"png", "image/png"},
             {"gif", "image/gif"},
             {"webp", "image/webp"},
             {"heic", "image/heic"},
             {"tif", "image/tiff"},
             {"tiff", "image/tiff"},
             {"txt", "text/plain"},
             {"csv", "text/csv"},
             {"html", "text/html"},
             {"xml", "application/xml"},
             {"json", "application/json"},
             {"zip", "application/zip"},
             {"doc", "application/msword"},
             {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
             {"xls", "application/vnd.ms-excel"},
             {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
             {"odt", "application/vnd.oasis.opendocument.text"},
             {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
             {"eml", "message/rfc822"},
             {"mp4", "video/mp4"},
             {"mp3", "audio/mpeg"}};
  const char *dot = strrchr(name, '.');
  if (dot && dot[1]) {
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
      if (strcasecmp(dot + 1, map[i].ext) == 0) return map[i].type;
  }
  return "application/octet-stream";
}

static int write_all(int fd, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return carnet__errno_code(errno);
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Read exactly `len` bytes; CARNET_ECORRUPT when the file ends first. */
static int read_full(int fd, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return CARNET_EIO;
    if (n == 0) return CARNET_ECORRUPT;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void fsync_dir(const char *dir);
static int files_dir(carnet_replica *r, char *out, size_t len);

void carnet__att_fsync_dir(carnet_replica *r) {
  char dir[4096];
  if (files_dir(r, dir, sizeof dir) == 0) fsync_dir(dir);
}

static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

/* The key of content file names: a subkey of the data key. */
static int name_key(carnet_replica *r, uint8_t out[32]) {
  uint8_t dkey[32];
  int rc = carnet__store_key(r->store, dkey);
  if (rc) return rc;
  crypto_kdf_derive_from_key(out, 32, 1, "CARNETFN", dkey);
  sodium_memzero(dkey, sizeof dkey);
  return 0;
}

static int files_dir(carnet_replica *r, char *out, size_t len) {
  int n = snprintf(out, len, "%s/%s", r->dir, CARNET__ATT_DIR);
  return n < 0 || (size_t)n >= len ? CARNET_EINVAL : 0;
}

/* The NAME of attachment `id` (32 hex digits and a NUL) with key `nk`. */
static void name_of(const uint8_t nk[32], const carnet_id *id, char out[CARNET__ATT_NAME_LEN + 1]) {
  uint8_t h[CARNET__ATT_NAME_LEN / 2];
  crypto_generichash(h, sizeof h, id->b, sizeof id->b, nk, 32);
  sodium_bin2hex(out, CARNET__ATT_NAME_LEN + 1, h, sizeof h);
}

int carnet__att_path(carnet_replica *r, const carnet_id *id, const char *suffix, char *out,
                     size_t len) {
  uint8_t nk[32];
  char name[CARNET__ATT_NAME_LEN + 1];
  int rc = name_key(r, nk);
  if (rc) return rc;
  name_of(nk, id, name);
  sodium_memzero(nk, sizeof nk);
  int n = snprintf(out, len, "%s/%s/%s%s", r->dir, CARNET__ATT_DIR, name, suffix);
  return n < 0 || (size_t)n >= len ? CARNET_EINVAL : 0;
}

static int ensure_dir(carnet_replica *r) {
  char dir[4096];
  if (files_dir(r, dir, sizeof dir)) return carnet__fail(r, CARNET_EINVAL, "path too long");
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    int e = errno;
    return carnet__fail(r, carnet__errno_code(e), "cannot create %s: %s", dir, strerror(e));
  }
  return 0;
}

/* --- metadata ------------------------------------------------------------------ */

/* What a view of an attachment's cells holds; strings point into the
 * cells. Missing required fields are CARNET_ECORRUPT: they are written
 * together by one stamp (carnet_upload_commit) and travel together. */
typedef struct att_view {
  carnet__att core;
  const char *name, *media_type, *caption;
  uint32_t name_len, media_type_len, caption_len;
  uint64_t added_by, added_at;
} att_view;

static int att_decode(const carnet__entity *e, att_view *v) {
  unsigned have = 0;
  memset(v, 0, sizeof *v);
  v->core.id = e->id;
  if (e->kind != CARNET_KIND_ATTACHMENT) return CARNET_ENOTFOUND;
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    msgpack_object o, el[4];
    if (!carnet__mp_obj1(c->val, c->vlen, &o, el)) return CARNET_ECORRUPT;
    bool nil = o.type == MSGPACK_OBJECT_NIL;
    switch (c->field) {
    case CARNET_F_OWNER:
      if (o.type != MSGPACK_OBJECT_BIN || o.via.bin.size != 16) return CARNET_ECORRUPT;
      memcpy(v->core.owner.b, o.via.bin.ptr, 16);
      have |= 1;
      break;
    case CARNET_F_FILE_NAME:
      if (o.type != MSGPACK_OBJECT_STR || o.via.str.size == 0 ||
          o.via.str.size > CARNET_ATTACH_NAME_MAX)
        return CARNET_ECORRUPT;
      v->name = o.via.str.ptr;
      v->name_len = o.via.str.size;
      have |= 2;
      break;
    case CARNET_F_MEDIA_TYPE:
      if (o.type != MSGPACK_OBJECT_STR || o.via.str.size == 0 ||
          o.via.str.size > CARNET_ATTACH_MEDIA_TYPE_MAX)
        return CARNET_ECORRUPT;
      v->media_type = o.via.str.ptr;
      v->media_type_len = o.via.str.size;
      break;
    case CARNET_F_SIZE:
      if (o.type != MSGPACK_OBJECT_POSITIVE_INTEGER || o.via.u64 > CARNET_ATTACH_SIZE_LIMIT)
        return CARNET_ECORRUPT;
      v->core.size = o.via.u64;
      have |= 4;
      break;
    case CARNET_F_HASH:
    case CARNET_F_CONTENT_KEY:
      if (o.type != MSGPACK_OBJECT_BIN || o.via.bin.size != 32) return CARNET_ECORRUPT;
      memcpy(c->field == CARNET_F_HASH ? v->core.hash : v->core.key, o.via.bin.ptr, 32);
      have |= c->field == CARNET_F_HASH ? 8 : 16;
      break;
    case CARNET_F_ADDED_BY:
    case CARNET_F_ADDED_AT:
      if (nil) break;
      if (o.type != MSGPACK_OBJECT_POSITIVE_INTEGER) return CARNET_ECORRUPT;
      *(c->field == CARNET_F_ADDED_BY ? &v->added_by : &v->added_at) = o.via.u64;
      break;
    case CARNET_F_CAPTION:
      if (nil) {
        v->caption = NULL;
        break;
      }
      if (o.type != MSGPACK_OBJECT_STR || o.via.str.size > CARNET_ATTACH_CAPTION_MAX)
        return CARNET_ECORRUPT;
      v->caption = o.via.str.ptr;
      v->caption_len = o.via.str.size;
      break;
    case CARNET_F_DELETED:
      v->core.deleted = o.type == MSGPACK_OBJECT_BOOLEAN && o.via.boolean;
      break;
    default:
      return CARNET_ECORRUPT;
    }
  }
  return have == 31 ? 0 : CARNET_ECORRUPT;
}

/* Decode the row of `id` and hand its view to `fn`; the view is wiped
 * after (it holds the content key). */
typedef int view_fn(const att_view *v, void *arg);
static int with_view(carnet__stxn *st, const carnet_id *id, view_fn *fn, void *arg) {
  carnet__arena a;
  carnet__entity e;
  att_view v;
  bool found;
  carnet__arena_init(&a, 1024);
  carnet__entity_init(&e, &a);
  int rc = carnet__load_row(st, id, &a, &e, &found);
  if (rc == 0 && !found) rc = CARNET_ENOTFOUND;
  if (rc == 0) rc = att_decode(&e, &v);
  if (rc == 0) rc = fn(&v, arg);
  sodium_memzero(&v, sizeof v);
  carnet__entity_free(&e);
  carnet__arena_free(&a);
  return rc;
}

static int copy_core(const att_view *v, void *arg) {
  *(carnet__att *)arg = v->core;
  return 0;
}

int carnet__att_load(carnet__stxn *st, const carnet_id *id, carnet__att *out) {
  return with_view(st, id, copy_core, out);
}

int carnet__att_decode_row(const carnet_id *id, const void *row, size_t len, carnet__att *out) {
  carnet__arena a;
  carnet__entity e;
  att_view v;
  carnet__arena_init(&a, 1024);
  carnet__entity_init(&e, &a);
  int rc = carnet__row_decode(id, row, len, &e);
  if (rc == 0) rc = att_decode(&e, &v);
  if (rc == 0) *out = v.core;
  carnet__entity_free(&e);
  carnet__arena_free(&a);
  return rc;
}

/* --- policy ---------------------------------------------------------------------- */

const char *carnet_fetch_name(carnet_fetch f) {
  switch (f) {
  case CARNET_FETCH_ALL:
    return "all";
  case CARNET_FETCH_OPEN:
    return "open";
  case CARNET_FETCH_UP_TO:
    return "up-to";
  }
  return NULL;
}

carnet_fetch carnet_fetch_parse(const char *name) {
  for (int f = CARNET_FETCH_ALL; name && f <= CARNET_FETCH_UP_TO; f++)
    if (strcmp(name, carnet_fetch_name((carnet_fetch)f)) == 0) return (carnet_fetch)f;
  return (carnet_fetch)0;
}

int carnet__att_policy(carnet__stxn *st, carnet_attach_policy *out) {
  carnet_buf v;
  *out = (carnet_attach_policy){CARNET_FETCH_ALL, 0, CARNET_ATTACH_SIZE_DEFAULT, 0};
  int rc = carnet__store_get(st, CARNET__T_META, CARNET__META_ATT_POLICY,
                             strlen(CARNET__META_ATT_POLICY), &v);
  if (rc == CARNET_ENOTFOUND) return 0;
  if (rc) return rc;
  const uint8_t *b = v.base;
  if (v.len != 25 || !carnet_fetch_name((carnet_fetch)b[0])) return CARNET_ECORRUPT;
  out->fetch = (carnet_fetch)b[0];
  out->fetch_max = carnet__be64_get(b + 1);
  out->size_max = carnet__be64_get(b + 9);
  out->send_rate = carnet__be64_get(b + 17);
  if (out->size_max == 0 || out->size_max > CARNET_ATTACH_SIZE_LIMIT) return CARNET_ECORRUPT;
  return 0;
}

int carnet_replica_get_attach_policy(carnet_replica *r, carnet_attach_policy *out) {
  carnet__stxn *st;
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  if ((rc = carnet__att_policy(st, out)) == CARNET_ECORRUPT)
    carnet__fail(r, rc, "the attachment policy stored in the replica is damaged");
  carnet__read_end(r, st);
  return rc;
}

/* Run `fn` in a write transaction of its own. */
static int in_txn(carnet_replica *r, int (*fn)(carnet_txn *t, void *arg), void *arg) {
  carnet_txn *t;
  int rc = carnet_txn_begin(r, &t);
  if (rc) return rc;
  if ((rc = fn(t, arg))) {
    carnet_txn_abort(t);
    return rc;
  }
  return carnet_txn_commit(t);
}

static int put_policy(carnet_txn *t, void *arg) {
  const carnet_attach_policy *p = arg;
  uint8_t b[25];
  b[0] = (uint8_t)p->fetch;
  carnet__be64_put(b + 1, p->fetch_max);
  carnet__be64_put(b + 9, p->size_max);
  carnet__be64_put(b + 17, p->send_rate);
  int rc = carnet__store_put(t->st, CARNET__T_META, CARNET__META_ATT_POLICY,
                             strlen(CARNET__META_ATT_POLICY), b, sizeof b, 0);
  return rc ? carnet__txn_fail(t, rc) : 0;
}

int carnet_replica_set_attach_policy(carnet_replica *r, const carnet_attach_policy *p) {
  if (r == NULL || p == NULL) return CARNET_EMISUSE;
  carnet__clear_err(r);
  if (!carnet_fetch_name(p->fetch))
    return carnet__fail(r, CARNET_EINVAL, "unknown fetch mode %d (all, open or up-to)",
                        (int)p->fetch);
  if (p->size_max == 0 || p->size_max > CARNET_ATTACH_SIZE_LIMIT)
    return carnet__fail(r, CARNET_EINVAL, "the largest file must be 1 byte to %llu bytes",
                        (unsigned long long)CARNET_ATTACH_SIZE_LIMIT);
  return in_txn(r, put_policy, (void *)p);
}

/* --- uploads --------------------------------------------------------------------- */

struct carnet_upload {
  carnet_replica *r;
  carnet_id id, owner;
  char *name, *media_type, *caption;
  uint8_t key[CARNET__ATT_KEY_LEN];
  crypto_secretstream_xchacha20poly1305_state ss;
  crypto_generichash_state h;
  uint8_t plain[CARNET_ATTACH_CHUNK];
  uint8_t cipher[CARNET_ATTACH_CHUNK + CARNET__ATT_ABYTES];
  size_t fill;
  uint64_t size, max;
  int fd;
  char tmp[4096], final[4096];
  int sticky;
};

static void upload_free(carnet_upload *up) {
  if (up->fd >= 0) close(up->fd); /* releases the lock (A2) */
  carnet__free(up->name);
  carnet__free(up->media_type);
  carnet__free(up->caption);
  sodium_memzero(up, sizeof *up);
  carnet__free(up);
}

/* The owner must be a live customer, contact, document or action. */
static int owner_check(carnet_replica *r, carnet__stxn *st, const carnet_id *owner) {
  carnet__arena a;
  carnet__entity e;
  bool found;
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(owner, hex);
  carnet__arena_init(&a, 1024);
  carnet__entity_init(&e, &a);
  int rc = carnet__load_row(st, owner, &a, &e, &found);
  if (rc == 0 && !found) rc = carnet__fail(r, CARNET_ENOTFOUND, "no record %s (erased?)", hex);
  if (rc == 0 && e.kind != CARNET_KIND_CUSTOMER && e.kind != CARNET_KIND_CONTACT &&
      e.kind != CARNET_KIND_DOCUMENT && e.kind != CARNET_KIND_ACTION)
    rc = carnet__fail(r, CARNET_EINVAL,
                      "%s is a %s: files attach to a customer, a contact, a document or an action",
                      hex, carnet_kind_name((carnet_kind)e.kind));
  if (rc == 0) {
    const carnet__cell *del = carnet__entity_find(&e, CARNET_F_DELETED, NULL, 0);
    if (del && del->vlen == 1 && del->val[0] == 0xc3)
      rc = carnet__fail(r, CARNET_ENOTFOUND, "%s %s was deleted",
                        carnet_kind_name((carnet_kind)e.kind), hex);
  }
  carnet__entity_free(&e);
  carnet__arena_free(&a);
  return rc;
}

static int text_check(carnet_replica *r, const char *what, const char *s, size_t max, bool multi) {
  if (carnet__text_valid(s, max, multi) != 0)
    return carnet__fail(r, CARNET_EINVAL, "invalid %s: must be UTF-8, at most %zu bytes%s", what,
                        max, multi ? "" : ", on one line");
  return 0;
}

int carnet_upload_begin(carnet_replica *r, const carnet_id *owner, const carnet_upload_opts *opts,
                        carnet_upload **out) {
  carnet_upload *up = NULL;
  carnet__stxn *st = NULL;
  carnet_attach_policy pol;
  int rc;
  if (out) *out = NULL;
  if (r == NULL || owner == NULL || opts == NULL || out == NULL) return CARNET_EMISUSE;
  carnet__clear_err(r);
  if (r->txn) return carnet__fail(r, CARNET_EMISUSE, "a transaction is open on this handle");
  if (carnet__store_readonly(r->store))
    return carnet__fail(r, CARNET_EPERM, "the replica is read-only (%s)",
                        carnet__store_readonly_why(r->store));
  const char *name = opts->name ? opts->name : "";
  const char *slash = strrchr(name, '/');
  if (slash) name = slash + 1;
  if (*name == '\0') return carnet__fail(r, CARNET_EINVAL, "an attachment needs a file name");
  if ((rc = text_check(r, "file name", name, CARNET_ATTACH_NAME_MAX, false))) return rc;
  const char *mt = opts->media_type ? opts->media_type : media_type_of(name);
  if (!carnet__media_type_valid(mt))
    return carnet__fail(r, CARNET_EINVAL,
                        "invalid media type '%s' (type/subtype, e.g. "
                        "application/pdf)",
                        mt);
  const char *cap = opts->caption && *opts->caption ? opts->caption : NULL;
  if (cap && (rc = text_check(r, "caption", cap, CARNET_ATTACH_CAPTION_MAX, true))) return rc;
  if ((rc = carnet__read_begin(r, &st))) return rc;
  rc = owner_check(r, st, owner);
  if (rc == 0 && (rc = carnet__att_policy(st, &pol)))
    carnet__fail(r, rc, "the attachment policy stored in the replica is damaged");
  carnet__read_end(r, st);
  if (rc) return rc;
  if ((up = carnet__calloc(1, sizeof *up)) == NULL) return CARNET_ENOMEM;
  up->fd = -1;
  up->r = r;
  up->owner = *owner;
  up->max = pol.size_max;
  up->name = carnet__strdup(name);
  up->media_type = carnet__strdup(mt);
  up->caption = cap ? carnet__strdup(cap) : NULL;
  if (!up->name || !up->media_type || (cap && !up->caption)) {
    rc = CARNET_ENOMEM;
    goto fail;
  }
  uint8_t rnd[8];
  carnet__random(r, rnd, sizeof rnd);
  carnet__id_make(&up->id, carnet__now_ms(r) << 16, rnd);
  /* The content key and the stream's header come from libsodium, never
   * from the injected random source (a seeded test source would repeat
   * them across replicas). */
  crypto_secretstream_xchacha20poly1305_keygen(up->key);
  if ((rc = ensure_dir(r))) goto fail;
  if ((rc = carnet__att_path(r, &up->id, ".up", up->tmp, sizeof up->tmp)) ||
      (rc = carnet__att_path(r, &up->id, "", up->final, sizeof up->final))) {
    carnet__fail(r, rc, "cannot name the content file");
    goto fail;
  }
  up->fd = open(up->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, CARNET__FILE_MODE);
  if (up->fd < 0 || flock(up->fd, LOCK_EX) != 0) {
    int e = errno;
    rc = carnet__fail(r, carnet__errno_code(e), "cannot create %s: %s", up->tmp, strerror(e));
    goto fail;
  }
  uint8_t header[CARNET__ATT_HEADER_LEN];
  crypto_secretstream_xchacha20poly1305_init_push(&up->ss, header, up->key);
  crypto_generichash_init(&up->h, NULL, 0, CARNET__ATT_HASH_LEN);
  if ((rc = write_all(up->fd, header, sizeof header))) {
    carnet__fail(r, rc, "cannot write %s: %s", up->tmp, strerror(errno));
    goto fail;
  }
  *out = up;
  return 0;
fail:
  if (up->fd >= 0) unlink(up->tmp);
  upload_free(up);
  return rc;
}

static int push_chunk(carnet_upload *up, unsigned char tag) {
  unsigned long long clen;
  crypto_secretstream_xchacha20poly1305_push(&up->ss, up->cipher, &clen, up->plain, up->fill,
                                             up->id.b, sizeof up->id.b, tag);
  up->fill = 0;
  int rc = write_all(up->fd, up->cipher, (size_t)clen);
  if (rc)
    return up->sticky = carnet__fail(up->r, rc, "cannot write %s: %s", up->tmp, strerror(errno));
  return 0;
}

int carnet_upload_write(carnet_upload *up, const void *buf, size_t len) {
  const uint8_t *p = buf;
  if (up == NULL || (buf == NULL && len > 0)) return CARNET_EMISUSE;
  if (up->sticky) return up->sticky;
  if (len > up->max - up->size) {
    return up->sticky = carnet__fail(up->r, CARNET_ELIMIT,
                                     "the file is too large: more than %" PRIu64
                                     " bytes (%.1f MB), the largest this "
                                     "replica takes (carnet attachment policy --max-size)",
                                     up->max, (double)up->max / 1e6);
  }
  crypto_generichash_update(&up->h, p, len);
  up->size += len;
  while (len > 0) {
    /* A full chunk is sealed only when more bytes come: the last chunk of
     * the file is FINAL, whatever its size. */
    if (up->fill == CARNET_ATTACH_CHUNK && push_chunk(up, SS_TAG_MESSAGE)) return up->sticky;
    size_t n = CARNET_ATTACH_CHUNK - up->fill;
    if (n > len) n = len;
    memcpy(up->plain + up->fill, p, n);
    up->fill += n;
    p += n;
    len -= n;
  }
  return 0;
}

typedef struct meta_arg {
  carnet_upload *up;
  uint8_t hash[CARNET__ATT_HASH_LEN];
} meta_arg;

static int put_uint(carnet__writer *w, carnet_field f, uint64_t v) {
  msgpack_pack_uint64(carnet__writer_packer(w), v);
  return carnet__writer_put(w, f, NULL, 0);
}

static int put_text(carnet__writer *w, carnet_field f, const char *s) {
  carnet__pack_str(carnet__writer_packer(w), s, strlen(s));
  return carnet__writer_put(w, f, NULL, 0);
}

static int put_bytes(carnet__writer *w, carnet_field f, const void *b, size_t n) {
  carnet__pack_bin(carnet__writer_packer(w), b, n);
  return carnet__writer_put(w, f, NULL, 0);
}

static int meta_fn(carnet__writer *w, void *arg) {
  meta_arg *m = arg;
  carnet_upload *up = m->up;
  carnet_txn *t = carnet__writer_txn(w);
  int rc = owner_check(up->r, t->st, &up->owner); /* erased or deleted meanwhile? */
  if (rc == 0) rc = put_bytes(w, CARNET_F_OWNER, up->owner.b, 16);
  if (rc == 0) rc = put_text(w, CARNET_F_FILE_NAME, up->name);
  if (rc == 0) rc = put_text(w, CARNET_F_MEDIA_TYPE, up->media_type);
  if (rc == 0) rc = put_uint(w, CARNET_F_SIZE, up->size);
  if (rc == 0) rc = put_bytes(w, CARNET_F_HASH, m->hash, sizeof m->hash);
  if (rc == 0) rc = put_uint(w, CARNET_F_ADDED_BY, up->r->id);
  if (rc == 0) rc = put_uint(w, CARNET_F_ADDED_AT, carnet__now_ms(up->r));
  if (rc == 0 && up->caption) rc = put_text(w, CARNET_F_CAPTION, up->caption);
  if (rc == 0) rc = put_bytes(w, CARNET_F_CONTENT_KEY, up->key, sizeof up->key);
  return rc;
}

static int meta_txn(carnet_txn *t, void *arg) {
  meta_arg *m = arg;
  return carnet__write(t, &m->up->id, CARNET_KIND_ATTACHMENT, NULL,
                       CARNET__W_CREATE | CARNET__W_SYSTEM, meta_fn, m);
}

int carnet_upload_commit(carnet_upload *up, carnet_id *out_id) {
  meta_arg m = {.up = up};
  int rc;
  if (up == NULL) return CARNET_EMISUSE;
  carnet_replica *r = up->r;
  if ((rc = up->sticky) || (rc = push_chunk(up, SS_TAG_FINAL))) goto fail;
  crypto_generichash_final(&up->h, m.hash, sizeof m.hash);
  if (fsync(up->fd) != 0) {
    int e = errno;
    rc = carnet__fail(r, carnet__errno_code(e), "cannot write %s: %s", up->tmp, strerror(e));
    goto fail;
  }
  /* A2: the file gets its final name before the metadata exists, and
   * stays locked until the commit is over. */
  if (rename(up->tmp, up->final) != 0) {
    int e = errno;
    rc = carnet__fail(r, carnet__errno_code(e), "cannot rename %s: %s", up->tmp, strerror(e));
    goto fail;
  }
  char dir[4096];
  if (files_dir(r, dir, sizeof dir) == 0) fsync_dir(dir);
  if ((rc = in_txn(r, meta_txn, &m))) {
    unlink(up->final);
    goto done;
  }
  if (out_id) *out_id = up->id;
  goto done;
fail:
  unlink(up->tmp);
done:
  sodium_memzero(&m, sizeof m);
  upload_free(up);
  return rc;
}

void carnet_upload_abort(carnet_upload *up) {
  if (up == NULL) return;
  unlink(up->tmp);
  upload_free(up);
}

int carnet_attachment_create_file(carnet_replica *r, const carnet_id *owner, const char *path,
                                  const carnet_upload_opts *opts, carnet_id *out_id) {
  carnet_upload_opts o = opts ? *opts : (carnet_upload_opts){0};
  carnet_upload *up;
  struct stat sb;
  if (r == NULL || path == NULL) return CARNET_EMISUSE;
  carnet__clear_err(r);
  int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
  if (fd < 0) {
    int e = errno;
    return carnet__fail(r, carnet__errno_code(e), "cannot open %s: %s", path, strerror(e));
  }
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return carnet__fail(r, CARNET_EINVAL, "%s is not a regular file", path);
  }
  if (o.name == NULL) o.name = path;
  if ((rc = carnet_upload_begin(r, owner, &o, &up))) {
    close(fd);
    return rc;
  }
  /* Refused before reading a byte of a file that is already too large. */
  if ((uint64_t)sb.st_size > up->max) {
    rc = carnet__fail(r, CARNET_ELIMIT,
                      "%s is too large: %lld bytes (%.1f MB), and this replica takes files up to "
                      "%" PRIu64 " bytes (%.1f MB; carnet attachment policy --max-size)",
                      path, (long long)sb.st_size, (double)sb.st_size / 1e6, up->max,
                      (double)up->max / 1e6);
    carnet_upload_abort(up);
    close(fd);
    return rc;
  }
  static const size_t BUF = 1u << 20;
  uint8_t *buf = carnet__malloc(BUF);
  if (buf == NULL) {
    carnet_upload_abort(up);
    close(fd);
    return CARNET_ENOMEM;
  }
  for (;;) {
    ssize_t n = read(fd, buf, BUF);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      rc = carnet__fail(r, CARNET_EIO, "cannot read %s: %s", path, strerror(e));
      break;
    }
    if (n == 0) break;
    if ((rc = carnet_upload_write(up, buf, (size_t)n))) break;
  }
  carnet__free(buf);
  close(fd);
  if (rc) {
    carnet_upload_abort(up);
    return rc;
  }
  return carnet_upload_commit(up, out_id);
}

/* --- reading content -------------------------------------------------------- */

/* A reader of a content file: each chunk opened and hashed in order (A1). */
typedef struct reader {
  carnet_replica *r;
  carnet__att a;
  int fd;
  crypto_secretstream_xchacha20poly1305_state ss;
  crypto_generichash_state h;
  uint64_t off; /* plaintext bytes opened */
  bool final;   /* the FINAL chunk was opened and checked */
  uint8_t cipher[CARNET_ATTACH_CHUNK + CARNET__ATT_ABYTES];
} reader;

static int damaged(reader *rd, const char *why) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(&rd->a.id, hex);
  return carnet__fail(rd->r, CARNET_ECORRUPT,
                      "the content of attachment %s is damaged (%s): it was changed outside "
                      "Carnet; delete the file and fetch it again from a peer",
                      hex, why);
}

static int reader_start(reader *rd) {
  uint8_t header[CARNET__ATT_HEADER_LEN];
  int rc = read_full(rd->fd, header, sizeof header);
  if (rc == CARNET_ECORRUPT) return damaged(rd, "too short");
  if (rc)
    return carnet__fail(rd->r, rc, "cannot read an attachment's content: %s", strerror(errno));
  if (crypto_secretstream_xchacha20poly1305_init_pull(&rd->ss, header, rd->a.key) != 0)
    return damaged(rd, "bad header");
  crypto_generichash_init(&rd->h, NULL, 0, CARNET__ATT_HASH_LEN);
  rd->off = 0;
  rd->final = false;
  return 0;
}

/* Open the next chunk into `out` (CARNET_ATTACH_CHUNK bytes); *n its size.
 * After the FINAL chunk: the end of the file and the hash are checked. */
static int reader_next(reader *rd, uint8_t *out, size_t *n) {
  *n = 0;
  if (rd->final) return 0;
  uint64_t left = rd->a.size - rd->off;
  size_t plen = left > CARNET_ATTACH_CHUNK ? CARNET_ATTACH_CHUNK : (size_t)left;
  bool last = left <= CARNET_ATTACH_CHUNK;
  unsigned long long got;
  unsigned char tag;
  int rc = read_full(rd->fd, rd->cipher, plen + CARNET__ATT_ABYTES);
  if (rc == CARNET_ECORRUPT) return damaged(rd, "cut short");
  if (rc)
    return carnet__fail(rd->r, rc, "cannot read an attachment's content: %s", strerror(errno));
  if (crypto_secretstream_xchacha20poly1305_pull(&rd->ss, out, &got, &tag, rd->cipher,
                                                 plen + CARNET__ATT_ABYTES, rd->a.id.b, 16) != 0 ||
      got != plen)
    return damaged(rd, "a chunk fails authentication");
  if (tag != (last ? SS_TAG_FINAL : SS_TAG_MESSAGE)) return damaged(rd, "chunks out of place");
  crypto_generichash_update(&rd->h, out, plen);
  rd->off += plen;
  *n = plen;
  if (last) {
    uint8_t extra, h[CARNET__ATT_HASH_LEN];
    ssize_t k;
    while ((k = read(rd->fd, &extra, 1)) < 0 && errno == EINTR) {
    }
    if (k != 0) return damaged(rd, "bytes after the end");
    crypto_generichash_final(&rd->h, h, sizeof h);
    if (sodium_memcmp(h, rd->a.hash, sizeof h) != 0) return damaged(rd, "its hash differs");
    rd->final = true;
  }
  return 0;
}

int carnet__att_verify_fd(carnet_replica *r, int fd, const carnet__att *a) {
  reader *rd = carnet__malloc(sizeof *rd);
  uint8_t *plain = carnet__malloc(CARNET_ATTACH_CHUNK);
  int rc = 0;
  size_t n;
  if (rd == NULL || plain == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  rd->r = r;
  rd->a = *a;
  rd->fd = fd;
  rc = reader_start(rd);
  while (rc == 0 && !rd->final)
    rc = reader_next(rd, plain, &n);
done:
  if (rd) sodium_memzero(rd, sizeof *rd);
  carnet__free(rd);
  carnet__free(plain);
  return rc;
}

struct carnet_download {
  reader rd;
  uint8_t plain[CARNET_ATTACH_CHUNK];
  size_t plen, ppos;
};

static off_t file_size(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 ? sb.st_size : -1;
}

int carnet_download_open(carnet_replica *r, const carnet_id *id, carnet_download **out) {
  carnet__stxn *st;
  carnet__att a;
  char path[4096], part[4096], hex[CARNET_ID_HEX_LEN + 1];
  int rc;
  if (out) *out = NULL;
  if (r == NULL || id == NULL || out == NULL) return CARNET_EMISUSE;
  carnet__clear_err(r);
  carnet_id_format(id, hex);
  if ((rc = carnet__read_begin(r, &st))) return rc;
  rc = carnet__att_load(st, id, &a);
  carnet__read_end(r, st);
  if (rc == CARNET_ENOTFOUND) return carnet__fail(r, rc, "no attachment %s", hex);
  if (rc) return carnet__fail(r, rc, "attachment %s is damaged in the store", hex);
  if (a.deleted) {
    sodium_memzero(&a, sizeof a);
    return carnet__fail(r, CARNET_ENOTFOUND, "attachment %s was deleted", hex);
  }
  if ((rc = carnet__att_path(r, id, "", path, sizeof path)) ||
      (rc = carnet__att_path(r, id, ".part", part, sizeof part))) {
    sodium_memzero(&a, sizeof a);
    return carnet__fail(r, rc, "cannot name the content file");
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    off_t have = file_size(part);
    uint64_t total = carnet__att_stored_size(a.size);
    sodium_memzero(&a, sizeof a);
    if (e == ENOENT)
      return carnet__fail(r, CARNET_ENOTFOUND,
                          "the content of attachment %s is not on this replica yet (%" PRIu64
                          " of %" PRIu64 " bytes received): it comes from a peer that has it",
                          hex, (uint64_t)(have > 0 ? have : 0), total);
    return carnet__fail(r, carnet__errno_code(e), "cannot open %s: %s", path, strerror(e));
  }
  carnet_download *d = carnet__calloc(1, sizeof *d);
  if (d == NULL) {
    close(fd);
    sodium_memzero(&a, sizeof a);
    return CARNET_ENOMEM;
  }
  d->rd.r = r;
  d->rd.a = a;
  d->rd.fd = fd;
  sodium_memzero(&a, sizeof a);
  if ((rc = reader_start(&d->rd))) {
    carnet_download_close(d);
    return rc;
  }
  *out = d;
  return 0;
}

int carnet_download_read(carnet_download *d, void *buf, size_t cap, size_t *n) {
  if (n) *n = 0;
  if (d == NULL || n == NULL || (buf == NULL && cap > 0)) return CARNET_EMISUSE;
  if (d->ppos == d->plen) {
    int rc = reader_next(&d->rd, d->plain, &d->plen);
    if (rc) return rc;
    d->ppos = 0;
  }
  size_t k = d->plen - d->ppos;
  if (k > cap) k = cap;
  memcpy(buf, d->plain + d->ppos, k);
  d->ppos += k;
  *n = k;
  /* An empty file's one chunk is empty: the end is reported at once. */
  return 0;
}

void carnet_download_close(carnet_download *d) {
  if (d == NULL) return;
  if (d->rd.fd >= 0) close(d->rd.fd);
  sodium_memzero(d, sizeof *d);
  carnet__free(d);
}

int carnet_attachment_save(carnet_replica *r, const carnet_id *id, const char *path) {
  carnet_download *d;
  carnet__tmpfile f;
  if (r == NULL || id == NULL || path == NULL) return CARNET_EMISUSE;
  int rc = carnet_download_open(r, id, &d);
  if (rc) return rc;
  if ((rc = carnet__tmpfile_open(r, &f, path))) {
    carnet_download_close(d);
    return rc;
  }
  while (!d->rd.final) {
    size_t n;
    if ((rc = reader_next(&d->rd, d->plain, &n))) break;
    if (n && (rc = carnet__tmpfile_write(r, &f, d->plain, n))) break;
  }
  carnet_download_close(d);
  if (rc) {
    carnet__tmpfile_discard(&f);
    return rc;
  }
  return carnet__tmpfile_commit(r, &f);
}

/* --- listing ----------------------------------------------------------------------- */

static int id_cmp(const void *a, const void *b) {
  return memcmp(a, b, 16);
}

/* The attachments under `owner` ('a' owner id) appended to *ids. */
static int ids_under(carnet__stxn *st, const carnet_id *owner, carnet_id **ids, size_t *n,
                     size_t *cap) {
  carnet__scur *cur;
  uint8_t prefix[17];
  size_t plen = owner ? 17 : 1;
  carnet_buf k;
  prefix[0] = CARNET__IDX_ATTACH;
  if (owner) memcpy(prefix + 1, owner->b, 16);
  int rc = carnet__store_cursor_at(st, CARNET__T_INDEX, prefix, plen, &cur);
  if (rc) return rc;
  for (rc = carnet__store_seek(cur, prefix, plen, &k, NULL); rc == 0;
       rc = carnet__store_next(cur, &k, NULL)) {
    if (k.len < plen || memcmp(k.base, prefix, plen) != 0) break;
    if (k.len != 33) continue;
    if (*n == *cap) {
      size_t nc = *cap ? *cap * 2 : 16;
      carnet_id *a = carnet__realloc(*ids, nc * sizeof *a);
      if (a == NULL) {
        rc = CARNET_ENOMEM;
        break;
      }
      *ids = a;
      *cap = nc;
    }
    memcpy((*ids)[(*n)++].b, (const uint8_t *)k.base + 17, 16);
  }
  carnet__store_cursor_close(cur);
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

int carnet__att_ids_under(carnet__stxn *st, const carnet_id *owner, carnet_id **ids, size_t *n) {
  size_t cap = *n;
  return ids_under(st, owner, ids, n, &cap);
}

/* The ids of the attachments of `owner` (its merge group's, for a
 * customer; NULL: all), sorted and unique. */
static int list_ids(carnet__stxn *st, const carnet_id *owner, carnet_id **out, size_t *nout) {
  carnet_id *ids = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  if (owner == NULL) {
    rc = ids_under(st, NULL, &ids, &n, &cap);
  } else {
    carnet__group g;
    if ((rc = carnet__group_of(st, owner, &g)) == 0) {
      if (!carnet__group_has(&g, owner)) rc = ids_under(st, owner, &ids, &n, &cap);
      for (size_t i = 0; rc == 0 && i < g.n; i++)
        rc = ids_under(st, &g.ids[i], &ids, &n, &cap);
    }
  }
  if (rc) {
    carnet__free(ids);
    return rc;
  }
  if (n > 1) qsort(ids, n, sizeof *ids, id_cmp);
  size_t u = 0;
  for (size_t i = 0; i < n; i++)
    if (u == 0 || memcmp(ids[u - 1].b, ids[i].b, 16) != 0) ids[u++] = ids[i];
  *out = ids;
  *nout = u;
  return 0;
}

/* Fill `out` from a view; strings copied into `a` (NUL-terminated). */
static int fill_public(carnet_replica *r, carnet__stxn *st, const att_view *v, carnet__arena *a,
                       carnet_attachment *out) {
  char path[4096];
  memset(out, 0, sizeof *out);
  out->id = v->core.id;
  out->owner = v->core.owner;
  out->size = v->core.size;
  memcpy(out->hash, v->core.hash, sizeof out->hash);
  out->added_by = v->added_by;
  out->added_at_ms = v->added_at;
  out->deleted = v->core.deleted;
  char *name = carnet__arena_alloc(a, v->name_len + 1);
  char *mt = carnet__arena_alloc(a, v->media_type_len + 1);
  char *cap = v->caption ? carnet__arena_alloc(a, v->caption_len + 1) : NULL;
  if (!name || !mt || (v->caption && !cap)) return CARNET_ENOMEM;
  memcpy(name, v->name, v->name_len);
  name[v->name_len] = '\0';
  if (v->media_type) memcpy(mt, v->media_type, v->media_type_len);
  mt[v->media_type_len] = '\0';
  if (cap) {
    memcpy(cap, v->caption, v->caption_len);
    cap[v->caption_len] = '\0';
  }
  out->name = name;
  out->media_type = v->media_type ? mt : "application/octet-stream";
  out->caption = cap;
  /* The owner's kind, when its row is here. */
  carnet__arena oa;
  carnet__entity oe;
  bool found;
  carnet__arena_init(&oa, 1024);
  carnet__entity_init(&oe, &oa);
  if (carnet__load_row(st, &v->core.owner, &oa, &oe, &found) == 0 && found)
    out->owner_kind = (carnet_kind)oe.kind;
  carnet__entity_free(&oe);
  carnet__arena_free(&oa);
  if (carnet__att_path(r, &v->core.id, "", path, sizeof path) == 0) {
    out->here = access(path, F_OK) == 0;
    if (!out->here && carnet__att_path(r, &v->core.id, ".part", path, sizeof path) == 0) {
      off_t have = file_size(path);
      out->received = have > 0 ? (uint64_t)have : 0;
    }
  }
  if (!out->here && !out->deleted) {
    uint8_t key[sizeof CARNET__META_ATT_WANT - 1 + 16];
    carnet_buf w;
    memcpy(key, CARNET__META_ATT_WANT, sizeof CARNET__META_ATT_WANT - 1);
    memcpy(key + sizeof CARNET__META_ATT_WANT - 1, v->core.id.b, 16);
    out->wanted = carnet__store_get(st, CARNET__T_META, key, sizeof key, &w) == 0;
  }
  return 0;
}

/* Read attachment `id` as the API shows it, strings in `a`. */
typedef struct public_arg {
  carnet_replica *r;
  carnet__stxn *st;
  carnet__arena *a;
  carnet_attachment *out;
} public_arg;

static int fill_cb(const att_view *v, void *arg) {
  public_arg *p = arg;
  return fill_public(p->r, p->st, v, p->a, p->out);
}

static int read_public(carnet_replica *r, carnet__stxn *st, const carnet_id *id, carnet__arena *a,
                       carnet_attachment *out) {
  public_arg p = {r, st, a, out};
  return with_view(st, id, fill_cb, &p);
}

int carnet_attachment_list(carnet_replica *r, const carnet_id *owner, bool include_deleted,
                           carnet_attachment_cb cb, void *data) {
  carnet__stxn *st;
  carnet_id *ids = NULL;
  size_t n = 0;
  if (r == NULL || cb == NULL) return CARNET_EMISUSE;
  carnet__clear_err(r);
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  if ((rc = list_ids(st, owner, &ids, &n))) {
    carnet__read_end(r, st);
    return carnet__fail(r, rc, "cannot list attachments");
  }
  for (size_t i = 0; i < n && rc == 0; i++) {
    carnet__arena a;
    carnet_attachment att;
    carnet__arena_init(&a, 1024);
    rc = read_public(r, st, &ids[i], &a, &att);
    if (rc == CARNET_ENOTFOUND) {
      rc = 0; /* an index key without its row: carnet check reports it */
    } else if (rc) {
      char hex[CARNET_ID_HEX_LEN + 1];
      carnet_id_format(&ids[i], hex);
      carnet__fail(r, rc, "attachment %s is damaged in the store", hex);
    } else if (include_deleted || !att.deleted) {
      rc = cb(&att, data);
    }
    carnet__arena_free(&a);
  }
  carnet__read_end(r, st);
  carnet__free(ids);
  return rc;
}

int carnet_attachment_get(carnet_replica *r, const carnet_id *id, carnet_attachment **out) {
  carnet__stxn *st;
  carnet__arena a;
  carnet_attachment att;
  char hex[CARNET_ID_HEX_LEN + 1];
  if (out) *out = NULL;
  if (r == NULL || id == NULL || out == NULL) return CARNET_EMISUSE;
  carnet__clear_err(r);
  carnet_id_format(id, hex);
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  carnet__arena_init(&a, 1024);
  rc = read_public(r, st, id, &a, &att);
  carnet__read_end(r, st);
  if (rc == 0) {
    /* One block: the struct, then its strings. */
    size_t ln = strlen(att.name) + 1, lm = strlen(att.media_type) + 1,
           lc = att.caption ? strlen(att.caption) + 1 : 0;
    carnet_attachment *b = carnet__malloc(sizeof *b + ln + lm + lc);
    if (b == NULL) {
      rc = CARNET_ENOMEM;
    } else {
      char *s = (char *)(b + 1);
      *b = att;
      b->name = memcpy(s, att.name, ln);
      b->media_type = memcpy(s + ln, att.media_type, lm);
      b->caption = lc ? memcpy(s + ln + lm, att.caption, lc) : NULL;
      *out = b;
    }
  } else if (rc == CARNET_ENOTFOUND) {
    carnet__fail(r, rc, "no attachment %s", hex);
  } else {
    carnet__fail(r, rc, "attachment %s is damaged in the store", hex);
  }
  carnet__arena_free(&a);
  return rc;
}

/* --- delete, want ------------------------------------------------------------------ */

void carnet__att_unlink(carnet_replica *r, const carnet_id *id) {
  static const char *const suffixes[] = {"", ".part"};
  char path[4096];
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
    if (carnet__att_path(r, id, suffixes[i], path, sizeof path) == 0) unlink(path);
}

static int want_key(const carnet_id *id, uint8_t key[CARNET__ATT_WANT_KEY_LEN]) {
  memcpy(key, CARNET__META_ATT_WANT, sizeof CARNET__META_ATT_WANT - 1);
  memcpy(key + sizeof CARNET__META_ATT_WANT - 1, id->b, 16);
  return 0;
}

static int live_att(carnet_txn *t, const carnet_id *id, carnet__att *a) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(id, hex);
  int rc = carnet__att_load(t->st, id, a);
  if (rc == CARNET_ENOTFOUND) return carnet__fail(t->r, rc, "no attachment %s", hex);
  if (rc) return carnet__fail(t->r, rc, "attachment %s is damaged in the store", hex);
  if (a->deleted) return carnet__fail(t->r, CARNET_ENOTFOUND, "attachment %s was deleted", hex);
  return 0;
}

static int delete_fn(carnet__writer *w, void *arg) {
  (void)arg;
  msgpack_pack_true(carnet__writer_packer(w));
  return carnet__writer_put(w, CARNET_F_DELETED, NULL, 0);
}

static int delete_txn(carnet_txn *t, void *arg) {
  const carnet_id *id = arg;
  carnet__att a;
  uint8_t key[sizeof CARNET__META_ATT_WANT - 1 + 16];
  int rc = live_att(t, id, &a);
  sodium_memzero(&a, sizeof a);
  if (rc) return rc;
  if ((rc = carnet__write(t, id, CARNET_KIND_ATTACHMENT, NULL, CARNET__W_SYSTEM, delete_fn, NULL)))
    return rc;
  want_key(id, key);
  rc = carnet__store_del(t->st, CARNET__T_META, key, sizeof key);
  return rc && rc != CARNET_ENOTFOUND ? carnet__txn_fail(t, rc) : 0;
}

int carnet_attachment_delete_commit(carnet_replica *r, const carnet_id *id) {
  if (r == NULL || id == NULL) return CARNET_EMISUSE;
  carnet__clear_err(r);
  int rc = in_txn(r, delete_txn, (void *)id);
  if (rc == 0) carnet__att_unlink(r, id); /* A3 */
  return rc;
}

typedef struct want_arg {
  const carnet_id *id;
} want_arg;

static int want_txn(carnet_txn *t, void *arg) {
  want_arg *w = arg;
  carnet__att a;
  carnet_attach_policy p;
  uint8_t key[sizeof CARNET__META_ATT_WANT - 1 + 16], when[8];
  int rc = live_att(t, w->id, &a);
  uint64_t size = a.size;
  sodium_memzero(&a, sizeof a);
  if (rc) return rc;
  if ((rc = carnet__att_policy(t->st, &p))) return rc;
  if (size > p.size_max)
    return carnet__fail(t->r, CARNET_ELIMIT,
                        "the file is %" PRIu64 " bytes, larger than the %" PRIu64
                        " bytes this replica takes (carnet attachment policy --max-size)",
                        size, p.size_max);
  want_key(w->id, key);
  carnet__be64_put(when, carnet__now_ms(t->r));
  rc = carnet__store_put(t->st, CARNET__T_META, key, sizeof key, when, sizeof when, 0);
  return rc ? carnet__txn_fail(t, rc) : 0;
}

int carnet_attachment_want(carnet_replica *r, const carnet_id *id) {
  want_arg w = {id};
  if (r == NULL || id == NULL) return CARNET_EMISUSE;
  carnet__clear_err(r);
  return in_txn(r, want_txn, &w);
}

int carnet__att_ids(carnet__stxn *st, carnet_id **out, size_t *n) {
  return list_ids(st, NULL, out, n);
}

int carnet__att_want_key(const carnet_id *id, uint8_t key[CARNET__ATT_WANT_KEY_LEN]) {
  return want_key(id, key);
}

int carnet__att_fetch_wanted(carnet_replica *r, carnet__stxn *st, const carnet__att *a,
                             const carnet_attach_policy *p, bool *out) {
  char path[4096];
  uint8_t key[sizeof CARNET__META_ATT_WANT - 1 + 16];
  carnet_buf v;
  *out = false;
  if (a->deleted || a->size > p->size_max) return 0;
  int rc = carnet__att_path(r, &a->id, "", path, sizeof path);
  if (rc) return rc;
  if (access(path, F_OK) == 0) return 0;
  if (p->fetch == CARNET_FETCH_ALL || (p->fetch == CARNET_FETCH_UP_TO && a->size <= p->fetch_max)) {
    *out = true;
    return 0;
  }
  want_key(&a->id, key);
  rc = carnet__store_get(st, CARNET__T_META, key, sizeof key, &v);
  if (rc == 0) *out = true;
  return rc == CARNET_ENOTFOUND ? 0 : rc;
}

int carnet_attachment_pending(carnet_replica *r, carnet_attach_pending *out) {
  carnet__stxn *st;
  carnet_id *ids = NULL;
  size_t n = 0;
  carnet_attach_policy p;
  if (r == NULL || out == NULL) return CARNET_EMISUSE;
  memset(out, 0, sizeof *out);
  carnet__clear_err(r);
  int rc = carnet__read_begin(r, &st);
  if (rc) return rc;
  if ((rc = carnet__att_policy(st, &p)) || (rc = list_ids(st, NULL, &ids, &n))) goto done;
  for (size_t i = 0; i < n && rc == 0; i++) {
    carnet__att a;
    char path[4096];
    bool want;
    rc = carnet__att_load(st, &ids[i], &a);
    if (rc == CARNET_ENOTFOUND) {
      rc = 0;
      continue;
    }
    if (rc == 0 && !a.deleted) rc = carnet__att_path(r, &a.id, "", path, sizeof path);
    if (rc == 0 && !a.deleted) {
      if (access(path, F_OK) == 0) {
        out->here++;
      } else if ((rc = carnet__att_fetch_wanted(r, st, &a, &p, &want)) == 0 && want) {
        out->files++;
        out->bytes += a.size;
        if (carnet__att_path(r, &a.id, ".part", path, sizeof path) == 0) {
          off_t have = file_size(path);
          if (have > 0) out->received += (uint64_t)have;
        }
      } else if (rc == 0) {
        out->not_fetched++;
      }
    }
    sodium_memzero(&a, sizeof a);
  }
done:
  carnet__read_end(r, st);
  carnet__free(ids);
  if (rc) carnet__fail(r, rc, "cannot count the attachments waiting for content");
  return rc;
}

/* --- the sweep (A2, A3) ------------------------------------------------------------ */

void carnet__att_sweep_quiet(carnet_replica *r) {
  char keep[sizeof r->err];
  memcpy(keep, r->err, sizeof keep);
  (void)carnet__att_sweep(r, NULL);
  memcpy(r->err, keep, sizeof keep);
}

typedef struct candidate {
  char name[CARNET__ATT_NAME_LEN + 1];
  char file[64];
  int fd; /* locked */
} candidate;

static int name_cmp(const void *a, const void *b) {
  return memcmp(a, b, CARNET__ATT_NAME_LEN);
}

int carnet__att_sweep(carnet_replica *r, uint64_t *removed) {
  char dir[4096];
  candidate *c = NULL;
  size_t nc = 0, cap = 0;
  char(*live)[CARNET__ATT_NAME_LEN + 1] = NULL;
  carnet_id *ids = NULL;
  size_t nids = 0, nlive = 0;
  uint8_t nk[32];
  carnet__stxn *st = NULL;
  int rc = 0;
  if (removed) *removed = 0;
  if (files_dir(r, dir, sizeof dir)) return CARNET_EINVAL;
  DIR *d = opendir(dir);
  if (d == NULL) return errno == ENOENT ? 0 : CARNET_EIO;
  /* 1. Every file whose lock we get: nobody writes it now (A2). */
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t len = strlen(de->d_name);
    if (de->d_name[0] == '.' || len < CARNET__ATT_NAME_LEN || len >= sizeof c->file) continue;
    if (nc == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      candidate *g = carnet__realloc(c, ncap * sizeof *g);
      if (g == NULL) {
        rc = CARNET_ENOMEM;
        break;
      }
      c = g;
      cap = ncap;
    }
    candidate *x = &c[nc];
    memcpy(x->name, de->d_name, CARNET__ATT_NAME_LEN);
    x->name[CARNET__ATT_NAME_LEN] = '\0';
    memcpy(x->file, de->d_name, len + 1);
    x->fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (x->fd < 0) continue;
    if (flock(x->fd, LOCK_EX | LOCK_NB) != 0) {
      close(x->fd);
      continue;
    }
    nc++;
  }
  if (rc || nc == 0) goto done;
  /* 2. The names of the live attachments, read after the locks. */
  if ((rc = name_key(r, nk))) goto done;
  if ((rc = carnet__read_begin(r, &st))) goto done;
  if ((rc = list_ids(st, NULL, &ids, &nids))) goto done;
  if (nids && (live = carnet__malloc(nids * sizeof *live)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < nids; i++) {
    carnet__att a;
    int lrc = carnet__att_load(st, &ids[i], &a);
    if (lrc == 0 && !a.deleted) name_of(nk, &ids[i], live[nlive++]);
    sodium_memzero(&a, sizeof a);
    if (lrc && lrc != CARNET_ENOTFOUND) {
      rc = lrc; /* a damaged row: keep every file rather than guess */
      goto done;
    }
  }
  if (nlive > 1) qsort(live, nlive, sizeof *live, name_cmp);
  /* 3. Remove what no live attachment owns. */
  for (size_t i = 0; i < nc; i++) {
    if (nlive && bsearch(c[i].name, live, nlive, sizeof *live, name_cmp)) continue;
    if (unlinkat(dirfd(d), c[i].file, 0) == 0 && removed) (*removed)++;
  }
done:
  if (st) carnet__read_end(r, st);
  sodium_memzero(nk, sizeof nk);
  for (size_t i = 0; i < nc; i++)
    close(c[i].fd);
  carnet__free(c);
  carnet__free(live);
  carnet__free(ids);
  closedir(d);
  if (rc) carnet__fail(r, rc, "cannot sweep the attachments' content files");
  return rc;
}
