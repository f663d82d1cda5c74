// LogCollector: a consumer group's handler for tests. Records what the group
// is handed, checks that handler calls never overlap (the log promises one
// batch at a time per group), and optionally acks each batch at once.
//
// Thread-safe. Must outlive every log it is subscribed to (the log may call
// the handler until it is closed).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "queue/message_log.h"

namespace parley::queue {

class LogCollector {
 public:
  // `log` is where auto-acks go; it may be null when `auto_ack` is false.
  LogCollector(MessageLog* log, std::string group, bool auto_ack)
      : log_(log), group_(std::move(group)), auto_ack_(auto_ack) {}

  std::function<void(std::vector<LogEntry>)> Handler() {
    return [this](std::vector<LogEntry> batch) {
      EXPECT_EQ(in_handler_.fetch_add(1), 0) << group_ << ": handler calls overlap";
      std::vector<uint64_t> offsets;
      for (const auto& e : batch) offsets.push_back(e.offset);
      {
        std::lock_guard lock(mu_);
        batch_sizes_.push_back(batch.size());
        for (auto& e : batch) entries_.push_back(std::move(e));
      }
      cv_.notify_all();
      if (auto_ack_) log_->Ack(group_, offsets);
      in_handler_.fetch_sub(1);
    };
  }

  // Waits until at least `n` entries arrived (at most 10 s); returns them all.
  std::vector<LogEntry> WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return entries_.size() >= n; }))
        << group_ << ": got " << entries_.size() << " of " << n;
    return entries_;
  }
  // Offsets and msg ids of everything received, in order of arrival.
  std::vector<uint64_t> Offsets() {
    std::lock_guard lock(mu_);
    std::vector<uint64_t> v;
    for (const auto& e : entries_) v.push_back(e.offset);
    return v;
  }
  std::vector<uint64_t> MsgIds() {
    std::lock_guard lock(mu_);
    std::vector<uint64_t> v;
    for (const auto& e : entries_) v.push_back(e.message.msg_id());
    return v;
  }
  size_t Count() {
    std::lock_guard lock(mu_);
    return entries_.size();
  }
  std::vector<size_t> BatchSizes() {
    std::lock_guard lock(mu_);
    return batch_sizes_;
  }

 private:
  MessageLog* const log_;
  const std::string group_;
  const bool auto_ack_;
  std::atomic<int> in_handler_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  // State below is protected by mu_.
  std::vector<LogEntry> entries_;
  std::vector<size_t> batch_sizes_;
};

}  // namespace parley::queue
