// CallbackThread: one thread that runs posted callbacks in order. Test doubles
// (fault-injecting wrappers, fakes) use it to answer on a thread of their own,
// as the seams promise, instead of calling back on the caller's thread, which
// could deadlock a caller that holds a lock across the call.
//
// Thread-safe. The destructor runs everything posted so far, then joins; a
// callback must not destroy its CallbackThread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace parley::testing {

class CallbackThread {
 public:
  CallbackThread() : thread_([this] { Run(); }) {}
  ~CallbackThread() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  CallbackThread(const CallbackThread&) = delete;
  CallbackThread& operator=(const CallbackThread&) = delete;

  void Post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(fn));
    }
    cv_.notify_all();
  }

  // Blocks until every callback posted before the call has run. Must not be
  // called from a callback.
  void Drain() {
    std::unique_lock lock(mu_);
    const uint64_t target = taken_ + queue_.size();
    idle_cv_.wait(lock, [&] { return done_ >= target; });
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything ran
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      ++taken_;
      lock.unlock();
      fn();
      lock.lock();
      ++done_;
      idle_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  // State below is protected by mu_.
  std::deque<std::function<void()>> queue_;
  uint64_t taken_ = 0;  // callbacks taken off the queue
  uint64_t done_ = 0;   // callbacks that returned
  bool stopping_ = false;

  std::thread thread_;  // last: starts after the state above exists
};

}  // namespace parley::testing
