/* tests/book/test_import.c - carnet/import.h through the library calls, as
 * an app would use them: import from a file and from memory, rejects
 * delivered (callback and file) and counted exactly, reruns that import
 * nothing twice, export then import without loss (CSV and XLSX, file and
 * buffer), progress, callbacks that stop, and every documented error with
 * its code, a clear errmsg, and nothing written (the replica's digest is
 * unchanged).
 *
 * The files are the hard cases of a real French customer file: accents,
 * homonyms (same name, another person), one phone written in every way
 * people write it, Windows-1252 bytes, a NUL byte, a damaged workbook, and
 * rows rejected for their e-mail, SIRET, discount, conflict flag or a
 * missing name.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "carnet/carnet.h"
#include "support/testenv.h"

/* --- fixture: two fresh replicas (two teams) per test ---------------------- */

typedef struct fx {
  char *root;
  char *dir[2];
  tenv env[2];
  carnet_replica *r[2];
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->root = tdir_new("book");
  assert_non_null(f->root);
  for (int i = 0; i < 2; i++) {
    char err[256] = "";
    carnet_env ce;
    f->dir[i] = tdir_join(f->root, i ? "b" : "a");
    assert_non_null(f->dir[i]);
    tenv_init(&f->env[i], TENV_EPOCH_MS, 40 + (uint64_t)i);
    tenv_fill(&f->env[i], &ce);
    int rc = carnet_replica_init(f->dir[i], &ce, &f->r[i], err, sizeof err);
    if (rc) fail_msg("carnet_replica_init: %s: %s", carnet_error_name(rc), err);
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  for (int i = 0; i < 2; i++) {
    carnet_replica_close(f->r[i]);
    free(f->dir[i]);
  }
  tdir_remove(f->root);
  free(f->root);
  free(f);
  return 0;
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

#define ASSERT_OK(r, expr)                                                                         \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    if (rc_ != 0)                                                                                  \
      fail_msg("%s: %s (%s)", #expr, carnet_error_name(rc_), carnet_replica_errmsg(r));            \
  } while (0)

/* The call fails with `want` and an errmsg holding `needle`. */
#define ASSERT_FAILS(r, expr, want, needle)                                                        \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    const char *m_ = carnet_replica_errmsg(r);                                                     \
    if (rc_ != (want) || strstr(m_, (needle)) == NULL)                                             \
      fail_msg("%s: got %s \"%s\", want %s \"...%s...\"", #expr, carnet_error_name(rc_), m_,       \
               carnet_error_name(want), (needle));                                                 \
  } while (0)

/* --- helpers ------------------------------------------------------------------ */

static char *path_in(const fx *f, const char *name) {
  char *p = tdir_join(f->root, name);
  assert_non_null(p);
  return p;
}

static void write_file(const char *p, const void *data, size_t len) {
  FILE *fp = fopen(p, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

static char *read_file(const char *p, size_t *len) {
  FILE *fp = fopen(p, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
  buf[n] = '\0';
  fclose(fp);
  if (len) *len = (size_t)n;
  return buf;
}

typedef struct digest {
  uint8_t b[32];
} digest;

static digest digest_of(carnet_replica *r) {
  digest d;
  ASSERT_OK(r, carnet_replica_get_digest(r, d.b));
  return d;
}

static void assert_same_digest(digest a, digest b) {
  assert_memory_equal(a.b, b.b, sizeof a.b);
}

static int count_cb(const carnet_record *rec, void *data) {
  (void)rec;
  (*(size_t *)data)++;
  return 0;
}

static size_t live_customers(carnet_replica *r) {
  size_t n = 0;
  ASSERT_OK(r, carnet_record_list(r, CARNET_KIND_CUSTOMER, NULL, count_cb, &n));
  return n;
}

/* The files in `dir` whose name holds ".tmp-": what a failed write would
 * leave behind. */
static size_t temp_files(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t n = 0;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    n += strstr(e->d_name, ".tmp-") != NULL;
  closedir(d);
  return n;
}

/* What on_row saw. */
typedef struct seen_row {
  carnet_import_outcome outcome;
  uint64_t line;
  char column[64];
  char reason[512];
  carnet_id id;
  char first_cell[128];
} seen_row;

typedef struct seen {
  seen_row rows[2048];
  size_t n;
  int stop_at; /* return `stop_value` from this call (1-based), 0: never */
  int stop_value;
  uint64_t progress_done[64], progress_total[64];
  size_t nprogress;
  char columns[32][80]; /* "header=field" ("header=-" when not imported, "+" when mapped) */
  size_t ncolumns;
} seen;

static int on_row(void *ctx, const carnet_import_row *row) {
  seen *s = ctx;
  assert_true(s->n < sizeof s->rows / sizeof s->rows[0]);
  seen_row *x = &s->rows[s->n++];
  x->outcome = row->outcome;
  x->line = row->line;
  snprintf(x->column, sizeof x->column, "%s", row->column ? row->column : "");
  snprintf(x->reason, sizeof x->reason, "%s", row->reason ? row->reason : "");
  x->id = row->id;
  assert_true(row->ncells > 0);
  snprintf(x->first_cell, sizeof x->first_cell, "%s", row->cells[0]);
  if (row->outcome == CARNET_IMPORT_ROW_REJECTED) {
    assert_non_null(row->reason);
  } else {
    assert_null(row->reason);
    assert_null(row->column);
  }
  return s->stop_at && (int)s->n == s->stop_at ? s->stop_value : 0;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total) {
  seen *s = ctx;
  if (s->nprogress > 0) {
    /* Monotone: done never goes back, and the total does not move. */
    assert_true(done >= s->progress_done[s->nprogress - 1]);
    assert_int_equal(total, s->progress_total[s->nprogress - 1]);
  }
  if (s->nprogress < 64) {
    s->progress_done[s->nprogress] = done;
    s->progress_total[s->nprogress] = total;
    s->nprogress++;
  } else {
    s->progress_done[63] = done;
  }
}

static void on_column(void *ctx, const carnet_import_column *col) {
  seen *s = ctx;
  if (col->index == 0) s->ncolumns = 0; /* another import */
  assert_int_equal(col->index, s->ncolumns);
  assert_true(s->ncolumns < 32);
  snprintf(s->columns[s->ncolumns++], 80, "%s=%s%s", col->header, col->field ? col->field : "-",
           col->mapped ? "+" : "");
}

static carnet_import_options options(seen *s) {
  carnet_import_options o = CARNET_IMPORT_OPTIONS_INIT;
  o.on_row = on_row;
  o.on_progress = on_progress;
  o.on_column = on_column;
  o.ctx = s;
  return o;
}

static const seen_row *row_at(const seen *s, uint64_t line) {
  for (size_t i = 0; i < s->n; i++)
    if (s->rows[i].line == line) return &s->rows[i];
  fail_msg("no outcome for line %llu", (unsigned long long)line);
  return NULL;
}

static carnet_record *get(carnet_replica *r, const carnet_id *id) {
  carnet_record *rec = NULL;
  ASSERT_OK(r, carnet_record_get(r, id, &rec));
  return rec;
}

/* The phones of a record as "type:+E164|..." */
static void phones_of(const carnet_record *rec, char *out, size_t len) {
  const char *const *v;
  size_t n = carnet_record_elems(rec, CARNET_F_PHONES, &v), used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "|" : "", v[i]);
}

/* --- the customer file -------------------------------------------------------- */

/* Line numbers are the file's: the header is line 1. Jean Dupont twice
 * (homonyms: another e-mail, mobile and city: two people); one mobile,
 * +33 6 98 76 54 32, written eight ways on eight rows with other names
 * (one customer, the seven others are the same phone: skipped as
 * duplicates); five rows rejected, each for its own reason; a blank row;
 * a company with ';' and quotes; a note with a line break. */
static const char customers_csv[] =
    "Nom;Prénom;Raison sociale;E-mail;Téléphone;Portable;CP;Ville;SIRET;Remise;Litige;Notes;"
    "custom:taille:number;custom:couleur\n"
    /* 2 */ "Dupont;Jean;;jean.dupont@exemple.fr;01 45 67 89 10;06 12 34 56 "
    "78;75011;Paris;;5,5;non;"
    ";12;bleu\n"
    /* 3 */ "Dupont;Jean;;jean.dupont@autre.fr;;07 11 22 33 44;69003;Lyon;;;;;;\n"
    /* 4 */ "Lefèvre;Zoé;;zoe@lefevre.fr;;0698765432;25000;Besançon;;;;;;\n"
    /* 5 */ "Müller;Hélène;;helene@muller.de;;06 98 76 54 32;;;;;;;;\n"
    /* 6 */ "Noël;Cécile;;cecile@noel.fr;;06.98.76.54.32;;;;;;;;\n"
    /* 7 */ "Œuvre;Anaïs;;anais@oeuvre.fr;;06-98-76-54-32;;;;;;;;\n"
    /* 8 */ "Çava;Loïc;;loic@cava.fr;;+33 6 98 76 54 32;;;;;;;;\n"
    /* 9 */ "Ålund;Jörg;;jorg@alund.se;;+33698765432;;;;;;;;\n"
    /* 10 */ "Être;Iñès;;ines@etre.es;;0033 6 98 76 54 32;;;;;;;;\n"
    /* 11 */ "Ÿ;Øle;;ole@y.dk;;+33 (0)6 98 76 54 32;;;;;;;;\n"
    /* 12 */ "Martin;Paul;;paul@;;;;;;;;;;\n"
    /* 13 */ ";;Garage Blanc SARL;contact@garage-blanc.fr;04 78 00 00 00;;69100;Villeurbanne;123;;;"
    ";;\n"
    /* 14 */ "Petit;Léa;;lea@petit.fr;;;;;;150;;;;\n"
    /* 15 */ "Grand;Max;;max@grand.fr;;;;;;;peut-être;;;\n"
    /* 16 */ ";;;sans.nom@exemple.fr;;;;;;;;;;\n"
    /* 17 */ ";;;;;;;;;;;;;\n"
    /* 18 */ ";;\"Blanc; Fils et "
    "\"\"Cie\"\"\";contact@blanc-fils.fr;;;73000;Chambéry;73282932000074;"
    ";;\"rappeler le lundi\nsur le portable\";;\n";

enum {
  FILE_ROWS = 16, /* data rows with an outcome: 17 lines of data, one blank */
  FILE_IMPORTED = 4,
  FILE_SKIPPED = 7,
  FILE_REJECTED = 5,
};

/* The outcomes of the file on an empty replica, checked line by line. */
static void check_first_import(carnet_replica *r, const seen *s, const carnet_import_report *rep) {
  assert_int_equal(rep->rows, FILE_ROWS);
  assert_int_equal(rep->imported, FILE_IMPORTED);
  assert_int_equal(rep->skipped, FILE_SKIPPED);
  assert_int_equal(rep->rejected, FILE_REJECTED);
  assert_int_equal(rep->merged, 0);
  assert_int_equal(rep->committed, FILE_ROWS);
  assert_int_equal(rep->stopped_line, 0);
  assert_int_equal(rep->format, CARNET_SHEET_CSV);
  assert_false(rep->cp1252);
  assert_int_equal(s->n, FILE_ROWS); /* one call per row with an outcome, in file order */
  for (size_t i = 1; i < s->n; i++)
    assert_true(s->rows[i].line > s->rows[i - 1].line);

  /* Homonyms: two customers. */
  const seen_row *a = row_at(s, 2), *b = row_at(s, 3);
  assert_int_equal(a->outcome, CARNET_IMPORT_ROW_IMPORTED);
  assert_int_equal(b->outcome, CARNET_IMPORT_ROW_IMPORTED);
  assert_memory_not_equal(a->id.b, b->id.b, sizeof a->id.b);
  carnet_record *ra = get(r, &a->id), *rb = get(r, &b->id);
  assert_string_equal(carnet_record_str(ra, CARNET_F_NAME), "Jean Dupont");
  assert_string_equal(carnet_record_str(rb, CARNET_F_NAME), "Jean Dupont");
  assert_string_equal(carnet_record_str(ra, CARNET_F_CITY), "Paris");
  assert_string_equal(carnet_record_str(rb, CARNET_F_CITY), "Lyon");
  /* Values converted as `customer add` converts them: the discount in
   * basis points, a phone's type from its number, a custom column without
   * a type as text, "non" as false. */
  assert_string_equal(carnet_record_str(ra, CARNET_F_DISCOUNT), "550");
  assert_string_equal(carnet_record_str(ra, CARNET_F_CONFLICT), "false");
  char phones[256];
  phones_of(ra, phones, sizeof phones);
  assert_non_null(strstr(phones, "work:+33145678910"));
  assert_non_null(strstr(phones, "mobile:+33612345678"));
  const carnet_custom *cf;
  size_t ncf = carnet_record_customs(ra, &cf);
  assert_int_equal(ncf, 2);
  assert_string_equal(cf[0].name, "couleur");
  assert_int_equal(cf[0].type, CARNET_CUSTOM_STRING);
  assert_string_equal(cf[0].value, "bleu");
  assert_string_equal(cf[1].name, "taille");
  assert_int_equal(cf[1].type, CARNET_CUSTOM_NUMBER);
  carnet_record_free(ra);
  carnet_record_free(rb);

  /* One mobile in eight spellings: the first row makes the customer, the
   * seven others find it by that phone and are skipped, naming it. */
  const seen_row *z = row_at(s, 4);
  assert_int_equal(z->outcome, CARNET_IMPORT_ROW_IMPORTED);
  carnet_record *rz = get(r, &z->id);
  assert_string_equal(carnet_record_str(rz, CARNET_F_NAME), "Zoé Lefèvre");
  assert_string_equal(carnet_record_str(rz, CARNET_F_CITY), "Besançon");
  phones_of(rz, phones, sizeof phones);
  assert_string_equal(phones, "mobile:+33698765432");
  carnet_record_free(rz);
  for (uint64_t line = 5; line <= 11; line++) {
    const seen_row *x = row_at(s, line);
    if (x->outcome != CARNET_IMPORT_ROW_SKIPPED)
      fail_msg("line %llu not skipped", (unsigned long long)line);
    assert_memory_equal(x->id.b, z->id.b, sizeof z->id.b);
  }

  /* The rejected rows: the column at fault and why. */
  static const struct {
    uint64_t line;
    const char *column, *reason;
  } rejects[] = {
      {12, "E-mail", "invalid email 'paul@'"},  {13, "SIRET", "invalid SIRET/SIREN '123'"},
      {14, "Remise", "invalid discount '150'"}, {15, "Litige", "invalid conflict flag 'peut-être'"},
      {16, "", "needs a name or a company"},
  };
  for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
    const seen_row *x = row_at(s, rejects[i].line);
    assert_int_equal(x->outcome, CARNET_IMPORT_ROW_REJECTED);
    assert_string_equal(x->column, rejects[i].column);
    if (strstr(x->reason, rejects[i].reason) == NULL)
      fail_msg("line %llu: reason \"%s\" lacks \"%s\"", (unsigned long long)rejects[i].line,
               x->reason, rejects[i].reason);
  }
  assert_string_equal(row_at(s, 12)->first_cell, "Martin");

  /* Quotes, ';' and a line break inside fields. */
  const seen_row *q = row_at(s, 18);
  assert_int_equal(q->outcome, CARNET_IMPORT_ROW_IMPORTED);
  carnet_record *rq = get(r, &q->id);
  assert_string_equal(carnet_record_str(rq, CARNET_F_COMPANY), "Blanc; Fils et \"Cie\"");
  assert_string_equal(carnet_record_str(rq, CARNET_F_TYPE), "company");
  assert_string_equal(carnet_record_str(rq, CARNET_F_NOTES), "rappeler le lundi\nsur le portable");
  carnet_record_free(rq);
  assert_int_equal(live_customers(r), FILE_IMPORTED);
}

static void test_import_file_rejects(void **state) {
  fx *f = *state;
  char *csv = path_in(f, "clients.csv"), *rej = path_in(f, "rejets.csv");
  seen *s = calloc(1, sizeof *s);
  write_file(csv, customers_csv, sizeof customers_csv - 1);
  carnet_import_options o = options(s);
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  o.rejects_path = rej;
  ASSERT_OK(f->r[0], carnet_import_file(f->r[0], csv, &o, &rep));
  assert_string_equal(carnet_replica_errmsg(f->r[0]), "");
  check_first_import(f->r[0], s, &rep);

  /* The columns, as recognised. */
  assert_int_equal(s->ncolumns, 14);
  assert_string_equal(s->columns[0], "Nom=name");
  assert_string_equal(s->columns[1], "Prénom=first_name");
  assert_string_equal(s->columns[2], "Raison sociale=company");
  assert_string_equal(s->columns[5], "Portable=mobile");
  assert_string_equal(s->columns[13], "custom:couleur=custom:couleur");

  /* The rejects file: the input's separator, a header, then line, column,
   * reason and the row as read. */
  size_t len;
  char *text = read_file(rej, &len);
  assert_memory_equal(text, "line;column;reason;Nom;Prénom;",
                      strlen("line;column;reason;Nom;Prénom;"));
  assert_non_null(strstr(text, "\r\n12;E-mail;invalid email 'paul@'"));
  assert_non_null(strstr(text, "\r\n13;SIRET;invalid SIRET/SIREN '123'"));
  assert_non_null(strstr(text, "\r\n16;;"));
  size_t lines = 0;
  for (char *p = text; (p = strstr(p, "\r\n")) != NULL; p += 2)
    lines++;
  assert_int_equal(lines, 1 + FILE_REJECTED);
  free(text);
  assert_int_equal(temp_files(f->root), 0);

  /* Progress: once at the end at least, done == total == the data rows. */
  assert_true(s->nprogress >= 1);
  assert_int_equal(s->progress_done[s->nprogress - 1], 17);
  assert_int_equal(s->progress_total[s->nprogress - 1], 17);
  free(s);
  free(csv);
  free(rej);
}

/* The same bytes from memory: the same outcomes, line by line. */
static void test_import_buffer_same_as_file(void **state) {
  fx *f = *state;
  char *csv = path_in(f, "clients.csv");
  seen *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
  write_file(csv, customers_csv, sizeof customers_csv - 1);
  carnet_import_options oa = options(a), ob = options(b);
  carnet_import_report ra = CARNET_IMPORT_REPORT_INIT, rb = CARNET_IMPORT_REPORT_INIT;
  ASSERT_OK(f->r[0], carnet_import_file(f->r[0], csv, &oa, &ra));
  ASSERT_OK(f->r[1], carnet_import_buffer(f->r[1], customers_csv, sizeof customers_csv - 1,
                                          "upload.csv", &ob, &rb));
  check_first_import(f->r[1], b, &rb);
  assert_int_equal(a->n, b->n);
  for (size_t i = 0; i < a->n; i++) {
    assert_int_equal(a->rows[i].outcome, b->rows[i].outcome);
    assert_int_equal(a->rows[i].line, b->rows[i].line);
    assert_string_equal(a->rows[i].column, b->rows[i].column);
    assert_string_equal(a->rows[i].reason, b->rows[i].reason);
  }
  /* No name: the format from the first bytes, and messages without one. */
  carnet_import_report rc = CARNET_IMPORT_REPORT_INIT;
  ASSERT_OK(f->r[1], carnet_import_buffer(f->r[1], customers_csv, sizeof customers_csv - 1, NULL,
                                          NULL, &rc));
  assert_int_equal(rc.format, CARNET_SHEET_CSV);
  assert_int_equal(rc.imported, 0); /* a rerun */
  free(a), free(b), free(csv);
}

/* --- reruns ------------------------------------------------------------------------ */

/* Imports `customers_csv` with `mode` and checks the counts. */
static void import_mode(carnet_replica *r, carnet_import_dup mode, uint64_t imported,
                        uint64_t merged, uint64_t skipped) {
  seen *s = calloc(1, sizeof *s);
  carnet_import_options o = options(s);
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  o.on_duplicate = mode;
  ASSERT_OK(r, carnet_import_buffer(r, customers_csv, sizeof customers_csv - 1, "c.csv", &o, &rep));
  assert_int_equal(rep.imported, imported);
  assert_int_equal(rep.merged, merged);
  assert_int_equal(rep.skipped, skipped);
  assert_int_equal(rep.rejected, FILE_REJECTED);
  if (imported == 0 && merged == 0) {
    /* A skipped row names the customer it matched: its own, imported
     * before. */
    const seen_row *x = row_at(s, 2);
    assert_int_equal(x->outcome, CARNET_IMPORT_ROW_SKIPPED);
    carnet_record *rec = get(r, &x->id);
    assert_string_equal(carnet_record_str(rec, CARNET_F_CITY), "Paris");
    carnet_record_free(rec);
  }
  free(s);
}

/* Every mode, run twice: the second run writes nothing. The seven rows
 * that share Zoé Lefèvre's mobile are skipped, then merged into her (their
 * e-mails), then created as customers of their own; each only once. */
static void test_reimport_nothing_twice(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  enum { SHARED = 7 };
  import_mode(r, CARNET_IMPORT_DUP_SKIP, FILE_IMPORTED, 0, SHARED);
  digest d = digest_of(r);
  import_mode(r, CARNET_IMPORT_DUP_SKIP, 0, 0, FILE_IMPORTED + SHARED);
  assert_same_digest(d, digest_of(r));
  import_mode(r, CARNET_IMPORT_DUP_MERGE, 0, SHARED, FILE_IMPORTED);
  d = digest_of(r);
  import_mode(r, CARNET_IMPORT_DUP_MERGE, 0, 0, FILE_IMPORTED + SHARED);
  assert_same_digest(d, digest_of(r));
  carnet_record *z = NULL;
  carnet_id zid;
  assert_int_equal(carnet_record_lookup(r, CARNET_LOOKUP_EMAIL, "ole@y.dk", &zid, 1, &(size_t){0}),
                   0);
  z = get(r, &zid);
  const char *const *v;
  assert_int_equal(carnet_record_elems(z, CARNET_F_EMAILS, &v), 1 + SHARED);
  assert_string_equal(carnet_record_str(z, CARNET_F_NAME), "Zoé Lefèvre");
  carnet_record_free(z);
  import_mode(r, CARNET_IMPORT_DUP_CREATE, SHARED, 0, FILE_IMPORTED);
  d = digest_of(r);
  import_mode(r, CARNET_IMPORT_DUP_CREATE, 0, 0, FILE_IMPORTED + SHARED);
  import_mode(r, CARNET_IMPORT_DUP_SKIP, 0, 0, FILE_IMPORTED + SHARED);
  import_mode(r, CARNET_IMPORT_DUP_MERGE, 0, 0, FILE_IMPORTED + SHARED);
  assert_same_digest(d, digest_of(r));
  assert_int_equal(live_customers(r), FILE_IMPORTED + SHARED);
}

/* --on-duplicate: the customer was typed in; the file has more. */
static void test_on_duplicate(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id typed;
  assert_non_null(p);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, "Jean Dupont"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_EMAILS, "jean@dupont.fr"));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &typed));
  carnet_patch_free(p);
  static const char text[] = "Nom,Courriel,Ville,Tél\n"
                             "Jean Dupont,JEAN@Dupont.fr,Lyon,06 11 22 33 44\n";
  seen *s = calloc(1, sizeof *s);
  carnet_import_options o = options(s);
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  ASSERT_OK(r, carnet_import_buffer(r, text, sizeof text - 1, "d.csv", &o, &rep));
  assert_int_equal(rep.skipped, 1);
  assert_memory_equal(s->rows[0].id.b, typed.b, sizeof typed.b);
  o.on_duplicate = CARNET_IMPORT_DUP_MERGE;
  s->n = 0;
  ASSERT_OK(r, carnet_import_buffer(r, text, sizeof text - 1, "d.csv", &o, &rep));
  assert_int_equal(rep.merged, 1);
  assert_int_equal(s->rows[0].outcome, CARNET_IMPORT_ROW_MERGED);
  assert_memory_equal(s->rows[0].id.b, typed.b, sizeof typed.b);
  carnet_record *rec = get(r, &typed);
  assert_string_equal(carnet_record_str(rec, CARNET_F_CITY), "Lyon");
  const char *const *v;
  assert_int_equal(carnet_record_elems(rec, CARNET_F_EMAILS, &v), 1); /* the same mailbox */
  carnet_record_free(rec);
  digest d = digest_of(r);
  ASSERT_OK(r, carnet_import_buffer(r, text, sizeof text - 1, "d.csv", &o, &rep));
  assert_int_equal(rep.merged, 0); /* nothing new: a skip, nothing written */
  assert_int_equal(rep.skipped, 1);
  assert_same_digest(d, digest_of(r));
  o.on_duplicate = CARNET_IMPORT_DUP_CREATE;
  ASSERT_OK(r, carnet_import_buffer(r, text, sizeof text - 1, "d.csv", &o, &rep));
  assert_int_equal(rep.imported, 1);
  assert_int_equal(live_customers(r), 2);
  free(s);
}

