/* tests/sim/model.c - what the acknowledged writes promise (see sim.h).
 *
 * The model is append-only: the entities created, every acknowledged write
 * of a tracked value with its stamp and origin, and every invoice number
 * handed out. checks.c turns it into expectations once all replicas have
 * synced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

static void *grow(void *p, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return p;
  size_t c = *cap ? *cap * 2 : 64;
  void *q = realloc(p, c * size);
  if (!q) {
    fprintf(stderr, "carnet-sim: out of memory\n");
    abort();
  }
  *cap = c;
  return q;
}

uint32_t model_ent_add(sim *s, const carnet_id *id, sim_ent_kind kind, int creator) {
  s->ents = grow(s->ents, &s->capents, s->nents, sizeof *s->ents);
  s->ents[s->nents] = (sim_ent){.id = *id, .kind = kind, .creator = creator};
  return (uint32_t)s->nents++;
}

bool model_erased(const sim *s, uint32_t e) {
  if (s->ents[e].kind == SIM_DOCUMENT) e = s->ents[e].owner;
  return s->ents[e].erased;
}

void model_log(sim *s, const sim_ledger *l) {
  s->led = grow(s->led, &s->capled, s->nled, sizeof *s->led);
  s->led[s->nled++] = *l;
}

void model_number(sim *s, int replica, uint32_t ent, const char *num) {
  s->nums = grow(s->nums, &s->capnums, s->nnums, sizeof *s->nums);
  sim_number *n = &s->nums[s->nnums++];
  n->replica = replica;
  n->ent = ent;
  snprintf(n->num, sizeof n->num, "%s", num);
}

void model_merged(sim *s, uint32_t keep, uint32_t other) {
  s->merged = grow(s->merged, &s->capmerged, s->nmerged, sizeof *s->merged);
  s->merged[s->nmerged][0] = keep;
  s->merged[s->nmerged][1] = other;
  s->nmerged++;
}

void model_free(sim *s) {
  free(s->merged);
  s->merged = NULL;
  s->nmerged = s->capmerged = 0;
  free(s->ents);
  free(s->led);
  free(s->nums);
  s->ents = NULL;
  s->led = NULL;
  s->nums = NULL;
  s->nents = s->nled = s->nnums = 0;
  s->capents = s->capled = s->capnums = 0;
}
