/* tests/sim/checks.c - what must hold once the network is healed and every
 * pair of replicas has synced to quiescence (see sim.h):
 *
 *   1. all replicas identical: equal carnet_replica_get_digest, and equal views:
 *      the customer list (survivors), carnet_record_get of every entity ever
 *      created (merged-away members read as their survivor), every
 *      document, and every customer's group (survivor and members);
 *   2. no acknowledged write lost (model.c): every entity exists
 *      everywhere; notes read the write with the greatest (stamp, origin)
 *      among the group's members; each tag and e-mail is present iff its
 *      latest add/remove is an add; every phone added is there unless some
 *      replica took that number away; every consent event is in the log;
 *      a lone customer is deleted iff a delete was acknowledged;
 *   3. invoice numbers: every number handed out is on its document on
 *      every replica, on that document only, no other number exists, and
 *      each replica's series runs 1..n with no gap;
 *   4. merges converge: same survivor and members everywhere (part of 1,
 *      reported on its own);
 *   5. erasures (erase.c): an erased customer is gone everywhere, its
 *      writes are expected nowhere (2 skips them, and an erased member
 *      leaves its group), none of its values is left in any view, every
 *      replica holds the same certificates, each confirmed by all;
 *   6. every replica sound: carnet_replica_check finds nothing (rows, the
 *      change index and the index agree, both ways).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

#define GROUP_MAX 64

typedef struct sbuf {
  char *p;
  size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) abort();
    if (b->p && b->n + (size_t)k < b->cap) {
      b->n += (size_t)k;
      return;
    }
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->n + (size_t)k + 1)
      cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) abort();
    b->p = np;
    b->cap = cap;
  }
}

static void hex(const carnet_id *id, char out[CARNET_ID_HEX_LEN + 1]) {
  carnet_id_format(id, out);
}

/* --- views ----------------------------------------------------------------- */

static void dump_record(sbuf *b, const carnet_record *rec) {
  char h[CARNET_ID_HEX_LEN + 1];
  carnet_kind kind = carnet_record_kind(rec);
  hex(carnet_record_id(rec), h);
  sb_printf(b, "%s %s del=%d", carnet_kind_name(kind), h, carnet_record_deleted(rec));
  for (int f = 1; f < CARNET_F_MAX_; f++) {
    const carnet_field_info *fi = carnet_field_get((carnet_field)f);
    if (!fi || !(fi->kinds & (1u << kind))) continue;
    const char *v = carnet_record_str(rec, (carnet_field)f);
    const char *const *el;
    size_t n = carnet_record_elems(rec, (carnet_field)f, &el);
    if (!v && !n) continue;
    sb_printf(b, " %s=%s", fi->name, v ? v : "");
    for (size_t i = 0; i < n; i++)
      sb_printf(b, "%s%s", i ? "," : "[", el[i]);
    if (n) sb_printf(b, "]");
  }
  const carnet_custom *cu;
  size_t nc = carnet_record_customs(rec, &cu);
  for (size_t i = 0; i < nc; i++)
    sb_printf(b, " custom.%s=%s", cu[i].name, cu[i].value);
  const carnet_consent_event *ev;
  size_t ne = carnet_record_consent_log(rec, &ev);
  for (size_t i = 0; i < ne; i++)
    sb_printf(b, " consent(%d,%d,%" PRIx64 ",%" PRIx64 ",%s)", ev[i].channel, ev[i].granted,
              ev[i].at, ev[i].origin, ev[i].note ? ev[i].note : "");
  for (int ch = 1; ch < CARNET_CH_MAX_; ch++)
    sb_printf(b, "%s", carnet_record_consent(rec, (carnet_channel)ch, NULL) ? " +" : " -");
  const carnet_id *m;
  size_t nm = carnet_record_merged(rec, &m);
  for (size_t i = 0; i < nm; i++) {
    hex(&m[i], h);
    sb_printf(b, " merged=%s", h);
  }
  if (carnet_record_review(rec)) sb_printf(b, " review");
  const carnet_line *ln;
  size_t nl = carnet_record_lines(rec, &ln);
  for (size_t i = 0; i < nl; i++) {
    char lh[17];
    carnet_line_id_format(&ln[i].id, lh);
    sb_printf(b, " line(%s,%s,%s,%" PRId64 ",%" PRId64 ",%u)", lh, ln[i].label ? ln[i].label : "",
              ln[i].pos, ln[i].qty, ln[i].unit_price, ln[i].vat_bp);
  }
  sb_printf(b, " updated=%" PRIx64 "\n", carnet_record_updated(rec));
}

