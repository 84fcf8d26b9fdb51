// engine/base/phone.cc - the library's only C++: a thin extern "C" shim over
// libphonenumber (engine/base/phone.h). Everything above it is C.
//
// Global state: libphonenumber keeps one PhoneNumberUtil, built on first
// use (thread-safe, a function-local static in the library) and never
// changed afterwards: its metadata is read-only and every call below is a
// const method. That singleton is libphonenumber's own; Carnet keeps no
// mutable state of its own here, which is why it is acceptable under the
// "no global mutable state" rule. The tables of engine/base/phone_match.cc
// (number types without the regular expressions) are built once the same
// way and are as immutable. Exceptions never leave this file: the
// only one the calls can raise is std::bad_alloc, returned as ENOMEM.
#include "engine/base/phone.h"

#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include "carnet/error.h"
#include "engine/base/phone_match.h"

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

carnet_phone_type type_of(PhoneNumberUtil::PhoneNumberType t) {
  switch (t) {
  case PhoneNumberUtil::FIXED_LINE:
    return CARNET_PHONE_FIXED_LINE;
  case PhoneNumberUtil::MOBILE:
    return CARNET_PHONE_MOBILE;
  case PhoneNumberUtil::FIXED_LINE_OR_MOBILE:
    return CARNET_PHONE_FIXED_LINE_OR_MOBILE;
  case PhoneNumberUtil::TOLL_FREE:
    return CARNET_PHONE_TOLL_FREE;
  case PhoneNumberUtil::PREMIUM_RATE:
    return CARNET_PHONE_PREMIUM_RATE;
  case PhoneNumberUtil::SHARED_COST:
    return CARNET_PHONE_SHARED_COST;
  case PhoneNumberUtil::VOIP:
    return CARNET_PHONE_VOIP;
  case PhoneNumberUtil::PERSONAL_NUMBER:
    return CARNET_PHONE_PERSONAL_NUMBER;
  case PhoneNumberUtil::PAGER:
    return CARNET_PHONE_PAGER;
  case PhoneNumberUtil::UAN:
    return CARNET_PHONE_UAN;
  case PhoneNumberUtil::VOICEMAIL:
    return CARNET_PHONE_VOICEMAIL;
  default:
    return CARNET_PHONE_UNKNOWN;
  }
}

// "1".."999", built at compile time: a constant, not state.
struct code_text {
  char s[4];
};

constexpr std::array<code_text, 1000> make_codes() {
  std::array<code_text, 1000> a{};
  for (int i = 1; i < 1000; i++) {
    int n = 0;
    if (i >= 100) a[i].s[n++] = static_cast<char>('0' + i / 100);
    if (i >= 10) a[i].s[n++] = static_cast<char>('0' + i / 10 % 10);
    a[i].s[n++] = static_cast<char>('0' + i % 10);
    a[i].s[n] = '\0';
  }
  return a;
}

constexpr std::array<code_text, 1000> codes = make_codes();

// A number in international form: "+", then digits with single spaces,
// dots or hyphens between them ("+33 6 12 34 56 78", how a number is
// usually stored, exported and imported). What ParseAndKeepRawInput makes
// of it is the calling code read from the digits and the rest as national
// number whenever no national prefix can be stripped from it
// (carnet__phone_international says when): the parser's regular
// expressions were most of the CPU of creating a customer (issue 17,
// point 5). Debug builds compare the result with the parser's.
// A number read without the parser: its calling code and its national
// significant number (GetNationalSignificantNumber's digits, never "0").
struct quick {
  int cc;
  char nsn[32];
  size_t len;
  bool from_default; /* country_code_source() == FROM_DEFAULT_COUNTRY */
};

// The digits of `text` (single ' ', '.' or '-' between two digits only)
// into d (room for 24), or -1.
int digits_of(const char *text, char d[24]) {
  int nd = 0;
  for (const char *p = text; *p; p++) {
    if (*p == ' ' || *p == '.' || *p == '-') {
      if (nd == 0 || p[1] < '0' || p[1] > '9') return -1; /* between two digits */
      continue;
    }
    if (*p < '0' || *p > '9' || nd >= 23) return -1;
    d[nd++] = *p;
  }
  d[nd] = '\0';
  return nd;
}

