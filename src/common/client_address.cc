#include "common/client_address.h"

#include <algorithm>
#include <optional>

#include <boost/asio/ip/address.hpp>

namespace parley {

namespace ip = boost::asio::ip;

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<ip::address> ParseAddress(std::string_view text) {
  boost::system::error_code ec;
  ip::address a = ip::make_address(std::string(Trim(text)), ec);
  if (ec) return std::nullopt;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  }
  return a;
}

}  // namespace

StatusOr<TrustedProxies> TrustedProxies::Parse(const std::vector<std::string>& cidrs) {
  TrustedProxies t;
  for (const std::string& c : cidrs) {
    boost::system::error_code ec;
    if (c.find('/') == std::string::npos) {
      auto a = ParseAddress(c);
      if (!a) return Status::InvalidArgument("http.trusted_proxies: bad address " + c);
      if (a->is_v4()) {
        t.v4_.push_back(ip::network_v4(a->to_v4(), 32));
      } else {
        t.v6_.push_back(ip::network_v6(a->to_v6(), 128));
      }
      continue;
    }
    if (c.find(':') == std::string::npos) {
      auto n = ip::make_network_v4(c, ec);
      // Host bits set ("10.0.0.1/8") is most likely a typo: refused.
      if (ec || n != n.canonical()) {
        return Status::InvalidArgument("http.trusted_proxies: bad network " + c);
      }
      t.v4_.push_back(n);
    } else {
      auto n = ip::make_network_v6(c, ec);
      if (ec || n != n.canonical()) {
        return Status::InvalidArgument("http.trusted_proxies: bad network " + c);
      }
      t.v6_.push_back(n);
    }
  }
  return t;
}

bool TrustedProxies::Contains(std::string_view address) const {
  auto a = ParseAddress(address);
  if (!a) return false;
  if (a->is_v4()) {
    ip::network_v4 host(a->to_v4(), 32);
    return std::any_of(v4_.begin(), v4_.end(),
                       [&](const auto& n) { return host == n || host.is_subnet_of(n); });
  }
  ip::network_v6 host(a->to_v6(), 128);
  return std::any_of(v6_.begin(), v6_.end(),
                     [&](const auto& n) { return host == n || host.is_subnet_of(n); });
}

std::string ClientAddress(const std::string& peer, std::string_view x_forwarded_for,
                          const TrustedProxies& trusted) {
  if (trusted.empty() || x_forwarded_for.empty() || !trusted.Contains(peer)) return peer;
  // Right to left: the nearest hop first.
  std::string leftmost;
  std::string_view rest = x_forwarded_for;
  while (!rest.empty()) {
    size_t comma = rest.rfind(',');
    std::string_view entry = Trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    auto a = ParseAddress(entry);
    // What a trusted proxy wrote is well formed; anything else was the client's.
    if (!a) return leftmost.empty() ? peer : leftmost;
    leftmost = a->to_string();
    if (!trusted.Contains(leftmost)) return leftmost;
  }
  return leftmost.empty() ? peer : leftmost;
}

std::string NetworkKey(const std::string& address, unsigned ipv4_prefix, unsigned ipv6_prefix) {
  auto a = ParseAddress(address);
  if (!a) return address;
  if (a->is_v4()) {
    ip::network_v4 n(a->to_v4(), std::min(ipv4_prefix, 32u));
    return n.canonical().to_string();
  }
  ip::network_v6 n(a->to_v6(), std::min(ipv6_prefix, 128u));
  return n.canonical().to_string();
}

}  // namespace parley
