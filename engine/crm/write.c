/* engine/crm/write.c - local writes: a patch validated and turned into cells
 * under one fresh stamp and one sequence number, in the caller's
 * transaction.
 *
 * Invariant W1: a local write's stamp is greater than every stamp the
 * replica holds (the clock is raised by every received stamp), so its cells
 * replace the current versions outright (carnet__entity_put).
 * Invariant W2: nothing reaches the store unless every operation of the
 * patch validated: an invalid value fails the whole write.
 */
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/document.h"
#include "carnet/error.h"
#include "carnet/normalize.h"
#include "engine/base/id.h"
#include "engine/base/mp.h"
#include "engine/base/text.h"
#include "engine/crm/attach.h"
#include "engine/crm/consent.h"
#include "engine/crm/dates.h"
#include "engine/crm/refcode.h"
#include "engine/crm/write.h"
#include "engine/model/patch.h"
#include "engine/model/schema.h"
#include "engine/store/entity_io.h"
#include "engine/store/phone_cache.h"
#include "engine/store/replica_int.h"

typedef struct carnet__writer wctx;

struct carnet__writer {
  carnet_txn *t;
  carnet_replica *r;
  carnet__loaded *l;
  carnet_hlc stamp;
  uint64_t seq;
  msgpack_sbuffer sb; /* one value at a time */
  msgpack_packer pk;
  char region[3]; /* the replica's phone region, read by the first phone */
};

const carnet__entity *carnet__writer_entity(const carnet__writer *w) {
  return &w->l->e;
}

carnet_txn *carnet__writer_txn(carnet__writer *w) {
  return w->t;
}

carnet_hlc carnet__writer_stamp(const carnet__writer *w) {
  return w->stamp;
}

msgpack_packer *carnet__writer_packer(carnet__writer *w) {
  return &w->pk;
}

/* Put the value packed in w->sb; `o` describes it when the caller packed
 * a string, a boolean or a phone ([type, number]) itself, else NULL. */
static int put_as(wctx *w, carnet_field f, const void *key, size_t klen, const msgpack_object *o) {
  carnet__cell c = {.field = (uint16_t)f,
                    .klen = (uint16_t)klen,
                    .vlen = (uint32_t)w->sb.size,
                    .key = key,
                    .val = (const uint8_t *)w->sb.data,
                    .hlc = w->stamp,
                    .origin = w->r->id};
  /* Local values are built by this file, but check them like any other
   * bytes: a bug here must not store what a peer would refuse. A value
   * described by its packer is checked as described (debug builds check
   * the bytes too, and that both agree). */
  int bad = o ? carnet__cell_check_as(w->l->e.kind, &c, o) : carnet__cell_check(w->l->e.kind, &c);
  assert(o == NULL || bad == carnet__cell_check(w->l->e.kind, &c));
  if (bad != 0)
    return carnet__fail(w->r, CARNET_EINVAL, "invalid value for field %s",
                        carnet_field_get(f) ? carnet_field_get(f)->name : "?");
  int rc = carnet__entity_put(&w->l->e, &c, w->seq);
  msgpack_sbuffer_clear(&w->sb);
  return rc;
}

static int put(wctx *w, carnet_field f, const void *key, size_t klen) {
  return put_as(w, f, key, klen, NULL);
}

/* What a value packed as `s` (nil when NULL) is. */
static msgpack_object str_obj(const char *s, size_t len) {
  msgpack_object o = {.type = MSGPACK_OBJECT_NIL};
  if (s) o = (msgpack_object){.type = MSGPACK_OBJECT_STR, .via.str = {(uint32_t)len, s}};
  return o;
}

static msgpack_object bool_obj(bool b) {
  return (msgpack_object){.type = MSGPACK_OBJECT_BOOLEAN, .via.boolean = b};
}

int carnet__writer_put(carnet__writer *w, carnet_field f, const void *key, size_t klen) {
  return put(w, f, key, klen);
}

static int put_str(wctx *w, carnet_field f, const char *s) {
  size_t len = s ? strlen(s) : 0;
  if (len == 0) {
    s = NULL;
    msgpack_pack_nil(&w->pk);
  } else {
    msgpack_pack_str(&w->pk, len);
    msgpack_pack_str_body(&w->pk, s, len);
  }
  msgpack_object o = str_obj(s, len);
  return put_as(w, f, NULL, 0, &o);
}

static int put_elem(wctx *w, carnet_field f, const char *elem, bool present) {
  if (present) {
    msgpack_pack_true(&w->pk);
  } else {
    msgpack_pack_false(&w->pk);
  }
  msgpack_object o = bool_obj(present);
  return put_as(w, f, elem, strlen(elem), &o);
}

static int invalid(wctx *w, const carnet_field_info *fi, const char *v, const char *why) {
  return carnet__fail(w->r, CARNET_EINVAL, "invalid %s '%s' (field %s)", why, v ? v : "", fi->name);
}

/* --- scalar fields ------------------------------------------------------- */

static bool one_of(const char *v, const char *const *list) {
  for (; *list; list++)
    if (strcmp(v, *list) == 0) return true;
  return false;
}

static const char *const types[] = {"individual", "company", NULL};
static const char *const roles[] = {"prospect", "customer", "supplier", NULL};
static const char *const contact_roles[] = {"director", "assistant", "delivery", "legal",
                                            "billing",  "sales",     "other",    NULL};

