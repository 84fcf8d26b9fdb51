// engine/base/phone_match.cc - libphonenumber's number types from its own
// metadata, without its regular expressions (engine/base/phone_match.h).
//
// Why: GetNumberType matches a national number against up to eleven ICU
// regular expressions of its region; it was half of the CPU of creating a
// customer (issue 17, point 5). The patterns of the metadata use a small
// regular subset — digits, \d, [..] classes with ranges, (?:..) groups, |,
// ?, {n} and {n,m} — so each one is compiled here into a deterministic
// automaton over the ten digits (Glushkov's position automaton, then the
// subset construction), and a full match is one table walk.
//
// What is reproduced, from libphonenumber 8.12's phonenumberutil.cc (the
// names are its functions):
//   - GetNumberTypeHelper: general_desc first, then premium rate, toll free,
//     shared cost, VoIP, personal number, pager, UAN, voicemail, then fixed
//     line and mobile with same_mobile_and_fixed_line_pattern;
//   - IsNumberMatchingDesc: a desc's own possible lengths, when it lists
//     any, filter before the pattern; an empty pattern matches nothing;
//   - GetRegionCodeForNumber: the only region of a calling code, or the
//     first of its regions (libphonenumber's order) whose leading_digits
//     match a prefix of the number, or, without leading_digits, whose type
//     is not UNKNOWN;
//   - IsPossibleNumberWithReason: the general desc's possible lengths of
//     the calling code's main region (local-only lengths are not IS_POSSIBLE);
//   - GetNddPrefixForRegion(main region, strip "~"); none for "001".
// A pattern outside the subset, or whose automaton would exceed
// kStatesMax states, leaves its whole calling code to libphonenumber
// (carnet__phone_facts_of returns 0). tests/engine/test_phone_match.c
// compares the two on every example number of the metadata and on random
// numbers of many regions; debug builds compare every call (phone.cc).
//
// Global state: one table, made on first use by a function-local static
// (C++11 makes its initialisation thread-safe, like pthread_once) from the
// metadata compiled into libphonenumber; the automata of a calling code are
// compiled on its first use, once (std::call_once: compiling them all takes
// ~40 ms, one country well under a millisecond), and never changed
// afterwards: every lookup reads them. The table holds no data of any caller.
#include "engine/base/phone_match.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include <phonenumbers/phonemetadata.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include "carnet/error.h"

namespace i18n {
namespace phonenumbers {
// The serialized PhoneMetadataCollection compiled into libphonenumber
// (its metadata.h, which Debian does not install).
int metadata_size();
const void *metadata_get();
} // namespace phonenumbers
} // namespace i18n

