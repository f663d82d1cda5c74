// LogicWorld: the embedded world for tests of the logic tier. Real SQLite
// store and message log (the log behind a fault-injecting wrapper), memory
// presence, the embedded state seams, one recording connect node, and any
// number of Logic facades ("nodes") over the same seams, the way a cluster's
// logic processes share Redis and MariaDB. A "check" consumer group reads
// everything appended to the log, so tests see exactly what was made durable.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "connect/direct_connect_directory.h"
#include "connect/testing/recording_connect_node.h"
#include "logic/logic.h"
#include "presence/memory/memory_presence.h"
#include "queue/sqlite/sqlite_message_log.h"
#include "queue/testing/fault_injecting_message_log.h"
#include "state/embedded/cached_group_directory.h"
#include "state/embedded/cached_session_store.h"
#include "state/embedded/embedded_auth_rate_limits.h"
#include "state/embedded/embedded_idempotency_store.h"
#include "state/embedded/memory_recent_window.h"
#include "state/embedded/memory_sequence_allocator.h"
#include "store/sqlite/sqlite_store.h"
#include "support/test_util.h"

namespace parley::logic::testing {

using parley::testing::Wait;

inline Options TestOptions() {
  Options o;
  o.password_hash_cost = "min";
  o.rate.send_per_sec = 100'000;
  o.rate.send_burst = 100'000;
  o.rate.auth_per_sec = 100'000;
  o.rate.auth_burst = 100'000;
  o.rate.read_per_sec = 100'000;
  o.rate.read_burst = 100'000;
  o.rate.sync_per_sec = 100'000;
  o.rate.sync_burst = 100'000;
  o.rate.group_create_per_sec = 100'000;
  o.rate.group_create_burst = 100'000;
  o.rate.group_add_per_sec = 100'000;
  o.rate.group_add_burst = 100'000;
  return o;
}

class LogicWorld {
 public:
  static constexpr const char* kNode = "n1";
  static constexpr uint64_t kEpoch = 1;

