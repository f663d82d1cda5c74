// EtcdPartitionOwner against a real etcd: task nodes split the partitions as
// AssignPartitions says, a dead node's partitions are taken over once its
// lease expires, and a joining node rebalances them without any partition
// ever held by two nodes at once (checked at every handler call, and in etcd).
#include "discovery/etcd/etcd_partition_owner.h"

#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "discovery/etcd/testing/etcd_server.h"

namespace parley::discovery {
namespace {

namespace asio = boost::asio;
using parley::testing::Wait;
using testing::EtcdServer;

constexpr uint32_t kPartitions = 16;
constexpr int64_t kTtlMs = 1000;  // etcd's minimum with EtcdServer's timings

EtcdServer& SharedEtcd() {
  static EtcdServer server;
  return server;
}

// What every node holds, by its handler's last word; notes any moment at
// which two nodes held the same partition.
class Ledger {
 public:
  EtcdPartitionOwner::Handler For(const std::string& node) {
    return [this, node](const std::set<uint32_t>& held) {
      std::lock_guard lock(mu_);
      for (const auto& [other, theirs] : held_) {
        if (other == node) continue;
        for (uint32_t p : held) {
          if (theirs.contains(p))
            overlaps_.push_back(node + " and " + other + " hold " + std::to_string(p));
        }
      }
      held_[node] = held;
    };
  }
  // A crashed node's consumers are gone with it.
  void Crashed(const std::string& node) {
    std::lock_guard lock(mu_);
    held_.erase(node);
  }
  std::map<std::string, std::set<uint32_t>> held() {
    std::lock_guard lock(mu_);
    return held_;
  }
  std::vector<std::string> overlaps() {
    std::lock_guard lock(mu_);
    return overlaps_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::set<uint32_t>> held_;
  std::vector<std::string> overlaps_;
};

// A process's worth of threads.
class Threads {
 public:
  Threads() {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~Threads() {
    work_.reset();
    for (auto& t : threads_) t.join();
  }
  asio::any_io_executor executor() { return io_.get_executor(); }

 private:
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::vector<std::thread> threads_;
};

class EtcdPartitionOwnerTest : public ::testing::Test {
 protected:
  EtcdPartitionOwnerTest() {
    std::random_device rd;
    prefix_ = "/test-" + std::to_string(rd()) + std::to_string(rd()) + "/";
    client_ = EtcdClient::Create(Options().client).value();
  }

  EtcdDiscoveryOptions Options() const {
    EtcdDiscoveryOptions o;
    o.client.endpoints = SharedEtcd().endpoint();
    o.key_prefix = prefix_;
    o.watch.retry_ms = 50;
    o.lease.stream_retry_ms = 50;
    return o;
  }

  // A task node as a process: threads, etcd client and discovery of its own.
  struct TaskNode {
    Threads threads;
    std::unique_ptr<EtcdDiscovery> discovery;
    std::unique_ptr<EtcdRegistration> registration;
    std::unique_ptr<EtcdPartitionOwner> owner;
    ~TaskNode() {
      owner.reset();  // stops consuming, releases, then the lease goes
      registration.reset();
      discovery.reset();
    }
  };

  void Start(const std::string& id) {
    auto& n = nodes_[id];
    n = std::make_unique<TaskNode>();
    auto d = EtcdDiscovery::Create(n->threads.executor(), Options());
    ASSERT_TRUE(d.ok()) << d.status().message();
    n->discovery = std::move(d).value();
    NodeInfo node;
    node.node_id = id;
    node.role = "task";
    node.address = "127.0.0.1:1";
    auto reg = Wait<StatusOr<std::unique_ptr<EtcdRegistration>>>(
        [&](auto cb) { n->discovery->RegisterWithLease(node, kTtlMs, cb); });
    ASSERT_TRUE(reg.ok()) << reg.status().message();
    n->registration = std::move(reg).value();
    EtcdPartitionOwnerOptions o;
    o.partitions = kPartitions;
    o.key_prefix = prefix_;
    o.retry_ms = 100;
    auto owner = EtcdPartitionOwner::Start(*n->discovery, *n->registration, o, ledger_.For(id));
    ASSERT_TRUE(owner.ok()) << owner.status().message();
    n->owner = std::move(owner).value();
  }

  // The split AssignPartitions gives `ids`.
  static std::map<std::string, std::set<uint32_t>> Expected(const std::vector<std::string>& ids) {
    std::map<std::string, std::set<uint32_t>> out;
    for (const auto& id : ids) out[id];
    auto owners = AssignPartitions(kPartitions, ids, kDefaultVnodesPerNode);
    for (uint32_t p = 0; p < owners.size(); ++p) out[owners[p]].insert(p);
    return out;
  }

