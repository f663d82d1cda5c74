#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "model/conversation.h"
#include "support/test_util.h"

namespace parley::store {
namespace {

using parley::testing::TempDir;
using parley::testing::Wait;

rpc::ChatMessage Msg(uint64_t msg_id, const std::string& conv, uint64_t seq, uint64_t from,
                     uint64_t to_user, uint64_t to_group, int64_t ts,
                     const std::string& client_id) {
  rpc::ChatMessage m;
  m.set_msg_id(msg_id);
  m.set_conv(conv);
  m.set_seq(seq);
  m.set_from(from);
  m.set_to_user(to_user);
  m.set_to_group(to_group);
  m.set_body(fmt::format("body {}", msg_id));
  m.set_ts(ts);
  m.set_client_id(client_id);
  return m;
}

// A private message from `from` to `to` in p:min:max.
rpc::ChatMessage Private(uint64_t msg_id, uint64_t from, uint64_t to, uint64_t seq, int64_t ts) {
  // fmt, not `"c" + std::to_string(...)`: GCC 12 at -O3 warns on the latter
  // (a -Wrestrict false positive in the inlined string insert).
  return Msg(msg_id, model::ConvId::Private(from, to).ToString(), seq, from, to, 0, ts,
             fmt::format("c{}", msg_id));
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    auto s = SqliteStore::Open(dir_.path() + "/store.db", options_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
  }

  StatusOr<UserRecord> CreateUser(const std::string& name, int64_t now = 1000) {
    return Wait<StatusOr<UserRecord>>(
        [&](auto cb) { store_->CreateUser(name, "hash-" + name, now, cb); });
  }
  Status Append(std::vector<rpc::ChatMessage> batch) {
    return Wait<Status>([&](auto cb) { store_->AppendMessages(std::move(batch), cb); });
  }
  std::vector<rpc::ConvState> Convs(uint64_t user) {
    auto r = Wait<StatusOr<std::vector<rpc::ConvState>>>(
        [&](auto cb) { store_->ListConversations(user, cb); });
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r.value() : std::vector<rpc::ConvState>{};
  }
  std::vector<std::string> ConvIds(uint64_t user) {
    std::vector<std::string> ids;
    for (const auto& c : Convs(user)) ids.push_back(c.conv());
    return ids;
  }
  StatusOr<rpc::Group> GetGroup(uint64_t id) {
    return Wait<StatusOr<rpc::Group>>([&](auto cb) { store_->GetGroup(id, cb); });
  }
  MessagePage Page(const std::string& conv, uint64_t after, bool has_after, uint64_t before,
                   uint32_t limit) {
    auto r = Wait<StatusOr<MessagePage>>(
        [&](auto cb) { store_->GetMessages(conv, after, has_after, before, limit, cb); });
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r.value() : MessagePage{};
  }
  static std::vector<uint64_t> Seqs(const MessagePage& p) {
    std::vector<uint64_t> s;
    for (const auto& m : p.messages) s.push_back(m.seq());
    return s;
  }
  static std::vector<uint64_t> Members(const rpc::Group& g) {
    return {g.members().begin(), g.members().end()};
  }

  TempDir dir_;
  StorageOptions options_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, UsernamesAreCaseInsensitive) {
  auto alice = CreateUser("Alice", 42);
  ASSERT_OK(alice.status());
  EXPECT_EQ(alice->user_id, 1u);
  EXPECT_EQ(alice->username, "Alice");
  EXPECT_EQ(alice->created_at, 42);

  auto dup = CreateUser("aLICE");
  EXPECT_EQ(dup.status().code(), Code::kAlreadyExists);

  auto bob = CreateUser("bob");
  ASSERT_OK(bob.status());
  EXPECT_EQ(bob->user_id, 2u);

  auto found = Wait<StatusOr<UserRecord>>([&](auto cb) { store_->FindUserByName("ALICE", cb); });
  ASSERT_OK(found.status());
  EXPECT_EQ(found->user_id, 1u);
  EXPECT_EQ(found->username, "Alice");
  EXPECT_EQ(found->password_hash, "hash-Alice");

  auto by_id = Wait<StatusOr<UserRecord>>([&](auto cb) { store_->FindUserById(2, cb); });
  ASSERT_OK(by_id.status());
  EXPECT_EQ(by_id->username, "bob");

  EXPECT_TRUE(Wait<StatusOr<UserRecord>>([&](auto cb) { store_->FindUserByName("carol", cb); })
                  .status()
                  .IsNotFound());
  EXPECT_TRUE(Wait<StatusOr<UserRecord>>([&](auto cb) { store_->FindUserById(99, cb); })
                  .status()
                  .IsNotFound());
}

TEST_F(SqliteStoreTest, ConcurrentRegistrationsOfOneNameLetExactlyOneWin) {
  std::atomic<int> ok{0}, taken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      std::string name = (i % 2 == 0) ? "Dave" : "dave";
      auto r = CreateUser(name);
      if (r.ok()) ++ok;
      if (r.status().IsAlreadyExists()) ++taken;
      // Unrelated registrations in the same batches still succeed.
      EXPECT_TRUE(CreateUser(fmt::format("user{}", i)).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(taken.load(), 7);
}

TEST_F(SqliteStoreTest, Sessions) {
  ASSERT_OK(Wait<Status>([&](auto cb) {
    store_->CreateSession(SessionRecord{"th1", 7, 5000}, cb);
  }));
  auto s = Wait<StatusOr<SessionRecord>>([&](auto cb) { store_->FindSession("th1", cb); });
  ASSERT_OK(s.status());
  EXPECT_EQ(s->token_hash, "th1");
  EXPECT_EQ(s->user_id, 7u);
  EXPECT_EQ(s->expires_at, 5000);
  ASSERT_OK(Wait<Status>([&](auto cb) { store_->DeleteSession("th1", cb); }));
  EXPECT_TRUE(Wait<StatusOr<SessionRecord>>([&](auto cb) { store_->FindSession("th1", cb); })
                  .status()
                  .IsNotFound());
  // Deleting again is fine.
  ASSERT_OK(Wait<Status>([&](auto cb) { store_->DeleteSession("th1", cb); }));
}

TEST_F(SqliteStoreTest, GroupsMembershipAndOwnership) {
  // Owner 1 is not listed; 3 is listed twice.
  auto g = Wait<StatusOr<rpc::Group>>([&](auto cb) {
    store_->CreateGroup("team", 1, {3, 2, 3}, 100, cb);
  });
  ASSERT_OK(g.status());
  EXPECT_EQ(g->group_id(), 1u);
  EXPECT_EQ(g->name(), "team");
  EXPECT_EQ(g->owner(), 1u);
  EXPECT_EQ(Members(*g), (std::vector<uint64_t>{1, 3, 2}));

  auto got = GetGroup(1);
  ASSERT_OK(got.status());
  EXPECT_EQ(Members(*got), (std::vector<uint64_t>{1, 3, 2}));
  EXPECT_TRUE(GetGroup(2).status().IsNotFound());

  // Every member has the group's conversation.
  for (uint64_t u : {1, 2, 3}) {
    auto convs = Convs(u);
    ASSERT_EQ(convs.size(), 1u) << u;
    EXPECT_EQ(convs[0].conv(), "g:1");
    EXPECT_EQ(convs[0].group_id(), 1u);
    EXPECT_EQ(convs[0].last_seq(), 0u);
  }

  // Adding a member twice is a no-op.
  ASSERT_OK(Wait<Status>([&](auto cb) { store_->AddGroupMember(1, 4, 200, cb); }));
  ASSERT_OK(Wait<Status>([&](auto cb) { store_->AddGroupMember(1, 4, 300, cb); }));
  ASSERT_OK(Wait<Status>([&](auto cb) { store_->AddGroupMember(1, 3, 300, cb); }));
  EXPECT_EQ(Members(GetGroup(1).value()), (std::vector<uint64_t>{1, 3, 2, 4}));
  EXPECT_TRUE(Wait<Status>([&](auto cb) { store_->AddGroupMember(9, 4, 300, cb); }).IsNotFound());

  // The owner leaves: the longest-standing member (3) becomes owner.
  auto after = Wait<StatusOr<rpc::Group>>([&](auto cb) { store_->RemoveGroupMember(1, 1, cb); });
  ASSERT_OK(after.status());
  EXPECT_EQ(after->owner(), 3u);
  EXPECT_EQ(Members(*after), (std::vector<uint64_t>{3, 2, 4}));
  EXPECT_TRUE(Convs(1).empty());

  // A non-owner leaves: the owner stays.
  after = Wait<StatusOr<rpc::Group>>([&](auto cb) { store_->RemoveGroupMember(1, 2, cb); });
  ASSERT_OK(after.status());
  EXPECT_EQ(after->owner(), 3u);
  EXPECT_TRUE(Wait<StatusOr<rpc::Group>>([&](auto cb) { store_->RemoveGroupMember(1, 2, cb); })
                  .status()
                  .IsNotFound());

  // Re-joining puts the user last in line.
  ASSERT_OK(Wait<Status>([&](auto cb) { store_->AddGroupMember(1, 1, 400, cb); }));
  after = Wait<StatusOr<rpc::Group>>([&](auto cb) { store_->RemoveGroupMember(1, 3, cb); });
  ASSERT_OK(after.status());
  EXPECT_EQ(after->owner(), 4u);
  EXPECT_EQ(Members(*after), (std::vector<uint64_t>{4, 1}));

  // Everyone leaves: the group remains, without owner.
  ASSERT_OK(
      Wait<StatusOr<rpc::Group>>([&](auto cb) { store_->RemoveGroupMember(1, 4, cb); }).status());
  after = Wait<StatusOr<rpc::Group>>([&](auto cb) { store_->RemoveGroupMember(1, 1, cb); });
  ASSERT_OK(after.status());
  EXPECT_EQ(after->owner(), 0u);
  EXPECT_EQ(after->members_size(), 0);
  ASSERT_OK(GetGroup(1).status());
}

TEST_F(SqliteStoreTest, RemovedMemberLosesReadCursor) {
  ASSERT_OK(Wait<StatusOr<rpc::Group>>([&](auto cb) {
              store_->CreateGroup("g", 1, {2}, 10, cb);
            }).status());
  ASSERT_OK(Append({Msg(1, "g:1", 1, 1, 0, 1, 20, "a"), Msg(2, "g:1", 2, 1, 0, 1, 21, "b")}));
  ASSERT_OK(
      Wait<StatusOr<uint64_t>>([&](auto cb) { store_->SetReadSeq(2, "g:1", 1, cb); }).status());
  ASSERT_OK(
      Wait<StatusOr<rpc::Group>>([&](auto cb) { store_->RemoveGroupMember(1, 2, cb); }).status());
  EXPECT_TRUE(Convs(2).empty());
  EXPECT_TRUE(Wait<StatusOr<uint64_t>>([&](auto cb) { store_->SetReadSeq(2, "g:1", 2, cb); })
                  .status()
                  .IsNotFound());
  // Re-added: its cursor starts at the group's last seq (nothing unread from before).
  ASSERT_OK(Wait<Status>([&](auto cb) { store_->AddGroupMember(1, 2, 30, cb); }));
  auto convs = Convs(2);
  ASSERT_EQ(convs.size(), 1u);
  EXPECT_EQ(convs[0].last_seq(), 2u);
  EXPECT_EQ(convs[0].read_seq(), 2u);
}

TEST_F(SqliteStoreTest, ConversationListOrderAndReadCursor) {
  // Users 1, 2, 3. Group g:1 created at ts 150 with 1 and 3.
  ASSERT_OK(Append({Private(10, 1, 2, 1, 100), Private(11, 2, 1, 2, 110)}));
  ASSERT_OK(Wait<StatusOr<rpc::Group>>([&](auto cb) {
              store_->CreateGroup("g", 1, {3}, 150, cb);
            }).status());
  ASSERT_OK(Append({Private(12, 1, 1, 1, 120)}));  // note to self
  EXPECT_EQ(ConvIds(1), (std::vector<std::string>{"g:1", "p:1:1", "p:1:2"}));
  EXPECT_EQ(ConvIds(2), (std::vector<std::string>{"p:1:2"}));

  ASSERT_OK(Append({Private(13, 2, 1, 3, 200)}));
  ASSERT_OK(Append({Private(14, 3, 1, 1, 200)}));  // same ts: ordered by conv
  EXPECT_EQ(ConvIds(1), (std::vector<std::string>{"p:1:2", "p:1:3", "g:1", "p:1:1"}));

  auto convs = Convs(1);
  EXPECT_EQ(convs[0].last_seq(), 3u);
  EXPECT_EQ(convs[0].last_ts(), 200);
  EXPECT_EQ(convs[0].peer(), 2u);
  EXPECT_EQ(convs[0].group_id(), 0u);
  EXPECT_EQ(convs[0].read_seq(), 1u);  // a sender has read up to its own message
  EXPECT_EQ(convs[3].conv(), "p:1:1");
  EXPECT_EQ(convs[3].peer(), 1u);

  auto set = [&](uint64_t user, const std::string& conv, uint64_t seq) {
    return Wait<StatusOr<uint64_t>>([&](auto cb) { store_->SetReadSeq(user, conv, seq, cb); });
  };
  EXPECT_EQ(set(1, "p:1:2", 2).value(), 2u);
  EXPECT_EQ(set(1, "p:1:2", 1).value(), 2u);  // never down
  EXPECT_EQ(set(1, "p:1:2", 3).value(), 3u);
  EXPECT_EQ(set(2, "p:1:2", 1).value(), 3u);  // user 2 sent seq 3: read up to it
  EXPECT_EQ(Convs(1)[0].read_seq(), 3u);
  EXPECT_EQ(Convs(2)[0].read_seq(), 3u);

  EXPECT_TRUE(set(3, "p:1:2", 1).status().IsNotFound());  // not a participant
  EXPECT_TRUE(set(2, "g:1", 1).status().IsNotFound());    // not a member
  EXPECT_EQ(set(2, "nonsense", 1).status().code(), Code::kInvalidArgument);
  // A private conversation whose messages are not persisted yet takes the cursor.
  EXPECT_EQ(set(2, "p:2:3", 4).value(), 4u);
  ASSERT_OK(Append({Private(15, 3, 2, 1, 300)}));
  auto c2 = Convs(2);
  ASSERT_EQ(c2[0].conv(), "p:2:3");
  EXPECT_EQ(c2[0].read_seq(), 4u);
  EXPECT_EQ(c2[0].peer(), 3u);
}

TEST_F(SqliteStoreTest, PagingAfterBeforeNewest) {
  std::vector<rpc::ChatMessage> batch;
  for (uint64_t s = 1; s <= 10; ++s) batch.push_back(Private(100 + s, 1, 2, s, 1000 + s));
  ASSERT_OK(Append(batch));

  auto p = Page("p:1:2", 0, true, 0, 4);  // after 0
  EXPECT_EQ(Seqs(p), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(p.has_more);
  p = Page("p:1:2", 6, true, 0, 4);
  EXPECT_EQ(Seqs(p), (std::vector<uint64_t>{7, 8, 9, 10}));
  EXPECT_FALSE(p.has_more);
  p = Page("p:1:2", 10, true, 0, 4);
  EXPECT_TRUE(p.messages.empty());
  EXPECT_FALSE(p.has_more);

  p = Page("p:1:2", 0, false, 0, 3);  // newest
  EXPECT_EQ(Seqs(p), (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_TRUE(p.has_more);
  p = Page("p:1:2", 0, false, 0, 10);
  EXPECT_EQ(Seqs(p).size(), 10u);
  EXPECT_FALSE(p.has_more);

  p = Page("p:1:2", 0, false, 8, 3);  // before 8
  EXPECT_EQ(Seqs(p), (std::vector<uint64_t>{5, 6, 7}));
  EXPECT_TRUE(p.has_more);
  p = Page("p:1:2", 0, false, 4, 3);
  EXPECT_EQ(Seqs(p), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(p.has_more);
  // before_seq wins over after_seq.
  p = Page("p:1:2", 2, true, 3, 5);
  EXPECT_EQ(Seqs(p), (std::vector<uint64_t>{1, 2}));

  // Every field round-trips.
  p = Page("p:1:2", 4, true, 0, 1);
  ASSERT_EQ(p.messages.size(), 1u);
  const auto& m = p.messages[0];
  EXPECT_EQ(m.msg_id(), 105u);
  EXPECT_EQ(m.conv(), "p:1:2");
  EXPECT_EQ(m.from(), 1u);
  EXPECT_EQ(m.to_user(), 2u);
  EXPECT_EQ(m.to_group(), 0u);
  EXPECT_EQ(m.body(), "body 105");
  EXPECT_EQ(m.ts(), 1005);
  EXPECT_EQ(m.client_id(), "c105");

  EXPECT_TRUE(Page("p:5:6", 0, false, 0, 10).messages.empty());
}

TEST_F(SqliteStoreTest, AppendIsIdempotent) {
  auto a = Private(1, 1, 2, 1, 10);
  auto b = Private(2, 1, 2, 2, 11);
  ASSERT_OK(Append({a, b}));
  ASSERT_OK(Append({a, b}));  // same msg_ids
  // Same (from, client_id) under a new msg_id and seq: a resend; skipped.
  auto resend = Private(3, 1, 2, 3, 12);
  resend.set_client_id(a.client_id());
  auto c = Private(4, 2, 1, 3, 13);
  ASSERT_OK(Append({resend, c}));
  auto p = Page("p:1:2", 0, true, 0, 50);
  EXPECT_EQ(Seqs(p), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(p.messages[2].msg_id(), 4u);
  auto convs = Convs(1);
  ASSERT_EQ(convs.size(), 1u);
  EXPECT_EQ(convs[0].last_seq(), 3u);
  EXPECT_EQ(convs[0].last_ts(), 13);
  // Messages without a client id never clash with each other.
  auto n1 = Private(5, 1, 2, 4, 14);
  auto n2 = Private(6, 1, 2, 5, 15);
  n1.clear_client_id();
  n2.clear_client_id();
  ASSERT_OK(Append({n1, n2}));
  EXPECT_EQ(Seqs(Page("p:1:2", 3, true, 0, 50)), (std::vector<uint64_t>{4, 5}));
  ASSERT_OK(Append({}));
}

TEST_F(SqliteStoreTest, SentKeysAndLastSeqs) {
  ASSERT_OK(Append({Private(1, 1, 2, 1, 100), Private(2, 2, 1, 2, 200),
                    Msg(3, "g:7", 1, 1, 0, 7, 300, "g1"), Msg(4, "g:7", 2, 2, 0, 7, 400, "g2")}));
  auto k = Wait<StatusOr<SentKey>>([&](auto cb) { store_->FindSent(1, "c1", cb); });
  ASSERT_OK(k.status());
  EXPECT_EQ(k->from, 1u);
  EXPECT_EQ(k->client_id, "c1");
  EXPECT_EQ(k->msg_id, 1u);
  EXPECT_EQ(k->conv, "p:1:2");
  EXPECT_EQ(k->seq, 1u);
  EXPECT_EQ(k->ts, 100);
  EXPECT_TRUE(Wait<StatusOr<SentKey>>([&](auto cb) { store_->FindSent(2, "c1", cb); })
                  .status()
                  .IsNotFound());

  auto recent =
      Wait<StatusOr<std::vector<SentKey>>>([&](auto cb) { store_->LoadRecentSent(200, 2, cb); });
  ASSERT_OK(recent.status());
  ASSERT_EQ(recent->size(), 2u);
  EXPECT_EQ((*recent)[0].msg_id, 4u);  // newest first
  EXPECT_EQ((*recent)[0].client_id, "g2");
  EXPECT_EQ((*recent)[1].msg_id, 3u);
  recent =
      Wait<StatusOr<std::vector<SentKey>>>([&](auto cb) { store_->LoadRecentSent(150, 100, cb); });
  EXPECT_EQ(recent->size(), 3u);

  auto seqs = Wait<StatusOr<std::vector<std::pair<std::string, uint64_t>>>>(
      [&](auto cb) { store_->LoadLastSeqs(cb); });
  ASSERT_OK(seqs.status());
  auto v = seqs.value();
  std::sort(v.begin(), v.end());
  EXPECT_EQ(v, (std::vector<std::pair<std::string, uint64_t>>{{"g:7", 2}, {"p:1:2", 2}}));
}

TEST_F(SqliteStoreTest, EverythingSurvivesReopen) {
  ASSERT_OK(CreateUser("Erin").status());
  ASSERT_OK(Wait<Status>([&](auto cb) { store_->CreateSession(SessionRecord{"tok", 1, 99}, cb); }));
  ASSERT_OK(Wait<StatusOr<rpc::Group>>([&](auto cb) {
              store_->CreateGroup("g", 1, {2}, 5, cb);
            }).status());
  ASSERT_OK(Append({Private(1, 1, 2, 1, 10), Msg(2, "g:1", 1, 2, 0, 1, 20, "x")}));
  ASSERT_OK(
      Wait<StatusOr<uint64_t>>([&](auto cb) { store_->SetReadSeq(2, "p:1:2", 1, cb); }).status());
  Reopen();
  ASSERT_OK(Wait<Status>([&](auto cb) { store_->Ping(cb); }));
  EXPECT_EQ(
      Wait<StatusOr<UserRecord>>([&](auto cb) { store_->FindUserByName("erin", cb); })->user_id,
      1u);
  EXPECT_TRUE(Wait<StatusOr<SessionRecord>>([&](auto cb) { store_->FindSession("tok", cb); }).ok());
  EXPECT_EQ(Members(GetGroup(1).value()), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(ConvIds(2), (std::vector<std::string>{"g:1", "p:1:2"}));
  EXPECT_EQ(Convs(2)[1].read_seq(), 1u);
  EXPECT_EQ(Seqs(Page("g:1", 0, true, 0, 10)), (std::vector<uint64_t>{1}));
  // Ids continue after the existing ones.
  EXPECT_EQ(CreateUser("Frank")->user_id, 2u);
}

TEST_F(SqliteStoreTest, ManyConcurrentAppendsAreAllPersisted) {
  constexpr int kThreads = 4, kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread owns conversation p:t+1:100 and appends one message at a
      // time without waiting, so that the writer sees a queue to batch.
      std::vector<std::future<Status>> pending;
      for (int i = 1; i <= kPerThread; ++i) {
        auto promise = std::make_shared<std::promise<Status>>();
        pending.push_back(promise->get_future());
        store_->AppendMessages({Private(t * 1000 + i, t + 1, 100, i, i)},
                               [promise](Status s) { promise->set_value(std::move(s)); });
      }
      for (auto& f : pending) EXPECT_TRUE(f.get().ok());
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    std::string conv = fmt::format("p:{}:100", t + 1);
    auto p = Page(conv, 0, true, 0, 200);
    ASSERT_EQ(p.messages.size(), static_cast<size_t>(kPerThread)) << conv;
    EXPECT_EQ(p.messages.back().seq(), static_cast<uint64_t>(kPerThread));
  }
  EXPECT_EQ(Convs(100).size(), static_cast<size_t>(kThreads));
}

TEST_F(SqliteStoreTest, CallsAfterCloseAreUnavailable) {
  store_->Close();
  EXPECT_EQ(Wait<Status>([&](auto cb) { store_->Ping(cb); }).code(), Code::kUnavailable);
  EXPECT_EQ(CreateUser("late").status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace parley::store
