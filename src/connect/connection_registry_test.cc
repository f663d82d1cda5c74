#include "connect/connection_registry.h"

#include <algorithm>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "common/metrics.h"
#include "common/options.h"
#include "connect/ws_session.h"
#include "logic/testing/fake_logic.h"

namespace parley::connect {
namespace {

namespace asio = boost::asio;

// The registry only holds sessions; unconnected ones do for these tests.
class RegistryTest : public ::testing::Test {
 protected:
  std::shared_ptr<WsSession> NewSession(uint64_t conn_id) {
    return std::make_shared<WsSession>(
        *env_, WsSession::Socket(asio::make_strand(io_.get_executor())), conn_id, "rid");
  }
  static std::vector<WsSession*> Ptrs(const std::vector<std::shared_ptr<WsSession>>& v) {
    std::vector<WsSession*> out;
    for (const auto& s : v) out.push_back(s.get());
    std::sort(out.begin(), out.end());
    return out;
  }

  boost::asio::io_context io_;
  Options options_;
  Metrics metrics_;
  ManualClock clock_;
  ConnectionRegistry registry_;
  logic::testing::FakeLogic logic_;  // not called by these tests
  std::unique_ptr<SessionEnv> env_ =
      std::make_unique<SessionEnv>("n1", 1, options_, logic_, metrics_, clock_, registry_);
};

TEST_F(RegistryTest, AddFindRemove) {
  auto a1 = NewSession(1), a2 = NewSession(2), b1 = NewSession(3);
  registry_.Add(10, 1, "key-a1", a1);
  registry_.Add(10, 2, "key-a2", a2);
  registry_.Add(20, 3, "key-b", b1);
  EXPECT_EQ(registry_.size(), 3u);
  EXPECT_EQ(registry_.user_count(), 2u);

  std::vector<ConnectionRegistry::Target> targets;
  registry_.SessionsOf(10, targets);
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].conn_id, 1u);
  EXPECT_EQ(targets[0].session, a1);
  EXPECT_EQ(targets[1].conn_id, 2u);
  registry_.SessionsOf(99, targets);
  EXPECT_TRUE(targets.empty());

  registry_.Remove(10, 1);
  registry_.Remove(10, 1);  // twice: a no-op
  registry_.Remove(77, 1);  // unknown user: a no-op
  registry_.SessionsOf(10, targets);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].session, a2);
  EXPECT_EQ(registry_.size(), 2u);
  registry_.Remove(10, 2);
  EXPECT_EQ(registry_.user_count(), 1u);
  EXPECT_EQ(a1.use_count(), 1) << "the registry let go of removed sessions";
}

TEST_F(RegistryTest, MatchingBySessionKey) {
  auto a1 = NewSession(1), a2 = NewSession(2), a3 = NewSession(3), b = NewSession(4);
  registry_.Add(10, 1, "login-1", a1);
  registry_.Add(10, 2, "login-1", a2);  // two tabs of one login
  registry_.Add(10, 3, "login-2", a3);
  registry_.Add(20, 4, "login-3", b);
  EXPECT_EQ(Ptrs(registry_.Matching(10, "login-1")), Ptrs({a1, a2}));
  EXPECT_EQ(Ptrs(registry_.Matching(10, "")), Ptrs({a1, a2, a3}));
  EXPECT_EQ(Ptrs(registry_.Matching(0, "login-3")), Ptrs({b}));
  EXPECT_TRUE(registry_.Matching(20, "login-1").empty());
  EXPECT_TRUE(registry_.Matching(0, "").empty());
  registry_.Remove(10, 1);
  EXPECT_EQ(Ptrs(registry_.Matching(0, "login-1")), Ptrs({a2}));
  // The key outlives the session that brought it while another holds it.
  EXPECT_EQ(Ptrs(registry_.Matching(10, "login-1")), Ptrs({a2}));
  registry_.Remove(10, 2);
  EXPECT_TRUE(registry_.Matching(0, "login-1").empty());
  EXPECT_TRUE(registry_.Matching(10, "login-1").empty());
  EXPECT_EQ(Ptrs(registry_.All()), Ptrs({a3, b}));
  // A key that comes back after its last session left is held anew.
  auto a4 = NewSession(5);
  registry_.Add(10, 5, "login-1", a4);
  EXPECT_EQ(Ptrs(registry_.Matching(10, "login-1")), Ptrs({a4}));
  EXPECT_EQ(Ptrs(registry_.Matching(0, "login-1")), Ptrs({a4}));
}

