// RedisClient against a real redis-server (testing/redis_server.h).
#include "redis/redis_client.h"

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "redis/testing/redis_server.h"
#include "support/test_util.h"

namespace parley::redis {
namespace {

using parley::testing::Wait;
using testing::RedisServer;

class RedisClientTest : public ::testing::Test {
 protected:
  RedisClientTest() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~RedisClientTest() override {
    for (auto& c : clients_) c->Close();
    clients_.clear();
    work_.reset();
    thread_.join();
  }

  std::shared_ptr<RedisClient> NewClient(ClientOptions options = {}) {
    options.port = redis_.port();
    auto client = RedisClient::Create(io_.get_executor(), options);
    clients_.push_back(client);
    return client;
  }

  static StatusOr<Reply> Run(RedisClient& c, std::vector<std::string> args) {
    return Wait<StatusOr<Reply>>([&](auto cb) { c.Command(std::move(args), cb); });
  }
  static Status PingOf(RedisClient& c) {
    return Wait<Status>([&](auto cb) { c.Ping(cb); });
  }
  // Polls Ping until it succeeds (at most 10 s).
  static bool EventuallyServes(RedisClient& c) {
    for (int i = 0; i < 200; ++i) {
      if (PingOf(c).ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  RedisServer redis_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::vector<std::shared_ptr<RedisClient>> clients_;
};

TEST_F(RedisClientTest, RunsCommandsAndReturnsEachReplyType) {
  auto c = NewClient();
  ASSERT_OK(PingOf(*c));
  auto set = Run(*c, {"SET", "k", "v"});
  ASSERT_OK(set.status());
  EXPECT_EQ(set->type, Reply::Type::kStatus);
  EXPECT_EQ(set->str, "OK");
  auto get = Run(*c, {"GET", "k"});
  EXPECT_EQ(get->type, Reply::Type::kString);
  EXPECT_EQ(get->str, "v");
  EXPECT_TRUE(Run(*c, {"GET", "absent"})->is_nil());
  auto incr = Run(*c, {"INCRBY", "n", "41"});
  EXPECT_EQ(incr->type, Reply::Type::kInteger);
  EXPECT_EQ(incr->integer, 41);
  ASSERT_OK(Run(*c, {"RPUSH", "list", "a", "b"}).status());
  auto range = Run(*c, {"LRANGE", "list", "0", "-1"});
  ASSERT_EQ(range->type, Reply::Type::kArray);
  ASSERT_EQ(range->elements.size(), 2u);
  EXPECT_EQ(range->elements[1].str, "b");
}

TEST_F(RedisClientTest, ValuesAreBinarySafe) {
  auto c = NewClient();
  const std::string value("a\0b\r\n$3\r\n\xff", 10);
  const std::string key("k\0\n", 3);
  ASSERT_OK(Run(*c, {"SET", key, value}).status());
  EXPECT_EQ(Run(*c, {"GET", key})->str, value);
}

TEST_F(RedisClientTest, ARedisErrorIsAnErrorReplyNotAFailedStatus) {
  auto c = NewClient();
  ASSERT_OK(Run(*c, {"SET", "k", "not a number"}).status());
  auto r = Run(*c, {"INCR", "k"});
  ASSERT_OK(r.status());
  EXPECT_TRUE(r->is_error());
  EXPECT_TRUE(r->str.starts_with("ERR")) << r->str;
  auto unknown = Run(*c, {"NO-SUCH-COMMAND"});
  ASSERT_OK(unknown.status());
  EXPECT_TRUE(unknown->is_error());
  // The connection goes on.
  EXPECT_EQ(Run(*c, {"GET", "k"})->str, "not a number");
}

TEST_F(RedisClientTest, PipelineReturnsOneReplyPerCommandInOrder) {
  auto c = NewClient();
  auto replies = Wait<StatusOr<std::vector<Reply>>>([&](auto cb) {
    c->Pipeline({{"SET", "a", "1"}, {"INCR", "a"}, {"HSET", "a", "f", "v"}, {"GET", "a"}}, cb);
  });
  ASSERT_OK(replies.status());
  ASSERT_EQ(replies->size(), 4u);
  EXPECT_EQ((*replies)[0].str, "OK");
  EXPECT_EQ((*replies)[1].integer, 2);
  EXPECT_TRUE((*replies)[2].is_error());  // WRONGTYPE: one reply, not a failed pipeline
  EXPECT_EQ((*replies)[3].str, "2");
  auto empty = Wait<StatusOr<std::vector<Reply>>>([&](auto cb) { c->Pipeline({}, cb); });
  ASSERT_OK(empty.status());
  EXPECT_TRUE(empty->empty());
}

TEST_F(RedisClientTest, CommandsFromOneThreadKeepTheirOrder) {
  auto c = NewClient();
  constexpr int kN = 2000;
  // Shared with the callbacks: the last one may still be unlocking `mu`
  // when the test body, woken by `all`, returns.
  struct Replies {
    std::mutex mu;
    std::vector<int64_t> got;
    std::promise<void> all;
  };
  auto replies = std::make_shared<Replies>();
  for (int i = 0; i < kN; ++i) {
    c->Command({"INCR", "counter"}, [replies](StatusOr<Reply> r) {
      std::lock_guard lock(replies->mu);
      replies->got.push_back(r.ok() ? r->integer : -1);
      if (replies->got.size() == kN) replies->all.set_value();
    });
  }
  ASSERT_EQ(replies->all.get_future().wait_for(std::chrono::seconds(10)),
            std::future_status::ready);
  std::lock_guard lock(replies->mu);
  for (int i = 0; i < kN; ++i) ASSERT_EQ(replies->got[i], i + 1);
}

TEST_F(RedisClientTest, EvalFallsBackToEvalAfterTheScriptCacheIsFlushed) {
  auto c = NewClient();
  Script script("return KEYS[1] .. '=' .. ARGV[1]");
  auto loaded = Run(*c, {"SCRIPT", "LOAD", script.body()});
  EXPECT_EQ(loaded->str, script.sha1()) << "Script computes Redis' own SHA-1";
  auto eval = [&](std::string k, std::string a) {
    return Wait<StatusOr<Reply>>([&](auto cb) { c->Eval(script, {k}, {a}, cb); });
  };
  EXPECT_EQ(eval("a", "0")->str, "a=0");
  ASSERT_OK(Run(*c, {"SCRIPT", "FLUSH"}).status());
  ASSERT_OK(Run(*c, {"CONFIG", "RESETSTAT"}).status());
  auto r = eval("k", "1");  // NOSCRIPT, then EVAL
  ASSERT_OK(r.status());
  EXPECT_EQ(r->str, "k=1");
  EXPECT_NE(Run(*c, {"INFO", "commandstats"})->str.find("cmdstat_eval:calls=1,"), std::string::npos)
      << "fell back to EVAL";
  EXPECT_EQ(eval("x", "2")->str, "x=2");  // now cached: EVALSHA
  auto exists = Run(*c, {"SCRIPT", "EXISTS", script.sha1()});
  EXPECT_EQ(exists->elements.at(0).integer, 1);
  // A script's own error stays an error reply.
  Script failing("return redis.error_reply('BOOM no')");
  auto err = Wait<StatusOr<Reply>>([&](auto cb) { c->Eval(failing, {}, {}, cb); });
  ASSERT_OK(err.status());
  EXPECT_TRUE(err->is_error());
  EXPECT_EQ(err->str, "BOOM no");
}

TEST_F(RedisClientTest, FailsFastWhileRedisIsDownAndReconnectsAfterARestart) {
  ClientOptions o;
  o.reconnect_min_ms = 20;
  o.reconnect_max_ms = 200;
  auto c = NewClient(o);
  Script script("return redis.call('GET', KEYS[1])");
  ASSERT_OK(Run(*c, {"SET", "k", "durable"}).status());
  ASSERT_EQ(Wait<StatusOr<Reply>>([&](auto cb) { c->Eval(script, {"k"}, {}, cb); })->str,
            "durable");
  redis_.Kill();
  // The loss is seen at the next read; from then on commands fail at once.
  Status s = PingOf(*c);
  for (int i = 0; i < 100 && s.ok(); ++i) s = PingOf(*c);
  EXPECT_EQ(s.code(), Code::kUnavailable);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Run(*c, {"GET", "k"}).status().code(), Code::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));

  redis_.Restart();
  ASSERT_TRUE(EventuallyServes(*c));
  EXPECT_EQ(Run(*c, {"GET", "k"})->str, "durable") << "appendfsync always kept it";
  // The script cache died with the server; the script still runs (reloaded
  // after the reconnect, or by the NOSCRIPT fallback if the reload is still
  // on its way), and is in the cache afterwards.
  EXPECT_EQ(Wait<StatusOr<Reply>>([&](auto cb) { c->Eval(script, {"k"}, {}, cb); })->str,
            "durable");
  EXPECT_EQ(Run(*c, {"SCRIPT", "EXISTS", script.sha1()})->elements.at(0).integer, 1);
}

TEST_F(RedisClientTest, StartsWhileRedisIsDownAndConnectsOnceItIsUp) {
  redis_.Kill();
  ClientOptions o;
  o.reconnect_min_ms = 20;
  o.reconnect_max_ms = 100;
  auto c = NewClient(o);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(PingOf(*c).code(), Code::kUnavailable);
  redis_.Restart();
  EXPECT_TRUE(EventuallyServes(*c));
}

TEST_F(RedisClientTest, ACommandThatTimesOutFailsAndTheClientRecovers) {
  ClientOptions o;
  o.command_timeout_ms = 200;
  auto c = NewClient(o);
  ASSERT_OK(PingOf(*c));
  auto start = std::chrono::steady_clock::now();
  // BLPOP blocks for 2 s: longer than the timeout.
  auto r = Run(*c, {"BLPOP", "nothing", "2"});
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().message();
  EXPECT_GE(took, std::chrono::milliseconds(200));
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  EXPECT_TRUE(EventuallyServes(*c));
}

TEST_F(RedisClientTest, PendingCommandsAreBounded) {
  ClientOptions o;
  o.max_pending = 2;
  auto c = NewClient(o);
  ASSERT_OK(PingOf(*c));
  std::promise<Status> first, second;
  c->Command({"BLPOP", "q", "0.3"}, [&](StatusOr<Reply> r) { first.set_value(r.status()); });
  c->Command({"BLPOP", "q", "0.3"}, [&](StatusOr<Reply> r) { second.set_value(r.status()); });
  auto third = Run(*c, {"PING"});
  EXPECT_EQ(third.status().code(), Code::kUnavailable);
  EXPECT_OK(first.get_future().get());
  EXPECT_OK(second.get_future().get());
  EXPECT_OK(PingOf(*c));
}

TEST_F(RedisClientTest, CloseFailsWhatIsInFlightAndEverythingAfter) {
  auto c = NewClient();
  ASSERT_OK(PingOf(*c));
  std::promise<Status> blocked;
  c->Command({"BLPOP", "q", "3"}, [&](StatusOr<Reply> r) { blocked.set_value(r.status()); });
  c->Close();
  auto f = blocked.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_EQ(f.get().code(), Code::kUnavailable);
  EXPECT_EQ(PingOf(*c).code(), Code::kUnavailable);
}

TEST(RedisAuthTest, AuthenticatesWithThePassword) {
  RedisServer redis({"--requirepass", "s3cret"});
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread t([&] { io.run(); });
  {
    ClientOptions o;
    o.port = redis.port();
    auto none = RedisClient::Create(io.get_executor(), o);
    o.password = "s3cret";
    auto good = RedisClient::Create(io.get_executor(), o);
    auto ok = Wait<StatusOr<Reply>>([&](auto cb) { good->Command({"SET", "k", "v"}, cb); });
    ASSERT_OK(ok.status());
    EXPECT_FALSE(ok->is_error());
    auto denied = Wait<StatusOr<Reply>>([&](auto cb) { none->Command({"GET", "k"}, cb); });
    ASSERT_OK(denied.status());
    EXPECT_TRUE(denied->is_error());
    EXPECT_TRUE(denied->str.starts_with("NOAUTH")) << denied->str;
  }
  work.reset();
  t.join();
}

TEST(ParseAddressTest, ParsesHostAndPort) {
  auto v4 = ParseAddress("127.0.0.1:6380");
  ASSERT_OK(v4.status());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 6380);
  auto v6 = ParseAddress("[::1]:7000");
  ASSERT_OK(v6.status());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
  auto name = ParseAddress("redis.local:6379");
  ASSERT_OK(name.status());
  EXPECT_EQ(name->host, "redis.local");
  for (const char* bad : {"", "host", ":6379", "host:", "host:0", "host:65536", "host:12x",
                          "::1:6379", "[::1]6379", "[::1]"}) {
    EXPECT_FALSE(ParseAddress(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace parley::redis
