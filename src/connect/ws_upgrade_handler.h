// The /ws seam of the connect tier: an HTTP server that reads a request for
// the WebSocket endpoint hands it, with its socket, to an UpgradeHandler,
// which authenticates it and either completes the upgrade or answers with an
// HTTP error. Connect's own WsListener uses it; in embedded mode so does the
// api's HTTP server, which reaches the connect tier only through this
// interface (target parley_connect_upgrade, header only).
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace parley::connect {

class UpgradeHandler {
 public:
  virtual ~UpgradeHandler() = default;
  // Takes ownership of the stream. `request` is the upgrade request as read;
  // `buffer` holds any bytes read past it. Called on the stream's executor;
  // thread-safe.
  virtual void Upgrade(boost::beast::tcp_stream stream,
                       boost::beast::http::request<boost::beast::http::string_body> request,
                       boost::beast::flat_buffer buffer) = 0;
};

}  // namespace parley::connect
