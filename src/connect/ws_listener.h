// WsListener: an HTTP port of its own, in one of two kinds.
//  - A client port (the connect tier's, so that a standalone connect process
//    runs without the api's HTTP server): `GET /ws` upgrades (handed with
//    their socket to the UpgradeHandler, i.e. the ConnectNode), `/healthz`
//    and `/readyz` answering ready or a generic "not ready" (the reason is
//    logged, never sent: it may hold internals).
//  - An admin port (Admin()): `/healthz`, `/readyz` with the reason, and
//    `/metrics`; no WebSocket, no keep-alive. With options.admin_token set,
//    `/readyz` and `/metrics` answer 401 to a request without that bearer
//    token.
// Anything else is 404 with the JSON error body of PROTOCOL.md. In embedded
// mode the client kind is not used: the api's port hands /ws to the node.
//
// Call Listen() and Start() from one thread, then StopAccepting() from any;
// connections run on strands of `executor` (any number of threads may run
// it). `upgrades`, `metrics` and `ready`'s target must outlive every
// connection; the listener itself may be destroyed first (destruction stops
// accepting). A connection that is not upgraded is kept alive between
// requests for options.conn.http_idle_timeout_ms; after StopAccepting() it
// closes after its current request.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "common/callback.h"
#include "common/metrics.h"
#include "common/options.h"
#include "common/status.h"
#include "connect/ws_upgrade_handler.h"

namespace parley::connect {

class WsListener {
 public:
  // Answers /readyz: calls its argument with OK or why not ready.
  using ReadyCheck = std::function<void(Callback<Status>)>;

  // A client port.
  WsListener(boost::asio::any_io_executor executor, const Options& options,
             UpgradeHandler& upgrades, Metrics& metrics, ReadyCheck ready);
  // An admin port.
  static std::unique_ptr<WsListener> Admin(boost::asio::any_io_executor executor,
                                           const Options& options, Metrics& metrics,
                                           ReadyCheck ready);
  ~WsListener();
  WsListener(const WsListener&) = delete;
  WsListener& operator=(const WsListener&) = delete;

  // Binds and listens on "host:port" ("[::1]:0" for IPv6; port 0 picks a
  // free one; a host name is resolved). INVALID_ARGUMENT for a malformed
  // address, UNAVAILABLE when binding fails.
  Status Listen(const std::string& host_port);
  // The bound port; 0 before Listen() succeeds.
  uint16_t port() const { return port_; }
  // Starts accepting. Requires a successful Listen().
  void Start();
  // Closes the acceptor; idempotent.
  void StopAccepting();

  // Internal: what the acceptor and every connection share (ws_listener.cc).
  struct Shared;

 private:
  boost::asio::any_io_executor executor_;
  WsListener(boost::asio::any_io_executor executor, const Options& options,
             UpgradeHandler* upgrades, Metrics& metrics, ReadyCheck ready);

  std::shared_ptr<Shared> shared_;
  uint16_t port_ = 0;
};

}  // namespace parley::connect
