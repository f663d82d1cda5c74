// FaultInjectingStore over a SqliteStore: injected failures reach the caller
// and never the target, disarm after N calls, and a batch that failed and was
// retried is stored exactly once.
#include "store/testing/fault_injecting_store.h"

#include <thread>

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "store/testing/blocking_store.h"
#include "store/testing/chat_messages.h"
#include "support/test_util.h"

namespace parley::store {
namespace {

using parley::testing::TempDir;
using parley::testing::Wait;

// Calls on the wrapper block (BlockingStore); target_calls_ goes around it.
class FaultInjectingStoreTest : public ::testing::Test, protected BlockingStore {
 protected:
  void SetUp() override {
    auto s = SqliteStore::Open(dir_.path() + "/store.db", StorageOptions{});
    ASSERT_TRUE(s.ok()) << s.status().message();
    target_ = std::move(s).value();
    store_ = std::make_unique<FaultInjectingStore>(target_.get());
    Bind(store_.get());
    target_calls_.Bind(target_.get());
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> target_;
  std::unique_ptr<FaultInjectingStore> store_;  // destroyed before its target
  BlockingStore target_calls_;
};

TEST_F(FaultInjectingStoreTest, TheNextNCallsFailWithTheGivenStatusThenCallsPassAgain) {
  store_->FailNext(StoreOp::kCreateUser, 2, Status::Internal("disk on fire"));
  for (int i = 0; i < 2; ++i) {
    auto r = CreateUser("ann");
    EXPECT_EQ(r.status().code(), Code::kInternal);
    EXPECT_EQ(r.status().message(), "disk on fire");
  }
  EXPECT_EQ(store_->ReachedTarget(StoreOp::kCreateUser), 0u);
  // Nothing reached the target: the name is still free, and the first id too.
  auto ann = CreateUser("ann");
  ASSERT_OK(ann.status());
  EXPECT_EQ(ann->user_id, 1u);
  EXPECT_EQ(store_->ReachedTarget(StoreOp::kCreateUser), 1u);
}

TEST_F(FaultInjectingStoreTest, OperationsAreArmedSeparately) {
  store_->FailNext(StoreOp::kFindUserByName, 1);
  ASSERT_OK(CreateUser("bob").status());
  // The default injected status.
  EXPECT_EQ(FindUserByName("bob").status().code(), Code::kUnavailable);
  EXPECT_OK(FindUserById(1).status());
  EXPECT_OK(FindUserByName("bob").status());
  EXPECT_EQ(store_->ReachedTarget(StoreOp::kFindUserByName), 1u);
  EXPECT_EQ(store_->ReachedTarget(StoreOp::kFindUserById), 1u);
  EXPECT_EQ(store_->ReachedTarget(StoreOp::kPing), 0u);

  // Arming with n = 0 disarms.
  store_->FailNext(StoreOp::kPing, 3);
  store_->FailNext(StoreOp::kPing, 0);
  EXPECT_OK(Ping());
}

TEST_F(FaultInjectingStoreTest, InjectedFailuresAnswerOnAnotherThread) {
  store_->FailNext(StoreOp::kPing, 1);
  auto caller = std::this_thread::get_id();
  auto answered_on = Wait<std::thread::id>(
      [&](auto cb) { store_->Ping([cb](Status) { cb(std::this_thread::get_id()); }); });
  EXPECT_NE(answered_on, caller);
}

TEST_F(FaultInjectingStoreTest, AFailedAppendStoresNothingAndItsRetryStoresEachRowOnce) {
  // Half of the batch is already stored when the whole batch fails, then is
  // retried: the stored half must not be duplicated, the other half must
  // appear exactly once.
  std::vector<rpc::ChatMessage> batch;
  for (uint64_t s = 1; s <= 6; ++s) batch.push_back(PrivateMsg(s, 1, 2, s, 100 + s));
  ASSERT_OK(Append({batch.begin(), batch.begin() + 3}));

  store_->FailNext(StoreOp::kAppendMessages, 1);
  EXPECT_EQ(Append(batch).code(), Code::kUnavailable);
  // The target commits writes in order: once a later one is done, anything
  // the failed call had passed on would be visible.
  ASSERT_OK(target_calls_.Append({PrivateMsg(99, 5, 6, 1, 1)}));
  EXPECT_EQ(SeqsOf(target_calls_.Messages("p:1:2")), (std::vector<uint64_t>{1, 2, 3}));

  ASSERT_OK(Append(batch));
  auto stored = target_calls_.Messages("p:1:2");
  EXPECT_EQ(SeqsOf(stored), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  for (size_t i = 0; i < stored.size(); ++i) EXPECT_EQ(stored[i].msg_id(), i + 1);
  EXPECT_EQ(store_->ReachedTarget(StoreOp::kAppendMessages), 2u);

  // A second retry changes nothing either.
  ASSERT_OK(Append(batch));
  EXPECT_EQ(target_calls_.Messages("p:1:2").size(), 6u);
}

}  // namespace
}  // namespace parley::store
