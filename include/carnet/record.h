/* carnet/record.h - writing and reading entities (customers, contacts).
 *
 * Writes go through a patch: a list of field operations built in memory,
 * validated, then applied by carnet_write in one entity write (one HLC stamp,
 * one local sequence number). Reads return a record: a decoded, merged view of
 * one entity that owns its memory and outlives the transaction it came from.
 *
 * Values are UTF-8 strings as a user typed them; the engine validates and
 * normalises them (phones to E.164, SIRET digits only) per field. A validation
 * error is CARNET_EINVAL with a detail on the replica naming the field.
 */
#ifndef CARNET_RECORD_H
#define CARNET_RECORD_H

#include "carnet/api.h"

#include "carnet/normalize.h"
#include "carnet/replica.h"
#include <stdbool.h>

CARNET_BEGIN_DECLS

typedef struct carnet_patch carnet_patch;
typedef struct carnet_record carnet_record;

/* --- Field catalogue ---------------------------------------------------- */

typedef enum carnet_crdt {
  CARNET_CRDT_LWW = 1, /* last-writer-wins register */
  CARNET_CRDT_SET = 2, /* LWW-element set (add wins a tie) */
  CARNET_CRDT_MAP = 3, /* map of key -> LWW register */
  CARNET_CRDT_LOG = 4, /* grow-only log (consent events) */
  CARNET_CRDT_MAX = 5, /* max-register: grow-only set of states reached (document
                          status); the value is the greatest (carnet/document.h) */
} carnet_crdt;

typedef enum carnet_vtype {
  CARNET_V_STR = 1,
  CARNET_V_INT = 2,
  CARNET_V_BOOL = 3,
  CARNET_V_ID = 4,
  CARNET_V_CUSTOM = 5,
  CARNET_V_CONSENT = 6,
  CARNET_V_PHONE = 7,
  CARNET_V_LINE = 8,  /* a document line's column (carnet/document.h) */
  CARNET_V_BYTES = 9, /* bytes (an attachment's hash and key), read as hex */
} carnet_vtype;

typedef struct carnet_field_info {
  carnet_field field;
  const char *name; /* the name used by the CLI and JSON ("emails") */
  carnet_crdt crdt;
  carnet_vtype vtype;
  unsigned kinds; /* bit (1u << kind) for each kind that accepts it */
} carnet_field_info;

/* Brief: the catalogue entry of a field, or NULL for an unknown number. The
 * entry is static. */
CARNET_API const carnet_field_info *carnet_field_get(carnet_field f);

/* Brief: look a field up by name for a kind. Returns NULL when the kind has
 * no such field (the caller says "unknown field"). */
CARNET_API const carnet_field_info *carnet_field_find(carnet_kind kind, const char *name);

/* Brief: the name of a kind ("customer", "contact"), or NULL. */
CARNET_API const char *carnet_kind_name(carnet_kind kind);

/* --- Ids ------------------------------------------------------------------ */

/* Brief: write the 32 lowercase hex characters of `id` and a NUL to `out`
 * (33 bytes). */
CARNET_API void carnet_id_format(const carnet_id *id, char out[CARNET_ID_HEX_LEN + 1]);

/* Brief: parse 32 hex characters. Errors: CARNET_EINVAL. */
CARNET_API int carnet_id_parse(const char *hex, carnet_id *out);

/* Brief: resolve what a user typed (a full id, a unique id prefix of at least
 * 6 hex characters, or a reference code) to an entity of `kind`.
 * Errors: CARNET_ENOTFOUND, CARNET_EAMBIGUOUS (prefix matches several: type
 * more characters). */
CARNET_API int carnet_record_resolve(carnet_replica *r, carnet_kind kind, const char *ref,
                                     carnet_id *out);

/* --- Patches (writes) -------------------------------------------------- */

/* Custom field types. */
typedef enum carnet_custom_type {
  CARNET_CUSTOM_STRING = 1,
  CARNET_CUSTOM_NUMBER = 2,   /* decimal text, e.g. "12.5" */
  CARNET_CUSTOM_DATE = 3,     /* YYYY-MM-DD */
  CARNET_CUSTOM_LIST = 4,     /* items separated by '|' in the text form */
  CARNET_CUSTOM_CHECKBOX = 5, /* "true" / "false" */
} carnet_custom_type;

