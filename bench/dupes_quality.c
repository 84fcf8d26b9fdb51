/* bench/dupes_quality.c - carnet-dupes-quality: precision and recall of
 * duplicate detection on a generated base.
 *
 *   carnet-dupes-quality [--n 100000] [--seed S] [--min-score X]
 *                        [--cli PATH] [--keep DIR] [--examples K] [--dump FILE]
 *
 * Generates the base (bench/dupes_gen.h), writes it into a fresh replica in
 * a temporary directory through the public API (transactions of 1,000
 * carnet_record_create calls with explicit patches: the engine does not refuse
 * duplicates, only `carnet customer add` does), runs carnet_dupes_find at
 * the score given (default CARNET_DUPE_SCORE_DEFAULT), and counts a
 * reported pair as right when both records belong to one generated group.
 * Precision = right / reported, recall = right / true pairs. Then it times
 * the real `carnet dupes --json` on the same directory (the binary from
 * --cli, else the path compiled in as CARNET_QUALITY_CLI).
 *
 * Prints one JSON object on stdout and a summary line on stderr;
 * --examples K prints K false positives and K missed pairs to stderr;
 * --dump FILE writes every reported pair as a TSV line (same group 0/1,
 * score, reason bits, name similarity, same place, kinds of the records),
 * to study the weights offline (run it with --min-score 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/dupes_gen.h"
#include "carnet/carnet.h"

#ifndef CARNET_QUALITY_CLI
#define CARNET_QUALITY_CLI "carnet"
#endif

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, int rc, carnet_replica *r) {
  fprintf(stderr, "carnet-dupes-quality: %s: %s (%s)\n", what, carnet_error_name(rc),
          r ? carnet_replica_errmsg(r) : "");
  exit(2);
}

typedef struct idrec {
  carnet_id id;
  size_t idx;
} idrec;

static int idrec_cmp(const void *x, const void *y) {
  return memcmp(((const idrec *)x)->id.b, ((const idrec *)y)->id.b, 16);
}

static size_t find_idx(const idrec *v, size_t n, const carnet_id *id) {
  idrec key = {.id = *id};
  const idrec *p = bsearch(&key, v, n, sizeof *v, idrec_cmp);
  return p ? p->idx : (size_t)-1;
}

static void patch_rec(carnet_patch *p, const dg_rec *d) {
  int rc = carnet_patch_set(p, CARNET_F_TYPE, d->company_kind ? "company" : "individual");
  if (!rc && d->name[0]) rc = carnet_patch_set(p, CARNET_F_NAME, d->name);
  if (!rc && d->company[0]) rc = carnet_patch_set(p, CARNET_F_COMPANY, d->company);
  if (!rc && d->street[0]) rc = carnet_patch_set(p, CARNET_F_STREET, d->street);
  if (!rc) rc = carnet_patch_set(p, CARNET_F_POSTCODE, d->postcode);
  if (!rc) rc = carnet_patch_set(p, CARNET_F_CITY, d->city);
  if (!rc) rc = carnet_patch_set(p, CARNET_F_COUNTRY, "FR");
  if (!rc && d->siret[0]) rc = carnet_patch_set(p, CARNET_F_SIRET, d->siret);
  for (int i = 0; !rc && i < d->nemail; i++)
    rc = carnet_patch_set(p, CARNET_F_EMAILS, d->email[i]);
  for (int i = 0; !rc && i < d->nphone; i++)
    rc = carnet_patch_phone(p, d->phone_type[i], d->phone[i]);
  if (rc) die("building a patch", rc, NULL);
}

static const char *const kind_names[DG_KINDS] = {
    "orig",   "dup",     "neighbour",       "homonym-co",
    "family", "homonym", "homonym-co-here", "establishment"};

static void print_rec(const char *tag, const dg_rec *d) {
  fprintf(stderr, "   %s [%s g%u] name=\"%s\" company=\"%s\" %s %s siret=%s", tag,
          kind_names[d->kind], d->group, d->name, d->company, d->postcode, d->city, d->siret);
  for (int i = 0; i < d->nphone; i++)
    fprintf(stderr, " tel=%s", d->phone[i]);
  for (int i = 0; i < d->nemail; i++)
    fprintf(stderr, " mail=%s", d->email[i]);
  fputc('\n', stderr);
}

/* Wall time of `cli --dir DIR dupes --json` (stdout to /dev/null), in ms;
 * -1 when it could not run or failed. */
