/* tests/web/test_attach.c - attachments over the console's HTTP API
 * (web/api_attach.c, web/subject.c) against a real `carnet web`: an upload
 * listed, read back byte-identical and in the subject export's zip; and the
 * refusals, each leaving the replica as it was (its digest, read by another
 * `carnet` process) and no file under DIR/files: a file over the replica's
 * largest size, declared (413 before the body is read) or not (chunked:
 * 413 when it grows past it), no token or a wrong one (401), another
 * site's Origin (403), an unknown or wrong-kind owner (404), no name or a
 * bad one (400), and a client gone half-way through its upload.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <strings.h>
#include <unistd.h>

#include "tests/web/webclient.h"

static web W;
static char DIR_[1100];
static char CU[CARNET_ID_HEX_LEN + 1];

static int group_setup(void **state) {
  if (fx_setup(state) != 0) return -1;
  curl_global_init(CURL_GLOBAL_ALL);
  snprintf(DIR_, sizeof DIR_, "%s", path("office"));
  init(DIR_);
  char *id = OK(DIR_, "customer", "add", "--name", "Jeanne Pièce");
  snprintf(CU, sizeof CU, "%.*s", (int)strcspn(id, "\n"), id);
  free(id);
  /* Small enough that a refused file costs nothing to send. */
  OK1(DIR_, "attachment", "policy", "--max-size", "100000");
  const char *argv[] = {F->bin, "--dir", DIR_, "web", "--http", "127.0.0.1:0", NULL};
  wc_start(&W, argv, "web.log");
  (void)wcf; /* webclient.h's, unused here */
  return 0;
}

static int group_teardown(void **state) {
  curl_global_cleanup();
  return fx_teardown(state);
}

/* The names under DIR/files (content files, and temporary ones). */
static int files_count(void) {
  char d[1200];
  snprintf(d, sizeof d, "%s/files", DIR_);
  DIR *dir = opendir(d);
  int n = 0;
  if (dir == NULL) return 0;
  for (struct dirent *e; (e = readdir(dir)) != NULL;)
    if (e->d_name[0] != '.') n++;
  closedir(dir);
  return n;
}

static resp upload(const char *owner_path, const char *query, const void *body, size_t len,
                   unsigned flags, const char *extra) {
  char p[512];
  snprintf(p, sizeof p, "/api/%s/attachments?%s", owner_path, query);
  return wc_send(&W, flags, "POST", p, "application/octet-stream", body, len, NULL, extra);
}

static void fill_bytes(uint8_t *b, size_t n, const char *marker) {
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t)(i * 131u + 7u);
  memcpy(b + n / 2, marker, strlen(marker));
}

/* --- The happy path ---------------------------------------------------------------- */

