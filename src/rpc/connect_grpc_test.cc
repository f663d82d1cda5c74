// ConnectGrpcServer and ConnectGrpcClient over real gRPC on 127.0.0.1, with a
// RecordingConnectNode behind the server.
#include <gtest/gtest.h>

#include "connect/testing/recording_connect_node.h"
#include "rpc/connect_grpc_client.h"
#include "rpc/connect_grpc_server.h"
#include "rpc/testing/grpc_test_env.h"

namespace parley::rpc {
namespace {

using connect::testing::RecordingConnectNode;
using parley::testing::Wait;
using testing::Loopback;

class ConnectGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ConnectGrpcServer>(node_, GrpcServerOptions{});
    ASSERT_OK(server_->Listen("127.0.0.1:0"));
    client_ = std::make_unique<ConnectGrpcClient>("c1", 5, Loopback(server_->port()),
                                                  ConnectGrpcClientOptions{});
  }

  RecordingConnectNode node_;
  std::unique_ptr<ConnectGrpcServer> server_;
  std::unique_ptr<ConnectGrpcClient> client_;
};

TEST_F(ConnectGrpcTest, PushRoundTrip) {
  PushRequest req;
  PushEvent* ev = req.add_events();
  ev->add_user_ids(7);
  ev->add_user_ids(8);
  ChatMessage* m = ev->mutable_msg();
  m->set_conv("p:7:8");
  m->set_seq(3);
  m->set_body("hello");
  m->set_origin_node("c2");
  m->set_origin_conn(11);
  PushEvent* read = req.add_events();
  read->add_user_ids(8);
  read->mutable_read()->set_conv("p:7:8");

  Wait<PushReply>([&](auto cb) { client_->Push(req, cb); });
  auto pushes = node_.pushes();
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(pushes[0].SerializeAsString(), req.SerializeAsString());
  EXPECT_EQ(client_->failed_calls(), 0u);
}

TEST_F(ConnectGrpcTest, KickRoundTrip) {
  KickRequest req;
  req.set_user_id(7);
  req.set_session_key("sess-7");
  req.set_close_code(4001);
  req.set_reason("logged out");
  Wait<KickReply>([&](auto cb) { client_->Kick(req, cb); });
  auto kicks = node_.kicks();
  ASSERT_EQ(kicks.size(), 1u);
  EXPECT_EQ(kicks[0].SerializeAsString(), req.SerializeAsString());
}

