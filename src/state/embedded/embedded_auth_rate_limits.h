// AuthRateLimits in this process's memory: embedded mode, where every logic
// facade runs in one process. Two KeyedRateLimiters on the given clock's
// monotonic time (each sweeps its refilled buckets every 4096 takes, so
// memory follows the keys active lately). Thread-safe: one mutex guards
// both; callbacks run inline, outside it. `clock` must outlive the object.
#pragma once

#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/options.h"
#include "common/rate_limiter.h"
#include "state/auth_rate_limits.h"

namespace parley::state {

class EmbeddedAuthRateLimits final : public AuthRateLimits {
 public:
  // The rates and bursts of rate.auth_* and rate.login_failures_*.
  EmbeddedAuthRateLimits(const Clock& clock, const RateLimits& rates);

  void TakeNetwork(std::string network, Callback<StatusOr<RateDecision>> done) override;
  void CheckLoginFailures(std::string account, Callback<StatusOr<RateDecision>> done) override;
  void TakeLoginFailure(std::string account, Callback<StatusOr<RateDecision>> done) override;

  // Buckets held (those not yet swept), for tests.
  size_t size() const;

 private:
  mutable std::mutex mu_;
  KeyedRateLimiter<std::string> networks_;        // guarded by mu_
  KeyedRateLimiter<std::string> login_failures_;  // guarded by mu_
};

}  // namespace parley::state
