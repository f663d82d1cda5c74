// PushConsumer over the real embedded log, store and presence, with
// recording connect nodes.
#include "task/push_consumer.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "connect/direct_connect_directory.h"
#include "connect/testing/recording_connect_node.h"
#include "presence/memory/memory_presence.h"
#include "presence/testing/fault_injecting_presence.h"
#include "state/embedded/cached_group_directory.h"
#include "task/task_test_fixture.h"

namespace parley::task {
namespace {

using presence::Connection;

using RecordingNode = connect::testing::RecordingConnectNode;

// Several connect nodes, each behind the embedded directory of its own, as
// discovery would list them: a node may join while the consumer runs.
class Directory final : public connect::ConnectDirectory {
 public:
  std::shared_ptr<RecordingNode> AddNode(const std::string& id, uint64_t epoch) {
    auto node = std::make_shared<RecordingNode>();
    std::lock_guard lock(mu_);
    nodes_.try_emplace(id, id).first->second.Attach(node, epoch);
    newest_epoch_ = std::max(newest_epoch_, epoch);
    return node;
  }
  std::shared_ptr<connect::ConnectService> Find(const std::string& id, uint64_t epoch) override {
    std::lock_guard lock(mu_);
    auto it = nodes_.find(id);
    return it == nodes_.end() ? nullptr : it->second.Find(id, epoch);
  }
  std::vector<std::string> AllNodes() override {
    std::lock_guard lock(mu_);
    std::vector<std::string> ids;
    for (const auto& [id, dir] : nodes_) ids.push_back(id);
    return ids;
  }
  bool NotYetSeen(uint64_t epoch) override {
    std::lock_guard lock(mu_);
    return epoch > newest_epoch_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, connect::DirectConnectDirectory> nodes_;
  uint64_t newest_epoch_ = 0;
};

// Seqs of a node's pushed messages, in the order pushed.
std::vector<uint64_t> Seqs(const RecordingNode& node) {
  std::vector<uint64_t> seqs;
  for (const auto& req : node.pushes()) {
    for (const auto& ev : req.events()) seqs.push_back(ev.msg().seq());
  }
  return seqs;
}

// The users each pushed event names, event by event.
std::vector<std::vector<uint64_t>> UsersPerEvent(const rpc::PushRequest& req) {
  std::vector<std::vector<uint64_t>> users;
  for (const auto& ev : req.events()) {
    users.emplace_back(ev.user_ids().begin(), ev.user_ids().end());
    std::sort(users.back().begin(), users.back().end());
  }
  return users;
}

class PushConsumerTest : public TaskTest {
 protected:
  void SetUp() override {
    TaskTest::SetUp();
    retries_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    // Stops everything that calls into the consumer before destroying it.
    work_.reset();
    io_.stop();
    retries_.join();
    CloseLogAndStore();
    consumer_.reset();
    groups_.reset();
  }

  void Start(PushConsumer::Options options = {}) {
    options.retry_initial = std::chrono::milliseconds(1);
    options.retry_max = std::chrono::milliseconds(4);
    // Groups reach the consumer as they reach logic: through the directory,
    // over the store (whose GetGroup the tests fail at will).
    groups_ = std::make_unique<state::CachedGroupDirectory>(*consumer_store_, 1000);
    consumer_ = std::make_unique<PushConsumer>(*consumer_log_, *groups_, presence_, directory_,
                                               metrics_, io_.get_executor(), options);
    consumer_->Start();
  }

