// Later<T>: the answer of a callback-style call, looked at later. For tests
// of calls that answer at once, later, or not yet (a lease that must wait, a
// claim that waits for its owner). Thread-safe: the callback may run on any
// thread.
//
//   auto lease = std::make_shared<Later<StatusOr<SeqLease>>>();
//   allocator.Acquire(claims, lease->callback());
//   EXPECT_FALSE(lease->answered());
//   ...
//   ASSERT_TRUE(lease->WaitAnswered());
//   EXPECT_EQ(lease->value()->first[0], 2u);
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include "common/callback.h"

namespace parley::testing {

template <typename T>
class Later : public std::enable_shared_from_this<Later<T>> {
 public:
  // The callback to hand to the call; it keeps this object alive.
  Callback<T> callback() {
    return [self = this->shared_from_this()](T v) {
      std::lock_guard lock(self->mu_);
      self->value_ = std::move(v);
      self->cv_.notify_all();
    };
  }
  bool answered() {
    std::lock_guard lock(mu_);
    return value_.has_value();
  }
  // Waits up to 10 s for the answer.
  bool WaitAnswered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return value_.has_value(); });
  }
  // The answer; call only once answered.
  T& value() {
    std::lock_guard lock(mu_);
    return *value_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

}  // namespace parley::testing
