// What RedisSequenceAllocator adds to the seam's contract: several processes
// share one Redis, a dead holder's lease expires (a live holder's abort
// outlasts a lost connection), and counters missing from
// Redis are seeded from the Store (with a gap when Redis lost its data).
#include "state/redis/redis_sequence_allocator.h"

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "redis/partition.h"
#include "state/redis/redis_state_keys.h"
#include "state/redis/redis_test_env.h"
#include "support/later.h"

namespace parley::state {
namespace {

using parley::testing::Later;
using parley::testing::Wait;
using testing::RedisTestEnv;

class RedisSequenceAllocatorTest : public ::testing::Test {
 protected:
  std::unique_ptr<RedisSequenceAllocator> Node(const std::string& name,
                                               RedisStateOptions o = RedisTestEnv::Options()) {
    o.node_id = name;
    return std::make_unique<RedisSequenceAllocator>(env_.NewClient(), env_.executor(), env_.store(),
                                                    o);
  }
  static StatusOr<SeqLease> Acquire(SequenceAllocator& a, std::vector<SeqClaim> claims) {
    return Wait<StatusOr<SeqLease>>([&](auto cb) { a.Acquire(std::move(claims), cb); });
  }
  static Status Commit(SequenceAllocator& a, uint64_t id) {
    return Wait<Status>([&](auto cb) { a.Commit(id, cb); });
  }
  static uint64_t Last(SequenceAllocator& a, const std::string& conv) {
    auto last = Wait<StatusOr<std::vector<uint64_t>>>([&](auto cb) { a.Last({conv}, cb); });
    EXPECT_TRUE(last.ok()) << last.status().message();
    return last.ok() ? (*last)[0] : 0;
  }

