// RedisSessionStore and RedisGroupDirectory: Redis caches in front of the
// Store. Beyond the contract suites: what they cache, and that a lookup that
// read the Store before a revocation or a change never caches what it read.
#include <condition_variable>
#include <functional>
#include <mutex>

#include <gtest/gtest.h>

#include "state/redis/redis_group_directory.h"
#include "state/redis/redis_session_store.h"
#include "state/redis/redis_state_keys.h"
#include "state/redis/redis_test_env.h"
#include "store/testing/store_wrapper.h"
#include "support/later.h"

namespace parley::state {
namespace {

using parley::testing::Later;
using parley::testing::Wait;
using testing::RedisTestEnv;

// A Store whose session and group reads, while the gate is closed, read at
// once but answer only when it opens: a lookup slowed down between its Store
// read and its cache fill.
class GatedStore : public store::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;

  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  // Waits until a read is held (at most 10 s).
  bool WaitHolding() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return held_ != nullptr; });
  }
  void Open() {
    std::function<void()> held;
    {
      std::lock_guard lock(mu_);
      closed_ = false;
      held = std::move(held_);
      held_ = nullptr;
    }
    if (held) held();
  }

  void FindSession(std::string token_hash, Callback<StatusOr<store::SessionRecord>> done) override {
    target()->FindSession(std::move(token_hash), [this, done](StatusOr<store::SessionRecord> r) {
      Hold([done, r] { done(r); });
    });
  }
  void GetGroup(uint64_t group_id, Callback<StatusOr<rpc::Group>> done) override {
    target()->GetGroup(group_id,
                       [this, done](StatusOr<rpc::Group> g) { Hold([done, g] { done(g); }); });
  }

 private:
  void Hold(std::function<void()> answer) {
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        held_ = std::move(answer);
        cv_.notify_all();
        return;
      }
    }
    answer();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;         // guarded by mu_
  std::function<void()> held_;  // guarded by mu_
};

class RedisCachesTest : public ::testing::Test {
 protected:
  RedisTestEnv env_;
  GatedStore gate_{&env_.store()};
  RedisStateKeys keys_{"parley", 16};
};

TEST_F(RedisCachesTest, ASessionIsServedFromRedisOnceCreated) {
  RedisSessionStore a(env_.NewClient(), gate_, RedisTestEnv::Options());
  ASSERT_OK(Wait<Status>([&](auto cb) { a.Create({"h1", env_.User(0), 77}, cb); }));
  EXPECT_EQ(env_.Run({"EXISTS", keys_.Session("h1")}).integer, 1);
  // Gone from the store behind the cache's back: still served (from Redis).
  ASSERT_OK(Wait<Status>([&](auto cb) { env_.store().DeleteSession("h1", cb); }));
  auto s = Wait<StatusOr<Session>>([&](auto cb) { a.Find("h1", cb); });
  ASSERT_OK(s.status());
  EXPECT_EQ(s->user_id, env_.User(0));
  EXPECT_EQ(s->expires_at, 77);
}

TEST_F(RedisCachesTest, ALookupThatReadTheStoreBeforeARevocationNeitherCachesNorAnswersIt) {
  RedisSessionStore a(env_.NewClient(), gate_, RedisTestEnv::Options("a"));
  RedisSessionStore b(env_.NewClient(), gate_, RedisTestEnv::Options("b"));
  ASSERT_OK(Wait<Status>([&](auto cb) { a.Create({"h1", env_.User(0), 77}, cb); }));
  env_.Run({"DEL", keys_.Session("h1")});  // not cached: the next Find reads the store
  gate_.Close();
  auto slow = std::make_shared<Later<StatusOr<Session>>>();
  b.Find("h1", slow->callback());
  ASSERT_TRUE(gate_.WaitHolding());  // it has read the session from the store
  ASSERT_OK(Wait<Status>([&](auto cb) { a.Revoke("h1", cb); }));
  gate_.Open();
  ASSERT_TRUE(slow->WaitAnswered());
  // It read the row before the delete but answers after Revoke's `done`.
  EXPECT_EQ(slow->value().status().code(), Code::kNotFound);
  EXPECT_EQ(env_.Run({"EXISTS", keys_.Session("h1")}).integer, 0);
  EXPECT_EQ(env_.Run({"EXISTS", keys_.SessionTombstone("h1")}).integer, 1);
  for (SessionStore* node : {static_cast<SessionStore*>(&a), static_cast<SessionStore*>(&b)}) {
    auto s = Wait<StatusOr<Session>>([&](auto cb) { node->Find("h1", cb); });
    EXPECT_EQ(s.status().code(), Code::kNotFound);
  }
}

TEST_F(RedisCachesTest, AGroupSnapshotIsCachedUntilItChanges) {
  RedisGroupDirectory a(env_.NewClient(), gate_, RedisTestEnv::Options());
  auto g = Wait<StatusOr<GroupPtr>>([&](auto cb) {
    a.Create("team", env_.User(0), {env_.User(0), env_.User(1)}, 1, {}, cb);
  });
  ASSERT_OK(g.status());
  uint64_t id = (*g)->group_id();
  ASSERT_OK(Wait<StatusOr<GroupPtr>>([&](auto cb) { a.Get(id, cb); }).status());
  EXPECT_EQ(env_.Run({"EXISTS", keys_.Group(id)}).integer, 1);
  ASSERT_OK(Wait<Status>([&](auto cb) { a.AddMember(id, env_.User(2), 2, {}, cb); }));
  EXPECT_EQ(env_.Run({"EXISTS", keys_.Group(id)}).integer, 0);
  EXPECT_EQ(env_.Run({"GET", keys_.GroupVersion(id)}).str, "1");
}

TEST_F(RedisCachesTest, AGetRacingAChangeNeverCachesTheOldGroup) {
  RedisGroupDirectory a(env_.NewClient(), gate_, RedisTestEnv::Options("a"));
  RedisGroupDirectory b(env_.NewClient(), gate_, RedisTestEnv::Options("b"));
  uint64_t u0 = env_.User(0), u1 = env_.User(1), u2 = env_.User(2);
  auto g = Wait<StatusOr<GroupPtr>>([&](auto cb) { a.Create("team", u0, {u0, u1}, 1, {}, cb); });
  ASSERT_OK(g.status());
  uint64_t id = (*g)->group_id();
  gate_.Close();
  auto slow = std::make_shared<Later<StatusOr<GroupPtr>>>();
  b.Get(id, slow->callback());
  ASSERT_TRUE(gate_.WaitHolding());  // it has read {u0, u1}
  ASSERT_OK(Wait<Status>([&](auto cb) { a.AddMember(id, u2, 2, {}, cb); }));
  gate_.Open();
  ASSERT_TRUE(slow->WaitAnswered());
  ASSERT_OK(slow->value().status());
  EXPECT_EQ((*slow->value())->members_size(), 2);               // as it was when it started
  EXPECT_EQ(env_.Run({"EXISTS", keys_.Group(id)}).integer, 0);  // but not cached
  auto now = Wait<StatusOr<GroupPtr>>([&](auto cb) { b.Get(id, cb); });
  ASSERT_OK(now.status());
  EXPECT_EQ((*now)->members_size(), 3);
}

}  // namespace
}  // namespace parley::state
