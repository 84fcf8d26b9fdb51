/* web/crm.c - shared by documents, actions and reminders (see crm.h). */
#include "crm.h"

#include <stdio.h>
#include <string.h>

#include "patch.h"
#include "view.h"

/* "CU2611-5T31-0001 Hélène Martin", as crm_customer_labels words it. */
static json_t *label_of(carnet_replica *r, const char *hex) {
  carnet_id id;
  carnet_record *rec = NULL;
  char label[256], idhex[CARNET_ID_HEX_LEN + 1];
  if (hex == NULL || carnet_id_parse(hex, &id) != 0 || carnet_record_get(r, &id, &rec) != 0)
    return web_json_str(hex);
  const char *name = carnet_record_str(rec, CARNET_F_NAME);
  const char *ref = carnet_record_str(rec, CARNET_F_REFCODE);
  if (name == NULL) name = carnet_record_str(rec, CARNET_F_COMPANY);
  carnet_id_format(&id, idhex);
  snprintf(label, sizeof label, "%s%s%s", ref ? ref : idhex, name ? " " : "", name ? name : "");
  carnet_record_free(rec);
  return web_json_str(label);
}

bool web_crm_label_items(carnet_replica *r, json_t *items) {
  size_t i;
  json_t *it;
  bool ok = true;
  json_array_foreach(items, i, it) {
    json_t *cu = json_object_get(it, "customer"), *cus = json_object_get(it, "customers");
    if (json_is_string(cu) || (cu && json_is_null(cu)))
      ok = web_json_put(it, "customer_label",
                        cu && json_is_string(cu) ? label_of(r, json_string_value(cu))
                                                 : json_null()) &&
           ok;
    if (json_is_array(cus)) {
      json_t *names = json_array(), *e;
      size_t k;
      bool ok1 = names != NULL;
      json_array_foreach(cus, k, e) ok1 =
          web_json_push(names, label_of(r, json_string_value(e))) && ok1;
      if (!ok1) {
        json_decref(names);
        names = NULL;
      }
      ok = web_json_put(it, "customer_labels", names) && ok;
    }
  }
  return ok;
}

json_t *web_crm_view(carnet_replica *r, const carnet_record *rec) {
  json_t *o = NULL;
  switch (carnet_record_kind(rec)) {
  case CARNET_KIND_DOCUMENT:
    o = web_json_doc(rec, NULL);
    break;
  case CARNET_KIND_ACTION:
    o = web_json_action(rec, NULL);
    break;
  case CARNET_KIND_REMINDER:
    o = web_json_reminder(rec, NULL);
    break;
  default:
    return web_json_record(rec);
  }
  json_t *one = o ? json_pack("[O]", o) : NULL;
  bool ok = one && web_crm_label_items(r, one);
  json_decref(one);
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

void web_crm_answer(web_req *q, carnet_replica *r, const carnet_id *id, int status) {
  carnet_record *rec = NULL;
  char hex[CARNET_ID_HEX_LEN + 1];
  int rc = carnet_record_get(r, id, &rec);
  if (rc) {
    web_fail(q, r, rc, "reading it back");
    return;
  }
  web_ok(q, status, web_crm_view(r, rec));
  if (status == 201) {
    static const char *const paths[] = {"",          "customers", "contacts",
                                        "documents", "actions",   "reminders"};
    carnet_id_format(id, hex);
    unsigned k = (unsigned)carnet_record_kind(rec);
    snprintf(q->location, sizeof q->location, "/api/%s/%s", k <= 5 ? paths[k] : "", hex);
  }
  carnet_record_free(rec);
}

void web_crm_create(carnet_replica *r, web_req *q, carnet_kind kind, const char *const *required) {
  carnet_patch *p = carnet_patch_new(kind);
  carnet_id id;
  size_t touched;
  if (p == NULL) {
    web_oom(q);
    return;
  }
  for (size_t i = 0; required && required[i]; i++) {
    json_t *v = q->body ? json_object_get(q->body, required[i]) : NULL;
    if (v == NULL || json_is_null(v)) {
      web_error(q, 400, CARNET_EINVAL, required[i], "missing %s (required)", required[i]);
      goto done;
    }
  }
  if (!web_patch_crm(q, r, kind, q->body, NULL, p, &touched)) goto done;
  int rc = carnet_record_create_commit(r, p, &id);
  if (rc) {
    web_fail(q, r, rc, NULL);
    goto done;
  }
  web_crm_answer(q, r, &id, 201);
done:
  carnet_patch_free(p);
}

void web_crm_get(carnet_replica *r, web_req *q, carnet_kind kind) {
  carnet_record *rec = NULL;
  if (!web_load(q, r, kind, q->seg[1], &rec)) return;
  web_ok(q, 200, web_crm_view(r, rec));
  carnet_record_free(rec);
}

void web_crm_edit(carnet_replica *r, web_req *q, carnet_kind kind) {
  carnet_record *cur = NULL;
  carnet_patch *p = NULL;
  size_t touched;
  if (!web_load(q, r, kind, q->seg[1], &cur)) return;
  if ((p = carnet_patch_new(kind)) == NULL) {
    web_oom(q);
    goto done;
  }
  if (!web_patch_crm(q, r, kind, q->body, cur, p, &touched)) goto done;
  if (touched == 0) {
    web_error(q, 400, CARNET_EINVAL, NULL, "nothing to change: give the fields to change");
    goto done;
  }
  int rc = carnet_record_update_commit(r, carnet_record_id(cur), p);
  if (rc) {
    web_fail(q, r, rc, NULL);
    goto done;
  }
  web_crm_answer(q, r, carnet_record_id(cur), 200);
done:
  carnet_patch_free(p);
  carnet_record_free(cur);
}
