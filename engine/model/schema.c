/* engine/model/schema.c - the field catalogue and value checks. */
#include "engine/model/schema.h"

#include <msgpack.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/mp.h"
#include "engine/model/entity.h"

#define CU (1u << CARNET_KIND_CUSTOMER)
#define CO (1u << CARNET_KIND_CONTACT)
#define DO (1u << CARNET_KIND_DOCUMENT)
#define AC (1u << CARNET_KIND_ACTION)
#define RE (1u << CARNET_KIND_REMINDER)
#define AT (1u << CARNET_KIND_ATTACHMENT)
#define RP (1u << CARNET_KIND_REPLICA)

static const carnet_field_info fields[] = {
    {CARNET_F_TYPE, "type", CARNET_CRDT_LWW, CARNET_V_STR, CU},
    {CARNET_F_ROLES, "roles", CARNET_CRDT_SET, CARNET_V_BOOL, CU},
    {CARNET_F_NAME, "name", CARNET_CRDT_LWW, CARNET_V_STR, CU | CO | DO | RP},
    {CARNET_F_COMPANY, "company", CARNET_CRDT_LWW, CARNET_V_STR, CU | DO},
    {CARNET_F_REFCODE, "ref", CARNET_CRDT_LWW, CARNET_V_STR, CU},
    {CARNET_F_SIRET, "siret", CARNET_CRDT_LWW, CARNET_V_STR, CU | DO},
    {CARNET_F_VAT_ID, "vat_id", CARNET_CRDT_LWW, CARNET_V_STR, CU},
    {CARNET_F_STREET, "street", CARNET_CRDT_LWW, CARNET_V_STR, CU | CO | DO},
    {CARNET_F_POSTCODE, "postcode", CARNET_CRDT_LWW, CARNET_V_STR, CU | CO | DO},
    {CARNET_F_CITY, "city", CARNET_CRDT_LWW, CARNET_V_STR, CU | CO | DO},
    {CARNET_F_COUNTRY, "country", CARNET_CRDT_LWW, CARNET_V_STR, CU | CO | DO},
    {CARNET_F_GEO, "geo", CARNET_CRDT_LWW, CARNET_V_STR, CU},
    {CARNET_F_EMAILS, "emails", CARNET_CRDT_SET, CARNET_V_BOOL, CU | CO},
    {CARNET_F_PHONES, "phones", CARNET_CRDT_MAP, CARNET_V_PHONE, CU | CO},
    {CARNET_F_TAGS, "tags", CARNET_CRDT_SET, CARNET_V_BOOL, CU},
    {CARNET_F_SALES_REP, "sales_rep", CARNET_CRDT_LWW, CARNET_V_STR, CU | DO | AC},
    {CARNET_F_CHANNEL, "channel", CARNET_CRDT_LWW, CARNET_V_STR, CU | AC},
    {CARNET_F_DISCOUNT, "discount", CARNET_CRDT_LWW, CARNET_V_INT, CU},
    {CARNET_F_CONFLICT, "conflict", CARNET_CRDT_LWW, CARNET_V_BOOL, CU},
    {CARNET_F_NOTES, "notes", CARNET_CRDT_LWW, CARNET_V_STR, CU | CO | DO},
    {CARNET_F_CUSTOM, "custom", CARNET_CRDT_MAP, CARNET_V_CUSTOM, CU},
    {CARNET_F_CONSENT, "consent", CARNET_CRDT_LOG, CARNET_V_CONSENT, CU},
    {CARNET_F_DELETED, "deleted", CARNET_CRDT_LWW, CARNET_V_BOOL, CU | CO | DO | AC | RE | AT | RP},
    {CARNET_F_CUSTOMER, "customer", CARNET_CRDT_LWW, CARNET_V_ID, CO | DO | RE},
    {CARNET_F_ROLE, "role", CARNET_CRDT_LWW, CARNET_V_STR, CO},
    {CARNET_F_DOC_TYPE, "type", CARNET_CRDT_LWW, CARNET_V_STR, DO},
    {CARNET_F_CONTACT, "contact", CARNET_CRDT_LWW, CARNET_V_ID, DO},
    {CARNET_F_DATE, "date", CARNET_CRDT_LWW, CARNET_V_STR, DO | RE},
    {CARNET_F_VALID_DAYS, "validity_days", CARNET_CRDT_LWW, CARNET_V_INT, DO},
    {CARNET_F_PAY_TERMS, "payment_terms", CARNET_CRDT_LWW, CARNET_V_STR, DO},
    {CARNET_F_SOURCE, "source", CARNET_CRDT_LWW, CARNET_V_ID, DO},
    {CARNET_F_NUMBER, "number", CARNET_CRDT_MAP, CARNET_V_STR, DO},
    {CARNET_F_LINES, "lines", CARNET_CRDT_MAP, CARNET_V_LINE, DO},
    {CARNET_F_STATUS, "status", CARNET_CRDT_MAX, CARNET_V_BOOL, DO},
    {CARNET_F_DUE_DATE, "due_date", CARNET_CRDT_LWW, CARNET_V_STR, DO},
    {CARNET_F_PAID_DATE, "paid_date", CARNET_CRDT_LWW, CARNET_V_STR, DO},
    {CARNET_F_FROZEN_HT, "validated_ht", CARNET_CRDT_LWW, CARNET_V_INT, DO},
    {CARNET_F_FROZEN_TTC, "validated_ttc", CARNET_CRDT_LWW, CARNET_V_INT, DO},
    {CARNET_F_CAMPAIGN, "campaign", CARNET_CRDT_LWW, CARNET_V_STR, AC},
    {CARNET_F_SORT1, "sort1", CARNET_CRDT_LWW, CARNET_V_STR, AC},
    {CARNET_F_SORT2, "sort2", CARNET_CRDT_LWW, CARNET_V_STR, AC},
    {CARNET_F_AT, "at", CARNET_CRDT_LWW, CARNET_V_STR, AC},
    {CARNET_F_DIRECTION, "direction", CARNET_CRDT_LWW, CARNET_V_STR, AC},
    {CARNET_F_RATING, "rating", CARNET_CRDT_LWW, CARNET_V_STR, AC},
    {CARNET_F_DETAILS, "details", CARNET_CRDT_LWW, CARNET_V_STR, AC},
    {CARNET_F_CUSTOMERS, "customers", CARNET_CRDT_SET, CARNET_V_ID, AC},
    {CARNET_F_MODE, "mode", CARNET_CRDT_LWW, CARNET_V_STR, RE},
    {CARNET_F_COMMENT, "comment", CARNET_CRDT_LWW, CARNET_V_STR, RE},
    {CARNET_F_DONE, "done", CARNET_CRDT_LWW, CARNET_V_BOOL, RE},
    {CARNET_F_SAME_AS, "same_as", CARNET_CRDT_SET, CARNET_V_ID, CU},
    {CARNET_F_NOT_SAME, "not_same", CARNET_CRDT_SET, CARNET_V_ID, CU},
    {CARNET_F_REVIEW, "review", CARNET_CRDT_SET, CARNET_V_ID, CU},
    {CARNET_F_OWNER, "owner", CARNET_CRDT_LWW, CARNET_V_ID, AT},
    {CARNET_F_FILE_NAME, "file_name", CARNET_CRDT_LWW, CARNET_V_STR, AT},
    {CARNET_F_MEDIA_TYPE, "media_type", CARNET_CRDT_LWW, CARNET_V_STR, AT},
    {CARNET_F_SIZE, "size", CARNET_CRDT_LWW, CARNET_V_INT, AT},
    {CARNET_F_HASH, "hash", CARNET_CRDT_LWW, CARNET_V_BYTES, AT},
    {CARNET_F_ADDED_BY, "added_by", CARNET_CRDT_LWW, CARNET_V_INT, AT},
    {CARNET_F_ADDED_AT, "added_at", CARNET_CRDT_LWW, CARNET_V_INT, AT},
    {CARNET_F_CAPTION, "caption", CARNET_CRDT_LWW, CARNET_V_STR, AT},
    {CARNET_F_CONTENT_KEY, "content_key", CARNET_CRDT_LWW, CARNET_V_BYTES, AT},
};

