/* web/api_customer.c - customers, contacts and consents: what `carnet
 * customer`, `carnet contact` and `carnet consent` do, over HTTP. Each
 * write is one transaction that commits whole or not at all. */
#include <stdio.h>
#include <string.h>

#include "list.h"
#include "patch.h"
#include "routes.h"
#include "view.h"

static json_t *view_record(const carnet_record *rec, void *data) {
  (void)data;
  return web_json_record(rec);
}

/* Answer `status` with the record `id` as it now reads. */
static void answer_record(web_req *q, carnet_replica *r, const carnet_id *id, int status) {
  carnet_record *rec = NULL;
  char hex[CARNET_ID_HEX_LEN + 1];
  int rc = carnet_record_get(r, id, &rec);
  if (rc) {
    web_fail(q, r, rc, "reading it back");
    return;
  }
  web_ok(q, status, web_json_record(rec));
  if (status == 201) {
    carnet_id_format(id, hex);
    snprintf(q->location, sizeof q->location, "/api/%ss/%s",
             carnet_kind_name(carnet_record_kind(rec)), hex);
  }
  carnet_record_free(rec);
}

/* --- Customers --------------------------------------------------------------- */

void api_customers_list(carnet_replica *r, web_req *q) {
  bool deleted;
  if (!web_parse_bool(web_arg_get(q, "deleted"), false, &deleted)) {
    web_error(q, 400, CARNET_EINVAL, "deleted", "invalid value for 'deleted': 1 or 0");
    return;
  }
  const char *text = web_arg_get(q, "q");
  web_page pg = {.kind = CARNET_KIND_CUSTOMER,
                 .filter = {.text = text && text[0] ? text : NULL,
                            .tag = web_arg_get(q, "tag"),
                            .role = web_arg_get(q, "role"),
                            .sales_rep = web_arg_get(q, "sales_rep"),
                            .include_deleted = deleted},
                 .view = view_record};
  if (!web_search_answer(q, r, &pg)) web_page_answer(q, r, &pg);
}

static const char *name_of(const carnet_record *rec) {
  const char *n = rec ? carnet_record_str(rec, CARNET_F_NAME) : NULL;
  if (n == NULL && rec) n = carnet_record_str(rec, CARNET_F_COMPANY);
  return n ? n : "";
}

/* "same phone, similar name (name~0.96)", as the command line words it. */
static void reasons_text(const carnet_dupe *d, char *buf, size_t len) {
  buf[0] = '\0';
  for (unsigned bit = 1; bit <= CARNET_DUPE_NAME; bit <<= 1) {
    if (!(d->reasons & bit)) continue;
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
             carnet_dupes_reason_name((carnet_dupe_reason)bit));
  }
  size_t used = strlen(buf);
  snprintf(buf + used, len - used, " (name~%.2f)", d->name_similarity);
}

/* The refusal of `carnet customer add` for likely duplicates: one message
 * naming the best match, and the pairs. Returns true when there are some
 * (the answer is then set). */
static bool refuse_dupes(web_req *q, carnet_replica *r, const carnet_id *id, bool *failed) {
  carnet_dupe *d = NULL;
  size_t n = 0;
  int rc = carnet_dupes_of(r, id, CARNET_DUPE_SCORE_DEFAULT, &d, &n);
  if (rc == 0) rc = carnet_dupes_filter(r, d, &n);
  if (rc) {
    carnet_free(d);
    web_fail(q, r, rc, "checking for duplicates");
    *failed = true;
    return true;
  }
  if (n == 0) {
    carnet_free(d);
    return false;
  }
  const carnet_id *other = memcmp(d[0].a.b, id->b, 16) == 0 ? &d[0].b : &d[0].a;
  carnet_record *rec = NULL;
  char label[CARNET_ID_HEX_LEN + 1], why[512], more[64] = "";
  if (carnet_record_get(r, other, &rec) != 0) rec = NULL;
  const char *ref = rec ? carnet_record_str(rec, CARNET_F_REFCODE) : NULL;
  if (ref == NULL) carnet_id_format(other, label);
  reasons_text(&d[0], why, sizeof why);
  if (n > 1) snprintf(more, sizeof more, " and %zu other customer%s", n - 1, n > 2 ? "s" : "");
  web_error(q, 409, CARNET_EEXIST, NULL,
            "not created: likely duplicate of %s \"%s\" (score %.2f: %s)%s; see 'carnet dupes', "
            "or send \"force\": true to create it anyway",
            ref ? ref : label, name_of(rec), d[0].score, why, more);
  carnet_record_free(rec);
  /* Each: the customer already in the book that the new one resembles
   * (the new one was not created: it has no id). */
  json_t *pairs = json_array();
  bool ok = pairs != NULL;
  for (size_t i = 0; i < n; i++)
    ok = web_json_push(pairs, web_dupe_json(r, &d[i], id)) && ok;
  carnet_free(d);
  if (!ok || !web_json_put(json_object_get(q->reply, "error"), "duplicates", ok ? pairs : NULL)) {
    json_decref(ok ? NULL : pairs);
    web_oom(q);
  }
  return true;
}

