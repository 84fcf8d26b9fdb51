/* tests/cli/test_cli.c - the `carnet` command, driven as a user would: the
 * real binary ($CARNET_BIN), run through tests/support/proc.h with a bounded
 * wait, each test in a fresh directory under $CARNET_TEST_TMP.
 *
 * JSON output is parsed with jansson. The test targets are not linked with
 * jansson (CMakeLists.txt links only libcarnet and cmocka), so the few
 * functions used here are looked up at run time from libjansson.so.4.
 */
#define _XOPEN_SOURCE 700 /* nftw */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carnet/replica.h"
#include "engine/store/store.h"
#include "support/proc.h"

enum { RUN_TIMEOUT_MS = 60000 }; /* generous: sanitizer builds are slow */

/* --- jansson, looked up at run time -------------------------------------- */

static struct {
  void *lib;
  json_t *(*loads)(const char *, size_t, json_error_t *);
  void (*del)(json_t *);
  json_t *(*object_get)(const json_t *, const char *);
  size_t (*object_size)(const json_t *);
  size_t (*array_size)(const json_t *);
  json_t *(*array_get)(const json_t *, size_t);
  const char *(*string_value)(const json_t *);
  double (*number_value)(const json_t *);
  json_int_t (*integer_value)(const json_t *);
  int (*equal)(const json_t *, const json_t *);
} J;

static int load_jansson(void) {
  J.lib = dlopen("libjansson.so.4", RTLD_NOW);
  if (J.lib == NULL) {
    fprintf(stderr, "test_cli: cannot load libjansson.so.4: %s\n", dlerror());
    return -1;
  }
#define SYM(field, name) *(void **)&J.field = dlsym(J.lib, name)
  SYM(loads, "json_loads");
  SYM(del, "json_delete");
  SYM(object_get, "json_object_get");
  SYM(object_size, "json_object_size");
  SYM(array_size, "json_array_size");
  SYM(array_get, "json_array_get");
  SYM(string_value, "json_string_value");
  SYM(number_value, "json_number_value");
  SYM(integer_value, "json_integer_value");
  SYM(equal, "json_equal");
#undef SYM
  return J.loads && J.del && J.object_get && J.object_size && J.array_size && J.array_get &&
                 J.string_value && J.number_value && J.integer_value && J.equal
             ? 0
             : -1;
}

static json_t *parse_json(const char *text) {
  json_error_t e;
  json_t *j = J.loads(text, 0, &e);
  if (j == NULL) fail_msg("not JSON (%s, line %d): %s", e.text, e.line, text);
  return j;
}

static void free_json(json_t *j) {
  if (j) J.del(j); /* roots from json_loads hold the only reference */
}

static json_t *jget(const json_t *o, const char *key) {
  json_t *v = J.object_get(o, key);
  if (v == NULL) fail_msg("no key '%s' in the JSON object", key);
  return v;
}

static const char *jstr(const json_t *o, const char *key) {
  return J.string_value(jget(o, key));
}

/* Is `s` an element of the JSON array of strings `a`? */
static bool has_str(const json_t *a, const char *s) {
  for (size_t i = 0; i < J.array_size(a); i++)
    if (J.string_value(J.array_get(a, i)) && strcmp(J.string_value(J.array_get(a, i)), s) == 0)
      return true;
  return false;
}

/* --- fixture: a fresh directory per test ------------------------------- */

typedef struct fx {
  char root[1024];    /* the test's scratch directory */
  char replica[1100]; /* $CARNET_DIR: root/replica */
  char env_dir[1200], env_home[1200];
  const char *env[4];
} fx;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static void rm_rf(const char *path) {
  nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void mkdir_p(const char *path) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(buf, 0700);
    *p = '/';
  }
  mkdir(buf, 0700);
}

static int fx_setup(void **state) {
  static int counter;
  fx *f = calloc(1, sizeof *f);
  const char *base = getenv("CARNET_TEST_TMP");
  if (f == NULL) return -1;
  snprintf(f->root, sizeof f->root, "%s/cli-%d-%d", base && base[0] ? base : "/tmp", (int)getpid(),
           ++counter);
  rm_rf(f->root);
  mkdir_p(f->root);
  snprintf(f->replica, sizeof f->replica, "%s/replica", f->root);
  snprintf(f->env_dir, sizeof f->env_dir, "CARNET_DIR=%s", f->replica);
  snprintf(f->env_home, sizeof f->env_home, "HOME=%s/home", f->root);
  f->env[0] = f->env_dir;
  f->env[1] = f->env_home;
  f->env[2] = NULL;
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  rm_rf(f->root);
  free(f);
  return 0;
}

static void path_in(const fx *f, const char *name, char *out, size_t len) {
  snprintf(out, len, "%s/%s", f->root, name);
}

/* --- running the binary --------------------------------------------------- */

