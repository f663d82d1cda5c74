// What the embedded idempotency records add to the seam's contract: memory
// holds the records of the last TTL, and the store answers for what memory
// no longer holds (evicted for size, or from before a restart).
#include "state/embedded/embedded_idempotency_store.h"

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "support/test_util.h"

namespace parley::state {
namespace {

using parley::testing::Wait;

constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kTtl = 60'000;

class EmbeddedIdempotencyStoreTest : public ::testing::Test {
 protected:
  EmbeddedIdempotencyStoreTest() {
    store_ = std::move(store::SqliteStore::Open(dir_.path() + "/s.db", options_.storage)).value();
    for (const char* name : {"alice", "bob"}) {
      users_.push_back(Wait<StatusOr<store::UserRecord>>([&](auto cb) {
                         store_->CreateUser(name, "hash", 1, cb);
                       })->user_id);
    }
  }

  // A message of alice's, as the persist consumer writes it.
  rpc::ChatMessage Message(const std::string& client_id, uint64_t seq, int64_t ts = kNow) {
    rpc::ChatMessage m;
    m.set_msg_id(5000 + seq);
    m.set_conv("p:" + std::to_string(users_[0]) + ":" + std::to_string(users_[1]));
    m.set_seq(seq);
    m.set_from(users_[0]);
    m.set_to_user(users_[1]);
    m.set_body("hi");
    m.set_ts(ts);
    m.set_client_id(client_id);
    return m;
  }
  void Persist(std::vector<rpc::ChatMessage> batch) {
    ASSERT_OK(Wait<Status>([&](auto cb) { store_->AppendMessages(std::move(batch), cb); }));
  }
  static rpc::SendReply AckOf(const rpc::ChatMessage& m) {
    rpc::SendReply ack;
    ack.set_client_id(m.client_id());
    ack.set_msg_id(m.msg_id());
    ack.set_conv(m.conv());
    ack.set_seq(m.seq());
    ack.set_ts(m.ts());
    return ack;
  }
  StatusOr<Claim> ClaimOf(EmbeddedIdempotencyStore& records, const std::string& client_id,
                          int64_t now = kNow) {
    return Wait<StatusOr<Claim>>([&](auto cb) { records.Claim({users_[0], client_id}, now, cb); });
  }

  parley::testing::TempDir dir_;
  Options options_;
  std::unique_ptr<store::SqliteStore> store_;
  std::vector<uint64_t> users_;
};

TEST_F(EmbeddedIdempotencyStoreTest, PrimingLoadsTheRecentSendsOfTheStore) {
  Persist({Message("old", 1, kNow - 2 * kTtl), Message("m2", 2), Message("m3", 3)});
  EmbeddedIdempotencyStore records(*store_, kTtl, 100);
  ASSERT_OK(Wait<Status>([&](auto cb) { records.Prime(kNow, cb); }));
  EXPECT_EQ(records.size(), 2u);  // "old" is past the TTL
  auto again = ClaimOf(records, "m3");
  ASSERT_OK(again.status());
  EXPECT_FALSE(again->owned);
  EXPECT_EQ(again->first_ack.seq(), 3u);
  EXPECT_EQ(again->first_ack.msg_id(), 5003u);
}

TEST_F(EmbeddedIdempotencyStoreTest, RecordsEvictedForSizeAreAnsweredByTheStore) {
  EmbeddedIdempotencyStore records(*store_, kTtl, 2);
  std::vector<rpc::ChatMessage> sent;
  for (int i = 1; i <= 5; ++i) {
    std::string id = "m" + std::to_string(i);
    ASSERT_TRUE(ClaimOf(records, id)->owned);
    sent.push_back(Message(id, i));
    ASSERT_OK(Wait<Status>([&](auto cb) {
      records.Complete({{SendKey{users_[0], id}, AckOf(sent.back())}}, cb);
    }));
  }
  EXPECT_LE(records.size(), 2u);
  Persist(sent);
  auto first = ClaimOf(records, "m1");  // long evicted from memory
  ASSERT_OK(first.status());
  EXPECT_FALSE(first->owned);
  EXPECT_EQ(first->first_ack.seq(), 1u);
  EXPECT_TRUE(ClaimOf(records, "never-sent")->owned);
}

TEST_F(EmbeddedIdempotencyStoreTest, MemoryForgetsRecordsPastTheTtl) {
  EmbeddedIdempotencyStore records(*store_, kTtl, 100);
  ASSERT_TRUE(ClaimOf(records, "m1")->owned);
  ASSERT_OK(Wait<Status>([&](auto cb) {
    records.Complete({{SendKey{users_[0], "m1"}, AckOf(Message("m1", 1))}}, cb);
  }));
  EXPECT_EQ(records.size(), 1u);
  ASSERT_TRUE(ClaimOf(records, "m2", kNow + kTtl + 1)->owned);
  ASSERT_OK(Wait<Status>([&](auto cb) {
    records.Complete({{SendKey{users_[0], "m2"}, AckOf(Message("m2", 2, kNow + kTtl + 1))}}, cb);
  }));
  EXPECT_EQ(records.size(), 1u);  // m1 expired
}

TEST_F(EmbeddedIdempotencyStoreTest, TheConversationRoutesAKeyButIsNotPartOfIt) {
  EXPECT_EQ((SendKey{1, "m1", "p:1:2"}), (SendKey{1, "m1", "g:9"}));
  EXPECT_NE((SendKey{1, "m1", "p:1:2"}), (SendKey{1, "m2", "p:1:2"}));
  EmbeddedIdempotencyStore records(*store_, kTtl, 100);
  auto claim = [&](const std::string& conv) {
    return Wait<StatusOr<Claim>>([&](auto cb) {
      records.Claim({users_[0], "m1", conv}, kNow, cb);
    });
  };
  ASSERT_TRUE(claim("p:1:2")->owned);
  ASSERT_OK(Wait<Status>([&](auto cb) { records.Release({{users_[0], "m1", "other"}}, cb); }));
  ASSERT_TRUE(claim("g:9")->owned);  // released although named with another conv
  ASSERT_OK(Wait<Status>([&](auto cb) {
    records.Complete({{SendKey{users_[0], "m1", "x"}, AckOf(Message("m1", 4))}}, cb);
  }));
  auto again = claim("p:1:2");
  ASSERT_OK(again.status());
  EXPECT_FALSE(again->owned);
  EXPECT_EQ(again->first_ack.seq(), 4u);
}

}  // namespace
}  // namespace parley::state
