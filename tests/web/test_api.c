/* tests/web/test_api.c - the HTTP API of the web console against a real
 * `carnet web` process (docs/HTTP-API.md): each endpoint's happy path,
 * requests without or with a wrong token (401, nothing done), malformed
 * JSON, unknown ids (404), bodies over the limit (413), a wrong Host (403),
 * and that a failed request changed nothing (the replica's digest, read by
 * another `carnet` process, is the same before and after).
 *
 * One `carnet web` serves the whole group (starting it is the slow part);
 * each test makes its own customers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/web/webclient.h"

static web W;
static char DIR_[1100];

static int group_setup(void **state) {
  if (fx_setup(state) != 0) return -1;
  curl_global_init(CURL_GLOBAL_ALL);
  snprintf(DIR_, sizeof DIR_, "%s", path("office"));
  init(DIR_);
  const char *argv[] = {F->bin, "--dir", DIR_, "web", "--http", "127.0.0.1:0", NULL};
  wc_start(&W, argv, "web.log");
  return 0;
}

static int group_teardown(void **state) {
  curl_global_cleanup();
  return fx_teardown(state);
}

/* A customer made through the API; its id into `id` (33 bytes). */
static void make_customer(const char *json, char *id) {
  resp r = wc(&W, "POST", "/api/customers", json);
  EXPECT(r, 201);
  snprintf(id, CARNET_ID_HEX_LEN + 1, "%s", jget(&r, "id"));
  resp_free(&r);
}

/* --- The page, and the checks before any handler -------------------------------- */

static void test_page_and_headers(void **state) {
  (void)state;
  char v[512];
  resp r = wc_send(&W, 0, "GET", "/", NULL, NULL, 0, NULL, NULL);
  EXPECT(r, 200);
  assert_non_null(strstr(r.body, "<html"));
  assert_non_null(
      strstr(resp_header(&r, "Content-Security-Policy", v, sizeof v), "default-src 'self'"));
  assert_non_null(strstr(v, "frame-ancestors 'none'"));
  assert_string_equal(resp_header(&r, "X-Content-Type-Options", v, sizeof v), "nosniff");
  assert_string_equal(resp_header(&r, "Referrer-Policy", v, sizeof v), "no-referrer");
  assert_string_equal(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof v), "");
  char etag[64];
  resp_header(&r, "ETag", etag, sizeof etag);
  assert_true(strlen(etag) > 2);
  resp_free(&r);
  char inm[128];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  r = wc_send(&W, 0, "GET", "/index.html", NULL, NULL, 0, NULL, inm);
  EXPECT(r, 304);
  resp_free(&r);
  r = wc_send(&W, 0, "GET", "/app.js", NULL, NULL, 0, NULL, NULL);
  EXPECT(r, 200);
  assert_non_null(strstr(resp_header(&r, "Content-Type", v, sizeof v), "javascript"));
  resp_free(&r);
  r = wc_send(&W, 0, "GET", "/nothing-here", NULL, NULL, 0, NULL, NULL);
  EXPECT(r, 404);
  resp_free(&r);
  /* DIR/web.url holds the URL printed, readable by its owner only. */
  char *url = slurp(path("office/web.url"));
  assert_non_null(strstr(url, W.token));
  free(url);
  struct stat st;
  assert_int_equal(stat(path("office/web.url"), &st), 0);
  assert_int_equal(st.st_mode & 077, 0);
}

static void test_host_origin_options(void **state) {
  (void)state;
  resp r = wc_send(&W, WC_TOKEN, "GET", "/api/status", NULL, NULL, 0, "evil.example:80", NULL);
  EXPECT(r, 403);
  assert_string_equal(err_code(&r), "CARNET_EPERM");
  resp_free(&r);
  r = wc_send(&W, 0, "GET", "/", NULL, NULL, 0, "attacker.test", NULL);
  EXPECT(r, 403); /* DNS rebinding: the page too */
  resp_free(&r);
  r = wc_send(&W, WC_TOKEN, "GET", "/api/status", NULL, NULL, 0, NULL,
              "Origin: http://evil.example");
  EXPECT(r, 403);
  resp_free(&r);
  char origin[160];
  snprintf(origin, sizeof origin, "Origin: http://%s", W.host);
  r = wc_send(&W, WC_TOKEN, "GET", "/api/status", NULL, NULL, 0, NULL, origin);
  EXPECT(r, 200);
  resp_free(&r);
  r = wc_send(&W, WC_TOKEN, "OPTIONS", "/api/customers", NULL, NULL, 0, NULL,
              "Access-Control-Request-Method: POST");
  EXPECT(r, 405);
  char v[64];
  assert_string_equal(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof v), "");
  resp_free(&r);
}

/* Every endpoint refuses a request without the token, or with a wrong
 * one, and does nothing. */
static void test_auth_everywhere(void **state) {
  (void)state;
  static const char *const calls[][2] = {
      {"GET", "/api/status"},
      {"GET", "/api/events"},
      {"GET", "/api/customers"},
      {"POST", "/api/customers"},
      {"GET", "/api/customers/x"},
      {"PATCH", "/api/customers/x"},
      {"DELETE", "/api/customers/x"},
      {"GET", "/api/customers/x/contacts"},
      {"GET", "/api/customers/x/consents"},
      {"POST", "/api/customers/x/consents"},
      {"GET", "/api/customers/x/history"},
      {"POST", "/api/customers/x/erase"},
      {"GET", "/api/customers/x/erase"},
      {"GET", "/api/customers/x/subject-export"},
      {"POST", "/api/contacts"},
      {"GET", "/api/contacts/x"},
      {"PATCH", "/api/contacts/x"},
      {"DELETE", "/api/contacts/x"},
      {"GET", "/api/documents"},
      {"POST", "/api/documents"},
      {"GET", "/api/documents/x"},
      {"PATCH", "/api/documents/x"},
      {"DELETE", "/api/documents/x"},
      {"POST", "/api/documents/x/lines"},
      {"PATCH", "/api/documents/x/lines/y"},
      {"DELETE", "/api/documents/x/lines/y"},
      {"POST", "/api/documents/x/lines/y/move"},
      {"POST", "/api/documents/x/validate"},
      {"POST", "/api/documents/x/status"},
      {"POST", "/api/documents/x/convert"},
      {"GET", "/api/actions"},
      {"POST", "/api/actions"},
      {"GET", "/api/actions/x"},
      {"PATCH", "/api/actions/x"},
      {"DELETE", "/api/actions/x"},
      {"GET", "/api/reminders"},
      {"GET", "/api/reminders/due"},
      {"POST", "/api/reminders"},
      {"GET", "/api/reminders/x"},
      {"PATCH", "/api/reminders/x"},
      {"DELETE", "/api/reminders/x"},
      {"GET", "/api/duplicates"},
      {"GET", "/api/duplicates/review"},
      {"POST", "/api/duplicates/dismiss"},
      {"POST", "/api/duplicates/set-aside"},
      {"POST", "/api/merge"},
      {"POST", "/api/unmerge"},
      {"POST", "/api/import"},
      {"GET", "/api/export"},
      {"GET", "/api/peers"},
      {"POST", "/api/invite"},
      {"GET", "/api/erasures"},
      {"GET", "/api/nothing"},
  };
  const char *body = "{\"name\":\"Intrus\",\"channel\":\"email\",\"granted\":true}";
  char *before = digest(DIR_);
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    for (unsigned how = 0; how < 3; how++) {
      unsigned flags = how == 0 ? 0 : how == 1 ? WC_BADTOKEN : WC_BADTOKEN | WC_XTOKEN;
      bool has_body = strcmp(calls[i][0], "GET") != 0 && strcmp(calls[i][0], "DELETE") != 0;
      resp r = wc_send(&W, flags, calls[i][0], calls[i][1], NULL, has_body ? body : NULL,
                       has_body ? strlen(body) : 0, NULL, NULL);
      if (r.status != 401)
        fail_msg("%s %s without a valid token: %ld %s", calls[i][0], calls[i][1], r.status,
                 r.body ? r.body : "");
      assert_string_equal(err_code(&r), "CARNET_EPERM");
      resp_free(&r);
    }
  }
  char *after = digest(DIR_);
  assert_string_equal(before, after);
  free(before);
  free(after);
}

