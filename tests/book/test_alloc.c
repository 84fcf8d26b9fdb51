/* tests/book/test_alloc.c - import and export under the app's allocator
 * (carnet_allocator_set), and out of memory at every allocation.
 *
 * main() installs a tagging allocator before the first carnet call: every
 * block carries a magic number, so a block the library made and released
 * with the C library's free() (or the reverse, a block of libzip, expat or
 * utf8proc released through carnet_free) aborts at once. The workload
 * imports from a file and from memory (CSV with a rejects file, XLSX),
 * exports to files and buffers (released with carnet_free), and fails in
 * the ways the header documents; at the end no block is alive.
 *
 * Then the sweeps (STYLE 17): the allocator fails its Nth allocation for
 * N = 0, 1, 2... until the call succeeds. After each failure nothing
 * leaked, no temporary file is left, and for an import the replica's
 * digest is unchanged (one batch: all or nothing).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "support/tagalloc.h"
#include "support/testenv.h"

#define OK(r, call)                                                                                \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_) fail_msg("%s: %s: %s", #call, carnet_error_name(rc_), carnet_replica_errmsg(r));      \
  } while (0)

static const char csv[] = "Nom;Prénom;E-mail;Portable;Ville;custom:taille:number;Tags\n"
                          "Dupont;Jean;jean@dupont.fr;06 12 34 56 78;Paris;12;vip|été\n"
                          "Dupont;Jean;jean@autre.fr;07 12 34 56 78;Lyon;;\n"
                          "Lefèvre;Zoé;zoe@lefevre.fr;+33 6 12 34 56 78;Besançon;;\n"
                          "Martin;Paul;paul@;;;;\n"
                          ";;;;;;\n"
                          "Œuvre;Anaïs;anais@oeuvre.fr;;Nice;x;\n";

typedef struct fx {
  char *root, *dir;
  tenv env;
  carnet_replica *r;
} fx;

static void open_fx(fx *f, const char *label) {
  char err[256] = "";
  carnet_env ce;
  f->root = tdir_new(label);
  f->dir = tdir_join(f->root, "replica");
  assert_non_null(f->dir);
  tenv_init(&f->env, TENV_EPOCH_MS, 7);
  tenv_fill(&f->env, &ce);
  if (carnet_replica_init(f->dir, &ce, &f->r, err, sizeof err)) fail_msg("init: %s", err);
}

static void close_fx(fx *f) {
  carnet_replica_close(f->r);
  tdir_remove(f->root);
  free(f->dir);
  free(f->root);
}

static char *in_root(const fx *f, const char *name) {
  char *p = tdir_join(f->root, name);
  assert_non_null(p);
  return p;
}

static void write_file(const char *p, const void *data, size_t len) {
  FILE *fp = fopen(p, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

static size_t temp_files(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t n = 0;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    n += strstr(e->d_name, ".tmp-") != NULL;
  closedir(d);
  return n;
}

static int count_row(void *ctx, const carnet_import_row *row) {
  (void)row;
  (*(int *)ctx)++;
  return 0;
}

/* --- every block released by the allocator that made it ------------------ */

static void test_workload_releases_everything(void **state) {
  (void)state;
  fx f;
  open_fx(&f, "book-alloc");
  char *path = in_root(&f, "c.csv"), *rej = in_root(&f, "rejets.csv"),
       *xlsx = in_root(&f, "e.xlsx"), *out = in_root(&f, "e.csv");
  write_file(path, csv, sizeof csv - 1);
  carnet_import_options o = CARNET_IMPORT_OPTIONS_INIT;
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  int rows = 0;
  o.rejects_path = rej;
  o.on_row = count_row;
  o.ctx = &rows;
  OK(f.r, carnet_import_file(f.r, path, &o, &rep));
  assert_int_equal(rep.imported, 2); /* Zoé has Jean Dupont's mobile: skipped */
  assert_int_equal(rep.skipped, 1);
  assert_int_equal(rep.rejected, 2); /* paul@, and the size 'x' */
  assert_int_equal(rows, 5);
  assert_int_equal(access(rej, F_OK), 0);

  /* Exports: files, and buffers released with carnet_free. */
  OK(f.r, carnet_export_file(f.r, xlsx, NULL, NULL));
  OK(f.r, carnet_export_file(f.r, out, NULL, NULL));
  carnet_export_options eo = CARNET_EXPORT_OPTIONS_INIT;
  void *bytes = NULL;
  size_t len = 0;
  OK(f.r, carnet_export_buffer(f.r, &eo, &bytes, &len, NULL));
  carnet_free(bytes);
  eo.format = CARNET_SHEET_XLSX;
  OK(f.r, carnet_export_buffer(f.r, &eo, &bytes, &len, NULL));
  /* The workbook back in: libzip and expat allocate for themselves. */
  OK(f.r, carnet_import_buffer(f.r, bytes, len, "e.xlsx", NULL, &rep));
  assert_int_equal(rep.skipped, 2);
  assert_int_equal(carnet_import_buffer(f.r, bytes, len / 2, "cut.xlsx", NULL, &rep),
                   CARNET_EINVAL);
  carnet_free(bytes);

  /* Failures free what they took. */
  const char *maps[] = {"Ville=bogus"};
  carnet_import_options bad = CARNET_IMPORT_OPTIONS_INIT;
  bad.maps = maps, bad.nmaps = 1;
  assert_int_equal(carnet_import_file(f.r, path, &bad, NULL), CARNET_EINVAL);
  assert_int_equal(carnet_import_file(f.r, "/nonexistent/c.csv", NULL, NULL), CARNET_ENOTFOUND);
  assert_int_equal(carnet_export_file(f.r, "/nonexistent/e.csv", NULL, NULL), CARNET_ENOTFOUND);
  close_fx(&f);
  free(path), free(rej), free(xlsx), free(out);
  assert_int_equal(tagalloc_live(), 0);
}

