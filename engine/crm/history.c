/* engine/crm/history.c - computed views over many entities: reminders due, a
 * customer's history with its running balance, statistics.
 *
 * carnet_record_list holds a read transaction while it calls back, so a view that
 * needs records in another order first gathers what it sorts on (ids,
 * dates, amounts) in the callback, then sorts, then reads each record again
 * with carnet_record_get for its own callback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/document.h"
#include "carnet/error.h"
#include "engine/base/alloc.h"
#include "engine/crm/dates.h"
#include "engine/store/replica_int.h"

/* --- reminders ------------------------------------------------------------ */

/* The days [first, last] on which a reminder is due (before `done`). */
static bool reminder_span(const carnet_record *rec, int64_t *first, int64_t *last) {
  const char *date = carnet_record_str(rec, CARNET_F_DATE);
  const char *mode = carnet_record_str(rec, CARNET_F_MODE);
  const char *done = carnet_record_str(rec, CARNET_F_DONE);
  int64_t d;
  if (carnet_record_kind(rec) != CARNET_KIND_REMINDER || carnet_record_deleted(rec)) return false;
  if (done && strcmp(done, "true") == 0) return false;
  if (carnet__date_days(date, &d) != 0) return false;
  if (mode && strcmp(mode, "week") == 0) {
    int wd = carnet_date_weekday(date); /* 1 = Monday */
    *first = d - (wd - 1);
    *last = *first + 6;
  } else {
    *first = *last = d;
  }
  return true;
}

bool carnet_reminder_due_on(const carnet_record *rec, const char *date) {
  int64_t first, last, d;
  if (carnet__date_days(date, &d) != 0 || !reminder_span(rec, &first, &last)) return false;
  return d >= first && d <= last;
}

typedef struct found {
  carnet_id id;
  char date[20]; /* sort key: a date or a date-time */
  int order;     /* tie-break after the date */
  int64_t amount;
  carnet_history_kind kind;
} found;

typedef struct founds {
  found *v;
  size_t n, cap;
  int err;
} founds;

static found *founds_add(founds *f) {
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 32;
    found *v = carnet__realloc(f->v, cap * sizeof *v);
    if (v == NULL) {
      f->err = CARNET_ENOMEM;
      return NULL;
    }
    f->v = v;
    f->cap = cap;
  }
  found *e = &f->v[f->n++];
  memset(e, 0, sizeof *e);
  return e;
}

static int found_cmp(const void *a, const void *b) {
  const found *x = a, *y = b;
  int c = strcmp(x->date, y->date);
  if (c) return c;
  if (x->order != y->order) return x->order < y->order ? -1 : 1;
  return memcmp(x->id.b, y->id.b, 16);
}

typedef struct due_state {
  founds f;
  int64_t from, to;
} due_state;

static int due_cb(const carnet_record *rec, void *data) {
  due_state *st = data;
  int64_t first, last;
  if (!reminder_span(rec, &first, &last) || last < st->from || first > st->to) return 0;
  found *e = founds_add(&st->f);
  if (e == NULL) return 1;
  e->id = *carnet_record_id(rec);
  snprintf(e->date, sizeof e->date, "%s", carnet_record_str(rec, CARNET_F_DATE));
  return 0;
}

int carnet_reminder_list_due(carnet_replica *r, const char *from, const char *to,
                             carnet_record_cb cb, void *data) {
  due_state st = {.from = 0};
  if (carnet__date_days(from, &st.from) != 0 || carnet__date_days(to, &st.to) != 0 ||
      st.to < st.from)
    return carnet__fail(r, CARNET_EINVAL, "invalid date range '%s' to '%s' (YYYY-MM-DD)",
                        from ? from : "", to ? to : "");
  int rc = carnet_record_list(r, CARNET_KIND_REMINDER, NULL, due_cb, &st);
  if (rc == 1 || st.f.err) rc = st.f.err ? st.f.err : CARNET_ENOMEM;
  if (rc == 0 && st.f.n > 1) qsort(st.f.v, st.f.n, sizeof *st.f.v, found_cmp);
  for (size_t i = 0; rc == 0 && i < st.f.n; i++) {
    carnet_record *rec = NULL;
    if ((rc = carnet_record_get(r, &st.f.v[i].id, &rec))) break;
    rc = cb(rec, data);
    carnet_record_free(rec);
  }
  carnet__free(st.f.v);
  return rc;
}

/* --- history ---------------------------------------------------------------- */

