// LogicGrpcClient when logic nodes fail: a node stopped mid-run, a node that
// hangs (its circuit breaker opens, answers fast, probes after the
// cool-down, and closes when the node is back).
#include <chrono>

#include <gtest/gtest.h>

#include "discovery/memory/memory_discovery.h"
#include "rpc/logic_grpc_client.h"
#include "rpc/logic_grpc_server.h"
#include "rpc/testing/grpc_test_env.h"

namespace parley::rpc {
namespace {

using logic::CallContext;
using logic::testing::Method;
using parley::testing::Wait;
using testing::Blackhole;
using testing::LogicNode;
using testing::Loopback;
using testing::RegisterNode;
using testing::WaitUntil;
using State = CircuitBreaker::State;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class LogicGrpcFailoverTest : public ::testing::Test {
 protected:
  std::unique_ptr<LogicGrpcClient> Client(size_t expected_peers, LogicGrpcClientOptions options,
                                          const Clock* clock = nullptr) {
    auto client = LogicGrpcClient::Create(io_.executor(), discovery_, std::move(options), clock);
    EXPECT_TRUE(client.ok()) << client.status().message();
    if (!client.ok()) return nullptr;
    std::unique_ptr<LogicGrpcClient> c = std::move(client).value();
    EXPECT_TRUE(WaitUntil([&] { return c->peer_count() == expected_peers; }));
    return c;
  }
  static discovery::NodeInfo Info(const std::string& id, int port) {
    discovery::NodeInfo n;
    n.node_id = id;
    n.role = "logic";
    n.address = Loopback(port);
    return n;
  }

  testing::IoThread io_;
  discovery::MemoryDiscovery discovery_{io_.executor()};
};

TEST_F(LogicGrpcFailoverTest, CallsMoveToTheOtherNodeWhenOneStops) {
  LogicNode a, b;
  for (LogicNode* n : {&a, &b}) n->fake.AddToken("tok-1", 7, "sess-7");
  const uint64_t bob_a = a.fake.AddUser("bob", "password1");
  const uint64_t bob_b = b.fake.AddUser("bob", "password1");
  ASSERT_EQ(bob_a, bob_b);
  // Both stay listed: discovery has not noticed yet that a is gone.
  auto reg_a = RegisterNode(discovery_, a.info("l1"));
  auto reg_b = RegisterNode(discovery_, b.info("l2"));
  LogicGrpcClientOptions options;
  options.breaker.failure_threshold = 3;
  auto client = Client(2, options);

  CallContext ctx;
  ctx.token = "tok-1";
  int errors = 0;
  size_t a_before_stop = 0;
  size_t b_before_stop = 0;
  for (int i = 0; i < 60; ++i) {
    if (i == 20) {
      a_before_stop = a.fake.call_count(Method::kSend) + a.fake.call_count(Method::kRegister);
      b_before_stop = b.fake.call_count(Method::kSend) + b.fake.call_count(Method::kRegister);
      a.server->Shutdown();
    }
    SendBatch batch;
    SendRequest* r = batch.add_requests();
    r->set_client_id("c-" + std::to_string(i));
    r->set_to_user(bob_a);
    r->set_body("hi");
    auto sent = Wait<SendBatchReply>([&](auto cb) { client->Send(ctx, batch, cb); });
    if (sent.replies_size() != 1 || sent.replies(0).error().code() != OK) ++errors;
    // Register is not repeated once a server may have run it; it still moves
    // when the stopped node refuses the connection.
    RegisterRequest reg;
    reg.set_username("member" + std::to_string(i));
    reg.set_password("password1");
    auto registered = Wait<RegisterReply>([&](auto cb) { client->Register({}, reg, cb); });
    if (registered.error().code() != OK) ++errors;
  }
  EXPECT_EQ(errors, 0);
  const size_t a_total = a.fake.call_count(Method::kSend) + a.fake.call_count(Method::kRegister);
  const size_t b_total = b.fake.call_count(Method::kSend) + b.fake.call_count(Method::kRegister);
  // The registrations (no affinity) alternate, so a took some calls.
  EXPECT_GE(a_before_stop, 10u);
  EXPECT_EQ(a_total, a_before_stop) << "a took no call after it stopped";
  EXPECT_EQ(b_total - b_before_stop, 80u) << "b took every call after the stop";
  EXPECT_EQ(client->breaker_state(a.address()), State::kOpen);
  EXPECT_EQ(client->breaker_state(b.address()), State::kClosed);
}

TEST_F(LogicGrpcFailoverTest, TheBreakerOpensAnswersFastProbesAndClosesWhenTheNodeIsBack) {
  ManualClock clock;
  Blackhole hung;
  const int port = hung.port();
  auto reg = RegisterNode(discovery_, Info("l1", port));
  LogicGrpcClientOptions options;
  options.breaker.failure_threshold = 3;
  options.breaker.open_ms = 1000;
  options.probe_timeout_ms = 3000;
  auto client = Client(1, options, &clock);

  // A hung node: each call waits for its deadline.
  for (int i = 0; i < 3; ++i) {
    CallContext ctx;
    ctx.deadline_ms = NowMs() + 150;
    auto start = std::chrono::steady_clock::now();
    auto reply = Wait<GetUserReply>([&](auto cb) { client->GetUser(ctx, {}, cb); });
    EXPECT_EQ(reply.error().code(), UNAVAILABLE);
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  }
  EXPECT_EQ(client->breaker_state(Loopback(port)), State::kOpen);

  // Open: answered at once, far within the deadline the call would wait.
  CallContext ctx;
  ctx.deadline_ms = NowMs() + 5000;
  auto start = std::chrono::steady_clock::now();
  auto fast = Wait<GetUserReply>([&](auto cb) { client->GetUser(ctx, {}, cb); });
  EXPECT_EQ(fast.error().code(), UNAVAILABLE);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));