/* An erased person's e-mail or phone on a new customer: the warning the
 * command line prints. */
static json_t *opposed_warnings(carnet_replica *r, const carnet_id *id) {
  carnet_erasure e;
  carnet_id cert;
  bool opposed = false;
  char when[32] = "?", hex[CARNET_ID_HEX_LEN + 1], msg[512];
  json_t *w = json_array();
  if (w == NULL || carnet_erasure_check_record(r, id, &opposed, &cert) != 0 || !opposed) return w;
  if (carnet_erasure_get(r, &cert, &e) == 0) web_iso_time(e.at, when);
  carnet_id_format(&cert, hex);
  snprintf(msg, sizeof msg,
           "an e-mail or phone of this customer belongs to a person erased at their request on %s "
           "(certificate %s): check that they agree before keeping them",
           when, hex);
  if (!web_json_push(w, web_json_str(msg))) {
    json_decref(w);
    return NULL;
  }
  return w;
}

static void create_entity(carnet_replica *r, web_req *q, carnet_kind kind) {
  carnet_patch *p = carnet_patch_new(kind);
  carnet_txn *t = NULL;
  carnet_id id;
  size_t touched;
  bool force = false, failed = false;
  json_t *warnings = NULL;
  int rc;
  if (p == NULL) {
    web_oom(q);
    return;
  }
  json_t *jf = q->body ? json_object_get(q->body, "force") : NULL;
  if (jf && !json_is_boolean(jf)) {
    web_error(q, 400, CARNET_EINVAL, "force", "invalid value for 'force': true or false");
    goto done;
  }
  force = json_is_true(jf);
  if (!web_patch_build(q, r, kind, q->body, NULL, p, &touched)) goto done;
  if (kind == CARNET_KIND_CONTACT && !json_object_get(q->body, "customer")) {
    web_error(q, 400, CARNET_EINVAL, "customer",
              "missing customer: the customer this contact belongs to");
    goto done;
  }
  if (touched == 0 || (kind == CARNET_KIND_CONTACT && touched == 1)) {
    web_error(q, 400, CARNET_EINVAL, "name", "nothing to add: give at least the name");
    goto done;
  }
  if ((rc = carnet_txn_begin(r, &t)) || (rc = carnet_record_create(t, p, NULL, &id))) {
    web_fail(q, r, rc, NULL);
    goto done;
  }
  if (kind == CARNET_KIND_CUSTOMER) {
    /* As `carnet customer add`: the new customer's own index keys find its
     * likely duplicates in the same transaction; refused unless forced. */
    if ((warnings = opposed_warnings(r, &id)) == NULL) {
      web_oom(q);
      goto done;
    }
    if (!force && refuse_dupes(q, r, &id, &failed)) goto done;
    if (failed) goto done;
  }
  rc = carnet_txn_commit(t);
  t = NULL;
  if (rc) {
    web_fail(q, r, rc, NULL);
    goto done;
  }
  answer_record(q, r, &id, 201);
  if (warnings && q->status == 201 && web_json_put(q->reply, "warnings", warnings)) warnings = NULL;
done:
  json_decref(warnings);
  carnet_txn_abort(t);
  carnet_patch_free(p);
}

static void get_entity(carnet_replica *r, web_req *q, carnet_kind kind) {
  carnet_record *rec = NULL;
  if (!web_load(q, r, kind, q->seg[1], &rec)) return;
  web_ok(q, 200, web_json_record(rec));
  carnet_record_free(rec);
}

static void edit_entity(carnet_replica *r, web_req *q, carnet_kind kind) {
  carnet_record *cur = NULL;
  carnet_patch *p = NULL;
  size_t touched;
  if (!web_load(q, r, kind, q->seg[1], &cur)) return;
  if ((p = carnet_patch_new(kind)) == NULL) {
    web_oom(q);
    goto done;
  }
  if (!web_patch_build(q, r, kind, q->body, cur, p, &touched)) goto done;
  if (touched == 0) {
    web_error(q, 400, CARNET_EINVAL, NULL, "nothing to change: give the fields to change");
    goto done;
  }
  int rc = carnet_record_update_commit(r, carnet_record_id(cur), p);
  if (rc) {
    web_fail(q, r, rc, NULL);
    goto done;
  }
  answer_record(q, r, carnet_record_id(cur), 200);
done:
  carnet_patch_free(p);
  carnet_record_free(cur);
}

