/* tests/engine/test_attach.c - attachments in one process (engine/crm/attach.c,
 * carnet/attach.h): content kept encrypted under DIR/files by a name that
 * says nothing, read back byte for byte at every chunk boundary; the size
 * limit; a damaged file refused without writing the output; A1-A3 (only
 * whole files visible, the sweep keeping a locked upload and removing an
 * orphan, deletion removing the content); metadata that syncs between
 * replicas and follows a merge; the errors the header lists.
 */
#define _GNU_SOURCE /* memmem */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "carnet/carnet.h"
#include "engine/crm/attach.h"
#include "engine/crm/attach_xfer.h"
#include "support/replicas.h"

static carnet_id customer(carnet_replica *r, const char *name) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, name));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  return id;
}

/* `n` bytes: a marker at the front, then a pattern. */
static uint8_t *content(size_t n, uint8_t seed) {
  uint8_t *b = malloc(n ? n : 1);
  assert_non_null(b);
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)(i * 31 + seed + (i >> 9));
  if (n >= 16) memcpy(b, "MARKER-ATTACH-42", 16);
  return b;
}

static int upload(carnet_replica *r, const carnet_id *owner, const void *b, size_t n,
                  const char *name, carnet_id *out) {
  carnet_upload *up;
  carnet_upload_opts o = {.name = name};
  int rc = carnet_upload_begin(r, owner, &o, &up);
  if (rc) return rc;
  /* Odd pieces, so chunk boundaries fall inside writes. */
  for (size_t off = 0; off < n;) {
    size_t k = n - off < 7777 ? n - off : 7777;
    if ((rc = carnet_upload_write(up, (const uint8_t *)b + off, k))) {
      carnet_upload_abort(up);
      return rc;
    }
    off += k;
  }
  return carnet_upload_commit(up, out);
}

static uint8_t *read_all(carnet_replica *r, const carnet_id *id, size_t *n) {
  carnet_download *d;
  size_t cap = 1 << 16, len = 0, got;
  uint8_t *b = malloc(cap);
  ASSERT_OK(r, carnet_download_open(r, id, &d));
  for (;;) {
    if (len + 1000 > cap) b = realloc(b, cap *= 2);
    ASSERT_OK(r, carnet_download_read(d, b + len, 1000, &got));
    if (got == 0) break;
    len += got;
  }
  carnet_download_close(d);
  *n = len;
  return b;
}

static size_t count_files(const char *dir) {
  char path[1024];
  size_t n = 0;
  snprintf(path, sizeof path, "%s/files", dir);
  DIR *d = opendir(path);
  if (d == NULL) return 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    n += de->d_name[0] != '.';
  closedir(d);
  return n;
}