static void test_routes_methods_limits(void **state) {
  (void)state;
  resp r = wc(&W, "GET", "/api/no/such/thing", NULL);
  EXPECT(r, 404);
  assert_string_equal(err_code(&r), "CARNET_ENOTFOUND");
  resp_free(&r);
  r = wc(&W, "PUT", "/api/customers", "{}");
  EXPECT(r, 405);
  char v[64];
  assert_non_null(strstr(resp_header(&r, "Allow", v, sizeof v), "POST"));
  resp_free(&r);
  /* Malformed JSON, a body that is not an object, a wrong content type. */
  char *before = digest(DIR_);
  r = wc(&W, "POST", "/api/customers", "{\"name\": \"Jean\",");
  EXPECT(r, 400);
  assert_string_equal(err_code(&r), "CARNET_EINVAL");
  assert_non_null(
      strstr(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
             "malformed JSON"));
  resp_free(&r);
  r = wc(&W, "POST", "/api/customers", "[1,2]");
  EXPECT(r, 400);
  resp_free(&r);
  r = wc_send(&W, WC_TOKEN, "POST", "/api/customers", "text/plain", "{\"name\":\"x\"}", 12, NULL,
              NULL);
  EXPECT(r, 415);
  resp_free(&r);
  /* Over the limit: 1 MiB of JSON. */
  size_t big = (1u << 20) + 100;
  char *huge = malloc(big + 1);
  assert_non_null(huge);
  memset(huge, ' ', big);
  memcpy(huge, "{\"name\":\"", 9);
  huge[big - 2] = '"';
  huge[big - 1] = '}';
  huge[big] = '\0';
  r = wc(&W, "POST", "/api/customers", huge);
  EXPECT(r, 413);
  assert_string_equal(err_code(&r), "CARNET_ELIMIT");
  resp_free(&r);
  free(huge);
  /* Query parameters out of range. */
  r = wc(&W, "GET", "/api/customers?limit=0", NULL);
  EXPECT(r, 400);
  assert_string_equal(err_field(&r), "limit");
  resp_free(&r);
  r = wc(&W, "GET", "/api/customers?cursor=zzz", NULL);
  EXPECT(r, 400);
  resp_free(&r);
  char *after = digest(DIR_);
  assert_string_equal(before, after);
  free(before);
  free(after);
}

/* --- Customers, contacts, consents ------------------------------------------------ */

static void test_customers(void **state) {
  (void)state;
  char id[40], path_[256];
  make_customer(
      "{\"name\":\"Hélène Martin\",\"phones\":[{\"type\":\"mobile\",\"number\":\"06 11 22 33 "
      "44\"}],"
      "\"tags\":[\"vip\"],\"address\":{\"city\":\"Lyon\"},\"sales_rep\":\"anne\","
      "\"discount\":5.5,\"custom\":{\"surface\":{\"type\":\"number\",\"value\":\"120\"}}}",
      id);
  snprintf(path_, sizeof path_, "/api/customers/%s", id);
  resp r = wc(&W, "GET", path_, NULL);
  EXPECT(r, 200);
  assert_string_equal(jget(&r, "name"), "Hélène Martin");
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(r.json, "phones"), 0), "number")),
                      "+33611223344");
  assert_true(json_real_value(json_object_get(r.json, "discount")) == 5.5);
  char ref[64];
  snprintf(ref, sizeof ref, "%s", jget(&r, "ref"));
  resp_free(&r);
  /* By reference code and by id prefix, as the command line. */
  snprintf(path_, sizeof path_, "/api/customers/%s", ref);
  r = wc(&W, "GET", path_, NULL);
  EXPECT(r, 200);
  resp_free(&r);
  /* Accent-insensitive search, and the filters. */
  r = wc(&W, "GET", "/api/customers?q=helene", NULL);
  EXPECT(r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
  resp_free(&r);
  r = wc(&W, "GET", "/api/customers?q=0611", NULL);
  EXPECT(r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
  resp_free(&r);
  r = wc(&W, "GET", "/api/customers?tag=vip&role=prospect&sales_rep=anne", NULL);
  EXPECT(r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
  resp_free(&r);
  r = wc(&W, "GET", "/api/customers?tag=nobody", NULL);
  assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
  resp_free(&r);
  /* Edit: a set given whole, a scalar cleared. */
  snprintf(path_, sizeof path_, "/api/customers/%s", id);
  r = wc(&W, "PATCH", path_,
         "{\"tags\":[\"gold\"],\"sales_rep\":null,\"emails\":[\"h@example.fr\"]}");
  EXPECT(r, 200);
  assert_string_equal(json_string_value(json_array_get(json_object_get(r.json, "tags"), 0)),
                      "gold");
  assert_int_equal(json_array_size(json_object_get(r.json, "tags")), 1);
  assert_true(json_is_null(json_object_get(r.json, "sales_rep")));
  resp_free(&r);
  r = wc(&W, "PATCH", path_, "{}");
  EXPECT(r, 400);
  resp_free(&r);
  /* A bad value: 400 with the CLI's message and field, nothing written. */
  char *before = digest(DIR_);
  r = wc(&W, "POST", "/api/customers", "{\"name\":\"Jean\",\"phones\":[\"123\"]}");
  EXPECT(r, 400);
  assert_string_equal(err_field(&r), "phones");
  assert_non_null(
      strstr(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
             "invalid phone number '123'"));
  resp_free(&r);
  r = wc(&W, "PATCH", path_, "{\"name\":\"Hélène B\",\"emails\":[\"jean@\"]}");
  EXPECT(r, 400);
  assert_string_equal(err_field(&r), "emails");
  resp_free(&r);
  r = wc(&W, "POST", "/api/customers", "{\"name\":\"X\",\"discount\":150}");
  EXPECT(r, 400);
  assert_string_equal(err_field(&r), "discount");
  resp_free(&r);
  r = wc(&W, "POST", "/api/customers", "{\"name\":\"X\",\"colour\":\"red\"}");
  EXPECT(r, 400);
  resp_free(&r);
  char *after = digest(DIR_);
  assert_string_equal(before, after);
  free(before);
  free(after);
  /* Unknown ids. */
  r = wc(&W, "GET", "/api/customers/ffffffffffffffffffffffffffffffff", NULL);
  EXPECT(r, 404);
  assert_string_equal(err_code(&r), "CARNET_ENOTFOUND");
  resp_free(&r);
  r = wc(&W, "PATCH", "/api/customers/CU0000-XXXX-9999", "{\"name\":\"y\"}");
  EXPECT(r, 404);
  resp_free(&r);
  /* Delete, then again: 409. */
  r = wc(&W, "DELETE", path_, NULL);
  EXPECT(r, 200);
  assert_true(json_is_true(json_object_get(r.json, "deleted")));
  resp_free(&r);
  r = wc(&W, "DELETE", path_, NULL);
  EXPECT(r, 409);
  resp_free(&r);
  r = wc(&W, "GET", "/api/customers?q=helene", NULL);
  assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
  resp_free(&r);
  r = wc(&W, "GET", "/api/customers?q=helene&deleted=1", NULL);
  assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
  resp_free(&r);
}

/* A PATCH compares the body's phones with the stored ones in the
 * replica's region, as the write reads them: in a BE replica the Brussels
 * number "02 123 45 67" (not a French number) is the stored one, kept
 * with its type, not removed and added again untyped. */
static void test_patch_phones_in_region(void **state) {
  (void)state;
  char id[40], path_[256];
  OK1(DIR_, "config", "region", "BE");
  make_customer("{\"name\":\"Région Belge\",\"phones\":[{\"type\":\"home\",\"number\":\"02 123 45 "
                "67\"}]}",
                id);
  snprintf(path_, sizeof path_, "/api/customers/%s", id);
  resp r = wc(&W, "PATCH", path_,
              "{\"phones\":[\"02 123 45 67\"],\"address\":{\"city\":\"Bruxelles\"}}");
  EXPECT(r, 200);
  json_t *ph = json_object_get(r.json, "phones");
  assert_int_equal(json_array_size(ph), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(ph, 0), "number")),
                      "+3221234567");
  assert_string_equal(json_string_value(json_object_get(json_array_get(ph, 0), "type")), "home");
  resp_free(&r);
  OK1(DIR_, "config", "region", "FR");
}

