/* Fuzz target: a unit of an attachment's content file as a peer sends it
 * in a CHUNK (engine/crm/attach_xfer.c carnet__att_rx_unit; protocol/content.h
 * C3). The first input byte picks which unit of a real three-unit transfer
 * the rest stands for (0 or 1: the last one would finish the file, and its
 * fsync, every run).
 * Invariants checked: bytes that are not the real unit are refused with
 * CARNET_EPROTO and nothing of them is kept: the real unit is accepted
 * right after, at the same offset; the real unit is accepted; NAME.part
 * then holds exactly the good prefix, which a new transfer resumes from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carnet/carnet.h"
#include "engine/crm/attach.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SIZE (2u * 65536u + 1000u) /* three chunks */

static struct {
  bool ready;
  char dir[64], sub[96];
  carnet_replica *r;
  carnet_id id;
  uint8_t *file; /* the content file's bytes, as the peer would send them */
  size_t len;
  char part[4096];
} W;

static void cleanup(void) {
  char cmd[160];
  carnet_replica_close(W.r);
  free(W.file);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", W.dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", W.dir);
}

/* One replica with one attachment, its content file read and then moved
 * away, so the replica wants it again. */
static void setup(void) {
  char why[256];
  carnet_id cu;
  snprintf(W.dir, sizeof W.dir, "/tmp/carnet-fuzz-content-XXXXXX");
  if (mkdtemp(W.dir) == NULL) abort();
  snprintf(W.sub, sizeof W.sub, "%s/r", W.dir);
  if (carnet_replica_init(W.sub, NULL, &W.r, why, sizeof why) != 0) abort();
  atexit(cleanup);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (!p || carnet_patch_set(p, CARNET_F_NAME, "Fuzz") || carnet_record_create_commit(W.r, p, &cu))
    abort();
  carnet_patch_free(p);
  carnet_upload *up;
  carnet_upload_opts o = {.name = "f.bin"};
  uint8_t *plain = malloc(SIZE);
  if (!plain || carnet_upload_begin(W.r, &cu, &o, &up)) abort();
  for (size_t i = 0; i < SIZE; i++)
    plain[i] = (uint8_t)(i * 13);
  if (carnet_upload_write(up, plain, SIZE) || carnet_upload_commit(up, &W.id)) abort();
  free(plain);
  char path[4096];
  struct stat st;
  if (carnet__att_path(W.r, &W.id, "", path, sizeof path) || stat(path, &st)) abort();
  W.len = (size_t)st.st_size;
  W.file = malloc(W.len);
  FILE *f = fopen(path, "rb");
  if (!W.file || !f || fread(W.file, 1, W.len, f) != W.len) abort();
  fclose(f);
  unlink(path);
  if (carnet__att_path(W.r, &W.id, ".part", W.part, sizeof W.part)) abort();
  W.ready = true;
}

static uint64_t unit_off(unsigned k) {
  return k == 0 ? 0 : 24u + (uint64_t)k * (65536u + 17u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!W.ready) setup();
  if (size == 0) return 0;
  unsigned k = data[0] % 2;
  carnet__att_rx *rx;
  uint64_t off;
  bool done;
  unlink(W.part);
  if (carnet__att_rx_open(W.r, &W.id, &rx, &off) != 0 || off != 0) abort();
  for (unsigned i = 0; i < k; i++) {
    size_t n = carnet__att_unit_len(SIZE, unit_off(i));
    if (carnet__att_rx_unit(rx, unit_off(i), W.file + unit_off(i), n, &done) || done) abort();
  }
  size_t n = carnet__att_unit_len(SIZE, unit_off(k));
  const uint8_t *real = W.file + unit_off(k);
  bool same = size - 1 == n && memcmp(data + 1, real, n) == 0;
  int rc = carnet__att_rx_unit(rx, unit_off(k), data + 1, size - 1, &done);
  if (same ? rc != 0 : rc != CARNET_EPROTO) abort();
  if (done) abort();
  if (!same && (carnet__att_rx_unit(rx, unit_off(k), real, n, &done) != 0 || done)) abort();
  uint64_t want = unit_off(k) + n;
  if (carnet__att_rx_offset(rx) != want) abort();
  carnet__att_rx_close(rx);
  /* The next transfer resumes after the good prefix (checked for one
   * input in eight: it reads the prefix again, the replay's main cost). */
  if ((data[0] & 0x0e) == 0) {
    if (carnet__att_rx_open(W.r, &W.id, &rx, &off) != 0 || off != want) abort();
    carnet__att_rx_close(rx);
  }
  return 0;
}
