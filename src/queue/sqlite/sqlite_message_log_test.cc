// What SqliteMessageLog does beyond message_log.h (see sqlite_message_log.h):
// dense offsets, the persisted cursor, trimming, throttling, the in-memory
// tail and the file. What message_log.h promises is tested by the contract
// suite (sqlite_message_log_contract_test.cc).
#include "queue/sqlite/sqlite_message_log.h"

#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "queue/testing/log_collector.h"
#include "queue/testing/log_messages.h"
#include "support/test_util.h"

namespace parley::queue {
namespace {

using namespace std::chrono_literals;
using parley::testing::TempDir;
using parley::testing::Wait;

std::vector<uint64_t> Range(uint64_t lo, uint64_t hi) {
  std::vector<uint64_t> v;
  for (uint64_t o = lo; o <= hi; ++o) v.push_back(o);
  return v;
}

class SqliteMessageLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.log_redelivery_ms = 1000;
    Reopen();
  }

  void Reopen() {
    log_.reset();
    auto l = SqliteMessageLog::Open(path(), options_, clock_);
    ASSERT_TRUE(l.ok()) << l.status().message();
    log_ = std::move(l).value();
  }
  std::string path() const { return dir_.path() + "/log.db"; }

  // Collectors outlive the log (declared before it), so no handler runs on a
  // destroyed one.
  LogCollector& NewCollector(std::string group, bool auto_ack) {
    collectors_.push_back(std::make_unique<LogCollector>(log_.get(), std::move(group), auto_ack));
    return *collectors_.back();
  }

  Status Append(std::vector<rpc::ChatMessage> batch) {
    return Wait<Status>([&](auto cb) { log_->Append(std::move(batch), cb); });
  }

  int64_t StoredRows() {
    auto db = sqlite::SqliteDb::Open(path(), sqlite::SqliteDb::Mode::kReader);
    EXPECT_TRUE(db.ok());
    auto st = (*db)->Prepare("SELECT COUNT(*) FROM log");
    EXPECT_EQ(st->Step(), SQLITE_ROW);
    return st->Int(0);
  }

