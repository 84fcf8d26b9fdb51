/* engine/crm/consent.h - deciding a channel's consent from its event log.
 *
 * Consent events are a grow-only log (each event is its own cell, keyed by
 * channel + stamp). A grant records `observed`: the stamp of the latest
 * withdrawal its replica had seen for that channel. The channel is granted
 * iff there is a grant G and every withdrawal W has W.hlc <= G.observed
 * (for one G: the grant that saw the latest withdrawal covers the others):
 * a withdrawal that no grant had seen (concurrent, or later) wins; a grant
 * made after seeing it is an informed re-consent and wins. The decision is a
 * pure function of the set of events, so it converges.
 */
#ifndef CARNET_ENGINE_CONSENT_H
#define CARNET_ENGINE_CONSENT_H

#include "carnet/types.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct carnet__consent_ev {
  bool granted;
  carnet_hlc hlc;
  uint64_t origin;
  carnet_hlc observed; /* grants only */
} carnet__consent_ev;

/* `decided_at` (may be NULL) receives the stamp of the deciding event: the
 * latest grant when granted, the latest withdrawal otherwise, 0 when empty. */
bool carnet__consent_decide(const carnet__consent_ev *evs, size_t n, carnet_hlc *decided_at);

#endif
