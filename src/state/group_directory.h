// GroupDirectory: groups and their members, shared by every logic node. A
// membership change is seen by every node before its `done` runs: no Get
// started afterwards, on any node, returns the group as it was. Embedded
// mode: CachedGroupDirectory over the Store; cluster mode: MariaDB with a
// Redis cache invalidated on change.
//
// Every method returns at once and calls `done` exactly once, on a thread of
// the implementation (possibly the caller's, before returning).
// Implementations are thread-safe. Groups are handed out as shared immutable
// snapshots, so that the send path checks membership without copying.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/callback.h"
#include "common/status.h"
#include "model/group_membership.h"
#include "parley/message.pb.h"

namespace parley::state {

using GroupPtr = std::shared_ptr<const rpc::Group>;

// True when `user` is a member of `group`.
inline bool IsMember(const rpc::Group& group, uint64_t user) {
  for (uint64_t m : group.members()) {
    if (m == user) return true;
  }
  return false;
}

class GroupDirectory {
 public:
  virtual ~GroupDirectory() = default;

  // `members` includes the owner; duplicates are ignored. `rules` hold
  // atomically with the insert, on every node (model/group_membership.h).
  virtual void Create(std::string name, uint64_t owner, std::vector<uint64_t> members,
                      int64_t now_ms, model::MembershipRules rules,
                      Callback<StatusOr<GroupPtr>> done) = 0;
  // Members in order of joining. NOT_FOUND when absent.
  virtual void Get(uint64_t group_id, Callback<StatusOr<GroupPtr>> done) = 0;
  // No-op when already a member; otherwise `rules` hold atomically with the
  // insert, on every node.
  virtual void AddMember(uint64_t group_id, uint64_t user_id, int64_t now_ms,
                         model::MembershipRules rules, Callback<Status> done) = 0;
  // Removes the member; when the owner leaves, ownership passes to the
  // longest-standing remaining member. Returns the group afterwards.
  virtual void RemoveMember(uint64_t group_id, uint64_t user_id,
                            Callback<StatusOr<GroupPtr>> done) = 0;
};

}  // namespace parley::state
