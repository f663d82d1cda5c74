// Groups through the Logic facade: who may see a group and change its
// members, and what membership allows.
#include <gtest/gtest.h>

#include "logic/logic_test_world.h"

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

}  // namespace
}  // namespace parley::logic
