/* tests/sim/erase.c - erasures in the simulation (see sim.h, ops.c).
 *
 * The operation: carnet_record_erase_one of a customer, rare (a few per run). The model
 * marks the entity erased and logs a SIM_L_ERASE with the certificate's
 * stamp; the values written to the customer are already in the ledger
 * (every acknowledged write to it, before or after the erasure).
 *
 * The checks (5, after checks 1-4 of checks.c; every view is identical by
 * then, but each replica is read):
 *   a. every erased customer reads CARNET_ENOTFOUND, carnet_record_erased says
 *      true, and no listed customer is it or has it as a merged member;
 *   b. (in checks.c) the writes to an erased customer are expected nowhere,
 *      and an erased member's writes do not count in its former group;
 *   c. no value written to an erased customer (its notes, e-mails and
 *      phones, when no other entity was written the same value) appears in
 *      any replica's view of what is left (lists, documents, every entity
 *      and group: a former group's survivor view included);
 *   d. (in checks.c, check 3) every invoice number given is still on its
 *      document everywhere, an erased customer's included;
 *   e. every replica lists the same certificates, one per erased customer,
 *      each confirmed by every replica.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/ops.h"
#include "sim/sim.h"

int op_erase(sim *s, int ri) {
  long e = ops_pick_ent(s, ri, SIM_CUSTOMER);
  if (e < 0) return 0;
  carnet_erasure cert;
  /* The record alone (scope RECORD): the model knows which entity it
   * erased. An erasure of the person (carnet_record_erase) also erases the
   * records merged with it, on each replica as its merges arrive, which
   * this model does not predict; tests/engine/test_erase.c and
   * tests/sync/test_erase.c cover it. */
  int rc = carnet_record_erase_one(s->rep[ri].r, &s->ents[e].id, "sim", &cert, NULL);
  if (rc == CARNET_ENOTFOUND || rc == CARNET_EEXIST) return 0;
  if (rc) return ops_api_fail(s, ri, "carnet_record_erase", rc);
  s->ents[e].erased = true;
  sim_ledger l = {.ent = (uint32_t)e,
                  .kind = SIM_L_ERASE,
                  .present = true,
                  .hlc = cert.at,
                  .origin = cert.origin};
  model_log(s, &l);
  s->st.erases++;
  return 1;
}

/* --- checks ---------------------------------------------------------------- */

typedef struct listchk {
  sim *s;
  int ri;
  int bad;
} listchk;

static long erased_index(const sim *s, const carnet_id *id) {
  for (size_t e = 0; e < s->nents; e++)
    if (s->ents[e].erased && memcmp(s->ents[e].id.b, id->b, 16) == 0) return (long)e;
  return -1;
}

static int list_cb(const carnet_record *rec, void *data) {
  listchk *lc = data;
  char h[CARNET_ID_HEX_LEN + 1];
  if (erased_index(lc->s, carnet_record_id(rec)) >= 0) {
    carnet_id_format(carnet_record_id(rec), h);
    lc->bad = sim_fail(lc->s, "r%d: erased customer %s is in carnet_record_list", lc->ri, h);
    return 1;
  }
  const carnet_id *m;
  size_t nm = carnet_record_merged(rec, &m);
  for (size_t i = 0; i < nm; i++)
    if (erased_index(lc->s, &m[i]) >= 0) {
      carnet_id_format(&m[i], h);
      lc->bad = sim_fail(lc->s, "r%d: erased customer %s is still a merged member", lc->ri, h);
      return 1;
    }
  return 0;
}

/* a: gone everywhere. */
static int check_gone(sim *s, int ri) {
  carnet_replica *r = s->rep[ri].r;
  char h[CARNET_ID_HEX_LEN + 1];
  for (size_t e = 0; e < s->nents; e++) {
    if (!s->ents[e].erased) continue;
    carnet_id_format(&s->ents[e].id, h);
    bool er = false;
    int rc = carnet_record_erased(r, &s->ents[e].id, &er);
    if (rc || !er)
      return sim_fail(s, "r%d: customer %s was erased but carnet_record_erased says %s (%s)", ri, h,
                      er ? "true" : "false", carnet_error_name(rc));
    carnet_record *rec = NULL;
    rc = carnet_record_get(r, &s->ents[e].id, &rec);
    carnet_record_free(rec);
    if (rc != CARNET_ENOTFOUND)
      return sim_fail(s, "r%d: erased customer %s: carnet_record_get says %s, not ENOTFOUND", ri, h,
                      carnet_error_name(rc));
  }
  listchk lc = {.s = s, .ri = ri};
  carnet_filter all = {.include_deleted = true};
  int rc = carnet_record_list(r, CARNET_KIND_CUSTOMER, &all, list_cb, &lc);
  if (lc.bad) return -1;
  return rc ? sim_fail(s, "r%d: carnet_record_list: %s", ri, carnet_error_name(rc)) : 0;
}

