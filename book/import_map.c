/* book/import_map.c - a file's header onto customer fields: the map pairs
 * (`carnet import --map`) first, then French and English column names
 * compared folded (case, accents, spaces and punctuation ignored, with
 * utf8proc).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "book/import_int.h"
#include "engine/base/alloc.h"
#include "engine/store/handle.h"

static const char *const target_names[CARNET__IMP_TARGET_MAX_] = {
    [CARNET__IMP_NONE] = "ignore",
    [CARNET__IMP_ID] = "id",
    [CARNET__IMP_REF] = "ref",
    [CARNET__IMP_NAME] = "name",
    [CARNET__IMP_FIRST_NAME] = "first_name",
    [CARNET__IMP_COMPANY] = "company",
    [CARNET__IMP_TYPE] = "type",
    [CARNET__IMP_ROLES] = "roles",
    [CARNET__IMP_EMAILS] = "emails",
    [CARNET__IMP_PHONES] = "phones",
    [CARNET__IMP_MOBILE] = "mobile",
    [CARNET__IMP_WORK_PHONE] = "work_phone",
    [CARNET__IMP_HOME_PHONE] = "home_phone",
    [CARNET__IMP_SIRET] = "siret",
    [CARNET__IMP_VAT_ID] = "vat_id",
    [CARNET__IMP_STREET] = "street",
    [CARNET__IMP_STREET2] = "street2",
    [CARNET__IMP_POSTCODE] = "postcode",
    [CARNET__IMP_CITY] = "city",
    [CARNET__IMP_COUNTRY] = "country",
    [CARNET__IMP_GEO] = "geo",
    [CARNET__IMP_TAGS] = "tags",
    [CARNET__IMP_SALES_REP] = "sales_rep",
    [CARNET__IMP_CHANNEL] = "channel",
    [CARNET__IMP_DISCOUNT] = "discount",
    [CARNET__IMP_CONFLICT] = "conflict",
    [CARNET__IMP_NOTES] = "notes",
    [CARNET__IMP_CUSTOM] = "custom:NAME[:TYPE]",
    [CARNET__IMP_CODE] = "code",
    [CARNET__IMP_CLIENT_KIND] = "client_kind",
    [CARNET__IMP_SUPPLIER] = "supplier",
};

const char *carnet__imp_target_name(carnet__imp_target t) {
  return t < CARNET__IMP_TARGET_MAX_ ? target_names[t] : "?";
}

const char *carnet__imp_target_list(void) {
  return "name, first_name, company, type, roles, emails, phones, mobile, work_phone, "
         "home_phone, siret, vat_id, street, street2, postcode, city, country, geo, tags, "
         "sales_rep, channel, discount, conflict, notes, custom:NAME[:TYPE], code, supplier, "
         "client_kind, id, ignore";
}

/* Folded header names (see fold) and their target, a few to a line. */
#define T(x) CARNET__IMP_##x
// clang-format off
static const struct {
  const char *name;
  carnet__imp_target target;
} names[] = {
    {"id", T(ID)},
    {"ref", T(REF)},            {"reference", T(CODE)},      {"refclient", T(CODE)},
    {"codeclient", T(CODE)},    {"referenceclient", T(CODE)}, {"numeroclient", T(CODE)},
    {"customercode", T(CODE)},  {"customerref", T(CODE)},    {"customerid", T(CODE)},
    {"fournisseur", T(SUPPLIER)}, {"supplier", T(SUPPLIER)},
    {"name", T(NAME)},          {"nom", T(NAME)},            {"nomcomplet", T(NAME)},
    {"fullname", T(NAME)},      {"contact", T(NAME)},        {"nomducontact", T(NAME)},
    {"client", T(NAME)},        {"customer", T(NAME)},       {"displayname", T(NAME)},
    {"nomprenom", T(NAME)},     {"lastname", T(NAME)},       {"surname", T(NAME)},
    {"nomdefamille", T(NAME)},  {"prenom", T(FIRST_NAME)},   {"firstname", T(FIRST_NAME)},
    {"givenname", T(FIRST_NAME)},
    {"company", T(COMPANY)},    {"companyname", T(COMPANY)}, {"raisonsociale", T(COMPANY)},
    {"societe", T(COMPANY)},    {"entreprise", T(COMPANY)},  {"organisation", T(COMPANY)},
    {"organization", T(COMPANY)}, {"denomination", T(COMPANY)}, {"nomsociete", T(COMPANY)},
    {"nomentreprise", T(COMPANY)}, {"etablissement", T(COMPANY)},
    {"type", T(TYPE)},          {"typeclient", T(TYPE)},     {"typedetiers", T(TYPE)},
    {"roles", T(ROLES)},        {"role", T(ROLES)},          {"statut", T(ROLES)},
    {"status", T(ROLES)},
    {"email", T(EMAILS)},       {"emails", T(EMAILS)},       {"mail", T(EMAILS)},
    {"courriel", T(EMAILS)},    {"adressemail", T(EMAILS)},  {"adresseemail", T(EMAILS)},
    {"adressemel", T(EMAILS)},  {"mel", T(EMAILS)},          {"emailaddress", T(EMAILS)},
    {"phone", T(PHONES)},       {"phones", T(PHONES)},       {"telephone", T(PHONES)},
    {"tel", T(PHONES)},         {"telephones", T(PHONES)},   {"phonenumber", T(PHONES)},
    {"fixe", T(PHONES)},        {"telfixe", T(PHONES)},      {"telephonefixe", T(PHONES)},
    {"standard", T(PHONES)},    {"numerodetelephone", T(PHONES)},
    {"mobile", T(MOBILE)},      {"portable", T(MOBILE)},     {"gsm", T(MOBILE)},
    {"cell", T(MOBILE)},        {"cellphone", T(MOBILE)},    {"telportable", T(MOBILE)},
    {"telephoneportable", T(MOBILE)}, {"telmobile", T(MOBILE)}, {"mobilephone", T(MOBILE)},
    {"workphone", T(WORK_PHONE)}, {"telbureau", T(WORK_PHONE)}, {"telpro", T(WORK_PHONE)},
    {"telephonebureau", T(WORK_PHONE)}, {"telephonepro", T(WORK_PHONE)},
    {"telephoneprofessionnel", T(WORK_PHONE)}, {"businessphone", T(WORK_PHONE)},
    {"homephone", T(HOME_PHONE)}, {"teldomicile", T(HOME_PHONE)},
    {"telephonedomicile", T(HOME_PHONE)}, {"telperso", T(HOME_PHONE)},
    {"telephonepersonnel", T(HOME_PHONE)},
    {"siret", T(SIRET)},        {"siren", T(SIRET)},         {"nsiret", T(SIRET)},
    {"numerosiret", T(SIRET)},  {"siretsiren", T(SIRET)},
    {"vatid", T(VAT_ID)},       {"vat", T(VAT_ID)},          {"vatnumber", T(VAT_ID)},
    {"tva", T(VAT_ID)},         {"ntva", T(VAT_ID)},         {"numerotva", T(VAT_ID)},
    {"tvaintracommunautaire", T(VAT_ID)}, {"tvaintra", T(VAT_ID)},
    {"street", T(STREET)},      {"address", T(STREET)},      {"adresse", T(STREET)},
    {"rue", T(STREET)},         {"adresse1", T(STREET)},     {"address1", T(STREET)},
    {"adresseligne1", T(STREET)}, {"voie", T(STREET)},
    {"street2", T(STREET2)},    {"address2", T(STREET2)},    {"adresse2", T(STREET2)},
    {"complementdadresse", T(STREET2)}, {"complementadresse", T(STREET2)},
    {"adresseligne2", T(STREET2)}, {"complement", T(STREET2)},
    {"postcode", T(POSTCODE)},  {"cp", T(POSTCODE)},         {"codepostal", T(POSTCODE)},
    {"zip", T(POSTCODE)},       {"zipcode", T(POSTCODE)},    {"postalcode", T(POSTCODE)},
    {"city", T(CITY)},          {"ville", T(CITY)},          {"commune", T(CITY)},
    {"localite", T(CITY)},      {"town", T(CITY)},
    {"country", T(COUNTRY)},    {"pays", T(COUNTRY)},        {"countrycode", T(COUNTRY)},
    {"codepays", T(COUNTRY)},
    {"geo", T(GEO)},            {"gps", T(GEO)},             {"coordonnees", T(GEO)},
    {"coordinates", T(GEO)},    {"latlon", T(GEO)},
    {"tags", T(TAGS)},          {"tag", T(TAGS)},            {"categorie", T(TAGS)},
    {"categories", T(TAGS)},    {"category", T(TAGS)},       {"etiquettes", T(TAGS)},
    {"etiquette", T(TAGS)},     {"groupe", T(TAGS)},         {"groupes", T(TAGS)},
    {"salesrep", T(SALES_REP)}, {"commercial", T(SALES_REP)}, {"vendeur", T(SALES_REP)},
    {"representant", T(SALES_REP)}, {"responsable", T(SALES_REP)},
    {"accountmanager", T(SALES_REP)},
    {"channel", T(CHANNEL)},    {"canal", T(CHANNEL)},       {"source", T(CHANNEL)},
    {"origine", T(CHANNEL)},    {"provenance", T(CHANNEL)},  {"canaldacquisition", T(CHANNEL)},
    {"leadsource", T(CHANNEL)},
    {"discount", T(DISCOUNT)},  {"remise", T(DISCOUNT)},     {"tauxderemise", T(DISCOUNT)},
    {"conflict", T(CONFLICT)},  {"litige", T(CONFLICT)},     {"contentieux", T(CONFLICT)},
    {"notes", T(NOTES)},        {"note", T(NOTES)},          {"commentaire", T(NOTES)},
    {"commentaires", T(NOTES)}, {"remarque", T(NOTES)},      {"remarques", T(NOTES)},
    {"comment", T(NOTES)},      {"comments", T(NOTES)},      {"observations", T(NOTES)},
    {"description", T(NOTES)},
};
// clang-format on