static void test_paging(void **state) {
  (void)state;
  char id[40], seen[8][40];
  for (int i = 0; i < 5; i++) {
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"Pagination %c%c\",\"tags\":[\"page\"]}", 'a' + i,
             'a' + i);
    make_customer(body, id);
  }
  char url[256] = "/api/customers?tag=page&limit=2";
  int n = 0, pages = 0;
  for (;;) {
    resp r = wc(&W, "GET", url, NULL);
    EXPECT(r, 200);
    json_t *items = json_object_get(r.json, "items"), *it;
    size_t i;
    json_array_foreach(items, i, it)
        snprintf(seen[n++], 40, "%s", json_string_value(json_object_get(it, "id")));
    pages++;
    const char *next = jget(&r, "next");
    if (next == NULL) {
      resp_free(&r);
      break;
    }
    snprintf(url, sizeof url, "/api/customers?tag=page&limit=2&cursor=%s", next);
    resp_free(&r);
    assert_true(pages < 10);
  }
  assert_int_equal(n, 5);
  assert_int_equal(pages, 3);
  for (int i = 1; i < n; i++)
    assert_true(strcmp(seen[i - 1], seen[i]) < 0);
}

/* A customer summary (docs/HTTP-API.md, "Duplicates and merges"): exactly
 * these keys. */
static void assert_summary(json_t *o, const char *id) {
  static const char *const keys[] = {"id",     "ref",  "name",  "company", "type", "emails",
                                     "phones", "tags", "siret", "deleted", "city", "postcode"};
  assert_true(json_is_object(o));
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (json_object_get(o, keys[i]) == NULL) fail_msg("summary without '%s'", keys[i]);
  if (json_object_size(o) != sizeof keys / sizeof keys[0])
    fail_msg("summary with %zu keys, want %zu", json_object_size(o), sizeof keys / sizeof keys[0]);
  if (id) assert_string_equal(json_string_value(json_object_get(o, "id")), id);
}

static void test_duplicate_refused_then_forced(void **state) {
  (void)state;
  char id[40];
  make_customer("{\"name\":\"Doublon SARL\",\"emails\":[\"contact@doublon.fr\"]}", id);
  char *before = digest(DIR_);
  resp r = wc(&W, "POST", "/api/customers",
              "{\"name\":\"Doublon\",\"emails\":[\"contact@doublon.fr\"]}");
  EXPECT(r, 409);
  assert_string_equal(err_code(&r), "CARNET_EEXIST");
  json_t *dups = json_object_get(json_object_get(r.json, "error"), "duplicates");
  assert_int_equal(json_array_size(dups), 1);
  /* Each: the customer already in the book, with its score and reasons
   * (the refused one has no id: it is not listed). */
  json_t *d0 = json_array_get(dups, 0);
  assert_null(json_object_get(d0, "a"));
  assert_null(json_object_get(d0, "b"));
  assert_summary(json_object_get(d0, "customer"), id);
  assert_string_equal(json_string_value(json_object_get(json_object_get(d0, "customer"), "name")),
                      "Doublon SARL");
  assert_true(json_real_value(json_object_get(d0, "score")) >= 0.8);
  assert_string_equal(json_string_value(json_array_get(json_object_get(d0, "reasons"), 0)),
                      "same email");
  assert_true(json_is_real(json_object_get(d0, "name_similarity")));
  assert_true(json_is_boolean(json_object_get(d0, "same_place")));
  resp_free(&r);
  char *after = digest(DIR_);
  assert_string_equal(before, after);
  free(before);
  free(after);
  r = wc(&W, "POST", "/api/customers",
         "{\"name\":\"Doublon\",\"emails\":[\"contact@doublon.fr\"],\"force\":true}");
  EXPECT(r, 201);
  resp_free(&r);
}

