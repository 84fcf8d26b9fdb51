/* book/import_row.c - one row of an import file as a patch: values trimmed,
 * multi-valued cells split, French words for types, roles and flags
 * understood, then every value converted as the flags of `carnet customer
 * add` convert theirs (book/import_value.c), and checked by the engine
 * (carnet_record_check) like any write.
 *
 * Return values: 0, or a negative CARNET_E* code. CARNET_EINVAL with a
 * reason in `why` is a row's own problem (it is rejected, the import goes
 * on); CARNET_ENOMEM and the replica's errors stop the import. Callbacks
 * over a cell's elements return 0 to go on, a positive value to stop (a
 * match was found) or a negative error.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "book/import_int.h"
#include "engine/base/alloc.h"

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

/* The trimmed cell, in a block of carnet__malloc; NULL when out of memory. */
static char *trimmed(const carnet__sheet *sh, size_t row, size_t col) {
  size_t n;
  const char *s = trim(carnet__sheet_get(sh, row, col), &n);
  return carnet__strndup(s, n);
}

const char *carnet__imp_cell(const carnet__sheet *sh, size_t row, size_t col, char *buf,
                             size_t len) {
  size_t n;
  const char *s = trim(carnet__sheet_get(sh, row, col), &n);
  if (n >= len) {
    n = len - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
      n--; /* a character boundary */
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
  static const char *const ind[] = {"individual", "particulier", "personne",       "person",
                                    "private",    "individu",    "individu privé", NULL};
  /* With the kinds of Dolibarr's "Type du tiers" (TPE, PME/PMI...). */
  static const char *const co[] = {"company",
                                   "societe",
                                   "société",
                                   "entreprise",
                                   "professionnel",
                                   "pro",
                                   "business",
                                   "organisation",
                                   "organization",
                                   "tpe",
                                   "pme/pmi",
                                   "pme",
                                   "grand compte",
                                   "administration",
                                   "revendeur",
                                   "grossiste",
                                   "startup",
                                   "association",
                                   NULL};
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
    if (strncmp(carnet__imp_phone_split(v[i], type, sizeof type), e164, strlen(e164)) == 0) {
      /* The same number, whatever the extension stored with it. */
      char c = carnet__imp_phone_split(v[i], type, sizeof type)[strlen(e164)];
      if (c == '\0' || c == ';') return true;
    }
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
  const carnet__imp_map *m;
  const carnet_record *existing;
  carnet_patch *p;
  bool empty;
  char *why;
  size_t why_len;
} rowctx;

static int flag(rowctx *x, const char *name, const char *value) {
  x->empty = false;
  return carnet__imp_value(x->p, name, value, x->why, x->why_len);
}

/* One element of a multi-valued cell. */
static int element(rowctx *x, carnet__imp_target t, const char *v) {
  char type[16];
  const carnet_record *e = x->existing;
  switch (t) {
  case CARNET__IMP_EMAILS:
    return e && has_email(e, v) ? 0 : flag(x, "email", v);
  case CARNET__IMP_TAGS:
    return e && has_elem(e, CARNET_F_TAGS, v) ? 0 : flag(x, "tag", v);
  case CARNET__IMP_ROLES:
    v = role_word(v);
    return e && has_elem(e, CARNET_F_ROLES, v) ? 0 : flag(x, "role", v);
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
      if (e && has_phone(e, number)) return 0;
      x->empty = false;
      /* A bad number is left for carnet_record_check, which names it. */
      int err = carnet_patch_phone(x->p, type, number);
      return err == CARNET_ENOMEM ? err : 0;
    }
  }
  if (e && has_phone(e, number)) return 0;
  return flag(x,
              t == CARNET__IMP_MOBILE       ? "mobile"
              : t == CARNET__IMP_WORK_PHONE ? "work-phone"
              : t == CARNET__IMP_HOME_PHONE ? "home-phone"
                                            : "phone",
              number);
}

/* The separators of a multi-valued cell: "a@x.fr, b@y.fr", "vip|export".
 * Phones are split on '|', ';' and ',' only (they hold spaces, dots and
 * slashes). A tag is free text that may hold ',' or ';': a tags cell
 * holding a '|' is split on '|' alone, which is how an export writes tags
 * ("export, été|vip", or "export, été|" for that one tag), so that export
 * then import gives the same tags. */
