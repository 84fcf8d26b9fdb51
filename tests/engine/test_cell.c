/* tests/engine/test_cell.c - the laws of cell merging (invariants C1, C2 of
 * engine/model/cell.h) and of consent decisions (engine/crm/consent.h).
 *
 * Convergence of the whole engine rests on carnet__cell_merge being a max
 * under a total order: commutative, associative, idempotent. These tests
 * check the laws over many random versions of one cell, chosen from small
 * pools so that equal stamps with different values happen often.
 *
 * Run with --seed=N to replay one run; the seed is printed on failure.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/crm/consent.h"
#include "engine/model/cell.h"
#include "support/testenv.h"

static uint64_t g_seed = 20240301;

/* On failure: the seed, the condition, the line and a formatted detail. */
static void check_failed(int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void check_failed(int line, const char *cond, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  print_message("[seed %" PRIu64 "] line %d: check failed: %s (replay with --seed=%" PRIu64 ")\n",
                g_seed, line, cond, g_seed);
  fail_msg("%s", msg);
}

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) check_failed(__LINE__, #cond, __VA_ARGS__);                                       \
  } while (0)

static int sign(int x) {
  return (x > 0) - (x < 0);
}

/* --- Random versions of one cell -------------------------------------------- */

/* Values are msgpack objects: short fixstr, true, false, small fixint. */
typedef struct vbytes {
  uint8_t b[8];
  uint32_t len;
} vbytes;

static vbytes g_vals[32];
static size_t g_nvals;

static void add_val(const uint8_t *b, uint32_t len) {
  memcpy(g_vals[g_nvals].b, b, len);
  g_vals[g_nvals].len = len;
  g_nvals++;
}

static void init_vals(void) {
  if (g_nvals) return;
  static const char *strs[] = {"", "a", "b", "ab", "ba", "abc", "abd", "bb"};
  for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
    uint8_t b[8];
    size_t n = strlen(strs[i]);
    b[0] = (uint8_t)(0xa0 | n);
    memcpy(b + 1, strs[i], n);
    add_val(b, (uint32_t)(n + 1));
  }
  add_val((const uint8_t[]){0xc3}, 1); /* true */
  add_val((const uint8_t[]){0xc2}, 1); /* false */
  for (uint8_t k = 0; k < 4; k++)
    add_val((const uint8_t[]){k}, 1);              /* positive fixint */
  add_val((const uint8_t[]){0xcd, 0x01, 0x00}, 3); /* uint16 256 */
  add_val((const uint8_t[]){0xcd, 0x00, 0xff}, 3); /* uint16 255 */
}

static const uint8_t g_key[] = {'v', 'i', 'p'};

static void rand_cell(trng *g, carnet__cell *c) {
  memset(c, 0, sizeof *c);
  c->field = 13;
  c->key = g_key;
  c->klen = sizeof g_key;
  /* Two milliseconds x two counters x three origins: many exact ties. */
  uint64_t ms = 1700000000000ull + trng_below(g, 2);
  c->hlc = (ms << 16) | trng_below(g, 2);
  c->origin = 1 + trng_below(g, 3);
  if (trng_chance(g, 5))
    c->origin = UINT64_MAX - trng_below(g, 2); /* high bit set: unsigned compare */
  const vbytes *v = &g_vals[trng_below(g, (uint32_t)g_nvals)];
  c->val = v->b;
  c->vlen = v->len;
  c->seq = trng_next(g); /* local, never part of the version */
}

static bool same_version(const carnet__cell *a, const carnet__cell *b) {
  return a->hlc == b->hlc && a->origin == b->origin && a->vlen == b->vlen &&
         memcmp(a->val, b->val, a->vlen) == 0;
}

static void describe(const carnet__cell *c, char *out, size_t n) {
  int k = snprintf(out, n, "{hlc=%016" PRIx64 " origin=%" PRIu64 " val=", c->hlc, c->origin);
  for (uint32_t i = 0; i < c->vlen && k > 0 && (size_t)k + 3 < n; i++)
    k += snprintf(out + k, n - (size_t)k, "%02x", c->val[i]);
  if (k > 0 && (size_t)k + 2 < n) snprintf(out + k, n - (size_t)k, "}");
}

/* --- Version order -------------------------------------------------------- */

