#include "app/embedded_server.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>

#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "api/http_server.h"
#include "app/block.h"
#include "common/thread_name.h"
#include "connect/connect_node.h"
#include "connect/direct_connect_directory.h"
#include "connect/ws_listener.h"
#include "discovery/memory/memory_discovery.h"
#include "logic/logic.h"
#include "presence/memory/memory_presence.h"
#include "queue/sqlite/sqlite_message_log.h"
#include "state/embedded/cached_group_directory.h"
#include "state/embedded/cached_session_store.h"
#include "state/embedded/embedded_auth_rate_limits.h"
#include "state/embedded/embedded_idempotency_store.h"
#include "state/embedded/memory_recent_window.h"
#include "state/embedded/memory_sequence_allocator.h"
#include "store/sqlite/sqlite_store.h"
#include "task/persist_consumer.h"
#include "task/push_consumer.h"

namespace parley::app {

namespace asio = boost::asio;

namespace {
constexpr const char* kNodeId = "local";
// Registrations in the in-process discovery never expire on their own; the
// TTL only has to be valid.
constexpr int64_t kRegistrationTtlMs = 10'000;

// The api's port hands /ws upgrades to the connect node, and the node is
// created only once the port is bound (its epoch comes from registering the
// bound address in discovery): this forwards to the node attached later.
class LateUpgradeHandler final : public connect::UpgradeHandler {
 public:
  void Attach(std::shared_ptr<connect::UpgradeHandler> target) { target_ = std::move(target); }
  void Upgrade(boost::beast::tcp_stream stream,
               boost::beast::http::request<boost::beast::http::string_body> request,
               boost::beast::flat_buffer buffer) override {
    target_->Upgrade(std::move(stream), std::move(request), std::move(buffer));
  }