  // Waits until the handlers report exactly `expected`; false on timeout.
  bool SettlesOn(const std::map<std::string, std::set<uint32_t>>& expected,
                 std::chrono::milliseconds within = std::chrono::seconds(5)) {
    const auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
      if (ledger_.held() == expected) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // Partition -> the value of its key in etcd.
  std::map<uint32_t, std::string> InEtcd() {
    etcdserverpb::RangeRequest req;
    req.set_key(prefix_ + "partitions/");
    req.set_range_end(PrefixRangeEnd(req.key()));
    auto r = client_->RangeSync(req);
    EXPECT_TRUE(r.ok());
    std::map<uint32_t, std::string> out;
    if (!r.ok()) return out;
    for (const auto& kv : r->kvs()) {
      out[std::stoul(kv.key().substr(req.key().size()))] = kv.value();
    }
    return out;
  }

  // Every partition a handler reports is the node's key in etcd.
  void ExpectEtcdAgrees() {
    auto in_etcd = InEtcd();
    for (const auto& [id, held] : ledger_.held()) {
      const std::string value =
          id + "@" + std::to_string(nodes_.at(id)->registration->node().epoch);
      for (uint32_t p : held) EXPECT_EQ(in_etcd[p], value) << "partition " << p;
    }
  }

  std::string prefix_;
  std::shared_ptr<EtcdClient> client_;
  Ledger ledger_;  // outlives the nodes, whose handlers write to it
  std::map<std::string, std::unique_ptr<TaskNode>> nodes_;
};

TEST_F(EtcdPartitionOwnerTest, OneNodeHoldsEverything) {
  Start("t1");
  ASSERT_TRUE(SettlesOn(Expected({"t1"})));
  EXPECT_EQ(InEtcd().size(), kPartitions);
  ExpectEtcdAgrees();
}

TEST_F(EtcdPartitionOwnerTest, TwoNodesSplitThePartitionsAsAssigned) {
  Start("t1");
  Start("t2");
  auto expected = Expected({"t1", "t2"});
  ASSERT_FALSE(expected["t1"].empty());
  ASSERT_FALSE(expected["t2"].empty());
  ASSERT_TRUE(SettlesOn(expected));
  ExpectEtcdAgrees();
  EXPECT_EQ(InEtcd().size(), kPartitions);
  EXPECT_TRUE(ledger_.overlaps().empty()) << ledger_.overlaps().front();
}

TEST_F(EtcdPartitionOwnerTest, ACrashedNodesPartitionsAreTakenOverAfterItsLeaseExpires) {
  Start("t1");
  Start("t2");
  ASSERT_TRUE(SettlesOn(Expected({"t1", "t2"})));
  // t2 dies: nothing released, nothing renewed.
  const auto crash = std::chrono::steady_clock::now();
  nodes_["t2"]->owner->Stop(/*release=*/false);
  ledger_.Crashed("t2");
  nodes_["t2"]->registration->Abandon();
  ASSERT_TRUE(SettlesOn(Expected({"t1"})));
  const auto took = std::chrono::steady_clock::now() - crash;
  // TTL (1 s) + etcd's expiry sweep (500 ms) + a little.
  EXPECT_LT(took, std::chrono::milliseconds(2500));
  EXPECT_GT(took, std::chrono::milliseconds(500)) << "taken before the lease could expire";
  ExpectEtcdAgrees();
  EXPECT_TRUE(ledger_.overlaps().empty()) << ledger_.overlaps().front();
}

TEST_F(EtcdPartitionOwnerTest, AStoppedNodeHandsOverAtOnce) {
  Start("t1");
  Start("t2");
  ASSERT_TRUE(SettlesOn(Expected({"t1", "t2"})));
  const auto stop = std::chrono::steady_clock::now();
  ledger_.Crashed("t2");  // its consumers stop first
  nodes_.erase("t2");     // then it releases and closes its registration
  ASSERT_TRUE(SettlesOn(Expected({"t1"})));
  EXPECT_LT(std::chrono::steady_clock::now() - stop, std::chrono::milliseconds(800));
  EXPECT_TRUE(ledger_.overlaps().empty()) << ledger_.overlaps().front();
}

TEST_F(EtcdPartitionOwnerTest, AJoiningNodeRebalancesWithoutAPartitionHeldTwice) {
  Start("t1");
  Start("t2");
  ASSERT_TRUE(SettlesOn(Expected({"t1", "t2"})));
  Start("t3");
  auto expected = Expected({"t1", "t2", "t3"});
  ASSERT_FALSE(expected["t3"].empty());
  ASSERT_TRUE(SettlesOn(expected));
  ExpectEtcdAgrees();
  EXPECT_TRUE(ledger_.overlaps().empty()) << ledger_.overlaps().front();
  // Only t3's share moved: t1 and t2 kept the rest of what they had.
  auto before = Expected({"t1", "t2"});
  for (const std::string id : {"t1", "t2"}) {
    for (uint32_t p : expected[id]) EXPECT_TRUE(before[id].contains(p)) << id << " gained " << p;
  }
}

TEST_F(EtcdPartitionOwnerTest, ALostLeaseDropsEverythingAtOnce) {
  Start("t1");
  ASSERT_TRUE(SettlesOn(Expected({"t1"})));
  nodes_["t1"]->owner->LeaseLost();
  ASSERT_TRUE(SettlesOn({{"t1", {}}}, std::chrono::seconds(1)));
  EXPECT_TRUE(nodes_["t1"]->owner->held().empty());
}

TEST_F(EtcdPartitionOwnerTest, OptionsAreValidated) {
  EtcdPartitionOwnerOptions o;
  EXPECT_TRUE(ValidateEtcdPartitionOwnerOptions(o).ok());
  o.partitions = 0;
  EXPECT_FALSE(ValidateEtcdPartitionOwnerOptions(o).ok());
  o = {};
  o.partitions = o.max_partitions + 1;
  EXPECT_FALSE(ValidateEtcdPartitionOwnerOptions(o).ok());
  o = {};
  o.retry_ms = 0;
  EXPECT_FALSE(ValidateEtcdPartitionOwnerOptions(o).ok());
  o = {};
  o.key_prefix = "x";
  EXPECT_FALSE(ValidateEtcdPartitionOwnerOptions(o).ok());
}

}  // namespace
}  // namespace parley::discovery