/* Does a validated, not cancelled document move the balance, and by how much
 * (its TTC, signed); and its payment (the status paid). */
static bool doc_amounts(const carnet_record *rec, int64_t *amount, int64_t *paid) {
  carnet_doc_type type = carnet_record_doc_type(rec);
  carnet_doc_status st = carnet_record_status(rec);
  carnet_totals tot;
  *amount = *paid = 0;
  if (carnet_record_str(rec, CARNET_F_NUMBER) == NULL || st == CARNET_ST_CANCELLED) return false;
  if (type != CARNET_DOC_INVOICE && type != CARNET_DOC_CREDIT_NOTE) return false;
  if (carnet_doc_totals(rec, &tot) != 0) return false;
  int64_t sign = type == CARNET_DOC_INVOICE ? 1 : -1;
  *amount = sign * tot.ttc;
  if (st == CARNET_ST_PAID) *paid = -sign * tot.ttc;
  return true;
}

static int history_cb(const carnet_record *rec, void *data) {
  founds *f = data;
  const char *date;
  found *e;
  if (carnet_record_kind(rec) == CARNET_KIND_ACTION) {
    if ((e = founds_add(f)) == NULL) return 1;
    date = carnet_record_str(rec, CARNET_F_AT);
    e->kind = CARNET_HIST_ACTION;
    e->order = 2;
  } else {
    int64_t amount, paid;
    bool moves = doc_amounts(rec, &amount, &paid);
    if ((e = founds_add(f)) == NULL) return 1;
    date = carnet_record_str(rec, CARNET_F_DATE);
    e->kind = CARNET_HIST_DOCUMENT;
    e->amount = amount;
    if (moves && carnet_record_status(rec) == CARNET_ST_PAID) {
      found *p = founds_add(f);
      if (p == NULL) return 1;
      const char *pd = carnet_record_str(rec, CARNET_F_PAID_DATE);
      p->id = *carnet_record_id(rec);
      snprintf(p->date, sizeof p->date, "%s", pd ? pd : date ? date : "");
      p->kind = CARNET_HIST_PAYMENT;
      p->order = 1;
      p->amount = paid;
      e = &f->v[f->n - 2]; /* founds_add may have moved the array */
    }
  }
  e->id = *carnet_record_id(rec);
  snprintf(e->date, sizeof e->date, "%s", date ? date : "");
  return 0;
}

int carnet_history_list(carnet_replica *r, const carnet_id *customer, carnet_history_cb cb,
                        void *data) {
  carnet_record *cu = NULL;
  founds f = {0};
  carnet_filter filter = {.customer = customer};
  int rc = carnet_record_get(r, customer, &cu);
  if (rc == 0 && carnet_record_kind(cu) != CARNET_KIND_CUSTOMER) rc = CARNET_ENOTFOUND;
  carnet_record_free(cu);
  if (rc == CARNET_ENOTFOUND) return carnet__fail(r, rc, "no such customer");
  if (rc) return rc;
  rc = carnet_record_list(r, CARNET_KIND_DOCUMENT, &filter, history_cb, &f);
  if (rc == 0) rc = carnet_record_list(r, CARNET_KIND_ACTION, &filter, history_cb, &f);
  if (rc == 1 || f.err) rc = f.err ? f.err : CARNET_ENOMEM;
  if (rc == 0 && f.n > 1) qsort(f.v, f.n, sizeof *f.v, found_cmp);
  int64_t balance = 0;
  for (size_t i = 0; rc == 0 && i < f.n; i++) {
    carnet_record *rec = NULL;
    if ((rc = carnet_record_get(r, &f.v[i].id, &rec))) break;
    balance += f.v[i].amount;
    carnet_history_entry e = {.kind = f.v[i].kind,
                              .date = f.v[i].date,
                              .rec = rec,
                              .amount = f.v[i].amount,
                              .balance = balance};
    rc = cb(&e, data);
    carnet_record_free(rec);
  }
  carnet__free(f.v);
  return rc;
}

/* --- statistics ---------------------------------------------------------------- */

typedef struct stats_state {
  carnet_stats *s;
  int64_t from, to;
  int won_rating;
  size_t cap;
  int err;
} stats_state;

static bool in_range(const stats_state *st, const char *date) {
  char d[11];
  int64_t n;
  if (date == NULL || strlen(date) < 10) return false;
  memcpy(d, date, 10);
  d[10] = '\0';
  return carnet__date_days(d, &n) == 0 && n >= st->from && n <= st->to;
}

