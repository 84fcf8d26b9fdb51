/* tests/engine/test_normalize.c - the normalisers of carnet/normalize.h
 * (engine/base/normalize.c, engine/base/fold.c), each on real-world inputs: the forms
 * people type, paste from e-mail signatures and import from spreadsheets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "carnet/error.h"
#include "carnet/normalize.h"
#include "engine/base/fold.h"

typedef struct {
  const char *in, *country, *want; /* want NULL: refused */
} phone_case;

/* Every case is checked and every mismatch printed before the test fails,
 * so one run shows the whole picture. */
static void check_phones(const phone_case *c, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    char out[CARNET_PHONE_E164_MAX];
    int rc = carnet_phone_normalize_in(c[i].in, c[i].country, out, sizeof out);
    const char *country = c[i].country ? c[i].country : "FR";
    if (c[i].want == NULL) {
      if (rc != CARNET_EINVAL) {
        print_error("phone \"%s\" (%s): accepted as %s, want refused\n", c[i].in, country, out);
        bad++;
      } else if (out[0] != '\0') {
        print_error("phone \"%s\": output not emptied on error\n", c[i].in);
        bad++;
      }
    } else if (rc != 0 || strcmp(out, c[i].want) != 0) {
      print_error("phone \"%s\" (%s): rc %d \"%s\", want \"%s\"\n", c[i].in, country, rc, out,
                  c[i].want);
      bad++;
    }
  }
  if (bad) fail_msg("%zu of %zu phone cases wrong", bad, n);
}

static void test_phone_france(void **state) {
  (void)state;
  static const phone_case c[] = {
      {"06 12 34 56 78", NULL, "+33612345678"},
      {"+33 (0)6 12-34-56-78", NULL, "+33612345678"},
      {"0033612345678", NULL, "+33612345678"},
      {"06.12.34.56.78", NULL, "+33612345678"},
      {"+33612345678", NULL, "+33612345678"},
      {"(0)6 12 34 56 78", NULL, "+33612345678"},
      {"06-12-34-56-78", NULL, "+33612345678"},
      {"0612345678", NULL, "+33612345678"},
      {"  06 12 34 56 78  ", NULL, "+33612345678"},
      {"06/12/34/56/78", NULL, "+33612345678"},
      {"+33 6 12 34 56 78", NULL, "+33612345678"},
      {"+33.6.12.34.56.78", NULL, "+33612345678"},
      {"00 33 6 12 34 56 78", NULL, "+33612345678"},
      {"0033 (0)6 12 34 56 78", NULL, "+33612345678"},
      {"+33 0612345678", NULL, "+33612345678"}, /* trunk zero written after the code */
      {"612345678", NULL, "+33612345678"},      /* a spreadsheet dropped the zero */
      {"01 42 68 53 00", NULL, "+33142685300"},
      {"01.42.68.53.00", NULL, "+33142685300"},
      {"+33 1 42 68 53 00", NULL, "+33142685300"},
      {"04 72 10 30 30", NULL, "+33472103030"},
      {"09 70 80 90 00", NULL, "+33970809000"},
      {"07 11 22 33 44", NULL, "+33711223344"},
      {"08 00 12 34 56", NULL, "+33800123456"},
      {"(01) 42 68 53 00", NULL, "+33142685300"},
      {"06 12 34 56 78 ", "fr", "+33612345678"}, /* country code case-insensitive */
      /* An extension is read and left out of the E.164 key
       * (test_phone_parse checks what is kept of it). */
      {"06 12 34 56 78 poste 12", NULL, "+33612345678"},
      {"01 42 68 53 00 ext. 4", NULL, "+33142685300"},
      {"01 42 68 53 00 x4", NULL, "+33142685300"},
      {"01 42 68 53 00 #4", NULL, "+33142685300"},
      {"01\xc2\xa0"
       "42\xc2\xa0"
       "68\xe2\x80\xaf"
       "53 00",
       NULL, "+33142685300"}, /* no-break */
      /* Refused: letters, stray separators, wrong lengths. */
      {"01 42 68 53 00;4", NULL, NULL},
      {"01 42 68 53 00 poste", NULL, NULL},
      {"01 42 68 53 00 poste 12 bis", NULL, NULL},
      {"poste 12", NULL, NULL},
      {"06 12 34 56 7", NULL, NULL},
      {"06 12 34 56 78 9", NULL, NULL},
      {"+33 6 12 34 56 7", NULL, NULL},
      {"+33 6 12 34 56 78 9", NULL, NULL},
      {"00 12 34 56 78", NULL, NULL},
      {"0800-FLEURS", NULL, NULL},
      {"n/a", NULL, NULL},
      {"", NULL, NULL},
      {"+", NULL, NULL},
      {"++33612345678", NULL, NULL},
      {"06 12 34 56 78", "ZZ", NULL}, /* unknown default country */
  };
  check_phones(c, sizeof c / sizeof *c);
}