/* Runs `carnet args...` (NULL-terminated) in the fixture's environment. */
static int run_args(const fx *f, proc_result *r, const char *const *args) {
  const char *argv[64];
  size_t n = 0;
  const char *bin = getenv("CARNET_BIN");
  if (bin == NULL) fail_msg("CARNET_BIN is not set: run this test through ctest");
  argv[n++] = bin;
  for (; *args && n < 63; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  proc_opts o = {.env = f->env, .cwd = f->root, .timeout_ms = RUN_TIMEOUT_MS};
  if (proc_run(argv, &o, r) != 0 || r->timed_out) fail_msg("%s", r->why);
  return r->status;
}

/* Runs and expects exit 0 and a quiet stderr; returns stdout (free it). */
static char *ok_args(const fx *f, const char *const *args) {
  proc_result r;
  int st = run_args(f, &r, args);
  if (st != 0 || r.err_len != 0) {
    fprintf(stderr, "command: %s ... exited %d\nstdout: %s\nstderr: %s\n", args[0], st, r.out,
            r.err);
    proc_result_free(&r);
    fail_msg("command failed");
  }
  free(r.err);
  return r.out;
}

#define OK(f, ...) ok_args((f), (const char *const[]){__VA_ARGS__, NULL})

/* Runs and expects the user-error contract: exit 1, nothing on stdout, one
 * line on stderr starting with "carnet" and containing `needle`. */
static void user_error_args(const fx *f, const char *needle, const char *const *args) {
  proc_result r;
  int st = run_args(f, &r, args);
  if (st != 1 || r.out_len != 0 || proc_count_lines(r.err) != 1 || r.err[r.err_len - 1] != '\n' ||
      strncmp(r.err, "carnet", 6) != 0 || strstr(r.err, needle) == NULL) {
    fprintf(stderr, "expected exit 1 and one line naming '%s'\ngot exit %d\nstdout: %s\nstderr: %s",
            needle, st, r.out, r.err);
    proc_result_free(&r);
    fail_msg("wrong error");
  }
  proc_result_free(&r);
}

#define USER_ERROR(f, needle, ...)                                                                 \
  user_error_args((f), (needle), (const char *const[]){__VA_ARGS__, NULL})

/* Runs a command that prints JSON and parses it. */
static json_t *json_args(const fx *f, const char *const *args) {
  char *out = ok_args(f, args);
  json_t *j = parse_json(out);
  free(out);
  return j;
}

#define JSON(f, ...) json_args((f), (const char *const[]){__VA_ARGS__, NULL})

/* "0123...\n" -> a copy without the newline. */
static char *trim(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
    s[--n] = '\0';
  return s;
}

/* Adds a customer and returns its reference code (malloc'd). */
static char *add_customer(const fx *f, const char *dir, const char *name) {
  json_t *j = JSON(f, "--dir", dir, "customer", "add", "--name", name, "--json");
  char *ref = strdup(jstr(j, "ref"));
  free_json(j);
  assert_non_null(ref);
  return ref;
}

/* --- tests ------------------------------------------------------------- */

static void test_init(void **state) {
  fx *f = *state;
  json_t *j = JSON(f, "init", "--json");
  const char *id = jstr(j, "id");
  assert_int_equal(strlen(id), 16);
  assert_int_equal(strspn(id, "0123456789abcdef"), 16);
  assert_int_equal(strlen(jstr(j, "tag")), 4);
  assert_string_equal(jstr(j, "dir"), f->replica);
  free_json(j);
  USER_ERROR(f, "a replica already exists in", "init");

  char other[1200];
  path_in(f, "other", other, sizeof other);
  char *out = OK(f, "init", "--dir", other);
  assert_non_null(strstr(out, other));
  assert_non_null(strstr(out, "id:"));
  assert_non_null(strstr(out, "tag:"));
  free(out);
}

/* The acceptance command of the issue. */
static void test_acceptance(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  /* `customer add` prints the reference a person reads and types. */
  char *ref = trim(OK(f, "customer", "add", "--name", "Dupont SARL", "--company", "--email",
                      "contact@dupont.fr", "--phone", "06 12 34 56 78"));
  json_t *list = JSON(f, "customer", "list", "--json");
  assert_int_equal(J.array_size(list), 1);
  json_t *c = J.array_get(list, 0);
  assert_string_equal(jstr(c, "ref"), ref);
  assert_int_equal(strlen(jstr(c, "id")), 32);
  assert_string_equal(jstr(c, "kind"), "customer");
  assert_string_equal(jstr(c, "type"), "company");
  assert_string_equal(jstr(c, "name"), "Dupont SARL");
  assert_true(jstr(c, "ref") != NULL && strlen(jstr(c, "ref")) > 0);
  assert_true(has_str(jget(c, "emails"), "contact@dupont.fr"));
  json_t *phones = jget(c, "phones");
  assert_int_equal(J.array_size(phones), 1);
  assert_string_equal(jstr(J.array_get(phones, 0), "number"), "+33612345678");
  assert_string_equal(jstr(J.array_get(phones, 0), "type"), "mobile");
  assert_true(has_str(jget(c, "roles"), "prospect"));
  assert_true(json_is_false(jget(c, "deleted")));

  /* The human table shows the same customer under its reference code. */
  char *table = OK(f, "customer", "list");
  assert_non_null(strstr(table, "REF"));
  assert_non_null(strstr(table, jstr(c, "ref")));
  assert_non_null(strstr(table, "Dupont SARL"));
  free(table);
  free_json(list);
  free(ref);
}

static void test_edit_roundtrip(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  char *ref = add_customer(f, f->replica, "Jean Martin");
  free(OK(f, "customer", "edit", ref, "--tag", "a", "--tag", "b"));
  char *out =
      OK(f, "customer", "edit", ref, "--name", "Jean Martin-Durand", "--untag", "a", "--tag", "c",
         "--notes", "Rappeler lundi", "--custom", "surface:number=120", "--role", "customer",
         "--remove-role", "prospect", "--discount", "5.5", "--company=Martin SAS", "--work-phone",
         "01 45 67 89 01", "--city", "Lyon", "--conflict");
  assert_non_null(strstr(out, ref));
  free(out);

  json_t *c = JSON(f, "customer", "show", ref, "--json");
  assert_string_equal(jstr(c, "name"), "Jean Martin-Durand");
  assert_string_equal(jstr(c, "company"), "Martin SAS");
  assert_string_equal(jstr(c, "type"), "company");
  json_t *tags = jget(c, "tags");
  assert_int_equal(J.array_size(tags), 2);
  assert_true(has_str(tags, "b") && has_str(tags, "c") && !has_str(tags, "a"));
  assert_string_equal(jstr(c, "notes"), "Rappeler lundi");
  json_t *surface = jget(jget(c, "custom"), "surface");
  assert_string_equal(jstr(surface, "type"), "number");
  assert_string_equal(jstr(surface, "value"), "120");
  json_t *roles = jget(c, "roles");
  assert_int_equal(J.array_size(roles), 1);
  assert_true(has_str(roles, "customer"));
  assert_true(J.number_value(jget(c, "discount")) == 5.5);
  assert_string_equal(jstr(jget(c, "address"), "city"), "Lyon");
  assert_string_equal(jstr(J.array_get(jget(c, "phones"), 0), "type"), "work");
  assert_true(json_is_true(jget(c, "conflict")));
  free_json(c);

  /* Empty values clear; --set goes through the same conversions. */
  free(OK(f, "customer", "edit", ref, "--notes", "", "--custom", "surface=", "--set", "discount=10",
          "--no-conflict", "--set", "vat_id=FR44732829320"));
  c = JSON(f, "customer", "show", ref, "--json");
  assert_true(json_is_null(jget(c, "notes")));
  assert_int_equal(J.object_size(jget(c, "custom")), 0);
  assert_true(J.number_value(jget(c, "discount")) == 10.0);
  assert_true(json_is_false(jget(c, "conflict")));
  assert_string_equal(jstr(c, "vat_id"), "FR44732829320");
  free_json(c);

  /* The human view has aligned "field: value" lines. */
  out = OK(f, "customer", "show", ref);
  assert_non_null(strstr(out, "name:       Jean Martin-Durand\n"));
  assert_non_null(strstr(out, "tags:       b, c\n"));
  assert_non_null(strstr(out, "consents:\n"));
  free(out);
  free(ref);
}

static void test_consent(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  char *ref = add_customer(f, f->replica, "Claire Dubois");
  static const char *const channels[] = {"email", "sms", "whatsapp", "viber", "phone", "post"};

  json_t *j = JSON(f, "consent", "show", ref, "--json");
  for (size_t i = 0; i < 6; i++) {
    json_t *ch = jget(jget(j, "consents"), channels[i]);
    assert_true(json_is_false(jget(ch, "granted")));
    assert_true(json_is_null(jget(ch, "at")));
  }
  assert_int_equal(J.array_size(jget(j, "history")), 0);
  free_json(j);

  free(OK(f, "consent", "grant", ref, "email", "--note", "signed form"));
  j = JSON(f, "consent", "show", ref, "--json");
  json_t *email = jget(jget(j, "consents"), "email");
  assert_true(json_is_true(jget(email, "granted")));
  assert_true(json_is_string(jget(email, "at")));
  assert_true(json_is_false(jget(jget(jget(j, "consents"), "sms"), "granted")));
  assert_int_equal(J.array_size(jget(j, "history")), 1);
  assert_string_equal(jstr(J.array_get(jget(j, "history"), 0), "note"), "signed form");
  free_json(j);

  free(OK(f, "consent", "withdraw", ref, "email"));
  j = JSON(f, "consent", "show", ref, "--json");
  assert_true(json_is_false(jget(jget(jget(j, "consents"), "email"), "granted")));
  json_t *history = jget(j, "history");
  assert_int_equal(J.array_size(history), 2);
  assert_true(json_is_true(jget(J.array_get(history, 0), "granted")));
  assert_true(json_is_false(jget(J.array_get(history, 1), "granted")));
  free_json(j);

  char *out = OK(f, "consent", "show", ref);
  assert_non_null(strstr(out, "email"));
  assert_non_null(strstr(out, "withdrawn"));
  free(out);

  /* Granted again after the withdrawal, knowingly: on. */
  free(OK(f, "consent", "grant", ref, "email"));
  j = JSON(f, "consent", "show", ref, "--json");
  assert_true(json_is_true(jget(jget(jget(j, "consents"), "email"), "granted")));
  assert_int_equal(J.array_size(jget(j, "history")), 3);
  free_json(j);
  USER_ERROR(f, "unknown channel 'fax'", "consent", "grant", ref, "fax");
  USER_ERROR(f, "no customer 'nobody'", "consent", "grant", "nobody", "email");
  free(ref);
}

static void test_contacts(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  char *ref = add_customer(f, f->replica, "Dupont SARL");
  json_t *cust = JSON(f, "customer", "show", ref, "--json");
  char *cust_id = strdup(jstr(cust, "id"));
  free_json(cust);

  char *id = trim(OK(f, "contact", "add", "--customer", ref, "--name", "Marie Curie", "--role",
                     "director", "--email", "marie@dupont.fr", "--phone", "07 11 22 33 44"));
  assert_int_equal(strlen(id), 32);
  json_t *list = JSON(f, "contact", "list", "--json");
  assert_int_equal(J.array_size(list), 1);
  json_t *c = J.array_get(list, 0);
  assert_string_equal(jstr(c, "kind"), "contact");
  assert_string_equal(jstr(c, "customer"), cust_id);
  assert_string_equal(jstr(c, "role"), "director");
  assert_string_equal(jstr(c, "name"), "Marie Curie");
  assert_true(has_str(jget(c, "emails"), "marie@dupont.fr"));
  free_json(list);

  list = JSON(f, "contact", "list", "--customer", ref, "--json");
  assert_int_equal(J.array_size(list), 1);
  free_json(list);
  cust = JSON(f, "customer", "show", ref, "--json");
  assert_int_equal(J.array_size(jget(cust, "contacts")), 1);
  free_json(cust);
  char *out = OK(f, "customer", "show", ref);
  assert_non_null(strstr(out, "Marie Curie"));
  free(out);
  out = OK(f, "contact", "list");
  assert_non_null(strstr(out, "Marie Curie"));
  assert_non_null(strstr(out, ref));
  free(out);

  free(OK(f, "contact", "edit", id, "--role", "assistant"));
  c = JSON(f, "contact", "show", id, "--json");
  assert_string_equal(jstr(c, "role"), "assistant");
  free_json(c);

  USER_ERROR(f, "--customer", "contact", "add", "--name", "Orphan");
  USER_ERROR(f, "no customer 'nobody'", "contact", "add", "--customer", "nobody", "--name", "X");
  USER_ERROR(f, "--siret", "contact", "add", "--customer", ref, "--siret", "73282932000074");

  out = OK(f, "contact", "delete", id);
  assert_non_null(strstr(out, "deleted"));
  free(out);
  list = JSON(f, "contact", "list", "--json");
  assert_int_equal(J.array_size(list), 0);
  free_json(list);
  free(OK(f, "customer", "delete", ref));
  USER_ERROR(f, "is deleted", "contact", "add", "--customer", ref, "--name", "Late");
  free(id);
  free(cust_id);
  free(ref);
}

static void test_delete(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  char *a = add_customer(f, f->replica, "Alice");
  char *b = add_customer(f, f->replica, "Bob");
  char *out = OK(f, "customer", "delete", a);
  char expect[128];
  snprintf(expect, sizeof expect, "deleted %s\n", a);
  assert_string_equal(out, expect);
  free(out);

  json_t *list = JSON(f, "customer", "list", "--json");
  assert_int_equal(J.array_size(list), 1);
  assert_string_equal(jstr(J.array_get(list, 0), "ref"), b);
  free_json(list);
  list = JSON(f, "customer", "list", "--deleted", "--json");
  assert_int_equal(J.array_size(list), 2);
  free_json(list);
  USER_ERROR(f, "already deleted", "customer", "delete", a);
  free(a);
  free(b);
}

static void test_search_filters(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  free(OK(f, "customer", "add", "--name", "Boulangerie Petit", "--city", "Lyon", "--tag", "bio"));
  free(OK(f, "customer", "add", "--name", "Garage Moreau", "--role", "supplier"));
  json_t *l = JSON(f, "customer", "list", "--search", "lyon", "--json");
  assert_int_equal(J.array_size(l), 1);
  assert_string_equal(jstr(J.array_get(l, 0), "name"), "Boulangerie Petit");
  free_json(l);
  l = JSON(f, "customer", "list", "--tag", "bio", "--json");
  assert_int_equal(J.array_size(l), 1);
  free_json(l);
  l = JSON(f, "customer", "list", "--role", "supplier", "--json");
  assert_int_equal(J.array_size(l), 1);
  assert_string_equal(jstr(J.array_get(l, 0), "name"), "Garage Moreau");
  free_json(l);
  /* Accents and case do not matter, nor how a phone is written (issue 18,
   * first point: the search of carnet/search.h, through
   * carnet_record_list). */
  free(OK(f, "customer", "add", "--name", "Électricité Générale", "--phone", "+33782356155"));
  static const char *const forms[] = {"électricité",      "ELECTRICITE", "electricite generale",
                                      "07 82 35 61 55",   "0782356155",  "+33782356155",
                                      "+33 7 82 35 61 55"};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    l = JSON(f, "customer", "list", "--search", forms[i], "--json");
    if (J.array_size(l) != 1) fail_msg("--search '%s': %zu customers", forms[i], J.array_size(l));
    assert_string_equal(jstr(J.array_get(l, 0), "name"), "Électricité Générale");
    free_json(l);
  }
}