/* The order of invariant C1 is (hlc, origin, value bytes). Where the header
 * pins it down (stamps; equal-length values compare as bytes) we check it
 * exactly; for values of different lengths on an exact stamp tie only the
 * laws of a total order are required. */
static void test_version_order_matches_c1(void **state) {
  (void)state;
  trng g;
  trng_seed(&g, g_seed);
  init_vals();
  for (int i = 0; i < 20000; i++) {
    carnet__cell a, b;
    rand_cell(&g, &a);
    rand_cell(&g, &b);
    int c = sign(carnet__cell_version_cmp(&a, &b));
    int r = sign(carnet__cell_version_cmp(&b, &a));
    char da[96], db[96];
    describe(&a, da, sizeof da);
    describe(&b, db, sizeof db);
    CHECK(c == -r, "version_cmp not antisymmetric: %s vs %s", da, db);
    if (a.hlc != b.hlc) {
      CHECK(c == (a.hlc < b.hlc ? -1 : 1), "hlc must order first: %s vs %s", da, db);
    } else if (a.origin != b.origin) {
      CHECK(c == (a.origin < b.origin ? -1 : 1), "origin must order second: %s vs %s", da, db);
    } else if (a.vlen == b.vlen) {
      CHECK(c == sign(memcmp(a.val, b.val, a.vlen)), "value bytes order third: %s vs %s", da, db);
    } else {
      CHECK(c != 0, "different values must not compare equal: %s vs %s", da, db);
    }
    /* seq is local bookkeeping, never part of the version. */
    carnet__cell a2 = a;
    a2.seq = ~a.seq;
    CHECK(carnet__cell_version_cmp(&a, &a2) == 0, "seq changed the version order: %s", da);
  }
}

static void test_version_order_transitive(void **state) {
  (void)state;
  trng g;
  trng_seed(&g, g_seed + 1);
  init_vals();
  for (int i = 0; i < 20000; i++) {
    carnet__cell a, b, c;
    rand_cell(&g, &a);
    rand_cell(&g, &b);
    rand_cell(&g, &c);
    int ab = carnet__cell_version_cmp(&a, &b);
    int bc = carnet__cell_version_cmp(&b, &c);
    int ac = carnet__cell_version_cmp(&a, &c);
    if (ab <= 0 && bc <= 0) CHECK(ac <= 0, "version order not transitive at iteration %d", i);
    if (ab == 0 && bc == 0) CHECK(ac == 0, "version equality not transitive at iteration %d", i);
  }
}

/* --- Merge laws ------------------------------------------------------------- */

static void test_merge_commutative(void **state) {
  (void)state;
  trng g;
  trng_seed(&g, g_seed + 2);
  init_vals();
  for (int i = 0; i < 50000; i++) {
    carnet__cell a, b;
    rand_cell(&g, &a);
    rand_cell(&g, &b);
    const carnet__cell *ab = carnet__cell_merge(&a, &b);
    const carnet__cell *ba = carnet__cell_merge(&b, &a);
    char da[96], db[96];
    describe(&a, da, sizeof da);
    describe(&b, db, sizeof db);
    CHECK(ab == &a || ab == &b, "merge returned neither argument");
    CHECK(ba == &a || ba == &b, "merge returned neither argument");
    CHECK(same_version(ab, ba), "merge not commutative: %s vs %s", da, db);
    /* The winner is a maximum. */
    CHECK(carnet__cell_version_cmp(ab, &a) >= 0 && carnet__cell_version_cmp(ab, &b) >= 0,
          "merge did not pick the greater version: %s vs %s", da, db);
    if (same_version(&a, &b))
      CHECK(ab == &a && ba == &b, "equal versions must return the first argument");
  }
}

static void test_merge_associative(void **state) {
  (void)state;
  trng g;
  trng_seed(&g, g_seed + 3);
  init_vals();
  for (int i = 0; i < 50000; i++) {
    carnet__cell a, b, c;
    rand_cell(&g, &a);
    rand_cell(&g, &b);
    rand_cell(&g, &c);
    const carnet__cell *l = carnet__cell_merge(carnet__cell_merge(&a, &b), &c);
    const carnet__cell *r = carnet__cell_merge(&a, carnet__cell_merge(&b, &c));
    char da[96], db[96], dc[96];
    describe(&a, da, sizeof da);
    describe(&b, db, sizeof db);
    describe(&c, dc, sizeof dc);
    CHECK(same_version(l, r), "merge not associative: %s %s %s", da, db, dc);
  }
}

