/* tests/abi/layer_probe.c - compiled by ctest with protocol/'s include
 * root (CMakeLists.txt, layers_protocol_*): as it is, it includes headers
 * of the engine's interface for the layers above it, and must compile;
 * with LAYER_PROBE_INTERNAL it also includes an internal header of the
 * engine, and must not. */
#include "engine/base/alloc.h"
#include "engine/model/cert.h"
#include "engine/store/handle.h"
#include "engine/store/peer_int.h"
#include "engine/sync/changes_int.h"
#ifdef LAYER_PROBE_INTERNAL
#include "engine/store/replica_int.h"
#endif

int layer_probe(void);

int layer_probe(void) {
  return 0;
}
