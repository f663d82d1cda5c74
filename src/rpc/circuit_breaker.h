// CircuitBreaker: the health of one peer as its callers see it, so that calls
// to a peer that keeps failing are answered at once instead of each waiting
// for a connect or a deadline.
//
//   closed --(failure_threshold consecutive failures)--> open
//   open --(open_ms elapsed; TryStartProbe)--> half-open: one probe, no calls
//   half-open --(probe succeeds)--> closed;  --(probe fails)--> open again
//
// Only closed admits calls. The owner sends the probe (a cheap call of its
// own, not a caller's) when TryStartProbe says so, and reports its outcome
// like any other. Outcomes reported while open (late answers of calls made
// before it opened) do not change the state; a success reported while
// half-open closes it.
//
// Thread-safe. `clock` (monotonic time) must outlive the breaker.
#pragma once

#include <cstdint>
#include <mutex>

#include "common/clock.h"

namespace parley::rpc {

struct CircuitBreakerOptions {
  // Consecutive failures (unavailable, deadline exceeded) that open it.
  uint32_t failure_threshold = 5;
  // How long it stays open before a probe may go.
  uint32_t open_ms = 1'000;
};

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  CircuitBreaker(CircuitBreakerOptions options, const Clock& clock);

  // True while closed: calls may go to the peer.
  bool AllowsCalls() const;
  // True exactly once per cool-down: the breaker was open for open_ms and is
  // now half-open; the caller must send one probe and report its outcome.
  bool TryStartProbe();
  void OnSuccess();
  void OnFailure();
  State state() const;

 private:
  const CircuitBreakerOptions options_;
  const Clock& clock_;
  mutable std::mutex mu_;
  // State below is protected by mu_.
  State state_ = State::kClosed;
  uint32_t failures_ = 0;     // consecutive, while closed
  int64_t opened_at_ns_ = 0;  // monotonic, while open
};

const char* StateName(CircuitBreaker::State state);

}  // namespace parley::rpc
