#include "state/embedded/cached_group_directory.h"

namespace parley::state {

namespace {
// Bytes a cached group takes: its message and the map node holding it.
size_t CostOf(const rpc::Group& g) { return g.SpaceUsedLong() + 64; }
}  // namespace

CachedGroupDirectory::CachedGroupDirectory(store::Store& store, size_t max_cached, size_t max_bytes)
    : store_(store), max_cached_(max_cached), max_bytes_(max_bytes) {}

void CachedGroupDirectory::Forget(uint64_t group_id) {
  if (auto it = cache_.find(group_id); it != cache_.end()) {
    cached_bytes_ -= CostOf(*it->second);
    cache_.erase(it);
  }
}

size_t CachedGroupDirectory::cached_bytes() const {
  std::lock_guard lock(mu_);
  return cached_bytes_;
}

void CachedGroupDirectory::BeginChange(uint64_t group_id) {
  Forget(group_id);
  ++changing_[group_id];
  ++changes_;
}

void CachedGroupDirectory::EndChange(uint64_t group_id) {
  Forget(group_id);
  if (--changing_[group_id] == 0) changing_.erase(group_id);
  ++changes_;
}

void CachedGroupDirectory::CacheIfQuiet(const GroupPtr& group, uint64_t changes_before) {
  if (changes_ != changes_before || changing_.contains(group->group_id())) return;
  Forget(group->group_id());
  const size_t cost = CostOf(*group);
  if (cache_.size() >= max_cached_ || cached_bytes_ + cost > max_bytes_) {
    cache_.clear();
    cached_bytes_ = 0;
  }
  if (cost > max_bytes_) return;
  cache_[group->group_id()] = group;
  cached_bytes_ += cost;
}

void CachedGroupDirectory::Create(std::string name, uint64_t owner, std::vector<uint64_t> members,
                                  int64_t now_ms, model::MembershipRules rules,
                                  Callback<StatusOr<GroupPtr>> done) {
  store_.CreateGroup(std::move(name), owner, std::move(members), now_ms, rules,
                     [done = std::move(done)](StatusOr<rpc::Group> g) {
                       if (!g.ok()) return done(g.status());
                       done(GroupPtr(std::make_shared<rpc::Group>(std::move(*g))));
                     });
}

void CachedGroupDirectory::Get(uint64_t group_id, Callback<StatusOr<GroupPtr>> done) {
  std::unique_lock lock(mu_);
  if (auto it = cache_.find(group_id); it != cache_.end()) {
    GroupPtr g = it->second;
    lock.unlock();
    return done(std::move(g));
  }
  uint64_t changes_before = changes_;
  lock.unlock();
  store_.GetGroup(group_id, [this, changes_before, done = std::move(done)](StatusOr<rpc::Group> g) {
    if (!g.ok()) return done(g.status());
    GroupPtr group = std::make_shared<rpc::Group>(std::move(*g));
    {
      std::lock_guard lock(mu_);
      CacheIfQuiet(group, changes_before);
    }
    done(std::move(group));
  });
}

void CachedGroupDirectory::AddMember(uint64_t group_id, uint64_t user_id, int64_t now_ms,
                                     model::MembershipRules rules, Callback<Status> done) {
  {
    std::lock_guard lock(mu_);
    BeginChange(group_id);
  }
  store_.AddGroupMember(group_id, user_id, now_ms, rules,
                        [this, group_id, done = std::move(done)](Status s) {
                          {
                            std::lock_guard lock(mu_);
                            EndChange(group_id);
                          }
                          done(std::move(s));
                        });
}

void CachedGroupDirectory::RemoveMember(uint64_t group_id, uint64_t user_id,
                                        Callback<StatusOr<GroupPtr>> done) {
  {
    std::lock_guard lock(mu_);
    BeginChange(group_id);
  }
  store_.RemoveGroupMember(group_id, user_id,
                           [this, group_id, done = std::move(done)](StatusOr<rpc::Group> g) {
                             {
                               std::lock_guard lock(mu_);
                               EndChange(group_id);
                             }
                             if (!g.ok()) return done(g.status());
                             done(GroupPtr(std::make_shared<rpc::Group>(std::move(*g))));
                           });
}

}  // namespace parley::state