/* Consent channels. */
typedef enum carnet_channel {
  CARNET_CH_EMAIL = 1,
  CARNET_CH_SMS = 2,
  CARNET_CH_WHATSAPP = 3,
  CARNET_CH_VIBER = 4,
  CARNET_CH_PHONE = 5,
  CARNET_CH_POST = 6,
  CARNET_CH_MAX_ = 7
} carnet_channel;

/* Brief: the name of a channel ("email") or NULL; and the reverse (0 when
 * unknown). */
CARNET_API const char *carnet_channel_name(carnet_channel ch);
CARNET_API carnet_channel carnet_channel_parse(const char *name);

/* Brief: a new empty patch for an entity of `kind`. Returns NULL on ENOMEM.
 * After the call the caller owns the patch and frees it with
 * carnet_patch_free. */
CARNET_API carnet_patch *carnet_patch_new(carnet_kind kind);
CARNET_API void carnet_patch_free(carnet_patch *p);

/* Brief: set a scalar field (LWW) from its text form; `value` NULL or ""
 * clears it. Set fields (emails, phones, tags, roles) add `value` as an
 * element. The text is copied. Values are validated when the patch is
 * written (carnet_record_create / carnet_record_update / carnet_record_check),
 * not here: building a patch only fails on memory and limits.
 * Errors: CARNET_EMISUSE (`p` is NULL), CARNET_ELIMIT (the patch already
 * holds its most operations: split the write), CARNET_ENOMEM. */
CARNET_API int carnet_patch_set(carnet_patch *p, carnet_field f, const char *value);

/* Brief: remove an element from a set field (emails, phones, tags, roles).
 * For phones, `value` is the number in any format; every slot holding it
 * is removed. Errors: CARNET_EINVAL (`value` is NULL), as carnet_patch_set. */
CARNET_API int carnet_patch_remove(carnet_patch *p, carnet_field f, const char *value);

/* Brief: add a typed phone: `type` is "mobile", "work" or "home". Phones
 * are a map of slot -> (type, number): concurrent additions on two replicas
 * both survive, and an edit rewrites one slot (one cell on the wire).
 * Errors: CARNET_EINVAL (`type` or `number` is NULL), as carnet_patch_set. */
CARNET_API int carnet_patch_phone(carnet_patch *p, const char *type, const char *number);

/* Brief: make `number` the only phone of `type`: the first slot of that type
 * is rewritten and the other slots of that type are removed.
 * Errors: as carnet_patch_phone. */
CARNET_API int carnet_patch_phone_replace(carnet_patch *p, const char *type, const char *number);

/* Brief: set (or with value NULL, clear) a custom field.
 * Errors: CARNET_EINVAL (`name` is NULL), as carnet_patch_set. */
CARNET_API int carnet_patch_custom(carnet_patch *p, const char *name, carnet_custom_type type,
                                   const char *value);

/* Brief: add to `p` the operation for what a person typed for field `f`
 * (a form's box, a command line's flag, an import's cell), converted as
 * the command line converts its flags, and checked now where the entity
 * is not needed, so that the message names the field:
 *   - CARNET_F_PHONES: a number in any written form, added with the type
 *     mobile for a French 06/07 number, else work (carnet_patch_phone
 *     gives another type);
 *   - CARNET_F_DISCOUNT: a percentage ("5.5", "5,5", "5.5%"; 0 to 100, two
 *     decimals at most), stored in basis points;
 *   - CARNET_F_CUSTOM: NAME:TYPE=VALUE ("surface:number=120"; TYPE string,
 *     number, date, list or checkbox; NAME= clears), checked as
 *     carnet_patch_parse_custom checks it;
 *   - dates (CARNET_F_DATE, CARNET_F_DUE_DATE, CARNET_F_PAID_DATE):
 *     YYYY-MM-DD, a real day;
 *   - any other field: as carnet_patch_set (checked when written).
 * `value` NULL or "" clears a scalar. `name` is the field as the caller's
 * user knows it, for messages ("--due-date" on a command line); NULL: its
 * catalogue name ("due_date", carnet_field_get). The value is copied.
 * Errors: CARNET_EINVAL (the value is not one the field takes:
 * carnet_patch_errmsg(p) says why, naming the field and showing the value
 * as typed: "invalid date '32/01/2026' for due_date: YYYY-MM-DD, e.g.
 * 2026-11-20"), CARNET_ELIMIT (the patch holds its most operations: the
 * errmsg names the field), CARNET_EMISUSE (`p` is NULL, or `f` is not a
 * field of p's kind), CARNET_ENOMEM. On error nothing is added to `p`. */
