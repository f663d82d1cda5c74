// What the task tier's tests share: the real embedded log and store in a
// temp dir, message builders, and a wait for conditions met on other
// threads. Test-only.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/options.h"
#include "queue/sqlite/sqlite_message_log.h"
#include "store/sqlite/sqlite_store.h"
#include "support/test_util.h"

namespace parley::task {

// A message of `conv` with the fields the consumers read; the callers below
// address it.
inline rpc::ChatMessage Msg(std::string conv, uint64_t msg_id, uint64_t from, uint64_t seq) {
  rpc::ChatMessage m;
  m.set_conv(std::move(conv));
  m.set_msg_id(msg_id);
  m.set_seq(seq);
  m.set_from(from);
  m.set_body("hello " + std::to_string(seq));
  m.set_ts(1'700'000'000'000 + static_cast<int64_t>(seq));
  m.set_client_id("c" + std::to_string(msg_id));
  return m;
}

// A private message from `from` to `to`, seq `seq` of p:min:max.
inline rpc::ChatMessage PrivateMsg(uint64_t from, uint64_t to, uint64_t seq) {
  rpc::ChatMessage m =
      Msg("p:" + std::to_string(std::min(from, to)) + ":" + std::to_string(std::max(from, to)),
          from * 1'000'000 + to * 1'000 + seq, from, seq);
  m.set_to_user(to);
  return m;
}

inline rpc::ChatMessage GroupMsg(uint64_t group, uint64_t from, uint64_t seq) {
  rpc::ChatMessage m =
      Msg("g:" + std::to_string(group), 900'000'000 + group * 1'000 + seq, from, seq);
  m.set_to_group(group);
  return m;
}

// Forwards to a log, counting the entries whose handler call returned.
class CountingLog final : public queue::MessageLog {
 public:
  explicit CountingLog(queue::MessageLog& log) : log_(log) {}
  void Append(std::vector<rpc::ChatMessage> batch, Callback<Status> done) override {
    log_.Append(std::move(batch), std::move(done));
  }
  void Subscribe(std::string group, uint32_t max_batch, bool from_tail,
                 std::function<void(std::vector<queue::LogEntry>)> handler) override {
    log_.Subscribe(std::move(group), max_batch, from_tail,
                   [this, handler = std::move(handler)](std::vector<queue::LogEntry> entries) {
                     size_t n = entries.size();
                     handler(std::move(entries));
                     handled_ += n;
                   });
  }
  void Ack(const std::string& group, const std::vector<uint64_t>& offsets) override {
    log_.Ack(group, offsets);
  }
  uint64_t Lag(const std::string& group) const override { return log_.Lag(group); }
  void Close() override { log_.Close(); }
  uint64_t handled() const { return handled_; }

 private:
  queue::MessageLog& log_;
  std::atomic<uint64_t> handled_{0};
};

class TaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Redelivery happens only when a test moves the clock.
    storage_.log_redelivery_ms = 1000;
    auto log = queue::SqliteMessageLog::Open(dir_.path() + "/log.db", storage_, clock_);
    ASSERT_TRUE(log.ok()) << log.status().message();
    log_ = std::move(log).value();
    consumer_log_ = std::make_unique<CountingLog>(*log_);
    auto store = store::SqliteStore::Open(dir_.path() + "/store.db", storage_);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
  }

  Status Append(std::vector<rpc::ChatMessage> batch) {
    return testing::Wait<Status>([&](auto cb) { log_->Append(std::move(batch), cb); });
  }

  // Polls `done` until it holds (true) or 10 s passed (false).
  static bool WaitUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  StorageOptions storage_;
  Metrics metrics_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<queue::SqliteMessageLog> log_;
  // What consumers subscribe to: the log, counting the entries they handled.
  std::unique_ptr<CountingLog> consumer_log_;
};

}  // namespace parley::task