static int dump_cb(const carnet_record *rec, void *data) {
  dump_record(data, rec);
  return 0;
}

/* Everything a person could see on replica `i`, as one string. */
static int view_of(sim *s, int i, sbuf *b) {
  carnet_replica *r = s->rep[i].r;
  carnet_filter all = {.include_deleted = true};
  int rc;
  sb_printf(b, "# customer list\n");
  if ((rc = carnet_record_list(r, CARNET_KIND_CUSTOMER, NULL, dump_cb, b)))
    return sim_fail(s, "r%d: carnet_record_list: %s", i, carnet_error_name(rc));
  sb_printf(b, "# customer list, deleted included\n");
  if ((rc = carnet_record_list(r, CARNET_KIND_CUSTOMER, &all, dump_cb, b)))
    return sim_fail(s, "r%d: carnet_record_list: %s", i, carnet_error_name(rc));
  sb_printf(b, "# documents\n");
  if ((rc = carnet_record_list(r, CARNET_KIND_DOCUMENT, &all, dump_cb, b)))
    return sim_fail(s, "r%d: carnet_record_list: %s", i, carnet_error_name(rc));
  sb_printf(b, "# every entity created, and its group\n");
  for (size_t e = 0; e < s->nents; e++) {
    char h[CARNET_ID_HEX_LEN + 1];
    carnet_record *rec = NULL;
    hex(&s->ents[e].id, h);
    rc = carnet_record_get(r, &s->ents[e].id, &rec);
    bool erased = false;
    if (rc == CARNET_ENOTFOUND && carnet_record_erased(r, &s->ents[e].id, &erased) == 0 &&
        model_erased(s, (uint32_t)e)) {
      /* Not carnet_record_erased: a replica that never received a document of an
       * erased customer (its peers deleted it first) knows nothing of it. */
      sb_printf(b, "get %s -> gone\n", h); /* checked in erase.c */
      continue;
    }
    if (rc)
      return sim_fail(s, "%s %s created by r%d is missing on r%d: %s (%serased)",
                      s->ents[e].kind == SIM_CUSTOMER ? "customer" : "document", h,
                      s->ents[e].creator, i, carnet_error_name(rc), erased ? "" : "not ");
    sb_printf(b, "get %s -> ", h);
    dump_record(b, rec);
    carnet_record_free(rec);
    if (s->ents[e].kind != SIM_CUSTOMER) continue;
    carnet_id surv, mem[GROUP_MAX];
    size_t n = 0;
    bool review = false;
    if ((rc = carnet_merge_group(r, &s->ents[e].id, &surv, mem, GROUP_MAX, &n, &review)))
      return sim_fail(s, "r%d: carnet_merge_group(%s): %s", i, h, carnet_error_name(rc));
    hex(&surv, h);
    sb_printf(b, "  group survivor=%s review=%d members=", h, review);
    for (size_t k = 0; k < n && k < GROUP_MAX; k++) {
      hex(&mem[k], h);
      sb_printf(b, "%s%s", k ? "," : "", h);
    }
    sb_printf(b, "\n");
  }
  return 0;
}

/* The first line where two views differ. */
static void first_diff(const char *a, const char *b, char *out, size_t len) {
  size_t line = 1;
  const char *la = a, *lb = b;
  while (*a && *a == *b) {
    if (*a == '\n') {
      line++;
      la = a + 1;
      lb = b + 1;
    }
    a++, b++;
  }
  int na = (int)strcspn(la, "\n"), nb = (int)strcspn(lb, "\n");
  snprintf(out, len, "line %zu:\n    r0: %.*s\n    rX: %.*s", line, na > 600 ? 600 : na, la,
           nb > 600 ? 600 : nb, lb);
}