static const char *seps_of(carnet__imp_target t, const char *cell) {
  if (t == CARNET__IMP_EMAILS) return "|,; \t\n";
  if (t == CARNET__IMP_TAGS && strchr(cell, '|')) return "|\n";
  if (t == CARNET__IMP_TAGS || t == CARNET__IMP_ROLES) return "|,;\n";
  return "|;,\n";
}

typedef int (*elem_fn)(void *ctx, carnet__imp_target t, const char *e);

/* Calls fn for each trimmed, non-empty element of `v`; stops at the first
 * non-zero return and returns it. */
static int split(carnet__imp_target t, const char *v, elem_fn fn, void *ctx) {
  char *copy = carnet__strdup(v), *save = NULL;
  int rc = 0;
  if (copy == NULL) return CARNET_ENOMEM;
  const char *seps = seps_of(t, v);
  for (char *tok = strtok_r(copy, seps, &save); tok && rc == 0; tok = strtok_r(NULL, seps, &save)) {
    size_t n;
    const char *s = trim(tok, &n);
    if (n == 0) continue;
    char *one = carnet__strndup(s, n);
    rc = one ? fn(ctx, t, one) : CARNET_ENOMEM;
    carnet__free(one);
  }
  carnet__free(copy);
  return rc;
}

static int element_cb(void *ctx, carnet__imp_target t, const char *e) {
  return element(ctx, t, e);
}

static int elements(rowctx *x, carnet__imp_target t, const char *v) {
  return split(t, v, element_cb, x);
}

static const struct {
  carnet__imp_target t;
  carnet_field field;
  const char *flag;
} scalars[] = {
    {CARNET__IMP_SIRET, CARNET_F_SIRET, "siret"},
    {CARNET__IMP_VAT_ID, CARNET_F_VAT_ID, "vat-id"},
    {CARNET__IMP_CITY, CARNET_F_CITY, "city"},
    {CARNET__IMP_COUNTRY, CARNET_F_COUNTRY, "country"},
    {CARNET__IMP_GEO, CARNET_F_GEO, "geo"},
    {CARNET__IMP_SALES_REP, CARNET_F_SALES_REP, "sales-rep"},
    {CARNET__IMP_CHANNEL, CARNET_F_CHANNEL, "channel"},
    {CARNET__IMP_DISCOUNT, CARNET_F_DISCOUNT, "discount"},
    {CARNET__IMP_NOTES, CARNET_F_NOTES, "notes"},
    {CARNET__IMP_POSTCODE, CARNET_F_POSTCODE, "postcode"},
};

static int scalar(rowctx *x, carnet__imp_target t, const char *v) {
  char pc[8];
  for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
    if (scalars[i].t != t) continue;
    if (x->existing && has_scalar(x->existing, scalars[i].field)) return 0;
    /* A French postcode read from a number cell lost its leading zero. */
    if (t == CARNET__IMP_POSTCODE && strlen(v) == 4 && strspn(v, "0123456789") == 4) {
      snprintf(pc, sizeof pc, "0%s", v);
      v = pc;
    }
    /* A country by its name ("France", "Allemagne", "United Kingdom"). */
    if (t == CARNET__IMP_COUNTRY) {
      char code[3];
      if (!carnet__country_code(x->m->countries, v, code)) {
        snprintf(x->why, x->why_len,
                 "unknown country '%s': a country's name in French or English, or its ISO "
                 "3166 code (FR)",
                 v);
        return CARNET_EINVAL;
      }
      snprintf(pc, sizeof pc, "%s", code);
      v = pc;
    }
    return flag(x, scalars[i].flag, v);
  }
  return 0;
}

/* "a" and "b" joined by `sep` (either may be NULL) into a new block. */
static char *join2(const char *a, const char *sep, const char *b) {
  size_t n = (a ? strlen(a) : 0) + strlen(sep) + (b ? strlen(b) : 0) + 1;
  char *v = carnet__malloc(n);
  if (v) snprintf(v, n, "%s%s%s", a ? a : "", a && b ? sep : "", b ? b : "");
  return v;
}

/* The name: "first_name name" when both columns are there; the street:
 * "street, street2". */
