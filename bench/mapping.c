/* bench/mapping.c - workload W's records as Carnet customers, and back.
 *
 *   kind     -> CARNET_F_TYPE ("company" / "individual")
 *   name     -> CARNET_F_NAME
 *   company  -> CARNET_F_COMPANY (empty: not set)
 *   email    -> one element of CARNET_F_EMAILS
 *   phone    -> a "work" phone, mobile -> a "mobile" phone (stored E.164:
 *               "+33 5 74 30 19 50" is kept as "+33574301950"; the row is
 *               rebuilt as "+33 D DD DD DD DD" from it)
 *   street, city, postcode, country -> their fields
 *   siret    -> custom string field "siret_raw" (W's random digits fail
 *               the Luhn check of CARNET_F_SIRET; empty: not set)
 *   owner    -> CARNET_F_SALES_REP
 *   tags     -> two elements of CARNET_F_TAGS
 *   notes    -> CARNET_F_NOTES
 *   id       -> the entity id (16 bytes, carnet_record_create with an explicit id)
 * Carnet adds to every new customer a reference code and the role
 * "prospect"; they are not part of W's row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

carnet_patch *bench_patch_of(const w_record *rec) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  if (p == NULL) return NULL;
  int rc = carnet_patch_set(p, CARNET_F_TYPE, rec->company ? "company" : "individual");
  rc |= carnet_patch_set(p, CARNET_F_NAME, rec->name);
  if (rec->company_name[0]) rc |= carnet_patch_set(p, CARNET_F_COMPANY, rec->company_name);
  rc |= carnet_patch_set(p, CARNET_F_EMAILS, rec->email);
  rc |= carnet_patch_phone(p, "work", rec->phone);
  rc |= carnet_patch_phone(p, "mobile", rec->mobile);
  rc |= carnet_patch_set(p, CARNET_F_STREET, rec->street);
  rc |= carnet_patch_set(p, CARNET_F_CITY, rec->city);
  rc |= carnet_patch_set(p, CARNET_F_POSTCODE, rec->postcode);
  rc |= carnet_patch_set(p, CARNET_F_COUNTRY, rec->country);
  if (rec->siret[0])
    rc |= carnet_patch_custom(p, BENCH_SIRET_FIELD, CARNET_CUSTOM_STRING, rec->siret);
  rc |= carnet_patch_set(p, CARNET_F_SALES_REP, rec->owner);
  rc |= carnet_patch_set(p, CARNET_F_TAGS, rec->tags[0]);
  rc |= carnet_patch_set(p, CARNET_F_TAGS, rec->tags[1]);
  rc |= carnet_patch_set(p, CARNET_F_NOTES, rec->notes);
  if (rc) {
    carnet_patch_free(p);
    return NULL;
  }
  return p;
}

/* "+33574301950" -> "+33 5 74 30 19 50"; anything else is kept as is (and
 * will fail the digest, as it should). */
static void phone_w(const char *e164, char out[32]) {
  size_t n = strlen(e164);
  bool digits = n == 12 && strncmp(e164, "+33", 3) == 0;
  for (size_t i = 1; digits && i < n; i++)
    digits = e164[i] >= '0' && e164[i] <= '9';
  if (!digits) {
    snprintf(out, 32, "%s", e164);
    return;
  }
  const char *d = e164 + 3;
  snprintf(out, 32, "+33 %c %.2s %.2s %.2s %.2s", d[0], d + 1, d + 3, d + 5, d + 7);
}

static const char *str_or_empty(const carnet_record *rec, carnet_field f) {
  const char *s = carnet_record_str(rec, f);
  return s ? s : "";
}

