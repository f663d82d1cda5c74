// Groups through the Logic facade: who may see a group and change its
// members, and what membership allows.
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "logic/logic_test_world.h"
#include "model/conversation.h"

namespace parley::logic {
namespace {

using testing::LogicWorld;
using testing::Wait;

class GroupsTest : public ::testing::Test {
 protected:
  GroupsTest() {
    a = w.Register("alice");
    b = w.Register("bob");
    c = w.Register("carol");
    as_a = w.Login("alice");
    as_b = w.Login("bob");
    as_c = w.Login("carol");
  }
  rpc::MembershipReply Add(const CallContext& ctx, uint64_t group, uint64_t user) {
    rpc::AddMemberRequest req;
    req.set_group_id(group);
    req.set_user_id(user);
    return Wait<rpc::MembershipReply>([&](auto cb) { w.node().AddMember(ctx, req, cb); });
  }
  rpc::MembershipReply Remove(const CallContext& ctx, uint64_t group, uint64_t user) {
    rpc::RemoveMemberRequest req;
    req.set_group_id(group);
    req.set_user_id(user);
    return Wait<rpc::MembershipReply>([&](auto cb) { w.node().RemoveMember(ctx, req, cb); });
  }
  rpc::SettingsReply Settings(const CallContext& ctx, const std::string& group_adds) {
    rpc::SettingsRequest req;
    req.set_group_adds(group_adds);
    return Wait<rpc::SettingsReply>([&](auto cb) { w.node().Settings(ctx, req, cb); });
  }
  rpc::GroupReply Get(const CallContext& ctx, uint64_t group) {
    rpc::GetGroupRequest req;
    req.set_group_id(group);
    return Wait<rpc::GroupReply>([&](auto cb) { w.node().GetGroup(ctx, req, cb); });
  }

