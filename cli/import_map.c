/* cli/import_map.c - a file's header onto customer fields: --map pairs
 * first, then French and English column names compared folded (case,
 * accents, spaces and punctuation ignored, with utf8proc).
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "cli/import.h"

static const char *const target_names[IMP_TARGET_MAX_] = {
    [IMP_NONE] = "ignore",        [IMP_ID] = "id",
    [IMP_REF] = "ref",            [IMP_NAME] = "name",
    [IMP_FIRST_NAME] = "first_name", [IMP_COMPANY] = "company",
    [IMP_TYPE] = "type",          [IMP_ROLES] = "roles",
    [IMP_EMAILS] = "emails",      [IMP_PHONES] = "phones",
    [IMP_MOBILE] = "mobile",      [IMP_WORK_PHONE] = "work_phone",
    [IMP_HOME_PHONE] = "home_phone", [IMP_SIRET] = "siret",
    [IMP_VAT_ID] = "vat_id",      [IMP_STREET] = "street",
    [IMP_STREET2] = "street2",    [IMP_POSTCODE] = "postcode",
    [IMP_CITY] = "city",          [IMP_COUNTRY] = "country",
    [IMP_GEO] = "geo",            [IMP_TAGS] = "tags",
    [IMP_SALES_REP] = "sales_rep", [IMP_CHANNEL] = "channel",
    [IMP_DISCOUNT] = "discount",  [IMP_CONFLICT] = "conflict",
    [IMP_NOTES] = "notes",        [IMP_CUSTOM] = "custom:NAME[:TYPE]",
};

const char *imp_target_name(imp_target t) {
  return t < IMP_TARGET_MAX_ ? target_names[t] : "?";
}

const char *imp_target_list(void) {
  return "name, first_name, company, type, roles, emails, phones, mobile, work_phone, "
         "home_phone, siret, vat_id, street, street2, postcode, city, country, geo, tags, "
         "sales_rep, channel, discount, conflict, notes, custom:NAME[:TYPE], id, ignore";
}

/* Folded header names (see fold) and their target. */
static const struct {
  const char *name;
  imp_target target;
} names[] = {
    {"id", IMP_ID},
    {"ref", IMP_REF},            {"reference", IMP_REF},       {"refclient", IMP_REF},
    {"codeclient", IMP_REF},
    {"name", IMP_NAME},          {"nom", IMP_NAME},            {"nomcomplet", IMP_NAME},
    {"fullname", IMP_NAME},      {"contact", IMP_NAME},        {"nomducontact", IMP_NAME},
    {"client", IMP_NAME},        {"customer", IMP_NAME},       {"displayname", IMP_NAME},
    {"nomprenom", IMP_NAME},     {"lastname", IMP_NAME},       {"surname", IMP_NAME},
    {"nomdefamille", IMP_NAME},  {"prenom", IMP_FIRST_NAME},   {"firstname", IMP_FIRST_NAME},
    {"givenname", IMP_FIRST_NAME},
    {"company", IMP_COMPANY},    {"companyname", IMP_COMPANY}, {"raisonsociale", IMP_COMPANY},
    {"societe", IMP_COMPANY},    {"entreprise", IMP_COMPANY},  {"organisation", IMP_COMPANY},
    {"organization", IMP_COMPANY}, {"denomination", IMP_COMPANY}, {"nomsociete", IMP_COMPANY},
    {"nomentreprise", IMP_COMPANY}, {"etablissement", IMP_COMPANY},
    {"type", IMP_TYPE},          {"typeclient", IMP_TYPE},     {"typedetiers", IMP_TYPE},
    {"roles", IMP_ROLES},        {"role", IMP_ROLES},          {"statut", IMP_ROLES},
    {"status", IMP_ROLES},
    {"email", IMP_EMAILS},       {"emails", IMP_EMAILS},       {"mail", IMP_EMAILS},
    {"courriel", IMP_EMAILS},    {"adressemail", IMP_EMAILS},  {"adresseemail", IMP_EMAILS},
    {"adressemel", IMP_EMAILS},  {"mel", IMP_EMAILS},          {"emailaddress", IMP_EMAILS},
    {"phone", IMP_PHONES},       {"phones", IMP_PHONES},       {"telephone", IMP_PHONES},
    {"tel", IMP_PHONES},         {"telephones", IMP_PHONES},   {"phonenumber", IMP_PHONES},
    {"fixe", IMP_PHONES},        {"telfixe", IMP_PHONES},      {"telephonefixe", IMP_PHONES},
    {"standard", IMP_PHONES},    {"numerodetelephone", IMP_PHONES},
    {"mobile", IMP_MOBILE},      {"portable", IMP_MOBILE},     {"gsm", IMP_MOBILE},
    {"cell", IMP_MOBILE},        {"cellphone", IMP_MOBILE},    {"telportable", IMP_MOBILE},
    {"telephoneportable", IMP_MOBILE}, {"telmobile", IMP_MOBILE}, {"mobilephone", IMP_MOBILE},
    {"workphone", IMP_WORK_PHONE}, {"telbureau", IMP_WORK_PHONE}, {"telpro", IMP_WORK_PHONE},
    {"telephonebureau", IMP_WORK_PHONE}, {"telephonepro", IMP_WORK_PHONE},
    {"telephoneprofessionnel", IMP_WORK_PHONE}, {"businessphone", IMP_WORK_PHONE},
    {"homephone", IMP_HOME_PHONE}, {"teldomicile", IMP_HOME_PHONE},
    {"telephonedomicile", IMP_HOME_PHONE}, {"telperso", IMP_HOME_PHONE},
    {"telephonepersonnel", IMP_HOME_PHONE},
    {"siret", IMP_SIRET},        {"siren", IMP_SIRET},         {"nsiret", IMP_SIRET},
    {"numerosiret", IMP_SIRET},  {"siretsiren", IMP_SIRET},
    {"vatid", IMP_VAT_ID},       {"vat", IMP_VAT_ID},          {"vatnumber", IMP_VAT_ID},
    {"tva", IMP_VAT_ID},         {"ntva", IMP_VAT_ID},         {"numerotva", IMP_VAT_ID},
    {"tvaintracommunautaire", IMP_VAT_ID}, {"tvaintra", IMP_VAT_ID},
    {"street", IMP_STREET},      {"address", IMP_STREET},      {"adresse", IMP_STREET},
    {"rue", IMP_STREET},         {"adresse1", IMP_STREET},     {"address1", IMP_STREET},
    {"adresseligne1", IMP_STREET}, {"voie", IMP_STREET},
    {"street2", IMP_STREET2},    {"address2", IMP_STREET2},    {"adresse2", IMP_STREET2},
    {"complementdadresse", IMP_STREET2}, {"complementadresse", IMP_STREET2},
    {"adresseligne2", IMP_STREET2}, {"complement", IMP_STREET2},
    {"postcode", IMP_POSTCODE},  {"cp", IMP_POSTCODE},         {"codepostal", IMP_POSTCODE},
    {"zip", IMP_POSTCODE},       {"zipcode", IMP_POSTCODE},    {"postalcode", IMP_POSTCODE},
    {"city", IMP_CITY},          {"ville", IMP_CITY},          {"commune", IMP_CITY},
    {"localite", IMP_CITY},      {"town", IMP_CITY},
    {"country", IMP_COUNTRY},    {"pays", IMP_COUNTRY},        {"countrycode", IMP_COUNTRY},
    {"codepays", IMP_COUNTRY},
    {"geo", IMP_GEO},            {"gps", IMP_GEO},             {"coordonnees", IMP_GEO},
    {"coordinates", IMP_GEO},    {"latlon", IMP_GEO},
    {"tags", IMP_TAGS},          {"tag", IMP_TAGS},            {"categorie", IMP_TAGS},
    {"categories", IMP_TAGS},    {"category", IMP_TAGS},       {"etiquettes", IMP_TAGS},
    {"etiquette", IMP_TAGS},     {"groupe", IMP_TAGS},         {"groupes", IMP_TAGS},
    {"salesrep", IMP_SALES_REP}, {"commercial", IMP_SALES_REP}, {"vendeur", IMP_SALES_REP},
    {"representant", IMP_SALES_REP}, {"responsable", IMP_SALES_REP},
    {"accountmanager", IMP_SALES_REP},
    {"channel", IMP_CHANNEL},    {"canal", IMP_CHANNEL},       {"source", IMP_CHANNEL},
    {"origine", IMP_CHANNEL},    {"provenance", IMP_CHANNEL},  {"canaldacquisition", IMP_CHANNEL},
    {"leadsource", IMP_CHANNEL},
    {"discount", IMP_DISCOUNT},  {"remise", IMP_DISCOUNT},     {"tauxderemise", IMP_DISCOUNT},
    {"conflict", IMP_CONFLICT},  {"litige", IMP_CONFLICT},     {"contentieux", IMP_CONFLICT},
    {"notes", IMP_NOTES},        {"note", IMP_NOTES},          {"commentaire", IMP_NOTES},
    {"commentaires", IMP_NOTES}, {"remarque", IMP_NOTES},      {"remarques", IMP_NOTES},
    {"comment", IMP_NOTES},      {"comments", IMP_NOTES},      {"observations", IMP_NOTES},
    {"description", IMP_NOTES},
};