size_t bench_row_of(const carnet_record *rec, char out[W_ROW_MAX]) {
  char hex[CARNET_ID_HEX_LEN + 1], phone[32] = "", mobile[32] = "", tags[160] = "";
  const char *const *el;
  const char *email = "", *siret = "";
  carnet_id_format(carnet_record_id(rec), hex);
  size_t ne = carnet_record_elems(rec, CARNET_F_EMAILS, &el);
  if (ne > 0) email = el[0];
  size_t np = carnet_record_elems(rec, CARNET_F_PHONES, &el);
  for (size_t i = 0; i < np; i++) {
    if (strncmp(el[i], "work:", 5) == 0 && !phone[0]) phone_w(el[i] + 5, phone);
    if (strncmp(el[i], "mobile:", 7) == 0 && !mobile[0]) phone_w(el[i] + 7, mobile);
  }
  size_t nt = carnet_record_elems(rec, CARNET_F_TAGS, &el);
  size_t tl = 0;
  for (size_t i = 0; i < nt && tl < sizeof tags - 1; i++)
    tl += (size_t)snprintf(tags + tl, sizeof tags - tl, "%s%s", i ? ";" : "", el[i]);
  const carnet_custom *cu;
  size_t nc = carnet_record_customs(rec, &cu);
  for (size_t i = 0; i < nc; i++)
    if (strcmp(cu[i].name, BENCH_SIRET_FIELD) == 0) siret = cu[i].value;
  int n = snprintf(out, W_ROW_MAX, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s", hex,
                   str_or_empty(rec, CARNET_F_TYPE), str_or_empty(rec, CARNET_F_NAME),
                   str_or_empty(rec, CARNET_F_COMPANY), email, phone, mobile,
                   str_or_empty(rec, CARNET_F_STREET), str_or_empty(rec, CARNET_F_CITY),
                   str_or_empty(rec, CARNET_F_POSTCODE), str_or_empty(rec, CARNET_F_COUNTRY), siret,
                   str_or_empty(rec, CARNET_F_SALES_REP), tags, str_or_empty(rec, CARNET_F_NOTES));
  if (n < 0) return 0;
  return (size_t)n < W_ROW_MAX ? (size_t)n : W_ROW_MAX - 1;
}

/* --- expected state -------------------------------------------------------- */

int bench_expect_init(bench_expect *e, const w_index *ix, const w_update *w2a, const w_update *w2b,
                      uint32_t m) {
  memset(e, 0, sizeof *e);
  e->ix = ix;
  e->w2a = w2a;
  e->w2b = w2b;
  e->m = m;
  if (w2a || w2b) {
    e->ov = malloc((size_t)ix->n * sizeof *e->ov + 1);
    if (e->ov == NULL) return -1;
    memset(e->ov, 0xff, (size_t)ix->n * sizeof *e->ov);
    for (uint32_t k = 0; k < m; k++) {
      if (w2a) e->ov[w2a[k].idx] = (int32_t)k;
      if (w2b) e->ov[w2b[k].idx] = (int32_t)(m + k);
    }
  }
  return 0;
}

void bench_expect_free(bench_expect *e) {
  free(e->ov);
  free(e->w3mark);
  e->ov = NULL;
  e->w3mark = NULL;
}

