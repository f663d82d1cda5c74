#include "common/connection_limiter.h"

#include <sys/resource.h>

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(ConnectionLimiterTest, CapsEachKeyAndGivesPlacesBackWhenLeasesEnd) {
  ConnectionLimiter limiter({.total = 10, .per_key = 2});
  auto a1 = limiter.Admit("10.0.0.1");
  auto a2 = limiter.Admit("10.0.0.1");
  ASSERT_TRUE(a1.ok() && a2.ok());
  auto a3 = limiter.Admit("10.0.0.1");
  ASSERT_FALSE(a3.ok());
  EXPECT_EQ(a3.status().code(), Code::kRateLimited);
  EXPECT_TRUE(limiter.Admit("10.0.0.2").ok()) << "another address has its own count";
  EXPECT_EQ(limiter.count("10.0.0.1"), 2u);
  EXPECT_EQ(limiter.total(), 2u) << "the refused and the destroyed lease hold nothing";

  a1->reset();
  EXPECT_TRUE(limiter.Admit("10.0.0.1").ok());
  {
    ConnectionLimiter::Lease moved = std::move(*a2);
    EXPECT_EQ(limiter.count("10.0.0.1"), 1u);
  }
  EXPECT_EQ(limiter.count("10.0.0.1"), 0u);
  EXPECT_EQ(limiter.total(), 0u);
  EXPECT_EQ(limiter.keys(), 0u) << "no entry is kept for an address without connections";
}

TEST(ConnectionLimiterTest, TheTotalCapRefusesAsUnavailable) {
  ConnectionLimiter limiter({.total = 2, .per_key = 0});
  std::vector<ConnectionLimiter::Lease> held;
  for (int i = 0; i < 2; ++i) {
    auto lease = limiter.Admit("a", i == 0);
    ASSERT_TRUE(lease.ok());
    held.push_back(std::move(*lease));
  }
  auto refused = limiter.Admit("b");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  EXPECT_EQ(limiter.count("a"), 1u) << "a lease admitted without its key is not counted by it";
  held.clear();
  EXPECT_EQ(limiter.total(), 0u);
  EXPECT_EQ(limiter.keys(), 0u);
}

TEST(ConnectionLimiterTest, ZeroMeansNoCap) {
  ConnectionLimiter limiter({});
  std::vector<ConnectionLimiter::Lease> held;
  for (int i = 0; i < 1000; ++i) held.push_back(limiter.Admit("x").value());
  EXPECT_EQ(limiter.count("x"), 1000u);
}

TEST(ConnectionLimiterTest, ConcurrentAdmitsNeverPassTheCap) {
  ConnectionLimiter limiter({.total = 0, .per_key = 50});
  std::vector<std::thread> threads;
  std::vector<std::vector<ConnectionLimiter::Lease>> held(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        auto lease = limiter.Admit("k");
        if (lease.ok()) held[t].push_back(std::move(*lease));
      }
    });
  }
  for (auto& t : threads) t.join();
  size_t admitted = 0;
  for (auto& h : held) admitted += h.size();
  EXPECT_EQ(admitted, 50u);
  EXPECT_EQ(limiter.count("k"), 50u);
}

TEST(ConnectionLimiterTest, TheOpenFileLimitLowersTheTotalCap) {
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > 100'000'000) GTEST_SKIP();
  const uint32_t files = static_cast<uint32_t>(lim.rlim_cur);
  EXPECT_EQ(ConnectionLimiter::CapByOpenFiles(10, 1), 10u) << "a cap below the limit stays";
  EXPECT_LT(ConnectionLimiter::CapByOpenFiles(files, 1), files);
  EXPECT_LT(ConnectionLimiter::CapByOpenFiles(0, 2), files / 2) << "0: the limit alone";
}

}  // namespace
}  // namespace parley
