/* web/api_crm.c - commercial actions, reminders and a customer's history
 * with its balance: `carnet action`, `carnet reminder(s)` and `carnet
 * history` over HTTP. */
#include <stdio.h>
#include <string.h>

#include "crm.h"
#include "list.h"
#include "routes.h"
#include "view.h"

/* --- Actions ------------------------------------------------------------------ */

typedef struct action_filter {
  const char *from, *to, *campaign, *channel;
} action_filter;

static bool action_keep(const carnet_record *rec, void *data) {
  const action_filter *f = data;
  const char *at = carnet_record_str(rec, CARNET_F_AT), *v;
  if (f->from && (at == NULL || strncmp(at, f->from, 10) < 0)) return false;
  if (f->to && (at == NULL || strncmp(at, f->to, 10) > 0)) return false;
  if (f->campaign &&
      ((v = carnet_record_str(rec, CARNET_F_CAMPAIGN)) == NULL || strcmp(v, f->campaign)))
    return false;
  if (f->channel &&
      ((v = carnet_record_str(rec, CARNET_F_CHANNEL)) == NULL || strcmp(v, f->channel)))
    return false;
  return true;
}

static json_t *action_view(const carnet_record *rec, void *data) {
  (void)data;
  return web_json_action(rec, NULL);
}

static const char *nonempty(const char *s) {
  return s && s[0] ? s : NULL;
}

void api_actions_list(carnet_replica *r, web_req *q) {
  action_filter f = {nonempty(web_arg_get(q, "from")), nonempty(web_arg_get(q, "to")),
                     nonempty(web_arg_get(q, "campaign")), nonempty(web_arg_get(q, "channel"))};
  const char *customer = nonempty(web_arg_get(q, "customer"));
  carnet_id cu;
  bool deleted;
  if (!web_parse_bool(web_arg_get(q, "deleted"), false, &deleted)) {
    web_error(q, 400, CARNET_EINVAL, "deleted", "invalid value for 'deleted': 1 or 0");
    return;
  }
  if (!web_date_ok(q, "from", f.from) || !web_date_ok(q, "to", f.to)) return;
  if (customer && !web_resolve(q, r, CARNET_KIND_CUSTOMER, customer, "customer", &cu)) return;
  web_page pg = {.kind = CARNET_KIND_ACTION,
                 .filter = {.customer = customer ? &cu : NULL, .include_deleted = deleted},
                 .view = action_view,
                 .keep = action_keep,
                 .data = &f};
  web_crm_page(q, r, &pg);
}

void api_action_create(carnet_replica *r, web_req *q) {
  static const char *const required[] = {"channel", NULL};
  web_crm_create(r, q, CARNET_KIND_ACTION, required);
}
void api_action_get(carnet_replica *r, web_req *q) {
  web_crm_get(r, q, CARNET_KIND_ACTION);
}
void api_action_edit(carnet_replica *r, web_req *q) {
  web_crm_edit(r, q, CARNET_KIND_ACTION);
}
static json_t *action_plain(const carnet_record *rec, json_t *labels) {
  return web_json_action(rec, labels);
}
void api_action_delete(carnet_replica *r, web_req *q) {
  web_delete_entity(r, q, CARNET_KIND_ACTION, action_plain);
}

/* --- Reminders ------------------------------------------------------------------ */

static json_t *reminder_view(const carnet_record *rec, void *data) {
  (void)data;
  return web_json_reminder(rec, NULL);
}

typedef struct due_st {
  json_t *items;
  bool oom;
} due_st;

static int due_cb(const carnet_record *rec, void *data) {
  due_st *st = data;
  if (!web_json_push(st->items, web_json_reminder(rec, NULL))) {
    st->oom = true;
    return 1;
  }
  return 0;
}

void api_reminders_due(carnet_replica *r, web_req *q) {
  char from[11], to[11];
  bool week;
  const char *date = nonempty(web_arg_get(q, "date"));
  if (!web_parse_bool(web_arg_get(q, "week"), false, &week)) {
    web_error(q, 400, CARNET_EINVAL, "week", "invalid value for 'week': 1 or 0");
    return;
  }
  if (!web_date_ok(q, "date", date)) return;
  if (date)
    snprintf(from, sizeof from, "%s", date);
  else
    carnet_replica_get_today(r, from);
  snprintf(to, sizeof to, "%s", from);
  if (week && !date) {
    /* Monday to Sunday of this week, as `carnet reminders --week`. */
    int wd = carnet_date_weekday(from);
    char today[11];
    snprintf(today, sizeof today, "%s", from);
    carnet_date_add(today, 1 - wd, from);
    carnet_date_add(today, 7 - wd, to);
  }
  due_st st = {json_array(), false};
  int rc = st.items ? carnet_reminder_list_due(r, from, to, due_cb, &st) : CARNET_ENOMEM;
  if (st.oom || rc == CARNET_ENOMEM) {
    json_decref(st.items);
    web_oom(q);
    return;
  }
  if (rc) {
    json_decref(st.items);
    web_fail(q, r, rc, NULL);
    return;
  }
  if (!web_crm_label_items(r, st.items)) {
    json_decref(st.items);
    web_oom(q);
    return;
  }
  web_ok(q, 200, json_pack("{s:s,s:s,s:o}", "from", from, "to", to, "items", st.items));
}

void api_reminders_list(carnet_replica *r, web_req *q) {
  const char *customer = nonempty(web_arg_get(q, "customer"));
  carnet_id cu;
  if (customer && !web_resolve(q, r, CARNET_KIND_CUSTOMER, customer, "customer", &cu)) return;
  web_page pg = {.kind = CARNET_KIND_REMINDER,
                 .filter = {.customer = customer ? &cu : NULL},
                 .view = reminder_view};
  web_crm_page(q, r, &pg);
}