/* --dry-run: the same counts, nothing written. */
static void test_dry_run(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  digest d0 = digest_of(r);
  carnet_import_options o = CARNET_IMPORT_OPTIONS_INIT;
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  o.dry_run = true;
  o.batch = 2; /* ignored: a dry run is one transaction, aborted */
  ASSERT_OK(r, carnet_import_buffer(r, customers_csv, sizeof customers_csv - 1, "c.csv", &o, &rep));
  assert_int_equal(rep.imported, FILE_IMPORTED);
  assert_int_equal(rep.skipped, FILE_SKIPPED); /* in-file duplicates seen in the open txn */
  assert_int_equal(rep.rejected, FILE_REJECTED);
  assert_int_equal(rep.committed, 0);
  assert_same_digest(d0, digest_of(r));
  assert_int_equal(live_customers(r), 0);
}

/* The duplicate checks see the rows written before, in the same group and
 * in the groups before (engine/dupes/bulkdup.h), including what a merge
 * gave a customer, and answer what carnet_record_lookup answers once the
 * index is caught up: the smallest id, when a customer typed in before and
 * one merged by the file share a phone. Run in one group, then with a
 * transaction per row, each on a replica of its own. */
static void dup_chain(carnet_replica *r, size_t batch) {
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id x;
  assert_non_null(p);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, "Typed"));
  ASSERT_OK(r, carnet_patch_phone(p, "mobile", "0611111111"));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &x));
  carnet_patch_free(p);
  static const char text[] = "Nom;E-mail;Téléphone\n"
                             /* 2 */ "A;a@x.fr;06 22 22 22 22\n"
                             /* 3 */ "A bis;A@X.FR;\n"
                             /* 4 */ "B;b@x.fr;+33 6 22 22 22 22\n"
                             /* 5 */ "C;b@x.fr;\n"
                             /* 6 */ "D;d@x.fr;0611111111\n"
                             /* 7 */ "E;D@x.fr;\n"
                             /* 8 */ "F;a@X.fr;06.11.11.11.11\n"
                             /* 9 */ "G;;+33611111111\n";
  seen *s = calloc(1, sizeof *s);
  carnet_import_options o = options(s);
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  o.on_duplicate = CARNET_IMPORT_DUP_MERGE;
  o.batch = batch;
  ASSERT_OK(r, carnet_import_buffer(r, text, sizeof text - 1, "chain.csv", &o, &rep));
  assert_int_equal(rep.committed, 8);
  const carnet_id a = row_at(s, 2)->id;
  carnet_id first; /* X and A both have 06 11 11 11 11 after line 8 */
  first = memcmp(x.b, a.b, 16) < 0 ? x : a;
  static const struct {
    uint64_t line;
    carnet_import_outcome what;
    char who; /* 'a', 'x', or 'f': the first of the two */
  } want[] = {
      {2, CARNET_IMPORT_ROW_IMPORTED, 'a'}, {3, CARNET_IMPORT_ROW_SKIPPED, 'a'},
      {4, CARNET_IMPORT_ROW_MERGED, 'a'},   {5, CARNET_IMPORT_ROW_SKIPPED, 'a'},
      {6, CARNET_IMPORT_ROW_MERGED, 'x'},   {7, CARNET_IMPORT_ROW_SKIPPED, 'x'},
      {8, CARNET_IMPORT_ROW_MERGED, 'a'},   {9, CARNET_IMPORT_ROW_SKIPPED, 'f'},
  };
  assert_int_equal(s->n, sizeof want / sizeof want[0]);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const seen_row *y = row_at(s, want[i].line);
    const carnet_id *id = want[i].who == 'a' ? &a : want[i].who == 'x' ? &x : &first;
    if (y->outcome != want[i].what || memcmp(y->id.b, id->b, 16) != 0)
      fail_msg("batch %zu, line %llu: outcome %d, want %d (or another customer)", batch,
               (unsigned long long)want[i].line, (int)y->outcome, (int)want[i].what);
  }
  carnet_id ids[2];
  size_t n = 0;
  ASSERT_OK(r, carnet_record_lookup(r, CARNET_LOOKUP_PHONE, "0611111111", ids, 2, &n));
  assert_int_equal(n, 2);
  assert_memory_equal(ids[0].b, first.b, 16);
  ASSERT_OK(r, carnet_record_lookup(r, CARNET_LOOKUP_EMAIL, "d@x.fr", ids, 2, &n));
  assert_int_equal(n, 1);
  assert_memory_equal(ids[0].b, x.b, 16);
  assert_int_equal(live_customers(r), 2);
  free(s);
}

