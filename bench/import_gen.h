/* bench/import_gen.h - a customer file as spreadsheets and CRMs write them,
 * for the import test (tests/cli/test_import.c) and benchmark
 * (bench/import_bench.c): French headers, a UTF-8 byte order mark, ';'
 * between fields, quoted fields holding ';', quotes and line breaks,
 * accented names, phones in several written forms, Luhn-valid SIRETs, and
 * a chosen share of bad rows (an invalid e-mail or SIRET) whose line
 * numbers are recorded. Deterministic for a seed.
 */
#ifndef CARNET_BENCH_IMPORT_GEN_H
#define CARNET_BENCH_IMPORT_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct import_gen_opts {
  size_t rows;           /* data rows */
  unsigned bad_permille; /* bad rows per thousand (10 = 1 %) */
  uint64_t seed;
  int full; /* every field (tags, roles, custom fields, typed phones...) */
} import_gen_opts;

typedef struct import_gen_result {
  size_t good, bad_email, bad_siret;
  size_t lines;              /* physical lines written, header included */
  size_t first_bad_line;     /* the line of the first bad row (0: none) */
  char first_bad_reason[16]; /* "email" or "siret" */
} import_gen_result;

/* Brief: write the file to `f`. Returns 0, or -1 on a write error. */
int import_gen_csv(FILE *f, const import_gen_opts *o, import_gen_result *res);

/* Brief: a Luhn-valid 14-digit SIRET for `n` into out (15 bytes). */
void import_gen_siret(uint64_t n, char out[15]);

#endif
