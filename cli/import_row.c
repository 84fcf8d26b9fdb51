/* cli/import_row.c - one row of an import file as a patch: values trimmed,
 * multi-valued cells split, French words for types, roles and flags
 * understood, then every value converted by the same code as the flags of
 * `carnet customer add` (cli_field_apply), and checked by the engine
 * (carnet_record_check) like any write.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/import.h"

/* Spaces, tabs, line breaks and no-break spaces (U+00A0) around a value. */
static const char *trim(const char *s, size_t *len) {
  size_t n = strlen(s);
  for (;;) {
    if (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
      s++, n--;
    else if (n >= 2 && (unsigned char)s[0] == 0xc2 && (unsigned char)s[1] == 0xa0)
      s += 2, n -= 2;
    else
      break;
  }
  for (;;) {
    if (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
      n--;
    else if (n >= 2 && (unsigned char)s[n - 2] == 0xc2 && (unsigned char)s[n - 1] == 0xa0)
      n -= 2;
    else
      break;
  }
  *len = n;
  return s;
}

static char *trimmed(const carnet__sheet *sh, size_t row, size_t col) {
  size_t n;
  const char *s = trim(carnet__sheet_get(sh, row, col), &n);
  return cli_oom(strndup(s, n));
}

const char *imp_cell(const carnet__sheet *sh, size_t row, size_t col, char *buf, size_t len) {
  size_t n;
  const char *s = trim(carnet__sheet_get(sh, row, col), &n);
  if (n >= len) {
    n = len - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) n--; /* a character boundary */
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
  return buf;
}

/* --- words ---------------------------------------------------------------- */

static bool word_in(const char *v, const char *const *list) {
  for (; *list; list++)
    if (strcasecmp(v, *list) == 0) return true;
  return false;
}

static const char *type_word(const char *v) {
  static const char *const ind[] = {"individual", "particulier", "personne", "person",
                                    "private",    "individu",    NULL};
  static const char *const co[] = {"company",     "societe",   "société",      "entreprise",
                                   "professionnel", "pro",     "business",     "organisation",
                                   "organization",  NULL};
  if (word_in(v, ind)) return "individual";
  if (word_in(v, co)) return "company";
  return v; /* the engine says what is wrong */
}

static const char *role_word(const char *v) {
  static const char *const cu[] = {"customer", "client", "clients", "cliente", NULL};
  static const char *const su[] = {"supplier", "fournisseur", "fournisseurs", NULL};
  if (word_in(v, cu)) return "customer";
  if (word_in(v, su)) return "supplier";
  if (strcasecmp(v, "prospect") == 0 || strcasecmp(v, "prospects") == 0) return "prospect";
  return v;
}

/* true/false in English or French; NULL when neither. */
static const char *bool_word(const char *v) {
  static const char *const yes[] = {"true", "yes", "oui", "vrai", "1", "x", "o", "y", NULL};
  static const char *const no[] = {"false", "no", "non", "faux", "0", "n", NULL};
  if (word_in(v, yes)) return "conflict";
  if (word_in(v, no)) return "no-conflict";
  return NULL;
}

/* --- what an existing customer already has (merge) -------------------------- */

static bool has_scalar(const carnet_record *rec, carnet_field f) {
  const char *s = carnet_record_str(rec, f);
  return s && s[0];
}

static bool has_email(const carnet_record *rec, const char *email) {
  char k1[256], k2[256];
  const char *const *v;
  size_t n = carnet_record_elems(rec, CARNET_F_EMAILS, &v);
  if (carnet_email_key(email, k1, sizeof k1) != 0) return false;
  for (size_t i = 0; i < n; i++)
    if (carnet_email_key(v[i], k2, sizeof k2) == 0 && strcmp(k1, k2) == 0) return true;
  return false;
}

static bool has_phone(const carnet_record *rec, const char *number) {
  char e164[CARNET_PHONE_E164_MAX], type[32];
  const char *const *v;
  size_t n = carnet_record_elems(rec, CARNET_F_PHONES, &v);
  if (carnet_phone_normalize(number, e164, sizeof e164) != 0) return false;
  for (size_t i = 0; i < n; i++)
    if (strcmp(cli_phone_split(v[i], type, sizeof type), e164) == 0) return true;
  return false;
}

static bool has_elem(const carnet_record *rec, carnet_field f, const char *e) {
  const char *const *v;
  size_t n = carnet_record_elems(rec, f, &v);
  for (size_t i = 0; i < n; i++)
    if (strcmp(v[i], e) == 0) return true;
  return false;
}

static bool has_custom(const carnet_record *rec, const char *spec) {
  const carnet_custom *cf;
  size_t n = carnet_record_customs(rec, &cf), len = strcspn(spec, ":");
  for (size_t i = 0; i < n; i++)
    if (strlen(cf[i].name) == len && strncmp(cf[i].name, spec, len) == 0) return true;
  return false;
}

/* --- building the patch ------------------------------------------------------ */

typedef struct rowctx {
  const carnet_record *existing;
  carnet_patch *p;
  bool empty;
  char *why;
  size_t why_len;
} rowctx;

static int flag(rowctx *x, const char *name, const char *value) {
  x->empty = false;
  return cli_field_apply(CARNET_KIND_CUSTOMER, name, value, x->p, x->why, x->why_len);
}

/* One element of a multi-valued cell. */
static int element(rowctx *x, imp_target t, const char *v) {
  char type[16];
  const carnet_record *e = x->existing;
  switch (t) {
  case IMP_EMAILS:
    return e && has_email(e, v) ? CLI_OK : flag(x, "email", v);
  case IMP_TAGS:
    return e && has_elem(e, CARNET_F_TAGS, v) ? CLI_OK : flag(x, "tag", v);
  case IMP_ROLES:
    v = role_word(v);
    return e && has_elem(e, CARNET_F_ROLES, v) ? CLI_OK : flag(x, "role", v);
  default:
    break;
  }
  /* Phones: "mobile:+33..." as exported keeps its type. */
  const char *colon = strchr(v, ':');
  const char *number = v;
  if (colon && (size_t)(colon - v) < sizeof type) {
    snprintf(type, sizeof type, "%.*s", (int)(colon - v), v);
    if (strcmp(type, "mobile") == 0 || strcmp(type, "work") == 0 || strcmp(type, "home") == 0) {
      number = colon + 1;
      if (e && has_phone(e, number)) return CLI_OK;
      x->empty = false;
      int rc = carnet_patch_phone(x->p, type, number);
      if (rc == CARNET_ENOMEM) cli_oom(NULL);
      return CLI_OK;
    }
  }
  if (e && has_phone(e, number)) return CLI_OK;
  return flag(x, t == IMP_MOBILE ? "mobile" : t == IMP_WORK_PHONE ? "work-phone"
                 : t == IMP_HOME_PHONE ? "home-phone" : "phone",
              number);
}

/* The separators of a multi-valued cell: "a@x.fr, b@y.fr", "vip|export".
 * Phones are split on '|', ';' and ',' only (they hold spaces, dots and
 * slashes). */
static const char *seps_of(imp_target t) {
  if (t == IMP_EMAILS) return "|,; \t\n";
  if (t == IMP_TAGS || t == IMP_ROLES) return "|,;\n";
  return "|;,\n";
}

/* Calls fn for each trimmed, non-empty element of `v`; stops at the first
 * non-zero return and returns it. */
static int split(imp_target t, const char *v, int (*fn)(void *ctx, imp_target t, const char *e),
                 void *ctx) {
  char *copy = cli_oom(strdup(v)), *save = NULL;
  int rc = 0;
  for (char *tok = strtok_r(copy, seps_of(t), &save); tok && rc == 0;
       tok = strtok_r(NULL, seps_of(t), &save)) {
    size_t n;
    const char *s = trim(tok, &n);
    if (n == 0) continue;
    char *one = cli_oom(strndup(s, n));
    rc = fn(ctx, t, one);
    free(one);
  }
  free(copy);
  return rc;
}

static int element_cb(void *ctx, imp_target t, const char *e) {
  return element(ctx, t, e);
}

static int elements(rowctx *x, imp_target t, const char *v) {
  return split(t, v, element_cb, x);
}

static const struct {
  imp_target t;
  carnet_field field;
  const char *flag;
} scalars[] = {
    {IMP_SIRET, CARNET_F_SIRET, "siret"},          {IMP_VAT_ID, CARNET_F_VAT_ID, "vat-id"},
    {IMP_CITY, CARNET_F_CITY, "city"},             {IMP_COUNTRY, CARNET_F_COUNTRY, "country"},
    {IMP_GEO, CARNET_F_GEO, "geo"},                {IMP_SALES_REP, CARNET_F_SALES_REP, "sales-rep"},
    {IMP_CHANNEL, CARNET_F_CHANNEL, "channel"},    {IMP_DISCOUNT, CARNET_F_DISCOUNT, "discount"},
    {IMP_NOTES, CARNET_F_NOTES, "notes"},          {IMP_POSTCODE, CARNET_F_POSTCODE, "postcode"},
};

static int scalar(rowctx *x, imp_target t, const char *v) {
  char pc[8];
  for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
    if (scalars[i].t != t) continue;
    if (x->existing && has_scalar(x->existing, scalars[i].field)) return CLI_OK;
    /* A French postcode read from a number cell lost its leading zero. */
    if (t == IMP_POSTCODE && strlen(v) == 4 && strspn(v, "0123456789") == 4) {
      snprintf(pc, sizeof pc, "0%s", v);
      v = pc;
    }
    return flag(x, scalars[i].flag, v);
  }
  return CLI_OK;
}

/* The name: "first_name name" when both columns are there. */
static int name_and_street(rowctx *x, const char *first, const char *last, const char *street,
                           const char *street2) {
  int rc = CLI_OK;
  char *v = NULL;
  if ((first || last) && !(x->existing && has_scalar(x->existing, CARNET_F_NAME))) {
    size_t n = (first ? strlen(first) : 0) + (last ? strlen(last) : 0) + 2;
    v = cli_oom(malloc(n));
    snprintf(v, n, "%s%s%s", first ? first : "", first && last ? " " : "", last ? last : "");
    rc = flag(x, "name", v);
    free(v);
  }
  if (rc == CLI_OK && (street || street2) &&
      !(x->existing && has_scalar(x->existing, CARNET_F_STREET))) {
    size_t n = (street ? strlen(street) : 0) + (street2 ? strlen(street2) : 0) + 3;
    v = cli_oom(malloc(n));
    snprintf(v, n, "%s%s%s", street ? street : "", street && street2 ? ", " : "",
             street2 ? street2 : "");
    rc = flag(x, "street", v);
    free(v);
  }
  return rc;
}

int imp_row_patch(const imp_map *m, const carnet__sheet *sh, size_t row,
                  const carnet_record *existing, carnet_patch *p, bool *empty, size_t *err_col,
                  char *why, size_t why_len) {
  rowctx x = {existing, p, true, why, why_len};
  char *first = NULL, *last = NULL, *street = NULL, *street2 = NULL, *type = NULL;
  size_t c_first = 0, c_last = 0, c_street = 0, c_type = 0;
  int rc = CLI_OK;
  for (size_t col = 0; col < m->ncols && rc == CLI_OK; col++) {
    const imp_col *ic = &m->cols[col];
    if (ic->target == IMP_NONE || ic->target == IMP_ID || ic->target == IMP_REF) continue;
    char *v = trimmed(sh, row, col);
    *err_col = col;
    if (v[0] == '\0') {
      free(v);
      continue;
    }
    switch (ic->target) {
    case IMP_NAME: /* the pieces wait for the end of the row */
      free(last), last = v, v = NULL, c_last = col;
      break;
    case IMP_FIRST_NAME:
      free(first), first = v, v = NULL, c_first = col;
      break;
    case IMP_STREET:
      free(street), street = v, v = NULL, c_street = col;
      break;
    case IMP_STREET2:
      free(street2), street2 = v, v = NULL;
      break;
    case IMP_TYPE:
      free(type), type = v, v = NULL, c_type = col;
      break;
    case IMP_COMPANY:
      if (existing == NULL) {
        rc = flag(&x, "company", v); /* type company too, as --company=NAME */
      } else if (!has_scalar(existing, CARNET_F_COMPANY)) {
        x.empty = false;
        if (carnet_patch_set(p, CARNET_F_COMPANY, v) == CARNET_ENOMEM) cli_oom(NULL);
      }
      break;
    case IMP_EMAILS:
    case IMP_PHONES:
    case IMP_MOBILE:
    case IMP_WORK_PHONE:
    case IMP_HOME_PHONE:
    case IMP_TAGS:
    case IMP_ROLES:
      rc = elements(&x, ic->target, v);
      break;
    case IMP_CONFLICT: {
      const char *f = bool_word(v);
      if (f == NULL) {
        snprintf(why, why_len, "invalid conflict flag '%s': true or false (oui/non)", v);
        rc = CLI_EUSER;
      } else if (!(existing && has_scalar(existing, CARNET_F_CONFLICT))) {
        rc = flag(&x, f, NULL);
      }
      break;
    }
    case IMP_CUSTOM: {
      if (existing && has_custom(existing, ic->custom)) break;
      size_t n = strlen(ic->custom) + strlen(v) + 2;
      char *spec = cli_oom(malloc(n));
      snprintf(spec, n, "%s=%s", ic->custom, v);
      rc = flag(&x, "custom", spec);
      free(spec);
      break;
    }
    default:
      rc = scalar(&x, ic->target, v);
      break;
    }
    free(v);
  }
  if (rc == CLI_OK) {
    *err_col = first ? c_first : last ? c_last : c_street;
    rc = name_and_street(&x, first, last, street, street2);
  }
  /* After the company, which makes the type "company", so that an explicit
   * type column wins. */
  if (rc == CLI_OK && type && !(existing && has_scalar(existing, CARNET_F_TYPE))) {
    *err_col = c_type;
    x.empty = false;
    int err = carnet_patch_set(p, CARNET_F_TYPE, type_word(type));
    if (err == CARNET_ENOMEM) cli_oom(NULL);
  }
  free(first), free(last), free(street), free(street2), free(type);
  *empty = x.empty;
  return rc;
}

/* --- the row's id --------------------------------------------------------------- */

typedef struct canon {
  imp_target t;
  const char *custom;
  char *value;
} canon;

static int canon_cmp(const void *a, const void *b) {
  const canon *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  int c = strcmp(x->custom, y->custom);
  return c ? c : strcmp(x->value, y->value);
}

void imp_row_id(const imp_map *m, const carnet__sheet *sh, size_t row, const uint8_t *key,
                size_t key_len, carnet_id *out) {
  for (size_t col = 0; m->has_id && col < m->ncols; col++) {
    char hex[CARNET_ID_HEX_LEN + 2];
    if (m->cols[col].target != IMP_ID) continue;
    if (carnet_id_parse(imp_cell(sh, row, col, hex, sizeof hex), out) == 0) return;
  }
  canon *v = cli_oom(calloc(m->ncols ? m->ncols : 1, sizeof *v));
  size_t n = 0;
  for (size_t col = 0; col < m->ncols; col++) {
    const imp_col *ic = &m->cols[col];
    if (ic->target == IMP_NONE || ic->target == IMP_ID || ic->target == IMP_REF) continue;
    char *s = trimmed(sh, row, col);
    if (s[0] == '\0') {
      free(s);
      continue;
    }
    v[n++] = (canon){ic->target, ic->custom, s};
  }
  qsort(v, n, sizeof *v, canon_cmp);
  crypto_generichash_state st;
  crypto_generichash_init(&st, key, key_len, sizeof out->b);
  crypto_generichash_update(&st, (const unsigned char *)"carnet import row v1", 20);
  for (size_t i = 0; i < n; i++) {
    uint8_t t = (uint8_t)v[i].t;
    crypto_generichash_update(&st, &t, 1);
    crypto_generichash_update(&st, (const unsigned char *)v[i].custom, strlen(v[i].custom) + 1);
    crypto_generichash_update(&st, (const unsigned char *)v[i].value, strlen(v[i].value) + 1);
    free(v[i].value);
  }
  crypto_generichash_final(&st, out->b, sizeof out->b);
  free(v);
}

/* --- an existing customer with the same SIRET, e-mail or phone ---------------- */

typedef struct finder {
  carnet_replica *r;
  carnet_id *match;
  int err;
} finder;

static int find_cb(void *ctx, imp_target t, const char *e) {
  finder *f = ctx;
  carnet_id ids[1];
  size_t n = 0;
  const char *number = e;
  carnet_lookup_kind k = t == IMP_EMAILS  ? CARNET_LOOKUP_EMAIL
                         : t == IMP_SIRET ? CARNET_LOOKUP_SIRET
                                          : CARNET_LOOKUP_PHONE;
  if (k == CARNET_LOOKUP_PHONE && strchr(e, ':')) number = strchr(e, ':') + 1;
  int err = carnet_record_lookup(f->r, k, number, ids, 1, &n);
  if (err == CARNET_EINVAL) return 0; /* not a valid value: nothing to match */
  if (err) {
    f->err = err;
    return 1;
  }
  if (n == 0) return 0;
  *f->match = ids[0];
  return 1;
}

/* Calls fn for every SIRET, e-mail and phone of the row, until it returns
 * non-zero (returned). */
static int each_identifier(const imp_map *m, const carnet__sheet *sh, size_t row,
                           int (*fn)(void *ctx, imp_target t, const char *e), void *ctx) {
  int stop = 0;
  for (size_t col = 0; col < m->ncols && stop == 0; col++) {
    imp_target t = m->cols[col].target;
    if (t != IMP_SIRET && t != IMP_EMAILS && t != IMP_PHONES && t != IMP_MOBILE &&
        t != IMP_WORK_PHONE && t != IMP_HOME_PHONE)
      continue;
    char *v = trimmed(sh, row, col);
    if (v[0]) stop = t == IMP_SIRET ? fn(ctx, t, v) : split(t, v, fn, ctx);
    free(v);
  }
  return stop;
}

int imp_row_match(const imp_map *m, const carnet__sheet *sh, size_t row, carnet_replica *r,
                  carnet_id *match, bool *found) {
  finder f = {r, match, 0};
  int stop = each_identifier(m, sh, row, find_cb, &f);
  *found = false;
  if (f.err) return f.err;
  *found = stop != 0;
  return 0;
}

/* --- a person erased at their request (carnet/erase.h) ----------------------- */

static int opposed_cb(void *ctx, imp_target t, const char *e) {
  finder *f = ctx;
  bool opposed = false;
  const char *number = e;
  if (t == IMP_SIRET) return 0;
  if (t != IMP_EMAILS && strchr(e, ':')) number = strchr(e, ':') + 1;
  int err = carnet_erasure_check_value(
      f->r, t == IMP_EMAILS ? CARNET_LOOKUP_EMAIL : CARNET_LOOKUP_PHONE, number, &opposed, f->match);
  if (err == CARNET_EINVAL) return 0; /* not a valid value: the row check says so */
  if (err) {
    f->err = err;
    return 1;
  }
  return opposed;
}

int imp_row_opposed(const imp_map *m, const carnet__sheet *sh, size_t row, carnet_replica *r,
                    carnet_id *cert, bool *opposed) {
  finder f = {r, cert, 0};
  int stop = each_identifier(m, sh, row, opposed_cb, &f);
  *opposed = false;
  if (f.err) return f.err;
  *opposed = stop != 0;
  return 0;
}
