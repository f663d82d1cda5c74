// The api tier's HTTP server accepts every connection on the one public port;
// a request for the WebSocket endpoint (/ws) is handed, with its socket, to
// the UpgradeHandler (the connect tier), which authenticates it and either
// completes the upgrade or answers with an HTTP error.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace parley::api {

class UpgradeHandler {
 public:
  virtual ~UpgradeHandler() = default;
  // Takes ownership of the stream. `request` is the upgrade request as read;
  // `buffer` holds any bytes read past it. Runs on the stream's executor.
  virtual void Upgrade(boost::beast::tcp_stream stream,
                       boost::beast::http::request<boost::beast::http::string_body> request,
                       boost::beast::flat_buffer buffer) = 0;
};

}  // namespace parley::api