/* Whether `needle` occurs in any file under `dir` (recursively). */
static bool found_in_dir(const char *dir, const void *needle, size_t nlen) {
  DIR *d = opendir(dir);
  bool hit = false;
  struct dirent *de;
  while (d && !hit && (de = readdir(d)) != NULL) {
    char path[1024];
    struct stat sb;
    if (de->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    if (lstat(path, &sb) != 0) continue;
    if (S_ISDIR(sb.st_mode)) {
      hit = found_in_dir(path, needle, nlen);
    } else if (S_ISREG(sb.st_mode) && sb.st_size > 0) {
      FILE *f = fopen(path, "rb");
      uint8_t *b = malloc((size_t)sb.st_size);
      if (f && b && fread(b, 1, (size_t)sb.st_size, f) == (size_t)sb.st_size)
        hit = memmem(b, (size_t)sb.st_size, needle, nlen) != NULL;
      if (f) fclose(f);
      free(b);
    }
  }
  if (d) closedir(d);
  return hit;
}

static void test_round_trip_every_boundary(void **state) {
  (void)state;
  rfx *f = rfx_new("attach-rt", 1, 1764000000000ull, 11);
  carnet_replica *r = f->r[0];
  carnet_id c = customer(r, "Dupont SARL");
  static const size_t sizes[] = {0, 1, 16, 65535, 65536, 65537, 3 * 65536 + 100};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i], got;
    uint8_t *b = content(n, (uint8_t)i), h[32];
    carnet_id id;
    ASSERT_OK(r, upload(r, &c, b, n, "scan.pdf", &id));
    uint8_t *back = read_all(r, &id, &got);
    assert_int_equal(got, n);
    if (n) assert_memory_equal(back, b, n);
    carnet_attachment *a;
    ASSERT_OK(r, carnet_attachment_get(r, &id, &a));
    assert_int_equal(a->size, n);
    crypto_generichash(h, 32, b, n, NULL, 0);
    assert_memory_equal(a->hash, h, 32); /* BLAKE2b-256, what b2sum -l 256 prints */
    assert_string_equal(a->name, "scan.pdf");
    assert_string_equal(a->media_type, "application/pdf");
    assert_true(a->here);
    assert_int_equal(a->owner_kind, CARNET_KIND_CUSTOMER);
    assert_true(memcmp(a->owner.b, c.b, 16) == 0);
    carnet_free(a);
    /* The stored file has the size the format gives it. */
    char path[4096];
    struct stat sb;
    ASSERT_OK(r, carnet__att_path(r, &id, "", path, sizeof path));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, carnet__att_stored_size(n));
    assert_int_equal(sb.st_mode & 0777, 0600);
    free(b);
    free(back);
  }
  /* Nothing in the directory is readable: neither the marker nor a name. */
  assert_false(found_in_dir(f->dir[0], "MARKER-ATTACH-42", 16));
  assert_false(found_in_dir(f->dir[0], "scan.pdf", 8));
  rfx_free(f);
}

static int count_cb(const carnet_attachment *a, void *data) {
  (void)a;
  (*(int *)data)++;
  return 0;
}