  explicit LogicWorld(Options options = TestOptions())
      : options_(std::move(options)), work_(io_.get_executor()) {
    store_ = std::move(store::SqliteStore::Open(dir_.path() + "/s.db", options_.storage)).value();
    sqlite_log_ =
        std::move(queue::SqliteMessageLog::Open(dir_.path() + "/l.db", options_.storage, clock_))
            .value();
    log_ = std::make_unique<queue::FaultInjectingMessageLog>(sqlite_log_.get());
    sent_ = std::make_unique<state::EmbeddedIdempotencyStore>(
        *store_, options_.storage.idempotency_ttl_ms, options_.storage.idempotency_cache_max);
    sessions_ = std::make_unique<state::CachedSessionStore>(*store_, 10'000);
    groups_ = std::make_unique<state::CachedGroupDirectory>(*store_, 10'000);
    connects_.Attach(node_, kEpoch);
    sqlite_log_->Subscribe("check", 1024, false, [this](std::vector<queue::LogEntry> entries) {
      std::vector<uint64_t> offsets;
      std::lock_guard lock(mu_);
      for (auto& e : entries) {
        offsets.push_back(e.offset);
        logged_.push_back(std::move(e.message));
      }
      sqlite_log_->Ack("check", offsets);
    });
    thread_ = std::thread([this] { io_.run(); });
    AddNode();
  }
  ~LogicWorld() {
    sqlite_log_->Close();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // Another logic facade over the same seams (`auth_limits`: other auth
  // buckets than the world's).
  Logic& AddNode(Options* options = nullptr, state::AuthRateLimits* auth_limits = nullptr) {
    LogicDeps deps{options ? *options : options_,
                   clock_,
                   *store_,
                   *log_,
                   presence_,
                   connects_,
                   metrics_,
                   seqs_,
                   *sent_,
                   *sessions_,
                   *groups_,
                   recent_,
                   auth_limits ? *auth_limits : auth_limits_};
    nodes_.push_back(std::move(Logic::Create(io_.get_executor(), deps)).value());
    return *nodes_.back();
  }
  Logic& node(int i = 0) { return *nodes_.at(i); }

  uint64_t Register(const std::string& name, int n = 0) {
    rpc::RegisterRequest req;
    req.set_username(name);
    req.set_password("password123");
    auto r = Wait<rpc::RegisterReply>([&](auto cb) { node(n).Register({}, req, cb); });
    EXPECT_EQ(r.error().code(), rpc::OK) << r.error().message();
    return r.user().user_id();
  }
  // A caller with a fresh session of `name`.
  CallContext Login(const std::string& name, int n = 0) {
    rpc::LoginRequest req;
    req.set_username(name);
    req.set_password("password123");
    auto r = Wait<rpc::LoginReply>([&](auto cb) { node(n).Login({}, req, cb); });
    EXPECT_EQ(r.error().code(), rpc::OK) << r.error().message();
    CallContext ctx;
    ctx.token = r.token();
    return ctx;
  }
  // The caller as a socket sees itself after Connect: user and session key.
  CallContext Socket(const CallContext& login, uint64_t conn_id, int n = 0) {
    rpc::ConnectRequest req;
    req.set_node_id(kNode);
    req.set_node_epoch(kEpoch);
    req.set_conn_id(conn_id);
    auto r = Wait<rpc::ConnectReply>([&](auto cb) { node(n).Connect(login, req, cb); });
    EXPECT_EQ(r.error().code(), rpc::OK) << r.error().message();
    CallContext ctx;
    ctx.user_id = r.user_id();
    ctx.session_key = r.session_key();
    ctx.origin_node = kNode;
    ctx.origin_conn = conn_id;
    return ctx;
  }

  static rpc::SendRequest Message(const std::string& client_id, uint64_t to_user,
                                  const std::string& body, uint64_t to_group = 0) {
    rpc::SendRequest req;
    req.set_client_id(client_id);
    req.set_to_user(to_user);
    req.set_to_group(to_group);
    req.set_body(body);
    return req;
  }
  rpc::SendBatchReply SendBatch(const CallContext& ctx, std::vector<rpc::SendRequest> reqs,
                                int n = 0) {
    rpc::SendBatch batch;
    for (auto& r : reqs) *batch.add_requests() = std::move(r);
    return Wait<rpc::SendBatchReply>([&](auto cb) { node(n).Send(ctx, batch, cb); });
  }
  rpc::SendReply Send(const CallContext& ctx, const std::string& client_id, uint64_t to_user,
                      const std::string& body, uint64_t to_group = 0, int n = 0) {
    auto r = SendBatch(ctx, {Message(client_id, to_user, body, to_group)}, n);
    EXPECT_EQ(r.replies_size(), 1);
    return r.replies_size() == 1 ? r.replies(0) : rpc::SendReply();
  }
  rpc::GroupReply CreateGroup(const CallContext& ctx, std::vector<uint64_t> members, int n = 0) {
    rpc::CreateGroupRequest req;
    req.set_name("team");
    for (uint64_t m : members) req.add_members(m);
    return Wait<rpc::GroupReply>([&](auto cb) { node(n).CreateGroup(ctx, req, cb); });
  }
  rpc::SyncReply Sync(const CallContext& ctx, const std::string& conv, uint64_t after_seq,
                      int n = 0) {
    rpc::SyncRequest req;
    req.set_conv(conv);
    req.set_has_after(true);
    req.set_after_seq(after_seq);
    req.set_limit(200);
    return Wait<rpc::SyncReply>([&](auto cb) { node(n).Sync(ctx, req, cb); });
  }

  // Everything appended to the log so far, once at least `n` entries are in
  // (the log delivers on its own thread).
  std::vector<rpc::ChatMessage> Logged(size_t n) {
    for (int i = 0; i < 10'000; ++i) {
      {
        std::lock_guard lock(mu_);
        if (logged_.size() >= n) return logged_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ADD_FAILURE() << "the log did not deliver " << n << " entries";
    std::lock_guard lock(mu_);
    return logged_;
  }

  Options& options() { return options_; }
  ManualClock& clock() { return clock_; }
  Metrics& metrics() { return metrics_; }
  store::SqliteStore& store() { return *store_; }
  queue::FaultInjectingMessageLog& log() { return *log_; }
  presence::MemoryPresence& presence() { return presence_; }
  connect::testing::RecordingConnectNode& connect() { return *node_; }

 private:
  parley::testing::TempDir dir_;
  Options options_;
  ManualClock clock_{1'800'000'000'000};
  Metrics metrics_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<queue::SqliteMessageLog> sqlite_log_;
  std::unique_ptr<queue::FaultInjectingMessageLog> log_;
  presence::MemoryPresence presence_;
  std::shared_ptr<connect::testing::RecordingConnectNode> node_ =
      std::make_shared<connect::testing::RecordingConnectNode>();
  connect::DirectConnectDirectory connects_{kNode};
  state::MemorySequenceAllocator seqs_;
  state::EmbeddedAuthRateLimits auth_limits_{clock_, options_.rate};
  state::MemoryRecentWindow recent_{256, 10'000, options_.storage.recent_conv_max_bytes,
                                    options_.storage.recent_max_bytes};
  std::unique_ptr<state::EmbeddedIdempotencyStore> sent_;
  std::unique_ptr<state::CachedSessionStore> sessions_;
  std::unique_ptr<state::CachedGroupDirectory> groups_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::vector<std::unique_ptr<Logic>> nodes_;

  std::mutex mu_;
  std::vector<rpc::ChatMessage> logged_;  // guarded by mu_
};

}  // namespace parley::logic::testing
