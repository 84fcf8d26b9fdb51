/* book/import_update.c - `carnet import --on-duplicate update`: what a row
 * changes in a customer already in the book (carnet__imp_update_patch).
 *
 * The row is first turned into the patch of a new customer (every value
 * converted as `carnet customer add` converts it); this file compares that
 * patch, operation by operation, with the stored customer and keeps only
 * what differs, so that a spreadsheet exported, edited and imported again
 * writes exactly the cells that were edited: an unchanged value is not
 * written again (it would take a new stamp, travel to every replica and
 * win over a concurrent edit made elsewhere for no reason).
 *
 * A set named by the file (e-mails, phones, tags, roles: a non-empty cell)
 * becomes what the cell lists: missing elements are added, others removed.
 * An empty cell names nothing and changes nothing.
 */
#include <stdio.h>
#include <string.h>

#include "book/import_int.h"
#include "engine/base/alloc.h"
#include "engine/model/patch.h"

typedef struct diff {
  const char *region; /* the replica's default phone region */
  carnet_patch *out;
  char *fields;
  size_t fields_len;
  bool changed;
} diff;

/* Notes that `f` is written (once in the list). */
static void touched(diff *d, carnet_field f) {
  const carnet_field_info *fi = carnet_field_get(f);
  const char *name = fi ? fi->name : "?";
  size_t n = strlen(d->fields), k = strlen(name);
  d->changed = true;
  for (const char *p = d->fields; (p = strstr(p, name)) != NULL; p += k)
    if ((p == d->fields || p[-1] == ',') && (p[k] == ',' || p[k] == '\0')) return;
  if (n + k + 2 > d->fields_len) return;
  snprintf(d->fields + n, d->fields_len - n, "%s%s", n ? "," : "", name);
}

static bool same_email(const char *a, const char *b) {
  char ka[256], kb[256];
  if (carnet_email_key(a, ka, sizeof ka) != 0 || carnet_email_key(b, kb, sizeof kb) != 0)
    return strcmp(a, b) == 0;
  return strcmp(ka, kb) == 0;
}

static bool same_elem(carnet_field f, const char *a, const char *b) {
  return f == CARNET_F_EMAILS ? same_email(a, b) : strcmp(a, b) == 0;
}

/* Whether the patch sets element `e` of set field `f`. */
static bool file_has(const carnet_patch *p, carnet_field f, const char *e) {
  for (size_t i = 0; i < p->n; i++)
    if (p->ops[i].op == CARNET__OP_SET && p->ops[i].field == f && p->ops[i].value &&
        same_elem(f, p->ops[i].value, e))
      return true;
  return false;
}

static bool file_names(const carnet_patch *p, carnet_field f) {
  for (size_t i = 0; i < p->n; i++)
    if (p->ops[i].field == f &&
        (p->ops[i].op == CARNET__OP_SET || p->ops[i].op == CARNET__OP_PHONE_ADD))
      return true;
  return false;
}

static bool stored_has(const carnet_record *rec, carnet_field f, const char *e) {
  const char *const *v;
  size_t n = carnet_record_elems(rec, f, &v);
  for (size_t i = 0; i < n; i++)
    if (same_elem(f, v[i], e)) return true;
  return false;
}

/* The stored phone of number `e164` ("mobile:+336..."), its type in `type`. */
static bool stored_phone(const carnet_record *rec, const char *e164, char *type, size_t tlen) {
  const char *const *v;
  size_t n = carnet_record_elems(rec, CARNET_F_PHONES, &v);
  for (size_t i = 0; i < n; i++)
    if (strcmp(carnet__imp_phone_split(v[i], type, tlen), e164) == 0) return true;
  return false;
}

/* The stored form ("+E164" or "+E164;ext=N") of a file's phone, read in
 * `region` as the write reads it. */
static int stored_form(const char *value, const char *region, char out[CARNET_PHONE_STORED_MAX]) {
  carnet_phone p;
  out[0] = '\0';
  if (value == NULL || carnet_phone_parse(value, region, &p) != 0) return CARNET_EINVAL;
  return carnet_phone_stored(&p, out, CARNET_PHONE_STORED_MAX);
}

/* Whether the file lists the phone `e164` (stored form, any type). */
static bool file_phone(const carnet_patch *p, const char *region, const char *e164) {
  char n[CARNET_PHONE_STORED_MAX];
  for (size_t i = 0; i < p->n; i++) {
    const carnet__op *op = &p->ops[i];
    if (op->field != CARNET_F_PHONES || op->value == NULL ||
        (op->op != CARNET__OP_SET && op->op != CARNET__OP_PHONE_ADD))
      continue;
    if (stored_form(op->value, region, n) == 0 && strcmp(n, e164) == 0) return true;
  }
  return false;
}

