// The whole of Parley in one process (`parley serve`): the four tiers wired
// in-process over SQLite, the in-memory presence and static discovery.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/options.h"
#include "common/status.h"

namespace parley::app {

class EmbeddedServer {
 public:
  explicit EmbeddedServer(Options options);
  ~EmbeddedServer();

  // Opens the data directory, replays the log into the store, starts every
  // tier and binds the listening port. Network threads run from here on.
  Status Start();
  // The bound port (after Start).
  uint16_t port() const;
  // Serves until SIGTERM or SIGINT, then shuts down gracefully: stops
  // accepting, closes WebSockets with 1001, flushes queues and the log, and
  // returns the process exit code.
  int Run();

 private:
  struct Parts;
  // Serves /metrics and the detailed /readyz on options.admin_listen.
  Status ServeAdmin();
  void Shutdown();

  Options options_;
  std::string address_;        // host:port actually bound (after Start)
  std::string admin_address_;  // same for the admin port; "" when off
  SystemClock clock_;
  Metrics metrics_;
  // The parts hold strands of io_, so they must go before it; Shutdown lets
  // io_ run out of work first, so no handler still points into the parts.
  boost::asio::io_context io_;
  std::unique_ptr<Parts> parts_;
  std::vector<std::thread> threads_;
};

}  // namespace parley::app