/* `customer list --sort --reverse --limit --offset` (issue 18, point 1): the
 * order documented is the order given, imported customers included (their
 * ids are hashes of their rows, so id order is no order at all); a reference
 * code finds its customer; --json and export are the same records. */
static void test_list_order(void **state) {
  fx *f = *state;
  static const char *const names[] = {"Zoé Lambert", "alain Martin", "Émile Dubois",
                                      "Client 10",   "Client 2",     "bernard Petit",
                                      "Client 1",    "Yves Roux",    "Chloé Garnier"};
  enum { N = sizeof names / sizeof names[0] };
  free(OK(f, "init"));
  char csv[1200];
  path_in(f, "c.csv", csv, sizeof csv);
  FILE *fp = fopen(csv, "wb");
  assert_non_null(fp);
  fputs("name,city\n", fp);
  for (size_t i = 0; i < N; i++)
    fprintf(fp, "%s,Lyon\n", names[i]);
  fclose(fp);
  free(OK(f, "import", csv));
  /* Default: oldest first, which for an import is the file's order. */
  json_t *l = JSON(f, "customer", "list", "--json");
  assert_int_equal(J.array_size(l), N);
  for (size_t i = 0; i < N; i++)
    assert_string_equal(jstr(J.array_get(l, i), "name"), names[i]);
  char ref[64];
  snprintf(ref, sizeof ref, "%s", jstr(J.array_get(l, 4), "ref"));
  free_json(l);
  l = JSON(f, "customer", "list", "--sort", "created", "--reverse", "--limit", "2", "--json");
  assert_int_equal(J.array_size(l), 2);
  assert_string_equal(jstr(J.array_get(l, 0), "name"), names[N - 1]);
  assert_string_equal(jstr(J.array_get(l, 1), "name"), names[N - 2]);
  free_json(l);
  /* By name: accents and case ignored, numbers by value. */
  static const char *const by_name[] = {"alain Martin", "bernard Petit", "Chloé Garnier",
                                        "Client 1",     "Client 2",      "Client 10",
                                        "Émile Dubois", "Yves Roux",     "Zoé Lambert"};
  l = JSON(f, "customer", "list", "--sort", "name", "--json");
  assert_int_equal(J.array_size(l), N);
  for (size_t i = 0; i < N; i++)
    assert_string_equal(jstr(J.array_get(l, i), "name"), by_name[i]);
  free_json(l);
  l = JSON(f, "customer", "list", "--sort", "name", "--offset", "3", "--limit", "3", "--json");
  assert_int_equal(J.array_size(l), 3);
  for (size_t i = 0; i < 3; i++)
    assert_string_equal(jstr(J.array_get(l, i), "name"), by_name[3 + i]);
  free_json(l);
  l = JSON(f, "customer", "list", "--sort", "name", "--reverse", "--limit", "1", "--json");
  assert_int_equal(J.array_size(l), 1);
  assert_string_equal(jstr(J.array_get(l, 0), "name"), "Zoé Lambert");
  free_json(l);
  l = JSON(f, "customer", "list", "--offset", "100", "--json");
  assert_int_equal(J.array_size(l), 0);
  free_json(l);
  char *out = OK(f, "customer", "list", "--sort", "name", "--limit", "2");
  assert_non_null(strstr(out, "alain Martin"));
  assert_null(strstr(out, "Chloé"));
  free(out);
  /* By last change: the customer edited comes last. */
  free(OK(f, "customer", "edit", ref, "--city", "Paris"));
  l = JSON(f, "customer", "list", "--sort", "updated", "--json");
  assert_string_equal(jstr(J.array_get(l, N - 1), "ref"), ref);
  free_json(l);
  /* A reference code is searchable. */
  l = JSON(f, "customer", "list", "--search", ref, "--json");
  assert_int_equal(J.array_size(l), 1);
  assert_string_equal(jstr(J.array_get(l, 0), "name"), names[4]);
  free_json(l);
  /* export --json writes the same records as list --json. */
  char js[1200];
  path_in(f, "all.json", js, sizeof js);
  free(OK(f, "export", "-o", js));
  fp = fopen(js, "rb");
  assert_non_null(fp);
  char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  buf[n] = '\0';
  fclose(fp);
  l = parse_json(buf);
  assert_int_equal(J.array_size(l), N);
  free_json(l);
  USER_ERROR(f, "--sort", "customer", "list", "--sort", "city");
  USER_ERROR(f, "--limit", "customer", "list", "--limit", "-1");
}