static void test_limit_and_errors(void **state) {
  (void)state;
  rfx *f = rfx_new("attach-err", 1, 1764000000000ull, 12);
  carnet_replica *r = f->r[0];
  carnet_id c = customer(r, "Martin"), id, nobody = {{1, 2, 3}};
  carnet_attach_policy p;
  ASSERT_OK(r, carnet_replica_get_attach_policy(r, &p));
  assert_int_equal(p.fetch, CARNET_FETCH_ALL);
  assert_int_equal(p.size_max, CARNET_ATTACH_SIZE_DEFAULT);
  p.size_max = 100000;
  ASSERT_OK(r, carnet_replica_set_attach_policy(r, &p));
  uint8_t *b = content(100001, 3);
  /* One byte over: refused clearly, nothing left behind. */
  ASSERT_RC(r, upload(r, &c, b, 100001, "big.bin", &id), CARNET_ELIMIT);
  assert_non_null(strstr(carnet_replica_errmsg(r), "too large"));
  assert_int_equal(count_files(f->dir[0]), 0);
  ASSERT_OK(r, upload(r, &c, b, 100000, "fits.bin", &id));
  free(b);
  p.size_max = 0;
  ASSERT_RC(r, carnet_replica_set_attach_policy(r, &p), CARNET_EINVAL);
  p.size_max = 1000;
  p.fetch = (carnet_fetch)9;
  ASSERT_RC(r, carnet_replica_set_attach_policy(r, &p), CARNET_EINVAL);
  assert_int_equal(carnet_fetch_parse("up-to"), CARNET_FETCH_UP_TO);
  assert_int_equal(carnet_fetch_parse("never"), 0);
  /* Owners: none, another kind, deleted. */
  carnet_upload *up;
  carnet_upload_opts o = {.name = "x.txt"};
  ASSERT_RC(r, carnet_upload_begin(r, &nobody, &o, &up), CARNET_ENOTFOUND);
  ASSERT_RC(r, carnet_upload_begin(r, &id, &o, &up), CARNET_EINVAL); /* an attachment */
  o.name = "";
  ASSERT_RC(r, carnet_upload_begin(r, &c, &o, &up), CARNET_EINVAL);
  o.name = "two\nlines";
  ASSERT_RC(r, carnet_upload_begin(r, &c, &o, &up), CARNET_EINVAL);
  o.name = "a.txt";
  o.media_type = "not a type";
  ASSERT_RC(r, carnet_upload_begin(r, &c, &o, &up), CARNET_EINVAL);
  o.media_type = NULL;
  ASSERT_RC(r, carnet_upload_begin(r, NULL, &o, &up), CARNET_EMISUSE);
  /* A transaction open on the handle. */
  carnet_txn *t;
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  ASSERT_RC(r, carnet_upload_begin(r, &c, &o, &up), CARNET_EMISUSE);
  carnet_txn_abort(t);
  /* The system fields cannot be written with a patch; the caption can. */
  carnet_patch *pa = carnet_patch_new(CARNET_KIND_ATTACHMENT);
  ASSERT_OK(r, carnet_patch_set(pa, CARNET_F_SIZE, "1"));
  ASSERT_RC(r, carnet_record_update_commit(r, &id, pa), CARNET_EINVAL);
  carnet_patch_free(pa);
  pa = carnet_patch_new(CARNET_KIND_ATTACHMENT);
  ASSERT_OK(r, carnet_patch_set(pa, CARNET_F_CAPTION, "the contract"));
  ASSERT_OK(r, carnet_record_update_commit(r, &id, pa));
  carnet_patch_free(pa);
  /* A patch cannot make an attachment without content. */
  pa = carnet_patch_new(CARNET_KIND_ATTACHMENT);
  ASSERT_OK(r, carnet_patch_set(pa, CARNET_F_CAPTION, "nothing"));
  ASSERT_RC(r, carnet_record_create_commit(r, pa, NULL), CARNET_EINVAL);
  carnet_patch_free(pa);
  carnet_attachment *a;
  ASSERT_OK(r, carnet_attachment_get(r, &id, &a));
  assert_string_equal(a->caption, "the contract");
  carnet_free(a);
  /* The content key is never shown. */
  carnet_record *rec;
  ASSERT_OK(r, carnet_record_get(r, &id, &rec));
  assert_null(carnet_record_str(rec, CARNET_F_CONTENT_KEY));
  assert_non_null(carnet_record_str(rec, CARNET_F_HASH));
  carnet_record_free(rec);
  ASSERT_RC(r, carnet_attachment_get(r, &nobody, &a), CARNET_ENOTFOUND);
  /* Delete: the content goes at once, the listing hides it. */
  int n = 0;
  ASSERT_OK(r, carnet_attachment_delete_commit(r, &id));
  assert_int_equal(count_files(f->dir[0]), 0);
  ASSERT_OK(r, carnet_attachment_list(r, &c, false, count_cb, &n));
  assert_int_equal(n, 0);
  ASSERT_OK(r, carnet_attachment_list(r, &c, true, count_cb, &n));
  assert_int_equal(n, 1);
  ASSERT_RC(r, carnet_attachment_delete_commit(r, &id), CARNET_ENOTFOUND);
  carnet_download *d;
  ASSERT_RC(r, carnet_download_open(r, &id, &d), CARNET_ENOTFOUND);
  ASSERT_RC(r, carnet_attachment_want(r, &id), CARNET_ENOTFOUND);
  rfx_free(f);
}

