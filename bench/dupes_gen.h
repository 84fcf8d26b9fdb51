/* bench/dupes_gen.h - a seeded, French-flavoured customer base with known
 * duplicates, for measuring duplicate detection.
 *
 * About 10 % of the originals get a second record (rarely a third) written
 * with realistic noise: one-edit typos, first and last name swapped, the
 * phone in another written form, e-mail or phone missing, accents dropped or
 * added, case changed, the company's legal form added, removed or spelled
 * differently, the e-mail's case changed or a +tag added. Hard negatives
 * are generated too: neighbours with the same surname in the same postcode,
 * the same company name in another city with another SIRET, family members
 * sharing a landline at one address, homonyms (same full name in the same
 * postcode, another person; the same trade name in the same postcode,
 * another firm), and other establishments of one company. The truth is the group of each record:
 * two records are duplicates iff they have the same group.
 *
 * Pure C, no replica: the caller writes the records (bench/dupes_quality.c,
 * tests/engine/test_dupes_quality.c).
 */
#ifndef CARNET_BENCH_DUPES_GEN_H
#define CARNET_BENCH_DUPES_GEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct dg_rec {
  int company_kind;  /* 0 individual, 1 company */
  char name[128];    /* CARNET_F_NAME ("" = unset) */
  char company[128]; /* CARNET_F_COMPANY ("" = unset) */
  char street[128];
  char postcode[8];
  char city[64];
  char siret[24]; /* as typed, may hold spaces ("" = unset) */
  int nemail, nphone;
  char email[2][128];
  char phone[2][32];     /* as typed, any written form */
  char phone_type[2][8]; /* "mobile" "work" "home" */
  uint32_t group;        /* records of one group are one customer */
  int kind;              /* what made it: DG_ORIGINAL, DG_DUPLICATE, DG_NEG_* */
} dg_rec;

enum {
  DG_ORIGINAL = 0,
  DG_DUPLICATE = 1,           /* a noisy copy of an original */
  DG_NEG_NEIGHBOUR = 2,       /* same surname, same postcode, another person */
  DG_NEG_HOMONYM_CO = 3,      /* same company name, other city, other SIRET */
  DG_NEG_FAMILY = 4,          /* same address and landline, another person */
  DG_NEG_HOMONYM = 5,         /* same first and last name, same postcode, another person */
  DG_NEG_HOMONYM_CO_HERE = 6, /* same trade name, same postcode, another firm */
  DG_NEG_ESTABLISHMENT = 7,   /* same SIREN, another SIRET: not a duplicate */
  DG_KINDS = 8,
};

typedef struct dg_base {
  dg_rec *recs;
  size_t n;
  size_t true_pairs; /* number of unordered pairs sharing a group */
} dg_base;

/* Brief: generate `n` records (n >= 10) from `seed` into *out (free with
 * dg_free). Returns 0, or -1 on ENOMEM. Same seed and n, same base. */
int dg_generate(size_t n, uint64_t seed, dg_base *out);
void dg_free(dg_base *b);

/* Brief: Luhn check of a digit string (the SIRET/SIREN rule). */
int dg_luhn_ok(const char *digits);

#endif
