// PersistConsumer over the real embedded log and store.
#include "task/persist_consumer.h"

#include <gtest/gtest.h>

#include "task/task_test_fixture.h"

namespace parley::task {
namespace {

class PersistConsumerTest : public TaskTest {
 protected:
  void TearDown() override {
    // Stops everything that calls into the consumer before destroying it.
    CloseLogAndStore();
    consumer_.reset();
  }
  void Start() {
    consumer_ = std::make_unique<PersistConsumer>(*consumer_log_, *consumer_store_, metrics_);
    consumer_->Start();
  }
  Status Persist(std::vector<rpc::ChatMessage> batch) {
    return testing::Wait<Status>([&](auto cb) { store_->AppendMessages(std::move(batch), cb); });
  }
  // Seqs of the conversation's stored messages.
  std::vector<uint64_t> StoredSeqs(const std::string& conv) {
    auto page = testing::Wait<StatusOr<store::MessagePage>>(
        [&](auto cb) { store_->GetMessages(conv, 0, /*has_after=*/true, 0, 1000, cb); });
    EXPECT_TRUE(page.ok()) << page.status().message();
    std::vector<uint64_t> seqs;
    if (page.ok()) {
      for (const auto& m : page->messages) seqs.push_back(m.seq());
    }
    return seqs;
  }

  std::unique_ptr<PersistConsumer> consumer_;
};

TEST_F(PersistConsumerTest, EveryEntryLandsInTheStoreOnceAndIsAcked) {
  std::vector<rpc::ChatMessage> msgs;
  for (uint64_t seq = 1; seq <= 5; ++seq) msgs.push_back(PrivateMsg(1, 2, seq));
  ASSERT_OK(Append(msgs));
  Start();
  ASSERT_OK(Append({PrivateMsg(2, 1, 6)}));  // while running

  ASSERT_TRUE(WaitUntil([&] { return consumer_->Lag() == 0; }));
  EXPECT_EQ(StoredSeqs("p:1:2"), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(metrics_.messages_persisted.value(), 6u);
  EXPECT_EQ(metrics_.log_lag_persist.value(), 0);
}

TEST_F(PersistConsumerTest, RedeliveredEntriesTheStoreHoldsAreNotDuplicated) {
  std::vector<rpc::ChatMessage> msgs;
  for (uint64_t seq = 1; seq <= 5; ++seq) msgs.push_back(PrivateMsg(1, 2, seq));
  ASSERT_OK(Append(msgs));
  // A previous run stored the first three, then died before acking them.
  ASSERT_OK(Persist({msgs[0], msgs[1], msgs[2]}));
  Start();

  ASSERT_TRUE(WaitUntil([&] { return consumer_->Lag() == 0; }));
  EXPECT_EQ(StoredSeqs("p:1:2"), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST_F(PersistConsumerTest, AFailedWriteLeavesTheBatchUnackedAndItsRedeliveryIsStoredOnce) {
  ASSERT_OK(Append({PrivateMsg(1, 2, 1), PrivateMsg(1, 2, 2)}));
  consumer_store_->FailNext(store::StoreOp::kAppendMessages, 1);
  Start();

  ASSERT_TRUE(WaitUntil([&] { return consumer_log_->handled() == 2; }));
  EXPECT_EQ(consumer_->Lag(), 2u);
  EXPECT_TRUE(StoredSeqs("p:1:2").empty());

  // The log delivers the unacked entries again after its timeout.
  clock_.AdvanceMs(2 * storage_.log_redelivery_ms);
  ASSERT_TRUE(WaitUntil([&] { return consumer_->Lag() == 0; }));
  EXPECT_EQ(StoredSeqs("p:1:2"), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(consumer_store_->ReachedTarget(store::StoreOp::kAppendMessages), 1u);
  EXPECT_EQ(metrics_.messages_persisted.value(), 2u);
}

}  // namespace
}  // namespace parley::task