/* Exports of other applications, recognised by a column only they write:
 * their names take precedence over the general ones above, and their
 * columns that Carnet has no field for are left out silently (`ignored`).
 *
 * Dolibarr (ERP/CRM): the third-party export ("Tiers (sociétés/institutions)
 * et attributs") with French labels, as written from modSociete's export
 * fields and the fr_FR translations: "Nom du tiers", "Code client",
 * "Client" (0 none, 1 customer, 2 prospect, 3 both), "Fournisseur" (0/1),
 * "Id. prof. 1 (SIREN)", "Id. prof. 2 (SIRET)", "Numéro de TVA", "Pays"
 * (a country name), "Code pays", "Note privée", "Note publique", "Date
 * création" (dd/mm/yyyy)...
 *
 * INFast (invoicing): its customer export, whose columns are mostly the
 * general French names; "Code client" and "Raison sociale" with "Civilité"
 * and "Remarques" tell it. */
typedef struct profile_col {
  const char *name; /* folded */
  carnet__imp_target target;
  const char *custom; /* CARNET__IMP_CUSTOM: NAME:TYPE */
} profile_col;

// clang-format off
static const profile_col dolibarr[] = {
    {"nomdutiers", T(COMPANY), NULL},      {"nom", T(COMPANY), NULL},
    {"codeclient", T(CODE), NULL},         {"client", T(CLIENT_KIND), NULL},
    {"fournisseur", T(SUPPLIER), NULL},    {"idprof2siret", T(SIRET), NULL},
    {"idprof1siren", T(NONE), NULL},       {"numerodetva", T(VAT_ID), NULL},
    {"numtva", T(VAT_ID), NULL},           {"adresse", T(STREET), NULL},
    {"codepostal", T(POSTCODE), NULL},     {"ville", T(CITY), NULL},
    {"pays", T(COUNTRY), NULL},            {"codepays", T(COUNTRY), NULL},
    {"telephone", T(WORK_PHONE), NULL},    {"email", T(EMAILS), NULL},
    {"noteprivee", T(NOTES), NULL},        {"notepublique", T(CUSTOM), "note_publique:string"},
    {"datecreation", T(CUSTOM), "date_creation:date"},
    {"typedutiers", T(TYPE), NULL},        {"logincommercial", T(SALES_REP), NULL},
    {"logindelutilisateurcommercial", T(SALES_REP), NULL},
    {"id", T(NONE), NULL},                 {"idtiers", T(NONE), NULL},
    {"nomalternatif", T(NONE), NULL},      {"maisonmere", T(NONE), NULL},
    {"etat", T(NONE), NULL},               {"datedernieremodification", T(NONE), NULL},
    {"codefournisseur", T(NONE), NULL},    {"codecompta", T(NONE), NULL},
    {"codecomptable", T(NONE), NULL},      {"codecomptablefournisseur", T(NONE), NULL},
    {"departementcanton", T(NONE), NULL},  {"region", T(NONE), NULL},
    {"fax", T(NONE), NULL},                {"siteweb", T(NONE), NULL},
    {"url", T(NONE), NULL},                {"languepardefaut", T(NONE), NULL},
    {"idprof3nafape", T(NONE), NULL},      {"idprof4rcsrm", T(NONE), NULL},
    {"idprof5", T(NONE), NULL},            {"idprof6", T(NONE), NULL},
    {"capital", T(NONE), NULL},            {"effectif", T(NONE), NULL},
    {"formejuridique", T(NONE), NULL},     {"potentieldeprospection", T(NONE), NULL},
    {"statutprospection", T(NONE), NULL},  {"conditionsdereglement", T(NONE), NULL},
    {"modedereglement", T(NONE), NULL},    {"encoursautorise", T(NONE), NULL},
    {"comptebancairepardefaut", T(NONE), NULL}, {"incoterms", T(NONE), NULL},
    {"prenomcommercial", T(NONE), NULL},   {"nomcommercial", T(NONE), NULL},
    {NULL, T(NONE), NULL},
};