 private:
  std::shared_ptr<connect::UpgradeHandler> target_;  // set before accepting starts
};
}  // namespace

struct EmbeddedServer::Parts {
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<queue::SqliteMessageLog> log;
  presence::MemoryPresence presence;
  std::unique_ptr<state::MemorySequenceAllocator> seqs;
  std::unique_ptr<state::EmbeddedIdempotencyStore> sent;
  std::unique_ptr<state::CachedSessionStore> sessions;
  std::unique_ptr<state::CachedGroupDirectory> groups;
  std::unique_ptr<state::MemoryRecentWindow> recent;
  std::unique_ptr<state::EmbeddedAuthRateLimits> auth_limits;
  std::unique_ptr<discovery::MemoryDiscovery> discovery;
  std::unique_ptr<discovery::Registration> registration;
  std::unique_ptr<connect::DirectConnectDirectory> directory;
  std::unique_ptr<logic::Logic> logic;
  LateUpgradeHandler upgrades;
  std::shared_ptr<connect::ConnectNode> connect;
  std::unique_ptr<api::HttpServer> http;
  std::unique_ptr<connect::WsListener> admin;  // null when options.admin_listen is ""
  std::unique_ptr<task::PersistConsumer> persist;
  std::unique_ptr<task::PushConsumer> push;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  explicit Parts(asio::io_context& io) : work(io.get_executor()) {}
  // The log's delivery thread calls into the consumers: stop it first.
  ~Parts() {
    if (log) log->Close();
  }
};

EmbeddedServer::EmbeddedServer(Options options) : options_(std::move(options)) {}

EmbeddedServer::~EmbeddedServer() {
  if (parts_) parts_->work.reset();
  io_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

uint16_t EmbeddedServer::port() const { return parts_ && parts_->http ? parts_->http->port() : 0; }

Status EmbeddedServer::Start() {
  namespace fs = std::filesystem;
  const std::string& dir = options_.storage.data_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create data directory " + dir + ": " + ec.message());

  parts_ = std::make_unique<Parts>(io_);
  Parts& p = *parts_;
  auto store = store::SqliteStore::Open((fs::path(dir) / "parley.db").string(), options_.storage);
  if (!store.ok()) return store.status();
  p.store = std::move(store).value();
  auto log =
      queue::SqliteMessageLog::Open((fs::path(dir) / "log.db").string(), options_.storage, clock_);
  if (!log.ok()) return log.status();
  p.log = std::move(log).value();

  for (uint32_t i = 0; i < std::max(1u, options_.threads); ++i) {
    threads_.emplace_back([this, i] {
      NameThisThread("net-" + std::to_string(i));
      io_.run();
    });
  }

  // Messages acknowledged before a crash may still be only in the log:
  // persist them before numbering anything new.
  p.persist = std::make_unique<task::PersistConsumer>(*p.log, *p.store, metrics_);
  p.persist->Start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (p.persist->Lag() > 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Unavailable("the message log did not drain into the store");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  // The state every logic facade shares, primed from the store, which now
  // holds everything the log held: seqs continue where they stopped, and a
  // resend of a message sent before the restart gets its first ack.
  auto last_seqs = Block<StatusOr<std::vector<std::pair<std::string, uint64_t>>>>(
      [&](auto cb) { p.store->LoadLastSeqs(cb); });
  if (!last_seqs.ok()) return last_seqs.status();
  size_t conversations = last_seqs->size();
  p.seqs = std::make_unique<state::MemorySequenceAllocator>(std::move(last_seqs).value());
  const StorageOptions& st = options_.storage;
  p.sent = std::make_unique<state::EmbeddedIdempotencyStore>(*p.store, st.idempotency_ttl_ms,
                                                             st.idempotency_cache_max);
  if (Status s = Block<Status>([&](auto cb) { p.sent->Prime(clock_.NowMs(), cb); }); !s.ok()) {
    return s;
  }
  p.sessions = std::make_unique<state::CachedSessionStore>(*p.store, st.session_cache_max);
  p.groups = std::make_unique<state::CachedGroupDirectory>(*p.store, st.group_cache_max,
                                                           st.group_cache_max_bytes);
  p.recent = std::make_unique<state::MemoryRecentWindow>(
      st.recent_per_conv, st.recent_convs_max, st.recent_conv_max_bytes, st.recent_max_bytes);
  p.auth_limits = std::make_unique<state::EmbeddedAuthRateLimits>(clock_, options_.rate);
  spdlog::info("event=state_primed conversations={} idempotency_records={}", conversations,
               p.sent->size());

  p.directory = std::make_unique<connect::DirectConnectDirectory>(kNodeId);
  auto logic = logic::Logic::Create(
      io_.get_executor(), {options_, clock_, *p.store, *p.log, p.presence, *p.directory, metrics_,
                           *p.seqs, *p.sent, *p.sessions, *p.groups, *p.recent, *p.auth_limits});
  if (!logic.ok()) return logic.status();
  p.logic = std::move(logic).value();

  p.discovery = std::make_unique<discovery::MemoryDiscovery>(io_.get_executor());
  p.http = std::make_unique<api::HttpServer>(io_.get_executor(), options_, *p.logic, *p.discovery,
                                             p.upgrades, metrics_, clock_);
  if (Status s = p.http->Listen(options_.listen); !s.ok()) return s;
  address_ =
      options_.listen.substr(0, options_.listen.rfind(':')) + ":" + std::to_string(p.http->port());
  std::string ws_url =
      options_.public_ws_url.empty() ? "ws://" + address_ + "/ws" : options_.public_ws_url;
  auto registration = Block<StatusOr<std::unique_ptr<discovery::Registration>>>([&](auto cb) {
    p.discovery->Register({kNodeId, "connect", address_, ws_url}, kRegistrationTtlMs, cb);
  });
  if (!registration.ok()) return registration.status();
  p.registration = std::move(registration).value();
  const uint64_t epoch = p.registration->node().epoch;

  p.connect = connect::ConnectNode::Create(io_.get_executor(), kNodeId, epoch, options_, *p.logic,
                                           metrics_, clock_);
  p.upgrades.Attach(p.connect);
  if (Status s = ServeAdmin(); !s.ok()) return s;
  p.directory->Attach(p.connect, epoch);
  p.push =
      std::make_unique<task::PushConsumer>(*p.log, *p.groups, p.presence, *p.directory, metrics_,
                                           io_.get_executor(), task::PushConsumer::Options{});
  p.push->Start();
  return Status::Ok();
}

Status EmbeddedServer::ServeAdmin() {
  const std::string& listen = options_.admin_listen;
  if (listen.empty()) return Status::Ok();
  Parts& p = *parts_;
  logic::Logic& logic = *p.logic;
  p.admin = connect::WsListener::Admin(
      io_.get_executor(), options_, metrics_,
      [&logic](Callback<Status> done) { logic.Ready(logic::CallContext{}, std::move(done)); });
  if (Status s = p.admin->Listen(listen); !s.ok()) {
    return Status(s.code(), "admin_listen: " + s.message() +
                                " (set admin_listen to another host:port, or to \"\" to turn "
                                "the admin endpoints off)");
  }
  admin_address_ = listen.substr(0, listen.rfind(':')) + ":" + std::to_string(p.admin->port());
  return Status::Ok();
}

int EmbeddedServer::Run() {
  Parts& p = *parts_;
  // Before the "listening" line: a SIGTERM sent as soon as it is read must
  // find the handler, not the default action.
  std::promise<void> stop;
  asio::signal_set signals(io_, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("event=shutdown signal={}", sig);
    stop.set_value();
  });
  p.http->Start();
  if (p.admin) {
    p.admin->Start();
    spdlog::info("event=admin_listening address={}", admin_address_);
    std::printf("parley admin (/metrics, /readyz) on http://%s\n", admin_address_.c_str());
  } else {
    std::printf("parley admin endpoints off (admin_listen is empty)\n");
  }
  spdlog::info("event=listening address={} data_dir={}", address_, options_.storage.data_dir);
  // Tools and tests wait for this exact line; the admin line comes before it.
  std::printf("parley listening on %s\n", address_.c_str());
  std::fflush(stdout);

  stop.get_future().wait();
  Shutdown();
  return 0;
}

void EmbeddedServer::Shutdown() {
  Parts& p = *parts_;
  p.http->StopAccepting();
  if (p.admin) p.admin->StopAccepting();
  Block<bool>([&](auto cb) { p.connect->Drain([cb] { cb(true); }); });
  // Let the consumers finish what is queued (bounded by the drain timeout);
  // anything left is durable in the log and replayed at the next start.
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.conn.drain_timeout_ms);
  while ((p.log->Lag(task::PersistConsumer::kGroup) > 0 ||
          p.log->Lag(task::PushConsumer::kGroup) > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  p.log->Close();
  p.logic->Stop();  // its purge timer would keep the io_context running
  // With every socket closed, the io_context runs out of work by itself;
  // letting it do so (rather than stopping it) runs the handlers still queued,
  // so none is left pointing into the parts when they are destroyed.
  p.work.reset();
  auto io_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!io_.stopped() && std::chrono::steady_clock::now() < io_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!io_.stopped()) spdlog::warn("event=shutdown_forced reason=\"work left after drain\"");
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  spdlog::info("event=stopped");
}

}  // namespace parley::app
