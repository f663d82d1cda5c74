// The contract of state::IdempotencyStore, written once and run against every
// implementation. Instantiate with a factory type F that has
//   state::IdempotencyStore& Node(int i);  // i = 0, 1: two logic nodes' views
// over one fresh, empty record set (the same object for an in-process one).
#pragma once

#include <atomic>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "state/idempotency_store.h"
#include "support/later.h"
#include "support/test_util.h"

namespace parley::state::testing {

template <typename F>
class IdempotencyStoreContract : public ::testing::Test {
 protected:
  static constexpr int64_t kNow = 1'800'000'000'000;

  IdempotencyStore& node(int i = 0) { return factory_.Node(i); }

  StatusOr<Claim> ClaimKey(SendKey key, int n = 0) {
    return parley::testing::Wait<StatusOr<Claim>>(
        [&](auto cb) { node(n).Claim(std::move(key), kNow, cb); });
  }
  void Complete(SendKey key, rpc::SendReply ack, int n = 0) {
    ASSERT_OK(parley::testing::Wait<Status>([&](auto cb) {
      node(n).Complete({{std::move(key), std::move(ack)}}, cb);
    }));
  }
  void Release(SendKey key, int n = 0) {
    ASSERT_OK(
        parley::testing::Wait<Status>([&](auto cb) { node(n).Release({std::move(key)}, cb); }));
  }
  static rpc::SendReply Ack(const std::string& client_id, uint64_t seq) {
    rpc::SendReply ack;
    ack.set_client_id(client_id);
    ack.set_msg_id(1000 + seq);
    ack.set_conv("p:1:2");
    ack.set_seq(seq);
    ack.set_ts(kNow);
    return ack;
  }
  using Pending = parley::testing::Later<StatusOr<Claim>>;
  std::shared_ptr<Pending> ClaimLater(SendKey key, int n = 0) {
    auto p = std::make_shared<Pending>();
    node(n).Claim(std::move(key), kNow, p->callback());
    return p;
  }

  F factory_;
};

TYPED_TEST_SUITE_P(IdempotencyStoreContract);

TYPED_TEST_P(IdempotencyStoreContract, TheFirstClaimOwnsTheKeyAndLaterOnesGetItsAck) {
  auto first = this->ClaimKey({1, "m1"});
  ASSERT_OK(first.status());
  EXPECT_TRUE(first->owned);
  this->Complete({1, "m1"}, this->Ack("m1", 7));
  for (int n : {0, 1}) {
    auto again = this->ClaimKey({1, "m1"}, n);
    ASSERT_OK(again.status());
    EXPECT_FALSE(again->owned);
    EXPECT_EQ(again->first_ack.seq(), 7u);
    EXPECT_EQ(again->first_ack.msg_id(), 1007u);
    EXPECT_EQ(again->first_ack.client_id(), "m1");
  }
}

TYPED_TEST_P(IdempotencyStoreContract, KeysBelongToTheirSender) {
  ASSERT_TRUE(this->ClaimKey({1, "same"})->owned);
  this->Complete({1, "same"}, this->Ack("same", 1));
  EXPECT_TRUE(this->ClaimKey({2, "same"}, 1)->owned);
}

TYPED_TEST_P(IdempotencyStoreContract, AReleasedKeyCanBeClaimedAgain) {
  ASSERT_TRUE(this->ClaimKey({1, "m1"})->owned);
  this->Release({1, "m1"});
  EXPECT_TRUE(this->ClaimKey({1, "m1"}, 1)->owned);
}

TYPED_TEST_P(IdempotencyStoreContract, AClaimOfAKeyInFlightWaitsForItsAck) {
  ASSERT_TRUE(this->ClaimKey({1, "m1"})->owned);
  auto waiting = this->ClaimLater({1, "m1"}, 1);
  EXPECT_FALSE(waiting->answered());
  this->Complete({1, "m1"}, this->Ack("m1", 3));
  ASSERT_TRUE(waiting->WaitAnswered());
  ASSERT_OK(waiting->value().status());
  EXPECT_FALSE(waiting->value()->owned);
  EXPECT_EQ(waiting->value()->first_ack.seq(), 3u);
}

TYPED_TEST_P(IdempotencyStoreContract, WaitersGetTheKeyInOrderWhenTheOwnerReleases) {
  ASSERT_TRUE(this->ClaimKey({1, "m1"})->owned);
  auto second = this->ClaimLater({1, "m1"}, 1);
  auto third = this->ClaimLater({1, "m1"});
  this->Release({1, "m1"});
  ASSERT_TRUE(second->WaitAnswered());
  EXPECT_TRUE(second->value()->owned);
  EXPECT_FALSE(third->answered());  // the second owns it now
  this->Complete({1, "m1"}, this->Ack("m1", 9), 1);
  ASSERT_TRUE(third->WaitAnswered());
  EXPECT_FALSE(third->value()->owned);
  EXPECT_EQ(third->value()->first_ack.seq(), 9u);
}

TYPED_TEST_P(IdempotencyStoreContract, OneOwnerAmongConcurrentClaims) {
  constexpr int kThreads = 8;
  std::atomic<int> owners{0}, acks{0};
  std::vector<std::shared_ptr<typename TestFixture::Pending>> waits(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { waits[t] = this->ClaimLater({5, "race"}, t % 2); });
  }
  for (auto& th : threads) th.join();
  // Exactly one claim is answered (the owner); it completes; all others then get the ack.
  for (int i = 0; i < 100'000; ++i) {
    int answered = 0;
    for (auto& w : waits) answered += w->answered();
    if (answered >= 1) break;
    std::this_thread::yield();
  }
  for (auto& w : waits) {
    if (!w->answered()) continue;
    ASSERT_OK(w->value().status());
    if (w->value()->owned) ++owners;
  }
  ASSERT_EQ(owners.load(), 1);
  this->Complete({5, "race"}, this->Ack("race", 1));
  for (auto& w : waits) {
    ASSERT_TRUE(w->WaitAnswered());
    if (!w->value()->owned) {
      EXPECT_EQ(w->value()->first_ack.seq(), 1u);
      ++acks;
    }
  }
  EXPECT_EQ(acks.load(), kThreads - 1);
}

REGISTER_TYPED_TEST_SUITE_P(IdempotencyStoreContract, TheFirstClaimOwnsTheKeyAndLaterOnesGetItsAck,
                            KeysBelongToTheirSender, AReleasedKeyCanBeClaimedAgain,
                            AClaimOfAKeyInFlightWaitsForItsAck,
                            WaitersGetTheKeyInOrderWhenTheOwnerReleases,
                            OneOwnerAmongConcurrentClaims);

}  // namespace parley::state::testing
