// GrpcConnectDirectory following a MemoryDiscovery: nodes joining, leaving
// and coming back with a new epoch; services handed out staying usable; the
// owner told of every departed incarnation.
#include "rpc/grpc_connect_directory.h"

#include <algorithm>
#include <mutex>

#include <gtest/gtest.h>

#include "connect/testing/recording_connect_node.h"
#include "discovery/memory/memory_discovery.h"
#include "rpc/connect_grpc_server.h"
#include "rpc/testing/grpc_test_env.h"

namespace parley::rpc {
namespace {

using connect::testing::RecordingConnectNode;
using parley::testing::Wait;
using testing::Loopback;
using testing::RegisterNode;
using testing::WaitUntil;

// A RecordingConnectNode behind a ConnectGrpcServer.
struct ConnectNode {
  ConnectNode() : server(std::make_unique<ConnectGrpcServer>(node, GrpcServerOptions{})) {
    Status s = server->Listen("127.0.0.1:0");
    EXPECT_TRUE(s.ok()) << s.message();
  }
  discovery::NodeInfo info(const std::string& id) const {
    discovery::NodeInfo n;
    n.node_id = id;
    n.role = "connect";
    n.address = Loopback(server->port());
    return n;
  }
  RecordingConnectNode node;
  std::unique_ptr<ConnectGrpcServer> server;
};

class GrpcConnectDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = GrpcConnectDirectory::Create(discovery_, {},
                                            [this](const std::string& node, uint64_t epoch) {
                                              std::lock_guard lock(mu_);
                                              departed_.emplace_back(node, epoch);
                                            });
    ASSERT_OK(dir.status());
    directory_ = std::move(dir).value();
  }
  std::vector<std::pair<std::string, uint64_t>> departed() {
    std::lock_guard lock(mu_);
    return departed_;
  }
  std::vector<std::string> AllNodes() {
    auto all = directory_->AllNodes();
    std::sort(all.begin(), all.end());
    return all;
  }

  testing::IoThread io_;
  discovery::MemoryDiscovery discovery_{io_.executor()};
  std::mutex mu_;
  std::vector<std::pair<std::string, uint64_t>> departed_;  // guarded by mu_
  std::unique_ptr<GrpcConnectDirectory> directory_;
};

TEST_F(GrpcConnectDirectoryTest, FindsListedNodesByIdAndEpoch) {
  ConnectNode c1;
  auto reg = RegisterNode(discovery_, c1.info("c1"));
  const uint64_t epoch = reg->node().epoch;
  ASSERT_TRUE(WaitUntil([&] { return directory_->Find("c1") != nullptr; }));
  EXPECT_NE(directory_->Find("c1", epoch), nullptr);
  EXPECT_EQ(directory_->Find("c1", epoch + 1), nullptr);
  EXPECT_EQ(directory_->Find("c2"), nullptr);
  EXPECT_EQ(AllNodes(), std::vector<std::string>{"c1"});

  PushRequest req;
  req.add_events()->add_user_ids(7);
  Wait<PushReply>([&](auto cb) { directory_->Find("c1", epoch)->Push(req, cb); });
  EXPECT_EQ(c1.node.push_count(), 1u);
}

TEST_F(GrpcConnectDirectoryTest, FollowsJoinLeaveAndEpochChange) {
  ConnectNode c1, c2;
  auto reg1 = RegisterNode(discovery_, c1.info("c1"));
  auto reg2 = RegisterNode(discovery_, c2.info("c2"));
  ASSERT_TRUE(WaitUntil([&] { return directory_->AllNodes().size() == 2; }));
  EXPECT_EQ(AllNodes(), (std::vector<std::string>{"c1", "c2"}));
  const uint64_t first_epoch = reg1->node().epoch;
  std::shared_ptr<connect::ConnectService> held = directory_->Find("c1");
  ASSERT_NE(held, nullptr);
  // Epochs up to the newest listed have been seen; a later one may be a
  // node discovery has not told of yet.
  EXPECT_FALSE(directory_->NotYetSeen(first_epoch));
  EXPECT_TRUE(directory_->NotYetSeen(std::max(first_epoch, reg2->node().epoch) + 1));

  // c1 leaves: gone from the directory, and its owner is told.
  reg1->Close();
  ASSERT_TRUE(WaitUntil([&] { return directory_->Find("c1") == nullptr; }));
  EXPECT_EQ(AllNodes(), std::vector<std::string>{"c2"});
  ASSERT_TRUE(WaitUntil([&] { return departed().size() == 1; }));
  EXPECT_EQ(departed()[0], std::make_pair(std::string("c1"), first_epoch));
  EXPECT_FALSE(directory_->NotYetSeen(first_epoch)) << "a departed incarnation is gone, not unseen";

  // A service handed out before still works while its process runs.
  PushRequest req;
  req.add_events()->add_user_ids(7);
  Wait<PushReply>([&](auto cb) { held->Push(req, cb); });
  EXPECT_EQ(c1.node.push_count(), 1u);

  // c1 comes back: a new incarnation, a new epoch.
  reg1 = RegisterNode(discovery_, c1.info("c1"));
  const uint64_t second_epoch = reg1->node().epoch;
  ASSERT_NE(second_epoch, first_epoch);
  ASSERT_TRUE(WaitUntil([&] { return directory_->Find("c1", second_epoch) != nullptr; }));
  EXPECT_EQ(directory_->Find("c1", first_epoch), nullptr);
  EXPECT_NE(directory_->Find("c1", second_epoch), held);
  EXPECT_EQ(departed().size(), 1u);
}

