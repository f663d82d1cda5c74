// Opening a listening TCP port from a "host:port" option, for every tier that
// serves one (the api's HTTP server, connect's WsListener). Thread-safe
// (stateless); blocking (a host name is resolved synchronously).
#pragma once

#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/status.h"

namespace parley {

// "127.0.0.1:8080", "[::1]:0" (port 0: any free one) or "name:port" (resolved
// on `executor`). INVALID_ARGUMENT when malformed or unresolvable.
StatusOr<boost::asio::ip::tcp::endpoint> ResolveListenAddress(
    const std::string& host_port, const boost::asio::any_io_executor& executor);

// Opens, binds (with SO_REUSEADDR) and listens on `endpoint`. UNAVAILABLE
// naming the failed step and `label` (the address as configured). With
// `share_port`, SO_REUSEPORT too: several processes (the api processes of a
// cluster) listen on one port and the kernel spreads connections over them.
Status OpenAcceptor(boost::asio::ip::tcp::acceptor& acceptor,
                    const boost::asio::ip::tcp::endpoint& endpoint, const std::string& label,
                    bool share_port = false);

}  // namespace parley