_Static_assert(sizeof fields / sizeof fields[0] == CARNET_F_MAX_ - 1,
               "every field number has a catalogue entry");

const carnet_field_info *carnet_field_get(carnet_field f) {
  if (f < 1 || f >= CARNET_F_MAX_) return NULL;
  return &fields[f - 1];
}

const carnet_field_info *carnet_field_find(carnet_kind kind, const char *name) {
  if (!carnet__kind_valid((unsigned)kind) || name == NULL) return NULL;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    if ((fields[i].kinds & (1u << kind)) && strcmp(fields[i].name, name) == 0) return &fields[i];
  }
  return NULL;
}

const char *carnet_kind_name(carnet_kind kind) {
  switch (kind) {
  case CARNET_KIND_CUSTOMER:
    return "customer";
  case CARNET_KIND_CONTACT:
    return "contact";
  case CARNET_KIND_DOCUMENT:
    return "document";
  case CARNET_KIND_ACTION:
    return "action";
  case CARNET_KIND_REMINDER:
    return "reminder";
  case CARNET_KIND_ATTACHMENT:
    return "attachment";
  case CARNET_KIND_REPLICA:
    return "replica";
  }
  return NULL;
}

bool carnet__kind_valid(unsigned kind) {
  return kind >= CARNET_KIND_CUSTOMER && kind <= CARNET_KIND_REPLICA;
}