static void test_errors(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  USER_ERROR(f, "--bogus", "customer", "add", "--name", "X", "--bogus");
  USER_ERROR(f, "--bogus", "customer", "list", "--bogus");
  USER_ERROR(f, "unknown field 'foo' for customer", "customer", "add", "--set", "foo=bar");
  USER_ERROR(f, "jean@", "customer", "add", "--name", "X", "--email", "jean@");
  USER_ERROR(f, "12345678901234", "customer", "add", "--name", "X", "--siret", "12345678901234");
  USER_ERROR(f, "nothing to add", "customer", "add");
  USER_ERROR(f, "--name", "customer", "add", "--name");
  USER_ERROR(f, "discount", "customer", "add", "--name", "X", "--discount", "101");
  USER_ERROR(f, "discount", "customer", "add", "--name", "X", "--discount", "5.555");
  USER_ERROR(f, "no customer 'nobody'", "customer", "show", "nobody");
  USER_ERROR(f, "missing REF", "customer", "show");
  USER_ERROR(f, "unknown command 'frobnicate'", "frobnicate");
  USER_ERROR(f, "unknown command 'frob'", "customer", "frob");
  /* Nothing was written by the failed commands. */
  json_t *l = JSON(f, "customer", "list", "--json");
  assert_int_equal(J.array_size(l), 0);
  free_json(l);

  /* Two ids made within hours share their first hex digits (milliseconds). */
  json_t *j1 = JSON(f, "customer", "add", "--name", "Un", "--json");
  json_t *j2 = JSON(f, "customer", "add", "--name", "Deux", "--json");
  char *id1 = strdup(jstr(j1, "id")), *id2 = strdup(jstr(j2, "id"));
  free_json(j1);
  free_json(j2);
  size_t common = 0;
  while (id1[common] && id1[common] == id2[common])
    common++;
  if (common >= 6) {
    id1[6] = '\0';
    USER_ERROR(f, "matches several customers", "customer", "show", id1);
  }
  USER_ERROR(f, "at least 6", "customer", "show", "01a2");
  free(id1);
  free(id2);
}

