// Groups: creating groups and changing their members, with who may do what
// (members see a group and add members; the owner removes others; anyone
// leaves). Membership itself lives in the GroupDirectory seam, shared by
// every node, so a change is seen everywhere before its reply.
//
// Not thread-safe: runs on the Logic facade's strand. `deps` and `accounts`
// must outlive it.
#pragma once

#include "logic/accounts.h"
#include "logic/logic_deps.h"
#include "logic/logic_task.h"

namespace parley::logic {

class Groups {
 public:
  Groups(const LogicDeps& deps, Accounts& accounts) : deps_(deps), accounts_(accounts) {}

  Task<rpc::GroupReply> Create(const Caller& caller, const CallContext& ctx,
                               rpc::CreateGroupRequest req);
  Task<rpc::GroupReply> Get(const Caller& caller, rpc::GetGroupRequest req);
  Task<rpc::MembershipReply> AddMember(const Caller& caller, const CallContext& ctx,
                                       rpc::AddMemberRequest req);
  Task<rpc::MembershipReply> RemoveMember(const Caller& caller, const CallContext& ctx,
                                          rpc::RemoveMemberRequest req);

  // The group, or NOT_FOUND (also for an invalid id).
  Task<StatusOr<state::GroupPtr>> Load(uint64_t group_id);

 private:
  const LogicDeps& deps_;
  Accounts& accounts_;
};

}  // namespace parley::logic
