/* tests/cli/test_files.c - the files `carnet` writes with personal data are
 * private to their owner (engine/store/file.h, cli/files.h).
 *
 * With the usual umask 022, every file a command writes with personal data
 * comes out mode 0600: `export -o` (CSV, XLSX, JSON), `import --rejects`,
 * `subject-export -o`, and a file that was already there, 0644, is
 * replaced by a 0600 one. The test runs the real binary; the umask is the
 * test's own, inherited by the commands.
 */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/cliproc.h"

static unsigned mode_of(const char *p) {
  struct stat sb;
  if (stat(p, &sb) != 0) fail_msg("%s was not written", p);
  return (unsigned)(sb.st_mode & 07777);
}

static void assert_private(const char *p) {
  unsigned m = mode_of(p);
  if (m != 0600) fail_msg("%s has mode %04o, not 0600", p, m);
}

static void write_text(const char *p, const char *text) {
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static void test_files_are_0600(void **state) {
  (void)state;
  umask(022); /* what a desktop session has: a plain create would be 0644 */
  const char *R = path("R");
  init(R);
  char *id = OK(R, "customer", "add", "--name", "Hélène Privée", "--email",
                "helene.privee@exemple.fr", "--phone", "06 11 22 33 44");
  id[strcspn(id, "\n")] = '\0';
  char csv[1100], xlsx[1100], json[1100], subject[1100], rejects[1100], in[1100], old[1100];
  snprintf(csv, sizeof csv, "%s/clients.csv", F->root);
  snprintf(xlsx, sizeof xlsx, "%s/clients.xlsx", F->root);
  snprintf(json, sizeof json, "%s/clients.json", F->root);
  snprintf(subject, sizeof subject, "%s/subject.json", F->root);
  snprintf(rejects, sizeof rejects, "%s/rejects.csv", F->root);
  snprintf(in, sizeof in, "%s/in.csv", F->root);
  snprintf(old, sizeof old, "%s/old.csv", F->root);

  OK1(R, "export", "-o", csv);
  OK1(R, "export", "-o", xlsx);
  OK1(R, "export", "--format", "json", "-o", json);
  OK1(R, "subject-export", id, "-o", subject);
  assert_private(csv);
  assert_private(xlsx);
  assert_private(json);
  assert_private(subject);
  /* The export holds what it should (the mode is not that of an empty file). */
  char *text = slurp(csv);
  assert_non_null(strstr(text, "helene.privee@exemple.fr"));
  free(text);

  /* The rejects file of an import. */
  write_text(in, "Nom;E-mail\nJean Rejet;jean@\nMarie Bonne;marie.bonne@exemple.fr\n");
  OK1(R, "import", in, "--rejects", rejects);
  assert_private(rejects);
  text = slurp(rejects);
  assert_non_null(strstr(text, "Jean Rejet"));
  free(text);

  /* An existing world-readable file is replaced by a private one. */
  write_text(old, "old\n");
  assert_int_equal(chmod(old, 0644), 0);
  OK1(R, "export", "-o", old);
  assert_private(old);
  write_text(old, "old\n");
  assert_int_equal(chmod(old, 0644), 0);
  OK1(R, "subject-export", id, "-o", old);
  assert_private(old);
  free(id);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_files_are_0600, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
