#include "load/server_target.h"

#include <charconv>

namespace parley::bench {

namespace asio = boost::asio;

StatusOr<ServerTarget> ParseServerTarget(const std::string& server, uint32_t source_ips) {
  size_t colon = server.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("--server wants host:port");
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(server.substr(0, colon), ec);
  unsigned port = 0;
  auto [p, err] = std::from_chars(server.data() + colon + 1, server.data() + server.size(), port);
  if (ec || err != std::errc() || p != server.data() + server.size() || port == 0 || port > 65535) {
    return Status::InvalidArgument("--server wants a numeric host:port, got " + server);
  }
  if (source_ips > 253) return Status::InvalidArgument("--source-ips is at most 253");
  ServerTarget t;
  t.server = asio::ip::tcp::endpoint(addr, static_cast<uint16_t>(port));
  for (uint32_t i = 0; i < source_ips; ++i) {
    t.sources.push_back(
        asio::ip::make_address_v4(asio::ip::address_v4::uint_type{0x7f000002u + i}));
  }
  return t;
}

}  // namespace parley::bench
