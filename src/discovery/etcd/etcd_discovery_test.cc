// EtcdDiscovery against a real etcd: the Discovery contract suite (two
// EtcdDiscovery instances with clients of their own stand for two
// processes), plus what is etcd's own: lost leases, watches that survive a
// restart and a compaction, endpoint failover, option validation.
#include "discovery/etcd/etcd_discovery.h"

#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "discovery/etcd/testing/etcd_server.h"
#include "discovery/testing/discovery_contract.h"

namespace parley::discovery {
namespace {

namespace asio = boost::asio;
using parley::testing::Wait;
using testing::EtcdServer;

// One etcd for the whole binary (starting one takes a moment); each test
// gets keys of its own under a fresh prefix.
EtcdServer& SharedEtcd() {
  static EtcdServer server;
  return server;
}

std::string FreshPrefix() {
  std::random_device rd;
  return "/test-" + std::to_string(rd()) + std::to_string(rd()) + "/";
}

// An io_context run by two threads, like a process's.
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

EtcdDiscoveryOptions Options(const std::string& endpoints, const std::string& prefix) {
  EtcdDiscoveryOptions o;
  o.client.endpoints = endpoints;
  o.client.request_timeout_ms = 2'000;
  o.key_prefix = prefix;
  o.watch.retry_ms = 50;
  o.lease.stream_retry_ms = 50;
  return o;
}

std::unique_ptr<EtcdDiscovery> MustCreate(asio::any_io_executor ex, EtcdDiscoveryOptions o) {
  auto d = EtcdDiscovery::Create(std::move(ex), std::move(o));
  if (!d.ok()) throw std::runtime_error(d.status().message());
  return std::move(d).value();
}

class EtcdEnv {
 public:
  EtcdEnv()
      : prefix_(FreshPrefix()),
        discovery_(MustCreate(threads_.executor(), Options(SharedEtcd().endpoint(), prefix_))),
        peer_(MustCreate(threads_.executor(), Options(SharedEtcd().endpoint(), prefix_))) {}
  Discovery& discovery() { return *discovery_; }
  Discovery& peer() { return *peer_; }

 private:
  Threads threads_;  // destroyed last: registrations and watches post to it
  std::string prefix_;
  std::unique_ptr<EtcdDiscovery> discovery_;
  std::unique_ptr<EtcdDiscovery> peer_;
};

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Etcd, DiscoveryContractTest, EtcdEnv);
}  // namespace testing

namespace {

NodeInfo Node(std::string id, std::string role = "logic") {
  NodeInfo n;
  n.node_id = std::move(id);
  n.role = std::move(role);
  n.address = "127.0.0.1:1";
  return n;
}

std::unique_ptr<EtcdRegistration> MustRegister(EtcdDiscovery& d, NodeInfo node, int64_t ttl_ms) {
  auto r = Wait<StatusOr<std::unique_ptr<EtcdRegistration>>>(
      [&](auto cb) { d.RegisterWithLease(std::move(node), ttl_ms, cb); });
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : nullptr;
}

std::vector<NodeInfo> NodesOf(Discovery& d, const std::string& role) {
  auto r = Wait<StatusOr<std::vector<NodeInfo>>>([&](auto cb) { d.Nodes(role, cb); });
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : std::vector<NodeInfo>{};
}

template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds within) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

TEST(EtcdDiscoveryTest, OptionsAreValidated) {
  Threads threads;
  auto bad = [&](auto mutate) {
    EtcdDiscoveryOptions o = Options("127.0.0.1:1", "/p/");
    mutate(o);
    return EtcdDiscovery::Create(threads.executor(), o).status().code();
  };
  EXPECT_EQ(bad([](auto&) {}), Code::kOk);
  EXPECT_EQ(bad([](auto& o) { o.client.endpoints = ""; }), Code::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.client.endpoints = "localhost"; }), Code::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.client.endpoints = "a:1,b:x"; }), Code::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.client.request_timeout_ms = 0; }), Code::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.key_prefix = "parley"; }), Code::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.max_ttl_ms = 10; }), Code::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.allocate_attempts = 0; }), Code::kInvalidArgument);
}

TEST(EtcdDiscoveryTest, InputsAreValidated) {
  Threads threads;
  auto d = MustCreate(threads.executor(), Options(SharedEtcd().endpoint(), FreshPrefix()));
  auto reg = [&](NodeInfo n, int64_t ttl) {
    return Wait<StatusOr<std::unique_ptr<Registration>>>([&](auto cb) { d->Register(n, ttl, cb); })
        .status()
        .code();
  };
  EXPECT_EQ(reg(Node("a/b"), 1000), Code::kInvalidArgument);
  EXPECT_EQ(reg(Node("a", "lo/gic"), 1000), Code::kInvalidArgument);
  EXPECT_EQ(reg(Node(std::string(200, 'x')), 1000), Code::kInvalidArgument);
  EXPECT_EQ(reg(Node("a"), 10'000'000), Code::kInvalidArgument) << "above max_ttl_ms";
  NodeInfo long_address = Node("a");
  long_address.address = std::string(2000, 'x');
  EXPECT_EQ(reg(long_address, 1000), Code::kInvalidArgument);
  auto id = Wait<StatusOr<std::unique_ptr<Registration>>>(
      [&](auto cb) { d->AllocateId("snowflake", 1u << 21, 1000, cb); });
  EXPECT_EQ(id.status().code(), Code::kInvalidArgument) << "above max_id_limit";
}

