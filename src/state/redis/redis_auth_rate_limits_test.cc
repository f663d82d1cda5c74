// What RedisAuthRateLimits adds to the seam's contract: Redis holds a bucket
// only while it is not full (one key per active network or account, expiring
// once refilled), a look takes nothing and writes nothing, and when Redis
// cannot be reached the answer is UNAVAILABLE, never "allowed".
#include "state/redis/redis_auth_rate_limits.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "state/redis/redis_state_keys.h"
#include "state/redis/redis_test_env.h"
#include "state/testing/auth_rate_limits_contract.h"

namespace parley::state {
namespace {

using parley::testing::Wait;
using testing::RedisTestEnv;

StatusOr<RateDecision> Take(AuthRateLimits& l, const std::string& network) {
  return Wait<StatusOr<RateDecision>>([&](auto cb) { l.TakeNetwork(network, cb); });
}

TEST(RedisAuthRateLimitsTest, ABucketIsAKeyOnlyUntilItHasRefilled) {
  RedisTestEnv env;
  const RateLimits rates = testing::AuthRateLimitsContractRates();  // 3, 5/s
  RedisAuthRateLimits limits(env.NewClient(), env.Options(), rates);
  const RedisStateKeys keys(env.Options().key_prefix, env.Options().partitions);

  // Looking at a failure bucket writes nothing.
  ASSERT_OK(Wait<StatusOr<RateDecision>>([&](auto cb) {
              limits.CheckLoginFailures("erin", cb);
            }).status());
  EXPECT_EQ(env.Run({"DBSIZE"}).integer, 0);

  ASSERT_TRUE(Take(limits, "203.0.113.0/24")->allowed);
  const std::string key = keys.AuthNetwork("203.0.113.0/24");
  EXPECT_EQ(key, "parley:{an:203.0.113.0/24}:authrate");
  // One token short of full: it expires when that token is back (200 ms),
  // never later than a full refill (burst / rate = 600 ms).
  int64_t ttl = env.Run({"PTTL", key}).integer;
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 200);
  EXPECT_EQ(env.Run({"DBSIZE"}).integer, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(ttl + 50));
  EXPECT_EQ(env.Run({"EXISTS", key}).integer, 0);
  // ... and a forgotten bucket is a full one.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Take(limits, "203.0.113.0/24")->allowed);
  EXPECT_FALSE(Take(limits, "203.0.113.0/24")->allowed);
  EXPECT_LE(env.Run({"PTTL", key}).integer, 600);
}

TEST(RedisAuthRateLimitsTest, AnUnreachableRedisIsUnavailableNeverAllowed) {
  RedisTestEnv env;
  redis::ClientOptions o;
  o.port = parley::testing::FreeLoopbackPort();  // nothing listens there
  auto client = redis::RedisClient::Create(env.executor(), o);
  RedisAuthRateLimits limits(client, env.Options(), testing::AuthRateLimitsContractRates());
  auto taken = Take(limits, "192.0.2.0/24");
  EXPECT_EQ(taken.status().code(), Code::kUnavailable);
  auto checked =
      Wait<StatusOr<RateDecision>>([&](auto cb) { limits.CheckLoginFailures("frank", cb); });
  EXPECT_EQ(checked.status().code(), Code::kUnavailable);
  client->Close();
}

}  // namespace
}  // namespace parley::state