static void test_phone_overseas(void **state) {
  (void)state;
  static const phone_case c[] = {
      {"0262 12 34 56", NULL, "+262262123456"}, /* La Réunion, fixed */
      {"0263 12 34 56", NULL, "+262263123456"},
      {"0692 12 34 56", NULL, "+262692123456"}, /* La Réunion, mobile */
      {"06 93 12 34 56", NULL, "+262693123456"},
      {"0269 61 23 45", NULL, "+262269612345"}, /* Mayotte, fixed */
      {"0639 12 34 56", NULL, "+262639123456"}, /* Mayotte, mobile */
      {"0590 12 34 56", NULL, "+590590123456"}, /* Guadeloupe */
      {"0690 12 34 56", NULL, "+590690123456"},
      {"0691 12 34 56", NULL, "+590691123456"},
      {"0594 12 34 56", NULL, "+594594123456"}, /* Guyane */
      {"0694 12 34 56", NULL, "+594694123456"},
      {"0596 12 34 56", NULL, "+596596123456"}, /* Martinique */
      {"0696 12 34 56", NULL, "+596696123456"},
      {"0697 12 34 56", NULL, "+596697123456"},
      {"05 08 41 23 45", NULL, "+508412345"}, /* Saint-Pierre-et-Miquelon */
      {"+508 41 23 45", NULL, "+508412345"},
      {"+262 692 12 34 56", NULL, "+262692123456"},
      {"00262692123456", NULL, "+262692123456"},
      {"+590 690 12 34 56", NULL, "+590690123456"},
      {"692123456", NULL, "+262692123456"},        /* zero dropped by a spreadsheet */
      {"+33 6 92 12 34 56", NULL, "+33692123456"}, /* an explicit code is kept */
      {"0262 12 34 5", NULL, NULL},
      {"+262 692 12 34 5", NULL, NULL},
      {"+508 41 23 45 6", NULL, NULL},
      {"05 08 41 23 4", NULL, NULL},
      {"0692 12 34 56 78", NULL, NULL},
      {"+596 0696 12 34 56", NULL, "+596696123456"},
      {"05 56 12 34 56", NULL, "+33556123456"}, /* Bordeaux: metropolitan */
      {"0509 12 34 56", NULL, "+33509123456"},
      {"06 91 12 34 56", NULL, "+590691123456"},
  };
  check_phones(c, sizeof c / sizeof *c);
}