/* Check 1; each replica's view is left in views[i] (for erase.c). */
static int check_identical(sim *s, char **views) {
  uint8_t d0[32];
  int rc;
  sbuf v0 = {0};
  if ((rc = carnet_replica_get_digest(s->rep[0].r, d0)))
    return sim_fail(s, "digest: %s", carnet_error_name(rc));
  memcpy(s->digest, d0, 32);
  if (view_of(s, 0, &v0)) goto fail;
  for (int i = 1; i < s->n; i++) {
    uint8_t di[32];
    sbuf vi = {0};
    if ((rc = carnet_replica_get_digest(s->rep[i].r, di))) {
      sim_fail(s, "digest: %s", carnet_error_name(rc));
      goto fail;
    }
    if (view_of(s, i, &vi)) {
      free(vi.p);
      goto fail;
    }
    views[i] = vi.p;
    bool same_view = strcmp(v0.p, vi.p) == 0, same_digest = memcmp(d0, di, 32) == 0;
    if (!same_view || !same_digest) {
      char diff[1500] = "(views equal)";
      if (!same_view) first_diff(v0.p, vi.p, diff, sizeof diff);
      sim_fail(s,
               "replicas r0 and r%d differ after the heal: digest %s, view %s; first difference "
               "(rX = r%d) at %s",
               i, same_digest ? "equal" : "DIFFERENT", same_view ? "equal" : "DIFFERENT", i, diff);
      goto fail;
    }
  }
  views[0] = v0.p;
  return 0;
fail:
  free(v0.p);
  return -1;
}

/* --- acknowledged writes ---------------------------------------------------- */

static bool later(const sim_ledger *a, const sim_ledger *b) {
  return a->hlc != b->hlc ? a->hlc > b->hlc : a->origin > b->origin;
}

static bool in_group(const carnet_id *mem, size_t n, const carnet_id *id) {
  for (size_t k = 0; k < n; k++)
    if (memcmp(mem[k].b, id->b, 16) == 0) return true;
  return false;
}

static bool has_elem(const carnet_record *rec, carnet_field f, const char *v, bool suffix) {
  const char *const *el;
  size_t n = carnet_record_elems(rec, f, &el);
  for (size_t i = 0; i < n; i++) {
    size_t a = strlen(el[i]), b = strlen(v);
    if (suffix ? (a > b && el[i][a - b - 1] == ':' && strcmp(el[i] + a - b, v) == 0)
               : strcmp(el[i], v) == 0)
      return true;
  }
  return false;
}

static bool phone_taken_away(const sim *s, const char *num) {
  for (size_t k = 0; k < s->nled; k++)
    if (s->led[k].kind == SIM_L_PHONE && !s->led[k].present && strcmp(s->led[k].val, num) == 0)
      return true;
  return false;
}

