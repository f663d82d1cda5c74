// The MessageLog contract suite: what src/queue/message_log.h promises,
// written once and run against every implementation. Behaviour an
// implementation adds (trimming, throttling, its offsets, what it does after
// Close) is tested beside that implementation, not here.
//
// To run it against an implementation, write a factory and instantiate the
// suite in that implementation's test (see
// sqlite/sqlite_message_log_contract_test.cc):
//
//   struct MyLogFactory {
//     static constexpr const char* kName = "MyLog";  // names the instantiation
//     // Opens the log under test: a new, empty log on a test's first call;
//     // on later calls the same log again, as a restarted process would see
//     // it (the suite closes and destroys the previous one first). The factory is
//     // default-constructed once per test and outlives every log it opened.
//     StatusOr<std::unique_ptr<MessageLog>> Open();
//     // The redelivery timeout the log was opened with, in ms (at most 10 s).
//     int64_t RedeliveryMs() const;
//     // Lets `ms` of the log's time pass: a manual clock's advance, or a sleep.
//     void AdvanceMs(int64_t ms);
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(My, MessageLogContractTest, ::testing::Types<MyLogFactory>,
//                                  parley::testing::FactoryName);  // support/factory_name.h
//
// Link parley_queue_testing.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "queue/message_log.h"
#include "queue/testing/log_collector.h"
#include "queue/testing/log_messages.h"
#include "support/test_util.h"

namespace parley::queue {

template <typename Factory>
class MessageLogContractTest : public ::testing::Test {
 protected:
  // How long a test waits to be confident that something does not happen.
  static constexpr auto kQuiet = std::chrono::milliseconds(200);

  void SetUp() override { Reopen(); }
  // Handlers ack through log_, which may be a wrapper over a log the factory
  // owns: delivery must stop before log_ goes.
  void TearDown() override { CloseLog(); }

  // Closes the log once (the contract does not say Close is idempotent).
  void CloseLog() {
    if (log_ && !closed_) log_->Close();
    closed_ = true;
  }
  // Closes and destroys the log and opens it again, as after a restart.
  void Reopen() {
    CloseLog();
    log_.reset();
    auto l = factory_.Open();
    ASSERT_TRUE(l.ok()) << l.status().message();
    log_ = std::move(l).value();
    closed_ = false;
  }

  // A collector that outlives every log of the test.
  LogCollector& NewCollector(std::string group, bool auto_ack) {
    collectors_.push_back(std::make_unique<LogCollector>(log_.get(), std::move(group), auto_ack));
    return *collectors_.back();
  }
  LogCollector& Subscribe(const std::string& group, uint32_t max_batch, bool from_tail,
                          bool auto_ack) {
    LogCollector& c = NewCollector(group, auto_ack);
    log_->Subscribe(group, max_batch, from_tail, c.Handler());
    return c;
  }

  Status Append(std::vector<rpc::ChatMessage> batch) {
    return parley::testing::Wait<Status>([&](auto cb) { log_->Append(std::move(batch), cb); });
  }

  // Polls `pred` for up to 10 s.
  template <typename Pred>
  static bool Eventually(Pred pred) {
    for (int i = 0; i < 1000; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
  }

  // Offsets of the entries whose msg id is in `ids`.
  static std::vector<uint64_t> OffsetsOf(const std::vector<LogEntry>& entries,
                                         const std::vector<uint64_t>& ids) {
    std::vector<uint64_t> offsets;
    for (const auto& e : entries) {
      if (std::find(ids.begin(), ids.end(), e.message.msg_id()) != ids.end()) {
        offsets.push_back(e.offset);
      }
    }
    return offsets;
  }

  // Declared in this order so that the log goes first, then whatever the
  // factory owns (a wrapped log, a clock), then the handlers' collectors.
  std::vector<std::unique_ptr<LogCollector>> collectors_;
  Factory factory_;
  std::unique_ptr<MessageLog> log_;
  bool closed_ = false;
};

TYPED_TEST_SUITE_P(MessageLogContractTest);

TYPED_TEST_P(MessageLogContractTest, DeliversInLogOrderInBatchesOfAtMostMaxBatch) {
  ASSERT_OK(this->Append(LogMsgs(1, 3)));
  ASSERT_OK(this->Append(LogMsgs(4, 7)));
  LogCollector& c = this->Subscribe("push", 4, false, true);
  auto got = c.WaitFor(10);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(c.MsgIds(), Ids(1, 10));
  for (size_t i = 1; i < got.size(); ++i) {
    EXPECT_GT(got[i].offset, got[i - 1].offset) << "offsets increase along the log";
  }
  // Every field survives the log, the routing ones included.
  EXPECT_EQ(got[4].message.SerializeAsString(), LogMsg(5).SerializeAsString());
  for (size_t n : c.BatchSizes()) {
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, 4u);
  }
  EXPECT_TRUE(this->Eventually([&] { return this->log_->Lag("push") == 0; }));
}

TYPED_TEST_P(MessageLogContractTest, EveryGroupGetsEveryEntry) {
  LogCollector& push = this->Subscribe("push", 8, false, true);
  LogCollector& persist = this->Subscribe("persist", 3, false, true);
  for (uint64_t i = 0; i < 20; ++i) ASSERT_OK(this->Append(LogMsgs(i * 5 + 1, 5)));
  push.WaitFor(100);
  persist.WaitFor(100);
  EXPECT_EQ(push.MsgIds(), Ids(1, 100));
  EXPECT_EQ(persist.MsgIds(), Ids(1, 100));
  EXPECT_EQ(push.Offsets(), persist.Offsets());
  for (size_t n : persist.BatchSizes()) EXPECT_LE(n, 3u);
}

TYPED_TEST_P(MessageLogContractTest, LagCountsEntriesAppendedButNotAcked) {
  ASSERT_OK(this->Append(LogMsgs(1, 6)));
  // A group never seen starts at the beginning: everything is its lag.
  EXPECT_EQ(this->log_->Lag("never-seen"), 6u);
  LogCollector& c = this->Subscribe("g", 10, false, false);
  auto got = c.WaitFor(6);
  EXPECT_EQ(this->log_->Lag("g"), 6u);  // delivered is not acked
  this->log_->Ack("g", this->OffsetsOf(got, {2, 5}));
  EXPECT_EQ(this->log_->Lag("g"), 4u);
  this->log_->Ack("g", this->OffsetsOf(got, {1, 2}));  // 2 again: counted once
  EXPECT_EQ(this->log_->Lag("g"), 3u);
  this->log_->Ack("g", this->OffsetsOf(got, {3, 4, 6}));
  EXPECT_EQ(this->log_->Lag("g"), 0u);
  ASSERT_OK(this->Append(LogMsgs(7, 2)));
  EXPECT_EQ(this->log_->Lag("g"), 2u);  // counted once `done` ran
}

TYPED_TEST_P(MessageLogContractTest, UnackedEntriesAreRedeliveredAfterTheTimeoutOnly) {
  const int64_t timeout = this->factory_.RedeliveryMs();
  ASSERT_OK(this->Append(LogMsgs(1, 5)));
  LogCollector& c = this->Subscribe("g", 10, false, false);
  auto got = c.WaitFor(5);
  this->log_->Ack("g", this->OffsetsOf(got, {1, 2, 4}));
  this->factory_.AdvanceMs(timeout / 2);
  std::this_thread::sleep_for(this->kQuiet);
  EXPECT_EQ(c.Count(), 5u) << "redelivered before the timeout";
  this->factory_.AdvanceMs(timeout);
  got = c.WaitFor(7);
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(c.MsgIds(), (std::vector<uint64_t>{1, 2, 3, 4, 5, 3, 5}));
  // A redelivered entry keeps its offset.
  EXPECT_EQ(got[5].offset, got[2].offset);
  EXPECT_EQ(got[6].offset, got[4].offset);
  // Once acked, nothing comes back.
  this->log_->Ack("g", {got[5].offset, got[6].offset});
  EXPECT_EQ(this->log_->Lag("g"), 0u);
  this->factory_.AdvanceMs(timeout * 3);
  std::this_thread::sleep_for(this->kQuiet);
  EXPECT_EQ(c.Count(), 7u);
}

TYPED_TEST_P(MessageLogContractTest, AnEntryIsRedeliveredUntilAcked) {
  const int64_t timeout = this->factory_.RedeliveryMs();
  ASSERT_OK(this->Append(LogMsgs(1, 1)));
  LogCollector& c = this->Subscribe("g", 10, false, false);
  const uint64_t offset = c.WaitFor(1)[0].offset;
  for (size_t round = 2; round <= 4; ++round) {
    this->factory_.AdvanceMs(timeout + 1);
    auto got = c.WaitFor(round);
    ASSERT_EQ(got.size(), round);
    EXPECT_EQ(got.back().offset, offset);
    EXPECT_EQ(got.back().message.msg_id(), 1u);
  }
  this->log_->Ack("g", {offset});
  this->factory_.AdvanceMs(timeout + 1);
  std::this_thread::sleep_for(this->kQuiet);
  EXPECT_EQ(c.Count(), 4u);
}

TYPED_TEST_P(MessageLogContractTest, UnackedEntriesAreRedeliveredAfterARestart) {
  ASSERT_OK(this->Append(LogMsgs(1, 5)));
  {
    LogCollector& c = this->Subscribe("persist", 10, false, false);
    auto got = c.WaitFor(5);
    this->log_->Ack("persist", this->OffsetsOf(got, {1, 2, 3, 5}));
  }
  this->Reopen();
  LogCollector& c = this->Subscribe("persist", 10, false, true);
  c.WaitFor(1);
  std::this_thread::sleep_for(this->kQuiet);
  // 4 comes again (5 may too: delivery is at least once); 1 to 3 do not.
  auto ids = c.MsgIds();
  EXPECT_NE(std::find(ids.begin(), ids.end(), 4u), ids.end());
  for (uint64_t acked : {1, 2, 3}) {
    EXPECT_EQ(std::find(ids.begin(), ids.end(), acked), ids.end()) << acked;
  }
  // The group goes on from there.
  ASSERT_OK(this->Append(LogMsgs(6, 1)));
  EXPECT_EQ(c.WaitFor(ids.size() + 1).back().message.msg_id(), 6u);
}

TYPED_TEST_P(MessageLogContractTest, ANewGroupStartsAtTheBeginningOrAtTheTail) {
  ASSERT_OK(this->Append(LogMsgs(1, 3)));
  LogCollector& all = this->Subscribe("all", 10, false, true);
  LogCollector& tail = this->Subscribe("tail", 10, true, true);
  all.WaitFor(3);
  EXPECT_EQ(this->log_->Lag("tail"), 0u);
  ASSERT_OK(this->Append(LogMsgs(4, 2)));
  all.WaitFor(5);
  tail.WaitFor(2);
  EXPECT_EQ(all.MsgIds(), Ids(1, 5));
  EXPECT_EQ(tail.MsgIds(), Ids(4, 5));
  // from_tail only matters the first time: a known group resumes where it was.
  EXPECT_TRUE(this->Eventually([&] { return this->log_->Lag("tail") == 0; }));
  this->Reopen();
  ASSERT_OK(this->Append(LogMsgs(6, 1)));
  LogCollector& tail2 = this->Subscribe("tail", 10, true, true);
  tail2.WaitFor(1);
  std::this_thread::sleep_for(this->kQuiet);
  EXPECT_EQ(tail2.MsgIds(), (std::vector<uint64_t>{6}));
}

TYPED_TEST_P(MessageLogContractTest, BatchesAppendedByOneThreadKeepTheirOrder) {
  constexpr int kThreads = 4, kBatches = 100;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<Status>> pending;
      for (int i = 0; i < kBatches; ++i) {
        auto promise = std::make_shared<std::promise<Status>>();
        pending.push_back(promise->get_future());
        // msg_id encodes (thread, index); batches of 1 or 2, not awaited.
        std::vector<rpc::ChatMessage> batch = {LogMsg(t * 100'000 + i * 2 + 1)};
        if (i % 2 == 0) batch.push_back(LogMsg(t * 100'000 + i * 2 + 2));
        this->log_->Append(std::move(batch),
                           [promise](Status s) { promise->set_value(std::move(s)); });
      }
      for (auto& f : pending) EXPECT_OK(f.get());
    });
  }
  for (auto& t : threads) t.join();
  const size_t total = kThreads * (kBatches + kBatches / 2);
  LogCollector& c = this->Subscribe("g", 64, false, true);
  auto got = c.WaitFor(total);
  ASSERT_EQ(got.size(), total);
  std::map<uint64_t, uint64_t> last_per_thread;
  for (const auto& e : got) {
    const uint64_t id = e.message.msg_id();
    uint64_t& last = last_per_thread[id / 100'000];
    EXPECT_GT(id, last) << "thread " << id / 100'000 << " out of order";
    last = id;
  }
  EXPECT_EQ(last_per_thread.size(), static_cast<size_t>(kThreads));
}

TYPED_TEST_P(MessageLogContractTest, CloseCompletesPendingAppendsFirst) {
  constexpr int kBatches = 50;
  std::atomic<int> done{0}, ok{0};
  for (int i = 0; i < kBatches; ++i) {
    this->log_->Append(LogMsgs(i * 4 + 1, 4), [&](Status s) {
      if (s.ok()) ++ok;
      ++done;
    });
  }
  this->CloseLog();
  EXPECT_EQ(done.load(), kBatches);
  EXPECT_EQ(ok.load(), kBatches);
  // And they are durable.
  this->Reopen();
  LogCollector& c = this->Subscribe("late", 64, false, true);
  c.WaitFor(kBatches * 4);
  EXPECT_EQ(c.MsgIds(), Ids(1, kBatches * 4));
}

TYPED_TEST_P(MessageLogContractTest, CloseStopsDelivery) {
  ASSERT_OK(this->Append(LogMsgs(1, 3)));
  LogCollector& c = this->Subscribe("g", 10, false, false);
  c.WaitFor(3);
  this->CloseLog();
  this->factory_.AdvanceMs(this->factory_.RedeliveryMs() * 3);
  std::this_thread::sleep_for(this->kQuiet);
  EXPECT_EQ(c.Count(), 3u);
}

REGISTER_TYPED_TEST_SUITE_P(MessageLogContractTest, DeliversInLogOrderInBatchesOfAtMostMaxBatch,
                            EveryGroupGetsEveryEntry, LagCountsEntriesAppendedButNotAcked,
                            UnackedEntriesAreRedeliveredAfterTheTimeoutOnly,
                            AnEntryIsRedeliveredUntilAcked,
                            UnackedEntriesAreRedeliveredAfterARestart,
                            ANewGroupStartsAtTheBeginningOrAtTheTail,
                            BatchesAppendedByOneThreadKeepTheirOrder,
                            CloseCompletesPendingAppendsFirst, CloseStopsDelivery);

}  // namespace parley::queue