namespace {

using i18n::phonenumbers::PhoneMetadata;
using i18n::phonenumbers::PhoneMetadataCollection;
using i18n::phonenumbers::PhoneNumberDesc;
using i18n::phonenumbers::PhoneNumberUtil;

// Bounds: an automaton of a pattern has at most this many states (the
// largest of the metadata 8.12 has a few hundred), a pattern at most
// kPositionsMax digit positions once its counted repeats are written out.
constexpr size_t kStatesMax = 8192;
constexpr size_t kPositionsMax = 4096;

// --- Patterns --------------------------------------------------------------

// A parsed pattern, counted repeats already written out: x{2,3} is x x x?.
struct node {
  enum kind { SET, CAT, ALT, OPT } k = CAT;
  uint16_t set = 0; // SET: the digits it accepts, bit d for digit d
  uint32_t pos = 0; // SET: its position in the automaton
  std::vector<node> kids;
};

// A recursive-descent reader of the subset. Any other construct (anchors,
// *, +, {n,}, escapes other than \d, negated classes, capturing groups)
// makes it fail.
class reader {
public:
  explicit reader(const std::string &s) : s_(s) {}
  bool read(node *out) {
    return alt(out, 0) && i_ == s_.size() && positions_ <= kPositionsMax;
  }

private:
  bool alt(node *out, int depth) {
    if (depth > 32) return false;
    out->k = node::ALT;
    for (;;) {
      node c;
      if (!cat(&c, depth)) return false;
      out->kids.push_back(std::move(c));
      if (i_ < s_.size() && s_[i_] == '|') {
        i_++;
        continue;
      }
      return true;
    }
  }
  bool cat(node *out, int depth) {
    out->k = node::CAT;
    while (i_ < s_.size() && s_[i_] != '|' && s_[i_] != ')') {
      node a;
      if (!atom(&a, depth) || !repeat(&a, out)) return false;
    }
    return true;
  }
  bool atom(node *out, int depth) {
    char c = s_[i_];
    if (c >= '0' && c <= '9') {
      i_++;
      return leaf(out, static_cast<uint16_t>(1u << (c - '0')));
    }
    if (c == '\\') {
      if (i_ + 1 >= s_.size() || s_[i_ + 1] != 'd') return false;
      i_ += 2;
      return leaf(out, 0x3ff);
    }
    if (c == '[') return klass(out);
    if (c == '(') {
      if (s_.compare(i_, 3, "(?:") != 0) return false;
      i_ += 3;
      if (!alt(out, depth + 1) || i_ >= s_.size() || s_[i_] != ')') return false;
      i_++;
      return true;
    }
    return false;
  }
  bool leaf(node *out, uint16_t set) {
    out->k = node::SET;
    out->set = set;
    positions_++;
    return true;
  }
  bool klass(node *out) {
    uint16_t set = 0;
    i_++;
    while (i_ < s_.size() && s_[i_] != ']') {
      char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size() && s_[i_ + 1] == 'd') {
        set |= 0x3ff;
        i_ += 2;
        continue;
      }
      if (c < '0' || c > '9') return false;
      char hi = c;
      if (i_ + 2 < s_.size() && s_[i_ + 1] == '-' && s_[i_ + 2] != ']') {
        hi = s_[i_ + 2];
        if (hi < c || hi > '9') return false;
        i_ += 3;
      } else {
        i_++;
      }
      for (char d = c; d <= hi; d++)
        set = static_cast<uint16_t>(set | 1u << (d - '0'));
    }
    if (i_ >= s_.size() || set == 0) return false;
    i_++;
    return leaf(out, set);
  }
  bool number(size_t *n) {
    size_t v = 0, start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9' && i_ - start < 4)
      v = v * 10 + static_cast<size_t>(s_[i_++] - '0');
    *n = v;
    return i_ > start;
  }
  // Appends `a` to `seq` with its quantifier, if any, written out.
  bool repeat(node *a, node *seq) {
    size_t lo = 1, hi = 1;
    if (i_ < s_.size() && s_[i_] == '?') {
      i_++;
      lo = 0;
    } else if (i_ < s_.size() && s_[i_] == '{') {
      i_++;
      if (!number(&lo)) return false;
      hi = lo;
      if (i_ < s_.size() && s_[i_] == ',') {
        i_++;
        if (!number(&hi)) return false; /* {n,} is outside the subset */
      }
      if (i_ >= s_.size() || s_[i_] != '}' || hi < lo || hi > 32) return false;
      i_++;
    }
    if (i_ < s_.size() && (s_[i_] == '?' || s_[i_] == '*' || s_[i_] == '+' || s_[i_] == '{'))
      return false; /* lazy or stacked quantifiers */
    size_t per = count(*a);
    if (hi > 1 && (positions_ += per * (hi - 1)) > kPositionsMax) return false;
    if (hi == 0) {
      positions_ -= per;
      return true;
    }
    for (size_t k = 0; k < hi; k++) {
      if (k < lo) {
        seq->kids.push_back(*a);
      } else {
        node o;
        o.k = node::OPT;
        o.kids.push_back(*a);
        seq->kids.push_back(std::move(o));
      }
    }
    return true;
  }
  static size_t count(const node &n) {
    if (n.k == node::SET) return 1;
    size_t c = 0;
    for (const node &k : n.kids)
      c += count(k);
    return c;
  }

  const std::string &s_;
  size_t i_ = 0;
  size_t positions_ = 0;
};

// --- Automata ----------------------------------------------------------------

using bits = std::vector<uint64_t>;

struct glushkov {
  size_t words = 0;
  std::vector<uint16_t> set; // per position
  std::vector<bits> follow;  // per position
};

struct info {
  bool nullable;
  bits first, last;
};

void number_positions(node *n, uint32_t *next, glushkov *g) {
  if (n->k == node::SET) {
    n->pos = (*next)++;
    g->set.push_back(n->set);
    return;
  }
  for (node &k : n->kids)
    number_positions(&k, next, g);
}