/* Decode exactly one object from the value bytes. */
static bool one_object(const carnet__cell *c, msgpack_zone *z, msgpack_object *o) {
  size_t off = 0;
  msgpack_unpack_return ret = msgpack_unpack((const char *)c->val, c->vlen, &off, z, o);
  return ret == MSGPACK_UNPACK_SUCCESS && off == c->vlen;
}

static bool is_str(const msgpack_object *o, size_t max) {
  return o->type == MSGPACK_OBJECT_STR && o->via.str.size <= max;
}

static bool scalar_ok(carnet_vtype vt, const msgpack_object *o) {
  if (o->type == MSGPACK_OBJECT_NIL) return true; /* cleared */
  switch (vt) {
  case CARNET_V_STR:
    return is_str(o, CARNET__VALUE_MAX);
  case CARNET_V_INT:
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER || o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
  case CARNET_V_BOOL:
    return o->type == MSGPACK_OBJECT_BOOLEAN;
  case CARNET_V_ID:
    return o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == 16;
  case CARNET_V_BYTES: /* an attachment's hash and content key */
    return o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == 32;
  default:
    return false;
  }
}

static bool int_in(const msgpack_object *o, int64_t lo, int64_t hi) {
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
    return o->via.u64 <= (uint64_t)INT64_MAX && (int64_t)o->via.u64 >= lo &&
           (int64_t)o->via.u64 <= hi;
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) return o->via.i64 >= lo && o->via.i64 <= hi;
  return false;
}

/* A document line's column (key: line id(8) + column(1)); see
 * carnet__line_col in schema.h. Ranges are checked here too, so totals never
 * overflow whatever a peer sends. */
static bool line_ok(const carnet__cell *c, const msgpack_object *o) {
  if (c->klen != CARNET__LINE_KEY_LEN) return false;
  bool nil = o->type == MSGPACK_OBJECT_NIL;
  switch (c->key[CARNET__LINE_KEY_LEN - 1]) {
  case CARNET__LC_PRODUCT:
    return nil || is_str(o, 200);
  case CARNET__LC_LABEL:
    return nil || is_str(o, 2000);
  case CARNET__LC_QTY:
    return int_in(o, -CARNET_QTY_MAX, CARNET_QTY_MAX);
  case CARNET__LC_PRICE:
    return int_in(o, -CARNET_PRICE_MAX, CARNET_PRICE_MAX);
  case CARNET__LC_COST:
    return nil || int_in(o, -CARNET_PRICE_MAX, CARNET_PRICE_MAX);
  case CARNET__LC_VAT:
  case CARNET__LC_DISCOUNT:
    return int_in(o, 0, 10000);
  case CARNET__LC_POS:
    return o->type == MSGPACK_OBJECT_STR && carnet__pos_valid(o->via.str.ptr, o->via.str.size);
  case CARNET__LC_DELETED:
    return o->type == MSGPACK_OBJECT_BOOLEAN;
  }
  return false;
}

