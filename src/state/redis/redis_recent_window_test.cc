// What RedisRecentWindow adds to the seam's contract: a conversation's window
// is capped, lives in its partition's slot, and expires when idle; new
// conversations are trimmed to the last few minutes.
#include "state/redis/redis_recent_window.h"

#include <gtest/gtest.h>

#include "state/redis/redis_state_keys.h"
#include "state/redis/redis_test_env.h"

namespace parley::state {
namespace {

using parley::testing::Wait;
using testing::RedisTestEnv;

constexpr int64_t kNow = 1'800'000'000'000;

rpc::ChatMessage Message(const std::string& conv, uint64_t seq, uint64_t from = 1,
                         uint64_t to = 2) {
  rpc::ChatMessage m;
  m.set_conv(conv);
  m.set_seq(seq);
  m.set_from(from);
  m.set_to_user(to);
  m.set_body("b" + std::to_string(seq));
  return m;
}

class RedisRecentWindowTest : public ::testing::Test {
 protected:
  void Add(RecentWindow& w, std::vector<rpc::ChatMessage> batch, int64_t now = kNow) {
    ASSERT_OK(Wait<Status>([&](auto cb) { w.Add(std::move(batch), now, cb); }));
  }
  std::vector<uint64_t> Seqs(RecentWindow& w, const std::string& conv, uint64_t lo, uint64_t hi) {
    auto held =
        Wait<StatusOr<std::vector<rpc::ChatMessage>>>([&](auto cb) { w.Range(conv, lo, hi, cb); });
    EXPECT_TRUE(held.ok()) << held.status().message();
    std::vector<uint64_t> out;
    if (held.ok()) {
      for (auto& m : *held) out.push_back(m.seq());
    }
    return out;
  }

  RedisTestEnv env_;
  RedisStateKeys keys_{"parley", 16};
};

TEST_F(RedisRecentWindowTest, AWindowKeepsTheNewestMessagesUpToTheCapAndExpiresWhenIdle) {
  RedisStateOptions o = RedisTestEnv::Options();
  o.recent_per_conv = 4;
  o.recent_idle_ttl_ms = 5'000;
  RedisRecentWindow w(env_.NewClient(), o);
  std::vector<rpc::ChatMessage> batch;
  for (uint64_t s = 1; s <= 10; ++s) batch.push_back(Message("g:5", s, 1, 0));
  Add(w, batch);
  EXPECT_TRUE(Seqs(w, "g:5", 1, 10).empty());  // 1 is no longer held
  EXPECT_EQ(Seqs(w, "g:5", 7, 99), (std::vector<uint64_t>{7, 8, 9, 10}));
  EXPECT_EQ(env_.Run({"ZCARD", keys_.Recent("g:5")}).integer, 4);
  int64_t ttl = env_.Run({"PTTL", keys_.Recent("g:5")}).integer;
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 5'000);
}

TEST_F(RedisRecentWindowTest, AMessageAlreadyHeldDoesNotRestartTheWindow) {
  RedisRecentWindow w(env_.NewClient(), RedisTestEnv::Options());
  Add(w, {Message("g:5", 1, 1, 0), Message("g:5", 2, 1, 0), Message("g:5", 3, 1, 0)});
  Add(w, {Message("g:5", 2, 1, 0)});  // delivered again
  EXPECT_EQ(Seqs(w, "g:5", 1, 3), (std::vector<uint64_t>{1, 2, 3}));
}

TEST_F(RedisRecentWindowTest, NewConversationsAreForgottenAfterTheKeepTime) {
  RedisStateOptions o = RedisTestEnv::Options();
  o.new_conversation_keep_ms = 60'000;
  RedisRecentWindow w(env_.NewClient(), o);
  Add(w, {Message("p:1:2", 1, 1, 2)}, kNow);
  Add(w, {Message("p:1:3", 1, 1, 3)}, kNow + 65'000);
  auto convs = Wait<StatusOr<std::vector<std::pair<std::string, uint64_t>>>>(
      [&](auto cb) { w.NewConversations(1, kNow + 70'000, cb); });
  ASSERT_OK(convs.status());
  EXPECT_EQ(*convs, (std::vector<std::pair<std::string, uint64_t>>{{"p:1:3", 3}}));
  EXPECT_EQ(env_.Run({"ZCARD", keys_.NewConversations(1)}).integer, 1);  // trimmed on Add
}

}  // namespace
}  // namespace parley::state
