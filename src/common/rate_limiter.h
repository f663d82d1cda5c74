// Token buckets: `rate` tokens per second refill up to `burst`.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace parley {

class TokenBucket {
 public:
  TokenBucket(double burst, int64_t now_ns) : tokens_(burst), last_ns_(now_ns) {}
  // Takes one token if there is one. Otherwise returns false and sets
  // `retry_after_ms` to the wait until one is there.
  bool TryTake(double rate, double burst, int64_t now_ns, int64_t* retry_after_ms);
  // Whether TryTake would succeed now, without taking; when not, sets
  // `retry_after_ms` as TryTake does.
  bool CanTake(double rate, double burst, int64_t now_ns, int64_t* retry_after_ms) const;
  // Full again: forgettable.
  bool IsFull(double rate, double burst, int64_t now_ns) const;

 private:
  double tokens_;
  int64_t last_ns_;
};

// One bucket per key (user id, client IP). Not thread-safe: one per owner.
// Buckets that have refilled are dropped by Sweep() so memory follows the
// number of active keys.
template <typename Key>
class KeyedRateLimiter {
 public:
  KeyedRateLimiter(const Clock& clock, double rate, double burst)
      : clock_(clock), rate_(rate), burst_(burst) {}

  bool TryTake(const Key& key, int64_t* retry_after_ms) {
    int64_t now = clock_.MonotonicNs();
    auto it = buckets_.try_emplace(key, burst_, now).first;
    bool ok = it->second.TryTake(rate_, burst_, now, retry_after_ms);
    if (++calls_ % 4096 == 0) Sweep();
    return ok;
  }
  // Whether TryTake would succeed, without taking (a limit on failures:
  // checked before an attempt, taken only when it fails).
  bool CanTake(const Key& key, int64_t* retry_after_ms) const {
    auto it = buckets_.find(key);
    return it == buckets_.end() ||
           it->second.CanTake(rate_, burst_, clock_.MonotonicNs(), retry_after_ms);
  }
  void Sweep() {
    int64_t now = clock_.MonotonicNs();
    std::erase_if(buckets_, [&](const auto& kv) { return kv.second.IsFull(rate_, burst_, now); });
  }
  size_t size() const { return buckets_.size(); }

 private:
  const Clock& clock_;
  double rate_;
  double burst_;
  uint64_t calls_ = 0;
  std::unordered_map<Key, TokenBucket> buckets_;
};

}  // namespace parley
