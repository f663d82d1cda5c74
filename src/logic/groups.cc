#include "logic/groups.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/validation.h"

namespace parley::logic {

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
  if (Status s = ValidateGroupName(req.name(), limits); !s.ok()) co_return ErrorReply<R>(s);
  std::vector<uint64_t> members{caller.user_id};
  for (uint64_t m : req.members()) {
    if (std::find(members.begin(), members.end(), m) == members.end()) members.push_back(m);
  }
  if (members.size() > limits.group_members_max) {
    co_return ErrorReply<R>(Status::InvalidArgument(
        "a group has at most " + std::to_string(limits.group_members_max) + " members"));
  }
  for (uint64_t m : members) {
    if (Status s = co_await accounts_.CheckUserExists(m); !s.ok()) co_return ErrorReply<R>(s);
  }
  auto g = co_await Await<StatusOr<state::GroupPtr>>([&](auto cb) {
    deps_.groups.Create(req.name(), caller.user_id, members, deps_.clock.NowMs(), cb);
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
  if (static_cast<uint32_t>((*group)->members_size()) >= deps_.options.limits.group_members_max) {
    co_return ErrorReply<R>(Status::InvalidArgument("the group is full"));
  }
  Status s = co_await Await<Status>([&](auto cb) {
    deps_.groups.AddMember(req.group_id(), req.user_id(), deps_.clock.NowMs(), cb);
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

}  // namespace parley::logic