static void test_duplicates_in_group_and_across(void **state) {
  fx *f = *state;
  dup_chain(f->r[0], 0); /* one group */
  dup_chain(f->r[1], 1); /* a group per row */
}

/* A person erased at their request is not brought back by a file. */
static void test_erased_rejected(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  carnet_id id;
  carnet_erasure cert;
  bool compacted;
  assert_non_null(p);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, "Zoé Gone"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_EMAILS, "zoe@gone.fr"));
  ASSERT_OK(r, carnet_patch_phone(p, "mobile", "0611111111"));
  ASSERT_OK(r, carnet_record_create_commit(r, p, &id));
  carnet_patch_free(p);
  ASSERT_OK(r, carnet_record_erase(r, &id, "asked to be forgotten", &cert, &compacted));
  static const char text[] = "Nom;E-mail;Téléphone\n"
                             "Zoé Gone;ZOE@gone.fr;\n"
                             "Z. Gone;zg@other.fr;+33 6 11 11 11 11\n"
                             "Quelqu'un;else@example.org;0622222222\n";
  seen *s = calloc(1, sizeof *s);
  carnet_import_options o = options(s);
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  ASSERT_OK(r, carnet_import_buffer(r, text, sizeof text - 1, "again.csv", &o, &rep));
  assert_int_equal(rep.imported, 1);
  assert_int_equal(rep.rejected, 2);
  assert_non_null(strstr(row_at(s, 2)->reason, "erased at their request"));
  assert_non_null(strstr(row_at(s, 3)->reason, "erased at their request"));
  free(s);
}

