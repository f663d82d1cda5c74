// LogicGrpcServer and LogicGrpcClient over real gRPC on 127.0.0.1, with
// FakeLogic behind the server and MemoryDiscovery listing the nodes: what a
// caller's CallContext becomes on the other side, deadlines, limits,
// balancing and Ready.
#include <chrono>

#include <gtest/gtest.h>

#include "common/stable_hash.h"
#include "discovery/memory/memory_discovery.h"
#include "rpc/logic_grpc_client.h"
#include "rpc/logic_grpc_server.h"
#include "rpc/testing/grpc_test_env.h"

namespace parley::rpc {
namespace {

using logic::CallContext;
using logic::testing::Method;
using parley::testing::Wait;
using testing::LogicNode;
using testing::RegisterNode;
using testing::WaitUntil;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class LogicGrpcTest : public ::testing::Test {
 protected:
  std::unique_ptr<LogicGrpcClient> Client(size_t expected_peers,
                                          LogicGrpcClientOptions options = {}) {
    auto client = LogicGrpcClient::Create(io_.executor(), discovery_, std::move(options));
    EXPECT_TRUE(client.ok()) << client.status().message();
    if (!client.ok()) return nullptr;
    std::unique_ptr<LogicGrpcClient> c = std::move(client).value();
    EXPECT_TRUE(WaitUntil([&] { return c->peer_count() == expected_peers; }));
    return c;
  }
  std::unique_ptr<discovery::Registration> Register(const LogicNode& node, const std::string& id) {
    return RegisterNode(discovery_, node.info(id));
  }

  testing::IoThread io_;
  discovery::MemoryDiscovery discovery_{io_.executor()};
};

TEST_F(LogicGrpcTest, CallContextRoundTripsThroughMetadata) {
  LogicNode node;
  node.fake.AddToken("tok-1", 7, "sess-7");
  auto reg = Register(node, "l1");
  auto client = Client(1);

  CallContext ctx;
  ctx.request_id = "rid-abc.1";
  ctx.token = "tok-1";
  ctx.client_ip = "203.0.113.9";
  ctx.origin_node = "c3";
  ctx.origin_conn = 42;
  ctx.deadline_ms = NowMs() + 5000;
  auto reply = Wait<AuthReply>([&](auto cb) { client->Auth(ctx, {}, cb); });
  EXPECT_EQ(reply.error().code(), OK) << reply.error().message();
  EXPECT_EQ(reply.user_id(), 7u);

  auto seen = node.fake.Contexts(Method::kAuth);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].request_id, "rid-abc.1");
  EXPECT_EQ(seen[0].token, "tok-1");
  EXPECT_EQ(seen[0].user_id, 0u);
  EXPECT_EQ(seen[0].client_ip, "203.0.113.9");
  EXPECT_EQ(seen[0].origin_node, "c3");
  EXPECT_EQ(seen[0].origin_conn, 42u);
  // The deadline travels as a timeout: the same instant, give or take the
  // time in transit.
  EXPECT_NEAR(static_cast<double>(seen[0].deadline_ms), static_cast<double>(ctx.deadline_ms), 50);
}

TEST_F(LogicGrpcTest, SessionCredentialsRoundTrip) {
  LogicNode node;
  node.fake.AddToken("tok-1", 7, "sess-7");
  auto reg = Register(node, "l1");
  auto client = Client(1);

  CallContext ctx;
  ctx.user_id = 7;
  ctx.session_key = "sess-7";
  auto reply = Wait<GetUserReply>([&](auto cb) { client->GetUser(ctx, {}, cb); });
  EXPECT_EQ(reply.error().code(), OK) << reply.error().message();
  EXPECT_EQ(reply.user().user_id(), 7u);
  auto seen = node.fake.Contexts(Method::kGetUser);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].user_id, 7u);
  EXPECT_EQ(seen[0].session_key, "sess-7");
  EXPECT_TRUE(seen[0].token.empty());
  // Without a deadline of its own the call got the client's default.
  EXPECT_GT(seen[0].deadline_ms, NowMs() + 5000);
}

TEST_F(LogicGrpcTest, TheServerGivesARequestIdWhenTheCallerHasNone) {
  LogicNode node;
  auto reg = Register(node, "l1");
  auto client = Client(1);
  CallContext ctx;
  ctx.request_id = "bad id with spaces";
  Wait<LoginReply>([&](auto cb) { client->Login({}, {}, cb); });
  Wait<LoginReply>([&](auto cb) { client->Login(ctx, {}, cb); });
  auto seen = node.fake.Contexts(Method::kLogin);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].request_id.size(), 16u);
  EXPECT_EQ(seen[1].request_id.size(), 16u);
  EXPECT_NE(seen[0].request_id, seen[1].request_id);
}