static void test_damaged_content(void **state) {
  (void)state;
  rfx *f = rfx_new("attach-bad", 1, 1764000000000ull, 13);
  carnet_replica *r = f->r[0];
  carnet_id c = customer(r, "Leroy"), id;
  uint8_t *b = content(200000, 5);
  ASSERT_OK(r, upload(r, &c, b, 200000, "photo.jpg", &id));
  char path[4096], out[1024];
  ASSERT_OK(r, carnet__att_path(r, &id, "", path, sizeof path));
  snprintf(out, sizeof out, "%s/out.jpg", f->root);
  /* One bit flipped in the last chunk: everything before it reads, the
   * output file is never made. */
  int fd = open(path, O_RDWR);
  uint8_t x;
  assert_true(pread(fd, &x, 1, 150000) == 1);
  x ^= 1;
  assert_true(pwrite(fd, &x, 1, 150000) == 1);
  ASSERT_RC(r, carnet_attachment_save(r, &id, out), CARNET_ECORRUPT);
  assert_non_null(strstr(carnet_replica_errmsg(r), "damaged"));
  assert_int_not_equal(access(out, F_OK), 0);
  x ^= 1;
  assert_true(pwrite(fd, &x, 1, 150000) == 1);
  /* Cut short, and a byte more. */
  off_t end = (off_t)carnet__att_stored_size(200000);
  uint8_t last;
  assert_true(pread(fd, &last, 1, end - 1) == 1);
  assert_int_equal(ftruncate(fd, end - 1), 0);
  ASSERT_RC(r, carnet_attachment_save(r, &id, out), CARNET_ECORRUPT);
  assert_int_equal(ftruncate(fd, (off_t)carnet__att_stored_size(200000) + 1), 0);
  ASSERT_RC(r, carnet_attachment_save(r, &id, out), CARNET_ECORRUPT);
  assert_int_equal(ftruncate(fd, end), 0);
  assert_true(pwrite(fd, &last, 1, end - 1) == 1);
  close(fd);
  ASSERT_OK(r, carnet_attachment_save(r, &id, out));
  struct stat sb;
  assert_int_equal(stat(out, &sb), 0);
  assert_int_equal(sb.st_size, 200000);
  assert_int_equal(sb.st_mode & 0777, 0600);
  free(b);
  rfx_free(f);
}

static void test_sweep(void **state) {
  (void)state;
  rfx *f = rfx_new("attach-sweep", 1, 1764000000000ull, 14);
  carnet_replica *r = f->r[0];
  carnet_id c = customer(r, "Petit"), id;
  uint8_t *b = content(1000, 6);
  ASSERT_OK(r, upload(r, &c, b, 1000, "a.txt", &id));
  /* An upload in progress (its file locked) stays; an orphan goes. */
  carnet_upload *up;
  carnet_upload_opts o = {.name = "b.txt"};
  ASSERT_OK(r, carnet_upload_begin(r, &c, &o, &up));
  ASSERT_OK(r, carnet_upload_write(up, b, 1000));
  char orphan[1024];
  snprintf(orphan, sizeof orphan, "%s/files/00112233445566778899aabbccddeeff", f->dir[0]);
  FILE *fp = fopen(orphan, "w");
  fputs("left by a crash", fp);
  fclose(fp);
  assert_int_equal(count_files(f->dir[0]), 3);
  carnet_check_report rep = CARNET_CHECK_REPORT_INIT;
  ASSERT_OK(r, carnet_replica_check(r, NULL, NULL, &rep));
  assert_int_equal(rep.orphan_files, 1);
  assert_int_equal(count_files(f->dir[0]), 2);
  ASSERT_OK(r, carnet_upload_commit(up, NULL));
  int n = 0;
  ASSERT_OK(r, carnet_attachment_list(r, &c, false, count_cb, &n));
  assert_int_equal(n, 2);
  /* A file whose attachment is deleted by a tombstone that is not
   * carnet_attachment_delete_commit (one from a peer; here written with a
   * patch) goes with the sweep that follows the commit (A3). */
  carnet_patch *p = carnet_patch_new(CARNET_KIND_ATTACHMENT);
  ASSERT_OK(r, carnet_patch_delete(p));
  ASSERT_OK(r, carnet_record_update_commit(r, &id, p));
  carnet_patch_free(p);
  assert_int_equal(count_files(f->dir[0]), 1);
  ASSERT_OK(r, carnet_replica_check(r, NULL, NULL, &rep));
  assert_int_equal(rep.orphan_files, 0);
  assert_int_equal(count_files(f->dir[0]), 1);
  /* An aborted upload leaves nothing. */
  ASSERT_OK(r, carnet_upload_begin(r, &c, &o, &up));
  carnet_upload_abort(up);
  assert_int_equal(count_files(f->dir[0]), 1);
  free(b);
  rfx_free(f);
}

/* Metadata sync like any change; without content the peer says so and
 * counts it as pending; a merge shows the files of both customers. */