TEST(EtcdDiscoveryTest, EpochIsTheKeysCreateRevisionAndSurvivesLoadReports) {
  Threads threads;
  auto d = MustCreate(threads.executor(), Options(SharedEtcd().endpoint(), FreshPrefix()));
  auto reg = MustRegister(*d, Node("c1", "connect"), 2000);
  ASSERT_NE(reg, nullptr);
  reg->ReportLoad(7);
  auto nodes = NodesOf(*d, "connect");
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].load, 7u);
  EXPECT_EQ(nodes[0].epoch, reg->node().epoch) << "a load report keeps the create revision";
  EXPECT_GT(reg->lease_id(), 0);
}

TEST(EtcdDiscoveryTest, ARegistrationOutlivesLeaseTtlsByKeepingAlive) {
  Threads threads;
  auto d = MustCreate(threads.executor(), Options(SharedEtcd().endpoint(), FreshPrefix()));
  auto reg = MustRegister(*d, Node("n"), 1000);  // etcd's minimum here: 1 s
  ASSERT_NE(reg, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_FALSE(reg->lost());
  EXPECT_EQ(NodesOf(*d, "logic").size(), 1u);
}

TEST(EtcdDiscoveryTest, ALeaseRevokedBehindItsBackIsReportedLost) {
  Threads threads;
  std::promise<NodeInfo> lost;
  EtcdDiscoveryOptions o = Options(SharedEtcd().endpoint(), FreshPrefix());
  o.on_registration_lost = [&](const NodeInfo& n) { lost.set_value(n); };
  auto d = MustCreate(threads.executor(), o);
  auto reg = MustRegister(*d, Node("n"), 1000);
  ASSERT_NE(reg, nullptr);
  etcdserverpb::LeaseRevokeRequest revoke;
  revoke.set_id(reg->lease_id());
  ASSERT_TRUE(d->client()->LeaseRevokeSync(revoke).ok());
  auto future = lost.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(3)), std::future_status::ready);
  EXPECT_EQ(future.get(), reg->node());
  EXPECT_TRUE(reg->lost());
  reg->ReportLoad(5);  // a lost registration writes nothing
  EXPECT_TRUE(NodesOf(*d, "logic").empty());
  auto again = MustRegister(*d, Node("n"), 1000);
  ASSERT_NE(again, nullptr);
  EXPECT_GT(again->node().epoch, reg->node().epoch) << "re-registering is a new incarnation";
}

TEST(EtcdDiscoveryTest, AnAbandonedRegistrationExpiresWithinItsTtl) {
  Threads threads;
  auto d = MustCreate(threads.executor(), Options(SharedEtcd().endpoint(), FreshPrefix()));
  auto reg = MustRegister(*d, Node("n"), 1000);
  ASSERT_NE(reg, nullptr);
  const auto start = std::chrono::steady_clock::now();
  reg->Abandon();
  ASSERT_TRUE(Eventually([&] { return NodesOf(*d, "logic").empty(); }, std::chrono::seconds(4)));
  // etcd checks expiries every 500 ms.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
}

TEST(EtcdDiscoveryTest, EtcdUnreachableForTheTtlLosesTheLeaseAndItExpires) {
  EtcdServer etcd;  // its own: this test kills it
  Threads threads;
  std::atomic<int> lost_calls{0};
  EtcdDiscoveryOptions o = Options(etcd.endpoint(), "/parley/");
  o.on_registration_lost = [&](const NodeInfo&) { ++lost_calls; };
  auto d = MustCreate(threads.executor(), o);
  auto reg = MustRegister(*d, Node("n"), 1000);
  ASSERT_NE(reg, nullptr);
  etcd.Kill();
  // Declared lost before the TTL ends, from its own clock.
  ASSERT_TRUE(Eventually([&] { return reg->lost(); }, std::chrono::milliseconds(1500)));
  EXPECT_TRUE(Eventually([&] { return lost_calls.load() == 1; }, std::chrono::seconds(1)));
  etcd.Restart();
  // The keeper's revoke of the lost lease goes through once etcd is back
  // (else the lease, restored by etcd with a fresh TTL, would expire).
  EXPECT_TRUE(Eventually([&] { return NodesOf(*d, "logic").empty(); }, std::chrono::seconds(4)));
  auto again = MustRegister(*d, Node("n"), 1000);
  ASSERT_NE(again, nullptr);
  EXPECT_GT(again->node().epoch, reg->node().epoch);
  EXPECT_EQ(lost_calls.load(), 1);
}