/* --- encodings and damaged files ------------------------------------------------- */

static void test_windows_1252_and_bad_bytes(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  /* Excel on a French Windows: Windows-1252, with the euro sign and the
   * curly apostrophe of the 0x80-0x9f block. */
  static const char cp1252[] = "Nom;Pr\xe9nom;Ville;Notes\n"
                               "Lef\xe8vre;Zo\xe9;Besan\xe7on;remise 5 \x80 l\x92"
                               "an dernier\n";
  seen *s = calloc(1, sizeof *s);
  carnet_import_options o = options(s);
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  ASSERT_OK(r, carnet_import_buffer(r, cp1252, sizeof cp1252 - 1, "w.csv", &o, &rep));
  assert_true(rep.cp1252);
  assert_int_equal(rep.imported, 1);
  carnet_record *rec = get(r, &s->rows[0].id);
  assert_string_equal(carnet_record_str(rec, CARNET_F_NAME), "Zoé Lefèvre");
  assert_string_equal(carnet_record_str(rec, CARNET_F_CITY), "Besançon");
  assert_string_equal(carnet_record_str(rec, CARNET_F_NOTES), "remise 5 € l’an dernier");
  carnet_record_free(rec);
  free(s);

  /* A NUL byte: not a text file, refused whole, nothing written. */
  digest d0 = digest_of(r);
  static const char nul[] = "Nom;Ville\nA;Lyon\nB;Pa\0ris\n";
  ASSERT_FAILS(r, carnet_import_buffer(r, nul, sizeof nul - 1, "nul.csv", NULL, &rep),
               CARNET_EINVAL, "nul.csv: line 3: a NUL byte: this is not a text (CSV) file");
  assert_non_null(strstr(carnet_replica_errmsg(r), "nothing was imported"));
  assert_int_equal(rep.rows, 0);
  assert_same_digest(d0, digest_of(r));

  /* An unterminated quote: the line where it opened. */
  static const char quote[] = "Nom;Ville\nA;Lyon\nB;\"Paris\nC;Nice\n";
  ASSERT_FAILS(r, carnet_import_buffer(r, quote, sizeof quote - 1, NULL, NULL, NULL), CARNET_EINVAL,
               "line 3: a quoted field is never closed");
  assert_same_digest(d0, digest_of(r));
}

