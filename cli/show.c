/* cli/show.c - a record for a person to read: aligned "field: value"
 * lines, one per field that is set, in the same order for every kind.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef enum show_how {
  SHOW_STR,
  SHOW_SET,
  SHOW_PHONES,
  SHOW_ADDRESS,
  SHOW_DISCOUNT,
  SHOW_BOOL
} show_how;

static const struct {
  const char *label;
  carnet_field field;
  show_how how;
} rows[] = {
    {"type", CARNET_F_TYPE, SHOW_STR},
    {"name", CARNET_F_NAME, SHOW_STR},
    {"company", CARNET_F_COMPANY, SHOW_STR},
    {"role", CARNET_F_ROLE, SHOW_STR},
    {"roles", CARNET_F_ROLES, SHOW_SET},
    {"emails", CARNET_F_EMAILS, SHOW_SET},
    {"phones", CARNET_F_PHONES, SHOW_PHONES},
    {"tags", CARNET_F_TAGS, SHOW_SET},
    {"siret", CARNET_F_SIRET, SHOW_STR},
    {"vat id", CARNET_F_VAT_ID, SHOW_STR},
    {"address", CARNET_F_STREET, SHOW_ADDRESS},
    {"geo", CARNET_F_GEO, SHOW_STR},
    {"sales rep", CARNET_F_SALES_REP, SHOW_STR},
    {"channel", CARNET_F_CHANNEL, SHOW_STR},
    {"discount", CARNET_F_DISCOUNT, SHOW_DISCOUNT},
    {"conflict", CARNET_F_CONFLICT, SHOW_BOOL},
    {"notes", CARNET_F_NOTES, SHOW_STR},
};

static void append(char **s, size_t *len, const char *sep, const char *part) {
  if (part == NULL || part[0] == '\0') return;
  const char *lead = *len ? sep : "";
  size_t add = strlen(lead) + strlen(part);
  *s = cli_oom(realloc(*s, *len + add + 1));
  snprintf(*s + *len, add + 1, "%s%s", lead, part);
  *len += add;
}

char *cli_address_line(const carnet_record *rec) {
  char *out = cli_oom(calloc(1, 1)), *town = NULL;
  size_t len = 0, tlen = 0;
  append(&out, &len, ", ", carnet_record_str(rec, CARNET_F_STREET));
  append(&town, &tlen, " ", carnet_record_str(rec, CARNET_F_POSTCODE));
  append(&town, &tlen, " ", carnet_record_str(rec, CARNET_F_CITY));
  append(&out, &len, ", ", town);
  append(&out, &len, ", ", carnet_record_str(rec, CARNET_F_COUNTRY));
  free(town);
  return out;
}

/* "+33612345678 (mobile), +33145678901 ext. 12 (work, fixed line)": the
 * label the user gave, then the line type when it says more than it. */
static char *phones_line(const carnet_record *rec) {
  const char *const *v;
  size_t n = carnet_record_elems(rec, CARNET_F_PHONES, &v), len = 0;
  char *out = cli_oom(calloc(1, 1)), type[32], part[160], what[64], num[64];
  for (size_t i = 0; i < n; i++) {
    const char *number = cli_phone_split(v[i], type, sizeof type);
    carnet_phone p;
    snprintf(num, sizeof num, "%s", number);
    snprintf(what, sizeof what, "%s", type);
    if (cli_phone_read(number, &p)) {
      snprintf(num, sizeof num, p.ext[0] ? "%s ext. %s" : "%s", p.e164, p.ext);
      char line[32];
      snprintf(line, sizeof line, "%s", carnet_phone_type_name(p.type));
      for (char *s = line; *s; s++)
        if (*s == '_') *s = ' ';
      /* "mobile (mobile)" says nothing: the line type only when it differs. */
      if (p.type != CARNET_PHONE_UNKNOWN && strcmp(line, type) != 0)
        snprintf(what, sizeof what, type[0] ? "%s, %s" : "%s%s", type, line);
    }
    snprintf(part, sizeof part, what[0] ? "%s (%s)" : "%s", num, what);
    append(&out, &len, ", ", part);
  }
  return out;
}