/* "Téléphone portable", "E-mail", "N° SIRET" -> "telephoneportable",
 * "email", "nsiret": case folded, marks stripped, only letters and digits
 * kept. */
static void fold(const char *s, char *out, size_t len) {
  utf8proc_uint8_t *f = NULL;
  size_t n = 0;
  out[0] = '\0';
  if (utf8proc_map((const utf8proc_uint8_t *)s, 0, &f,
                   UTF8PROC_NULLTERM | UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK |
                       UTF8PROC_CASEFOLD) < 0)
    return;
  for (const utf8proc_uint8_t *p = f; *p && n + 1 < len; p++)
    if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) out[n++] = (char)*p;
  out[n] = '\0';
  free(f);
}

bool imp_target_parse(const char *name, imp_col *out) {
  memset(out, 0, sizeof *out);
  if (strncasecmp(name, "custom:", 7) == 0) {
    const char *rest = name + 7;
    if (rest[0] == '\0' || rest[0] == ':' || strlen(rest) >= sizeof out->custom) return false;
    out->target = IMP_CUSTOM;
    snprintf(out->custom, sizeof out->custom, "%s", rest);
    return true;
  }
  if (strcmp(name, "-") == 0) return true; /* IMP_NONE */
  for (int t = 0; t < IMP_CUSTOM; t++)
    if (strcmp(name, target_names[t]) == 0) {
      out->target = (imp_target)t;
      return true;
    }
  return false;
}

