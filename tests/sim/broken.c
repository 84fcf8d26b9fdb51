/* tests/sim/broken.c - a deliberately broken merge, to prove the checks
 * catch one (carnet-sim --broken).
 *
 * Replica 0 applies received changes with a "local wins" rule for notes:
 * whenever a value received from a peer replaces the notes it wrote itself,
 * it writes its own value back, with a fresh stamp of its own. The result
 * depends on the order in which replicas see the writes (a non-commutative
 * merge), and a peer's acknowledged later write is lost. At most 3 rewrites
 * per entity: two merged entities whose notes replica 0 both wrote would
 * otherwise fight each other forever through the merged view. The breakage lives
 * here, in the simulation, not in the library: the library has no test
 * switch.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

void broken_note_local(sim *s, uint32_t ent, const char *val) {
  if (ent >= s->nbroken_own) {
    size_t n = ent + 64;
    char **p = realloc(s->broken_own, n * sizeof *p);
    uint8_t *k = realloc(s->broken_count, n);
    if (!p || !k) abort();
    memset(p + s->nbroken_own, 0, (n - s->nbroken_own) * sizeof *p);
    memset(k + s->nbroken_own, 0, n - s->nbroken_own);
    s->broken_own = p;
    s->broken_count = k;
    s->nbroken_own = n;
  }
  free(s->broken_own[ent]);
  s->broken_own[ent] = strdup(val);
}

int broken_after_apply(sim *s, int ri) {
  carnet_replica *r = s->rep[ri].r;
  if (!r) return 0;
  for (size_t e = 0; e < s->nbroken_own; e++) {
    const char *own = s->broken_own[e];
    if (!own) continue;
    carnet_record *rec = NULL;
    if (carnet_record_get(r, &s->ents[e].id, &rec)) continue;
    const char *cur = carnet_record_str(rec, CARNET_F_NOTES);
    bool lost = !cur || strcmp(cur, own) != 0;
    carnet_record_free(rec);
    if (!lost) continue;
    if (s->broken_count[e] >= 3) continue;
    s->broken_count[e]++;
    carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
    if (!p || carnet_patch_set(p, CARNET_F_NOTES, own)) {
      carnet_patch_free(p);
      return sim_fail(s, "broken: patch");
    }
    int rc = carnet_record_update_commit(r, &s->ents[e].id, p);
    carnet_patch_free(p);
    if (rc && rc != CARNET_ENOTFOUND)
      return sim_fail(s, "broken: update: %s", carnet_error_name(rc));
    if (rc == 0) s->st.broken_rewrites++;
  }
  return 0;
}

void broken_free(sim *s) {
  for (size_t e = 0; e < s->nbroken_own; e++)
    free(s->broken_own[e]);
  free(s->broken_own);
  free(s->broken_count);
  s->broken_own = NULL;
  s->broken_count = NULL;
  s->nbroken_own = 0;
}
