/* cli/cmd_dupes.c - `carnet dupes`: candidate duplicate customers with a
 * score and the reasons (carnet/dupes.h), best first; and the check that
 * `carnet customer add` runs before creating (cli_dupes_warn). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { O_MIN_SCORE = CLI_O_USER };

static const cli_opt dupes_opts[] = {
    {"min-score", 0, required_argument, O_MIN_SCORE, "S",
     "only pairs scoring at least S, between 0 and 1 (default 0.8)"},
    {NULL, 0, 0, 0, NULL, NULL},
};

static const cli_usage dupes_usage = {
    .summary = "List customers that may be duplicates, with a score and the reasons.",
    .opts = dupes_opts,
    .json = true,
    .args = "[review | dismiss A B | set-aside A B]",
    .max_pos = 0,
    .more = "'carnet dupes review' lists the pairs set aside; 'carnet dupes dismiss A B'\n"
            "records that two customers are not the same; 'carnet dupes set-aside A B' puts\n"
            "a pair on the review list; 'carnet merge KEEP OTHER' merges it.\n"
            "Reasons: same SIRET, same SIREN, same phone, same email, similar email (+tag or\n"
            "dots), similar person or company name in the same postcode/city (Jaro-Winkler\n"
            "of the folded names, shown as name~). Against (values both hold that differ):\n"
            "same company, other establishment (same SIREN, other SIRET: not a duplicate),\n"
            "different SIRET, e-mails, mobiles, phones, legal forms or contact persons.\n"
            "Nothing is merged.",
};

static bool parse_score(const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0)) return false;
  *out = v;
  return true;
}

/* The text of one reason: a similar name says whose names matched. */
static const char *reason_text(unsigned reasons, unsigned bit) {
  if (bit == CARNET_DUPE_NAME)
    return reasons & CARNET_DUPE_NAME_COMPANY ? "similar company name, same postcode/city"
                                              : "similar person name, same postcode/city";
  return carnet_dupes_reason_name((carnet_dupe_reason)bit);
}

/* "same phone, similar person name ... (name~0.96); against: different
 * e-mails" into a malloc'd string. */
static char *reasons_text(const carnet_dupe *d) {
  char buf[768] = "";
  for (unsigned bit = 1; bit <= CARNET_DUPE_NAME; bit <<= 1) {
    if (!(d->reasons & bit)) continue;
    if (buf[0]) strncat(buf, ", ", sizeof buf - strlen(buf) - 1);
    strncat(buf, reason_text(d->reasons, bit), sizeof buf - strlen(buf) - 1);
  }
  char sim[32];
  snprintf(sim, sizeof sim, " (name~%.2f)", d->name_similarity);
  strncat(buf, sim, sizeof buf - strlen(buf) - 1);
  const char *sep = "; against: ";
  for (unsigned bit = CARNET_DUPE_OTHER_ESTABLISHMENT; bit & CARNET_DUPE_AGAINST_MASK; bit <<= 1) {
    if (!(d->reasons & bit)) continue;
    strncat(buf, sep, sizeof buf - strlen(buf) - 1);
    strncat(buf, carnet_dupes_reason_name((carnet_dupe_reason)bit), sizeof buf - strlen(buf) - 1);
    sep = ", ";
  }
  return cli_oom(strdup(buf));
}

static json_t *json_side(const carnet_record *rec, const carnet_id *id) {
  char hex[CARNET_ID_HEX_LEN + 1];
  json_t *o = cli_oom(json_object());
  carnet_id_format(id, hex);
  cli_json_put(o, "id", cli_json_str(hex));
  cli_json_put(o, "refcode", cli_json_str(rec ? carnet_record_str(rec, CARNET_F_REFCODE) : NULL));
  cli_json_put(o, "name", cli_json_str(rec ? carnet_record_str(rec, CARNET_F_NAME) : NULL));
  return o;
}

static const char *name_of(const carnet_record *rec) {
  const char *n = rec ? carnet_record_str(rec, CARNET_F_NAME) : NULL;
  if (n == NULL && rec) n = carnet_record_str(rec, CARNET_F_COMPANY);
  return n ? n : "";
}

/* "Noël Blanc / Garage Blanc SARL" when the customer names a person and a
 * company, so the table shows the names a company match is about. */
static void names_of(const carnet_record *rec, char *out, size_t len) {
  const char *n = rec ? carnet_record_str(rec, CARNET_F_NAME) : NULL;
  const char *co = rec ? carnet_record_str(rec, CARNET_F_COMPANY) : NULL;
  if (n && n[0] && co && co[0] && strcmp(n, co) != 0)
    snprintf(out, len, "%s / %s", n, co);
  else
    snprintf(out, len, "%s", name_of(rec));
}