/* --- out of memory at every allocation -------------------------------------- */

#define SWEEP(r, call, check) TAGALLOC_SWEEP(call, check)

static void test_import_out_of_memory(void **state) {
  (void)state;
  fx f;
  open_fx(&f, "book-oom");
  uint8_t d0[32], d[32];
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  carnet_import_options dry = CARNET_IMPORT_OPTIONS_INIT;
  dry.dry_run = true;
  OK(f.r, carnet_import_buffer(f.r, csv, sizeof csv - 1, "c.csv", &dry, NULL)); /* warm-up */
  OK(f.r, carnet_replica_get_digest(f.r, d0));
  long before = tagalloc_failures();
  SWEEP(f.r, carnet_import_buffer(f.r, csv, sizeof csv - 1, "c.csv", NULL, &rep), {
    assert_int_not_equal(sweep_rc_, CARNET_EMISUSE);
    assert_true(carnet_replica_errmsg(f.r)[0] != '\0');
    OK(f.r, carnet_replica_get_digest(f.r, d));
    if (memcmp(d, d0, sizeof d) != 0)
      fail_msg("allocation %ld refused: %s, yet the replica changed", n_,
               carnet_error_name(sweep_rc_));
  });
  assert_true(tagalloc_failures() - before > 50); /* the sweep did reach into the rows */
  assert_int_equal(rep.imported, 2);
  assert_int_equal(rep.rejected, 2);

  /* With a rejects file: a failure after the commit leaves the rows
   * imported, never a half-written file. */
  char *rej = in_root(&f, "rejets.csv");
  carnet_import_options o = CARNET_IMPORT_OPTIONS_INIT;
  o.rejects_path = rej;
  o.on_duplicate = CARNET_IMPORT_DUP_MERGE;
  SWEEP(f.r, carnet_import_buffer(f.r, csv, sizeof csv - 1, "c.csv", &o, &rep),
        assert_int_equal(temp_files(f.root), 0));
  assert_int_equal(access(rej, F_OK), 0);
  free(rej);
  close_fx(&f);
  assert_int_equal(tagalloc_live(), 0);
}

static void test_export_out_of_memory(void **state) {
  (void)state;
  fx f;
  open_fx(&f, "book-oom-export");
  OK(f.r, carnet_import_buffer(f.r, csv, sizeof csv - 1, "c.csv", NULL, NULL));
  char *out = in_root(&f, "e.csv"), *xlsx = in_root(&f, "e.xlsx");
  void *bytes = NULL;
  size_t len = 0;
  OK(f.r, carnet_export_buffer(f.r, NULL, &bytes, &len, NULL)); /* warm-up */
  carnet_free(bytes);
  bytes = NULL;
  SWEEP(f.r, carnet_export_file(f.r, out, NULL, NULL), {
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(temp_files(f.root), 0);
  });
  SWEEP(f.r, carnet_export_file(f.r, xlsx, NULL, NULL), {
    assert_int_equal(access(xlsx, F_OK), -1);
    assert_int_equal(temp_files(f.root), 0);
  });
  carnet_export_options eo = CARNET_EXPORT_OPTIONS_INIT;
  SWEEP(f.r, carnet_export_buffer(f.r, &eo, &bytes, &len, NULL), {
    assert_null(bytes);
    assert_int_equal(len, 0);
  });
  carnet_free(bytes);
  free(out), free(xlsx);
  close_fx(&f);
  assert_int_equal(tagalloc_live(), 0);
}

int main(void) {
  /* Before any other carnet call: the setting freezes once the library
   * has allocated. */
  if (!tagalloc_install()) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_workload_releases_everything),
      cmocka_unit_test(test_import_out_of_memory),
      cmocka_unit_test(test_export_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