static void test_contacts_consents(void **state) {
  (void)state;
  char cu[40], path_[256];
  make_customer("{\"name\":\"Atelier Contacts\",\"company\":\"Atelier Contacts\"}", cu);
  resp r = wcf(&W, "POST", "/api/contacts",
               "{\"customer\":\"%s\",\"name\":\"Paul\",\"role\":\"director\"}", cu);
  EXPECT(r, 201);
  char ct[40];
  snprintf(ct, sizeof ct, "%s", jget(&r, "id"));
  resp_free(&r);
  r = wc(&W, "POST", "/api/contacts", "{\"name\":\"Orphan\"}");
  EXPECT(r, 400);
  assert_string_equal(err_field(&r), "customer");
  resp_free(&r);
  r = wc(&W, "POST", "/api/contacts",
         "{\"customer\":\"ffffffffffffffffffffffffffffffff\",\"name\":\"O\"}");
  EXPECT(r, 400);
  resp_free(&r);
  snprintf(path_, sizeof path_, "/api/customers/%s/contacts", cu);
  r = wc(&W, "GET", path_, NULL);
  EXPECT(r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
  resp_free(&r);
  snprintf(path_, sizeof path_, "/api/contacts/%s", ct);
  r = wc(&W, "PATCH", path_, "{\"emails\":[\"paul@atelier.fr\"]}");
  EXPECT(r, 200);
  resp_free(&r);
  r = wc(&W, "GET", path_, NULL);
  EXPECT(r, 200);
  resp_free(&r);
  r = wc(&W, "DELETE", path_, NULL);
  EXPECT(r, 200);
  resp_free(&r);
  /* Consents: off until granted, every change kept. */
  snprintf(path_, sizeof path_, "/api/customers/%s/consents", cu);
  r = wc(&W, "GET", path_, NULL);
  EXPECT(r, 200);
  assert_true(json_is_false(
      json_object_get(json_object_get(json_object_get(r.json, "consents"), "email"), "granted")));
  resp_free(&r);
  r = wc(&W, "POST", path_, "{\"channel\":\"email\",\"granted\":true,\"note\":\"salon 2026\"}");
  EXPECT(r, 200);
  assert_true(json_is_true(
      json_object_get(json_object_get(json_object_get(r.json, "consents"), "email"), "granted")));
  assert_int_equal(json_array_size(json_object_get(r.json, "log")), 1);
  resp_free(&r);
  r = wc(&W, "POST", path_, "{\"channel\":\"fax\",\"granted\":true}");
  EXPECT(r, 400);
  assert_string_equal(err_field(&r), "channel");
  resp_free(&r);
  r = wc(&W, "POST", "/api/customers/ffffffffffffffffffffffffffffffff/consents",
         "{\"channel\":\"sms\",\"granted\":true}");
  EXPECT(r, 404);
  resp_free(&r);
}

/* --- Documents, actions, reminders, history --------------------------------------- */

/* An error answer whose field is `field` and whose message is `msg`
 * exactly. */
static void expect_error(resp *r, const char *field, const char *msg) {
  EXPECT(*r, 400);
  const char *got =
      json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
  if (err_field(r) == NULL || strcmp(err_field(r), field) != 0)
    fail_msg("field %s, want %s (%s)", err_field(r) ? err_field(r) : "null", field, got);
  if (got == NULL || strcmp(got, msg) != 0) fail_msg("message \"%s\",\n want \"%s\"", got, msg);
  resp_free(r);
}

/* Messages name the API's keys, never a command line's flags, and show a
 * value as it was sent (issue 16's review, points 3 and 4). */
static void test_messages_name_api_keys(void **state) {
  (void)state;
  char cu[40], doc[40], p[256];
  make_customer("{\"name\":\"Client Messages\"}", cu);
  resp r = wc(&W, "POST", "/api/customers",
              "{\"name\":\"X\",\"custom\":{\"surface\":{\"type\":\"number\",\"value\":\"cent\"}}}");
  expect_error(&r, "custom.surface", "invalid value 'cent' for custom field 'surface' (number)");
  snprintf(p, sizeof p, "/api/customers/%s", cu);
  r = wc(&W, "PATCH", p, "{\"custom\":{\"depuis\":{\"type\":\"date\",\"value\":\"15/03/2023\"}}}");
  expect_error(&r, "custom.depuis",
               "invalid value '15/03/2023' for custom field 'depuis' (date YYYY-MM-DD)");
  r = wc(&W, "PATCH", p, "{\"custom\":{\"x\":{\"type\":\"bool\",\"value\":\"1\"}}}");
  expect_error(&r, "custom.x",
               "unknown custom field type 'bool': use string, number, date, list or checkbox");
  r = wc(&W, "PATCH", p, "{\"discount\":\"5.555\"}");
  expect_error(&r, "discount",
               "invalid discount '5.555': give a percentage from 0 to 100 with at most 2 "
               "decimals, e.g. 5.5");
  r = wc(&W, "PATCH", p, "{\"discount\":150}");
  expect_error(&r, "discount",
               "invalid discount '150': give a percentage from 0 to 100 with at most 2 "
               "decimals, e.g. 5.5");
  r = wcf(&W, "POST", "/api/documents",
          "{\"type\":\"quote\",\"customer\":\"%s\",\"due_date\":\"32/01/2026\"}", cu);
  expect_error(&r, "due_date",
               "invalid date '32/01/2026' for due_date: YYYY-MM-DD, e.g. 2026-11-20");
  r = wcf(&W, "POST", "/api/documents", "{\"type\":\"quote\",\"customer\":\"%s\"}", cu);
  EXPECT(r, 201);
  snprintf(doc, sizeof doc, "%s", jget(&r, "id"));
  resp_free(&r);
  snprintf(p, sizeof p, "/api/documents/%s", doc);
  r = wc(&W, "PATCH", p, "{\"date\":\"2026-02-30\"}");
  expect_error(&r, "date", "invalid date '2026-02-30' for date: YYYY-MM-DD, e.g. 2026-11-20");
  snprintf(p, sizeof p, "/api/documents/%s/lines", doc);
  r = wc(&W, "POST", p, "{\"label\":\"Bad\",\"qty\":\"abc\"}");
  expect_error(&r, "qty",
               "invalid quantity 'abc' for qty: a number with at most 3 decimals, e.g. 2.5");
  r = wc(&W, "POST", p, "{\"label\":\"Bad\",\"qty\":2.5555}");
  expect_error(&r, "qty",
               "invalid quantity '2.5555' for qty: a number with at most 3 decimals, e.g. 2.5");
  r = wc(&W, "POST", p, "{\"label\":\"Bad\",\"unit_price\":\"1,2,3\"}");
  expect_error(
      &r, "unit_price",
      "invalid amount '1,2,3' for unit_price: a number with at most 2 decimals, e.g. 19.99");
  r = wc(&W, "POST", p, "{\"label\":\"Bad\",\"vat_rate\":150}");
  expect_error(&r, "vat_rate",
               "invalid percentage '150' for vat_rate: 0 to 100 with at most 2 decimals, e.g. 5.5");
  r = wc(&W, "GET", "/api/documents?from=2026-13-01", NULL);
  expect_error(&r, "from", "invalid date '2026-13-01' for from: YYYY-MM-DD, e.g. 2026-11-20");
  r = wc(&W, "GET", "/api/reminders/due?date=demain", NULL);
  expect_error(&r, "date", "invalid date 'demain' for date: YYYY-MM-DD, e.g. 2026-11-20");
  r = wc(&W, "GET", "/api/duplicates?min_score=x", NULL);
  expect_error(&r, "min_score", "invalid min_score 'x': a number between 0 and 1");
}

static void test_documents(void **state) {
  (void)state;
  char cu[40], doc[40], inv[40], p[256];
  make_customer("{\"name\":\"Client Devis\"}", cu);
  resp r = wcf(&W, "POST", "/api/documents",
               "{\"type\":\"quote\",\"customer\":\"%s\",\"validity_days\":30}", cu);
  EXPECT(r, 201);
  snprintf(doc, sizeof doc, "%s", jget(&r, "id"));
  assert_string_equal(jget(&r, "status"), "draft");
  resp_free(&r);
  r = wcf(&W, "POST", "/api/documents", "{\"type\":\"bill\",\"customer\":\"%s\"}", cu);
  EXPECT(r, 400);
  assert_string_equal(err_field(&r), "type");
  resp_free(&r);
  snprintf(p, sizeof p, "/api/documents/%s/validate", doc);
  r = wc(&W, "POST", p, NULL);
  EXPECT(r, 400); /* no line */
  resp_free(&r);
  snprintf(p, sizeof p, "/api/documents/%s/lines", doc);
  r = wc(&W, "POST", p,
         "{\"label\":\"Table\",\"qty\":\"2\",\"unit_price\":\"100.00\",\"vat_rate\":\"20\"}");
  EXPECT(r, 201);
  assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "totals"), "ttc")),
                      "240.00");
  char line[20];
  snprintf(line, sizeof line, "%s",
           json_string_value(
               json_object_get(json_array_get(json_object_get(r.json, "lines"), 0), "id")));
  resp_free(&r);
  r = wc(&W, "POST", p, "{\"label\":\"Bad\",\"qty\":\"2.12345\"}");
  EXPECT(r, 400);
  assert_string_equal(err_field(&r), "qty");
  resp_free(&r);
  snprintf(p, sizeof p, "/api/documents/%s/lines/%s", doc, line);
  r = wc(&W, "PATCH", p, "{\"unit_price\":150}");
  EXPECT(r, 200);
  assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "totals"), "ht")),
                      "300.00");
  resp_free(&r);
  snprintf(p, sizeof p, "/api/documents/%s/lines/0000000000000000", doc);
  r = wc(&W, "DELETE", p, NULL);
  EXPECT(r, 404);
  resp_free(&r);
  snprintf(p, sizeof p, "/api/documents/%s/validate", doc);
  r = wc(&W, "POST", p, NULL);
  EXPECT(r, 200);
  assert_non_null(jget(&r, "number"));
  resp_free(&r);
  r = wc(&W, "POST", p, NULL);
  EXPECT(r, 409); /* already validated */
  resp_free(&r);
  snprintf(p, sizeof p, "/api/documents/%s", doc);
  r = wc(&W, "PATCH", p, "{\"notes\":\"too late\"}");
  EXPECT(r, 409); /* validated: read-only */
  resp_free(&r);
  snprintf(p, sizeof p, "/api/documents/%s/convert", doc);
  r = wc(&W, "POST", p, "{\"to\":\"invoice\"}");
  EXPECT(r, 201);
  snprintf(inv, sizeof inv, "%s", jget(&r, "id"));
  assert_string_equal(jget(&r, "source"), doc);
  resp_free(&r);
  snprintf(p, sizeof p, "/api/documents/%s/validate", inv);
  r = wc(&W, "POST", p, NULL);
  EXPECT(r, 200);
  resp_free(&r);
  snprintf(p, sizeof p, "/api/documents/%s/status", inv);
  r = wc(&W, "POST", p, "{\"status\":\"paid\",\"date\":\"2026-12-01\"}");
  EXPECT(r, 200);
  assert_string_equal(jget(&r, "status"), "paid");
  resp_free(&r);
  r = wc(&W, "POST", p, "{\"status\":\"paid\"}");
  EXPECT(r, 409);
  resp_free(&r);
  snprintf(p, sizeof p, "/api/documents?customer=%s&type=invoice", cu);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
  assert_non_null(
      json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "customer_label"));
  resp_free(&r);
  snprintf(p, sizeof p, "/api/customers/%s/history", cu);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 200);
  assert_string_equal(jget(&r, "balance"), "0.00");
  assert_true(json_array_size(json_object_get(r.json, "entries")) >= 3);
  resp_free(&r);
  r = wc(&W, "GET", "/api/documents/ffffffffffffffffffffffffffffffff", NULL);
  EXPECT(r, 404);
  resp_free(&r);
}

