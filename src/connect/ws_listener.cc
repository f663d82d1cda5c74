#include "connect/ws_listener.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "common/json_error.h"
#include "common/listen.h"

namespace parley::connect {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response JsonResponse(http::status status, unsigned version, std::string body) {
  Response res{status, version};
  res.set(http::field::server, "parley");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

Response ErrorResponse(const Status& status, unsigned version) {
  return JsonResponse(static_cast<http::status>(HttpStatus(status.code())), version,
                      ErrorBody(status));
}

}  // namespace

struct WsListener::Shared {
  Shared(asio::any_io_executor executor, const Options& options, UpgradeHandler* upgrades,
         Metrics& metrics, ReadyCheck ready)
      : acceptor(asio::make_strand(executor)),
        options(options),
        upgrades(upgrades),
        metrics(metrics),
        ready(std::move(ready)) {}

  tcp::acceptor acceptor;  // used on its own strand
  const Options options;
  UpgradeHandler* const upgrades;  // null: an admin port
  Metrics& metrics;
  const ReadyCheck ready;
  std::atomic<bool> stopping{false};
};

namespace {

// Constant time in the token's length: the admin token is a secret.
bool HasBearer(const Request& req, const std::string& token) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  std::string_view value = it->value();
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() != kScheme.size() + token.size() ||
      !beast::iequals(value.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  unsigned char diff = 0;
  for (size_t i = 0; i < token.size(); ++i) {
    diff |= static_cast<unsigned char>(value[kScheme.size() + i] ^ token[i]);
  }
  return diff == 0;
}

// The answer to a request that is not an upgrade.
asio::awaitable<Response> Answer(const WsListener::Shared& shared, const Request& req) {
  Metrics& metrics = shared.metrics;
  const bool admin = shared.upgrades == nullptr;
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  const bool read_only = req.method() == http::verb::get || req.method() == http::verb::head;
  if (path == "/healthz" && read_only) {
    co_return JsonResponse(http::status::ok, req.version(), R"({"status":"ok"})");
  }
  const bool guarded = admin && (path == "/readyz" || path == "/metrics");
  if (guarded && read_only && !shared.options.admin_token.empty() &&
      !HasBearer(req, shared.options.admin_token)) {
    metrics.errors.Inc(Code::kUnauthenticated);
    Response res = ErrorResponse(Status::Unauthenticated("admin token required"), req.version());
    res.set(http::field::www_authenticate, "Bearer");
    co_return res;
  }
  if (path == "/readyz" && read_only) {
    Status status = co_await Await<Status>([&](auto cb) { shared.ready(std::move(cb)); });
    if (!status.ok()) {
      // Always 503: whatever went wrong, the caller should retry elsewhere.
      // Clients get no reason (it may quote the store); the admin port does.
      metrics.errors.Inc(Code::kUnavailable);
      if (!admin) spdlog::warn("event=not_ready reason=\"{}\"", status.message());
      co_return ErrorResponse(Status::Unavailable(admin ? status.message() : "not ready"),
                              req.version());
    }
    co_return JsonResponse(http::status::ok, req.version(), R"({"status":"ready"})");
  }
  if (path == "/metrics" && read_only && admin) {
    Response res{http::status::ok, req.version()};
    res.set(http::field::server, "parley");
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.set(http::field::cache_control, "no-store");
    res.body() = metrics.Render();
    co_return res;
  }
  if (path == "/ws" && !admin) {
    metrics.errors.Inc(Code::kInvalidArgument);
    co_return ErrorResponse(Status::InvalidArgument("/ws expects a WebSocket upgrade"),
                            req.version());
  }
  metrics.errors.Inc(Code::kNotFound);
  co_return ErrorResponse(Status::NotFound("no such endpoint"), req.version());
}

asio::awaitable<void> Serve(std::shared_ptr<WsListener::Shared> shared, beast::tcp_stream stream) {
  beast::flat_buffer buffer;
  const auto idle =
      std::chrono::milliseconds(std::max<uint32_t>(shared->options.conn.http_idle_timeout_ms, 1));
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(shared->options.limits.request_body_max);
    stream.expires_after(idle);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (ec) co_return;  // closed, timed out or malformed: nothing to answer
    Request req = parser.release();
    std::string_view target = req.target();
    if (shared->upgrades != nullptr && target.substr(0, target.find('?')) == "/ws" &&
        beast::websocket::is_upgrade(req)) {
      stream.expires_never();
      shared->upgrades->Upgrade(std::move(stream), std::move(req), std::move(buffer));
      co_return;
    }
    shared->metrics.http_requests.Inc();
    Response res = co_await Answer(*shared, req);
    // An admin port closes after each answer: a scrape every few seconds
    // needs no keep-alive, and an idle one would hold up shutdown.
    const bool keep_alive =
        shared->upgrades != nullptr && req.keep_alive() && !shared->stopping.load();
    res.keep_alive(keep_alive);
    res.prepare_payload();
    stream.expires_after(idle);
    auto [wec, written] = co_await http::async_write(stream, res, kTuple);
    if (wec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

WsListener::WsListener(asio::any_io_executor executor, const Options& options,
                       UpgradeHandler& upgrades, Metrics& metrics, ReadyCheck ready)
    : WsListener(std::move(executor), options, &upgrades, metrics, std::move(ready)) {}

std::unique_ptr<WsListener> WsListener::Admin(asio::any_io_executor executor,
                                              const Options& options, Metrics& metrics,
                                              ReadyCheck ready) {
  return std::unique_ptr<WsListener>(
      new WsListener(std::move(executor), options, nullptr, metrics, std::move(ready)));
}

WsListener::WsListener(asio::any_io_executor executor, const Options& options,
                       UpgradeHandler* upgrades, Metrics& metrics, ReadyCheck ready)
    : executor_(executor),
      shared_(std::make_shared<Shared>(std::move(executor), options, upgrades, metrics,
                                       std::move(ready))) {}

WsListener::~WsListener() { StopAccepting(); }

Status WsListener::Listen(const std::string& host_port) {
  StatusOr<tcp::endpoint> endpoint = ResolveListenAddress(host_port, executor_);
  if (!endpoint.ok()) return endpoint.status();
  tcp::acceptor& acceptor = shared_->acceptor;
  if (Status s = OpenAcceptor(acceptor, *endpoint, host_port); !s.ok()) return s;
  boost::system::error_code ec;
  port_ = acceptor.local_endpoint(ec).port();
  if (ec) return Status::Unavailable("local_endpoint " + host_port + ": " + ec.message());
  spdlog::info("event=ws_listen address={} port={}", host_port, port_);
  return Status::Ok();
}

void WsListener::Start() {
  if (port_ == 0) return;
  auto shared = shared_;
  auto executor = executor_;
  asio::co_spawn(
      shared->acceptor.get_executor(),
      [shared, executor]() -> asio::awaitable<void> {
        for (;;) {
          // Each connection gets a strand of its own: the io_context may be
          // run by several threads.
          auto [ec, socket] =
              co_await shared->acceptor.async_accept(asio::make_strand(executor), kTuple);
          if (ec) {
            if (!shared->acceptor.is_open()) co_return;
            spdlog::warn("event=ws_accept_failed err=\"{}\"", ec.message());
            continue;
          }
          auto strand = socket.get_executor();
          asio::co_spawn(strand, Serve(shared, beast::tcp_stream(std::move(socket))),
                         asio::detached);
        }
      },
      asio::detached);
}

void WsListener::StopAccepting() {
  if (shared_->stopping.exchange(true)) return;
  asio::post(shared_->acceptor.get_executor(), [shared = shared_] {
    boost::system::error_code ignored;
    shared->acceptor.close(ignored);
  });
}

}  // namespace parley::connect