static const profile_col infast[] = {
    {"codeclient", T(CODE), NULL},         {"raisonsociale", T(COMPANY), NULL},
    {"civilite", T(NONE), NULL},           {"nom", T(NAME), NULL},
    {"prenom", T(FIRST_NAME), NULL},       {"remarques", T(NOTES), NULL},
    {"ntvaintracommunautaire", T(VAT_ID), NULL},
    {"fax", T(NONE), NULL},                {"siteinternet", T(NONE), NULL},
    {"conditionsdepaiement", T(NONE), NULL}, {"delaidepaiement", T(NONE), NULL},
    {"modedepaiement", T(NONE), NULL},     {"comptecomptable", T(NONE), NULL},
    {"datedecreation", T(CUSTOM), "date_creation:date"},
    {NULL, T(NONE), NULL},
};
// clang-format on

static const struct {
  const char *source;
  const char *const *signature; /* folded names: all present */
  const profile_col *cols;
} profiles[] = {
    {"Dolibarr", (const char *const[]){"nomdutiers", NULL}, dolibarr},
    {"Dolibarr", (const char *const[]){"idprof2siret", "codeclient", NULL}, dolibarr},
    {"INFast", (const char *const[]){"codeclient", "raisonsociale", "civilite", "remarques", NULL},
     infast},
};
#undef T