static void test_actions_reminders(void **state) {
  (void)state;
  char cu[40], p[256], act[40], rem[40];
  make_customer("{\"name\":\"Client Actions\"}", cu);
  resp r = wcf(
      &W, "POST", "/api/actions",
      "{\"channel\":\"visit\",\"customers\":[\"%s\"],\"rating\":\"4\",\"details\":\"showroom\"}",
      cu);
  EXPECT(r, 201);
  snprintf(act, sizeof act, "%s", jget(&r, "id"));
  assert_int_equal(json_array_size(json_object_get(r.json, "customer_labels")), 1);
  resp_free(&r);
  r = wc(&W, "POST", "/api/actions", "{\"details\":\"no channel\"}");
  EXPECT(r, 400);
  resp_free(&r);
  snprintf(p, sizeof p, "/api/actions?customer=%s", cu);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
  resp_free(&r);
  snprintf(p, sizeof p, "/api/actions/%s", act);
  r = wc(&W, "PATCH", p, "{\"rating\":\"green\"}");
  EXPECT(r, 200);
  resp_free(&r);
  r = wc(&W, "DELETE", p, NULL);
  EXPECT(r, 200);
  resp_free(&r);
  r = wcf(&W, "POST", "/api/reminders", "{\"customer\":\"%s\",\"comment\":\"rappeler\"}", cu);
  EXPECT(r, 201);
  snprintf(rem, sizeof rem, "%s", jget(&r, "id"));
  resp_free(&r);
  r = wc(&W, "GET", "/api/reminders/due", NULL);
  EXPECT(r, 200);
  assert_true(json_array_size(json_object_get(r.json, "items")) >= 1);
  resp_free(&r);
  r = wc(&W, "GET", "/api/reminders/due?week=1", NULL);
  EXPECT(r, 200);
  resp_free(&r);
  r = wc(&W, "GET", "/api/reminders/due?date=2026-02-30", NULL);
  EXPECT(r, 400);
  resp_free(&r);
  snprintf(p, sizeof p, "/api/reminders/%s", rem);
  r = wc(&W, "PATCH", p, "{\"done\":true}");
  EXPECT(r, 200);
  assert_true(json_is_true(json_object_get(r.json, "done")));
  resp_free(&r);
  snprintf(p, sizeof p, "/api/reminders?customer=%s", cu);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
  resp_free(&r);
}

/* --- Duplicates, erasure, import and export, peers --------------------------------- */

