// Byte-level mutations for the seeded fuzz tests (frame codec, HTTP request
// path): each edit overwrites, deletes, inserts a byte, splices in one of
// `tokens` (pieces that reach deep into a parser: wrong types, huge numbers,
// escapes, separators) or truncates. Deterministic for a given `rng` state.
#pragma once

#include <random>
#include <span>
#include <string>
#include <string_view>

namespace parley::testing {

inline std::string Mutate(std::string s, std::mt19937_64& rng,
                          std::span<const std::string_view> tokens, int max_edits) {
  const int edits = 1 + static_cast<int>(rng() % static_cast<uint64_t>(max_edits));
  for (int e = 0; e < edits; ++e) {
    const size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 5) {
      case 0:
        if (pos < s.size()) s[pos] = static_cast<char>(rng() % 256);
        break;
      case 1:
        if (pos < s.size()) s.erase(pos, 1 + rng() % 8);
        break;
      case 2:
        if (!tokens.empty()) s.insert(pos, tokens[rng() % tokens.size()]);
        break;
      case 3:
        s.insert(pos, 1, static_cast<char>(rng() % 256));
        break;
      default:
        s.resize(pos);  // truncation
        break;
    }
  }
  return s;
}

}  // namespace parley::testing