static void test_merge_idempotent(void **state) {
  (void)state;
  trng g;
  trng_seed(&g, g_seed + 4);
  init_vals();
  for (int i = 0; i < 20000; i++) {
    carnet__cell a, b;
    rand_cell(&g, &a);
    rand_cell(&g, &b);
    CHECK(carnet__cell_merge(&a, &a) == &a, "merge(a, a) != a");
    /* A copy of a (different storage, same version) is the same version. */
    carnet__cell a2 = a;
    uint8_t vcopy[8];
    memcpy(vcopy, a.val, a.vlen);
    a2.val = vcopy;
    a2.seq = a.seq + 1;
    CHECK(same_version(carnet__cell_merge(&a, &a2), &a), "merge(a, copy of a) changed it");
    /* merge(merge(a, b), b) == merge(a, b): re-delivery changes nothing. */
    const carnet__cell *m = carnet__cell_merge(&a, &b);
    CHECK(same_version(carnet__cell_merge(m, &b), m), "merge not idempotent on re-delivery");
    CHECK(same_version(carnet__cell_merge(m, &a), m), "merge not idempotent on re-delivery");
  }
}

/* Folding the same versions in any order and with duplicates gives one
 * winner: what a replica sees after any delivery schedule. */
static void test_merge_fold_any_order(void **state) {
  (void)state;
  trng g;
  trng_seed(&g, g_seed + 5);
  init_vals();
  for (int round = 0; round < 2000; round++) {
    carnet__cell cells[10];
    size_t n = 2 + trng_below(&g, 8);
    for (size_t i = 0; i < n; i++)
      rand_cell(&g, &cells[i]);
    const carnet__cell *first = NULL;
    for (int perm = 0; perm < 6; perm++) {
      size_t order[20];
      size_t m = 0;
      for (size_t i = 0; i < n; i++) {
        order[m++] = i;
        if (trng_chance(&g, 30)) order[m++] = i; /* duplicate delivery */
      }
      trng_shuffle(&g, order, m, sizeof order[0]);
      const carnet__cell *acc = &cells[order[0]];
      for (size_t k = 1; k < m; k++)
        acc = carnet__cell_merge(acc, &cells[order[k]]);
      if (!first) first = acc;
      CHECK(same_version(first, acc), "fold result depends on delivery order (round %d)", round);
    }
    for (size_t i = 0; i < n; i++)
      CHECK(carnet__cell_version_cmp(first, &cells[i]) >= 0, "fold result is not the maximum");
  }
}

/* --- Set elements (invariant C2) ----------------------------------------- */

static void test_set_add_wins_exact_tie(void **state) {
  (void)state;
  static const uint8_t t = 0xc3, f = 0xc2;
  carnet__cell add = {.field = 15,
                      .klen = 3,
                      .vlen = 1,
                      .key = g_key,
                      .val = &t,
                      .hlc = (1700000000000ull << 16) | 7,
                      .origin = 42};
  carnet__cell rem = add;
  rem.val = &f;
  assert_ptr_equal(carnet__cell_merge(&add, &rem), &add);
  assert_ptr_equal(carnet__cell_merge(&rem, &add), &add);
  assert_true(carnet__cell_version_cmp(&add, &rem) > 0);

  /* A remove with a later stamp beats the add... */
  carnet__cell later_rem = rem;
  later_rem.hlc = add.hlc + 1;
  assert_ptr_equal(carnet__cell_merge(&add, &later_rem), &later_rem);
  assert_ptr_equal(carnet__cell_merge(&later_rem, &add), &later_rem);
  /* ...and so does one from a greater origin on the same stamp. */
  carnet__cell other_rem = rem;
  other_rem.origin = 43;
  assert_ptr_equal(carnet__cell_merge(&add, &other_rem), &other_rem);
  /* A re-add after the remove wins again. */
  carnet__cell readd = add;
  readd.hlc = later_rem.hlc + 1;
  assert_ptr_equal(carnet__cell_merge(&later_rem, &readd), &readd);
  /* An older add never undoes a newer remove. */
  carnet__cell old_add = add;
  old_add.hlc = add.hlc - 1;
  old_add.origin = UINT64_MAX;
  assert_ptr_equal(carnet__cell_merge(&later_rem, &old_add), &later_rem);
}

/* --- Cell identity order ------------------------------------------------- */