static const char *const doc_types[] = {"quote", "order", "invoice", "credit_note", NULL};
static const char *const directions[] = {"inbound", "outbound", NULL};
static const char *const modes[] = {"day", "week", NULL};

static int put_bool(wctx *w, carnet_field f, bool b) {
  if (b) {
    msgpack_pack_true(&w->pk);
  } else {
    msgpack_pack_false(&w->pk);
  }
  msgpack_object o = bool_obj(b);
  return put_as(w, f, NULL, 0, &o);
}

/* A reference to another entity of `kind`, which must exist. */
static int set_ref(wctx *w, const carnet_field_info *fi, const char *v, carnet_kind kind) {
  carnet_id cid;
  if (v == NULL || *v == '\0' || carnet_id_parse(v, &cid) != 0)
    return invalid(w, fi, v, kind == CARNET_KIND_CUSTOMER ? "customer id" : "id");
  carnet__loaded other;
  int rc = carnet__load(w->t->st, &cid, &other);
  bool ok = rc == 0 && other.existed && other.e.kind == kind;
  carnet__loaded_free(&other);
  if (rc) return rc;
  if (!ok) return carnet__fail(w->r, CARNET_ENOTFOUND, "no %s %s", carnet_kind_name(kind), v);
  carnet__pack_bin(&w->pk, cid.b, 16);
  return put(w, fi->field, NULL, 0);
}

static int set_scalar(wctx *w, const carnet_field_info *fi, const char *v) {
  char buf[64];
  bool clear = v == NULL || *v == '\0';
  unsigned kind = w->l->e.kind;
  switch (fi->field) {
  case CARNET_F_DOC_TYPE:
    if (clear || !one_of(v, doc_types))
      return invalid(w, fi, v, "document type (quote, order, invoice or credit_note)");
    return put_str(w, fi->field, v);
  case CARNET_F_CONTACT:
    if (clear) return put_str(w, fi->field, NULL);
    return set_ref(w, fi, v, CARNET_KIND_CONTACT);
  case CARNET_F_SOURCE:
  case CARNET_F_FROZEN_HT:
  case CARNET_F_FROZEN_TTC:
    return carnet__fail(w->r, CARNET_EINVAL,
                        "field %s is set by Carnet (conversion, validation) "
                        "and cannot be set",
                        fi->name);
  case CARNET_F_OWNER:
  case CARNET_F_SIZE:
  case CARNET_F_HASH:
  case CARNET_F_ADDED_BY:
  case CARNET_F_ADDED_AT:
  case CARNET_F_CONTENT_KEY:
    return carnet__fail(w->r, CARNET_EINVAL,
                        "field %s of an attachment is set with its content "
                        "(carnet_upload_commit) and cannot be changed",
                        fi->name);
  case CARNET_F_FILE_NAME:
    if (clear) return invalid(w, fi, v, "file name (it cannot be empty)");
    break;
  case CARNET_F_MEDIA_TYPE:
    if (clear || !carnet__media_type_valid(v))
      return invalid(w, fi, v, "media type (type/subtype, e.g. application/pdf)");
    return put_str(w, fi->field, v);
  case CARNET_F_DATE:
  case CARNET_F_DUE_DATE:
  case CARNET_F_PAID_DATE:
    if (clear && fi->field != CARNET_F_DATE) return put_str(w, fi->field, NULL);
    if (clear || !carnet_date_valid(v)) return invalid(w, fi, v, "date (YYYY-MM-DD)");
    return put_str(w, fi->field, v);
  case CARNET_F_AT:
    if (clear || carnet__datetime_normalize(v, buf) != 0)
      return invalid(w, fi, v,
                     "date and time (YYYY-MM-DD, YYYY-MM-DDTHH:MM or "
                     "YYYY-MM-DD HH:MM:SS)");
    return put_str(w, fi->field, buf);
  case CARNET_F_VALID_DAYS: {
    if (clear) return put_str(w, fi->field, NULL);
    char *end;
    long days = strtol(v, &end, 10);
    if (*end != '\0' || days < 0 || days > 3650)
      return invalid(w, fi, v, "number of days (0-3650)");
    msgpack_pack_int64(&w->pk, days);
    return put(w, fi->field, NULL, 0);
  }
  case CARNET_F_DIRECTION:
    if (!clear && !one_of(v, directions))
      return invalid(w, fi, v, "direction (inbound or outbound)");
    return put_str(w, fi->field, v);
  case CARNET_F_RATING:
    if (!clear && carnet_rating_level(v) == 0)
      return invalid(w, fi, v, "rating (1 to 5, or red, orange, yellow, green)");
    return put_str(w, fi->field, v);
  case CARNET_F_MODE:
    if (clear || !one_of(v, modes)) return invalid(w, fi, v, "mode (day or week)");
    return put_str(w, fi->field, v);
  case CARNET_F_DONE: {
    bool b;
    if (clear || carnet__parse_bool(v, &b) != 0) return invalid(w, fi, v, "flag (true or false)");
    return put_bool(w, fi->field, b);
  }
  case CARNET_F_CHANNEL:
    if (kind != CARNET_KIND_ACTION) break; /* a customer's: free text */
    if (clear || carnet_action_channel_parse(v) == 0)
      return invalid(w, fi, v, "channel (email, phone, mail, visit, trade_fair, sms or other)");
    return put_str(w, fi->field, v);
  case CARNET_F_TYPE:
    if (clear || !one_of(v, types)) return invalid(w, fi, v, "type (individual or company)");
    return put_str(w, fi->field, v);
  case CARNET_F_REFCODE:
    return carnet__fail(w->r, CARNET_EINVAL,
                        "the reference code is given by Carnet and cannot "
                        "be set");
  case CARNET_F_SIRET:
    if (clear) return put_str(w, fi->field, NULL);
    if (carnet_siret_normalize(v, buf) != 0)
      return carnet__fail(w->r, CARNET_EINVAL,
                          "invalid SIRET/SIREN '%s' (field siret): 9 or 14 digits with a valid "
                          "Luhn check digit",
                          v);
    return put_str(w, fi->field, buf);
  case CARNET_F_DISCOUNT: {
    if (clear) {
      msgpack_pack_nil(&w->pk);
      return put(w, fi->field, NULL, 0);
    }
    char *end;
    long bp = strtol(v, &end, 10);
    if (*end != '\0' || bp < 0 || bp > 10000)
      return invalid(w, fi, v, "discount (basis points 0-10000)");
    msgpack_pack_int64(&w->pk, bp);
    return put(w, fi->field, NULL, 0);
  }
  case CARNET_F_CONFLICT: {
    bool b;
    if (clear || carnet__parse_bool(v, &b) != 0) return invalid(w, fi, v, "flag (true or false)");
    if (b) {
      msgpack_pack_true(&w->pk);
    } else {
      msgpack_pack_false(&w->pk);
    }
    return put(w, fi->field, NULL, 0);
  }
  case CARNET_F_CUSTOMER:
    return set_ref(w, fi, v, CARNET_KIND_CUSTOMER);
  case CARNET_F_ROLE:
    if (!clear && !one_of(v, contact_roles))
      return invalid(w, fi, v,
                     "contact role (director, assistant, delivery, legal, billing, "
                     "sales, other)");
    return put_str(w, fi->field, v);
  case CARNET_F_COUNTRY:
    if (!clear && !(strlen(v) == 2 && isupper((unsigned char)v[0]) && isupper((unsigned char)v[1])))
      return invalid(w, fi, v, "country (ISO 3166 alpha-2, e.g. FR)");
    return put_str(w, fi->field, v);
  case CARNET_F_GEO:
    if (!clear && carnet__geo_valid(v) != 0) return invalid(w, fi, v, "position (lat,lon)");
    return put_str(w, fi->field, v);
  default:
    break;
  }
  bool multi =
      fi->field == CARNET_F_NOTES || fi->field == CARNET_F_DETAILS || fi->field == CARNET_F_COMMENT;
  size_t max = multi ? 10000 : 200;
  if (!clear && carnet__text_valid(v, max, multi) != 0)
    return carnet__fail(w->r, CARNET_EINVAL,
                        "invalid text for field %s: must be UTF-8, at most %zu bytes%s", fi->name,
                        max, multi ? "" : ", on one line");
  return put_str(w, fi->field, v);
}