static void test_no_replica(void **state) {
  fx *f = *state;
  char missing[1200];
  path_in(f, "nowhere", missing, sizeof missing);
  USER_ERROR(f, "no replica", "customer", "list");
  USER_ERROR(f, "carnet init", "customer", "add", "--name", "X");
  USER_ERROR(f, missing, "--dir", missing, "customer", "list");
}

/* A replica written by a newer Carnet is refused, not misread. */
static void test_newer_schema(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  carnet__store *s = NULL;
  carnet__stxn *t = NULL;
  char why[256] = "";
  const uint8_t schema[4] = {0, 0, 0, CARNET_SCHEMA_VERSION + 1};
  assert_int_equal(carnet__store_open(f->replica, 0, &s, why, sizeof why), 0);
  assert_int_equal(carnet__store_begin(s, true, &t), 0);
  assert_int_equal(carnet__store_put(t, CARNET__T_META, "schema", 6, schema, 4, 0), 0);
  assert_int_equal(carnet__store_commit(t), 0);
  carnet__store_close(s);
  USER_ERROR(f, "newer version", "customer", "list");
}

static void test_help(void **state) {
  fx *f = *state;
  static const char *const cmds[][4] = {
      {"--help"},
      {"-h"},
      {"help"},
      {"init", "--help"},
      {"customer", "--help"},
      {"customer", "add", "--help"},
      {"customer", "edit", "-h"},
      {"customer", "show", "--help"},
      {"customer", "list", "--help"},
      {"customer", "delete", "--help"},
      {"contact", "--help"},
      {"contact", "add", "--help"},
      {"contact", "edit", "--help"},
      {"contact", "show", "--help"},
      {"contact", "list", "--help"},
      {"contact", "delete", "--help"},
      {"consent", "--help"},
      {"consent", "grant", "--help"},
      {"consent", "withdraw", "--help"},
      {"consent", "show", "--help"},
      {"changes", "--help"},
      {"changes", "export", "--help"},
      {"changes", "apply", "--help"},
  };
  /* No replica exists: help never needs one. */
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    char *out = ok_args(f, cmds[i]);
    if (strncmp(out, "usage: carnet", 13) != 0) fail_msg("%s %s: %s", cmds[i][0], cmds[i][1], out);
    free(out);
  }
  char *v = OK(f, "--version");
  assert_true(strncmp(v, "carnet ", 7) == 0);
  free(v);
  /* Every command's summary is set apart from its name, the longest too. */
  char *top = OK(f, "--help");
  assert_non_null(strstr(top, "  subject-export  everything held"));
  assert_non_null(strstr(top, "\n  init            create a replica\n"));
  free(top);
}

