// The contract of state::SessionStore, written once and run against every
// implementation. Instantiate with a factory type F that has
//   state::SessionStore& Node(int i);  // i = 0, 1: two logic nodes' views
// over one fresh, empty session set (the same object for an in-process one),
//   uint64_t User(int i);              // users that exist in the store
//   store::SlowSessionLookups& backing();  // the Store the nodes read
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "state/session_store.h"
#include "store/testing/slow_session_lookups.h"
#include "support/test_util.h"

namespace parley::state::testing {

template <typename F>
class SessionStoreContract : public ::testing::Test {
 protected:
  SessionStore& node(int i = 0) { return factory_.Node(i); }
  Status Create(Session s, int n = 0) {
    return parley::testing::Wait<Status>([&](auto cb) { node(n).Create(std::move(s), cb); });
  }
  StatusOr<Session> Find(const std::string& hash, int n = 0) {
    return parley::testing::Wait<StatusOr<Session>>([&](auto cb) { node(n).Find(hash, cb); });
  }
  Status Revoke(const std::string& hash, int n = 0) {
    return parley::testing::Wait<Status>([&](auto cb) { node(n).Revoke(hash, cb); });
  }
  // Sessions belong to users that exist in the backing store.
  uint64_t User(int i) { return factory_.User(i); }

  F factory_;
};

TYPED_TEST_SUITE_P(SessionStoreContract);

TYPED_TEST_P(SessionStoreContract, ACreatedSessionIsFoundOnEveryNode) {
  ASSERT_OK(this->Create({"hash-a", this->User(0), 1234}));
  for (int n : {0, 1}) {
    auto s = this->Find("hash-a", n);
    ASSERT_OK(s.status());
    EXPECT_EQ(s->user_id, this->User(0));
    EXPECT_EQ(s->expires_at, 1234);
    EXPECT_EQ(s->token_hash, "hash-a");
  }
  EXPECT_EQ(this->Find("hash-unknown").status().code(), Code::kNotFound);
}

TYPED_TEST_P(SessionStoreContract, ARevocationIsSeenByEveryNodeBeforeItReturns) {
  ASSERT_OK(this->Create({"hash-a", this->User(0), 1234}));
  ASSERT_OK(this->Create({"hash-b", this->User(0), 1234}));
  ASSERT_OK(this->Find("hash-a", 1).status());  // node 1 has looked it up (and may cache it)
  ASSERT_OK(this->Revoke("hash-a", 0));
  EXPECT_EQ(this->Find("hash-a", 1).status().code(), Code::kNotFound);
  EXPECT_EQ(this->Find("hash-a", 0).status().code(), Code::kNotFound);
  EXPECT_OK(this->Find("hash-b", 1).status());  // only that session
  EXPECT_OK(this->Revoke("hash-never-existed", 1));
}

TYPED_TEST_P(SessionStoreContract, LookupsRacingARevocationNeverResurrectIt) {
  for (int round = 0; round < 50; ++round) {
    std::string hash = "race-" + std::to_string(round);
    ASSERT_OK(this->Create({hash, this->User(1), 99}));
    std::thread finder([&] {
      for (int i = 0; i < 20; ++i) (void)this->Find(hash, i % 2);
    });
    ASSERT_OK(this->Revoke(hash, round % 2));
    finder.join();
    EXPECT_EQ(this->Find(hash, 0).status().code(), Code::kNotFound) << hash;
    EXPECT_EQ(this->Find(hash, 1).status().code(), Code::kNotFound) << hash;
  }
}

// Logout's promise: once Revoke's `done` ran, no lookup answers with the
// session, not even one that read it before the delete and answers late.
// Sessions are written to the backing store directly, so every lookup is a
// first one (no cache holds them), and the store answers lookups late.
// Only the revoking node's lookups are judged: a lookup on another node
// that read the session before the revocation (once a first lookup had
// cached it) may legitimately run its callback, on that node's thread,
// after Revoke's callback ran on the revoking node's; "after" has no
// meaning across the two.
TYPED_TEST_P(SessionStoreContract, NoLookupAnswersWithTheSessionAfterItsRevocationReturned) {
  this->factory_.backing().SetDelay(std::chrono::milliseconds(3));
  constexpr int kLookups = 16;
  int late_answers = 0;  // lookups that answered after the revocation returned
  int resurrected = 0;   // ... with the session
  for (int round = 0; round < 30; ++round) {
    std::string hash = "first-use-" + std::to_string(round);
    ASSERT_OK(parley::testing::Wait<Status>([&](auto cb) {
      this->factory_.backing().CreateSession({hash, this->User(1), 1'000'000}, cb);
    }));
    std::atomic<bool> revoked{false};
    std::atomic<int> answered{0}, late{0}, stale{0};
    for (int i = 0; i < kLookups; ++i) {
      const bool judged = i % 2 == round % 2;  // on the revoking node
      this->node(i % 2).Find(hash, [&, judged](StatusOr<Session> s) {
        if (judged && revoked.load()) {
          ++late;
          if (s.ok()) ++stale;
        }
        ++answered;
      });
      // Spread the lookups' starts around the revocation's.
      if (i == kLookups / 2)
        std::this_thread::sleep_for(std::chrono::microseconds(500 * (round % 4)));
    }
    ASSERT_OK(parley::testing::Wait<Status>([&](auto cb) {
      this->node(round % 2).Revoke(hash, [&revoked, cb](Status s) {
        revoked = true;
        cb(std::move(s));
      });
    }));
    for (int i = 0; i < 2000 && answered.load() < kLookups; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(answered.load(), kLookups);
    late_answers += late.load();
    resurrected += stale.load();
  }
  this->factory_.backing().SetDelay(std::chrono::milliseconds(0));
  EXPECT_EQ(resurrected, 0) << "of " << late_answers << " lookups answered after the revocation";
  EXPECT_GT(late_answers, 0) << "the test raced nothing";
}

REGISTER_TYPED_TEST_SUITE_P(SessionStoreContract, ACreatedSessionIsFoundOnEveryNode,
                            ARevocationIsSeenByEveryNodeBeforeItReturns,
                            LookupsRacingARevocationNeverResurrectIt,
                            NoLookupAnswersWithTheSessionAfterItsRevocationReturned);

}  // namespace parley::state::testing
