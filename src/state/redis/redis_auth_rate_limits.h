// AuthRateLimits in Redis (cluster mode), shared by every logic node.
//
// A bucket is a hash {t: tokens, ts: last refill, µs of the Redis server's
// clock} under "<prefix>:{an:<network>}:authrate" (a client network) or
// "<prefix>:{af:<account>}:loginfail" (an account's failed logins), each in
// a slot of its own. One script per call reads the server's TIME, refills,
// and takes (or, for CheckLoginFailures, only looks) atomically, so takes
// through any number of nodes never exceed the bucket, and nodes whose
// clocks disagree still agree on the bucket. A take sets the key's expiry to
// the time the bucket needs to refill (at most burst/per_sec, capped at a
// day): a full bucket is an absent key, so Redis holds one key per network
// or account active within that time. A missing bucket is a full one.
//
// Errors: UNAVAILABLE when Redis cannot be reached (the caller fails
// closed, see auth_rate_limits.h), INTERNAL for an unexpected reply; the
// messages never quote Redis.
//
// Thread-safe; no state of its own besides immutable options. Callbacks run
// on the Redis client's strand. The object must outlive its calls'
// callbacks.
#pragma once

#include <memory>

#include "common/options.h"
#include "redis/redis_client.h"
#include "state/auth_rate_limits.h"
#include "state/redis/redis_state_keys.h"
#include "state/redis/redis_state_options.h"

namespace parley::state {

class RedisAuthRateLimits final : public AuthRateLimits {
 public:
  // The rates and bursts of rate.auth_* and rate.login_failures_*; every
  // logic node of a cluster must use the same (they are the cluster's
  // config file's).
  RedisAuthRateLimits(std::shared_ptr<redis::RedisClient> client, RedisStateOptions options,
                      const RateLimits& rates);

  void TakeNetwork(std::string network, Callback<StatusOr<RateDecision>> done) override;
  void CheckLoginFailures(std::string account, Callback<StatusOr<RateDecision>> done) override;
  void TakeLoginFailure(std::string account, Callback<StatusOr<RateDecision>> done) override;

 private:
  struct Bucket {
    double per_sec;
    double burst;
  };
  void Run(std::string key, const Bucket& bucket, bool take, Callback<StatusOr<RateDecision>> done);

  std::shared_ptr<redis::RedisClient> client_;
  const RedisStateKeys keys_;
  const Bucket network_, login_failures_;
  const redis::Script script_;
};

}  // namespace parley::state