static int ref_key_cmp(const carnet__cell *a, const carnet__cell *b) {
  if (a->field != b->field) return a->field < b->field ? -1 : 1;
  size_t n = a->klen < b->klen ? a->klen : b->klen;
  int c = n ? memcmp(a->key, b->key, n) : 0;
  if (c) return sign(c);
  return (a->klen > b->klen) - (a->klen < b->klen);
}

static carnet__cell kcell(uint16_t field, const char *key) {
  carnet__cell c = {0};
  c.field = field;
  c.key = (const uint8_t *)key;
  c.klen = (uint16_t)strlen(key);
  return c;
}

static void test_key_cmp_order(void **state) {
  (void)state;
  carnet__cell f3z = kcell(3, "zzz"), f4e = kcell(4, ""), ab = kcell(13, "ab"), b = kcell(13, "b"),
               abc = kcell(13, "abc"), ab2 = kcell(13, "ab"), e = kcell(13, "");
  assert_true(carnet__cell_key_cmp(&f3z, &f4e) < 0); /* field first */
  assert_true(carnet__cell_key_cmp(&f4e, &f3z) > 0);
  assert_true(carnet__cell_key_cmp(&ab, &b) < 0);   /* then bytes */
  assert_true(carnet__cell_key_cmp(&ab, &abc) < 0); /* shorter first on a prefix */
  assert_true(carnet__cell_key_cmp(&abc, &ab) > 0);
  assert_true(carnet__cell_key_cmp(&e, &ab) < 0); /* empty key first */
  assert_int_equal(carnet__cell_key_cmp(&ab, &ab2), 0);
  /* Versions never change identity. */
  ab2.hlc = 99;
  ab2.origin = 7;
  ab2.val = (const uint8_t *)"\xc3";
  ab2.vlen = 1;
  assert_int_equal(carnet__cell_key_cmp(&ab, &ab2), 0);
  /* Bytes compare unsigned: 0x7f < 0x80. */
  carnet__cell lo = kcell(13, "\x7f"), hi = kcell(13, "\x80");
  assert_true(carnet__cell_key_cmp(&lo, &hi) < 0);
  /* Field numbers compare as numbers, not bytes. */
  carnet__cell f255 = kcell(255, ""), f256 = kcell(256, "");
  assert_true(carnet__cell_key_cmp(&f255, &f256) < 0);

  /* Random keys with embedded NULs against the reference order. */
  trng g;
  trng_seed(&g, g_seed + 6);
  for (int i = 0; i < 20000; i++) {
    uint8_t ka[4], kb[4];
    carnet__cell x = {0}, y = {0};
    x.field = (uint16_t)(13 + trng_below(&g, 2));
    y.field = (uint16_t)(13 + trng_below(&g, 2));
    x.klen = (uint16_t)trng_below(&g, 4);
    y.klen = (uint16_t)trng_below(&g, 4);
    for (int k = 0; k < 4; k++) {
      ka[k] = (uint8_t)(trng_below(&g, 3) * 0x7f);
      kb[k] = (uint8_t)(trng_below(&g, 3) * 0x7f);
    }
    x.key = ka;
    y.key = kb;
    CHECK(sign(carnet__cell_key_cmp(&x, &y)) == ref_key_cmp(&x, &y),
          "key_cmp disagrees with (field, bytes, shorter first) at iteration %d", i);
  }
}

/* --- Consent ------------------------------------------------------------------ */

/* Reference from engine/crm/consent.h: granted iff some grant G has
 * W.hlc <= G.observed for every withdrawal W. */
static bool ref_granted(const carnet__consent_ev *e, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!e[i].granted) continue;
    bool ok = true;
    for (size_t j = 0; j < n; j++)
      if (!e[j].granted && e[j].hlc > e[i].observed) ok = false;
    if (ok) return true;
  }
  return false;
}

static carnet_hlc H(uint64_t ms, unsigned c) {
  return (ms << 16) | c;
}

static void test_consent_empty_not_granted(void **state) {
  (void)state;
  carnet_hlc at = 12345;
  assert_false(carnet__consent_decide(NULL, 0, &at));
  assert_int_equal(at, 0);
  assert_false(carnet__consent_decide(NULL, 0, NULL));
}

