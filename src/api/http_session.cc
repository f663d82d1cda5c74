#include "api/http_session.h"

#include <chrono>
#include <exception>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "common/logging.h"

namespace parley::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Bytes and time a closing connection spends reading what the client still
// sends, so that our error response is not lost to a TCP reset.
constexpr size_t kLingerBytes = 1024 * 1024;
constexpr auto kLingerTime = std::chrono::seconds(2);

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string RequestIdOf(const Request& req) {
  auto it = req.find("X-Request-Id");
  if (it != req.end() && IsSaneRequestId(it->value())) return std::string(it->value());
  return NewRequestId();
}

// The path of a target for a logfmt line: no query (it may carry a token),
// and nothing that would break the line.
std::string LoggablePath(std::string_view target) {
  target = target.substr(0, target.find('?'));
  if (target.empty()) return "-";
  std::string out;
  out.reserve(target.size());
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool IsWebSocketPath(std::string_view target) {
  target = target.substr(0, target.find('?'));
  return target == "/ws";
}

bool ExpectsContinue(const Request& req) {
  auto it = req.find(http::field::expect);
  if (it == req.end()) return false;
  std::string_view v = it->value();
  return beast::iequals(v, "100-continue");
}

bool IsHttpParseError(const boost::system::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// Every X-Forwarded-For field, in order, as one list: a client may send its
// own field ahead of the one its proxy appends to.
std::string ForwardedFor(const Request& req) {
  std::string all;
  auto [it, end] = req.equal_range("X-Forwarded-For");
  for (; it != end; ++it) {
    if (!all.empty()) all += ',';
    all += std::string_view(it->value());
  }
  return all;
}

std::string ClientIp(const asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return {};
  asio::ip::address address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

}  // namespace

HttpSession::HttpSession(asio::ip::tcp::socket socket, std::shared_ptr<SessionContext> context)
    : executor_(socket.get_executor()),
      stream_(std::move(socket)),
      context_(std::move(context)),
      client_ip_(ClientIp(stream_.socket())) {}

HttpSession::~HttpSession() {
  std::lock_guard lock(context_->mu);
  context_->sessions.erase(this);
}

void HttpSession::Start() {
  {
    std::lock_guard lock(context_->mu);
    context_->sessions.emplace(this, weak_from_this());
  }
  asio::co_spawn(
      executor_, [self = shared_from_this()] { return self->Run(); },
      [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("event=http_session_failed error=\"{}\"", ex.what());
        }
      });
}

void HttpSession::Stop() {
  asio::post(executor_, [self = shared_from_this()] {
    self->stop_ = true;
    if (!self->handed_off_ && self->idle_ && self->buffer_.size() == 0) self->stream_.cancel();
  });
}

asio::awaitable<void> HttpSession::Run() {
  const auto timeout = std::chrono::milliseconds(context_->options.conn.http_idle_timeout_ms);
  Metrics& metrics = context_->metrics;
  const Clock& clock = context_->clock;
  for (;;) {
    if (stop_ || context_->stopping.load()) break;
    http::request_parser<http::string_body> parser;
    parser.body_limit(context_->options.limits.request_body_max);

    stream_.expires_after(timeout);
    idle_ = true;
    auto [ec, n] = co_await http::async_read_header(stream_, buffer_, parser, kTuple);
    idle_ = false;
    if (!ec && !parser.is_done()) {
      if (ExpectsContinue(parser.get())) {
        http::response<http::empty_body> go_on{http::status::continue_, 11};
        stream_.expires_after(timeout);
        std::tie(ec, n) = co_await http::async_write(stream_, go_on, kTuple);
      }
      if (!ec) {
        stream_.expires_after(timeout);
        std::tie(ec, n) = co_await http::async_read(stream_, buffer_, parser, kTuple);
      }
    }
    int64_t start_ns = clock.MonotonicNs();
    if (ec) {
      const Request& partial = parser.get();
      std::string method(partial.method_string());
      if (ec == http::error::body_limit) {
        co_await RejectAndClose(
            context_->handlers.Error(
                {Code::kPayloadTooLarge,
                 "request body over the limit of " +
                     std::to_string(context_->options.limits.request_body_max) + " bytes"}),
            RequestIdOf(partial), method, LoggablePath(partial.target()), start_ns);
      } else if (IsHttpParseError(ec)) {
        co_await RejectAndClose(
            context_->handlers.Error(
                Status::InvalidArgument("malformed HTTP request: " + ec.message())),
            RequestIdOf(partial), method, LoggablePath(partial.target()), start_ns);
      }
      break;  // closed, reset, timed out or stopped: nothing to answer
    }

    Request req = parser.release();
    std::string request_id = RequestIdOf(req);
    std::string method(req.method_string());
    std::string path = LoggablePath(req.target());
    metrics.http_requests.Inc();

    // Behind a trusted proxy the client is in X-Forwarded-For; otherwise the
    // header is the client's own and ignored.
    const std::string client_ip =
        ClientAddress(client_ip_, ForwardedFor(req), context_->trusted_proxies);
    if (IsWebSocketPath(req.target()) && beast::websocket::is_upgrade(req)) {
      req.set("X-Request-Id", request_id);  // so the connect tier logs the same rid
      // What the connect tier is told: the client as found here, never what
      // the client wrote (ws_proxy appends this hop in cluster mode).
      req.set("X-Forwarded-For", client_ip);
      stream_.expires_never();
      handed_off_ = true;
      {
        std::lock_guard lock(context_->mu);
        context_->sessions.erase(this);
      }
      context_->upgrades.Upgrade(std::move(stream_), std::move(req), std::move(buffer_));
      metrics.http_latency.ObserveNs(clock.MonotonicNs() - start_ns);
      spdlog::info("event=http_upgrade method={} path={} ms={:.3f} rid={}", method, path,
                   static_cast<double>(clock.MonotonicNs() - start_ns) / 1e6, request_id);
      co_return;
    }

    RequestContext request_context{request_id, client_ip};
    Response res;
    bool failed = false;
    try {
      res = co_await context_->handlers.Handle(req, request_context);
    } catch (const std::exception& ex) {
      spdlog::error("event=http_handler_failed rid={} path={} error=\"{}\"", request_id, path,
                    ex.what());
      failed = true;
    }
    if (failed) res = context_->handlers.Error(Status::Internal("handler failed"));

    res.version(req.version());
    res.keep_alive(req.keep_alive() && !stop_ && !context_->stopping.load());
    res.set(http::field::server, "parley");
    res.set("X-Request-Id", request_id);
    SetSecurityHeaders(res);
    res.prepare_payload();
    if (req.method() == http::verb::head) {
      // Same headers as GET (Content-Length included), no body.
      auto length = res.body().size();
      res.body().clear();
      if (res.result() != http::status::not_modified) res.content_length(length);
    }

    stream_.expires_after(timeout);
    auto [wec, wn] = co_await http::async_write(stream_, res, kTuple);
    metrics.http_latency.ObserveNs(clock.MonotonicNs() - start_ns);
    Log(method, path, res.result_int(), start_ns, request_id);
    if (wec) break;
    if (!res.keep_alive()) {
      co_await LingeringClose();
      co_return;
    }
  }
  boost::system::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.close();
}

asio::awaitable<void> HttpSession::RejectAndClose(Response res, const std::string& request_id,
                                                  const std::string& method,
                                                  const std::string& path, int64_t start_ns) {
  context_->metrics.http_requests.Inc();
  res.keep_alive(false);
  res.set(http::field::server, "parley");
  res.set("X-Request-Id", request_id);
  SetSecurityHeaders(res);
  res.prepare_payload();
  stream_.expires_after(std::chrono::milliseconds(context_->options.conn.http_idle_timeout_ms));
  auto [ec, n] = co_await http::async_write(stream_, res, kTuple);
  context_->metrics.http_latency.ObserveNs(context_->clock.MonotonicNs() - start_ns);
  Log(method.empty() ? "-" : method, path, res.result_int(), start_ns, request_id);
  if (!ec) co_await LingeringClose();
}

asio::awaitable<void> HttpSession::LingeringClose() {
  boost::system::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (!ec) {
    stream_.expires_after(kLingerTime);
    char sink[16 * 1024];
    size_t total = 0;
    while (total < kLingerBytes) {
      auto [rec, n] = co_await stream_.async_read_some(asio::buffer(sink), kTuple);
      if (rec) break;
      total += n;
    }
  }
  stream_.close();
}

void HttpSession::Log(const std::string& method, const std::string& path, unsigned status,
                      int64_t start_ns, const std::string& request_id) const {
  spdlog::info("event=http method={} path={} status={} ms={:.3f} rid={}", method, path, status,
               static_cast<double>(context_->clock.MonotonicNs() - start_ns) / 1e6, request_id);
}

}  // namespace parley::api