static void test_phone_countries(void **state) {
  (void)state;
  static const phone_case c[] = {
      /* Belgium: trunk 0, 8-digit fixed and 9-digit mobile numbers. */
      {"02 555 12 34", "BE", "+3225551234"},
      {"0470 12 34 56", "BE", "+32470123456"},
      {"+32 (0)470 12 34 56", NULL, "+32470123456"},
      {"0032 2 555 12 34", NULL, "+3225551234"},
      {"+32 470 12 34 567", NULL, NULL},
      /* Switzerland. */
      {"044 668 18 00", "CH", "+41446681800"},
      {"+41 79 123 45 67", NULL, "+41791234567"},
      {"0041 (0)79 123 45 67", NULL, "+41791234567"},
      {"079 123 45 6", "CH", NULL},
      /* Luxembourg: no trunk prefix, variable length. */
      {"621 123 456", "LU", "+352621123456"},
      {"+352 26 12 34", NULL, "+352261234"},
      {"4796 1", "LU", "+35247961"},
      /* Germany: trunk 0, variable length. */
      {"030 12345678", "DE", "+493012345678"},
      {"0171 1234567", "DE", "+491711234567"},
      {"+49 (0)30 1234 5678", NULL, "+493012345678"},
      {"089/1234567", "DE", "+49891234567"},
      /* Spain: no trunk prefix, 9 digits. */
      {"612 34 56 78", "ES", "+34612345678"},
      {"+34 912 345 678", NULL, "+34912345678"},
      {"0034912345678", NULL, "+34912345678"},
      {"612 34 56 7", "ES", NULL},
      /* Italy: the leading zero of fixed numbers is part of the number. */
      {"06 1234 5678", "IT", "+390612345678"},
      {"+39 06 1234 5678", NULL, "+390612345678"},
      {"347 123 4567", "IT", "+393471234567"},
      {"+39 347 123 4567", NULL, "+393471234567"},
      /* United Kingdom. */
      {"020 7946 0958", "GB", "+442079460958"},
      {"07700 900123", "GB", "+447700900123"},
      {"+44 (0)20 7946 0958", NULL, "+442079460958"},
      {"+44 20 7946 095", NULL, "+44207946095"}, /* 9-digit NSN exists (e.g. 016977) */
      {"2079460958", "GB", "+442079460958"},     /* zero dropped by a spreadsheet */
      /* United States (NANP). */
      {"(415) 555-2671", "US", "+14155552671"},
      {"415.555.2671", "US", "+14155552671"},
      {"1-415-555-2671", "US", "+14155552671"},
      {"+1 415 555 2671", NULL, "+14155552671"},
      {"011 33 6 12 34 56 78", "US", "+33612345678"},
      {"(415) 555-267", "US", NULL},
      {"(115) 555-2671", "US", NULL},
      {"1-800-FLOWERS", "US", NULL},
      /* Countries the old hand-written table did not know. */
      {"+81 3 1234 5678", NULL, "+81312345678"},
      {"03-1234-5678", "JP", "+81312345678"},
      {"+212 6 12 34 56 78", NULL, "+212612345678"}, /* Morocco */
      {"06 12 34 56 78", "MA", "+212612345678"},
      {"+216 20 123 456", NULL, "+21620123456"}, /* Tunisia */
      {"+49 30 123456", NULL, "+4930123456"},
      {"+55 11 91234 5678", NULL, "+5511912345678"}, /* Brazil */
      {"+86 138 0013 8000", NULL, "+8613800138000"}, /* China */
      {"+999 1234 5678", NULL, NULL},                /* no such calling code */
      {"+81 3 1234", NULL, NULL},
      {"+1234567890123456", NULL, NULL},
  };
  check_phones(c, sizeof c / sizeof *c);
  assert_string_equal(carnet_phone_calling_code("FR"), "33");
  assert_string_equal(carnet_phone_calling_code("lu"), "352");
  assert_string_equal(carnet_phone_calling_code("JP"), "81");
  assert_string_equal(carnet_phone_calling_code("re"), "262");
  assert_null(carnet_phone_calling_code("XX"));
  assert_null(carnet_phone_calling_code("FRA"));
  assert_null(carnet_phone_calling_code(NULL));
  char small[8];
  assert_int_equal(carnet_phone_normalize("0612345678", small, sizeof small), CARNET_EINVAL);
  char out[CARNET_PHONE_E164_MAX];
  assert_int_equal(carnet_phone_normalize(NULL, out, sizeof out), CARNET_EINVAL);
}

typedef struct {
  const char *in, *key, *hint; /* key NULL: refused */
} email_case;

/* carnet_phone_parse: the extension, the line type, the region of the
 * number and the stored form. */
