// The contract of state::GroupDirectory, written once and run against every
// implementation. Instantiate with a factory type F that has
//   state::GroupDirectory& Node(int i);  // i = 0, 1: two logic nodes' views
//   uint64_t User(int i);                // i = 0..3: users that exist
// over one fresh backing store (the same object for an in-process one).
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "state/group_directory.h"
#include "support/test_util.h"

namespace parley::state::testing {

template <typename F>
class GroupDirectoryContract : public ::testing::Test {
 protected:
  GroupDirectory& node(int i = 0) { return factory_.Node(i); }
  uint64_t User(int i) { return factory_.User(i); }
  GroupPtr Create(std::vector<uint64_t> members, int n = 0) {
    const uint64_t owner = members.at(0);
    auto g = parley::testing::Wait<StatusOr<GroupPtr>>([&](auto cb) {
      node(n).Create("team", owner, std::move(members), 1'800'000'000'000, {}, cb);
    });
    EXPECT_TRUE(g.ok()) << g.status().message();
    return g.ok() ? *g : nullptr;
  }
  StatusOr<GroupPtr> Get(uint64_t id, int n = 0) {
    return parley::testing::Wait<StatusOr<GroupPtr>>([&](auto cb) { node(n).Get(id, cb); });
  }
  Status Add(uint64_t id, uint64_t user, int n = 0, model::MembershipRules rules = {}) {
    return parley::testing::Wait<Status>(
        [&](auto cb) { node(n).AddMember(id, user, 1'800'000'000'001, rules, cb); });
  }
  StatusOr<GroupPtr> Remove(uint64_t id, uint64_t user, int n = 0) {
    return parley::testing::Wait<StatusOr<GroupPtr>>(
        [&](auto cb) { node(n).RemoveMember(id, user, cb); });
  }
  static std::vector<uint64_t> Members(const rpc::Group& g) {
    return {g.members().begin(), g.members().end()};
  }

  F factory_;
};

TYPED_TEST_SUITE_P(GroupDirectoryContract);

TYPED_TEST_P(GroupDirectoryContract, ACreatedGroupListsItsMembersInOrderOfJoining) {
  uint64_t a = this->User(0), b = this->User(1);
  GroupPtr g = this->Create({a, b, a});
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->owner(), a);
  EXPECT_EQ(g->name(), "team");
  EXPECT_EQ(this->Members(*g), (std::vector<uint64_t>{a, b}));  // duplicates ignored
  auto again = this->Get(g->group_id(), 1);
  ASSERT_OK(again.status());
  EXPECT_EQ(this->Members(**again), (std::vector<uint64_t>{a, b}));
  EXPECT_TRUE(IsMember(**again, b));
  EXPECT_FALSE(IsMember(**again, this->User(2)));
  EXPECT_EQ(this->Get(g->group_id() + 1000).status().code(), Code::kNotFound);
}

TYPED_TEST_P(GroupDirectoryContract, AChangeIsSeenByEveryNodeBeforeItReturns) {
  uint64_t a = this->User(0), b = this->User(1), c = this->User(2);
  GroupPtr g = this->Create({a, b});
  ASSERT_OK(this->Get(g->group_id(), 1).status());  // node 1 has read it (and may cache it)
  ASSERT_OK(this->Add(g->group_id(), c, 0));
  EXPECT_EQ(this->Members(**this->Get(g->group_id(), 1)), (std::vector<uint64_t>{a, b, c}));
  ASSERT_OK(this->Add(g->group_id(), c, 1));  // no-op when already a member
  EXPECT_EQ(this->Members(**this->Get(g->group_id(), 0)), (std::vector<uint64_t>{a, b, c}));
  auto after = this->Remove(g->group_id(), b, 0);
  ASSERT_OK(after.status());
  EXPECT_EQ(this->Members(**after), (std::vector<uint64_t>{a, c}));
  EXPECT_FALSE(IsMember(**this->Get(g->group_id(), 1), b));
}

TYPED_TEST_P(GroupDirectoryContract, WhenTheOwnerLeavesTheLongestStandingMemberOwnsIt) {
  uint64_t a = this->User(0), b = this->User(1), c = this->User(2);
  GroupPtr g = this->Create({a, b, c});
  auto after = this->Remove(g->group_id(), a, 1);
  ASSERT_OK(after.status());
  EXPECT_EQ((*after)->owner(), b);
  EXPECT_EQ((*this->Get(g->group_id(), 0))->owner(), b);
}

TYPED_TEST_P(GroupDirectoryContract, ASnapshotHandedOutNeverChanges) {
  uint64_t a = this->User(0), b = this->User(1), d = this->User(3);
  GroupPtr g = this->Create({a, b});
  GroupPtr before = *this->Get(g->group_id(), 1);
  ASSERT_OK(this->Add(g->group_id(), d, 0));
  EXPECT_EQ(this->Members(*before), (std::vector<uint64_t>{a, b}));
  EXPECT_EQ(this->Members(**this->Get(g->group_id(), 1)), (std::vector<uint64_t>{a, b, d}));
}

// Both nodes add at once; the bound holds because the store checks it with
// the insert, not the nodes with what they have cached.
TYPED_TEST_P(GroupDirectoryContract, RulesHoldForAddsFromEveryNodeAtOnce) {
  uint64_t a = this->User(0), b = this->User(1), c = this->User(2), d = this->User(3);
  GroupPtr g = this->Create({a});
  ASSERT_OK(this->Get(g->group_id(), 1).status());  // both nodes know it with one member
  ASSERT_OK(this->Get(g->group_id(), 0).status());
  model::MembershipRules rules;
  rules.group_members_max = 2;
  std::vector<std::future<Status>> replies;
  auto add = [&](int n, uint64_t user) {
    auto reply = std::make_shared<std::promise<Status>>();
    replies.push_back(reply->get_future());
    this->node(n).AddMember(g->group_id(), user, 1'800'000'000'002, rules,
                            [reply](Status s) { reply->set_value(std::move(s)); });
  };
  add(0, b);
  add(1, c);
  add(0, d);
  int ok = 0, full = 0;
  for (auto& r : replies) {
    ASSERT_EQ(r.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    Status s = r.get();
    ok += s.ok();
    full += s.code() == Code::kInvalidArgument;
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(full, 2);
  EXPECT_EQ((*this->Get(g->group_id(), 1))->members_size(), 2);
}

REGISTER_TYPED_TEST_SUITE_P(GroupDirectoryContract, ACreatedGroupListsItsMembersInOrderOfJoining,
                            AChangeIsSeenByEveryNodeBeforeItReturns,
                            WhenTheOwnerLeavesTheLongestStandingMemberOwnsIt,
                            ASnapshotHandedOutNeverChanges, RulesHoldForAddsFromEveryNodeAtOnce);

}  // namespace parley::state::testing
