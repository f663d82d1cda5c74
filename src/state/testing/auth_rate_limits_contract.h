// The contract of state::AuthRateLimits, written once and run against every
// implementation. Instantiate with a factory type F that has
//   state::AuthRateLimits& Node(int i);  // i = 0, 1: two logic nodes' views
// over one fresh, empty set of buckets (the same object for an in-process
// one), built with AuthRateLimitsContractRates() and real time: buckets
// refill as the wall clock goes, so the suite sleeps a little (well under a
// second per test).
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/options.h"
#include "state/auth_rate_limits.h"
#include "support/test_util.h"

namespace parley::state::testing {

// A network bucket of 3 that refills one token every 200 ms, and a failure
// bucket of 2 that refills one every 100 ms.
inline RateLimits AuthRateLimitsContractRates() {
  RateLimits r;
  r.auth_per_sec = 5;
  r.auth_burst = 3;
  r.login_failures_per_sec = 10;
  r.login_failures_burst = 2;
  return r;
}

template <typename F>
class AuthRateLimitsContract : public ::testing::Test {
 protected:
  static constexpr int64_t kNetworkTokenMs = 200;
  static constexpr int kNetworkBurst = 3;
  static constexpr int kFailureBurst = 2;

  AuthRateLimits& node(int i = 0) { return factory_.Node(i); }
  RateDecision Decided(StatusOr<RateDecision> d) {
    EXPECT_TRUE(d.ok()) << d.status().message();
    return d.ok() ? *d : RateDecision{};
  }
  RateDecision TakeNetwork(const std::string& network, int n = 0) {
    return Decided(parley::testing::Wait<StatusOr<RateDecision>>(
        [&](auto cb) { node(n).TakeNetwork(network, cb); }));
  }
  RateDecision CheckFailures(const std::string& account, int n = 0) {
    return Decided(parley::testing::Wait<StatusOr<RateDecision>>(
        [&](auto cb) { node(n).CheckLoginFailures(account, cb); }));
  }
  RateDecision TakeFailure(const std::string& account, int n = 0) {
    return Decided(parley::testing::Wait<StatusOr<RateDecision>>(
        [&](auto cb) { node(n).TakeLoginFailure(account, cb); }));
  }

  F factory_;
};

TYPED_TEST_SUITE_P(AuthRateLimitsContract);

TYPED_TEST_P(AuthRateLimitsContract, ABurstPassesThenTheNextIsRefusedWithARetryAfter) {
  for (int i = 0; i < this->kNetworkBurst; ++i) {
    auto d = this->TakeNetwork("192.0.2.0/24");
    EXPECT_TRUE(d.allowed) << "take " << i;
    EXPECT_EQ(d.retry_after_ms, 0);
  }
  auto refused = this->TakeNetwork("192.0.2.0/24");
  EXPECT_FALSE(refused.allowed);
  // About one token's worth of waiting (the burst took a little time).
  EXPECT_GT(refused.retry_after_ms, 0);
  EXPECT_LE(refused.retry_after_ms, this->kNetworkTokenMs);
  EXPECT_GT(refused.retry_after_ms, this->kNetworkTokenMs / 2);
}

TYPED_TEST_P(AuthRateLimitsContract, TokensComeBackAtTheRate) {
  for (int i = 0; i < this->kNetworkBurst; ++i) ASSERT_TRUE(this->TakeNetwork("net").allowed);
  auto refused = this->TakeNetwork("net");
  ASSERT_FALSE(refused.allowed);
  // Waiting as told gives one token back, and only one: the next take is
  // refused again with about a whole token's wait.
  std::this_thread::sleep_for(std::chrono::milliseconds(refused.retry_after_ms + 20));
  EXPECT_TRUE(this->TakeNetwork("net").allowed);
  auto again = this->TakeNetwork("net");
  EXPECT_FALSE(again.allowed);
  EXPECT_GT(again.retry_after_ms, this->kNetworkTokenMs / 4);
  EXPECT_LE(again.retry_after_ms, this->kNetworkTokenMs);
}

TYPED_TEST_P(AuthRateLimitsContract, BucketsOfDifferentKeysAreIndependent) {
  for (int i = 0; i < this->kNetworkBurst; ++i) ASSERT_TRUE(this->TakeNetwork("a").allowed);
  ASSERT_FALSE(this->TakeNetwork("a").allowed);
  EXPECT_TRUE(this->TakeNetwork("b").allowed);
  // A network and an account of the same name are different buckets.
  EXPECT_TRUE(this->CheckFailures("a").allowed);
  for (int i = 0; i < this->kFailureBurst; ++i) ASSERT_TRUE(this->TakeFailure("alice").allowed);
  EXPECT_FALSE(this->CheckFailures("alice").allowed);
  EXPECT_TRUE(this->CheckFailures("bob").allowed);
  EXPECT_TRUE(this->TakeFailure("bob").allowed);
}

TYPED_TEST_P(AuthRateLimitsContract, CheckingTheFailureBucketTakesNothing) {
  for (int i = 0; i < 3 * this->kFailureBurst; ++i) {
    auto d = this->CheckFailures("carol");
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.retry_after_ms, 0);
  }
  for (int i = 0; i < this->kFailureBurst; ++i) EXPECT_TRUE(this->TakeFailure("carol").allowed);
  auto checked = this->CheckFailures("carol");
  EXPECT_FALSE(checked.allowed);
  EXPECT_GT(checked.retry_after_ms, 0);
  EXPECT_LE(checked.retry_after_ms, 100);
  // A failure counted on an empty bucket is refused, and says when.
  auto taken = this->TakeFailure("carol");
  EXPECT_FALSE(taken.allowed);
  EXPECT_GT(taken.retry_after_ms, 0);
}

// Two logic nodes draw from one bucket: together they get the burst, not
// twice it, and a refusal on one is a refusal on the other.
TYPED_TEST_P(AuthRateLimitsContract, TwoNodesShareEveryBucket) {
  int allowed = 0;
  for (int i = 0; i < 2 * this->kNetworkBurst; ++i) {
    if (this->TakeNetwork("198.51.100.0/24", i % 2).allowed) ++allowed;
  }
  EXPECT_EQ(allowed, this->kNetworkBurst);
  ASSERT_TRUE(this->TakeFailure("dave", 0).allowed);
  ASSERT_TRUE(this->TakeFailure("dave", 1).allowed);
  EXPECT_FALSE(this->CheckFailures("dave", 0).allowed);
  EXPECT_FALSE(this->CheckFailures("dave", 1).allowed);
}

REGISTER_TYPED_TEST_SUITE_P(AuthRateLimitsContract, ABurstPassesThenTheNextIsRefusedWithARetryAfter,
                            TokensComeBackAtTheRate, BucketsOfDifferentKeysAreIndependent,
                            CheckingTheFailureBucketTakesNothing, TwoNodesShareEveryBucket);

}  // namespace parley::state::testing