/* A real-looking French customer file saved as UTF-8 by one tool, 120
 * rows, where two rows were typed in later by a Windows tool that wrote
 * Windows-1252 (issue 19: one such byte made the whole file be re-read as
 * Windows-1252, every "Hélène Müller" becoming "HÃ©lÃ¨ne MÃ¼ller", exit
 * 0). The file stays UTF-8: the 118 rows import as written, the two rows
 * are rejected with their lines and a reason, and the report says so. */
static void test_mostly_utf8_with_stray_bytes(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  static const char *const first[] = {"Hélène", "Zoé", "Jérôme", "Françoise", "Anaïs", "Björn"};
  static const char *const last[] = {"Müller", "Lefèvre", "Dupré", "Garçon", "Noël", "Éloi"};
  static const char *const city[] = {"Besançon", "Orléans", "Saint-Étienne", "Nîmes", "Évry"};
  size_t cap = 64 * 1024, len = 0;
  char *csv = malloc(cap);
  assert_non_null(csv);
  len += (size_t)snprintf(csv + len, cap - len, "Prénom;Nom;E-mail;Ville\r\n");
  for (int i = 0; i < 120; i++) {
    if (i == 40) /* line 42: "Zoé Lefèvre" typed on Windows */
      len += (size_t)snprintf(csv + len, cap - len,
                              "Zo\xe9;Lef\xe8vre;zoe.win%d@exemple.fr;Besan\xe7on\r\n", i);
    else if (i == 97) /* line 99: one stray byte in a UTF-8 row */
      len +=
          (size_t)snprintf(csv + len, cap - len, "Ana\xefs;Noël;anais%d@exemple.fr;Nîmes\r\n", i);
    else
      len += (size_t)snprintf(csv + len, cap - len, "%s;%s;client%d@exemple.fr;%s\r\n",
                              first[i % 6], last[(i / 6) % 6], i, city[i % 5]);
  }
  seen *s = calloc(1, sizeof *s);
  carnet_import_options o = options(s);
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  char *rejects = path_in(f, "rejects.csv");
  o.rejects_path = rejects;
  ASSERT_OK(r, carnet_import_buffer(r, csv, len, "clients.csv", &o, &rep));
  assert_false(rep.cp1252);
  assert_int_equal(rep.rows, 120);
  assert_int_equal(rep.imported, 118);
  assert_int_equal(rep.rejected, 2);
  assert_int_equal(rep.bad_encoding, 2);
  size_t nrej = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (s->rows[i].outcome != CARNET_IMPORT_ROW_REJECTED) {
      carnet_record *rec = get(r, &s->rows[i].id);
      const char *name = carnet_record_str(rec, CARNET_F_NAME);
      if (strstr(name, "Ã") != NULL)
        fail_msg("line %llu read garbled: %s", (unsigned long long)s->rows[i].line, name);
      carnet_record_free(rec);
      continue;
    }
    nrej++;
    assert_true(s->rows[i].line == 42 || s->rows[i].line == 99);
    assert_non_null(strstr(s->rows[i].reason, "not UTF-8"));
    assert_non_null(strstr(s->rows[i].reason, s->rows[i].line == 42 ? "0xE9" : "0xEF"));
  }
  assert_int_equal(nrej, 2);
  /* The first row reads as written. */
  carnet_record *rec = get(r, &s->rows[0].id);
  assert_string_equal(carnet_record_str(rec, CARNET_F_NAME), "Hélène Müller");
  assert_string_equal(carnet_record_str(rec, CARNET_F_CITY), "Besançon");
  carnet_record_free(rec);
  /* The rejects file has the two rows as their author meant them. */
  char *text = read_file(rejects, NULL);
  assert_non_null(strstr(text, "42;;"));
  assert_non_null(strstr(text, "Zoé;Lefèvre"));
  assert_non_null(strstr(text, "Anaïs;Noël"));
  free(text);

  /* A file read as Windows-1252 but for one row saved as UTF-8: that row is
   * rejected (it would read "HÃ©lÃ¨ne"), the others are Windows-1252. */
  static const char mostly_1252[] = "Pr\xe9nom;Nom;Ville\r\n"
                                    "Ren\xe9"
                                    "e;Lef\xe8vre;Besan\xe7on\r\n"
                                    "Fran\xe7oise;Dupr\xe9;N\xeemes\r\n"
                                    "Hélène;Müller;Orléans\r\n"
                                    "J\xe9r\xf4me;Gar\xe7on;\xc9vry\r\n";
  memset(s, 0, sizeof *s);
  o.rejects_path = NULL;
  ASSERT_OK(r, carnet_import_buffer(r, mostly_1252, sizeof mostly_1252 - 1, "w.csv", &o, &rep));
  assert_true(rep.cp1252);
  assert_int_equal(rep.imported, 3);
  assert_int_equal(rep.rejected, 1);
  assert_int_equal(rep.bad_encoding, 1);
  assert_int_equal(s->rows[2].outcome, CARNET_IMPORT_ROW_REJECTED);
  assert_int_equal(s->rows[2].line, 4);
  assert_non_null(strstr(s->rows[2].reason, "UTF-8 text"));
  rec = get(r, &s->rows[0].id);
  assert_string_equal(carnet_record_str(rec, CARNET_F_NAME), "Renée Lefèvre");
  carnet_record_free(rec);

  /* A header in the other encoding: refused whole, nothing written. */
  digest d0 = digest_of(r);
  static const char bad_header[] = "Pr\xe9nom;Nom\r\nHélène;Müller\r\nZoé;Noël\r\n";
  ASSERT_FAILS(r, carnet_import_buffer(r, bad_header, sizeof bad_header - 1, "h.csv", NULL, NULL),
               CARNET_EINVAL, "h.csv: line 1 (the header): a byte that is not UTF-8");
  assert_same_digest(d0, digest_of(r));
  free(rejects);
  free(csv);
  free(s);
}

