#include "state/embedded/embedded_auth_rate_limits.h"

namespace parley::state {

EmbeddedAuthRateLimits::EmbeddedAuthRateLimits(const Clock& clock, const RateLimits& rates)
    : networks_(clock, rates.auth_per_sec, rates.auth_burst),
      login_failures_(clock, rates.login_failures_per_sec, rates.login_failures_burst) {}

void EmbeddedAuthRateLimits::TakeNetwork(std::string network,
                                         Callback<StatusOr<RateDecision>> done) {
  RateDecision d;
  {
    std::lock_guard lock(mu_);
    d.allowed = networks_.TryTake(network, &d.retry_after_ms);
  }
  if (d.allowed) d.retry_after_ms = 0;
  done(d);
}

void EmbeddedAuthRateLimits::CheckLoginFailures(std::string account,
                                                Callback<StatusOr<RateDecision>> done) {
  RateDecision d;
  {
    std::lock_guard lock(mu_);
    d.allowed = login_failures_.CanTake(account, &d.retry_after_ms);
  }
  if (d.allowed) d.retry_after_ms = 0;
  done(d);
}

void EmbeddedAuthRateLimits::TakeLoginFailure(std::string account,
                                              Callback<StatusOr<RateDecision>> done) {
  RateDecision d;
  {
    std::lock_guard lock(mu_);
    d.allowed = login_failures_.TryTake(account, &d.retry_after_ms);
  }
  if (d.allowed) d.retry_after_ms = 0;
  done(d);
}

size_t EmbeddedAuthRateLimits::size() const {
  std::lock_guard lock(mu_);
  return networks_.size() + login_failures_.size();
}

}  // namespace parley::state
