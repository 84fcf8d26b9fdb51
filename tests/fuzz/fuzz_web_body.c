/* tests/fuzz/fuzz_web_body.c - what the web console decodes itself from
 * outside bytes, beyond libmicrohttpd (HTTP) and jansson (JSON syntax):
 * query values (booleans, page sizes, list cursors), decimals given as JSON
 * strings or numbers, and a customer's JSON body turned into a patch
 * (web/patch.c). Input: the first line is a query value, the rest a JSON
 * body. Invariants: nothing crashes or leaks; a cursor that parses formats
 * back to itself; the patch builder either succeeds or sets a 400 answer
 * naming a field or the body.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "web/patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nl = memchr(data, '\n', size);
  size_t qlen = nl ? (size_t)(nl - data) : size;
  char *value = malloc(qlen + 1);
  if (value == NULL) return 0;
  memcpy(value, data, qlen);
  value[qlen] = '\0';
  bool b;
  size_t limit;
  carnet_id after;
  bool has;
  (void)web_parse_bool(value, false, &b);
  if (web_parse_limit(value, &limit)) assert(limit >= 1 && limit <= 500);
  if (web_parse_cursor(value, &has, &after) && has) {
    char back[40];
    web_format_cursor(&after, back);
    assert(strcmp(back, value) == 0);
  }
  free(value);
  if (nl == NULL) return 0;
  json_t *body = json_loadb((const char *)nl + 1, size - qlen - 1, JSON_REJECT_DUPLICATES, NULL);
  if (body == NULL) return 0;
  int64_t x;
  (void)web_json_decimal(body, 2, &x);
  if (json_is_object(body)) {
    web_req q;
    memset(&q, 0, sizeof q);
    q.body = body;
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    size_t touched;
    /* No replica: a customer's keys never need one (only a contact's
     * "customer" reference does). */
    if (p && !web_patch_build(&q, NULL, CARNET_KIND_CUSTOMER, body, NULL, p, &touched))
      assert(q.status == 400 || q.status == 500);
    json_t *v;
    const char *k;
    json_object_foreach(body, k, v)(void) web_json_decimal(v, 3, &x);
    carnet_patch_free(p);
    json_decref(q.reply);
  }
  json_decref(body);
  return 0;
}