TEST_F(LogicGrpcTest, CredentialsThatCannotBeMetadataAreNotSent) {
  LogicNode node;
  auto reg = Register(node, "l1");
  auto client = Client(1);
  CallContext ctx;
  ctx.token = "tok\r\nx-parley-user: 1";
  ctx.origin_node = std::string(5000, 'n');
  auto reply = Wait<AuthReply>([&](auto cb) { client->Auth(ctx, {}, cb); });
  EXPECT_EQ(reply.error().code(), UNAUTHENTICATED);
  auto seen = node.fake.Contexts(Method::kAuth);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].token.empty());
  EXPECT_EQ(seen[0].user_id, 0u);
  EXPECT_TRUE(seen[0].origin_node.empty());
}

TEST_F(LogicGrpcTest, RepliesAndErrorsOfLogicComeBackAsTheyAre) {
  LogicNode node;
  node.fake.AddToken("tok-1", 7, "sess-7");
  const uint64_t bob = node.fake.AddUser("bob", "password1");
  auto reg = Register(node, "l1");
  auto client = Client(1);
  CallContext ctx;
  ctx.token = "tok-1";
  SendBatch batch;
  SendRequest* ok = batch.add_requests();
  ok->set_client_id("c-1");
  ok->set_to_user(bob);
  ok->set_body("hi");
  SendRequest* bad = batch.add_requests();
  bad->set_client_id("c-2");
  bad->set_to_user(999);
  bad->set_body("who?");
  auto reply = Wait<SendBatchReply>([&](auto cb) { client->Send(ctx, batch, cb); });
  ASSERT_EQ(reply.replies_size(), 2);
  EXPECT_EQ(reply.replies(0).error().code(), OK);
  EXPECT_EQ(reply.replies(0).seq(), 1u);
  EXPECT_EQ(reply.replies(1).error().code(), NOT_FOUND);
  EXPECT_EQ(reply.replies(1).client_id(), "c-2");
}

TEST_F(LogicGrpcTest, ADeadlineInThePastAnswersUnavailableWithoutACall) {
  LogicNode node;
  node.fake.AddToken("tok-1", 7, "sess-7");
  auto reg = Register(node, "l1");
  auto client = Client(1);
  CallContext ctx;
  ctx.token = "tok-1";
  ctx.deadline_ms = NowMs() - 1;
  auto reply = Wait<SyncReply>([&](auto cb) { client->Sync(ctx, {}, cb); });
  EXPECT_EQ(reply.error().code(), UNAVAILABLE);
  EXPECT_EQ(node.fake.call_count(Method::kSync), 0u);
}

TEST_F(LogicGrpcTest, ADeadlinePassedInFlightAnswersUnavailable) {
  LogicNode node;
  node.fake.AddToken("tok-1", 7, "sess-7");
  node.fake.Hold(Method::kSync);
  auto reg = Register(node, "l1");
  auto client = Client(1);
  CallContext ctx;
  ctx.token = "tok-1";
  ctx.deadline_ms = NowMs() + 200;
  auto start = std::chrono::steady_clock::now();
  auto reply = Wait<SyncReply>([&](auto cb) { client->Sync(ctx, {}, cb); });
  EXPECT_EQ(reply.error().code(), UNAVAILABLE);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // The server finishes the call once logic answers it.
  node.fake.Release(Method::kSync, SIZE_MAX, true);
  EXPECT_TRUE(WaitUntil([&] { return node.server->calls_in_flight() == 0; }));
}