/* "Téléphone portable", "E-mail", "N° SIRET" -> "telephoneportable",
 * "email", "nsiret": case folded, marks stripped, only letters and digits
 * kept. */
void carnet__imp_fold(const char *s, char *out, size_t len) {
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
  free(f); /* utf8proc allocates with the C library's malloc */
}

bool carnet__imp_target_parse(const char *name, carnet__imp_col *out) {
  memset(out, 0, sizeof *out);
  if (strncasecmp(name, "custom:", 7) == 0) {
    const char *rest = name + 7;
    if (rest[0] == '\0' || rest[0] == ':' || strlen(rest) >= sizeof out->custom) return false;
    out->target = CARNET__IMP_CUSTOM;
    snprintf(out->custom, sizeof out->custom, "%s", rest);
    return true;
  }
  if (strcmp(name, "-") == 0) return true; /* CARNET__IMP_NONE */
  for (int t = 0; t < CARNET__IMP_TARGET_MAX_; t++)
    if (t != CARNET__IMP_CUSTOM && strcmp(name, target_names[t]) == 0) {
      out->target = (carnet__imp_target)t;
      return true;
    }
  return false;
}

/* The recognised export whose signature columns the header has, or -1. */
static int profile_of(const carnet__sheet *sh, size_t ncols) {
  for (size_t p = 0; p < sizeof profiles / sizeof profiles[0]; p++) {
    bool all = true;
    for (const char *const *sig = profiles[p].signature; *sig && all; sig++) {
      bool found = false;
      for (size_t i = 0; i < ncols && !found; i++) {
        char f[128];
        carnet__imp_fold(carnet__sheet_get(sh, 0, i), f, sizeof f);
        found = strcmp(f, *sig) == 0;
      }
      all = found;
    }
    if (all) return (int)p;
  }
  return -1;
}

