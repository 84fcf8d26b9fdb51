/* engine/schema.h - what each field of each kind may hold, checked on every
 * value that enters the store: local writes, received batches, rows read
 * back (STYLE 10: stored bytes are outside bytes too). */
#ifndef CARNET_ENGINE_SCHEMA_H
#define CARNET_ENGINE_SCHEMA_H

#include <stdbool.h>
#include "carnet/record.h"
#include "engine/cell.h"

#define CARNET__PHONE_SLOT_LEN 8   /* random slot id of a phone */
#define CARNET__CONSENT_KEY_LEN 17 /* channel(1) hlc(8) origin(8) */
#define CARNET__CUSTOM_NAME_MAX 64

bool carnet__kind_valid(unsigned kind);

/* 0 when the cell (key and value) fits its field for `kind`, else
 * CARNET_ECORRUPT. */
int carnet__cell_check(unsigned kind, const carnet__cell *c);

#endif
