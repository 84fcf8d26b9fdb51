/* bench/workload.c - workload W, exactly as ../shared/WORKLOAD.md says. */
#include "bench/workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char W_CSV_HEADER[] =
    "id,kind,name,company,email,phone,mobile,street,city,postcode,country,siret,owner,tags,notes";

/* --- vocabularies (order matters) ---------------------------------------- */

#define COUNT(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static const char *const FIRST[] = {
    "Alice",    "Bernard", "Camille", "David",    "Emma",   "Francois", "Gabriel", "Helene",
    "Isabelle", "Jules",   "Karim",   "Louise",   "Manon",  "Nicolas",  "Olivier", "Pauline",
    "Quentin",  "Raphael", "Sophie",  "Thomas",   "Ursula", "Victor",   "William", "Xavier",
    "Yasmine",  "Zoe",     "Antoine", "Brigitte", "Claire", "Denis",    "Elodie",  "Fabien"};
static const char *const LAST[] = {
    "Martin",   "Bernard", "Dubois",  "Thomas",   "Robert",   "Richard", "Petit",   "Durand",
    "Leroy",    "Moreau",  "Simon",   "Laurent",  "Lefebvre", "Michel",  "Garcia",  "David",
    "Bertrand", "Roux",    "Vincent", "Fournier", "Morel",    "Girard",  "Andre",   "Mercier",
    "Dupont",   "Lambert", "Bonnet",  "Francois", "Martinez", "Legrand", "Garnier", "Faure"};
static const char *const COMPANY_SUFFIX[] = {"SARL",       "SAS",      "SA",    "Conseil",
                                             "Industries", "Services", "Group", "Solutions"};
static const char *const DOMAINS[] = {"example.com", "example.org", "example.net", "mail.test",
                                      "corp.test",   "acme.test",   "post.test",   "inbox.test"};
static const char *const STREET_TYPES[] = {"rue",    "avenue", "boulevard", "place",
                                           "chemin", "allee",  "impasse",   "quai"};
static const char *const STREET_NAMES[] = {
    "des Lilas",    "Victor Hugo", "de la Paix", "Jean Jaures", "du Moulin",        "de la Gare",
    "Pasteur",      "des Ecoles",  "du Chateau", "de Verdun",   "de la Republique", "du Port",
    "des Tilleuls", "Gambetta",    "de Paris",   "du Marche"};
static const char *const CITIES[] = {
    "Paris",      "Lyon",        "Marseille", "Toulouse", "Nice",      "Nantes",
    "Strasbourg", "Montpellier", "Bordeaux",  "Lille",    "Rennes",    "Reims",
    "Grenoble",   "Dijon",       "Angers",    "Brest",    "Bruxelles", "Geneve",
    "Luxembourg", "Liege",       "Lausanne",  "Namur",    "Tours",     "Caen"};
static const char *const COUNTRIES[] = {"FR", "FR", "FR", "FR", "FR", "BE", "CH", "LU", "DE", "ES"};
static const char *const TAGS[] = {
    "prospect", "client",     "vip",        "partner",  "supplier", "newsletter", "b2b",   "b2c",
    "lead",     "churn-risk", "event-2024", "referral", "inactive", "priority",   "north", "south"};
static const char *const WORDS[] = {
    "call",     "back",     "next",     "week",       "about", "the",      "renewal",
    "of",       "contract", "sent",     "quote",      "for",   "new",      "order",
    "meeting",  "planned",  "with",     "purchasing", "team",  "prefers",  "email",
    "over",     "phone",    "invoice",  "paid",       "late",  "again",    "interested",
    "in",       "premium",  "plan",     "asked",      "demo",  "visit",    "at",
    "trade",    "show",     "follow",   "up",         "after", "summer",   "budget",
    "approved", "pending",  "legal",    "review",     "key",   "account",  "moved",
    "to",       "office",   "discount", "requested",  "on",    "volume",   "needs",
    "training", "support",  "ticket",   "closed",     "happy", "customer", "since",
    "years"};