CARNET_API int carnet_patch_parse(carnet_patch *p, carnet_field f, const char *value,
                                  const char *name);

/* Brief: set (or with `value` NULL or "", clear) the custom field `name`
 * from the parts a form gives: `type` "string" (also NULL or ""),
 * "number", "date", "list" or "checkbox", and the value as typed, checked
 * now (a number, a date YYYY-MM-DD, a checkbox true/false...).
 * Errors: CARNET_EINVAL (`name` is missing or not a custom field name,
 * `type` is unknown, or `value` is not of the type: carnet_patch_errmsg(p)
 * says which, e.g. "invalid value 'cent' for custom field 'surface'
 * (number)"), CARNET_ELIMIT, CARNET_EMISUSE (`p` is NULL), CARNET_ENOMEM. */
CARNET_API int carnet_patch_parse_custom(carnet_patch *p, const char *name, const char *type,
                                         const char *value);

/* Brief: the detail of the last failed carnet_patch_parse or
 * carnet_patch_parse_custom call on `p` ("" when the last one
 * succeeded); valid until the next call on `p`. */
CARNET_API const char *carnet_patch_errmsg(const carnet_patch *p);

/* Brief: record a consent grant (granted=true) or withdrawal on a channel,
 * with an optional note (where/how it was given).
 * Errors: as carnet_patch_set. */
CARNET_API int carnet_patch_consent(carnet_patch *p, carnet_channel ch, bool granted,
                                    const char *note);

/* Brief: mark the entity deleted (LWW tombstone).
 * Errors: as carnet_patch_set. */
CARNET_API int carnet_patch_delete(carnet_patch *p);

/* Brief: apply a patch to a new entity (`id` NULL: a fresh time-ordered id is
 * made; else the given id, which must not exist) or to an existing one
 * (carnet_record_update). New customers get a reference code and, when no role is
 * given, the role "prospect".
 * `out_id` (may be NULL) receives the id. Runs inside `t`; nothing is durable
 * before carnet_txn_commit.
 * Errors: CARNET_EINVAL (a value failed validation; the replica's errmsg names
 * the field and the value), CARNET_EEXIST (the id exists), CARNET_ENOSPC,
 * CARNET_EIO. A failed write leaves the transaction failed (sticky). */
CARNET_API int carnet_record_create(carnet_txn *t, const carnet_patch *p, const carnet_id *id,
                                    carnet_id *out_id);

/* Brief: validate `p` as carnet_record_create would for a new entity (every value,
 * the required fields) and write nothing: unlike a failed carnet_record_create, a
 * failed check leaves `t` usable, so a caller importing many rows in one
 * transaction can set a bad row aside and go on (cli/cmd_import.c).
 * Errors: CARNET_EINVAL (the replica's errmsg names the field and value),
 * CARNET_ENOTFOUND (a referenced entity does not exist), CARNET_EMISUSE (no
 * patch), CARNET_ENOMEM, or the transaction's sticky error. */
CARNET_API int carnet_record_check(carnet_txn *t, const carnet_patch *p);

/* Errors: as carnet_record_create, plus CARNET_ENOTFOUND (no such entity, or it is
 * deleted) and CARNET_EINVAL when the entity is of another kind. */
CARNET_API int carnet_record_update(carnet_txn *t, const carnet_id *id, const carnet_patch *p);

/* Brief: carnet_record_create / carnet_record_update in a transaction of
 * their own, committed (durable) when they return 0, rolled back when not.
 * Errors: as carnet_record_create / carnet_record_update, plus CARNET_EMISUSE
 * (a transaction is already open on this handle: use the txn calls). */
CARNET_API int carnet_record_create_commit(carnet_replica *r, const carnet_patch *p,
                                           carnet_id *out_id);
CARNET_API int carnet_record_update_commit(carnet_replica *r, const carnet_id *id,
                                           const carnet_patch *p);

