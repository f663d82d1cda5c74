#include "common/rate_limiter.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(RateLimiter, AllowsTheBurstThenTheRate) {
  ManualClock clock;
  KeyedRateLimiter<int> limiter(clock, /*rate=*/10, /*burst=*/3);
  int64_t retry = 0;
  EXPECT_TRUE(limiter.TryTake(1, &retry));
  EXPECT_TRUE(limiter.TryTake(1, &retry));
  EXPECT_TRUE(limiter.TryTake(1, &retry));
  EXPECT_FALSE(limiter.TryTake(1, &retry));
  EXPECT_EQ(retry, 100);  // one token per 100 ms
  clock.AdvanceMs(100);
  EXPECT_TRUE(limiter.TryTake(1, &retry));
  EXPECT_FALSE(limiter.TryTake(1, &retry));
}

TEST(RateLimiter, KeysAreIndependent) {
  ManualClock clock;
  KeyedRateLimiter<std::string> limiter(clock, 1, 1);
  int64_t retry = 0;
  EXPECT_TRUE(limiter.TryTake("a", &retry));
  EXPECT_FALSE(limiter.TryTake("a", &retry));
  EXPECT_TRUE(limiter.TryTake("b", &retry));
}

TEST(RateLimiter, RefillStopsAtTheBurst) {
  ManualClock clock;
  KeyedRateLimiter<int> limiter(clock, 1000, 2);
  int64_t retry = 0;
  clock.AdvanceMs(60'000);
  EXPECT_TRUE(limiter.TryTake(1, &retry));
  EXPECT_TRUE(limiter.TryTake(1, &retry));
  EXPECT_FALSE(limiter.TryTake(1, &retry));
}

TEST(RateLimiter, SweepForgetsRefilledBuckets) {
  ManualClock clock;
  KeyedRateLimiter<int> limiter(clock, 10, 5);
  int64_t retry = 0;
  for (int k = 0; k < 100; ++k) limiter.TryTake(k, &retry);
  EXPECT_EQ(limiter.size(), 100u);
  clock.AdvanceMs(1000);
  limiter.Sweep();
  EXPECT_EQ(limiter.size(), 0u);
}

}  // namespace
}  // namespace parley