static void test_phone_parse(void **state) {
  (void)state;
  static const struct {
    const char *in, *region, *e164, *ext, *where;
    carnet_phone_type type;
  } c[] = {
      {"01 42 68 53 00 poste 12", NULL, "+33142685300", "12", "FR", CARNET_PHONE_FIXED_LINE},
      {"01 42 68 53 00, poste 12", NULL, "+33142685300", "12", "FR", CARNET_PHONE_FIXED_LINE},
      {"01 42 68 53 00 Poste: 12", NULL, "+33142685300", "12", "FR", CARNET_PHONE_FIXED_LINE},
      {"01 42 68 53 00 p. 305", NULL, "+33142685300", "305", "FR", CARNET_PHONE_FIXED_LINE},
      {"+33 1 42 68 53 00 ext. 12", NULL, "+33142685300", "12", "FR", CARNET_PHONE_FIXED_LINE},
      {"01 42 68 53 00 EXT 12", NULL, "+33142685300", "12", "FR", CARNET_PHONE_FIXED_LINE},
      {"01 42 68 53 00 extension 12", NULL, "+33142685300", "12", "FR", CARNET_PHONE_FIXED_LINE},
      {"01 42 68 53 00 x12", NULL, "+33142685300", "12", "FR", CARNET_PHONE_FIXED_LINE},
      {"01 42 68 53 00 #12", NULL, "+33142685300", "12", "FR", CARNET_PHONE_FIXED_LINE},
      {"+33142685300;ext=12", NULL, "+33142685300", "12", "FR", CARNET_PHONE_FIXED_LINE},
      {"06 12 34 56 78", NULL, "+33612345678", "", "FR", CARNET_PHONE_MOBILE},
      {"08 00 12 34 56", NULL, "+33800123456", "", "FR", CARNET_PHONE_TOLL_FREE},
      {"0692 12 34 56", NULL, "+262692123456", "", "RE", CARNET_PHONE_MOBILE},
      {"0690 12 34 56", NULL, "+590690123456", "", "GP", CARNET_PHONE_MOBILE},
      {"0696 12 34 56", NULL, "+596696123456", "", "MQ", CARNET_PHONE_MOBILE},
      {"0694 20 12 34", NULL, "+594694201234", "", "GF", CARNET_PHONE_MOBILE},
      {"0470 12 34 56", "be", "+32470123456", "", "BE", CARNET_PHONE_MOBILE},
      {"02 555 12 34 poste 3", "BE", "+3225551234", "3", "BE", CARNET_PHONE_FIXED_LINE},
      {"(415) 555-2671 x 20", "US", "+14155552671", "20", "US", CARNET_PHONE_FIXED_LINE_OR_MOBILE},
      {"07 11 22 33 44", NULL, "+33711223344", "", "FR", CARNET_PHONE_UNKNOWN}, /* unassigned */
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    carnet_phone p;
    int rc = carnet_phone_parse(c[i].in, c[i].region, &p);
    if (rc != 0 || strcmp(p.e164, c[i].e164) != 0 || strcmp(p.ext, c[i].ext) != 0 ||
        strcmp(p.region, c[i].where) != 0 || p.type != c[i].type)
      fail_msg("\"%s\": rc %d %s ext '%s' region '%s' type %s; want %s '%s' '%s' %s", c[i].in, rc,
               p.e164, p.ext, p.region, carnet_phone_type_name(p.type), c[i].e164, c[i].ext,
               c[i].where, carnet_phone_type_name(c[i].type));
    assert_int_equal(p.valid, c[i].type != CARNET_PHONE_UNKNOWN);
  }
  /* The stored form: E.164, then the extension in RFC 3966 spelling, and
   * it reads back as the same number. */
  carnet_phone p, back;
  char stored[CARNET_PHONE_STORED_MAX], small[CARNET_PHONE_STORED_MAX - 1];
  assert_int_equal(carnet_phone_parse("01 42 68 53 00 poste 1234567890", NULL, &p), 0);
  assert_int_equal(carnet_phone_stored(&p, stored, sizeof stored), 0);
  assert_string_equal(stored, "+33142685300;ext=1234567890");
  assert_int_equal(carnet_phone_stored(&p, small, sizeof small), CARNET_ELIMIT);
  assert_int_equal(carnet_phone_parse(stored, "US", &back), 0);
  assert_memory_equal(&p, &back, sizeof p);
  assert_int_equal(carnet_phone_parse("06 12 34 56 78", NULL, &p), 0);
  assert_int_equal(carnet_phone_stored(&p, stored, sizeof stored), 0);
  assert_string_equal(stored, "+33612345678");
  /* Too long an extension, a wrong region: refused, output zeroed. */
  assert_int_equal(carnet_phone_parse("01 42 68 53 00 poste 12345678901", NULL, &p), CARNET_EINVAL);
  assert_string_equal(p.e164, "");
  assert_int_equal(carnet_phone_parse("06 12 34 56 78", "ZZ", &p), CARNET_EINVAL);
  assert_int_equal(carnet_phone_parse(NULL, NULL, &p), CARNET_EINVAL);
  memset(&p, 0, sizeof p);
  assert_int_equal(carnet_phone_stored(&p, stored, sizeof stored), CARNET_EINVAL);
  /* Regions and type names. */
  assert_true(carnet_phone_region_valid("FR"));
  assert_true(carnet_phone_region_valid("be"));
  assert_true(carnet_phone_region_valid("YT"));
  assert_false(carnet_phone_region_valid("ZZ"));
  assert_false(carnet_phone_region_valid("F"));
  assert_false(carnet_phone_region_valid(NULL));
  assert_string_equal(carnet_phone_type_name(CARNET_PHONE_MOBILE), "mobile");
  assert_string_equal(carnet_phone_type_name(CARNET_PHONE_FIXED_LINE), "fixed_line");
  assert_string_equal(carnet_phone_type_name((carnet_phone_type)99), "unknown");
}