/* An export, cut in half and then scrambled: refused, nothing written. */
static void test_malformed_xlsx(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0], *r2 = f->r[1];
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  ASSERT_OK(r,
            carnet_import_buffer(r, customers_csv, sizeof customers_csv - 1, "c.csv", NULL, NULL));
  carnet_export_options eo = CARNET_EXPORT_OPTIONS_INIT;
  void *bytes = NULL;
  size_t len = 0;
  eo.format = CARNET_SHEET_XLSX;
  ASSERT_OK(r, carnet_export_buffer(r, &eo, &bytes, &len, NULL));
  assert_true(len > 100);
  assert_memory_equal(bytes, "PK\x03\x04", 4);
  digest d0 = digest_of(r2);
  ASSERT_FAILS(r2, carnet_import_buffer(r2, bytes, len / 2, "cut.xlsx", NULL, &rep), CARNET_EINVAL,
               "cut.xlsx: not an Excel workbook");
  /* No name: a zip by its first bytes. */
  ASSERT_FAILS(r2, carnet_import_buffer(r2, bytes, len / 2, NULL, NULL, &rep), CARNET_EINVAL,
               "not an Excel workbook");
  assert_int_equal(rep.format, CARNET_SHEET_XLSX);
  trng g;
  trng_seed(&g, 3);
  unsigned char *junk = malloc(len);
  assert_non_null(junk);
  memcpy(junk, bytes, len);
  for (size_t i = 64; i < len; i++)
    junk[i] = (unsigned char)trng_next(&g);
  int rc = carnet_import_buffer(r2, junk, len, "junk.xlsx", NULL, &rep);
  assert_true(rc == CARNET_EINVAL || rc == CARNET_ELIMIT);
  assert_non_null(strstr(carnet_replica_errmsg(r2), "nothing was imported"));
  /* A workbook read as CSV: refused by its bytes or its header. */
  carnet_import_options o = CARNET_IMPORT_OPTIONS_INIT;
  o.format = CARNET_SHEET_CSV;
  assert_int_equal(carnet_import_buffer(r2, bytes, len, "x.xlsx", &o, &rep), CARNET_EINVAL);
  assert_same_digest(d0, digest_of(r2));
  assert_int_equal(live_customers(r2), 0);
  free(junk);
  carnet_free(bytes);
}

/* --- errors: the documented code, a clear message, nothing written ------------ */

static void test_errors(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  char *missing = path_in(f, "absent.csv"), *good = path_in(f, "c.csv"),
       *odd = path_in(f, "odd.csv"), *empty = path_in(f, "empty.csv");
  write_file(good, customers_csv, sizeof customers_csv - 1);
  write_file(odd, "a,b\n1,2\n", 8);
  write_file(empty, "", 0);
  digest d0 = digest_of(r);
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;

  ASSERT_FAILS(r, carnet_import_file(r, missing, NULL, &rep), CARNET_ENOTFOUND, "cannot open ");
  assert_non_null(strstr(carnet_replica_errmsg(r), "absent.csv: No such file or directory"));
  ASSERT_FAILS(r, carnet_import_file(r, f->root, NULL, &rep), CARNET_EINVAL,
               "is not a regular file");
  ASSERT_FAILS(r, carnet_import_file(r, empty, NULL, &rep), CARNET_EINVAL, "the file is empty");

  /* A header with no name: which columns were understood is told first. */
  seen *s = calloc(1, sizeof *s);
  carnet_import_options o = options(s);
  ASSERT_FAILS(r, carnet_import_file(r, odd, &o, &rep), CARNET_EINVAL,
               "no column of the header (line 1) holds a name or a company");
  assert_int_equal(s->ncolumns, 2);
  assert_string_equal(s->columns[0], "a=-");
  assert_int_equal(s->n, 0);

  /* Map pairs: the field and the column must exist. */
  const char *bad_field[] = {"Ville=bogus"};
  o.maps = bad_field, o.nmaps = 1;
  ASSERT_FAILS(r, carnet_import_file(r, good, &o, &rep), CARNET_EINVAL,
               "invalid --map 'Ville=bogus': unknown field 'bogus' (fields: name, first_name");
  const char *no_col[] = {"Fax=notes"};
  o.maps = no_col;
  ASSERT_FAILS(r, carnet_import_file(r, good, &o, &rep), CARNET_EINVAL,
               "the file has no column 'Fax'");
  const char *no_eq[] = {"notes"};
  o.maps = no_eq;
  ASSERT_FAILS(r, carnet_import_file(r, good, &o, &rep), CARNET_EINVAL, "write COLUMN=FIELD");
  /* ... and a good one moves a column, marked as mapped. */
  const char *ok[] = {"a=ignore", "b=name"};
  o.maps = ok, o.nmaps = 2;
  s->ncolumns = 0;
  o.dry_run = true;
  ASSERT_OK(r, carnet_import_file(r, odd, &o, &rep));
  assert_string_equal(s->columns[0], "a=-+");
  assert_string_equal(s->columns[1], "b=name+");
  assert_int_equal(rep.imported, 1);
  o.dry_run = false;

  /* Options out of range, and the caller's bugs. */
  carnet_import_options bad = CARNET_IMPORT_OPTIONS_INIT;
  bad.batch = CARNET_IMPORT_BATCH_MAX + 1;
  ASSERT_FAILS(r, carnet_import_file(r, good, &bad, &rep), CARNET_EINVAL, "invalid batch");
  bad = (carnet_import_options)CARNET_IMPORT_OPTIONS_INIT;
  bad.on_duplicate = (carnet_import_dup)9;
  ASSERT_FAILS(r, carnet_import_file(r, good, &bad, &rep), CARNET_EINVAL, "duplicate mode 9");
  bad = (carnet_import_options)CARNET_IMPORT_OPTIONS_INIT;
  bad.format = (carnet_sheet_format)7;
  ASSERT_FAILS(r, carnet_import_file(r, good, &bad, &rep), CARNET_EINVAL, "unknown format 7");
  carnet_import_options unsized = {0};
  ASSERT_FAILS(r, carnet_import_file(r, good, &unsized, &rep), CARNET_EMISUSE,
               "CARNET_IMPORT_OPTIONS_INIT");
  carnet_import_report unsized_rep = {0};
  ASSERT_FAILS(r, carnet_import_file(r, good, NULL, &unsized_rep), CARNET_EMISUSE,
               "CARNET_IMPORT_REPORT_INIT");
  ASSERT_FAILS(r, carnet_import_file(r, NULL, NULL, NULL), CARNET_EMISUSE, "no path");
  ASSERT_FAILS(r, carnet_import_buffer(r, NULL, 3, NULL, NULL, NULL), CARNET_EMISUSE, "no data");
  assert_int_equal(carnet_import_file(NULL, good, NULL, NULL), CARNET_EMISUSE);
  carnet_txn *t;
  ASSERT_OK(r, carnet_txn_begin(r, &t));
  ASSERT_FAILS(r, carnet_import_file(r, good, NULL, &rep), CARNET_EMISUSE, "a transaction is open");
  carnet_txn_abort(t);

  /* The rejects file cannot be written: every row is imported all the
   * same, the report says so, the error says why. */
  char *nodir = path_in(f, "no/such/dir/rejets.csv");
  o = (carnet_import_options)CARNET_IMPORT_OPTIONS_INIT;
  o.rejects_path = nodir;
  ASSERT_FAILS(r, carnet_import_file(r, good, &o, &rep), CARNET_ENOTFOUND, "cannot create ");
  assert_int_equal(rep.imported, FILE_IMPORTED);
  assert_int_equal(rep.committed, FILE_ROWS);
  assert_int_equal(rep.stopped_line, 0);
  assert_int_equal(live_customers(r), FILE_IMPORTED);
  d0 = digest_of(r);

  /* A report is filled whatever fails, and says nothing was done. */
  rep.imported = 99;
  ASSERT_FAILS(r, carnet_import_file(r, missing, NULL, &rep), CARNET_ENOTFOUND, "cannot open");
  assert_int_equal(rep.imported, 0);
  assert_same_digest(d0, digest_of(r));
  free(s), free(missing), free(good), free(odd), free(empty), free(nodir);
}