static int action_stats_cb(const carnet_record *rec, void *data) {
  stats_state *st = data;
  carnet_stats *s = st->s;
  if (!in_range(st, carnet_record_str(rec, CARNET_F_AT))) return 0;
  s->actions++;
  s->per_channel[carnet_action_channel_parse(carnet_record_str(rec, CARNET_F_CHANNEL))]++;
  int level = carnet_rating_level(carnet_record_str(rec, CARNET_F_RATING));
  s->per_rating[level]++;
  if (level > 0) s->rated++;
  if (level > 0 && level >= st->won_rating) s->won++;
  return 0;
}

static carnet_rep_stats *rep_of(stats_state *st, const char *name) {
  carnet_stats *s = st->s;
  if (name == NULL) name = "";
  for (size_t i = 0; i < s->nreps; i++)
    if (strcmp(s->reps[i].rep, name) == 0) return &s->reps[i];
  if (s->nreps == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 8;
    carnet_rep_stats *v = carnet__realloc(s->reps, cap * sizeof *v);
    if (v == NULL) return NULL;
    s->reps = v;
    st->cap = cap;
  }
  carnet_rep_stats *rs = &s->reps[s->nreps];
  memset(rs, 0, sizeof *rs);
  if ((rs->rep = carnet__strdup(name)) == NULL) return NULL;
  s->nreps++;
  return rs;
}

static int doc_stats_cb(const carnet_record *rec, void *data) {
  stats_state *st = data;
  carnet_doc_type type = carnet_record_doc_type(rec);
  carnet_doc_status status = carnet_record_status(rec);
  carnet_totals tot;
  if (!in_range(st, carnet_record_str(rec, CARNET_F_DATE)) || status == CARNET_ST_CANCELLED)
    return 0;
  if (carnet_doc_totals(rec, &tot) != 0) return 0;
  bool validated = carnet_record_str(rec, CARNET_F_NUMBER) != NULL;
  bool sale = validated && (type == CARNET_DOC_INVOICE || type == CARNET_DOC_CREDIT_NOTE);
  if (type != CARNET_DOC_QUOTE && !sale) return 0;
  carnet_rep_stats *rs = rep_of(st, carnet_record_str(rec, CARNET_F_SALES_REP));
  if (rs == NULL) {
    st->err = CARNET_ENOMEM;
    return 1;
  }
  if (type == CARNET_DOC_QUOTE) {
    rs->quotes++;
    rs->quotes_ht += tot.ht;
    if (status >= CARNET_ST_ACCEPTED) rs->quotes_won++;
  } else {
    int64_t sign = type == CARNET_DOC_INVOICE ? 1 : -1;
    rs->invoices++;
    rs->sales_ht += sign * tot.ht;
    rs->margin += sign * tot.margin;
  }
  return 0;
}

static int rep_cmp(const void *a, const void *b) {
  return strcmp(((const carnet_rep_stats *)a)->rep, ((const carnet_rep_stats *)b)->rep);
}

int carnet_stats_compute(carnet_replica *r, const char *from, const char *to, int won_rating,
                         carnet_stats *out) {
  stats_state st = {.s = out, .won_rating = won_rating};
  memset(out, 0, sizeof *out);
  if (carnet__date_days(from, &st.from) != 0 || carnet__date_days(to, &st.to) != 0 ||
      st.to < st.from)
    return carnet__fail(r, CARNET_EINVAL, "invalid date range '%s' to '%s' (YYYY-MM-DD)",
                        from ? from : "", to ? to : "");
  if (won_rating < 1 || won_rating > 5)
    return carnet__fail(r, CARNET_EINVAL, "the won rating is a level from 1 to 5");
  int rc = carnet_record_list(r, CARNET_KIND_ACTION, NULL, action_stats_cb, &st);
  if (rc == 0) rc = carnet_record_list(r, CARNET_KIND_DOCUMENT, NULL, doc_stats_cb, &st);
  if (rc == 1 || st.err) rc = st.err ? st.err : CARNET_ENOMEM;
  if (rc) {
    carnet_stats_free(out);
    return rc;
  }
  if (out->nreps > 1) qsort(out->reps, out->nreps, sizeof *out->reps, rep_cmp);
  return 0;
}

void carnet_stats_free(carnet_stats *s) {
  if (s == NULL) return;
  for (size_t i = 0; i < s->nreps; i++)
    carnet__free(s->reps[i].rep);
  carnet__free(s->reps);
  s->reps = NULL;
  s->nreps = 0;
}