/* Check entity `e` (a customer) on replica `ri` against the ledger. */
static int check_customer(sim *s, int ri, uint32_t e) {
  carnet_replica *r = s->rep[ri].r;
  carnet_id surv, mem[GROUP_MAX];
  size_t n = 0;
  char h[CARNET_ID_HEX_LEN + 1], h2[CARNET_ID_HEX_LEN + 1];
  carnet_record *rec = NULL;
  hex(&s->ents[e].id, h);
  int rc = carnet_merge_group(r, &s->ents[e].id, &surv, mem, GROUP_MAX, &n, NULL);
  if (rc == 0) rc = carnet_record_get(r, &s->ents[e].id, &rec);
  if (rc) return sim_fail(s, "r%d: customer %s: %s", ri, h, carnet_error_name(rc));
  if (n > GROUP_MAX) n = GROUP_MAX;
  if (n == 0) mem[n++] = s->ents[e].id;
  const sim_ledger *notes = NULL;
  bool deleted = false;
  int bad = 0;
  for (size_t k = 0; k < s->nled && !bad; k++) {
    const sim_ledger *l = &s->led[k];
    if (s->ents[l->ent].erased || !in_group(mem, n, &s->ents[l->ent].id)) continue;
    switch (l->kind) {
    case SIM_L_NOTES:
      if (!notes || later(l, notes)) notes = l;
      break;
    case SIM_L_TAG:
    case SIM_L_EMAIL: {
      /* The element's latest add/remove among the group's members. */
      const sim_ledger *last = l;
      for (size_t j = 0; j < s->nled; j++) {
        const sim_ledger *m = &s->led[j];
        if (m->kind == l->kind && strcmp(m->val, l->val) == 0 && !s->ents[m->ent].erased &&
            in_group(mem, n, &s->ents[m->ent].id) && later(m, last))
          last = m;
      }
      if (last != l) break;
      carnet_field f = l->kind == SIM_L_TAG ? CARNET_F_TAGS : CARNET_F_EMAILS;
      if (has_elem(rec, f, l->val, false) != l->present)
        bad = sim_fail(s,
                       "acknowledged write lost on r%d: customer %s %s '%s' should be %s (its "
                       "latest write, stamp %" PRIx64 " by %" PRIx64 ")",
                       ri, h, l->kind == SIM_L_TAG ? "tag" : "e-mail", l->val,
                       l->present ? "present" : "absent", l->hlc, l->origin);
      break;
    }
    case SIM_L_PHONE:
      if (l->present && !phone_taken_away(s, l->val) &&
          !has_elem(rec, CARNET_F_PHONES, l->val, true)) {
        char got[512] = "";
        const char *const *el;
        size_t np = carnet_record_elems(rec, CARNET_F_PHONES, &el), o = 0;
        for (size_t i = 0; i < np && o < sizeof got - 40; i++)
          o += (size_t)snprintf(got + o, sizeof got - o, "%s%s", i ? " " : "", el[i]);
        hex(&s->ents[l->ent].id, h2);
        if (s->cfg.verbose > 1) /* every phone write, for the diagnosis */
          for (size_t j = 0; j < s->nled; j++)
            if (s->led[j].ent == l->ent || s->led[j].kind == SIM_L_PHONE)
              fprintf(stderr,
                      "  ledger ent %u kind %d %s '%s' hlc %" PRIx64 " origin %" PRIx64 "\n",
                      s->led[j].ent, s->led[j].kind, s->led[j].present ? "+" : "-", s->led[j].val,
                      s->led[j].hlc, s->led[j].origin);
        bad = sim_fail(s,
                       "acknowledged write lost on r%d: customer %s (added to %s, group of %zu%s) "
                       "phone %s added (stamp %" PRIx64 " by %" PRIx64
                       ") and never removed, but missing; it reads: %s",
                       ri, h, h2, n, carnet_record_deleted(rec) ? ", deleted" : "", l->val, l->hlc,
                       l->origin, got);
      }
      break;
    case SIM_L_CONSENT: {
      const carnet_consent_event *ev;
      size_t ne = carnet_record_consent_log(rec, &ev), i;
      for (i = 0; i < ne; i++)
        if (ev[i].channel == l->channel && ev[i].granted == l->present && ev[i].at == l->hlc &&
            ev[i].origin == l->origin)
          break;
      if (i == ne)
        bad = sim_fail(s,
                       "acknowledged write lost on r%d: customer %s consent %s of channel %d "
                       "(stamp %" PRIx64 " by %" PRIx64 ") is not in the log",
                       ri, h, l->present ? "grant" : "withdrawal", l->channel, l->hlc, l->origin);
      break;
    }
    case SIM_L_DELETE:
      if (l->ent == e) deleted = true;
      break;
    }
  }
  if (!bad && notes) {
    const char *v = carnet_record_str(rec, CARNET_F_NOTES);
    if (!v || strcmp(v, notes->val) != 0)
      bad = sim_fail(s,
                     "acknowledged write lost on r%d: customer %s (group of %zu) notes read '%s', "
                     "expected '%s' (the latest write: stamp %" PRIx64 " by %" PRIx64 ")",
                     ri, h, n, v ? v : "(none)", notes->val, notes->hlc, notes->origin);
  }
  if (!bad && n == 1 && carnet_record_deleted(rec) != deleted)
    bad = sim_fail(s, "r%d: customer %s reads %s but a delete was %sacknowledged", ri, h,
                   carnet_record_deleted(rec) ? "deleted" : "live", deleted ? "" : "never ");
  carnet_record_free(rec);
  return bad;
}

/* --- invoice numbers ------------------------------------------------------------- */

typedef struct numseen {
  const sim *s;
  int ri;
  int bad;
  sim *sm;
  size_t found;
} numseen;