void api_reminder_create(carnet_replica *r, web_req *q) {
  static const char *const required[] = {"customer", NULL};
  web_crm_create(r, q, CARNET_KIND_REMINDER, required);
}
void api_reminder_get(carnet_replica *r, web_req *q) {
  web_crm_get(r, q, CARNET_KIND_REMINDER);
}
void api_reminder_edit(carnet_replica *r, web_req *q) {
  web_crm_edit(r, q, CARNET_KIND_REMINDER);
}
static json_t *reminder_plain(const carnet_record *rec, json_t *labels) {
  return web_json_reminder(rec, labels);
}
void api_reminder_delete(carnet_replica *r, web_req *q) {
  web_delete_entity(r, q, CARNET_KIND_REMINDER, reminder_plain);
}

/* --- History ---------------------------------------------------------------------- */

typedef struct hist_st {
  json_t *entries;
  int64_t balance;
  bool oom;
} hist_st;

static const char *kind_word(const carnet_history_entry *e) {
  if (e->kind == CARNET_HIST_ACTION) return "action";
  if (e->kind == CARNET_HIST_PAYMENT)
    return carnet_record_doc_type(e->rec) == CARNET_DOC_CREDIT_NOTE ? "refund" : "payment";
  const char *t = carnet_record_str(e->rec, CARNET_F_DOC_TYPE);
  return t ? t : "document";
}

/* The description `carnet history` shows: a document's label, status and
 * total; an action's channel, rating and details. */
static void describe(const carnet_history_entry *e, char *what, size_t len) {
  char hex[CARNET_ID_HEX_LEN + 1], label[48], ttc[32];
  if (e->kind == CARNET_HIST_ACTION) {
    const char *ch = carnet_record_str(e->rec, CARNET_F_CHANNEL);
    const char *d = carnet_record_str(e->rec, CARNET_F_DETAILS);
    const char *rating = carnet_record_str(e->rec, CARNET_F_RATING);
    snprintf(what, len, "%s%s%s%s", ch ? ch : "", rating ? " [" : "", rating ? rating : "",
             rating ? "]" : "");
    if (d) snprintf(what + strlen(what), len - strlen(what), ": %s", d);
    return;
  }
  const char *num = carnet_record_str(e->rec, CARNET_F_NUMBER);
  carnet_totals t;
  bool ok = carnet_doc_totals(e->rec, &t) == 0;
  if (num == NULL) {
    carnet_id_format(carnet_record_id(e->rec), hex);
    snprintf(label, sizeof label, "draft %.8s", hex);
  }
  snprintf(what, len, "%s %s, TTC %s", num ? num : label,
           carnet_record_str(e->rec, CARNET_F_STATUS), ok ? web_fmt_money(t.ttc, ttc) : "?");
}

static int hist_cb(const carnet_history_entry *e, void *data) {
  hist_st *st = data;
  char hex[CARNET_ID_HEX_LEN + 1], what[512], amount[32], balance[32];
  carnet_id_format(carnet_record_id(e->rec), hex);
  describe(e, what, sizeof what);
  json_t *o = json_object();
  bool ok = web_json_put(o, "date", web_json_str(e->date));
  ok = web_json_put(o, "kind", web_json_str(kind_word(e))) && ok;
  ok = web_json_put(o, "id", web_json_str(hex)) && ok;
  ok = web_json_put(o, "number", web_json_str(carnet_record_str(e->rec, CARNET_F_NUMBER))) && ok;
  ok = web_json_put(o, "status", web_json_str(carnet_record_str(e->rec, CARNET_F_STATUS))) && ok;
  ok = web_json_put(o, "description", web_json_str(what)) && ok;
  ok = web_json_put(o, "amount", web_json_str(web_fmt_money(e->amount, amount))) && ok;
  ok = web_json_put(o, "balance", web_json_str(web_fmt_money(e->balance, balance))) && ok;
  if (!ok) json_decref(o), o = NULL;
  st->balance = e->balance;
  if (!web_json_push(st->entries, o)) {
    st->oom = true;
    return 1;
  }
  return 0;
}

void api_history(carnet_replica *r, web_req *q) {
  carnet_record *cu = NULL;
  char hex[CARNET_ID_HEX_LEN + 1], balance[32];
  if (!web_load(q, r, CARNET_KIND_CUSTOMER, q->seg[1], &cu)) return;
  hist_st st = {json_array(), 0, false};
  int rc = st.entries ? carnet_history_list(r, carnet_record_id(cu), hist_cb, &st) : CARNET_ENOMEM;
  if (st.oom || rc == CARNET_ENOMEM) {
    web_oom(q);
  } else if (rc) {
    web_fail(q, r, rc, NULL);
  } else {
    const char *name = carnet_record_str(cu, CARNET_F_NAME);
    if (name == NULL) name = carnet_record_str(cu, CARNET_F_COMPANY);
    carnet_id_format(carnet_record_id(cu), hex);
    web_ok(q, 200,
           json_pack("{s:s,s:o,s:o,s:s,s:O}", "customer", hex, "ref",
                     web_json_str(carnet_record_str(cu, CARNET_F_REFCODE)), "name",
                     web_json_str(name), "balance", web_fmt_money(st.balance, balance), "entries",
                     st.entries));
  }
  json_decref(st.entries);
  carnet_record_free(cu);
}
