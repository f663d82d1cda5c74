// What RedisIdempotencyStore adds to the seam's contract: the records are
// shared by processes through Redis, under the sender's hash tag (a client id
// is unique per sender whatever the recipient); an acked record is never released; a dead owner's
// claim frees after the claim TTL; a live owner's release outlasts a lost connection.
#include "state/redis/redis_idempotency_store.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "state/redis/redis_state_keys.h"
#include "state/redis/redis_test_env.h"
#include "support/later.h"

namespace parley::state {
namespace {

using parley::testing::Later;
using parley::testing::Wait;
using testing::RedisTestEnv;

class RedisIdempotencyStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<RedisIdempotencyStore> Node(const std::string& name,
                                              RedisStateOptions o = RedisTestEnv::Options()) {
    o.node_id = name;
    return std::make_unique<RedisIdempotencyStore>(env_.NewClient(), env_.executor(), o);
  }
  static StatusOr<Claim> ClaimOf(IdempotencyStore& s, SendKey key) {
    return Wait<StatusOr<Claim>>([&](auto cb) { s.Claim(std::move(key), 0, cb); });
  }
  static rpc::SendReply Ack(uint64_t seq) {
    rpc::SendReply ack;
    ack.set_client_id("m1");
    ack.set_msg_id(500 + seq);
    ack.set_conv("g:3");
    ack.set_seq(seq);
    return ack;
  }

  const SendKey key_{7, "m1", "g:3"};
  RedisTestEnv env_;
};

TEST_F(RedisIdempotencyStoreTest, TwoInstancesSeeEachOthersRecordsInTheConversationsPartition) {
  auto a = Node("a"), b = Node("b");
  ASSERT_TRUE(ClaimOf(*a, key_)->owned);
  RedisStateKeys keys("parley", 16);
  EXPECT_EQ(env_.Run({"GET", keys.Sent("g:3", 7, "m1")}).str.substr(0, 1), "P");
  ASSERT_OK(Wait<Status>([&](auto cb) { a->Complete({{key_, Ack(4)}}, cb); }));
  auto seen = ClaimOf(*b, {7, "m1", "g:3"});
  ASSERT_OK(seen.status());
  EXPECT_FALSE(seen->owned);
  EXPECT_EQ(seen->first_ack.seq(), 4u);
  EXPECT_EQ(seen->first_ack.msg_id(), 504u);
  auto ttl = env_.Run({"PTTL", keys.Sent("g:3", 7, "m1")});
  EXPECT_GT(ttl.integer, 3600 * 1000);  // kept for the idempotency TTL
}

TEST_F(RedisIdempotencyStoreTest, ReleaseNeverRemovesAnAckedRecord) {
  auto a = Node("a"), b = Node("b");
  ASSERT_TRUE(ClaimOf(*a, key_)->owned);
  // The message log's append script acks the send in the same step as the
  // message; then the reply is lost and the owner releases.
  RedisStateKeys keys("parley", 16);
  env_.Run({"SET", keys.Sent("g:3", 7, "m1"), "A" + Ack(9).SerializeAsString()});
  ASSERT_OK(Wait<Status>([&](auto cb) { a->Release({key_}, cb); }));
  auto again = ClaimOf(*b, key_);
  ASSERT_OK(again.status());
  EXPECT_FALSE(again->owned);
  EXPECT_EQ(again->first_ack.seq(), 9u);
}

TEST_F(RedisIdempotencyStoreTest, AClaimHeldByADeadOwnerFreesAfterTheClaimTtl) {
  RedisStateOptions o = RedisTestEnv::Options();
  o.claim_ttl_ms = 400;
  auto dead = Node("dead", o);
  ASSERT_TRUE(ClaimOf(*dead, key_)->owned);
  dead.reset();  // neither completes nor releases
  auto alive = Node("alive", o);
  auto start = std::chrono::steady_clock::now();
  auto claim = std::make_shared<Later<StatusOr<Claim>>>();
  alive->Claim(key_, 0, claim->callback());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(claim->answered());
  ASSERT_TRUE(claim->WaitAnswered());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(350));
  ASSERT_OK(claim->value().status());
  EXPECT_TRUE(claim->value()->owned);
}

// As when Redis restarts: a claim left behind would hold every retry of the
// send in line for the claim TTL.
TEST_F(RedisIdempotencyStoreTest, AReleaseThatFailsWithTheConnectionIsRetriedUntilRedisAnswers) {
  RedisStateOptions o = RedisTestEnv::Options();
  o.claim_ttl_ms = 60'000;
  auto owner = Node("owner", o);
  ASSERT_TRUE(ClaimOf(*owner, key_)->owned);
  env_.Run({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
  Status first = Wait<Status>([&](auto cb) { owner->Release({key_}, cb); });
  EXPECT_EQ(first.code(), Code::kUnavailable) << "the connection was gone";

  auto other = Node("other", o);
  auto claim = std::make_shared<Later<StatusOr<Claim>>>();
  other->Claim(key_, 0, claim->callback());
  ASSERT_TRUE(claim->WaitAnswered()) << "long before the claim's 60 s TTL";
  ASSERT_OK(claim->value().status());
  EXPECT_TRUE(claim->value()->owned);
}

TEST_F(RedisIdempotencyStoreTest, AWaiterThatDiedLosesItsPlaceInLine) {
  RedisStateOptions o = RedisTestEnv::Options();
  o.claim_waiter_stale_ms = 300;
  auto owner = Node("owner", o), next = Node("next", o);
  auto doomed_client = env_.NewClient();
  RedisIdempotencyStore doomed(doomed_client, env_.executor(), o);
  ASSERT_TRUE(ClaimOf(*owner, key_)->owned);
  auto lost = std::make_shared<Later<StatusOr<Claim>>>();
  doomed.Claim(key_, 0, lost->callback());  // first in line ...
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  doomed_client->Close();  // ... then its process loses Redis: it stops asking
  ASSERT_TRUE(lost->WaitAnswered());
  EXPECT_EQ(lost->value().status().code(), Code::kUnavailable);
  auto waiting = std::make_shared<Later<StatusOr<Claim>>>();
  next->Claim(key_, 0, waiting->callback());
  ASSERT_OK(Wait<Status>([&](auto cb) { owner->Release({key_}, cb); }));
  ASSERT_TRUE(waiting->WaitAnswered());
  ASSERT_OK(waiting->value().status());
  EXPECT_TRUE(waiting->value()->owned);
}

}  // namespace
}  // namespace parley::state
