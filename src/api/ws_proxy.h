// WsProxy: the api processes' /ws in cluster mode. The public port belongs to
// the api tier; a WebSocket upgrade that arrives there is forwarded, request
// and all, to a live connect node (the least loaded one that discovery lists)
// and the bytes of both directions are then copied until either side closes.
// Clients that can reach connect nodes directly get their URLs from
// /api/v1/endpoints and skip this hop; the proxy is for clients that only
// know the public address (the web client, PROTOCOL.md's `/ws`).
//
// Upgrade() is thread-safe. A tunnel owns its sockets and a copy of the
// options, and lives until both sides closed, independently of the proxy.
// Every tunnel is bounded: it holds two fixed buffers, never more. Tunnels
// are capped in total and per client address (the api is the process that
// accepts the client's socket, so the per-IP cap is enforced here; connect
// nodes do not count the proxy's connections per IP): beyond a cap the
// upgrade is refused with the JSON error of PROTOCOL.md, 429 rate_limited
// (per IP) or 503 unavailable (in total), with Retry-After.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "common/connection_limiter.h"
#include "common/metrics.h"
#include "connect/ws_upgrade_handler.h"
#include "discovery/discovery.h"

namespace parley::api {

class WsProxy final : public connect::UpgradeHandler {
 public:
  struct Options {
    uint32_t connect_timeout_ms = 2'000;
    // Connect nodes tried for one upgrade before answering 503.
    uint32_t attempts = 3;
    // Bytes buffered per direction of a tunnel.
    uint32_t buffer_bytes = 16 * 1024;
    // Open tunnels in all, and from one client address (0: no cap); from
    // options.conn.ws_connections_max and ws_connections_per_ip_max.
    uint32_t tunnels_max = 50'000;
    uint32_t tunnels_per_ip_max = 256;
    // A write to the client that makes no progress for this long closes the
    // tunnel (0: never); from options.conn.write_stall_timeout_ms.
    uint32_t write_stall_timeout_ms = 20'000;
  };

  // Follows the live connect nodes of `discovery` (its watch ends with the
  // proxy).
  WsProxy(discovery::Discovery& discovery, Options options);
  ~WsProxy() override;

  void Upgrade(boost::beast::tcp_stream stream,
               boost::beast::http::request<boost::beast::http::string_body> request,
               boost::beast::flat_buffer buffer) override;

  // Live connect nodes' "host:port" of their /ws listener, least loaded
  // first (empty until discovery's first answer).
  std::vector<std::string> Targets() const;
  // Open tunnels (including ones still connecting upstream).
  uint32_t tunnels() const { return limiter_->total(); }

 private:
  const Options options_;
  // Shared with the tunnels, each of which holds a lease until it ends.
  std::shared_ptr<ConnectionLimiter> limiter_;
  mutable std::mutex mu_;
  std::vector<std::string> targets_;  // guarded by mu_
  std::atomic<uint64_t> next_{0};
  std::unique_ptr<discovery::Watch> watch_;
};

}  // namespace parley::api
