/* tests/abi/leak_probe.c - a deliberate mistake, for test_symbols.c: an
 * internal function marked visible. It is linked with every object of
 * libcarnet and the same version script into libcarnet_leak_probe.so, which
 * the symbol test must reject, naming this function. Never part of
 * libcarnet itself. */
#include "carnet/api.h"

CARNET_API int carnet__leak_probe(void);

int carnet__leak_probe(void) {
  return 1;
}
