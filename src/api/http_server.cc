#include "api/http_server.h"

#include <cerrno>
#include <chrono>
#include <exception>
#include <filesystem>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/http_session.h"
#include "api/json_request.h"
#include "api/static_files.h"
#include "common/listen.h"

namespace parley::api {

namespace asio = boost::asio;
using asio::ip::tcp;

struct HttpServer::Listener {
  explicit Listener(asio::any_io_executor executor)
      : strand(asio::make_strand(executor)), acceptor(strand) {}
  asio::any_io_executor strand;  // the acceptor's; accept loop and close run here
  tcp::acceptor acceptor;
};

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

HttpServer::HttpServer(asio::any_io_executor executor, const Options& options,
                       logic::LogicService& logic, discovery::Discovery& discovery,
                       connect::UpgradeHandler& upgrades, Metrics& metrics, const Clock& clock)
    : executor_(std::move(executor)),
      options_(options),
      logic_(logic),
      discovery_(discovery),
      upgrades_(upgrades),
      metrics_(metrics),
      clock_(clock) {}

HttpServer::~HttpServer() { StopAccepting(); }

Status HttpServer::Listen(const std::string& host_port) {
  if (listener_) return Status::InvalidArgument("already listening");
  StatusOr<tcp::endpoint> endpoint = ResolveListenAddress(host_port, executor_);
  if (!endpoint.ok()) return endpoint.status();

  boost::system::error_code ec;
  StaticFiles files;
  if (options_.web_root.empty()) {
    spdlog::info("event=web_root_none serving=api_only");
  } else if (!std::filesystem::is_directory(options_.web_root, ec)) {
    spdlog::warn("event=web_root_missing path={} serving=api_only", options_.web_root);
  } else {
    StatusOr<StaticFiles> loaded = StaticFiles::Load(options_.web_root);
    if (!loaded.ok()) return loaded.status();
    files = std::move(loaded).value();
    spdlog::info("event=web_root_loaded path={} files={}", options_.web_root, files.size());
  }

  auto trusted = TrustedProxies::Parse(options_.http.trusted_proxies);
  if (!trusted.ok()) return trusted.status();

  auto listener = std::make_shared<Listener>(executor_);
  if (Status s = OpenAcceptor(listener->acceptor, *endpoint, host_port, options_.share_listen_port);
      !s.ok()) {
    return s;
  }
  port_ = listener->acceptor.local_endpoint(ec).port();
  if (ec) return Status::Unavailable("local_endpoint " + host_port + ": " + ec.message());

  context_ = std::make_shared<SessionContext>(options_, logic_, discovery_, std::move(files),
                                              upgrades_, metrics_, clock_);
  context_->trusted_proxies = std::move(trusted).value();
  listener_ = std::move(listener);
  spdlog::info("event=http_listen address={} port={}", host_port, port_);
  return Status::Ok();
}

void HttpServer::Start() {
  if (!listener_) return;
  auto listener = listener_;
  auto context = context_;
  auto executor = executor_;
  asio::co_spawn(
      listener->strand,
      [listener, context, executor]() -> asio::awaitable<void> {
        asio::steady_timer backoff(listener->strand);
        for (;;) {
          // Each connection gets a strand of its own.
          auto [ec, socket] = co_await listener->acceptor.async_accept(
              asio::any_io_executor(asio::make_strand(executor)), kTuple);
          if (!listener->acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
          if (ec) {
            // Out of file descriptors or a connection reset before accept:
            // back off briefly rather than spin.
            spdlog::warn("event=http_accept_error error=\"{}\"", ec.message());
            backoff.expires_after(std::chrono::milliseconds(50));
            co_await backoff.async_wait(kTuple);
            continue;
          }
          boost::system::error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);
          std::make_shared<HttpSession>(std::move(socket), context)->Start();
        }
      },
      [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          spdlog::error("event=http_accept_failed error=\"{}\"", ex.what());
        }
      });
}

size_t HttpServer::open_connections() const {
  if (!context_) return 0;
  std::lock_guard lock(context_->mu);
  return context_->sessions.size();
}

void HttpServer::StopAccepting() {
  if (!listener_) return;
  context_->stopping.store(true);
  asio::post(listener_->strand, [listener = listener_] {
    boost::system::error_code ignored;
    listener->acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<HttpSession>> sessions;
  {
    std::lock_guard lock(context_->mu);
    for (auto& [raw, weak] : context_->sessions) {
      if (auto s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  for (auto& s : sessions) s->Stop();
}

}  // namespace parley::api
