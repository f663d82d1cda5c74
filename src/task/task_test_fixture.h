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

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/options.h"
#include "queue/sqlite/sqlite_message_log.h"
#include "queue/testing/message_log_wrapper.h"
#include "store/sqlite/sqlite_store.h"
#include "store/testing/chat_messages.h"
#include "store/testing/fault_injecting_store.h"
#include "support/test_util.h"

namespace parley::task {

// Messages with ids unique across a test; built by the store room's builders.
inline rpc::ChatMessage PrivateMsg(uint64_t from, uint64_t to, uint64_t seq) {
  return store::PrivateMsg(from * 1'000'000 + to * 1'000 + seq, from, to, seq,
                           1'700'000'000'000 + static_cast<int64_t>(seq));
}
inline rpc::ChatMessage GroupMsg(uint64_t group, uint64_t from, uint64_t seq) {
  uint64_t id = 900'000'000 + group * 1'000 + seq;
  return store::GroupMsg(id, group, seq, from, 1'700'000'000'000 + static_cast<int64_t>(seq),
                         fmt::format("c{}", id));
}

// Forwards to a log, counting the entries whose handler call returned.
class CountingLog final : public queue::MessageLogWrapper {
 public:
  using MessageLogWrapper::MessageLogWrapper;
  void Subscribe(std::string group, uint32_t max_batch, bool from_tail,
                 std::function<void(std::vector<queue::LogEntry>)> handler) override {
    MessageLogWrapper::Subscribe(
        std::move(group), max_batch, from_tail,
        [this, handler = std::move(handler)](std::vector<queue::LogEntry> entries) {
          size_t n = entries.size();
          handler(std::move(entries));
          handled_ += n;
        });
  }
  uint64_t handled() const { return handled_; }

 private:
  std::atomic<uint64_t> handled_{0};
};

// Opens the embedded log and store; consumers reach them through
// consumer_log_ and consumer_store_, which observe and inject failures.
class TaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Redelivery happens only when a test moves the clock.
    storage_.log_redelivery_ms = 1000;
    auto log = queue::SqliteMessageLog::Open(dir_.path() + "/log.db", storage_, clock_);
    ASSERT_TRUE(log.ok()) << log.status().message();
    log_ = std::move(log).value();
    consumer_log_ = std::make_unique<CountingLog>(log_.get());
    auto store = store::SqliteStore::Open(dir_.path() + "/store.db", storage_);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
    consumer_store_ = std::make_unique<store::FaultInjectingStore>(store_.get());
  }

  // Stops the log and the store, and runs the failures the wrapper still
  // owes, so that nothing calls into a consumer afterwards.
  void CloseLogAndStore() {
    log_->Close();
    store_->Close();
    consumer_store_.reset();
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
  std::unique_ptr<store::FaultInjectingStore> consumer_store_;
};

}  // namespace parley::task