void unite(bits *a, const bits &b) {
  for (size_t i = 0; i < a->size(); i++)
    (*a)[i] |= b[i];
}

info walk(const node &n, glushkov *g) {
  info r{false, bits(g->words), bits(g->words)};
  switch (n.k) {
  case node::SET:
    r.first[n.pos / 64] |= uint64_t{1} << (n.pos % 64);
    r.last = r.first;
    return r;
  case node::OPT:
    r = walk(n.kids[0], g);
    r.nullable = true;
    return r;
  case node::ALT:
    for (const node &k : n.kids) {
      info c = walk(k, g);
      r.nullable = r.nullable || c.nullable;
      unite(&r.first, c.first);
      unite(&r.last, c.last);
    }
    return r;
  case node::CAT:
    r.nullable = true;
    for (const node &k : n.kids) {
      info c = walk(k, g);
      for (size_t w = 0; w < g->words; w++)
        for (uint64_t m = r.last[w]; m; m &= m - 1)
          unite(&g->follow[w * 64 + static_cast<size_t>(__builtin_ctzll(m))], c.first);
      if (r.nullable) unite(&r.first, c.first);
      if (c.nullable) {
        unite(&r.last, c.last);
      } else {
        r.last = c.last;
      }
      r.nullable = r.nullable && c.nullable;
    }
    return r;
  }
  return r;
}

// A deterministic automaton over the digits: state 0 rejects everything,
// state 1 is the start.
struct dfa {
  std::vector<uint16_t> next; // [state * 10 + digit]
  std::vector<uint8_t> accept;

  bool empty() const {
    return next.empty();
  }
  // The whole of `s` is in the pattern's language (ICU's matches()).
  bool full(const char *s, size_t n) const {
    uint32_t q = 1;
    for (size_t i = 0; i < n && q; i++)
      q = next[q * 10 + static_cast<unsigned>(s[i] - '0')];
    return accept[q] != 0;
  }
  // Some prefix of `s` is in the language (ICU's lookingAt(): Consume()).
  bool prefix(const char *s, size_t n) const {
    uint32_t q = 1;
    for (size_t i = 0; !accept[q]; i++) {
      if (i == n || (q = next[q * 10 + static_cast<unsigned>(s[i] - '0')]) == 0) return false;
    }
    return true;
  }
};

bool compile(const std::string &pattern, dfa *out) {
  node root;
  if (!reader(pattern).read(&root)) return false;
  glushkov g;
  uint32_t npos = 0;
  number_positions(&root, &npos, &g);
  // Position npos stands for the start: it follows into the first set.
  g.words = (npos + 1 + 63) / 64;
  g.follow.assign(npos + 1, bits(g.words));
  info top = walk(root, &g);
  g.follow[npos] = top.first;
  bits accepting = top.last;
  if (top.nullable) accepting[npos / 64] |= uint64_t{1} << (npos % 64);
  std::vector<bits> on(10, bits(g.words));
  for (uint32_t p = 0; p < npos; p++)
    for (int d = 0; d < 10; d++)
      if (g.set[p] >> d & 1) on[static_cast<size_t>(d)][p / 64] |= uint64_t{1} << (p % 64);

  std::map<bits, uint16_t> id;
  std::vector<bits> states;
  states.push_back(bits(g.words)); // 0: dead
  bits start(g.words);
  start[npos / 64] |= uint64_t{1} << (npos % 64);
  states.push_back(start);
  id[states[0]] = 0;
  id[start] = 1;
  out->next.clear();
  out->accept.clear();
  for (size_t q = 0; q < states.size(); q++) {
    bits reach(g.words);
    const bits cur = states[q];
    bool acc = false;
    for (size_t w = 0; w < g.words; w++) {
      acc = acc || (cur[w] & accepting[w]) != 0;
      for (uint64_t m = cur[w]; m; m &= m - 1)
        unite(&reach, g.follow[w * 64 + static_cast<size_t>(__builtin_ctzll(m))]);
    }
    out->accept.push_back(acc ? 1 : 0);
    for (size_t d = 0; d < 10; d++) {
      bits to(g.words);
      for (size_t w = 0; w < g.words; w++)
        to[w] = reach[w] & on[d][w];
      auto it = id.find(to);
      uint16_t t;
      if (it != id.end()) {
        t = it->second;
      } else {
        if (states.size() >= kStatesMax) return false;
        t = static_cast<uint16_t>(states.size());
        id.emplace(to, t);
        states.push_back(to);
      }
      out->next.push_back(t);
    }
  }
  return true;
}