/* --dir before or after the command, $CARNET_DIR, then $HOME. */
static void test_dir_resolution(void **state) {
  fx *f = *state;
  char a[1200];
  path_in(f, "a", a, sizeof a);
  free(OK(f, "--dir", a, "init"));
  free(OK(f, "customer", "--dir", a, "add", "--name", "One"));
  free(OK(f, "customer", "add", "--name", "Two", "--dir", a));
  json_t *l = JSON(f, "customer", "list", "--json", "--dir", a);
  assert_int_equal(J.array_size(l), 2);
  free_json(l);

  f->env[0] = "CARNET_DIR"; /* unset: falls back to $HOME/.local/share/carnet */
  json_t *j = JSON(f, "init", "--json");
  char expect[1200];
  snprintf(expect, sizeof expect, "%s/home/.local/share/carnet", f->root);
  assert_string_equal(jstr(j, "dir"), expect);
  free_json(j);
  f->env[0] = f->env_dir;
}

static void export_to(const fx *f, const char *dir, const char *file) {
  free(OK(f, "--dir", dir, "changes", "export", "-o", file));
}

static void apply_from(const fx *f, const char *dir, const char *file) {
  free(OK(f, "--dir", dir, "changes", "apply", file));
}

static void assert_same_json(const fx *f, const char *a, const char *b, const char *const *args) {
  const char *argv_a[16] = {"--dir", a}, *argv_b[16] = {"--dir", b};
  for (size_t i = 0; args[i] && i < 13; i++)
    argv_a[i + 2] = argv_b[i + 2] = args[i];
  json_t *ja = json_args(f, argv_a), *jb = json_args(f, argv_b);
  assert_true(J.equal(ja, jb));
  free_json(ja);
  free_json(jb);
}

static void test_changes_sync(void **state) {
  fx *f = *state;
  char a[1200], b[1200], ab[1200], ba[1200];
  path_in(f, "A", a, sizeof a);
  path_in(f, "B", b, sizeof b);
  path_in(f, "a-to-b.carnet", ab, sizeof ab);
  path_in(f, "b-to-a.carnet", ba, sizeof ba);
  static const char *const list_all[] = {"customer", "list", "--deleted", "--json", NULL};
  free(OK(f, "init", "--dir", a));
  free(OK(f, "init", "--dir", b));

  char *ref = add_customer(f, a, "Dupont SARL");
  free(add_customer(f, a, "Martin SA"));
  export_to(f, a, ab);
  apply_from(f, b, ab);
  apply_from(f, b, ab); /* twice is harmless */
  assert_same_json(f, a, b, list_all);

  /* Offline edits on both sides: different fields, the same field, a tag
   * each, a new customer on B. */
  free(OK(f, "--dir", a, "customer", "edit", ref, "--name", "Dupont & Fils", "--tag", "from-a"));
  free(OK(f, "--dir", b, "customer", "edit", ref, "--city", "Lyon", "--tag", "from-b", "--name",
          "Dupont Freres"));
  free(add_customer(f, b, "Nouveau"));
  export_to(f, a, ab);
  export_to(f, b, ba);
  apply_from(f, b, ab);
  apply_from(f, a, ba);
  assert_same_json(f, a, b, list_all);
  const char *show[] = {"customer", "show", ref, "--json", NULL};
  assert_same_json(f, a, b, show);

  json_t *c = JSON(f, "--dir", a, "customer", "show", ref, "--json");
  assert_true(has_str(jget(c, "tags"), "from-a") && has_str(jget(c, "tags"), "from-b"));
  assert_string_equal(jstr(jget(c, "address"), "city"), "Lyon");
  free_json(c);
  json_t *l = JSON(f, "--dir", a, "customer", "list", "--json");
  assert_int_equal(J.array_size(l), 3);
  free_json(l);
  free(ref);
}

