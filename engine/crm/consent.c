/* engine/crm/consent.c - consent decision from the event log (see consent.h). */
#include "engine/crm/consent.h"

static int ev_newer(const carnet__consent_ev *a, const carnet__consent_ev *b) {
  if (a->hlc != b->hlc) return a->hlc > b->hlc;
  return a->origin > b->origin;
}

bool carnet__consent_decide(const carnet__consent_ev *evs, size_t n, carnet_hlc *decided_at) {
  const carnet__consent_ev *grant = NULL, *withdraw = NULL;
  carnet_hlc observed = 0; /* the latest withdrawal any grant had seen */
  for (size_t i = 0; i < n; i++) {
    const carnet__consent_ev *e = &evs[i];
    if (e->granted) {
      if (grant == NULL || ev_newer(e, grant)) grant = e;
      if (e->observed > observed) observed = e->observed;
    } else if (withdraw == NULL || ev_newer(e, withdraw)) {
      withdraw = e;
    }
  }
  bool granted = grant != NULL && (withdraw == NULL || withdraw->hlc <= observed);
  if (decided_at) *decided_at = granted ? grant->hlc : withdraw ? withdraw->hlc : 0;
  return granted;
}
