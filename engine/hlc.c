/* engine/hlc.c - hybrid logical clock (see hlc.h). */
#include "engine/hlc.h"

carnet_hlc carnet__hlc_tick(carnet_hlc last, uint64_t now_ms) {
  carnet_hlc wall = now_ms << 16;
  return wall > last ? wall : last + 1;
}

carnet_hlc carnet__hlc_recv(carnet_hlc last, carnet_hlc remote) {
  return remote > last ? remote : last;
}

int carnet__hlc_plausible(carnet_hlc remote, uint64_t now_ms) {
  return CARNET_HLC_MS(remote) <= now_ms + CARNET__HLC_MAX_AHEAD_MS;
}