/* Many small batches: the export loop follows `more` to the end, and an
 * export from the last sequence is empty. */
static void test_changes_batches(void **state) {
  fx *f = *state;
  char a[1200], b[1200], file[1200], since[32];
  path_in(f, "A", a, sizeof a);
  path_in(f, "B", b, sizeof b);
  path_in(f, "all.carnet", file, sizeof file);
  static const char *const list_all[] = {"customer", "list", "--deleted", "--json", NULL};
  free(OK(f, "init", "--dir", a));
  free(OK(f, "init", "--dir", b));
  for (int i = 0; i < 12; i++) {
    char name[32], email[32];
    snprintf(name, sizeof name, "Client %02d", i);
    /* One address each: a shared one makes them likely duplicates, which
     * `customer add` refuses without --force. */
    snprintf(email, sizeof email, "c%02d@example.org", i);
    free(OK(f, "--dir", a, "customer", "add", "--name", name, "--email", email));
  }
  json_t *j =
      JSON(f, "--dir", a, "changes", "export", "-o", file, "--batch-bytes", "300", "--json");
  assert_true(J.integer_value(jget(j, "batches")) > 1);
  snprintf(since, sizeof since, "%lld", (long long)J.integer_value(jget(j, "upto")));
  free_json(j);
  j = JSON(f, "--dir", b, "changes", "apply", file, "--json");
  assert_true(J.integer_value(jget(j, "batches")) > 1);
  assert_true(J.integer_value(jget(j, "applied")) > 0);
  free_json(j);
  assert_same_json(f, a, b, list_all);

  /* Nothing new: only the empty closing batch that tells the receiver the
   * stream is complete. */
  j = JSON(f, "--dir", a, "changes", "export", "-o", file, "--since", since, "--json");
  assert_int_equal(J.integer_value(jget(j, "batches")), 1);
  assert_int_equal(J.integer_value(jget(j, "cells")), 0);
  free_json(j);
  USER_ERROR(f, "--batch-bytes", "--dir", a, "changes", "export", "-o", file, "--batch-bytes", "0");
  USER_ERROR(f, "--since", "--dir", a, "changes", "export", "-o", file, "--since", "-3");
}

/* `customer add` refuses a likely duplicate with one line naming the
 * customer it resembles, --force creates it with a warning, and `carnet
 * dupes` lists the pair with its score and reasons. */
static void test_dupes(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  json_t *j = JSON(f, "customer", "add", "--name", "Boulangerie Dupont SARL", "--postcode", "69003",
                   "--phone", "04 72 10 30 30", "--json");
  char *ref = strdup(jstr(j, "ref"));
  free_json(j);
  USER_ERROR(f, ref, "customer", "add", "--name", "Boulangerie Dupont Lyon", "--phone",
             "+33 (0)4 72-10-30-30");
  USER_ERROR(f, "same phone", "customer", "add", "--name", "Boulangerie Dupond", "--phone",
             "0033472103030");
  USER_ERROR(f, "--force", "customer", "add", "--name", "boulangerie dupont", "--postcode",
             "69003");
  free(OK(f, "customer", "add", "--name", "Pharmacie Centrale", "--postcode", "69003"));
  j = JSON(f, "customer", "list", "--json");
  assert_int_equal(J.array_size(j), 2); /* nothing created by the refusals */
  free_json(j);

  proc_result r;
  const char *const force[] = {
      "customer",       "add",     "--name", "Boulangerie Dupond", "--phone",
      "04.72.10.30.30", "--force", NULL};
  assert_int_equal(run_args(f, &r, force), 0);
  assert_int_equal(strncmp(trim(r.out), "CU", 2), 0); /* the new customer's reference */
  assert_non_null(strstr(r.err, "warning"));
  assert_non_null(strstr(r.err, ref));
  proc_result_free(&r);

  j = JSON(f, "dupes", "--json");
  assert_int_equal(J.array_size(j), 1);
  json_t *pair = J.array_get(j, 0);
  assert_true(J.number_value(jget(pair, "score")) >= 0.8);
  assert_true(has_str(jget(pair, "reasons"), "same phone"));
  assert_string_equal(jstr(jget(pair, "a"), "refcode"), ref);
  free_json(j);
  char *table = OK(f, "dupes");
  assert_non_null(strstr(table, "SCORE"));
  assert_non_null(strstr(table, ref));
  assert_non_null(strstr(table, "same phone"));
  free(table);
  j = JSON(f, "dupes", "--min-score", "1", "--json");
  assert_int_equal(J.array_size(j), 0);
  free_json(j);
  USER_ERROR(f, "--min-score", "dupes", "--min-score", "high");
  USER_ERROR(f, "--min-score", "dupes", "--min-score", "1.5");
  free(ref);
}

/* The pair of `dupes --min-score 0 --json` whose sides are refs x and y. */
static json_t *find_pair(json_t *pairs, const char *x, const char *y) {
  for (size_t i = 0; i < J.array_size(pairs); i++) {
    json_t *p = J.array_get(pairs, i);
    const char *a = jstr(jget(p, "a"), "refcode"), *b = jstr(jget(p, "b"), "refcode");
    if ((strcmp(a, x) == 0 && strcmp(b, y) == 0) || (strcmp(a, y) == 0 && strcmp(b, x) == 0))
      return p;
  }
  fail_msg("no pair %s %s", x, y);
  return NULL;
}

static char *add_ref(const fx *f, const char *const *args) {
  const char *argv[32] = {"customer", "add"};
  size_t n = 2;
  for (; *args && n < 29; args++)
    argv[n++] = *args;
  argv[n++] = "--json";
  argv[n] = NULL;
  json_t *j = json_args(f, argv);
  char *ref = strdup(jstr(j, "ref"));
  free_json(j);
  return ref;
}