static void test_duplicates_merge(void **state) {
  (void)state;
  char a[40], b[40], c[40];
  make_customer("{\"name\":\"Boulangerie Pâques\",\"phones\":[\"01 42 00 00 01\"]}", a);
  make_customer("{\"name\":\"Boulangerie Paques\",\"phones\":[\"01 42 00 00 01\"],\"force\":true}",
                b);
  make_customer("{\"name\":\"Autre Boulangerie\",\"phones\":[\"01 42 00 00 01\"],\"force\":true}",
                c);
  resp r = wc(&W, "GET", "/api/duplicates?min_score=0.5", NULL);
  EXPECT(r, 200);
  assert_true(json_array_size(json_object_get(r.json, "items")) >= 1);
  /* The documented shape: two summaries, score, reasons, similarity,
   * place; nothing else. */
  json_t *p0 = json_array_get(json_object_get(r.json, "items"), 0);
  assert_non_null(json_object_get(p0, "reasons"));
  assert_summary(json_object_get(p0, "a"), NULL);
  assert_summary(json_object_get(p0, "b"), NULL);
  assert_int_equal(json_object_size(p0), 6);
  assert_null(json_object_get(p0, "name_measure"));
  assert_true(strcmp(json_string_value(json_object_get(json_object_get(p0, "a"), "id")),
                     json_string_value(json_object_get(json_object_get(p0, "b"), "id"))) < 0);
  resp_free(&r);
  r = wc(&W, "GET", "/api/duplicates?min_score=2", NULL);
  EXPECT(r, 400);
  resp_free(&r);
  r = wcf(&W, "POST", "/api/merge", "{\"keep\":\"%s\",\"other\":\"%s\"}", a, b);
  EXPECT(r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "merged")), 1);
  resp_free(&r);
  r = wcf(&W, "POST", "/api/merge", "{\"keep\":\"%s\",\"other\":\"%s\"}", a, b);
  EXPECT(r, 409);
  resp_free(&r);
  r = wcf(&W, "POST", "/api/unmerge", "{\"id\":\"%s\"}", b);
  EXPECT(r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "customers")), 2);
  resp_free(&r);
  r = wcf(&W, "POST", "/api/unmerge", "{\"id\":\"%s\"}", b);
  EXPECT(r, 404); /* not merged */
  resp_free(&r);
  r = wcf(&W, "POST", "/api/duplicates/dismiss", "{\"a\":\"%s\",\"b\":\"%s\"}", a, b);
  EXPECT(r, 200);
  resp_free(&r);
  r = wcf(&W, "POST", "/api/duplicates/set-aside", "{\"a\":\"%s\",\"b\":\"%s\"}", a, c);
  EXPECT(r, 200);
  resp_free(&r);
  r = wc(&W, "GET", "/api/duplicates/review", NULL);
  EXPECT(r, 200);
  assert_true(json_array_size(json_object_get(r.json, "items")) >= 1);
  assert_summary(json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "a"), NULL);
  assert_summary(json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "b"), NULL);
  resp_free(&r);
  r = wc(&W, "POST", "/api/merge",
         "{\"keep\":\"ffffffffffffffffffffffffffffffff\",\"other\":"
         "\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"}");
  EXPECT(r, 400);
  resp_free(&r);
}

static void test_erasure(void **state) {
  (void)state;
  char cu[40], p[256];
  make_customer("{\"name\":\"Personne Effacée\",\"emails\":[\"efface@example.fr\"]}", cu);
  /* What would go: the whole person, the record merged with hers too. */
  char twin[40];
  make_customer("{\"name\":\"P. Effacée\",\"address\":{\"city\":\"Nantes\"},\"force\":true}", twin);
  resp r = wcf(&W, "POST", "/api/merge", "{\"keep\":\"%s\",\"other\":\"%s\"}", cu, twin);
  EXPECT(r, 200);
  resp_free(&r);
  snprintf(p, sizeof p, "/api/customers/%s/erase", twin);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 200);
  json_t *group = json_object_get(r.json, "items");
  assert_int_equal(json_array_size(group), 2);
  assert_summary(json_array_get(group, 0), strcmp(cu, twin) < 0 ? cu : twin);
  assert_summary(json_array_get(group, 1), strcmp(cu, twin) < 0 ? twin : cu);
  resp_free(&r);
  r = wc(&W, "GET", "/api/customers/ffffffffffffffffffffffffffffffff/erase", NULL);
  EXPECT(r, 404);
  resp_free(&r);
  snprintf(p, sizeof p, "/api/customers/%s/subject-export", cu);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 200);
  assert_non_null(r.json);
  assert_string_equal(jget(&r, "format"), "carnet-subject-export-1");
  char v[256];
  assert_non_null(strstr(resp_header(&r, "Content-Disposition", v, sizeof v), "attachment"));
  resp_free(&r);
  snprintf(p, sizeof p, "/api/customers/%s/erase", cu);
  char *before = digest(DIR_);
  r = wc(&W, "POST", p, "{\"reason\":\"demande du 1er décembre\",\"confirm\":\"wrong\"}");
  EXPECT(r, 400);
  assert_string_equal(err_field(&r), "confirm");
  resp_free(&r);
  r = wc(&W, "POST", p, "{\"confirm\":\"x\"}");
  EXPECT(r, 400);
  resp_free(&r);
  char *after = digest(DIR_);
  assert_string_equal(before, after);
  free(before);
  free(after);
  snprintf(p, sizeof p, "/api/customers/%s", cu);
  r = wc(&W, "GET", p, NULL);
  char ref[64];
  snprintf(ref, sizeof ref, "%s", jget(&r, "ref"));
  resp_free(&r);
  snprintf(p, sizeof p, "/api/customers/%s/erase", cu);
  r = wcf(&W, "POST", p, "{\"reason\":\"demande du 1er décembre\",\"confirm\":\"%s\"}", ref);
  EXPECT(r, 200);
  assert_string_equal(jget(&r, "id"), cu);
  resp_free(&r);
  r = wc(&W, "GET", "/api/erasures", NULL);
  EXPECT(r, 200);
  json_t *items = json_object_get(r.json, "items");
  assert_true(json_array_size(items) >= 1);
  assert_int_equal(json_array_size(json_object_get(json_array_get(items, 0), "confirmed")), 1);
  resp_free(&r);
  snprintf(p, sizeof p, "/api/customers/%s", cu);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 404);
  resp_free(&r);
}

static void test_import_export(void **state) {
  (void)state;
  const char *csv = "Nom;Email;Téléphone\nImport Un;un@import.fr;0611111111\n"
                    "Import Deux;pas-un-email;0622222222\n";
  char *before = digest(DIR_);
  resp r = wc_send(&W, WC_TOKEN, "POST", "/api/import?name=clients.csv&dry_run=1", "text/csv", csv,
                   strlen(csv), NULL, NULL);
  EXPECT(r, 200);
  assert_int_equal(json_integer_value(json_object_get(r.json, "rejected")), 1);
  resp_free(&r);
  char *after = digest(DIR_);
  assert_string_equal(before, after); /* a dry run writes nothing */
  free(before);
  free(after);
  r = wc_send(&W, WC_TOKEN, "POST", "/api/import?name=clients.csv", "text/csv", csv, strlen(csv),
              NULL, NULL);
  EXPECT(r, 200);
  assert_int_equal(json_integer_value(json_object_get(r.json, "imported")), 1);
  assert_int_equal(json_integer_value(json_object_get(r.json, "rejected")), 1);
  json_t *rej = json_array_get(json_object_get(r.json, "rejects"), 0);
  assert_non_null(strstr(json_string_value(json_object_get(rej, "reason")), "pas-un-email"));
  resp_free(&r);
  r = wc_send(&W, WC_TOKEN, "POST", "/api/import", "application/json", "{}", 2, NULL, NULL);
  EXPECT(r, 415);
  resp_free(&r);
  r = wc(&W, "GET", "/api/export?format=csv", NULL);
  EXPECT(r, 200);
  assert_non_null(strstr(r.body, "Import Un"));
  char v[256];
  assert_non_null(strstr(resp_header(&r, "Content-Disposition", v, sizeof v), ".csv"));
  resp_free(&r);
  r = wc(&W, "GET", "/api/export?kind=planet", NULL);
  EXPECT(r, 400);
  resp_free(&r);
}

