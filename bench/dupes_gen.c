/* bench/dupes_gen.c - the generator of bench/dupes_gen.h.
 *
 * Distributions (chosen to look like a regional French customer base, not
 * to suit the detector):
 *   - places: ~130 postcodes (Paris, Lyon and Marseille by arrondissement,
 *     towns of several regions, two of La Réunion), Zipf-like weights
 *     flattened (s = 0.4), so the largest postcode holds ~3 % of the base;
 *   - surnames: 25 % from ~200 common French surnames (Zipf s = 0.5), the
 *     rest built from French-like stems and endings (~3,000 forms) or
 *     double-barrelled, so that same-surname neighbours exist but are not
 *     the rule; first names ~130 (Zipf s = 0.4), some accented;
 *   - 70 % individuals, 30 % companies (activity + proper name or place,
 *     a legal form on 70 % of them, a valid SIRET on 85 %; one trade name
 *     at most once per postcode, as homonymous firms side by side are rare);
 *   - phones: mobiles 06/07 and landlines 01-05 by region (0262/0692 in La
 *     Réunion), unique per customer, each record writing its numbers in one
 *     of nine common forms; e-mails derived from the name, unique;
 *   - companies name no one (30 %), their trade name (30 %) or a contact
 *     person (40 %), whose surname is the one in the trade name when it has
 *     one ("Noël Blanc", "Garage Blanc SARL");
 *   - homonyms (issue 18): 3 % of individuals have one with the same first
 *     and last name in the same postcode, with their own mobile and e-mail;
 *     4 % of companies another firm of the same trade name in the same
 *     postcode (another SIREN, legal form and contact person of the same
 *     family); 4 % of companies with a SIRET another establishment (same
 *     SIREN, another SIRET, its own phones, often in another town).
 */
#include "bench/dupes_gen.h"

/* Generated text fits its fields by construction; where it would not, cutting
 * it is what is wanted. */
#if defined(__GNUC__) && !defined(__clang__) /* clang has no such warning */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- PRNG ----------------------------------------------------------------- */

typedef struct rng {
  uint64_t s;
} rng;

