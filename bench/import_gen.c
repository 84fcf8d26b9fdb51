/* bench/import_gen.c - the customer file generator (bench/import_gen.h). */
#include "bench/import_gen.h"

#include <stdbool.h>
#include <string.h>

static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void import_gen_siret(uint64_t n, char out[15]) {
  /* 13 digits from n, then the digit that makes the Luhn sum a multiple of 10. */
  snprintf(out, 15, "4%012llu", (unsigned long long)(n % 1000000000000ull));
  unsigned sum = 0;
  for (int i = 0; i < 13; i++) {
    unsigned d = (unsigned)(out[12 - i] - '0');
    if (i % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2; /* doubled: the check digit is at 13 */
    sum += d;
  }
  out[13] = (char)('0' + (10 - sum % 10) % 10);
  out[14] = '\0';
}

static const char *const first[] = {"Zoé",    "Jérôme", "Hélène", "François", "Anaïs", "Loïc",
                                    "Cécile", "Noël",   "Agnès",  "Mathéo",   "Inès",  "Gaëlle"};
static const char *const last[] = {"Lefèvre", "Müller", "Dupré",  "Bénard", "Château",
                                   "Fauré",   "Gérard", "L'Hôte", "Péguy",  "Cœur"};
static const char *const cities[] = {"Paris", "Lyon",    "Marseille", "Besançon",
                                     "Évry",  "Orléans", "Nîmes",     "Saint-Étienne"};
static const char *const pcs[] = {"75011", "69003", "13001", "25000",
                                  "91000", "45000", "30000", "42000"};

int import_gen_csv(FILE *f, const import_gen_opts *o, import_gen_result *res) {
  uint64_t s = o->seed ? o->seed : 1;
  size_t line = 1;
  memset(res, 0, sizeof *res);
  fputs("\xef\xbb\xbf", f);
  if (o->full)
    fputs("Nom;Prénom;Raison sociale;E-mail;Téléphone;Portable;Adresse;CP;Ville;Pays;SIRET;"
          "TVA;Tags;Statut;Commercial;Canal;Remise;Litige;Notes;custom:taille:number;"
          "custom:depuis:date\r\n",
          f);
  else
    fputs("Nom;Prénom;Société;E-mail;Téléphone;CP;Ville;SIRET;Notes\r\n", f);
  for (size_t i = 0; i < o->rows; i++) {
    uint64_t r = next(&s);
    const char *fn = first[r % 12], *ln = last[(r >> 8) % 10];
    size_t city = (r >> 16) % 8;
    bool bad = o->bad_permille && (r >> 24) % 1000 < o->bad_permille;
    bool bad_email = bad && (r >> 34) % 2 == 0;
    bool company = (r >> 36) % 4 == 0;
    char siret[15] = "";
    line++;
    if (company || (bad && !bad_email)) import_gen_siret(i + 1, siret);
    if (bad && !bad_email) siret[13] = (char)('0' + (siret[13] - '0' + 1) % 10);
    if (bad) {
      if (bad_email)
        res->bad_email++;
      else
        res->bad_siret++;
      if (res->first_bad_line == 0) {
        res->first_bad_line = line;
        snprintf(res->first_bad_reason, sizeof res->first_bad_reason, "%s",
                 bad_email ? "email" : "siret");
      }
    } else {
      res->good++;
    }
    /* Phones in several written forms, unique per row. */
    unsigned long ph = 10000000ul + (unsigned long)i;
    char phone[32];
    switch ((r >> 40) % 3) {
    case 0:
      snprintf(phone, sizeof phone, "06 %02lu %02lu %02lu %02lu", ph / 1000000 % 100,
               ph / 10000 % 100, ph / 100 % 100, ph % 100);
      break;
    case 1:
      snprintf(phone, sizeof phone, "+33 6%08lu", ph);
      break;
    default:
      snprintf(phone, sizeof phone, "06.%02lu.%02lu.%02lu.%02lu", ph / 1000000 % 100,
               ph / 10000 % 100, ph / 100 % 100, ph % 100);
    }
    fprintf(f, "%s-%zu;%s;", ln, i, fn);
    if (company) fprintf(f, "\"%s; Fils et \"\"Cie\"\" %zu\"", ln, i);
    fprintf(f, ";%s%s.%zu@exemple.fr;%s;", bad_email ? "" : "client", bad_email ? "@" : "", i,
            phone);
    if (o->full) {
      fprintf(f, "07 %02lu %02lu %02lu %02lu;", ph / 1000000 % 100, ph / 10000 % 100,
              ph / 100 % 100, ph % 100);
      fprintf(f, "%zu rue de la Paix;", i % 200 + 1);
    }
    fprintf(f, "%s;%s;", pcs[city], cities[city]);
    if (o->full) fputs("FR;", f);
    fprintf(f, "%s;", siret);
    if (o->full) {
      fprintf(f, "%s;%s;%s;%s;%s;%s;%s;", company ? "FR12345678901" : "",
              (r >> 42) % 2 ? "vip|export" : "salon", (r >> 43) % 2 ? "client" : "prospect",
              (r >> 44) % 2 ? "alice" : "bob", (r >> 45) % 2 ? "web" : "salon",
              (r >> 46) % 2 ? "5.5" : "", (r >> 47) % 5 == 0 ? "oui" : "");
    }
    if ((r >> 48) % 10 == 0) {
      fputs("\"rappeler le lundi\nsur le portable\"", f); /* a line break inside quotes */
      line++;
    } else {
      fputs("client fidèle", f);
    }
    if (o->full) fprintf(f, ";%zu;2024-%02zu-%02zu", i % 1000, i % 12 + 1, i % 28 + 1);
    fputs("\r\n", f);
  }
  res->lines = line;
  return ferror(f) ? -1 : 0;
}