  // Polls `pred` for up to 10 s.
  template <typename Pred>
  bool Eventually(Pred pred) {
    for (int i = 0; i < 1000; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }

  TempDir dir_;
  StorageOptions options_;
  ManualClock clock_;
  std::vector<std::unique_ptr<LogCollector>> collectors_;
  std::unique_ptr<SqliteMessageLog> log_;
};

TEST_F(SqliteMessageLogTest, OffsetsCountFromOne) {
  ASSERT_OK(Append(LogMsgs(1, 3)));
  ASSERT_OK(Append(LogMsgs(4, 7)));
  LogCollector& c = NewCollector("push", true);
  log_->Subscribe("push", 4, false, c.Handler());
  auto got = c.WaitFor(10);
  ASSERT_EQ(got.size(), 10u);
  for (uint64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(got[i].offset, i + 1);
    EXPECT_EQ(got[i].message.msg_id(), i + 1);
  }
  EXPECT_EQ(log_->Lag("never-seen"), 10u);
}

TEST_F(SqliteMessageLogTest, OnlyTheAckedPrefixIsRememberedAcrossAReopen) {
  ASSERT_OK(Append(LogMsgs(1, 5)));
  {
    LogCollector& c = NewCollector("persist", false);
    log_->Subscribe("persist", 10, false, c.Handler());
    c.WaitFor(5);
    log_->Ack("persist", {1, 2, 3, 5});
    log_->Close();
  }
  Reopen();
  EXPECT_EQ(log_->Lag("persist"), 2u);  // its cursor persisted at 3
  LogCollector& c = NewCollector("persist", true);
  log_->Subscribe("persist", 10, false, c.Handler());
  // Acks above the cursor are not persisted: 4 and 5 come again.
  EXPECT_EQ(c.WaitFor(2).size(), 2u);
  EXPECT_EQ(c.Offsets(), (std::vector<uint64_t>{4, 5}));
  ASSERT_OK(Append(LogMsgs(6, 1)));
  c.WaitFor(3);
  EXPECT_EQ(c.Offsets(), (std::vector<uint64_t>{4, 5, 6}));
}

TEST_F(SqliteMessageLogTest, EntriesAckedByEveryGroupAreTrimmed) {
  ASSERT_OK(Append(LogMsgs(1, 50)));
  LogCollector& a = NewCollector("a", true);
  LogCollector& b = NewCollector("b", false);
  log_->Subscribe("a", 16, false, a.Handler());
  log_->Subscribe("b", 16, false, b.Handler());
  a.WaitFor(50);
  b.WaitFor(50);
  std::this_thread::sleep_for(1500ms);  // past a trim interval
  EXPECT_EQ(StoredRows(), 50);          // b has acked nothing
  log_->Ack("b", Range(1, 30));
  EXPECT_TRUE(Eventually([&] { return StoredRows() == 20; })) << StoredRows();
  log_->Ack("b", Range(31, 50));
  EXPECT_TRUE(Eventually([&] { return StoredRows() == 0; })) << StoredRows();
  // "The beginning of the log" for a new group is after what was trimmed.
  EXPECT_EQ(log_->Lag("never-seen"), 0u);
  // Offsets keep growing after the log was emptied, also across a reopen.
  log_->Close();
  Reopen();
  ASSERT_OK(Append(LogMsgs(51, 1)));
  LogCollector& a2 = NewCollector("a", true);
  log_->Subscribe("a", 16, false, a2.Handler());
  a2.WaitFor(1);
  EXPECT_EQ(a2.Offsets(), (std::vector<uint64_t>{51}));
  EXPECT_EQ(a2.WaitFor(1)[0].message.msg_id(), 51u);
}

TEST_F(SqliteMessageLogTest, TenThousandMessagesInBatches) {
  LogCollector& c = NewCollector("persist", true);
  log_->Subscribe("persist", 256, false, c.Handler());
  std::vector<std::future<Status>> pending;
  for (uint64_t b = 0; b < 100; ++b) {
    auto promise = std::make_shared<std::promise<Status>>();
    pending.push_back(promise->get_future());
    log_->Append(LogMsgs(b * 100 + 1, 100),
                 [promise](Status s) { promise->set_value(std::move(s)); });
  }
  for (auto& f : pending) ASSERT_OK(f.get());
  auto got = c.WaitFor(10'000);
  ASSERT_EQ(got.size(), 10'000u);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].offset, i + 1);
    ASSERT_EQ(got[i].message.msg_id(), i + 1);
  }
  for (size_t n : c.BatchSizes()) EXPECT_LE(n, 256u);
  EXPECT_TRUE(Eventually([&] { return log_->Lag("persist") == 0; }));
}

TEST_F(SqliteMessageLogTest, EntriesBeyondTheMemoryTailAreReadBack) {
  // More than the in-memory tail holds (65536) before anyone subscribes: the
  // oldest entries come from SQLite, the rest from memory, in one order.
  constexpr uint64_t kTotal = 70'000;
  std::vector<std::future<Status>> pending;
  for (uint64_t b = 0; b < kTotal / 1000; ++b) {
    auto promise = std::make_shared<std::promise<Status>>();
    pending.push_back(promise->get_future());
    log_->Append(LogMsgs(b * 1000 + 1, 1000),
                 [promise](Status s) { promise->set_value(std::move(s)); });
  }
  for (auto& f : pending) ASSERT_OK(f.get());
  LogCollector& c = NewCollector("late", true);
  log_->Subscribe("late", 1000, false, c.Handler());
  auto got = c.WaitFor(kTotal);
  ASSERT_EQ(got.size(), kTotal);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].offset, i + 1);
    ASSERT_EQ(got[i].message.msg_id(), i + 1);
  }
}

TEST_F(SqliteMessageLogTest, AGroupThatDoesNotAckIsThrottled) {
  ASSERT_OK(Append(LogMsgs(1, 100)));
  LogCollector& c = NewCollector("slow", false);
  log_->Subscribe("slow", 2, false, c.Handler());
  c.WaitFor(32);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(c.Count(), 32u);  // 16 batches of 2 in flight
  log_->Ack("slow", Range(1, 32));
  c.WaitFor(64);
  EXPECT_EQ(c.Offsets(), Range(1, 64));
}

TEST_F(SqliteMessageLogTest, AppendedEntriesAreDurableOnceDone) {
  ASSERT_OK(Append(LogMsgs(1, 3)));
  // No Close(): the file is read by a fresh connection while the log runs.
  EXPECT_EQ(StoredRows(), 3);
  log_->Close();
  Reopen();
  LogCollector& c = NewCollector("late", true);
  log_->Subscribe("late", 10, false, c.Handler());
  c.WaitFor(3);
  EXPECT_EQ(c.Offsets(), Range(1, 3));
}

TEST_F(SqliteMessageLogTest, AppendAfterCloseFails) {
  log_->Close();
  EXPECT_EQ(Append(LogMsgs(1, 1)).code(), Code::kUnavailable);
  ASSERT_OK(Append({}));
}

}  // namespace
}  // namespace parley::queue
