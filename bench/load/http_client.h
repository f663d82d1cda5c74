// HTTP/1.1 client for the set-up phase and the login scenario: one
// kept-alive connection per HttpConnection, and a bounded pool of them.
// Coroutine-based; single-threaded (one executor).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>

#include "common/status.h"
#include "load/server_target.h"

namespace parley::bench {

struct HttpResult {
  unsigned status = 0;
  std::string body;
  int64_t retry_after_ms = 0;  // from Retry-After (429, 503)
};

class HttpConnection {
 public:
  HttpConnection(boost::asio::any_io_executor ex, boost::asio::ip::tcp::endpoint server,
                 boost::asio::ip::address source);

  // One request on the kept-alive connection, (re)connecting when needed.
  // A request that fails on a reused connection is retried once on a fresh
  // one (the server may have closed it while idle). 30 s timeout.
  boost::asio::awaitable<StatusOr<HttpResult>> Request(boost::beast::http::verb verb,
                                                       std::string_view target,
                                                       std::string_view body,
                                                       std::string_view token);

  // A JSON call: 429 answers, and 503 answers with Retry-After, are retried
  // after Retry-After (up to a minute in all); any other non-2xx becomes a Status naming the error
  // code. The reply body parsed as an object (empty for 204).
  boost::asio::awaitable<StatusOr<boost::json::object>> Call(boost::beast::http::verb verb,
                                                             std::string_view target,
                                                             std::string_view body,
                                                             std::string_view token);

  // 429 answers seen by Call() (each retried).
  uint64_t rate_limited() const { return rate_limited_; }

 private:
  boost::asio::awaitable<boost::system::error_code> Connect();

  boost::asio::ip::tcp::endpoint server_;
  boost::asio::ip::address source_;
  std::string host_;
  std::optional<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
  uint64_t rate_limited_ = 0;
};

// Runs worker(k, connection) for k in [0, workers), each on its own
// connection (connection k uses target.Source(k)), all at once; returns the
// first error once all have finished.
boost::asio::awaitable<Status> RunWorkers(
    const ServerTarget& target, uint32_t workers,
    std::function<boost::asio::awaitable<Status>(size_t, HttpConnection&)> worker);

// Runs job(i, connection) for every i in [0, n) with at most `concurrency`
// jobs (and connections) at once. Returns the first error; jobs not yet
// started are then skipped.
boost::asio::awaitable<Status> ForEachBounded(
    const ServerTarget& target, uint32_t concurrency, size_t n,
    std::function<boost::asio::awaitable<Status>(size_t, HttpConnection&)> job);

}  // namespace parley::bench
