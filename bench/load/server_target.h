// Where parley-bench connects to, and from which local addresses.
#pragma once

#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "common/status.h"

namespace parley::bench {

struct ServerTarget {
  boost::asio::ip::tcp::endpoint server;
  // Source addresses, used round-robin; empty: the kernel chooses.
  std::vector<boost::asio::ip::address> sources;

  // The source for the n-th connection (unspecified when there are none).
  boost::asio::ip::address Source(size_t n) const {
    return sources.empty() ? boost::asio::ip::address() : sources[n % sources.size()];
  }
};

// `server` is "host:port" with a numeric IPv4 host; `source_ips` N gives
// 127.0.0.2 .. 127.0.0.(N+1).
StatusOr<ServerTarget> ParseServerTarget(const std::string& server, uint32_t source_ips);

}  // namespace parley::bench