/* engine/base/phone.cc reads "+33" and nine digits without libphonenumber's
 * parser: the result must be the parser's. The national form of the same
 * number ("0" + the nine digits, read in FR) goes through the parser; both
 * give the same number, type and validity for every metropolitan prefix
 * (the overseas ones are moved by the French overseas rule, on purpose). */
static void test_phone_fr_international_form(void **state) {
  (void)state;
  static const char *const overseas[] = {"262", "263", "269", "639", "690", "691", "692", "693",
                                         "694", "696", "697", "590", "594", "596", "508"};
  uint32_t x = 12345;
  for (int p = 100; p < 1000; p++) {
    char pre[4];
    snprintf(pre, sizeof pre, "%03d", p);
    bool skip = false;
    for (size_t i = 0; i < sizeof overseas / sizeof overseas[0]; i++)
      skip = skip || strcmp(pre, overseas[i]) == 0;
    if (skip) continue;
    for (int k = 0; k < 3; k++) {
      x = x * 1103515245u + 12345u;
      char d[10], intl[16], spaced[24], national[16];
      carnet_phone a, b, c;
      snprintf(d, sizeof d, "%s%06u", pre, (x >> 8) % 1000000u);
      snprintf(intl, sizeof intl, "+33%s", d);
      snprintf(spaced, sizeof spaced, "+33 %c %.2s %.2s %.2s %.2s", d[0], d + 1, d + 3, d + 5,
               d + 7);
      snprintf(national, sizeof national, "0%s", d);
      int ra = carnet_phone_parse(intl, "FR", &a);
      int rb = carnet_phone_parse(spaced, "FR", &b);
      int rc = carnet_phone_parse(national, "FR", &c);
      if (ra != rc || rb != rc)
        fail_msg("%s / %s / %s: %d %d %d", intl, spaced, national, ra, rb, rc);
      if (rc) continue;
      assert_string_equal(a.e164, c.e164);
      assert_string_equal(b.e164, c.e164);
      assert_int_equal(a.type, c.type);
      assert_int_equal(b.type, c.type);
      assert_int_equal(a.valid, c.valid);
      assert_int_equal(b.valid, c.valid);
    }
  }
  /* Not the fast form: a trunk zero after +33, a double space, a tenth digit. */
  carnet_phone q;
  assert_int_equal(carnet_phone_parse("+33 0 5 74 30 19 50", "FR", &q), 0);
  assert_string_equal(q.e164, "+33574301950"); /* libphonenumber drops the zero */
  assert_int_equal(carnet_phone_parse("+33 5  74 30 19 50", "FR", &q), 0);
  assert_string_equal(q.e164, "+33574301950");
  assert_int_equal(carnet_phone_parse("+33 5 74 30 19 50 1", "FR", &q), CARNET_EINVAL);
}