/* The target of a header by its name alone (`prof`: a recognised export's
 * index in profiles, or -1). */
static void auto_target(const char *header, int prof, carnet__imp_col *out) {
  char f[128];
  memset(out, 0, sizeof *out);
  if (carnet__imp_target_parse(header, out)) return; /* our own export's names */
  carnet__imp_fold(header, f, sizeof f);
  for (const profile_col *pc = prof >= 0 ? profiles[prof].cols : NULL; pc && pc->name; pc++)
    if (strcmp(f, pc->name) == 0) {
      out->target = pc->target;
      out->ignored = pc->target == CARNET__IMP_NONE;
      if (pc->custom) snprintf(out->custom, sizeof out->custom, "%s", pc->custom);
      return;
    }
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(f, names[i].name) == 0) {
      out->target = names[i].target;
      return;
    }
}

static bool same_header(const char *a, const char *b) {
  char fa[128], fb[128];
  if (strcmp(a, b) == 0) return true;
  carnet__imp_fold(a, fa, sizeof fa);
  carnet__imp_fold(b, fb, sizeof fb);
  return fa[0] && strcmp(fa, fb) == 0;
}

/* A map pair COLUMN=FIELD: FIELD after the last '='. The messages name
 * --map, the documented name of the option (carnet_import_options.maps
 * takes the same pairs). */
static int apply_map(carnet_replica *r, const carnet__sheet *sh, const char *arg,
                     carnet__imp_map *m) {
  const char *eq = strrchr(arg, '=');
  carnet__imp_col col;
  if (eq == NULL || eq == arg)
    return carnet__fail(
        r, CARNET_EINVAL,
        "invalid --map '%s': write COLUMN=FIELD, e.g. --map 'Tél bureau=work_phone'", arg);
  if (!carnet__imp_target_parse(eq + 1, &col))
    return carnet__fail(r, CARNET_EINVAL, "invalid --map '%s': unknown field '%s' (fields: %s)",
                        arg, eq + 1, carnet__imp_target_list());
  col.mapped = true;
  col.ignored = col.target == CARNET__IMP_NONE;
  char *name = carnet__strndup(arg, (size_t)(eq - arg));
  if (name == NULL) return carnet__fail(r, CARNET_ENOMEM, "out of memory");
  bool found = false;
  for (size_t i = 0; i < m->ncols; i++) {
    if (!same_header(name, carnet__sheet_get(sh, 0, i))) continue;
    m->cols[i] = col;
    found = true;
  }
  int err = found ? 0
                  : carnet__fail(r, CARNET_EINVAL,
                                 "invalid --map '%s': the file has no column '%s'", arg, name);
  carnet__free(name);
  return err;
}

