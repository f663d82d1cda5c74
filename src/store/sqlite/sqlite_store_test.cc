// What SqliteStore does beyond store.h (see sqlite_store.h): orders and
// cursors store.h leaves open, the edge cases it decides, and the file. What
// store.h promises is tested by the contract suite
// (sqlite_store_contract_test.cc).
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>

#include "sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_store_schema.h"
#include "store/testing/blocking_store.h"
#include "store/testing/chat_messages.h"
#include "support/test_util.h"

namespace parley::store {
namespace {

using parley::testing::TempDir;

// Calls on store_ block (BlockingStore).
class SqliteStoreTest : public ::testing::Test, protected BlockingStore {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(const std::string& file = "store.db") {
    store_.reset();
    auto s = SqliteStore::Open(dir_.path() + "/" + file, options_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    Bind(store_.get());
  }

  TempDir dir_;
  StorageOptions options_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, GroupEdgeCases) {
  ASSERT_OK(CreateGroup("g", 1, {2}, 10).status());
  EXPECT_TRUE(AddMember(9, 4, 300).IsNotFound());
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
  ASSERT_OK(AddMember(1, 2, 30));
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
  ASSERT_OK(CreateSession(SessionRecord{"tok", 1, 99}));
  ASSERT_OK(CreateGroup("g", 1, {2}, 5).status());
  ASSERT_OK(Append({PrivateMsg(1, 1, 2, 1, 10), GroupMsg(2, 1, 1, 2, 20, "x")}));
  ASSERT_OK(SetReadSeq(2, "p:1:2", 1).status());
  Reopen();
  ASSERT_OK(Ping());
  EXPECT_EQ(FindUserByName("erin")->user_id, 1u);
  EXPECT_OK(FindSession("tok").status());
  auto group = GetGroup(1);
  ASSERT_OK(group.status());
  EXPECT_EQ(group->members_size(), 2);
  EXPECT_EQ(ConvIds(2), (std::vector<std::string>{"g:1", "p:1:2"}));
  EXPECT_EQ(Convs(2)[1].read_seq(), 1u);
  EXPECT_EQ(Seqs("g:1"), (std::vector<uint64_t>{1}));
  // Ids continue after the existing ones.
  EXPECT_EQ(CreateUser("Frank")->user_id, 2u);
}

TEST_F(SqliteStoreTest, AFileOfSchemaVersion2KeepsItsMessagesWhenUpgraded) {
  {
    auto db = sqlite::SqliteDb::Open(dir_.path() + "/v2.db", sqlite::SqliteDb::Mode::kWriter);
    ASSERT_OK(db.status());
    ASSERT_OK(MigrateStoreSchema(**db, /*to_version=*/2));
    ASSERT_OK((*db)->Exec(
        "INSERT INTO messages(conv, seq, msg_id, from_user, to_user, to_group, body, ts, "
        "client_id) VALUES('p:1:2', 2, 502, 2, 1, 0, 'b', 11, NULL), "
        "('p:1:2', 1, 501, 1, 2, 0, 'a', 10, 'c501')"));
  }
  Reopen("v2.db");
  auto old = Messages("p:1:2");
  ASSERT_EQ(old.size(), 2u);
  EXPECT_EQ(old[0].body(), "a");
  EXPECT_EQ(old[1].msg_id(), 502u);
  EXPECT_EQ(old[1].client_id(), "");
  EXPECT_EQ(FindSent(1, "c501")->seq, 1u);
  // Its constraints came along: a (conv, seq) already taken is skipped.
  ASSERT_OK(Append({PrivateMsg(503, 1, 2, 2, 12), PrivateMsg(504, 1, 2, 3, 13)}));
  auto now = Messages("p:1:2");
  ASSERT_EQ(now.size(), 3u);
  EXPECT_EQ(now[1].msg_id(), 502u);
  EXPECT_EQ(now[2].msg_id(), 504u);
}

TEST_F(SqliteStoreTest, CallsAfterCloseAreUnavailable) {
  store_->Close();
  EXPECT_EQ(Ping().code(), Code::kUnavailable);
  EXPECT_EQ(CreateUser("late").status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace parley::store
