/* tests/sim/ops.c - the local operations of the simulation (see sim.h).
 *
 * SIM_OPS is the table the scheduler draws from, by weight. Each operation
 * runs on one up replica through the public API, in its own transaction,
 * and records in the model (model.c) what the acknowledged write must leave
 * on every replica once all have synced. An operation on an entity the
 * replica has not received yet, or one the API refuses by design (merging
 * a merged pair, validating twice, editing a validated document), does not
 * apply and changes nothing.
 *
 * Extension point: a new kind of write (erasure, when it lands) is one
 * function `static int op_xxx(sim *s, int ri)` and one row in SIM_OPS; what
 * it guarantees goes into the model as a sim_ledger kind, checked in
 * checks.c (check_customer).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/ops.h"
#include "sim/sim.h"

static const char *const NAMES[] = {"Jean Dupont",  "Éloïse Martin", "Boulangerie Lefèvre",
                                    "Ahmed Benali", "Zoë Nguyễn",    "SARL Menuiserie Roux"};
static const char *const CITIES[] = {"Paris", "Lyon", "Saint-Étienne", "Bordeaux", "Lille"};
static const char *const TAGS[] = {"vip", "b2b", "salon", "relance", "grossiste", "export"};
static const char *const EMAILS[] = {"contact@exemple.fr", "jean.dupont@exemple.fr",
                                     "compta@roux.fr",     "ana@garcia.es",
                                     "zoe@nguyen.vn",      "info@boulangerie.fr"};
static const char *const REPS[] = {"marie", "paul", "inès"};
static const char *const PTYPES[] = {"mobile", "work", "home"};

/* --- helpers ------------------------------------------------------------------ */

/* An entity of `kind` from the model, preferably one replica `ri` holds
 * (a few tries); else any, so operations on entities not received yet are
 * exercised too. */
long ops_pick_ent(sim *s, int ri, sim_ent_kind kind) {
  long any = -1;
  for (int tries = 0; s->nents && tries < 24; tries++) {
    uint32_t e = trng_below(&s->g, (uint32_t)s->nents);
    if (s->ents[e].kind != kind) continue;
    carnet_record *rec = NULL;
    if (carnet_record_get(s->rep[ri].r, &s->ents[e].id, &rec) == 0) {
      bool live = !carnet_record_deleted(rec);
      carnet_record_free(rec);
      if (live || trng_chance(&s->g, 10)) return e;
    }
    if (any < 0 || trng_chance(&s->g, 20)) any = e;
  }
  return any;
}

/* Refusals that are the API working as documented: not received yet,
 * deleted, already done, merged, validated. */
static bool expected_refusal(int rc) {
  return rc == CARNET_ENOTFOUND || rc == CARNET_EEXIST || rc == CARNET_EPERM;
}

int ops_api_fail(sim *s, int ri, const char *what, int rc) {
  return sim_fail(s, "r%d: %s: %s (%s)", ri, what, carnet_error_name(rc),
                  s->rep[ri].r ? carnet_replica_errmsg(s->rep[ri].r) : "");
}

/* The stamp of the write just committed on `ri` to entity `e`: a write is
 * stamped above everything its replica holds, so it is the record's (and
 * the merged group view's) latest change. */
static int stamp_of(sim *s, int ri, uint32_t e, carnet_record **rec_out, carnet_hlc *out) {
  carnet_record *rec = NULL;
  int rc = carnet_record_get(s->rep[ri].r, &s->ents[e].id, &rec);
  if (rc) return ops_api_fail(s, ri, "carnet_record_get after a write", rc);
  *out = carnet_record_updated(rec);
  if (rec_out)
    *rec_out = rec;
  else
    carnet_record_free(rec);
  return 0;
}

static void ledger(sim *s, int ri, uint32_t e, sim_lkind kind, bool present, const char *val,
                   carnet_hlc hlc, int channel) {
  sim_ledger l = {.ent = e,
                  .kind = (uint8_t)kind,
                  .present = present,
                  .channel = (uint8_t)channel,
                  .hlc = hlc,
                  .origin = s->rep[ri].id};
  snprintf(l.val, sizeof l.val, "%.47s", val ? val : "");
  model_log(s, &l);
}

/* Apply `p` to entity `e` on `ri`: 1 done (stamp in *hlc), 0 refused. */
static int update(sim *s, int ri, uint32_t e, carnet_patch *p, carnet_hlc *hlc) {
  int rc = carnet_record_update_commit(s->rep[ri].r, &s->ents[e].id, p);
  carnet_patch_free(p);
  if (rc == CARNET_ENOTFOUND) return 0;
  if (rc) return ops_api_fail(s, ri, "carnet_record_update_commit", rc);
  return stamp_of(s, ri, e, NULL, hlc) ? -1 : 1;
}

