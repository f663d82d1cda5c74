#include "state/embedded/embedded_auth_rate_limits.h"

#include <mutex>

namespace parley::state {

EmbeddedAuthRateLimits::EmbeddedAuthRateLimits(const Clock& clock, const RateLimits& rates)
    : networks_(clock, rates.auth_per_sec, rates.auth_burst),
      login_failures_(clock, rates.login_failures_per_sec, rates.login_failures_burst) {}

namespace {

// Runs `take` under `mu`; an allowed answer carries no retry-after.
template <typename Take>
void Decide(std::mutex& mu, Take take, const Callback<StatusOr<RateDecision>>& done) {
  RateDecision d;
  {
    std::lock_guard lock(mu);
    d.allowed = take(&d.retry_after_ms);
  }
  if (d.allowed) d.retry_after_ms = 0;
  done(d);
}

}  // namespace

void EmbeddedAuthRateLimits::TakeNetwork(std::string network,
                                         Callback<StatusOr<RateDecision>> done) {
  Decide(
      mu_, [&](int64_t* retry) { return networks_.TryTake(network, retry); }, done);
}

void EmbeddedAuthRateLimits::CheckLoginFailures(std::string account,
                                                Callback<StatusOr<RateDecision>> done) {
  Decide(
      mu_, [&](int64_t* retry) { return login_failures_.CanTake(account, retry); }, done);
}

void EmbeddedAuthRateLimits::TakeLoginFailure(std::string account,
                                              Callback<StatusOr<RateDecision>> done) {
  Decide(
      mu_, [&](int64_t* retry) { return login_failures_.TryTake(account, retry); }, done);
}

size_t EmbeddedAuthRateLimits::size() const {
  std::lock_guard lock(mu_);
  return networks_.size() + login_failures_.size();
}

}  // namespace parley::state
