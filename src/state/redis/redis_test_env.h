// Test-only: what the Redis-backed state tests share. A real redis-server
// (no persistence: these tests do not restart it), a SqliteStore with four
// users in a temp dir, and an io_context thread that runs the Redis clients
// and the retry timers. Each test constructs its own.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "redis/redis_client.h"
#include "redis/testing/redis_server.h"
#include "state/redis/redis_state_options.h"
#include "store/sqlite/sqlite_store.h"
#include "support/test_util.h"

namespace parley::state::testing {

class RedisTestEnv {
 public:
  RedisTestEnv()
      : server_({"--appendonly", "no"}), work_(io_.get_executor()), thread_([this] { io_.run(); }) {
    parley::Options options;
    store_ = std::move(store::SqliteStore::Open(dir_.path() + "/s.db", options.storage)).value();
    for (int i = 0; i < 4; ++i) {
      auto u = parley::testing::Wait<StatusOr<store::UserRecord>>(
          [&](auto cb) { store_->CreateUser("user" + std::to_string(i), "hash", 1, cb); });
      users_.push_back(u->user_id);
    }
  }
  // Closing the clients fails whatever is still asked of Redis, which ends
  // every retry loop; the store's threads are joined before the io_context
  // goes (one may still be returning from a call into a client); then the
  // io_context runs out of work and its thread ends.
  ~RedisTestEnv() {
    for (auto& c : clients_) c->Close();
    clients_.clear();
    admin_.reset();
    store_.reset();
    work_.reset();
    thread_.join();
  }

  // A client of its own: another connection, as another node would have.
  std::shared_ptr<redis::RedisClient> NewClient() {
    redis::ClientOptions o;
    o.port = server_.port();
    clients_.push_back(redis::RedisClient::Create(io_.get_executor(), o));
    return clients_.back();
  }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }
  store::Store& store() { return *store_; }
  uint64_t User(int i) { return users_.at(i); }

  // Options for a node named `node`, with short timings so tests stay fast.
  static RedisStateOptions Options(std::string node = "n0") {
    RedisStateOptions o;
    o.key_prefix = "parley";
    o.node_id = std::move(node);
    o.lease_ttl_ms = 2'000;
    o.claim_ttl_ms = 2'000;
    return o;
  }

  // Runs one command on a client of the test's own and waits for the reply.
  redis::Reply Run(std::vector<std::string> command) {
    if (!admin_) admin_ = NewClient();
    auto r = parley::testing::Wait<StatusOr<redis::Reply>>(
        [&](auto cb) { admin_->Command(std::move(command), cb); });
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : redis::Reply{};
  }

  // Persists messages of `conv` with seqs lo..hi, as the persist consumer does.
  void Persist(const std::string& conv, uint64_t lo, uint64_t hi) {
    std::vector<rpc::ChatMessage> batch;
    for (uint64_t s = lo; s <= hi; ++s) {
      rpc::ChatMessage m;
      m.set_msg_id(std::hash<std::string>{}(conv) % 1'000'000 * 1000 + s);
      m.set_conv(conv);
      m.set_seq(s);
      m.set_from(User(0));
      m.set_body("m");
      m.set_ts(1'800'000'000'000);
      batch.push_back(std::move(m));
    }
    ASSERT_OK(parley::testing::Wait<Status>(
        [&](auto cb) { store_->AppendMessages(std::move(batch), cb); }));
  }

 private:
  redis::testing::RedisServer server_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  parley::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::vector<uint64_t> users_;
  std::vector<std::shared_ptr<redis::RedisClient>> clients_;
  std::shared_ptr<redis::RedisClient> admin_;
};

}  // namespace parley::state::testing