/* --- set fields --------------------------------------------------------- */

/* An action's customers: elements are 16-byte ids, given in hex. */
static int set_customer_elem(wctx *w, const carnet_field_info *fi, const char *v, bool present) {
  carnet_id cid;
  if (carnet_id_parse(v, &cid) != 0) return invalid(w, fi, v, "customer id");
  if (present) {
    carnet__loaded other;
    int rc = carnet__load(w->t->st, &cid, &other);
    bool ok = rc == 0 && other.existed && other.e.kind == CARNET_KIND_CUSTOMER;
    carnet__loaded_free(&other);
    if (rc) return rc;
    if (!ok) return carnet__fail(w->r, CARNET_ENOTFOUND, "no customer %s", v);
  }
  if (present) {
    msgpack_pack_true(&w->pk);
  } else {
    msgpack_pack_false(&w->pk);
  }
  return put(w, fi->field, cid.b, 16);
}

static int set_elem(wctx *w, const carnet_field_info *fi, const char *v, bool present) {
  if (v == NULL || *v == '\0') return invalid(w, fi, v, "empty value");
  if (fi->vtype == CARNET_V_ID) return set_customer_elem(w, fi, v, present);
  switch (fi->field) {
  case CARNET_F_EMAILS:
    if (present && !carnet_email_valid(v)) return invalid(w, fi, v, "email");
    break;
  case CARNET_F_ROLES:
    if (!one_of(v, roles)) return invalid(w, fi, v, "role (prospect, customer or supplier)");
    break;
  default:
    if (carnet__text_valid(v, 64, false) != 0) return invalid(w, fi, v, "tag");
  }
  if (strlen(v) > 254) return invalid(w, fi, v, "value (too long)");
  return put_elem(w, fi->field, v, present);
}

/* --- phones: map slot -> [type, number] ------------------------------------ */

static const char *const phone_types[] = {"mobile", "work", "home", NULL};

/* Decode a phone slot's value; false when cleared. */
/* A stored string of at most 31 bytes (fixstr) copied as snprintf("%.*s")
 * into `out` of `cap` bytes; NULL when `p` is not one. */
