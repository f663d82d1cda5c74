// Who a request comes from, for per-address limits: the client address behind
// trusted reverse proxies, and the network an address belongs to, so that one
// IPv6 /64 (what one subscriber usually holds) is one rate-limit bucket.
//
// Pure functions and an immutable set of networks: thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include "common/status.h"

namespace parley {

// The networks whose X-Forwarded-For is believed (http.trusted_proxies).
class TrustedProxies {
 public:
  TrustedProxies() = default;
  // CIDRs ("10.0.0.0/8", "::1/128") or single addresses; INVALID_ARGUMENT
  // naming the first that does not parse.
  static StatusOr<TrustedProxies> Parse(const std::vector<std::string>& cidrs);

  bool empty() const { return v4_.empty() && v6_.empty(); }
  bool Contains(std::string_view address) const;

 private:
  std::vector<boost::asio::ip::network_v4> v4_;
  std::vector<boost::asio::ip::network_v6> v6_;
};

// The client's address: `peer` (the TCP peer) unless it is a trusted proxy;
// then the rightmost address of `x_forwarded_for` that is not itself a
// trusted proxy (each proxy appends the address it saw, so addresses left of
// that are the client's to forge). When every listed address is trusted, the
// leftmost; when the header is missing or holds an unparsable entry where it
// is read, `peer`. IPv4-mapped IPv6 addresses are given as IPv4.
std::string ClientAddress(const std::string& peer, std::string_view x_forwarded_for,
                          const TrustedProxies& trusted);

// The rate-limit key of `address`: its network at the given prefix lengths
// ("2001:db8:1:2::/64", "192.0.2.7/32"). An unparsable address is its own key.
std::string NetworkKey(const std::string& address, unsigned ipv4_prefix, unsigned ipv6_prefix);

}  // namespace parley
