// RedisMessageLog's own behaviour (beyond the MessageLog contract) against a
// real redis-server: the seq fence, the idempotency record, takeover of a
// stopped consumer's entries, trimming, durability across a Redis crash, and
// partition ownership.
#include "queue/redis/redis_message_log.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "parley/logic.pb.h"
#include "queue/redis/stream_offset.h"
#include "queue/testing/log_collector.h"
#include "queue/testing/log_messages.h"
#include "redis/partition.h"
#include "redis/redis_client.h"
#include "redis/testing/redis_server.h"
#include "support/test_util.h"

namespace parley::queue {
namespace {

using parley::testing::Wait;
using redis::Reply;

constexpr uint32_t kPartitions = 16;

rpc::ChatMessage Msg(std::string conv, uint64_t seq, uint64_t msg_id) {
  rpc::ChatMessage m = LogMsg(msg_id);
  m.set_conv(std::move(conv));
  m.set_seq(seq);
  return m;
}

class RedisMessageLogTest : public ::testing::Test {
 protected:
  RedisMessageLogTest() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {
    redis::ClientOptions o;
    o.port = redis_.port();
    client_ = redis::RedisClient::Create(io_.get_executor(), o);
  }
  ~RedisMessageLogTest() override {
    for (auto& log : logs_) log->Close();
    client_->Close();
    work_.reset();
    thread_.join();
  }

