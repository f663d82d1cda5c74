// SlowSessionLookups: a StoreWrapper whose FindSession answers late: the
// target reads the row at once, and the answer is held for a set delay. Tests
// of session revocation use it to widen the window in which a lookup has read
// a row that a concurrent DeleteSession then removes.
//
// Thread-safe. Does not own the target, which must outlive the wrapper.
// Delayed answers run on the wrapper's own timer thread; the destructor waits
// for every one of them to run.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "store/testing/store_wrapper.h"

namespace parley::store {

class SlowSessionLookups final : public StoreWrapper {
 public:
  explicit SlowSessionLookups(Store* target);
  ~SlowSessionLookups() override;

  // From now on, FindSession answers `delay` after the target did (0: at once).
  void SetDelay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }

  void FindSession(std::string token_hash, Callback<StatusOr<SessionRecord>> done) override;

 private:
  std::atomic<int64_t> delay_ms_{0};
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace parley::store