static void test_consent_single_events(void **state) {
  (void)state;
  carnet__consent_ev g = {.granted = true, .hlc = H(1000, 0), .origin = 1, .observed = 0};
  carnet__consent_ev w = {.granted = false, .hlc = H(900, 0), .origin = 2};
  carnet_hlc at = 0;
  assert_true(carnet__consent_decide(&g, 1, &at));
  assert_int_equal(at, g.hlc);
  at = 0;
  assert_false(carnet__consent_decide(&w, 1, &at));
  assert_int_equal(at, w.hlc);
}

static void test_consent_unseen_withdrawal_wins(void **state) {
  (void)state;
  /* The grant is later in time but its replica had not seen the withdrawal
   * (observed < W.hlc): privacy wins, in either order. */
  carnet__consent_ev evs[2] = {
      {.granted = false, .hlc = H(1000, 0), .origin = 2},
      {.granted = true, .hlc = H(5000, 3), .origin = 1, .observed = H(999, 0)},
  };
  carnet_hlc at = 0;
  assert_false(carnet__consent_decide(evs, 2, &at));
  assert_int_equal(at, evs[0].hlc);
  carnet__consent_ev rev[2] = {evs[1], evs[0]};
  at = 0;
  assert_false(carnet__consent_decide(rev, 2, &at));
  assert_int_equal(at, evs[0].hlc);

  /* A withdrawal later than the grant also wins, of course. */
  carnet__consent_ev later[2] = {
      {.granted = true, .hlc = H(1000, 0), .origin = 1, .observed = 0},
      {.granted = false, .hlc = H(2000, 0), .origin = 1},
  };
  assert_false(carnet__consent_decide(later, 2, NULL));
}

static void test_consent_grant_that_observed_wins(void **state) {
  (void)state;
  carnet__consent_ev evs[3] = {
      {.granted = false, .hlc = H(1000, 0), .origin = 2},
      {.granted = true, .hlc = H(1200, 0), .origin = 1, .observed = H(1000, 0)},
      {.granted = false, .hlc = H(800, 1), .origin = 3},
  };
  carnet_hlc at = 0;
  assert_true(carnet__consent_decide(evs, 3, &at));
  assert_int_equal(at, evs[1].hlc);
  /* observed == W.hlc is "seen" (<=). One tick less is not. */
  evs[1].observed = H(1000, 0) - 1;
  assert_false(carnet__consent_decide(evs, 3, &at));
  assert_int_equal(at, evs[0].hlc);
  /* Two grants: one that saw everything is enough. */
  carnet__consent_ev two[3] = {
      {.granted = false, .hlc = H(1000, 0), .origin = 2},
      {.granted = true, .hlc = H(1100, 0), .origin = 3, .observed = 0},
      {.granted = true, .hlc = H(1300, 0), .origin = 1, .observed = H(1000, 0)},
  };
  at = 0;
  assert_true(carnet__consent_decide(two, 3, &at));
  assert_int_equal(at, H(1300, 0));
}

/* An informed re-grant wins even when a later grant did not see the
 * withdrawal: consent.h says "granted iff there is a grant G and every
 * withdrawal W has W.hlc <= G.observed". */
static void test_consent_informed_regrant_wins(void **state) {
  (void)state;
  carnet__consent_ev evs[3] = {
      {.granted = false, .hlc = H(1000, 0), .origin = 2},                        /* W on C */
      {.granted = true, .hlc = H(1100, 0), .origin = 1, .observed = H(1000, 0)}, /* A saw W */
      {.granted = true, .hlc = H(1200, 0), .origin = 3, .observed = 0},          /* B had not */
  };
  for (int perm = 0; perm < 6; perm++) {
    carnet__consent_ev e[3] = {evs[perm % 3], evs[(perm + 1 + perm / 3) % 3],
                               evs[(perm + 2 - perm / 3) % 3]};
    carnet_hlc at = 0;
    assert_true(carnet__consent_decide(e, 3, &at));
    assert_true(at == H(1100, 0) || at == H(1200, 0));
  }
  /* Without A's informed grant, B's uninformed one loses to W. */
  carnet_hlc at = 0;
  carnet__consent_ev wb[2] = {evs[0], evs[2]};
  assert_false(carnet__consent_decide(wb, 2, &at));
  assert_int_equal(at, H(1000, 0));
}