static void test_metadata_sync_and_merge(void **state) {
  (void)state;
  rfx *f = rfx_new("attach-sync", 2, 1764000000000ull, 15);
  carnet_replica *a = f->r[0], *b = f->r[1];
  carnet_id c1 = customer(a, "Bernard"), c2 = customer(a, "Bernard SARL"), id1, id2;
  uint8_t *data = content(5000, 7);
  ASSERT_OK(a, upload(a, &c1, data, 5000, "one.txt", &id1));
  ASSERT_OK(a, upload(a, &c2, data, 5000, "two.txt", &id2));
  rfx_sync(a, b, 0);
  carnet_attachment *att;
  ASSERT_OK(b, carnet_attachment_get(b, &id1, &att));
  assert_false(att->here);
  assert_string_equal(att->name, "one.txt");
  carnet_free(att);
  carnet_download *d;
  ASSERT_RC(b, carnet_download_open(b, &id1, &d), CARNET_ENOTFOUND);
  assert_non_null(strstr(carnet_replica_errmsg(b), "not on this replica yet"));
  carnet_attach_pending pend;
  ASSERT_OK(b, carnet_attachment_pending(b, &pend));
  assert_int_equal(pend.files, 2);
  assert_int_equal(pend.bytes, 10000);
  /* Fetch on open: nothing pending until asked. */
  carnet_attach_policy p;
  ASSERT_OK(b, carnet_replica_get_attach_policy(b, &p));
  p.fetch = CARNET_FETCH_OPEN;
  ASSERT_OK(b, carnet_replica_set_attach_policy(b, &p));
  ASSERT_OK(b, carnet_attachment_pending(b, &pend));
  assert_int_equal(pend.files, 0);
  assert_int_equal(pend.not_fetched, 2);
  ASSERT_OK(b, carnet_attachment_want(b, &id1));
  ASSERT_OK(b, carnet_attachment_pending(b, &pend));
  assert_int_equal(pend.files, 1);
  ASSERT_OK(b, carnet_attachment_get(b, &id1, &att));
  assert_true(att->wanted);
  carnet_free(att);
  /* Merge c2 into c1: c1 lists both files. */
  int n = 0;
  ASSERT_OK(a, carnet_attachment_list(a, &c1, false, count_cb, &n));
  assert_int_equal(n, 1);
  ASSERT_OK(a, TX(a, carnet_merge_apply(t, &c1, &c2)));
  n = 0;
  ASSERT_OK(a, carnet_attachment_list(a, &c1, false, count_cb, &n));
  assert_int_equal(n, 2);
  rfx_sync(a, b, 0);
  n = 0;
  ASSERT_OK(b, carnet_attachment_list(b, &c2, false, count_cb, &n));
  assert_int_equal(n, 2);
  free(data);
  rfx_free(f);
}

/* Erasing the person erases its files (engine/erase/erase.h X6): the rows and
 * content keys in the erasure's transaction, the content files right
 * after; an attachment of the person that arrives after the erasure (made
 * on a replica that had not heard of it) is dropped too. */
static void test_erasure_takes_files(void **state) {
  (void)state;
  rfx *f = rfx_new("attach-erase", 2, 1764000000000ull, 16);
  carnet_replica *a = f->r[0], *b = f->r[1];
  carnet_id c = customer(a, "Effacee"), keep = customer(a, "Gardee"), id1, id2, id3;
  uint8_t *data = content(70000, 9);
  ASSERT_OK(a, upload(a, &c, data, 70000, "contrat.pdf", &id1));
  ASSERT_OK(a, upload(a, &keep, data, 1000, "autre.pdf", &id3));
  rfx_sync(a, b, 0);
  ASSERT_OK(b, upload(b, &c, data, 5000, "offline.jpg", &id2)); /* b has not heard yet */
  assert_int_equal(count_files(f->dir[0]), 2);
  ASSERT_OK(a, carnet_record_erase(a, &c, "request", NULL, NULL));
  carnet_attachment *att;
  ASSERT_RC(a, carnet_attachment_get(a, &id1, &att), CARNET_ENOTFOUND);
  assert_int_equal(count_files(f->dir[0]), 1); /* the other customer's file stays */
  ASSERT_OK(a, carnet_attachment_get(a, &id3, &att));
  carnet_free(att);
  rfx_sync(b, a, 0);
  ASSERT_RC(a, carnet_attachment_get(a, &id2, &att), CARNET_ENOTFOUND);
  int n = 0;
  ASSERT_OK(a, carnet_attachment_list(a, NULL, true, count_cb, &n));
  assert_int_equal(n, 1);
  free(data);
  rfx_free(f);
}

