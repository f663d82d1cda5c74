#include "api/ws_proxy.h"

#include <spdlog/spdlog.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

#include "common/json_error.h"

namespace parley::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Retry-After (seconds) of a refused upgrade, as the connect node answers.
constexpr int kRefusedRetryAfterS = 5;

// "ws://127.0.0.1:9001/ws" -> "127.0.0.1:9001"; empty when unusable.
std::string HostPortOf(const std::string& ws_url) {
  auto url = boost::urls::parse_uri(ws_url);
  if (!url || url->host().empty()) return "";
  std::string port =
      url->port().empty() ? (url->scheme() == "wss" ? "443" : "80") : std::string(url->port());
  return std::string(url->encoded_host()) + ":" + port;
}

// One proxied WebSocket: the client's socket and the connect node's, and a
// buffer for each direction. Owned by its own pending operations, which all
// complete on the tunnel's strand (the client socket's: HttpSession hands
// over a socket bound to a strand of its own): the two directions' loops and
// Close() never touch the sockets at once.
class Tunnel : public std::enable_shared_from_this<Tunnel> {
 public:
  Tunnel(beast::tcp_stream client, http::request<http::string_body> request,
         beast::flat_buffer leftover, std::vector<std::string> targets,
         const WsProxy::Options& options, std::shared_ptr<ConnectionLimiter> limiter)
      : strand_(client.get_executor()),
        limiter_(std::move(limiter)),
        client_(std::move(client)),
        upstream_(strand_),
        request_(std::move(request)),
        leftover_(std::move(leftover)),
        targets_(std::move(targets)),
        options_(options),
        up_buf_(options.buffer_bytes),
        down_buf_(options.buffer_bytes),
        stall_(strand_) {}

