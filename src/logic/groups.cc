#include "logic/groups.h"

#include <unordered_set>

#include <spdlog/spdlog.h>

#include "common/validation.h"

namespace parley::logic {

Groups::Groups(const LogicDeps& deps, Accounts& accounts)
    : deps_(deps),
      accounts_(accounts),
      create_limiter_(deps.clock, deps.options.rate.group_create_per_sec,
                      deps.options.rate.group_create_burst),
      add_limiter_(deps.clock, deps.options.rate.group_add_per_sec,
                   deps.options.rate.group_add_burst) {}

model::MembershipRules Groups::Rules() const {
  model::MembershipRules rules;
  rules.group_members_max = deps_.options.limits.group_members_max;
  rules.groups_per_user_max = deps_.options.limits.groups_per_user_max;
  return rules;
}

Task<StatusOr<state::GroupPtr>> Groups::Load(uint64_t group_id) {
  if (Status s = ValidateId(group_id, "group_id"); !s.ok()) co_return s;
  auto g =
      co_await Await<StatusOr<state::GroupPtr>>([&](auto cb) { deps_.groups.Get(group_id, cb); });
  if (!g.ok() && g.status().IsNotFound()) {
    co_return Status::NotFound("no group " + std::to_string(group_id));
  }
  co_return g;
}

Task<rpc::GroupReply> Groups::Create(const Caller& caller, const CallContext& ctx,
                                     rpc::CreateGroupRequest req) {
  using R = rpc::GroupReply;
  const Limits& limits = deps_.options.limits;
  // Bounded before any work: the list is as long as the request body allows.
  if (static_cast<uint64_t>(req.members_size()) > limits.group_members_max) {
    co_return ErrorReply<R>(Status::InvalidArgument(
        "a group has at most " + std::to_string(limits.group_members_max) + " members"));
  }
  if (Status s = ValidateGroupName(req.name(), limits); !s.ok()) co_return ErrorReply<R>(s);
  // The owner first; duplicates dropped in one pass, first mention kept.
  std::vector<uint64_t> members;
  members.reserve(req.members_size() + 1);
  std::unordered_set<uint64_t> seen;
  seen.reserve(req.members_size() + 1);
  members.push_back(caller.user_id);
  seen.insert(caller.user_id);
  for (uint64_t m : req.members()) {
    if (seen.insert(m).second) members.push_back(m);
  }
  if (members.size() > limits.group_members_max) {
    co_return ErrorReply<R>(Status::InvalidArgument(
        "a group has at most " + std::to_string(limits.group_members_max) + " members"));
  }
  if (int64_t retry = 0; !create_limiter_.TryTake(caller.user_id, &retry)) {
    co_return RateLimitedReply<R>("creating groups too fast", retry);
  }
  for (size_t i = 1; i < members.size(); ++i) {
    if (Status s = co_await accounts_.CheckUserExists(members[i]); !s.ok()) {
      co_return ErrorReply<R>(s);
    }
  }
  auto g = co_await Await<StatusOr<state::GroupPtr>>([&](auto cb) {
    deps_.groups.Create(req.name(), caller.user_id, members, deps_.clock.NowMs(), Rules(), cb);
  });
  if (!g.ok()) co_return ErrorReply<R>(g.status());
  spdlog::info("event=group_create rid={} group={} owner={} members={}", ctx.request_id,
               (*g)->group_id(), caller.user_id, (*g)->members_size());
  R r;
  *r.mutable_group() = **g;
  co_return r;
}

Task<rpc::GroupReply> Groups::Get(const Caller& caller, rpc::GetGroupRequest req) {
  using R = rpc::GroupReply;
  auto group = co_await Load(req.group_id());
  if (!group.ok()) co_return ErrorReply<R>(group.status());
  if (!state::IsMember(**group, caller.user_id)) {
    co_return ErrorReply<R>(Status::PermissionDenied("not a member of this group"));
  }
  R r;
  *r.mutable_group() = **group;
  co_return r;
}

Task<rpc::MembershipReply> Groups::AddMember(const Caller& caller, const CallContext& ctx,
                                             rpc::AddMemberRequest req) {
  using R = rpc::MembershipReply;
  auto group = co_await Load(req.group_id());
  if (!group.ok()) co_return ErrorReply<R>(group.status());
  if (!state::IsMember(**group, caller.user_id)) {
    co_return ErrorReply<R>(Status::PermissionDenied("only members may add members"));
  }
  if (Status s = co_await accounts_.CheckUserExists(req.user_id()); !s.ok()) {
    co_return ErrorReply<R>(s);
  }
  if (state::IsMember(**group, req.user_id())) co_return R();
  if (int64_t retry = 0; !add_limiter_.TryTake(caller.user_id, &retry)) {
    co_return RateLimitedReply<R>("adding members too fast", retry);
  }
  // The directory checks the bounds again with the insert: this snapshot may
  // be behind concurrent adds on other nodes.
  if (static_cast<uint32_t>((*group)->members_size()) >= deps_.options.limits.group_members_max) {
    co_return ErrorReply<R>(Status::InvalidArgument("the group is full"));
  }
  Status s = co_await Await<Status>([&](auto cb) {
    deps_.groups.AddMember(req.group_id(), req.user_id(), deps_.clock.NowMs(), Rules(), cb);
  });
  if (!s.ok()) co_return ErrorReply<R>(s);
  spdlog::info("event=group_add rid={} group={} user={} by={}", ctx.request_id, req.group_id(),
               req.user_id(), caller.user_id);
  co_return R();
}

Task<rpc::MembershipReply> Groups::RemoveMember(const Caller& caller, const CallContext& ctx,
                                                rpc::RemoveMemberRequest req) {
  using R = rpc::MembershipReply;
  if (Status s = ValidateId(req.user_id(), "user_id"); !s.ok()) co_return ErrorReply<R>(s);
  auto group = co_await Load(req.group_id());
  if (!group.ok()) co_return ErrorReply<R>(group.status());
  const rpc::Group& g = **group;
  if (!state::IsMember(g, caller.user_id)) {
    co_return ErrorReply<R>(Status::PermissionDenied("not a member of this group"));
  }
  if (req.user_id() != caller.user_id && g.owner() != caller.user_id) {
    co_return ErrorReply<R>(Status::PermissionDenied("only the owner may remove other members"));
  }
  if (!state::IsMember(g, req.user_id())) co_return ErrorReply<R>(Status::NotFound("not a member"));
  auto after = co_await Await<StatusOr<state::GroupPtr>>(
      [&](auto cb) { deps_.groups.RemoveMember(req.group_id(), req.user_id(), cb); });
  if (!after.ok()) co_return ErrorReply<R>(after.status());
  spdlog::info("event=group_remove rid={} group={} user={} by={} owner={}", ctx.request_id,
               req.group_id(), req.user_id(), caller.user_id, (*after)->owner());
  co_return R();
}

Task<rpc::SettingsReply> Groups::Settings(const Caller& caller, const CallContext& ctx,
                                          rpc::SettingsRequest req) {
  using R = rpc::SettingsReply;
  R r;
  if (!req.group_adds().empty()) {
    auto who = model::ParseGroupAdds(req.group_adds());
    if (!who) {
      co_return ErrorReply<R>(
          Status::InvalidArgument("group_adds must be \"anyone\" or \"nobody\""));
    }
    Status s = co_await Await<Status>(
        [&](auto cb) { deps_.store.SetGroupAdds(caller.user_id, *who, cb); });
    if (!s.ok()) co_return ErrorReply<R>(s);
    spdlog::info("event=settings rid={} user={} group_adds={}", ctx.request_id, caller.user_id,
                 model::GroupAddsName(*who));
    r.set_group_adds(std::string(model::GroupAddsName(*who)));
    co_return r;
  }
  auto user = co_await Await<StatusOr<store::UserRecord>>(
      [&](auto cb) { deps_.store.FindUserById(caller.user_id, cb); });
  if (!user.ok()) co_return ErrorReply<R>(user.status());
  r.set_group_adds(std::string(model::GroupAddsName(user->group_adds)));
  co_return r;
}

}  // namespace parley::logic
