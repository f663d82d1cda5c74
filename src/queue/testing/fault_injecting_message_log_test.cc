// FaultInjectingMessageLog over a SqliteMessageLog: a failed append delivers
// nothing and its retry is delivered exactly once; held appends wait, then go
// on in order; Close releases what is held.
#include "queue/testing/fault_injecting_message_log.h"

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "queue/sqlite/sqlite_message_log.h"
#include "queue/testing/log_collector.h"
#include "queue/testing/log_messages.h"
#include "support/test_util.h"

namespace parley::queue {
namespace {

using namespace std::chrono_literals;
using parley::testing::TempDir;
using parley::testing::Wait;

class FaultInjectingMessageLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.log_redelivery_ms = 1000;
    auto l = SqliteMessageLog::Open(path(), options_, clock_);
    ASSERT_TRUE(l.ok()) << l.status().message();
    target_ = std::move(l).value();
    log_ = std::make_unique<FaultInjectingMessageLog>(target_.get());
  }
  // Collectors ack through the wrapper: delivery stops before it goes.
  void TearDown() override {
    if (log_) log_->Close();
  }
  std::string path() const { return dir_.path() + "/log.db"; }

  // A group on the wrapper that acks what it gets.
  LogCollector& Subscribe(const std::string& group) {
    collectors_.push_back(std::make_unique<LogCollector>(log_.get(), group, true));
    log_->Subscribe(group, 100, false, collectors_.back()->Handler());
    return *collectors_.back();
  }
  Status Append(std::vector<rpc::ChatMessage> batch) {
    return Wait<Status>([&](auto cb) { log_->Append(std::move(batch), cb); });
  }
  // Lets redelivery happen if anything were unacked, and gives delivery time.
  void Settle() {
    clock_.AdvanceMs(options_.log_redelivery_ms * 3);
    std::this_thread::sleep_for(200ms);
  }

  TempDir dir_;
  StorageOptions options_;
  ManualClock clock_;
  std::vector<std::unique_ptr<LogCollector>> collectors_;
  std::unique_ptr<SqliteMessageLog> target_;
  std::unique_ptr<FaultInjectingMessageLog> log_;  // destroyed before its target
};

TEST_F(FaultInjectingMessageLogTest, AFailedAppendDeliversNothingOfItsBatch) {
  LogCollector& c = Subscribe("push");
  log_->FailNextAppends(1);
  Status failed = Append(LogMsgs(1, 3));
  EXPECT_EQ(failed.code(), Code::kUnavailable);
  EXPECT_EQ(failed.message(), "injected append failure");
  EXPECT_EQ(log_->AppendsReachedTarget(), 0u);
  EXPECT_EQ(log_->Lag("push"), 0u);

  ASSERT_OK(Append(LogMsgs(4, 2)));
  c.WaitFor(2);
  Settle();
  EXPECT_EQ(c.MsgIds(), Ids(4, 5));
  EXPECT_EQ(log_->AppendsReachedTarget(), 1u);
}

TEST_F(FaultInjectingMessageLogTest, AnAppendRetriedAfterFailuresIsDeliveredExactlyOnce) {
  LogCollector& c = Subscribe("persist");
  log_->FailNextAppends(2, Status::Internal("commit failed"));
  const auto batch = LogMsgs(1, 3);
  std::vector<Code> attempts;
  for (;;) {
    Status s = Append(batch);
    attempts.push_back(s.code());
    if (s.ok() || attempts.size() == 5) break;
  }
  EXPECT_EQ(attempts, (std::vector<Code>{Code::kInternal, Code::kInternal, Code::kOk}));
  c.WaitFor(3);
  Settle();
  EXPECT_EQ(c.MsgIds(), Ids(1, 3));
  EXPECT_EQ(log_->AppendsReachedTarget(), 1u);
}

TEST_F(FaultInjectingMessageLogTest, HeldAppendsWaitThenReachTheTargetInOrder) {
  LogCollector& c = Subscribe("push");
  log_->HoldAppends();
  std::mutex mu;
  std::vector<int> finished;  // guarded by mu
  auto append = [&](int tag, std::vector<rpc::ChatMessage> batch) {
    log_->Append(std::move(batch), [&, tag](Status s) {
      EXPECT_OK(s);
      std::lock_guard lock(mu);
      finished.push_back(tag);
    });
  };
  append(1, LogMsgs(1, 2));
  append(2, LogMsgs(3, 1));
  append(3, LogMsgs(4, 2));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(log_->HeldAppends(), 3u);
  EXPECT_EQ(log_->AppendsReachedTarget(), 0u);
  EXPECT_EQ(c.Count(), 0u);
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(finished.empty());
  }

  log_->ReleaseAppends();
  EXPECT_EQ(log_->HeldAppends(), 0u);
  EXPECT_EQ(log_->AppendsReachedTarget(), 3u);
  c.WaitFor(5);
  EXPECT_EQ(c.MsgIds(), Ids(1, 5));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(finished, (std::vector<int>{1, 2, 3}));
  }
  // No longer holding: the next append goes straight through.
  ASSERT_OK(Append(LogMsgs(6, 1)));
  EXPECT_EQ(log_->AppendsReachedTarget(), 4u);
}

TEST_F(FaultInjectingMessageLogTest, CloseCompletesHeldAppendsFirst) {
  log_->HoldAppends();
  Status result = Status::Internal("not run");
  log_->Append(LogMsgs(1, 2), [&](Status s) { result = std::move(s); });
  log_->Close();
  EXPECT_OK(result);

  // They are in the file: a fresh log over it delivers them.
  log_.reset();
  target_.reset();
  auto reopened = SqliteMessageLog::Open(path(), options_, clock_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  target_ = std::move(reopened).value();
  log_ = std::make_unique<FaultInjectingMessageLog>(target_.get());
  LogCollector& c = Subscribe("late");
  c.WaitFor(2);
  EXPECT_EQ(c.MsgIds(), Ids(1, 2));
}

TEST_F(FaultInjectingMessageLogTest, InjectedFailuresAnswerOnAnotherThread) {
  log_->FailNextAppends(1);
  auto caller = std::this_thread::get_id();
  auto answered_on = Wait<std::thread::id>([&](auto cb) {
    log_->Append(LogMsgs(1, 1), [cb](Status) { cb(std::this_thread::get_id()); });
  });
  EXPECT_NE(answered_on, caller);
}

}  // namespace
}  // namespace parley::queue
