// Groups: creating groups and changing their members, with who may do what
// (members see a group and add members; the owner removes others; anyone
// leaves; a user may refuse being added). Membership itself lives in the
// GroupDirectory seam, shared by every node, so a change is seen everywhere
// before its reply, and the bounds on it (members per group, groups per user,
// consent) are checked there atomically with the change. Creating groups and
// adding members are rate-limited per user (per node).
//
// Not thread-safe: runs on the Logic facade's strand. `deps` and `accounts`
// must outlive it.
#pragma once

#include "common/rate_limiter.h"
#include "logic/accounts.h"
#include "logic/logic_deps.h"
#include "logic/logic_task.h"

namespace parley::logic {

class Groups {
 public:
  Groups(const LogicDeps& deps, Accounts& accounts);

  Task<rpc::GroupReply> Create(const Caller& caller, const CallContext& ctx,
                               rpc::CreateGroupRequest req);
  Task<rpc::GroupReply> Get(const Caller& caller, rpc::GetGroupRequest req);
  Task<rpc::MembershipReply> AddMember(const Caller& caller, const CallContext& ctx,
                                       rpc::AddMemberRequest req);
  Task<rpc::MembershipReply> RemoveMember(const Caller& caller, const CallContext& ctx,
                                          rpc::RemoveMemberRequest req);

  // Reads, or changes, who may add the caller to groups.
  Task<rpc::SettingsReply> Settings(const Caller& caller, const CallContext& ctx,
                                    rpc::SettingsRequest req);

  // The group, or NOT_FOUND (also for an invalid id).
  Task<StatusOr<state::GroupPtr>> Load(uint64_t group_id);

 private:
  model::MembershipRules Rules() const;

  const LogicDeps& deps_;
  Accounts& accounts_;
  KeyedRateLimiter<uint64_t> create_limiter_;  // by caller
  KeyedRateLimiter<uint64_t> add_limiter_;     // by caller
};

}  // namespace parley::logic