static const uint8_t *fixstr_of(const uint8_t *p, const uint8_t *end, char *out, size_t cap) {
  if (p >= end || (*p & 0xe0) != 0xa0) return NULL;
  size_t n = *p++ & 0x1f;
  if ((size_t)(end - p) < n) return NULL;
  size_t k = strnlen((const char *)p, n < cap - 1 ? n : cap - 1); /* "%.*s" stops at a NUL */
  memcpy(out, p, k);
  out[k] = '\0';
  return p + n;
}

static bool phone_of(const carnet__cell *c, char type[17], char number[33]) {
  /* The usual shape, [fixstr, fixstr], read in place: msgpack's unpacker
   * and its zone cost more than the rest of the lookup. */
  const uint8_t *p = c->val, *end = c->val + c->vlen;
  if (c->vlen > 0 && p[0] == 0x92 && (p = fixstr_of(p + 1, end, type, 17)) != NULL &&
      (p = fixstr_of(p, end, number, 33)) != NULL && p == end)
    return true;
  msgpack_zone z;
  msgpack_object o;
  size_t off = 0;
  bool ok = false;
  if (!msgpack_zone_init(&z, 128)) return false;
  if (msgpack_unpack((const char *)c->val, c->vlen, &off, &z, &o) == MSGPACK_UNPACK_SUCCESS &&
      o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 2) {
    const msgpack_object *a = o.via.array.ptr;
    snprintf(type, 17, "%.*s", (int)a[0].via.str.size, a[0].via.str.ptr);
    snprintf(number, 33, "%.*s", (int)a[1].via.str.size, a[1].via.str.ptr);
    ok = true;
  }
  msgpack_zone_destroy(&z);
  return ok;
}

static int put_phone(wctx *w, const uint8_t *slot, const char *type, const char *number) {
  msgpack_object o = str_obj(NULL, 0), a[2];
  if (type == NULL) {
    msgpack_pack_nil(&w->pk);
  } else {
    a[0] = str_obj(type, strlen(type));
    a[1] = str_obj(number, strlen(number));
    msgpack_pack_array(&w->pk, 2);
    carnet__pack_str(&w->pk, type, a[0].via.str.size);
    carnet__pack_str(&w->pk, number, a[1].via.str.size);
    o = (msgpack_object){.type = MSGPACK_OBJECT_ARRAY, .via.array = {2, a}};
  }
  return put_as(w, CARNET_F_PHONES, slot, CARNET__PHONE_SLOT_LEN, &o);
}

/* Apply `fn` to each live phone slot; stops on a non-zero return. */
typedef int (*slot_fn)(wctx *w, const carnet__cell *c, const char *type, const char *number,
                       void *arg);

static int each_slot(wctx *w, slot_fn fn, void *arg) {
  carnet__entity *e = &w->l->e;
  for (size_t i = 0; i < e->n; i++) {
    char type[17], number[33];
    if (e->cells[i].field != CARNET_F_PHONES || !phone_of(&e->cells[i], type, number)) continue;
    /* `fn` may rewrite this very cell (same slot: no insertion, no move). */
    int rc = fn(w, &e->cells[i], type, number, arg);
    if (rc) return rc;
  }
  return 0;
}

struct phone_arg {
  const char *type, *number;
  bool done;
};

static int slot_same_number(wctx *w, const carnet__cell *c, const char *type, const char *number,
                            void *arg) {
  struct phone_arg *a = arg;
  if (strcmp(number, a->number) != 0) return 0;
  a->done = true;
  uint8_t slot[CARNET__PHONE_SLOT_LEN];
  (void)type;
  memcpy(slot, c->key, sizeof slot);
  /* Re-adding a number is a fresh statement of intent: a new stamp, so it
   * wins over an older concurrent removal of the slot. */
  return put_phone(w, slot, a->type, a->number);
}

static int slot_replace(wctx *w, const carnet__cell *c, const char *type, const char *number,
                        void *arg) {
  struct phone_arg *a = arg;
  if (strcmp(type, a->type) != 0 && strcmp(number, a->number) != 0) return 0;
  uint8_t slot[CARNET__PHONE_SLOT_LEN];
  memcpy(slot, c->key, sizeof slot);
  if (a->done) return put_phone(w, slot, NULL, NULL);
  a->done = true;
  if (strcmp(type, a->type) == 0 && strcmp(number, a->number) == 0) return 0;
  return put_phone(w, slot, a->type, a->number);
}

/* Whether the stored number `have` ("+E164" or "+E164;ext=N") is `want`:
 * the same text, or, when `want` has no extension, the same E.164 number
 * (removing "01 42 68 53 00" removes it whatever its extension). */
static bool same_phone(const char *have, const char *want) {
  if (strcmp(have, want) == 0) return true;
  size_t n = strlen(want);
  return strchr(want, ';') == NULL && strncmp(have, want, n) == 0 && have[n] == ';';
}

static int slot_remove(wctx *w, const carnet__cell *c, const char *type, const char *number,
                       void *arg) {
  struct phone_arg *a = arg;
  (void)type;
  if (!same_phone(number, a->number)) return 0;
  uint8_t slot[CARNET__PHONE_SLOT_LEN];
  memcpy(slot, c->key, sizeof slot);
  a->done = true;
  return put_phone(w, slot, NULL, NULL);
}

/* The number of `op` in its stored form ("+E164" or "+E164;ext=N", at most
 * 32 bytes as the schema allows), read with the replica's default region. */
