// What SqliteStore does beyond store.h (see sqlite_store.h): orders and
// cursors store.h leaves open, the edge cases it decides, and the file. What
// store.h promises is tested by the contract suite
// (sqlite_store_contract_test.cc).
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>

#include "store/testing/chat_messages.h"
#include "support/test_util.h"

namespace parley::store {
namespace {

using parley::testing::TempDir;
using parley::testing::Wait;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    auto s = SqliteStore::Open(dir_.path() + "/store.db", options_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
  }

  StatusOr<UserRecord> CreateUser(const std::string& name) {
    return Wait<StatusOr<UserRecord>>([&](auto cb) { store_->CreateUser(name, "hash", 1000, cb); });
  }
  Status Append(std::vector<rpc::ChatMessage> batch) {
    return Wait<Status>([&](auto cb) { store_->AppendMessages(std::move(batch), cb); });
  }
  StatusOr<rpc::Group> CreateGroup(const std::string& name, uint64_t owner,
                                   std::vector<uint64_t> members, int64_t now) {
    return Wait<StatusOr<rpc::Group>>(
        [&](auto cb) { store_->CreateGroup(name, owner, std::move(members), now, cb); });
  }
  StatusOr<rpc::Group> RemoveMember(uint64_t group, uint64_t user) {
    return Wait<StatusOr<rpc::Group>>([&](auto cb) { store_->RemoveGroupMember(group, user, cb); });
  }
  StatusOr<uint64_t> SetReadSeq(uint64_t user, const std::string& conv, uint64_t seq) {
    return Wait<StatusOr<uint64_t>>([&](auto cb) { store_->SetReadSeq(user, conv, seq, cb); });
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
  std::vector<uint64_t> Seqs(const std::string& conv) {
    auto r = Wait<StatusOr<MessagePage>>(
        [&](auto cb) { store_->GetMessages(conv, 0, true, 0, 1000, cb); });
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? SeqsOf(r->messages) : std::vector<uint64_t>{};
  }

  TempDir dir_;
  StorageOptions options_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, GroupEdgeCases) {
  ASSERT_OK(CreateGroup("g", 1, {2}, 10).status());
  EXPECT_TRUE(Wait<Status>([&](auto cb) { store_->AddGroupMember(9, 4, 300, cb); }).IsNotFound());
  EXPECT_TRUE(RemoveMember(1, 3).status().IsNotFound());  // not a member
  ASSERT_OK(RemoveMember(1, 1).status());
  // The last member leaving leaves the group without owner.
  auto after = RemoveMember(1, 2);
  ASSERT_OK(after.status());
  EXPECT_EQ(after->owner(), 0u);
  EXPECT_EQ(after->members_size(), 0);
}

TEST_F(SqliteStoreTest, AMemberAddedLaterHasReadTheHistoryBeforeIt) {
  ASSERT_OK(CreateGroup("g", 1, {2}, 10).status());
  ASSERT_OK(Append({GroupMsg(1, 1, 1, 1, 20, "a"), GroupMsg(2, 1, 2, 1, 21, "b")}));
  ASSERT_OK(SetReadSeq(2, "g:1", 1).status());
  ASSERT_OK(RemoveMember(1, 2).status());
  EXPECT_TRUE(Convs(2).empty());
  EXPECT_TRUE(SetReadSeq(2, "g:1", 2).status().IsNotFound());
  // Re-added: its cursor starts at the group's last seq (nothing unread from before).
  ASSERT_OK(Wait<Status>([&](auto cb) { store_->AddGroupMember(1, 2, 30, cb); }));
  auto convs = Convs(2);
  ASSERT_EQ(convs.size(), 1u);
  EXPECT_EQ(convs[0].last_seq(), 2u);
  EXPECT_EQ(convs[0].read_seq(), 2u);
}

TEST_F(SqliteStoreTest, ConversationOrderTiesAndGroupsWithoutMessages) {
  ASSERT_OK(Append({PrivateMsg(10, 1, 2, 1, 100)}));
  // A group without messages counts from its creation.
  ASSERT_OK(CreateGroup("g", 1, {3}, 150).status());
  EXPECT_EQ(ConvIds(1), (std::vector<std::string>{"g:1", "p:1:2"}));
  // The same last activity: ordered by conv.
  ASSERT_OK(Append({PrivateMsg(13, 2, 1, 2, 200)}));
  ASSERT_OK(Append({PrivateMsg(14, 3, 1, 1, 200)}));
  EXPECT_EQ(ConvIds(1), (std::vector<std::string>{"p:1:2", "p:1:3", "g:1"}));
}

TEST_F(SqliteStoreTest, SendersHaveReadUpToTheirOwnMessages) {
  ASSERT_OK(Append(
      {PrivateMsg(10, 1, 2, 1, 100), PrivateMsg(11, 2, 1, 2, 110), PrivateMsg(12, 1, 2, 3, 120)}));
  EXPECT_EQ(Convs(1)[0].read_seq(), 3u);
  EXPECT_EQ(Convs(2)[0].read_seq(), 2u);
  EXPECT_EQ(SetReadSeq(2, "p:1:2", 1).value(), 2u);
}

TEST_F(SqliteStoreTest, ReadCursorsOnlyForParticipants) {
  ASSERT_OK(Append({PrivateMsg(10, 1, 2, 1, 100)}));
  ASSERT_OK(CreateGroup("g", 1, {3}, 150).status());
  EXPECT_TRUE(SetReadSeq(3, "p:1:2", 1).status().IsNotFound());  // not a participant
  EXPECT_TRUE(SetReadSeq(2, "g:1", 1).status().IsNotFound());    // not a member
  EXPECT_EQ(SetReadSeq(2, "nonsense", 1).status().code(), Code::kInvalidArgument);
  // A private conversation whose messages are not persisted yet takes the cursor.
  EXPECT_EQ(SetReadSeq(2, "p:2:3", 4).value(), 4u);
  ASSERT_OK(Append({PrivateMsg(15, 3, 2, 1, 300)}));
  auto c2 = Convs(2);
  ASSERT_EQ(c2[0].conv(), "p:2:3");
  EXPECT_EQ(c2[0].read_seq(), 4u);
  EXPECT_EQ(c2[0].peer(), 3u);
}

TEST_F(SqliteStoreTest, MessagesWithoutClientIdNeverClash) {
  auto n1 = PrivateMsg(5, 1, 2, 1, 14);
  auto n2 = PrivateMsg(6, 1, 2, 2, 15);
  n1.clear_client_id();
  n2.clear_client_id();
  ASSERT_OK(Append({n1, n2}));
  EXPECT_EQ(Seqs("p:1:2"), (std::vector<uint64_t>{1, 2}));
  ASSERT_OK(Append({}));
}

TEST_F(SqliteStoreTest, EverythingSurvivesReopen) {
  ASSERT_OK(CreateUser("Erin").status());
  ASSERT_OK(Wait<Status>([&](auto cb) { store_->CreateSession(SessionRecord{"tok", 1, 99}, cb); }));
  ASSERT_OK(CreateGroup("g", 1, {2}, 5).status());
  ASSERT_OK(Append({PrivateMsg(1, 1, 2, 1, 10), GroupMsg(2, 1, 1, 2, 20, "x")}));
  ASSERT_OK(SetReadSeq(2, "p:1:2", 1).status());
  Reopen();
  ASSERT_OK(Wait<Status>([&](auto cb) { store_->Ping(cb); }));
  EXPECT_EQ(
      Wait<StatusOr<UserRecord>>([&](auto cb) { store_->FindUserByName("erin", cb); })->user_id,
      1u);
  EXPECT_TRUE(Wait<StatusOr<SessionRecord>>([&](auto cb) { store_->FindSession("tok", cb); }).ok());
  auto group = Wait<StatusOr<rpc::Group>>([&](auto cb) { store_->GetGroup(1, cb); });
  ASSERT_OK(group.status());
  EXPECT_EQ(group->members_size(), 2);
  EXPECT_EQ(ConvIds(2), (std::vector<std::string>{"g:1", "p:1:2"}));
  EXPECT_EQ(Convs(2)[1].read_seq(), 1u);
  EXPECT_EQ(Seqs("g:1"), (std::vector<uint64_t>{1}));
  // Ids continue after the existing ones.
  EXPECT_EQ(CreateUser("Frank")->user_id, 2u);
}

TEST_F(SqliteStoreTest, CallsAfterCloseAreUnavailable) {
  store_->Close();
  EXPECT_EQ(Wait<Status>([&](auto cb) { store_->Ping(cb); }).code(), Code::kUnavailable);
  EXPECT_EQ(CreateUser("late").status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace parley::store