static bool array_of(const msgpack_object *o, uint32_t n) {
  return o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == n;
}

static bool value_ok(const carnet_field_info *fi, const carnet__cell *c, const msgpack_object *o) {
  switch (fi->crdt) {
  case CARNET_CRDT_LWW:
    return c->klen == 0 && scalar_ok(fi->vtype, o);
  case CARNET_CRDT_SET:
    if (fi->vtype == CARNET_V_ID && c->klen != 16) return false;
    return c->klen > 0 && c->klen <= CARNET__KEY_MAX && o->type == MSGPACK_OBJECT_BOOLEAN;
  case CARNET_CRDT_MAX:
    /* Grow-only: a status once reached is never unset (key = its rank). */
    return c->klen == 1 && c->key[0] >= CARNET__STATUS_MIN && c->key[0] <= CARNET__STATUS_MAX &&
           o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
  case CARNET_CRDT_MAP:
    if (fi->vtype == CARNET_V_LINE) return line_ok(c, o);
    if (fi->vtype == CARNET_V_STR) /* document numbers: series -> number, never removed */
      return c->klen > 0 && c->klen <= CARNET_NUMBER_MAX && is_str(o, CARNET_NUMBER_MAX) &&
             o->via.str.size > 0;
    if (o->type == MSGPACK_OBJECT_NIL) return c->klen > 0 && c->klen <= CARNET__KEY_MAX;
    if (!array_of(o, 2)) return false;
    if (fi->vtype == CARNET_V_PHONE) {
      const msgpack_object *a = o->via.array.ptr;
      return c->klen == CARNET__PHONE_SLOT_LEN && is_str(&a[0], 16) && is_str(&a[1], 32);
    } else {
      const msgpack_object *a = o->via.array.ptr;
      return c->klen > 0 && c->klen <= CARNET__CUSTOM_NAME_MAX &&
             a[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[0].via.u64 >= CARNET_CUSTOM_STRING &&
             a[0].via.u64 <= CARNET_CUSTOM_CHECKBOX && is_str(&a[1], CARNET__VALUE_MAX);
    }
  case CARNET_CRDT_LOG: {
    if (c->klen != CARNET__CONSENT_KEY_LEN || c->key[0] < 1 || c->key[0] >= CARNET_CH_MAX_)
      return false;
    if (!array_of(o, 3)) return false;
    const msgpack_object *a = o->via.array.ptr;
    return a[0].type == MSGPACK_OBJECT_BOOLEAN && a[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
           is_str(&a[2], 1024);
  }
  }
  return false;
}

int carnet__cell_check_as(unsigned kind, const carnet__cell *c, const msgpack_object *o) {
  const carnet_field_info *fi = carnet_field_get((carnet_field)c->field);
  if (fi == NULL || !(fi->kinds & (1u << kind))) return CARNET_ECORRUPT;
  if (c->vlen == 0 || c->vlen > CARNET__VALUE_MAX + 16) return CARNET_ECORRUPT;
  return value_ok(fi, c, o) ? 0 : CARNET_ECORRUPT;
}

int carnet__cell_check(unsigned kind, const carnet__cell *c) {
  const carnet_field_info *fi = carnet_field_get((carnet_field)c->field);
  if (fi == NULL || !(fi->kinds & (1u << kind))) return CARNET_ECORRUPT;
  if (c->vlen == 0 || c->vlen > CARNET__VALUE_MAX + 16) return CARNET_ECORRUPT;
  msgpack_object o, elems[4];
  /* Nearly every value is a scalar or a short array of scalars: decoded
   * without msgpack-c; anything else (or bytes that do not decode) goes the
   * reference way. */
  if (carnet__mp_obj1(c->val, c->vlen, &o, elems)) return value_ok(fi, c, &o) ? 0 : CARNET_ECORRUPT;
  msgpack_zone z;
  if (!msgpack_zone_init(&z, 256)) return CARNET_ENOMEM;
  int rc = one_object(c, &z, &o) && value_ok(fi, c, &o) ? 0 : CARNET_ECORRUPT;
  msgpack_zone_destroy(&z);
  return rc;
}
