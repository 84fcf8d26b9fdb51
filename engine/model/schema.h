/* engine/model/schema.h - what each field of each kind may hold, checked on every
 * value that enters the store: local writes, received batches, rows read
 * back (STYLE 10: stored bytes are outside bytes too). */
#ifndef CARNET_ENGINE_SCHEMA_H
#define CARNET_ENGINE_SCHEMA_H

#include "carnet/document.h"
#include "carnet/record.h"
#include "engine/base/fracindex.h"
#include "engine/model/cell.h"
#include <msgpack.h>
#include <stdbool.h>

#define CARNET__PHONE_SLOT_LEN 8   /* random slot id of a phone */
#define CARNET__CONSENT_KEY_LEN 17 /* channel(1) hlc(8) origin(8) */
#define CARNET__CUSTOM_NAME_MAX 64

/* Document lines: a map keyed by line id(8) + column(1). Column numbers are
 * stored and sent: never renumber. */
#define CARNET__LINE_KEY_LEN 9
enum {
  CARNET__LC_PRODUCT = 1,  /* str or nil */
  CARNET__LC_LABEL = 2,    /* str or nil */
  CARNET__LC_QTY = 3,      /* int, thousandths */
  CARNET__LC_PRICE = 4,    /* int, cents */
  CARNET__LC_COST = 5,     /* int (cents) or nil */
  CARNET__LC_VAT = 6,      /* int, basis points */
  CARNET__LC_DISCOUNT = 7, /* int, basis points */
  CARNET__LC_POS = 8,      /* str: fractional position (engine/base/fracindex.h) */
  CARNET__LC_DELETED = 9,  /* bool */
};

/* Document status cells: key = the status rank (carnet_doc_status), value
 * true. Draft (1) is the absence of any. */
#define CARNET__STATUS_MIN 2
#define CARNET__STATUS_MAX 8

bool carnet__kind_valid(unsigned kind);

/* 0 when the cell (key and value) fits its field for `kind`, else
 * CARNET_ECORRUPT. */
int carnet__cell_check(unsigned kind, const carnet__cell *c);

/* carnet__cell_check for a value its caller packed itself and describes
 * as `o` (engine/crm/write.c): the same checks on `o`, without decoding
 * the bytes again. */
int carnet__cell_check_as(unsigned kind, const carnet__cell *c, const msgpack_object *o);

#endif