// A Discovery whose watch lists are the test's to give, for changes that
// MemoryDiscovery cannot show in one list (a node id with a new epoch).
class ScriptedDiscovery final : public discovery::Discovery {
 public:
  void Register(discovery::NodeInfo, int64_t,
                Callback<StatusOr<std::unique_ptr<discovery::Registration>>> done) override {
    done(Status::Internal("not scripted"));
  }
  void Nodes(std::string, Callback<StatusOr<std::vector<discovery::NodeInfo>>> done) override {
    done(Status::Internal("not scripted"));
  }
  std::unique_ptr<discovery::Watch> WatchRole(
      std::string, std::function<void(std::vector<discovery::NodeInfo>)> handler) override {
    handler_ = std::move(handler);
    return std::make_unique<discovery::Watch>();
  }
  void AllocateId(std::string, uint32_t, int64_t,
                  Callback<StatusOr<std::unique_ptr<discovery::Registration>>> done) override {
    done(Status::Internal("not scripted"));
  }
  void Deliver(std::vector<discovery::NodeInfo> nodes) { handler_(std::move(nodes)); }

 private:
  std::function<void(std::vector<discovery::NodeInfo>)> handler_;
};

TEST(GrpcConnectDirectoryScriptedTest, ANewEpochInOneListReplacesTheIncarnation) {
  ConnectNode old_process, new_process;
  ScriptedDiscovery discovery;
  std::vector<std::pair<std::string, uint64_t>> departed;
  auto dir = GrpcConnectDirectory::Create(
      discovery, {}, [&](const std::string& n, uint64_t e) { departed.emplace_back(n, e); });
  ASSERT_OK(dir.status());
  GrpcConnectDirectory& directory = **dir;

  discovery::NodeInfo first = old_process.info("c1");
  first.epoch = 3;
  discovery::NodeInfo other = new_process.info("c2");
  other.epoch = 4;
  discovery.Deliver({first, other});
  std::shared_ptr<connect::ConnectService> c1 = directory.Find("c1", 3);
  ASSERT_NE(c1, nullptr);
  // The same list again (a load change) keeps the same clients.
  discovery.Deliver({first, other});
  EXPECT_EQ(directory.Find("c1", 3), c1);
  EXPECT_TRUE(departed.empty());

  // c1 restarted on another address; c2 is unchanged.
  discovery::NodeInfo second = new_process.info("c1");
  second.epoch = 9;
  discovery.Deliver({second, other});
  EXPECT_EQ(directory.Find("c1", 3), nullptr);
  ASSERT_NE(directory.Find("c1", 9), nullptr);
  EXPECT_NE(directory.Find("c1"), c1);
  ASSERT_EQ(departed.size(), 1u);
  EXPECT_EQ(departed[0], std::make_pair(std::string("c1"), uint64_t{3}));

  PushRequest req;
  req.add_events()->add_user_ids(7);
  Wait<PushReply>([&](auto cb) { directory.Find("c1")->Push(req, cb); });
  EXPECT_EQ(new_process.node.push_count(), 1u);
  EXPECT_EQ(old_process.node.push_count(), 0u);

  discovery.Deliver({});
  EXPECT_TRUE(directory.AllNodes().empty());
  EXPECT_EQ(departed.size(), 3u);
}

TEST_F(GrpcConnectDirectoryTest, RefusesBadOptions) {
  GrpcConnectDirectoryOptions options;
  options.client.timeout_ms = 0;
  EXPECT_EQ(GrpcConnectDirectory::Create(discovery_, options).status().code(),
            parley::Code::kInvalidArgument);
}

}  // namespace
}  // namespace parley::rpc