_Static_assert(COUNT(FIRST) == 32 && COUNT(LAST) == 32 && COUNT(COMPANY_SUFFIX) == 8 &&
                   COUNT(DOMAINS) == 8 && COUNT(STREET_TYPES) == 8 && COUNT(STREET_NAMES) == 16 &&
                   COUNT(CITIES) == 24 && COUNT(COUNTRIES) == 10 && COUNT(TAGS) == 16 &&
                   COUNT(WORDS) == 64,
               "vocabulary sizes of WORKLOAD.md section 3");

/* --- PRNG ---------------------------------------------------------------- */

uint32_t w_next_u32(w_rng *r) {
  uint32_t z = (r->s += 0x6D2B79F5u);
  z = (z ^ (z >> 15)) * (z | 1u);
  z ^= z + (z ^ (z >> 7)) * (z | 61u);
  return z ^ (z >> 14);
}

uint32_t w_randint(w_rng *r, uint32_t n) {
  return (uint32_t)(((uint64_t)w_next_u32(r) * n) >> 32);
}

w_rng w_stream(unsigned k) {
  w_rng r = {W_BASE_SEED + (uint32_t)k};
  return r;
}

#define PICK(r, list) ((list)[w_randint((r), COUNT(list))])

/* --- helpers ------------------------------------------------------------- */

void w_phone(w_rng *r, bool mobile, char out[24]) {
  uint32_t lead = mobile ? 6 + w_randint(r, 2) : 1 + w_randint(r, 5);
  uint32_t p[4];
  for (int i = 0; i < 4; i++)
    p[i] = w_randint(r, 100);
  snprintf(out, 24, "+33 %u %02u %02u %02u %02u", lead, p[0], p[1], p[2], p[3]);
}

void w_street(w_rng *r, char out[48]) {
  uint32_t num = 1 + w_randint(r, 200);
  const char *type = PICK(r, STREET_TYPES);
  const char *name = PICK(r, STREET_NAMES);
  snprintf(out, 48, "%u %s %s", num, type, name);
}

void w_notes(w_rng *r, char out[128]) {
  size_t len = 0;
  out[0] = '\0';
  while (len < 80) {
    const char *w = PICK(r, WORDS);
    if (len > 0) out[len++] = ' ';
    size_t wl = strlen(w);
    memcpy(out + len, w, wl);
    len += wl;
  }
  if (len > 79) len = 79;
  if (out[len - 1] == ' ') len--;
  out[len++] = '.';
  out[len] = '\0';
}

static void lower_into(char *dst, const char *src) {
  for (; *src; src++)
    *dst++ = (*src >= 'A' && *src <= 'Z') ? (char)(*src - 'A' + 'a') : *src;
  *dst = '\0';
}

void w_record_next(w_rng *r, w_record *rec) {
  uint32_t idw[4];
  for (int i = 0; i < 4; i++) {
    idw[i] = w_next_u32(r);
    rec->id[4 * i] = (uint8_t)(idw[i] >> 24);
    rec->id[4 * i + 1] = (uint8_t)(idw[i] >> 16);
    rec->id[4 * i + 2] = (uint8_t)(idw[i] >> 8);
    rec->id[4 * i + 3] = (uint8_t)idw[i];
  }
  snprintf(rec->idhex, sizeof rec->idhex, "%08x%08x%08x%08x", idw[0], idw[1], idw[2], idw[3]);
  rec->company = w_randint(r, 100) < 35;
  const char *first = PICK(r, FIRST), *last = PICK(r, LAST);
  snprintf(rec->name, sizeof rec->name, "%s %s", first, last);
  if (rec->company) {
    const char *cl = PICK(r, LAST);
    const char *suffix = PICK(r, COMPANY_SUFFIX);
    snprintf(rec->company_name, sizeof rec->company_name, "%s %s", cl, suffix);
  } else {
    rec->company_name[0] = '\0';
  }
  char lf[16], ll[16];
  lower_into(lf, first);
  lower_into(ll, last);
  uint32_t num = w_randint(r, 1000);
  const char *domain = PICK(r, DOMAINS);
  snprintf(rec->email, sizeof rec->email, "%s.%s%u@%s", lf, ll, num, domain);
  w_phone(r, false, rec->phone);
  w_phone(r, true, rec->mobile);
  w_street(r, rec->street);
  snprintf(rec->city, sizeof rec->city, "%s", PICK(r, CITIES));
  snprintf(rec->postcode, sizeof rec->postcode, "%05u", w_randint(r, 100000));
  snprintf(rec->country, sizeof rec->country, "%s", PICK(r, COUNTRIES));
  if (rec->company) {
    uint32_t a = w_randint(r, 10000000);
    uint32_t b = w_randint(r, 10000000);
    snprintf(rec->siret, sizeof rec->siret, "%07u%07u", a, b);
  } else {
    rec->siret[0] = '\0';
  }
  snprintf(rec->owner, sizeof rec->owner, "user%02u", 1 + w_randint(r, 20));
  uint32_t t1 = w_randint(r, 16), t2 = w_randint(r, 15);
  if (t2 >= t1) t2++;
  const char *a = TAGS[t1], *b = TAGS[t2];
  if (strcmp(a, b) > 0) {
    const char *x = a;
    a = b;
    b = x;
  }
  rec->tags[0] = a;
  rec->tags[1] = b;
  w_notes(r, rec->notes);
}