static int phone_value(wctx *w, const carnet__op *op, carnet_phone *p, char *number, size_t len) {
  /* Read once per write: a customer often has two numbers. */
  const char *region = w->region;
  int rc = 0;
  if (region[0] == '\0' && (rc = carnet__region_read(w->t->st, w->region)) != 0) {
    w->region[0] = '\0';
    return carnet__fail(w->r, rc, "cannot read the replica's phone region");
  }
  rc = carnet__phone_parse_memo(w->r, op->value, region, p);
  if (rc == 0) rc = carnet_phone_stored(p, number, len);
  if (rc == CARNET_ENOMEM) return carnet__fail(w->r, rc, "out of memory reading a phone number");
  if (rc)
    return carnet__fail(w->r, CARNET_EINVAL,
                        "invalid phone number '%s' (field phones): use a number of this "
                        "replica's region (%s) such as 06 12 34 56 78, or an international one "
                        "such as +32 2 123 45 67; an extension may follow (poste 12, ext. 12)",
                        op->value ? op->value : "", region);
  return 0;
}

static int phone_op(wctx *w, const carnet__op *op) {
  const carnet_field_info *fi = carnet_field_get(CARNET_F_PHONES);
  _Static_assert(CARNET_PHONE_STORED_MAX <= 33, "a stored phone fits the schema's 32 bytes");
  char number[CARNET_PHONE_STORED_MAX];
  carnet_phone p;
  int rc = phone_value(w, op, &p, number, sizeof number);
  if (rc) return rc;
  const char *type = op->aux;
  if (op->op == CARNET__OP_SET) type = carnet__phone_default_type(&p);
  if (op->op != CARNET__OP_REMOVE && !one_of(type, phone_types))
    return invalid(w, fi, type, "phone type (mobile, work or home)");
  struct phone_arg a = {type, number, false};
  switch (op->op) {
  case CARNET__OP_REMOVE:
    return each_slot(w, slot_remove, &a);
  case CARNET__OP_PHONE_REPLACE: {
    rc = each_slot(w, slot_replace, &a);
    if (rc || a.done) return rc;
    break;
  }
  default: {
    rc = each_slot(w, slot_same_number, &a);
    if (rc || a.done) return rc;
  }
  }
  uint8_t slot[CARNET__PHONE_SLOT_LEN];
  carnet__random(w->r, slot, sizeof slot);
  return put_phone(w, slot, type, number);
}

/* --- custom fields and consents ------------------------------------------ */

static int custom_op(wctx *w, const carnet__op *op) {
  const char *name = op->aux, *v = op->value;
  if (carnet__custom_name_valid(name) != 0)
    return carnet__fail(w->r, CARNET_EINVAL,
                        "invalid custom field name '%s': 1-64 letters, digits, '_', '-' or ' '",
                        name);
  if (v == NULL || *v == '\0') {
    msgpack_pack_nil(&w->pk);
    return put(w, CARNET_F_CUSTOM, name, strlen(name));
  }
  if (carnet__custom_value_valid((carnet_custom_type)op->num, v) != 0)
    return carnet__fail(w->r, CARNET_EINVAL, "invalid value '%s' for custom field '%s' (%s)", v,
                        name, carnet__custom_type_name((carnet_custom_type)op->num));
  msgpack_pack_array(&w->pk, 2);
  msgpack_pack_uint8(&w->pk, (uint8_t)op->num);
  carnet__pack_str(&w->pk, v, strlen(v));
  return put(w, CARNET_F_CUSTOM, name, strlen(name));
}

/* The latest withdrawal this replica has seen on a channel: a grant records
 * it so that only withdrawals it did not see can override it. */
static carnet_hlc latest_withdrawal(const carnet__entity *e, int ch) {
  carnet_hlc latest = 0;
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    /* Withdrawal values start with [false, ...]: 0x93 0xc2. */
    if (c->field == CARNET_F_CONSENT && c->key[0] == ch && c->vlen > 1 && c->val[1] == 0xc2 &&
        c->hlc > latest)
      latest = c->hlc;
  }
  return latest;
}

static int consent_op(wctx *w, const carnet__op *op) {
  if (carnet_channel_name((carnet_channel)op->num) == NULL)
    return carnet__fail(w->r, CARNET_EINVAL,
                        "unknown consent channel (email, sms, whatsapp, viber, phone, post)");
  const char *note = op->aux ? op->aux : "";
  if (carnet__text_valid(note, 1000, false) != 0)
    return carnet__fail(w->r, CARNET_EINVAL,
                        "invalid consent note: one line of UTF-8, at most "
                        "1000 bytes");
  uint8_t key[CARNET__CONSENT_KEY_LEN];
  key[0] = (uint8_t)op->num;
  carnet__be64_put(key + 1, w->stamp);
  carnet__be64_put(key + 9, w->r->id);
  msgpack_pack_array(&w->pk, 3);
  if (op->flag) {
    msgpack_pack_true(&w->pk);
  } else {
    msgpack_pack_false(&w->pk);
  }
  msgpack_pack_uint64(&w->pk, op->flag ? latest_withdrawal(&w->l->e, op->num) : 0);
  carnet__pack_str(&w->pk, note, strlen(note));
  return put(w, CARNET_F_CONSENT, key, sizeof key);
}

/* --- the patch ----------------------------------------------------------- */