static int name_and_street(rowctx *x, const char *first, const char *last, const char *street,
                           const char *street2) {
  int rc = 0;
  char *v = NULL;
  if ((first || last) && !(x->existing && has_scalar(x->existing, CARNET_F_NAME))) {
    if ((v = join2(first, " ", last)) == NULL) return CARNET_ENOMEM;
    rc = flag(x, "name", v);
    carnet__free(v);
  }
  if (rc == 0 && (street || street2) &&
      !(x->existing && has_scalar(x->existing, CARNET_F_STREET))) {
    if ((v = join2(street, ", ", street2)) == NULL) return CARNET_ENOMEM;
    rc = flag(x, "street", v);
    carnet__free(v);
  }
  return rc;
}

/* A custom column: "NAME:TYPE=value", a column without a type being text
 * (the documented custom:NAME[:TYPE]). */
static int custom(rowctx *x, const carnet__imp_col *ic, const char *v) {
  if (x->existing && has_custom(x->existing, ic->custom)) return 0;
  const char *colon = strchr(ic->custom, ':');
  bool typed = colon != NULL;
  /* A date as a French program writes it (15/03/2021) is read day first. */
  char date[11];
  if (typed && strcmp(colon + 1, "date") == 0 && carnet__imp_date(v, date)) v = date;
  size_t n = strlen(ic->custom) + strlen(v) + sizeof ":string=";
  char *spec = carnet__malloc(n);
  if (spec == NULL) return CARNET_ENOMEM;
  snprintf(spec, n, "%s%s=%s", ic->custom, typed ? "" : ":string", v);
  int rc = flag(x, "custom", spec);
  carnet__free(spec);
  return rc;
}

int carnet__imp_row_patch(const carnet__imp_map *m, const carnet__sheet *sh, size_t row,
                          const carnet_record *existing, carnet_patch *p, bool *empty,
                          size_t *err_col, char *why, size_t why_len) {
  rowctx x = {m, existing, p, true, why, why_len};
  char *first = NULL, *last = NULL, *street = NULL, *street2 = NULL, *type = NULL;
  size_t c_first = 0, c_last = 0, c_street = 0, c_type = 0;
  int rc = 0;
  for (size_t col = 0; col < m->ncols && rc == 0; col++) {
    const carnet__imp_col *ic = &m->cols[col];
    if (ic->target == CARNET__IMP_NONE || ic->target == CARNET__IMP_ID ||
        ic->target == CARNET__IMP_REF)
      continue;
    char *v = trimmed(sh, row, col);
    *err_col = col;
    if (v == NULL) {
      rc = CARNET_ENOMEM;
      break;
    }
    if (v[0] == '\0') {
      carnet__free(v);
      continue;
    }
    switch (ic->target) {
    case CARNET__IMP_NAME: /* the pieces wait for the end of the row */
      carnet__free(last), last = v, v = NULL, c_last = col;
      break;
    case CARNET__IMP_FIRST_NAME:
      carnet__free(first), first = v, v = NULL, c_first = col;
      break;
    case CARNET__IMP_STREET:
      carnet__free(street), street = v, v = NULL, c_street = col;
      break;
    case CARNET__IMP_STREET2:
      carnet__free(street2), street2 = v, v = NULL;
      break;
    case CARNET__IMP_TYPE:
      carnet__free(type), type = v, v = NULL, c_type = col;
      break;
    case CARNET__IMP_COMPANY:
      if (existing == NULL) {
        rc = flag(&x, "company", v); /* type company too, as --company=NAME */
      } else if (!has_scalar(existing, CARNET_F_COMPANY)) {
        x.empty = false;
        if (carnet_patch_set(p, CARNET_F_COMPANY, v) == CARNET_ENOMEM) rc = CARNET_ENOMEM;
      }
      break;
    case CARNET__IMP_EMAILS:
    case CARNET__IMP_PHONES:
    case CARNET__IMP_MOBILE:
    case CARNET__IMP_WORK_PHONE:
    case CARNET__IMP_HOME_PHONE:
    case CARNET__IMP_TAGS:
    case CARNET__IMP_ROLES:
      rc = elements(&x, ic->target, v);
      break;
    case CARNET__IMP_CONFLICT: {
      const char *f = bool_word(v);
      if (f == NULL) {
        snprintf(why, why_len, "invalid conflict flag '%s': true or false (oui/non)", v);
        rc = CARNET_EINVAL;
      } else if (!(existing && has_scalar(existing, CARNET_F_CONFLICT))) {
        rc = flag(&x, f, NULL);
      }
      break;
    }
    case CARNET__IMP_CUSTOM:
      rc = custom(&x, ic, v);
      break;
    case CARNET__IMP_CODE: {
      carnet__imp_col code = {.target = CARNET__IMP_CUSTOM};
      snprintf(code.custom, sizeof code.custom, "%s", CARNET__IMP_CODE_FIELD ":string");
      rc = custom(&x, &code, v);
      break;
    }
    case CARNET__IMP_CLIENT_KIND: /* Dolibarr: 0 none, 1 customer, 2 prospect, 3 both */
      if (strcmp(v, "1") == 0 || strcmp(v, "3") == 0)
        rc = elements(&x, CARNET__IMP_ROLES, "customer");
      if (rc == 0 && (strcmp(v, "2") == 0 || strcmp(v, "3") == 0))
        rc = elements(&x, CARNET__IMP_ROLES, "prospect");
      if (rc == 0 && strspn(v, "0123") != strlen(v)) rc = elements(&x, CARNET__IMP_ROLES, v);
      break;
    case CARNET__IMP_SUPPLIER: {
      const char *f = bool_word(v);
      if (f == NULL) {
        snprintf(why, why_len, "invalid supplier flag '%s': 1 or 0 (oui/non)", v);
        rc = CARNET_EINVAL;
      } else if (strcmp(f, "conflict") == 0) { /* yes */
        rc = elements(&x, CARNET__IMP_ROLES, "supplier");
      }
      break;
    }
    default:
      rc = scalar(&x, ic->target, v);
      break;
    }
    carnet__free(v);
  }
  if (rc == 0) {
    *err_col = first ? c_first : last ? c_last : c_street;
    rc = name_and_street(&x, first, last, street, street2);
  }
  /* After the company, which makes the type "company", so that an explicit
   * type column wins. A bad type is left for carnet_record_check. */
  if (rc == 0 && type && !(existing && has_scalar(existing, CARNET_F_TYPE))) {
    *err_col = c_type;
    x.empty = false;
    if (carnet_patch_set(p, CARNET_F_TYPE, type_word(type)) == CARNET_ENOMEM) rc = CARNET_ENOMEM;
  }
  carnet__free(first), carnet__free(last), carnet__free(street), carnet__free(street2);
  carnet__free(type);
  *empty = x.empty;
  return rc;
}