size_t w_record_row(const w_record *rec, char out[W_ROW_MAX]) {
  int n = snprintf(out, W_ROW_MAX, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s;%s,%s", rec->idhex,
                   rec->company ? "company" : "individual", rec->name, rec->company_name,
                   rec->email, rec->phone, rec->mobile, rec->street, rec->city, rec->postcode,
                   rec->country, rec->siret, rec->owner, rec->tags[0], rec->tags[1], rec->notes);
  if (n < 0) return 0;
  return (size_t)n < W_ROW_MAX ? (size_t)n : W_ROW_MAX - 1;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool w_hex16(const char *hex, uint8_t out[16]) {
  for (int i = 0; i < 16; i++) {
    int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return hex[32] == '\0';
}

void w_hex(const uint8_t *b, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * n] = '\0';
}

/* --- updates ------------------------------------------------------------- */

int w_taken_init(w_taken *t, uint32_t n) {
  t->n = n;
  t->bits = calloc((size_t)n / 8 + 1, 1);
  return t->bits ? 0 : -1;
}

void w_taken_free(w_taken *t) {
  free(t->bits);
  t->bits = NULL;
}

uint32_t w_distinct(w_rng *r, w_taken *t) {
  for (;;) {
    uint32_t idx = w_randint(r, t->n);
    if (!(t->bits[idx >> 3] & (1u << (idx & 7)))) {
      t->bits[idx >> 3] |= (uint8_t)(1u << (idx & 7));
      return idx;
    }
  }
}

int w_gen_w2(uint32_t n, uint32_t m, w_update *a, w_update *b) {
  w_taken t;
  if (n <= 2 * m || w_taken_init(&t, n) != 0) return -1;
  w_rng ra = w_stream(W_STREAM_W2A), rb = w_stream(W_STREAM_W2B);
  for (uint32_t k = 0; k < m; k++) {
    a[k].idx = w_distinct(&ra, &t);
    w_phone(&ra, false, a[k].va);
    a[k].vb[0] = '\0';
  }
  for (uint32_t k = 0; k < m; k++) {
    b[k].idx = w_distinct(&rb, &t);
    w_street(&rb, b[k].va);
    b[k].vb[0] = '\0';
  }
  w_taken_free(&t);
  return 0;
}

int w_gen_w3(uint32_t n, uint32_t m, w_update *u) {
  w_taken t;
  if (m > n || w_taken_init(&t, n) != 0) return -1;
  w_rng r = w_stream(W_STREAM_W3);
  for (uint32_t k = 0; k < m; k++) {
    u[k].idx = w_distinct(&r, &t);
    w_notes(&r, u[k].va);
    w_notes(&r, u[k].vb);
  }
  w_taken_free(&t);
  return 0;
}

/* --- index --------------------------------------------------------------- */

static int entry_cmp(const void *a, const void *b) {
  return memcmp(((const w_entry *)a)->id, ((const w_entry *)b)->id, 16);
}

int w_index_build(w_index *ix, uint32_t n) {
  memset(ix, 0, sizeof *ix);
  ix->n = n;
  ix->state = malloc((size_t)n * sizeof *ix->state + 1);
  ix->by_gen = malloc((size_t)n * sizeof *ix->by_gen + 1);
  ix->by_id = malloc((size_t)n * sizeof *ix->by_id + 1);
  if (!ix->state || !ix->by_gen || !ix->by_id) {
    w_index_free(ix);
    return -1;
  }
  w_rng r = w_stream(W_STREAM_W1);
  w_record rec;
  for (uint32_t i = 0; i < n; i++) {
    ix->state[i] = r.s;
    w_record_next(&r, &rec);
    memcpy(ix->by_gen[i].id, rec.id, 16);
    ix->by_gen[i].idx = i;
  }
  memcpy(ix->by_id, ix->by_gen, (size_t)n * sizeof *ix->by_id);
  qsort(ix->by_id, n, sizeof *ix->by_id, entry_cmp);
  return 0;
}

void w_index_free(w_index *ix) {
  free(ix->state);
  free(ix->by_gen);
  free(ix->by_id);
  memset(ix, 0, sizeof *ix);
}

void w_index_record(const w_index *ix, uint32_t i, w_record *rec) {
  w_rng r = {ix->state[i]};
  w_record_next(&r, rec);
}

int64_t w_index_find(const w_index *ix, const uint8_t id[16]) {
  size_t lo = 0, hi = ix->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = memcmp(ix->by_id[mid].id, id, 16);
    if (c == 0) return ix->by_id[mid].idx;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

/* --- digests ------------------------------------------------------------- */

void w_digest_init(w_digest *d) {
  crypto_hash_sha256_init(&d->st);
  crypto_hash_sha256_update(&d->st, (const unsigned char *)W_CSV_HEADER, sizeof W_CSV_HEADER - 1);
  crypto_hash_sha256_update(&d->st, (const unsigned char *)"\n", 1);
  d->rows = 0;
  d->bytes = sizeof W_CSV_HEADER;
}

void w_digest_row(w_digest *d, const char *row, size_t len) {
  crypto_hash_sha256_update(&d->st, (const unsigned char *)row, len);
  crypto_hash_sha256_update(&d->st, (const unsigned char *)"\n", 1);
  d->rows++;
  d->bytes += len + 1;
}

void w_digest_final(w_digest *d, uint8_t out[32]) {
  crypto_hash_sha256_final(&d->st, out);
}

static void copy_str(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

int w_expected_digest(const w_index *ix, const w_update *w2a, const w_update *w2b, uint32_t m,
                      uint8_t out[32]) {
  int32_t *ov = NULL; /* record index -> update k (A: k, B: m + k), -1 none */
  if (w2a || w2b) {
    ov = malloc((size_t)ix->n * sizeof *ov + 1);
    if (ov == NULL) return -1;
    memset(ov, 0xff, (size_t)ix->n * sizeof *ov);
    for (uint32_t k = 0; k < m; k++) {
      if (w2a) ov[w2a[k].idx] = (int32_t)k;
      if (w2b) ov[w2b[k].idx] = (int32_t)(m + k);
    }
  }
  w_digest d;
  w_digest_init(&d);
  w_record rec;
  char row[W_ROW_MAX];
  for (uint32_t j = 0; j < ix->n; j++) {
    uint32_t i = ix->by_id[j].idx;
    w_index_record(ix, i, &rec);
    if (ov && ov[i] >= 0) {
      uint32_t k = (uint32_t)ov[i];
      if (k < m)
        copy_str(rec.phone, sizeof rec.phone, w2a[k].va);
      else
        copy_str(rec.street, sizeof rec.street, w2b[k - m].va);
    }
    w_digest_row(&d, row, w_record_row(&rec, row));
  }
  w_digest_final(&d, out);
  free(ov);
  return 0;
}

int w_csv_sha256(uint32_t n, uint8_t out[32], uint64_t *bytes) {
  w_digest d;
  w_rng r = w_stream(W_STREAM_W1);
  w_record rec;
  char row[W_ROW_MAX];
  w_digest_init(&d);
  for (uint32_t i = 0; i < n; i++) {
    w_record_next(&r, &rec);
    w_digest_row(&d, row, w_record_row(&rec, row));
  }
  w_digest_final(&d, out);
  if (bytes) *bytes = d.bytes;
  return 0;
}
