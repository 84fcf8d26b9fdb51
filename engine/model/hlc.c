/* engine/model/hlc.c - hybrid logical clock (see hlc.h). */
#include "engine/model/hlc.h"

#include "engine/base/check.h"

carnet_hlc carnet__hlc_tick(carnet_hlc last, uint64_t now_ms) {
  CARNET_ASSERT(now_ms <= UINT64_MAX >> 16); /* a wall time that fits a stamp */
  CARNET_ASSERT(last < UINT64_MAX);          /* the counter cannot wrap to 0 */
  carnet_hlc wall = now_ms << 16;
  carnet_hlc next = wall > last ? wall : last + 1;
  CARNET_ASSERT(next > last); /* stamps grow strictly on a replica */
  return next;
}

carnet_hlc carnet__hlc_recv(carnet_hlc last, carnet_hlc remote) {
  carnet_hlc next = remote > last ? remote : last;
  CARNET_ASSERT(next >= last && next >= remote); /* never goes backwards */
  return next;
}

int carnet__hlc_plausible(carnet_hlc remote, uint64_t now_ms) {
  return CARNET_HLC_MS(remote) <= now_ms + CARNET__HLC_MAX_AHEAD_MS;
}