#define ADD_REF(f, ...) add_ref((f), (const char *const[]){__VA_ARGS__, NULL})

/* Homonyms are not duplicates (issue 18, point 2): a same name in the same
 * postcode with e-mails and mobiles that differ, the same trade name with
 * other SIRETs, legal forms and contact persons, another establishment of
 * one company; `customer add` takes them without --force, `dupes` lists
 * none of them at the default score, and says why at --min-score 0, and
 * which names matched. */
static void test_dupes_homonyms(void **state) {
  fx *f = *state;
  free(OK(f, "init"));
  char *jean1 = ADD_REF(f, "--name", "Jean Martin", "--postcode", "69003", "--city", "Lyon",
                        "--mobile", "06 11 22 33 44", "--email", "jean.martin@orange.fr");
  char *jean2 = ADD_REF(f, "--name", "Jean Martin", "--postcode", "69003", "--city", "Lyon",
                        "--mobile", "07 55 66 77 88", "--email", "jmartin69@free.fr");
  char *noel = ADD_REF(f, "--name", "Noël Blanc", "--company=Garage Blanc SARL", "--postcode",
                       "69003", "--siret", "73282932000017");
  char *cecile = ADD_REF(f, "--name", "Cécile Blanc", "--company=Garage Blanc SA", "--postcode",
                         "69003", "--siret", "40483304800014");
  char *other = ADD_REF(f, "--name", "Garage Blanc", "--company=Garage Blanc SARL", "--postcode",
                        "69003", "--siret", "73282932000025");
  /* The same person again: a true duplicate, refused. */
  USER_ERROR(f, "likely duplicate", "customer", "add", "--name", "MARTIN Jean", "--postcode",
             "69003", "--mobile", "+33 6 11 22 33 44");
  json_t *j = JSON(f, "dupes", "--json");
  assert_int_equal(J.array_size(j), 0);
  free_json(j);
  j = JSON(f, "dupes", "--min-score", "0", "--json");
  json_t *p = find_pair(j, jean1, jean2);
  assert_true(J.number_value(jget(p, "score")) < 0.8);
  assert_string_equal(jstr(p, "names_matched"), "person");
  assert_true(has_str(jget(p, "against"), "different e-mails"));
  assert_true(has_str(jget(p, "against"), "different mobiles"));
  p = find_pair(j, noel, cecile);
  assert_true(J.number_value(jget(p, "score")) < 0.8);
  assert_string_equal(jstr(p, "names_matched"), "company");
  assert_true(has_str(jget(p, "against"), "different SIRET"));
  assert_true(has_str(jget(p, "against"), "different legal forms"));
  assert_true(has_str(jget(p, "against"), "different contact persons"));
  p = find_pair(j, noel, other);
  assert_true(J.number_value(jget(p, "score")) <= 0.5);
  assert_true(has_str(jget(p, "against"), "same company, other establishment"));
  free_json(j);
  char *table = OK(f, "dupes", "--min-score", "0");
  assert_non_null(strstr(table, "Noël Blanc / Garage Blanc SARL"));
  assert_non_null(strstr(table, "similar company name"));
  assert_non_null(strstr(table, "against: "));
  free(table);
  free(jean1);
  free(jean2);
  free(noel);
  free(cecile);
  free(other);
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

static void test_changes_bad_files(void **state) {
  fx *f = *state;
  char a[1200], b[1200], file[1200];
  path_in(f, "A", a, sizeof a);
  path_in(f, "B", b, sizeof b);
  path_in(f, "bad.carnet", file, sizeof file);
  free(OK(f, "init", "--dir", a));
  free(OK(f, "init", "--dir", b));

  write_file(file, "this is not a change file\n", 26);
  USER_ERROR(f, "not a Carnet change file", "--dir", b, "changes", "apply", file);
  write_file(file, "", 0);
  USER_ERROR(f, "not a Carnet change file", "--dir", b, "changes", "apply", file);
  write_file(file, "CARNETC1\xff\xff\xff\xff", 12); /* a length over the limit */
  USER_ERROR(f, "not a Carnet change file", "--dir", b, "changes", "apply", file);
  write_file(file, "CARNETC1\x00\x00\x00\x10garbage!garbage!", 28);
  USER_ERROR(f, "damaged", "--dir", b, "changes", "apply", file);

  /* A real export cut short: nothing of it is applied. */
  free(add_customer(f, a, "Dupont SARL"));
  export_to(f, a, file);
  struct stat sb;
  assert_int_equal(stat(file, &sb), 0);
  assert_int_equal(truncate(file, sb.st_size - 3), 0);
  USER_ERROR(f, "truncated at byte", "--dir", b, "changes", "apply", file);
  json_t *l = JSON(f, "--dir", b, "customer", "list", "--json");
  assert_int_equal(J.array_size(l), 0);
  free_json(l);
  USER_ERROR(f, "missing -o", "--dir", a, "changes", "export");
}

int main(void) {
  if (load_jansson() != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_init, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_acceptance, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_edit_roundtrip, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_consent, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_contacts, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_delete, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_search_filters, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_list_order, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_errors, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_no_replica, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_newer_schema, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_help, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_dir_resolution, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_changes_sync, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_changes_batches, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_changes_bad_files, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_dupes, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_dupes_homonyms, fx_setup, fx_teardown),
  };
  int failed = cmocka_run_group_tests_name("cli", tests, NULL, NULL);
  dlclose(J.lib);
  return failed;
}