/* A3 during a transfer: the units of a 3 MB file received on the same
 * replica (its content file moved away first), the attachment deleted
 * half-way. The receiver notices within RX_LIVE_BYTES (it checks every
 * MiB, and always at the last unit): NAME.part goes, the rest is counted
 * and dropped, and nothing is ever renamed into place. */
static void test_deleted_during_transfer(void **state) {
  (void)state;
  enum { N = 3u << 20 };
  rfx *f = rfx_new("attach-gone", 1, 1764000000000ull, 16);
  carnet_replica *r = f->r[0];
  carnet_id c = customer(r, "Petit"), id;
  uint8_t *b = content(N, 9);
  ASSERT_OK(r, upload(r, &c, b, N, "plan.pdf", &id));
  char final[4096], saved[4200];
  ASSERT_OK(r, carnet__att_path(r, &id, "", final, sizeof final));
  snprintf(saved, sizeof saved, "%s.saved", final);
  /* The units as a peer sends them, then the file moved away. */
  carnet__att_tx *tx;
  ASSERT_OK(r, carnet__att_tx_open(r, &id, 0, &tx));
  size_t nunits = 0, cap = 64;
  struct {
    uint8_t *base;
    size_t len;
  } *units = calloc(cap, sizeof *units);
  bool last = false;
  while (!last) {
    carnet_buf u;
    uint64_t off;
    ASSERT_OK(r, carnet__att_tx_next(tx, &u, &off, &last));
    if (nunits == cap) units = realloc(units, (cap *= 2) * sizeof *units);
    units[nunits].base = malloc(u.len);
    memcpy(units[nunits].base, u.base, u.len);
    units[nunits++].len = u.len;
  }
  carnet__att_tx_close(tx);
  assert_int_equal(rename(final, saved), 0);

  carnet__att_rx *rx;
  uint64_t off = 0;
  bool done = false;
  ASSERT_OK(r, carnet__att_rx_open(r, &id, &rx, &off));
  assert_int_equal(off, 0);
  for (size_t i = 0; i < nunits; i++) {
    if (i == nunits / 2) {
      /* Deleted meanwhile (here, or a tombstone from a peer). */
      ASSERT_OK(r, carnet_attachment_delete_commit(r, &id));
    }
    ASSERT_OK(r, carnet__att_rx_unit(rx, off, units[i].base, units[i].len, &done));
    off += units[i].len;
    assert_int_equal(done, i + 1 == nunits);
    if (i >= nunits / 2 + 16) {
      /* Noticed within a MiB (16 units): NAME.part is gone. */
      char part[4096];
      ASSERT_OK(r, carnet__att_path(r, &id, ".part", part, sizeof part));
      assert_int_not_equal(access(part, F_OK), 0);
    }
  }
  carnet__att_rx_close(rx);
  assert_int_not_equal(access(final, F_OK), 0); /* never renamed into place */
  (void)unlink(saved); /* the deletion may have taken it too (every file of the id) */
  assert_int_equal(count_files(f->dir[0]), 0);
  for (size_t i = 0; i < nunits; i++)
    free(units[i].base);
  free(units);
  free(b);
  rfx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_every_boundary), cmocka_unit_test(test_limit_and_errors),
      cmocka_unit_test(test_damaged_content),           cmocka_unit_test(test_sweep),
      cmocka_unit_test(test_metadata_sync_and_merge),   cmocka_unit_test(test_erasure_takes_files),
      cmocka_unit_test(test_deleted_during_transfer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
