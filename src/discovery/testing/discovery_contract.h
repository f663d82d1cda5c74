// The Discovery contract, as a typed test suite written once and run against
// every implementation (memory here; etcd, against a real etcd, next).
//
// To run it for an implementation, define an environment type and
// instantiate the suite with it in that implementation's test:
//
//   struct EtcdEnv {
//     EtcdEnv();                       // a fresh, empty namespace
//     discovery::Discovery& discovery();
//     // A second client of the same backend (another process's view); may
//     // return discovery() when there is only one.
//     discovery::Discovery& peer();
//   };
//   namespace parley::discovery::testing {  // gtest wants the suite's namespace
//   INSTANTIATE_TYPED_TEST_SUITE_P(Etcd, DiscoveryContractTest, EtcdEnv);
//   }
//
// The environment is created per test and destroyed after it. Watch handlers
// may run on any thread; the suite waits for them (up to 10 s per step).
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "discovery/discovery.h"
#include "support/test_util.h"

namespace parley::discovery::testing {

// Records every call of a watch handler; thread-safe.
class WatchLog {
 public:
  std::function<void(std::vector<NodeInfo>)> Handler() {
    return [this](std::vector<NodeInfo> nodes) {
      {
        std::lock_guard lock(mu_);
        ++in_handler_;
        max_in_handler_ = std::max(max_in_handler_, in_handler_);
      }
      // Long enough for a second call, if the implementation overlapped
      // them, to be caught overlapping.
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      std::lock_guard lock(mu_);
      --in_handler_;
      calls_.push_back(std::move(nodes));
      changed_.notify_all();
    };
  }
  // Waits until at least `n` calls were made; returns all of them.
  std::vector<std::vector<NodeInfo>> WaitForCalls(size_t n) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, std::chrono::seconds(10), [&] { return calls_.size() >= n; });
    return calls_;
  }
  std::vector<std::vector<NodeInfo>> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  int max_in_handler() {
    std::lock_guard lock(mu_);
    return max_in_handler_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::vector<NodeInfo>> calls_;
  int in_handler_ = 0;
  int max_in_handler_ = 0;
};

inline std::vector<std::string> Ids(const std::vector<NodeInfo>& nodes) {
  std::vector<std::string> out;
  for (const NodeInfo& n : nodes) out.push_back(n.node_id);
  return out;
}

template <typename Env>
class DiscoveryContractTest : public ::testing::Test {
 protected:
  static constexpr int64_t kTtlMs = 10'000;

  static NodeInfo Node(std::string id, std::string role = "connect", uint64_t load = 0) {
    NodeInfo n;
    n.node_id = std::move(id);
    n.role = std::move(role);
    n.address = "127.0.0.1:1";
    n.ws_url = "ws://127.0.0.1:1/ws";
    n.load = load;
    return n;
  }