static void test_consent_order_independent(void **state) {
  (void)state;
  trng g;
  trng_seed(&g, g_seed + 7);
  for (int round = 0; round < 5000; round++) {
    carnet__consent_ev evs[12];
    size_t n = 1 + trng_below(&g, 12);
    for (size_t i = 0; i < n; i++) {
      evs[i].granted = trng_chance(&g, 50);
      evs[i].hlc = H(1000 + trng_below(&g, 20), trng_below(&g, 2));
      evs[i].origin = 1 + trng_below(&g, 3);
      evs[i].observed = 0;
    }
    /* A grant observed nothing, or the stamp of a withdrawal older than
     * itself that its replica had received (not necessarily the latest). */
    for (size_t i = 0; i < n; i++) {
      if (!evs[i].granted || trng_chance(&g, 25)) continue;
      size_t j = trng_below(&g, (uint32_t)n);
      if (!evs[j].granted && evs[j].hlc < evs[i].hlc) evs[i].observed = evs[j].hlc;
    }
    carnet_hlc at0 = 0;
    bool d0 = carnet__consent_decide(evs, n, &at0);
    if (d0 != ref_granted(evs, n)) {
      for (size_t i = 0; i < n; i++)
        print_message("  ev %zu: %s hlc=%" PRIu64 ".%u origin=%" PRIu64 " observed=%" PRIu64
                      ".%u\n",
                      i, evs[i].granted ? "grant   " : "withdraw", CARNET_HLC_MS(evs[i].hlc),
                      (unsigned)(evs[i].hlc & 0xffff), evs[i].origin,
                      CARNET_HLC_MS(evs[i].observed), (unsigned)(evs[i].observed & 0xffff));
      CHECK(false, "consent decision %s differs from the rule of consent.h (round %d)",
            d0 ? "granted" : "refused", round);
    }
    /* decided_at: the latest withdrawal when refused; a grant at least as
     * late as every grant that qualifies when granted. */
    carnet_hlc max_w = 0, max_q = 0;
    bool at_is_grant = false;
    for (size_t i = 0; i < n; i++) {
      if (!evs[i].granted && evs[i].hlc > max_w) max_w = evs[i].hlc;
      if (evs[i].granted && evs[i].hlc == at0) at_is_grant = true;
      if (evs[i].granted) {
        bool ok = true;
        for (size_t j = 0; j < n; j++)
          if (!evs[j].granted && evs[j].hlc > evs[i].observed) ok = false;
        if (ok && evs[i].hlc > max_q) max_q = evs[i].hlc;
      }
    }
    if (d0)
      CHECK(at_is_grant && at0 >= max_q, "granted, but decided_at is not the latest grant");
    else
      CHECK(at0 == max_w,
            "refused, but decided_at %" PRIx64 " is not the latest withdrawal %" PRIx64, at0,
            max_w);
    for (int perm = 0; perm < 8; perm++) {
      trng_shuffle(&g, evs, n, sizeof evs[0]);
      carnet_hlc at = 0;
      bool d = carnet__consent_decide(evs, n, &at);
      CHECK(d == d0 && at == at0, "consent decision depends on event order (round %d)", round);
    }
    /* Duplicated events (re-delivery) change nothing. */
    carnet__consent_ev dup[24];
    memcpy(dup, evs, n * sizeof evs[0]);
    memcpy(dup + n, evs, n * sizeof evs[0]);
    carnet_hlc atd = 0;
    CHECK(carnet__consent_decide(dup, 2 * n, &atd) == d0 && atd == at0,
          "duplicated consent events changed the decision (round %d)", round);
  }
}

int main(int argc, char **argv) {
  if (targ_seed(argc, argv, &g_seed))
    print_message("test_cell: replaying seed %" PRIu64 "\n", g_seed);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version_order_matches_c1),
      cmocka_unit_test(test_version_order_transitive),
      cmocka_unit_test(test_merge_commutative),
      cmocka_unit_test(test_merge_associative),
      cmocka_unit_test(test_merge_idempotent),
      cmocka_unit_test(test_merge_fold_any_order),
      cmocka_unit_test(test_set_add_wins_exact_tie),
      cmocka_unit_test(test_key_cmp_order),
      cmocka_unit_test(test_consent_empty_not_granted),
      cmocka_unit_test(test_consent_single_events),
      cmocka_unit_test(test_consent_unseen_withdrawal_wins),
      cmocka_unit_test(test_consent_grant_that_observed_wins),
      cmocka_unit_test(test_consent_informed_regrant_wins),
      cmocka_unit_test(test_consent_order_independent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