/* on_row stops the import: the open batch is not written, the committed
 * ones stay, and the report says where. */
static void test_callback_stops(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  digest d0 = digest_of(r);
  seen *s = calloc(1, sizeof *s);
  carnet_import_options o = options(s);
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  s->stop_at = 3, s->stop_value = 7;
  ASSERT_FAILS(r,
               carnet_import_buffer(r, customers_csv, sizeof customers_csv - 1, "c.csv", &o, &rep),
               7, "stopped by the caller");
  assert_int_equal(rep.stopped_line, 4);
  assert_int_equal(rep.rows, 3);
  assert_int_equal(rep.committed, 0);
  assert_same_digest(d0, digest_of(r)); /* one batch (1000 rows): nothing */

  /* Batches of two rows: the first two batches are written. */
  s->n = 0, s->nprogress = 0, s->ncolumns = 0, s->stop_at = 5;
  o.batch = 2;
  ASSERT_FAILS(r,
               carnet_import_buffer(r, customers_csv, sizeof customers_csv - 1, "c.csv", &o, &rep),
               7, "stopped by the caller");
  assert_int_equal(rep.stopped_line, 6);
  assert_int_equal(rep.committed, 4);
  assert_int_equal(live_customers(r), 3); /* lines 2, 3, 4; line 5 is a duplicate of 4 */
  /* The same call again finishes the job. */
  s->n = 0, s->stop_at = 0;
  ASSERT_OK(r, carnet_import_buffer(r, customers_csv, sizeof customers_csv - 1, "c.csv", &o, &rep));
  assert_int_equal(rep.imported, FILE_IMPORTED - 3);
  assert_int_equal(live_customers(r), FILE_IMPORTED);
  free(s);
}

/* Progress over a larger file: monotone, the total fixed, the end reached. */
static void test_progress(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  enum { N = 1300 };
  size_t cap = 64 * (N + 2), used = 0;
  char *text = malloc(cap);
  assert_non_null(text);
  used += (size_t)snprintf(text + used, cap - used, "Nom;E-mail;Ville\n");
  for (int i = 0; i < N; i++)
    used +=
        (size_t)snprintf(text + used, cap - used, "Client %d;client.%d@exemple.fr;Lyon\n", i, i);
  seen *s = calloc(1, sizeof *s);
  carnet_import_options o = options(s);
  carnet_import_report rep = CARNET_IMPORT_REPORT_INIT;
  o.on_row = NULL;
  ASSERT_OK(r, carnet_import_buffer(r, text, used, "big.csv", &o, &rep));
  assert_int_equal(rep.imported, N);
  assert_int_equal(s->nprogress, N / 256 + 1);
  for (size_t i = 0; i < s->nprogress; i++)
    assert_int_equal(s->progress_total[i], N);
  assert_int_equal(s->progress_done[0], 256);
  assert_int_equal(s->progress_done[s->nprogress - 1], N);

  /* Export: records written, of a total known ahead for customers. */
  memset(s, 0, sizeof *s);
  carnet_export_options eo = CARNET_EXPORT_OPTIONS_INIT;
  carnet_export_report er = CARNET_EXPORT_REPORT_INIT;
  void *bytes = NULL;
  size_t len = 0;
  eo.on_progress = on_progress;
  eo.ctx = s;
  ASSERT_OK(r, carnet_export_buffer(r, &eo, &bytes, &len, &er));
  assert_int_equal(er.records, N);
  assert_int_equal(s->progress_total[0], N);
  assert_int_equal(s->progress_done[63], N);
  carnet_free(bytes);
  free(s);
  free(text);
}

/* --- export, then import: nothing lost -------------------------------------------- */

/* Every field an export carries, compared one by one. */
static void assert_same_customer(const carnet_record *a, const carnet_record *b) {
  static const carnet_field scalars[] = {
      CARNET_F_TYPE,      CARNET_F_NAME,     CARNET_F_COMPANY,  CARNET_F_SIRET,    CARNET_F_VAT_ID,
      CARNET_F_STREET,    CARNET_F_POSTCODE, CARNET_F_CITY,     CARNET_F_COUNTRY,  CARNET_F_GEO,
      CARNET_F_SALES_REP, CARNET_F_CHANNEL,  CARNET_F_DISCOUNT, CARNET_F_CONFLICT, CARNET_F_NOTES,
  };
  static const carnet_field sets[] = {CARNET_F_ROLES, CARNET_F_EMAILS, CARNET_F_PHONES,
                                      CARNET_F_TAGS};
  char hex[CARNET_ID_HEX_LEN + 1];
  carnet_id_format(carnet_record_id(a), hex);
  assert_memory_equal(carnet_record_id(a)->b, carnet_record_id(b)->b, 16);
  for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
    const char *x = carnet_record_str(a, scalars[i]), *y = carnet_record_str(b, scalars[i]);
    if ((x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0))
      fail_msg("%s: field %s: '%s' became '%s'", hex, carnet_field_get(scalars[i])->name,
               x ? x : "(unset)", y ? y : "(unset)");
  }
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
    const char *const *x, *const *y;
    size_t nx = carnet_record_elems(a, sets[i], &x), ny = carnet_record_elems(b, sets[i], &y);
    if (nx != ny)
      fail_msg("%s: field %s: %zu elements became %zu", hex, carnet_field_get(sets[i])->name, nx,
               ny);
    for (size_t k = 0; k < nx; k++)
      assert_string_equal(x[k], y[k]);
  }
  const carnet_custom *cx, *cy;
  size_t nx = carnet_record_customs(a, &cx), ny = carnet_record_customs(b, &cy);
  assert_int_equal(nx, ny);
  for (size_t k = 0; k < nx; k++) {
    assert_string_equal(cx[k].name, cy[k].name);
    assert_int_equal(cx[k].type, cy[k].type);
    assert_string_equal(cx[k].value, cy[k].value);
  }
}

typedef struct pair {
  carnet_replica *other;
  size_t n;
} pair;

static int compare_cb(const carnet_record *rec, void *data) {
  pair *p = data;
  carnet_record *o = NULL;
  int rc = carnet_record_get(p->other, carnet_record_id(rec), &o);
  if (rc) {
    char hex[CARNET_ID_HEX_LEN + 1];
    carnet_id_format(carnet_record_id(rec), hex);
    fail_msg("customer %s missing after the round trip", hex);
  }
  assert_same_customer(rec, o);
  carnet_record_free(o);
  p->n++;
  return 0;
}