static double time_cli(const char *cli, const char *dir, double min_score, size_t *bytes) {
  char score[32];
  snprintf(score, sizeof score, "%g", min_score);
  char out_path[4200];
  snprintf(out_path, sizeof out_path, "%s.cli.json", dir);
  double t0 = now_ms();
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) dup2(fd, 1);
    execl(cli, cli, "--dir", dir, "dupes", "--json", "--min-score", score, (char *)NULL);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  double t = now_ms() - t0;
  FILE *f = fopen(out_path, "rb");
  *bytes = 0;
  if (f) {
    fseek(f, 0, SEEK_END);
    *bytes = (size_t)ftell(f);
    fclose(f);
  }
  unlink(out_path);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? t : -1;
}

static int rm_rf(const char *dir) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", dir);
  return system(cmd);
}

int main(int argc, char **argv) {
  size_t n = 100000, examples = 0;
  uint64_t seed = 1;
  double min_score = CARNET_DUPE_SCORE_DEFAULT;
  const char *cli = CARNET_QUALITY_CLI, *keep = NULL, *dump = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--n") == 0 && v)
      n = strtoull(v, NULL, 10), i++;
    else if (strcmp(a, "--seed") == 0 && v)
      seed = strtoull(v, NULL, 10), i++;
    else if (strcmp(a, "--min-score") == 0 && v)
      min_score = strtod(v, NULL), i++;
    else if (strcmp(a, "--cli") == 0 && v)
      cli = v, i++;
    else if (strcmp(a, "--keep") == 0 && v)
      keep = v, i++;
    else if (strcmp(a, "--dump") == 0 && v)
      dump = v, i++;
    else if (strcmp(a, "--examples") == 0 && v)
      examples = strtoull(v, NULL, 10), i++;
    else {
      fprintf(stderr,
              "usage: carnet-dupes-quality [--n N] [--seed S] [--min-score X] [--cli PATH]\n"
              "                            [--keep DIR] [--examples K] [--dump FILE]\n");
      return 2;
    }
  }
  if (n < 10) n = 10;

  double t0 = now_ms();
  dg_base base;
  if (dg_generate(n, seed, &base)) die("generating", CARNET_ENOMEM, NULL);
  double gen_ms = now_ms() - t0;

  char dir[4096];
  if (keep) {
    snprintf(dir, sizeof dir, "%s", keep);
  } else {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/carnet-dq-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
      perror("mkdtemp");
      return 2;
    }
    rmdir(dir); /* carnet_replica_init makes it */
  }
  char err[256] = "";
  carnet_replica *r = NULL;
  int rc = carnet_replica_init(dir, NULL, &r, err, sizeof err);
  if (rc) {
    fprintf(stderr, "carnet-dupes-quality: init %s: %s\n", dir, err);
    return 2;
  }

  idrec *ids = calloc(base.n, sizeof *ids);
  if (ids == NULL) die("allocating", CARNET_ENOMEM, r);
  t0 = now_ms();
  for (size_t i = 0; i < base.n;) {
    carnet_txn *t;
    if ((rc = carnet_txn_begin(r, &t))) die("txn_begin", rc, r);
    for (size_t k = 0; k < 1000 && i < base.n; k++, i++) {
      carnet_patch *p = carnet_patch_new(CARNET_KIND_CUSTOMER);
      if (p == NULL) die("patch_new", CARNET_ENOMEM, r);
      patch_rec(p, &base.recs[i]);
      rc = carnet_record_create(t, p, NULL, &ids[i].id);
      carnet_patch_free(p);
      if (rc) {
        print_rec("record", &base.recs[i]);
        die("carnet_record_create", rc, r);
      }
      ids[i].idx = i;
    }
    if ((rc = carnet_txn_commit(t))) die("txn_commit", rc, r);
  }
  double load_ms = now_ms() - t0;
  qsort(ids, base.n, sizeof *ids, idrec_cmp);

  carnet_dupe *d = NULL;
  size_t nd = 0;
  t0 = now_ms();
  if ((rc = carnet_dupes_find(r, min_score, &d, &nd))) die("carnet_dupes_find", rc, r);
  double api_ms = now_ms() - t0;

  size_t tp = 0, fp = 0, fp_kind[DG_KINDS] = {0};
  size_t fp_shown = 0;
  /* Found true pairs, to list the missed ones: mark per record. */
  unsigned char *hit = calloc(base.n, 1);
  FILE *df = dump ? fopen(dump, "w") : NULL;
  if (dump && df == NULL) {
    perror(dump);
    return 2;
  }
  for (size_t i = 0; i < nd; i++) {
    size_t x = find_idx(ids, base.n, &d[i].a), y = find_idx(ids, base.n, &d[i].b);
    if (x == (size_t)-1 || y == (size_t)-1) die("a pair names an unknown id", CARNET_ECORRUPT, r);
    const dg_rec *rx = &base.recs[x], *ry = &base.recs[y];
    if (df)
      fprintf(df, "%d\t%.3f\t%u\t%.3f\t%d\t%d\t%d\n", rx->group == ry->group, d[i].score,
              d[i].reasons, d[i].name_similarity, d[i].same_place, rx->kind, ry->kind);
    if (rx->group == ry->group) {
      tp++;
      hit[x] = hit[y] = 1;
    } else {
      fp++;
      int k = rx->kind > ry->kind ? rx->kind : ry->kind;
      fp_kind[k]++;
      if (fp_shown < examples) {
        fp_shown++;
        fprintf(stderr, "FP score=%.3f reasons=0x%x sim=%.3f place=%d\n", d[i].score, d[i].reasons,
                d[i].name_similarity, d[i].same_place);
        print_rec("a", rx);
        print_rec("b", ry);
      }
    }
  }
  /* Missed pairs: for groups with two or three records, count pairs not
   * reported (exact per group: sort record indexes by group). */
  size_t fn_shown = 0;
  if (examples > 0) {
    size_t *byg = malloc(base.n * sizeof *byg);
    for (size_t i = 0; i < base.n; i++)
      byg[i] = i;
    /* counting sort by group */
    uint32_t maxg = 0;
    for (size_t i = 0; i < base.n; i++)
      if (base.recs[i].group > maxg) maxg = base.recs[i].group;
    size_t *cnt = calloc((size_t)maxg + 2, sizeof *cnt);
    for (size_t i = 0; i < base.n; i++)
      cnt[base.recs[i].group + 1]++;
    for (size_t g = 1; g <= (size_t)maxg + 1; g++)
      cnt[g] += cnt[g - 1];
    for (size_t i = 0; i < base.n; i++)
      byg[cnt[base.recs[i].group]++] = i;
    for (size_t i = 0; i + 1 < base.n && fn_shown < examples; i++) {
      size_t a = byg[i], b = byg[i + 1];
      if (base.recs[a].group != base.recs[b].group || (hit[a] && hit[b])) continue;
      fn_shown++;
      /* the best score the pair gets, if any, at min score 0 */
      fprintf(stderr, "FN (not reported at %.2f)\n", min_score);
      print_rec("a", &base.recs[a]);
      print_rec("b", &base.recs[b]);
    }
    free(cnt);
    free(byg);
  }
  free(hit);
  if (df) fclose(df);
  carnet_free(d);
  free(ids);
  carnet_replica_close(r);

  size_t cli_bytes = 0;
  double cli_ms = time_cli(cli, dir, min_score, &cli_bytes);

  double precision = nd ? (double)tp / (double)nd : 1.0;
  double recall = base.true_pairs ? (double)tp / (double)base.true_pairs : 1.0;
  printf("{\"n\": %zu, \"seed\": %llu, \"min_score\": %.3f, \"true_pairs\": %zu, \"reported\": %zu,"
         " \"true_positives\": %zu, \"false_positives\": %zu,"
         " \"fp_by_kind\": {\"plain\": %zu, \"neighbour\": %zu, \"homonym_company\": %zu,"
         " \"family\": %zu, \"homonym\": %zu, \"homonym_company_here\": %zu,"
         " \"establishment\": %zu},"
         " \"precision\": %.4f, \"recall\": %.4f, \"generate_ms\": %.0f, \"load_ms\": %.0f,"
         " \"dupes_api_ms\": %.0f, \"dupes_cli_ms\": %.0f, \"cli_json_bytes\": %zu}\n",
         base.n, (unsigned long long)seed, min_score, base.true_pairs, nd, tp, fp,
         fp_kind[DG_ORIGINAL] + fp_kind[DG_DUPLICATE], fp_kind[DG_NEG_NEIGHBOUR],
         fp_kind[DG_NEG_HOMONYM_CO], fp_kind[DG_NEG_FAMILY], fp_kind[DG_NEG_HOMONYM],
         fp_kind[DG_NEG_HOMONYM_CO_HERE], fp_kind[DG_NEG_ESTABLISHMENT], precision, recall, gen_ms,
         load_ms, api_ms, cli_ms, cli_bytes);
  fprintf(stderr,
          "dupes quality: n=%zu seed=%llu min_score=%.2f precision=%.4f recall=%.4f "
          "(tp=%zu fp=%zu true=%zu) api=%.0f ms cli=%.0f ms\n",
          base.n, (unsigned long long)seed, min_score, precision, recall, tp, fp, base.true_pairs,
          api_ms, cli_ms);
  if (!keep) rm_rf(dir);
  dg_free(&base);
  return 0;
}