  LogicWorld w;
  uint64_t a = 0, b = 0, c = 0;
  CallContext as_a, as_b, as_c;
};

TEST_F(GroupsTest, TheCreatorOwnsTheGroupAndOnlyMembersSeeIt) {
  auto g = w.CreateGroup(as_a, {b, b});
  ASSERT_EQ(g.error().code(), rpc::OK) << g.error().message();
  EXPECT_EQ(g.group().owner(), a);
  EXPECT_EQ(g.group().members_size(), 2);
  EXPECT_EQ(Get(as_b, g.group().group_id()).group().members_size(), 2);
  EXPECT_EQ(Get(as_c, g.group().group_id()).error().code(), rpc::PERMISSION_DENIED);
  EXPECT_EQ(Get(as_a, 999).error().code(), rpc::NOT_FOUND);
  EXPECT_EQ(w.CreateGroup(as_a, {12345}).error().code(), rpc::NOT_FOUND);  // unknown member
}

TEST_F(GroupsTest, GroupsAreBoundedBySize) {
  Options o = testing::TestOptions();
  o.limits.group_members_max = 2;
  LogicWorld small(o);
  uint64_t x = small.Register("xavier"), y = small.Register("yvonne"), z = small.Register("zoe");
  CallContext as_x = small.Login("xavier");
  EXPECT_EQ(small.CreateGroup(as_x, {y, z}).error().code(), rpc::INVALID_ARGUMENT);
  auto g = small.CreateGroup(as_x, {y});
  ASSERT_EQ(g.error().code(), rpc::OK);
  rpc::AddMemberRequest req;
  req.set_group_id(g.group().group_id());
  req.set_user_id(z);
  auto r = Wait<rpc::MembershipReply>([&](auto cb) { small.node().AddMember(as_x, req, cb); });
  EXPECT_EQ(r.error().code(), rpc::INVALID_ARGUMENT);
  (void)x;
}

TEST_F(GroupsTest, MembersAddMembersAndTheOwnerRemovesThem) {
  uint64_t gid = w.CreateGroup(as_a, {b}).group().group_id();
  EXPECT_EQ(Add(as_c, gid, c).error().code(), rpc::PERMISSION_DENIED);  // not a member
  EXPECT_EQ(Add(as_b, gid, c).error().code(), rpc::OK);
  EXPECT_EQ(Add(as_b, gid, c).error().code(), rpc::OK);  // already in: no-op
  EXPECT_EQ(Get(as_a, gid).group().members_size(), 3);
  EXPECT_EQ(Remove(as_b, gid, c).error().code(), rpc::PERMISSION_DENIED);  // only the owner
  EXPECT_EQ(Remove(as_a, gid, c).error().code(), rpc::OK);
  EXPECT_EQ(Remove(as_a, gid, c).error().code(), rpc::NOT_FOUND);
  EXPECT_EQ(Remove(as_b, gid, b).error().code(), rpc::OK);  // anyone leaves
  EXPECT_EQ(Get(as_b, gid).error().code(), rpc::PERMISSION_DENIED);
}

TEST_F(GroupsTest, OnlyMembersSendToAGroupAndARemovedMemberStops) {
  uint64_t gid = w.CreateGroup(as_a, {b}).group().group_id();
  std::string conv = "g:" + std::to_string(gid);
  EXPECT_EQ(w.Send(as_c, "x1", 0, "let me in", gid).error().code(), rpc::PERMISSION_DENIED);
  auto ok = w.Send(as_b, "x2", 0, "hi team", gid);
  EXPECT_EQ(ok.conv(), conv);
  EXPECT_EQ(ok.seq(), 1u);
  EXPECT_EQ(w.Send(as_b, "x3", 0, "hi", 424242).error().code(), rpc::NOT_FOUND);
  ASSERT_EQ(Remove(as_a, gid, b).error().code(), rpc::OK);
  EXPECT_EQ(w.Send(as_b, "x4", 0, "still here?", gid).error().code(), rpc::PERMISSION_DENIED);
  EXPECT_EQ(w.Sync(as_b, conv, 0).error().code(), rpc::PERMISSION_DENIED);
  EXPECT_EQ(w.Sync(as_a, conv, 0).messages_size(), 1);
}

// Finding 4: the member list is bounded before anything else is done with
// it, and de-duplicating a maximal one keeps the first mention of each.
TEST_F(GroupsTest, AMemberListIsBoundedBeforeItIsDeduplicated) {
  Options o = testing::TestOptions();
  o.limits.group_members_max = 1000;
  LogicWorld world(o);
  std::vector<uint64_t> users;
  for (int i = 0; i < 4; ++i) users.push_back(world.Register("user" + std::to_string(i)));
  CallContext as_owner = world.Login("user0");

  // Exactly the bound, mostly repeats: accepted, each member once, in order.
  std::vector<uint64_t> maximal;
  for (int i = 0; i < 1000; ++i) maximal.push_back(users[3 - i % 3]);
  auto g = world.CreateGroup(as_owner, maximal);
  ASSERT_EQ(g.error().code(), rpc::OK) << g.error().message();
  EXPECT_EQ(std::vector<uint64_t>(g.group().members().begin(), g.group().members().end()),
            (std::vector<uint64_t>{users[0], users[3], users[2], users[1]}));

  // One more entry: refused for its length, though it names only one user
  // and no user at all would be looked up.
  std::vector<uint64_t> oversized(1001, users[1]);
  auto r = world.CreateGroup(as_owner, oversized);
  EXPECT_EQ(r.error().code(), rpc::INVALID_ARGUMENT);
  EXPECT_NE(r.error().message().find("at most 1000"), std::string::npos) << r.error().message();
  std::vector<uint64_t> unknown(1001, 999'999);  // existence is never checked
  EXPECT_EQ(world.CreateGroup(as_owner, unknown).error().code(), rpc::INVALID_ARGUMENT);
}

// Finding 9: nobody can make a user a member of more groups than the bound,
// whoever adds it and however.
TEST_F(GroupsTest, AUserIsInAtMostGroupsPerUserMaxGroups) {
  Options o = testing::TestOptions();
  o.limits.groups_per_user_max = 2;
  LogicWorld world(o);
  uint64_t x = world.Register("xavier"), y = world.Register("yvonne");
  CallContext as_x = world.Login("xavier"), as_y = world.Login("yvonne");
  uint64_t g1 = world.CreateGroup(as_x, {y}).group().group_id();
  uint64_t g2 = world.CreateGroup(as_x, {}).group().group_id();
  rpc::AddMemberRequest add;
  add.set_group_id(g2);
  add.set_user_id(y);
  auto r = Wait<rpc::MembershipReply>([&](auto cb) { world.node().AddMember(as_x, add, cb); });
  ASSERT_EQ(r.error().code(), rpc::OK);
  // Both are in two groups now: a third is refused, as an add or a creation.
  EXPECT_EQ(world.CreateGroup(as_x, {}).error().code(), rpc::INVALID_ARGUMENT);
  auto third = world.CreateGroup(as_y, {});
  EXPECT_EQ(third.error().code(), rpc::INVALID_ARGUMENT);
  EXPECT_NE(third.error().message().find("groups, the most allowed"), std::string::npos);
  // Leaving makes room.
  rpc::RemoveMemberRequest leave;
  leave.set_group_id(g1);
  leave.set_user_id(y);
  ASSERT_EQ(Wait<rpc::MembershipReply>([&](auto cb) { world.node().RemoveMember(as_y, leave, cb); })
                .error()
                .code(),
            rpc::OK);
  EXPECT_EQ(world.CreateGroup(as_y, {}).error().code(), rpc::OK);
  (void)x;
}

// Finding 9: a user may refuse being added, and leave what it was added to.
TEST_F(GroupsTest, AUserWhoSaysNobodyIsNotAddedAndCanLeave) {
  EXPECT_EQ(Settings(as_b, "").group_adds(), "anyone");
  uint64_t before = w.CreateGroup(as_a, {b}).group().group_id();
  EXPECT_EQ(Settings(as_b, "everyone").error().code(), rpc::INVALID_ARGUMENT);
  ASSERT_EQ(Settings(as_b, "nobody").group_adds(), "nobody");
  EXPECT_EQ(Settings(as_b, "").group_adds(), "nobody");

  uint64_t gid = w.CreateGroup(as_a, {c}).group().group_id();
  auto refused = Add(as_a, gid, b);
  EXPECT_EQ(refused.error().code(), rpc::PERMISSION_DENIED);
  EXPECT_NE(refused.error().message().find("does not accept"), std::string::npos);
  EXPECT_EQ(w.CreateGroup(as_c, {a, b}).error().code(), rpc::PERMISSION_DENIED);
  EXPECT_EQ(Get(as_b, gid).error().code(), rpc::PERMISSION_DENIED);  // not in it
  // Its own groups it creates with anyone who accepts.
  EXPECT_EQ(w.CreateGroup(as_b, {a}).error().code(), rpc::OK);
  // A group it was in before saying nobody: it leaves.
  EXPECT_EQ(Remove(as_b, before, b).error().code(), rpc::OK);
  EXPECT_EQ(Get(as_b, before).error().code(), rpc::PERMISSION_DENIED);
  // Changing its mind.
  ASSERT_EQ(Settings(as_b, "anyone").group_adds(), "anyone");
  EXPECT_EQ(Add(as_a, gid, b).error().code(), rpc::OK);
}

TEST_F(GroupsTest, CreatingGroupsAndAddingMembersAreRateLimitedPerUser) {
  Options o = testing::TestOptions();
  o.rate.group_create_per_sec = 0.5;
  o.rate.group_create_burst = 2;
  o.rate.group_add_per_sec = 1;
  o.rate.group_add_burst = 1;
  LogicWorld world(o);
  world.Register("xavier");
  uint64_t y = world.Register("yvonne"), z = world.Register("zoe");
  CallContext as_x = world.Login("xavier"), as_y = world.Login("yvonne");
  uint64_t gid = world.CreateGroup(as_x, {}).group().group_id();
  ASSERT_EQ(world.CreateGroup(as_x, {}).error().code(), rpc::OK);
  auto limited = world.CreateGroup(as_x, {});
  EXPECT_EQ(limited.error().code(), rpc::RATE_LIMITED);
  EXPECT_EQ(limited.error().retry_after_ms(), 2000);
  EXPECT_EQ(world.CreateGroup(as_y, {}).error().code(), rpc::OK);  // per user

  auto add = [&](uint64_t user) {
    rpc::AddMemberRequest req;
    req.set_group_id(gid);
    req.set_user_id(user);
    return Wait<rpc::MembershipReply>([&](auto cb) { world.node().AddMember(as_x, req, cb); });
  };
  EXPECT_EQ(add(y).error().code(), rpc::OK);
  EXPECT_EQ(add(y).error().code(), rpc::OK);  // already a member: not counted
  auto add_limited = add(z);
  EXPECT_EQ(add_limited.error().code(), rpc::RATE_LIMITED);
  EXPECT_EQ(add_limited.error().retry_after_ms(), 1000);
  world.clock().AdvanceMs(1000);
  EXPECT_EQ(add(z).error().code(), rpc::OK);
  EXPECT_EQ(world.CreateGroup(as_x, {}).error().code(), rpc::RATE_LIMITED);  // 1 s of 2
  world.clock().AdvanceMs(1000);
  EXPECT_EQ(world.CreateGroup(as_x, {}).error().code(), rpc::OK);
}

// Finding 9: however many groups a user is put in, hello and each page of the
// list are bounded, and the pages together list everything once.
TEST_F(GroupsTest, HelloAndTheConversationListArePaged) {
  Options o = testing::TestOptions();
  o.limits.conversations_page_max = 2;
  LogicWorld world(o);
  uint64_t x = world.Register("xavier"), y = world.Register("yvonne");
  CallContext as_x = world.Login("xavier"), as_y = world.Login("yvonne");
  std::set<std::string> all;
  for (int i = 0; i < 4; ++i) {
    all.insert("g:" + std::to_string(world.CreateGroup(as_x, {y}).group().group_id()));
    world.clock().AdvanceMs(1);
  }
  ASSERT_EQ(world.Send(as_x, "dm", y, "hi").error().code(), rpc::OK);
  all.insert(model::ConvId::Private(x, y).ToString());

  rpc::ConnectRequest hello_req;
  hello_req.set_node_id(LogicWorld::kNode);
  hello_req.set_node_epoch(LogicWorld::kEpoch);
  hello_req.set_conn_id(7);
  auto hello = Wait<rpc::ConnectReply>([&](auto cb) { world.node().Connect(as_y, hello_req, cb); });
  ASSERT_EQ(hello.error().code(), rpc::OK);
  ASSERT_EQ(hello.convs_size(), 2);
  EXPECT_EQ(hello.convs(0).conv(), model::ConvId::Private(x, y).ToString());  // newest first
  ASSERT_TRUE(hello.has_more());

  std::set<std::string> seen;
  for (const auto& c : hello.convs()) seen.insert(c.conv());
  std::string next = hello.next();
  for (int page = 0; !next.empty(); ++page) {
    ASSERT_LT(page, 5);
    rpc::ListConversationsRequest req;
    req.set_before(next);
    auto r = Wait<rpc::ListConversationsReply>(
        [&](auto cb) { world.node().ListConversations(as_y, req, cb); });
    ASSERT_EQ(r.error().code(), rpc::OK) << r.error().message();
    EXPECT_LE(r.convs_size(), 2);
    for (const auto& c : r.convs()) EXPECT_TRUE(seen.insert(c.conv()).second) << c.conv();
    next = r.has_more() ? r.next() : "";
  }
  EXPECT_EQ(seen, all);

  rpc::ListConversationsRequest too_many;
  too_many.set_limit(3);
  EXPECT_EQ(Wait<rpc::ListConversationsReply>(
                [&](auto cb) { world.node().ListConversations(as_y, too_many, cb); })
                .error()
                .code(),
            rpc::INVALID_ARGUMENT);
  rpc::ListConversationsRequest bad_cursor;
  bad_cursor.set_before("nonsense");
  EXPECT_EQ(Wait<rpc::ListConversationsReply>(
                [&](auto cb) { world.node().ListConversations(as_y, bad_cursor, cb); })
                .error()
                .code(),
            rpc::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace parley::logic
