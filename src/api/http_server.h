// The public port: one listener serving the HTTP API, /ws upgrades (handed to
// the UpgradeHandler), /healthz, /readyz (ready or not, no reason) and the web
// client's files. /metrics is not served here: see options.admin_listen.
//
// Call Listen() and Start() from one thread before StopAccepting(); the rest
// runs on `executor` (a strand per connection, so any number of threads may
// run it). The referenced services must outlive every connection; the server
// itself may be destroyed first (destruction stops accepting).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/options.h"
#include "common/status.h"
#include "connect/ws_upgrade_handler.h"
#include "discovery/discovery.h"
#include "logic/logic_service.h"

namespace parley::api {

struct SessionContext;

class HttpServer {
 public:
  HttpServer(boost::asio::any_io_executor executor, const Options& options,
             logic::LogicService& logic, discovery::Discovery& discovery,
             connect::UpgradeHandler& upgrades, Metrics& metrics, const Clock& clock);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Loads the web client's files from options.web_root (none when it is empty
  // or missing), then binds and listens. "127.0.0.1:0" picks a free port;
  // "[::1]:8080" for IPv6. INVALID_ARGUMENT for a malformed address,
  // UNAVAILABLE when binding fails.
  Status Listen(const std::string& host_port);
  // The bound port; 0 before Listen() succeeds.
  uint16_t port() const { return port_; }
  // Starts accepting. Requires a successful Listen().
  void Start();
  // Closes the acceptor. Idle connections close at once; busy ones finish
  // their current request and then close. Idempotent.
  void StopAccepting();
  // HTTP connections still open (0 before Listen()). Thread-safe; after
  // StopAccepting() it only goes down, to 0 once every busy one answered.
  size_t open_connections() const;

 private:
  struct Listener;

  boost::asio::any_io_executor executor_;
  const Options options_;
  logic::LogicService& logic_;
  discovery::Discovery& discovery_;
  connect::UpgradeHandler& upgrades_;
  Metrics& metrics_;
  const Clock& clock_;
  uint16_t port_ = 0;
  std::shared_ptr<SessionContext> context_;  // set by Listen()
  std::shared_ptr<Listener> listener_;       // set by Listen()
};

}  // namespace parley::api