TEST_F(RegistryTest, ConcurrentEdits) {
  constexpr int kThreads = 4, kPerThread = 500;
  std::vector<std::shared_ptr<WsSession>> sessions;
  for (int i = 0; i < kThreads * kPerThread; ++i) sessions.push_back(NewSession(i + 1));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<ConnectionRegistry::Target> scratch;
      for (int i = 0; i < kPerThread; ++i) {
        int n = t * kPerThread + i;
        registry_.Add(n % 50 + 1, n + 1, "k" + std::to_string(n % 7), sessions[n]);
        registry_.SessionsOf(n % 50 + 1, scratch);
        if (i % 2 == 0) registry_.Remove(n % 50 + 1, n + 1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(registry_.size(), static_cast<size_t>(kThreads * kPerThread / 2));
  EXPECT_EQ(registry_.All().size(), registry_.size());
}

TEST_F(RegistryTest, AUserAtItsCapIsNotAddedAndScanSeesEveryExpiry) {
  auto a1 = NewSession(1), a2 = NewSession(2), a3 = NewSession(3), b1 = NewSession(4);
  EXPECT_TRUE(registry_.Add(10, 1, "k1", a1, /*expires_at=*/100, /*per_user_max=*/2));
  EXPECT_TRUE(registry_.Add(10, 2, "k2", a2, 200, 2));
  EXPECT_FALSE(registry_.Add(10, 3, "k3", a3, 300, 2));
  EXPECT_TRUE(registry_.Add(20, 4, "k4", b1, 0, 2));
  EXPECT_EQ(registry_.size(), 3u);
  EXPECT_TRUE(registry_.Matching(0, "k3").empty()) << "a refused session is not held";

  std::vector<std::pair<int64_t, uint64_t>> seen;
  registry_.Scan([&](int64_t expires_at, const std::shared_ptr<WsSession>& session) {
    seen.emplace_back(expires_at, session->conn_id());
  });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, uint64_t>>{{0, 4}, {100, 1}, {200, 2}}));

  registry_.Remove(10, 1);
  EXPECT_TRUE(registry_.Add(10, 3, "k3", a3, 300, 2)) << "a removed session frees its place";
}

TEST_F(RegistryTest, RevokedKeysAreRememberedUntilTheyLapseAndBounded) {
  registry_.MarkRevoked("k1", /*now_ms=*/0, /*until_ms=*/100, /*max_revoked=*/2);
  EXPECT_TRUE(registry_.WasRevoked("k1", 99));
  EXPECT_FALSE(registry_.WasRevoked("k1", 100)) << "lapsed";
  EXPECT_FALSE(registry_.WasRevoked("k2", 0)) << "never revoked";

  // Marking again extends; over the bound the oldest mark goes first.
  registry_.MarkRevoked("k1", 50, 500, 2);
  registry_.MarkRevoked("k2", 60, 600, 2);
  EXPECT_TRUE(registry_.WasRevoked("k1", 400)) << "its later mark still holds";
  EXPECT_TRUE(registry_.WasRevoked("k2", 400));
  registry_.MarkRevoked("k3", 70, 700, 2);
  EXPECT_FALSE(registry_.WasRevoked("k1", 400)) << "the oldest, forgotten at the bound";
  EXPECT_TRUE(registry_.WasRevoked("k2", 400));
  EXPECT_TRUE(registry_.WasRevoked("k3", 400));
}

}  // namespace
}  // namespace parley::connect
