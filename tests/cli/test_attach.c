/* tests/cli/test_attach.c - `carnet attach`, `attachments`, `attachment
 * show|get|delete|policy` and `check` on attachments, with the real
 * binary: a file round trip byte for byte, its owner given as a reference
 * code or a document number, the size limit refused clearly, the output
 * file 0600, a deleted attachment's content gone, and an orphan content
 * file removed by `carnet check`.
 */
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

#include "support/cliproc.h"

static void write_bytes(const char *p, size_t n, const char *marker) {
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  fputs(marker, f);
  for (size_t i = strlen(marker); i < n; i++)
    fputc((int)((i * 7) ^ (i >> 8)) & 0xff, f);
  assert_int_equal(fclose(f), 0);
}

static bool same_file(const char *a, const char *b) {
  char *x = slurp(a), *y = slurp(b);
  struct stat sa, sb;
  bool same = stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_size == sb.st_size &&
              memcmp(x, y, (size_t)sa.st_size) == 0;
  free(x);
  free(y);
  return same;
}

static size_t files_in(const char *dir) {
  char p[1200];
  size_t n = 0;
  snprintf(p, sizeof p, "%s/files", dir);
  DIR *d = opendir(p);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL)
    n += de->d_name[0] != '.';
  if (d) closedir(d);
  return n;
}

static void test_commands(void **state) {
  (void)state;
  const char *R = path("R");
  char in[1100], out[1100], big[1100], ref[64], idbuf[40];
  init(R);
  json_t *c = OKJ(R, "customer", "add", "--name", "Dupont SARL");
  jstr(c, "ref", ref, sizeof ref);
  json_decref(c);
  snprintf(in, sizeof in, "%s/devis signé.pdf", F->root);
  snprintf(out, sizeof out, "%s/back.pdf", F->root);
  snprintf(big, sizeof big, "%s/big.bin", F->root);
  write_bytes(in, 300000, "MARKER-CLI-ATTACH");

  /* attach by reference code; the id is printed. */
  char *id = OK(R, "attach", ref, in, "--caption", "signed quote");
  id[strcspn(id, "\n")] = '\0';
  assert_int_equal(strlen(id), 32);
  snprintf(idbuf, sizeof idbuf, "%.10s", id); /* a prefix resolves */
  json_t *list = OKJ(R, "attachments", ref);
  assert_int_equal(json_array_size(list), 1);
  json_t *a = json_array_get(list, 0);
  char s[256];
  jstr(a, "name", s, sizeof s);
  assert_string_equal(s, "devis signé.pdf");
  jstr(a, "media_type", s, sizeof s);
  assert_string_equal(s, "application/pdf");
  jstr(a, "caption", s, sizeof s);
  assert_string_equal(s, "signed quote");
  assert_int_equal(jint(a, "size"), 300000);
  assert_true(json_is_true(json_object_get(a, "here")));
  json_decref(list);
  char *human = OK(R, "attachments", ref);
  assert_non_null(strstr(human, "300.0 KB"));
  assert_non_null(strstr(human, "here"));
  free(human);

  /* get: byte for byte, private. */
  OK1(R, "attachment", "get", idbuf, "-o", out);
  assert_true(same_file(in, out));
  struct stat sb;
  assert_int_equal(stat(out, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  /* a document owner, by its number */
  json_t *d = OKJ(R, "doc", "add", "--type", "invoice", "--customer", ref);
  char did[40];
  jstr(d, "id", did, sizeof did);
  json_decref(d);
  free(OK(R, "attach", did, in, "--name", "bl.pdf"));
  list = OKJ(R, "attachments", did);
  assert_int_equal(json_array_size(list), 1);
  jstr(json_array_get(list, 0), "owner_kind", s, sizeof s);
  assert_string_equal(s, "document");
  json_decref(list);

  /* The limit, refused clearly with both sizes; nothing is left. */
  OK1(R, "attachment", "policy", "--max-size", "100KB");
  json_t *pol = OKJ(R, "attachment", "policy");
  assert_int_equal(jint(pol, "max_size"), 100000);
  json_decref(pol);
  write_bytes(big, 100001, "x");
  proc_result pr;
  assert_int_equal(RUN(R, &pr, "attach", ref, big), 1);
  assert_non_null(strstr(pr.err, "too large"));
  assert_non_null(strstr(pr.err, "100000 bytes"));
  proc_result_free(&pr);
  assert_int_equal(files_in(R), 2);
  assert_int_equal(RUN(R, &pr, "attachment", "policy", "--fetch", "sometimes"), 1);
  proc_result_free(&pr);
  assert_int_equal(RUN(R, &pr, "attachment", "get", idbuf), 1); /* no -o */
  proc_result_free(&pr);

  /* The content is nowhere in clear. */
  char data[1200];
  snprintf(data, sizeof data, "%s/files", R);
  DIR *dir = opendir(data);
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    if (de->d_name[0] == '.') continue;
    char p[1600];
    snprintf(p, sizeof p, "%s/%s", data, de->d_name);
    char *text = slurp(p);
    assert_null(memmem(text, 300000, "MARKER-CLI-ATTACH", 17));
    free(text);
  }
  closedir(dir);

  /* delete: gone from the directory, listed with --deleted. */
  OK1(R, "attachment", "delete", id);
  assert_int_equal(files_in(R), 1);
  list = OKJ(R, "attachments", ref, "--deleted");
  assert_true(json_is_true(json_object_get(json_array_get(list, 0), "deleted")));
  json_decref(list);
  assert_int_equal(RUN(R, &pr, "attachment", "get", id, "-o", out), 1);
  proc_result_free(&pr);

  /* An orphan (a crash between the file and its metadata) goes with check. */
  char orphan[1300];
  snprintf(orphan, sizeof orphan, "%s/files/0123456789abcdef0123456789abcdef.up", R);
  FILE *f = fopen(orphan, "w");
  fputs("partial", f);
  fclose(f);
  json_t *chk = OKJ(R, "check");
  assert_int_equal(jint(chk, "orphan_files"), 1);
  json_decref(chk);
  assert_false(file_exists(orphan));
  assert_int_equal(files_in(R), 1);
  free(id);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_commands, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
