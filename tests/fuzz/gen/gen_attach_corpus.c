/* Writes the seed corpus of fuzz_attach under CORPUS_DIR/attach: the
 * stored rows (plaintext) of real attachments, made by the library. Not a
 * test and built by nobody: run it by hand after a change of the format,
 * and commit the files it writes.
 *
 *   cc -std=c11 -D_GNU_SOURCE -I include -I . -o /tmp/gen_attach \
 *      tests/fuzz/gen/gen_attach_corpus.c <libcarnet.a> -llmdb -lsodium -lmsgpackc -luv \
 *      -lutf8proc -lzip -lexpat -lxlsxwriter -lm -lpthread
 *   /tmp/gen_attach tests/fuzz/corpus /tmp/scratch-replica
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/carnet.h"
#include "engine/store/replica_int.h"
#include "engine/store/store.h"

static void dump(carnet_replica *r, const carnet_id *id, const char *root, const char *name) {
  carnet__stxn *st;
  carnet_buf v;
  char path[1024];
  if (carnet__store_begin(r->store, false, &st) ||
      carnet__store_get(st, CARNET__T_ENTITIES, id->b, 16, &v))
    exit(1);
  snprintf(path, sizeof path, "%s/attach/%s", root, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(v.base, 1, v.len, f) != v.len || fclose(f)) exit(1);
  carnet__store_abort(st);
}

int main(int argc, char **argv) {
  carnet_replica *r;
  char err[256];
  carnet_id c, a1, a2;
  carnet_upload *up;
  if (argc != 3 || carnet_replica_init(argv[2], NULL, &r, err, sizeof err)) return 1;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_patch_set(p, CARNET_F_NAME, "Dupont");
  if (carnet_record_create_commit(r, p, &c)) return 1;
  carnet_patch_free(p);
  carnet_upload_opts o = {.name = "devis.pdf", .caption = "signed quote"};
  if (carnet_upload_begin(r, &c, &o, &up) || carnet_upload_write(up, "hello", 5) ||
      carnet_upload_commit(up, &a1))
    return 1;
  o = (carnet_upload_opts){.name = "empty"};
  if (carnet_upload_begin(r, &c, &o, &up) || carnet_upload_commit(up, &a2)) return 1;
  dump(r, &a1, argv[1], "pdf");
  dump(r, &a2, argv[1], "empty");
  if (carnet_attachment_delete_commit(r, &a2)) return 1;
  dump(r, &a2, argv[1], "deleted");
  dump(r, &c, argv[1], "customer");
  carnet_replica_close(r);
  return 0;
}