TEST_F(ConnectGrpcTest, PushesHeldByTheNodeAreAnsweredWhenItAnswers) {
  node_.Hold();
  auto answered = std::make_shared<std::atomic<bool>>(false);
  client_->Push({}, [answered](PushReply) { *answered = true; });
  ASSERT_TRUE(testing::WaitUntil([&] { return node_.push_count() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(*answered);
  node_.AnswerHeld();
  EXPECT_TRUE(testing::WaitUntil([&] { return answered->load(); }));
}

PushRequest PushTo(uint64_t user) {
  PushRequest req;
  PushEvent* ev = req.add_events();
  ev->add_user_ids(user);
  ev->mutable_msg()->set_conv("p:1:" + std::to_string(user));
  return req;
}

std::vector<uint64_t> UsersIn(const PushRequest& req) {
  std::vector<uint64_t> users;
  for (const PushEvent& ev : req.events()) users.push_back(ev.user_ids(0));
  return users;
}

// Concurrent unary calls may be served in any order, so a later push could
// overtake an earlier one of the same conversation: pushes to one node go
// one request at a time, and those made meanwhile ride in the next request.
TEST_F(ConnectGrpcTest, PushesReachTheNodeInOrderOneRequestAtATime) {
  ConnectGrpcClientOptions o;
  o.push_request_max_bytes = 2 * PushTo(2).ByteSizeLong();
  ConnectGrpcClient client("c1", 5, Loopback(server_->port()), o);
  node_.Hold();
  std::atomic<int> answered = 0;
  auto count = [&answered](PushReply) { ++answered; };
  client.Push(PushTo(1), count);
  ASSERT_TRUE(testing::WaitUntil([&] { return node_.push_count() == 1; }));
  for (uint64_t user : {2, 3, 4}) client.Push(PushTo(user), count);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(node_.push_count(), 1u) << "nothing overtakes the push in flight";

  node_.AnswerHeld();
  ASSERT_TRUE(testing::WaitUntil([&] { return node_.push_count() == 2; }));
  EXPECT_TRUE(testing::WaitUntil([&] { return answered == 1; }));
  node_.AnswerHeld();
  ASSERT_TRUE(testing::WaitUntil([&] { return node_.push_count() == 3; }));
  node_.AnswerHeld();
  EXPECT_TRUE(testing::WaitUntil([&] { return answered == 4; }));
  auto pushes = node_.pushes();
  EXPECT_EQ(UsersIn(pushes[0]), (std::vector<uint64_t>{1}));
  EXPECT_EQ(UsersIn(pushes[1]), (std::vector<uint64_t>{2, 3})) << "merged up to the byte bound";
  EXPECT_EQ(UsersIn(pushes[2]), (std::vector<uint64_t>{4}));
  EXPECT_EQ(client.failed_calls(), 0u);
}

TEST_F(ConnectGrpcTest, APushBeyondTheQueueBoundFailsAtOnceAndLaterOnesStillGo) {
  ConnectGrpcClientOptions o;
  o.push_queue_max_bytes = PushTo(2).ByteSizeLong();
  ConnectGrpcClient client("c1", 5, Loopback(server_->port()), o);
  node_.Hold();
  client.Push(PushTo(1), [](PushReply) {});
  ASSERT_TRUE(testing::WaitUntil([&] { return node_.push_count() == 1; }));
  client.Push(PushTo(2), [](PushReply) {});
  Wait<PushReply>([&](auto cb) { client.Push(PushTo(3), cb); });  // answered at once
  EXPECT_EQ(client.failed_calls(), 1u);

  node_.AnswerHeld();
  ASSERT_TRUE(testing::WaitUntil([&] { return node_.push_count() == 2; }));
  node_.AnswerHeld();
  auto pushes = node_.pushes();
  EXPECT_EQ(UsersIn(pushes[1]), (std::vector<uint64_t>{2}));
  client.Push(PushTo(4), [](PushReply) {});
  ASSERT_TRUE(testing::WaitUntil([&] { return node_.push_count() == 3; }));
  node_.AnswerHeld();
}

TEST_F(ConnectGrpcTest, ACallToAStoppedNodeCompletesEmptyAndIsCounted) {
  server_->Shutdown();
  PushRequest req;
  req.add_events()->add_user_ids(7);
  PushReply reply = Wait<PushReply>([&](auto cb) { client_->Push(req, cb); });
  EXPECT_EQ(reply.delivered(), 0u);
  EXPECT_EQ(client_->failed_calls(), 1u);
  EXPECT_EQ(node_.push_count(), 0u);
}

TEST(ConnectGrpcServerTest, ListensBeforeItServesANode) {
  RecordingConnectNode node;
  ConnectGrpcServer server({});
  ASSERT_OK(server.Listen("127.0.0.1:0"));
  ConnectGrpcClient client("c1", 1, Loopback(server.port()), {});
  PushRequest req;
  req.add_events()->add_user_ids(7);
  Wait<PushReply>([&](auto cb) { client.Push(req, cb); });
  EXPECT_EQ(client.failed_calls(), 1u) << "not serving yet";
  server.Serve(node);
  Wait<PushReply>([&](auto cb) { client.Push(req, cb); });
  EXPECT_EQ(client.failed_calls(), 1u);
  EXPECT_EQ(node.push_count(), 1u);
}

}  // namespace
}  // namespace parley::rpc