/* Print the pairs as a table (human) or append them to `arr` (JSON). */
static int print_pairs(cli *c, carnet_replica *r, const carnet_dupe *d, size_t n, json_t *arr,
                       FILE *f) {
  static const char *const headers[] = {"SCORE", "A", "NAME A", "B", "NAME B", "REASONS"};
  cli_table *t = f ? cli_oom(cli_table_new(6, headers)) : NULL;
  for (size_t i = 0; i < n; i++) {
    carnet_record *ra = NULL, *rb = NULL;
    int err = carnet_record_get(r, &d[i].a, &ra);
    if (err == 0) err = carnet_record_get(r, &d[i].b, &rb);
    if (err) {
      carnet_record_free(ra);
      cli_table_free(t);
      return cli_fail_rc(c, r, err, "reading a candidate");
    }
    char *why = reasons_text(&d[i]);
    if (arr) {
      json_t *o = cli_oom(json_object());
      cli_json_put(o, "score", json_real(d[i].score));
      cli_json_put(o, "a", json_side(ra, &d[i].a));
      cli_json_put(o, "b", json_side(rb, &d[i].b));
      json_t *rs = cli_oom(json_array()), *against = cli_oom(json_array());
      for (unsigned bit = 1; bit <= CARNET_DUPE_NAME; bit <<= 1)
        if (d[i].reasons & bit) cli_json_push(rs, cli_json_str(reason_text(d[i].reasons, bit)));
      for (unsigned bit = CARNET_DUPE_OTHER_ESTABLISHMENT; bit & CARNET_DUPE_AGAINST_MASK;
           bit <<= 1)
        if (d[i].reasons & bit)
          cli_json_push(against, cli_json_str(carnet_dupes_reason_name((carnet_dupe_reason)bit)));
      cli_json_put(o, "reasons", rs);
      cli_json_put(o, "against", against);
      cli_json_put(o, "names_matched",
                   !(d[i].reasons & CARNET_DUPE_NAME)        ? json_null()
                   : d[i].reasons & CARNET_DUPE_NAME_COMPANY ? cli_json_str("company")
                                                             : cli_json_str("person"));
      cli_json_put(o, "name_similarity", json_real(d[i].name_similarity));
      cli_json_put(o, "name_measure", cli_json_str("jaro-winkler"));
      cli_json_put(o, "same_place", json_boolean(d[i].same_place));
      cli_json_push(arr, o);
    } else {
      char score[16], la[CARNET_ID_HEX_LEN + 1], lb[CARNET_ID_HEX_LEN + 1], na[512], nb[512];
      snprintf(score, sizeof score, "%.3f", d[i].score);
      names_of(ra, na, sizeof na);
      names_of(rb, nb, sizeof nb);
      const char *row[] = {score, cli_label(ra, la), na, cli_label(rb, lb), nb, why};
      cli_table_add(t, row);
    }
    free(why);
    carnet_record_free(ra);
    carnet_record_free(rb);
  }
  if (t) {
    cli_table_print(t, f, 0);
    cli_table_free(t);
  }
  return CLI_OK;
}

int cli_cmd_dupes(cli *c, int argc, char **argv) {
  carnet_replica *r = NULL;
  carnet_dupe *d = NULL;
  size_t n = 0;
  double min = CARNET_DUPE_SCORE_DEFAULT;
  cli_args a;
  bool handled;
  int rc = cli_dupes_sub(c, argc, argv, &handled);
  if (handled) return rc;
  rc = cli_parse(c, &dupes_usage, argc, argv, &a);
  if (rc) return rc;
  for (int i = 0; i < a.nopts; i++)
    if (a.opts[i].id == O_MIN_SCORE && !parse_score(a.opts[i].arg, &min)) {
      rc = cli_fail(c, CLI_EUSER, "--min-score: '%s' is not a number between 0 and 1",
                    a.opts[i].arg);
      goto done;
    }
  if ((rc = cli_open(c, &r))) goto done;
  int err = carnet_dupes_find(r, min, &d, &n);
  if (err == 0) err = carnet_dupes_filter(r, d, &n);
  if (err) {
    rc = cli_fail_rc(c, r, err, "finding duplicates");
    goto done;
  }
  if (c->json) {
    json_t *arr = cli_oom(json_array());
    if ((rc = print_pairs(c, r, d, n, arr, NULL))) {
      json_decref(arr);
      goto done;
    }
    rc = cli_json_print(c, arr);
  } else if (n == 0) {
    printf("no likely duplicates (score >= %.2f)\n", min);
  } else {
    rc = print_pairs(c, r, d, n, NULL, stdout);
  }
done:
  carnet_free(d);
  carnet_replica_close(r);
  cli_args_free(&a);
  return rc;
}

int cli_dupes_warn(cli *c, carnet_replica *r, const carnet_id *id, bool force, size_t *found) {
  carnet_dupe *d = NULL;
  size_t n = 0;
  *found = 0;
  int err = carnet_dupes_of(r, id, CARNET_DUPE_SCORE_DEFAULT, &d, &n);
  if (err == 0) err = carnet_dupes_filter(r, d, &n);
  if (err) {
    carnet_free(d);
    return cli_fail_rc(c, r, err, "checking for duplicates");
  }
  /* Refused: one line (the CLI's error contract) naming the best match.
   * Forced: a warning line per match, and the customer is created. */
  for (size_t i = 0; i < n && (force || i == 0); i++) {
    const carnet_id *other = memcmp(d[i].a.b, id->b, 16) == 0 ? &d[i].b : &d[i].a;
    carnet_record *rec = NULL;
    char label[CARNET_ID_HEX_LEN + 1], more[64] = "";
    if ((err = carnet_record_get(r, other, &rec)) != 0) {
      carnet_free(d);
      return cli_fail_rc(c, r, err, "reading a likely duplicate");
    }
    char *why = reasons_text(&d[i]);
    if (force) {
      fprintf(stderr, "%s: warning: created although it looks like %s \"%s\" (score %.2f: %s)\n",
              c->cmd, cli_label(rec, label), name_of(rec), d[i].score, why);
    } else {
      if (n > 1) snprintf(more, sizeof more, " and %zu other customer%s", n - 1, n > 2 ? "s" : "");
      fprintf(stderr,
              "%s: not created: likely duplicate of %s \"%s\" (score %.2f: %s)%s; see 'carnet "
              "dupes', or add --force to create it anyway\n",
              c->cmd, cli_label(rec, label), name_of(rec), d[i].score, why, more);
    }
    free(why);
    carnet_record_free(rec);
  }
  *found = n;
  carnet_free(d);
  return CLI_OK;
}