  StatusOr<std::unique_ptr<Registration>> Register(NodeInfo node, int64_t ttl_ms = kTtlMs) {
    return parley::testing::Wait<StatusOr<std::unique_ptr<Registration>>>(
        [&](auto cb) { env_.discovery().Register(std::move(node), ttl_ms, cb); });
  }
  std::unique_ptr<Registration> MustRegister(NodeInfo node) {
    auto r = Register(std::move(node));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::vector<NodeInfo> Nodes(Discovery& d, const std::string& role) {
    auto r =
        parley::testing::Wait<StatusOr<std::vector<NodeInfo>>>([&](auto cb) { d.Nodes(role, cb); });
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(r).value() : std::vector<NodeInfo>{};
  }
  std::vector<NodeInfo> Nodes(const std::string& role) { return Nodes(env_.discovery(), role); }
  StatusOr<std::unique_ptr<Registration>> Allocate(const std::string& scope, uint32_t max_id,
                                                   int64_t ttl_ms = kTtlMs) {
    return parley::testing::Wait<StatusOr<std::unique_ptr<Registration>>>(
        [&](auto cb) { env_.discovery().AllocateId(scope, max_id, ttl_ms, cb); });
  }

  Env env_;
};

TYPED_TEST_SUITE_P(DiscoveryContractTest);

TYPED_TEST_P(DiscoveryContractTest, RegisterIsCreateIfAbsentPerRoleAndNodeId) {
  auto a = this->MustRegister(this->Node("n1", "connect"));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->node().node_id, "n1");
  EXPECT_EQ(a->node().role, "connect");
  auto again = this->Register(this->Node("n1", "connect"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  // The same id in another role is another node.
  auto logic = this->Register(this->Node("n1", "logic"));
  EXPECT_TRUE(logic.ok()) << logic.status().message();
}

TYPED_TEST_P(DiscoveryContractTest, EpochsIncreaseWithEachRegistration) {
  auto first = this->MustRegister(this->Node("n1"));
  ASSERT_NE(first, nullptr);
  const uint64_t epoch1 = first->node().epoch;
  EXPECT_GT(epoch1, 0u);
  first->Close();
  auto second = this->MustRegister(this->Node("n1"));
  ASSERT_NE(second, nullptr);
  EXPECT_GT(second->node().epoch, epoch1) << "a re-registered node is a new incarnation";
  auto other = this->MustRegister(this->Node("n2"));
  ASSERT_NE(other, nullptr);
  EXPECT_GT(other->node().epoch, second->node().epoch);
  std::vector<NodeInfo> nodes = this->Nodes("connect");
  ASSERT_EQ(nodes.size(), 2u);
  for (const NodeInfo& n : nodes) {
    EXPECT_EQ(n.epoch, n.node_id == "n1" ? second->node().epoch : other->node().epoch);
  }
}

TYPED_TEST_P(DiscoveryContractTest, CloseAndDestroyWithdraw) {
  auto a = this->MustRegister(this->Node("a", "logic"));
  auto b = this->MustRegister(this->Node("b", "logic"));
  EXPECT_EQ(Ids(this->Nodes("logic")), (std::vector<std::string>{"a", "b"}));
  a->Close();
  a->Close();  // idempotent
  EXPECT_EQ(Ids(this->Nodes("logic")), (std::vector<std::string>{"b"}));
  b.reset();
  EXPECT_TRUE(this->Nodes("logic").empty());
  // A closed registration no longer touches the id, even once it is reused.
  auto a2 = this->MustRegister(this->Node("a", "logic"));
  a->ReportLoad(9);
  a->Close();
  EXPECT_EQ(Ids(this->Nodes("logic")), (std::vector<std::string>{"a"}));
  EXPECT_EQ(this->Nodes("logic")[0].load, 0u);
}

TYPED_TEST_P(DiscoveryContractTest, ConnectNodesLeastLoadedFirstAndPeersSeeThem) {
  auto busy = this->MustRegister(this->Node("busy", "connect", 50));
  auto idle = this->MustRegister(this->Node("idle", "connect", 1));
  auto mid = this->MustRegister(this->Node("mid", "connect", 10));
  EXPECT_EQ(Ids(this->Nodes("connect")), (std::vector<std::string>{"idle", "mid", "busy"}));
  idle->ReportLoad(100);
  EXPECT_EQ(Ids(this->Nodes("connect")), (std::vector<std::string>{"mid", "busy", "idle"}));
  std::vector<NodeInfo> seen = this->Nodes(this->env_.peer(), "connect");
  EXPECT_EQ(Ids(seen), (std::vector<std::string>{"mid", "busy", "idle"}));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].load, 100u);
  EXPECT_EQ(seen[2].ws_url, "ws://127.0.0.1:1/ws");
  EXPECT_TRUE(this->Nodes("api").empty());
}