/* The field name of a column for on_column: "emails", "custom:size:number". */
static const char *field_of(const carnet__imp_col *c, char *buf, size_t len) {
  if (c->target == CARNET__IMP_NONE) return NULL;
  if (c->target == CARNET__IMP_CODE) return "custom:" CARNET__IMP_CODE_FIELD;
  if (c->target == CARNET__IMP_CLIENT_KIND || c->target == CARNET__IMP_SUPPLIER) return "roles";
  if (c->target != CARNET__IMP_CUSTOM) return carnet__imp_target_name(c->target);
  snprintf(buf, len, "custom:%s", c->custom);
  return buf;
}

int carnet__imp_map_header(carnet_replica *r, const carnet__sheet *sh, const char *const *maps,
                           size_t nmaps, carnet_import_column_fn *on_column, void *ctx,
                           carnet__imp_map *m) {
  int err = 0;
  char field[96];
  memset(m, 0, sizeof *m);
  if (carnet__sheet_rows(sh) == 0) return carnet__fail(r, CARNET_EINVAL, "the file is empty");
  m->ncols = carnet__sheet_width(sh, 0);
  if ((m->cols = carnet__calloc(m->ncols ? m->ncols : 1, sizeof *m->cols)) == NULL)
    return carnet__fail(r, CARNET_ENOMEM, "out of memory");
  int prof = profile_of(sh, m->ncols);
  m->source = prof >= 0 ? profiles[prof].source : NULL;
  for (size_t i = 0; i < m->ncols; i++)
    auto_target(carnet__sheet_get(sh, 0, i), prof, &m->cols[i]);
  for (size_t k = 0; k < nmaps && err == 0; k++)
    err = apply_map(r, sh, maps[k], m);
  if (err) return err;
  bool named = false;
  for (size_t i = 0; i < m->ncols; i++) {
    carnet__imp_target t = m->cols[i].target;
    named |= t == CARNET__IMP_NAME || t == CARNET__IMP_COMPANY || t == CARNET__IMP_FIRST_NAME;
    m->has_id |= t == CARNET__IMP_ID;
  }
  /* The columns are reported before the verdict on the header, so that a
   * refused file shows which of its columns were understood. */
  for (size_t i = 0; on_column && i < m->ncols; i++) {
    carnet_import_column col = {i, carnet__sheet_get(sh, 0, i),
                                field_of(&m->cols[i], field, sizeof field), m->cols[i].mapped,
                                m->cols[i].ignored};
    on_column(ctx, &col);
  }
  bool country = false;
  for (size_t i = 0; i < m->ncols; i++)
    country |= m->cols[i].target == CARNET__IMP_COUNTRY;
  if (named && country && carnet__countries_load(&m->countries) != 0)
    return carnet__fail(r, CARNET_ENOMEM, "out of memory");
  if (!named)
    return carnet__fail(r, CARNET_EINVAL,
                        "no column of the header (line %lu) holds a name or a company: is it a "
                        "customer file? (map one with --map 'COLUMN=name')",
                        (unsigned long)carnet__sheet_line(sh, 0));
  return 0;
}

void carnet__imp_map_free(carnet__imp_map *m) {
  carnet__countries_free(m->countries);
  carnet__free(m->cols);
  memset(m, 0, sizeof *m);
}