/* Whether value `l` was written to an entity other than `l->ent`. */
static bool shared_value(const sim *s, const sim_ledger *l) {
  for (size_t k = 0; k < s->nled; k++) {
    const sim_ledger *m = &s->led[k];
    if (m->ent != l->ent && m->kind == l->kind && strcmp(m->val, l->val) == 0) return true;
  }
  return false;
}

/* c: no erased person's value in what is left. */
static int check_values(sim *s, int ri, const char *view) {
  for (size_t k = 0; k < s->nled; k++) {
    const sim_ledger *l = &s->led[k];
    /* Values it was given (a removal names a value seen in its group). */
    if (!s->ents[l->ent].erased || !l->present || !l->val[0]) continue;
    if (l->kind != SIM_L_NOTES && l->kind != SIM_L_EMAIL && l->kind != SIM_L_PHONE) continue;
    if (shared_value(s, l) || !strstr(view, l->val)) continue;
    char h[CARNET_ID_HEX_LEN + 1];
    carnet_id_format(&s->ents[l->ent].id, h);
    if (s->cfg.verbose > 1)
      for (size_t j = 0; j < s->nled; j++)
        fprintf(stderr, "  ledger ent %u kind %d %s '%s' hlc %" PRIx64 " origin %" PRIx64 "\n",
                s->led[j].ent, s->led[j].kind, s->led[j].present ? "+" : "-", s->led[j].val,
                s->led[j].hlc, s->led[j].origin);
    const char *at = strstr(view, l->val), *ls = at;
    while (ls > view && ls[-1] != '\n')
      ls--;
    return sim_fail(s, "r%d: value '%s' of erased customer %s is still visible: %.*s", ri, l->val,
                    h, (int)(strcspn(ls, "\n") > 600 ? 600 : strcspn(ls, "\n")), ls);
  }
  return 0;
}

typedef struct certs {
  size_t n, cap;
  carnet_erasure *v;
} certs;

static int cert_cb(const carnet_erasure *e, void *data) {
  certs *c = data;
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 8;
    carnet_erasure *v = realloc(c->v, cap * sizeof *v);
    if (!v) return CARNET_ENOMEM;
    c->v = v;
    c->cap = cap;
  }
  c->v[c->n++] = *e;
  return 0;
}

static bool confirmed_by(const carnet_erasure *e, uint64_t id) {
  for (uint32_t i = 0; i < e->nconfirmed && i < CARNET_ERASE_CONFIRMS_MAX; i++)
    if (e->confirmed[i] == id) return true;
  return false;
}

/* e: the same certificates everywhere, one per erased customer, each
 * confirmed by every replica. */
static int check_certs(sim *s, int ri, certs *c0) {
  certs c = {0};
  int rc = carnet_erasure_list(s->rep[ri].r, cert_cb, &c), bad = 0;
  size_t nerased = 0;
  for (size_t e = 0; e < s->nents; e++)
    nerased += s->ents[e].erased;
  char h[CARNET_ID_HEX_LEN + 1];
  if (rc)
    bad = sim_fail(s, "r%d: carnet_erasure_list: %s", ri, carnet_error_name(rc));
  else if (c.n != nerased)
    bad = sim_fail(s, "r%d lists %zu erasure certificates, %zu customers were erased", ri, c.n,
                   nerased);
  for (size_t k = 0; !bad && k < c.n; k++) {
    const carnet_erasure *e = &c.v[k];
    carnet_id_format(&e->id, h);
    if (erased_index(s, &e->id) < 0)
      bad = sim_fail(s, "r%d: certificate for %s, a customer never erased", ri, h);
    for (int i = 0; !bad && i < s->n; i++)
      if (!confirmed_by(e, s->rep[i].id))
        bad = sim_fail(s, "r%d: certificate of %s not confirmed by r%d (%" PRIu32 " confirmations)",
                       ri, h, i, e->nconfirmed);
    if (!bad && c0 && c0->v &&
        (memcmp(e->id.b, c0->v[k].id.b, 16) != 0 || e->at != c0->v[k].at ||
         e->origin != c0->v[k].origin || e->nconfirmed != c0->v[k].nconfirmed))
      bad = sim_fail(s, "r0 and r%d differ on the erasure certificate of %s", ri, h);
  }
  if (!c0 || bad)
    free(c.v);
  else if (!c0->v)
    *c0 = c;
  else
    free(c.v);
  return bad;
}

int checks_erasure(sim *s, char *const *views) {
  certs c0 = {0};
  int bad = 0;
  for (int i = 0; i < s->n && !bad; i++)
    bad = check_gone(s, i) || check_values(s, i, views[i]) || check_certs(s, i, &c0) ? -1 : 0;
  free(c0.v);
  return bad;
}
