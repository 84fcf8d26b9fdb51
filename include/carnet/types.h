/* carnet/types.h - value types shared by every area of the API.
 *
 * Values are transparent structs (like MDB_val / uv_buf_t); anything with a
 * lifetime is an opaque handle declared in its own header.
 */
#ifndef CARNET_TYPES_H
#define CARNET_TYPES_H

#include "carnet/api.h"

#include <stddef.h>
#include <stdint.h>

CARNET_BEGIN_DECLS

/* A 16-byte entity id: the 8-byte HLC stamp of its creation (big-endian)
 * then 8 random bytes, so ids made on one replica sort by creation time and
 * inserts stay sequential in the B-tree. Ids given from outside (import, benchmarks) may be
 * any 16 bytes. */
typedef struct carnet_id {
  uint8_t b[16];
} carnet_id;

#define CARNET_ID_HEX_LEN 32

/* A hybrid logical clock value: (physical milliseconds << 16) | counter. */
typedef uint64_t carnet_hlc;

#define CARNET_HLC_MS(h) ((h) >> 16)

/* A byte range. Who owns it is said at each function that hands one out. */
typedef struct carnet_buf {
  const void *base;
  size_t len;
} carnet_buf;

/* What a replica needs from the outside world. Every field may be NULL, in
 * which case the real clock, libsodium's randombytes and stderr are used.
 * Tests inject a clock and a seeded random source to replay a run exactly.
 *
 * The key that opens the replica's files (encryption at rest,
 * docs/DESIGN-NOTES.md): `key_file` (a file of 64 hex digits only its owner
 * can read; created by carnet_replica_init when missing), else `passphrase`,
 * else what `ask_passphrase` answers when the replica needs a passphrase
 * (`is_new` at init: confirm it; an empty answer at init means none). With
 * none of them a replica is created with, and opened from, the key file
 * DIR/carnet.key (CARNET_KEY_FILE_NAME): its files are then only as safe as
 * that directory. The strings are read during init/open only; the replica
 * keeps no pointer to them. */
typedef struct carnet_env {
  uint64_t (*now_ms)(void *ctx);                       /* wall clock, Unix ms */
  void (*random)(void *ctx, void *buf, size_t len);    /* fills buf */
  void (*log)(void *ctx, int level, const char *line); /* one line, no \n */
  void *ctx;
  const char *key_file;   /* path of a key file, or NULL */
  const char *passphrase; /* NUL-terminated, or NULL */
  /* Fill buf (len bytes, NUL-terminated) and return 0, or return a
   * CARNET_E* code to give up. */
  int (*ask_passphrase)(void *ctx, const char *dir, int is_new, char *buf, size_t len);
} carnet_env;

/* Progress of a long call (verify, import, export): `done` units of
 * `total` (total 0 when unknown yet), called on the caller's thread at
 * most a few times a second. It may not call back into the library. */
typedef void carnet_progress_fn(void *ctx, uint64_t done, uint64_t total);

enum { CARNET_LOG_ERROR = 0, CARNET_LOG_WARN = 1, CARNET_LOG_INFO = 2, CARNET_LOG_DEBUG = 3 };

/* Entity kinds. Values are stored and sent: never renumber. */
typedef enum carnet_kind {
  CARNET_KIND_CUSTOMER = 1,
  CARNET_KIND_CONTACT = 2,
  CARNET_KIND_DOCUMENT = 3,   /* quote, order, invoice or credit note (carnet/document.h) */
  CARNET_KIND_ACTION = 4,     /* commercial action: a call, a visit, an e-mail... */
  CARNET_KIND_REMINDER = 5,   /* call-back reminder */
  CARNET_KIND_ATTACHMENT = 6, /* a file attached to a customer, contact, document or action
                                 (carnet/attach.h) */
  CARNET_KIND_REPLICA = 7,    /* a replica's own record: its name (carnet_replica_set_name) */
} carnet_kind;

/* Fields. Numbers are stored and sent: never renumber, only append. Which
 * kinds accept which field, its CRDT and its value type are listed by
 * carnet_field_info (carnet/record.h). */
