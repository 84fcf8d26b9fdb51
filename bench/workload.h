/* bench/workload.h - workload W (../shared/WORKLOAD.md): the seeded record
 * generator, the W2/W3 update streams, the CSV row form and the state digest.
 *
 * Everything here is pure computation on the generator: no replica. The
 * benchmark (bench/carnet_bench.c) maps records to Carnet customers and
 * rebuilds rows from a replica to compare digests; tests/bench/test_workload.c
 * checks the generator against WORKLOAD.md's vectors.
 *
 * Memory: the generator keeps no record. To hash rows in id order without
 * holding N rows, w_index keeps per record its id and the PRNG state it
 * started from (mulberry32's state is one counter), sorts by id, and
 * regenerates each record from its state: 24 bytes per record.
 */
#ifndef CARNET_BENCH_WORKLOAD_H
#define CARNET_BENCH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define W_BASE_SEED 42u
enum { W_STREAM_W1 = 0, W_STREAM_W2A = 1, W_STREAM_W2B = 2, W_STREAM_W3 = 3 };

/* The header line of the CSV form and of the digest (no newline). */
extern const char W_CSV_HEADER[];

/* Longest row is 315 bytes (WORKLOAD.md section 1); room to spare. */
#define W_ROW_MAX 512

typedef struct w_rng {
  uint32_t s;
} w_rng;

/* mulberry32 and the derived draws. */
uint32_t w_next_u32(w_rng *r);
uint32_t w_randint(w_rng *r, uint32_t n);
/* Stream k: a fresh mulberry32 whose state starts at BASE_SEED + k. */
w_rng w_stream(unsigned k);

typedef struct w_record {
  uint8_t id[16];
  char idhex[33];
  bool company;
  char name[40];         /* "First Last" */
  char company_name[40]; /* "" for individuals */
  char email[64];
  char phone[24]; /* "+33 D DD DD DD DD" */
  char mobile[24];
  char street[48];
  char city[16];
  char postcode[8];
  char country[4];
  char siret[16];      /* 14 digits, "" for individuals */
  char owner[8];       /* user01..user20 */
  const char *tags[2]; /* byte order; static strings of the vocabulary */
  char notes[128];     /* 78-80 chars ending with '.' */
} w_record;

/* Helpers, each consuming draws exactly as WORKLOAD.md section 4. */
void w_phone(w_rng *r, bool mobile, char out[24]);
void w_street(w_rng *r, char out[48]);
void w_notes(w_rng *r, char out[128]);

/* The next record of stream W1. */
void w_record_next(w_rng *r, w_record *rec);

/* The CSV row (15 values joined by ',', tags joined by ';'), no newline.
 * Returns its length; `out` holds W_ROW_MAX bytes. */
size_t w_record_row(const w_record *rec, char out[W_ROW_MAX]);

/* Parses 32 hex characters to 16 bytes; returns false when malformed. */
bool w_hex16(const char *hex, uint8_t out[16]);

/* --- updates (W2, W3) ---------------------------------------------------- */

/* `distinct` draws: idx = randint(n) until not taken. */
typedef struct w_taken {
  uint8_t *bits;
  uint32_t n;
} w_taken;
int w_taken_init(w_taken *t, uint32_t n); /* 0, or -1 out of memory */
void w_taken_free(w_taken *t);
uint32_t w_distinct(w_rng *r, w_taken *t);

typedef struct w_update {
  uint32_t idx; /* record index in generation order */
  char va[128]; /* W2: the new phone (A) or street (B); W3: A's notes */
  char vb[128]; /* W3 only: B's notes */
} w_update;

/* W2: a[k] = A's phone updates (stream W2A), b[k] = B's street updates
 * (stream W2B), one shared `taken`. Needs n > 2m. Returns 0 or -1. */
int w_gen_w2(uint32_t n, uint32_t m, w_update *a, w_update *b);
/* W3: u[k].va = A's notes, u[k].vb = B's notes for record u[k].idx. */
int w_gen_w3(uint32_t n, uint32_t m, w_update *u);

/* --- index and digests --------------------------------------------------- */

typedef struct w_entry {
  uint8_t id[16];
  uint32_t idx;
} w_entry;

typedef struct w_index {
  uint32_t n;
  uint32_t *state; /* state[i]: the PRNG state record i starts from */
  w_entry *by_gen; /* generation order: by_gen[i].id is record i's id */
  w_entry *by_id;  /* sorted by id */
} w_index;

/* Generates the n records once (nothing kept but ids and states). */
int w_index_build(w_index *ix, uint32_t n);
void w_index_free(w_index *ix);
/* Regenerates record i. */
void w_index_record(const w_index *ix, uint32_t i, w_record *rec);
/* Finds a record index by id; returns -1 when absent. */
int64_t w_index_find(const w_index *ix, const uint8_t id[16]);

/* Streaming digest: sha256(header "\n" row "\n" ...). Rows must be given in
 * id order (the caller's job). */
typedef struct w_digest {
  crypto_hash_sha256_state st;
  uint64_t rows;
  uint64_t bytes;
} w_digest;
void w_digest_init(w_digest *d);
void w_digest_row(w_digest *d, const char *row, size_t len);
void w_digest_final(w_digest *d, uint8_t out[32]);

/* The expected digest after W1 (w2a = w2b = NULL) or after W1 then W2. */
int w_expected_digest(const w_index *ix, const w_update *w2a, const w_update *w2b, uint32_t m,
                      uint8_t out[32]);

/* sha256 of the CSV in generation order (header, then rows, each with "\n"). */
int w_csv_sha256(uint32_t n, uint8_t out[32], uint64_t *bytes);

void w_hex(const uint8_t *b, size_t n, char *out); /* 2n chars + NUL */

#endif