static int apply_op(wctx *w, const carnet__op *op) {
  const carnet_field_info *fi = carnet_field_get(op->field);
  unsigned kind = w->l->e.kind;
  if (fi == NULL || !(fi->kinds & (1u << kind)))
    return carnet__fail(w->r, CARNET_EINVAL, "unknown field %s%d for a %s", fi ? fi->name : "#",
                        fi ? 0 : (int)op->field, carnet_kind_name((carnet_kind)kind));
  switch (op->op) {
  case CARNET__OP_DELETE:
    msgpack_pack_true(&w->pk);
    return put(w, CARNET_F_DELETED, NULL, 0);
  case CARNET__OP_CUSTOM:
    return custom_op(w, op);
  case CARNET__OP_CONSENT:
    return consent_op(w, op);
  case CARNET__OP_PHONE_ADD:
  case CARNET__OP_PHONE_REPLACE:
    return phone_op(w, op);
  case CARNET__OP_SET:
  case CARNET__OP_REMOVE:
    break;
  }
  if (fi->field == CARNET_F_PHONES) return phone_op(w, op);
  if (fi->field == CARNET_F_LINES)
    return carnet__fail(w->r, CARNET_EINVAL,
                        "document lines are written with "
                        "carnet_doc_line_add/edit/remove/move");
  if (fi->field == CARNET_F_STATUS)
    return carnet__fail(w->r, CARNET_EINVAL,
                        "a document's status moves with "
                        "carnet_doc_status_set");
  if (fi->field == CARNET_F_NUMBER)
    return carnet__fail(w->r, CARNET_EINVAL,
                        "a document's number is given at validation "
                        "(carnet_doc_validate)");
  if (kind == CARNET_KIND_DOCUMENT && (fi->kinds & (1u << CARNET_KIND_CUSTOMER)) &&
      fi->field != CARNET_F_SALES_REP && fi->field != CARNET_F_NOTES &&
      fi->field != CARNET_F_DELETED)
    return carnet__fail(w->r, CARNET_EINVAL,
                        "field %s of a document is the customer's identity "
                        "as issued: Carnet copies it at validation",
                        fi->name);
  if (fi->crdt == CARNET_CRDT_SET) return set_elem(w, fi, op->value, op->op == CARNET__OP_SET);
  if (op->op == CARNET__OP_REMOVE || fi->crdt != CARNET_CRDT_LWW || fi->field == CARNET_F_DELETED)
    return carnet__fail(w->r, CARNET_EINVAL, "field %s cannot be %s this way", fi->name,
                        op->op == CARNET__OP_REMOVE ? "removed from" : "set");
  return set_scalar(w, fi, op->value);
}

static bool has_live(const carnet__entity *e, carnet_field f) {
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    if (c->field == f && !(c->vlen == 1 && (c->val[0] == 0xc0 || c->val[0] == 0xc2))) return true;
  }
  return false;
}

/* A new document's sales rep is its customer's, when the customer has one. */
static int inherit_sales_rep(wctx *w) {
  const carnet__cell *c = carnet__entity_find(&w->l->e, CARNET_F_CUSTOMER, NULL, 0);
  carnet_id cid;
  if (c == NULL || c->vlen != 18) return 0; /* bin8 header (2 bytes) + 16 */
  memcpy(cid.b, c->val + 2, 16);
  carnet__loaded cu;
  int rc = carnet__load(w->t->st, &cid, &cu);
  if (rc == 0 && cu.existed) {
    const carnet__cell *rep = carnet__entity_find(&cu.e, CARNET_F_SALES_REP, NULL, 0);
    /* Copy the value bytes: they are a str (or nil, which changes nothing). */
    if (rep && rep->vlen > 1) {
      msgpack_sbuffer_write(&w->sb, (const char *)rep->val, rep->vlen);
      rc = put(w, CARNET_F_SALES_REP, NULL, 0);
    }
  }
  carnet__loaded_free(&cu);
  return rc;
}

/* The fields a new entity cannot do without. */
static int require_new(wctx *w) {
  carnet__entity *e = &w->l->e;
  if (e->kind == CARNET_KIND_CUSTOMER && !has_live(e, CARNET_F_NAME) &&
      !has_live(e, CARNET_F_COMPANY))
    return carnet__fail(w->r, CARNET_EINVAL,
                        "a customer needs a name or a company name "
                        "(--name or --company=NAME)");
  return 0;
}

