#include "queue/sqlite/sqlite_message_log.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "support/test_util.h"

namespace parley::queue {
namespace {

using namespace std::chrono_literals;
using parley::testing::TempDir;
using parley::testing::Wait;

rpc::ChatMessage Msg(uint64_t id) {
  rpc::ChatMessage m;
  m.set_msg_id(id);
  m.set_conv("p:1:2");
  m.set_seq(id);
  m.set_from(1);
  m.set_to_user(2);
  m.set_body("hello " + std::to_string(id));
  m.set_ts(1000 + static_cast<int64_t>(id));
  m.set_client_id("c" + std::to_string(id));
  m.set_origin_node("node-a");
  m.set_origin_conn(77);
  return m;
}

std::vector<rpc::ChatMessage> Msgs(uint64_t first, uint64_t n) {
  std::vector<rpc::ChatMessage> v;
  for (uint64_t i = 0; i < n; ++i) v.push_back(Msg(first + i));
  return v;
}

// Collects what a group is handed; optionally acks each batch at once.
class Collector {
 public:
  Collector(MessageLog* log, std::string group, bool auto_ack)
      : log_(log), group_(std::move(group)), auto_ack_(auto_ack) {}

  std::function<void(std::vector<LogEntry>)> Handler() {
    return [this](std::vector<LogEntry> batch) {
      EXPECT_EQ(in_handler_.fetch_add(1), 0) << "handler calls overlap";
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
    EXPECT_TRUE(cv_.wait_for(lock, 10s, [&] { return entries_.size() >= n; }))
        << group_ << ": got " << entries_.size() << " of " << n;
    return entries_;
  }
  std::vector<uint64_t> Offsets() {
    std::lock_guard lock(mu_);
    std::vector<uint64_t> v;
    for (const auto& e : entries_) v.push_back(e.offset);
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
  MessageLog* log_;
  std::string group_;
  bool auto_ack_;
  std::atomic<int> in_handler_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<LogEntry> entries_;
  std::vector<size_t> batch_sizes_;
};

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
  Collector& NewCollector(std::string group, bool auto_ack) {
    collectors_.push_back(std::make_unique<Collector>(log_.get(), std::move(group), auto_ack));
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
  std::vector<std::unique_ptr<Collector>> collectors_;
  std::unique_ptr<SqliteMessageLog> log_;
};

TEST_F(SqliteMessageLogTest, DeliversInOrderInBatches) {
  ASSERT_OK(Append(Msgs(1, 3)));
  ASSERT_OK(Append(Msgs(4, 7)));
  Collector& c = NewCollector("push", true);
  log_->Subscribe("push", 4, false, c.Handler());
  auto got = c.WaitFor(10);
  ASSERT_EQ(got.size(), 10u);
  for (uint64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(got[i].offset, i + 1);
    EXPECT_EQ(got[i].message.msg_id(), i + 1);
  }
  // Every field survives the log, including the routing ones.
  EXPECT_EQ(got[4].message.body(), "hello 5");
  EXPECT_EQ(got[4].message.client_id(), "c5");
  EXPECT_EQ(got[4].message.origin_node(), "node-a");
  EXPECT_EQ(got[4].message.origin_conn(), 77u);
  for (size_t n : c.BatchSizes()) EXPECT_LE(n, 4u);
  EXPECT_TRUE(Eventually([&] { return log_->Lag("push") == 0; }));
  EXPECT_EQ(log_->Lag("never-seen"), 10u);
}

TEST_F(SqliteMessageLogTest, EveryGroupGetsEveryEntry) {
  Collector& push = NewCollector("push", true);
  Collector& persist = NewCollector("persist", true);
  log_->Subscribe("push", 8, false, push.Handler());
  log_->Subscribe("persist", 3, false, persist.Handler());
  for (uint64_t i = 0; i < 20; ++i) ASSERT_OK(Append(Msgs(i * 5 + 1, 5)));
  push.WaitFor(100);
  persist.WaitFor(100);
  EXPECT_EQ(push.Offsets(), Range(1, 100));
  EXPECT_EQ(persist.Offsets(), Range(1, 100));
  for (size_t n : persist.BatchSizes()) EXPECT_LE(n, 3u);
}

TEST_F(SqliteMessageLogTest, LagCountsUnackedEntries) {
  ASSERT_OK(Append(Msgs(1, 6)));
  Collector& c = NewCollector("g", false);
  log_->Subscribe("g", 10, false, c.Handler());
  c.WaitFor(6);
  EXPECT_EQ(log_->Lag("g"), 6u);
  log_->Ack("g", {2, 5});
  EXPECT_EQ(log_->Lag("g"), 4u);
  log_->Ack("g", {1, 2, 99});  // repeats and unknown offsets are ignored
  EXPECT_EQ(log_->Lag("g"), 3u);
  log_->Ack("g", {3, 4, 6});
  EXPECT_EQ(log_->Lag("g"), 0u);
  ASSERT_OK(Append(Msgs(7, 2)));
  EXPECT_EQ(log_->Lag("g"), 2u);
}

TEST_F(SqliteMessageLogTest, UnackedEntriesAreRedeliveredAfterTheTimeout) {
  ASSERT_OK(Append(Msgs(1, 5)));
  Collector& c = NewCollector("g", false);
  log_->Subscribe("g", 10, false, c.Handler());
  c.WaitFor(5);
  log_->Ack("g", {1, 2, 4});
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(c.Count(), 5u);  // the clock has not moved: nothing is redelivered
  clock_.AdvanceMs(999);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(c.Count(), 5u);
  clock_.AdvanceMs(2);
  auto got = c.WaitFor(7);
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[5].offset, 3u);
  EXPECT_EQ(got[5].message.msg_id(), 3u);
  EXPECT_EQ(got[6].offset, 5u);
  // Once acked, nothing comes back again.
  log_->Ack("g", {3, 5});
  EXPECT_EQ(log_->Lag("g"), 0u);
  clock_.AdvanceMs(5000);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(c.Count(), 7u);
}

TEST_F(SqliteMessageLogTest, RedeliveredUntilAcked) {
  ASSERT_OK(Append(Msgs(1, 1)));
  Collector& c = NewCollector("g", false);
  log_->Subscribe("g", 10, false, c.Handler());
  c.WaitFor(1);
  for (size_t round = 2; round <= 4; ++round) {
    clock_.AdvanceMs(1001);
    EXPECT_EQ(c.WaitFor(round).back().offset, 1u);
  }
  log_->Ack("g", {1});
  clock_.AdvanceMs(1001);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(c.Count(), 4u);
}

TEST_F(SqliteMessageLogTest, UnackedEntriesAreRedeliveredAfterReopen) {
  ASSERT_OK(Append(Msgs(1, 5)));
  {
    Collector& c = NewCollector("persist", false);
    log_->Subscribe("persist", 10, false, c.Handler());
    c.WaitFor(5);
    log_->Ack("persist", {1, 2, 3, 5});
    log_->Close();
  }
  Reopen();
  EXPECT_EQ(log_->Lag("persist"), 2u);  // its cursor persisted at 3
  Collector& c = NewCollector("persist", true);
  log_->Subscribe("persist", 10, false, c.Handler());
  // Acks above the cursor are not persisted: 4 and 5 come again.
  EXPECT_EQ(c.WaitFor(2).size(), 2u);
  EXPECT_EQ(c.Offsets(), (std::vector<uint64_t>{4, 5}));
  ASSERT_OK(Append(Msgs(6, 1)));
  c.WaitFor(3);
  EXPECT_EQ(c.Offsets(), (std::vector<uint64_t>{4, 5, 6}));
}

TEST_F(SqliteMessageLogTest, NewGroupStartsAtTheBeginningOrTheTail) {
  ASSERT_OK(Append(Msgs(1, 3)));
  Collector& all = NewCollector("all", true);
  Collector& tail = NewCollector("tail", true);
  log_->Subscribe("all", 10, false, all.Handler());
  log_->Subscribe("tail", 10, true, tail.Handler());
  all.WaitFor(3);
  EXPECT_EQ(log_->Lag("tail"), 0u);
  ASSERT_OK(Append(Msgs(4, 2)));
  all.WaitFor(5);
  tail.WaitFor(2);
  EXPECT_EQ(all.Offsets(), Range(1, 5));
  EXPECT_EQ(tail.Offsets(), Range(4, 5));
  // from_tail only matters the first time: a known group resumes at its cursor.
  log_->Close();
  Reopen();
  ASSERT_OK(Append(Msgs(6, 1)));
  Collector& tail2 = NewCollector("tail", true);
  log_->Subscribe("tail", 10, true, tail2.Handler());
  tail2.WaitFor(1);
  EXPECT_EQ(tail2.Offsets(), (std::vector<uint64_t>{6}));
}

TEST_F(SqliteMessageLogTest, EntriesAckedByEveryGroupAreTrimmed) {
  ASSERT_OK(Append(Msgs(1, 50)));
  Collector& a = NewCollector("a", true);
  Collector& b = NewCollector("b", false);
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
  // Offsets keep growing after the log was emptied, also across a reopen.
  log_->Close();
  Reopen();
  ASSERT_OK(Append(Msgs(51, 1)));
  Collector& a2 = NewCollector("a", true);
  log_->Subscribe("a", 16, false, a2.Handler());
  a2.WaitFor(1);
  EXPECT_EQ(a2.Offsets(), (std::vector<uint64_t>{51}));
  EXPECT_EQ(a2.WaitFor(1)[0].message.msg_id(), 51u);
}

TEST_F(SqliteMessageLogTest, ConcurrentAppendersKeepTheirOwnOrder) {
  constexpr int kThreads = 4, kBatches = 250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<Status>> pending;
      for (int i = 0; i < kBatches; ++i) {
        auto promise = std::make_shared<std::promise<Status>>();
        pending.push_back(promise->get_future());
        // msg_id encodes (thread, index); batches of 1 or 2.
        std::vector<rpc::ChatMessage> batch = {Msg(t * 100'000 + i * 2 + 1)};
        if (i % 2 == 0) batch.push_back(Msg(t * 100'000 + i * 2 + 2));
        log_->Append(std::move(batch), [promise](Status s) { promise->set_value(std::move(s)); });
      }
      for (auto& f : pending) EXPECT_TRUE(f.get().ok());
    });
  }
  for (auto& t : threads) t.join();
  const size_t total = kThreads * (kBatches + kBatches / 2);
  Collector& c = NewCollector("g", true);
  log_->Subscribe("g", 64, false, c.Handler());
  auto got = c.WaitFor(total);
  ASSERT_EQ(got.size(), total);
  std::map<uint64_t, uint64_t> last_per_thread;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].offset, i + 1);
    uint64_t id = got[i].message.msg_id();
    uint64_t& last = last_per_thread[id / 100'000];
    EXPECT_GT(id, last) << "thread " << id / 100'000 << " out of order";
    last = id;
  }
  EXPECT_EQ(last_per_thread.size(), static_cast<size_t>(kThreads));
}

TEST_F(SqliteMessageLogTest, TenThousandMessagesInBatches) {
  Collector& c = NewCollector("persist", true);
  log_->Subscribe("persist", 256, false, c.Handler());
  std::vector<std::future<Status>> pending;
  for (uint64_t b = 0; b < 100; ++b) {
    auto promise = std::make_shared<std::promise<Status>>();
    pending.push_back(promise->get_future());
    log_->Append(Msgs(b * 100 + 1, 100), [promise](Status s) { promise->set_value(std::move(s)); });
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
    log_->Append(Msgs(b * 1000 + 1, 1000),
                 [promise](Status s) { promise->set_value(std::move(s)); });
  }
  for (auto& f : pending) ASSERT_OK(f.get());
  Collector& c = NewCollector("late", true);
  log_->Subscribe("late", 1000, false, c.Handler());
  auto got = c.WaitFor(kTotal);
  ASSERT_EQ(got.size(), kTotal);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].offset, i + 1);
    ASSERT_EQ(got[i].message.msg_id(), i + 1);
  }
}