/* --- the row's id --------------------------------------------------------------- */

typedef struct canon {
  carnet__imp_target t;
  const char *custom;
  char *value;
} canon;

static int canon_cmp(const void *a, const void *b) {
  const canon *x = a, *y = b;
  if (x->t != y->t) return x->t < y->t ? -1 : 1;
  int c = strcmp(x->custom, y->custom);
  return c ? c : strcmp(x->value, y->value);
}

int carnet__imp_row_id(const carnet__imp_map *m, const carnet__sheet *sh, size_t row,
                       const uint8_t *key, size_t key_len, carnet_id *out) {
  for (size_t col = 0; m->has_id && col < m->ncols; col++) {
    char hex[CARNET_ID_HEX_LEN + 2];
    if (m->cols[col].target != CARNET__IMP_ID) continue;
    if (carnet_id_parse(carnet__imp_cell(sh, row, col, hex, sizeof hex), out) == 0) return 0;
  }
  canon *v = carnet__calloc(m->ncols ? m->ncols : 1, sizeof *v);
  size_t n = 0;
  int err = 0;
  if (v == NULL) return CARNET_ENOMEM;
  for (size_t col = 0; col < m->ncols; col++) {
    const carnet__imp_col *ic = &m->cols[col];
    /* A file's own code and a supplier column were not imported before
     * (REF, NONE): left out of the hash, so rows keep the ids they had. */
    if (ic->target == CARNET__IMP_NONE || ic->target == CARNET__IMP_ID ||
        ic->target == CARNET__IMP_REF || ic->target == CARNET__IMP_CODE ||
        ic->target == CARNET__IMP_SUPPLIER)
      continue;
    char *s = trimmed(sh, row, col);
    if (s == NULL) {
      err = CARNET_ENOMEM;
      goto done;
    }
    if (s[0] == '\0') {
      carnet__free(s);
      continue;
    }
    v[n++] = (canon){ic->target, ic->custom, s};
  }
  qsort(v, n, sizeof *v, canon_cmp);
  /* Frozen: changing what is hashed gives every row a new id, and a rerun
   * of an old file would import it all again. */
  crypto_generichash_state st;
  crypto_generichash_init(&st, key, key_len, sizeof out->b);
  crypto_generichash_update(&st, (const unsigned char *)"carnet import row v1", 20);
  for (size_t i = 0; i < n; i++) {
    uint8_t t = (uint8_t)v[i].t;
    crypto_generichash_update(&st, &t, 1);
    crypto_generichash_update(&st, (const unsigned char *)v[i].custom, strlen(v[i].custom) + 1);
    crypto_generichash_update(&st, (const unsigned char *)v[i].value, strlen(v[i].value) + 1);
  }
  crypto_generichash_final(&st, out->b, sizeof out->b);
done:
  for (size_t i = 0; i < n; i++)
    carnet__free(v[i].value);
  carnet__free(v);
  return err;
}

