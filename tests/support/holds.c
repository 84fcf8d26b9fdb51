/* tests/support/holds.c - see holds.h. */
#define _GNU_SOURCE /* memmem */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "carnet/carnet.h"
#include "engine/store/replica_int.h"
#include "engine/store/store.h"
#include "support/holds.h"

/* Every value of every table of replica `dir`, decrypted with the
 * replica's key (its key file DIR/carnet.key) through the store, searched
 * for `needle`: whether any holds it. Keys are searched too. */
bool replica_holds(const char *dir, const char *needle) {
  carnet_replica *r = NULL;
  char err[256] = "";
  if (carnet_replica_open(dir, NULL, &r, err, sizeof err)) fail_msg("open %s: %s", dir, err);
  carnet__stxn *st = NULL;
  bool found = false;
  assert_int_equal(carnet__store_begin(r->store, false, &st), 0);
  for (int tb = 0; tb < CARNET__T_COUNT_ && !found; tb++) {
    carnet__scur *cur = NULL;
    carnet_buf k, v;
    assert_int_equal(carnet__store_cursor(st, (carnet__table)tb, &cur), 0);
    int rc;
    for (rc = carnet__store_seek(cur, NULL, 0, &k, &v); rc == 0 && !found;
         rc = carnet__store_next(cur, &k, &v))
      found = memmem(k.base, k.len, needle, strlen(needle)) != NULL ||
              (v.len && memmem(v.base, v.len, needle, strlen(needle)) != NULL);
    if (!found) assert_int_equal(rc, CARNET_ENOTFOUND); /* every value opened */
    carnet__store_cursor_close(cur);
  }
  carnet__store_abort(st);
  carnet_replica_close(r);
  return found;
}

char *file_holding_bytes(const char *dir, const void *needle, size_t len) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char *found = NULL;
  assert_non_null(d);
  while (found == NULL && (de = readdir(d)) != NULL) {
    char path[2048];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    if (memmem(buf, n, needle, len)) found = strdup(path);
    free(buf);
  }
  closedir(d);
  return found;
}

bool files_hold(const char *dir, const char *needle) {
  char *where = file_holding_bytes(dir, needle, strlen(needle));
  bool found = where != NULL;
  free(where);
  return found;
}