/* Customers with everything a customer can hold. */
static void fill_book(carnet_replica *r) {
  ASSERT_OK(r,
            carnet_import_buffer(r, customers_csv, sizeof customers_csv - 1, "c.csv", NULL, NULL));
  carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_non_null(p);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_TYPE, "company"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, "Noël Blanc"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_COMPANY, "Garage Blanc SA | \"Auto\"; 2"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_ROLES, "customer"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_ROLES, "supplier"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_EMAILS, "noel@blanc.fr"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_EMAILS, "compta@blanc.fr"));
  ASSERT_OK(r, carnet_patch_phone(p, "home", "01 45 67 89 11"));
  ASSERT_OK(r, carnet_patch_phone(p, "mobile", "+32 470 12 34 56"));
  ASSERT_OK(r, carnet_patch_phone(p, "work", "04 78 00 00 01"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_TAGS, "vip"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_TAGS, "export, été"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_SIRET, "44306184100047"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_VAT_ID, "FR00123456789"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_STREET, "3 rue de l'Église"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_POSTCODE, "01000"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CITY, "Bourg-en-Bresse"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_COUNTRY, "FR"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_GEO, "46.2052,5.2255"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_SALES_REP, "Alice"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CHANNEL, "salon"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_DISCOUNT, "1250"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_CONFLICT, "true"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NOTES, "ligne 1\r\nligne 2; \"citée\""));
  ASSERT_OK(r, carnet_patch_custom(p, "liste", CARNET_CUSTOM_LIST, "a|b"));
  ASSERT_OK(r, carnet_patch_custom(p, "ok", CARNET_CUSTOM_CHECKBOX, "true"));
  ASSERT_OK(r, carnet_patch_custom(p, "depuis", CARNET_CUSTOM_DATE, "2023-03-15"));
  ASSERT_OK(r, carnet_patch_custom(p, "surface", CARNET_CUSTOM_NUMBER, "120.5"));
  ASSERT_OK(r, carnet_record_create_commit(r, p, NULL));
  carnet_patch_free(p);
  /* One tag with a comma, alone: the cell must still say it is one. */
  p = carnet_patch_new(CARNET_KIND_CUSTOMER);
  assert_non_null(p);
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NAME, "Cécile Blanc"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_TAGS, "salon; Lyon, 2024"));
  ASSERT_OK(r, carnet_patch_set(p, CARNET_F_NOTES, "_x0041_ stays as typed"));
  ASSERT_OK(r, carnet_record_create_commit(r, p, NULL));
  carnet_patch_free(p);
}

static void roundtrip(fx *f, carnet_sheet_format format, bool buffer) {
  carnet_replica *a = f->r[0], *b = f->r[1];
  fill_book(a);
  size_t n = live_customers(a);
  char *out = path_in(f, format == CARNET_SHEET_XLSX ? "export.xlsx" : "export.csv");
  carnet_export_options eo = CARNET_EXPORT_OPTIONS_INIT;
  carnet_export_report er = CARNET_EXPORT_REPORT_INIT;
  carnet_import_report ir = CARNET_IMPORT_REPORT_INIT;
  void *bytes = NULL;
  size_t len = 0;
  if (buffer) {
    eo.format = format;
    ASSERT_OK(a, carnet_export_buffer(a, &eo, &bytes, &len, &er));
    ASSERT_OK(b, carnet_import_buffer(b, bytes, len, NULL, NULL, &ir));
  } else {
    ASSERT_OK(a, carnet_export_file(a, out, NULL, &er)); /* the format from the name */
    ASSERT_OK(b, carnet_import_file(b, out, NULL, &ir));
  }
  assert_int_equal(er.format, format);
  assert_int_equal(ir.format, format);
  assert_int_equal(er.records, n);
  assert_int_equal(ir.imported, n);
  assert_int_equal(ir.rejected, 0);
  assert_int_equal(ir.skipped, 0);
  pair p = {b, 0};
  ASSERT_OK(a, carnet_record_list(a, CARNET_KIND_CUSTOMER, NULL, compare_cb, &p));
  assert_int_equal(p.n, n);
  assert_int_equal(live_customers(b), n);
  /* Imported again: the ids of the file, nothing twice. */
  if (buffer)
    ASSERT_OK(b, carnet_import_buffer(b, bytes, len, NULL, NULL, &ir));
  else
    ASSERT_OK(b, carnet_import_file(b, out, NULL, &ir));
  assert_int_equal(ir.imported, 0);
  assert_int_equal(ir.skipped, n);
  assert_int_equal(temp_files(f->root), 0);
  carnet_free(bytes);
  free(out);
}

static void test_roundtrip_csv_file(void **state) {
  roundtrip(*state, CARNET_SHEET_CSV, false);
}
static void test_roundtrip_xlsx_file(void **state) {
  roundtrip(*state, CARNET_SHEET_XLSX, false);
}
static void test_roundtrip_csv_buffer(void **state) {
  roundtrip(*state, CARNET_SHEET_CSV, true);
}
static void test_roundtrip_xlsx_buffer(void **state) {
  roundtrip(*state, CARNET_SHEET_XLSX, true);
}

/* A CSV export in memory is the file's bytes; other kinds have a sheet
 * too; errors of export. */
static void test_export(void **state) {
  fx *f = *state;
  carnet_replica *r = f->r[0];
  fill_book(r);
  char *out = path_in(f, "e.csv"), *nodir = path_in(f, "no/such/e.csv");
  carnet_export_options eo = CARNET_EXPORT_OPTIONS_INIT;
  carnet_export_report er = CARNET_EXPORT_REPORT_INIT;
  void *bytes = NULL;
  size_t len = 0, flen = 0;
  ASSERT_OK(r, carnet_export_file(r, out, &eo, &er));
  ASSERT_OK(r, carnet_export_buffer(r, &eo, &bytes, &len, &er));
  char *file = read_file(out, &flen);
  assert_int_equal(len, flen);
  assert_memory_equal(bytes, file, len);
  assert_int_equal(((char *)bytes)[len], '\0');
  assert_memory_equal(bytes, "\xef\xbb\xbfid;ref;type;name;company;", 26);
  free(file);
  carnet_free(bytes);

  /* A filter and another kind. */
  carnet_filter flt = {.tag = "vip"};
  eo.filter = &flt;
  ASSERT_OK(r, carnet_export_buffer(r, &eo, &bytes, &len, &er));
  assert_int_equal(er.records, 1);
  carnet_free(bytes);
  eo.filter = NULL;
  eo.kind = CARNET_KIND_CONTACT;
  ASSERT_OK(r, carnet_export_buffer(r, &eo, &bytes, &len, &er));
  assert_int_equal(er.records, 0);
  assert_non_null(strstr(bytes, "id;"));
  carnet_free(bytes);

  /* Errors: the output untouched, no temporary file left. */
  eo.kind = (carnet_kind)42;
  ASSERT_FAILS(r, carnet_export_file(r, out, &eo, &er), CARNET_EINVAL, "unknown kind 42");
  eo.kind = 0;
  ASSERT_FAILS(r, carnet_export_file(r, nodir, &eo, &er), CARNET_ENOTFOUND,
               "No such file or directory");
  carnet_export_options unsized = {0};
  ASSERT_FAILS(r, carnet_export_file(r, out, &unsized, NULL), CARNET_EMISUSE,
               "CARNET_EXPORT_OPTIONS_INIT");
  ASSERT_FAILS(r, carnet_export_buffer(r, NULL, NULL, &len, NULL), CARNET_EMISUSE,
               "no place for the bytes");
  assert_int_equal(temp_files(f->root), 0);
  if (geteuid() != 0) {
    char *ro = path_in(f, "ro"), *in_ro = path_in(f, "ro/e.csv");
    assert_int_equal(mkdir(ro, 0555), 0);
    ASSERT_FAILS(r, carnet_export_file(r, in_ro, NULL, NULL), CARNET_EPERM, "Permission denied");
    free(ro), free(in_ro);
  }
  free(out), free(nodir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_import_file_rejects),
      TEST(test_import_buffer_same_as_file),
      TEST(test_reimport_nothing_twice),
      TEST(test_on_duplicate),
      TEST(test_duplicates_in_group_and_across),
      TEST(test_dry_run),
      TEST(test_erased_rejected),
      TEST(test_windows_1252_and_bad_bytes),
      TEST(test_mostly_utf8_with_stray_bytes),
      TEST(test_malformed_xlsx),
      TEST(test_errors),
      TEST(test_callback_stops),
      TEST(test_progress),
      TEST(test_roundtrip_csv_file),
      TEST(test_roundtrip_xlsx_file),
      TEST(test_roundtrip_csv_buffer),
      TEST(test_roundtrip_xlsx_buffer),
      TEST(test_export),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
