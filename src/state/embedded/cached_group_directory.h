// Groups in the store, with a cache of immutable snapshots in front:
// embedded mode. The cache is coherent because every logic facade of the
// process shares this one object: a change drops the group's entry before
// and after the store's write, and a load that raced with a change never
// refills the cache.
//
// Thread-safe; one mutex guards the cache. Callbacks run outside the lock, on
// the caller's thread or a store thread. `store` must outlive this object.
#pragma once

#include <mutex>
#include <unordered_map>

#include "state/group_directory.h"
#include "store/store.h"

namespace parley::state {

class CachedGroupDirectory final : public GroupDirectory {
 public:
  // Holds at most `max_cached` groups and about `max_bytes` of them (a
  // group of 1000 members is some 10 KiB); cleared wholesale when full.
  CachedGroupDirectory(store::Store& store, size_t max_cached, size_t max_bytes = size_t{64} << 20);

  void Create(std::string name, uint64_t owner, std::vector<uint64_t> members, int64_t now_ms,
              model::MembershipRules rules, Callback<StatusOr<GroupPtr>> done) override;
  void Get(uint64_t group_id, Callback<StatusOr<GroupPtr>> done) override;
  void AddMember(uint64_t group_id, uint64_t user_id, int64_t now_ms, model::MembershipRules rules,
                 Callback<Status> done) override;
  void RemoveMember(uint64_t group_id, uint64_t user_id,
                    Callback<StatusOr<GroupPtr>> done) override;

  // Bytes the cached groups take now (for tests and metrics).
  size_t cached_bytes() const;

 private:
  // A change of `group_id` starts / ends (mu_ held).
  void BeginChange(uint64_t group_id);
  void EndChange(uint64_t group_id);
  void CacheIfQuiet(const GroupPtr& group, uint64_t changes_before);  // mu_ held
  void Forget(uint64_t group_id);                                     // mu_ held

  store::Store& store_;
  const size_t max_cached_;
  const size_t max_bytes_;

  mutable std::mutex mu_;
  // State below is guarded by mu_.
  std::unordered_map<uint64_t, GroupPtr> cache_;
  size_t cached_bytes_ = 0;                     // what the groups in cache_ take
  std::unordered_map<uint64_t, int> changing_;  // group -> changes in flight
  uint64_t changes_ = 0;                        // ever started or ended
};

}  // namespace parley::state