// --- Regions -------------------------------------------------------------------

// A PhoneNumberDesc: its possible lengths (bit n for length n) and pattern.
struct desc {
  bool lists_lengths = false; // possible_length_size() > 0
  uint32_t lengths = 0;
  dfa pattern; // empty: no pattern, matches nothing
};

// The descs in GetNumberTypeHelper's order of the types that are tried
// before fixed line and mobile.
enum { GENERAL, PREMIUM, TOLL_FREE, SHARED, VOIP, PERSONAL, PAGER, UAN, VOICEMAIL, FIXED, MOBILE };
constexpr int kDescs = 11;

const carnet_phone_type kTypeOf[] = {
    CARNET_PHONE_UNKNOWN,     CARNET_PHONE_PREMIUM_RATE, CARNET_PHONE_TOLL_FREE,
    CARNET_PHONE_SHARED_COST, CARNET_PHONE_VOIP,         CARNET_PHONE_PERSONAL_NUMBER,
    CARNET_PHONE_PAGER,       CARNET_PHONE_UAN,          CARNET_PHONE_VOICEMAIL,
    CARNET_PHONE_FIXED_LINE,  CARNET_PHONE_MOBILE,
};

struct region {
  char id[4] = "";
  std::string ndd; // national prefix without its "~", "" for "001"
  bool same_mobile_and_fixed_line = false;
  bool has_leading_digits = false;
  dfa leading_digits;
  desc d[kDescs];
  // TestNumberLength(UNKNOWN): the general desc's lists.
  bool no_length = false; // its first possible length is -1
  uint32_t possible = 0, local_only = 0;
  // National numbers are read as ParseHelper reads them when the region's
  // international prefix is "00", its national prefix for parsing "0" and
  // it has no transform rule (79 regions of 8.12, France among them).
  bool zero_trunk = false;
  // Its national prefix for parsing is "0" or none: a national number after
  // "+<code>" that does not start with 0 is kept whole.
  bool plain_after_code = false;

  bool matches(int k, const char *nsn, size_t len) const {
    const desc &x = d[k];
    if (x.lists_lengths && !(x.lengths >> len & 1)) return false;
    return !x.pattern.empty() && x.pattern.full(nsn, len);
  }
  // TestNumberLength(number, metadata) (type UNKNOWN) is IS_POSSIBLE or
  // TOO_LONG: what ParseHelper accepts after stripping a national prefix.
  bool possible_or_too_long(size_t len) const {
    if (no_length || possible == 0 || len > 31 || (local_only >> len & 1)) return false;
    size_t min = static_cast<size_t>(__builtin_ctz(possible));
    size_t max = 31 - static_cast<size_t>(__builtin_clz(possible));
    return len > max || (len >= min && (possible >> len & 1));
  }

  // GetNumberTypeHelper.
  carnet_phone_type type(const char *nsn, size_t len) const {
    if (!matches(GENERAL, nsn, len)) return CARNET_PHONE_UNKNOWN;
    for (int k = PREMIUM; k <= VOICEMAIL; k++)
      if (matches(k, nsn, len)) return kTypeOf[k];
    if (matches(FIXED, nsn, len)) {
      if (same_mobile_and_fixed_line || matches(MOBILE, nsn, len))
        return CARNET_PHONE_FIXED_LINE_OR_MOBILE;
      return CARNET_PHONE_FIXED_LINE;
    }
    if (!same_mobile_and_fixed_line && matches(MOBILE, nsn, len)) return CARNET_PHONE_MOBILE;
    return CARNET_PHONE_UNKNOWN;
  }
};

bool lengths_of(const google::protobuf::RepeatedField<int32_t> &in, uint32_t *out) {
  *out = 0;
  for (int32_t n : in) {
    if (n == -1) continue; /* "no number of this type": matches no length */
    if (n < 0 || n > 31) return false;
    *out |= uint32_t{1} << n;
  }
  return true;
}

bool build_desc(const PhoneNumberDesc &in, desc *out) {
  out->lists_lengths = in.possible_length_size() > 0;
  if (!lengths_of(in.possible_length(), &out->lengths)) return false;
  return in.national_number_pattern().empty() ||
         compile(in.national_number_pattern(), &out->pattern);
}