  RedisMessageLogOptions Options(std::string consumer = "node-1:1") {
    RedisMessageLogOptions o;
    o.redis.port = redis_.port();
    o.consumer = std::move(consumer);
    o.partitions = kPartitions;
    o.block_ms = 100;
    o.redelivery_ms = 5000;
    o.redis.reconnect_max_ms = 100;
    return o;
  }
  RedisMessageLog& Open(RedisMessageLogOptions o) {
    auto log = RedisMessageLog::Open(std::move(o));
    EXPECT_OK(log.status());
    logs_.push_back(std::move(log).value());
    return *logs_.back();
  }
  LogCollector& Collect(RedisMessageLog& log, std::string group, bool auto_ack) {
    collectors_.push_back(std::make_unique<LogCollector>(&log, std::move(group), auto_ack));
    return *collectors_.back();
  }
  static Status Append(MessageLog& log, std::vector<rpc::ChatMessage> batch) {
    return Wait<Status>([&](auto cb) { log.Append(std::move(batch), cb); });
  }
  Reply Run(std::vector<std::string> args) {
    auto r = Wait<StatusOr<Reply>>([&](auto cb) { client_->Command(std::move(args), cb); });
    EXPECT_OK(r.status());
    return r.ok() ? std::move(r).value() : Reply{};
  }
  template <typename Pred>
  static bool Eventually(Pred pred) {
    for (int i = 0; i < 500; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
  }

  static uint32_t P(const std::string& conv) { return redis::PartitionOf(conv, kPartitions); }

  redis::testing::RedisServer redis_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::shared_ptr<redis::RedisClient> client_;             // to look inside Redis
  std::vector<std::unique_ptr<LogCollector>> collectors_;  // outlive the logs
  std::vector<std::unique_ptr<RedisMessageLog>> logs_;
};

TEST_F(RedisMessageLogTest, TheSeqFenceRejectsADuplicateOrAGapAndWritesNothing) {
  RedisMessageLog& log = Open(Options());
  const std::string conv = "p:1:2";
  const std::string log_key = redis::LogKey(P(conv));
  ASSERT_OK(Append(log, {Msg(conv, 1, 101), Msg(conv, 2, 102)}));
  EXPECT_EQ(Run({"GET", redis::SeqKey(P(conv), conv)}).str, "2");

  for (auto batch : std::vector<std::vector<rpc::ChatMessage>>{
           {Msg(conv, 2, 201)},                     // a duplicate
           {Msg(conv, 4, 202)},                     // a gap
           {Msg(conv, 3, 203), Msg(conv, 3, 204)},  // a duplicate inside the batch
           {Msg(conv, 3, 205), Msg(conv, 5, 206)},  // a gap inside the batch
       }) {
    Status s = Append(log, batch);
    EXPECT_EQ(s.code(), Code::kUnavailable);
    EXPECT_TRUE(s.message().starts_with(kSeqFenceMessage)) << s.message();
    for (const auto& m : batch) {
      EXPECT_TRUE(Run({"GET", redis::SentKey(m.from(), m.client_id())}).is_nil());
    }
  }
  EXPECT_EQ(Run({"XLEN", log_key}).integer, 2);
  EXPECT_EQ(Run({"GET", redis::SeqKey(P(conv), conv)}).str, "2");

  // The next seq, and a message without seq, pass; several conversations
  // are fenced each on its own.
  rpc::ChatMessage unsequenced = Msg(conv, 0, 301);
  ASSERT_OK(Append(log, {Msg(conv, 3, 302), unsequenced, Msg(conv, 4, 303), Msg("g:7", 1, 304)}));
  EXPECT_EQ(Run({"GET", redis::SeqKey(P(conv), conv)}).str, "4");
  EXPECT_EQ(Run({"GET", redis::SeqKey(P("g:7"), "g:7")}).str, "1");
  EXPECT_EQ(Run({"XLEN", log_key}).integer, 5);
}

TEST_F(RedisMessageLogTest, AFailedPartitionFailsTheBatchButOthersStayWritten) {
  RedisMessageLog& log = Open(Options());
  ASSERT_NE(P("p:1:2"), P("g:7"));
  Status s = Append(log, {Msg("g:7", 1, 1), Msg("p:1:2", 5, 2)});  // p:1:2 is at 0
  EXPECT_TRUE(s.message().starts_with(kSeqFenceMessage)) << s.message();
  EXPECT_EQ(Run({"XLEN", redis::LogKey(P("g:7"))}).integer, 1);
  EXPECT_EQ(Run({"EXISTS", redis::LogKey(P("p:1:2"))}).integer, 0);
}

TEST_F(RedisMessageLogTest, TheIdempotencyRecordIsWrittenWithTheEntry) {
  auto o = Options();
  o.idempotency_ttl_ms = 60'000;
  RedisMessageLog& log = Open(o);
  rpc::ChatMessage m = Msg("p:1:2", 1, 42);
  ASSERT_OK(Append(log, {m}));
  const std::string key = redis::SentKey(m.from(), m.client_id());
  Reply record = Run({"GET", key});
  ASSERT_TRUE(record.str.starts_with("A")) << record.str;
  rpc::SendReply ack;
  ASSERT_TRUE(ack.ParseFromString(record.str.substr(1)));
  EXPECT_EQ(ack.client_id(), m.client_id());
  EXPECT_EQ(ack.msg_id(), 42u);
  EXPECT_EQ(ack.conv(), "p:1:2");
  EXPECT_EQ(ack.seq(), 1u);
  EXPECT_EQ(ack.ts(), m.ts());
  int64_t ttl = Run({"PTTL", key}).integer;
  EXPECT_GT(ttl, 50'000);
  EXPECT_LE(ttl, 60'000);
  // No sender or no client id: no record.
  rpc::ChatMessage anonymous = Msg("p:1:2", 2, 43);
  anonymous.clear_client_id();
  ASSERT_OK(Append(log, {anonymous}));
  EXPECT_EQ(Run({"KEYS", "*:sent:*"}).elements.size(), 1u);
}

// A send whose claim lapsed under a slow owner may be appended by the node
// that claimed it next; when the slow owner's append comes after, it must
// not store the send a second time under another seq.
TEST_F(RedisMessageLogTest, ASendAcceptedBeforeIsRefusedAndWritesNothing) {
  RedisMessageLog& log = Open(Options());
  const std::string conv = "p:1:2";
  rpc::ChatMessage first = Msg(conv, 1, 10);
  ASSERT_OK(Append(log, {first}));
  const Reply record = Run({"GET", redis::SentKey(first.from(), first.client_id())});

  // The same send (sender and client id) under a later seq and msg id.
  auto resend = [&](uint64_t seq) {
    rpc::ChatMessage m = Msg(conv, seq, 10 + seq);
    m.set_client_id(first.client_id());
    return m;
  };
  auto twin = [&](uint64_t seq) {
    rpc::ChatMessage m = Msg(conv, seq, 20 + seq);
    m.set_client_id("twin");
    return m;
  };
  for (auto batch : std::vector<std::vector<rpc::ChatMessage>>{
           {resend(2)},                    // accepted before
           {Msg(conv, 2, 12), resend(3)},  // the same, behind a new send
           {twin(2), twin(3)},             // twice in one batch
       }) {
    Status s = Append(log, batch);
    EXPECT_EQ(s.code(), Code::kUnavailable);
    EXPECT_TRUE(s.message().starts_with(kAcceptedFenceMessage)) << s.message();
  }

  EXPECT_EQ(Run({"XLEN", redis::LogKey(P(conv))}).integer, 1);
  EXPECT_EQ(Run({"GET", redis::SeqKey(P(conv), conv)}).str, "1");
  EXPECT_EQ(Run({"GET", redis::SentKey(first.from(), first.client_id())}).str, record.str);
  const std::string twin_record = redis::SentKey(first.from(), "twin");
  EXPECT_TRUE(Run({"GET", twin_record}).is_nil());
  // A pending claim ("P...") is no acceptance: the send goes in.
  ASSERT_EQ(Run({"SET", twin_record, "Pnode-b:1:1"}).str, "OK");
  ASSERT_OK(Append(log, {twin(2)}));
  EXPECT_TRUE(Run({"GET", twin_record}).str.starts_with("A"));
}

TEST_F(RedisMessageLogTest, OffsetsNameTheEntrysPartitionAndStreamId) {
  RedisMessageLog& log = Open(Options());
  ASSERT_OK(Append(log, {Msg("p:1:2", 1, 1), Msg("p:1:2", 2, 2), Msg("g:7", 1, 3)}));
  LogCollector& c = Collect(log, "push", false);
  log.Subscribe("push", 10, false, c.Handler());
  for (const auto& e : c.WaitFor(3)) {
    auto pos = DecodeOffset(e.offset);
    ASSERT_TRUE(pos.has_value());
    EXPECT_EQ(pos->partition, P(e.message.conv()));
    auto range =
        Run({"XRANGE", redis::LogKey(pos->partition), EntryId(pos->number), EntryId(pos->number)});
    ASSERT_EQ(range.elements.size(), 1u);
  }
}

TEST_F(RedisMessageLogTest, AnotherConsumerTakesOverPendingEntriesWhenGivenThePartition) {
  const std::string conv = "p:1:2";
  auto first_options = Options("node-a:1");
  RedisMessageLog& first = Open(first_options);
  ASSERT_OK(Append(first, LogMsgs(1, 4)));
  LogCollector& a = Collect(first, "push", false);
  first.Subscribe("push", 10, false, a.Handler());
  auto got = a.WaitFor(4);
  first.Ack("push", {got[0].offset});
  first.Close();  // as if it died: 2, 3 and 4 stay pending with node-a

  auto o = Options("node-b:1");
  o.takeover_idle_ms = 0;
  RedisMessageLog& second = Open(o);
  second.SetPartitions({});
  LogCollector& b = Collect(second, "push", true);
  second.Subscribe("push", 10, false, b.Handler());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(b.Count(), 0u) << "not its partition yet";
  EXPECT_EQ(second.Lag("push"), 0u) << "nothing it owns";

  second.SetPartitions({P(conv)});
  b.WaitFor(3);
  EXPECT_EQ(b.MsgIds(), Ids(2, 4)) << "long before the redelivery timeout";
  ASSERT_OK(Append(second, LogMsgs(5, 1)));
  b.WaitFor(4);
  EXPECT_EQ(b.MsgIds(), Ids(2, 5));
  EXPECT_TRUE(Eventually([&] { return second.Lag("push") == 0; }));
  EXPECT_TRUE(Eventually([&] {
    return Run({"XPENDING", redis::LogKey(P(conv)), "push"}).elements.at(0).integer == 0;
  }));
}

TEST_F(RedisMessageLogTest, TrimmingKeepsWhatAGroupHasNotAcked) {
  auto o = Options();
  o.trim_interval_ms = 50;
  RedisMessageLog& log = Open(o);
  const std::string key = redis::LogKey(P("p:1:2"));
  ASSERT_OK(Append(log, LogMsgs(1, 10)));
  LogCollector& push = Collect(log, "push", true);
  log.Subscribe("push", 10, false, push.Handler());
  push.WaitFor(10);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Run({"XLEN", key}).integer, 10) << "persist does not exist yet: nothing trimmed";

  LogCollector& persist = Collect(log, "persist", false);
  log.Subscribe("persist", 10, false, persist.Handler());
  auto got = persist.WaitFor(10);
  log.Ack("persist", {got[0].offset, got[1].offset, got[2].offset, got[3].offset, got[5].offset});
  // persist still needs 5 (unacked) and everything after it.
  EXPECT_TRUE(Eventually([&] { return Run({"XLEN", key}).integer == 6; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto left = Run({"XRANGE", key, "-", "+"});
  ASSERT_EQ(left.elements.size(), 6u);
  EXPECT_EQ(left.elements[0].elements[0].str, "0-5");
  EXPECT_EQ(log.Lag("persist"), 5u);
  EXPECT_EQ(log.Lag("push"), 0u);
}

TEST_F(RedisMessageLogTest, AppendedEntriesSurviveARedisCrash) {
  RedisMessageLog& log = Open(Options());
  ASSERT_OK(Append(log, LogMsgs(1, 5)));
  redis_.Kill();
  EXPECT_EQ(Append(log, LogMsgs(6, 1)).code(), Code::kUnavailable);
  redis_.Restart();
  Status s;
  ASSERT_TRUE(Eventually([&] { return (s = Append(log, LogMsgs(6, 1))).ok(); })) << s.message();
  LogCollector& c = Collect(log, "persist", true);
  log.Subscribe("persist", 10, false, c.Handler());
  c.WaitFor(6);
  auto ids = c.MsgIds();
  // 1 to 5 were acknowledged durable before the crash; 6 once or more (an
  // append that failed on the crash may still have been written).
  ASSERT_GE(ids.size(), 6u);
  EXPECT_EQ(std::vector<uint64_t>(ids.begin(), ids.begin() + 5), Ids(1, 5));
}

// What a Redis restart does to a blocked read: Redis has recorded the
// entries as delivered to this consumer, and the reply is lost with the
// connection. They come back at once, not after the redelivery timeout.
TEST_F(RedisMessageLogTest, EntriesWhoseReadReplyWasLostComeBackAfterTheConnectionFails) {
  auto o = Options();
  o.redelivery_ms = 60'000;
  o.unacked_max = 1;  // holds the reader off ">" while the test plays the lost reply
  RedisMessageLog& log = Open(o);
  const std::string key = redis::LogKey(P("p:1:2"));
  LogCollector& c = Collect(log, "push", false);
  log.Subscribe("push", 10, false, c.Handler());
  ASSERT_OK(Append(log, LogMsgs(1, 1)));
  auto first = c.WaitFor(1);

  ASSERT_OK(Append(log, LogMsgs(2, 2)));
  // Entries 2 and 3 become this consumer's pending entries; no reply reaches the log.
  Reply stolen =
      Run({"XREADGROUP", "GROUP", "push", o.consumer, "COUNT", "10", "STREAMS", key, ">"});
  ASSERT_EQ(stolen.elements.size(), 1u);
  ASSERT_EQ(stolen.elements[0].elements.at(1).elements.size(), 2u);

  log.Ack("push", {first[0].offset});  // below unacked_max again: the reader blocks on ">"
  ASSERT_TRUE(Eventually([&] {
    return Run({"CLIENT", "LIST"}).str.find(" flags=b ") != std::string::npos;  // blocked
  }));
  Run({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
  c.WaitFor(3);
  EXPECT_EQ(c.MsgIds(), Ids(1, 3)) << "well before redelivery_ms";
}

TEST_F(RedisMessageLogTest, LagCountsOtherProcessesAppendsOnceRefreshed) {
  auto o = Options("node-a:1");
  o.lag_refresh_ms = 50;
  RedisMessageLog& a = Open(o);
  RedisMessageLog& b = Open(Options("node-b:1"));
  ASSERT_OK(Append(b, LogMsgs(1, 3)));
  EXPECT_TRUE(Eventually([&] { return a.Lag("persist") == 3; }));
  EXPECT_EQ(b.Lag("persist"), 3u) << "its own appends count at once";
}

TEST_F(RedisMessageLogTest, AGroupLostWithRedisDataIsMadeAgain) {
  RedisMessageLog& log = Open(Options());
  LogCollector& c = Collect(log, "push", true);
  log.Subscribe("push", 10, false, c.Handler());
  ASSERT_OK(Append(log, {Msg("p:1:2", 0, 1)}));
  c.WaitFor(1);
  Run({"FLUSHALL"});  // as a Redis that lost its data
  ASSERT_OK(Append(log, {Msg("p:1:2", 0, 2)}));
  c.WaitFor(2);
  EXPECT_EQ(c.MsgIds(), (std::vector<uint64_t>{1, 2}));
}

TEST_F(RedisMessageLogTest, SetPartitionsLimitsConsumptionAndLag) {
  RedisMessageLog& log = Open(Options());
  ASSERT_NE(P("p:1:2"), P("g:7"));
  log.SetPartitions({P("p:1:2")});
  ASSERT_OK(Append(log, {Msg("p:1:2", 1, 1), Msg("g:7", 1, 2), Msg("p:1:2", 2, 3)}));
  EXPECT_TRUE(Eventually([&] { return log.Lag("push") == 2; }));
  LogCollector& c = Collect(log, "push", true);
  log.Subscribe("push", 10, false, c.Handler());
  c.WaitFor(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(c.MsgIds(), (std::vector<uint64_t>{1, 3}));

  log.SetPartitions({P("p:1:2"), P("g:7")});
  c.WaitFor(3);
  EXPECT_EQ(c.MsgIds(), (std::vector<uint64_t>{1, 3, 2}));
  EXPECT_TRUE(Eventually([&] { return log.Lag("push") == 0; }));
}

TEST_F(RedisMessageLogTest, RejectsBadOptionsAndOversizedBatches) {
  auto o = Options();
  o.consumer = "";
  EXPECT_FALSE(RedisMessageLog::Open(o).ok());
  o = Options();
  o.partitions = 1025;
  EXPECT_FALSE(RedisMessageLog::Open(o).ok());
  o = Options();
  o.block_ms = o.redis.command_timeout_ms;
  EXPECT_FALSE(RedisMessageLog::Open(o).ok());
  o = Options();
  o.append_batch_max = 2;
  RedisMessageLog& log = Open(o);
  EXPECT_EQ(Append(log, LogMsgs(1, 3)).code(), Code::kInvalidArgument);
  EXPECT_OK(Append(log, LogMsgs(1, 2)));
}

}  // namespace
}  // namespace parley::queue