int read_international(const char *text, quick *q) {
  char d[24];
  int nd = text[0] == '+' ? digits_of(text + 1, d) : -1;
  if (nd < 0) return 0;
  q->from_default = false; /* FROM_NUMBER_WITH_PLUS_SIGN */
  return carnet__phone_international(d, static_cast<size_t>(nd), &q->cc, q->nsn, &q->len);
}

// A national number of the replica's region, "06 12 34 56 78",
// "06.12.34.56.78" or "06-12-34-56-78": "0", a digit 1-9, then digits with
// single spaces, dots or hyphens between them. What ParseAndKeepRawInput
// makes of it is computed from the metadata (carnet__phone_national, for the
// regions whose trunk prefix is "0" and international prefix "00"): such a
// text has no phone-context, no extension, no leading or trailing junk and
// no international prefix, so the parser's steps reduce to stripping the
// trunk zero (engine/base/phone_match.cc says when). Debug builds compare
// the result with the parser's, tests/engine/test_phone_match.c too.
int read_national(const char *text, const char *region, quick *q) {
  char d[24];
  int nd = digits_of(text, d);
  if (nd < 0) return 0;
  q->from_default = true;
  // The national number libphonenumber keeps is the national significant
  // number: SetItalianLeadingZerosForPhoneNumber keeps its leading zeros,
  // GetNationalSignificantNumber prints them back.
  return carnet__phone_national(region, d, static_cast<size_t>(nd), &q->cc, q->nsn, &q->len);
}

// The national significant number of `n` as GetNationalSignificantNumber
// writes it (Italy's leading zeros, then the national number), or 0 when it
// would not fit `out`.
size_t nsn_of(const PhoneNumber &n, char out[32]) {
  char digits[24];
  size_t nd = 0, len = 0;
  for (uint64_t v = n.national_number(); nd == 0 || v; v /= 10)
    digits[nd++] = static_cast<char>('0' + v % 10);
  int zeros = n.italian_leading_zero() ? n.number_of_leading_zeros() : 0;
  if (zeros < 0) zeros = 0;
  if (static_cast<size_t>(zeros) + nd >= 32) return 0;
  while (zeros-- > 0)
    out[len++] = '0';
  while (nd > 0)
    out[len++] = digits[--nd];
  out[len] = '\0';
  return len;
}

// What libphonenumber says of a parsed number: the reference, and the path
// of the numbers the tables of engine/base/phone_match.cc do not cover.
void describe_lib(const PhoneNumberUtil *u, const PhoneNumber &n, carnet__lpn *out) {
  std::string s;
  u->GetRegionCodeForNumber(n, &s);
  if (s != "ZZ" && s.size() < sizeof out->region) std::memcpy(out->region, s.c_str(), s.size() + 1);
  // IsValidNumber is GetNumberType's matching once more (both find the
  // number's region and match its national number against the region's
  // type patterns): valid is a type other than UNKNOWN.
  PhoneNumberUtil::PhoneNumberType t = u->GetNumberType(n);
  out->type = type_of(t);
  out->valid = t != PhoneNumberUtil::UNKNOWN;
#ifndef NDEBUG
  assert(out->valid == u->IsValidNumber(n));
#endif
  out->possible = u->IsPossibleNumberWithReason(n) == PhoneNumberUtil::IS_POSSIBLE;
  // "06 12 34 56 7" in FR: libphonenumber keeps the zero when what follows
  // it is too short, and 061234567 has a possible length. A trunk prefix
  // is never the start of a national number (Italy's leading zero is part
  // of valid numbers, which the caller accepts on validity).
  std::string nsn, region_of_code, ndd;
  u->GetNationalSignificantNumber(n, &nsn);
  u->GetRegionCodeForCountryCode(n.country_code(), &region_of_code);
  u->GetNddPrefixForRegion(region_of_code, true, &ndd);
  out->trunk_start = !ndd.empty() && nsn.compare(0, ndd.size(), ndd) == 0;
}

[[maybe_unused]] bool same(const carnet__lpn &a, const carnet__lpn &b) {
  return std::strcmp(a.e164, b.e164) == 0 && std::strcmp(a.region, b.region) == 0 &&
         a.type == b.type && a.valid == b.valid && a.possible == b.possible &&
         a.from_default == b.from_default && a.trunk_start == b.trunk_start;
}