  void Start() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->Begin(); });
  }

 private:
  void Begin() {
    // HttpSession has put the client's address there (resolved through
    // trusted proxies); the TCP peer only when nothing did.
    std::string address(request_["X-Forwarded-For"]);
    if (address.empty()) {
      boost::system::error_code ec;
      auto remote = client_.socket().remote_endpoint(ec);
      if (!ec) address = remote.address().to_string();
    }
    auto admission = limiter_->Admit(address, !address.empty());
    if (!admission.ok()) {
      spdlog::info("event=ws_proxy_refused client={} code={} msg=\"{}\"", address,
                   CodeName(admission.status().code()), admission.status().message());
      return Refuse(admission.status());
    }
    lease_ = std::move(admission).value();
    if (!address.empty()) request_.set("X-Forwarded-For", address);
    TryNext();
  }

  template <typename Handler>
  auto OnStrand(Handler&& h) {
    return asio::bind_executor(strand_, std::forward<Handler>(h));
  }

  void TryNext() {
    if (attempt_ >= targets_.size() || attempt_ >= options_.attempts) {
      return Refuse(Status::Unavailable("no connect node is reachable"));
    }
    const std::string target = targets_[attempt_++];
    auto colon = target.rfind(':');
    boost::system::error_code ec;
    auto address = asio::ip::make_address(target.substr(0, colon), ec);
    if (ec || colon == std::string::npos) return TryNext();
    uint16_t port = static_cast<uint16_t>(std::stoi(target.substr(colon + 1)));
    boost::system::error_code ignored;
    upstream_.socket().close(ignored);  // a failed earlier attempt's
    upstream_.expires_after(std::chrono::milliseconds(options_.connect_timeout_ms));
    upstream_.async_connect(tcp::endpoint(address, port), [self = shared_from_this(),
                                                           target](boost::system::error_code ec) {
      if (ec) {
        spdlog::warn("event=ws_proxy_connect_failed target={} error=\"{}\"", target, ec.message());
        return self->TryNext();
      }
      self->upstream_.expires_never();
      self->SendRequest();
    });
  }

  void SendRequest() {
    http::async_write(upstream_, request_,
                      OnStrand([self = shared_from_this()](boost::system::error_code ec, size_t) {
                        if (ec) return self->TryNext();
                        self->SendLeftover();
                      }));
  }

  // Bytes the api read past the request (a client that pipelined its first
  // frame) belong to the upstream.
  void SendLeftover() {
    if (leftover_.size() == 0) return Pump();
    asio::async_write(upstream_, leftover_.data(),
                      OnStrand([self = shared_from_this()](boost::system::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->leftover_.consume(self->leftover_.size());
                        self->Pump();
                      }));
  }

  void Pump() {
    client_.expires_never();
    Copy(client_, upstream_, up_buf_);
    Copy(upstream_, client_, down_buf_);
  }

  void Copy(beast::tcp_stream& from, beast::tcp_stream& to, std::vector<char>& buf) {
    from.async_read_some(asio::buffer(buf), [self = shared_from_this(), &from, &to, &buf](
                                                boost::system::error_code ec, size_t n) {
      if (ec) return self->Close();
      // A client that does not read (though it may send) is cut off after
      // write_stall_timeout_ms without progress, as a connect node would: the
      // tunnel's buffers are bounded, but the kernel's are not small. A timer
      // of its own, not the stream's expiry: that would also arm the
      // client's read whenever it is between two reads, and cut a healthy
      // tunnel write_stall_timeout_ms later.
      const bool to_client = &to == &self->client_;
      if (to_client) self->ArmStallTimer();
      asio::async_write(to, asio::buffer(buf.data(), n),
                        [self, &from, &to, &buf, to_client](boost::system::error_code ec, size_t) {
                          if (to_client) self->DisarmStallTimer();
                          if (ec) return self->Close();
                          self->Copy(from, to, buf);
                        });
    });
  }

  void ArmStallTimer() {
    if (options_.write_stall_timeout_ms == 0) return;
    const uint64_t armed = ++stall_generation_;
    stall_.expires_after(std::chrono::milliseconds(options_.write_stall_timeout_ms));
    stall_.async_wait([self = shared_from_this(), armed](boost::system::error_code ec) {
      // A newer write re-armed it, or this write finished meanwhile.
      if (ec || armed != self->stall_generation_) return;
      spdlog::info("event=ws_proxy_slow_client stall_ms={}", self->options_.write_stall_timeout_ms);
      self->Close();
    });
  }

  void DisarmStallTimer() {
    if (options_.write_stall_timeout_ms == 0) return;
    ++stall_generation_;
    stall_.cancel();
  }

  void Close() {
    boost::system::error_code ignored;
    stall_.cancel();
    client_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    client_.socket().close(ignored);
    upstream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    upstream_.socket().close(ignored);
  }

  void Refuse(const Status& status) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(HttpStatus(status.code())), request_.version());
    res->set(http::field::content_type, "application/json");
    res->set(http::field::connection, "close");
    res->set(http::field::retry_after, std::to_string(kRefusedRetryAfterS));
    res->body() = ErrorBody(status);
    res->prepare_payload();
    http::async_write(
        client_, *res,
        [self = shared_from_this(), res](boost::system::error_code, size_t) { self->Close(); });
  }

  asio::any_io_executor strand_;
  // Declared before the sockets: given back after they are closed.
  std::shared_ptr<ConnectionLimiter> limiter_;
  ConnectionLimiter::Lease lease_;
  beast::tcp_stream client_;
  beast::tcp_stream upstream_;
  http::request<http::string_body> request_;
  beast::flat_buffer leftover_;
  std::vector<std::string> targets_;
  const WsProxy::Options options_;
  size_t attempt_ = 0;
  std::vector<char> up_buf_;
  std::vector<char> down_buf_;
  // Times the write in progress to the client; stall_generation_ tells a
  // wait that outlived its write (cancelled too late) from the current one.
  asio::steady_timer stall_;
  uint64_t stall_generation_ = 0;
};

}  // namespace

WsProxy::WsProxy(discovery::Discovery& discovery, Options options)
    : options_(options),
      limiter_(std::make_shared<ConnectionLimiter>(ConnectionLimiter::Caps{
          // A tunnel holds two descriptors: the client's and the upstream's.
          .total = ConnectionLimiter::CapByOpenFiles(options.tunnels_max, 2),
          .per_key = options.tunnels_per_ip_max})) {
  watch_ = discovery.WatchRole("connect", [this](std::vector<discovery::NodeInfo> nodes) {
    std::vector<std::string> targets;
    for (const auto& n : nodes) {
      std::string hp = n.ws_address.empty() ? HostPortOf(n.ws_url) : n.ws_address;
      if (!hp.empty()) targets.push_back(std::move(hp));
    }
    std::lock_guard lock(mu_);
    targets_ = std::move(targets);
  });
}

WsProxy::~WsProxy() { watch_.reset(); }

std::vector<std::string> WsProxy::Targets() const {
  std::lock_guard lock(mu_);
  return targets_;
}

void WsProxy::Upgrade(beast::tcp_stream stream, http::request<http::string_body> request,
                      beast::flat_buffer buffer) {
  auto targets = Targets();
  // Alternate between the two least loaded nodes: loads reach discovery
  // only every few seconds, and a burst of connections between two reports
  // would otherwise all land on one node.
  if (targets.size() > 1 && (next_.fetch_add(1, std::memory_order_relaxed) & 1)) {
    std::swap(targets[0], targets[1]);
  }
  std::make_shared<Tunnel>(std::move(stream), std::move(request), std::move(buffer),
                           std::move(targets), options_, limiter_)
      ->Start();
}

}  // namespace parley::api
