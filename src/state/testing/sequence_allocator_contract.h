// The contract of state::SequenceAllocator, written once and run against
// every implementation. Instantiate with a factory type F that has
//   state::SequenceAllocator& Node(int i);  // i = 0, 1: two logic nodes' views
// over one fresh, empty allocator (the same object for an in-process one):
//   INSTANTIATE_TYPED_TEST_SUITE_P(Memory, SequenceAllocatorContract, MyFactory);
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "state/sequence_allocator.h"
#include "support/later.h"
#include "support/test_util.h"

namespace parley::state::testing {

template <typename F>
class SequenceAllocatorContract : public ::testing::Test {
 protected:
  SequenceAllocator& node(int i = 0) { return factory_.Node(i); }

  StatusOr<SeqLease> Acquire(std::vector<SeqClaim> claims, int n = 0) {
    return parley::testing::Wait<StatusOr<SeqLease>>(
        [&](auto cb) { node(n).Acquire(std::move(claims), cb); });
  }
  Status Commit(uint64_t id, int n = 0) {
    return parley::testing::Wait<Status>([&](auto cb) { node(n).Commit(id, cb); });
  }
  Status Abort(uint64_t id, int n = 0) {
    return parley::testing::Wait<Status>([&](auto cb) { node(n).Abort(id, cb); });
  }
  std::vector<uint64_t> Last(std::vector<std::string> convs, int n = 0) {
    auto last = parley::testing::Wait<StatusOr<std::vector<uint64_t>>>(
        [&](auto cb) { node(n).Last(std::move(convs), cb); });
    EXPECT_TRUE(last.ok()) << last.status().message();
    return last.ok() ? *last : std::vector<uint64_t>{};
  }

  using Pending = parley::testing::Later<StatusOr<SeqLease>>;
  // Starts an Acquire whose answer lands in the returned slot.
  std::shared_ptr<Pending> AcquireLater(std::vector<SeqClaim> claims, int n = 0) {
    auto p = std::make_shared<Pending>();
    node(n).Acquire(std::move(claims), p->callback());
    return p;
  }

