#include "rpc/circuit_breaker.h"

#include <algorithm>

namespace parley::rpc {

CircuitBreaker::CircuitBreaker(CircuitBreakerOptions options, const Clock& clock)
    : options_(options), clock_(clock) {}

bool CircuitBreaker::AllowsCalls() const {
  std::lock_guard lock(mu_);
  return state_ == State::kClosed;
}

bool CircuitBreaker::TryStartProbe() {
  std::lock_guard lock(mu_);
  if (state_ != State::kOpen) return false;
  if (clock_.MonotonicNs() - opened_at_ns_ < int64_t{options_.open_ms} * 1'000'000) return false;
  state_ = State::kHalfOpen;
  return true;
}

void CircuitBreaker::OnSuccess() {
  std::lock_guard lock(mu_);
  if (state_ == State::kOpen) return;
  state_ = State::kClosed;
  failures_ = 0;
}

void CircuitBreaker::OnFailure() {
  std::lock_guard lock(mu_);
  switch (state_) {
    case State::kOpen:
      return;
    case State::kHalfOpen:
      break;
    case State::kClosed:
      // A threshold of 0 is taken as 1: a breaker that never opens is not
      // a breaker.
      if (++failures_ < std::max<uint32_t>(options_.failure_threshold, 1)) return;
      break;
  }
  state_ = State::kOpen;
  failures_ = 0;
  opened_at_ns_ = clock_.MonotonicNs();
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

const char* StateName(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

}  // namespace parley::rpc