/* --- Records (reads) ---------------------------------------------------- */

/* Brief: read one entity. After the call the caller owns *out (free with
 * carnet_record_free); it does not depend on any transaction.
 * Deleted entities are returned too (carnet_record_deleted tells).
 * Errors: CARNET_ENOTFOUND, CARNET_ECORRUPT (stored bytes fail validation). */
CARNET_API int carnet_record_get(carnet_replica *r, const carnet_id *id, carnet_record **out);
CARNET_API void carnet_record_free(carnet_record *rec);

CARNET_API carnet_kind carnet_record_kind(const carnet_record *rec);
CARNET_API const carnet_id *carnet_record_id(const carnet_record *rec);
CARNET_API bool carnet_record_deleted(const carnet_record *rec);

/* Brief: a scalar field as text (integers and bools rendered as text, ids
 * as hex), or NULL when unset. The string lives with the record. */
CARNET_API const char *carnet_record_str(const carnet_record *rec, carnet_field f);

/* Brief: the present elements of a set field, in byte order; the strings
 * live with the record. Returns the count. */
CARNET_API size_t carnet_record_elems(const carnet_record *rec, carnet_field f,
                                      const char *const **out);

/* Brief: custom fields, in name order. */
typedef struct carnet_custom {
  const char *name;
  carnet_custom_type type;
  const char *value; /* text form */
} carnet_custom;
CARNET_API size_t carnet_record_customs(const carnet_record *rec, const carnet_custom **out);

/* Brief: consent state of a channel: granted or not (OFF until granted),
 * and the HLC of the event that decided it (0 when never touched). */
typedef struct carnet_consent_event {
  carnet_channel channel;
  bool granted;
  carnet_hlc at;
  uint64_t origin;
  const char *note;
} carnet_consent_event;
CARNET_API bool carnet_record_consent(const carnet_record *rec, carnet_channel ch,
                                      carnet_hlc *decided_at);

/* Brief: every consent event kept, oldest first. */
CARNET_API size_t carnet_record_consent_log(const carnet_record *rec,
                                            const carnet_consent_event **out);

/* Brief: the HLC of the latest change to any field of the record. */
CARNET_API carnet_hlc carnet_record_updated(const carnet_record *rec);

/* Brief: the HLC of the earliest change the record holds: its creation,
 * whose stamp the fields written then keep (a customer's reference code and
 * type), whatever its id (an imported row's id is a hash of the row). A
 * merged view holds the cells of its whole group: the earliest creation. */
CARNET_API carnet_hlc carnet_record_created(const carnet_record *rec);

/* --- Listing ------------------------------------------------------------ */

typedef struct carnet_filter {
  const char *text;          /* words, each a folded substring (case, accents,
                                ligatures and apostrophes do not matter) of one
                                of the name, company, refcode, city, street,
                                postcode, notes, e-mails, tags, SIRET or phones,
                                all found, in any values ("martin lyon"); a text
                                written like a phone number also finds the
                                phones and SIRET holding its digits ("06 12 34
                                56 78" finds +33612345678): see
                                carnet/search.h; NULL or "" = any */
  const char *tag;           /* has this tag */
  const char *role;          /* has this role */
  const char *sales_rep;     /* exact sales rep */
  const carnet_id *customer; /* contacts, documents, reminders: belonging to this
                                customer (or its merged group); actions:
                                concerning it. Read through the handle's
                                search index when one is attached
                                (carnet/search.h), else by a scan */
  bool include_deleted;
} carnet_filter;

/* Brief: call `cb` for each entity of `kind` that passes `filter` (NULL:
 * all live ones), in id order. The record passed to `cb` is freed after `cb`
 * returns; `cb` returns 0 to go on or non-zero to stop (that value is then
 * returned). Errors: CARNET_ECORRUPT, CARNET_ENOMEM. */
typedef int (*carnet_record_cb)(const carnet_record *rec, void *data);
CARNET_API int carnet_record_list(carnet_replica *r, carnet_kind kind, const carnet_filter *filter,
                                  carnet_record_cb cb, void *data);

/* Validation helpers (carnet_email_valid, carnet_siret_normalize,
 * carnet_phone_normalize) live in carnet/normalize.h. */

CARNET_END_DECLS

#endif
