#include "logic/idempotency_cache.h"

#include <gtest/gtest.h>

namespace parley::logic {
namespace {

rpc::SendReply Ack(uint64_t seq) {
  rpc::SendReply a;
  a.set_seq(seq);
  a.set_msg_id(1000 + seq);
  return a;
}

TEST(IdempotencyCache, ResendAfterCompletionGetsTheFirstAck) {
  IdempotencyCache cache(1000, 100);
  std::string key = IdempotencyCache::Key(7, "m1");
  rpc::SendReply ack;
  Callback<rpc::SendReply> unused;
  EXPECT_EQ(cache.Find(key, &ack, &unused), IdempotencyCache::Lookup::kMiss);
  cache.AddPending(key, 0);
  EXPECT_TRUE(cache.Complete(key, Ack(3)).empty());
  EXPECT_EQ(cache.Find(key, &ack, &unused), IdempotencyCache::Lookup::kDone);
  EXPECT_EQ(ack.seq(), 3u);
}

TEST(IdempotencyCache, ResendWhilePendingWaitsForTheAck) {
  IdempotencyCache cache(1000, 100);
  std::string key = IdempotencyCache::Key(7, "m1");
  cache.AddPending(key, 0);
  rpc::SendReply got;
  Callback<rpc::SendReply> waiter = [&](rpc::SendReply r) { got = r; };
  rpc::SendReply ack;
  EXPECT_EQ(cache.Find(key, &ack, &waiter), IdempotencyCache::Lookup::kPending);
  auto waiters = cache.Complete(key, Ack(4));
  ASSERT_EQ(waiters.size(), 1u);
  waiters[0](Ack(4));
  EXPECT_EQ(got.seq(), 4u);
}

TEST(IdempotencyCache, FailForgetsTheKey) {
  IdempotencyCache cache(1000, 100);
  std::string key = IdempotencyCache::Key(7, "m1");
  cache.AddPending(key, 0);
  cache.Fail(key);
  rpc::SendReply ack;
  Callback<rpc::SendReply> unused;
  EXPECT_EQ(cache.Find(key, &ack, &unused), IdempotencyCache::Lookup::kMiss);
}

TEST(IdempotencyCache, KeysAreScopedBySender) {
  EXPECT_NE(IdempotencyCache::Key(1, "x"), IdempotencyCache::Key(2, "x"));
  EXPECT_NE(IdempotencyCache::Key(1, "1:x"), IdempotencyCache::Key(11, ":x"));
}

TEST(IdempotencyCache, ExpiresByAgeAndBecomesLossyWhenEvictingBySize) {
  IdempotencyCache cache(/*ttl_ms=*/100, /*max_entries=*/2);
  for (int i = 0; i < 2; ++i) {
    std::string key = IdempotencyCache::Key(1, "k" + std::to_string(i));
    cache.AddPending(key, 0);
    cache.Complete(key, Ack(i + 1));
  }
  cache.Expire(150);  // both older than the TTL
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.lossy());
  for (int i = 0; i < 3; ++i) {
    std::string key = IdempotencyCache::Key(1, "n" + std::to_string(i));
    cache.AddPending(key, 200);
    cache.Complete(key, Ack(i + 1));
  }
  cache.Expire(200);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.lossy());
}

TEST(IdempotencyCache, PendingEntriesAreNeverEvicted) {
  IdempotencyCache cache(100, 1);
  cache.AddPending(IdempotencyCache::Key(1, "a"), 0);
  cache.AddPending(IdempotencyCache::Key(1, "b"), 0);
  cache.Expire(1000);
  rpc::SendReply ack;
  Callback<rpc::SendReply> w = [](rpc::SendReply) {};
  EXPECT_EQ(cache.Find(IdempotencyCache::Key(1, "a"), &ack, &w),
            IdempotencyCache::Lookup::kPending);
}

}  // namespace
}  // namespace parley::logic