// carnet__lpn_parse; `fast` takes the shortcuts (the parse of "+33" and
// nine digits, the tables of phone_match.cc), otherwise libphonenumber
// answers everything.
int parse(const char *text, const char *region, bool fast, carnet__lpn *out) {
  std::memset(out, 0, sizeof *out);
  try {
    // libphonenumber itself is set up (its regular expressions, ~5 ms a
    // process) only when a call needs it.
    quick q;
    int rc = 0;
    if (fast && (rc = text[0] == '+' ? read_international(text, &q)
                                     : read_national(text, region, &q)) < 0)
      return rc;
    const PhoneNumberUtil *u = nullptr;
    PhoneNumber n;
    if (rc == 0) {
      if ((u = PhoneNumberUtil::GetInstance())->ParseAndKeepRawInput(text, region, &n) !=
          PhoneNumberUtil::NO_PARSING_ERROR)
        return CARNET_EINVAL;
      q.cc = n.country_code();
      q.from_default = n.country_code_source() == PhoneNumber::FROM_DEFAULT_COUNTRY;
      q.len = n.national_number() != 0 ? nsn_of(n, q.nsn) : 0;
    }
    out->from_default = q.from_default;
    const size_t len = q.len;
    const char *nsn = q.nsn;
    carnet__phone_facts f;
    int covered = fast && len > 0 ? carnet__phone_facts_of(q.cc, nsn, len, &f) : 0;
    if (covered < 0) return covered;
    if (covered == 0 && u == nullptr) { /* read quickly, code not covered: never (the readers check) */
      u = PhoneNumberUtil::GetInstance();
      if (u->ParseAndKeepRawInput(text, region, &n) != PhoneNumberUtil::NO_PARSING_ERROR)
        return CARNET_EINVAL;
    }
    if (covered) {
      // Format(E164) is "+", the calling code and the national significant
      // number (the raw input only when the national number is 0: not here).
      const char *cc = carnet__lpn_code_text(q.cc);
      size_t cl = std::strlen(cc);
      if (1 + cl + len >= sizeof out->e164) return CARNET_EINVAL;
      out->e164[0] = '+';
      std::memcpy(out->e164 + 1, cc, cl);
      std::memcpy(out->e164 + 1 + cl, nsn, len + 1);
      std::memcpy(out->region, f.region, sizeof out->region);
      out->type = f.type;
      out->valid = f.type != CARNET_PHONE_UNKNOWN;
      out->possible = f.possible;
      out->trunk_start = f.trunk_start;
    } else {
      if (u == nullptr) u = PhoneNumberUtil::GetInstance();
      std::string s;
      u->Format(n, PhoneNumberUtil::E164, &s);
      if (s.size() >= sizeof out->e164) return CARNET_EINVAL;
      std::memcpy(out->e164, s.c_str(), s.size() + 1);
      describe_lib(u, n, out);
    }
    return 0;
  } catch (const std::bad_alloc &) {
    std::memset(out, 0, sizeof *out);
    return CARNET_ENOMEM;
  }
}

} // namespace

extern "C" int carnet__lpn_parse(const char *text, const char *region, carnet__lpn *out) {
  int rc = parse(text, region, true, out);
#ifndef NDEBUG
  // Debug builds check every shortcut against libphonenumber.
  carnet__lpn ref;
  int ref_rc = parse(text, region, false, &ref);
  assert(rc == CARNET_ENOMEM || ref_rc == CARNET_ENOMEM ||
         (rc == ref_rc && (rc || same(*out, ref))));
#endif
  return rc;
}

extern "C" int carnet__lpn_parse_ref(const char *text, const char *region, carnet__lpn *out) {
  return parse(text, region, false, out);
}

extern "C" int carnet__lpn_country_code(const char *region) {
  // Two capital letters, every phone read: a table, not the library's map
  // of std::string (issue 17, point 5).
  int code = carnet__phone_region_code(region);
  if (code >= 0) {
#ifndef NDEBUG
    assert(code == PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(region));
#endif
    return code;
  }
  try {
    return PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(region);
  } catch (const std::bad_alloc &) {
    return 0;
  }
}

extern "C" const char *carnet__lpn_code_text(int code) {
  return code >= 1 && code < 1000 ? codes[static_cast<size_t>(code)].s : nullptr;
}
