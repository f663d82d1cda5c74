// CircuitBreaker on a manual clock: when it opens, when a probe may go, and
// what closes or reopens it.
#include "rpc/circuit_breaker.h"

#include <gtest/gtest.h>

namespace parley::rpc {
namespace {

using State = CircuitBreaker::State;

class CircuitBreakerTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  CircuitBreaker breaker_{{.failure_threshold = 3, .open_ms = 1000}, clock_};
};

TEST_F(CircuitBreakerTest, OpensAfterThresholdConsecutiveFailures) {
  breaker_.OnFailure();
  breaker_.OnFailure();
  EXPECT_TRUE(breaker_.AllowsCalls());
  breaker_.OnFailure();
  EXPECT_EQ(breaker_.state(), State::kOpen);
  EXPECT_FALSE(breaker_.AllowsCalls());
}

TEST_F(CircuitBreakerTest, ASuccessResetsTheCount) {
  breaker_.OnFailure();
  breaker_.OnFailure();
  breaker_.OnSuccess();
  breaker_.OnFailure();
  breaker_.OnFailure();
  EXPECT_EQ(breaker_.state(), State::kClosed);
}

TEST_F(CircuitBreakerTest, OneProbeAfterTheCoolDown) {
  for (int i = 0; i < 3; ++i) breaker_.OnFailure();
  clock_.AdvanceMs(999);
  EXPECT_FALSE(breaker_.TryStartProbe());
  clock_.AdvanceMs(1);
  EXPECT_TRUE(breaker_.TryStartProbe());
  EXPECT_EQ(breaker_.state(), State::kHalfOpen);
  EXPECT_FALSE(breaker_.AllowsCalls()) << "callers wait for the probe's outcome";
  EXPECT_FALSE(breaker_.TryStartProbe()) << "one probe at a time";
}

TEST_F(CircuitBreakerTest, ASuccessfulProbeCloses) {
  for (int i = 0; i < 3; ++i) breaker_.OnFailure();
  clock_.AdvanceMs(1000);
  ASSERT_TRUE(breaker_.TryStartProbe());
  breaker_.OnSuccess();
  EXPECT_EQ(breaker_.state(), State::kClosed);
  EXPECT_TRUE(breaker_.AllowsCalls());
  // Closed again from scratch: it takes the full threshold to reopen.
  breaker_.OnFailure();
  breaker_.OnFailure();
  EXPECT_TRUE(breaker_.AllowsCalls());
}

TEST_F(CircuitBreakerTest, AFailedProbeReopensForAnotherCoolDown) {
  for (int i = 0; i < 3; ++i) breaker_.OnFailure();
  clock_.AdvanceMs(1000);
  ASSERT_TRUE(breaker_.TryStartProbe());
  clock_.AdvanceMs(500);
  breaker_.OnFailure();
  EXPECT_EQ(breaker_.state(), State::kOpen);
  clock_.AdvanceMs(999);
  EXPECT_FALSE(breaker_.TryStartProbe());
  clock_.AdvanceMs(1);
  EXPECT_TRUE(breaker_.TryStartProbe());
}

TEST_F(CircuitBreakerTest, LateAnswersWhileOpenChangeNothing) {
  for (int i = 0; i < 3; ++i) breaker_.OnFailure();
  breaker_.OnSuccess();  // a call made before it opened
  EXPECT_EQ(breaker_.state(), State::kOpen);
  clock_.AdvanceMs(600);
  breaker_.OnFailure();  // does not restart the cool-down
  clock_.AdvanceMs(400);
  EXPECT_TRUE(breaker_.TryStartProbe());
}

}  // namespace
}  // namespace parley::rpc