static void copy_str(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static size_t expected_row(const bench_expect *e, uint32_t i, char out[W_ROW_MAX],
                           const char *notes) {
  w_record rec;
  w_index_record(e->ix, i, &rec);
  if (e->ov && e->ov[i] >= 0) {
    uint32_t k = (uint32_t)e->ov[i];
    if (k < e->m)
      copy_str(rec.phone, sizeof rec.phone, e->w2a[k].va);
    else
      copy_str(rec.street, sizeof rec.street, e->w2b[k - e->m].va);
  }
  if (notes) copy_str(rec.notes, sizeof rec.notes, notes);
  return w_record_row(&rec, out);
}

typedef struct check_ctx {
  const bench_expect *e;
  w_digest d;
  bench_check *out;
} check_ctx;

static int check_cb(const carnet_record *rec, void *data) {
  check_ctx *c = data;
  char row[W_ROW_MAX], want[W_ROW_MAX];
  size_t n = bench_row_of(rec, row);
  w_digest_row(&c->d, row, n);
  c->out->rows++;
  if (c->e == NULL) return 0;
  int64_t i = w_index_find(c->e->ix, carnet_record_id(rec)->b);
  bool same;
  if (i < 0) {
    snprintf(want, sizeof want, "(no such record in W)");
    same = false;
  } else {
    expected_row(c->e, (uint32_t)i, want,
                 c->e->w3mark && c->e->w3mark[i] ? str_or_empty(rec, CARNET_F_NOTES) : NULL);
    same = strcmp(row, want) == 0;
  }
  if (!same && c->out->mismatch++ == 0)
    snprintf(c->out->first_bad, sizeof c->out->first_bad, "stored:   %s\nexpected: %s", row, want);
  return 0;
}

int bench_replica_check(carnet_replica *r, const bench_expect *e, bench_check *out) {
  check_ctx c = {.e = e, .out = out};
  memset(out, 0, sizeof *out);
  w_digest_init(&c.d);
  int rc = carnet_record_list(r, CARNET_KIND_CUSTOMER, NULL, check_cb, &c);
  w_digest_final(&c.d, out->digest);
  if (rc == 0 && e && out->rows != e->ix->n) {
    out->mismatch += out->rows > e->ix->n ? out->rows - e->ix->n : e->ix->n - out->rows;
    if (!out->first_bad[0])
      snprintf(out->first_bad, sizeof out->first_bad, "%llu customers, expected %u",
               (unsigned long long)out->rows, e->ix->n);
  }
  return rc;
}

int bench_dir_check(const char *dir, const bench_expect *e, bench_check *out,
                    uint8_t state_digest[32]) {
  carnet_replica *r;
  char why[512];
  int rc = carnet_replica_open(dir, NULL, &r, why, sizeof why);
  if (rc) bench_die("cannot open %s: %s", dir, why);
  rc = bench_replica_check(r, e, out);
  if (rc == 0 && state_digest) rc = carnet_replica_get_digest(r, state_digest);
  carnet_replica_close(r);
  return rc;
}

/* --- W1 creation ------------------------------------------------------------ */

/* batch 0: a bulk writer (carnet_bulk, carnet/replica.h) groups the records
 * into transactions by size or time. `own_ids`: Carnet makes each id (time
 * ordered) instead of taking W's (random). */
static double create_bulk(carnet_replica *r, uint32_t n, bool own_ids, double *commit_ms) {
  enum { CHUNK = 1000 };
  w_rng rng = w_stream(W_STREAM_W1);
  w_record *recs = malloc(CHUNK * sizeof *recs);
  double spent = 0, committing = 0;
  carnet_bulk *bk = NULL;
  int rc = recs ? carnet_bulk_new(r, &bk) : CARNET_ENOMEM;
  for (uint32_t done = 0; done < n && rc == 0;) {
    uint32_t k = n - done < CHUNK ? n - done : CHUNK;
    for (uint32_t i = 0; i < k; i++)
      w_record_next(&rng, &recs[i]); /* not timed */
    double t0 = bench_now_ms();
    for (uint32_t i = 0; i < k && rc == 0; i++) {
      carnet_patch *p = bench_patch_of(&recs[i]);
      carnet_txn *t;
      carnet_id id;
      bool committed;
      memcpy(id.b, recs[i].id, 16);
      if ((rc = carnet_bulk_txn(bk, &t)) == 0)
        rc = p ? carnet_record_create(t, p, own_ids ? NULL : &id, NULL) : CARNET_ENOMEM;
      carnet_patch_free(p);
      double c0 = bench_now_ms();
      if (rc == 0) rc = carnet_bulk_step(bk, 0, &committed);
      if (rc == 0 && committed) committing += bench_now_ms() - c0;
      if (rc)
        fprintf(stderr, "carnet-bench: creating %s: %s: %s\n", recs[i].idhex,
                carnet_error_message(rc), carnet_replica_errmsg(r));
    }
    spent += bench_now_ms() - t0;
    done += k;
  }
  double c0 = bench_now_ms();
  if (rc == 0) {
    rc = carnet_bulk_end(bk);
  } else {
    carnet_bulk_abort(bk);
  }
  double c1 = bench_now_ms();
  spent += c1 - c0;
  committing += c1 - c0;
  free(recs);
  if (commit_ms) *commit_ms = committing;
  return rc ? -1 : spent;
}

double bench_create_w1(carnet_replica *r, uint32_t n, uint32_t batch, bool own_ids,
                       double *commit_ms) {
  w_rng rng = w_stream(W_STREAM_W1);
  if (batch == 0) return create_bulk(r, n, own_ids, commit_ms);
  w_record *recs = malloc((size_t)batch * sizeof *recs);
  double spent = 0, committing = 0;
  if (recs == NULL) return -1;
  for (uint32_t done = 0; done < n;) {
    uint32_t k = n - done < batch ? n - done : batch;
    for (uint32_t i = 0; i < k; i++)
      w_record_next(&rng, &recs[i]); /* not timed */
    double t0 = bench_now_ms();
    carnet_txn *t;
    int rc = carnet_txn_begin(r, &t);
    for (uint32_t i = 0; i < k && rc == 0; i++) {
      carnet_patch *p = bench_patch_of(&recs[i]);
      carnet_id id;
      memcpy(id.b, recs[i].id, 16);
      rc = p ? carnet_record_create(t, p, own_ids ? NULL : &id, NULL) : CARNET_ENOMEM;
      carnet_patch_free(p);
      if (rc)
        fprintf(stderr, "carnet-bench: creating %s: %s: %s\n", recs[i].idhex,
                carnet_error_message(rc), carnet_replica_errmsg(r));
    }
    double t1 = bench_now_ms();
    if (rc == 0)
      rc = carnet_txn_commit(t);
    else
      carnet_txn_abort(t);
    double t2 = bench_now_ms();
    spent += t2 - t0;
    committing += t2 - t1;
    if (rc) {
      free(recs);
      return -1;
    }
    done += k;
  }
  free(recs);
  if (commit_ms) *commit_ms = committing;
  return spent;
}
