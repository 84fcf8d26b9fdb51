// engine/base/phone.cc - the library's only C++: a thin extern "C" shim over
// libphonenumber (engine/base/phone.h). Everything above it is C.
//
// Global state: libphonenumber keeps one PhoneNumberUtil, built on first
// use (thread-safe, a function-local static in the library) and never
// changed afterwards: its metadata is read-only and every call below is a
// const method. That singleton is libphonenumber's own; Carnet keeps no
// mutable state of its own here, which is why it is acceptable under the
// "no global mutable state" rule. Exceptions never leave this file: the
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

// A French number in full international form: "+33", then nine digits
// that do not start with 0, single spaces allowed between them (how a
// number is usually stored, exported and imported). What
// ParseAndKeepRawInput makes of it is fixed: country code 33 from the plus
// sign, the nine digits as the national number (France's trunk prefix is
// "0", so there is none to strip, and no leading zero to keep). It is
// built directly: the parser's regular expressions were most of the CPU of
// creating a customer (issue 17, point 5). Debug builds compare it with the
// parser's result.
bool parse_fr_e164(const char *text, PhoneNumber *n) {
  if (std::strncmp(text, "+33", 3) != 0) return false;
  uint64_t v = 0;
  int nd = 0;
  for (const char *p = text + 3; *p; p++) {
    if (*p == ' ') {
      if (p[1] < '0' || p[1] > '9') return false; /* a single space between digits */
      continue;
    }
    if (*p < '0' || *p > '9' || (nd == 0 && *p == '0') || ++nd > 9) return false;
    v = v * 10 + static_cast<uint64_t>(*p - '0');
  }
  if (nd != 9) return false;
  n->set_country_code(33);
  n->set_national_number(v);
  n->set_country_code_source(PhoneNumber::FROM_NUMBER_WITH_PLUS_SIGN);
  return true;
}

} // namespace

extern "C" int carnet__lpn_parse(const char *text, const char *region, carnet__lpn *out) {
  std::memset(out, 0, sizeof *out);
  try {
    const PhoneNumberUtil *u = PhoneNumberUtil::GetInstance();
    PhoneNumber n;
    if (parse_fr_e164(text, &n)) {
#ifndef NDEBUG
      PhoneNumber full;
      assert(u->ParseAndKeepRawInput(text, region, &full) == PhoneNumberUtil::NO_PARSING_ERROR);
      assert(full.country_code() == n.country_code() &&
             full.national_number() == n.national_number() &&
             full.country_code_source() == n.country_code_source() &&
             full.italian_leading_zero() == n.italian_leading_zero() &&
             !full.has_preferred_domestic_carrier_code());
#endif
    } else if (u->ParseAndKeepRawInput(text, region, &n) != PhoneNumberUtil::NO_PARSING_ERROR) {
      return CARNET_EINVAL;
    }
    std::string s;
    u->Format(n, PhoneNumberUtil::E164, &s);
    if (s.size() >= sizeof out->e164) return CARNET_EINVAL;
    std::memcpy(out->e164, s.c_str(), s.size() + 1);
    s.clear();
    u->GetRegionCodeForNumber(n, &s);
    if (s != "ZZ" && s.size() < sizeof out->region)
      std::memcpy(out->region, s.c_str(), s.size() + 1);
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
    out->from_default = n.country_code_source() == PhoneNumber::FROM_DEFAULT_COUNTRY;
    // "06 12 34 56 7" in FR: libphonenumber keeps the zero when what follows
    // it is too short, and 061234567 has a possible length. A trunk prefix
    // is never the start of a national number (Italy's leading zero is part
    // of valid numbers, which the caller accepts on validity).
    std::string nsn, region_of_code, ndd;
    u->GetNationalSignificantNumber(n, &nsn);
    u->GetRegionCodeForCountryCode(n.country_code(), &region_of_code);
    u->GetNddPrefixForRegion(region_of_code, true, &ndd);
    out->trunk_start = !ndd.empty() && nsn.compare(0, ndd.size(), ndd) == 0;
    return 0;
  } catch (const std::bad_alloc &) {
    std::memset(out, 0, sizeof *out);
    return CARNET_ENOMEM;
  }
}

extern "C" int carnet__lpn_country_code(const char *region) {
  try {
    return PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(region);
  } catch (const std::bad_alloc &) {
    return 0;
  }
}

extern "C" const char *carnet__lpn_code_text(int code) {
  return code >= 1 && code < 1000 ? codes[static_cast<size_t>(code)].s : nullptr;
}