/* The current view of entity `e` on `ri` (NULL: not there). */
carnet_record *ops_view(sim *s, int ri, uint32_t e) {
  carnet_record *rec = NULL;
  if (carnet_record_get(s->rep[ri].r, &s->ents[e].id, &rec)) return NULL;
  return rec;
}

static const char *pick_elem(sim *s, const carnet_record *rec, carnet_field f) {
  const char *const *el;
  size_t n = carnet_record_elems(rec, f, &el);
  return n ? el[trng_below(&s->g, (uint32_t)n)] : NULL;
}

/* A unique French mobile number: national form for the patch, E.164 for
 * the model. */
static void unique_phone(sim *s, char national[16], char e164[16]) {
  unsigned k = 10000000u + ++s->counter % 90000000u;
  snprintf(national, 16, "06%08u", k);
  snprintf(e164, 16, "+336%08u", k);
}

/* Commit or abort `t` after a call returned `rc`: 1 done, 0 refused. */
int ops_finish(sim *s, int ri, carnet_txn *t, int rc, const char *what) {
  if (rc) {
    carnet_txn_abort(t);
    if (expected_refusal(rc) || rc == CARNET_EINVAL) return 0;
    return ops_api_fail(s, ri, what, rc);
  }
  rc = carnet_txn_commit(t);
  return rc ? ops_api_fail(s, ri, "commit", rc) : 1;
}

/* --- customers ------------------------------------------------------------------ */

static int op_create(sim *s, int ri) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  char note[48], nat[16], e164[16];
  snprintf(note, sizeof note, "n%u r%d", ++s->counter, ri);
  unique_phone(s, nat, e164);
  const char *tag = SIM_PICK(s, TAGS), *email = SIM_PICK(s, EMAILS);
  int rc = p ? 0 : CARNET_ENOMEM;
  if (!rc) rc = carnet_patch_set(p, CARNET_F_NAME, SIM_PICK(s, NAMES));
  if (!rc) rc = carnet_patch_set(p, CARNET_F_CITY, SIM_PICK(s, CITIES));
  if (!rc) rc = carnet_patch_set(p, CARNET_F_NOTES, note);
  if (!rc) rc = carnet_patch_set(p, CARNET_F_TAGS, tag);
  if (!rc) rc = carnet_patch_set(p, CARNET_F_EMAILS, email);
  if (!rc) rc = carnet_patch_phone(p, SIM_PICK(s, PTYPES), nat);
  carnet_id id;
  if (!rc) rc = carnet_record_create_commit(s->rep[ri].r, p, &id);
  carnet_patch_free(p);
  if (rc) return ops_api_fail(s, ri, "create customer", rc);
  uint32_t e = model_ent_add(s, &id, SIM_CUSTOMER, ri);
  carnet_hlc h;
  if (stamp_of(s, ri, e, NULL, &h)) return -1;
  ledger(s, ri, e, SIM_L_NOTES, true, note, h, 0);
  ledger(s, ri, e, SIM_L_TAG, true, tag, h, 0);
  ledger(s, ri, e, SIM_L_EMAIL, true, email, h, 0);
  ledger(s, ri, e, SIM_L_PHONE, true, e164, h, 0);
  if (s->cfg.broken && ri == 0) broken_note_local(s, e, note);
  return 1;
}

static int op_notes(sim *s, int ri) {
  long e = ops_pick_ent(s, ri, SIM_CUSTOMER);
  if (e < 0) return 0;
  char note[48];
  snprintf(note, sizeof note, "n%u r%d", ++s->counter, ri);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (!p || carnet_patch_set(p, CARNET_F_NOTES, note)) return sim_fail(s, "patch notes");
  carnet_hlc h;
  int rc = update(s, ri, (uint32_t)e, p, &h);
  if (rc == 1) {
    ledger(s, ri, (uint32_t)e, SIM_L_NOTES, true, note, h, 0);
    if (s->cfg.broken && ri == 0) broken_note_local(s, (uint32_t)e, note);
  }
  return rc;
}

