#include "common/listen.h"

#include <charconv>
#include <cstdint>

namespace parley {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

StatusOr<tcp::endpoint> ResolveListenAddress(const std::string& host_port,
                                             const asio::any_io_executor& executor) {
  const size_t colon = host_port.rfind(':');
  std::string host = colon == std::string::npos ? "" : host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    return Status::InvalidArgument("listen address must be host:port, got \"" + host_port + "\"");
  }
  const std::string port_text = host_port.substr(colon + 1);
  uint16_t port = 0;
  auto [end, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || perr != std::errc() || end != port_text.data() + port_text.size()) {
    return Status::InvalidArgument("bad port in listen address \"" + host_port + "\"");
  }
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, port);
  tcp::resolver resolver(executor);
  auto results = resolver.resolve(host, port_text, tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument("cannot resolve listen host \"" + host + "\"");
  }
  return results.begin()->endpoint();
}

Status OpenAcceptor(tcp::acceptor& acceptor, const tcp::endpoint& endpoint,
                    const std::string& label, bool share_port) {
  boost::system::error_code ec;
  auto fail = [&](const char* what) {
    return Status::Unavailable(std::string(what) + " " + label + ": " + ec.message());
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("reuse_address");
  if (share_port) {
    acceptor.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
    if (ec) return fail("reuse_port");
  }
  acceptor.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  return Status::Ok();
}

}  // namespace parley