/* Defaults and required fields of a new entity. */
static int complete_new(wctx *w) {
  carnet__entity *e = &w->l->e;
  int rc = require_new(w);
  if (rc) return rc;
  if (e->kind == CARNET_KIND_CUSTOMER) {
    if (!has_live(e, CARNET_F_TYPE)) rc = put_str(w, CARNET_F_TYPE, "individual");
    if (rc == 0 && !has_live(e, CARNET_F_ROLES)) rc = put_elem(w, CARNET_F_ROLES, "prospect", true);
    char ref[64];
    if (rc == 0 && (rc = carnet__refcode_next(w->t, ref, sizeof ref)) == 0)
      rc = put_str(w, CARNET_F_REFCODE, ref);
  } else if (e->kind == CARNET_KIND_CONTACT) {
    if (!has_live(e, CARNET_F_CUSTOMER))
      return carnet__fail(w->r, CARNET_EINVAL, "a contact belongs to a customer (--customer REF)");
  } else if (e->kind == CARNET_KIND_DOCUMENT) {
    if (!has_live(e, CARNET_F_DOC_TYPE))
      return carnet__fail(w->r, CARNET_EINVAL,
                          "a document needs a type (quote, order, invoice or credit_note)");
    if (!has_live(e, CARNET_F_CUSTOMER))
      return carnet__fail(w->r, CARNET_EINVAL,
                          "a document is addressed to a customer "
                          "(--customer REF)");
    char today[11];
    carnet_replica_get_today(w->r, today);
    if (!has_live(e, CARNET_F_DATE)) rc = put_str(w, CARNET_F_DATE, today);
    if (rc == 0 && !has_live(e, CARNET_F_SALES_REP)) rc = inherit_sales_rep(w);
  } else if (e->kind == CARNET_KIND_ACTION) {
    if (!has_live(e, CARNET_F_CHANNEL))
      return carnet__fail(w->r, CARNET_EINVAL,
                          "an action needs a channel (email, phone, mail, "
                          "visit, trade_fair, sms or other)");
    char now[20];
    carnet__datetime_of_ms(carnet__now_ms(w->r), now);
    if (!has_live(e, CARNET_F_AT)) rc = put_str(w, CARNET_F_AT, now);
  } else if (e->kind == CARNET_KIND_ATTACHMENT) {
    if (!has_live(e, CARNET_F_CONTENT_KEY) || !has_live(e, CARNET_F_OWNER))
      return carnet__fail(w->r, CARNET_EINVAL,
                          "an attachment is made with its content "
                          "(carnet_upload_begin)");
  } else if (e->kind == CARNET_KIND_REMINDER) {
    if (!has_live(e, CARNET_F_CUSTOMER))
      return carnet__fail(w->r, CARNET_EINVAL, "a reminder is about a customer (--customer REF)");
    char today[11];
    carnet_replica_get_today(w->r, today);
    if (!has_live(e, CARNET_F_DATE)) rc = put_str(w, CARNET_F_DATE, today);
    if (rc == 0 && !has_live(e, CARNET_F_MODE)) rc = put_str(w, CARNET_F_MODE, "day");
  }
  return rc;
}

bool carnet__doc_validated(const carnet__entity *e) {
  return e->kind == CARNET_KIND_DOCUMENT && has_live(e, CARNET_F_NUMBER);
}

/* msgpack's first write takes 8 KiB, beyond malloc's per-thread cache, and
 * every write of a record used to pay for it (issue 17, point 5). A row is
 * rarely above 1 KiB: start there, msgpack doubles it when needed. The
 * buffer is msgpack's (msgpack_sbuffer_destroy frees it with free). */
static void sbuffer_init_small(msgpack_sbuffer *sb) {
  msgpack_sbuffer_init(sb);
  sb->data = malloc(1024);
  if (sb->data) sb->alloc = 1024;
}

int carnet__write(carnet_txn *t, const carnet_id *id, carnet_kind kind, const carnet_patch *p,
                  unsigned flags, carnet__write_fn fn, void *arg) {
  carnet_replica *r = t->r;
  wctx w = {.t = t, .r = r};
  carnet__loaded l;
  bool create = flags & CARNET__W_CREATE;
  int rc;
  carnet__clear_err(r);
  if (t->sticky) return t->sticky;
  if ((p == NULL && fn == NULL) || !carnet__kind_valid((unsigned)kind) || (p && p->kind != kind))
    return carnet__fail(r, CARNET_EMISUSE, "no patch, or a patch of an unknown kind");
  /* A replica's record is written by that replica only, through
   * carnet_replica_set_name (engine/crm/replica_name.c). */
  if (kind == CARNET_KIND_REPLICA && !(flags & CARNET__W_SYSTEM))
    return carnet__fail(r, CARNET_EINVAL,
                        "a replica's record is written by carnet_replica_set_name");
  sbuffer_init_small(&w.sb);
  msgpack_packer_init(&w.pk, &w.sb, msgpack_sbuffer_write);
  w.l = &l;
  /* A create does not look the id up: its save puts the row only where
   * none is (CARNET_EEXIST below). */
  if ((rc = create ? carnet__load_new(t->st, id, &l) : carnet__load_lazy(t->st, id, &l))) {
    if (rc == CARNET_ECORRUPT) carnet__fail(r, rc, "the stored record is damaged");
    goto done;
  }
  if (!create) {
    char hex[CARNET_ID_HEX_LEN + 1];
    carnet_id_format(id, hex);
    const carnet__cell *del = carnet__entity_find(&l.e, CARNET_F_DELETED, NULL, 0);
    if (!l.existed || (del && del->vlen == 1 && del->val[0] == 0xc3)) {
      rc = carnet__fail(r, CARNET_ENOTFOUND, "no %s %s%s", carnet_kind_name(kind), hex,
                        l.existed ? " (it was deleted)" : "");
      goto done;
    }
    if (l.e.kind != kind) {
      rc = carnet__fail(r, CARNET_EINVAL, "%s is a %s, not a %s", hex,
                        carnet_kind_name((carnet_kind)l.e.kind), carnet_kind_name(kind));
      goto done;
    }
    /* A validated document is read-only (French law: an invoice is
     * corrected by a credit note); only the engine moves its status. */
    if (!(flags & CARNET__W_SYSTEM) && carnet__doc_validated(&l.e)) {
      const carnet__cell *num = NULL;
      for (size_t i = 0; i < l.e.n && num == NULL; i++)
        if (l.e.cells[i].field == CARNET_F_NUMBER) num = &l.e.cells[i];
      /* The value is a fixstr or str8 (schema: at most 64 bytes). */
      size_t hdr = num && num->val[0] == 0xd9 ? 2 : 1;
      rc = carnet__fail(r, CARNET_EPERM,
                        "document %.*s is validated: it can no longer be changed (only its "
                        "status moves; correct an invoice with a credit note)",
                        num ? (int)(num->vlen - hdr) : (int)strlen(hex),
                        num ? (const char *)num->val + hdr : hex);
      goto done;
    }
  }
  l.e.kind = (uint8_t)kind;
  w.stamp = carnet__txn_tick(t);
  w.seq = carnet__txn_next_seq(t);
  for (size_t i = 0; p && i < p->n && rc == 0; i++)
    rc = apply_op(&w, &p->ops[i]);
  if (rc == 0 && fn) rc = fn(&w, arg);
  if (rc == 0 && create) rc = complete_new(&w);
  if (rc) goto done;
  if (l.e.seq != w.seq) { /* an empty patch on an existing entity changes nothing */
    if (create) rc = carnet__fail(r, CARNET_EINVAL, "nothing to write");
    goto done;
  }
  msgpack_sbuffer_clear(&w.sb);
  if ((rc = carnet__save(t, &l, &w.sb)) && !(create && rc == CARNET_EEXIST))
    carnet__fail(r, rc, "cannot write: %s", carnet__store_why(r->store));
done:
  /* A create of an id that exists fails with CARNET_EEXIST whatever else
   * is wrong with the patch, as when the id was looked up first. */
  if (rc && create && l.unchecked && rc != CARNET_EEXIST) {
    carnet_buf row;
    if (carnet__store_get(t->st, CARNET__T_ENTITIES, id->b, 16, &row) == 0) rc = CARNET_EEXIST;
  }
  if (rc == CARNET_EEXIST && create) {
    char hex[CARNET_ID_HEX_LEN + 1];
    carnet_id_format(id, hex);
    carnet__fail(r, rc, "%s already exists", hex);
  }
  /* W2 + STYLE 9: a failed write fails the transaction. */
  if (rc) carnet__txn_fail(t, rc);
  carnet__loaded_free(&l);
  msgpack_sbuffer_destroy(&w.sb);
  return rc;
}

