// Time is injected so that timeouts, token expiry and rate limits are tested
// without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace parley {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time, ms since the Unix epoch: message timestamps, token expiry.
  virtual int64_t NowMs() const = 0;
  // Monotonic time in ns: rate limiters, latencies. Never goes back.
  virtual int64_t MonotonicNs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t MonotonicNs() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms = 1'700'000'000'000) : ms_(now_ms), ns_(0) {}
  int64_t NowMs() const override { return ms_.load(); }
  int64_t MonotonicNs() const override { return ns_.load(); }
  void AdvanceMs(int64_t ms) {
    ms_ += ms;
    ns_ += ms * 1'000'000;
  }

 private:
  std::atomic<int64_t> ms_;
  std::atomic<int64_t> ns_;
};

}  // namespace parley
