/* web/api_erase.c - GDPR erasure (an administrator action), the
 * certificates with which replicas confirmed them: `carnet erase` and
 * `carnet erasures` over HTTP (the subject export is web/subject.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"
#include "view.h"

static json_t *hex64(uint64_t v) {
  char s[17];
  snprintf(s, sizeof s, "%016llx", (unsigned long long)v);
  return web_json_str(s);
}

/* What an erasure of this customer would erase: the whole person, every
 * customer merged with it (carnet_erasure_group), each as a summary; the
 * console lists them before the typed confirmation. */
void api_erase_preview(carnet_replica *r, web_req *q) {
  carnet_id id, *group = NULL;
  size_t n = 0;
  if (!web_resolve(q, r, CARNET_KIND_CUSTOMER, q->seg[1], NULL, &id)) return;
  int rc = carnet_erasure_group(r, &id, &group, &n);
  if (rc) {
    web_fail(q, r, rc, NULL);
    return;
  }
  json_t *items = json_array();
  bool ok = items != NULL;
  for (size_t i = 0; ok && i < n; i++)
    ok = web_json_push(items, web_customer_summary(r, &group[i]));
  carnet_free(group);
  if (!ok) {
    json_decref(items);
    web_oom(q);
    return;
  }
  web_ok(q, 200, json_pack("{s:o}", "items", items));
}

void api_erase(carnet_replica *r, web_req *q) {
  carnet_record *rec = NULL;
  carnet_erasure e;
  bool compacted = false, bad = false;
  char hex[CARNET_ID_HEX_LEN + 1], when[32];
  const char *reason = web_body_str(q, "reason", &bad);
  const char *confirm = bad ? NULL : web_body_str(q, "confirm", &bad);
  if (bad || !web_require_admin(q, r, "erase")) return;
  if (reason == NULL || reason[0] == '\0') {
    web_error(q, 400, CARNET_EINVAL, "reason",
              "give the reason: it is kept forever on every replica (no personal data)");
    return;
  }
  if (!web_load(q, r, CARNET_KIND_CUSTOMER, q->seg[1], &rec)) return;
  /* The typed confirmation: the reference code the page shows (the full id
   * for a customer without one). */
  const char *ref = carnet_record_str(rec, CARNET_F_REFCODE);
  carnet_id_format(carnet_record_id(rec), hex);
  const char *want = ref ? ref : hex;
  if (confirm == NULL || strcmp(confirm, want) != 0) {
    web_error(q, 400, CARNET_EINVAL, "confirm",
              "type the customer's reference %s to confirm the erasure: it cannot be undone", want);
    goto done;
  }
  int rc = carnet_record_erase(r, carnet_record_id(rec), reason, &e, &compacted);
  if (rc) {
    web_fail(q, r, rc, NULL);
    goto done;
  }
  web_iso_time(e.at, when);
  web_ok(q, 200,
         json_pack("{s:s,s:s,s:o,s:o,s:b}", "id", hex, "erased_at", when, "origin", hex64(e.origin),
                   "reason", web_json_str(e.reason), "compacted", compacted));
done:
  carnet_record_free(rec);
}

typedef struct team {
  uint64_t ids[CARNET_ERASE_CONFIRMS_MAX];
  size_t n;
} team;

static int team_cb(const carnet_peer_info *p, void *data) {
  team *t = data;
  if (p->replica_id && t->n < CARNET_ERASE_CONFIRMS_MAX) t->ids[t->n++] = p->replica_id;
  return 0;
}

typedef struct erasures_st {
  const team *team;
  json_t *items;
  bool oom;
} erasures_st;

static int erasure_cb(const carnet_erasure *e, void *data) {
  erasures_st *st = data;
  char hex[CARNET_ID_HEX_LEN + 1], when[32];
  json_t *yes = json_array(), *no = json_array();
  bool ok = yes && no;
  for (uint32_t i = 0; i < e->nconfirmed; i++)
    ok = web_json_push(yes, hex64(e->confirmed[i])) && ok;
  for (size_t i = 0; i < st->team->n; i++) {
    bool done = false;
    for (uint32_t k = 0; k < e->nconfirmed && !done; k++)
      done = e->confirmed[k] == st->team->ids[i];
    if (!done) ok = web_json_push(no, hex64(st->team->ids[i])) && ok;
  }
  carnet_id_format(&e->id, hex);
  web_iso_time(e->at, when);
  json_t *o = ok ? json_pack("{s:s,s:s,s:o,s:o,s:o,s:o}", "id", hex, "erased_at", when, "origin",
                             hex64(e->origin), "reason", web_json_str(e->reason), "confirmed", yes,
                             "pending", no)
                 : (json_decref(yes), json_decref(no), NULL);
  if (!web_json_push(st->items, o)) {
    st->oom = true;
    return 1;
  }
  return 0;
}

void api_erasures(carnet_replica *r, web_req *q) {
  team t = {.n = 0};
  t.ids[t.n++] = carnet_replica_id(r);
  erasures_st st = {&t, json_array(), false};
  int rc = st.items ? carnet_peer_list(r, team_cb, &t) : CARNET_ENOMEM;
  if (rc == 0) rc = carnet_erasure_list(r, erasure_cb, &st);
  if (st.oom || rc == CARNET_ENOMEM) {
    json_decref(st.items);
    web_oom(q);
  } else if (rc) {
    json_decref(st.items);
    web_fail(q, r, rc, NULL);
  } else {
    web_ok(q, 200, json_pack("{s:o}", "items", st.items));
  }
}