/* Scalars the model does not track: the replicas must still agree on them. */
static int op_scalar(sim *s, int ri) {
  long e = ops_pick_ent(s, ri, SIM_CUSTOMER);
  if (e < 0) return 0;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  char disc[16];
  snprintf(disc, sizeof disc, "%u", 50u * trng_below(&s->g, 40));
  int rc;
  switch (trng_below(&s->g, 5)) {
  case 0:
    rc = carnet_patch_set(p, CARNET_F_CITY, trng_chance(&s->g, 10) ? "" : SIM_PICK(s, CITIES));
    break;
  case 1:
    rc = carnet_patch_set(p, CARNET_F_NAME, SIM_PICK(s, NAMES));
    break;
  case 2:
    rc = carnet_patch_set(p, CARNET_F_SALES_REP, SIM_PICK(s, REPS));
    break;
  case 3:
    rc = carnet_patch_set(p, CARNET_F_DISCOUNT, disc);
    break;
  default:
    rc = carnet_patch_set(p, CARNET_F_CONFLICT, trng_chance(&s->g, 50) ? "true" : "false");
  }
  if (rc) return sim_fail(s, "patch scalar");
  carnet_hlc h;
  return update(s, ri, (uint32_t)e, p, &h);
}

/* Tags and e-mails: an LWW-element set each; add, or remove an element the
 * replica sees. */
static int op_set(sim *s, int ri, carnet_field f, sim_lkind lk) {
  long e = ops_pick_ent(s, ri, SIM_CUSTOMER);
  if (e < 0) return 0;
  carnet_record *rec = ops_view(s, ri, (uint32_t)e);
  if (!rec) return 0;
  char val[48];
  bool add = trng_chance(&s->g, 60);
  const char *v =
      add ? (f == CARNET_F_TAGS ? SIM_PICK(s, TAGS) : SIM_PICK(s, EMAILS)) : pick_elem(s, rec, f);
  if (!v) {
    carnet_record_free(rec);
    return 0;
  }
  snprintf(val, sizeof val, "%s", v);
  carnet_record_free(rec);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (!p || (add ? carnet_patch_set(p, f, val) : carnet_patch_remove(p, f, val)))
    return sim_fail(s, "patch set");
  carnet_hlc h;
  int rc = update(s, ri, (uint32_t)e, p, &h);
  if (rc == 1) ledger(s, ri, (uint32_t)e, lk, add, val, h, 0);
  return rc;
}

static int op_tag(sim *s, int ri) {
  return op_set(s, ri, CARNET_F_TAGS, SIM_L_TAG);
}

static int op_email(sim *s, int ri) {
  return op_set(s, ri, CARNET_F_EMAILS, SIM_L_EMAIL);
}

/* Phones: a new unique number must survive unless some replica later
 * removed or replaced a phone with that number; removed and replaced
 * numbers are recorded as taken away (never expected any more). */
static int op_phone(sim *s, int ri) {
  long e = ops_pick_ent(s, ri, SIM_CUSTOMER);
  if (e < 0) return 0;
  carnet_record *rec = ops_view(s, ri, (uint32_t)e);
  if (!rec) return 0;
  char nat[16], e164[16];
  size_t ngone = 0;
  unsigned how = trng_below(&s->g, 3);
  const char *type = SIM_PICK(s, PTYPES);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  int rc = p ? 0 : CARNET_ENOMEM;
  unique_phone(s, nat, e164);
  const char *const *el;
  size_t n = carnet_record_elems(rec, CARNET_F_PHONES, &el);
  /* Every number a replace may take away (all of that type in the view, a
   * merged group's included): none may be left out of the model. */
  char(*gone)[24] = malloc((n + 1) * sizeof *gone);
  if (!gone) {
    carnet_record_free(rec);
    carnet_patch_free(p);
    return sim_fail(s, "out of memory");
  }
  if (how == 2 && n) { /* remove one */
    const char *c = strchr(el[trng_below(&s->g, (uint32_t)n)], ':');
    if (c) {
      snprintf(gone[ngone++], sizeof gone[0], "%s", c + 1);
      if (!rc) rc = carnet_patch_remove(p, CARNET_F_PHONES, c + 1);
    }
  } else if (how == 1) { /* replace every phone of a type */
    for (size_t i = 0; i < n; i++) {
      const char *c = strchr(el[i], ':');
      if (c && (size_t)(c - el[i]) == strlen(type) && strncmp(el[i], type, strlen(type)) == 0)
        snprintf(gone[ngone++], sizeof gone[0], "%s", c + 1);
    }
    if (!rc) rc = carnet_patch_phone_replace(p, type, nat);
  } else {
    how = 0;
    if (!rc) rc = carnet_patch_phone(p, type, nat);
  }
  carnet_record_free(rec);
  if (rc) {
    carnet_patch_free(p);
    free(gone);
    return sim_fail(s, "patch phone: %s", carnet_error_name(rc));
  }
  if (how == 2 && ngone == 0) {
    carnet_patch_free(p);
    free(gone);
    return 0;
  }
  carnet_hlc h;
  rc = update(s, ri, (uint32_t)e, p, &h);
  if (rc != 1) {
    free(gone);
    return rc;
  }
  /* A replaced slot may be rewritten concurrently elsewhere (LWW), so only
   * plain additions are promised. */
  if (how == 0) ledger(s, ri, (uint32_t)e, SIM_L_PHONE, true, e164, h, 0);
  for (size_t i = 0; i < ngone; i++)
    ledger(s, ri, (uint32_t)e, SIM_L_PHONE, false, gone[i], h, 0);
  free(gone);
  return 1;
}