  void Online(uint64_t user, const std::string& node, uint64_t epoch, uint64_t conn) {
    ASSERT_OK(testing::Wait<Status>([&](auto cb) {
      memory_.Add({.user_id = user, .node_id = node, .node_epoch = epoch, .conn_id = conn}, cb);
    }));
  }
  std::vector<Connection> ConnsOf(uint64_t user) {
    auto r = testing::Wait<StatusOr<std::vector<std::vector<Connection>>>>(
        [&](auto cb) { memory_.Lookup({user}, cb); });
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->at(0) : std::vector<Connection>{};
  }
  uint64_t CreateGroup(std::vector<uint64_t> members) {
    auto g = testing::Wait<StatusOr<rpc::Group>>([&](auto cb) {
      store_->CreateGroup("g", members.front(), members, 1'700'000'000'000, {}, cb);
    });
    EXPECT_TRUE(g.ok()) << g.status().message();
    return g.ok() ? g->group_id() : 0;
  }
  uint64_t Lag() const { return log_->Lag(PushConsumer::kGroup); }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::thread retries_;
  presence::MemoryPresence memory_;
  presence::FaultInjectingPresence presence_{memory_};
  Directory directory_;
  std::unique_ptr<state::CachedGroupDirectory> groups_;
  std::unique_ptr<PushConsumer> consumer_;
};

TEST_F(PushConsumerTest, APrivateMessageIsPushedToBothPartiesNodes) {
  auto n1 = directory_.AddNode("n1", 1);
  auto n2 = directory_.AddNode("n2", 1);
  Online(1, "n1", 1, 10);
  Online(2, "n2", 1, 20);
  ASSERT_OK(Append({PrivateMsg(1, 2, 1)}));
  Start();

  ASSERT_TRUE(WaitUntil([&] { return Lag() == 0; }));
  ASSERT_EQ(n1->push_count(), 1u);
  ASSERT_EQ(n2->push_count(), 1u);
  // The sender's node gets it too, for the sender's other connections.
  EXPECT_EQ(UsersPerEvent(n1->pushes()[0]), (std::vector<std::vector<uint64_t>>{{1}}));
  EXPECT_EQ(UsersPerEvent(n2->pushes()[0]), (std::vector<std::vector<uint64_t>>{{2}}));
  EXPECT_EQ(n2->pushes()[0].events(0).msg().body(), PrivateMsg(1, 2, 1).body());
}

TEST_F(PushConsumerTest, ABatchCostsOneLookupAndOnePushPerNodeWithEventsInLogOrder) {
  auto n1 = directory_.AddNode("n1", 1);
  auto n2 = directory_.AddNode("n2", 1);
  auto n3 = directory_.AddNode("n3", 1);
  uint64_t g = CreateGroup({1, 2, 3, 4, 5, 6});
  Online(1, "n1", 1, 10);
  Online(1, "n1", 1, 11);  // two connections on one node: named once
  Online(2, "n1", 1, 20);
  Online(3, "n2", 1, 30);
  Online(4, "n2", 1, 40);
  Online(4, "n3", 1, 41);
  Online(6, "n3", 1, 60);  // 5 is offline
  ASSERT_OK(Append({GroupMsg(g, 1, 1), GroupMsg(g, 2, 2), PrivateMsg(1, 3, 1), GroupMsg(g, 6, 3)}));
  Start();

  ASSERT_TRUE(WaitUntil([&] { return Lag() == 0; }));
  EXPECT_EQ(presence_.lookups(), 1u);
  ASSERT_EQ(n1->push_count(), 1u);
  ASSERT_EQ(n2->push_count(), 1u);
  ASSERT_EQ(n3->push_count(), 1u);
  using Users = std::vector<std::vector<uint64_t>>;
  EXPECT_EQ(UsersPerEvent(n1->pushes()[0]), (Users{{1, 2}, {1, 2}, {1}, {1, 2}}));
  EXPECT_EQ(UsersPerEvent(n2->pushes()[0]), (Users{{3, 4}, {3, 4}, {3}, {3, 4}}));
  EXPECT_EQ(UsersPerEvent(n3->pushes()[0]), (Users{{4, 6}, {4, 6}, {4, 6}}));
  const rpc::PushRequest n1_push = n1->pushes()[0];
  std::vector<std::string> convs;
  for (const auto& ev : n1_push.events())
    convs.push_back(ev.msg().conv() + "#" + std::to_string(ev.msg().seq()));
  std::string gc = "g:" + std::to_string(g);
  EXPECT_EQ(convs, (std::vector<std::string>{gc + "#1", gc + "#2", "p:1:3#1", gc + "#3"}));
}

TEST_F(PushConsumerTest, BatchesArePushedOneAtATimeInLogOrder) {
  auto n1 = directory_.AddNode("n1", 1);
  Online(1, "n1", 1, 10);
  std::vector<rpc::ChatMessage> msgs;
  for (uint64_t seq = 1; seq <= 7; ++seq) msgs.push_back(PrivateMsg(2, 1, seq));
  ASSERT_OK(Append(msgs));
  Start({.max_batch = 2});

  ASSERT_TRUE(WaitUntil([&] { return Lag() == 0; }));
  EXPECT_EQ(Seqs(*n1), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7}));
  for (const auto& req : n1->pushes()) EXPECT_LE(req.events_size(), 2);
  EXPECT_EQ(presence_.lookups(), n1->push_count()) << "one Lookup per batch";
}

TEST_F(PushConsumerTest, BatchesThatQueuedBehindAStuckOneGoOnTogether) {
  auto n1 = directory_.AddNode("n1", 1);
  Online(1, "n1", 1, 10);
  presence_.FailLookups(1'000'000);  // Redis away: the first batch is stuck
  Start({.max_batch = 8});
  for (uint64_t seq = 1; seq <= 12; ++seq) ASSERT_OK(Append({PrivateMsg(2, 1, seq)}));
  ASSERT_TRUE(WaitUntil([&] { return consumer_log_->handled() == 12; }));
  EXPECT_EQ(n1->push_count(), 0u);

  presence_.FailLookups(0);
  ASSERT_TRUE(WaitUntil([&] { return Lag() == 0; }));
  EXPECT_EQ(Seqs(*n1), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  // The stuck batch, then those behind it merged up to max_batch (eleven
  // one-message deliveries make 8 + 3; the log may also have delivered a
  // few messages together), not one push per delivery.
  EXPECT_LE(n1->push_count(), 3u);
  for (const auto& req : n1->pushes()) EXPECT_LE(req.events_size(), 8);
}

TEST_F(PushConsumerTest, OfflineRecipientsCostNoPush) {
  auto n1 = directory_.AddNode("n1", 1);
  uint64_t g = CreateGroup({1, 2, 3});
  ASSERT_OK(Append({PrivateMsg(1, 2, 1), GroupMsg(g, 3, 1)}));
  Start();

  ASSERT_TRUE(WaitUntil([&] { return Lag() == 0; }));
  EXPECT_EQ(n1->push_count(), 0u);
  EXPECT_EQ(presence_.lookups(), 1u);
}

TEST_F(PushConsumerTest, AMessageToAGroupThatDoesNotExistIsAckedWithoutAPush) {
  auto n1 = directory_.AddNode("n1", 1);
  Online(1, "n1", 1, 10);
  ASSERT_OK(Append({GroupMsg(404, 1, 1)}));
  Start();

  ASSERT_TRUE(WaitUntil([&] { return Lag() == 0; }));
  EXPECT_EQ(n1->push_count(), 0u);
}

TEST_F(PushConsumerTest, TheBatchIsAckedOnlyOnceEveryNodeAnswered) {
  auto n1 = directory_.AddNode("n1", 1);
  auto n2 = directory_.AddNode("n2", 1);
  n1->Hold();
  n2->Hold();
  Online(1, "n1", 1, 10);
  Online(2, "n2", 1, 20);
  ASSERT_OK(Append({PrivateMsg(1, 2, 1)}));
  Start();

  ASSERT_TRUE(WaitUntil([&] { return n1->push_count() == 1 && n2->push_count() == 1; }));
  EXPECT_EQ(Lag(), 1u);
  n1->AnswerHeld();
  EXPECT_EQ(Lag(), 1u) << "acked before n2 answered";
  n2->AnswerHeld();
  EXPECT_EQ(Lag(), 0u);
}

TEST_F(PushConsumerTest, AGoneNodeEpochIsDroppedFromPresenceAndTheBatchAcked) {
  // n1 restarted as epoch 2; n9 is gone altogether.
  auto n1 = directory_.AddNode("n1", 2);
  Online(1, "n1", 1, 10);  // recorded by n1's dead epoch
  Online(1, "n1", 2, 11);
  Online(2, "n9", 1, 20);
  ASSERT_OK(Append({PrivateMsg(1, 2, 1)}));
  Start();

  ASSERT_TRUE(WaitUntil([&] { return Lag() == 0; }));
  ASSERT_EQ(n1->push_count(), 1u);
  EXPECT_EQ(UsersPerEvent(n1->pushes()[0]), (std::vector<std::vector<uint64_t>>{{1}}));
  EXPECT_EQ(metrics_.pushes_node_gone.value(), 2u);
  EXPECT_EQ(
      ConnsOf(1),
      (std::vector<Connection>{{.user_id = 1, .node_id = "n1", .node_epoch = 2, .conn_id = 11}}));
  EXPECT_TRUE(ConnsOf(2).empty());
}

TEST_F(PushConsumerTest, ANodeNewerThanTheDirectoryHasListedIsWaitedForNotDropped) {
  // n2 started and took bob's connection before discovery told this
  // process of it: its epoch is newer than any listed.
  auto n1 = directory_.AddNode("n1", 1);
  Online(1, "n1", 1, 10);
  Online(2, "n2", 7, 20);
  ASSERT_OK(Append({PrivateMsg(1, 2, 1)}));
  Start();

  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(Lag(), 1u) << "acked before n2 was listed";
  auto n2 = directory_.AddNode("n2", 7);
  ASSERT_TRUE(WaitUntil([&] { return Lag() == 0; }));
  EXPECT_EQ(n1->push_count(), 1u);
  ASSERT_EQ(n2->push_count(), 1u);
  EXPECT_EQ(UsersPerEvent(n2->pushes()[0]), (std::vector<std::vector<uint64_t>>{{2}}));
  EXPECT_EQ(metrics_.pushes_node_gone.value(), 0u);
  EXPECT_EQ(ConnsOf(2).size(), 1u) << "bob's live connection must stay in presence";
}

TEST_F(PushConsumerTest, ANodeNeverListedIsTreatedAsGoneAfterTheGrace) {
  auto n1 = directory_.AddNode("n1", 1);
  Online(1, "n1", 1, 10);
  Online(2, "n2", 7, 20);  // registered and died unseen
  ASSERT_OK(Append({PrivateMsg(1, 2, 1)}));
  Start({.unknown_node_grace = std::chrono::milliseconds(30)});

  ASSERT_TRUE(WaitUntil([&] { return Lag() == 0; }));
  EXPECT_EQ(n1->push_count(), 1u);
  EXPECT_EQ(metrics_.pushes_node_gone.value(), 1u);
  EXPECT_TRUE(ConnsOf(2).empty());
}

TEST_F(PushConsumerTest, AFailedLookupIsRetriedAndLeavesTheBatchUnackedMeanwhile) {
  auto n1 = directory_.AddNode("n1", 1);
  Online(1, "n1", 1, 10);
  presence_.FailLookups(1'000'000);
  ASSERT_OK(Append({PrivateMsg(2, 1, 1)}));
  Start();

  ASSERT_TRUE(WaitUntil([&] { return presence_.lookups() >= 3; }));
  EXPECT_EQ(n1->push_count(), 0u);
  EXPECT_EQ(Lag(), 1u);

  presence_.FailLookups(0);
  ASSERT_TRUE(WaitUntil([&] { return Lag() == 0; }));
  EXPECT_EQ(Seqs(*n1), (std::vector<uint64_t>{1}));
}

TEST_F(PushConsumerTest, AGroupTheStoreFailsToLoadIsRetriedAndTheBatchUnackedMeanwhile) {
  auto n1 = directory_.AddNode("n1", 1);
  uint64_t g = CreateGroup({1, 2});
  Online(1, "n1", 1, 10);
  consumer_store_->FailNext(store::StoreOp::kGetGroup, 1'000'000);
  ASSERT_OK(Append({GroupMsg(g, 2, 1)}));
  Start();

  ASSERT_TRUE(WaitUntil([&] { return consumer_log_->handled() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a few retries
  EXPECT_EQ(Lag(), 1u);
  EXPECT_EQ(presence_.lookups(), 0u);
  EXPECT_EQ(n1->push_count(), 0u);

  consumer_store_->FailNext(store::StoreOp::kGetGroup, 0);
  ASSERT_TRUE(WaitUntil([&] { return Lag() == 0; }));
  EXPECT_EQ(Seqs(*n1), (std::vector<uint64_t>{1}));
  EXPECT_EQ(consumer_store_->ReachedTarget(store::StoreOp::kGetGroup), 1u);
}

TEST_F(PushConsumerTest, EntriesRedeliveredWhileStillBeingPushedAreNotPushedTwice) {
  // The log redelivers entries unacked past its timeout.
  auto n1 = directory_.AddNode("n1", 1);
  n1->Hold();
  Online(1, "n1", 1, 10);
  ASSERT_OK(Append({PrivateMsg(2, 1, 1)}));
  Start();
  ASSERT_TRUE(WaitUntil([&] { return n1->push_count() == 1; }));

  clock_.AdvanceMs(2 * storage_.log_redelivery_ms);
  ASSERT_TRUE(WaitUntil([&] { return consumer_log_->handled() >= 2; }));
  ASSERT_OK(Append({PrivateMsg(2, 1, 2)}));  // a later batch still flows
  ASSERT_TRUE(WaitUntil([&] { return n1->push_count() == 2; }));
  n1->AnswerHeld();
  ASSERT_TRUE(WaitUntil([&] { return Lag() == 0; }));
  EXPECT_EQ(Seqs(*n1), (std::vector<uint64_t>{1, 2}));
}

}  // namespace
}  // namespace parley::task
