#include "wire/bearer_token.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace parley::wire {

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view BearerFromHeader(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  std::string_view value = Trim(authorization);
  if (value.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (Lower(value[i]) != kScheme[i]) return {};
  }
  if (value[kScheme.size()] != ' ' && value[kScheme.size()] != '\t') return {};
  return Trim(value.substr(kScheme.size()));
}

std::string BearerToken(std::string_view authorization, std::string_view target) {
  if (std::string_view token = BearerFromHeader(authorization); !token.empty()) {
    return std::string(token);
  }
  auto url = boost::urls::parse_origin_form(boost::urls::string_view(target.data(), target.size()));
  if (!url) return {};
  auto params = url->params();
  auto it = params.find("token");
  if (it == params.end() || !(*it).has_value) return {};
  return std::string((*it).value);
}

}  // namespace parley::wire