bool build_region(const PhoneMetadata &m, const std::string &id, region *out) {
  if (id.size() >= sizeof out->id) return false;
  std::memcpy(out->id, id.c_str(), id.size() + 1);
  if (id != "001") {
    for (char c : m.national_prefix())
      if (c != '~') out->ndd.push_back(c);
  }
  out->same_mobile_and_fixed_line = m.same_mobile_and_fixed_line_pattern();
  out->has_leading_digits = m.has_leading_digits();
  if (out->has_leading_digits && !compile(m.leading_digits(), &out->leading_digits)) return false;
  const PhoneNumberDesc *descs[kDescs] = {
      &m.general_desc(), &m.premium_rate(),    &m.toll_free(), &m.shared_cost(),
      &m.voip(),         &m.personal_number(), &m.pager(),     &m.uan(),
      &m.voicemail(),    &m.fixed_line(),      &m.mobile()};
  for (int k = 0; k < kDescs; k++)
    if (!build_desc(*descs[k], &out->d[k])) return false;
  out->zero_trunk = id != "001" && m.international_prefix() == "00" &&
                    m.national_prefix_for_parsing() == "0" &&
                    m.national_prefix_transform_rule().empty();
  out->plain_after_code =
      m.national_prefix_for_parsing().empty() || m.national_prefix_for_parsing() == "0";
  const PhoneNumberDesc &g = m.general_desc();
  if (g.possible_length_size() == 0) return false; /* libphonenumber reads [0] */
  out->no_length = g.possible_length(0) == -1;
  return lengths_of(g.possible_length(), &out->possible) &&
         lengths_of(g.possible_length_local_only(), &out->local_only);
}

// A calling code: its regions in libphonenumber's order, the main one
// first. Compiled on first use (std::call_once), then never changed.
struct code_entry {
  std::once_flag once;
  std::atomic<bool> built{false}; // once has run: read without a call

  bool covered = false;
  std::vector<region> regions;
};

class tables {
public:
  tables() : codes_(new code_entry[1000]) {
    if (!all_.ParseFromArray(i18n::phonenumbers::metadata_get(),
                             i18n::phonenumbers::metadata_size()))
      return; /* nothing covered: libphonenumber answers everything */
    for (const PhoneMetadata &m : all_.metadata()) {
      const std::string &id = m.id();
      if (id == "ZZ") continue;
      // The regions of a calling code as PhoneNumberUtil's constructor
      // lists them (its GetRegionCodesForCountryCallingCode): in the
      // metadata's order, the main country of the code first. Reading them
      // here keeps libphonenumber's own set-up (its regular expressions,
      // ~5 ms) out of a process that only meets the shortcuts.
      if (m.country_code() > 0 && m.country_code() < 1000) {
        std::vector<std::string> &ids = regions_of_[static_cast<size_t>(m.country_code())];
        if (!ids.empty() && m.main_country_for_code()) {
          ids.insert(ids.begin(), id);
        } else {
          ids.push_back(id);
        }
      }
      if (id == "001") {
        non_geo_.emplace(m.country_code(), &m);
        continue;
      }
      by_region_.emplace(id, &m);
      if (id.size() == 2 && id[0] >= 'A' && id[0] <= 'Z' && id[1] >= 'A' && id[1] <= 'Z' &&
          m.country_code() > 0 && m.country_code() < 1000)
        region_code_[(id[0] - 'A') * 26 + (id[1] - 'A')] = static_cast<int16_t>(m.country_code());
    }
  }

  // GetCountryCodeForRegion of two capital letters: the code of the region's
  // metadata, 0 when the metadata has no such region, -1 without metadata.
  int region_code(char a, char b) const {
    return all_.metadata_size() == 0 ? -1 : region_code_[(a - 'A') * 26 + (b - 'A')];
  }

  // The calling code `cc` (1..999), compiled on its first use.
  const code_entry &get(int cc) const {
    code_entry &c = codes_[static_cast<size_t>(cc)];
    if (!c.built.load(std::memory_order_acquire)) {
      std::call_once(c.once, [this, cc, &c] {
        build(cc, &c);
        c.built.store(true, std::memory_order_release);
      });
    }
    return c;
  }

  const PhoneMetadataCollection &all() const {
    return all_;
  }

