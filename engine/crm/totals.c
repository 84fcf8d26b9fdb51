/* engine/crm/totals.c - exact totals of documents, and decimal text <-> integer
 * amounts. No floating point anywhere: money is cents, quantities are
 * thousandths, rates are basis points. */
#include "engine/crm/totals.h"

#include <stdio.h>
#include <string.h>

#include "carnet/document.h"
#include "carnet/error.h"

__extension__ typedef __int128 i128;

/* num / den rounded half away from zero (den > 0). */
static i128 div_round(i128 num, i128 den) {
  i128 q = num / den, r = num % den; /* C truncates toward zero */
  i128 ar = r < 0 ? -r : r;
  if (2 * ar >= den) q += num < 0 ? -1 : 1;
  return q;
}

int64_t carnet__line_ht(int64_t qty, int64_t price, uint32_t discount_bp) {
  if (discount_bp > 10000) discount_bp = 10000;
  i128 num = (i128)qty * price * (i128)(10000 - discount_bp);
  return (int64_t)div_round(num, (i128)1000 * 10000);
}

int64_t carnet__line_cost(int64_t qty, int64_t cost) {
  return (int64_t)div_round((i128)qty * cost, 1000);
}

static bool fits(i128 v) {
  return v >= INT64_MIN && v <= INT64_MAX;
}

int carnet__totals_of(const carnet_line *lines, size_t n, const char *fht, const char *fttc,
                      carnet_totals *out) {
  memset(out, 0, sizeof *out);
  i128 ht = 0, margin = 0, mbase = 0, base[CARNET_VAT_RATES_MAX] = {0};
  for (size_t i = 0; i < n; i++) {
    const carnet_line *l = &lines[i];
    size_t k = 0;
    while (k < out->nrates && out->rates[k].rate_bp != l->vat_bp)
      k++;
    if (k == out->nrates) {
      if (out->nrates == CARNET_VAT_RATES_MAX) return CARNET_ELIMIT;
      /* Keep rates in increasing order. */
      k = 0;
      while (k < out->nrates && out->rates[k].rate_bp < l->vat_bp)
        k++;
      memmove(&out->rates[k + 1], &out->rates[k], (out->nrates - k) * sizeof out->rates[0]);
      memmove(&base[k + 1], &base[k], (out->nrates - k) * sizeof base[0]);
      out->rates[k] = (carnet_vat_total){.rate_bp = l->vat_bp};
      base[k] = 0;
      out->nrates++;
    }
    base[k] += l->total_ht;
    ht += l->total_ht;
    if (l->has_cost) {
      margin += (i128)l->total_ht - carnet__line_cost(l->qty, l->cost);
      mbase += l->total_ht;
    }
  }
  i128 vat = 0;
  for (size_t k = 0; k < out->nrates; k++) {
    i128 v = div_round(base[k] * out->rates[k].rate_bp, 10000);
    if (!fits(base[k]) || !fits(v)) return CARNET_ELIMIT;
    out->rates[k].base = (int64_t)base[k];
    out->rates[k].vat = (int64_t)v;
    vat += v;
  }
  if (!fits(ht) || !fits(vat) || !fits(ht + vat) || !fits(margin) || !fits(mbase))
    return CARNET_ELIMIT;
  out->ht = (int64_t)ht;
  out->vat = (int64_t)vat;
  out->ttc = (int64_t)(ht + vat);
  out->margin = (int64_t)margin;
  out->margin_base = (int64_t)mbase;
  if (fht && fttc) {
    int64_t a, b;
    out->frozen = true;
    out->altered = carnet_decimal_parse(fht, 0, &a) != 0 ||
                   carnet_decimal_parse(fttc, 0, &b) != 0 || a != out->ht || b != out->ttc;
  }
  return 0;
}

/* --- decimal text ----------------------------------------------------------- */

#define DECIMAL_ABS_MAX 1000000000000000ll /* 10^15 */

int carnet_decimal_parse(const char *s, unsigned decimals, int64_t *out) {
  int64_t v = 0;
  unsigned nfrac = 0, nint = 0;
  bool neg = false;
  if (s == NULL || decimals > 6) return CARNET_EINVAL;
  if (*s == '-' || *s == '+') neg = *s++ == '-';
  for (; *s >= '0' && *s <= '9'; s++, nint++) {
    v = v * 10 + (*s - '0');
    if (v > DECIMAL_ABS_MAX) return CARNET_EINVAL;
  }
  if (*s == '.' || *s == ',') {
    for (s++; *s >= '0' && *s <= '9'; s++, nfrac++) {
      if (nfrac >= decimals) return CARNET_EINVAL;
      v = v * 10 + (*s - '0');
      if (v > DECIMAL_ABS_MAX) return CARNET_EINVAL;
    }
    if (nfrac == 0) return CARNET_EINVAL;
  }
  if (*s != '\0' || nint + nfrac == 0) return CARNET_EINVAL;
  for (; nfrac < decimals; nfrac++) {
    v *= 10;
    if (v > DECIMAL_ABS_MAX) return CARNET_EINVAL;
  }
  *out = neg ? -v : v;
  return 0;
}

void carnet_decimal_format(int64_t v, unsigned decimals, bool trim, char *out, size_t len) {
  uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, scale = 1;
  char frac[24];
  if (decimals > 18) decimals = 18;
  for (unsigned i = 0; i < decimals; i++)
    scale *= 10;
  snprintf(frac, sizeof frac, "%0*llu", (int)decimals, (unsigned long long)(a % scale));
  size_t nf = decimals;
  if (trim)
    while (nf > 0 && frac[nf - 1] == '0')
      nf--;
  frac[nf] = '\0';
  snprintf(out, len, "%s%llu%s%s", v < 0 ? "-" : "", (unsigned long long)(a / scale), nf ? "." : "",
           frac);
}
