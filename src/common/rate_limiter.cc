#include "common/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace parley {

namespace {
double Refill(double tokens, double rate, double burst, int64_t elapsed_ns) {
  if (elapsed_ns <= 0) return tokens;
  return std::min(burst, tokens + rate * static_cast<double>(elapsed_ns) / 1e9);
}
}  // namespace

bool TokenBucket::TryTake(double rate, double burst, int64_t now_ns, int64_t* retry_after_ms) {
  tokens_ = Refill(tokens_, rate, burst, now_ns - last_ns_);
  last_ns_ = std::max(last_ns_, now_ns);
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  if (retry_after_ms) {
    double wait_s = rate > 0 ? (1.0 - tokens_) / rate : 3600.0;
    *retry_after_ms = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait_s * 1000)));
  }
  return false;
}

bool TokenBucket::CanTake(double rate, double burst, int64_t now_ns,
                          int64_t* retry_after_ms) const {
  double tokens = Refill(tokens_, rate, burst, now_ns - last_ns_);
  if (tokens >= 1.0) return true;
  if (retry_after_ms) {
    double wait_s = rate > 0 ? (1.0 - tokens) / rate : 3600.0;
    *retry_after_ms = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait_s * 1000)));
  }
  return false;
}

bool TokenBucket::IsFull(double rate, double burst, int64_t now_ns) const {
  return Refill(tokens_, rate, burst, now_ns - last_ns_) >= burst;
}

}  // namespace parley
