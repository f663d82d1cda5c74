// AuthRateLimits: the token buckets that slow down password guessing and
// mass registration, shared by every logic node, so that the limits hold for
// the whole cluster as for one process whichever node a call meets.
//   - one bucket per client network (rate.auth_per_sec, rate.auth_burst),
//     shared by register and login;
//   - one bucket per account (the lower-case username) of failed logins
//     (rate.login_failures_per_sec, rate.login_failures_burst): checked
//     before an attempt, taken from only when it fails.
// A bucket holds at most `burst` tokens and gains `per_sec` a second; a
// bucket that has refilled is forgotten, so memory follows the keys active
// within the last burst/per_sec seconds. Embedded mode: EmbeddedAuthRateLimits
// (in memory); cluster mode: RedisAuthRateLimits (one hash per bucket, on the
// Redis server's clock).
//
// Every method returns at once and calls `done` exactly once, on a thread of
// the implementation (possibly the caller's, before returning).
// Implementations are thread-safe; an implementation must outlive its calls'
// callbacks.
//
// An error (UNAVAILABLE when the shared buckets cannot be reached) means
// nothing is known about the bucket. Callers fail closed: an attempt whose
// bucket could not be consulted is refused (503 with Retry-After), because
// failing open would lift the password-guessing limit for as long as an
// attacker can keep Redis busy or away, and a cluster without Redis cannot
// log anyone in anyway (sessions live there too). See docs/security.md.
#pragma once

#include <cstdint>
#include <string>

#include "common/callback.h"
#include "common/status.h"

namespace parley::state {

struct RateDecision {
  bool allowed = true;
  // When not allowed: the wait (ms, at least 1) until the bucket has a token.
  int64_t retry_after_ms = 0;
};

class AuthRateLimits {
 public:
  virtual ~AuthRateLimits() = default;

  // Takes one token from the bucket of client network `network` (register
  // and login attempts); not allowed when it is empty.
  virtual void TakeNetwork(std::string network, Callback<StatusOr<RateDecision>> done) = 0;
  // Whether the failed-login bucket of `account` has a token, without taking
  // it (asked before the attempt).
  virtual void CheckLoginFailures(std::string account, Callback<StatusOr<RateDecision>> done) = 0;
  // Takes one token from the failed-login bucket of `account` (after a
  // failed attempt); not allowed when it was empty already.
  virtual void TakeLoginFailure(std::string account, Callback<StatusOr<RateDecision>> done) = 0;
};

}  // namespace parley::state