TEST(EtcdDiscoveryTest, AWatchResumesAfterARestartAndListsAgainAfterACompaction) {
  EtcdServer etcd;
  Threads threads;
  auto writer = MustCreate(threads.executor(), Options(etcd.endpoint(), "/parley/"));
  // The watcher behind WatchRole, watched directly to count its listings.
  // Its retry is long enough for the test to change and compact etcd before
  // the broken watch comes back.
  auto client = EtcdClient::Create(writer->options().client);
  ASSERT_TRUE(client.ok());
  PrefixWatcherOptions watch_options;
  watch_options.retry_ms = 2'500;
  std::mutex mu;
  std::vector<std::vector<std::string>> calls;
  auto watcher =
      PrefixWatcher::Start(client.value(), threads.executor(), "/parley/nodes/logic/",
                           watch_options, [&](const PrefixWatcher::Snapshot& snapshot, int64_t) {
                             std::vector<std::string> keys;
                             for (const auto& [key, kv] : snapshot) keys.push_back(key.substr(20));
                             std::lock_guard lock(mu);
                             calls.push_back(std::move(keys));
                           });
  auto calls_now = [&] {
    std::lock_guard lock(mu);
    return calls;
  };
  auto a = MustRegister(*writer, Node("a"), 5000);
  ASSERT_TRUE(Eventually([&] { return calls_now().size() == 2; }, std::chrono::seconds(5)));
  EXPECT_EQ(calls_now()[1], (std::vector<std::string>{"a"}));
  EXPECT_EQ(watcher->lists(), 1u);

  etcd.Kill();
  etcd.Restart();
  auto b = MustRegister(*writer, Node("b"), 5000);
  etcdserverpb::PutRequest other;  // a later revision, to compact up to
  other.set_key("/elsewhere");
  auto put =
      Wait<StatusOr<etcdserverpb::PutResponse>>([&](auto cb) { writer->client()->Put(other, cb); });
  ASSERT_TRUE(put.ok()) << put.status().message();
  etcdserverpb::CompactionRequest compact;
  compact.set_revision(put->header().revision());
  auto compacted = Wait<StatusOr<etcdserverpb::CompactionResponse>>(
      [&](auto cb) { writer->client()->Compact(compact, cb); });
  ASSERT_TRUE(compacted.ok()) << compacted.status().message();

  // The watch finds its revision compacted, lists again and sees b.
  ASSERT_TRUE(Eventually([&] { return calls_now().size() == 3; }, std::chrono::seconds(6)));
  EXPECT_EQ(calls_now()[2], (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(watcher->lists(), 2u) << "listed again after the compaction";
  // And keeps watching from there.
  auto c = MustRegister(*writer, Node("c"), 5000);
  ASSERT_TRUE(Eventually([&] { return calls_now().size() == 4; }, std::chrono::seconds(5)));
  EXPECT_EQ(calls_now()[3], (std::vector<std::string>{"a", "b", "c"}));
  watcher->Stop();
}

TEST(EtcdDiscoveryTest, AWatchResumedAfterARestartMissesNothing) {
  EtcdServer etcd;
  Threads threads;
  auto d = MustCreate(threads.executor(), Options(etcd.endpoint(), "/parley/"));
  testing::WatchLog log;
  auto watch = d->WatchRole("logic", log.Handler());
  auto a = MustRegister(*d, Node("a"), 5000);
  ASSERT_EQ(log.WaitForCalls(2).size(), 2u);
  etcd.Kill();
  etcd.Restart();
  auto b = MustRegister(*d, Node("b"), 5000);
  a->Close();
  auto calls = log.WaitForCalls(4);
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(testing::Ids(calls[2]), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(testing::Ids(calls[3]), (std::vector<std::string>{"b"}));
}

TEST(EtcdDiscoveryTest, ADeadEndpointIsSkipped) {
  Threads threads;
  const std::string dead = "127.0.0.1:" + std::to_string(parley::testing::FreeLoopbackPort());
  auto d =
      MustCreate(threads.executor(), Options(dead + "," + SharedEtcd().endpoint(), FreshPrefix()));
  auto reg = MustRegister(*d, Node("n"), 2000);
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(NodesOf(*d, "logic").size(), 1u);
  testing::WatchLog log;
  auto watch = d->WatchRole("logic", log.Handler());
  EXPECT_EQ(testing::Ids(log.WaitForCalls(1)[0]), (std::vector<std::string>{"n"}));
}

TEST(EtcdDiscoveryTest, UnreachableEtcdAnswersUnavailable) {
  Threads threads;
  EtcdDiscoveryOptions o =
      Options("127.0.0.1:" + std::to_string(parley::testing::FreeLoopbackPort()), "/p/");
  o.client.dial_timeout_ms = 200;
  o.client.request_timeout_ms = 200;
  auto d = MustCreate(threads.executor(), o);
  auto r = Wait<StatusOr<std::unique_ptr<Registration>>>(
      [&](auto cb) { d->Register(Node("n"), 1000, cb); });
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  auto nodes = Wait<StatusOr<std::vector<NodeInfo>>>([&](auto cb) { d->Nodes("logic", cb); });
  EXPECT_EQ(nodes.status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace parley::discovery