static void test_email_keys(void **state) {
  (void)state;
  static const email_case c[] = {
      {"jean@exemple.fr", "jean@exemple.fr", "jean@exemple.fr"},
      {"Jean@Exemple.FR", "jean@exemple.fr", "jean@exemple.fr"},
      {"  jean@exemple.fr  ", "jean@exemple.fr", "jean@exemple.fr"},
      {"\tjean@exemple.fr\r\n", "jean@exemple.fr", "jean@exemple.fr"},
      {"JEAN.DUPONT@EXEMPLE.FR", "jean.dupont@exemple.fr", "jeandupont@exemple.fr"},
      {"jean.dupont+crm@exemple.fr", "jean.dupont+crm@exemple.fr", "jeandupont@exemple.fr"},
      {"Jean.Dupont+Salon2026@Gmail.com", "jean.dupont+salon2026@gmail.com",
       "jeandupont@gmail.com"},
      {"j.e.a.n@orange.fr", "j.e.a.n@orange.fr", "jean@orange.fr"},
      {"jean+a+b@free.fr", "jean+a+b@free.fr", "jean@free.fr"},
      {"contact@boulangerie-muller.fr", "contact@boulangerie-muller.fr",
       "contact@boulangerie-muller.fr"},
      {"Contact@Sub.Domain.Example.com", "contact@sub.domain.example.com",
       "contact@sub.domain.example.com"},
      {"o'neil@exemple.ie", "o'neil@exemple.ie", "o'neil@exemple.ie"},
      {"compta_2026@sarl-dupont.fr", "compta_2026@sarl-dupont.fr", "compta_2026@sarl-dupont.fr"},
      {"a@b.co", "a@b.co", "a@b.co"},
      {"+tag@exemple.fr", "+tag@exemple.fr", "+tag@exemple.fr"}, /* nothing left: full key */
      {"jean-pierre@la-poste.net", "jean-pierre@la-poste.net", "jean-pierre@la-poste.net"},
      {"JP.Martin@Wanadoo.FR", "jp.martin@wanadoo.fr", "jpmartin@wanadoo.fr"},
      {"info@müller.de", "info@müller.de", "info@müller.de"},
      {"x.y+z@EXAMPLE.org ", "x.y+z@example.org", "xy@example.org"},
      {"user%relay@exemple.fr", "user%relay@exemple.fr", "user%relay@exemple.fr"},
      {"1234@exemple.fr", "1234@exemple.fr", "1234@exemple.fr"},
      {"first.last@exemple.co.uk", "first.last@exemple.co.uk", "firstlast@exemple.co.uk"},
      /* Refused. */
      {"jean@", NULL, NULL},
      {"@exemple.fr", NULL, NULL},
      {"jean dupont@exemple.fr", NULL, NULL},
      {"jean@exemple", NULL, NULL},
      {"jean@@exemple.fr", NULL, NULL},
      {"jean@exemple..fr", NULL, NULL},
      {".jean@exemple.fr", NULL, NULL},
      {"jean.@exemple.fr", NULL, NULL},
      {"", NULL, NULL},
      {"   ", NULL, NULL},
      {"Jean Dupont <jean@exemple.fr>", NULL, NULL},
      {"jean@exemple.f", NULL, NULL},
  };
  for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
    char key[255], hint[255];
    int rk = carnet_email_key(c[i].in, key, sizeof key);
    int rh = carnet_email_hint_key(c[i].in, hint, sizeof hint);
    if (c[i].key == NULL) {
      if (rk != CARNET_EINVAL || rh != CARNET_EINVAL || key[0] || hint[0])
        fail_msg("email \"%s\": accepted (%s / %s), want refused", c[i].in, key, hint);
      continue;
    }
    if (rk || strcmp(key, c[i].key))
      fail_msg("email \"%s\": key \"%s\", want \"%s\"", c[i].in, key, c[i].key);
    if (rh || strcmp(hint, c[i].hint))
      fail_msg("email \"%s\": hint \"%s\", want \"%s\"", c[i].in, hint, c[i].hint);
  }
  char tiny[4];
  assert_int_equal(carnet_email_key("jean@exemple.fr", tiny, sizeof tiny), CARNET_ELIMIT);
  assert_int_equal(carnet_email_key(NULL, tiny, sizeof tiny), CARNET_EINVAL);
}