TEST_F(LogicGrpcTest, WithoutALogicNodeCallsAnswerUnavailableAtOnce) {
  auto client = Client(0);
  SendBatch batch;
  batch.add_requests()->set_client_id("c-1");
  batch.add_requests()->set_client_id("c-2");
  auto start = std::chrono::steady_clock::now();
  auto reply = Wait<SendBatchReply>([&](auto cb) { client->Send({}, batch, cb); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  ASSERT_EQ(reply.replies_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(reply.replies(i).error().code(), UNAVAILABLE);
    EXPECT_EQ(reply.replies(i).client_id(), batch.requests(i).client_id());
  }
  Status ready = Wait<Status>([&](auto cb) { client->Ready({}, cb); });
  EXPECT_EQ(ready.code(), parley::Code::kUnavailable);
}

TEST_F(LogicGrpcTest, BalancesOverTheListedNodes) {
  LogicNode a, b;
  auto reg_a = Register(a, "l1");
  auto reg_b = Register(b, "l2");
  auto client = Client(2);
  for (int i = 0; i < 20; ++i) {
    auto reply = Wait<LoginReply>([&](auto cb) { client->Login({}, {}, cb); });
    EXPECT_EQ(reply.error().code(), UNAUTHENTICATED);  // no such user: logic answered
  }
  EXPECT_EQ(a.fake.call_count(Method::kLogin), 10u);
  EXPECT_EQ(b.fake.call_count(Method::kLogin), 10u);
}

// A caller's calls meet the same logic node from every api and connect
// process, so that its per-user limits and caches there see all of them.
TEST_F(LogicGrpcTest, OneCallersCallsGoToOneNodeFromEveryClient) {
  LogicNode a, b;
  auto reg_a = Register(a, "l1");
  auto reg_b = Register(b, "l2");
  auto first = Client(2);
  auto second = Client(2);
  auto calls_on = [](LogicNode& n) { return n.fake.call_count(Method::kGetUser); };
  size_t on_a = 0, on_b = 0;
  for (int user = 1; user <= 40; ++user) {
    CallContext ctx;
    ctx.user_id = static_cast<uint64_t>(user);
    ctx.session_key = "s";
    const size_t a_before = calls_on(a);
    for (LogicGrpcClient* c : {first.get(), second.get()}) {
      for (int i = 0; i < 3; ++i) Wait<GetUserReply>([&](auto cb) { c->GetUser(ctx, {}, cb); });
    }
    const size_t here = calls_on(a) - a_before;
    EXPECT_TRUE(here == 0 || here == 6) << "user " << user << " split over both nodes";
    (here == 6 ? on_a : on_b) += 1;
  }
  EXPECT_GT(on_a, 5u) << "users are spread over the nodes";
  EXPECT_GT(on_b, 5u) << "users are spread over the nodes";

  // A socket's calls (route key made of its token) meet the node of the
  // same login's HTTP calls.
  CallContext http;
  http.token = "tok-route";
  CallContext socket;
  socket.user_id = 1;
  socket.session_key = "s";
  socket.route_key = StableHash64("tok-route");
  const size_t http_on_a_before = calls_on(a);
  for (int i = 0; i < 3; ++i) {
    Wait<GetUserReply>([&](auto cb) { first->GetUser(http, {}, cb); });
    Wait<GetUserReply>([&](auto cb) { second->GetUser(socket, {}, cb); });
  }
  const size_t together = calls_on(a) - http_on_a_before;
  EXPECT_TRUE(together == 0 || together == 6) << "one login split over both nodes";

  // A login goes by the account it tries.
  LoginRequest login;
  login.set_username("carol");
  for (int i = 0; i < 6; ++i) Wait<LoginReply>([&](auto cb) { first->Login({}, login, cb); });
  const size_t logins_a = a.fake.call_count(Method::kLogin);
  EXPECT_TRUE(logins_a == 0 || logins_a == 6) << logins_a;
}

TEST_F(LogicGrpcTest, FollowsNodesJoiningAndLeaving) {
  LogicNode a, b;
  auto reg_a = Register(a, "l1");
  auto client = Client(1);
  auto reg_b = Register(b, "l2");
  ASSERT_TRUE(WaitUntil([&] { return client->peer_count() == 2; }));
  reg_a->Close();
  ASSERT_TRUE(WaitUntil([&] { return client->peer_count() == 1; }));
  for (int i = 0; i < 4; ++i) Wait<LoginReply>([&](auto cb) { client->Login({}, {}, cb); });
  EXPECT_EQ(a.fake.call_count(Method::kLogin), 0u);
  EXPECT_EQ(b.fake.call_count(Method::kLogin), 4u);
}

TEST_F(LogicGrpcTest, ReadyWhenALogicNodeAnswers) {
  LogicNode node;
  auto reg = Register(node, "l1");
  auto client = Client(1);
  Status ready = Wait<Status>([&](auto cb) { client->Ready({}, cb); });
  EXPECT_TRUE(ready.ok()) << ready.message();
  EXPECT_EQ(node.fake.call_count(Method::kAuth), 1u);
}

TEST_F(LogicGrpcTest, AMessageOverTheServersLimitIsRefused) {
  GrpcServerOptions options;
  options.max_message_bytes = 1024;
  LogicNode node(options);
  node.fake.AddToken("tok-1", 7, "sess-7");
  auto reg = Register(node, "l1");
  auto client = Client(1);
  CallContext ctx;
  ctx.token = "tok-1";
  SendBatch batch;
  SendRequest* big = batch.add_requests();
  big->set_client_id("c-1");
  big->set_body(std::string(2000, 'x'));
  auto reply = Wait<SendBatchReply>([&](auto cb) { client->Send(ctx, batch, cb); });
  ASSERT_EQ(reply.replies_size(), 1);
  EXPECT_EQ(reply.replies(0).error().code(), PAYLOAD_TOO_LARGE)
      << reply.replies(0).error().message();
  EXPECT_EQ(node.fake.call_count(Method::kSend), 0u);
}

TEST_F(LogicGrpcTest, CallsBeyondTheServersLimitAreRefusedAtOnce) {
  GrpcServerOptions options;
  options.max_calls_in_flight = 1;
  LogicNode node(options);
  node.fake.AddToken("tok-1", 7, "sess-7");
  node.fake.Hold(Method::kSync);
  auto reg = Register(node, "l1");
  auto client = Client(1);
  CallContext ctx;
  ctx.token = "tok-1";
  auto held = std::make_shared<std::promise<SyncReply>>();
  client->Sync(ctx, {}, [held](SyncReply r) { held->set_value(std::move(r)); });
  ASSERT_TRUE(node.fake.WaitForCalls(Method::kSync, 1));
  auto refused = Wait<SyncReply>([&](auto cb) { client->Sync(ctx, {}, cb); });
  EXPECT_EQ(refused.error().code(), UNAVAILABLE);
  EXPECT_EQ(node.fake.call_count(Method::kSync), 1u);
  node.fake.Release(Method::kSync, SIZE_MAX, true);
  auto future = held->get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_NE(future.get().error().code(), UNAVAILABLE) << "answered by logic";
}

TEST_F(LogicGrpcTest, CallsBeyondTheClientsLimitAreAnsweredAtOnce) {
  LogicNode node;
  node.fake.AddToken("tok-1", 7, "sess-7");
  node.fake.Hold(Method::kSync);
  auto reg = Register(node, "l1");
  LogicGrpcClientOptions options;
  options.max_calls_in_flight = 1;
  auto client = Client(1, options);
  CallContext ctx;
  ctx.token = "tok-1";
  auto held = std::make_shared<std::promise<SyncReply>>();
  client->Sync(ctx, {}, [held](SyncReply r) { held->set_value(std::move(r)); });
  ASSERT_TRUE(node.fake.WaitForCalls(Method::kSync, 1));
  auto refused = Wait<SyncReply>([&](auto cb) { client->Sync(ctx, {}, cb); });
  EXPECT_EQ(refused.error().code(), UNAVAILABLE);
  EXPECT_EQ(node.fake.call_count(Method::kSync), 1u);
  node.fake.Release(Method::kSync, SIZE_MAX, true);
  ASSERT_EQ(held->get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  // Answered calls free their place.
  auto again = Wait<SyncReply>([&](auto cb) { client->Sync(ctx, {}, cb); });
  EXPECT_NE(again.error().code(), UNAVAILABLE);
}

TEST_F(LogicGrpcTest, AServerListensOnAnEphemeralPortAndRefusesBadOptions) {
  logic::testing::FakeLogic fake;
  LogicGrpcServer server(fake, {});
  EXPECT_EQ(server.port(), 0);
  ASSERT_OK(server.Listen("127.0.0.1:0"));
  EXPECT_GT(server.port(), 0);
  EXPECT_FALSE(server.Listen("127.0.0.1:0").ok()) << "once";

  GrpcServerOptions bad;
  bad.max_message_bytes = 0;
  EXPECT_EQ(LogicGrpcServer(fake, bad).Listen("127.0.0.1:0").code(),
            parley::Code::kInvalidArgument);
  // TEST-NET-1: no local interface has it.
  EXPECT_EQ(LogicGrpcServer(fake, {}).Listen("192.0.2.1:0").code(), parley::Code::kUnavailable);
  LogicGrpcClientOptions client;
  client.breaker.failure_threshold = 0;
  EXPECT_EQ(LogicGrpcClient::Create(io_.executor(), discovery_, client).status().code(),
            parley::Code::kInvalidArgument);
}

}  // namespace
}  // namespace parley::rpc
