/* engine/base/id.h - making entity ids. */
#ifndef CARNET_ENGINE_ID_H
#define CARNET_ENGINE_ID_H

#include "carnet/types.h"

/* A time-ordered id: `stamp` big-endian, then 8 bytes from `rnd`. */
void carnet__id_make(carnet_id *id, carnet_hlc stamp, const uint8_t rnd[8]);

#endif
