#include "load/http_client.h"

#include <netinet/in.h>

#include <charconv>
#include <chrono>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

namespace parley::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::as_tuple;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTimeout = std::chrono::seconds(30);

Status FromHttpError(unsigned status, const std::string& body) {
  std::string code = "http_" + std::to_string(status);
  std::string message;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* e = v.get_object().if_contains("error"); e && e->is_object()) {
      if (auto* c = e->get_object().if_contains("code"); c && c->is_string()) {
        code = c->get_string().c_str();
      }
      if (auto* m = e->get_object().if_contains("message"); m && m->is_string()) {
        message = m->get_string().c_str();
      }
    }
  }
  std::string text = code + " (HTTP " + std::to_string(status) + ")";
  if (!message.empty()) text += ": " + message;
  switch (status) {
    case 400:
      return Status::InvalidArgument(text);
    case 401:
      return Status::Unauthenticated(text);
    case 403:
      return Status::PermissionDenied(text);
    case 404:
      return Status::NotFound(text);
    case 409:
      return Status::AlreadyExists(text);
    case 429:
      return Status::RateLimited(text);
    case 503:
      return Status::Unavailable(text);
    default:
      return Status::Internal(text);
  }
}

}  // namespace

HttpConnection::HttpConnection(asio::any_io_executor ex, tcp::endpoint server,
                               asio::ip::address source)
    : server_(server),
      source_(source),
      host_(server.address().to_string() + ":" + std::to_string(server.port())),
      stream_(std::in_place, ex) {}

asio::awaitable<boost::system::error_code> HttpConnection::Connect() {
  auto ex = stream_->get_executor();
  stream_.emplace(ex);
  buffer_.clear();
  boost::system::error_code ec;
  tcp::socket& s = stream_->socket();
  s.open(server_.protocol(), ec);
  if (!ec && !source_.is_unspecified()) {
    using BindNoPort = asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>;
    s.set_option(BindNoPort(true), ec);
    if (!ec) s.bind(tcp::endpoint(source_, 0), ec);
  }
  if (ec) co_return ec;
  stream_->expires_after(kTimeout);
  auto [cec] = co_await stream_->async_connect(server_, as_tuple(use_awaitable));
  if (!cec) stream_->socket().set_option(tcp::no_delay(true), ec);
  co_return cec;
}

asio::awaitable<StatusOr<HttpResult>> HttpConnection::Request(http::verb verb,
                                                              std::string_view target,
                                                              std::string_view body,
                                                              std::string_view token) {
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, host_);
  req.keep_alive(true);
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + std::string(token));
  if (!body.empty() || verb == http::verb::post) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();

  std::string last_error;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = stream_->socket().is_open();
    if (!reused) {
      if (auto ec = co_await Connect()) co_return Status::Unavailable("connect: " + ec.message());
    }
    stream_->expires_after(kTimeout);
    auto [wec, wn] = co_await http::async_write(*stream_, req, as_tuple(use_awaitable));
    http::response<http::string_body> res;
    boost::system::error_code rec;
    if (!wec) {
      auto [ec, n] = co_await http::async_read(*stream_, buffer_, res, as_tuple(use_awaitable));
      rec = ec;
    }
    boost::system::error_code err = wec ? wec : rec;
    if (err) {
      boost::system::error_code ignored;
      stream_->socket().close(ignored);
      last_error = err.message();
      if (reused) continue;  // the server may have closed an idle connection
      co_return Status::Unavailable("http: " + last_error);
    }
    HttpResult out;
    out.status = res.result_int();
    if (auto ra = res.find(http::field::retry_after); ra != res.end()) {
      std::string_view v = ra->value();
      int64_t seconds = 0;
      std::from_chars(v.data(), v.data() + v.size(), seconds);
      out.retry_after_ms = seconds * 1000;
    }
    out.body = std::move(res.body());
    if (!res.keep_alive()) {
      boost::system::error_code ignored;
      stream_->socket().close(ignored);
    }
    co_return out;
  }
  co_return Status::Unavailable("http: " + last_error);
}

asio::awaitable<StatusOr<json::object>> HttpConnection::Call(http::verb verb,
                                                             std::string_view target,
                                                             std::string_view body,
                                                             std::string_view token) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  for (;;) {
    StatusOr<HttpResult> r = co_await Request(verb, target, body, token);
    if (!r.ok()) co_return r.status();
    // 429, and 503 with Retry-After (the server's password hashers are
    // busy): the server asks to come back later, as a client would.
    const bool come_back = r->status == 429 || (r->status == 503 && r->retry_after_ms > 0);
    if (come_back && std::chrono::steady_clock::now() < deadline) {
      if (r->status == 429) ++rate_limited_;
      asio::steady_timer t(co_await asio::this_coro::executor);
      t.expires_after(std::chrono::milliseconds(std::max<int64_t>(r->retry_after_ms, 50)));
      co_await t.async_wait(as_tuple(use_awaitable));
      continue;
    }
    if (r->status < 200 || r->status > 299) co_return FromHttpError(r->status, r->body);
    if (r->body.empty()) co_return json::object();
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (ec || !v.is_object()) co_return Status::Internal("reply is not a JSON object: " + r->body);
    co_return std::move(v.get_object());
  }
}

asio::awaitable<Status> RunWorkers(
    const ServerTarget& target, uint32_t workers,
    std::function<asio::awaitable<Status>(size_t, HttpConnection&)> worker) {
  auto ex = co_await asio::this_coro::executor;
  struct Shared {
    size_t running = 0;
    Status first_error;
    asio::steady_timer done;
    explicit Shared(asio::any_io_executor e) : done(e) {}
  };
  auto shared = std::make_shared<Shared>(ex);
  shared->running = workers;
  for (size_t k = 0; k < workers; ++k) {
    asio::co_spawn(
        ex,
        [shared, &target, &worker, k, ex]() -> asio::awaitable<void> {
          HttpConnection conn(ex, target.server, target.Source(k));
          Status s = co_await worker(k, conn);
          if (!s.ok() && shared->first_error.ok()) shared->first_error = s;
          if (--shared->running == 0) shared->done.cancel();
        },
        asio::detached);
  }
  while (shared->running > 0) {
    shared->done.expires_after(std::chrono::hours(24));
    co_await shared->done.async_wait(as_tuple(use_awaitable));
  }
  co_return shared->first_error;
}

asio::awaitable<Status> ForEachBounded(
    const ServerTarget& target, uint32_t concurrency, size_t n,
    std::function<asio::awaitable<Status>(size_t, HttpConnection&)> job) {
  size_t next = 0;
  bool failed = false;
  uint32_t workers = static_cast<uint32_t>(std::min<size_t>(std::max<uint32_t>(concurrency, 1), n));
  co_return co_await RunWorkers(target, workers,
                                [&](size_t, HttpConnection& conn) -> asio::awaitable<Status> {
                                  while (!failed && next < n) {
                                    Status s = co_await job(next++, conn);
                                    if (!s.ok()) {
                                      failed = true;
                                      co_return s;
                                    }
                                  }
                                  co_return Status::Ok();
                                });
}

}  // namespace parley::bench