/* --- an existing customer with the same SIRET, e-mail or phone ---------------- */

typedef struct finder {
  carnet__bulkdup *d;
  carnet_txn *t;
  carnet_id *match;
} finder;

static int find_cb(void *ctx, carnet__imp_target t, const char *e) {
  finder *f = ctx;
  bool found = false;
  const char *number = e;
  carnet_lookup_kind k = t == CARNET__IMP_EMAILS  ? CARNET_LOOKUP_EMAIL
                         : t == CARNET__IMP_SIRET ? CARNET_LOOKUP_SIRET
                                                  : CARNET_LOOKUP_PHONE;
  if (k == CARNET_LOOKUP_PHONE && strchr(e, ':')) number = strchr(e, ':') + 1;
  int err = carnet__bulkdup_lookup(f->d, f->t, k, number, f->match, &found);
  if (err == CARNET_EINVAL) return 0; /* not a valid value: nothing to match */
  if (err) return err;
  return found ? 1 : 0;
}

/* Calls fn for every SIRET, e-mail and phone of the row, until it returns
 * non-zero (returned). */
static int each_identifier(const carnet__imp_map *m, const carnet__sheet *sh, size_t row,
                           elem_fn fn, void *ctx) {
  int stop = 0;
  for (size_t col = 0; col < m->ncols && stop == 0; col++) {
    carnet__imp_target t = m->cols[col].target;
    if (t != CARNET__IMP_SIRET && t != CARNET__IMP_EMAILS && t != CARNET__IMP_PHONES &&
        t != CARNET__IMP_MOBILE && t != CARNET__IMP_WORK_PHONE && t != CARNET__IMP_HOME_PHONE)
      continue;
    char *v = trimmed(sh, row, col);
    if (v == NULL) return CARNET_ENOMEM;
    if (v[0]) stop = t == CARNET__IMP_SIRET ? fn(ctx, t, v) : split(t, v, fn, ctx);
    carnet__free(v);
  }
  return stop;
}

int carnet__imp_row_match(const carnet__imp_map *m, const carnet__sheet *sh, size_t row,
                          carnet__bulkdup *d, carnet_txn *t, carnet_id *match, bool *found) {
  finder f = {d, t, match};
  int stop = each_identifier(m, sh, row, find_cb, &f);
  *found = stop > 0;
  return stop < 0 ? stop : 0;
}

/* --- a person erased at their request (carnet/erase.h) ----------------------- */

static int opposed_cb(void *ctx, carnet__imp_target t, const char *e) {
  finder *f = ctx;
  bool opposed = false;
  const char *number = e;
  if (t == CARNET__IMP_SIRET) return 0;
  if (t != CARNET__IMP_EMAILS && strchr(e, ':')) number = strchr(e, ':') + 1;
  int err = carnet__bulkdup_opposed(
      f->d, f->t, t == CARNET__IMP_EMAILS ? CARNET_LOOKUP_EMAIL : CARNET_LOOKUP_PHONE, number,
      &opposed, f->match);
  if (err == CARNET_EINVAL) return 0; /* not a valid value: the row check says so */
  if (err) return err;
  return opposed ? 1 : 0;
}

int carnet__imp_row_opposed(const carnet__imp_map *m, const carnet__sheet *sh, size_t row,
                            carnet__bulkdup *d, carnet_txn *t, carnet_id *cert, bool *opposed) {
  finder f = {d, t, cert};
  int stop = each_identifier(m, sh, row, opposed_cb, &f);
  *opposed = stop > 0;
  return stop < 0 ? stop : 0;
}