static void test_upload_list_download_export(void **state) {
  (void)state;
  enum { N = 70000 };
  static uint8_t data[N];
  const char *marker = "WEB-ATTACH-MARKER-7f3a";
  char cpath[64], v[512], p[256];
  fill_bytes(data, N, marker);
  snprintf(cpath, sizeof cpath, "customers/%s", CU);
  resp r =
      upload(cpath, "name=re%C3%A7u%20n%C2%B01.pdf&caption=Sign%C3%A9", data, N, WC_TOKEN, NULL);
  EXPECT(r, 201);
  char id[CARNET_ID_HEX_LEN + 1];
  snprintf(id, sizeof id, "%s", jget(&r, "id"));
  assert_string_equal(jget(&r, "name"), "reçu n°1.pdf");
  assert_string_equal(jget(&r, "media_type"), "application/pdf");
  assert_string_equal(jget(&r, "caption"), "Signé");
  assert_int_equal(json_integer_value(json_object_get(r.json, "size")), N);
  snprintf(p, sizeof p, "/api/attachments/%s", id);
  assert_string_equal(resp_header(&r, "Location", v, sizeof v), p);
  resp_free(&r);

  /* Listed, with the replica's largest size for the page's own check. */
  snprintf(p, sizeof p, "/api/customers/%s/attachments", CU);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 200);
  json_t *items = json_object_get(r.json, "items");
  assert_int_equal(json_array_size(items), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "id")), id);
  assert_int_equal(json_integer_value(json_object_get(r.json, "max_size")), 100000);
  resp_free(&r);

  /* Read back: the same bytes, never shown as a page of the console. */
  snprintf(p, sizeof p, "/api/attachments/%s/content", id);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 200);
  assert_int_equal(r.len, N);
  assert_memory_equal(r.body, data, N);
  assert_string_equal(resp_header(&r, "Content-Type", v, sizeof v), "application/octet-stream");
  resp_header(&r, "Content-Disposition", v, sizeof v);
  assert_non_null(strstr(v, "attachment; filename=\""));
  assert_non_null(strstr(v, "filename*=UTF-8''re%C3%A7u%20n%C2%B01.pdf"));
  resp_free(&r);

  /* The subject export names it; its archive holds it (stored: the marker
   * is there as it is). */
  snprintf(p, sizeof p, "/api/customers/%s/subject-export", CU);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 200);
  json_t *atts = json_object_get(r.json, "attachments");
  assert_int_equal(json_array_size(atts), 1);
  resp_free(&r);
  snprintf(p, sizeof p, "/api/customers/%s/subject-export?archive=1", CU);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 200);
  assert_string_equal(resp_header(&r, "Content-Type", v, sizeof v), "application/zip");
  assert_true(r.len > N && memcmp(r.body, "PK", 2) == 0);
  assert_non_null(memmem(r.body, r.len, marker, strlen(marker)));
  assert_non_null(memmem(r.body, r.len, "subject.json", 12));
  resp_free(&r);

  /* Deleted: 200 once, then 409; its content is gone. */
  snprintf(p, sizeof p, "/api/attachments/%s", id);
  r = wc(&W, "DELETE", p, NULL);
  EXPECT(r, 200);
  assert_true(json_is_true(json_object_get(r.json, "deleted")));
  resp_free(&r);
  r = wc(&W, "DELETE", p, NULL);
  EXPECT(r, 409);
  resp_free(&r);
  snprintf(p, sizeof p, "/api/attachments/%s/content", id);
  r = wc(&W, "GET", p, NULL);
  EXPECT(r, 404);
  resp_free(&r);
  assert_int_equal(files_count(), 0);
}

/* --- Refusals ------------------------------------------------------------------------- */

