#include "connect/bearer_token.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace parley::connect {

namespace {

bool IEqualsAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string BearerToken(std::string_view authorization, std::string_view target) {
  std::string_view auth = Trim(authorization);
  // The scheme is case-insensitive (RFC 7235).
  if (auth.size() > 7 && IEqualsAscii(auth.substr(0, 7), "bearer ")) {
    std::string_view token = Trim(auth.substr(7));
    if (!token.empty()) return std::string(token);
  }
  auto url = boost::urls::parse_origin_form(boost::urls::string_view(target.data(), target.size()));
  if (!url) return {};
  auto params = url->params();
  auto it = params.find("token");
  if (it == params.end() || !(*it).has_value) return {};
  return std::string((*it).value);
}

}  // namespace parley::connect
