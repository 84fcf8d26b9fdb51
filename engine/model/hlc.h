/* engine/model/hlc.h - hybrid logical clock, as pure functions.
 *
 * A stamp is (physical ms << 16) | counter. A local event takes the greater of
 * the wall clock and the last stamp + 1; a received stamp raises the last
 * stamp. So stamps grow strictly on each replica, follow causality across
 * replicas, and stay close to wall time even when a peer's clock is skewed.
 */
#ifndef CARNET_ENGINE_HLC_H
#define CARNET_ENGINE_HLC_H

#include "carnet/types.h"

/* How far ahead of our wall clock a received stamp may be before the batch
 * carrying it is refused (a peer with a broken clock must not drag every
 * replica's clock into the future). */
#define CARNET__HLC_MAX_AHEAD_MS (7ull * 24 * 3600 * 1000)

/* The stamp of a new local event after `last`, at wall time `now_ms`. */
carnet_hlc carnet__hlc_tick(carnet_hlc last, uint64_t now_ms);

/* The clock after receiving `remote` (never goes backwards). */
carnet_hlc carnet__hlc_recv(carnet_hlc last, carnet_hlc remote);

/* True when `remote` is acceptable at wall time `now_ms`. */
int carnet__hlc_plausible(carnet_hlc remote, uint64_t now_ms);

#endif
