// One accepted TCP connection on the public port, speaking HTTP/1.1 with
// keep-alive: reads a request, answers it, and waits for the next, one at a
// time, on the connection's strand. A WebSocket upgrade of /ws is handed with
// the socket to the UpgradeHandler, and the session ends.
//
// Lifetime: owned by its own coroutine (shared_from_this); it lives exactly
// as long as the connection is served. Every read and write has a timeout
// (ConnectionOptions::http_idle_timeout_ms).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "api/api_handlers.h"
#include "common/client_address.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/options.h"
#include "connect/ws_upgrade_handler.h"

namespace parley::api {

class HttpSession;

// What every session of one server shares. Thread-safe: the registry is
// guarded by `mu`; the rest is immutable or thread-safe itself.
struct SessionContext {
  SessionContext(const Options& options, logic::LogicService& logic,
                 discovery::Discovery& discovery, StaticFiles static_files,
                 connect::UpgradeHandler& upgrades, Metrics& metrics, const Clock& clock)
      : options(options),
        handlers(options, logic, discovery, metrics, clock, std::move(static_files)),
        upgrades(upgrades),
        metrics(metrics),
        clock(clock) {}

  const Options options;
  const ApiHandlers handlers;
  connect::UpgradeHandler& upgrades;
  Metrics& metrics;
  const Clock& clock;
  // Options' http.trusted_proxies, parsed; set before the first session.
  TrustedProxies trusted_proxies;
  // Set once by HttpServer::StopAccepting(): no more keep-alive.
  std::atomic<bool> stopping{false};

  std::mutex mu;
  std::unordered_map<const HttpSession*, std::weak_ptr<HttpSession>> sessions;  // guarded by mu
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // `socket` must be bound to a strand of its own: the session runs there.
  HttpSession(boost::asio::ip::tcp::socket socket, std::shared_ptr<SessionContext> context);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // Registers with the context and starts serving. Call once.
  void Start();
  // Thread-safe. Closes the connection at once when it is waiting for a
  // request, else after the response to the current one.
  void Stop();

 private:
  boost::asio::awaitable<void> Run();
  // Writes `res` (an error), then closes gracefully.
  boost::asio::awaitable<void> RejectAndClose(Response res, const std::string& request_id,
                                              const std::string& method, const std::string& path,
                                              int64_t start_ns);
  boost::asio::awaitable<void> LingeringClose();
  void Log(const std::string& method, const std::string& path, unsigned status, int64_t start_ns,
           const std::string& request_id) const;

  boost::asio::any_io_executor executor_;  // the strand; copied so Stop() never touches stream_
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<SessionContext> context_;
  std::string client_ip_;  // the TCP peer; the client is found per request (proxies)
  // State below is touched only on executor_.
  bool idle_ = false;        // waiting for the first byte of a request
  bool stop_ = false;        // Stop() was called
  bool handed_off_ = false;  // stream_ belongs to the UpgradeHandler
};

}  // namespace parley::api