int carnet_record_create(carnet_txn *t, const carnet_patch *p, const carnet_id *id,
                         carnet_id *out_id) {
  carnet_id nid;
  if (p == NULL) return carnet__fail(t->r, CARNET_EMISUSE, "no patch");
  if (id) {
    nid = *id;
  } else {
    uint8_t rnd[8];
    carnet__random(t->r, rnd, sizeof rnd);
    carnet__id_make(&nid, carnet__txn_tick(t), rnd);
  }
  int rc = carnet__write(t, &nid, p->kind, p, CARNET__W_CREATE, NULL, NULL);
  if (rc == 0 && out_id) *out_id = nid;
  return rc;
}

int carnet_record_check(carnet_txn *t, const carnet_patch *p) {
  carnet_replica *r = t->r;
  wctx w = {.t = t, .r = r};
  carnet__loaded l;
  const carnet_id none = {{0}}; /* never an entity: ids start with a stamp */
  int rc;
  carnet__clear_err(r);
  if (t->sticky) return t->sticky;
  if (p == NULL || !carnet__kind_valid((unsigned)p->kind))
    return carnet__fail(r, CARNET_EMISUSE, "no patch, or a patch of an unknown kind");
  msgpack_sbuffer_init(&w.sb);
  msgpack_packer_init(&w.pk, &w.sb, msgpack_sbuffer_write);
  w.l = &l;
  rc = carnet__load(t->st, &none, &l);
  if (rc) goto done;
  l.e.kind = (uint8_t)p->kind;
  /* The stamp and sequence a write would take, without taking them. */
  w.stamp = t->hlc + 1;
  w.seq = t->seq + 1;
  for (size_t i = 0; i < p->n && rc == 0; i++)
    rc = apply_op(&w, &p->ops[i]);
  if (rc == 0) rc = require_new(&w);
done:
  carnet__loaded_free(&l);
  msgpack_sbuffer_destroy(&w.sb);
  return rc;
}

int carnet_record_update(carnet_txn *t, const carnet_id *id, const carnet_patch *p) {
  if (p == NULL) return carnet__fail(t->r, CARNET_EMISUSE, "no patch");
  return carnet__write(t, id, p->kind, p, 0, NULL, NULL);
}

/* One write in its own transaction. */
static int write1(carnet_replica *r, const carnet_id *id, const carnet_patch *p, bool create,
                  carnet_id *out_id) {
  carnet_txn *t;
  int rc = carnet_txn_begin(r, &t);
  if (rc) return rc;
  rc = create ? carnet_record_create(t, p, id, out_id) : carnet_record_update(t, id, p);
  if (rc) {
    carnet_txn_abort(t);
    return rc;
  }
  return carnet_txn_commit(t);
}

int carnet_record_create_commit(carnet_replica *r, const carnet_patch *p, carnet_id *out_id) {
  return write1(r, NULL, p, true, out_id);
}

int carnet_record_update_commit(carnet_replica *r, const carnet_id *id, const carnet_patch *p) {
  return write1(r, id, p, false, NULL);
}