  F factory_;
};

TYPED_TEST_SUITE_P(SequenceAllocatorContract);

TYPED_TEST_P(SequenceAllocatorContract, SeqsStartAtOneAndCommittedLeasesAdvanceThem) {
  auto lease = this->Acquire({{"p:1:2", 3}, {"g:7", 1}});
  ASSERT_OK(lease.status());
  EXPECT_EQ(lease->first, (std::vector<uint64_t>{1, 1}));
  ASSERT_OK(this->Commit(lease->id));
  EXPECT_EQ(this->Last({"p:1:2", "g:7", "g:8"}), (std::vector<uint64_t>{3, 1, 0}));
  auto next = this->Acquire({{"p:1:2", 2}}, 1);
  ASSERT_OK(next.status());
  EXPECT_EQ(next->first[0], 4u);
}

TYPED_TEST_P(SequenceAllocatorContract, AnAbortedLeaseGivesItsSeqsBack) {
  auto lease = this->Acquire({{"g:1", 5}});
  ASSERT_OK(lease.status());
  ASSERT_OK(this->Abort(lease->id));
  EXPECT_EQ(this->Last({"g:1"})[0], 0u);
  auto again = this->Acquire({{"g:1", 1}}, 1);
  ASSERT_OK(again.status());
  EXPECT_EQ(again->first[0], 1u);  // no gap
}

TYPED_TEST_P(SequenceAllocatorContract, AnOpenLeaseIsNotPartOfLast) {
  ASSERT_OK(this->Commit(this->Acquire({{"g:1", 2}})->id));
  auto open = this->Acquire({{"g:1", 3}});
  ASSERT_OK(open.status());
  EXPECT_EQ(this->Last({"g:1"}, 1)[0], 2u);
  ASSERT_OK(this->Commit(open->id));
  EXPECT_EQ(this->Last({"g:1"}, 1)[0], 5u);
}

TYPED_TEST_P(SequenceAllocatorContract, ACompetingLeaseWaitsForTheOpenOne) {
  auto first = this->Acquire({{"g:1", 1}});
  ASSERT_OK(first.status());
  auto second = this->AcquireLater({{"g:1", 1}, {"g:2", 1}}, 1);
  auto other = this->Acquire({{"g:3", 1}}, 1);  // a different conversation does not wait
  ASSERT_OK(other.status());
  EXPECT_FALSE(second->answered());
  ASSERT_OK(this->Commit(first->id));
  ASSERT_TRUE(second->WaitAnswered());
  ASSERT_OK(second->value().status());
  EXPECT_EQ(second->value()->first, (std::vector<uint64_t>{2, 1}));
}

TYPED_TEST_P(SequenceAllocatorContract, WaitingLeasesAreGrantedInTheOrderAsked) {
  auto holder = this->Acquire({{"a", 1}});
  ASSERT_OK(holder.status());
  auto second = this->AcquireLater({{"a", 1}});
  auto third = this->AcquireLater({{"a", 1}, {"b", 1}}, 1);
  ASSERT_OK(this->Commit(holder->id));
  ASSERT_TRUE(second->WaitAnswered());
  EXPECT_FALSE(third->answered());  // it must not overtake the second on "a"
  EXPECT_EQ(second->value()->first[0], 2u);
  ASSERT_OK(this->Abort(second->value()->id));
  ASSERT_TRUE(third->WaitAnswered());
  EXPECT_EQ(third->value()->first, (std::vector<uint64_t>{2, 1}));
}

TYPED_TEST_P(SequenceAllocatorContract, RejectsMalformedClaimsAndUnknownLeases) {
  EXPECT_EQ(this->Acquire({}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(this->Acquire({{"a", 0}}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(this->Acquire({{"a", 1}, {"a", 2}}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(this->Acquire({{"", 1}}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(this->Commit(987654321).code(), Code::kNotFound);
  EXPECT_EQ(this->Abort(987654321).code(), Code::kNotFound);
  auto lease = this->Acquire({{"a", 1}});
  ASSERT_OK(this->Commit(lease->id));
  EXPECT_EQ(this->Commit(lease->id).code(), Code::kNotFound);  // once only
}

TYPED_TEST_P(SequenceAllocatorContract, ConcurrentNodesNeverShareOrSkipASeq) {
  constexpr int kThreads = 4, kLeases = 200;
  std::mutex mu;
  std::map<uint64_t, int> used;  // seq -> times handed out in a committed lease
  uint64_t committed = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLeases; ++i) {
        uint32_t count = 1 + (i + t) % 3;
        auto lease = parley::testing::Wait<StatusOr<SeqLease>>([&](auto cb) {
          this->node(t % 2).Acquire({{"hot", count}}, cb);
        });
        ASSERT_OK(lease.status());
        bool commit = (i + t) % 4 != 0;  // every fourth append "fails"
        Status s = parley::testing::Wait<Status>([&](auto cb) {
          commit ? this->node(t % 2).Commit(lease->id, cb) : this->node(t % 2).Abort(lease->id, cb);
        });
        ASSERT_OK(s);
        if (!commit) continue;
        std::lock_guard lock(mu);
        committed += count;
        for (uint32_t k = 0; k < count; ++k) ++used[lease->first[0] + k];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(this->Last({"hot"})[0], committed);
  ASSERT_EQ(used.size(), committed);  // no seq committed twice ...
  EXPECT_EQ(used.begin()->first, 1u);
  EXPECT_EQ(used.rbegin()->first, committed);  // ... and none skipped
  for (auto& [seq, n] : used) EXPECT_EQ(n, 1) << "seq " << seq;
}

REGISTER_TYPED_TEST_SUITE_P(SequenceAllocatorContract, SeqsStartAtOneAndCommittedLeasesAdvanceThem,
                            AnAbortedLeaseGivesItsSeqsBack, AnOpenLeaseIsNotPartOfLast,
                            ACompetingLeaseWaitsForTheOpenOne,
                            WaitingLeasesAreGrantedInTheOrderAsked,
                            RejectsMalformedClaimsAndUnknownLeases,
                            ConcurrentNodesNeverShareOrSkipASeq);

}  // namespace parley::state::testing
