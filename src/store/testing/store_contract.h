// The Store contract suite: what src/store/store.h promises, written once and
// run against every implementation. Behaviour an implementation adds beyond
// store.h is tested beside that implementation, not here.
//
// To run it against an implementation, write a factory and instantiate the
// suite in that implementation's test (see sqlite/sqlite_store_contract_test.cc):
//
//   struct MyStoreFactory {
//     static constexpr const char* kName = "MyStore";  // names the instantiation
//     // A new, empty store (no users, groups or messages); called once per
//     // test, on a default-constructed factory. The factory owns whatever
//     // the store needs (a temp dir, a server connection, a wrapped target)
//     // and outlives the store it returned.
//     StatusOr<std::unique_ptr<Store>> Open();
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(My, StoreContractTest, ::testing::Types<MyStoreFactory>,
//                                  parley::testing::FactoryName);  // support/factory_name.h
//
// Link parley_store_testing.
#pragma once

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/testing/blocking_store.h"
#include "store/testing/chat_messages.h"
#include "support/test_util.h"

namespace parley::store {

// Calls on store_ block (BlockingStore): this->CreateUser("ann"), ...
template <typename Factory>
class StoreContractTest : public ::testing::Test, protected BlockingStore {
 protected:
  void SetUp() override {
    auto s = factory_.Open();
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    Bind(store_.get());
  }

  Factory factory_;
  std::unique_ptr<Store> store_;  // after factory_: destroyed first
};

TYPED_TEST_SUITE_P(StoreContractTest);

// --- accounts ---

TYPED_TEST_P(StoreContractTest, UserIdsStartAtOneAndRecordsRoundTrip) {
  auto alice = this->CreateUser("Alice", 42);
  ASSERT_OK(alice.status());
  EXPECT_EQ(alice->user_id, 1u);
  EXPECT_EQ(alice->username, "Alice");
  EXPECT_EQ(alice->password_hash, "hash-Alice");
  EXPECT_EQ(alice->created_at, 42);
  auto bob = this->CreateUser("bob");
  ASSERT_OK(bob.status());
  EXPECT_NE(bob->user_id, alice->user_id);

  auto by_id = this->FindUserById(bob->user_id);
  ASSERT_OK(by_id.status());
  EXPECT_EQ(by_id->username, "bob");
  EXPECT_EQ(by_id->password_hash, "hash-bob");
  EXPECT_EQ(by_id->created_at, 1000);
  EXPECT_TRUE(this->FindUserById(99).status().IsNotFound());
  EXPECT_TRUE(this->FindUserByName("carol").status().IsNotFound());
}

TYPED_TEST_P(StoreContractTest, UsernamesAreComparedIgnoringAsciiCase) {
  ASSERT_OK(this->CreateUser("Alice").status());
  EXPECT_EQ(this->CreateUser("aLICE").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(this->CreateUser("Alice").status().code(), Code::kAlreadyExists);
  // Lookups ignore case too, and return the name as registered.
  for (const char* name : {"alice", "ALICE", "Alice"}) {
    auto found = this->FindUserByName(name);
    ASSERT_OK(found.status());
    EXPECT_EQ(found->user_id, 1u) << name;
    EXPECT_EQ(found->username, "Alice") << name;
  }
  // ASCII only: a name differing in a non-ASCII letter is another name.
  ASSERT_OK(this->CreateUser("\xC3\xA9mile").status());             // émile
  EXPECT_OK(this->CreateUser("\xC3\x89mile").status());             // Émile
  EXPECT_TRUE(this->FindUserByName("\xC3\x89MILE").status().ok());  // É + ASCII MILE
}

TYPED_TEST_P(StoreContractTest, ConcurrentRegistrationsOfOneNameLetExactlyOneWin) {
  std::atomic<int> ok{0}, taken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = this->CreateUser(i % 2 == 0 ? "Dave" : "dave");
      if (r.ok()) ++ok;
      if (r.status().IsAlreadyExists()) ++taken;
      // Unrelated registrations at the same time still succeed.
      EXPECT_TRUE(this->CreateUser(fmt::format("user{}", i)).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(taken.load(), 7);
}

TYPED_TEST_P(StoreContractTest, SessionsAreFoundUntilDeleted) {
  ASSERT_OK(this->CreateSession(SessionRecord{"th1", 7, 5000}));
  ASSERT_OK(this->CreateSession(SessionRecord{"th2", 8, 6000}));
  auto s = this->FindSession("th1");
  ASSERT_OK(s.status());
  EXPECT_EQ(s->token_hash, "th1");
  EXPECT_EQ(s->user_id, 7u);
  EXPECT_EQ(s->expires_at, 5000);
  // Expiry is the caller's to check: an expired session is still found.
  EXPECT_OK(this->FindSession("th2").status());

  ASSERT_OK(this->DeleteSession("th1"));
  EXPECT_TRUE(this->FindSession("th1").status().IsNotFound());
  // The other session is untouched; deleting an absent one is OK.
  EXPECT_OK(this->FindSession("th2").status());
  EXPECT_OK(this->DeleteSession("th1"));
  EXPECT_OK(this->DeleteSession("never"));
}

// Issue 10, finding 10: expired sessions are purged in capped batches;
// sessions not expired yet stay.
TYPED_TEST_P(StoreContractTest, PurgeDeletesExpiredSessionsInCappedBatches) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(this->CreateSession(SessionRecord{fmt::format("old{}", i), 7, 1000 + i}));
  }
  ASSERT_OK(this->CreateSession(SessionRecord{"now", 7, 2000}));
  ASSERT_OK(this->CreateSession(SessionRecord{"live", 8, 2001}));
  auto purge = [&](uint32_t max_rows) {
    return parley::testing::Wait<StatusOr<uint64_t>>(
        [&](auto cb) { this->store_->PurgeExpiredSessions(2000, max_rows, cb); });
  };
  auto first = purge(4);
  ASSERT_OK(first.status());
  EXPECT_EQ(*first, 4u);  // the cap
  auto second = purge(4);
  ASSERT_OK(second.status());
  EXPECT_EQ(*second, 2u);  // the rest, up to and including "now"
  auto third = purge(4);
  ASSERT_OK(third.status());
  EXPECT_EQ(*third, 0u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(this->FindSession(fmt::format("old{}", i)).status().IsNotFound());
  }
  EXPECT_TRUE(this->FindSession("now").status().IsNotFound());
  EXPECT_OK(this->FindSession("live").status());
}

// --- groups ---

TYPED_TEST_P(StoreContractTest, GroupMembersAreInJoinOrderWithoutDuplicates) {
  // The owner (1) is not listed; 3 is listed twice.
  auto g = this->CreateGroup("team", 1, {3, 2, 3}, 100);
  ASSERT_OK(g.status());
  EXPECT_GT(g->group_id(), 0u);
  EXPECT_EQ(g->name(), "team");
  EXPECT_EQ(g->owner(), 1u);
  EXPECT_EQ(this->Members(*g), (std::vector<uint64_t>{1, 3, 2}));
  const uint64_t id = g->group_id();
  const std::string conv = model::ConvId::Group(id).ToString();

  auto got = this->GetGroup(id);
  ASSERT_OK(got.status());
  EXPECT_EQ(got->name(), "team");
  EXPECT_EQ(this->Members(*got), (std::vector<uint64_t>{1, 3, 2}));
  EXPECT_TRUE(this->GetGroup(id + 1).status().IsNotFound());

  // Every member has the group's conversation; others do not.
  for (uint64_t u : {1, 2, 3}) {
    auto convs = this->Convs(u);
    ASSERT_EQ(convs.size(), 1u) << u;
    EXPECT_EQ(convs[0].conv(), conv);
    EXPECT_EQ(convs[0].group_id(), id);
    EXPECT_EQ(convs[0].last_seq(), 0u);
  }
  EXPECT_TRUE(this->Convs(4).empty());

  // Adding a member twice, or an existing member, is a no-op.
  ASSERT_OK(this->AddMember(id, 4, 200));
  ASSERT_OK(this->AddMember(id, 4, 300));
  ASSERT_OK(this->AddMember(id, 3, 300));
  EXPECT_EQ(this->Members(this->GetGroup(id).value()), (std::vector<uint64_t>{1, 3, 2, 4}));
  EXPECT_EQ(this->ConvIds(4), std::vector<std::string>{conv});
}

TYPED_TEST_P(StoreContractTest, OwnershipPassesToTheLongestStandingMember) {
  auto g = this->CreateGroup("team", 1, {3, 2}, 100);
  ASSERT_OK(g.status());
  const uint64_t id = g->group_id();
  ASSERT_OK(this->AddMember(id, 4, 200));

  // The owner leaves: 3 joined first after it.
  auto after = this->RemoveMember(id, 1);
  ASSERT_OK(after.status());
  EXPECT_EQ(after->owner(), 3u);
  EXPECT_EQ(this->Members(*after), (std::vector<uint64_t>{3, 2, 4}));
  EXPECT_TRUE(this->Convs(1).empty());  // its conversation entry went with it

  // A member who is not the owner leaves: the owner stays.
  after = this->RemoveMember(id, 2);
  ASSERT_OK(after.status());
  EXPECT_EQ(after->owner(), 3u);
  EXPECT_EQ(this->Members(*after), (std::vector<uint64_t>{3, 4}));

  // Re-joining puts a user last in line.
  ASSERT_OK(this->AddMember(id, 1, 400));
  after = this->RemoveMember(id, 3);
  ASSERT_OK(after.status());
  EXPECT_EQ(after->owner(), 4u);
  EXPECT_EQ(this->Members(*after), (std::vector<uint64_t>{4, 1}));
  EXPECT_EQ(this->Members(this->GetGroup(id).value()), (std::vector<uint64_t>{4, 1}));

  // Everyone leaves: the group still exists.
  ASSERT_OK(this->RemoveMember(id, 4).status());
  after = this->RemoveMember(id, 1);
  ASSERT_OK(after.status());
  EXPECT_EQ(after->members_size(), 0);
  ASSERT_OK(this->GetGroup(id).status());
}

// --- conversations ---

TYPED_TEST_P(StoreContractTest, ConversationsAreListedMostRecentActivityFirst) {
  ASSERT_OK(this->Append({PrivateMsg(10, 1, 2, 1, 100), PrivateMsg(11, 2, 1, 2, 110)}));
  auto g = this->CreateGroup("g", 1, {3}, 150);
  ASSERT_OK(g.status());
  const std::string gconv = model::ConvId::Group(g->group_id()).ToString();
  ASSERT_OK(this->Append({PrivateMsg(12, 1, 1, 1, 160)}));  // a note to self
  ASSERT_OK(this->Append({GroupMsg(13, g->group_id(), 1, 3, 170, "g1")}));
  // Both parties of a private conversation have it; others do not.
  EXPECT_EQ(this->ConvIds(1), (std::vector<std::string>{gconv, "p:1:1", "p:1:2"}));
  EXPECT_EQ(this->ConvIds(2), (std::vector<std::string>{"p:1:2"}));
  EXPECT_EQ(this->ConvIds(3), (std::vector<std::string>{gconv}));

  ASSERT_OK(this->Append({PrivateMsg(14, 2, 1, 3, 200)}));
  ASSERT_OK(this->Append({PrivateMsg(15, 3, 1, 1, 210)}));
  EXPECT_EQ(this->ConvIds(1), (std::vector<std::string>{"p:1:3", "p:1:2", gconv, "p:1:1"}));

  auto convs = this->Convs(1);
  ASSERT_EQ(convs.size(), 4u);
  EXPECT_EQ(convs[1].conv(), "p:1:2");
  EXPECT_EQ(convs[1].last_seq(), 3u);
  EXPECT_EQ(convs[1].last_ts(), 200);
  EXPECT_EQ(convs[1].peer(), 2u);
  EXPECT_EQ(convs[1].group_id(), 0u);
  EXPECT_EQ(convs[2].conv(), gconv);
  EXPECT_EQ(convs[2].group_id(), g->group_id());
  EXPECT_EQ(convs[2].last_seq(), 1u);
  EXPECT_EQ(convs[2].last_ts(), 170);
  EXPECT_EQ(convs[3].peer(), 1u);  // a note to self: the peer is oneself
}

TYPED_TEST_P(StoreContractTest, ReadCursorMovesUpOnly) {
  ASSERT_OK(this->Append(
      {PrivateMsg(1, 1, 2, 1, 10), PrivateMsg(2, 1, 2, 2, 11), PrivateMsg(3, 1, 2, 3, 12)}));
  EXPECT_EQ(this->SetReadSeq(2, "p:1:2", 2).value(), 2u);
  EXPECT_EQ(this->SetReadSeq(2, "p:1:2", 1).value(), 2u);  // never down
  EXPECT_EQ(this->Convs(2)[0].read_seq(), 2u);
  EXPECT_EQ(this->SetReadSeq(2, "p:1:2", 3).value(), 3u);
  EXPECT_EQ(this->Convs(2)[0].read_seq(), 3u);

  auto g = this->CreateGroup("g", 1, {2, 3}, 5);
  ASSERT_OK(g.status());
  const std::string gconv = model::ConvId::Group(g->group_id()).ToString();
  ASSERT_OK(this->Append(
      {GroupMsg(4, g->group_id(), 1, 1, 20, "g1"), GroupMsg(5, g->group_id(), 2, 1, 21, "g2")}));
  EXPECT_EQ(this->SetReadSeq(2, gconv, 2).value(), 2u);
  EXPECT_EQ(this->SetReadSeq(2, gconv, 0).value(), 2u);
  EXPECT_EQ(this->Convs(2)[0].conv(), gconv);
  EXPECT_EQ(this->Convs(2)[0].read_seq(), 2u);
  // Cursors are per user: 3 has read nothing.
  ASSERT_EQ(this->Convs(3).size(), 1u);
  EXPECT_EQ(this->Convs(3)[0].read_seq(), 0u);
}

TYPED_TEST_P(StoreContractTest, ASendersReadCursorMovesToItsOwnLatestMessage) {
  // One batch: 1 sends seq 1 and 3, 2 sends seq 2.
  ASSERT_OK(this->Append(
      {PrivateMsg(1, 1, 2, 1, 10), PrivateMsg(2, 2, 1, 2, 11), PrivateMsg(3, 1, 2, 3, 12)}));
  EXPECT_EQ(this->Convs(1)[0].read_seq(), 3u);
  EXPECT_EQ(this->Convs(2)[0].read_seq(), 2u);
  // A later batch moves only its senders' cursors, and never down.
  ASSERT_OK(this->Append({PrivateMsg(4, 2, 1, 4, 13)}));
  EXPECT_EQ(this->Convs(1)[0].read_seq(), 3u);
  EXPECT_EQ(this->Convs(2)[0].read_seq(), 4u);
  ASSERT_OK(this->Append({PrivateMsg(1, 1, 2, 1, 10)}));  // a replay of seq 1
  EXPECT_EQ(this->Convs(1)[0].read_seq(), 3u);

  auto g = this->CreateGroup("g", 1, {2, 3}, 5);
  ASSERT_OK(g.status());
  ASSERT_OK(this->Append({GroupMsg(5, g->group_id(), 1, 3, 20, "g1")}));
  const std::string gconv = model::ConvId::Group(g->group_id()).ToString();
  for (uint64_t user : {1, 2, 3}) {
    auto convs = this->Convs(user);
    auto it =
        std::find_if(convs.begin(), convs.end(), [&](const auto& c) { return c.conv() == gconv; });
    ASSERT_NE(it, convs.end()) << "user " << user;
    EXPECT_EQ(it->read_seq(), user == 3 ? 1u : 0u) << "user " << user;
  }
}

TYPED_TEST_P(StoreContractTest, LoadLastSeqsGivesTheHighestPersistedSeqOfEachConversation) {
  auto empty = this->LoadLastSeqs();
  ASSERT_OK(empty.status());
  EXPECT_TRUE(empty->empty());

  auto g = this->CreateGroup("g", 1, {2}, 50);
  ASSERT_OK(g.status());
  const uint64_t gid = g->group_id();
  ASSERT_OK(this->Append({PrivateMsg(1, 1, 2, 1, 100), PrivateMsg(2, 2, 1, 2, 200),
                          GroupMsg(3, gid, 1, 1, 300, "g1"), GroupMsg(4, gid, 2, 2, 400, "g2")}));
  ASSERT_OK(this->Append({GroupMsg(5, gid, 3, 2, 500, "g3")}));
  auto seqs = this->LoadLastSeqs();
  ASSERT_OK(seqs.status());
  auto v = seqs.value();
  std::sort(v.begin(), v.end());
  EXPECT_EQ(v, (std::vector<std::pair<std::string, uint64_t>>{
                   {model::ConvId::Group(gid).ToString(), 3}, {"p:1:2", 2}}));
}

// --- messages ---

TYPED_TEST_P(StoreContractTest, AppendIsIdempotentOnMsgIdAndOnSenderAndClientId) {
  auto a = PrivateMsg(1, 1, 2, 1, 10);
  auto b = PrivateMsg(2, 1, 2, 2, 11);
  ASSERT_OK(this->Append({a, b}));
  ASSERT_OK(this->Append({a, b}));  // the same msg_ids again
  ASSERT_OK(this->Append({b}));
  EXPECT_EQ(this->Seqs("p:1:2"), (std::vector<uint64_t>{1, 2}));

  // The same (from, client_id) under a new msg_id and seq is a resend: skipped.
  auto resend = PrivateMsg(3, 1, 2, 3, 12);
  resend.set_client_id(a.client_id());
  // The same client id from another sender is another message.
  auto c = PrivateMsg(4, 2, 1, 3, 13);
  c.set_client_id(a.client_id());
  ASSERT_OK(this->Append({resend, c}));
  auto page = this->Page("p:1:2", 0, true, 0, 50);
  EXPECT_EQ(SeqsOf(page.messages), (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_EQ(page.messages.size(), 3u);
  EXPECT_EQ(page.messages[0].msg_id(), 1u);
  EXPECT_EQ(page.messages[2].msg_id(), 4u);
  EXPECT_EQ(page.messages[2].from(), 2u);

  // The skipped rows did not move the conversation either.
  auto convs = this->Convs(1);
  ASSERT_EQ(convs.size(), 1u);
  EXPECT_EQ(convs[0].last_seq(), 3u);
  EXPECT_EQ(convs[0].last_ts(), 13);
  auto sent = this->FindSent(1, a.client_id());
  ASSERT_OK(sent.status());
  EXPECT_EQ(sent->msg_id, 1u);  // the first one stays
}

TYPED_TEST_P(StoreContractTest, PagesAreNewestAfterOrBeforeAndAscending) {
  std::vector<rpc::ChatMessage> batch;
  for (uint64_t s = 1; s <= 10; ++s) batch.push_back(PrivateMsg(100 + s, 1, 2, s, 1000 + s));
  ASSERT_OK(this->Append(batch));

  auto p = this->Page("p:1:2", 0, true, 0, 4);  // after 0
  EXPECT_EQ(SeqsOf(p.messages), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(p.has_more);
  p = this->Page("p:1:2", 6, true, 0, 4);
  EXPECT_EQ(SeqsOf(p.messages), (std::vector<uint64_t>{7, 8, 9, 10}));
  EXPECT_FALSE(p.has_more);
  p = this->Page("p:1:2", 10, true, 0, 4);
  EXPECT_TRUE(p.messages.empty());
  EXPECT_FALSE(p.has_more);

  p = this->Page("p:1:2", 0, false, 0, 3);  // newest
  EXPECT_EQ(SeqsOf(p.messages), (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_TRUE(p.has_more);
  p = this->Page("p:1:2", 0, false, 0, 10);
  EXPECT_EQ(p.messages.size(), 10u);
  EXPECT_FALSE(p.has_more);

  p = this->Page("p:1:2", 0, false, 8, 3);  // before 8
  EXPECT_EQ(SeqsOf(p.messages), (std::vector<uint64_t>{5, 6, 7}));
  EXPECT_TRUE(p.has_more);
  p = this->Page("p:1:2", 0, false, 4, 3);
  EXPECT_EQ(SeqsOf(p.messages), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(p.has_more);
  // before_seq wins over after_seq.
  p = this->Page("p:1:2", 2, true, 3, 5);
  EXPECT_EQ(SeqsOf(p.messages), (std::vector<uint64_t>{1, 2}));

  // Every field round-trips.
  p = this->Page("p:1:2", 4, true, 0, 1);
  ASSERT_EQ(p.messages.size(), 1u);
  const auto& m = p.messages[0];
  EXPECT_EQ(m.msg_id(), 105u);
  EXPECT_EQ(m.conv(), "p:1:2");
  EXPECT_EQ(m.seq(), 5u);
  EXPECT_EQ(m.from(), 1u);
  EXPECT_EQ(m.to_user(), 2u);
  EXPECT_EQ(m.to_group(), 0u);
  EXPECT_EQ(m.body(), "body 105");
  EXPECT_EQ(m.ts(), 1005);
  EXPECT_EQ(m.client_id(), "c105");

  // Conversations do not mix; an unknown one is empty.
  ASSERT_OK(this->Append({PrivateMsg(200, 1, 3, 1, 2000)}));
  EXPECT_EQ(this->Seqs("p:1:2").size(), 10u);
  EXPECT_EQ(this->Seqs("p:1:3"), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(this->Page("p:5:6", 0, false, 0, 10).messages.empty());
}

TYPED_TEST_P(StoreContractTest, SentKeysAreFoundBySenderAndClientId) {
  auto g = this->CreateGroup("g", 1, {2}, 50);
  ASSERT_OK(g.status());
  const uint64_t gid = g->group_id();
  ASSERT_OK(this->Append({PrivateMsg(1, 1, 2, 1, 100), PrivateMsg(2, 2, 1, 2, 200),
                          GroupMsg(3, gid, 1, 1, 300, "g1"), GroupMsg(4, gid, 2, 2, 400, "g2")}));
  auto k = this->FindSent(1, "c1");
  ASSERT_OK(k.status());
  EXPECT_EQ(k->from, 1u);
  EXPECT_EQ(k->client_id, "c1");
  EXPECT_EQ(k->msg_id, 1u);
  EXPECT_EQ(k->conv, "p:1:2");
  EXPECT_EQ(k->seq, 1u);
  EXPECT_EQ(k->ts, 100);
  EXPECT_TRUE(this->FindSent(2, "c1").status().IsNotFound());

  // Recent keys: ts >= since, newest first, at most `limit`.
  auto recent = this->LoadRecentSent(200, 2);
  ASSERT_OK(recent.status());
  ASSERT_EQ(recent->size(), 2u);
  EXPECT_EQ((*recent)[0].msg_id, 4u);
  EXPECT_EQ((*recent)[0].client_id, "g2");
  EXPECT_EQ((*recent)[0].conv, model::ConvId::Group(gid).ToString());
  EXPECT_EQ((*recent)[1].msg_id, 3u);
  recent = this->LoadRecentSent(200, 100);
  ASSERT_OK(recent.status());
  ASSERT_EQ(recent->size(), 3u);
  EXPECT_EQ((*recent)[2].msg_id, 2u);
  recent = this->LoadRecentSent(401, 100);
  ASSERT_OK(recent.status());
  EXPECT_TRUE(recent->empty());
}

TYPED_TEST_P(StoreContractTest, ConcurrentAppendsAreAllPersisted) {
  constexpr int kThreads = 4, kPerThread = 100;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread owns conversation p:<t+1>:100 and appends without
      // waiting, so that the store sees concurrent calls.
      std::vector<std::future<Status>> pending;
      for (int i = 1; i <= kPerThread; ++i) {
        auto promise = std::make_shared<std::promise<Status>>();
        pending.push_back(promise->get_future());
        this->store_->AppendMessages({PrivateMsg(t * 1000 + i, t + 1, 100, i, i)},
                                     [promise](Status s) { promise->set_value(std::move(s)); });
      }
      for (auto& f : pending) EXPECT_OK(f.get());
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    const std::string conv = fmt::format("p:{}:100", t + 1);
    std::vector<uint64_t> expected(kPerThread);
    for (int i = 0; i < kPerThread; ++i) expected[i] = i + 1;
    EXPECT_EQ(this->Seqs(conv), expected) << conv;
  }
  EXPECT_EQ(this->Convs(100).size(), static_cast<size_t>(kThreads));
}

TYPED_TEST_P(StoreContractTest, PingIsOkWhileTheStoreAnswers) { EXPECT_OK(this->Ping()); }

// Many adders at once, as from many logic nodes: the store checks the bound
// with the insert, so exactly as many get in as there is room for.
TYPED_TEST_P(StoreContractTest, ConcurrentAddsNeverPassTheGroupSizeBound) {
  MembershipRules rules;
  rules.group_members_max = 4;
  auto g = this->CreateGroup("team", 1, {2}, 100, rules);
  ASSERT_OK(g.status());
  const uint64_t id = g->group_id();
  std::atomic<int> ok{0}, full{0};
  std::vector<std::thread> threads;
  for (uint64_t user = 10; user < 18; ++user) {
    threads.emplace_back([&, user] {
      Status s = this->AddMember(id, user, 200, rules);
      if (s.ok()) ++ok;
      if (s.code() == Code::kInvalidArgument) ++full;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 2);
  EXPECT_EQ(full.load(), 6);
  EXPECT_EQ(this->GetGroup(id)->members_size(), 4);
  // An existing member is still a no-op when the group is full.
  EXPECT_OK(this->AddMember(id, 2, 300, rules));
  // Too many distinct members at creation (duplicates do not count).
  EXPECT_OK(this->CreateGroup("four", 1, {2, 3, 3, 4, 1}, 100, rules).status());
  EXPECT_EQ(this->CreateGroup("five", 1, {2, 3, 4, 5}, 100, rules).status().code(),
            Code::kInvalidArgument);
}

// Concurrent adds of one user to many groups never put it in more groups
// than the bound, and a group that would do so is not created.
TYPED_TEST_P(StoreContractTest, NoUserIsInMoreGroupsThanTheBound) {
  auto joiner = this->CreateUser("joiner");  // the bound is for users the store knows
  ASSERT_OK(joiner.status());
  const uint64_t u = joiner->user_id;
  MembershipRules rules;
  rules.groups_per_user_max = 3;
  std::vector<uint64_t> groups;
  for (int i = 0; i < 8; ++i) {
    auto g = this->CreateGroup(fmt::format("g{}", i), 100 + i, {}, 100, rules);
    ASSERT_OK(g.status());
    groups.push_back(g->group_id());
  }
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (uint64_t id : groups) {
    threads.emplace_back([&, id] {
      Status s = this->AddMember(id, u, 200, rules);
      if (s.ok()) ++ok;
      if (s.code() == Code::kInvalidArgument) ++refused;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 3);
  EXPECT_EQ(refused.load(), 5);
  EXPECT_EQ(this->Convs(u).size(), 3u);
  // Nor by creating one: as a member or as its owner.
  EXPECT_EQ(this->CreateGroup("more", 50, {u}, 100, rules).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(this->CreateGroup("mine", u, {}, 100, rules).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(this->Convs(50).empty());  // nothing of the refused group remains
  // Leaving one makes room again.
  ASSERT_OK(this->RemoveMember(this->Convs(u).at(0).group_id(), u).status());
  EXPECT_OK(this->CreateGroup("mine", u, {}, 100, rules).status());
}

TYPED_TEST_P(StoreContractTest, AUserWhoRefusesAddsJoinsOnlyGroupsItCreates) {
  auto ann = this->CreateUser("ann");
  auto bob = this->CreateUser("bob");
  ASSERT_OK(ann.status());
  ASSERT_OK(bob.status());
  EXPECT_EQ(this->FindUserById(bob->user_id)->group_adds, GroupAdds::kAnyone);
  ASSERT_OK(this->SetGroupAdds(bob->user_id, GroupAdds::kNobody));
  ASSERT_OK(this->SetGroupAdds(bob->user_id, GroupAdds::kNobody));  // unchanged is OK too
  EXPECT_EQ(this->FindUserById(bob->user_id)->group_adds, GroupAdds::kNobody);
  EXPECT_EQ(this->FindUserByName("BOB")->group_adds, GroupAdds::kNobody);
  EXPECT_TRUE(this->SetGroupAdds(999, GroupAdds::kNobody).IsNotFound());

  MembershipRules rules;
  auto g = this->CreateGroup("team", ann->user_id, {}, 100, rules);
  ASSERT_OK(g.status());
  EXPECT_EQ(this->AddMember(g->group_id(), bob->user_id, 200, rules).code(),
            Code::kPermissionDenied);
  EXPECT_EQ(this->CreateGroup("t2", ann->user_id, {bob->user_id}, 100, rules).status().code(),
            Code::kPermissionDenied);
  EXPECT_TRUE(this->Convs(bob->user_id).empty());
  auto own = this->CreateGroup("bobs", bob->user_id, {ann->user_id}, 100, rules);
  ASSERT_OK(own.status());
  EXPECT_EQ(this->Members(*own), (std::vector<uint64_t>{bob->user_id, ann->user_id}));

  ASSERT_OK(this->SetGroupAdds(bob->user_id, GroupAdds::kAnyone));
  EXPECT_OK(this->AddMember(g->group_id(), bob->user_id, 300, rules));
}

REGISTER_TYPED_TEST_SUITE_P(
    StoreContractTest, UserIdsStartAtOneAndRecordsRoundTrip, UsernamesAreComparedIgnoringAsciiCase,
    ConcurrentRegistrationsOfOneNameLetExactlyOneWin, SessionsAreFoundUntilDeleted,
    PurgeDeletesExpiredSessionsInCappedBatches, GroupMembersAreInJoinOrderWithoutDuplicates,
    OwnershipPassesToTheLongestStandingMember, ConversationsAreListedMostRecentActivityFirst,
    ReadCursorMovesUpOnly, ASendersReadCursorMovesToItsOwnLatestMessage,
    LoadLastSeqsGivesTheHighestPersistedSeqOfEachConversation,
    AppendIsIdempotentOnMsgIdAndOnSenderAndClientId, PagesAreNewestAfterOrBeforeAndAscending,
    SentKeysAreFoundBySenderAndClientId, ConcurrentAppendsAreAllPersisted,
    PingIsOkWhileTheStoreAnswers, ConcurrentAddsNeverPassTheGroupSizeBound,
    NoUserIsInMoreGroupsThanTheBound, AUserWhoRefusesAddsJoinsOnlyGroupsItCreates);

}  // namespace parley::store