static int scalar(diff *d, const carnet_record *rec, const carnet__op *op) {
  char norm[64];
  const char *v = op->value ? op->value : "";
  const char *cur = carnet_record_str(rec, op->field);
  if (op->field == CARNET_F_SIRET && carnet_siret_normalize(v, norm) == 0) v = norm;
  if (cur && strcmp(cur, v) == 0) return 0;
  if (cur == NULL && v[0] == '\0') return 0;
  touched(d, op->field);
  return carnet_patch_set(d->out, op->field, op->value);
}

static int phone(diff *d, const carnet_record *rec, const carnet__op *op) {
  char e164[CARNET_PHONE_STORED_MAX], type[32];
  /* A number that does not convert is left to the write, which names it. */
  if (op->value == NULL || stored_form(op->value, d->region, e164) != 0) {
    touched(d, CARNET_F_PHONES);
    return op->op == CARNET__OP_PHONE_ADD ? carnet_patch_phone(d->out, op->aux, op->value)
                                          : carnet_patch_set(d->out, CARNET_F_PHONES, op->value);
  }
  bool have = stored_phone(rec, e164, type, sizeof type);
  /* Untyped: the number is enough; typed: the type must match too. */
  if (have && (op->op == CARNET__OP_SET || (op->aux && strcmp(op->aux, type) == 0))) return 0;
  touched(d, CARNET_F_PHONES);
  return op->op == CARNET__OP_PHONE_ADD ? carnet_patch_phone(d->out, op->aux, e164)
                                        : carnet_patch_set(d->out, CARNET_F_PHONES, e164);
}

static int custom(diff *d, const carnet_record *rec, const carnet__op *op) {
  const carnet_custom *cf;
  size_t n = carnet_record_customs(rec, &cf);
  for (size_t i = 0; i < n; i++)
    if (op->aux && strcmp(cf[i].name, op->aux) == 0 && (int)cf[i].type == op->num && cf[i].value &&
        op->value && strcmp(cf[i].value, op->value) == 0)
      return 0;
  touched(d, CARNET_F_CUSTOM);
  return carnet_patch_custom(d->out, op->aux, (carnet_custom_type)op->num, op->value);
}

/* The elements the customer has and the file, naming the set, does not. */
static int removals(diff *d, const carnet_patch *full, const carnet_record *rec, carnet_field f) {
  const char *const *v;
  size_t n = carnet_record_elems(rec, f, &v);
  int rc = 0;
  if (!file_names(full, f)) return 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (f == CARNET_F_PHONES) {
      char type[32];
      const char *num = carnet__imp_phone_split(v[i], type, sizeof type);
      if (file_phone(full, d->region, num)) continue;
      touched(d, f);
      rc = carnet_patch_remove(d->out, f, num);
    } else if (!file_has(full, f, v[i])) {
      touched(d, f);
      rc = carnet_patch_remove(d->out, f, v[i]);
    }
  }
  return rc;
}

/* Whether an operation after ops[i] sets the same scalar: the row's last
 * word wins (a type column after the company, which implies a company). */
static bool set_later(const carnet_patch *p, size_t i) {
  for (size_t k = i + 1; k < p->n; k++)
    if (p->ops[k].op == CARNET__OP_SET && p->ops[k].field == p->ops[i].field) return true;
  return false;
}

int carnet__imp_update_patch(const carnet_patch *full, const carnet_record *existing,
                             const char *region, carnet_patch *out, char *fields, size_t fields_len,
                             bool *changed) {
  diff d = {region, out, fields, fields_len, false};
  int rc = 0;
  if (fields_len) fields[0] = '\0';
  for (size_t i = 0; i < full->n && rc == 0; i++) {
    const carnet__op *op = &full->ops[i];
    const carnet_field_info *fi = carnet_field_get(op->field);
    if (op->field == CARNET_F_PHONES)
      rc = phone(&d, existing, op);
    else if (op->op == CARNET__OP_CUSTOM)
      rc = custom(&d, existing, op);
    else if (op->op == CARNET__OP_SET && fi && fi->crdt == CARNET_CRDT_LWW)
      rc = set_later(full, i) ? 0 : scalar(&d, existing, op);
    else if (op->op == CARNET__OP_SET && op->value && !stored_has(existing, op->field, op->value)) {
      touched(&d, op->field);
      rc = carnet_patch_set(out, op->field, op->value);
    }
  }
  static const carnet_field sets[] = {CARNET_F_EMAILS, CARNET_F_PHONES, CARNET_F_TAGS,
                                      CARNET_F_ROLES};
  for (size_t k = 0; k < sizeof sets / sizeof sets[0] && rc == 0; k++)
    rc = removals(&d, full, existing, sets[k]);
  *changed = d.changed;
  return rc;
}

void carnet__imp_patch_fields(const carnet_patch *p, char *fields, size_t fields_len) {
  diff d = {NULL, NULL, fields, fields_len, false};
  if (fields_len) fields[0] = '\0';
  for (size_t i = 0; i < p->n; i++)
    touched(&d, p->ops[i].field);
}
