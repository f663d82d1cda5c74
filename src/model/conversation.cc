#include "model/conversation.h"

#include <charconv>

#include "common/validation.h"

namespace parley::model {

namespace {
// Parses a positive decimal without sign or leading zeros.
std::optional<uint64_t> ParseId(std::string_view s) {
  if (s.empty() || s[0] == '0') return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > kMaxSafeId) return std::nullopt;
  return v;
}
}  // namespace

std::optional<ConvId> ConvId::Parse(std::string_view s) {
  if (s.size() < 3 || s[1] != ':') return std::nullopt;
  std::string_view rest = s.substr(2);
  if (s[0] == 'g') {
    auto g = ParseId(rest);
    if (!g) return std::nullopt;
    return Group(*g);
  }
  if (s[0] != 'p') return std::nullopt;
  auto colon = rest.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto a = ParseId(rest.substr(0, colon));
  auto b = ParseId(rest.substr(colon + 1));
  if (!a || !b || *a > *b) return std::nullopt;
  return ConvId{Kind::kPrivate, *a, *b};
}

std::string ConvId::ToString() const {
  if (is_group()) return "g:" + std::to_string(a);
  return "p:" + std::to_string(a) + ":" + std::to_string(b);
}

}  // namespace parley::model