  // The node comes back on the same address.
  hung.Close();
  LogicNode back({}, Loopback(port));
  ASSERT_EQ(back.server->port(), port);
  back.fake.AddToken("tok-1", 7, "sess-7");

  // Still open until the cool-down has passed: no probe, no call.
  auto before = Wait<GetUserReply>([&](auto cb) { client->GetUser(ctx, {}, cb); });
  EXPECT_EQ(before.error().code(), UNAVAILABLE);
  EXPECT_EQ(back.fake.call_count(Method::kAuth), 0u);

  // After it, the next call that looks for a peer sends the probe (and,
  // with no other peer, is itself answered at once); the probe closes it.
  clock.AdvanceMs(1000);
  start = std::chrono::steady_clock::now();
  auto during = Wait<GetUserReply>([&](auto cb) { client->GetUser(ctx, {}, cb); });
  EXPECT_EQ(during.error().code(), UNAVAILABLE);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  ASSERT_TRUE(WaitUntil([&] { return client->breaker_state(Loopback(port)) == State::kClosed; }));
  EXPECT_EQ(back.fake.call_count(Method::kAuth), 1u) << "the probe";

  ctx.token = "tok-1";
  auto served = Wait<GetUserReply>([&](auto cb) { client->GetUser(ctx, {}, cb); });
  EXPECT_EQ(served.error().code(), OK) << served.error().message();
}

TEST_F(LogicGrpcFailoverTest, AFailedProbeReopensTheBreaker) {
  ManualClock clock;
  Blackhole hung;
  auto reg = RegisterNode(discovery_, Info("l1", hung.port()));
  LogicGrpcClientOptions options;
  options.breaker.failure_threshold = 1;
  options.breaker.open_ms = 1000;
  options.probe_timeout_ms = 200;
  auto client = Client(1, options, &clock);
  CallContext ctx;
  ctx.deadline_ms = NowMs() + 100;
  Wait<GetUserReply>([&](auto cb) { client->GetUser(ctx, {}, cb); });
  ASSERT_EQ(client->breaker_state(Loopback(hung.port())), State::kOpen);

  clock.AdvanceMs(1000);
  Wait<GetUserReply>([&](auto cb) { client->GetUser({}, {}, cb); });
  EXPECT_EQ(client->breaker_state(Loopback(hung.port())), State::kHalfOpen);
  EXPECT_TRUE(
      WaitUntil([&] { return client->breaker_state(Loopback(hung.port())) == State::kOpen; }));
}

}  // namespace
}  // namespace parley::rpc