static uint64_t rnext(rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static unsigned rbelow(rng *r, unsigned n) {
  return (unsigned)(rnext(r) % n);
}
static double runit(rng *r) {
  return (double)(rnext(r) >> 11) / 9007199254740992.0;
}
static bool rchance(rng *r, double p) {
  return runit(r) < p;
}

/* Zipf-like pick among n items with exponent s (weights i^-s). */
typedef struct zipf {
  double *cum;
  size_t n;
} zipf;

static double powd(double x, double y) { /* x > 0; no libm: exp(y ln x) */
  /* ln by series on the mantissa, exp by squaring: good to ~1e-9. */
  int e = 0;
  while (x > 2.0) {
    x /= 2.0;
    e++;
  }
  while (x < 1.0) {
    x *= 2.0;
    e--;
  }
  double t = (x - 1) / (x + 1), t2 = t * t, ln = 0, term = t;
  for (int k = 1; k < 60; k += 2) {
    ln += term / k;
    term *= t2;
  }
  ln = 2 * ln + e * 0.6931471805599453;
  double z = y * ln, sum = 1, tz = 1;
  int sh = 0;
  while (z > 1 || z < -1) {
    z /= 2;
    sh++;
  }
  for (int k = 1; k < 30; k++) {
    tz *= z / k;
    sum += tz;
  }
  while (sh-- > 0)
    sum *= sum;
  return sum;
}

static int zipf_init(zipf *z, size_t n, double s) {
  z->cum = malloc(n * sizeof *z->cum);
  if (z->cum == NULL) return -1;
  z->n = n;
  double acc = 0;
  for (size_t i = 0; i < n; i++) {
    acc += 1.0 / powd((double)(i + 1), s);
    z->cum[i] = acc;
  }
  for (size_t i = 0; i < n; i++)
    z->cum[i] /= acc;
  return 0;
}
static size_t zipf_pick(const zipf *z, rng *r) {
  double u = runit(r);
  size_t lo = 0, hi = z->n - 1;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (z->cum[mid] < u)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* --- Word lists ----------------------------------------------------------- */

static const char *const surnames[] = {
    "Martin",    "Bernard",    "Thomas",   "Petit",       "Robert",    "Richard",   "Durand",
    "Dubois",    "Moreau",     "Laurent",  "Simon",       "Michel",    "Lefèvre",   "Leroy",
    "Roux",      "David",      "Bertrand", "Morel",       "Fournier",  "Girard",    "Bonnet",
    "Dupont",    "Lambert",    "Fontaine", "Rousseau",    "Vincent",   "Muller",    "Lefebvre",
    "Faure",     "André",      "Mercier",  "Blanc",       "Guérin",    "Boyer",     "Garnier",
    "Chevalier", "François",   "Legrand",  "Gauthier",    "Garcia",    "Perrin",    "Robin",
    "Clément",   "Morin",      "Nicolas",  "Henry",       "Roussel",   "Mathieu",   "Gautier",
    "Masson",    "Marchand",   "Duval",    "Denis",       "Dumont",    "Marie",     "Lemaire",
    "Noël",      "Meyer",      "Dufour",   "Meunier",     "Brun",      "Blanchard", "Giraud",
    "Joly",      "Rivière",    "Lucas",    "Brunet",      "Gaillard",  "Barbier",   "Arnaud",
    "Martinez",  "Gérard",     "Roche",    "Renard",      "Schmitt",   "Roy",       "Leroux",
    "Colin",     "Vidal",      "Caron",    "Picard",      "Roger",     "Fabre",     "Aubert",
    "Lemoine",   "Renaud",     "Dumas",    "Lacroix",     "Olivier",   "Philippe",  "Bourgeois",
    "Pierre",    "Benoît",     "Rey",      "Leclerc",     "Payet",     "Rolland",   "Leclercq",
    "Guillaume", "Lecomte",    "Lopez",    "Jean",        "Dupuy",     "Guillot",   "Hubert",
    "Berger",    "Carpentier", "Sanchez",  "Dupuis",      "Moulin",    "Louis",     "Deschamps",
    "Huet",      "Vasseur",    "Perez",    "Boucher",     "Fleury",    "Royer",     "Klein",
    "Jacquet",   "Adam",       "Paris",    "Poirier",     "Marty",     "Aubry",     "Guyot",
    "Carré",     "Charles",    "Renault",  "Charpentier", "Ménard",    "Maillard",  "Baron",
    "Bertin",    "Bailly",     "Hervé",    "Schneider",   "Fernandez", "Le Gall",   "Collet",
    "Léger",     "Bouvier",    "Julien",   "Prévost",     "Millet",    "Perrot",    "Daniel",
    "Le Roux",   "Cousin",     "Germain",  "Breton",      "Besson",    "Langlois",  "Rémy",
    "Le Goff",   "Pelletier",  "Lévêque",  "Perrier",     "Leblanc",   "Barré",     "Lebrun",
    "Marchal",   "Weber",      "Mallet",   "Hamon",       "Boulanger", "Jacob",     "Monnier",
    "Michaud",   "Rodriguez",  "Guichard", "Gillet",      "Étienne",   "Grondin",   "Poulain",
    "Tessier",   "Chevallier", "Collin",   "Chauvin",     "Da Silva",  "Bouchet",   "Gay",
    "Lemaître",  "Bénard",     "Maréchal", "Humbert",     "Reynaud",   "Antoine",   "Hoarau",
    "Perret",    "Barthélemy", "Cordier",  "Pichon",      "Lejeune",   "Gilbert",   "Lamy",
    "Delaunay",  "Pasquier",   "Carlier",  "Laporte",
};
static const char *const stems[] = {
    "Bel", "Bour", "Cham", "Char", "Cour", "Dela", "Des", "Fau", "Gal", "Gra", "Jau", "Lam",
    "Lan", "Lav",  "Mar",  "Mont", "Mor",  "Pel",  "Per", "Pon", "Rou", "Sau", "Tal", "Ver",
    "Vil", "Bar",  "Bro",  "Cas",  "Cla",  "Fer",  "Gau", "Her", "Lou", "Mal", "Nau", "Pa",
    "Ram", "Ros",  "Tour", "Val",  "Beau", "Bois", "Cha", "Cor", "Du",  "Fon", "Gri", "Jo",
    "Le",  "Mau",  "Ou",   "Pi",   "Ri",   "Sal",  "Tes", "Vau", "Bla", "Cré", "Dé",  "Ga",
};
static const char *const endings[] = {
    "bert", "lier", "chon", "geot", "vaux",  "teau",  "rand",  "mont",  "lard",  "nier",
    "quet", "rier", "tier", "det",  "zelle", "bault", "card",  "champ", "din",   "geon",
    "let",  "mard", "nard", "pin",  "ret",   "sson",  "thier", "vel",   "court", "lin",
    "ard",  "aud",  "elle", "eron", "ier",   "ot",    "ouin",  "ville", "ais",   "ant",
    "asse", "eau",  "ec",   "ey",   "ille",  "ois",   "oux",   "y",     "in",    "oche",
};
static const char *const first_m[] = {
    "Jean",     "Pierre",      "Michel",   "Philippe",  "Alain",    "Nicolas",  "Christophe",
    "Patrick",  "Daniel",      "Stéphane", "Christian", "Frédéric", "Laurent",  "David",
    "Éric",     "Olivier",     "Julien",   "Sébastien", "Thierry",  "Bernard",  "Thomas",
    "Pascal",   "Jacques",     "Bruno",    "Dominique", "Vincent",  "François", "Alexandre",
    "Gérard",   "Antoine",     "Maxime",   "Guillaume", "Jérôme",   "Romain",   "Didier",
    "Hugo",     "Lucas",       "Louis",    "Mathieu",   "Claude",   "Yves",     "Jean-Pierre",
    "Jean-Luc", "Jean-Claude", "Serge",    "Gilles",    "Franck",   "Cédric",   "Kévin",
    "Anthony",  "Fabrice",     "Arnaud",   "Benoît",    "Rémi",     "Théo",     "Quentin",
    "Loïc",     "Hervé",       "Raphaël",  "Baptiste",  "Arthur",   "Léo",      "Gabriel",
    "Noël",     "Joël",        "Marcel",   "René",
};
static const char *const first_f[] = {
    "Marie",    "Nathalie",  "Isabelle",  "Sylvie",   "Catherine", "Françoise", "Christine",
    "Sandrine", "Valérie",   "Véronique", "Anne",     "Stéphanie", "Céline",    "Julie",
    "Aurélie",  "Sophie",    "Camille",   "Émilie",   "Laura",     "Sarah",     "Monique",
    "Martine",  "Nicole",    "Chantal",   "Brigitte", "Hélène",    "Claire",    "Caroline",
    "Élodie",   "Virginie",  "Patricia",  "Laurence", "Corinne",   "Pauline",   "Manon",
    "Léa",      "Chloé",     "Emma",      "Inès",     "Jeanne",    "Danielle",  "Louise",
    "Agnès",    "Béatrice",  "Mélanie",   "Delphine", "Florence",  "Audrey",    "Amandine",
    "Marine",   "Charlotte", "Lucie",     "Océane",   "Mathilde",  "Anaïs",     "Clémence",
    "Margaux",  "Josiane",   "Ginette",   "Odile",    "Bérénice",  "Gaëlle",    "Noémie",
    "Maëlle",   "Solène",
};
static const char *const activities[] = {
    "Boulangerie", "Garage",       "Plomberie", "Cabinet",    "Transports",  "Menuiserie",
    "Pharmacie",   "Restaurant",   "Hôtel",     "Boucherie",  "Électricité", "Maçonnerie",
    "Couverture",  "Librairie",    "Fleurs",    "Coiffure",   "Institut",    "Taxi",
    "Ambulances",  "Informatique", "Conseil",   "Imprimerie", "Pâtisserie",  "Carrosserie",
    "Peinture",    "Paysages",     "Optique",   "Auto-école", "Traiteur",    "Charpente",
    "Serrurerie",  "Chauffage",    "Agence",    "Atelier",    "Domaine",     "Ferme",
    "Cave",
};
static const char *const co_suffix[] = {
    "du Centre", "de la Gare",  "du Port", "des Halles", "du Marché", "de l'Ouest", "Services",
    "& Fils",    "et Associés", "Frères",  "Conseil",    "Pro",       "Express",    "Plus",
};
/* Legal forms and their spellings: same form, other spellings. */
static const char *const forms[][3] = {
    {"SARL", "S.A.R.L.", "Sarl"}, {"SAS", "S.A.S.", "sas"},     {"EURL", "E.U.R.L.", "Eurl"},
    {"SA", "S.A.", "SA"},         {"SASU", "S.A.S.U.", "Sasu"}, {"SCI", "S.C.I.", "sci"},
    {"SNC", "S.N.C.", "SNC"},
};
static const char *const street_kinds[] = {"rue",     "avenue", "boulevard", "place", "chemin",
                                           "impasse", "allée",  "route",     "quai"};
static const char *const street_names[] = {
    "de la République", "Victor Hugo",   "Jean Jaurès",  "de la Gare",   "du Général de Gaulle",
    "Pasteur",          "des Écoles",    "de l'Église",  "Jules Ferry",  "du Moulin",
    "de la Mairie",     "Gambetta",      "Voltaire",     "des Lilas",    "du Château",
    "de Verdun",        "Carnot",        "de la Paix",   "des Acacias",  "Émile Zola",
    "du Stade",         "de la Liberté", "Saint-Martin", "des Tilleuls",
};
static const char *const providers[] = {"gmail.com",  "orange.fr", "free.fr",     "wanadoo.fr",
                                        "hotmail.fr", "sfr.fr",    "laposte.net", "yahoo.fr",
                                        "outlook.fr", "icloud.com"};

typedef struct place {
  char postcode[8];
  const char *city;
  char area; /* landline first digit: '1'..'5', 'R' = La Réunion */
} place;

static const struct {
  const char *pc, *city;
  char area;
} towns[] = {
    {"69100", "Villeurbanne", '4'},
    {"31000", "Toulouse", '5'},
    {"06000", "Nice", '4'},
    {"44000", "Nantes", '2'},
    {"67000", "Strasbourg", '3'},
    {"34000", "Montpellier", '4'},
    {"33000", "Bordeaux", '5'},
    {"59000", "Lille", '3'},
    {"35000", "Rennes", '2'},
    {"51100", "Reims", '3'},
    {"42000", "Saint-Étienne", '4'},
    {"83000", "Toulon", '4'},
    {"38000", "Grenoble", '4'},
    {"21000", "Dijon", '3'},
    {"49000", "Angers", '2'},
    {"30000", "Nîmes", '4'},
    {"63000", "Clermont-Ferrand", '4'},
    {"72000", "Le Mans", '2'},
    {"29200", "Brest", '2'},
    {"37000", "Tours", '2'},
    {"80000", "Amiens", '3'},
    {"87000", "Limoges", '5'},
    {"74000", "Annecy", '4'},
    {"66000", "Perpignan", '4'},
    {"57000", "Metz", '3'},
    {"25000", "Besançon", '3'},
    {"45000", "Orléans", '2'},
    {"76000", "Rouen", '2'},
    {"14000", "Caen", '2'},
    {"68100", "Mulhouse", '3'},
    {"54000", "Nancy", '3'},
    {"92100", "Boulogne-Billancourt", '1'},
    {"93100", "Montreuil", '1'},
    {"92000", "Nanterre", '1'},
    {"94400", "Vitry-sur-Seine", '1'},
    {"92600", "Asnières-sur-Seine", '1'},
    {"92200", "Neuilly-sur-Seine", '1'},
    {"78000", "Versailles", '1'},
    {"95100", "Argenteuil", '1'},
    {"93200", "Saint-Denis", '1'},
    {"64000", "Pau", '5'},
    {"17000", "La Rochelle", '5'},
    {"86000", "Poitiers", '5'},
    {"56100", "Lorient", '2'},
    {"22000", "Saint-Brieuc", '2'},
    {"29000", "Quimper", '2'},
    {"56000", "Vannes", '2'},
    {"85000", "La Roche-sur-Yon", '2'},
    {"79000", "Niort", '5'},
    {"16000", "Angoulême", '5'},
    {"24000", "Périgueux", '5'},
    {"40000", "Mont-de-Marsan", '5'},
    {"65000", "Tarbes", '5'},
    {"81000", "Albi", '5'},
    {"82000", "Montauban", '5'},
    {"11000", "Carcassonne", '4'},
    {"84000", "Avignon", '4'},
    {"26000", "Valence", '4'},
    {"73000", "Chambéry", '4'},
    {"01000", "Bourg-en-Bresse", '4'},
    {"71100", "Chalon-sur-Saône", '3'},
    {"58000", "Nevers", '3'},
    {"18000", "Bourges", '2'},
    {"41000", "Blois", '2'},
    {"28000", "Chartres", '2'},
    {"27000", "Évreux", '2'},
    {"50100", "Cherbourg-en-Cotentin", '2'},
    {"53000", "Laval", '2'},
    {"61000", "Alençon", '2'},
    {"62000", "Arras", '3'},
    {"59100", "Roubaix", '3'},
    {"59200", "Tourcoing", '3'},
    {"59140", "Dunkerque", '3'},
    {"62100", "Calais", '3'},
    {"02100", "Saint-Quentin", '3'},
    {"60000", "Beauvais", '3'},
    {"10000", "Troyes", '3'},
    {"52000", "Chaumont", '3'},
    {"88000", "Épinal", '3'},
    {"90000", "Belfort", '3'},
    {"39000", "Lons-le-Saunier", '3'},
    {"03100", "Montluçon", '4'},
    {"15000", "Aurillac", '4'},
    {"43000", "Le Puy-en-Velay", '4'},
    {"07200", "Aubenas", '4'},
    {"05000", "Gap", '4'},
    {"04000", "Digne-les-Bains", '4'},
    {"20000", "Ajaccio", '4'},
    {"20200", "Bastia", '4'},
    {"97400", "Saint-Denis", 'R'},
    {"97410", "Saint-Pierre", 'R'},
    {"44600", "Saint-Nazaire", '2'},
    {"35400", "Saint-Malo", '2'},
    {"64100", "Bayonne", '5'},
    {"64200", "Biarritz", '5'},
    {"13100", "Aix-en-Provence", '4'},
    {"83400", "Hyères", '4'},
    {"06400", "Cannes", '4'},
    {"06600", "Antibes", '4'},
    {"34500", "Béziers", '4'},
    {"30100", "Alès", '4'},
    {"69400", "Villefranche-sur-Saône", '4'},
};

/* --- Text helpers --------------------------------------------------------- */

static const char *const accent_map[][2] = {
    {"é", "e"}, {"è", "e"}, {"ê", "e"}, {"ë", "e"}, {"à", "a"}, {"â", "a"}, {"ç", "c"},
    {"î", "i"}, {"ï", "i"}, {"ô", "o"}, {"û", "u"}, {"ù", "u"}, {"É", "E"}, {"È", "E"},
};

static void replace_all(char *s, size_t cap, const char *from, const char *to) {
  char out[256];
  size_t fl = strlen(from), tl = strlen(to), o = 0;
  for (const char *p = s; *p && o + tl + 1 < sizeof out;) {
    if (strncmp(p, from, fl) == 0) {
      memcpy(out + o, to, tl);
      o += tl;
      p += fl;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
  snprintf(s, cap, "%s", out);
}

static void drop_accents(char *s, size_t cap) {
  for (size_t i = 0; i < N(accent_map); i++)
    replace_all(s, cap, accent_map[i][0], accent_map[i][1]);
}

static bool has_accent(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80) return true;
  return false;
}

/* Put an accent on one 'e' that follows a consonant (Lefevre -> Lefèvre). */
static void add_accent(rng *r, char *s, size_t cap) {
  size_t n = strlen(s), cand[32], nc = 0;
  for (size_t i = 1; i < n && nc < 32; i++)
    if (s[i] == 'e' && isalpha((unsigned char)s[i - 1])) cand[nc++] = i;
  if (nc == 0) return;
  size_t at = cand[rbelow(r, (unsigned)nc)];
  char out[256];
  snprintf(out, sizeof out, "%.*s%s%s", (int)at, s, rchance(r, 0.7) ? "é" : "è", s + at + 1);
  snprintf(s, cap, "%s", out);
}

static void ascii_upper(char *s) {
  for (; *s; s++)
    *s = (char)toupper((unsigned char)*s);
}

/* An e-mail local part from a name: ASCII letters, '-', '.'. */
static void slug(const char *in, char *out, size_t cap) {
  char t[256];
  snprintf(t, sizeof t, "%s", in);
  drop_accents(t, sizeof t);
  size_t o = 0;
  for (const char *p = t; *p && o + 1 < cap; p++) {
    unsigned char c = (unsigned char)*p;
    if (isalnum(c))
      out[o++] = (char)tolower(c);
    else if ((c == ' ' || c == '-' || c == '\'') && o > 0 && out[o - 1] != '-')
      out[o++] = '-';
  }
  while (o > 0 && out[o - 1] == '-')
    o--;
  out[o] = '\0';
}

/* One edit on an ASCII letter of `s` (not the first character of a word
 * nine times out of ten): substitute, delete, insert or transpose. */
static void typo(rng *r, char *s, size_t cap) {
  size_t n = strlen(s), cand[128], nc = 0;
  for (size_t i = 0; i < n && nc < 128; i++) {
    if (!isalpha((unsigned char)s[i])) continue;
    bool word_start = i == 0 || s[i - 1] == ' ' || s[i - 1] == '-';
    if (word_start && !rchance(r, 0.1)) continue;
    cand[nc++] = i;
  }
  if (nc == 0) return;
  size_t at = cand[rbelow(r, (unsigned)nc)];
  static const char letters[] = "aeiourstnlmcdpbgvfhjqxyz";
  char c = letters[rbelow(r, sizeof letters - 1)];
  if (isupper((unsigned char)s[at])) c = (char)toupper((unsigned char)c);
  char out[256];
  switch (rbelow(r, 4)) {
  case 0: /* substitute */
    if (c == s[at]) c = c == 'e' ? 'a' : 'e';
    s[at] = c;
    return;
  case 1: /* delete */
    if (n < 4) return;
    memmove(s + at, s + at + 1, n - at);
    return;
  case 2: /* insert (often a doubled letter) */
    if (rchance(r, 0.5)) c = s[at];
    snprintf(out, sizeof out, "%.*s%c%s", (int)at, s, c, s + at);
    snprintf(s, cap, "%s", out);
    return;
  default: /* transpose with the next ASCII letter */
    if (at + 1 < n && isalpha((unsigned char)s[at + 1]) && s[at] != s[at + 1]) {
      char x = s[at];
      s[at] = s[at + 1];
      s[at + 1] = x;
    } else {
      s[at] = c;
    }
  }
}

/* --- Identifiers ---------------------------------------------------------- */

int dg_luhn_ok(const char *d) {
  size_t n = strlen(d);
  unsigned sum = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned v = (unsigned)(d[n - 1 - i] - '0');
    if (i % 2 == 1) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return sum % 10 == 0;
}

/* Fill d[0..len-2] at random (d[0] not 0), set d[len-1] so Luhn holds. */
static void luhn_fill(rng *r, char *d, size_t len, size_t from) {
  for (size_t i = from; i + 1 < len; i++)
    d[i] = (char)('0' + rbelow(r, 10));
  if (from == 0 && d[0] == '0') d[0] = '1' + (char)rbelow(r, 8);
  d[len] = '\0';
  for (char c = '0'; c <= '9'; c++) {
    d[len - 1] = c;
    if (dg_luhn_ok(d)) return;
  }
}

/* A set of 64-bit values (uniqueness of phones, SIRENs, e-mails). */
typedef struct uset {
  uint64_t *v;
  size_t cap, n;
} uset;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h | 1;
}

/* true when x was new (and is now in). */
static bool uset_add(uset *u, uint64_t x) {
  if (x == 0) x = 1;
  if ((u->n + 1) * 2 > u->cap) {
    size_t cap = u->cap ? u->cap * 2 : 4096;
    uint64_t *v = calloc(cap, sizeof *v);
    if (v == NULL) abort();
    for (size_t i = 0; i < u->cap; i++) {
      if (!u->v[i]) continue;
      size_t h = (u->v[i] * 0x9e3779b97f4a7c15ull) >> 20 & (cap - 1);
      while (v[h])
        h = (h + 1) & (cap - 1);
      v[h] = u->v[i];
    }
    free(u->v);
    u->v = v;
    u->cap = cap;
  }
  size_t h = (x * 0x9e3779b97f4a7c15ull) >> 20 & (u->cap - 1);
  while (u->v[h]) {
    if (u->v[h] == x) return false;
    h = (h + 1) & (u->cap - 1);
  }
  u->v[h] = x;
  u->n++;
  return true;
}

/* --- The generator --------------------------------------------------------- */

typedef struct gen {
  rng r;
  zipf zplace, zsur, zfm, zff;
  place *places;
  size_t nplaces;
  uset phones, sirens, emails, conames;
} gen;

static void pick_surname(gen *g, char *out, size_t cap) {
  double u = runit(&g->r);
  if (u < 0.25) {
    snprintf(out, cap, "%s", surnames[zipf_pick(&g->zsur, &g->r)]);
  } else if (u < 0.95) {
    snprintf(out, cap, "%s%s", stems[rbelow(&g->r, N(stems))], endings[rbelow(&g->r, N(endings))]);
  } else {
    snprintf(out, cap, "%s-%s%s", surnames[zipf_pick(&g->zsur, &g->r)],
             stems[rbelow(&g->r, N(stems))], endings[rbelow(&g->r, N(endings))]);
  }
}

static const char *pick_first(gen *g, bool *female) {
  *female = rchance(&g->r, 0.5);
  return *female ? first_f[zipf_pick(&g->zff, &g->r)] : first_m[zipf_pick(&g->zfm, &g->r)];
}

/* Digits of a unique French number: "0612345678". */
/* The prefixes French numbering gives the overseas departments (0262,
 * 0590, 0692, ...): a metropolitan number never starts with them. */
static bool overseas_prefix(const char *d) {
  static const char *const p[] = {"0262", "0263", "0269", "0508", "0590", "0594", "0596", "0639",
                                  "0690", "0691", "0692", "0693", "0694", "0696", "0697"};
  for (size_t i = 0; i < N(p); i++)
    if (strncmp(d, p[i], 4) == 0) return true;
  return false;
}

static void make_phone(gen *g, bool mobile, char area, char out[11]) {
  do {
    if (area == 'R')
      snprintf(out, 11, "%s%06u", mobile ? "0692" : "0262", rbelow(&g->r, 1000000));
    else
      snprintf(out, 11, "0%c%08u", mobile ? (rchance(&g->r, 0.7) ? '6' : '7') : area,
               rbelow(&g->r, 100000000));
  } while ((area != 'R' && overseas_prefix(out)) || !uset_add(&g->phones, hash_str(out)));
}

/* The digits "0612345678" in one of the common written forms. */
static void write_phone(rng *r, const char *d, bool overseas, char *out, size_t cap) {
  unsigned f = rbelow(r, overseas ? 4 : 9);
  const char *n = d + 1; /* without the trunk 0 */
  switch (f) {
  case 0:
    snprintf(out, cap, "%.2s %.2s %.2s %.2s %.2s", d, d + 2, d + 4, d + 6, d + 8);
    return;
  case 1:
    snprintf(out, cap, "%s", d);
    return;
  case 2:
    snprintf(out, cap, "%.2s.%.2s.%.2s.%.2s.%.2s", d, d + 2, d + 4, d + 6, d + 8);
    return;
  case 3:
    snprintf(out, cap, "%.2s-%.2s-%.2s-%.2s-%.2s", d, d + 2, d + 4, d + 6, d + 8);
    return;
  case 4:
    snprintf(out, cap, "+33 %.1s %.2s %.2s %.2s %.2s", n, n + 1, n + 3, n + 5, n + 7);
    return;
  case 5:
    snprintf(out, cap, "+33 (0)%.1s %.2s %.2s %.2s %.2s", n, n + 1, n + 3, n + 5, n + 7);
    return;
  case 6:
    snprintf(out, cap, "0033%s", n);
    return;
  case 7:
    snprintf(out, cap, "+33%s", n);
    return;
  default:
    snprintf(out, cap, "%s", n); /* a spreadsheet dropped the zero */
  }
}

typedef struct person {
  char first[48], last[64];
  bool female;
} person;

/* The customer behind the records: canonical values, written per record. */
typedef struct truth {
  int company_kind;
  person p;
  char co_base[96]; /* company name without legal form */
  int form;         /* -1: none, else index in forms */
  int contact;      /* companies: 0 no name, 1 the trade name as name, 2 a contact person */
  size_t place;
  char street[128];
  char mobile[11], landline[11];
  char email[128];
  char siret[15];
} truth;

static void make_email(gen *g, const truth *t, char *out, size_t cap) {
  char f[64], l[64], dom[96];
  slug(t->p.first, f, sizeof f);
  slug(t->p.last, l, sizeof l);
  for (int attempt = 0;; attempt++) {
    if (t->company_kind) {
      char co[96];
      slug(t->co_base, co, sizeof co);
      snprintf(dom, sizeof dom, "%s%s.fr", co, attempt ? "-" : "");
      if (attempt) snprintf(dom + strlen(dom) - 3, 32, "%u.fr", (unsigned)attempt + 1);
      snprintf(out, cap, "%s@%s", rchance(&g->r, 0.6) ? "contact" : f, dom);
    } else {
      const char *prov = providers[rbelow(&g->r, N(providers))];
      switch (attempt ? 3 : rbelow(&g->r, 4)) {
      case 0:
        snprintf(out, cap, "%s.%s@%s", f, l, prov);
        break;
      case 1:
        snprintf(out, cap, "%c%s@%s", f[0], l, prov);
        break;
      case 2:
        snprintf(out, cap, "%s%s@%s", f, l, prov);
        break;
      default:
        snprintf(out, cap, "%s.%s%u@%s", f, l, rbelow(&g->r, 1000), prov);
      }
    }
    if (uset_add(&g->emails, hash_str(out))) return;
  }
}

static void make_truth(gen *g, truth *t) {
  memset(t, 0, sizeof *t);
  t->company_kind = rchance(&g->r, 0.3);
  t->p.female = false;
  snprintf(t->p.first, sizeof t->p.first, "%s", pick_first(g, &t->p.female));
  pick_surname(g, t->p.last, sizeof t->p.last);
  t->place = zipf_pick(&g->zplace, &g->r);
  snprintf(t->street, sizeof t->street, "%u %s %s", 1 + rbelow(&g->r, 150),
           street_kinds[rbelow(&g->r, N(street_kinds))],
           street_names[rbelow(&g->r, N(street_names))]);
  char area = g->places[t->place].area;
  if (t->company_kind) {
    char owner[64];
    /* Two firms of one trade name in one postcode are rare: draw again. */
    char key[160];
    do {
      const char *act = activities[rbelow(&g->r, N(activities))];
      pick_surname(g, owner, sizeof owner);
      if (rchance(&g->r, 0.85)) {
        snprintf(t->co_base, sizeof t->co_base, "%s %s", act, owner);
        snprintf(t->p.last, sizeof t->p.last, "%s", owner); /* Noël Blanc, Garage Blanc */
      } else
        snprintf(t->co_base, sizeof t->co_base, "%s %s", act,
                 co_suffix[rbelow(&g->r, N(co_suffix))]);
      snprintf(key, sizeof key, "%zu|%s", t->place, t->co_base);
    } while (!uset_add(&g->conames, hash_str(key)));
    t->form = rchance(&g->r, 0.7) ? (int)rbelow(&g->r, N(forms)) : -1;
    unsigned k = rbelow(&g->r, 10);
    t->contact = k < 3 ? 0 : k < 6 ? 1 : 2;
    make_phone(g, false, area, t->landline);
    if (rchance(&g->r, 0.4)) make_phone(g, true, area, t->mobile);
    if (rchance(&g->r, 0.85)) {
      do
        luhn_fill(&g->r, t->siret, 9, 0);
      while (strcmp(t->siret, "356000000") == 0 || !uset_add(&g->sirens, hash_str(t->siret)));
      memcpy(t->siret + 9, "0001", 4);
      t->siret[9 + 1] = (char)('0' + rbelow(&g->r, 3));
      luhn_fill(&g->r, t->siret, 14, 13);
    }
  } else {
    t->form = -1;
    if (rchance(&g->r, 0.85)) make_phone(g, true, area, t->mobile);
    if (rchance(&g->r, 0.35) || t->mobile[0] == '\0') make_phone(g, false, area, t->landline);
  }
  if (rchance(&g->r, 0.8)) make_email(g, t, t->email, sizeof t->email);
}

/* Noise flags of one written record. */
enum {
  NZ_TYPO = 1,
  NZ_SWAP = 2,
  NZ_NO_EMAIL = 4,
  NZ_NO_PHONE = 8,
  NZ_ACCENTS = 16,
  NZ_FORM = 32,
  NZ_EMAIL_CASE = 64,
  NZ_EMAIL_TAG = 128,
  NZ_CASE = 256,
  NZ_NO_SIRET = 512,
  NZ_TYPO_CO = 1024,
  NZ_NO_CONTACT = 2048,
};

static void write_rec(gen *g, const truth *t, unsigned nz, dg_rec *o) {
  rng *r = &g->r;
  memset(o, 0, sizeof *o);
  o->company_kind = t->company_kind;
  const place *pl = &g->places[t->place];
  snprintf(o->postcode, sizeof o->postcode, "%s", pl->postcode);
  snprintf(o->city, sizeof o->city, "%s", pl->city);
  snprintf(o->street, sizeof o->street, "%s", t->street);
  char first[64], last[80];
  snprintf(first, sizeof first, "%s", t->p.first);
  snprintf(last, sizeof last, "%s", t->p.last);
  if (nz & NZ_ACCENTS) {
    if (has_accent(first) || has_accent(last)) {
      drop_accents(first, sizeof first);
      drop_accents(last, sizeof last);
    } else {
      add_accent(r, rchance(r, 0.5) ? first : last, 64);
    }
  }
  if (nz & NZ_CASE) ascii_upper(last);
  if (nz & NZ_TYPO) typo(r, rchance(r, 0.6) ? last : first, 64);
  if (t->company_kind) {
    char co[128];
    snprintf(co, sizeof co, "%s", t->co_base);
    if (nz & NZ_TYPO_CO) typo(r, co, sizeof co);
    if (nz & NZ_CASE) ascii_upper(co);
    int form = t->form;
    int spelling = 0;
    if (nz & NZ_FORM) {
      unsigned k = rbelow(r, 3);
      if (form < 0)
        form = (int)rbelow(r, N(forms)); /* added */
      else if (k == 0)
        form = -1; /* removed */
      else if (k == 1)
        spelling = 1 + (int)rbelow(r, 2); /* S.A.R.L., Sarl */
      else
        form = (form + 1) % (int)N(forms); /* changed (SARL -> SAS) */
    }
    if (form >= 0) {
      bool before = rchance(r, 0.3);
      snprintf(o->company, sizeof o->company, before ? "%s %s" : "%s %s",
               before ? forms[form][spelling] : co, before ? co : forms[form][spelling]);
    } else {
      snprintf(o->company, sizeof o->company, "%s", co);
    }
    /* Display name: none, the company's usual name, or its contact person
     * (whom a copy may leave out, or write as its trade name). */
    int contact = t->contact;
    if (contact == 2 && (nz & NZ_NO_CONTACT)) contact = rchance(r, 0.5) ? 0 : 1;
    if (contact == 1)
      snprintf(o->name, sizeof o->name, "%s", co);
    else if (contact == 2)
      snprintf(o->name, sizeof o->name, "%s %s", first, last);
  } else {
    if (nz & NZ_SWAP)
      snprintf(o->name, sizeof o->name, "%s %s", last, first);
    else
      snprintf(o->name, sizeof o->name, "%s %s", first, last);
  }
  if (t->siret[0] && !(nz & NZ_NO_SIRET)) {
    if (rchance(r, 0.3))
      snprintf(o->siret, sizeof o->siret, "%.3s %.3s %.3s %.5s", t->siret, t->siret + 3,
               t->siret + 6, t->siret + 9);
    else
      snprintf(o->siret, sizeof o->siret, "%s", t->siret);
  }
  bool overseas = pl->area == 'R';
  const char *nums[2] = {t->mobile, t->landline};
  const char *types[2] = {"mobile", t->company_kind ? "work" : "home"};
  int nph = (t->mobile[0] != 0) + (t->landline[0] != 0);
  for (int i = 0; i < 2; i++) {
    if (!nums[i][0]) continue;
    if ((nz & NZ_NO_PHONE) && nph > 0) { /* drop one (the only one, or the first) */
      nz &= ~(unsigned)NZ_NO_PHONE;
      nph--;
      continue;
    }
    write_phone(r, nums[i], overseas, o->phone[o->nphone], sizeof o->phone[0]);
    snprintf(o->phone_type[o->nphone], sizeof o->phone_type[0], "%s", types[i]);
    o->nphone++;
  }
  if (t->email[0] && !(nz & NZ_NO_EMAIL)) {
    char e[128];
    snprintf(e, sizeof e, "%s", t->email);
    if (nz & NZ_EMAIL_TAG) {
      char *at = strchr(e, '@');
      char tagged[128];
      snprintf(tagged, sizeof tagged, "%.*s+%s%s", (int)(at - e), e,
               rchance(r, 0.5) ? "crm" : "pro", at);
      snprintf(e, sizeof e, "%s", tagged);
    }
    if (nz & NZ_EMAIL_CASE) {
      /* Capitalised local part words ("Jean.Dupont@Orange.fr") or all caps. */
      if (rchance(r, 0.3)) {
        ascii_upper(e);
      } else {
        bool up = true;
        for (char *p = e; *p; p++) {
          if (up && isalpha((unsigned char)*p)) *p = (char)toupper((unsigned char)*p);
          up = *p == '.' || *p == '@' || *p == '-';
        }
      }
    }
    snprintf(o->email[o->nemail++], sizeof o->email[0], "%s", e);
  }
}

/* The noise of a duplicate: one to three kinds, never all evidence gone. */
static unsigned dup_noise(gen *g, const truth *t) {
  rng *r = &g->r;
  unsigned nz = 0;
  int k = 1 + (rchance(r, 0.5) ? 1 : 0) + (rchance(r, 0.2) ? 1 : 0);
  for (int i = 0; i < k; i++) {
    unsigned u = rbelow(r, 100);
    if (u < 22)
      nz |= t->company_kind ? (rchance(r, 0.5) ? NZ_TYPO_CO : NZ_TYPO) : NZ_TYPO;
    else if (u < 34)
      nz |= t->company_kind ? NZ_FORM : NZ_SWAP;
    else if (u < 46)
      nz |= NZ_NO_EMAIL;
    else if (u < 56)
      nz |= t->company_kind && t->contact == 2 && rchance(r, 0.3) ? NZ_NO_CONTACT : NZ_NO_PHONE;
    else if (u < 66)
      nz |= NZ_ACCENTS;
    else if (u < 76)
      nz |= t->company_kind ? NZ_FORM : NZ_CASE;
    else if (u < 86)
      nz |= NZ_EMAIL_CASE;
    else if (u < 93)
      nz |= NZ_EMAIL_TAG;
    else
      nz |= t->company_kind ? NZ_NO_SIRET : NZ_CASE;
  }
  return nz;
}

int dg_generate(size_t n, uint64_t seed, dg_base *out) {
  gen g;
  memset(&g, 0, sizeof g);
  memset(out, 0, sizeof *out);
  g.r.s = seed * 0x2545f4914f6cdd1dull + 0x1234567;
  /* Places: Paris, Lyon, Marseille arrondissements and the towns. */
  g.nplaces = 20 + 9 + 16 + N(towns);
  g.places = calloc(g.nplaces, sizeof *g.places);
  out->recs = calloc(n, sizeof *out->recs);
  if (!g.places || !out->recs || zipf_init(&g.zsur, N(surnames), 0.5) ||
      zipf_init(&g.zfm, N(first_m), 0.4) || zipf_init(&g.zff, N(first_f), 0.4)) {
    free(g.places);
    free(out->recs);
    return -1;
  }
  size_t np = 0;
  /* Interleave so the big cities are not all at the head of the Zipf. */
  for (size_t i = 0; i < N(towns) || i < 20; i++) {
    if (i < 20) {
      snprintf(g.places[np].postcode, 8, "750%02zu", i + 1);
      g.places[np].city = "Paris";
      g.places[np++].area = '1';
    }
    if (i < 16) {
      snprintf(g.places[np].postcode, 8, "130%02zu", i + 1);
      g.places[np].city = "Marseille";
      g.places[np++].area = '4';
    }
    if (i < 9) {
      snprintf(g.places[np].postcode, 8, "6900%zu", i + 1);
      g.places[np].city = "Lyon";
      g.places[np++].area = '4';
    }
    if (i < N(towns)) {
      snprintf(g.places[np].postcode, 8, "%s", towns[i].pc);
      g.places[np].city = towns[i].city;
      g.places[np++].area = towns[i].area;
    }
  }
  if (zipf_init(&g.zplace, np, 0.4)) return -1;

  size_t i = 0;
  uint32_t group = 0;
  while (i < n) {
    truth t;
    make_truth(&g, &t);
    uint32_t grp = group++;
    out->recs[i] = (dg_rec){0};
    write_rec(&g, &t, rchance(&g.r, 0.1) ? NZ_CASE : 0, &out->recs[i]);
    out->recs[i].group = grp;
    out->recs[i++].kind = DG_ORIGINAL;
    /* Duplicates: 10 % get a copy, 10 % of those a third. */
    if (rchance(&g.r, 0.10)) {
      int copies = rchance(&g.r, 0.1) ? 2 : 1;
      for (int c = 0; c < copies && i < n; c++) {
        write_rec(&g, &t, dup_noise(&g, &t), &out->recs[i]);
        out->recs[i].group = grp;
        out->recs[i++].kind = DG_DUPLICATE;
        out->true_pairs += (size_t)c + 1;
      }
    }
    if (i >= n) break;
    double u = runit(&g.r);
    if (!t.company_kind && u < 0.03) {
      /* A neighbour with the same surname: another first name, own contacts. */
      truth nb;
      make_truth(&g, &nb);
      nb.company_kind = 0;
      nb.form = -1;
      nb.siret[0] = '\0';
      nb.place = t.place;
      snprintf(nb.p.last, sizeof nb.p.last, "%s", t.p.last);
      do
        snprintf(nb.p.first, sizeof nb.p.first, "%s", pick_first(&g, &nb.p.female));
      while (strcmp(nb.p.first, t.p.first) == 0);
      if (nb.email[0]) make_email(&g, &nb, nb.email, sizeof nb.email);
      write_rec(&g, &nb, 0, &out->recs[i]);
      out->recs[i].group = group++;
      out->recs[i++].kind = DG_NEG_NEIGHBOUR;
    } else if (!t.company_kind && u < 0.05 && t.landline[0]) {
      /* A family member at the same address sharing the landline. */
      truth fm = t;
      do
        snprintf(fm.p.first, sizeof fm.p.first, "%s", pick_first(&g, &fm.p.female));
      while (strcmp(fm.p.first, t.p.first) == 0);
      fm.mobile[0] = '\0';
      if (rchance(&g.r, 0.7)) make_phone(&g, true, g.places[t.place].area, fm.mobile);
      fm.email[0] = '\0';
      if (rchance(&g.r, 0.6)) make_email(&g, &fm, fm.email, sizeof fm.email);
      write_rec(&g, &fm, 0, &out->recs[i]);
      out->recs[i].group = group++;
      out->recs[i++].kind = DG_NEG_FAMILY;
    } else if (!t.company_kind && u < 0.08) {
      /* A homonym: same first and last name in the same postcode (a father
       * and son, two neighbours), another person with contacts of their
       * own. */
      truth hm;
      make_truth(&g, &hm);
      hm.company_kind = 0;
      hm.form = -1;
      hm.siret[0] = '\0';
      hm.place = t.place;
      hm.p = t.p;
      hm.landline[0] = '\0';
      if (hm.mobile[0] == '\0') make_phone(&g, true, g.places[t.place].area, hm.mobile);
      if (rchance(&g.r, 0.85)) make_email(&g, &hm, hm.email, sizeof hm.email);
      write_rec(&g, &hm, 0, &out->recs[i]);
      out->recs[i].group = group++;
      out->recs[i++].kind = DG_NEG_HOMONYM;
    } else if (t.company_kind && u < 0.04) {
      /* The same company name in another town, another SIRET. */
      truth other;
      make_truth(&g, &other);
      other.company_kind = 1;
      snprintf(other.co_base, sizeof other.co_base, "%s", t.co_base);
      other.form = t.form;
      while (other.place == t.place)
        other.place = zipf_pick(&g.zplace, &g.r);
      if (other.landline[0] == '\0')
        make_phone(&g, false, g.places[other.place].area, other.landline);
      if (other.email[0]) make_email(&g, &other, other.email, sizeof other.email);
      write_rec(&g, &other, 0, &out->recs[i]);
      out->recs[i].group = group++;
      out->recs[i++].kind = DG_NEG_HOMONYM_CO;
    } else if (t.company_kind && u < 0.08) {
      /* The same trade name in the same postcode, another firm: "Noël Blanc
       * / Garage Blanc SARL" and "Cécile Blanc / Garage Blanc SA", another
       * SIREN, another contact person of the same family. */
      truth other;
      make_truth(&g, &other);
      other.company_kind = 1;
      other.place = t.place;
      snprintf(other.co_base, sizeof other.co_base, "%s", t.co_base);
      other.form = t.form < 0 ? (int)rbelow(&g.r, N(forms)) : (t.form + 1) % (int)N(forms);
      other.contact = 2;
      snprintf(other.p.last, sizeof other.p.last, "%s", t.p.last);
      do
        snprintf(other.p.first, sizeof other.p.first, "%s", pick_first(&g, &other.p.female));
      while (strcmp(other.p.first, t.p.first) == 0);
      if (other.landline[0] == '\0')
        make_phone(&g, false, g.places[other.place].area, other.landline);
      if (other.email[0]) make_email(&g, &other, other.email, sizeof other.email);
      write_rec(&g, &other, 0, &out->recs[i]);
      out->recs[i].group = group++;
      out->recs[i++].kind = DG_NEG_HOMONYM_CO_HERE;
    } else if (t.company_kind && t.siret[0] && u < 0.12) {
      /* Another establishment of the same company: same SIREN and name,
       * another SIRET, its own phones and address, often in another town. */
      truth est = t;
      if (rchance(&g.r, 0.7))
        while (est.place == t.place)
          est.place = zipf_pick(&g.zplace, &g.r);
      snprintf(est.street, sizeof est.street, "%u %s %s", 1 + rbelow(&g.r, 150),
               street_kinds[rbelow(&g.r, N(street_kinds))],
               street_names[rbelow(&g.r, N(street_names))]);
      do {
        est.siret[9] = '0';
        est.siret[10] = '0';
        est.siret[11] = (char)('0' + rbelow(&g.r, 10));
        est.siret[12] = (char)('2' + rbelow(&g.r, 8));
        luhn_fill(&g.r, est.siret, 14, 13);
      } while (strcmp(est.siret, t.siret) == 0);
      est.mobile[0] = '\0';
      make_phone(&g, false, g.places[est.place].area, est.landline);
      if (rchance(&g.r, 0.3)) make_phone(&g, true, g.places[est.place].area, est.mobile);
      est.email[0] = '\0';
      if (rchance(&g.r, 0.6)) make_email(&g, &est, est.email, sizeof est.email);
      write_rec(&g, &est, 0, &out->recs[i]);
      out->recs[i].group = group++;
      out->recs[i++].kind = DG_NEG_ESTABLISHMENT;
    }
  }
  out->n = i;
  /* Shuffle: duplicates are not created next to their original. */
  for (size_t k = out->n - 1; k > 0; k--) {
    size_t j = rbelow(&g.r, (unsigned)(k + 1));
    dg_rec tmp = out->recs[k];
    out->recs[k] = out->recs[j];
    out->recs[j] = tmp;
  }
  free(g.places);
  free(g.zplace.cum);
  free(g.zsur.cum);
  free(g.zfm.cum);
  free(g.zff.cum);
  free(g.phones.v);
  free(g.sirens.v);
  free(g.emails.v);
  free(g.conames.v);
  return 0;
}

void dg_free(dg_base *b) {
  free(b->recs);
  memset(b, 0, sizeof *b);
}