static void test_refusals_change_nothing(void **state) {
  (void)state;
  enum { BIG = 150000 };
  static uint8_t big[BIG];
  char cpath[64];
  fill_bytes(big, BIG, "REFUSED");
  snprintf(cpath, sizeof cpath, "customers/%s", CU);
  char *before = digest(DIR_);

  /* Too large, declared: refused before the body is read, both sizes said. */
  resp r = upload(cpath, "name=big.bin", big, BIG, WC_TOKEN, NULL);
  EXPECT(r, 413);
  assert_string_equal(err_code(&r), "CARNET_ELIMIT");
  assert_non_null(
      strstr(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
             "150000 bytes, larger than the 100000"));
  resp_free(&r);
  /* Too large, not declared (chunked): refused once it grows past it. */
  r = upload(cpath, "name=big.bin", big, BIG, WC_TOKEN, "Transfer-Encoding: chunked");
  EXPECT(r, 413);
  assert_string_equal(err_code(&r), "CARNET_ELIMIT");
  resp_free(&r);

  /* No token, a wrong one (the console's CSRF guard: a page of another
   * site cannot send the header), another site's Origin, another Host. */
  r = upload(cpath, "name=a.txt", "abc", 3, 0, NULL);
  EXPECT(r, 401);
  resp_free(&r);
  r = upload(cpath, "name=a.txt", "abc", 3, WC_BADTOKEN, NULL);
  EXPECT(r, 401);
  resp_free(&r);
  r = upload(cpath, "name=a.txt", "abc", 3, WC_TOKEN, "Origin: http://evil.example");
  EXPECT(r, 403);
  resp_free(&r);
  r = wc_send(&W, WC_TOKEN, "POST", "/api/customers/x/attachments?name=a.txt",
              "application/octet-stream", "abc", 3, "evil.example:80", NULL);
  EXPECT(r, 403);
  resp_free(&r);

  /* Bad owners: unknown, of another kind (a customer's id as a document). */
  r = upload("customers/0123456789abcdef0123456789abcdef", "name=a.txt", "abc", 3, WC_TOKEN, NULL);
  EXPECT(r, 404);
  resp_free(&r);
  snprintf(cpath, sizeof cpath, "documents/%s", CU);
  r = upload(cpath, "name=a.txt", "abc", 3, WC_TOKEN, NULL);
  EXPECT(r, 404);
  resp_free(&r);
  snprintf(cpath, sizeof cpath, "customers/%s", CU);

  /* Bad names: none, on two lines, too long. */
  r = upload(cpath, "caption=x", "abc", 3, WC_TOKEN, NULL);
  EXPECT(r, 400);
  assert_string_equal(err_field(&r), "name");
  resp_free(&r);
  r = upload(cpath, "name=a%0Ab.txt", "abc", 3, WC_TOKEN, NULL);
  EXPECT(r, 400);
  resp_free(&r);
  char q[600] = "name=";
  memset(q + 5, 'n', 300);
  q[305] = '\0';
  r = upload(cpath, q, "abc", 3, WC_TOKEN, NULL);
  EXPECT(r, 400);
  resp_free(&r);

  /* Not an attachment's id. */
  r = wc(&W, "GET", "/api/attachments/nothex/content", NULL);
  EXPECT(r, 404);
  resp_free(&r);
  r = wc(&W, "DELETE", "/api/attachments/0123456789abcdef0123456789abcdef", NULL);
  EXPECT(r, 404);
  resp_free(&r);

  char *after = digest(DIR_);
  assert_string_equal(before, after);
  free(before);
  free(after);
  assert_int_equal(files_count(), 0);
}

/* A client that stops sending half-way: its temporary file goes. */
typedef struct half {
  size_t sent, cut;
} half;

static size_t half_read(char *buf, size_t sz, size_t n, void *data) {
  half *h = data;
  if (h->sent >= h->cut) return CURL_READFUNC_ABORT;
  size_t take = sz * n < h->cut - h->sent ? sz * n : h->cut - h->sent;
  memset(buf, 'h', take);
  h->sent += take;
  return take;
}

static void test_client_gone_leaves_nothing(void **state) {
  (void)state;
  char url[512], h1[160], h2[160];
  half h = {0, 60000};
  snprintf(url, sizeof url, "%s/api/customers/%s/attachments?name=cut.bin", W.base, CU);
  CURL *c = curl_easy_init();
  assert_non_null(c);
  struct curl_slist *hs = NULL;
  snprintf(h1, sizeof h1, "X-Carnet-Token: %s", W.token);
  snprintf(h2, sizeof h2, "Host: %s", W.host);
  hs = curl_slist_append(hs, h1);
  hs = curl_slist_append(hs, h2);
  hs = curl_slist_append(hs, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)90000); /* promised, never sent */
  curl_easy_setopt(c, CURLOPT_READFUNCTION, half_read);
  curl_easy_setopt(c, CURLOPT_READDATA, &h);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)T(30000));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(c);
  assert_int_equal(rc, CURLE_ABORTED_BY_CALLBACK);
  curl_slist_free_all(hs);
  curl_easy_cleanup(c);
  /* The server sees the connection end and drops the upload: bounded wait. */
  uint64_t end = now_ms() + (uint64_t)T(10000);
  while (files_count() != 0 && now_ms() < end)
    sleep_ms(20);
  assert_int_equal(files_count(), 0);
  char *out = OK(DIR_, "attachments", CU, "--json");
  assert_string_equal(out, "[]\n");
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_upload_list_download_export),
      cmocka_unit_test(test_refusals_change_nothing),
      cmocka_unit_test(test_client_gone_leaves_nothing),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