TEST_F(SqliteMessageLogTest, AGroupThatDoesNotAckIsThrottled) {
  ASSERT_OK(Append(Msgs(1, 100)));
  Collector& c = NewCollector("slow", false);
  log_->Subscribe("slow", 2, false, c.Handler());
  c.WaitFor(32);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(c.Count(), 32u);  // 16 batches of 2 in flight
  log_->Ack("slow", Range(1, 32));
  c.WaitFor(64);
  EXPECT_EQ(c.Offsets(), Range(1, 64));
}

TEST_F(SqliteMessageLogTest, AppendedEntriesAreDurableOnceDone) {
  ASSERT_OK(Append(Msgs(1, 3)));
  // No Close(): the file is read by a fresh connection while the log runs.
  EXPECT_EQ(StoredRows(), 3);
  log_->Close();
  Reopen();
  Collector& c = NewCollector("late", true);
  log_->Subscribe("late", 10, false, c.Handler());
  c.WaitFor(3);
  EXPECT_EQ(c.Offsets(), Range(1, 3));
}

TEST_F(SqliteMessageLogTest, AppendAfterCloseFails) {
  log_->Close();
  EXPECT_EQ(Append(Msgs(1, 1)).code(), Code::kUnavailable);
  ASSERT_OK(Append({}));
}

}  // namespace
}  // namespace parley::queue