static long model_find(const sim *s, const char *num) {
  for (size_t k = 0; k < s->nnums; k++)
    if (strcmp(s->nums[k].num, num) == 0) return (long)k;
  return -1;
}

static int number_cb(const carnet_record *rec, void *data) {
  numseen *ns = data;
  const char *const *el;
  size_t n = carnet_record_elems(rec, CARNET_F_NUMBER, &el);
  char h[CARNET_ID_HEX_LEN + 1];
  hex(carnet_record_id(rec), h);
  for (size_t i = 0; i < n; i++) {
    long k = model_find(ns->s, el[i]);
    if (k < 0) {
      ns->bad = sim_fail(ns->sm, "r%d: document %s has number %s that no validation gave", ns->ri,
                         h, el[i]);
      return 1;
    }
    if (memcmp(ns->s->ents[ns->s->nums[k].ent].id.b, carnet_record_id(rec)->b, 16) != 0) {
      ns->bad = sim_fail(ns->sm, "r%d: number %s is on document %s, not on the one validated",
                         ns->ri, el[i], h);
      return 1;
    }
    ns->found++;
  }
  return 0;
}

static int check_numbers(sim *s) {
  /* The model: each replica's series runs 1..n in the order given. */
  for (size_t k = 0; k < s->nnums; k++) {
    const char *num = s->nums[k].num, *dash = strrchr(num, '-');
    if (!dash) return sim_fail(s, "number %s has no counter", num);
    size_t slen = (size_t)(dash - num);
    long want = 1;
    for (size_t j = 0; j < k; j++)
      if (strncmp(s->nums[j].num, num, slen + 1) == 0) want++;
    if (strtol(dash + 1, NULL, 10) != want || s->nums[k].replica < 0)
      return sim_fail(s, "series %.*s: r%d gave %s, expected number %ld (gap or repeat)", (int)slen,
                      num, s->nums[k].replica, num, want);
    for (size_t j = 0; j < k; j++)
      if (strcmp(s->nums[j].num, num) == 0)
        return sim_fail(s, "number %s given twice (r%d and r%d)", num, s->nums[j].replica,
                        s->nums[k].replica);
  }
  /* Every replica holds exactly those numbers, each on its document. */
  for (int i = 0; i < s->n; i++) {
    numseen ns = {.s = s, .ri = i, .sm = s};
    carnet_filter all = {.include_deleted = true};
    int rc = carnet_record_list(s->rep[i].r, CARNET_KIND_DOCUMENT, &all, number_cb, &ns);
    if (ns.bad) return -1;
    if (rc) return sim_fail(s, "r%d: carnet_record_list documents: %s", i, carnet_error_name(rc));
    if (ns.found != s->nnums)
      return sim_fail(s, "r%d holds %zu invoice numbers, %zu were given", i, ns.found, s->nnums);
  }
  return 0;
}

/* 6. every replica is sound: rows, change index and index agree both ways
 * (carnet_replica_check). */
static int check_sound(sim *s) {
  for (int i = 0; i < s->n; i++) {
    carnet_check_report c = CARNET_CHECK_REPORT_INIT;
    int rc = carnet_replica_check(s->rep[i].r, NULL, NULL, &c);
    if (rc) return sim_fail(s, "r%d: carnet_replica_check: %s", i, carnet_error_name(rc));
    if (c.bad_rows + c.erased_rows + c.bad_changes + c.missing_keys + c.extra_keys + c.bad_values)
      return sim_fail(s, "r%d is not sound: %s", i, carnet_replica_errmsg(s->rep[i].r));
  }
  return 0;
}

int checks_run(sim *s) {
  char *views[SIM_MAXR] = {0};
  int bad = check_identical(s, views);
  /* The views are identical everywhere: the model is checked on r0; the
   * writes to an erased customer are dropped by design (erase.c). */
  for (size_t e = 0; !bad && e < s->nents; e++)
    if (s->ents[e].kind == SIM_CUSTOMER && !s->ents[e].erased && check_customer(s, 0, (uint32_t)e))
      bad = -1;
  if (!bad) bad = check_numbers(s);
  if (!bad) bad = checks_erasure(s, views);
  if (!bad) bad = check_sound(s);
  for (int i = 0; i < SIM_MAXR; i++)
    free(views[i]);
  return bad;
}