static void test_status_peers_invite(void **state) {
  (void)state;
  resp r = wc(&W, "GET", "/api/status", NULL);
  EXPECT(r, 200);
  assert_string_equal(jget(&r, "role"), "admin");
  assert_true(json_is_false(json_object_get(r.json, "node")));
  resp_free(&r);
  r = wc(&W, "GET", "/api/peers", NULL);
  EXPECT(r, 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
  resp_free(&r);
  r = wc(&W, "POST", "/api/invite", "{}");
  EXPECT(r, 400); /* no node: no default address */
  assert_string_equal(err_field(&r), "addr");
  resp_free(&r);
  r = wc(&W, "POST", "/api/invite", "{\"addr\":\"192.0.2.10:7373\",\"ttl\":\"5m\"}");
  EXPECT(r, 200);
  assert_non_null(jget(&r, "token"));
  resp_free(&r);
  r = wc(&W, "POST", "/api/invite", "{\"addr\":\"192.0.2.10:7373\",\"ttl\":\"forever\"}");
  EXPECT(r, 400);
  resp_free(&r);
}

/* --- The live feed --------------------------------------------------------------------- */

typedef struct sse {
  char buf[1 << 16];
  size_t len;
  const char *want;
  bool found;
} sse;

static size_t sse_body(char *p, size_t sz, size_t n, void *data) {
  sse *s = data;
  size_t add = sz * n;
  if (s->len + add < sizeof s->buf) {
    memcpy(s->buf + s->len, p, add);
    s->len += add;
    s->buf[s->len] = '\0';
  }
  if (strstr(s->buf, s->want)) s->found = true;
  return add;
}

static int sse_progress(void *data, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
  (void)a, (void)b, (void)c, (void)d;
  return ((sse *)data)->found; /* abort the transfer once seen */
}

/* A change made by another `carnet` process on the directory reaches an
 * open event stream (the node's poll feeds the change feed). The stream is
 * read in a child thread's stead by curl's multi interface, with a
 * deadline. */
static void test_events_external(void **state) {
  (void)state;
  sse s = {.want = "\"source\":\"external\""};
  CURL *c = curl_easy_init();
  char url[256], auth[128], host[128];
  snprintf(url, sizeof url, "%s/api/events", W.base);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", W.token);
  snprintf(host, sizeof host, "Host: %s", W.host);
  struct curl_slist *hs = curl_slist_append(NULL, auth);
  hs = curl_slist_append(hs, host);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, sse_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
  CURLM *m = curl_multi_init();
  curl_multi_add_handle(m, c);
  int running = 1;
  bool changed = false;
  uint64_t deadline = now_ms() + (uint64_t)T(15000);
  while (running && !s.found && now_ms() < deadline) {
    curl_multi_perform(m, &running);
    if (!changed && strstr(s.buf, "event: hello")) {
      OK1(DIR_, "customer", "add", "--name", "Venu d'ailleurs", "--force");
      changed = true;
    }
    curl_multi_poll(m, NULL, 0, 100, NULL);
  }
  curl_multi_remove_handle(m, c);
  curl_multi_cleanup(m);
  curl_easy_cleanup(c);
  curl_slist_free_all(hs);
  if (!s.found) fail_msg("no change event within the deadline; got: %s", s.buf);
  assert_non_null(strstr(s.buf, "\"source\":\"external\""));
}

/* --- The customer list's search index ---------------------------------------------- */

/* The ids of what `GET /api/customers?QUERY` lists, every page (limit 2),
 * comma separated into `out`. */
static size_t list_ids(const char *query, char *out, size_t len) {
  char url[512], cursor[64] = "";
  size_t n = 0;
  out[0] = '\0';
  for (;;) {
    snprintf(url, sizeof url, "/api/customers?limit=2&%s%s%s", query, cursor[0] ? "&cursor=" : "",
             cursor);
    resp r = wc(&W, "GET", url, NULL);
    EXPECT(r, 200);
    json_t *items = json_object_get(r.json, "items"), *it;
    size_t i;
    json_array_foreach(items, i, it) {
      size_t used = strlen(out);
      snprintf(out + used, len - used, "%s%s", used ? "," : "",
               json_string_value(json_object_get(it, "id")));
      n++;
    }
    const char *next = json_string_value(json_object_get(r.json, "next"));
    snprintf(cursor, sizeof cursor, "%s", next ? next : "");
    resp_free(&r);
    if (!next) break;
  }
  return n;
}

static void expect_ids(const char *query, const char *want) {
  char got[2048];
  list_ids(query, got, sizeof got);
  if (strcmp(got, want) != 0)
    fail_msg("GET /api/customers?%s: got [%s], want [%s]", query, got, want);
}

/* Phones in any written form, homonyms, filters, a merged group listed
 * once, and a change made by another process, all through the index. */
static void test_search_index(void **state) {
  (void)state;
  char a[40], b[40], c[40], ab[100], ext[40];
  make_customer("{\"name\":\"Noël Lefèvre\",\"phones\":[\"07 82 35 61 55\"],\"tags\":[\"salon\"],"
                "\"roles\":[\"customer\"],\"sales_rep\":\"paul\"}",
                a);
  make_customer("{\"name\":\"NOEL LEFEVRE\",\"phones\":[\"06 99 88 77 66\"],\"force\":true}", b);
  make_customer("{\"company\":\"Œuvres d’Art\",\"siret\":\"73282932000074\"}", c);
  snprintf(ab, sizeof ab, "%s,%s", a, b);
  expect_ids("q=0782356155", a);
  expect_ids("q=%2B33782356155", a);
  expect_ids("q=07%2082%2035%2061%2055", a);
  expect_ids("q=%2B33%207%2082%2035%2061%2055", a);
  expect_ids("q=noel%20lefevre", ab);
  expect_ids("q=N%C3%B6EL", ab); /* marks are stripped: "NöEL" is "noel" */
  expect_ids("q=lef%C3%A8vre&tag=salon", a);
  expect_ids("q=lefevre&role=customer&sales_rep=paul", a);
  expect_ids("q=lefevre&sales_rep=pau", "");
  expect_ids("q=oeuvres%20d'art", c);
  expect_ids("q=732%20829%20320", c);
  /* Merged: listed once, as the survivor, found by either's values. */
  resp r = wcf(&W, "POST", "/api/merge", "{\"keep\":\"%s\",\"other\":\"%s\"}", a, b);
  EXPECT(r, 200);
  resp_free(&r);
  expect_ids("q=noel%20lefevre", a);
  expect_ids("q=0699887766", a);
  r = wcf(&W, "POST", "/api/unmerge", "{\"id\":\"%s\"}", b);
  EXPECT(r, 200);
  resp_free(&r);
  expect_ids("q=noel%20lefevre", ab);
  expect_ids("q=0699887766", b);
  /* Another process writes: the next search sees it, without waiting for
   * the node's tick. */
  char *line = OK(DIR_, "customer", "add", "--name", "Zoé Extérieure", "--phone", "0631415926",
                  "--force", "--json");
  json_t *added = json_loads(line, 0, NULL);
  assert_non_null(added);
  snprintf(ext, sizeof ext, "%s", json_string_value(json_object_get(added, "id")));
  json_decref(added);
  free(line);
  expect_ids("q=zoe%20exterieure", ext);
  expect_ids("q=06%2031%2041%2059%2026", ext);
  /* Erased: gone from the list, deleted ones included. */
  char p[128], ref[64];
  snprintf(p, sizeof p, "/api/customers/%s", ext);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 200);
  snprintf(ref, sizeof ref, "%s", jget(&r, "ref"));
  resp_free(&r);
  snprintf(p, sizeof p, "/api/customers/%s/erase", ext);
  r = wcf(&W, "POST", p, "{\"reason\":\"asked by e-mail\",\"confirm\":\"%s\"}", ref);
  EXPECT(r, 200);
  resp_free(&r);
  expect_ids("q=zoe%20exterieure&deleted=1", "");
}