  // GetRegionCodeForCountryCode(cc) is a region: the code is known.
  bool known_code(int cc) const {
    return cc > 0 && cc < 1000 && !regions_of_[static_cast<size_t>(cc)].empty();
  }

  // The regions of `cc` are those libphonenumber lists, in its order.
  bool same_regions(int cc) const {
    std::list<std::string> lib;
    PhoneNumberUtil::GetInstance()->GetRegionCodesForCountryCallingCode(cc, &lib);
    const std::vector<std::string> &ids = regions_of_[static_cast<size_t>(cc)];
    return std::equal(lib.begin(), lib.end(), ids.begin(), ids.end());
  }

private:
  void build(int cc, code_entry *c) const {
    if (all_.metadata_size() == 0) return;
    const std::vector<std::string> &ids = regions_of_[static_cast<size_t>(cc)];
#ifndef NDEBUG
    assert(same_regions(cc));
#endif
    std::vector<region> regions(ids.size());
    size_t i = 0;
    for (const std::string &id : ids) {
      const PhoneMetadata *m = nullptr;
      if (id == "001") {
        auto it = non_geo_.find(cc);
        if (it != non_geo_.end()) m = it->second;
      } else {
        auto it = by_region_.find(id);
        if (it != by_region_.end()) m = it->second;
      }
      if (m == nullptr || m->country_code() != cc || !build_region(*m, id, &regions[i++])) return;
    }
    c->regions = std::move(regions);
    c->covered = !c->regions.empty();
  }

  PhoneMetadataCollection all_;
  std::map<std::string, const PhoneMetadata *> by_region_;
  std::map<int, const PhoneMetadata *> non_geo_;
  std::unique_ptr<code_entry[]> codes_;       // [calling code]
  std::vector<std::string> regions_of_[1000]; // [calling code]
  int16_t region_code_[26 * 26] = {};
};

const tables &the_tables() {
  static const tables t;
  return t;
}

} // namespace

extern "C" int carnet__phone_facts_of(int cc, const char *nsn, size_t len,
                                      carnet__phone_facts *out) {
  std::memset(out, 0, sizeof *out);
  if (cc < 1 || cc > 999 || len > 31) return 0;
  for (size_t i = 0; i < len; i++)
    if (nsn[i] < '0' || nsn[i] > '9') return 0;
  const code_entry *cp;
  try {
    cp = &the_tables().get(cc);
  } catch (const std::bad_alloc &) {
    return CARNET_ENOMEM;
  }
  const code_entry &c = *cp;
  if (!c.covered) return 0;
  const region *r = nullptr;
  if (c.regions.size() == 1) {
    r = &c.regions[0];
  } else {
    for (const region &x : c.regions) {
      if (x.has_leading_digits ? x.leading_digits.prefix(nsn, len)
                               : x.type(nsn, len) != CARNET_PHONE_UNKNOWN) {
        r = &x;
        break;
      }
    }
  }
  if (r != nullptr) {
    std::memcpy(out->region, r->id, sizeof out->region);
    out->type = r->type(nsn, len);
  }
  const region &main = c.regions[0];
  out->possible =
      !main.no_length && !(main.local_only >> len & 1) && (main.possible >> len & 1) != 0;
  out->trunk_start = !main.ndd.empty() && len >= main.ndd.size() &&
                     main.ndd.compare(0, main.ndd.size(), nsn, main.ndd.size()) == 0;
  return 1;
}

extern "C" int carnet__phone_national(const char *home, const char *d, size_t len, int *cc,
                                      char nsn[32], size_t *nsn_len) {
  int code = carnet__phone_region_code(home);
  if (code <= 0 || len < 3 || len > 18 || d[0] != '0' || d[1] < '1' || d[1] > '9') return 0;
  for (size_t i = 0; i < len; i++)
    if (d[i] < '0' || d[i] > '9') return 0;
  const code_entry *c;
  try {
    c = &the_tables().get(code);
  } catch (const std::bad_alloc &) {
    return CARNET_ENOMEM;
  }
  if (!c->covered) return 0;
  const region *r = nullptr;
  for (const region &x : c->regions)
    if (std::strcmp(x.id, home) == 0) r = &x;
  if (r == nullptr || !r->zero_trunk) return 0;
  // MaybeExtractCountryCode finds no international prefix ("00": the second
  // digit is not 0) and no calling code (none starts with 0): the number is
  // national, its code the region's. MaybeStripNationalPrefixAndCarrierCode
  // strips the "0" unless the whole number matches the general pattern and
  // the rest does not (a pattern match alone: IsMatch, no length filter);
  // ParseHelper keeps the stripped number if its length is possible or too
  // long for the region.
  const dfa &g = r->d[GENERAL].pattern;
  bool viable = !g.empty() && g.full(d, len);
  bool strip = !(viable && !g.full(d + 1, len - 1)) && r->possible_or_too_long(len - 1);
  const char *p = strip ? d + 1 : d;
  size_t n = strip ? len - 1 : len;
  if (n < 2 || n > 17) return 0; /* TOO_SHORT_NSN / TOO_LONG_NSN: libphonenumber says */
  std::memcpy(nsn, p, n);
  nsn[n] = '\0';
  *nsn_len = n;
  *cc = code;
  return 1;
}