typedef enum carnet_field {
  CARNET_F_TYPE = 1,    /* customer: "individual" | "company" */
  CARNET_F_ROLES = 2,   /* set of "prospect" "customer" "supplier" */
  CARNET_F_NAME = 3,    /* person's name, or the display name */
  CARNET_F_COMPANY = 4, /* company (legal) name */
  CARNET_F_REFCODE = 5, /* reference code, given once at creation */
  CARNET_F_SIRET = 6,   /* 14-digit SIRET or 9-digit SIREN, Luhn-checked */
  CARNET_F_VAT_ID = 7,
  CARNET_F_STREET = 8,
  CARNET_F_POSTCODE = 9,
  CARNET_F_CITY = 10,
  CARNET_F_COUNTRY = 11,   /* ISO 3166 alpha-2 */
  CARNET_F_GEO = 12,       /* "lat,lon" */
  CARNET_F_EMAILS = 13,    /* set of addresses */
  CARNET_F_PHONES = 14,    /* map slot -> (type, number); read as "type:+E164" */
  CARNET_F_TAGS = 15,      /* set */
  CARNET_F_SALES_REP = 16, /* assigned sales rep */
  CARNET_F_CHANNEL = 17,   /* acquisition channel */
  CARNET_F_DISCOUNT = 18,  /* basis points: 550 = 5.50 % */
  CARNET_F_CONFLICT = 19,  /* conflict flag (bool) */
  CARNET_F_NOTES = 20,
  CARNET_F_CUSTOM = 21,   /* map name -> typed value */
  CARNET_F_CONSENT = 22,  /* grow-only log of grants and withdrawals */
  CARNET_F_DELETED = 23,  /* LWW tombstone */
  CARNET_F_CUSTOMER = 24, /* contact: the customer it belongs to (id) */
  CARNET_F_ROLE = 25,     /* contact: director, assistant, delivery, legal… */
  /* Documents (carnet/document.h). They also use CUSTOMER, SALES_REP, NOTES
   * and DELETED. */
  CARNET_F_DOC_TYPE = 26,   /* "quote" | "order" | "invoice" | "credit_note" */
  CARNET_F_CONTACT = 27,    /* the contact it is addressed to (id) */
  CARNET_F_DATE = 28,       /* YYYY-MM-DD: document date (set again at validation),
                               reminder date */
  CARNET_F_VALID_DAYS = 29, /* quote validity in days */
  CARNET_F_PAY_TERMS = 30,  /* payment terms, free text ("30 days end of month") */
  CARNET_F_SOURCE = 31,     /* the document it was converted from (id) */
  CARNET_F_NUMBER = 32,     /* map series -> number, given at validation */
  CARNET_F_LINES = 33,      /* map line id(8) + column(1) -> value */
  CARNET_F_STATUS = 34,     /* max-register: grow-only set of statuses reached */
  CARNET_F_DUE_DATE = 35,   /* YYYY-MM-DD payment due date */
  CARNET_F_PAID_DATE = 36,  /* YYYY-MM-DD, set with the status paid */
  CARNET_F_FROZEN_HT = 37,  /* total excl. VAT at validation (cents) */
  CARNET_F_FROZEN_TTC = 38, /* total incl. VAT at validation (cents) */
  /* Commercial actions. They also use CHANNEL, SALES_REP and DELETED. */
  CARNET_F_CAMPAIGN = 39,
  CARNET_F_SORT1 = 40, /* two free sort fields */
  CARNET_F_SORT2 = 41,
  CARNET_F_AT = 42,        /* date and time, YYYY-MM-DDTHH:MM:SS (local time) */
  CARNET_F_DIRECTION = 43, /* "inbound" (they contacted us) | "outbound" */
  CARNET_F_RATING = 44,    /* "1".."5" or red, orange, yellow, green */
  CARNET_F_DETAILS = 45,
  CARNET_F_CUSTOMERS = 46, /* LWW-element set of customer ids (16-byte keys) */
  /* Reminders. They also use CUSTOMER, DATE and DELETED. */
  CARNET_F_MODE = 47, /* "day" (that day only) | "week" (every day of its ISO week) */
  CARNET_F_COMMENT = 48,
  CARNET_F_DONE = 49, /* bool */
  /* Merging duplicate customers (carnet/merge.h): sets of customer ids
   * (16-byte keys), like CUSTOMERS. */
  CARNET_F_SAME_AS = 50,  /* "this customer is the same as": merge edges */
  CARNET_F_NOT_SAME = 51, /* "not the same" decisions, kept on the smaller id */
  CARNET_F_REVIEW = 52,   /* pairs set aside for review, kept on the smaller id */
  /* Attachments (carnet/attach.h). They also use DELETED. Only the
   * caption, the file name and the media type can be changed; the other
   * fields are written by carnet_upload_commit. */
  CARNET_F_OWNER = 53,      /* the customer, contact, document or action (id) */
  CARNET_F_FILE_NAME = 54,  /* the file's name, as shown */
  CARNET_F_MEDIA_TYPE = 55, /* "application/pdf", "image/jpeg"... */
  CARNET_F_SIZE = 56,       /* bytes */
  CARNET_F_HASH = 57,       /* BLAKE2b-256 of the content (32 bytes) */
  CARNET_F_ADDED_BY = 58,   /* the replica that attached it (id) */
  CARNET_F_ADDED_AT = 59,   /* when, Unix ms by that replica's clock */
  CARNET_F_CAPTION = 60,
  CARNET_F_CONTENT_KEY = 61, /* the key the content is encrypted with (32 bytes; never shown) */
  CARNET_F_MAX_ = 62         /* one past the last field number */
} carnet_field;

CARNET_END_DECLS

#endif