/* The text of one row, malloc'd; "" when the field is unset. */
static char *row_text(const carnet_record *rec, carnet_field field, show_how how) {
  const char *const *v;
  const char *s = carnet_record_str(rec, field);
  uint64_t bp;
  char buf[32];
  switch (how) {
  case SHOW_SET: {
    size_t n = carnet_record_elems(rec, field, &v);
    return cli_join(v, n, ", ", false);
  }
  case SHOW_PHONES:
    return phones_line(rec);
  case SHOW_ADDRESS:
    return cli_address_line(rec);
  case SHOW_DISCOUNT:
    if (s && cli_parse_u64(s, &bp)) {
      snprintf(buf, sizeof buf, "%llu.%02llu %%", (unsigned long long)(bp / 100),
               (unsigned long long)(bp % 100));
      s = buf;
    }
    break;
  case SHOW_BOOL:
    if (s) s = strcmp(s, "true") == 0 || strcmp(s, "1") == 0 ? "yes" : "no";
    break;
  case SHOW_STR:
    break;
  }
  return cli_oom(strdup(s ? s : ""));
}

static void show_customs(FILE *f, const carnet_record *rec) {
  static const char *const types[] = {"", "string", "number", "date", "list", "checkbox"};
  const carnet_custom *cf;
  size_t n = carnet_record_customs(rec, &cf);
  char label[96], value[512];
  if (n) fprintf(f, "custom:\n");
  for (size_t i = 0; i < n; i++) {
    unsigned t = (unsigned)cf[i].type;
    snprintf(label, sizeof label, "  %s", cf[i].name);
    snprintf(value, sizeof value, "%s (%s)", cf[i].value ? cf[i].value : "",
             t < 6 ? types[t] : "?");
    cli_kv(f, CLI_LABEL_W, label, value);
  }
}

/* Whether row `i` shows a field whose bit is set in `marks`. */
static bool row_marked(size_t i, uint64_t marks) {
  static const carnet_field addr[] = {CARNET_F_STREET, CARNET_F_POSTCODE, CARNET_F_CITY,
                                      CARNET_F_COUNTRY};
  if (marks & (1ull << rows[i].field)) return true;
  if (rows[i].how != SHOW_ADDRESS) return false;
  for (size_t j = 0; j < sizeof addr / sizeof addr[0]; j++)
    if (marks & (1ull << addr[j])) return true;
  return false;
}

void cli_show_fields(FILE *f, const carnet_record *rec) {
  cli_show_fields_marked(f, rec, 0);
}

void cli_show_fields_marked(FILE *f, const carnet_record *rec, uint64_t marks) {
  char hex[CARNET_ID_HEX_LEN + 1], when[32];
  unsigned kind_bit = 1u << carnet_record_kind(rec);
  const char *ref = carnet_record_str(rec, CARNET_F_REFCODE);
  carnet_id_format(carnet_record_id(rec), hex);
  if (ref) cli_kv(f, CLI_LABEL_W, "ref", ref);
  cli_kv(f, CLI_LABEL_W, "id", hex);
  if (carnet_record_deleted(rec)) cli_kv(f, CLI_LABEL_W, "deleted", "yes");
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const carnet_field_info *fi = carnet_field_get(rows[i].field);
    if (fi == NULL || !(fi->kinds & kind_bit)) continue;
    char *text = row_text(rec, rows[i].field, rows[i].how);
    if (row_marked(i, marks)) {
      /* A value lost to a concurrent edit: the "conflicts:" section says which. */
      size_t len = strlen(text) + 32;
      char *m = cli_oom(malloc(len));
      snprintf(m, len, "%s  [conflict]", text);
      free(text);
      text = m;
    }
    if (text[0]) cli_kv(f, CLI_LABEL_W, rows[i].label, text);
    free(text);
  }
  show_customs(f, rec);
  const carnet_id *m;
  size_t nm = carnet_record_merged(rec, &m);
  for (size_t i = 0; i < nm; i++) {
    carnet_id_format(&m[i], hex);
    cli_kv(f, CLI_LABEL_W, i ? "" : "merged", hex);
  }
  if (carnet_record_review(rec))
    cli_kv(f, CLI_LABEL_W, "review",
           "merged, but also decided \"not the same\": see 'carnet dupes review'");
  cli_iso_time(carnet_record_updated(rec), when);
  cli_kv(f, CLI_LABEL_W, "updated", when);
}

void cli_show_consents(FILE *f, const carnet_record *rec) {
  char when[32];
  fprintf(f, "consents:\n");
  for (int ch = 1; ch < CARNET_CH_MAX_; ch++) {
    carnet_hlc at = 0;
    bool on = carnet_record_consent(rec, (carnet_channel)ch, &at);
    cli_iso_time(at, when);
    if (at == 0)
      fprintf(f, "  %-10s off\n", carnet_channel_name((carnet_channel)ch));
    else
      fprintf(f, "  %-10s %-4s %s %s\n", carnet_channel_name((carnet_channel)ch), on ? "on" : "off",
              on ? "granted" : "withdrawn", when);
  }
}