  RedisTestEnv env_;
};

TEST_F(RedisSequenceAllocatorTest, KeysAreTheSchemasKeys) {
  RedisStateKeys keys("parley", 16);
  uint32_t p = redis::PartitionOf("g:42", 16);
  EXPECT_EQ(keys.Seq("g:42"), redis::SeqKey(p, "g:42"));
  EXPECT_EQ(keys.Lease("g:42"), redis::LeaseKey(p, "g:42"));
  EXPECT_EQ(keys.Sent("g:42", 7, "c1"), redis::SentKey(7, "c1"));
  EXPECT_EQ(keys.Initialized(), redis::kMetaInitializedKey);
}

TEST_F(RedisSequenceAllocatorTest, TwoNodesOverManyConversationsNeverShareOrSkipASeq) {
  auto a = Node("a"), b = Node("b");
  const std::vector<std::string> convs = {"g:1", "g:2", "g:3", "g:4"};  // several partitions
  std::mutex mu;
  std::map<std::string, std::map<uint64_t, int>> used;  // conv -> seq -> times committed
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      SequenceAllocator& node = t % 2 ? *b : *a;
      for (int i = 0; i < 60; ++i) {
        std::vector<SeqClaim> claims;
        for (size_t c = 0; c < convs.size(); ++c) {
          if ((i + t + c) % 3 != 0) claims.push_back({convs[c], uint32_t(1 + (i + c) % 2)});
        }
        if (claims.empty()) continue;
        auto lease = Acquire(node, claims);
        ASSERT_OK(lease.status());
        bool commit = (i + t) % 5 != 0;
        ASSERT_OK(Wait<Status>(
            [&](auto cb) { commit ? node.Commit(lease->id, cb) : node.Abort(lease->id, cb); }));
        if (!commit) continue;
        std::lock_guard lock(mu);
        for (size_t c = 0; c < claims.size(); ++c) {
          for (uint32_t k = 0; k < claims[c].count; ++k)
            ++used[claims[c].conv][lease->first[c] + k];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& conv : convs) {
    const auto& seqs = used[conv];
    ASSERT_FALSE(seqs.empty());
    EXPECT_EQ(seqs.begin()->first, 1u) << conv;
    EXPECT_EQ(seqs.rbegin()->first, seqs.size()) << conv << ": a seq skipped";
    for (auto& [seq, n] : seqs) EXPECT_EQ(n, 1) << conv << " seq " << seq;
    EXPECT_EQ(Last(*a, conv), seqs.size());
  }
}

TEST_F(RedisSequenceAllocatorTest, TheLeaseOfADeadHolderExpiresAfterTheLeaseTtl) {
  RedisStateOptions o = RedisTestEnv::Options();
  o.lease_ttl_ms = 400;
  auto dead = Node("dead", o);
  ASSERT_OK(Acquire(*dead, {{"g:9", 3}}).status());
  dead.reset();  // never commits nor aborts
  auto alive = Node("alive", o);
  auto start = std::chrono::steady_clock::now();
  auto lease = std::make_shared<Later<StatusOr<SeqLease>>>();
  alive->Acquire({{"g:9", 1}}, lease->callback());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(lease->answered());
  ASSERT_TRUE(lease->WaitAnswered());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(350));
  ASSERT_OK(lease->value().status());
  EXPECT_EQ(lease->value()->first[0], 1u);  // the dead holder's seqs were never used
}

// As when Redis restarts: a lease left behind would hold the conversation's
// sends on every node for the lease TTL.
TEST_F(RedisSequenceAllocatorTest, AnAbortThatFailsWithTheConnectionIsRetriedUntilRedisAnswers) {
  RedisStateOptions o = RedisTestEnv::Options();
  o.lease_ttl_ms = 60'000;
  auto holder = Node("holder", o);
  auto lease = Acquire(*holder, {{"g:9", 3}});
  ASSERT_OK(lease.status());
  env_.Run({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
  Status first = Wait<Status>([&](auto cb) { holder->Abort(lease->id, cb); });
  EXPECT_EQ(first.code(), Code::kUnavailable) << "the connection was gone";

  auto other = Node("other", o);
  auto next = std::make_shared<Later<StatusOr<SeqLease>>>();
  other->Acquire({{"g:9", 1}}, next->callback());
  ASSERT_TRUE(next->WaitAnswered()) << "long before the lease's 60 s TTL";
  ASSERT_OK(next->value().status());
  EXPECT_EQ(next->value()->first[0], 1u) << "the aborted seqs are used";
}

TEST_F(RedisSequenceAllocatorTest, ACounterMissingFromRedisIsSeededFromTheStore) {
  auto a = Node("a");
  ASSERT_OK(Commit(*a, Acquire(*a, {{"g:5", 1}})->id));  // a new cluster: store empty
  EXPECT_EQ(env_.Run({"GET", "parley:meta:initialized"}).str, "clean");
  env_.Persist("g:7", 1, 7);  // persisted, but its counter is not in Redis
  auto lease = Acquire(*a, {{"g:7", 2}});
  ASSERT_OK(lease.status());
  EXPECT_EQ(lease->first[0], 8u);
  ASSERT_OK(Commit(*a, lease->id));
  env_.Persist("g:7", 8, 9);
  RedisStateKeys keys("parley", 16);
  env_.Run({"DEL", keys.Seq("g:7")});
  EXPECT_EQ(Last(*a, "g:7"), 9u);  // Last seeds too
  env_.Run({"DEL", keys.Seq("g:7")});
  EXPECT_EQ(Acquire(*Node("b"), {{"g:7", 1}})->first[0], 10u);
}

TEST_F(RedisSequenceAllocatorTest, AfterRedisLostItsDataSeqsJumpByTheGapAndAreNeverReused) {
  RedisStateOptions o = RedisTestEnv::Options();
  o.seq_gap_after_loss = 1000;
  auto a = Node("a", o);
  auto first = Acquire(*a, {{"g:1", 5}});
  ASSERT_OK(first.status());
  ASSERT_OK(Commit(*a, first->id));
  env_.Persist("g:1", 1, 3);  // 4 and 5 were acknowledged but not persisted yet
  env_.Run({"FLUSHALL"});     // Redis lost everything
  auto after = Acquire(*a, {{"g:1", 1}, {"g:2", 1}});
  ASSERT_OK(after.status());
  EXPECT_EQ(after->first, (std::vector<uint64_t>{3 + 1000 + 1, 1000 + 1}));
  EXPECT_EQ(env_.Run({"GET", "parley:meta:initialized"}).str, "gap");
  ASSERT_OK(Commit(*a, after->id));
  EXPECT_EQ(Last(*Node("b", o), "g:1"), 1004u);
}

TEST_F(RedisSequenceAllocatorTest, ALeaseHeldOnOneNodeMakesTheOtherWaitNotFail) {
  auto a = Node("a"), b = Node("b");
  auto held = Acquire(*a, {{"g:1", 1}, {"g:2", 1}});
  ASSERT_OK(held.status());
  auto waiting = std::make_shared<Later<StatusOr<SeqLease>>>();
  b->Acquire({{"g:2", 1}, {"g:3", 1}}, waiting->callback());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(waiting->answered());
  ASSERT_OK(Wait<Status>([&](auto cb) { a->Abort(held->id, cb); }));
  ASSERT_TRUE(waiting->WaitAnswered());
  ASSERT_OK(waiting->value().status());
  EXPECT_EQ(waiting->value()->first, (std::vector<uint64_t>{1, 1}));
}

}  // namespace
}  // namespace parley::state
