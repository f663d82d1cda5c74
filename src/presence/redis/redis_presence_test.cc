// RedisPresence runs the Presence contract suite against a real redis-server;
// beyond it: the per-user bound, where the records live, and that a node's
// departure is reclaimed through RemoveNode.
#include "presence/redis/redis_presence.h"

#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "presence/testing/presence_contract.h"
#include "redis/testing/redis_server.h"

namespace parley::presence {
namespace {

// A redis-server of its own (so presence() starts empty), and the io_context
// thread its client runs on.
class RedisEnv {
 public:
  RedisEnv()
      : server_({"--appendonly", "no"}), work_(io_.get_executor()), thread_([this] { io_.run(); }) {
    redis::ClientOptions o;
    o.port = server_.port();
    client_ = redis::RedisClient::Create(io_.get_executor(), o);
  }
  // Closing the client ends its work; then the io_context runs out of work.
  ~RedisEnv() {
    client_->Close();
    client_.reset();
    work_.reset();
    thread_.join();
  }
  std::shared_ptr<redis::RedisClient> client() { return client_; }
  redis::Reply Run(std::vector<std::string> command) {
    auto r = testing::Wait<StatusOr<redis::Reply>>(
        [&](auto cb) { client_->Command(std::move(command), cb); });
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : redis::Reply{};
  }

 private:
  redis::testing::RedisServer server_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::shared_ptr<redis::RedisClient> client_;
};

struct RedisPresenceHarness {
  Presence& presence() { return impl; }
  RedisEnv env;
  RedisPresence impl{env.client(), RedisPresenceOptions{}};
};
INSTANTIATE_TYPED_TEST_SUITE_P(Redis, PresenceContract, RedisPresenceHarness);

Connection Conn(uint64_t user, std::string node, uint64_t epoch, uint64_t conn) {
  return {.user_id = user, .node_id = std::move(node), .node_epoch = epoch, .conn_id = conn};
}

class RedisPresenceTest : public ::testing::Test {
 protected:
  Status Add(Presence& p, Connection c) {
    return testing::Wait<Status>([&](auto cb) { p.Add(std::move(c), cb); });
  }
  size_t Count(Presence& p, uint64_t user) {
    auto r = testing::Wait<StatusOr<std::vector<std::vector<Connection>>>>(
        [&](auto cb) { p.Lookup({user}, cb); });
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->at(0).size() : 0;
  }
  RedisEnv env_;
};

TEST_F(RedisPresenceTest, AUsersConnectionsAreBounded) {
  RedisPresenceOptions o;
  o.max_connections_per_user = 3;
  RedisPresence p(env_.client(), o);
  for (uint64_t c = 1; c <= 3; ++c) ASSERT_OK(Add(p, Conn(7, "n1", 1, c)));
  EXPECT_EQ(Add(p, Conn(7, "n1", 1, 4)).code(), Code::kRateLimited);
  EXPECT_OK(Add(p, Conn(7, "n1", 1, 2)));  // one already recorded is not one more
  EXPECT_EQ(Count(p, 7), 3u);
  ASSERT_OK(testing::Wait<Status>([&](auto cb) { p.Remove(Conn(7, "n1", 1, 1), cb); }));
  EXPECT_OK(Add(p, Conn(7, "n1", 1, 4)));
}

TEST_F(RedisPresenceTest, RecordsAndTheNodeIndexShareTheUsersPartitionAndLeaveNothingBehind) {
  RedisPresenceOptions o;
  o.partitions = 4;
  RedisPresence p(env_.client(), o);
  ASSERT_OK(Add(p, Conn(6, "n|1", 9, 3)));  // a node id may hold the separator
  EXPECT_EQ(env_.Run({"HEXISTS", "parley:{pr2}:presence:user:6", "n|1|9|3"}).integer, 1);
  EXPECT_EQ(env_.Run({"SISMEMBER", "parley:{pr2}:presence:node:n|1", "6|9|3"}).integer, 1);
  EXPECT_EQ(Count(p, 6), 1u);
  ASSERT_OK(testing::Wait<Status>([&](auto cb) { p.RemoveNode("n|1", 9, cb); }));
  EXPECT_EQ(Count(p, 6), 0u);
  EXPECT_EQ(env_.Run({"DBSIZE"}).integer, 0);  // no empty hash or index left
}

TEST_F(RedisPresenceTest, EpochsCompareAsNumbersBeyondDoublePrecision) {
  RedisPresence p(env_.client(), RedisPresenceOptions{});
  const uint64_t big = (uint64_t{1} << 60) + 1;
  ASSERT_OK(Add(p, Conn(7, "n1", big, 1)));
  ASSERT_OK(Add(p, Conn(7, "n1", 9, 2)));
  ASSERT_OK(testing::Wait<Status>([&](auto cb) { p.RemoveNode("n1", big - 1, cb); }));
  auto r = testing::Wait<StatusOr<std::vector<std::vector<Connection>>>>(
      [&](auto cb) { p.Lookup({7}, cb); });
  ASSERT_OK(r.status());
  EXPECT_EQ(r->at(0), std::vector{Conn(7, "n1", big, 1)});
}

TEST_F(RedisPresenceTest, RejectsBadInput) {
  RedisPresenceOptions o;
  o.max_lookup_users = 2;
  RedisPresence p(env_.client(), o);
  EXPECT_EQ(Add(p, Conn(7, "", 1, 1)).code(), Code::kInvalidArgument);
  auto r = testing::Wait<StatusOr<std::vector<std::vector<Connection>>>>([&](auto cb) {
    p.Lookup({1, 2, 3}, cb);
  });
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Validate(RedisPresenceOptions{.partitions = 0}).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace parley::presence