static int op_consent(sim *s, int ri) {
  long e = ops_pick_ent(s, ri, SIM_CUSTOMER);
  if (e < 0) return 0;
  carnet_channel ch = (carnet_channel)(1 + trng_below(&s->g, CARNET_CH_MAX_ - 1));
  bool grant = trng_chance(&s->g, 60);
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (!p || carnet_patch_consent(p, ch, grant, trng_chance(&s->g, 50) ? "salon" : NULL))
    return sim_fail(s, "patch consent");
  carnet_hlc h;
  int rc = update(s, ri, (uint32_t)e, p, &h);
  if (rc == 1) ledger(s, ri, (uint32_t)e, SIM_L_CONSENT, grant, NULL, h, (int)ch);
  return rc;
}

static int op_delete(sim *s, int ri) {
  long e = ops_pick_ent(s, ri, SIM_CUSTOMER);
  if (e < 0) return 0;
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (!p || carnet_patch_delete(p)) return sim_fail(s, "patch delete");
  carnet_hlc h;
  int rc = update(s, ri, (uint32_t)e, p, &h);
  if (rc == 1) ledger(s, ri, (uint32_t)e, SIM_L_DELETE, true, NULL, h, 0);
  return rc;
}

/* --- the table ----------------------------------------------------------------------- */

const sim_op SIM_OPS[] = {
    {"customer.create", 10, op_create},
    {"customer.notes", 12, op_notes},
    {"customer.scalar", 6, op_scalar},
    {"customer.tag", 8, op_tag},
    {"customer.email", 5, op_email},
    {"customer.phone", 6, op_phone},
    {"customer.consent", 5, op_consent},
    {"customer.delete", 2, op_delete},
    {"merge", 5, op_merge},
    {"unmerge", 2, op_unmerge},
    {"dismiss", 2, op_dismiss},
    {"doc.create", 4, op_doc_create},
    {"doc.line", 3, op_doc_line},
    {"doc.line.change", 3, op_doc_line_change},
    {"doc.validate", 4, op_doc_validate},
    {"doc.paid", 1, op_doc_paid},
    {"doc.convert", 1, op_doc_convert},
    {"customer.erase", 1, op_erase},
};
const size_t SIM_NOPS = sizeof SIM_OPS / sizeof SIM_OPS[0];

int ops_run_one(sim *s, int ri) {
  unsigned total = 0;
  for (size_t i = 0; i < SIM_NOPS; i++)
    total += SIM_OPS[i].weight;
  unsigned x = trng_below(&s->g, total);
  size_t k = 0;
  while (x >= SIM_OPS[k].weight)
    x -= SIM_OPS[k++].weight;
  /* Until a few customers exist, create. */
  if (s->nents < 3) k = 0;
  /* --revoke: one operation in 60 is a revocation (a draw of its own, so
   * that runs without --revoke are what they always were). */
  if (s->cfg.revoke && trng_below(&s->g, 60) == 0) {
    int rc = op_revoke(s, ri);
    if (rc < 0) return -1;
    if (rc)
      s->st.ops_done++;
    else
      s->st.ops_skipped++;
    return 0;
  }
  int rc = SIM_OPS[k].fn(s, ri);
  if (rc < 0) return -1;
  if (rc)
    s->st.ops_done++;
  else
    s->st.ops_skipped++;
  if (s->cfg.verbose > 1)
    fprintf(stderr, "  step %u r%d %s -> %s\n", s->step, ri, SIM_OPS[k].name,
            rc ? "done" : "skipped");
  return 0;
}