TYPED_TEST_P(DiscoveryContractTest, WatchGetsTheListThenEveryChangeInOrder) {
  auto before = this->MustRegister(this->Node("before", "connect", 5));
  WatchLog log;
  auto watch = this->env_.discovery().WatchRole("connect", log.Handler());
  auto c1 = this->MustRegister(this->Node("c1", "connect", 9));
  c1->ReportLoad(1);
  auto other_role = this->MustRegister(this->Node("t1", "task"));  // not this watch's
  before->Close();
  c1.reset();
  auto calls = log.WaitForCalls(5);
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(Ids(calls[0]), (std::vector<std::string>{"before"}));        // the list at once
  EXPECT_EQ(Ids(calls[1]), (std::vector<std::string>{"before", "c1"}));  // join
  EXPECT_EQ(Ids(calls[2]), (std::vector<std::string>{"c1", "before"}));  // load change
  EXPECT_EQ(Ids(calls[3]), (std::vector<std::string>{"c1"}));            // leave
  EXPECT_TRUE(calls[4].empty());                                         // leave
  EXPECT_EQ(log.max_in_handler(), 1) << "one call at a time per watch";
}

TYPED_TEST_P(DiscoveryContractTest, ADestroyedWatchIsNeverCalledAgain) {
  WatchLog log;
  auto watch = this->env_.discovery().WatchRole("logic", log.Handler());
  ASSERT_EQ(log.WaitForCalls(1).size(), 1u);
  // A burst of changes, then the watch goes while calls may be queued.
  std::vector<std::unique_ptr<Registration>> regs;
  for (int i = 0; i < 20; ++i)
    regs.push_back(this->MustRegister(this->Node(std::to_string(i), "logic")));
  watch.reset();
  const size_t at_destroy = log.calls().size();
  regs.clear();
  auto more = this->MustRegister(this->Node("late", "logic"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(log.calls().size(), at_destroy);
}

TYPED_TEST_P(DiscoveryContractTest, AllocateIdIsUniqueFreedOnCloseAndBounded) {
  std::vector<std::unique_ptr<Registration>> held;
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = this->Allocate("snowflake", 2);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r.value()->node().role, "snowflake");
    EXPECT_GT(r.value()->node().epoch, 0u);
    ids.insert(r.value()->node().node_id);
    held.push_back(std::move(r).value());
  }
  EXPECT_EQ(ids, (std::set<std::string>{"0", "1", "2"}));
  auto full = this->Allocate("snowflake", 2);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), Code::kUnavailable);
  // Another scope has ids of its own.
  EXPECT_TRUE(this->Allocate("other", 0).ok());

  const std::string freed = held[1]->node().node_id;
  held[1]->Close();
  auto again = this->Allocate("snowflake", 2);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again.value()->node().node_id, freed);
  held[1].reset();  // the old holder's destruction must not free the new one
  EXPECT_FALSE(this->Allocate("snowflake", 2).ok());
  held[0].reset();
  EXPECT_TRUE(this->Allocate("snowflake", 2).ok());
}

TYPED_TEST_P(DiscoveryContractTest, TtlMustBePositive) {
  for (int64_t ttl : {int64_t{0}, int64_t{-5}}) {
    auto r = this->Register(this->Node("n1"), ttl);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    auto id = this->Allocate("snowflake", 10, ttl);
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), Code::kInvalidArgument);
  }
  EXPECT_TRUE(this->Nodes("connect").empty()) << "a refused registration leaves nothing";
  auto missing_id = this->Register(this->Node(""));
  EXPECT_EQ(missing_id.status().code(), Code::kInvalidArgument);
}

REGISTER_TYPED_TEST_SUITE_P(DiscoveryContractTest, RegisterIsCreateIfAbsentPerRoleAndNodeId,
                            EpochsIncreaseWithEachRegistration, CloseAndDestroyWithdraw,
                            ConnectNodesLeastLoadedFirstAndPeersSeeThem,
                            WatchGetsTheListThenEveryChangeInOrder,
                            ADestroyedWatchIsNeverCalledAgain,
                            AllocateIdIsUniqueFreedOnCloseAndBounded, TtlMustBePositive);

}  // namespace parley::discovery::testing