typedef struct {
  const char *in, *fold, *sorted;
} name_case;

static void test_name_fold(void **state) {
  (void)state;
  static const name_case c[] = {
      {"Jean Dupont", "jean dupont", "dupont jean"},
      {"DUPONT Jean", "dupont jean", "dupont jean"},
      {"  jean   dupont ", "jean dupont", "dupont jean"},
      {"Jean-Pierre Dupont", "jean pierre dupont", "dupont jean pierre"},
      {"Hélène Lefèvre", "helene lefevre", "helene lefevre"},
      {"HÉLÈNE LEFÈVRE", "helene lefevre", "helene lefevre"},
      {"Hélène Lefèvre", "helene lefevre", "helene lefevre"}, /* NFD */
      {"François Ça", "francois ca", "ca francois"},
      {"Müller GmbH", "muller", "muller"},
      {"Straße GmbH & Co. KG", "strasse", "strasse"},
      {"Œuvres Cœur SARL", "oeuvres coeur", "coeur oeuvres"},
      {"Boulangerie Dupont SARL", "boulangerie dupont", "boulangerie dupont"},
      {"SARL Boulangerie Dupont", "boulangerie dupont", "boulangerie dupont"},
      {"S.A.R.L. Boulangerie Dupont", "boulangerie dupont", "boulangerie dupont"},
      {"Boulangerie Dupont S.A.S.", "boulangerie dupont", "boulangerie dupont"},
      {"Dupont SAS", "dupont", "dupont"},
      {"Dupont SASU", "dupont", "dupont"},
      {"EURL Martin", "martin", "martin"},
      {"SCI Les Tilleuls", "les tilleuls", "les tilleuls"},
      {"Dupont & Fils", "dupont fils", "dupont fils"},
      {"Dupont et Fils", "dupont fils", "dupont fils"},
      {"Ets Dupont et Cie", "dupont", "dupont"},
      {"L'Atelier du Pain", "latelier du pain", "du latelier pain"},
      {"L’Atelier du Pain", "latelier du pain", "du latelier pain"},
      {"O'Neil Ltd", "oneil", "oneil"},
      {"ACME, Inc.", "acme", "acme"},
      {"Acme Inc", "acme", "acme"},
      {"SA", "sa", "sa"}, /* nothing but a legal form: kept */
      {"Sasha Martin", "sasha martin", "martin sasha"},
      {"Saint-Étienne Auto", "saint etienne auto", "auto etienne saint"},
      {"Garage de la Gare (Lyon 3e)", "garage de la gare lyon 3e", "3e de garage gare la lyon"},
      {"ＡＢＣ Conseil", "abc conseil", "abc conseil"}, /* full-width letters */
      {"J. P. Morgan", "jp morgan", "jp morgan"},
      {"Łukasz Żółć", "lukasz zolc", "lukasz zolc"},
      {"Søren Ærø", "soren aero", "aero soren"},
      {"Dupont Dupont", "dupont dupont", "dupont"},
      {"café\xc2\xa0"
       "crème",
       "cafe creme", "cafe creme"},
      {"", "", ""},
      {"---", "", ""},
  };
  for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
    char f[CARNET_NAME_FOLD_MAX], s[CARNET_NAME_FOLD_MAX];
    int rf = carnet_name_fold(c[i].in, f, sizeof f);
    int rs = carnet_name_fold_sorted(c[i].in, s, sizeof s);
    if (rf || strcmp(f, c[i].fold))
      fail_msg("name \"%s\": fold \"%s\", want \"%s\"", c[i].in, f, c[i].fold);
    if (rs || strcmp(s, c[i].sorted))
      fail_msg("name \"%s\": sorted \"%s\", want \"%s\"", c[i].in, s, c[i].sorted);
    /* Both at once (the blind index's name keys), from one split. */
    char bf[CARNET_NAME_FOLD_MAX], bs[CARNET_NAME_FOLD_MAX];
    if (carnet__name_fold_both(c[i].in, bf, bs, sizeof bf) || strcmp(bf, c[i].fold) ||
        strcmp(bs, c[i].sorted))
      fail_msg("name \"%s\": both \"%s\" \"%s\"", c[i].in, bf, bs);
  }
  char b1[CARNET_NAME_FOLD_MAX], b2[CARNET_NAME_FOLD_MAX];
  assert_int_equal(carnet__name_fold_both("\xff\xfe", b1, b2, sizeof b1), CARNET_EINVAL);
  assert_string_equal(b1, "");
  assert_string_equal(b2, "");
  char out[CARNET_NAME_FOLD_MAX];
  assert_int_equal(carnet_name_fold("\xff\xfe", out, sizeof out), CARNET_EINVAL);
  assert_string_equal(out, "");
  assert_int_equal(carnet_name_fold("abc", out, 8), CARNET_ELIMIT);
  /* A very long name is cut at a word boundary and stays in the buffer. */
  char big[2048];
  size_t n = 0;
  while (n + 8 < sizeof big)
    n += (size_t)sprintf(big + n, "Ébène%02zu ", n % 100);
  assert_int_equal(carnet_name_fold(big, out, sizeof out), 0);
  assert_true(strlen(out) < CARNET_NAME_FOLD_MAX);
  assert_true(out[strlen(out) - 1] != ' ');
}