extern "C" int carnet__phone_international(const char *d, size_t len, int *cc, char nsn[32],
                                           size_t *nsn_len) {
  // MaybeExtractCountryCode after a "+": at least three digits, a code of
  // one to three digits (the shortest libphonenumber knows; none starts with
  // 0), then the national number, from which MaybeStripNationalPrefix...
  // strips nothing when the code's main region parses no prefix or only a
  // "0" the number does not start with.
  if (len < 3 || len > 20 || d[0] < '1' || d[0] > '9') return 0;
  for (size_t i = 0; i < len; i++)
    if (d[i] < '0' || d[i] > '9') return 0;
  const tables *t;
  try {
    t = &the_tables();
  } catch (const std::bad_alloc &) {
    return CARNET_ENOMEM;
  }
  int code = 0;
  size_t k = 1;
  for (; k <= 3 && code == 0; k++) {
    int v = 0;
    for (size_t i = 0; i < k; i++)
      v = v * 10 + (d[i] - '0');
    if (t->known_code(v)) code = v;
  }
  k--;
  if (code == 0) return 0;
  const char *p = d + k;
  size_t n = len - k;
  if (n < 2 || n > 17) return 0;
  const code_entry *c;
  try {
    c = &t->get(code);
  } catch (const std::bad_alloc &) {
    return CARNET_ENOMEM;
  }
  if (!c->covered || !c->regions[0].plain_after_code || p[0] == '0') return 0;
  std::memcpy(nsn, p, n);
  nsn[n] = '\0';
  *nsn_len = n;
  *cc = code;
  return 1;
}

extern "C" int carnet__phone_region_code(const char *region) {
  if (region == nullptr || region[0] < 'A' || region[0] > 'Z' || region[1] < 'A' ||
      region[1] > 'Z' || region[2] != '\0')
    return -1;
  try {
    return the_tables().region_code(region[0], region[1]);
  } catch (const std::bad_alloc &) {
    return -1;
  }
}

extern "C" bool carnet__phone_example(size_t i, char text[32], char region[4]) {
  const PhoneMetadataCollection &all = the_tables().all();
  for (const PhoneMetadata &m : all.metadata()) {
    const PhoneNumberDesc *descs[] = {
        &m.fixed_line(), &m.mobile(),          &m.toll_free(), &m.premium_rate(), &m.shared_cost(),
        &m.voip(),       &m.personal_number(), &m.pager(),     &m.uan(),          &m.voicemail()};
    for (const PhoneNumberDesc *d : descs) {
      if (!d->has_example_number()) continue;
      if (i-- > 0) continue;
      std::string t = "+" + std::to_string(m.country_code()) + d->example_number();
      if (t.size() >= 32 || m.id().size() >= 4) return false;
      std::memcpy(text, t.c_str(), t.size() + 1);
      std::memcpy(region, m.id().c_str(), m.id().size() + 1);
      return true;
    }
  }
  return false;
}

extern "C" void carnet__phone_coverage(int *covered, int *left, int *misordered) {
  *covered = *left = *misordered = 0;
  const tables &t = the_tables();
  for (int cc = 1; cc < 1000; cc++) {
    if (!t.same_regions(cc)) (*misordered)++;
    std::list<std::string> ids;
    PhoneNumberUtil::GetInstance()->GetRegionCodesForCountryCallingCode(cc, &ids);
    if (ids.empty()) continue;
    (t.get(cc).covered ? *covered : *left) += 1;
  }
}