/* Searches from several connections while others write through the API
 * and another process writes the directory: every answer is whole and
 * right (each item matches), nothing crashes (run under ASan too). The
 * requests' threads record and never assert. */
typedef struct hammer {
  pthread_t th;
  int requests, bad;
  char why[256];
  volatile int *stop;
} hammer;

static size_t hammer_body(char *p, size_t sz, size_t n, void *data) {
  resp *r = data;
  char *b = realloc(r->body, r->len + sz * n + 1);
  if (b == NULL) return 0;
  memcpy(b + r->len, p, sz * n);
  r->len += sz * n;
  b[r->len] = '\0';
  r->body = b;
  return sz * n;
}

static void *hammer_run(void *data) {
  hammer *h = data;
  static const char *const queries[] = {"q=concurrent", "q=CONCURRENT&tag=conc", "q=06%2044",
                                        "q=concurrent&deleted=1&limit=3"};
  char url[512], auth[128], host[128];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", W.token);
  snprintf(host, sizeof host, "Host: %s", W.host);
  for (int i = 0; !*h->stop && h->bad == 0; i++) {
    const char *qs = queries[i % 4];
    resp r;
    memset(&r, 0, sizeof r);
    CURL *c = curl_easy_init();
    struct curl_slist *hs = curl_slist_append(curl_slist_append(NULL, auth), host);
    snprintf(url, sizeof url, "%s/api/customers?%s", W.base, qs);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)T(30000));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hammer_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    json_t *j = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    json_t *items = json_object_get(j, "items"), *it;
    size_t k;
    if (cc != CURLE_OK || r.status != 200 || !json_is_array(items)) {
      snprintf(h->why, sizeof h->why, "%s: curl %d, status %ld: %.120s", qs, (int)cc, r.status,
               r.body ? r.body : "");
      h->bad++;
    }
    json_array_foreach(items, k, it) {
      const char *name = json_string_value(json_object_get(it, "name"));
      bool phone = strstr(qs, "06") != NULL;
      if (!phone && (name == NULL || strncasecmp(name, "Concurrent", 10) != 0)) {
        snprintf(h->why, sizeof h->why, "%s listed '%s'", qs, name ? name : "(null)");
        h->bad++;
      }
      if (strstr(qs, "deleted") == NULL && json_is_true(json_object_get(it, "deleted"))) {
        snprintf(h->why, sizeof h->why, "%s listed a deleted customer", qs);
        h->bad++;
      }
    }
    json_decref(j);
    free(r.body);
    h->requests++;
  }
  return NULL;
}

static void test_search_concurrent(void **state) {
  (void)state;
  volatile int stop = 0;
  hammer h[3];
  char ids[40][CARNET_ID_HEX_LEN + 1];
  memset(h, 0, sizeof h);
  for (int i = 0; i < 3; i++) {
    h[i].stop = &stop;
    assert_int_equal(pthread_create(&h[i].th, NULL, hammer_run, &h[i]), 0);
  }
  for (int i = 0; i < 40; i++) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"name\":\"Concurrent %d\",\"tags\":[\"conc\"],\"phones\":[\"06 44 %02d 00 00\"],"
             "\"force\":true}",
             i, i);
    make_customer(body, ids[i]);
    char p[128];
    snprintf(p, sizeof p, "/api/customers/%.32s", ids[i]);
    if (i % 5 == 1) {
      resp r = wc(&W, "PATCH", p, "{\"name\":\"CONCURRENT renamed\"}");
      EXPECT(r, 200);
      resp_free(&r);
    }
    if (i % 7 == 3) {
      resp r = wc(&W, "DELETE", p, NULL);
      EXPECT(r, 200);
      resp_free(&r);
    }
    if (i % 6 == 5) { /* 404 when one of them is deleted */
      resp r =
          wcf(&W, "POST", "/api/merge", "{\"keep\":\"%s\",\"other\":\"%s\"}", ids[i - 1], ids[i]);
      if (r.status != 200 && r.status != 404) fail_msg("merge: %ld %s", r.status, r.body);
      resp_free(&r);
    }
    if (i % 10 == 9) {
      char name[64];
      snprintf(name, sizeof name, "Concurrent external %d", i);
      OK1(DIR_, "customer", "add", "--name", name, "--force");
    }
  }
  stop = 1;
  int requests = 0;
  for (int i = 0; i < 3; i++) {
    pthread_join(h[i].th, NULL);
    if (h[i].bad) fail_msg("a search during writes went wrong: %s", h[i].why);
    requests += h[i].requests;
  }
  print_message("%d searches during 40 creations, edits, deletions, merges\n", requests);
  assert_true(requests > 10);
  /* And now the index answers as a scan of another process does. */
  char got[4096];
  size_t n = list_ids("q=concurrent", got, sizeof got);
  json_t *cli = OKJ(DIR_, "customer", "list", "--search", "concurrent");
  assert_int_equal(n, json_array_size(cli));
  json_decref(cli);
}

/* SIGTERM ends `carnet web` cleanly (exit 0: under sanitizers, nothing
 * leaked), and DIR/web.url goes with it. Last: the group's server stops. */
static void test_stops_cleanly(void **state) {
  (void)state;
  stop(W.proc);
  assert_false(file_exists(path("office/web.url")));
}

/* A non-loopback address is refused before anything starts. */
static void test_remote_address_refused(void **state) {
  (void)state;
  proc_result r;
  assert_int_equal(RUN(DIR_, &r, "web", "--http", "0.0.0.0:0"), 1);
  assert_non_null(strstr(r.err, "loopback"));
  proc_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_page_and_headers),
      cmocka_unit_test(test_host_origin_options),
      cmocka_unit_test(test_auth_everywhere),
      cmocka_unit_test(test_routes_methods_limits),
      cmocka_unit_test(test_customers),
      cmocka_unit_test(test_patch_phones_in_region),
      cmocka_unit_test(test_paging),
      cmocka_unit_test(test_duplicate_refused_then_forced),
      cmocka_unit_test(test_messages_name_api_keys),
      cmocka_unit_test(test_contacts_consents),
      cmocka_unit_test(test_documents),
      cmocka_unit_test(test_actions_reminders),
      cmocka_unit_test(test_duplicates_merge),
      cmocka_unit_test(test_erasure),
      cmocka_unit_test(test_import_export),
      cmocka_unit_test(test_status_peers_invite),
      cmocka_unit_test(test_events_external),
      cmocka_unit_test(test_search_index),
      cmocka_unit_test(test_search_concurrent),
      cmocka_unit_test(test_remote_address_refused),
      cmocka_unit_test(test_stops_cleanly),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