static void test_siret_cases(void **state) {
  (void)state;
  static const struct {
    const char *in, *want;
  } c[] = {
      {"73282932000074", "73282932000074"}, /* SIRET */
      {"732 829 320 00074", "73282932000074"},
      {"732.829.320.00074", "73282932000074"},
      {"732-829-320-00074", "73282932000074"},
      {"732829320", "732829320"}, /* SIREN */
      {"732 829 320", "732829320"},
      {"552 100 554", "552100554"},
      {"55210055400013", "55210055400013"},
      {"542 107 651", "542107651"},
      {"542 051 180", "542051180"},
      {"356000000", "356000000"},              /* La Poste */
      {"356 000 000 00001", "35600000000001"}, /* La Poste: digit sum 15 */
      {"35600000000010", "35600000000010"},
      {"35600000049837", "35600000049837"}, /* sum 45 */
      {"443 061 841 00047", "44306184100047"},
      {"  ", NULL},
      {"", NULL},
      {"12345678901234", NULL},
      {"1234", NULL},
      {"7328293200007a", NULL},
      {"732829320000745", NULL}, /* 15 digits */
      {"732829321", NULL},       /* Luhn fails */
      {"73282932000075", NULL},
      {"356 000 000 00002", NULL}, /* La Poste: sum 16 */
      {"35600000000012", NULL},
      {"FR 732829320", NULL}, /* a VAT id is not a SIREN */
      {"732829320 00074 ", "73282932000074"},
      {"7328/29320", NULL},
      {"73 28 29 32", NULL},
      {"000000000", "000000000"}, /* passes Luhn: syntax only */
  };
  for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
    char out[15];
    int rc = carnet_siret_normalize(c[i].in, out);
    if (c[i].want == NULL ? rc != CARNET_EINVAL : (rc != 0 || strcmp(out, c[i].want) != 0))
      fail_msg("siret \"%s\": rc %d \"%s\", want %s", c[i].in, rc, out,
               c[i].want ? c[i].want : "refused");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_phone_france),    cmocka_unit_test(test_phone_overseas),
      cmocka_unit_test(test_phone_countries), cmocka_unit_test(test_phone_parse),
      cmocka_unit_test(test_email_keys),      cmocka_unit_test(test_name_fold),
      cmocka_unit_test(test_siret_cases),     cmocka_unit_test(test_phone_fr_international_form),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