/* The target of a header by its name alone. */
static void auto_target(const char *header, imp_col *out) {
  char f[128];
  memset(out, 0, sizeof *out);
  if (imp_target_parse(header, out)) return; /* our own export's names */
  fold(header, f, sizeof f);
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(f, names[i].name) == 0) {
      out->target = names[i].target;
      return;
    }
}

static bool same_header(const char *a, const char *b) {
  char fa[128], fb[128];
  if (strcmp(a, b) == 0) return true;
  fold(a, fa, sizeof fa);
  fold(b, fb, sizeof fb);
  return fa[0] && strcmp(fa, fb) == 0;
}

/* --map COLUMN=FIELD: FIELD after the last '='. */
static int apply_map(cli *c, const carnet__sheet *sh, const char *arg, imp_map *m) {
  const char *eq = strrchr(arg, '=');
  imp_col col;
  if (eq == NULL || eq == arg)
    return cli_fail(c, CLI_EUSER, "invalid --map '%s': write COLUMN=FIELD, e.g. --map 'Tél "
                                  "bureau=work_phone'",
                    arg);
  if (!imp_target_parse(eq + 1, &col))
    return cli_fail(c, CLI_EUSER, "invalid --map '%s': unknown field '%s' (fields: %s)", arg,
                    eq + 1, imp_target_list());
  char *name = cli_oom(strndup(arg, (size_t)(eq - arg)));
  bool found = false;
  for (size_t i = 0; i < m->ncols; i++) {
    if (!same_header(name, carnet__sheet_get(sh, 0, i))) continue;
    m->cols[i] = col;
    found = true;
  }
  int rc = found ? CLI_OK
                 : cli_fail(c, CLI_EUSER, "invalid --map '%s': the file has no column '%s'", arg,
                            name);
  free(name);
  return rc;
}

int imp_map_header(cli *c, const carnet__sheet *sh, const char *const *maps, size_t nmaps,
                   bool quiet, imp_map *m) {
  int rc = CLI_OK;
  memset(m, 0, sizeof *m);
  if (carnet__sheet_rows(sh) == 0) return cli_fail(c, CLI_EUSER, "the file is empty");
  m->ncols = carnet__sheet_width(sh, 0);
  m->cols = cli_oom(calloc(m->ncols, sizeof *m->cols));
  for (size_t i = 0; i < m->ncols; i++) auto_target(carnet__sheet_get(sh, 0, i), &m->cols[i]);
  for (size_t k = 0; k < nmaps && rc == CLI_OK; k++) rc = apply_map(c, sh, maps[k], m);
  if (rc) goto done;
  bool named = false;
  for (size_t i = 0; i < m->ncols; i++) {
    imp_target t = m->cols[i].target;
    named |= t == IMP_NAME || t == IMP_COMPANY || t == IMP_FIRST_NAME;
    m->has_id |= t == IMP_ID;
    const char *h = carnet__sheet_get(sh, 0, i);
    if (t == IMP_NONE && h[0] && !quiet)
      fprintf(stderr, "%s: column '%s' is not imported (map it with --map '%s=FIELD')\n", c->cmd,
              h, h);
  }
  if (!named) {
    rc = cli_fail(c, CLI_EUSER,
                  "no column of the header (line %lu) holds a name or a company: is it a "
                  "customer file? (map one with --map 'COLUMN=name')",
                  (unsigned long)carnet__sheet_line(sh, 0));
  }
done:
  if (rc) {
    free(m->cols);
    memset(m, 0, sizeof *m);
  }
  return rc;
}