/* Shared by every kind that is deleted with a tombstone. */
static void delete_entity(carnet_replica *r, web_req *q, carnet_kind kind,
                          json_t *(*view)(const carnet_record *, json_t *)) {
  carnet_record *rec = NULL;
  carnet_patch *p = NULL;
  char hex[CARNET_ID_HEX_LEN + 1];
  if (!web_load(q, r, kind, q->seg[1], &rec)) return;
  const char *ref = carnet_record_str(rec, CARNET_F_REFCODE);
  if (ref == NULL) carnet_id_format(carnet_record_id(rec), hex);
  if (carnet_record_deleted(rec)) {
    web_error(q, 409, CARNET_EEXIST, NULL, "%s %s is already deleted", carnet_kind_name(kind),
              ref ? ref : hex);
    goto done;
  }
  int rc = (p = carnet_patch_new(kind)) ? carnet_patch_delete(p) : CARNET_ENOMEM;
  if (rc == 0) rc = carnet_record_update_commit(r, carnet_record_id(rec), p);
  if (rc) {
    web_fail(q, r, rc, NULL);
    goto done;
  }
  carnet_record *now = NULL;
  if ((rc = carnet_record_get(r, carnet_record_id(rec), &now))) {
    web_fail(q, r, rc, "reading it back");
    goto done;
  }
  web_ok(q, 200, view ? view(now, NULL) : web_json_record(now));
  carnet_record_free(now);
done:
  carnet_patch_free(p);
  carnet_record_free(rec);
}

void web_delete_entity(carnet_replica *r, web_req *q, carnet_kind kind,
                       json_t *(*view)(const carnet_record *, json_t *)) {
  delete_entity(r, q, kind, view);
}

void api_customer_create(carnet_replica *r, web_req *q) {
  create_entity(r, q, CARNET_KIND_CUSTOMER);
}
void api_customer_get(carnet_replica *r, web_req *q) {
  get_entity(r, q, CARNET_KIND_CUSTOMER);
}
void api_customer_edit(carnet_replica *r, web_req *q) {
  edit_entity(r, q, CARNET_KIND_CUSTOMER);
}
void api_customer_delete(carnet_replica *r, web_req *q) {
  delete_entity(r, q, CARNET_KIND_CUSTOMER, NULL);
}

/* --- Contacts ------------------------------------------------------------------ */

void api_customer_contacts(carnet_replica *r, web_req *q) {
  carnet_id id;
  if (!web_resolve(q, r, CARNET_KIND_CUSTOMER, q->seg[1], NULL, &id)) return;
  web_page pg = {.kind = CARNET_KIND_CONTACT, .filter = {.customer = &id}, .view = view_record};
  web_page_answer(q, r, &pg);
}

void api_contact_create(carnet_replica *r, web_req *q) {
  create_entity(r, q, CARNET_KIND_CONTACT);
}
void api_contact_get(carnet_replica *r, web_req *q) {
  get_entity(r, q, CARNET_KIND_CONTACT);
}
void api_contact_edit(carnet_replica *r, web_req *q) {
  edit_entity(r, q, CARNET_KIND_CONTACT);
}
void api_contact_delete(carnet_replica *r, web_req *q) {
  delete_entity(r, q, CARNET_KIND_CONTACT, NULL);
}

/* --- Consents ---------------------------------------------------------------------- */

static void answer_consents(web_req *q, const carnet_record *rec) {
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(carnet_record_id(rec), hex);
  web_ok(q, 200,
         json_pack("{s:s,s:o,s:o}", "customer", hex, "consents", web_json_consents(rec), "log",
                   web_json_consent_log(rec)));
}

void api_consents_get(carnet_replica *r, web_req *q) {
  carnet_record *rec = NULL;
  if (!web_load(q, r, CARNET_KIND_CUSTOMER, q->seg[1], &rec)) return;
  answer_consents(q, rec);
  carnet_record_free(rec);
}

#define CHANNELS "email, sms, whatsapp, viber, phone or post"

void api_consents_post(carnet_replica *r, web_req *q) {
  carnet_record *rec = NULL, *now = NULL;
  carnet_patch *p = NULL;
  bool bad = false;
  const char *chname = web_body_str(q, "channel", &bad);
  const char *note = bad ? NULL : web_body_str(q, "note", &bad);
  json_t *g = q->body ? json_object_get(q->body, "granted") : NULL;
  if (bad) return;
  carnet_channel ch = chname ? carnet_channel_parse(chname) : 0;
  if (ch == 0) {
    web_error(q, 400, CARNET_EINVAL, "channel", "unknown channel '%s': use " CHANNELS,
              chname ? chname : "");
    return;
  }
  if (!json_is_boolean(g)) {
    web_error(q, 400, CARNET_EINVAL, "granted",
              "invalid value for 'granted': true (grant) or false (withdraw)");
    return;
  }
  if (!web_load(q, r, CARNET_KIND_CUSTOMER, q->seg[1], &rec)) return;
  int rc = (p = carnet_patch_new(CARNET_KIND_CUSTOMER))
               ? carnet_patch_consent(p, ch, json_is_true(g), note)
               : CARNET_ENOMEM;
  if (rc == 0) rc = carnet_record_update_commit(r, carnet_record_id(rec), p);
  if (rc == 0) rc = carnet_record_get(r, carnet_record_id(rec), &now);
  if (rc)
    web_fail(q, r, rc, NULL);
  else
    answer_consents(q, now);
  carnet_record_free(now);
  carnet_patch_free(p);
  carnet_record_free(rec);
}
